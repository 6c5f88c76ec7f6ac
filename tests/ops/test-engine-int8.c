/* SPDX-License-Identifier: Apache-2.0 */
/* int8 (and bf16) precision against fp32 on a synthetic YOLOv8n at 320,
 * at the detection level (the accuracy guard of `cvbench infer`).
 *
 * The model is synthesized with a fixed seed, calibrated on procedural
 * frames (cvb_calib_procedural_frame), and run at int8 and fp32 on: a
 * seeded random frame, letterboxed darknet photos (dog.jpg first) and a
 * grey frame. F1 at IoU 0.5 (class-matched, greedy by score) and the raw
 * output's rel-L2 are printed for each.
 *
 * KNOWN GAP: the target is F1 >= 0.95 on every input. This random-
 * weight model is chaotic under any perturbation: bf16 (0.4% per-element
 * noise) gives F1 0 on the random frame (its one box flips) and 0.96 on
 * dog.jpg, and ONNX Runtime running the same
 * quantisation (our QDQ export) is as far from fp32 (rel-L2 0.24) as we are
 * -- and as far from us. Why (measured with ORT on the QDQ export, photos):
 * each quantised layer adds ~0.02 relative noise (activation range/std is
 * 15-20, so a u8 step is ~0.07 std) and it accumulates with depth to
 * 0.17-0.25 of each neck/head channel's spread (0.19 on the class logits);
 * percentile or MSE-optimal activation ranges do not lower it (ranges are
 * not outlier-dominated), and no reshaping of the final class conv can
 * outrun it: the noise-best direction of the head features still carries
 * 0.06-0.09 relative noise, and a monotone steepening of the logit moves
 * no threshold crossing. tests/integration/precision_guard.py (`slow`)
 * asserts the real 0.95 target and prints the gap per input.
 * So the asserted bounds here are regression guards that
 * catch a broken scale/zero point/bias (rel-L2 ~1, F1 ~0), not the 0.95
 * target: int8 rel-L2 < 0.35 per input and mean F1 over the photos >= 0.6
 * (measured 0.70); bf16 rel-L2 < 0.1, with >= 50 bf16 convs in the AMX
 * (NHWC) plan, and in the blocked plan >= 20 plus the float32 Winograd
 * convs (>= 20 on AVX-512) making >= 55 of the 64, none on bf16 gemm.
 * Also: int8 without a calibration file is a clear error; a
 * calibration file for another model is refused; no quantised conv runs a
 * oneDNN reference kernel; the calibration file round-trips.
 * Conv output ranges (test_conv_outputs): every 'conv' record has its
 * 'convout' record; a file without them (the format before they existed)
 * still loads at int8; a 'convout' without its 'conv' is refused; the QDQ
 * export quantises each quantised conv's output (QuantizeLinear_y /
 * DequantizeLinear_y, the pattern ONNX Runtime fuses into QLinearConv:
 * tests/integration/qdq_ort.py checks that with ORT).
 * uint8 activations (test_u8_activations): int8 Convs feeding int8 Convs
 * write uint8 (kernel name ends ">u8"), Concats feeding int8 Convs quantise
 * into their slices ("vec:rows->u8" with AVX-512, where the outputs equal
 * those of oneDNN's reorders, "reorder:jit:uni->u8" elsewhere), every C2f
 * Split is absorbed by its Conv ("+Split", no Split step left), none of
 * them on a reference kernel; and a run is a pure function of its input
 * (frame A, B, A again: the same bytes), which catches a buffer planned
 * with a wrong lifetime.
 * uint8 frame into the stem (test_frame_stem): with a u8 NHWC input the
 * stem conv runs int8 reading the caller's frame as is (kernel "/u8s8",
 * no "input u8->f32" step in the profile, no reference kernel), on top of
 * the calibrated convs (lowp convs = calibrated + 1); its outputs agree
 * with the int8 plan fed the same frame as float32 NCHW / 255 (where the
 * stem stays float32) within the file's int8 tolerance, neither is farther
 * from fp32 than that, and the caller's frame is left unmodified.
 * Depthwise convs in bf16 (test_bf16_nhwc_grouped, a synthetic YOLO11n):
 * the NHWC (AMX) plan runs all 7 bf16, the head's 6 writing bfloat16; the
 * blocked plan keeps them float32; the two plans agree within 1e-4. */
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "cvb/video.h"
#include "engine/kernels/onednn/dnn.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { S = 320, N_CALIB = 24 };

static char model_path[64] = "/tmp/cvb-int8-model-XXXXXX";
static char calib_path[64] = "/tmp/cvb-int8-calib-XXXXXX";
static char qdq_path[64] = "/tmp/cvb-int8-qdq-XXXXXX";
static int n_quantised; /* cvb_calib_n_tensors */

static struct cvb_engine *load(enum cvb_precision p, const char *calib) {
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                .input_format = CVB_INPUT_U8_NHWC, .precision = p,
                                .calib = calib, .allow_emulated = true};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    if (cvb_engine_load(model_path, &o, &e, &err) < 0) fprintf(stderr, "load: %s\n", err.msg);
    return e;
}

