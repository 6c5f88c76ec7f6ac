/* SPDX-License-Identifier: Apache-2.0 */
/* Letterbox geometry (Ultralytics' LetterBox, hand-computed) and mapping of
 * detected boxes back to original pixels: landscape, portrait, boxes on and
 * beyond the letterbox border, and the whole path through the detector. */
#include "cvb/detect.h"
#include "cvb/video.h"
#include "test.h"

static void check_geom(int sw, int sh, int dw, int dh, int new_w, int new_h, int left, int top,
                       double scale) {
    struct cvb_letterbox lb;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_letterbox_geometry(sw, sh, dw, dh, &lb, &err), 0);
    CHECK_EQ_INT(lb.new_w, new_w);
    CHECK_EQ_INT(lb.new_h, new_h);
    CHECK_EQ_INT(lb.pad_left, left);
    CHECK_EQ_INT(lb.pad_top, top);
    CHECK_NEAR(lb.scale, scale, 1e-12);
    CHECK_EQ_INT(lb.src_w, sw);
    CHECK_EQ_INT(lb.dst_h, dh);
}

static void test_geometry(void) {
    /* dog.jpg 768x576: r = min(640/576, 640/768) = 5/6; 480 rows, dh = 80 */
    check_geom(768, 576, 640, 640, 640, 480, 0, 80, 640.0 / 768);
    check_geom(768, 576, 320, 320, 320, 240, 0, 40, 320.0 / 768);
    /* landscape 1280x720 -> 640: r = 0.5, 640x360, dh = 140, top = round(139.9) */
    check_geom(1280, 720, 640, 640, 640, 360, 0, 140, 0.5);
    /* portrait 720x1280 -> 640: 360x640, left = 140 */
    check_geom(720, 1280, 640, 640, 360, 640, 140, 0, 0.5);
    /* upscaling: 300x500 -> 640: r = 1.28, 384x640, left = 128 */
    check_geom(300, 500, 640, 640, 384, 640, 128, 0, 1.28);
    /* odd padding: 4x11 -> 11x11: dw = 3.5, left = round(3.4) = 3 (right gets 4) */
    check_geom(4, 11, 11, 11, 4, 11, 3, 0, 1.0);
    /* Python round() is half to even: 100x5 -> 50: 5 * 0.5 = 2.5 -> 2, dh = 24 */
    check_geom(100, 5, 50, 50, 50, 2, 0, 24, 0.5);
    /* 100x7 -> 50: 3.5 -> 4, dh = 23, top = round(22.9) = 23 */
    check_geom(100, 7, 50, 50, 50, 4, 0, 23, 0.5);
    /* non-square canvas: 1280x720 into 640x384: r = min(384/720, 0.5) = 0.5 */
    check_geom(1280, 720, 640, 384, 640, 360, 0, 12, 0.5);
    /* same size: no resize, no padding */
    check_geom(640, 640, 640, 640, 640, 640, 0, 0, 1.0);

    struct cvb_letterbox lb;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_letterbox_geometry(0, 10, 640, 640, &lb, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_letterbox_geometry(10, 10, 640, -1, &lb, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_letterbox_geometry(20000, 10, 640, 640, &lb, &err), CVB_EINVAL);
}

static void unmap(int sw, int sh, float x1, float y1, float x2, float y2, float ex1, float ey1,
                  float ex2, float ey2) {
    struct cvb_letterbox lb;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_letterbox_geometry(sw, sh, 640, 640, &lb, &err), 0);
    float b[4] = {x1, y1, x2, y2};
    cvb_letterbox_unmap(&lb, b);
    CHECK_NEAR(b[0], ex1, 1e-3);
    CHECK_NEAR(b[1], ey1, 1e-3);
    CHECK_NEAR(b[2], ex2, 1e-3);
    CHECK_NEAR(b[3], ey2, 1e-3);
}

static void test_unmap(void) {
    /* landscape 1280x720 (scale 0.5, top 140) */
    unmap(1280, 720, 100, 140, 300, 320, 200, 0, 600, 360);
    unmap(1280, 720, 0, 140, 640, 500, 0, 0, 1280, 720);        /* the whole picture */
    unmap(1280, 720, -10, 100, 50, 150, 0, 0, 100, 20);         /* into the top border */
    unmap(1280, 720, 600, 480, 700, 560, 1200, 680, 1280, 720); /* into bottom/right */
    unmap(1280, 720, 10, 10, 50, 50, 20, 0, 100, 0);            /* wholly in the pad */
    /* portrait 720x1280 (scale 0.5, left 140) */
    unmap(720, 1280, 140, 0, 500, 640, 0, 0, 720, 1280);
    unmap(720, 1280, 240, 100, 340, 300, 200, 200, 400, 600);
    unmap(720, 1280, 100, 10, 150, 20, 0, 20, 20, 40); /* into the left border */
    /* dog.jpg 768x576 at 640: scale 5/6, top 80 */
    unmap(768, 576, 64, 80, 128, 160, 76.8f, 0, 153.6f, 96);
}

