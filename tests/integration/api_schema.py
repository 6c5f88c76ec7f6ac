#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The service API against its contract (docs/openapi.yaml, /work notes api.md):
starts `cvbench serve` embedded (service_fixture.py: SQLite, one worker, a
bearer token, a tiny synthetic model and clip as the data root) and

  1. checks docs/openapi.yaml is a valid OpenAPI 3.0 document;
  2. makes explicit requests for every status code of the contract and
     validates each body against the spec's schema: 201 + Location for a
     submitted run, which then finishes (done, 2 levels, the Run document
     with its Levels validated against the schema, its HTML report with
     SVG charts); 400 (malformed JSON, a scalar body, nesting deeper than
     32); 401 (POST without / with a wrong token; GETs need none); 404
     (unknown path, run, report, cancel); 405 with Allow; 409 (report of a
     run with no level, cancel of a finished or cancelled run); 413 (a body
     over 1 MiB); 422 (out-of-range field named in error.field, unknown
     field, output fields, paths outside the data root, bad list sizes,
     bad query parameters);
  3. runs schemathesis (pinned in scripts/test-venv.sh) against the live
     server with the token: phases examples, coverage (boundary values of
     every parameter and field) and fuzzing, a bounded number of examples
     per operation and a fixed seed, checks not_a_server_error,
     status_code_conformance, content_type_conformance,
     response_schema_conformance, response_headers_conformance,
     unsupported_method, allow_header_conformance and ignored_auth; any
     finding fails the test;
  4. stops the server with SIGTERM: it must exit 0.

Exits 77 (skipped, with the reason) when the venv lacks schemathesis or
openapi-spec-validator. ~1-2 min on the 2-core dev machine.

usage: api_schema.py --cvbench PATH [--max-examples N] [--keep DIR]
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import service_fixture as sf  # noqa: E402

SPEC = os.path.join(HERE, "..", "..", "docs", "openapi.yaml")
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,unsupported_method,"
          "allow_header_conformance,ignored_auth")

check = sf.check


class Schemas:
    """Validate instances against components/schemas/<name> of the spec."""

    def __init__(self, spec):
        from openapi_schema_validator import OAS30Validator
        self.spec, self.cls = spec, OAS30Validator

    def errors(self, name, instance):
        schema = {"$ref": "#/components/schemas/" + name, "components": self.spec["components"]}
        v = self.cls(schema)
        return ["%s at %s" % (e.message[:200], "/".join(map(str, e.absolute_path)))
                for e in v.iter_errors(instance)][:5]

    def check(self, name, instance, what):
        errs = self.errors(name, instance)
        return check(not errs, "%s is a valid %s %s" % (what, name, errs or ""))


def expect_error(sch, r, status, what, field=None, mentions=None):
    """r is an error response with 'status' and a valid Error body."""
    body = r.json()
    ok = check(r.status == status, "%s -> %d (got %d %s)" % (what, status, r.status,
                                                           r.text()[:200]))
    if not ok:
        return False
    ctype = (r.header("Content-Type") or "").split(";")[0].strip()
    check(ctype == "application/json", "%s: error is application/json (%s)" % (what, ctype))
    if not sch.check("Error", body, "%s: body" % what):
        return False
    e = body["error"]
    check(e["status"] == status, "%s: error.status %s == %d" % (what, e["status"], status))
    if field is not None:
        check(e.get("field") == field, "%s: error.field %r == %r (message: %s)"
              % (what, e.get("field"), field, e["message"]))
    if mentions is not None:
        check(mentions in e["message"], "%s: message names %r (%s)" % (what, mentions,
                                                                       e["message"]))
    return True


