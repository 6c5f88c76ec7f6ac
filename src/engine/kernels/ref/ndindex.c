/* SPDX-License-Identifier: Apache-2.0 */
/* Reference kernels for the tuple-indexed ops GatherND (with batch_dims) and
 * ScatterND (reduction none, add, mul), ONNX opsets 11-17.
 *
 * The last axis of 'indices' holds m coordinates into the leading axes of
 * 'data' (after any batch axes); each tuple selects a slice of the trailing
 * axes. Shapes follow from the input shapes alone; index values are read
 * when the node runs, and one outside its axis (after adding the axis size
 * to a negative one) is an ERANGE error naming the node, never an
 * out-of-bounds access. Both ops move elements, so every dtype works;
 * ScatterND's add and mul need float32, int32 or int64. */
#include "engine/kernels/ref/ref.h"

#include <string.h>

static int64_t prod(const int64_t *d, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= d[i];
    return p;
}

/* Element offset within the axes [ax, ax+m) of 'data' addressed by the tuple
 * idx[0..m), or a negative status after setting 'err'. */
static int tuple_offset(const struct cvb_kctx *k, const void *ind, enum cvb_dtype it, int64_t at,
                        int ax, int m, int64_t *off, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0];
    int64_t o = 0;
    for (int j = 0; j < m; j++) {
        int64_t len = x->dims[ax + j];
        int64_t v = cvb__ref_geti(ind, it, at + j);
        int64_t w = v < 0 ? v + len : v;
        if (w < 0 || w >= len)
            return cvb__ref_fail(err, CVB_ERANGE, k->node,
                                 "index %lld is out of range for axis %d of size %lld",
                                 (long long)v, ax + j, (long long)len);
        o = o * len + w;
    }
    *off = o * prod(x->dims, ax + m, x->ndim);
    return 0;
}

/* ---- GatherND ------------------------------------------------------------------- */

int cvb__infer_GATHER_ND(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *ix = cvb__ref_need(g, n, 1, "indices", err);
    if (ix == NULL) return err->code;
    rc = cvb__ref_dtype_ok(n, ix, "indices", CVB_DTM_INT, err);
    if (rc < 0) return rc;
    int r = x->ndim, q = ix->ndim;
    int64_t b = cvb__attr_int(n, "batch_dims", 0);
    if (r < 1 || q < 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "data (rank %d) and indices (rank %d) need rank >= 1",
                             r, q);
    if (b < 0 || b >= q || b >= r)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "batch_dims %lld must be below the ranks of data (%d) and indices (%d)",
                             (long long)b, r, q);
    for (int i = 0; i < b; i++)
        if (x->dims[i] != ix->dims[i])
            return cvb__ref_fail(err, CVB_ESHAPE, n,
                                 "batch axis %d: data has %lld, indices %lld", i,
                                 (long long)x->dims[i], (long long)ix->dims[i]);
    int64_t m = ix->dims[q - 1];
    if (m < 1 || m > r - b)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "indices' last axis is %lld; it must be 1 to %lld (data rank %d "
                             "less batch_dims %lld)",
                             (long long)m, (long long)(r - b), r, (long long)b);
    int nd = 0;
    int64_t dims[2 * CVB_MAX_DIMS];
    for (int i = 0; i < q - 1; i++) dims[nd++] = ix->dims[i];
    for (int i = (int)(b + m); i < r; i++) dims[nd++] = x->dims[i];
    return cvb__ref_set_out(g, n, 0, x->dtype, nd, dims, err);
}

int cvb__ref_GATHER_ND(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *ix = k->tin[1];
    int b = (int)cvb__attr_int(k->node, "batch_dims", 0);
    int q = ix->ndim;
    int m = (int)ix->dims[q - 1];
    size_t es = cvb__dtype_size(x->dtype);
    int64_t nb = prod(x->dims, 0, b);             /* batches */
    int64_t per_batch = prod(x->dims, b, x->ndim); /* data elements in one batch */
    int64_t nt = prod(ix->dims, b, q - 1);         /* tuples per batch */
    int64_t slice = prod(x->dims, b + m, x->ndim); /* elements one tuple selects */
    const unsigned char *src = k->in[0];
    unsigned char *dst = k->out[0];
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t t = 0; t < nt; t++) {
            int64_t j = bi * nt + t, off = 0;
            int rc = tuple_offset(k, k->in[1], ix->dtype, j * m, b, m, &off, err);
            if (rc < 0) return rc;
            memcpy(dst + (size_t)(j * slice) * es, src + (size_t)(bi * per_batch + off) * es,
                   (size_t)slice * es);
        }
    }
    return 0;
}

/* ---- ScatterND ------------------------------------------------------------------ */

enum scatter_red { RED_NONE, RED_ADD, RED_MUL };

