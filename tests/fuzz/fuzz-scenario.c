/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the scenario parser: every input is applied with
 * cvb_scenario_apply_json_buffer() on top of the defaults (relative paths
 * against a fixed base directory), then validated and written back as JSON,
 * as `cvbench run SCENARIO.json` and the API do. Its contract: any byte
 * string is applied or refused with a negative status and a message; every
 * field stays within its declared range (list lengths, NUL-terminated
 * strings); an accepted scenario written back with cvb_scenario_to_json()
 * reads back to the same JSON; a crash, a sanitizer report, a leak or a
 * hang is a finding.
 * Built and driven like fuzz-model-load (scripts/fuzz.sh --target scenario). */
#include "cvb/scenario.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t cap) {
    if (memchr(s, '\0', cap) == NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct cvb_scenario s; /* 100 KB: not on the stack */
    struct cvb_err err = {0};
    cvb_scenario_defaults(&s);
    /* The default db ("cvbench.db") is the one relative path a scenario
     * holds without naming it; `cvbench run` opens it where it runs. Make
     * it absolute here so the round trip below compares only what the
     * input set. */
    snprintf(s.db, sizeof s.db, "/fuzz/default.db");
    int rc = cvb_scenario_apply_json_buffer(&s, data, size, "fuzz-input.json", "/fuzz/base", &err);
    if (rc < 0 && err.msg[0] == '\0') abort(); /* failure: a message */
    if (rc > 0) abort();
    if (s.n_videos < 0 || s.n_videos > CVB_SCN_MAX_VIDEOS) abort();
    if (s.n_levels < 1 || s.n_levels > CVB_SCN_MAX_LEVELS) abort();
    for (int i = 0; i < s.n_levels; i++)
        if (s.streams[i] < 1 || s.streams[i] > CVB_SCN_MAX_STREAMS) abort();
    check_str(s.model, sizeof s.model);
    for (int i = 0; i < s.n_videos; i++) {
        check_str(s.videos[i], sizeof s.videos[i]);
        if (rc == 0 && s.videos[i][0] != '/') abort(); /* resolved against the base */
    }
    if (rc == 0) {
        struct cvb_err verr = {0};
        if (cvb_scenario_validate(&s, &verr) < 0 && verr.msg[0] == '\0') abort();
        /* The effective scenario written back as JSON applies to the same
         * scenario (what a stored run's manifest relies on). */
        static char json[1 << 17], json2[1 << 17];
        static struct cvb_scenario s2;
        int n = cvb_scenario_to_json(&s, json, sizeof json);
        if (n <= 0 || (size_t)n >= sizeof json) abort();
        cvb_scenario_defaults(&s2);
        snprintf(s2.db, sizeof s2.db, "/fuzz/default.db");
        struct cvb_err rerr = {0};
        if (cvb_scenario_apply_json(&s2, json, "round-trip", "/elsewhere", &rerr) != 0) abort();
        int n2 = cvb_scenario_to_json(&s2, json2, sizeof json2);
        if (n2 != n || memcmp(json, json2, (size_t)n) != 0) abort();
    }
    return 0;
}
