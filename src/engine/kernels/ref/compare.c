/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernels for the comparison and logic ops and Where: Greater,
 * Less, Equal, GreaterOrEqual, LessOrEqual (float32, int32, int64; Equal
 * also bool), Not, And, Or, Xor (bool), and Where (bool condition, any
 * dtype for X and Y), all with numpy multidirectional broadcasting as the
 * ONNX spec defines it for opsets 11-17.
 *
 * These appear in YOLO end2end and nms=True heads (score thresholds, the
 * masks that select kept boxes). Comparisons output bool: one byte per
 * element holding 0 or 1; a bool input is true when its byte is non-zero. */
#include "engine/kernels/ref/ref.h"

#include <string.h>

/* ---- broadcast walker --------------------------------------------------------
 * Visits the output of rank nd in row-major order and keeps, for each of up
 * to three inputs, the element offset that maps onto the current output
 * element (stride 0 along broadcast dimensions). */

#define WALK_MAX_IN 3

struct walk {
    int nd, nin;
    int64_t dims[CVB_MAX_DIMS];
    int64_t st[WALK_MAX_IN][CVB_MAX_DIMS];
    int64_t idx[CVB_MAX_DIMS];
    int64_t off[WALK_MAX_IN];
};

static void walk_init(struct walk *w, const struct cvb_kctx *k, int nin) {
    const struct cvb_tensor *y = k->tout[0];
    memset(w, 0, sizeof *w);
    w->nd = y->ndim;
    w->nin = nin;
    memcpy(w->dims, y->dims, sizeof(int64_t) * (size_t)y->ndim);
    for (int i = 0; i < nin; i++)
        cvb__ref_bcast_strides(k->tin[i]->ndim, k->tin[i]->dims, y->ndim, y->dims, w->st[i]);
}

/* Advance to the next output element. */
static inline void walk_next(struct walk *w) {
    for (int d = w->nd - 1; d >= 0; d--) {
        for (int i = 0; i < w->nin; i++) w->off[i] += w->st[i][d];
        if (++w->idx[d] < w->dims[d]) return;
        for (int i = 0; i < w->nin; i++) w->off[i] -= w->st[i][d] * w->dims[d];
        w->idx[d] = 0;
    }
}

/* Output shape of 'nin' broadcast inputs 0..nin-1 of n. */
static int infer_bcast(struct cvb_graph *g, struct cvb_node *n, int nin, enum cvb_dtype out_dt,
                       struct cvb_err *err) {
    int nd = 0;
    int64_t dims[CVB_MAX_DIMS] = {0};
    for (int i = 0; i < nin; i++) {
        const struct cvb_tensor *t = &g->tensors[n->in[i]];
        int64_t acc[CVB_MAX_DIMS];
        memcpy(acc, dims, sizeof(int64_t) * (size_t)nd);
        int rc = cvb__ref_broadcast(n, nd, acc, t->ndim, t->dims, &nd, dims, err);
        if (rc < 0) return rc;
    }
    return cvb__ref_set_out(g, n, 0, out_dt, nd, dims, err);
}

/* The ops of one family share their infer and ref functions. */
#define OP_ALIAS(e, infer, ref)                                                \
    int cvb__infer_##e(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) { \
        return infer(g, n, err);                                               \
    }                                                                          \
    int cvb__ref_##e(const struct cvb_kctx *k, struct cvb_err *err) { return ref(k, err); }

/* ---- comparisons ---------------------------------------------------------------- */

static int infer_compare(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *a = cvb__ref_need(g, n, 0, "A", err);
    if (a == NULL) return err->code;
    struct cvb_tensor *b = cvb__ref_need(g, n, 1, "B", err);
    if (b == NULL) return err->code;
    unsigned mask = CVB_DTM_F32 | CVB_DTM_INT;
    if (n->op == CVB_OP_EQUAL) mask |= CVB_DTM(CVB_DT_BOOL);
    rc = cvb__ref_dtype_ok(n, a, "input", mask, err);
    if (rc < 0) return rc;
    if (a->dtype != b->dtype)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "inputs have different dtypes (%s and %s)",
                             cvb__dtype_name(a->dtype), cvb__dtype_name(b->dtype));
    return infer_bcast(g, n, 2, CVB_DT_BOOL, err);
}

/* Float comparisons follow IEEE: any comparison with NaN is false. */
#define COMPARE_LOOP(T)                                                        \
    do {                                                                       \
        const T *pa = k->in[0], *pb = k->in[1];                                \
        for (int64_t i = 0; i < numel; i++) {                                  \
            T a = pa[w.off[0]], b = pb[w.off[1]];                              \
            bool r;                                                            \
            switch (op) {                                                      \
            case CVB_OP_GREATER: r = a > b; break;                             \
            case CVB_OP_LESS: r = a < b; break;                                \
            case CVB_OP_GREATER_OR_EQUAL: r = a >= b; break;                   \
            case CVB_OP_LESS_OR_EQUAL: r = a <= b; break;                      \
            default: r = a == b; break;                                        \
            }                                                                  \
            y[i] = r;                                                          \
            walk_next(&w);                                                     \
        }                                                                      \
    } while (0)

