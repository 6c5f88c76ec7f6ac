/* SPDX-License-Identifier: Apache-2.0 */
/* The reports of a run: the JSON report parses and has every field the
 * issue lists; the CSV has a header and one row per level; the HTML page is
 * self-contained (four inline SVG charts, no http URL) and escapes what it
 * prints; the console table stays within 160 columns; the progress line has
 * its TTY and plain forms; compare prints a delta row per matched level.
 * Set CVB_TEST_REPORT_HTML=FILE to also keep a sample page (for a look in a
 * browser). */
#include "cvb/report.h"
#include "report-fixture.h"
#include "report/result_json.h"
#include "test.h"

#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];
static struct cvb_manifest man;
static struct cvb_level_result lv[4], lv2[4];

static void path_in(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL) buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void setup(void) {
    fixture_manifest(&man, "20261126-213000-aaaaaa", "yolov8n.onnx");
    for (int i = 0; i < 3; i++)
        fixture_level(&lv[i], i, 1.0);
}

#define HAS(obj, key) CHECK(json_object_get(obj, key) != NULL)

static void test_json(void) {
    char path[128];
    path_in(path, sizeof path, "r.json");
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_report_json(path, &man, lv, 3, &err), 0);
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    CHECK(root != NULL);
    if (root == NULL) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return;
    }
    json_t *m = json_object_get(root, "manifest");
    CHECK(json_is_object(m));
    CHECK(json_is_true(json_object_get(m, "synthetic_weights")));
    CHECK(json_is_object(json_object_get(m, "scenario")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(m, "scenario"), "frames")),
                 210);
    CHECK(json_object_get(m, "scenario_json") == NULL);
    static const char *const mkeys[] = {
        "run_id",       "started_at", "cvbench_version", "git_commit",      "hostname",
        "cpu_model",    "cpu_flags",  "n_cpus",          "mem_total_bytes", "isa",
        "threads",      "libraries",  "model_path",      "model_sha256",    "model_input",
        "model_gflops", "video_path", "video_desc",      "backend",         "precision",
        "mode",         "execution",  "pacing",          "target_fps"};
    for (size_t k = 0; k < CVB_ARRAY_LEN(mkeys); k++)
        HAS(m, mkeys[k]);
    CHECK(json_is_string(json_object_get(root, "note")));
    CHECK(strstr(json_string_value(json_object_get(root, "note")), "synthetic") != NULL);

    json_t *levels = json_object_get(root, "levels");
    CHECK_EQ_INT(json_array_size(levels), 3);
    for (size_t i = 0; i < json_array_size(levels); i++) {
        json_t *l = json_array_get(levels, i);
        static const char *const keys[] = {"streams",
                                           "frames",
                                           "warmup_frames",
                                           "duration_s",
                                           "fps",
                                           "fps_per_stream",
                                           "fps_per_stream_min",
                                           "latency_ms",
                                           "stages",
                                           "cpu",
                                           "engine_busy_pct",
                                           "rss_peak_bytes",
                                           "rss_start_bytes",
                                           "rss_end_bytes",
                                           "mem_estimate_bytes",
                                           "dropped_frames",
                                           "late_frames",
                                           "stable",
                                           "windows",
                                           "bottleneck",
                                           "status",
                                           "error",
                                           "rss_timeline"};
        for (size_t k = 0; k < CVB_ARRAY_LEN(keys); k++)
            HAS(l, keys[k]);
        CHECK_EQ_INT(json_integer_value(json_object_get(l, "streams")), lv[i].streams);
        CHECK_NEAR(json_number_value(json_object_get(l, "fps")), lv[i].fps, 1e-9);
        json_t *lat = json_object_get(l, "latency_ms");
        static const char *const lk[] = {"p50", "p90", "p95", "p99", "max", "mean"};
        for (size_t k = 0; k < CVB_ARRAY_LEN(lk); k++)
            CHECK(json_is_number(json_object_get(lat, lk[k])));
        CHECK_NEAR(json_number_value(json_object_get(lat, "p99")), lv[i].latency_p99_ms, 1e-9);
        json_t *st = json_object_get(l, "stages");
        static const char *const sk[] = {"decode", "preprocess", "queue", "inference",
                                         "postprocess"};
        for (size_t k = 0; k < CVB_ARRAY_LEN(sk); k++) {
            json_t *s = json_object_get(st, sk[k]);
            CHECK(json_is_number(json_object_get(s, "mean_ms")));
            CHECK(json_is_number(json_object_get(s, "p99_ms")));
            CHECK(json_is_number(json_object_get(s, "share")));
        }
        json_t *cpu = json_object_get(l, "cpu");
        CHECK(json_is_number(json_object_get(cpu, "process_pct")));
        CHECK(json_is_number(json_object_get(cpu, "system_pct")));
        CHECK(json_is_boolean(json_object_get(l, "stable")));
        json_t *w = json_object_get(l, "windows");
        CHECK(json_is_number(json_object_get(w, "window_s")));
        CHECK_EQ_INT(json_integer_value(json_object_get(w, "window_frames")), 50);
        CHECK_NEAR(json_number_value(json_object_get(w, "cv_pct")), lv[i].window_cv_pct, 1e-9);
        CHECK_NEAR(json_number_value(json_object_get(w, "drift_pct")), lv[i].window_drift_pct,
                   1e-9);
        CHECK_EQ_INT(json_array_size(json_object_get(w, "fps")), lv[i].n_windows);
        HAS(w, "min");
        HAS(w, "max");
        json_t *rss = json_object_get(l, "rss_timeline");
        CHECK_EQ_INT(json_array_size(json_object_get(rss, "t_s")), lv[i].n_rss);
        CHECK_EQ_INT(json_array_size(json_object_get(rss, "bytes")), lv[i].n_rss);
        /* accuracy: an object where measured (levels 0, 1), null where not (2) */
        json_t *acc = json_object_get(l, "accuracy");
        HAS(l, "accuracy");
        if (lv[i].accuracy_frames > 0) {
            CHECK(json_is_object(acc));
            CHECK_EQ_INT(json_integer_value(json_object_get(acc, "frames")), 16);
            CHECK_NEAR(json_number_value(json_object_get(acc, "f1")), lv[i].accuracy_f1, 1e-12);
            CHECK_NEAR(json_number_value(json_object_get(acc, "mean_iou")),
                       lv[i].accuracy_mean_iou, 1e-12);
            CHECK_EQ_INT(json_integer_value(json_object_get(acc, "matched")),
                         lv[i].accuracy_matched);
            CHECK_EQ_INT(json_integer_value(json_object_get(acc, "ref_boxes")),
                         lv[i].accuracy_ref_boxes);
            CHECK_EQ_INT(json_integer_value(json_object_get(acc, "test_boxes")),
                         lv[i].accuracy_test_boxes);
        } else {
            CHECK(json_is_null(acc));
        }
    }
    json_decref(root);

    /* Trained weights: no note. A non-finite number is written as null. */
    struct cvb_manifest m2 = man;
    m2.synthetic_weights = false;
    struct cvb_level_result *l2 = &lv2[0];
    *l2 = lv[0];
    l2->latency_p99_ms = NAN;
    CHECK_EQ_INT(cvb_report_json(path, &m2, l2, 1, &err), 0);
    root = json_load_file(path, 0, &je);
    CHECK(root != NULL && json_object_get(root, "note") == NULL);
    json_t *p99 = json_object_get(
        json_object_get(json_array_get(json_object_get(root, "levels"), 0), "latency_ms"), "p99");
    CHECK(json_is_null(p99));
    json_decref(root);
}

