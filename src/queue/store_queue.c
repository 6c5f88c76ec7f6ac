/* SPDX-License-Identifier: Apache-2.0 */
/* The store-backed task queue (broker NULL or ""): the tasks table is the
 * queue. A delivery is cvb_store_task_claim(), which picks the oldest
 * matching task that is queued or whose lease expired and begins it under a
 * new attempt in one statement, so the lease_until column alone provides
 * invariants 1 and 2 of include/cvb/queue.h; renew, complete and fail are
 * the store's attempt-guarded task functions (invariants 2, 3, 5), and
 * claim marks expired tasks at max_attempts dead (invariant 4). There is no
 * second copy of the queue to lose, so reconcile has nothing to do. next()
 * polls: the store has no way to wake a waiting worker. */
#include "queue/queue_impl.h"

#include <string.h>

/* Poll period of next(): each poll is one claim transaction, so an idle
 * worker costs the store 10 small writes a second; short against the
 * smallest lease tests use (0.5 s) and against any task's length. */
#define POLL_MS 100

static int sq_open(struct cvb_queue *q, const char *broker, struct cvb_err *err) {
    q->impl = NULL;
    return 0;
}

static void sq_close(struct cvb_queue *q) {}

static int sq_push(struct cvb_queue *q, const struct cvb_task *t, bool force,
                   struct cvb_err *err) {
    /* 'force' only matters for a broker that can lose the task's entry. */
    return cvb_store_add_task(q->st, t, NULL, err);
}

static int sq_next(struct cvb_queue *q, const struct cvb_task_filter *f, struct cvb_delivery *d,
                   struct cvb_err *err) {
    uint64_t deadline = cvb_now_ns() + (uint64_t)q->o.block_ms * 1000000ull;
    for (;;) {
        int n_dead = 0;
        bool redelivered = false;
        int rc = cvb_store_task_claim(q->st, f, q->consumer, q->o.lease_s, q->o.max_attempts,
                                      &d->task, &redelivered, &n_dead, err);
        if (n_dead > 0) cvb__queue_count(q, &q->stats.dead, n_dead);
        if (rc == 0) {
            d->redelivered = redelivered;
            d->stream[0] = '\0';
            d->entry[0] = '\0';
            return 0;
        }
        if (rc != CVB_ENOTFOUND) return rc;
        uint64_t now = cvb_now_ns();
        if (now >= deadline) {
            cvb_err_set(err, CVB_ENOTFOUND, "store queue on %s: no task for %s",
                        cvb_store_name(q->st), q->consumer);
            return CVB_ENOTFOUND;
        }
        uint64_t left_ms = (deadline - now + 999999ull) / 1000000ull;
        cvb__queue_sleep_ms(left_ms < POLL_MS ? (int)left_ms : POLL_MS);
    }
}

static int sq_renew(struct cvb_queue *q, const struct cvb_delivery *d, struct cvb_err *err) {
    return cvb_store_task_renew(q->st, d->task.id, d->task.attempt, q->o.lease_s, err);
}

static int sq_complete(struct cvb_queue *q, const struct cvb_delivery *d,
                       const struct cvb_manifest *m, const struct cvb_level_result *r,
                       const struct cvb_frame_sample *samples, int n_samples,
                       struct cvb_err *err) {
    return cvb_store_task_complete(q->st, d->task.id, d->task.attempt, m, r, samples, n_samples,
                                   err);
}

static int sq_fail(struct cvb_queue *q, const struct cvb_delivery *d, const char *reason,
                   struct cvb_err *err) {
    return cvb_store_task_fail(q->st, d->task.id, d->task.attempt, reason, err);
}

static int sq_reconcile(struct cvb_queue *q, int *n_requeued, struct cvb_err *err) {
    *n_requeued = 0;
    return 0;
}

static int sq_depth(struct cvb_queue *q, int64_t *depth, struct cvb_err *err) {
    int64_t counts[CVB_TASK_N_STATES] = {0};
    int rc = cvb_store_count_tasks(q->st, counts, err);
    if (rc < 0) return rc;
    for (int i = 0; i < CVB_TASK_N_STATES; i++)
        if (strcmp(cvb_task_states[i], "queued") == 0) *depth = counts[i];
    return 0;
}

const struct cvb__queue_ops cvb__queue_store_ops = {
    .kind = "store",
    .open = sq_open,
    .close = sq_close,
    .push = sq_push,
    .next = sq_next,
    .renew = sq_renew,
    .complete = sq_complete,
    .fail = sq_fail,
    .reconcile = sq_reconcile,
    .depth = sq_depth,
};
