/* SPDX-License-Identifier: Apache-2.0 */
/* Our uint8 vector kernels (engine/kernels/onednn/vec.h), AVX-512 only
 * (skipped elsewhere, reason printed), against a reference computed here in
 * double precision: round half to even of v / scale + zp, saturated to
 * [0, 255], where v is a float32 value or (q - zp) * scale of a uint8 one.
 *
 * cvb__vec_concat_rows_u8: members of each kind (copied, float32
 * quantised, uint8 requantised from another scale and zero point) with
 * channel counts 1..40 (every masked tail, the 16-lane body), rows 1..3 and
 * a row count large enough to split over threads; every output byte equals
 * the reference, except by one where the exact value lies within 1e-3 of a
 * rounding tie (the kernel rounds one fused multiply-add in float32); +inf
 * gives 255, -inf and NaN 0, values far out of range saturate.
 * cvb__vec_add_q8: every combination of float32 and uint8 operands and
 * result, lengths 1..67, the same rule; and a length split over threads
 * gives the same bytes as one call per chunk would. */
#include "engine/kernels/onednn/vec.h"
#include "test.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* value of element i of x */
static double val(const void *x, int64_t i, const struct cvb__vec_q8 *q) {
    if (q->kind == CVB__VEC_F32) return ((const float *)x)[i];
    return ((double)((const uint8_t *)x)[i] - q->zp) * q->scale;
}

/* the byte we expect for v at (scale, zp); *tie: within 1e-3 of a tie */
static int quant_ref(double v, float scale, int32_t zp, bool *tie) {
    *tie = false;
    if (isnan(v)) return 0;
    double t = v / scale + zp;
    if (t <= 0) return 0;
    if (t >= 255) return 255;
    double f = floor(t);
    *tie = fabs(t - f - 0.5) < 1e-3;
    double r = t - f > 0.5 || (t - f == 0.5 && fmod(f, 2) != 0) ? f + 1 : f;
    return (int)r;
}

/* byte b agrees with the reference of v */
static bool agrees(int b, double v, float scale, int32_t zp) {
    bool tie;
    int r = quant_ref(v, scale, zp, &tie);
    return b == r || (tie && abs(b - r) == 1);
}

static uint32_t rng = 12345;
static uint32_t next(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

static void fill(void *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        if (kind == CVB__VEC_F32)
            ((float *)x)[i] = ((float)(next() % 200001) - 50000.f) / 4000.f; /* [-12.5, 37.5] */
        else
            ((uint8_t *)x)[i] = (uint8_t)next();
    }
}

static void test_concat(void) {
    const float out_scale = 0.13f;
    const int32_t out_zp = 4;
    const struct cvb__vec_q8 kinds[3] = {{CVB__VEC_COPY, out_scale, out_zp},
                                         {CVB__VEC_F32, 1.f, 0},
                                         {CVB__VEC_U8, 0.036f, 8}};
    int bad = 0, checked = 0;
    for (int64_t rows = 1; rows <= 3; rows++)
        for (int c = 1; c <= 40; c++) {
            /* three members, one of each kind; widths c, c + 3, 2c */
            int64_t cols[3] = {c, c + 3, 2 * c}, w = 4 * c + 3;
            void *in[3];
            for (int i = 0; i < 3; i++) {
                in[i] = malloc((size_t)(rows * cols[i]) * 4);
                if (in[i] == NULL) return;
                fill(in[i], rows * cols[i], kinds[i].kind == CVB__VEC_F32 ? CVB__VEC_F32 : 0);
            }
            uint8_t *out = malloc((size_t)(rows * w) + 1);
            if (out == NULL) return;
            out[rows * w] = 0xa5; /* canary */
            cvb__vec_concat_rows_u8(out, (const void *const *)in, cols, kinds, 3, rows, out_scale,
                                    out_zp);
            CHECK(out[rows * w] == 0xa5);
            for (int64_t r = 0; r < rows; r++) {
                const uint8_t *o = out + r * w;
                for (int i = 0; i < 3; i++) {
                    for (int64_t k = 0; k < cols[i]; k++, o++) {
                        int64_t at = r * cols[i] + k;
                        bool ok = kinds[i].kind == CVB__VEC_COPY
                                      ? *o == ((const uint8_t *)in[i])[at]
                                      : agrees(*o, val(in[i], at, &kinds[i]), out_scale, out_zp);
                        bad += !ok;
                        checked++;
                    }
                }
            }
            free(out);
            for (int i = 0; i < 3; i++) free(in[i]);
        }
    printf("  concat rows: %d of %d bytes off the reference\n", bad, checked);
    CHECK_EQ_INT(bad, 0);
}

