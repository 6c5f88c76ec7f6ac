/* SPDX-License-Identifier: Apache-2.0 */
/* Results store, embedded implementation: one SQLite file (default
 * cvbench.db). The only file that includes sqlite3.h.
 *
 * Schema (version 1; column types chosen to mean the same in PostgreSQL,
 * whose store shares it: TEXT, INTEGER, BIGINT, DOUBLE PRECISION; booleans
 * are INTEGER 0/1, times ISO 8601 UTC text):
 *
 *   schema_version(version)
 *   runs(id PK, started_at, finished_at, status, cvbench_version, git_commit,
 *        hostname, cpu_model, model_path, model_sha256, synthetic_weights,
 *        backend, precision, mode, execution, pacing, manifest_json)
 *   levels(run_id, level, streams, frames, fps, fps_per_stream,
 *          latency_{p50,p90,p95,p99,max}_ms, {decode,preprocess,queue,
 *          inference,postprocess}_ms, cpu_process_pct, cpu_system_pct,
 *          rss_peak_bytes, stable, bottleneck, status, result_json;
 *          PK(run_id, level))
 *   frames(run_id, level, stream, frame, t_s, latency_ms,
 *          {decode,...,postprocess}_ms; PK(run_id, level, stream, frame))
 *
 * Invariants:
 *  1. manifest_json and result_json hold the whole manifest / level result
 *     (report/result_json.h); the other columns are copies for queries.
 *     cvb_store_get_run rebuilds the structs from the JSON alone.
 *  2. Every write is one transaction: a level is stored whole or not at all.
 *  3. A database whose schema_version is newer than this code is refused,
 *     never written. Every error message names the database file.
 * The database runs in WAL mode with a busy timeout, so a report can read it
 * while a run writes. */
#include "cvb/store.h"
#include "report/result_json.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCHEMA_VERSION  1
#define BUSY_TIMEOUT_MS 10000

_Static_assert(CVB_STAGE_COUNT == 5, "the stage columns below list five stages");

struct cvb_store {
    sqlite3 *db;
    char path[1024];
};

static const char schema_sql[] =
    "CREATE TABLE runs ("
    " id TEXT PRIMARY KEY,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " status TEXT NOT NULL,"
    " cvbench_version TEXT, git_commit TEXT, hostname TEXT, cpu_model TEXT,"
    " model_path TEXT, model_sha256 TEXT, synthetic_weights INTEGER NOT NULL DEFAULT 0,"
    " backend TEXT, precision TEXT, mode TEXT, execution TEXT, pacing TEXT,"
    " manifest_json TEXT NOT NULL);"
    "CREATE INDEX runs_started_at ON runs (started_at);"
    "CREATE TABLE levels ("
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " level INTEGER NOT NULL,"
    " streams INTEGER NOT NULL,"
    " frames BIGINT, fps DOUBLE PRECISION, fps_per_stream DOUBLE PRECISION,"
    " latency_p50_ms DOUBLE PRECISION, latency_p90_ms DOUBLE PRECISION,"
    " latency_p95_ms DOUBLE PRECISION, latency_p99_ms DOUBLE PRECISION,"
    " latency_max_ms DOUBLE PRECISION,"
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION,"
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"
    " cpu_process_pct DOUBLE PRECISION, cpu_system_pct DOUBLE PRECISION,"
    " rss_peak_bytes BIGINT, stable INTEGER, bottleneck TEXT, status TEXT NOT NULL,"
    " result_json TEXT NOT NULL,"
    " PRIMARY KEY (run_id, level));"
    "CREATE TABLE frames ("
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " level INTEGER NOT NULL, stream INTEGER NOT NULL, frame BIGINT NOT NULL,"
    " t_s DOUBLE PRECISION, latency_ms DOUBLE PRECISION,"
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION,"
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"
    " PRIMARY KEY (run_id, level, stream, frame));";

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
static int db_fail(const struct cvb_store *st, int sqlite_rc, const char *what,
                   struct cvb_err *err) {
    return cvb_err_set(err, map_code(sqlite_rc), "results database %s: %s: %s", st->path, what,
                       st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(sqlite_rc));
}

static int exec(struct cvb_store *st, const char *sql, const char *what, struct cvb_err *err) {
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(st, rc, what, err);
}

static int prep(struct cvb_store *st, const char *sql, sqlite3_stmt **stmt, const char *what,
                struct cvb_err *err) {
    int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(st, rc, what, err);
}

/* Bind a fixed-size text field (bounded by its size, copied by SQLite). */
static void bind_str(sqlite3_stmt *s, int i, const char *v, size_t cap) {
    sqlite3_bind_text(s, i, v, (int)strnlen(v, cap), SQLITE_TRANSIENT);
}
#define BIND_STR(s, i, field) bind_str(s, i, field, sizeof(field))

