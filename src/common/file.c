/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reading with a size cap. */
#include "cvb/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cvb_read_file(const char *path, size_t max_bytes, void **out, size_t *out_len,
                  struct cvb_err *err) {
    int rc = 0;
    FILE *f = NULL;
    char *buf = NULL;
    struct stat st;
    *out = NULL;
    *out_len = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cvb_err_set(err, CVB_EIO, "%s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        rc = cvb_err_set(err, CVB_ERANGE, "%s: file is %lld bytes, more than the %zu-byte limit",
                         path, (long long)st.st_size, max_bytes);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %lld bytes", path,
                         (long long)st.st_size);
        goto out;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        rc = cvb_err_set(err, CVB_EIO, "%s: short read (%zu of %lld bytes)", path, n,
                         (long long)st.st_size);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
out:
    free(buf);
    if (f != NULL) fclose(f);
    return rc;
}
