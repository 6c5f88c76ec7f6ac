#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`cvbench serve-model` end to end over HTTP, stdlib only (urllib + struct).

Starts serve-model on a free loopback port with a tiny synthetic yolov8n
(imgsz 64, two instances) and checks: health, readiness, server and model
metadata, Triton model config (max_batch_size 0, dims with the batch dim),
inference with JSON uint8 data and with binary tensors (the request body
built by hand: JSON header + raw bytes, Inference-Header-Content-Length;
binary outputs asked per output and via binary_data_output), results equal
to `cvbench infer` on the same input within 1e-5 relative L2, concurrent
requests, every bad request answered 400/404/413 with exactly
{"error": "<message>"}, statistics counts equal to the requests made,
/metrics, a client that closes mid-body or before reading its reply not
hurting the next request, --max-batch out of range refused, a clean exit
on SIGTERM, and overload (result timeout and a full slot pool:
503 with a KServe error)."""
import argparse
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

S = 64
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, method, path, body=None, headers=None, timeout=60):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def write_npy_u8(path, shape, data):
    hdr = "{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }" % (
        ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
    pad = 64 - (10 + len(hdr) + 1) % 64
    hdr = hdr + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + data)


def read_npy_f32(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:6] == b"\x93NUMPY", path
    major = raw[6]
    if major == 1:
        hl = struct.unpack("<H", raw[8:10])[0]
        off = 10
    else:
        hl = struct.unpack("<I", raw[8:12])[0]
        off = 12
    hdr = raw[off:off + hl].decode()
    assert "'<f4'" in hdr and "False" in hdr, hdr
    shape = tuple(int(x) for x in hdr.split("(")[1].split(")")[0].split(",") if x.strip())
    n = 1
    for d in shape:
        n *= d
    return shape, list(struct.unpack("<%df" % n, raw[off + hl:off + hl + 4 * n]))


def rel_l2(a, b):
    if len(a) != len(b):
        return float("inf")
    num = math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    den = math.sqrt(sum(y * y for y in b)) or 1.0
    return num / den


def is_kserve_error(body):
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return isinstance(j, dict) and list(j) == ["error"] and isinstance(j["error"], str) and j["error"]


def binary_request(frame, outputs_binary=True, header_extra=None):
    hdr = {"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, S, S, 3],
                       "parameters": {"binary_data_size": len(frame)}}]}
    if outputs_binary:
        hdr["outputs"] = [{"name": "output0", "parameters": {"binary_data": True}}]
    if header_extra:
        hdr.update(header_extra)
    h = json.dumps(hdr).encode()
    return h + frame, {"Inference-Header-Content-Length": str(len(h)),
                       "Content-Type": "application/octet-stream"}


def parse_response(headers, body):
    hl = None
    for k, v in headers.items():
        if k.lower() == "inference-header-content-length":
            hl = int(v)
    j = json.loads(body[:hl] if hl is not None else body)
    out = j["outputs"][0]
    if "data" in out:
        return j, out, out["data"]
    n = out["parameters"]["binary_data_size"]
    raw = body[hl:hl + n]
    return j, out, list(struct.unpack("<%df" % (n // 4), raw))


def raw_socket_request(port, head, body_part, close_early=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head + body_part)
    if close_early:
        s.close()
        return None
    data = s.recv(65536)
    s.close()
    return data


class Server:
    """`cvbench serve-model --model MODEL ARGS...` on a free loopback port,
    waited for until ready; stop() sends SIGTERM and checks the exit."""

    def __init__(self, cvb, model, tmp, tag, *args):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmp, "server-%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.tag = tag
        self.proc = subprocess.Popen([cvb, "serve-model", "--model", model, "--listen",
                                      "127.0.0.1:%d" % self.port] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if http(self.base, "GET", "/v2/health/ready", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        self.log.close()
        check(rc == 0, "serve-model (%s) exits 0 on SIGTERM (rc %s)" % (self.tag, rc))
        if rc != 0:
            print(open(self.log_path).read()[-4000:])


def setup(prefix):
    """--cvbench from the command line, a temp dir, and the synthetic
    yolov8n at imgsz S in it as m.onnx: (cvbench, tmp, model)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    cvb = ap.parse_args().cvbench
    tmp = tempfile.mkdtemp(prefix=prefix)
    model = os.path.join(tmp, "m.onnx")
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(S), "-o", model],
                   check=True, stdout=subprocess.DEVNULL)
    return cvb, tmp, model


