/* SPDX-License-Identifier: Apache-2.0 */
/* Vector kernels run between oneDNN primitives (vec.h): SiLU in AVX-512
 * and in AVX2 + FMA; concatenation by rows (memcpy per row and member),
 * also into uint8 (requantising members, AVX-512); the int8 plans' Add of
 * uint8 or float32 operands (AVX-512); a uint8 frame into bfloat16; the
 * DFL's softmax, and the whole DFL (softmax and expected bin, AVX-512).
 *
 * exp(-x) = 2^k * exp(r), k = round(-x / ln2), r = -x - k ln2 with ln2 split
 * in two (Cody-Waite) so r keeps its bits; exp(r) on |r| <= ln2/2 by a
 * degree-6 Taylor polynomial (error below 2e-8 there); 2^k by scalef
 * (AVX-512) or by building the exponent bits (AVX2). The argument is
 * clamped to [-88, 88] so 1 + e stays finite (then the reciprocal and its
 * Newton step give 0, not NaN, for x -> -large). */
#include "engine/kernels/onednn/vec.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
#define omp_get_num_threads() 1
#define omp_get_thread_num() 0
#endif

/* Rows [r0, r1) of cvb__vec_concat_rows. */
static void concat_span(uint8_t *out, const void *const *in, const size_t *row_bytes, int n,
                        size_t out_row, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        uint8_t *o = out + (size_t)r * out_row;
        for (int i = 0; i < n; i++) {
            memcpy(o, (const uint8_t *)in[i] + (size_t)r * row_bytes[i], row_bytes[i]);
            o += row_bytes[i];
        }
    }
}

void cvb__vec_concat_rows(void *out, const void *const *in, const size_t *row_bytes, int n,
                          int64_t rows) {
    enum { TASK_BYTES = 16384 }; /* below this much in all, no team */
    size_t out_row = 0;
    for (int i = 0; i < n; i++) out_row += row_bytes[i];
    if (out_row * (size_t)rows <= TASK_BYTES || rows < 2) {
        concat_span(out, in, row_bytes, n, out_row, 0, rows);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        concat_span(out, in, row_bytes, n, out_row, rows * t / nt, rows * (t + 1) / nt);
    }
}

/* bfloat16 of a byte's value: the high half of its float32 bits, exact */
static void u8_bf16x2_span(uint16_t *out, const uint8_t *in, int64_t p0, int64_t p1, int c) {
    for (int64_t p = p0; p < p1; p++) {
        uint16_t *o = out + p * 2 * c;
        for (int k = 0; k < c; k++) {
            float f = (float)in[p * c + k];
            uint32_t u;
            memcpy(&u, &f, sizeof u);
            o[k] = o[c + k] = (uint16_t)(u >> 16);
        }
    }
}

void cvb__vec_u8_to_bf16x2(uint16_t *out, const uint8_t *in, int64_t n, int c) {
    if (n * c <= 16384) {
        u8_bf16x2_span(out, in, 0, n, c);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        u8_bf16x2_span(out, in, n * t / nt, n * (t + 1) / nt, c);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f /* ln 2 = LN2_HI + LN2_LO, LN2_HI exact in 16 bits */
#define LN2_LO 1.428606765330187e-06f

/* exp(r) = sum r^i / i!, Horner from i = 6 down to 0 */
static const float EXP_TAYLOR[7] = {1.f / 720.f, 1.f / 120.f, 1.f / 24.f, 1.f / 6.f, 0.5f, 1.f, 1.f};

/* exp(t), t clamped to [-88, 88] first */
__attribute__((target("avx512f"))) static inline __m512 exp16(__m512 t) {
    t = _mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-88.f)), _mm512_set1_ps(88.f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(t, _mm512_set1_ps(LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), t);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
    __m512 p = _mm512_set1_ps(EXP_TAYLOR[0]);
    for (int i = 1; i < 7; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(EXP_TAYLOR[i]));
    return _mm512_scalef_ps(p, k);
}

__attribute__((target("avx512f"))) static inline __m512 silu16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.f);
    __m512 d = _mm512_add_ps(one, exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))); /* 1 + exp(-x) */
    __m512 q = _mm512_rcp14_ps(d);
    q = _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q, _mm512_set1_ps(2.f)));
    return _mm512_mul_ps(x, q);
}

