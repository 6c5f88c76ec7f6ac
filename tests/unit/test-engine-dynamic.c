/* SPDX-License-Identifier: Apache-2.0 */
/* Data-dependent shapes across runs of one engine: a synthetic yolov8n with
 * Ultralytics' in-graph NMS (`model synth --nms`: NonZero, NonMaxSuppression,
 * Pad to max_det 300) keeps a different number of boxes per frame. One
 * engine run on frame A, then on a grey frame, then on A again must give
 * A's output bit for bit both times, and the grey frame's output must be
 * what a fresh engine gives for it: nothing of one run's shapes may leak
 * into the next. Both kernel sets; output0 is reported data-dependent with
 * its bound [1, 300, 6] and model info counts the data-dependent nodes. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

enum { S = 160, ROWS = 300, COLS = 6 };

static int kept(const float *y) {
    int k = 0;
    for (int r = 0; r < ROWS; r++) {
        float a = 0;
        for (int c = 0; c < COLS; c++) a += y[r * COLS + c] < 0 ? -y[r * COLS + c] : y[r * COLS + c];
        k += a > 0;
    }
    return k;
}

static void run_kernels(const void *model, size_t len, enum cvb_kernels kernels, const float *a,
                        const float *grey) {
    struct cvb_engine_opts o = {.kernels = kernels};
    struct cvb_err err = {0};
    struct cvb_engine *e = NULL, *f = NULL;
    CHECK(cvb_engine_load_buffer(model, len, "v8n-nms.onnx", &o, &e, &err) == 0);
    CHECK(cvb_engine_load_buffer(model, len, "v8n-nms.onnx", &o, &f, &err) == 0);
    if (e == NULL || f == NULL) {
        fprintf(stderr, "load: %s\n", err.msg);
        cvb_engine_free(e);
        cvb_engine_free(f);
        return;
    }
    struct cvb_tensor_info ti;
    CHECK(cvb_engine_output_info(e, 0, &ti) == 0);
    CHECK(ti.dynamic);
    CHECK(ti.ndim == 3 && ti.dims[1] == ROWS && ti.dims[2] == COLS);
    struct cvb_model_info mi;
    cvb_engine_model_info(e, &mi);
    CHECK(mi.n_dyn_nodes > 30);
    static float y1[ROWS * COLS], y2[ROWS * COLS], y3[ROWS * COLS], yf[ROWS * COLS];
    const void *in[1];
    void *out[1];
    in[0] = a, out[0] = y1;
    CHECK(cvb_engine_run(e, in, out, &err) == 0);
    in[0] = grey, out[0] = y2;
    CHECK(cvb_engine_run(e, in, out, &err) == 0);
    in[0] = a, out[0] = y3;
    CHECK(cvb_engine_run(e, in, out, &err) == 0);
    in[0] = grey, out[0] = yf;
    CHECK(cvb_engine_run(f, in, out, &err) == 0);
    CHECK(memcmp(y1, y3, sizeof y1) == 0);
    CHECK(memcmp(y2, yf, sizeof y2) == 0);
    int k1 = kept(y1), k2 = kept(y2);
    printf("  %s: frame A keeps %d boxes, grey %d\n", kernels == CVB_KERNELS_REF ? "ref" : "onednn",
           k1, k2);
    CHECK(k1 > 0 && k1 != k2);
    CHECK(cvb_engine_output_shape(e, 0, &ti) == 0 && ti.dims[1] == ROWS);
    cvb_engine_free(e);
    cvb_engine_free(f);
}

static void test_runs_do_not_leak(void) {
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = S, .seed = 1, .nms = true};
    void *model = NULL;
    size_t len = 0;
    struct cvb_err err = {0};
    CHECK(cvb_synth_model_buffer(&so, &model, &len, NULL, &err) == 0);
    if (model == NULL) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return;
    }
    float *a = malloc(sizeof(float) * 3 * S * S), *grey = malloc(sizeof(float) * 3 * S * S);
    CHECK(a != NULL && grey != NULL);
    if (a != NULL && grey != NULL) {
        cvb_synth_calib_image(S, a);
        for (int i = 0; i < 3 * S * S; i++) grey[i] = 114.0f / 255.0f;
        run_kernels(model, len, CVB_KERNELS_REF, a, grey);
        run_kernels(model, len, CVB_KERNELS_ONEDNN, a, grey);
    }
    free(a);
    free(grey);
    free(model);
}

int main(void) {
    RUN(test_runs_do_not_leak);
    return test_summary();
}
