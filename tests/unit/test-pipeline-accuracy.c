/* SPDX-License-Identifier: Apache-2.0 */
/* Accuracy under load (src/pipeline/accuracy.c), end to end through
 * cvb_pipeline_run_level on a synthetic YOLOv8n at 320 (its planted
 * detector finds a few boxes per frame of a synthetic clip):
 *   - fp32: the level's detections and the fp32 reference's agree bit for
 *     bit, so F1 and mean IoU are exactly 1, in pipeline and inference-only
 *     mode, async and direct, 1 and 2 streams (2 instances of 1 thread);
 *   - the sample count: accuracy_sample frames, fewer when the level has
 *     fewer measured frames, none when 0 (and then nothing is reported);
 *   - int8 (calibrated on procedural frames): F1 and mean IoU measured and
 *     printed; they lie in [0, 1] and agree with the counts (matched <=
 *     min(ref, test), F1 = 2 matched / (ref + test)); peak RSS, accuracy
 *     phase included, stays within 1.25 x the admission estimate;
 *   - `test-pipeline-accuracy bf16` (ctest test-pipeline-accuracy-bf16):
 *     the same for bf16, skipped (77) on a CPU without avx512_bf16/amx_bf16. */
#include "cvb/engine.h"
#include "pipeline-fixture.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#define S 320

static char calib[300];
static struct cvb_level_result r;

/* 20 frames per stream, 2 threads (1 stream: 1 instance x 2 threads; 2
 * streams: 2 x 1), 16 samples. */
static void scenario(struct cvb_scenario *s, const char *mode, const char *exec,
                     const char *precision) {
    fixture_scenario(s, mode, exec);
    snprintf(s->precision, sizeof s->precision, "%s", precision);
    snprintf(s->calib, sizeof s->calib, "%s", calib);
    s->frames = 20;
    s->warmup = 2;
    s->threads = 2;
    s->accuracy_sample = 16;
}

/* Run level 'streams' of 's' (probed first); returns the level's rc. */
static int run(const struct cvb_scenario *s, int streams) {
    struct cvb_pipeline_probe p;
    struct cvb_err err = {0};
    int rc = cvb_pipeline_probe(s, &p, &err);
    if (rc == 0) rc = cvb_pipeline_run_level(s, &p, streams, 0, NULL, &r, &err);
    if (rc < 0) fprintf(stderr, "  %s %s/%s %d streams: %s\n", s->precision, s->mode,
                        s->execution, streams, err.msg);
    if (r.error[0]) fprintf(stderr, "  level note: %s\n", r.error);
    printf("  %-4s %-14s %-6s %d streams: %d frames sampled, F1 %.4f, mean IoU %.4f "
           "(%lld matched, fp32 %lld boxes, %s %lld)\n",
           s->precision, s->mode, s->execution, streams, r.accuracy_frames, r.accuracy_f1,
           r.accuracy_mean_iou, (long long)r.accuracy_matched, (long long)r.accuracy_ref_boxes,
           s->precision, (long long)r.accuracy_test_boxes);
    return rc;
}

/* The numbers agree with each other whatever the precision did. */
static void check_consistent(const struct cvb_scenario *s, int streams) {
    int expect = s->accuracy_sample < s->frames * streams ? s->accuracy_sample
                                                          : s->frames * streams;
    CHECK_EQ_INT(r.accuracy_frames, expect);
    CHECK(r.accuracy_f1 >= 0 && r.accuracy_f1 <= 1);
    CHECK(r.accuracy_mean_iou >= 0 && r.accuracy_mean_iou <= 1);
    int64_t mn = r.accuracy_ref_boxes < r.accuracy_test_boxes ? r.accuracy_ref_boxes
                                                                : r.accuracy_test_boxes;
    CHECK(r.accuracy_matched >= 0 && r.accuracy_matched <= mn);
    if (r.accuracy_ref_boxes + r.accuracy_test_boxes > 0)
        CHECK_NEAR(r.accuracy_f1,
                   2.0 * (double)r.accuracy_matched /
                       (double)(r.accuracy_ref_boxes + r.accuracy_test_boxes),
                   1e-12);
    CHECK(r.rss_peak_bytes <= r.mem_estimate_bytes * 5 / 4);
}

