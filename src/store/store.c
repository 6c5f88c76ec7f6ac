/* SPDX-License-Identifier: Apache-2.0 */
/* The results and task store, the part both implementations share: the
 * public cvb_store_* functions, dispatched through struct cvb__store_ops
 * (store_impl.h) to sqlite.c or postgres.c, chosen by the URL.
 *
 * Everything that is not SQL lives here, so the implementations stay thin:
 * argument checks, the per-handle mutex, transaction brackets, JSON
 * encoding of manifests and levels, frame decimation, and the task state
 * machine (store.h):
 *
 *   queued --begin/claim--> running --complete--> done
 *                             |  \--fail--> failed
 *                             |   \--cancel_run--> cancelled
 *                             +--(next delivery, attempt+1)--> running ...
 *                                 attempt == max_attempts at a delivery --> dead
 *
 * Invariants:
 *  1. Every public call holds st->mu for its whole duration: an
 *     implementation never sees two calls at once on one connection, and a
 *     transaction opened here is never interleaved with another thread's.
 *  2. Every task transition is one write transaction that reads the row,
 *     decides here, and writes it back guarded by the attempt and state it
 *     read (task_update's WHERE): a concurrent writer in another process
 *     makes the guard fail (0 rows), never a lost update.
 *  3. A result is written only in the transaction that moves its task from
 *     running under the caller's attempt to done (the fencing token).
 *  4. One operation reads the store's clock once, inside its transaction. */
#include "store/store_impl.h"
#include "report/result_json.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cvb_store {
    const struct cvb__store_ops *ops;
    void *ctx;
    pthread_mutex_t mu;
    char name[512];
};

const char *const cvb_task_states[CVB_TASK_N_STATES] = {"queued", "running",   "done",
                                                        "failed", "dead",      "cancelled"};

const char *const cvb__store_schema_v2[] = {
    CVB__DDL_RUNS,           CVB__DDL_RUNS_INDEX_STARTED, CVB__DDL_RUNS_INDEX_CREATED,
    CVB__DDL_SCENARIOS,      CVB__DDL_TASKS,              CVB__DDL_TASKS_INDEX_STATE,
    CVB__DDL_TASKS_INDEX_RUN, CVB__DDL_LEVELS("levels"),  CVB__DDL_FRAMES("frames"),
    CVB__DDL_WORKERS,        CVB__DDL_WORKERS_INDEX,      NULL,
};

#define WORKER_PRUNE_AGE_S 86400.0
#define WORKER_PRUNE_MAX 100
#define CLAIM_PAGE 32

/* ---- pure helpers ------------------------------------------------------------------- */

int cvb__task_state_index(const char *state) {
    for (int i = 0; state != NULL && i < CVB_TASK_N_STATES; i++)
        if (strcmp(state, cvb_task_states[i]) == 0) return i;
    return -1;
}

static bool in_words(const char *word, const char (*list)[24], int n) {
    for (int i = 0; i < n; i++)
        if (strncmp(word, list[i], sizeof list[i]) == 0) return true;
    return false;
}

bool cvb_task_matches(const struct cvb_task *t, const struct cvb_task_filter *f) {
    if (strncmp(t->req_backend, f->backend, sizeof f->backend) != 0) return false;
    int n_isas = f->n_isas < 0 ? 0 : f->n_isas > CVB_CAPS_MAX_ISAS ? CVB_CAPS_MAX_ISAS : f->n_isas;
    if (!in_words(t->req_isa, f->isas, n_isas)) return false;
    if (t->req_tag[0] == '\0') return true;
    int n_tags = f->n_tags < 0 ? 0 : f->n_tags > CVB_CAPS_MAX_TAGS ? CVB_CAPS_MAX_TAGS : f->n_tags;
    for (int i = 0; i < n_tags; i++)
        if (strncmp(t->req_tag, f->tags[i], sizeof f->tags[i]) == 0) return true;
    return false;
}

static bool run_status_known(const char *s) {
    static const char *const all[] = {"queued", "running",   "done",
                                      "failed", "cancelled", "interrupted"};
    for (size_t i = 0; s != NULL && i < CVB_ARRAY_LEN(all); i++)
        if (strcmp(s, all[i]) == 0) return true;
    return false;
}

static bool run_status_terminal(const char *s) {
    return strcmp(s, "done") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "cancelled") == 0 ||
           strcmp(s, "interrupted") == 0;
}

/* An id ('what' = "run id", "task id", "worker id"): 1..cap-1 characters
 * from [A-Za-z0-9._:@+-]. */
static int check_id(const struct cvb_store *st, const char *what, const char *id, size_t cap,
                    struct cvb_err *err) {
    if (id == NULL || id[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "store %s: empty %s", st->name, what);
    size_t n = strnlen(id, cap);
    if (n >= cap)
        return cvb_err_set(err, CVB_EINVAL, "store %s: %s '%.40s...' longer than %zu characters",
                           st->name, what, id, cap - 1);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '@' || c == '+' || c == '-';
        if (!ok)
            return cvb_err_set(err, CVB_EINVAL,
                               "store %s: %s '%s' has character 0x%02x at %zu (allowed: letters, "
                               "digits, . _ : @ + -)",
                               st->name, what, id, (unsigned char)c, i);
    }
    return 0;
}

