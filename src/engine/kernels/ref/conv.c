/* SPDX-License-Identifier: Apache-2.0 */
/* Reference Conv (ONNX opsets 11-17): 1-D, 2-D and 3-D, float32, with group,
 * strides, dilations, explicit pads or auto_pad (NOTSET, SAME_UPPER,
 * SAME_LOWER, VALID) and an optional bias. Also the window geometry shared
 * with MaxPool. Accumulates in double. */
#include "engine/kernels/ref/ref.h"

#include <stdlib.h>
#include <string.h>

int cvb__ref_window(const struct cvb_node *n, int ns, const int64_t *in, const int64_t *kern,
                    bool ceil_mode, int64_t *out, int64_t *pads, int64_t *strides,
                    int64_t *dil, struct cvb_err *err) {
    const int64_t *v = NULL;
    int cnt = cvb__attr_ints(n, "strides", &v);
    if (cnt >= 0 && cnt != ns)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "strides has %d values for %d spatial dims", cnt,
                             ns);
    for (int i = 0; i < ns; i++) {
        strides[i] = cnt >= 0 ? v[i] : 1;
        if (strides[i] < 1)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "stride %lld is not positive",
                                 (long long)strides[i]);
    }
    cnt = cvb__attr_ints(n, "dilations", &v);
    if (cnt >= 0 && cnt != ns)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "dilations has %d values for %d spatial dims",
                             cnt, ns);
    for (int i = 0; i < ns; i++) {
        dil[i] = cnt >= 0 ? v[i] : 1;
        if (dil[i] < 1)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "dilation %lld is not positive",
                                 (long long)dil[i]);
    }
    const char *ap = cvb__attr_str(n, "auto_pad", "NOTSET");
    if (ap == NULL) ap = "NOTSET";
    bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
    bool valid = strcmp(ap, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "auto_pad \"%s\" is not supported", ap);
    cnt = cvb__attr_ints(n, "pads", &v);
    if (cnt >= 0 && cnt != 2 * ns)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "pads has %d values for %d spatial dims", cnt,
                             ns);
    for (int i = 0; i < ns; i++) {
        int64_t dk = (kern[i] - 1) * dil[i] + 1;
        if (kern[i] < 1)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "kernel size %lld is not positive",
                                 (long long)kern[i]);
        if (same_upper || same_lower) {
            int64_t o = (in[i] + strides[i] - 1) / strides[i];
            int64_t total = (o - 1) * strides[i] + dk - in[i];
            if (total < 0) total = 0;
            int64_t small = total / 2;
            pads[i] = same_upper ? small : total - small;
            pads[ns + i] = total - pads[i];
            out[i] = o;
            continue;
        }
        if (valid) {
            pads[i] = pads[ns + i] = 0;
        } else {
            pads[i] = cnt >= 0 ? v[i] : 0;
            pads[ns + i] = cnt >= 0 ? v[ns + i] : 0;
            if (pads[i] < 0 || pads[ns + i] < 0)
                return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "negative pads are not supported");
        }
        int64_t span = in[i] + pads[i] + pads[ns + i] - dk;
        if (span < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "spatial dim %d: input size %lld (padded %lld) is smaller than "
                                 "the dilated kernel %lld",
                                 i, (long long)in[i], (long long)(in[i] + pads[i] + pads[ns + i]),
                                 (long long)dk);
        out[i] = (ceil_mode && !valid ? (span + strides[i] - 1) / strides[i] : span / strides[i]) + 1;
    }
    return 0;
}

int cvb__infer_CONV(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 3, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "X", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *w = cvb__ref_need(g, n, 1, "W", err);
    if (w == NULL) return err->code;
    struct cvb_tensor *b = cvb__ref_in(g, n, 2);
    if ((rc = cvb__ref_dtype_ok(n, x, "input", CVB_DTM_F32, err)) < 0) return rc;
    if ((rc = cvb__ref_dtype_ok(n, w, "weight", CVB_DTM_F32, err)) < 0) return rc;
    if (b && (rc = cvb__ref_dtype_ok(n, b, "bias", CVB_DTM_F32, err)) < 0) return rc;
    if (x->ndim < 3 || x->ndim > 5)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "input '%s' has rank %d; only 1-D, 2-D and 3-D convolutions "
                             "(rank 3 to 5) are supported",
                             x->name, x->ndim);
    if (w->ndim != x->ndim)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "weight '%s' has rank %d but input has rank %d",
                             w->name, w->ndim, x->ndim);
    int ns = x->ndim - 2;
    int64_t group = cvb__attr_int(n, "group", 1);
    int64_t c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group != 0 || m % group != 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "group %lld does not divide input channels %lld and output "
                             "channels %lld",
                             (long long)group, (long long)c, (long long)m);
    if (w->dims[1] * group != c)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "input has %lld channels but weight expects %lld (group %lld)",
                             (long long)c, (long long)(w->dims[1] * group), (long long)group);
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return cvb__ref_fail(err, CVB_ESHAPE, n, "bias '%s' must have shape [%lld]", b->name,
                             (long long)m);
    const int64_t *ks = NULL;
    int nk = cvb__attr_ints(n, "kernel_shape", &ks);
    if (nk >= 0) {
        if (nk != ns)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "kernel_shape has %d values for %d spatial dims",
                                 nk, ns);
        for (int i = 0; i < ns; i++)
            if (ks[i] != w->dims[2 + i])
                return cvb__ref_fail(err, CVB_ESHAPE, n,
                                     "kernel_shape[%d] = %lld but weight has %lld", i,
                                     (long long)ks[i], (long long)w->dims[2 + i]);
    }
    int64_t out[3], pads[6], st[3], dl[3], dims[CVB_MAX_DIMS];
    rc = cvb__ref_window(n, ns, x->dims + 2, w->dims + 2, false, out, pads, st, dl, err);
    if (rc < 0) return rc;
    dims[0] = x->dims[0];
    dims[1] = m;
    for (int i = 0; i < ns; i++) dims[2 + i] = out[i];
    return cvb__ref_set_out(g, n, 0, CVB_DT_F32, x->ndim, dims, err);
}

