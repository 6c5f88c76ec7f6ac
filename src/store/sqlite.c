/* SPDX-License-Identifier: Apache-2.0 */
/* Results and task store, embedded implementation: one SQLite file (default
 * cvbench.db). The only file that includes sqlite3.h. It fills the slots of
 * struct cvb__store_ops (store_impl.h); the logic (task states, fencing,
 * JSON) is in store.c, which also holds the per-handle mutex.
 *
 * Schema: version 2, the shared DDL in store_impl.h (runs, scenarios, tasks,
 * levels, frames, workers). Version 1 (runs, levels(run_id, level),
 * frames(run_id, level, ...), from an older `cvbench run`) is migrated in
 * place when opened, in one IMMEDIATE transaction: runs gains its v2
 * columns (origin 'cli', created from started_at), each run gets scenario
 * row 0 with its manifest, and levels / frames are rebuilt with the
 * scenario column in their primary keys (SQLite cannot alter a primary key:
 * create, copy, drop, rename).
 *
 * Invariants:
 *  1. manifest_json and result_json hold the whole manifest / level result
 *     (report/result_json.h); the other columns are copies for queries.
 *  2. Every write store.c brackets is one transaction, taken with BEGIN
 *     IMMEDIATE so two processes never both hold a read snapshot they then
 *     try to upgrade (which SQLite answers with SQLITE_BUSY at once, no wait).
 *  3. A database whose schema_version is newer than this code is refused,
 *     never written. Every error message names the database file.
 * The database runs in WAL mode with a busy timeout, so readers and several
 * writer processes (an embedded server, `cvbench worker --store f.db`) share it. */
#include "store/store_impl.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 10000

_Static_assert(CVB_STAGE_COUNT == 5, "the stage columns below list five stages");

struct sq {
    sqlite3 *db;
    char path[512];
};

/* ---- helpers ----------------------------------------------------------------- */

static int map_code(int sqlite_rc) {
    switch (sqlite_rc & 0xff) {
    case SQLITE_NOMEM: return CVB_ENOMEM;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return CVB_EFORMAT;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH: return CVB_EINVAL;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE: return CVB_EINTERNAL;
    default: return CVB_EIO; /* CANTOPEN, IOERR, FULL, READONLY, BUSY, LOCKED, PERM ... */
    }
}

/* Translate the connection's last error, naming the file and the action. */
static int db_fail(const struct sq *q, int sqlite_rc, const char *what, struct cvb_err *err) {
    return cvb_err_set(err, map_code(sqlite_rc), "results database %s: %s: %s", q->path, what,
                       q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(sqlite_rc));
}

static int exec(struct sq *q, const char *sql, const char *what, struct cvb_err *err) {
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(q, rc, what, err);
}

static int prep(struct sq *q, const char *sql, sqlite3_stmt **stmt, const char *what,
                struct cvb_err *err) {
    int rc = sqlite3_prepare_v2(q->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(q, rc, what, err);
}

/* Run a prepared statement that returns no rows; finalizes it. */
static int step_done(struct sq *q, sqlite3_stmt *s, const char *what, struct cvb_err *err) {
    int step = sqlite3_step(s);
    int rc = step == SQLITE_DONE ? 0 : db_fail(q, step, what, err);
    sqlite3_finalize(s);
    return rc;
}

/* Bind a fixed-size text field (bounded by its size, copied by SQLite). */
static void bind_str(sqlite3_stmt *s, int i, const char *v, size_t cap) {
    sqlite3_bind_text(s, i, v, (int)strnlen(v, cap), SQLITE_TRANSIENT);
}
#define BIND_STR(s, i, field) bind_str(s, i, field, sizeof(field))
static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v == NULL)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

/* Copy text column i into buf[cap] (truncating; NULL -> ""). */
static void col_str(sqlite3_stmt *s, int i, char *buf, size_t cap) {
    const unsigned char *v = sqlite3_column_text(s, i);
    snprintf(buf, cap, "%s", v ? (const char *)v : "");
}
#define COL_STR(s, i, field) col_str(s, i, field, sizeof(field))

/* malloc'ed copy of text column i, NULL if the column is NULL. */
static int col_dup(struct sq *q, sqlite3_stmt *s, int i, char **out, struct cvb_err *err) {
    *out = NULL;
    const unsigned char *v = sqlite3_column_text(s, i);
    if (v == NULL) return 0;
    *out = strdup((const char *)v);
    return *out ? 0 : cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", q->path);
}

static char version_text[48];
static void version_init(void) {
    snprintf(version_text, sizeof version_text, "SQLite %s", sqlite3_libversion());
}

const char *cvb_store_version(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, version_init);
    return version_text;
}