static void rollback(struct cvb_store *st) {
    sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static void now_iso(char *buf, size_t len) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* 0 if run 'id' exists, CVB_ENOTFOUND (described) if not. */
static int run_exists(struct cvb_store *st, const char *id, struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    int rc = prep(st, "SELECT 1 FROM runs WHERE id = ?", &s, "looking up a run", err);
    if (rc < 0) goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%s'", st->path, id);
    else if (step != SQLITE_ROW)
        rc = db_fail(st, step, "looking up a run", err);
out:
    sqlite3_finalize(s);
    return rc;
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

/* ---- open / close -------------------------------------------------------------- */

/* Create the schema in an empty database, or check the version of an
 * existing one. Runs inside one IMMEDIATE transaction so two processes
 * opening a new file at once do not both create it. */
static int init_schema(struct cvb_store *st, struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    int rc = exec(st, "BEGIN IMMEDIATE", "starting a transaction", err);
    if (rc < 0) return rc;
    rc = exec(st, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
              "creating the schema", err);
    if (rc < 0) goto out;
    rc = prep(st, "SELECT max(version) FROM schema_version", &s, "reading the schema version", err);
    if (rc < 0) goto out;
    int step = sqlite3_step(s);
    if (step != SQLITE_ROW) {
        rc = db_fail(st, step, "reading the schema version", err);
        goto out;
    }
    if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
        rc = exec(st, schema_sql, "creating the schema", err);
        if (rc < 0) goto out;
        char sql[80];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version (version) VALUES (%d)",
                 SCHEMA_VERSION);
        rc = exec(st, sql, "creating the schema", err);
    } else {
        int64_t v = sqlite3_column_int64(s, 0);
        if (v > SCHEMA_VERSION)
            rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                             "results database %s has schema version %lld, newer than the "
                             "version %d this cvbench knows: use a newer cvbench or another "
                             "--db file",
                             st->path, (long long)v, SCHEMA_VERSION);
        else if (v < SCHEMA_VERSION)
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "results database %s has unknown schema version %lld (expected %d)",
                             st->path, (long long)v, SCHEMA_VERSION);
    }
out:
    sqlite3_finalize(s);
    if (rc < 0)
        rollback(st);
    else
        rc = exec(st, "COMMIT", "creating the schema", err);
    return rc;
}

