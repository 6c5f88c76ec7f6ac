/* SPDX-License-Identifier: Apache-2.0 */
/* Scenario parsing: defaults, JSON, CLI overrides, path resolution against
 * the scenario file's directory, and rejection of bad fields by name. */
#include "cvb/scenario.h"
#include "test.h"

#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/cvb-scn-XXXXXX";

static void test_defaults(void) {
    struct cvb_scenario s;
    cvb_scenario_defaults(&s);
    CHECK_EQ_INT(s.frames, 210);
    CHECK_EQ_INT(s.n_levels, 7);
    CHECK_EQ_INT(s.streams[6], 64);
    CHECK(strcmp(s.mode, "pipeline") == 0);
    CHECK(strcmp(s.backend, "cpu") == 0);
    CHECK_EQ_INT(s.accuracy_sample, 16);
}

static void test_json_paths_resolve_against_file_dir(void) {
    char sub[256], path[300];
    snprintf(sub, sizeof sub, "%s/cfg", dir);
    CHECK_EQ_INT(mkdir(sub, 0755), 0);
    snprintf(path, sizeof path, "%s/scenario.json", sub);
    FILE *f = fopen(path, "w");
    fputs("{\"model\": \"models/y.onnx\", \"video\": [\"a.mp4\", \"/abs/b.mp4\"],\n"
          " \"streams\": [1, 3], \"frames\": 50, \"memory_budget\": \"2G\",\n"
          " \"mode\": \"inference-only\", \"density\": true, \"target_fps\": 25}\n",
          f);
    fclose(f);
    struct cvb_scenario s;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&s);
    /* the working directory must not matter */
    CHECK_EQ_INT(chdir("/"), 0);
    int rc = cvb_scenario_load_file(&s, path, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "%s\n", err.msg);
    char want[400];
    snprintf(want, sizeof want, "%s/models/y.onnx", sub);
    CHECK(strcmp(s.model, want) == 0);
    CHECK_EQ_INT(s.n_videos, 2);
    snprintf(want, sizeof want, "%s/a.mp4", sub);
    CHECK(strcmp(s.videos[0], want) == 0);
    CHECK(strcmp(s.videos[1], "/abs/b.mp4") == 0);
    CHECK_EQ_INT(s.n_levels, 2);
    CHECK_EQ_INT(s.streams[1], 3);
    CHECK(s.streams_given);
    CHECK_EQ_INT(s.frames, 50);
    CHECK_EQ_INT(s.memory_budget, 2LL << 30);
    CHECK(s.density);
    CHECK_NEAR(s.target_fps, 25, 1e-9);
    CHECK(strcmp(s.mode, "inference-only") == 0);
    CHECK_EQ_INT(cvb_scenario_validate(&s, &err), 0);
}

/* Printed paths are normalised: "scenarios/../data" is "data"; but a ".."
 * after a symbolic link keeps its meaning (the link target's parent). */
static void test_paths_normalised(void) {
    char path[512], sub[300], target[300], link[300];
    snprintf(sub, sizeof sub, "%s/norm/scenarios", dir);
    snprintf(target, sizeof target, "%s/norm/real/deep", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s && touch %s/../zz.onnx", sub, target, target);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(link, sizeof link, "%s/norm/link", dir);
    CHECK_EQ_INT(symlink(target, link), 0);
    snprintf(path, sizeof path, "%s/s.json", sub);
    FILE *f = fopen(path, "w");
    fputs("{\"model\": \"../data/./m.onnx\", \"video\": [\"..//link/../zz.onnx\", \"a/../../b.mp4\"],"
          " \"json\": \"../../norm/out/r.json\"}\n",
          f);
    fclose(f);
    struct cvb_scenario s;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&s);
    CHECK_EQ_INT(cvb_scenario_load_file(&s, path, &err), 0);
    char want[400];
    snprintf(want, sizeof want, "%s/norm/data/m.onnx", dir);
    CHECK(strcmp(s.model, want) == 0);
    if (strcmp(s.model, want) != 0) fprintf(stderr, "  model: %s\n", s.model);
    /* link/.. is real/, where zz.onnx is: the lexical "norm/zz.onnx" would be
     * another (missing) file, so the path stays as written */
    CHECK(strstr(s.videos[0], "link/../zz.onnx") != NULL);
    snprintf(want, sizeof want, "%s/norm/b.mp4", dir);
    CHECK(strcmp(s.videos[1], want) == 0);
    snprintf(want, sizeof want, "%s/norm/out/r.json", dir);
    CHECK(strcmp(s.json, want) == 0);
    /* the helper itself, on relative and odd paths */
    const char *cases[][2] = {{"a/./b//c/../d", "a/b/d"}, {"../../x", "../../x"},
                              {"a/../../x", "../x"},      {"/../x", "/x"},
                              {"./", "."},                {"/", "/"}};
    for (size_t i = 0; i < CVB_ARRAY_LEN(cases); i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cases[i][0]);
        cvb_path_normalize(buf);
        CHECK(strcmp(buf, cases[i][1]) == 0);
        if (strcmp(buf, cases[i][1]) != 0) fprintf(stderr, "  %s -> %s\n", cases[i][0], buf);
    }
}

