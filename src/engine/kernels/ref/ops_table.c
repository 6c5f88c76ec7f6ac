/* SPDX-License-Identifier: Apache-2.0 */
/* The per-op table (name, shape inference, reference kernel) indexed by enum
 * cvb_op, and the small helpers every reference kernel file shares (error
 * messages naming the node, constant shape-input reading, broadcasting).
 * graph.c uses the table for inference and constant folding, exec.c for the
 * reference kernel set. */
#include "engine/kernels/ref/ref.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const struct cvb_op_def cvb__op_defs[CVB_OP_COUNT] = {
#define CVB_X(e, s) [CVB_OP_##e] = {s, cvb__infer_##e, cvb__ref_##e},
    CVB_OP_LIST(CVB_X)
#undef CVB_X
};
_Static_assert(CVB_OP_COUNT == 52, "every op needs an entry in cvb__op_defs");

int cvb__ref_fail(struct cvb_err *err, int code, const struct cvb_node *n, const char *fmt, ...) {
    char buf[CVB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return cvb_err_set(err, code, "node \"%s\" (%s): %s", n->name, cvb__op_name(n->op), buf);
}

struct cvb_tensor *cvb__ref_in(struct cvb_graph *g, const struct cvb_node *n, int i) {
    if (i < 0 || i >= n->n_in || n->in[i] < 0) return NULL;
    return &g->tensors[n->in[i]];
}

struct cvb_tensor *cvb__ref_need(struct cvb_graph *g, const struct cvb_node *n, int i,
                                 const char *what, struct cvb_err *err) {
    struct cvb_tensor *t = cvb__ref_in(g, n, i);
    if (t == NULL) {
        cvb__ref_fail(err, CVB_EFORMAT, n, "required input %d (%s) is missing", i, what);
        return NULL;
    }
    if (!t->shape_known) {
        cvb__ref_fail(err, CVB_EINTERNAL, n, "input '%s' has no inferred shape", t->name);
        return NULL;
    }
    return t;
}

int cvb__ref_arity(const struct cvb_node *n, int min_in, int max_in, struct cvb_err *err) {
    if (n->n_in < min_in || n->n_in > max_in) {
        if (min_in == max_in)
            return cvb__ref_fail(err, CVB_EFORMAT, n, "has %d inputs, expected %d", n->n_in,
                                 min_in);
        return cvb__ref_fail(err, CVB_EFORMAT, n, "has %d inputs, expected %d to %d", n->n_in,
                             min_in, max_in);
    }
    if (n->n_out < 1 || n->out[0] < 0)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "has no output");
    return 0;
}

int cvb__ref_set_out(struct cvb_graph *g, const struct cvb_node *n, int i, enum cvb_dtype dt,
                     int ndim, const int64_t *dims, struct cvb_err *err) {
    if (i >= n->n_out || n->out[i] < 0) return 0;
    int rc = cvb__tensor_set_shape(g, n->out[i], dt, ndim, dims, err);
    if (rc < 0) cvb_err_prefix(err, "node \"%s\" (%s)", n->name, cvb__op_name(n->op));
    return rc;
}

static int const_check(struct cvb_graph *g, const struct cvb_node *n, int i, const char *what,
                       struct cvb_tensor **out, struct cvb_err *err) {
    struct cvb_tensor *t = cvb__ref_need(g, n, i, what, err);
    if (t == NULL) return err ? err->code : CVB_EFORMAT;
    if (t->data == NULL && t->numel > 0)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "%s input '%s' is computed at run time; only static shapes are "
                             "supported",
                             what, t->name);
    if (t->ndim > 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "%s input '%s' must be 1-D, has rank %d", what,
                             t->name, t->ndim);
    *out = t;
    return 0;
}

int cvb__ref_const_ints(struct cvb_graph *g, const struct cvb_node *n, int i, const char *what,
                        int64_t *vals, int max, int *count, struct cvb_err *err) {
    struct cvb_tensor *t = NULL;
    int rc = const_check(g, n, i, what, &t, err);
    if (rc < 0) return rc;
    if (t->dtype != CVB_DT_I64 && t->dtype != CVB_DT_I32)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "%s input '%s' has dtype %s; expected int64",
                             what, t->name, cvb__dtype_name(t->dtype));
    if (t->numel > max)
        return cvb__ref_fail(err, CVB_ERANGE, n, "%s input '%s' has %lld values; at most %d",
                             what, t->name, (long long)t->numel, max);
    for (int64_t j = 0; j < t->numel; j++) vals[j] = cvb__ref_geti(t->data, t->dtype, j);
    *count = (int)t->numel;
    return 0;
}

