/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario parsing: one field table drives the JSON file, the CLI flags and
 * the API body, so a field cannot be accepted in one and unknown in another.
 *
 * Path rule: a relative path resolves against the directory of the file that
 * names it (for a scenario file: that file's directory; for a CLI flag: the
 * working directory the user typed it in; for an API body: the server's
 * configured data directory). It is made absolute once, here, so nothing
 * downstream ever depends on the working directory. */
#include "cvb/scenario.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum ftype { F_PATH, F_PATHS, F_ENUM, F_NAME, F_URL, F_INT, F_DOUBLE, F_BYTES, F_BOOL, F_LEVELS };

struct field {
    const char *name; /* JSON spelling; the flag is the same with '-' for '_' */
    enum ftype type;
    size_t off;
    size_t size;      /* for strings */
    double min, max;  /* numbers; for F_LEVELS each level */
    const char *choices; /* F_ENUM: "a|b|c" */
    const char *help;
};

#define S(m) offsetof(struct cvb_scenario, m), sizeof(((struct cvb_scenario *)0)->m)
#define N(m) offsetof(struct cvb_scenario, m), 0

static const struct field fields[] = {
    {"model", F_PATH, S(model), 0, 0, NULL, "ONNX model file"},
    {"video", F_PATHS, N(videos), 0, 0, NULL, "video file (repeatable; streams take them round-robin)"},
    {"backend", F_ENUM, S(backend), 0, 0, "cpu|kserve|cuda", "inference backend"},
    {"isa", F_ENUM, S(isa), 0, 0, "auto|amx|avx512_vnni|avx512|avx2", "CPU instruction set cap"},
    {"kserve_url", F_URL, S(kserve_url), 0, 0, NULL,
     "kserve: the KServe v2 server, http://HOST:PORT"},
    {"kserve_model", F_NAME, S(kserve_model), 0, 0, NULL,
     "kserve: the model's name on the server (default: the model file's name)"},
    {"inflight", F_INT, N(inflight), 1, CVB_SCN_MAX_INFLIGHT, NULL,
     "kserve: requests in flight per stream"},
    {"worker_tag", F_NAME, S(worker_tag), 0, 0, NULL,
     "service: run only on workers started with --tag NAME"},
    {"precision", F_ENUM, S(precision), 0, 0, "fp32|bf16|int8", "inference precision"},
    {"calib", F_PATH, S(calib), 0, 0, NULL, "int8: calibration file (cvbench model calibrate)"},
    {"kernels", F_ENUM, S(kernels), 0, 0, "onednn|ref", "CPU kernel set"},
    {"threads", F_INT, N(threads), 0, 4096, NULL, "CPU threads for inference (0 = all)"},
    {"streams", F_LEVELS, N(streams), 1, CVB_SCN_MAX_STREAMS, NULL, "concurrency levels, e.g. 1,2,4"},
    {"frames", F_INT, N(frames), 1, 10000000, NULL, "measured frames per stream per level"},
    {"warmup", F_INT, N(warmup), 0, 100000, NULL, "warm-up frames per stream (excluded)"},
    {"mode", F_ENUM, S(mode), 0, 0, "pipeline|inference-only", "what each frame goes through"},
    {"ring_frames", F_INT, N(ring_frames), 1, 256, NULL, "inference-only: frames cycled per stream"},
    {"execution", F_ENUM, S(execution), 0, 0, "async|direct", "how streams reach the engine"},
    {"inference_streams", F_INT, N(inference_streams), 0, 256, NULL, "engine instances (0 = auto)"},
    {"pacing", F_ENUM, S(pacing), 0, 0, "max|camera", "frame release pacing"},
    {"target_fps", F_DOUBLE, N(target_fps), 0.1, 1000, NULL, "camera rate / density target"},
    {"memory_budget", F_BYTES, N(memory_budget), 0, 0, NULL, "memory budget (bytes, or 512M, 8G)"},
    {"min_duration", F_DOUBLE, N(min_duration), 0, 86400, NULL, "run each level at least this long (s)"},
    {"max_duration", F_DOUBLE, N(max_duration), 0, 86400, NULL, "extend an unstable level up to this long (s; 0 = never past 'frames')"},
    {"window", F_DOUBLE, N(window), 0.1, 60, NULL, "throughput window: at least this long (s)"},
    {"window_frames", F_INT, N(window_frames), 1, 1000000, NULL, "throughput window: at least this many frames"},
    {"density", F_BOOL, N(density), 0, 0, NULL, "find the largest stream count that holds target_fps"},
    {"p99_ms", F_DOUBLE, N(p99_ms), 0.1, 1e6, NULL, "density latency budget (ms)"},
    {"imgsz", F_INT, N(imgsz), 0, 16384, NULL, "model input size for dynamic models"},
    {"json", F_PATH, S(json), 0, 0, NULL, "write results as JSON"},
    {"csv", F_PATH, S(csv), 0, 0, NULL, "write results as CSV"},
    {"report", F_PATH, S(report), 0, 0, NULL, "write an HTML report"},
    {"db", F_PATH, S(db), 0, 0, NULL, "SQLite results database"},
    {"save_frames", F_BOOL, N(save_frames), 0, 0, NULL, "store per-frame samples in the db"},
    {"accuracy_sample", F_INT, N(accuracy_sample), 0, CVB_SCN_MAX_ACCURACY_SAMPLE, NULL,
     "frames per level whose detections are checked against fp32 (0 = off)"},
};

