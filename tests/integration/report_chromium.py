#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The HTML report rendered by a real browser: headless Chromium (Debian's
`chromium` package) loads the page `cvbench run --report` writes, with name
resolution mapped to nothing and a network log recorded, and we check

  1. the rendered DOM (--dump-dom) has the four inline SVG charts, each with
     its title (figcaption and aria-label) and one data point per level in
     the throughput chart, and the results table has one row per level whose
     first cell is that level's stream count (cross-checked with --json), and
     the "Accuracy under load" table one row per level whose frames sampled
     and F1 are the JSON's;
  2. the page loads nothing from the network: no http(s) or protocol-relative
     URL in any src/href/xlink:href/srcset/poster/data attribute or CSS url(),
     no <script src>/<link href>/<iframe>, and Chromium's net log shows no
     request the page itself started (a control page with one external image
     proves the net-log check sees such requests);
  3. a screenshot is a real rendering: a PNG of the requested size that is
     much larger than a blank page's (a blank 1280x1600 page is ~10 KB).

Stdlib only (runs with the system python3). Exits 77 (skipped, with the
reason) when chromium is not installed. Takes ~10 s on the 2-core machine.

usage: report_chromium.py --cvbench PATH [--keep DIR]
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from cdp import find_chromium  # tests/integration/cdp.py

CHARTS = {  # aria-label -> figcaption prefix
    "throughput vs streams": "Throughput vs streams",
    "latency percentiles vs streams": "Latency percentiles vs streams",
    "stage-time shares per level": "Where frame time goes",
    "RSS over time per level": "Resident memory over time",
}
LEVELS = [1, 2]
WIN_W, WIN_H = 1280, 1600
MIN_PNG_BYTES = 40 * 1024
EXTERNAL = re.compile(r"^\s*(https?:|ftp:|ws:|wss:|//)", re.I)
URL_ATTRS = {"src", "href", "xlink:href", "srcset", "poster", "data", "action", "formaction"}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)
    return ok


def chromium(browser, profile, args, timeout=60):
    """Run headless Chromium once; returns (rc, stdout). Flags keep it off the
    network and quiet: no background services, every host resolves to
    nothing, a throwaway profile; --no-sandbox because CI runs as root."""
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--user-data-dir=" + profile, "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps",
        "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
        "--hide-scrollbars", "--window-size=%d,%d" % (WIN_W, WIN_H),
    ] + args
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode(errors="replace")[-2000:])
    return r.returncode, r.stdout.decode(errors="replace")


class Dom(html.parser.HTMLParser):
    """Collects what the checks need from the rendered DOM."""

    def __init__(self):
        super().__init__()
        self.svgs = []            # aria-labels
        self.svg_titles = {}      # aria-label -> [<title> texts inside]
        self.figcaptions = []
        self.rows = []            # data rows of the results table: list of cell texts
        self.acc_rows = []        # data rows of the accuracy table
        self._tables = []         # class of each open table
        self.external = []        # (tag, attr, value)
        self.styles = []
        self._svg = None
        self._in = []             # stack of text-collecting tags
        self._text = ""
        self._row = None
        self._table_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k, v in attrs:
            if v is not None and k.lower() in URL_ATTRS:
                vals = [x.strip().split(" ")[0] for x in v.split(",")] if k == "srcset" else [v]
                for x in vals:
                    if EXTERNAL.match(x):
                        self.external.append((tag, k, v))
        if tag in ("script", "iframe", "object", "embed") and (a.get("src") or a.get("data")):
            self.external.append((tag, "src", a.get("src") or a.get("data")))
        if tag == "link" and a.get("href"):
            self.external.append((tag, "href", a["href"]))
        if tag == "svg":
            self._svg = a.get("aria-label", "")
            self.svgs.append(self._svg)
            self.svg_titles.setdefault(self._svg, [])
        elif tag == "table":
            self._table_depth += 1
            self._tables.append(a.get("class", ""))
        elif tag == "tr" and self._table_depth:
            self._row = []
        if tag in ("title", "figcaption", "td", "th", "style"):
            self._in.append(tag)
            self._text = ""

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
            t = self._text.strip()
            if tag == "title" and self._svg is not None:
                self.svg_titles[self._svg].append(t)
            elif tag == "figcaption":
                self.figcaptions.append(t)
            elif tag == "td" and self._row is not None:
                self._row.append(t)
            elif tag == "th" and self._row is not None:
                self._row.append(None)  # header cell: not a data row
            elif tag == "style":
                self.styles.append(self._text)
        if tag == "svg":
            self._svg = None
        elif tag == "table":
            self._table_depth -= 1
            self._tables.pop()
        elif tag == "tr" and self._row is not None:
            if self._row and None not in self._row:
                acc = self._tables and self._tables[-1] == "accuracy"
                (self.acc_rows if acc else self.rows).append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in:
            self._text += data