int cvb__ref_const_floats(struct cvb_graph *g, const struct cvb_node *n, int i, const char *what,
                          float *vals, int max, int *count, struct cvb_err *err) {
    struct cvb_tensor *t = NULL;
    int rc = const_check(g, n, i, what, &t, err);
    if (rc < 0) return rc;
    if (t->dtype != CVB_DT_F32)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "%s input '%s' has dtype %s; expected float32", what, t->name,
                             cvb__dtype_name(t->dtype));
    if (t->numel > max)
        return cvb__ref_fail(err, CVB_ERANGE, n, "%s input '%s' has %lld values; at most %d",
                             what, t->name, (long long)t->numel, max);
    if (t->numel > 0) memcpy(vals, t->data, (size_t)t->numel * sizeof(float));
    *count = (int)t->numel;
    return 0;
}

int cvb__ref_axis(int64_t a, int r) {
    if (a < -(int64_t)r || a >= r) return -1;
    return (int)(a < 0 ? a + r : a);
}

int cvb__ref_attr_axis(const struct cvb_node *n, int r, int64_t def, int *ax, struct cvb_err *err) {
    int64_t a = cvb__attr_int(n, "axis", def);
    *ax = cvb__ref_axis(a, r);
    if (*ax < 0)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "axis %lld is out of range for rank %d",
                             (long long)a, r);
    return 0;
}

int cvb__ref_check_indices(const struct cvb_node *n, const struct cvb_tensor *ti, const void *p,
                           int64_t dim, struct cvb_err *err) {
    for (int64_t i = 0; i < ti->numel; i++) {
        int64_t v = cvb__ref_geti(p, ti->dtype, i);
        if (v < -dim || v >= dim)
            return cvb__ref_fail(err, CVB_ERANGE, n, "index %lld is out of range for axis size %lld",
                                 (long long)v, (long long)dim);
    }
    return 0;
}

void cvb__ref_strides(int r, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

int cvb__ref_broadcast(const struct cvb_node *n, int na, const int64_t *a, int nb,
                       const int64_t *b, int *nd, int64_t *out, struct cvb_err *err) {
    int r = na > nb ? na : nb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - na), ib = i - (r - nb);
        int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
        if (da == db || db == 1) {
            out[i] = da;
        } else if (da == 1) {
            out[i] = db;
        } else {
            char sa[128], sb[128];
            size_t o = 0;
            o += (size_t)snprintf(sa + o, sizeof sa - o, "[");
            for (int j = 0; j < na && o < sizeof sa; j++)
                o += (size_t)snprintf(sa + o, sizeof sa - o, j ? ",%lld" : "%lld", (long long)a[j]);
            if (o < sizeof sa) snprintf(sa + o, sizeof sa - o, "]");
            o = 0;
            o += (size_t)snprintf(sb + o, sizeof sb - o, "[");
            for (int j = 0; j < nb && o < sizeof sb; j++)
                o += (size_t)snprintf(sb + o, sizeof sb - o, j ? ",%lld" : "%lld", (long long)b[j]);
            if (o < sizeof sb) snprintf(sb + o, sizeof sb - o, "]");
            return cvb__ref_fail(err, CVB_ESHAPE, n, "shapes %s and %s cannot be broadcast", sa,
                                 sb);
        }
    }
    *nd = r;
    return 0;
}

void cvb__ref_bcast_strides(int nin, const int64_t *din, int nd, const int64_t *dout,
                            int64_t *strides) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ii = i - (nd - nin);
        if (ii < 0) {
            strides[i] = 0;
            continue;
        }
        strides[i] = (din[ii] == 1 && dout[i] != 1) ? 0 : s;
        s *= din[ii];
    }
}

int cvb__ref_dtype_ok(const struct cvb_node *n, const struct cvb_tensor *t, const char *what,
                      unsigned mask, struct cvb_err *err) {
    if (t->dtype > CVB_DT_UNDEF && t->dtype < CVB_DT_COUNT && (mask & CVB_DTM(t->dtype)))
        return 0;
    return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "%s '%s' has dtype %s, which this op does not "
                         "support here",
                         what, t->name, cvb__dtype_name(t->dtype));
}
