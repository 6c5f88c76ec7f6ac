/* SPDX-License-Identifier: Apache-2.0 */
/* The `--report FILE.html` page: one self-contained file (inline CSS and
 * inline SVG; no script, no external fonts, images or links) that opens in a
 * browser without network access.
 *
 * Contents: title and manifest summary (with a badge when the weights are
 * synthetic), the results table, and four charts drawn here as SVG:
 *   1. throughput: total fps (left axis) and fps per stream (right axis) vs streams
 *   2. latency percentiles p50/p90/p99 vs streams
 *   3. stage-time shares, one stacked bar per level
 *   4. RSS over time, one line per level (time since the level started)
 * Levels that did not finish ("refused", "failed") appear in the table with
 * their reason and are left out of the charts. Every string that comes from
 * the run goes through html_str(), which escapes & < > " '. */
#include "cvb/report.h"
#include "report/result_json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024.0 * 1024.0)

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
static const char *const stage_color[CVB_STAGE_COUNT] = {"#4e79a7", "#f28e2b", "#bab0ac", "#e15759",
                                                         "#76b7b2"};

/* ---- text ------------------------------------------------------------------ */

/* Escaped text of a fixed-size field (at most 'cap' bytes). */
static void html_str(FILE *f, const char *s, size_t cap) {
    for (size_t i = 0; i < cap && s[i]; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(s[i], f);
        }
    }
}
#define HTML_STR(f, field) html_str(f, field, sizeof(field))

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

static bool level_ok(const struct cvb_level_result *r) {
    return r->status[0] == '\0' || strcmp(r->status, "ok") == 0;
}

/* ---- chart frame: scales, axes, legend -------------------------------------- */

#define SVG_W 600
#define SVG_H 340

struct chart {
    double left, right, top, bottom; /* plot area in SVG units */
    double ymax, ystep;              /* left axis: 0..ymax */
    double y2max, y2step;            /* right axis (0: none) */
    double xmax, xstep;              /* numeric x axis (0: categorical) */
    int n_cat;                       /* categorical x: number of slots */
};

/* A "nice" axis for 0..v: step 1, 2 or 5 x 10^k, about five ticks. */
static void nice_axis(double v, double *max, double *step) {
    if (!(v > 0) || !isfinite(v)) v = 1;
    /* cppcheck-suppress invalidFunctionArg ; v > 0 is guaranteed above */
    double raw = v / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double s = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
    *step = s;
    *max = ceil(v / s - 1e-9) * s;
}

static void tick_label(char *buf, size_t len, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, len, "%.*f", dec, v);
}

static double ypos(const struct chart *c, double v, double max) {
    return c->bottom - (c->bottom - c->top) * (v / max);
}
static double xcat(const struct chart *c, int i) {
    return c->left + (c->right - c->left) * (i + 0.5) / c->n_cat;
}
static double xnum(const struct chart *c, double v) {
    return c->left + (c->right - c->left) * (v / c->xmax);
}

static void svg_open(FILE *f, const char *label) {
    fprintf(f, "<svg viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
            SVG_W, SVG_H, SVG_W, SVG_H);
    html_str(f, label, 256);
    fprintf(f, "\">\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", SVG_W,
            SVG_H);
}

