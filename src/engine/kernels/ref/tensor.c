/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernels for the data-movement and shape ops: Concat, Split,
 * Slice, Reshape, Transpose, Gather, Unsqueeze, Squeeze, Cast, Expand,
 * Identity, Flatten, Shape, Constant, ConstantOfShape (ONNX opsets 11-17).
 *
 * These move bytes and so accept every dtype in ir.h; the values of
 * shape-like inputs (Reshape's shape, Slice's starts/ends/axes/steps, Split's
 * split, (Un)Squeeze's axes, Expand's shape, ConstantOfShape's input) must be
 * constants by the time shape inference runs: exporters compute them with
 * Shape -> Gather -> Unsqueeze -> Concat chains that constant folding
 * resolves, and a value that is only known at run time is refused. */
#include <stdint.h>
#include "engine/kernels/ref/ref.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- shared helpers ----------------------------------------------------------- */

/* Copy an nd-dimensional strided view of 'src' (src_strides in elements, one
 * per output dim) into dense row-major 'dst' of shape dims. */
static void strided_copy(void *dst, const void *src, int nd, const int64_t *dims,
                         const int64_t *src_strides, size_t es) {
    int64_t total = 1;
    for (int i = 0; i < nd; i++) total *= dims[i];
    if (total == 0) return;
    if (nd == 0) {
        memcpy(dst, src, es);
        return;
    }
    int last = nd - 1;
    int64_t idx[CVB_MAX_DIMS] = {0};
    int64_t off = 0, len = dims[last], s = src_strides[last];
    char *d = dst;
    const char *sp = src;
    for (;;) {
        switch (es) {
        case 1:
            for (int64_t i = 0; i < len; i++) d[i] = sp[off + i * s];
            break;
        case 4:
            for (int64_t i = 0; i < len; i++)
                ((uint32_t *)d)[i] = ((const uint32_t *)sp)[off + i * s];
            break;
        case 8:
            for (int64_t i = 0; i < len; i++)
                ((uint64_t *)d)[i] = ((const uint64_t *)sp)[off + i * s];
            break;
        default:
            for (int64_t i = 0; i < len; i++) memcpy(d + i * es, sp + (off + i * s) * es, es);
        }
        d += len * es;
        int k = last - 1;
        for (; k >= 0; k--) {
            off += src_strides[k];
            if (++idx[k] < dims[k]) break;
            off -= src_strides[k] * dims[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
}

static int copy_kernel(const struct cvb_kctx *k) {
    size_t bytes = cvb__tensor_bytes(k->tout[0]);
    if (bytes && k->out[0] != k->in[0]) memmove(k->out[0], k->in[0], bytes);
    return 0;
}

static void row_strides(int nd, const int64_t *dims, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= dims[i];
    }
}

/* Shape-like values from an attribute (opsets before 'since') or an input
 * (from 'since'); accepts either form whatever the opset, since the model is
 * unambiguous. Sets *present to false when neither is given. */
static int ints_attr_or_input(struct cvb_graph *g, const struct cvb_node *n, const char *attr,
                              int input, const char *what, int64_t *vals, int *count,
                              bool *present, struct cvb_err *err) {
    *present = false;
    *count = 0;
    if (cvb__ref_in(g, n, input) != NULL) {
        *present = true;
        return cvb__ref_const_ints(g, n, input, what, vals, CVB_MAX_DIMS * 8, count, err);
    }
    const int64_t *v = NULL;
    int c = cvb__attr_ints(n, attr, &v);
    if (c < 0) return 0;
    if (c > CVB_MAX_DIMS * 8)
        return cvb__ref_fail(err, CVB_ERANGE, n, "attribute %s has %d values", attr, c);
    *present = true;
    memcpy(vals, v, sizeof(int64_t) * (size_t)c);
    *count = c;
    return 0;
}

/* ---- Identity, Flatten, Reshape -------------------------------------------- */

int cvb__infer_IDENTITY(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    return cvb__ref_set_out(g, n, 0, x->dtype, x->ndim, x->dims, err);
}
int cvb__ref_IDENTITY(const struct cvb_kctx *k, struct cvb_err *err) { return copy_kernel(k); }

int cvb__infer_FLATTEN(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    int64_t a = cvb__attr_int(n, "axis", 1);
    int r = x->ndim;
    if (a < -(int64_t)r || a > r)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, r);
    if (a < 0) a += r;
    int64_t dims[2] = {1, 1};
    for (int i = 0; i < r; i++) dims[i < a ? 0 : 1] *= x->dims[i];
    return cvb__ref_set_out(g, n, 0, x->dtype, 2, dims, err);
}
int cvb__ref_FLATTEN(const struct cvb_kctx *k, struct cvb_err *err) { return copy_kernel(k); }

int cvb__infer_RESHAPE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    int64_t shape[CVB_MAX_DIMS];
    int cnt = 0;
    rc = cvb__ref_const_ints(g, n, 1, "shape", shape, CVB_MAX_DIMS, &cnt, err);
    if (rc < 0) return rc;
    bool allowzero = g->opset >= 14 && cvb__attr_int(n, "allowzero", 0) != 0;
    int infer_at = -1;
    int64_t known = 1;
    for (int i = 0; i < cnt; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->ndim)
                return cvb__ref_fail(err, CVB_ESHAPE, n,
                                     "shape[%d] is 0 (copy) but the input has rank %d", i,
                                     x->ndim);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1) {
            if (infer_at >= 0)
                return cvb__ref_fail(err, CVB_ESHAPE, n, "shape has more than one -1");
            infer_at = i;
            continue;
        }
        if (shape[i] < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "shape[%d] = %lld is invalid", i,
                                 (long long)shape[i]);
        if (shape[i] > 0 && known > INT64_MAX / shape[i])
            return cvb__ref_fail(err, CVB_ERANGE, n, "shape has more than 2^63 elements (absurd size)");
        known *= shape[i];
    }
    if (infer_at >= 0) {
        if (known == 0 || x->numel % known != 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "cannot reshape %lld elements: the other dims multiply to %lld",
                                 (long long)x->numel, (long long)known);
        shape[infer_at] = x->numel / known;
        known *= shape[infer_at];
    }
    if (known != x->numel) {
        char b1[128];
        return cvb__ref_fail(err, CVB_ESHAPE, n, "cannot reshape input %s (%lld elements) to %d-D "
                             "shape with %lld elements",
                             cvb__shape_str(x, b1, sizeof b1), (long long)x->numel, cnt,
                             (long long)known);
    }
    return cvb__ref_set_out(g, n, 0, x->dtype, cnt, shape, err);
}
int cvb__ref_RESHAPE(const struct cvb_kctx *k, struct cvb_err *err) { return copy_kernel(k); }