void cvb_scenario_defaults(struct cvb_scenario *s) {
    static const int levels[] = {1, 2, 4, 8, 16, 32, 64};
    memset(s, 0, sizeof *s);
    snprintf(s->backend, sizeof s->backend, "cpu");
    snprintf(s->isa, sizeof s->isa, "auto");
    snprintf(s->precision, sizeof s->precision, "fp32");
    snprintf(s->kernels, sizeof s->kernels, "onednn");
    s->n_levels = (int)CVB_ARRAY_LEN(levels);
    memcpy(s->streams, levels, sizeof levels);
    s->frames = 210;
    s->warmup = 10;
    snprintf(s->mode, sizeof s->mode, "pipeline");
    s->ring_frames = 8;
    snprintf(s->execution, sizeof s->execution, "async");
    snprintf(s->pacing, sizeof s->pacing, "max");
    s->target_fps = 30;
    s->max_duration = 60;
    s->window = 1;
    s->window_frames = 50;
    s->p99_ms = 100;
    s->accuracy_sample = 16;
    s->inflight = 2;
    snprintf(s->db, sizeof s->db, "cvbench.db");
}

static const struct field *find_field(const char *name) {
    char key[64];
    size_t i;
    for (i = 0; i < sizeof key - 1 && name[i]; i++) key[i] = name[i] == '-' ? '_' : name[i];
    key[i] = '\0';
    for (size_t k = 0; k < CVB_ARRAY_LEN(fields); k++)
        if (strcmp(fields[k].name, key) == 0) return &fields[k];
    return NULL;
}

bool cvb_scenario_has_field(const char *name, bool *takes_value) {
    const struct field *f = find_field(name);
    if (takes_value) *takes_value = f != NULL && f->type != F_BOOL;
    return f != NULL;
}

