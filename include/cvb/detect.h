/* SPDX-License-Identifier: Apache-2.0 */
/* YOLO output decoding and class-aware non-maximum suppression.
 *
 * The last stage of the data flow: the raw output tensor of a YOLO detection
 * model becomes a short list of boxes in the original picture's pixels.
 *
 *   output tensor --decode+threshold--> candidates --sort--> NMS --> unletterbox
 *
 * Three output layouts exist (C = number of classes, N = number of anchors,
 * K = the export's max_det):
 *   CVB_YOLO_V8  [1, 4+C, N]  YOLOv8 / v9 / YOLO11 / YOLO12 / YOLO26 plain
 *                heads, YOLOv5u: rows cx, cy, w, h (input pixels) then C class
 *                scores, already sigmoided; score = max class score.
 *   CVB_YOLO_V5  [1, N, 5+C]  classic YOLOv5: per anchor cx, cy, w, h,
 *                objectness, C class scores; score = objectness x class score.
 *   CVB_YOLO_E2E [1, K, 6]    end-to-end: per row x1, y1, x2, y2 (input
 *                pixels), score, class id (a float holding an integer). Two
 *                Ultralytics exports give it: the one-to-one heads of YOLOv10
 *                and YOLO26 (end2end=True, the default for those: top-K over
 *                anchors x classes, no NMS needed), and nms=True exports of
 *                plain heads (NMS inside the graph, rows zero-padded to K).
 *                K is max_det (300 by default; fewer anchors than max_det at
 *                a tiny imgsz make it smaller), so any K >= 1 is accepted.
 *                The model already did the work: the detector only
 *                thresholds, sorts, caps and maps (see below); iou_thresh is
 *                not used.
 * Layout rule for CVB_YOLO_AUTO, on a tensor [1, A, B] (or [A, B]):
 *   - B == 6 -> E2E, always: six columns are read as an end-to-end output.
 *     A one-class YOLOv5 head [1, N, 5+1] has the same shape; it must be
 *     forced (opts.layout = CVB_YOLO_V5, `cvbench detect --layout v5`).
 *     opts.n_classes > 0 then bounds the class ids (no shape can check it);
 *   - else if opts.n_classes > 0: A == 4 + n_classes -> V8, else
 *     B == 5 + n_classes -> V5, else the shape is refused;
 *   - otherwise the class axis is the shorter one: A < B -> V8 (84 x 8400),
 *     A > B -> V5 (25200 x 85); A == B is ambiguous and refused (force the
 *     layout, or use cvb_detector_new_guess()).
 *
 * Semantics (as Ultralytics' non_max_suppression with multi_label off):
 *   - a candidate is an anchor whose score is > conf_thresh (strictly; NaN
 *     never passes); its class is the first class with the highest score;
 *   - candidates are ordered by score descending, ties broken by anchor index
 *     ascending, so the result is deterministic;
 *   - only the first CVB_DETECT_MAX_NMS candidates in that order go to NMS;
 *   - greedy NMS per class: a candidate is dropped when its IoU with an
 *     already kept box of the same class is > iou_thresh (strictly); boxes of
 *     different classes never suppress each other;
 *   - at most max_det boxes are kept (the first max_det in score order);
 *   - kept boxes are mapped back through the letterbox (subtract the padding,
 *     divide by the scale) and clipped to [0, width] x [0, height].
 * End-to-end (E2E) semantics, the same for both exports:
 *   - a row is a detection when its score is > conf_thresh (strictly; NaN
 *     never passes; an nms=True export's zero padding never passes, even at
 *     conf 0) and its four coordinates are finite (a row with a NaN or
 *     infinite coordinate is skipped);
 *   - a passing row's class must be an integer in 0..n_classes-1 (0..
 *     CVB_DETECT_MAX_CLASSES-1 when opts.n_classes is 0); anything else is a
 *     malformed output: cvb_detector_run() fails with CVB_EFORMAT naming the
 *     row;
 *   - corners are ordered (x1 <= x2, y1 <= y2); rows are ordered by score
 *     descending, ties by row index (the export already sorts them; sorting
 *     again keeps the contract for any producer); no NMS;
 *   - at most max_det are kept, then mapped and clipped as above.
 *
 * Memory: a detector is created once per output shape with everything it
 * needs for N candidates; cvb_detector_run() allocates nothing. One detector
 * per thread. */
#ifndef CVB_DETECT_H
#define CVB_DETECT_H

#include "cvb/common.h"
#include "cvb/video.h"

#include <stdint.h>

/* Ultralytics' defaults. */
#define CVB_DETECT_DEFAULT_CONF 0.25f
#define CVB_DETECT_DEFAULT_IOU  0.45f
#define CVB_DETECT_MAX_DET      300
#define CVB_DETECT_MAX_NMS      30000
/* Shapes beyond these are refused as absurd. */
#define CVB_DETECT_MAX_ANCHORS (1 << 20)
#define CVB_DETECT_MAX_CLASSES 100000

enum cvb_yolo_layout {
    CVB_YOLO_AUTO = 0, /* from the shape, by the rule above */
    CVB_YOLO_V8,       /* [1, 4+C, N] */
    CVB_YOLO_V5,       /* [1, N, 5+C] */
    CVB_YOLO_E2E,      /* [1, K, 6]: x1, y1, x2, y2, score, class; no NMS */
};