/* ---- Unsqueeze, Squeeze ----------------------------------------------------- */

int cvb__infer_UNSQUEEZE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    int64_t axes[CVB_MAX_DIMS * 8];
    int cnt = 0;
    bool present = false;
    rc = ints_attr_or_input(g, n, "axes", 1, "axes", axes, &cnt, &present, err);
    if (rc < 0) return rc;
    if (!present) return cvb__ref_fail(err, CVB_EFORMAT, n, "axes are missing");
    int r = x->ndim + cnt;
    if (r > CVB_MAX_DIMS)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "result rank %d exceeds %d", r,
                             CVB_MAX_DIMS);
    bool ins[CVB_MAX_DIMS] = {false};
    for (int i = 0; i < cnt; i++) {
        int a = cvb__ref_axis(axes[i], r);
        if (a < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for output rank %d",
                                 (long long)axes[i], r);
        if (ins[a]) return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is repeated", (long long)axes[i]);
        ins[a] = true;
    }
    int64_t dims[CVB_MAX_DIMS];
    for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    return cvb__ref_set_out(g, n, 0, x->dtype, r, dims, err);
}
int cvb__ref_UNSQUEEZE(const struct cvb_kctx *k, struct cvb_err *err) { return copy_kernel(k); }

int cvb__infer_SQUEEZE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    int64_t axes[CVB_MAX_DIMS * 8];
    int cnt = 0;
    bool present = false;
    rc = ints_attr_or_input(g, n, "axes", 1, "axes", axes, &cnt, &present, err);
    if (rc < 0) return rc;
    bool drop[CVB_MAX_DIMS] = {false};
    if (!present) {
        for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < cnt; i++) {
            int a = cvb__ref_axis(axes[i], x->ndim);
            if (a < 0)
                return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                                     (long long)axes[i], x->ndim);
            if (x->dims[a] != 1)
                return cvb__ref_fail(err, CVB_ESHAPE, n,
                                     "cannot squeeze axis %d of '%s': its size is %lld, not 1", a,
                                     x->name, (long long)x->dims[a]);
            drop[a] = true;
        }
    }
    int64_t dims[CVB_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    return cvb__ref_set_out(g, n, 0, x->dtype, r, dims, err);
}
int cvb__ref_SQUEEZE(const struct cvb_kctx *k, struct cvb_err *err) { return copy_kernel(k); }

