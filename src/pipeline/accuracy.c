/* SPDX-License-Identifier: Apache-2.0 */
/* Accuracy under load: what the level's precision (int8, bf16) did to its
 * detections, measured on frames the level really processed.
 *
 *   during the level (hot path, level.c process())
 *     every k-th measured completion, k = max(1, streams x frames / N):
 *       claim slot i (one atomic add), copy the uint8 S x S x 3 frame the
 *       engine got, its letterbox and the detections the level produced for
 *       it (inference-only: the detector runs here, for sampled frames only)
 *       -- after the frame's timestamps are taken, so its timing is as any
 *       other frame's. The first N sampled completions fill the N slots;
 *       later ones are counted and dropped: nothing grows with the frames.
 *   after the level (threads joined, the level's engines freed)
 *     one fp32 engine of the same model (same kernels, ISA cap and threads
 *     per instance as the level, so that an fp32 level reproduces its own
 *     outputs bit for bit) runs each sampled frame; the same detector
 *     options turn its output into boxes; cvb_detect_match_add pools the
 *     matches (greedy by score, same class, IoU >= 0.5) over the frames.
 *
 * Invariants:
 *   1. The buffers (N frames, N detection lists) are allocated before the
 *      level's first frame and freed with the level; the hot path allocates
 *      nothing.
 *   2. A slot is written by exactly one thread (the one whose count claimed
 *      it) and read only after every thread is joined.
 *   3. The sampled set depends only on the completion count, never on a
 *      clock or a random draw. */
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/video.h"
#include "pipeline/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACC_IOU 0.5f

struct cvb__acc_sample {
    struct cvb_letterbox lb;
    int n_dets;               /* -1: the detector failed on it; not counted */
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
};

int64_t cvb__acc_bytes(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p) {
    int64_t frame = 3 * (int64_t)p->imgsz * p->imgsz;
    return (int64_t)s->accuracy_sample * (frame + (int64_t)sizeof(struct cvb__acc_sample));
}

int cvb__acc_init(struct cvb__acc *a, const struct cvb_scenario *s,
                  const struct cvb_pipeline_probe *p, int streams, struct cvb_err *err) {
    memset(a, 0, sizeof *a);
    if (s->accuracy_sample <= 0) return 0;
    a->frame_bytes = 3 * (size_t)p->imgsz * p->imgsz;
    a->frames = malloc((size_t)s->accuracy_sample * a->frame_bytes);
    a->samples = calloc((size_t)s->accuracy_sample, sizeof *a->samples);
    if (a->frames == NULL || a->samples == NULL) {
        cvb__acc_cleanup(a);
        return cvb_err_set(err, CVB_ENOMEM, "accuracy samples (%d frames)", s->accuracy_sample);
    }
    int64_t expected = (int64_t)s->frames * streams;
    a->every = expected / s->accuracy_sample;
    if (a->every < 1) a->every = 1;
    a->cap = s->accuracy_sample;
    atomic_store(&a->seen, 0);
    return 0;
}

void cvb__acc_cleanup(struct cvb__acc *a) {
    free(a->frames);
    free(a->samples);
    a->frames = NULL;
    a->samples = NULL;
    a->cap = 0;
}

void cvb__acc_keep(struct cvb__acc *a, struct cvb_detector *det, const float *output,
                   const uint8_t *frame, const struct cvb_letterbox *lb,
                   struct cvb_detection *dets, int n_dets) {
    if (atomic_load_explicit(&a->seen, memory_order_relaxed) >= a->every * a->cap) return;
    int64_t k = atomic_fetch_add_explicit(&a->seen, 1, memory_order_relaxed);
    if (k % a->every != 0 || k / a->every >= a->cap) return;
    struct cvb__acc_sample *sm = &a->samples[k / a->every];
    if (det != NULL) {
        struct cvb_err err = {0};
        if (cvb_detector_run(det, output, lb, dets, CVB_DETECT_MAX_DET, &n_dets, &err) < 0)
            n_dets = -1;
    }
    memcpy(a->frames + (size_t)(k / a->every) * a->frame_bytes, frame, a->frame_bytes);
    sm->lb = *lb;
    sm->n_dets = n_dets;
    if (n_dets > 0) memcpy(sm->dets, dets, (size_t)n_dets * sizeof *dets);
}

/* Slots filled: the first min(cap, ceil(seen / every)) (invariant 3). */
static int n_filled(const struct cvb__acc *a) {
    int64_t seen = atomic_load(&a->seen);
    int64_t n = (seen + a->every - 1) / a->every;
    return n < a->cap ? (int)n : a->cap;
}

