/* SPDX-License-Identifier: Apache-2.0 */
/* Batched engine: each item of a batch-N run equals the same frame run alone
 * at batch 1 (same kernels, precision and input format) within 1e-5
 * relative L2 over every output.
 *
 * Models: synthetic yolov8n and yolo11n (C2PSA attention: batched MatMul,
 * Reshape/Transpose on the batch) at 320. Per model, batch 2 and 4 (and 8
 * for yolov8n) against batch 1, each item a different procedural frame, on:
 * fp32 oneDNN and reference kernels with float32 NCHW input; fp32 oneDNN
 * with uint8 NHWC input; bf16 (where the CPU has avx512_bf16 or amx_bf16)
 * and int8 (calibrated on procedural frames) with uint8 and float32 input.
 * The batch-N plan has as many low-precision convs as the batch-1 plan.
 * Measured: every item bitwise equal to its batch-1 run (rel-L2 0). The ISA cap
 * is process-wide: avx2 and avx512_vnni each run in a child process
 * (fp32 and int8, both input formats, batch 2/4; CVB_TEST_ISA=... runs
 * the whole file, bf16 included, under one cap).
 * One-node models: Transpose moving axis 0, Flatten at axis 0, Reshape to
 * [-1], Softmax and Gather on axis 0, Squeeze without axes load at batch 1
 * and are refused at batch 2 (CVB_EUNSUPPORTED naming the node); a Reshape
 * to [1,4,-1] is rewritten to [N,4,-1] and each item equals its batch-1 run.
 * Also: every output's dim 0 is the batch, u8 input info is [N,S,S,3], a
 * bad batch is CVB_EINVAL, and a model at batch 2 reports twice the
 * activation bytes' input. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "onnx.pb-c.h"
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { S = 320, N_CALIB = 8, MAX_OUT = 8 };

static const char *isa;
static double worst;

struct cfg {
    const char *name;
    enum cvb_kernels kernels;
    enum cvb_precision prec;
    enum cvb_input_format fmt;
};

static struct cvb_engine *load(const char *model, const struct cfg *c, const char *calib,
                               int batch) {
    struct cvb_engine_opts o = {.kernels = c->kernels, .threads = 0, .input_format = c->fmt,
                                .precision = c->prec, .calib = calib, .isa = isa,
                                .batch = batch};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    if (cvb_engine_load(model, &o, &e, &err) < 0)
        fprintf(stderr, "load %s %s batch %d: %s\n", model, c->name, batch, err.msg);
    return e;
}

/* Frame i as the engine wants it (u8 NHWC or f32 NCHW /255) into dst. */
static void frame(const struct cfg *c, int i, void *dst) {
    uint8_t *f = malloc((size_t)S * S * 3);
    cvb_calib_procedural_frame(S, 1000u + (uint64_t)i * 7u, f);
    if (c->fmt == CVB_INPUT_U8_NHWC) {
        memcpy(dst, f, (size_t)S * S * 3);
    } else {
        float *d = dst;
        for (int p = 0; p < S * S; p++)
            for (int k = 0; k < 3; k++) d[(size_t)k * S * S + p] = (float)f[p * 3 + k] / 255.f;
    }
    free(f);
}

