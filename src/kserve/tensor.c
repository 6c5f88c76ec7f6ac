/* SPDX-License-Identifier: Apache-2.0 */
/* KServe v2 datatypes (names, Triton names, sizes), half precision
 * conversion, shape checks and the small JSON helpers the codec's other
 * files share. Everything the datatype table says comes from
 * CVB_KSERVE_DTYPE_LIST in kserve.h, so a new datatype is added once. */
#include "kserve/internal.h"

#include "http/http.h"

#include <stdio.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the binary tensor extension is little-endian; this codec copies bytes as they are"
#endif

static const struct {
    const char *name, *triton;
    size_t size;
} dtypes[] = {
#define CVB_X(e, name, triton, size) {name, triton, size},
    CVB_KSERVE_DTYPE_LIST(CVB_X)
#undef CVB_X
};
_Static_assert(sizeof dtypes / sizeof dtypes[0] == CVB_KSERVE_DTYPE_COUNT,
               "one table row per datatype");

const char *cvb_kserve_dtype_name(enum cvb_kserve_dtype dt) {
    return (unsigned)dt < CVB_KSERVE_DTYPE_COUNT ? dtypes[dt].name : "?";
}

const char *cvb_kserve_dtype_triton_name(enum cvb_kserve_dtype dt) {
    return (unsigned)dt < CVB_KSERVE_DTYPE_COUNT ? dtypes[dt].triton : "?";
}

size_t cvb_kserve_dtype_size(enum cvb_kserve_dtype dt) {
    return (unsigned)dt < CVB_KSERVE_DTYPE_COUNT ? dtypes[dt].size : 0;
}

int cvb_kserve_dtype_parse(const char *name, int triton, enum cvb_kserve_dtype *out) {
    if (name == NULL) return CVB_EINVAL;
    for (int i = 0; i < CVB_KSERVE_DTYPE_COUNT; i++) {
        if (strcmp(name, dtypes[i].name) == 0 || (triton && strcmp(name, dtypes[i].triton) == 0)) {
            *out = (enum cvb_kserve_dtype)i;
            return 0;
        }
    }
    return CVB_EINVAL;
}

uint16_t cvb_kserve_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, mant = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) { /* subnormal half or zero */
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        unsigned shift = (unsigned)(14 - e);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* a carry rounds up to inf */
    return (uint16_t)(sign | h);
}

float cvb_kserve_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = (float)m * (1.0f / 16777216.0f); /* m x 2^-24, exact */
        return sign ? -f : f;
    }
    if (e == 31)
        x = sign | 0x7f800000u | (m << 13);
    else
        x = sign | ((e - 15 + 127) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

int cvb_kserve_shape_check(const char *what, enum cvb_kserve_dtype dt, int n_dims,
                           const int64_t *shape, size_t max_bytes, uint64_t *n_elems,
                           struct cvb_err *err) {
    if ((unsigned)dt >= CVB_KSERVE_DTYPE_COUNT)
        return cvb_err_set(err, CVB_EINVAL, "%s: datatype %d unknown", what, (int)dt);
    if (n_dims < 0 || n_dims > CVB_KSERVE_MAX_DIMS)
        return cvb_err_set(err, CVB_EINVAL, "%s: shape has %d dims; at most %d", what, n_dims,
                           CVB_KSERVE_MAX_DIMS);
    uint64_t n = 1;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] < 0)
            return cvb_err_set(err, CVB_EINVAL, "%s: shape dim %d is %lld; dims must be >= 0",
                               what, i, (long long)shape[i]);
        if (__builtin_mul_overflow(n, (uint64_t)shape[i], &n))
            return cvb_err_set(err, CVB_ERANGE, "%s: shape element count overflows", what);
    }
    size_t esz = dt == CVB_KSERVE_BYTES ? 4 : dtypes[dt].size; /* BYTES: >= 4 per element */
    uint64_t bytes;
    if (__builtin_mul_overflow(n, (uint64_t)esz, &bytes) || bytes > max_bytes)
        return cvb_err_set(err, CVB_ERANGE,
                           "%s: shape of %llu %s elements is over the %zu-byte tensor limit", what,
                           (unsigned long long)n, dtypes[dt].name, max_bytes);
    *n_elems = n;
    return 0;
}

