/* SPDX-License-Identifier: Apache-2.0 */
/* The interface between src/store/store.c (the public cvb_store_* API) and
 * one store implementation (sqlite.c, postgres.c): a table of function
 * pointers, one slot per SQL-level operation, ggml-backend style.
 *
 * Division of labour. store.c owns everything that is not SQL: argument
 * validation, the per-handle mutex (every public call holds it, so an
 * implementation never sees two calls at once on one handle), transaction
 * brackets (begin/commit/rollback around every multi-statement operation),
 * the task state machine and fencing decisions, JSON encoding/decoding of
 * manifests and levels, frame decimation, "latest", "lost" workers. An
 * implementation only runs statements: each slot below is one or two
 * statements with the parameters it is given.
 *
 * Conventions for every slot:
 *  - 'ctx' is the pointer the implementation's open() returned.
 *  - Return 0 on success; a positive value only where a slot says so
 *    (1 = "no such row" / "row already exists", nothing in 'err'); a negative
 *    CVB_E* status with 'err' describing the failure and naming the store
 *    ("results database <path>: ..." or "PostgreSQL store <url>: ...").
 *  - Strings passed in are NUL-terminated and already bounded by the caller;
 *    strings read back are copied into fixed fields with truncation.
 *  - Times are Unix seconds (double). Slots that need "now" get it as an
 *    argument: store.c reads it once per operation with now() inside the
 *    transaction, so one operation uses one clock reading.
 *  - Task and run rows are read whole: every field of struct cvb_task /
 *    cvb_run_info is filled (n_levels = count of level rows of the run).
 *  - A write slot called outside a transaction is still one statement, i.e.
 *    atomic; store.c brackets where several statements must be atomic.
 *
 * Keep this table stable: both implementations are written against it. A new
 * slot is added at the end, and every implementation fills it. */
#ifndef CVB_STORE_IMPL_H
#define CVB_STORE_IMPL_H

#include "cvb/store.h"

#define CVB__STORE_SCHEMA_VERSION 2

/* ---- schema version 2, shared DDL ---------------------------------------------------
 * The same text runs on SQLite and PostgreSQL (types: TEXT, INTEGER, BIGINT,
 * DOUBLE PRECISION; booleans INTEGER 0/1). One statement per macro, so a
 * migration can create one table. schema_version(version INTEGER NOT NULL)
 * is created first by each implementation ("IF NOT EXISTS"), and holds one row. */
#define CVB__DDL_RUNS                                                                        \
    "CREATE TABLE runs ("                                                                    \
    " id TEXT PRIMARY KEY,"                                                                  \
    " started_at TEXT NOT NULL,"                                                             \
    " finished_at TEXT,"                                                                     \
    " status TEXT NOT NULL,"                                                                 \
    " cvbench_version TEXT, git_commit TEXT, hostname TEXT, cpu_model TEXT,"                 \
    " model_path TEXT, model_sha256 TEXT, synthetic_weights INTEGER NOT NULL DEFAULT 0,"     \
    " backend TEXT, precision TEXT, mode TEXT, execution TEXT, pacing TEXT,"                 \
    " manifest_json TEXT NOT NULL,"                                                          \
    " origin TEXT NOT NULL DEFAULT 'cli',"                                                   \
    " created DOUBLE PRECISION NOT NULL DEFAULT 0,"                                          \
    " finished DOUBLE PRECISION,"                                                            \
    " message TEXT NOT NULL DEFAULT '',"                                                     \
    " n_scenarios INTEGER NOT NULL DEFAULT 1)"
#define CVB__DDL_RUNS_INDEX_STARTED "CREATE INDEX runs_started_at ON runs (started_at)"
#define CVB__DDL_RUNS_INDEX_CREATED "CREATE INDEX runs_created ON runs (created)"
#define CVB__DDL_SCENARIOS                                                                   \
    "CREATE TABLE scenarios ("                                                               \
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"                          \
    " idx INTEGER NOT NULL,"                                                                 \
    " scenario_json TEXT NOT NULL,"                                                          \
    " manifest_json TEXT,"                                                                   \
    " PRIMARY KEY (run_id, idx))"
