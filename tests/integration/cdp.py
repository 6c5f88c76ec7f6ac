# SPDX-License-Identifier: Apache-2.0
"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe
(stdlib only): Debian's headless chromium is started with the protocol on
fds 3 (commands in) and 4 (responses and events out), messages separated by
NUL bytes. Enough to open a page, evaluate JavaScript in it and watch its
network requests and exceptions, which --dump-dom cannot (it dumps once,
without waiting for the page's fetches, and not the documents in iframes).

    with Browser(path, profile_dir, log_path) as b:
        b.navigate("http://127.0.0.1:8080/")
        b.wait_for("document.querySelector('#x') !== null", timeout=20)
        value = b.eval("document.title")
        b.requests      # every URL the page requested
        b.exceptions    # uncaught JavaScript exceptions (text)
"""
import fcntl
import json
import os
import select
import shutil
import time

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
    "--window-size=1280,1600", "--remote-debugging-pipe",
]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


class CDPError(RuntimeError):
    pass


class Browser:
    def __init__(self, path, profile, log_path, extra_flags=()):
        cmd_r, cmd_w = os.pipe()
        resp_r, resp_w = os.pipe()
        # move the child's ends above 3/4 first, so the dup2s below never
        # land on themselves (dup2(fd, fd) would keep close-on-exec)
        hi_cmd = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_resp = fcntl.fcntl(resp_w, fcntl.F_DUPFD_CLOEXEC, 10)
        self._log = open(log_path, "ab")
        argv = [path] + FLAGS + ["--user-data-dir=" + profile] + list(extra_flags) + ["about:blank"]
        self.pid = os.posix_spawn(path, argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, self._log.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2),
            (os.POSIX_SPAWN_DUP2, hi_cmd, 3),
            (os.POSIX_SPAWN_DUP2, hi_resp, 4),
        ])
        for fd in (cmd_r, resp_w, hi_cmd, hi_resp):
            os.close(fd)
        self._w, self._r = cmd_w, resp_r
        self._buf = b""
        self._id = 0
        self.session = None
        self.requests = []
        self.exceptions = []
        self.console_errors = []
        t = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        a = self.call("Target.attachToTarget", {"targetId": t["targetId"], "flatten": True},
                      session=False)
        self.session = a["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.call(domain + ".enable")

    # ---- transport ---------------------------------------------------------
    def _send(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._w, data)
            data = data[n:]

    def _recv(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("chromium did not answer in time")
            r, _, _ = select.select([self._r], [], [], left)
            if not r:
                continue
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise CDPError("chromium closed the DevTools pipe (crashed?)")
            self._buf += chunk
        msg, _, self._buf = self._buf.partition(b"\0")
        return json.loads(msg)

    def _event(self, m):
        method, p = m.get("method"), m.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.exceptions.append((d.get("exception") or {}).get("description") or d.get("text"))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.console_errors.append(" ".join(str(a.get("value", a.get("description")))
                                                for a in p.get("args", [])))

    def call(self, method, params=None, session=True, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self._send(msg)
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise CDPError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self._event(m)

    def pump(self, seconds):
        """Read events for 'seconds' (keeps requests/exceptions current)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self._event(self._recv(deadline))
        except CDPError as e:
            if "in time" not in str(e):
                raise

    # ---- page --------------------------------------------------------------
    def navigate(self, url, timeout=20):
        """Load 'url' and wait until that document has loaded."""
        r = self.call("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))
        if not self.wait_for("document.readyState === 'complete' && location.href === %s"
                             % json.dumps(url), timeout):
            raise CDPError("%s did not load within %d s" % (url, timeout))

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError("evaluating %s: %s" % (expr[:80], r["exceptionDetails"]))
        return r.get("result", {}).get("value")

    def wait_for(self, expr, timeout):
        """Evaluate 'expr' every 0.25 s until it is truthy; returns its value,
        or None after 'timeout' seconds. An expression that throws (the page
        is not there yet) counts as false, until the last try, which raises."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                v = self.eval(expr)
            except CDPError:
                if time.monotonic() >= deadline:
                    raise
                v = None
            if v:
                return v
            if time.monotonic() >= deadline:
                return None
            self.pump(0.25)

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except (CDPError, OSError):
            pass
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.1)
        else:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
