#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of the test-services harness (services.py): starts redis,
PostgreSQL and Prometheus, checks each answers, that a SIGKILLed redis
comes back on the same port with its data (appendonly), that PostgreSQL
restarts with its data, that the command wrapper passes the URLs and the
exit status, and that after close no server PID is alive and the temp dir
is gone. Skips (77) when a server is not installed (fails under CI=true)."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import services  # noqa: E402

PSQL = os.path.join(services.PG_BIN, "psql")


def redis_cmd(port, *args):
    req = b"*%d\r\n" % len(args) + b"".join(
        b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(req)
        return s.recv(4096)


def psql(url, sql):
    return subprocess.run([PSQL, "-X", "-At", url, "-c", sql], capture_output=True, text=True,
                          check=True).stdout.strip()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie no one has reaped yet is not running.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def main():
    t0 = time.monotonic()
    try:
        sv = services.Services(redis=True, postgres=True, prometheus=True).__enter__()
    except services.ServicesMissing as e:
        return services._missing_exit(str(e))
    try:
        print(f"started in {time.monotonic() - t0:.2f} s: {sv.timings}")
        pids = list(sv.pids().values())
        tmp = sv.tmp
        check(redis_cmd(sv.redis_port, "PING") == b"+PONG\r\n", "redis answers PING")
        check(psql(sv.pg_url, "SELECT current_user || ' ' || current_database()")
              == "cvbench cvbench", "postgres: user cvbench, database cvbench")
        with urllib.request.urlopen(sv.prom_url + "/-/ready", timeout=5) as r:
            check(r.status == 200, "prometheus ready")

        redis_cmd(sv.redis_port, "SET", "k", "v")
        port = sv.redis_port
        sv.restart_redis(kill=True)
        pids += list(sv.pids().values())
        check(sv.redis_port == port and redis_cmd(port, "GET", "k") == b"$1\r\nv\r\n",
              "redis SIGKILL + restart: same port, data kept")

        psql(sv.pg_url, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)")
        sv.restart_postgres()
        pids += list(sv.pids().values())
        check(psql(sv.pg_url, "SELECT x FROM t") == "42", "postgres restart: data kept")
    finally:
        t1 = time.monotonic()
        sv.close()
        print(f"stopped in {time.monotonic() - t1:.2f} s")
    check(not any(alive(p) for p in pids), "no server PID alive after close")
    check(not os.path.exists(tmp), "temp dir removed")

    # The command wrapper: URLs in the environment, the command's status back.
    r = subprocess.run([sys.executable, services.__file__, "--redis", "--postgres", "--",
                        "sh", "-c", 'test -n "$CVB_TEST_REDIS_URL" && test -n "$CVB_TEST_PG_URL"'
                        ' && exit 5'])
    check(r.returncode == 5, "wrapper: URLs exported, exit status passed through")
    return 0


if __name__ == "__main__":
    sys.exit(main())