/* ---- JSON helpers --------------------------------------------------------------- */

int cvb__kserve_put_str(struct cvb_buf *b, const char *s) {
    char tmp[8];
    int rc = cvb_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        const unsigned char *run = p;
        while (*p && *p >= 0x20 && *p != '"' && *p != '\\')
            p++;
        if (p > run) rc = cvb_buf_append(b, run, (size_t)(p - run));
        if (rc < 0 || *p == '\0') break;
        if (*p == '"' || *p == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)*p;
            rc = cvb_buf_append(b, tmp, 2);
        } else {
            snprintf(tmp, sizeof tmp, "\\u%04x", *p);
            rc = cvb_buf_append(b, tmp, 6);
        }
    }
    if (rc == 0) rc = cvb_buf_append(b, "\"", 1);
    return rc;
}

int cvb__kserve_put_shape(struct cvb_buf *b, int n_dims, const int64_t *shape) {
    int rc = cvb_buf_append(b, "[", 1);
    for (int i = 0; rc == 0 && i < n_dims; i++)
        rc = cvb_buf_printf(b, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (rc == 0) rc = cvb_buf_append(b, "]", 1);
    return rc;
}

int cvb__kserve_get_str(json_t *obj, const char *key, int required, const char *what, char *dst,
                        size_t n, struct cvb_err *err) {
    json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (v == NULL || (!required && json_is_null(v))) { /* null: absent (Python servers) */
        if (required) return cvb_err_set(err, CVB_EINVAL, "%s: \"%s\" missing", what, key);
        return 0;
    }
    if (!json_is_string(v))
        return cvb_err_set(err, CVB_EINVAL, "%s: \"%s\" must be a string", what, key);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0 && required)
        return cvb_err_set(err, CVB_EINVAL, "%s: \"%s\" is empty", what, key);
    if (len >= n)
        return cvb_err_set(err, CVB_EINVAL, "%s: \"%s\" is %zu bytes; at most %zu", what, key,
                           len, n - 1);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return cvb_err_set(err, CVB_EINVAL, "%s: \"%s\" holds a control character", what,
                               key);
    memcpy(dst, s, len + 1);
    return 0;
}

int cvb__kserve_parse_object(const char *p, size_t len, json_t **out, struct cvb_err *err) {
    char why[CVB_HTTP_JSON_WHY_MAX];
    json_t *j = NULL;
    *out = NULL;
    if (cvb_http_json_parse(p, len, CVB_KSERVE_MAX_DEPTH, &j, why, sizeof why) < 0)
        return cvb_err_set(err, CVB_EINVAL, "%s", why);
    if (!json_is_object(j)) {
        json_decref(j);
        return cvb_err_set(err, CVB_EINVAL, "request body: the JSON must be an object");
    }
    *out = j;
    return 0;
}

int cvb__kserve_get_shape(json_t *v, const char *what, int64_t min_dim, int *n_dims,
                          int64_t *shape, struct cvb_err *err) {
    if (v == NULL) return cvb_err_set(err, CVB_EINVAL, "%s: \"shape\" missing", what);
    if (!json_is_array(v))
        return cvb_err_set(err, CVB_EINVAL, "%s: \"shape\" must be a list of integers", what);
    size_t n = json_array_size(v);
    if (n > CVB_KSERVE_MAX_DIMS)
        return cvb_err_set(err, CVB_EINVAL, "%s: shape has %zu dims; at most %d", what, n,
                           CVB_KSERVE_MAX_DIMS);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_integer(d))
            return cvb_err_set(err, CVB_EINVAL, "%s: shape dim %zu is not an integer", what, i);
        json_int_t x = json_integer_value(d);
        if (x < min_dim)
            return cvb_err_set(err, CVB_EINVAL, "%s: shape dim %zu is %lld; dims must be >= %lld",
                               what, i, (long long)x, (long long)min_dim);
        shape[i] = (int64_t)x;
    }
    *n_dims = (int)n;
    return 0;
}