static int resolve_path(char *dst, size_t size, const char *value, const char *base_dir,
                        const char *origin, const char *field, struct cvb_err *err) {
    int n;
    if (value[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': empty path", origin, field);
    if (value[0] == '/' || base_dir == NULL || base_dir[0] == '\0')
        n = snprintf(dst, size, "%s", value);
    else
        n = snprintf(dst, size, "%s/%s", base_dir, value);
    if (n < 0 || (size_t)n >= size)
        return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': path is longer than %zu bytes", origin,
                           field, size - 1);
    cvb_path_normalize(dst); /* printed and stored: no "scenarios/../data" */
    return 0;
}

static int parse_bytes(const char *v, int64_t *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || errno || x < 0 || !isfinite(x)) return -1;
    while (*end == ' ') end++;
    double mul = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': mul = 1024.0; break;
    case 'M': mul = 1048576.0; break;
    case 'G': mul = 1073741824.0; break;
    case 'T': mul = 1099511627776.0; break;
    default: return -1;
    }
    if (*end) {
        end++;
        if (*end == 'i' || *end == 'I') end++;
        if (*end == 'B' || *end == 'b') end++;
        if (*end) return -1;
    }
    if (x * mul > 9.0e18) return -1;
    *out = (int64_t)(x * mul);
    return 0;
}

static int set_levels_from_text(struct cvb_scenario *s, const struct field *f, const char *v,
                                const char *origin, struct cvb_err *err) {
    int n = 0;
    const char *p = v;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: field '%s': '%s' is not a list of stream counts like 1,2,4",
                               origin, f->name, v);
        if (x < f->min || x > f->max)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': %ld streams is out of range %g..%g",
                               origin, f->name, x, f->min, f->max);
        if (n == CVB_SCN_MAX_LEVELS)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': more than %d levels", origin,
                               f->name, CVB_SCN_MAX_LEVELS);
        s->streams[n++] = (int)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: field '%s': '%s' is not a list of stream counts like 1,2,4",
                               origin, f->name, v);
    }
    if (n == 0)
        return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': no stream counts given", origin,
                           f->name);
    s->n_levels = n;
    s->streams_given = true;
    return 0;
}

/* Set field f from text v (CLI, or a JSON string value). */
static int set_text(struct cvb_scenario *s, const struct field *f, const char *v,
                    const char *base_dir, const char *origin, struct cvb_err *err) {
    char *base = (char *)s;
    switch (f->type) {
    case F_PATH: return resolve_path(base + f->off, f->size, v, base_dir, origin, f->name, err);
    case F_PATHS:
        if (s->n_videos == CVB_SCN_MAX_VIDEOS)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': more than %d videos", origin,
                               f->name, CVB_SCN_MAX_VIDEOS);
        {
            int rc = resolve_path(s->videos[s->n_videos], CVB_SCN_PATH, v, base_dir, origin,
                                  f->name, err);
            if (rc < 0) return rc;
        }
        s->n_videos++;
        return 0;
    case F_ENUM: {
        size_t len = strlen(v);
        const char *c = f->choices;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t clen = bar ? (size_t)(bar - c) : strlen(c);
            if (clen == len && strncmp(c, v, len) == 0) {
                snprintf(base + f->off, f->size, "%s", v);
                return 0;
            }
            c = bar ? bar + 1 : NULL;
        }
        return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': '%s' is not one of %s", origin,
                           f->name, v, f->choices);
    }
    case F_NAME: {
        /* a name: [A-Za-z0-9_.-], empty allowed (= none) */
        size_t len = strlen(v);
        if (len >= f->size)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': longer than %zu characters",
                               origin, f->name, f->size - 1);
        for (size_t i = 0; i < len; i++)
            if (!isalnum((unsigned char)v[i]) && v[i] != '_' && v[i] != '.' && v[i] != '-')
                return cvb_err_set(err, CVB_EINVAL,
                                   "%s: field '%s': '%s' may only hold letters, digits, '_', "
                                   "'.' and '-'",
                                   origin, f->name, v);
        snprintf(base + f->off, f->size, "%s", v);
        return 0;
    }
    case F_URL: {
        /* http(s)://host[:port][/prefix]: printable, no spaces, no query */
        size_t len = strlen(v);
        if (len >= f->size)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': longer than %zu characters",
                               origin, f->name, f->size - 1);
        bool scheme = strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
        const char *host = scheme ? strstr(v, "//") + 2 : v;
        bool ok = scheme && *host != '\0' && *host != '/';
        for (size_t k = 0; ok && k < len; k++)
            ok = isgraph((unsigned char)v[k]) && v[k] != '?' && v[k] != '#';
        if (!ok)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: field '%s': '%s' is not a URL like http://HOST:PORT", origin,
                               f->name, v);
        snprintf(base + f->off, f->size, "%s", v);
        return 0;
    }
    case F_INT: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (end == v || *end || errno)
            return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': '%s' is not an integer", origin,
                               f->name, v);
        if (x < f->min || x > f->max)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': %ld is out of range %g..%g",
                               origin, f->name, x, f->min, f->max);
        *(int *)(base + f->off) = (int)x;
        return 0;
    }
    case F_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(x))
            return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': '%s' is not a number", origin,
                               f->name, v);
        if (x < f->min || x > f->max)
            return cvb_err_set(err, CVB_ERANGE, "%s: field '%s': %g is out of range %g..%g",
                               origin, f->name, x, f->min, f->max);
        /* cppcheck-suppress invalidPointerCast ; offsetof field access */
        *(double *)(base + f->off) = x;
        return 0;
    }
    case F_BYTES: {
        int64_t x;
        if (parse_bytes(v, &x) < 0)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: field '%s': '%s' is not a size (bytes, or with K/M/G/T)",
                               origin, f->name, v);
        if (x != 0 && x < (16 << 20))
            return cvb_err_set(err, CVB_ERANGE,
                               "%s: field '%s': %lld bytes is below the 16 MiB minimum", origin,
                               f->name, (long long)x);
        *(int64_t *)(base + f->off) = x;
        return 0;
    }
    case F_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
            *(bool *)(base + f->off) = true;
        } else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) {
            *(bool *)(base + f->off) = false;
        } else {
            return cvb_err_set(err, CVB_EINVAL, "%s: field '%s': '%s' is not true or false",
                               origin, f->name, v);
        }
        return 0;
    case F_LEVELS: return set_levels_from_text(s, f, v, origin, err);
    }
    return cvb_err_set(err, CVB_EINTERNAL, "field '%s' has no parser", f->name);
}