static void expect_json_error(const char *json, const char *needle) {
    struct cvb_scenario s;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&s);
    int rc = cvb_scenario_apply_json(&s, json, "t.json", "/base", &err);
    CHECK(rc < 0);
    CHECK(strstr(err.msg, needle) != NULL);
    if (strstr(err.msg, needle) == NULL) fprintf(stderr, "  got: %s\n", err.msg);
    CHECK(strstr(err.msg, "t.json") != NULL);
}

static void test_bad_json(void) {
    expect_json_error("{\"frames\": 10, \"framez\": 3}", "unknown field 'framez'");
    expect_json_error("{\"frames\": -1}", "'frames'");
    expect_json_error("{\"frames\": \"ten\"}", "'frames'");
    expect_json_error("{\"streams\": [1, 5000]}", "'streams'");
    expect_json_error("{\"mode\": \"turbo\"}", "'mode'");
    expect_json_error("{\"memory_budget\": \"lots\"}", "'memory_budget'");
    expect_json_error("{\"frames\": 1,}", "invalid JSON");
    expect_json_error("[1, 2]", "JSON object");
    expect_json_error("{\"video\": []}", "'video'");
    expect_json_error("{\"frames\": 1, \"frames\": 2}", "invalid JSON");
    expect_json_error("{\"accuracy_sample\": 1025}", "'accuracy_sample'");
    expect_json_error("{\"accuracy_sample\": -1}", "'accuracy_sample'");
}

/* List fields past their fixed maxima are refused by name (the arrays in
 * struct cvb_scenario have exactly CVB_SCN_MAX_* slots). */
static void test_list_limits(void) {
    static char json[16384];
    size_t off = (size_t)snprintf(json, sizeof json, "{\"video\": [");
    for (int i = 0; i <= CVB_SCN_MAX_VIDEOS; i++)
        off += (size_t)snprintf(json + off, sizeof json - off, "%s\"v%d.mp4\"", i ? ", " : "", i);
    snprintf(json + off, sizeof json - off, "]}");
    expect_json_error(json, "more than 64 videos");
    off = (size_t)snprintf(json, sizeof json, "{\"streams\": \"");
    for (int i = 1; i <= CVB_SCN_MAX_LEVELS + 1; i++)
        off += (size_t)snprintf(json + off, sizeof json - off, "%s%d", i > 1 ? "," : "", i);
    snprintf(json + off, sizeof json - off, "\"}");
    expect_json_error(json, "more than 32 levels");
    off = (size_t)snprintf(json, sizeof json, "{\"streams\": [");
    for (int i = 1; i <= CVB_SCN_MAX_LEVELS + 1; i++)
        off += (size_t)snprintf(json + off, sizeof json - off, "%s%d", i > 1 ? "," : "", i);
    snprintf(json + off, sizeof json - off, "]}");
    expect_json_error(json, "1..32 levels");
}