/* Grid, ticks and labels of the left (and right) axis, the x axis, titles. */
static void axes(FILE *f, const struct chart *c, const char *ytitle, const char *y2title,
                 const char *xtitle, const int *cat_labels) {
    char lab[32];
    for (double v = 0; v <= c->ymax * (1 + 1e-9); v += c->ystep) {
        double y = ypos(c, v, c->ymax);
        tick_label(lab, sizeof lab, v, c->ystep);
        fprintf(f,
                "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                c->left, y, c->right, y, c->left - 6, y + 4, lab);
    }
    if (c->y2max > 0) {
        for (double v = 0; v <= c->y2max * (1 + 1e-9); v += c->y2step) {
            double y = ypos(c, v, c->y2max);
            tick_label(lab, sizeof lab, v, c->y2step);
            fprintf(f,
                    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                    c->right, y, c->right + 4, y, c->right + 7, y + 4, lab);
        }
        fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                c->right, c->top, c->right, c->bottom);
        fprintf(f,
                "<text class=\"title\" transform=\"translate(%.1f %.1f) rotate(90)\" "
                "text-anchor=\"middle\">%s</text>\n",
                (double)SVG_W - 12, (c->top + c->bottom) / 2, y2title);
    }
    fprintf(f,
            "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
            "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            c->left, c->top, c->left, c->bottom, c->left, c->bottom, c->right, c->bottom);
    if (c->xmax > 0) {
        for (double v = 0; v <= c->xmax * (1 + 1e-9); v += c->xstep) {
            double x = xnum(c, v);
            tick_label(lab, sizeof lab, v, c->xstep);
            fprintf(f,
                    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s"
                    "</text>\n",
                    x, c->bottom, x, c->bottom + 4, x, c->bottom + 18, lab);
        }
    } else {
        for (int i = 0; i < c->n_cat; i++) {
            double x = xcat(c, i);
            fprintf(f,
                    "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
                    "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d"
                    "</text>\n",
                    x, c->bottom, x, c->bottom + 4, x, c->bottom + 18, cat_labels[i]);
        }
    }
    fprintf(f, "<text class=\"title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
            (c->left + c->right) / 2, c->bottom + 38, xtitle);
    fprintf(f,
            "<text class=\"title\" transform=\"translate(16 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">%s</text>\n",
            (c->top + c->bottom) / 2, ytitle);
}

/* Legend above the plot, wrapping onto more rows when needed. 'dashed'
 * marks series drawn with dashes; 'box' draws swatches instead of lines. */
struct legend_item {
    const char *text;
    const char *color;
    bool dashed;
};
static void legend(FILE *f, const struct chart *c, const struct legend_item *it, int n, bool box) {
    double x = c->left, y = 14;
    for (int i = 0; i < n; i++) {
        double w = 26 + 6.5 * (double)strlen(it[i].text) + 14;
        if (x + w > c->right && x > c->left) {
            x = c->left;
            y += 16;
        }
        if (box)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"10\" fill=\"%s\"/>", x,
                    y - 9, it[i].color);
        else
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                    "stroke-width=\"2.5\"%s/>",
                    x, y - 4, x + 18, y - 4, it[i].color,
                    it[i].dashed ? " stroke-dasharray=\"5 3\"" : "");
        fprintf(f, "<text class=\"legend\" x=\"%.1f\" y=\"%.1f\">", x + 24, y);
        html_str(f, it[i].text, 128);
        fprintf(f, "</text>\n");
        x += w;
    }
}

static void no_data(FILE *f) {
    fprintf(f,
            "<text class=\"title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no finished "
            "level to plot</text>\n",
            SVG_W / 2, SVG_H / 2);
}

/* A polyline with a dot and a tooltip per point; skips non-finite values. */
static void series(FILE *f, const struct chart *c, const double *v, int n, double max,
                   const char *color, bool dashed, const char *what, const int *streams) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s points=\"", color,
            dashed ? " stroke-dasharray=\"5 3\"" : "");
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) fprintf(f, "%.1f,%.1f ", xcat(c, i), ypos(c, v[i], max));
    fprintf(f, "\"/>\n");
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%d streams: "
                    "%s %.2f</title></circle>\n",
                    xcat(c, i), ypos(c, v[i], max), color, streams[i], what, v[i]);
}

static struct chart frame(int n_cat) {
    struct chart c = {.left = 64, .right = SVG_W - 64, .top = 52, .bottom = SVG_H - 52};
    c.n_cat = n_cat;
    return c;
}

static double max_of(const double *v, int n) {
    double m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]) && v[i] > m) m = v[i];
    return m;
}

/* ---- the four charts ---------------------------------------------------------- */

/* ok levels only, compacted into 'ok' (indices into lv); returns their count. */
static int ok_levels(const struct cvb_level_result *lv, int n, int *ok) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (level_ok(&lv[i])) ok[k++] = i;
    return k;
}

