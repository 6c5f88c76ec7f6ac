/* SPDX-License-Identifier: Apache-2.0 */
/* The coordinator: turns submitted runs into tasks and runs into results.
 *
 * Every tick it reads each queued or running run from the store and, for
 * each of its scenarios with no task in flight, decides the next level
 * from the levels already stored (cvb__service_next_level: sweeps in
 * order, density searches driven by each result) and enqueues it as one
 * task. When every scenario is finished the run is done (or failed, with
 * the reason). A queued task that no live worker can take makes the run
 * say so in its message.
 *
 * It keeps no state of its own between ticks: everything is read from the
 * store, so a restarted coordinator (or two of them: task ids are
 * deterministic, "<run>.<scenario>.<level>", and cvb_queue_push is
 * idempotent) continues where the last one stopped. The reconciler
 * re-enqueues tasks the broker lost. */
#include "service/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS_PER_TICK 256
#define MAX_TASKS_PER_RUN (CVB_STORE_MAX_SCENARIOS * 64)
#define MAX_WORKERS 256

struct cvb_coord {
    struct cvb_coord_opts opts;
    struct cvb_store *st;
    struct cvb_queue *q;
    double last_reconcile;
    struct cvb_run_info *runs;        /* MAX_RUNS_PER_TICK */
    struct cvb_task *tasks;           /* MAX_TASKS_PER_RUN */
    struct cvb_worker_info *workers;  /* MAX_WORKERS */
    int n_workers;
    struct cvb_level_result *levels;  /* CVB_SCN_MAX_LEVELS + 64 */
    struct cvb_scenario *scn;
};

#define MAX_LEVELS (CVB_SCN_MAX_LEVELS + 64)

