/* SPDX-License-Identifier: Apache-2.0 */
/* JSON form of results: the encoder/decoder of a manifest and of a level
 * result (result_json.h, used by the store) and the `--json FILE` report.
 *
 * The report is {"manifest": {...}, "note": "..." (synthetic weights only),
 * "levels": [{...}, ...]}; a level object is exactly what the store keeps in
 * levels.result_json, so `cvbench report` re-renders a past run with the
 * same numbers. A level's "accuracy" is an object (frames, f1, mean_iou,
 * matched, ref_boxes, test_boxes) or null when it was not measured; results
 * stored before it existed decode as not measured. This is the only file of src/report/ that includes jansson. */
#include "cvb/report.h"
#include "report/result_json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- encoding helpers ------------------------------------------------------- */

/* A JSON string from a fixed-size field (bounded by 'cap'); bytes that are
 * not valid UTF-8 become '?' so a bad path never loses the whole report. */
static json_t *jstr(const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    json_t *j = json_stringn(s, n);
    if (j != NULL) return j;
    char *copy = malloc(n + 1);
    if (copy == NULL) return NULL;
    for (size_t i = 0; i < n; i++)
        copy[i] = (s[i] & 0x80) ? '?' : s[i];
    copy[n] = '\0';
    j = json_stringn(copy, n);
    free(copy);
    return j;
}

