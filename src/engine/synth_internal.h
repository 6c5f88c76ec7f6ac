/* SPDX-License-Identifier: Apache-2.0 */
/* Model synthesis internals shared between synth.c (the state, the
 * protobuf pieces, the planted detector, calibration, the v5u/v8/11
 * architectures) and the files with the other architectures' builders
 * (synth_v9.c, synth_v26.c). Not a public interface: struct synth stays opaque outside
 * synth.c; builders reach it through the cvb__synth_* functions below,
 * each a thin wrapper of the synth.c helper of the same name whose
 * contract is written there. */
#ifndef CVB_ENGINE_SYNTH_INTERNAL_H
#define CVB_ENGINE_SYNTH_INTERNAL_H

#include "onnx.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct synth;

enum conv_role { ROLE_PLAIN = 0, ROLE_BOX, ROLE_CLS, ROLE_DFL };

/* What a tensor's planted channels hold (struct val.dkind). */
enum { DK_NONE = 0, DK_COLOUR, DK_PEAK, DK_ZERO };
#define PLANT_MAX_EX 4

/* A 4-D activation [1, c, h, w] flowing between module builders, with
 * where its live planted channels are (channels dpos - 1 ... dpos - 2 +
 * PLANT_K; dpos 0: none), what they hold and the value offset they carry,
 * and groups of planted channels no longer live (ex[i] - 1 ...; 0: unused),
 * which no conv may read; zpos > 0: channels zpos - 1 ... hold exact zeros
 * (F_PLANT_ZSLOT), so that an Add passes the other side's group there. */
struct val {
    const char *name;
    int c, h, w;
    int dpos, dkind;
    float dofs;
    int ex[PLANT_MAX_EX];
    int zpos;
    float dgain; /* the live channels hold dofs + dgain x their meaning (0: gain 1) */
};

/* conv flags */
enum {
    F_ACT = 1, F_BARE = 2, F_NOBIAS = 4,
    F_NOPLANT = 8,         /* never carries planted channels (box branch) */
    F_PLANT_ZERO = 16,     /* residual branch: zeros under the shortcut's planted channels */
    F_PLANT_LOCALMAX = 32, /* SPPF cv2: input is Concat(x, max5(x), max9(x), max13(x)) */
    F_PLANT_GAIN = 64,     /* SPPF cv1 */
    F_PLANT_ZSLOT = 128,   /* zeros in channels 0..K-1, the planted ones moved to K..2K-1:
                              the shortcut around YOLO26's SPPF */
    F_PLANT_BOOST = 256,   /* carries the planted channels on with PLANT_BOOST x their gain */
};

/* Ultralytics Conv 'comp' in the current scope (conv_role() in synth.c). */
struct val cvb__synth_conv(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                           int pad, int g, int flags, enum conv_role role);
struct val cvb__synth_add2(struct synth *s, struct val a, struct val b);
struct val cvb__synth_concat(struct synth *s, int cnt, const struct val *xs);
struct val cvb__synth_upsample(struct synth *s, struct val x);
struct val cvb__synth_maxpool5(struct synth *s, const char *comp, struct val x, bool dilations);
/* Part [off, off + c) of x along channels, produced as tensor 'name'. */
struct val cvb__synth_part(struct val x, const char *name, int off, int c);
size_t cvb__synth_scope_push(struct synth *s, const char *comp);
void cvb__synth_scope_pop(struct synth *s, size_t mark);
const char *cvb__synth_scope(const struct synth *s);
Onnx__NodeProto *cvb__synth_node(struct synth *s, const char *op, int n_in, const char *const *in,
                                 int n_out);
/* Give node n the exporter's name 'name' (its outputs "<name>_output_<i>"). */
void cvb__synth_rename(struct synth *s, Onnx__NodeProto *n, const char *name);
void cvb__synth_attr_int(struct synth *s, Onnx__NodeProto *n, const char *name, int64_t v);
void cvb__synth_attr_ints(struct synth *s, Onnx__NodeProto *n, const char *name, int cnt,
                          const int64_t *v);
/* Initializers; name and data are copied. */
const char *cvb__synth_init_i64(struct synth *s, const char *name, int n, const int64_t *v);
const char *cvb__synth_init_f32(struct synth *s, const char *name, int ndim, const int64_t *dims,
                                const float *v, size_t n);
