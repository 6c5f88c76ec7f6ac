/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernels for elementwise ops: Sigmoid, Relu, Sqrt (float32) and
 * the binary ops Add, Sub, Mul, Div (float32, int32, int64) and Pow (float32
 * base; float32/int32/int64 exponent) and Mod (float32 with fmod 1; int64,
 * int32, int8, uint8 with fmod 0 (the result takes the divisor's sign, as
 * Python's %) or 1 (the dividend's, as C's %)) with numpy multidirectional
 * broadcasting, as the ONNX spec defines it for opsets 11-17. */
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <string.h>

/* ---- unary ------------------------------------------------------------------ */

static int infer_unary(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32, err);
    if (rc < 0) return rc;
    return cvb__ref_set_out(g, n, 0, x->dtype, x->ndim, x->dims, err);
}

int cvb__infer_SIGMOID(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_unary(g, n, err);
}
int cvb__infer_RELU(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_unary(g, n, err);
}
int cvb__infer_SQRT(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_unary(g, n, err);
}

int cvb__ref_SIGMOID(const struct cvb_kctx *k, struct cvb_err *err) {
    const float *x = k->in[0];
    float *y = k->out[0];
    for (int64_t i = 0; i < k->tout[0]->numel; i++) {
        /* Split by sign so exp() never overflows. */
        float v = x[i];
        if (v >= 0) {
            y[i] = 1.0f / (1.0f + expf(-v));
        } else {
            float e = expf(v);
            y[i] = e / (1.0f + e);
        }
    }
    return 0;
}

int cvb__ref_RELU(const struct cvb_kctx *k, struct cvb_err *err) {
    const float *x = k->in[0];
    float *y = k->out[0];
    for (int64_t i = 0; i < k->tout[0]->numel; i++) y[i] = x[i] > 0 ? x[i] : 0.0f * x[i];
    return 0;
}

int cvb__ref_SQRT(const struct cvb_kctx *k, struct cvb_err *err) {
    const float *x = k->in[0];
    float *y = k->out[0];
    for (int64_t i = 0; i < k->tout[0]->numel; i++) y[i] = sqrtf(x[i]);
    return 0;
}

/* ---- binary ----------------------------------------------------------------- */

static int infer_binary(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *a = cvb__ref_need(g, n, 0, "A", err);
    if (a == NULL) return err->code;
    struct cvb_tensor *b = cvb__ref_need(g, n, 1, "B", err);
    if (b == NULL) return err->code;
    if (n->op == CVB_OP_POW) {
        rc = cvb__ref_dtype_ok(n, a, "base", CVB_DTM_F32, err);
        if (rc == 0) rc = cvb__ref_dtype_ok(n, b, "exponent", CVB_DTM_F32 | CVB_DTM_INT, err);
    } else {
        unsigned mask = CVB_DTM_F32 | CVB_DTM_INT;
        if (n->op == CVB_OP_MOD) mask |= CVB_DTM(CVB_DT_I8) | CVB_DTM(CVB_DT_U8);
        rc = cvb__ref_dtype_ok(n, a, "input", mask, err);
        if (rc == 0 && a->dtype != b->dtype)
            rc = cvb__ref_fail(err, CVB_EFORMAT, n, "inputs have different dtypes (%s and %s)",
                               cvb__dtype_name(a->dtype), cvb__dtype_name(b->dtype));
    }
    if (rc < 0) return rc;
    int nd = 0;
    int64_t dims[CVB_MAX_DIMS];
    rc = cvb__ref_broadcast(n, a->ndim, a->dims, b->ndim, b->dims, &nd, dims, err);
    if (rc < 0) return rc;
    return cvb__ref_set_out(g, n, 0, a->dtype, nd, dims, err);
}

int cvb__infer_ADD(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_binary(g, n, err);
}
int cvb__infer_SUB(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_binary(g, n, err);
}
int cvb__infer_MUL(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_binary(g, n, err);
}
int cvb__infer_DIV(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_binary(g, n, err);
}
int cvb__infer_POW(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    return infer_binary(g, n, err);
}
int cvb__infer_MOD(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int64_t fm = cvb__attr_int(n, "fmod", 0);
    if (fm != 0 && fm != 1)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "fmod is %lld; it must be 0 or 1", (long long)fm);
    int rc = infer_binary(g, n, err);
    if (rc < 0) return rc;
    if (fm == 0 && g->tensors[n->in[0]].dtype == CVB_DT_F32)
        return cvb__ref_fail(err, CVB_EFORMAT, n,
                             "fmod 0 on float32 inputs; the ONNX spec requires fmod 1 for "
                             "floating point");
    return 0;
}

