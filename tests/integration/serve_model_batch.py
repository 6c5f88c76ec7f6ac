#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Dynamic batching in `cvbench serve-model` (--max-batch N), stdlib only.

Two servers on the same tiny synthetic yolov8n (imgsz 64, one instance,
one thread): a reference at --max-batch 1 and a batching one at
--max-batch 8 with a batch timeout long enough (200 ms) for concurrent
requests to meet. Checks:
  - metadata shapes [-1,...]; config max_batch_size 8, dims without the
    batch dim, dynamic_batching {preferred_batch_size [2,4,8],
    max_queue_delay_microseconds 200000};
  - 8 client threads x 3 distinct frames at once: every reply is bitwise
    equal (binary output bytes) to that frame's reply from the --max-batch 1
    server, and the statistics show executions of batch size > 1 (so this
    fails if requests were not batched);
  - requests carrying batch 2, 5 (split 4+1) and 8 (binary and JSON input)
    return [b,84,84] equal bitwise to the b singles concatenated;
  - batch 9 (> max-batch), batch 0 and a wrong rank: 400 {"error": ...};
  - under concurrent load, a client that sends headers and half a body then
    closes, and one that sends a whole request and closes before its reply,
    cost only their own request: the others get correct replies, and the
    stats and /metrics stay consistent (execution_count = sum of batch_stats
    counts, inference_count = sum of batch size x count, the batch size
    histogram's count and sum equal to them, success/fail counts exact up to
    the hung-up client's request)."""
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_model import (FAILS, S, Server, check, http, is_kserve_error,  # noqa: E402
                         raw_socket_request, setup)

OUT = 84 * 84 * 4  # output0 bytes per item


def frame(k):
    return bytes((i * (2 * k + 7) + k * 31 + i // 101) % 256 for i in range(S * S * 3))


def infer(base, frames, binary_in=True):
    """POST the frames as one request of batch len(frames); (status, output
    shape or error, output bytes)."""
    b = len(frames)
    data = b"".join(frames)
    inp = {"name": "images", "datatype": "UINT8", "shape": [b, S, S, 3]}
    if binary_in:
        inp["parameters"] = {"binary_data_size": len(data)}
    else:
        inp["data"] = list(data)
    hdr = json.dumps({"inputs": [inp], "outputs": [
        {"name": "output0", "parameters": {"binary_data": True}}]}).encode()
    body = hdr + data if binary_in else hdr
    heads = {"Inference-Header-Content-Length": str(len(hdr))} if binary_in else {}
    st, h, rb = http(base, "POST", "/v2/models/m/infer", body, heads)
    if st != 200:
        return st, rb, None
    hl = int({k.lower(): v for k, v in h.items()}["inference-header-content-length"])
    out = json.loads(rb[:hl])["outputs"][0]
    n = out["parameters"]["binary_data_size"]
    return st, out["shape"], rb[hl:hl + n]


def stats(base):
    st, _, b = http(base, "GET", "/v2/models/m/stats")
    return json.loads(b)["model_stats"][0]


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def consistent(base, what):
    """execution/inference counts agree with batch_stats and /metrics."""
    j = stats(base)
    bs = j["batch_stats"]
    n_exec = sum(x["compute_infer"]["count"] for x in bs)
    n_items = sum(x["batch_size"] * x["compute_infer"]["count"] for x in bs)
    t = http(base, "GET", "/metrics")[2].decode()
    ok = (j["execution_count"] == n_exec and j["inference_count"] == n_items and
          all(x["compute_input"]["count"] == x["compute_infer"]["count"] ==
              x["compute_output"]["count"] for x in bs) and
          metric(t, "cvb_model_batch_size_count") == n_exec and
          metric(t, "cvb_model_batch_size_sum") == n_items and
          metric(t, "cvb_model_compute_seconds_count") == n_exec and
          metric(t, "cvb_model_queue_seconds_count") == j["inference_stats"]["queue"]["count"] ==
          j["inference_stats"]["success"]["count"] and
          metric(t, 'cvb_model_requests_total{status="200"}') ==
          j["inference_stats"]["success"]["count"] and
          'cvb_model_instance_busy_ratio{instance="0"}' in t)
    check(ok, "%s: stats and /metrics consistent (executions %d = %d, items %d = %d)" % (
        what, j["execution_count"], n_exec, j["inference_count"], n_items))
    return j


def main():
    cvb, tmp, model = setup("cvb-serve-batch-")
    frames = [frame(k) for k in range(24)]

    ref_srv = Server(cvb, model, tmp, "ref", "--instances", "1", "--threads", "1")
    try:
        refs = []
        for f in frames:
            st, shape, y = infer(ref_srv.base, [f])
            refs.append(y)
        check(all(r is not None and len(r) == OUT for r in refs),
              "reference: 24 frames at --max-batch 1")
    finally:
        ref_srv.stop()

    srv = Server(cvb, model, tmp, "batch", "--instances", "1", "--threads", "1",
                 "--max-batch", "8", "--batch-timeout-us", "200000")
    try:
        run_checks(srv.base, srv.port, frames, refs)
    finally:
        srv.stop()
    print("%d failed" % len(FAILS))
    return 1 if FAILS else 0


def concurrent(base, frames, refs, n_threads, per_thread, during=None):
    """n_threads clients, each sending per_thread frames one after the
    other; 'during' runs meanwhile. Returns the number of correct replies."""
    res = []
    lock = threading.Lock()
    start = threading.Barrier(n_threads + (1 if during else 0))

    def client(t):
        start.wait()
        for r in range(per_thread):
            k = (t * per_thread + r) % len(frames)
            st, shape, y = infer(base, [frames[k]])
            with lock:
                res.append(st == 200 and shape == [1, 84, 84] and y == refs[k])

    ths = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
    for t in ths:
        t.start()
    if during:
        start.wait()
        during()
    for t in ths:
        t.join()
    return len(res), sum(res)


def run_checks(base, port, frames, refs):
    st, _, b = http(base, "GET", "/v2/models/m")
    j = json.loads(b)
    check(st == 200 and j["inputs"][0]["shape"] == [-1, S, S, 3] and
          j["outputs"][0]["shape"] == [-1, 84, 84], "metadata: shapes [-1,S,S,3] -> [-1,84,84]")
    st, _, b = http(base, "GET", "/v2/models/m/config")
    c = json.loads(b)
    check(st == 200 and c["max_batch_size"] == 8 and c["input"][0]["dims"] == [S, S, 3] and
          c["output"][0]["dims"] == [84, 84] and c.get("dynamic_batching") == {
              "preferred_batch_size": [2, 4, 8], "max_queue_delay_microseconds": 200000},
          "config: max_batch_size 8, dims without batch, dynamic_batching (%s)" % (
              c.get("dynamic_batching"),))

    n, good = concurrent(base, frames, refs, 8, 3)
    check(n == 24 and good == 24,
          "8 concurrent clients x 3 frames: %d/%d replies bitwise equal to --max-batch 1" % (
              good, n))
    j = consistent(base, "after concurrent clients")
    big = [x for x in j["batch_stats"] if x["batch_size"] > 1 and x["compute_infer"]["count"]]
    check(j["inference_count"] == 24 and j["execution_count"] < 24 and big,
          "requests were batched: %d items in %d executions, sizes %s" % (
              j["inference_count"], j["execution_count"],
              [(x["batch_size"], x["compute_infer"]["count"]) for x in j["batch_stats"]]))
    n_ok = 24

    # requests carrying a batch
    for b, binary in ((2, True), (5, True), (8, True), (2, False)):
        st, shape, y = infer(base, frames[3:3 + b], binary_in=binary)
        n_ok += st == 200
        check(st == 200 and shape == [b, 84, 84] and y == b"".join(refs[3:3 + b]),
              "a request of batch %d (%s input) equals %d singles bitwise (shape %s)" % (
                  b, "binary" if binary else "JSON", b, shape))

    n_fail = 0
    for what, b in (("batch 9 > max-batch 8", 9), ("batch 0", 0)):
        st, body, _ = infer(base, frames[:b] if b else [])
        n_fail += 1
        check(st == 400 and is_kserve_error(body) and "batch" in json.loads(body)["error"],
              "%s -> 400 {\"error\": ...} (%s %s)" % (what, st, body[:160]))
    hdr = json.dumps({"inputs": [{"name": "images", "datatype": "UINT8", "shape": [2, S, S],
                                  "parameters": {"binary_data_size": 2 * S * S}}]}).encode()
    st, _, body = http(base, "POST", "/v2/models/m/infer", hdr + bytes(2 * S * S),
                       {"Inference-Header-Content-Length": str(len(hdr))})
    n_fail += 1
    check(st == 400 and is_kserve_error(body), "wrong rank -> 400 {\"error\": ...}")
    j = consistent(base, "after batched and bad requests")
    inf = j["inference_stats"]
    check(inf["success"]["count"] == n_ok and inf["fail"]["count"] == n_fail and
          j["inference_count"] == 24 + 2 + 5 + 8 + 2,
          "stats: success %d, fail %d, %d items" % (inf["success"]["count"],
                                                    inf["fail"]["count"], j["inference_count"]))

    # clients that hang up mid-request, under concurrent load
    hdr = json.dumps({"inputs": [{"name": "images", "datatype": "UINT8", "shape": [1, S, S, 3],
                                  "parameters": {"binary_data_size": S * S * 3}}]}).encode()
    body = hdr + frames[0]
    head = ("POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            "Inference-Header-Content-Length: %d\r\n\r\n" % (len(body), len(hdr))).encode()

    def hang_ups():
        raw_socket_request(port, head, body[:len(body) // 2])  # half a body, then close
        raw_socket_request(port, head, body)  # a whole request, closed before the reply

    n, good = concurrent(base, frames, refs, 6, 2, during=hang_ups)
    check(n == 12 and good == 12,
          "with two clients hanging up meanwhile, %d/%d concurrent replies correct" % (good, n))
    n_ok += 12
    time.sleep(0.5)  # the hung-up request finishes in the background
    n2, good2 = concurrent(base, frames, refs, 4, 1)
    check(n2 == 4 and good2 == 4, "after the hang-ups, the next requests are served (%d/%d)" % (
        good2, n2))
    n_ok += 4
    j = consistent(base, "after the hang-ups")
    inf = j["inference_stats"]
    check(n_ok <= inf["success"]["count"] <= n_ok + 1 and inf["fail"]["count"] == n_fail and
          j["inference_count"] in (41 + 16, 41 + 17),
          "a half body never reaches the engine; the hung-up request costs only itself "
          "(success %d of %d..%d, fail %d, items %d)" % (
              inf["success"]["count"], n_ok, n_ok + 1, inf["fail"]["count"],
              j["inference_count"]))


if __name__ == "__main__":
    sys.exit(main())
