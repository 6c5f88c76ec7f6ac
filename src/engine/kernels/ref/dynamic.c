/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernels for the ops whose output shape depends on the data:
 * NonZero and NonMaxSuppression (opsets 9-21), as Ultralytics' nms=True
 * exports use them (the score mask's NonZero, then the in-graph NMS).
 *
 * Shape inference gives the bound: the largest output the op can produce
 * for inputs of these shapes (NonZero: every element non-zero;
 * NonMaxSuppression: batches x classes x min(boxes, max_output_boxes_per_
 * class)). finalize.c marks the outputs 'dyn' and the executor sizes their
 * buffers for the bound; at run time the kernel counts what it really
 * produces and writes the actual dims into k->tout_rt. With constant input
 * NonZero's inference is exact, so it folds like any other op. */
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool cvb__op_data_dependent(enum cvb_op op) {
    return op == CVB_OP_NONZERO || op == CVB_OP_NON_MAX_SUPPRESSION;
}

/* Set the actual first or second dim of output 0 (run time), or check that
 * the exact inference (fold time, no tout_rt) already says so. */
static int set_actual(const struct cvb_kctx *k, int dim, int64_t v, struct cvb_err *err) {
    if (k->tout_rt == NULL || k->tout_rt[0] == NULL) {
        if (k->tout[0]->dims[dim] != v)
            return cvb__ref_fail(err, CVB_EINTERNAL, k->node,
                                 "produced %lld rows where %lld were planned", (long long)v,
                                 (long long)k->tout[0]->dims[dim]);
        return 0;
    }
    struct cvb_tensor *t = k->tout_rt[0];
    if (v > k->tout[0]->dims[dim])
        return cvb__ref_fail(err, CVB_EINTERNAL, k->node,
                             "produced %lld rows, more than the planned bound %lld",
                             (long long)v, (long long)k->tout[0]->dims[dim]);
    t->dims[dim] = v;
    t->numel = 1;
    for (int d = 0; d < t->ndim; d++) t->numel *= t->dims[d];
    return 0;
}

/* ---- NonZero --------------------------------------------------------------------- */

static bool elem_nonzero(const void *p, enum cvb_dtype dt, int64_t i) {
    switch (dt) {
    case CVB_DT_F32: return ((const float *)p)[i] != 0.0f; /* NaN counts as non-zero */
    case CVB_DT_U8:
    case CVB_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    case CVB_DT_I8: return ((const int8_t *)p)[i] != 0;
    case CVB_DT_I32: return ((const int32_t *)p)[i] != 0;
    case CVB_DT_I64: return ((const int64_t *)p)[i] != 0;
    default: return false;
    }
}

static int64_t count_nonzero(const void *p, const struct cvb_tensor *x) {
    int64_t c = 0;
    for (int64_t i = 0; i < x->numel; i++) c += elem_nonzero(p, x->dtype, i);
    return c;
}

int cvb__infer_NONZERO(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    if (x->ndim < 1)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "a scalar input ('%s') is not supported",
                             x->name);
    if (x->dtype == CVB_DT_UNDEF || x->dtype >= CVB_DT_COUNT)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "input '%s' has an unsupported dtype",
                             x->name);
    /* exact with a constant input; otherwise the bound: all non-zero */
    int64_t dims[2] = {x->ndim, x->data != NULL ? count_nonzero(x->data, x) : x->numel};
    return cvb__ref_set_out(g, n, 0, CVB_DT_I64, 2, dims, err);
}

int cvb__ref_NONZERO(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    const void *px = k->in[0];
    int64_t cnt = count_nonzero(px, x);
    int rc = set_actual(k, 1, cnt, err);
    if (rc < 0) return rc;
    int64_t *y = k->out[0];
    int64_t strides[CVB_MAX_DIMS];
    cvb__ref_strides(x->ndim, x->dims, strides);
    int64_t j = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (!elem_nonzero(px, x->dtype, i)) continue;
        int64_t rem = i;
        for (int d = 0; d < x->ndim; d++) {
            y[d * cnt + j] = rem / strides[d];
            rem %= strides[d];
        }
        j++;
    }
    return 0;
}

/* ---- NonMaxSuppression -------------------------------------------------------------
 * Per batch and class: the boxes whose score exceeds score_threshold (all
 * boxes without one), in descending score order (ties: lower box index
 * first); each is selected unless its IoU with a box already selected for
 * that class exceeds iou_threshold; at most max_output_boxes_per_class
 * (absent: 0, nothing selected) per class. Output rows [batch, class, box]
 * in that order. The same semantics as ONNX's reference implementation and
 * ONNX Runtime; the IoU is computed in float32. */

struct nms_geom {
    int64_t nb, nc, nbox;
};

