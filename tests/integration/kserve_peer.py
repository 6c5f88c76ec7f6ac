#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Interoperability of cvbench's KServe v2 client with a KServe v2 server
nobody here wrote: KServe's own Python ModelServer (PyPI kserve, pinned in
scripts/test-venv.sh) serving a synthetic YOLOv8n (320, seed 1: its
planted detector finds a few boxes per frame of a synthetic clip) through
onnxruntime (tests/integration/kserve_peer_server.py), started on a free
loopback port in a temp dir and stopped by PID.

Part A, the peer server itself, with the official Triton client
(tritonclient.http): live / ready / model ready, server metadata, model
metadata (FP32 [1,3,320,320] in, the ONNX graph's outputs), infer with
binary input and binary output (and binary in / JSON out, JSON in / binary
out) equal to onnxruntime run directly on the same tensor, and raw
requests shaped like cvbench's (binary input, JSON header space-padded to
64 bytes, "binary_data_output": true; and with per-output "binary_data":
true) answered with Inference-Header-Content-Length and the output bytes
after the JSON header.

Part B, cvbench's client against it: `cvbench run --backend kserve
--kserve-url ... --kserve-model ... --streams 1,2 --frames 30 --warmup 5
--accuracy-sample 16 --json OUT`; for each level: status ok, the accuracy
check ran (frames > 0) and every box matched the in-process fp32 reference
(matched == ref_boxes == test_boxes > 0), mean IoU > 0.999.

Then: the server exits 0 on SIGTERM. Prints which part failed. Skips (77)
when tritonclient, onnxruntime or kserve is not installed."""
import argparse
import http.client
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MISSING = [m for m in ("numpy", "onnxruntime", "tritonclient.http", "kserve")
           if importlib.util.find_spec(m.split(".")[0]) is None or
           (m == "tritonclient.http" and importlib.util.find_spec(m) is None)]
if MISSING:
    print("skip: %s not importable (run scripts/test-venv.sh)" % ", ".join(MISSING))
    sys.exit(77)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import tritonclient.http as httpclient  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
S = 320
NAME = "yolo"
READY_TIMEOUT_S = 60
RESULTS = {}  # part -> list of failed checks


def check(part, ok, what):
    print("  %s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        RESULTS.setdefault(part, []).append(what)
    return ok


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeerServer:
    """kserve_peer_server.py on a free loopback port; log in the temp dir."""

    def __init__(self, model, tmp):
        self.port = free_port()
        self.log_path = os.path.join(tmp, "kserve-server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "kserve_peer_server.py"), "--model", model,
             "--name", NAME, "--port", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp)
        self.url = "http://127.0.0.1:%d" % self.port

    def wait_ready(self):
        t0 = time.monotonic()
        while time.monotonic() - t0 < READY_TIMEOUT_S:
            if self.proc.poll() is not None:
                return "exited with status %d before it was ready" % self.proc.returncode
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return None
            except OSError:
                pass
            time.sleep(0.1)
        return "not ready after %d s" % READY_TIMEOUT_S

    def tail(self, n=30):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode("utf-8", "replace")

    def stop(self):
        """SIGTERM, then SIGKILL after 20 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def rel_l2(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def part_a(srv, model):
    P = "A (tritonclient vs KServe ModelServer)"
    print("-- part %s" % P)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    in_name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]
    rng = np.random.default_rng(3)
    x = rng.random((1, 3, S, S), dtype=np.float32)
    refs = dict(zip(out_names, sess.run(None, {in_name: x})))

    cl = httpclient.InferenceServerClient(url="127.0.0.1:%d" % srv.port)
    try:
        check(P, cl.is_server_live(), "is_server_live")
        check(P, cl.is_server_ready(), "is_server_ready")
        check(P, cl.is_model_ready(NAME), "is_model_ready(%r)" % NAME)
        sm = cl.get_server_metadata()
        check(P, sm.get("name") == "kserve", "get_server_metadata: %s %s" % (
            sm.get("name"), sm.get("version")))
        mm = cl.get_model_metadata(NAME)
        ins, outs = mm.get("inputs", []), mm.get("outputs", [])
        check(P, len(ins) == 1 and ins[0]["name"] == in_name and ins[0]["datatype"] == "FP32" and
              ins[0]["shape"] == [1, 3, S, S],
              "get_model_metadata input: %s" % ins)
        check(P, [o["name"] for o in outs] == out_names and
              all(o["datatype"] == "FP32" for o in outs),
              "get_model_metadata outputs: %s" % outs)

        # (binary in, binary out) is what cvbench sends; the others show the
        # same server answers JSON too. KServe takes a JSON body only with
        # Content-Type: application/json (tritonclient sends none).
        for bin_in, bin_out in ((True, True), (True, False), (False, True)):
            inp = httpclient.InferInput(in_name, [1, 3, S, S], "FP32")
            inp.set_data_from_numpy(x, binary_data=bin_in)
            req_outs = [httpclient.InferRequestedOutput(n, binary_data=bin_out) for n in out_names]
            hdr = None if bin_in else {"Content-Type": "application/json"}
            what = "infer (binary in %s, binary out %s)" % (bin_in, bin_out)
            try:
                r = cl.infer(NAME, [inp], outputs=req_outs, headers=hdr)
            except Exception as e:  # noqa: BLE001  (the message is the finding)
                check(P, False, "%s: %s" % (what, e))
                continue
            for n in out_names:
                y = r.as_numpy(n)
                o = r.get_output(n) or {}
                is_bin = "binary_data_size" in (o.get("parameters") or {})
                e = rel_l2(y, refs[n]) if y is not None and y.shape == refs[n].shape else None
                check(P, e is not None and e <= 1e-6 and is_bin == bin_out,
                      "%s: %s %s, %s, rel L2 vs onnxruntime %s" % (
                          what, n, None if y is None else list(y.shape),
                          "binary" if is_bin else "JSON",
                          "n/a" if e is None else "%.1e" % e))
    finally:
        cl.close()

    # requests shaped like cvbench's own (src/kserve/client.c): the JSON
    # header padded with spaces to a multiple of 64 bytes, no "outputs" list,
    # "binary_data_output": true; then with each output listed and its
    # "binary_data": true (KServe answers JSON for a listed output without
    # it, whatever binary_data_output says)
    inputs = [{"name": in_name, "shape": [1, 3, S, S], "datatype": "FP32",
               "parameters": {"binary_data_size": x.nbytes}}]
    raw_binary(P, srv, "raw request as cvbench's (padded header, binary_data_output)",
               {"parameters": {"binary_data_output": True}, "inputs": inputs}, 64, x, refs)
    raw_binary(P, srv, "raw request, per-output binary_data",
               {"id": "cvb-1", "inputs": inputs,
                "outputs": [{"name": n, "parameters": {"binary_data": True}} for n in out_names]},
               1, x, refs)


def raw_binary(P, srv, what, head, align, x, refs):
    """POST head (JSON, padded with spaces to a multiple of 'align') + x's
    bytes; the reply must be binary: Inference-Header-Content-Length, then
    each output's bytes equal to onnxruntime's."""
    hj = json.dumps(head, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % align)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.request("POST", "/v2/models/%s/infer" % NAME, hj + x.tobytes(),
                  {"Content-Type": "application/octet-stream",
                   "Inference-Header-Content-Length": str(len(hj))})
        r = c.getresponse()
        data = r.read()
        hl = r.getheader("Inference-Header-Content-Length")
    finally:
        c.close()
    ok = r.status == 200 and hl is not None and hl.isdigit() and int(hl) <= len(data)
    if not check(P, ok, "%s: HTTP %d, Inference-Header-Content-Length %s, %d bytes%s" % (
            what, r.status, hl, len(data), "" if ok else ": " + repr(data[:200]))):
        return
    off = int(hl)
    outs = json.loads(data[:off]).get("outputs", [])
    check(P, sorted(o["name"] for o in outs) == sorted(refs), "%s: outputs %s" % (
        what, [o["name"] for o in outs]))
    for o in outs:
        n = (o.get("parameters") or {}).get("binary_data_size")
        ref = refs.get(o["name"])
        y = None
        if n is not None and ref is not None and n == ref.nbytes and off + n <= len(data):
            y = np.frombuffer(data[off:off + n], np.float32).reshape(o["shape"])
            off += n
        e = rel_l2(y, ref) if y is not None else None
        check(P, e is not None and e <= 1e-6 and o.get("datatype") == "FP32",
              "%s: %s %s binary_data_size %s, rel L2 vs onnxruntime %s" % (
                  what, o["name"], o.get("shape"), n, "n/a" if e is None else "%.1e" % e))
    check(P, off == len(data), "%s: %d bytes after the header, %d expected" % (
        what, len(data) - int(hl), off - int(hl)))


def part_b(cvb, srv, model, clip, tmp):
    P = "B (cvbench --backend kserve vs KServe ModelServer)"
    print("-- part %s" % P)
    out = os.path.join(tmp, "kserve.json")
    cmd = [cvb, "run", "--backend", "kserve", "--kserve-url", srv.url, "--kserve-model", NAME,
           "--model", model, "--video", clip, "--streams", "1,2", "--frames", "30",
           "--warmup", "5", "--max-duration", "0", "--accuracy-sample", "16",
           "--json", out, "--db", os.path.join(tmp, "cvbench.db")]
    print("  $ " + " ".join(cmd))
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=240)
    text = p.stdout.decode("utf-8", "replace")
    print("  (%.1f s, exit %d)" % (time.monotonic() - t0, p.returncode))
    if not check(P, p.returncode == 0 and os.path.isfile(out),
                 "cvbench run exits 0 and writes --json"):
        print("  cvbench said:\n    " + "\n    ".join(text.strip().splitlines()[-15:]))
        return
    levels = json.load(open(out)).get("levels", [])
    check(P, [lv.get("streams") for lv in levels] == [1, 2],
          "levels 1,2 (got %s)" % [lv.get("streams") for lv in levels])
    for lv in levels:
        acc = lv.get("accuracy")
        if not isinstance(acc, dict):  # flat accuracy_* fields
            acc = {k[len("accuracy_"):]: v for k, v in lv.items() if k.startswith("accuracy_")}
        n, m = acc.get("frames") or 0, acc.get("matched")
        ref, test, iou = acc.get("ref_boxes"), acc.get("test_boxes"), acc.get("mean_iou")
        tag = "level %s streams:" % lv.get("streams")
        check(P, lv.get("status") == "ok", "%s status %s %s" % (
            tag, lv.get("status"), lv.get("error") or ""))
        check(P, n > 0, "%s accuracy checked on %d frames" % (tag, n))
        check(P, isinstance(ref, int) and ref > 0 and m == ref == test,
              "%s matched %s == fp32 reference boxes %s == kserve boxes %s > 0" % (
                  tag, m, ref, test))
        check(P, iou is not None and iou > 0.999, "%s mean IoU %s > 0.999" % (tag, iou))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    cvb = os.path.abspath(a.cvbench)
    tmp = tempfile.mkdtemp(prefix="cvb-kserve-peer-")
    model = os.path.join(tmp, "y8n%d.onnx" % S)
    clip = os.path.join(tmp, "clip.mp4")
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(S), "--seed", "1",
                    "-o", model], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cvb, "video", "synth", "-o", clip, "--size", "320x240", "--fps", "30",
                    "--seconds", "2"], check=True, stdout=subprocess.DEVNULL)
    srv = PeerServer(model, tmp)
    try:
        t0 = time.monotonic()
        why = srv.wait_ready()
        if why is not None:
            check("server", False, "kserve_peer_server.py %s; its log:\n%s" % (why, srv.tail()))
        else:
            print("-- KServe ModelServer ready on %s in %.1f s" % (srv.url, time.monotonic() - t0))
            part_a(srv, model)
            part_b(cvb, srv, model, clip, tmp)
    finally:
        rc = srv.stop()
        print("-- server stop")
        check("server", rc == 0, "kserve_peer_server.py exits 0 on SIGTERM (got %s)" % rc)
        if RESULTS:
            print("-- server log (last lines):\n" + srv.tail())
        if a.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("== summary")
    for part in ("A (tritonclient vs KServe ModelServer)",
                 "B (cvbench --backend kserve vs KServe ModelServer)", "server"):
        fails = RESULTS.get(part, [])
        print("  part %s: %s" % (part, "ok" if not fails else "FAILED (%d checks)" % len(fails)))
    return 1 if RESULTS else 0


if __name__ == "__main__":
    sys.exit(main())