/* ---- Concat, Split ------------------------------------------------------------ */

int cvb__infer_CONCAT(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    if (n->n_in < 1) return cvb__ref_fail(err, CVB_EFORMAT, n, "has no inputs");
    int rc = cvb__ref_arity(n, 1, n->n_in, err);
    if (rc < 0) return rc;
    if (cvb__attr_find(n, "axis") == NULL)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "attribute axis is missing");
    struct cvb_tensor *x0 = cvb__ref_need(g, n, 0, "inputs", err);
    if (x0 == NULL) return err->code;
    int64_t a = cvb__attr_int(n, "axis", 0);
    int ax = cvb__ref_axis(a, x0->ndim);
    if (ax < 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, x0->ndim);
    int64_t dims[CVB_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)x0->ndim);
    dims[ax] = 0;
    for (int i = 0; i < n->n_in; i++) {
        struct cvb_tensor *x = cvb__ref_need(g, n, i, "inputs", err);
        if (x == NULL) return err->code;
        if (x->dtype != x0->dtype)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "input '%s' has dtype %s, input '%s' has %s",
                                 x->name, cvb__dtype_name(x->dtype), x0->name,
                                 cvb__dtype_name(x0->dtype));
        char b1[128], b2[128];
        if (x->ndim != x0->ndim)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "input '%s' %s and input '%s' %s differ in rank",
                                 x->name, cvb__shape_str(x, b1, sizeof b1), x0->name,
                                 cvb__shape_str(x0, b2, sizeof b2));
        for (int d = 0; d < x->ndim; d++)
            if (d != ax && x->dims[d] != x0->dims[d])
                return cvb__ref_fail(err, CVB_ESHAPE, n,
                                     "input '%s' %s and input '%s' %s differ in dim %d (concat "
                                     "axis is %d)",
                                     x->name, cvb__shape_str(x, b1, sizeof b1), x0->name,
                                     cvb__shape_str(x0, b2, sizeof b2), d, ax);
        dims[ax] += x->dims[ax];
    }
    return cvb__ref_set_out(g, n, 0, x0->dtype, x0->ndim, dims, err);
}

int cvb__ref_CONCAT(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *y = k->tout[0];
    int ax = cvb__ref_axis(cvb__attr_int(k->node, "axis", 0), y->ndim);
    size_t es = cvb__dtype_size(y->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= y->dims[i];
    for (int i = ax + 1; i < y->ndim; i++) inner *= y->dims[i];
    char *dst = k->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < k->node->n_in; i++) {
            size_t chunk = (size_t)(k->tin[i]->dims[ax] * inner) * es;
            if (chunk) memcpy(dst, (const char *)k->in[i] + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    return 0;
}

int cvb__infer_SPLIT(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    int64_t a = cvb__attr_int(n, "axis", 0);
    int ax = cvb__ref_axis(a, x->ndim);
    if (ax < 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, x->ndim);
    if (cvb__attr_find(n, "num_outputs") != NULL)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "attribute num_outputs (opset 18) is not "
                             "supported");
    int64_t split[CVB_MAX_DIMS * 8];
    int cnt = 0;
    bool present = false;
    rc = ints_attr_or_input(g, n, "split", 1, "split", split, &cnt, &present, err);
    if (rc < 0) return rc;
    int64_t dim = x->dims[ax];
    if (!present) {
        if (dim % n->n_out != 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "axis %d of size %lld does not split evenly into %d outputs", ax,
                                 (long long)dim, n->n_out);
        cnt = n->n_out;
        for (int i = 0; i < cnt; i++) split[i] = dim / n->n_out;
    }
    if (cnt != n->n_out)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "split has %d values for %d outputs", cnt,
                             n->n_out);
    int64_t sum = 0;
    for (int i = 0; i < cnt; i++) {
        if (split[i] < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "split[%d] = %lld is negative", i,
                                 (long long)split[i]);
        /* sum <= dim holds before each addition, so it cannot overflow */
        if (split[i] > dim - sum)
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "split sizes up to split[%d] = %lld exceed axis %d of size %lld",
                                 i, (long long)split[i], ax, (long long)dim);
        sum += split[i];
    }
    if (sum != dim)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "split sizes sum to %lld but axis %d has size %lld",
                             (long long)sum, ax, (long long)dim);
    int64_t dims[CVB_MAX_DIMS];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->ndim);
    for (int i = 0; i < cnt; i++) {
        dims[ax] = split[i];
        if ((rc = cvb__ref_set_out(g, n, i, x->dtype, x->ndim, dims, err)) < 0) return rc;
    }
    return 0;
}

