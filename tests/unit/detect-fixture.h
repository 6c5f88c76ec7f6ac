/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers of the detect tests: resolve a shape to a layout the way
 * cvb_detector_new() does, and check a detection's box. */
#ifndef CVB_TEST_DETECT_FIXTURE_H
#define CVB_TEST_DETECT_FIXTURE_H

#include "cvb/detect.h"
#include "test.h"

/* cvb_detector_new() on 'dims' with layout 'force' and 'n_classes'; on
 * success sets the resolved layout, class count and anchor (row) count. */
static int resolve(int ndim, const int64_t *dims, enum cvb_yolo_layout force, int n_classes,
                   enum cvb_yolo_layout *layout, int *nc, int64_t *na, struct cvb_err *err) {
    struct cvb_detect_opts o;
    cvb_detect_opts_init(&o);
    o.layout = force;
    o.n_classes = n_classes;
    struct cvb_detector *d = NULL;
    int rc = cvb_detector_new(ndim, dims, &o, &d, err);
    if (rc == 0) {
        *layout = cvb_detector_layout(d);
        *nc = cvb_detector_n_classes(d);
        *na = cvb_detector_n_anchors(d);
    }
    CHECK(rc == 0 || d == NULL);
    cvb_detector_free(d);
    return rc;
}

/* The box of 'd' is (x1, y1, x2, y2) within 'tol'. */
#define CHECK_BOX(d, ex1, ey1, ex2, ey2, tol) \
    do {                                      \
        CHECK_NEAR((d).x1, ex1, tol);         \
        CHECK_NEAR((d).y1, ey1, tol);         \
        CHECK_NEAR((d).x2, ex2, tol);         \
        CHECK_NEAR((d).y2, ey2, tol);         \
    } while (0)

#endif
