/* SPDX-License-Identifier: Apache-2.0 */
/* Extensions of the oneDNN kernel set used by the fused executor (engine.c).
 *
 * ir.h declares the node-at-a-time ABI (every activation plain, dense).
 * The executor's oneDNN plan instead gives each run-time tensor a layout
 * (plain row-major, or blocked nChw16c for 4-D f32 batch-1 tensors whose
 * channel count is a multiple of 16), fuses post-ops into convolutions and
 * makes channel Concat/Split members views of one buffer. It describes
 * that to prepare through struct cvb__dnn_io. Internal to src/engine/. */
#ifndef CVB_ENGINE_DNN_H
#define CVB_ENGINE_DNN_H

#include "engine/ir.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BLK16 = nChw16c (AVX-512 kernels), BLK8 = nChw8c (AVX2 kernels), NHWC =
 * channels last (the layout int8 convolutions need: oneDNN 2.6 runs int8 in
 * nChw16c on reference kernels only). In NHWC a channel slice is strided, so
 * Concat/Split members are never views there. */
enum cvb__layout {
    CVB__LAYOUT_PLAIN = 0,
    CVB__LAYOUT_BLK16 = 1,
    CVB__LAYOUT_BLK8 = 2,
    CVB__LAYOUT_NHWC = 3
};

/* Elements of 4-D activation 't' as stored in 'layout': a blocked tensor
 * whose channel count is no multiple of the block holds zero channels up
 * to the next block (oneDNN's padded dims); other layouts hold numel. */
static inline int64_t cvb__act_elems(const struct cvb_tensor *t, int layout) {
    int64_t b = layout == CVB__LAYOUT_BLK16 ? 16 : layout == CVB__LAYOUT_BLK8 ? 8 : 1;
    if (b == 1 || t->ndim != 4 || t->dims[1] % b == 0) return t->numel;
    return t->numel / t->dims[1] * ((t->dims[1] + b - 1) / b * b);
}

/* Numeric precision of one convolution. */
enum cvb__prec { CVB__PREC_F32 = 0, CVB__PREC_BF16, CVB__PREC_INT8 };

/* How a Conv computes. INT8: its float input is quantised on the way in
 * (q = round(x / src_scale) + src_zp, saturated to u8), weights are
 * quantised per output channel, symmetric s8 (cvb__quant_weights), the
 * accumulator is rescaled to float32 by src_scale * w_scale[oc] before the
 * fused post-ops. BF16: input and weights rounded to bfloat16, float32
 * accumulation and output. */
struct cvb__dnn_quant {
    int prec; /* enum cvb__prec */
    float src_scale;
    int32_t src_zp;
    bool w_fit; /* int8: weight scales by cvb__quant_weights_fit (frame convs) */
    /* bf16, a Conv reading the uint8 frame (NHWC plans): its source is the
     * frame stored by cvb__dnn_prepare_u8_input(bf16x2) as 2C bfloat16
     * channels [x, x] (x the byte's value: exact), its weights are
     * [hi, lo] with hi + lo = w / 255 (hi = w / 255 rounded to bfloat16,
     * lo the rest, rounded too): float32's result within ~2^-16 of the
     * weights, where one bfloat16 rounding of the input and weights moved
     * boxes of the precision guard's photos */
    bool frame_x2;
};

/* How an NHWC activation is stored in an int8 plan: float32 (u8 false), or
 * uint8 with x ~ (q - zp) * scale, the per-tensor scheme of quant.h. Only
 * int8 Convs and channel Concats read or write uint8 tensors; the executor
 * (engine.c) guarantees every reader of a uint8 tensor expects exactly its
 * scale and zero point. The model input may be one ({u8, 1/255, 0}): the
 * caller's uint8 NHWC frame, read in place by int8 Convs, never written. */
struct cvb__dnn_act {
    bool u8;
    float scale;
    int32_t zp;
    /* bf16 plans: stored as bfloat16 (NHWC), written by a bf16 Conv or a
     * Concat/Split/MaxPool/Resize whose tensors are all bfloat16, read by
     * bf16 Convs or such nodes: the executor guarantees no other node
     * touches it (engine.c, plan_bf16) */
    bool bf16;
};