int cvb__ref_SPLIT(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int ax = cvb__ref_axis(cvb__attr_int(k->node, "axis", 0), x->ndim);
    size_t es = cvb__dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    for (int i = 0; i < k->node->n_out; i++)
        if (k->tout[i] == NULL)
            return cvb__ref_fail(err, CVB_EINTERNAL, k->node, "output %d has no buffer", i);
    const char *src = k->in[0];
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < k->node->n_out; i++) {
            size_t chunk = (size_t)(k->tout[i]->dims[ax] * inner) * es;
            if (chunk) memcpy((char *)k->out[i] + (size_t)o * chunk, src, chunk);
            src += chunk;
        }
    return 0;
}

/* ---- Slice ---------------------------------------------------------------------- */

/* Per-dimension start and step of a Slice, and the output dims. */
struct slice_geom {
    int64_t start[CVB_MAX_DIMS], step[CVB_MAX_DIMS], dims[CVB_MAX_DIMS];
};

static int read_ints(const struct cvb_tensor *t, const void *p, int64_t *v, int max,
                     const struct cvb_node *n, const char *what, struct cvb_err *err) {
    if (t->dtype != CVB_DT_I64 && t->dtype != CVB_DT_I32)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "%s input '%s' has dtype %s; expected int64",
                             what, t->name, cvb__dtype_name(t->dtype));
    if (t->numel > max)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "%s has %lld values; the data has rank %d", what,
                             (long long)t->numel, max);
    if (t->numel > 0 && p == NULL)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "%s input '%s' is computed at run time; only static shapes are "
                             "supported",
                             what, t->name);
    for (int64_t i = 0; i < t->numel; i++) v[i] = cvb__ref_geti(p, t->dtype, i);
    return (int)t->numel;
}

/* tin/in: the node's inputs as (tensor, data) pairs, absent ones NULL. */
static int slice_geom(const struct cvb_node *n, const struct cvb_tensor *const *tin,
                      const void *const *in, struct slice_geom *sg, struct cvb_err *err) {
    const struct cvb_tensor *x = tin[0];
    int r = x->ndim;
    int64_t starts[CVB_MAX_DIMS], ends[CVB_MAX_DIMS], axes[CVB_MAX_DIMS], steps[CVB_MAX_DIMS];
    int ns = read_ints(tin[1], in[1], starts, r, n, "starts", err);
    if (ns < 0) return ns;
    int ne = read_ints(tin[2], in[2], ends, r, n, "ends", err);
    if (ne < 0) return ne;
    if (ne != ns)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "starts has %d values but ends has %d", ns, ne);
    if (tin[3]) {
        int na = read_ints(tin[3], in[3], axes, r, n, "axes", err);
        if (na < 0) return na;
        if (na != ns)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "axes has %d values but starts has %d", na, ns);
    } else {
        for (int i = 0; i < ns; i++) axes[i] = i;
    }
    if (tin[4]) {
        int nst = read_ints(tin[4], in[4], steps, r, n, "steps", err);
        if (nst < 0) return nst;
        if (nst != ns)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "steps has %d values but starts has %d", nst,
                                 ns);
    } else {
        for (int i = 0; i < ns; i++) steps[i] = 1;
    }
    bool seen[CVB_MAX_DIMS] = {false};
    for (int d = 0; d < r; d++) {
        sg->start[d] = 0;
        sg->step[d] = 1;
        sg->dims[d] = x->dims[d];
    }
    for (int i = 0; i < ns; i++) {
        int a = cvb__ref_axis(axes[i], r);
        if (a < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                                 (long long)axes[i], r);
        if (seen[a]) return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %d is repeated", a);
        seen[a] = true;
        int64_t dim = x->dims[a], st = steps[i], s = starts[i], e = ends[i];
        if (st == 0) return cvb__ref_fail(err, CVB_ESHAPE, n, "step for axis %d is 0", a);
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (st > 0) {
            s = s < 0 ? 0 : (s > dim ? dim : s);
            e = e < 0 ? 0 : (e > dim ? dim : e);
        } else {
            s = s < 0 ? 0 : (s > dim - 1 ? dim - 1 : s);
            e = e < -1 ? -1 : (e > dim - 1 ? dim - 1 : e);
        }
        int64_t len;
        if (st > 0)
            len = e > s ? (e - s + st - 1) / st : 0;
        else
            len = s > e ? (s - e + (-st) - 1) / (-st) : 0;
        sg->start[a] = len > 0 ? s : 0;
        sg->step[a] = st;
        sg->dims[a] = len;
    }
    return 0;
}