static void check_batch(const char *model, const struct cfg *c, const char *calib,
                        int batch) {
    struct cvb_engine *e1 = load(model, c, calib, 1), *en = load(model, c, calib, batch);
    CHECK(e1 != NULL && en != NULL);
    if (e1 == NULL || en == NULL) goto out_free;
    int nout = cvb_engine_n_outputs(e1);
    CHECK(nout >= 1 && nout <= MAX_OUT && cvb_engine_n_outputs(en) == nout);
    struct cvb_tensor_info ii1, iin;
    cvb_engine_input_info(e1, 0, &ii1);
    cvb_engine_input_info(en, 0, &iin);
    CHECK_EQ_INT(iin.dims[0], batch);
    CHECK_EQ_INT(iin.bytes, ii1.bytes * (size_t)batch);
    if (c->fmt == CVB_INPUT_U8_NHWC) CHECK(iin.dims[3] == 3 && strcmp(iin.dtype, "uint8") == 0);
    size_t item_in = ii1.bytes;
    uint8_t *in = malloc(item_in * (size_t)batch);
    void *outs1[MAX_OUT] = {0}, *outsn[MAX_OUT] = {0};
    size_t item_out[MAX_OUT];
    for (int k = 0; k < nout; k++) {
        struct cvb_tensor_info o1, on;
        cvb_engine_output_info(e1, k, &o1);
        cvb_engine_output_info(en, k, &on);
        CHECK_EQ_INT(on.dims[0], batch);
        CHECK_EQ_INT(on.bytes, o1.bytes * (size_t)batch);
        CHECK(strcmp(o1.dtype, "float32") == 0);
        item_out[k] = o1.bytes;
        outs1[k] = malloc(o1.bytes);
        outsn[k] = malloc(o1.bytes * (size_t)batch);
    }
    for (int b = 0; b < batch; b++) frame(c, b, in + item_in * (size_t)b);
    struct cvb_err err = {0};
    const void *inn[1] = {in};
    int rc = cvb_engine_run(en, inn, outsn, &err);
    if (rc < 0) fprintf(stderr, "run batch %d: %s\n", batch, err.msg);
    CHECK(rc == 0);
    /* the same convs run at low precision (batch N may have more oneDNN
     * nodes: Concats copy where batch 1 has views) */
    CHECK_EQ_INT(cvb_engine_n_lowp_convs(en), cvb_engine_n_lowp_convs(e1));
    double tol = 1e-5;
    double w = 0;
    for (int b = 0; rc == 0 && b < batch; b++) {
        const void *in1[1] = {in + item_in * (size_t)b};
        rc = cvb_engine_run(e1, in1, outs1, &err);
        CHECK(rc == 0);
        double num = 0, den = 0;
        for (int k = 0; rc == 0 && k < nout; k++) {
            const float *a = outs1[k];
            const float *x = (const float *)((uint8_t *)outsn[k] + item_out[k] * (size_t)b);
            for (size_t j = 0; j < item_out[k] / sizeof(float); j++) {
                double d = (double)x[j] - (double)a[j];
                num += d * d;
                den += (double)a[j] * a[j];
            }
        }
        double rel = sqrt(num / (den > 0 ? den : 1));
        if (!(rel <= tol))
            fprintf(stderr, "%s %s batch %d item %d: rel-L2 %.3g\n", model, c->name, batch, b,
                    rel);
        CHECK(rel <= tol);
        if (rel > w || rel != rel) w = rel;
    }
    printf("  %-28s batch %d: worst item rel-L2 %.3g\n", c->name, batch, w);
    if (w > worst) worst = w;
    free(in);
    for (int k = 0; k < nout; k++) {
        free(outs1[k]);
        free(outsn[k]);
    }
out_free:
    cvb_engine_free(e1);
    cvb_engine_free(en);
}

static char v8_path[64] = "/tmp/cvb-batch-v8-XXXXXX";
static char v11_path[64] = "/tmp/cvb-batch-v11-XXXXXX";
static char calib8_path[64] = "/tmp/cvb-batch-c8-XXXXXX";
static char calib11_path[64] = "/tmp/cvb-batch-c11-XXXXXX";
static bool have_bf16;

static int make(const char *arch, char *path, char *calib) {
    struct cvb_synth_opts so = {.arch = arch, .imgsz = S, .seed = 11};
    struct cvb_err err = {0};
    struct cvb_calib *c = NULL;
    int rc = cvb_synth_model(&so, path, NULL, &err);
    if (rc == 0) rc = cvb_calib_new(path, 0, 0, &c, &err);
    uint8_t *f = malloc((size_t)S * S * 3);
    for (int i = 0; rc == 0 && i < N_CALIB; i++) {
        cvb_calib_procedural_frame(S, (uint64_t)i, f);
        rc = cvb_calib_add_frame(c, f, &err);
    }
    if (rc == 0) rc = cvb_calib_save(c, calib, &err);
    free(f);
    cvb_calib_free(c);
    if (rc < 0) fprintf(stderr, "%s: %s\n", arch, err.msg);
    return rc;
}

