/* SPDX-License-Identifier: Apache-2.0 */
/* PostgreSQL-specific behaviour of src/store/postgres.c, at the level of its
 * ops table (store_impl.h), against a real server: CVB_TEST_PG_URL (set by
 * tests/integration/services.py --postgres; ctest test store-postgres).
 * Skips (77) without it. The store's contract through the public API is
 * test-store-contract (run against PostgreSQL as store-contract-postgres).
 *
 * Cases: four handles opening an empty database at once (advisory lock:
 * one creates the schema, none fails); claim races between handles (FOR
 * UPDATE SKIP LOCKED + the attempt/state guard: every task taken exactly
 * once, one winner for a single task); a connection killed under the store
 * (pg_terminate_backend via psql) is reset once outside a transaction and
 * reported as lost inside one; an unreachable server and a bad URL give
 * errors naming the URL without its password; 20000 frame samples stored in
 * well under a second; the server's clock. */
#include "store/store_impl.h"
#include "test.h"

#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

static const struct cvb__store_ops *O = &cvb__store_postgres_ops;
static const char *url;

static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *opener(void *arg) {
    int *rc = arg;
    void *c = NULL;
    struct cvb_err e = {0};
    *rc = O->open(url, "test", &c, &e);
    if (*rc != 0) fprintf(stderr, "open: %s\n", e.msg);
    O->close(c);
    return NULL;
}

/* Runs first, on the empty database services.py made. */
static void test_concurrent_open_creates_schema_once(void) {
    enum { N = 4 };
    pthread_t th[N];
    int rc[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, opener, &rc[i]);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(rc[i], 0);
    }
}

static void add_run(void *c, const char *id, double now) {
    struct cvb_err e = {0};
    struct cvb__run_row row = {.id = id, .status = "queued", .origin = "api",
                               .started_at = "2025-01-01T00:00:00Z", .created = now,
                               .n_scenarios = 1, .manifest_json = "{}"};
    CHECK_EQ_INT(O->run_insert(c, &row, &e), 0);
}

static void add_tasks(void *c, const char *run_id, int n, double now) {
    struct cvb_err e = {0};
    for (int i = 0; i < n; i++) {
        struct cvb_task t = {0};
        snprintf(t.id, sizeof t.id, "%s.0.%d", run_id, i);
        snprintf(t.run_id, sizeof t.run_id, "%s", run_id);
        t.level = i;
        t.streams = 1;
        snprintf(t.state, sizeof t.state, "queued");
        snprintf(t.req_backend, sizeof t.req_backend, "cpu");
        snprintf(t.req_isa, sizeof t.req_isa, "auto");
        t.created = now + i * 1e-3;
        CHECK_EQ_INT(O->task_insert(c, &t, &e), 0);
        CHECK_EQ_INT(O->task_insert(c, &t, &e), 1); /* idempotent */
    }
}

/* One claim as store.c does it: candidates (SKIP LOCKED), guarded update. */
static int claim_one(void *c, const char *run_id, const char *worker, char *got, size_t cap) {
    struct cvb_err e = {0};
    struct cvb_task t[4];
    int n = 0, changed = 0, rc;
    double now;
    if ((rc = O->begin(c, true, &e)) != 0) return rc;
    if ((rc = O->now(c, &now, &e)) != 0) goto out;
    if ((rc = O->task_candidates(c, now, NULL, t, 4, &n, &e)) != 0) goto out;
    for (int i = 0; i < n; i++) {
        if (strcmp(t[i].run_id, run_id) != 0) continue;
        struct cvb_task u = t[i];
        snprintf(u.state, sizeof u.state, "running");
        u.attempt = t[i].attempt + 1;
        snprintf(u.worker, sizeof u.worker, "%s", worker);
        u.lease_until = now + 60;
        if ((rc = O->task_update(c, &u, t[i].attempt, t[i].state, &changed, &e)) != 0) goto out;
        if (changed == 1) {
            snprintf(got, cap, "%s", u.id);
            break;
        }
    }
    rc = O->commit(c, &e);
    return rc == 0 && changed == 1 ? 1 : rc;
out:
    fprintf(stderr, "claim: %s\n", e.msg);
    O->rollback(c);
    return rc;
}

struct claimer {
    void *c;
    const char *run_id;
    char worker[16];
    int won;
    char ids[32][CVB_TASK_ID_MAX];
    int errors;
};

static pthread_barrier_t barrier;

static void *claimer_main(void *arg) {
    struct claimer *cl = arg;
    pthread_barrier_wait(&barrier);
    for (;;) {
        char got[CVB_TASK_ID_MAX] = "";
        int rc = claim_one(cl->c, cl->run_id, cl->worker, got, sizeof got);
        if (rc < 0) {
            cl->errors++;
            break;
        }
        if (rc == 0) break; /* nothing left for this run */
        snprintf(cl->ids[cl->won++], CVB_TASK_ID_MAX, "%s", got);
        if (cl->won == 32) break;
    }
    return NULL;
}

