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
    uint64_t dropped0 = cvb_log_dropped_lines();
    for (int i = 0; i < 100000; i++) cvb_log_warn("flood line %d", i);
    /* one call site, well under a second: only the burst gets through */
    CHECK(sink_lines <= 40);
    CHECK(sink_lines >= 1);
    /* every line not written is counted as dropped */
    CHECK_EQ_INT(cvb_log_dropped_lines() - dropped0, 100000 - sink_lines);
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
    /* past the cap every line is counted as dropped (the logger stays
     * capped for the rest of the process: keep this last) */
    cvb_log_set_max_bytes(1);
    uint64_t dropped0 = cvb_log_dropped_lines();
    cvb_log_error("reaches the cap");
    cvb_log_error("after the cap");
    CHECK_EQ_INT(cvb_log_dropped_lines(), dropped0 + 2);
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

/* struct cvb_buf never passes its maximum and stays NUL-terminated. */
static void test_buf(void) {
    struct cvb_buf b;
    cvb_buf_init(&b, 10);
    CHECK_EQ_INT(cvb_buf_append(&b, "hello", 5), 0);
    CHECK_EQ_INT(cvb_buf_printf(&b, "%d", 12345), 0);
    CHECK(b.len == 10 && strcmp(b.data, "hello12345") == 0);
    CHECK_EQ_INT(cvb_buf_append(&b, "x", 1), CVB_ERANGE);
    CHECK_EQ_INT(cvb_buf_printf(&b, "%s", "y"), CVB_ERANGE);
    CHECK(b.len == 10 && strcmp(b.data, "hello12345") == 0);
    size_t len = 0;
    char *p = cvb_buf_take(&b, &len);
    CHECK(p != NULL && len == 10 && b.data == NULL && b.len == 0);
    free(p);
    cvb_buf_init(&b, 1 << 20);
    for (int i = 0; i < 1000; i++) CHECK_EQ_INT(cvb_buf_printf(&b, "%0300d", i), 0);
    CHECK(b.len == 300000 && b.cap <= (1 << 20) + 1 && b.data[b.len] == '\0');
    cvb_buf_cleanup(&b);
    cvb_buf_init(&b, 0);
    p = cvb_buf_take(&b, &len);
    CHECK(p != NULL && p[0] == '\0' && len == 0);
    free(p);
}

int main(void) {
    RUN(test_buf);
    RUN(test_site_rate_limit);
    RUN(test_byte_cap);
    RUN(test_err_helpers);
    return test_summary();
}
