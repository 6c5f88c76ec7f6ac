/* SPDX-License-Identifier: Apache-2.0 */
/* YOLO output decoding, class-aware NMS and box mapping (contract in
 * include/cvb/detect.h).
 *
 * One run, for an output with N anchors and C classes (V8, V5):
 *   1. decode: per anchor the best class and its score; anchors scoring
 *      > conf become candidates (box converted to corners). For the V8
 *      layout the class rows are scanned row by row (contiguous memory), a
 *      running maximum per anchor kept in best_score/best_class.
 *   2. sort candidates by (score desc, anchor index asc): a total order, so
 *      the result does not depend on the sort's stability. Bottom-up merge
 *      sort into a scratch array (qsort may allocate).
 *   3. greedy NMS against the boxes kept so far of the same class, stopping
 *      at max_det kept boxes: O(K * max_det).
 *   4. map kept boxes through the letterbox.
 * An end-to-end output (E2E, K rows) skips step 3: rows passing the
 * threshold are sorted and the first max_det kept (the model did the NMS or
 * needs none).
 * Every array is sized for N (or K) at creation; run() allocates nothing. */
#include "cvb/detect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cand {
    float box[4]; /* x1, y1, x2, y2 in model-input pixels */
    float score;
    int32_t class_id;
    int32_t anchor;
};

struct cvb_detector {
    struct cvb_detect_opts opts;
    enum cvb_yolo_layout layout;
    int n_classes;
    int64_t n_anchors;
    struct cand *cands;   /* [n_anchors] */
    struct cand *scratch; /* [n_anchors], merge sort buffer */
    float *best_score;    /* [n_anchors], V8 decode */
    int32_t *best_class;  /* [n_anchors], V8 decode */
    int32_t kept[CVB_DETECT_MAX_DET];
};

void cvb_detect_opts_init(struct cvb_detect_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->conf_thresh = CVB_DETECT_DEFAULT_CONF;
    opts->iou_thresh = CVB_DETECT_DEFAULT_IOU;
    opts->max_det = CVB_DETECT_MAX_DET;
    opts->layout = CVB_YOLO_AUTO;
}

static const char *layout_name(enum cvb_yolo_layout l) {
    switch (l) {
    case CVB_YOLO_V8: return "[1, 4+C, N] (YOLOv8/11/v5u)";
    case CVB_YOLO_V5: return "[1, N, 5+C] (YOLOv5)";
    case CVB_YOLO_E2E: return "[1, K, 6] (end-to-end)";
    default: return "auto";
    }
}

const char *cvb_yolo_layout_name(enum cvb_yolo_layout layout) {
    switch (layout) {
    case CVB_YOLO_V8: return "yolov8";
    case CVB_YOLO_V5: return "yolov5";
    case CVB_YOLO_E2E: return "end2end";
    default: return "auto";
    }
}

/* Resolve layout, class count and anchor count from the shape (rule in
 * detect.h). */
