/* SPDX-License-Identifier: Apache-2.0 */
/* The engine: a finalized graph plus an execution plan.
 *
 * Load = parse (onnx.c) + finalize (finalize.c) + plan (here). With the
 * oneDNN kernel set, planning first runs the fusion passes (passes.c), then:
 *  - layouts: every run-time 4-D float32 tensor whose channel count
 *    is a multiple of 16, and whose producer and consumers all run on
 *    oneDNN kernels that take blocked data (Conv, MaxPool, Resize,
 *    element-wise, channel Concat/Split), is kept in nChw16c; the rest is
 *    plain. Conversions happen inside the Conv that crosses the boundary
 *    (graph edges, head Reshape/Softmax) or in Concat/Split copies.
 *  - batch (opts.batch N > 1): finalize gives the input dim 0 = N and
 *    proves every node keeps the items apart (finalize.c); the plan is the
 *    batch-1 plan except that channel slices are not dense, so there are no
 *    Concat/Split views: blocked Concats and Splits copy with reorders into
 *    and out of block-aligned sub-memories.
 *  - views: the members of a Concat or Split whose slices are dense (batch
 *    1; in nChw16c, 16-aligned channel offsets) become "children" of the
 *    whole tensor: their producers write, and consumers read, the slice in
 *    place; nested (a Split's input is itself a Concat slice) by moving a
 *    whole alias tree into the Concat. Members that cannot alias are copied.
 *  - memory: each alias tree (its root) gets one arena range for the union
 *    of its members' lifetimes, first fit.
 * Each live node then gets a kernel: a oneDNN plan (prepared once, with
 * fused post-ops, layouts, view offsets), the reference kernel, or nothing
 * (a Concat/Split whose members are all in place). If a Conv with a fused
 * residual sum cannot be prepared on oneDNN, only that Conv loses the sum
 * (its Add runs as a node of its own) and the model is re-planned, with one
 * warning per such Conv (at most MAX_SUM_RETREATS; profiles show its ops as
 * "Conv,Add unfused"). Any other node that the plan needs on oneDNN but
 * that oneDNN refuses as planned (a fused or blocked node, a MatMul reading
 * a folded Transpose) is likewise re-planned alone: no fusion, plain layout
 * around it (reorders at its edges), the rest of the plan unchanged, one
 * warning each (at most MAX_NODE_RETREATS). Only past those bounds is the
 * model re-planned without fusion, layouts and views (the plain per-node
 * path), with a warning saying why.
 *
 * Buffer rule: a tensor's lifetime is [index of its producer, index of its
 * last live consumer]; two alias trees may share arena bytes only when
 * their lifetimes are disjoint. Within a tree, members are disjoint slices
 * (or a slice and the slices of it), so a kernel never writes bytes it reads,
 * except the fused residual sum, which adds onto its own output by design.
 * Graph outputs are written straight into the caller's buffers (their
 * children too); graph inputs are read from the caller's buffers.
 *
 * Precision (opts.precision): int8 keeps every such activation in NHWC
 * instead of nChw16c (oneDNN's int8 kernels need channels-last), with no
 * Concat/Split views there (a channel slice is strided: those are copies);
 * each Conv chosen by cvb__quant_select() with a calibration entry runs
 * u8 x s8. Between int8 Convs activations stay uint8 (plan_u8): a tensor
 * whose readers are all int8 Convs, or channel Concats that feed int8 Convs,
 * with one calibrated scale, is written quantised by its Conv (or Concat)
 * and read as is; other Conv inputs are quantised on the way in. Where our
 * uint8 steps run (AVX-512, cvb__dnn_vec_u8), a Concat also requantises a
 * member stored with another reader's scale, and the residual Adds read
 * and write uint8 (vec:add). A channel
 * Split of an int8 Conv's output (its only reader) is absorbed into the
 * Conv, which writes each slice densely (plan_conv_splits). With a uint8
 * frame input (--input-format u8-nhwc), the Convs reading the model input
 * (the stem) run int8 too, whatever their channel count, and read the
 * caller's frame itself as their u8 NHWC source (scale 1/255, zero point 0:
 * exact, no calibration entry; cvb__quant_select_frame): the input tensor
 * then has no arena bytes and no u8->f32 step (e->u8_direct). bf16 takes
 * the layout cvb__dnn_bf16_layout() names: blocked, as fp32, where the
 * CPU has no AMX (each bf16 Conv converts its float32 input on the way in;
 * jit_bf16 there is as fast as the channels-last kernels and the views
 * stay), NHWC on AMX (oneDNN's AMX convolutions take nothing else), where
 * activations between bf16 Convs are stored as bfloat16 (plan_bf16), with
 * no conversion step between them: the Concats, Splits, MaxPools, Resizes
 * and residual Adds between them pass bfloat16 through; with a uint8 frame
 * the stem reads it as bfloat16 [x, x] (e->u8_bf16x2, frame_x2 in
 * dnn.h). NHWC channel Concats (and plain ones) copy rows
 * (cvb__vec_concat_rows).
 *
 * cvb_engine_run() only points kernels at buffers and calls them: it never
 * allocates (the reference kernels' working memory is the planned scratch,
 * cvb__ref_scratch_bytes). oneDNN's primitive execute builds its small
 * argument map on the heap and frees it before returning; that is the only
 * allocation during a run (test-engine-noalloc). */
#include "cvb/engine.h"
#include "engine/ir.h"
#include "engine/kernels/onednn/dnn.h"
#include "engine/passes.h"
#include "engine/quant.h"
#include "cvb/sha256.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARENA_ALIGN 64
#define NO_OFFSET SIZE_MAX
/* Beyond this many tensors, first-fit placement (quadratic) is skipped and
 * every tensor gets its own range. */
#define MAX_SHARED_PLAN 20000
/* Convs that may lose their fused sum one by one before the whole model
 * falls back to the plain path (each costs a re-parse and re-plan). */
#define MAX_SUM_RETREATS 16
#define MAX_NODE_RETREATS 32 /* nodes re-planned unfused and plain, one load at most */

enum node_kind { KIND_REF = 0, KIND_DNN, KIND_NOP };

struct node_plan {
    enum node_kind kind;
    void *state; /* oneDNN state, owned; released with cvb__dnn_release */
    int prof;    /* index into the engine's profile entries, -1 for none */
};

struct cvb_engine {
    struct cvb_graph *g;
    struct cvb_engine_opts opts;
    bool fast;                /* fusion + layouts + views in force */
    int blk;                  /* the blocked layout: CVB__LAYOUT_BLK16 or _BLK8 */
    int cblk;                 /* its channel block: 16 or 8 */
    struct cvb__dnn *dnn;
    struct node_plan *plan;   /* per node */
    struct cvb__fusion *fuse; /* per node */
    int no_sum[MAX_SUM_RETREATS]; /* node indices of Convs planned without their fused sum */
    int n_no_sum;
    int sum_fail;             /* after plan_all: the Conv whose fused sum oneDNN refused, or -1 */
    int plain_nodes[MAX_NODE_RETREATS]; /* nodes planned unfused, in the plain layout */
    int n_plain_nodes;
    int node_fail;            /* after plan_all: another node oneDNN refused as planned, or -1 */
    uint8_t *layout;          /* per tensor, enum cvb__layout */
    int *parent;              /* per tensor: alias parent or -1 */
    size_t *poff;             /* per tensor: byte offset in its parent */
    int *root;                /* per tensor: alias root (itself when none) */
    size_t *abs_off;          /* per tensor: byte offset in its root */
    int *out_root;            /* per tensor: graph output index of its root, or -1 */
    size_t *offset;           /* per root tensor: arena offset or NO_OFFSET */
    void **buf;               /* per tensor data pointer during a run */
    uint8_t *arena;
    size_t arena_bytes;
    int max_io;
    const struct cvb_tensor **tin, **tout;
    const void **in;
    void **out;
    int n_dnn;
    /* uint8 frame input: the model's input tensor becomes an arena tensor,
     * filled from the caller's frame by 'u8_state' (oneDNN) or a C loop;
     * or (u8_direct, int8 plans) it is the caller's frame itself, stored
     * uint8 (e->act) and read only by int8 Convs */
    int u8_tensor;            /* -1 when the input is taken as is */
    bool u8_direct;
    bool u8_bf16x2; /* bf16 NHWC plans: the frame stored as bfloat16 [x, x] (frame_x2 Convs) */
    bool vec_u8;    /* int8 plans: our uint8 steps run (cvb__dnn_vec_u8) */
    void *u8_state;
    int u8_prof;
    char u8_name[64];
    int64_t u8_dims[4];
    bool profiling;
    int n_prof;
    struct cvb_node_profile *prof;
    char *prof_strings;       /* shape and kernel strings of 'prof' */
    cvb_engine_observer observer;
    void *observer_user;
    cvb__engine_tap tap;
    void *tap_user;
    struct cvb__dnn_quant *quant; /* per node */
    struct cvb__dnn_act *act;     /* per tensor: uint8 storage (int8 plans) */
    int *absorb;                  /* per node: a Conv's absorbed Split, that Split's Conv, or -1 */
    struct cvb__calib_table calib;
    int n_lowp;
    char sha256[65];
    struct cvb_model_info info;
    /* data-dependent shapes (finalize.c): the nodes reading or writing dyn
     * tensors run on the reference kernels, inferred again at run time on
     * 'rtg', a copy of the graph whose tensors hold the actual shapes (and,
     * for the run-time integer values shapes depend on, the live buffers) */
    bool *dyn_node;               /* per node */
    int n_dyn;
    struct cvb_graph rtg;         /* rtg.tensors: own array, or NULL without dyn tensors */
    struct cvb_tensor **tout_rt;  /* max_io */
    void *scratch;                /* the largest cvb__ref_scratch_bytes() of a ref node */
};

