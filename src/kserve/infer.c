/* SPDX-License-Identifier: Apache-2.0 */
/* Infer requests and responses: parse (untrusted bytes) and encode.
 *
 * The parser runs in three passes so that nothing is allocated for a body
 * that will be refused:
 *   1. header length and JSON (depth-checked); then every tensor: name,
 *      datatype, shape (product and bytes capped), and either its
 *      binary_data_size (== elements x size; BYTES: the length-prefixed
 *      elements are walked) or its JSON data (walked once without writing:
 *      leaf count == elements, every value in range);
 *   2. the binary sizes must sum to exactly the bytes after the header,
 *      and the decoded JSON data must fit the decode cap;
 *   3. one buffer (the caller's scratch, or one malloc) receives the
 *      decoded JSON data; binary tensors point into the body.
 * Invariants: (a) pass 3 cannot fail: every value it converts was checked
 * in pass 1; (b) a parsed tensor's n_bytes equals elements x element size
 * for every fixed-size datatype; (c) on failure the output struct holds no
 * allocation and no borrowed pointer. */
#include "kserve/internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t lim_tensor(const struct cvb_kserve_limits *l) {
    return l && l->max_tensor_bytes ? l->max_tensor_bytes : CVB_KSERVE_DEFAULT_MAX_TENSOR_BYTES;
}
static size_t lim_decode(const struct cvb_kserve_limits *l) {
    if (l && l->scratch) return l->scratch_bytes;
    return l && l->max_decode_bytes ? l->max_decode_bytes : CVB_KSERVE_DEFAULT_MAX_DECODE_BYTES;
}

/* Inference-Header-Content-Length: decimal digits only, 1..len. */
static int parse_header_len(const char *v, size_t len, size_t *out, struct cvb_err *err) {
    size_t n = 0, i = 0;
    for (; v[i]; i++) {
        if (v[i] < '0' || v[i] > '9' || i >= 20)
            return cvb_err_set(err, CVB_EINVAL,
                               CVB_KSERVE_HEADER_LEN ": '%.32s' is not a decimal byte count", v);
        if (__builtin_mul_overflow(n, (size_t)10, &n) ||
            __builtin_add_overflow(n, (size_t)(v[i] - '0'), &n))
            return cvb_err_set(err, CVB_ERANGE, CVB_KSERVE_HEADER_LEN ": '%.32s' overflows", v);
    }
    if (i == 0) return cvb_err_set(err, CVB_EINVAL, CVB_KSERVE_HEADER_LEN ": empty");
    if (n == 0) return cvb_err_set(err, CVB_EINVAL, CVB_KSERVE_HEADER_LEN ": 0; the JSON header cannot be empty");
    if (n > len)
        return cvb_err_set(err, CVB_EINVAL,
                           CVB_KSERVE_HEADER_LEN ": %zu is more than the %zu-byte body", n, len);
    *out = n;
    return 0;
}

/* ---- JSON data: check (dst NULL) or decode ---------------------------------------- */

struct walk {
    enum cvb_kserve_dtype dt;
    uint64_t want, got;
    unsigned char *dst; /* NULL: check only */
    const char *what;
    struct cvb_err *err;
};