bool cvb__ref_slice_is_view(const struct cvb_graph *g, const struct cvb_node *n,
                            int64_t *elem_off) {
    if (n->op != CVB_OP_SLICE || n->n_in < 3 || n->n_out < 1 || n->in[0] < 0 || n->out[0] < 0)
        return false;
    const struct cvb_tensor *tin[5] = {NULL, NULL, NULL, NULL, NULL};
    const void *in[5] = {NULL, NULL, NULL, NULL, NULL};
    for (int j = 0; j < n->n_in && j < 5; j++) {
        if (n->in[j] < 0) continue;
        tin[j] = &g->tensors[n->in[j]];
        in[j] = tin[j]->data;
        if (j > 0 && in[j] == NULL) return false; /* run-time bounds */
    }
    if (tin[1] == NULL || tin[2] == NULL) return false;
    const struct cvb_tensor *x = tin[0];
    struct slice_geom sg;
    if (slice_geom(n, tin, in, &sg, NULL) < 0) return false;
    int r = x->ndim, d = 0;
    /* the first dimension that is cut: every one before it must be 1, every
     * one after it whole, for the slice to be one dense run of elements */
    while (d < r && sg.start[d] == 0 && sg.dims[d] == x->dims[d]) d++;
    if (d == r) {
        *elem_off = 0;
        return true;
    }
    for (int i = 0; i < d; i++)
        if (x->dims[i] != 1) return false;
    if (sg.step[d] != 1 && sg.dims[d] > 1) return false;
    int64_t inner = 1;
    for (int j = d + 1; j < r; j++) {
        if (sg.start[j] != 0 || sg.dims[j] != x->dims[j] || sg.step[j] != 1) return false;
        inner *= x->dims[j];
    }
    *elem_off = sg.start[d] * inner;
    return true;
}

int cvb__infer_SLICE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 3, 5, err);
    if (rc < 0) return rc;
    const struct cvb_tensor *tin[5] = {NULL};
    const void *in[5] = {NULL};
    const char *names[5] = {"data", "starts", "ends", "axes", "steps"};
    for (int i = 0; i < 5; i++) {
        struct cvb_tensor *t = cvb__ref_in(g, n, i);
        if (t == NULL && i < 3) return cvb__ref_fail(err, CVB_EFORMAT, n, "input %s is missing", names[i]);
        if (t && !t->shape_known)
            return cvb__ref_fail(err, CVB_EINTERNAL, n, "input '%s' has no inferred shape", t->name);
        tin[i] = t;
        in[i] = t ? t->data : NULL;
    }
    struct slice_geom sg;
    if ((rc = slice_geom(n, tin, in, &sg, err)) < 0) return rc;
    return cvb__ref_set_out(g, n, 0, tin[0]->dtype, tin[0]->ndim, sg.dims, err);
}

int cvb__ref_SLICE(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *tin[5] = {NULL};
    const void *in[5] = {NULL};
    for (int i = 0; i < 5 && i < k->node->n_in; i++) {
        tin[i] = k->tin[i];
        in[i] = k->in[i];
    }
    struct slice_geom sg;
    int rc = slice_geom(k->node, tin, in, &sg, err);
    if (rc < 0) return rc;
    const struct cvb_tensor *x = tin[0];
    size_t es = cvb__dtype_size(x->dtype);
    int64_t st[CVB_MAX_DIMS], ss[CVB_MAX_DIMS], off = 0;
    row_strides(x->ndim, x->dims, st);
    for (int d = 0; d < x->ndim; d++) {
        off += sg.start[d] * st[d];
        ss[d] = st[d] * sg.step[d];
    }
    strided_copy(k->out[0], (const char *)k->in[0] + off * (int64_t)es, x->ndim, sg.dims, ss, es);
    return 0;
}

/* ---- Transpose ---------------------------------------------------------------- */

static int transpose_perm(const struct cvb_node *n, const struct cvb_tensor *x, int *perm,
                          struct cvb_err *err) {
    const int64_t *p = NULL;
    int cnt = cvb__attr_ints(n, "perm", &p);
    int r = x->ndim;
    if (cnt < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
        return 0;
    }
    if (cnt != r)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "perm has %d values but input '%s' has rank %d",
                             cnt, x->name, r);
    bool seen[CVB_MAX_DIMS] = {false};
    for (int i = 0; i < r; i++) {
        int a = cvb__ref_axis(p[i], r);
        if (a < 0 || seen[a])
            return cvb__ref_fail(err, CVB_ESHAPE, n, "perm is not a permutation of 0..%d", r - 1);
        seen[a] = true;
        perm[i] = a;
    }
    return 0;
}