/* ---- schema: create, check, migrate ------------------------------------------------ */

/* Version 1 -> 2 (the file's layout is described at the top of this file). */
static int migrate_v1(struct sq *q, struct cvb_err *err) {
    static const char *const steps[] = {
        "ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT 'cli'",
        "ALTER TABLE runs ADD COLUMN created DOUBLE PRECISION NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN finished DOUBLE PRECISION",
        "ALTER TABLE runs ADD COLUMN message TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN n_scenarios INTEGER NOT NULL DEFAULT 1",
        "UPDATE runs SET created = coalesce(CAST(strftime('%s', started_at) AS REAL), 0),"
        " finished = CAST(strftime('%s', finished_at) AS REAL)",
        CVB__DDL_RUNS_INDEX_CREATED,
        CVB__DDL_SCENARIOS,
        "INSERT INTO scenarios (run_id, idx, scenario_json, manifest_json)"
        " SELECT id, 0, coalesce(json_extract(manifest_json, '$.scenario_json'), '{}'),"
        " manifest_json FROM runs",
        CVB__DDL_TASKS,
        CVB__DDL_TASKS_INDEX_STATE,
        CVB__DDL_TASKS_INDEX_RUN,
        CVB__DDL_LEVELS("levels_v2"),
        "INSERT INTO levels_v2 (run_id, scenario, level, streams, frames, fps, fps_per_stream,"
        " latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,"
        " decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms, cpu_process_pct,"
        " cpu_system_pct, rss_peak_bytes, stable, bottleneck, status, result_json)"
        " SELECT run_id, 0, level, streams, frames, fps, fps_per_stream, latency_p50_ms,"
        " latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, decode_ms,"
        " preprocess_ms, queue_ms, inference_ms, postprocess_ms, cpu_process_pct,"
        " cpu_system_pct, rss_peak_bytes, stable, bottleneck, status, result_json FROM levels",
        "DROP TABLE levels",
        "ALTER TABLE levels_v2 RENAME TO levels",
        CVB__DDL_FRAMES("frames_v2"),
        "INSERT INTO frames_v2 (run_id, scenario, level, stream, frame, t_s, latency_ms,"
        " decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms)"
        " SELECT run_id, 0, level, stream, frame, t_s, latency_ms, decode_ms, preprocess_ms,"
        " queue_ms, inference_ms, postprocess_ms FROM frames",
        "DROP TABLE frames",
        "ALTER TABLE frames_v2 RENAME TO frames",
        CVB__DDL_WORKERS,
        CVB__DDL_WORKERS_INDEX,
        "UPDATE schema_version SET version = 2",
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(steps); i++) {
        int rc = exec(q, steps[i], "migrating schema version 1 to 2", err);
        if (rc < 0) return rc;
    }
    cvb_log_info("results database %s: migrated schema version 1 to 2", q->path);
    return 0;
}

/* Create the schema in an empty database, check the version of an existing
 * one, or migrate an older one. One IMMEDIATE transaction, so two processes
 * opening a new file at once do not both create it. */
static int init_schema(struct sq *q, struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    int rc = exec(q, "BEGIN IMMEDIATE", "starting a transaction", err);
    if (rc < 0) return rc;
    rc = exec(q, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
              "creating the schema", err);
    if (rc < 0) goto out;
    rc = prep(q, "SELECT max(version) FROM schema_version", &s, "reading the schema version", err);
    if (rc < 0) goto out;
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = db_fail(q, step, "reading the schema version", err);
        goto out;
    }
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        for (int i = 0; rc >= 0 && cvb__store_schema_v2[i] != NULL; i++)
            rc = exec(q, cvb__store_schema_v2[i], "creating the schema", err);
        if (rc < 0) goto out;
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version (version) VALUES (%d)",
                 CVB__STORE_SCHEMA_VERSION);
        rc = exec(q, sql, "creating the schema", err);
    } else {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v > CVB__STORE_SCHEMA_VERSION)
            rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                             "results database %s has schema version %lld, newer than the "
                             "version %d this cvbench knows: use a newer cvbench or another "
                             "--db file",
                             q->path, (long long)v, CVB__STORE_SCHEMA_VERSION);
        else if (v == 1) {
            sqlite3_finalize(s);
            s = NULL;
            rc = migrate_v1(q, err);
        } else if (v < CVB__STORE_SCHEMA_VERSION)
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "results database %s has unknown schema version %lld (expected %d)",
                             q->path, (long long)v, CVB__STORE_SCHEMA_VERSION);
    }
out:
    sqlite3_finalize(s);
    if (rc < 0)
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    else
        rc = exec(q, "COMMIT", "creating the schema", err);
    return rc;
}

