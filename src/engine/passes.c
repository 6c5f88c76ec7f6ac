/* SPDX-License-Identifier: Apache-2.0 */
/* Graph optimisation before execution planning (oneDNN kernel set only).
 *
 * Pattern fusion on the finalized graph: a Conv absorbs the element-wise
 * nodes that follow it (SiLU as Sigmoid+Mul, ReLU) and a residual Add. The
 * rewrite keeps invariant 1 of ir.h (topological order): the Conv takes the
 * last fused node's output, whose consumers all come after that node and so
 * after the Conv. Concat/Split views and layouts are the executor's job
 * (engine.c), not a graph rewrite. */
#include "engine/passes.h"
#include "engine/kernels/onednn/dnn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Live consumers of tensor t: count, and the first one in *first and the
 * last one's index in *last. */
static int consumers(const struct cvb_graph *g, int t, int *first, int *last) {
    int cnt = 0;
    *first = *last = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        bool uses = false;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == t) uses = true;
        if (!uses) continue;
        if (cnt++ == 0) *first = i;
        *last = i;
    }
    return cnt;
}

static bool is_f32_runtime(const struct cvb_tensor *t) {
    return t->dtype == CVB_DT_F32 && t->data == NULL && !t->dyn; /* dyn: reference kernels */
}

/* The one consumer of tensor t, or -1 when t has 0 or several, or is a
 * graph output. */
static int sole_consumer(const struct cvb_graph *g, int t) {
    int first, last;
    if (g->tensors[t].is_output) return -1;
    return consumers(g, t, &first, &last) == 1 ? first : -1;
}

/* Node 'conv' now produces node 'tail''s output; 'tail' and the nodes in
 * between are marked dead by the caller. */
static void take_output(struct cvb_graph *g, int conv, int tail) {
    int y = g->nodes[tail].out[0];
    g->nodes[conv].out[0] = y;
    g->tensors[y].producer = conv;
}

static void append_op(struct cvb__fusion *f, const char *what) {
    size_t l = strlen(f->ops);
    snprintf(f->ops + l, sizeof f->ops - l, "+%s", what);
}

static bool listed(const int *v, int n, int x) {
    for (int k = 0; k < n; k++)
        if (v[k] == x) return true;
    return false;
}

/* The permutation of Transpose node 't' over 'nd' axes (default: reversed). */
static bool transpose_perm(const struct cvb_node *t, int nd, int *perm) {
    const int64_t *pv = NULL;
    int cnt = cvb__attr_ints(t, "perm", &pv);
    if (cnt >= 0 && cnt != nd) return false;
    for (int i = 0; i < nd; i++) {
        int64_t a = cnt < 0 ? nd - 1 - i : pv[i] < 0 ? pv[i] + nd : pv[i];
        if (a < 0 || a >= nd) return false;
        perm[i] = (int)a;
    }
    return true;
}

/* Is node tr a Transpose of the last two axes of an (nd >= 2) tensor? */
static bool swaps_last2(const struct cvb_graph *g, const struct cvb_node *tr) {
    if (tr->op != CVB_OP_TRANSPOSE || tr->n_in < 1 || tr->in[0] < 0) return false;
    int nd = g->tensors[tr->in[0]].ndim, perm[CVB_MAX_DIMS];
    if (nd < 2 || nd > CVB_MAX_DIMS || !transpose_perm(tr, nd, perm)) return false;
    for (int i = 0; i < nd; i++)
        if (perm[i] != (i < nd - 2 ? i : i == nd - 2 ? nd - 1 : nd - 2)) return false;
    return true;
}

/* MatMul(Transpose(a), b) and MatMul(a, Transpose(b)), each Transpose of
 * the last two axes and read by this MatMul only: the MatMul reads the
 * Transpose's input through strides (CVB__POST_TRANS_A/B) and the
 * Transpose goes (YOLO12's area attention: q^T k, and v attn^T; ONNX
 * Runtime's FusedMatMul does the same). */