/* Start from cvb_detect_opts_init(): a zeroed struct means conf 0 (every
 * anchor is a candidate), which is valid but rarely wanted. */
struct cvb_detect_opts {
    float conf_thresh;           /* 0..1 */
    float iou_thresh;            /* 0..1 */
    int max_det;                 /* 1..CVB_DETECT_MAX_DET */
    enum cvb_yolo_layout layout; /* CVB_YOLO_AUTO to detect it */
    int n_classes;               /* 0 = derive from the shape (E2E: unknown) */
};

/* Fill 'opts' with the defaults (conf 0.25, IoU 0.45, 300 boxes, auto layout). */
void cvb_detect_opts_init(struct cvb_detect_opts *opts);

/* One detection: box corners in original-picture pixels (x1 <= x2, y1 <= y2). */
struct cvb_detection {
    float x1, y1, x2, y2;
    float score;
    int class_id;
};

struct cvb_detector;

/* Create a detector for model outputs of shape dims[0..ndim-1] (float32). The
 * layout is resolved here, once. 'opts' may be NULL for defaults. On success
 * sets *out (free with cvb_detector_free()) and returns 0; on a shape that is
 * not a YOLO detection output, or bad options, returns CVB_ESHAPE / CVB_EINVAL
 * with 'err' saying why. */
int cvb_detector_new(int ndim, const int64_t *dims, const struct cvb_detect_opts *opts,
                     struct cvb_detector **out, struct cvb_err *err);
void cvb_detector_free(struct cvb_detector *d);

/* cvb_detector_new() for a model's output when nothing says which layout it
 * has (`cvbench run`, `model info`): with opts->layout CVB_YOLO_AUTO, a square
 * output [1, A, A], which the rule above refuses, is taken as V8 (a v8 head
 * at imgsz 64 is [1, 84, 84]; the models cvbench synthesizes and Ultralytics
 * exports today are v8 or end-to-end, never a square v5). Otherwise the same
 * as cvb_detector_new(). */
int cvb_detector_new_guess(int ndim, const int64_t *dims, const struct cvb_detect_opts *opts,
                           struct cvb_detector **out, struct cvb_err *err);

/* The resolved layout, class count and anchor count (E2E: rows K; class
 * count opts.n_classes, 0 when unknown). */
enum cvb_yolo_layout cvb_detector_layout(const struct cvb_detector *d);
int cvb_detector_n_classes(const struct cvb_detector *d);
int64_t cvb_detector_n_anchors(const struct cvb_detector *d);

/* A short name of a layout ("yolov8", "yolov5", "end2end"; "auto"). */
const char *cvb_yolo_layout_name(enum cvb_yolo_layout layout);

/* Decode 'output' (the dense tensor of the shape given at creation), run NMS
 * (not for E2E) and write at most 'max_dets' (and at most opts.max_det)
 * detections, best first, into 'dets'; sets *n_dets. 'lb' maps boxes back to
 * the original picture; NULL leaves them in model-input pixels (unclipped).
 * Allocates nothing. E2E: a passing row with a bad class id returns
 * CVB_EFORMAT (*n_dets 0). */
int cvb_detector_run(struct cvb_detector *d, const float *output, const struct cvb_letterbox *lb,
                     struct cvb_detection *dets, int max_dets, int *n_dets, struct cvb_err *err);

/* Intersection over union of two boxes (x1, y1, x2, y2); 0 when the union is
 * empty. */
float cvb_detect_iou(const float a[4], const float b[4]);

/* ---- agreement of two detection sets ----
 * How well boxes 'test' agree with boxes 'ref' found on the same picture
 * (int8 or bf16 detections against fp32's, say). Matching is greedy: test
 * boxes in descending score order each take the still unmatched ref box of
 * the same class with the highest IoU >= iou_thresh. Then
 *   F1       = 2 matched / (ref boxes + test boxes)
 *   mean IoU = IoU summed over matched pairs / matched
 * Convention: with no boxes at all in either set, both are 1.0 (the sets
 * agree); with boxes but no match, F1 and mean IoU are 0. Counts add up over
 * calls, so frames pool into one F1 (not a mean of per-frame F1s). */
struct cvb_detect_match {
    int64_t n_ref, n_test, matched;
    double iou_sum; /* over matched pairs */
};
/* Match one picture's boxes and add to *m (start from a zeroed struct).
 * At most CVB_DETECT_MAX_DET boxes each (else CVB_EINVAL, *m unchanged);
 * allocates nothing. */
int cvb_detect_match_add(struct cvb_detect_match *m, const struct cvb_detection *ref, int n_ref,
                         const struct cvb_detection *test, int n_test, float iou_thresh,
                         struct cvb_err *err);
double cvb_detect_match_f1(const struct cvb_detect_match *m);
double cvb_detect_match_mean_iou(const struct cvb_detect_match *m);
/* F1 of one picture's boxes (cvb_detect_match_add + _f1); 0 for more than
 * CVB_DETECT_MAX_DET boxes in either. */
double cvb_detections_f1(const struct cvb_detection *ref, int n_ref,
                         const struct cvb_detection *test, int n_test, float iou_thresh);

/* The 80 COCO class names in the order YOLO models trained on COCO use
 * ("person", "bicycle", ...); NULL for an id outside 0..79. */
const char *cvb_coco_class_name(int class_id);
#define CVB_COCO_N_CLASSES 80

#endif
