/* SPDX-License-Identifier: Apache-2.0 */
/* The task queue's contract (include/cvb/queue.h), one suite run against
 * every implementation:
 *   store queue on a temp SQLite file (always), and on PostgreSQL when
 *   CVB_TEST_PG_URL is set;
 *   Redis Streams (CVB_TEST_REDIS_URL) with a temp SQLite store, and with
 *   PostgreSQL when CVB_TEST_PG_URL is set; skipped with the reason when
 *   CVB_TEST_REDIS_URL is missing (tests/tests.cmake runs this suite under
 *   tests/integration/services.py, which sets both).
 * Periods are scaled down (lease 0.5 s, heartbeat 0.1 s); each case has its
 * own run id and stream prefix. One case per invariant:
 *   1 renewed:    a task renewed for 10 x lease is never delivered to a
 *                 second consumer polling the whole time; completes, attempt 1;
 *   2 lost lease: after lease_s without renewal the second consumer gets
 *                 attempt 2 (redelivered); the first one's renew and complete
 *                 return CVB_TASK_FENCED; exactly one level row;
 *   3 duplicate:  a second delivery of a finished task (push force) is
 *                 acknowledged, never returned, counted in acked_finished;
 *                 attempt unchanged;
 *   4 dead:       max_attempts 3: the 4th delivery marks it dead with a reason;
 *   5 one result: (in 1, 2 and 3) exactly one level row per task;
 * and routing by ISA and by tag, reconcile after the broker lost a stream,
 * depth, fail, a lost connection (Redis), and bad broker URLs. */
#include "cvb/queue.h"
#include "queue/queue_impl.h"
#include "report-fixture.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define LEASE_S 0.5
#define HEARTBEAT_S 0.1

struct backend {
    const char *name;
    const char *broker;   /* "" store queue */
    const char *pg_url;   /* NULL: a fresh SQLite file per case */
};

static const struct backend *be;
static char dir[64];
static int seq;
/* Per case: */
static char run_id[40], prefix[64];
static struct cvb_store *st;

static bool is_redis(void) {
    return be->broker[0] != '\0';
}

static void case_end(void) {
    cvb_store_close(st);
    st = NULL;
}

/* A fresh store (SQLite: new file; PostgreSQL: the shared database) with
 * one run of one scenario; a new run id and stream prefix. */
static int case_begin(void) {
    char path[128];
    struct cvb_err err = {0};
    seq++;
    snprintf(run_id, sizeof run_id, "qc-%d-%d", (int)getpid(), seq);
    snprintf(prefix, sizeof prefix, "cvbt-%d-%d", (int)getpid(), seq);
    if (be->pg_url) {
        snprintf(path, sizeof path, "%s", be->pg_url);
    } else {
        snprintf(path, sizeof path, "%s/case-%d.db", dir, seq);
    }
    st = NULL;
    int rc = cvb_store_open(path, &st, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  store: %s\n", err.msg);
        return rc;
    }
    const char *json[] = {"{\"name\": \"queue-contract\"}"};
    rc = cvb_store_create_run(st, run_id, json, 1, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  create_run: %s\n", err.msg);
        case_end();
    }
    return rc;
}

static struct cvb_queue_opts opts(int max_attempts) {
    struct cvb_queue_opts o;
    cvb_queue_opts_defaults(&o);
    o.lease_s = LEASE_S;
    o.heartbeat_s = HEARTBEAT_S;
    o.max_attempts = max_attempts;
    o.block_ms = 50;
    snprintf(o.stream_prefix, sizeof o.stream_prefix, "%s", prefix);
    return o;
}

static struct cvb_queue *open_q(const char *consumer, int max_attempts) {
    struct cvb_queue_opts o = opts(max_attempts);
    struct cvb_queue *q = NULL;
    struct cvb_err err = {0};
    int rc = cvb_queue_open(be->broker, st, &o, consumer, &q, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "  queue open: %s\n", err.msg);
    return q;
}

static void make_task(struct cvb_task *t, int level, const char *isa, const char *tag) {
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s.0.%d", run_id, level);
    snprintf(t->run_id, sizeof t->run_id, "%s", run_id);
    t->scenario = 0;
    t->level = level;
    t->streams = level + 1;
    snprintf(t->req_backend, sizeof t->req_backend, "cpu");
    snprintf(t->req_isa, sizeof t->req_isa, "%s", isa);
    snprintf(t->req_tag, sizeof t->req_tag, "%s", tag);
}