static int leaf(struct walk *w, json_t *v) {
    const char *what = w->what;
    size_t esz = cvb_kserve_dtype_size(w->dt);
    uint64_t idx = w->got;
    if (w->got++ >= w->want) return 0; /* counted; the caller reports the excess */
    unsigned char *d = w->dst ? w->dst + idx * esz : NULL;
    if (w->dt == CVB_KSERVE_BOOL) {
        if (!json_is_boolean(v))
            return cvb_err_set(w->err, CVB_EINVAL, "%s: data[%llu] is not true or false", what,
                               (unsigned long long)idx);
        if (d) *d = json_is_true(v) ? 1 : 0;
        return 0;
    }
    if (w->dt == CVB_KSERVE_FP16 || w->dt == CVB_KSERVE_FP32 || w->dt == CVB_KSERVE_FP64) {
        if (!json_is_number(v))
            return cvb_err_set(w->err, CVB_EINVAL, "%s: data[%llu] is not a number", what,
                               (unsigned long long)idx);
        double x = json_number_value(v);
        double max = w->dt == CVB_KSERVE_FP16 ? 65504.0 : w->dt == CVB_KSERVE_FP32 ? FLT_MAX : DBL_MAX;
        if (!(fabs(x) <= max))
            return cvb_err_set(w->err, CVB_ERANGE, "%s: data[%llu] = %g is out of %s range", what,
                               (unsigned long long)idx, x, cvb_kserve_dtype_name(w->dt));
        if (d) {
            if (w->dt == CVB_KSERVE_FP16) {
                uint16_t h = cvb_kserve_f32_to_f16((float)x);
                memcpy(d, &h, 2);
            } else if (w->dt == CVB_KSERVE_FP32) {
                float f = (float)x;
                memcpy(d, &f, 4);
            } else {
                memcpy(d, &x, 8);
            }
        }
        return 0;
    }
    /* integers: JSON integers only (jansson refuses those past int64) */
    if (!json_is_integer(v))
        return cvb_err_set(w->err, CVB_EINVAL, "%s: data[%llu] is not an integer", what,
                           (unsigned long long)idx);
    long long x = (long long)json_integer_value(v);
    long long lo = 0, hi = 0;
    switch (w->dt) {
    case CVB_KSERVE_UINT8: lo = 0; hi = UINT8_MAX; break;
    case CVB_KSERVE_UINT16: lo = 0; hi = UINT16_MAX; break;
    case CVB_KSERVE_UINT32: lo = 0; hi = UINT32_MAX; break;
    case CVB_KSERVE_UINT64: lo = 0; hi = INT64_MAX; break;
    case CVB_KSERVE_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case CVB_KSERVE_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case CVB_KSERVE_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    case CVB_KSERVE_INT64: lo = INT64_MIN; hi = INT64_MAX; break;
    default: return cvb_err_set(w->err, CVB_EINTERNAL, "%s: datatype not numeric", what);
    }
    if (x < lo || x > hi)
        return cvb_err_set(w->err, CVB_ERANGE, "%s: data[%llu] = %lld is out of %s range [%lld, %lld]",
                           what, (unsigned long long)idx, x, cvb_kserve_dtype_name(w->dt), lo, hi);
    if (d) {
        switch (esz) {
        case 1: { uint8_t u = (uint8_t)x; memcpy(d, &u, 1); break; }
        case 2: { uint16_t u = (uint16_t)x; memcpy(d, &u, 2); break; }
        case 4: { uint32_t u = (uint32_t)x; memcpy(d, &u, 4); break; }
        default: { uint64_t u = (uint64_t)x; memcpy(d, &u, 8); break; }
        }
    }
    return 0;
}

/* Flat or nested lists, row-major; nesting is bounded by the JSON depth check. */
static int walk(struct walk *w, json_t *v) {
    if (!json_is_array(v)) return leaf(w, v);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        int rc = walk(w, e);
        if (rc < 0) return rc;
        if (w->got > w->want) return 0;
    }
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------ */

/* Walk BYTES elements in a binary blob: each a 4-byte LE length + bytes. */
static int check_bytes_blob(const unsigned char *p, size_t n, uint64_t want, const char *what,
                            struct cvb_err *err) {
    size_t at = 0;
    for (uint64_t i = 0; i < want; i++) {
        uint32_t l;
        if (n - at < 4)
            return cvb_err_set(err, CVB_EINVAL, "%s: BYTES element %llu: length prefix cut off",
                               what, (unsigned long long)i);
        memcpy(&l, p + at, 4);
        at += 4;
        if (l > n - at)
            return cvb_err_set(err, CVB_EINVAL, "%s: BYTES element %llu: %u bytes, %zu left", what,
                               (unsigned long long)i, l, n - at);
        at += l;
    }
    if (at != n)
        return cvb_err_set(err, CVB_EINVAL, "%s: BYTES data holds %zu bytes past %llu elements",
                           what, n - at, (unsigned long long)want);
    return 0;
}