def explicit(svc, sch):
    # ---- health, dashboard, metrics ---------------------------------------
    r = svc.request("GET", "/healthz")
    check(r.status == 200, "GET /healthz -> 200")
    sch.check("Health", r.json(), "/healthz")
    r = svc.request("GET", "/")
    check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/html"),
          "GET / -> 200 text/html (%d %s)" % (r.status, r.header("Content-Type")))
    with open(os.path.join(HERE, "..", "..", "src", "service", "dashboard.html"), "rb") as f:
        check(r.body == f.read(), "GET / serves src/service/dashboard.html byte for byte")
    r = svc.request("GET", "/metrics")
    check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/plain"),
          "GET /metrics -> 200 text/plain (%d %s)" % (r.status, r.header("Content-Type")))

    # ---- submit a tiny run --------------------------------------------------
    r = svc.request("POST", "/v1/runs", sf.TINY, token=True)
    if not check(r.status == 201, "POST /v1/runs tiny scenario -> 201 (%d %s)"
                 % (r.status, r.text()[:300])):
        return
    created = r.json()
    sch.check("RunCreated", created, "201 body")
    rid = created["id"]
    check(r.header("Location") == "/v1/runs/" + rid,
          "Location header %r is /v1/runs/<id>" % r.header("Location"))
    check(created.get("url") == "/v1/runs/" + rid, "body url is /v1/runs/<id>")

    # the same scenario as a list and as {"scenarios": [...]}: two scenarios each
    for form, body in (("a list", [sf.TINY, dict(sf.TINY, streams=[1])]),
                       ("{scenarios}", {"scenarios": [sf.TINY, dict(sf.TINY, streams=[1])]})):
        r = svc.request("POST", "/v1/runs", body, token=True)
        if check(r.status == 201, "POST /v1/runs as %s -> 201 (%d %s)" % (form, r.status,
                                                                        r.text()[:300])):
            g = svc.request("GET", "/v1/runs/" + r.json()["id"])
            check(g.status == 200 and len(g.json().get("scenarios", [])) == 2,
                  "run submitted as %s has 2 scenarios" % form)

    # ---- 401 --------------------------------------------------------------
    expect_error(sch, svc.request("POST", "/v1/runs", sf.TINY), 401, "POST /v1/runs without token")
    expect_error(sch, svc.request("POST", "/v1/runs", sf.TINY, token="wrong" + svc.token), 401,
                 "POST /v1/runs with a wrong token")
    expect_error(sch, svc.request("POST", "/v1/runs/%s/cancel" % rid), 401,
                 "POST cancel without token")
    r = svc.request("POST", "/v1/runs", sf.TINY, headers={"Authorization": "Basic " + svc.token})
    expect_error(sch, r, 401, "POST /v1/runs with a Basic (not Bearer) credential")

    # ---- 400 --------------------------------------------------------------
    expect_error(sch, svc.request("POST", "/v1/runs", "{", token=True), 400,
                 "POST malformed JSON")
    expect_error(sch, svc.request("POST", "/v1/runs", "42", token=True), 400,
                 "POST a number (not an object or list)")
    expect_error(sch, svc.request("POST", "/v1/runs", '"m.onnx"', token=True), 400,
                 "POST a string (not an object or list)")
    deep = "[" * 40 + "]" * 40
    expect_error(sch, svc.request("POST", "/v1/runs", deep, token=True), 400,
                 "POST nested 40 deep (limit 32)")
    expect_error(sch, svc.request("POST", "/v1/runs", "", token=True), 400, "POST an empty body")

    # ---- 413 --------------------------------------------------------------
    big = '{"model": "m.onnx", "video": "c.mp4", "worker_tag": "' + "x" * (1 << 20) + '"}'
    expect_error(sch, svc.request("POST", "/v1/runs", big, token=True), 413,
                 "POST a body of %d bytes (limit 1 MiB)" % len(big))

    # ---- 422 --------------------------------------------------------------
    base = {"model": sf.MODEL, "video": sf.CLIP}
    cases = [
        (dict(base, frames=-1), "frames", "frames -1"),
        (dict(base, frames=0), "frames", "frames 0"),
        (dict(base, streams=[2, 1]), "streams", "streams not ascending"),
        (dict(base, streams=[0]), "streams", "streams [0]"),
        (dict(base, precision="fp64"), "precision", "precision fp64"),
        (dict(base, imgsz=33), "imgsz", "imgsz not a multiple of 32"),
        (dict(base, frames="20"), "frames", "frames as a string"),
        (dict(base, bogus=1), "bogus", "an unknown field"),
        (dict(base, db="x.db"), "db", "output field db"),
        (dict(base, report="r.html"), "report", "output field report"),
        (dict(base, json="r.json"), "json", "output field json"),
        (dict(base, csv="r.csv"), "csv", "output field csv"),
        ({"video": sf.CLIP}, "model", "no model"),
        ({"model": sf.MODEL}, "video", "no video"),
        (dict(base, model="/etc/passwd"), "model", "model outside the data roots"),
        (dict(base, model="../token"), "model", "model ../ out of the data root"),
        (dict(base, video=["c.mp4", "/etc/hostname"]), "video", "a video outside the data roots"),
        (dict(base, model="missing.onnx"), "model", "a model that does not exist"),
        (dict(base, worker_tag="a b"), "worker_tag", "worker_tag with a space"),
    ]
    for body, field, what in cases:
        expect_error(sch, svc.request("POST", "/v1/runs", body, token=True), 422,
                     "POST %s" % what, field=field)
    expect_error(sch, svc.request("POST", "/v1/runs", [], token=True), 422, "POST an empty list")
    expect_error(sch, svc.request("POST", "/v1/runs", [base] * 17, token=True), 422,
                 "POST a list of 17 scenarios")
    expect_error(sch, svc.request("POST", "/v1/runs", {"scenarios": []}, token=True), 422,
                 "POST {scenarios: []}")
    for q in ("limit=0", "limit=501", "limit=x", "offset=-1", "status=bogus"):
        r = svc.request("GET", "/v1/runs?" + q)
        check(r.status in (400, 422), "GET /v1/runs?%s -> 400 or 422 (got %d)" % (q, r.status))
        if r.status in (400, 422):
            sch.check("Error", r.json(), "GET /v1/runs?%s body" % q)

    # ---- 404 --------------------------------------------------------------
    expect_error(sch, svc.request("GET", "/nope"), 404, "GET /nope")
    expect_error(sch, svc.request("GET", "/v1/runs/no-such-run"), 404, "GET unknown run")
    expect_error(sch, svc.request("GET", "/v1/runs/no-such-run/report"), 404,
                 "GET report of an unknown run")
    expect_error(sch, svc.request("POST", "/v1/runs/no-such-run/cancel", token=True), 404,
                 "POST cancel of an unknown run")
    expect_error(sch, svc.request("GET", "/v1/runs/%s/nope" % rid), 404, "GET /v1/runs/<id>/nope")

    # ---- 405 --------------------------------------------------------------
    for method, path, allow in (("DELETE", "/v1/runs", {"GET", "POST"}),
                                ("PUT", "/healthz", {"GET"}),
                                ("POST", "/v1/workers", {"GET"}),
                                ("GET", "/v1/runs/%s/cancel" % rid, {"POST"}),
                                ("DELETE", "/v1/runs/%s" % rid, {"GET"})):
        r = svc.request(method, path, token=True)
        if expect_error(sch, r, 405, "%s %s" % (method, path)):
            got = {m.strip() for m in (r.header("Allow") or "").split(",") if m.strip()}
            check(allow <= got, "%s %s: Allow %r lists %s" % (method, path, r.header("Allow"),
                                                              sorted(allow)))

    # ---- 409: a run no worker can take stays queued -----------------------
    qid = svc.submit(dict(sf.TINY, worker_tag="no-such-tag"))
    run = svc.request("GET", "/v1/runs/" + qid).json()
    check(run is not None and run["status"] == "queued", "run for an unknown tag is queued")
    check(bool(run and run.get("message")), "queued run's message says why it waits (%r)"
          % (run and run.get("message")))
    expect_error(sch, svc.request("GET", "/v1/runs/%s/report" % qid), 409,
                 "GET report of a run with no level yet")
    r = svc.request("POST", "/v1/runs/%s/cancel" % qid, token=True)
    check(r.status == 200 and r.json() == {"id": qid, "status": "cancelled"},
          "POST cancel of a queued run -> 200 {id, status: cancelled} (%d %s)"
          % (r.status, r.text()[:200]))
    expect_error(sch, svc.request("POST", "/v1/runs/%s/cancel" % qid, token=True), 409,
                 "POST cancel of a cancelled run")

    # ---- the tiny run finishes ----------------------------------------------
    run = svc.wait_run(rid, lambda x: x["status"] in ("done", "failed", "cancelled"), 180)
    if not check(run is not None and run["status"] == "done",
                 "tiny run is done within 180 s (%s)" % ((run and (run["status"], run["message"])),)):
        return
    sch.check("Run", run, "GET /v1/runs/<done id>")
    levels = run["scenarios"][0]["levels"]
    check([lv.get("streams") for lv in levels] == [1, 2],
          "done run has levels for 1 and 2 streams (%s)" % [lv.get("streams") for lv in levels])
    check(run["levels_done"] == 2 and run["progress"]["levels_done"] == 2,
          "levels_done is 2 (%s, progress %s)" % (run["levels_done"],
                                                 run["progress"]["levels_done"]))
    check(all(lv.get("worker") for lv in levels), "every level names its worker")
    check(run["finished_at"] is not None, "a done run has finished_at")
    r = svc.request("GET", "/v1/runs/%s/report" % rid)
    check(r.status == 200 and (r.header("Content-Type") or "").startswith("text/html")
          and r.text().count("<svg") >= 4,
          "GET report of the done run -> 200 text/html with the 4 SVG charts (%d, %d svg)"
          % (r.status, r.text().count("<svg")))
    expect_error(sch, svc.request("POST", "/v1/runs/%s/cancel" % rid, token=True), 409,
                 "POST cancel of a done run")

    # ---- listing ----------------------------------------------------------
    r = svc.request("GET", "/v1/runs")
    runs = (r.json() or {}).get("runs", [])
    check(r.status == 200, "GET /v1/runs -> 200")
    for i, x in enumerate(runs):
        sch.check("RunSummary", x, "runs[%d]" % i)
    created = [x["created_at"] for x in runs]
    check(created == sorted(created, reverse=True), "runs are newest first")
    check(len(runs) == 4, "4 runs listed (%d)" % len(runs))
    r = svc.request("GET", "/v1/runs?limit=1&offset=1")
    page = (r.json() or {}).get("runs", [])
    check(len(page) == 1 and len(runs) > 1 and page[0]["id"] == runs[1]["id"],
          "limit=1&offset=1 is the second newest run")
    r = svc.request("GET", "/v1/runs?status=cancelled")
    check([x["id"] for x in (r.json() or {}).get("runs", [])] == [qid],
          "status=cancelled lists exactly the cancelled run")
    r = svc.request("GET", "/v1/workers")
    ws = (r.json() or {}).get("workers", [])
    check(r.status == 200 and len(ws) >= 1, "GET /v1/workers lists the embedded worker")
    for i, w in enumerate(ws):
        sch.check("Worker", w, "workers[%d]" % i)


