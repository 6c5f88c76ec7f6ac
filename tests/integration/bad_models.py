# SPDX-License-Identifier: Apache-2.0
"""Bad-model corpus: every broken model gets one clear error, never a crash.

Builds each broken model in a temp dir (tests/data/gen_models.py, with the
`onnx` package from the test venv), then runs
    cvbench model info FILE
    cvbench infer --model FILE --input x.npy --output y.npy
and requires for each: exit code 2, exactly one line on stderr, of the form
`cvbench: error: ...`, naming the file and containing every keyword of the
case (case-insensitive regexes in CASES below). A valid control model must
load and run, so the broken variants fail for the reason we broke them.

Each `model info` also runs under `prlimit --as=300000000` (300 MB of
address space; the control model loads within it): a loader that allocates
a declared size before checking it against the bytes present fails there
with "out of memory" (exit 1) instead of the expected error. Skipped, with
the reason printed, when prlimit is missing.

  bad_models.py --cvbench build/cvbench            run the test
  bad_models.py --write-corpus DIR [--cvbench B]   only write the files (fuzzer seeds)
Prints a table and `N passed, N failed` last; exit 1 on any failure.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))
try:
    import numpy as np
    import gen_models as g
except ImportError as e:  # pragma: no cover
    print(f"SKIP: test tools missing ({e}); run scripts/test-venv.sh", flush=True)
    sys.exit(77)

# name -> (how the file is made, keywords the one-line error must contain).
# "synth" cases need `cvbench model synth`; the file name is always required
# in the message as well.
CASES = {
    "missing":          ("no file at all",
                         [r"no such file|not found|does not exist|cannot open|can't open"]),
    "empty":            ("0-byte file", [r"empty"]),
    "truncated-synth":  ("first half of a synthesized yolov8n (imgsz 64)",
                         [r"truncated|not a valid onnx"]),
    "truncated-small":  ("first half of a small valid model",
                         [r"truncated|not a valid onnx"]),
    "bitflip":          ("8 seeded bit flips that ONNX Runtime also rejects", []),
    "magic-png":        ("a PNG image named .onnx", [r"not a valid onnx|not an onnx"]),
    "magic-text":       ("a text file named .onnx", [r"not a valid onnx|not an onnx"]),
    "conv-channels":    ("Conv weight for 5 input channels on a 3-channel input",
                         [r"channel", r"conv_bad"]),
    "huge-input":       ("input declared [10^6, 10^6] (10^12 elements)",
                         [r"elements|size|too large|absurd|bytes"]),
    "huge-initializer": ("initializer declaring 10^12 elements with 16 bytes of data",
                         [r"elements|size|too large|absurd|bytes"]),
    "underfilled-initializer": ("initializer declaring 576,000,000 floats (2.3 GB) with 16 "
                                "bytes of raw_data (fuzzer find)",
                                [r"W_short", r"576000000 elements", r"16 bytes"]),
    "fold-bomb":        ("ConstantOfShape folding to 1 GB from a tiny file",
                         [r"fold_bomb", r"constant folding"]),
    "attr-long-string": ("a 100 KB string attribute", [r"resize_longattr", r"mode", r"string"]),
    "split-overflow":   ("Split sizes summing past INT64_MAX (fuzzer find)",
                         [r"split_huge", r"exceed axis 1"]),
    "cycle":            ("two nodes feeding each other", [r"cycle"]),
    "resize-scale":     ("Resize scales making a side 1.2e21 long", [r"resize_huge", r"scales"]),
    "op-roialign":      ("RoiAlign (not implemented)", [r"unsupported op", r"RoiAlign"]),
    "op-made-up":       ("an op that does not exist",
                         [r"unsupported op", r"FrobnicateTensor"]),
    "opset-7":          ("opset 7 (older than 11)", [r"opset", r"\b7\b"]),
    "opset-99":         ("opset 99 (newer than any ONNX)", [r"opset", r"\b99\b"]),
    "dynamic-dims":     ("input [1,3,height,width], no --imgsz", [r"dynamic", r"imgsz"]),
}


def build_corpus(outdir, cvbench=None):
    """Write every case's file into outdir; returns {case: path}. The synth
    case is written only when a working cvbench is given."""
    os.makedirs(outdir, exist_ok=True)
    files = {}

    def put(name, data):
        path = os.path.join(outdir, name + ".onnx")
        with open(path, "wb") as f:
            f.write(data)
        files[name] = path

    small = g.tiny_conv().SerializeToString()
    files["missing"] = os.path.join(outdir, "missing.onnx")
    put("empty", b"")
    if cvbench:
        full = os.path.join(outdir, "synth-yolov8n-64.full")
        p = subprocess.run([cvbench, "model", "synth", "--arch", "yolov8n", "--imgsz", "64",
                            "--seed", "1", "-o", full], capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"cvbench model synth failed: {p.stderr.strip()}")
        with open(full, "rb") as f:
            put("truncated-synth", g.truncate(f.read()))
        os.unlink(full)
    put("truncated-small", g.truncate(small))
    flipped, _ = g.bit_flip(small, g.ort_rejects)
    put("bitflip", flipped)
    put("magic-png", g.PNG_BYTES)
    put("magic-text", g.TEXT_BYTES)
    put("conv-channels", g.bad_conv_channels())
    put("huge-input", g.bad_huge_input())
    put("huge-initializer", g.bad_huge_initializer())
    put("underfilled-initializer", g.bad_underfilled_initializer())
    put("fold-bomb", g.bad_fold_bomb())
    put("attr-long-string", g.bad_attr_string())
    put("split-overflow", g.bad_split_overflow())
    put("cycle", g.bad_cycle())
    put("resize-scale", g.bad_resize_scale())
    put("op-roialign", g.bad_op("RoiAlign"))
    put("op-made-up", g.bad_op("FrobnicateTensor"))
    put("opset-7", g.bad_opset(7))
    put("opset-99", g.bad_opset(99))
    put("dynamic-dims", g.bad_dynamic_dims())
    return files


# Address-space limit for the `model info` runs under prlimit (bytes).
AS_LIMIT = 300000000


def limited(cmd):
    """cmd under prlimit's address-space limit, or None without prlimit."""
    prlimit = shutil.which("prlimit")
    return [prlimit, f"--as={AS_LIMIT}"] + cmd if prlimit else None


