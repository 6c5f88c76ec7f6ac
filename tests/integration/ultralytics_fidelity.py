# SPDX-License-Identifier: Apache-2.0
"""Synthesis fidelity: `cvbench model synth` against Ultralytics' own export.

Ultralytics (the version scripts/test-long-venv.sh pins, 8.4.190) builds each
model from its YAML (YOLO("yolov8n.yaml"): no download) and exports it the way
users do: ONNX, opset 17, simplify=True, static shape, batch 1, CPU. The
random init is degenerate for numbers (outputs barely depend on the input),
so every export here first gets the calibrated BatchNorm statistics of
export_u84.py's `--init calib` (one train-mode forward of the letterboxed
photo + 3 seeded random images; class biases -6); the graph is the same.

Architectures: every one `cvbench model synth --help` lists (so a new synth
architecture is checked without editing this file), plus REAL_ONLY (issue
12's detectors), whose real exports are checked even before synth offers
them. Per architecture and image size, each head mode Ultralytics 8.4 exports:

 plain (nms=None, output0 [1, 84, N]):
  1. ops: the op histogram of `cvbench model synth` equals the real one's
     (every architecture is node for node since synth writes 8.4's Detect;
     tests/integration/synth_vs_export.py compares names and wiring too);
  2. params (`cvbench model info --json`) and output shape are equal;
  3. cvbench runs the REAL export with both kernel sets as ONNX Runtime
     (all graph optimisations) does, on a seeded random tensor, the
     letterboxed darknet photo and a grey frame (differential.py's inputs):
     relative L2 error <= tol, where tol = --tol (1e-4) raised to 4 x ONNX
     Runtime's own error on that input (ORT_DISABLE_ALL against
     ORT_ENABLE_ALL), at most 10 x --tol. Calibrated deep nets amplify fp32
     rounding: yolo12n-320 on the photo differs from itself by 1.8e-4
     between the two ORT levels (cvbench: 1.1e-4 ref, 1.5e-4 oneDNN),
     yolov10n-640's end2end rows by 3.5e-4, yolov10n-320's by 5.5e-5
     (cvbench oneDNN 1.0e-4); a max over 300 rows swings more than an L2.
 end2end (nms=False, output0 [1, K, 6], K = min(300, N)) and in-graph NMS
 (nms=True, output0 [1, 300, 6], synth's --end2end and --nms):
  - synth's model: where synth makes the arch's real head (--end2end of an
    arch with a one-to-one head in Ultralytics: yolov10n; yolo26n when synth
    offers it), its op histogram and params equal the real nms=False
    export's; where it puts the real tail on its one-to-many head (--end2end
    on yolov5nu/yolov8n/yolov8s/yolo11n; --nms), the op histogram delta
    synth(mode) - synth(plain) equals real(mode) - real(plain) of the
    reference (E2E_REFERENCE = yolov10n for end2end, the arch itself for
    nms=True); in both cases the tail (every node between the [1, 84, N]
    tensor and output0, with attributes and constant inputs, compared as a
    DAG: names and node order do not matter) equals the real one and the
    output shape is right;
  - the real export (nms=False where the arch has a one-to-one head: yolo26n,
    yolov10n; nms=True for NMS_ARCHS = yolov8n and every arch synth offers
    --nms for) runs in cvbench as in ONNX Runtime, rows matched as
    differential.py's --end2end / --nms do (e2e_error, nms_error: boxes
    relative to the box scale, scores absolute; tol as in 3.).
  A mode neither synth nor the real export has for an arch is n/a.

Prints one row per check (ok, FAIL, known, n/a), the worst error per
architecture, the known and n/a rows again, and `N failed` last. Exit 0 when
nothing failed, 1 on any failure, 77 (skip) with the reason when torch or
ultralytics are missing (scripts/test-long-venv.sh creates the venv; ctest
runs it first).

Usage: ultralytics_fidelity.py --cvbench build/cvbench [--arch A]... [--imgsz S]...
                               [--kernels ref --kernels onednn] [--keep DIR]
                               [--tol 1e-4]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

# Offline and quiet before ultralytics is imported: no update checks, no
# settings sync, no telemetry, no font or weight downloads.
os.environ["YOLO_OFFLINE"] = "True"
os.environ.setdefault("YOLO_VERBOSE", "False")

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-long-venv.sh", flush=True)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from differential import (PHOTO, decode_image, e2e_error, make_inputs, nms_error,  # noqa: E402
                          rel_l2)
from export_u84 import calib_init, patch_onnx_export  # noqa: E402

# Issue 12's detectors: their real exports are checked even while synth does
# not offer them (the structural checks then say n/a).
REAL_ONLY = ["yolov9t", "yolo26n", "yolo12n", "yolov10n"]
E2E_REFERENCE = "yolov10n"  # the real end-to-end tail synthetic --end2end heads copy
NMS_ARCHS = ["yolov8n"]
TOL_FLOOR = 1e-4
NOISE_FACTOR = 4  # tol = NOISE_FACTOR x ORT's own error where that is above --tol, ...
NOISE_CAP_FACTOR = 10  # ... at most NOISE_CAP_FACTOR x --tol
TAIL_MAX_NODES = 200  # a tail is ~20 nodes; more means no [1, 84, N] entry was found


def arch_list(text, pattern):
    """The yolo* names in the parenthesised list that pattern finds."""
    m = re.search(pattern, text)
    return [a for a in re.split(r"[\s,]+", m.group(1)) if re.fullmatch(r"yolo\w+", a)] if m else []


def synth_archs(cvbench):
    """The architectures `cvbench model synth --help` lists: the parenthesised
    list after "architecture A". Falls back to the list in the unknown-
    architecture error. Returns (archs, note or None)."""
    p = subprocess.run([cvbench, "model", "synth", "--help"], capture_output=True, text=True)
    help_list = arch_list(p.stdout, r"architecture A\s*\(([^)]*)\)")
    p = subprocess.run([cvbench, "model", "synth", "--arch", "?", "-o", os.devnull],
                       capture_output=True, text=True)
    err_list = arch_list(p.stderr, r"expected one of ([^)]*)\)")
    note = None
    if help_list and err_list and help_list != err_list:
        note = (f"`model synth --help` lists {help_list}, its unknown-architecture error "
                f"{err_list}; using the help's")
    return help_list or err_list, note


def histogram(model):
    h = {}
    for n in model.graph.node:
        h[n.op_type] = h.get(n.op_type, 0) + 1
    return h


def hist_delta(a, b):
    """b - a, zero entries dropped."""
    return {k: b.get(k, 0) - a.get(k, 0) for k in sorted(set(a) | set(b))
            if b.get(k, 0) != a.get(k, 0)}


def fmt_delta(d):
    return ", ".join(f"{k} {v:+d}" for k, v in d.items()) or "none"


def out_shape(model):
    t = model.graph.output[0].type.tensor_type
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in t.shape.dim]


def compare_hist(arch, real, synth):
    """Returns (status, note): ok, known or FAIL."""
    if real == synth:
        return "ok", "identical"
    return "FAIL", "real - synth: " + fmt_delta(hist_delta(synth, real))


def tail_signature(model, n_anchors):
    """A hash of the subgraph between the [1, 84, n_anchors] tensor and
    output0 (ops, attributes other than spelled-out defaults, output index,
    constant inputs by value), as a DAG: node order and tensor names do not
    matter. Returns (hash, nodes,
    op list) or raises ValueError."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {}
    for n in model.graph.node:
        for k, o in enumerate(n.output):
            producer[o] = (n, k)
    entry = [1, 84, n_anchors]
    memo, seen = {}, []
    opset = {o.domain: o.version for o in model.opset_import}

    def is_default(node, a):
        """An attribute spelled out with its schema default (Ultralytics
        writes Reshape's allowzero=0, synth leaves it out): the same node."""
        try:
            d = onnx.defs.get_schema(node.op_type, opset.get(node.domain, 1),
                                     node.domain).attributes.get(a.name)
        except onnx.defs.SchemaError:
            return False
        return (d is not None and d.default_value.type != 0 and
                onnx.helper.get_attribute_value(d.default_value) ==
                onnx.helper.get_attribute_value(a))

    def const_sig(arr):
        return f"const {arr.dtype} {list(arr.shape)} {hashlib.sha1(arr.tobytes()).hexdigest()}"

    def sig(t):
        if t in memo:
            return memo[t]
        if t == "":
            s = "absent"
        elif shapes.get(t) == entry:
            s = "X"
        elif t in consts:
            s = const_sig(consts[t])
        elif t not in producer:
            raise ValueError(f"tensor '{t}' has no producer and is not [1, 84, {n_anchors}]")
        else:
            n, k = producer[t]
            if n.op_type == "Constant":
                s = const_sig(numpy_helper.to_array(n.attribute[0].t))
            else:
                seen.append(n.op_type)
                if len(seen) > TAIL_MAX_NODES:
                    raise ValueError(f"no [1, 84, {n_anchors}] tensor within {TAIL_MAX_NODES} "
                                     "nodes of output0")
                attrs = sorted((a.name, str(onnx.helper.get_attribute_value(a)))
                               for a in n.attribute if not is_default(n, a))
                s = f"{n.op_type}:{k}:{attrs}:" + ",".join(sig(i) for i in n.input)
            s = hashlib.sha1(s.encode()).hexdigest()
        memo[t] = s
        return s

    h = sig(model.graph.output[0].name)
    return h, len(seen), seen


