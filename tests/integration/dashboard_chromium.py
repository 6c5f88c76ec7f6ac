#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The dashboard (GET /, src/service/dashboard.html) in a real browser:
starts `cvbench serve` embedded (service_fixture.py: one worker, a tiny
synthetic model and clip), submits a tiny run and a run no worker can take
(an unknown worker_tag) through POST /v1/runs, drives Debian's headless
chromium over the DevTools protocol (cdp.py; the page polls every 2 s, so we
wait on the live DOM instead of a one-shot --dump-dom) and checks

  1. the runs table lists both runs (tr[data-run-id]) newest first, and the
     workers table the embedded worker (tr[data-worker-id]);
  2. /#run=<queued id> shows that run with its "why it waits" message and
     "waiting for the first level" instead of a report (the API answers 409);
  3. once the tiny run has finished a level (per the API), /#run=<id> shows
     one levels-table row per finished level whose streams and worker are
     the API's, and iframe#report holds the HTML report with its SVG charts;
  4. the page requested nothing but the server's own URLs (no CDN, no font)
     and threw no JavaScript exception.

Exits 77 (skipped, with the reason) without chromium. ~30 s on the 2-core
dev machine.

usage: dashboard_chromium.py --cvbench PATH [--keep DIR]
"""
import argparse
import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cdp  # noqa: E402
import service_fixture as sf  # noqa: E402

check = sf.check


def js_str(s):
    """A JavaScript string literal for s (ids are plain, but be safe)."""
    return json.dumps(s)


def drive(svc, b, t):
    rid = svc.submit(sf.TINY)
    qid = svc.submit(dict(sf.TINY, worker_tag="no-such-tag"))
    print("submitted %s (tiny) and %s (no worker can take it)" % (rid, qid), flush=True)

    # 1. lists
    b.navigate(svc.base + "/")
    ids = b.wait_for("(function(){var r=document.querySelectorAll('#runs tbody tr[data-run-id]');"
                     "var ids=[].map.call(r,function(x){return x.getAttribute('data-run-id')});"
                     "return ids.indexOf(%s)>=0 && ids.indexOf(%s)>=0 ? ids : null})()"
                     % (js_str(rid), js_str(qid)), 15)
    check(ids is not None, "runs table lists both submitted runs (%s)" % ids)
    if ids:
        check(ids.index(qid) < ids.index(rid), "newest first: %s before %s" % (qid, rid))
    workers = b.wait_for("(function(){var r=document.querySelectorAll('#workers tbody "
                         "tr[data-worker-id]');return r.length?[].map.call(r,function(x)"
                         "{return x.getAttribute('data-worker-id')}):null})()", 15)
    api_workers = [w["id"] for w in (svc.request("GET", "/v1/workers").json() or {})
                   .get("workers", [])]
    check(workers is not None and sorted(workers) == sorted(api_workers),
          "workers table lists the API's workers (%s; API %s)" % (workers, api_workers))
    shot(b, os.path.join(t, "list.png"))

    # 2. a queued run: its message, and no report yet
    b.navigate("about:blank")
    b.navigate(svc.base + "/#run=" + qid)
    shown = b.wait_for("(function(){var r=document.getElementById('run');return !r.hidden && "
                       "r.getAttribute('data-status')?r.getAttribute('data-run-id'):null})()", 15)
    check(shown == qid, "/#run=<queued id> shows that run (%s)" % shown)
    api_msg = svc.request("GET", "/v1/runs/" + qid).json().get("message")
    msg = b.eval("document.getElementById('run-message').textContent")
    check(bool(api_msg) and msg == api_msg, "the run's message is shown (%r; API %r)"
          % (msg, api_msg))
    b.pump(2.5)  # at least one more poll
    status = b.eval("document.getElementById('report-status').textContent")
    check(status == "waiting for the first level", "report status says %r" % status)
    check(b.eval("document.querySelectorAll('#levels tbody tr[data-level]').length") == 0,
          "no level rows for a queued run")
    check(b.eval("document.getElementById('report').srcdoc") == "", "no report in the iframe")

    # 3. the tiny run after its first level
    run = svc.wait_run(rid, lambda x: x["levels_done"] >= 1 or x["status"] in
                       ("done", "failed", "cancelled"), 180)
    if not check(run is not None and run["levels_done"] >= 1,
                 "the tiny run finishes a level within 180 s (%s)"
                 % ((run and (run["status"], run["message"])),)):
        return
    b.navigate("about:blank")
    b.navigate(svc.base + "/#run=" + rid)
    n_svg = b.wait_for("(function(){var d=document.getElementById('report').contentDocument;"
                       "return d && d.querySelectorAll('svg').length})()", 20)
    check(bool(n_svg) and n_svg >= 4, "iframe#report holds the report with its SVG charts "
          "(%s svg)" % n_svg)
    title = b.eval("(function(){var d=document.getElementById('report').contentDocument;"
                   "return d && d.querySelector('h1') && d.querySelector('h1').textContent})()")
    check(bool(title) and title.startswith("cvbench report"), "report title %r" % title)
    rows = b.eval("[].map.call(document.querySelectorAll('#levels tbody tr[data-level]'),"
                  "function(tr){return [].map.call(tr.cells,function(c){return c.textContent})})")
    run = svc.request("GET", "/v1/runs/" + rid).json()
    api_levels = [lv for s in run["scenarios"] for lv in s["levels"]]
    # the page may be one poll behind the API: compare the levels it shows
    check(rows is not None and 1 <= len(rows) <= len(api_levels),
          "levels table has a row per finished level (%d rows, API %d levels)"
          % (len(rows or []), len(api_levels)))
    for row, lv in zip(rows or [], api_levels):
        # columns: scenario, level, streams, fps, fps/stream, p50, p99, stable, bottleneck,
        # status, worker
        check(row[2] == str(lv["streams"]) and row[10] == lv.get("worker")
              and abs(float(row[3]) - lv["fps"]) <= 0.051,
              "level row %s matches the API (streams %s, fps %.1f, worker %s)"
              % (row, lv["streams"], lv["fps"], lv.get("worker")))
    status = b.eval("document.getElementById('report-status').textContent")
    check(status.startswith("report of "), "report status says %r" % status)
    shot(b, os.path.join(t, "run.png"))

    # 4. nothing from outside, no exception
    b.pump(0.5)
    foreign = sorted({u for u in b.requests if not (u.startswith(svc.base + "/") or
                                                    u.startswith(("about:", "data:")))})
    check(not foreign, "the page requested only the server's URLs %s" % foreign[:5])
    check(not b.exceptions, "no JavaScript exception %s" % b.exceptions[:3])
    svc.request("POST", "/v1/runs/%s/cancel" % qid, token=True)


def shot(b, path):
    data = b.call("Page.captureScreenshot", {"format": "png"})["data"]
    with open(path, "wb") as f:
        f.write(base64.b64decode(data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--keep", help="work in this dir and keep it")
    o = ap.parse_args()
    browser = cdp.find_chromium()
    if browser is None:
        print("SKIP: chromium is not installed (Debian: apt-get install chromium; "
              "scripts/install-deps.sh --test)")
        return 77

    def body(svc, t):
        try:
            with cdp.Browser(browser, os.path.join(t, "profile"),
                             os.path.join(t, "chromium.log")) as b:
                drive(svc, b, t)
        except cdp.CDPError as e:
            check(False, "DevTools session: %s" % e)
    return sf.with_service(o.cvbench, o.keep, "cvb-dash-", body)


if __name__ == "__main__":
    sys.exit(main())
