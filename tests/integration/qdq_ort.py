# SPDX-License-Identifier: Apache-2.0
"""QDQ export checked with ONNX Runtime: `cvbench model calibrate --qdq`.

Synthesizes a YOLOv8n (seeded), calibrates it on procedural frames with
`--qdq`, and loads the export in ONNX Runtime (graph optimisation ALL,
1 thread) saving the optimised graph. Asserts: ORT loads and runs the
export, the output shape is the model's, and the optimised graph has a
QLinearConv for >= 90 % of the quantised convs (the export's
QuantizeLinear_y nodes: DequantizeLinear -> Conv -> QuantizeLinear is what
ORT fuses). Prints (does not assert): the QLinearConv count, the output's
relative L2 error of ORT QDQ vs cvbench int8 and vs fp32, and ORT fp32 vs
ORT QDQ latency (median of a few runs; the machine is shared, so only a
rough ratio). Exit 0 pass, 1 fail, 77 when numpy/onnx/onnxruntime are
missing (run scripts/test-venv.sh). ~10-15 s on the 2-core dev machine.

Usage: qdq_ort.py --cvbench build/cvbench [--imgsz 320] [--keep DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)

PHOTO = "/usr/share/darknet/data/dog.jpg"


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL: {' '.join(cmd)} exited {r.returncode}\n{r.stdout}{r.stderr}")
        sys.exit(1)
    return r


def rel_l2(a, b):
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def frame(size):
    """Letterboxed dog.jpg as uint8 [1,S,S,3], or a seeded random frame."""
    if os.path.exists(PHOTO):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        try:
            from differential import decode_image, letterbox_u8
            return "dog.jpg", np.ascontiguousarray(letterbox_u8(decode_image(PHOTO), size))
        except Exception as e:  # noqa: BLE001 - fall back to a random frame
            print(f"note: dog.jpg unusable ({e}); using a random frame")
    rng = np.random.default_rng(42)
    return "random", rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8)


def session(path, opt_path=None):
    so = ort.SessionOptions()
    so.log_severity_level = 3  # no unused-initializer / NCHWc serialization warnings
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if opt_path is not None:
        so.optimized_model_filepath = opt_path
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def median_ms(sess, feed, n=5):
    name = sess.get_inputs()[0].name
    sess.run(None, {name: feed})
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        sess.run(None, {name: feed})
        ts.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(ts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--calib-frames", type=int, default=8)
    ap.add_argument("--keep", help="keep the files in this folder")
    a = ap.parse_args()
    tmp = a.keep or tempfile.mkdtemp(prefix="cvb-qdq-")
    os.makedirs(tmp, exist_ok=True)
    failures = []
    try:
        s = a.imgsz
        model = os.path.join(tmp, "model.onnx")
        calib = os.path.join(tmp, "model.calib")
        qdq = os.path.join(tmp, "model-qdq.onnx")
        opt = os.path.join(tmp, "model-qdq-ort-opt.onnx")
        run([a.cvbench, "model", "synth", "--arch", "yolov8n", "--imgsz", str(s), "--seed", "7",
             "-o", model])
        run([a.cvbench, "model", "calibrate", "--model", model, "--synthetic",
             str(a.calib_frames), "--threads", "1", "-o", calib, "--qdq", qdq])
        n_conv = sum(1 for l in open(calib) if l.startswith("conv "))
        n_out = sum(1 for l in open(calib) if l.startswith("convout "))
        qm = onnx.load(qdq)
        try:
            onnx.checker.check_model(qm)
        except onnx.checker.ValidationError as e:
            failures.append(f"onnx.checker rejects the export: {e}")
        n_qy = sum(1 for n in qm.graph.node if n.name.endswith("/QuantizeLinear_y"))
        print(f"calibration: {n_conv} quantised convs, {n_out} with an output range; "
              f"export: {n_qy} conv outputs quantised")
        if n_out != n_conv or n_qy != n_conv:
            failures.append(f"{n_conv} quantised convs but {n_out} convout records and "
                            f"{n_qy} output QuantizeLinear nodes")

        sq = session(qdq, opt)
        om = onnx.load(opt)
        ops = {}
        for n in om.graph.node:
            ops[n.op_type] = ops.get(n.op_type, 0) + 1
        n_qlc = ops.get("QLinearConv", 0)
        print(f"ORT {ort.__version__} optimised QDQ graph: {n_qlc} QLinearConv, "
              f"{ops.get('Conv', 0)} Conv, {ops.get('QuantizeLinear', 0)} QuantizeLinear, "
              f"{ops.get('DequantizeLinear', 0)} DequantizeLinear (of {n_conv} quantised convs)")
        if n_qlc < 0.9 * n_conv:
            failures.append(f"only {n_qlc} QLinearConv for {n_conv} quantised convs (< 90 %)")

        name, x8 = frame(s)
        xf = np.ascontiguousarray(x8.transpose(0, 3, 1, 2).astype(np.float32) / 255.0)
        yq = sq.run(None, {sq.get_inputs()[0].name: xf})[0]
        sf = session(model)
        yf = sf.run(None, {sf.get_inputs()[0].name: xf})[0]
        print(f"output shape: ORT QDQ {list(yq.shape)}, fp32 {list(yf.shape)}")
        if yq.shape != yf.shape or yq.ndim != 3 or yq.shape[0] != 1:
            failures.append(f"ORT QDQ output shape {list(yq.shape)} != {list(yf.shape)}")
        xp = os.path.join(tmp, "x.npy")
        yp = os.path.join(tmp, "y-int8.npy")
        np.save(xp, x8)
        run([a.cvbench, "infer", "--model", model, "--input-format", "u8-nhwc", "--input", xp,
             "--output", yp, "--precision", "int8", "--calib", calib, "--threads", "1"])
        yc = np.load(yp)
        if yq.shape == yf.shape and yc.shape == yf.shape:
            print(f"output rel-L2 on {name}: ORT QDQ vs cvbench int8 {rel_l2(yq, yc):.4f}, "
                  f"ORT QDQ vs fp32 {rel_l2(yq, yf):.4f}, cvbench int8 vs fp32 "
                  f"{rel_l2(yc, yf):.4f}")
        tf = median_ms(sf, xf)
        tq = median_ms(sq, xf)
        print(f"ORT 1 thread, yolov8n {s}: fp32 {tf:.1f} ms, QDQ {tq:.1f} ms "
              f"(QDQ/fp32 {tq / tf:.2f}; shared machine: rough)")
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print(f"FAIL: {f}")
    print("PASS" if not failures else f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