__attribute__((target("avx512f"))) static void silu_span512(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, silu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(x + i, m, silu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* Softmax over the middle axis of [mid, inner] at x (into y), for inner
 * positions [j0, j1): 16 positions at a time, each a column of 'mid'
 * values 'inner' apart. exp(x - max) / sum, the sum's reciprocal by one
 * division per column. */
__attribute__((target("avx512f"))) static void softmax_cols512(const float *x, float *y,
                                                               int64_t mid, int64_t inner,
                                                               int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 m = j1 - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (j1 - j)) - 1u);
        __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        for (int64_t k = 0; k < mid; k++)
            mx = _mm512_max_ps(mx, _mm512_maskz_loadu_ps(m, x + k * inner + j));
        for (int64_t k = 0; k < mid; k++) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + k * inner + j), mx));
            sum = _mm512_add_ps(sum, e);
            _mm512_mask_storeu_ps(y + k * inner + j, m, e);
        }
        __m512 r = _mm512_div_ps(_mm512_set1_ps(1.f), sum);
        for (int64_t k = 0; k < mid; k++) {
            float *yk = y + k * inner + j;
            _mm512_mask_storeu_ps(yk, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, yk), r));
        }
    }
}

/* cvb__vec_dfl for inner positions [j0, j1) of one [k, inner] block at x:
 * 16 columns at a time, each read twice (max, then exp) */
__attribute__((target("avx512f"))) static void dfl_cols512(const float *x, float *y, int64_t k,
                                                           int64_t inner, const float *w,
                                                           float bias, int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; j += 16) {
        __mmask16 m = j1 - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (j1 - j)) - 1u);
        __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        __m512 dot = _mm512_setzero_ps();
        for (int64_t b = 0; b < k; b++)
            mx = _mm512_max_ps(mx, _mm512_maskz_loadu_ps(m, x + b * inner + j));
        for (int64_t b = 0; b < k; b++) {
            __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + b * inner + j), mx));
            sum = _mm512_add_ps(sum, e);
            dot = _mm512_fmadd_ps(e, _mm512_set1_ps(w[b]), dot);
        }
        _mm512_mask_storeu_ps(y + j, m,
                              _mm512_add_ps(_mm512_div_ps(dot, sum), _mm512_set1_ps(bias)));
    }
}

void cvb__vec_dfl(const float *x, float *y, int64_t outer, int64_t k, int64_t inner,
                  const float *w, float bias) {
    enum { COLS = 64 }; /* inner positions per task */
    int64_t per = (inner + COLS - 1) / COLS, tasks = outer * per;
    if (tasks <= 1) {
        for (int64_t o = 0; o < outer; o++)
            dfl_cols512(x + o * k * inner, y + o * inner, k, inner, w, bias, 0, inner);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        for (int64_t q = tasks * t / nt; q < tasks * (t + 1) / nt; q++) {
            int64_t o = q / per, j0 = q % per * COLS, j1 = j0 + COLS < inner ? j0 + COLS : inner;
            dfl_cols512(x + o * k * inner, y + o * inner, k, inner, w, bias, j0, j1);
        }
    }
}

void cvb__vec_softmax_mid(const float *x, float *y, int64_t outer, int64_t mid, int64_t inner) {
    enum { COLS = 64 }; /* inner positions per task */
    int64_t per = (inner + COLS - 1) / COLS, tasks = outer * per;
    if (tasks <= 1) {
        for (int64_t o = 0; o < outer; o++)
            softmax_cols512(x + o * mid * inner, y + o * mid * inner, mid, inner, 0, inner);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        for (int64_t k = tasks * t / nt; k < tasks * (t + 1) / nt; k++) {
            int64_t o = k / per, j0 = k % per * COLS, j1 = j0 + COLS < inner ? j0 + COLS : inner;
            softmax_cols512(x + o * mid * inner, y + o * mid * inner, mid, inner, j0, j1);
        }
    }
}

__attribute__((target("avx2,fma"))) static inline __m256 silu8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.f);
    __m256 t = _mm256_sub_ps(_mm256_setzero_ps(), x);
    t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-88.f)), _mm256_set1_ps(88.f));
    __m256 k = _mm256_round_ps(_mm256_mul_ps(t, _mm256_set1_ps(LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), t);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), r);
    __m256 p = _mm256_set1_ps(EXP_TAYLOR[0]);
    for (int i = 1; i < 7; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(EXP_TAYLOR[i]));
    /* 2^k for k in [-127, 127]: exponent bits k + 127 (k = -127: 0) */
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    __m256 d = _mm256_fmadd_ps(p, _mm256_castsi256_ps(e), one);
    __m256 q = _mm256_rcp_ps(d);
    q = _mm256_mul_ps(q, _mm256_fnmadd_ps(d, q, _mm256_set1_ps(2.f)));
    return _mm256_mul_ps(x, q);
}

