/* SPDX-License-Identifier: Apache-2.0 */
/* Our SiLU vector kernel (engine/kernels/onednn/vec.h) against
 * x / (1 + exp(-x)) in double precision, in each instruction set the CPU
 * has (AVX2 + FMA, AVX-512F; skipped without AVX2, reason printed). Checks,
 * for each: on a
 * dense sweep of [-87, 87] every result within 8 ulp of the float-rounded
 * reference where |result| >= 1e-30, and within 4e-7 relative (a few
 * float32 roundings) for |x| <= 20 (YOLO's activations); lengths 1..67 (every masked tail) change exactly the first
 * n elements; NaN stays NaN, +inf stays +inf, 0 gives 0, -200 gives a
 * result no larger than 1e-30 in magnitude; a length large enough to split
 * over threads gives the same bits as the same elements one chunk at a
 * time. */
#include "engine/kernels/onednn/vec.h"
#include "test.h"

#include <stdbool.h>
#include <stdint.h>

static double silu_ref(double x) { return x / (1.0 + exp(-x)); }

static int isa;

static void test_accuracy(void) {
    enum { N = 1 << 20 };
    float *x = malloc(sizeof(float) * N);
    if (x == NULL) {
        CHECK(false);
        return;
    }
    for (int i = 0; i < N; i++) x[i] = -87.f + 174.f * (float)i / N;
    cvb__vec_silu(x, N, isa);
    double worst_ulp = 0, worst_rel20 = 0;
    for (int i = 0; i < N; i++) {
        float v = -87.f + 174.f * (float)i / N;
        double r = silu_ref(v);
        float rf = (float)r;
        if (fabs(r) >= 1e-30) {
            double ulp = fabs((double)nextafterf(rf, INFINITY) - rf);
            double e = fabs(x[i] - r) / ulp;
            if (e > worst_ulp) worst_ulp = e;
        }
        if (fabsf(v) <= 20.f && r != 0) {
            double e = fabs(x[i] - r) / fabs(r);
            if (e > worst_rel20) worst_rel20 = e;
        }
    }
    printf("worst %.2f ulp; worst relative error for |x| <= 20: %.3g\n", worst_ulp, worst_rel20);
    CHECK(worst_ulp <= 8);
    CHECK(worst_rel20 <= 4e-7);
    free(x);
}

static void test_tails_and_specials(void) {
    float buf[80];
    for (int n = 1; n <= 67; n++) {
        for (int i = 0; i < 80; i++) buf[i] = (float)(i % 7) - 3.f;
        cvb__vec_silu(buf, n, isa);
        bool ok = true;
        for (int i = 0; i < 80; i++) {
            float v = (float)(i % 7) - 3.f;
            float want = i < n ? (float)silu_ref(v) : v;
            if (fabsf(buf[i] - want) > 1e-6f * (1.f + fabsf(want))) ok = false;
        }
        if (!ok) fprintf(stderr, "length %d wrong\n", n);
        CHECK(ok);
    }
    float s[5] = {NAN, INFINITY, 0.f, -200.f, 3.f};
    cvb__vec_silu(s, 5, isa);
    CHECK(isnan(s[0]));
    CHECK(isinf(s[1]) && s[1] > 0);
    CHECK(s[2] == 0.f);
    CHECK(fabsf(s[3]) <= 1e-30f);
    CHECK_NEAR(s[4], silu_ref(3.0), 1e-6);
}

static void test_threads_same_bits(void) {
    enum { N = 100003 };
    float *a = malloc(sizeof(float) * N), *b = malloc(sizeof(float) * N);
    if (a == NULL || b == NULL) {
        CHECK(false);
        free(a);
        free(b);
        return;
    }
    for (int i = 0; i < N; i++) a[i] = b[i] = sinf((float)i * 0.37f) * 12.f;
    cvb__vec_silu(a, N, isa);
    for (int i = 0; i < N; i += 1000) cvb__vec_silu(b + i, i + 1000 <= N ? 1000 : N - i, isa);
    CHECK(memcmp(a, b, sizeof(float) * N) == 0);
    free(a);
    free(b);
}

int main(void) {
    if (cvb__vec_cpu_isa() == CVB__VEC_NONE) {
        printf("skip: this CPU has neither AVX2 + FMA nor AVX-512F; the SiLU kernel is not used "
               "here\n");
        return 77;
    }
    for (isa = CVB__VEC_AVX2; isa <= cvb__vec_cpu_isa(); isa++) {
        printf("%s:\n", isa == CVB__VEC_AVX2 ? "AVX2" : "AVX-512");
        RUN(test_accuracy);
        RUN(test_tails_and_specials);
        RUN(test_threads_same_bits);
    }
    return test_summary();
}
