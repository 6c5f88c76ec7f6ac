# SPDX-License-Identifier: Apache-2.0
"""Synthesis fidelity: `cvbench model synth` against Ultralytics' own export.

For each architecture and image size, Ultralytics builds the model from its
YAML with random weights (YOLO("yolov8n.yaml"): no download) and exports it
the way users do (ONNX, opset 17, simplify=True, static shape). Then:

 1. topology: the op histogram of `cvbench model synth` of the same
    architecture and size equals the real export's. One difference is
    allowed and explained in the output: torch < 2 exports dist2bbox's
    `chunk(2, dim)` as two Slice nodes where torch 2.x (and cvbench) write
    one Split (real Slice = synth Slice + 2, real Split = synth Split - 1);
 2. parameter count (`cvbench model info --json` of both files) and output
    shape ([1, 84, N]) are equal;
 3. cvbench runs the REAL export with both kernel sets as ONNX Runtime does:
    relative L2 error <= 1e-4 on a seeded random tensor, a letterboxed
    darknet photo and a grey frame (the inputs of differential.py).

Prints a table and the worst error per architecture; exit 0 when all pass, 1
on any failure, 77 (skip) with the reason when torch/ultralytics are missing
(scripts/test-long-venv.sh creates the venv; ctest runs it first).

Usage: ultralytics_fidelity.py --cvbench build/cvbench [--arch A]... [--imgsz S]...
                               [--kernels ref --kernels onednn] [--keep DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

# Offline and quiet before ultralytics is imported: no update checks, no
# settings sync, no telemetry, no font or weight downloads.
os.environ["YOLO_OFFLINE"] = "True"
os.environ.setdefault("YOLO_VERBOSE", "False")

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-long-venv.sh", flush=True)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import PHOTO, decode_image, make_inputs, rel_l2  # noqa: E402

ARCHS = ["yolov5nu", "yolov8n", "yolov8s", "yolo11n"]
TOL = 1e-4
SLICE_NOTE = ("torch 1.x exports dist2bbox's chunk(2) as 2 Slice, torch 2.x and cvbench "
              "as 1 Split")


def histogram(model):
    h = {}
    for n in model.graph.node:
        h[n.op_type] = h.get(n.op_type, 0) + 1
    return h


def out_shape(model):
    t = model.graph.output[0].type.tensor_type
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]


def compare_hist(real, synth):
    """Returns (ok, note)."""
    if real == synth:
        return True, "identical"
    adj = dict(synth)
    adj["Slice"] = adj.get("Slice", 0) + 2
    adj["Split"] = adj.get("Split", 0) - 1
    adj = {k: v for k, v in adj.items() if v}
    if real == adj:
        return True, "Slice/Split (" + SLICE_NOTE + ")"
    keys = sorted(set(real) | set(synth))
    diff = [f"{k} {real.get(k, 0)} vs {synth.get(k, 0)}" for k in keys
            if real.get(k, 0) != synth.get(k, 0)]
    return False, "real vs synth: " + ", ".join(diff)


def cvbench_info(cvbench, path):
    import json
    p = subprocess.run([cvbench, "model", "info", "--json", path], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cvbench model info {path}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def export_real(arch, size, workdir):
    """Ultralytics' export of arch at size with random init weights; returns
    (path, seconds)."""
    from ultralytics import YOLO
    t0 = time.monotonic()
    cwd = os.getcwd()
    os.chdir(workdir)  # the exporter writes next to the (non-existent) .pt
    try:
        m = YOLO(f"{arch}.yaml")
        path = m.export(format="onnx", opset=17, simplify=True, imgsz=size, dynamic=False,
                        half=False, batch=1, device="cpu")
    finally:
        os.chdir(cwd)
    dst = os.path.join(workdir, f"real-{arch}-{size}.onnx")
    shutil.move(os.path.join(workdir, path), dst)
    return dst, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--arch", action="append", choices=ARCHS)
    ap.add_argument("--imgsz", action="append", type=int)
    ap.add_argument("--kernels", action="append", choices=["ref", "onednn"])
    ap.add_argument("--keep", help="keep the models and tensors in this directory")
    args = ap.parse_args()
    archs = args.arch or ARCHS
    sizes = args.imgsz or [640, 320]
    kernels = args.kernels or ["ref", "onednn"]
    t_start = time.monotonic()

    try:
        import torch
        os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="cvb-yolo-cfg-"))
        import ultralytics
        from ultralytics.utils import SETTINGS
        SETTINGS.update({"sync": False})
    except Exception as e:  # ImportError, or a broken install
        print(f"SKIP: cannot import torch/ultralytics ({type(e).__name__}: {e}); "
              "run scripts/test-long-venv.sh", flush=True)
        return 77
    torch.manual_seed(0)
    print(f"ultralytics {ultralytics.__version__}, torch {torch.__version__}, onnx "
          f"{onnx.__version__}, onnxruntime {ort.__version__}", flush=True)

    workdir = args.keep or tempfile.mkdtemp(prefix="cvb-fidelity-")
    os.makedirs(workdir, exist_ok=True)
    photo = decode_image(PHOTO)
    failures = []
    worst = {}
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    print(f"{'arch':9} {'imgsz':>5}  {'check':<13} {'result':<6} detail", flush=True)

    def row(arch, size, check, ok, detail):
        print(f"{arch:9} {size:>5}  {check:<13} {'ok' if ok else 'FAIL':<6} {detail}", flush=True)
        if not ok:
            failures.append(f"{arch}@{size} {check}: {detail}")

    try:
        for arch in archs:
            worst[arch] = (0.0, "")
            for size in sizes:
                try:
                    real, t_exp = export_real(arch, size, workdir)
                except Exception as e:
                    row(arch, size, "export", False, f"Ultralytics export failed: {e}")
                    continue
                synth = os.path.join(workdir, f"synth-{arch}-{size}.onnx")
                t0 = time.monotonic()
                p = subprocess.run([args.cvbench, "model", "synth", "--arch", arch, "--imgsz",
                                    str(size), "-o", synth], capture_output=True, text=True)
                t_syn = time.monotonic() - t0
                if p.returncode != 0:
                    row(arch, size, "synth", False, p.stderr.strip())
                    continue
                mr, ms = onnx.load(real), onnx.load(synth)
                hr, hs = histogram(mr), histogram(ms)
                ok, note = compare_hist(hr, hs)
                row(arch, size, "ops", ok, f"{len(mr.graph.node)} vs {len(ms.graph.node)} nodes, "
                    f"{note}; export {t_exp:.1f} s, synth {t_syn:.1f} s")
                ir, isy = cvbench_info(args.cvbench, real), cvbench_info(args.cvbench, synth)
                ok = ir["parameters"] == isy["parameters"]
                row(arch, size, "params", ok, f"{ir['parameters']:,} vs {isy['parameters']:,}"
                    f" (cvbench model info); GFLOPs {ir['gflops']:.2f} vs {isy['gflops']:.2f}")
                n = sum((size // s) ** 2 for s in (8, 16, 32))
                sr, ss = out_shape(mr), out_shape(ms)
                ok = sr == ss == [1, 84, n]
                row(arch, size, "shape", ok, f"output0 {sr} vs {ss}")

                sess = ort.InferenceSession(real, so, providers=["CPUExecutionProvider"])
                in_name = sess.get_inputs()[0].name
                for iname, x in make_inputs(size, photo).items():
                    xp = os.path.join(workdir, f"in-{size}-{iname}.npy")
                    np.save(xp, x)
                    ref_out = sess.run(None, {in_name: x})[0]
                    for k in kernels:
                        yp = os.path.join(workdir, f"out-{arch}-{size}-{iname}-{k}.npy")
                        t0 = time.monotonic()
                        p = subprocess.run([args.cvbench, "infer", "--model", real, "--input",
                                            xp, "--output", yp, "--kernels", k],
                                           capture_output=True, text=True)
                        dt = time.monotonic() - t0
                        if p.returncode != 0:
                            row(arch, size, f"{iname}/{k}", False,
                                f"cvbench infer failed: {p.stderr.strip()}")
                            continue
                        y = np.load(yp)
                        if y.shape != ref_out.shape:
                            row(arch, size, f"{iname}/{k}", False,
                                f"shape {y.shape} vs ORT {ref_out.shape}")
                            continue
                        err = rel_l2(y, ref_out)
                        if err >= worst[arch][0]:
                            worst[arch] = (err, f"{size} {iname} {k}")
                        row(arch, size, f"{iname}/{k}", err <= TOL,
                            f"rel L2 {err:.2e} vs ORT ({dt:.1f} s)")
                    os.unlink(xp)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    for arch, (err, where) in worst.items():
        print(f"worst error {arch}: {err:.2e} ({where}) on Ultralytics' real export", flush=True)
    print(f"{len(failures)} failed; {time.monotonic() - t_start:.0f} s", flush=True)
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
