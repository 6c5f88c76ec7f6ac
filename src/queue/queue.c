/* SPDX-License-Identifier: Apache-2.0 */
/* The task queue's public functions (include/cvb/queue.h): argument checks,
 * dispatch on the broker URL to the store-backed queue (store_queue.c) or
 * Redis Streams (redis.c) through struct cvb__queue_ops, and the counters
 * that follow from return codes. Every error names the broker (or "store
 * queue on <store>") and the task. */
#include "queue/queue_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cvb_queue_opts_defaults(struct cvb_queue_opts *o) {
    memset(o, 0, sizeof *o);
    o->lease_s = 60.0;
    o->heartbeat_s = 10.0;
    o->max_attempts = 3;
    o->block_ms = 1000;
    snprintf(o->stream_prefix, sizeof o->stream_prefix, "cvb");
}

void cvb__queue_count(struct cvb_queue *q, int64_t *field, int64_t n) {
    pthread_mutex_lock(&q->stats_mu);
    *field += n;
    pthread_mutex_unlock(&q->stats_mu);
}

void cvb__queue_sleep_ms(int ms) {
    if (ms <= 0) return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int check_opts(const struct cvb_queue_opts *o, struct cvb_err *err) {
    if (!(o->lease_s > 0.0 && o->lease_s <= 86400.0))
        return cvb_err_set(err, CVB_EINVAL, "queue: lease_s %g: must be in (0, 86400]", o->lease_s);
    if (!(o->heartbeat_s > 0.0 && o->heartbeat_s < o->lease_s))
        return cvb_err_set(err, CVB_EINVAL, "queue: heartbeat_s %g: must be > 0 and < lease_s %g",
                           o->heartbeat_s, o->lease_s);
    if (o->max_attempts < 1 || o->max_attempts > 1000)
        return cvb_err_set(err, CVB_EINVAL, "queue: max_attempts %d: must be in 1..1000",
                           o->max_attempts);
    if (o->block_ms < 0 || o->block_ms > 600000)
        return cvb_err_set(err, CVB_EINVAL, "queue: block_ms %d: must be in 0..600000",
                           o->block_ms);
    if (memchr(o->stream_prefix, '\0', sizeof o->stream_prefix) == NULL || o->stream_prefix[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "queue: stream_prefix: empty or not terminated");
    return 0;
}

int cvb_queue_open(const char *broker, struct cvb_store *st, const struct cvb_queue_opts *o,
                   const char *consumer, struct cvb_queue **out, struct cvb_err *err) {
    struct cvb_queue *q = NULL;
    int rc = 0;
    if (out) *out = NULL;
    if (st == NULL || o == NULL || out == NULL || consumer == NULL) {
        rc = cvb_err_set(err, CVB_EINVAL, "queue: open: store, opts, consumer and out are required");
        goto out;
    }
    if (consumer[0] == '\0' || strlen(consumer) >= sizeof q->consumer) {
        rc = cvb_err_set(err, CVB_EINVAL, "queue: consumer \"%.80s\": must be 1..%zu characters",
                         consumer, sizeof q->consumer - 1);
        goto out;
    }
    rc = check_opts(o, err);
    if (rc < 0) goto out;
    q = calloc(1, sizeof *q);
    if (q == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "queue: out of memory");
        goto out;
    }
    q->st = st;
    q->o = *o;
    snprintf(q->consumer, sizeof q->consumer, "%s", consumer);
    pthread_mutex_init(&q->stats_mu, NULL);
    if (broker == NULL || broker[0] == '\0') {
        q->ops = &cvb__queue_store_ops;
    } else if (strncmp(broker, "redis://", 8) == 0) {
        q->ops = &cvb__queue_redis_ops;
    } else {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "queue: broker \"%.200s\": unsupported (expected \"\" for the store "
                         "queue or redis://host:port[/db])", broker);
        goto out;
    }
    rc = q->ops->open(q, broker, err);
    if (rc < 0) {
        q->ops = NULL; /* nothing to close */
        goto out;
    }
    *out = q;
    q = NULL;
out:
    if (q) {
        pthread_mutex_destroy(&q->stats_mu);
        free(q);
    }
    return rc;
}

void cvb_queue_close(struct cvb_queue *q) {
    if (q == NULL) return;
    if (q->ops) q->ops->close(q);
    pthread_mutex_destroy(&q->stats_mu);
    free(q);
}

const char *cvb_queue_kind(const struct cvb_queue *q) {
    return q->ops->kind;
}

/* A task id fits the fixed buffers and is one token (it is also a Redis
 * stream field value and part of log lines). */
static int check_task_id(const char *id, const char *what, struct cvb_err *err) {
    size_t n = strnlen(id, CVB_TASK_ID_MAX);
    if (n == 0 || n >= CVB_TASK_ID_MAX)
        return cvb_err_set(err, CVB_EINVAL, "queue: %s: task id empty or longer than %d", what,
                           CVB_TASK_ID_MAX - 1);
    return 0;
}

