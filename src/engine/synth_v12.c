/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model synth --arch yolo12n`: the YOLO12n graph as Ultralytics
 * 8.4's ONNX export writes it (torch exporter, opset 17, simplify=True),
 * node for node, derived from ultralytics/cfg/models/12/yolo12.yaml at
 * scale n and ultralytics/nn/modules/block.py, checked against a real
 * 8.4.190 export (op histogram, parameters, names, wiring):
 *   C3k2    as YOLO11's (synth.c): cv1, Split, Bottleneck or C3k, Concat, cv2;
 *   A2C2f   cv1, n blocks each fed the previous one's output, Concat of cv1
 *           and every block's output, cv2 (no Split); a block is
 *           Sequential(ABlock, ABlock) with area attention (a2) or C3k
 *           (cv1, cv2, two Bottlenecks 3x3, Concat, cv3: as RepCSP exports);
 *   ABlock  x + AAttn(x), then x + mlp(x) (Conv 1x1 + SiLU, Conv 1x1);
 *   AAttn   qkv (Conv 1x1, no act) to 3 x dim, flattened and transposed to
 *           [1, N, 3 dim], split into 'area' strips of N / area positions
 *           (batch areas), per head q, k, v (Split of head_dim each),
 *           softmax((q hd^-0.5)^T k) over the strip, v @ attn^T, back to
 *           [1, dim, H, W], plus pe (7x7 depthwise conv, no act) of v, proj
 *           (Conv 1x1, no act). The simplifier merges the exporter's
 *           Reshape pairs (and, with one area, Reshape-Transpose-Reshape-
 *           Transpose into one Reshape); the merged node keeps the first
 *           one's name and the last one's output (aattn() below);
 *   Detect  8.4's head with YOLO11's class branch (synth_v9.c).
 * No SPPF: the planted detector's peaks (synth.c) need one, see
 * cvb__synth_build_v12n(). */
#include "synth_internal.h"

#include "cvb/common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A node of 'op' on in[0..n_in) in the current scope named
 * "<scope>/<name>", its output "<scope>/<out>" (out NULL: "<name>_output_0"). */
static Onnx__NodeProto *op_named(struct synth *s, const char *op, const char *name,
                                 const char *out, int n_in, const char *const *in) {
    char nm[300];
    Onnx__NodeProto *n = cvb__synth_node(s, op, n_in, in, 1);
    snprintf(nm, sizeof nm, "%s/%s", cvb__synth_scope(s), name);
    cvb__synth_rename(s, n, nm);
    if (out != NULL) {
        snprintf(nm, sizeof nm, "%s/%s", cvb__synth_scope(s), out);
        cvb__synth_name_output(s, n, 0, nm);
    }
    return n;
}

static const char *transpose_named(struct synth *s, const char *name, const char *x, int nd,
                                   const int64_t *perm) {
    const char *in[1] = {x};
    Onnx__NodeProto *n = op_named(s, "Transpose", name, NULL, 1, in);
    cvb__synth_attr_ints(s, n, "perm", nd, perm);
    return n ? n->output[0] : NULL;
}

/* Reshape of x to shape[0..nd) named 'name' (output 'out', see op_named). */
static const char *reshape_named(struct synth *s, const char *name, const char *out,
                                 const char *x, int nd, const int64_t *shape) {
    char nm[300];
    snprintf(nm, sizeof nm, "%s/%s_shape", cvb__synth_scope(s), name);
    const char *in[2] = {x, cvb__synth_init_i64(s, nm, nd, shape)};
    Onnx__NodeProto *n = op_named(s, "Reshape", name, out, 2, in);
    cvb__synth_attr_int(s, n, "allowzero", 0);
    return n ? n->output[0] : NULL;
}

static const char *binary_named(struct synth *s, const char *op, const char *name, const char *a,
                                const char *b) {
    const char *in[2] = {a, b};
    Onnx__NodeProto *n = op_named(s, op, name, NULL, 2, in);
    return n ? n->output[0] : NULL;
}

/* AAttn(dim, heads, area) in scope "attn", as the simplified export writes
 * it (node order and names of the real export). The planted channels of x
 * are not read (the qkv conv isolates them), and the output carries none. */
static struct val aattn(struct synth *s, struct val x, int heads, int area) {
    static const int64_t p0312[4] = {0, 3, 1, 2}, p0132[4] = {0, 1, 3, 2};
    size_t mark = cvb__synth_scope_push(s, "attn");
    const int dim = x.c, hd = dim / heads;
    const int64_t n_pos = (int64_t)x.h * x.w, n_area = n_pos / area;
    const char *sc = cvb__synth_scope(s);
    char nm[300];
    struct val qkv = cvb__synth_conv(s, "qkv", x, 3 * dim, 1, 1, -1, 1, F_NOPLANT, ROLE_PLAIN);
    const char *t;
    if (area > 1) {
        const int64_t sh0[3] = {1, 3 * dim, -1}, sh1[4] = {area, n_area, heads, 3 * hd};
        static const int64_t p021[3] = {0, 2, 1}, p0231[4] = {0, 2, 3, 1};
        t = reshape_named(s, "Reshape", NULL, qkv.name, 3, sh0);
        t = transpose_named(s, "Transpose", t, 3, p021);
        t = reshape_named(s, "Reshape_1_output_0", "Reshape_2_output_0", t, 4, sh1);
        t = transpose_named(s, "Transpose_1", t, 4, p0231);
    } else { /* [1, 3 dim, N] -> [1, heads, 3 hd, N] is a plain reshape */
        const int64_t sh[4] = {1, heads, 3 * hd, n_pos};
        t = reshape_named(s, "Reshape_output_0", "Transpose_1_output_0", qkv.name, 4, sh);
    }
    /* q, k, v [areas, heads, hd, N / area] */
    snprintf(nm, sizeof nm, "%s/Split_sizes", sc);
    const int64_t sizes[3] = {hd, hd, hd};
    const char *sin[2] = {t, cvb__synth_init_i64(s, nm, 3, sizes)};
    Onnx__NodeProto *sp = cvb__synth_node(s, "Split", 2, sin, 3); /* "<attn>/Split" */
    cvb__synth_attr_int(s, sp, "axis", 2);
    if (sp == NULL) goto out;
    const char *q = sp->output[0], *k = sp->output[1], *v = sp->output[2];
    float scale = (float)pow(hd, -0.5);
    snprintf(nm, sizeof nm, "%s/Mul_scale", sc);
    const char *qs = binary_named(s, "Mul", "Mul", q, cvb__synth_init_f32(s, nm, 0, NULL, &scale, 1));
    const char *vt = transpose_named(s, "Transpose_5", v, 4, p0312);
    const char *qt = transpose_named(s, "Transpose_2", qs, 4, p0132);
    const int64_t shw[4] = {1, x.h, x.w, dim};
    const char *vr = area > 1 ? reshape_named(s, "Reshape_4_output_0", "Reshape_6_output_0", vt, 4, shw)
                              : reshape_named(s, "Reshape_3", NULL, vt, 4, shw);
    const char *logits = binary_named(s, "MatMul", "MatMul", qt, k);
    const int64_t ad[4] = {area, heads, n_area, n_area};
    cvb__synth_attn_logits(s, logits, ad, true);
    cvb__synth_add_macs(s, 2.0 * (double)area * heads * n_area * n_area * hd); /* both MatMuls */
    const char *v4 = transpose_named(s, "Transpose_7", vr, 4, p0312);
    const char *smin[1] = {logits};
    Onnx__NodeProto *sm = op_named(s, "Softmax", "Softmax", NULL, 1, smin);
    cvb__synth_attr_int(s, sm, "axis", -1);
    if (sm == NULL) goto out;
    struct val vv = {.name = v4, .c = dim, .h = x.h, .w = x.w};
    struct val pe = cvb__synth_conv(s, "pe", vv, dim, 7, 1, 3, dim, 0, ROLE_PLAIN);
    const char *at = transpose_named(s, "Transpose_3", sm->output[0], 4, p0132);
    const char *o = binary_named(s, "MatMul", "MatMul_1", v, at);
    o = transpose_named(s, "Transpose_4", o, 4, p0312);
    o = area > 1 ? reshape_named(s, "Reshape_3_output_0", "Reshape_5_output_0", o, 4, shw)
                 : reshape_named(s, "Reshape_2", NULL, o, 4, shw);
    o = transpose_named(s, "Transpose_6", o, 4, p0312);
    struct val sum = {.name = binary_named(s, "Add", "Add", o, pe.name), .c = dim, .h = x.h,
                      .w = x.w};
    struct val y = cvb__synth_conv(s, "proj", sum, dim, 1, 1, -1, 1, 0, ROLE_PLAIN);
    cvb__synth_scope_pop(s, mark);
    return y;
out:
    cvb__synth_scope_pop(s, mark);
    return (struct val){.name = NULL};
}

/* ABlock(dim, heads, mlp_ratio=2, area) 'comp' in the current scope. */
static struct val ablock(struct synth *s, const char *comp, struct val x, int heads, int area) {
    size_t mark = cvb__synth_scope_push(s, comp);
    x = cvb__synth_add2(s, x, aattn(s, x, heads, area));
    size_t m2 = cvb__synth_scope_push(s, "mlp");
    struct val f = cvb__synth_conv(s, "mlp.0", x, 2 * x.c, 1, 1, -1, 1, F_ACT | F_NOPLANT,
                                   ROLE_PLAIN);
    f = cvb__synth_conv(s, "mlp.1", f, x.c, 1, 1, -1, 1, 0, ROLE_PLAIN);
    cvb__synth_scope_pop(s, m2);
    x = cvb__synth_add2(s, x, f);
    cvb__synth_scope_pop(s, mark);
    return x;
}

/* A2C2f(c2, n, a2, area) in the current scope (e = 0.5, mlp_ratio 2, no
 * residual gamma at scale n). */
static struct val a2c2f(struct synth *s, struct val x, int c2, int n, bool a2, int area) {
    const int c_ = c2 / 2;
    struct val ys[4];
    int ny = 0;
    ys[ny++] = cvb__synth_conv(s, "cv1", x, c_, 1, 1, -1, 1, F_ACT, ROLE_PLAIN);
    for (int i = 0; i < n && ny < 4; i++) {
        char comp[16], sub[24];
        snprintf(comp, sizeof comp, "m.%d", i);
        size_t mark = cvb__synth_scope_push(s, comp);
        struct val y = ys[ny - 1];
        if (a2) {
            for (int j = 0; j < 2; j++) {
                snprintf(sub, sizeof sub, "m.%d.%d", i, j);
                y = ablock(s, sub, y, c_ / 32, area);
            }
        } else {
            y = cvb__synth_repcsp(s, y, c_, 2); /* C3k(c_, c_, 2, shortcut) */
        }
        cvb__synth_scope_pop(s, mark);
        ys[ny++] = y;
    }
    return cvb__synth_conv(s, "cv2", cvb__synth_concat(s, ny, ys), c2, 1, 1, -1, 1, F_ACT,
                           ROLE_PLAIN);
}

/* yolo12.yaml at scale n (depth 0.5, width 0.25), one row per layer:
 * module, second input of a Concat, output channels, repeats (scaled), C3k2's c3k and
 * e, A2C2f's a2 and area; level >= 0: Detect's branches of that level
 * follow the layer (the exporter's order). */
enum v12_mod { M_CONV, M_C3K2, M_A2C2F, M_UP, M_CAT };
static const struct {
    enum v12_mod mod;
    int from2, c2, n;
    bool flag; /* C3k2: c3k; A2C2f: a2 */
    int area;  /* A2C2f */
    double e;  /* C3k2 */
    int level;
} yolo12n[] = {
    {M_CONV, 0, 16, 0, false, 0, 0, -1},        /* 0-P1/2 */
    {M_CONV, 0, 32, 0, false, 0, 0, -1},        /* 1-P2/4 */
    {M_C3K2, 0, 64, 1, false, 0, 0.25, -1},     /* 2 */
    {M_CONV, 0, 64, 0, false, 0, 0, -1},        /* 3-P3/8 */
    {M_C3K2, 0, 128, 1, false, 0, 0.25, -1},    /* 4 */
    {M_CONV, 0, 128, 0, false, 0, 0, -1},       /* 5-P4/16 */
    {M_A2C2F, 0, 128, 2, true, 4, 0, -1},       /* 6 */
    {M_CONV, 0, 256, 0, false, 0, 0, -1},       /* 7-P5/32 */
    {M_A2C2F, 0, 256, 2, true, 1, 0, -1},       /* 8 */
    {M_UP, 0, 0, 0, false, 0, 0, -1},           /* 9 */
    {M_CAT, 6, 0, 0, false, 0, 0, -1},          /* 10: cat backbone P4 */
    {M_A2C2F, 0, 128, 1, false, 0, 0, -1},      /* 11 */
    {M_UP, 0, 0, 0, false, 0, 0, -1},           /* 12 */
    {M_CAT, 4, 0, 0, false, 0, 0, -1},          /* 13: cat backbone P3 */
    {M_A2C2F, 0, 64, 1, false, 0, 0, 0},        /* 14 (P3/8) */
    {M_CONV, 0, 64, 0, false, 0, 0, -1},        /* 15 */
    {M_CAT, 11, 0, 0, false, 0, 0, -1},         /* 16: cat head P4 */
    {M_A2C2F, 0, 128, 1, false, 0, 0, 1},       /* 17 (P4/16) */
    {M_CONV, 0, 128, 0, false, 0, 0, -1},       /* 18 */
    {M_CAT, 8, 0, 0, false, 0, 0, -1},          /* 19: cat head P5 */
    {M_C3K2, 0, 256, 1, true, 0, 0.5, 2},       /* 20 (P5/32) */
};
#define V12_DETECT 21
#define V12_P3 14

int cvb__synth_build_v12n(struct synth *s) {
    enum { N = sizeof yolo12n / sizeof yolo12n[0] };
    struct val L[N];
    struct val x = {.name = "images", .c = 3, .h = cvb__synth_imgsz(s), .w = cvb__synth_imgsz(s)};
    struct detect84 det = {.layer = V12_DETECT, .dw = true, .peaks = true, .ch0 = yolo12n[V12_P3].c2};
    char comp[16];
    for (int i = 0; i < N; i++) {
        snprintf(comp, sizeof comp, "model.%d", i);
        size_t mark = cvb__synth_scope_push(s, comp);
        const int c2 = yolo12n[i].c2, n = yolo12n[i].n;
        if (yolo12n[i].mod == M_CONV) {
            x = cvb__synth_conv(s, NULL, x, c2, 3, 2, -1, 1, F_ACT, ROLE_PLAIN);
        } else if (yolo12n[i].mod == M_C3K2) {
            x = cvb__synth_c3k2(s, x, c2, n, yolo12n[i].flag, yolo12n[i].e);
        } else if (yolo12n[i].mod == M_A2C2F) {
            x = a2c2f(s, x, c2, n, yolo12n[i].flag, yolo12n[i].area);
        } else if (yolo12n[i].mod == M_UP) {
            x = cvb__synth_upsample(s, x);
        } else {
            struct val xs[2] = {x, L[yolo12n[i].from2]};
            x = cvb__synth_concat(s, 2, xs);
        }
        cvb__synth_scope_pop(s, mark);
        L[i] = x;
        if (yolo12n[i].level >= 0) cvb__synth_det84_level(s, &det, yolo12n[i].level, x);
    }
    return cvb__synth_det84_tail(s, &det);
}
