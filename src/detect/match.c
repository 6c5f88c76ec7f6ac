/* SPDX-License-Identifier: Apache-2.0 */
/* Agreement of two detection sets (contract in include/cvb/detect.h): the
 * accuracy guard of `cvbench infer --precision`, the precision tests and the
 * per-level accuracy of `cvbench run` (src/pipeline/accuracy.c) all count
 * matches here, so "F1" means one thing everywhere.
 *
 * Greedy matching, as a detection benchmark matches predictions to ground
 * truth: test boxes in descending score order (ties: lower index first, an
 * insertion sort, so the result is deterministic), each taking the still
 * unmatched ref box of the same class with the highest IoU >= iou_thresh
 * (ties: the later ref box, as the guard has always counted). O(n_test x
 * n_ref), at most 300 x 300; the scratch lives on the stack, nothing is
 * allocated. */
#include "cvb/detect.h"

#include <string.h>

#include <stdbool.h>

int cvb_detect_match_add(struct cvb_detect_match *m, const struct cvb_detection *ref, int n_ref,
                         const struct cvb_detection *test, int n_test, float iou_thresh,
                         struct cvb_err *err) {
    if (n_ref < 0 || n_test < 0 || n_ref > CVB_DETECT_MAX_DET || n_test > CVB_DETECT_MAX_DET)
        return cvb_err_set(err, CVB_EINVAL, "detect match: %d and %d boxes (each 0..%d)", n_ref,
                           n_test, CVB_DETECT_MAX_DET);
    bool used[CVB_DETECT_MAX_DET] = {false};
    int order[CVB_DETECT_MAX_DET];
    for (int i = 0; i < n_test; i++) {
        int j = i;
        for (; j > 0 && test[i].score > test[order[j - 1]].score; j--) order[j] = order[j - 1];
        order[j] = i;
    }
    for (int k = 0; k < n_test; k++) {
        const struct cvb_detection *d = &test[order[k]];
        const float a[4] = {d->x1, d->y1, d->x2, d->y2};
        int best = -1;
        float best_iou = iou_thresh;
        for (int r = 0; r < n_ref; r++) {
            if (used[r] || ref[r].class_id != d->class_id) continue;
            const float b[4] = {ref[r].x1, ref[r].y1, ref[r].x2, ref[r].y2};
            float iou = cvb_detect_iou(a, b);
            /* a box clipped to zero area (e.g. wholly in the letterbox
             * padding) has no IoU with anything, itself included; the
             * very same box on both sides is still the same detection */
            if (iou == 0 && memcmp(a, b, sizeof a) == 0) iou = 1;
            if (iou >= best_iou) {
                best_iou = iou;
                best = r;
            }
        }
        if (best >= 0) {
            used[best] = true;
            m->matched++;
            m->iou_sum += best_iou;
        }
    }
    m->n_ref += n_ref;
    m->n_test += n_test;
    return 0;
}

double cvb_detect_match_f1(const struct cvb_detect_match *m) {
    if (m->n_ref + m->n_test == 0) return 1.0;
    return 2.0 * (double)m->matched / (double)(m->n_ref + m->n_test);
}

double cvb_detect_match_mean_iou(const struct cvb_detect_match *m) {
    if (m->n_ref + m->n_test == 0) return 1.0;
    return m->matched > 0 ? m->iou_sum / (double)m->matched : 0.0;
}

double cvb_detections_f1(const struct cvb_detection *ref, int n_ref,
                         const struct cvb_detection *test, int n_test, float iou_thresh) {
    struct cvb_detect_match m = {0};
    if (cvb_detect_match_add(&m, ref, n_ref, test, n_test, iou_thresh, NULL) < 0) return 0.0;
    return cvb_detect_match_f1(&m);
}