static int fuse_matmul_transposes(struct cvb_graph *g, struct cvb__fusion *f, const int *plain,
                                  int n_plain) {
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *mm = &g->nodes[i];
        if (mm->dead || mm->op != CVB_OP_MATMUL || mm->n_in != 2 || mm->n_out < 1 ||
            mm->out[0] < 0 || !is_f32_runtime(&g->tensors[mm->out[0]]) ||
            listed(plain, n_plain, i))
            continue;
        for (int j = 0; j < 2; j++) {
            int t = mm->in[j];
            if (t < 0 || mm->in[1 - j] == t) continue;
            const struct cvb_tensor *tt = &g->tensors[t];
            if (!is_f32_runtime(tt) || tt->producer < 0) continue;
            struct cvb_node *tr = &g->nodes[tt->producer];
            if (tr->dead || !swaps_last2(g, tr) || sole_consumer(g, t) != i) continue;
            const struct cvb_tensor *tx = &g->tensors[tr->in[0]];
            if (!is_f32_runtime(tx) || tx->numel != tt->numel) continue;
            mm->in[j] = tr->in[0];
            tr->dead = true;
            f[i].post |= j == 0 ? CVB__POST_TRANS_A : CVB__POST_TRANS_B;
            append_op(&f[i], j == 0 ? "T(A)" : "T(B)"); /* Transpose of A / B */
            removed++;
        }
    }
    return removed;
}

/* MatMul(a, Transpose(p)) folded above (y = a p^T), p larger than a,
 * whose output's one reader is a Transpose: computed as y^T = p a^T,
 * written dense (CVB__POST_STORE_T), and the Transpose reads y^T
 * (CVB__POST_READ_T). oneDNN's brgemm packs its B operand per call: the
 * small a^T then instead of p (YOLO12's v attn^T: a = v [.., 32, 400], p =
 * the [.., 400, 400] attention; 0.43-0.46 -> 0.37 ms at yolo12n's model.6
 * shapes, 2 threads), and the Transpose after it moves 32-float runs. */
static int store_matmul_transposed(struct cvb_graph *g, struct cvb__fusion *f, const int *plain,
                                   int n_plain) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *mm = &g->nodes[i];
        if (mm->dead || mm->op != CVB_OP_MATMUL || f[i].post != CVB__POST_TRANS_B ||
            mm->n_in != 2 || mm->n_out < 1 || mm->out[0] < 0 || listed(plain, n_plain, i))
            continue;
        const struct cvb_tensor *a = &g->tensors[mm->in[0]], *p = &g->tensors[mm->in[1]];
        const struct cvb_tensor *y = &g->tensors[mm->out[0]];
        if (a->ndim < 2 || p->ndim != a->ndim || y->ndim != a->ndim || p->numel <= a->numel ||
            !is_f32_runtime(y))
            continue;
        int c = sole_consumer(g, mm->out[0]);
        if (c < 0 || g->nodes[c].dead || g->nodes[c].op != CVB_OP_TRANSPOSE || f[c].post != 0 ||
            listed(plain, n_plain, c))
            continue;
        f[i].post |= CVB__POST_STORE_T;
        append_op(&f[i], "out^T");
        f[c].post |= CVB__POST_READ_T;
        append_op(&f[c], "in^T");
        n++;
    }
    return n;
}

/* Element strides 'sb' under which dims 'db' (nb axes) view, in row-major
 * order, the elements of a tensor of dims 'da' (na axes) laid out at
 * strides 'sa' -- a Reshape without a copy. False when that needs one:
 * a group of 'da' axes that the reshape merges or splits is not itself
 * one strided run. */
static bool reshape_view(int na, const int64_t *da, const int64_t *sa, int nb, const int64_t *db,
                         int64_t *sb) {
    int i = 0, j = 0;
    while (i < na || j < nb) {
        if (j < nb && db[j] == 1) {
            sb[j++] = 1; /* any stride reads the one element */
            continue;
        }
        if (i < na && da[i] == 1) {
            i++;
            continue;
        }
        if (i >= na || j >= nb) return false;
        int i0 = i, j0 = j;
        int64_t pa = da[i], pb = db[j];
        while (pa != pb) {
            if (pa < pb) {
                if (++i >= na) return false;
                pa *= da[i];
            } else {
                if (++j >= nb) return false;
                pb *= db[j];
            }
        }
        int last = -1; /* the group's A axes, size 1 skipped, must be one run */
        for (int k = i0; k <= i; k++) {
            if (da[k] == 1) continue;
            if (last >= 0 && sa[last] != sa[k] * da[k]) return false;
            last = k;
        }
        int64_t st = sa[last];
        for (int k = j; k >= j0; k--) {
            sb[k] = st;
            st *= db[k];
        }
        i++;
        j++;
    }
    return true;
}