/* Pass 1 for one "inputs"/"outputs" list. Fills t[] except data pointers;
 * bin_off[i] = offset in the binary section (binary tensors), dec_off[i] =
 * offset in the decode buffer (JSON tensors); sums in *bin_total, *dec_total. */
static int check_tensors(json_t *arr, const char *kind, const unsigned char *bin, size_t bin_len,
                         const struct cvb_kserve_limits *lim, struct cvb_kserve_tensor *t, int *n_out,
                         size_t *bin_off, size_t *dec_off, size_t *dec_total, struct cvb_err *err) {
    size_t n = json_array_size(arr), bin_total = 0;
    if (n < 1 || n > CVB_KSERVE_MAX_TENSORS)
        return cvb_err_set(err, CVB_EINVAL, "\"%ss\": %zu tensors; expected 1 to %d", kind, n,
                           CVB_KSERVE_MAX_TENSORS);
    *dec_total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(arr, i), *v;
        char what[CVB_KSERVE_NAME_MAX + 32];
        int rc;
        memset(&t[i], 0, sizeof t[i]);
        snprintf(what, sizeof what, "%s %zu", kind, i);
        if (!json_is_object(o)) return cvb_err_set(err, CVB_EINVAL, "%s: not an object", what);
        rc = cvb__kserve_get_str(o, "name", 1, what, t[i].name, sizeof t[i].name, err);
        if (rc < 0) return rc;
        snprintf(what, sizeof what, "%s '%s'", kind, t[i].name);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t[k].name, t[i].name) == 0)
                return cvb_err_set(err, CVB_EINVAL, "%s: name given twice", what);
        v = json_object_get(o, "datatype");
        if (!json_is_string(v))
            return cvb_err_set(err, CVB_EINVAL, "%s: \"datatype\" missing or not a string", what);
        if (cvb_kserve_dtype_parse(json_string_value(v), 0, &t[i].dtype) < 0)
            return cvb_err_set(err, CVB_EINVAL, "%s: unknown datatype '%.32s'", what,
                               json_string_value(v));
        rc = cvb__kserve_get_shape(json_object_get(o, "shape"), what, 0, &t[i].n_dims, t[i].shape,
                                   err);
        if (rc < 0) return rc;
        uint64_t elems;
        rc = cvb_kserve_shape_check(what, t[i].dtype, t[i].n_dims, t[i].shape, lim_tensor(lim),
                                    &elems, err);
        if (rc < 0) return rc;
        size_t esz = cvb_kserve_dtype_size(t[i].dtype);
        json_t *params = json_object_get(o, "parameters"), *bsz = NULL;
        if (params != NULL && !json_is_object(params))
            return cvb_err_set(err, CVB_EINVAL, "%s: \"parameters\" must be an object", what);
        if (params) bsz = json_object_get(params, "binary_data_size");
        json_t *data = json_object_get(o, "data");
        if (bsz != NULL && data != NULL)
            return cvb_err_set(err, CVB_EINVAL, "%s: both \"data\" and binary_data_size given",
                               what);
        if (bsz != NULL) {
            if (!json_is_integer(bsz) || json_integer_value(bsz) < 0)
                return cvb_err_set(err, CVB_EINVAL,
                                   "%s: binary_data_size must be an integer >= 0", what);
            uint64_t sz = (uint64_t)json_integer_value(bsz);
            if (t[i].dtype != CVB_KSERVE_BYTES && sz != elems * esz)
                return cvb_err_set(err, CVB_EINVAL,
                                   "%s: binary_data_size %llu does not match shape x %s (%llu x "
                                   "%zu = %llu bytes)",
                                   what, (unsigned long long)sz, cvb_kserve_dtype_name(t[i].dtype),
                                   (unsigned long long)elems, esz,
                                   (unsigned long long)(elems * esz));
            if (sz > bin_len - bin_total)
                return cvb_err_set(err, CVB_EINVAL,
                                   "%s: binary_data_size %llu passes the end of the body (%zu "
                                   "binary bytes after the JSON header, %zu used before it)",
                                   what, (unsigned long long)sz, bin_len, bin_total);
            if (t[i].dtype == CVB_KSERVE_BYTES) {
                if (sz > lim_tensor(lim))
                    return cvb_err_set(err, CVB_ERANGE, "%s: %llu bytes; the limit is %zu", what,
                                       (unsigned long long)sz, lim_tensor(lim));
                rc = check_bytes_blob(bin + bin_total, (size_t)sz, elems, what, err);
                if (rc < 0) return rc;
            }
            bin_off[i] = bin_total;
            bin_total += (size_t)sz;
            t[i].n_bytes = (size_t)sz;
            t[i].binary = 1;
            continue;
        }
        if (data == NULL)
            return cvb_err_set(err, CVB_EINVAL, "%s: neither \"data\" nor binary_data_size given",
                               what);
        if (t[i].dtype == CVB_KSERVE_BYTES)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: BYTES tensors as JSON \"data\" are not supported; send them "
                               "with the binary tensor extension",
                               what);
        if (!json_is_array(data))
            return cvb_err_set(err, CVB_EINVAL, "%s: \"data\" must be a list", what);
        struct walk w = {t[i].dtype, elems, 0, NULL, what, err};
        rc = walk(&w, data);
        if (rc < 0) return rc;
        if (w.got != elems)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s: shape holds %llu elements but \"data\" has %s%llu values",
                               what, (unsigned long long)elems, w.got > elems ? "more than " : "",
                               (unsigned long long)(w.got > elems ? elems : w.got));
        size_t bytes = (size_t)(elems * esz), aligned = (bytes + 7) & ~(size_t)7;
        dec_off[i] = *dec_total;
        if (aligned > lim_decode(lim) - *dec_total)
            return cvb_err_set(err, CVB_ERANGE,
                               "%s: JSON data decodes to more than the %zu-byte limit; send "
                               "large tensors binary",
                               what, lim_decode(lim));
        *dec_total += aligned;
        t[i].n_bytes = bytes;
    }
    if (bin_total != bin_len)
        return cvb_err_set(err, CVB_EINVAL,
                           "binary_data_size of the %ss sums to %zu bytes but %zu follow the "
                           "JSON header",
                           kind, bin_total, bin_len);
    *n_out = (int)n;
    return 0;
}

