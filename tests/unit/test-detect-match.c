/* SPDX-License-Identifier: Apache-2.0 */
/* Matching two detection sets (src/detect/match.c): hand-counted F1 and
 * mean IoU for identical sets, a shifted box, a class flip, a box missing on
 * either side, greedy order by score, the no-box convention, pooling over
 * pictures, and the bound on boxes per call. */
#include "cvb/detect.h"
#include "test.h"

static struct cvb_detection box(float x1, float y1, float x2, float y2, float score, int cls) {
    return (struct cvb_detection){x1, y1, x2, y2, score, cls};
}

static void test_identical(void) {
    struct cvb_detection a[3] = {box(0, 0, 10, 10, 0.9f, 0), box(20, 20, 40, 30, 0.8f, 1),
                                 box(5, 5, 15, 15, 0.3f, 0)};
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, a, 3, a, 3, 0.5f, NULL), 0);
    CHECK_EQ_INT(m.matched, 3);
    CHECK_EQ_INT(m.n_ref, 3);
    CHECK_EQ_INT(m.n_test, 3);
    CHECK_NEAR(cvb_detect_match_f1(&m), 1.0, 0);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 1.0, 0);
    CHECK_NEAR(cvb_detections_f1(a, 3, a, 3, 0.5f), 1.0, 0);
}

/* A box clipped to zero area (wholly in the letterbox padding) has IoU 0
 * with everything; the same box on both sides is still one detection, and
 * a different zero-area box is not. */
static void test_zero_area(void) {
    struct cvb_detection a[2] = {box(0, 5, 10, 5, 0.9f, 2), box(20, 20, 40, 30, 0.8f, 1)};
    struct cvb_detection b[2] = {box(0, 6, 10, 6, 0.9f, 2), box(20, 20, 40, 30, 0.8f, 1)};
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, a, 2, a, 2, 0.5f, NULL), 0);
    CHECK_EQ_INT(m.matched, 2);
    CHECK_NEAR(cvb_detect_match_f1(&m), 1.0, 0);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 1.0, 0);
    struct cvb_detect_match m2 = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m2, a, 2, b, 2, 0.5f, NULL), 0);
    CHECK_EQ_INT(m2.matched, 1);
}

static void test_shift_flip_missing(void) {
    struct cvb_detection ref[3] = {box(0, 0, 10, 10, 0.9f, 0), box(20, 20, 40, 40, 0.8f, 1),
                                   box(50, 50, 60, 60, 0.7f, 2)};
    /* box 0 shifted by 2 px: IoU = 80 / 120 = 2/3 (kept); box 1 of the
     * wrong class (no match); box 2 missing; one extra box */
    struct cvb_detection test[3] = {box(2, 0, 12, 10, 0.9f, 0), box(20, 20, 40, 40, 0.8f, 3),
                                    box(70, 70, 80, 80, 0.6f, 0)};
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, ref, 3, test, 3, 0.5f, NULL), 0);
    CHECK_EQ_INT(m.matched, 1);
    CHECK_NEAR(cvb_detect_match_f1(&m), 2.0 / 6.0, 1e-12);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 2.0 / 3.0, 1e-6);
    /* at IoU 0.7 the shifted box no longer counts */
    struct cvb_detect_match m7 = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m7, ref, 3, test, 3, 0.7f, NULL), 0);
    CHECK_EQ_INT(m7.matched, 0);
    CHECK_NEAR(cvb_detect_match_f1(&m7), 0, 0);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m7), 0, 0);
    /* IoU exactly at the threshold matches (>=): 2/3 at 2/3 */
    const float ra[4] = {0, 0, 10, 10}, ta[4] = {2, 0, 12, 10};
    struct cvb_detect_match me = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&me, ref, 1, test, 1, cvb_detect_iou(ra, ta), NULL), 0);
    CHECK_EQ_INT(me.matched, 1);
}

static void test_greedy_by_score(void) {
    /* One ref box; two test boxes overlap it. The higher-scoring one takes
     * it even though the other overlaps more: one match, not two. */
    struct cvb_detection ref[1] = {box(0, 0, 10, 10, 0.9f, 0)};
    struct cvb_detection test[2] = {box(0, 0, 10, 10, 0.4f, 0), box(1, 0, 11, 10, 0.8f, 0)};
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, ref, 1, test, 2, 0.5f, NULL), 0);
    CHECK_EQ_INT(m.matched, 1);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 90.0 / 110.0, 1e-6);
    CHECK_NEAR(cvb_detect_match_f1(&m), 2.0 / 3.0, 1e-12);
}

static void test_empty_and_pooling(void) {
    struct cvb_detection a[2] = {box(0, 0, 10, 10, 0.9f, 0), box(20, 20, 30, 30, 0.8f, 0)};
    struct cvb_detect_match m = {0};
    /* no boxes on either side: agreement */
    CHECK_EQ_INT(cvb_detect_match_add(&m, NULL, 0, NULL, 0, 0.5f, NULL), 0);
    CHECK_NEAR(cvb_detect_match_f1(&m), 1.0, 0);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 1.0, 0);
    CHECK_NEAR(cvb_detections_f1(NULL, 0, NULL, 0, 0.5f), 1.0, 0);
    /* boxes on one side only */
    CHECK_NEAR(cvb_detections_f1(a, 2, NULL, 0, 0.5f), 0, 0);
    CHECK_NEAR(cvb_detections_f1(NULL, 0, a, 2, 0.5f), 0, 0);
    /* pooled: picture 1 agrees (2 boxes), picture 2 lost both: 4 / 6 */
    CHECK_EQ_INT(cvb_detect_match_add(&m, a, 2, a, 2, 0.5f, NULL), 0);
    CHECK_EQ_INT(cvb_detect_match_add(&m, a, 2, NULL, 0, 0.5f, NULL), 0);
    CHECK_EQ_INT(m.matched, 2);
    CHECK_EQ_INT(m.n_ref, 4);
    CHECK_EQ_INT(m.n_test, 2);
    CHECK_NEAR(cvb_detect_match_f1(&m), 4.0 / 6.0, 1e-12);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), 1.0, 0);
}

static void test_bounds(void) {
    static struct cvb_detection many[CVB_DETECT_MAX_DET + 1];
    for (int i = 0; i <= CVB_DETECT_MAX_DET; i++)
        many[i] = box((float)(20 * i), 0, (float)(20 * i + 10), 10, 1.0f - 0.001f * (float)i, 0);
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, many, CVB_DETECT_MAX_DET, many, CVB_DETECT_MAX_DET,
                                      0.5f, NULL),
                 0);
    CHECK_EQ_INT(m.matched, CVB_DETECT_MAX_DET);
    struct cvb_err err = {0};
    struct cvb_detect_match m2 = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m2, many, CVB_DETECT_MAX_DET + 1, many, 1, 0.5f, &err),
                 CVB_EINVAL);
    CHECK(strstr(err.msg, "301") != NULL);
    CHECK_EQ_INT(m2.n_ref, 0);
    CHECK_EQ_INT(cvb_detect_match_add(&m2, many, -1, many, 1, 0.5f, NULL), CVB_EINVAL);
}

int main(void) {
    RUN(test_identical);
    RUN(test_zero_area);
    RUN(test_shift_flip_missing);
    RUN(test_greedy_by_score);
    RUN(test_empty_and_pooling);
    RUN(test_bounds);
    return test_summary();
}