def run_schemathesis(svc, o, t):
    st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    cmd = [st, "run", os.path.abspath(SPEC), "--url", svc.base,
           "-H", "Authorization: Bearer " + svc.token,
           "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
           "--max-examples", str(o.max_examples), "--seed", "1", "--workers", "1",
           "--request-timeout", "20", "--suppress-health-check", "all",
           "--report", "junit", "--report-dir", os.path.join(t, "schemathesis")]
    print("running: " + " ".join(c if svc.token not in c else "<token header>" for c in cmd),
          flush=True)
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=400,
                           cwd=t, env=env)
    except subprocess.TimeoutExpired:
        return check(False, "schemathesis finished within 400 s")
    out = r.stdout.decode(errors="replace")
    with open(os.path.join(t, "schemathesis.log"), "w") as f:
        f.write(out)
    if r.returncode != 0:
        print(out[-12000:])
    else:
        print("\n".join(out.splitlines()[-14:]))
    return check(r.returncode == 0, "schemathesis: no finding (exit %d; log %s)"
                 % (r.returncode, os.path.join(t, "schemathesis.log")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cvbench", required=True)
    ap.add_argument("--max-examples", type=int, default=25,
                    help="schemathesis examples per operation (default 25)")
    ap.add_argument("--keep", help="work in this dir and keep it")
    ap.add_argument("--no-schemathesis", action="store_true", help="only the explicit checks")
    o = ap.parse_args()
    try:
        import openapi_spec_validator
        import schemathesis  # noqa: F401
        import yaml
    except ImportError as e:
        print("SKIP: the test venv lacks %s; run scripts/test-venv.sh" % e.name)
        return 77
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    try:
        openapi_spec_validator.validate(spec)
        check(True, "docs/openapi.yaml is a valid OpenAPI %s document" % spec["openapi"])
    except Exception as e:  # the validator's error types vary by version
        check(False, "docs/openapi.yaml is a valid OpenAPI document: %s" % str(e)[:2000])
        return 1
    sch = Schemas(spec)

    def body(svc, t):
        explicit(svc, sch)
        if not o.no_schemathesis:
            run_schemathesis(svc, o, t)
    return sf.with_service(o.cvbench, o.keep, "cvb-api-", body)


if __name__ == "__main__":
    sys.exit(main())