/* Transpose t1 -> Reshape r -> Transpose t2, each intermediate read only by
 * the next, the Reshape a view of t1's strided output: t2 reads t1's input
 * through the composed strides (CVB__POST_STRIDED, "Transpose+Reshape" in
 * profiles), t1 and r go. YOLO12's
 * area attention turns its qkv, value and output tensors between NCHW and
 * [areas, heads, dim, tokens] with such chains: one reorder each instead
 * of two. t1 may read a MatMul's transposed store (CVB__POST_READ_T). */
static int compose_transposes(struct cvb_graph *g, struct cvb__fusion *f, const int *plain,
                              int n_plain) {
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *t2 = &g->nodes[i];
        if (t2->dead || t2->op != CVB_OP_TRANSPOSE || t2->n_in < 1 || t2->in[0] < 0 ||
            t2->n_out < 1 || t2->out[0] < 0 || f[i].post != 0 || listed(plain, n_plain, i))
            continue;
        const struct cvb_tensor *tr = &g->tensors[t2->in[0]];
        if (!is_f32_runtime(tr) || tr->producer < 0 || sole_consumer(g, t2->in[0]) != i) continue;
        int ri = tr->producer;
        struct cvb_node *r = &g->nodes[ri];
        if (r->dead || r->op != CVB_OP_RESHAPE || r->n_in < 1 || r->in[0] < 0 ||
            listed(plain, n_plain, ri))
            continue;
        const struct cvb_tensor *tt = &g->tensors[r->in[0]];
        if (!is_f32_runtime(tt) || tt->producer < 0 || sole_consumer(g, r->in[0]) != ri) continue;
        int i1 = tt->producer;
        struct cvb_node *t1 = &g->nodes[i1];
        if (t1->dead || t1->op != CVB_OP_TRANSPOSE || t1->n_in < 1 || t1->in[0] < 0 ||
            (f[i1].post & ~(unsigned)CVB__POST_READ_T) != 0 || listed(plain, n_plain, i1))
            continue;
        const struct cvb_tensor *tx = &g->tensors[t1->in[0]], *ty = &g->tensors[t2->out[0]];
        int nx = tx->ndim, na = tt->ndim, nb = tr->ndim, ny = ty->ndim;
        int p1[CVB_MAX_DIMS], p2[CVB_MAX_DIMS];
        if (nx != na || nb != ny || nx < 1 || ny < 1 || tx->dtype != CVB_DT_F32 ||
            !transpose_perm(t1, nx, p1) || !transpose_perm(t2, ny, p2))
            continue;
        int64_t sx[CVB_MAX_DIMS], sa[CVB_MAX_DIMS], sb[CVB_MAX_DIMS];
        sx[nx - 1] = 1;
        for (int k = nx - 2; k >= 0; k--) sx[k] = sx[k + 1] * tx->dims[k + 1];
        if (f[i1].post & CVB__POST_READ_T) { /* stored with its last two axes swapped */
            if (nx < 2) continue;
            sx[nx - 2] = 1;
            sx[nx - 1] = tx->dims[nx - 2];
        }
        for (int k = 0; k < na; k++) sa[k] = sx[p1[k]];
        if (!reshape_view(na, tt->dims, sa, nb, tr->dims, sb)) continue;
        bool ok = true;
        for (int k = 0; k < ny && ok; k++) {
            ok = ty->dims[k] == tr->dims[p2[k]];
            f[i].src_strides[k] = sb[p2[k]];
        }
        if (!ok) continue;
        t2->in[0] = t1->in[0];
        f[i].post = CVB__POST_STRIDED;
        append_op(&f[i], "Reshape");
        if (f[i1].post & CVB__POST_READ_T) append_op(&f[i], "in^T");
        t1->dead = r->dead = true;
        removed += 2;
    }
    return removed;
}

/* All 'name' ints of node n equal to v (absent counts as equal). */
static bool attr_all(const struct cvb_node *n, const char *name, int64_t v) {
    const int64_t *a;
    int cnt = cvb__attr_ints(n, name, &a);
    for (int k = 0; k < cnt; k++)
        if (a[k] != v) return false;
    return true;
}