__attribute__((target("avx2,fma"))) static void silu_span256(float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, silu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)),
                                       _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(x + i, m, silu8(_mm256_maskload_ps(x + i, m)));
    }
}

/* the first min(left, 16) lanes */
__attribute__((target("avx512f"))) static inline __mmask16 tail16(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* Up to 16 values (left of them, lanes past left read 0) from x at i as
 * float32: float32 as is, uint8 q as (float)q. (Byte loads by hand: masked
 * ones need AVX512BW.) */
__attribute__((target("avx512f"))) static inline __m512 raw16(const void *x, int64_t i,
                                                             int64_t left, int kind) {
    if (kind == CVB__VEC_F32) return _mm512_maskz_loadu_ps(tail16(left), (const float *)x + i);
    __m128i b;
    if (left >= 16) {
        b = _mm_loadu_si128((const __m128i *)((const uint8_t *)x + i));
    } else {
        uint8_t t[16] = {0};
        memcpy(t, (const uint8_t *)x + i, (size_t)left);
        b = _mm_loadu_si128((const __m128i *)t);
    }
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
}

/* v (already v / scale + zp) rounded and saturated into 16 bytes at o */
__attribute__((target("avx512f"))) static inline void store16_u8(uint8_t *o, __mmask16 m,
                                                                __m512 v) {
    /* max first: a NaN takes the second operand, 0 */
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.f));
    _mm512_mask_cvtepi32_storeu_epi8(o, m, _mm512_cvtps_epi32(v));
}

/* c values of kind 'kind' (F32 or U8) into uint8: raw * mul + add, with
 * mul and add folding the member's dequantisation and the output's
 * quantisation */
__attribute__((target("avx512f"))) static void requant_row512(uint8_t *o, const void *x,
                                                             int64_t c, int kind, __m512 mul,
                                                             __m512 add) {
    for (int64_t i = 0; i < c; i += 16)
        store16_u8(o + i, tail16(c - i), _mm512_fmadd_ps(raw16(x, i, c - i, kind), mul, add));
}

struct concat_u8 {
    const void *const *in;
    const int64_t *cols;
    const struct cvb__vec_q8 *q;
    int n;
    int64_t out_row;
    float inv; /* 1 / the output's scale */
    float zp;
};

/* rows [r0, r1) of cvb__vec_concat_rows_u8 */
__attribute__((target("avx512f"))) static void concat_u8_span(uint8_t *out,
                                                            const struct concat_u8 *c,
                                                            int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
        uint8_t *o = out + r * c->out_row;
        for (int i = 0; i < c->n; i++) {
            int64_t k = c->cols[i];
            const struct cvb__vec_q8 *q = &c->q[i];
            if (q->kind == CVB__VEC_COPY) {
                memcpy(o, (const uint8_t *)c->in[i] + r * k, (size_t)k);
            } else if (q->kind == CVB__VEC_F32) {
                requant_row512(o, (const float *)c->in[i] + r * k, k, CVB__VEC_F32,
                               _mm512_set1_ps(c->inv), _mm512_set1_ps(c->zp));
            } else {
                /* ((x - zp_i) * s_i) * inv + zp = x * (s_i * inv) + (zp - zp_i * s_i * inv) */
                float mul = q->scale * c->inv;
                requant_row512(o, (const uint8_t *)c->in[i] + r * k, k, CVB__VEC_U8,
                               _mm512_set1_ps(mul), _mm512_set1_ps(c->zp - (float)q->zp * mul));
            }
            o += k;
        }
    }
}

void cvb__vec_concat_rows_u8(uint8_t *out, const void *const *in, const int64_t *cols,
                             const struct cvb__vec_q8 *q, int n, int64_t rows, float scale,
                             int32_t zp) {
    struct concat_u8 c = {in, cols, q, n, 0, 1.f / scale, (float)zp};
    for (int i = 0; i < n; i++) c.out_row += cols[i];
    if (c.out_row * rows <= 16384 || rows < 2) {
        concat_u8_span(out, &c, 0, rows);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        concat_u8_span(out, &c, rows * t / nt, rows * (t + 1) / nt);
    }
}