int cvb_scenario_set(struct cvb_scenario *s, const char *name, const char *value,
                     const char *base_dir, struct cvb_err *err) {
    const struct field *f = find_field(name);
    if (f == NULL)
        return cvb_err_set(err, CVB_EINVAL, "unknown option '--%s'", name);
    if (value == NULL) {
        if (f->type != F_BOOL)
            return cvb_err_set(err, CVB_EINVAL, "option '--%s' needs a value", name);
        value = "true";
    }
    return set_text(s, f, value, base_dir, "command line", err);
}

/* Apply one JSON value to field f. */
static int set_json(struct cvb_scenario *s, const struct field *f, json_t *v,
                    const char *base_dir, const char *origin, struct cvb_err *err) {
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: {
        if (f->type == F_INT || f->type == F_DOUBLE || f->type == F_BOOL)
            return cvb_err_set(err, CVB_EINVAL, "%s: field '%s' must be a %s, not a string",
                               origin, f->name, f->type == F_BOOL ? "boolean" : "number");
        if (f->type == F_PATHS) s->n_videos = 0;
        return set_text(s, f, json_string_value(v), base_dir, origin, err);
    }
    case JSON_INTEGER:
    case JSON_REAL:
        if (f->type == F_INT || f->type == F_DOUBLE || f->type == F_BYTES || f->type == F_LEVELS) {
            if (json_is_integer(v))
                snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            else if (f->type == F_INT || f->type == F_LEVELS)
                return cvb_err_set(err, CVB_EINVAL, "%s: field '%s' must be an integer", origin,
                                   f->name);
            else
                snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            return set_text(s, f, buf, base_dir, origin, err);
        }
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        if (f->type == F_BOOL) return set_text(s, f, json_is_true(v) ? "true" : "false", base_dir,
                                               origin, err);
        break;
    case JSON_ARRAY:
        if (f->type == F_PATHS) {
            s->n_videos = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e))
                    return cvb_err_set(err, CVB_EINVAL, "%s: field '%s'[%zu] must be a string",
                                       origin, f->name, i);
                int rc = set_text(s, f, json_string_value(e), base_dir, origin, err);
                if (rc < 0) return rc;
            }
            if (s->n_videos == 0)
                return cvb_err_set(err, CVB_EINVAL, "%s: field '%s' is an empty list", origin,
                                   f->name);
            return 0;
        }
        if (f->type == F_LEVELS) {
            size_t i;
            json_t *e;
            int n = 0;
            if (json_array_size(v) == 0 || json_array_size(v) > CVB_SCN_MAX_LEVELS)
                return cvb_err_set(err, CVB_ERANGE, "%s: field '%s' must list 1..%d levels",
                                   origin, f->name, CVB_SCN_MAX_LEVELS);
            json_array_foreach(v, i, e) {
                if (!json_is_integer(e))
                    return cvb_err_set(err, CVB_EINVAL, "%s: field '%s'[%zu] must be an integer",
                                       origin, f->name, i);
                json_int_t x = json_integer_value(e);
                if (x < f->min || x > f->max)
                    return cvb_err_set(err, CVB_ERANGE,
                                       "%s: field '%s'[%zu]: %lld streams is out of range %g..%g",
                                       origin, f->name, i, (long long)x, f->min, f->max);
                s->streams[n++] = (int)x;
            }
            s->n_levels = n;
            s->streams_given = true;
            return 0;
        }
        break;
    default: break;
    }
    return cvb_err_set(err, CVB_EINVAL, "%s: field '%s' has the wrong type", origin, f->name);
}

