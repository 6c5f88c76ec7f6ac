# SPDX-License-Identifier: Apache-2.0
"""Tiny hand-built ONNX models run by cvbench and by ONNX Runtime, for the
engine tests of one pass at a time (matmul_transpose.py, transpose_chain.py).

Importing this module exits 77 (skip) when numpy, onnx or onnxruntime are
missing, with the reason printed, as every integration test does."""
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper  # noqa: F401 (re-exported)
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)


def save_model(path, nodes, inputs, outputs, initializers=()):
    """Write an opset-17 model: 'inputs' are (name, shape) pairs, 'outputs'
    names (float32, shapes inferred)."""
    g = helper.make_graph(
        nodes, os.path.splitext(os.path.basename(path))[0],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        list(initializers))
    m = onnx.shape_inference.infer_shapes(
        helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))
    onnx.checker.check_model(m)
    onnx.save(m, path)


def run_both(cvbench, model, feeds, workdir):
    """Run 'model' on 'feeds' ({input name: array}, in the model's input order)
    with ONNX Runtime and with `cvbench infer --profile` (1 thread, oneDNN).
    Returns (ort's first output, cvbench's first output or None, cvbench's
    exit status, its stdout + stderr, its stderr)."""
    ref = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    stem = os.path.join(workdir, os.path.splitext(os.path.basename(model))[0])
    cmd = [cvbench, "infer", "--model", model, "--threads", "1"]
    for name, x in feeds.items():
        np.save(f"{stem}_{name}.npy", x)
        cmd += ["--input", f"{stem}_{name}.npy"]
    cmd += ["--output", f"{stem}_out.npy", "--profile", "--repeat", "1", "--warmup", "0"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    got = np.load(f"{stem}_out.npy") if r.returncode == 0 else None
    return ref, got, r.returncode, r.stdout + r.stderr, r.stderr


def profile_rows(text, node):
    """The `--profile` rows of node 'node', each split on white space
    (name, ops, shape, kernel, ms, ...)."""
    return [ln.split() for ln in text.splitlines() if ln.startswith(node + " ")]


def finish(fails):
    """Print the failures and PASS or their count; the exit status."""
    for f in fails:
        print("FAIL:", f)
    print("PASS" if not fails else f"{len(fails)} failure(s)")
    return 1 if fails else 0


def cli(main):
    """`script.py --cvbench PATH`: exit with main(PATH)."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    sys.exit(main(ap.parse_args().cvbench))