/* Filter: backend cpu, isas "auto" plus the space-separated 'isas', tags. */
static void make_filter(struct cvb_task_filter *f, const char *isas, const char *tags) {
    char buf[256], *save = NULL;
    memset(f, 0, sizeof *f);
    snprintf(f->backend, sizeof f->backend, "cpu");
    snprintf(f->isas[f->n_isas++], sizeof f->isas[0], "auto");
    snprintf(buf, sizeof buf, "%s", isas);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        snprintf(f->isas[f->n_isas++], sizeof f->isas[0], "%s", w);
    snprintf(buf, sizeof buf, "%s", tags);
    for (char *w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
        snprintf(f->tags[f->n_tags++], sizeof f->tags[0], "%s", w);
}

static int push(struct cvb_queue *q, const struct cvb_task *t, bool force) {
    struct cvb_err err = {0};
    int rc = cvb_queue_push(q, t, force, &err);
    if (rc < 0) fprintf(stderr, "  push %s: %s\n", t->id, err.msg);
    return rc;
}

/* next() with its own wait: polls with the queue's block_ms until 'wait_ms'. */
static int next_within(struct cvb_queue *q, const struct cvb_task_filter *f,
                       struct cvb_delivery *d, int wait_ms) {
    struct cvb_err err = {0};
    uint64_t end = cvb_now_ns() + (uint64_t)wait_ms * 1000000ull;
    for (;;) {
        int rc = cvb_queue_next(q, f, d, &err);
        if (rc != CVB_ENOTFOUND) {
            if (rc < 0) fprintf(stderr, "  next: %s\n", err.msg);
            return rc;
        }
        if (cvb_now_ns() >= end) return rc;
    }
}

static int complete(struct cvb_queue *q, const struct cvb_delivery *d) {
    struct cvb_manifest m;
    struct cvb_level_result r;
    struct cvb_err err = {0};
    fixture_manifest(&m, run_id, "yolov8n.onnx");
    fixture_level(&r, d->task.level, 1.0);
    int rc = cvb_queue_complete(q, d, &m, &r, NULL, 0, &err);
    if (rc < 0) fprintf(stderr, "  complete %s: %s\n", d->task.id, err.msg);
    return rc;
}

static int n_levels(void) {
    static struct cvb_level_result lv[8];
    struct cvb_err err = {0};
    int n = -1;
    int rc = cvb_store_get_levels(st, run_id, 0, lv, 8, &n, &err);
    if (rc < 0) fprintf(stderr, "  get_levels: %s\n", err.msg);
    return rc < 0 ? rc : n;
}

static struct cvb_task task_now(const char *id) {
    struct cvb_task t;
    struct cvb_err err = {0};
    memset(&t, 0, sizeof t);
    if (cvb_store_get_task(st, id, &t, &err) < 0) fprintf(stderr, "  get_task: %s\n", err.msg);
    return t;
}

static double secs_since(uint64_t t0) {
    return (double)(cvb_now_ns() - t0) / 1e9;
}

/* The usual cast of a case: workers a and b on one store, task 'level'
 * (no requirement beyond backend cpu), a filter that matches it. */
struct pair {
    struct cvb_queue *a, *b;
    struct cvb_task t;
    struct cvb_task_filter f;
};

static int pair_begin(struct pair *p, int level) {
    memset(p, 0, sizeof *p);
    if (case_begin() < 0) return -1;
    p->a = open_q("worker-a", 3);
    p->b = open_q("worker-b", 3);
    make_task(&p->t, level, "auto", "");
    make_filter(&p->f, "", "");
    return p->a && p->b ? 0 : -1;
}

static void pair_end(struct pair *p) {
    cvb_queue_close(p->a);
    cvb_queue_close(p->b);
    if (st) case_end();
}

/* ---- invariant 1: a renewed task is never delivered to anyone else -------------- */

struct heartbeat {
    struct cvb_queue *q;
    const struct cvb_delivery *d;
    atomic_bool stop;
    int n_ok, n_bad;
};

static void *heartbeat_main(void *arg) {
    struct heartbeat *h = arg;
    while (!atomic_load(&h->stop)) {
        struct cvb_err err = {0};
        int rc = cvb_queue_renew(h->q, h->d, &err);
        if (rc == 0) {
            h->n_ok++;
        } else {
            h->n_bad++;
            fprintf(stderr, "  renew: %d %s\n", rc, err.msg);
        }
        cvb__queue_sleep_ms((int)(HEARTBEAT_S * 1000));
    }
    return NULL;
}

static void test_renewed_never_redelivered(void) {
    struct pair p;
    if (pair_begin(&p, 0) < 0) goto out;
    struct cvb_delivery d, d2;
    CHECK_EQ_INT(push(p.a, &p.t, false), 0);
    CHECK_EQ_INT(next_within(p.a, &p.f, &d, 1000), 0);
    CHECK_EQ_INT(d.task.attempt, 1);
    CHECK(!d.redelivered);
    CHECK(strcmp(d.task.id, p.t.id) == 0);
    CHECK(strcmp(d.task.state, "running") == 0);
    struct heartbeat h = {.q = p.a, .d = &d};
    atomic_init(&h.stop, false);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, heartbeat_main, &h), 0);
    uint64_t t0 = cvb_now_ns();
    int got = 0;
    while (secs_since(t0) < 10 * LEASE_S) {
        struct cvb_err err = {0};
        int rc = cvb_queue_next(p.b, &p.f, &d2, &err);
        if (rc == 0) got++;
        else CHECK_EQ_INT(rc, CVB_ENOTFOUND);
    }
    atomic_store(&h.stop, true);
    pthread_join(th, NULL);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(h.n_bad, 0);
    CHECK(h.n_ok >= 30); /* ~50 renewals in 5 s */
    CHECK_EQ_INT(complete(p.a, &d), 0);
    struct cvb_task now = task_now(p.t.id);
    CHECK(strcmp(now.state, "done") == 0);
    CHECK_EQ_INT(now.attempt, 1);
    CHECK_EQ_INT(n_levels(), 1);
    struct cvb_queue_stats sa, sb;
    cvb_queue_get_stats(p.a, &sa);
    cvb_queue_get_stats(p.b, &sb);
    CHECK_EQ_INT(sa.delivered, 1);
    CHECK_EQ_INT(sa.renewals, h.n_ok);
    CHECK_EQ_INT(sb.delivered, 0);
