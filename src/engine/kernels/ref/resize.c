/* SPDX-License-Identifier: Apache-2.0 */
/* Reference Resize (ONNX opsets 11-17), float32, any rank.
 *
 * Output size: from 'sizes' when given (then scale = sizes / input), else
 * floor(input * scales). Each output coordinate is mapped back to the input
 * by coordinate_transformation_mode (half_pixel, pytorch_half_pixel,
 * align_corners, asymmetric, tf_half_pixel_for_nn, tf_crop_and_resize);
 * 'mode' nearest (with every nearest_mode), linear and cubic
 * (cubic_coeff_a, exclude_outside) then give, per dimension, up to four
 * (input index, weight) pairs. The interpolation is separable, so an output
 * element is the sum over the product of its per-dimension weights. This
 * follows the ONNX reference implementation, which the conformance data was
 * generated from: lengths in align_corners and tf_crop_and_resize are
 * scale * input_length, and out-of-range neighbours take the edge value. */
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum coord_mode { CM_HALF_PIXEL, CM_PYTORCH, CM_ALIGN, CM_ASYM, CM_TF_NN, CM_TF_CROP };
enum interp { IM_NEAREST, IM_LINEAR, IM_CUBIC };
enum near_mode { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL };

struct resize_params {
    enum coord_mode cm;
    enum interp im;
    enum near_mode nm;
    double cubic_a;
    bool exclude_outside;
    float extrapolation;
    int r;
    double scale[CVB_MAX_DIMS];
    int64_t out[CVB_MAX_DIMS];
    float roi[2 * CVB_MAX_DIMS];
};

static int pick(const struct cvb_node *n, const char *attr, const char *def,
                const char *const *names, int count, int *out, struct cvb_err *err) {
    const char *v = cvb__attr_str(n, attr, def);
    if (v == NULL) v = def;
    for (int i = 0; i < count; i++)
        if (strcmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "%s \"%s\" is not supported", attr, v);
}

/* tin/in: inputs as (tensor, data) pairs, absent ones NULL. */
static int resize_params(const struct cvb_graph *g, const struct cvb_node *n,
                         const struct cvb_tensor *const *tin, const void *const *in,
                         struct resize_params *p, struct cvb_err *err) {
    static const char *const cms[] = {"half_pixel",   "pytorch_half_pixel",   "align_corners",
                                      "asymmetric",   "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const ims[] = {"nearest", "linear", "cubic"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    int v = 0, rc;
    if ((rc = pick(n, "coordinate_transformation_mode", "half_pixel", cms, 6, &v, err)) < 0)
        return rc;
    p->cm = v;
    if ((rc = pick(n, "mode", "nearest", ims, 3, &v, err)) < 0) return rc;
    p->im = v;
    if ((rc = pick(n, "nearest_mode", "round_prefer_floor", nms, 4, &v, err)) < 0) return rc;
    p->nm = v;
    p->cubic_a = cvb__attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = cvb__attr_int(n, "exclude_outside", 0) != 0;
    p->extrapolation = cvb__attr_float(n, "extrapolation_value", 0.0f);
    const struct cvb_tensor *x = tin[0];
    int r = p->r = x->ndim;
    if (r < 1) return cvb__ref_fail(err, CVB_ESHAPE, n, "input '%s' is a scalar", x->name);
    if (cvb__attr_find(n, "antialias") || cvb__attr_find(n, "axes") ||
        cvb__attr_find(n, "keep_aspect_ratio_policy"))
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "opset 18 attributes (antialias, axes, keep_aspect_ratio_policy) are "
                             "not supported");
    const struct cvb_tensor *ts = tin[2], *tz = tin[3];
    if (tz && tz->numel > 0) {
        if (tz->dtype != CVB_DT_I64)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "sizes must be int64");
        if (in[3] == NULL)
            return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                                 "sizes input '%s' is computed at run time; only static shapes are "
                                 "supported",
                                 tz->name);
        if (tz->numel != r)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "sizes has %lld values for input rank %d",
                                 (long long)tz->numel, r);
        if (ts && ts->numel > 0)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "both scales and sizes are given");
        for (int i = 0; i < r; i++) {
            p->out[i] = ((const int64_t *)in[3])[i];
            if (p->out[i] < 0 || (x->dims[i] == 0 && p->out[i] != 0))
                return cvb__ref_fail(err, CVB_ESHAPE, n, "sizes[%d] = %lld is invalid", i,
                                     (long long)p->out[i]);
            p->scale[i] = x->dims[i] ? (double)p->out[i] / (double)x->dims[i] : 1.0;
        }
    } else {
        if (ts == NULL || ts->numel == 0)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "neither scales nor sizes is given");
        if (ts->dtype != CVB_DT_F32)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "scales must be float32");
        if (in[2] == NULL)
            return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                                 "scales input '%s' is computed at run time; only static shapes "
                                 "are supported",
                                 ts->name);
        if (ts->numel != r)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "scales has %lld values for input rank %d",
                                 (long long)ts->numel, r);
        for (int i = 0; i < r; i++) {
            float s = ((const float *)in[2])[i];
            if (!(s > 0) || !isfinite(s))
                return cvb__ref_fail(err, CVB_ESHAPE, n, "scales[%d] = %g is not positive", i,
                                     (double)s);
            double o = floor((double)s * (double)x->dims[i]);
            if (o > (double)((int64_t)1 << 40)) /* also keeps the cast below defined */
                return cvb__ref_fail(err, CVB_ESHAPE, n,
                                     "scales[%d] = %g makes dimension %d %.3g long", i,
                                     (double)s, i, o);
            p->scale[i] = s;
            p->out[i] = (int64_t)o;
        }
    }
    if (p->cm == CM_TF_CROP) {
        const struct cvb_tensor *tr = tin[1];
        if (tr == NULL || tr->numel != 2 * r || tr->dtype != CVB_DT_F32)
            return cvb__ref_fail(err, CVB_EFORMAT, n,
                                 "tf_crop_and_resize needs a float32 roi with %d values", 2 * r);
        if (in[1] == NULL)
            return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                                 "roi input '%s' is computed at run time; only static shapes are "
                                 "supported",
                                 tr->name);
        memcpy(p->roi, in[1], sizeof(float) * 2 * (size_t)r);
    }
    (void)g;
    return 0;
}

