/* SPDX-License-Identifier: Apache-2.0 */
/* The store contract: one suite over the public API (cvb/store.h) only, run
 * against every implementation. SQLite always (a fresh temp file per test);
 * PostgreSQL when CVB_TEST_PG_URL names a database (its harness starts a
 * server and sets it), else the PostgreSQL pass is skipped and says why.
 *
 * Tests never assume an empty store (PostgreSQL is one database for the
 * whole pass): run ids are unique per test, every task of a test requires
 * a backend named after that test, so a claim never sees another test's
 * tasks, and counts are compared as differences. */
#include "cvb/store.h"
#include "report-fixture.h"
#include "test.h"

#include <pthread.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static const char *pg_url;
static bool use_pg;
static int uniq;
static char prefix[32]; /* unique per process: "<pid>x<time>" */

/* A fresh store for one test (SQLite: a new file; PostgreSQL: the shared db). */
static struct cvb_store *open_store(void) {
    char path[160];
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    if (use_pg)
        snprintf(path, sizeof path, "%s", pg_url);
    else
        snprintf(path, sizeof path, "%s/c%d.db", dir, ++uniq);
    int rc = cvb_store_open(path, &st, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "  open: %s\n", err.msg);
    return st;
}

static void make_id(char *buf, size_t len, const char *what) {
    snprintf(buf, len, "%.8s-%.16s-%d", what, prefix, ++uniq);
}

/* A run with one scenario, and in it task 'level' requiring backend 'be'. */
static void make_task(struct cvb_task *t, const char *run_id, int level, const char *be,
                      const char *isa, const char *tag) {
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s.0.%d", run_id, level);
    snprintf(t->run_id, sizeof t->run_id, "%s", run_id);
    t->scenario = 0;
    t->level = level;
    t->streams = 1 << level;
    snprintf(t->req_backend, sizeof t->req_backend, "%s", be);
    snprintf(t->req_isa, sizeof t->req_isa, "%s", isa);
    snprintf(t->req_tag, sizeof t->req_tag, "%s", tag);
}

static void filter(struct cvb_task_filter *f, const char *be, const char *isas, const char *tags) {
    memset(f, 0, sizeof *f);
    snprintf(f->backend, sizeof f->backend, "%s", be);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", isas);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && f->n_isas < CVB_CAPS_MAX_ISAS;
         w = strtok_r(NULL, " ", &save))
        snprintf(f->isas[f->n_isas++], sizeof f->isas[0], "%s", w);
    snprintf(buf, sizeof buf, "%s", tags);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && f->n_tags < CVB_CAPS_MAX_TAGS;
         w = strtok_r(NULL, " ", &save))
        snprintf(f->tags[f->n_tags++], sizeof f->tags[0], "%s", w);
}

static const char *scn_json = "{\"model\":\"data/yolov8n.onnx\",\"streams\":[1,2,4]}";

