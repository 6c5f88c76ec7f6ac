/* SPDX-License-Identifier: Apache-2.0 */
/* .npy round trips and rejection of malformed files and buffers, including
 * headers that declare far more data than the file holds (checked under an
 * address-space limit, so allocating the declared size first would fail). */
#include "cvb/npy.h"
#include "test.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static char dir[] = "/tmp/cvb-npy-XXXXXX";

static void path_in_dir(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

static void test_roundtrip(void) {
    char p[256];
    path_in_dir(p, sizeof p, "a.npy");
    float data[2 * 3 * 5];
    for (int i = 0; i < 30; i++) data[i] = (float)i * 0.5f - 3.f;
    int64_t dims[3] = {2, 3, 5};
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_npy_write(p, "float32", 3, dims, data, &err), 0);
    struct cvb_npy n;
    CHECK_EQ_INT(cvb_npy_read(p, &n, &err), 0);
    CHECK(strcmp(n.dtype, "float32") == 0);
    CHECK_EQ_INT(n.ndim, 3);
    CHECK_EQ_INT(n.dims[2], 5);
    CHECK_EQ_INT(n.numel, 30);
    CHECK(memcmp(n.data, data, sizeof data) == 0);
    cvb_npy_cleanup(&n);
}

static void write_raw(const char *p, const void *buf, size_t len) {
    FILE *f = fopen(p, "wb");
    fwrite(buf, 1, len, f);
    fclose(f);
}

static void test_bad_files(void) {
    char p[256];
    struct cvb_npy n;
    struct cvb_err err = {0};
    path_in_dir(p, sizeof p, "bad.npy");
    write_raw(p, "hello world, not numpy", 22);
    CHECK_EQ_INT(cvb_npy_read(p, &n, &err), CVB_EFORMAT);
    CHECK(strstr(err.msg, "bad.npy") != NULL);

    /* truncated data */
    float data[8] = {0};
    int64_t dims[1] = {8};
    CHECK_EQ_INT(cvb_npy_write(p, "float32", 1, dims, data, &err), 0);
    FILE *f = fopen(p, "r+b");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    CHECK_EQ_INT(truncate(p, len - 4), 0);
    CHECK_EQ_INT(cvb_npy_read(p, &n, &err), CVB_EFORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);

    /* big-endian dtype */
    const char hdr[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '>f4', 'fortran_order': False, "
                       "'shape': (1,), }";
    char buf[128 + 4];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, hdr, sizeof hdr - 1);
    buf[127] = '\n';
    write_raw(p, buf, sizeof buf);
    CHECK_EQ_INT(cvb_npy_read(p, &n, &err), CVB_EUNSUPPORTED);

    CHECK_EQ_INT(cvb_npy_read("/nonexistent/x.npy", &n, &err), CVB_EIO);
}

/* A version-1 .npy image with header text 'dict' (padded to 64 bytes like
 * numpy's) followed by 'body_len' zero bytes; returns its length. */
static size_t make_npy(unsigned char *buf, size_t cap, const char *dict, size_t body_len) {
    size_t dl = strlen(dict);
    size_t hlen = ((10 + dl + 1 + 63) / 64) * 64 - 10;
    if (10 + hlen + body_len > cap) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, dict, dl);
    buf[10 + hlen - 1] = '\n';
    memset(buf + 10 + hlen, 0, body_len);
    return 10 + hlen + body_len;
}

/* Regression (issue 8): a header declaring a 3 GB float32 array (under the
 * 4 GiB cap) with a 16-byte body was allocated before the body was read.
 * Run under a 1 GiB address-space limit: allocating first fails with
 * CVB_ENOMEM, validating first gives CVB_EFORMAT naming the sizes. */