/* Output tensor -> detector -> original pixels, for both orientations. */
static void test_detector_maps(void) {
    enum { N = 3 };
    float out[5 * N] = {
        /* cx */ 320,  200,  600,
        /* cy */ 320,  150,  20,
        /* w  */ 100,  40,   100,
        /* h  */ 60,   20,   60,
        /* s  */ 0.9f, 0.8f, 0.7f,
    };
    int64_t dims[3] = {1, 5, N};
    struct cvb_detector *d = NULL;
    struct cvb_err err = {0};
    struct cvb_detect_opts o;
    cvb_detect_opts_init(&o);
    o.layout = CVB_YOLO_V8; /* 5 > 3 would read as V5 by the auto rule */
    CHECK_EQ_INT(cvb_detector_new(3, dims, &o, &d, &err), 0);
    if (d == NULL) return;
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
    int nd = 0;
    struct cvb_letterbox lb;

    /* landscape 1280x720: scale 0.5, top 140 */
    CHECK_EQ_INT(cvb_letterbox_geometry(1280, 720, 640, 640, &lb, &err), 0);
    CHECK_EQ_INT(cvb_detector_run(d, out, &lb, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 3);
    /* (270,290,370,350) -> (540, 300, 740, 420) */
    CHECK_NEAR(dets[0].x1, 540, 1e-3);
    CHECK_NEAR(dets[0].y1, 300, 1e-3);
    CHECK_NEAR(dets[0].x2, 740, 1e-3);
    CHECK_NEAR(dets[0].y2, 420, 1e-3);
    /* (180,140,220,160) on the top edge of the picture -> (360, 0, 440, 40) */
    CHECK_NEAR(dets[1].x1, 360, 1e-3);
    CHECK_NEAR(dets[1].y1, 0, 1e-3);
    CHECK_NEAR(dets[1].y2, 40, 1e-3);
    /* (550,-10,650,50): wholly in the top pad: clipped to a flat box at y=0 */
    CHECK_NEAR(dets[2].x1, 1100, 1e-3);
    CHECK_NEAR(dets[2].x2, 1280, 1e-3);
    CHECK_NEAR(dets[2].y1, 0, 1e-3);
    CHECK_NEAR(dets[2].y2, 0, 1e-3);

    /* portrait 720x1280: scale 0.5, left 140 */
    CHECK_EQ_INT(cvb_letterbox_geometry(720, 1280, 640, 640, &lb, &err), 0);
    CHECK_EQ_INT(cvb_detector_run(d, out, &lb, dets, CVB_DETECT_MAX_DET, &nd, &err), 0);
    CHECK_EQ_INT(nd, 3);
    /* (270,290,370,350) -> (260, 580, 460, 700) */
    CHECK_NEAR(dets[0].x1, 260, 1e-3);
    CHECK_NEAR(dets[0].y1, 580, 1e-3);
    CHECK_NEAR(dets[0].x2, 460, 1e-3);
    CHECK_NEAR(dets[0].y2, 700, 1e-3);
    /* (180,140,220,160) -> (80, 280, 160, 320) */
    CHECK_NEAR(dets[1].x1, 80, 1e-3);
    CHECK_NEAR(dets[1].y1, 280, 1e-3);
    /* (550,-10,650,50): right pad starts at 500 -> x clipped to 720, y1 to 0 */
    CHECK_NEAR(dets[2].x1, 720, 1e-3);
    CHECK_NEAR(dets[2].x2, 720, 1e-3);
    CHECK_NEAR(dets[2].y1, 0, 1e-3);
    CHECK_NEAR(dets[2].y2, 100, 1e-3);

    /* a letterbox with a bad scale is refused, not divided by */
    lb.scale = 0;
    CHECK_EQ_INT(cvb_detector_run(d, out, &lb, dets, CVB_DETECT_MAX_DET, &nd, &err), CVB_EINVAL);
    CHECK_EQ_INT(nd, 0);
    cvb_detector_free(d);
}

int main(void) {
    RUN(test_geometry);
    RUN(test_unmap);
    RUN(test_detector_maps);
    return test_summary();
}