static int scatter_reduction(const struct cvb_node *n, enum scatter_red *red,
                             struct cvb_err *err) {
    const char *s = cvb__attr_str(n, "reduction", "none");
    if (strcmp(s, "none") == 0) {
        *red = RED_NONE;
    } else if (strcmp(s, "add") == 0) {
        *red = RED_ADD;
    } else if (strcmp(s, "mul") == 0) {
        *red = RED_MUL;
    } else {
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n,
                             "reduction '%s' is not supported (none, add, mul are)", s);
    }
    return 0;
}

int cvb__infer_SCATTER_ND(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 3, 3, err);
    if (rc < 0) return rc;
    struct cvb_tensor *x = cvb__ref_need(g, n, 0, "data", err);
    if (x == NULL) return err->code;
    struct cvb_tensor *ix = cvb__ref_need(g, n, 1, "indices", err);
    if (ix == NULL) return err->code;
    struct cvb_tensor *u = cvb__ref_need(g, n, 2, "updates", err);
    if (u == NULL) return err->code;
    rc = cvb__ref_dtype_ok(n, ix, "indices", CVB_DTM_INT, err);
    if (rc < 0) return rc;
    enum scatter_red red;
    rc = scatter_reduction(n, &red, err);
    if (rc < 0) return rc;
    if (red != RED_NONE) rc = cvb__ref_dtype_ok(n, x, "data", CVB_DTM_F32 | CVB_DTM_INT, err);
    if (rc < 0) return rc;
    if (u->dtype != x->dtype)
        return cvb__ref_fail(err, CVB_EFORMAT, n, "updates have dtype %s, the data %s",
                             cvb__dtype_name(u->dtype), cvb__dtype_name(x->dtype));
    int r = x->ndim, q = ix->ndim;
    if (r < 1 || q < 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "data (rank %d) and indices (rank %d) need rank >= 1",
                             r, q);
    int64_t m = ix->dims[q - 1];
    if (m < 1 || m > r)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "indices' last axis is %lld; it must be 1 to the data rank %d",
                             (long long)m, r);
    /* updates.shape == indices.shape[:-1] + data.shape[m:] */
    bool ok = u->ndim == q - 1 + r - (int)m;
    for (int i = 0; ok && i < u->ndim; i++)
        ok = u->dims[i] == (i < q - 1 ? ix->dims[i] : x->dims[m + i - (q - 1)]);
    if (!ok) {
        char su[128], si[128], sx[128];
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "updates %s do not match indices %s and data %s (expected "
                             "indices.shape[:-1] + data.shape[%lld:])",
                             cvb__shape_str(u, su, sizeof su), cvb__shape_str(ix, si, sizeof si),
                             cvb__shape_str(x, sx, sizeof sx), (long long)m);
    }
    return cvb__ref_set_out(g, n, 0, x->dtype, r, x->dims, err);
}

/* Integers wrap (arithmetic in the unsigned type U), as Add and Mul do. */
#define SCATTER_LOOP(T, U)                                                     \
    do {                                                                       \
        T *o = (T *)dst + off;                                                 \
        const T *up = (const T *)k->in[2] + j * slice;                         \
        if (red == RED_ADD)                                                    \
            for (int64_t e = 0; e < slice; e++) o[e] = (T)((U)o[e] + (U)up[e]); \
        else                                                                   \
            for (int64_t e = 0; e < slice; e++) o[e] = (T)((U)o[e] * (U)up[e]); \
    } while (0)

int cvb__ref_SCATTER_ND(const struct cvb_kctx *k, struct cvb_err *err) {
    const struct cvb_tensor *x = k->tin[0], *ix = k->tin[1];
    enum scatter_red red;
    int rc = scatter_reduction(k->node, &red, err);
    if (rc < 0) return rc;
    int q = ix->ndim;
    int m = (int)ix->dims[q - 1];
    size_t es = cvb__dtype_size(x->dtype);
    int64_t nt = prod(ix->dims, 0, q - 1);
    int64_t slice = prod(x->dims, m, x->ndim);
    unsigned char *dst = k->out[0];
    if (k->out[0] != k->in[0]) memcpy(dst, k->in[0], cvb__tensor_bytes(x));
    for (int64_t j = 0; j < nt; j++) {
        int64_t off = 0;
        rc = tuple_offset(k, k->in[1], ix->dtype, j * m, 0, m, &off, err);
        if (rc < 0) return rc;
        if (red == RED_NONE) {
            memcpy(dst + (size_t)off * es, (const unsigned char *)k->in[2] + (size_t)(j * slice) * es,
                   (size_t)slice * es);
            continue;
        }
        switch (x->dtype) {
        /* cppcheck-suppress invalidPointerCast ; raw tensor bytes viewed as their dtype */
        case CVB_DT_F32: SCATTER_LOOP(float, float); break;
        case CVB_DT_I32: SCATTER_LOOP(int32_t, uint32_t); break;
        case CVB_DT_I64: SCATTER_LOOP(int64_t, uint64_t); break;
        default:
            return cvb__ref_fail(err, CVB_EUNSUPPORTED, k->node, "reduction on dtype %s",
                                 cvb__dtype_name(x->dtype));
        }
    }
    return 0;
}
