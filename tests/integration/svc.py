# SPDX-License-Identifier: Apache-2.0
"""Helpers for the service's integration tests: start `cvbench serve` and
`cvbench worker` processes on free loopback ports in a temp dir, talk to the
API, wait for conditions. Every process started here is stopped by PID
(SIGTERM, then SIGKILL) when the Cluster closes. System python3, stdlib only.

The model and clip are tiny (synthetic yolov8n at 64 px, a 2 s 160x120 clip)
so a level takes about a second unless a test paces it for longer."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout=60.0, every=0.1):
    """Poll fn() until it returns a truthy value; fail naming 'what'."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        try:
            last = fn()
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


class Proc:
    def __init__(self, name, argv, log_path, env=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, start_new_session=True)

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.p.pid, sig)

    def stop(self, timeout=15.0):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGCONT)
                os.kill(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()
        self.log.close()
        return self.p.returncode


class Cluster:
    """A temp dir with a model and a clip, and the cvbench processes of one test."""

    def __init__(self, cvbench, name="svc", keep=False):
        self.cvbench = os.path.abspath(cvbench)
        self.dir = tempfile.mkdtemp(prefix=f"cvb-{name}-")
        self.procs = []
        self.keep = keep or os.environ.get("CVB_TEST_KEEP") == "1"
        self.model = os.path.join(self.dir, "m.onnx")
        self.clip = os.path.join(self.dir, "clip.mp4")
        self.token = "t0k3n-" + os.urandom(6).hex()
        self.token_file = os.path.join(self.dir, "token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        run([self.cvbench, "model", "synth", "--arch", "yolov8n", "--imgsz", "64", "-o",
             self.model])
        run([self.cvbench, "video", "synth", "--size", "160x120", "--fps", "30", "--seconds",
             "2", "-o", self.clip])
        self.url = None

    # ---- processes ----
    def serve(self, *args, store=None, broker=None, workers=None, port=None, lease=1.0,
              heartbeat=0.2, extra_env=None, name="serve", extra_args=()):
        port = port or free_port()
        argv = [self.cvbench, "serve", "--listen", f"127.0.0.1:{port}", "--data-root", self.dir,
                "--token-file", self.token_file, "--lease", str(lease), "--heartbeat",
                str(heartbeat), "--store", store or os.path.join(self.dir, "cvbench.db")]
        if broker:
            argv += ["--broker", broker]
        if workers is not None:
            argv += ["--workers", str(workers)]
        argv += list(args) + list(extra_args)
        env = dict(os.environ, **(extra_env or {}))
        p = Proc(name, argv, os.path.join(self.dir, f"{name}.log"), env)
        self.procs.append(p)
        self.url = f"http://127.0.0.1:{port}"
        wait_for(f"{name} to answer /healthz", lambda: self._healthy(p), 30)
        return p

    def _healthy(self, p):
        if not p.alive():
            raise AssertionError(f"{p.name} exited {p.p.returncode}:\n{p.text()[-3000:]}")
        return self.get("/healthz")[0] == 200

    def worker(self, *args, store=None, broker=None, lease=1.0, heartbeat=0.2, name="worker",
               metrics_port=None):
        argv = [self.cvbench, "worker", "--lease", str(lease), "--heartbeat", str(heartbeat),
                "--store", store or os.path.join(self.dir, "cvbench.db")]
        if broker:
            argv += ["--broker", broker]
        if metrics_port:
            argv += ["--metrics-listen", f"127.0.0.1:{metrics_port}"]
        argv += list(args)
        p = Proc(name, argv, os.path.join(self.dir, f"{name}.log"))
        self.procs.append(p)
        wait_for(f"{name} to start", lambda: "cvbench worker" in p.text() or
                 (not p.alive() and _raise(f"{name} exited:\n{p.text()[-3000:]}")), 30)
        m = re.search(r"cvbench worker (\S+):", p.text())
        p.worker_id = m.group(1) if m else None
        return p

    def close(self):
        for p in reversed(self.procs):
            p.stop()
        if not self.keep:
            subprocess.run(["rm", "-rf", self.dir])
        else:
            print(f"kept {self.dir}")

    def logs(self):
        return "\n".join(f"---- {p.name} ----\n{p.text()[-4000:]}" for p in self.procs)

    # ---- API ----
    def request(self, method, path, body=None, token=True, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            return e.code, e.read(), e.headers

    def get(self, path):
        st, body, _ = self.request("GET", path, token=False)
        try:
            return st, json.loads(body)
        except ValueError:
            return st, body

    def scenario(self, **kw):
        s = {"model": "m.onnx", "video": ["clip.mp4"], "streams": [1], "frames": 30,
             "warmup": 5, "max_duration": 0, "accuracy_sample": 0}
        s.update(kw)
        return s

    def submit(self, *scenarios):
        body = scenarios[0] if len(scenarios) == 1 else list(scenarios)
        st, resp, _ = self.request("POST", "/v1/runs", body)
        assert st == 201, f"submit answered {st}: {resp[:500]!r}"
        return json.loads(resp)["id"]

    def run(self, rid):
        st, r = self.get(f"/v1/runs/{rid}")
        assert st == 200, f"GET run {rid}: {st} {r!r}"
        return r

    def wait_run(self, rid, timeout=120, states=("done", "failed", "cancelled")):
        return wait_for(f"run {rid} to finish",
                        lambda: (lambda r: r if r["status"] in states else None)(self.run(rid)),
                        timeout, 0.2)

    def task(self, rid, level=0, scenario=1):
        for t in self.run(rid)["tasks"]:
            if t["level"] == level and t["scenario"] == scenario:
                return t
        return None


def _raise(msg):
    raise AssertionError(msg)


def run(argv, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {r.returncode}:\n{r.stdout.decode()}")
    return r.stdout.decode()


class Checks:
    """Named checks: each prints a line; failures are collected."""

    def __init__(self):
        self.failed = []

    def check(self, name, cond, detail=""):
        print(f"{'ok  ' if cond else 'FAIL'} {name}{': ' + str(detail) if detail else ''}",
              flush=True)
        if not cond:
            self.failed.append(name)

    def exit(self):
        if self.failed:
            print(f"{len(self.failed)} check(s) failed: {', '.join(self.failed)}")
            sys.exit(1)
        print("all checks passed")
        sys.exit(0)