static int nms_geom(const struct cvb_node *n, const struct cvb_tensor *bx,
                    const struct cvb_tensor *sc, struct nms_geom *gm, struct cvb_err *err) {
    if (bx->dtype != CVB_DT_F32 || sc->dtype != CVB_DT_F32)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "boxes '%s' and scores '%s' must be "
                             "float32 (%s, %s)",
                             bx->name, sc->name, cvb__dtype_name(bx->dtype),
                             cvb__dtype_name(sc->dtype));
    if (bx->ndim != 3 || bx->dims[2] != 4)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "boxes '%s' must be [batches, boxes, 4]",
                             bx->name);
    if (sc->ndim != 3 || sc->dims[0] != bx->dims[0] || sc->dims[2] != bx->dims[1])
        return cvb__ref_fail(err, CVB_ESHAPE, n, "scores '%s' must be [batches, classes, boxes] "
                             "matching boxes '%s' [%lld, %lld, 4]",
                             sc->name, bx->name, (long long)bx->dims[0], (long long)bx->dims[1]);
    long c = cvb__attr_int(n, "center_point_box", 0);
    if (c != 0 && c != 1)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "center_point_box is %ld; expected 0 or 1", c);
    gm->nb = bx->dims[0];
    gm->nc = sc->dims[1];
    gm->nbox = bx->dims[1];
    return 0;
}

/* Optional scalar input i: its value, or 'def' when absent. */
static int64_t opt_int(const struct cvb_tensor *t, const void *p, int64_t def) {
    if (t == NULL || p == NULL || t->numel < 1) return def;
    return cvb__ref_geti(p, t->dtype, 0);
}

static float opt_float(const struct cvb_tensor *t, const void *p, float def, bool *given) {
    if (t == NULL || p == NULL || t->numel < 1) return def;
    if (given) *given = true;
    return ((const float *)p)[0];
}

static int nms_check_scalars(const struct cvb_node *n, struct cvb_tensor *const *t,
                             struct cvb_err *err) {
    static const char *const what[] = {"max_output_boxes_per_class", "iou_threshold",
                                       "score_threshold"};
    for (int i = 0; i < 3; i++) {
        if (t[i] == NULL) continue;
        if (t[i]->numel > 1)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "%s '%s' has %lld elements; expected one",
                                 what[i], t[i]->name, (long long)t[i]->numel);
        unsigned ok = i == 0 ? CVB_DTM_INT : CVB_DTM_F32;
        int rc = cvb__ref_dtype_ok(n, t[i], what[i], ok, err);
        if (rc < 0) return rc;
    }
    return 0;
}

int cvb__infer_NON_MAX_SUPPRESSION(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 5, err);
    if (rc < 0) return rc;
    struct cvb_tensor *bx = cvb__ref_need(g, n, 0, "boxes", err);
    if (bx == NULL) return err->code;
    struct cvb_tensor *sc = cvb__ref_need(g, n, 1, "scores", err);
    if (sc == NULL) return err->code;
    struct nms_geom gm;
    if ((rc = nms_geom(n, bx, sc, &gm, err)) < 0) return rc;
    struct cvb_tensor *opt[3] = {cvb__ref_in(g, n, 2), cvb__ref_in(g, n, 3), cvb__ref_in(g, n, 4)};
    if ((rc = nms_check_scalars(n, opt, err)) < 0) return rc;
    /* a constant max_output_boxes_per_class bounds the rows per class; a
     * run-time one may be anything, so the boxes do */
    int64_t per = gm.nbox;
    if (opt[0] == NULL) {
        per = 0;
    } else if (opt[0]->data != NULL) {
        int64_t m = opt_int(opt[0], opt[0]->data, 0);
        if (m < per) per = m < 0 ? 0 : m;
    }
    int64_t dims[2] = {gm.nb * gm.nc * per, 3};
    return cvb__ref_set_out(g, n, 0, CVB_DT_I64, 2, dims, err);
}

size_t cvb__ref_scratch_bytes(const struct cvb_graph *g, const struct cvb_node *n) {
    switch (n->op) {
    case CVB_OP_CONV: return cvb__ref_conv_scratch(g, n);
    case CVB_OP_RESIZE: return cvb__ref_resize_scratch(g, n);
    case CVB_OP_NON_MAX_SUPPRESSION: break;
    default: return 0;
    }
    if (n->n_in < 1 || n->in[0] < 0) return 0;
    const struct cvb_tensor *bx = &g->tensors[n->in[0]];
    if (bx->ndim != 3) return 0;
    /* candidates (score, index) and the selected indices of one class */
    return (size_t)bx->dims[1] * (2 * sizeof(float) + sizeof(int32_t)) + 64;
}