static int resolve_shape(int ndim, const int64_t *dims, const struct cvb_detect_opts *o,
                         enum cvb_yolo_layout *layout, int *n_classes, int64_t *n_anchors,
                         struct cvb_err *err) {
    char shape[128];
    int off = 0;
    for (int i = 0; i < ndim && i < 8 && off < (int)sizeof shape - 24; i++)
        off += snprintf(shape + off, sizeof shape - (size_t)off, "%s%lld", i ? ", " : "[",
                        (long long)dims[i]);
    snprintf(shape + off, sizeof shape - (size_t)off, "]");
    if (ndim < 1) snprintf(shape, sizeof shape, "[]");

    if (!(ndim == 3 && dims[0] == 1) && ndim != 2)
        return cvb_err_set(err, CVB_ESHAPE,
                           "detection output %s: expected [1, 4+C, N], [1, N, 5+C] or [1, K, 6]",
                           shape);
    int64_t a = dims[ndim - 2], b = dims[ndim - 1];
    if (a < 1 || b < 1 || a > CVB_DETECT_MAX_ANCHORS || b > CVB_DETECT_MAX_ANCHORS)
        return cvb_err_set(err, CVB_ESHAPE, "detection output %s: dimensions out of range", shape);
    enum cvb_yolo_layout l = o->layout;
    if (l == CVB_YOLO_E2E) {
        if (b != 6)
            return cvb_err_set(err, CVB_ESHAPE,
                               "detection output %s as %s: rows have %lld values, not 6 (x1, y1, "
                               "x2, y2, score, class)",
                               shape, layout_name(l), (long long)b);
        *layout = l;
        *n_classes = o->n_classes;
        *n_anchors = a;
        return 0;
    }
    if (l == CVB_YOLO_AUTO) {
        if (b == 6) {
            l = CVB_YOLO_E2E;
            *layout = l;
            *n_classes = o->n_classes;
            *n_anchors = a;
            return 0;
        }
        if (o->n_classes > 0) {
            if (a == 4 + (int64_t)o->n_classes)
                l = CVB_YOLO_V8;
            else if (b == 5 + (int64_t)o->n_classes)
                l = CVB_YOLO_V5;
            else
                return cvb_err_set(err, CVB_ESHAPE,
                                   "detection output %s does not fit %d classes: expected "
                                   "[1, %d, N] or [1, N, %d]",
                                   shape, o->n_classes, 4 + o->n_classes, 5 + o->n_classes);
        } else if (a < b) {
            l = CVB_YOLO_V8;
        } else if (a > b) {
            l = CVB_YOLO_V5;
        } else {
            return cvb_err_set(err, CVB_ESHAPE,
                               "detection output %s: layout is ambiguous (square); force it",
                               shape);
        }
    }
    int64_t c = l == CVB_YOLO_V8 ? a - 4 : b - 5;
    int64_t n = l == CVB_YOLO_V8 ? b : a;
    if (c < 1 || c > CVB_DETECT_MAX_CLASSES)
        return cvb_err_set(err, CVB_ESHAPE, "detection output %s as %s: %lld classes", shape,
                           layout_name(l), (long long)c);
    if (o->n_classes > 0 && c != o->n_classes)
        return cvb_err_set(err, CVB_ESHAPE, "detection output %s as %s has %lld classes, not %d",
                           shape, layout_name(l), (long long)c, o->n_classes);
    *layout = l;
    *n_classes = (int)c;
    *n_anchors = n;
    return 0;
}

int cvb_detector_new(int ndim, const int64_t *dims, const struct cvb_detect_opts *opts,
                     struct cvb_detector **out, struct cvb_err *err) {
    int rc = 0;
    struct cvb_detect_opts o;
    struct cvb_detector *d = NULL;
    *out = NULL;
    if (opts != NULL)
        o = *opts;
    else
        cvb_detect_opts_init(&o);
    if (!(o.conf_thresh >= 0 && o.conf_thresh <= 1) || !(o.iou_thresh >= 0 && o.iou_thresh <= 1) ||
        o.max_det < 1 || o.max_det > CVB_DETECT_MAX_DET || o.n_classes < 0 ||
        o.n_classes > CVB_DETECT_MAX_CLASSES || o.layout < CVB_YOLO_AUTO ||
        o.layout > CVB_YOLO_E2E) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "detect options: conf %g and iou %g must be in 0..1, max_det %d in 1..%d, "
                         "n_classes %d in 0..%d, layout %d known",
                         o.conf_thresh, o.iou_thresh, o.max_det, CVB_DETECT_MAX_DET, o.n_classes,
                         CVB_DETECT_MAX_CLASSES, (int)o.layout);
        goto out;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "detector: out of memory");
        goto out;
    }
    d->opts = o;
    rc = resolve_shape(ndim, dims, &o, &d->layout, &d->n_classes, &d->n_anchors, err);
    if (rc < 0) goto out;
    size_t n = (size_t)d->n_anchors;
    d->cands = malloc(n * sizeof *d->cands);
    d->scratch = malloc(n * sizeof *d->scratch);
    if (d->layout == CVB_YOLO_V8) {
        d->best_score = malloc(n * sizeof *d->best_score);
        d->best_class = malloc(n * sizeof *d->best_class);
    }
    if (d->cands == NULL || d->scratch == NULL ||
        (d->layout == CVB_YOLO_V8 && (d->best_score == NULL || d->best_class == NULL))) {
        rc = cvb_err_set(err, CVB_ENOMEM, "detector: out of memory for %zu anchors", n);
        goto out;
    }
    *out = d;
    d = NULL;
out:
    cvb_detector_free(d);
    return rc;
}