static int run1(struct cvb_engine *e, const uint8_t *in, float *out) {
    struct cvb_err err = {0};
    const void *ins[1] = {in};
    void *outs[1] = {out};
    int rc = cvb_engine_run(e, ins, outs, &err);
    if (rc < 0) fprintf(stderr, "run: %s\n", err.msg);
    return rc;
}

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Compare 'test' with 'ref' on frame 'in'; returns F1, sets *rel. */
static double compare(const char *what, struct cvb_engine *ref, struct cvb_engine *test,
                      const uint8_t *in, double *rel) {
    struct cvb_tensor_info oi;
    cvb_engine_output_info(ref, 0, &oi);
    float *a = malloc(oi.bytes), *b = malloc(oi.bytes);
    struct cvb_detection *da = calloc(CVB_DETECT_MAX_DET, sizeof *da);
    struct cvb_detection *db = calloc(CVB_DETECT_MAX_DET, sizeof *db);
    struct cvb_detector *det = NULL;
    struct cvb_err err = {0};
    double f1 = -1;
    int na = 0, nb = 0;
    CHECK(a != NULL && b != NULL && da != NULL && db != NULL);
    if (a == NULL || b == NULL || da == NULL || db == NULL) goto out;
    CHECK(run1(ref, in, a) == 0);
    CHECK(run1(test, in, b) == 0);
    CHECK(cvb_detector_new(oi.ndim, oi.dims, NULL, &det, &err) == 0);
    if (det == NULL) goto out;
    CHECK(cvb_detector_run(det, a, NULL, da, CVB_DETECT_MAX_DET, &na, &err) == 0);
    CHECK(cvb_detector_run(det, b, NULL, db, CVB_DETECT_MAX_DET, &nb, &err) == 0);
    f1 = cvb_detections_f1(da, na, db, nb, 0.5f);
    *rel = rel_l2(b, a, oi.numel);
    printf("  %-12s %-22s fp32 %3d boxes, test %3d: F1 %.4f, output rel-L2 %.4f\n",
           cvb_precision_name(cvb_engine_precision(test)), what, na, nb, f1,
           rel_l2(b, a, oi.numel));
out:
    cvb_detector_free(det);
    free(a);
    free(b);
    free(da);
    free(db);
    return f1;
}

/* Inputs: random, photos (letterboxed), grey. Returns the count filled. */
static int make_inputs(uint8_t **frames, const char **names, int max) {
    static const char *photos[] = {"dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg",
                                   "kite.jpg", "person.jpg"};
    int n = 0;
    uint64_t st = 42;
    frames[n] = malloc((size_t)S * S * 3);
    for (size_t i = 0; i < (size_t)S * S * 3; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        frames[n][i] = (uint8_t)(st >> 56);
    }
    names[n++] = "random(seed 42)";
    for (size_t k = 0; k < CVB_ARRAY_LEN(photos) && n < max - 1; k++) {
        char path[256];
        struct cvb_image img = {0};
        struct cvb_letterbox lb;
        struct cvb_err err = {0};
        snprintf(path, sizeof path, "/usr/share/darknet/data/%s", photos[k]);
        if (access(path, R_OK) != 0) continue;
        frames[n] = malloc((size_t)S * S * 3);
        if (cvb_image_load(path, &img, &err) < 0 ||
            cvb_letterbox(NULL, &img, frames[n], S, S, &lb, &err) < 0) {
            fprintf(stderr, "%s: %s\n", path, err.msg);
            free(frames[n]);
            cvb_image_cleanup(&img);
            continue;
        }
        cvb_image_cleanup(&img);
        names[n++] = photos[k];
    }
    frames[n] = malloc((size_t)S * S * 3);
    memset(frames[n], 114, (size_t)S * S * 3);
    names[n++] = "grey(114)";
    return n;
}

static void test_int8_guard(void) {
    struct cvb_engine *fp = load(CVB_PRECISION_FP32, NULL);
    struct cvb_engine *q = load(CVB_PRECISION_INT8, calib_path);
    uint8_t *frames[16] = {0};
    const char *names[16];
    int n = 0;
    CHECK(fp != NULL && q != NULL);
    if (fp == NULL || q == NULL) goto out;
    CHECK(cvb_engine_n_lowp_convs(q) >= 50); /* 57 of 64 in YOLOv8n */
    /* no oneDNN reference kernel anywhere */
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(q, &pr);
    for (int i = 0; i < np; i++)
        if (strncmp(pr[i].kernel, "ref", 3) == 0 && strcmp(pr[i].ops, "Transpose") != 0 &&
            strncmp(pr[i].ops, "Conv", 4) == 0) {
            fprintf(stderr, "%s runs %s\n", pr[i].name, pr[i].kernel);
            CHECK(!"a conv on a reference kernel");
        }
    n = make_inputs(frames, names, 16);
    CHECK(n >= 3);
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double rel = 1;
        double f1 = compare(names[i], fp, q, frames[i], &rel);
        CHECK(rel < 0.35);
        if (i > 0 && i < n - 1) sum += f1; /* the photos */
    }
    if (n > 2) {
        printf("  int8 mean F1 over %d photos: %.4f (target 0.95 not met: see above)\n", n - 2,
               sum / (n - 2));
        CHECK(sum / (n - 2) >= 0.6);
    }
