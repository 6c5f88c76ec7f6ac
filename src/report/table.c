/* SPDX-License-Identifier: Apache-2.0 */
/* Console output of a run: the live progress line and the end-of-run summary
 * table (one row per level, at most 160 columns wide).
 *
 * The pipeline calls cvb_report_progress about once a second while a level
 * runs, and cvb_report_table once at the end; `cvbench report` without -o
 * prints the same table for a stored run. */
#include "cvb/report.h"
#include "report/result_json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TABLE_WIDTH 160

void cvb_report_progress(FILE *f, bool tty, const struct cvb_progress *p) {
    char line[256];
    int len = 0;
#define ADD(...)                                                                                 \
    do {                                                                                         \
        if (len < (int)sizeof line) len += snprintf(line + len, sizeof line - len, __VA_ARGS__); \
    } while (0)
    if (p->n_levels > 0)
        ADD("level %d/%d", p->level + 1, p->n_levels);
    else
        ADD("level %d", p->level + 1);
    ADD(" · %d stream%s", p->streams, p->streams == 1 ? "" : "s");
    if (p->extending)
        ADD(" · %lld frames, not yet stable: extending", (long long)p->frames_done);
    else if (p->frames_total > 0)
        ADD(" · %lld/%lld frames", (long long)p->frames_done, (long long)p->frames_total);
    else
        ADD(" · %lld frames", (long long)p->frames_done);
    ADD(" · %.1f fps", isfinite(p->fps_now) ? p->fps_now : 0.0);
    if (p->eta_s < 0 || !isfinite(p->eta_s))
        ADD(" · ETA ?");
    else if (p->eta_s < 120)
        ADD(" · ETA %.0f s", p->eta_s);
    else
        ADD(" · ETA %.0f min", ceil(p->eta_s / 60));
    if (p->warming_up) ADD(" · warming up");
#undef ADD
    if (tty)
        fprintf(f, "\r\033[K%s", line);
    else
        fprintf(f, "%s\n", line);
    fflush(f);
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* Print at most 'width' bytes of 's', cutting at a UTF-8 character boundary. */
static void put_clipped(FILE *f, const char *s, int width) {
    int n = (int)strlen(s);
    if (n > width) {
        n = width;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    fprintf(f, "%.*s", n, s);
}

static double share_pct(const struct cvb_level_result *r, enum cvb_stage s) {
    return 100.0 * r->stages[s].share;
}

/* Print ASCII text 's' as lines of at most 'width' columns, broken at spaces. */
static void put_wrapped(FILE *f, const char *s, int width) {
    while (*s) {
        int n = (int)strlen(s);
        if (n > width) {
            n = width;
            while (n > 0 && s[n] != ' ') n--;
            if (n == 0) n = width;
        }
        fprintf(f, "%.*s\n", n, s);
        s += n;
        while (*s == ' ') s++;
    }
}

/* The accuracy column: F1 at IoU 0.5 of the level's detections against the
 * fp32 reference ("1.000"), "-" when not measured. */
static void accuracy_cell(FILE *f, const struct cvb_level_result *r) {
    if (r->accuracy_frames > 0 && isfinite(r->accuracy_f1))
        fprintf(f, "%5.3f  ", r->accuracy_f1);
    else
        fprintf(f, "%5s  ", "-");
}

/* Backend kserve: where a request's time went, client and server side. */
static void remote_table(FILE *f, const struct cvb_level_result *lv, int n) {
    const struct cvb_remote_result *r0 = NULL;
    for (int i = 0; i < n && r0 == NULL; i++)
        if (lv[i].remote.used && strcmp(lv[i].status, "ok") == 0) r0 = &lv[i].remote;
    if (r0 == NULL) return;
    fprintf(f, "\nkserve: server %s · payload %s · %d request(s) in flight per stream\n",
            r0->server[0] ? r0->server : "(unnamed)", r0->payload, r0->inflight);
    fprintf(f, "per request, mean ms: client serialise, round trip (network + server), "
               "deserialise; the server's queue and compute (its statistics); network = "
               "round trip - server\n");
    fprintf(f, "%7s %8s %7s %7s %8s %8s %7s %7s %7s %7s %6s %6s %6s\n", "streams", "req KiB",
            "ser", "deser", "rtt", "rtt p99", "s.queue", "s.comp", "network", "batch",
            "srv%", "cli%", "conns");
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *l = &lv[i];
        const struct cvb_remote_result *r = &l->remote;
        if (!r->used || strcmp(l->status, "ok") != 0) continue;
        fprintf(f, "%7d %8.1f %7.2f %7.2f %8.2f %8.2f ", l->streams, r->request_bytes / 1024.0,
                r->serialize_ms, r->deserialize_ms, r->roundtrip_ms, r->roundtrip_p99_ms);
        if (r->server_stats)
            fprintf(f, "%7.2f %7.2f %7.2f %7.2f %6.0f ", r->server_queue_ms,
                    r->server_compute_ms, r->network_ms, r->server_batch_mean,
                    r->server_busy_pct);
        else
            fprintf(f, "%7s %7s %7s %7s %6s ", "-", "-", "-", "-", "-");
        fprintf(f, "%6.0f %6d\n", r->client_cpu_pct, r->connections);
    }
}

void cvb_report_table(FILE *f, const struct cvb_manifest *m, const struct cvb_level_result *lv,
                      int n) {
    fprintf(f, "\nrun %s · model %s", m->run_id[0] ? m->run_id : "-",
            m->model_path[0] ? base_name(m->model_path) : "-");
    if (m->synthetic_weights) fprintf(f, " (%s)", CVB__SYNTHETIC_NOTE);
    fprintf(f, "\nbackend %s · isa %s · precision %s · mode %s · execution %s · pacing %s",
            m->backend[0] ? m->backend : "-", m->isa[0] ? m->isa : "-",
            m->precision[0] ? m->precision : "-", m->mode[0] ? m->mode : "-",
            m->execution[0] ? m->execution : "-", m->pacing[0] ? m->pacing : "-");
    if (strcmp(m->pacing, "camera") == 0) fprintf(f, " %.0f fps", m->target_fps);
    if (m->threads > 0) fprintf(f, " · %d threads", m->threads);
    if (m->density_streams >= 0)
        fprintf(f, "\nstream density: %d stream(s) held %.1f fps%s%s%s", m->density_streams,
                m->target_fps, m->density_decided[0] ? " (decided by " : "", m->density_decided,
                m->density_decided[0] ? ")" : "");
    fprintf(f, "\nwarm-up frames are excluded from every number below\n");
    for (int i = 0; i < n; i++)
        if (lv[i].accuracy_frames > 0) {
            fprintf(f, "F1: the level's detections against an fp32 reference engine's on frames "
                       "sampled during the level (IoU 0.5)\n");
            break;
        }
    fputc('\n', f);

    /* Fixed part of a row: 118 columns; the bottleneck gets the rest. */
    static const char head_fmt[] = "%7s %9s %8s %8s %8s %5s %5s %5s %5s %5s %6s %8s %6s %5s %6s  ";
    int fixed = fprintf(f, head_fmt, "streams", "fps", "fps/str", "p50 ms", "p99 ms", "dec%",
                        "pre%", "que%", "inf%", "post%", "cpu%", "RSS MiB", "stable", "cv%",
                        "drift%");
    fixed += fprintf(f, "%5s  ", "F1");
    fprintf(f, "bottleneck\n");
    int rest = TABLE_WIDTH - fixed;
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *r = &lv[i];
        if (r->status[0] && strcmp(r->status, "ok") != 0) {
            int w = fprintf(f, "%7d  %s: ", r->streams, r->status);
            put_clipped(f, r->error[0] ? r->error : "(no detail)", TABLE_WIDTH - w);
            fputc('\n', f);
            continue;
        }
        fprintf(f, "%7d %9.2f %8.2f %8.2f %8.2f %5.1f %5.1f %5.1f %5.1f %5.1f %6.0f %8.1f %6s %5.1f "
                   "%+6.1f  ",
                r->streams, r->fps, r->fps_per_stream, r->latency_p50_ms, r->latency_p99_ms,
                share_pct(r, CVB_STAGE_DECODE), share_pct(r, CVB_STAGE_PREPROCESS),
                share_pct(r, CVB_STAGE_QUEUE), share_pct(r, CVB_STAGE_INFER),
                share_pct(r, CVB_STAGE_POSTPROCESS), r->cpu_process_pct,
                (double)r->rss_peak_bytes / (1024.0 * 1024.0), r->stable ? "yes" : "NO",
                r->window_cv_pct, r->window_drift_pct);
        accuracy_cell(f, r);
        put_clipped(f, r->bottleneck[0] ? r->bottleneck : "-", rest);
        fputc('\n', f);
    }
    remote_table(f, lv, n);
    fputc('\n', f);
    put_wrapped(f, CVB__LATENCY_NOTE ".", 100);
    put_wrapped(f, CVB__STABLE_NOTE ".", 100);
    fflush(f);
}