/* The DFL of Ultralytics' detection heads: Transpose(x, perm 0,2,1,3) ->
 * Softmax(axis 1, opset >= 13) -> Conv(1x1, one output channel, constant
 * weights, stride 1, no padding), each intermediate read by the next node
 * only. The Conv reads x and does all three (CVB__POST_DFL: one pass over
 * x, where the three nodes wrote and read 2.1 MB twice at 640). */
static int fuse_dfl(struct cvb_graph *g, struct cvb__fusion *f, const int *plain, int n_plain) {
    int removed = 0;
    if (g->opset < 13) return 0; /* Softmax-11 normalises over the flattened tail */
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *cv = &g->nodes[i];
        if (cv->dead || cv->op != CVB_OP_CONV || f[i].post != 0 || cv->n_in < 2 ||
            cv->n_out < 1 || cv->out[0] < 0 || cv->in[0] < 0 || cv->in[1] < 0 ||
            listed(plain, n_plain, i))
            continue;
        const struct cvb_tensor *w = &g->tensors[cv->in[1]], *t = &g->tensors[cv->in[0]];
        if (w->data == NULL || w->dtype != CVB_DT_F32 || w->ndim != 4 || w->dims[0] != 1 ||
            w->dims[2] != 1 || w->dims[3] != 1 || t->ndim != 4 || !is_f32_runtime(t) ||
            cvb__attr_int(cv, "group", 1) != 1 || !attr_all(cv, "strides", 1) ||
            !attr_all(cv, "dilations", 1) || !attr_all(cv, "pads", 0) ||
            strcmp(cvb__attr_str(cv, "auto_pad", "NOTSET"), "NOTSET") != 0 ||
            (cv->n_in > 2 && cv->in[2] >= 0 && g->tensors[cv->in[2]].data == NULL) ||
            t->producer < 0 || sole_consumer(g, cv->in[0]) != i)
            continue;
        struct cvb_node *sm = &g->nodes[t->producer];
        int64_t axis = cvb__attr_int(sm, "axis", -1);
        if (sm->dead || sm->op != CVB_OP_SOFTMAX || sm->n_in < 1 || sm->in[0] < 0 ||
            (axis != 1 && axis != -3))
            continue;
        const struct cvb_tensor *u = &g->tensors[sm->in[0]];
        if (!is_f32_runtime(u) || u->producer < 0 || sole_consumer(g, sm->in[0]) != t->producer)
            continue;
        struct cvb_node *tr = &g->nodes[u->producer];
        int perm[4];
        if (tr->dead || tr->op != CVB_OP_TRANSPOSE || tr->n_in < 1 || tr->in[0] < 0 ||
            listed(plain, n_plain, u->producer) || listed(plain, n_plain, t->producer) ||
            !transpose_perm(tr, 4, perm) || perm[0] != 0 || perm[1] != 2 || perm[2] != 1 ||
            perm[3] != 3 || !is_f32_runtime(&g->tensors[tr->in[0]]))
            continue;
        cv->in[0] = tr->in[0];
        tr->dead = sm->dead = true;
        f[i].post |= CVB__POST_DFL;
        snprintf(f[i].ops, sizeof f[i].ops, "Transpose+Softmax+Conv");
        removed += 2;
    }
    return removed;
}

