/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-computed cases for YOLO output decoding and class-aware NMS:
 * thresholds, score ties, fully overlapping boxes (same class suppressed,
 * different classes kept), greedy chains, the 300-box cap, both output
 * layouts and the layout rule. Box mapping is in test-detect-map.c. */
#include "cvb/detect.h"
#include "test.h"
#include "detect-fixture.h"

#include <stdint.h>

/* One anchor of a hand-made output: centre box and per-class scores. */
struct anchor {
    float cx, cy, w, h;
    float obj; /* V5 only */
    float cls[4];
};

/* Build a V8 tensor [1, 4+nc, n] from 'a' into out (caller-sized). */
static void make_v8(const struct anchor *a, int n, int nc, float *out) {
    for (int i = 0; i < n; i++) {
        out[0 * n + i] = a[i].cx;
        out[1 * n + i] = a[i].cy;
        out[2 * n + i] = a[i].w;
        out[3 * n + i] = a[i].h;
        for (int c = 0; c < nc; c++)
            out[(4 + c) * n + i] = a[i].cls[c];
    }
}

/* Build a V5 tensor [1, n, 5+nc]. */
static void make_v5(const struct anchor *a, int n, int nc, float *out) {
    for (int i = 0; i < n; i++) {
        float *r = out + i * (5 + nc);
        r[0] = a[i].cx;
        r[1] = a[i].cy;
        r[2] = a[i].w;
        r[3] = a[i].h;
        r[4] = a[i].obj;
        for (int c = 0; c < nc; c++)
            r[5 + c] = a[i].cls[c];
    }
}

