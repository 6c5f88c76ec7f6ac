/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model synth --arch yolo26n [--end2end]`: the YOLO26n graph as
 * Ultralytics 8.4's ONNX export writes it (torch exporter, opset 17,
 * simplify=True), node for node, derived from
 * ultralytics/cfg/models/26/yolo26.yaml at scale n (depth 0.50, width 0.25)
 * and ultralytics/nn/modules/{block.py, head.py} of 8.4.190, and checked
 * against real 8.4.190 exports (op histogram, parameters, names, wiring):
 *   C3k2      cv1, Split in two, one block on the second part, Concat of the
 *             three, cv2; the block is a Bottleneck (e=0.5), a C3k (C3 with
 *             two 3x3 Bottlenecks) or, with attn (layer 22), Sequential(
 *             Bottleneck "m.0.0", PSABlock "m.0.1");
 *   SPPF      cv1 without activation, three MaxPool 5x5 (with dilations),
 *             Concat, cv2, then the shortcut Add of the layer's input
 *             (SPPF(1024, 5, 3, True));
 *   C2PSA     as YOLO11's, with 8.4's Attention: q is scaled before the
 *             transpose ((q * scale)^T @ k), so Mul sits between Split and
 *             Transpose, and the first MatMul gives the scaled logits;
 *   Detect    reg_max 1: per level a box branch (Conv 3x3, Conv 3x3, Conv2d
 *             1x1 to 4 distances) and a class branch (two DWConv + Conv
 *             pairs, Conv2d 1x1 to 80), each reshaped to [1, C, HW] on its
 *             own and written right after the layer that feeds it; Concat of
 *             the box maps and of the class maps across levels; no DFL (an
 *             Identity), so the distances are sliced straight from the box
 *             Concat. Plain export (nms=None, the one-to-many branches cv2 /
 *             cv3): dist2bbox xywh, Mul by the strides, Sigmoid, output0
 *             [1, 84, N]. --end2end (nms=False): the one-to-one branches
 *             (one2one_cv2 / one2one_cv3, the same shapes), corner boxes and
 *             the 19-node top-K tail to output0 [1, 300, 6].
 * Weights, calibration and the planted detector are synth.c's. A synthetic
 * model has one set of head weights: with --end2end they are named
 * one2one_ and the rows are the plain model's top-K (anchor, class) scores.
 *
 * The planted detector (synth.c) runs stem -> backbone -> SPPF (peaks) ->
 * C2PSA -> model.21's Concat -> model.22 -> the P5 class branch. YOLO26's
 * SPPF adds its input to its output, and an Add keeps planted channels only
 * over exact zeros: so model.8's cv2 (F_PLANT_ZSLOT) writes exact zeros in
 * channels 0..2 and moves the colour maps to 3..5, SPPF's cv1 reads them
 * there, cv2 writes the peaks to 0..2, and the shortcut adds nothing to them.
 * int8: the convs on the P5 path quantise their input per tensor, over
 * ranges the random channels set (~+-50 at C2PSA's cv2, ~+-150 at model.22's
 * cv2 beside the PSABlock's un-activated residual output on the synthetic
 * calibration frames): a u8 step of ~1 peak unit there moved class logits
 * by ~0.6 and flipped near-threshold boxes (pooled F1 0.94 on seed 7). So
 * C2PSA's cv1 and cv2 and model.22's cv1 (F_PLANT_BOOST) each double the
 * peaks' deviation (8x at model.22's cv2: a photo's peaks, up to ~10, then
 * reach ~90, inside those ranges) and the P5 class conv divides it back.
 *
 * Boxes: reg_max 1 has no DFL bins to put a prior on; synth.c's
 * box_weights() gives the 4-output box convs zero weights and as bias the
 * distance a DFL head decodes from its bin prior, so every anchor predicts a
 * fixed ~6-stride box about its cell (the planted detections' boxes), the
 * same at every precision. */
#include "synth_internal.h"

#include "cvb/common.h"

#include <stdio.h>
#include <string.h>

#define NC 80
#define REG_MAX 1
#define DETECT 23

/* A node of 'op' on in[0..n_in) in the current scope, given the exporter's
 * name "<scope>/<name>" (set before any consumer refers to its output). */
static const char *named(struct synth *s, const char *op, const char *name, int n_in,
                         const char *const *in) {
    char nm[300];
    Onnx__NodeProto *n = cvb__synth_node(s, op, n_in, in, 1);
    snprintf(nm, sizeof nm, "%s/%s", cvb__synth_scope(s), name);
    cvb__synth_rename(s, n, nm);
    if (strcmp(op, "Reshape") == 0) cvb__synth_attr_int(s, n, "allowzero", 0);
    return n ? n->output[0] : NULL;
}

/* Split of x along 'axis' into cnt parts of sizes[] (one Split per scope);
 * output names into out[]. */
static void split(struct synth *s, const char *x, int axis, int cnt, const int64_t *sizes,
                  const char **out) {
    char nm[300];
    snprintf(nm, sizeof nm, "%s/Split_sizes", cvb__synth_scope(s));
    const char *in[2] = {x, cvb__synth_init_i64(s, nm, cnt, sizes)};
    Onnx__NodeProto *n = cvb__synth_node(s, "Split", 2, in, cnt);
    cvb__synth_attr_int(s, n, "axis", axis);
    for (int i = 0; i < cnt; i++) out[i] = n ? n->output[i] : NULL;
}

static struct val cv(struct synth *s, const char *comp, struct val x, int c2, int k, int flags) {
    return cvb__synth_conv(s, comp, x, c2, k, 1, -1, 1, flags, ROLE_PLAIN);
}

/* Bottleneck(c, c, shortcut=True, k=(3, 3), e) 'comp'. */
static struct val bottleneck(struct synth *s, const char *comp, struct val x, double e) {
    size_t mark = cvb__synth_scope_push(s, comp);
    struct val y = cv(s, "cv1", x, (int)(x.c * e), 3, F_ACT);
    y = cv(s, "cv2", y, x.c, 3, F_ACT | F_PLANT_ZERO);
    y = cvb__synth_add2(s, x, y);
    cvb__synth_scope_pop(s, mark);
    return y;
}

/* C3k(c, c, 2, shortcut=True, e=0.5, k=3) in the current scope. */
static struct val c3k(struct synth *s, struct val x) {
    int c_ = x.c / 2;
    struct val a = cv(s, "cv1", x, c_, 1, F_ACT);
    struct val b = cv(s, "cv2", x, c_, 1, F_ACT);
    size_t mark = cvb__synth_scope_push(s, "m");
    a = bottleneck(s, "m.0", a, 1.0);
    a = bottleneck(s, "m.1", a, 1.0);
    cvb__synth_scope_pop(s, mark);
    struct val cat[2] = {a, b};
    return cv(s, "cv3", cvb__synth_concat(s, 2, cat), x.c, 1, F_ACT);
}

enum c3k2_block { BLK_BOTTLENECK, BLK_C3K, BLK_ATTN };

/* C3k2(c1, c2, n=1, c3k, e, attn) in the current scope; cv1 and cv2 get
 * flags1 and flags2. */
static struct val c3k2(struct synth *s, struct val x, int c2, double e, enum c3k2_block blk,
                       int flags1, int flags2) {
    const int c = (int)(c2 * e);
    struct val y0 = cv(s, "cv1", x, 2 * c, 1, F_ACT | flags1);
    const char *parts[2] = {NULL, NULL};
    const int64_t sizes[2] = {c, c};
    split(s, y0.name, 1, 2, sizes, parts);
    struct val ys[3] = {cvb__synth_part(y0, parts[0], 0, c), cvb__synth_part(y0, parts[1], c, c)};
    size_t mark;
    switch (blk) {
    case BLK_BOTTLENECK: ys[2] = bottleneck(s, "m.0", ys[1], 0.5); break;
    case BLK_C3K:
        mark = cvb__synth_scope_push(s, "m.0");
        ys[2] = c3k(s, ys[1]);
        cvb__synth_scope_pop(s, mark);
        break;
    case BLK_ATTN:
        mark = cvb__synth_scope_push(s, "m.0");
        ys[2] = bottleneck(s, "m.0.0", ys[1], 0.5);
        ys[2] = cvb__synth_psablock(s, "m.0.1", ys[2], c / 64 > 1 ? c / 64 : 1);
        cvb__synth_scope_pop(s, mark);
        break;
    }
    return cv(s, "cv2", cvb__synth_concat(s, 3, ys), c2, 1, F_ACT | flags2);
}

/* SPPF(c1, c2, k=5, n=3, shortcut=True): x's channels 0..2 must be the
 * zero slot of F_PLANT_ZSLOT (header comment). */
static struct val sppf(struct synth *s, struct val x) {
    struct val ys[4];
    ys[0] = cv(s, "cv1", x, x.c / 2, 1, F_PLANT_GAIN);
    static const char *const comps[3] = {"m", "m_1", "m_2"};
    for (int i = 0; i < 3; i++) ys[i + 1] = cvb__synth_maxpool5(s, comps[i], ys[i], true);
    struct val y = cv(s, "cv2", cvb__synth_concat(s, 4, ys), x.c, 1, F_ACT | F_PLANT_LOCALMAX);
    return cvb__synth_add2(s, y, x);
}

/* C2PSA(c1, c2, n=1, e=0.5) in the current scope (cv1 and cv2 boost the
 * peaks: header comment). */
static struct val c2psa(struct synth *s, struct val x) {
    const int c = x.c / 2;
    struct val y0 = cv(s, "cv1", x, 2 * c, 1, F_ACT | F_PLANT_BOOST);
    const char *parts[2] = {NULL, NULL};
    const int64_t sizes[2] = {c, c};
    split(s, y0.name, 1, 2, sizes, parts);
    struct val cat[2] = {cvb__synth_part(y0, parts[0], 0, c), cvb__synth_part(y0, parts[1], c, c)};
    size_t mark = cvb__synth_scope_push(s, "m");
    cat[1] = cvb__synth_psablock(s, "m.0", cat[1], c / 64 > 1 ? c / 64 : 1);
    cvb__synth_scope_pop(s, mark);
    return cv(s, "cv2", cvb__synth_concat(s, 2, cat), x.c, 1, F_ACT | F_PLANT_BOOST);
}

/* Detect's branches of level i on feature x (scope /model.23), ch0: P3's
 * channels; *box and *cls get the [1, C, HW] reshapes, whose shape
 * constants level 0 creates into shapes[2] for the others. */
static void detect_level(struct synth *s, int i, struct val x, int ch0, const char **box,
                         const char **cls, const char **shapes) {
    /* max(16, ch[0] / 4, 4 * reg_max), max(ch[0], min(nc, 100)) */
    const int c2 = ch0 / 4 > 16 ? ch0 / 4 : 16, c3 = ch0 > NC ? ch0 : NC;
    const char *pre = cvb__synth_e2e_names(s) ? "one2one_" : "";
    char comp[32], sub[48], seq[48], nm[300];
    snprintf(comp, sizeof comp, "%scv2.%d", pre, i);
    size_t mark = cvb__synth_scope_push(s, comp);
    struct val b = x;
    for (int j = 0; j < 2; j++) {
        snprintf(sub, sizeof sub, "%scv2.%d.%d", pre, i, j);
        b = cvb__synth_conv(s, sub, b, c2, 3, 1, -1, 1, F_ACT | F_NOPLANT, ROLE_PLAIN);
    }
    snprintf(sub, sizeof sub, "%scv2.%d.2", pre, i);
    b = cvb__synth_conv(s, sub, b, 4 * REG_MAX, 1, 1, -1, 1, F_BARE, ROLE_BOX);
    cvb__synth_scope_pop(s, mark);

    snprintf(comp, sizeof comp, "%scv3.%d", pre, i);
    mark = cvb__synth_scope_push(s, comp);
    struct val c = x;
    for (int j = 0; j < 2; j++) { /* Sequential(DWConv(c, c, 3), Conv(c, c3, 1)) */
        snprintf(seq, sizeof seq, "%scv3.%d.%d", pre, i, j);
        size_t m2 = cvb__synth_scope_push(s, seq);
        snprintf(sub, sizeof sub, "%scv3.%d.%d.0", pre, i, j);
        c = cvb__synth_conv(s, sub, c, c.c, 3, 1, -1, c.c, F_ACT, ROLE_PLAIN);
        snprintf(sub, sizeof sub, "%scv3.%d.%d.1", pre, i, j);
        c = cv(s, sub, c, c3, 1, F_ACT);
        cvb__synth_scope_pop(s, m2);
    }
    snprintf(sub, sizeof sub, "%scv3.%d.2", pre, i);
    c = cvb__synth_conv(s, sub, c, NC, 1, 1, -1, 1, F_BARE, ROLE_CLS);
    cvb__synth_scope_pop(s, mark);

    /* the exporter's shape constants and names: box reshapes 0-2, class 3-5 */
    const char *src[2] = {b.name, c.name};
    const int chs[2] = {4 * REG_MAX, NC};
    for (int k = 0; k < 2; k++) {
        const int64_t sh[3] = {1, chs[k], -1};
        if (i == 0) { /* shared by the three levels, as in the export */
            snprintf(nm, sizeof nm, "%s/Constant_%soutput_0", cvb__synth_scope(s), k ? "3_" : "");
            shapes[k] = cvb__synth_init_i64(s, nm, 3, sh);
        }
        const char *in[2] = {src[k], shapes[k]};
        char name[32];
        if (3 * k + i == 0) snprintf(name, sizeof name, "Reshape");
        else snprintf(name, sizeof name, "Reshape_%d", 3 * k + i);
        const char *r = named(s, "Reshape", name, 2, in);
        if (k == 0) *box = r;
        else *cls = r;
    }
}

/* Channels [start, end) of x along axis 1 as one Slice node (the
 * exporter's lowering of the ltrb chunk). */
static const char *slice_ch(struct synth *s, const char *x, int64_t start, int64_t end) {
    const int64_t v[3] = {start, end, 1};
    static const char *const what[3] = {"starts", "ends", "axes"};
    const char *in[4] = {x, NULL, NULL, NULL};
    char nm[300];
    for (int i = 0; i < 3; i++) {
        snprintf(nm, sizeof nm, "%s/Slice_%lld_%s", cvb__synth_scope(s), (long long)start, what[i]);
        in[1 + i] = cvb__synth_init_i64(s, nm, 1, &v[i]);
    }
    Onnx__NodeProto *n = cvb__synth_node(s, "Slice", 4, in, 1);
    return n ? n->output[0] : NULL;
}

/* Detect's tail after the three levels (scope /model.23), plain or
 * end-to-end. Returns 0 or the first error. */
static int detect_tail(struct synth *s, const char *const *box, const char *const *cls,
                       const struct val *feats) {
    static const int strides[3] = {8, 16, 32};
    const bool e2e = cvb__synth_end2end(s);
    const char *sc = cvb__synth_scope(s);
    char an[300], nm[300];
    int64_t n_anchor = 0;
    for (int i = 0; i < 3; i++) n_anchor += (int64_t)feats[i].h * feats[i].w;
    Onnx__NodeProto *cb = cvb__synth_node(s, "Concat", 3, box, 1);
    cvb__synth_attr_int(s, cb, "axis", -1);
    Onnx__NodeProto *cc = cvb__synth_node(s, "Concat", 3, cls, 1);
    cvb__synth_attr_int(s, cc, "axis", -1);
    if (cb == NULL || cc == NULL) return cvb__synth_rc(s);

    const char *anchors = NULL, *strd = NULL;
    snprintf(an, sizeof an, "%s/Constant_12_output_0", sc);
    snprintf(nm, sizeof nm, "%s/Constant_%d_output_0", sc, e2e ? 14 : 15);
    if (cvb__synth_anchors(s, feats, 3, strides, an, nm, &anchors, &strd) < 0)
        return cvb__synth_rc(s);

    /* dist2bbox: the distances come straight from the box maps (no DFL) */
    const char *lt = slice_ch(s, cb->output[0], 0, 2), *rb = slice_ch(s, cb->output[0], 2, 4);
    const char *in[2] = {anchors, lt};
    const char *x1y1 = named(s, "Sub", "Sub", 2, in);
    in[1] = rb;
    const char *x2y2 = named(s, "Add", "Add_1", 2, in);
    if (e2e) { /* xyxy */
        in[0] = x1y1, in[1] = x2y2;
    } else { /* xywh */
        float two = 2.0f;
        snprintf(nm, sizeof nm, "%s/Constant_14_output_0", sc);
        const char *c2 = cvb__synth_init_f32(s, nm, 0, NULL, &two, 1);
        in[0] = x1y1, in[1] = x2y2;
        const char *sum = named(s, "Add", "Add_2", 2, in);
        in[0] = x2y2, in[1] = x1y1;
        const char *wh = named(s, "Sub", "Sub_1", 2, in);
        in[0] = sum, in[1] = c2;
        in[0] = named(s, "Div", "Div_1", 2, in), in[1] = wh;
    }
    Onnx__NodeProto *bx = cvb__synth_node(s, "Concat", 2, in, 1);
    cvb__synth_attr_int(s, bx, "axis", 1);
    if (bx == NULL) return cvb__synth_rc(s);
    in[0] = bx->output[0], in[1] = strd;
    in[0] = named(s, "Mul", "Mul_2", 2, in);
    in[1] = cvb__synth_unary(s, "Sigmoid", cc->output[0]);
    Onnx__NodeProto *out = cvb__synth_node(s, "Concat", 2, in, 1);
    cvb__synth_attr_int(s, out, "axis", 1);
    if (out == NULL) return cvb__synth_rc(s);
    if (!e2e) {
        out->output[0] = "output0";
        return cvb__synth_rc(s);
    }
    cvb__synth_e2e_tail(s, out->output[0], n_anchor);
    /* the exporter's tail names the slot division Div_1 (its Div was folded
     * away); renaming the node alone keeps its output's consumers */
    Onnx__NodeProto *div = cvb__synth_find_node(s, "/model.23/Div");
    if (div != NULL) div->name = "/model.23/Div_1";
    return cvb__synth_rc(s);
}

/* yolo26.yaml at scale n, one row per layer: module, the second input of a
 * Concat, output channels (scaled), the C3k2 expansion and block; level >=
 * 0: after the layer, Detect's branches of that level (the exporter's
 * order). */
enum v26_mod { M_CONV, M_C3K2, M_SPPF, M_C2PSA, M_UP, M_CAT };
static const struct {
    enum v26_mod mod;
    int from2, c2;
    double e;
    enum c3k2_block blk;
    int level;
} yolo26n[] = {
    {M_CONV, 0, 16, 0, 0, -1},                 /* 0-P1/2 */
    {M_CONV, 0, 32, 0, 0, -1},                 /* 1-P2/4 */
    {M_C3K2, 0, 64, 0.25, BLK_BOTTLENECK, -1}, /* 2 */
    {M_CONV, 0, 64, 0, 0, -1},                 /* 3-P3/8 */
    {M_C3K2, 0, 128, 0.25, BLK_BOTTLENECK, -1}, /* 4 */
    {M_CONV, 0, 128, 0, 0, -1},                /* 5-P4/16 */
    {M_C3K2, 0, 128, 0.5, BLK_C3K, -1},        /* 6 */
    {M_CONV, 0, 256, 0, 0, -1},                /* 7-P5/32 */
    {M_C3K2, 0, 256, 0.5, BLK_C3K, -1},        /* 8: cv2 F_PLANT_ZSLOT (SPPF's shortcut) */
    {M_SPPF, 0, 256, 0, 0, -1},                /* 9 */
    {M_C2PSA, 0, 256, 0, 0, -1},               /* 10 */
    {M_UP, 0, 0, 0, 0, -1},                    /* 11 */
    {M_CAT, 6, 0, 0, 0, -1},                   /* 12: cat backbone P4 */
    {M_C3K2, 0, 128, 0.5, BLK_C3K, -1},        /* 13 */
    {M_UP, 0, 0, 0, 0, -1},                    /* 14 */
    {M_CAT, 4, 0, 0, 0, -1},                   /* 15: cat backbone P3 */
    {M_C3K2, 0, 64, 0.5, BLK_C3K, 0},          /* 16 (P3/8) */
    {M_CONV, 0, 64, 0, 0, -1},                 /* 17 */
    {M_CAT, 13, 0, 0, 0, -1},                  /* 18: cat head P4 */
    {M_C3K2, 0, 128, 0.5, BLK_C3K, 1},         /* 19 (P4/16) */
    {M_CONV, 0, 128, 0, 0, -1},                /* 20 */
    {M_CAT, 10, 0, 0, 0, -1},                  /* 21: cat head P5 */
    {M_C3K2, 0, 256, 0.5, BLK_ATTN, 2},        /* 22 (P5/32): cv1 F_PLANT_BOOST */
};
#define V26_P3 16
#define V26_ZSLOT 8
#define V26_BOOST 22

/* Layer i of yolo26n on x (the previous layer's output; L: the earlier
 * layers), in its scope. */
static struct val layer(struct synth *s, int i, struct val x, const struct val *L) {
    char lc[16];
    snprintf(lc, sizeof lc, "model.%d", i);
    size_t mark = cvb__synth_scope_push(s, lc);
    const int c2 = yolo26n[i].c2;
    struct val xs[2] = {x, L[yolo26n[i].from2]};
    switch (yolo26n[i].mod) {
    case M_CONV: x = cvb__synth_conv(s, NULL, x, c2, 3, 2, -1, 1, F_ACT, ROLE_PLAIN); break;
    case M_C3K2:
        x = c3k2(s, x, c2, yolo26n[i].e, yolo26n[i].blk, i == V26_BOOST ? F_PLANT_BOOST : 0,
                 i == V26_ZSLOT ? F_PLANT_ZSLOT : 0);
        break;
    case M_SPPF: x = sppf(s, x); break;
    case M_C2PSA: x = c2psa(s, x); break;
    case M_UP: x = cvb__synth_upsample(s, x); break;
    case M_CAT: x = cvb__synth_concat(s, 2, xs); break;
    }
    cvb__synth_scope_pop(s, mark);
    return x;
}

int cvb__synth_build_v26n(struct synth *s) {
    enum { N = sizeof yolo26n / sizeof yolo26n[0] };
    struct val L[N], feats[3];
    const struct val img = {.name = "images", .c = 3, .h = cvb__synth_imgsz(s),
                            .w = cvb__synth_imgsz(s)};
    const char *box[3] = {NULL, NULL, NULL}, *cls[3] = {NULL, NULL, NULL};
    const char *shapes[2] = {NULL, NULL};
    char comp[16];
    snprintf(comp, sizeof comp, "model.%d", DETECT);
    size_t mark;
    for (int i = 0; i < N; i++) {
        L[i] = layer(s, i, i == 0 ? img : L[i - 1], L);
        const int k = yolo26n[i].level;
        if (k < 0) continue;
        feats[k] = L[i];
        mark = cvb__synth_scope_push(s, comp);
        detect_level(s, k, L[i], L[V26_P3].c, &box[k], &cls[k], shapes);
        cvb__synth_scope_pop(s, mark);
    }
    mark = cvb__synth_scope_push(s, comp);
    int rc = detect_tail(s, box, cls, feats);
    cvb__synth_scope_pop(s, mark);
    return rc;
}
