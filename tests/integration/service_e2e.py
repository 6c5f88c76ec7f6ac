#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The service end to end: submit -> complete through the API, embedded
(SQLite, `cvbench serve` with a local worker) and distributed (Redis +
PostgreSQL, `cvbench serve --broker --store` with separate `cvbench worker`
processes); capability routing between two workers; a run no worker can
take says so; request validation (401, 404, 409, 413, 422: paths outside
the data roots, bad fields); the CLI client (submit --wait, runs, cancel).

usage: service_e2e.py --cvbench PATH [--mode embedded|distributed|all]"""
import argparse
import json
import os
import re
import subprocess
import sys

from svc import Checks, Cluster, wait_for

C = Checks()


def cpu_flags():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def common_api_checks(cl, label):
    # submit -> complete, two levels
    rid = cl.submit(cl.scenario(streams=[1, 2]))
    r = cl.wait_run(rid, 180)
    C.check(f"{label}: run completes", r["status"] == "done", f"{r['status']} {r['message']}")
    lv = r["scenarios"][0]["levels"]
    C.check(f"{label}: two levels stored, in order",
            [x["streams"] for x in lv] == [1, 2], [x["streams"] for x in lv])
    C.check(f"{label}: levels measured", all(x["fps"] > 0 and x["status"] == "ok" for x in lv),
            [(x["fps"], x["status"]) for x in lv])
    C.check(f"{label}: each level names its worker", all(x["worker"] for x in lv),
            [x["worker"] for x in lv])
    C.check(f"{label}: manifest stored", r["scenarios"][0]["manifest"] is not None)
    C.check(f"{label}: one attempt per task", all(t["attempt"] == 1 and t["state"] == "done"
                                                  for t in r["tasks"]), r["tasks"])
    st, body, hdr = cl.request("GET", f"/v1/runs/{rid}/report", token=False)
    C.check(f"{label}: HTML report with charts", st == 200 and b"<svg" in body and
            "text/html" in hdr.get("Content-Type", ""), st)
    st, runs = cl.get("/v1/runs")
    C.check(f"{label}: GET /v1/runs lists it", st == 200 and any(x["id"] == rid
                                                                 for x in runs["runs"]))
    st, w = cl.get("/v1/workers")
    C.check(f"{label}: GET /v1/workers lists live workers",
            st == 200 and any(x["state"] in ("idle", "busy") for x in w["workers"]), w)
    st, body, _ = cl.request("POST", f"/v1/runs/{rid}/cancel")
    C.check(f"{label}: cancel of a finished run is 409", st == 409, st)
    return rid


def embedded(cvbench):
    cl = Cluster(cvbench, "e2e-embedded")
    try:
        serve = cl.serve()
        common_api_checks(cl, "embedded")

        # validation
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(), token=False)
        C.check("401 without the bearer token", st == 401, st)
        st, body, _ = cl.request("POST", "/v1/runs", raw=b"{\"model\": ")
        C.check("400 on malformed JSON", st == 400, st)
        st, body, _ = cl.request("POST", "/v1/runs", raw=b"[" * 100 + b"]" * 100)
        C.check("400 on JSON nested too deep", st == 400, st)
        st, body, _ = cl.request("POST", "/v1/runs", raw=b"{\"x\": \"" + b"a" * (2 << 20) +
                                 b"\"}")
        C.check("413 on a 2 MiB body", st == 413, st)
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(frames=-1))
        e = json.loads(body).get("error", {})
        C.check("422 names the bad field", st == 422 and e.get("field") == "frames", body[:200])
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(db="x.db"))
        C.check("422 on an output field", st == 422 and json.loads(body)["error"]["field"] == "db")
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(model="/etc/passwd"))
        C.check("422 on an absolute path outside the data roots", st == 422 and
                json.loads(body)["error"]["field"] == "model", body[:200])
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(video=["../../etc/hostname"]))
        C.check("422 on a .. path escaping the data root", st == 422, body[:200])
        os.symlink("/etc/hostname", os.path.join(cl.dir, "escape.mp4"))
        st, body, _ = cl.request("POST", "/v1/runs", cl.scenario(video=["escape.mp4"]))
        C.check("422 on a symlink escaping the data root", st == 422 and b"outside" in body,
                body[:200])
        st, body, _ = cl.request("GET", "/v1/runs/nope", token=False)
        C.check("404 on an unknown run", st == 404, st)

        # a run no worker can take says so, and can be cancelled
        rid = cl.submit(cl.scenario(worker_tag="gpu-box"))
        r = wait_for("the run to say why it waits",
                     lambda: (lambda r: r if "no registered worker" in r["message"] else None)(
                         cl.run(rid)), 20)
        C.check("a run no worker can take says so", r["status"] == "queued", r["message"])
        st, body, _ = cl.request("POST", f"/v1/runs/{rid}/cancel")
        C.check("cancel a queued run", st == 200 and cl.run(rid)["status"] == "cancelled", st)

        # cancelling a running run stops its level at the worker's next renewal
        rid = cl.submit(cl.scenario(pacing="camera", target_fps=10, frames=100))
        wait_for("the level to run", lambda: any(t["state"] == "running"
                                                 for t in cl.run(rid)["tasks"]), 60)
        cur = wait_for("the worker to publish the level's progress",
                       lambda: (lambda c: c[0] if c and c[0]["progress"] and
                                c[0]["progress"]["frames_done"] > 0 else None)(
                           cl.run(rid)["progress"]["current"]), 10)
        C.check("a running level's progress is published (frames, fps, ETA)",
                cur["progress"]["frames_total"] == 105 and cur["progress"]["fps_now"] > 0,
                cur["progress"])
        st, body, _ = cl.request("POST", f"/v1/runs/{rid}/cancel")
        wait_for("the worker to drop the cancelled task",
                 lambda: all(w["state"] == "idle" for w in cl.get("/v1/workers")[1]["workers"]
                             if w["state"] != "lost"), 10)
        r = cl.run(rid)
        C.check("cancel a running run: the task is cancelled, no level stored",
                st == 200 and r["status"] == "cancelled" and r["tasks"][0]["state"] ==
                "cancelled" and r["levels_done"] == 0, (st, r["status"], r["tasks"]))

        # multi-scenario run
        rid = cl.submit(cl.scenario(), cl.scenario(streams=[2]))
        r = cl.wait_run(rid, 120)
        C.check("two scenarios in one run complete", r["status"] == "done" and
                [len(s["levels"]) for s in r["scenarios"]] == [1, 1], r["message"])
        st, body, _ = cl.request("GET", f"/v1/runs/{rid}/report?scenario=2", token=False)
        C.check("report of scenario 2", st == 200 and b"<svg" in body, st)

        # density search driven by the coordinator
        rid = cl.submit(cl.scenario(density=True, target_fps=5, p99_ms=5000, frames=15,
                                    streams=[1, 2]))
        r = cl.wait_run(rid, 180)
        C.check("density run completes with an answer", r["status"] == "done" and
                r["scenarios"][0]["density_streams"] is not None,
                (r["status"], r["message"], r["scenarios"][0]["density_streams"]))

        # the CLI client
        scn = os.path.join(cl.dir, "s.json")
        with open(scn, "w") as f:
            json.dump(cl.scenario(), f)
        p = subprocess.run([cvbench, "submit", scn, "--streams", "1,2", "--server", cl.url,
                            "--token-file", cl.token_file, "--wait"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=180)
        out, err = p.stdout.decode(), p.stderr.decode()
        C.check("cvbench submit --wait exits 0", p.returncode == 0, err[-500:])
        C.check("submit --wait prints the summary table and each level",
                "streams" in out and "level 2: 2 streams" in err, out[-800:] + err[-400:])
        rid = out.split("\n", 1)[0].strip()
        p = subprocess.run([cvbench, "runs", "--server", cl.url], stdout=subprocess.PIPE,
                           timeout=30)
        C.check("cvbench runs lists the run", p.returncode == 0 and rid in p.stdout.decode())
        p = subprocess.run([cvbench, "cancel", rid, "--server", cl.url, "--token-file",
                            cl.token_file], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        C.check("cvbench cancel of a finished run exits 2 with the reason",
                p.returncode == 2 and b"already finished" in p.stderr, p.stderr[-300:])
        p = subprocess.run([cvbench, "submit", scn, "--frames", "-3", "--server", cl.url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        C.check("cvbench submit refuses a bad flag locally", p.returncode == 2 and
                b"frames" in p.stderr, p.stderr[-300:])
        # report and compare work on the service's store
        db = os.path.join(cl.dir, "cvbench.db")
        p = subprocess.run([cvbench, "report", "--db", db, "--run", rid],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        C.check("cvbench report reads a service run", p.returncode == 0 and b"streams" in
                p.stdout, p.stderr[-300:])
        C.check("serve logged no errors", "error" not in serve.text().lower(),
                serve.text()[-1000:])
    except AssertionError as e:
        C.check("embedded scenario", False, f"{e}\n{cl.logs()}")
    finally:
        cl.close()


def distributed(cvbench):
    from services import Services, ServicesMissing
    flags = cpu_flags()
    hi = "avx512" if {"avx512f", "avx512bw", "avx512vl"} <= flags else None
    if "avx2" not in flags:
        print("skip distributed routing: this CPU lacks avx2")
        return
    try:
        sv = Services(redis=True, postgres=True)
        sv.__enter__()
    except ServicesMissing as e:
        print(f"skip distributed: {e}")
        sys.exit(77)
    cl = Cluster(cvbench, "e2e-dist")
    try:
        cl.serve(store=sv.pg_url, broker=sv.redis_url)
        a = cl.worker("--isa", "avx2", "--tag", "a", store=sv.pg_url, broker=sv.redis_url,
                      name="worker-a")
        b = cl.worker(*(["--isa", hi] if hi else []), "--tag", "b", store=sv.pg_url,
                      broker=sv.redis_url, name="worker-b")
        st, w = cl.get("/v1/workers")
        ws = {x["id"]: x for x in w["workers"]}
        C.check("workers advertise capabilities",
                a.worker_id in ws and ws[a.worker_id]["isa"] == "avx2" and
                "a" in ws[a.worker_id]["tags"] and ws[a.worker_id]["cores"] >= 1 and
                ws[a.worker_id]["mem_bytes"] > 0 and ws[a.worker_id]["cpu_model"], ws)
        common_rid = common_api_checks(cl, "distributed")
        rid = cl.submit(cl.scenario(isa="avx2"))
        r = cl.wait_run(rid, 120)
        C.check("isa avx2 routes to the avx2 worker",
                r["scenarios"][0]["levels"][0]["worker"] == a.worker_id,
                r["scenarios"][0]["levels"][0]["worker"])
        C.check("the manifest of an avx2 task says avx2",
                r["scenarios"][0]["manifest"]["isa"] == "avx2", r["scenarios"][0]["manifest"]["isa"])
        if hi:
            rid = cl.submit(cl.scenario(isa=hi))
            r = cl.wait_run(rid, 120)
            C.check(f"isa {hi} routes to the {hi} worker",
                    r["scenarios"][0]["levels"][0]["worker"] == b.worker_id,
                    r["scenarios"][0]["levels"][0]["worker"])
        else:
            print("skip avx512 routing: this CPU lacks avx512f/bw/vl")
        rid = cl.submit(cl.scenario(worker_tag="b"))
        r = cl.wait_run(rid, 120)
        C.check("worker_tag b routes to worker b",
                r["scenarios"][0]["levels"][0]["worker"] == b.worker_id)
        # report and compare read the PostgreSQL store
        p = subprocess.run([cvbench, "report", "--store", sv.pg_url, "--run", rid, "-o",
                            os.path.join(cl.dir, "r.html")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        C.check("cvbench report --store postgresql:// writes the HTML report",
                p.returncode == 0 and b"<svg" in open(os.path.join(cl.dir, "r.html"), "rb").read(),
                p.stderr[-300:])
        first = common_rid
        p = subprocess.run([cvbench, "compare", first, rid, "--store", sv.pg_url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        C.check("cvbench compare --store postgresql:// compares two service runs",
                p.returncode == 0 and b"streams" in p.stdout, p.stdout[-300:] + p.stderr[-300:])
        rid = cl.submit(cl.scenario(isa="amx" if "amx_tile" not in flags else "avx2",
                                    worker_tag="b"))
        r = wait_for("the run to say why it waits",
                     lambda: (lambda r: r if "no registered worker" in r["message"] else None)(
                         cl.run(rid)), 20)
        C.check("a task no worker can take is reported, not silently queued",
                "needs backend cpu" in r["message"] and a.worker_id in r["message"], r["message"])
        cl.request("POST", f"/v1/runs/{rid}/cancel")
    except AssertionError as e:
        C.check("distributed scenario", False, f"{e}\n{cl.logs()}")
    finally:
        cl.close()
        sv.__exit__(None, None, None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--mode", default="all", choices=["embedded", "distributed", "all"])
    a = ap.parse_args()
    if a.mode in ("embedded", "all"):
        embedded(a.cvbench)
    if a.mode in ("distributed", "all"):
        distributed(a.cvbench)
    C.exit()


if __name__ == "__main__":
    main()
