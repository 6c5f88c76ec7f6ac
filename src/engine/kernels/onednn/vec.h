/* SPDX-License-Identifier: Apache-2.0 */
/* Vector kernels that oneDNN plans run between primitives, where ours beat
 * the library's (dnn.c). Internal to src/engine/.
 *
 * SiLU, x * sigmoid(x), in place over float32: oneDNN 2.6's swish (fused as
 * a convolution post-op or as an eltwise primitive) divides per vector and
 * costs 0.3-0.5 ns per element on 2 Zen 4 threads, a third of a 1x1
 * convolution's time at YOLO's 160x160 levels; this one (exp by range
 * reduction and a degree-6 polynomial, 1/(1 + e) by a reciprocal estimate
 * and a Newton step) costs about 0.11 ns in AVX-512, within 8 ulp of
 * x / (1 + exp(-x)) for |x| < 87. NaN stays NaN; a tiny negative result may
 * flush to -0. */
#ifndef CVB_ENGINE_VEC_H
#define CVB_ENGINE_VEC_H

#include <stddef.h>
#include <stdint.h>

/* Instruction sets the kernels come in, in order. */
enum cvb__vec_isa {
    CVB__VEC_NONE = 0,
    CVB__VEC_AVX2 = 1,   /* AVX2 + FMA */
    CVB__VEC_AVX512 = 2, /* AVX-512F */
};

/* The best of them this CPU runs. */
int cvb__vec_cpu_isa(void);

/* x[i] = x[i] * sigmoid(x[i]) for i < n in instruction set 'isa' (AVX2 or
 * AVX512, at most cvb__vec_cpu_isa()), split over the calling thread's
 * OpenMP team. */
void cvb__vec_silu(float *x, int64_t n, int isa);

/* Concatenation by rows: row r of 'out' is row r of in[0], then row r of
 * in[1], ... (in[i]'s rows are row_bytes[i] long and dense), for r < rows;
 * split over the calling thread's OpenMP team. A channel Concat in NHWC is
 * one (a row per pixel), as is any Concat of plain tensors (a row per
 * index before the axis). oneDNN 2.6's concat ("simple:any") took 2.7-2.9x
 * as long for YOLOv8n's 48- and 96-channel bf16 Concats at 160x160 and
 * 80x80: 0.36-0.44 and 0.12-0.13 ms against 0.13-0.14 and 0.04-0.05 (Zen 4,
 * 2 threads, 3 alternating rounds). A Conv writing straight into its
 * channel slice would save the copy, but oneDNN 2.6 runs a convolution
 * into an NHWC sub-memory destination on `ref:any` only (float32 and
 * bf16, 1x1 and 3x3; measured on Zen 4). */
/* Softmax over the middle axis of x viewed as [outer, mid, inner] (into y,
 * which may be x), in AVX-512 (only where cvb__vec_cpu_isa() is AVX512),
 * split over the calling thread's OpenMP team: each column of 'mid' values
 * exp(x - max) / sum, within a few ulp of a float32 reference. For the
 * DFL's softmax over 16 bins of [1,16,4,A] oneDNN 2.6 reorders to put the
 * axis innermost, normalises and reorders back. */
void cvb__vec_softmax_mid(const float *x, float *y, int64_t outer, int64_t mid, int64_t inner);

/* The DFL of Ultralytics' detection heads in one pass (the Transpose,
 * Softmax and 1x1 Conv it is in ONNX): x is [outer, k, inner] (the box
 * branch as [N*4, 16 bins, anchors]), and y[o][i] = bias + sum_b w[b] *
 * softmax over b of x[o][b][i] (w: the Conv's k weights, 0..15 in the
 * exports). In AVX-512 (only where cvb__vec_cpu_isa() is AVX512), split over
 * the calling thread's OpenMP team; within a few ulp of a float32
 * reference (one division per column). */
void cvb__vec_dfl(const float *x, float *y, int64_t outer, int64_t k, int64_t inner,
                  const float *w, float bias);

/* out[p][c] = out[p][C + c] = in[p][c] as bfloat16 (exact: a byte's value
 * has 8 significant bits), for pixels p < n and channels c < C; split over
 * the calling thread's OpenMP team. */
void cvb__vec_u8_to_bf16x2(uint16_t *out, const uint8_t *in, int64_t n, int c);

void cvb__vec_concat_rows(void *out, const void *const *in, const size_t *row_bytes, int n,
                          int64_t rows);

/* How a member of cvb__vec_concat_rows_u8 reaches the uint8 output, and
 * what an operand or result of cvb__vec_add_q8 holds. */
enum cvb__vec_q8_kind {
    CVB__VEC_COPY = 0, /* uint8 with the output's scale and zero point: copied */
    CVB__VEC_F32,      /* float32 */
    CVB__VEC_U8,       /* uint8 with its own scale and zero point */
};

/* Quantisation of a uint8 tensor, or CVB__VEC_F32: the value of q is
 * (q - zp) * scale. */
struct cvb__vec_q8 {
    int kind; /* enum cvb__vec_q8_kind */
    float scale;
    int32_t zp;
};

/* Concatenation by rows into uint8 (int8 plans' channel Concats in NHWC):
 * row r of 'out' is row r of in[0], then of in[1], ..., where in[i] has
 * cols[i] values per row, copied when q[i].kind is CVB__VEC_COPY, else
 * requantised to the output's 'scale' and 'zp': min(max(round(v / scale +
 * zp), 0), 255) of each value v, rounding to nearest even as oneDNN's
 * reorder with an output scale and zero point (+inf gives 255, NaN 0). In
 * AVX-512 (only where cvb__vec_cpu_isa() is AVX512), split over the calling
 * thread's OpenMP team. oneDNN 2.6 ran one reorder per member into its
 * strided slice: YOLOv8n's 13 such Concats at 640 took 0.9-1.4 ms against
 * 0.5-0.7 on 2 Zen 4 threads. */
void cvb__vec_concat_rows_u8(uint8_t *out, const void *const *in, const int64_t *cols,
                             const struct cvb__vec_q8 *q, int n, int64_t rows, float scale,
                             int32_t zp);

/* y = a + b over n values, where each of a, b and y is float32 or uint8
 * with its own scale and zero point (q[0], q[1], q[2]; none CVB__VEC_COPY),
 * y quantised as in cvb__vec_concat_rows_u8. In AVX-512 (only where
 * cvb__vec_cpu_isa() is AVX512), split over the calling thread's OpenMP
 * team. The int8 plans' residual Adds: their operands and result stay
 * uint8 where the Convs around them read or write it. */
void cvb__vec_add_q8(void *y, const void *a, const void *b, int64_t n,
                     const struct cvb__vec_q8 q[3]);

#endif
