/* SPDX-License-Identifier: Apache-2.0 */
/* The SQLite results store: a run with three levels and frame samples
 * round-trips exactly; "latest" picks the newest run; a database with a
 * newer schema, a bad path or a non-database file is refused with an error
 * naming the file; writes for unknown runs are refused; a version-1 file
 * (the exact v1 DDL, as the v1 cvbench wrote it) is migrated to version 2
 * with its runs, levels and frames intact. */
#include "cvb/store.h"
#include "report-fixture.h"
#include "report/result_json.h"
#include "test.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

static void db_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

static struct cvb_level_result lv[3], back[8];

static void test_round_trip(void) {
    char path[128];
    db_path(path, sizeof path, "rt.db");
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    struct cvb_manifest m, mb;
    fixture_manifest(&m, "20261126-213000-aaaaaa", "yolov8n.onnx");
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) return;
    CHECK_EQ_INT(cvb_store_put_run(st, &m, &err), 0);
    for (int i = 0; i < 3; i++) {
        fixture_level(&lv[i], i, 1.0);
        CHECK_EQ_INT(cvb_store_put_level(st, m.run_id, &lv[i], &err), 0);
    }
    /* Storing a level again replaces it. */
    CHECK_EQ_INT(cvb_store_put_level(st, m.run_id, &lv[1], &err), 0);
    struct cvb_frame_sample fs[50];
    for (int k = 0; k < 50; k++)
        fs[k] = (struct cvb_frame_sample){.stream = k % 2,
                                          .frame = k / 2,
                                          .t_s = 0.05 * k,
                                          .latency_ms = 20.0f + k,
                                          .stage_ms = {1, 2, 3, 10.5f, 0.5f}};
    CHECK_EQ_INT(cvb_store_put_frames(st, m.run_id, 0, fs, 50, &err), 0);
    CHECK_EQ_INT(cvb_store_finish_run(st, m.run_id, "done", &err), 0);
    cvb_store_close(st);

    /* Reopen: everything comes back from the file. */
    st = NULL;
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) return;
    int n = -1;
    memset(&mb, 0x55, sizeof mb);
    memset(back, 0x55, sizeof back);
    CHECK_EQ_INT(cvb_store_get_run(st, m.run_id, &mb, back, 8, &n, &err), 0);
    CHECK_EQ_INT(n, 3);
    CHECK(strcmp(mb.run_id, m.run_id) == 0);
    CHECK(strcmp(mb.scenario_json, m.scenario_json) == 0);
    CHECK(mb.synthetic_weights);
    CHECK_NEAR(mb.model_gflops, 8.7, 0);
    CHECK(memcmp(&mb, &m, sizeof m) == 0);
    for (int i = 0; i < 3 && i < n; i++) {
        CHECK_EQ_INT(back[i].streams, lv[i].streams);
        CHECK_NEAR(back[i].fps, lv[i].fps, 0);
        CHECK_NEAR(back[i].latency_p99_ms, lv[i].latency_p99_ms, 0);
        CHECK_NEAR(back[i].stages[CVB_STAGE_INFER].share, lv[i].stages[CVB_STAGE_INFER].share, 0);
        CHECK_EQ_INT(back[i].n_windows, lv[i].n_windows);
        CHECK_NEAR(back[i].window_fps[2], lv[i].window_fps[2], 0);
        CHECK_EQ_INT(back[i].n_rss, lv[i].n_rss);
        CHECK_NEAR(back[i].rss_t_s[7], lv[i].rss_t_s[7], 0);
        CHECK_EQ_INT(back[i].rss_bytes[7], lv[i].rss_bytes[7]);
        CHECK(strcmp(back[i].bottleneck, lv[i].bottleneck) == 0);
        CHECK_EQ_INT(back[i].stable, lv[i].stable);
        CHECK_EQ_INT(back[i].accuracy_frames, lv[i].accuracy_frames);
        CHECK_NEAR(back[i].accuracy_f1, lv[i].accuracy_f1, 0);
        CHECK_NEAR(back[i].accuracy_mean_iou, lv[i].accuracy_mean_iou, 0);
        CHECK_EQ_INT(back[i].accuracy_matched, lv[i].accuracy_matched);
        CHECK_EQ_INT(back[i].accuracy_ref_boxes, lv[i].accuracy_ref_boxes);
        CHECK_EQ_INT(back[i].accuracy_test_boxes, lv[i].accuracy_test_boxes);
        CHECK(memcmp(&back[i], &lv[i], sizeof lv[i]) == 0);
    }
    /* max_levels bounds what is read. */
    CHECK_EQ_INT(cvb_store_get_run(st, m.run_id, &mb, back, 2, &n, &err), 0);
    CHECK_EQ_INT(n, 2);
    cvb_store_close(st);

    /* The columns beside the JSON are filled too. */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "SELECT (SELECT count(*) FROM frames WHERE run_id = ?1),"
                                    " (SELECT status FROM runs WHERE id = ?1),"
                                    " (SELECT finished_at IS NOT NULL FROM runs WHERE id = ?1),"
                                    " (SELECT sum(streams) FROM levels WHERE run_id = ?1),"
                                    " (SELECT inference_ms FROM levels WHERE run_id = ?1 AND "
                                    "level = 2)",
                                    -1, &s, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(s, 1, m.run_id, -1, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(s, 0), 50);
    CHECK(strcmp((const char *)sqlite3_column_text(s, 1), "done") == 0);
    CHECK_EQ_INT(sqlite3_column_int(s, 2), 1);
    CHECK_EQ_INT(sqlite3_column_int(s, 3), 7);
    CHECK_NEAR(sqlite3_column_double(s, 4), lv[2].stages[CVB_STAGE_INFER].mean_ms, 1e-12);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_latest_and_frame_cap(void) {
    char path[128];
    db_path(path, sizeof path, "latest.db");
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    struct cvb_manifest m1, m2, mb;
    fixture_manifest(&m1, "run-old", "a.onnx");
    fixture_manifest(&m2, "run-new", "b.onnx");
    snprintf(m2.started_at, sizeof m2.started_at, "2026-11-27T08:00:00Z");
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) return;
    CHECK_EQ_INT(cvb_store_put_run(st, &m2, &err), 0);
    CHECK_EQ_INT(cvb_store_put_run(st, &m1, &err), 0);
    /* The same id twice is refused. */
    CHECK_EQ_INT(cvb_store_put_run(st, &m1, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "run-old") != NULL);
    int n = -1;
    CHECK_EQ_INT(cvb_store_get_run(st, "latest", &mb, back, 8, &n, &err), 0);
    CHECK(strcmp(mb.run_id, "run-new") == 0);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cvb_store_get_run(st, NULL, &mb, back, 8, &n, &err), 0);
    CHECK(strcmp(mb.run_id, "run-new") == 0);

    /* More samples than the cap: evenly decimated to the cap. */
    int big = CVB_MAX_FRAME_SAMPLES * 2 + 7;
    struct cvb_frame_sample *fs = calloc((size_t)big, sizeof *fs);
    if (fs == NULL) return;
    for (int k = 0; k < big; k++)
        fs[k] = (struct cvb_frame_sample){.stream = 0, .frame = k};
    CHECK_EQ_INT(cvb_store_put_frames(st, "run-new", 0, fs, big, &err), 0);
    free(fs);
    cvb_store_close(st);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    sqlite3_open(path, &db);
    sqlite3_prepare_v2(db, "SELECT count(*) FROM frames", -1, &s, NULL);
    CHECK_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(s, 0), CVB_MAX_FRAME_SAMPLES);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void test_unknown_run(void) {
    char path[128];
    db_path(path, sizeof path, "unknown.db");
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) return;
    struct cvb_manifest m;
    int n = 0;
    CHECK_EQ_INT(cvb_store_get_run(st, "latest", &m, back, 8, &n, &err), CVB_ENOTFOUND);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK_EQ_INT(cvb_store_get_run(st, "nope", &m, back, 8, &n, &err), CVB_ENOTFOUND);
    CHECK(strstr(err.msg, "nope") != NULL);
    fixture_level(&lv[0], 0, 1.0);
    CHECK_EQ_INT(cvb_store_put_level(st, "nope", &lv[0], &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_put_frames(st, "nope", 0, NULL, 0, &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_finish_run(st, "nope", "done", &err), CVB_ENOTFOUND);
    CHECK_EQ_INT(cvb_store_finish_run(st, "nope", "weird", &err), CVB_EINVAL);
    /* A failed write leaves no transaction open: the next write works. */
    fixture_manifest(&m, "after-failure", "x.onnx");
    m.started_at[0] = '\0'; /* filled in by the store */
    CHECK_EQ_INT(cvb_store_put_run(st, &m, &err), 0);
    CHECK_EQ_INT(cvb_store_put_level(st, "after-failure", &lv[0], &err), 0);
    CHECK_EQ_INT(cvb_store_get_run(st, "after-failure", &m, back, 8, &n, &err), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(strlen(m.started_at), 20); /* 2026-11-26T21:30:00Z */
    cvb_store_close(st);
}

static void test_newer_schema_refused(void) {
    char path[128];
    db_path(path, sizeof path, "newer.db");
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    cvb_store_close(st);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    st = (struct cvb_store *)1;
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), CVB_EUNSUPPORTED);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "99") != NULL);
    printf("  (message: %s)\n", err.msg);
}


