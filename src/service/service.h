/* SPDX-License-Identifier: Apache-2.0 */
/* The service: coordinator (runs -> tasks, routing, density driving,
 * reconciler), worker (one task = one level, under a lease renewed by
 * heartbeat) and the HTTP API over them. `cvbench serve` puts the API, the
 * coordinator and N workers in one process; `cvbench worker` is a worker
 * alone. Both reach the pipeline only through cvb_pipeline_run_level(), the
 * call `cvbench run` makes, and the store/queue only through
 * include/cvb/store.h and include/cvb/queue.h. Nothing here parses a
 * command line (src/cli/ does). */
#ifndef CVB_SERVICE_H
#define CVB_SERVICE_H

#include "cvb/common.h"
#include "cvb/queue.h"
#include "cvb/scenario.h"
#include "cvb/store.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define CVB_SERVICE_URL_MAX 1024

/* ---- worker ------------------------------------------------------------------------ */

struct cvb_worker_opts {
    char store_url[CVB_SERVICE_URL_MAX]; /* SQLite path or postgresql:// URL */
    char broker[CVB_SERVICE_URL_MAX];    /* "" store-backed queue, or redis://host:port */
    struct cvb_queue_opts queue;         /* lease, heartbeat, attempts (tests scale time down) */
    char backend[16];                    /* cpu (kserve, cuda: other issues) */
    char isa[24];                        /* "" / auto: detect; else a cap for this process */
    int n_tags;
    char tags[CVB_CAPS_MAX_TAGS][32];
    char metrics_url[128];               /* advertised in the workers table ("" none) */
};
void cvb_worker_opts_defaults(struct cvb_worker_opts *o);

/* Live counters of one worker (read by /metrics). */
struct cvb_worker_stats {
    _Atomic int64_t tasks_done, tasks_failed, tasks_abandoned; /* abandoned: lease lost */
    _Atomic int64_t results_fenced;      /* complete() answered CVB_TASK_FENCED */
    _Atomic int64_t frames;              /* frames processed (warm-up included) */
    _Atomic int64_t stage_us[CVB_STAGE_COUNT]; /* stage time of measured frames, microseconds */
    _Atomic int level, streams;          /* current level index and streams (-1, 0 when idle) */
    _Atomic int64_t engine_busy_ppm;     /* last level's engine busy ratio, parts per million */
    _Atomic int busy;                    /* 1 while a task runs */
};

struct cvb_worker;
/* Detect capabilities (backend, ISA family, CPU, cores, memory, tags),
 * open the store and the queue, register in the workers table. */
int cvb_worker_new(const struct cvb_worker_opts *o, struct cvb_worker **out, struct cvb_err *err);
/* Take and run tasks until *stop becomes nonzero (checked at least every
 * block_ms and by the running level). Returns 0, or < 0 if the store or
 * broker stays unreachable. */
int cvb_worker_run(struct cvb_worker *w, const volatile sig_atomic_t *stop, struct cvb_err *err);
void cvb_worker_free(struct cvb_worker *w);
const char *cvb_worker_id(const struct cvb_worker *w);
const struct cvb_worker_info *cvb_worker_info(const struct cvb_worker *w);
const struct cvb_worker_stats *cvb_worker_stats(const struct cvb_worker *w);
/* This worker's queue counters (renewals, redeliveries, fenced, dead). */
void cvb_worker_queue_stats(struct cvb_worker *w, struct cvb_queue_stats *s);

/* The task filter a worker advertises (from its info row: isas, tags). */
void cvb__worker_filter(const struct cvb_worker_info *w, struct cvb_task_filter *f);

/* ---- coordinator -------------------------------------------------------------------- */

struct cvb_coord_opts {
    char store_url[CVB_SERVICE_URL_MAX];
    char broker[CVB_SERVICE_URL_MAX];
    struct cvb_queue_opts queue;
    double tick_s;           /* how often runs are advanced (0.2 s) */
    double reconcile_s;      /* how often the reconciler runs (default: heartbeat_s) */
};
void cvb_coord_opts_defaults(struct cvb_coord_opts *o);

struct cvb_coord;
int cvb_coord_new(const struct cvb_coord_opts *o, struct cvb_coord **out, struct cvb_err *err);
/* One pass: advance every queued/running run (create the next level's
 * task of each scenario, finish runs, say why a run waits), reconcile
 * when due. */
int cvb_coord_tick(struct cvb_coord *c, struct cvb_err *err);
/* Tick every tick_s until *stop. */
int cvb_coord_run(struct cvb_coord *c, const volatile sig_atomic_t *stop, struct cvb_err *err);
void cvb_coord_free(struct cvb_coord *c);
void cvb_coord_queue_stats(struct cvb_coord *c, struct cvb_queue_stats *s);
struct cvb_queue *cvb__coord_queue(struct cvb_coord *c);
struct cvb_store *cvb__coord_store(struct cvb_coord *c);

/* ---- scenarios of a run ------------------------------------------------------------- */

/* Parse a stored scenario JSON (absolute paths) into 's'. */
int cvb__service_scenario(const char *json, const char *origin, struct cvb_scenario *s,
                          struct cvb_err *err);
/* What a scenario requires of a worker (backend, isa, tag) into t's req_*. */
void cvb__service_requirements(const struct cvb_scenario *s, struct cvb_task *t);

/* Replay a scenario's finished levels: the next stream count to run
 * (> 0), or 0 when the scenario is finished (*failed set when it ended on
 * a failure, with 'why'). density_best: the density answer so far (-1 when
 * not a density scenario). */
int cvb__service_next_level(const struct cvb_scenario *s, const struct cvb_level_result *lv,
                            int n_levels, int *density_best, bool *failed, char *why,
                            size_t why_len);

#endif