int cvb__infer_TRANSPOSE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    int perm[CVB_MAX_DIMS];
    if ((rc = transpose_perm(n, x, perm, err)) < 0) return rc;
    int64_t dims[CVB_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = x->dims[perm[i]];
    return cvb__ref_set_out(g, n, 0, x->dtype, x->ndim, dims, err);
}

int cvb__ref_TRANSPOSE(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int perm[CVB_MAX_DIMS];
    int rc = transpose_perm(k->node, x, perm, err);
    if (rc < 0) return rc;
    int64_t st[CVB_MAX_DIMS], ss[CVB_MAX_DIMS];
    row_strides(x->ndim, x->dims, st);
    for (int i = 0; i < x->ndim; i++) ss[i] = st[perm[i]];
    strided_copy(k->out[0], k->in[0], x->ndim, k->tout[0]->dims, ss, cvb__dtype_size(x->dtype));
    return 0;
}

/* ---- Gather --------------------------------------------------------------------- */

int cvb__infer_GATHER(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *ti = cvb__ref_need(g, n, 1, "indices", err);
    if (ti == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, ti, "indices", CVB_DTM_INT, err)) < 0) return rc;
    int64_t a = cvb__attr_int(n, "axis", 0);
    int ax = cvb__ref_axis(a, x->ndim);
    if (ax < 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, x->ndim);
    int r = x->ndim - 1 + ti->ndim;
    if (r > CVB_MAX_DIMS)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "result rank %d exceeds %d", r, CVB_MAX_DIMS);
    if (ti->data && (rc = cvb__ref_check_indices(n, ti, ti->data, x->dims[ax], err)) < 0)
        return rc;
    int64_t dims[CVB_MAX_DIMS];
    int o = 0;
    for (int i = 0; i < ax; i++) dims[o++] = x->dims[i];
    for (int i = 0; i < ti->ndim; i++) dims[o++] = ti->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) dims[o++] = x->dims[i];
    return cvb__ref_set_out(g, n, 0, x->dtype, r, dims, err);
}

int cvb__ref_GATHER(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *ti = k->tin[1];
    int ax = cvb__ref_axis(cvb__attr_int(k->node, "axis", 0), x->ndim);
    int64_t dim = x->dims[ax];
    int rc = cvb__ref_check_indices(k->node, ti, k->in[1], dim, err);
    if (rc < 0) return rc;
    size_t es = cvb__dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < ax; i++) outer *= x->dims[i];
    for (int i = ax + 1; i < x->ndim; i++) inner *= x->dims[i];
    size_t chunk = (size_t)inner * es;
    const char *src = k->in[0];
    char *dst = k->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < ti->numel; j++) {
            int64_t v = cvb__ref_geti(k->in[1], ti->dtype, j);
            if (v < 0) v += dim;
            if (chunk) memcpy(dst, src + (size_t)((o * dim + v) * inner) * es, chunk);
            dst += chunk;
        }
    return 0;
}

/* ---- Expand ------------------------------------------------------------------- */

int cvb__infer_EXPAND(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    int64_t shape[CVB_MAX_DIMS], dims[CVB_MAX_DIMS];
    int cnt = 0, nd = 0;
    rc = cvb__ref_const_ints(g, n, 1, "shape", shape, CVB_MAX_DIMS, &cnt, err);
    if (rc < 0) return rc;
    rc = cvb__ref_broadcast(n, x->ndim, x->dims, cnt, shape, &nd, dims, err);
    if (rc < 0) return rc;
    return cvb__ref_set_out(g, n, 0, x->dtype, nd, dims, err);
}

int cvb__ref_EXPAND(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *y = k->tout[0];
    int64_t ss[CVB_MAX_DIMS];
    cvb__ref_bcast_strides(x->ndim, x->dims, y->ndim, y->dims, ss);
    strided_copy(k->out[0], k->in[0], y->ndim, y->dims, ss, cvb__dtype_size(x->dtype));
    return 0;
}

/* ---- Cast -------------------------------------------------------------------------- */

int cvb__infer_CAST(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "input", err);
    if (x == NULL) return err->code;
    if (cvb__attr_find(n, "to") == NULL)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "attribute 'to' is missing");
    int64_t to = cvb__attr_int(n, "to", 0);
    enum cvb_dtype dt = cvb__dtype_from_onnx((int)to);
    if (dt == CVB_DT_UNDEF)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "cast to ONNX data type %lld is not supported",
                             (long long)to);
    return cvb__ref_set_out(g, n, 0, dt, x->ndim, x->dims, err);
}

