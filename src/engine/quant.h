/* SPDX-License-Identifier: Apache-2.0 */
/* Post-training quantisation internals shared by the engine (engine.c), the
 * oneDNN kernel set (kernels/onednn/dnn.c) and calibration/QDQ export
 * (quant.c). Internal to src/engine/.
 *
 * The scheme (one definition, used by the int8 engine and by the QDQ export,
 * so both compute with the same numbers):
 *  - weights: per output channel, symmetric s8: w_scale[oc] = max|w[oc]| / 127,
 *    q = round-half-even(w / w_scale) clamped to [-127, 127];
 *  - activations (a quantised Conv's input): per tensor, asymmetric u8 over the
 *    calibrated [min, max] widened to include 0: scale = (max - min) / 255,
 *    zp = round(-min / scale) in 0..255 (what ONNX QuantizeLinear computes);
 *  - a quantised Conv's output (pre-activation): the same u8 scheme over its
 *    own calibrated range, used only by the QDQ export (so ONNX Runtime can
 *    fuse QLinearConv); the int8 engine instead writes a conv's output after
 *    its activation, in float32, or in u8 with its readers' input scale when
 *    all its readers are quantised convs (engine.c, plan_u8);
 *  - kept in float32: the stem conv (fewer than 8 input channels: slow in
 *    int8 when its float input must first be quantised; but with a uint8
 *    frame input it reads the frame as its u8 source, see
 *    cvb__quant_select_frame), Convs whose output reaches a graph output through
 *    non-Conv nodes without an activation post-op (the detection head's final
 *    box/class 1x1 convs and the DFL conv), everything that is not a Conv. */
#ifndef CVB_ENGINE_QUANT_H
#define CVB_ENGINE_QUANT_H

#include "engine/ir.h"
#include "engine/passes.h"

#include <stdbool.h>
#include <stdint.h>

/* Quantise the weights of 'oc' output channels of 'per' elements each:
 * q[oc*per + k], scales[oc]. An all-zero channel gets scale 1. */
void cvb__quant_weights(const float *w, int64_t oc, int64_t per, int8_t *q, float *scales);

/* As cvb__quant_weights, but each channel's scale is max|w| / k for the k
 * in 64..127 with the least squared rounding error (ties: the largest k).
 * For convs with few weights per channel, where one weight's rounding is
 * not averaged out: the frame convs (cvb__quant_select_frame; a stem has
 * 27 weights per channel). */
void cvb__quant_weights_fit(const float *w, int64_t oc, int64_t per, int8_t *q, float *scales);

/* u8 scale and zero point for the range [lo, hi] (widened to include 0). */
void cvb__quant_act_params(float lo, float hi, float *scale, int32_t *zp);

/* Which live Convs of a finalized (and possibly fused: 'f' may be NULL)
 * graph are quantised: sel[i] for node i (g->n_nodes entries). A Conv is a
 * candidate when it is 2-D, batch 1, float32, with constant weights, and is
 * not a head output conv (see above). Returns the number selected. */
int cvb__quant_select(const struct cvb_graph *g, const struct cvb__fusion *f, bool *sel);

/* bf16 plans in NHWC only: the live Convs with groups (depthwise) that
 * would otherwise be candidates as in cvb__quant_select(): sel[i] (int8
 * leaves them float32). Returns the number selected. */
int cvb__quant_select_grouped(const struct cvb_graph *g, const struct cvb__fusion *f, bool *sel);

/* uint8 frame input (int8 plans with --input-format u8-nhwc): the Convs
 * reading the model's input tensor 'input' take the caller's frame as their
 * u8 source as is: the model input is frame / 255, exact in u8 with this
 * scale and zero point 0, so they need no calibration entry. */
#define CVB__QUANT_FRAME_SCALE (1.f / 255.f)

/* The live Convs that read tensor 'input' (the model input) directly and
 * are candidates as in cvb__quant_select() whatever their input channel
 * count, with no fused sum: sel[i]. All or nothing: when any reader of
 * 'input' is not such a Conv (input 0), nothing is selected, so the input
 * is either read as uint8 by all its readers or by none. Returns the number
 * selected. The calibration tool never calls this: its float32 selection
 * stays cvb__quant_select(). */
int cvb__quant_select_frame(const struct cvb_graph *g, const struct cvb__fusion *f, int input,
                            bool *sel);

/* One quantised Conv's calibration record ('conv' line), with its optional
 * 'convout' line (the Conv's pre-activation output range, used by the QDQ
 * export; absent in files written before it existed: has_out false). */
struct cvb__calib_entry {
    char *node;   /* Conv node name */
    char *tensor; /* its input tensor name (ONNX name) */
    float lo, hi; /* observed range */
    float scale;
    int32_t zp;
    bool has_out;
    char *out_tensor; /* the Conv's output tensor name, or NULL */
    float out_lo, out_hi, out_scale;
    int32_t out_zp;
};

struct cvb__calib_table {
    char model_sha256[65];
    char method[32];
    int imgsz;
    int n_frames;
    int n;
    struct cvb__calib_entry *e;
};

/* Read a calibration file written by cvb_calib_save(). 'model_sha256' is the
 * model's hash: a file made for another model is refused (CVB_EINVAL, naming
 * both). On success fills *t (free with cvb__calib_table_cleanup). */
int cvb__calib_load(const char *path, const char *model_sha256, struct cvb__calib_table *t,
                    struct cvb_err *err);
void cvb__calib_table_cleanup(struct cvb__calib_table *t);
/* Entry for Conv node 'node', or NULL. */
const struct cvb__calib_entry *cvb__calib_find(const struct cvb__calib_table *t, const char *node);

/* ---- engine hooks for calibration (engine.c) ---- */
struct cvb_engine;
/* Called before each live node runs, with its input buffers (in the layout
 * the plan chose; every float32 4-D activation is dense, numel floats). */
typedef void (*cvb__engine_tap)(void *user, const struct cvb_graph *g, int node,
                                const void *const *in);
void cvb__engine_set_tap(struct cvb_engine *e, cvb__engine_tap fn, void *user);
const struct cvb_graph *cvb__engine_graph(const struct cvb_engine *e);
const struct cvb__fusion *cvb__engine_fusion(const struct cvb_engine *e);
/* SHA-256 (hex) of the model bytes the engine was loaded from. */
const char *cvb__engine_sha256(const struct cvb_engine *e);

#endif