#define CVB__DDL_TASKS                                                                       \
    "CREATE TABLE tasks ("                                                                   \
    " id TEXT PRIMARY KEY,"                                                                  \
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"                          \
    " scenario INTEGER NOT NULL, level INTEGER NOT NULL, streams INTEGER NOT NULL,"          \
    " state TEXT NOT NULL,"                                                                  \
    " attempt INTEGER NOT NULL DEFAULT 0,"                                                   \
    " worker TEXT NOT NULL DEFAULT '',"                                                      \
    " lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,"                                      \
    " req_backend TEXT NOT NULL, req_isa TEXT NOT NULL, req_tag TEXT NOT NULL DEFAULT '',"   \
    " reason TEXT NOT NULL DEFAULT '',"                                                      \
    " created DOUBLE PRECISION NOT NULL,"                                                    \
    " started DOUBLE PRECISION NOT NULL DEFAULT 0,"                                          \
    " finished DOUBLE PRECISION NOT NULL DEFAULT 0)"
#define CVB__DDL_TASKS_INDEX_STATE "CREATE INDEX tasks_state_created ON tasks (state, created)"
#define CVB__DDL_TASKS_INDEX_RUN "CREATE INDEX tasks_run ON tasks (run_id)"
/* 'name' lets a migration create it beside the old table, then rename. */
#define CVB__DDL_LEVELS(name)                                                                \
    "CREATE TABLE " name " ("                                                                \
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"                          \
    " scenario INTEGER NOT NULL DEFAULT 0,"                                                  \
    " level INTEGER NOT NULL,"                                                               \
    " streams INTEGER NOT NULL,"                                                             \
    " frames BIGINT, fps DOUBLE PRECISION, fps_per_stream DOUBLE PRECISION,"                 \
    " latency_p50_ms DOUBLE PRECISION, latency_p90_ms DOUBLE PRECISION,"                     \
    " latency_p95_ms DOUBLE PRECISION, latency_p99_ms DOUBLE PRECISION,"                     \
    " latency_max_ms DOUBLE PRECISION,"                                                      \
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION," \
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"                       \
    " cpu_process_pct DOUBLE PRECISION, cpu_system_pct DOUBLE PRECISION,"                    \
    " rss_peak_bytes BIGINT, stable INTEGER, bottleneck TEXT, status TEXT NOT NULL,"         \
    " result_json TEXT NOT NULL,"                                                            \
    " worker TEXT, task_id TEXT,"                                                            \
    " PRIMARY KEY (run_id, scenario, level))"
#define CVB__DDL_FRAMES(name)                                                                \
    "CREATE TABLE " name " ("                                                                \
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"                          \
    " scenario INTEGER NOT NULL DEFAULT 0,"                                                  \
    " level INTEGER NOT NULL, stream INTEGER NOT NULL, frame BIGINT NOT NULL,"               \
    " t_s DOUBLE PRECISION, latency_ms DOUBLE PRECISION,"                                    \
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION," \
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"                       \
    " PRIMARY KEY (run_id, scenario, level, stream, frame))"
#define CVB__DDL_WORKERS                                                                     \
    "CREATE TABLE workers ("                                                                 \
    " id TEXT PRIMARY KEY,"                                                                  \
    " host TEXT NOT NULL, backend TEXT NOT NULL, isa TEXT NOT NULL, isas TEXT NOT NULL,"     \
    " tags TEXT NOT NULL, cpu_model TEXT NOT NULL, cpu_flags TEXT NOT NULL,"                 \
    " cores INTEGER NOT NULL, mem_bytes BIGINT NOT NULL,"                                    \
    " state TEXT NOT NULL, task_id TEXT NOT NULL, metrics_url TEXT NOT NULL,"                \
    " progress TEXT NOT NULL DEFAULT '',"                                                     \
    " started DOUBLE PRECISION NOT NULL, last_seen DOUBLE PRECISION NOT NULL)"