/* Pass 3: point binary tensors into 'bin' and decode JSON ones into 'buf'. */
static void fill_tensors(json_t *arr, const unsigned char *bin, unsigned char *buf,
                         struct cvb_kserve_tensor *t, int n, const size_t *bin_off,
                         const size_t *dec_off) {
    for (int i = 0; i < n; i++) {
        if (t[i].binary) {
            t[i].data = bin + bin_off[i];
            continue;
        }
        struct cvb_err ignored;
        uint64_t elems = cvb_kserve_dtype_size(t[i].dtype)
                             ? t[i].n_bytes / cvb_kserve_dtype_size(t[i].dtype)
                             : 0;
        struct walk w = {t[i].dtype, elems, 0, buf + dec_off[i], t[i].name, &ignored};
        walk(&w, json_object_get(json_array_get(arr, (size_t)i), "data"));
        t[i].data = buf + dec_off[i];
    }
}

/* The shared body of the two parsers: header split, JSON, tensors list 'key'. */
static int parse_body(const void *body, size_t len, const char *header_len, const char *kind,
                      const struct cvb_kserve_limits *lim, json_t **root,
                      struct cvb_kserve_tensor *t, int *n, void **owned, struct cvb_err *err) {
    size_t hlen = len, bin_off[CVB_KSERVE_MAX_TENSORS], dec_off[CVB_KSERVE_MAX_TENSORS], dec = 0;
    char key[16];
    int rc = 0;
    *owned = NULL;
    if (header_len != NULL && (rc = parse_header_len(header_len, len, &hlen, err)) < 0) return rc;
    rc = cvb__kserve_parse_object(body, hlen, root, err);
    if (rc < 0) return rc;
    json_t *e = json_object_get(*root, "error");
    if (strcmp(kind, "output") == 0 && e != NULL && json_object_get(*root, "outputs") == NULL)
        return cvb_err_set(err, CVB_EIO, "model server error: %.400s",
                           json_is_string(e) ? json_string_value(e) : "(not a string)");
    snprintf(key, sizeof key, "%ss", kind);
    json_t *arr = json_object_get(*root, key);
    if (!json_is_array(arr))
        return cvb_err_set(err, CVB_EINVAL, "\"%s\" missing or not a list", key);
    const unsigned char *bin = (const unsigned char *)body + hlen;
    rc = check_tensors(arr, kind, bin, len - hlen, lim, t, n, bin_off, dec_off, &dec, err);
    if (rc < 0) return rc;
    static unsigned char empty[8]; /* zero-element JSON tensors point here */
    unsigned char *buf = empty;
    if (lim && lim->scratch) {
        buf = lim->scratch;
    } else if (dec > 0) {
        buf = malloc(dec);
        if (buf == NULL)
            return cvb_err_set(err, CVB_ENOMEM, "decoding %zu bytes of JSON tensor data", dec);
        *owned = buf;
    }
    fill_tensors(arr, bin, buf, t, *n, bin_off, dec_off);
    return 0;
}

