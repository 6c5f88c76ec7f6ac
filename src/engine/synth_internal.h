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
