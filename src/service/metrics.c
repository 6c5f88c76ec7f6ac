/* SPDX-License-Identifier: Apache-2.0 */
/* The service's metrics: families registered once, values copied at each
 * scrape from the live counters of the coordinator (task states from the
 * store, queue depth, reconciler), the workers (frames, stage seconds,
 * current level and streams, engine busy ratio, task outcomes) and every
 * queue handle (lease renewals, redeliveries, fenced results, dead
 * letters). Process RSS, CPU and dropped log lines come with the registry
 * (CVB_METRICS_PROCESS). Nothing here grows: at most MAX_WORKERS sources. */
#include "service/metrics.h"

#include "http/http.h"
#include "metrics/metrics.h"
#include "service/dashboard.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORKERS 16

struct cvb_service_metrics {
    struct cvb_metrics *reg;
    pthread_mutex_t lock;
    struct cvb_coord *coord;
    int n_workers;
    struct cvb_worker *workers[MAX_WORKERS];
    struct cvb_metric *frames, *stage_s, *level, *streams, *busy_ratio, *busy, *outcomes,
        *tasks, *depth, *renewals, *redeliveries, *fenced, *dead, *deliveries, *acked_finished,
        *requeued, *workers_gauge;
};

static void sum_queue(struct cvb_queue_stats *acc, const struct cvb_queue_stats *s) {
    acc->delivered += s->delivered;
    acc->redelivered += s->redelivered;
    acc->renewals += s->renewals;
    acc->fenced += s->fenced;
    acc->acked_finished += s->acked_finished;
    acc->dead += s->dead;
    acc->requeued += s->requeued;
}

static void collect(struct cvb_metrics *reg, void *user) {
    struct cvb_service_metrics *sm = user;
    (void)reg;
    pthread_mutex_lock(&sm->lock);
    struct cvb_queue_stats q = {0}, s;
    if (sm->coord != NULL) {
        cvb_coord_queue_stats(sm->coord, &s);
        sum_queue(&q, &s);
        int64_t counts[CVB_TASK_N_STATES];
        struct cvb_err err = {0};
        if (cvb_store_count_tasks(cvb__coord_store(sm->coord), counts, &err) == 0)
            for (int k = 0; k < CVB_TASK_N_STATES; k++)
                cvb_metric_set(sm->tasks, CVB_LABELS(cvb_task_states[k]), (double)counts[k]);
        int64_t depth = 0;
        if (cvb_queue_depth(cvb__coord_queue(sm->coord), &depth, &err) == 0)
            cvb_metric_set(sm->depth, NULL, (double)depth);
    }
    double frames = 0, stage_us[CVB_STAGE_COUNT] = {0};
    const char *backend = "cpu";
    for (int i = 0; i < sm->n_workers; i++) {
        struct cvb_worker *w = sm->workers[i];
        const struct cvb_worker_stats *ws = cvb_worker_stats(w);
        const char *id = cvb_worker_id(w);
        backend = cvb_worker_info(w)->backend;
        frames += (double)atomic_load(&ws->frames);
        for (int k = 0; k < CVB_STAGE_COUNT; k++)
            stage_us[k] += (double)atomic_load(&ws->stage_us[k]);
        cvb_metric_set(sm->level, CVB_LABELS(id), (double)(atomic_load(&ws->level) + 1));
        cvb_metric_set(sm->streams, CVB_LABELS(id), (double)atomic_load(&ws->streams));
        cvb_metric_set(sm->busy_ratio, CVB_LABELS(id),
                       (double)atomic_load(&ws->engine_busy_ppm) / 1e6);
        cvb_metric_set(sm->busy, CVB_LABELS(id), (double)atomic_load(&ws->busy));
        cvb_metric_set(sm->outcomes, CVB_LABELS(id, "done"),
                       (double)atomic_load(&ws->tasks_done));
        cvb_metric_set(sm->outcomes, CVB_LABELS(id, "failed"),
                       (double)atomic_load(&ws->tasks_failed));
        cvb_metric_set(sm->outcomes, CVB_LABELS(id, "abandoned"),
                       (double)atomic_load(&ws->tasks_abandoned));
        cvb_metric_set(sm->outcomes, CVB_LABELS(id, "fenced"),
                       (double)atomic_load(&ws->results_fenced));
        cvb_worker_queue_stats(w, &s);
        sum_queue(&q, &s);
    }
    if (sm->n_workers > 0) {
        cvb_metric_set(sm->frames, CVB_LABELS(backend), frames);
        for (int k = 0; k < CVB_STAGE_COUNT; k++)
            cvb_metric_set(sm->stage_s, CVB_LABELS(backend, cvb_stage_name((enum cvb_stage)k)),
                           stage_us[k] / 1e6);
    }
    cvb_metric_set(sm->workers_gauge, NULL, (double)sm->n_workers);
    cvb_metric_set(sm->renewals, NULL, (double)q.renewals);
    cvb_metric_set(sm->redeliveries, NULL, (double)q.redelivered);
    cvb_metric_set(sm->fenced, NULL, (double)q.fenced);
    cvb_metric_set(sm->dead, NULL, (double)q.dead);
    cvb_metric_set(sm->deliveries, NULL, (double)q.delivered);
    cvb_metric_set(sm->acked_finished, NULL, (double)q.acked_finished);
    cvb_metric_set(sm->requeued, NULL, (double)q.requeued);
    pthread_mutex_unlock(&sm->lock);
}

