/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernel for Pad (ONNX opsets 11-17: pads and constant_value are
 * inputs; modes constant, reflect and edge).
 *
 * pads must be a constant (an initializer, or folded from one) because the
 * output shape depends on it; a pads input computed at run time is refused
 * at load time. constant_value may be computed at run time: it is read when
 * the node runs. Negative pads crop, as the spec allows. Pad moves elements,
 * so every dtype works. */
#include "engine/kernels/ref/ref.h"

#include <string.h>

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

static int pad_mode(const struct cvb_node *n, enum pad_mode *mode, struct cvb_err *err) {
    const char *m = cvb__attr_str(n, "mode", "constant");
    if (strcmp(m, "constant") == 0) {
        *mode = PAD_CONSTANT;
    } else if (strcmp(m, "reflect") == 0) {
        *mode = PAD_REFLECT;
    } else if (strcmp(m, "edge") == 0) {
        *mode = PAD_EDGE;
    } else {
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "mode '%s' is not supported (constant, reflect, edge are)", m);
    }
    return 0;
}

int cvb__infer_PAD(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 4, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    if (cvb__ref_in(g, n, 3) != NULL)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "the axes input (opset 18) is not supported; pass pads for every "
                             "axis");
    enum pad_mode mode;
    rc = pad_mode(n, &mode, err);
    if (rc < 0) return rc;
    int64_t pads[2 * CVB_MAX_DIMS];
    int cnt = 0;
    rc = cvb__ref_const_ints(g, n, 1, "pads", pads, 2 * CVB_MAX_DIMS, &cnt, err);
    if (rc < 0) return rc;
    int r = x->ndim;
    if (cnt != 2 * r)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "pads has %d values; the input of rank %d needs %d",
                             cnt, r, 2 * r);
    const struct cvb_tensor *v = cvb__ref_in(g, n, 2);
    if (v != NULL) {
        if (v->dtype != x->dtype)
            return cvb__ref_fail(err, CVB_EFORMAT, n,
                                 "constant_value '%s' has dtype %s, the data %s", v->name,
                                 cvb__dtype_name(v->dtype), cvb__dtype_name(x->dtype));
        if (v->numel > 1)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "constant_value '%s' has %lld elements; expected a scalar",
                                 v->name, (long long)v->numel);
    }
    int64_t dims[CVB_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        dims[i] = x->dims[i] + pads[i] + pads[r + i];
        if (dims[i] < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "pads %lld and %lld on axis %d of size %lld leave a negative "
                                 "size",
                                 (long long)pads[i], (long long)pads[r + i], i,
                                 (long long)x->dims[i]);
        if (mode != PAD_CONSTANT && x->dims[i] == 0 && dims[i] > 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "cannot %s-pad axis %d of size 0",
                                 mode == PAD_EDGE ? "edge" : "reflect", i);
    }
    return cvb__ref_set_out(g, n, 0, x->dtype, r, dims, err);
}

/* Input coordinate for output coordinate 'o' on an axis of size 'len' with
 * 'begin' leading pad; -1 when it lies in constant padding. Reflect mirrors
 * without repeating the edge (numpy 'reflect'), folding again for pads
 * wider than the axis. */
static int64_t pad_src(int64_t o, int64_t begin, int64_t len, enum pad_mode mode) {
    int64_t i = o - begin;
    if (i >= 0 && i < len) return i;
    switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : len - 1;
    case PAD_REFLECT: {
        if (len == 1) return 0;
        int64_t p = 2 * (len - 1);
        i %= p;
        if (i < 0) i += p;
        return i < len ? i : p - i;
    }
    default: return -1;
    }
}

int cvb__ref_PAD(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *y = k->tout[0];
    enum pad_mode mode;
    int rc = pad_mode(k->node, &mode, err);
    if (rc < 0) return rc;
    size_t es = cvb__dtype_size(y->dtype);
    unsigned char fill[8] = {0};
    if (es > sizeof fill)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "dtype %s is not supported",
                             cvb__dtype_name(y->dtype));
    if (k->node->n_in > 2 && k->in[2] != NULL && k->tin[2]->numel == 1) memcpy(fill, k->in[2], es);
    int r = y->ndim;
    int64_t begin[CVB_MAX_DIMS] = {0}, xst[CVB_MAX_DIMS] = {0}, idx[CVB_MAX_DIMS] = {0};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        begin[d] = cvb__ref_geti(k->in[1], k->tin[1]->dtype, d);
        xst[d] = s;
        s *= x->dims[d];
    }
    const unsigned char *src = k->in[0];
    unsigned char *dst = k->out[0];
    for (int64_t o = 0; o < y->numel; o++) {
        int64_t off = 0;
        for (int d = 0; d < r && off >= 0; d++) {
            int64_t i = pad_src(idx[d], begin[d], x->dims[d], mode);
            off = i < 0 ? -1 : off + i * xst[d];
        }
        memcpy(dst + (size_t)o * es, off < 0 ? fill : src + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++idx[d] < y->dims[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}
