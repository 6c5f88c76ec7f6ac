/* SPDX-License-Identifier: Apache-2.0 */
/* The memory contract of a level, measured: for every mode x execution and
 * a few stream counts (tiny synthetic YOLOv8n at 64x64, a 320x240 H.264
 * clip, so the whole file runs in seconds),
 *   - measured peak RSS <= 1.25 x the admission estimate (baseline + level),
 *     and, stricter, the level's own growth (peak - baseline) <= 1.25 x the
 *     level part of the estimate plus 2 MiB (the baseline otherwise hides
 *     an under-estimate of the level itself);
 *   - RSS after each level returns within 5 % of its pre-level value, and
 *     does not drift across a sweep of levels;
 *   - the library itself reported no memory-contract violation (r.error);
 *   - a level whose estimate exceeds --memory-budget is refused before it
 *     allocates anything, with a message showing estimate and budget;
 *   - the automatic engine-instance rule, whose instances the estimate counts;
 *   - accuracy sampling: N kept frames and their detections are counted,
 *     and so is the fp32 reference engine that runs after the level (the
 *     measured peak above includes that phase: every level here samples).
 * The estimate is printed beside the measurement for every case, so a run
 * of this test doubles as a calibration table. */
#include "cvb/detect.h"
#include "pipeline-fixture.h"
#include "test.h"

#include <stdlib.h>
#include <unistd.h>

#define MiB ((int64_t)1 << 20)

static struct cvb_pipeline_probe probe;
static struct cvb_level_result r;

static void scenario(struct cvb_scenario *s, const char *mode, const char *exec) {
    fixture_scenario(s, mode, exec);
    s->n_levels = 3;
    s->streams[0] = 1;
    s->streams[1] = 4;
    s->streams[2] = 8;
    s->frames = 15;
    s->warmup = 2;
    s->threads = 2;
}

/* One level of 's' with 'n' streams; checks the contract and prints the
 * estimate next to the measurement. */
