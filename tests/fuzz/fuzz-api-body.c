/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the service API's request body: every input goes
 * through cvb_http_json_parse() (the HTTP layer's check of a JSON body,
 * nesting limit 32 as the server's default) and, when it parses, through
 * cvb__api_parse_submission() (POST /v1/runs: object | list |
 * {"scenarios": [...]} into validated scenarios) with one data root: a
 * temporary directory made once per process holding model.onnx, a.mp4,
 * m.calib and a symlink "out.mp4" to a file outside it, so both a path
 * under the root and one refused are reachable. Its contract: any byte
 * string is accepted or refused with a message (400 from the layer; 422, or
 * 500 out of memory, from the parser); an accepted body is an object or a
 * list nested at most 32 deep; accepted scenarios number 1..16, name no
 * local output, validate, and every path they name is under the root once
 * resolved. A crash, a sanitizer report, a leak or a hang is a finding.
 * Built and driven like the other targets (scripts/fuzz.sh --target api-body). */
#include "cvb/scenario.h"
#include "cvb/store.h"
#include "http/http.h"
#include "service/api.h"

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvb_api_opts opts;
static char outside[PATH_MAX];

static void cleanup(void) {
    static const char *const names[] = {"model.onnx", "a.mp4", "m.calib", "out.mp4"};
    char p[PATH_MAX + 32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", opts.roots[0], names[i]);
        unlink(p);
    }
    rmdir(opts.roots[0]);
    unlink(outside);
}

static void touch(const char *dir, const char *name) {
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f == NULL) abort();
    fputs("x", f);
    fclose(f);
}

/* The data root, once: realpath'ed as `cvbench serve --data-root` makes it. */
static void setup(void) {
    char tmpl[] = "/tmp/cvb-fuzz-api-XXXXXX";
    if (mkdtemp(tmpl) == NULL || realpath(tmpl, opts.roots[0]) == NULL) abort();
    opts.n_roots = 1;
    touch(opts.roots[0], "model.onnx");
    touch(opts.roots[0], "a.mp4");
    touch(opts.roots[0], "m.calib");
    snprintf(outside, sizeof outside, "%s-outside.mp4", opts.roots[0]);
    FILE *f = fopen(outside, "w");
    if (f == NULL) abort();
    fclose(f);
    char link[PATH_MAX + 32];
    snprintf(link, sizeof link, "%s/out.mp4", opts.roots[0]);
    if (symlink(outside, link) != 0) abort();
    atexit(cleanup);
}

static int depth_of(const json_t *j) {
    int d = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v) {
            int c = depth_of(v);
            if (c > d) d = c;
        }
        return d + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            int c = depth_of(v);
            if (c > d) d = c;
        }
        return d + 1;
    }
    return 0;
}

static void check_under_root(const char *path) {
    char real[PATH_MAX];
    size_t rl = strlen(opts.roots[0]);
    if (realpath(path, real) == NULL) abort();
    if (strncmp(real, opts.roots[0], rl) != 0 || real[rl] != '/') abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static struct cvb_scenario s[CVB_STORE_MAX_SCENARIOS]; /* 1.7 MB: not on the stack */
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    json_t *body = NULL;
    char why[CVB_HTTP_JSON_WHY_MAX];
    why[0] = '\0';
    int rc = cvb_http_json_parse((const char *)data, size, MAX_DEPTH, &body, why, sizeof why);
    if (rc < 0) {
        if (body != NULL || why[0] == '\0' || rc != CVB_EFORMAT) abort();
        return 0;
    }
    if (rc != 0 || body == NULL) abort();
    if (!json_is_object(body) && !json_is_array(body)) abort();
    if (depth_of(body) > MAX_DEPTH) abort();

    int n = -1, status = -1;
    char field[64], msg[2 * PATH_MAX + 256];
    rc = cvb__api_parse_submission(&opts, body, s, CVB_STORE_MAX_SCENARIOS, &n, &status, field,
                                   sizeof field, msg, sizeof msg);
    json_decref(body);
    if (rc > 0) abort();
    if (rc < 0) {
        if ((status != 422 && status != 500) || msg[0] == '\0') abort();
        if (memchr(field, '\0', sizeof field) == NULL) abort();
        return 0;
    }
    if (n < 1 || n > CVB_STORE_MAX_SCENARIOS) abort();
    for (int i = 0; i < n; i++) {
        struct cvb_err err = {0};
        if (cvb_scenario_validate(&s[i], &err) != 0) abort();
        if (s[i].json[0] || s[i].csv[0] || s[i].report[0] || s[i].db[0]) abort();
        check_under_root(s[i].model);
        if (s[i].calib[0]) check_under_root(s[i].calib);
        if (s[i].n_videos < 1 || s[i].n_videos > CVB_SCN_MAX_VIDEOS) abort();
        for (int v = 0; v < s[i].n_videos; v++)
            check_under_root(s[i].videos[v]);
    }
    return 0;
}