/* n_tasks tasks, n_threads handles claiming until none is left: every task
 * exactly once, no errors. */
static void claim_race(const char *run_id, int n_tasks, int n_threads) {
    struct cvb_err e = {0};
    struct claimer cl[8] = {0};
    pthread_t th[8];
    void *setup = NULL;
    double now;
    if (O->open(url, "test", &setup, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        CHECK(0);
        return;
    }
    CHECK_EQ_INT(O->now(setup, &now, &e), 0);
    add_run(setup, run_id, now);
    add_tasks(setup, run_id, n_tasks, now);
    pthread_barrier_init(&barrier, NULL, (unsigned)n_threads);
    for (int i = 0; i < n_threads; i++) {
        cl[i].run_id = run_id;
        snprintf(cl[i].worker, sizeof cl[i].worker, "w%d", i);
        CHECK_EQ_INT(O->open(url, "test", &cl[i].c, &e), 0);
    }
    for (int i = 0; i < n_threads; i++)
        pthread_create(&th[i], NULL, claimer_main, &cl[i]);
    int total = 0, winners = 0;
    for (int i = 0; i < n_threads; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(cl[i].errors, 0);
        total += cl[i].won;
        winners += cl[i].won > 0;
    }
    pthread_barrier_destroy(&barrier);
    CHECK_EQ_INT(total, n_tasks);
    if (n_tasks == 1) CHECK_EQ_INT(winners, 1);
    /* No task twice, and the store agrees: each running at attempt 1. */
    struct cvb_task t[32];
    int n = 0;
    CHECK_EQ_INT(O->task_list(setup, run_id, "running", t, 32, &n, &e), 0);
    CHECK_EQ_INT(n, n_tasks);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(t[i].attempt, 1);
    for (int i = 0; i < n_threads; i++)
        O->close(cl[i].c);
    O->close(setup);
}

static void test_claim_race_single_task_one_winner(void) {
    claim_race("race1", 1, 4);
}

static void test_claim_race_every_task_once(void) {
    claim_race("race20", 20, 4);
}

/* Two open transactions: the second claimer skips the row the first holds
 * instead of waiting for it. */
static void test_skip_locked_does_not_wait(void) {
    struct cvb_err e = {0};
    void *a = NULL, *b = NULL;
    double now;
    CHECK_EQ_INT(O->open(url, "test", &a, &e), 0);
    CHECK_EQ_INT(O->open(url, "test", &b, &e), 0);
    if (!a || !b) goto out;
    CHECK_EQ_INT(O->now(a, &now, &e), 0);
    add_run(a, "skip", now);
    add_tasks(a, "skip", 2, now + 1000); /* newest: after the race runs' leftovers */
    struct cvb_task ta[8], tb[8];
    int na = 0, nb = 0;
    CHECK_EQ_INT(O->begin(a, true, &e), 0);
    CHECK_EQ_INT(O->begin(b, true, &e), 0);
    CHECK_EQ_INT(O->task_candidates(a, now, NULL, ta, 8, &na, &e), 0);
    double t0 = mono();
    CHECK_EQ_INT(O->task_candidates(b, now, NULL, tb, 8, &nb, &e), 0);
    CHECK(mono() - t0 < 1.0);
    CHECK_EQ_INT(na, 2);
    CHECK_EQ_INT(nb, 0); /* a holds both */
    O->rollback(a);
    CHECK_EQ_INT(O->task_candidates(b, now, NULL, tb, 8, &nb, &e), 0);
    CHECK_EQ_INT(nb, 2);
    /* paging after a row */
    CHECK_EQ_INT(O->task_candidates(b, now, &tb[0], tb + 2, 8, &nb, &e), 0);
    CHECK_EQ_INT(nb, 1);
    O->rollback(b);
out:
    O->close(a);
    O->close(b);
}

/* Terminate every other backend of application cvbench (this test's
 * handles) with psql; false if psql is not there. */
static bool kill_backends(void) {
    char cmd[1024];
    const char *bin = access("/usr/lib/postgresql/15/bin/psql", X_OK) == 0
                          ? "/usr/lib/postgresql/15/bin/psql" : "psql";
    snprintf(cmd, sizeof cmd,
             "%s -X -q -At '%s' -c \"SELECT count(pg_terminate_backend(pid)) FROM "
             "pg_stat_activity WHERE application_name = 'cvbench' AND pid <> pg_backend_pid()\""
             " >/dev/null",
             bin, url);
    return system(cmd) == 0;
}

static void test_reconnect_once(void) {
    struct cvb_err e = {0};
    void *c = NULL;
    double now = 0;
    CHECK_EQ_INT(O->open(url, "test", &c, &e), 0);
    if (c == NULL) return;
    if (!kill_backends()) {
        printf("skip: psql not found, reconnect not tested\n");
        O->close(c);
        return;
    }
    /* Outside a transaction a read is repeated on a new connection. */
    int rc = O->now(c, &now, &e);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK(now > 1.6e9);
    /* Inside one, the loss is reported and the transaction is gone. */
    CHECK_EQ_INT(O->begin(c, true, &e), 0);
    CHECK(kill_backends());
    rc = O->now(c, &now, &e);
    CHECK_EQ_INT(rc, CVB_EIO);
    CHECK(strstr(e.msg, "connection lost inside a transaction") != NULL);
    CHECK(strstr(e.msg, "PostgreSQL store test") != NULL);
    O->rollback(c);
    /* ... and the next call reconnects. */
    CHECK_EQ_INT(O->now(c, &now, &e), 0);
    O->close(c);
}

static void test_unreachable_and_bad_url(void) {
    struct cvb_err e = {0};
    void *c = NULL;
    /* store.c passes the name without password; the implementation uses it. */
    int rc = O->open("postgresql://u:secret@127.0.0.1:1/x", "postgresql://u@127.0.0.1:1/x", &c, &e);
    CHECK_EQ_INT(rc, CVB_EIO);
    CHECK(c == NULL);
    CHECK(strstr(e.msg, "postgresql://u@127.0.0.1:1/x") != NULL);
    CHECK(strstr(e.msg, "secret") == NULL);
    CHECK(strstr(e.msg, "Connection refused") != NULL);
    rc = O->open("postgresql://u@127.0.0.1:1/x?bogus=1", "postgresql://u@127.0.0.1:1/x?bogus=1",
                 &c, &e);
    CHECK_EQ_INT(rc, CVB_EINVAL);
    CHECK(strstr(e.msg, "bad connection URL") != NULL);
}

static int count_cb(void *arg, int level, const char *json, struct cvb_err *err) {
    (void)level, (void)json, (void)err;
    ++*(int *)arg;
    return 0;
}

static void test_frames_and_levels(void) {
    struct cvb_err e = {0};
    void *c = NULL;
    double now;
    CHECK_EQ_INT(O->open(url, "test", &c, &e), 0);
    if (c == NULL) return;
    CHECK_EQ_INT(O->now(c, &now, &e), 0);
    add_run(c, "frames", now);
    struct cvb_frame_sample *fs = calloc(CVB_MAX_FRAME_SAMPLES, sizeof *fs);
    for (int i = 0; i < CVB_MAX_FRAME_SAMPLES; i++) {
        fs[i].stream = i % 3;
        fs[i].frame = i;
        fs[i].t_s = i * 0.01;
        fs[i].latency_ms = 1.5f;
        fs[i].stage_ms[2] = 1e30f;
    }
    double t0 = mono();
    int rc = O->frames_put(c, "frames", 0, 0, fs, CVB_MAX_FRAME_SAMPLES, &e);
    double dt = mono() - t0;
    printf("  %d frame samples stored in %.3f s\n", CVB_MAX_FRAME_SAMPLES, dt);
    CHECK_EQ_INT(rc, 0);
    CHECK(dt < 5.0);
    CHECK_EQ_INT(O->frames_put(c, "frames", 0, 0, fs, CVB_MAX_FRAME_SAMPLES + 1, &e), CVB_EINVAL);
    free(fs);
    /* levels: replace on conflict, bounded read with the total, FK = not found */
    struct cvb_level_result *r = calloc(1, sizeof *r);
    r->streams = 1;
    for (int l = 0; l < 3; l++) {
        r->level = l;
        CHECK_EQ_INT(O->level_put(c, "frames", 0, r, "{}", "w", NULL, &e), 0);
    }
    CHECK_EQ_INT(O->level_put(c, "frames", 0, r, "{}", NULL, NULL, &e), 0);
    CHECK_EQ_INT(O->level_put(c, "no-such-run", 0, r, "{}", NULL, NULL, &e), CVB_ENOTFOUND);
    free(r);
    int seen = 0, total = 0;
    CHECK_EQ_INT(O->levels_get(c, "frames", 0, 2, count_cb, &seen, &total, &e), 0);
    CHECK_EQ_INT(seen, 2);
    CHECK_EQ_INT(total, 3);
    CHECK_EQ_INT(O->levels_get(c, "frames", 0, 0, count_cb, &seen, &total, &e), 0);
    CHECK_EQ_INT(total, 3);
    O->close(c);
}

int main(void) {
    url = getenv("CVB_TEST_PG_URL");
    if (url == NULL || url[0] == '\0') {
        printf("skip: CVB_TEST_PG_URL not set (run under tests/integration/services.py "
               "--postgres: ctest -R store-postgres)\n");
        return 77;
    }
    RUN(test_concurrent_open_creates_schema_once);
    RUN(test_claim_race_single_task_one_winner);
    RUN(test_claim_race_every_task_once);
    RUN(test_skip_locked_does_not_wait);
    RUN(test_reconnect_once);
    RUN(test_unreachable_and_bad_url);
    RUN(test_frames_and_levels);
    return test_summary();
}
