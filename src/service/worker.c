/* SPDX-License-Identifier: Apache-2.0 */
/* The worker: takes tasks from the queue and runs each one (one
 * concurrency level of one scenario) with cvb_pipeline_run_level(), the
 * call `cvbench run` makes, under a lease that a heartbeat thread renews.
 *
 *   next() --> probe (cached) --> run_level ------------> complete (fenced by attempt)
 *                 |                  ^  stop flag            |
 *                 | bad input        |                       +-- CVB_TASK_FENCED: dropped
 *                 v                  |
 *               fail()     heartbeat thread: every heartbeat_s renew the lease and
 *                          the workers row; renew says FENCED (taken over,
 *                          cancelled) -> stop the level, drop its result; renew
 *                          failing for lease_s -> the same (we may have lost it)
 *
 * Invariants:
 *  1. A result is written only by cvb_queue_complete() under the delivery's
 *     attempt; a worker that lost its lease never writes (the store refuses).
 *  2. The heartbeat thread never blocks on the level: a task of any length
 *     keeps its lease while this process lives and can reach the store.
 *  3. The oneDNN ISA is fixed per process: a worker started with --isa X
 *     runs every task capped at X and takes tasks asking X (or auto); an
 *     auto worker takes tasks asking auto or its own ISA family. */
#include "service/service.h"

#include "cvb/engine.h"
#include "cvb/pipeline.h"
#include "engine/kernels/onednn/dnn.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct cvb_worker {
    struct cvb_worker_opts opts;
    struct cvb_worker_info info;
    struct cvb_task_filter filter;
    struct cvb_store *st;
    struct cvb_queue *q;
    struct cvb_worker_stats stats;

    /* heartbeat thread and the task it guards */
    pthread_t hb;
    bool hb_started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool exiting;
    bool has_task;
    struct cvb_delivery cur;             /* under lock while has_task */
    volatile sig_atomic_t task_stop;     /* stops the running level */
    bool lease_lost, fenced;             /* under lock */
    double task_t0;                      /* monotonic s when the task began (under lock):
                                            its first renewal is due heartbeat_s later */
    const volatile sig_atomic_t *process_stop;

    /* probe cache: the last scenario probed */
    char *probe_key;
    struct cvb_pipeline_probe probe;
    struct cvb_frame_sample *samples;    /* CVB_MAX_FRAME_SAMPLES, allocated on first need */
};

void cvb_worker_opts_defaults(struct cvb_worker_opts *o) {
    memset(o, 0, sizeof *o);
    cvb_queue_opts_defaults(&o->queue);
    snprintf(o->backend, sizeof o->backend, "cpu");
    snprintf(o->isa, sizeof o->isa, "auto");
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The scenario ISA name of a oneDNN effective ISA. */
static const char *isa_family(const char *eff) {
    if (strcmp(eff, "avx512_core_amx") == 0) return "amx";
    if (strcmp(eff, "avx512_core_vnni") == 0 || strcmp(eff, "avx512_core_bf16") == 0)
        return "avx512_vnni";
    if (strcmp(eff, "avx512_core") == 0) return "avx512";
    if (strcmp(eff, "avx2") == 0) return "avx2";
    return eff;
}

static void append_word(char *buf, size_t len, const char *w) {
    size_t u = strlen(buf);
    if (u + 1 < len) snprintf(buf + u, len - u, "%s%s", u ? " " : "", w);
}

void cvb__worker_filter(const struct cvb_worker_info *w, struct cvb_task_filter *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->backend, sizeof f->backend, "%s", w->backend);
    char buf[sizeof w->tags > sizeof w->isas ? sizeof w->tags : sizeof w->isas];
    snprintf(buf, sizeof buf, "%s", w->isas);
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && f->n_isas < CVB_CAPS_MAX_ISAS;
         t = strtok_r(NULL, " ", &save))
        snprintf(f->isas[f->n_isas++], sizeof f->isas[0], "%s", t);
    snprintf(buf, sizeof buf, "%s", w->tags);
    for (char *t = strtok_r(buf, " ", &save); t && f->n_tags < CVB_CAPS_MAX_TAGS;
         t = strtok_r(NULL, " ", &save))
        snprintf(f->tags[f->n_tags++], sizeof f->tags[0], "%s", t);
}

