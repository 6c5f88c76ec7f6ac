# SPDX-License-Identifier: Apache-2.0
"""Issue 12 fixtures: real Ultralytics 8.4 ONNX exports (random init, no download).

Builds each model from its YAML with random weights (YOLO("yolo26n.yaml"):
torch.manual_seed(0) first, no weight download) and exports it the way users
do: ONNX, opset 17, simplify=True (onnxslim), static shape, batch 1, CPU.
The set (file names <arch>-<imgsz>[-e2e|-nms].onnx):

  yolo26n  640, 320   plain (nms=None) and end-to-end (nms=False -> -e2e)
  yolo12n  640, 320   plain
  yolov9t  640, 320   plain
  yolov10n 640, 320   plain and end-to-end
  yolo11n  640, 320   plain
  yolov8n  640        in-graph NMS (nms=True -> -nms)
  yolov8n  640, 320   plain
  yolov8s  640, 320   plain
  yolov5nu 640, 320   plain

(tests/integration/synth_vs_export.py compares `model synth` files with them.)

How Ultralytics 8.4 spells the heads: there is no `end2end=` export argument;
`nms` selects the head (engine/exporter.py): nms=None (the default) exports
the one-to-many head, output [1, 4+nc, anchors], even for YOLO26/YOLOv10
whose checkpoints are end-to-end; nms=False exports the one-to-one
(NMS-free) head, output [1, 300, 6] (TopK of max_det=300); nms=True wraps a
non-end2end Detect head in NMSModel (NonMaxSuppression in the graph).

torch >= 2.9 makes torch.onnx.export default to the dynamo exporter, which
needs onnxscript. Ultralytics 8.4.190 passes dynamo=False itself
(utils/export/engine.py torch2onnx, when torch >= 2.4); for versions that do
not, this script wraps torch.onnx.export to default dynamo=False, so every
file here comes from the classic (TorchScript) exporter. The log says whether
the wrapper had to add it.

Also writes input-<imgsz>.npy (a darknet photo letterboxed as Ultralytics
does, [1,3,S,S] float RGB/255; seeded random when the photo is missing),
<name>.ort.npy (ONNX Runtime's first output for it; further outputs as
<name>.ort.<output>.npy) and manifest.json (versions, per file: inputs,
outputs, op histogram, export seconds).

Ultralytics' random init is degenerate for numerical checks: after the
Conv+BN fuse the activations shrink layer by layer (default Conv2d init, BN
running stats 0/1), so the output hardly depends on the input (yolo26n-640
on the photo: 3 distinct class scores in [1,84,8400], one box per stride;
every score ~1.6e-4, so TopK sees ties everywhere and nms=True keeps
nothing at conf 0.25). --init calib keeps the random conv weights but
calibrates every BatchNorm's running statistics on the input batch (the
photo plus 3 seeded random images, one train-mode forward with cumulative
averaging) and sets the biases of the class branches' last convs to -6, so
activations keep unit scale, outputs vary with the input and in-graph NMS
keeps boxes. Those files are named <name>-cal.onnx (same graphs, other
weights).

Usage: export_u84.py --venv-python /work/uvenv/bin/python --out /work/u84
                     [--only NAME]... [--init default|calib]
The venv needs torch, torchvision, ultralytics 8.4, onnx, onnxruntime,
onnxslim. Runs offline (YOLO_OFFLINE=True, a private YOLO_CONFIG_DIR).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
INNER = "CVB_EXPORT_U84_INNER"

# (name, arch, imgsz, export kwargs beyond the common ones)
JOBS = [
    ("yolo26n-640", "yolo26n", 640, {}),
    ("yolo26n-640-e2e", "yolo26n", 640, {"nms": False}),
    ("yolo26n-320", "yolo26n", 320, {}),
    ("yolo26n-320-e2e", "yolo26n", 320, {"nms": False}),
    ("yolo12n-640", "yolo12n", 640, {}),
    ("yolo12n-320", "yolo12n", 320, {}),
    ("yolov9t-640", "yolov9t", 640, {}),
    ("yolov9t-320", "yolov9t", 320, {}),
    ("yolov10n-640", "yolov10n", 640, {}),
    ("yolov10n-640-e2e", "yolov10n", 640, {"nms": False}),
    ("yolov10n-320", "yolov10n", 320, {}),
    ("yolov10n-320-e2e", "yolov10n", 320, {"nms": False}),
    ("yolo11n-640", "yolo11n", 640, {}),
    ("yolov8n-640-nms", "yolov8n", 640, {"nms": True}),
    ("yolo11n-320", "yolo11n", 320, {}),
    ("yolov8n-640", "yolov8n", 640, {}),
    ("yolov8n-320", "yolov8n", 320, {}),
    ("yolov8s-640", "yolov8s", 640, {}),
    ("yolov8s-320", "yolov8s", 320, {}),
    ("yolov5nu-640", "yolov5nu", 640, {}),
    ("yolov5nu-320", "yolov5nu", 320, {}),
]


def outer(args):
    """Re-run this script with the venv's python, offline settings set."""
    py = args.venv_python
    if not os.path.isfile(py) or not os.access(py, os.X_OK):
        print(f"export_u84: --venv-python {py}: not an executable file", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env[INNER] = "1"
    env["YOLO_OFFLINE"] = "True"
    env.setdefault("YOLO_VERBOSE", "False")
    env.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="cvb-u84-cfg-"))
    return subprocess.call([py, os.path.abspath(__file__)] + sys.argv[1:], env=env)


