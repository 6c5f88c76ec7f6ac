/* SPDX-License-Identifier: Apache-2.0 */
/* Reference index ops: TopK, GatherElements and Tile (ONNX opsets 11-17),
 * the selection steps of the YOLO end2end heads.
 *
 * TopK (float32, int32, int64 values; int64 indices): K is a constant
 * input, read at load. The result is always sorted (sorted 0 leaves the
 * order to us) and stable: of equal values the lower index comes first, as
 * the spec requires. NaN counts as larger than every number (numpy's
 * order), so a total order holds. The kernel needs no scratch: it keeps each
 * row's best K in the output buffers themselves, inserting every input
 * value at its binary-searched place (O(len log K) compares, O(K) moves per
 * insertion; in the worst case, an already ascending row, O(len K)).
 *
 * GatherElements (any dtype, int32/int64 indices): out[i] = data[i with
 * i[axis] replaced by indices[i]]; negative indices count from the end. An
 * index out of range is ERANGE naming the node (at load when the indices
 * are constant, else at run time), never an out-of-bounds read.
 *
 * Tile (any dtype): repeats is a constant input with one value >= 0 per
 * input dim. */
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <string.h>

/* ---- TopK ------------------------------------------------------------------------ */

/* TopK's axis and K for input x (K from constant input 1 'tk'/'pk'). */
static int topk_geom(const struct cvb_node *n, const struct cvb_tensor *x,
                     const struct cvb_tensor *tk, const void *pk, int *ax, int64_t *kk,
                     struct cvb_err *err) {
    int rc = cvb__ref_attr_axis(n, x->ndim, -1, ax, err);
    if (rc < 0) return rc;
    if (tk->numel != 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "K input '%s' has %lld values, expected 1",
                             tk->name, (long long)tk->numel);
    *kk = cvb__ref_geti(pk, tk->dtype, 0);
    if (*kk < 0 || *kk > x->dims[*ax])
        return cvb__ref_fail(err, CVB_ESHAPE, n, "K %lld is outside 0..%lld (axis %d of '%s')",
                             (long long)*kk, (long long)x->dims[*ax], *ax, x->name);
    return 0;
}

int cvb__infer_TOPK(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32 | CVB_DTM_INT, err)) < 0) return rc;
    if (x->ndim < 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "input '%s' is a scalar", x->name);
    int64_t kv[1];
    int cnt = 0;
    rc = cvb__ref_const_ints(g, n, 1, "K", kv, 1, &cnt, err);
    if (rc < 0) return rc;
    int ax = 0;
    int64_t kk = 0, dims[CVB_MAX_DIMS];
    struct cvb_tensor *tk = cvb__ref_in(g, n, 1);
    if ((rc = topk_geom(n, x, tk, tk->data, &ax, &kk, err)) < 0) return rc;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    dims[ax] = kk;
    rc = cvb__ref_set_out(g, n, 0, x->dtype, x->ndim, dims, err);
    if (rc == 0) rc = cvb__ref_set_out(g, n, 1, CVB_DT_I64, x->ndim, dims, err);
    return rc;
}

/* Is a strictly better than b? GT is "a ranks above b" in ascending order. */
#define TOPK_GT_F(a, b) ((a) > (b) || (isnan(a) && !isnan(b)))
#define TOPK_GT_I(a, b) ((a) > (b))

/* For each (outer, inner) row: insert each of its 'len' values, in index
 * order, after every kept value that is not worse (stability), keeping the
 * best K in vals/idx (stride 'inner'; idx may be NULL). */
#define TOPK_LOOP(T, GT)                                                       \
    do {                                                                       \
        const T *px = k->in[0];                                                \
        T *pv = k->out[0];                                                     \
        for (int64_t o = 0; o < outer; o++)                                    \
            for (int64_t i = 0; i < inner; i++) {                              \
                const T *xr = px + o * len * inner + i;                        \
                T *vr = pv + o * kk * inner + i;                               \
                int64_t *ir = pi != NULL ? pi + o * kk * inner + i : NULL;     \
                int64_t cnt = 0;                                               \
                for (int64_t j = 0; j < len; j++) {                            \
                    T v = xr[j * inner];                                       \
                    int64_t lo = 0, hi = cnt; /* first kept value v beats */   \
                    while (lo < hi) {                                          \
                        int64_t mid = lo + (hi - lo) / 2;                      \
                        T m = vr[mid * inner];                                 \
                        bool beats = largest ? GT(v, m) : GT(m, v);            \
                        if (beats)                                             \
                            hi = mid;                                          \
                        else                                                   \
                            lo = mid + 1;                                      \
                    }                                                          \
                    if (lo >= kk) continue;                                    \
                    int64_t q = cnt < kk ? cnt : kk - 1;                       \
                    for (; q > lo; q--) {                                      \
                        vr[q * inner] = vr[(q - 1) * inner];                   \
                        if (ir) ir[q * inner] = ir[(q - 1) * inner];           \
                    }                                                          \
                    vr[lo * inner] = v;                                        \
                    if (ir) ir[lo * inner] = j;                                \
                    if (cnt < kk) cnt++;                                       \
                }                                                              \
            }                                                                  \
    } while (0)

