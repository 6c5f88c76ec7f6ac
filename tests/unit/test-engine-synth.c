/* SPDX-License-Identifier: Apache-2.0 */
/* Model synthesis: each architecture's graph matches Ultralytics' export
 * (op histogram, fused parameter count, GFLOPs, output shape), loads in the
 * engine, is calibrated (class bias: a handful of anchors above 0.25 over
 * the calibration inputs; attention logits in a trained model's range) and
 * is deterministic in its seed. Expected figures come from Ultralytics
 * 8.4.190's own ONNX export of each YAML (opset 17, simplified, static) via
 * `cvbench model info` (tests/integration/export_u84.py makes them; node for
 * node: tests/integration/synth_vs_export.py). */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>

struct expect {
    const char *arch;
    int64_t fused_params;  /* Ultralytics "summary (fused)" */
    double published_m;   /* published parameter count, millions */
    double gflops_640;    /* published GFLOPs at 640 */
    int n_nodes;
    const char *hist;     /* "Op:count ..." */
};

/* yolov8n and yolov8s differ in width only */
#define V8_HIST                                                                                  \
    "Conv:64 Mul:58 Sigmoid:58 Concat:17 Add:8 Reshape:8 Split:8 MaxPool:3 Resize:2 Slice:2 "    \
    "Sub:2 Div:1 Softmax:1 Transpose:1"

static const struct expect expects[] = {
    /* 8.4's head: box and class maps reshaped apart and concatenated
     * apart, dist2bbox's chunk as two Slices; parameters as in Ultralytics'
     * fused summary, which the real exports' `model info` also counts */
    {"yolov8n", 3151904, 3.151904, 8.7, 233, V8_HIST},
    {"yolov8s", 11156544, 11.2, 28.6, 233, V8_HIST},
    {"yolov5nu", 2649200, 2.6, 7.7, 262,
     "Conv:76 Mul:70 Sigmoid:70 Concat:17 Add:9 Reshape:8 MaxPool:3 Resize:2 Slice:2 Sub:2 "
     "Div:1 Softmax:1 Transpose:1"},
    {"yolo11n", 2616248, 2.6, 6.5, 320,
     "Conv:88 Mul:79 Sigmoid:78 Concat:21 Add:16 Reshape:11 Split:10 MaxPool:3 Transpose:3 "
     "MatMul:2 Resize:2 Slice:2 Softmax:2 Sub:2 Div:1"},
    /* published figures (2.0 M, 7.7 GFLOPs) count the unfused RepConvs
     * differently */
    {"yolov9t", 2094000, 2.094, 8.23, 662,
     "Conv:186 Sigmoid:180 Mul:180 Add:44 Concat:31 Slice:18 Reshape:8 AveragePool:5 "
     "MaxPool:3 Resize:2 Sub:2 Transpose:1 Softmax:1 Div:1"},
    /* from Ultralytics 8.4.190's export (nms=None: the one-to-many head)
     * via `cvbench model info`; published: 2.3 M, 6.7 GFLOPs */
    {"yolov10n", 2299264, 2.3, 6.7, 292,
     "Conv:83 Mul:71 Sigmoid:70 Concat:18 Add:12 Reshape:11 Split:10 MaxPool:3 Transpose:3 "
     "MatMul:2 Softmax:2 Resize:2 Slice:2 Sub:2 Div:1"},
    /* the same for YOLO12n: 2,590,824 parameters and 7.47 GFLOPs at 640 in
     * `cvbench model info` of the real export; its area attention's MatMuls
     * grow with the square of the positions, so 4 x the 320 figure is 6.72 */
    {"yolo12n", 2590824, 2.59, 6.72, 484,
     "Conv:120 Mul:90 Sigmoid:82 Transpose:57 Add:36 Reshape:36 Concat:20 MatMul:16 Split:11 "
     "Softmax:9 Resize:2 Slice:2 Sub:2 Div:1"},
    /* likewise (the yaml's 2.57 M / 6.1 GFLOPs count both heads, unfused) */
    {"yolo26n", 2408932, 2.409, 5.48, 368,
     "Conv:102 Mul:90 Sigmoid:88 Concat:23 Add:22 Reshape:12 Split:11 MatMul:4 Transpose:4 "
     "MaxPool:3 Resize:2 Softmax:2 Slice:2 Sub:2 Div:1"},
};

