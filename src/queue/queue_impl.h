/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the task queue (include/cvb/queue.h): the handle and the
 * table of operations each implementation fills (store_queue.c, redis.c).
 * queue.c validates arguments, dispatches, and keeps the counters that
 * follow from return codes (delivered, renewals, fenced); an implementation
 * counts what only it can see (acked_finished, dead, requeued) with
 * cvb__queue_count(). */
#ifndef CVB_QUEUE_IMPL_H
#define CVB_QUEUE_IMPL_H

#include "cvb/queue.h"

#include <pthread.h>

struct cvb__queue_ops {
    const char *kind;
    /* Set q->impl (connects for Redis). 'broker' as given to cvb_queue_open. */
    int (*open)(struct cvb_queue *q, const char *broker, struct cvb_err *err);
    void (*close)(struct cvb_queue *q);
    int (*push)(struct cvb_queue *q, const struct cvb_task *t, bool force, struct cvb_err *err);
    int (*next)(struct cvb_queue *q, const struct cvb_task_filter *f, struct cvb_delivery *d,
                struct cvb_err *err);
    int (*renew)(struct cvb_queue *q, const struct cvb_delivery *d, struct cvb_err *err);
    int (*complete)(struct cvb_queue *q, const struct cvb_delivery *d,
                    const struct cvb_manifest *m, const struct cvb_level_result *r,
                    const struct cvb_frame_sample *samples, int n_samples, struct cvb_err *err);
    int (*fail)(struct cvb_queue *q, const struct cvb_delivery *d, const char *reason,
                struct cvb_err *err);
    int (*reconcile)(struct cvb_queue *q, int *n_requeued, struct cvb_err *err);
    int (*depth)(struct cvb_queue *q, int64_t *depth, struct cvb_err *err);
};

struct cvb_queue {
    const struct cvb__queue_ops *ops;
    struct cvb_store *st;          /* borrowed */
    struct cvb_queue_opts o;
    char consumer[64];
    pthread_mutex_t stats_mu;      /* guards stats only; each implementation
                                      serialises its own connection */
    struct cvb_queue_stats stats;
    void *impl;                    /* owned by ops->open/close */
};

extern const struct cvb__queue_ops cvb__queue_store_ops;
extern const struct cvb__queue_ops cvb__queue_redis_ops;

/* Add n to the counter at 'field' (a member of q->stats) under stats_mu. */
void cvb__queue_count(struct cvb_queue *q, int64_t *field, int64_t n);

/* Sleep ms milliseconds (poll loops of next()). */
void cvb__queue_sleep_ms(int ms);

/* Test hook (tests/unit/test-queue-contract.c): run one command on the
 * Redis broker of q (CVB_EUNSUPPORTED for the store queue); *n (may be
 * NULL) gets an integer reply's value or an array reply's length, else -1.
 * Lets a test delete a stream behind the queue's back, or count a group's
 * consumers, without including hiredis.h. */
int cvb__queue_redis_command(struct cvb_queue *q, int argc, const char **argv, long long *n,
                             struct cvb_err *err);

#endif
