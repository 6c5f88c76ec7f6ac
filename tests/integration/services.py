#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test services: real redis-server, PostgreSQL and Prometheus on free
loopback ports in a temp dir, for the integration tests of the store, the
queue and the service. System python3, stdlib only.

Two ways to use it:

  * as a module (Python tests):

        from services import Services
        with Services(redis=True, postgres=True, prometheus_targets=["127.0.0.1:9101"]) as sv:
            sv.redis_url   # redis://127.0.0.1:P
            sv.pg_url      # postgresql://cvbench@127.0.0.1:P/cvbench
            sv.prom_url    # http://127.0.0.1:P
            sv.restart_redis(kill=True)   # SIGKILL + start again on the same port and data

  * as a command wrapper (ctest):

        services.py --redis --postgres [--prometheus-target HOST:PORT ...] -- CMD ARGS...

    starts the servers, runs CMD with CVB_TEST_REDIS_URL, CVB_TEST_PG_URL
    (and CVB_TEST_PROM_URL) in its environment, stops the servers and exits
    with CMD's status (128+N if a signal N ended it).

A missing server binary is a skip: exit 77 with the reason (the module
raises ServicesMissing), except under CI=true, where it is a failure (exit
1): CI installs them (`make test`'s install-deps).

Invariants:
  1. Every process started here is stopped by its PID (its own process
     group): on exit, on an exception, on SIGTERM/SIGINT/SIGHUP (turned
     into an exception that unwinds through the cleanup), with SIGKILL after
     a grace period. If this process itself is SIGKILLed the kernel sends
     each server its parent-death signal (prctl PR_SET_PDEATHSIG; for
     PostgreSQL, setpriv --pdeathsig), so nothing is left behind. The
     death signal follows the *thread* that started the server: start
     Services from a thread that outlives its use (the main thread).
  2. Everything a server writes lives in one temp dir, removed at the end
     (kept, and named, when CVB_TEST_KEEP_SERVICES=1).
  3. PostgreSQL refuses to run as root: as root, initdb and postgres run as
     nobody:nogroup (setpriv) in a subdirectory chown'ed to it, under a temp
     dir whose every ancestor is traversable.
"""
import argparse
import ctypes
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PG_BIN = os.environ.get("CVB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = float(os.environ.get("CVB_TEST_SERVICE_TIMEOUT", "30"))
STOP_GRACE_S = 10.0
EXIT_SKIP = 77


class ServicesMissing(RuntimeError):
    """A server binary is not installed (a skip, except under CI=true)."""


class ServicesError(RuntimeError):
    """A server was installed but did not start."""


class _Interrupted(BaseException):
    """A termination signal, raised so the cleanup runs."""

    def __init__(self, signum):
        super().__init__(f"signal {signum}")
        self.signum = signum


# ---- helpers -------------------------------------------------------------------

_libc = None


def _pdeathsig_preexec(sig=signal.SIGTERM):
    """A preexec_fn: the child gets 'sig' when the thread that forked it dies."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1

    def fn():
        _libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)

    return fn


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _which(name, extra_dirs=()):
    for d in extra_dirs:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def _tail(path, n=30):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError as e:
        return f"    (no log: {e})"


def _traversable_by_all(path):
    """True if every ancestor of 'path' (inclusive) is o+x."""
    p = os.path.abspath(path)
    while True:
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


def _sweep_stale(base):
    """Remove temp dirs left by a Services whose process was SIGKILLed
    (its servers died with it: parent-death signal) -- owner gone, dir
    older than a minute."""
    try:
        names = [n for n in os.listdir(base) if n.startswith("cvb-svc-")]
    except OSError:
        return
    for n in names:
        d = os.path.join(base, n)
        try:
            with open(os.path.join(d, "owner.pid")) as f:
                pid = int(f.read().strip())
            if time.time() - os.stat(d).st_mtime < 60:
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            continue


class _Proc:
    """One started server: its Popen, name, log file and how to stop it."""

    def __init__(self, name, argv, log_path, stop_signal=signal.SIGTERM, cwd=None, env=None,
                 preexec=True):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.stop_signal = stop_signal
        self.log = open(log_path, "ab")
        try:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                cwd=cwd, env=env, start_new_session=True,
                preexec_fn=_pdeathsig_preexec(stop_signal) if preexec else None)
        except BaseException:
            self.log.close()
            raise

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def stop(self, sig=None, grace_s=STOP_GRACE_S):
        """Signal the server's process group, wait, SIGKILL after grace_s."""
        p = self.popen
        try:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, sig or self.stop_signal)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    print(f"services: {self.name} (pid {p.pid}) still running after "
                          f"{grace_s:.0f} s: SIGKILL", file=sys.stderr)
            # Whatever is left of the group (a server's children) goes too.
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            if p.poll() is None:
                p.wait(timeout=10)
        finally:
            self.log.close()