#define CVB__DDL_WORKERS_INDEX "CREATE INDEX workers_last_seen ON workers (last_seen)"

/* The whole v2 schema for an empty store, in order (NULL-terminated). */
extern const char *const cvb__store_schema_v2[];

/* The columns of a runs row that are not the manifest's copies. */
struct cvb__run_row {
    const char *id;
    const char *status;
    const char *origin;            /* "cli" | "api" */
    const char *started_at;        /* ISO 8601 UTC */
    double created;
    int n_scenarios;
    const struct cvb_manifest *m;  /* NULL: the manifest columns stay NULL */
    const char *manifest_json;     /* "{}" while unknown */
};

/* Called by levels_get for each level row in level order; a negative
 * return stops the walk and is returned by levels_get. */
typedef int (*cvb__level_cb)(void *arg, int level, const char *result_json, struct cvb_err *err);

struct cvb__store_ops {
    const char *kind; /* "sqlite" | "postgresql" */

    /* Open the store 'target' (a file path without "file:", or a libpq URL),
     * creating / checking / migrating the schema. 'name' is the store's
     * name for messages (kept by the implementation). */
    int (*open)(const char *target, const char *name, void **ctx, struct cvb_err *err);
    void (*close)(void *ctx);
    /* The store's clock (Unix s, sub-second resolution). */
    int (*now)(void *ctx, double *now, struct cvb_err *err);

    /* Transactions. begin(write=true) takes the write lock at once (SQLite:
     * BEGIN IMMEDIATE); begin(false) is a read snapshot. rollback never fails
     * (a failure is logged by the implementation). */
    int (*begin)(void *ctx, bool write, struct cvb_err *err);
    int (*commit)(void *ctx, struct cvb_err *err);
    void (*rollback)(void *ctx);

    /* ---- runs and scenarios ---- */
    /* Insert a run. 1 if the id exists. */
    int (*run_insert)(void *ctx, const struct cvb__run_row *row, struct cvb_err *err);
    /* Run 'run_id' (NULL: the newest by created, then id), *manifest_json
     * malloc'ed if the pointer is not NULL. 1 if none. */
    int (*run_get)(void *ctx, const char *run_id, struct cvb_run_info *info, char **manifest_json,
                   struct cvb_err *err);
    /* Newest first (created DESC, id DESC); 'status' NULL for any. */
    int (*run_list)(void *ctx, const char *status, int offset, struct cvb_run_info *out, int max,
                    int *n, struct cvb_err *err);
    /* Replace the manifest columns and manifest_json; with only_if_unknown,
     * only where manifest_json = '{}'. *changed = rows changed. */
    int (*run_set_manifest)(void *ctx, const char *run_id, const struct cvb_manifest *m,
                            const char *manifest_json, bool only_if_unknown, int *changed,
                            struct cvb_err *err);
    /* status = 'status'; message if not NULL; finished / finished_at if
     * finished > 0 (finished_at = ISO text of it); only where status =
     * 'only_if' when that is not NULL. *changed = rows changed. */
    int (*run_set_status)(void *ctx, const char *run_id, const char *status, const char *message,
                          double finished, const char *finished_at, const char *only_if,
                          int *changed, struct cvb_err *err);
    int (*scenario_insert)(void *ctx, const char *run_id, int idx, const char *scenario_json,
                           const char *manifest_json, struct cvb_err *err);
    /* *scenario_json malloc'ed; *manifest_json malloc'ed or NULL when the
     * column is NULL (either pointer may be NULL: not read). 1 if none. */
    int (*scenario_get)(void *ctx, const char *run_id, int idx, char **scenario_json,
                        char **manifest_json, struct cvb_err *err);
    /* Set manifest_json where it is NULL (or always, with 'always'). */
    int (*scenario_set_manifest)(void *ctx, const char *run_id, int idx, const char *manifest_json,
                                 bool always, struct cvb_err *err);