static size_t align_up(size_t v) { return (v + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

int cvb_engine_default_threads(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* ---- layouts ------------------------------------------------------------------- */

static bool live_node(const struct cvb_graph *g, int i) { return i >= 0 && !g->nodes[i].dead; }

static int norm_axis(const struct cvb_node *n, int nd) {
    int64_t a = cvb__attr_int(n, "axis", n->op == CVB_OP_SPLIT ? 0 : 1);
    if (a < 0) a += nd;
    return (int)a;
}

/* Channel block of the blocked layout; set once per plan (planning is
 * single-threaded per engine, and every engine in a process has the same
 * ISA, so the same value). */
static _Thread_local int cblk_tl = 16;

static bool blk_shape(const struct cvb_tensor *t) {
    return t->dtype == CVB_DT_F32 && t->ndim == 4 && t->dims[0] >= 1 &&
           t->dims[1] % cblk_tl == 0 && t->numel > 0;
}

/* Channels rounded up to the block: a blocked tensor whose C is no multiple
 * of the block is stored with zero channels up to the next one (oneDNN's
 * padded dims; its primitives keep the padding zero). */
static int64_t blk_pad_c(int64_t c) { return (c + cblk_tl - 1) / cblk_tl * cblk_tl; }

/* May tensor t be blocked, padded if need be? Only where the padding costs
 * at most half again the channels (24 -> 32 yes, 8 -> 16 no): beyond that a
 * plain layout's kernels do less work. Concat and Split members keep the
 * strict blk_shape (their slices must start on a block). */
static bool blk_shape_pad(const struct cvb_tensor *t) {
    if (t->dtype != CVB_DT_F32 || t->ndim != 4 || t->dims[0] < 1 || t->numel <= 0) return false;
    return t->dims[1] % cblk_tl == 0 || 2 * blk_pad_c(t->dims[1]) <= 3 * t->dims[1];
}

/* Can node n keep its activation tensors in nChw16c? */
static bool node_blk(const struct cvb_graph *g, const struct cvb_node *n) {
    const struct cvb_tensor *y = n->n_out >= 1 && n->out[0] >= 0 ? &g->tensors[n->out[0]] : NULL;
    if (y == NULL) return false;
    switch (n->op) {
    case CVB_OP_CONV:
    case CVB_OP_RESIZE: return true;
    case CVB_OP_TRANSPOSE:
        /* a reorder: it writes a blocked output as fast as a plain one (the
         * attention output and value of YOLO12/YOLO26 turned back to NCHW
         * for their convs); its input stays plain */
        return y->dtype == CVB_DT_F32 && y->ndim == 4 && cblk_tl > 1; /* not int8's NHWC */
    case CVB_OP_MAXPOOL: return n->n_out < 2 || n->out[1] < 0;
    case CVB_OP_AVERAGEPOOL: return cvb__attr_int(n, "ceil_mode", 0) == 0; /* dnn.c prep_pool */
    case CVB_OP_ADD:
    case CVB_OP_SUB:
    case CVB_OP_MUL:
    case CVB_OP_SIGMOID:
    case CVB_OP_RELU:
        /* Add/Sub/Mul/Relu map zero padding to zero; Sigmoid would not */
        if (n->op == CVB_OP_SIGMOID && !blk_shape(y)) return false;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] < 0 || g->tensors[n->in[j]].numel != y->numel ||
                g->tensors[n->in[j]].ndim != y->ndim || g->tensors[n->in[j]].data != NULL)
                return false;
        return true;
    case CVB_OP_CONCAT:
        /* batch N: the slices are not dense (no views); the members are
         * reordered into block-aligned slices (blk_shape: C % block == 0) */
        if (!blk_shape(y) || norm_axis(n, 4) != 1) return false;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] < 0 || !blk_shape(&g->tensors[n->in[j]])) return false;
        return true;
    case CVB_OP_SPLIT: {
        const struct cvb_tensor *x = &g->tensors[n->in[0]];
        if (!blk_shape(x) || norm_axis(n, 4) != 1) return false;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] < 0 || !blk_shape(&g->tensors[n->out[j]])) return false;
        return true;
    }
    default: return false;
    }
}

/* Does node n need all its activations in one layout? */
static bool node_uniform(enum cvb_op op) {
    return op == CVB_OP_MAXPOOL || op == CVB_OP_AVERAGEPOOL || op == CVB_OP_RESIZE || op == CVB_OP_ADD || op == CVB_OP_SUB ||
           op == CVB_OP_MUL || op == CVB_OP_SIGMOID || op == CVB_OP_RELU || op == CVB_OP_SLICE;
}

static bool is_sum_addend(const struct cvb_engine *e, int t);

/* Is Slice node n a view of its input, in the input's layout? Plain: any
 * dense run of elements (cvb__ref_slice_is_view). Blocked (batch 1): a
 * channel range starting on a block, of whole blocks (one dense run of the
 * blocked bytes too, at the plain offset). Also the conditions for aliasing
 * the two tensors at all, so that choose_views makes every such Slice a
 * view (a blocked Slice has no kernel). */
static bool slice_view_ok(const struct cvb_engine *e, const struct cvb_node *n, bool blocked,
                          int64_t *elem_off) {
    const struct cvb_graph *g = e->g;
    int64_t soff = 0;
    if (!cvb__ref_slice_is_view(g, n, &soff)) return false;
    int x = n->in[0], y = n->out[0];
    const struct cvb_tensor *tx = &g->tensors[x], *ty = &g->tensors[y];
    if (tx->data != NULL || tx->is_input || tx->dyn || x == e->u8_tensor || ty->data != NULL ||
        ty->dyn || ty->is_input || ty->is_output || y == e->u8_tensor ||
        !live_node(g, ty->producer) || tx->dtype != ty->dtype || is_sum_addend(e, x) ||
        is_sum_addend(e, y))
        return false;
    if (blocked) {
        if ((e->blk != CVB__LAYOUT_BLK16 && e->blk != CVB__LAYOUT_BLK8) || !blk_shape(tx) ||
            !blk_shape(ty) || tx->dims[0] != 1 || ty->dims[0] != 1 ||
            soff % (e->cblk * tx->dims[2] * tx->dims[3]) != 0)
            return false;
        for (int d = 2; d < 4; d++)
            if (ty->dims[d] != tx->dims[d]) return false;
    }
    *elem_off = soff;
    return true;
}

static void choose_layouts(struct cvb_engine *e) {
    struct cvb_graph *g = e->g;
    bool *ok = calloc((size_t)g->n_nodes + 1, sizeof *ok);
    if (ok == NULL) return; /* all plain: still correct */
    for (int i = 0; i < g->n_nodes; i++) {
        int64_t soff;
        /* the engine's per-node retreat, and a fused DFL (dnn.c prep_dfl):
         * this node stays plain */
        bool plain = (e->fuse[i].post & CVB__POST_DFL) != 0;
        for (int k = 0; k < e->n_plain_nodes; k++) plain |= e->plain_nodes[k] == i;
        ok[i] = live_node(g, i) && !plain && (g->nodes[i].op == CVB_OP_SLICE
                                        ? !e->dyn_node[i] && slice_view_ok(e, &g->nodes[i], true, &soff)
                                        : node_blk(g, &g->nodes[i]));
    }
    for (int t = 0; t < g->n_tensors; t++) {
        const struct cvb_tensor *tt = &g->tensors[t];
        bool b = blk_shape_pad(tt) && tt->data == NULL && !tt->dyn && !tt->is_input && !tt->is_output &&
                 live_node(g, tt->producer) && ok[tt->producer] && t != e->u8_tensor;
        e->layout[t] = b ? e->blk : CVB__LAYOUT_PLAIN;
    }
    /* every consumer must take the blocked layout, and the sum addend must
     * have the layout of the Conv output that overwrites it */
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            if (t < 0) continue;
            bool role = ok[i] && (n->op != CVB_OP_CONV || j == 0) &&
                        (n->op != CVB_OP_RESIZE || j == 0) && n->op != CVB_OP_TRANSPOSE;
            if (!role) e->layout[t] = CVB__LAYOUT_PLAIN;
        }
    }
    for (bool changed = true; changed;) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            const struct cvb_node *n = &g->nodes[i];
            int ts[2];
            int nts = 0;
            if (n->dead) continue;
            if (e->fuse[i].sum_in >= 0) {
                ts[nts++] = e->fuse[i].sum_in;
                ts[nts++] = n->out[0];
            }
            bool mixed = false;
            int first = -1;
            bool uniform = node_uniform(n->op) ||
                           (e->blk == CVB__LAYOUT_NHWC &&
                            (n->op == CVB_OP_CONCAT || n->op == CVB_OP_SPLIT));
            if (uniform) {
                for (int j = 0; j < n->n_in + n->n_out; j++) {
                    int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
                    if (t < 0 || g->tensors[t].data != NULL) continue;
                    if (first < 0) first = e->layout[t];
                    if (e->layout[t] != first) mixed = true;
                }
                if (mixed)
                    for (int j = 0; j < n->n_in + n->n_out; j++) {
                        int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
                        if (t >= 0) e->layout[t] = CVB__LAYOUT_PLAIN;
                    }
            }
            if (nts == 2 && e->layout[ts[0]] != e->layout[ts[1]]) {
                e->layout[ts[0]] = e->layout[ts[1]] = CVB__LAYOUT_PLAIN;
                mixed = true;
            }
            changed |= mixed;
        }
    }
    free(ok);
}

/* ---- views ---------------------------------------------------------------------- */

static int find_root(const struct cvb_engine *e, int t, size_t *abs) {
    size_t off = 0;
    while (e->parent[t] >= 0) {
        off += e->poff[t];
        t = e->parent[t];
    }
    *abs = off;
    return t;
}

static bool can_be_child(const struct cvb_engine *e, int t) {
    const struct cvb_tensor *tt = &e->g->tensors[t];
    return tt->data == NULL && !tt->dyn && !tt->is_input && !tt->is_output && t != e->u8_tensor &&
           live_node(e->g, tt->producer) && e->parent[t] < 0;
}

/* Concat/Split over 'axis' of 'whole' with members 'mem' (n of them): are
 * the members dense slices? Sets the byte offset of each. */
static bool dense_slices(const struct cvb_engine *e, int whole, int axis, const int *mem, int n,
                         size_t *off) {
    const struct cvb_graph *g = e->g;
    const struct cvb_tensor *w = &g->tensors[whole];
    if (w->dtype != CVB_DT_F32 || axis < 0 || axis >= w->ndim) return false;
    if (e->layout[whole] == CVB__LAYOUT_NHWC) return false;
    for (int i = 0; i < n; i++)
        if (mem[i] >= 0 && e->layout[mem[i]] == CVB__LAYOUT_NHWC) return false;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= w->dims[d];
    for (int d = axis + 1; d < w->ndim; d++) inner *= w->dims[d];
    if (outer != 1) return false;
    int64_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (mem[i] < 0) return false;
        const struct cvb_tensor *m = &g->tensors[mem[i]];
        if (m->dtype != CVB_DT_F32 || m->ndim != w->ndim) return false;
        if (e->layout[whole] != CVB__LAYOUT_PLAIN &&
            (m->dims[1] % e->cblk != 0 || pos % e->cblk != 0))
            return false;
        off[i] = (size_t)(pos * inner) * sizeof(float);
        pos += m->dims[axis];
    }
    return pos == w->dims[axis];
}

/* Members of node n (inputs of a Concat, outputs of a Split). */
static void members(const struct cvb_node *n, const int **mem, int *cnt, int *whole) {
    if (n->op == CVB_OP_CONCAT) {
        *mem = n->in;
        *cnt = n->n_in;
        *whole = n->out[0];
    } else {
        *mem = n->out;
        *cnt = n->n_out;
        *whole = n->in[0];
    }
}

static bool is_reshape(enum cvb_op op) {
    return op == CVB_OP_RESHAPE || op == CVB_OP_FLATTEN || op == CVB_OP_SQUEEZE ||
           op == CVB_OP_UNSQUEEZE || op == CVB_OP_IDENTITY;
}