static void sq_close(void *ctx) {
    struct sq *q = ctx;
    if (q == NULL) return;
    sqlite3_close(q->db); /* statements are always finalized before returning */
    free(q);
}

static int sq_open(const char *path, const char *name, void **ctx, struct cvb_err *err) {
    *ctx = NULL;
    struct sq *q = calloc(1, sizeof *q);
    if (q == NULL) return cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", name);
    snprintf(q->path, sizeof q->path, "%s", name);
    int rc = sqlite3_open_v2(
        path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = cvb_err_set(err, map_code(rc), "cannot open results database %s: %s", name,
                         q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    /* The first statement reads the file: a non-database fails here. */
    rc = exec(q, "PRAGMA journal_mode = WAL", "opening", err);
    if (rc < 0) goto out;
    rc = exec(q, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "opening", err);
    if (rc < 0) goto out;
    rc = init_schema(q, err);
out:
    if (rc < 0) {
        sq_close(q);
        return rc;
    }
    *ctx = q;
    return 0;
}

static int sq_now(void *ctx, double *now, struct cvb_err *err) {
    (void)ctx;
    (void)err;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *now = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    return 0;
}

static int sq_begin(void *ctx, bool write, struct cvb_err *err) {
    return exec(ctx, write ? "BEGIN IMMEDIATE" : "BEGIN", "starting a transaction", err);
}
static int sq_commit(void *ctx, struct cvb_err *err) {
    return exec(ctx, "COMMIT", "committing", err);
}
static void sq_rollback(void *ctx) {
    struct sq *q = ctx;
    int rc = sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc != SQLITE_OK && sqlite3_get_autocommit(q->db) == 0)
        cvb_log_warn("results database %s: rollback failed: %s", q->path, sqlite3_errmsg(q->db));
}

/* ---- runs and scenarios ---------------------------------------------------------------- */

static int sq_run_insert(void *ctx, const struct cvb__run_row *r, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "INSERT INTO runs (id, started_at, finished_at, status, cvbench_version, "
                  "git_commit, hostname, cpu_model, model_path, model_sha256, synthetic_weights, "
                  "backend, precision, mode, execution, pacing, manifest_json, origin, created, "
                  "finished, message, n_scenarios) VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?, ?, ?, ?, NULL, '', ?) ON CONFLICT (id) DO NOTHING",
                  &s, "storing a run", err);
    if (rc < 0) return rc;
    const struct cvb_manifest *m = r->m;
    int i = 1;
    bind_text(s, i++, r->id);
    bind_text(s, i++, r->started_at);
    bind_text(s, i++, r->status);
    if (m != NULL) {
        BIND_STR(s, i++, m->cvbench_version);
        BIND_STR(s, i++, m->git_commit);
        BIND_STR(s, i++, m->hostname);
        BIND_STR(s, i++, m->cpu_model);
        BIND_STR(s, i++, m->model_path);
        BIND_STR(s, i++, m->model_sha256);
        sqlite3_bind_int(s, i++, m->synthetic_weights ? 1 : 0);
        BIND_STR(s, i++, m->backend);
        BIND_STR(s, i++, m->precision);
        BIND_STR(s, i++, m->mode);
        BIND_STR(s, i++, m->execution);
        BIND_STR(s, i++, m->pacing);
    } else {
        for (int k = 0; k < 6; k++)
            sqlite3_bind_null(s, i++);
        sqlite3_bind_int(s, i++, 0);
        for (int k = 0; k < 5; k++)
            sqlite3_bind_null(s, i++);
    }
    bind_text(s, i++, r->manifest_json);
    bind_text(s, i++, r->origin);
    sqlite3_bind_double(s, i++, r->created);
    sqlite3_bind_int(s, i++, r->n_scenarios);
    rc = step_done(q, s, "storing a run", err);
    if (rc == 0 && sqlite3_changes(q->db) == 0) rc = 1;
    return rc;
}

#define RUN_INFO_COLS                                                                            \
    "id, status, origin, created, coalesce(finished, 0), n_scenarios,"                          \
    " (SELECT count(*) FROM levels l WHERE l.run_id = runs.id), message, manifest_json"

static void read_run_info(sqlite3_stmt *s, struct cvb_run_info *o) {
    memset(o, 0, sizeof *o);
    COL_STR(s, 0, o->id);
    COL_STR(s, 1, o->status);
    COL_STR(s, 2, o->origin);
    o->created = sqlite3_column_double(s, 3);
    o->finished = sqlite3_column_double(s, 4);
    o->n_scenarios = sqlite3_column_int(s, 5);
    o->n_levels = sqlite3_column_int(s, 6);
    COL_STR(s, 7, o->message);
}

