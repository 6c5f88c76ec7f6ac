# SPDX-License-Identifier: Apache-2.0
"""Shared by the service tests (api_schema.py, dashboard_chromium.py): start
`cvbench serve` embedded (one in-process worker, SQLite store, a bearer
token) on a free loopback port in a temp dir with a tiny synthetic model and
clip as its data root, talk to it over HTTP, and stop it by PID.

Stdlib only."""
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MODEL, CLIP = "m.onnx", "c.mp4"
# The smallest real scenario: a 64x64 yolov8n and a 1 s 160x120 clip run a
# level in well under a second on the 2-core dev machine.
TINY = {"model": MODEL, "video": [CLIP], "streams": [1, 2], "frames": 20, "warmup": 2,
        "max_duration": 0, "accuracy_sample": 0}


failures = []


def check(ok, what):
    """Print one check's outcome; a failed one is remembered in failures."""
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self):
        return self.body.decode(errors="replace")


class Service:
    """A `cvbench serve` process. Use as a context manager; .stop() returns
    the exit status after SIGTERM (None if it had to be killed)."""

    def __init__(self, cvbench, tmp, workers=1, extra=()):
        self.cvbench, self.tmp = cvbench, tmp
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.token = secrets.token_hex(16)
        self.log_path = os.path.join(tmp, "serve.log")
        tok = os.path.join(tmp, "token")
        with open(tok, "w") as f:
            f.write(self.token + "\n")
        os.chmod(tok, 0o600)
        self.data = os.path.join(tmp, "data")
        os.makedirs(self.data, exist_ok=True)
        self._synth()
        self.argv = [cvbench, "serve", "--listen", "127.0.0.1:%d" % self.port,
                     "--db", os.path.join(tmp, "x.db"), "--data-root", self.data,
                     "--workers", str(workers), "--token-file", tok] + list(extra)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self._wait_ready()

    def _synth(self):
        for args in (["model", "synth", "--arch", "yolov8n", "--imgsz", "64", "-o",
                      os.path.join(self.data, MODEL)],
                     ["video", "synth", "--size", "160x120", "--seconds", "1", "-o",
                      os.path.join(self.data, CLIP)]):
            r = subprocess.run([self.cvbench] + args, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            if r.returncode != 0:
                raise RuntimeError("cvbench %s failed:\n%s" % (" ".join(args),
                                                              r.stdout.decode(errors="replace")))

    def _wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("cvbench serve exited with %s before answering; log:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                if self.request("GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("cvbench serve did not answer /healthz within %d s; log:\n%s"
                           % (timeout, self.log_tail()))

    def log_tail(self, n=4000):
        if not self._log.closed:
            self._log.flush()
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-n:]
        except OSError:
            return ""

    def request(self, method, path, body=None, token=None, headers=None, timeout=30):
        """One HTTP request; 'body' a dict/list (sent as JSON), str or bytes;
        token True: the server's token. A server that answers before reading
        the whole body (413) may reset the upload: its answer is still read."""
        h = dict(headers or {})
        if token is True:
            token = self.token
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            try:
                c.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                pass
            r = c.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            c.close()

    def submit(self, scenario):
        r = self.request("POST", "/v1/runs", scenario, token=True)
        if r.status != 201:
            raise RuntimeError("POST /v1/runs %s -> %d %s" % (scenario, r.status, r.text()))
        return r.json()["id"]

    def wait_run(self, run_id, pred, timeout):
        """Poll GET /v1/runs/<id> until pred(run) holds; returns the run or None."""
        deadline = time.monotonic() + timeout
        run = None
        while time.monotonic() < deadline:
            r = self.request("GET", "/v1/runs/" + run_id)
            run = r.json() if r.status == 200 else None
            if run is not None and pred(run):
                return run
            time.sleep(0.3)
        return None

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self._log.closed:
            self.stop()


def with_service(cvbench, keep, prefix, fn):
    """The frame of a service test: check that `cvbench serve` exists, start
    it in 'keep' (or a new temp dir named 'prefix'...), run fn(svc, tmp),
    stop it (it must exit 0 on SIGTERM) and return the test's exit status:
    0 when every check passed (the temp dir is removed), else 1 (kept, with
    the server log's tail printed)."""
    r = subprocess.run([cvbench, "serve", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    if not check(r.returncode == 0, "cvbench serve --help exits 0 (the serve command exists)"):
        print(r.stdout.decode(errors="replace")[-2000:])
        return 1
    t = keep or tempfile.mkdtemp(prefix=prefix)
    os.makedirs(t, exist_ok=True)
    try:
        svc = Service(cvbench, t)
    except RuntimeError as e:
        check(False, "cvbench serve starts: %s" % e)
        return 1
    try:
        fn(svc, t)
        check(svc.proc.poll() is None, "the server is still running after the tests")
    finally:
        rc = svc.stop()
    check(rc == 0, "cvbench serve exits 0 on SIGTERM (%s)" % rc)
    if failures:
        print("server log tail:\n" + svc.log_tail(3000))
        print("%d check(s) failed; files in %s" % (len(failures), t))
        return 1
    print("all checks passed")
    if not keep:
        shutil.rmtree(t, ignore_errors=True)
    return 0
