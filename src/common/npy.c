/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy reading and writing. The header is a Python dict literal; we
 * accept exactly the forms numpy writes: {'descr': '<f4', 'fortran_order':
 * False, 'shape': (1, 3, 640, 640), } padded with spaces to 64 bytes. */
#include "cvb/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *descr;
    const char *name;
    size_t size;
} npy_types[] = {
    {"<f4", "float32", 4}, {"|u1", "uint8", 1}, {"<i8", "int64", 8},
    {"<i4", "int32", 4},   {"|i1", "int8", 1},  {"|b1", "bool", 1},
};

static int parse_header(const char *path, const char *h, struct cvb_npy *out,
                        struct cvb_err *err) {
    const char *p = strstr(h, "'descr'");
    if (p == NULL) return cvb_err_set(err, CVB_EFORMAT, "%s: .npy header has no 'descr'", path);
    p = strchr(p + 7, '\'');
    if (p == NULL) return cvb_err_set(err, CVB_EFORMAT, "%s: malformed .npy header", path);
    char descr[16] = {0};
    size_t k = 0;
    for (p++; *p && *p != '\'' && k < sizeof descr - 1; p++) descr[k++] = *p;
    size_t esz = 0;
    for (size_t i = 0; i < CVB_ARRAY_LEN(npy_types); i++) {
        if (strcmp(descr, npy_types[i].descr) == 0) {
            snprintf(out->dtype, sizeof out->dtype, "%s", npy_types[i].name);
            esz = npy_types[i].size;
        }
    }
    if (esz == 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: .npy dtype '%s' is not supported (use little-endian float32 "
                           "'<f4', uint8, int32 or int64)",
                           path, descr);
    p = strstr(h, "'fortran_order'");
    if (p == NULL || strstr(p, "False") == NULL || strstr(p, "False") > strchr(p, ','))
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: Fortran-order .npy arrays are not supported",
                           path);
    p = strstr(h, "'shape'");
    if (p == NULL || (p = strchr(p, '(')) == NULL)
        return cvb_err_set(err, CVB_EFORMAT, "%s: .npy header has no shape", path);
    p++;
    out->ndim = 0;
    out->numel = 1;
    while (*p && *p != ')') {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p))
            return cvb_err_set(err, CVB_EFORMAT, "%s: malformed .npy shape", path);
        if (out->ndim == CVB_NPY_MAX_DIMS)
            return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: .npy array has more than %d dimensions",
                               path, CVB_NPY_MAX_DIMS);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0 || v > (long long)(CVB_NPY_MAX_BYTES))
            return cvb_err_set(err, CVB_ERANGE, "%s: .npy dimension out of range", path);
        out->dims[out->ndim++] = v;
        if (v > 0 && out->numel > (int64_t)(CVB_NPY_MAX_BYTES / esz) / v)
            return cvb_err_set(err, CVB_ERANGE, "%s: .npy array is larger than %zu bytes", path,
                               CVB_NPY_MAX_BYTES);
        out->numel *= v;
        p = end;
    }
    out->bytes = (size_t)out->numel * esz;
    return 0;
}

int cvb_npy_read(const char *path, struct cvb_npy *out, struct cvb_err *err) {
    int rc = 0;
    FILE *f = NULL;
    char *hdr = NULL;
    memset(out, 0, sizeof *out);
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    unsigned char pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a NumPy .npy file (bad magic)", path);
        goto out;
    }
    size_t hlen;
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated .npy header", path);
            goto out;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
    } else {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: .npy format version %d is not supported", path,
                         pre[6]);
        goto out;
    }
    if (hlen > 65536) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: .npy header is implausibly long", path);
        goto out;
    }
    hdr = calloc(1, hlen + 1);
    if (hdr == NULL || fread(hdr, 1, hlen, f) != hlen) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated .npy header", path);
        goto out;
    }
    rc = parse_header(path, hdr, out, err);
    if (rc < 0) goto out;
    out->data = malloc(out->bytes ? out->bytes : 1);
    if (out->data == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes", path, out->bytes);
        goto out;
    }
    if (fread(out->data, 1, out->bytes, f) != out->bytes) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated .npy data (expected %zu bytes)", path,
                         out->bytes);
        goto out;
    }
out:
    if (rc < 0) cvb_npy_cleanup(out);
    free(hdr);
    if (f != NULL) fclose(f);
    return rc;
}

int cvb_npy_write(const char *path, const char *dtype, int ndim, const int64_t *dims,
                  const void *data, struct cvb_err *err) {
    const char *descr = NULL;
    size_t esz = 0;
    for (size_t i = 0; i < CVB_ARRAY_LEN(npy_types); i++)
        if (strcmp(dtype, npy_types[i].name) == 0) {
            descr = npy_types[i].descr;
            esz = npy_types[i].size;
        }
    if (descr == NULL)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: cannot write dtype %s to .npy", path, dtype);
    char shape[256] = "";
    size_t off = 0;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        off += (size_t)snprintf(shape + off, sizeof shape - off, "%lld,%s", (long long)dims[d],
                                d + 1 < ndim ? " " : "");
        numel *= dims[d];
    }
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                     descr, shape);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    memset(hdr + n, ' ', (size_t)pad);
    hdr[n + pad] = '\n';
    size_t hlen = (size_t)(n + pad + 1);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    FILE *f = fopen(path, "wb");
    if (f == NULL) return cvb_err_set(err, CVB_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t bytes = (size_t)numel * esz;
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == hlen &&
             fwrite(data, 1, bytes, f) == bytes;
    if (fclose(f) != 0) ok = 0;
    if (!ok) return cvb_err_set(err, CVB_EIO, "%s: write failed: %s", path, strerror(errno));
    return 0;
}

void cvb_npy_cleanup(struct cvb_npy *npy) {
    if (npy == NULL) return;
    free(npy->data);
    npy->data = NULL;
}