/* Fill w->info: what this worker is and can take. */
static int detect(struct cvb_worker *w, struct cvb_err *err) {
    struct cvb_worker_info *in = &w->info;
    const struct cvb_worker_opts *o = &w->opts;
    if (strcmp(o->backend, "cpu") != 0 && strcmp(o->backend, "kserve") != 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "worker backend '%s' is not implemented yet (cpu and kserve are; "
                           "cuda comes with its issue)",
                           o->backend);
    bool capped = o->isa[0] != '\0' && strcmp(o->isa, "auto") != 0;
    if (capped) {
        int rc = cvb__dnn_set_isa(o->isa, err);
        if (rc < 0) return cvb_err_prefix(err, "worker --isa %s", o->isa);
    }
    const char *eff = cvb__dnn_effective_isa();
    const char *fam = capped ? o->isa : isa_family(eff);
    if (gethostname(in->host, sizeof in->host - 1) != 0) snprintf(in->host, sizeof in->host, "unknown");
    unsigned rnd = (unsigned)(now_s() * 1e6) ^ (unsigned)getpid() * 2654435761u;
    snprintf(in->id, sizeof in->id, "%.40s-%d-%04x", in->host, (int)getpid(), rnd & 0xffff);
    snprintf(in->backend, sizeof in->backend, "%s", o->backend);
    snprintf(in->isa, sizeof in->isa, "%s", fam);
    in->isas[0] = '\0';
    append_word(in->isas, sizeof in->isas, "auto");
    append_word(in->isas, sizeof in->isas, fam);
    in->tags[0] = '\0';
    for (int i = 0; i < o->n_tags; i++) append_word(in->tags, sizeof in->tags, o->tags[i]);
    /* CPU model, flags, memory: the run manifest's probe of this machine */
    struct cvb_scenario *s = calloc(1, sizeof *s);
    struct cvb_manifest *m = calloc(1, sizeof *m);
    if (s == NULL || m == NULL) {
        free(s);
        free(m);
        return cvb_err_set(err, CVB_ENOMEM, "worker: out of memory");
    }
    cvb_scenario_defaults(s);
    struct cvb_err merr = {0};
    /* no model here: the manifest fails at the model's hash, after it has
     * filled the machine's fields, which are all we take */
    cvb_pipeline_manifest(s, NULL, m, &merr);
    snprintf(in->cpu_model, sizeof in->cpu_model, "%s", m->cpu_model);
    snprintf(in->cpu_flags, sizeof in->cpu_flags, "%s", m->cpu_flags);
    in->mem_bytes = m->mem_total_bytes;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    in->started = (double)now.tv_sec + now.tv_nsec / 1e9;
    free(s);
    free(m);
    in->cores = cvb_engine_default_threads();
    snprintf(in->state, sizeof in->state, "idle");
    snprintf(in->metrics_url, sizeof in->metrics_url, "%s", o->metrics_url);
    cvb__worker_filter(in, &w->filter);
    return 0;
}

/* ---- heartbeat ---------------------------------------------------------------------- */

static void register_self(struct cvb_worker *w, const char *state, const char *task) {
    struct cvb_worker_info in;
    pthread_mutex_lock(&w->lock);
    in = w->info;
    pthread_mutex_unlock(&w->lock);
    snprintf(in.state, sizeof in.state, "%s", state);
    snprintf(in.task_id, sizeof in.task_id, "%s", task);
    struct cvb_err err = {0};
    if (cvb_store_put_worker(w->st, &in, &err) < 0)
        cvb_log_warn("worker %s: heartbeat to the store failed: %s", in.id, err.msg);
}

/* Every heartbeat_s: renew the lease of the running task and refresh the
 * workers row. While a task runs the row (with the level's progress) is
 * also refreshed every PROGRESS_S between heartbeats, for live progress. */
#define PROGRESS_S 1.0

