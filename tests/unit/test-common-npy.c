/* SPDX-License-Identifier: Apache-2.0 */
/* .npy round trips and rejection of malformed files. */
#include "cvb/npy.h"
#include "test.h"

#include <stdio.h>
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

int main(void) {
    if (mkdtemp(dir) == NULL) return test_skip("cannot create a temp dir");
    RUN(test_roundtrip);
    RUN(test_bad_files);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: cannot remove %s\n", dir);
    return test_summary();
}