def page_requests(netlog_path):
    """URLs the page itself asked for, from Chromium's --log-net-log JSON.
    Chromium's own background requests carry initiator 'not an origin'; a
    file:// page's requests carry its opaque origin ('null')."""
    with open(netlog_path) as f:
        d = json.load(f)
    types = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    urls = set()
    for e in d["events"]:
        if types.get(e.get("type")) != "URL_REQUEST_START_JOB":
            continue
        p = e.get("params", {})
        url = p.get("url")
        if not url or url.startswith(("file:", "data:", "blob:", "about:", "chrome:")):
            continue
        if p.get("initiator") == "not an origin":
            continue
        urls.add(url)
    return sorted(urls)


def png_info(path):
    """(width, height, distinct byte values in the decompressed image data)."""
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, w, h = 8, b"", 0, 0
    while pos + 8 <= len(b):
        n, typ = struct.unpack(">I4s", b[pos:pos + 8])
        body = b[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h = struct.unpack(">II", body[:8])
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    return w, h, len(set(raw))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--keep", help="write the files here and keep them")
    o = ap.parse_args()
    browser = find_chromium()
    if browser is None:
        print("SKIP: chromium is not installed (Debian: apt-get install chromium; "
              "scripts/install-deps.sh --test)")
        return 77
    t = o.keep or tempfile.mkdtemp(prefix="cvb-chromium-")
    os.makedirs(t, exist_ok=True)
    rc = run(o, browser, t)
    if rc == 0 and not o.keep:
        shutil.rmtree(t, ignore_errors=True)  # kept on failure, for a look
    return rc


def run(o, browser, t):
    cvb = o.cvbench
    m, c = os.path.join(t, "m.onnx"), os.path.join(t, "c.mp4")
    rep, js = os.path.join(t, "r.html"), os.path.join(t, "r.json")
    for args in (["model", "synth", "--arch", "yolov8n", "--imgsz", "64", "-o", m],
                 ["video", "synth", "--size", "320x240", "--seconds", "2", "-o", c],
                 ["run", "--model", m, "--video", c, "--streams", ",".join(map(str, LEVELS)),
                  "--frames", "20", "--warmup", "2", "--max-duration", "0", "--report", rep, "--json", js,
                  "--db", os.path.join(t, "x.db")]):
        r = subprocess.run([cvb] + args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        if not check(r.returncode == 0, "cvbench %s %s exits 0" % (args[0], args[1])):
            print(r.stdout.decode(errors="replace")[-3000:])
            return 1
    levels = json.load(open(js))["levels"]
    check([lv["streams"] for lv in levels] == LEVELS, "JSON has levels %s" % LEVELS)

    # 1. the rendered DOM
    url = "file://" + os.path.abspath(rep)
    netlog = os.path.join(t, "netlog.json")
    rc, dom_text = chromium(browser, os.path.join(t, "profile"),
                           ["--log-net-log=" + netlog, "--dump-dom", url])
    if not check(rc == 0 and "<svg" in dom_text, "chromium --dump-dom renders the report"):
        return 1
    with open(os.path.join(t, "dom.html"), "w") as f:
        f.write(dom_text)
    dom = Dom()
    dom.feed(dom_text)
    check(len(dom.svgs) == 4, "4 <svg> charts (found %d: %s)" % (len(dom.svgs), dom.svgs))
    for label, caption in CHARTS.items():
        check(label in dom.svgs, "chart '%s' present" % label)
        check(any(fc.startswith(caption) for fc in dom.figcaptions),
              "chart caption '%s' present" % caption)
    tp = dom.svg_titles.get("throughput vs streams", [])
    for n in LEVELS:
        check(any(x.startswith("%d streams: total fps" % n) for x in tp),
              "throughput chart has a point for %d streams" % n)
    check(len(dom.rows) == len(LEVELS),
          "results table has one row per level (%d rows, %d levels)" % (len(dom.rows),
                                                                        len(LEVELS)))
    check([r[0] for r in dom.rows] == [str(n) for n in LEVELS],
          "table rows are levels %s (got %s)" % (LEVELS, [r[0] for r in dom.rows]))
    for r, lv in zip(dom.rows, levels):
        check(len(r) > 2 and abs(float(r[2]) - lv["fps"]) <= 0.01 * max(1.0, lv["fps"]),
              "row %s fps %s matches the JSON %.2f" % (r[0], r[2] if len(r) > 2 else "?",
                                                       lv["fps"]))
    # the accuracy table: streams, frames sampled, F1, mean IoU, matched, ref, test
    check([r[0] for r in dom.acc_rows] == [str(n) for n in LEVELS],
          "accuracy table rows are levels %s (got %s)" % (LEVELS, [r[0] for r in dom.acc_rows]))
    for r, lv in zip(dom.acc_rows, levels):
        a = lv.get("accuracy") or {}
        check(len(r) == 7 and r[1] == str(a.get("frames")) and r[2] == "%.3f" % a.get("f1", -1),
              "accuracy row %s (%s) matches the JSON %s" % (r[0], r[1:3], a))

    # 2. no network resources
    check(not dom.external, "no external src/href in the DOM %s" % dom.external[:5])
    css_urls = [u for s in dom.styles for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", s)]
    css_urls += re.findall(r"@import\s+['\"]?([^'\";\s]+)", " ".join(dom.styles))
    check(not [u for u in css_urls if not u.startswith("data:")],
          "no url()/@import in CSS %s" % css_urls[:5])
    reqs = page_requests(netlog)
    check(not reqs, "net log: the page made no network request %s" % reqs[:5])
    # control: the same net-log check catches a page that does load something
    ctl = os.path.join(t, "control.html")
    with open(ctl, "w") as f:
        f.write('<html><body><img src="https://example.invalid/x.png"></body></html>')
    ctl_log = os.path.join(t, "control-netlog.json")
    chromium(browser, os.path.join(t, "profile"),
             ["--log-net-log=" + ctl_log, "--dump-dom", "file://" + ctl])
    check(any("example.invalid" in u for u in page_requests(ctl_log)),
          "control: the net-log check sees an external image request")

    # 3. screenshot
    png = os.path.join(t, "shot.png")
    rc, _ = chromium(browser, os.path.join(t, "profile"), ["--screenshot=" + png, url])
    ok = check(rc == 0 and os.path.exists(png), "chromium --screenshot wrote a PNG")
    if ok:
        size = os.path.getsize(png)
        info = png_info(png)
        check(info is not None and info[:2] == (WIN_W, WIN_H),
              "screenshot is a %dx%d PNG (%s)" % (WIN_W, WIN_H, info and info[:2]))
        check(size > MIN_PNG_BYTES, "screenshot is %d KB (> %d KB; a blank page is ~10 KB)"
              % (size // 1024, MIN_PNG_BYTES // 1024))
        check(info is not None and info[2] > 64,
              "screenshot data is varied (%s distinct byte values)" % (info and info[2]))
    if failures:
        print("%d check(s) failed; files in %s" % (len(failures), t))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