# ---- the services ----------------------------------------------------------------

class Services:
    """Start the requested servers on __enter__, stop them on __exit__.

    redis: bool; postgres: bool; prometheus_targets: None (no Prometheus) or
    a list of "host:port" scrape targets (may be empty); or prometheus=True
    for a Prometheus with no targets.
    """

    def __init__(self, redis=False, postgres=False, prometheus_targets=None, prometheus=False,
                 verbose=False):
        self.want_redis = redis
        self.want_pg = postgres
        self.prom_targets = list(prometheus_targets) if prometheus_targets is not None else (
            [] if prometheus else None)
        self.verbose = verbose
        self.tmp = None
        self.redis_port = self.pg_port = self.prom_port = None
        self.redis_url = self.pg_url = self.prom_url = None
        self.timings = {}
        self._redis = self._pg = self._prom = None
        self._old_handlers = {}
        self._as_user = None  # setpriv argv prefix when running postgres as nobody

    # -- lifecycle --

    def check_binaries(self):
        """Raise ServicesMissing naming each missing binary."""
        missing = []
        if self.want_redis and not _which("redis-server"):
            missing.append("redis-server (Debian package redis-server)")
        if self.want_pg:
            for b in ("initdb", "postgres", "pg_isready", "psql"):
                if not _which(b, [PG_BIN]) or not os.access(os.path.join(PG_BIN, b), os.X_OK):
                    missing.append(f"{PG_BIN}/{b} (Debian package postgresql-15)")
                    break
            if os.geteuid() == 0 and not _which("setpriv"):
                missing.append("setpriv (util-linux), needed to run PostgreSQL as nobody")
        if self.prom_targets is not None and not _which("prometheus"):
            missing.append("prometheus (Debian package prometheus)")
        if missing:
            raise ServicesMissing("not installed: " + ", ".join(missing))

    def __enter__(self):
        self.check_binaries()
        self._install_signal_handlers()
        try:
            self._make_tmp()
            if self.want_pg:
                self.start_postgres()
            if self.want_redis:
                self.start_redis()
            if self.prom_targets is not None:
                self.start_prometheus(self.prom_targets)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stop every server (by PID), remove the temp dir. Idempotent."""
        t0 = time.monotonic()
        errors = []
        for attr in ("_prom", "_redis", "_pg"):
            p = getattr(self, attr)
            if p is not None:
                try:
                    p.stop()
                except BaseException as e:  # keep stopping the others
                    errors.append(f"{p.name}: {e}")
                setattr(self, attr, None)
        if self.tmp:
            if os.environ.get("CVB_TEST_KEEP_SERVICES") == "1":
                print(f"services: kept {self.tmp}", file=sys.stderr)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        self._restore_signal_handlers()
        self.timings["stop_s"] = time.monotonic() - t0
        if errors:
            raise ServicesError("stopping: " + "; ".join(errors))

    def _install_signal_handlers(self):
        import threading
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            raise _Interrupted(signum)

        for s in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                self._old_handlers[s] = signal.signal(s, handler)

    def _restore_signal_handlers(self):
        for s, h in self._old_handlers.items():
            signal.signal(s, h)
        self._old_handlers = {}

    def _make_tmp(self):
        base = tempfile.gettempdir()
        if os.geteuid() == 0 and self.want_pg and not _traversable_by_all(base):
            base = "/tmp"  # nobody must reach the PostgreSQL dir through it
        _sweep_stale(base)
        self.tmp = tempfile.mkdtemp(prefix="cvb-svc-", dir=base)
        os.chmod(self.tmp, 0o755)
        with open(os.path.join(self.tmp, "owner.pid"), "w") as f:
            f.write(f"{os.getpid()}\n")
        if os.geteuid() == 0 and self.want_pg and not _traversable_by_all(self.tmp):
            raise ServicesError(f"{self.tmp}: an ancestor is not traversable by others; "
                                "PostgreSQL (run as nobody) could not reach its directory")

    def _log(self, msg):
        if self.verbose:
            print(f"services: {msg}", file=sys.stderr)

    def _wait(self, proc, ready, what):
        """Poll ready() until true; if proc exits or time runs out, stop it and
        fail naming its log."""
        try:
            self._poll_ready(proc, ready, what)
        except BaseException:
            proc.stop(grace_s=2)
            raise

    def _poll_ready(self, proc, ready, what):
        deadline = time.monotonic() + START_TIMEOUT_S
        delay = 0.01
        while True:
            if ready():
                return
            if not proc.alive():
                raise ServicesError(f"{proc.name} exited with status {proc.popen.returncode} "
                                    f"before {what}; log {proc.log_path}:\n{_tail(proc.log_path)}")
            if time.monotonic() > deadline:
                raise ServicesError(f"{proc.name} not {what} after {START_TIMEOUT_S:.0f} s; "
                                    f"log {proc.log_path}:\n{_tail(proc.log_path)}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def _start_with_port_retry(self, start_fn, name):
        """start_fn(port) -> proc; a port taken between probe and bind is retried."""
        last = None
        for _ in range(3):
            port = _free_port()
            try:
                return start_fn(port)
            except ServicesError as e:
                last = e
                if "in use" not in str(e).lower():
                    raise
                self._log(f"{name}: port {port} taken, retrying")
        raise last

    # -- redis --

    def _redis_ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _redis_spawn(self, port):
        d = os.path.join(self.tmp, "redis")
        os.makedirs(d, exist_ok=True)
        self.redis_port = port
        proc = _Proc("redis-server", [
            _which("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
            "--appendonly", "yes", "--save", "", "--maxmemory-policy", "noeviction",
            "--daemonize", "no", "--protected-mode", "no"],
            os.path.join(self.tmp, "redis.log"), cwd=d)
        self._wait(proc, self._redis_ping, "answering PING")
        return proc

    def start_redis(self):
        t0 = time.monotonic()
        if self.redis_port is None:
            self._redis = self._start_with_port_retry(self._redis_spawn, "redis")
        else:  # a restart keeps port and data
            self._redis = self._redis_spawn(self.redis_port)
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}"
        self.timings["redis_start_s"] = time.monotonic() - t0
        self._log(f"redis-server pid {self._redis.pid} at {self.redis_url}")

    def _stop_one(self, attr, kill):
        p = getattr(self, attr)
        if p is not None:
            setattr(self, attr, None)
            p.stop(sig=signal.SIGKILL if kill else None)

    def stop_redis(self, kill=False):
        """Stop redis (SIGTERM, or SIGKILL if kill); its data dir stays."""
        self._stop_one("_redis", kill)

    def restart_redis(self, kill=False):
        """Stop (SIGKILL if kill) and start again on the same port and data."""
        self.stop_redis(kill=kill)
        self.start_redis()

    # -- postgres --

    def _pg_argv(self, argv):
        return (self._as_user or []) + argv

    def _pg_ready(self):
        r = subprocess.run([os.path.join(PG_BIN, "pg_isready"), "-q", "-h", "127.0.0.1",
                            "-p", str(self.pg_port), "-U", "cvbench", "-d", "postgres",
                            "-t", "1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def _pg_spawn(self, port):
        self.pg_port = port
        base = os.path.join(self.tmp, "pg")
        proc = _Proc("postgres", self._pg_argv([
            os.path.join(PG_BIN, "postgres"), "-D", os.path.join(base, "data"), "-p", str(port),
            "-k", base, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            "-c", "max_connections=100"]),
            os.path.join(self.tmp, "postgres.log"), stop_signal=signal.SIGINT, cwd=base,
            env=self._pg_env(), preexec=self._as_user is None)
        self._wait(proc, self._pg_ready, "accepting connections")
        return proc

    def _pg_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["LANG"] = "C"
        return env

    def start_postgres(self):
        t0 = time.monotonic()
        base = os.path.join(self.tmp, "pg")
        first = self.pg_port is None
        if first:
            os.makedirs(base, mode=0o700)
            if os.geteuid() == 0:
                os.chown(base, 65534, 65534)
                self._as_user = [_which("setpriv"), "--reuid=nobody", "--regid=nogroup",
                                 "--clear-groups", "--pdeathsig", "INT"]
            r = subprocess.run(self._pg_argv([
                os.path.join(PG_BIN, "initdb"), "-A", "trust", "-U", "cvbench", "--no-sync",
                "-E", "UTF8", "--locale=C", "-D", os.path.join(base, "data")]),
                cwd=base, env=self._pg_env(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                raise ServicesError(f"initdb failed (status {r.returncode}):\n"
                                    + r.stdout.decode("utf-8", "replace")[-4000:])
            self.timings["pg_initdb_s"] = time.monotonic() - t0
            self._pg = self._start_with_port_retry(self._pg_spawn, "postgres")
            r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-h", "127.0.0.1",
                                "-p", str(self.pg_port), "-U", "cvbench", "-d", "postgres",
                                "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE cvbench"],
                               env=self._pg_env(), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode != 0:
                raise ServicesError("creating database cvbench failed: "
                                    + r.stdout.decode("utf-8", "replace"))
        else:
            self._pg = self._pg_spawn(self.pg_port)
        self.pg_url = f"postgresql://cvbench@127.0.0.1:{self.pg_port}/cvbench"
        self.timings["pg_start_s"] = time.monotonic() - t0
        self._log(f"postgres pid {self._pg.pid} at {self.pg_url}")

    def stop_postgres(self, kill=False):
        """Stop PostgreSQL (fast shutdown, or SIGKILL if kill); its data stays."""
        self._stop_one("_pg", kill)

    def restart_postgres(self, kill=False):
        self.stop_postgres(kill=kill)
        self.start_postgres()

    # -- prometheus --

    def _prom_ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.prom_port}/-/ready",
                                        timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _prom_spawn(self, port):
        self.prom_port = port
        proc = _Proc("prometheus", [
            _which("prometheus"), "--config.file", os.path.join(self.tmp, "prometheus.yml"),
            "--storage.tsdb.path", os.path.join(self.tmp, "prom"),
            "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "warn"],
            os.path.join(self.tmp, "prometheus.log"), cwd=self.tmp)
        self._wait(proc, self._prom_ready, "ready (/-/ready)")
        return proc

    def start_prometheus(self, targets):
        t0 = time.monotonic()
        for t in targets:
            host, _, port = t.rpartition(":")
            if not host or not port.isdigit() or any(c in t for c in "'\"\n\\ "):
                raise ValueError(f"prometheus target '{t}': expected HOST:PORT")
        lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
                 "  evaluation_interval: 1s", "scrape_configs:", "  - job_name: cvbench",
                 "    static_configs:", "      - targets: ["
                 + ", ".join(f"'{t}'" for t in targets) + "]"]
        with open(os.path.join(self.tmp, "prometheus.yml"), "w") as f:
            f.write("\n".join(lines) + "\n")
        self._prom = self._start_with_port_retry(self._prom_spawn, "prometheus")
        self.prom_url = f"http://127.0.0.1:{self.prom_port}"
        self.timings["prom_start_s"] = time.monotonic() - t0
        self._log(f"prometheus pid {self._prom.pid} at {self.prom_url}")

    def pids(self):
        return {p.name: p.pid for p in (self._redis, self._pg, self._prom) if p is not None}


# ---- command wrapper -------------------------------------------------------------------

def _missing_exit(msg):
    if os.environ.get("CI", "").lower() == "true":
        print(f"services: FAIL: {msg} (CI=true: the servers must be installed; "
              "make install-deps)", file=sys.stderr)
        return 1
    print(f"services: SKIP: {msg}", file=sys.stderr)
    return EXIT_SKIP


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        i = argv.index("--")
        own, cmd = argv[:i], argv[i + 1:]
    else:
        own, cmd = argv, []
    ap = argparse.ArgumentParser(
        description="Start test servers, run CMD with CVB_TEST_*_URL set, stop them.",
        usage="services.py [--redis] [--postgres] [--prometheus-target HOST:PORT ...] -- CMD ...")
    ap.add_argument("--redis", action="store_true")
    ap.add_argument("--postgres", action="store_true")
    ap.add_argument("--prometheus", action="store_true", help="start Prometheus (no targets)")
    ap.add_argument("--prometheus-target", action="append", default=None, metavar="HOST:PORT")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(own)
    if not cmd:
        ap.error("no command after --")

    sv = Services(redis=args.redis, postgres=args.postgres,
                  prometheus_targets=args.prometheus_target, prometheus=args.prometheus,
                  verbose=args.verbose)
    child = None
    # SIGINT too: ctest or a terminal may send it; the cleanup must still run.
    old_int = signal.signal(signal.SIGINT, lambda s, f: (_ for _ in ()).throw(_Interrupted(s)))
    rc = 1
    try:
        try:
            sv.__enter__()
        except ServicesMissing as e:
            return _missing_exit(str(e))
        t = sv.timings
        print("services: started in %.2f s (%s)" % (
            sum(v for k, v in t.items() if k.endswith("_start_s")),
            ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in t.items())), file=sys.stderr)
        env = dict(os.environ)
        for name, url in (("REDIS", sv.redis_url), ("PG", sv.pg_url), ("PROM", sv.prom_url)):
            if url:
                env[f"CVB_TEST_{name}_URL"] = url
        env["CVB_TEST_SERVICES_DIR"] = sv.tmp
        child = subprocess.Popen(cmd, env=env, preexec_fn=_pdeathsig_preexec(signal.SIGTERM))
        st = child.wait()
        rc = st if st >= 0 else 128 - st
    except _Interrupted as e:
        print(f"services: interrupted by signal {e.signum}: stopping", file=sys.stderr)
        rc = 128 + e.signum
    except (ServicesError, OSError, ValueError) as e:
        print(f"services: FAIL: {e}", file=sys.stderr)
        rc = 1
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)  # don't interrupt the cleanup
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        try:
            sv.close()
        except ServicesError as e:
            print(f"services: {e}", file=sys.stderr)
            rc = rc or 1
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        if args.verbose:
            print("services: stopped in %.2f s" % sv.timings.get("stop_s", 0), file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
