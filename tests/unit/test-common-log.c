/* SPDX-License-Identifier: Apache-2.0 */
/* The logger's bounds: per-site rate limit and the total byte cap. */
#include "cvb/common.h"
#include "test.h"

static size_t sink_bytes;
static int sink_lines;

static void sink(enum cvb_log_level level, const char *line, void *user) {
    (void)level;
    (void)user;
    sink_bytes += strlen(line);
    sink_lines++;
}

static void test_site_rate_limit(void) {
    sink_bytes = 0;
    sink_lines = 0;
    cvb_log_set_sink(sink, NULL);
    for (int i = 0; i < 100000; i++) cvb_log_warn("flood line %d", i);
    /* one call site, well under a second: only the burst gets through */
    CHECK(sink_lines <= 40);
    CHECK(sink_lines >= 1);
}

static void test_byte_cap(void) {
    sink_bytes = 0;
    sink_lines = 0;
    cvb_log_set_sink(sink, NULL);
    cvb_log_set_max_bytes(4096);
    /* many distinct sites (a macro expanded at different lines) */
    for (int r = 0; r < 200; r++) {
        cvb_log_error("site a %d", r);
        cvb_log_error("site b %d", r);
        cvb_log_error("site c %d", r);
    }
    CHECK(sink_bytes <= 4096 + 128);
    cvb_log_set_sink(NULL, NULL);
}

static void test_err_helpers(void) {
    struct cvb_err err = {0};
    int rc = cvb_err_set(&err, CVB_EFORMAT, "file %s is bad", "x.onnx");
    CHECK_EQ_INT(rc, CVB_EFORMAT);
    CHECK(strcmp(err.msg, "file x.onnx is bad") == 0);
    cvb_err_prefix(&err, "loading %d", 3);
    CHECK(strcmp(err.msg, "loading 3: file x.onnx is bad") == 0);
    CHECK(strcmp(cvb_status_label(CVB_EFORMAT), "bad_format") == 0);
    CHECK(strcmp(cvb_strerror(12345), "unknown error") == 0);
}

int main(void) {
    RUN(test_site_rate_limit);
    RUN(test_byte_cap);
    RUN(test_err_helpers);
    return test_summary();
}