out:
    pair_end(&p);
}

/* ---- invariant 2: a lost lease is redelivered; the old attempt is fenced ---------- */

static void test_lost_lease_fenced(void) {
    struct pair p;
    if (pair_begin(&p, 1) < 0) goto out;
    struct cvb_delivery d1, d2;
    struct cvb_err err = {0};
    CHECK_EQ_INT(push(p.a, &p.t, false), 0);
    CHECK_EQ_INT(next_within(p.a, &p.f, &d1, 1000), 0);
    uint64_t t0 = cvb_now_ns();
    CHECK_EQ_INT(d1.task.attempt, 1);
    /* p.a stops renewing; p.b polls */
    CHECK_EQ_INT(next_within(p.b, &p.f, &d2, 3000), 0);
    double waited = secs_since(t0);
    CHECK(waited >= LEASE_S * 0.9);
    CHECK(waited < LEASE_S * 4);
    CHECK(strcmp(d2.task.id, p.t.id) == 0);
    CHECK_EQ_INT(d2.task.attempt, 2);
    CHECK(d2.redelivered);
    CHECK_EQ_INT(cvb_queue_renew(p.a, &d1, &err), CVB_TASK_FENCED);
    CHECK_EQ_INT(complete(p.a, &d1), CVB_TASK_FENCED);
    CHECK_EQ_INT(n_levels(), 0);
    CHECK_EQ_INT(cvb_queue_renew(p.b, &d2, &err), 0);
    CHECK_EQ_INT(complete(p.b, &d2), 0);
    CHECK_EQ_INT(complete(p.a, &d1), CVB_TASK_FENCED); /* late, after p.b finished */
    CHECK_EQ_INT(n_levels(), 1);
    struct cvb_task now = task_now(p.t.id);
    CHECK(strcmp(now.state, "done") == 0);
    CHECK_EQ_INT(now.attempt, 2);
    CHECK(strcmp(now.worker, "worker-b") == 0);
    struct cvb_queue_stats sa, sb;
    cvb_queue_get_stats(p.a, &sa);
    cvb_queue_get_stats(p.b, &sb);
    CHECK_EQ_INT(sa.fenced, 3);
    CHECK_EQ_INT(sb.redelivered, 1);
    /* nothing left to deliver */
    CHECK_EQ_INT(next_within(p.b, &p.f, &d2, 2 * (int)(LEASE_S * 1000)), CVB_ENOTFOUND);
out:
    pair_end(&p);
}

