# SPDX-License-Identifier: Apache-2.0
"""MatMul reading a transposed operand through strides (issue 12, speed).

The engine's passes fold a Transpose of the last two axes into the MatMul
that alone reads it (YOLO12's q^T k and v attn^T; ONNX Runtime's FusedMatMul
does the same). Tiny models, each MatMul(Transpose(A), B), MatMul(A,
Transpose(B)) or both, with batch dims, broadcast batch dims, rank 2 and the
default (reversing) perm; plus cases that must not fold: a Transpose read by
two nodes, one that moves a batch axis.

Asserts per model: `cvbench infer` (oneDNN) equals ONNX Runtime within 1e-5
relative L2; `--profile` shows the MatMul as "MatMul+T(A)" / "+T(B)" (and
"+out^T" with its Transpose as "Transpose+in^T") exactly where the fold
applies, on a non-reference kernel, and no "running without fusion" warning.
  matmul_transpose.py --cvbench build/cvbench
Exit 0 pass, 1 fail, 77 skip (onnx/numpy/onnxruntime missing)."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny_onnx import cli, finish, helper, np, profile_rows, run_both, save_model  # noqa: E402

# name, A shape, B shape, perm of A's Transpose (None: no Transpose, "default":
# no perm attribute), the same for B, expected fused ops ("" = no fold),
# extra: a second reader of the transposed A, perm of a Transpose of the
# MatMul's output (None: none). A MatMul(a, Transpose(p)) with p larger than
# a whose output only a Transpose reads computes y^T = p a^T into its buffer
# ("+out^T"), and that Transpose reads it so ("Transpose+in^T"): YOLO12's
# v attn^T followed by its [0, 3, 1, 2] permute.
CASES = [
    ("qT_k", [2, 3, 8, 5], [3, 8, 7], [0, 1, 3, 2], None, "MatMul+T(A)", False, None),
    ("v_attnT", [4, 5, 8], [4, 7, 8], None, [0, 2, 1], "MatMul+T(B)", False, None),
    ("rank2_default", [8, 5], [8, 7], "default", None, "MatMul+T(A)", False, None),
    ("both", [2, 8, 5], [2, 7, 8], [0, 2, 1], [0, 2, 1], "MatMul+T(A)+T(B)", False, None),
    ("broadcast_B", [2, 3, 5, 8], [7, 8], None, "default", "MatMul+T(B)", False, None),
    ("area_attn", [4, 2, 32, 40], [4, 2, 32, 40], [0, 1, 3, 2], None, "MatMul+T(A)", False,
     None),
    ("batch_axis_moved", [5, 2, 8], [2, 8, 7], [1, 0, 2], None, "MatMul", False, None),
    ("two_readers", [2, 8, 5], [2, 8, 7], [0, 2, 1], None, "MatMul", True, None),
    ("v_attnT_then_T", [4, 2, 8, 40], [4, 2, 40, 40], None, [0, 1, 3, 2],
     "MatMul+T(B)+out^T", False, [0, 3, 1, 2]),
    ("small_p_then_T", [2, 40, 8], [2, 5, 8], None, [0, 2, 1], "MatMul+T(B)", False,
     [0, 2, 1]),
]


def build(path, a_shape, b_shape, pa, pb, second, post):
    nodes, outs = [], []
    a_in, b_in = "a", "b"
    if pa is not None:
        kw = {} if pa == "default" else {"perm": pa}
        nodes.append(helper.make_node("Transpose", ["a"], ["at"], name="ta", **kw))
        a_in = "at"
    if pb is not None:
        kw = {} if pb == "default" else {"perm": pb}
        nodes.append(helper.make_node("Transpose", ["b"], ["bt"], name="tb", **kw))
        b_in = "bt"
    nodes.append(helper.make_node("MatMul", [a_in, b_in], ["y"], name="mm"))
    if post is not None:
        nodes.append(helper.make_node("Transpose", ["y"], ["yt"], name="ty", perm=post))
    outs.append("y" if post is None else "yt")
    if second:
        nodes.append(helper.make_node("Relu", [a_in], ["z"], name="second"))
        outs.append("z")
    save_model(path, nodes, [("a", a_shape), ("b", b_shape)], outs)


def main(cvbench):
    fails = []
    rng = np.random.default_rng(5)
    with tempfile.TemporaryDirectory() as d:
        for name, sa, sb, pa, pb, want, second, post in CASES:
            model = os.path.join(d, name + ".onnx")
            build(model, sa, sb, pa, pb, second, post)
            xa = rng.standard_normal(sa).astype(np.float32)
            xb = rng.standard_normal(sb).astype(np.float32)
            ref, got, rc, text, err = run_both(cvbench, model, {"a": xa, "b": xb}, d)
            if rc != 0:
                fails.append(f"{name}: exit {rc}: {err.strip()[-400:]}")
                continue
            if "without fusion" in err:
                fails.append(f"{name}: fell back: {err.strip()}")
            rel = float(np.linalg.norm(got.astype(np.float64) - ref) / np.linalg.norm(ref))
            rows = profile_rows(text, "mm")
            ops = rows[0][1] if len(rows) == 1 else "?"
            kern = rows[0][3] if len(rows) == 1 else "?"
            print(f"{name:18s} {str(list(got.shape)):16s} rel L2 {rel:.3g}  {ops} on {kern}")
            if got.shape != ref.shape or not rel <= 1e-5:
                fails.append(f"{name}: shape {got.shape} vs {ref.shape}, rel L2 {rel:.3g}")
            if ops != want:
                fails.append(f"{name}: profile shows {ops}, want {want}")
            if kern.startswith("ref"):
                fails.append(f"{name}: the MatMul runs {kern}")
            if post is not None:
                trow = profile_rows(text, "ty")
                tops = trow[0][1] if len(trow) == 1 else "?"
                twant = "Transpose+in^T" if want.endswith("+out^T") else "Transpose"
                if tops != twant:
                    fails.append(f"{name}: the Transpose shows {tops}, want {twant}")
    return finish(fails)


if __name__ == "__main__":
    cli(main)