/* Create an api run 'id' with one scenario and 'n' tasks (levels 0..n-1). */
static void api_run(struct cvb_store *st, const char *id, int n, const char *be) {
    struct cvb_err err = {0};
    const char *scn[1] = {scn_json};
    CHECK_EQ_INT(cvb_store_create_run(st, id, scn, 1, &err), 0);
    for (int i = 0; i < n; i++) {
        struct cvb_task t;
        bool created = false;
        make_task(&t, id, i, be, "auto", "");
        CHECK_EQ_INT(cvb_store_add_task(st, &t, &created, &err), 0);
        CHECK(created);
    }
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_schema_and_cli_run(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    CHECK(strcmp(cvb_store_kind(st), use_pg ? "postgresql" : "sqlite") == 0);
    CHECK(cvb_store_name(st)[0] != '\0');
    double now = 0;
    CHECK_EQ_INT(cvb_store_now(st, &now, &err), 0);
    CHECK(now > 1.7e9);
    char id[40];
    make_id(id, sizeof id, "cli");
    struct cvb_manifest m, mb;
    struct cvb_level_result lv[2], back[4];
    fixture_manifest(&m, id, "yolov8n.onnx");
    CHECK_EQ_INT(cvb_store_put_run(st, &m, &err), 0);
    CHECK_EQ_INT(cvb_store_put_run(st, &m, &err), CVB_EINVAL);
    for (int i = 0; i < 2; i++) {
        fixture_level(&lv[i], i, 1.0);
        CHECK_EQ_INT(cvb_store_put_level(st, id, &lv[i], &err), 0);
    }
    struct cvb_run_info info;
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "running") == 0);
    CHECK(strcmp(info.origin, "cli") == 0);
    CHECK_EQ_INT(info.n_scenarios, 1);
    CHECK_EQ_INT(info.n_levels, 2);
    CHECK_EQ_INT(cvb_store_finish_run(st, id, "done", &err), 0);
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "done") == 0);
    CHECK(info.finished > 0);
    int n = 0;
    CHECK_EQ_INT(cvb_store_get_run(st, id, &mb, back, 4, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(memcmp(&mb, &m, sizeof m) == 0);
    CHECK(n == 2 && memcmp(&back[1], &lv[1], sizeof lv[1]) == 0);
    /* The scenario row of a cli run holds its scenario and manifest. */
    char *json = NULL;
    bool has = false;
    CHECK_EQ_INT(cvb_store_get_scenario(st, id, 0, &json, &mb, &has, &err), 0);
    CHECK(json != NULL && strcmp(json, m.scenario_json) == 0);
    CHECK(has);
    free(json);
    CHECK_EQ_INT(cvb_store_get_run_info(st, "no-such-run", &info, &err), CVB_ENOTFOUND);
    CHECK(strstr(err.msg, "no-such-run") != NULL);
    CHECK_EQ_INT(cvb_store_get_run_info(st, "bad id'", &info, &err), CVB_EINVAL);
    cvb_store_close(st);
}

static void test_api_run_lifecycle(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40], id2[40];
    make_id(id, sizeof id, "api");
    const char *scn[2] = {scn_json, "{\"model\":\"b.onnx\"}"};
    CHECK_EQ_INT(cvb_store_create_run(st, id, scn, 2, &err), 0);
    CHECK_EQ_INT(cvb_store_create_run(st, id, scn, 2, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_create_run(st, "x", scn, 0, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_create_run(st, "x", scn, CVB_STORE_MAX_SCENARIOS + 1, &err), CVB_EINVAL);
    struct cvb_run_info info;
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "queued") == 0);
    CHECK(strcmp(info.origin, "api") == 0);
    CHECK_EQ_INT(info.n_scenarios, 2);
    CHECK_EQ_INT(info.n_levels, 0);
    CHECK(info.created > 0);
    CHECK(info.finished == 0);
    char *json = NULL;
    bool has = true;
    struct cvb_manifest m;
    CHECK_EQ_INT(cvb_store_get_scenario(st, id, 1, &json, &m, &has, &err), 0);
    CHECK(json != NULL && strcmp(json, scn[1]) == 0);
    CHECK(!has);
    free(json);
    CHECK_EQ_INT(cvb_store_get_scenario(st, id, 2, &json, NULL, NULL, &err), CVB_ENOTFOUND);
    /* No manifest before a level finished. */
    struct cvb_level_result lv[2];
    int n = -1;
    CHECK_EQ_INT(cvb_store_get_run_scenario(st, id, 0, &m, lv, 2, &n, &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_get_levels(st, id, 0, lv, 2, &n, &err), 0);
    CHECK_EQ_INT(n, 0);

    /* list_runs: newest first, filtered by status, offset/max bounded. */
    sleep_s(0.01);
    make_id(id2, sizeof id2, "api");
    CHECK_EQ_INT(cvb_store_create_run(st, id2, scn, 1, &err), 0);
    struct cvb_run_info list[4];
    CHECK_EQ_INT(cvb_store_list_runs(st, "queued", 0, list, 2, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(strcmp(list[0].id, id2) == 0);
    CHECK(strcmp(list[1].id, id) == 0);
    CHECK_EQ_INT(cvb_store_list_runs(st, NULL, 1, list, 1, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(strcmp(list[0].id, id) == 0);
    CHECK_EQ_INT(cvb_store_list_runs(st, "weird", 0, list, 2, &n, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_list_runs(st, NULL, -1, list, 2, &n, &err), CVB_EINVAL);

    /* Status transitions; terminal states stick. */
    CHECK_EQ_INT(cvb_store_set_run_status(st, id, "running", "working", &err), 0);
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "running") == 0);
    CHECK(strcmp(info.message, "working") == 0);
    CHECK_EQ_INT(cvb_store_set_run_status(st, id, "failed", "model missing", &err), 0);
    CHECK_EQ_INT(cvb_store_set_run_status(st, id, "done", NULL, &err), CVB_TASK_FINISHED);
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "failed") == 0);
    CHECK(strcmp(info.message, "model missing") == 0);
    CHECK(info.finished > 0);
    CHECK_EQ_INT(cvb_store_set_run_status(st, id, "bogus", NULL, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_set_run_status(st, "nope-run", "done", NULL, &err), CVB_ENOTFOUND);
    cvb_store_close(st);
}

static void test_add_and_begin(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "begin");
    api_run(st, id, 1, "be-begin");
    struct cvb_task t, tb;
    make_task(&t, id, 0, "be-begin", "auto", "");
    bool created = true;
    CHECK_EQ_INT(cvb_store_add_task(st, &t, &created, &err), 0); /* again: idempotent */
    CHECK(!created);
    struct cvb_task other = t;
    snprintf(other.run_id, sizeof other.run_id, "no-such-run");
    snprintf(other.id, sizeof other.id, "no-such-run.0.0");
    CHECK_EQ_INT(cvb_store_add_task(st, &other, NULL, &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_get_task(st, t.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "queued") == 0);
    CHECK_EQ_INT(tb.attempt, 0);
    CHECK_EQ_INT(tb.streams, 1);
    CHECK(strcmp(tb.req_backend, "be-begin") == 0);
    CHECK(tb.created > 0 && tb.started == 0 && tb.lease_until == 0);

    int a = 0;
    double now = 0;
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w1", 30, 3, &a, &err), 0);
    CHECK_EQ_INT(a, 1);
    CHECK_EQ_INT(cvb_store_now(st, &now, &err), 0);
    CHECK_EQ_INT(cvb_store_get_task(st, t.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "running") == 0);
    CHECK(strcmp(tb.worker, "w1") == 0);
    CHECK(tb.lease_until > now + 25 && tb.lease_until <= now + 30);
    CHECK(tb.started > 0);
    /* A second delivery (redelivery) takes the next attempt. */
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w2", 30, 3, &a, &err), 0);
    CHECK_EQ_INT(a, 2);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w3", 30, 3, &a, &err), 0);
    CHECK_EQ_INT(a, 3);
    /* attempt == max_attempts: the next delivery kills it. */
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w4", 30, 3, &a, &err), CVB_TASK_DEAD);
    CHECK_EQ_INT(cvb_store_get_task(st, t.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "dead") == 0);
    CHECK(strstr(tb.reason, "3 attempts") != NULL);
    CHECK(strstr(tb.reason, "w3") != NULL);
    CHECK(tb.finished > 0);
    printf("  (dead reason: %s)\n", tb.reason);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w5", 30, 3, &a, &err), CVB_TASK_FINISHED);
    CHECK_EQ_INT(cvb_store_task_begin(st, "nope.0.0", "w5", 30, 3, &a, &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w5", 0, 3, &a, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w5", 1, 0, &a, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "", 1, 3, &a, &err), CVB_EINVAL);
    cvb_store_close(st);
}

static void test_complete_and_finished(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "done");
    api_run(st, id, 2, "be-done");
    struct cvb_task t;
    make_task(&t, id, 1, "be-done", "auto", "");
    int a = 0;
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w1", 30, 3, &a, &err), 0);
    struct cvb_manifest m, mb;
    fixture_manifest(&m, id, "yolov8n.onnx");
    struct cvb_level_result r, back[4];
    fixture_level(&r, 5, 2.0); /* r.level is overwritten with the task's (1) */
    struct cvb_frame_sample fs[3] = {{.stream = 0, .frame = 1}, {.stream = 1, .frame = 2}};
    CHECK_EQ_INT(cvb_store_task_complete(st, t.id, a, &m, &r, fs, 3, &err), 0);
    /* done: a later delivery is FINISHED, a second complete FENCED. */
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w2", 30, 3, &a, &err), CVB_TASK_FINISHED);
    CHECK_EQ_INT(cvb_store_task_complete(st, t.id, a, &m, &r, NULL, 0, &err), CVB_TASK_FENCED);
    struct cvb_task tb;
    CHECK_EQ_INT(cvb_store_get_task(st, t.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "done") == 0);
    CHECK(tb.finished > 0);
    struct cvb_run_info info;
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "running") == 0); /* queued -> running at the first result */
    CHECK_EQ_INT(info.n_levels, 1);
    int n = 0;
    CHECK_EQ_INT(cvb_store_get_run_scenario(st, id, 0, &mb, back, 4, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK(strcmp(mb.model_path, m.model_path) == 0);
    CHECK_EQ_INT(back[0].level, 1);
    CHECK_NEAR(back[0].fps, r.fps, 0);
    /* The api run's scenario 0 manifest is now what cvb_store_get_run reads. */
    CHECK_EQ_INT(cvb_store_get_run(st, id, &mb, back, 4, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    bool has = false;
    char *json = NULL;
    CHECK_EQ_INT(cvb_store_get_scenario(st, id, 0, &json, &mb, &has, &err), 0);
    CHECK(has);
    CHECK(json != NULL && strcmp(json, scn_json) == 0); /* the scenario row is not replaced */
    free(json);
    cvb_store_close(st);
}

static void test_fail(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "fail");
    api_run(st, id, 1, "be-fail");
    struct cvb_task t, tb;
    make_task(&t, id, 0, "be-fail", "auto", "");
    int a = 0;
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w1", 30, 3, &a, &err), 0);
    CHECK_EQ_INT(cvb_store_task_fail(st, t.id, a + 1, "stale", &err), CVB_TASK_FENCED);
    CHECK_EQ_INT(cvb_store_task_fail(st, t.id, a, "video not found: x.mp4", &err), 0);
    CHECK_EQ_INT(cvb_store_get_task(st, t.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "failed") == 0);
    CHECK(strcmp(tb.reason, "video not found: x.mp4") == 0);
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w2", 30, 3, &a, &err), CVB_TASK_FINISHED);
    CHECK_EQ_INT(cvb_store_task_fail(st, "nope.0.0", 1, "x", &err), CVB_ENOTFOUND);
    cvb_store_close(st);
}

static void test_claim_capabilities_and_order(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "caps");
    const char *scn[1] = {scn_json};
    CHECK_EQ_INT(cvb_store_create_run(st, id, scn, 1, &err), 0);
    /* Added in this order (oldest first): amx, tagged gpu-a, plain auto, auto. */
    struct cvb_task t[4];
    make_task(&t[0], id, 0, "be-caps", "amx", "");
    make_task(&t[1], id, 1, "be-caps", "auto", "gpu-a");
    make_task(&t[2], id, 2, "be-caps", "auto", "");
    make_task(&t[3], id, 3, "be-caps", "avx2", "");
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(cvb_store_add_task(st, &t[i], NULL, &err), 0);
        sleep_s(0.002);
    }
    struct cvb_task_filter f;
    struct cvb_task got;
    bool redelivered = true;
    int dead = -1;
    /* Wrong backend: nothing. */
    filter(&f, "be-other", "auto avx2 amx", "gpu-a");
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w1", 30, 3, &got, &redelivered, &dead, &err),
                 CVB_ENOTFOUND);
    /* An avx2 worker without tags: skips amx and the tagged task, takes level 2. */
    filter(&f, "be-caps", "auto avx2", "");
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w1", 30, 3, &got, &redelivered, &dead, &err), 0);
    CHECK(strcmp(got.id, t[2].id) == 0);
    CHECK_EQ_INT(got.attempt, 1);
    CHECK(strcmp(got.state, "running") == 0);
    CHECK(strcmp(got.worker, "w1") == 0);
    CHECK(!redelivered);
    CHECK_EQ_INT(dead, 0);
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w1", 30, 3, &got, NULL, NULL, &err), 0);
    CHECK(strcmp(got.id, t[3].id) == 0);
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w1", 30, 3, &got, NULL, NULL, &err), CVB_ENOTFOUND);
    /* With the tag: the tagged task; with amx: the amx task. */
    filter(&f, "be-caps", "auto avx2", "x gpu-a");
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w2", 30, 3, &got, NULL, NULL, &err), 0);
    CHECK(strcmp(got.id, t[1].id) == 0);
    filter(&f, "be-caps", "auto avx2 amx", "");
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "w3", 30, 3, &got, NULL, NULL, &err), 0);
    CHECK(strcmp(got.id, t[0].id) == 0);

    /* cvb_task_matches itself. */
    filter(&f, "be-caps", "auto", "");
    CHECK(cvb_task_matches(&t[2], &f));
    CHECK(!cvb_task_matches(&t[0], &f));
    CHECK(!cvb_task_matches(&t[1], &f));
    cvb_store_close(st);
}