/* ---- invariant 3: a finished task delivered again is acknowledged, skipped -------- */

static void test_duplicate_of_finished_acked(void) {
    struct pair p;
    if (pair_begin(&p, 2) < 0) goto out;
    struct cvb_delivery d, d2;
    int64_t depth = -1;
    struct cvb_err err = {0};
    CHECK_EQ_INT(push(p.a, &p.t, false), 0);
    CHECK_EQ_INT(next_within(p.a, &p.f, &d, 1000), 0);
    CHECK_EQ_INT(complete(p.a, &d), 0);
    /* p.a second entry for the same task (what the reconciler may create) */
    CHECK_EQ_INT(push(p.a, &p.t, true), 0);
    CHECK_EQ_INT(push(p.a, &p.t, false), 0); /* idempotent: no third entry */
    if (is_redis()) {
        CHECK_EQ_INT(cvb_queue_depth(p.a, &depth, &err), 0);
        CHECK_EQ_INT(depth, 1);
    }
    CHECK_EQ_INT(next_within(p.b, &p.f, &d2, 3 * (int)(LEASE_S * 1000)), CVB_ENOTFOUND);
    struct cvb_queue_stats sb;
    cvb_queue_get_stats(p.b, &sb);
    CHECK_EQ_INT(sb.delivered, 0);
    /* the store queue has one row per task: no duplicate can exist */
    CHECK_EQ_INT(sb.acked_finished, is_redis() ? 1 : 0);
    CHECK_EQ_INT(cvb_queue_depth(p.a, &depth, &err), 0);
    CHECK_EQ_INT(depth, 0);
    struct cvb_task now = task_now(p.t.id);
    CHECK(strcmp(now.state, "done") == 0);
    CHECK_EQ_INT(now.attempt, 1);
    CHECK_EQ_INT(n_levels(), 1);
out:
    pair_end(&p);
}

/* ---- invariant 4: the delivery after max_attempts marks the task dead ----------- */

static void test_dead_after_max_attempts(void) {
    if (case_begin() < 0) return;
    struct cvb_queue *a = open_q("worker-a", 3);
    struct cvb_task t;
    struct cvb_task_filter f;
    struct cvb_delivery d;
    make_task(&t, 3, "auto", "");
    make_filter(&f, "", "");
    if (a == NULL) goto out;
    CHECK_EQ_INT(push(a, &t, false), 0);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ_INT(next_within(a, &f, &d, 4 * (int)(LEASE_S * 1000)), 0);
        CHECK_EQ_INT(d.task.attempt, i);
        CHECK(d.redelivered == (i > 1));
    }
    CHECK_EQ_INT(next_within(a, &f, &d, 3 * (int)(LEASE_S * 1000)), CVB_ENOTFOUND);
    struct cvb_task now = task_now(t.id);
    CHECK(strcmp(now.state, "dead") == 0);
    CHECK_EQ_INT(now.attempt, 3);
    CHECK(now.reason[0] != '\0');
    printf("  dead reason: %s\n", now.reason);
    struct cvb_queue_stats s;
    cvb_queue_get_stats(a, &s);
    CHECK_EQ_INT(s.dead, 1);
    CHECK_EQ_INT(s.delivered, 3);
    CHECK_EQ_INT(s.redelivered, 2);
    CHECK_EQ_INT(n_levels(), 0);
out:
    cvb_queue_close(a);
    case_end();
}

/* ---- routing ------------------------------------------------------------------- */

