# SPDX-License-Identifier: Apache-2.0
"""Data-dependent shapes (NonZero, NonMaxSuppression and what follows them)
against ONNX Runtime, on small models built here (tests/data/gen_models.py):

 1. the masked-select chain of Ultralytics' nms=True head (Greater, NonZero,
    Transpose, GatherND, ReduceSum, Cast, Concat) with masks keeping none,
    some and all of 64 rows: both kernel sets give ONNX Runtime's values and
    its (data-dependent) output shape;
 2. a model whose shape shrinks as a count grows (ConstantOfShape of
    [8 - count]): with every count at its largest it runs and matches; with
    fewer, it needs more than the planned bound and must fail with one clear
    error line (exit 2, naming the node and "planned bound"), never overrun.

Usage: dynamic_shapes.py --cvbench build/cvbench
Prints one line per case and `N passed, N failed`; exit 1 on any failure.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))
try:
    import numpy as np
    import onnxruntime as ort
    import gen_models as g
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)


def infer(cvbench, model, inputs, n_out, tmp, kernels):
    cmd = [cvbench, "infer", "--model", model, "--kernels", kernels]
    for i, x in enumerate(inputs):
        p = os.path.join(tmp, f"in{i}.npy")
        np.save(p, x)
        cmd += ["--input", p]
    outs = [os.path.join(tmp, f"out{i}-{kernels}.npy") for i in range(n_out)]
    for o in outs:
        if os.path.exists(o):
            os.unlink(o)
        cmd += ["--output", o]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return p, None
    return p, [np.load(o) for o in outs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    args = ap.parse_args()
    cvbench = os.path.abspath(args.cvbench)
    tmp = tempfile.mkdtemp(prefix="cvb-dyn-")
    n_pass = n_fail = 0

    def report(ok, what):
        nonlocal n_pass, n_fail
        n_pass += ok
        n_fail += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)

    try:
        chain = os.path.join(tmp, "chain.onnx")
        with open(chain, "wb") as f:
            f.write(g.dyn_gather_chain().SerializeToString())
        sess = ort.InferenceSession(chain, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(3)
        b = rng.standard_normal((64, 4)).astype(np.float32)
        for keep in (0, 23, 64):
            s = np.zeros(64, np.float32)
            s[rng.permutation(64)[:keep]] = 0.9
            want = sess.run(None, {"S": s, "B": b})
            for k in ("ref", "onednn"):
                p, got = infer(cvbench, chain, [s, b], 2, tmp, k)
                if got is None:
                    report(False, f"chain keep {keep} {k}: {p.stderr.strip()}")
                    continue
                # the .npy holds the run's actual (data-dependent) shape
                ok = all(x.shape == w.shape and np.allclose(x, w, rtol=1e-5, atol=1e-5)
                         for x, w in zip(got, want))
                report(ok, f"chain keep {keep:2d} {k:6s}: sel {got[1].shape} "
                           f"(onnxruntime {want[1].shape})")

        shrink = os.path.join(tmp, "shrink.onnx")
        with open(shrink, "wb") as f:
            f.write(g.dyn_shrinking_bound().SerializeToString())
        sess = ort.InferenceSession(shrink, providers=["CPUExecutionProvider"])
        full = np.ones(4, np.float32)
        want = sess.run(None, {"X": full})[0]
        p, got = infer(cvbench, shrink, [full], 1, tmp, "ref")
        report(got is not None and got[0].shape == want.shape,
               f"shrinking bound, counts at the bound: {None if got is None else got[0].shape} "
               f"(onnxruntime {want.shape}) {p.stderr.strip()}")
        fewer = np.array([1, -1, -1, -1], np.float32)
        p, got = infer(cvbench, shrink, [fewer], 1, tmp, "ref")
        lines = p.stderr.strip().splitlines()
        ok = (p.returncode == 2 and len(lines) == 1 and "shrinking" in lines[0] and
              "planned bound" in lines[0])
        report(ok, f"shrinking bound, fewer than the bound: exit {p.returncode}: "
                   f"{lines[0] if lines else '(no stderr)'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n_pass} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