static int hist_count(const struct cvb_synth_stats *st, const char *op) {
    for (int i = 0; i < st->n_ops; i++)
        if (strcmp(st->op_names[i], op) == 0) return st->op_counts[i];
    return 0;
}

static void check_hist(const struct cvb_synth_stats *st, const char *hist) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", hist);
    int n_listed = 0;
    for (char *tok = strtok(buf, " "); tok != NULL; tok = strtok(NULL, " ")) {
        char *colon = strchr(tok, ':');
        *colon = '\0';
        int want = atoi(colon + 1), got = hist_count(st, tok);
        if (got != want) fprintf(stderr, "  op %s: %d, expected %d\n", tok, got, want);
        CHECK_EQ_INT(got, want);
        n_listed++;
    }
    CHECK_EQ_INT(st->n_ops, n_listed);
}

/* The attention logits (after the kd^-0.5 scale) of YOLO11, YOLOv10, YOLO12
 * and YOLO26 have the spread of a trained model's (std at most ~3), not the
 * hundreds that make Softmax amplify rounding differences between kernel
 * sets. The scaled logits are the output of node ".../attn/MatMul" (8.4
 * scales q before it). */
struct attn_seen {
    const char *op, *tail; /* the node giving the scaled logits */
    int n;
    double sd_min, sd_max;
};

static void attn_observer(void *user, const char *node, const char *op, float *data, int ndim,
                          const int64_t *dims) {
    struct attn_seen *a = user;
    size_t nl = strlen(node), tl = strlen(a->tail);
    if (strcmp(op, a->op) != 0 || nl < tl || strcmp(node + nl - tl, a->tail) != 0) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += data[i];
        sq += (double)data[i] * data[i];
    }
    double sd = sqrt(fmax(sq / n - (sum / n) * (sum / n), 0));
    a->sd_min = a->n == 0 || sd < a->sd_min ? sd : a->sd_min;
    a->sd_max = a->n == 0 || sd > a->sd_max ? sd : a->sd_max;
    a->n++;
}

static void check_attention(struct cvb_engine *e, const char *arch, int n_blocks) {
    static float img[3 * 320 * 320];
    static float out[84 * 2100];
    struct attn_seen a = {.op = "MatMul", .tail = "/attn/MatMul"};
    struct cvb_err err = {0};
    cvb_synth_calib_image(320, img);
    cvb_engine_set_observer(e, attn_observer, &a);
    const void *ins[1] = {img};
    void *outs[1] = {out};
    CHECK_EQ_INT(cvb_engine_run(e, ins, outs, &err), 0);
    cvb_engine_set_observer(e, NULL, NULL);
    printf("  %s attention: %d blocks, scaled logit std %.2f..%.2f\n", arch, a.n, a.sd_min,
           a.sd_max);
    CHECK_EQ_INT(a.n, n_blocks);
    /* at most 3 on the calibration inputs, where the mosaic is among the
     * quietest; not collapsed to a constant either. Uniform noise drives
     * yolo26n's P5 block (model.22, deep in the neck, where the random
     * network's activations on noise are ~8x the mosaic's) to ~150x the
     * mosaic's logit std, and temper_attention() caps every input's at 3:
     * its mosaic logits are then ~0.015 (near-uniform attention) */
    CHECK(a.sd_min > (strcmp(arch, "yolo26n") == 0 ? 0.005 : 0.02) && a.sd_max < 3.5);
}

