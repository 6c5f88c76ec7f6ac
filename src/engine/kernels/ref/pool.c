/* SPDX-License-Identifier: Apache-2.0 */
/* Reference MaxPool and AveragePool (ONNX opsets 11-17): 1-D, 2-D and 3-D
 * float32 with kernel_shape, strides, pads, ceil_mode and auto_pad (and
 * dilations, which MaxPool has and AveragePool gains in opset 19). Padding
 * never wins the max (it is -inf). MaxPool's optional second output
 * (Indices) is not implemented and refused at inference. AveragePool divides
 * by the window positions inside the input (count_include_pad 0) or inside
 * the padded input (count_include_pad 1); with ceil_mode a last window that
 * runs past the end padding counts only the positions up to it. */
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

static int infer_pool(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
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

int cvb__infer_MAXPOOL(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    if (n->n_out > 1 && n->out[1] >= 0)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "the second output (Indices) is not supported");
    return infer_pool(g, n, err);
}

int cvb__infer_AVERAGEPOOL(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    if (n->n_out > 1)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "has %d outputs, expected 1", n->n_out);
    return infer_pool(g, n, err);
}

/* The pooling loop shared by MaxPool (avg false) and AveragePool. */
static int pool_run(const struct cvb_kctx *k, bool avg, struct cvb_err *err) {
    const struct cvb_tensor *tx = k->tin[0], *ty = k->tout[0];
    const float *x = k->in[0];
    float *y = k->out[0];
    int ns = tx->ndim - 2;
    int64_t kern[3], out[3], pads[6], st[3], dl[3];
    int rc = pool_geom(k->node, tx, kern, out, pads, st, dl, err);
    if (rc < 0) return rc;
    bool incl = avg && cvb__attr_int(k->node, "count_include_pad", 0) != 0;
    /* Widen to 3 spatial dims (D, H, W); missing leading dims are size 1.
     * Lo/Hi: the range a window position may count (the padded input with
     * count_include_pad, else the input itself). */
    int64_t I[3] = {1, 1, 1}, O[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1};
    int64_t D[3] = {1, 1, 1}, P[3] = {0, 0, 0}, Lo[3] = {0, 0, 0}, Hi[3] = {1, 1, 1};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        I[j] = tx->dims[2 + i];
        O[j] = ty->dims[2 + i];
        K[j] = kern[i];
        S[j] = st[i];
        D[j] = dl[i];
        P[j] = pads[i];
        Lo[j] = incl ? -pads[i] : 0;
        Hi[j] = incl ? I[j] + pads[ns + i] : I[j];
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
                    double sum = 0;
                    int64_t cnt = 0;
                    for (int64_t kd = 0; kd < K[0]; kd++) {
                        int64_t id = od * S[0] - P[0] + kd * D[0];
                        if (id < Lo[0] || id >= Hi[0]) continue;
                        for (int64_t kh = 0; kh < K[1]; kh++) {
                            int64_t ih = oh * S[1] - P[1] + kh * D[1];
                            if (ih < Lo[1] || ih >= Hi[1]) continue;
                            for (int64_t kw = 0; kw < K[2]; kw++) {
                                int64_t iw = ow * S[2] - P[2] + kw * D[2];
                                if (iw < Lo[2] || iw >= Hi[2]) continue;
                                cnt++;
                                if (id < 0 || id >= I[0] || ih < 0 || ih >= I[1] || iw < 0 ||
                                    iw >= I[2])
                                    continue; /* a counted pad position adds 0 */
                                float v = xp[(id * I[1] + ih) * I[2] + iw];
                                sum += v;
                                if (v > m || isnan(v)) m = v;
                            }
                        }
                    }
                    float r = m;
                    if (avg) r = cnt ? (float)(sum / (double)cnt) : 0.0f;
                    yp[(od * O[1] + oh) * O[2] + ow] = r;
                }
    }
    return 0;
}

int cvb__ref_MAXPOOL(const struct cvb_kctx *k, struct cvb_err *err) {
    return pool_run(k, false, err);
}

int cvb__ref_AVERAGEPOOL(const struct cvb_kctx *k, struct cvb_err *err) {
    return pool_run(k, true, err);
}
