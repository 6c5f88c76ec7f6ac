# SPDX-License-Identifier: Apache-2.0
"""A fused residual sum into a Conv whose source is plain (issue 12, item 1).

The pattern of YOLO26n/YOLO12n's attention proj Conv, in a tiny model:
    a = Add(Conv+SiLU(x), Conv+SiLU(x))          the residual addend (blocked)
    s = Add(Reshape(Reshape(x)), dwConv3x3(x))    the proj source (plain: Reshape)
    z = Add(a, Conv1x1(s))                        fused into the Conv as a sum
    y = Conv1x1(z)                                graph output
oneDNN has only a reference kernel for plain source -> blocked output, and
with both layouts free it picks an output layout other than the addend's;
a sum post-op must accumulate in the addend's own layout. Before the fix the
whole model was re-planned unfused and plain, with a warning.

Asserts: `cvbench infer` (oneDNN) prints no "running without fusion" warning,
its output is within rel-L2 1e-4 of the reference kernels', and `--profile`
shows the proj Conv as "Conv+Add" on a non-reference kernel.
  fused_sum_layout.py --cvbench build/cvbench
Exit 0 pass, 1 fail, 77 skip (onnx/numpy missing)."""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)

C, S = 32, 16


def build(path):
    rng = np.random.default_rng(7)
    inits, nodes = [], []

    def w(name, shape):
        inits.append(numpy_helper.from_array(
            (rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))).astype(np.float32), name))
        return name

    def conv(name, x, wshape, silu=False, group=1, k=1):
        b = name + "_b"
        inits.append(numpy_helper.from_array(
            (0.1 * rng.standard_normal(wshape[0])).astype(np.float32), b))
        out = name + "_c"
        nodes.append(helper.make_node("Conv", [x, w(name + "_w", wshape), b], [out], name=name,
                                      kernel_shape=[k, k], pads=[k // 2] * 4, group=group))
        if not silu:
            return out
        nodes.append(helper.make_node("Sigmoid", [out], [name + "_s"], name=name + "_sig"))
        nodes.append(helper.make_node("Mul", [out, name + "_s"], [name + "_y"], name=name + "_mul"))
        return name + "_y"

    c0 = conv("c0", "x", [C, C, 1, 1], silu=True)
    c1 = conv("c1", "x", [C, C, 1, 1], silu=True)
    nodes.append(helper.make_node("Add", [c0, c1], ["a"], name="addend"))
    inits.append(numpy_helper.from_array(np.array([1, C, S * S], np.int64), "shp1"))
    inits.append(numpy_helper.from_array(np.array([1, C, S, S], np.int64), "shp2"))
    nodes.append(helper.make_node("Reshape", ["x", "shp1"], ["r1"], name="r1"))
    nodes.append(helper.make_node("Reshape", ["r1", "shp2"], ["r2"], name="r2"))
    pe = conv("pe", "x", [C, 1, 3, 3], group=C, k=3)
    nodes.append(helper.make_node("Add", ["r2", pe], ["s"], name="src"))
    p = conv("proj", "s", [C, C, 1, 1])
    nodes.append(helper.make_node("Add", ["a", p], ["z"], name="residual"))
    y = conv("head", "z", [C, C, 1, 1])
    nodes.append(helper.make_node("Identity", [y], ["y"], name="out"))
    g = helper.make_graph(nodes, "fused_sum_layout",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, S, S])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C, S, S])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    a = ap.parse_args()
    fails = []
    with tempfile.TemporaryDirectory() as d:
        model, xin = os.path.join(d, "m.onnx"), os.path.join(d, "x.npy")
        build(model)
        np.save(xin, np.random.default_rng(1).standard_normal((1, C, S, S)).astype(np.float32))
        outs = {}
        for k in ("ref", "onednn"):
            o = os.path.join(d, k + ".npy")
            r = subprocess.run([a.cvbench, "infer", "--model", model, "--kernels", k, "--threads",
                                "1", "--input", xin, "--output", o],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                fails.append(f"infer --kernels {k}: exit {r.returncode}: {r.stderr.strip()}")
                continue
            if "without fusion" in r.stderr:
                fails.append(f"infer --kernels {k} fell back: {r.stderr.strip()}")
            outs[k] = np.load(o)
        if len(outs) == 2:
            ref, got = outs["ref"].astype(np.float64), outs["onednn"].astype(np.float64)
            rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
            print(f"rel L2 onednn vs ref: {rel:.3g}")
            if not rel <= 1e-4:
                fails.append(f"rel L2 {rel:.3g} > 1e-4")
        r = subprocess.run([a.cvbench, "infer", "--model", model, "--threads", "1", "--profile"],
                           capture_output=True, text=True, timeout=120)
        rows = [ln for ln in r.stdout.splitlines() if ln.startswith("proj ")]
        print("\n".join(rows) if rows else r.stdout + r.stderr)
        if r.returncode != 0 or len(rows) != 1 or "Conv+Add" not in rows[0] or " ref" in rows[0]:
            fails.append("profile: the proj Conv is not one fused Conv+Add on a oneDNN kernel")
    for f in fails:
        print("FAIL:", f)
    print("PASS" if not fails else f"{len(fails)} failure(s)")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
