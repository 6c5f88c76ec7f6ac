/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP API (/v1) over the store: submit, list, show and cancel runs,
 * their HTML report, the workers. The contract is docs/openapi.yaml; the
 * HTTP layer (src/http/) already answered 401, 404 (path), 405, 413 and
 * 400 (malformed JSON) before a handler here runs.
 *
 * A submitted scenario goes through the same field table as a scenario
 * file and the CLI flags (cvb_scenario_apply_json_buffer): one parser.
 * Relative paths resolve against the first data root, and every path the
 * scenario names (model, calib, videos) must resolve, symlinks followed,
 * under one of the data roots: anything else is 422. */
#include "service/api.h"

#include "cvb/pipeline.h"
#include "cvb/report.h"
#include "http/http.h"
#include "report/result_json.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LEVELS (CVB_SCN_MAX_LEVELS + 64)
#define MAX_TASKS (CVB_STORE_MAX_SCENARIOS * 64)
#define MAX_WORKERS 256
#define SCENARIO_JSON_MAX (CVB_SCN_MAX_VIDEOS * (CVB_SCN_PATH + 8) + 16384)

struct cvb_api {
    struct cvb_api_opts opts;
    struct cvb_store *st;
};

/* ---- helpers ------------------------------------------------------------------------ */

/* ISO 8601 UTC with milliseconds ("2026-12-06T02:13:00.123Z"). */
static void iso_time(double t, char *buf, size_t len) {
    time_t s = (time_t)t;
    int ms = (int)((t - (double)s) * 1000.0);
    if (ms < 0) ms = 0;
    if (ms > 999) ms = 999;
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, ms);
}

static json_t *time_or_null(double t) {
    if (t <= 0) return json_null();
    char buf[32];
    iso_time(t, buf, sizeof buf);
    return json_string(buf);
}

/* A run id as this service makes them: [A-Za-z0-9._-], bounded. */
static bool valid_id(const char *id) {
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= 40) return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* The field an error message names ("... field 'frames': ..."), or NULL. */
static const char *err_field(const char *msg, char *buf, size_t len) {
    const char *p = strstr(msg, "field '");
    if (p == NULL) return NULL;
    p += 7;
    const char *q = strchr(p, '\'');
    if (q == NULL || (size_t)(q - p) >= len) return NULL;
    memcpy(buf, p, (size_t)(q - p));
    buf[q - p] = '\0';
    return buf;
}

/* Store failures: 503 when the store is unreachable, else 500. */
static int store_error(struct cvb_http_resp *resp, const struct cvb_err *err) {
    int status = err->code == CVB_EIO ? 503 : 500;
    cvb_http_resp_error(resp, status, NULL, "%s", err->msg);
    return 0;
}

/* ---- data roots ------------------------------------------------------------------------ */

/* Is 'path' (absolute, from the scenario parser) an existing regular file
 * under a data root once every symlink is resolved? Fills 'why' if not. */
static bool under_roots(const struct cvb_api_opts *o, const char *path, char *why, size_t len) {
    char real[PATH_MAX];
    struct stat st;
    if (realpath(path, real) == NULL || stat(real, &st) != 0) {
        snprintf(why, len, "'%s': %s", path, strerror(errno));
        return false;
    }
    if (!S_ISREG(st.st_mode)) { /* "." or a root itself was accepted (fuzz-api-body) */
        snprintf(why, len, "'%s' resolves to '%s', which is not a regular file", path, real);
        return false;
    }
    for (int i = 0; i < o->n_roots; i++) {
        const char *r = o->roots[i];
        size_t rl = strlen(r);
        if (strcmp(r, "/") == 0) return true;
        if (strncmp(real, r, rl) == 0 && (real[rl] == '/' || real[rl] == '\0')) return true;
    }
    snprintf(why, len, "'%s' resolves to '%s', outside the data roots (--data-root)", path,
             real);
    return false;
}