static void test_routing_isa(void) {
    if (case_begin() < 0) return;
    struct cvb_queue *x = open_q("worker-avx2", 3), *y = open_q("worker-avx512", 3);
    struct cvb_task t, t_auto;
    struct cvb_task_filter fx, fy;
    struct cvb_delivery d;
    make_task(&t, 0, "avx512", "");
    make_task(&t_auto, 1, "auto", "");
    make_filter(&fx, "avx2", "");
    make_filter(&fy, "avx2 avx512", "");
    if (x == NULL || y == NULL) goto out;
    CHECK_EQ_INT(push(x, &t, false), 0);
    CHECK_EQ_INT(next_within(x, &fx, &d, 300), CVB_ENOTFOUND);
    CHECK_EQ_INT(next_within(y, &fy, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t.id) == 0);
    CHECK(strcmp(d.task.req_isa, "avx512") == 0);
    CHECK_EQ_INT(d.task.attempt, 1);
    CHECK_EQ_INT(complete(y, &d), 0);
    /* an "auto" task goes to either */
    CHECK_EQ_INT(push(y, &t_auto, false), 0);
    CHECK_EQ_INT(next_within(x, &fx, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t_auto.id) == 0);
    CHECK_EQ_INT(complete(x, &d), 0);
    CHECK_EQ_INT(n_levels(), 2);
out:
    cvb_queue_close(x);
    cvb_queue_close(y);
    case_end();
}

static void test_routing_tag(void) {
    if (case_begin() < 0) return;
    struct cvb_queue *x = open_q("worker-untagged", 3), *z = open_q("worker-gpu-b", 3),
                     *y = open_q("worker-gpu-a", 3);
    struct cvb_task t, t_plain;
    struct cvb_task_filter fx, fz, fy;
    struct cvb_delivery d;
    make_task(&t, 0, "auto", "gpu-a");
    make_task(&t_plain, 1, "auto", "");
    make_filter(&fx, "", "");
    make_filter(&fz, "", "gpu-b");
    make_filter(&fy, "", "lab gpu-a");
    if (x == NULL || y == NULL || z == NULL) goto out;
    CHECK_EQ_INT(push(x, &t, false), 0);
    CHECK_EQ_INT(next_within(x, &fx, &d, 300), CVB_ENOTFOUND);
    CHECK_EQ_INT(next_within(z, &fz, &d, 300), CVB_ENOTFOUND);
    CHECK_EQ_INT(next_within(y, &fy, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t.id) == 0);
    CHECK(strcmp(d.task.req_tag, "gpu-a") == 0);
    CHECK_EQ_INT(complete(y, &d), 0);
    /* an untagged task goes to a tagged worker too */
    CHECK_EQ_INT(push(x, &t_plain, false), 0);
    CHECK_EQ_INT(next_within(y, &fy, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t_plain.id) == 0);
    CHECK_EQ_INT(complete(y, &d), 0);
out:
    cvb_queue_close(x);
    cvb_queue_close(y);
    cvb_queue_close(z);
    case_end();
}

/* ---- reconcile: the broker lost the stream ---------------------------------------- */

static int del_stream(struct cvb_queue *q, const struct cvb_task *t) {
    char key[160];
    struct cvb_err err = {0};
    snprintf(key, sizeof key, "%s:tasks:%s:%s:%s", prefix, t->req_backend, t->req_isa,
             t->req_tag[0] ? t->req_tag : "-");
    const char *argv[] = {"DEL", key};
    int rc = cvb__queue_redis_command(q, 2, argv, NULL, &err);
    if (rc < 0) fprintf(stderr, "  DEL %s: %s\n", key, err.msg);
    return rc;
}