static void chart_throughput(FILE *f, const struct cvb_level_result *lv, const int *ok, int k,
                             double *a, double *b, int *streams) {
    svg_open(f, "throughput vs streams");
    if (k == 0) goto out;
    for (int i = 0; i < k; i++) {
        a[i] = lv[ok[i]].fps;
        b[i] = lv[ok[i]].fps_per_stream;
        streams[i] = lv[ok[i]].streams;
    }
    struct chart c = frame(k);
    nice_axis(max_of(a, k), &c.ymax, &c.ystep);
    nice_axis(max_of(b, k), &c.y2max, &c.y2step);
    axes(f, &c, "total fps", "fps per stream", "streams", streams);
    series(f, &c, a, k, c.ymax, palette[0], false, "total fps", streams);
    series(f, &c, b, k, c.y2max, palette[1], true, "fps per stream", streams);
    struct legend_item it[] = {{"total fps (left axis)", palette[0], false},
                               {"fps per stream (right axis)", palette[1], true}};
    legend(f, &c, it, 2, false);
out:
    if (k == 0) no_data(f);
    fprintf(f, "</svg>\n");
}

static void chart_latency(FILE *f, const struct cvb_level_result *lv, const int *ok, int k,
                          double *p50, double *p90, double *p99, int *streams) {
    svg_open(f, "latency percentiles vs streams");
    if (k == 0) goto out;
    for (int i = 0; i < k; i++) {
        p50[i] = lv[ok[i]].latency_p50_ms;
        p90[i] = lv[ok[i]].latency_p90_ms;
        p99[i] = lv[ok[i]].latency_p99_ms;
        streams[i] = lv[ok[i]].streams;
    }
    struct chart c = frame(k);
    double m = fmax(max_of(p50, k), fmax(max_of(p90, k), max_of(p99, k)));
    nice_axis(m, &c.ymax, &c.ystep);
    axes(f, &c, "frame latency, ms", NULL, "streams", streams);
    series(f, &c, p50, k, c.ymax, palette[2], false, "p50 ms", streams);
    series(f, &c, p90, k, c.ymax, palette[3], false, "p90 ms", streams);
    series(f, &c, p99, k, c.ymax, palette[1], false, "p99 ms", streams);
    struct legend_item it[] = {
        {"p50", palette[2], false}, {"p90", palette[3], false}, {"p99", palette[1], false}};
    legend(f, &c, it, 3, false);
out:
    if (k == 0) no_data(f);
    fprintf(f, "</svg>\n");
}

static void chart_stages(FILE *f, const struct cvb_level_result *lv, const int *ok, int k,
                         int *streams) {
    svg_open(f, "stage-time shares per level");
    if (k == 0) goto out;
    for (int i = 0; i < k; i++)
        streams[i] = lv[ok[i]].streams;
    struct chart c = frame(k);
    c.ymax = 100;
    c.ystep = 20;
    axes(f, &c, "share of frame time, %", NULL, "streams", streams);
    double slot = (c.right - c.left) / k, bw = fmin(slot * 0.6, 70);
    for (int i = 0; i < k; i++) {
        const struct cvb_level_result *r = &lv[ok[i]];
        double acc = 0;
        for (int s = 0; s < CVB_STAGE_COUNT; s++) {
            double sh = r->stages[s].share;
            if (!isfinite(sh) || sh <= 0) continue;
            double pct = fmin(100 * sh, 100 - acc);
            if (pct <= 0) break;
            double y1 = ypos(&c, acc + pct, 100), y0 = ypos(&c, acc, 100);
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                    "<title>%d streams: %s %.1f %% (%.2f ms)</title></rect>\n",
                    xcat(&c, i) - bw / 2, y1, bw, y0 - y1, stage_color[s], r->streams,
                    cvb_stage_name((enum cvb_stage)s), 100 * sh, r->stages[s].mean_ms);
            acc += pct;
        }
    }
    struct legend_item it[CVB_STAGE_COUNT];
    for (int s = 0; s < CVB_STAGE_COUNT; s++)
        it[s] = (struct legend_item){cvb_stage_name((enum cvb_stage)s), stage_color[s], false};
    legend(f, &c, it, CVB_STAGE_COUNT, true);
out:
    if (k == 0) no_data(f);
    fprintf(f, "</svg>\n");
}