static void run_model(const char *model, const char *calib, int max_batch) {
    static const struct cfg cfgs[] = {
        {"fp32 onednn f32-nchw", CVB_KERNELS_ONEDNN, CVB_PRECISION_FP32, CVB_INPUT_F32_NCHW},
        {"fp32 onednn u8-nhwc", CVB_KERNELS_ONEDNN, CVB_PRECISION_FP32, CVB_INPUT_U8_NHWC},
        {"fp32 ref f32-nchw", CVB_KERNELS_REF, CVB_PRECISION_FP32, CVB_INPUT_F32_NCHW},
        {"fp32 ref u8-nhwc", CVB_KERNELS_REF, CVB_PRECISION_FP32, CVB_INPUT_U8_NHWC},
        {"int8 onednn u8-nhwc", CVB_KERNELS_ONEDNN, CVB_PRECISION_INT8, CVB_INPUT_U8_NHWC},
        {"int8 onednn f32-nchw", CVB_KERNELS_ONEDNN, CVB_PRECISION_INT8, CVB_INPUT_F32_NCHW},
        {"bf16 onednn u8-nhwc", CVB_KERNELS_ONEDNN, CVB_PRECISION_BF16, CVB_INPUT_U8_NHWC},
    };
    printf("%s\n", model);
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        if (cfgs[i].prec == CVB_PRECISION_BF16 && !have_bf16) {
            printf("  %s: skipped (the CPU has no avx512_bf16/amx_bf16)\n", cfgs[i].name);
            continue;
        }
        for (int b = 2; b <= max_batch; b *= 2) {
            /* the reference kernels are slow: batch 2 is enough for them */
            if (cfgs[i].kernels == CVB_KERNELS_REF && b > 2) break;
            check_batch(model, &cfgs[i], calib, b);
        }
    }
}

static void test_yolov8n(void) { run_model(v8_path, calib8_path, 8); }
static void test_yolo11n(void) { run_model(v11_path, calib11_path, 4); }

static void test_bad_batch(void) {
    struct cvb_engine_opts o = {.batch = -1};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    CHECK(cvb_engine_load(v8_path, &o, &e, &err) == CVB_EINVAL && e == NULL);
    CHECK(strstr(err.msg, "batch") != NULL);
    o.batch = CVB_ENGINE_MAX_BATCH + 1;
    CHECK(cvb_engine_load(v8_path, &o, &e, &err) == CVB_EINVAL && e == NULL);
}

/* ---- one-node models: what batch N refuses ----------------------------------
 * x float32 [1,4,8,8] -> op (attrs, an optional int64 initializer 's') -> y. */
static void *one_node(const char *op, const char *attr, const int64_t *av, int an,
                      const int64_t *sv, int sn, size_t *len) {
    Onnx__TensorShapeProto__Dimension d[4], *dp[4];
    int64_t xd[4] = {1, 4, 8, 8};
    for (int k = 0; k < 4; k++) {
        onnx__tensor_shape_proto__dimension__init(&d[k]);
        d[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d[k].dim_value = xd[k];
        dp[k] = &d[k];
    }
    Onnx__TensorShapeProto shp;
    onnx__tensor_shape_proto__init(&shp);
    shp.n_dim = 4;
    shp.dim = dp;
    Onnx__TypeProto__Tensor tt_x, tt_y;
    onnx__type_proto__tensor__init(&tt_x);
    onnx__type_proto__tensor__init(&tt_y);
    tt_x.has_elem_type = tt_y.has_elem_type = 1;
    tt_x.elem_type = tt_y.elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt_x.shape = &shp;
    Onnx__TypeProto tp_x, tp_y;
    onnx__type_proto__init(&tp_x);
    onnx__type_proto__init(&tp_y);
    tp_x.value_case = tp_y.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp_x.tensor_type = &tt_x;
    tp_y.tensor_type = &tt_y;
    Onnx__ValueInfoProto vx, vy, *vxp = &vx, *vyp = &vy;
    onnx__value_info_proto__init(&vx);
    onnx__value_info_proto__init(&vy);
    vx.name = (char *)"x";
    vx.type = &tp_x;
    vy.name = (char *)"y";
    vy.type = &tp_y;
    Onnx__AttributeProto a, *ap = &a;
    onnx__attribute_proto__init(&a);
    a.name = (char *)attr;
    a.has_type = 1;
    if (an == 1 && strcmp(attr, "perm") != 0) {
        a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a.has_i = 1;
        a.i = av[0];
    } else {
        a.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        a.n_ints = (size_t)an;
        a.ints = (int64_t *)av;
    }
    Onnx__TensorProto st, *stp = &st;
    int64_t sdim = sn;
    onnx__tensor_proto__init(&st);
    st.name = (char *)"s";
    st.has_data_type = 1;
    st.data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    st.n_dims = 1;
    st.dims = &sdim;
    st.n_int64_data = (size_t)sn;
    st.int64_data = (int64_t *)sv;
    char *ins[2] = {(char *)"x", (char *)"s"}, *outs[1] = {(char *)"y"};
    Onnx__NodeProto nd, *ndp = &nd;
    onnx__node_proto__init(&nd);
    nd.name = (char *)"the_node";
    nd.op_type = (char *)op;
    nd.n_input = sn > 0 ? 2 : 1;
    nd.input = ins;
    nd.n_output = 1;
    nd.output = outs;
    nd.n_attribute = an > 0 ? 1 : 0;
    nd.attribute = &ap;
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)"g";
    g.n_node = 1;
    g.node = &ndp;
    g.n_initializer = sn > 0 ? 1 : 0;
    g.initializer = &stp;
    g.n_input = 1;
    g.input = &vxp;
    g.n_output = 1;
    g.output = &vyp;
    Onnx__OperatorSetIdProto os, *osp = &os;
    onnx__operator_set_id_proto__init(&os);
    os.domain = (char *)"";
    os.has_version = 1;
    os.version = 17;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.graph = &g;
    m.opset_import = &osp;
    m.n_opset_import = 1;
    m.ir_version = 8; /* what opset-17 exporters write */
    m.has_ir_version = 1;
    *len = onnx__model_proto__get_packed_size(&m);
    void *buf = malloc(*len);
    if (buf != NULL) onnx__model_proto__pack(&m, buf);
    return buf;
}