const char *cvb__synth_reshape(struct synth *s, const char *x, int nd, const int64_t *shape);
const char *cvb__synth_unary(struct synth *s, const char *op, const char *x);
const char *cvb__synth_binary(struct synth *s, const char *op, const char *a, const char *b);
const char *cvb__synth_transpose(struct synth *s, const char *x, int nd, const int64_t *perm);
const char *cvb__synth_softmax(struct synth *s, const char *x, int axis);
/* Detect's shared pieces (contracts in synth.c). */
const char *cvb__synth_dfl(struct synth *s, const char *d, int64_t n_anchor);
int cvb__synth_anchors(struct synth *s, const struct val *feats, int nl, const int *strides,
                       const char *anc_name, const char *str_name, const char **anchors,
                       const char **strd);
int cvb__synth_imgsz(const struct synth *s);
int cvb__synth_rc(const struct synth *s);
int cvb__synth_fail(struct synth *s, int code, const char *what);

/* synth_v9.c: the whole YOLOv9t graph at the synth's imgsz (graph already
 * reset). Returns 0 or the first error. */
int cvb__synth_build_v9t(struct synth *s);
/* C3k2(c2, n, c3k, e) of YOLO11/YOLO12 in the current scope (synth.c's C2f
 * with Bottleneck or C3k blocks, shortcut on). */
struct val cvb__synth_c3k2(struct synth *s, struct val x, int c2, int n, bool c3k, double e);
/* Name output i of node n 'name' (the simplifier's fused nodes keep a name
 * and an output from two different original nodes). */
void cvb__synth_name_output(struct synth *s, Onnx__NodeProto *n, size_t i, const char *name);
/* Record tensor 'name', [areas, heads, N, N] scaled attention logits, for
 * calibration; the last conv created is the block's qkv conv. prescaled:
 * the first MatMul already carries the scale (AAttn). */
void cvb__synth_attn_logits(struct synth *s, const char *name, const int64_t *dims,
                            bool prescaled);
/* Count 'macs' multiply-adds of a MatMul into the model's GFLOPs. */
void cvb__synth_add_macs(struct synth *s, double macs);
/* synth_v9.c: RepCSP(c2, n) = C3k(c2, c2, n, shortcut, e=0.5, k=3) as both
 * export (cv1, cv2, bottlenecks, Concat, cv3) in the current scope; and
 * Ultralytics 8.4's Detect head: the branches of level i written after the
 * layer that feeds them (dw: YOLO11-style class branch), then the tail
 * that makes output0. Contracts in synth_v9.c. */
struct val cvb__synth_repcsp(struct synth *s, struct val x, int c2, int n);
struct detect84 {
    int layer;      /* Detect's layer index (its scope "model.<layer>") */
    int ch0;        /* P3's channels */
    bool dw;        /* YOLO11-style class branch (DWConv + Conv pairs) */
    bool peaks;     /* dw: the last level's class branch hosts the planted
                     * detector's local-max stage (no SPPF: F_PLANT_FANOUT ...) */
    bool box_first; /* a level's box branch convs created before its class
                     * branch's (the exporter interleaves them): synth.c's
                     * v5u/v8/11, whose seeds keep the weights of their 8.3 head */
    const char *box[3], *cls[3], *shapes[2]; /* filled level by level */
    struct val feats[3];
};
void cvb__synth_det84_level(struct synth *s, struct detect84 *d, int i, struct val x);
int cvb__synth_det84_tail(struct synth *s, struct detect84 *d);
/* The planted detector's local-max stage for a model without an SPPF
 * (synth.c, "the planted detector"), in the four convs of the P5 class
 * branch: a depthwise conv thresholds and amplifies each colour channel
 * (F_PLANT_NMSGAIN, tensor kind DK_NMSIN), a 1x1 conv fans each out to
 * PLANT_NMS_CH copies (F_PLANT_FANOUT, DK_FAN), a depthwise 3x3 conv writes
 * each copy's difference to one neighbour (F_PLANT_NBR, DK_NBR), a 1x1 conv
 * turns colour and differences into peak indicators (F_PLANT_PEAKSUM,
 * DK_PEAK). */
enum { DK_FAN = 4, DK_NBR = 5, DK_NMSIN = 6 };
enum { F_PLANT_FANOUT = 1024, F_PLANT_NBR = 2048, F_PLANT_PEAKSUM = 4096, F_PLANT_NMSGAIN = 8192 };
/* synth_v12.c: the whole YOLO12n graph (graph already reset). */
int cvb__synth_build_v12n(struct synth *s);