def check(cmd, path, keywords):
    """Run one command on a broken model; returns a list of problems."""
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = p.stderr.splitlines()
    problems = []
    if p.returncode < 0:
        problems.append(f"killed by signal {-p.returncode}")
    elif p.returncode != 2:
        problems.append(f"exit {p.returncode}, want 2")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr, want 1")
    first = lines[0] if lines else ""
    if not first.startswith("cvbench: error: "):
        problems.append("stderr does not start with 'cvbench: error: '")
    if os.path.basename(path) not in first:
        problems.append(f"message does not name the file {os.path.basename(path)}")
    for kw in keywords:
        if not re.search(kw, first, re.IGNORECASE):
            problems.append(f"message lacks /{kw}/")
    return problems, first, p.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cvbench")
    ap.add_argument("--write-corpus", metavar="DIR")
    args = ap.parse_args()
    cvbench = os.path.abspath(args.cvbench) if args.cvbench else None

    if args.write_corpus:
        files = build_corpus(args.write_corpus, cvbench)
        print(f"wrote {len([f for f in files.values() if os.path.exists(f)])} files "
              f"to {args.write_corpus}")
        return 0
    if not cvbench or not os.access(cvbench, os.X_OK):
        print(f"FAIL: cvbench binary not found at {cvbench}")
        return 1

    tmp = tempfile.mkdtemp(prefix="cvb-bad-")
    n_pass = n_fail = 0
    try:
        x = os.path.join(tmp, "x.npy")
        np.save(x, np.full((1, 3, 8, 8), 0.5, np.float32))
        y = os.path.join(tmp, "y.npy")

        # Control: the valid model the broken ones are made from loads and runs.
        ctrl = os.path.join(tmp, "control.onnx")
        with open(ctrl, "wb") as f:
            f.write(g.tiny_conv().SerializeToString())
        if limited([]) is None:
            print(f"SKIP: the {AS_LIMIT}-byte address-space checks: prlimit not found "
                  "(util-linux)")
        for cmd in ([cvbench, "model", "info", ctrl],
                    [cvbench, "infer", "--model", ctrl, "--input", x, "--output", y],
                    limited([cvbench, "model", "info", ctrl])):
            if cmd is None:
                continue
            verb = "info/AS" if cmd[0] != cvbench else cmd[1]
            p = subprocess.run(cmd, capture_output=True, text=True)
            ok = p.returncode == 0
            print(f"{'control':24s} {verb:7s} exit {p.returncode}  "
                  f"{'ok' if ok else 'FAIL: ' + (p.stderr.strip() or '(no stderr)')}")
            n_pass += ok
            n_fail += not ok

        files = build_corpus(os.path.join(tmp, "corpus"), cvbench)
        for name, (what, keywords) in CASES.items():
            path = files[name]
            for cmd in ([cvbench, "model", "info", path],
                        [cvbench, "infer", "--model", path, "--input", x, "--output", y],
                        limited([cvbench, "model", "info", path])):
                if cmd is None:
                    continue
                problems, line, stderr = check(cmd, path, keywords)
                verb = "info/AS" if cmd[0] != cvbench else cmd[1]
                if problems:
                    n_fail += 1
                    print(f"{name:24s} {verb:7s} FAIL: {'; '.join(problems)}")
                    print(f"{'':24s}         ({what}) stderr was:")
                    for ln in (stderr.splitlines() or ["(empty)"])[:20]:
                        print(f"{'':24s}         | {ln}")
                else:
                    n_pass += 1
                    print(f"{name:24s} {verb:7s} ok    {line}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n_pass} passed, {n_fail} failed")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