static int sq_run_get(void *ctx, const char *run_id, struct cvb_run_info *info,
                      char **manifest_json, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    if (manifest_json) *manifest_json = NULL;
    int rc = prep(q,
                  run_id == NULL
                      ? "SELECT " RUN_INFO_COLS " FROM runs ORDER BY created DESC, id DESC LIMIT 1"
                      : "SELECT " RUN_INFO_COLS " FROM runs WHERE id = ?",
                  &s, "reading a run", err);
    if (rc < 0) return rc;
    if (run_id != NULL) bind_text(s, 1, run_id);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        rc = 1;
    else if (step != SQLITE_ROW)
        rc = db_fail(q, step, "reading a run", err);
    else {
        read_run_info(s, info);
        if (manifest_json) rc = col_dup(q, s, 8, manifest_json, err);
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_run_list(void *ctx, const char *status, int offset, struct cvb_run_info *out,
                       int max, int *n, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *n = 0;
    int rc = prep(q,
                  "SELECT " RUN_INFO_COLS " FROM runs WHERE (?1 IS NULL OR status = ?1)"
                  " ORDER BY created DESC, id DESC LIMIT ?2 OFFSET ?3",
                  &s, "listing runs", err);
    if (rc < 0) return rc;
    bind_text(s, 1, status);
    sqlite3_bind_int(s, 2, max);
    sqlite3_bind_int(s, 3, offset);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW && *n < max)
        read_run_info(s, &out[(*n)++]);
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = db_fail(q, step, "listing runs", err);
    sqlite3_finalize(s);
    return rc;
}

static int sq_run_set_manifest(void *ctx, const char *run_id, const struct cvb_manifest *m,
                               const char *manifest_json, bool only_if_unknown, int *changed,
                               struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *changed = 0;
    int rc = prep(q,
                  only_if_unknown
                      ? "UPDATE runs SET manifest_json = ?, cvbench_version = ?, git_commit = ?, "
                        "hostname = ?, cpu_model = ?, model_path = ?, model_sha256 = ?, "
                        "synthetic_weights = ?, backend = ?, precision = ?, mode = ?, "
                        "execution = ?, pacing = ? WHERE id = ? AND manifest_json = '{}'"
                      : "UPDATE runs SET manifest_json = ?, cvbench_version = ?, git_commit = ?, "
                        "hostname = ?, cpu_model = ?, model_path = ?, model_sha256 = ?, "
                        "synthetic_weights = ?, backend = ?, precision = ?, mode = ?, "
                        "execution = ?, pacing = ? WHERE id = ?",
                  &s, "updating a run", err);
    if (rc < 0) return rc;
    int i = 1;
    bind_text(s, i++, manifest_json);
    BIND_STR(s, i++, m->cvbench_version);
    BIND_STR(s, i++, m->git_commit);
    BIND_STR(s, i++, m->hostname);
    BIND_STR(s, i++, m->cpu_model);
    BIND_STR(s, i++, m->model_path);
    BIND_STR(s, i++, m->model_sha256);
    sqlite3_bind_int(s, i++, m->synthetic_weights ? 1 : 0);
    BIND_STR(s, i++, m->backend);
    BIND_STR(s, i++, m->precision);
    BIND_STR(s, i++, m->mode);
    BIND_STR(s, i++, m->execution);
    BIND_STR(s, i++, m->pacing);
    bind_text(s, i++, run_id);
    rc = step_done(q, s, "updating a run", err);
    if (rc == 0) *changed = sqlite3_changes(q->db);
    return rc;
}

static int sq_run_set_status(void *ctx, const char *run_id, const char *status,
                             const char *message, double finished, const char *finished_at,
                             const char *only_if, int *changed, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *changed = 0;
    int rc = prep(q,
                  "UPDATE runs SET status = ?1, message = coalesce(?2, message),"
                  " finished = CASE WHEN ?3 > 0 THEN ?3 ELSE finished END,"
                  " finished_at = CASE WHEN ?3 > 0 THEN ?4 ELSE finished_at END"
                  " WHERE id = ?5 AND (?6 IS NULL OR status = ?6)",
                  &s, "setting a run's status", err);
    if (rc < 0) return rc;
    bind_text(s, 1, status);
    bind_text(s, 2, message);
    sqlite3_bind_double(s, 3, finished);
    bind_text(s, 4, finished_at);
    bind_text(s, 5, run_id);
    bind_text(s, 6, only_if);
    rc = step_done(q, s, "setting a run's status", err);
    if (rc == 0) *changed = sqlite3_changes(q->db);
    return rc;
}

static int sq_scenario_insert(void *ctx, const char *run_id, int idx, const char *scenario_json,
                              const char *manifest_json, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "INSERT INTO scenarios (run_id, idx, scenario_json, manifest_json)"
                  " VALUES (?, ?, ?, ?)",
                  &s, "storing a scenario", err);
    if (rc < 0) return rc;
    bind_text(s, 1, run_id);
    sqlite3_bind_int(s, 2, idx);
    bind_text(s, 3, scenario_json);
    bind_text(s, 4, manifest_json);
    return step_done(q, s, "storing a scenario", err);
}

