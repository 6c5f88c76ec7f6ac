/* SPDX-License-Identifier: Apache-2.0 */
/* Level statistics with fixed memory: log-bucketed histograms, throughput
 * windows and the stability rule, the bottleneck verdict. Internal to
 * src/pipeline/ (and its tests). Nothing here allocates or grows with the
 * number of frames. */
#ifndef CVB_PIPELINE_STATS_H
#define CVB_PIPELINE_STATS_H

#include "cvb/result.h"

#include <stdbool.h>
#include <stdint.h>

/* Histogram of durations from 1 us to 100 s in buckets growing by 1 %:
 * bucket i holds [1us * G^i, 1us * G^(i+1)) with G = 1.01, and reports the
 * geometric middle of its bucket, so any percentile is within 0.5 % of the
 * true sample value (nearest-rank definition) inside that range. Values
 * below 1 us count in bucket 0, above 100 s in the last bucket; min, max
 * and the sum are kept exactly. 1852 buckets x 8 bytes. */
#define CVB_HIST_BUCKETS 1852
struct cvb_hist {
    int64_t n;
    double sum_ns;
    uint64_t min_ns, max_ns;
    int64_t count[CVB_HIST_BUCKETS];
};
void cvb__hist_reset(struct cvb_hist *h);
void cvb__hist_add(struct cvb_hist *h, uint64_t ns);
void cvb__hist_merge(struct cvb_hist *into, const struct cvb_hist *h);
/* Percentile p in [0, 100] in ms (nearest rank: the smallest value with at
 * least p % of samples <= it); 0 when empty. p = 100 returns the exact max. */
double cvb__hist_pct_ms(const struct cvb_hist *h, double p);
double cvb__hist_mean_ms(const struct cvb_hist *h);

/* Throughput windows: completions counted in windows of window_s seconds
 * from time 0 (the level start). When a level outlives CVB_MAX_WINDOWS
 * windows, adjacent windows merge and the window doubles (bounded memory). */
struct cvb_windows {
    double window_s;
    int n;                 /* windows touched so far */
    int64_t count[CVB_MAX_WINDOWS];
};
void cvb__windows_init(struct cvb_windows *w, double window_s);
void cvb__windows_add(struct cvb_windows *w, double t_s);
/* The full windows that lie entirely inside [from_s, to_s), as fps, into
 * fps[] (at most max); returns how many. */
int cvb__windows_fps(const struct cvb_windows *w, double from_s, double to_s, double *fps,
                     int max);
/* Stability rule: the last three windows differ by at most 5 %:
 * (max - min) <= 0.05 x max over fps[n-3..n-1]. Fewer than 3 windows: not
 * stable (there is not enough evidence). */
bool cvb__windows_stable(const double *fps, int n);

/* Busy fractions (0..1) that decide the bottleneck verdict. */
struct cvb_busy {
    double engine;       /* inference time / (instances x wall) */
    double worker;       /* inference + postprocess + conversion on the workers / (instances x wall) */
    double producer;     /* decode + letterbox / (producer threads x wall); 0 if none */
    double decode_share; /* decode / (decode + letterbox) of the producers' time */
    double cpu_system;   /* whole machine busy 0..1 */
    double post_share;   /* postprocess / (worker time - inference) */
    bool camera;         /* camera pacing */
    bool held;           /* camera: every stream held >= 95 % of the target, no drops */
    double target_fps;
    double fps_per_stream_min;
    int streams, instances;
};
/* Write the verdict into out[len]. See the rule in stats.c. */
void cvb__bottleneck(const struct cvb_busy *b, char *out, int len);

#endif