static int gather_inputs(struct cvb_graph *g, const struct cvb_node *n,
                         const struct cvb_tensor **tin, const void **in, struct cvb_err *err) {
    for (int i = 0; i < 4; i++) {
        struct cvb_tensor *t = cvb__ref_in(g, n, i);
        if (t && !t->shape_known)
            return cvb__ref_fail(err, CVB_EINTERNAL, n, "input '%s' has no inferred shape", t->name);
        tin[i] = t;
        in[i] = t ? t->data : NULL;
    }
    if (tin[0] == NULL) return cvb__ref_fail(err, CVB_EFORMAT, n, "input X is missing");
    return 0;
}

int cvb__infer_RESIZE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 4, err);
    if (rc < 0) return rc;
    const struct cvb_tensor *tin[4];
    const void *in[4];
    if ((rc = gather_inputs(g, n, tin, in, err)) < 0) return rc;
    if ((rc = cvb__ref_dtype_ok(n, tin[0], "input", CVB_DTM_F32, err)) < 0) return rc;
    struct resize_params p;
    if ((rc = resize_params(g, n, tin, in, &p, err)) < 0) return rc;
    return cvb__ref_set_out(g, n, 0, CVB_DT_F32, p.r, p.out, err);
}

/* Per output coordinate of one dimension: up to 4 (index, weight) pairs, or
 * out-of-range for tf_crop_and_resize. */
struct taps {
    int cnt;
    bool oob;
    int64_t idx[4];
    double w[4];
};

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