static void chart_rss(FILE *f, const struct cvb_level_result *lv, const int *ok, int k,
                      char (*names)[32], struct legend_item *it) {
    svg_open(f, "RSS over time per level");
    double tmax = 0, bmax = 0;
    int with_data = 0;
    for (int i = 0; i < k; i++) {
        const struct cvb_level_result *r = &lv[ok[i]];
        int n = r->n_rss > CVB_MAX_RSS_SAMPLES ? CVB_MAX_RSS_SAMPLES : r->n_rss;
        for (int j = 0; j < n; j++) {
            if (isfinite(r->rss_t_s[j]) && r->rss_t_s[j] > tmax) tmax = r->rss_t_s[j];
            if (r->rss_bytes[j] / MIB > bmax) bmax = r->rss_bytes[j] / MIB;
        }
        if (n > 0) with_data++;
    }
    if (with_data == 0) goto out;
    struct chart c = frame(0);
    nice_axis(tmax, &c.xmax, &c.xstep);
    nice_axis(bmax, &c.ymax, &c.ystep);
    axes(f, &c, "resident memory, MiB", NULL, "seconds since the level started", NULL);
    int n_items = 0;
    for (int i = 0; i < k; i++) {
        const struct cvb_level_result *r = &lv[ok[i]];
        int n = r->n_rss > CVB_MAX_RSS_SAMPLES ? CVB_MAX_RSS_SAMPLES : r->n_rss;
        if (n <= 0) continue;
        const char *color = palette[i % CVB_ARRAY_LEN(palette)];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
        for (int j = 0; j < n; j++)
            if (isfinite(r->rss_t_s[j]))
                fprintf(f, "%.1f,%.1f ", xnum(&c, r->rss_t_s[j]),
                        ypos(&c, r->rss_bytes[j] / MIB, c.ymax));
        fprintf(f, "\"><title>%d streams: peak %.1f MiB</title></polyline>\n", r->streams,
                r->rss_peak_bytes / MIB);
        snprintf(names[n_items], 32, "%d stream%s", r->streams, r->streams == 1 ? "" : "s");
        it[n_items] = (struct legend_item){names[n_items], color, false};
        n_items++;
    }
    legend(f, &c, it, n_items, false);
out:
    if (with_data == 0)
        fprintf(f,
                "<text class=\"title\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">no RSS "
                "samples recorded</text>\n",
                SVG_W / 2, SVG_H / 2);
    fprintf(f, "</svg>\n");
}

/* ---- page ------------------------------------------------------------------------ */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
    "margin:24px auto;max-width:1240px;padding:0 16px;color:#222;background:#fafafa}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}"
    ".badge{display:inline-block;padding:2px 8px;border-radius:10px;font-size:12px;"
    "font-weight:600;vertical-align:middle;margin-left:8px}"
    ".synthetic{background:#fde2b8;color:#7a4100;border:1px solid #e8a33d}"
    ".real{background:#d7f0dc;color:#17572a;border:1px solid #64b77a}"
    ".note{background:#fff4e0;border-left:4px solid #e8a33d;padding:6px 10px;margin:10px 0}"
    "dl.manifest{display:grid;grid-template-columns:max-content 1fr max-content 1fr;"
    "gap:3px 14px;font-size:13px;margin:12px 0}"
    "dl.manifest dt{color:#666}dl.manifest dd{margin:0;word-break:break-all}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;font-size:11.5px;background:#fff;width:100%}"
    "th,td{border:1px solid #ddd;padding:3px 4px;text-align:right;white-space:nowrap}"
    "th{background:#f0f0f0;white-space:normal;vertical-align:bottom}"
    "td.txt{text-align:left;white-space:normal;min-width:140px}th.txt{text-align:left}"
    "tr.unstable td{background:#fff8e6}tr.bad td{background:#fdecec}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}"
    "figure{margin:0;background:#fff;border:1px solid #ddd;padding:8px}"
    "figcaption{font-weight:600;font-size:14px;margin-bottom:4px}"
    "svg{max-width:100%;height:auto;font-family:inherit}"
    "svg .grid{stroke:#e6e6e6;stroke-width:1}svg .axis{stroke:#555;stroke-width:1}"
    "svg .tick{font-size:11px;fill:#444}svg .title{font-size:12px;fill:#333}"
    "svg .legend{font-size:11.5px;fill:#222}"
    "footer{margin-top:24px;font-size:12px;color:#777}";

