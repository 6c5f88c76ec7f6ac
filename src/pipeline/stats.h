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

/* Throughput windows, closed by completions rather than by the clock.
 *
 * The first window opens at a completion time given by the caller (when
 * every stream has finished its warm-up). A window closes at the first
 * later completion at which it holds at least min_frames completions and
 * spans at least min_s seconds; the next one opens there. A window's
 * throughput is its completions over its span (close time minus open time),
 * so no window has a partial frame at either edge.
 *
 * Why not fixed 1 s windows counted by the clock: at 28 frames/s a window
 * counts 28 +- 1 from where the second boundaries fall, and +- 2 when two
 * engine instances finish frames in pairs, a +-7 % counting noise above any
 * useful stability criterion. Closed by completions, a window's error is the
 * jitter of its two edge completions over its span (well under 1 % at 50
 * frames over ~1.8 s).
 *
 * Bounded: when CVB_MAX_WINDOWS windows have closed, adjacent pairs merge
 * and both minimums double. Completions may arrive slightly out of order
 * (workers take their timestamps before the collector lock); a window's
 * span runs to the latest completion time seen. The last, still open,
 * window is never reported. */
struct cvb_windows {
    double min_s;          /* a window spans at least this long ... */
    int64_t min_frames;    /* ... and holds at least this many completions */
    bool open;             /* cvb__windows_open() was called */
    double t_open;         /* when the current window opened */
    double t_last;         /* latest completion seen */
    int64_t n_open;        /* completions in the current window */
    int n;                 /* closed windows */
    int64_t count[CVB_MAX_WINDOWS];
    double span_s[CVB_MAX_WINDOWS];
};
void cvb__windows_init(struct cvb_windows *w, double min_s, int64_t min_frames);
/* Open the first window at t_s (seconds since the level started). Until
 * then cvb__windows_add() ignores completions; a second call is a no-op. */
void cvb__windows_open(struct cvb_windows *w, double t_s);
/* One completion at t_s. */
void cvb__windows_add(struct cvb_windows *w, double t_s);
/* The closed windows' throughput (completions / span) into fps[] (at most
 * max); returns how many. */
int cvb__windows_fps(const struct cvb_windows *w, double *fps, int max);

/* The stability rule, over every closed window of a level (warm-up is
 * never in a window):
 *   1. at least 3 windows (fewer is not enough evidence);
 *   2. spread: the windows' coefficient of variation (standard deviation /
 *      mean) is at most 5 %;
 *   3. drift: the mean of the last third of the windows differs from the
 *      mean of the first third by at most 5 % of the mean of all windows.
 * (2) catches a level whose throughput jumps around, (3) a step or a slow
 * drift that (2) alone would tolerate. */
#define CVB_STABLE_CV 0.05
#define CVB_STABLE_DRIFT 0.05
struct cvb_stability {
    int n;          /* windows judged */
    double mean;    /* mean window throughput */
    double cv;      /* standard deviation / mean, 0.. */
    double drift;   /* (mean of last third - mean of first third) / mean, signed */
    bool stable;
};
void cvb__stability(const double *fps, int n, struct cvb_stability *out);

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
    /* backend kserve */
    bool remote;
    bool server_stats;   /* the server reported its statistics */
    double server;       /* server compute / (server instances x wall), 0..1 */
    double network_share; /* network time / round trip */
    double client_cpu;   /* this process's CPU / its cores, 0..1 */
    double roundtrip_ms;
};
/* Write the verdict into out[len]. See the rule in stats.c. */
void cvb__bottleneck(const struct cvb_busy *b, char *out, int len);

#endif