static void test_huge_shape_tiny_body(void) {
    unsigned char buf[256];
    size_t len = make_npy(buf, sizeof buf,
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (750000000,), }", 16);
    CHECK(len > 0);
    char p[256];
    path_in_dir(p, sizeof p, "huge.npy");
    write_raw(p, buf, len);
    struct rlimit old, lim;
    CHECK_EQ_INT(getrlimit(RLIMIT_AS, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)1 << 30;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
    CHECK_EQ_INT(setrlimit(RLIMIT_AS, &lim), 0);
    struct cvb_npy n;
    struct cvb_err err = {0};
    int rc_file = cvb_npy_read(p, &n, &err);
    char msg_file[sizeof err.msg];
    snprintf(msg_file, sizeof msg_file, "%s", err.msg);
    int rc_buf = cvb_npy_parse(buf, len, "huge-buffer", &n, &err);
    CHECK_EQ_INT(setrlimit(RLIMIT_AS, &old), 0);
    CHECK_EQ_INT(rc_file, CVB_EFORMAT);
    CHECK(strstr(msg_file, "huge.npy") != NULL);
    CHECK(strstr(msg_file, "3000000000 bytes") != NULL);
    CHECK(strstr(msg_file, "16 bytes present") != NULL);
    CHECK_EQ_INT(rc_buf, CVB_EFORMAT);
    CHECK(strstr(err.msg, "huge-buffer") != NULL);
    CHECK(n.data == NULL);
}

/* Header lengths and shapes beyond the limits or the bytes present. */
static void test_bad_buffers(void) {
    unsigned char buf[512];
    struct cvb_npy n;
    struct cvb_err err = {0};
    /* a header length running past the end of the buffer */
    size_t len = make_npy(buf, sizeof buf,
                          "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "b", &n, &err), 0);
    cvb_npy_cleanup(&n);
    CHECK_EQ_INT(cvb_npy_parse(buf, 40, "short-hdr", &n, &err), CVB_EFORMAT);
    CHECK(strstr(err.msg, "short-hdr") != NULL && strstr(err.msg, "header") != NULL);
    /* version 2: a 32-bit header length of 4 GB */
    unsigned char v2[16] = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(cvb_npy_parse(v2, sizeof v2, "v2", &n, &err), CVB_EFORMAT);
    CHECK(strstr(err.msg, "implausibly long") != NULL);
    /* a shape past the 4 GiB cap */
    len = make_npy(buf, sizeof buf,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }", 0);
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "cap", &n, &err), CVB_ERANGE);
    /* a dimension that overflows int64 */
    len = make_npy(buf, sizeof buf,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
                   0);
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "ovf", &n, &err), CVB_ERANGE);
    /* no comma after fortran_order */
    len = make_npy(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False}", 0);
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "nocomma", &n, &err), CVB_EUNSUPPORTED);
    /* a NUL inside the header */
    len = make_npy(buf, sizeof buf,
                   "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8);
    buf[20] = '\0';
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "nul", &n, &err), CVB_EFORMAT);
    /* empty and 9-byte inputs */
    CHECK_EQ_INT(cvb_npy_parse(buf, 0, "empty", &n, &err), CVB_EFORMAT);
    CHECK_EQ_INT(cvb_npy_parse("\x93NUMPY\x01\x00\x10", 9, "nine", &n, &err), CVB_EFORMAT);
}

/* The buffer entry point reads what the file writer wrote. */
static void test_parse_buffer(void) {
    unsigned char buf[256];
    size_t len = make_npy(buf, sizeof buf,
                          "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", 48);
    int64_t v = -7;
    memcpy(buf + len - 8, &v, 8);
    struct cvb_npy n;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_npy_parse(buf, len, "ok", &n, &err), 0);
    CHECK(strcmp(n.dtype, "int64") == 0);
    CHECK_EQ_INT(n.ndim, 2);
    CHECK_EQ_INT(n.numel, 6);
    CHECK_EQ_INT(((int64_t *)n.data)[5], -7);
    cvb_npy_cleanup(&n);
}

int main(void) {
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    RUN(test_roundtrip);
    RUN(test_bad_files);
    RUN(test_huge_shape_tiny_body);
    RUN(test_bad_buffers);
    RUN(test_parse_buffer);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: cannot remove %s\n", dir);
    return test_summary();
}