out:
    for (int i = 0; i < n; i++) free(frames[i]);
    cvb_engine_free(fp);
    cvb_engine_free(q);
}

static void test_u8_activations(void) {
    struct cvb_engine *q = load(CVB_PRECISION_INT8, calib_path), *qr = NULL, *fp = NULL;
    uint8_t *fa = malloc((size_t)S * S * 3), *fb = malloc((size_t)S * S * 3);
    float *y1 = NULL, *y2 = NULL, *y0 = NULL;
    CHECK(q != NULL && fa != NULL && fb != NULL);
    if (q == NULL || fa == NULL || fb == NULL) goto out;
    /* where vec.h's AVX-512 kernels run (dnn.c: vec_silu_isa) */
    bool vec512 = __builtin_cpu_supports("avx512f") && strncmp(cvb_engine_isa(q), "avx512", 6) == 0;
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(q, &pr), n_conv_u8 = 0, n_cat_u8 = 0, n_split_conv = 0;
    int n_add_u8 = 0;
    for (int i = 0; i < np; i++) {
        const char *k = pr[i].kernel;
        size_t kl = strlen(k);
        if (strncmp(pr[i].ops, "Conv", 4) == 0 && strstr(k, ">u8") != NULL) n_conv_u8++;
        if (strcmp(pr[i].ops, "Concat") == 0 && kl > 4 && strcmp(k + kl - 4, "->u8") == 0) {
            n_cat_u8++;
            /* our rows step with AVX-512, oneDNN's reorders elsewhere */
            CHECK(strcmp(k, vec512 ? "vec:rows->u8" : "reorder:jit:uni->u8") == 0);
        }
        /* the residual Adds (our step: uint8 where the Convs around them are) */
        if (strcmp(pr[i].ops, "Add") == 0 && strncmp(k, "vec:add/", 8) == 0 &&
            strstr(k, ">u8") != NULL)
            n_add_u8++;
        if (strstr(pr[i].ops, "+Split") != NULL) n_split_conv++;
        CHECK(strcmp(pr[i].ops, "Split") != 0); /* all absorbed */
        if ((strncmp(pr[i].ops, "Conv", 4) == 0 || strcmp(pr[i].ops, "Concat") == 0) &&
            strncmp(k, "ref", 3) == 0) {
            fprintf(stderr, "%s runs %s\n", pr[i].name, k);
            CHECK(!"a reference kernel");
        }
    }
    printf("  int8 uint8 plan: %d convs write uint8, %d concats quantise, %d splits absorbed, "
           "%d adds write uint8\n", n_conv_u8, n_cat_u8, n_split_conv, n_add_u8);
    CHECK(n_conv_u8 >= 30);    /* 45 in YOLOv8n */
    CHECK(n_cat_u8 >= 10);     /* 13 */
    CHECK(n_split_conv == 8);  /* one per C2f */
    CHECK_EQ_INT(n_add_u8, vec512 ? 6 : 0); /* the backbone C2fs' bottlenecks */
    struct cvb_tensor_info oi;
    cvb_engine_output_info(q, 0, &oi);
    y1 = malloc(oi.bytes);
    y2 = malloc(oi.bytes);
    CHECK(y1 != NULL && y2 != NULL);
    if (y1 == NULL || y2 == NULL) goto out;
    cvb_calib_procedural_frame(S, 101, fa);
    cvb_calib_procedural_frame(S, 202, fb);
    CHECK(run1(q, fa, y1) == 0);
    CHECK(run1(q, fb, y2) == 0);
    CHECK(memcmp(y1, y2, oi.bytes) != 0);
    CHECK(run1(q, fa, y2) == 0);
    CHECK(memcmp(y1, y2, oi.bytes) == 0);
    /* without our uint8 steps (oneDNN's reorders for the Concats, float32
     * Adds): the Adds' operands and the Concats' members that the steps keep
     * uint8 are rounded once more, no farther from fp32 than that plan */
    cvb__dnn_test_no_vec_u8(true);
    qr = load(CVB_PRECISION_INT8, calib_path);
    cvb__dnn_test_no_vec_u8(false);
    fp = load(CVB_PRECISION_FP32, NULL);
    y0 = malloc(oi.bytes);
    CHECK(qr != NULL && fp != NULL && y0 != NULL);
    if (qr == NULL || fp == NULL || y0 == NULL) goto out;
    int nr = 0, na = 0;
    np = cvb_engine_profile(qr, &pr);
    for (int i = 0; i < np; i++) {
        nr += strcmp(pr[i].kernel, "reorder:jit:uni->u8") == 0;
        na += strncmp(pr[i].kernel, "vec:add", 7) == 0 || strcmp(pr[i].kernel, "vec:rows->u8") == 0;
    }
    CHECK_EQ_INT(nr, n_cat_u8);
    CHECK_EQ_INT(na, 0);
    const uint8_t *fr[2] = {fa, fb};
    for (int f = 0; f < 2; f++) {
        CHECK(run1(q, fr[f], y1) == 0);
        CHECK(run1(qr, fr[f], y2) == 0);
        CHECK(run1(fp, fr[f], y0) == 0);
        double rel = rel_l2(y1, y2, oi.numel), e1 = rel_l2(y1, y0, oi.numel);
        double e2 = rel_l2(y2, y0, oi.numel);
        printf("  frame %d: uint8 steps %s vs without: rel-L2 %.3g; vs fp32 %.3g (without %.3g)\n",
               f, vec512 ? "on" : "absent", rel, e1, e2);
        CHECK(rel < 1e-3);
        CHECK(e1 <= 1.5 * e2 + 1e-6);
        if (!vec512) CHECK(memcmp(y1, y2, oi.bytes) == 0);
    }
out:
    free(fa);
    free(fb);
    free(y0);
    free(y1);
    free(y2);
    cvb_engine_free(q);
    cvb_engine_free(qr);
    cvb_engine_free(fp);
}