static void test_archs(void) {
    char dir[] = "/tmp/cvb-synth-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    for (size_t i = 0; i < CVB_ARRAY_LEN(expects); i++) {
        const struct expect *x = &expects[i];
        char path[128];
        snprintf(path, sizeof path, "%s/%s.onnx", dir, x->arch);
        struct cvb_synth_opts o = {.arch = x->arch, .imgsz = 320, .seed = 7};
        struct cvb_synth_stats st;
        struct cvb_err err = {0};
        int rc = cvb_synth_model(&o, path, &st, &err);
        if (rc < 0) fprintf(stderr, "  %s: %s\n", x->arch, err.msg);
        CHECK_EQ_INT(rc, 0);
        if (rc < 0) continue;
        printf("  %-9s %lld params, %.3f GFLOPs at 320 (x4 = %.2f at 640), %d nodes, "
               "anchors > 0.25 on %d calibration inputs: median %d max %d, act std "
               "%.2f..%.2f, calib %.0f ms\n",
               x->arch, (long long)st.n_params, st.gflops, 4 * st.gflops, st.n_nodes,
               st.calib_n_inputs, st.calib_hits_median, st.calib_hits_max,
               st.calib_act_std_min, st.calib_act_std_max, st.calib_ms);
        CHECK_EQ_INT(st.n_params, x->fused_params);
        CHECK(fabs(st.n_params / 1e6 - x->published_m) <= 0.02 * x->published_m);
        /* GFLOPs scale with the square of the side, but for attention's
         * MatMuls (YOLO11), which grow faster and are < 1 % of the total */
        CHECK(fabs(4 * st.gflops - x->gflops_640) <= 0.02 * x->gflops_640);
        CHECK_EQ_INT(st.n_nodes, x->n_nodes);
        CHECK_EQ_INT(st.n_anchors, 2100);
        check_hist(&st, x->hist);
        /* the class bias: some calibration input has hits, none has more
         * than the cap, the median no more than its target */
        CHECK(st.calib_n_inputs >= 3);
        CHECK(st.calib_hits_max > 0 && st.calib_hits_max <= CVB_SYNTH_HITS_MAX);
        CHECK(st.calib_hits_median <= CVB_SYNTH_HITS_MEDIAN);
        CHECK(st.calib_act_std_min > 0.3f && st.calib_act_std_max < 3.0f);

        struct cvb_engine *e = NULL;
        struct cvb_engine_opts eo = {.kernels = CVB_KERNELS_REF};
        rc = cvb_engine_load(path, &eo, &e, &err);
        if (rc < 0) fprintf(stderr, "  load %s: %s\n", path, err.msg);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            struct cvb_tensor_info ii, oi;
            CHECK_EQ_INT(cvb_engine_n_inputs(e), 1);
            CHECK_EQ_INT(cvb_engine_n_outputs(e), 1);
            cvb_engine_input_info(e, 0, &ii);
            cvb_engine_output_info(e, 0, &oi);
            CHECK(strcmp(ii.name, "images") == 0);
            CHECK_EQ_INT(ii.ndim, 4);
            CHECK_EQ_INT(ii.dims[2], 320);
            CHECK(strcmp(oi.name, "output0") == 0);
            CHECK_EQ_INT(oi.ndim, 3);
            CHECK_EQ_INT(oi.dims[0], 1);
            CHECK_EQ_INT(oi.dims[1], 84);
            CHECK_EQ_INT(oi.dims[2], 2100);
            struct cvb_model_info mi;
            cvb_engine_model_info(e, &mi);
            CHECK(mi.synthetic);
            CHECK_EQ_INT(mi.n_nodes, x->n_nodes);
            if (strcmp(x->arch, "yolo11n") == 0 || strcmp(x->arch, "yolov10n") == 0)
                check_attention(e, x->arch, 1);
            if (strcmp(x->arch, "yolo12n") == 0) check_attention(e, x->arch, 8);
            if (strcmp(x->arch, "yolo26n") == 0) check_attention(e, x->arch, 2);
            cvb_engine_free(e);
        }
        unlink(path);
    }
    rmdir(dir);
}

