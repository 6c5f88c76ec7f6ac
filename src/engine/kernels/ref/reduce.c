/* SPDX-License-Identifier: Apache-2.0 */
/* Reference reductions: ReduceMax, ReduceMin, ReduceSum and ArgMax
 * (float32, int32, int64), as the ONNX spec defines them for opsets 11-18.
 *
 * The reduced axes come from the 'axes' attribute (ReduceSum before opset
 * 13, ReduceMax/ReduceMin before 18) or from a constant second input (the
 * later opsets): a run-time axes input is refused at load, as every other
 * shape-like input is. No axes (or an empty list) reduces every axis, unless
 * noop_with_empty_axes is 1: then the op is an identity. keepdims (default 1)
 * keeps reduced axes as size 1. An empty reduction gives the identity of the
 * operation (0, -inf, +inf; the int extremes for integers).
 *
 * ArgMax returns int64 indices along 'axis'; ties go to the first index, or
 * the last with select_last_index 1. NaN is not special-cased (a NaN is
 * never greater than anything, so it is only chosen when it comes first). */
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <string.h>

/* ---- Reduce* ------------------------------------------------------------------- */

/* Which axes of a rank-'r' input node n reduces: red[d] for each d. Reads
 * the axes from input 1 (its tensor 'ta' and values 'pa', NULL when absent)
 * or the attribute. Sets *noop when the op is an identity. */
static int reduce_mask(const struct cvb_node *n, int r, const struct cvb_tensor *ta,
                       const void *pa, bool *red, bool *noop, struct cvb_err *err) {
    const int64_t *attr = NULL;
    int cnt = cvb__attr_ints(n, "axes", &attr);
    if (ta != NULL && cnt >= 0)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "has both an axes attribute and an axes input");
    if (ta != NULL) cnt = (int)ta->numel;
    if (cnt < 0) cnt = 0;
    *noop = cnt == 0 && cvb__attr_int(n, "noop_with_empty_axes", 0) != 0;
    for (int d = 0; d < r; d++) red[d] = cnt == 0 && !*noop;
    for (int i = 0; i < cnt; i++) {
        int64_t a = ta != NULL ? cvb__ref_geti(pa, ta->dtype, i) : attr[i];
        int ax = cvb__ref_axis(a, r);
        if (ax < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                                 (long long)a, r);
        if (red[ax])
            return cvb__ref_fail(err, CVB_EFORMAT, n, "axis %lld is listed twice", (long long)a);
        red[ax] = true;
    }
    return 0;
}

static int infer_reduce(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32 | CVB_DTM_INT, err)) < 0) return rc;
    struct cvb_tensor *ta = cvb__ref_in(g, n, 1);
    if (ta != NULL) {
        int64_t tmp[CVB_MAX_DIMS];
        int cnt = 0;
        rc = cvb__ref_const_ints(g, n, 1, "axes", tmp, CVB_MAX_DIMS, &cnt, err);
        if (rc < 0) return rc;
    }
    bool red[CVB_MAX_DIMS], noop = false;
    rc = reduce_mask(n, x->ndim, ta, ta != NULL ? ta->data : NULL, red, &noop, err);
    if (rc < 0) return rc;
    bool keep = cvb__attr_int(n, "keepdims", 1) != 0;
    int64_t dims[CVB_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (!red[d])
            dims[nd++] = x->dims[d];
        else if (keep)
            dims[nd++] = 1;
    }
    return cvb__ref_set_out(g, n, 0, x->dtype, nd, dims, err);
}

/* Fill y (ny elements) with INIT, then fold every input element into the
 * output element it reduces to: an odometer over x's dims, with 'os' the
 * output stride of each input dim (0 for a reduced one). */
#define REDUCE_LOOP(T, INIT, ACC)                                              \
    do {                                                                       \
        const T *px = k->in[0];                                                \
        T *py = k->out[0];                                                     \
        for (int64_t i = 0; i < ny; i++) py[i] = (INIT);                       \
        if (nx == 0) break;                                                    \
        int64_t idx[CVB_MAX_DIMS] = {0}, o = 0;                                \
        for (int64_t i = 0; i < nx; i++) {                                     \
            T v = px[i];                                                       \
            T *acc = &py[o];                                                   \
            ACC;                                                               \
            for (int d = r - 1; d >= 0; d--) {                                 \
                o += os[d];                                                    \
                if (++idx[d] < dims[d]) break;                                 \
                o -= os[d] * dims[d];                                          \
                idx[d] = 0;                                                    \
            }                                                                  \
        }                                                                      \
    } while (0)

/* One of the three reductions over element type T: LO and HI are the
 * identities of max and min, SUM the sum of *acc and v. */