void cvb_coord_opts_defaults(struct cvb_coord_opts *o) {
    memset(o, 0, sizeof *o);
    cvb_queue_opts_defaults(&o->queue);
    o->tick_s = 0.2;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int cvb_coord_new(const struct cvb_coord_opts *o, struct cvb_coord **out, struct cvb_err *err) {
    *out = NULL;
    struct cvb_coord *c = calloc(1, sizeof *c);
    if (c == NULL) return cvb_err_set(err, CVB_ENOMEM, "coordinator: out of memory");
    c->opts = *o;
    if (c->opts.tick_s <= 0) c->opts.tick_s = 0.2;
    if (c->opts.reconcile_s <= 0) c->opts.reconcile_s = c->opts.queue.heartbeat_s;
    c->runs = calloc(MAX_RUNS_PER_TICK, sizeof *c->runs);
    c->tasks = calloc(MAX_TASKS_PER_RUN, sizeof *c->tasks);
    c->workers = calloc(MAX_WORKERS, sizeof *c->workers);
    c->levels = calloc(MAX_LEVELS, sizeof *c->levels);
    c->scn = calloc(1, sizeof *c->scn);
    int rc = 0;
    if (!c->runs || !c->tasks || !c->workers || !c->levels || !c->scn) {
        rc = cvb_err_set(err, CVB_ENOMEM, "coordinator: out of memory");
        goto fail;
    }
    rc = cvb_store_open(o->store_url, &c->st, err);
    if (rc < 0) goto fail;
    char name[96], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(name, sizeof name, "coordinator-%.40s-%d", host, (int)getpid());
    rc = cvb_queue_open(o->broker, c->st, &o->queue, name, &c->q, err);
    if (rc < 0) goto fail;
    *out = c;
    return 0;
fail:
    cvb_coord_free(c);
    return rc;
}

void cvb_coord_free(struct cvb_coord *c) {
    if (c == NULL) return;
    cvb_queue_close(c->q);
    cvb_store_close(c->st);
    free(c->runs);
    free(c->tasks);
    free(c->workers);
    free(c->levels);
    free(c->scn);
    free(c);
}

void cvb_coord_queue_stats(struct cvb_coord *c, struct cvb_queue_stats *s) {
    cvb_queue_get_stats(c->q, s);
}
struct cvb_queue *cvb__coord_queue(struct cvb_coord *c) { return c->q; }
struct cvb_store *cvb__coord_store(struct cvb_coord *c) { return c->st; }

static bool terminal(const char *state) {
    return strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
           strcmp(state, "dead") == 0 || strcmp(state, "cancelled") == 0;
}

/* Say who could take task t, or why nobody can (into msg). */
static bool routable(struct cvb_coord *c, const struct cvb_task *t, int scenario, char *msg,
                     size_t len) {
    for (int i = 0; i < c->n_workers; i++) {
        const struct cvb_worker_info *w = &c->workers[i];
        if (strcmp(w->state, "lost") == 0 || strcmp(w->state, "stopped") == 0) continue;
        struct cvb_task_filter f;
        cvb__worker_filter(w, &f);
        if (cvb_task_matches(t, &f)) return true;
    }
    int n = snprintf(msg, len,
                     "waiting: no registered worker can take scenario %d (needs backend %s, "
                     "isa %s%s%s); ",
                     scenario + 1, t->req_backend, t->req_isa, t->req_tag[0] ? ", tag " : "",
                     t->req_tag);
    size_t used = n > 0 && (size_t)n < len ? (size_t)n : len - 1;
    int live = 0;
    for (int i = 0; i < c->n_workers && used + 1 < len; i++) {
        const struct cvb_worker_info *w = &c->workers[i];
        if (strcmp(w->state, "lost") == 0 || strcmp(w->state, "stopped") == 0) continue;
        n = snprintf(msg + used, len - used, "%s%s (%s: %s%s%s)", live ? ", " : "live workers: ",
                     w->id, w->backend, w->isas, w->tags[0] ? "; tags " : "", w->tags);
        live++;
        used = n > 0 && (size_t)n < len - used ? used + (size_t)n : len - 1;
    }
    if (live == 0 && used + 1 < len) snprintf(msg + used, len - used, "no live workers");
    return false;
}

/* Advance one run; see the file comment. */
static int advance_run(struct cvb_coord *c, const struct cvb_run_info *run, struct cvb_err *err) {
    int n_tasks = 0;
    int rc = cvb_store_list_tasks(c->st, run->id, NULL, c->tasks, MAX_TASKS_PER_RUN, &n_tasks, err);
    if (rc < 0) return rc;
    int n_finished = 0, n_failed = 0;
    bool started = run->n_levels > 0;
    char message[256] = "", fail_msg[256] = "";
    for (int k = 0; k < run->n_scenarios; k++) {
        const struct cvb_task *last = NULL, *active = NULL;
        for (int i = 0; i < n_tasks; i++) {
            const struct cvb_task *t = &c->tasks[i];
            if (t->scenario != k) continue;
            if (strcmp(t->state, "queued") != 0) started = true;
            if (!terminal(t->state)) active = t;
            if (last == NULL || t->level > last->level) last = t;
        }
        if (active != NULL) {
            if (strcmp(active->state, "queued") == 0 && message[0] == '\0')
                routable(c, active, k, message, sizeof message);
            continue;
        }
        if (last != NULL && (strcmp(last->state, "failed") == 0 ||
                             strcmp(last->state, "dead") == 0)) {
            n_finished++;
            n_failed++;
            snprintf(fail_msg, sizeof fail_msg, "scenario %d level %d (%d streams) %s: %.180s", k + 1,
                     last->level + 1, last->streams, last->state, last->reason);
            continue;
        }
        if (last != NULL && strcmp(last->state, "cancelled") == 0) {
            n_finished++;
            continue;
        }
        char *json = NULL;
        rc = cvb_store_get_scenario(c->st, run->id, k, &json, NULL, NULL, err);
        if (rc < 0) return rc;
        char origin[96];
        snprintf(origin, sizeof origin, "run %s scenario %d", run->id, k + 1);
        rc = cvb__service_scenario(json, origin, c->scn, err);
        free(json);
        if (rc < 0) {
            n_finished++;
            n_failed++;
            snprintf(fail_msg, sizeof fail_msg, "%.250s", err->msg);
            cvb_err_clear(err);
            continue;
        }
        int n_levels = 0;
        rc = cvb_store_get_levels(c->st, run->id, k, c->levels, MAX_LEVELS, &n_levels, err);
        if (rc < 0) return rc;
        int best;
        bool failed;
        char why[256];
        int next = cvb__service_next_level(c->scn, c->levels, n_levels, &best, &failed, why,
                                           sizeof why);
        if (next <= 0 || n_levels >= MAX_LEVELS) {
            n_finished++;
            if (failed) {
                n_failed++;
                snprintf(fail_msg, sizeof fail_msg, "scenario %d: %.230s", k + 1, why);
            }
            continue;
        }
        struct cvb_task t;
        memset(&t, 0, sizeof t);
        snprintf(t.id, sizeof t.id, "%s.%d.%d", run->id, k, n_levels);
        snprintf(t.run_id, sizeof t.run_id, "%s", run->id);
        t.scenario = k;
        t.level = n_levels;
        t.streams = next;
        cvb__service_requirements(c->scn, &t);
        rc = cvb_queue_push(c->q, &t, false, err);
        if (rc < 0) return rc;
        if (message[0] == '\0') routable(c, &t, k, message, sizeof message);
    }
    const char *status = run->status;
    if (n_finished == run->n_scenarios) {
        status = n_failed ? "failed" : "done";
        snprintf(message, sizeof message, "%s", n_failed ? fail_msg : "");
    } else if (started) {
        status = "running";
    }
    if (strcmp(status, run->status) != 0 || strcmp(message, run->message) != 0) {
        rc = cvb_store_set_run_status(c->st, run->id, status, message, err);
        if (rc < 0) return rc;
        if (strcmp(status, run->status) != 0)
            cvb_log_info("run %s: %s%s%s", run->id, status, message[0] ? ": " : "", message);
    }
    return 0;
}

int cvb_coord_tick(struct cvb_coord *c, struct cvb_err *err) {
    int rc = 0;
    double lost_after = c->opts.queue.lease_s;
    rc = cvb_store_list_workers(c->st, lost_after, c->workers, MAX_WORKERS, &c->n_workers, err);
    if (rc < 0) return rc;
    static const char *const active[] = {"queued", "running"};
    for (size_t a = 0; a < CVB_ARRAY_LEN(active); a++) {
        int n = 0;
        rc = cvb_store_list_runs(c->st, active[a], 0, c->runs, MAX_RUNS_PER_TICK, &n, err);
        if (rc < 0) return rc;
        for (int i = 0; i < n; i++) {
            if (strcmp(c->runs[i].origin, "api") != 0) continue; /* `cvbench run`: not ours */
            rc = advance_run(c, &c->runs[i], err);
            if (rc < 0) return rc;
        }
    }
    double now = mono_s();
    if (now - c->last_reconcile >= c->opts.reconcile_s) {
        c->last_reconcile = now;
        int n = 0;
        rc = cvb_queue_reconcile(c->q, &n, err);
        if (rc < 0) return rc;
        if (n > 0) cvb_log_warn("coordinator: re-enqueued %d task(s) the broker no longer held", n);
    }
    return 0;
}

int cvb_coord_run(struct cvb_coord *c, const volatile sig_atomic_t *stop, struct cvb_err *err) {
    int failures = 0;
    while (!*stop) {
        struct cvb_err terr = {0};
        if (cvb_coord_tick(c, &terr) < 0) {
            if (failures++ % 50 == 0) cvb_log_warn("coordinator: %s", terr.msg);
        } else {
            failures = 0;
        }
        double left = c->opts.tick_s;
        while (left > 0 && !*stop) {
            double step = left > 0.05 ? 0.05 : left;
            usleep((useconds_t)(step * 1e6));
            left -= step;
        }
    }
    (void)err;
    return 0;
}