int cvb_kserve_request_parse(const void *body, size_t len, const char *header_len,
                             const struct cvb_kserve_limits *lim, struct cvb_kserve_request *out,
                             struct cvb_err *err) {
    json_t *root = NULL;
    memset(out, 0, sizeof *out);
    int rc = parse_body(body, len, header_len, "input", lim, &root, out->inputs, &out->n_inputs,
                        &out->owned_, err);
    if (rc < 0) goto out;
    rc = cvb__kserve_get_str(root, "id", 0, "request", out->id, sizeof out->id, err);
    if (rc < 0) goto out;
    json_t *p = json_object_get(root, "parameters");
    if (p != NULL && !json_is_object(p)) {
        rc = cvb_err_set(err, CVB_EINVAL, "request: \"parameters\" must be an object");
        goto out;
    }
    json_t *bo = p ? json_object_get(p, "binary_data_output") : NULL;
    if (bo != NULL && !json_is_boolean(bo)) {
        rc = cvb_err_set(err, CVB_EINVAL, "request: binary_data_output must be true or false");
        goto out;
    }
    out->binary_outputs = json_is_true(bo);
    json_t *outs = json_object_get(root, "outputs");
    if (outs != NULL) {
        if (!json_is_array(outs) || json_array_size(outs) > CVB_KSERVE_MAX_TENSORS) {
            rc = cvb_err_set(err, CVB_EINVAL, "\"outputs\" must be a list of at most %d outputs",
                             CVB_KSERVE_MAX_TENSORS);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(outs); i++) {
            json_t *o = json_array_get(outs, i);
            struct cvb_kserve_output_req *r = &out->outputs[i];
            char what[48];
            snprintf(what, sizeof what, "output %zu", i);
            if (!json_is_object(o)) {
                rc = cvb_err_set(err, CVB_EINVAL, "%s: not an object", what);
                goto out;
            }
            rc = cvb__kserve_get_str(o, "name", 1, what, r->name, sizeof r->name, err);
            if (rc < 0) goto out;
            for (size_t k = 0; k < i; k++)
                if (strcmp(out->outputs[k].name, r->name) == 0) {
                    rc = cvb_err_set(err, CVB_EINVAL, "output '%s': requested twice", r->name);
                    goto out;
                }
            json_t *op = json_object_get(o, "parameters");
            json_t *b = json_is_object(op) ? json_object_get(op, "binary_data") : NULL;
            if ((op != NULL && !json_is_object(op)) || (b != NULL && !json_is_boolean(b))) {
                rc = cvb_err_set(err, CVB_EINVAL,
                                 "output '%s': \"parameters\" must be an object and binary_data "
                                 "true or false",
                                 r->name);
                goto out;
            }
            r->binary = b ? json_is_true(b) : out->binary_outputs;
            out->n_outputs = (int)i + 1;
        }
    }
out:
    json_decref(root);
    if (rc < 0) cvb_kserve_request_cleanup(out);
    return rc;
}