/* Walk the broadcast output in row-major order; for each run along the last
 * dimension call BODY with a pointer offset oa/ob and strides sa/sb. */
struct bcast {
    int nd;
    int64_t dims[CVB_MAX_DIMS];
    int64_t sa[CVB_MAX_DIMS], sb[CVB_MAX_DIMS];
};

static void bcast_init(const struct cvb_kctx *k, struct bcast *bc) {
    const struct cvb_tensor *y = k->tout[0];
    bc->nd = y->ndim > 0 ? y->ndim : 1;
    if (y->ndim == 0) {
        bc->dims[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
        return;
    }
    memcpy(bc->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
    cvb__ref_bcast_strides(k->tin[0]->ndim, k->tin[0]->dims, y->ndim, y->dims, bc->sa);
    cvb__ref_bcast_strides(k->tin[1]->ndim, k->tin[1]->dims, y->ndim, y->dims, bc->sb);
}

#define BCAST_LOOP(TA, TB, TY, EXPR)                                           \
    do {                                                                       \
        const TA *pa = k->in[0];                                               \
        const TB *pb = k->in[1];                                               \
        TY *py = k->out[0];                                                    \
        struct bcast bc;                                                       \
        bcast_init(k, &bc);                                                    \
        if (k->tout[0]->numel == 0) break;                                     \
        int last = bc.nd - 1;                                                  \
        int64_t idx[CVB_MAX_DIMS] = {0};                                       \
        int64_t oa = 0, ob = 0, oy = 0, len = bc.dims[last];                   \
        int64_t sa = bc.sa[last], sb = bc.sb[last];                            \
        for (;;) {                                                             \
            for (int64_t i = 0; i < len; i++) {                                \
                TA a = pa[oa + i * sa];                                        \
                TB b = pb[ob + i * sb];                                        \
                py[oy + i] = (EXPR);                                           \
            }                                                                  \
            oy += len;                                                         \
            int d = last - 1;                                                  \
            for (; d >= 0; d--) {                                              \
                oa += bc.sa[d];                                                \
                ob += bc.sb[d];                                                \
                if (++idx[d] < bc.dims[d]) break;                              \
                oa -= bc.sa[d] * bc.dims[d];                                   \
                ob -= bc.sb[d] * bc.dims[d];                                   \
                idx[d] = 0;                                                    \
            }                                                                  \
            if (d < 0) break;                                                  \
        }                                                                      \
    } while (0)

int cvb__ref_ADD(const struct cvb_kctx *k, struct cvb_err *err) {
    switch (k->tout[0]->dtype) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, a + b); break;
    case CVB_DT_I32: BCAST_LOOP(int32_t, int32_t, int32_t, (int32_t)((uint32_t)a + (uint32_t)b)); break;
    case CVB_DT_I64: BCAST_LOOP(int64_t, int64_t, int64_t, (int64_t)((uint64_t)a + (uint64_t)b)); break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported dtype");
    }
    return 0;
}

int cvb__ref_SUB(const struct cvb_kctx *k, struct cvb_err *err) {
    switch (k->tout[0]->dtype) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, a - b); break;
    case CVB_DT_I32: BCAST_LOOP(int32_t, int32_t, int32_t, (int32_t)((uint32_t)a - (uint32_t)b)); break;
    case CVB_DT_I64: BCAST_LOOP(int64_t, int64_t, int64_t, (int64_t)((uint64_t)a - (uint64_t)b)); break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported dtype");
    }
    return 0;
}