static void *heartbeat_main(void *arg) {
    struct cvb_worker *w = arg;
    double last_ok = now_s(), last_beat = now_s();
    double step = w->opts.queue.heartbeat_s < PROGRESS_S ? w->opts.queue.heartbeat_s : PROGRESS_S;
    pthread_mutex_lock(&w->lock);
    while (!w->exiting) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wake = ts.tv_sec + ts.tv_nsec / 1e9 + step;
        ts.tv_sec = (time_t)wake;
        ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
        if (w->exiting) break;
        bool has = w->has_task;
        struct cvb_delivery d = w->cur;
        if (has && w->task_t0 > last_beat) last_beat = w->task_t0;
        pthread_mutex_unlock(&w->lock);

        bool beat = now_s() - last_beat >= w->opts.queue.heartbeat_s - 1e-3;
        if (beat || has) register_self(w, has ? "busy" : "idle", has ? d.task.id : "");
        if (beat) last_beat = now_s();
        if (has && beat) {
            struct cvb_err err = {0};
            int rc = cvb_queue_renew(w->q, &d, &err);
            pthread_mutex_lock(&w->lock);
            bool same = w->has_task && strcmp(w->cur.task.id, d.task.id) == 0 &&
                        w->cur.task.attempt == d.task.attempt;
            if (same && rc == CVB_TASK_FENCED) {
                w->fenced = true;
                w->task_stop = 1;
            } else if (same && rc < 0 && now_s() - last_ok > w->opts.queue.lease_s) {
                w->lease_lost = true;
                w->task_stop = 1;
            }
            pthread_mutex_unlock(&w->lock);
            if (rc == 0) last_ok = now_s();
            if (rc == CVB_TASK_FENCED)
                cvb_log_warn("worker %s: task %s attempt %d was taken over or cancelled: "
                             "stopping it, its result will be dropped",
                             w->info.id, d.task.id, d.task.attempt);
            else if (rc < 0)
                cvb_log_warn("worker %s: renewing the lease of task %s failed: %s", w->info.id,
                             d.task.id, err.msg);
        } else if (!has) {
            last_ok = now_s();
        }
        pthread_mutex_lock(&w->lock);
        /* the process is stopping: stop the level too */
        if (w->process_stop && *w->process_stop && w->has_task) w->task_stop = 1;
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

int cvb_worker_new(const struct cvb_worker_opts *o, struct cvb_worker **out, struct cvb_err *err) {
    *out = NULL;
    if (!(o->queue.heartbeat_s > 0 && o->queue.heartbeat_s < o->queue.lease_s))
        return cvb_err_set(err, CVB_EINVAL,
                           "worker: heartbeat %g s must be > 0 and shorter than the lease %g s",
                           o->queue.heartbeat_s, o->queue.lease_s);
    struct cvb_worker *w = calloc(1, sizeof *w);
    if (w == NULL) return cvb_err_set(err, CVB_ENOMEM, "worker: out of memory");
    w->opts = *o;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    atomic_store(&w->stats.level, -1);
    int rc = detect(w, err);
    if (rc < 0) goto fail;
    rc = cvb_store_open(o->store_url, &w->st, err);
    if (rc < 0) goto fail;
    rc = cvb_queue_open(o->broker, w->st, &o->queue, w->info.id, &w->q, err);
    if (rc < 0) goto fail;
    rc = cvb_store_put_worker(w->st, &w->info, err);
    if (rc < 0) goto fail;
    if (pthread_create(&w->hb, NULL, heartbeat_main, w) != 0) {
        rc = cvb_err_set(err, CVB_ENOMEM, "worker: cannot start the heartbeat thread");
        goto fail;
    }
    w->hb_started = true;
    *out = w;
    return 0;
fail:
    cvb_worker_free(w);
    return rc;
}

void cvb_worker_free(struct cvb_worker *w) {
    if (w == NULL) return;
    if (w->hb_started) {
        pthread_mutex_lock(&w->lock);
        w->exiting = true;
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->hb, NULL);
        register_self(w, "stopped", "");
    }
    cvb_queue_close(w->q);
    cvb_store_close(w->st);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->probe_key);
    free(w->samples);
    free(w);
}

const char *cvb_worker_id(const struct cvb_worker *w) { return w->info.id; }
const struct cvb_worker_info *cvb_worker_info(const struct cvb_worker *w) { return &w->info; }
const struct cvb_worker_stats *cvb_worker_stats(const struct cvb_worker *w) { return &w->stats; }
void cvb_worker_queue_stats(struct cvb_worker *w, struct cvb_queue_stats *s) {
    cvb_queue_get_stats(w->q, s);
}

/* ---- one task ----------------------------------------------------------------------- */

struct progress_ctx {
    struct cvb_worker *w;
    int64_t last_frames;
};

/* The level's progress (about once a second): counted for /metrics and
 * published with the next heartbeat for `cvbench submit --wait`. */
static void on_progress(void *user, const struct cvb_progress *p) {
    struct progress_ctx *c = user;
    int64_t d = p->frames_done - c->last_frames;
    if (d > 0) {
        atomic_fetch_add(&c->w->stats.frames, d);
        c->last_frames = p->frames_done;
    }
    char buf[sizeof c->w->info.progress];
    snprintf(buf, sizeof buf,
             "{\"frames_done\":%lld,\"frames_total\":%lld,\"fps_now\":%.2f,\"elapsed_s\":%.2f,"
             "\"eta_s\":%.2f,\"warming_up\":%s,\"extending\":%s}",
             (long long)p->frames_done, (long long)p->frames_total, p->fps_now, p->elapsed_s,
             p->eta_s, p->warming_up ? "true" : "false", p->extending ? "true" : "false");
    pthread_mutex_lock(&c->w->lock);
    snprintf(c->w->info.progress, sizeof c->w->info.progress, "%s", buf);
    pthread_mutex_unlock(&c->w->lock);
}