/* A fused Conv overwrites this tensor in place: no views of it may outlive that. */
static bool is_sum_addend(const struct cvb_engine *e, int t) {
    for (int i = 0; i < e->g->n_nodes; i++)
        if (!e->g->nodes[i].dead && e->fuse[i].sum_in == t) return true;
    return false;
}

/* Per node view info for prepare: view[] and off[] slices in 'vflags'/'voff'. */
static void choose_views(struct cvb_engine *e, bool *vmode, bool *vflag, size_t *voff,
                         int *vbase) {
    struct cvb_graph *g = e->g;
    int nv = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *n = &g->nodes[i];
        vmode[i] = false;
        vbase[i] = nv;
        if (n->dead || e->dyn_node[i]) continue;
        if (e->fuse[i].sum_in >= 0 && can_be_child(e, n->out[0])) {
            /* the conv writes on top of its addend */
            e->parent[n->out[0]] = e->fuse[i].sum_in;
            e->poff[n->out[0]] = 0;
        }
        if (is_reshape(n->op) && n->n_in >= 1 && n->n_out >= 1 && n->in[0] >= 0 &&
            n->out[0] >= 0) {
            /* same bytes, new shape: the output is the input */
            int x = n->in[0], y = n->out[0];
            const struct cvb_tensor *tx = &g->tensors[x], *ty = &g->tensors[y];
            if (e->layout[x] == CVB__LAYOUT_PLAIN && e->layout[y] == CVB__LAYOUT_PLAIN &&
                tx->data == NULL && !tx->is_input && x != e->u8_tensor && can_be_child(e, y) &&
                tx->dtype == ty->dtype && tx->numel == ty->numel && !is_sum_addend(e, x)) {
                e->parent[y] = x;
                e->poff[y] = 0;
            }
            continue;
        }
        int64_t soff = 0;
        if (n->op == CVB_OP_SLICE && n->n_in >= 1 && n->n_out >= 1 && n->in[0] >= 0 &&
            n->out[0] >= 0) {
            /* a dense run of the input's bytes: the output is that run */
            int x = n->in[0], y = n->out[0];
            bool blocked = e->layout[x] != CVB__LAYOUT_PLAIN;
            if (e->layout[x] == e->layout[y] && slice_view_ok(e, n, blocked, &soff) &&
                can_be_child(e, y)) {
                e->parent[y] = x;
                e->poff[y] = (size_t)soff * cvb__dtype_size(g->tensors[x].dtype);
            }
            continue;
        }
        if ((n->op != CVB_OP_CONCAT && n->op != CVB_OP_SPLIT) || n->n_out < 1 || n->n_in < 1 ||
            n->out[0] < 0 || n->in[0] < 0)
            continue;
        const int *mem;
        int cnt, whole;
        members(n, &mem, &cnt, &whole);
        if (n->op == CVB_OP_SPLIT && n->n_in > 1 && n->in[1] >= 0 && g->tensors[n->in[1]].data == NULL)
            continue; /* run-time split sizes: never here after folding, but be safe */
        int axis = norm_axis(n, g->tensors[whole].ndim);
        if (!dense_slices(e, whole, axis, mem, cnt, voff + nv)) continue;
        vmode[i] = true;
        size_t *off = voff + nv;
        bool *view = vflag + nv;
        nv += cnt;
        size_t wbytes = cvb__tensor_bytes(&g->tensors[whole]);
        if (n->op == CVB_OP_SPLIT) {
            for (int k = 0; k < cnt; k++) {
                int t = mem[k];
                view[k] = can_be_child(e, t) && e->layout[t] == e->layout[whole] &&
                          !g->tensors[whole].is_input && whole != e->u8_tensor &&
                          g->tensors[whole].data == NULL;
                if (view[k]) {
                    e->parent[t] = whole;
                    e->poff[t] = off[k];
                }
            }
            continue;
        }
        /* Concat: move each member's alias tree into the output where the
         * tree's bytes land exactly on members of that tree */
        size_t aP;
        int rP = find_root(e, whole, &aP);
        for (int k = 0; k < cnt; k++) {
            size_t a;
            int r = find_root(e, mem[k], &a);
            if (r == rP || e->layout[mem[k]] != e->layout[whole] ||
                e->layout[r] != e->layout[whole] || !can_be_child(e, r) || off[k] < a)
                continue;
            size_t delta = off[k] - a, rbytes = cvb__tensor_bytes(&g->tensors[r]);
            if (delta + rbytes > wbytes) continue;
            bool fits = true;
            for (int j = 0; j < cnt && fits; j++) {
                size_t lj = cvb__tensor_bytes(&g->tensors[mem[j]]);
                if (off[j] + lj <= delta || off[j] >= delta + rbytes) continue;
                size_t aj;
                int rj = find_root(e, mem[j], &aj);
                if (rj != r || aj + delta != off[j] || e->layout[mem[j]] != e->layout[whole])
                    fits = false;
            }
            if (!fits) continue;
            e->parent[r] = whole;
            e->poff[r] = delta;
        }
        for (int k = 0; k < cnt; k++) {
            size_t a;
            int r = find_root(e, mem[k], &a);
            view[k] = r == rP && a == aP + off[k];
        }
    }
}

/* ---- memory -------------------------------------------------------------------- */

struct interval {
    int t;
    int first, last;
    size_t bytes;
};

static int cmp_by_size_desc(const void *a, const void *b) {
    const struct interval *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->t - y->t;
}

/* Bytes of tensor t as stored: uint8 activations of int8 plans take one
 * byte per element, bfloat16 ones of bf16 plans two. */
static size_t act_bytes(const struct cvb_engine *e, int t) {
    const struct cvb_tensor *tt = &e->g->tensors[t];
    if (e->act != NULL && e->act[t].u8) return (size_t)tt->numel;
    if (t == e->u8_tensor && e->u8_bf16x2) return (size_t)tt->numel * 4; /* 2C bfloat16 */
    if (e->act != NULL && e->act[t].bf16) return (size_t)tt->numel * 2;
    int64_t n = cvb__act_elems(tt, e->layout[t]);
    if (n != tt->numel) return (size_t)n * sizeof(float); /* padded blocked float32 */
    return cvb__tensor_bytes(tt);
}

/* Place every alias root in the arena by first fit over the union of its
 * members' lifetimes. */
static int plan_memory(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    int rc = 0;
    int *first = malloc((size_t)g->n_tensors * sizeof *first + 1);
    int *last = malloc((size_t)g->n_tensors * sizeof *last + 1);
    struct interval *iv = malloc((size_t)g->n_tensors * sizeof *iv + 1);
    struct interval *placed = malloc((size_t)g->n_tensors * sizeof *placed + 1);
    size_t *poff = malloc((size_t)g->n_tensors * sizeof *poff + 1);
    if (first == NULL || last == NULL || iv == NULL || placed == NULL || poff == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory planning buffers", g->path);
        goto out;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        first[t] = -1;
        last[t] = -1;
        e->offset[t] = NO_OFFSET;
        e->root[t] = find_root(e, t, &e->abs_off[t]);
        e->out_root[t] = -1;
    }
    for (int i = 0; i < g->n_outputs; i++)
        for (int t = 0; t < g->n_tensors; t++)
            if (e->root[t] == g->outputs[i] && t != g->outputs[i]) e->out_root[t] = i;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        if (n->op == CVB_OP_CONV && e->absorb[i] >= 0) {
            /* the Conv writes its Split's outputs: they live from here */
            const struct cvb_node *sp = &g->nodes[e->absorb[i]];
            for (int j = 0; j < sp->n_out; j++) {
                int r = sp->out[j] >= 0 ? e->root[sp->out[j]] : -1;
                if (r >= 0 && first[r] < 0) first[r] = last[r] = i;
            }
        }
        for (int j = 0; j < n->n_out; j++) {
            int r = n->out[j] >= 0 ? e->root[n->out[j]] : -1;
            if (r >= 0 && first[r] < 0) first[r] = i;
            if (r >= 0) last[r] = i;
        }
        for (int j = 0; j < n->n_in; j++) {
            int r = n->in[j] >= 0 ? e->root[n->in[j]] : -1;
            if (r < 0) continue;
            if (first[r] < 0) first[r] = i;
            last[r] = i;
        }
    }
    if (e->u8_tensor >= 0 && !e->u8_direct) first[e->u8_tensor] = 0;
    int n_iv = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const struct cvb_tensor *tt = &g->tensors[t];
        if (first[t] < 0 || e->root[t] != t || tt->data != NULL || tt->is_output) continue;
        if (tt->is_input && (t != e->u8_tensor || e->u8_direct)) continue; /* caller's buffer */
        if (tt->producer >= 0 && g->nodes[tt->producer].op == CVB_OP_CONV &&
            e->absorb[tt->producer] >= 0)
            continue; /* never materialised: the Conv writes its Split's outputs */
        iv[n_iv++] = (struct interval){t, first[t], last[t], align_up(act_bytes(e, t))};
    }
    qsort(iv, (size_t)n_iv, sizeof *iv, cmp_by_size_desc);
    size_t total = 0;
    for (int k = 0; k < n_iv; k++) {
        size_t off = 0;
        if (n_iv <= MAX_SHARED_PLAN) {
            /* lowest offset that clears every placed, lifetime-overlapping range */
            bool moved = true;
            while (moved) {
                moved = false;
                for (int p = 0; p < k; p++) {
                    if (placed[p].last < iv[k].first || placed[p].first > iv[k].last) continue;
                    if (off < poff[p] + placed[p].bytes && poff[p] < off + iv[k].bytes) {
                        off = poff[p] + placed[p].bytes;
                        moved = true;
                    }
                }
            }
        } else {
            off = total;
        }
        placed[k] = iv[k];
        poff[k] = off;
        e->offset[iv[k].t] = off;
        if (off + iv[k].bytes > total) total = off + iv[k].bytes;
    }
    e->arena_bytes = total;
    if (e->opts.max_activation_bytes > 0 && total > (uint64_t)e->opts.max_activation_bytes) {
        rc = cvb_err_set(err, CVB_ERANGE,
                         "%s: the planned activations take %zu bytes, more than the %lld-byte "
                         "limit (the input shape makes them this large)",
                         g->path, total, (long long)e->opts.max_activation_bytes);
        goto out;
    }
    e->arena = aligned_alloc(ARENA_ALIGN, total ? align_up(total) : ARENA_ALIGN);
    if (e->arena == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes of activations", g->path,
                         total);
        goto out;
    }
    memset(e->arena, 0, total);
    for (int t = 0; t < g->n_tensors; t++) {
        int r = e->root[t];
        if (g->tensors[t].data != NULL)
            e->buf[t] = g->tensors[t].data;
        else if (e->offset[r] != NO_OFFSET)
            e->buf[t] = e->arena + e->offset[r] + e->abs_off[t];
    }
