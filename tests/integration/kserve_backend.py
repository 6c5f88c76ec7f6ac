#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""`cvbench run --backend kserve` end to end against `cvbench serve-model`
on loopback, stdlib only.

A small synthetic yolov8n (imgsz 128) and clip. Checks:
  - uint8 and float32 servers (--input-format u8 | f32): every level ok,
    the "remote" block (payload, connections = streams x inflight, request
    bytes = the frame's bytes + a small JSON header, 4x the bytes for
    float32), the server's statistics counting exactly the level's frames
    (warm-up included), a server-/client-/network-bound verdict;
  - detections through kserve equal the in-process cpu backend's on the
    same frames: the accuracy check of every level compares them with an
    fp32 in-process engine (matched = reference boxes = level boxes > 0,
    mean IoU 1);
  - a batching server (--max-batch 8) gives the same detections;
  - the service: a worker started with --backend kserve runs a kserve
    scenario submitted to `cvbench serve`;
  - bad set-ups fail before any frame with a message naming the problem:
    unknown model, unreachable server, a server serving another model
    (another input size), a missing --kserve-url;
  - a server that dies mid-level fails the level with a message naming the
    server, promptly (no hang)."""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_model import FAILS, Server, check, free_port, http  # noqa: E402  (stdlib helpers)

S = 128  # the smallest side at which the synthetic model finds boxes in the clip


def run(cvb, tmp, tag, args, timeout=240):
    out = os.path.join(tmp, "%s.json" % tag)
    cmd = [cvb, "run", "--frames", "24", "--warmup", "4", "--max-duration", "0",
           "--db", os.path.join(tmp, "%s.db" % tag), "--json", out] + args
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    dt = time.monotonic() - t0
    doc = None
    if r.returncode == 0 and os.path.exists(out):
        with open(out) as f:
            doc = json.load(f)
    return r, doc, dt


def check_levels(doc, tag, payload, inflight, frame_bytes):
    for lv in doc["levels"]:
        n = lv["streams"]
        what = "%s, %d stream(s)" % (tag, n)
        check(lv["status"] == "ok", "%s: level ok (%s)" % (what, lv.get("error")))
        rm = lv.get("remote")
        check(isinstance(rm, dict), "%s: result has a remote block" % what)
        if not isinstance(rm, dict):
            continue
        check(rm["payload"] == payload, "%s: payload %s (%s)" % (what, payload, rm["payload"]))
        check(rm["connections"] == n * inflight and rm["inflight"] == inflight,
              "%s: %d connections = streams x inflight %d" % (what, rm["connections"], inflight))
        req = rm["request_bytes"]
        check(frame_bytes < req < frame_bytes + 1024,
              "%s: request %.0f bytes = frame %d + JSON header" % (what, req, frame_bytes))
        check(rm["serialize_ms"] > 0 and rm["roundtrip_ms"] > 0 and rm["deserialize_ms"] > 0,
              "%s: serialise %.3f, round trip %.3f, deserialise %.3f ms" %
              (what, rm["serialize_ms"], rm["roundtrip_ms"], rm["deserialize_ms"]))
        frames = lv["frames"] + lv["warmup_frames"]
        check(rm["server_stats"] and rm["server_requests"] == frames,
              "%s: the server counted the level's %d requests (%s)" %
              (what, frames, rm.get("server_requests")))
        check(0 < rm["server_compute_ms"] <= rm["roundtrip_ms"],
              "%s: server compute %.3f ms within the round trip %.3f ms" %
              (what, rm["server_compute_ms"], rm["roundtrip_ms"]))
        check(0 < rm["server_busy_pct"] <= 100, "%s: server busy %.1f %%" %
              (what, rm["server_busy_pct"]))
        b = lv["bottleneck"]
        check(b.startswith(("server-bound", "client-bound", "network-bound")),
              "%s: verdict '%s'" % (what, b))
        acc = lv.get("accuracy")
        ok = (isinstance(acc, dict) and acc["frames"] > 0 and acc["ref_boxes"] > 0 and
              acc["matched"] == acc["ref_boxes"] == acc["test_boxes"] and
              acc["mean_iou"] > 0.999)
        check(ok, "%s: detections equal the in-process fp32 engine's on %s frames (%s)" %
              (what, acc and acc["frames"], acc))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    a = ap.parse_args()
    cvb = a.cvbench
    tmp = tempfile.mkdtemp(prefix="cvb-kserve-backend-")
    model = os.path.join(tmp, "m.onnx")
    other = os.path.join(tmp, "other.onnx")
    video = os.path.join(tmp, "v.mp4")
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(S), "-o", model],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", "96", "-o", other],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cvb, "video", "synth", "-o", video, "--size", "160x120", "--fps", "30",
                    "--seconds", "1"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    common = ["--model", model, "--video", video, "--streams", "1,2", "--accuracy-sample", "8"]

    # The accuracy check compares each level's boxes with those of the
    # in-process fp32 engine, which is the cpu backend's engine at fp32, on
    # the very frames the level sent (which frames are sampled depends on
    # completion order, so two runs' counts are not comparable).

    for fmt, payload, fb in (("u8", "uint8", S * S * 3), ("f32", "fp32", 4 * S * S * 3)):
        srv = Server(cvb, model, tmp, fmt, "--input-format", fmt, "--instances", "2",
                     "--queue-slots", "16")
        args = common + ["--backend", "kserve", "--kserve-url", srv.base, "--kserve-model", "m",
                         "--inflight", "2"]
        r, doc, _ = run(cvb, tmp, "kserve-" + fmt, args)
        check(r.returncode == 0, "kserve %s: cvbench run exits 0 (%s)" % (fmt, r.stderr[-500:]))
        if doc is not None:
            check_levels(doc, "kserve " + fmt, payload, 2, fb)
            check(doc["manifest"]["backend"] == "kserve", "kserve %s: manifest backend" % fmt)
            check("kserve: server" in r.stdout and "rtt" in r.stdout,
                  "kserve %s: the table shows the request breakdown" % fmt)
        srv.stop()

    # a batching server gives the same detections
    srv = Server(cvb, model, tmp, "batch", "--max-batch", "8", "--batch-timeout-us", "2000",
                 "--queue-slots", "32")
    args = common + ["--backend", "kserve", "--kserve-url", srv.base, "--inflight", "3"]
    r, doc, _ = run(cvb, tmp, "kserve-batch", args)
    check(r.returncode == 0, "kserve, max-batch 8: cvbench run exits 0 (%s)" % r.stderr[-500:])
    if doc is not None:
        check_levels(doc, "kserve max-batch 8", "uint8", 3, S * S * 3)

    # the service: a worker started with --backend kserve runs a kserve scenario
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    svc_log = open(os.path.join(tmp, "service.log"), "w")
    svc = subprocess.Popen([cvb, "serve", "--listen", "127.0.0.1:%d" % port, "--db",
                            os.path.join(tmp, "svc.db"), "--workers", "1", "--backend", "kserve",
                            "--data-root", tmp], stdout=svc_log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if http(url, "GET", "/healthz", timeout=2)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    r = subprocess.run([cvb, "submit", "--model", model, "--video", video, "--backend", "kserve",
                        "--kserve-url", srv.base, "--streams", "1", "--frames", "16", "--warmup",
                        "2", "--max-duration", "0", "--server", url, "--wait"],
                       capture_output=True, text=True, timeout=240)
    check(r.returncode == 0 and "kserve: server" in r.stdout,
          "service: a --backend kserve worker runs a kserve scenario (rc %d): %s" %
          (r.returncode, (r.stdout + r.stderr)[-400:]))
    svc.send_signal(signal.SIGTERM)
    try:
        svc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        svc.kill()
    svc_log.close()

    # bad set-ups: refused before any frame, naming the problem
    bad = [
        (["--kserve-url", srv.base, "--kserve-model", "nope"], "nope",
         "an unknown model name"),
        (["--kserve-url", "http://127.0.0.1:9"], "127.0.0.1:9", "an unreachable server"),
        ([], "kserve_url", "a missing --kserve-url"),
    ]
    for extra, needle, what in bad:
        r, _, dt = run(cvb, tmp, "bad", common + ["--backend", "kserve"] + extra, timeout=120)
        check(r.returncode != 0 and needle in r.stderr,
              "%s is refused naming it (rc %d, %.1f s): %s" %
              (what, r.returncode, dt, r.stderr.strip()[-300:]))
    srv.stop()
    srv = Server(cvb, other, tmp, "other", "--name", "m")
    r, _, _ = run(cvb, tmp, "bad", common + ["--backend", "kserve", "--kserve-url", srv.base])
    check(r.returncode != 0 and "96" in r.stderr and str(S) in r.stderr,
          "a server serving another model (imgsz 96) is refused: %s" % r.stderr.strip()[-300:])
    srv.stop()

    # the server dies mid-level: the level fails naming it, promptly
    srv = Server(cvb, model, tmp, "dies", "--queue-slots", "16")
    cmd = [cvb, "run", "--frames", "100000", "--warmup", "2", "--max-duration", "0",
           "--db", os.path.join(tmp, "dies.db"), "--model", model, "--video", video,
           "--streams", "2", "--backend", "kserve", "--kserve-url", srv.base,
           "--accuracy-sample", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    srv.proc.kill()
    srv.proc.wait()
    srv.log.close()
    try:
        out, err = p.communicate(timeout=90)
        check(p.returncode != 0 and "127.0.0.1:%d" % srv.port in err,
              "a server killed mid-level fails the run naming it (rc %d): %s" %
              (p.returncode, err.strip()[-300:]))
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        check(False, "a server killed mid-level: cvbench run did not finish within 90 s")

    if FAILS:
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