static void test_csv(void) {
    char path[128];
    path_in(path, sizeof path, "r.csv");
    struct cvb_err err = {0};
    struct cvb_level_result l[3];
    memcpy(l, lv, sizeof l);
    snprintf(l[2].bottleneck, sizeof l[2].bottleneck, "preprocess-bound, \"engine\" idle 60 %%");
    CHECK_EQ_INT(cvb_report_csv(path, &man, l, 3, &err), 0);
    char *text = slurp(path);
    CHECK(text != NULL);
    if (text == NULL) return;
    CHECK_EQ_INT(count(text, "\n"), 4);
    /* Every row has as many fields as the header (quoted commas aside). */
    char *save = NULL;
    int header_fields = -1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int fields = 1, quoted = 0;
        for (char *p = line; *p; p++) {
            if (*p == '"') quoted = !quoted;
            if (*p == ',' && !quoted) fields++;
        }
        if (header_fields < 0)
            header_fields = fields;
        else
            CHECK_EQ_INT(fields, header_fields);
    }
    free(text);
    text = slurp(path);
    CHECK(strstr(text, "\"preprocess-bound, \"\"engine\"\" idle 60 %\"") != NULL);
    CHECK(strncmp(text, "run_id,synthetic_weights,level,streams,", 39) == 0);
    CHECK(strstr(text, ",error,accuracy_frames,accuracy_f1,accuracy_mean_iou,accuracy_matched,"
                       "accuracy_ref_boxes,accuracy_test_boxes\n") != NULL);
    /* level 1: 16 frames, F1 74/81, mean IoU 0.875, 37 of 42 / 39; level 2: empty */
    CHECK(strstr(text, ",16,0.9135802469,0.875,37,42,39\n") != NULL);
    CHECK(strstr(text, ",ok,,,,,,,\n") != NULL);
    free(text);
}