/* For synth_v10.c (defined at the end of synth.c). */
/* C2f(c1, c2, n, shortcut, g=1, e) in the current scope. */
struct val cvb__synth_c2f(struct synth *s, struct val x, int c2, int n, int shortcut, double e);
/* Attention(dim, heads, attn_ratio=0.5) of PSABlock and PSA, as 8.4
 * exports it (q scaled before the MatMul), in scope "attn" below the
 * current one; registers its logits for calibration. */
struct val cvb__synth_attention(struct synth *s, struct val x, int heads);
/* SPPF(c1, c2, k=5) in the current scope, as 8.4 exports it. */
struct val cvb__synth_sppf(struct synth *s, struct val x, int c2);
/* One Split node of x along 'axis' into cnt parts of sizes[]; output names into out[]. */
int cvb__synth_split(struct synth *s, const char *x, int axis, int cnt, const int64_t *sizes,
                     const char **out);
/* Ultralytics 8.4's end-to-end tail: pred [1, 4 + 80, N] (corner boxes) ->
 * output0 [1, K, 6]; with --nms (cvb__synth_nms()) its nms=True tail ->
 * output0 [1, 300, 6] instead. */
const char *cvb__synth_e2e_tail(struct synth *s, const char *pred, int64_t n_anchor);
/* Use up the exporter's next name for a node of 'op' in the current scope
 * (a node that torch numbered and the simplifier folded away). */
void cvb__synth_skip_name(struct synth *s, const char *op);
/* Whether the graph being built takes the end-to-end head (--end2end). */
bool cvb__synth_end2end(const struct synth *s);
/* Whether it takes the in-graph NMS head (--nms): Detect decodes corner
 * boxes, as for the end-to-end head, and cvb__synth_e2e_tail() ends in NMS. */
bool cvb__synth_nms(const struct synth *s);
/* From now on (until called with NULL) a conv whose node name contains
 * 'from' takes the weights of the conv named without it: v10Detect's
 * one-to-one branch (one2one_cv2/cv3, a deepcopy of cv2/cv3 at init) reuses
 * the weights the one-to-many branch was calibrated with. 'from' is not copied. */
void cvb__synth_weights_alias(struct synth *s, const char *from);
/* Count MACs of a node other than a Conv (MatMul) in the model's GFLOPs. */

/* synth_v9.c: 8.4's Detect head (contracts there), for synth_v10.c too. */
void cvb__synth_detect84_level(struct synth *s, int i, struct val x, int ch0, bool dw,
                               const char *pre, const char **box, const char **cls,
                               const char **shapes);
int cvb__synth_detect84_tail(struct synth *s, const char *const *box, const char *const *cls,
                             const struct val *feats);
/* Layer i of a model in its scope, x the previous layer's output (the
 * image for layer 0), L[0..i) the earlier layers' outputs. */
typedef struct val (*cvb__synth_layer_fn)(struct synth *s, int i, struct val x,
                                          const struct val *L);
#define CVB_SYNTH_MAX_LAYERS 32
/* A whole model: n_layers layers then 8.4's Detect head on levels[0..2]. */
int cvb__synth_build84(struct synth *s, int n_layers, cvb__synth_layer_fn layer,
                       const int *levels, bool dw, bool one2one);

/* synth_v10.c: the whole YOLOv10n graph at the synth's imgsz (graph already
 * reset), with the one-to-one head when end-to-end. Returns 0 or the first
 * error. */
int cvb__synth_build_v10n(struct synth *s);

/* For synth_v26.c. Whether this build ends in the end-to-end tail, and
 * whether --end2end was asked (then every build, calibration's one-to-many
 * ones included, names the head's branches as the final one does). */
bool cvb__synth_end2end(const struct synth *s);
bool cvb__synth_e2e_names(const struct synth *s);
/* Ultralytics 8.4's top-K tail on pred [1, 4 + NC, n_anchor] (corner
 * boxes, sigmoid scores) in the current scope; returns "output0". */
const char *cvb__synth_e2e_tail(struct synth *s, const char *pred, int64_t n_anchor);
/* PSABlock(c, attn_ratio=0.5, num_heads, shortcut=True) 'comp' with
 * Ultralytics 8.4's Attention (q scaled before q^T k). */
struct val cvb__synth_psablock(struct synth *s, const char *comp, struct val x, int heads);
/* The node named 'name' in the graph being built, or NULL. */
Onnx__NodeProto *cvb__synth_find_node(struct synth *s, const char *name);

/* synth_v26.c: the whole YOLO26n graph (graph already reset). Returns 0 or
 * the first error. */
int cvb__synth_build_v26n(struct synth *s);

#endif
