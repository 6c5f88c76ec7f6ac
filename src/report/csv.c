/* SPDX-License-Identifier: Apache-2.0 */
/* The `--csv FILE` report: a header line and one row per level, flat
 * columns (RFC 4180 quoting), for spreadsheets and plotting scripts.
 * Non-finite numbers, and the accuracy columns of a level whose accuracy was
 * not measured, are written as empty cells. */
#include "cvb/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static void csv_str(FILE *f, const char *s, size_t cap) {
    size_t n = strnlen(s, cap);
    if (strcspn(s, ",\"\r\n") >= n) {
        fprintf(f, "%.*s", (int)n, s);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void csv_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.10g", v);
}

int cvb_report_csv(const char *path, const struct cvb_manifest *m,
                   const struct cvb_level_result *lv, int n, struct cvb_err *err) {
    int rc = 0;
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return cvb_err_set(err, CVB_EIO, "cannot write CSV report %s: %s", path, strerror(errno));
    fputs("run_id,synthetic_weights,level,streams,frames,warmup_frames,duration_s,fps,"
          "fps_per_stream,fps_per_stream_min,latency_p50_ms,latency_p90_ms,latency_p95_ms,"
          "latency_p99_ms,latency_max_ms,latency_mean_ms",
          f);
    for (int s = 0; s < CVB_STAGE_COUNT; s++) {
        const char *name = cvb_stage_name((enum cvb_stage)s);
        fprintf(f, ",%s_mean_ms,%s_p99_ms,%s_share", name, name, name);
    }
    fputs(",cpu_process_pct,cpu_system_pct,engine_busy_pct,engine_instances,"
          "threads_per_instance,rss_start_bytes,rss_peak_bytes,rss_end_bytes,mem_estimate_bytes,"
          "dropped_frames,late_frames,lateness_p99_ms,window_s,window_frames,window_fps_min,"
          "window_fps_max,window_cv_pct,window_drift_pct,stable,bottleneck,status,error,"
          "accuracy_frames,accuracy_f1,accuracy_mean_iou,accuracy_matched,accuracy_ref_boxes,"
          "accuracy_test_boxes\n",
          f);
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *r = &lv[i];
        csv_str(f, m->run_id, sizeof m->run_id);
        fprintf(f, ",%d,%d,%d,%lld,%lld,", m->synthetic_weights ? 1 : 0, r->level, r->streams,
                (long long)r->frames, (long long)r->warmup_frames);
        const double nums[] = {r->duration_s,     r->fps,
                               r->fps_per_stream, r->fps_per_stream_min,
                               r->latency_p50_ms, r->latency_p90_ms,
                               r->latency_p95_ms, r->latency_p99_ms,
                               r->latency_max_ms, r->latency_mean_ms};
        for (size_t k = 0; k < CVB_ARRAY_LEN(nums); k++) {
            if (k) fputc(',', f);
            csv_num(f, nums[k]);
        }
        for (int s = 0; s < CVB_STAGE_COUNT; s++) {
            fputc(',', f);
            csv_num(f, r->stages[s].mean_ms);
            fputc(',', f);
            csv_num(f, r->stages[s].p99_ms);
            fputc(',', f);
            csv_num(f, r->stages[s].share);
        }
        fputc(',', f);
        csv_num(f, r->cpu_process_pct);
        fputc(',', f);
        csv_num(f, r->cpu_system_pct);
        fputc(',', f);
        csv_num(f, r->engine_busy_pct);
        fprintf(f, ",%d,%d,%lld,%lld,%lld,%lld,%lld,%lld,", r->engine_instances,
                r->threads_per_instance, (long long)r->rss_start_bytes,
                (long long)r->rss_peak_bytes, (long long)r->rss_end_bytes,
                (long long)r->mem_estimate_bytes, (long long)r->dropped_frames,
                (long long)r->late_frames);
        csv_num(f, r->lateness_p99_ms);
        fputc(',', f);
        csv_num(f, r->window_s);
        fprintf(f, ",%lld,", (long long)r->window_frames);
        const double win[] = {r->window_fps_min, r->window_fps_max, r->window_cv_pct,
                              r->window_drift_pct};
        for (size_t k = 0; k < CVB_ARRAY_LEN(win); k++) {
            if (k) fputc(',', f);
            csv_num(f, win[k]);
        }
        fprintf(f, ",%d,", r->stable ? 1 : 0);
        csv_str(f, r->bottleneck, sizeof r->bottleneck);
        fputc(',', f);
        csv_str(f, r->status, sizeof r->status);
        fputc(',', f);
        csv_str(f, r->error, sizeof r->error);
        /* accuracy: empty cells when not measured */
        if (r->accuracy_frames > 0) {
            fprintf(f, ",%d,", r->accuracy_frames);
            csv_num(f, r->accuracy_f1);
            fputc(',', f);
            csv_num(f, r->accuracy_mean_iou);
            fprintf(f, ",%lld,%lld,%lld", (long long)r->accuracy_matched,
                    (long long)r->accuracy_ref_boxes, (long long)r->accuracy_test_boxes);
        } else {
            fputs(",,,,,,", f);
        }
        fputc('\n', f);
    }
    if (ferror(f)) rc = CVB_EIO;
    if (fclose(f) != 0) rc = CVB_EIO;
    if (rc < 0) cvb_err_set(err, CVB_EIO, "cannot write CSV report %s: %s", path, strerror(errno));
    return rc;
}