static void test_concat_threads_and_specials(void) {
    enum { ROWS = 20000, C0 = 5, C1 = 19 }; /* enough to split over the team */
    const float out_scale = 0.05f;
    const struct cvb__vec_q8 q[2] = {{CVB__VEC_F32, 1.f, 0}, {CVB__VEC_U8, 0.5f, 100}};
    float *a = malloc(sizeof(float) * ROWS * C0);
    uint8_t *b = malloc((size_t)ROWS * C1), *o1 = malloc((size_t)ROWS * (C0 + C1));
    uint8_t *o2 = malloc((size_t)(C0 + C1));
    CHECK(a != NULL && b != NULL && o1 != NULL && o2 != NULL);
    if (a == NULL || b == NULL || o1 == NULL || o2 == NULL) goto out;
    fill(a, ROWS * C0, CVB__VEC_F32);
    fill(b, ROWS * C1, 0);
    const float special[5] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f};
    const int want[5] = {255, 0, 0, 255, 0};
    for (int i = 0; i < 5; i++) a[i] = special[i];
    int64_t cols[2] = {C0, C1};
    const void *in[2] = {a, b};
    cvb__vec_concat_rows_u8(o1, in, cols, q, 2, ROWS, out_scale, 7);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(o1[i], want[i]);
    /* the team's split gives the bytes of row-by-row calls */
    int diff = 0;
    for (int64_t r = 0; r < ROWS; r += 997) {
        const void *ir[2] = {a + r * C0, b + r * C1};
        cvb__vec_concat_rows_u8(o2, ir, cols, q, 2, 1, out_scale, 7);
        diff += memcmp(o2, o1 + r * (C0 + C1), C0 + C1) != 0;
    }
    CHECK_EQ_INT(diff, 0);
out:
    free(a);
    free(b);
    free(o1);
    free(o2);
}

static void test_add(void) {
    const struct cvb__vec_q8 f = {CVB__VEC_F32, 1.f, 0};
    const struct cvb__vec_q8 ua = {CVB__VEC_U8, 0.036f, 8}, ub = {CVB__VEC_U8, 0.095f, 143};
    const struct cvb__vec_q8 uy = {CVB__VEC_U8, 0.072f, 8};
    int bad = 0, checked = 0;
    for (int combo = 0; combo < 8; combo++) {
        struct cvb__vec_q8 q[3] = {combo & 1 ? ua : f, combo & 2 ? ub : f, combo & 4 ? uy : f};
        for (int64_t n = 1; n <= 67; n++) {
            void *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
            uint8_t *y = malloc((size_t)n * 4 + 4);
            if (a == NULL || b == NULL || y == NULL) return;
            fill(a, n, q[0].kind);
            fill(b, n, q[1].kind);
            size_t esz = q[2].kind == CVB__VEC_F32 ? 4 : 1;
            memset(y, 0xa5, (size_t)n * esz + 4);
            cvb__vec_add_q8(y, a, b, n, q);
            for (int k = 0; k < 4; k++) CHECK(y[(size_t)n * esz + (size_t)k] == 0xa5);
            for (int64_t i = 0; i < n; i++) {
                double v = val(a, i, &q[0]) + val(b, i, &q[1]);
                bool ok;
                if (q[2].kind == CVB__VEC_F32)
                    ok = fabs(((const float *)y)[i] - v) <= 1e-5 * (1 + fabs(v));
                else
                    ok = agrees(y[i], v, q[2].scale, q[2].zp);
                bad += !ok;
                checked++;
            }
            free(a);
            free(b);
            free(y);
        }
    }
    printf("  add: %d of %d values off the reference\n", bad, checked);
    CHECK_EQ_INT(bad, 0);
}

static void test_add_threads(void) {
    enum { N = 300007, CHUNK = 4096 };
    const struct cvb__vec_q8 q[3] = {{CVB__VEC_U8, 0.04f, 3}, {CVB__VEC_F32, 1.f, 0},
                                     {CVB__VEC_U8, 0.09f, 5}};
    uint8_t *a = malloc(N), *y1 = malloc(N), *y2 = malloc(N);
    float *b = malloc(sizeof(float) * N);
    CHECK(a != NULL && b != NULL && y1 != NULL && y2 != NULL);
    if (a == NULL || b == NULL || y1 == NULL || y2 == NULL) goto out;
    fill(a, N, 0);
    fill(b, N, CVB__VEC_F32);
    cvb__vec_add_q8(y1, a, b, N, q);
    for (int64_t i = 0; i < N; i += CHUNK)
        cvb__vec_add_q8(y2 + i, a + i, b + i, N - i < CHUNK ? N - i : CHUNK, q);
    CHECK(memcmp(y1, y2, N) == 0);
out:
    free(a);
    free(b);
    free(y1);
    free(y2);
}

int main(void) {
    if (cvb__vec_cpu_isa() < CVB__VEC_AVX512) {
        printf("skip: this CPU has no AVX-512F; the uint8 kernels are not used here (the int8 "
               "plans keep oneDNN's reorders and float32 Adds)\n");
        return 77;
    }
    RUN(test_concat);
    RUN(test_concat_threads_and_specials);
    RUN(test_add);
    RUN(test_add_threads);
    return test_summary();
}