int cvb__acc_reference(struct cvb__acc *a, const struct cvb_scenario *s,
                       const struct cvb_pipeline_probe *p, int threads,
                       struct cvb_level_result *out, struct cvb_err *err) {
    int rc = 0;
    struct cvb_engine *e = NULL;
    struct cvb_detector *det = NULL;
    void *conv = NULL, **outs = NULL;
    struct cvb_detection *dets = NULL;
    int n_outs = 0, n = a->cap > 0 ? n_filled(a) : 0;
    if (n == 0) return 0;

    rc = cvb__pipeline_load_engine(s, threads, p->input_u8, true, &e, err);
    if (rc < 0) goto out;
    n_outs = cvb_engine_n_outputs(e);
    outs = calloc((size_t)n_outs, sizeof *outs);
    dets = malloc(CVB_DETECT_MAX_DET * sizeof *dets);
    if (!p->input_u8) conv = malloc((size_t)p->input_bytes);
    if (outs == NULL || dets == NULL || (!p->input_u8 && conv == NULL)) {
        rc = cvb_err_set(err, CVB_ENOMEM, "accuracy reference buffers");
        goto out;
    }
    for (int i = 0; i < n_outs; i++) {
        struct cvb_tensor_info oi;
        cvb_engine_output_info(e, i, &oi);
        if ((outs[i] = malloc(oi.bytes ? oi.bytes : 1)) == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "accuracy reference buffers");
            goto out;
        }
    }
    rc = cvb__pipeline_detector(s, e, &det, err);
    if (rc < 0) goto out;

    struct cvb_detect_match m = {0};
    int frames = 0;
    for (int i = 0; i < n; i++) {
        const struct cvb__acc_sample *sm = &a->samples[i];
        if (sm->n_dets < 0) continue;
        const uint8_t *frame = a->frames + (size_t)i * a->frame_bytes;
        const void *ins[1] = {cvb__pipeline_input(p, frame, conv)};
        int n_ref = 0;
        rc = cvb_engine_run(e, ins, outs, err);
        if (rc == 0) rc = cvb_detector_run(det, outs[0], &sm->lb, dets, CVB_DETECT_MAX_DET,
                                           &n_ref, err);
        if (rc == 0)
            rc = cvb_detect_match_add(&m, dets, n_ref, sm->dets, sm->n_dets, ACC_IOU, err);
        if (rc < 0) goto out;
        frames++;
    }
    int64_t rss = cvb_pipeline_rss_bytes();
    if (rss > out->rss_peak_bytes) out->rss_peak_bytes = rss;
    out->accuracy_frames = frames;
    out->accuracy_matched = m.matched;
    out->accuracy_ref_boxes = m.n_ref;
    out->accuracy_test_boxes = m.n_test;
    out->accuracy_f1 = cvb_detect_match_f1(&m);
    out->accuracy_mean_iou = cvb_detect_match_mean_iou(&m);
out:
    if (rc < 0) cvb_err_prefix(err, "accuracy reference (fp32) of model %s", s->model);
    for (int i = 0; outs != NULL && i < n_outs; i++) free(outs[i]);
    free(outs);
    free(conv);
    free(dets);
    cvb_detector_free(det);
    cvb_engine_free(e);
    return rc;
}

/* ---- shared with the level's workers ---------------------------------------------- */

int cvb__pipeline_detector(const struct cvb_scenario *s, struct cvb_engine *e,
                           struct cvb_detector **out, struct cvb_err *err) {
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e, 0, &oi);
    if (strcmp(oi.dtype, "float32") != 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model %s: output '%s' is %s; detection needs float32", s->model,
                           oi.name, oi.dtype);
    /* the layout from the shape (detect.h): [1,4+C,N], [1,N,5+C] or an
     * end-to-end [1,K,6] (the model did NMS or needs none; the postprocess
     * stage then only thresholds and maps) */
    int rc = cvb_detector_new_guess(oi.ndim, oi.dims, NULL, out, err);
    if (rc < 0) cvb_err_prefix(err, "model %s: output '%s'", s->model, oi.name);
    return rc;
}

const void *cvb__pipeline_input(const struct cvb_pipeline_probe *p, const uint8_t *frame,
                                void *conv) {
    if (conv == NULL) return frame;
    if (p->input_bytes == 3 * (int64_t)p->imgsz * p->imgsz)
        cvb_image_to_nchw_u8(frame, p->imgsz, p->imgsz, conv);
    else
        cvb_image_to_nchw_f32(frame, p->imgsz, p->imgsz, conv);
    return conv;
}
