/* SPDX-License-Identifier: Apache-2.0 */
/* Results and task store: runs, scenarios, tasks, level results, workers,
 * optional per-frame samples.
 *
 * Two implementations behind this one interface and one schema (version 2;
 * a version-1 SQLite file from an older `cvbench run` is migrated in place
 * when opened): SQLite (src/store/sqlite.c, the only file that includes
 * sqlite3.h) and PostgreSQL (src/store/postgres.c, the only file that
 * includes libpq-fe.h). src/store/store.c dispatches on the URL.
 *
 * Tables: schema_version(version); runs; scenarios(run_id, idx, ...);
 * tasks; levels(run_id, scenario, level, ...); frames(run_id, scenario,
 * level, ...); workers. A run made by `cvbench run` has one scenario (0);
 * one submitted to the service has one or more.
 *
 * The store is the source of truth for task state (the Redis queue only
 * carries task ids). Task fencing (src/queue/, ../shared/notes/queue.md):
 * every delivery of a task increments tasks.attempt; the attempt is the
 * fencing token; a result is accepted only while the task is running
 * under that attempt, in the transaction that marks it done.
 *
 * Every function is safe to call from several threads on one handle (each
 * implementation serialises calls on its connection). Times stored as
 * numbers are Unix seconds (double) from the store's own clock: the
 * PostgreSQL server's for PostgreSQL, this host's for SQLite. */
#ifndef CVB_STORE_H
#define CVB_STORE_H

#include "cvb/common.h"
#include "cvb/result.h"

#include <stdbool.h>
#include <stdint.h>

struct cvb_store;

/* Open (creating if needed, with the schema; migrating an older schema)
 * the store named by 'url': "postgresql://..." or "postgres://..." (libpq
 * connection URI) for PostgreSQL; anything else is an SQLite file path
 * ("file:" prefix optional). Caller frees with cvb_store_close(). Errors name
 * the store (the file path, or the URL without its password). */
int cvb_store_open(const char *url, struct cvb_store **out, struct cvb_err *err);
void cvb_store_close(struct cvb_store *st);

/* Record a new run (status "running"). */
int cvb_store_put_run(struct cvb_store *st, const struct cvb_manifest *m, struct cvb_err *err);
/* Record one finished level of run 'run_id'. */
int cvb_store_put_level(struct cvb_store *st, const char *run_id, const struct cvb_level_result *r,
                        struct cvb_err *err);
/* Record per-frame samples of a level (at most CVB_MAX_FRAME_SAMPLES kept). */
int cvb_store_put_frames(struct cvb_store *st, const char *run_id, int level,
                         const struct cvb_frame_sample *s, int n, struct cvb_err *err);
/* Replace the stored manifest of run m->run_id (e.g. with the density
 * answer, known only at the end). */
int cvb_store_update_run(struct cvb_store *st, const struct cvb_manifest *m, struct cvb_err *err);
/* Mark the run finished: status "done", "failed" or "interrupted". */
int cvb_store_finish_run(struct cvb_store *st, const char *run_id, const char *status,
                         struct cvb_err *err);
/* Load run 'run_id' (NULL or "latest": the most recent) with up to
 * max_levels levels in level order. */
int cvb_store_get_run(struct cvb_store *st, const char *run_id, struct cvb_manifest *m,
                      struct cvb_level_result *levels, int max_levels, int *n_levels,
                      struct cvb_err *err);

/* The SQLite library in use, for run manifests: "SQLite 3.40.1". */
const char *cvb_store_version(void);


/* "sqlite" or "postgresql". */
const char *cvb_store_kind(const struct cvb_store *st);
/* The store's name for messages: the file path, or the URL without password. */
const char *cvb_store_name(const struct cvb_store *st);
/* The store's clock, Unix seconds (the same clock lease_until is compared to). */
int cvb_store_now(struct cvb_store *st, double *now, struct cvb_err *err);

/* ---- runs and scenarios (service) ----------------------------------------------
 * Run status: queued -> running -> done | failed | cancelled (service runs);
 * a `cvbench run` run is created running and ends done, failed or
 * interrupted. */
#define CVB_STORE_MAX_SCENARIOS 16

struct cvb_run_info {
    char id[40];
    char status[16];           /* queued | running | done | failed | cancelled | interrupted */
    char origin[8];            /* "cli" (cvbench run) | "api" (submitted to the service) */
    double created;            /* Unix s */
    double finished;           /* Unix s; 0 while not finished */
    int n_scenarios;
    int n_levels;              /* level results stored so far, all scenarios */
    char message[256];         /* why it is waiting or failed ("" when nothing to say) */
};

/* Create a submitted run 'run_id' (status queued, origin api) with n
 * scenarios (1..CVB_STORE_MAX_SCENARIOS), each the effective scenario as
 * JSON (cvb_scenario_to_json), in one transaction. */
int cvb_store_create_run(struct cvb_store *st, const char *run_id,
                         const char *const *scenario_json, int n, struct cvb_err *err);
