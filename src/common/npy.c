/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy reading and writing. The header is a Python dict literal; we
 * accept exactly the forms numpy writes: {'descr': '<f4', 'fortran_order':
 * False, 'shape': (1, 3, 640, 640), } padded with spaces to 64 bytes. */
#include "cvb/npy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
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
    const char *fo_false = p != NULL ? strstr(p, "False") : NULL;
    const char *fo_end = p != NULL ? strchr(p, ',') : NULL;
    if (fo_false == NULL || fo_end == NULL || fo_false > fo_end)
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

/* Validate the preamble and header of the .npy image buf[0..len) and the
 * length of its body: on success fills 'out' (data still NULL) and sets
 * *data_off to where the elements start. Nothing here allocates more than
 * the header's own length, which lies within 'len'; the declared array size
 * is compared with the bytes present before any caller allocates it. */
static int parse_image(const uint8_t *buf, size_t len, const char *name, struct cvb_npy *out,
                       size_t *data_off, struct cvb_err *err) {
    int rc = 0;
    char *hdr = NULL;
    size_t hlen, pre_len;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a NumPy .npy file (bad magic)", name);
        goto out;
    }
    if (buf[6] == 1) {
        pre_len = 10;
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    } else if (buf[6] == 2 || buf[6] == 3) {
        pre_len = 12;
        if (len < pre_len) {
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated .npy header", name);
            goto out;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
    } else {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: .npy format version %d is not supported",
                         name, buf[6]);
        goto out;
    }
    if (hlen > CVB_NPY_MAX_HEADER) {
        rc = cvb_err_set(err, CVB_EFORMAT,
                         "%s: .npy header is implausibly long (%zu bytes, at most %d)", name, hlen,
                         CVB_NPY_MAX_HEADER);
        goto out;
    }
    if (hlen > len - pre_len) {
        rc = cvb_err_set(err, CVB_EFORMAT,
                         "%s: truncated .npy header (declares %zu bytes, %zu present)", name, hlen,
                         len - pre_len);
        goto out;
    }
    hdr = malloc(hlen + 1); /* within 'len': backed by input */
    if (hdr == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    memcpy(hdr, buf + pre_len, hlen);
    hdr[hlen] = '\0';
    if (strlen(hdr) != hlen) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: .npy header contains a NUL byte", name);
        goto out;
    }
    rc = parse_header(name, hdr, out, err);
    if (rc < 0) goto out;
    *data_off = pre_len + hlen;
    if (out->bytes > len - *data_off) {
        rc = cvb_err_set(err, CVB_EFORMAT,
                         "%s: truncated .npy data: shape declares %lld elements (%zu bytes), "
                         "%zu bytes present",
                         name, (long long)out->numel, out->bytes, len - *data_off);
        goto out;
    }
out:
    free(hdr);
    return rc;
}

int cvb_npy_parse(const void *buf, size_t len, const char *name, struct cvb_npy *out,
                  struct cvb_err *err) {
    size_t off = 0;
    memset(out, 0, sizeof *out);
    int rc = parse_image(buf, len, name, out, &off, err);
    if (rc < 0) goto out;
    out->data = malloc(out->bytes ? out->bytes : 1); /* checked against len above */
    if (out->data == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes", name, out->bytes);
        goto out;
    }
    if (out->bytes) memcpy(out->data, (const uint8_t *)buf + off, out->bytes);
out:
    if (rc < 0) cvb_npy_cleanup(out);
    return rc;
}

int cvb_npy_read(const char *path, struct cvb_npy *out, struct cvb_err *err) {
    uint8_t *buf = NULL;
    size_t len = 0, off = 0;
    memset(out, 0, sizeof *out);
    /* the file's real size bounds every allocation below */
    int rc = cvb_read_file(path, CVB_NPY_MAX_BYTES + 12 + CVB_NPY_MAX_HEADER, (void **)&buf, &len,
                           err);
    if (rc < 0) goto out;
    rc = parse_image(buf, len, path, out, &off, err);
    if (rc < 0) goto out;
    /* Keep the file's buffer: move the elements to its start and shrink it,
     * so a large array is not held twice. */
    memmove(buf, buf + off, out->bytes);
    void *data = realloc(buf, out->bytes ? out->bytes : 1);
    out->data = data != NULL ? data : buf;
    buf = NULL;
out:
    free(buf);
    if (rc < 0) cvb_npy_cleanup(out);
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