int cvb_service_metrics_new(bool server, struct cvb_service_metrics **out, struct cvb_err *err) {
    *out = NULL;
    struct cvb_service_metrics *sm = calloc(1, sizeof *sm);
    if (sm == NULL) return cvb_err_set(err, CVB_ENOMEM, "metrics: out of memory");
    pthread_mutex_init(&sm->lock, NULL);
    int rc = cvb_metrics_new(CVB_METRICS_PROCESS, &sm->reg, err);
    if (rc < 0) goto fail;
    struct {
        int kind; /* 0 counter, 1 gauge, 2 gauge of the server (coordinator) only */
        const char *name, *help, *labels;
        struct cvb_metric **h;
    } fam[] = {
        {0, "cvb_frames_total", "Frames processed by this process's workers (warm-up included).",
         "backend", &sm->frames},
        {0, "cvb_stage_seconds_total", "Time measured frames spent in each pipeline stage.",
         "backend,stage", &sm->stage_s},
        {1, "cvb_worker_level", "Level (1-based) of the task a worker runs; 0 when idle.", "worker",
         &sm->level},
        {1, "cvb_worker_streams", "Streams of the level a worker runs; 0 when idle.", "worker",
         &sm->streams},
        {1, "cvb_engine_busy_ratio", "Engine busy time / (instances x wall) of the last level.",
         "worker", &sm->busy_ratio},
        {1, "cvb_worker_busy", "1 while the worker runs a task.", "worker", &sm->busy},
        {0, "cvb_worker_tasks_total",
         "Tasks a worker finished, by outcome (done, failed, abandoned: lease lost, fenced: "
         "result rejected).",
         "worker,outcome", &sm->outcomes},
        {1, "cvb_workers", "Workers in this process.", NULL, &sm->workers_gauge},
        {2, "cvb_tasks", "Tasks in the store by state.", "state", &sm->tasks},
        {2, "cvb_queue_depth", "Tasks waiting for a worker.", NULL, &sm->depth},
        {0, "cvb_lease_renewals_total", "Successful lease renewals.", NULL, &sm->renewals},
        {0, "cvb_task_redeliveries_total",
         "Deliveries taken over from a worker whose lease expired.", NULL, &sm->redeliveries},
        {0, "cvb_results_fenced_total",
         "Renewals or results rejected because another attempt owns the task.", NULL,
         &sm->fenced},
        {0, "cvb_tasks_dead_total", "Tasks moved to the dead-letter state after max attempts.",
         NULL, &sm->dead},
        {0, "cvb_task_deliveries_total", "Deliveries handed to workers.", NULL, &sm->deliveries},
        {0, "cvb_finished_redeliveries_acked_total",
         "Deliveries of already-finished tasks, acknowledged without rerunning.", NULL,
         &sm->acked_finished},
        {0, "cvb_tasks_requeued_total", "Tasks the reconciler re-enqueued.", NULL, &sm->requeued},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(fam); i++) {
        if (fam[i].kind == 2 && !server) continue;
        rc = fam[i].kind == 0
                 ? cvb_metrics_counter(sm->reg, fam[i].name, fam[i].help, fam[i].labels,
                                       fam[i].h, err)
                 : cvb_metrics_gauge(sm->reg, fam[i].name, fam[i].help, fam[i].labels, fam[i].h,
                                     err);
        if (rc < 0) goto fail;
    }
    rc = cvb_metrics_on_collect(sm->reg, collect, sm, err);
    if (rc < 0) goto fail;
    *out = sm;
    return 0;
fail:
    cvb_service_metrics_free(sm);
    return rc;
}

void cvb_service_metrics_free(struct cvb_service_metrics *sm) {
    if (sm == NULL) return;
    cvb_metrics_free(sm->reg);
    pthread_mutex_destroy(&sm->lock);
    free(sm);
}

void cvb_service_metrics_add_coord(struct cvb_service_metrics *sm, struct cvb_coord *c) {
    pthread_mutex_lock(&sm->lock);
    sm->coord = c;
    pthread_mutex_unlock(&sm->lock);
}

void cvb_service_metrics_add_worker(struct cvb_service_metrics *sm, struct cvb_worker *w) {
    pthread_mutex_lock(&sm->lock);
    if (sm->n_workers < MAX_WORKERS) sm->workers[sm->n_workers++] = w;
    pthread_mutex_unlock(&sm->lock);
}

int cvb_service_metrics_route(struct cvb_service_metrics *sm, struct cvb_http_server *srv,
                              struct cvb_err *err) {
    return cvb_http_route_metrics(srv, sm->reg, err);
}

static int h_dashboard(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    (void)user;
    (void)req;
    cvb_http_resp_header(resp, "Cache-Control", "no-cache");
    return cvb_http_resp_text(resp, 200, "text/html; charset=utf-8",
                              (const char *)cvb__dashboard_html, cvb__dashboard_html_len);
}

int cvb_service_dashboard_route(struct cvb_http_server *srv, struct cvb_err *err) {
    return cvb_http_route(srv, "GET", "/", 0, h_dashboard, NULL, err);
}