static void test_frame_stem(void) {
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                .input_format = CVB_INPUT_F32_NCHW,
                                .precision = CVB_PRECISION_INT8, .calib = calib_path};
    struct cvb_err err = {0};
    struct cvb_engine *q = load(CVB_PRECISION_INT8, calib_path), *qf = NULL;
    struct cvb_engine *fp = load(CVB_PRECISION_FP32, NULL);
    uint8_t *frames[4] = {0}, *keep = malloc((size_t)S * S * 3);
    const char *names[4];
    float *xf = malloc((size_t)S * S * 3 * sizeof *xf), *yq = NULL, *yf = NULL, *yr = NULL;
    int n = 0;
    if (cvb_engine_load(model_path, &o, &qf, &err) < 0) fprintf(stderr, "load: %s\n", err.msg);
    CHECK(q != NULL && qf != NULL && fp != NULL && keep != NULL && xf != NULL);
    if (q == NULL || qf == NULL || fp == NULL || keep == NULL || xf == NULL) goto out;
    /* the float-input plan keeps the stem float32; the frame plan adds it */
    CHECK(cvb_engine_n_lowp_convs(q) == cvb_engine_n_lowp_convs(qf) + 1);
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(q, &pr);
    CHECK(np > 0);
    for (int i = 0; i < np; i++) {
        CHECK(strcmp(pr[i].ops, "u8->f32") != 0); /* no float copy of the frame */
        CHECK(strcmp(pr[i].name, "input") != 0);
    }
    /* the stem: the first node, int8 (zero point 0) writing uint8 for model.1 */
    if (np > 0) {
        printf("  int8 u8 frame: stem %s runs %s\n", pr[0].name, pr[0].kernel);
        CHECK(strncmp(pr[0].ops, "Conv", 4) == 0);
        CHECK(strncmp(pr[0].kernel, "ref", 3) != 0);
        CHECK(strstr(pr[0].kernel, "/u8s8>u8") != NULL);
    }
    np = cvb_engine_profile(qf, &pr);
    if (np > 0) CHECK(strstr(pr[0].kernel, "/u8s8") == NULL);
    struct cvb_tensor_info oi;
    cvb_engine_output_info(q, 0, &oi);
    yq = malloc(oi.bytes);
    yf = malloc(oi.bytes);
    yr = malloc(oi.bytes);
    CHECK(yq != NULL && yf != NULL && yr != NULL);
    if (yq == NULL || yf == NULL || yr == NULL) goto out;
    n = make_inputs(frames, names, 3); /* random, dog, grey */
    for (int k = 0; k < n; k++) {
        for (int64_t p = 0; p < (int64_t)S * S; p++)
            for (int c = 0; c < 3; c++)
                xf[(int64_t)c * S * S + p] = (float)frames[k][p * 3 + c] / 255.f;
        memcpy(keep, frames[k], (size_t)S * S * 3);
        CHECK(run1(q, frames[k], yq) == 0);
        CHECK(memcmp(keep, frames[k], (size_t)S * S * 3) == 0); /* the frame is read only */
        CHECK(run1(fp, frames[k], yr) == 0);
        const void *ins[1] = {xf};
        void *outs[1] = {yf};
        CHECK(cvb_engine_run(qf, ins, outs, &err) == 0);
        double d = rel_l2(yq, yf, oi.numel), dq = rel_l2(yq, yr, oi.numel),
               df = rel_l2(yf, yr, oi.numel);
        printf("  %-22s int8 u8 frame vs float frame: rel-L2 %.3g; vs fp32: %.3g (float "
               "frame %.3g)\n", names[k], d, dq, df);
        CHECK(d < 0.35);
        CHECK(dq < 0.35);
    }
