/* SPDX-License-Identifier: Apache-2.0 */
/* Shared set-up of the pipeline tests: a tiny synthetic yolov8n (imgsz 64,
 * or another size) and a 1 s synthetic clip in a temp dir, and a scenario on
 * them. */
#ifndef CVB_TEST_PIPELINE_FIXTURE_H
#define CVB_TEST_PIPELINE_FIXTURE_H

#include "cvb/pipeline.h"
#include "cvb/synth.h"
#include "cvb/video.h"

#include <stdio.h>
#include <stdlib.h>

static char dir[] = "/tmp/cvb-pipe-XXXXXX";
static char model[256], clip[256];

/* Make the temp dir, a yolov8n at 'imgsz' and a w x h clip; returns 0, 77
 * (skip) or 1. */
static int fixture_make_sized(int w, int h, int imgsz) {
    if (mkdtemp(dir) == NULL) return 77;
    snprintf(model, sizeof model, "%s/y8n%d.onnx", dir, imgsz);
    snprintf(clip, sizeof clip, "%s/clip.mp4", dir);
    struct cvb_err err = {0};
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = imgsz, .seed = 1};
    if (cvb_synth_model(&so, model, NULL, &err) < 0) {
        fprintf(stderr, "model synth: %s\n", err.msg);
        return 1;
    }
    struct cvb_vsynth_opts vo = {.width = w, .height = h, .fps = 30, .seconds = 1};
    if (cvb_video_synth(&vo, clip, &err) < 0) {
        fprintf(stderr, "video synth: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* The same with the tiny 64 x 64 model. */
static inline int fixture_make(int w, int h) { return fixture_make_sized(w, h, 64); }

/* The fixture's model and clip, max pacing; the caller sets the levels. */
static void fixture_scenario(struct cvb_scenario *s, const char *mode, const char *exec) {
    cvb_scenario_defaults(s);
    snprintf(s->model, sizeof s->model, "%s", model);
    s->n_videos = 1;
    snprintf(s->videos[0], sizeof s->videos[0], "%s", clip);
    snprintf(s->mode, sizeof s->mode, "%s", mode);
    snprintf(s->execution, sizeof s->execution, "%s", exec);
    snprintf(s->pacing, sizeof s->pacing, "max");
    s->min_duration = 0;
    s->max_duration = 0; /* exactly s->frames: tests count them */
}

#endif