def cvbench_info(cvbench, path):
    p = subprocess.run([cvbench, "model", "info", "--json", path], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise RuntimeError(f"cvbench model info {path}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def n_anchors(size):
    return sum((size // s) ** 2 for s in (8, 16, 32))


class Exporter:
    """Ultralytics exports with calibrated weights, cached per (arch, imgsz,
    nms) for the run."""

    def __init__(self, torch, workdir, photo):
        self.torch, self.workdir, self.photo = torch, workdir, photo
        self.cache = {}

    def __call__(self, arch, size, nms=None):
        """Returns (path, seconds, has_one2one) or raises."""
        key = (arch, size, nms)
        if key not in self.cache:
            self.cache[key] = self._export(arch, size, nms)
        return self.cache[key]

    def _export(self, arch, size, nms):
        from ultralytics import YOLO
        torch = self.torch
        tag = {None: "", False: "-e2e", True: "-nms"}[nms]
        work = tempfile.mkdtemp(prefix=f"export-{arch}-{size}{tag}-", dir=self.workdir)
        t0 = time.monotonic()
        cwd = os.getcwd()
        os.chdir(work)  # the exporter writes next to the (non-existent) .pt
        try:
            torch.manual_seed(0)
            m = YOLO(f"{arch}.yaml")
            one2one = getattr(m.model.model[-1], "one2one_cv2", None) is not None
            calib_init(torch, m.model, make_inputs(size, self.photo)["photo"])
            path = m.export(format="onnx", opset=17, simplify=True, imgsz=size, dynamic=False,
                            batch=1, device="cpu", nms=nms)
            dst = os.path.join(self.workdir, f"real-{arch}-{size}{tag}.onnx")
            shutil.move(os.path.join(work, path), dst)
        finally:
            os.chdir(cwd)
            shutil.rmtree(work, ignore_errors=True)
        return dst, time.monotonic() - t0, one2one


class Report:
    def __init__(self):
        self.failures, self.known, self.na = [], [], []

    def row(self, arch, size, check, status, detail):
        if status is True or status is False:
            status = "ok" if status else "FAIL"
        print(f"{arch:9} {size:>5}  {check:<20} {status:<6} {detail}", flush=True)
        where = f"{arch}@{size} {check}: {detail}"
        {"FAIL": self.failures, "known": self.known, "n/a": self.na}.get(status, []).append(where)


def export(rep, ex, arch, size, nms, check, what=None):
    """ex(arch, size, nms), or None after a FAIL row saying why."""
    try:
        return ex(arch, size, nms)
    except Exception as e:
        rep.row(arch, size, check, "FAIL", f"Ultralytics {what or arch} nms={nms} export failed: "
                f"{type(e).__name__}: {e}")
        return None


def synth(cvbench, arch, size, path, flag=None):
    """`cvbench model synth` (flag: --end2end, --nms or None). Returns (ok,
    stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([cvbench, "model", "synth", "--arch", arch, "--imgsz", str(size), "-o",
                        path] + ([flag] if flag else []), capture_output=True, text=True)
    return p.returncode == 0, p.stderr.strip(), time.monotonic() - t0


def metric(got, want, kind, tol):
    """(error, problem or None): rel L2 (plain), or differential.py's
    row-matched error (e2e_error, nms_error; rows match within tol)."""
    if kind == "e2e":
        return e2e_error(got, want, tol)
    if kind == "nms":
        return nms_error(got, want, tol)
    return rel_l2(got, want), None


def check_numbers(args, rep, arch, size, kind, real, photo, workdir, worst):
    """cvbench infer of the real export against ONNX Runtime (all graph
    optimisations) on the three inputs, each kernel set; kind: plain, e2e or
    nms (see metric()). The tolerance per input is --tol, raised to
    NOISE_FACTOR x ONNX Runtime's own difference between ORT_DISABLE_ALL and
    ORT_ENABLE_ALL on that input (fp32 rounding that deep calibrated nets
    amplify: yolo12n-320 on the photo 1.8e-4 rel L2, yolov10n-640 end2end
    3.5e-4 row-matched), at most NOISE_CAP_FACTOR x --tol."""
    sess = {}
    for level in ("ORT_ENABLE_ALL", "ORT_DISABLE_ALL"):
        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        sess[level] = ort.InferenceSession(real, so, providers=["CPUExecutionProvider"])
    in_name = sess["ORT_ENABLE_ALL"].get_inputs()[0].name
    what = "rel L2" if kind == "plain" else "row-matched error"
    for iname, x in make_inputs(size, photo).items():
        xp = os.path.join(workdir, f"in-{size}-{iname}.npy")
        np.save(xp, x)
        want = sess["ORT_ENABLE_ALL"].run(None, {in_name: x})[0]
        cap = args.tol * NOISE_CAP_FACTOR
        noise, why = metric(sess["ORT_DISABLE_ALL"].run(None, {in_name: x})[0], want, kind, cap)
        if why is not None:
            noise = float("inf")
        tol = min(cap, max(args.tol, NOISE_FACTOR * noise))
        for k in args.kernels:
            yp = os.path.join(workdir, f"out-{arch}-{size}-{kind}-{iname}-{k}.npy")
            t0 = time.monotonic()
            p = subprocess.run([args.cvbench, "infer", "--model", real, "--input", xp, "--output",
                                yp, "--kernels", k], capture_output=True, text=True)
            dt = time.monotonic() - t0
            label = f"{kind}/{iname}/{k}"
            if p.returncode != 0:
                rep.row(arch, size, label, "FAIL",
                        f"cvbench infer exit {p.returncode}: {p.stderr.strip()}")
                continue
            got = np.load(yp)
            if got.shape != want.shape:
                rep.row(arch, size, label, "FAIL", f"shape {got.shape} vs ORT {want.shape}")
                continue
            err, why = metric(got, want, kind, tol)
            key = (arch, what)
            if err >= worst.get(key, (0.0, ""))[0]:
                worst[key] = (err, f"{size} {kind} {iname} {k}")
            ok = why is None and err <= tol
            rep.row(arch, size, label, ok, (why + "; " if why else "") +
                    f"{what} {err:.2e} vs ORT (tol {tol:.1e}; ORT's own {noise:.1e}; {dt:.1f} s)")
        os.unlink(xp)


def check_plain(args, rep, ex, arch, size, offered, photo, workdir, worst):
    got = export(rep, ex, arch, size, None, "export")
    if got is None:
        return None
    real, t_exp, one2one = got
    mr = onnx.load(real)
    if arch in offered:
        path = os.path.join(workdir, f"synth-{arch}-{size}.onnx")
        ok, msg, t_syn = synth(args.cvbench, arch, size, path)
        if not ok:
            rep.row(arch, size, "synth", "FAIL", msg)
        else:
            ms = onnx.load(path)
            status, note = compare_hist(arch, histogram(mr), histogram(ms))
            rep.row(arch, size, "ops", status, f"{len(mr.graph.node)} vs {len(ms.graph.node)} "
                    f"nodes, {note}; export {t_exp:.1f} s, synth {t_syn:.1f} s")
            compare_params(args, rep, arch, size, "params", real, path)
            sr, ss = out_shape(mr), out_shape(ms)
            rep.row(arch, size, "shape", sr == ss == [1, 84, n_anchors(size)],
                    f"output0 {sr} vs {ss}")
    else:
        rep.row(arch, size, "synth", "n/a", f"`cvbench model synth` does not offer {arch}: "
                f"structure not compared (export {t_exp:.1f} s)")
    check_numbers(args, rep, arch, size, "plain", real, photo, workdir, worst)
    return one2one


def compare_params(args, rep, arch, size, check, real, synth_path):
    ir, isy = cvbench_info(args.cvbench, real), cvbench_info(args.cvbench, synth_path)
    rep.row(arch, size, check, ir["parameters"] == isy["parameters"],
            f"{ir['parameters']:,} vs {isy['parameters']:,} (cvbench model info); GFLOPs "
            f"{ir['gflops']:.2f} vs {isy['gflops']:.2f}")


# head mode -> (synth flag, Ultralytics' nms export argument)
MODES = {"e2e": ("--end2end", False), "nms": ("--nms", True)}


def head_rows(mode, size):
    return min(300, n_anchors(size)) if mode == "e2e" else 300


def check_head(args, rep, ex, arch, size, offered, one2one, photo, workdir, worst, mode):
    """One head mode (e2e: nms=False, nms: nms=True) of arch, see the module
    doc: synth's model against the real export (all of it where synth makes
    this arch's real head, else the histogram delta and the tail), and the
    real export's numbers."""
    flag, nms = MODES[mode]
    rows = head_rows(mode, size)
    spath, note = None, f"synth does not offer {arch}"
    if arch in offered:
        spath = os.path.join(workdir, f"synth-{arch}-{size}-{mode}.onnx")
        ok, msg, _ = synth(args.cvbench, arch, size, spath, flag)
        if not ok:
            if "not offered" not in msg:
                rep.row(arch, size, f"{mode} synth", "FAIL", msg)
            spath, note = None, f"synth refuses {flag} for {arch}"
    if mode == "e2e":  # a real one-to-one head, or synth's tail on a one-to-many head
        real_wanted, exact, ref_arch = one2one, one2one, (arch if one2one else E2E_REFERENCE)
    else:  # Ultralytics wraps any plain Detect head in NMS
        real_wanted, exact, ref_arch = arch in NMS_ARCHS or spath is not None, False, arch
    if spath is None and not real_wanted:
        rep.row(arch, size, mode, "n/a", f"{note}, and Ultralytics' nms={nms} export of {arch} is "
                "not checked" + (" (it has no one-to-one head: nms=False exports the plain head)"
                                 if mode == "e2e" else f" (only for {', '.join(NMS_ARCHS)})"))
        return
    if spath is None:
        rep.row(arch, size, f"{mode} structure", "n/a",
                note + ": only the real export's numbers are checked")
    else:
        ms = onnx.load(spath)
        rep.row(arch, size, f"{mode} shape", out_shape(ms) == [1, rows, 6],
                f"synth {flag} output0 {out_shape(ms)}")
        refs = [export(rep, ex, ref_arch, size, n, f"{mode} reference", ref_arch)
                for n in (None, nms)]
        if None not in refs:
            mref = onnx.load(refs[1][0])
            if exact:
                hr, hs = histogram(mref), histogram(ms)
                rep.row(arch, size, f"{mode} ops", hr == hs, f"{len(mref.graph.node)} vs "
                        f"{len(ms.graph.node)} nodes, real - synth: {fmt_delta(hist_delta(hs, hr))}")
                compare_params(args, rep, arch, size, f"{mode} params", refs[1][0], spath)
            else:
                splain = os.path.join(workdir, f"synth-{arch}-{size}.onnx")
                if not os.path.exists(splain):  # check_plain said why
                    rep.row(arch, size, f"{mode} delta", "FAIL", "no plain synth model")
                    return
                dr = hist_delta(histogram(onnx.load(refs[0][0])), histogram(mref))
                ds = hist_delta(histogram(onnx.load(splain)), histogram(ms))
                rep.row(arch, size, f"{mode} delta", dr == ds,
                        f"synth {flag} - plain: {fmt_delta(ds)}" + (
                            "" if dr == ds else
                            f"; real {ref_arch} nms={nms} - nms=None: {fmt_delta(dr)}"))
            compare_tail(rep, arch, size, mode, mref, ms, f"{ref_arch} nms={nms}")
    if real_wanted:
        got = export(rep, ex, arch, size, nms, f"{mode} export")
        if got is None:
            return
        real, t_exp, _ = got
        shape = out_shape(onnx.load(real))
        rep.row(arch, size, f"{mode} real shape", shape == [1, rows, 6],
                f"real nms={nms} output0 {shape} (want [1, {rows}, 6]; export {t_exp:.1f} s)")
        check_numbers(args, rep, arch, size, mode, real, photo, workdir, worst)


def compare_tail(rep, arch, size, mode, real, synth_model, real_what):
    try:
        hr, nr, ops = tail_signature(real, n_anchors(size))
        hs, ns, _ = tail_signature(synth_model, n_anchors(size))
    except ValueError as e:
        rep.row(arch, size, f"{mode} tail", "FAIL", str(e))
        return
    ops = fmt_delta(hist_delta({}, {o: ops.count(o) for o in ops})).replace("+", "")
    rep.row(arch, size, f"{mode} tail", hr == hs,
            f"{ns} vs {nr} nodes after [1, 84, N], the same DAG as {real_what}'s ({ops})"
            if hr == hs else f"synth's tail ({ns} nodes) differs from {real_what}'s "
            f"({nr} nodes: {ops})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--arch", action="append",
                    help="only this architecture (repeatable; default: every synth one + "
                         + ", ".join(REAL_ONLY) + ")")
    ap.add_argument("--imgsz", action="append", type=int)
    ap.add_argument("--kernels", action="append", choices=["ref", "onednn"])
    ap.add_argument("--tol", type=float, default=TOL_FLOOR,
                    help="rel L2 of plain heads, row-matched error of end2end and NMS outputs "
                         "(boxes relative to the box scale, scores absolute); raised to "
                         f"{NOISE_FACTOR}x ONNX Runtime's own error, at most {NOISE_CAP_FACTOR}x")
    ap.add_argument("--keep", help="keep the models and tensors in this directory")
    args = ap.parse_args()
    sizes = args.imgsz or [640, 320]
    args.kernels = args.kernels or ["ref", "onednn"]
    t_start = time.monotonic()

    offered, note = synth_archs(args.cvbench)
    if not offered:
        print(f"FAIL: cannot read the architecture list from `{args.cvbench} model synth --help`",
              flush=True)
        return 1
    archs = offered + [a for a in REAL_ONLY if a not in offered]
    if args.arch:
        unknown = [a for a in args.arch if a not in archs]
        if unknown:
            print(f"ultralytics_fidelity: unknown --arch {unknown}; known: {archs}", flush=True)
            return 2
        archs = args.arch

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
    # torch >= 2.9 defaults torch.onnx.export to the dynamo exporter (needs
    # onnxscript); Ultralytics 8.4.190 passes dynamo=False itself from torch
    # 2.4 on, the wrapper covers other versions (a no-op on torch 1.13), and
    # torch >= 2.9 then warns on every classic (TorchScript) export.
    patch_onnx_export(torch, {})
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
    print(f"ultralytics {ultralytics.__version__}, torch {torch.__version__}, onnx "
          f"{onnx.__version__}, onnxruntime {ort.__version__}", flush=True)
    print(f"synth offers: {', '.join(offered)}; checking: {', '.join(archs)} at "
          f"{', '.join(map(str, sizes))}", flush=True)
    if note:
        print("note: " + note, flush=True)

    workdir = args.keep or tempfile.mkdtemp(prefix="cvb-fidelity-")
    os.makedirs(workdir, exist_ok=True)
    photo = decode_image(PHOTO)
    rep = Report()
    worst = {}
    ex = Exporter(torch, workdir, photo)
    print(f"{'arch':9} {'imgsz':>5}  {'check':<20} {'result':<6} detail", flush=True)
    try:
        for arch in archs:
            for size in sizes:
                one2one = check_plain(args, rep, ex, arch, size, offered, photo, workdir, worst)
                if one2one is None:
                    continue
                for mode in MODES:
                    check_head(args, rep, ex, arch, size, offered, one2one, photo, workdir,
                               worst, mode)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    for (arch, what), (err, where) in worst.items():
        print(f"worst {what} {arch}: {err:.2e} ({where}) on Ultralytics' real export", flush=True)
    for what, rows in (("known", rep.known), ("n/a", rep.na)):
        for r in rows:
            print(f"{what}: {r}", flush=True)
    print(f"{len(rep.failures)} failed, {len(rep.known)} known, {len(rep.na)} n/a; "
          f"{time.monotonic() - t_start:.0f} s", flush=True)
    for f in rep.failures:
        print("FAIL", f)
    return 1 if rep.failures else 0


if __name__ == "__main__":
    sys.exit(main())