def histogram(model):
    h = {}
    for n in model.graph.node:
        h[n.op_type] = h.get(n.op_type, 0) + 1
    return dict(sorted(h.items()))


def value_infos(values):
    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]
        out.append({"name": v.name, "dtype": int(t.elem_type), "shape": dims})
    return out


def patch_onnx_export(torch, log):
    """Make torch.onnx.export default to dynamo=False (classic exporter)."""
    import inspect
    orig = torch.onnx.export
    try:
        has_dynamo = "dynamo" in inspect.signature(orig).parameters
    except (TypeError, ValueError):
        has_dynamo = False
    if not has_dynamo:
        return
    state = {"added": 0, "given": 0}

    def export(*a, **kw):
        if "dynamo" in kw:
            state["given"] += 1
        else:
            kw["dynamo"] = False
            state["added"] += 1
        return orig(*a, **kw)

    torch.onnx.export = export
    log["dynamo_patch"] = state


def calib_init(torch, model, x):
    """BatchNorm running stats from one train-mode forward of x + 3 seeded
    random images; class-branch last-conv biases -6 (see the module doc)."""
    import numpy as np
    g = torch.Generator().manual_seed(1)
    xb = torch.cat([torch.from_numpy(np.ascontiguousarray(x)),
                    torch.rand((3,) + tuple(x.shape[1:]), generator=g)])
    for b in model.modules():
        if isinstance(b, torch.nn.BatchNorm2d):
            b.reset_running_stats()
            b.momentum = None  # cumulative average: exactly this batch's statistics
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one reduction order: the same statistics on every run
    model.train()
    try:
        with torch.no_grad():
            model(xb)
    finally:
        model.eval()
        torch.set_num_threads(threads)
    head = model.model[-1]
    for branch in ("cv3", "one2one_cv3"):
        for seq in getattr(head, branch, None) or []:
            last = [m for m in seq.modules() if isinstance(m, torch.nn.Conv2d)][-1]
            if last.bias is not None:
                torch.nn.init.constant_(last.bias, -6.0)


