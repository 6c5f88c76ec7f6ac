/* SPDX-License-Identifier: Apache-2.0 */
/* Level statistics: histograms, throughput windows, stability, bottleneck.
 * See stats.h for the contracts. */
#include "pipeline/stats.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define HIST_G 1.01
#define HIST_MIN_NS 1000.0

static double log_g(void) {
    static double v;
    if (v == 0) v = log(HIST_G);
    return v;
}

void cvb__hist_reset(struct cvb_hist *h) { memset(h, 0, sizeof *h); }

void cvb__hist_add(struct cvb_hist *h, uint64_t ns) {
    int i = 0;
    if (ns > HIST_MIN_NS) {
        double x = log((double)ns / HIST_MIN_NS) / log_g();
        i = x >= CVB_HIST_BUCKETS - 1 ? CVB_HIST_BUCKETS - 1 : (int)x;
    }
    h->count[i]++;
    if (h->n == 0 || ns < h->min_ns) h->min_ns = ns;
    if (ns > h->max_ns) h->max_ns = ns;
    h->n++;
    h->sum_ns += (double)ns;
}

void cvb__hist_merge(struct cvb_hist *into, const struct cvb_hist *h) {
    if (h->n == 0) return;
    if (into->n == 0 || h->min_ns < into->min_ns) into->min_ns = h->min_ns;
    if (h->max_ns > into->max_ns) into->max_ns = h->max_ns;
    into->n += h->n;
    into->sum_ns += h->sum_ns;
    for (int i = 0; i < CVB_HIST_BUCKETS; i++) into->count[i] += h->count[i];
}

double cvb__hist_pct_ms(const struct cvb_hist *h, double p) {
    if (h->n == 0) return 0;
    if (p >= 100) return h->max_ns / 1e6;
    int64_t rank = (int64_t)ceil(p / 100.0 * (double)h->n);
    if (rank < 1) rank = 1;
    int64_t seen = 0;
    for (int i = 0; i < CVB_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            double mid = HIST_MIN_NS * exp(((double)i + 0.5) * log_g());
            /* Never report outside the exact range. */
            if (mid < (double)h->min_ns) mid = (double)h->min_ns;
            if (mid > (double)h->max_ns) mid = (double)h->max_ns;
            return mid / 1e6;
        }
    }
    return h->max_ns / 1e6;
}

double cvb__hist_mean_ms(const struct cvb_hist *h) { return h->n ? h->sum_ns / h->n / 1e6 : 0; }

/* ---- windows ------------------------------------------------------------------ */

void cvb__windows_init(struct cvb_windows *w, double min_s, int64_t min_frames) {
    memset(w, 0, sizeof *w);
    w->min_s = min_s > 0 ? min_s : 1.0;
    w->min_frames = min_frames > 0 ? min_frames : 1;
}

void cvb__windows_open(struct cvb_windows *w, double t_s) {
    if (w->open) return;
    if (!(t_s >= 0)) t_s = 0;
    w->open = true;
    w->t_open = w->t_last = t_s;
    w->n_open = 0;
}

/* Merge adjacent pairs of closed windows: the count of windows halves,
 * memory stays the same, and later windows are made as long as the merged
 * ones so that all stay comparable. */
static void windows_merge(struct cvb_windows *w) {
    int k;
    for (k = 0; 2 * k + 1 < w->n; k++) {
        w->count[k] = w->count[2 * k] + w->count[2 * k + 1];
        w->span_s[k] = w->span_s[2 * k] + w->span_s[2 * k + 1];
    }
    if (2 * k < w->n) { /* an odd last window stays as it is */
        w->count[k] = w->count[2 * k];
        w->span_s[k] = w->span_s[2 * k];
        k++;
    }
    w->n = k;
    w->min_s *= 2;
    w->min_frames *= 2;
}

void cvb__windows_add(struct cvb_windows *w, double t_s) {
    if (!w->open) return;
    if (!(t_s >= 0)) t_s = 0;
    if (t_s > w->t_last) w->t_last = t_s;
    w->n_open++;
    if (w->n_open < w->min_frames || w->t_last - w->t_open < w->min_s) return;
    if (w->n == CVB_MAX_WINDOWS) {
        /* Full: merge, then close this window only if it is as long as the
         * merged ones. */
        windows_merge(w);
        if (w->n_open < w->min_frames || w->t_last - w->t_open < w->min_s) return;
    }
    w->count[w->n] = w->n_open;
    w->span_s[w->n] = w->t_last - w->t_open;
    w->n++;
    w->t_open = w->t_last;
    w->n_open = 0;
}

int cvb__windows_fps(const struct cvb_windows *w, double *fps, int max) {
    int k = 0;
    for (int i = 0; i < w->n && k < max; i++)
        fps[k++] = w->span_s[i] > 0 ? (double)w->count[i] / w->span_s[i] : 0;
    return k;
}

static double mean_of(const double *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += v[i];
    return n > 0 ? s / n : 0;
}

