#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Does a level measured through the service match the same level measured
by `cvbench run`? The worker calls the same cvb_pipeline_run_level(), so the
numbers should agree within the machine's run-to-run noise; this measures it.

Alternates, in one invocation on one machine: `cvbench run SCENARIO` and the
same scenario submitted to an embedded `cvbench serve` (one local worker,
SQLite), `--reps` times each (A B A B ...), and prints per level the median
throughput and p50 latency of each, and their ratio (service / run).

usage: run_vs_service.py --cvbench build/cvbench --scenario scenarios/default.json
                         [--reps 3] [--flag value ...]   (extra flags go to both)"""
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--reps", type=int, default=3)
    a, extra = ap.parse_known_args()
    cvb = os.path.abspath(a.cvbench)
    scn = os.path.abspath(a.scenario)
    tmp = tempfile.mkdtemp(prefix="cvb-bench-svc-")
    # the scenario's own paths resolve against its directory; the service's
    # data root is that directory's parent so ../data/... stays inside it
    with open(scn) as f:
        body = json.load(f)
    for k in ("json", "csv", "report", "db"):
        body.pop(k, None)
    root = os.path.dirname(os.path.dirname(scn))
    sdir = os.path.relpath(os.path.dirname(scn), root)
    body["model"] = os.path.normpath(os.path.join(sdir, body["model"]))
    vids = body["video"] if isinstance(body["video"], list) else [body["video"]]
    body["video"] = [os.path.normpath(os.path.join(sdir, v)) for v in vids]
    port = free_port()
    serve = subprocess.Popen([cvb, "serve", "--listen", f"127.0.0.1:{port}", "--db",
                              os.path.join(tmp, "svc.db"), "--data-root", root],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "serve.log"),
                                                                    "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    # overlay extra flags through the client (the same parser as cvbench run)
    sfile = os.path.join(tmp, "s.json")
    with open(sfile, "w") as f:
        json.dump(body, f)
    res = {"run": {}, "service": {}}
    try:
        for rep in range(a.reps):
            for how in ("run", "service"):
                if how == "run":
                    out = os.path.join(tmp, f"run{rep}.json")
                    subprocess.run([cvb, "run", scn, "--json", out, "--db",
                                    os.path.join(tmp, "run.db"), "--report", os.path.join(tmp, "r.html"), "--csv",
                                    os.path.join(tmp, "r.csv")]
                                   + extra, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                    levels = json.load(open(out))["levels"]
                else:
                    p = subprocess.run([cvb, "submit", sfile, "--server", url, "--wait"] + extra,
                                       check=True, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
                    rid = p.stdout.split("\n", 1)[0].strip()
                    run = json.load(urllib.request.urlopen(f"{url}/v1/runs/{rid}"))
                    levels = run["scenarios"][0]["levels"]
                for lv in levels:
                    res[how].setdefault(lv["streams"], []).append(
                        (lv["fps"], lv["latency_ms"]["p50"]))
                print(f"rep {rep + 1} {how}: " + ", ".join(
                    f"{lv['streams']}: {lv['fps']:.1f} fps" for lv in levels), flush=True)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    print("\nstreams | run fps (median) | service fps (median) | service/run | "
          "run p50 ms | service p50 ms")
    for n in sorted(res["run"]):
        r = [x[0] for x in res["run"][n]]
        s = [x[0] for x in res["service"].get(n, [])]
        rl = [x[1] for x in res["run"][n]]
        sl = [x[1] for x in res["service"].get(n, [])]
        if not s:
            continue
        print(f"{n:7d} | {statistics.median(r):16.1f} | {statistics.median(s):20.1f} | "
              f"{statistics.median(s) / statistics.median(r):11.3f} | "
              f"{statistics.median(rl):10.1f} | {statistics.median(sl):14.1f}")
        print(f"        (run: {', '.join(f'{x:.1f}' for x in r)}; service: "
              f"{', '.join(f'{x:.1f}' for x in s)})")


if __name__ == "__main__":
    main()