out:
    free(first);
    free(last);
    free(iv);
    free(placed);
    free(poff);
    return rc;
}

/* ---- info and profile ------------------------------------------------------------ */

static double node_flops(const struct cvb_graph *g, const struct cvb_node *n, unsigned post) {
    if (n->op == CVB_OP_CONV && n->n_in >= 2 && n->n_out >= 1 && n->out[0] >= 0) {
        const struct cvb_tensor *w = &g->tensors[n->in[1]];
        const struct cvb_tensor *y = &g->tensors[n->out[0]];
        /* MACs: every output element reads (Cin/group) x kernel-area weights */
        int64_t per_out = 1;
        for (int d = 1; d < w->ndim; d++) per_out *= w->dims[d];
        return 2.0 * (double)y->numel * (double)per_out;
    }
    if (n->op == CVB_OP_MATMUL && n->n_in >= 2 && n->n_out >= 1 && n->out[0] >= 0) {
        const struct cvb_tensor *a = &g->tensors[n->in[0]];
        const struct cvb_tensor *y = &g->tensors[n->out[0]];
        /* K: A's last axis, or its second-to-last where the passes folded
         * a Transpose into the MatMul (CVB__POST_TRANS_A) */
        int64_t kdim = a->ndim >= 2 && (post & CVB__POST_TRANS_A) ? a->dims[a->ndim - 2]
                       : a->ndim >= 1                          ? a->dims[a->ndim - 1]
                                                               : 1;
        return 2.0 * (double)y->numel * (double)kdim;
    }
    return 0.0;
}

/* Model statistics count the graph as loaded (fused nodes included). */
static void compute_info(struct cvb_engine *e, const struct cvb_model_info *before) {
    const struct cvb_graph *g = e->g;
    struct cvb_model_info *info = &e->info;
    if (before != NULL) {
        *info = *before;
        /* 'before' may come from a graph freed since (the plain re-plan
         * re-parses the model): its strings must point into this one */
        info->producer = g->producer;
    } else {
        memset(info, 0, sizeof *info);
        for (int i = 0; i < g->n_nodes; i++) {
            const struct cvb_node *n = &g->nodes[i];
            info->n_nodes++;
            if (!n->dead) info->n_live_nodes++;
            const char *name = cvb__op_name(n->op);
            int k;
            for (k = 0; k < info->n_ops; k++)
                if (strcmp(info->op_names[k], name) == 0) break;
            if (k == info->n_ops && k < (int)CVB_ARRAY_LEN(info->op_names)) {
                info->op_names[k] = name;
                info->n_ops++;
            }
            if (k < info->n_ops) info->op_counts[k]++;
            if (n->dead) continue;
            info->flops += node_flops(g, n, e->fuse != NULL ? e->fuse[i].post : 0);
            if (n->op == CVB_OP_CONV && n->n_in >= 2) {
                const struct cvb_tensor *w = &g->tensors[n->in[1]];
                if (w->data != NULL) info->n_params += w->numel;
                if (n->n_in >= 3 && n->in[2] >= 0 && g->tensors[n->in[2]].data != NULL)
                    info->n_params += g->tensors[n->in[2]].numel;
            } else if (n->op == CVB_OP_MATMUL && n->n_in >= 2) {
                const struct cvb_tensor *a = &g->tensors[n->in[0]];
                const struct cvb_tensor *b = &g->tensors[n->in[1]];
                if (b->data != NULL) info->n_params += b->numel;
                if (a->data != NULL) info->n_params += a->numel;
            }
        }
        info->opset = g->opset;
        info->synthetic = g->synthetic;
        info->producer = g->producer;
    }
    info->activation_bytes = (int64_t)e->arena_bytes;
    info->n_dyn_nodes = e->n_dyn;
}

#define PROF_STR 96

static int build_profile(struct cvb_engine *e, struct cvb_err *err) {
    const struct cvb_graph *g = e->g;
    bool u8_step = e->u8_tensor >= 0 && !e->u8_direct;
    int n = u8_step ? 1 : 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].dead && e->plan[i].kind != KIND_NOP) n++;
    e->prof = calloc((size_t)n + 1, sizeof *e->prof);
    e->prof_strings = calloc((size_t)n + 1, 2 * PROF_STR);
    if (e->prof == NULL || e->prof_strings == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    int k = 0;
    if (u8_step) {
        char *shape = e->prof_strings, *kern = shape + PROF_STR;
        snprintf(shape, PROF_STR, "[1,%lld,%lld,%lld]", (long long)e->u8_dims[1],
                 (long long)e->u8_dims[2], (long long)e->u8_dims[3]);
        snprintf(kern, PROF_STR, "%s",
                 e->u8_state != NULL ? cvb__dnn_impl_name(e->u8_state) : "ref:u8_to_f32");
        e->prof[k] = (struct cvb_node_profile){"input", e->u8_bf16x2 ? "u8->bf16x2" : "u8->f32",
                                               shape, kern, 0.0, 0, 0};
        e->u8_prof = k++;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *nd = &g->nodes[i];
        e->plan[i].prof = -1;
        if (nd->dead || e->plan[i].kind == KIND_NOP) continue;
        char *shape = e->prof_strings + (size_t)k * 2 * PROF_STR, *kern = shape + PROF_STR;
        if (nd->n_out >= 1 && nd->out[0] >= 0)
            cvb__shape_str(&g->tensors[nd->out[0]], shape, PROF_STR);
        if (e->plan[i].kind == KIND_DNN)
            snprintf(kern, PROF_STR, "%s", cvb__dnn_impl_name(e->plan[i].state));
        else
            snprintf(kern, PROF_STR, "ref:%s", cvb__op_name(nd->op));
        e->prof[k] = (struct cvb_node_profile){nd->name, e->fuse[i].ops, shape, kern,
                                               node_flops(g, nd, e->fuse[i].post), 0, 0};
        e->plan[i].prof = k++;
    }
    e->n_prof = k;
    return 0;
}

/* ---- planning ------------------------------------------------------------------- */

static void release_plan(struct cvb_engine *e) {
    if (e->plan != NULL && e->g != NULL)
        for (int i = 0; i < e->g->n_nodes; i++)
            if (e->plan[i].kind == KIND_DNN) cvb__dnn_release(e->plan[i].state);
    cvb__dnn_release(e->u8_state);
    e->u8_state = NULL;
    free(e->plan);
    free(e->fuse);
    free(e->layout);
    free(e->parent);
    free(e->poff);
    free(e->root);
    free(e->abs_off);
    free(e->out_root);
    free(e->offset);
    free(e->buf);
    free(e->arena);
    free(e->tin);
    free(e->tout);
    free(e->in);
    free(e->out);
    free(e->prof);
    free(e->prof_strings);
    free(e->quant);
    e->quant = NULL;
    free(e->act);
    e->act = NULL;
    free(e->absorb);
    e->absorb = NULL;
    free(e->dyn_node);
    e->dyn_node = NULL;
    e->n_dyn = 0;
    free(e->rtg.tensors);
    e->rtg.tensors = NULL;
    free(e->tout_rt);
    e->tout_rt = NULL;
    free(e->scratch);
    e->scratch = NULL;
    e->n_lowp = 0;
    e->plan = NULL;
    e->fuse = NULL;
    e->layout = NULL;
    e->parent = NULL;
    e->poff = NULL;
    e->root = NULL;
    e->abs_off = NULL;
    e->out_root = NULL;
    e->offset = NULL;
    e->buf = NULL;
    e->arena = NULL;
    e->tin = e->tout = NULL;
    e->in = NULL;
    e->out = NULL;
    e->prof = NULL;
    e->prof_strings = NULL;
    e->n_dnn = 0;
    e->n_prof = 0;
}

/* Decide the u8 input tensor (before layouts: it must stay plain). */
static int setup_u8(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    e->u8_tensor = -1;
    e->u8_direct = false;
    e->u8_bf16x2 = false;
    if (e->opts.input_format != CVB_INPUT_U8_NHWC) return 0;
    if (g->n_inputs != 1)
        return cvb_err_set(err, CVB_EINVAL, "%s: --input-format u8-nhwc needs a model with one "
                           "input, this one has %d", g->path, g->n_inputs);
    const struct cvb_tensor *t = &g->tensors[g->inputs[0]];
    if (t->dtype != CVB_DT_F32 || t->ndim != 4 || t->dims[1] > 4)
        return cvb_err_set(err, CVB_EINVAL, "%s: --input-format u8-nhwc needs a float32 "
                           "[N,C<=4,H,W] input; input '%s' is not", g->path, t->name);
    e->u8_tensor = g->inputs[0];
    for (int d = 0; d < 4; d++) e->u8_dims[d] = t->dims[d];
    snprintf(e->u8_name, sizeof e->u8_name, "%s", t->name);
    return 0;
}

/* Per-Conv precision (e->quant). int8: the Convs cvb__quant_select()
 * picks, each with its calibration entry (matched by node name). bf16: the
 * Convs it picks, less those that run faster in float32 in the blocked
 * plan; in the NHWC plan also the grouped (depthwise) Convs. */