/* jansson refuses NaN and infinities: they are written as null. */
static json_t *jnum(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* Set obj[key] = val; any NULL (out of memory) is remembered in *bad. */
static void put(json_t *obj, const char *key, json_t *val, int *bad) {
    if (obj == NULL || val == NULL || json_object_set_new(obj, key, val) != 0) *bad = 1;
}

#define PUT_STR(o, k, field) put(o, k, jstr(field, sizeof(field)), &bad)
#define PUT_NUM(o, k, v)     put(o, k, jnum(v), &bad)
#define PUT_INT(o, k, v)     put(o, k, json_integer((json_int_t)(v)), &bad)
#define PUT_BOOL(o, k, v)    put(o, k, json_boolean(v), &bad)

/* The level's "remote" object (backend kserve; absent for cpu): numbers
 * listed once for the encoder and the decoder. */
#define REMOTE_NUMS(X)                                                         \
    X(request_bytes) X(response_bytes) X(serialize_ms) X(roundtrip_ms)         \
    X(roundtrip_p99_ms) X(deserialize_ms) X(server_queue_ms)                   \
    X(server_compute_ms) X(server_batch_mean) X(server_busy_pct) X(network_ms) \
    X(client_cpu_pct)
#define REMOTE_INTS(X) X(inflight) X(connections) X(server_instances)

static json_t *manifest_obj(const struct cvb_manifest *m, int flags) {
    int bad = 0;
    json_t *o = json_object();
    PUT_STR(o, "run_id", m->run_id);
    PUT_STR(o, "started_at", m->started_at);
    PUT_STR(o, "cvbench_version", m->cvbench_version);
    PUT_STR(o, "git_commit", m->git_commit);
    PUT_STR(o, "hostname", m->hostname);
    PUT_STR(o, "cpu_model", m->cpu_model);
    PUT_STR(o, "cpu_flags", m->cpu_flags);
    PUT_INT(o, "n_cpus", m->n_cpus);
    PUT_INT(o, "mem_total_bytes", m->mem_total_bytes);
    PUT_STR(o, "isa", m->isa);
    PUT_INT(o, "threads", m->threads);
    PUT_STR(o, "libraries", m->libraries);
    PUT_STR(o, "model_path", m->model_path);
    PUT_STR(o, "model_sha256", m->model_sha256);
    PUT_BOOL(o, "synthetic_weights", m->synthetic_weights);
    PUT_STR(o, "model_input", m->model_input);
    PUT_NUM(o, "model_gflops", m->model_gflops);
    PUT_STR(o, "video_path", m->video_path);
    PUT_STR(o, "video_desc", m->video_desc);
    PUT_STR(o, "backend", m->backend);
    PUT_STR(o, "precision", m->precision);
    PUT_STR(o, "mode", m->mode);
    PUT_STR(o, "execution", m->execution);
    PUT_STR(o, "pacing", m->pacing);
    PUT_NUM(o, "target_fps", m->target_fps);
    if (m->density_streams >= 0) {
        PUT_INT(o, "density_streams", m->density_streams);
        PUT_STR(o, "density_decided", m->density_decided);
    }
    /* The scenario nested as an object; text that does not parse (empty, or
     * truncated at the field's size) is kept as a string. */
    size_t n = strnlen(m->scenario_json, sizeof m->scenario_json);
    json_t *scn = n ? json_loadb(m->scenario_json, n, JSON_DECODE_ANY, NULL) : NULL;
    if (scn == NULL && n) scn = jstr(m->scenario_json, sizeof m->scenario_json);
    put(o, "scenario", scn != NULL ? scn : json_null(), &bad);
    if (flags & CVB__MANIFEST_RAW_SCENARIO) PUT_STR(o, "scenario_json", m->scenario_json);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *jarray_d(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, jnum(v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *level_obj(const struct cvb_level_result *r) {
    int bad = 0;
    json_t *o = json_object();
    PUT_INT(o, "level", r->level);
    PUT_INT(o, "streams", r->streams);
    PUT_INT(o, "frames", r->frames);
    PUT_INT(o, "warmup_frames", r->warmup_frames);
    PUT_NUM(o, "duration_s", r->duration_s);
    PUT_NUM(o, "fps", r->fps);
    PUT_NUM(o, "fps_per_stream", r->fps_per_stream);
    PUT_NUM(o, "fps_per_stream_min", r->fps_per_stream_min);

    json_t *lat = json_object();
    PUT_NUM(lat, "p50", r->latency_p50_ms);
    PUT_NUM(lat, "p90", r->latency_p90_ms);
    PUT_NUM(lat, "p95", r->latency_p95_ms);
    PUT_NUM(lat, "p99", r->latency_p99_ms);
    PUT_NUM(lat, "max", r->latency_max_ms);
    PUT_NUM(lat, "mean", r->latency_mean_ms);
    put(o, "latency_ms", lat, &bad);

    json_t *stages = json_object();
    for (int s = 0; s < CVB_STAGE_COUNT; s++) {
        json_t *st = json_object();
        PUT_NUM(st, "mean_ms", r->stages[s].mean_ms);
        PUT_NUM(st, "p99_ms", r->stages[s].p99_ms);
        PUT_NUM(st, "share", r->stages[s].share);
        put(stages, cvb_stage_name((enum cvb_stage)s), st, &bad);
    }
    put(o, "stages", stages, &bad);

    json_t *cpu = json_object();
    PUT_NUM(cpu, "process_pct", r->cpu_process_pct);
    PUT_NUM(cpu, "system_pct", r->cpu_system_pct);
    put(o, "cpu", cpu, &bad);
    PUT_NUM(o, "engine_busy_pct", r->engine_busy_pct);
    PUT_INT(o, "engine_instances", r->engine_instances);
    PUT_INT(o, "threads_per_instance", r->threads_per_instance);
    PUT_INT(o, "rss_start_bytes", r->rss_start_bytes);
    PUT_INT(o, "rss_peak_bytes", r->rss_peak_bytes);
    PUT_INT(o, "rss_end_bytes", r->rss_end_bytes);
    PUT_INT(o, "mem_estimate_bytes", r->mem_estimate_bytes);
    PUT_INT(o, "dropped_frames", r->dropped_frames);
    PUT_INT(o, "late_frames", r->late_frames);
    PUT_NUM(o, "lateness_p99_ms", r->lateness_p99_ms);
    PUT_BOOL(o, "stable", r->stable);

    int nw = r->n_windows < 0 ? 0 : r->n_windows > CVB_MAX_WINDOWS ? CVB_MAX_WINDOWS : r->n_windows;
    json_t *win = json_object();
    PUT_NUM(win, "window_s", r->window_s);
    PUT_INT(win, "window_frames", r->window_frames);
    put(win, "fps", jarray_d(r->window_fps, nw), &bad);
    PUT_NUM(win, "min", r->window_fps_min);
    PUT_NUM(win, "max", r->window_fps_max);
    PUT_NUM(win, "cv_pct", r->window_cv_pct);
    PUT_NUM(win, "drift_pct", r->window_drift_pct);
    put(o, "windows", win, &bad);

    PUT_STR(o, "bottleneck", r->bottleneck);
    PUT_STR(o, "status", r->status);
    PUT_STR(o, "error", r->error);
    if (r->accuracy_frames > 0) {
        json_t *acc = json_object();
        PUT_INT(acc, "frames", r->accuracy_frames);
        PUT_NUM(acc, "f1", r->accuracy_f1);
        PUT_NUM(acc, "mean_iou", r->accuracy_mean_iou);
        PUT_INT(acc, "matched", r->accuracy_matched);
        PUT_INT(acc, "ref_boxes", r->accuracy_ref_boxes);
        PUT_INT(acc, "test_boxes", r->accuracy_test_boxes);
        put(o, "accuracy", acc, &bad);
    } else {
        put(o, "accuracy", json_null(), &bad); /* not measured */
    }
    if (r->remote.used) {
        const struct cvb_remote_result *rm = &r->remote;
        json_t *ro = json_object();
        PUT_STR(ro, "server", rm->server);
        PUT_STR(ro, "payload", rm->payload);
        PUT_BOOL(ro, "server_stats", rm->server_stats);
#define CVB_X(f) PUT_NUM(ro, #f, rm->f);
        REMOTE_NUMS(CVB_X)
#undef CVB_X
#define CVB_X(f) PUT_INT(ro, #f, rm->f);
        REMOTE_INTS(CVB_X)
#undef CVB_X
        PUT_INT(ro, "server_requests", rm->server_requests);
        put(o, "remote", ro, &bad);
    }

    int nr = r->n_rss < 0 ? 0 : r->n_rss > CVB_MAX_RSS_SAMPLES ? CVB_MAX_RSS_SAMPLES : r->n_rss;
    json_t *rss = json_object(), *ts = json_array(), *bytes = json_array();
    for (int i = 0; ts != NULL && bytes != NULL && i < nr; i++) {
        if (json_array_append_new(ts, jnum(r->rss_t_s[i])) != 0 ||
            json_array_append_new(bytes, json_integer(r->rss_bytes[i])) != 0)
            bad = 1;
    }
    put(rss, "t_s", ts, &bad);
    put(rss, "bytes", bytes, &bad);
    put(o, "rss_timeline", rss, &bad);
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int dump(json_t *o, char **out, const char *what, struct cvb_err *err) {
    *out = NULL;
    if (o == NULL) return cvb_err_set(err, CVB_ENOMEM, "out of memory encoding %s as JSON", what);
    *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (*out == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "out of memory encoding %s as JSON", what);
    return 0;
}

int cvb__manifest_to_json(const struct cvb_manifest *m, int flags, char **out,
                          struct cvb_err *err) {
    return dump(manifest_obj(m, flags), out, "the run manifest", err);
}

int cvb__level_to_json(const struct cvb_level_result *r, char **out, struct cvb_err *err) {
    return dump(level_obj(r), out, "a level result", err);
}

/* ---- decoding helpers ------------------------------------------------------- */

static double get_num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_number(v)) return json_number_value(v);
    return v == NULL ? 0.0 : NAN; /* null: a non-finite number was written */
}

static int64_t get_int(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) return (int64_t)json_integer_value(v);
    if (json_is_real(v)) { /* clamped: a cast out of int64's range is undefined */
        double d = json_real_value(v);
        if (isnan(d)) return 0;
        if (d >= 9223372036854775807.0) return INT64_MAX; /* the double is 2^63 */
        if (d < -9223372036854775808.0) return INT64_MIN;
        return (int64_t)d;
    }
    return 0;
}

static void get_str(const json_t *o, const char *key, char *dst, size_t cap) {
    const json_t *v = json_object_get(o, key);
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = strlen(s);
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

#define GET_STR(o, k, field) get_str(o, k, field, sizeof(field))

static json_t *parse(const char *text, const char *origin, struct cvb_err *err) {
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    if (o == NULL) {
        cvb_err_set(err, CVB_EFORMAT, "%s: bad JSON at line %d column %d: %s", origin, je.line,
                    je.column, je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        cvb_err_set(err, CVB_EFORMAT, "%s: expected a JSON object", origin);
        return NULL;
    }
    return o;
}

int cvb__manifest_from_json(const char *text, const char *origin, struct cvb_manifest *m,
                            struct cvb_err *err) {
    memset(m, 0, sizeof *m);
    json_t *o = parse(text, origin, err);
    if (o == NULL) return err ? err->code : CVB_EFORMAT;
    GET_STR(o, "run_id", m->run_id);
    GET_STR(o, "started_at", m->started_at);
    GET_STR(o, "cvbench_version", m->cvbench_version);
    GET_STR(o, "git_commit", m->git_commit);
    GET_STR(o, "hostname", m->hostname);
    GET_STR(o, "cpu_model", m->cpu_model);
    GET_STR(o, "cpu_flags", m->cpu_flags);
    m->n_cpus = (int)get_int(o, "n_cpus");
    m->mem_total_bytes = get_int(o, "mem_total_bytes");
    GET_STR(o, "isa", m->isa);
    m->threads = (int)get_int(o, "threads");
    GET_STR(o, "libraries", m->libraries);
    GET_STR(o, "model_path", m->model_path);
    GET_STR(o, "model_sha256", m->model_sha256);
    m->synthetic_weights = json_is_true(json_object_get(o, "synthetic_weights"));
    GET_STR(o, "model_input", m->model_input);
    m->model_gflops = get_num(o, "model_gflops");
    GET_STR(o, "video_path", m->video_path);
    GET_STR(o, "video_desc", m->video_desc);
    GET_STR(o, "backend", m->backend);
    GET_STR(o, "precision", m->precision);
    GET_STR(o, "mode", m->mode);
    GET_STR(o, "execution", m->execution);
    GET_STR(o, "pacing", m->pacing);
    m->target_fps = get_num(o, "target_fps");
    m->density_streams = json_is_integer(json_object_get(o, "density_streams"))
                             ? (int)get_int(o, "density_streams")
                             : -1;
    GET_STR(o, "density_decided", m->density_decided);
    const json_t *raw = json_object_get(o, "scenario_json");
    const json_t *scn = json_object_get(o, "scenario");
    if (json_is_string(raw)) {
        GET_STR(o, "scenario_json", m->scenario_json);
    } else if (json_is_string(scn)) {
        GET_STR(o, "scenario", m->scenario_json);
    } else if (json_is_object(scn)) {
        char *s = json_dumps(scn, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
        if (s != NULL) snprintf(m->scenario_json, sizeof m->scenario_json, "%s", s);
        free(s);
    }
    json_decref(o);
    return 0;
}

int cvb__level_from_json(const char *text, const char *origin, struct cvb_level_result *r,
                         struct cvb_err *err) {
    memset(r, 0, sizeof *r);
    json_t *o = parse(text, origin, err);
    if (o == NULL) return err ? err->code : CVB_EFORMAT;
    r->level = (int)get_int(o, "level");
    r->streams = (int)get_int(o, "streams");
    r->frames = get_int(o, "frames");
    r->warmup_frames = get_int(o, "warmup_frames");
    r->duration_s = get_num(o, "duration_s");
    r->fps = get_num(o, "fps");
    r->fps_per_stream = get_num(o, "fps_per_stream");
    r->fps_per_stream_min = get_num(o, "fps_per_stream_min");
    const json_t *lat = json_object_get(o, "latency_ms");
    r->latency_p50_ms = get_num(lat, "p50");
    r->latency_p90_ms = get_num(lat, "p90");
    r->latency_p95_ms = get_num(lat, "p95");
    r->latency_p99_ms = get_num(lat, "p99");
    r->latency_max_ms = get_num(lat, "max");
    r->latency_mean_ms = get_num(lat, "mean");
    const json_t *stages = json_object_get(o, "stages");
    for (int s = 0; s < CVB_STAGE_COUNT; s++) {
        const json_t *st = json_object_get(stages, cvb_stage_name((enum cvb_stage)s));
        r->stages[s].mean_ms = get_num(st, "mean_ms");
        r->stages[s].p99_ms = get_num(st, "p99_ms");
        r->stages[s].share = get_num(st, "share");
    }
    const json_t *cpu = json_object_get(o, "cpu");
    r->cpu_process_pct = get_num(cpu, "process_pct");
    r->cpu_system_pct = get_num(cpu, "system_pct");
    r->engine_busy_pct = get_num(o, "engine_busy_pct");
    r->engine_instances = (int)get_int(o, "engine_instances");
    r->threads_per_instance = (int)get_int(o, "threads_per_instance");
    r->rss_start_bytes = get_int(o, "rss_start_bytes");
    r->rss_peak_bytes = get_int(o, "rss_peak_bytes");
    r->rss_end_bytes = get_int(o, "rss_end_bytes");
    r->mem_estimate_bytes = get_int(o, "mem_estimate_bytes");
    r->dropped_frames = get_int(o, "dropped_frames");
    r->late_frames = get_int(o, "late_frames");
    r->lateness_p99_ms = get_num(o, "lateness_p99_ms");
    r->stable = json_is_true(json_object_get(o, "stable"));

    const json_t *win = json_object_get(o, "windows");
    r->window_s = get_num(win, "window_s");
    r->window_frames = get_int(win, "window_frames");
    r->window_fps_min = get_num(win, "min");
    r->window_fps_max = get_num(win, "max");
    r->window_cv_pct = get_num(win, "cv_pct");
    r->window_drift_pct = get_num(win, "drift_pct");
    const json_t *wf = json_object_get(win, "fps");
    size_t nw = json_array_size(wf);
    if (nw > CVB_MAX_WINDOWS) nw = CVB_MAX_WINDOWS;
    for (size_t i = 0; i < nw; i++) {
        const json_t *v = json_array_get(wf, i);
        r->window_fps[i] = json_is_number(v) ? json_number_value(v) : NAN;
    }
    r->n_windows = (int)nw;

    GET_STR(o, "bottleneck", r->bottleneck);
    GET_STR(o, "status", r->status);
    GET_STR(o, "error", r->error);
    const json_t *acc = json_object_get(o, "accuracy");
    if (json_is_object(acc)) {
        r->accuracy_frames = (int)get_int(acc, "frames");
        r->accuracy_f1 = get_num(acc, "f1");
        r->accuracy_mean_iou = get_num(acc, "mean_iou");
        r->accuracy_matched = get_int(acc, "matched");
        r->accuracy_ref_boxes = get_int(acc, "ref_boxes");
        r->accuracy_test_boxes = get_int(acc, "test_boxes");
    }
    const json_t *ro = json_object_get(o, "remote");
    if (json_is_object(ro)) {
        struct cvb_remote_result *rm = &r->remote;
        rm->used = true;
        GET_STR(ro, "server", rm->server);
        GET_STR(ro, "payload", rm->payload);
        rm->server_stats = json_is_true(json_object_get(ro, "server_stats"));
#define CVB_X(f) rm->f = get_num(ro, #f);
        REMOTE_NUMS(CVB_X)
#undef CVB_X
#define CVB_X(f) rm->f = (int)get_int(ro, #f);
        REMOTE_INTS(CVB_X)
#undef CVB_X
        rm->server_requests = get_int(ro, "server_requests");
    }

    const json_t *rss = json_object_get(o, "rss_timeline");
    const json_t *ts = json_object_get(rss, "t_s"), *bytes = json_object_get(rss, "bytes");
    size_t nr = json_array_size(ts);
    if (json_array_size(bytes) < nr) nr = json_array_size(bytes);
    if (nr > CVB_MAX_RSS_SAMPLES) nr = CVB_MAX_RSS_SAMPLES;
    for (size_t i = 0; i < nr; i++) {
        const json_t *t = json_array_get(ts, i), *b = json_array_get(bytes, i);
        r->rss_t_s[i] = json_is_number(t) ? (float)json_number_value(t) : NAN;
        r->rss_bytes[i] = json_is_integer(b) ? (int64_t)json_integer_value(b) : 0;
    }
    r->n_rss = (int)nr;
    json_decref(o);
    return 0;
}

/* ---- the --json report -------------------------------------------------------- */

int cvb_report_json(const char *path, const struct cvb_manifest *m,
                    const struct cvb_level_result *lv, int n, struct cvb_err *err) {
    int rc = 0, bad = 0;
    FILE *f = NULL;
    json_t *root = json_object();
    put(root, "manifest", manifest_obj(m, 0), &bad);
    if (m->synthetic_weights) put(root, "note", json_string(CVB__SYNTHETIC_NOTE), &bad);
    json_t *levels = json_array();
    for (int i = 0; levels != NULL && i < n; i++)
        if (json_array_append_new(levels, level_obj(&lv[i])) != 0) bad = 1;
    put(root, "levels", levels, &bad);
    if (bad) {
        rc = cvb_err_set(err, CVB_ENOMEM, "out of memory building the JSON report %s", path);
        goto out;
    }
    f = fopen(path, "w");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "cannot write JSON report %s: %s", path, strerror(errno));
        goto out;
    }
    /* 12 digits: readable ("45.2", not "45.200000000000003"); the store keeps 17. */
    int dumped =
        json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
    if (fputc('\n', f) == EOF || dumped != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad)
        rc = cvb_err_set(err, CVB_EIO, "cannot write JSON report %s: %s", path, strerror(errno));
out:
    json_decref(root);
    return rc;
}