static void test_cli_overrides(void) {
    struct cvb_scenario s;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&s);
    CHECK_EQ_INT(cvb_scenario_set(&s, "model", "m.onnx", "/work", &err), 0);
    CHECK(strcmp(s.model, "/work/m.onnx") == 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "streams", "1,2,8", NULL, &err), 0);
    CHECK_EQ_INT(s.n_levels, 3);
    CHECK_EQ_INT(s.streams[2], 8);
    CHECK_EQ_INT(cvb_scenario_set(&s, "memory-budget", "512M", NULL, &err), 0);
    CHECK_EQ_INT(s.memory_budget, 512LL << 20);
    CHECK_EQ_INT(cvb_scenario_set(&s, "target-fps", "15", NULL, &err), 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "density", NULL, NULL, &err), 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "accuracy-sample", "0", NULL, &err), 0);
    CHECK_EQ_INT(s.accuracy_sample, 0);
    CHECK(s.density);
    CHECK(cvb_scenario_set(&s, "streams", "1,x", NULL, &err) < 0);
    CHECK(strstr(err.msg, "'streams'") != NULL);
    CHECK(cvb_scenario_set(&s, "bogus", "1", NULL, &err) < 0);
    CHECK(strstr(err.msg, "--bogus") != NULL);
    bool takes = true;
    CHECK(cvb_scenario_has_field("density", &takes) && !takes);
    CHECK(cvb_scenario_has_field("ring-frames", &takes) && takes);
    /* validation */
    CHECK(cvb_scenario_validate(&s, &err) < 0); /* no video */
    CHECK(strstr(err.msg, "'video'") != NULL);
    CHECK_EQ_INT(cvb_scenario_set(&s, "video", "v.mp4", "/work", &err), 0);
    CHECK_EQ_INT(cvb_scenario_validate(&s, &err), 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "streams", "4,2", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "ascending") != NULL);
    CHECK_EQ_INT(cvb_scenario_set(&s, "streams", "2,4", NULL, &err), 0);
    /* int8 needs a calibration file, which resolves like every path */
    CHECK_EQ_INT(cvb_scenario_set(&s, "precision", "int8", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "'calib'") != NULL && strstr(err.msg, "model calibrate") != NULL);
    CHECK_EQ_INT(cvb_scenario_set(&s, "calib", "m.calib", "/work", &err), 0);
    CHECK(strcmp(s.calib, "/work/m.calib") == 0);
    CHECK_EQ_INT(cvb_scenario_validate(&s, &err), 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "backend", "cuda", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "not implemented") != NULL);
    /* kserve: needs the server's URL, fp32 (the server picks its precision) */
    CHECK_EQ_INT(cvb_scenario_set(&s, "backend", "kserve", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "'kserve_url'") != NULL);
    CHECK(cvb_scenario_set(&s, "kserve-url", "localhost:8001", NULL, &err) < 0);
    CHECK(strstr(err.msg, "http://HOST:PORT") != NULL);
    CHECK(cvb_scenario_set(&s, "kserve-url", "http:// x", NULL, &err) < 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "kserve-url", "http://127.0.0.1:8001", NULL, &err), 0);
    CHECK(cvb_scenario_set(&s, "kserve-model", "a/b", NULL, &err) < 0);
    CHECK(cvb_scenario_set(&s, "inflight", "0", NULL, &err) < 0);
    CHECK(cvb_scenario_set(&s, "inflight", "17", NULL, &err) < 0);
    CHECK_EQ_INT(cvb_scenario_set(&s, "inflight", "4", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "precision") != NULL);
    CHECK_EQ_INT(cvb_scenario_set(&s, "precision", "fp32", NULL, &err), 0);
    CHECK_EQ_INT(cvb_scenario_validate(&s, &err), 0);
    CHECK_EQ_INT(s.inflight, 4);
    /* the URL belongs to backend kserve only */
    CHECK_EQ_INT(cvb_scenario_set(&s, "backend", "cpu", NULL, &err), 0);
    CHECK(cvb_scenario_validate(&s, &err) < 0);
    CHECK(strstr(err.msg, "need backend kserve") != NULL);
}