void cvb_kserve_request_cleanup(struct cvb_kserve_request *r) {
    if (r == NULL) return;
    free(r->owned_);
    memset(r, 0, sizeof *r);
}

int cvb_kserve_response_parse(const void *body, size_t len, const char *header_len,
                              const struct cvb_kserve_limits *lim,
                              struct cvb_kserve_response *out, struct cvb_err *err) {
    json_t *root = NULL;
    memset(out, 0, sizeof *out);
    int rc = parse_body(body, len, header_len, "output", lim, &root, out->outputs,
                        &out->n_outputs, &out->owned_, err);
    if (rc < 0) goto out;
    rc = cvb__kserve_get_str(root, "model_name", 0, "response", out->model_name,
                             sizeof out->model_name, err);
    if (rc == 0)
        rc = cvb__kserve_get_str(root, "model_version", 0, "response", out->model_version,
                                 sizeof out->model_version, err);
    if (rc == 0) rc = cvb__kserve_get_str(root, "id", 0, "response", out->id, sizeof out->id, err);
out:
    json_decref(root);
    if (rc < 0) cvb_kserve_response_cleanup(out);
    return rc;
}

void cvb_kserve_response_cleanup(struct cvb_kserve_response *r) {
    if (r == NULL) return;
    free(r->owned_);
    memset(r, 0, sizeof *r);
}

/* ---- encode --------------------------------------------------------------------------- */

static int put_values(struct cvb_buf *b, const struct cvb_kserve_tensor *t, uint64_t elems,
                      struct cvb_err *err) {
    const unsigned char *p = t->data;
    int rc = cvb_buf_append(b, "[", 1);
    for (uint64_t i = 0; rc == 0 && i < elems; i++) {
        const char *sep = i ? "," : "";
        switch (t->dtype) {
        case CVB_KSERVE_BOOL: rc = cvb_buf_printf(b, "%s%s", sep, p[i] ? "true" : "false"); break;
#define INT_CASE(E, T, FMT, CAST)                                                                  \
    case CVB_KSERVE_##E: {                                                                         \
        T v;                                                                                       \
        memcpy(&v, p + i * sizeof v, sizeof v);                                                    \
        rc = cvb_buf_printf(b, "%s" FMT, sep, (CAST)v);                                            \
        break;                                                                                     \
    }
            INT_CASE(UINT8, uint8_t, "%u", unsigned)
            INT_CASE(UINT16, uint16_t, "%u", unsigned)
            INT_CASE(UINT32, uint32_t, "%lu", unsigned long)
            INT_CASE(UINT64, uint64_t, "%llu", unsigned long long)
            INT_CASE(INT8, int8_t, "%d", int)
            INT_CASE(INT16, int16_t, "%d", int)
            INT_CASE(INT32, int32_t, "%ld", long)
            INT_CASE(INT64, int64_t, "%lld", long long)
#undef INT_CASE
        case CVB_KSERVE_FP16:
        case CVB_KSERVE_FP32:
        case CVB_KSERVE_FP64: {
            double v;
            if (t->dtype == CVB_KSERVE_FP16) {
                uint16_t h;
                memcpy(&h, p + i * 2, 2);
                v = cvb_kserve_f16_to_f32(h);
            } else if (t->dtype == CVB_KSERVE_FP32) {
                float f;
                memcpy(&f, p + i * 4, 4);
                v = f;
            } else {
                memcpy(&v, p + i * 8, 8);
            }
            if (!isfinite(v))
                return cvb_err_set(err, CVB_ERANGE,
                                   "tensor '%s': element %llu is not finite; JSON cannot carry "
                                   "it (send the tensor binary)",
                                   t->name, (unsigned long long)i);
            /* shortest text that reads back to the same value; always a JSON real
             * ("-0" would read back as the integer 0 and lose its sign) */
            char num[40];
            int k = snprintf(num, sizeof num, t->dtype == CVB_KSERVE_FP64 ? "%.17g" : "%.9g", v);
            if (strpbrk(num, ".e") == NULL) snprintf(num + k, sizeof num - (size_t)k, ".0");
            rc = cvb_buf_printf(b, "%s%s", sep, num);
            break;
        }
        default:
            return cvb_err_set(err, CVB_EINVAL,
                               "tensor '%s': BYTES as JSON data is not supported; send it binary",
                               t->name);
        }
    }
    if (rc == 0) rc = cvb_buf_append(b, "]", 1);
    return rc;
}

