/* SPDX-License-Identifier: Apache-2.0 */
/* Layout and fusion choices in whole networks, against the reference
 * kernels.
 *
 * Synthetic fp32 YOLOv9t at 320: blocked layouts where the channels are no
 * multiple of the block (its RepCSP blocks have 24-channel tensors), and
 * channel Slices of blocked tensors (its ELAN blocks cut the cv1 output in
 * two). Checks: no Slice runs (each is a view of its input, also in the
 * blocked layout); no convolution writing 24 channels runs oneDNN's
 * plain-layout gemm kernel ("x64:gemm", what the plain NCHW layout gets).
 *
 * Synthetic fp32 YOLO12n at 320: its area attention's q^T k and v attn^T
 * read the transposed operand through strides (the passes fold those
 * Transposes into the MatMuls), and its Split of qkv runs on oneDNN.
 *
 * Both: no reference kernel anywhere, and the output equals the reference
 * kernels' within float rounding (in YOLOv9t the padded channels must stay
 * zero: garbage there would reach the output through the next conv). */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "engine/kernels/onednn/dnn.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct cvb_engine *load(const void *buf, size_t len, const char *name,
                                enum cvb_kernels k) {
    struct cvb_engine_opts o = {.kernels = k, .threads = 1};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    if (cvb_engine_load_buffer(buf, len, name, &o, &e, &err) != 0)
        fprintf(stderr, "load: %s\n", err.msg);
    return e;
}

/* Runs 'arch' at 320 through both kernel sets; counts profile entries whose
 * ops start with 'count_ops' (shape prefix 'count_shape' if not NULL). */