static int sq_scenario_get(void *ctx, const char *run_id, int idx, char **scenario_json,
                           char **manifest_json, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    if (scenario_json) *scenario_json = NULL;
    if (manifest_json) *manifest_json = NULL;
    int rc = prep(q, "SELECT scenario_json, manifest_json FROM scenarios WHERE run_id = ? AND idx = ?",
                  &s, "reading a scenario", err);
    if (rc < 0) return rc;
    bind_text(s, 1, run_id);
    sqlite3_bind_int(s, 2, idx);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        rc = 1;
    else if (step != SQLITE_ROW)
        rc = db_fail(q, step, "reading a scenario", err);
    else {
        if (scenario_json) rc = col_dup(q, s, 0, scenario_json, err);
        if (rc == 0 && manifest_json) rc = col_dup(q, s, 1, manifest_json, err);
        if (rc < 0 && scenario_json) {
            free(*scenario_json);
            *scenario_json = NULL;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

static int sq_scenario_set_manifest(void *ctx, const char *run_id, int idx,
                                    const char *manifest_json, bool always, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  always ? "UPDATE scenarios SET manifest_json = ? WHERE run_id = ? AND idx = ?"
                         : "UPDATE scenarios SET manifest_json = ? WHERE run_id = ? AND idx = ?"
                           " AND manifest_json IS NULL",
                  &s, "storing a scenario's manifest", err);
    if (rc < 0) return rc;
    bind_text(s, 1, manifest_json);
    bind_text(s, 2, run_id);
    sqlite3_bind_int(s, 3, idx);
    return step_done(q, s, "storing a scenario's manifest", err);
}

/* ---- levels and frames ------------------------------------------------------------------- */

static int sq_level_put(void *ctx, const char *run_id, int scenario,
                        const struct cvb_level_result *r, const char *result_json,
                        const char *worker, const char *task_id, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "INSERT OR REPLACE INTO levels (run_id, scenario, level, streams, frames, fps, "
                  "fps_per_stream, latency_p50_ms, latency_p90_ms, latency_p95_ms, "
                  "latency_p99_ms, latency_max_ms, decode_ms, preprocess_ms, queue_ms, "
                  "inference_ms, postprocess_ms, cpu_process_pct, cpu_system_pct, "
                  "rss_peak_bytes, stable, bottleneck, status, result_json, worker, task_id) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?)",
                  &s, "storing a level", err);
    if (rc < 0) return rc;
    int i = 1;
    bind_text(s, i++, run_id);
    sqlite3_bind_int(s, i++, scenario);
    sqlite3_bind_int(s, i++, r->level);
    sqlite3_bind_int(s, i++, r->streams);
    sqlite3_bind_int64(s, i++, r->frames);
    const double nums[] = {r->fps,
                           r->fps_per_stream,
                           r->latency_p50_ms,
                           r->latency_p90_ms,
                           r->latency_p95_ms,
                           r->latency_p99_ms,
                           r->latency_max_ms};
    for (size_t k = 0; k < CVB_ARRAY_LEN(nums); k++)
        sqlite3_bind_double(s, i++, nums[k]);
    for (int k = 0; k < CVB_STAGE_COUNT; k++)
        sqlite3_bind_double(s, i++, r->stages[k].mean_ms);
    sqlite3_bind_double(s, i++, r->cpu_process_pct);
    sqlite3_bind_double(s, i++, r->cpu_system_pct);
    sqlite3_bind_int64(s, i++, r->rss_peak_bytes);
    sqlite3_bind_int(s, i++, r->stable ? 1 : 0);
    BIND_STR(s, i++, r->bottleneck);
    if (r->status[0])
        BIND_STR(s, i++, r->status);
    else
        sqlite3_bind_text(s, i++, "ok", -1, SQLITE_STATIC);
    bind_text(s, i++, result_json);
    bind_text(s, i++, worker);
    bind_text(s, i++, task_id);
    return step_done(q, s, "storing a level", err);
}

static int sq_levels_get(void *ctx, const char *run_id, int scenario, int max, cvb__level_cb cb,
                         void *arg, int *total, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *total = 0;
    int rc = prep(q,
                  "SELECT level, result_json FROM levels WHERE run_id = ? AND scenario = ?"
                  " ORDER BY level",
                  &s, "reading levels", err);
    if (rc < 0) return rc;
    bind_text(s, 1, run_id);
    sqlite3_bind_int(s, 2, scenario);
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        if (*total < max) {
            rc = cb(arg, sqlite3_column_int(s, 0), (const char *)sqlite3_column_text(s, 1), err);
            if (rc < 0) break;
        }
        (*total)++;
    }
    if (rc >= 0 && step != SQLITE_DONE) rc = db_fail(q, step, "reading levels", err);
    sqlite3_finalize(s);
    return rc;
}