/* A submission error: status, field (NULL = none) and message into the
 * caller's buffers. Returns 'rc'. */
struct sub_err {
    int *status;
    char *field, *msg;
    size_t field_len, msg_len;
};

static int sub_fail(const struct sub_err *e, int rc, int status, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int sub_fail(const struct sub_err *e, int rc, int status, const char *field,
                    const char *fmt, ...) {
    *e->status = status;
    snprintf(e->field, e->field_len, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->msg_len, fmt, ap);
    va_end(ap);
    return rc;
}

/* Parse one submitted scenario object into s. 0, or a 422 in 'e'. */
static int parse_scenario(const struct cvb_api_opts *o, json_t *obj, int index, int n,
                          struct cvb_scenario *s, const struct sub_err *e) {
    char origin[64], fbuf[64];
    if (n > 1)
        snprintf(origin, sizeof origin, "request body: scenario %d", index + 1);
    else
        snprintf(origin, sizeof origin, "request body");
    if (!json_is_object(obj))
        return sub_fail(e, CVB_EINVAL, 422, NULL, "%s: a scenario must be a JSON object",
                        origin);
    static const char *const outputs[] = {"json", "csv", "report", "db"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(outputs); i++)
        if (json_object_get(obj, outputs[i]) != NULL)
            return sub_fail(e, CVB_EINVAL, 422, outputs[i],
                            "%s: field '%s' is a local output of `cvbench run`; the service "
                            "stores results (GET /v1/runs/{id}, /v1/runs/{id}/report)",
                            origin, outputs[i]);
    char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL) return sub_fail(e, CVB_ENOMEM, 500, NULL, "%s: out of memory", origin);
    struct cvb_err err = {0};
    cvb_scenario_defaults(s);
    int rc = cvb_scenario_apply_json_buffer(s, text, strlen(text), origin,
                                            o->n_roots ? o->roots[0] : NULL, &err);
    free(text);
    if (rc == 0) rc = cvb_scenario_validate(s, &err);
    if (rc < 0)
        return sub_fail(e, rc, 422, err_field(err.msg, fbuf, sizeof fbuf), "%s", err.msg);
    s->db[0] = '\0';
    char why[2 * PATH_MAX + 128];
    if (!under_roots(o, s->model, why, sizeof why))
        return sub_fail(e, CVB_EINVAL, 422, "model", "%s: field 'model': %s", origin, why);
    if (s->calib[0] && !under_roots(o, s->calib, why, sizeof why))
        return sub_fail(e, CVB_EINVAL, 422, "calib", "%s: field 'calib': %s", origin, why);
    for (int i = 0; i < s->n_videos; i++)
        if (!under_roots(o, s->videos[i], why, sizeof why))
            return sub_fail(e, CVB_EINVAL, 422, "video", "%s: field 'video': %s", origin, why);
    return 0;
}

