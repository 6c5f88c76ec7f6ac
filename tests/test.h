/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal shared test harness: each test file is one executable whose main()
 * calls RUN(test_fn) for each case and returns test_summary(). Exit 77 means
 * skipped (ctest SKIP_RETURN_CODE); the reason is printed. */
#ifndef CVB_TEST_H
#define CVB_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;
static const char *test_current = "";

#define CHECK(cond)                                                            \
    do {                                                                       \
        test_checks++;                                                         \
        if (!(cond)) {                                                         \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, \
                    test_current, #cond);                                      \
        }                                                                      \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        test_checks++;                                                         \
        if (va_ != vb_) {                                                      \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: %s: %s == %lld, expected %s == %lld\n",     \
                    __FILE__, __LINE__, test_current, #a, va_, #b, vb_);        \
        }                                                                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                  \
    do {                                                                       \
        double va_ = (double)(a), vb_ = (double)(b);                           \
        test_checks++;                                                         \
        if (!(fabs(va_ - vb_) <= (tol))) {                                     \
            test_failures++;                                                   \
            fprintf(stderr, "%s:%d: %s: %s = %.9g, expected %.9g (tol %g)\n",  \
                    __FILE__, __LINE__, test_current, #a, va_, vb_, (double)(tol)); \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        test_current = #fn;                                                    \
        int before_ = test_failures;                                           \
        fn();                                                                  \
        printf("%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn);    \
    } while (0)

static inline int test_summary(void) {
    printf("%d checks, %d failed\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

static inline int test_skip(const char *why) {
    printf("SKIP: %s\n", why);
    return 77;
}

#endif