/* Appends the tensor objects of 'key' and returns through *any_bin whether
 * a binary section follows. */
static int put_tensors(struct cvb_buf *b, const char *key, const struct cvb_kserve_tensor *t,
                       int n, int *any_bin, struct cvb_err *err) {
    int rc = cvb_buf_printf(b, ",\"%s\":[", key);
    if (n < 1 || n > CVB_KSERVE_MAX_TENSORS)
        return cvb_err_set(err, CVB_EINVAL, "%s: %d tensors; expected 1 to %d", key, n,
                           CVB_KSERVE_MAX_TENSORS);
    for (int i = 0; rc == 0 && i < n; i++) {
        uint64_t elems;
        char what[CVB_KSERVE_NAME_MAX + 16];
        snprintf(what, sizeof what, "tensor '%s'", t[i].name);
        rc = cvb_kserve_shape_check(what, t[i].dtype, t[i].n_dims, t[i].shape, SIZE_MAX, &elems,
                                    err);
        if (rc < 0) return rc;
        size_t esz = cvb_kserve_dtype_size(t[i].dtype);
        if (esz != 0 && t[i].n_bytes != elems * esz)
            return cvb_err_set(err, CVB_EINVAL, "%s: %zu bytes for %llu %s elements", what,
                               t[i].n_bytes, (unsigned long long)elems,
                               cvb_kserve_dtype_name(t[i].dtype));
        if (t[i].n_bytes > 0 && t[i].data == NULL)
            return cvb_err_set(err, CVB_EINVAL, "%s: no data", what);
        rc = cvb_buf_append(b, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
        if (rc == 0) rc = cvb__kserve_put_str(b, t[i].name);
        if (rc == 0) rc = cvb_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":",
                                         cvb_kserve_dtype_name(t[i].dtype));
        if (rc == 0) rc = cvb__kserve_put_shape(b, t[i].n_dims, t[i].shape);
        if (rc < 0) break;
        if (t[i].binary || t[i].dtype == CVB_KSERVE_BYTES) {
            *any_bin = 1;
            rc = cvb_buf_printf(b, ",\"parameters\":{\"binary_data_size\":%zu}}", t[i].n_bytes);
        } else {
            rc = cvb_buf_append(b, ",\"data\":", 8);
            if (rc == 0) rc = put_values(b, &t[i], elems, err);
            if (rc < 0) return rc;
            rc = cvb_buf_append(b, "}", 1);
        }
    }
    if (rc == 0) rc = cvb_buf_append(b, "]", 1);
    return rc;
}

static int put_binary(struct cvb_buf *b, const struct cvb_kserve_tensor *t, int n) {
    int rc = 0;
    for (int i = 0; rc == 0 && i < n; i++)
        if ((t[i].binary || t[i].dtype == CVB_KSERVE_BYTES) && t[i].n_bytes > 0)
            rc = cvb_buf_append(b, t[i].data, t[i].n_bytes);
    return rc;
}