int cvb__passes_fuse(struct cvb_graph *g, struct cvb__fusion *f, const int *no_sum,
                     int n_no_sum, const int *plain, int n_plain, bool dfl) {
    int removed = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        f[i].post = 0;
        f[i].sum_in = -1;
        snprintf(f[i].ops, sizeof f[i].ops, "%s", cvb__op_name(g->nodes[i].op));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *cv = &g->nodes[i];
        if (cv->dead || cv->op != CVB_OP_CONV || cv->n_out < 1 || cv->out[0] < 0) continue;
        if (listed(plain, n_plain, i)) continue; /* the engine's per-node retreat */
        if (!is_f32_runtime(&g->tensors[cv->out[0]])) continue;
        /* SiLU: Conv -> c; Sigmoid(c) -> s; Mul(c, s) or Mul(s, c) -> y */
        int c = cv->out[0], first, last;
        if (!g->tensors[c].is_output && consumers(g, c, &first, &last) == 2) {
            struct cvb_node *a = &g->nodes[first], *b = &g->nodes[last];
            struct cvb_node *sg = a->op == CVB_OP_SIGMOID ? a : b->op == CVB_OP_SIGMOID ? b : NULL;
            struct cvb_node *mu = sg == a ? b : a;
            if (sg != NULL && mu->op == CVB_OP_MUL && sg->n_out >= 1 && mu->n_in == 2 &&
                mu->n_out >= 1 && sg->out[0] >= 0 && mu->out[0] >= 0) {
                int s = sg->out[0];
                bool pair = (mu->in[0] == c && mu->in[1] == s) || (mu->in[0] == s && mu->in[1] == c);
                const struct cvb_tensor *tc = &g->tensors[c], *ty = &g->tensors[mu->out[0]];
                if (pair && sole_consumer(g, s) == (int)(mu - g->nodes) && ty->numel == tc->numel &&
                    ty->dtype == CVB_DT_F32) {
                    take_output(g, i, (int)(mu - g->nodes));
                    sg->dead = mu->dead = true;
                    f[i].post |= CVB__POST_SWISH;
                    append_op(&f[i], "SiLU");
                    removed += 2;
                }
            }
        }
        /* ReLU */
        if (f[i].post == 0) {
            int r = sole_consumer(g, cv->out[0]);
            if (r >= 0 && g->nodes[r].op == CVB_OP_RELU && g->nodes[r].n_out >= 1 &&
                g->nodes[r].out[0] >= 0) {
                take_output(g, i, r);
                g->nodes[r].dead = true;
                f[i].post |= CVB__POST_RELU;
                append_op(&f[i], "Relu");
                removed++;
            }
        }
        /* Residual Add as a sum post-op: oneDNN 2.6's blocked kernels only
         * take sum before or without an eltwise post-op, so only a Conv
         * with no eltwise post-op is a candidate. */
        if (f[i].post == 0) {
            int ad = sole_consumer(g, cv->out[0]);
            if (ad < 0 || g->nodes[ad].op != CVB_OP_ADD || g->nodes[ad].n_in != 2 ||
                g->nodes[ad].n_out < 1 || g->nodes[ad].out[0] < 0)
                continue;
            struct cvb_node *an = &g->nodes[ad];
            int other = an->in[0] == cv->out[0] ? an->in[1] : an->in[0];
            if (other < 0 || other == cv->out[0]) continue;
            const struct cvb_tensor *tb = &g->tensors[other], *tz = &g->tensors[an->out[0]];
            const struct cvb_tensor *tcv = &g->tensors[cv->out[0]];
            if (!is_f32_runtime(tb) || tb->is_input || tb->is_output || tz->is_output ||
                tb->producer < 0 || tb->ndim != tz->ndim || tb->numel != tz->numel ||
                tcv->numel != tz->numel)
                continue;
            /* the addend's producer must not be a Split (its outputs become
             * views of another buffer) and b must die at the Add */
            if (g->nodes[tb->producer].op == CVB_OP_SPLIT) continue;
            consumers(g, other, &first, &last);
            if (last != ad || tb->producer >= i) continue;
            /* the Conv overwrites b: every other reader of b runs before it */
            bool early = true;
            for (int k = i; k < ad && early; k++)
                for (int j = 0; j < g->nodes[k].n_in && !g->nodes[k].dead; j++)
                    if (g->nodes[k].in[j] == other) early = false;
            if (!early) continue;
            if (listed(no_sum, n_no_sum, i)) {
                /* post == 0 here: the ops were just "Conv" */
                snprintf(f[i].ops, sizeof f[i].ops, "%s,Add unfused", cvb__op_name(cv->op));
                continue;
            }
            take_output(g, i, ad);
            an->dead = true;
            f[i].post |= CVB__POST_SUM;
            f[i].sum_in = other;
            append_op(&f[i], "Add");
            removed++;
        }
    }
    if (dfl) removed += fuse_dfl(g, f, plain, n_plain);
    removed += fuse_matmul_transposes(g, f, plain, n_plain);
    store_matmul_transposed(g, f, plain, n_plain);
    removed += compose_transposes(g, f, plain, n_plain);
    return removed;
}