static void test_fp32_exact(void) {
    static const char *const modes[][2] = {
        {"pipeline", "async"}, {"pipeline", "direct"}, {"inference-only", "async"}};
    struct cvb_scenario s;
    for (size_t m = 0; m < CVB_ARRAY_LEN(modes); m++)
        for (int streams = 1; streams <= 2; streams++) {
            if (m > 0 && streams == 1) continue;
            scenario(&s, modes[m][0], modes[m][1], "fp32");
            CHECK_EQ_INT(run(&s, streams), 0);
            CHECK(strcmp(r.status, "ok") == 0);
            check_consistent(&s, streams);
            /* the synthetic detector finds boxes: the check is not vacuous */
            CHECK(r.accuracy_ref_boxes > 0);
            CHECK_EQ_INT(r.accuracy_matched, r.accuracy_ref_boxes);
            CHECK_EQ_INT(r.accuracy_test_boxes, r.accuracy_ref_boxes);
            CHECK(r.accuracy_f1 == 1.0);
            CHECK(r.accuracy_mean_iou == 1.0);
        }
}

static void test_sample_count(void) {
    struct cvb_scenario s;
    scenario(&s, "inference-only", "async", "fp32");
    s.frames = 5; /* 10 measured frames for 16 samples: all of them */
    CHECK_EQ_INT(run(&s, 2), 0);
    CHECK_EQ_INT(r.accuracy_frames, 10);
    CHECK(r.accuracy_f1 == 1.0);
    s.accuracy_sample = 0; /* off: nothing sampled, nothing reported */
    CHECK_EQ_INT(run(&s, 2), 0);
    CHECK(strcmp(r.status, "ok") == 0);
    CHECK_EQ_INT(r.accuracy_frames, 0);
    CHECK_EQ_INT(r.accuracy_ref_boxes + r.accuracy_test_boxes + r.accuracy_matched, 0);
    CHECK(r.accuracy_f1 == 0 && r.accuracy_mean_iou == 0);
}

static void measured(const char *precision) {
    struct cvb_scenario s;
    scenario(&s, "pipeline", "async", precision);
    for (int streams = 1; streams <= 2; streams++) {
        CHECK_EQ_INT(run(&s, streams), 0);
        CHECK(strcmp(r.status, "ok") == 0);
        check_consistent(&s, streams);
    }
    scenario(&s, "inference-only", "direct", precision);
    CHECK_EQ_INT(run(&s, 2), 0);
    check_consistent(&s, 2);
}

static void test_int8_measured(void) { measured("int8"); }
static void test_bf16_measured(void) { measured("bf16"); }

/* Native bf16 (not oneDNN's ~50x slower emulation, which the engine refuses). */
static int has_native_bf16(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int yes = 0;
    while (f != NULL && !yes && fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "flags", 5) == 0)
            yes = strstr(line, " avx512_bf16") != NULL || strstr(line, " amx_bf16") != NULL;
    if (f != NULL) fclose(f);
    return yes;
}

/* The fixture at 320 with a 320x240 clip, and an int8 calibration file. */
static int make_inputs(void) {
    int frc = fixture_make_sized(320, 240, S);
    if (frc != 0) return frc;
    snprintf(calib, sizeof calib, "%s/y8n320.calib", dir);
    struct cvb_err err = {0};
    struct cvb_calib *c = NULL;
    uint8_t *frame = malloc((size_t)S * S * 3);
    int rc = frame == NULL ? cvb_err_set(&err, CVB_ENOMEM, "frame") : 0;
    if (rc == 0) rc = cvb_calib_new(model, 0, 1, &c, &err);
    for (int i = 0; rc == 0 && i < 16; i++) {
        cvb_calib_procedural_frame(S, (uint64_t)i, frame);
        rc = cvb_calib_add_frame(c, frame, &err);
    }
    if (rc == 0) rc = cvb_calib_save(c, calib, &err);
    cvb_calib_free(c);
    free(frame);
    if (rc < 0) fprintf(stderr, "inputs: %s\n", err.msg);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
    bool bf16 = argc > 1 && strcmp(argv[1], "bf16") == 0;
    if (bf16 && !has_native_bf16())
        return test_skip("bf16: this CPU has neither avx512_bf16 nor amx_bf16 (oneDNN would "
                         "emulate it)");
    int frc = make_inputs();
    if (frc == 77) return test_skip("mkdtemp failed");
    if (frc != 0) return frc;
    if (bf16) {
        RUN(test_bf16_measured);
    } else {
        RUN(test_fp32_exact);
        RUN(test_sample_count);
        RUN(test_int8_measured);
    }
    unlink(model);
    unlink(clip);
    unlink(calib);
    rmdir(dir);
    return test_summary();
}
