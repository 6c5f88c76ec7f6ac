/* SPDX-License-Identifier: Apache-2.0 */
/* JSON form of results (internal to cvb_core): the one encoding of a run
 * manifest and a level result, shared by the JSON report (json.c) and the
 * results store (src/store/), so a stored run re-renders exactly.
 *
 * Text in, text out: jansson's types stay inside src/report/json.c.
 * Doubles are written with 17 significant digits, so a round trip is exact;
 * non-finite numbers are written as null and read back as NaN. */
#ifndef CVB_REPORT_RESULT_JSON_H
#define CVB_REPORT_RESULT_JSON_H

#include "cvb/common.h"
#include "cvb/result.h"

/* Manifest encoding flags. */
enum {
    /* Keep the scenario as the raw text "scenario_json" (exact round trip, for
     * the store) in addition to the nested "scenario" object. */
    CVB__MANIFEST_RAW_SCENARIO = 1,
};

/* Encode 'm' / 'r' as a compact JSON object. On success sets *out to a
 * NUL-terminated string the caller frees with free() and returns 0. */
int cvb__manifest_to_json(const struct cvb_manifest *m, int flags, char **out, struct cvb_err *err);
int cvb__level_to_json(const struct cvb_level_result *r, char **out, struct cvb_err *err);

/* Decode text written by the functions above into a zeroed *m / *r.
 * Missing fields stay zero; strings longer than their field are truncated;
 * arrays longer than their bound are cut at the bound. 'origin' names the
 * input in errors ("run X in cvbench.db"). */
int cvb__manifest_from_json(const char *text, const char *origin, struct cvb_manifest *m,
                            struct cvb_err *err);
int cvb__level_from_json(const char *text, const char *origin, struct cvb_level_result *r,
                         struct cvb_err *err);

/* The note a report carries when the model's weights are synthetic. */
#define CVB__SYNTHETIC_NOTE "synthetic weights: throughput is real, detections are not meaningful"

/* What latency and "stable" mean, printed under the table and in the HTML
 * report (the rules live in src/pipeline/level.c and stats.h). */
#define CVB__LATENCY_NOTE                                                                   \
    "latency: from the moment a frame is ready (decoded, or taken from the ring) to its "  \
    "detections; under pacing max it includes the time the frame waits in its stream's "  \
    "pool for an engine, under camera pacing it runs from the frame's due time"
#define CVB__STABLE_NOTE                                                                    \
    "stable: at least 3 throughput windows (each closed at >= the window's frames and "    \
    "seconds), their coefficient of variation (cv) <= 5 % and the mean of the last third " \
    "of the windows within 5 % of the first third's (drift)"

#endif