static void test_html(void) {
    char path[128];
    path_in(path, sizeof path, "r.html");
    struct cvb_err err = {0};
    struct cvb_manifest m = man;
    snprintf(m.model_path, sizeof m.model_path, "models/we<i>rd&\"model'.onnx");
    struct cvb_level_result l[4];
    memcpy(l, lv, 3 * sizeof l[0]);
    fixture_level(&l[3], 3, 1.0);
    snprintf(l[3].status, sizeof l[3].status, "refused");
    snprintf(l[3].error, sizeof l[3].error, "estimate 2.1 GiB > budget 1.6 GiB <script>");
    CHECK_EQ_INT(cvb_report_html(path, &m, l, 4, &err), 0);
    char *html = slurp(path);
    CHECK(html != NULL);
    if (html == NULL) return;
    CHECK_EQ_INT(count(html, "<svg"), 4);
    CHECK_EQ_INT(count(html, "</svg>"), 4);
    CHECK_EQ_INT(count(html, "http"), 0);
    CHECK_EQ_INT(count(html, "<script"), 0);
    CHECK_EQ_INT(count(html, "src="), 0); /* nothing fetched: no images, scripts, */
    CHECK_EQ_INT(count(html, "url("), 0); /* CSS resources or imports */
    CHECK_EQ_INT(count(html, "@import"), 0);
    CHECK_EQ_INT(count(html, "<link"), 0);
    CHECK(strstr(html, "we&lt;i&gt;rd&amp;&quot;model&#39;.onnx") != NULL);
    CHECK(strstr(html, "<i>") == NULL);
    CHECK(strstr(html, "synthetic weights") != NULL);
    CHECK(strstr(html, "refused: estimate 2.1 GiB &gt; budget 1.6 GiB &lt;script&gt;") != NULL);
    CHECK(strstr(html, "<polyline") != NULL);
    CHECK(strstr(html, "<rect") != NULL);
    CHECK(strstr(html, "</html>") != NULL);
    /* accuracy: its own table, a row per level that measured it (0 and 1) */
    CHECK(strstr(html, "<h2>Accuracy under load</h2>") != NULL);
    CHECK(strstr(html, "<tr><td>1</td><td>16</td><td>1.000</td><td>1.000</td><td>40</td>") !=
          NULL);
    CHECK(strstr(html, "<tr><td>2</td><td>16</td><td>0.914</td><td>0.875</td><td>37</td>"
                       "<td>42</td><td>39</td></tr>") != NULL);
    CHECK(strstr(html, "<tr><td>4</td><td>16</td>") == NULL);
    free(html);

    /* No finished level: still a whole page with its four (empty) charts. */
    CHECK_EQ_INT(cvb_report_html(path, &m, l + 3, 1, &err), 0);
    html = slurp(path);
    CHECK(html != NULL && count(html, "<svg") == 4);
    free(html);
    CHECK_EQ_INT(cvb_report_html(path, &m, NULL, 0, &err), 0);

    const char *keep = getenv("CVB_TEST_REPORT_HTML");
    if (keep != NULL && keep[0]) {
        struct cvb_level_result *many = calloc(7, sizeof *many);
        if (many != NULL) {
            for (int i = 0; i < 7; i++)
                fixture_level(&many[i], i, 1.0);
            snprintf(many[6].status, sizeof many[6].status, "refused");
            snprintf(many[6].error, sizeof many[6].error,
                     "memory estimate 1.9 GiB exceeds the budget 1.5 GiB");
            CHECK_EQ_INT(cvb_report_html(keep, &m, many, 7, &err), 0);
            free(many);
        }
    }
}