static int load_one(const char *op, const char *attr, const int64_t *av, int an,
                    const int64_t *sv, int sn, int batch, struct cvb_engine **e,
                    struct cvb_err *err) {
    size_t len = 0;
    void *buf = one_node(op, attr, av, an, sv, sn, &len);
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_REF, .batch = batch};
    int rc = buf == NULL ? CVB_ENOMEM : cvb_engine_load_buffer(buf, len, op, &o, e, err);
    free(buf);
    return rc;
}

static void test_refused(void) {
    static const int64_t perm[4] = {1, 0, 2, 3}, zero[1] = {0}, minus1[1] = {-1};
    static const struct {
        const char *op, *attr;
        const int64_t *av;
        int an;
        const int64_t *sv;
        int sn;
    } cases[] = {
        {"Transpose", "perm", perm, 4, NULL, 0}, /* moves the batch axis */
        {"Flatten", "axis", zero, 1, NULL, 0},   /* flattens it */
        {"Reshape", "", NULL, 0, minus1, 1},     /* merges the items */
        {"Softmax", "axis", zero, 1, NULL, 0},   /* across the items */
        {"Squeeze", "", NULL, 0, NULL, 0},       /* batch-1 meaning differs */
        {"Gather", "axis", zero, 1, zero, 1},    /* picks items */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cvb_engine *e = NULL;
        struct cvb_err err = {0};
        /* loads at batch 1 (control), refused at batch 2 naming the node */
        int rc1 = load_one(cases[i].op, cases[i].attr, cases[i].av, cases[i].an, cases[i].sv,
                           cases[i].sn, 1, &e, &err);
        if (rc1 < 0) fprintf(stderr, "%s at batch 1: %s\n", cases[i].op, err.msg);
        CHECK(rc1 == 0);
        cvb_engine_free(e);
        e = NULL;
        int rc = load_one(cases[i].op, cases[i].attr, cases[i].av, cases[i].an, cases[i].sv,
                          cases[i].sn, 2, &e, &err);
        printf("  %s at batch 2: %s\n", cases[i].op, err.msg);
        CHECK(rc == CVB_EUNSUPPORTED && e == NULL);
        CHECK(strstr(err.msg, "the_node") != NULL && strstr(err.msg, "batch 2") != NULL);
        cvb_engine_free(e);
    }
}