int cvb_queue_push(struct cvb_queue *q, const struct cvb_task *t, bool force,
                   struct cvb_err *err) {
    if (q == NULL || t == NULL) return cvb_err_set(err, CVB_EINVAL, "queue: push: no task");
    int rc = check_task_id(t->id, "push", err);
    if (rc < 0) return rc;
    return q->ops->push(q, t, force, err);
}

int cvb_queue_next(struct cvb_queue *q, const struct cvb_task_filter *f, struct cvb_delivery *d,
                   struct cvb_err *err) {
    if (q == NULL || f == NULL || d == NULL)
        return cvb_err_set(err, CVB_EINVAL, "queue: next: filter and delivery are required");
    if (f->n_isas < 1 || f->n_isas > CVB_CAPS_MAX_ISAS || f->n_tags < 0 ||
        f->n_tags > CVB_CAPS_MAX_TAGS || f->backend[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL,
                           "queue: next: filter needs a backend, 1..%d isas and 0..%d tags "
                           "(has %d isas, %d tags)", CVB_CAPS_MAX_ISAS, CVB_CAPS_MAX_TAGS,
                           f->n_isas, f->n_tags);
    memset(d, 0, sizeof *d);
    int rc = q->ops->next(q, f, d, err);
    if (rc == 0) {
        cvb__queue_count(q, &q->stats.delivered, 1);
        if (d->redelivered) cvb__queue_count(q, &q->stats.redelivered, 1);
    }
    return rc;
}

static int check_delivery(const struct cvb_delivery *d, const char *what, struct cvb_err *err) {
    if (d == NULL) return cvb_err_set(err, CVB_EINVAL, "queue: %s: no delivery", what);
    int rc = check_task_id(d->task.id, what, err);
    if (rc < 0) return rc;
    if (d->task.attempt < 1)
        return cvb_err_set(err, CVB_EINVAL, "queue: %s: task %s: attempt %d is not a delivery",
                           what, d->task.id, d->task.attempt);
    return 0;
}

int cvb_queue_renew(struct cvb_queue *q, const struct cvb_delivery *d, struct cvb_err *err) {
    int rc = check_delivery(d, "renew", err);
    if (rc < 0) return rc;
    rc = q->ops->renew(q, d, err);
    if (rc == 0) cvb__queue_count(q, &q->stats.renewals, 1);
    if (rc == CVB_TASK_FENCED) cvb__queue_count(q, &q->stats.fenced, 1);
    return rc;
}

int cvb_queue_complete(struct cvb_queue *q, const struct cvb_delivery *d,
                       const struct cvb_manifest *m, const struct cvb_level_result *r,
                       const struct cvb_frame_sample *samples, int n_samples,
                       struct cvb_err *err) {
    int rc = check_delivery(d, "complete", err);
    if (rc < 0) return rc;
    if (r == NULL || n_samples < 0 || (n_samples > 0 && samples == NULL))
        return cvb_err_set(err, CVB_EINVAL, "queue: complete: task %s: no result, or %d samples "
                           "without a buffer", d->task.id, n_samples);
    rc = q->ops->complete(q, d, m, r, samples, n_samples, err);
    if (rc == CVB_TASK_FENCED) cvb__queue_count(q, &q->stats.fenced, 1);
    return rc;
}

int cvb_queue_fail(struct cvb_queue *q, const struct cvb_delivery *d, const char *reason,
                   struct cvb_err *err) {
    int rc = check_delivery(d, "fail", err);
    if (rc < 0) return rc;
    if (reason == NULL || reason[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "queue: fail: task %s: a reason is required",
                           d->task.id);
    rc = q->ops->fail(q, d, reason, err);
    if (rc == CVB_TASK_FENCED) cvb__queue_count(q, &q->stats.fenced, 1);
    return rc;
}

int cvb_queue_reconcile(struct cvb_queue *q, int *n_requeued, struct cvb_err *err) {
    int n = 0;
    int rc = q->ops->reconcile(q, &n, err);
    if (n > 0) cvb__queue_count(q, &q->stats.requeued, n);
    if (n_requeued) *n_requeued = n;
    return rc;
}

int cvb_queue_depth(struct cvb_queue *q, int64_t *depth, struct cvb_err *err) {
    if (depth == NULL) return cvb_err_set(err, CVB_EINVAL, "queue: depth: no output");
    *depth = 0;
    return q->ops->depth(q, depth, err);
}

void cvb_queue_get_stats(struct cvb_queue *q, struct cvb_queue_stats *s) {
    pthread_mutex_lock(&q->stats_mu);
    *s = q->stats;
    pthread_mutex_unlock(&q->stats_mu);
}