/* The model in buf[0..len) ('what') loads with output0 [1, 300, 6]. */
static void check_rows_300(const void *buf, size_t len, const char *what) {
    struct cvb_engine *e = NULL;
    struct cvb_engine_opts eo = {.kernels = CVB_KERNELS_REF};
    struct cvb_err err = {0};
    int rc = buf != NULL ? cvb_engine_load_buffer(buf, len, what, &eo, &e, &err) : -1;
    if (rc < 0) fprintf(stderr, "  load %s: %s\n", what, err.msg);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) return;
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e, 0, &oi);
    CHECK_EQ_INT(oi.ndim, 3);
    CHECK_EQ_INT(oi.dims[1], 300);
    CHECK_EQ_INT(oi.dims[2], 6);
    cvb_engine_free(e);
}

/* yolo26n --end2end: its own head (the one2one_ branches, 8.4's names) with
 * the plain model's weights, the 19-node tail, output0 [1, 300, 6]. */
static void test_yolo26n_end2end(void) {
    struct cvb_synth_opts o = {.arch = "yolo26n", .imgsz = 320, .seed = 7, .end2end = true};
    struct cvb_synth_stats st;
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    int rc = cvb_synth_model_buffer(&o, &buf, &len, &st, &err);
    if (rc < 0) fprintf(stderr, "  yolo26n --end2end: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) return;
    CHECK_EQ_INT(st.n_nodes, 384);
    CHECK_EQ_INT(st.n_params, 2408932);
    CHECK_EQ_INT(st.e2e_rows, 300);
    check_hist(&st, "Conv:102 Mul:90 Sigmoid:88 Concat:24 Add:21 Reshape:12 Split:12 MatMul:4 "
                    "Transpose:5 Unsqueeze:4 GatherElements:3 MaxPool:3 Resize:2 Softmax:2 "
                    "Slice:2 TopK:2 Expand:2 Sub:1 Div:1 Mod:1 Cast:1 Flatten:1 ReduceMax:1");
    /* the one-to-one branches by the exporter's names */
    static const char needle[] = "/model.23/one2one_cv3.2/one2one_cv3.2.2/Conv";
    bool found = false;
    for (size_t i = 0; i + sizeof needle - 1 <= len && !found; i++)
        found = memcmp((const char *)buf + i, needle, sizeof needle - 1) == 0;
    CHECK(found);
    check_rows_300(buf, len, "yolo26n --end2end");
    free(buf);
}

static void test_deterministic(void) {
    struct cvb_synth_opts o = {.arch = "yolov8n", .imgsz = 128, .seed = 42};
    void *a = NULL, *b = NULL, *c = NULL;
    size_t la = 0, lb = 0, lc = 0;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &a, &la, NULL, &err), 0);
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &b, &lb, NULL, &err), 0);
    o.seed = 43;
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &c, &lc, NULL, &err), 0);
    CHECK(la > 0 && la == lb && memcmp(a, b, la) == 0);
    CHECK(la != lc || memcmp(a, c, la) != 0);
    free(a);
    free(b);
    free(c);
}


/* yolov10n --end2end: the exported one-to-one head (308 nodes, as 8.4.190's
 * nms=False export), whose convs take the calibrated one-to-many convs'
 * weights; deterministic, and loads with output0 [1, K, 6]. */
