#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Fault tests of the service's queue semantics, on real processes (the
same for both queue implementations):

  long      a task that runs 10 x the lease completes with zero redeliveries
  kill      kill -9 of a worker mid-task: another worker finishes it, one result row
  stop      SIGSTOP of a worker past its lease, then SIGCONT: its late result is
            fenced off, one result row
  dup       a duplicate delivery of a finished task is acknowledged, not rerun
            (Redis: a second stream entry for the task id)
  restart   the coordinator (serve) is killed mid-run and restarted: the run completes
  fence     a late result is rejected at completion: the task moves to a new attempt
            in the store while its level runs (what a second delivery does)
  dead      a task whose workers keep dying goes dead after --max-attempts, with
            the reason; its run fails saying so

Periods are scaled down: lease 1 s, heartbeat 0.2 s. Levels are paced by the
camera clock (pacing camera, target_fps) so their length is known: a level of
F frames at R fps lasts about F/R s.

usage: service_faults.py --cvbench PATH --queue redis|store [--case NAME ...]
Prints each outcome (attempts, result rows, time to take over) for the
issue note."""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

from svc import Checks, Cluster, wait_for

C = Checks()
LEASE = 1.0
HB = 0.2


def paced(cl, seconds, fps=20, **kw):
    return cl.scenario(pacing="camera", target_fps=fps, frames=int(seconds * fps), warmup=2,
                       **kw)


def level_rows(cl, rid):
    r = cl.run(rid)
    return [(s["index"], x["level"], x["worker"]) for s in r["scenarios"] for x in s["levels"]]


def running_on(cl, rid, level=0):
    t = cl.task(rid, level)
    return t if t and t["state"] == "running" else None


def parse_ts(iso):
    import datetime
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Env:
    """Where the store and broker live for one queue implementation."""

    def __init__(self, queue):
        self.queue = queue
        self.sv = None
        if queue == "redis":
            from services import Services, ServicesMissing
            try:
                self.sv = Services(redis=True, postgres=True)
                self.sv.__enter__()
            except ServicesMissing as e:
                print(f"skip: {e}")
                sys.exit(77)

    def store(self, cl):
        return self.sv.pg_url if self.sv else os.path.join(cl.dir, "cvbench.db")

    def broker(self):
        return self.sv.redis_url if self.sv else None

    def serve(self, cl, **kw):
        return cl.serve(store=self.store(cl), broker=self.broker(), workers=0, lease=LEASE,
                        heartbeat=HB, **kw)

    def worker(self, cl, name, *args, metrics_port=None):
        return cl.worker(*args, store=self.store(cl), broker=self.broker(), lease=LEASE,
                         heartbeat=HB, name=name, metrics_port=metrics_port)

    def close(self):
        if self.sv:
            self.sv.__exit__(None, None, None)


def case_long(env, cl):
    env.serve(cl)
    w = env.worker(cl, "worker")
    secs = 10 * LEASE + 2
    rid = cl.submit(paced(cl, secs))
    r = cl.wait_run(rid, 120)
    t = cl.task(rid)
    dur = parse_ts(t["finished_at"]) - parse_ts(t["started_at"])
    print(f"long: task ran {dur:.1f} s = {dur / LEASE:.1f} x the lease; attempt {t['attempt']}; "
          f"level rows {len(level_rows(cl, rid))}")
    C.check("long: the run completes", r["status"] == "done", r["message"])
    C.check("long: the task ran longer than 10 x the lease", dur >= 10 * LEASE, dur)
    C.check("long: zero redeliveries (attempt 1)", t["attempt"] == 1, t)
    C.check("long: one result row", len(level_rows(cl, rid)) == 1)
    C.check("long: the worker never abandoned it", "abandoned" not in w.text(), w.text()[-800:])


def case_kill(env, cl):
    env.serve(cl)
    a = env.worker(cl, "worker-a")
    rid = cl.submit(paced(cl, 6))
    t = wait_for("the task to run", lambda: running_on(cl, rid), 60)
    first = t["worker"]
    b = env.worker(cl, "worker-b")
    victim = a if first == a.worker_id else b
    time.sleep(1.0)
    t_kill = time.time()
    victim.signal(signal.SIGKILL)
    wait_for("another worker to take the task over",
             lambda: (lambda t: t if t and t["attempt"] >= 2 else None)(cl.task(rid)), 60, 0.05)
    takeover = time.time() - t_kill
    r = cl.wait_run(rid, 120)
    rows = level_rows(cl, rid)
    t3 = cl.task(rid)
    print(f"kill: killed {first} mid-task; taken over by {t3['worker']} {takeover:.2f} s later "
          f"(lease {LEASE} s); attempts {t3['attempt']}; result rows {len(rows)}")
    C.check("kill: the run completes", r["status"] == "done", r["message"])
    C.check("kill: another worker finished it", t3["worker"] != first and
            rows[0][2] == t3["worker"], (first, t3["worker"], rows))
    C.check("kill: exactly one result row", len(rows) == 1, rows)
    C.check("kill: two attempts", t3["attempt"] == 2, t3["attempt"])
    C.check("kill: taken over after the lease, within lease + 3 s",
            LEASE * 0.8 <= takeover <= LEASE + 3, takeover)


def case_stop(env, cl):
    env.serve(cl)
    a = env.worker(cl, "worker-a")
    rid = cl.submit(paced(cl, 5))
    t = wait_for("the task to run", lambda: running_on(cl, rid), 60)
    b = env.worker(cl, "worker-b")
    victim = a if t["worker"] == a.worker_id else b
    time.sleep(1.0)
    t_stop = time.time()
    victim.signal(signal.SIGSTOP)
    wait_for("another worker to take the task over",
             lambda: (lambda t: t if t and t["attempt"] >= 2 else None)(cl.task(rid)), 60, 0.05)
    takeover = time.time() - t_stop
    victim.signal(signal.SIGCONT)
    r = cl.wait_run(rid, 120)
    wait_for("the stopped worker to notice it was fenced off",
             lambda: "abandoned" in victim.text() or "rejected (fenced" in victim.text(), 30)
    rows = level_rows(cl, rid)
    t3 = cl.task(rid)
    how = "result rejected" if "rejected (fenced" in victim.text() else \
        "abandoned at its next renewal (fenced)"
    print(f"stop: SIGSTOP {t['worker']} for {takeover:.2f} s until takeover by {t3['worker']} "
          f"(lease {LEASE} s), then SIGCONT; the late worker's work: {how}; attempts "
          f"{t3['attempt']}; result rows {len(rows)}")
    C.check("stop: the run completes", r["status"] == "done", r["message"])
    C.check("stop: one result row, from the new owner", len(rows) == 1 and
            rows[0][2] == t3["worker"] and t3["worker"] != t["worker"], rows)
    C.check("stop: the late worker was fenced off", "fenced" in victim.text() or
            "taken over" in victim.text(), victim.text()[-600:])
    C.check("stop: the late worker stays alive and takes new work", victim.alive())


def metric(port, name):
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def case_dup(env, cl):
    from svc import free_port
    env.serve(cl)
    mport = free_port()
    w = env.worker(cl, "worker", metrics_port=mport)
    rid = cl.submit(cl.scenario())
    r = cl.wait_run(rid, 60)
    t = cl.task(rid)
    before = t["attempt"]
    if env.queue == "redis":
        key = "cvb:tasks:cpu:auto:-"
        url = env.sv.redis_url
        host, port = url[len("redis://"):].split(":")
        out = subprocess.run(["redis-cli", "-h", host, "-p", port.split("/")[0], "XADD", key, "*",
                              "task_id", t["task"]], stdout=subprocess.PIPE, text=True)
        print(f"dup: XADD {key} task {t['task']} -> {out.stdout.strip()}")
        wait_for("the worker to acknowledge the duplicate",
                 lambda: (metric(mport, "cvb_finished_redeliveries_acked_total") or 0) >= 1, 30)
        xlen = subprocess.run(["redis-cli", "-h", host, "-p", port.split("/")[0], "XLEN", key],
                              stdout=subprocess.PIPE, text=True).stdout.strip()
        C.check("dup: the duplicate entry was acknowledged and deleted", xlen == "0", xlen)
    else:
        # the store queue only delivers queued or expired tasks: a re-push is a no-op
        time.sleep(3 * LEASE)
    t2 = cl.task(rid)
    rows = level_rows(cl, rid)
    print(f"dup: duplicate delivery of finished task {t['task']}: attempt {before} -> "
          f"{t2['attempt']}, state {t2['state']}, result rows {len(rows)}")
    C.check("dup: not rerun (attempt unchanged, still done)",
            t2["attempt"] == before and t2["state"] == "done", t2)
    C.check("dup: one result row", len(rows) == 1, rows)


def case_restart(env, cl):
    serve = env.serve(cl, name="serve-1")
    env.worker(cl, "worker")
    rid = cl.submit(paced(cl, 3, streams=[1, 2]))
    wait_for("level 1 to run", lambda: running_on(cl, rid), 60)
    port = int(cl.url.rsplit(":", 1)[1])
    serve.signal(signal.SIGKILL)
    serve.p.wait()
    time.sleep(1.0)
    env.serve(cl, port=port, name="serve-2")
    r = cl.wait_run(rid, 180)
    rows = level_rows(cl, rid)
    print(f"restart: coordinator SIGKILLed while level 1 ran, restarted: run {r['status']}, "
          f"levels {[x[1] for x in rows]}, attempts {[t['attempt'] for t in r['tasks']]}")
    C.check("restart: the run completes after a coordinator restart", r["status"] == "done",
            r["message"])
    C.check("restart: both levels, one row each", [x[1] for x in rows] == [0, 1], rows)


def case_fence(env, cl):
    """A worker's late result is rejected at completion (not only at renewal):
    with a long heartbeat (no renewal during the level), the test plays the
    part of a second delivery by moving the task to a new attempt in the
    store (SQLite) while the level runs; the worker's complete() must be
    fenced and write nothing; the task is then delivered again and
    completes once."""
    cl.serve(store=env.store(cl), broker=env.broker(), workers=0, lease=20, heartbeat=5)
    w = cl.worker(store=env.store(cl), broker=env.broker(), lease=20, heartbeat=5,
                  name="worker")
    rid = cl.submit(paced(cl, 2.5))
    t = wait_for("the task to run", lambda: running_on(cl, rid), 60)
    sql = ("UPDATE tasks SET attempt = attempt + 1, lease_until = 0 WHERE id = '%s' AND "
           "state = 'running'" % t["task"])
    if env.queue == "store":
        import sqlite3
        db = sqlite3.connect(env.store(cl), timeout=10)
        with db:
            n = db.execute(sql).rowcount
        db.close()
    else:
        # PostgreSQL: the reconciler re-enqueues the task (its lease is long expired)
        out = subprocess.run(["psql", env.store(cl), "-qAtc", sql], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        n = 1 if out.returncode == 0 else f"psql failed: {out.stdout}"
    r = cl.wait_run(rid, 90)
    rows = level_rows(cl, rid)
    t2 = cl.task(rid)
    rejected = "result rejected (fenced" in w.text()
    print(f"fence: attempt {t['attempt']} moved to {t['attempt'] + 1} behind the worker's back "
          f"({n} row); its result at completion: {'rejected' if rejected else 'NOT rejected'}; "
          f"final attempt {t2['attempt']}, result rows {len(rows)}")
    C.check("fence: the stale attempt's result is rejected at completion", rejected,
            w.text()[-800:])
    C.check("fence: the run completes with one result row", r["status"] == "done" and
            len(rows) == 1 and t2["attempt"] == t["attempt"] + 2, (r["status"], rows, t2))


def case_dead(env, cl):
    """A task that keeps killing its worker goes dead after --max-attempts
    deliveries, with the reason, and its run fails saying so."""
    cl.serve(store=env.store(cl), broker=env.broker(), workers=0, lease=LEASE, heartbeat=HB,
             extra_args=["--max-attempts", "2"])
    rid = cl.submit(paced(cl, 30))
    killed = []
    for i in range(2):
        w = cl.worker("--max-attempts", "2", store=env.store(cl), broker=env.broker(),
                      lease=LEASE, heartbeat=HB, name=f"worker-{i}")
        wait_for(f"delivery {i + 1}", lambda: (lambda t: t if t and t["attempt"] == i + 1 and
                                               t["state"] == "running" else None)(
            cl.task(rid)), 60, 0.05)
        w.signal(signal.SIGKILL)
        killed.append(w.worker_id)
    cl.worker("--max-attempts", "2", store=env.store(cl), broker=env.broker(), lease=LEASE,
              heartbeat=HB, name="worker-last")
    r = cl.wait_run(rid, 60)
    t = cl.task(rid)
    print(f"dead: killed the worker of each of {len(killed)} deliveries (max attempts 2): task "
          f"{t['state']} after {t['attempt']} attempts: {t['reason']!r}; run {r['status']}: "
          f"{r['message']!r}; result rows {len(level_rows(cl, rid))}")
    C.check("dead: the task is dead after max attempts, with the reason",
            t["state"] == "dead" and "2 attempts" in t["reason"] and killed[-1] in t["reason"],
            t)
    C.check("dead: its run failed, saying why", r["status"] == "failed" and "dead" in
            r["message"], r["message"])
    C.check("dead: no result row", len(level_rows(cl, rid)) == 0)


CASES = {"fence": case_fence, "dead": case_dead, "long": case_long, "kill": case_kill, "stop": case_stop, "dup": case_dup,
         "restart": case_restart}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--queue", required=True, choices=["redis", "store"])
    ap.add_argument("--case", action="append", choices=list(CASES))
    a = ap.parse_args()
    env = Env(a.queue)
    try:
        for name in a.case or list(CASES):
            cl = Cluster(a.cvbench, f"fault-{name}")
            try:
                CASES[name](env, cl)
            except AssertionError as e:
                C.check(f"{name}", False, f"{e}\n{cl.logs()}")
            finally:
                cl.close()
    finally:
        env.close()
    C.exit()


if __name__ == "__main__":
    main()