static void test_bad_output_path(void) {
    struct cvb_err err = {0};
    const char *p = "/nonexistent-dir-cvb/r.html";
    CHECK_EQ_INT(cvb_report_html(p, &man, lv, 3, &err), CVB_EIO);
    CHECK(strstr(err.msg, p) != NULL);
    CHECK_EQ_INT(cvb_report_json("/nonexistent-dir-cvb/r.json", &man, lv, 3, &err), CVB_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir-cvb/r.json") != NULL);
    CHECK_EQ_INT(cvb_report_csv("/nonexistent-dir-cvb/r.csv", &man, lv, 3, &err), CVB_EIO);
}

static void test_table(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return;
    struct cvb_level_result l[4];
    memcpy(l, lv, 3 * sizeof l[0]);
    fixture_level(&l[3], 3, 1.0);
    memset(l[2].bottleneck, 'x', sizeof l[2].bottleneck - 1);
    l[2].bottleneck[sizeof l[2].bottleneck - 1] = '\0';
    snprintf(l[3].status, sizeof l[3].status, "failed");
    snprintf(l[3].error, sizeof l[3].error, "video.mp4: frame 12: corrupt");
    cvb_report_table(f, &man, l, 4);
    fclose(f);
    CHECK(strstr(buf, "synthetic weights") != NULL);
    CHECK(strstr(buf, "avx512_core_amx") != NULL);
    CHECK(strstr(buf, "failed: video.mp4: frame 12: corrupt") != NULL);
    CHECK(strstr(buf, "inference-bound: engine busy 97 %") != NULL);
    /* the stability columns (cv, signed drift) and what latency and stable mean */
    CHECK(strstr(buf, "latency: from the moment a frame is ready") != NULL);
    CHECK(strstr(buf, "coefficient of variation") != NULL);
    /* the F1 column: measured on levels 0 and 1, "-" on 2 */
    CHECK(strstr(buf, "stable   cv% drift%     F1  bottleneck") != NULL);
    CHECK(strstr(buf, "F1: the level's detections against an fp32 reference") != NULL);
    CHECK(strstr(buf, "  yes   0.9   +1.2  1.000  inference-bound") != NULL);
    CHECK(strstr(buf, "   NO   3.9   -7.5  0.914  inference-bound") != NULL);
    CHECK(strstr(buf, "  yes   6.9   +1.2      -  xxx") != NULL);
    int rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* bytes, minus UTF-8 continuation bytes: display columns */
        int cols = 0;
        for (char *p = line; *p; p++)
            cols += ((unsigned char)*p & 0xC0) != 0x80;
        CHECK(cols <= 160);
        if (strncmp(line, "      ", 6) == 0) rows++;
    }
    CHECK_EQ_INT(rows, 4);
    free(buf);
}