out:
    for (int k = 0; k < n; k++) free(frames[k]);
    free(keep);
    free(xf);
    free(yq);
    free(yf);
    free(yr);
    cvb_engine_free(q);
    cvb_engine_free(qf);
    cvb_engine_free(fp);
}

static void test_bf16_guard(void) {
    struct cvb_engine *fp = load(CVB_PRECISION_FP32, NULL);
    struct cvb_engine *b = load(CVB_PRECISION_BF16, NULL);
    uint8_t *frames[16] = {0};
    const char *names[16];
    int n = 0;
    CHECK(fp != NULL && b != NULL);
    if (fp == NULL || b == NULL) goto out;
    /* yolov8n has 64 Convs; where the bf16 plan is blocked (no AMX) the
     * 3x3 stride-1 ones of 16-multiple channels stay float32 on Winograd,
     * and so do those into a plain output (the head's box convs) */
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(b, &pr), wino = 0, gemm = 0;
    for (int i = 0; i < np; i++) {
        wino += strstr(pr[i].kernel, "wino") != NULL;
        gemm += strstr(pr[i].kernel, "gemm") != NULL && strstr(pr[i].kernel, "/bf16") != NULL;
    }
    printf("bf16: %d convs bf16, %d float32 Winograd, %d bf16 on gemm (bf16 layout %s)\n",
           cvb_engine_n_lowp_convs(b), wino, gemm,
           cvb__dnn_bf16_layout() == CVB__LAYOUT_NHWC ? "NHWC" : "blocked");
    if (cvb__dnn_bf16_layout() == CVB__LAYOUT_NHWC) {
        CHECK(cvb_engine_n_lowp_convs(b) >= 50);
        CHECK_EQ_INT(wino, 0);
    } else {
        CHECK(cvb_engine_n_lowp_convs(b) >= 20); /* measured 24 of 64, Winograd 32 */
        CHECK(cvb_engine_n_lowp_convs(b) + wino >= 55);
        CHECK_EQ_INT(gemm, 0); /* convs into a plain output stay float32 */
        if (strncmp(cvb_engine_isa(b), "avx512", 6) == 0) CHECK(wino >= 20);
    }
    n = make_inputs(frames, names, 3); /* random, dog, grey */
    for (int i = 0; i < n; i++) {
        double rel = 1;
        compare(names[i], fp, b, frames[i], &rel);
        CHECK(rel < 0.1);
    }
out:
    for (int i = 0; i < n; i++) free(frames[i]);
    cvb_engine_free(fp);
    cvb_engine_free(b);
}

/* The bf16 plan of AMX CPUs (cvb__dnn_bf16_layout: NHWC), forced here
 * through the test hook so that every bf16-capable CPU checks it: bf16
 * Convs write bfloat16 activations (">bf16") that the next bf16 Convs,
 * Concats, MaxPools, Resizes and residual Adds read as they are (each
 * bottleneck's Add in bfloat16, "/bf16", every 4-D Concat copying bfloat16
 * rows, "vec:rows/bf16": no float32 between the stem and the head); each C2f's Split is
 * absorbed by its Conv, which writes the two halves ("+Split"); none of those
 * runs a reference kernel; the outputs agree with the blocked bf16 plan
 * (the same but for the residual sums, rounded to bfloat16 here, and the
 * stem: float32 there, here bf16 from the frame as bfloat16 [x, x] with
 * weights [hi, lo], "/bf16x2", after a "u8->bf16x2" step: measured 2.5e-6
 * to 1.0e-5; 3.5e-5 on dog.jpg, a box lost, with hi alone) within 2e-5, which
 * bfloat16 buffers planned at half their size break (5e-4 measured);
 * a run is a pure function of its input (a buffer planned with a wrong
 * size or lifetime shows up as A, B, A giving two different A results);
 * and at batch 2 each item equals its batch-1 run. */
/* The blocked and the NHWC bf16 plan ('model' names it) agree within
 * 'bound' (rel-L2 of the outputs) on each of the n frames. */
static void plans_agree(const char *model, struct cvb_engine *blk, struct cvb_engine *nhwc,
                        uint8_t **frames, const char **names, int n, double bound) {
    for (int i = 0; i < n; i++) {
        double rel = 1;
        compare(names[i], blk, nhwc, frames[i], &rel);
        printf("  %-22s %sNHWC vs blocked bf16 plan: rel-L2 %.2e\n", names[i], model, rel);
        CHECK(rel < bound);
    }
}