static int plan_precision(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    int rc = 0;
    bool *sel = NULL;
    e->quant = calloc((size_t)g->n_nodes + 1, sizeof *e->quant);
    if (e->quant == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    if (e->opts.precision == CVB_PRECISION_FP32 || e->opts.kernels != CVB_KERNELS_ONEDNN)
        return 0;
    sel = calloc((size_t)g->n_nodes + 1, sizeof *sel);
    if (sel == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        goto out;
    }
    cvb__quant_select(g, e->fuse, sel);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (!sel[i]) continue;
        if (e->opts.precision == CVB_PRECISION_BF16) {
            /* without AMX (blocked layout) float32 Winograd beats jit_bf16:
             * 64->64 3x3 at 80x80, 0.94 vs 1.45 ms (Zen 4, 2 threads) */
            if (cvb__dnn_bf16_layout() != CVB__LAYOUT_NHWC && cvb__dnn_winograd_conv(g, n))
                continue;
            /* nor do bf16 convs into a plain output there: oneDNN 2.6 runs
             * them on x64:gemm (model.2's 16->8 conv 1.46 vs 0.78 ms float32,
             * the head's box convs 0.37-0.52 vs 0.29 ms) */
            if (e->fast && e->blk != CVB__LAYOUT_NHWC && n->n_out > 0 && n->out[0] >= 0 &&
                e->layout[n->out[0]] == CVB__LAYOUT_PLAIN)
                continue;
            e->quant[i].prec = CVB__PREC_BF16;
            e->n_lowp++;
            continue;
        }
        const struct cvb__calib_entry *ce = cvb__calib_find(&e->calib, n->name);
        if (ce == NULL) {
            /* a conv left out of the file (edited for mixed precision) stays fp32 */
            cvb_log_info("%s: conv '%s' has no calibration entry: it stays float32", g->path,
                         n->name);
            continue;
        }
        e->quant[i] = (struct cvb__dnn_quant){.prec = CVB__PREC_INT8, .src_scale = ce->scale,
                                              .src_zp = ce->zp};
        e->n_lowp++;
    }
    /* bf16 in NHWC (AMX): the grouped (depthwise) Convs too, so that
     * bfloat16 passes through them (YOLO11's head, C2PSA's position conv):
     * oneDNN's brdgmm_dw runs them in bf16 a little faster than in float32
     * (64 ch at 80x80 0.16-0.17 vs 0.17-0.19 ms, 80 ch 0.21 vs 0.21-0.22;
     * Zen 4, 2 threads); blocked, jit_dw in bf16 was slower (80 ch at 80x80
     * 0.38 vs 0.33 ms): float32 there */
    if (e->opts.precision == CVB_PRECISION_BF16 && e->fast && e->blk == CVB__LAYOUT_NHWC &&
        cvb__quant_select_grouped(g, e->fuse, sel) > 0) {
        for (int i = 0; i < g->n_nodes; i++) {
            if (!sel[i]) continue;
            e->quant[i].prec = CVB__PREC_BF16;
            e->n_lowp++;
        }
    }
    /* int8 with a uint8 frame: the Convs reading the frame take it as is */
    if (e->opts.precision == CVB_PRECISION_INT8 && e->fast && e->u8_tensor >= 0 &&
        cvb__quant_select_frame(g, e->fuse, e->u8_tensor, sel) > 0) {
        for (int i = 0; i < g->n_nodes; i++) {
            if (!sel[i]) continue;
            e->quant[i] = (struct cvb__dnn_quant){.prec = CVB__PREC_INT8,
                                                  .src_scale = CVB__QUANT_FRAME_SCALE,
                                                  .w_fit = true};
            e->n_lowp++;
        }
        e->act[e->u8_tensor] = (struct cvb__dnn_act){true, CVB__QUANT_FRAME_SCALE, 0, false};
        e->u8_direct = true;
    }
    /* bf16 in NHWC (AMX) with a uint8 frame: the Convs reading the frame
     * run bf16 too, from the frame stored as bfloat16 [x, x] with weights
     * [hi, lo] of w / 255 (struct cvb__dnn_quant: frame_x2), so that the
     * stem writes bfloat16 for the next Conv; the blocked plan's stem
     * stays float32 (jit_bf16 ran it slower there: 1.2-1.3 vs 0.7-0.9 ms,
     * Zen 4) */
    if (e->opts.precision == CVB_PRECISION_BF16 && e->fast && e->blk == CVB__LAYOUT_NHWC &&
        e->u8_tensor >= 0 && cvb__quant_select_frame(g, e->fuse, e->u8_tensor, sel) > 0) {
        for (int i = 0; i < g->n_nodes; i++) {
            if (!sel[i]) continue;
            e->quant[i] = (struct cvb__dnn_quant){.prec = CVB__PREC_BF16, .frame_x2 = true};
            e->n_lowp++;
        }
        e->u8_bf16x2 = true;
    }
out:
    free(sel);
    return rc;
}

/* Can tensor t be stored as uint8 (int8 plans) or bfloat16 (bf16 plans)?
 * An NHWC run-time activation that is no graph input or output, no view of
 * another tensor and no fused sum's addend (the sum reads it as float32). */
static bool lowp_candidate(const struct cvb_engine *e, int t) {
    const struct cvb_tensor *tt = &e->g->tensors[t];
    return tt->dtype == CVB_DT_F32 && tt->ndim == 4 && tt->dims[0] >= 1 && tt->numel > 0 &&
           tt->data == NULL && !tt->is_input && !tt->is_output && t != e->u8_tensor &&
           e->layout[t] == CVB__LAYOUT_NHWC && e->parent[t] < 0 && !is_sum_addend(e, t);
}

/* A channel Concat whose members are all NHWC activations: it can write a
 * uint8 output (quantising float32 members into their slices). */
static bool concat_u8_ok(const struct cvb_engine *e, const struct cvb_node *n) {
    if (n->n_out < 1 || n->out[0] < 0 || n->n_in < 1 || norm_axis(n, 4) != 1) return false;
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (t < 0) return false;
        const struct cvb_tensor *tt = &e->g->tensors[t];
        if (tt->dtype != CVB_DT_F32 || tt->ndim != 4 || tt->data != NULL ||
            e->layout[t] != CVB__LAYOUT_NHWC)
            return false;
    }
    return true;
}

/* An Add of two tensors of its output's shape (no broadcast): C2f's and
 * C3k's residual Add, computed by oneDNN's binary primitive in bfloat16
 * when its operands are. */
static bool add_same_shape(const struct cvb_graph *g, const struct cvb_node *n) {
    if (n->op != CVB_OP_ADD || n->n_in != 2 || n->n_out < 1 || n->out[0] < 0 || n->in[0] < 0 ||
        n->in[1] < 0)
        return false;
    const struct cvb_tensor *y = &g->tensors[n->out[0]];
    for (int j = 0; j < 2; j++) {
        const struct cvb_tensor *x = &g->tensors[n->in[j]];
        if (x->ndim != y->ndim || memcmp(x->dims, y->dims, sizeof x->dims[0] * (size_t)y->ndim))
            return false;
    }
    return true;
}

/* int8 with our uint8 steps (cvb__dnn_vec_u8): a same-shape Add of NHWC
 * activations, which reads and writes each of its tensors as stored,
 * uint8 with its own scale or float32. */
static bool add_u8_ok(const struct cvb_engine *e, const struct cvb_node *n) {
    if (!e->vec_u8 || !add_same_shape(e->g, n)) return false;
    int ts[3] = {n->in[0], n->in[1], n->out[0]};
    for (int j = 0; j < 3; j++)
        if (e->layout[ts[j]] != CVB__LAYOUT_NHWC || e->g->tensors[ts[j]].data != NULL)
            return false;
    return true;
}

/* The uint8 storage the readers of tensor t (written by node i) can all
 * take, if there is one: sets *want and returns true. An int8 Conv (input 0)
 * reads the scale and zero point it was calibrated with, and so does a
 * uint8 Concat (its own), unless our uint8 steps run (e->vec_u8): then the
 * Concat requantises a member stored with another scale and a same-shape
 * Add (add_u8_ok) reads any. The Convs' storage first (they must agree),
 * else the first uint8 Concat's (copied there as is); readers that take
 * any storage alone name none. */
static bool u8_readers_agree(const struct cvb_engine *e, int i, int t, struct cvb__dnn_act *want) {
    const struct cvb_graph *g = e->g;
    struct cvb__dnn_act fixed = {0}, cat = {0};
    bool have_fixed = false, have_cat = false;
    for (int k = i + 1; k < g->n_nodes; k++) {
        const struct cvb_node *c = &g->nodes[k];
        if (c->dead) continue;
        for (int j = 0; j < c->n_in; j++) {
            if (c->in[j] != t) continue;
            struct cvb__dnn_act a;
            if (c->op == CVB_OP_CONV && j == 0 && e->quant[k].prec == CVB__PREC_INT8 &&
                !(e->fuse[k].post & CVB__POST_SUM)) { /* a fused sum reads float32 */
                a = (struct cvb__dnn_act){true, e->quant[k].src_scale, e->quant[k].src_zp, false};
            } else if (c->op == CVB_OP_CONCAT && c->n_out >= 1 && c->out[0] >= 0 &&
                       e->act[c->out[0]].u8) {
                a = e->act[c->out[0]];
                if (e->vec_u8) {
                    if (!have_cat) cat = a;
                    have_cat = true;
                    continue;
                }
            } else if (c->op == CVB_OP_ADD && add_u8_ok(e, c)) {
                continue;
            } else {
                return false;
            }
            if (have_fixed && (a.scale != fixed.scale || a.zp != fixed.zp)) return false;
            fixed = a;
            have_fixed = true;
        }
    }
    if (!have_fixed && !have_cat) return false;
    *want = have_fixed ? fixed : cat;
    return true;
}

/* int8: which activations are stored as uint8 (e->act), so that no
 * separate quantise pass runs between an int8 Conv and the next. A tensor
 * is uint8 when it is written by an int8 Conv (without a fused sum), by a
 * channel Concat of NHWC activations or (e->vec_u8) by a same-shape Add,
 * and its readers take one uint8 storage (u8_readers_agree): an int8 Conv
 * (input 0) its calibrated input scale, the member of a uint8 Concat the
 * Concat's (or any, requantised, with e->vec_u8), an Add any. Each tensor
 * keeps the scale its Conv readers were calibrated with, so the numbers
 * are those of the float32-in-between plan, except where a uint8 member
 * is requantised to its Concat's scale (rounded twice) or an Add reads an
 * operand quantised for its other readers: what ONNX Runtime's QLinearConcat
 * and QLinearAdd do with a QDQ model. Decided from the last node back: a
 * Concat's or Add's output is settled before its inputs. */
static void plan_u8(struct cvb_engine *e) {
    const struct cvb_graph *g = e->g;
    if (e->opts.precision != CVB_PRECISION_INT8 || !e->fast || e->act == NULL) return;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int o = 0; o < n->n_out; o++) {
            int t = n->out[o];
            struct cvb__dnn_act want;
            /* a Split absorbed by its int8 Conv: the Conv writes its outputs */
            bool writer = (n->op == CVB_OP_CONV && o == 0 && e->quant[i].prec == CVB__PREC_INT8 &&
                           !(e->fuse[i].post & CVB__POST_SUM) && e->absorb[i] < 0) ||
                          (n->op == CVB_OP_CONCAT && o == 0 && concat_u8_ok(e, n)) ||
                          (n->op == CVB_OP_SPLIT && e->absorb[i] >= 0) ||
                          (n->op == CVB_OP_ADD && o == 0 && add_u8_ok(e, n));
            if (t >= 0 && writer && lowp_candidate(e, t) && u8_readers_agree(e, i, t, &want))
                e->act[t] = want;
        }
    }
}

/* bf16: the nodes that pass bfloat16 activations through (a channel
 * Concat or Split, MaxPool, Resize, a same-shape Add): all their activation
 * tensors are bfloat16 or none is. 'j' >= 0 asks whether input j is one of
 * them (Resize's roi/scales/sizes and Split's sizes are not), -1 whether n
 * is such a node at all. */
static bool bf16_passes(const struct cvb_graph *g, const struct cvb_node *n, int j) {
    switch (n->op) {
    case CVB_OP_ADD: return add_same_shape(g, n);
    case CVB_OP_CONCAT: return norm_axis(n, 4) == 1;
    case CVB_OP_SPLIT: return norm_axis(n, 4) == 1 && j <= 0;
    case CVB_OP_MAXPOOL: return (n->n_out < 2 || n->out[1] < 0) && j <= 0;
    case CVB_OP_RESIZE: return j <= 0;
    default: return false;
    }
}