static void check_level(const struct cvb_scenario *s, int n, int index) {
    struct cvb_err err = {0};
    int rc = cvb_pipeline_run_level(s, &probe, n, index, NULL, &r, &err);
    if (rc < 0) fprintf(stderr, "  %s/%s %d streams: %s\n", s->mode, s->execution, n, err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK(strcmp(r.status, "ok") == 0);
    struct cvb_mem_estimate e;
    cvb_pipeline_estimate(s, &probe, n, &e);
    CHECK_EQ_INT(r.mem_estimate_bytes, r.rss_start_bytes + e.total);
    int64_t grow = r.rss_peak_bytes - r.rss_start_bytes;
    int64_t back = r.rss_end_bytes - r.rss_start_bytes;
    printf("  %-14s %-6s %2d streams: estimate %6.1f MiB (engines %.1f frames %.1f decoders "
           "%.1f streams %.1f accuracy %.1f), measured growth %6.1f MiB (%3.0f %%), end %+5.1f MiB of %.1f\n",
           s->mode, s->execution, n, e.total / (double)MiB, e.engines / (double)MiB,
           e.frames / (double)MiB, e.decoders / (double)MiB, e.per_stream / (double)MiB,
           e.accuracy / (double)MiB, grow / (double)MiB, e.total > 0 ? 100.0 * grow / e.total : 0, back / (double)MiB,
           r.rss_start_bytes / (double)MiB);
    CHECK(r.rss_peak_bytes >= r.rss_start_bytes && r.rss_start_bytes > 0);
    CHECK(r.rss_peak_bytes <= r.mem_estimate_bytes * 5 / 4);
    CHECK(grow <= e.total * 5 / 4 + 2 * MiB);
    CHECK(llabs(back) <= r.rss_start_bytes / 20);
    if (r.error[0]) fprintf(stderr, "  level note: %s\n", r.error);
    CHECK(strstr(r.error, "memory:") == NULL);
    int64_t measured = (int64_t)s->frames * n;
    CHECK_EQ_INT(r.accuracy_frames, measured < s->accuracy_sample ? measured : s->accuracy_sample);
}

static void sweep(const char *mode, const char *exec) {
    struct cvb_scenario s;
    scenario(&s, mode, exec);
    int64_t first = 0;
    for (int i = 0; i < s.n_levels; i++) {
        check_level(&s, s.streams[i], i);
        if (i == 0) first = r.rss_start_bytes;
    }
    /* no drift over the sweep */
    CHECK(llabs(r.rss_end_bytes - first) <= first / 20);
}

static void test_pipeline_async(void) { sweep("pipeline", "async"); }
static void test_pipeline_direct(void) { sweep("pipeline", "direct"); }
static void test_ionly_async(void) { sweep("inference-only", "async"); }
static void test_ionly_direct(void) { sweep("inference-only", "direct"); }

/* Two videos: pipeline streams take them round-robin, inference-only keeps
 * one ring per distinct video; the estimate counts both. */
static void test_two_videos(void) {
    struct cvb_scenario s;
    scenario(&s, "inference-only", "async");
    s.n_videos = 2;
    snprintf(s.videos[1], sizeof s.videos[1], "%s", clip);
    s.ring_frames = 32;
    struct cvb_mem_estimate e1, e2;
    cvb_pipeline_estimate(&s, &probe, 1, &e1);
    cvb_pipeline_estimate(&s, &probe, 4, &e2);
    CHECK_EQ_INT(e2.frames, 2 * e1.frames);
    check_level(&s, 4, 0);
    scenario(&s, "pipeline", "async");
    s.n_videos = 2;
    snprintf(s.videos[1], sizeof s.videos[1], "%s", clip);
    check_level(&s, 4, 1);
}

static void test_refused(void) {
    struct cvb_scenario s;
    scenario(&s, "pipeline", "async");
    struct cvb_mem_estimate e;
    cvb_pipeline_estimate(&s, &probe, 8, &e);
    int64_t rss = cvb_pipeline_rss_bytes();
    s.memory_budget = rss + e.total / 2;
    struct cvb_err err = {0};
    int rc = cvb_pipeline_run_level(&s, &probe, 8, 0, NULL, &r, &err);
    CHECK_EQ_INT(rc, CVB_ERANGE);
    CHECK(strcmp(r.status, "refused") == 0);
    CHECK(strstr(err.msg, "estimated peak memory") != NULL);
    CHECK(strstr(err.msg, "memory budget") != NULL);
    CHECK(strstr(r.error, "memory budget") != NULL);
    CHECK_EQ_INT(r.frames, 0);
    /* refused before allocating: RSS unchanged */
    CHECK(llabs(r.rss_end_bytes - r.rss_start_bytes) <= r.rss_start_bytes / 50);
    printf("  refused: %s\n", err.msg);
    /* the same level fits a budget with room for its estimate */
    s.memory_budget = rss + e.total * 2;
    CHECK_EQ_INT(cvb_pipeline_run_level(&s, &probe, 8, 1, NULL, &r, &err), 0);
    CHECK(strcmp(r.status, "ok") == 0);
}

/* The auto instance rule (no --inference-streams, no --threads): cores / 4
 * instances but at least 2 on 2+ cores, never more than streams; threads
 * split the cores. The memory estimate follows the instances it counts. */
static void test_instance_rule(void) {
    struct cvb_scenario s;
    scenario(&s, "inference-only", "async");
    s.threads = 0;
    struct cvb_pipeline_probe p = probe;
    static const struct {
        int cpus, streams, inst, tpi;
    } cases[] = {{1, 4, 1, 1},  {2, 1, 1, 2},  {2, 2, 2, 1}, {2, 64, 2, 1},
                 {4, 8, 2, 2},  {8, 8, 2, 4},  {16, 64, 4, 4}, {16, 1, 1, 16},
                 {64, 64, 16, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int inst = 0, tpi = 0;
        p.n_cpus = cases[i].cpus;
        cvb_pipeline_instances(&s, &p, cases[i].streams, &inst, &tpi);
        if (inst != cases[i].inst || tpi != cases[i].tpi)
            fprintf(stderr, "  %d cpus %d streams: %dx%d, expected %dx%d\n", cases[i].cpus,
                    cases[i].streams, inst, tpi, cases[i].inst, cases[i].tpi);
        CHECK_EQ_INT(inst, cases[i].inst);
        CHECK_EQ_INT(tpi, cases[i].tpi);
    }
    /* an explicit --inference-streams wins */
    s.inference_streams = 1;
    int inst = 0, tpi = 0;
    p.n_cpus = 2;
    cvb_pipeline_instances(&s, &p, 8, &inst, &tpi);
    CHECK_EQ_INT(inst, 1);
    CHECK_EQ_INT(tpi, 2);
    /* two instances cost two engines in the estimate */
    s.inference_streams = 0;
    struct cvb_mem_estimate e1, e2;
    cvb_pipeline_estimate(&s, &p, 1, &e1);
    cvb_pipeline_estimate(&s, &p, 2, &e2);
    CHECK(e2.engines > e1.engines * 3 / 2);
}

/* Accuracy sampling in the estimate: N x (frame + one sample's detections),
 * the same for every stream count and frame count; the reference phase
 * (fp32 engine + samples, after the level's engines are freed) bounds it
 * from below; off (0) costs nothing. */
static void test_accuracy_estimate(void) {
    struct cvb_scenario s;
    scenario(&s, "pipeline", "async");
    int64_t frame = 3 * (int64_t)probe.imgsz * probe.imgsz;
    int64_t dets = CVB_DETECT_MAX_DET * (int64_t)sizeof(struct cvb_detection);
    struct cvb_mem_estimate e16, e64, e0, e64_8;
    s.accuracy_sample = 16;
    cvb_pipeline_estimate(&s, &probe, 1, &e16);
    s.accuracy_sample = 64;
    cvb_pipeline_estimate(&s, &probe, 1, &e64);
    cvb_pipeline_estimate(&s, &probe, 8, &e64_8);
    s.accuracy_sample = 0;
    cvb_pipeline_estimate(&s, &probe, 1, &e0);
    CHECK(e16.accuracy >= 16 * (frame + dets) && e16.accuracy <= 16 * (frame + dets + 256));
    CHECK_EQ_INT(e64.accuracy, 4 * e16.accuracy);
    CHECK_EQ_INT(e64_8.accuracy, e64.accuracy); /* not per stream */
    CHECK_EQ_INT(e0.accuracy, 0);
    CHECK_EQ_INT(e0.reference, 0);
    CHECK(e16.reference >= probe.reference_bytes);
    CHECK(e16.total >= e0.total + e16.accuracy);
    CHECK(e16.total >= e16.accuracy + e16.reference);
    /* a reference engine bigger than the level's engines sets the peak */
    struct cvb_pipeline_probe big = probe;
    big.reference_bytes = 64 * e0.total;
    s.accuracy_sample = 16;
    cvb_pipeline_estimate(&s, &big, 1, &e16);
    CHECK_EQ_INT(e16.total, e16.accuracy + e16.reference + e16.fixed);
    /* nothing grows with the frame count */
    struct cvb_mem_estimate ef;
    s.frames = 100000;
    cvb_pipeline_estimate(&s, &probe, 1, &ef);
    s.frames = 15;
    cvb_pipeline_estimate(&s, &probe, 1, &e16);
    CHECK_EQ_INT(ef.total, e16.total);
}

int main(void) {
    int frc = fixture_make(320, 240);
    if (frc == 77) return test_skip("mkdtemp failed");
    if (frc != 0) return frc;
    struct cvb_err err = {0};
    struct cvb_scenario s;
    scenario(&s, "pipeline", "async");
    if (cvb_pipeline_probe(&s, &probe, &err) < 0) {
        fprintf(stderr, "probe: %s\n", err.msg);
        return 1;
    }
    printf("  probe: engine %.1f MiB, decoder %.1f MiB, imgsz %d\n",
           probe.engine_bytes / (double)MiB, probe.decoder_bytes / (double)MiB, probe.imgsz);
    RUN(test_pipeline_async);
    RUN(test_pipeline_direct);
    RUN(test_ionly_async);
    RUN(test_ionly_direct);
    RUN(test_two_videos);
    RUN(test_refused);
    RUN(test_instance_rule);
    RUN(test_accuracy_estimate);
    remove(model);
    remove(clip);
    rmdir(dir);
    return test_summary();
}