static void test_to_json_roundtrip(void) {
    struct cvb_scenario a, b;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&a);
    cvb_scenario_set(&a, "model", "/m/x.onnx", NULL, &err);
    cvb_scenario_set(&a, "video", "/v/a.mp4", NULL, &err);
    cvb_scenario_set(&a, "streams", "1,3,9", NULL, &err);
    cvb_scenario_set(&a, "min-duration", "2.5", NULL, &err);
    char buf[4096];
    int n = cvb_scenario_to_json(&a, buf, sizeof buf);
    CHECK(n > 0 && n < (int)sizeof buf);
    cvb_scenario_defaults(&b);
    int rc = cvb_scenario_apply_json(&b, buf, "roundtrip", "/elsewhere", &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "%s\n%s\n", err.msg, buf);
    CHECK(strcmp(b.model, a.model) == 0);
    CHECK_EQ_INT(b.n_levels, 3);
    CHECK_EQ_INT(b.streams[2], 9);
    CHECK_NEAR(b.min_duration, 2.5, 1e-12);
    CHECK_EQ_INT(b.n_videos, 1);
}

/* Regression (fuzz-scenario, tests/fuzz/corpus/scenario/no-video-round-trip.json):
 * a scenario without videos was written as "video": [], which the parser
 * refuses, so the effective scenario did not read back. */
static void test_to_json_roundtrip_no_video(void) {
    struct cvb_scenario a, b;
    struct cvb_err err = {0};
    cvb_scenario_defaults(&a);
    CHECK_EQ_INT(cvb_scenario_apply_json(&a, "{\"streams\": [1, 8]}", "nv", "/d", &err), 0);
    char buf[4096];
    int n = cvb_scenario_to_json(&a, buf, sizeof buf);
    CHECK(n > 0 && n < (int)sizeof buf);
    CHECK(strstr(buf, "\"video\"") == NULL);
    cvb_scenario_defaults(&b);
    int rc = cvb_scenario_apply_json(&b, buf, "roundtrip", "/elsewhere", &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "%s\n%s\n", err.msg, buf);
    CHECK_EQ_INT(b.n_videos, 0);
    CHECK_EQ_INT(b.n_levels, 2);
}

/* The buffer entry point: not NUL-terminated, length-bounded, NUL bytes and
 * oversized bodies refused by name, paths against the given base. */
static void test_apply_json_buffer(void) {
    struct cvb_scenario s;
    struct cvb_err err = {0};
    const char text[] = "{\"video\": \"v.mp4\", \"frames\": 7}XXXX";
    cvb_scenario_defaults(&s);
    /* the length stops before the trailing garbage */
    CHECK_EQ_INT(cvb_scenario_apply_json_buffer(&s, text, sizeof text - 5, "body", "/base", &err),
                 0);
    CHECK(strcmp(s.videos[0], "/base/v.mp4") == 0);
    CHECK_EQ_INT(s.frames, 7);
    /* the whole buffer is not JSON */
    CHECK_EQ_INT(cvb_scenario_apply_json_buffer(&s, text, sizeof text - 1, "body", "/base", &err),
                 CVB_EFORMAT);
    CHECK(strstr(err.msg, "body") != NULL);
    const char nul[] = "{\"frames\": 7}\0 ";
    CHECK_EQ_INT(cvb_scenario_apply_json_buffer(&s, nul, sizeof nul - 1, "nul-body", NULL, &err),
                 CVB_EFORMAT);
    CHECK(strstr(err.msg, "nul-body") != NULL && strstr(err.msg, "NUL") != NULL);
    CHECK_EQ_INT(cvb_scenario_apply_json_buffer(&s, text, (size_t)CVB_SCN_MAX_BYTES + 1, "big",
                                                NULL, &err),
                 CVB_ERANGE);
    CHECK(strstr(err.msg, "big") != NULL);
}

int main(void) {
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    RUN(test_defaults);
    RUN(test_json_paths_resolve_against_file_dir);
    RUN(test_paths_normalised);
    RUN(test_bad_json);
    RUN(test_list_limits);
    RUN(test_cli_overrides);
    RUN(test_to_json_roundtrip);
    RUN(test_to_json_roundtrip_no_video);
    RUN(test_apply_json_buffer);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: cannot remove %s\n", dir);
    return test_summary();
}