int cvb_detector_new_guess(int ndim, const int64_t *dims, const struct cvb_detect_opts *opts,
                           struct cvb_detector **out, struct cvb_err *err) {
    struct cvb_detect_opts o;
    if (opts != NULL)
        o = *opts;
    else
        cvb_detect_opts_init(&o);
    int rc = cvb_detector_new(ndim, dims, &o, out, err);
    if (rc == CVB_ESHAPE && o.layout == CVB_YOLO_AUTO && ndim == 3 && dims[1] == dims[2]) {
        o.layout = CVB_YOLO_V8;
        rc = cvb_detector_new(ndim, dims, &o, out, err);
    }
    return rc;
}

void cvb_detector_free(struct cvb_detector *d) {
    if (d == NULL) return;
    free(d->cands);
    free(d->scratch);
    free(d->best_score);
    free(d->best_class);
    free(d);
}

enum cvb_yolo_layout cvb_detector_layout(const struct cvb_detector *d) {
    return d->layout;
}
int cvb_detector_n_classes(const struct cvb_detector *d) {
    return d->n_classes;
}
int64_t cvb_detector_n_anchors(const struct cvb_detector *d) {
    return d->n_anchors;
}

/* ---- decode ------------------------------------------------------------------ */

static void set_box(struct cand *c, float cx, float cy, float w, float h) {
    c->box[0] = cx - w / 2;
    c->box[1] = cy - h / 2;
    c->box[2] = cx + w / 2;
    c->box[3] = cy + h / 2;
}

static int64_t decode_v8(struct cvb_detector *d, const float *out) {
    const int64_t n = d->n_anchors;
    const float conf = d->opts.conf_thresh;
    float *best = d->best_score;
    int32_t *cls = d->best_class;
    for (int64_t i = 0; i < n; i++) {
        best[i] = -INFINITY;
        cls[i] = 0;
    }
    /* Strict '>' keeps the first class among equal scores; NaN never wins. */
    for (int c = 0; c < d->n_classes; c++) {
        const float *row = out + (int64_t)(4 + c) * n;
        for (int64_t i = 0; i < n; i++)
            if (row[i] > best[i]) {
                best[i] = row[i];
                cls[i] = c;
            }
    }
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!(best[i] > conf)) continue;
        struct cand *c = &d->cands[k++];
        set_box(c, out[i], out[n + i], out[2 * n + i], out[3 * n + i]);
        c->score = best[i];
        c->class_id = cls[i];
        c->anchor = (int32_t)i;
    }
    return k;
}

static int64_t decode_v5(struct cvb_detector *d, const float *out) {
    const int64_t n = d->n_anchors;
    const int nc = d->n_classes;
    const float conf = d->opts.conf_thresh;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *r = out + i * (int64_t)(5 + nc);
        const float obj = r[4];
        if (!(obj > conf)) continue; /* score = obj * cls <= obj when cls <= 1 */
        float best = -INFINITY;
        int32_t bc = 0;
        for (int c = 0; c < nc; c++) {
            float s = obj * r[5 + c];
            if (s > best) {
                best = s;
                bc = c;
            }
        }
        if (!(best > conf)) continue;
        struct cand *c = &d->cands[k++];
        set_box(c, r[0], r[1], r[2], r[3]);
        c->score = best;
        c->class_id = bc;
        c->anchor = (int32_t)i;
    }
    return k;
}

/* End-to-end rows (contract in detect.h). Returns the candidate count, or
 * CVB_EFORMAT for a passing row whose class is not a valid id. */
static int64_t decode_e2e(struct cvb_detector *d, const float *out, struct cvb_err *err) {
    const int64_t n = d->n_anchors;
    const float conf = d->opts.conf_thresh;
    const float n_cls = (float)(d->n_classes > 0 ? d->n_classes : CVB_DETECT_MAX_CLASSES);
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *r = out + i * 6;
        if (!(r[4] > conf)) continue;
        if (!isfinite(r[0]) || !isfinite(r[1]) || !isfinite(r[2]) || !isfinite(r[3])) continue;
        if (!(r[5] >= 0 && r[5] < n_cls && r[5] == floorf(r[5])))
            return cvb_err_set(err, CVB_EFORMAT,
                               "detect: end-to-end output row %lld (score %g): class %g is not "
                               "an integer in 0..%d",
                               (long long)i, r[4], r[5], (int)n_cls - 1);
        struct cand *c = &d->cands[k++];
        c->box[0] = fminf(r[0], r[2]);
        c->box[1] = fminf(r[1], r[3]);
        c->box[2] = fmaxf(r[0], r[2]);
        c->box[3] = fmaxf(r[1], r[3]);
        c->score = r[4];
        c->class_id = (int32_t)r[5];
        c->anchor = (int32_t)i;
    }
    return k;
}