int cvb__ref_MUL(const struct cvb_kctx *k, struct cvb_err *err) {
    switch (k->tout[0]->dtype) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, a * b); break;
    case CVB_DT_I32: BCAST_LOOP(int32_t, int32_t, int32_t, (int32_t)((uint32_t)a * (uint32_t)b)); break;
    case CVB_DT_I64: BCAST_LOOP(int64_t, int64_t, int64_t, (int64_t)((uint64_t)a * (uint64_t)b)); break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported dtype");
    }
    return 0;
}

/* Integer division truncates toward zero (C semantics, as ONNX Runtime
 * does). A zero divisor (Div or Mod) is reported instead of trapping;
 * INT_MIN / -1 wraps. */
static int int_div_check(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *tb = k->tin[1];
    for (int64_t i = 0; i < tb->numel; i++)
        if (cvb__ref_geti(k->in[1], tb->dtype, i) == 0)
            return cvb__ref_fail(err, CVB_ERANGE, k->node, "integer division by zero");
    return 0;
}

/* Integer remainder: the dividend's sign (fm, C's %) or the divisor's
 * (Python's %). b != 0; x % -1 is 0 (INT_MIN % -1 would trap). */
static inline int64_t mod_int(int64_t a, int64_t b, bool fm) {
    if (b == -1) return 0;
    int64_t r = a % b;
    if (!fm && r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

static inline int64_t div_i64(int64_t a, int64_t b) {
    return (b == -1) ? (int64_t)(0 - (uint64_t)a) : a / b;
}
static inline int32_t div_i32(int32_t a, int32_t b) {
    return (b == -1) ? (int32_t)(0 - (uint32_t)a) : a / b;
}

int cvb__ref_DIV(const struct cvb_kctx *k, struct cvb_err *err) {
    int rc = 0;
    switch (k->tout[0]->dtype) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, a / b); break;
    case CVB_DT_I32:
        if ((rc = int_div_check(k, err)) < 0) return rc;
        BCAST_LOOP(int32_t, int32_t, int32_t, div_i32(a, b));
        break;
    case CVB_DT_I64:
        if ((rc = int_div_check(k, err)) < 0) return rc;
        BCAST_LOOP(int64_t, int64_t, int64_t, div_i64(a, b));
        break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported dtype");
    }
    return 0;
}

int cvb__ref_MOD(const struct cvb_kctx *k, struct cvb_err *err) {
    bool fm = cvb__attr_int(k->node, "fmod", 0) != 0;
    enum cvb_dtype dt = k->tout[0]->dtype;
    if (dt != CVB_DT_F32) {
        int rc = int_div_check(k, err);
        if (rc < 0) return rc;
    }
    switch (dt) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, fmodf(a, b)); break;
    case CVB_DT_I64: BCAST_LOOP(int64_t, int64_t, int64_t, mod_int(a, b, fm)); break;
    case CVB_DT_I32: BCAST_LOOP(int32_t, int32_t, int32_t, (int32_t)mod_int(a, b, fm)); break;
    case CVB_DT_I8: BCAST_LOOP(int8_t, int8_t, int8_t, (int8_t)mod_int(a, b, fm)); break;
    case CVB_DT_U8: BCAST_LOOP(uint8_t, uint8_t, uint8_t, (uint8_t)mod_int(a, b, fm)); break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported dtype");
    }
    return 0;
}

int cvb__ref_POW(const struct cvb_kctx *k, struct cvb_err *err) {
    switch (k->tin[1]->dtype) {
    case CVB_DT_F32: BCAST_LOOP(float, float, float, (float)pow((double)a, (double)b)); break;
    case CVB_DT_I32: BCAST_LOOP(float, int32_t, float, (float)pow((double)a, (double)b)); break;
    case CVB_DT_I64: BCAST_LOOP(float, int64_t, float, (float)pow((double)a, (double)b)); break;
    default: return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "unsupported exponent dtype");
    }
    return 0;
}