def main():
    cvb, tmp, model = setup("cvb-serve-model-")

    # --max-batch beyond the engine's limit, and fewer queue slots than one
    # full batch, are refused loudly (batching itself: serve_model_batch.py)
    for args, want in ((["--max-batch", "1025"], "--max-batch must be an integer 1..1024"),
                       (["--max-batch", "8", "--queue-slots", "4"], "could never be queued")):
        r = subprocess.run([cvb, "serve-model", "--model", model] + args,
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and want in r.stderr,
              "serve-model %s refused (%r)" % (" ".join(args), r.stderr.strip()))

    # the reference: `cvbench infer` on the same frame
    frame = bytes((i * 7 + i // 97) % 256 for i in range(S * S * 3))
    frame2 = bytes((i * 13 + 5) % 251 for i in range(S * S * 3))
    refs = []
    for k, fr in enumerate((frame, frame2)):
        x = os.path.join(tmp, "x%d.npy" % k)
        y = os.path.join(tmp, "y%d.npy" % k)
        write_npy_u8(x, (1, S, S, 3), fr)
        subprocess.run([cvb, "infer", "--model", model, "--input", x, "--output", y,
                        "--input-format", "u8-nhwc"], check=True, stdout=subprocess.DEVNULL)
        refs.append(read_npy_f32(y))
    shape, ref = refs[0]
    check(shape == (1, 84, 84), "reference output shape %s" % (shape,))

    srv = Server(cvb, model, tmp, "main", "--instances", "2", "--threads", "1",
                 "--max-body-mb", "1")
    try:
        run_checks(srv.base, srv.port, frame, ref, refs)
    finally:
        srv.stop()
    overload(cvb, tmp)
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


def overload(cvb, tmp):
    """One slot, one instance, a 1 ms result timeout and a model slow enough
    (imgsz 320) that every request times out: the handler answers 503 and
    leaves the slot to the instance, so requests right behind it find no
    free slot (503 "server busy"); the server still stops cleanly."""
    s2 = 320
    model = os.path.join(tmp, "m320.onnx")
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(s2), "-o", model],
                   check=True, stdout=subprocess.DEVNULL)
    srv = Server(cvb, model, tmp, "overload", "--instances", "1", "--threads", "1",
                 "--queue-slots", "1", "--timeout-ms", "1")
    base = srv.base
    try:
        frame = bytes(s2 * s2 * 3)
        hdr = json.dumps({"inputs": [{"name": "images", "datatype": "UINT8",
                                      "shape": [1, s2, s2, 3],
                                      "parameters": {"binary_data_size": len(frame)}}]}).encode()
        got = []
        for _ in range(3):
            st, _, b = http(base, "POST", "/v2/models/m320/infer", hdr + frame,
                            {"Inference-Header-Content-Length": str(len(hdr))})
            got.append((st, json.loads(b).get("error", "") if is_kserve_error(b) else b[:100]))
        check(all(st == 503 and isinstance(m, str) for st, m in got) and
              "no result within 1 ms" in got[0][1] and any("server busy" in m for _, m in got),
              "overload: 503 timeout, then 503 server busy while the slot is held (%s)" % got)
        time.sleep(1.0)
        st, _, b = http(base, "GET", "/v2/models/m320/stats")
        inf = json.loads(b)["model_stats"][0]["inference_stats"]
        check(inf["fail"]["count"] == 3 and inf["success"]["count"] == 0,
              "overload: 3 failed requests counted")
    finally:
        srv.stop()