static void test_reconcile_lost_stream(void) {
    if (case_begin() < 0) return;
    struct cvb_queue *c = open_q("coordinator", 3), *a = open_q("worker-a", 3),
                     *b = open_q("worker-b", 3);
    struct cvb_task t, t2;
    struct cvb_task_filter f;
    struct cvb_delivery d;
    struct cvb_err err = {0};
    int n = -1;
    make_task(&t, 0, "auto", "");
    make_task(&t2, 1, "auto", "");
    make_filter(&f, "", "");
    if (c == NULL || a == NULL || b == NULL) goto out;
    /* a queued task whose entry is lost */
    CHECK_EQ_INT(push(c, &t, false), 0);
    if (is_redis()) {
        CHECK_EQ_INT(del_stream(c, &t), 0);
        CHECK_EQ_INT(next_within(a, &f, &d, 300), CVB_ENOTFOUND);
    }
    CHECK_EQ_INT(cvb_queue_reconcile(c, &n, &err), 0);
    if (is_redis() && be->pg_url) CHECK(n >= 1); /* the shared database has older cases' tasks */
    else CHECK_EQ_INT(n, is_redis() ? 1 : 0);
    CHECK_EQ_INT(next_within(a, &f, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t.id) == 0);
    CHECK_EQ_INT(d.task.attempt, 1);
    /* running under a renewed lease: left alone (and its renewal survives the loss) */
    if (is_redis()) CHECK_EQ_INT(del_stream(c, &t), 0);
    CHECK_EQ_INT(cvb_queue_renew(a, &d, &err), 0);
    int n_before = n;
    CHECK_EQ_INT(cvb_queue_reconcile(c, &n, &err), 0);
    if (!be->pg_url) CHECK_EQ_INT(n, 0);
    (void)n_before;
    CHECK_EQ_INT(complete(a, &d), 0);
    /* a running task whose worker died and whose entry is lost: requeued once
       its lease is expired by more than lease_s */
    CHECK_EQ_INT(push(c, &t2, false), 0);
    CHECK_EQ_INT(next_within(a, &f, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t2.id) == 0);
    if (is_redis()) CHECK_EQ_INT(del_stream(c, &t2), 0);
    CHECK_EQ_INT(cvb_queue_reconcile(c, &n, &err), 0);
    if (!be->pg_url) CHECK_EQ_INT(n, 0); /* lease not expired yet */
    cvb__queue_sleep_ms((int)(2.5 * LEASE_S * 1000));
    CHECK_EQ_INT(cvb_queue_reconcile(c, &n, &err), 0);
    if (!be->pg_url) CHECK_EQ_INT(n, is_redis() ? 1 : 0);
    CHECK_EQ_INT(next_within(b, &f, &d, 1000), 0);
    CHECK(strcmp(d.task.id, t2.id) == 0);
    CHECK_EQ_INT(d.task.attempt, 2);
    CHECK_EQ_INT(complete(b, &d), 0);
    CHECK_EQ_INT(n_levels(), 2);
out:
    cvb_queue_close(c);
    cvb_queue_close(a);
    cvb_queue_close(b);
    case_end();
}

/* ---- depth, fail -------------------------------------------------------------- */

static void test_depth_and_fail(void) {
    if (case_begin() < 0) return;
    struct cvb_queue *a = open_q("worker-a", 3);
    struct cvb_task t0, t1;
    struct cvb_task_filter f;
    struct cvb_delivery d;
    struct cvb_err err = {0};
    int64_t d0 = -1, depth = -1;
    make_task(&t0, 0, "auto", "");
    make_task(&t1, 1, "auto", "");
    make_filter(&f, "", "");
    if (a == NULL) goto out;
    CHECK_EQ_INT(cvb_queue_depth(a, &d0, &err), 0);
    if (!be->pg_url) CHECK_EQ_INT(d0, 0);
    CHECK_EQ_INT(push(a, &t0, false), 0);
    CHECK_EQ_INT(push(a, &t1, false), 0);
    CHECK_EQ_INT(cvb_queue_depth(a, &depth, &err), 0);
    CHECK_EQ_INT(depth, d0 + 2);
    CHECK_EQ_INT(next_within(a, &f, &d, 1000), 0);
    CHECK_EQ_INT(cvb_queue_depth(a, &depth, &err), 0);
    CHECK_EQ_INT(depth, d0 + 1);
    CHECK_EQ_INT(cvb_queue_fail(a, &d, "bad model: not an ONNX file", &err), 0);
    struct cvb_task now = task_now(d.task.id);
    CHECK(strcmp(now.state, "failed") == 0);
    CHECK(strstr(now.reason, "not an ONNX file") != NULL);
    CHECK_EQ_INT(cvb_queue_renew(a, &d, &err), CVB_TASK_FENCED);
    CHECK_EQ_INT(cvb_queue_fail(a, &d, "again", &err), CVB_TASK_FENCED);
    CHECK_EQ_INT(next_within(a, &f, &d, 1000), 0); /* the other one */
    CHECK(strcmp(d.task.id, now.id) != 0);
    CHECK_EQ_INT(complete(a, &d), 0);
    CHECK_EQ_INT(cvb_queue_depth(a, &depth, &err), 0);
    CHECK_EQ_INT(depth, d0);
    CHECK_EQ_INT(next_within(a, &f, &d, 2 * (int)(LEASE_S * 1000)), CVB_ENOTFOUND);
out:
    cvb_queue_close(a);
    case_end();
}