static void test_progress(void) {
    struct cvb_progress p = {.level = 1,
                             .n_levels = 3,
                             .streams = 4,
                             .frames_done = 312,
                             .frames_total = 840,
                             .fps_now = 45.23,
                             .eta_s = 11.7};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return;
    cvb_report_progress(f, true, &p);
    fclose(f);
    CHECK(strcmp(buf, "\r\033[Klevel 2/3 · 4 streams · 312/840 frames · 45.2 fps · ETA 12 s") == 0);
    free(buf);
    f = open_memstream(&buf, &len);
    if (f == NULL) return;
    p.eta_s = -1;
    p.warming_up = true;
    cvb_report_progress(f, false, &p);
    fclose(f);
    CHECK(strcmp(buf, "level 2/3 · 4 streams · 312/840 frames · 45.2 fps · ETA ? · warming up\n") ==
          0);
    free(buf);
    f = open_memstream(&buf, &len);
    if (f == NULL) return;
    p.warming_up = false;
    p.extending = true;
    p.frames_done = 901;
    cvb_report_progress(f, false, &p);
    fclose(f);
    CHECK(strcmp(buf, "level 2/3 · 4 streams · 901 frames, not yet stable: extending · 45.2 fps · "
                      "ETA ?\n") == 0);
    free(buf);
}

static void test_compare(void) {
    struct cvb_manifest mb = man;
    snprintf(mb.run_id, sizeof mb.run_id, "run-b");
    snprintf(mb.isa, sizeof mb.isa, "avx2");
    /* B: levels 0 and 1 faster, level 2 refused, an extra 8-stream level. */
    for (int i = 0; i < 4; i++)
        fixture_level(&lv2[i], i, 1.1);
    snprintf(lv2[2].status, sizeof lv2[2].status, "refused");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return;
    cvb_report_compare(f, &man, lv, 3, &mb, lv2, 4);
    fclose(f);
    fputs(buf, stdout);
    CHECK_EQ_INT(count(buf, " Δ "), 2);
    CHECK(strstr(buf, "+10.0%") != NULL);
    CHECK(strstr(buf, "note: the runs differ in isa") != NULL);
    CHECK(strstr(buf, "4 streams: not compared (A ok, B refused)") != NULL);
    CHECK(strstr(buf, "8 streams: only in run B") != NULL);
    free(buf);
}

/* Integers written as reals far outside int64 (a server reply or a store row
 * the encoder did not write) are clamped, not cast: the cast was undefined
 * (fuzz-result-json, tests/fuzz/corpus/result-json/huge-numbers-*.json). */
static void test_decode_out_of_range(void) {
    static struct cvb_level_result r;
    static struct cvb_manifest m;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb__level_from_json("{\"frames\":1e300,\"warmup_frames\":-1e300,"
                                      "\"late_frames\":-2.5,\"rss_timeline\":{\"t_s\":[1],"
                                      "\"bytes\":[1e300]}}",
                                      "test", &r, &err),
                 0);
    CHECK(r.frames == INT64_MAX);
    CHECK(r.warmup_frames == INT64_MIN);
    CHECK(r.late_frames == -2);
    CHECK(r.n_rss == 1 && r.rss_bytes[0] == 0); /* a real there reads as 0 */
    CHECK_EQ_INT(cvb__manifest_from_json("{\"mem_total_bytes\":9.3e18}", "test", &m, &err), 0);
    CHECK(m.mem_total_bytes == INT64_MAX);
}

/* Backend kserve: the level's "remote" block survives the JSON round trip
 * the store relies on, is absent for cpu levels, and shows in the table
 * (with "-" for a server without statistics) and the HTML report. */