static int sq_frames_put(void *ctx, const char *run_id, int scenario, int level,
                         const struct cvb_frame_sample *fs, int n, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q, "DELETE FROM frames WHERE run_id = ? AND scenario = ? AND level = ?", &s,
                  "storing frames", err);
    if (rc < 0) return rc;
    bind_text(s, 1, run_id);
    sqlite3_bind_int(s, 2, scenario);
    sqlite3_bind_int(s, 3, level);
    rc = step_done(q, s, "storing frames", err);
    if (rc < 0 || n == 0) return rc;
    rc = prep(q,
              "INSERT OR REPLACE INTO frames (run_id, scenario, level, stream, frame, t_s, "
              "latency_ms, decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              &s, "storing frames", err);
    if (rc < 0) return rc;
    for (int j = 0; j < n; j++) {
        const struct cvb_frame_sample *f = &fs[j];
        int i = 1;
        sqlite3_reset(s);
        bind_text(s, i++, run_id);
        sqlite3_bind_int(s, i++, scenario);
        sqlite3_bind_int(s, i++, level);
        sqlite3_bind_int(s, i++, f->stream);
        sqlite3_bind_int64(s, i++, f->frame);
        sqlite3_bind_double(s, i++, f->t_s);
        sqlite3_bind_double(s, i++, f->latency_ms);
        for (int k = 0; k < CVB_STAGE_COUNT; k++)
            sqlite3_bind_double(s, i++, f->stage_ms[k]);
        int step = sqlite3_step(s);
        if (step != SQLITE_DONE) {
            rc = db_fail(q, step, "storing frames", err);
            break;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- tasks ------------------------------------------------------------------------------- */

#define TASK_COLS                                                                                \
    "id, run_id, scenario, level, streams, state, attempt, worker, lease_until, req_backend,"   \
    " req_isa, req_tag, reason, created, started, finished"

static void read_task(sqlite3_stmt *s, struct cvb_task *t) {
    memset(t, 0, sizeof *t);
    COL_STR(s, 0, t->id);
    COL_STR(s, 1, t->run_id);
    t->scenario = sqlite3_column_int(s, 2);
    t->level = sqlite3_column_int(s, 3);
    t->streams = sqlite3_column_int(s, 4);
    COL_STR(s, 5, t->state);
    t->attempt = sqlite3_column_int(s, 6);
    COL_STR(s, 7, t->worker);
    t->lease_until = sqlite3_column_double(s, 8);
    COL_STR(s, 9, t->req_backend);
    COL_STR(s, 10, t->req_isa);
    COL_STR(s, 11, t->req_tag);
    COL_STR(s, 12, t->reason);
    t->created = sqlite3_column_double(s, 13);
    t->started = sqlite3_column_double(s, 14);
    t->finished = sqlite3_column_double(s, 15);
}

/* Read up to 'max' task rows from a prepared, bound statement; finalizes it. */
static int read_tasks(struct sq *q, sqlite3_stmt *s, struct cvb_task *out, int max, int *n,
                      const char *what, struct cvb_err *err) {
    int step = SQLITE_DONE, rc = 0;
    *n = 0;
    while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW)
        read_task(s, &out[(*n)++]);
    if (*n < max && step != SQLITE_DONE) rc = db_fail(q, step, what, err);
    sqlite3_finalize(s);
    return rc;
}

static int sq_task_insert(void *ctx, const struct cvb_task *t, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "INSERT INTO tasks (" TASK_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                  &s, "storing a task", err);
    if (rc < 0) return rc;
    int i = 1;
    BIND_STR(s, i++, t->id);
    BIND_STR(s, i++, t->run_id);
    sqlite3_bind_int(s, i++, t->scenario);
    sqlite3_bind_int(s, i++, t->level);
    sqlite3_bind_int(s, i++, t->streams);
    BIND_STR(s, i++, t->state);
    sqlite3_bind_int(s, i++, t->attempt);
    BIND_STR(s, i++, t->worker);
    sqlite3_bind_double(s, i++, t->lease_until);
    BIND_STR(s, i++, t->req_backend);
    BIND_STR(s, i++, t->req_isa);
    BIND_STR(s, i++, t->req_tag);
    BIND_STR(s, i++, t->reason);
    sqlite3_bind_double(s, i++, t->created);
    sqlite3_bind_double(s, i++, t->started);
    sqlite3_bind_double(s, i++, t->finished);
    rc = step_done(q, s, "storing a task", err);
    if (rc == 0 && sqlite3_changes(q->db) == 0) rc = 1;
    return rc;
}

static int sq_task_get(void *ctx, const char *id, struct cvb_task *t, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int n = 0;
    int rc = prep(q, "SELECT " TASK_COLS " FROM tasks WHERE id = ?", &s, "reading a task", err);
    if (rc < 0) return rc;
    bind_text(s, 1, id);
    rc = read_tasks(q, s, t, 1, &n, "reading a task", err);
    return rc < 0 ? rc : n == 1 ? 0 : 1;
}

static int sq_task_list(void *ctx, const char *run_id, const char *state, struct cvb_task *out,
                        int max, int *n, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "SELECT " TASK_COLS " FROM tasks WHERE (?1 IS NULL OR run_id = ?1)"
                  " AND (?2 IS NULL OR state = ?2) ORDER BY created, id LIMIT ?3",
                  &s, "listing tasks", err);
    if (rc < 0) return rc;
    bind_text(s, 1, run_id);
    bind_text(s, 2, state);
    sqlite3_bind_int(s, 3, max);
    return read_tasks(q, s, out, max, n, "listing tasks", err);
}