/* bf16 plans in NHWC (cvb__dnn_bf16_layout: AMX): which activations are
 * stored as bfloat16 (e->act[t].bf16), so that bf16 Convs read their input
 * as is and write bfloat16, with no float32 conversion between them. A
 * tensor is bfloat16 when it is a candidate (lowp_candidate), it is written
 * by a bf16 Conv without a fused sum (the sum's output aliases its float32
 * addend) or by a node of bf16_passes, and every reader is a bf16 Conv
 * (input 0) or a node of bf16_passes; such a node has all its activations
 * bfloat16 or none. Start from every candidate and remove what breaks a
 * rule until nothing changes (each round removes one or stops; at most one
 * round per tensor). Anything else (the head's Reshape/Softmax/Sigmoid, a
 * float32 Conv, a graph output) reads and writes float32. */
static void plan_bf16(struct cvb_engine *e) {
    const struct cvb_graph *g = e->g;
    if (e->opts.precision != CVB_PRECISION_BF16 || !e->fast || e->act == NULL ||
        e->blk != CVB__LAYOUT_NHWC)
        return;
    for (int t = 0; t < g->n_tensors; t++)
        e->act[t].bf16 = lowp_candidate(e, t) && live_node(g, g->tensors[t].producer);
    /* read by its frame_x2 Convs only (cvb__quant_select_frame) */
    if (e->u8_bf16x2) e->act[e->u8_tensor].bf16 = true;
    bool changed = true;
    while (changed) {
        changed = false;
        for (int i = 0; i < g->n_nodes; i++) {
            const struct cvb_node *n = &g->nodes[i];
            if (n->dead) continue;
            if (bf16_passes(g, n, -1)) {
                bool all = true;
                for (int j = 0; j < n->n_in; j++)
                    if (bf16_passes(g, n, j)) all &= n->in[j] >= 0 && e->act[n->in[j]].bf16;
                for (int o = 0; o < n->n_out; o++) all &= n->out[o] >= 0 && e->act[n->out[o]].bf16;
                if (all) continue;
                for (int j = 0; j < n->n_in + n->n_out; j++) {
                    int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
                    if (t >= 0 && e->act[t].bf16 && (j >= n->n_in || bf16_passes(g, n, j))) {
                        e->act[t].bf16 = false;
                        changed = true;
                    }
                }
                continue;
            }
            /* a Conv that absorbed a Split writes the Split's outputs, each
             * in its own storage; the Split (bf16_passes) keeps them and the
             * Conv's own output, never written, of one type */
            bool conv = n->op == CVB_OP_CONV && e->quant[i].prec == CVB__PREC_BF16;
            for (int j = 0; j < n->n_in + n->n_out; j++) {
                int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
                bool ok = conv && (j == 0 || (j == n->n_in && !(e->fuse[i].post & CVB__POST_SUM)));
                if (t >= 0 && e->act[t].bf16 && !ok) {
                    e->act[t].bf16 = false;
                    changed = true;
                }
            }
        }
    }
}

/* int8, and bf16 in NHWC (AMX): a channel Split (NHWC, so its outputs
 * would be strided copies) of such a Conv's output, when the Split is that
 * output's only reader, is
 * absorbed into the Conv: the Conv runs once per Split output over its
 * slice of output channels and writes each output densely (e->absorb).
 * The Split itself does nothing and the Conv's own output never exists. */
static void plan_conv_splits(struct cvb_engine *e) {
    struct cvb_graph *g = e->g;
    int prec = e->opts.precision == CVB_PRECISION_INT8 ? CVB__PREC_INT8 : CVB__PREC_BF16;
    if ((e->opts.precision != CVB_PRECISION_INT8 && e->opts.precision != CVB_PRECISION_BF16) ||
        !e->fast || e->blk != CVB__LAYOUT_NHWC)
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead || n->op != CVB_OP_CONV || e->quant[i].prec != prec ||
            (e->fuse[i].post & CVB__POST_SUM) || cvb__attr_int(n, "group", 1) != 1 ||
            n->n_out != 1 || n->out[0] < 0)
            continue;
        int x = n->out[0];
        if (!lowp_candidate(e, x)) continue; /* same conditions: NHWC run-time, no alias */
        int s = -1, uses = 0;
        for (int k = i + 1; k < g->n_nodes; k++) {
            const struct cvb_node *c = &g->nodes[k];
            if (c->dead) continue;
            for (int j = 0; j < c->n_in; j++)
                if (c->in[j] == x) {
                    uses++;
                    s = k;
                }
        }
        if (uses != 1) continue;
        const struct cvb_node *sp = &g->nodes[s];
        if (sp->op != CVB_OP_SPLIT || sp->in[0] != x || norm_axis(sp, 4) != 1 || sp->n_out < 2 ||
            (sp->n_in > 1 && sp->in[1] >= 0 && g->tensors[sp->in[1]].data == NULL))
            continue;
        int64_t cs = 0;
        bool ok = true;
        for (int j = 0; j < sp->n_out && ok; j++) {
            int t = sp->out[j];
            ok = t >= 0 && lowp_candidate(e, t);
            if (ok) cs += g->tensors[t].dims[1];
        }
        if (!ok || cs != g->tensors[x].dims[1]) continue;
        e->absorb[i] = s;
        e->absorb[s] = i;
        size_t l = strlen(e->fuse[i].ops);
        snprintf(e->fuse[i].ops + l, sizeof e->fuse[i].ops - l, "+Split");
    }
}

/* Data-dependent shapes: mark the nodes that touch dyn tensors, copy the
 * tensors for run-time inference, size the reference kernels' scratch. */
static int plan_dyn(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    size_t scratch = 0;
    bool any = false;
    e->n_dyn = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        bool d = false;
        for (int j = 0; j < n->n_in + n->n_out; j++) {
            int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
            if (t >= 0 && g->tensors[t].dyn) d = true;
        }
        e->dyn_node[i] = d;
        e->n_dyn += d;
        size_t s = cvb__ref_scratch_bytes(g, n);
        if (s > scratch) scratch = s;
    }
    for (int t = 0; t < g->n_tensors; t++) any |= g->tensors[t].dyn;
    /* the scratch follows the declared shapes like the arena: under the
     * same cap, checked before allocating */
    if (e->opts.max_activation_bytes > 0 && scratch > (uint64_t)e->opts.max_activation_bytes)
        return cvb_err_set(err, CVB_ERANGE,
                           "%s: the reference kernels' working memory takes %zu bytes, more "
                           "than the %lld-byte activation limit (the input shape makes it this "
                           "large)",
                           g->path, scratch, (long long)e->opts.max_activation_bytes);
    if (scratch > 0 && (e->scratch = malloc(scratch)) == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes of kernel working memory",
                           g->path, scratch);
    if (!any) return 0;
    e->rtg = *g;
    e->rtg.tensors = malloc(((size_t)g->n_tensors + 1) * sizeof *e->rtg.tensors);
    if (e->rtg.tensors == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    memcpy(e->rtg.tensors, g->tensors, (size_t)g->n_tensors * sizeof *e->rtg.tensors);
    return 0;
}

/* Before dyn node i runs: its actual output shapes (re-inferred, or reset
 * to the bound for a data-dependent op, whose kernel sets them), each
 * within its buffer's bytes. */
static int infer_dyn(struct cvb_engine *e, int i, struct cvb_err *err) {
    struct cvb_graph *g = e->g, *rg = &e->rtg;
    struct cvb_node *n = &g->nodes[i];
    if (cvb__op_data_dependent(n->op)) {
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0) {
                struct cvb_tensor *t = &rg->tensors[n->out[j]];
                memcpy(t->dims, g->tensors[n->out[j]].dims, sizeof t->dims);
                t->numel = g->tensors[n->out[j]].numel;
            }
        return 0;
    }
    int rc = cvb__op_defs[n->op].infer(rg, n, err);
    if (rc < 0) {
        cvb_err_prefix(err, "%s: at run time", g->path);
        return rc;
    }
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        const struct cvb_tensor *a = &rg->tensors[n->out[j]], *b = &g->tensors[n->out[j]];
        if (cvb__tensor_bytes(a) > cvb__tensor_bytes(b) || a->dtype != b->dtype) {
            char sa[96], sb[96];
            return cvb_err_set(err, CVB_ERANGE,
                               "%s: node '%s' (%s): output '%s' is %s at run time, larger "
                               "than its planned bound %s (a data-dependent shape that does "
                               "not grow with the counts before it)",
                               g->path, n->name, cvb__op_name(n->op), a->name,
                               cvb__shape_str(a, sa, sizeof sa), cvb__shape_str(b, sb, sizeof sb));
        }
    }
    return 0;
}