/* Claim takes over only expired leases; the old holder is fenced. */
static void test_lease_takeover_and_fencing(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "lease");
    api_run(st, id, 1, "be-lease");
    struct cvb_task_filter f;
    filter(&f, "be-lease", "auto", "");
    struct cvb_task a, b, tb;
    bool re = true;
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wA", 0.3, 3, &a, &re, NULL, &err), 0);
    CHECK(!re);
    /* Live lease: not claimable; renewing keeps it live. */
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wB", 0.3, 3, &b, &re, NULL, &err), CVB_ENOTFOUND);
    sleep_s(0.2);
    CHECK_EQ_INT(cvb_store_task_renew(st, a.id, a.attempt, 0.3, &err), 0);
    sleep_s(0.2);
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wB", 0.3, 3, &b, &re, NULL, &err), CVB_ENOTFOUND);
    /* Past the lease: B takes it over, attempt 2. */
    sleep_s(0.35);
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wB", 5, 3, &b, &re, NULL, &err), 0);
    CHECK(strcmp(b.id, a.id) == 0);
    CHECK_EQ_INT(b.attempt, 2);
    CHECK(re);
    /* A is fenced: renew, complete and fail all refuse, and write nothing. */
    CHECK_EQ_INT(cvb_store_task_renew(st, a.id, a.attempt, 0.3, &err), CVB_TASK_FENCED);
    struct cvb_level_result ra, rb, back[4];
    fixture_level(&ra, 0, 1.0);
    fixture_level(&rb, 0, 3.0);
    CHECK_EQ_INT(cvb_store_task_complete(st, a.id, a.attempt, NULL, &ra, NULL, 0, &err),
                 CVB_TASK_FENCED);
    CHECK_EQ_INT(cvb_store_task_fail(st, a.id, a.attempt, "x", &err), CVB_TASK_FENCED);
    int n = -1;
    CHECK_EQ_INT(cvb_store_get_levels(st, id, 0, back, 4, &n, &err), 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cvb_store_task_renew(st, b.id, b.attempt, 5, &err), 0);
    CHECK_EQ_INT(cvb_store_task_complete(st, b.id, b.attempt, NULL, &rb, NULL, 0, &err), 0);
    CHECK_EQ_INT(cvb_store_task_complete(st, a.id, a.attempt, NULL, &ra, NULL, 0, &err),
                 CVB_TASK_FENCED);
    CHECK_EQ_INT(cvb_store_get_levels(st, id, 0, back, 4, &n, &err), 0);
    CHECK_EQ_INT(n, 1); /* exactly one level row, B's */
    CHECK_NEAR(back[0].fps, rb.fps, 0);
    CHECK_EQ_INT(cvb_store_get_task(st, a.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "done") == 0);
    CHECK(strcmp(tb.worker, "wB") == 0);
    CHECK_EQ_INT(cvb_store_task_renew(st, b.id, b.attempt, 5, &err), CVB_TASK_FENCED);
    cvb_store_close(st);
}