static void test_bf16_nhwc(void) {
    struct cvb_engine *blk = load(CVB_PRECISION_BF16, NULL);
    cvb__dnn_test_bf16_layout(CVB__LAYOUT_NHWC);
    struct cvb_engine *b = load(CVB_PRECISION_BF16, NULL), *b2 = NULL;
    cvb__dnn_test_bf16_layout(0);
    uint8_t *frames[16] = {0}, *in2 = NULL;
    const char *names[16];
    float *y1 = NULL, *y2 = NULL, *out2 = NULL;
    int n = 0;
    CHECK(blk != NULL && b != NULL);
    if (blk == NULL || b == NULL) goto out;
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(b, &pr), n_w = 0, n_conv = 0, n_split_conv = 0, n_add = 0,
        n_add16 = 0, n_cat4 = 0, n_cat4_16 = 0, n_x2 = 0, n_frame = 0;
    for (int i = 0; i < np; i++) {
        const char *k = pr[i].kernel;
        if (strcmp(pr[i].name, "input") == 0) {
            n_frame++;
            CHECK(strcmp(pr[i].ops, "u8->bf16x2") == 0); /* the frame as bfloat16 [x, x] */
        }
        n_x2 += strstr(k, "/bf16x2>bf16") != NULL; /* the stem, writing bfloat16 */
        if (strstr(pr[i].ops, "+Split") != NULL) n_split_conv++;
        bool act4 = strncmp(pr[i].shape, "[1,", 3) == 0 && strchr(pr[i].shape + 3, ',') != NULL &&
                    strchr(strchr(pr[i].shape + 3, ',') + 1, ',') != NULL; /* 4-D output */
        if (strcmp(pr[i].ops, "Add") == 0 && act4) {
            n_add++;
            n_add16 += strstr(k, "/bf16") != NULL;
        }
        if (strcmp(pr[i].ops, "Concat") == 0 && act4) {
            n_cat4++;
            n_cat4_16 += strcmp(k, "vec:rows/bf16") == 0;
        }
        CHECK(strcmp(pr[i].ops, "Split") != 0); /* all absorbed */
        if (strncmp(pr[i].ops, "Conv", 4) == 0 && strstr(k, "/bf16") != NULL) {
            n_conv++;
            if (strstr(k, ">bf16") != NULL) n_w++;
        }
        if (strncmp(k, "ref", 3) == 0) {
            fprintf(stderr, "%s (%s) runs %s\n", pr[i].name, pr[i].ops, k);
            CHECK(strncmp(pr[i].ops, "Conv", 4) != 0 && strcmp(pr[i].ops, "Concat") != 0 &&
                  strcmp(pr[i].ops, "Split") != 0 && strcmp(pr[i].ops, "MaxPool") != 0 &&
                  strcmp(pr[i].ops, "Resize") != 0);
        }
    }
    printf("  bf16 NHWC plan: %d of %d bf16 convs write bfloat16, %d splits absorbed, %d of %d "
           "residual Adds and %d of %d Concats in bfloat16\n", n_w, n_conv, n_split_conv,
           n_add16, n_add, n_cat4_16, n_cat4);
    printf("  bf16 NHWC plan: %d frame step, %d bf16x2 stem conv\n", n_frame, n_x2);
    CHECK_EQ_INT(n_frame, 1);
    CHECK_EQ_INT(n_x2, 1);
    CHECK_EQ_INT(cvb_engine_n_lowp_convs(b), 60); /* all but the head's 4 output convs */
    CHECK(n_split_conv == 8); /* one per C2f */
    CHECK(n_conv == cvb_engine_n_lowp_convs(b));
    CHECK(n_w >= 50); /* 53 of 59 in YOLOv8n: all but the head's */
    /* the bottlenecks' residual Adds and every 4-D Concat in bfloat16: no
     * float32 between the stem and the head */
    CHECK_EQ_INT(n_add, 6);
    CHECK_EQ_INT(n_add16, n_add);
    CHECK_EQ_INT(n_cat4, 13);
    CHECK_EQ_INT(n_cat4_16, n_cat4);
    n = make_inputs(frames, names, 3); /* random, dog, grey */
    plans_agree("", blk, b, frames, names, n, 2e-5);
    struct cvb_tensor_info oi;
    cvb_engine_output_info(b, 0, &oi);
    y1 = malloc(oi.bytes);
    y2 = malloc(oi.bytes);
    CHECK(y1 != NULL && y2 != NULL && n >= 2);
    if (y1 == NULL || y2 == NULL || n < 2) goto out;
    CHECK(run1(b, frames[0], y1) == 0);
    CHECK(run1(b, frames[1], y2) == 0);
    CHECK(memcmp(y1, y2, oi.bytes) != 0);
    CHECK(run1(b, frames[0], y2) == 0);
    CHECK(memcmp(y1, y2, oi.bytes) == 0);
    /* the same plan at batch 2: each item as its batch-1 run (NHWC slices
     * of a batch are dense per item; the bf16 buffers hold both) */
    struct cvb_engine_opts o2 = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                 .input_format = CVB_INPUT_U8_NHWC,
                                 .precision = CVB_PRECISION_BF16, .allow_emulated = true,
                                 .batch = 2};
    struct cvb_err err = {0};
    cvb__dnn_test_bf16_layout(CVB__LAYOUT_NHWC);
    CHECK(cvb_engine_load(model_path, &o2, &b2, &err) == 0);
    cvb__dnn_test_bf16_layout(0);
    size_t fb = (size_t)S * S * 3;
    in2 = malloc(2 * fb);
    out2 = malloc(2 * oi.bytes);
    CHECK(b2 != NULL && in2 != NULL && out2 != NULL);
    if (b2 == NULL || in2 == NULL || out2 == NULL) goto out;
    memcpy(in2, frames[1], fb);
    memcpy(in2 + fb, frames[0], fb);
    const void *ins[1] = {in2};
    void *outs[1] = {out2};
    CHECK(cvb_engine_run(b2, ins, outs, &err) == 0);
    CHECK(run1(b, frames[1], y2) == 0);
    double r0 = rel_l2(out2, y2, oi.numel), r1 = rel_l2(out2 + oi.numel, y1, oi.numel);
    printf("  bf16 NHWC plan at batch 2 vs batch 1: rel-L2 %.2e, %.2e\n", r0, r1);
    CHECK(r0 < 1e-5 && r1 < 1e-5);