static void dd(FILE *f, const char *term, const char *val, size_t cap) {
    fprintf(f, "<dt>%s</dt><dd>", term);
    if (val[0])
        html_str(f, val, cap);
    else
        fputs("-", f);
    fputs("</dd>", f);
}
#define DD(f, term, field) dd(f, term, field, sizeof(field))

static void manifest_summary(FILE *f, const struct cvb_manifest *m) {
    char buf[160];
    fputs("<dl class=\"manifest\">", f);
    DD(f, "model", m->model_path);
    DD(f, "model SHA-256", m->model_sha256);
    DD(f, "model input", m->model_input);
    snprintf(buf, sizeof buf, "%.2f", m->model_gflops);
    dd(f, "GFLOPs", m->model_gflops > 0 ? buf : "", sizeof buf);
    DD(f, "CPU", m->cpu_model);
    snprintf(buf, sizeof buf, "%d CPUs, %.1f GiB", m->n_cpus,
             (double)m->mem_total_bytes / (1024.0 * MIB));
    dd(f, "machine", buf, sizeof buf);
    DD(f, "CPU flags", m->cpu_flags);
    DD(f, "ISA", m->isa);
    DD(f, "backend", m->backend);
    DD(f, "precision", m->precision);
    snprintf(buf, sizeof buf, "%s / %s / %s", m->mode, m->execution, m->pacing);
    dd(f, "mode / execution / pacing", buf, sizeof buf);
    snprintf(buf, sizeof buf, "%d", m->threads);
    dd(f, "threads", m->threads > 0 ? buf : "", sizeof buf);
    DD(f, "video", m->video_path);
    DD(f, "video format", m->video_desc);
    DD(f, "date", m->started_at);
    DD(f, "host", m->hostname);
    DD(f, "run id", m->run_id);
    snprintf(buf, sizeof buf, "%.31s (commit %.47s)", m->cvbench_version, m->git_commit);
    dd(f, "cvbench", buf, sizeof buf);
    DD(f, "libraries", m->libraries);
    if (strcmp(m->pacing, "camera") == 0) {
        snprintf(buf, sizeof buf, "%.1f", m->target_fps);
        dd(f, "target fps", buf, sizeof buf);
    }
    fputs("</dl>\n", f);
}