struct cand {
    float score;
    int32_t idx;
};

static int cand_cmp(const void *pa, const void *pb) {
    const struct cand *a = pa, *b = pb;
    bool na = isnan(a->score), nb = isnan(b->score);
    if (na != nb) return na ? 1 : -1; /* NaN ranks last */
    if (!na && a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Corner form (ymin, xmin, ymax, xmax) of box b. */
static void corners(const float *b, bool center, float *c) {
    if (center) {
        float hw = b[2] / 2, hh = b[3] / 2;
        c[0] = b[1] - hh, c[1] = b[0] - hw, c[2] = b[1] + hh, c[3] = b[0] + hw;
        return;
    }
    c[0] = fminf(b[0], b[2]), c[2] = fmaxf(b[0], b[2]);
    c[1] = fminf(b[1], b[3]), c[3] = fmaxf(b[1], b[3]);
}

static bool suppress(const float *b1, const float *b2, bool center, float thr) {
    float a[4], b[4];
    corners(b1, center, a);
    corners(b2, center, b);
    float ix0 = fmaxf(a[1], b[1]), ix1 = fminf(a[3], b[3]);
    if (ix1 <= ix0) return false;
    float iy0 = fmaxf(a[0], b[0]), iy1 = fminf(a[2], b[2]);
    if (iy1 <= iy0) return false;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float a1 = (a[3] - a[1]) * (a[2] - a[0]), a2 = (b[3] - b[1]) * (b[2] - b[0]);
    float uni = a1 + a2 - inter;
    if (inter <= 0 || a1 <= 0 || a2 <= 0 || uni <= 0) return false;
    return inter / uni > thr;
}

int cvb__ref_NON_MAX_SUPPRESSION(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_node *n = k->node;
    struct nms_geom gm;
    int rc = nms_geom(n, k->tin[0], k->tin[1], &gm, err);
    if (rc < 0) return rc;
    const struct cvb_tensor *t2 = n->n_in > 2 ? k->tin[2] : NULL;
    const struct cvb_tensor *t3 = n->n_in > 3 ? k->tin[3] : NULL;
    const struct cvb_tensor *t4 = n->n_in > 4 ? k->tin[4] : NULL;
    int64_t per = opt_int(t2, n->n_in > 2 ? k->in[2] : NULL, 0);
    if (per < 0) per = 0;
    float iou = opt_float(t3, n->n_in > 3 ? k->in[3] : NULL, 0.0f, NULL);
    bool has_st = false;
    float st = opt_float(t4, n->n_in > 4 ? k->in[4] : NULL, 0.0f, &has_st);
    bool center = cvb__attr_int(n, "center_point_box", 0) == 1;
    if (gm.nbox > INT32_MAX)
        return cvb__ref_fail(err, CVB_ERANGE, n, "%lld boxes; at most %d", (long long)gm.nbox,
                             INT32_MAX);
    if (k->scratch == NULL && gm.nbox > 0 && per > 0)
        return cvb__ref_fail(err, CVB_EINTERNAL, n, "no scratch memory was planned");
    struct cand *cd = k->scratch;
    int32_t *sel = (int32_t *)(cd + gm.nbox);
    const float *boxes = k->in[0], *scores = k->in[1];
    int64_t *y = k->out[0];
    int64_t rows = 0, cap = k->tout[0]->dims[0];
    for (int64_t b = 0; b < gm.nb && per > 0; b++) {
        const float *bb = boxes + b * gm.nbox * 4;
        for (int64_t c = 0; c < gm.nc; c++) {
            const float *s = scores + (b * gm.nc + c) * gm.nbox;
            int64_t nc = 0;
            for (int64_t i = 0; i < gm.nbox; i++)
                if (!has_st || s[i] > st) cd[nc++] = (struct cand){s[i], (int32_t)i};
            qsort(cd, (size_t)nc, sizeof *cd, cand_cmp);
            int64_t ns = 0;
            for (int64_t i = 0; i < nc && ns < per; i++) {
                const float *bi = bb + (int64_t)cd[i].idx * 4;
                bool keep = true;
                for (int64_t j = 0; j < ns && keep; j++)
                    keep = !suppress(bi, bb + (int64_t)sel[j] * 4, center, iou);
                if (!keep) continue;
                sel[ns++] = cd[i].idx;
                if (rows >= cap)
                    return cvb__ref_fail(err, CVB_EINTERNAL, n,
                                         "more than the planned %lld selected boxes",
                                         (long long)cap);
                y[rows * 3] = b, y[rows * 3 + 1] = c, y[rows * 3 + 2] = cd[i].idx;
                rows++;
            }
        }
    }
    return set_actual(k, 0, rows, err);
}
