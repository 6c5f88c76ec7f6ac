/* SPDX-License-Identifier: Apache-2.0 */
/* Reference MaxPool (ONNX opsets 11-17): 1-D, 2-D and 3-D float32 with
 * kernel_shape, strides, pads, dilations, ceil_mode and auto_pad. Padding
 * never wins the max (it is -inf). The optional second output (Indices) is
 * not implemented and refused at inference. */
#include "engine/kernels/ref/ref.h"

#include <math.h>

static int pool_geom(const struct cvb_node *n, const struct cvb_tensor *x, int64_t *kern,
                     int64_t *out, int64_t *pads, int64_t *st, int64_t *dl,
                     struct cvb_err *err) {
    int ns = x->ndim - 2;
    const int64_t *ks = NULL;
    int nk = cvb__attr_ints(n, "kernel_shape", &ks);
    if (nk < 0) return cvb__ref_fail(err, CVB_EFORMAT, n, "attribute kernel_shape is missing");
    if (nk != ns)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "kernel_shape has %d values but input '%s' has %d "
                             "spatial dims",
                             nk, x->name, ns);
    for (int i = 0; i < ns; i++) kern[i] = ks[i];
    int64_t ceil_mode = cvb__attr_int(n, "ceil_mode", 0);
    return cvb__ref_window(n, ns, x->dims + 2, kern, ceil_mode != 0, out, pads, st, dl, err);
}

int cvb__infer_MAXPOOL(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    if (n->n_out > 1 && n->out[1] >= 0)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "the second output (Indices) is not supported");
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32, err)) < 0) return rc;
    if (x->ndim < 3 || x->ndim > 5)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "input '%s' has rank %d; only 1-D, 2-D and 3-D pooling is supported",
                             x->name, x->ndim);
    if (cvb__attr_int(n, "storage_order", 0) != 0)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "storage_order 1 is not supported");
    int64_t kern[3], out[3], pads[6], st[3], dl[3], dims[CVB_MAX_DIMS];
    rc = pool_geom(n, x, kern, out, pads, st, dl, err);
    if (rc < 0) return rc;
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 0; i < x->ndim - 2; i++) dims[2 + i] = out[i];
    return cvb__ref_set_out(g, n, 0, CVB_DT_F32, x->ndim, dims, err);
}

int cvb__ref_MAXPOOL(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *tx = k->tin[0], *ty = k->tout[0];
    const float *x = k->in[0];
    float *y = k->out[0];
    int ns = tx->ndim - 2;
    int64_t kern[3], out[3], pads[6], st[3], dl[3];
    int rc = pool_geom(k->node, tx, kern, out, pads, st, dl, err);
    if (rc < 0) return rc;
    int64_t I[3] = {1, 1, 1}, O[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1};
    int64_t D[3] = {1, 1, 1}, P[3] = {0, 0, 0};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        I[j] = tx->dims[2 + i];
        O[j] = ty->dims[2 + i];
        K[j] = kern[i];
        S[j] = st[i];
        D[j] = dl[i];
        P[j] = pads[i];
    }
    int64_t planes = tx->dims[0] * tx->dims[1];
    int64_t isz = I[0] * I[1] * I[2], osz = O[0] * O[1] * O[2];
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * isz;
        float *yp = y + p * osz;
        for (int64_t od = 0; od < O[0]; od++)
            for (int64_t oh = 0; oh < O[1]; oh++)
                for (int64_t ow = 0; ow < O[2]; ow++) {
                    float m = -INFINITY;
                    for (int64_t kd = 0; kd < K[0]; kd++) {
                        int64_t id = od * S[0] - P[0] + kd * D[0];
                        if (id < 0 || id >= I[0]) continue;
                        for (int64_t kh = 0; kh < K[1]; kh++) {
                            int64_t ih = oh * S[1] - P[1] + kh * D[1];
                            if (ih < 0 || ih >= I[1]) continue;
                            for (int64_t kw = 0; kw < K[2]; kw++) {
                                int64_t iw = ow * S[2] - P[2] + kw * D[2];
                                if (iw < 0 || iw >= I[2]) continue;
                                float v = xp[(id * I[1] + ih) * I[2] + iw];
                                if (v > m || isnan(v)) m = v;
                            }
                        }
                    }
                    yp[(od * O[1] + oh) * O[2] + ow] = m;
                }
    }
    return 0;
}
