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
 * reference kernels.
 *
 * Winograd (synthetic YOLO11n at 320): where oneDNN has the Winograd
 * kernels (AVX-512), the 3x3 stride-1 Convs between 16-multiple channel
 * counts run them ("wino" in the profile's kernel), each SiLU then as its
 * own in-place step ("+silu", or oneDNN's "+swish"); with the test hook
 * on, none does. Both
 * outputs stay within rel-L2 1e-4 of the reference kernels and within
 * 1e-5 of each other.
 *
 * SiLU step (synthetic YOLO11n at 320): on an AVX2 or AVX-512 ISA every float32
 * Conv+SiLU without a fused sum runs its SiLU as our vector step ("+silu"
 * in the profile's kernel); with the test hook on, none does and oneDNN's
 * swish runs. Outputs as for Winograd.
 *
 * DFL (synthetic YOLO11n at 320): with AVX-512 the head's Transpose,
 * Softmax and 1x1 Conv run as one fused step ("vec:dfl",
 * "Transpose+Softmax+Conv"), its Softmax node gone; with the test hook on,
 * the three nodes run. Outputs as for Winograd. */
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

/* A synthetic YOLO11n at 320 (seed 'seed') loaded three times: [0] the
 * reference kernels, [1] oneDNN, [2] oneDNN with a test hook on during the
 * load; then one run of each on the calibration image. */
struct trio {
    void *buf;
    struct cvb_engine *e[3];
    float *x, *y[3];
    int64_t numel;
};

static bool trio_load(struct trio *t, uint64_t seed, void (*hook)(bool)) {
    enum { S = 320 };
    struct cvb_synth_opts so = {.arch = "yolo11n", .imgsz = S, .seed = seed};
    struct cvb_err err = {0};
    size_t len = 0;
    memset(t, 0, sizeof *t);
    if (cvb_synth_model_buffer(&so, &t->buf, &len, NULL, &err) < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return false;
    }
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_REF, .threads = 1};
    for (int i = 0; i < 3; i++) {
        if (i == 2) hook(true);
        int rc = cvb_engine_load_buffer(t->buf, len, "yolo11n-320", &o, &t->e[i], &err);
        if (i == 2) hook(false);
        if (rc < 0) {
            fprintf(stderr, "load %d: %s\n", i, err.msg);
            return false;
        }
        o.kernels = CVB_KERNELS_ONEDNN;
    }
    struct cvb_tensor_info oi;
    cvb_engine_output_info(t->e[0], 0, &oi);
    t->numel = oi.numel;
    t->x = malloc(sizeof(float) * 3 * S * S);
    for (int i = 0; i < 3; i++) t->y[i] = malloc((size_t)oi.bytes);
    if (t->x == NULL || t->y[0] == NULL || t->y[1] == NULL || t->y[2] == NULL) return false;
    cvb_synth_calib_image(S, t->x);
    for (int i = 0; i < 3; i++)
        if (run1(t->e[i], t->x, t->y[i]) < 0) return false;
    return true;
}

static void trio_free(struct trio *t) {
    free(t->x);
    for (int i = 0; i < 3; i++) {
        free(t->y[i]);
        cvb_engine_free(t->e[i]);
    }
    free(t->buf);
}

static void test_sum_retreat(void) {
    struct trio t;
    bool ok = trio_load(&t, 5, cvb__dnn_test_refuse_sum);
    CHECK(ok);
    if (!ok) goto out;
    struct cvb_engine *fused = t.e[1], *retreat = t.e[2];
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
    double e1 = rel_l2(t.y[1], t.y[0], t.numel), e2 = rel_l2(t.y[2], t.y[0], t.numel);
    printf("rel-L2 vs ref: fused %.3g, sums refused %.3g\n", e1, e2);
    CHECK(e1 <= 1e-4);
    CHECK(e2 <= 1e-4);
out:
    trio_free(&t);
}

static int count_kernels(struct cvb_engine *e, const char *what, const char *ops) {
    const struct cvb_node_profile *pr;
    int n = cvb_engine_profile(e, &pr), cnt = 0;
    for (int i = 0; i < n; i++)
        if (strstr(pr[i].kernel, what) != NULL && (ops == NULL || strcmp(pr[i].ops, ops) == 0))
            cnt++;
    return cnt;
}

/* Both oneDNN loads within rel-L2 1e-4 of the reference kernels, and
 * within 1e-5 of each other (a kernel choice, not a different model). */
static void trio_check_outputs(const struct trio *t, const char *a, const char *b) {
    double e1 = rel_l2(t->y[1], t->y[0], t->numel), e2 = rel_l2(t->y[2], t->y[0], t->numel),
           e12 = rel_l2(t->y[1], t->y[2], t->numel);
    printf("rel-L2 vs ref: %s %.3g, %s %.3g; between them %.3g\n", a, e1, b, e2, e12);
    CHECK(e1 <= 1e-4);
    CHECK(e2 <= 1e-4);
    CHECK(e12 <= 1e-5);
}

static void test_winograd(void) {
    struct trio t;
    bool ok = trio_load(&t, 7, cvb__dnn_test_no_winograd);
    CHECK(ok);
    if (!ok) goto out;
    struct cvb_engine *wino = t.e[1], *direct = t.e[2];
    int nw = count_kernels(wino, "wino", NULL), nws = 0;
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(wino, &pr);
    for (int i = 0; i < np; i++) /* the SiLU as a step: ours or oneDNN's */
        nws += strstr(pr[i].kernel, "wino") != NULL && strcmp(pr[i].ops, "Conv+SiLU") == 0 &&
               (strstr(pr[i].kernel, "+silu") != NULL || strstr(pr[i].kernel, "+swish") != NULL);
    printf("isa %s: %d Winograd convs (%d with the SiLU step); with the hook: %d\n",
           cvb_engine_isa(wino), nw, nws, count_kernels(direct, "wino", NULL));
    CHECK_EQ_INT(count_kernels(direct, "wino", NULL), 0);
    if (strncmp(cvb_engine_isa(wino), "avx512", 6) == 0) {
        CHECK(nw >= 10); /* 3x3 stride-1 bottleneck and head convs */
        CHECK_EQ_INT(nws, nw);
    } else {
        printf("no AVX-512 (isa %s): oneDNN has no Winograd kernels; counts not checked\n",
               cvb_engine_isa(wino));
    }
    trio_check_outputs(&t, "winograd", "direct");
out:
    trio_free(&t);
}

static void test_vec_silu(void) {
    struct trio t;
    bool ok = trio_load(&t, 9, cvb__dnn_test_no_vec_silu);
    CHECK(ok);
    if (!ok) goto out;
    int nv = count_kernels(t.e[1], "+silu", "Conv+SiLU"), convs = count_ops(t.e[1], "Conv+SiLU", true);
    printf("isa %s: %d of %d Conv+SiLU with the SiLU step; with the hook: %d\n",
           cvb_engine_isa(t.e[1]), nv, convs, count_kernels(t.e[2], "+silu", NULL));
    CHECK_EQ_INT(count_kernels(t.e[2], "+silu", NULL), 0);
    if (strncmp(cvb_engine_isa(t.e[1]), "avx512", 6) == 0 ||
        strncmp(cvb_engine_isa(t.e[1]), "avx2", 4) == 0) {
        CHECK(convs >= 50);
        CHECK_EQ_INT(nv, convs);
    } else {
        CHECK_EQ_INT(nv, 0);
        printf("no AVX2 (isa %s): oneDNN's swish everywhere\n", cvb_engine_isa(t.e[1]));
    }
    trio_check_outputs(&t, "SiLU step", "oneDNN swish");
out:
    trio_free(&t);
}

/* The DFL fused (Transpose+Softmax+Conv as one step of ours, "vec:dfl")
 * where AVX-512 runs, against the three nodes (test hook). */
static void test_dfl(void) {
    struct trio t;
    bool ok = trio_load(&t, 11, cvb__dnn_test_no_dfl);
    CHECK(ok);
    if (!ok) goto out;
    int nf = count_kernels(t.e[1], "vec:dfl", "Transpose+Softmax+Conv");
    printf("isa %s: %d fused DFL; with the hook: %d (Softmax nodes %d)\n", cvb_engine_isa(t.e[1]),
           nf, count_kernels(t.e[2], "vec:dfl", NULL), count_ops(t.e[2], "Softmax", true));
    CHECK_EQ_INT(count_kernels(t.e[2], "vec:dfl", NULL), 0);
    CHECK(count_ops(t.e[2], "Softmax", true) >= 1); /* the DFL's, and C2PSA's attention */
    if (strncmp(cvb_engine_isa(t.e[1]), "avx512", 6) == 0) {
        CHECK_EQ_INT(nf, 1);
        /* the DFL's Softmax is gone, the attention's stays */
        CHECK_EQ_INT(count_ops(t.e[1], "Softmax", true), count_ops(t.e[2], "Softmax", true) - 1);
    } else {
        CHECK_EQ_INT(nf, 0);
        printf("no AVX-512 (isa %s): the DFL stays three nodes\n", cvb_engine_isa(t.e[1]));
    }
    trio_check_outputs(&t, "fused DFL", "three nodes");
out:
    trio_free(&t);
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
    RUN(test_winograd);
    RUN(test_vec_silu);
    RUN(test_dfl);
    free(model_buf);
    return test_summary();
}
