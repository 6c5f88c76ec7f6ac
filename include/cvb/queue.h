/* SPDX-License-Identifier: Apache-2.0 */
/* The task queue: deliveries of tasks to workers, with leases renewed by
 * heartbeat, attempts as fencing tokens, and dead letters.
 *
 * Two implementations behind this one interface, one shared test suite
 * (tests/unit/test-queue-contract.c):
 *   - store-backed (broker NULL or ""): the tasks table itself is the queue
 *     (lease_until column); used embedded, with SQLite (src/queue/store_queue.c);
 *   - Redis Streams (broker "redis://host:port[/db]"), with a consumer group:
 *     the stream carries task ids only, the store stays the source of truth
 *     (src/queue/redis.c, the only file that includes hiredis.h).
 * Facts and pitfalls: ../shared/notes/queue.md.
 *
 * A worker's loop:
 *
 *   cvb_queue_next(q, &filter, &d)      a task to run, with its fencing token
 *                                       d.task.attempt (tasks already finished
 *                                       are acknowledged inside, never returned;
 *                                       tasks past max_attempts go dead inside)
 *   every heartbeat_s: cvb_queue_renew(q, &d)   CVB_TASK_FENCED: stop, drop the work
 *   cvb_queue_complete(q, &d, m, r, ...) the result, accepted only under d's attempt,
 *                                       in the transaction that marks it done; then ack
 *   or cvb_queue_fail(q, &d, reason)     permanent failure (bad input)
 *
 * Invariants (each a test in the contract suite):
 *  1. A task whose lease is renewed is never delivered to anyone else,
 *     however long it runs.
 *  2. A task whose worker stopped renewing for lease_s is delivered again
 *     (attempt + 1); the old attempt's renew and complete return
 *     CVB_TASK_FENCED and write nothing.
 *  3. A delivery of a task that is already finished is acknowledged and
 *     skipped: never returned by next(), never rerun.
 *  4. The delivery after max_attempts marks the task dead with a reason.
 *  5. Completing stores exactly one level result per task.
 * A handle is safe to use from two threads (the worker loop and its
 * heartbeat thread): calls are serialised inside. */
#ifndef CVB_QUEUE_H
#define CVB_QUEUE_H

#include "cvb/common.h"
#include "cvb/result.h"
#include "cvb/store.h"

#include <stdbool.h>
#include <stdint.h>

struct cvb_queue;

struct cvb_queue_opts {
    double lease_s;        /* a delivery is taken over after this long without renewal (60) */
    double heartbeat_s;    /* workers renew this often (10); < lease_s */
    int max_attempts;      /* deliveries before a task goes dead (3) */
    int block_ms;          /* next() waits at most this long for a task (1000) */
    char stream_prefix[64];/* Redis key prefix ("cvb"); tests use their own */
};
void cvb_queue_opts_defaults(struct cvb_queue_opts *o);

/* Open a queue on store 'st' (borrowed: must outlive the queue) through
 * 'broker' (NULL/"" store-backed; "redis://host:port[/db]"). 'consumer'
 * names this process in the consumer group (the worker id; the
 * coordinator's name for a queue that only pushes). Caller frees with
 * cvb_queue_close(). */
int cvb_queue_open(const char *broker, struct cvb_store *st, const struct cvb_queue_opts *o,
                   const char *consumer, struct cvb_queue **out, struct cvb_err *err);
void cvb_queue_close(struct cvb_queue *q);
/* "store" or "redis". */
const char *cvb_queue_kind(const struct cvb_queue *q);

/* Enqueue task t: cvb_store_add_task (idempotent) and, for Redis, XADD of
 * its id to the stream of its requirements (only when the store row was
 * created, or when 'force' re-enqueues it: the reconciler's case). */
int cvb_queue_push(struct cvb_queue *q, const struct cvb_task *t, bool force,
                   struct cvb_err *err);

struct cvb_delivery {
    struct cvb_task task;  /* as begun: task.attempt is the fencing token */
    bool redelivered;      /* taken over from a worker whose lease expired */
    char stream[128];      /* Redis: the stream key; "" for the store queue */
    char entry[48];        /* Redis: the stream entry id */
};
/* The next task matching 'f' for this consumer, waiting up to block_ms.
 * 0: *d filled; CVB_ENOTFOUND: nothing now; < 0: error. */
int cvb_queue_next(struct cvb_queue *q, const struct cvb_task_filter *f, struct cvb_delivery *d,
                   struct cvb_err *err);
/* Renew d's lease (store lease_until, and for Redis the pending entry's
 * idle time through an ownership-checked XCLAIM JUSTID). 0 or
 * CVB_TASK_FENCED (lost: stop working on it) or < 0 (error: retry until
 * lease_s has passed since the last success, then give up). */
int cvb_queue_renew(struct cvb_queue *q, const struct cvb_delivery *d, struct cvb_err *err);
/* Store d's result (cvb_store_task_complete under d's attempt) and
 * acknowledge the delivery (guarded XACK + XDEL). CVB_TASK_FENCED: nothing
 * stored, nothing acknowledged. */
int cvb_queue_complete(struct cvb_queue *q, const struct cvb_delivery *d,
                       const struct cvb_manifest *m, const struct cvb_level_result *r,
                       const struct cvb_frame_sample *samples, int n_samples,
                       struct cvb_err *err);
/* Fail d permanently with 'reason' (cvb_store_task_fail) and acknowledge it. */
int cvb_queue_fail(struct cvb_queue *q, const struct cvb_delivery *d, const char *reason,
                   struct cvb_err *err);

/* Coordinator, periodically: re-enqueue tasks the store says are queued,
 * or running with an expired lease, that the broker no longer holds (Redis
 * lost them, or the coordinator died between the store insert and XADD).
 * No-op for the store queue. *n_requeued may be NULL. */
int cvb_queue_reconcile(struct cvb_queue *q, int *n_requeued, struct cvb_err *err);

/* Tasks waiting for a worker (queued, not yet delivered): store count for
 * the store queue, undelivered stream entries for Redis. */
int cvb_queue_depth(struct cvb_queue *q, int64_t *depth, struct cvb_err *err);

/* Counters of this handle since it was opened (for /metrics). */
struct cvb_queue_stats {
    int64_t delivered;       /* deliveries returned by next() */
    int64_t redelivered;     /* of which taken over from an expired lease */
    int64_t renewals;        /* successful lease renewals */
    int64_t fenced;          /* renew/complete that returned CVB_TASK_FENCED */
    int64_t acked_finished;  /* deliveries of already-finished tasks, acknowledged, skipped */
    int64_t dead;            /* tasks this handle marked dead */
    int64_t requeued;        /* tasks the reconciler re-enqueued */
};
void cvb_queue_get_stats(struct cvb_queue *q, struct cvb_queue_stats *s);

#endif