static int check_arch(const char *arch, const char *count_ops, const char *count_shape) {
    struct cvb_synth_opts so = {.arch = arch, .imgsz = 320, .seed = 3};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    struct cvb_engine *e = NULL, *r = NULL;
    float *x = NULL, *y = NULL, *yr = NULL;
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    if (buf == NULL) return 0;
    int counted = 0;
    e = load(buf, len, arch, CVB_KERNELS_ONEDNN);
    r = load(buf, len, arch, CVB_KERNELS_REF);
    CHECK(e != NULL && r != NULL);
    if (e == NULL || r == NULL) goto out;

    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(e, &pr);
    for (int i = 0; i < np; i++)
        if (strncmp(pr[i].ops, count_ops, strlen(count_ops)) == 0 &&
            (count_shape == NULL || strncmp(pr[i].shape, count_shape, strlen(count_shape)) == 0))
            counted++;
    for (int i = 0; i < np; i++) {
        if (strncmp(pr[i].kernel, "ref", 3) == 0) {
            fprintf(stderr, "%s (%s) runs %s\n", pr[i].name, pr[i].ops, pr[i].kernel);
            CHECK(!"a reference kernel in the executed network");
        }
        if (strncmp(pr[i].ops, "Slice", 5) == 0) {
            fprintf(stderr, "%s (%s) is no view: runs %s\n", pr[i].name, pr[i].ops, pr[i].kernel);
            CHECK(!"a Slice that runs");
        }
        if (strncmp(pr[i].ops, "Conv", 4) == 0 && strncmp(pr[i].shape, "[1,24,", 6) == 0) {
            if (strncmp(pr[i].kernel, "x64", 3) == 0) {
                fprintf(stderr, "%s %s runs %s\n", pr[i].name, pr[i].shape, pr[i].kernel);
                CHECK(!"a 24-channel conv in the plain layout");
            }
        }
    }
    printf("  %s: %d %s%s%s\n", arch, counted, count_ops, count_shape ? " " : "",
           count_shape ? count_shape : "");

    struct cvb_tensor_info in, out;
    CHECK_EQ_INT(cvb_engine_input_info(e, 0, &in), 0);
    CHECK_EQ_INT(cvb_engine_output_info(e, 0, &out), 0);
    size_t nx = in.bytes / sizeof(float), ny = out.bytes / sizeof(float);
    x = malloc(in.bytes);
    y = malloc(out.bytes);
    yr = malloc(out.bytes);
    CHECK(x != NULL && y != NULL && yr != NULL);
    if (x == NULL || y == NULL || yr == NULL) goto out;
    uint32_t s = 12345;
    for (size_t i = 0; i < nx; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
    const void *ins[1] = {x};
    void *outs[1] = {y}, *outs_r[1] = {yr};
    /* twice: the second run finds the arena holding the first run's values */
    CHECK_EQ_INT(cvb_engine_run(e, ins, outs, &err), 0);
    CHECK_EQ_INT(cvb_engine_run(e, ins, outs, &err), 0);
    CHECK_EQ_INT(cvb_engine_run(r, ins, outs_r, &err), 0);
    double num = 0, den = 0;
    for (size_t i = 0; i < ny; i++) {
        CHECK(isfinite(y[i]));
        num += ((double)y[i] - yr[i]) * ((double)y[i] - yr[i]);
        den += (double)yr[i] * yr[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    printf("  %s: oneDNN vs reference kernels: rel L2 %.3g\n", arch, rel);
    CHECK(rel < 1e-5);
out:
    free(x);
    free(y);
    free(yr);
    cvb_engine_free(e);
    cvb_engine_free(r);
    free(buf);
    return counted;
}

static void test_yolov9t_padded_blocks(void) {
    CHECK(check_arch("yolov9t", "Conv", "[1,24,") >= 12);
}

static int count_ops(struct cvb_engine *e, const char *ops);

static void test_yolo12n_attention(void) {
    CHECK_EQ_INT(check_arch("yolo12n", "MatMul+T(A)", NULL), 8);
    CHECK_EQ_INT(check_arch("yolo12n", "MatMul+T(B)", NULL), 8);
    /* the Transposes that turn the attention's value back into NCHW write
     * the blocked layout, so the 7x7 depthwise position convs (pe) run a
     * blocked kernel: in the plain layout oneDNN only has its gemm or
     * brdgmm ones for them */
    struct cvb_synth_opts so = {.arch = "yolo12n", .imgsz = 320, .seed = 3};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    struct cvb_engine *e = buf ? load(buf, len, "yolo12n", CVB_KERNELS_ONEDNN) : NULL;
    CHECK(e != NULL);
    if (e != NULL) {
        const struct cvb_node_profile *pr;
        int np = cvb_engine_profile(e, &pr), n_pe = 0;
        for (int i = 0; i < np; i++) {
            if (strstr(pr[i].name, "attn/pe/") == NULL || strncmp(pr[i].ops, "Conv", 4) != 0)
                continue;
            n_pe++;
            if (strncmp(pr[i].kernel, "x64", 3) == 0 || strncmp(pr[i].kernel, "brdgmm", 6) == 0) {
                fprintf(stderr, "%s runs %s\n", pr[i].name, pr[i].kernel);
                CHECK(!"an attention pe conv in the plain layout");
            }
        }
        CHECK_EQ_INT(n_pe, 8);
        /* v attn^T computed as (attn v^T)^T straight into the buffer the
         * next Transpose reads (brgemm then packs v^T, not the scores) */
        CHECK_EQ_INT(count_ops(e, "MatMul+T(B)+out^T"), 8);
        CHECK_EQ_INT(count_ops(e, "Transpose+in^T"), 8);
        /* the qkv Transpose -> Reshape -> Transpose of every attention
         * block is read as one reorder */
        printf("  yolo12n: %d Transpose+Reshape\n", count_ops(e, "Transpose+Reshape"));
        CHECK(count_ops(e, "Transpose+Reshape") >= 8);
    }
    cvb_engine_free(e);
    free(buf);
}

/* A node oneDNN refuses as planned (here: every MatMul reading a folded
 * Transpose, by a test hook) is re-planned alone, unfused and plain: the
 * Transposes come back as nodes, every other fusion stays, nothing falls
 * back as a whole, and the output still matches the reference kernels. */
static int count_ops(struct cvb_engine *e, const char *ops) {
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(e, &pr), c = 0;
    for (int i = 0; i < np; i++) c += strcmp(pr[i].ops, ops) == 0;
    return c;
}

/* The graph's Transposes behind the profile: a "Transpose+Reshape" node
 * does two (a composed Transpose -> Reshape -> Transpose chain). */
static int graph_transposes(struct cvb_engine *e) {
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(e, &pr), c = 0;
    for (int i = 0; i < np; i++)
        if (strncmp(pr[i].ops, "Transpose", 9) == 0)
            c += strstr(pr[i].ops, "+Reshape") != NULL ? 2 : 1;
    return c;
}

static void test_node_retreat(void) {
    struct cvb_synth_opts so = {.arch = "yolo12n", .imgsz = 320, .seed = 3};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    if (buf == NULL) return;
    struct cvb_engine *fused = load(buf, len, "yolo12n", CVB_KERNELS_ONEDNN);
    cvb__dnn_test_refuse_matmul_trans(true);
    struct cvb_engine *retreat = load(buf, len, "yolo12n", CVB_KERNELS_ONEDNN);
    cvb__dnn_test_refuse_matmul_trans(false);
    CHECK(fused != NULL && retreat != NULL);
    if (fused != NULL && retreat != NULL) {
        int conv_silu = count_ops(fused, "Conv+SiLU");
        printf("  refused folds: MatMul %d (fused plan %d), Transpose %d (%d), Conv+SiLU %d (%d)\n",
               count_ops(retreat, "MatMul"), count_ops(fused, "MatMul"),
               graph_transposes(retreat), graph_transposes(fused),
               count_ops(retreat, "Conv+SiLU"), conv_silu);
        CHECK_EQ_INT(count_ops(retreat, "MatMul+T(A)") + count_ops(retreat, "MatMul+T(B)") +
                         count_ops(retreat, "MatMul+T(B)+out^T") +
                         count_ops(retreat, "Transpose+in^T"),
                     0);
        CHECK_EQ_INT(count_ops(retreat, "MatMul"), 16);
        CHECK_EQ_INT(graph_transposes(retreat), graph_transposes(fused) + 16);
        CHECK(conv_silu > 0);
        CHECK_EQ_INT(count_ops(retreat, "Conv+SiLU"), conv_silu); /* not the plain path */
        struct cvb_tensor_info in, out;
        CHECK_EQ_INT(cvb_engine_input_info(fused, 0, &in), 0);
        CHECK_EQ_INT(cvb_engine_output_info(fused, 0, &out), 0);
        float *x = malloc(in.bytes), *y0 = malloc(out.bytes), *y1 = malloc(out.bytes);
        if (x != NULL && y0 != NULL && y1 != NULL) {
            for (size_t i = 0; i < in.bytes / sizeof(float); i++) x[i] = (float)(i % 97) / 97.f;
            const void *ins[1] = {x};
            void *o0[1] = {y0}, *o1[1] = {y1};
            CHECK_EQ_INT(cvb_engine_run(fused, ins, o0, &err), 0);
            CHECK_EQ_INT(cvb_engine_run(retreat, ins, o1, &err), 0);
            double num = 0, den = 0;
            for (size_t i = 0; i < out.bytes / sizeof(float); i++) {
                num += ((double)y0[i] - y1[i]) * ((double)y0[i] - y1[i]);
                den += (double)y0[i] * y0[i];
            }
            double rel = den > 0 ? sqrt(num / den) : sqrt(num);
            printf("  retreat vs fused plan: rel L2 %.3g\n", rel);
            CHECK(rel < 1e-5);
        }
        free(x);
        free(y0);
        free(y1);
    }
    cvb_engine_free(fused);
    cvb_engine_free(retreat);
    free(buf);
}

int main(void) {
    RUN(test_yolov9t_padded_blocks);
    RUN(test_node_retreat);
    RUN(test_yolo12n_attention);
    return test_summary();
}
