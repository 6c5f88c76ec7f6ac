# SPDX-License-Identifier: Apache-2.0
"""Transpose -> Reshape -> Transpose chains read as one strided reorder (issue 12, speed).

YOLO12's area attention turns its qkv tensor from NCHW into [areas, heads,
dim, tokens] with Transpose, Reshape, Transpose. Where the Reshape is a view
of the first Transpose's strided output, the engine's passes compose the
chain: the last Transpose reads the first one's input through the composed
strides ("Transpose+Reshape" in the profile: the Transpose that also does the Reshape and the Transpose before it) and the first
Transpose and the Reshape go. Where it is not (the Reshape merges axes that
are not one strided run: YOLO12's tokens of several areas into image rows),
or an intermediate has a second reader, the chain stays as it is.

Asserts per model: `cvbench infer` (oneDNN) equals ONNX Runtime exactly (data
movement only); the profile shows the composed node exactly where the chain
composes (and then no row for the first Transpose), on a non-reference kernel;
no node retreats (a composed stride oneDNN refuses would show up so).
  transpose_chain.py --cvbench build/cvbench
Exit 0 pass, 1 fail, 77 skip (onnx/numpy/onnxruntime missing)."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_onnx import (cli, finish, helper, np, numpy_helper, profile_rows,  # noqa: E402
                       run_both, save_model)

# name, input shape, perm 1 (None: default), reshape target, perm 2, composes,
# second reader of the first Transpose's output
CASES = [
    # YOLO12 qkv: [1, C=12, N=40] -> [1, 40, 12] -> [4 areas, 10, 2 heads, 6] -> [4, 2, 6, 10]
    ("qkv", [1, 12, 40], [0, 2, 1], [4, 10, 2, 6], [0, 2, 3, 1], True, False),
    # YOLO12 value, one area: [1, 4, 8, 25] -> [1, 25, 4, 8] -> [1, 5, 5, 32] -> [1, 32, 5, 5]
    ("value_one_area", [1, 4, 8, 25], [0, 3, 1, 2], [1, 5, 5, 32], [0, 3, 1, 2], True, False),
    # default perms and a split axis: [6, 4] -> [4, 6] -> [4, 2, 3] -> [3, 2, 4]
    ("default_perms", [6, 4], None, [4, 2, 3], None, True, False),
    # four areas merged into image rows: not one strided run
    ("areas_to_rows", [4, 2, 3, 10], [0, 3, 1, 2], [1, 8, 5, 6], [0, 3, 1, 2], False, False),
    # the first Transpose's output has a second reader
    ("two_readers", [1, 12, 40], [0, 2, 1], [4, 10, 2, 6], [0, 2, 3, 1], False, True),
]


def build(path, shape, p1, target, p2, second):
    kw1 = {} if p1 is None else {"perm": p1}
    kw2 = {} if p2 is None else {"perm": p2}
    nodes = [
        helper.make_node("Transpose", ["x"], ["a"], name="t1", **kw1),
        helper.make_node("Reshape", ["a", "shape"], ["b"], name="r"),
        helper.make_node("Transpose", ["b"], ["y"], name="t2", **kw2),
    ]
    outs = ["y"]
    if second:
        nodes.append(helper.make_node("Relu", ["a"], ["z"], name="second"))
        outs.append("z")
    save_model(path, nodes, [("x", shape)], outs,
               [numpy_helper.from_array(np.array(target, dtype=np.int64), "shape")])


def main(cvbench):
    fails = []
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as d:
        for name, shape, p1, target, p2, composes, second in CASES:
            model = os.path.join(d, name + ".onnx")
            build(model, shape, p1, target, p2, second)
            x = rng.standard_normal(shape).astype(np.float32)
            ref, got, rc, text, err = run_both(cvbench, model, {"x": x}, d)
            if rc != 0:
                fails.append(f"{name}: exit {rc}: {err.strip()[-400:]}")
                continue
            if "unfused" in err or "without fusion" in err:
                fails.append(f"{name}: a retreat: {err.strip()[-300:]}")
            row = {n: profile_rows(text, n) for n in ("t1", "t2")}
            ops2 = row["t2"][0][1] if len(row["t2"]) == 1 else "?"
            kern2 = row["t2"][0][3] if len(row["t2"]) == 1 else "?"
            print(f"{name:16s} {str(list(got.shape)):16s} equal {np.array_equal(got, ref)}  "
                  f"t2: {ops2} on {kern2}; t1 row: {len(row['t1'])}")
            if got.shape != ref.shape or not np.array_equal(got, ref):
                fails.append(f"{name}: output differs from ONNX Runtime")
            want = "Transpose+Reshape" if composes else "Transpose"
            if ops2 != want:
                fails.append(f"{name}: t2 shows {ops2}, want {want}")
            if len(row["t1"]) != (0 if composes else 1):
                fails.append(f"{name}: {len(row['t1'])} rows for t1")
            if kern2.startswith("ref") and composes:
                fails.append(f"{name}: the composed Transpose runs {kern2}")
    return finish(fails)


if __name__ == "__main__":
    cli(main)
