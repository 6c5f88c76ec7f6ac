#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The kserve path against the in-process cpu backend, on one machine.

For each model size: `cvbench run` on the cpu backend and `cvbench run
--backend kserve` against `cvbench serve-model` on loopback (the server and
the client share the same cores), level by level, alternating A B A B per
level so both see the same machine; then at the saturation level: uint8 vs
float32 payload, and max-batch 1 vs 8 vs 32. Prints Markdown tables with
the commands. The server runs as many engine instances and threads as the
cpu backend would (`cvbench run` picks 2 instances x 1 thread on 2 cores).

    bench/kserve/run_kserve.py --cvbench build/cvbench --video data/clip-720p.mp4 \\
        --imgsz 320,640 --streams 1,2,4,8,16 --frames 60 --reps 2
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cvb, model, args, log):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.cmd = [cvb, "serve-model", "--model", model, "--name", "m", "--listen",
                    "127.0.0.1:%d" % self.port] + args
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        for _ in range(600):
            try:
                with urllib.request.urlopen(self.url + "/v2/health/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("serve-model did not become ready: %s" % " ".join(self.cmd))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def level(cvb, tmp, args):
    out = os.path.join(tmp, "r.json")
    if os.path.exists(out):
        os.unlink(out)
    cmd = [cvb, "run", "--json", out, "--db", os.path.join(tmp, "b.db")] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    with open(out) as f:
        return json.load(f)["levels"][0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--video", required=True)
    ap.add_argument("--imgsz", default="320,640")
    ap.add_argument("--streams", default="1,2,4,8,16")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--inflight", type=int, default=2)
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--saturation", type=int, default=0,
                    help="streams for the payload and batching tables (default: the largest)")
    ap.add_argument("--skip-sweep", action="store_true")
    a = ap.parse_args()
    cvb = os.path.abspath(a.cvbench)
    tmp = tempfile.mkdtemp(prefix="cvb-bench-kserve-")
    log = open(os.path.join(tmp, "servers.log"), "w")
    streams = [int(x) for x in a.streams.split(",")]
    sat = a.saturation or streams[-1]
    common = ["--video", a.video, "--frames", str(a.frames), "--warmup", str(a.warmup),
              "--max-duration", "0", "--accuracy-sample", "0"]
    srv_args = ["--instances", str(a.instances), "--threads", str(a.threads),
                "--queue-slots", "256"]
    print("command: %s" % " ".join(sys.argv))
    print("server: cvbench serve-model --model M %s [--input-format u8|f32] "
          "[--max-batch N --batch-timeout-us 2000]" % " ".join(srv_args))
    print("client: cvbench run --backend kserve --kserve-url URL --inflight %d %s\n" %
          (a.inflight, " ".join(common)))

    for s in [int(x) for x in a.imgsz.split(",")]:
        model = os.path.join(tmp, "yolov8n-%d.onnx" % s)
        subprocess.run([cvb, "model", "synth", "--arch", "yolov8n", "--imgsz", str(s), "-o",
                        model], check=True, stdout=subprocess.DEVNULL)
        base = common + ["--model", model]
        kargs = ["--backend", "kserve", "--kserve-model", "m", "--inflight", str(a.inflight)]

        if not a.skip_sweep:
            srv = Server(cvb, model, srv_args + ["--input-format", "u8"], log)
            print("### yolov8n %d (synthetic weights): cpu backend vs kserve (uint8 payload)\n"
                  % s)
            print("| streams | cpu fps | kserve fps | kserve / cpu | server busy % | "
                  "rtt ms | server compute ms | client CPU % | kserve verdict |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
            for n in streams:
                cpu, ks, last = [], [], None
                for _ in range(a.reps):
                    cpu.append(level(cvb, tmp, base + ["--streams", str(n)])["fps"])
                    last = level(cvb, tmp, base + kargs + ["--kserve-url", srv.url,
                                                           "--streams", str(n)])
                    ks.append(last["fps"])
                c, k = statistics.median(cpu), statistics.median(ks)
                rm = last["remote"]
                print("| %d | %.1f (%s) | %.1f (%s) | %.3f | %.0f | %.1f | %.1f | %.0f | %s |" %
                      (n, c, ", ".join("%.1f" % x for x in cpu), k,
                       ", ".join("%.1f" % x for x in ks), k / c if c else 0,
                       rm.get("server_busy_pct") or 0, rm["roundtrip_ms"],
                       rm.get("server_compute_ms") or 0, rm["client_cpu_pct"],
                       last["bottleneck"]), flush=True)
            srv.stop()
            print()

        print("### yolov8n %d: payload and batching at %d streams\n" % (s, sat))
        print("| server | payload KiB/frame | kserve fps | server busy % | batch mean | "
              "rtt ms | verdict |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for name, extra in (("u8, max-batch 1", ["--input-format", "u8"]),
                            ("f32, max-batch 1", ["--input-format", "f32"]),
                            ("u8, max-batch 8", ["--input-format", "u8", "--max-batch", "8",
                                                 "--batch-timeout-us", "2000"]),
                            ("u8, max-batch 32", ["--input-format", "u8", "--max-batch", "32",
                                                  "--batch-timeout-us", "2000"])):
            srv = Server(cvb, model, srv_args + extra, log)
            fps, last = [], None
            for _ in range(a.reps):
                last = level(cvb, tmp, base + kargs + ["--kserve-url", srv.url, "--streams",
                                                       str(sat)])
                fps.append(last["fps"])
            srv.stop()
            rm = last["remote"]
            print("| %s | %.1f | %.1f (%s) | %.0f | %.2f | %.1f | %s |" %
                  (name, rm["request_bytes"] / 1024, statistics.median(fps),
                   ", ".join("%.1f" % x for x in fps), rm.get("server_busy_pct") or 0,
                   rm.get("server_batch_mean") or 0, rm["roundtrip_ms"], last["bottleneck"]),
                  flush=True)
        print()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
