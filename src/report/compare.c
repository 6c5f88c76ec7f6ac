/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench compare`: per-level deltas of run B against run A.
 *
 * Levels are matched by stream count. Each matched level prints three rows:
 * A's values, B's values, and the change in percent ("Δ" row), for total fps,
 * p50/p99 latency, each stage's mean ms and peak RSS. Levels present in only
 * one run, or not "ok" in either, are listed after the table. */
#include "cvb/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_COLS (3 + CVB_STAGE_COUNT + 1)

static bool level_ok(const struct cvb_level_result *r) {
    return r->status[0] == '\0' || strcmp(r->status, "ok") == 0;
}

static void columns(const struct cvb_level_result *r, double v[N_COLS]) {
    int k = 0;
    v[k++] = r->fps;
    v[k++] = r->latency_p50_ms;
    v[k++] = r->latency_p99_ms;
    for (int s = 0; s < CVB_STAGE_COUNT; s++)
        v[k++] = r->stages[s].mean_ms;
    v[k++] = (double)r->rss_peak_bytes / (1024.0 * 1024.0);
}

static void run_line(FILE *f, const char *tag, const struct cvb_manifest *m) {
    const char *model = strrchr(m->model_path, '/');
    model = model != NULL ? model + 1 : m->model_path;
    fprintf(f, "run %s: %s · %s · %s %s · %s/%s/%s · %s%s\n", tag, m->run_id,
            m->started_at[0] ? m->started_at : "-", m->backend, m->isa, m->mode, m->execution,
            m->pacing, model[0] ? model : "-", m->synthetic_weights ? " (synthetic weights)" : "");
}

static const struct cvb_level_result *find_streams(const struct cvb_level_result *lv, int n,
                                                   int streams) {
    for (int i = 0; i < n; i++)
        if (lv[i].streams == streams) return &lv[i];
    return NULL;
}

/* Differences in the manifests that make a comparison less than like for like. */
static void differences(FILE *f, const struct cvb_manifest *ma, const struct cvb_manifest *mb) {
    struct {
        const char *name, *a, *b;
    } fields[] = {
        {"model", ma->model_sha256, mb->model_sha256},
        {"backend", ma->backend, mb->backend},
        {"isa", ma->isa, mb->isa},
        {"precision", ma->precision, mb->precision},
        {"mode", ma->mode, mb->mode},
        {"execution", ma->execution, mb->execution},
        {"pacing", ma->pacing, mb->pacing},
        {"cpu", ma->cpu_model, mb->cpu_model},
        {"host", ma->hostname, mb->hostname},
    };
    int first = 1;
    for (size_t i = 0; i < CVB_ARRAY_LEN(fields); i++) {
        if (strcmp(fields[i].a, fields[i].b) == 0) continue;
        fprintf(f, "%s%s", first ? "note: the runs differ in " : ", ", fields[i].name);
        first = 0;
    }
    if (ma->threads != mb->threads) {
        fprintf(f, "%sthreads (%d vs %d)", first ? "note: the runs differ in " : ", ", ma->threads,
                mb->threads);
        first = 0;
    }
    if (!first) fputc('\n', f);
}

void cvb_report_compare(FILE *f, const struct cvb_manifest *ma, const struct cvb_level_result *a,
                        int na, const struct cvb_manifest *mb, const struct cvb_level_result *b,
                        int nb) {
    run_line(f, "A", ma);
    run_line(f, "B", mb);
    differences(f, ma, mb);
    fprintf(f, "\n%7s   %10s %9s %9s", "streams", "fps", "p50 ms", "p99 ms");
    static const char *const stage_hdr[CVB_STAGE_COUNT] = {"dec ms", "pre ms", "queue ms", "inf ms",
                                                           "post ms"};
    for (int s = 0; s < CVB_STAGE_COUNT; s++)
        fprintf(f, " %9s", stage_hdr[s]);
    fprintf(f, " %9s\n", "RSS MiB");

    int matched = 0;
    for (int i = 0; i < na; i++) {
        const struct cvb_level_result *ra = &a[i];
        const struct cvb_level_result *rb = find_streams(b, nb, ra->streams);
        if (rb == NULL || !level_ok(ra) || !level_ok(rb)) continue;
        double va[N_COLS], vb[N_COLS];
        columns(ra, va);
        columns(rb, vb);
        fprintf(f, "%7d A ", ra->streams);
        for (int k = 0; k < N_COLS; k++)
            fprintf(f, k == 0 ? " %10.2f" : " %9.2f", va[k]);
        fprintf(f, "\n%7s B ", "");
        for (int k = 0; k < N_COLS; k++)
            fprintf(f, k == 0 ? " %10.2f" : " %9.2f", vb[k]);
        fprintf(f, "\n%7s Δ ", "");
        for (int k = 0; k < N_COLS; k++) {
            char cell[32];
            if (va[k] == 0 && vb[k] == 0)
                snprintf(cell, sizeof cell, "0.0%%");
            else if (va[k] == 0 || !isfinite(va[k]) || !isfinite(vb[k]))
                snprintf(cell, sizeof cell, "n/a");
            else
                snprintf(cell, sizeof cell, "%+.1f%%", 100.0 * (vb[k] - va[k]) / fabs(va[k]));
            fprintf(f, k == 0 ? " %10s" : " %9s", cell);
        }
        fputc('\n', f);
        matched++;
    }
    if (matched == 0) fprintf(f, "(no level with the same stream count finished in both runs)\n");

    /* What could not be compared, and why. */
    for (int i = 0; i < na; i++) {
        const struct cvb_level_result *rb = find_streams(b, nb, a[i].streams);
        if (rb == NULL)
            fprintf(f, "%d streams: only in run A\n", a[i].streams);
        else if (!level_ok(&a[i]) || !level_ok(rb))
            fprintf(f, "%d streams: not compared (A %s, B %s)\n", a[i].streams,
                    a[i].status[0] ? a[i].status : "ok", rb->status[0] ? rb->status : "ok");
    }
    for (int i = 0; i < nb; i++)
        if (find_streams(a, na, b[i].streams) == NULL)
            fprintf(f, "%d streams: only in run B\n", b[i].streams);
    fflush(f);
}