int cvb__api_parse_submission(const struct cvb_api_opts *o, struct json_t *body,
                              struct cvb_scenario *out, int max, int *n, int *status,
                              char *field, size_t field_len, char *msg, size_t msg_len) {
    const struct sub_err e = {status, field, msg, field_len, msg_len};
    json_t *list = NULL;
    *n = 0;
    *status = 0;
    if (field_len) field[0] = '\0';
    if (msg_len) msg[0] = '\0';
    if (json_is_array(body)) {
        list = body;
    } else if (json_is_object(body) && json_object_get(body, "scenarios") != NULL) {
        list = json_object_get(body, "scenarios");
        if (!json_is_array(list) || json_object_size(body) != 1)
            return sub_fail(&e, CVB_EINVAL, 422, "scenarios",
                            "request body: 'scenarios' must be a list of scenario objects "
                            "and the only key");
    }
    int count = list ? (int)json_array_size(list) : 1;
    if (count < 1 || count > max)
        return sub_fail(&e, CVB_EINVAL, 422, "scenarios",
                        "request body: %d scenarios; a run holds 1 to %d", count, max);
    char *text = malloc(SCENARIO_JSON_MAX);
    if (text == NULL) return sub_fail(&e, CVB_ENOMEM, 500, NULL, "out of memory");
    int rc = 0;
    for (int i = 0; i < count; i++) {
        rc = parse_scenario(o, list ? json_array_get(list, (size_t)i) : body, i, count, &out[i],
                            &e);
        if (rc < 0) goto out;
        int len = cvb_scenario_to_json(&out[i], text, SCENARIO_JSON_MAX);
        if (len <= 0 || len >= SCENARIO_JSON_MAX) {
            rc = sub_fail(&e, CVB_ERANGE, 422, NULL, "scenario %d is too large to store", i + 1);
            goto out;
        }
    }
    *n = count;
out:
    free(text);
    return rc;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static int h_health(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    double now;
    struct cvb_err err = {0};
    if (cvb_store_now(a->st, &now, &err) < 0) return store_error(resp, &err);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "status", "ok", "store",
                          cvb_store_kind(a->st), "queue", a->opts.queue_kind, "version",
                          a->opts.version);
    int rc = cvb_http_resp_json(resp, 200, o);
    json_decref(o);
    return rc;
}