/* Post-ops of a fused Conv. SUM: the conv adds its result to what its
 * output buffer holds (the executor made the output alias the addend). */
enum {
    CVB__POST_SWISH = 1u,
    CVB__POST_RELU = 2u,
    CVB__POST_SUM = 4u,
    /* MatMul: input 0 / 1 is the tensor before a Transpose of its last two
     * axes (the passes removed that Transpose; the kernel reads the
     * transposed operand through strides) */
    CVB__POST_TRANS_A = 8u,
    CVB__POST_TRANS_B = 16u,
    /* MatMul y = A B^T (TRANS_B, not TRANS_A): y's buffer holds y with its
     * last two axes swapped, dense, computed as B A^T; the one reader of y,
     * a Transpose, reads it so (CVB__POST_READ_T) */
    CVB__POST_STORE_T = 32u,
    CVB__POST_READ_T = 64u,
    /* Transpose: reads its input at the strides in io->src_strides (a
     * Transpose -> Reshape -> Transpose chain composed by the passes) */
    CVB__POST_STRIDED = 128u,
    /* Conv (1x1, one output channel): the DFL. Its input 0 is the tensor
     * before a Transpose of axes 1 and 2 and a Softmax over the bins (the
     * passes removed both): y[n][0][a][i] = bias + sum_b w[b] * softmax_b
     * x[n][a][b][i] (cvb__vec_dfl), plain layout */
    CVB__POST_DFL = 256u
};

struct cvb__dnn_io {
    const uint8_t *layout; /* per graph tensor: enum cvb__layout */
    unsigned post;         /* Conv: CVB__POST_SWISH/RELU/SUM; MatMul: _TRANS_A/B, _STORE_T;
                            * Transpose: _READ_T */
    /* Concat (inputs) / Split (outputs) in "view" mode: member i is already
     * in place (view[i]) or is copied to/from byte offset off[i] of the
     * concatenated tensor. NULL: not view mode. Members are dense slices
     * of the whole tensor (batch 1), in the whole tensor's layout. */
    const bool *view;
    const size_t *off;
    const struct cvb__dnn_quant *quant; /* Conv only; NULL: float32 */
    /* per graph tensor storage (int8 plans), or NULL: every activation is
     * float32. A uint8 Conv input is read as is (no quantise step; its
     * scale and zero point are the Conv's quant src_scale/src_zp); a uint8
     * Conv output is written quantised after the post-ops; a Concat with a
     * uint8 output quantises its float32 members (or copies uint8 members
     * with the same scale and zero point) into the channel slices. */
    const struct cvb__dnn_act *act;
    /* CVB__POST_STRIDED: element strides of the input, per output axis */
    const int64_t *src_strides;
    /* Conv only (int8, no groups): the channel Split of its output is done
     * here. The Conv writes output channel slices, in order, straight into
     * these n_split_out tensors (the Split's outputs), which the executor
     * passes as out[0..n_split_out) at run time; its own output tensor is
     * never materialised. 0: a plain Conv. */
    const int *split_out;
    int n_split_out;
};

/* Tests only: while on, every Conv with a fused sum is refused
 * (CVB_EUNSUPPORTED), so tests reach the engine's per-node retreat. Process-
 * wide, not thread-safe: set it before loading, clear it after. */
void cvb__dnn_test_refuse_sum(bool on);
/* Tests only, likewise: every MatMul with a folded Transpose
 * (CVB__POST_TRANS_A/B) is refused, so tests reach the per-node retreat of
 * a node that is not a Conv. */
void cvb__dnn_test_refuse_matmul_trans(bool on);
/* Tests only, likewise: no Conv takes the Winograd kernels (all direct), so
 * tests can compare the two on one model. */
void cvb__dnn_test_no_winograd(bool on);
/* Tests only, likewise: SiLU after a float32 Conv stays oneDNN's swish
 * (fused, or a step after a Winograd conv) instead of our vector step. */
void cvb__dnn_test_no_vec_silu(bool on);
/* Tests only, likewise: cvb__dnn_vec_u8() is false: a uint8 channel Concat
 * runs oneDNN reorders (one per member) instead of our rows step, and the
 * int8 plans' Adds stay float32 (the plan before our uint8 steps). */