/* ---- connection loss (Redis) -------------------------------------------------- */

/* Every client's connection is killed: calls fail with an error naming the
 * broker at most once, then reconnect; the renewed task stays with its
 * worker (the other consumer waits a heartbeat after reconnecting before
 * taking over anything). */
static void test_reconnect(void) {
    if (!is_redis()) {
        printf("  (no connection to lose for the store queue)\n");
        return;
    }
    struct pair p;
    if (pair_begin(&p, 0) < 0) goto out;
    struct cvb_delivery d, d2;
    struct cvb_err err = {0};
    CHECK_EQ_INT(push(p.a, &p.t, false), 0);
    CHECK_EQ_INT(next_within(p.a, &p.f, &d, 1000), 0);
    const char *kill[] = {"CLIENT", "KILL", "TYPE", "normal"};
    (void)cvb__queue_redis_command(p.b, 4, kill, NULL, &err); /* its own connection goes too */
    int rc = cvb_queue_renew(p.a, &d, &err), tries = 1;
    if (rc < 0) {
        CHECK_EQ_INT(rc, CVB_EIO);
        CHECK(strstr(err.msg, be->broker) != NULL);
        rc = cvb_queue_renew(p.a, &d, &err);
        tries++;
    }
    CHECK_EQ_INT(rc, 0);
    CHECK(tries <= 2);
    printf("  renew after the kill: %d call(s)\n", tries);
    uint64_t t0 = cvb_now_ns();
    int got = 0;
    while (secs_since(t0) < 3 * LEASE_S) {
        if (cvb_queue_next(p.b, &p.f, &d2, &err) == 0) got++;
        if (cvb_queue_renew(p.a, &d, &err) != 0) break;
    }
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(complete(p.a, &d), 0);
    CHECK_EQ_INT(task_now(p.t.id).attempt, 1);
out:
    pair_end(&p);
}

/* ---- consumers are removed when they hold nothing (Redis) --------------------- */