/* Run a V8 case with default options except iou; returns the count. */
static int run_v8(const struct anchor *a, int n, int nc, float iou, struct cvb_detection *dets) {
    static float buf[4096];
    struct cvb_detect_opts o;
    cvb_detect_opts_init(&o);
    o.layout = CVB_YOLO_V8;
    if (iou > 0) o.iou_thresh = iou;
    int64_t dims[3] = {1, 4 + nc, n};
    struct cvb_detector *d = NULL;
    struct cvb_err err = {0};
    int nd = -1;
    make_v8(a, n, nc, buf);
    CHECK_EQ_INT(cvb_detector_new(3, dims, &o, &d, &err), 0);
    if (d == NULL) return -1;
    CHECK_EQ_INT(cvb_detector_run(d, buf, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    cvb_detector_free(d);
    return nd;
}

static void test_zero_detections(void) {
    struct anchor a[3] = {
        {10, 10, 4, 4, 0, {0.10f, 0.20f}},
        {20, 20, 4, 4, 0, {0.25f, 0.0f}}, /* exactly conf: not > 0.25 */
        {30, 30, 4, 4, 0, {0.0f, NAN}},   /* NaN never passes */
    };
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(run_v8(a, 3, 2, 0, dets), 0);
}

static void test_threshold_and_box(void) {
    struct anchor a[2] = {
        {100, 50, 20, 10, 0, {0.26f, 0.1f}},
        {200, 80, 8, 6, 0, {0.1f, 0.9f}},
    };
    struct cvb_detection d[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(run_v8(a, 2, 2, 0, d), 2);
    /* best first: anchor 1 (class 1, 0.9), then anchor 0 */
    CHECK_EQ_INT(d[0].class_id, 1);
    CHECK_NEAR(d[0].score, 0.9, 1e-7);
    CHECK_NEAR(d[0].x1, 196, 0);
    CHECK_NEAR(d[0].y1, 77, 0);
    CHECK_NEAR(d[0].x2, 204, 0);
    CHECK_NEAR(d[0].y2, 83, 0);
    CHECK_EQ_INT(d[1].class_id, 0);
    CHECK_NEAR(d[1].x1, 90, 0);
    CHECK_NEAR(d[1].y1, 45, 0);
    CHECK_NEAR(d[1].x2, 110, 0);
    CHECK_NEAR(d[1].y2, 55, 0);
}

/* Equal scores: the lower anchor index wins, whatever the box. */
static void test_score_tie(void) {
    /* A = (40,40,60,60), B = (42,40,62,60): IoU = 360/440 = 0.818 */
    struct anchor a[2] = {
        {50, 50, 20, 20, 0, {0.9f}},
        {52, 50, 20, 20, 0, {0.9f}},
    };
    struct cvb_detection d[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(run_v8(a, 2, 1, 0, d), 1);
    CHECK_NEAR(d[0].x1, 40, 0);
    /* swapped anchors: still the lower index (now B's box) */
    struct anchor b[2] = {a[1], a[0]};
    CHECK_EQ_INT(run_v8(b, 2, 1, 0, d), 1);
    CHECK_NEAR(d[0].x1, 42, 0);
    /* non-overlapping ties come out in index order */
    struct anchor c[3] = {
        {300, 300, 10, 10, 0, {0.5f}},
        {100, 100, 10, 10, 0, {0.5f}},
        {200, 200, 10, 10, 0, {0.5f}},
    };
    CHECK_EQ_INT(run_v8(c, 3, 1, 0, d), 3);
    CHECK_NEAR(d[0].x1, 295, 0);
    CHECK_NEAR(d[1].x1, 95, 0);
    CHECK_NEAR(d[2].x1, 195, 0);
    /* equal scores for two classes of one anchor: the first class */
    struct anchor e[1] = {{50, 50, 10, 10, 0, {0.1f, 0.7f, 0.7f}}};
    CHECK_EQ_INT(run_v8(e, 1, 3, 0, d), 1);
    CHECK_EQ_INT(d[0].class_id, 1);
}

/* Identical boxes: same class suppressed, different classes both kept. */
static void test_full_overlap(void) {
    struct anchor same[2] = {
        {50, 50, 20, 20, 0, {0.8f, 0.0f}},
        {50, 50, 20, 20, 0, {0.9f, 0.0f}},
    };
    struct cvb_detection d[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(run_v8(same, 2, 2, 0, d), 1);
    CHECK_NEAR(d[0].score, 0.9, 1e-7);
    struct anchor diff[2] = {
        {50, 50, 20, 20, 0, {0.8f, 0.0f}},
        {50, 50, 20, 20, 0, {0.0f, 0.9f}},
    };
    CHECK_EQ_INT(run_v8(diff, 2, 2, 0, d), 2);
    CHECK_EQ_INT(d[0].class_id, 1);
    CHECK_EQ_INT(d[1].class_id, 0);
    CHECK_NEAR(d[0].x1, d[1].x1, 0);
}

/* IoU exactly at the threshold is kept (suppression needs IoU > thr). */
static void test_iou_threshold_strict(void) {
    /* A = (0,0,10,10), B = (0,0,10,20): IoU = 100/200 = 0.5 exactly */
    struct anchor a[2] = {
        {5, 5, 10, 10, 0, {0.9f}},
        {5, 10, 10, 20, 0, {0.8f}},
    };
    struct cvb_detection d[CVB_DETECT_MAX_DET];
    float ab[4] = {0, 0, 10, 10}, bb[4] = {0, 0, 10, 20};
    CHECK_NEAR(cvb_detect_iou(ab, bb), 0.5, 0);
    CHECK_EQ_INT(run_v8(a, 2, 1, 0.5f, d), 2);
    CHECK_EQ_INT(run_v8(a, 2, 1, 0.49f, d), 1);
    /* disjoint and degenerate boxes have IoU 0 */
    float cb[4] = {20, 20, 30, 30}, zb[4] = {5, 5, 5, 5};
    CHECK_NEAR(cvb_detect_iou(ab, cb), 0, 0);
    CHECK_NEAR(cvb_detect_iou(zb, zb), 0, 0);
}

/* Greedy: A suppresses B; C overlaps only B, so C survives. */
static void test_greedy_chain(void) {
    /* A=(0,0,10,10) B=(3,0,13,10) C=(6,0,16,10): IoU(A,B)=70/130, IoU(A,C)=40/160 */
    struct anchor a[3] = {
        {11, 5, 10, 10, 0, {0.7f}}, /* C */
        {8, 5, 10, 10, 0, {0.8f}},  /* B */
        {5, 5, 10, 10, 0, {0.9f}},  /* A */
    };
    struct cvb_detection d[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(run_v8(a, 3, 1, 0, d), 2);
    CHECK_NEAR(d[0].x1, 0, 0);
    CHECK_NEAR(d[1].x1, 6, 0);
}

/* 1000 disjoint candidates: the 300 best are kept, best first. */
static void test_cap_300(void) {
    enum { N = 1000 };
    static float buf[5 * N];
    struct cvb_detect_opts o;
    cvb_detect_opts_init(&o);
    int64_t dims[3] = {1, 5, N}; /* 5 < 1000: auto picks V8 with one class */
    for (int i = 0; i < N; i++) {
        buf[i] = (float)(i % 40) * 16 + 8;          /* cx */
        buf[N + i] = (float)(i / 40) * 16 + 8;      /* cy */
        buf[2 * N + i] = 10;                        /* w */
        buf[3 * N + i] = 10;                        /* h */
        buf[4 * N + i] = 0.3f + 0.0005f * (float)i; /* ascending scores */
    }
    struct cvb_detector *d = NULL;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_detector_new(3, dims, &o, &d, &err), 0);
    if (d == NULL) return;
    CHECK_EQ_INT(cvb_detector_layout(d), CVB_YOLO_V8);
    CHECK_EQ_INT(cvb_detector_n_classes(d), 1);
    CHECK_EQ_INT(cvb_detector_n_anchors(d), N);
    static struct cvb_detection dets[CVB_DETECT_MAX_DET];
    int nd = 0;
    CHECK_EQ_INT(cvb_detector_run(d, buf, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 300);
    /* anchor 999: column 39, row 24 -> centre (632, 392) */
    CHECK_NEAR(dets[0].x1, 627, 0);
    CHECK_NEAR(dets[0].y1, 387, 0);
    CHECK_NEAR(dets[0].score, buf[4 * N + 999], 0);
    /* the 300th is anchor 700: column 20, row 17 -> centre (328, 280) */
    CHECK_NEAR(dets[299].x1, 323, 0);
    CHECK_NEAR(dets[299].y1, 275, 0);
    int sorted = 1;
    for (int i = 1; i < nd; i++)
        if (dets[i].score > dets[i - 1].score) sorted = 0;
    CHECK(sorted);
    /* a smaller caller buffer caps the count too */
    CHECK_EQ_INT(cvb_detector_run(d, buf, NULL, dets, 7, &nd, &err), 0);
    CHECK_EQ_INT(nd, 7);
    CHECK_NEAR(dets[0].x1, 627, 0);
    /* the same run twice gives the same answer (no state carried over) */
    struct cvb_detection again[7];
    CHECK_EQ_INT(cvb_detector_run(d, buf, NULL, again, 7, &nd, &err), 0);
    CHECK(memcmp(again, dets, sizeof again) == 0);
    cvb_detector_free(d);

    o.max_det = 5;
    CHECK_EQ_INT(cvb_detector_new(3, dims, &o, &d, &err), 0);
    if (d == NULL) return;
    CHECK_EQ_INT(cvb_detector_run(d, buf, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 5);
    cvb_detector_free(d);
}

/* Classic v5: score = objectness x class score. */
static void test_v5_layout(void) {
    struct anchor a[4] = {
        {100, 100, 20, 20, 0.5f, {0.6f, 0.4f}},  /* 0.30, class 0: kept */
        {200, 200, 20, 20, 0.9f, {0.2f, 0.25f}}, /* 0.225: dropped */
        {300, 300, 20, 20, 0.2f, {1.0f, 1.0f}},  /* objectness <= conf: dropped */
        {102, 100, 20, 20, 0.95f, {0.1f, 0.8f}}, /* 0.76, class 1: kept, overlaps 0 */
    };
    float v5[4 * 7], v8[6 * 4];
    make_v5(a, 4, 2, v5);
    struct cvb_detect_opts o;
    cvb_detect_opts_init(&o);
    o.layout = CVB_YOLO_V5;
    int64_t dims[3] = {1, 4, 7};
    struct cvb_detector *d = NULL;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_detector_new(3, dims, &o, &d, &err), 0);
    if (d == NULL) return;
    CHECK_EQ_INT(cvb_detector_n_classes(d), 2);
    CHECK_EQ_INT(cvb_detector_n_anchors(d), 4);
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
    int nd = 0;
    CHECK_EQ_INT(cvb_detector_run(d, v5, NULL, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    cvb_detector_free(d);
    CHECK_EQ_INT(nd, 2);
    CHECK_EQ_INT(dets[0].class_id, 1);
    CHECK_NEAR(dets[0].score, 0.95f * 0.8f, 1e-7);
    CHECK_NEAR(dets[0].x1, 92, 0);
    CHECK_EQ_INT(dets[1].class_id, 0);
    CHECK_NEAR(dets[1].score, 0.5f * 0.6f, 1e-7);

    /* The same scene as V8 (scores pre-multiplied) gives the same boxes. */
    struct anchor b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = a[i];
        if (!(a[i].obj > 0.25f)) b[i].cls[0] = b[i].cls[1] = 0;
        for (int c = 0; c < 2; c++)
            b[i].cls[c] *= a[i].obj;
    }
    make_v8(b, 4, 2, v8);
    int64_t d8[3] = {1, 6, 4};
    o.layout = CVB_YOLO_V8;
    CHECK_EQ_INT(cvb_detector_new(3, d8, &o, &d, &err), 0);
    if (d == NULL) return;
    struct cvb_detection dets8[CVB_DETECT_MAX_DET];
    CHECK_EQ_INT(cvb_detector_run(d, v8, NULL, dets8, CVB_DETECT_MAX_DET, &nd, &err), 0);
    cvb_detector_free(d);
    CHECK_EQ_INT(nd, 2);
    CHECK(memcmp(dets8, dets, 2 * sizeof dets[0]) == 0);
}

/* The layout rule documented in detect.h. */
static void test_layout_rule(void) {
    enum cvb_yolo_layout l = CVB_YOLO_AUTO;
    int nc = 0;
    int64_t na = 0;
    struct cvb_err err = {0};
    int64_t v8[3] = {1, 84, 8400}, v5[3] = {1, 25200, 85}, v8_2d[2] = {84, 2100};
    CHECK_EQ_INT(resolve(3, v8, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V8);
    CHECK_EQ_INT(nc, 80);
    CHECK_EQ_INT(na, 8400);
    CHECK_EQ_INT(resolve(3, v5, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V5);
    CHECK_EQ_INT(nc, 80);
    CHECK_EQ_INT(na, 25200);
    CHECK_EQ_INT(resolve(2, v8_2d, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V8);
    CHECK_EQ_INT(na, 2100);
    /* a class count decides small shapes: [1, 6, 7] is V8 with 2 classes
     * (rows 4+2) before V5 with 2 classes (columns 5+2) */
    int64_t small[3] = {1, 6, 7};
    CHECK_EQ_INT(resolve(3, small, CVB_YOLO_AUTO, 2, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V8);
    CHECK_EQ_INT(na, 7);
    CHECK_EQ_INT(resolve(3, small, CVB_YOLO_AUTO, 1, &l, &nc, &na, &err), CVB_ESHAPE);
    int64_t v5small[3] = {1, 10, 8}; /* 10 anchors of 5+3 */
    CHECK_EQ_INT(resolve(3, v5small, CVB_YOLO_AUTO, 3, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V5);
    CHECK_EQ_INT(na, 10);
    /* forcing a layout overrides the rule */
    CHECK_EQ_INT(resolve(3, small, CVB_YOLO_V5, 0, &l, &nc, &na, &err), 0);
    CHECK_EQ_INT(l, CVB_YOLO_V5);
    CHECK_EQ_INT(nc, 2);
    CHECK_EQ_INT(na, 6);
    /* refused shapes */
    int64_t square[3] = {1, 84, 84}, batch2[3] = {2, 84, 8400}, few[3] = {1, 4, 100},
            fourd[4] = {1, 1, 84, 8400}, neg[3] = {1, -84, 8400},
            huge[3] = {1, 84, (int64_t)1 << 40};
    CHECK_EQ_INT(resolve(3, square, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK(strstr(err.msg, "ambiguous") != NULL);
    CHECK_EQ_INT(resolve(3, batch2, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(3, few, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(4, fourd, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(3, neg, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(3, huge, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    CHECK_EQ_INT(resolve(0, v8, CVB_YOLO_AUTO, 0, &l, &nc, &na, &err), CVB_ESHAPE);
    /* bad options */
    struct cvb_detect_opts o;
    struct cvb_detector *d = NULL;
    cvb_detect_opts_init(&o);
    o.conf_thresh = 1.5f;
    CHECK_EQ_INT(cvb_detector_new(3, v8, &o, &d, &err), CVB_EINVAL);
    cvb_detect_opts_init(&o);
    o.iou_thresh = NAN;
    CHECK_EQ_INT(cvb_detector_new(3, v8, &o, &d, &err), CVB_EINVAL);
    cvb_detect_opts_init(&o);
    o.max_det = 301;
    CHECK_EQ_INT(cvb_detector_new(3, v8, &o, &d, &err), CVB_EINVAL);
    CHECK(d == NULL);
}

static void test_coco_names(void) {
    CHECK(strcmp(cvb_coco_class_name(0), "person") == 0);
    CHECK(strcmp(cvb_coco_class_name(16), "dog") == 0);
    CHECK(strcmp(cvb_coco_class_name(79), "toothbrush") == 0);
    CHECK(cvb_coco_class_name(80) == NULL);
    CHECK(cvb_coco_class_name(-1) == NULL);
    /* same order as darknet's list, which spells some names differently */
    FILE *f = fopen("/usr/share/darknet/data/coco.names", "r");
    if (f == NULL) return;
    char line[64];
    int i = 0, same = 0;
    while (i < 80 && fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, cvb_coco_class_name(i)) == 0) same++;
        i++;
    }
    fclose(f);
    CHECK_EQ_INT(i, 80);
    CHECK_EQ_INT(same, 80 - 6); /* motorbike aeroplane sofa pottedplant diningtable tvmonitor */
}

int main(void) {
    RUN(test_zero_detections);
    RUN(test_threshold_and_box);
    RUN(test_score_tie);
    RUN(test_full_overlap);
    RUN(test_iou_threshold_strict);
    RUN(test_greedy_chain);
    RUN(test_cap_300);
    RUN(test_v5_layout);
    RUN(test_layout_rule);
    RUN(test_coco_names);
    return test_summary();
}