out:
    for (int i = 0; i < n; i++) free(frames[i]);
    free(y1);
    free(y2);
    free(in2);
    free(out2);
    cvb_engine_free(blk);
    cvb_engine_free(b);
    cvb_engine_free(b2);
}

/* Occurrences of 'needle' in the file at 'path' (binary safe). */
static int count_in_file(const char *path, const char *needle) {
    FILE *f = fopen(path, "rb");
    size_t cap = 0, len = 0, nl = strlen(needle);
    char *buf = NULL;
    int n = 0;
    if (f == NULL) return -1;
    for (;;) {
        if (len == cap) {
            char *nb = realloc(buf, cap = cap ? 2 * cap : 1 << 20);
            if (nb == NULL) break;
            buf = nb;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        if (r == 0) break;
        len += r;
    }
    fclose(f);
    for (size_t i = 0; buf != NULL && i + nl <= len; i++)
        if (memcmp(buf + i, needle, nl) == 0) n++;
    free(buf);
    return n;
}

/* Copy the calibration file keeping lines that do (keep) or do not (!keep)
 * start with 'prefix'; returns 0 on success. */
static int filter_calib(const char *dst, const char *prefix, bool keep) {
    FILE *in = fopen(calib_path, "r"), *out = fopen(dst, "w");
    char line[2048];
    if (in == NULL || out == NULL) {
        if (in) fclose(in);
        if (out) fclose(out);
        return -1;
    }
    while (fgets(line, sizeof line, in) != NULL)
        if ((strncmp(line, prefix, strlen(prefix)) == 0) == keep) fputs(line, out);
    fclose(in);
    fclose(out);
    return 0;
}

/* A model with grouped (depthwise) Convs (YOLO11n: the head's class
 * branch, C2PSA's position conv) in bf16: the NHWC plan runs them bf16 and
 * they pass bfloat16 through; the blocked plan keeps them float32. */
static void test_bf16_nhwc_grouped(void) {
    struct cvb_synth_opts so = {.arch = "yolo11n", .imgsz = S, .seed = 3};
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                .input_format = CVB_INPUT_U8_NHWC,
                                .precision = CVB_PRECISION_BF16, .allow_emulated = true};
    struct cvb_err err = {0};
    struct cvb_engine *blk = NULL, *b = NULL;
    void *buf = NULL;
    size_t len = 0;
    uint8_t *frames[4] = {0};
    const char *names[4];
    int n = 0;
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    if (buf == NULL) goto out;
    CHECK(cvb_engine_load_buffer(buf, len, "yolo11n", &o, &blk, &err) == 0);
    cvb__dnn_test_bf16_layout(CVB__LAYOUT_NHWC);
    CHECK(cvb_engine_load_buffer(buf, len, "yolo11n", &o, &b, &err) == 0);
    cvb__dnn_test_bf16_layout(0);
    if (blk == NULL || b == NULL) goto out;
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(b, &pr), n_dw = 0, n_dw16 = 0, n_dw_w = 0, n_blk16 = 0;
    for (int i = 0; i < np; i++) {
        const char *k = pr[i].kernel;
        if (strncmp(pr[i].ops, "Conv", 4) != 0 || strstr(k, "_dw") == NULL) continue;
        n_dw++;
        n_dw16 += strstr(k, "/bf16") != NULL;
        n_dw_w += strstr(k, "/bf16>bf16") != NULL;
    }
    np = cvb_engine_profile(blk, &pr);
    for (int i = 0; i < np; i++)
        n_blk16 += strncmp(pr[i].ops, "Conv", 4) == 0 && strstr(pr[i].kernel, "_dw") != NULL &&
                   strstr(pr[i].kernel, "/bf16") != NULL;
    printf("  yolo11n bf16 NHWC plan: %d of %d depthwise convs bf16, %d writing bfloat16; "
           "blocked plan: %d bf16\n", n_dw16, n_dw, n_dw_w, n_blk16);
    CHECK(n_dw >= 7); /* 6 in the head, 1 in C2PSA */
    CHECK_EQ_INT(n_dw16, n_dw);
    CHECK(n_dw_w >= 6); /* the head's: each feeds a bf16 pointwise conv */
    CHECK_EQ_INT(n_blk16, 0);
    n = make_inputs(frames, names, 3); /* random, dog, grey */
    plans_agree("yolo11n ", blk, b, frames, names, n, 1e-4);
out:
    for (int i = 0; i < n; i++) free(frames[i]);
    free(buf);
    cvb_engine_free(blk);
    cvb_engine_free(b);
}