/* The version-1 schema, verbatim from src/store/sqlite.c before version 2. */
static const char v1_schema[] =
    "CREATE TABLE schema_version (version INTEGER NOT NULL);"
    "INSERT INTO schema_version (version) VALUES (1);"
    "CREATE TABLE runs ("
    " id TEXT PRIMARY KEY,"
    " started_at TEXT NOT NULL,"
    " finished_at TEXT,"
    " status TEXT NOT NULL,"
    " cvbench_version TEXT, git_commit TEXT, hostname TEXT, cpu_model TEXT,"
    " model_path TEXT, model_sha256 TEXT, synthetic_weights INTEGER NOT NULL DEFAULT 0,"
    " backend TEXT, precision TEXT, mode TEXT, execution TEXT, pacing TEXT,"
    " manifest_json TEXT NOT NULL);"
    "CREATE INDEX runs_started_at ON runs (started_at);"
    "CREATE TABLE levels ("
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " level INTEGER NOT NULL,"
    " streams INTEGER NOT NULL,"
    " frames BIGINT, fps DOUBLE PRECISION, fps_per_stream DOUBLE PRECISION,"
    " latency_p50_ms DOUBLE PRECISION, latency_p90_ms DOUBLE PRECISION,"
    " latency_p95_ms DOUBLE PRECISION, latency_p99_ms DOUBLE PRECISION,"
    " latency_max_ms DOUBLE PRECISION,"
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION,"
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"
    " cpu_process_pct DOUBLE PRECISION, cpu_system_pct DOUBLE PRECISION,"
    " rss_peak_bytes BIGINT, stable INTEGER, bottleneck TEXT, status TEXT NOT NULL,"
    " result_json TEXT NOT NULL,"
    " PRIMARY KEY (run_id, level));"
    "CREATE TABLE frames ("
    " run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
    " level INTEGER NOT NULL, stream INTEGER NOT NULL, frame BIGINT NOT NULL,"
    " t_s DOUBLE PRECISION, latency_ms DOUBLE PRECISION,"
    " decode_ms DOUBLE PRECISION, preprocess_ms DOUBLE PRECISION, queue_ms DOUBLE PRECISION,"
    " inference_ms DOUBLE PRECISION, postprocess_ms DOUBLE PRECISION,"
    " PRIMARY KEY (run_id, level, stream, frame));";

