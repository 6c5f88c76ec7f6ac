# SPDX-License-Identifier: Apache-2.0
"""Differential test: cvbench's engine against ONNX Runtime.

For each synthesized YOLO architecture and image size, on three inputs (a
seeded random tensor, a real photo letterboxed the way Ultralytics does it,
and a uniform grey frame), run ONNX Runtime (CPU, all graph optimisations)
and `cvbench infer` with each kernel set, and require the relative L2 error
||cvbench - ort|| / ||ort|| <= 1e-4 on every output.

With --isa LIST (comma-separated or repeated; `all` = auto, amx,
avx512_vnni, avx512, avx2) the oneDNN kernels run once per ISA cap
(`cvbench infer --isa X`, fp32) and the reference kernels are left out unless
--kernels asks for them. Which ISAs this CPU has comes from
`cvbench sysinfo --json` (its CPU flags, the same ones the engine checks);
an ISA it lacks is reported as skipped with the missing flag, never silently
dropped, and for each ISA run the effective oneDNN ISA is printed.

With --end2end the models are synthesized with `--end2end` (output0
[1, K, 6]: x1, y1, x2, y2, score, class; top-K, no NMS) and compared row by
row instead (e2e_error()): rows whose scores nearly tie may come out in
either order, so each cvbench row is matched to an unused ONNX Runtime row of
the same class whose box and score agree within tol (boxes relative to the
box scale, the largest |coordinate| ONNX Runtime gives; scores absolute, they
lie in 0..1), every row must match, the scores must not increase down the
rows, and the error reported is the worst matched difference. The only rows
left unmatched are ties at the K-th score (both sides' row then scores
within tol of ONNX Runtime's smallest), which top-K may break either way.

Prints one row per (arch, imgsz, input, kernels[, isa]), the worst error per
arch, and `N passed, N failed` last. Exit 0 when all pass, 1 on any failure,
77 when the Python test tools are missing (run scripts/test-venv.sh).

Usage (ctest passes the paths; see tests/tests.cmake):
  differential.py --cvbench build/cvbench --arch yolov8n --imgsz 320 --imgsz 640
                  [--kernels ref --kernels onednn] [--skip ref@640] [--tol 1e-4]
                  [--isa avx2,avx512,avx512_vnni,amx,auto]
"""
import json
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)

ARCHS = ["yolov5nu", "yolov8n", "yolov8s", "yolo11n", "yolov9t", "yolov10n", "yolo12n",
         "yolo26n"]
ISAS = ["auto", "amx", "avx512_vnni", "avx512", "avx2"]
# CPU flags (as `cvbench sysinfo --json` names them) each ISA cap needs; the
# engine refuses the cap when one is missing (kernels/onednn/dnn.c).
ISA_FLAGS = {"auto": [], "amx": ["amx_tile", "amx_int8", "amx_bf16"],
             "avx512_vnni": ["avx512_vnni", "avx512f"], "avx512": ["avx512f"],
             "avx2": ["avx2"]}
PHOTO = "/usr/share/darknet/data/dog.jpg"


def decode_image(path):
    """Decode an image to an HxWx3 uint8 RGB array with the ffmpeg CLI (a
    product dependency), so the venv needs no imaging library."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height", "-of", "csv=p=0", path],
        check=True, capture_output=True, text=True)
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24",
         "pipe:1"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8)[: h * w * 3].reshape(h, w, 3)


def resize_bilinear(img, nh, nw):
    """Bilinear resize (half-pixel centres), HxWxC uint8 -> nh x nw x C float."""
    h, w = img.shape[:2]
    ys = np.clip((np.arange(nh) + 0.5) * h / nh - 0.5, 0, h - 1)
    xs = np.clip((np.arange(nw) + 0.5) * w / nw - 0.5, 0, w - 1)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[:, None, None]
    wx = (xs - x0)[None, :, None]
    f = img.astype(np.float64)
    top = f[y0][:, x0] * (1 - wx) + f[y0][:, x1] * wx
    bot = f[y1][:, x0] * (1 - wx) + f[y1][:, x1] * wx
    return top * (1 - wy) + bot * wy


def letterbox_u8(img, size):
    """Ultralytics LetterBox(auto=False, center=True): scale to fit, keep the
    aspect ratio, pad with grey 114, centred; returns the uint8 [1,S,S,3] RGB
    frame (what `--input-format u8-nhwc` takes)."""
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = (size - nw) / 2, (size - nh) / 2
    top, left = int(round(dh - 0.1)), int(round(dw - 0.1))
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    resized = np.clip(np.round(resize_bilinear(img, nh, nw)), 0, 255).astype(np.uint8)
    canvas[top:top + nh, left:left + nw] = resized
    return canvas[None]


def letterbox(img, size):
    """letterbox_u8() as the model's float input: [1,3,S,S] RGB / 255."""
    chw = letterbox_u8(img, size)[0].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return np.ascontiguousarray(chw)


