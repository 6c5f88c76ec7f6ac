/* SPDX-License-Identifier: Apache-2.0 */
/* Reference MatMul with numpy semantics: a 1-D A is treated as [1, K] and a
 * 1-D B as [K, 1] (the added dimension is removed from the result); batch
 * dimensions broadcast. float32, accumulated in double. */
#include "engine/kernels/ref/ref.h"

#include <string.h>

/* Batch geometry of A x B: output batch dims in bd[0..nb), strides of A and
 * B batches (in matrices) in sa/sb, and M, K, N. */
struct mm_geom {
    int nb;
    int64_t bd[CVB_MAX_DIMS], sa[CVB_MAX_DIMS], sb[CVB_MAX_DIMS];
    int64_t m, kk, nn;
    int out_nd;
    int64_t out_dims[CVB_MAX_DIMS];
};

static int mm_geom(const struct cvb_node *n, const struct cvb_tensor *a,
                   const struct cvb_tensor *b, struct mm_geom *mg, struct cvb_err *err) {
    if (a->ndim < 1 || b->ndim < 1)
        return cvb__ref_fail(err, CVB_ESHAPE, n, "MatMul operands must have rank >= 1 (got %d and %d)",
                             a->ndim, b->ndim);
    int64_t ad[CVB_MAX_DIMS + 1], bd[CVB_MAX_DIMS + 1];
    int na = a->ndim, nb = b->ndim;
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)na);
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)nb);
    bool a1 = na == 1, b1 = nb == 1;
    if (a1) { ad[1] = ad[0]; ad[0] = 1; na = 2; }
    if (b1) { bd[1] = 1; nb = 2; }
    mg->m = ad[na - 2];
    mg->kk = ad[na - 1];
    mg->nn = bd[nb - 1];
    if (bd[nb - 2] != mg->kk)
        return cvb__ref_fail(err, CVB_ESHAPE, n,
                             "inner dimensions differ: A has K = %lld, B has K = %lld",
                             (long long)mg->kk, (long long)bd[nb - 2]);
    int rc = cvb__ref_broadcast(n, na - 2, ad, nb - 2, bd, &mg->nb, mg->bd, err);
    if (rc < 0) return rc;
    cvb__ref_bcast_strides(na - 2, ad, mg->nb, mg->bd, mg->sa);
    cvb__ref_bcast_strides(nb - 2, bd, mg->nb, mg->bd, mg->sb);
    int o = 0;
    for (int i = 0; i < mg->nb; i++) mg->out_dims[o++] = mg->bd[i];
    if (!a1) mg->out_dims[o++] = mg->m;
    if (!b1) mg->out_dims[o++] = mg->nn;
    if (o > CVB_MAX_DIMS)
        return cvb__ref_fail(err, CVB_EUNSUPPORTED, n, "result rank %d is too large", o);
    mg->out_nd = o;
    return 0;
}

int cvb__infer_MATMUL(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    int rc = cvb__ref_arity(n, 2, 2, err);
    if (rc < 0) return rc;
    struct cvb_tensor *a = cvb__ref_need(g, n, 0, "A", err);
    if (a == NULL) return err->code;
    struct cvb_tensor *b = cvb__ref_need(g, n, 1, "B", err);
    if (b == NULL) return err->code;
    if ((rc = cvb__ref_dtype_ok(n, a, "input", CVB_DTM_F32, err)) < 0) return rc;
    if ((rc = cvb__ref_dtype_ok(n, b, "input", CVB_DTM_F32, err)) < 0) return rc;
    struct mm_geom mg;
    if ((rc = mm_geom(n, a, b, &mg, err)) < 0) return rc;
    return cvb__ref_set_out(g, n, 0, CVB_DT_F32, mg.out_nd, mg.out_dims, err);
}

int cvb__ref_MATMUL(const struct cvb_kctx *k, struct cvb_err *err) {
    struct mm_geom mg;
    int rc = mm_geom(k->node, k->tin[0], k->tin[1], &mg, err);
    if (rc < 0) return rc;
    const float *a = k->in[0], *b = k->in[1];
    float *y = k->out[0];
    int64_t M = mg.m, K = mg.kk, N = mg.nn;
    int64_t nbatch = 1;
    for (int i = 0; i < mg.nb; i++) nbatch *= mg.bd[i];
    int64_t idx[CVB_MAX_DIMS] = {0};
    for (int64_t bi = 0; bi < nbatch; bi++) {
        int64_t oa = 0, ob = 0;
        for (int i = 0; i < mg.nb; i++) {
            oa += idx[i] * mg.sa[i];
            ob += idx[i] * mg.sb[i];
        }
        const float *ap = a + oa * M * K, *bp = b + ob * K * N;
        float *yp = y + bi * M * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t t = 0; t < K; t++) s += (double)ap[i * K + t] * bp[t * N + j];
                yp[i * N + j] = (float)s;
            }
        for (int d = mg.nb - 1; d >= 0; d--) {
            if (++idx[d] < mg.bd[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}
