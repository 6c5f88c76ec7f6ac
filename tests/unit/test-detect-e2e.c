/* SPDX-License-Identifier: Apache-2.0 */
/* The end-to-end layout [1, K, 6] (x1, y1, x2, y2, score, class): YOLOv10 /
 * YOLO26 end2end heads and nms=True exports, on hand-built tensors.
 * Threshold (strict, NaN skipped, zero padding never passes), no NMS, sort,
 * the max_det cap, class ids (valid, out of range, fractional), letterbox
 * mapping and clipping, the layout rule for six columns and the refused
 * shapes, and the matcher on end-to-end boxes. Contract in detect.h. */
#include "cvb/detect.h"
#include "cvb/video.h"
#include "detect-fixture.h"
#include "test.h"

#include <stdint.h>

struct row {
    float x1, y1, x2, y2, score, cls;
};

/* Make a detector for 'n' rows with 'o' (layout E2E forced unless set) and
 * run it on 'rows'; returns cvb_detector_run's status, sets *nd. */
static int run_rows(const struct row *rows, int n, const struct cvb_detect_opts *o,
                    const struct cvb_letterbox *lb, struct cvb_detection *dets, int max_dets,
                    int *nd, struct cvb_err *err) {
    int64_t dims[3] = {1, n, 6};
    struct cvb_detector *d = NULL;
    *nd = -1;
    int rc = cvb_detector_new(3, dims, o, &d, err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) return rc;
    CHECK_EQ_INT(cvb_detector_layout(d), CVB_YOLO_E2E);
    rc = cvb_detector_run(d, (const float *)rows, lb, dets, max_dets, nd, err);
    cvb_detector_free(d);
    return rc;
}

static void opts(struct cvb_detect_opts *o) {
    cvb_detect_opts_init(o);
}

/* Strictly above conf passes; exactly conf, below, NaN and the zero rows of
 * an nms=True export do not. Rows keep their order when already sorted. */
