/* SPDX-License-Identifier: Apache-2.0 */
/* The POST /v1/runs submission parser (cvb__api_parse_submission) without
 * a server: body shapes, the data root (a temp dir with model.onnx and
 * a.mp4), and paths that resolve to something other than a regular file
 * under it (the root itself, found by fuzz-api-body; a subdirectory; ..). */
#include "service/api.h"
#include "test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct cvb_api_opts opts;
static struct cvb_scenario sc[CVB_STORE_MAX_SCENARIOS];
static char field[64], msg[2 * PATH_MAX + 256];
static int status;

/* Parse 'body'; returns the count accepted (>= 1) or -status. */
static int submit(const char *body) {
    json_t *j = json_loads(body, 0, NULL);
    if (j == NULL) return -1;
    int n = 0;
    int rc = cvb__api_parse_submission(&opts, j, sc, CVB_STORE_MAX_SCENARIOS, &n, &status, field,
                                       sizeof field, msg, sizeof msg);
    json_decref(j);
    if (rc < 0) printf("  %d field '%s': %s\n", status, field, msg);
    return rc < 0 ? -status : n;
}

static void test_accepted(void) {
    CHECK_EQ_INT(submit("{\"model\": \"model.onnx\", \"video\": \"a.mp4\"}"), 1);
    CHECK(strncmp(sc[0].model, opts.roots[0], strlen(opts.roots[0])) == 0);
    CHECK_EQ_INT(submit("[{\"model\": \"model.onnx\", \"video\": \"a.mp4\"},"
                        " {\"model\": \"sub/../model.onnx\", \"video\": [\"a.mp4\"]}]"),
                 2);
    CHECK_EQ_INT(submit("{\"scenarios\": [{\"model\": \"model.onnx\", \"video\": \"a.mp4\"}]}"), 1);
}

static void test_refused(void) {
    /* the data root itself, a directory under it, one above it */
    CHECK_EQ_INT(submit("{\"model\": \".\", \"video\": \"a.mp4\"}"), -422);
    CHECK(strcmp(field, "model") == 0 && strstr(msg, "not a regular file") != NULL);
    CHECK_EQ_INT(submit("{\"model\": \"model.onnx\", \"video\": \"sub\"}"), -422);
    CHECK(strcmp(field, "video") == 0 && strstr(msg, "not a regular file") != NULL);
    CHECK_EQ_INT(submit("{\"model\": \"../model.onnx\", \"video\": \"a.mp4\"}"), -422);
    CHECK(strcmp(field, "model") == 0);
    CHECK_EQ_INT(submit("{\"model\": \"model.onnx\", \"video\": \"a.mp4\", \"csv\": \"x\"}"), -422);
    CHECK(strcmp(field, "csv") == 0);
    CHECK_EQ_INT(submit("{\"scenarios\": []}"), -422);
    CHECK(strcmp(msg, "request body: 0 scenarios; a run holds 1 to 16") == 0);
    CHECK_EQ_INT(submit("[{\"model\": \"model.onnx\", \"video\": \"a.mp4\"}, 3]"), -422);
    CHECK(strcmp(msg, "request body: scenario 2: a scenario must be a JSON object") == 0);
    CHECK(field[0] == '\0');
}

static int make(const char *name) {
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", opts.roots[0], name);
    FILE *f = fopen(p, "w");
    if (f == NULL) return -1;
    fclose(f);
    return 0;
}

int main(void) {
    char dir[] = "/tmp/cvb-test-submission-XXXXXX";
    if (mkdtemp(dir) == NULL || realpath(dir, opts.roots[0]) == NULL)
        return test_skip("cannot create a temp dir");
    opts.n_roots = 1;
    char sub[PATH_MAX + 8];
    snprintf(sub, sizeof sub, "%s/sub", opts.roots[0]);
    if (make("model.onnx") < 0 || make("a.mp4") < 0 || mkdir(sub, 0700) != 0)
        return test_skip("cannot create files in the temp dir");
    RUN(test_accepted);
    RUN(test_refused);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", opts.roots[0]);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", opts.roots[0]);
    return test_summary();
}