/* Runs, newest first: at most 'max' starting at 'offset'; 'status' NULL
 * or "" for any, else only runs in that status. */
int cvb_store_list_runs(struct cvb_store *st, const char *status, int offset,
                        struct cvb_run_info *out, int max, int *n, struct cvb_err *err);
/* One run's summary (CVB_ENOTFOUND if there is none). */
int cvb_store_get_run_info(struct cvb_store *st, const char *run_id, struct cvb_run_info *out,
                           struct cvb_err *err);
/* Set a run's status and message. A run already done, failed, cancelled or
 * interrupted keeps its status (returns CVB_TASK_FINISHED, not an error).
 * done/failed/cancelled set the finish time. 'message' may be NULL (kept). */
int cvb_store_set_run_status(struct cvb_store *st, const char *run_id, const char *status,
                             const char *message, struct cvb_err *err);
/* Scenario 'idx' of run 'run_id': its JSON (*json_out malloc'ed, caller
 * frees) and, if a worker has stored one, its manifest (*has_manifest).
 * 'm' may be NULL. */
int cvb_store_get_scenario(struct cvb_store *st, const char *run_id, int idx, char **json_out,
                           struct cvb_manifest *m, bool *has_manifest, struct cvb_err *err);
/* Run 'run_id' scenario 'scenario': manifest (for api runs, the one the
 * first level's worker stored; CVB_ENOTFOUND before any) and up to
 * max_levels levels in level order. cvb_store_get_run() is scenario 0. */
int cvb_store_get_run_scenario(struct cvb_store *st, const char *run_id, int scenario,
                               struct cvb_manifest *m, struct cvb_level_result *levels,
                               int max_levels, int *n_levels, struct cvb_err *err);
/* Only the levels (no manifest needed: works before any is stored). */
int cvb_store_get_levels(struct cvb_store *st, const char *run_id, int scenario,
                         struct cvb_level_result *levels, int max_levels, int *n_levels,
                         struct cvb_err *err);
/* Cancel run 'run_id': status cancelled, its queued and running tasks
 * cancelled (a running worker learns it at its next renewal: fenced).
 * CVB_TASK_FINISHED if the run had already finished. */
int cvb_store_cancel_run(struct cvb_store *st, const char *run_id, struct cvb_err *err);

/* ---- tasks -------------------------------------------------------------------------
 * One task = one concurrency level of one scenario of a run.
 *
 *   queued --begin/claim--> running --complete--> done
 *     ^                       |  \--fail--> failed       (bad input: never retried)
 *     |  (lease expired:      |   \--cancel_run--> cancelled
 *     |   next delivery)      v
 *     +------------------- running (attempt+1) ... attempt > max --> dead
 *
 * Positive return codes of the task functions (not errors): */
#define CVB_TASK_FINISHED 1 /* the task is done/failed/dead/cancelled: acknowledge, never rerun */
#define CVB_TASK_FENCED 2   /* the caller's attempt is no longer the task's: drop the result */
#define CVB_TASK_DEAD 3     /* this delivery exceeded max_attempts: the task is now dead */

#define CVB_TASK_ID_MAX 96

struct cvb_task {
    char id[CVB_TASK_ID_MAX];  /* "<run_id>.<scenario>.<level>" */
    char run_id[40];
    int scenario;              /* index in the run */
    int level;                 /* level index in the scenario's sweep */
    int streams;
    char state[16];            /* queued | running | done | failed | dead | cancelled */
    int attempt;               /* deliveries so far; the latest is the fencing token */
    char worker[64];           /* worker of the latest delivery ("" if never delivered) */
    double lease_until;        /* Unix s (store clock); 0 unless running */
    char req_backend[16];      /* required capability: backend (scenario.backend) */
    char req_isa[24];          /* auto | amx | avx512_vnni | avx512 | avx2 (scenario.isa) */
    char req_tag[32];          /* "" or a worker tag (scenario.worker_tag) */
    char reason[256];          /* failed / dead / cancelled: why */
    double created, started, finished; /* Unix s; 0 if not yet */
};

/* What a worker can take: its backend, the ISAs it accepts ("auto" plus
 * each ISA it supports), its tags. A task matches when req_backend ==
 * backend, req_isa is one of isas and req_tag is "" or one of tags. */
#define CVB_CAPS_MAX_ISAS 8
#define CVB_CAPS_MAX_TAGS 8
struct cvb_task_filter {
    char backend[16];
    int n_isas;
    char isas[CVB_CAPS_MAX_ISAS][24];
    int n_tags;
    char tags[CVB_CAPS_MAX_TAGS][32];
};
bool cvb_task_matches(const struct cvb_task *t, const struct cvb_task_filter *f);

/* Insert task t (state queued, attempt 0; the caller fills id, run_id,
 * scenario, level, streams and req_*). Idempotent: if the id exists nothing
 * changes and *created is false. 'created' may be NULL. */
int cvb_store_add_task(struct cvb_store *st, const struct cvb_task *t, bool *created,
                       struct cvb_err *err);