/* The scenario a task runs: the stored one, with this worker's ISA. */
static int task_scenario(struct cvb_worker *w, const struct cvb_task *t, struct cvb_scenario *s,
                         char **json_out, struct cvb_err *err) {
    char *json = NULL;
    int rc = cvb_store_get_scenario(w->st, t->run_id, t->scenario, &json, NULL, NULL, err);
    if (rc < 0) return rc;
    char origin[160];
    snprintf(origin, sizeof origin, "run %s scenario %d", t->run_id, t->scenario + 1);
    rc = cvb__service_scenario(json, origin, s, err);
    if (rc < 0) {
        free(json);
        return rc;
    }
    bool capped = w->opts.isa[0] != '\0' && strcmp(w->opts.isa, "auto") != 0;
    if (capped)
        snprintf(s->isa, sizeof s->isa, "%s", w->opts.isa);
    else if (strcmp(s->isa, w->info.isa) == 0)
        snprintf(s->isa, sizeof s->isa, "auto"); /* uncapped: its own family (invariant 3) */
    s->json[0] = s->csv[0] = s->report[0] = s->db[0] = '\0';
    if (s->density) snprintf(s->pacing, sizeof s->pacing, "camera");
    *json_out = json;
    return 0;
}

static void run_task(struct cvb_worker *w, struct cvb_delivery *d) {
    const struct cvb_task *t = &d->task;
    struct cvb_scenario *s = calloc(1, sizeof *s);
    struct cvb_manifest *m = calloc(1, sizeof *m);
    struct cvb_level_result *r = calloc(1, sizeof *r);
    char *json = NULL;
    struct cvb_err err = {0};
    int rc = 0;
    if (s == NULL || m == NULL || r == NULL) {
        cvb_log_error("worker %s: out of memory for task %s", w->info.id, t->id);
        goto out; /* the lease expires and another worker takes it */
    }
    cvb_log_info("worker %s: task %s (run %s scenario %d level %d, %d streams), attempt %d%s",
                 w->info.id, t->id, t->run_id, t->scenario + 1, t->level + 1, t->streams,
                 t->attempt, d->redelivered ? ", taken over from a lost worker" : "");
    pthread_mutex_lock(&w->lock);
    w->cur = *d;
    w->has_task = true;
    w->task_stop = 0;
    w->task_t0 = now_s();
    w->fenced = w->lease_lost = false;
    w->info.progress[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    atomic_store(&w->stats.busy, 1);
    register_self(w, "busy", t->id);

    rc = task_scenario(w, t, s, &json, &err);
    if (rc == 0) {
        /* the probe loads the model once; reuse it while the scenario is the same */
        size_t kl = strlen(json) + strlen(s->isa) + 2;
        bool hit = w->probe_key != NULL && strncmp(w->probe_key, s->isa, strlen(s->isa)) == 0 &&
                   strcmp(w->probe_key + strlen(s->isa) + 1, json) == 0;
        if (!hit) {
            free(w->probe_key);
            w->probe_key = NULL;
            rc = cvb_pipeline_probe(s, &w->probe, &err);
            if (rc == 0 && (w->probe_key = malloc(kl)) != NULL)
                snprintf(w->probe_key, kl, "%s|%s", s->isa, json);
        }
    }
    if (rc == 0) rc = cvb_pipeline_manifest(s, &w->probe, m, &err);
    if (rc < 0) {
        /* bad scenario, model or video: retrying cannot help */
        struct cvb_err ferr = {0};
        int frc = cvb_queue_fail(w->q, d, err.msg, &ferr);
        if (frc < 0) cvb_log_error("worker %s: task %s: %s", w->info.id, t->id, ferr.msg);
        atomic_fetch_add(&w->stats.tasks_failed, 1);
        cvb_log_warn("worker %s: task %s failed: %s", w->info.id, t->id, err.msg);
        goto done;
    }
    snprintf(m->run_id, sizeof m->run_id, "%s", t->run_id);
    if (s->save_frames && w->samples == NULL)
        w->samples = calloc(CVB_MAX_FRAME_SAMPLES, sizeof *w->samples);
    int n_samples = 0;
    struct progress_ctx pc = {.w = w};
    struct cvb_pipeline_hooks hooks = {
        .progress = on_progress,
        .user = &pc,
        .stop = &w->task_stop,
        .samples = s->save_frames ? w->samples : NULL,
        .max_samples = s->save_frames && w->samples ? CVB_MAX_FRAME_SAMPLES : 0,
        .n_samples = &n_samples,
    };
    atomic_store(&w->stats.level, t->level);
    atomic_store(&w->stats.streams, t->streams);
    struct cvb_err lerr = {0};
    int lrc = cvb_pipeline_run_level(s, &w->probe, t->streams, t->level, &hooks, r, &lerr);
    atomic_store(&w->stats.level, -1);
    atomic_store(&w->stats.streams, 0);

    pthread_mutex_lock(&w->lock);
    bool fenced = w->fenced, lost = w->lease_lost;
    bool stopping = w->process_stop && *w->process_stop;
    w->has_task = false;
    pthread_mutex_unlock(&w->lock);
    if (fenced || lost || (stopping && strcmp(r->status, "interrupted") == 0)) {
        atomic_fetch_add(&w->stats.tasks_abandoned, 1);
        cvb_log_warn("worker %s: task %s attempt %d abandoned (%s): result not stored",
                     w->info.id, t->id, t->attempt,
                     fenced ? "taken over or cancelled" : lost ? "lease not renewable" :
                                                          "worker stopping");
        goto done;
    }
    if (lrc < 0 && lrc != CVB_ERANGE) {
        /* a video or engine failure: permanent */
        struct cvb_err ferr = {0};
        if (cvb_queue_fail(w->q, d, lerr.msg, &ferr) < 0)
            cvb_log_error("worker %s: task %s: %s", w->info.id, t->id, ferr.msg);
        atomic_fetch_add(&w->stats.tasks_failed, 1);
        goto done;
    }
    atomic_fetch_add(&w->stats.frames, r->frames + r->warmup_frames - pc.last_frames > 0
                                           ? r->frames + r->warmup_frames - pc.last_frames
                                           : 0);
    for (int k = 0; k < CVB_STAGE_COUNT; k++)
        atomic_fetch_add(&w->stats.stage_us[k],
                         (int64_t)(r->stages[k].mean_ms * 1000.0 * (double)r->frames));
    atomic_store(&w->stats.engine_busy_ppm, (int64_t)(r->engine_busy_pct * 1e4));
    struct cvb_err cerr = {0};
    rc = cvb_queue_complete(w->q, d, m, r, hooks.samples, n_samples, &cerr);
    if (rc == CVB_TASK_FENCED) {
        atomic_fetch_add(&w->stats.results_fenced, 1);
        cvb_log_warn("worker %s: task %s attempt %d: result rejected (fenced: another attempt "
                     "owns the task)",
                     w->info.id, t->id, t->attempt);
    } else if (rc < 0) {
        cvb_log_error("worker %s: task %s: storing the result failed: %s", w->info.id, t->id,
                      cerr.msg);
    } else {
        atomic_fetch_add(&w->stats.tasks_done, 1);
        cvb_log_info("worker %s: task %s done: %.1f fps, %s", w->info.id, t->id, r->fps,
                     r->status);
    }
done:
    pthread_mutex_lock(&w->lock);
    w->has_task = false;
    w->info.progress[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    atomic_store(&w->stats.busy, 0);
    register_self(w, "idle", "");
out:
    free(json);
    free(r);
    free(m);
    free(s);
}

int cvb_worker_run(struct cvb_worker *w, const volatile sig_atomic_t *stop, struct cvb_err *err) {
    pthread_mutex_lock(&w->lock);
    w->process_stop = stop;
    pthread_mutex_unlock(&w->lock);
    int failures = 0;
    while (!*stop) {
        struct cvb_delivery d;
        struct cvb_err nerr = {0};
        int rc = cvb_queue_next(w->q, &w->filter, &d, &nerr);
        if (rc == CVB_ENOTFOUND) {
            failures = 0;
            continue;
        }
        if (rc < 0) {
            /* broker or store unreachable: keep trying, slowly, without flooding the log */
            if (failures++ == 0) cvb_log_warn("worker %s: %s", w->info.id, nerr.msg);
            for (int i = 0; i < 10 && !*stop; i++) usleep(100000);
            continue;
        }
        failures = 0;
        run_task(w, &d);
    }
    (void)err;
    return 0;
}