static void cubic_coeffs(double r, double A, double *c) {
    double s = 1 - r;
    c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    c[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
    c[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
}

static void make_taps(const struct resize_params *p, int d, int64_t in_len, int64_t x,
                      struct taps *t) {
    double scale = p->scale[d];
    double out_len = scale * (double)in_len; /* as the ONNX reference does */
    double xo = 0;
    switch (p->cm) {
    case CM_HALF_PIXEL: xo = ((double)x + 0.5) / scale - 0.5; break;
    case CM_PYTORCH: xo = out_len > 1 ? ((double)x + 0.5) / scale - 0.5 : 0.0; break;
    case CM_ALIGN: xo = out_len == 1 ? 0.0 : (double)x * (double)(in_len - 1) / (out_len - 1); break;
    case CM_ASYM: xo = (double)x / scale; break;
    case CM_TF_NN: xo = ((double)x + 0.5) / scale; break;
    case CM_TF_CROP: {
        double s = p->roi[d], e = p->roi[p->r + d];
        if (out_len == 1)
            xo = (e - s) * (double)(in_len - 1) / 2;
        else
            xo = (double)x * (e - s) * (double)(in_len - 1) / (out_len - 1);
        xo += s * (double)(in_len - 1);
        break;
    }
    }
    t->oob = p->cm == CM_TF_CROP && (xo < 0 || xo > (double)(in_len - 1));
    double fl = floor(xo);
    bool integral = fl == xo;
    int64_t hi = in_len - 1;
    if (p->im == IM_NEAREST) {
        int64_t i = (int64_t)fl;
        double r = xo - fl;
        if (!integral) {
            switch (p->nm) {
            case NM_ROUND_FLOOR: i += r > 0.5; break;
            case NM_ROUND_CEIL: i += r >= 0.5; break;
            case NM_FLOOR: break;
            case NM_CEIL: i += 1; break;
            }
        }
        t->cnt = 1;
        t->idx[0] = clampi(i, 0, hi);
        t->w[0] = 1.0;
        return;
    }
    /* The left neighbour is strictly below xo, so the ratio is in (0, 1]. */
    int64_t base = integral ? (int64_t)fl - 1 : (int64_t)fl;
    double ratio = xo - (double)base;
    if (p->im == IM_LINEAR) {
        t->cnt = 2;
        t->idx[0] = clampi(base, 0, hi);
        t->idx[1] = clampi(base + 1, 0, hi);
        t->w[0] = 1 - ratio;
        t->w[1] = ratio;
        return;
    }
    double c[4];
    cubic_coeffs(ratio, p->cubic_a, c);
    double sum = 0;
    for (int j = 0; j < 4; j++) {
        int64_t i = base - 1 + j;
        if (p->exclude_outside && (i < 0 || i > hi)) c[j] = 0;
        sum += c[j];
    }
    if (p->exclude_outside && sum != 0)
        for (int j = 0; j < 4; j++) c[j] /= sum;
    t->cnt = 4;
    for (int j = 0; j < 4; j++) {
        t->idx[j] = clampi(base - 1 + j, 0, hi);
        t->w[j] = c[j];
    }
}

/* The interpolation taps of every output coordinate, all axes. */
size_t cvb__ref_resize_scratch(const struct cvb_graph *g, const struct cvb_node *n) {
    if (n->n_out < 1 || n->out[0] < 0) return 0;
    const struct cvb_tensor *y = &g->tensors[n->out[0]];
    int64_t total = 0;
    for (int d = 0; d < y->ndim; d++) total += y->dims[d];
    return sizeof(struct taps) * (size_t)total + 64;
}

int cvb__ref_RESIZE(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *tin[4] = {NULL};
    const void *in[4] = {NULL};
    for (int i = 0; i < 4 && i < k->node->n_in; i++) {
        tin[i] = k->tin[i];
        in[i] = k->in[i];
    }
    struct resize_params p;
    int rc = resize_params(k->g, k->node, tin, in, &p, err);
    if (rc < 0) return rc;
    const struct cvb_tensor *tx = tin[0], *ty = k->tout[0];
    if (ty->numel == 0) return 0;
    int r = p.r;
    int64_t total_taps = 0;
    for (int d = 0; d < r; d++) total_taps += ty->dims[d];
    /* the executor's planned scratch (cvb__ref_resize_scratch); a lone call
     * without one allocates */
    struct taps *own = k->scratch != NULL ? NULL : malloc(sizeof(struct taps) * (size_t)total_taps);
    struct taps *tab = k->scratch != NULL ? k->scratch : own;
    if (tab == NULL) return cvb__ref_fail(err, CVB_ENOMEM, k->node, "out of memory");
    struct taps *dt[CVB_MAX_DIMS];
    int64_t off = 0, xs[CVB_MAX_DIMS];
    for (int d = 0; d < r; d++) {
        dt[d] = tab + off;
        off += ty->dims[d];
        for (int64_t o = 0; o < ty->dims[d]; o++) make_taps(&p, d, tx->dims[d], o, &dt[d][o]);
    }
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        xs[d] = s;
        s *= tx->dims[d];
    }
    const float *x = k->in[0];
    float *y = k->out[0];
    int64_t oi[CVB_MAX_DIMS] = {0};
    for (int64_t e = 0; e < ty->numel; e++) {
        const struct taps *tp[CVB_MAX_DIMS];
        bool oob = false;
        for (int d = 0; d < r; d++) {
            tp[d] = &dt[d][oi[d]];
            oob |= tp[d]->oob;
        }
        if (oob) {
            y[e] = p.extrapolation;
        } else {
            /* Sum over every combination of per-dimension taps. */
            int j[CVB_MAX_DIMS] = {0};
            double acc = 0;
            for (;;) {
                double w = 1;
                int64_t xo = 0;
                for (int d = 0; d < r; d++) {
                    w *= tp[d]->w[j[d]];
                    xo += tp[d]->idx[j[d]] * xs[d];
                }
                if (w != 0) acc += w * x[xo];
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++j[d] < tp[d]->cnt) break;
                    j[d] = 0;
                }
                if (d < 0) break;
            }
            y[e] = (float)acc;
        }
        for (int d = r - 1; d >= 0; d--) {
            if (++oi[d] < ty->dims[d]) break;
            oi[d] = 0;
        }
    }
    free(own);
    return 0;
}