void cvb__dnn_test_no_vec_u8(bool on);

/* Whether the uint8 steps of vec.h run here (AVX-512, within the ISA oneDNN
 * may use): then an int8 plan may store a uint8 Concat member with another
 * scale than the Concat's (requantised by the Concat) and keep a same-shape
 * Add's operands and output uint8. */
bool cvb__dnn_vec_u8(void);

/* Tests only, like the hooks above: cvb__dnn_dfl_ok() is false, so the
 * DFL stays Transpose, Softmax and Conv. */
void cvb__dnn_test_no_dfl(bool on);

/* Whether the DFL runs fused as one step of ours here (AVX-512 within the
 * ISA oneDNN may use; cvb__passes_fuse fuses it only then). */
bool cvb__dnn_dfl_ok(void);

/* cvb__dnn_prepare() with layouts and fusion; io NULL means all plain. */
int cvb__dnn_prepare_io(struct cvb__dnn *d, const struct cvb_graph *g, const struct cvb_node *n,
                        const struct cvb__dnn_io *io, void **state, struct cvb_err *err);

/* A plan that converts a uint8 NHWC frame (the caller's input 0) into the
 * float32 tensor 't' ([N,C,H,W], output 0, layout 'layout') scaled by 1/255;
 * with bf16x2, into the NHWC bfloat16 [N,H,W,2C] source of frame_x2 Convs
 * (each byte's value twice, unscaled; layout ignored). Run it with
 * cvb__dnn_run and a kctx whose in[0]/out[0] are set. */
int cvb__dnn_prepare_u8_input(struct cvb__dnn *d, const struct cvb_tensor *t, int layout,
                              bool bf16x2, void **state, struct cvb_err *err);

/* ISA cap, process-wide. 'isa' is auto|amx|avx512_vnni|avx512|avx2. Must be
 * called before any other oneDNN use in the process; a later call asking a
 * different cap than the one in force is an error (CVB_EINVAL); asking for
 * an ISA the CPU lacks is an error (CVB_EUNSUPPORTED), never a fallback. */
int cvb__dnn_set_isa(const char *isa, struct cvb_err *err);
/* The ISA oneDNN uses ("avx512_core_vnni", ...). Locks the ISA cap. */
const char *cvb__dnn_effective_isa(void);
/* The blocked layout the effective ISA's kernels prefer: BLK16 or BLK8. */
int cvb__dnn_blocked_layout(void);
/* The layout of a bf16 plan's activations: NHWC where the effective ISA
 * has AMX (oneDNN 2.6's AMX bf16 convolutions take channels-last only; in
 * nChw16c it falls back to jit_bf16 at 1/10 the speed: notes/onednn.md),
 * else the blocked layout (on avx512_core_bf16, jit_bf16 in nChw16c runs
 * as fast as brgconv in NHWC and keeps Concat/Split views). */
int cvb__dnn_bf16_layout(void);
/* Tests only: force cvb__dnn_bf16_layout()'s answer (0: the rule above).
 * Process-wide; set it before loading. */
void cvb__dnn_test_bf16_layout(int layout);
/* Would Conv n run oneDNN's float32 Winograd kernels (with its activations
 * in nChw16c and no fused sum)? A 2-D 3x3 stride-1 Conv without groups or
 * dilation, constant weights and bias, 16-multiple channels in and out, on
 * an ISA with AVX-512. bf16 plans in the blocked layout keep such Convs
 * float32: there Winograd beats jit_bf16 (avx512_core_bf16, notes). */
bool cvb__dnn_winograd_conv(const struct cvb_graph *g, const struct cvb_node *n);
/* "OpenMP" (this build's oneDNN threading runtime) and its library version. */
const char *cvb__dnn_runtime(void);
/* "oneDNN 2.6.3 (OpenMP)": the library in use, for run manifests. */
const char *cvb__dnn_version(void);
/* Does /proc/cpuinfo list 'flag' (e.g. "amx_tile")? */
bool cvb__cpu_has(const char *flag);
/* CPU model name from /proc/cpuinfo into buf. */
const char *cvb__cpu_model(char *buf, size_t len);

#endif