/* Write a v1 run (the rows the v1 store wrote) into an open v1 database. */
static void v1_put_run(sqlite3 *db, const struct cvb_manifest *m, const char *finished_at) {
    struct cvb_err err = {0};
    char *json = NULL;
    sqlite3_stmt *s = NULL;
    CHECK_EQ_INT(cvb__manifest_to_json(m, CVB__MANIFEST_RAW_SCENARIO, &json, &err), 0);
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "INSERT INTO runs (id, started_at, finished_at, status, "
                                    "model_path, backend, manifest_json) VALUES (?, ?, ?, 'done', "
                                    "?, ?, ?)",
                                    -1, &s, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(s, 1, m->run_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, m->started_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, finished_at, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, m->model_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, m->backend, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, json, -1, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(s), SQLITE_DONE);
    sqlite3_finalize(s);
    free(json);
    for (int i = 0; i < 3; i++) {
        fixture_level(&lv[i], i, 1.5);
        CHECK_EQ_INT(cvb__level_to_json(&lv[i], &json, &err), 0);
        CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                        "INSERT INTO levels (run_id, level, streams, fps, status, "
                                        "result_json) VALUES (?, ?, ?, ?, 'ok', ?)",
                                        -1, &s, NULL),
                     SQLITE_OK);
        sqlite3_bind_text(s, 1, m->run_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 2, i);
        sqlite3_bind_int(s, 3, lv[i].streams);
        sqlite3_bind_double(s, 4, lv[i].fps);
        sqlite3_bind_text(s, 5, json, -1, SQLITE_STATIC);
        CHECK_EQ_INT(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
        free(json);
    }
    char sql[256];
    for (int k = 0; k < 4; k++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO frames (run_id, level, stream, frame, t_s, latency_ms) VALUES "
                 "('%s', 1, 0, %d, %g, 20)",
                 m->run_id, k, 0.1 * k);
        CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
}