static void test_remote(void) {
    static struct cvb_level_result l[2], back;
    struct cvb_err err = {0};
    fixture_level(&l[0], 0, 1.0);
    fixture_level(&l[1], 1, 1.0);
    struct cvb_remote_result *r = &l[0].remote;
    r->used = true;
    snprintf(r->server, sizeof r->server, "cvbench <x> 0.1");
    snprintf(r->payload, sizeof r->payload, "uint8");
    r->inflight = 2;
    r->connections = 4;
    r->request_bytes = 1228864;
    r->response_bytes = 2822400;
    r->serialize_ms = 0.012;
    r->roundtrip_ms = 41.5;
    r->roundtrip_p99_ms = 80.25;
    r->deserialize_ms = 0.75;
    r->server_stats = true;
    r->server_requests = 123456789012LL;
    r->server_queue_ms = 3.5;
    r->server_compute_ms = 36.25;
    r->server_batch_mean = 1.5;
    r->server_instances = 2;
    r->server_busy_pct = 93.5;
    r->network_ms = 1.75;
    r->client_cpu_pct = 22.5;
    l[1].remote = *r;
    l[1].remote.server_stats = false;
    char *text = NULL;
    CHECK_EQ_INT(cvb__level_to_json(&l[0], &text, &err), 0);
    CHECK(text != NULL && strstr(text, "\"remote\"") != NULL);
    CHECK_EQ_INT(cvb__level_from_json(text, "test", &back, &err), 0);
    free(text);
    CHECK(back.remote.used && back.remote.server_stats);
    CHECK(strcmp(back.remote.server, r->server) == 0 && strcmp(back.remote.payload, "uint8") == 0);
    CHECK_EQ_INT(back.remote.inflight, 2);
    CHECK_EQ_INT(back.remote.connections, 4);
    CHECK_EQ_INT(back.remote.server_instances, 2);
    CHECK(back.remote.server_requests == 123456789012LL);
    CHECK_NEAR(back.remote.roundtrip_ms, 41.5, 1e-12);
    CHECK_NEAR(back.remote.roundtrip_p99_ms, 80.25, 1e-12);
    CHECK_NEAR(back.remote.server_busy_pct, 93.5, 1e-12);
    CHECK_NEAR(back.remote.network_ms, 1.75, 1e-12);
    CHECK_NEAR(back.remote.client_cpu_pct, 22.5, 1e-12);
    CHECK_NEAR(back.remote.request_bytes, 1228864, 1e-6);
    /* a cpu level has no remote block, and decodes without one */
    CHECK_EQ_INT(cvb__level_to_json(&lv[0], &text, &err), 0);
    CHECK(text != NULL && strstr(text, "\"remote\"") == NULL);
    CHECK_EQ_INT(cvb__level_from_json(text, "test", &back, &err), 0);
    free(text);
    CHECK(!back.remote.used);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) return;
    cvb_report_table(f, &man, l, 2);
    fclose(f);
    CHECK(strstr(buf, "kserve: server cvbench <x> 0.1 · payload uint8 · 2 request(s) in flight") !=
          NULL);
    CHECK(strstr(buf, " 1200.1    0.01    0.75    41.50    80.25    3.50   36.25    1.75    "
                      "1.50     94     22      4") != NULL);
    CHECK(strstr(buf, "      -       -       -       -      -     22      4") != NULL);
    free(buf);
    char path[128];
    path_in(path, sizeof path, "remote.html");
    CHECK_EQ_INT(cvb_report_html(path, &man, l, 2, &err), 0);
    char *html = slurp(path);
    CHECK(html != NULL && strstr(html, "Model server (kserve)") != NULL);
    CHECK(html != NULL && strstr(html, "cvbench &lt;x&gt; 0.1") != NULL);
    CHECK(html != NULL && strstr(html, "no statistics extension") != NULL);
    free(html);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cvb-test-report-XXXXXX");
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    setup();
    RUN(test_json);
    RUN(test_csv);
    RUN(test_html);
    RUN(test_bad_output_path);
    RUN(test_table);
    RUN(test_progress);
    RUN(test_compare);
    RUN(test_decode_out_of_range);
    RUN(test_remote);
    int rc = test_summary();
    if (rc == 0) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    }
    return rc;
}