int cvb_scenario_apply_json_buffer(struct cvb_scenario *s, const void *buf, size_t len,
                                   const char *origin, const char *base_dir,
                                   struct cvb_err *err) {
    json_error_t jerr;
    int rc = 0;
    json_t *root = NULL;
    if (len > CVB_SCN_MAX_BYTES) {
        rc = cvb_err_set(err, CVB_ERANGE, "%s: scenario is %zu bytes, more than the %d-byte limit",
                         origin, len, CVB_SCN_MAX_BYTES);
        goto out;
    }
    if (memchr(buf, '\0', len) != NULL) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: scenario contains a NUL byte", origin);
        goto out;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: line %d column %d: invalid JSON: %s", origin,
                         jerr.line, jerr.column, jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: a scenario must be a JSON object", origin);
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        const struct field *f = NULL;
        for (size_t k = 0; k < CVB_ARRAY_LEN(fields); k++)
            if (strcmp(fields[k].name, key) == 0) f = &fields[k];
        if (f == NULL) {
            rc = cvb_err_set(err, CVB_EINVAL, "%s: unknown field '%s'", origin, key);
            goto out;
        }
        rc = set_json(s, f, v, base_dir, origin, err);
        if (rc < 0) goto out;
    }
out:
    json_decref(root);
    return rc;
}

int cvb_scenario_apply_json(struct cvb_scenario *s, const char *json_text, const char *origin,
                            const char *base_dir, struct cvb_err *err) {
    return cvb_scenario_apply_json_buffer(s, json_text, strlen(json_text), origin, base_dir, err);
}

int cvb_scenario_load_file(struct cvb_scenario *s, const char *path, struct cvb_err *err) {
    void *text = NULL;
    size_t len = 0;
    char *resolved = NULL;
    int rc = cvb_read_file(path, CVB_SCN_MAX_BYTES, &text, &len, err);
    if (rc < 0) return rc;
    resolved = realpath(path, NULL);
    if (resolved == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot resolve path: %s", path, strerror(errno));
        goto out;
    }
    rc = cvb_scenario_apply_json_buffer(s, text, len, path, dirname(resolved), err);
out:
    free(resolved);
    free(text);
    return rc;
}