def run_checks(base, port, frame, ref, refs):
    st, _, _ = http(base, "GET", "/v2/health/live")
    check(st == 200, "GET /v2/health/live 200")
    st, _, _ = http(base, "GET", "/v2/health/ready")
    check(st == 200, "GET /v2/health/ready 200")
    st, _, b = http(base, "GET", "/v2")
    j = json.loads(b)
    check(st == 200 and j["name"] == "cvbench" and set(j["extensions"]) ==
          {"binary_tensor_data", "statistics", "model_configuration"}, "GET /v2 server metadata")
    st, _, b = http(base, "GET", "/v2/models/m")
    j = json.loads(b)
    check(st == 200 and j["name"] == "m" and j["inputs"] == [
        {"name": "images", "datatype": "UINT8", "shape": [1, S, S, 3]}] and
        j["outputs"][0]["name"] == "output0" and j["outputs"][0]["datatype"] == "FP32" and
        j["outputs"][0]["shape"] == [1, 84, 84], "model metadata: uint8 [1,S,S,3] in, FP32 out")
    st, _, _ = http(base, "GET", "/v2/models/m/ready")
    check(st == 200, "model ready 200")
    st, _, b = http(base, "GET", "/v2/models/nope/ready")
    check(st == 404 and is_kserve_error(b), "unknown model ready 404")
    st, _, b = http(base, "GET", "/v2/models/m/config")
    j = json.loads(b)
    check(st == 200 and j["max_batch_size"] == 0 and j["input"][0]["dims"] == [1, S, S, 3] and
          j["input"][0]["data_type"] == "TYPE_UINT8" and j["output"][0]["data_type"] == "TYPE_FP32"
          and "dynamic_batching" not in j and j["instance_group"][0]["count"] == 2,
          "model config: max_batch_size 0, full dims, no dynamic_batching, 2 instances")

    n_ok = 0
    # JSON tensors in and out
    body = json.dumps({"id": "r1", "inputs": [{"name": "images", "datatype": "UINT8",
                                              "shape": [1, S, S, 3], "data": list(frame)}]}).encode()
    st, h, b = http(base, "POST", "/v2/models/m/infer", body, {"Content-Type": "application/json"})
    n_ok += st == 200
    j, out, data = parse_response(h, b)
    check(st == 200 and j["model_name"] == "m" and j.get("id") == "r1" and
          out["shape"] == [1, 84, 84] and out["datatype"] == "FP32", "JSON infer 200")
    e = rel_l2(data, ref)
    check(e <= 1e-5, "JSON infer equals cvbench infer (rel L2 %.2e)" % e)

    # binary tensors in, binary output asked per output
    body, hdrs = binary_request(frame)
    st, h, b = http(base, "POST", "/v2/models/m/infer", body, hdrs)
    n_ok += st == 200
    j, out, data = parse_response(h, b)
    check(st == 200 and out["parameters"]["binary_data_size"] == 84 * 84 * 4,
          "binary infer 200 with a binary output")
    e = rel_l2(data, ref)
    check(e <= 1e-5, "binary infer equals cvbench infer (rel L2 %.2e)" % e)

    # binary in, all outputs binary through binary_data_output, via the versioned route
    body, hdrs = binary_request(frame, outputs_binary=False,
                                header_extra={"parameters": {"binary_data_output": True}})
    st, h, b = http(base, "POST", "/v2/models/m/versions/1/infer", body, hdrs)
    n_ok += st == 200
    j, out, data = parse_response(h, b)
    check(st == 200 and "binary_data_size" in out.get("parameters", {}) and
          rel_l2(data, ref) <= 1e-5, "binary_data_output: binary output, same result")

    # binary in, JSON out
    body, hdrs = binary_request(frame, outputs_binary=False)
    st, h, b = http(base, "POST", "/v2/models/m/infer", body, hdrs)
    n_ok += st == 200
    j, out, data = parse_response(h, b)
    check(st == 200 and "data" in out and rel_l2(data, ref) <= 1e-5, "binary in, JSON out")

    # concurrent requests, two different frames, each gets its own result
    results = []

    def worker(k):
        fr = frame if k % 2 == 0 else bytes((i * 13 + 5) % 251 for i in range(S * S * 3))
        bd, hd = binary_request(fr)
        s2, h2, b2 = http(base, "POST", "/v2/models/m/infer", bd, hd)
        if s2 != 200:
            results.append((k, s2, float("inf")))
            return
        results.append((k, s2, rel_l2(parse_response(h2, b2)[2], refs[k % 2][1])))

    ths = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    n_ok += sum(1 for r in results if r[1] == 200)
    check(len(results) == 8 and all(r[1] == 200 and r[2] <= 1e-5 for r in results),
          "8 concurrent binary infers on 2 instances: each its own frame's result")

    # bad requests: status and {"error": "..."}
    good = {"name": "images", "datatype": "UINT8", "shape": [1, S, S, 3],
            "parameters": {"binary_data_size": len(frame)}}
    def bin_body(inp, outputs=None, data=frame, hlen=None):
        hd = {"inputs": [inp]}
        if outputs is not None:
            hd["outputs"] = outputs
        hj = json.dumps(hd).encode()
        return hj + data, {"Inference-Header-Content-Length": str(hlen or len(hj))}
    bad = [
        ("bad JSON", b"{\"inputs\": [", {}, 400, "/v2/models/m/infer", True),
        ("wrong shape", *bin_body(dict(good, shape=[1, S // 2, S * 2, 3])), 400,
         "/v2/models/m/infer", True),
        ("wrong datatype", *bin_body(dict(good, datatype="FP32", parameters={
            "binary_data_size": S * S * 3 * 4}), data=frame * 4), 400, "/v2/models/m/infer", True),
        ("header length > body", *bin_body(good, hlen=len(frame) * 2), 400, "/v2/models/m/infer",
         True),
        ("body bytes != binary_data_size", *bin_body(good, data=frame[:-1]), 400,
         "/v2/models/m/infer", True),
        ("wrong input name", *bin_body(dict(good, name="x")), 400, "/v2/models/m/infer", True),
        ("unknown requested output", *bin_body(good, outputs=[{"name": "nope"}]), 400,
         "/v2/models/m/infer", True),
        ("unknown model", *bin_body(good), 404, "/v2/models/nope/infer", False),
        ("unknown version", *bin_body(good), 404, "/v2/models/m/versions/7/infer", True),
        ("oversized body (2 MiB > 1 MiB)", b"{" + b" " * (2 << 20) + b"}", {}, 413,
         "/v2/models/m/infer", False),
        ("unknown path", b"", {}, 404, "/v2/nope", False),
    ]
    n_fail = 0
    for what, body, hdrs, want, path, counted in bad:
        st, _, b = http(base, "POST", path, body, hdrs)
        check(st == want and is_kserve_error(b),
              "%s -> %d {\"error\": ...} (got %d %s)" % (what, want, st, b[:160]))
        n_fail += counted
    st, _, b = http(base, "GET", "/v2/models/m/infer")
    check(st == 405 and is_kserve_error(b), "GET on infer -> 405 {\"error\": ...}")

    # statistics match the requests made
    st, _, b = http(base, "GET", "/v2/models/m/stats")
    j = json.loads(b)["model_stats"][0]
    inf = j["inference_stats"]
    check(st == 200 and inf["success"]["count"] == n_ok and inf["fail"]["count"] == n_fail and
          j["inference_count"] == n_ok and j["execution_count"] == n_ok and
          inf["queue"]["count"] == n_ok and inf["compute_infer"]["count"] == n_ok and
          inf["compute_infer"]["ns"] > 0 and inf["compute_input"]["count"] == n_ok and
          inf["compute_output"]["count"] == n_ok and j["batch_stats"][0]["batch_size"] == 1 and
          j["batch_stats"][0]["compute_infer"]["count"] == n_ok,
          "stats: success %d fail %d (got %s / %s)" % (n_ok, n_fail, inf["success"]["count"],
                                                        inf["fail"]["count"]))
    st, _, b = http(base, "GET", "/v2/models/stats")
    check(st == 200 and json.loads(b)["model_stats"][0]["name"] == "m", "GET /v2/models/stats")

    st, _, b = http(base, "GET", "/metrics")
    t = b.decode()
    check(st == 200 and ('cvb_model_requests_total{status="200"} %d' % n_ok) in t and
          'cvb_model_instance_busy_ratio{instance="1"}' in t and
          ("cvb_model_queue_seconds_count %d" % n_ok) in t and
          ("cvb_model_compute_seconds_count %d" % n_ok) in t and
          'cvb_model_batch_size_bucket{le="1"} %d' % n_ok in t,
          "/metrics: requests by status, queue/compute histograms, busy ratio per instance")

    # a client that closes mid-body, and one that closes before reading its
    # reply: the next request is served normally
    body, hdrs = binary_request(frame)
    head = ("POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Inference-Header-Content-Length: %s\r\n\r\n" % (
                len(body), hdrs["Inference-Header-Content-Length"])).encode()
    raw_socket_request(port, head, body[:len(body) // 2])
    raw_socket_request(port, head, body)
    time.sleep(0.5)
    st, h, b = http(base, "POST", "/v2/models/m/infer", body, hdrs)
    check(st == 200 and rel_l2(parse_response(h, b)[2], ref) <= 1e-5,
          "after two clients hung up mid-request, the next infer is served")
    st, _, b = http(base, "GET", "/v2/models/m/stats")
    inf = json.loads(b)["model_stats"][0]["inference_stats"]
    check(inf["fail"]["count"] == n_fail and n_ok + 1 <= inf["success"]["count"] <= n_ok + 2,
          "a body cut off mid-way never reaches the engine (success %d, fail %d)" % (
              inf["success"]["count"], inf["fail"]["count"]))


if __name__ == "__main__":
    sys.exit(main())
