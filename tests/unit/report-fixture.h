/* SPDX-License-Identifier: Apache-2.0 */
/* Deterministic fake run results for the store and report tests
 * (test-store-*.c, test-report-*.c): a manifest and levels whose every
 * field, arrays included, is a function of the level index. */
#ifndef CVB_TEST_REPORT_FIXTURE_H
#define CVB_TEST_REPORT_FIXTURE_H

#include "cvb/result.h"

#include <stdio.h>
#include <string.h>

static void fixture_manifest(struct cvb_manifest *m, const char *run_id, const char *model) {
    memset(m, 0, sizeof *m);
    snprintf(m->run_id, sizeof m->run_id, "%s", run_id);
    snprintf(m->started_at, sizeof m->started_at, "2026-11-26T21:30:00Z");
    snprintf(m->cvbench_version, sizeof m->cvbench_version, "0.1.0");
    snprintf(m->git_commit, sizeof m->git_commit, "abcdef123456");
    snprintf(m->hostname, sizeof m->hostname, "bench-host");
    snprintf(m->cpu_model, sizeof m->cpu_model, "Intel(R) Xeon(R) Platinum 8480+");
    snprintf(m->cpu_flags, sizeof m->cpu_flags, "avx2 avx512f avx512_vnni amx_tile");
    m->n_cpus = 2;
    m->mem_total_bytes = 8LL << 30;
    snprintf(m->isa, sizeof m->isa, "avx512_core_amx");
    m->threads = 2;
    snprintf(m->libraries, sizeof m->libraries, "oneDNN 2.6.3, FFmpeg 5.1, SQLite 3.40.1");
    snprintf(m->model_path, sizeof m->model_path, "data/%s", model);
    snprintf(m->model_sha256, sizeof m->model_sha256, "%064d", 7);
    m->synthetic_weights = true;
    snprintf(m->model_input, sizeof m->model_input, "images float32 [1,3,640,640]");
    m->model_gflops = 8.7;
    snprintf(m->video_path, sizeof m->video_path, "data/synth-720p.mp4");
    snprintf(m->video_desc, sizeof m->video_desc, "h264 1280x720 30.00 fps 300 frames");
    snprintf(m->backend, sizeof m->backend, "cpu");
    snprintf(m->precision, sizeof m->precision, "fp32");
    snprintf(m->mode, sizeof m->mode, "pipeline");
    snprintf(m->execution, sizeof m->execution, "async");
    snprintf(m->pacing, sizeof m->pacing, "max");
    m->target_fps = 30;
    snprintf(m->scenario_json, sizeof m->scenario_json,
             "{\"model\":\"data/%s\",\"streams\":[1,2,4],\"frames\":210,\"warmup\":10}", model);
}

/* Level i of a sweep 1, 2, 4, ... streams; 'scale' shifts every number so
 * two runs differ. */
static void fixture_level(struct cvb_level_result *r, int i, double scale) {
    memset(r, 0, sizeof *r);
    r->level = i;
    r->streams = 1 << i;
    r->frames = 210LL * r->streams;
    r->warmup_frames = 10LL * r->streams;
    r->duration_s = 4.25 + i;
    r->fps = scale * (40.0 + 25.0 * i + 0.125);
    r->fps_per_stream = r->fps / r->streams;
    r->fps_per_stream_min = 0.9 * r->fps_per_stream;
    r->latency_p50_ms = scale * (20.0 + 10 * i);
    r->latency_p90_ms = r->latency_p50_ms * 1.3;
    r->latency_p95_ms = r->latency_p50_ms * 1.45;
    r->latency_p99_ms = r->latency_p50_ms * 1.8;
    r->latency_max_ms = r->latency_p50_ms * 2.5;
    r->latency_mean_ms = r->latency_p50_ms * 1.1;
    const double share[CVB_STAGE_COUNT] = {0.08, 0.12, 0.05 + 0.05 * i, 0.70 - 0.05 * i, 0.05};
    for (int s = 0; s < CVB_STAGE_COUNT; s++) {
        r->stages[s].share = share[s];
        r->stages[s].mean_ms = share[s] * r->latency_mean_ms;
        r->stages[s].p99_ms = 1.5 * r->stages[s].mean_ms;
    }
    r->cpu_process_pct = 95.5 + 50 * i;
    r->cpu_system_pct = 60.25 + 10 * i;
    r->engine_busy_pct = 97.0 - 3 * i;
    r->engine_instances = 1 + i;
    r->threads_per_instance = 2;
    r->rss_start_bytes = (200LL + 10 * i) << 20;
    r->rss_peak_bytes = (260LL + 30 * i) << 20;
    r->rss_end_bytes = (201LL + 10 * i) << 20;
    r->mem_estimate_bytes = (300LL + 40 * i) << 20;
    r->dropped_frames = i;
    r->late_frames = 2 * i;
    r->lateness_p99_ms = 0.5 * i;
    r->window_s = 1.0;
    r->n_windows = 4 + i;
    for (int w = 0; w < r->n_windows; w++)
        r->window_fps[w] = r->fps * (0.98 + 0.01 * (w % 3));
    r->window_fps_min = r->fps * 0.98;
    r->window_fps_max = r->fps * 1.0;
    r->window_frames = 50;
    r->window_cv_pct = 0.9 + 3 * i;
    r->window_drift_pct = i == 1 ? -7.5 : 1.25;
    r->stable = i != 1;
    snprintf(r->bottleneck, sizeof r->bottleneck, "inference-bound: engine busy %.0f %%",
             r->engine_busy_pct);
    snprintf(r->status, sizeof r->status, "ok");
    /* accuracy: measured on levels 0 (full agreement) and 1 (some boxes
     * lost), not on level 2 */
    if (i % 3 != 2) {
        r->accuracy_frames = 16;
        r->accuracy_ref_boxes = 40 + 2 * i;
        r->accuracy_test_boxes = 40 - i;
        r->accuracy_matched = 40 - 3 * i;
        r->accuracy_f1 = 2.0 * (double)r->accuracy_matched /
                         (double)(r->accuracy_ref_boxes + r->accuracy_test_boxes);
        r->accuracy_mean_iou = i == 0 ? 1.0 : 0.875;
    }
    r->n_rss = 40 + 5 * i;
    for (int k = 0; k < r->n_rss; k++) {
        r->rss_t_s[k] = 0.1f * (float)k;
        double up = k < 10 ? k / 10.0 : 1.0;
        r->rss_bytes[k] = r->rss_start_bytes +
                          (int64_t)(up * (double)(r->rss_peak_bytes - r->rss_start_bytes)) -
                          (k % 4) * 4096;
    }
}

#endif