static int sq_task_candidates(void *ctx, double now, const struct cvb_task *after,
                              struct cvb_task *out, int max, int *n, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "SELECT " TASK_COLS " FROM tasks WHERE (state = 'queued' OR (state = 'running'"
                  " AND lease_until < ?1)) AND (?2 IS NULL OR (created, id) > (?2, ?3))"
                  " ORDER BY created, id LIMIT ?4",
                  &s, "finding a task to claim", err);
    if (rc < 0) return rc;
    sqlite3_bind_double(s, 1, now);
    if (after != NULL) {
        sqlite3_bind_double(s, 2, after->created);
        BIND_STR(s, 3, after->id);
    }
    sqlite3_bind_int(s, 4, max);
    return read_tasks(q, s, out, max, n, "finding a task to claim", err);
}

static int sq_task_update(void *ctx, const struct cvb_task *t, int old_attempt,
                          const char *old_state, int *changed, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *changed = 0;
    int rc = prep(q,
                  "UPDATE tasks SET state = ?, attempt = ?, worker = ?, lease_until = ?,"
                  " reason = ?, started = ?, finished = ? WHERE id = ? AND attempt = ?"
                  " AND state = ?",
                  &s, "updating a task", err);
    if (rc < 0) return rc;
    int i = 1;
    BIND_STR(s, i++, t->state);
    sqlite3_bind_int(s, i++, t->attempt);
    BIND_STR(s, i++, t->worker);
    sqlite3_bind_double(s, i++, t->lease_until);
    BIND_STR(s, i++, t->reason);
    sqlite3_bind_double(s, i++, t->started);
    sqlite3_bind_double(s, i++, t->finished);
    BIND_STR(s, i++, t->id);
    sqlite3_bind_int(s, i++, old_attempt);
    bind_text(s, i++, old_state);
    rc = step_done(q, s, "updating a task", err);
    if (rc == 0) *changed = sqlite3_changes(q->db);
    return rc;
}

static int sq_task_cancel_run(void *ctx, const char *run_id, const char *reason, double now,
                              struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "UPDATE tasks SET state = 'cancelled', reason = ?, finished = ?,"
                  " lease_until = 0 WHERE run_id = ? AND state IN ('queued', 'running')",
                  &s, "cancelling tasks", err);
    if (rc < 0) return rc;
    bind_text(s, 1, reason);
    sqlite3_bind_double(s, 2, now);
    bind_text(s, 3, run_id);
    return step_done(q, s, "cancelling tasks", err);
}

static int sq_task_count(void *ctx, int64_t counts[CVB_TASK_N_STATES], struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q, "SELECT state, count(*) FROM tasks GROUP BY state", &s, "counting tasks", err);
    if (rc < 0) return rc;
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        int k = cvb__task_state_index((const char *)sqlite3_column_text(s, 0));
        if (k >= 0) counts[k] = sqlite3_column_int64(s, 1);
    }
    if (step != SQLITE_DONE) rc = db_fail(q, step, "counting tasks", err);
    sqlite3_finalize(s);
    return rc;
}