int cvb_store_open(const char *path, struct cvb_store **out, struct cvb_err *err) {
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "results database: empty path");
    struct cvb_store *st = calloc(1, sizeof *st);
    if (st == NULL) return cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", path);
    snprintf(st->path, sizeof st->path, "%s", path);
    int rc = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = cvb_err_set(err, map_code(rc), "cannot open results database %s: %s", path,
                         st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
    /* The first statement reads the file: a non-database fails here. */
    rc = exec(st, "PRAGMA journal_mode = WAL", "opening", err);
    if (rc < 0) goto out;
    rc = exec(st, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", "opening", err);
    if (rc < 0) goto out;
    rc = init_schema(st, err);
out:
    if (rc < 0) {
        cvb_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void cvb_store_close(struct cvb_store *st) {
    if (st == NULL) return;
    sqlite3_close(st->db); /* statements are always finalized before returning */
    free(st);
}

/* ---- writes ---------------------------------------------------------------------- */

int cvb_store_put_run(struct cvb_store *st, const struct cvb_manifest *run, struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    char *json = NULL;
    if (run->run_id[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "results database %s: run has no id", st->path);
    /* A run without a start time gets now, in the column and the JSON alike. */
    struct cvb_manifest *m = malloc(sizeof *m);
    if (m == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "results database %s: out of memory", st->path);
    memcpy(m, run, sizeof *m);
    if (m->started_at[0] == '\0') now_iso(m->started_at, sizeof m->started_at);
    int rc = cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &json, err);
    if (rc < 0) goto out;
    rc = prep(st,
              "INSERT INTO runs (id, started_at, finished_at, status, cvbench_version, "
              "git_commit, hostname, cpu_model, model_path, model_sha256, synthetic_weights, "
              "backend, precision, mode, execution, pacing, manifest_json) "
              "VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              &s, "storing a run", err);
    if (rc < 0) goto out;
    int i = 1;
    BIND_STR(s, i++, m->run_id);
    BIND_STR(s, i++, m->started_at);
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
    sqlite3_bind_text(s, i++, json, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    if (step != SQLITE_DONE) {
        if ((step & 0xff) == SQLITE_CONSTRAINT)
            rc = cvb_err_set(err, CVB_EINVAL, "results database %s: run '%.40s' already exists",
                             st->path, m->run_id);
        else
            rc = db_fail(st, step, "storing a run", err);
    }
out:
    sqlite3_finalize(s);
    free(json);
    free(m);
    return rc;
}

int cvb_store_update_run(struct cvb_store *st, const struct cvb_manifest *m,
                         struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    char *json = NULL;
    int rc = cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &json, err);
    if (rc < 0) goto out;
    rc = prep(st, "UPDATE runs SET manifest_json = ? WHERE id = ?", &s, "updating a run", err);
    if (rc < 0) goto out;
    sqlite3_bind_text(s, 1, json, -1, SQLITE_STATIC);
    BIND_STR(s, 2, m->run_id);
    int step = sqlite3_step(s);
    if (step != SQLITE_DONE)
        rc = db_fail(st, step, "updating a run", err);
    else if (sqlite3_changes(st->db) != 1)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%.40s'", st->path,
                         m->run_id);
out:
    sqlite3_finalize(s);
    free(json);
    return rc;
}

int cvb_store_put_level(struct cvb_store *st, const char *run_id, const struct cvb_level_result *r,
                        struct cvb_err *err) {
    sqlite3_stmt *del = NULL, *s = NULL;
    char *json = NULL;
    bool in_txn = false;
    int rc = cvb__level_to_json(r, &json, err);
    if (rc < 0) goto out;
    rc = exec(st, "BEGIN IMMEDIATE", "starting a transaction", err);
    if (rc < 0) goto out;
    in_txn = true;
    rc = run_exists(st, run_id, err);
    if (rc < 0) goto out;
    /* A level stored again (a retried level) replaces the earlier record. */
    rc =
        prep(st, "DELETE FROM levels WHERE run_id = ? AND level = ?", &del, "storing a level", err);
    if (rc < 0) goto out;
    sqlite3_bind_text(del, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(del, 2, r->level);
    int step = sqlite3_step(del);
    if (step != SQLITE_DONE) {
        rc = db_fail(st, step, "storing a level", err);
        goto out;
    }
    rc = prep(st,
              "INSERT INTO levels (run_id, level, streams, frames, fps, fps_per_stream, "
              "latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, "
              "decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms, "
              "cpu_process_pct, cpu_system_pct, rss_peak_bytes, stable, bottleneck, status, "
              "result_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
              "?, ?, ?)",
              &s, "storing a level", err);
    if (rc < 0) goto out;
    int i = 1;
    sqlite3_bind_text(s, i++, run_id, -1, SQLITE_TRANSIENT);
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
    sqlite3_bind_text(s, i++, json, -1, SQLITE_STATIC);
    step = sqlite3_step(s);
    if (step != SQLITE_DONE) {
        rc = db_fail(st, step, "storing a level", err);
        goto out;
    }
    rc = exec(st, "COMMIT", "storing a level", err);
    in_txn = false;
out:
    sqlite3_finalize(del);
    sqlite3_finalize(s);
    if (in_txn) rollback(st);
    free(json);
    return rc;
}

int cvb_store_put_frames(struct cvb_store *st, const char *run_id, int level,
                         const struct cvb_frame_sample *fs, int n, struct cvb_err *err) {
    sqlite3_stmt *del = NULL, *s = NULL;
    bool in_txn = false;
    int rc = 0;
    if (n < 0 || (n > 0 && fs == NULL))
        return cvb_err_set(err, CVB_EINVAL, "results database %s: bad frame sample array (n=%d)",
                           st->path, n);
    rc = exec(st, "BEGIN IMMEDIATE", "starting a transaction", err);
    if (rc < 0) goto out;
    in_txn = true;
    rc = run_exists(st, run_id, err);
    if (rc < 0) goto out;
    rc = prep(st, "DELETE FROM frames WHERE run_id = ? AND level = ?", &del, "storing frames", err);
    if (rc < 0) goto out;
    sqlite3_bind_text(del, 1, run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(del, 2, level);
    int step = sqlite3_step(del);
    if (step != SQLITE_DONE) {
        rc = db_fail(st, step, "storing frames", err);
        goto out;
    }
    rc = prep(st,
              "INSERT OR REPLACE INTO frames (run_id, level, stream, frame, t_s, latency_ms, "
              "decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
              &s, "storing frames", err);
    if (rc < 0) goto out;
    /* Keep at most CVB_MAX_FRAME_SAMPLES, evenly spread over the input. */
    int keep = n > CVB_MAX_FRAME_SAMPLES ? CVB_MAX_FRAME_SAMPLES : n;
    for (int j = 0; j < keep; j++) {
        const struct cvb_frame_sample *f = &fs[(int64_t)j * n / keep];
        int i = 1;
        sqlite3_reset(s);
        sqlite3_bind_text(s, i++, run_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, i++, level);
        sqlite3_bind_int(s, i++, f->stream);
        sqlite3_bind_int64(s, i++, f->frame);
        sqlite3_bind_double(s, i++, f->t_s);
        sqlite3_bind_double(s, i++, f->latency_ms);
        for (int k = 0; k < CVB_STAGE_COUNT; k++)
            sqlite3_bind_double(s, i++, f->stage_ms[k]);
        step = sqlite3_step(s);
        if (step != SQLITE_DONE) {
            rc = db_fail(st, step, "storing frames", err);
            goto out;
        }
    }
    rc = exec(st, "COMMIT", "storing frames", err);
    in_txn = false;
out:
    sqlite3_finalize(del);
    sqlite3_finalize(s);
    if (in_txn) rollback(st);
    return rc;
}

int cvb_store_finish_run(struct cvb_store *st, const char *run_id, const char *status,
                         struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    char now[32];
    if (status == NULL || (strcmp(status, "done") != 0 && strcmp(status, "failed") != 0 &&
                           strcmp(status, "interrupted") != 0))
        return cvb_err_set(err, CVB_EINVAL,
                           "results database %s: run status must be done, failed or "
                           "interrupted, not '%s'",
                           st->path, status ? status : "(null)");
    int rc = prep(st, "UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", &s,
                  "finishing a run", err);
    if (rc < 0) goto out;
    now_iso(now, sizeof now);
    sqlite3_bind_text(s, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, now, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 3, run_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step != SQLITE_DONE)
        rc = db_fail(st, step, "finishing a run", err);
    else if (sqlite3_changes(st->db) == 0)
        rc = cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%s'", st->path, run_id);
out:
    sqlite3_finalize(s);
    return rc;
}

/* ---- reads ------------------------------------------------------------------------- */

int cvb_store_get_run(struct cvb_store *st, const char *run_id, struct cvb_manifest *m,
                      struct cvb_level_result *levels, int max_levels, int *n_levels,
                      struct cvb_err *err) {
    sqlite3_stmt *s = NULL;
    char id[64] = "", origin[1200];
    bool latest = run_id == NULL || strcmp(run_id, "latest") == 0;
    *n_levels = 0;
    /* One read transaction, so the run and its levels are one snapshot. */
    int rc = exec(st, "BEGIN", "starting a transaction", err);
    if (rc < 0) return rc;
    rc = prep(st,
              latest ? "SELECT id, manifest_json FROM runs ORDER BY started_at DESC, rowid DESC "
                       "LIMIT 1"
                     : "SELECT id, manifest_json FROM runs WHERE id = ?",
              &s, "reading a run", err);
    if (rc < 0) goto out;
    if (!latest) sqlite3_bind_text(s, 1, run_id, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(s);
    if (step == SQLITE_DONE) {
        rc = latest ? cvb_err_set(err, CVB_ENOTFOUND, "results database %s has no runs", st->path)
                    : cvb_err_set(err, CVB_ENOTFOUND, "results database %s: no run '%s'", st->path,
                                  run_id);
        goto out;
    }
    if (step != SQLITE_ROW) {
        rc = db_fail(st, step, "reading a run", err);
        goto out;
    }
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(s, 0));
    snprintf(origin, sizeof origin, "run '%s' in results database %s", id, st->path);
    const char *json = (const char *)sqlite3_column_text(s, 1);
    rc = cvb__manifest_from_json(json ? json : "", origin, m, err);
    if (rc < 0) goto out;
    sqlite3_finalize(s);
    s = NULL;

    rc = prep(st, "SELECT level, result_json FROM levels WHERE run_id = ? ORDER BY level", &s,
              "reading levels", err);
    if (rc < 0) goto out;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int n = 0, total = 0;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        total++;
        if (n >= max_levels || levels == NULL) continue;
        snprintf(origin, sizeof origin, "level %d of run '%s' in results database %s",
                 sqlite3_column_int(s, 0), id, st->path);
        json = (const char *)sqlite3_column_text(s, 1);
        rc = cvb__level_from_json(json ? json : "", origin, &levels[n], err);
        if (rc < 0) goto out;
        n++;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(st, step, "reading levels", err);
        goto out;
    }
    if (total > n)
        cvb_log_warn("results database %s: run '%s' has %d levels, read the first %d", st->path, id,
                     total, n);
    *n_levels = n;
out:
    sqlite3_finalize(s);
    sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}