static void results_table(FILE *f, const struct cvb_level_result *lv, int n) {
    fputs("<div "
          "class=\"scroll\"><table>\n<tr><th>streams</th><th>frames</th><th>fps</th><th>fps/"
          "stream</th>"
          "<th>min fps/stream</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>"
          "<th>max ms</th>",
          f);
    static const char *const short_name[CVB_STAGE_COUNT] = {"decode", "pre", "queue", "infer",
                                                            "post"};
    for (int s = 0; s < CVB_STAGE_COUNT; s++)
        fprintf(f, "<th>%s %%</th>", short_name[s]);
    fputs("<th>CPU % process / system</th><th>engine busy %</th><th>RSS MiB peak / est.</th>"
          "<th>drop / late</th><th>stable</th><th class=\"txt\">bottleneck</th></tr>\n",
          f);
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *r = &lv[i];
        if (!level_ok(r)) {
            fprintf(f, "<tr class=\"bad\"><td>%d</td><td class=\"txt\" colspan=\"%d\">", r->streams,
                    14 + CVB_STAGE_COUNT); /* all columns but the first */
            HTML_STR(f, r->status);
            fputs(": ", f);
            HTML_STR(f, r->error);
            fputs("</td></tr>\n", f);
            continue;
        }
        fprintf(f,
                "<tr%s><td>%d</td><td>%lld</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>",
                r->stable ? "" : " class=\"unstable\"", r->streams, (long long)r->frames, r->fps,
                r->fps_per_stream, r->fps_per_stream_min, r->latency_p50_ms, r->latency_p90_ms,
                r->latency_p99_ms, r->latency_max_ms);
        for (int s = 0; s < CVB_STAGE_COUNT; s++)
            fprintf(f, "<td>%.1f</td>", 100 * r->stages[s].share);
        fprintf(f,
                "<td>%.0f / %.0f</td><td>%.0f</td><td>%.0f / %.0f</td>"
                "<td>%lld / %lld</td><td>%s (cv %.1f %%, drift %+.1f %%)</td><td class=\"txt\">",
                r->cpu_process_pct, r->cpu_system_pct, r->engine_busy_pct, r->rss_peak_bytes / MIB,
                r->mem_estimate_bytes / MIB, (long long)r->dropped_frames,
                (long long)r->late_frames, r->stable ? "yes" : "<b>no</b>", r->window_cv_pct,
                r->window_drift_pct);
        HTML_STR(f, r->bottleneck);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

/* Accuracy under load: one row per level that measured it; nothing when
 * none did. */
static void accuracy_table(FILE *f, const struct cvb_level_result *lv, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += level_ok(&lv[i]) && lv[i].accuracy_frames > 0;
    if (k == 0) return;
    fputs("<h2>Accuracy under load</h2>\n<p>Detections the level produced on frames sampled "
          "while it ran, against an fp32 reference engine's on the same frames (same model "
          "and ISA), matched greedily by score: same class, IoU &ge; 0.5. F1 = 2 matched / "
          "(reference boxes + boxes under test), pooled over the frames; 1.000 when neither "
          "side has a box.</p>\n<div class=\"scroll\"><table class=\"accuracy\">\n<tr>"
          "<th>streams</th><th>frames sampled</th><th>F1 @ IoU 0.5</th><th>mean IoU</th>"
          "<th>matched</th><th>reference boxes</th><th>boxes under test</th></tr>\n",
          f);
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *r = &lv[i];
        if (!level_ok(r) || r->accuracy_frames <= 0) continue;
        fprintf(f,
                "<tr><td>%d</td><td>%d</td><td>%.3f</td><td>%.3f</td><td>%lld</td><td>%lld</td>"
                "<td>%lld</td></tr>\n",
                r->streams, r->accuracy_frames, r->accuracy_f1, r->accuracy_mean_iou,
                (long long)r->accuracy_matched, (long long)r->accuracy_ref_boxes,
                (long long)r->accuracy_test_boxes);
    }
    fputs("</table></div>\n", f);
}

/* Backend kserve: where a request's time went, one row per level. */
static void remote_table(FILE *f, const struct cvb_level_result *lv, int n) {
    const struct cvb_remote_result *r0 = NULL;
    for (int i = 0; i < n && r0 == NULL; i++)
        if (level_ok(&lv[i]) && lv[i].remote.used) r0 = &lv[i].remote;
    if (r0 == NULL) return;
    fputs("<h2>Model server (kserve)</h2>\n<p>Server ", f);
    html_str(f, r0->server[0] ? r0->server : "(unnamed)", sizeof r0->server);
    fprintf(f, ", payload %s, %d request(s) in flight per stream. Per request, mean ms: the "
               "client's serialisation, the round trip (network + server) and "
               "deserialisation; the server's queue and compute time and busy ratio come "
               "from its statistics extension over the level; network = round trip &minus; "
               "server queue &minus; server compute.</p>\n<div class=\"scroll\"><table>\n<tr>"
               "<th>streams</th><th>request KiB</th><th>serialise</th><th>round trip</th>"
               "<th>round trip p99</th><th>deserialise</th><th>server queue</th>"
               "<th>server compute</th><th>network</th><th>batch</th><th>server busy %%</th>"
               "<th>client CPU %%</th></tr>\n",
            r0->payload, r0->inflight);
    for (int i = 0; i < n; i++) {
        const struct cvb_level_result *l = &lv[i];
        const struct cvb_remote_result *r = &l->remote;
        if (!level_ok(l) || !r->used) continue;
        fprintf(f, "<tr><td>%d</td><td>%.1f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td>"
                   "<td>%.2f</td>",
                l->streams, r->request_bytes / 1024.0, r->serialize_ms, r->roundtrip_ms,
                r->roundtrip_p99_ms, r->deserialize_ms);
        if (r->server_stats)
            fprintf(f, "<td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.2f</td><td>%.0f</td>",
                    r->server_queue_ms, r->server_compute_ms, r->network_ms,
                    r->server_batch_mean, r->server_busy_pct);
        else
            fputs("<td colspan=\"5\">no statistics extension</td>", f);
        fprintf(f, "<td>%.0f</td></tr>\n", r->client_cpu_pct);
    }
    fputs("</table></div>\n", f);
}