int cvb_scenario_validate(const struct cvb_scenario *s, struct cvb_err *err) {
    if (s->model[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "scenario: field 'model' is required");
    if (s->n_videos == 0)
        return cvb_err_set(err, CVB_EINVAL, "scenario: field 'video' is required");
    if (strcmp(s->backend, "cuda") == 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "scenario: field 'backend': 'cuda' is not implemented yet in this "
                           "cvbench (only 'cpu' and 'kserve' are)");
    bool kserve = strcmp(s->backend, "kserve") == 0;
    if (kserve && s->kserve_url[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: backend kserve needs field 'kserve_url' (the server, "
                           "e.g. http://127.0.0.1:8001)");
    if (!kserve && (s->kserve_url[0] != '\0' || s->kserve_model[0] != '\0'))
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: fields 'kserve_url' and 'kserve_model' need backend kserve "
                           "(backend is '%s')",
                           s->backend);
    if (kserve && strcmp(s->precision, "fp32") != 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: field 'precision': with backend kserve the model server "
                           "decides the precision (start it with --precision); leave it fp32");
    for (int i = 1; i < s->n_levels; i++)
        if (s->streams[i] <= s->streams[i - 1])
            return cvb_err_set(err, CVB_EINVAL,
                               "scenario: field 'streams': levels must be strictly ascending "
                               "(%d after %d)",
                               s->streams[i], s->streams[i - 1]);
    if (s->min_duration > s->max_duration)
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: field 'min_duration' (%g s) exceeds 'max_duration' (%g s)",
                           s->min_duration, s->max_duration);
    if (s->imgsz % 32 != 0)
        return cvb_err_set(err, CVB_EINVAL, "scenario: field 'imgsz': %d is not a multiple of 32",
                           s->imgsz);
    if (strcmp(s->precision, "int8") == 0 && s->calib[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: precision int8 needs field 'calib' (make one with "
                           "`cvbench model calibrate --model M --video V -o M.calib`)");
    if (strcmp(s->kernels, "ref") == 0 && strcmp(s->precision, "fp32") != 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "scenario: field 'precision': reference kernels only run fp32");
    return 0;
}

int cvb_scenario_to_json(const struct cvb_scenario *s, char *buf, size_t len) {
    json_t *o = json_object();
    const char *base = (const char *)s;
    for (size_t k = 0; k < CVB_ARRAY_LEN(fields); k++) {
        const struct field *f = &fields[k];
        json_t *v = NULL;
        switch (f->type) {
        case F_PATH:
            if (base[f->off] == '\0') continue;
            v = json_string(base + f->off);
            break;
        case F_ENUM: v = json_string(base + f->off); break;
        case F_NAME:
        case F_URL:
            if (base[f->off] == '\0') continue;
            v = json_string(base + f->off);
            break;
        case F_PATHS:
            /* like an unset path: omitted, as the parser refuses an empty list */
            if (s->n_videos == 0) continue;
            v = json_array();
            for (int i = 0; i < s->n_videos; i++) json_array_append_new(v, json_string(s->videos[i]));
            break;
        case F_INT: v = json_integer(*(const int *)(base + f->off)); break;
        /* cppcheck-suppress invalidPointerCast ; offsetof field access */
        case F_DOUBLE: v = json_real(*(const double *)(base + f->off)); break;
        case F_BYTES: v = json_integer(*(const int64_t *)(base + f->off)); break;
        case F_BOOL: v = json_boolean(*(const bool *)(base + f->off)); break;
        case F_LEVELS:
            v = json_array();
            for (int i = 0; i < s->n_levels; i++) json_array_append_new(v, json_integer(s->streams[i]));
            break;
        }
        json_object_set_new(o, f->name, v);
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    int n = 0;
    if (text == NULL) {
        if (len) buf[0] = '\0';
        return 0;
    }
    n = snprintf(buf, len, "%s", text);
    free(text);
    return n;
}