int cvb_store_get_task(struct cvb_store *st, const char *task_id, struct cvb_task *t,
                       struct cvb_err *err);
/* Tasks oldest first; 'run_id' NULL for all runs, 'state' NULL for any. */
int cvb_store_list_tasks(struct cvb_store *st, const char *run_id, const char *state,
                         struct cvb_task *out, int max, int *n, struct cvb_err *err);
/* Count tasks per state: counts[i] for states[i] in
 * {queued, running, done, failed, dead, cancelled}. */
#define CVB_TASK_N_STATES 6
extern const char *const cvb_task_states[CVB_TASK_N_STATES];
int cvb_store_count_tasks(struct cvb_store *st, int64_t counts[CVB_TASK_N_STATES],
                          struct cvb_err *err);

/* A delivery of task 'task_id' to 'worker' (Redis queue): if the task is
 * queued or running, attempt += 1, state running, worker, lease_until =
 * now + lease_s, *attempt = the new attempt, returns 0. If it is finished,
 * returns CVB_TASK_FINISHED. If attempt already == max_attempts, marks it
 * dead with a reason naming the attempts and the last worker, returns
 * CVB_TASK_DEAD. CVB_ENOTFOUND if there is no such task. */
int cvb_store_task_begin(struct cvb_store *st, const char *task_id, const char *worker,
                         double lease_s, int max_attempts, int *attempt, struct cvb_err *err);
/* Claim for the store-backed queue (embedded): atomically pick the oldest
 * task matching 'f' that is queued, or running with lease_until < now, and
 * begin it as above (filling *t with the new attempt). Expired tasks at
 * max_attempts are marked dead on the way (counted in *n_dead, may be
 * NULL). CVB_ENOTFOUND when none. *redelivered says whether it was taken
 * over from an expired lease. */
int cvb_store_task_claim(struct cvb_store *st, const struct cvb_task_filter *f,
                         const char *worker, double lease_s, int max_attempts,
                         struct cvb_task *t, bool *redelivered, int *n_dead,
                         struct cvb_err *err);
/* Renew the lease: lease_until = now + lease_s if the task is running
 * under 'attempt'; else CVB_TASK_FENCED (another delivery took it, or it
 * was cancelled). */
int cvb_store_task_renew(struct cvb_store *st, const char *task_id, int attempt, double lease_s,
                         struct cvb_err *err);
/* Complete: in ONE transaction, mark the task done if it is running under
 * 'attempt' and, only then, store the level result 'r' (run, scenario and
 * level from the task; r->level is overwritten with the task's level), the
 * scenario's manifest 'm' if it has none yet (m may be NULL), the worker
 * name on the level row, and the frame samples (may be NULL/0). Returns
 * CVB_TASK_FENCED (nothing written) if the attempt is stale. */
int cvb_store_task_complete(struct cvb_store *st, const char *task_id, int attempt,
                            const struct cvb_manifest *m, const struct cvb_level_result *r,
                            const struct cvb_frame_sample *samples, int n_samples,
                            struct cvb_err *err);
/* Fail permanently (bad scenario/model/video: retrying cannot help), with
 * 'reason'; guarded by 'attempt' like complete. */
int cvb_store_task_fail(struct cvb_store *st, const char *task_id, int attempt,
                        const char *reason, struct cvb_err *err);

/* ---- workers ------------------------------------------------------------------------ */
struct cvb_worker_info {
    char id[64];               /* unique per process: "<host>-<pid>-<random>" */
    char host[64];
    char backend[16];
    char isa[24];              /* the highest ISA it runs ("avx512_vnni") */
    char isas[128];            /* accepted ISAs, space-separated ("auto avx2 avx512 ...") */
    char tags[160];            /* space-separated */
    char cpu_model[CVB_RESULT_STR];
    char cpu_flags[CVB_RESULT_STR];
    int cores;
    int64_t mem_bytes;
    char state[16];            /* idle | busy | stopped (set by the worker);
                                  lost when read after last_seen + lease */
    char task_id[CVB_TASK_ID_MAX]; /* current task ("" when idle) */
    char metrics_url[128];     /* "" or http://host:port/metrics */
    char progress[192];        /* "" when idle, else the running level's progress as a JSON
                                  object (frames_done, frames_total, fps_now, elapsed_s,
                                  eta_s, warming_up, extending), refreshed by heartbeat */
    double started, last_seen; /* Unix s (store clock; last_seen set by put) */
};
/* Insert or update worker w->id (heartbeat): last_seen = now. Rows of
 * workers unseen for more than a day are deleted on the way (bounded). */
int cvb_store_put_worker(struct cvb_store *st, const struct cvb_worker_info *w,
                         struct cvb_err *err);
/* Workers, most recently seen first; a worker unseen for more than
 * 'lost_after_s' reads as state "lost". */
int cvb_store_list_workers(struct cvb_store *st, double lost_after_s,
                           struct cvb_worker_info *out, int max, int *n, struct cvb_err *err);

#endif