int cvb_report_html_stream(FILE *f, const char *name, const struct cvb_manifest *m,
                           const struct cvb_level_result *lv, int n, struct cvb_err *err) {
    int rc = 0;
    const char *path = name;
    /* Scratch for the charts, sized by the number of levels. */
    int nn = n > 0 ? n : 1;
    int *ok = calloc((size_t)nn, sizeof *ok), *streams = calloc((size_t)nn, sizeof *streams);
    double *s1 = calloc((size_t)nn * 3, sizeof *s1);
    char(*names)[32] = calloc((size_t)nn, sizeof *names);
    struct legend_item *items = calloc((size_t)nn, sizeof *items);
    if (ok == NULL || streams == NULL || s1 == NULL || names == NULL || items == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "out of memory writing HTML report %s", path);
        goto out;
    }
    const char *model = m->model_path[0] ? base_name(m->model_path) : "(no model)";
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
          "cvbench report: ",
          f);
    html_str(f, model, 256);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>cvbench report: ", css);
    html_str(f, model, 256);
    if (m->synthetic_weights)
        fputs("<span class=\"badge synthetic\">synthetic weights</span>", f);
    else
        fputs("<span class=\"badge real\">trained weights</span>", f);
    fputs("</h1>\n", f);
    if (m->synthetic_weights) fputs("<p class=\"note\">" CVB__SYNTHETIC_NOTE "</p>\n", f);
    manifest_summary(f, m);
    if (m->density_streams >= 0) {
        fprintf(f, "<p><b>Stream density:</b> %d stream(s) held %.1f fps", m->density_streams,
                m->target_fps);
        if (m->density_decided[0]) {
            fputs(" (decided by ", f);
            html_str(f, m->density_decided, sizeof m->density_decided);
            fputs(")", f);
        }
        fputs("</p>\n", f);
    }
    fputs("</header>\n<h2>Results</h2>\n", f);
    fputs("<p>Warm-up frames are excluded from every number. " CVB__LATENCY_NOTE ". "
          CVB__STABLE_NOTE "; unstable levels are highlighted.</p>\n",
          f);
    results_table(f, lv, n);
    accuracy_table(f, lv, n);
    remote_table(f, lv, n);

    int k = ok_levels(lv, n, ok);
    fputs("<h2>Charts</h2>\n<div class=\"charts\">\n", f);
    fputs("<figure><figcaption>Throughput vs streams</figcaption>\n", f);
    chart_throughput(f, lv, ok, k, s1, s1 + nn, streams);
    fputs("</figure>\n<figure><figcaption>Latency percentiles vs streams</figcaption>\n", f);
    chart_latency(f, lv, ok, k, s1, s1 + nn, s1 + 2 * nn, streams);
    fputs("</figure>\n<figure><figcaption>Where frame time goes (stage shares per level)"
          "</figcaption>\n",
          f);
    chart_stages(f, lv, ok, k, streams);
    fputs("</figure>\n<figure><figcaption>Resident memory over time, per level</figcaption>\n", f);
    chart_rss(f, lv, ok, k, names, items);
    fputs("</figure>\n</div>\n<footer>generated by cvbench ", f);
    HTML_STR(f, m->cvbench_version);
    fputs(" · run ", f);
    HTML_STR(f, m->run_id);
    fputs("</footer>\n</body>\n</html>\n", f);
    if (ferror(f)) rc = cvb_err_set(err, CVB_EIO, "cannot write HTML report %s", path);
out:
    free(ok);
    free(streams);
    free(s1);
    free(names);
    free(items);
    return rc;
}

int cvb_report_html(const char *path, const struct cvb_manifest *m,
                    const struct cvb_level_result *lv, int n, struct cvb_err *err) {
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return cvb_err_set(err, CVB_EIO, "cannot write HTML report %s: %s", path, strerror(errno));
    int rc = cvb_report_html_stream(f, path, m, lv, n, err);
    if (fclose(f) != 0 && rc == 0)
        rc = cvb_err_set(err, CVB_EIO, "cannot write HTML report %s: %s", path, strerror(errno));
    return rc;
}