static int ref_compare(const struct cvb_kctx *k, struct cvb_err *err) {
    enum cvb_op op = k->node->op;
    uint8_t *y = k->out[0];
    int64_t numel = k->tout[0]->numel;
    struct walk w;
    walk_init(&w, k, 2);
    switch (k->tin[0]->dtype) {
    case CVB_DT_F32: COMPARE_LOOP(float); break;
    case CVB_DT_I32: COMPARE_LOOP(int32_t); break;
    case CVB_DT_I64: COMPARE_LOOP(int64_t); break;
    case CVB_DT_BOOL:
        for (int64_t i = 0; i < numel; i++) {
            const uint8_t *pa = k->in[0], *pb = k->in[1];
            y[i] = (pa[w.off[0]] != 0) == (pb[w.off[1]] != 0);
            walk_next(&w);
        }
        break;
    default:
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "dtype %s is not supported",
                             cvb__dtype_name(k->tin[0]->dtype));
    }
    return 0;
}

OP_ALIAS(GREATER, infer_compare, ref_compare)
OP_ALIAS(LESS, infer_compare, ref_compare)
OP_ALIAS(EQUAL, infer_compare, ref_compare)
OP_ALIAS(GREATER_OR_EQUAL, infer_compare, ref_compare)
OP_ALIAS(LESS_OR_EQUAL, infer_compare, ref_compare)

/* ---- logic ---------------------------------------------------------------------- */

int cvb__infer_NOT(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM(CVB_DT_BOOL), err);
    if (rc < 0) return rc;
    return cvb__ref_set_out(g, n, 0, CVB_DT_BOOL, x->ndim, x->dims, err);
}

int cvb__ref_NOT(const struct cvb_kctx *k, struct cvb_err *err) {
    const uint8_t *x = k->in[0];
    uint8_t *y = k->out[0];
    for (int64_t i = 0; i < k->tout[0]->numel; i++) y[i] = x[i] == 0;
    return 0;
}

static int infer_logic(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    for (int i = 0; i < 2; i++) {
        struct cvb_tensor *t = cvb__ref_need(g, n, i, i ? "B" : "A", err);
        if (t == NULL) return err->code;
        rc = cvb__ref_dtype_ok(n, t, "input", CVB_DTM(CVB_DT_BOOL), err);
        if (rc < 0) return rc;
    }
    return infer_bcast(g, n, 2, CVB_DT_BOOL, err);
}

static int ref_logic(const struct cvb_kctx *k, struct cvb_err *err) {
    enum cvb_op op = k->node->op;
    const uint8_t *pa = k->in[0], *pb = k->in[1];
    uint8_t *y = k->out[0];
    struct walk w;
    walk_init(&w, k, 2);
    for (int64_t i = 0; i < k->tout[0]->numel; i++) {
        bool a = pa[w.off[0]] != 0, b = pb[w.off[1]] != 0;
        y[i] = op == CVB_OP_AND ? (a && b) : op == CVB_OP_OR ? (a || b) : (a != b);
        walk_next(&w);
    }
    return 0;
}

OP_ALIAS(AND, infer_logic, ref_logic)
OP_ALIAS(OR, infer_logic, ref_logic)
OP_ALIAS(XOR, infer_logic, ref_logic)

/* ---- Where ---------------------------------------------------------------------- */

int cvb__infer_WHERE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 3, 3, err);
    if (rc < 0) return rc;
    struct cvb_tensor *c = cvb__ref_need(g, n, 0, "condition", err);
    if (c == NULL) return err->code;
    struct cvb_tensor *x = cvb__ref_need(g, n, 1, "X", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *y = cvb__ref_need(g, n, 2, "Y", err);
    if (y == NULL) return err->code;
    rc = cvb__ref_dtype_ok(n, c, "condition", CVB_DTM(CVB_DT_BOOL), err);
    if (rc < 0) return rc;
    if (x->dtype != y->dtype)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "X and Y have different dtypes (%s and %s)",
                             cvb__dtype_name(x->dtype), cvb__dtype_name(y->dtype));
    return infer_bcast(g, n, 3, x->dtype, err);
}

#define WHERE_LOOP(T)                                                          \
    do {                                                                       \
        const T *px = k->in[1], *py = k->in[2];                                \
        T *out = k->out[0];                                                    \
        for (int64_t i = 0; i < numel; i++) {                                  \
            out[i] = pc[w.off[0]] ? px[w.off[1]] : py[w.off[2]];               \
            walk_next(&w);                                                     \
        }                                                                      \
    } while (0)

/* Moves elements, so every dtype works by its size. */
int cvb__ref_WHERE(const struct cvb_kctx *k, struct cvb_err *err) {
    const uint8_t *pc = k->in[0];
    int64_t numel = k->tout[0]->numel;
    struct walk w;
    walk_init(&w, k, 3);
    switch (cvb__dtype_size(k->tout[0]->dtype)) {
    case 1: WHERE_LOOP(uint8_t); break;
    case 4: WHERE_LOOP(uint32_t); break;
    case 8: WHERE_LOOP(uint64_t); break;
    default:
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "dtype %s is not supported",
                             cvb__dtype_name(k->tout[0]->dtype));
    }
    return 0;
}