static int h_submit(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    int n = 0, status = 0, rc = 0;
    char field[64], msg[2 * PATH_MAX + 256];
    char **texts = NULL;
    struct cvb_scenario *s = malloc(CVB_STORE_MAX_SCENARIOS * sizeof *s);
    if (s == NULL) {
        cvb_http_resp_error(resp, 500, NULL, "out of memory");
        goto out;
    }
    if (cvb__api_parse_submission(&a->opts, req->json, s, CVB_STORE_MAX_SCENARIOS, &n, &status,
                                  field, sizeof field, msg, sizeof msg) < 0) {
        cvb_http_resp_error(resp, status, field[0] ? field : NULL, "%s", msg);
        goto out;
    }
    texts = calloc((size_t)n, sizeof *texts);
    if (texts == NULL) {
        cvb_http_resp_error(resp, 500, NULL, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        texts[i] = malloc(SCENARIO_JSON_MAX);
        if (texts[i] == NULL) {
            cvb_http_resp_error(resp, 500, NULL, "out of memory");
            goto out;
        }
        int len = cvb_scenario_to_json(&s[i], texts[i], SCENARIO_JSON_MAX);
        if (len <= 0 || len >= SCENARIO_JSON_MAX) {
            cvb_http_resp_error(resp, 422, NULL, "scenario %d is too large to store", i + 1);
            goto out;
        }
    }
    char id[40];
    cvb_pipeline_run_id(id, sizeof id, NULL, 0);
    struct cvb_err err = {0};
    if (cvb_store_create_run(a->st, id, (const char *const *)texts, n, &err) < 0) {
        store_error(resp, &err);
        goto out;
    }
    char url[96];
    snprintf(url, sizeof url, "/v1/runs/%s", id);
    cvb_http_resp_header(resp, "Location", url);
    json_t *o = json_pack("{s:s, s:s, s:s}", "id", id, "status", "queued", "url", url);
    rc = cvb_http_resp_json(resp, 201, o);
    json_decref(o);
    cvb_log_info("api: run %s submitted (%d scenario%s)", id, n, n > 1 ? "s" : "");
out:
    if (texts)
        for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(s);
    return rc;
}

static json_t *run_summary(const struct cvb_run_info *r) {
    char created[32];
    iso_time(r->created, created, sizeof created);
    return json_pack("{s:s, s:s, s:s, s:o, s:i, s:i, s:s}", "id", r->id, "status", r->status,
                     "created_at", created, "finished_at", time_or_null(r->finished),
                     "scenarios", r->n_scenarios, "levels_done", r->n_levels, "message",
                     r->message);
}

/* Parse an optional integer query parameter within [lo, hi]. */
static bool query_int(const struct cvb_http_req *req, struct cvb_http_resp *resp,
                      const char *name, long lo, long hi, long *v) {
    const char *q = cvb_http_req_query(req, name);
    if (q == NULL) return true;
    char *end;
    errno = 0;
    long x = strtol(q, &end, 10);
    if (end == q || *end || errno || x < lo || x > hi) {
        cvb_http_resp_error(resp, 422, name, "query parameter '%s': '%.40s' is not an integer in "
                            "%ld..%ld", name, q, lo, hi);
        return false;
    }
    *v = x;
    return true;
}

static int h_list(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    long limit = 50, offset = 0;
    if (!query_int(req, resp, "limit", 1, 500, &limit)) return 0;
    if (!query_int(req, resp, "offset", 0, 1000000000L, &offset)) return 0;
    const char *status = cvb_http_req_query(req, "status");
    if (status != NULL) {
        static const char *const ok[] = {"queued", "running", "done", "failed", "cancelled",
                                         "interrupted"};
        bool found = false;
        for (size_t i = 0; i < CVB_ARRAY_LEN(ok); i++) found |= strcmp(status, ok[i]) == 0;
        if (!found) {
            cvb_http_resp_error(resp, 422, "status",
                                "query parameter 'status': '%.40s' is not one of queued, "
                                "running, done, failed, cancelled",
                                status);
            return 0;
        }
    }
    struct cvb_run_info *runs = calloc((size_t)limit, sizeof *runs);
    if (runs == NULL) return cvb_http_resp_error(resp, 500, NULL, "out of memory"), 0;
    int n = 0;
    struct cvb_err err = {0};
    int rc = 0;
    if (cvb_store_list_runs(a->st, status, (int)offset, runs, (int)limit, &n, &err) < 0) {
        store_error(resp, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(arr, run_summary(&runs[i]));
    json_t *o = json_pack("{s:o}", "runs", arr);
    rc = cvb_http_resp_json(resp, 200, o);
    json_decref(o);
out:
    free(runs);
    return rc;
}

/* Look up the run named by the path; 404 filled in resp when unknown. */
static bool find_run(struct cvb_api *a, const struct cvb_http_req *req,
                     struct cvb_http_resp *resp, struct cvb_run_info *info) {
    const char *id = cvb_http_req_param(req, "id");
    struct cvb_err err = {0};
    if (!valid_id(id)) {
        cvb_http_resp_error(resp, 404, NULL, "no run '%.60s'", id ? id : "");
        return false;
    }
    int rc = cvb_store_get_run_info(a->st, id, info, &err);
    if (rc == CVB_ENOTFOUND) {
        cvb_http_resp_error(resp, 404, NULL, "no run '%s'", id);
        return false;
    }
    if (rc < 0) {
        store_error(resp, &err);
        return false;
    }
    return true;
}

static bool counts_running(const struct cvb_task *t, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].state, "running") == 0) return true;
    return false;
}