    /* ---- levels and frames ---- */
    /* Insert or replace level (run_id, scenario, r->level): columns from 'r',
     * result_json, worker and task_id (NULL: SQL NULL). */
    int (*level_put)(void *ctx, const char *run_id, int scenario, const struct cvb_level_result *r,
                     const char *result_json, const char *worker, const char *task_id,
                     struct cvb_err *err);
    /* Walk the level rows of (run_id, scenario) in level order, calling 'cb'
     * for the first 'max'; *total = all rows. */
    int (*levels_get)(void *ctx, const char *run_id, int scenario, int max, cvb__level_cb cb,
                      void *arg, int *total, struct cvb_err *err);
    /* Replace the frame samples of (run_id, scenario, level) with s[0..n)
     * (already decimated by store.c to <= CVB_MAX_FRAME_SAMPLES). */
    int (*frames_put)(void *ctx, const char *run_id, int scenario, int level,
                      const struct cvb_frame_sample *s, int n, struct cvb_err *err);

    /* ---- tasks ---- */
    /* Insert t as given (store.c sets state, attempt, created). 1 if the id exists. */
    int (*task_insert)(void *ctx, const struct cvb_task *t, struct cvb_err *err);
    /* Read task 'id'; inside a write transaction PostgreSQL locks the row
     * (FOR UPDATE). 1 if none. */
    int (*task_get)(void *ctx, const char *id, struct cvb_task *t, struct cvb_err *err);
    /* Oldest first (created, id); run_id / state NULL for any. */
    int (*task_list)(void *ctx, const char *run_id, const char *state, struct cvb_task *out,
                     int max, int *n, struct cvb_err *err);
    /* Claim candidates, oldest first (created, id): state 'queued', or
     * 'running' with lease_until < now; only rows after 'after' in that
     * order (NULL: from the start). PostgreSQL: FOR UPDATE SKIP LOCKED. */
    int (*task_candidates)(void *ctx, double now, const struct cvb_task *after,
                           struct cvb_task *out, int max, int *n, struct cvb_err *err);
    /* Write every mutable field of 't' (state, attempt, worker, lease_until,
     * reason, started, finished) where id = t->id AND attempt = old_attempt
     * AND state = old_state. *changed = rows changed (0 or 1). */
    int (*task_update)(void *ctx, const struct cvb_task *t, int old_attempt, const char *old_state,
                       int *changed, struct cvb_err *err);
    /* Tasks of run_id in queued or running: state cancelled, reason,
     * finished = now, lease_until = 0. */
    int (*task_cancel_run)(void *ctx, const char *run_id, const char *reason, double now,
                           struct cvb_err *err);
    /* counts[i] = tasks in cvb_task_states[i] (zeroed by the caller). */
    int (*task_count)(void *ctx, int64_t counts[CVB_TASK_N_STATES], struct cvb_err *err);

    /* ---- workers ---- */
    /* Insert or replace worker w->id with every field as given. */
    int (*worker_put)(void *ctx, const struct cvb_worker_info *w, struct cvb_err *err);
    /* Delete workers with last_seen < before (at most 'max' rows). */
    int (*worker_prune)(void *ctx, double before, int max, struct cvb_err *err);
    /* Most recently seen first. */
    int (*worker_list)(void *ctx, struct cvb_worker_info *out, int max, int *n,
                       struct cvb_err *err);
};

extern const struct cvb__store_ops cvb__store_sqlite_ops;
/* Provided by postgres.c (until H3's implementation lands, a placeholder
 * whose open() refuses loudly; no weak symbols: cvb_core is a static
 * archive, where a weak definition would keep the real one out). */
extern const struct cvb__store_ops cvb__store_postgres_ops;

/* Index of 'state' in cvb_task_states, or -1. */
int cvb__task_state_index(const char *state);

#endif