def make_inputs(size, photo):
    rng = np.random.default_rng(1)
    return {
        "random": rng.random((1, 3, size, size), dtype=np.float32),
        "photo": letterbox(photo, size),
        "grey": np.full((1, 3, size, size), 114.0 / 255.0, dtype=np.float32),
    }


def rel_l2(a, b):
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    if not np.all(np.isfinite(a)):
        return float("inf")
    nb = np.linalg.norm(b)
    d = np.linalg.norm(a - b)
    return float(d / nb) if nb > 0 else float(d)


def e2e_error(got, want, tol):
    """Row-matched error of end-to-end outputs [1, K, 6] (module docstring).
    Returns (error, problem or None)."""
    g = got[0].astype(np.float64)
    w = want[0].astype(np.float64)
    if not np.all(np.isfinite(g)):
        return float("inf"), "output not finite"
    scale = max(float(np.abs(w[:, :4]).max()), 1.0)
    if np.any(np.diff(g[:, 4]) > tol):
        return float("inf"), "scores increase down the rows"
    kth = float(w[:, 4].min())
    used = np.zeros(len(w), dtype=bool)
    worst, unmatched = 0.0, []
    for i, r in enumerate(g):
        err = np.maximum(np.abs(w[:, :4] - r[:4]).max(axis=1) / scale, np.abs(w[:, 4] - r[4]))
        ok = (~used) & (w[:, 5] == r[5]) & (err <= tol)
        if not ok.any():
            unmatched.append(i)
            continue
        j = int(np.argmin(np.where(ok, err, np.inf)))
        used[j] = True
        worst = max(worst, float(err[j]))
    # top-K may break a tie at the K-th score either way: such rows may differ
    loose_g = [i for i in unmatched if g[i, 4] - kth > tol]
    loose_w = [j for j in np.flatnonzero(~used) if w[j, 4] - kth > tol]
    if loose_g or loose_w:
        i = (loose_g or [None])[0]
        what = (f"row {i} (class {g[i, 5]:g}, score {g[i, 4]:.6g}, box "
                f"{np.round(g[i, :4], 3).tolist()}) has no match" if i is not None else
                f"onnxruntime row {loose_w[0]} (score {w[loose_w[0], 4]:.6g}) unmatched")
        return float("inf"), f"{len(loose_g)} rows unmatched: {what}"
    return worst, None


def nms_error(got, want, tol):
    """Row-matched error of in-graph NMS outputs [1, 300, 6] (`model synth
    --nms`): rows are kept boxes grouped by class (NonMaxSuppression's
    order), then zero rows. Each kept row must match a row of the same class
    within tol (box relative to the largest coordinate, score absolute);
    a row may go unmatched only when its score is within tol of the conf
    threshold 0.25 (it may fall either side). Returns (error, problem)."""
    g = got[0].astype(np.float64)
    w = want[0].astype(np.float64)
    if not np.all(np.isfinite(g)):
        return float("inf"), "output not finite"
    kg = int((np.abs(g).sum(axis=1) > 0).sum())
    kw = int((np.abs(w).sum(axis=1) > 0).sum())
    if np.abs(g[kg:]).sum() > 0:
        return float("inf"), "non-zero rows after the first zero row"
    g, w = g[:kg], w[:kw]
    scale = max(float(np.abs(w[:, :4]).max()) if kw else 1.0, 1.0)
    used = np.zeros(kw, dtype=bool)
    worst, loose = 0.0, []
    for i, r in enumerate(g):
        err = (np.maximum(np.abs(w[:, :4] - r[:4]).max(axis=1) / scale, np.abs(w[:, 4] - r[4]))
               if kw else np.zeros(0))
        ok = (~used) & (w[:, 5] == r[5]) & (err <= tol) if kw else np.zeros(0, dtype=bool)
        if not ok.any():
            if abs(r[4] - 0.25) > tol:
                loose.append(i)
            continue
        j = int(np.argmin(np.where(ok, err, np.inf)))
        used[j] = True
        worst = max(worst, float(err[j]))
    loose_w = [j for j in np.flatnonzero(~used) if abs(w[j, 4] - 0.25) > tol]
    if loose or loose_w:
        return float("inf"), (f"{len(loose)} cvbench rows and {len(loose_w)} onnxruntime rows "
                              f"unmatched (kept: cvbench {kg}, onnxruntime {kw})")
    return worst, None


