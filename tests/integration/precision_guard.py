# SPDX-License-Identifier: Apache-2.0
"""Precision guard: int8 and bf16 detections against fp32's, end to end.

The detection-level accuracy guard of `cvbench infer --guard` (issue 3): on
the differential test's inputs (a seeded random frame, letterboxed dog.jpg,
a grey frame) plus the other darknet photos, the detections of the model
run at a lower precision must match fp32's: F1 >= 0.95 at IoU 0.5 (class-
matched) over all the detections of all the inputs together (per model
seed and precision). Pooled, because a photo with two detections has only
the F1 values 0, 0.67 and 1: one flip there says little about a precision,
while the pooled figure counts every flip against every detection. Each
input's own F1 is printed, and an input whose F1 is below --min-input-f1
(default 0.5: most of its detections lost or moved) fails on its own.
The model is synthesized (`cvbench model synth`, whose planted detector
scores like a trained one: a few anchors far above 0.25, the rest far
below); int8 is calibrated on procedural frames (`cvbench model calibrate
--synthetic N`). Every frame goes in as uint8 NHWC (the benchmark
pipeline's format), so nothing is rescaled in Python.

Prints, per precision and input: boxes at fp32 and at the tested precision,
F1, the output's relative L2 error, and the fp32 score histogram (anchors
whose best class score is in [0.15, 0.25), [0.25, 0.5), >= 0.5), then the
pooled F1 per seed and precision and `N passed, N failed` last. A precision this CPU cannot run
natively (bf16 without avx512_bf16/amx_bf16) is reported as skipped with the
reason. Exit 0 when all pass, 1 on a failure, 77 when the Python test tools
are missing (run scripts/test-venv.sh).

With --isa LIST (as differential.py's: avx2, avx512, avx512_vnni, amx,
auto, all) every precision runs under each ISA cap this CPU has
(`cvbench infer --isa X`); bf16 only where the capped ISA computes it
natively (oneDNN ISA avx512_core_bf16 or AMX), skipped with the reason
elsewhere. Pooled F1 is then per ISA, seed and precision.

Usage (ctest passes the paths; see tests/tests.cmake):
  precision_guard.py --cvbench build/cvbench [--precision bf16,int8] [--isa LIST]
      [--arch yolov8n] [--imgsz 320] [--seed 1 --seed 7] [--calib-frames 32]
      [--min-f1 0.95] [--keep DIR]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import decode_image, isa_support, letterbox_u8, parse_isas  # noqa: E402

PHOTO_DIR = "/usr/share/darknet/data"
PHOTOS = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg"]
GUARD_RE = re.compile(r"accuracy guard: (\w+) vs fp32: F1@IoU0\.5 = ([0-9.]+) "
                      r"\(fp32 (\d+) boxes, \w+ (\d+)\), output rel-L2 = ([0-9.eE+-]+|inf|nan)")


def make_inputs(size):
    """The differential test's inputs (random, dog, grey) first, then the
    other darknet photos. Returns [(name, uint8 [1,S,S,3])]."""
    rng = np.random.default_rng(1)
    ins = [("random", rng.integers(0, 256, (1, size, size, 3), dtype=np.uint8))]
    for p in PHOTOS:
        path = os.path.join(PHOTO_DIR, p)
        if os.path.exists(path):
            ins.append((p.split(".")[0], letterbox_u8(decode_image(path), size)))
    ins.insert(2, ("grey", np.full((1, size, size, 3), 114, dtype=np.uint8)))
    return ins


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        lines = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise RuntimeError(f"{' '.join(cmd[:3])}: exit {p.returncode}: "
                           f"{lines[-1] if lines else '(no output)'}")
    return p


def score_hist(out):
    """fp32 output0 [1, 84, N] -> anchors whose best class score is in
    [0.15, 0.25), [0.25, 0.5), [0.5, 1]; [1, K, 6] (end-to-end or in-graph
    NMS rows) -> rows whose score is."""
    best = out[0, :, 4] if out.shape[-1] == 6 else out[0, 4:, :].max(axis=0)
    return (int(((best >= 0.15) & (best < 0.25)).sum()),
            int(((best >= 0.25) & (best < 0.5)).sum()), int((best >= 0.5).sum()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--precision", action="append",
                    help="comma-separated: bf16, int8 (default both)")
    ap.add_argument("--arch", default="yolov8n")
    ap.add_argument("--head", choices=["plain", "end2end", "nms"], default="plain",
                    help="`model synth` head: plain [1,84,N], --end2end or --nms [1,K,6]")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--seed", action="append", type=int,
                    help="model seeds (default 1, the differential test's)")
    ap.add_argument("--calib-frames", type=int, default=32)
    ap.add_argument("--min-f1", type=float, default=0.95,
                    help="pooled F1 over the inputs, per seed and precision")
    ap.add_argument("--min-input-f1", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--isa", action="append",
                    help="ISA caps, comma-separated (default: none, oneDNN's own choice)")
    ap.add_argument("--keep", help="keep models and tensors in this directory")
    args = ap.parse_args()
    precs = []
    for v in args.precision or ["bf16,int8"]:
        precs += [p for p in v.split(",") if p and p not in precs]
    for p in precs:
        if p not in ("bf16", "int8"):
            print(f"FAIL: unknown precision '{p}' (bf16, int8)")
            return 1
    seeds = args.seed or [1]
    cvbench = os.path.abspath(args.cvbench)
    if not os.access(cvbench, os.X_OK):
        print(f"FAIL: cvbench binary not found at {cvbench}")
        return 1
    if not os.path.exists(os.path.join(PHOTO_DIR, "dog.jpg")):
        print(f"FAIL: sample photos missing in {PHOTO_DIR} (Debian package darknet; make deps)")
        return 1

    info = json.loads(run([cvbench, "sysinfo", "--json"]).stdout)
    flags = info.get("flags", {})
    skipped = []
    if "bf16" in precs and not (flags.get("avx512_bf16") or flags.get("amx_bf16")):
        skipped.append(("bf16", f"CPU ({info.get('cpu', '?')}) has neither avx512_bf16 nor "
                                f"amx_bf16: bf16 would be emulated"))
        precs.remove("bf16")
    # (label, precision, extra infer args) per tested variant
    variants = [(p, p, []) for p in precs]
    isas = parse_isas(args.isa)
    if isas:
        run_ok, isa_skipped = isa_support(cvbench, isas)
        skipped += [(f"{p}/{isa}", why) for isa, why in isa_skipped for p in precs]
        variants = []
        for isa, eff in run_ok:
            for p in precs:
                if p == "bf16" and not ("bf16" in eff or "amx" in eff):
                    skipped.append((f"bf16/{isa}", f"oneDNN ISA {eff} under --isa {isa} has no "
                                                   f"native bf16"))
                    continue
                variants.append((f"{p}/{isa}", p, ["--isa", isa]))

    tmp = args.keep or tempfile.mkdtemp(prefix="cvb-guard-")
    os.makedirs(tmp, exist_ok=True)
    rows, failures = [], []
    thr = ["--threads", str(args.threads)] if args.threads > 0 else []
    try:
        inputs = make_inputs(args.imgsz)
        for seed in seeds:
            tag = f"{args.arch}-{args.imgsz}-s{seed}" + ("" if args.head == "plain"
                                                        else f"-{args.head}")
            model = os.path.join(tmp, f"{tag}.onnx")
            t0 = time.monotonic()
            run([cvbench, "model", "synth", "--arch", args.arch, "--imgsz", str(args.imgsz),
                 "--seed", str(seed), "-o", model] +
                ([] if args.head == "plain" else [f"--{args.head}"]))
            calib = os.path.join(tmp, f"{tag}.calib")
            if "int8" in precs:
                run([cvbench, "model", "calibrate", "--model", model, "--synthetic",
                     str(args.calib_frames), "-o", calib] + thr)
            print(f"# {tag}: synth + calibrate {time.monotonic() - t0:.1f} s", flush=True)
            for name, x in inputs:
                xpath = os.path.join(tmp, f"{tag}-{name}.npy")
                np.save(xpath, x)
                base = [cvbench, "infer", "--model", model, "--input", xpath,
                        "--input-format", "u8-nhwc"] + thr
                opath = os.path.join(tmp, f"{tag}-{name}-fp32.npy")
                run(base + ["--output", opath])
                hist = score_hist(np.load(opath))
                for label, p, extra in variants:
                    case = f"{tag} {name} {label}"
                    cmd = base + extra + ["--precision", p, "--guard", "--output",
                                          os.path.join(tmp, f"{tag}-{name}-{p}.npy")]
                    if p == "int8":
                        cmd += ["--calib", calib]
                    try:
                        out = run(cmd)
                    except RuntimeError as e:
                        failures.append(f"{case}: {e}")
                        continue
                    m = GUARD_RE.search(out.stderr + out.stdout)
                    if m is None:
                        failures.append(f"{case}: no accuracy guard line in cvbench's output")
                        continue
                    f1, nf, nt, rel = float(m[2]), int(m[3]), int(m[4]), float(m[5])
                    rows.append((seed, name, label, nf, nt, f1, rel, hist))
                    ok = f1 >= args.min_input_f1
                    if not ok:
                        failures.append(f"{case}: F1 {f1:.4f} < {args.min_input_f1} "
                                        f"(fp32 {nf} boxes, {p} {nt})")
                    print(f"{case:32s} fp32 {nf:3d} boxes, {p} {nt:3d}: F1 {f1:.4f}  "
                          f"rel-L2 {rel:.4f}  fp32 scores [.15,.25) {hist[0]:3d} "
                          f"[.25,.5) {hist[1]:3d} >=.5 {hist[2]:3d}  {'ok' if ok else 'FAIL'}",
                          flush=True)
    except RuntimeError as e:
        failures.append(str(e))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print()
    n_pooled = 0
    for p, _, _ in variants:
        for seed in seeds:
            r = [x for x in rows if x[2] == p and x[0] == seed]
            if not r:
                continue
            # F1 = 2 TP / (n_fp32 + n_p) per input (1.0 when both are empty)
            tp = sum(round(x[5] * (x[3] + x[4]) / 2) for x in r)
            n = sum(x[3] + x[4] for x in r)
            pooled = 2 * tp / n if n else 1.0
            rels = [x[6] for x in r]
            ok = pooled >= args.min_f1
            n_pooled += ok
            print(f"{p} seed {seed}: pooled F1 {pooled:.4f} ({tp} matched of "
                  f"{sum(x[3] for x in r)} fp32 and {sum(x[4] for x in r)} {p} boxes over "
                  f"{len(r)} inputs; target >= {args.min_f1}), per input min "
                  f"{min(x[5] for x in r):.4f}; output rel-L2 {min(rels):.4f}..{max(rels):.4f}"
                  f"  {'ok' if ok else 'FAIL'}")
            if not ok:
                failures.append(f"{p} seed {seed}: pooled F1 {pooled:.4f} < {args.min_f1}")
    for p, why in skipped:
        print(f"skipped: {p}: {why}")
    for f in failures:
        print(f"FAIL: {f}")
    n_pass = sum(1 for x in rows if x[5] >= args.min_input_f1) + n_pooled
    print(f"{n_pass} passed, {len(failures)} failed"
          + (f", {len(skipped)} skipped" if skipped else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