static int64_t query_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    else
        fprintf(stderr, "  query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void test_migrate_v1(void) {
    char path[128];
    db_path(path, sizeof path, "v1.db");
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
    struct cvb_manifest m1, m2, mb;
    fixture_manifest(&m1, "20261126-213000-aaaaaa", "yolov8n.onnx");
    fixture_manifest(&m2, "20261127-080000-bbbbbb", "yolov8s.onnx");
    snprintf(m2.started_at, sizeof m2.started_at, "2026-11-27T08:00:00Z");
    v1_put_run(db, &m2, "2026-11-27T08:05:00Z");
    v1_put_run(db, &m1, "2026-11-26T21:35:00Z"); /* older, inserted last */
    sqlite3_close(db);

    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    if (st == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    int n = -1;
    memset(back, 0x55, sizeof back);
    CHECK_EQ_INT(cvb_store_get_run(st, m1.run_id, &mb, back, 8, &n, &err), 0);
    CHECK(memcmp(&mb, &m1, sizeof m1) == 0);
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < n && i < 3; i++)
        CHECK(memcmp(&back[i], &lv[i], sizeof lv[i]) == 0);
    /* "latest" is still the newest by start time. */
    CHECK_EQ_INT(cvb_store_get_run(st, "latest", &mb, back, 8, &n, &err), 0);
    CHECK(strcmp(mb.run_id, m2.run_id) == 0);
    struct cvb_run_info info;
    CHECK_EQ_INT(cvb_store_get_run_info(st, m1.run_id, &info, &err), 0);
    CHECK(strcmp(info.origin, "cli") == 0);
    CHECK(strcmp(info.status, "done") == 0);
    CHECK_EQ_INT(info.n_scenarios, 1);
    CHECK_EQ_INT(info.n_levels, 3);
    CHECK_NEAR(info.created, 1795728600.0, 0);          /* 2026-11-26T21:30:00Z */
    CHECK_NEAR(info.finished, 1795728600.0 + 300, 0);   /* finished_at */
    char *json = NULL;
    bool has = false;
    CHECK_EQ_INT(cvb_store_get_scenario(st, m1.run_id, 0, &json, &mb, &has, &err), 0);
    CHECK(json != NULL && strcmp(json, m1.scenario_json) == 0);
    CHECK(has && strcmp(mb.model_path, m1.model_path) == 0);
    free(json);
    /* The migrated file takes v2 writes: a new level of scenario 0 and tasks. */
    fixture_level(&lv[0], 3, 1.0);
    CHECK_EQ_INT(cvb_store_put_level(st, m1.run_id, &lv[0], &err), 0);
    struct cvb_task t = {.scenario = 0, .level = 4, .streams = 16};
    snprintf(t.id, sizeof t.id, "%s.0.4", m1.run_id);
    snprintf(t.run_id, sizeof t.run_id, "%s", m1.run_id);
    snprintf(t.req_backend, sizeof t.req_backend, "cpu");
    snprintf(t.req_isa, sizeof t.req_isa, "auto");
    CHECK_EQ_INT(cvb_store_add_task(st, &t, NULL, &err), 0);
    cvb_store_close(st);

    CHECK_EQ_INT(query_int(path, "SELECT max(version) FROM schema_version"), 2);
    CHECK_EQ_INT(query_int(path, "SELECT count(*) FROM schema_version"), 1);
    CHECK_EQ_INT(query_int(path, "SELECT count(*) FROM frames WHERE scenario = 0 AND level = 1"), 8);
    CHECK_EQ_INT(query_int(path, "SELECT count(*) FROM levels WHERE scenario = 0"), 7);
    CHECK_EQ_INT(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v2'"), 0);
    /* Opening again is a no-op. */
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), 0);
    cvb_store_close(st);
    CHECK_EQ_INT(query_int(path, "SELECT count(*) FROM scenarios"), 2);
}

static void test_bad_paths(void) {
    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    CHECK(cvb_store_open("/nonexistent-dir-cvb/sub/x.db", &st, &err) < 0);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, "/nonexistent-dir-cvb/sub/x.db") != NULL);
    printf("  (message: %s)\n", err.msg);

    char path[128];
    db_path(path, sizeof path, "not-a-db.db");
    FILE *f = fopen(path, "w");
    if (f == NULL) return;
    fputs("this is plain text, not an SQLite database, padded to more than one header....\n"
          "................................................................................\n",
          f);
    fclose(f);
    CHECK_EQ_INT(cvb_store_open(path, &st, &err), CVB_EFORMAT);
    CHECK(st == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    printf("  (message: %s)\n", err.msg);
    CHECK(cvb_store_open("", &st, &err) < 0);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cvb-test-store-XXXXXX");
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    RUN(test_round_trip);
    RUN(test_latest_and_frame_cap);
    RUN(test_unknown_run);
    RUN(test_newer_schema_refused);
    RUN(test_bad_paths);
    RUN(test_migrate_v1);
    int rc = test_summary();
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