/* A Reshape to [1,4,-1] (an exporter's static batch) is rewritten to [N,4,-1]. */
static void test_reshape_rewrite(void) {
    static const int64_t shape[3] = {1, 4, -1};
    struct cvb_engine *e1 = NULL, *e3 = NULL;
    struct cvb_err err = {0};
    CHECK(load_one("Reshape", "", NULL, 0, shape, 3, 1, &e1, &err) == 0);
    CHECK(load_one("Reshape", "", NULL, 0, shape, 3, 3, &e3, &err) == 0);
    if (e1 == NULL || e3 == NULL) {
        fprintf(stderr, "reshape: %s\n", err.msg);
        goto out;
    }
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e3, 0, &oi);
    CHECK(oi.ndim == 3 && oi.dims[0] == 3 && oi.dims[1] == 4 && oi.dims[2] == 64);
    float x[3 * 256], y[3 * 256], y1[256];
    for (int k = 0; k < 3 * 256; k++) x[k] = (float)k * 0.5f - 7.f;
    const void *in[1] = {x};
    void *out[1] = {y};
    CHECK(cvb_engine_run(e3, in, out, &err) == 0);
    for (int b = 0; b < 3; b++) {
        const void *in1[1] = {x + 256 * b};
        void *out1[1] = {y1};
        CHECK(cvb_engine_run(e1, in1, out1, &err) == 0);
        CHECK(memcmp(y1, y + 256 * b, sizeof y1) == 0);
    }
out:
    cvb_engine_free(e1);
    cvb_engine_free(e3);
}

/* ISA caps: the cap is fixed by the first engine of a process, so each cap
 * runs in a child (this executable re-run with --child-isa ISA and the
 * model/calib paths), batch 2 and 4 (yolov8n) / 2 (yolo11n), no bf16. */
static int child(char **argv) {
    isa = argv[2];
    snprintf(v8_path, sizeof v8_path, "%s", argv[3]);
    snprintf(calib8_path, sizeof calib8_path, "%s", argv[4]);
    snprintf(v11_path, sizeof v11_path, "%s", argv[5]);
    snprintf(calib11_path, sizeof calib11_path, "%s", argv[6]);
    printf("ISA cap %s\n", isa);
    run_model(v8_path, calib8_path, 4);
    run_model(v11_path, calib11_path, 2);
    printf("ISA cap %s: worst rel-L2 %.3g\n", isa, worst);
    return test_summary();
}

static void test_isa_caps(void) {
    static const char *const caps[] = {"avx2", "avx512_vnni"};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char *args[] = {(char *)"test-engine-batch", (char *)"--child-isa", (char *)caps[i],
                            v8_path, calib8_path, v11_path, calib11_path, NULL};
            execv("/proc/self/exe", args);
            _exit(127);
        }
        int st = 0;
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

int main(int argc, char **argv) {
    if (argc == 7 && strcmp(argv[1], "--child-isa") == 0) return child(argv);
    isa = getenv("CVB_TEST_ISA");
    {
        /* bf16 only where native: probe with a load that refuses emulation */
        struct cvb_engine_opts o = {.precision = CVB_PRECISION_BF16, .isa = isa};
        struct cvb_engine *e = NULL;
        struct cvb_err err = {0};
        int fd = mkstemp(v8_path);
        if (fd < 0) return test_skip("cannot create temp files");
        close(fd);
        if (make("yolov8n", v8_path, (fd = mkstemp(calib8_path), close(fd), calib8_path)) < 0)
            return 1;
        have_bf16 = cvb_engine_load(v8_path, &o, &e, &err) == 0;
        if (!have_bf16) printf("bf16 cases skipped: %s\n", err.msg);
        cvb_engine_free(e);
    }
    int fd = mkstemp(v11_path);
    close(fd);
    fd = mkstemp(calib11_path);
    close(fd);
    if (make("yolo11n", v11_path, calib11_path) < 0) return 1;
    RUN(test_bad_batch);
    RUN(test_refused);
    RUN(test_reshape_rewrite);
    RUN(test_yolov8n);
    RUN(test_yolo11n);
    RUN(test_isa_caps);
    printf("worst rel-L2 over all items: %.3g\n", worst);
    unlink(v8_path);
    unlink(v11_path);
    unlink(calib8_path);
    unlink(calib11_path);
    return test_summary();
}