static long long n_consumers(struct cvb_queue *q, const struct cvb_task *t) {
    char key[160];
    long long n = -1;
    struct cvb_err err = {0};
    snprintf(key, sizeof key, "%s:tasks:%s:%s:-", prefix, t->req_backend, t->req_isa);
    const char *argv[] = {"XINFO", "CONSUMERS", key, "workers"};
    if (cvb__queue_redis_command(q, 4, argv, &n, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    return n;
}

static void test_consumers_removed(void) {
    if (!is_redis()) {
        printf("  (the store queue has no consumers to remove)\n");
        return;
    }
    struct pair p;
    struct cvb_queue *c = NULL;
    struct cvb_delivery d;
    if (pair_begin(&p, 0) < 0) goto out;
    c = open_q("coordinator", 3); /* pushes only: never a consumer */
    if (c == NULL) goto out;
    struct cvb_task t2;
    make_task(&t2, 1, "auto", "");
    CHECK_EQ_INT(push(c, &p.t, false), 0);
    CHECK_EQ_INT(push(c, &t2, false), 0);
    CHECK_EQ_INT(next_within(p.a, &p.f, &d, 1000), 0);
    CHECK(strcmp(d.task.id, p.t.id) == 0);
    CHECK_EQ_INT(next_within(p.b, &p.f, &d, 1000), 0); /* b: a consumer holding nothing after */
    CHECK_EQ_INT(complete(p.b, &d), 0);
    CHECK_EQ_INT(n_consumers(c, &p.t), 2);
    cvb_queue_close(p.b);
    p.b = NULL;
    CHECK_EQ_INT(n_consumers(c, &p.t), 1);
    cvb_queue_close(p.a); /* holds the entry: stays, its entry claimable */
    p.a = NULL;
    CHECK_EQ_INT(n_consumers(c, &p.t), 1);
    p.a = open_q("worker-a2", 3);
    if (p.a == NULL) goto out;
    CHECK_EQ_INT(next_within(p.a, &p.f, &d, 3000), 0);
    CHECK_EQ_INT(d.task.attempt, 2);
    CHECK_EQ_INT(complete(p.a, &d), 0);
    cvb_queue_close(p.a);
    p.a = NULL;
    CHECK_EQ_INT(n_consumers(c, &p.t), 1); /* worker-a's, now empty, is someone's to clean */
out:
    cvb_queue_close(c);
    pair_end(&p);
}

/* ---- bad input --------------------------------------------------------------- */

static void test_bad_input(void) {
    if (case_begin() < 0) return;
    struct cvb_queue_opts o = opts(3);
    struct cvb_queue *q = NULL;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_queue_open("amqp://localhost", st, &o, "w", &q, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "amqp://localhost") != NULL);
    CHECK(q == NULL);
    CHECK_EQ_INT(cvb_queue_open("redis://127.0.0.1:notaport", st, &o, "w", &q, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "redis://127.0.0.1:notaport") != NULL);
    CHECK_EQ_INT(cvb_queue_open("redis://127.0.0.1:1", st, &o, "w", &q, &err), CVB_EIO);
    CHECK(strstr(err.msg, "redis://127.0.0.1:1") != NULL);
    CHECK_EQ_INT(cvb_queue_open("redis://u:p@127.0.0.1:1", st, &o, "w", &q, &err),
                 CVB_EUNSUPPORTED);
    o.heartbeat_s = o.lease_s;
    CHECK_EQ_INT(cvb_queue_open(be->broker, st, &o, "w", &q, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "heartbeat_s") != NULL);
    o = opts(3);
    CHECK_EQ_INT(cvb_queue_open(be->broker, st, &o, "", &q, &err), CVB_EINVAL);
    q = open_q("w", 3);
    if (q == NULL) goto out;
    struct cvb_task t;
    make_task(&t, 0, "auto", "a:b");
    if (is_redis()) { /* a ':' would make stream keys ambiguous */
        CHECK_EQ_INT(cvb_queue_push(q, &t, false, &err), CVB_EINVAL);
        CHECK(strstr(err.msg, t.id) != NULL);
    }
    struct cvb_task_filter f;
    struct cvb_delivery d;
    make_filter(&f, "", "");
    f.n_isas = 0;
    CHECK_EQ_INT(cvb_queue_next(q, &f, &d, &err), CVB_EINVAL);
    memset(&d, 0, sizeof d);
    CHECK_EQ_INT(cvb_queue_renew(q, &d, &err), CVB_EINVAL);
out:
    cvb_queue_close(q);
    case_end();
}

static void run_suite(const struct backend *b) {
    be = b;
    printf("== %s\n", b->name);
    RUN(test_renewed_never_redelivered);
    RUN(test_lost_lease_fenced);
    RUN(test_duplicate_of_finished_acked);
    RUN(test_dead_after_max_attempts);
    RUN(test_routing_isa);
    RUN(test_routing_tag);
    RUN(test_reconcile_lost_stream);
    RUN(test_depth_and_fail);
    RUN(test_reconnect);
    RUN(test_consumers_removed);
    RUN(test_bad_input);
}

int main(void) {
    cvb_log_set_level(CVB_LOG_ERROR);
    snprintf(dir, sizeof dir, "/tmp/cvb-queue-XXXXXX");
    if (mkdtemp(dir) == NULL) return test_skip("mkdtemp failed");
    const char *redis = getenv("CVB_TEST_REDIS_URL");
    const char *pg = getenv("CVB_TEST_PG_URL");
    if (pg && pg[0] == '\0') pg = NULL;
    const struct backend store_sqlite = {"store queue, SQLite", "", NULL};
    const struct backend store_pg = {"store queue, PostgreSQL", "", pg};
    const struct backend redis_sqlite = {"redis queue, SQLite store", redis, NULL};
    const struct backend redis_pg = {"redis queue, PostgreSQL store", redis, pg};
    run_suite(&store_sqlite);
    if (pg) run_suite(&store_pg);
    else printf("SKIP store queue, PostgreSQL: CVB_TEST_PG_URL not set\n");
    if (redis && redis[0]) {
        run_suite(&redis_sqlite);
        if (pg) run_suite(&redis_pg);
        else printf("SKIP redis queue, PostgreSQL store: CVB_TEST_PG_URL not set\n");
    } else {
        printf("SKIP redis queue: CVB_TEST_REDIS_URL not set (ctest queue-contract-services "
               "runs it under tests/integration/services.py)\n");
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary();
}