static void iso_from_unix(double t, char *buf, size_t len) {
    time_t s = (time_t)t;
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "2026-11-26T21:30:00Z" -> Unix s; 0 if it does not parse. */
static double unix_from_iso(const char *iso) {
    struct tm tm = {0};
    int y, mo, d, h, mi, s;
    if (sscanf(iso, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (double)timegm(&tm);
}

/* The URL without its password (user:pass@ -> user@, password=x -> password=***). */
static void redact_url(const char *url, char *out, size_t len) {
    snprintf(out, len, "%s", url);
    char *scheme = strstr(out, "://");
    if (scheme != NULL) {
        char *user = scheme + 3;
        char *at = strchr(user, '@');
        char *slash = strchr(user, '/');
        if (at != NULL && (slash == NULL || at < slash)) {
            char *colon = memchr(user, ':', (size_t)(at - user));
            if (colon != NULL) memmove(colon, at, strlen(at) + 1);
        }
    }
    char *pw = strstr(out, "password=");
    if (pw != NULL) {
        char *val = pw + strlen("password=");
        char *end = strchr(val, '&');
        char rest[256];
        snprintf(rest, sizeof rest, "%s", end ? end : "");
        size_t room = len - (size_t)(val - out);
        snprintf(val, room, "***%s", rest);
    }
}

/* ---- open / close -------------------------------------------------------------------- */

int cvb_store_open(const char *url, struct cvb_store **out, struct cvb_err *err) {
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "results database: empty path");
    struct cvb_store *st = calloc(1, sizeof *st);
    if (st == NULL) return cvb_err_set(err, CVB_ENOMEM, "store %s: out of memory", url);
    const char *target = url;
    if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        st->ops = &cvb__store_postgres_ops;
        redact_url(url, st->name, sizeof st->name);
    } else {
        st->ops = &cvb__store_sqlite_ops;
        if (strncmp(url, "file:", 5) == 0) target = url + 5;
        if (target[0] == '\0') {
            free(st);
            return cvb_err_set(err, CVB_EINVAL, "results database '%s': empty path", url);
        }
        snprintf(st->name, sizeof st->name, "%s", target);
    }
    if (pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        return cvb_err_set(err, CVB_EINTERNAL, "store %s: cannot create a mutex", url);
    }
    int rc = st->ops->open(target, st->name, &st->ctx, err);
    if (rc < 0) {
        pthread_mutex_destroy(&st->mu);
        free(st);
        return rc;
    }
    *out = st;
    return 0;
}

void cvb_store_close(struct cvb_store *st) {
    if (st == NULL) return;
    st->ops->close(st->ctx);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

const char *cvb_store_kind(const struct cvb_store *st) { return st->ops->kind; }
const char *cvb_store_name(const struct cvb_store *st) { return st->name; }

int cvb_store_now(struct cvb_store *st, double *now, struct cvb_err *err) {
    pthread_mutex_lock(&st->mu);
    int rc = st->ops->now(st->ctx, now, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Transaction brackets; the caller holds st->mu. finish() commits when
 * rc >= 0 (returning rc, or the commit's failure), else rolls back. */
static int begin(struct cvb_store *st, bool write, struct cvb_err *err) {
    return st->ops->begin(st->ctx, write, err);
}
static int finish(struct cvb_store *st, int rc, struct cvb_err *err) {
    if (rc < 0) {
        st->ops->rollback(st->ctx);
        return rc;
    }
    int crc = st->ops->commit(st->ctx, err);
    return crc < 0 ? crc : rc;
}

static int no_run(const struct cvb_store *st, const char *run_id, struct cvb_err *err) {
    return cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%s'", st->name, run_id);
}

/* 0 if run 'id' exists (info filled if not NULL), CVB_ENOTFOUND described if not. */
static int get_run_row(struct cvb_store *st, const char *run_id, struct cvb_run_info *info,
                       struct cvb_err *err) {
    struct cvb_run_info tmp;
    int rc = st->ops->run_get(st->ctx, run_id, info ? info : &tmp, NULL, err);
    if (rc == 1) return no_run(st, run_id, err);
    return rc;
}

/* ---- v1 interface: `cvbench run` runs (origin cli, scenario 0) ------------------------- */

int cvb_store_put_run(struct cvb_store *st, const struct cvb_manifest *run, struct cvb_err *err) {
    char *json = NULL;
    if (run->run_id[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "results database %s: run has no id", st->name);
    int rc = check_id(st, "run id", run->run_id, sizeof run->run_id, err);
    if (rc < 0) return rc;
    struct cvb_manifest *m = malloc(sizeof *m);
    if (m == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", st->name);
    memcpy(m, run, sizeof *m);
    pthread_mutex_lock(&st->mu);
    double now = 0;
    rc = st->ops->now(st->ctx, &now, err);
    if (rc < 0) goto out;
    /* A run without a start time gets now, in the column and the JSON alike. */
    if (m->started_at[0] == '\0') iso_from_unix(now, m->started_at, sizeof m->started_at);
    double created = unix_from_iso(m->started_at);
    rc = cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &json, err);
    if (rc < 0) goto out;
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    struct cvb__run_row row = {.id = m->run_id,
                               .status = "running",
                               .origin = "cli",
                               .started_at = m->started_at,
                               .created = created > 0 ? created : now,
                               .n_scenarios = 1,
                               .m = m,
                               .manifest_json = json};
    rc = st->ops->run_insert(st->ctx, &row, err);
    if (rc == 1)
        rc = cvb_err_set(err, CVB_EINVAL, "results database %s: run '%.40s' already exists",
                         st->name, m->run_id);
    if (rc >= 0) {
        char scn[sizeof m->scenario_json];
        snprintf(scn, sizeof scn, "%s", m->scenario_json[0] ? m->scenario_json : "{}");
        rc = st->ops->scenario_insert(st->ctx, m->run_id, 0, scn, json, err);
    }
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    free(json);
    free(m);
    return rc;
}

int cvb_store_update_run(struct cvb_store *st, const struct cvb_manifest *m,
                         struct cvb_err *err) {
    char *json = NULL;
    int rc = cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &json, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    int changed = 0;
    rc = st->ops->run_set_manifest(st->ctx, m->run_id, m, json, false, &changed, err);
    if (rc >= 0 && changed != 1)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%.40s'", st->name,
                         m->run_id);
    if (rc >= 0) rc = st->ops->scenario_set_manifest(st->ctx, m->run_id, 0, json, true, err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    free(json);
    return rc;
}

int cvb_store_put_level(struct cvb_store *st, const char *run_id, const struct cvb_level_result *r,
                        struct cvb_err *err) {
    char *json = NULL;
    int rc = cvb__level_to_json(r, &json, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = get_run_row(st, run_id, NULL, err);
    /* A level stored again (a retried level) replaces the earlier record. */
    if (rc >= 0) rc = st->ops->level_put(st->ctx, run_id, 0, r, json, NULL, NULL, err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    free(json);
    return rc;
}

/* Keep at most CVB_MAX_FRAME_SAMPLES of fs[0..n), evenly spread: *kept is
 * fs itself or a malloc'ed copy (*owned). */
static int decimate(const struct cvb_store *st, const struct cvb_frame_sample *fs, int n,
                    const struct cvb_frame_sample **kept, int *n_kept,
                    struct cvb_frame_sample **owned, struct cvb_err *err) {
    *owned = NULL;
    *kept = fs;
    *n_kept = n;
    if (n <= CVB_MAX_FRAME_SAMPLES) return 0;
    int keep = CVB_MAX_FRAME_SAMPLES;
    struct cvb_frame_sample *d = malloc((size_t)keep * sizeof *d);
    if (d == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", st->name);
    for (int j = 0; j < keep; j++)
        d[j] = fs[(int64_t)j * n / keep];
    *owned = d;
    *kept = d;
    *n_kept = keep;
    return 0;
}

int cvb_store_put_frames(struct cvb_store *st, const char *run_id, int level,
                         const struct cvb_frame_sample *fs, int n, struct cvb_err *err) {
    if (n < 0 || (n > 0 && fs == NULL))
        return cvb_err_set(err, CVB_EINVAL, "results database %s: bad frame sample array (n=%d)",
                           st->name, n);
    const struct cvb_frame_sample *kept;
    struct cvb_frame_sample *owned;
    int n_kept;
    int rc = decimate(st, fs, n, &kept, &n_kept, &owned, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = get_run_row(st, run_id, NULL, err);
    if (rc >= 0) rc = st->ops->frames_put(st->ctx, run_id, 0, level, kept, n_kept, err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    free(owned);
    return rc;
}

int cvb_store_finish_run(struct cvb_store *st, const char *run_id, const char *status,
                         struct cvb_err *err) {
    if (status == NULL || (strcmp(status, "done") != 0 && strcmp(status, "failed") != 0 &&
                           strcmp(status, "interrupted") != 0))
        return cvb_err_set(err, CVB_EINVAL,
                           "results database %s: run status must be done, failed or "
                           "interrupted, not '%s'",
                           st->name, status ? status : "(null)");
    pthread_mutex_lock(&st->mu);
    double now = 0;
    char iso[32];
    int changed = 0;
    int rc = st->ops->now(st->ctx, &now, err);
    if (rc < 0) goto out;
    iso_from_unix(now, iso, sizeof iso);
    rc = st->ops->run_set_status(st->ctx, run_id, status, NULL, now, iso, NULL, &changed, err);
    if (rc >= 0 && changed == 0) rc = no_run(st, run_id, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- reads --------------------------------------------------------------------------- */

struct level_walk {
    const struct cvb_store *st;
    const char *run_id;
    int scenario;
    struct cvb_level_result *levels;
    int n;
};

static int level_cb(void *arg, int level, const char *json, struct cvb_err *err) {
    struct level_walk *w = arg;
    char origin[700];
    snprintf(origin, sizeof origin, "level %d of run '%s' scenario %d in results database %s",
             level, w->run_id, w->scenario, w->st->name);
    int rc = cvb__level_from_json(json ? json : "", origin, &w->levels[w->n], err);
    if (rc < 0) return rc;
    w->n++;
    return 0;
}

/* The levels of (run_id, scenario); the caller holds the lock, in a transaction. */
static int read_levels(struct cvb_store *st, const char *run_id, int scenario,
                       struct cvb_level_result *levels, int max_levels, int *n_levels,
                       struct cvb_err *err) {
    struct level_walk w = {st, run_id, scenario, levels, 0};
    int total = 0;
    int max = levels == NULL || max_levels < 0 ? 0 : max_levels;
    int rc = st->ops->levels_get(st->ctx, run_id, scenario, max, level_cb, &w, &total, err);
    if (rc < 0) return rc;
    if (total > w.n)
        cvb_log_warn("results database %s: run '%s' scenario %d has %d levels, read the first %d",
                     st->name, run_id, scenario, total, w.n);
    *n_levels = w.n;
    return 0;
}

/* Scenario 'scenario' of run 'run_id' (NULL / "latest": the newest run). */
static int get_run_scenario_locked(struct cvb_store *st, const char *run_id, int scenario,
                                   struct cvb_manifest *m, struct cvb_level_result *levels,
                                   int max_levels, int *n_levels, struct cvb_err *err) {
    bool latest = run_id == NULL || strcmp(run_id, "latest") == 0;
    struct cvb_run_info info;
    char *mjson = NULL;
    char origin[700];
    int rc = st->ops->run_get(st->ctx, latest ? NULL : run_id, &info, NULL, err);
    if (rc == 1) {
        rc = latest ? cvb_err_set(err, CVB_ENOTFOUND, "results database %s has no runs", st->name)
                    : no_run(st, run_id, err);
    }
    if (rc < 0) goto out;
    rc = st->ops->scenario_get(st->ctx, info.id, scenario, NULL, &mjson, err);
    if (rc == 1) {
        rc = cvb_err_set(err, CVB_ENOTFOUND, "results database %s: run '%s' has no scenario %d",
                         st->name, info.id, scenario);
        goto out;
    }
    if (rc < 0) goto out;
    if (mjson == NULL) {
        rc = cvb_err_set(err, CVB_ENOTFOUND,
                         "results database %s: run '%s' scenario %d has no manifest yet (no "
                         "level finished)",
                         st->name, info.id, scenario);
        goto out;
    }
    snprintf(origin, sizeof origin, "run '%s' in results database %s", info.id, st->name);
    rc = cvb__manifest_from_json(mjson, origin, m, err);
    if (rc < 0) goto out;
    rc = read_levels(st, info.id, scenario, levels, max_levels, n_levels, err);
out:
    free(mjson);
    return rc;
}

int cvb_store_get_run_scenario(struct cvb_store *st, const char *run_id, int scenario,
                               struct cvb_manifest *m, struct cvb_level_result *levels,
                               int max_levels, int *n_levels, struct cvb_err *err) {
    *n_levels = 0;
    if (scenario < 0 || scenario >= CVB_STORE_MAX_SCENARIOS)
        return cvb_err_set(err, CVB_EINVAL, "results database %s: scenario index %d out of 0..%d",
                           st->name, scenario, CVB_STORE_MAX_SCENARIOS - 1);
    pthread_mutex_lock(&st->mu);
    /* One read transaction, so the run and its levels are one snapshot. */
    int rc = begin(st, false, err);
    if (rc >= 0) {
        rc = get_run_scenario_locked(st, run_id, scenario, m, levels, max_levels, n_levels, err);
        rc = finish(st, rc, err);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_get_run(struct cvb_store *st, const char *run_id, struct cvb_manifest *m,
                      struct cvb_level_result *levels, int max_levels, int *n_levels,
                      struct cvb_err *err) {
    return cvb_store_get_run_scenario(st, run_id, 0, m, levels, max_levels, n_levels, err);
}

int cvb_store_get_levels(struct cvb_store *st, const char *run_id, int scenario,
                         struct cvb_level_result *levels, int max_levels, int *n_levels,
                         struct cvb_err *err) {
    *n_levels = 0;
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, false, err);
    if (rc >= 0) {
        rc = get_run_row(st, run_id, NULL, err);
        if (rc >= 0) rc = read_levels(st, run_id, scenario, levels, max_levels, n_levels, err);
        rc = finish(st, rc, err);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- runs and scenarios (service) ----------------------------------------------------- */

int cvb_store_create_run(struct cvb_store *st, const char *run_id,
                         const char *const *scenario_json, int n, struct cvb_err *err) {
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    if (n < 1 || n > CVB_STORE_MAX_SCENARIOS || scenario_json == NULL)
        return cvb_err_set(err, CVB_EINVAL, "store %s: run '%s' has %d scenarios (allowed 1..%d)",
                           st->name, run_id, n, CVB_STORE_MAX_SCENARIOS);
    for (int i = 0; i < n; i++)
        if (scenario_json[i] == NULL || scenario_json[i][0] == '\0')
            return cvb_err_set(err, CVB_EINVAL, "store %s: run '%s' scenario %d is empty",
                               st->name, run_id, i);
    pthread_mutex_lock(&st->mu);
    double now = 0;
    char iso[32];
    rc = st->ops->now(st->ctx, &now, err);
    if (rc < 0) goto out;
    iso_from_unix(now, iso, sizeof iso);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    struct cvb__run_row row = {.id = run_id,
                               .status = "queued",
                               .origin = "api",
                               .started_at = iso,
                               .created = now,
                               .n_scenarios = n,
                               .m = NULL,
                               .manifest_json = "{}"};
    rc = st->ops->run_insert(st->ctx, &row, err);
    if (rc == 1)
        rc = cvb_err_set(err, CVB_EINVAL, "store %s: run '%s' already exists", st->name, run_id);
    for (int i = 0; rc >= 0 && i < n; i++)
        rc = st->ops->scenario_insert(st->ctx, run_id, i, scenario_json[i], NULL, err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_list_runs(struct cvb_store *st, const char *status, int offset,
                        struct cvb_run_info *out, int max, int *n, struct cvb_err *err) {
    *n = 0;
    if (status != NULL && status[0] == '\0') status = NULL;
    if (status != NULL && !run_status_known(status))
        return cvb_err_set(err, CVB_EINVAL,
                           "store %s: unknown run status '%.32s' (queued, running, done, failed, "
                           "cancelled, interrupted)",
                           st->name, status);
    if (offset < 0 || max < 0 || (max > 0 && out == NULL))
        return cvb_err_set(err, CVB_EINVAL, "store %s: bad run list window (offset %d, max %d)",
                           st->name, offset, max);
    if (max == 0) return 0;
    pthread_mutex_lock(&st->mu);
    int rc = st->ops->run_list(st->ctx, status, offset, out, max, n, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_get_run_info(struct cvb_store *st, const char *run_id, struct cvb_run_info *out,
                           struct cvb_err *err) {
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = get_run_row(st, run_id, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_set_run_status(struct cvb_store *st, const char *run_id, const char *status,
                             const char *message, struct cvb_err *err) {
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    if (!run_status_known(status))
        return cvb_err_set(err, CVB_EINVAL, "store %s: unknown run status '%.32s'", st->name,
                           status ? status : "(null)");
    pthread_mutex_lock(&st->mu);
    struct cvb_run_info info;
    double now = 0, fin = 0;
    char iso[32];
    int changed = 0;
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = get_run_row(st, run_id, &info, err);
    if (rc >= 0 && run_status_terminal(info.status)) rc = CVB_TASK_FINISHED;
    if (rc == 0) rc = st->ops->now(st->ctx, &now, err);
    if (rc == 0) {
        if (strcmp(status, "done") == 0 || strcmp(status, "failed") == 0 ||
            strcmp(status, "cancelled") == 0)
            fin = now;
        iso_from_unix(now, iso, sizeof iso);
        rc = st->ops->run_set_status(st->ctx, run_id, status, message, fin, iso, NULL, &changed,
                                     err);
    }
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_get_scenario(struct cvb_store *st, const char *run_id, int idx, char **json_out,
                           struct cvb_manifest *m, bool *has_manifest, struct cvb_err *err) {
    *json_out = NULL;
    if (has_manifest) *has_manifest = false;
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    char *scn = NULL, *mjson = NULL;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->scenario_get(st->ctx, run_id, idx, &scn, m ? &mjson : NULL, err);
    pthread_mutex_unlock(&st->mu);
    if (rc == 1)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "store %s: run '%s' has no scenario %d", st->name,
                         run_id, idx);
    if (rc < 0) goto out;
    if (m != NULL && mjson != NULL) {
        char origin[700];
        snprintf(origin, sizeof origin, "run '%s' scenario %d in store %s", run_id, idx,
                 st->name);
        rc = cvb__manifest_from_json(mjson, origin, m, err);
        if (rc < 0) goto out;
        if (has_manifest) *has_manifest = true;
    }
    *json_out = scn;
    scn = NULL;
out:
    free(scn);
    free(mjson);
    return rc;
}

int cvb_store_cancel_run(struct cvb_store *st, const char *run_id, struct cvb_err *err) {
    int rc = check_id(st, "run id", run_id, 40, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    struct cvb_run_info info;
    double now = 0;
    char iso[32];
    int changed = 0;
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = get_run_row(st, run_id, &info, err);
    if (rc >= 0 && run_status_terminal(info.status)) rc = CVB_TASK_FINISHED;
    if (rc == 0) rc = st->ops->now(st->ctx, &now, err);
    if (rc == 0) {
        iso_from_unix(now, iso, sizeof iso);
        rc = st->ops->run_set_status(st->ctx, run_id, "cancelled", "cancelled", now, iso, NULL,
                                     &changed, err);
    }
    if (rc == 0) rc = st->ops->task_cancel_run(st->ctx, run_id, "run cancelled", now, err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* ---- tasks ------------------------------------------------------------------------------ */

static int no_task(const struct cvb_store *st, const char *id, struct cvb_err *err) {
    return cvb_err_set(err, CVB_ENOTFOUND, "store %s: no task '%s'", st->name, id);
}

static bool task_live(const struct cvb_task *t) {
    return strcmp(t->state, "queued") == 0 || strcmp(t->state, "running") == 0;
}

/* Deliver 't' (read in this transaction, live) to 'worker': dead if it has
 * had max_attempts deliveries, else the next attempt. Returns 0 (t updated),
 * CVB_TASK_DEAD, CVB_TASK_FENCED if the guarded write lost a race, or < 0. */
static int deliver(struct cvb_store *st, struct cvb_task *t, const char *worker, double lease_s,
                   int max_attempts, double now, struct cvb_err *err) {
    int old_attempt = t->attempt, changed = 0, rc;
    char old_state[sizeof t->state];
    memcpy(old_state, t->state, sizeof old_state);
    if (t->attempt >= max_attempts) {
        snprintf(t->reason, sizeof t->reason,
                 "dead after %d attempts (max %d); the last, by worker '%.64s', did not finish",
                 t->attempt, max_attempts, t->worker[0] ? t->worker : "(none)");
        snprintf(t->state, sizeof t->state, "dead");
        t->lease_until = 0;
        t->finished = now;
        rc = st->ops->task_update(st->ctx, t, old_attempt, old_state, &changed, err);
        if (rc < 0) return rc;
        return changed == 1 ? CVB_TASK_DEAD : CVB_TASK_FENCED;
    }
    t->attempt++;
    snprintf(t->state, sizeof t->state, "running");
    snprintf(t->worker, sizeof t->worker, "%s", worker);
    t->lease_until = now + lease_s;
    if (t->started == 0) t->started = now;
    rc = st->ops->task_update(st->ctx, t, old_attempt, old_state, &changed, err);
    if (rc < 0) return rc;
    return changed == 1 ? 0 : CVB_TASK_FENCED;
}

static int check_lease(const struct cvb_store *st, double lease_s, int max_attempts,
                       const char *worker, struct cvb_err *err) {
    if (!(lease_s > 0 && lease_s < 1e7))
        return cvb_err_set(err, CVB_EINVAL, "store %s: lease %g s out of (0, 1e7)", st->name,
                           lease_s);
    if (max_attempts < 1)
        return cvb_err_set(err, CVB_EINVAL, "store %s: max_attempts %d < 1", st->name,
                           max_attempts);
    return check_id(st, "worker id", worker, 64, err);
}

int cvb_store_add_task(struct cvb_store *st, const struct cvb_task *t, bool *created,
                       struct cvb_err *err) {
    if (created) *created = false;
    int rc = check_id(st, "task id", t->id, sizeof t->id, err);
    if (rc < 0) return rc;
    rc = check_id(st, "run id", t->run_id, sizeof t->run_id, err);
    if (rc < 0) return rc;
    if (t->scenario < 0 || t->scenario >= CVB_STORE_MAX_SCENARIOS || t->level < 0 ||
        t->streams < 1)
        return cvb_err_set(err, CVB_EINVAL,
                           "store %s: task '%s': bad scenario %d, level %d or streams %d",
                           st->name, t->id, t->scenario, t->level, t->streams);
    if (t->req_backend[0] == '\0' || t->req_isa[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "store %s: task '%s' has no required backend or isa",
                           st->name, t->id);
    struct cvb_task row = *t;
    snprintf(row.state, sizeof row.state, "queued");
    row.attempt = 0;
    row.worker[0] = '\0';
    row.reason[0] = '\0';
    row.lease_until = row.started = row.finished = 0;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = get_run_row(st, t->run_id, NULL, err);
    if (rc >= 0) rc = st->ops->now(st->ctx, &row.created, err);
    if (rc >= 0) rc = st->ops->task_insert(st->ctx, &row, err);
    if (rc == 0 && created) *created = true;
    if (rc == 1) rc = 0; /* exists: idempotent */
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_get_task(struct cvb_store *st, const char *task_id, struct cvb_task *t,
                       struct cvb_err *err) {
    int rc = check_id(st, "task id", task_id, CVB_TASK_ID_MAX, err);
    if (rc < 0) return rc;
    pthread_mutex_lock(&st->mu);
    rc = st->ops->task_get(st->ctx, task_id, t, err);
    pthread_mutex_unlock(&st->mu);
    return rc == 1 ? no_task(st, task_id, err) : rc;
}

int cvb_store_list_tasks(struct cvb_store *st, const char *run_id, const char *state,
                         struct cvb_task *out, int max, int *n, struct cvb_err *err) {
    *n = 0;
    if (state != NULL && state[0] == '\0') state = NULL;
    if (state != NULL && cvb__task_state_index(state) < 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "store %s: unknown task state '%.32s' (queued, running, done, failed, "
                           "dead, cancelled)",
                           st->name, state);
    if (run_id != NULL) {
        int rc = check_id(st, "run id", run_id, 40, err);
        if (rc < 0) return rc;
    }
    if (max < 0 || (max > 0 && out == NULL))
        return cvb_err_set(err, CVB_EINVAL, "store %s: bad task list size %d", st->name, max);
    if (max == 0) return 0;
    pthread_mutex_lock(&st->mu);
    int rc = st->ops->task_list(st->ctx, run_id, state, out, max, n, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_count_tasks(struct cvb_store *st, int64_t counts[CVB_TASK_N_STATES],
                          struct cvb_err *err) {
    for (int i = 0; i < CVB_TASK_N_STATES; i++)
        counts[i] = 0;
    pthread_mutex_lock(&st->mu);
    int rc = st->ops->task_count(st->ctx, counts, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_task_begin(struct cvb_store *st, const char *task_id, const char *worker,
                         double lease_s, int max_attempts, int *attempt, struct cvb_err *err) {
    *attempt = 0;
    int rc = check_id(st, "task id", task_id, CVB_TASK_ID_MAX, err);
    if (rc < 0) return rc;
    rc = check_lease(st, lease_s, max_attempts, worker, err);
    if (rc < 0) return rc;
    struct cvb_task t;
    double now = 0;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = st->ops->task_get(st->ctx, task_id, &t, err);
    if (rc == 1) rc = no_task(st, task_id, err);
    if (rc == 0 && !task_live(&t)) rc = CVB_TASK_FINISHED;
    if (rc == 0) rc = st->ops->now(st->ctx, &now, err);
    if (rc == 0) rc = deliver(st, &t, worker, lease_s, max_attempts, now, err);
    /* The write lock makes a lost guard impossible here; say so if it happens. */
    if (rc == CVB_TASK_FENCED)
        rc = cvb_err_set(err, CVB_EINTERNAL, "store %s: task '%s' changed under a write lock",
                         st->name, task_id);
    if (rc == 0) *attempt = t.attempt;
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_task_claim(struct cvb_store *st, const struct cvb_task_filter *f,
                         const char *worker, double lease_s, int max_attempts,
                         struct cvb_task *t, bool *redelivered, int *n_dead,
                         struct cvb_err *err) {
    if (redelivered) *redelivered = false;
    if (n_dead) *n_dead = 0;
    int rc = check_lease(st, lease_s, max_attempts, worker, err);
    if (rc < 0) return rc;
    struct cvb_task page[CLAIM_PAGE], after;
    double now = 0;
    int dead = 0;
    bool found = false, more = true, have_after = false;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = st->ops->now(st->ctx, &now, err);
    while (rc >= 0 && more && !found) {
        int n = 0;
        rc = st->ops->task_candidates(st->ctx, now, have_after ? &after : NULL, page, CLAIM_PAGE,
                                      &n, err);
        if (rc < 0) break;
        more = n == CLAIM_PAGE;
        if (n > 0) {
            after = page[n - 1];
            have_after = true;
        }
        for (int i = 0; i < n && !found && rc >= 0; i++) {
            struct cvb_task *c = &page[i];
            bool expired = strcmp(c->state, "running") == 0;
            /* An expired task that has had all its deliveries is dead for
             * everyone, whether or not this worker could run it. */
            if (!expired && !cvb_task_matches(c, f)) continue;
            if (expired && c->attempt < max_attempts && !cvb_task_matches(c, f)) continue;
            rc = deliver(st, c, worker, lease_s, max_attempts, now, err);
            if (rc == CVB_TASK_DEAD) {
                dead++;
                rc = 0;
            } else if (rc == 0) {
                *t = *c;
                found = true;
                if (redelivered) *redelivered = expired;
            } else if (rc == CVB_TASK_FENCED) {
                rc = 0; /* taken by another process between read and write: skip */
            }
        }
    }
    if (rc >= 0 && !found)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "store %s: no task for worker '%s'", st->name,
                         worker);
    /* Commit the dead markings even when nothing was found. */
    if (rc == CVB_ENOTFOUND) {
        int crc = st->ops->commit(st->ctx, err);
        if (crc < 0) rc = crc;
    } else {
        rc = finish(st, rc, err);
    }
    if (n_dead) *n_dead = rc == 0 || rc == CVB_ENOTFOUND ? dead : 0;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* In the open write transaction: if task 'task_id' is running under
 * 'attempt', move it to 'state' ("running": renew the lease to now +
 * lease_s; else finished now, with 'reason' if not NULL) and fill *t.
 * Returns 0, CVB_TASK_FENCED (nothing written), or < 0. */
static int fenced_update(struct cvb_store *st, const char *task_id, int attempt, const char *state,
                         const char *reason, double lease_s, struct cvb_task *t,
                         struct cvb_err *err) {
    double now = 0;
    int changed = 0;
    int rc = st->ops->task_get(st->ctx, task_id, t, err);
    if (rc == 1) return no_task(st, task_id, err);
    if (rc < 0) return rc;
    if (strcmp(t->state, "running") != 0 || t->attempt != attempt) return CVB_TASK_FENCED;
    rc = st->ops->now(st->ctx, &now, err);
    if (rc < 0) return rc;
    bool running = strcmp(state, "running") == 0;
    snprintf(t->state, sizeof t->state, "%s", state);
    if (reason != NULL) snprintf(t->reason, sizeof t->reason, "%s", reason);
    t->lease_until = running ? now + lease_s : 0;
    if (!running) t->finished = now;
    rc = st->ops->task_update(st->ctx, t, attempt, "running", &changed, err);
    if (rc < 0) return rc;
    return changed == 1 ? 0 : CVB_TASK_FENCED;
}

/* Commit on 0, roll back on FENCED (returned as is) or an error. */
static int finish_fenced(struct cvb_store *st, int rc, struct cvb_err *err) {
    if (rc == CVB_TASK_FENCED) {
        st->ops->rollback(st->ctx);
        return rc;
    }
    return finish(st, rc, err);
}

int cvb_store_task_renew(struct cvb_store *st, const char *task_id, int attempt, double lease_s,
                         struct cvb_err *err) {
    int rc = check_id(st, "task id", task_id, CVB_TASK_ID_MAX, err);
    if (rc < 0) return rc;
    if (!(lease_s > 0 && lease_s < 1e7))
        return cvb_err_set(err, CVB_EINVAL, "store %s: lease %g s out of (0, 1e7)", st->name,
                           lease_s);
    struct cvb_task t;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc >= 0) {
        rc = fenced_update(st, task_id, attempt, "running", NULL, lease_s, &t, err);
        rc = finish_fenced(st, rc, err);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_task_fail(struct cvb_store *st, const char *task_id, int attempt,
                        const char *reason, struct cvb_err *err) {
    int rc = check_id(st, "task id", task_id, CVB_TASK_ID_MAX, err);
    if (rc < 0) return rc;
    struct cvb_task t;
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc >= 0) {
        rc = fenced_update(st, task_id, attempt, "failed", reason && reason[0] ? reason : "failed",
                           0, &t, err);
        rc = finish_fenced(st, rc, err);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int cvb_store_task_complete(struct cvb_store *st, const char *task_id, int attempt,
                            const struct cvb_manifest *m, const struct cvb_level_result *r,
                            const struct cvb_frame_sample *samples, int n_samples,
                            struct cvb_err *err) {
    int rc = check_id(st, "task id", task_id, CVB_TASK_ID_MAX, err);
    if (rc < 0) return rc;
    if (r == NULL || n_samples < 0 || (n_samples > 0 && samples == NULL))
        return cvb_err_set(err, CVB_EINVAL, "store %s: task '%s': no level result or bad samples",
                           st->name, task_id);
    struct cvb_level_result *lr = malloc(sizeof *lr);
    char *ljson = NULL, *mjson = NULL;
    const struct cvb_frame_sample *kept;
    struct cvb_frame_sample *owned = NULL;
    int n_kept = 0, changed = 0;
    struct cvb_task t;
    if (lr == NULL) return cvb_err_set(err, CVB_ENOMEM, "store %s: out of memory", st->name);
    rc = decimate(st, samples, n_samples, &kept, &n_kept, &owned, err);
    if (rc < 0) goto out_free;
    if (m != NULL) {
        rc = cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &mjson, err);
        if (rc < 0) goto out_free;
    }
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    /* Fencing first: the result is written only if this moved the task to done. */
    rc = fenced_update(st, task_id, attempt, "done", NULL, 0, &t, err);
    if (rc == 0) {
        memcpy(lr, r, sizeof *lr);
        lr->level = t.level;
        rc = cvb__level_to_json(lr, &ljson, err);
    }
    if (rc == 0)
        rc = st->ops->level_put(st->ctx, t.run_id, t.scenario, lr, ljson, t.worker, t.id, err);
    if (rc == 0 && n_kept > 0)
        rc = st->ops->frames_put(st->ctx, t.run_id, t.scenario, t.level, kept, n_kept, err);
    if (rc == 0 && mjson != NULL) {
        rc = st->ops->scenario_set_manifest(st->ctx, t.run_id, t.scenario, mjson, false, err);
        if (rc == 0 && t.scenario == 0)
            rc = st->ops->run_set_manifest(st->ctx, t.run_id, m, mjson, true, &changed, err);
    }
    if (rc == 0)
        rc = st->ops->run_set_status(st->ctx, t.run_id, "running", NULL, 0, NULL, "queued",
                                     &changed, err);
    rc = finish_fenced(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
out_free:
    free(lr);
    free(ljson);
    free(mjson);
    free(owned);
    return rc;
}

/* ---- workers ------------------------------------------------------------------------------ */

int cvb_store_put_worker(struct cvb_store *st, const struct cvb_worker_info *w,
                         struct cvb_err *err) {
    int rc = check_id(st, "worker id", w->id, sizeof w->id, err);
    if (rc < 0) return rc;
    if (w->state[0] != '\0' && strcmp(w->state, "idle") != 0 && strcmp(w->state, "busy") != 0 &&
        strcmp(w->state, "stopped") != 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "store %s: worker '%s' state '%.16s' (idle, busy or stopped)",
                           st->name, w->id, w->state);
    struct cvb_worker_info *row = malloc(sizeof *row);
    if (row == NULL) return cvb_err_set(err, CVB_ENOMEM, "store %s: out of memory", st->name);
    *row = *w;
    if (row->state[0] == '\0') snprintf(row->state, sizeof row->state, "idle");
    pthread_mutex_lock(&st->mu);
    rc = begin(st, true, err);
    if (rc < 0) goto out;
    rc = st->ops->now(st->ctx, &row->last_seen, err);
    if (rc == 0 && row->started == 0) row->started = row->last_seen;
    if (rc == 0) rc = st->ops->worker_put(st->ctx, row, err);
    if (rc == 0)
        rc = st->ops->worker_prune(st->ctx, row->last_seen - WORKER_PRUNE_AGE_S, WORKER_PRUNE_MAX,
                                   err);
    rc = finish(st, rc, err);
out:
    pthread_mutex_unlock(&st->mu);
    free(row);
    return rc;
}

int cvb_store_list_workers(struct cvb_store *st, double lost_after_s,
                           struct cvb_worker_info *out, int max, int *n, struct cvb_err *err) {
    *n = 0;
    if (max < 0 || (max > 0 && out == NULL))
        return cvb_err_set(err, CVB_EINVAL, "store %s: bad worker list size %d", st->name, max);
    if (max == 0) return 0;
    double now = 0;
    pthread_mutex_lock(&st->mu);
    int rc = st->ops->now(st->ctx, &now, err);
    if (rc == 0) rc = st->ops->worker_list(st->ctx, out, max, n, err);
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; rc == 0 && i < *n; i++)
        if (now - out[i].last_seen > lost_after_s)
            snprintf(out[i].state, sizeof out[i].state, "lost");
    return rc;
}
