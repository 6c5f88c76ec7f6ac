/* SPDX-License-Identifier: Apache-2.0 */
/* Reference Softmax. Opsets 11-12: the input is coerced to 2-D at 'axis'
 * (default 1) and softmax runs over each row of prod(dims[axis:]) values.
 * Opset 13+: softmax runs along the single dimension 'axis' (default -1).
 * float32 only; the max is subtracted first and the sum kept in double. */
#include "engine/kernels/ref/ref.h"

#include <math.h>

static int softmax_geom(const struct cvb_graph *g, const struct cvb_node *n,
                        const struct cvb_tensor *x, int64_t *outer, int64_t *len,
                        int64_t *inner, struct cvb_err *err) {
    bool per_axis = g->opset >= 13;
    int64_t a = cvb__attr_int(n, "axis", per_axis ? -1 : 1);
    int r = x->ndim;
    int ax;
    if (per_axis) {
        ax = cvb__ref_axis(a, r);
    } else {
        /* Coerce-to-2D allows axis == rank (rows of one element). */
        ax = (a >= -(int64_t)r && a <= r) ? (int)(a < 0 ? a + r : a) : -1;
    }
    if (ax < 0 || (r == 0 && per_axis))
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, r);
    *outer = 1;
    *len = 1;
    *inner = 1;
    for (int i = 0; i < ax; i++) *outer *= x->dims[i];
    if (per_axis) {
        *len = x->dims[ax];
        for (int i = ax + 1; i < r; i++) *inner *= x->dims[i];
    } else {
        for (int i = ax; i < r; i++) *len *= x->dims[i];
    }
    return 0;
}

int cvb__infer_SOFTMAX(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32, err)) < 0) return rc;
    int64_t o, l, i;
    if ((rc = softmax_geom(g, n, x, &o, &l, &i, err)) < 0) return rc;
    return cvb__ref_set_out(g, n, 0, CVB_DT_F32, x->ndim, x->dims, err);
}

int cvb__ref_SOFTMAX(const struct cvb_kctx *k, struct cvb_err *err) {
    int64_t outer, len, inner;
    int rc = softmax_geom(k->g, k->node, k->tin[0], &outer, &len, &inner, err);
    if (rc < 0) return rc;
    const float *x = k->in[0];
    float *y = k->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i;
            float *yp = y + o * len * inner + i;
            float m = -INFINITY;
            for (int64_t j = 0; j < len; j++)
                if (xp[j * inner] > m) m = xp[j * inner];
            double s = 0;
            for (int64_t j = 0; j < len; j++) s += exp((double)xp[j * inner] - m);
            for (int64_t j = 0; j < len; j++) yp[j * inner] = (float)(exp((double)xp[j * inner] - m) / s);
        }
    return 0;
}
