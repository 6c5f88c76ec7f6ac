/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model synth --arch yolov9t`: the YOLOv9t graph as Ultralytics
 * 8.4's ONNX export writes it (torch exporter, opset 17, simplify=True),
 * node for node, derived from ultralytics/cfg/models/v9/yolov9t.yaml and
 * ultralytics/nn/modules/{block.py, head.py} and checked against a real
 * 8.4.190 export (op histogram, parameters, names):
 *   ELAN1         cv1, chunk in two (two Slice nodes), cv2 and cv3 (Conv 3x3)
 *                 chained on the second part, Concat of the four, cv4;
 *   RepNCSPELAN4  ELAN1 whose cv2 and cv3 are Sequential(RepCSP, Conv 3x3);
 *   RepCSP        C3: cv1 and cv2 (1x1) on x, RepBottlenecks on cv1's
 *                 output, Concat(m, cv2), cv3; the exporter writes cv2
 *                 before the bottlenecks;
 *   RepBottleneck cv1 RepConv (exported fused: one Conv 3x3 + SiLU), cv2
 *                 Conv 3x3, + x;
 *   AConv         AveragePool 2x2 stride 1 (no padding), Conv 3x3 stride 2;
 *   SPPELAN       cv1, three chained MaxPool 5x5 (cv2, cv3, cv4), Concat, cv5;
 *   Detect        8.4's head: per level box (Conv 3x3, Conv 3x3, Conv2d 1x1
 *                 to 64) and class (Conv 3x3, Conv 3x3, Conv2d 1x1 to 80)
 *                 branches each reshaped to [1, C, HW] on its own; the
 *                 exporter writes a level's branches right after the layer
 *                 that feeds them (interleaved with the neck); Concat of
 *                 the box maps and of the class maps across levels, DFL,
 *                 dist2bbox with Slice, Sigmoid on the classes, Concat.
 * Weights, calibration and the planted detector are synth.c's: the planted
 * channels run stem -> backbone -> SPPELAN (peaks) -> model.20's Concat ->
 * model.21 -> the P5 class conv, as in the other architectures. */
#include "synth_internal.h"

#include "cvb/common.h"

#include <stdio.h>
#include <string.h>

#define NC 80
#define REG_MAX 16

/* Channel slice [start, end) of x along axis 1 as one Slice node (the
 * exporter's lowering of Tensor.chunk and of the DFL split). */
static const char *slice_ch(struct synth *s, const char *x, int64_t start, int64_t end) {
    char nm[300];
    const char *in[4];
    int64_t v;
    const char *sc = cvb__synth_scope(s);
    in[0] = x;
    /* one set of constants per (scope, start, end): unique initializer names */
    v = start;
    snprintf(nm, sizeof nm, "%s/Slice_%lld_%lld_starts", sc, (long long)start, (long long)end);
    in[1] = cvb__synth_init_i64(s, nm, 1, &v);
    v = end;
    snprintf(nm, sizeof nm, "%s/Slice_%lld_%lld_ends", sc, (long long)start, (long long)end);
    in[2] = cvb__synth_init_i64(s, nm, 1, &v);
    v = 1;
    snprintf(nm, sizeof nm, "%s/Slice_%lld_%lld_axes", sc, (long long)start, (long long)end);
    in[3] = cvb__synth_init_i64(s, nm, 1, &v);
    Onnx__NodeProto *n = cvb__synth_node(s, "Slice", 4, in, 1);
    return n ? n->output[0] : NULL;
}

static struct val cv(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                     int flags) {
    return cvb__synth_conv(s, comp, x, c2, k, st, -1, 1, flags | F_ACT, ROLE_PLAIN);
}

/* RepCSP(c1, c2, n, shortcut=True, e=0.5) in the current scope. */
static struct val repcsp(struct synth *s, struct val x, int c2, int n) {
    int c_ = c2 / 2;
    struct val a = cv(s, "cv1", x, c_, 1, 1, 0);
    struct val b = cv(s, "cv2", x, c_, 1, 1, 0);
    size_t mark = cvb__synth_scope_push(s, "m");
    for (int i = 0; i < n; i++) {
        char comp[16];
        snprintf(comp, sizeof comp, "m.%d", i);
        size_t m2 = cvb__synth_scope_push(s, comp);
        struct val y = cv(s, "cv1", a, c_, 3, 1, 0); /* RepConv, fused */
        y = cv(s, "cv2", y, c_, 3, 1, F_PLANT_ZERO);
        a = cvb__synth_add2(s, a, y);
        cvb__synth_scope_pop(s, m2);
    }
    cvb__synth_scope_pop(s, mark);
    struct val cat[2] = {a, b};
    return cv(s, "cv3", cvb__synth_concat(s, 2, cat), c2, 1, 1, 0);
}

/* ELAN1(c1, c2, c3, c4) when n == 0, else RepNCSPELAN4(c1, c2, c3, c4, n),
 * in the current scope. */
static struct val elan(struct synth *s, struct val x, int c2, int c3, int c4, int n) {
    int c = c3 / 2;
    struct val y0 = cv(s, "cv1", x, c3, 1, 1, 0);
    struct val ys[4];
    ys[0] = cvb__synth_part(y0, slice_ch(s, y0.name, 0, c), 0, c);
    ys[1] = cvb__synth_part(y0, slice_ch(s, y0.name, c, 2 * c), c, c);
    static const char *const comps[2] = {"cv2", "cv3"};
    for (int i = 0; i < 2; i++) {
        if (n == 0) {
            ys[2 + i] = cv(s, comps[i], ys[1 + i], c4, 3, 1, 0);
            continue;
        }
        char sub[16];
        size_t mark = cvb__synth_scope_push(s, comps[i]);
        snprintf(sub, sizeof sub, "%s.0", comps[i]);
        size_t m2 = cvb__synth_scope_push(s, sub);
        struct val y = repcsp(s, ys[1 + i], c4, n);
        cvb__synth_scope_pop(s, m2);
        snprintf(sub, sizeof sub, "%s.1", comps[i]);
        ys[2 + i] = cv(s, sub, y, c4, 3, 1, 0);
        cvb__synth_scope_pop(s, mark);
    }
    return cv(s, "cv4", cvb__synth_concat(s, 4, ys), c2, 1, 1, 0);
}

/* AConv(c1, c2): avg_pool2d(x, 2, 1, 0, False, True), Conv 3x3 s2 p1. */
static struct val aconv(struct synth *s, struct val x, int c2) {
    const char *in[1] = {x.name};
    Onnx__NodeProto *n = cvb__synth_node(s, "AveragePool", 1, in, 1);
    int64_t ks[2] = {2, 2}, pads[4] = {0, 0, 0, 0}, st[2] = {1, 1};
    cvb__synth_attr_int(s, n, "ceil_mode", 0);
    cvb__synth_attr_int(s, n, "count_include_pad", 1);
    cvb__synth_attr_ints(s, n, "kernel_shape", 2, ks);
    cvb__synth_attr_ints(s, n, "pads", 4, pads);
    cvb__synth_attr_ints(s, n, "strides", 2, st);
    struct val p = x; /* a 2x2 mean keeps the planted channels' meaning */
    p.name = n ? n->output[0] : NULL;
    p.h = x.h - 1, p.w = x.w - 1;
    return cvb__synth_conv(s, "cv1", p, c2, 3, 2, 1, 1, F_ACT, ROLE_PLAIN);
}

/* SPPELAN(c1, c2, c3, k=5). */
static struct val sppelan(struct synth *s, struct val x, int c2, int c3) {
    struct val ys[4];
    ys[0] = cv(s, "cv1", x, c3, 1, 1, F_PLANT_GAIN);
    static const char *const comps[3] = {"cv2", "cv3", "cv4"};
    for (int i = 0; i < 3; i++) ys[i + 1] = cvb__synth_maxpool5(s, comps[i], ys[i], true);
    return cv(s, "cv5", cvb__synth_concat(s, 4, ys), c2, 1, 1, F_PLANT_LOCALMAX);
}

/* A node of 'op' on in[0..n_in) in the current scope, given the exporter's
 * name "<scope>/<name>" (set before any consumer refers to its output). */
static const char *named(struct synth *s, const char *op, const char *name, int n_in,
                         const char *const *in) {
    char nm[300];
    Onnx__NodeProto *n = cvb__synth_node(s, op, n_in, in, 1);
    snprintf(nm, sizeof nm, "%s/%s", cvb__synth_scope(s), name);
    cvb__synth_rename(s, n, nm);
    return n ? n->output[0] : NULL;
}

/* Detect's branches of level i on feature x (scope /model.<n>), in the
 * exporter's order (ch0: P3's channels); *box and *cls get the [1, C, HW]
 * reshapes, whose shape constants level 0 creates into shapes[2] for the
 * others. dw: YOLO11's class branch (DWConv 3x3 + Conv 1x1, twice; v10Detect
 * too) instead of two Conv 3x3; pre: the branches' name prefix ("" or
 * v10Detect's "one2one_"). */
static void detect_level(struct synth *s, int i, struct val x, int ch0, bool dw, bool peaks,
                         bool box_first, const char *pre, const char **box, const char **cls,
                         const char **shapes);
void cvb__synth_detect84_level(struct synth *s, int i, struct val x, int ch0, bool dw,
                               const char *pre, const char **box, const char **cls,
                               const char **shapes) {
    detect_level(s, i, x, ch0, dw, false, false, pre, box, cls, shapes);
}

/* The same with peaks (dw only): that class branch hosts the planted
 * detector's local-max stage (struct detect84): gain, fan-out, then
 * neighbour differences, then the peak sum; and box_first: the convs of the
 * whole box branch are created before the class branch's (struct detect84). */
static void detect_level(struct synth *s, int i, struct val x, int ch0, bool dw, bool peaks,
                         bool box_first, const char *pre, const char **box, const char **cls,
                         const char **shapes) {
    /* max(16, ch[0] / 4, 4 * reg_max), max(ch[0], min(nc, 100)): ch[0] is P3's */
    const int c2 = ch0 / 4 > 4 * REG_MAX ? ch0 / 4 : 4 * REG_MAX, c3 = ch0 > NC ? ch0 : NC;
    char comp[2][32], sub[48], nm[300];
    struct val b = x, c = x;
    snprintf(comp[0], sizeof comp[0], "%scv2.%d", pre, i);
    snprintf(comp[1], sizeof comp[1], "%scv3.%d", pre, i);
    for (int step = 0; step < 6; step++) {
        /* branch br's conv j: box 0, class 0, box 1, ... or box 0, 1, 2, class 0, ... */
        const int br = box_first ? step / 3 : step % 2, j = box_first ? step % 3 : step / 2;
        size_t mark = cvb__synth_scope_push(s, comp[br]);
        snprintf(sub, sizeof sub, "%s.%d", comp[br], j);
        if (br == 0) {
            if (j < 2)
                b = cvb__synth_conv(s, sub, b, c2, 3, 1, -1, 1, F_ACT | F_NOPLANT, ROLE_PLAIN);
            else
                b = cvb__synth_conv(s, sub, b, 4 * REG_MAX, 1, 1, -1, 1, F_BARE, ROLE_BOX);
        } else if (j == 2) {
            c = cvb__synth_conv(s, sub, c, NC, 1, 1, -1, 1, F_BARE, ROLE_CLS);
        } else if (dw) {
            char dwc[56], pwc[56];
            snprintf(dwc, sizeof dwc, "%s.0", sub);
            snprintf(pwc, sizeof pwc, "%s.1", sub);
            size_t m2 = cvb__synth_scope_push(s, sub);
            const int fdw = !peaks ? 0 : j == 0 ? F_PLANT_NMSGAIN : F_PLANT_NBR;
            const int fpw = !peaks ? 0 : j == 0 ? F_PLANT_FANOUT : F_PLANT_PEAKSUM;
            c = cvb__synth_conv(s, dwc, c, c.c, 3, 1, -1, c.c, F_ACT | fdw, ROLE_PLAIN);
            c = cvb__synth_conv(s, pwc, c, c3, 1, 1, -1, 1, F_ACT | fpw, ROLE_PLAIN);
            cvb__synth_scope_pop(s, m2);
        } else {
            c = cvb__synth_conv(s, sub, c, c3, 3, 1, -1, 1, F_ACT, ROLE_PLAIN);
        }
        cvb__synth_scope_pop(s, mark);
    }
    /* the exporter's shape constants and names: box reshapes 0-2, class 3-5 */
    const char *src[2] = {b.name, c.name};
    const int ch[2] = {4 * REG_MAX, NC};
    for (int k = 0; k < 2; k++) {
        int idx = 3 * k + i;
        int64_t sh[3] = {1, ch[k], -1};
        snprintf(nm, sizeof nm, "%s/Constant_%s%soutput_0", cvb__synth_scope(s), k ? "3" : "",
                 k ? "_" : "");
        /* shared by the three levels, as in the export */
        if (i == 0) shapes[k] = cvb__synth_init_i64(s, nm, 3, sh);
        const char *in[2] = {src[k], shapes[k]};
        char name[32];
        if (idx == 0) snprintf(name, sizeof name, "Reshape");
        else snprintf(name, sizeof name, "Reshape_%d", idx);
        char full[300];
        snprintf(full, sizeof full, "%s/%s", cvb__synth_scope(s), name);
        Onnx__NodeProto *n = cvb__synth_node(s, "Reshape", 2, in, 1);
        cvb__synth_rename(s, n, full);
        cvb__synth_attr_int(s, n, "allowzero", 0); /* as the exporter writes it */
        const char *r = n ? n->output[0] : NULL;
        if (k == 0) *box = r;
        else *cls = r;
    }
}

/* The end-to-end end of Detect's tail: Concat(x1y1, x2y2) (corners[2]),
 * times the strides, Concat with the class scores, then 8.4's top-K tail
 * (its Div is the exporter's Div_1: Div was folded away), or with --nms
 * its nms=True tail (as yolov8n-640-nms.onnx: the same Detect nodes). */
static int e2e_tail(struct synth *s, const char *const *corners, const char *strd,
                    const char *cls_sig, int64_t n_anchor) {
    Onnx__NodeProto *bx = cvb__synth_node(s, "Concat", 2, corners, 1);
    cvb__synth_attr_int(s, bx, "axis", 1);
    if (bx == NULL) return cvb__synth_rc(s);
    const char *in[2] = {bx->output[0], strd};
    in[0] = named(s, "Mul", "Mul_2", 2, in);
    in[1] = cls_sig;
    Onnx__NodeProto *pred = cvb__synth_node(s, "Concat", 2, in, 1);
    cvb__synth_attr_int(s, pred, "axis", 1);
    if (pred == NULL) return cvb__synth_rc(s);
    cvb__synth_skip_name(s, "Div");
    cvb__synth_e2e_tail(s, pred->output[0], n_anchor);
    return cvb__synth_rc(s);
}

/* Detect's tail after the three levels (scope /model.<n>), to output0
 * [1, 84, N], or with the end-to-end head (cvb__synth_end2end()) corner
 * boxes and 8.4's top-K tail to output0 [1, K, 6] under the exporter's
 * names (yolov10n-e2e), or with --nms corner boxes and the in-graph NMS
 * tail to [1, 300, 6]. Returns 0 or the first error. */
int cvb__synth_detect84_tail(struct synth *s, const char *const *box, const char *const *cls,
                             const struct val *feats) {
    static const int strides[3] = {8, 16, 32};
    char nm[300];
    const char *sc = cvb__synth_scope(s);
    int64_t n_anchor = 0;
    for (int i = 0; i < 3; i++) n_anchor += (int64_t)feats[i].h * feats[i].w;
    Onnx__NodeProto *cb = cvb__synth_node(s, "Concat", 3, box, 1);
    cvb__synth_attr_int(s, cb, "axis", -1);
    Onnx__NodeProto *cc = cvb__synth_node(s, "Concat", 3, cls, 1);
    cvb__synth_attr_int(s, cc, "axis", -1);
    if (cb == NULL || cc == NULL) return cvb__synth_rc(s);

    size_t mark = cvb__synth_scope_push(s, "dfl");
    int64_t sh4[4] = {1, 4, REG_MAX, n_anchor};
    const char *d = cvb__synth_reshape(s, cb->output[0], 4, sh4);
    cvb__synth_scope_pop(s, mark);
    const char *cls_sig = cvb__synth_unary(s, "Sigmoid", cc->output[0]);
    mark = cvb__synth_scope_push(s, "dfl");
    d = cvb__synth_dfl(s, d, n_anchor);
    cvb__synth_scope_pop(s, mark);

    const char *anchors = NULL, *strd = NULL;
    char an[300];
    snprintf(an, sizeof an, "%s/Constant_12_output_0", sc);
    snprintf(nm, sizeof nm, "%s/Constant_15_output_0", sc);
    if (cvb__synth_anchors(s, feats, 3, strides, an, nm, &anchors, &strd) < 0)
        return cvb__synth_rc(s);
    /* dist2bbox(xywh=not end2end, dim=1) * strides, with the exporter's names */
    const char *lt = slice_ch(s, d, 0, 2), *rb = slice_ch(s, d, 2, 4);
    const char *in[2] = {anchors, lt};
    const char *x1y1 = named(s, "Sub", "Sub", 2, in);
    in[1] = rb;
    const char *x2y2 = named(s, "Add", "Add_1", 2, in);
    in[0] = x1y1, in[1] = x2y2;
    if (cvb__synth_end2end(s) || cvb__synth_nms(s))
        return e2e_tail(s, in, strd, cls_sig, n_anchor);
    float two = 2.0f;
    snprintf(nm, sizeof nm, "%s/Constant_14_output_0", sc);
    const char *c2 = cvb__synth_init_f32(s, nm, 0, NULL, &two, 1);
    const char *sum = named(s, "Add", "Add_2", 2, in);
    in[0] = x2y2, in[1] = x1y1;
    const char *wh = named(s, "Sub", "Sub_1", 2, in);
    in[0] = sum, in[1] = c2;
    const char *cxy = named(s, "Div", "Div_1", 2, in);
    in[0] = cxy, in[1] = wh;
    Onnx__NodeProto *bx = cvb__synth_node(s, "Concat", 2, in, 1);
    cvb__synth_attr_int(s, bx, "axis", 1);
    if (bx == NULL) return cvb__synth_rc(s);
    in[0] = bx->output[0], in[1] = strd;
    const char *dbox = named(s, "Mul", "Mul_2", 2, in);
    in[0] = dbox, in[1] = cls_sig;
    Onnx__NodeProto *out = cvb__synth_node(s, "Concat", 2, in, 1);
    cvb__synth_attr_int(s, out, "axis", 1);
    if (out == NULL) return cvb__synth_rc(s);
    out->output[0] = "output0";
    return cvb__synth_rc(s);
}

/* yolov9t.yaml, one row per layer: module, inputs (-1: the previous
 * layer) and its arguments; level >= 0: after the layer, Detect's branches
 * of that level (the exporter's order). */
enum v9_mod { M_CONV, M_ELAN1, M_ELAN4, M_ACONV, M_SPPELAN, M_UP, M_CAT };
static const struct {
    enum v9_mod mod;
    int from, from2;
    int c2, c3, c4, n;
    int level;
} yolov9t[] = {
    {M_CONV, -1, 0, 16, 0, 0, 0, -1},       /* 0-P1/2 */
    {M_CONV, -1, 0, 32, 0, 0, 0, -1},       /* 1-P2/4 */
    {M_ELAN1, -1, 0, 32, 32, 16, 0, -1},    /* 2 */
    {M_ACONV, -1, 0, 64, 0, 0, 0, -1},      /* 3-P3/8 */
    {M_ELAN4, -1, 0, 64, 64, 32, 3, -1},    /* 4 */
    {M_ACONV, -1, 0, 96, 0, 0, 0, -1},      /* 5-P4/16 */
    {M_ELAN4, -1, 0, 96, 96, 48, 3, -1},    /* 6 */
    {M_ACONV, -1, 0, 128, 0, 0, 0, -1},     /* 7-P5/32 */
    {M_ELAN4, -1, 0, 128, 128, 64, 3, -1},  /* 8 */
    {M_SPPELAN, -1, 0, 128, 64, 0, 0, -1},  /* 9 */
    {M_UP, -1, 0, 0, 0, 0, 0, -1},          /* 10 */
    {M_CAT, -1, 6, 0, 0, 0, 0, -1},         /* 11: cat backbone P4 */
    {M_ELAN4, -1, 0, 96, 96, 48, 3, -1},    /* 12 */
    {M_UP, -1, 0, 0, 0, 0, 0, -1},          /* 13 */
    {M_CAT, -1, 4, 0, 0, 0, 0, -1},         /* 14: cat backbone P3 */
    {M_ELAN4, -1, 0, 64, 64, 32, 3, 0},     /* 15 (P3/8) */
    {M_ACONV, -1, 0, 48, 0, 0, 0, -1},      /* 16 */
    {M_CAT, -1, 12, 0, 0, 0, 0, -1},        /* 17: cat head P4 */
    {M_ELAN4, -1, 0, 96, 96, 48, 3, 1},     /* 18 (P4/16) */
    {M_ACONV, -1, 0, 64, 0, 0, 0, -1},      /* 19 */
    {M_CAT, -1, 9, 0, 0, 0, 0, -1},         /* 20: cat head P5 */
    {M_ELAN4, -1, 0, 128, 128, 64, 3, 2},   /* 21 (P5/32) */
};
static struct val v9_layer(struct synth *s, int i, struct val x, const struct val *L) {
    switch (yolov9t[i].mod) {
    case M_CONV: return cvb__synth_conv(s, NULL, x, yolov9t[i].c2, 3, 2, -1, 1, F_ACT, ROLE_PLAIN);
    case M_ELAN1:
    case M_ELAN4: return elan(s, x, yolov9t[i].c2, yolov9t[i].c3, yolov9t[i].c4, yolov9t[i].n);
    case M_ACONV: return aconv(s, x, yolov9t[i].c2);
    case M_SPPELAN: return sppelan(s, x, yolov9t[i].c2, yolov9t[i].c3);
    case M_UP: return cvb__synth_upsample(s, x);
    case M_CAT: {
        struct val xs[2] = {x, L[yolov9t[i].from2]};
        return cvb__synth_concat(s, 2, xs);
    }
    }
    return x;
}

int cvb__synth_build_v9t(struct synth *s) {
    enum { N = sizeof yolov9t / sizeof yolov9t[0] };
    int levels[3] = {0, 0, 0};
    for (int i = 0; i < N; i++)
        if (yolov9t[i].level >= 0) levels[yolov9t[i].level] = i;
    return cvb__synth_build84(s, N, v9_layer, levels, false, false);
}

/* The layers 0 .. n_layers - 1 of a model (scope /model.<i>, layer(i) on
 * the previous layer's output, the image for layer 0), then 8.4's Detect
 * head as layer n_layers on the layers levels[0..2] (P3, P4, P5), each
 * level's branches written right after the layer that feeds it, as the
 * exporter does. dw: the class branch with depthwise convs
 * (cvb__synth_detect84_level()); one2one: v10Detect, whose end-to-end head
 * has branches of its own (one2one_cv2/cv3) that take the one-to-many
 * branches' weights. Returns 0 or the first error. */
int cvb__synth_build84(struct synth *s, int n_layers, cvb__synth_layer_fn layer,
                       const int *levels, bool dw, bool one2one) {
    struct val L[CVB_SYNTH_MAX_LAYERS], feats[3];
    const struct val img = {.name = "images", .c = 3, .h = cvb__synth_imgsz(s),
                            .w = cvb__synth_imgsz(s)};
    const char *box[3] = {NULL, NULL, NULL}, *cls[3] = {NULL, NULL, NULL};
    const char *shapes[2] = {NULL, NULL};
    const char *pre = one2one && cvb__synth_end2end(s) ? "one2one_" : "";
    char comp[24];
    if (n_layers > CVB_SYNTH_MAX_LAYERS || levels[2] >= n_layers)
        return cvb__synth_fail(s, CVB_EINTERNAL, "too many layers");
    for (int i = 0, k = 0; i < n_layers; i++) {
        snprintf(comp, sizeof comp, "model.%d", i);
        size_t mark = cvb__synth_scope_push(s, comp);
        L[i] = layer(s, i, i == 0 ? img : L[i - 1], L);
        cvb__synth_scope_pop(s, mark);
        if (k > 2 || i != levels[k]) continue;
        feats[k] = L[i];
        snprintf(comp, sizeof comp, "model.%d", n_layers);
        mark = cvb__synth_scope_push(s, comp);
        cvb__synth_weights_alias(s, *pre ? pre : NULL);
        cvb__synth_detect84_level(s, k, L[i], L[levels[0]].c, dw, pre, &box[k], &cls[k], shapes);
        cvb__synth_weights_alias(s, NULL);
        cvb__synth_scope_pop(s, mark);
        k++;
    }
    snprintf(comp, sizeof comp, "model.%d", n_layers);
    size_t mark = cvb__synth_scope_push(s, comp);
    int rc = cvb__synth_detect84_tail(s, box, cls, feats);
    cvb__synth_scope_pop(s, mark);
    return rc;
}

/* ---- struct detect84 (synth_internal.h): the head level by level -------- */

struct val cvb__synth_repcsp(struct synth *s, struct val x, int c2, int n) {
    return repcsp(s, x, c2, n);
}
void cvb__synth_det84_level(struct synth *s, struct detect84 *d, int i, struct val x) {
    char comp[16];
    snprintf(comp, sizeof comp, "model.%d", d->layer);
    size_t mark = cvb__synth_scope_push(s, comp);
    d->feats[i] = x;
    detect_level(s, i, x, d->ch0, d->dw, d->peaks && i == 2, d->box_first, "", &d->box[i],
                 &d->cls[i], d->shapes);
    cvb__synth_scope_pop(s, mark);
}
int cvb__synth_det84_tail(struct synth *s, struct detect84 *d) {
    char comp[16];
    snprintf(comp, sizeof comp, "model.%d", d->layer);
    size_t mark = cvb__synth_scope_push(s, comp);
    int rc = cvb__synth_detect84_tail(s, d->box, d->cls, d->feats);
    cvb__synth_scope_pop(s, mark);
    return rc;
}