/* values [i0, i1) of cvb__vec_add_q8 */
__attribute__((target("avx512f"))) static void add_q8_span(void *y, const void *a, const void *b,
                                                         int64_t i0, int64_t i1,
                                                         const struct cvb__vec_q8 q[3]) {
    /* an operand's value: raw * scale - zp * scale (float32: raw) */
    float sa = q[0].kind == CVB__VEC_F32 ? 1.f : q[0].scale;
    float sb = q[1].kind == CVB__VEC_F32 ? 1.f : q[1].scale;
    float za = q[0].kind == CVB__VEC_F32 ? 0.f : (float)q[0].zp;
    float zb = q[1].kind == CVB__VEC_F32 ? 0.f : (float)q[1].zp;
    __m512 ma = _mm512_set1_ps(sa), aa = _mm512_set1_ps(-za * sa);
    __m512 mb = _mm512_set1_ps(sb), ab = _mm512_set1_ps(-zb * sb);
    __m512 inv = _mm512_set1_ps(1.f / q[2].scale), zp = _mm512_set1_ps((float)q[2].zp);
    for (int64_t i = i0; i < i1; i += 16) {
        __mmask16 m = tail16(i1 - i);
        __m512 v = _mm512_add_ps(_mm512_fmadd_ps(raw16(a, i, i1 - i, q[0].kind), ma, aa),
                                 _mm512_fmadd_ps(raw16(b, i, i1 - i, q[1].kind), mb, ab));
        if (q[2].kind == CVB__VEC_F32)
            _mm512_mask_storeu_ps((float *)y + i, m, v);
        else
            store16_u8((uint8_t *)y + i, m, _mm512_fmadd_ps(v, inv, zp));
    }
}

void cvb__vec_add_q8(void *y, const void *a, const void *b, int64_t n,
                     const struct cvb__vec_q8 q[3]) {
    enum { CHUNK = 4096 };
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    if (chunks <= 1) {
        add_q8_span(y, a, b, 0, n, q);
        return;
    }
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t c0 = chunks * t / nt, c1 = chunks * (t + 1) / nt;
        int64_t i0 = c0 * CHUNK, i1 = c1 * CHUNK < n ? c1 * CHUNK : n;
        if (i0 < i1) add_q8_span(y, a, b, i0, i1, q);
    }
}

int cvb__vec_cpu_isa(void) {
    if (__builtin_cpu_supports("avx512f")) return CVB__VEC_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CVB__VEC_AVX2;
    return CVB__VEC_NONE;
}

static void silu_span(float *x, int64_t n, int isa) {
    if (isa >= CVB__VEC_AVX512)
        silu_span512(x, n);
    else
        silu_span256(x, n);
}

void cvb__vec_silu(float *x, int64_t n, int isa) {
    enum { CHUNK = 4096 }; /* 16 KiB per task */
    int64_t chunks = (n + CHUNK - 1) / CHUNK;
    if (chunks <= 1) { /* no team for one task */
        silu_span(x, n, isa);
        return;
    }
    /* a plain parallel region split by hand, as oneDNN's own */
#pragma omp parallel
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t c0 = chunks * t / nt, c1 = chunks * (t + 1) / nt;
        int64_t a = c0 * CHUNK, b = c1 * CHUNK < n ? c1 * CHUNK : n;
        if (a < b) silu_span(x + a, b - a, isa);
    }
}

#else

int cvb__vec_cpu_isa(void) { return CVB__VEC_NONE; }

void cvb__vec_dfl(const float *x, float *y, int64_t outer, int64_t k, int64_t inner,
                  const float *w, float bias) {
    (void)x; /* never called: cvb__vec_cpu_isa() is NONE here */
    (void)y;
    (void)outer;
    (void)k;
    (void)inner;
    (void)w;
    (void)bias;
}

void cvb__vec_softmax_mid(const float *x, float *y, int64_t outer, int64_t mid, int64_t inner) {
    (void)x; /* never called: cvb__vec_cpu_isa() is NONE here */
    (void)y;
    (void)outer;
    (void)mid;
    (void)inner;
}

void cvb__vec_concat_rows_u8(uint8_t *out, const void *const *in, const int64_t *cols,
                             const struct cvb__vec_q8 *q, int n, int64_t rows, float scale,
                             int32_t zp) {
    (void)out; /* never called: cvb__vec_cpu_isa() is NONE here */
    (void)in;
    (void)cols;
    (void)q;
    (void)n;
    (void)rows;
    (void)scale;
    (void)zp;
}

void cvb__vec_add_q8(void *y, const void *a, const void *b, int64_t n,
                     const struct cvb__vec_q8 q[3]) {
    (void)y; /* never called: cvb__vec_cpu_isa() is NONE here */
    (void)a;
    (void)b;
    (void)n;
    (void)q;
}

void cvb__vec_silu(float *x, int64_t n, int isa) {
    (void)x; /* never called: cvb__vec_cpu_isa() is NONE here */
    (void)n;
    (void)isa;
}

#endif