def run(cmd, what):
    """Run a cvbench command; returns (ok, seconds, message)."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        msg = (p.stderr.strip() or p.stdout.strip()).splitlines()
        return False, dt, f"{what}: exit {p.returncode}: {msg[-1] if msg else '(no output)'}"
    return True, dt, ""


def parse_isas(values):
    """--isa values (repeated and/or comma-separated) -> ordered unique list."""
    out = []
    for v in values or []:
        for name in v.split(","):
            name = name.strip()
            if not name:
                continue
            for n in (ISAS if name == "all" else [name]):
                if n not in ISAS:
                    raise SystemExit(f"differential.py: unknown ISA '{n}' (expected "
                                     f"{', '.join(ISAS)} or all)")
                if n not in out:
                    out.append(n)
    return out


def isa_support(cvbench, isas):
    """Split 'isas' into (runnable [(isa, effective oneDNN ISA)], skipped
    [(isa, reason)]) using the CPU flags `cvbench sysinfo --json` reports."""
    p = subprocess.run([cvbench, "sysinfo", "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: cvbench sysinfo --json: exit {p.returncode}: {p.stderr.strip()}")
    info = json.loads(p.stdout)
    flags = info.get("flags", {})
    run_ok, skipped = [], []
    for isa in isas:
        missing = [f for f in ISA_FLAGS[isa] if not flags.get(f, False)]
        if missing:
            skipped.append((isa, f"CPU ({info.get('cpu', '?')}) lacks {', '.join(missing)}"))
            continue
        q = subprocess.run([cvbench, "sysinfo", "--json", "--isa", isa],
                           capture_output=True, text=True)
        eff = json.loads(q.stdout).get("onednn_isa", "?") if q.returncode == 0 else \
            f"error: {q.stderr.strip()}"
        run_ok.append((isa, eff))
    return run_ok, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--arch", action="append", choices=ARCHS)
    ap.add_argument("--imgsz", action="append", type=int)
    ap.add_argument("--kernels", action="append", choices=["ref", "onednn"])
    ap.add_argument("--skip", action="append", default=[],
                    help="KERNELS@IMGSZ cases left out here (run by another test)")
    ap.add_argument("--skip-note", default="",
                    help="where the skipped cases run, printed with them")
    ap.add_argument("--isa", action="append",
                    help="run the oneDNN kernels under each ISA cap in this comma-separated "
                         "list (auto, amx, avx512_vnni, avx512, avx2, or all)")
    ap.add_argument("--end2end", action="store_true",
                    help="synthesize end-to-end models ([1,K,6]) and compare rows matched")
    ap.add_argument("--nms", action="store_true",
                    help="synthesize in-graph NMS models ([1,300,6], `model synth --nms`: "
                         "data-dependent shapes) and compare kept rows matched by class")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--keep", help="keep models and tensors in this directory")
    args = ap.parse_args()
    archs = args.arch or ARCHS
    sizes = args.imgsz or [640, 320]
    isas = parse_isas(args.isa)
    kernels = args.kernels or (["onednn"] if isas else ["ref", "onednn"])
    skips = set(args.skip)
    cvbench = os.path.abspath(args.cvbench)

    if not os.access(cvbench, os.X_OK):
        print(f"FAIL: cvbench binary not found at {cvbench}")
        return 1
    isa_skipped = []
    if isas:
        isa_runs, isa_skipped = isa_support(cvbench, isas)
        for isa, eff in isa_runs:
            print(f"# isa {isa}: runs (oneDNN effective ISA {eff})", flush=True)
        for isa, why in isa_skipped:
            print(f"# isa {isa}: SKIPPED: {why}", flush=True)
        isa_list = [i for i, _ in isa_runs]
    else:
        isa_list = [None]
    if not os.path.exists(PHOTO):
        print(f"FAIL: sample photo {PHOTO} missing (Debian package darknet; make deps)")
        return 1
    photo = decode_image(PHOTO)

    tmp = args.keep or tempfile.mkdtemp(prefix="cvb-diff-")
    os.makedirs(tmp, exist_ok=True)
    rows, failures, worst = [], [], {}
    skipped = []
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    try:
        for arch in archs:
            for size in sizes:
                e2e = ["--end2end"] if args.end2end else ["--nms"] if args.nms else []
                model = os.path.join(tmp, f"{arch}-{size}{e2e[0][1:] if e2e else ''}.onnx")
                ok, dt, msg = run([cvbench, "model", "synth", "--arch", arch, "--imgsz",
                                   str(size), "--seed", "1", "-o", model] + e2e,
                                  f"{arch}-{size} synth")
                print(f"# synth {arch} imgsz {size}: {dt:.1f} s", flush=True)
                if not ok:
                    failures.append(msg)
                    continue
                try:
                    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
                except Exception as e:  # ORT refusing our model is a failure of synth
                    failures.append(f"{arch}-{size}: onnxruntime cannot load the model: {e}")
                    continue
                in_name = sess.get_inputs()[0].name
                out_names = [o.name for o in sess.get_outputs()]
                for iname, x in make_inputs(size, photo).items():
                    xpath = os.path.join(tmp, f"{arch}-{size}-{iname}.npy")
                    np.save(xpath, x)
                    t0 = time.monotonic()
                    want = sess.run(None, {in_name: x})
                    t_ort = time.monotonic() - t0
                    for k, isa in [(k, i) for k in kernels
                                   for i in (isa_list if k == "onednn" else [None])]:
                        kl = k if isa is None else f"{k}/{isa}"
                        case = f"{arch} {size} {iname} {kl}"
                        if f"{k}@{size}" in skips:
                            skipped.append(case)
                            continue
                        outs = [os.path.join(tmp, f"{arch}-{size}-{iname}-{k}-{isa}-{j}.npy")
                                for j in range(len(out_names))]
                        cmd = [cvbench, "infer", "--model", model, "--input", xpath,
                               "--kernels", k]
                        if isa is not None:
                            cmd += ["--isa", isa]
                        for o in outs:
                            cmd += ["--output", o]
                        ok, dt, msg = run(cmd, case)
                        if not ok:
                            failures.append(msg)
                            rows.append((arch, size, iname, kl, None, dt, t_ort, msg))
                            continue
                        errs = []
                        for j, (o, w) in enumerate(zip(outs, want)):
                            got = np.load(o)
                            if got.shape != w.shape:
                                errs.append(float("inf"))
                                failures.append(f"{case}: output {out_names[j]} shape "
                                                f"{got.shape}, onnxruntime {w.shape}")
                            elif args.end2end or args.nms:
                                ee, why = (e2e_error if args.end2end else nms_error)(got, w,
                                                                                   args.tol)
                                errs.append(ee)
                                if why is not None:
                                    failures.append(f"{case}: {why}")
                            else:
                                errs.append(rel_l2(got, w))
                        e = max(errs)
                        rows.append((arch, size, iname, kl, e, dt, t_ort, ""))
                        worst[arch] = max(worst.get(arch, 0.0), e)
                        metric = "row err" if (args.end2end or args.nms) else "rel L2"
                        if any(f.startswith(case) for f in failures):
                            pass
                        elif not e <= args.tol and all(np.isfinite(errs)):
                            failures.append(f"{case}: {metric} {e:.3e} > {args.tol:g}")
                        elif not e <= args.tol and not any(f.startswith(case) for f in failures):
                            failures.append(f"{case}: output not finite")
                        print(f"{arch:9s} {size:4d}  {iname:6s} {kl:6s}  {metric} {e:.3e}  "
                              f"{'ok' if e <= args.tol else 'FAIL'}  "
                              f"(cvbench {dt:.1f} s, ort {t_ort:.2f} s)", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    kw = max([7] + [len(r[3]) for r in rows])
    metric = "row err" if (args.end2end or args.nms) else "rel L2"
    print(f"{'arch':9s} {'imgsz':>5s}  {'input':6s} {'kernels':{kw}s} {metric:>10s}  "
          f"{'cvbench s':>9s}  {'ort s':>6s}")
    for arch, size, iname, k, e, dt, t_ort, msg in rows:
        es = "error" if e is None else f"{e:.3e}"
        print(f"{arch:9s} {size:5d}  {iname:6s} {k:{kw}s} {es:>10s}  {dt:9.2f}  {t_ort:6.2f}")
    for isa, why in isa_skipped:
        print(f"skipped: isa {isa}: {why}")
    for case in skipped:
        print(f"skipped here: {case}{' (' + args.skip_note + ')' if args.skip_note else ''}")
    print()
    for arch in archs:
        if arch in worst:
            print(f"worst {'row error' if (args.end2end or args.nms) else 'rel L2'} {arch}: "
                  f"{worst[arch]:.3e} (tolerance {args.tol:g})")
    for f in failures:
        print(f"FAIL: {f}")
    n_fail = len(failures)
    n_pass = sum(1 for r in rows if r[4] is not None and r[4] <= args.tol)
    n_skip = len(skipped) + len(isa_skipped)
    print(f"{n_pass} passed, {n_fail} failed" + (f", {n_skip} skipped" if n_skip else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