/* One output row of double accumulators. */
size_t cvb__ref_conv_scratch(const struct cvb_graph *g, const struct cvb_node *n) {
    if (n->n_out < 1 || n->out[0] < 0) return 0;
    const struct cvb_tensor *y = &g->tensors[n->out[0]];
    if (y->ndim < 1) return 0;
    return sizeof(double) * (size_t)y->dims[y->ndim - 1] + 64;
}

int cvb__ref_CONV(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *tx = k->tin[0], *tw = k->tin[1], *ty = k->tout[0];
    const float *x = k->in[0], *w = k->in[1];
    const float *bias = (k->node->n_in > 2 && k->tin[2]) ? k->in[2] : NULL;
    float *y = k->out[0];
    int ns = tx->ndim - 2;
    int64_t out[3], pads[6], st[3], dl[3];
    int rc = cvb__ref_window(k->node, ns, tx->dims + 2, tw->dims + 2, false, out, pads, st, dl,
                             err);
    if (rc < 0) return rc;
    /* Widen to 3 spatial dims (D, H, W); missing leading dims are size 1. */
    int64_t I[3] = {1, 1, 1}, O[3] = {1, 1, 1}, K[3] = {1, 1, 1}, S[3] = {1, 1, 1};
    int64_t Dl[3] = {1, 1, 1}, P[3] = {0, 0, 0};
    for (int i = 0; i < ns; i++) {
        int j = 3 - ns + i;
        I[j] = tx->dims[2 + i];
        O[j] = ty->dims[2 + i];
        K[j] = tw->dims[2 + i];
        S[j] = st[i];
        Dl[j] = dl[i];
        P[j] = pads[i];
    }
    int64_t N = tx->dims[0], C = tx->dims[1], M = tw->dims[0];
    int64_t Cg = tw->dims[1], G = C / Cg, Mg = M / G;
    if (ty->numel == 0) return 0;
    /* the executor's planned scratch (cvb__ref_conv_scratch); a lone call
     * without one allocates */
    double *own = k->scratch != NULL ? NULL : malloc(sizeof(double) * (size_t)O[2]);
    double *acc = k->scratch != NULL ? k->scratch : own;
    if (acc == NULL) return cvb__ref_fail(err, CVB_ENOMEM, k->node, "out of memory");
    int64_t isz = I[0] * I[1] * I[2], osz = O[0] * O[1] * O[2], ksz = K[0] * K[1] * K[2];
    for (int64_t nn = 0; nn < N; nn++) {
        for (int64_t oc = 0; oc < M; oc++) {
            int64_t gi = oc / Mg;
            float *yp = y + (nn * M + oc) * osz;
            for (int64_t od = 0; od < O[0]; od++) {
                for (int64_t oh = 0; oh < O[1]; oh++) {
                    for (int64_t ow = 0; ow < O[2]; ow++) acc[ow] = bias ? bias[oc] : 0.0;
                    for (int64_t c = 0; c < Cg; c++) {
                        const float *xp = x + (nn * C + gi * Cg + c) * isz;
                        const float *wp = w + (oc * Cg + c) * ksz;
                        for (int64_t kd = 0; kd < K[0]; kd++) {
                            int64_t id = od * S[0] - P[0] + kd * Dl[0];
                            if (id < 0 || id >= I[0]) continue;
                            for (int64_t kh = 0; kh < K[1]; kh++) {
                                int64_t ih = oh * S[1] - P[1] + kh * Dl[1];
                                if (ih < 0 || ih >= I[1]) continue;
                                const float *row = xp + (id * I[1] + ih) * I[2];
                                for (int64_t kw = 0; kw < K[2]; kw++) {
                                    double wv = wp[(kd * K[1] + kh) * K[2] + kw];
                                    /* ow range with 0 <= ow*S - P + kw*Dl < I. */
                                    int64_t off = kw * Dl[2] - P[2];
                                    int64_t lo = off >= 0 ? 0 : (-off + S[2] - 1) / S[2];
                                    int64_t hi = I[2] - 1 - off < 0 ? -1 : (I[2] - 1 - off) / S[2];
                                    if (hi > O[2] - 1) hi = O[2] - 1;
                                    for (int64_t ow = lo; ow <= hi; ow++)
                                        acc[ow] += wv * row[ow * S[2] + off];
                                }
                            }
                        }
                    }
                    float *yr = yp + (od * O[1] + oh) * O[2];
                    for (int64_t ow = 0; ow < O[2]; ow++) yr[ow] = (float)acc[ow];
                }
            }
        }
    }
    free(own);
    return 0;
}
