/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model synth --arch yolov10n [--end2end]`: the YOLOv10n graph as
 * Ultralytics 8.4's ONNX export writes it (torch exporter, opset 17,
 * simplify=True), node for node, derived from
 * ultralytics/cfg/models/v10/yolov10n.yaml and ultralytics/nn/modules/
 * {block.py, head.py} and checked against real 8.4.190 exports (op
 * histogram, parameters, node names and wiring):
 *   C2f, SPPF     as YOLOv8's (synth.c);
 *   SCDown        cv1 (Conv 1x1), cv2 (depthwise Conv 3x3 stride 2, no act);
 *   PSA           cv1, Split in two, Attention on the second part (YOLO11's,
 *                 synth.c: qkv conv, Reshape, Split, q times kd^-0.5 (8.4
 *                 scales q before the MatMul), Transpose, MatMul, Softmax,
 *                 Transpose, MatMul, Reshape, depthwise positional conv on
 *                 v, Add, proj) + x, an FFN of two convs + x, Concat, cv2;
 *   C2fCIB        C2f whose blocks are CIB: cv1 = DWConv 3x3, Conv 1x1,
 *                 RepVGGDW (exported fused: one depthwise 7x7 Conv + SiLU),
 *                 Conv 1x1, DWConv 3x3; + x;
 *   v10Detect     8.4's Detect head (synth_v9.c: box and class maps reshaped
 *                 apart, level branches written after the layer that feeds
 *                 them) with YOLO11's class branch (DWConv + Conv, twice).
 *                 The plain export (nms=None) is the one-to-many branch
 *                 (cv2/cv3) to [1, 84, N]; --end2end (nms=False) the
 *                 one-to-one branch (one2one_cv2/cv3) with corner boxes and
 *                 8.4's top-K tail to [1, K, 6].
 * Weights, calibration and the planted detector are synth.c's: the planted
 * channels run stem -> backbone (through SCDown's depthwise conv) -> SPPF
 * (peaks) -> PSA's first part -> model.21's Concat -> model.22's first part
 * -> the P5 class branch, as in YOLO11. Calibration runs the plain graph;
 * the one-to-one branch takes the one-to-many branch's weights
 * (cvb__synth_weights_alias()), as Ultralytics' deepcopy does at init, so an
 * --end2end model's rows are the top-K (anchor, class) scores of the plain
 * model with the same seed. */
#include "synth_internal.h"

#include <stdio.h>

#define NC 80

static struct val cv(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                     int g, int flags) {
    return cvb__synth_conv(s, comp, x, c2, k, st, -1, g, flags, ROLE_PLAIN);
}

/* SCDown(c1, c2, k=3, s=2). */
static struct val scdown(struct synth *s, struct val x, int c2) {
    struct val y = cv(s, "cv1", x, c2, 1, 1, 1, F_ACT);
    return cv(s, "cv2", y, c2, 3, 2, c2, 0);
}

/* PSA(c1, c2, e=0.5). */
static struct val psa(struct synth *s, struct val x) {
    const int c = x.c / 2;
    struct val y0 = cv(s, "cv1", x, 2 * c, 1, 1, 1, F_ACT);
    const char *parts[2] = {NULL, NULL};
    const int64_t sizes[2] = {c, c};
    if (cvb__synth_split(s, y0.name, 1, 2, sizes, parts) < 0) return y0;
    struct val a = cvb__synth_part(y0, parts[0], 0, c), b = cvb__synth_part(y0, parts[1], c, c);
    b = cvb__synth_add2(s, b, cvb__synth_attention(s, b, c / 64 > 1 ? c / 64 : 1));
    size_t mark = cvb__synth_scope_push(s, "ffn");
    struct val f = cv(s, "ffn.0", b, 2 * c, 1, 1, 1, F_ACT);
    f = cv(s, "ffn.1", f, c, 1, 1, 1, 0);
    cvb__synth_scope_pop(s, mark);
    b = cvb__synth_add2(s, b, f);
    struct val cat[2] = {a, b};
    return cv(s, "cv2", cvb__synth_concat(s, 2, cat), x.c, 1, 1, 1, F_ACT);
}

/* CIB(c, c, shortcut=True, e=1.0, lk=True) 'comp' in the current scope. */
static struct val cib(struct synth *s, const char *comp, struct val x) {
    size_t mark = cvb__synth_scope_push(s, comp);
    size_t m2 = cvb__synth_scope_push(s, "cv1");
    const int c = x.c;
    struct val y = cv(s, "cv1.0", x, c, 3, 1, c, F_ACT);
    y = cv(s, "cv1.1", y, 2 * c, 1, 1, 1, F_ACT);
    y = cv(s, "cv1.2", y, 2 * c, 7, 1, 2 * c, F_ACT); /* RepVGGDW, fused */
    y = cv(s, "cv1.3", y, c, 1, 1, 1, F_ACT);
    y = cv(s, "cv1.4", y, c, 3, 1, c, F_ACT | F_PLANT_ZERO);
    cvb__synth_scope_pop(s, m2);
    y = cvb__synth_add2(s, x, y);
    cvb__synth_scope_pop(s, mark);
    return y;
}

/* C2fCIB(c1, c2, n, shortcut=True, lk=True, e=0.5) in the current scope. */
static struct val c2fcib(struct synth *s, struct val x, int c2, int n) {
    const int c = c2 / 2;
    struct val y0 = cv(s, "cv1", x, 2 * c, 1, 1, 1, F_ACT);
    const char *parts[2] = {NULL, NULL};
    const int64_t sizes[2] = {c, c};
    if (cvb__synth_split(s, y0.name, 1, 2, sizes, parts) < 0) return y0;
    struct val ys[6];
    int ny = 0;
    ys[ny++] = cvb__synth_part(y0, parts[0], 0, c);
    ys[ny++] = cvb__synth_part(y0, parts[1], c, c);
    for (int i = 0; i < n && ny < 6; i++, ny++) {
        char comp[16];
        snprintf(comp, sizeof comp, "m.%d", i);
        ys[ny] = cib(s, comp, ys[ny - 1]);
    }
    return cv(s, "cv2", cvb__synth_concat(s, ny, ys), c2, 1, 1, 1, F_ACT);
}

/* yolov10n.yaml at scale n (width 0.25, depth 0.33: channels and repeats
 * already scaled), one row per layer: module, the second input of a Concat,
 * output channels, repeats, shortcut. v10Detect reads layers 16, 19, 22. */
enum v10_mod { M_CONV, M_C2F, M_SCDOWN, M_SPPF, M_PSA, M_UP, M_CAT, M_C2FCIB };
static const struct {
    enum v10_mod mod;
    int from2, c2, n, shortcut;
} yolov10n[] = {
    {M_CONV, 0, 16, 0, 0},    /* 0-P1/2 */
    {M_CONV, 0, 32, 0, 0},    /* 1-P2/4 */
    {M_C2F, 0, 32, 1, 1},     /* 2 */
    {M_CONV, 0, 64, 0, 0},    /* 3-P3/8 */
    {M_C2F, 0, 64, 2, 1},     /* 4 */
    {M_SCDOWN, 0, 128, 0, 0}, /* 5-P4/16 */
    {M_C2F, 0, 128, 2, 1},    /* 6 */
    {M_SCDOWN, 0, 256, 0, 0}, /* 7-P5/32 */
    {M_C2F, 0, 256, 1, 1},    /* 8 */
    {M_SPPF, 0, 256, 0, 0},   /* 9 */
    {M_PSA, 0, 256, 0, 0},    /* 10 */
    {M_UP, 0, 0, 0, 0},       /* 11 */
    {M_CAT, 6, 0, 0, 0},      /* 12: cat backbone P4 */
    {M_C2F, 0, 128, 1, 0},    /* 13 */
    {M_UP, 0, 0, 0, 0},       /* 14 */
    {M_CAT, 4, 0, 0, 0},      /* 15: cat backbone P3 */
    {M_C2F, 0, 64, 1, 0},      /* 16 (P3/8-small) */
    {M_CONV, 0, 64, 0, 0},    /* 17 */
    {M_CAT, 13, 0, 0, 0},     /* 18: cat head P4 */
    {M_C2F, 0, 128, 1, 0},     /* 19 (P4/16-medium) */
    {M_SCDOWN, 0, 128, 0, 0}, /* 20 */
    {M_CAT, 10, 0, 0, 0},     /* 21: cat head P5 */
    {M_C2FCIB, 0, 256, 1, 1},  /* 22 (P5/32-large) */
};
static struct val v10_layer(struct synth *s, int i, struct val x, const struct val *L) {
    switch (yolov10n[i].mod) {
    case M_CONV: return cv(s, NULL, x, yolov10n[i].c2, 3, 2, 1, F_ACT);
    case M_C2F:
        return cvb__synth_c2f(s, x, yolov10n[i].c2, yolov10n[i].n, yolov10n[i].shortcut, 0.5);
    case M_SCDOWN: return scdown(s, x, yolov10n[i].c2);
    case M_SPPF: return cvb__synth_sppf(s, x, yolov10n[i].c2);
    case M_PSA: return psa(s, x);
    case M_UP: return cvb__synth_upsample(s, x);
    case M_CAT: {
        struct val xs[2] = {x, L[yolov10n[i].from2]};
        return cvb__synth_concat(s, 2, xs);
    }
    case M_C2FCIB: return c2fcib(s, x, yolov10n[i].c2, yolov10n[i].n);
    }
    return x;
}

int cvb__synth_build_v10n(struct synth *s) {
    static const int levels[3] = {16, 19, 22}; /* P3, P4, P5 */
    return cvb__synth_build84(s, (int)(sizeof yolov10n / sizeof yolov10n[0]), v10_layer, levels,
                              true, true);
}