static void test_threshold(void) {
    struct row r[8] = {
        {10, 10, 20, 20, 0.9f, 3},                 /* kept */
        {30, 30, 40, 40, 0.25f, 1},                /* exactly conf: dropped */
        {50, 50, 60, 60, NAN, 2},                  /* NaN: skipped */
        {70, 70, 80, 80, nextafterf(0.25f, 1), 5}, /* just above: kept */
        {90, 90, 95, 95, 0.1f, 7},                 /* below */
        {0, 0, 0, 0, 0, 0},                        /* padding */
        {0, 0, 0, 0, 0, 0},
        {0, 0, 0, 0, -INFINITY, 0},
    };
    struct cvb_detect_opts o;
    opts(&o);
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
    struct cvb_err err = {0};
    int nd = 0;
    CHECK_EQ_INT(run_rows(r, 8, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 2);
    CHECK_EQ_INT(dets[0].class_id, 3);
    CHECK_NEAR(dets[0].score, 0.9f, 0);
    CHECK_BOX(dets[0], 10, 10, 20, 20, 0);
    CHECK_EQ_INT(dets[1].class_id, 5);
    CHECK_NEAR(dets[1].score, nextafterf(0.25f, 1), 0);

    /* conf 0: the zero padding of an nms=True export still never passes */
    o.conf_thresh = 0;
    CHECK_EQ_INT(run_rows(r, 8, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 4); /* 0.9, 0.25+, 0.25, 0.1 */
    CHECK_NEAR(dets[3].score, 0.1f, 0);
    /* conf 1: nothing (a score can't be > 1 here) */
    o.conf_thresh = 1;
    CHECK_EQ_INT(run_rows(r, 8, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 0);
}

/* A row with a NaN or infinite coordinate is skipped; corners are ordered. */
static void test_bad_boxes(void) {
    struct row r[4] = {
        {NAN, 10, 20, 20, 0.9f, 0},
        {10, 10, INFINITY, 20, 0.8f, 0},
        {40, 50, 30, 35, 0.7f, 1}, /* corners swapped: (30,35)-(40,50) */
        {10, -INFINITY, 20, 20, 0.6f, 0},
    };
    struct cvb_detect_opts o;
    opts(&o);
    struct cvb_detection dets[4];
    struct cvb_err err = {0};
    int nd = 0;
    CHECK_EQ_INT(run_rows(r, 4, &o, NULL, dets, 4, &nd, &err), 0);
    CHECK_EQ_INT(nd, 1);
    CHECK_EQ_INT(dets[0].class_id, 1);
    CHECK_BOX(dets[0], 30, 35, 40, 50, 0);
}

/* No NMS: identical boxes of one class both stay (an end2end head's top-K
 * may also list one anchor under two classes). Unsorted rows come out by
 * score, ties in row order. */
static void test_no_nms_and_order(void) {
    struct row r[5] = {
        {10, 10, 50, 50, 0.5f, 2},  {10, 10, 50, 50, 0.8f, 2}, /* same box, same class */
        {10, 10, 50, 50, 0.8f, 4}, /* same box, other class, tie with row 1 */
        {60, 60, 70, 70, 0.95f, 0}, {10, 10, 50, 50, 0.3f, 2},
    };
    struct cvb_detect_opts o;
    opts(&o);
    o.iou_thresh = 0; /* would suppress everything overlapping under NMS */
    struct cvb_detection dets[8];
    struct cvb_err err = {0};
    int nd = 0;
    CHECK_EQ_INT(run_rows(r, 5, &o, NULL, dets, 8, &nd, &err), 0);
    CHECK_EQ_INT(nd, 5);
    const float score[5] = {0.95f, 0.8f, 0.8f, 0.5f, 0.3f};
    const int cls[5] = {0, 2, 4, 2, 2};
    for (int i = 0; i < 5 && i < nd; i++) {
        CHECK_NEAR(dets[i].score, score[i], 0);
        CHECK_EQ_INT(dets[i].class_id, cls[i]);
    }
}

/* At most opts.max_det, and at most the caller's buffer, best first. */
static void test_max_det_cap(void) {
    static struct row r[300];
    for (int i = 0; i < 300; i++)
        r[i] =
            (struct row){(float)i, 0, (float)i + 5, 5, 0.3f + 0.002f * (float)i, (float)(i % 80)};
    struct cvb_detect_opts o;
    opts(&o);
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
    struct cvb_err err = {0};
    int nd = 0;
    CHECK_EQ_INT(run_rows(r, 300, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 300);
    CHECK_NEAR(dets[0].x1, 299, 0); /* the last row scores highest */
    CHECK_NEAR(dets[299].x1, 0, 0);
    o.max_det = 10;
    CHECK_EQ_INT(run_rows(r, 300, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 10);
    CHECK_NEAR(dets[9].x1, 290, 0);
    CHECK_EQ_INT(dets[9].class_id, 290 % 80);
    o.max_det = 300;
    CHECK_EQ_INT(run_rows(r, 300, &o, NULL, dets, 3, &nd, &err), 0);
    CHECK_EQ_INT(nd, 3);
    CHECK_NEAR(dets[2].x1, 297, 0);
    /* more rows than CVB_DETECT_MAX_DET (an export with max_det 1000) */
    static struct row big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (struct row){0, 0, 1, 1, 0.5f, 0};
    CHECK_EQ_INT(run_rows(big, 1000, &o, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, CVB_DETECT_MAX_DET);
}

/* Class ids: integers in 0..n_classes-1 (0..CVB_DETECT_MAX_CLASSES-1 when
 * unknown); a passing row with anything else fails naming the row; a row
 * below the threshold is never looked at. */
static void test_class_ids(void) {
    struct cvb_detect_opts o;
    opts(&o);
    o.n_classes = 80;
    struct cvb_detection dets[4];
    struct cvb_err err = {0};
    int nd = 0;
    struct row ok[3] = {{0, 0, 1, 1, 0.9f, 0}, {0, 0, 1, 1, 0.8f, 79}, {0, 0, 1, 1, 0.1f, -7.5f}};
    CHECK_EQ_INT(run_rows(ok, 3, &o, NULL, dets, 4, &nd, &err), 0);
    CHECK_EQ_INT(nd, 2);
    CHECK_EQ_INT(dets[0].class_id, 0);
    CHECK_EQ_INT(dets[1].class_id, 79);

    const float bad[5] = {80, -1, 2.5f, NAN, INFINITY};
    for (int i = 0; i < 5; i++) {
        struct row r[2] = {{0, 0, 1, 1, 0.9f, 1}, {0, 0, 1, 1, 0.8f, bad[i]}};
        err = (struct cvb_err){0};
        CHECK_EQ_INT(run_rows(r, 2, &o, NULL, dets, 4, &nd, &err), CVB_EFORMAT);
        CHECK_EQ_INT(nd, 0);
        CHECK(strstr(err.msg, "end-to-end output row 1") != NULL);
        CHECK(strstr(err.msg, "0..79") != NULL);
    }
    /* unknown class count: any id below CVB_DETECT_MAX_CLASSES */
    o.n_classes = 0;
    struct row big[1] = {{0, 0, 1, 1, 0.9f, 1000}};
    CHECK_EQ_INT(run_rows(big, 1, &o, NULL, dets, 4, &nd, &err), 0);
    CHECK_EQ_INT(dets[0].class_id, 1000);
    big[0].cls = (float)CVB_DETECT_MAX_CLASSES;
    CHECK_EQ_INT(run_rows(big, 1, &o, NULL, dets, 4, &nd, &err), CVB_EFORMAT);
}

/* Boxes in model-input pixels go back through the letterbox and are clipped
 * to the picture: dog.jpg 768x576 into 128x128 has scale 1/6, 16 rows of
 * top padding. */
static void test_letterbox(void) {
    struct cvb_letterbox lb;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_letterbox_geometry(768, 576, 128, 128, &lb, &err), 0);
    CHECK_EQ_INT(lb.pad_top, 16);
    struct row r[4] = {
        {32, 48, 96, 80, 0.9f, 16},   /* inside: x * 6, (y - 16) * 6 */
        {54, 0, 74, 16, 0.8f, 2},     /* in the top pad: a flat box on the edge */
        {-10, 100, 20, 140, 0.7f, 0}, /* past the left and bottom edges */
        {120, 20, 140, 30, 0.6f, 1},  /* past the right edge */
    };
    struct cvb_detect_opts o;
    opts(&o);
    struct cvb_detection dets[4];
    int nd = 0;
    CHECK_EQ_INT(run_rows(r, 4, &o, &lb, dets, 4, &nd, &err), 0);
    CHECK_EQ_INT(nd, 4);
    CHECK_BOX(dets[0], 192, 192, 576, 384, 1e-3);
    CHECK_BOX(dets[1], 324, 0, 444, 0, 1e-3); /* y clipped to exactly 0 */
    CHECK_BOX(dets[2], 0, 504, 120, 576, 1e-3);
    CHECK_BOX(dets[3], 720, 24, 768, 84, 1e-3);
    /* a bad letterbox is refused */
    lb.scale = 0;
    CHECK_EQ_INT(run_rows(r, 4, &o, &lb, dets, 4, &nd, &err), CVB_EINVAL);
}

/* Six columns are end-to-end unless the layout is forced (detect.h). */
static void test_layout_rule(void) {
    enum cvb_yolo_layout l = CVB_YOLO_AUTO;
    int nc = -1;
    int64_t na = 0;
    struct cvb_err err = {0};
    int64_t e2e[3] = {1, 300, 6}, e2e_2d[2] = {300, 6}, small[3] = {1, 84, 6},
            square6[3] = {1, 6, 6}, v5one[3] = {1, 25200, 6};
    CHECK_EQ_INT(resolve(3, e2e, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    CHECK_EQ_INT(nc, 0);
    CHECK_EQ_INT(na, 300);
    CHECK_EQ_INT(resolve(2, e2e_2d, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    /* K below 300: max_det clamped to the anchors of a tiny imgsz */
    CHECK_EQ_INT(resolve(3, small, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    CHECK_EQ_INT(na, 84);
    CHECK_EQ_INT(resolve(3, square6, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    /* a class count bounds the ids, it does not turn six columns into v5 */
    CHECK_EQ_INT(resolve(3, v5one, CVB_YOLO_AUTO, 1, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    CHECK_EQ_INT(nc, 1);
    /* ... forcing does: a one-class YOLOv5 head */
    CHECK_EQ_INT(resolve(3, v5one, CVB_YOLO_V5, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V5);
    CHECK_EQ_INT(nc, 1);
    CHECK_EQ_INT(na, 25200);
    CHECK_EQ_INT(resolve(3, e2e, CVB_YOLO_E2E, 80, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_E2E);
    CHECK_EQ_INT(nc, 80);

    /* malformed shapes, refused with the shape in the message */
    int64_t v8[3] = {1, 84, 8400}, batch2[3] = {2, 300, 6}, fourd[4] = {1, 1, 300, 6},
            zero[3] = {1, 0, 6}, seven[3] = {1, 300, 7}, huge[3] = {1, (int64_t)1 << 40, 6};
    err = (struct cvb_err){0};
    CHECK_EQ_INT(resolve(3, v8, CVB_YOLO_E2E, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK(strstr(err.msg, "[1, 84, 8400]") != NULL);
    CHECK(strstr(err.msg, "not 6") != NULL);
    CHECK_EQ_INT(resolve(3, seven, CVB_YOLO_E2E, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK(strstr(err.msg, "7 values") != NULL);
    CHECK_EQ_INT(resolve(3, batch2, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK(strstr(err.msg, "[2, 300, 6]") != NULL);
    CHECK(strstr(err.msg, "[1, K, 6]") != NULL);
    CHECK_EQ_INT(resolve(4, fourd, CVB_YOLO_E2E, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(3, zero, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK(strstr(err.msg, "out of range") != NULL);
    CHECK_EQ_INT(resolve(3, huge, CVB_YOLO_E2E, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    /* an unknown layout value is a bad option */
    CHECK_EQ_INT(resolve(3, e2e, (enum cvb_yolo_layout)(CVB_YOLO_E2E + 1), 0, &l, &nc, &na, &err),
                 CVB_EINVAL);

    /* the guess of `run` and `model info`: square v8 outputs are v8, six
     * columns end-to-end */
    int64_t sq[3] = {1, 84, 84};
    struct cvb_detector *d = NULL;
    CHECK_EQ_INT(cvb_detector_new(3, sq, NULL, &d, &err), CVB_ESHAPE);
    CHECK_EQ_INT(cvb_detector_new_guess(3, sq, NULL, &d, &err), 0);
    if (d != NULL) CHECK_EQ_INT(cvb_detector_layout(d), CVB_YOLO_V8);
    cvb_detector_free(d);
    d = NULL;
    CHECK_EQ_INT(cvb_detector_new_guess(3, e2e, NULL, &d, &err), 0);
    if (d != NULL) CHECK_EQ_INT(cvb_detector_layout(d), CVB_YOLO_E2E);
    cvb_detector_free(d);
    CHECK(strcmp(cvb_yolo_layout_name(CVB_YOLO_E2E), "end2end") == 0);
    CHECK(strcmp(cvb_yolo_layout_name(CVB_YOLO_V8), "yolov8") == 0);
    CHECK(strcmp(cvb_yolo_layout_name(CVB_YOLO_V5), "yolov5") == 0);
}

/* The accuracy matcher takes end-to-end boxes as any others: an int8 run's
 * rows against fp32's, one box moved and one class changed. */
static void test_matcher(void) {
    struct row ref[3] = {
        {0, 0, 100, 100, 0.9f, 1}, {200, 200, 300, 300, 0.8f, 2}, {400, 0, 500, 100, 0.7f, 3}};
    struct row test[3] = {
        {2, 0, 102, 100, 0.88f, 1}, {200, 200, 300, 300, 0.8f, 5}, {400, 0, 500, 100, 0.71f, 3}};
    struct cvb_detect_opts o;
    opts(&o);
    struct cvb_detection a[3], b[3];
    struct cvb_err err = {0};
    int na = 0, nb = 0;
    CHECK_EQ_INT(run_rows(ref, 3, &o, NULL, a, 3, &na, &err), 0);
    CHECK_EQ_INT(run_rows(test, 3, &o, NULL, b, 3, &nb, &err), 0);
    struct cvb_detect_match m = {0};
    CHECK_EQ_INT(cvb_detect_match_add(&m, a, na, b, nb, 0.5f, &err), 0);
    CHECK_EQ_INT(m.matched, 2);
    CHECK_NEAR(cvb_detect_match_f1(&m), 2.0 * 2 / 6, 1e-12);
    CHECK_NEAR(cvb_detect_match_mean_iou(&m), (1.0 + 98.0 / 102.0) / 2, 1e-6);
}

int main(void) {
    RUN(test_threshold);
    RUN(test_bad_boxes);
    RUN(test_no_nms_and_order);
    RUN(test_max_det_cap);
    RUN(test_class_ids);
    RUN(test_letterbox);
    RUN(test_layout_rule);
    RUN(test_matcher);
    return test_summary();
}