static void test_v10_end2end(void) {
    struct cvb_synth_opts o = {.arch = "yolov10n", .imgsz = 128, .seed = 5, .end2end = true};
    struct cvb_synth_stats st;
    void *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    struct cvb_err err = {0};
    int rc = cvb_synth_model_buffer(&o, &a, &la, &st, &err);
    if (rc < 0) fprintf(stderr, "  yolov10n --end2end: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &b, &lb, NULL, &err), 0);
    CHECK(la > 0 && la == lb && memcmp(a, b, la) == 0);
    CHECK_EQ_INT(st.n_nodes, 308);
    CHECK_EQ_INT(st.n_params, 2299264);
    CHECK_EQ_INT(st.n_anchors, 336);
    CHECK_EQ_INT(st.e2e_rows, 300);
    check_hist(&st, "Conv:83 Mul:71 Sigmoid:70 Concat:19 Split:11 Add:11 Reshape:11 "
                    "Transpose:4 Unsqueeze:4 MaxPool:3 GatherElements:3 MatMul:2 Softmax:2 "
                    "Resize:2 Slice:2 TopK:2 Expand:2 Sub:1 ReduceMax:1 Flatten:1 Mod:1 Div:1 "
                    "Cast:1");
    check_rows_300(a, la, "yolov10n --end2end");
    free(a);
    free(b);
}

/* The other heads on 8.4's Detect: yolov8n --nms has the op histogram of
 * Ultralytics 8.4.190's nms=True export (283 nodes; its Detect part node
 * for node, synth_vs_export.py --strip-model-scope --prefix /model.), and
 * yolo11n --end2end corner boxes and the top-K tail (336 nodes); both load
 * with output0 [1, 300, 6]. */
static void test_heads(void) {
    static const struct {
        const char *arch;
        bool nms;
        int n_nodes;
        const char *hist;
    } heads[] = {
        {"yolov8n", true, 283,
         "Conv:64 Mul:61 Sigmoid:58 Concat:20 Reshape:15 Gather:9 Add:8 Split:8 Slice:7 "
         "Unsqueeze:4 GatherND:3 MaxPool:3 Transpose:3 Cast:2 Resize:2 Shape:2 Sub:2 ArgMax:1 "
         "Div:1 Expand:1 Greater:1 NonMaxSuppression:1 NonZero:1 Pad:1 ReduceMax:1 ScatterND:1 "
         "Softmax:1 Squeeze:1 Where:1"},
        {"yolo11n", false, 336,
         "Conv:88 Mul:79 Sigmoid:78 Concat:22 Add:15 Reshape:11 Split:11 Transpose:4 "
         "Unsqueeze:4 GatherElements:3 MaxPool:3 Expand:2 MatMul:2 Resize:2 Slice:2 Softmax:2 "
         "TopK:2 Cast:1 Div:1 Flatten:1 Mod:1 ReduceMax:1 Sub:1"},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(heads); i++) {
        struct cvb_synth_opts o = {.arch = heads[i].arch, .imgsz = 128, .seed = 3,
                                   .end2end = !heads[i].nms, .nms = heads[i].nms};
        struct cvb_synth_stats st;
        void *a = NULL;
        size_t la = 0;
        struct cvb_err err = {0};
        int rc = cvb_synth_model_buffer(&o, &a, &la, &st, &err);
        if (rc < 0) fprintf(stderr, "  %s: %s\n", heads[i].arch, err.msg);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(st.n_nodes, heads[i].n_nodes);
        check_hist(&st, heads[i].hist);
        check_rows_300(a, la, heads[i].arch);
        free(a);
    }
}

static void test_bad_options(void) {
    struct cvb_err err = {0};
    struct cvb_synth_opts o = {.arch = "yolov9000", .imgsz = 320};
    void *buf = NULL;
    size_t len = 0;
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &buf, &len, NULL, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "yolov9000") != NULL);
    CHECK(buf == NULL);
    o.arch = "yolov8n";
    o.imgsz = 100;
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &buf, &len, NULL, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "100") != NULL);
    o.imgsz = 64;
    o.opset = 12;
    CHECK_EQ_INT(cvb_synth_model_buffer(&o, &buf, &len, NULL, &err), CVB_EUNSUPPORTED);
    o.opset = 0;
    o.no_calib = true;
    CHECK_EQ_INT(cvb_synth_model(&o, "/nonexistent-dir/x.onnx", NULL, &err), CVB_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.onnx") != NULL);
}

static void test_calib_image(void) {
    enum { S = 96 };
    static float img[3 * S * S];
    cvb_synth_calib_image(S, img);
    float lo = 1, hi = 0;
    for (int i = 0; i < 3 * S * S; i++) {
        lo = img[i] < lo ? img[i] : lo;
        hi = img[i] > hi ? img[i] : hi;
    }
    CHECK(lo >= 0.0f && hi <= 1.0f && hi - lo > 0.5f);
}

int main(void) {
    RUN(test_calib_image);
    RUN(test_bad_options);
    RUN(test_deterministic);
    RUN(test_archs);
    RUN(test_v10_end2end);
    RUN(test_yolo26n_end2end);
    RUN(test_heads);
    return test_summary();
}
