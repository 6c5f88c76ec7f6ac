/* SPDX-License-Identifier: Apache-2.0 */
/* What a scenario asks of the service: the worker capabilities it needs,
 * and which level runs next given the levels already finished. Pure
 * functions of stored data, so a restarted coordinator reaches the same
 * answer from the store alone. */
#include "service/service.h"

#include "cvb/pipeline.h"

#include <stdio.h>
#include <string.h>

int cvb__service_scenario(const char *json, const char *origin, struct cvb_scenario *s,
                          struct cvb_err *err) {
    cvb_scenario_defaults(s);
    int rc = cvb_scenario_apply_json(s, json, origin, NULL, err);
    if (rc < 0) return rc;
    return cvb_scenario_validate(s, err);
}

void cvb__service_requirements(const struct cvb_scenario *s, struct cvb_task *t) {
    snprintf(t->req_backend, sizeof t->req_backend, "%s", s->backend);
    snprintf(t->req_isa, sizeof t->req_isa, "%s", s->isa);
    snprintf(t->req_tag, sizeof t->req_tag, "%s", s->worker_tag);
}

/* Levels of a scenario run in order, one task at a time:
 *  - a sweep runs streams[0], streams[1], ... and stops after the last, or
 *    after a level the memory budget refused (larger ones would be too);
 *  - a density search asks cvb_density_next() after replaying every
 *    finished level through cvb_density_report();
 *  - a failed level ends the scenario as failed. */
int cvb__service_next_level(const struct cvb_scenario *s, const struct cvb_level_result *lv,
                            int n_levels, int *density_best, bool *failed, char *why,
                            size_t why_len) {
    *failed = false;
    if (why_len) why[0] = '\0';
    *density_best = -1;
    for (int i = 0; i < n_levels; i++)
        if (strcmp(lv[i].status, "failed") == 0) {
            *failed = true;
            snprintf(why, why_len, "level %d (%d streams) failed: %s", i + 1, lv[i].streams,
                     lv[i].error);
            return 0;
        }
    if (s->density) {
        struct cvb_density d;
        int max = CVB_SCN_MAX_STREAMS;
        if (s->streams_given) {
            max = 0;
            for (int i = 0; i < s->n_levels; i++)
                if (s->streams[i] > max) max = s->streams[i];
        }
        cvb_density_init(&d, s, max);
        for (int i = 0; i < n_levels; i++) cvb_density_report(&d, &lv[i]);
        *density_best = d.best;
        return cvb_density_next(&d);
    }
    if (n_levels > 0 && strcmp(lv[n_levels - 1].status, "refused") == 0) {
        if (n_levels == 1) {
            *failed = true;
            snprintf(why, why_len, "level 1 (%d streams) was refused: %s", lv[0].streams,
                     lv[0].error);
        }
        return 0;
    }
    if (n_levels >= s->n_levels) return 0;
    return s->streams[n_levels];
}