static int plan_all(struct cvb_engine *e, const struct cvb_model_info *before,
                    struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    bool *vmode = NULL, *vflag = NULL;
    size_t *voff = NULL;
    int *vbase = NULL;
    int rc = 0;
    size_t nn = (size_t)g->n_nodes + 1, nt = (size_t)g->n_tensors + 1;
    e->sum_fail = -1;
    e->node_fail = -1;
    e->plan = calloc(nn, sizeof *e->plan);
    e->fuse = calloc(nn, sizeof *e->fuse);
    e->layout = calloc(nt, sizeof *e->layout);
    e->parent = malloc(nt * sizeof *e->parent);
    e->poff = calloc(nt, sizeof *e->poff);
    e->root = calloc(nt, sizeof *e->root);
    e->abs_off = calloc(nt, sizeof *e->abs_off);
    e->out_root = calloc(nt, sizeof *e->out_root);
    e->offset = calloc(nt, sizeof *e->offset);
    e->buf = calloc(nt, sizeof *e->buf);
    e->act = calloc(nt, sizeof *e->act);
    e->absorb = malloc(nn * sizeof *e->absorb);
    e->dyn_node = calloc(nn, sizeof *e->dyn_node);
    int n_members = 0;
    for (int i = 0; i < g->n_nodes; i++) n_members += g->nodes[i].n_in + g->nodes[i].n_out;
    vmode = calloc(nn, sizeof *vmode);
    vbase = calloc(nn, sizeof *vbase);
    vflag = calloc((size_t)n_members + 1, sizeof *vflag);
    voff = calloc((size_t)n_members + 1, sizeof *voff);
    if (e->plan == NULL || e->fuse == NULL || e->layout == NULL || e->parent == NULL ||
        e->poff == NULL || e->root == NULL || e->abs_off == NULL || e->out_root == NULL ||
        e->offset == NULL || e->buf == NULL || e->act == NULL || e->absorb == NULL || e->dyn_node == NULL || vmode == NULL || vbase == NULL || vflag == NULL ||
        voff == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        goto out;
    }
    for (int t = 0; t < g->n_tensors; t++) e->parent[t] = -1;
    rc = plan_dyn(e, err);
    if (rc < 0) goto out;
    for (int i = 0; i < g->n_nodes; i++) {
        e->absorb[i] = -1;
        e->fuse[i].sum_in = -1;
        snprintf(e->fuse[i].ops, sizeof e->fuse[i].ops, "%s", cvb__op_name(g->nodes[i].op));
    }
    rc = setup_u8(e, err);
    if (rc < 0) goto out;
    if (e->fast) {
        e->blk = cvb__dnn_blocked_layout();
        e->cblk = e->blk == CVB__LAYOUT_BLK8 ? 8 : 16;
        if (e->opts.precision == CVB_PRECISION_INT8 ||
            (e->opts.precision == CVB_PRECISION_BF16 &&
             cvb__dnn_bf16_layout() == CVB__LAYOUT_NHWC)) {
            e->blk = CVB__LAYOUT_NHWC;
            e->cblk = 1;
        }
        cblk_tl = e->cblk;
        cvb__passes_fuse(g, e->fuse, e->no_sum, e->n_no_sum, e->plain_nodes, e->n_plain_nodes,
                         cvb__dnn_dfl_ok());
        choose_layouts(e);
        choose_views(e, vmode, vflag, voff, vbase);
    }
    int max_io = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > max_io) max_io = g->nodes[i].n_in;
        if (g->nodes[i].n_out > max_io) max_io = g->nodes[i].n_out;
    }
    e->max_io = max_io;
    e->tin = calloc((size_t)max_io, sizeof *e->tin);
    e->tout = calloc((size_t)max_io, sizeof *e->tout);
    e->tout_rt = calloc((size_t)max_io, sizeof *e->tout_rt);
    e->in = calloc((size_t)max_io, sizeof *e->in);
    e->out = calloc((size_t)max_io, sizeof *e->out);
    if (e->tin == NULL || e->tout == NULL || e->tout_rt == NULL || e->in == NULL ||
        e->out == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        goto out;
    }
    rc = plan_precision(e, err);
    if (rc < 0) goto out;
    plan_conv_splits(e);
    e->vec_u8 = e->opts.kernels == CVB_KERNELS_ONEDNN && cvb__dnn_vec_u8();
    plan_u8(e);
    plan_bf16(e);
    rc = plan_memory(e, err);
    if (rc < 0) goto out;
    if (e->opts.kernels == CVB_KERNELS_ONEDNN) {
        if (e->u8_tensor >= 0 && !e->u8_direct) {
            rc = cvb__dnn_prepare_u8_input(e->dnn, &g->tensors[e->u8_tensor],
                                           e->layout[e->u8_tensor], e->u8_bf16x2, &e->u8_state,
                                           err);
            if (rc < 0) goto out;
        }
        for (int i = 0; i < g->n_nodes; i++) {
            const struct cvb_node *n = &g->nodes[i];
            if (n->dead) continue;
            if (e->dyn_node[i]) {
                e->plan[i].kind = KIND_REF; /* shapes known at run time only */
                continue;
            }
            if ((is_reshape(n->op) || n->op == CVB_OP_SLICE) && n->n_out >= 1 &&
                n->out[0] >= 0 && n->n_in >= 1 && e->parent[n->out[0]] == n->in[0]) {
                e->plan[i].kind = KIND_NOP; /* a view of its input */
                continue;
            }
            if (n->op == CVB_OP_SPLIT && e->absorb[i] >= 0) {
                e->plan[i].kind = KIND_NOP; /* its Conv writes the outputs */
                continue;
            }
            struct cvb__dnn_io io = {.layout = e->layout, .post = e->fuse[i].post,
                                     .src_strides = e->fuse[i].src_strides,
                                     .quant = e->quant[i].prec != CVB__PREC_F32 ? &e->quant[i]
                                                                                : NULL,
                                     .act = e->act};
            if (n->op == CVB_OP_CONV && e->absorb[i] >= 0) {
                io.split_out = g->nodes[e->absorb[i]].out;
                io.n_split_out = g->nodes[e->absorb[i]].n_out;
            }
            if (vmode[i]) {
                bool all = true;
                int cnt = n->op == CVB_OP_CONCAT ? n->n_in : n->n_out;
                for (int k = 0; k < cnt; k++) all &= vflag[vbase[i] + k];
                if (all) {
                    e->plan[i].kind = KIND_NOP;
                    continue;
                }
                io.view = vflag + vbase[i];
                io.off = voff + vbase[i];
            }
            bool needs_dnn = vmode[i] || e->fuse[i].post != 0 || io.quant != NULL;
            for (int j = 0; j < n->n_in + n->n_out; j++) {
                int t = j < n->n_in ? n->in[j] : n->out[j - n->n_in];
                if (t >= 0 && e->layout[t] != CVB__LAYOUT_PLAIN) needs_dnn = true;
            }
            void *state = NULL;
            struct cvb_err perr = {0};
            rc = cvb__dnn_prepare_io(e->dnn, g, n, &io, &state, &perr);
            if (rc == 0) {
                e->plan[i].kind = KIND_DNN;
                e->plan[i].state = state;
                e->n_dnn++;
            } else if (rc == CVB_EUNSUPPORTED && !needs_dnn) {
                rc = 0;
                cvb_log_debug("%s: node '%s' (%s) runs on the reference kernel: %s", g->path,
                              n->name, cvb__op_name(n->op), perr.msg);
            } else {
                if (rc == CVB_EUNSUPPORTED && (e->fuse[i].post & CVB__POST_SUM))
                    e->sum_fail = i;
                else if (rc == CVB_EUNSUPPORTED)
                    e->node_fail = i;
                *err = perr;
                goto out;
            }
        }
    }
    rc = build_profile(e, err);
    if (rc < 0) goto out;
    compute_info(e, before);
out:
    free(vmode);
    free(vflag);
    free(voff);
    free(vbase);
    return rc;
}

int cvb_engine_load_buffer(const void *buf, size_t len, const char *name,
                           const struct cvb_engine_opts *opts, struct cvb_engine **out,
                           struct cvb_err *err) {
    int rc = 0;
    struct cvb_engine *e = NULL;
    struct cvb_model_info before;
    *out = NULL;
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    e->u8_tensor = -1;
    e->u8_prof = -1;
    if (opts != NULL) e->opts = *opts;
    e->opts.isa = NULL; /* not kept: the caller's string */
    if (e->opts.imgsz < 0 || e->opts.imgsz > 16384 || (e->opts.imgsz % 32) != 0) {
        rc = cvb_err_set(err, CVB_EINVAL, "imgsz %d is invalid: it must be a multiple of 32 in "
                         "32..16384", e->opts.imgsz);
        goto out;
    }
    if (e->opts.input_format != CVB_INPUT_F32_NCHW && e->opts.input_format != CVB_INPUT_U8_NHWC) {
        rc = cvb_err_set(err, CVB_EINVAL, "unknown input format %d", (int)e->opts.input_format);
        goto out;
    }
    if (e->opts.threads < 0 || e->opts.threads > 4096) {
        rc = cvb_err_set(err, CVB_EINVAL, "threads %d is invalid (0 = default, or 1..4096)",
                         e->opts.threads);
        goto out;
    }
    if (e->opts.batch < 0 || e->opts.batch > CVB_ENGINE_MAX_BATCH) {
        rc = cvb_err_set(err, CVB_EINVAL, "batch %d is invalid (0 = the model's own, or 1..%d)",
                         e->opts.batch, CVB_ENGINE_MAX_BATCH);
        goto out;
    }
    if (e->opts.threads == 0) e->opts.threads = cvb_engine_default_threads();
    e->opts.calib = NULL; /* not kept: the caller's string */
    cvb_sha256_hex(buf, len, e->sha256);
    if (opts != NULL && opts->precision != CVB_PRECISION_FP32) {
        if (opts->precision != CVB_PRECISION_BF16 && opts->precision != CVB_PRECISION_INT8) {
            rc = cvb_err_set(err, CVB_EINVAL, "unknown precision %d", (int)opts->precision);
            goto out;
        }
        if (opts->kernels != CVB_KERNELS_ONEDNN) {
            rc = cvb_err_set(err, CVB_EINVAL, "precision %s needs the oneDNN kernels (the "
                             "reference kernels are float32 only)",
                             cvb_precision_name(opts->precision));
            goto out;
        }
    }
    if (e->opts.precision == CVB_PRECISION_BF16 && !cvb__cpu_has("avx512_bf16") &&
        !cvb__cpu_has("amx_bf16") && !e->opts.allow_emulated) {
        char model[128];
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "bf16 needs a CPU with avx512_bf16 or amx_bf16; this one (%s) has "
                         "neither, so oneDNN would emulate it (~50x slower than fp32). Use "
                         "--precision fp32, or --allow-emulated to run it anyway",
                         cvb__cpu_model(model, sizeof model));
        goto out;
    }
    if (e->opts.precision == CVB_PRECISION_INT8) {
        if (opts->calib == NULL || opts->calib[0] == '\0') {
            rc = cvb_err_set(err, CVB_EINVAL,
                             "%s: int8 needs a calibration file (--calib FILE); make one with "
                             "`cvbench model calibrate --model %s --video V (or --images DIR, "
                             "--synthetic N) -o MODEL.calib`", name, name);
            goto out;
        }
        rc = cvb__calib_load(opts->calib, e->sha256, &e->calib, err);
        if (rc < 0) goto out;
    }
    if (opts != NULL && opts->isa != NULL) {
        rc = cvb__dnn_set_isa(opts->isa, err);
        if (rc < 0) goto out;
    }
    rc = cvb__onnx_parse(buf, len, name, &e->g, err);
    if (rc < 0) goto out;
    rc = cvb__graph_finalize(e->g, e->opts.imgsz, e->opts.batch, err);
    if (rc < 0) goto out;
    if (e->opts.kernels == CVB_KERNELS_ONEDNN) {
        rc = cvb__dnn_new(&e->dnn, e->opts.threads, err);
        if (rc < 0) goto out;
    }
    e->fast = e->opts.kernels == CVB_KERNELS_ONEDNN && !e->opts.no_fusion;
    /* model statistics of the graph as loaded, before the passes */
    e->fast = false;
    {
        /* count on the unfused graph: compute_info(NULL) reads only g */
        struct cvb_engine tmp = {.g = e->g};
        compute_info(&tmp, NULL);
        before = tmp.info;
    }
    e->fast = e->opts.kernels == CVB_KERNELS_ONEDNN && !e->opts.no_fusion;
    rc = plan_all(e, &before, err);
    for (;;) {
        bool sum = e->sum_fail >= 0 && e->n_no_sum < MAX_SUM_RETREATS;
        bool node = !sum && e->node_fail >= 0 && e->n_plain_nodes < MAX_NODE_RETREATS;
        for (int k = 0; node && k < e->n_plain_nodes; k++)
            if (e->plain_nodes[k] == e->node_fail) node = false; /* refused plain too */
        if (rc != CVB_EUNSUPPORTED || !e->fast || (!sum && !node)) break;
        if (sum) {
            /* only that Conv loses its fused sum: re-plan with its Add apart */
            cvb_log_warn("%s: %s; running that Conv and its Add separately", name, err->msg);
            e->no_sum[e->n_no_sum++] = e->sum_fail;
        } else {
            /* only that node loses its fusions and blocked layouts: the
             * rest of the plan stays fused and blocked */
            cvb_log_warn("%s: %s; running that node unfused in the plain layout", name,
                         err->msg);
            e->plain_nodes[e->n_plain_nodes++] = e->node_fail;
        }
        e->sum_fail = -1;
        e->node_fail = -1;
        release_plan(e);
        cvb__graph_free(e->g);
        e->g = NULL;
        memset(err, 0, sizeof *err);
        rc = cvb__onnx_parse(buf, len, name, &e->g, err);
        if (rc == 0) rc = cvb__graph_finalize(e->g, e->opts.imgsz, e->opts.batch, err);
        if (rc == 0) rc = plan_all(e, &before, err);
    }
    if (rc == CVB_EUNSUPPORTED && e->fast) {
        /* a fused or blocked node has no oneDNN kernel: plain path */
        cvb_log_warn("%s: %s; running without fusion and blocked layouts", name, err->msg);
        release_plan(e);
        cvb__graph_free(e->g);
        e->g = NULL;
        e->fast = false;
        memset(err, 0, sizeof *err);
        rc = cvb__onnx_parse(buf, len, name, &e->g, err);
        if (rc == 0) rc = cvb__graph_finalize(e->g, e->opts.imgsz, e->opts.batch, err);
        if (rc == 0) rc = plan_all(e, &before, err);
    }
    if (rc < 0) goto out;
    *out = e;
    e = NULL;
