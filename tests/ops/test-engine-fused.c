/* SPDX-License-Identifier: Apache-2.0 */
/* The fused oneDNN execution path (passes, blocked layout, views, u8 input)
 * against the reference kernels on a synthetic YOLOv8n at 320.
 *
 * Checks: fused output within rel-L2 1e-4 of the reference kernels; a
 * uint8 NHWC frame gives the float NCHW path's output on the same frame;
 * every Conv+Sigmoid+Mul became one fused Conv (the only Sigmoid left is
 * the head's class score); no convolution runs a oneDNN "ref" kernel;
 * fewer steps run than without fusion and the arena is no larger.
 *
 * Per-node retreat (synthetic YOLO11n at 320, whose PSA ffn Conv takes a
 * fused residual sum): with oneDNN refusing every fused sum (test hook), the
 * model still loads fused and blocked: only those Convs lose the sum (their
 * profile ops read "Conv,Add unfused", their Add is its own node), the
 * SiLU fusions stay, and the output stays within rel-L2 1e-4 of the
 * reference kernels. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "engine/kernels/onednn/dnn.h"
#include "test.h"

#include <stdint.h>

static void *model_buf;
static size_t model_len;

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static struct cvb_engine *load(enum cvb_kernels k, enum cvb_input_format f, bool no_fusion) {
    struct cvb_engine_opts o = {.kernels = k, .threads = 1, .input_format = f,
                                .no_fusion = no_fusion};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    if (cvb_engine_load_buffer(model_buf, model_len, "yolov8n-320", &o, &e, &err) < 0)
        fprintf(stderr, "load: %s\n", err.msg);
    return e;
}

static int run1(struct cvb_engine *e, const void *in, float *out) {
    struct cvb_err err = {0};
    const void *ins[1] = {in};
    void *outs[1] = {out};
    int rc = cvb_engine_run(e, ins, outs, &err);
    if (rc < 0) fprintf(stderr, "run: %s\n", err.msg);
    return rc;
}

static void test_fused_vs_ref(void) {
    enum { S = 320 };
    struct cvb_engine *ref = load(CVB_KERNELS_REF, CVB_INPUT_F32_NCHW, false);
    struct cvb_engine *fused = load(CVB_KERNELS_ONEDNN, CVB_INPUT_F32_NCHW, false);
    struct cvb_engine *plain = load(CVB_KERNELS_ONEDNN, CVB_INPUT_F32_NCHW, true);
    struct cvb_engine *u8 = load(CVB_KERNELS_ONEDNN, CVB_INPUT_U8_NHWC, false);
    struct cvb_engine *u8ref = load(CVB_KERNELS_REF, CVB_INPUT_U8_NHWC, false);
    CHECK(ref != NULL && fused != NULL && plain != NULL && u8 != NULL && u8ref != NULL);
    if (ref == NULL || fused == NULL || plain == NULL || u8 == NULL || u8ref == NULL) goto out;
    struct cvb_tensor_info oi, ii;
    cvb_engine_output_info(fused, 0, &oi);
    cvb_engine_input_info(u8, 0, &ii);
    CHECK(strcmp(ii.dtype, "uint8") == 0 && ii.ndim == 4 && ii.dims[1] == S && ii.dims[3] == 3);
    /* an image-like frame: u8 NHWC and the same values / 255 as f32 NCHW */
    uint8_t *frame = malloc((size_t)S * S * 3);
    float *x = malloc(sizeof(float) * S * S * 3);
    float *y[5];
    for (int i = 0; i < 5; i++) y[i] = malloc((size_t)oi.bytes);
    uint32_t st = 1;
    for (int p = 0; p < S * S; p++)
        for (int c = 0; c < 3; c++) {
            st = st * 1664525u + 1013904223u;
            int v = (int)(128 + 90 * sin(p * 0.001 + c) + ((st >> 24) & 31)) & 0xff;
            frame[p * 3 + c] = (uint8_t)v;
            x[c * S * S + p] = (float)v / 255.f;
        }
    CHECK(run1(ref, x, y[0]) == 0);
    CHECK(run1(fused, x, y[1]) == 0);
    CHECK(run1(plain, x, y[2]) == 0);
    CHECK(run1(u8, frame, y[3]) == 0);
    CHECK(run1(u8ref, frame, y[4]) == 0);
    CHECK(run1(fused, x, y[1]) == 0); /* a second run: plans are reusable */
    double e_fused = rel_l2(y[1], y[0], oi.numel), e_plain = rel_l2(y[2], y[0], oi.numel);
    double e_u8 = rel_l2(y[3], y[1], oi.numel), e_u8ref = rel_l2(y[4], y[0], oi.numel);
    printf("rel-L2 vs ref: fused %.3g, unfused %.3g; u8 vs f32: fused %.3g, ref %.3g\n", e_fused,
           e_plain, e_u8, e_u8ref);
    CHECK(e_fused <= 1e-4);
    CHECK(e_plain <= 1e-4);
    CHECK(e_u8 <= 1e-4);
    CHECK(e_u8ref <= 1e-4);

    /* fusion: every SiLU folded, no ref convolution, fewer steps */
    const struct cvb_node_profile *pr;
    int n = cvb_engine_profile(fused, &pr), n_silu = 0, n_sigmoid = 0, n_ref_conv = 0;
    for (int i = 0; i < n; i++) {
        if (strstr(pr[i].ops, "Conv+SiLU") != NULL) n_silu++;
        if (strcmp(pr[i].ops, "Sigmoid") == 0) n_sigmoid++;
        if (strstr(pr[i].ops, "Conv") != NULL && strncmp(pr[i].kernel, "ref", 3) == 0) {
            n_ref_conv++;
            fprintf(stderr, "ref conv: %s %s\n", pr[i].name, pr[i].kernel);
        }
    }
    struct cvb_model_info mi_f, mi_p;
    cvb_engine_model_info(fused, &mi_f);
    cvb_engine_model_info(plain, &mi_p);
    int model_sigmoids = 0;
    for (int k = 0; k < mi_f.n_ops; k++)
        if (strcmp(mi_f.op_names[k], "Sigmoid") == 0) model_sigmoids = mi_f.op_counts[k];
    const struct cvb_node_profile *pp;
    int n_plain = cvb_engine_profile(plain, &pp);
    printf("fused steps %d (unfused %d), SiLU convs %d, arena %lld vs %lld bytes\n", n, n_plain,
           n_silu, (long long)mi_f.activation_bytes, (long long)mi_p.activation_bytes);
    CHECK(n_silu > 0);
    CHECK_EQ_INT(n_silu + n_sigmoid, model_sigmoids);
    CHECK_EQ_INT(n_sigmoid, 1);
    CHECK_EQ_INT(n_ref_conv, 0);
    CHECK(n < n_plain);
    CHECK(cvb_engine_n_onednn_nodes(fused) < cvb_engine_n_onednn_nodes(plain));
    CHECK(mi_f.activation_bytes <= mi_p.activation_bytes);
    CHECK_NEAR(mi_f.flops, mi_p.flops, 1.0);

    /* profiling counts calls and time */
    cvb_engine_set_profiling(fused, true);
    CHECK(run1(fused, x, y[1]) == 0);
    cvb_engine_set_profiling(fused, false);
    n = cvb_engine_profile(fused, &pr);
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        CHECK_EQ_INT(pr[i].calls, 1);
        total += pr[i].ns;
    }
    CHECK(total > 0);
    free(frame);
    free(x);
    for (int i = 0; i < 5; i++) free(y[i]);
