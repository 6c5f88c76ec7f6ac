/* SPDX-License-Identifier: Apache-2.0 */
/* Our fused DFL kernel (cvb__vec_dfl, engine/kernels/onednn/vec.h),
 * AVX-512 only (skipped elsewhere, reason printed), against a double
 * reference: y[o][i] = bias + sum_b w[b] * exp(x_b - max) / sum exp(x_b -
 * max) over the k bins of column (o, i). Checks, for k = 16 (the exports')
 * and k = 7 with weights 0..k-1 and arbitrary ones, every inner length
 * 1..40 (each masked tail) and 3 outer rows: within 2e-6 of the expected
 * bin's range (k); logits of +-80 (exp would overflow without the max)
 * stay finite and exact enough; columns of equal logits give the weights'
 * mean; and a size split over threads (outer 4 x 8400, the head at 640)
 * gives the bytes of one call per outer row. */
#include "engine/kernels/onednn/vec.h"
#include "test.h"

#include <math.h>
#include <stdint.h>

static double ref(const float *x, int64_t k, int64_t inner, int64_t i, const float *w,
                  float bias) {
    double m = -INFINITY, s = 0, t = 0;
    for (int64_t b = 0; b < k; b++) m = fmax(m, x[b * inner + i]);
    for (int64_t b = 0; b < k; b++) {
        double e = exp((double)x[b * inner + i] - m);
        s += e;
        t += e * w[b];
    }
    return bias + t / s;
}

static uint32_t rng = 777;
static float uniform(float lo, float hi) {
    rng = rng * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(rng >> 8) / 16777216.f;
}

static void test_tails(void) {
    enum { OUTER = 3, MAXI = 40, MAXK = 16 };
    float x[OUTER * MAXK * MAXI], y[OUTER * MAXI + 1], w[MAXK];
    double worst = 0;
    const int64_t ks[2] = {16, 7};
    for (int kk = 0; kk < 2; kk++)
        for (int wk = 0; wk < 2; wk++)
            for (int64_t inner = 1; inner <= MAXI; inner++) {
                int64_t k = ks[kk];
                for (int64_t b = 0; b < k; b++) w[b] = wk == 0 ? (float)b : uniform(-2.f, 3.f);
                for (int64_t j = 0; j < OUTER * k * inner; j++) x[j] = uniform(-12.f, 12.f);
                x[0] = 80.f; /* one column far up, one far down */
                if (inner > 1) x[1] = -80.f;
                y[OUTER * inner] = 42.f; /* canary */
                cvb__vec_dfl(x, y, OUTER, k, inner, w, 0.25f);
                CHECK(y[OUTER * inner] == 42.f);
                for (int64_t o = 0; o < OUTER; o++)
                    for (int64_t i = 0; i < inner; i++) {
                        double r = ref(x + o * k * inner, k, inner, i, w, 0.25f);
                        double e = fabs(y[o * inner + i] - r) / (double)k;
                        CHECK(isfinite(y[o * inner + i]));
                        if (e > worst) worst = e;
                    }
            }
    printf("  worst error / k: %.3g\n", worst);
    CHECK(worst < 2e-6);
}

static void test_equal_logits(void) {
    enum { K = 16, INNER = 19 };
    float x[K * INNER], y[INNER], w[K];
    for (int b = 0; b < K; b++) w[b] = (float)b;
    for (int j = 0; j < K * INNER; j++) x[j] = 3.5f;
    cvb__vec_dfl(x, y, 1, K, INNER, w, 0.f);
    for (int i = 0; i < INNER; i++) CHECK(fabsf(y[i] - 7.5f) < 1e-5f); /* mean of 0..15 */
}

static void test_threads_same_bits(void) {
    enum { OUTER = 4, K = 16, INNER = 8400 };
    float *x = malloc(sizeof(float) * OUTER * K * INNER);
    float *a = malloc(sizeof(float) * OUTER * INNER), *b = malloc(sizeof(float) * OUTER * INNER);
    float w[K];
    CHECK(x != NULL && a != NULL && b != NULL);
    if (x == NULL || a == NULL || b == NULL) goto out;
    for (int i = 0; i < K; i++) w[i] = (float)i;
    for (int64_t j = 0; j < (int64_t)OUTER * K * INNER; j++) x[j] = uniform(-10.f, 10.f);
    cvb__vec_dfl(x, a, OUTER, K, INNER, w, 0.f);
    for (int o = 0; o < OUTER; o++)
        cvb__vec_dfl(x + (int64_t)o * K * INNER, b + (int64_t)o * INNER, 1, K, INNER, w, 0.f);
    CHECK(memcmp(a, b, sizeof(float) * OUTER * INNER) == 0);
out:
    free(x);
    free(a);
    free(b);
}

int main(void) {
    if (cvb__vec_cpu_isa() < CVB__VEC_AVX512) {
        printf("skip: this CPU has no AVX-512F; the fused DFL is not used here (Transpose, "
               "Softmax and Conv run as three nodes)\n");
        return 77;
    }
    RUN(test_tails);
    RUN(test_equal_logits);
    RUN(test_threads_same_bits);
    return test_summary();
}