/* ---- sort -------------------------------------------------------------------- */

/* a goes before b: higher score first, then lower anchor index. */
static int before(const struct cand *a, const struct cand *b) {
    if (a->score != b->score) return a->score > b->score;
    return a->anchor < b->anchor;
}

/* Bottom-up merge sort of v[0..n) using tmp[0..n). Leaves the result in v. */
static void sort_cands(struct cand *v, struct cand *tmp, int64_t n) {
    struct cand *src = v, *dst = tmp;
    for (int64_t width = 1; width < n; width *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * width) {
            int64_t mid = lo + width < n ? lo + width : n;
            int64_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                dst[o++] = before(&src[j], &src[i]) ? src[j++] : src[i++];
            while (i < mid)
                dst[o++] = src[i++];
            while (j < hi)
                dst[o++] = src[j++];
        }
        struct cand *t = src;
        src = dst;
        dst = t;
    }
    if (src != v) memcpy(v, src, (size_t)n * sizeof *v);
}

/* ---- NMS --------------------------------------------------------------------- */

float cvb_detect_iou(const float a[4], const float b[4]) {
    float iw = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float ih = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (!(iw > 0) || !(ih > 0)) return 0;
    float inter = iw * ih;
    float area_a = fmaxf(a[2] - a[0], 0) * fmaxf(a[3] - a[1], 0);
    float area_b = fmaxf(b[2] - b[0], 0) * fmaxf(b[3] - b[1], 0);
    float uni = area_a + area_b - inter;
    return uni > 0 ? inter / uni : 0;
}

int cvb_detector_run(struct cvb_detector *d, const float *output, const struct cvb_letterbox *lb,
                     struct cvb_detection *dets, int max_dets, int *n_dets, struct cvb_err *err) {
    *n_dets = 0;
    if (output == NULL || (dets == NULL && max_dets > 0) || max_dets < 0)
        return cvb_err_set(err, CVB_EINVAL, "detect: no output tensor or detection buffer");
    if (lb != NULL && !(lb->scale > 0))
        return cvb_err_set(err, CVB_EINVAL, "detect: letterbox scale %g is not positive",
                           lb->scale);
    int64_t k = 0;
    switch (d->layout) {
    case CVB_YOLO_V8: k = decode_v8(d, output); break;
    case CVB_YOLO_V5: k = decode_v5(d, output); break;
    default: k = decode_e2e(d, output, err); break;
    }
    if (k < 0) return (int)k;
    sort_cands(d->cands, d->scratch, k);
    if (k > CVB_DETECT_MAX_NMS) k = CVB_DETECT_MAX_NMS;

    int limit = d->opts.max_det < max_dets ? d->opts.max_det : max_dets;
    int n_kept = 0;
    const float iou_thr = d->opts.iou_thresh;
    if (d->layout == CVB_YOLO_E2E) /* no NMS: the best 'limit' rows */
        for (; n_kept < limit && n_kept < k; n_kept++)
            d->kept[n_kept] = n_kept;
    for (int64_t i = 0; i < k && n_kept < limit && d->layout != CVB_YOLO_E2E; i++) {
        const struct cand *c = &d->cands[i];
        int keep = 1;
        for (int j = 0; j < n_kept; j++) {
            const struct cand *o = &d->cands[d->kept[j]];
            if (o->class_id == c->class_id && cvb_detect_iou(o->box, c->box) > iou_thr) {
                keep = 0;
                break;
            }
        }
        if (keep) d->kept[n_kept++] = (int32_t)i;
    }

    for (int j = 0; j < n_kept; j++) {
        const struct cand *c = &d->cands[d->kept[j]];
        float box[4] = {c->box[0], c->box[1], c->box[2], c->box[3]};
        if (lb != NULL) cvb_letterbox_unmap(lb, box);
        dets[j].x1 = box[0];
        dets[j].y1 = box[1];
        dets[j].x2 = box[2];
        dets[j].y2 = box[3];
        dets[j].score = c->score;
        dets[j].class_id = c->class_id;
    }
    *n_dets = n_kept;
    return 0;
}