static void test_conv_outputs(void) {
    char old[64] = "/tmp/cvb-int8-old-XXXXXX";
    int fd = mkstemp(old);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    /* one convout per conv record, and the QDQ export quantises every output */
    CHECK(count_in_file(calib_path, "\nconv ") == n_quantised);
    CHECK(count_in_file(calib_path, "\nconvout ") == n_quantised);
    CHECK(count_in_file(qdq_path, "/QuantizeLinear_y") == n_quantised);
    CHECK(count_in_file(qdq_path, "/DequantizeLinear_y") == n_quantised);
    CHECK(count_in_file(qdq_path, "/QuantizeLinear_x") == n_quantised);
    /* a file without convout records (the older format) loads at int8 */
    CHECK(filter_calib(old, "convout ", false) == 0);
    struct cvb_engine *e = load(CVB_PRECISION_INT8, old);
    CHECK(e != NULL);
    /* + the stem, which reads the u8 frame and needs no calibration entry */
    if (e != NULL) CHECK(cvb_engine_n_lowp_convs(e) == n_quantised + 1);
    cvb_engine_free(e);
    /* a convout before (without) its conv record is refused */
    FILE *f = fopen(old, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        FILE *src = fopen(calib_path, "r");
        char line[2048];
        while (src != NULL && fgets(line, sizeof line, src) != NULL)
            if (strncmp(line, "conv ", 5) != 0) fputs(line, f);
        if (src != NULL) fclose(src);
        fclose(f);
        struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                    .input_format = CVB_INPUT_U8_NHWC,
                                    .precision = CVB_PRECISION_INT8, .calib = old};
        struct cvb_err err = {0};
        e = NULL;
        CHECK(cvb_engine_load(model_path, &o, &e, &err) == CVB_EFORMAT);
        CHECK(strstr(err.msg, "convout") != NULL);
        CHECK(e == NULL);
    }
    unlink(old);
}

static void test_errors(void) {
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1,
                                .input_format = CVB_INPUT_U8_NHWC,
                                .precision = CVB_PRECISION_INT8};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    /* no calibration file: the error says how to make one */
    CHECK(cvb_engine_load(model_path, &o, &e, &err) == CVB_EINVAL);
    CHECK(strstr(err.msg, "cvbench model calibrate") != NULL);
    /* a calibration file for another model is refused */
    char other[64] = "/tmp/cvb-int8-other-XXXXXX";
    int fd = mkstemp(other);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "w");
        fprintf(f, "cvbench-calib 1\nmodel_sha256 %064d\nmethod minmax\nframes 1\n", 0);
        fclose(f);
        o.calib = other;
        memset(&err, 0, sizeof err);
        CHECK(cvb_engine_load(model_path, &o, &e, &err) == CVB_EINVAL);
        CHECK(strstr(err.msg, "another model") != NULL);
        unlink(other);
    }
    /* int8 on the reference kernels is refused */
    o.kernels = CVB_KERNELS_REF;
    o.calib = calib_path;
    CHECK(cvb_engine_load(model_path, &o, &e, &err) == CVB_EINVAL);
    CHECK(e == NULL);
}

int main(void) {
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = S, .seed = 7};
    struct cvb_err err = {0};
    struct cvb_calib *c = NULL;
    int fd1 = mkstemp(model_path), fd2 = mkstemp(calib_path), fd3 = mkstemp(qdq_path);
    if (fd1 < 0 || fd2 < 0 || fd3 < 0) return test_skip("cannot create temp files");
    close(fd1);
    close(fd2);
    close(fd3);
    int rc = cvb_synth_model(&so, model_path, NULL, &err);
    if (rc < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return 1;
    }
    rc = cvb_calib_new(model_path, 0, 1, &c, &err);
    uint8_t *frame = malloc((size_t)S * S * 3);
    for (int i = 0; rc == 0 && i < N_CALIB; i++) {
        cvb_calib_procedural_frame(S, (uint64_t)i, frame);
        rc = cvb_calib_add_frame(c, frame, &err);
    }
    if (rc == 0) rc = cvb_calib_save(c, calib_path, &err);
    if (rc == 0) rc = cvb_calib_export_qdq(c, qdq_path, &err);
    if (rc == 0) n_quantised = cvb_calib_n_tensors(c);
    free(frame);
    cvb_calib_free(c);
    if (rc < 0) {
        fprintf(stderr, "calibrate: %s\n", err.msg);
        return 1;
    }
    RUN(test_errors);
    RUN(test_conv_outputs);
    RUN(test_int8_guard);
    RUN(test_u8_activations);
    RUN(test_frame_stem);
    RUN(test_bf16_guard);
    RUN(test_bf16_nhwc);
    RUN(test_bf16_nhwc_grouped);
    unlink(model_path);
    unlink(calib_path);
    unlink(qdq_path);
    return test_summary();
}
