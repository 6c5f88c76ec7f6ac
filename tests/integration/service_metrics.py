#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Metrics reach a real Prometheus: a distributed service (`cvbench serve`
with Redis + PostgreSQL, one `cvbench worker --metrics-listen`) runs a small
benchmark while a Prometheus server (Debian package) scrapes both on
loopback every second; then Prometheus's HTTP API must return each series
the issue lists, from the right target, with values that mean something.

usage: service_metrics.py --cvbench PATH"""
import argparse
import json
import sys
import time
import urllib.parse
import urllib.request

from svc import Checks, Cluster, free_port, wait_for

C = Checks()


def prom_query(prom_url, q):
    url = f"{prom_url}/api/v1/query?query={urllib.parse.quote(q)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    a = ap.parse_args()
    from services import Services, ServicesMissing
    serve_port, worker_port = free_port(), free_port()
    targets = [f"127.0.0.1:{serve_port}", f"127.0.0.1:{worker_port}"]
    try:
        sv = Services(redis=True, postgres=True, prometheus_targets=targets)
        sv.__enter__()
    except ServicesMissing as e:
        print(f"skip: {e}")
        sys.exit(77)
    cl = Cluster(a.cvbench, "metrics")
    try:
        cl.serve(store=sv.pg_url, broker=sv.redis_url, port=serve_port)
        cl.worker(store=sv.pg_url, broker=sv.redis_url, metrics_port=worker_port)
        prom = sv.prom_url

        def series(q):
            return prom_query(prom, q)

        # Prometheus scrapes both before the run starts: on a loaded machine
        # its first scrape can otherwise come after a short run's levels
        up = wait_for("Prometheus to scrape both targets",
                      lambda: (lambda s: s if len(s) == 2 and all(x["value"][1] == "1" for x in s)
                               else None)(series("up")), 30, 0.5)
        C.check("both targets up", len(up) == 2, up)
        rid = cl.submit(cl.scenario(streams=[1, 2], pacing="camera", target_fps=30, frames=60))
        r = cl.wait_run(rid, 120)
        C.check("the run completes", r["status"] == "done", r["message"])
        frames = sum(x["frames"] + x.get("warmup_frames", 0) for x in r["scenarios"][0]["levels"])
        # the worker's frame counter after the run: scraped at least once since
        got = wait_for("cvb_frames_total to reach the run's frames",
                       lambda: (lambda s: s if s and float(s[0]["value"][1]) >= frames
                                else None)(series("cvb_frames_total")), 30, 0.5)
        C.check("frames processed, by backend", got[0]["metric"].get("backend") == "cpu" and
                got[0]["metric"]["instance"] == targets[1],
                (got, frames))
        st = series("cvb_stage_seconds_total")
        stages = {x["metric"]["stage"] for x in st}
        C.check("stage seconds by backend and stage",
                {"decode", "preprocess", "inference", "postprocess"} <= stages and
                any(float(x["value"][1]) > 0 for x in st if x["metric"]["stage"] == "inference"),
                stages)
        for name in ("cvb_worker_level", "cvb_worker_streams", "cvb_engine_busy_ratio"):
            s = series(name)
            C.check(f"{name} from the worker", len(s) == 1 and s[0]["metric"]["instance"] ==
                    targets[1], s)
        busy = series("max_over_time(cvb_worker_streams[2m])")
        C.check("current streams seen while levels ran", busy and float(busy[0]["value"][1]) >= 1,
                busy)
        rss = series("process_resident_memory_bytes")
        C.check("RSS from both processes", len(rss) == 2 and
                all(float(x["value"][1]) > 1e6 for x in rss), rss)
        done = wait_for("the task counts to be scraped",
                        lambda: (lambda s: s if s and float(s[0]["value"][1]) >= 2 else None)(
                            series('cvb_tasks{state="done"}')), 30, 0.5)
        C.check("tasks by state from the server", done[0]["metric"]["instance"] == targets[0],
                done)
        states = {x["metric"]["state"] for x in series("cvb_tasks")}
        C.check("every task state exported", {"queued", "running", "done", "failed", "dead",
                                              "cancelled"} <= states, states)
        for name in ("cvb_queue_depth", "cvb_lease_renewals_total", "cvb_task_redeliveries_total",
                     "cvb_results_fenced_total", "cvb_tasks_dead_total",
                     "cvb_log_lines_dropped_total"):
            s = series(name)
            C.check(f"{name} arrived", len(s) >= 1, s)
        ren = series("cvb_lease_renewals_total")
        C.check("lease renewals counted by the worker",
                any(float(x["value"][1]) > 0 and x["metric"]["instance"] == targets[1]
                    for x in ren), ren)
    except AssertionError as e:
        C.check("metrics scenario", False, f"{e}\n{cl.logs()}")
    finally:
        cl.close()
        sv.__exit__(None, None, None)
    C.exit()


if __name__ == "__main__":
    main()