out:
    cvb_engine_free(ref);
    cvb_engine_free(fused);
    cvb_engine_free(plain);
    cvb_engine_free(u8);
    cvb_engine_free(u8ref);
}

/* Profile entries whose ops equal (exact) or contain (!exact) 'what'. */
static int count_ops(struct cvb_engine *e, const char *what, bool exact) {
    const struct cvb_node_profile *pr;
    int n = cvb_engine_profile(e, &pr), cnt = 0;
    for (int i = 0; i < n; i++)
        if (exact ? strcmp(pr[i].ops, what) == 0 : strstr(pr[i].ops, what) != NULL) cnt++;
    return cnt;
}

static void test_sum_retreat(void) {
    enum { S = 320 };
    struct cvb_synth_opts so = {.arch = "yolo11n", .imgsz = S, .seed = 5};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    struct cvb_engine *ref = NULL, *fused = NULL, *retreat = NULL;
    float *x = NULL, *y0 = NULL, *y1 = NULL, *y2 = NULL;
    if (cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        CHECK(false);
        return;
    }
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_REF, .threads = 1};
    CHECK(cvb_engine_load_buffer(buf, len, "yolo11n-320", &o, &ref, &err) == 0);
    o.kernels = CVB_KERNELS_ONEDNN;
    CHECK(cvb_engine_load_buffer(buf, len, "yolo11n-320", &o, &fused, &err) == 0);
    cvb__dnn_test_refuse_sum(true);
    int rc = cvb_engine_load_buffer(buf, len, "yolo11n-320", &o, &retreat, &err);
    cvb__dnn_test_refuse_sum(false);
    if (rc < 0) fprintf(stderr, "load with sums refused: %s\n", err.msg);
    CHECK(rc == 0);
    if (ref == NULL || fused == NULL || retreat == NULL) goto out;
    int sums = count_ops(fused, "Conv+Add", true);
    int apart = count_ops(retreat, "Conv,Add unfused", true);
    printf("fused sums %d; with sums refused: %d Convs without, %d Conv+SiLU (fused %d)\n",
           sums, apart, count_ops(retreat, "Conv+SiLU", false),
           count_ops(fused, "Conv+SiLU", false));
    CHECK(sums > 0);
    CHECK_EQ_INT(apart, sums);
    CHECK_EQ_INT(count_ops(retreat, "Conv+Add", false), 0);
    CHECK_EQ_INT(count_ops(retreat, "Add", true), count_ops(fused, "Add", true) + sums);
    CHECK_EQ_INT(count_ops(retreat, "Conv+SiLU", false), count_ops(fused, "Conv+SiLU", false));
    struct cvb_tensor_info oi;
    cvb_engine_output_info(fused, 0, &oi);
    x = malloc(sizeof(float) * 3 * S * S);
    y0 = malloc((size_t)oi.bytes);
    y1 = malloc((size_t)oi.bytes);
    y2 = malloc((size_t)oi.bytes);
    if (x == NULL || y0 == NULL || y1 == NULL || y2 == NULL) {
        CHECK(false);
        goto out;
    }
    cvb_synth_calib_image(S, x);
    CHECK(run1(ref, x, y0) == 0);
    CHECK(run1(fused, x, y1) == 0);
    CHECK(run1(retreat, x, y2) == 0);
    double e1 = rel_l2(y1, y0, oi.numel), e2 = rel_l2(y2, y0, oi.numel);
    printf("rel-L2 vs ref: fused %.3g, sums refused %.3g\n", e1, e2);
    CHECK(e1 <= 1e-4);
    CHECK(e2 <= 1e-4);
out:
    free(x);
    free(y0);
    free(y1);
    free(y2);
    cvb_engine_free(ref);
    cvb_engine_free(fused);
    cvb_engine_free(retreat);
    free(buf);
}

int main(void) {
    struct cvb_synth_opts o = {.arch = "yolov8n", .imgsz = 320, .seed = 3};
    struct cvb_err err = {0};
    if (cvb_synth_model_buffer(&o, &model_buf, &model_len, NULL, &err) < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return 1;
    }
    RUN(test_fused_vs_ref);
    RUN(test_sum_retreat);
    free(model_buf);
    return test_summary();
}