def inner(args):
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import torchvision
    import ultralytics
    from ultralytics import YOLO
    from ultralytics.utils import SETTINGS

    sys.path.insert(0, HERE)
    from differential import PHOTO, decode_image, letterbox  # noqa: E402

    SETTINGS.update({"sync": False})
    # torch >= 2.9 warns on every classic (TorchScript) export; that is the point here.
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
    os.makedirs(args.out, exist_ok=True)
    out = os.path.abspath(args.out)
    jobs = [j for j in JOBS if not args.only or j[0] in args.only]
    unknown = set(args.only or []) - {j[0] for j in JOBS}
    if unknown:
        print(f"export_u84: unknown --only {sorted(unknown)}; known: {[j[0] for j in JOBS]}",
              file=sys.stderr)
        return 2
    log = {}
    patch_onnx_export(torch, log)
    versions = {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                "torchvision": torchvision.__version__, "onnx": onnx.__version__,
                "onnxruntime": ort.__version__, "numpy": np.__version__}
    try:
        import onnxslim
        versions["onnxslim"] = onnxslim.__version__
    except ImportError:
        versions["onnxslim"] = None
    print("export_u84: " + ", ".join(f"{k} {v}" for k, v in versions.items()), flush=True)

    # Inputs: one letterboxed photo per size.
    inputs = {}
    for size in sorted({j[2] for j in jobs}):
        if os.path.exists(PHOTO):
            x = letterbox(decode_image(PHOTO), size)
            src = f"{PHOTO} letterboxed (grey 114, centred), RGB/255"
        else:
            x = np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)
            src = "seeded random (default_rng(1)), photo missing"
        p = os.path.join(out, f"input-{size}.npy")
        np.save(p, x)
        inputs[size] = (x, p, src)

    manifest_path = os.path.join(out, "manifest.json")
    manifest = {"versions": versions, "recipe": {
        "common": {"format": "onnx", "opset": 17, "simplify": True, "dynamic": False,
                   "half": False, "batch": 1, "device": "cpu"},
        "seed": "torch.manual_seed(0) before each YOLO(yaml)",
        "env": {"YOLO_OFFLINE": "True"}}, "inputs": {}, "files": {}}
    if os.path.exists(manifest_path):  # other runs' files (--only, --init) stay listed
        with open(manifest_path) as f:
            old = json.load(f)
        manifest["files"] = old.get("files", {})
    for size, (_, p, src) in inputs.items():
        manifest["inputs"][os.path.basename(p)] = src

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    failures = 0
    for name, arch, size, kw in jobs:
        fname = name + ("-cal" if args.init == "calib" else "")
        work = tempfile.mkdtemp(prefix=f"cvb-u84-{fname}-")
        cwd = os.getcwd()
        t0 = time.monotonic()
        try:
            os.chdir(work)  # the exporter writes next to the (non-existent) .pt
            torch.manual_seed(0)
            m = YOLO(f"{arch}.yaml")
            if args.init == "calib":
                calib_init(torch, m.model, inputs[size][0])
            path = m.export(format="onnx", opset=17, simplify=True, imgsz=size, dynamic=False,
                            half=False, batch=1, device="cpu", **kw)
            dst = os.path.join(out, f"{fname}.onnx")
            shutil.move(os.path.join(work, path), dst)
        except Exception as e:
            failures += 1
            print(f"export_u84: {fname}: export FAILED: {type(e).__name__}: {e}", flush=True)
            manifest["files"][f"{fname}.onnx"] = {"error": f"{type(e).__name__}: {e}"}
            continue
        finally:
            os.chdir(cwd)
            shutil.rmtree(work, ignore_errors=True)
        dt = time.monotonic() - t0
        model = onnx.load(dst)
        meta = {p.key: p.value for p in model.metadata_props}
        x, _, _ = inputs[size]
        sess = ort.InferenceSession(dst, so, providers=["CPUExecutionProvider"])
        outs = sess.run(None, {sess.get_inputs()[0].name: x})
        onames = [o.name for o in sess.get_outputs()]
        saved = []
        for i, (oname, y) in enumerate(zip(onames, outs)):
            p = os.path.join(out, f"{fname}.ort.npy" if i == 0 else f"{fname}.ort.{oname}.npy")
            np.save(p, y)
            saved.append(os.path.basename(p))
        manifest["files"][f"{fname}.onnx"] = {
            "arch": arch, "init": args.init, "imgsz": size, "export_kwargs": kw, "export_s": round(dt, 1),
            "input_npy": f"input-{size}.npy", "ort_outputs": saved,
            "opset": [{"domain": o.domain, "version": o.version} for o in model.opset_import],
            "ir_version": model.ir_version,
            "inputs": value_infos(model.graph.input), "outputs": value_infos(model.graph.output),
            "nodes": len(model.graph.node), "ops": histogram(model),
            "metadata": {k: meta[k] for k in ("end2end", "task", "imgsz", "args") if k in meta},
        }
        shapes = [list(y.shape) for y in outs]
        print(f"export_u84: {fname}: {dt:.1f} s, {len(model.graph.node)} nodes, outputs "
              f"{shapes}, end2end={meta.get('end2end')}", flush=True)
    manifest["dynamo_patch"] = log.get("dynamo_patch")
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"export_u84: dynamo wrapper: {log.get('dynamo_patch')} (given = Ultralytics passed "
          "dynamo itself; added = this script added dynamo=False)", flush=True)
    print(f"export_u84: {len(jobs) - failures} exported, {failures} failed -> {out}", flush=True)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--venv-python", required=True,
                    help="python of a venv with torch, ultralytics 8.4, onnx, onnxruntime")
    ap.add_argument("--out", required=True, help="directory for the .onnx and .npy files")
    ap.add_argument("--only", action="append", help="export only this name (repeatable)")
    ap.add_argument("--init", choices=["default", "calib"], default="default",
                    help="calib: BN statistics calibrated so outputs depend on the input "
                         "(files <name>-cal.onnx)")
    args = ap.parse_args()
    if os.environ.get(INNER) != "1":
        return outer(args)
    return inner(args)


if __name__ == "__main__":
    sys.exit(main())