void cvb__stability(const double *fps, int n, struct cvb_stability *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n <= 0) return;
    out->mean = mean_of(fps, n);
    if (!(out->mean > 0)) return;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (fps[i] - out->mean) * (fps[i] - out->mean);
    out->cv = sqrt(ss / n) / out->mean;
    int third = n / 3 > 0 ? n / 3 : 1;
    out->drift = (mean_of(fps + n - third, third) - mean_of(fps, third)) / out->mean;
    out->stable = n >= 3 && out->cv <= CVB_STABLE_CV && fabs(out->drift) <= CVB_STABLE_DRIFT;
}

/* ---- bottleneck verdict --------------------------------------------------------
 * The stage group with the highest busy fraction bounds throughput, in this
 * order of precedence (thresholds are busy fractions of the time available
 * to that group over the measured wall time):
 *   1. camera pacing and every stream held its target (>= 95 %, no drops):
 *      the camera sets the rate, nothing is saturated:
 *        "camera-paced: streams hold 30.0 fps (engine busy 41 %)"
 *   2. engine busy >= 85 %: the engine instances are saturated:
 *        "inference-bound: engine busy 97 %"
 *   3. workers busy >= 85 % but engine < 85 %: the work beside inference on
 *      the workers (postprocess or the float conversion) fills them:
 *        "postprocess-bound: engine busy 60 %, workers busy 95 %"
 *        "preprocess-bound: engine busy 60 %, workers busy 95 %"  (conversion)
 *   4. producers (decode + letterbox threads) busy >= 85 %: they cannot feed
 *      the engine; named after the larger of decode and letterbox:
 *        "decode-bound: engine idle 60 %, decode threads busy 95 %"
 *        "preprocess-bound: engine idle 60 %, decode threads busy 95 %"
 *   5. the machine's CPUs are >= 90 % busy: the stages starve each other of
 *      cores rather than one stage saturating its own threads:
 *        "cpu-bound: system CPU 98 %, engine busy 70 %"
 *   6. otherwise nothing is saturated (too few streams to fill the engine
 *      instances, or pacing/latency limits):
 *        "under-loaded: engine idle 55 % with 1 stream(s) for 2 instance(s)"
 * Backend kserve (the engine is the server's; its busy ratio comes from the
 * server's statistics over the level), after rule 1:
 *   2. server busy >= 85 %:   "server-bound: server busy 93 %"
 *   3. network >= 50 % of the round trip (round trip - server queue -
 *      server compute):     "network-bound: network 62 % of the 12.3 ms
 *                              round trip, server busy 40 %"
 *   4. otherwise the client does not keep the server fed (too few streams
 *      or requests in flight, or its own decode, serialisation or NMS):
 *        "client-bound (server idle 35 %): client CPU 80 %, system CPU 97 %"
 *   without server statistics nothing can be said of the server:
 *        "server busy unknown (no statistics extension): round trip 12.3 ms,
 *         client CPU 40 %" */
static void remote_verdict(const struct cvb_busy *b, char *out, int len) {
    double srv = 100 * b->server;
    if (!b->server_stats)
        snprintf(out, len,
                 "server busy unknown (no statistics extension): round trip %.1f ms, client "
                 "CPU %.0f %%",
                 b->roundtrip_ms, 100 * b->client_cpu);
    else if (b->server >= 0.85)
        snprintf(out, len, "server-bound: server busy %.0f %%", srv);
    else if (b->network_share >= 0.5)
        snprintf(out, len, "network-bound: network %.0f %% of the %.1f ms round trip, server "
                 "busy %.0f %%", 100 * b->network_share, b->roundtrip_ms, srv);
    else
        snprintf(out, len, "client-bound (server idle %.0f %%): client CPU %.0f %%, system CPU "
                 "%.0f %%", 100 - srv, 100 * b->client_cpu, 100 * b->cpu_system);
}

void cvb__bottleneck(const struct cvb_busy *b, char *out, int len) {
    double eng = 100 * b->engine;
    if (b->remote && !(b->camera && b->held)) {
        remote_verdict(b, out, len);
        return;
    }
    if (b->camera && b->held) {
        snprintf(out, len, "camera-paced: streams hold %.1f fps (engine busy %.0f %%)",
                 b->fps_per_stream_min, eng);
    } else if (b->engine >= 0.85) {
        snprintf(out, len, "inference-bound: engine busy %.0f %%", eng);
    } else if (b->worker >= 0.85) {
        snprintf(out, len, "%s-bound: engine busy %.0f %%, workers busy %.0f %%",
                 b->post_share >= 0.5 ? "postprocess" : "preprocess", eng, 100 * b->worker);
    } else if (b->producer >= 0.85) {
        snprintf(out, len, "%s-bound: engine idle %.0f %%, decode threads busy %.0f %%",
                 b->decode_share >= 0.5 ? "decode" : "preprocess", 100 - eng,
                 100 * b->producer);
    } else if (b->cpu_system >= 0.90) {
        snprintf(out, len, "cpu-bound: system CPU %.0f %%, engine busy %.0f %%",
                 100 * b->cpu_system, eng);
    } else {
        snprintf(out, len, "under-loaded: engine idle %.0f %% with %d stream(s) for %d instance(s)",
                 100 - eng, b->streams, b->instances);
    }
}
