/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file reading with a size cap; path normalisation. */
#include "cvb/common.h"

#include <errno.h>
#include <stdbool.h>
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

/* Lexical normalisation into out (same size as in, never longer). */
static void normalize_lexically(const char *in, char *out) {
    bool abs = in[0] == '/';
    size_t n = 0;   /* bytes in out */
    size_t keep = 0; /* out[0..keep) is a prefix no ".." may remove ("/" or "../..") */
    if (abs) out[n++] = '/', keep = 1;
    const char *p = in;
    while (*p) {
        while (*p == '/') p++;
        const char *e = p;
        while (*e && *e != '/') e++;
        size_t len = (size_t)(e - p);
        if (len == 0) break;
        if (len == 1 && p[0] == '.') {
            /* drop */
        } else if (len == 2 && p[0] == '.' && p[1] == '.' && n > keep) {
            while (n > keep && out[n - 1] != '/') n--; /* remove the last component */
            if (n > keep) n--;                          /* and its slash */
        } else if (len == 2 && p[0] == '.' && p[1] == '.' && abs) {
            /* "/.." is "/" */
        } else {
            if (n > 0 && out[n - 1] != '/') out[n++] = '/';
            memcpy(out + n, p, len);
            n += len;
            if (len == 2 && p[0] == '.' && p[1] == '.') keep = n; /* leading ".." of a relative path */
        }
        p = e;
    }
    if (n == 0) out[n++] = '.';
    out[n] = '\0';
}

static bool same_file(const char *a, const char *b) {
    struct stat sa, sb;
    bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (!ea || !eb) return ea == eb;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void cvb_path_normalize(char *path) {
    size_t len = strlen(path);
    char *tmp = malloc(len + 2);
    if (tmp == NULL) return; /* left as it is: still a valid path */
    normalize_lexically(path, tmp);
    if (strcmp(tmp, path) != 0 && same_file(tmp, path)) memcpy(path, tmp, strlen(tmp) + 1);
    free(tmp);
}