/* An expired task with all its deliveries spent is marked dead by a claim. */
static void test_claim_marks_dead(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "dead");
    api_run(st, id, 2, "be-dead");
    struct cvb_task_filter f;
    filter(&f, "be-dead", "auto", "");
    struct cvb_task a, b, tb;
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wA", 0.2, 1, &a, NULL, NULL, &err), 0);
    CHECK_EQ_INT(a.level, 0);
    sleep_s(0.3);
    int dead = -1;
    bool re = true;
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wB", 5, 1, &b, &re, &dead, &err), 0);
    CHECK_EQ_INT(b.level, 1);
    CHECK(!re);
    CHECK_EQ_INT(dead, 1);
    CHECK_EQ_INT(cvb_store_get_task(st, a.id, &tb, &err), 0);
    CHECK(strcmp(tb.state, "dead") == 0);
    CHECK(strstr(tb.reason, "wA") != NULL);
    cvb_store_close(st);
}

static void test_cancel_run(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    char id[40];
    make_id(id, sizeof id, "cancel");
    api_run(st, id, 3, "be-cancel");
    struct cvb_task_filter f;
    filter(&f, "be-cancel", "auto", "");
    struct cvb_task a, tb, list[8];
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wA", 30, 3, &a, NULL, NULL, &err), 0);
    int aa = 0;
    struct cvb_task t2;
    make_task(&t2, id, 2, "be-cancel", "auto", "");
    CHECK_EQ_INT(cvb_store_task_begin(st, t2.id, "wC", 30, 3, &aa, &err), 0);
    struct cvb_level_result r;
    fixture_level(&r, 2, 1.0);
    CHECK_EQ_INT(cvb_store_task_complete(st, t2.id, aa, NULL, &r, NULL, 0, &err), 0);
    CHECK_EQ_INT(cvb_store_cancel_run(st, id, &err), 0);
    CHECK_EQ_INT(cvb_store_cancel_run(st, id, &err), CVB_TASK_FINISHED);
    CHECK_EQ_INT(cvb_store_cancel_run(st, "nope-run", &err), CVB_ENOTFOUND);
    struct cvb_run_info info;
    CHECK_EQ_INT(cvb_store_get_run_info(st, id, &info, &err), 0);
    CHECK(strcmp(info.status, "cancelled") == 0);
    CHECK(info.finished > 0);
    /* The running attempt learns it at renewal; the done task stays done. */
    CHECK_EQ_INT(cvb_store_task_renew(st, a.id, a.attempt, 30, &err), CVB_TASK_FENCED);
    CHECK_EQ_INT(cvb_store_task_complete(st, a.id, a.attempt, NULL, &r, NULL, 0, &err),
                 CVB_TASK_FENCED);
    int n = 0;
    CHECK_EQ_INT(cvb_store_list_tasks(st, id, NULL, list, 8, &n, &err), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(n == 3 && strcmp(list[0].state, "cancelled") == 0);
    CHECK(n == 3 && strcmp(list[1].state, "cancelled") == 0);
    CHECK(n == 3 && strcmp(list[2].state, "done") == 0);
    CHECK_EQ_INT(cvb_store_get_task(st, a.id, &tb, &err), 0);
    CHECK(strstr(tb.reason, "cancel") != NULL);
    CHECK_EQ_INT(cvb_store_task_claim(st, &f, "wB", 30, 3, &a, NULL, NULL, &err), CVB_ENOTFOUND);
    cvb_store_close(st);
}

static void test_count_and_list(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    int64_t c0[CVB_TASK_N_STATES], c1[CVB_TASK_N_STATES];
    CHECK_EQ_INT(cvb_store_count_tasks(st, c0, &err), 0);
    char id[40];
    make_id(id, sizeof id, "count");
    api_run(st, id, 4, "be-count");
    struct cvb_task t, list[8];
    int a = 0;
    make_task(&t, id, 1, "be-count", "auto", "");
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w", 30, 3, &a, &err), 0);
    make_task(&t, id, 2, "be-count", "auto", "");
    CHECK_EQ_INT(cvb_store_task_begin(st, t.id, "w", 30, 3, &a, &err), 0);
    CHECK_EQ_INT(cvb_store_task_fail(st, t.id, a, "bad", &err), 0);
    CHECK_EQ_INT(cvb_store_count_tasks(st, c1, &err), 0);
    CHECK(strcmp(cvb_task_states[0], "queued") == 0);
    CHECK(strcmp(cvb_task_states[5], "cancelled") == 0);
    CHECK_EQ_INT(c1[0] - c0[0], 2); /* queued */
    CHECK_EQ_INT(c1[1] - c0[1], 1); /* running */
    CHECK_EQ_INT(c1[3] - c0[3], 1); /* failed */
    int n = 0;
    CHECK_EQ_INT(cvb_store_list_tasks(st, id, "queued", list, 8, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    CHECK(n == 2 && list[0].level == 0 && list[1].level == 3);
    CHECK_EQ_INT(cvb_store_list_tasks(st, id, NULL, list, 3, &n, &err), 0);
    CHECK_EQ_INT(n, 3); /* bounded by max */
    CHECK_EQ_INT(cvb_store_list_tasks(st, id, "nonsense", list, 3, &n, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_store_list_tasks(st, NULL, "failed", list, 8, &n, &err), 0);
    CHECK(n >= 1);
    cvb_store_close(st);
}

static void test_workers(void) {
    struct cvb_store *st = open_store();
    if (st == NULL) return;
    struct cvb_err err = {0};
    struct cvb_worker_info w, out[16];
    memset(&w, 0, sizeof w);
    make_id(w.id, sizeof w.id, "worker");
    snprintf(w.host, sizeof w.host, "host-a");
    snprintf(w.backend, sizeof w.backend, "cpu");
    snprintf(w.isa, sizeof w.isa, "avx512_vnni");
    snprintf(w.isas, sizeof w.isas, "auto avx2 avx512 avx512_vnni");
    snprintf(w.tags, sizeof w.tags, "rack1 gpu-a");
    snprintf(w.cpu_model, sizeof w.cpu_model, "Xeon");
    w.cores = 16;
    w.mem_bytes = 64LL << 30;
    snprintf(w.state, sizeof w.state, "busy");
    snprintf(w.task_id, sizeof w.task_id, "run.0.1");
    snprintf(w.metrics_url, sizeof w.metrics_url, "http://127.0.0.1:9100/metrics");
    CHECK_EQ_INT(cvb_store_put_worker(st, &w, &err), 0);
    struct cvb_worker_info w2 = w;
    make_id(w2.id, sizeof w2.id, "worker");
    snprintf(w2.state, sizeof w2.state, "idle");
    w2.task_id[0] = '\0';
    sleep_s(0.3);
    CHECK_EQ_INT(cvb_store_put_worker(st, &w2, &err), 0);
    int n = 0;
    CHECK_EQ_INT(cvb_store_list_workers(st, 0.2, out, 16, &n, &err), 0);
    CHECK(n >= 2);
    if (n >= 2) {
        CHECK(strcmp(out[0].id, w2.id) == 0); /* most recently seen first */
        CHECK(strcmp(out[0].state, "idle") == 0);
        CHECK(strcmp(out[1].id, w.id) == 0);
        CHECK(strcmp(out[1].state, "lost") == 0); /* unseen for > 0.2 s */
        CHECK(strcmp(out[1].tags, "rack1 gpu-a") == 0);
        CHECK_EQ_INT(out[1].mem_bytes, 64LL << 30);
        CHECK(out[1].started > 0 && out[1].last_seen >= out[1].started);
    }
    /* A heartbeat brings it back; a long lost_after sees it busy. */
    CHECK_EQ_INT(cvb_store_put_worker(st, &w, &err), 0);
    CHECK_EQ_INT(cvb_store_list_workers(st, 10, out, 16, &n, &err), 0);
    CHECK(n >= 2 && strcmp(out[0].id, w.id) == 0 && strcmp(out[0].state, "busy") == 0);
    CHECK(n >= 2 && strcmp(out[0].task_id, "run.0.1") == 0);
    CHECK_EQ_INT(cvb_store_list_workers(st, 10, out, 1, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    snprintf(w.state, sizeof w.state, "dancing");
    CHECK_EQ_INT(cvb_store_put_worker(st, &w, &err), CVB_EINVAL);
    cvb_store_close(st);
}

/* ---- races ------------------------------------------------------------------------------- */

struct racer {
    struct cvb_store *st; /* shared handle, or NULL: open one */
    const char *be;
    char worker[16];
    int rc;
    struct cvb_task got;
    pthread_barrier_t *go;
};

static void *race_claim(void *arg) {
    struct racer *r = arg;
    struct cvb_err err = {0};
    struct cvb_store *own = NULL;
    struct cvb_store *st = r->st;
    if (st == NULL) {
        char path[160];
        snprintf(path, sizeof path, "%s", use_pg ? pg_url : "");
        if (!use_pg) snprintf(path, sizeof path, "%s/race.db", dir);
        if (cvb_store_open(path, &own, &err) < 0) {
            r->rc = -100;
            pthread_barrier_wait(r->go);
            return NULL;
        }
        st = own;
    }
    struct cvb_task_filter f;
    filter(&f, r->be, "auto", "");
    pthread_barrier_wait(r->go);
    r->rc = cvb_store_task_claim(st, &f, r->worker, 30, 3, &r->got, NULL, NULL, &err);
    if (r->rc < 0 && r->rc != CVB_ENOTFOUND) fprintf(stderr, "  claim: %s\n", err.msg);
    cvb_store_close(own);
    return NULL;
}

/* Open the race store (path[160]: the file or URL the racers open too) and
 * create in it a run 'id' (id[40]) of n tasks needing backend 'be' (be[16]),
 * a backend no other test uses. NULL (checked) if it cannot be opened. */
static struct cvb_store *race_setup(const char *what, int n, char *path, char *id, char *be) {
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    if (use_pg)
        snprintf(path, 160, "%s", pg_url);
    else
        snprintf(path, 160, "%s/race.db", dir);
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) return NULL;
    make_id(id, 40, what);
    snprintf(be, 16, "be-%.6s%d", what, uniq);
    api_run(st, id, n, be);
    return st;
}

/* Two threads claim the only task at once: exactly one gets it. Once with
 * one handle each (two connections, as two processes), once sharing one. */
static void race_once(bool shared) {
    struct cvb_err err = {0};
    char path[160], id[40], be[16];
    struct cvb_store *st = race_setup("race", 1, path, id, be);
    if (st == NULL) return;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2);
    struct racer r[2] = {{.st = shared ? st : NULL, .be = be, .worker = "r0", .go = &go},
                         {.st = shared ? st : NULL, .be = be, .worker = "r1", .go = &go}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, race_claim, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    int wins = (r[0].rc == 0) + (r[1].rc == 0);
    int lost = (r[0].rc == CVB_ENOTFOUND) + (r[1].rc == CVB_ENOTFOUND);
    CHECK_EQ_INT(wins, 1);
    CHECK_EQ_INT(lost, 1);
    struct cvb_task tb;
    char tid[CVB_TASK_ID_MAX];
    snprintf(tid, sizeof tid, "%s.0.0", id);
    CHECK_EQ_INT(cvb_store_get_task(st, tid, &tb, &err), 0);
    CHECK_EQ_INT(tb.attempt, 1);
    cvb_store_close(st);
}

static void test_claim_race(void) {
    for (int i = 0; i < 5; i++) {
        race_once(false);
        race_once(true);
    }
}

/* Four processes, each with its own handle (its own connection / file
 * handle), claim from one run of 12 tasks until none is left: every task is
 * taken exactly once (the sum of the claims is 12 and each task ends at
 * attempt 1). Each child reports how many it took in its exit status. */
static void test_claim_race_processes(void) {
    enum { N_PROC = 4, N_TASKS = 12 };
    struct cvb_err err = {0};
    char path[160], id[40], be[16];
    struct cvb_store *st = race_setup("prace", N_TASKS, path, id, be);
    if (st == NULL) return;
    fflush(NULL);
    pid_t pids[N_PROC];
    for (int i = 0; i < N_PROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            struct cvb_store *own = NULL;
            struct cvb_err e = {0};
            if (cvb_store_open(path, &own, &e) < 0) _exit(100);
            struct cvb_task_filter f;
            filter(&f, be, "auto", "");
            char worker[16];
            snprintf(worker, sizeof worker, "p%d", i);
            int took = 0;
            for (;;) {
                struct cvb_task t;
                int rc = cvb_store_task_claim(own, &f, worker, 30, 3, &t, NULL, NULL, &e);
                if (rc == CVB_ENOTFOUND) break;
                if (rc != 0) {
                    fprintf(stderr, "  claim in process %d: %s\n", i, e.msg);
                    _exit(101);
                }
                took++;
            }
            cvb_store_close(own);
            _exit(took);
        }
    }
    int total = 0;
    for (int i = 0; i < N_PROC; i++) {
        int status = 0;
        if (pids[i] < 0 || waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status)) {
            CHECK(0);
            continue;
        }
        CHECK(WEXITSTATUS(status) <= N_TASKS);
        total += WEXITSTATUS(status);
    }
    CHECK_EQ_INT(total, N_TASKS);
    struct cvb_task t[N_TASKS + 1];
    int n = 0;
    CHECK_EQ_INT(cvb_store_list_tasks(st, id, "running", t, N_TASKS + 1, &n, &err), 0);
    CHECK_EQ_INT(n, N_TASKS);
    for (int i = 0; i < n; i++)
        CHECK_EQ_INT(t[i].attempt, 1);
    cvb_store_close(st);
}

/* ---- main -------------------------------------------------------------------------------- */

static void run_suite(void) {
    RUN(test_schema_and_cli_run);
    RUN(test_api_run_lifecycle);
    RUN(test_add_and_begin);
    RUN(test_complete_and_finished);
    RUN(test_fail);
    RUN(test_claim_capabilities_and_order);
    RUN(test_lease_takeover_and_fencing);
    RUN(test_claim_marks_dead);
    RUN(test_cancel_run);
    RUN(test_count_and_list);
    RUN(test_workers);
    RUN(test_claim_race);
    RUN(test_claim_race_processes);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cvb-test-contract-XXXXXX");
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    snprintf(prefix, sizeof prefix, "%dx%ld", (int)getpid(), (long)time(NULL));
    printf("== SQLite (%s)\n", dir);
    run_suite();
    pg_url = getenv("CVB_TEST_PG_URL");
    if (pg_url != NULL && pg_url[0] != '\0') {
        printf("== PostgreSQL (CVB_TEST_PG_URL)\n");
        use_pg = true;
        run_suite();
    } else {
        printf("== PostgreSQL skipped: CVB_TEST_PG_URL is not set (the PostgreSQL harness sets "
               "it)\n");
    }
    int rc = test_summary();
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
