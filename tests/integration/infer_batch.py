# SPDX-License-Identifier: Apache-2.0
"""`cvbench infer --batch` end to end on a tiny synthetic yolov8n (imgsz 64).

Asserts: --batch 2 with an .npy input [2,3,S,S] writes an output [2,...]
whose items equal the same frames run alone (bitwise; float32 NCHW and
uint8 NHWC); the JSON of a timed run carries batch, per_item_ms and
items_per_s; --batch 1,2 prints one JSON line per size with speedup 1 for
the first; an input whose dim 0 is not the batch exits 2 naming --batch;
--batch 0 / 1,x exit 2.
usage: infer_batch.py CVBENCH
"""
import json
import subprocess
import sys
import tempfile

import numpy as np

CVB = sys.argv[1]
S = 64


def run(*args, ok=True):
    p = subprocess.run([CVB, *args], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return p


with tempfile.TemporaryDirectory(prefix="cvb-infer-batch-") as t:
    m = f"{t}/m.onnx"
    run("model", "synth", "--arch", "yolov8n", "--imgsz", str(S), "-o", m)
    rng = np.random.default_rng(3)
    cases = [("f32-nchw", rng.random((2, 3, S, S), dtype=np.float32)),
             ("u8-nhwc", rng.integers(0, 256, (2, S, S, 3), dtype=np.uint8))]
    for fmt, x in cases:
        np.save(f"{t}/x.npy", x)
        run("infer", "--model", m, "--input-format", fmt, "--batch", "2", "--threads", "1",
            "--input", f"{t}/x.npy", "--output", f"{t}/y.npy")
        y = np.load(f"{t}/y.npy")
        assert y.shape[0] == 2, y.shape
        for b in range(2):
            np.save(f"{t}/x1.npy", x[b:b + 1])
            run("infer", "--model", m, "--input-format", fmt, "--threads", "1",
                "--input", f"{t}/x1.npy", "--output", f"{t}/y1.npy")
            y1 = np.load(f"{t}/y1.npy")
            assert np.array_equal(y[b:b + 1], y1), (fmt, b, float(np.abs(y[b:b + 1] - y1).max()))
    p = run("infer", "--model", m, "--batch", "2", "--repeat", "2", "--threads", "1")
    d = json.loads(p.stdout)
    assert d["batch"] == 2 and d["items_per_s"] > 0 and d["per_item_ms"] > 0, d
    p = run("infer", "--model", m, "--batch", "1,2", "--repeat", "2", "--threads", "1")
    lines = [json.loads(s) for s in p.stdout.splitlines()]
    assert [d["batch"] for d in lines] == [1, 2], lines
    assert lines[0]["speedup"] == 1.0 and all(d["items_per_s"] > 0 for d in lines), lines
    np.save(f"{t}/x.npy", cases[0][1])
    p = run("infer", "--model", m, "--input", f"{t}/x.npy", "--output", f"{t}/y.npy", ok=False)
    assert p.returncode == 2 and "--batch 2" in p.stderr, (p.returncode, p.stderr)
    for bad in ("0", "1,x", "2000"):
        p = run("infer", "--model", m, "--batch", bad, "--repeat", "1", ok=False)
        assert p.returncode == 2 and "--batch" in p.stderr, (bad, p.returncode, p.stderr)
print("ok infer --batch")