int cvb__ref_TOPK(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int ax = 0;
    int64_t kk = 0;
    int rc = topk_geom(k->node, x, k->tin[1], k->in[1], &ax, &kk, err);
    if (rc < 0) return rc;
    bool largest = cvb__attr_int(k->node, "largest", 1) != 0;
    int64_t outer = 1, len = x->dims[ax], inner = 1;
    for (int d = 0; d < ax; d++) outer *= x->dims[d];
    for (int d = ax + 1; d < x->ndim; d++) inner *= x->dims[d];
    int64_t *pi = k->node->n_out > 1 && k->tout[1] != NULL ? k->out[1] : NULL;
    if (kk == 0) return 0;
    switch (x->dtype) {
    case CVB_DT_F32: TOPK_LOOP(float, TOPK_GT_F); break;
    case CVB_DT_I32: TOPK_LOOP(int32_t, TOPK_GT_I); break;
    case CVB_DT_I64: TOPK_LOOP(int64_t, TOPK_GT_I); break;
    default:
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "input '%s' has dtype %s", x->name,
                             cvb__dtype_name(x->dtype));
    }
    return 0;
}

/* ---- GatherElements ------------------------------------------------------------ */

int cvb__infer_GATHER_ELEMENTS(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *ti = cvb__ref_need(g, n, 1, "indices", err);
    if (ti == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, ti, "indices", CVB_DTM_INT, err)) < 0) return rc;
    if (ti->ndim != x->ndim || x->ndim < 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "indices '%s' has rank %d, data '%s' rank %d; "
                             "they must be equal and at least 1",
                             ti->name, ti->ndim, x->name, x->ndim);
    int ax = 0;
    if ((rc = cvb__ref_attr_axis(n, x->ndim, 0, &ax, err)) < 0) return rc;
    for (int d = 0; d < x->ndim; d++)
        if (d != ax && ti->dims[d] > x->dims[d])
            return cvb__ref_fail(err, CVB_ESHAPE, n, "indices '%s' dim %d is %lld, larger than "
                                 "data '%s' (%lld)",
                                 ti->name, d, (long long)ti->dims[d], x->name,
                                 (long long)x->dims[d]);
    if (ti->data != NULL && (rc = cvb__ref_check_indices(n, ti, ti->data, x->dims[ax], err)) < 0)
        return rc;
    return cvb__ref_set_out(g, n, 0, x->dtype, ti->ndim, ti->dims, err);
}

int cvb__ref_GATHER_ELEMENTS(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *ti = k->tin[1];
    int r = x->ndim, ax = 0;
    int rc = cvb__ref_attr_axis(k->node, r, 0, &ax, err);
    if (rc < 0) return rc;
    int64_t dim = x->dims[ax];
    if ((rc = cvb__ref_check_indices(k->node, ti, k->in[1], dim, err)) < 0) return rc;
    if (ti->numel == 0) return 0;
    size_t es = cvb__dtype_size(x->dtype);
    int64_t xs[CVB_MAX_DIMS];
    cvb__ref_strides(r, x->dims, xs);
    const char *src = k->in[0];
    char *dst = k->out[0];
    int64_t idx[CVB_MAX_DIMS] = {0}, base = 0; /* base: data offset without the axis term */
    for (int64_t i = 0; i < ti->numel; i++) {
        int64_t v = cvb__ref_geti(k->in[1], ti->dtype, i);
        if (v < 0) v += dim;
        memcpy(dst + (size_t)i * es, src + (size_t)(base + v * xs[ax]) * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (d != ax) base += xs[d];
            if (++idx[d] < ti->dims[d]) break;
            if (d != ax) base -= xs[d] * ti->dims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* ---- Tile ---------------------------------------------------------------------------- */

int cvb__infer_TILE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    int64_t rep[CVB_MAX_DIMS], dims[CVB_MAX_DIMS];
    int cnt = 0;
    rc = cvb__ref_const_ints(g, n, 1, "repeats", rep, CVB_MAX_DIMS, &cnt, err);
    if (rc < 0) return rc;
    if (cnt != x->ndim)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "repeats has %d values for input '%s' of rank %d",
                             cnt, x->name, x->ndim);
    for (int d = 0; d < x->ndim; d++) {
        if (rep[d] < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "repeats[%d] is negative (%lld)", d,
                                 (long long)rep[d]);
        if (rep[d] > 0 && x->dims[d] > INT64_MAX / rep[d])
            return cvb__ref_fail(err, CVB_ERANGE, n, "repeats[%d] = %lld makes an absurd size", d,
                                 (long long)rep[d]);
        dims[d] = x->dims[d] * rep[d];
    }
    return cvb__ref_set_out(g, n, 0, x->dtype, x->ndim, dims, err);
}

int cvb__ref_TILE(const struct cvb_kctx *k, struct cvb_err *err) {
    (void)err;
    const struct cvb_tensor *x = k->tin[0], *y = k->tout[0];
    int r = y->ndim;
    size_t es = cvb__dtype_size(x->dtype);
    if (y->numel == 0) return 0;
    int64_t xs[CVB_MAX_DIMS];
    cvb__ref_strides(r, x->dims, xs);
    const char *src = k->in[0];
    char *dst = k->out[0];
    /* odometer over y; xi[d] is the input coordinate (y's modulo x's dim) */
    int64_t yi[CVB_MAX_DIMS] = {0}, xi[CVB_MAX_DIMS] = {0}, off = 0;
    for (int64_t i = 0; i < y->numel; i++) {
        memcpy(dst + (size_t)i * es, src + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            yi[d]++;
            if (++xi[d] < x->dims[d]) {
                off += xs[d];
            } else {
                off -= xs[d] * (x->dims[d] - 1);
                xi[d] = 0;
            }
            if (yi[d] < y->dims[d]) break;
            yi[d] = 0;
        }
    }
    return 0;
}