out:
    cvb_engine_free(e);
    return rc;
}

int cvb_engine_load(const char *path, const struct cvb_engine_opts *opts,
                    struct cvb_engine **out, struct cvb_err *err) {
    void *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = cvb_read_file(path, CVB_MODEL_MAX_BYTES, &buf, &len, err);
    if (rc < 0) return rc;
    rc = cvb_engine_load_buffer(buf, len, path, opts, out, err);
    free(buf);
    return rc;
}

void cvb_engine_free(struct cvb_engine *e) {
    if (e == NULL) return;
    release_plan(e);
    cvb__dnn_free(e->dnn);
    cvb__graph_free(e->g);
    cvb__calib_table_cleanup(&e->calib);
    free(e);
}

int cvb_engine_n_inputs(const struct cvb_engine *e) { return e->g->n_inputs; }
int cvb_engine_n_outputs(const struct cvb_engine *e) { return e->g->n_outputs; }

static void fill_info(const struct cvb_tensor *t, struct cvb_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = cvb__dtype_name(t->dtype);
    info->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) info->dims[d] = t->dims[d];
    info->numel = t->numel;
    info->bytes = cvb__tensor_bytes(t);
    info->dynamic = t->dyn;
}

int cvb_engine_input_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info) {
    if (i < 0 || i >= e->g->n_inputs) return CVB_EINVAL;
    fill_info(&e->g->tensors[e->g->inputs[i]], info);
    if (e->g->inputs[i] == e->u8_tensor) {
        info->dtype = "uint8";
        info->dims[1] = e->u8_dims[2];
        info->dims[2] = e->u8_dims[3];
        info->dims[3] = e->u8_dims[1];
        info->bytes = (size_t)info->numel;
    }
    return 0;
}

int cvb_engine_output_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info) {
    if (i < 0 || i >= e->g->n_outputs) return CVB_EINVAL;
    fill_info(&e->g->tensors[e->g->outputs[i]], info);
    return 0;
}

int cvb_engine_output_shape(const struct cvb_engine *e, int i, struct cvb_tensor_info *info) {
    if (i < 0 || i >= e->g->n_outputs) return CVB_EINVAL;
    int t = e->g->outputs[i];
    fill_info(e->rtg.tensors != NULL ? &e->rtg.tensors[t] : &e->g->tensors[t], info);
    info->dynamic = e->g->tensors[t].dyn;
    return 0;
}

void cvb_engine_set_observer(struct cvb_engine *e, cvb_engine_observer fn, void *user) {
    e->observer = fn;
    e->observer_user = user;
}

int cvb_engine_model_info(const struct cvb_engine *e, struct cvb_model_info *info) {
    *info = e->info;
    return 0;
}

int cvb_engine_n_onednn_nodes(const struct cvb_engine *e) { return e->n_dnn; }

void cvb_engine_set_profiling(struct cvb_engine *e, bool on) { e->profiling = on; }

void cvb_engine_profile_reset(struct cvb_engine *e) {
    for (int k = 0; k < e->n_prof; k++) e->prof[k].ns = e->prof[k].calls = 0;
}

int cvb_engine_profile(const struct cvb_engine *e, const struct cvb_node_profile **entries) {
    *entries = e->prof;
    return e->n_prof;
}

enum cvb_precision cvb_engine_precision(const struct cvb_engine *e) { return e->opts.precision; }
int cvb_engine_n_lowp_convs(const struct cvb_engine *e) { return e->n_lowp; }

void cvb__engine_set_tap(struct cvb_engine *e, cvb__engine_tap fn, void *user) {
    e->tap = fn;
    e->tap_user = user;
}
const struct cvb_graph *cvb__engine_graph(const struct cvb_engine *e) { return e->g; }
const struct cvb__fusion *cvb__engine_fusion(const struct cvb_engine *e) { return e->fuse; }
const char *cvb__engine_sha256(const struct cvb_engine *e) { return e->sha256; }

int cvb_engine_threads(const struct cvb_engine *e) {
    return e->opts.kernels == CVB_KERNELS_ONEDNN ? e->opts.threads : 1;
}

const char *cvb_engine_isa(const struct cvb_engine *e) {
    return e->opts.kernels == CVB_KERNELS_ONEDNN ? cvb__dnn_effective_isa() : "none";
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Plain C conversion of a uint8 NHWC frame into float32 NCHW / 255. */
static void u8_to_f32(const uint8_t *src, float *dst, const int64_t *dims) {
    int64_t c = dims[1], hw = dims[2] * dims[3];
    for (int64_t b = 0; b < dims[0]; b++, src += c * hw, dst += c * hw)
        for (int64_t p = 0; p < hw; p++)
            for (int64_t k = 0; k < c; k++) dst[k * hw + p] = (float)src[p * c + k] / 255.f;
}

int cvb_engine_run(struct cvb_engine *e, const void *const *inputs, void *const *outputs,
                   struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    int64_t t0 = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] != e->u8_tensor || e->u8_direct) e->buf[g->inputs[i]] = (void *)inputs[i];
    for (int i = 0; i < g->n_outputs; i++) {
        const struct cvb_tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer >= 0 && !t->is_input) e->buf[g->outputs[i]] = outputs[i];
    }
    for (int t = 0; t < g->n_tensors; t++)
        if (e->out_root[t] >= 0) e->buf[t] = (uint8_t *)outputs[e->out_root[t]] + e->abs_off[t];
    if (e->u8_tensor >= 0 && !e->u8_direct) {
        if (e->profiling) t0 = now_ns();
        if (e->u8_state != NULL) {
            const void *in0[1] = {inputs[0]};
            void *out0[1] = {e->buf[e->u8_tensor]};
            static struct cvb_node u8_node = {.op = CVB_OP_IDENTITY, .name = (char *)"input"};
            struct cvb_kctx k = {.g = g, .node = &u8_node, .in = in0, .out = out0};
            int rc = cvb__dnn_run(e->dnn, e->u8_state, &k, err);
            if (rc < 0) return rc;
        } else {
            u8_to_f32(inputs[0], e->buf[e->u8_tensor], e->u8_dims);
        }
        if (e->profiling) {
            e->prof[e->u8_prof].ns += now_ns() - t0;
            e->prof[e->u8_prof].calls++;
        }
    }
    if (e->rtg.tensors != NULL)
        for (int t = 0; t < g->n_tensors; t++)
            if (g->tensors[t].bdata != NULL) e->rtg.tensors[t].data = e->buf[t];
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead || e->plan[i].kind == KIND_NOP) continue;
        bool dyn = e->dyn_node[i];
        if (dyn) {
            int rc = infer_dyn(e, i, err);
            if (rc < 0) return rc;
        }
        const struct cvb_tensor *ts = dyn ? e->rtg.tensors : g->tensors;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            e->tin[j] = t >= 0 ? &ts[t] : NULL;
            e->in[j] = t >= 0 ? e->buf[t] : NULL;
        }
        /* a Conv that absorbed a Split writes the Split's outputs */
        const struct cvb_node *on = n->op == CVB_OP_CONV && e->absorb[i] >= 0
                                        ? &g->nodes[e->absorb[i]]
                                        : n;
        for (int j = 0; j < on->n_out; j++) {
            int t = on->out[j];
            e->tout[j] = t >= 0 ? (dyn && !cvb__op_data_dependent(n->op) ? &ts[t] : &g->tensors[t])
                                : NULL;
            e->tout_rt[j] = t >= 0 && dyn ? &e->rtg.tensors[t] : NULL;
            e->out[j] = t >= 0 ? e->buf[t] : NULL;
        }
        struct cvb_kctx k = {.g = g, .node = n, .tin = e->tin, .tout = e->tout,
                             .in = e->in, .out = e->out, .tout_rt = e->tout_rt,
                             .scratch = e->scratch};
        if (e->tap != NULL) e->tap(e->tap_user, g, i, e->in);
        if (e->profiling) t0 = now_ns();
        int rc = e->plan[i].kind == KIND_DNN ? cvb__dnn_run(e->dnn, e->plan[i].state, &k, err)
                                             : cvb__op_defs[n->op].ref(&k, err);
        if (rc < 0) return rc;
        if (e->profiling && e->plan[i].prof >= 0) {
            e->prof[e->plan[i].prof].ns += now_ns() - t0;
            e->prof[e->plan[i].prof].calls++;
        }
        if (e->observer != NULL && on == n && n->n_out >= 1 && n->out[0] >= 0 &&
            g->tensors[n->out[0]].dtype == CVB_DT_F32 && !e->act[n->out[0]].u8 &&
            !e->act[n->out[0]].bf16) {
            const struct cvb_tensor *t = &g->tensors[n->out[0]];
            e->observer(e->observer_user, n->name, cvb__op_name(n->op), e->buf[n->out[0]],
                        t->ndim, t->dims);
        }
    }
    /* outputs that no node produced at run time: constants or pass-through inputs */
    for (int i = 0; i < g->n_outputs; i++) {
        const struct cvb_tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer >= 0 && !t->is_input) continue;
        const void *src = t->data != NULL ? t->data : e->buf[g->outputs[i]];
        if (src != outputs[i]) memcpy(outputs[i], src, cvb__tensor_bytes(t));
    }
    return 0;
}

const char *cvb_engine_version(void) { return cvb__dnn_version(); }