static bool dt_is_int(enum cvb_dtype dt) { return dt != CVB_DT_F32; }

static int64_t load_i(const void *p, enum cvb_dtype dt, int64_t i) {
    switch (dt) {
    case CVB_DT_U8: return ((const uint8_t *)p)[i];
    case CVB_DT_I8: return ((const int8_t *)p)[i];
    case CVB_DT_I32: return ((const int32_t *)p)[i];
    case CVB_DT_I64: return ((const int64_t *)p)[i];
    case CVB_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

/* Integer to integer wraps (two's complement truncation, as numpy does). */
static void store_i(void *p, enum cvb_dtype dt, int64_t i, int64_t v) {
    switch (dt) {
    case CVB_DT_U8: ((uint8_t *)p)[i] = (uint8_t)(uint64_t)v; break;
    case CVB_DT_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)(uint64_t)v; break;
    case CVB_DT_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case CVB_DT_I64: ((int64_t *)p)[i] = v; break;
    case CVB_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    default: break;
    }
}

/* Float to integer truncates toward zero and saturates at the target's
 * range; NaN becomes 0 (ONNX leaves out-of-range casts undefined; this
 * choice just avoids C undefined behaviour). */
static void store_f(void *p, enum cvb_dtype dt, int64_t i, double v) {
    if (dt == CVB_DT_F32) {
        ((float *)p)[i] = (float)v;
        return;
    }
    if (dt == CVB_DT_BOOL) {
        ((uint8_t *)p)[i] = v != 0;
        return;
    }
    double lo, hi;
    switch (dt) {
    case CVB_DT_U8: lo = 0; hi = 255; break;
    case CVB_DT_I8: lo = -128; hi = 127; break;
    case CVB_DT_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    default: lo = -9223372036854775808.0; hi = 9223372036854774784.0; break;
    }
    if (isnan(v)) v = 0;
    v = trunc(v);
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    store_i(p, dt, i, (int64_t)v);
}

int cvb__ref_CAST(const struct cvb_kctx *k, struct cvb_err *err) {
    enum cvb_dtype from = k->tin[0]->dtype, to = k->tout[0]->dtype;
    int64_t cnt = k->tout[0]->numel;
    if (from == to) return copy_kernel(k);
    for (int64_t i = 0; i < cnt; i++) {
        if (from == CVB_DT_F32)
            store_f(k->out[0], to, i, ((const float *)k->in[0])[i]);
        else if (dt_is_int(to))
            store_i(k->out[0], to, i, load_i(k->in[0], from, i));
        else
            ((float *)k->out[0])[i] = (float)load_i(k->in[0], from, i);
    }
    return 0;
}

/* ---- Shape ---------------------------------------------------------------------- */

static void shape_range(const struct cvb_node *n, int r, int64_t *start, int64_t *end) {
    int64_t s = cvb__attr_int(n, "start", 0);
    int64_t e = cvb__attr_find(n, "end") ? cvb__attr_int(n, "end", r) : r;
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : (s > r ? r : s);
    e = e < 0 ? 0 : (e > r ? r : e);
    *start = s;
    *end = e > s ? e : s;
}

int cvb__infer_SHAPE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    int64_t s, e;
    shape_range(n, x->ndim, &s, &e);
    int64_t d = e - s;
    return cvb__ref_set_out(g, n, 0, CVB_DT_I64, 1, &d, err);
}

/* Reads only the input's shape; its data may be absent. */
int cvb__ref_SHAPE(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int64_t s, e;
    shape_range(k->node, x->ndim, &s, &e);
    int64_t *y = k->out[0];
    for (int64_t i = s; i < e; i++) y[i - s] = x->dims[i];
    return 0;
}

/* ---- Constant, ConstantOfShape ----------------------------------------------------- */

/* The one value attribute of a Constant node, or NULL after setting err. */
static const struct cvb_attr *constant_attr(const struct cvb_node *n, struct cvb_err *err) {
    const struct cvb_attr *found = NULL;
    for (int i = 0; i < n->n_attrs; i++) {
        const struct cvb_attr *a = &n->attrs[i];
        if (strncmp(a->name, "value", 5) != 0 && strcmp(a->name, "sparse_value") != 0) continue;
        if (found) {
            cvb__ref_fail(err, CVB_EFORMAT, n, "has both %s and %s", found->name, a->name);
            return NULL;
        }
        found = a;
    }
    if (found == NULL) {
        cvb__ref_fail(err, CVB_EFORMAT, n, "has no value attribute");
        return NULL;
    }
    const char *nm = found->name;
    bool ok = (!strcmp(nm, "value") && found->type == CVB_ATTR_TENSOR) ||
              (!strcmp(nm, "value_float") && found->type == CVB_ATTR_FLOAT) ||
              (!strcmp(nm, "value_floats") && found->type == CVB_ATTR_FLOATS) ||
              (!strcmp(nm, "value_int") && found->type == CVB_ATTR_INT) ||
              (!strcmp(nm, "value_ints") && found->type == CVB_ATTR_INTS);
    if (!ok) {
        cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "attribute %s is not supported", nm);
        return NULL;
    }
    return found;
}

