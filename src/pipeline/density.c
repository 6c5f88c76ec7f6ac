/* SPDX-License-Identifier: Apache-2.0 */
/* Stream density search: the largest number of camera-paced streams that
 * all hold the target frame rate within the latency budget.
 *
 * State: lo = largest N known to pass, hi = smallest N known to fail (0 =
 * none yet). Exponential phase (hi == 0): next = lo ? 2 lo : 1, capped at
 * max_streams. Binary phase: next = (lo + hi) / 2 while hi - lo > 1. The
 * search assumes passing is monotone in N (more streams never help); each
 * N is evaluated at most once. */
#include "cvb/pipeline.h"

#include <string.h>

void cvb_density_init(struct cvb_density *d, const struct cvb_scenario *s, int max_streams) {
    memset(d, 0, sizeof *d);
    d->target_fps = s->target_fps;
    d->p99_ms = s->p99_ms;
    d->max_streams = max_streams > 0 ? max_streams : CVB_SCN_MAX_STREAMS;
    d->lo_level = d->hi_level = -1;
}

int cvb_density_next(const struct cvb_density *d) {
    if (d->hi == 0) {
        if (d->lo >= d->max_streams) return 0;
        int n = d->lo ? 2 * d->lo : 1;
        return n > d->max_streams ? d->max_streams : n;
    }
    if (d->hi - d->lo <= 1) return 0;
    return d->lo + (d->hi - d->lo) / 2;
}

bool cvb_density_pass(const struct cvb_density *d, const struct cvb_level_result *r) {
    if (strcmp(r->status, "ok") != 0) return false;
    if (r->frames <= 0) return false;
    if (r->fps_per_stream_min < 0.95 * d->target_fps) return false;
    int64_t offered = r->frames + r->dropped_frames;
    if (r->dropped_frames * 100 > offered) return false;
    return r->latency_p99_ms <= d->p99_ms;
}

void cvb_density_report(struct cvb_density *d, const struct cvb_level_result *r) {
    d->n_evaluated++;
    if (cvb_density_pass(d, r)) {
        if (r->streams > d->lo) {
            d->lo = r->streams;
            d->lo_level = r->level;
        }
    } else if (d->hi == 0 || r->streams < d->hi) {
        d->hi = r->streams;
        d->hi_level = r->level;
    }
    d->best = d->lo;
}