#define REDUCE_TYPED(T, LO, HI, SUM)                                           \
    do {                                                                       \
        if (op == CVB_OP_REDUCE_SUM)                                           \
            REDUCE_LOOP(T, 0, *acc = (SUM));                                   \
        else if (op == CVB_OP_REDUCE_MAX)                                      \
            REDUCE_LOOP(T, LO, if (v > *acc) *acc = v);                        \
        else                                                                   \
            REDUCE_LOOP(T, HI, if (v < *acc) *acc = v);                        \
    } while (0)

static int ref_reduce(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    const struct cvb_tensor *ta = k->node->n_in > 1 ? k->tin[1] : NULL;
    bool red[CVB_MAX_DIMS], noop = false;
    int r = x->ndim;
    int rc = reduce_mask(k->node, r, ta, ta != NULL ? k->in[1] : NULL, red, &noop, err);
    if (rc < 0) return rc;
    int64_t nx = x->numel, ny = k->tout[0]->numel;
    if (noop) {
        memcpy(k->out[0], k->in[0], cvb__tensor_bytes(x));
        return 0;
    }
    const int64_t *dims = x->dims;
    int64_t os[CVB_MAX_DIMS], s = 1;
    for (int d = r - 1; d >= 0; d--) {
        os[d] = red[d] ? 0 : s;
        if (!red[d]) s *= dims[d];
    }
    enum cvb_op op = k->node->op;
    switch (x->dtype) {
    case CVB_DT_F32: REDUCE_TYPED(float, -INFINITY, INFINITY, *acc + v); break;
    /* integer sums wrap (two's complement), as ONNX Runtime's do */
    case CVB_DT_I32:
        REDUCE_TYPED(int32_t, INT32_MIN, INT32_MAX, (int32_t)((uint32_t)*acc + (uint32_t)v));
        break;
    case CVB_DT_I64:
        REDUCE_TYPED(int64_t, INT64_MIN, INT64_MAX, (int64_t)((uint64_t)*acc + (uint64_t)v));
        break;
    default:
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "input '%s' has dtype %s", x->name,
                             cvb__dtype_name(x->dtype));
    }
    return 0;
}

/* The three Reduce ops share inference and kernel; the op picks the fold. */
#define REDUCE_ENTRY(E)                                                        \
    int cvb__infer_##E(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) { \
        return infer_reduce(g, n, err);                                        \
    }                                                                          \
    int cvb__ref_##E(const struct cvb_kctx *k, struct cvb_err *err) { return ref_reduce(k, err); }
REDUCE_ENTRY(REDUCE_MAX)
REDUCE_ENTRY(REDUCE_MIN)
REDUCE_ENTRY(REDUCE_SUM)
#undef REDUCE_ENTRY

/* ---- ArgMax ------------------------------------------------------------------- */

int cvb__infer_ARGMAX(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32 | CVB_DTM_INT, err)) < 0) return rc;
    int ax = 0;
    if ((rc = cvb__ref_attr_axis(n, x->ndim, 0, &ax, err)) < 0) return rc;
    if (x->dims[ax] == 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %d of input '%s' is empty", ax, x->name);
    bool keep = cvb__attr_int(n, "keepdims", 1) != 0;
    int64_t dims[CVB_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d != ax)
            dims[nd++] = x->dims[d];
        else if (keep)
            dims[nd++] = 1;
    }
    return cvb__ref_set_out(g, n, 0, CVB_DT_I64, nd, dims, err);
}

/* For each (outer, inner) position, the index along the axis of the best
 * value; 'last' takes the last of equal values. */
#define ARGMAX_LOOP(T)                                                         \
    do {                                                                       \
        const T *px = k->in[0];                                                \
        for (int64_t o = 0; o < outer; o++)                                    \
            for (int64_t i = 0; i < inner; i++) {                              \
                const T *p = px + o * len * inner + i;                         \
                int64_t best = 0;                                              \
                for (int64_t j = 1; j < len; j++) {                            \
                    T v = p[j * inner], b = p[best * inner];                   \
                    if (v > b || (last && v == b)) best = j;                   \
                }                                                              \
                py[o * inner + i] = best;                                      \
            }                                                                  \
    } while (0)

int cvb__ref_ARGMAX(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int ax = 0;
    int rc = cvb__ref_attr_axis(k->node, x->ndim, 0, &ax, err);
    if (rc < 0) return rc;
    bool last = cvb__attr_int(k->node, "select_last_index", 0) != 0;
    int64_t outer = 1, len = x->dims[ax], inner = 1;
    for (int d = 0; d < ax; d++) outer *= x->dims[d];
    for (int d = ax + 1; d < x->ndim; d++) inner *= x->dims[d];
    int64_t *py = k->out[0];
    switch (x->dtype) {
    case CVB_DT_F32: ARGMAX_LOOP(float); break;
    case CVB_DT_I32: ARGMAX_LOOP(int32_t); break;
    case CVB_DT_I64: ARGMAX_LOOP(int64_t); break;
    default:
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "input '%s' has dtype %s", x->name,
                             cvb__dtype_name(x->dtype));
    }
    return 0;
}