static int finish(int rc, struct cvb_buf *b, size_t start, struct cvb_err *err) {
    if (rc == CVB_ERANGE && (err == NULL || err->code != CVB_ERANGE))
        rc = cvb_err_set(err, CVB_ERANGE, "encoded body passes the %zu-byte buffer limit",
                         b->max_bytes);
    else if (rc == CVB_ENOMEM)
        rc = cvb_err_set(err, CVB_ENOMEM, "encoding a KServe body");
    if (rc < 0 && b->data) { /* leave the buffer as it was */
        b->len = start;
        b->data[start] = '\0';
    }
    return rc;
}

int cvb_kserve_request_encode(const struct cvb_kserve_request *r, struct cvb_buf *out,
                              size_t *header_len, struct cvb_err *err) {
    size_t start = out->len;
    int any_bin = 0, rc;
    if (err) cvb_err_clear(err);
    rc = cvb_buf_append(out, "{", 1);
    if (rc == 0 && r->id[0]) {
        rc = cvb_buf_append(out, "\"id\":", 5);
        if (rc == 0) rc = cvb__kserve_put_str(out, r->id);
        if (rc == 0) rc = cvb_buf_append(out, ",", 1);
    }
    if (rc == 0)
        rc = cvb_buf_printf(out, "\"parameters\":{\"binary_data_output\":%s}",
                            r->binary_outputs ? "true" : "false");
    if (rc == 0) rc = put_tensors(out, "inputs", r->inputs, r->n_inputs, &any_bin, err);
    if (rc == 0 && r->n_outputs > 0) {
        if (r->n_outputs > CVB_KSERVE_MAX_TENSORS) {
            rc = cvb_err_set(err, CVB_EINVAL, "outputs: %d requested; at most %d", r->n_outputs,
                             CVB_KSERVE_MAX_TENSORS);
            return finish(rc, out, start, err);
        }
        rc = cvb_buf_append(out, ",\"outputs\":[", 12);
        for (int i = 0; rc == 0 && i < r->n_outputs; i++) {
            rc = cvb_buf_append(out, i ? ",{\"name\":" : "{\"name\":", i ? 9 : 8);
            if (rc == 0) rc = cvb__kserve_put_str(out, r->outputs[i].name);
            if (rc == 0)
                rc = cvb_buf_printf(out, ",\"parameters\":{\"binary_data\":%s}}",
                                    r->outputs[i].binary ? "true" : "false");
        }
        if (rc == 0) rc = cvb_buf_append(out, "]", 1);
    }
    if (rc == 0) rc = cvb_buf_append(out, "}", 1);
    *header_len = out->len - start;
    if (rc == 0 && any_bin) rc = put_binary(out, r->inputs, r->n_inputs);
    return finish(rc, out, start, err);
}

int cvb_kserve_response_encode(const struct cvb_kserve_response *r, struct cvb_buf *out,
                               size_t *header_len, struct cvb_err *err) {
    size_t start = out->len;
    int any_bin = 0, rc;
    if (err) cvb_err_clear(err);
    rc = cvb_buf_append(out, "{\"model_name\":", 14);
    if (rc == 0) rc = cvb__kserve_put_str(out, r->model_name);
    if (rc == 0 && r->model_version[0]) {
        rc = cvb_buf_append(out, ",\"model_version\":", 17);
        if (rc == 0) rc = cvb__kserve_put_str(out, r->model_version);
    }
    if (rc == 0 && r->id[0]) {
        rc = cvb_buf_append(out, ",\"id\":", 6);
        if (rc == 0) rc = cvb__kserve_put_str(out, r->id);
    }
    if (rc == 0) rc = put_tensors(out, "outputs", r->outputs, r->n_outputs, &any_bin, err);
    if (rc == 0) rc = cvb_buf_append(out, "}", 1);
    *header_len = out->len - start;
    if (rc == 0 && any_bin) rc = put_binary(out, r->outputs, r->n_outputs);
    return finish(rc, out, start, err);
}

int cvb_kserve_error_encode(const char *msg, struct cvb_buf *out) {
    int rc = cvb_buf_append(out, "{\"error\":", 9);
    if (rc == 0) rc = cvb__kserve_put_str(out, msg ? msg : "");
    if (rc == 0) rc = cvb_buf_append(out, "}", 1);
    return rc;
}