/* ---- workers ----------------------------------------------------------------------------- */

#define WORKER_COLS                                                                              \
    "id, host, backend, isa, isas, tags, cpu_model, cpu_flags, cores, mem_bytes, state,"        \
    " task_id, metrics_url, started, last_seen, progress"

static int sq_worker_put(void *ctx, const struct cvb_worker_info *w, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "INSERT OR REPLACE INTO workers (" WORKER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, "
                  "?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  &s, "storing a worker", err);
    if (rc < 0) return rc;
    int i = 1;
    BIND_STR(s, i++, w->id);
    BIND_STR(s, i++, w->host);
    BIND_STR(s, i++, w->backend);
    BIND_STR(s, i++, w->isa);
    BIND_STR(s, i++, w->isas);
    BIND_STR(s, i++, w->tags);
    BIND_STR(s, i++, w->cpu_model);
    BIND_STR(s, i++, w->cpu_flags);
    sqlite3_bind_int(s, i++, w->cores);
    sqlite3_bind_int64(s, i++, w->mem_bytes);
    BIND_STR(s, i++, w->state);
    BIND_STR(s, i++, w->task_id);
    BIND_STR(s, i++, w->metrics_url);
    sqlite3_bind_double(s, i++, w->started);
    sqlite3_bind_double(s, i++, w->last_seen);
    BIND_STR(s, i++, w->progress);
    return step_done(q, s, "storing a worker", err);
}

static int sq_worker_prune(void *ctx, double before, int max, struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    int rc = prep(q,
                  "DELETE FROM workers WHERE id IN (SELECT id FROM workers WHERE last_seen < ?"
                  " ORDER BY last_seen LIMIT ?)",
                  &s, "pruning workers", err);
    if (rc < 0) return rc;
    sqlite3_bind_double(s, 1, before);
    sqlite3_bind_int(s, 2, max);
    return step_done(q, s, "pruning workers", err);
}

static int sq_worker_list(void *ctx, struct cvb_worker_info *out, int max, int *n,
                          struct cvb_err *err) {
    struct sq *q = ctx;
    sqlite3_stmt *s = NULL;
    *n = 0;
    int rc = prep(q, "SELECT " WORKER_COLS " FROM workers ORDER BY last_seen DESC, id LIMIT ?", &s,
                  "listing workers", err);
    if (rc < 0) return rc;
    sqlite3_bind_int(s, 1, max);
    int step = SQLITE_DONE;
    while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct cvb_worker_info *w = &out[(*n)++];
        memset(w, 0, sizeof *w);
        COL_STR(s, 0, w->id);
        COL_STR(s, 1, w->host);
        COL_STR(s, 2, w->backend);
        COL_STR(s, 3, w->isa);
        COL_STR(s, 4, w->isas);
        COL_STR(s, 5, w->tags);
        COL_STR(s, 6, w->cpu_model);
        COL_STR(s, 7, w->cpu_flags);
        w->cores = sqlite3_column_int(s, 8);
        w->mem_bytes = sqlite3_column_int64(s, 9);
        COL_STR(s, 10, w->state);
        COL_STR(s, 11, w->task_id);
        COL_STR(s, 12, w->metrics_url);
        w->started = sqlite3_column_double(s, 13);
        w->last_seen = sqlite3_column_double(s, 14);
        COL_STR(s, 15, w->progress);
    }
    if (*n < max && step != SQLITE_DONE) rc = db_fail(q, step, "listing workers", err);
    sqlite3_finalize(s);
    return rc;
}

const struct cvb__store_ops cvb__store_sqlite_ops = {
    .kind = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .now = sq_now,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .run_insert = sq_run_insert,
    .run_get = sq_run_get,
    .run_list = sq_run_list,
    .run_set_manifest = sq_run_set_manifest,
    .run_set_status = sq_run_set_status,
    .scenario_insert = sq_scenario_insert,
    .scenario_get = sq_scenario_get,
    .scenario_set_manifest = sq_scenario_set_manifest,
    .level_put = sq_level_put,
    .levels_get = sq_levels_get,
    .frames_put = sq_frames_put,
    .task_insert = sq_task_insert,
    .task_get = sq_task_get,
    .task_list = sq_task_list,
    .task_candidates = sq_task_candidates,
    .task_update = sq_task_update,
    .task_cancel_run = sq_task_cancel_run,
    .task_count = sq_task_count,
    .worker_put = sq_worker_put,
    .worker_prune = sq_worker_prune,
    .worker_list = sq_worker_list,
};