int cvb__infer_CONSTANT(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    if (n->n_in != 0) return cvb__ref_fail(err, CVB_EFORMAT, n, "has %d inputs, expected 0", n->n_in);
    if (n->n_out < 1 || n->out[0] < 0) return cvb__ref_fail(err, CVB_EFORMAT, n, "has no output");
    const struct cvb_attr *a = constant_attr(n, err);
    if (a == NULL) return err->code;
    int64_t d = a->n;
    if (!strcmp(a->name, "value")) {
        if (a->tensor < 0 || a->tensor >= g->n_tensors || g->tensors[a->tensor].data == NULL)
            return cvb__ref_fail(err, CVB_EINTERNAL, n, "value tensor was not loaded");
        const struct cvb_tensor *t = &g->tensors[a->tensor];
        return cvb__ref_set_out(g, n, 0, t->dtype, t->ndim, t->dims, err);
    }
    if (!strcmp(a->name, "value_float")) return cvb__ref_set_out(g, n, 0, CVB_DT_F32, 0, NULL, err);
    if (!strcmp(a->name, "value_int")) return cvb__ref_set_out(g, n, 0, CVB_DT_I64, 0, NULL, err);
    if (!strcmp(a->name, "value_floats")) return cvb__ref_set_out(g, n, 0, CVB_DT_F32, 1, &d, err);
    return cvb__ref_set_out(g, n, 0, CVB_DT_I64, 1, &d, err);
}

int cvb__ref_CONSTANT(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_attr *a = constant_attr(k->node, err);
    if (a == NULL) return err->code;
    size_t bytes = cvb__tensor_bytes(k->tout[0]);
    if (!strcmp(a->name, "value")) {
        if (bytes) memcpy(k->out[0], k->g->tensors[a->tensor].data, bytes);
    } else if (!strcmp(a->name, "value_float")) {
        *(float *)k->out[0] = a->f;
    } else if (!strcmp(a->name, "value_int")) {
        *(int64_t *)k->out[0] = a->i;
    } else if (!strcmp(a->name, "value_floats")) {
        if (bytes) memcpy(k->out[0], a->floats, bytes);
    } else {
        if (bytes) memcpy(k->out[0], a->ints, bytes);
    }
    return 0;
}

int cvb__infer_CONSTANT_OF_SHAPE(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 1, 1, err);
    if (rc < 0) return rc;
    int64_t shape[CVB_MAX_DIMS];
    int cnt = 0;
    rc = cvb__ref_const_ints(g, n, 0, "shape", shape, CVB_MAX_DIMS, &cnt, err);
    if (rc < 0) return rc;
    enum cvb_dtype dt = CVB_DT_F32;
    const struct cvb_attr *v = cvb__attr_find(n, "value");
    if (v) {
        if (v->type != CVB_ATTR_TENSOR || v->tensor < 0 || v->tensor >= g->n_tensors ||
            g->tensors[v->tensor].data == NULL)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "attribute value is not a loaded tensor");
        if (g->tensors[v->tensor].numel != 1)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "attribute value must have one element, has %lld",
                                 (long long)g->tensors[v->tensor].numel);
        dt = g->tensors[v->tensor].dtype;
    }
    for (int i = 0; i < cnt; i++)
        if (shape[i] < 0)
            return cvb__ref_fail(err, CVB_ESHAPE, n, "shape[%d] = %lld is negative", i,
                                 (long long)shape[i]);
    return cvb__ref_set_out(g, n, 0, dt, cnt, shape, err);
}

int cvb__ref_CONSTANT_OF_SHAPE(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_attr *v = cvb__attr_find(k->node, "value");
    size_t es = cvb__dtype_size(k->tout[0]->dtype);
    char zero[8] = {0};
    const void *val = v ? k->g->tensors[v->tensor].data : zero;
    char *y = k->out[0];
    for (int64_t i = 0; i < k->tout[0]->numel; i++) memcpy(y + (size_t)i * es, val, es);
    return 0;
}