/* A worker's published progress (store text, a JSON object) or NULL. */
static json_t *progress_json(const char *text) {
    if (text == NULL || text[0] == '\0') return NULL;
    json_t *j = json_loads(text, 0, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static int h_get(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    struct cvb_run_info info;
    if (!find_run(a, req, resp, &info)) return 0;
    struct cvb_task *tasks = calloc(MAX_TASKS, sizeof *tasks);
    struct cvb_worker_info *workers = calloc(MAX_WORKERS, sizeof *workers);
    struct cvb_level_result *lv = calloc(MAX_LEVELS, sizeof *lv);
    struct cvb_manifest *m = calloc(1, sizeof *m);
    struct cvb_scenario *s = calloc(1, sizeof *s);
    json_t *o = NULL;
    char *sjson = NULL, *text = NULL;
    int rc = 0;
    struct cvb_err err = {0};
    if (!tasks || !workers || !lv || !m || !s) {
        cvb_http_resp_error(resp, 500, NULL, "out of memory");
        goto out;
    }
    int n_tasks = 0;
    if (cvb_store_list_tasks(a->st, info.id, NULL, tasks, MAX_TASKS, &n_tasks, &err) < 0) {
        store_error(resp, &err);
        goto out;
    }
    int n_workers = 0;
    if (counts_running(tasks, n_tasks) &&
        cvb_store_list_workers(a->st, a->opts.lost_after_s, workers, MAX_WORKERS, &n_workers,
                               &err) < 0) {
        store_error(resp, &err);
        goto out;
    }
    int64_t counts[CVB_TASK_N_STATES] = {0};
    json_t *current = json_array(), *all = json_array();
    for (int i = 0; i < n_tasks; i++) {
        json_array_append_new(
            all, json_pack("{s:s, s:i, s:i, s:i, s:s, s:i, s:s, s:s, s:o, s:o}", "task",
                           tasks[i].id, "scenario", tasks[i].scenario + 1, "level",
                           tasks[i].level, "streams", tasks[i].streams, "state",
                           tasks[i].state, "attempt", tasks[i].attempt, "worker",
                           tasks[i].worker, "reason", tasks[i].reason, "started_at",
                           time_or_null(tasks[i].started), "finished_at",
                           time_or_null(tasks[i].finished)));
        for (int k = 0; k < CVB_TASK_N_STATES; k++)
            if (strcmp(tasks[i].state, cvb_task_states[k]) == 0) counts[k]++;
        if (strcmp(tasks[i].state, "running") == 0) {
            /* the level's progress, as its worker last published it */
            json_t *prog = NULL;
            for (int k = 0; k < n_workers && prog == NULL; k++)
                if (strcmp(workers[k].task_id, tasks[i].id) == 0 &&
                    strcmp(workers[k].id, tasks[i].worker) == 0)
                    prog = progress_json(workers[k].progress);
            json_array_append_new(current,
                                  json_pack("{s:s, s:i, s:i, s:i, s:s, s:i, s:o}", "task",
                                            tasks[i].id, "scenario", tasks[i].scenario + 1,
                                            "level", tasks[i].level, "streams",
                                            tasks[i].streams, "worker", tasks[i].worker,
                                            "attempt", tasks[i].attempt, "progress",
                                            prog ? prog : json_null()));
        }
    }
    json_t *tc = json_object();
    for (int k = 0; k < CVB_TASK_N_STATES; k++)
        json_object_set_new(tc, cvb_task_states[k], json_integer(counts[k]));
    o = run_summary(&info);
    json_object_set_new(o, "progress", json_pack("{s:i, s:o, s:o}", "levels_done", info.n_levels,
                                                 "tasks", tc, "current", current));
    json_object_set_new(o, "tasks", all);
    json_t *scns = json_array();
    json_object_set_new(o, "scenarios", scns);
    for (int k = 0; k < info.n_scenarios; k++) {
        bool has_m = false;
        free(sjson);
        sjson = NULL;
        if (cvb_store_get_scenario(a->st, info.id, k, &sjson, m, &has_m, &err) < 0) {
            store_error(resp, &err);
            goto out;
        }
        int n_lv = 0;
        if (cvb_store_get_levels(a->st, info.id, k, lv, MAX_LEVELS, &n_lv, &err) < 0) {
            store_error(resp, &err);
            goto out;
        }
        json_t *sc = json_object();
        json_array_append_new(scns, sc);
        json_object_set_new(sc, "index", json_integer(k + 1));
        json_t *sj = json_loads(sjson ? sjson : "{}", 0, NULL);
        json_object_set_new(sc, "scenario", sj ? sj : json_object());
        if (has_m && cvb__manifest_to_json(m, 0, &text, &err) == 0) {
            json_t *mj = json_loads(text, 0, NULL);
            json_object_set_new(sc, "manifest", mj ? mj : json_null());
            free(text);
            text = NULL;
        } else {
            json_object_set_new(sc, "manifest", json_null());
        }
        json_t *levels = json_array();
        json_object_set_new(sc, "levels", levels);
        for (int i = 0; i < n_lv; i++) {
            if (cvb__level_to_json(&lv[i], &text, &err) < 0) continue;
            json_t *lj = json_loads(text, 0, NULL);
            free(text);
            text = NULL;
            if (lj == NULL) continue;
            const char *worker = "";
            for (int t = 0; t < n_tasks; t++)
                if (tasks[t].scenario == k && tasks[t].level == lv[i].level &&
                    strcmp(tasks[t].state, "done") == 0)
                    worker = tasks[t].worker;
            json_object_set_new(lj, "worker", json_string(worker));
            json_array_append_new(levels, lj);
        }
        int best = -1;
        bool failed;
        char why[256];
        if (sjson && cvb__service_scenario(sjson, "stored scenario", s, &err) == 0 && s->density)
            cvb__service_next_level(s, lv, n_lv, &best, &failed, why, sizeof why);
        cvb_err_clear(&err);
        json_object_set_new(sc, "density_streams", best >= 0 ? json_integer(best) : json_null());
    }
    rc = cvb_http_resp_json(resp, 200, o);
out:
    json_decref(o);
    free(sjson);
    free(tasks);
    free(workers);
    free(lv);
    free(m);
    free(s);
    return rc;
}

static int h_cancel(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    struct cvb_run_info info;
    if (!find_run(a, req, resp, &info)) return 0;
    struct cvb_err err = {0};
    int rc = cvb_store_cancel_run(a->st, info.id, &err);
    if (rc == CVB_TASK_FINISHED) {
        cvb_http_resp_error(resp, 409, NULL, "run %s already finished (%s)", info.id, info.status);
        return 0;
    }
    if (rc < 0) return store_error(resp, &err);
    cvb_log_info("api: run %s cancelled", info.id);
    json_t *o = json_pack("{s:s, s:s}", "id", info.id, "status", "cancelled");
    rc = cvb_http_resp_json(resp, 200, o);
    json_decref(o);
    return rc;
}

static int h_report(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    struct cvb_run_info info;
    long scenario = 1;
    if (!query_int(req, resp, "scenario", 1, CVB_STORE_MAX_SCENARIOS, &scenario)) return 0;
    if (!find_run(a, req, resp, &info)) return 0;
    if (scenario > info.n_scenarios) {
        cvb_http_resp_error(resp, 404, NULL, "run %s has %d scenario(s), not %ld", info.id,
                            info.n_scenarios, scenario);
        return 0;
    }
    struct cvb_level_result *lv = calloc(MAX_LEVELS, sizeof *lv);
    struct cvb_manifest *m = calloc(1, sizeof *m);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    int rc = 0, n = 0;
    struct cvb_err err = {0};
    if (!lv || !m) {
        cvb_http_resp_error(resp, 500, NULL, "out of memory");
        goto out;
    }
    rc = cvb_store_get_run_scenario(a->st, info.id, (int)scenario - 1, m, lv, MAX_LEVELS, &n,
                                    &err);
    if (rc == CVB_ENOTFOUND || (rc == 0 && n == 0)) {
        cvb_http_resp_error(resp, 409, NULL, "run %s scenario %ld has no finished level yet",
                            info.id, scenario);
        rc = 0;
        goto out;
    }
    if (rc < 0) {
        rc = store_error(resp, &err);
        goto out;
    }
    f = open_memstream(&buf, &len);
    if (f == NULL) {
        cvb_http_resp_error(resp, 500, NULL, "out of memory");
        goto out;
    }
    char name[96];
    snprintf(name, sizeof name, "report of run %s", info.id);
    rc = cvb_report_html_stream(f, name, m, lv, n, &err);
    fclose(f);
    if (rc < 0) {
        cvb_http_resp_error(resp, 500, NULL, "%s", err.msg);
        rc = 0;
        goto out;
    }
    rc = cvb_http_resp_take(resp, 200, "text/html; charset=utf-8", buf, len);
    buf = NULL;
out:
    free(buf);
    free(lv);
    free(m);
    return rc;
}

static json_t *words(const char *s) {
    json_t *arr = json_array();
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        json_array_append_new(arr, json_string(t));
    return arr;
}

static int h_workers(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_api *a = user;
    struct cvb_worker_info *w = calloc(MAX_WORKERS, sizeof *w);
    if (w == NULL) return cvb_http_resp_error(resp, 500, NULL, "out of memory"), 0;
    int n = 0, rc = 0;
    struct cvb_err err = {0};
    if (cvb_store_list_workers(a->st, a->opts.lost_after_s, w, MAX_WORKERS, &n, &err) < 0) {
        store_error(resp, &err);
        goto out;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        char started[32], seen[32];
        iso_time(w[i].started, started, sizeof started);
        iso_time(w[i].last_seen, seen, sizeof seen);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:i, s:I, s:s, s:o, s:s, "
                           "s:s, s:o}",
                           "id", w[i].id, "host", w[i].host, "backend", w[i].backend, "isa",
                           w[i].isa, "isas", words(w[i].isas), "tags", words(w[i].tags),
                           "cpu_model", w[i].cpu_model, "cpu_flags", w[i].cpu_flags, "cores",
                           w[i].cores, "mem_bytes", (json_int_t)w[i].mem_bytes, "state",
                           w[i].state, "task",
                           w[i].task_id[0] ? json_string(w[i].task_id) : json_null(),
                           "started_at", started, "last_seen", seen, "metrics_url",
                           w[i].metrics_url[0] ? json_string(w[i].metrics_url) : json_null()));
        json_t *prog = progress_json(w[i].progress);
        json_object_set_new(json_array_get(arr, json_array_size(arr) - 1), "progress",
                            prog ? prog : json_null());
    }
    json_t *o = json_pack("{s:o}", "workers", arr);
    rc = cvb_http_resp_json(resp, 200, o);
    json_decref(o);
out:
    free(w);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

int cvb_api_new(const struct cvb_api_opts *o, struct cvb_api **out, struct cvb_err *err) {
    *out = NULL;
    struct cvb_api *a = calloc(1, sizeof *a);
    if (a == NULL) return cvb_err_set(err, CVB_ENOMEM, "api: out of memory");
    a->opts = *o;
    int rc = cvb_store_open(o->store_url, &a->st, err);
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void cvb_api_free(struct cvb_api *a) {
    if (a == NULL) return;
    cvb_store_close(a->st);
    free(a);
}

int cvb_api_register(struct cvb_api *a, struct cvb_http_server *srv, struct cvb_err *err) {
    static const struct {
        const char *method, *pattern;
        unsigned flags;
        cvb_http_handler fn;
    } routes[] = {
        {"GET", "/healthz", 0, h_health},
        {"POST", "/v1/runs", CVB_HTTP_MUTATING | CVB_HTTP_JSON, h_submit},
        {"GET", "/v1/runs", 0, h_list},
        {"GET", "/v1/runs/{id}", 0, h_get},
        {"POST", "/v1/runs/{id}/cancel", CVB_HTTP_MUTATING, h_cancel},
        {"GET", "/v1/runs/{id}/report", 0, h_report},
        {"GET", "/v1/workers", 0, h_workers},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(routes); i++) {
        int rc = cvb_http_route(srv, routes[i].method, routes[i].pattern, routes[i].flags,
                                routes[i].fn, a, err);
        if (rc < 0) return rc;
    }
    return 0;
}
