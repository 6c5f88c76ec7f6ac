/* SPDX-License-Identifier: Apache-2.0 */
/* Hand-computed cases for the reference kernels and their shape inference:
 * the ops whose semantics are easy to get subtly wrong (broadcasting, grouped
 * / strided / padded / auto-padded Conv, Resize coordinate and rounding
 * modes, Slice with negative steps, Softmax's opset-dependent axis, MatMul
 * batch broadcasting and 1-D operands, Gather with negative indices), plus
 * the errors that must name the node. Each case builds a one-node graph and
 * calls the op's infer function and reference kernel directly. */
#include "engine/ir.h"
#include "test.h"

#include <stdarg.h>

static struct cvb_graph *G;
static struct cvb_err E;

static void reset(int64_t opset) {
    cvb__graph_free(G);
    G = cvb__graph_new("test.onnx");
    G->opset = opset;
    cvb_err_clear(&E);
}

/* A tensor; 'data' (if not NULL) is copied and makes it a constant. */
static int tensor(const char *name, enum cvb_dtype dt, int nd, const int64_t *dims,
                  const void *data) {
    int t = cvb__graph_tensor(G, name);
    if (cvb__tensor_set_shape(G, t, dt, nd, dims, &E) < 0) return -1;
    if (data) {
        size_t b = cvb__tensor_bytes(&G->tensors[t]);
        G->tensors[t].data = malloc(b ? b : 1);
        memcpy(G->tensors[t].data, data, b);
    }
    return t;
}
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
static int tf(const char *name, int nd, const int64_t *dims, const float *data) {
    return tensor(name, CVB_DT_F32, nd, dims, data);
}
static int ti(const char *name, int nd, const int64_t *dims, const int64_t *data) {
    return tensor(name, CVB_DT_I64, nd, dims, data);
}

static struct cvb_attr a_int(const char *nm, int64_t v) {
    return (struct cvb_attr){.name = (char *)nm, .type = CVB_ATTR_INT, .i = v};
}
static struct cvb_attr a_ints(const char *nm, int n, const int64_t *v) {
    return (struct cvb_attr){.name = (char *)nm, .type = CVB_ATTR_INTS, .n = n, .ints = (int64_t *)v};
}
static struct cvb_attr a_str(const char *nm, const char *s) {
    return (struct cvb_attr){.name = (char *)nm, .type = CVB_ATTR_STRING, .s = (char *)s};
}

/* Infer and run one node; on success the outputs become constants in G
 * (G frees them). in/out are tensor indices (-1 for absent). */
static int run(enum cvb_op op, int n_in, const int *in, int n_out, const int *out, int n_attrs,
               struct cvb_attr *attrs) {
    struct cvb_node n = {.op = op, .name = "n0", .n_in = n_in, .n_out = n_out,
                         .in = (int *)in, .out = (int *)out, .n_attrs = n_attrs, .attrs = attrs};
    cvb_err_clear(&E);
    int rc = cvb__op_defs[op].infer(G, &n, &E);
    if (rc < 0) return rc;
    const struct cvb_tensor *tin[8] = {0}, *tout[8] = {0};
    const void *pin[8] = {0};
    void *pout[8] = {0};
    for (int i = 0; i < n_in; i++)
        if (in[i] >= 0) {
            tin[i] = &G->tensors[in[i]];
            pin[i] = tin[i]->data;
        }
    for (int i = 0; i < n_out; i++) {
        tout[i] = &G->tensors[out[i]];
        size_t b = cvb__tensor_bytes(tout[i]);
        pout[i] = malloc(b ? b : 1);
        memset(pout[i], 0xAB, b ? b : 1);
    }
    struct cvb_kctx k = {.g = G, .node = &n, .tin = tin, .tout = tout, .in = pin, .out = pout};
    rc = cvb__op_defs[op].ref(&k, &E);
    for (int i = 0; i < n_out; i++) {
        if (rc == 0)
            G->tensors[out[i]].data = pout[i];
        else
            free(pout[i]);
    }
    return rc;
}

#define IN(...) ((const int[]){__VA_ARGS__})

static void check_shape(int t, int nd, const int64_t *dims) {
    const struct cvb_tensor *x = &G->tensors[t];
    CHECK_EQ_INT(x->ndim, nd);
    for (int i = 0; i < nd && i < x->ndim; i++) CHECK_EQ_INT(x->dims[i], dims[i]);
}
static void check_f32(int t, int64_t n, const float *want, double tol) {
    const struct cvb_tensor *x = &G->tensors[t];
    CHECK_EQ_INT(x->numel, n);
    for (int64_t i = 0; i < n && i < x->numel; i++)
        CHECK_NEAR(((const float *)x->data)[i], want[i], tol);
}
static void check_i64(int t, int64_t n, const int64_t *want) {
    const struct cvb_tensor *x = &G->tensors[t];
    CHECK_EQ_INT(x->numel, n);
    for (int64_t i = 0; i < n && i < x->numel; i++)
        CHECK_EQ_INT(((const int64_t *)x->data)[i], want[i]);
}
static void check_err(int rc, int code, const char *needle) {
    CHECK_EQ_INT(rc, code);
    if (strstr(E.msg, needle) == NULL) {
        test_failures++;
        fprintf(stderr, "%s: error \"%s\" does not mention \"%s\"\n", test_current, E.msg, needle);
    }
}

/* ---- elementwise ------------------------------------------------------------ */

static void test_add_broadcast(void) {
    reset(17);
    int a = tf("a", 3, DIMS(2, 3, 1), F32(0, 1, 2, 3, 4, 5));
    int b = tf("b", 2, DIMS(1, 4), F32(10, 20, 30, 40));
    int y = cvb__graph_tensor(G, "y");
    CHECK_EQ_INT(run(CVB_OP_ADD, 2, IN(a, b), 1, IN(y), 0, NULL), 0);
    check_shape(y, 3, DIMS(2, 3, 4));
    float want[24];
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 4; k++) want[i * 4 + k] = (float)i + 10.0f * (float)(k + 1);
    check_f32(y, 24, want, 0);
    /* scalar op tensor */
    int s = tf("s", 0, NULL, F32(2));
    int y2 = cvb__graph_tensor(G, "y2");
    CHECK_EQ_INT(run(CVB_OP_SUB, 2, IN(s, b), 1, IN(y2), 0, NULL), 0);
    check_shape(y2, 2, DIMS(1, 4));
    check_f32(y2, 4, F32(-8, -18, -28, -38), 0);
}

static void test_broadcast_error_names_node(void) {
    reset(17);
    int a = tf("a", 2, DIMS(2, 3), NULL);
    int b = tf("b", 1, DIMS(4), NULL);
    int y = cvb__graph_tensor(G, "y");
    int rc = run(CVB_OP_MUL, 2, IN(a, b), 1, IN(y), 0, NULL);
    check_err(rc, CVB_ESHAPE, "node \"n0\" (Mul): shapes [2,3] and [4] cannot be broadcast");
}

static void test_int_div_and_pow(void) {
    reset(17);
    int a = ti("a", 1, DIMS(3), I64(-7, 7, 9));
    int b = ti("b", 1, DIMS(1), I64(2));
    int y = cvb__graph_tensor(G, "y");
    CHECK_EQ_INT(run(CVB_OP_DIV, 2, IN(a, b), 1, IN(y), 0, NULL), 0);
    check_i64(y, 3, I64(-3, 3, 4));
    int z = ti("z", 1, DIMS(1), I64(0));
    int y2 = cvb__graph_tensor(G, "y2");
    check_err(run(CVB_OP_DIV, 2, IN(a, z), 1, IN(y2), 0, NULL), CVB_ERANGE, "division by zero");
    int x = tf("x", 1, DIMS(3), F32(2, 3, 4));
    int e = ti("e", 0, NULL, I64(2));
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_POW, 2, IN(x, e), 1, IN(y3), 0, NULL), 0);
    check_f32(y3, 3, F32(4, 9, 16), 0);
    int y4 = cvb__graph_tensor(G, "y4");
    CHECK_EQ_INT(run(CVB_OP_SIGMOID, 1, IN(x), 1, IN(y4), 0, NULL), 0);
    check_f32(y4, 3, F32(0.880797078f, 0.952574127f, 0.982013790f), 1e-7);
}

/* ---- conv ---------------------------------------------------------------------- */

static void test_conv_grouped_strided_padded(void) {
    reset(17);
    float xv[18];
    for (int i = 0; i < 18; i++) xv[i] = (float)(i + 1);
    int x = tf("x", 4, DIMS(1, 2, 3, 3), xv);
    int w = tf("w", 4, DIMS(2, 1, 2, 2), F32(1, 1, 1, 1, 1, 0, 0, -1));
    int b = tf("b", 1, DIMS(2), F32(0.5f, -1));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr at[] = {a_int("group", 2), a_ints("strides", 2, I64(2, 2)),
                            a_ints("pads", 4, I64(1, 1, 1, 1))};
    CHECK_EQ_INT(run(CVB_OP_CONV, 3, IN(x, w, b), 1, IN(y), 3, at), 0);
    check_shape(y, 4, DIMS(1, 2, 2, 2));
    check_f32(y, 8, F32(1.5f, 5.5f, 11.5f, 28.5f, -11, -13, -17, -5), 0);
}

static void test_conv_auto_pad_and_dilation(void) {
    reset(17);
    int x = tf("x", 3, DIMS(1, 1, 4), F32(1, 2, 3, 4));
    int w = tf("w", 3, DIMS(1, 1, 2), F32(1, 1));
    int y1 = cvb__graph_tensor(G, "y1"), y2 = cvb__graph_tensor(G, "y2");
    struct cvb_attr up[] = {a_str("auto_pad", "SAME_UPPER")};
    struct cvb_attr lo[] = {a_str("auto_pad", "SAME_LOWER")};
    CHECK_EQ_INT(run(CVB_OP_CONV, 2, IN(x, w), 1, IN(y1), 1, up), 0);
    check_f32(y1, 4, F32(3, 5, 7, 4), 0);
    CHECK_EQ_INT(run(CVB_OP_CONV, 2, IN(x, w), 1, IN(y2), 1, lo), 0);
    check_f32(y2, 4, F32(1, 3, 5, 7), 0);
    int x5 = tf("x5", 3, DIMS(1, 1, 5), F32(1, 2, 3, 4, 5));
    int y3 = cvb__graph_tensor(G, "y3");
    struct cvb_attr dl[] = {a_ints("dilations", 1, I64(2))};
    CHECK_EQ_INT(run(CVB_OP_CONV, 2, IN(x5, w), 1, IN(y3), 1, dl), 0);
    check_f32(y3, 3, F32(4, 6, 8), 0);
    /* SAME_UPPER with stride 2 on 5x5: output ceil(5/2) = 3 */
    int x4 = tf("x4", 4, DIMS(1, 1, 5, 5), NULL);
    int w4 = tf("w4", 4, DIMS(1, 1, 3, 3), NULL);
    int y4 = cvb__graph_tensor(G, "y4");
    struct cvb_attr st[] = {a_str("auto_pad", "SAME_UPPER"), a_ints("strides", 2, I64(2, 2))};
    struct cvb_node n = {.op = CVB_OP_CONV, .name = "c", .n_in = 2, .n_out = 1,
                         .in = (int[]){x4, w4}, .out = (int[]){y4}, .n_attrs = 2, .attrs = st};
    CHECK_EQ_INT(cvb__op_defs[CVB_OP_CONV].infer(G, &n, &E), 0);
    check_shape(y4, 4, DIMS(1, 1, 3, 3));
}

static void test_conv_channel_mismatch(void) {
    reset(17);
    int x = tf("x", 4, DIMS(1, 64, 8, 8), NULL);
    int w = tf("w", 4, DIMS(16, 32, 3, 3), NULL);
    int y = cvb__graph_tensor(G, "y");
    struct cvb_node n = {.op = CVB_OP_CONV, .name = "Conv_3", .n_in = 2, .n_out = 1,
                         .in = (int[]){x, w}, .out = (int[]){y}};
    int rc = cvb__op_defs[CVB_OP_CONV].infer(G, &n, &E);
    check_err(rc, CVB_ESHAPE,
              "node \"Conv_3\" (Conv): input has 64 channels but weight expects 32 (group 1)");
}

/* ---- pool ---------------------------------------------------------------------- */

static void test_maxpool_ceil_and_indices(void) {
    reset(17);
    float xv[16];
    for (int i = 0; i < 16; i++) xv[i] = (float)(i + 1);
    int x = tf("x", 4, DIMS(1, 1, 4, 4), xv);
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr at[] = {a_ints("kernel_shape", 2, I64(3, 3)), a_ints("strides", 2, I64(2, 2)),
                            a_int("ceil_mode", 1)};
    CHECK_EQ_INT(run(CVB_OP_MAXPOOL, 1, IN(x), 1, IN(y), 3, at), 0);
    check_shape(y, 4, DIMS(1, 1, 2, 2));
    check_f32(y, 4, F32(11, 12, 15, 16), 0);
    int y2 = cvb__graph_tensor(G, "y2"), ind = cvb__graph_tensor(G, "ind");
    check_err(run(CVB_OP_MAXPOOL, 1, IN(x), 2, IN(y2, ind), 3, at), CVB_EUNSUPPORTED, "Indices");
}

/* ---- resize ------------------------------------------------------------------- */

static void resize_case(const char *ctm, const char *mode, const char *nm, int64_t out_w,
                        const float *want) {
    reset(13);
    int x = tf("x", 4, DIMS(1, 1, 1, 4), F32(1, 2, 3, 4));
    int sz = ti("sizes", 1, DIMS(4), I64(1, 1, 1, out_w));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr at[] = {a_str("coordinate_transformation_mode", ctm), a_str("mode", mode),
                            a_str("nearest_mode", nm)};
    int rc = run(CVB_OP_RESIZE, 4, IN(x, -1, -1, sz), 1, IN(y), 3, at);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  %s\n", E.msg);
        return;
    }
    check_shape(y, 4, DIMS(1, 1, 1, out_w));
    check_f32(y, out_w, want, 1e-6);
}

static void test_resize_nearest_modes(void) {
    resize_case("asymmetric", "nearest", "floor", 8, F32(1, 1, 2, 2, 3, 3, 4, 4));
    resize_case("half_pixel", "nearest", "round_prefer_floor", 8, F32(1, 1, 2, 2, 3, 3, 4, 4));
    resize_case("half_pixel", "nearest", "round_prefer_floor", 3, F32(1, 2, 4));
    resize_case("half_pixel", "nearest", "round_prefer_ceil", 3, F32(1, 3, 4));
    resize_case("half_pixel", "nearest", "floor", 3, F32(1, 2, 3));
    resize_case("half_pixel", "nearest", "ceil", 3, F32(2, 3, 4));
    resize_case("align_corners", "nearest", "round_prefer_floor", 3, F32(1, 2, 4));
    resize_case("tf_half_pixel_for_nn", "nearest", "round_prefer_floor", 8,
                F32(1, 2, 2, 3, 3, 4, 4, 4));
}

static void test_resize_linear_and_scales(void) {
    resize_case("half_pixel", "linear", "round_prefer_floor", 8,
                F32(1, 1.25f, 1.75f, 2.25f, 2.75f, 3.25f, 3.75f, 4));
    resize_case("align_corners", "linear", "round_prefer_floor", 7,
                F32(1, 1.5f, 2, 2.5f, 3, 3.5f, 4));
    /* scales (opset 11 form: roi and scales inputs, 2x nearest as YOLO uses) */
    reset(11);
    int x = tf("x", 4, DIMS(1, 1, 2, 2), F32(1, 2, 3, 4));
    int roi = tf("roi", 1, DIMS(0), F32(0));
    int sc = tf("scales", 1, DIMS(4), F32(1, 1, 2, 2));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr at[] = {a_str("coordinate_transformation_mode", "asymmetric"),
                            a_str("mode", "nearest"), a_str("nearest_mode", "floor")};
    CHECK_EQ_INT(run(CVB_OP_RESIZE, 3, IN(x, roi, sc), 1, IN(y), 3, at), 0);
    check_shape(y, 4, DIMS(1, 1, 4, 4));
    check_f32(y, 16, F32(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0);
    /* scales computed at run time are refused with a clear reason */
    int sc2 = tf("dyn_scales", 1, DIMS(4), NULL);
    int y2 = cvb__graph_tensor(G, "y2");
    check_err(run(CVB_OP_RESIZE, 3, IN(x, roi, sc2), 1, IN(y2), 3, at), CVB_EUNSUPPORTED,
              "computed at run time");
}

/* ---- tensor ops ------------------------------------------------------------------ */

static void test_slice_negative_steps(void) {
    reset(13);
    int64_t xv[12];
    for (int i = 0; i < 12; i++) xv[i] = i;
    int x = ti("x", 1, DIMS(10), xv);
    int s = ti("s", 1, DIMS(1), I64(8)), e = ti("e", 1, DIMS(1), I64(1));
    int st = ti("st", 1, DIMS(1), I64(-3));
    int y = cvb__graph_tensor(G, "y");
    CHECK_EQ_INT(run(CVB_OP_SLICE, 5, IN(x, s, e, -1, st), 1, IN(y), 0, NULL), 0);
    check_i64(y, 3, I64(8, 5, 2));
    /* reverse everything: start -1, end INT64_MIN, step -1 */
    int s2 = ti("s2", 1, DIMS(1), I64(-1)), e2 = ti("e2", 1, DIMS(1), I64(INT64_MIN));
    int st2 = ti("st2", 1, DIMS(1), I64(-1));
    int y2 = cvb__graph_tensor(G, "y2");
    CHECK_EQ_INT(run(CVB_OP_SLICE, 5, IN(x, s2, e2, -1, st2), 1, IN(y2), 0, NULL), 0);
    check_i64(y2, 10, I64(9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    /* 2-D, axes given, clamping of out-of-range starts/ends */
    int x2 = ti("x2", 2, DIMS(3, 4), xv);
    int s3 = ti("s3", 1, DIMS(2), I64(100, -1)), e3 = ti("e3", 1, DIMS(2), I64(-100, 0));
    int ax = ti("ax", 1, DIMS(2), I64(0, -1)), st3 = ti("st3", 1, DIMS(2), I64(-1, -2));
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_SLICE, 5, IN(x2, s3, e3, ax, st3), 1, IN(y3), 0, NULL), 0);
    check_shape(y3, 2, DIMS(3, 2));
    check_i64(y3, 6, I64(11, 9, 7, 5, 3, 1));
    /* empty result */
    int s4 = ti("s4", 1, DIMS(1), I64(5)), e4 = ti("e4", 1, DIMS(1), I64(2));
    int y4 = cvb__graph_tensor(G, "y4");
    CHECK_EQ_INT(run(CVB_OP_SLICE, 3, IN(x, s4, e4), 1, IN(y4), 0, NULL), 0);
    check_shape(y4, 1, DIMS(0));
}

static void test_softmax_axis_by_opset(void) {
    const float ln3 = 1.0986122886681098f;
    const float xv[] = {0, 0, ln3, 0};
    reset(13);
    int x = tf("x", 2, DIMS(2, 2), xv);
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr a0[] = {a_int("axis", 0)};
    CHECK_EQ_INT(run(CVB_OP_SOFTMAX, 1, IN(x), 1, IN(y), 1, a0), 0);
    check_f32(y, 4, F32(0.25f, 0.5f, 0.75f, 0.5f), 1e-6);
    int y2 = cvb__graph_tensor(G, "y2"); /* default axis -1 */
    CHECK_EQ_INT(run(CVB_OP_SOFTMAX, 1, IN(x), 1, IN(y2), 0, NULL), 0);
    check_f32(y2, 4, F32(0.5f, 0.5f, 0.75f, 0.25f), 1e-6);
    reset(11); /* opset 11: coerced to 2-D at axis */
    x = tf("x", 2, DIMS(2, 2), xv);
    y = cvb__graph_tensor(G, "y");
    CHECK_EQ_INT(run(CVB_OP_SOFTMAX, 1, IN(x), 1, IN(y), 1, a0), 0);
    check_f32(y, 4, F32(1 / 6.f, 1 / 6.f, 0.5f, 1 / 6.f), 1e-6);
}

static void test_matmul_batch_broadcast(void) {
    reset(17);
    int a = tf("a", 4, DIMS(2, 1, 1, 2), F32(1, 2, 3, 4));
    int b = tf("b", 3, DIMS(3, 2, 1), F32(1, 1, 1, 0, 0, 1));
    int y = cvb__graph_tensor(G, "y");
    CHECK_EQ_INT(run(CVB_OP_MATMUL, 2, IN(a, b), 1, IN(y), 0, NULL), 0);
    check_shape(y, 4, DIMS(2, 3, 1, 1));
    check_f32(y, 6, F32(3, 1, 2, 7, 3, 4), 0);
    int v = tf("v", 1, DIMS(2), F32(1, 2));
    int y2 = cvb__graph_tensor(G, "y2");
    CHECK_EQ_INT(run(CVB_OP_MATMUL, 2, IN(v, b), 1, IN(y2), 0, NULL), 0);
    check_shape(y2, 2, DIMS(3, 1));
    check_f32(y2, 3, F32(3, 1, 2), 0);
    int m = tf("m", 2, DIMS(2, 3), F32(1, 2, 3, 4, 5, 6));
    int c = tf("c", 1, DIMS(3), F32(1, 0, -1));
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_MATMUL, 2, IN(m, c), 1, IN(y3), 0, NULL), 0);
    check_shape(y3, 1, DIMS(2));
    check_f32(y3, 2, F32(-2, -2), 0);
    int y4 = cvb__graph_tensor(G, "y4");
    check_err(run(CVB_OP_MATMUL, 2, IN(m, m), 1, IN(y4), 0, NULL), CVB_ESHAPE, "inner dimensions");
}

static void test_gather_negative_and_shape_ops(void) {
    reset(13);
    int x = tf("x", 2, DIMS(2, 3), F32(1, 2, 3, 4, 5, 6));
    int ind = ti("ind", 1, DIMS(2), I64(-1, 0));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr a1[] = {a_int("axis", 1)};
    CHECK_EQ_INT(run(CVB_OP_GATHER, 2, IN(x, ind), 1, IN(y), 1, a1), 0);
    check_shape(y, 2, DIMS(2, 2));
    check_f32(y, 4, F32(3, 1, 6, 4), 0);
    int bad = ti("bad", 0, NULL, I64(3));
    int y1 = cvb__graph_tensor(G, "y1");
    check_err(run(CVB_OP_GATHER, 2, IN(x, bad), 1, IN(y1), 1, a1), CVB_ERANGE, "out of range");
    /* Reshape with 0 and -1; shape computed at run time is refused */
    int sh = ti("sh", 1, DIMS(2), I64(0, -1));
    int x3 = tf("x3", 3, DIMS(2, 3, 4), NULL);
    int y2 = cvb__graph_tensor(G, "y2");
    struct cvb_node n = {.op = CVB_OP_RESHAPE, .name = "r", .n_in = 2, .n_out = 1,
                         .in = (int[]){x3, sh}, .out = (int[]){y2}};
    CHECK_EQ_INT(cvb__op_defs[CVB_OP_RESHAPE].infer(G, &n, &E), 0);
    check_shape(y2, 2, DIMS(2, 12));
    int dyn = ti("y_shape", 1, DIMS(2), NULL);
    n.in = (int[]){x3, dyn};
    check_err(cvb__op_defs[CVB_OP_RESHAPE].infer(G, &n, &E), CVB_EUNSUPPORTED,
              "node \"r\" (Reshape): shape input 'y_shape' is computed at run time; only static "
              "shapes are supported");
    /* Unsqueeze: attribute form (opset 11) */
    reset(11);
    int u = tf("u", 2, DIMS(3, 4), NULL);
    int y3 = cvb__graph_tensor(G, "y3");
    struct cvb_attr ax[] = {a_ints("axes", 2, I64(0, -1))};
    n = (struct cvb_node){.op = CVB_OP_UNSQUEEZE, .name = "u", .n_in = 1, .n_out = 1,
                          .in = (int[]){u}, .out = (int[]){y3}, .n_attrs = 1, .attrs = ax};
    CHECK_EQ_INT(cvb__op_defs[CVB_OP_UNSQUEEZE].infer(G, &n, &E), 0);
    check_shape(y3, 4, DIMS(1, 3, 4, 1));
    /* Split: input form (opset 13) */
    reset(13);
    float sv[6] = {1, 2, 3, 4, 5, 6};
    int xs = tf("xs", 2, DIMS(1, 6), sv);
    int sp = ti("sp", 1, DIMS(2), I64(2, 4));
    int o1 = cvb__graph_tensor(G, "o1"), o2 = cvb__graph_tensor(G, "o2");
    CHECK_EQ_INT(run(CVB_OP_SPLIT, 2, IN(xs, sp), 2, IN(o1, o2), 1, a1), 0);
    check_f32(o1, 2, F32(1, 2), 0);
    check_f32(o2, 4, F32(3, 4, 5, 6), 0);
    /* Cast float -> int64 truncates toward zero */
    int cf = tf("cf", 1, DIMS(3), F32(-1.7f, 2.9f, 0.2f));
    int co = cvb__graph_tensor(G, "co");
    struct cvb_attr to[] = {a_int("to", 7)};
    CHECK_EQ_INT(run(CVB_OP_CAST, 1, IN(cf), 1, IN(co), 1, to), 0);
    check_i64(co, 3, I64(-1, 2, 0));
    /* Transpose */
    int tx = tf("tx", 2, DIMS(2, 3), F32(1, 2, 3, 4, 5, 6));
    int tr = cvb__graph_tensor(G, "tr");
    CHECK_EQ_INT(run(CVB_OP_TRANSPOSE, 1, IN(tx), 1, IN(tr), 0, NULL), 0);
    check_shape(tr, 2, DIMS(3, 2));
    check_f32(tr, 6, F32(1, 4, 2, 5, 3, 6), 0);
    /* Expand */
    int es = ti("es", 1, DIMS(3), I64(2, 1, 3));
    int ev = tf("ev", 2, DIMS(2, 1), F32(1, 2));
    int eo = cvb__graph_tensor(G, "eo");
    CHECK_EQ_INT(run(CVB_OP_EXPAND, 2, IN(ev, es), 1, IN(eo), 0, NULL), 0);
    check_shape(eo, 3, DIMS(2, 2, 3));
    check_f32(eo, 12, F32(1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2), 0);
}

static void test_constants_and_conv3d(void) {
    reset(17);
    /* ConstantOfShape with an int64 value tensor */
    int sh = ti("sh", 1, DIMS(2), I64(2, 3));
    int val = ti("val", 1, DIMS(1), I64(7));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr v[] = {{.name = "value", .type = CVB_ATTR_TENSOR, .tensor = val}};
    CHECK_EQ_INT(run(CVB_OP_CONSTANT_OF_SHAPE, 1, IN(sh), 1, IN(y), 1, v), 0);
    check_shape(y, 2, DIMS(2, 3));
    check_i64(y, 6, I64(7, 7, 7, 7, 7, 7));
    /* default value: float32 zeros */
    int y0 = cvb__graph_tensor(G, "y0");
    CHECK_EQ_INT(run(CVB_OP_CONSTANT_OF_SHAPE, 1, IN(sh), 1, IN(y0), 0, NULL), 0);
    CHECK_EQ_INT(G->tensors[y0].dtype, CVB_DT_F32);
    check_f32(y0, 6, F32(0, 0, 0, 0, 0, 0), 0);
    /* Constant value_floats and value_int */
    int c1 = cvb__graph_tensor(G, "c1"), c2 = cvb__graph_tensor(G, "c2");
    struct cvb_attr fl[] = {{.name = "value_floats", .type = CVB_ATTR_FLOATS, .n = 2,
                             .floats = (float[]){1.5f, -2}}};
    struct cvb_attr in[] = {a_int("value_int", 42)};
    CHECK_EQ_INT(run(CVB_OP_CONSTANT, 0, NULL, 1, IN(c1), 1, fl), 0);
    check_f32(c1, 2, F32(1.5f, -2), 0);
    CHECK_EQ_INT(run(CVB_OP_CONSTANT, 0, NULL, 1, IN(c2), 1, in), 0);
    CHECK_EQ_INT(G->tensors[c2].ndim, 0);
    check_i64(c2, 1, I64(42));
    /* Squeeze without axes drops every 1 */
    int sq = tf("sq", 4, DIMS(1, 3, 1, 2), NULL);
    int so = cvb__graph_tensor(G, "so");
    struct cvb_node n = {.op = CVB_OP_SQUEEZE, .name = "s", .n_in = 1, .n_out = 1,
                         .in = (int[]){sq}, .out = (int[]){so}};
    CHECK_EQ_INT(cvb__op_defs[CVB_OP_SQUEEZE].infer(G, &n, &E), 0);
    check_shape(so, 2, DIMS(3, 2));
    /* 3-D conv: 2x2x2 ones over 3x3x3 ramp, stride 1 -> window sums */
    float xv[27], wv[8];
    for (int i = 0; i < 27; i++) xv[i] = (float)i;
    for (int i = 0; i < 8; i++) wv[i] = 1;
    int x = tf("x3", 5, DIMS(1, 1, 3, 3, 3), xv);
    int w = tf("w3", 5, DIMS(1, 1, 2, 2, 2), wv);
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_CONV, 2, IN(x, w), 1, IN(y3), 0, NULL), 0);
    check_shape(y3, 5, DIMS(1, 1, 2, 2, 2));
    /* window at (d,h,w): sum of 8 values = 8*(9d+3h+w) + (0+1+3+4+9+10+12+13) */
    float want[8];
    for (int d = 0; d < 2; d++)
        for (int h = 0; h < 2; h++)
            for (int q = 0; q < 2; q++) want[(d * 2 + h) * 2 + q] = (float)(8 * (9 * d + 3 * h + q) + 52);
    check_f32(y3, 8, want, 0);
}

/* ---- AveragePool, reductions, ArgMax ------------------------------------------- */

static void test_averagepool_ceil_and_pads(void) {
    reset(17);
    int x = tf("x", 4, DIMS(1, 1, 3, 3), F32(1, 2, 3, 4, 5, 6, 7, 8, 9));
    int y = cvb__graph_tensor(G, "y");
    struct cvb_attr at[] = {a_ints("kernel_shape", 2, I64(2, 2)), a_ints("strides", 2, I64(2, 2)),
                            a_int("ceil_mode", 1)};
    /* the last windows hang over the end: divided by what they cover */
    CHECK_EQ_INT(run(CVB_OP_AVERAGEPOOL, 1, IN(x), 1, IN(y), 3, at), 0);
    check_shape(y, 4, DIMS(1, 1, 2, 2));
    check_f32(y, 4, F32(3, 4.5f, 7.5f, 9), 1e-6);
    int y2 = cvb__graph_tensor(G, "y2");
    struct cvb_attr at2[] = {a_ints("kernel_shape", 2, I64(2, 2)), a_ints("strides", 2, I64(2, 2)),
                             a_ints("pads", 4, I64(1, 1, 1, 1)), a_int("count_include_pad", 1)};
    CHECK_EQ_INT(run(CVB_OP_AVERAGEPOOL, 1, IN(x), 1, IN(y2), 4, at2), 0);
    check_f32(y2, 4, F32(0.25f, 1.25f, 2.75f, 7), 1e-6);
    int y3 = cvb__graph_tensor(G, "y3");
    at2[3] = a_int("count_include_pad", 0);
    CHECK_EQ_INT(run(CVB_OP_AVERAGEPOOL, 1, IN(x), 1, IN(y3), 4, at2), 0);
    check_f32(y3, 4, F32(1, 2.5f, 5.5f, 7), 1e-6);
}

static void test_reduce_axes_and_keepdims(void) {
    reset(17);
    int x = tf("x", 2, DIMS(2, 3), F32(1, 5, 2, 7, 0, 3));
    int y = cvb__graph_tensor(G, "y"), y2 = cvb__graph_tensor(G, "y2");
    struct cvb_attr at[] = {a_ints("axes", 1, I64(1)), a_int("keepdims", 0)};
    CHECK_EQ_INT(run(CVB_OP_REDUCE_MAX, 1, IN(x), 1, IN(y), 2, at), 0);
    check_shape(y, 1, DIMS(2));
    check_f32(y, 2, F32(5, 7), 0);
    struct cvb_attr at2[] = {a_ints("axes", 1, I64(-2))};
    CHECK_EQ_INT(run(CVB_OP_REDUCE_MIN, 1, IN(x), 1, IN(y2), 1, at2), 0);
    check_shape(y2, 2, DIMS(1, 3));
    check_f32(y2, 3, F32(1, 0, 2), 0);
    /* ReduceSum (opset 13): axes as a constant input; none = every axis */
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_REDUCE_SUM, 1, IN(x), 1, IN(y3), 0, NULL), 0);
    check_shape(y3, 2, DIMS(1, 1));
    check_f32(y3, 1, F32(18), 0);
    int ax = ti("ax", 1, DIMS(1), I64(0)), y4 = cvb__graph_tensor(G, "y4");
    CHECK_EQ_INT(run(CVB_OP_REDUCE_SUM, 2, IN(x, ax), 1, IN(y4), 0, NULL), 0);
    check_shape(y4, 2, DIMS(1, 3));
    check_f32(y4, 3, F32(8, 5, 5), 0);
    int none = ti("none", 1, DIMS(0), NULL), y5 = cvb__graph_tensor(G, "y5");
    struct cvb_attr noop[] = {a_int("noop_with_empty_axes", 1)};
    CHECK_EQ_INT(run(CVB_OP_REDUCE_SUM, 2, IN(x, none), 1, IN(y5), 1, noop), 0);
    check_shape(y5, 2, DIMS(2, 3));
    check_f32(y5, 6, F32(1, 5, 2, 7, 0, 3), 0);
    int xi = ti("xi", 2, DIMS(2, 2), I64(4, -9, 6, 1)), y6 = cvb__graph_tensor(G, "y6");
    CHECK_EQ_INT(run(CVB_OP_REDUCE_MAX, 1, IN(xi), 1, IN(y6), 2, at), 0);
    check_i64(y6, 2, I64(4, 6));
    /* axes computed at run time: refused at load, naming the input */
    int rt = ti("rt", 1, DIMS(1), NULL), y7 = cvb__graph_tensor(G, "y7");
    check_err(run(CVB_OP_REDUCE_SUM, 2, IN(x, rt), 1, IN(y7), 0, NULL), CVB_EUNSUPPORTED,
              "'rt' is computed at run time");
    int y8 = cvb__graph_tensor(G, "y8");
    struct cvb_attr bad[] = {a_ints("axes", 1, I64(2))};
    check_err(run(CVB_OP_REDUCE_MAX, 1, IN(x), 1, IN(y8), 1, bad), CVB_ESHAPE, "n0");
}

static void test_argmax_ties(void) {
    reset(17);
    int x = tf("x", 2, DIMS(2, 4), F32(3, 7, 7, 1, 0, -1, 0, -2));
    int y = cvb__graph_tensor(G, "y"), y2 = cvb__graph_tensor(G, "y2");
    struct cvb_attr at[] = {a_int("axis", -1)};
    CHECK_EQ_INT(run(CVB_OP_ARGMAX, 1, IN(x), 1, IN(y), 1, at), 0);
    check_shape(y, 2, DIMS(2, 1));
    check_i64(y, 2, I64(1, 0));
    struct cvb_attr at2[] = {a_int("axis", 1), a_int("keepdims", 0), a_int("select_last_index", 1)};
    CHECK_EQ_INT(run(CVB_OP_ARGMAX, 1, IN(x), 1, IN(y2), 3, at2), 0);
    check_shape(y2, 1, DIMS(2));
    check_i64(y2, 2, I64(2, 2));
}

/* ---- TopK, GatherElements, Tile ------------------------------------------------ */

static void test_topk_stable_ties(void) {
    reset(17);
    int x = tf("x", 2, DIMS(1, 6), F32(3, 1, 3, 5, 1, 5));
    int k4 = ti("k4", 1, DIMS(1), I64(4)), k3 = ti("k3", 1, DIMS(1), I64(3));
    int v = cvb__graph_tensor(G, "v"), i = cvb__graph_tensor(G, "i");
    /* ties: the lower index first */
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(x, k4), 2, IN(v, i), 0, NULL), 0);
    check_shape(v, 2, DIMS(1, 4));
    check_f32(v, 4, F32(5, 5, 3, 3), 0);
    check_i64(i, 4, I64(3, 5, 0, 2));
    int v2 = cvb__graph_tensor(G, "v2"), i2 = cvb__graph_tensor(G, "i2");
    struct cvb_attr small[] = {a_int("largest", 0), a_int("sorted", 1)};
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(x, k3), 2, IN(v2, i2), 2, small), 0);
    check_f32(v2, 3, F32(1, 1, 3), 0);
    check_i64(i2, 3, I64(1, 4, 0));
    /* along axis 0 (strided rows), values output only */
    int xa = tf("xa", 2, DIMS(4, 2), F32(1, 9, 4, 9, 4, 2, 0, 9));
    int k2 = ti("k2", 1, DIMS(1), I64(2));
    int v3 = cvb__graph_tensor(G, "v3"), i3 = cvb__graph_tensor(G, "i3");
    struct cvb_attr ax0[] = {a_int("axis", 0)};
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(xa, k2), 2, IN(v3, i3), 1, ax0), 0);
    check_shape(i3, 2, DIMS(2, 2));
    check_f32(v3, 4, F32(4, 9, 4, 9), 0);
    check_i64(i3, 4, I64(1, 0, 2, 1));
    int v4 = cvb__graph_tensor(G, "v4");
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(xa, k2), 1, IN(v4), 1, ax0), 0);
    check_f32(v4, 4, F32(4, 9, 4, 9), 0);
    /* NaN ranks above every number */
    int xn = tf("xn", 1, DIMS(3), F32(1, NAN, 2));
    int v5 = cvb__graph_tensor(G, "v5"), i5 = cvb__graph_tensor(G, "i5");
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(xn, k2), 2, IN(v5, i5), 0, NULL), 0);
    check_i64(i5, 2, I64(1, 2));
    int v6 = cvb__graph_tensor(G, "v6"), i6 = cvb__graph_tensor(G, "i6");
    CHECK_EQ_INT(run(CVB_OP_TOPK, 2, IN(xn, k2), 2, IN(v6, i6), 2, small), 0);
    check_i64(i6, 2, I64(0, 2));
    /* K beyond the axis; K computed at run time */
    int k9 = ti("k9", 1, DIMS(1), I64(9)), krt = ti("krt", 1, DIMS(1), NULL);
    int v7 = cvb__graph_tensor(G, "v7"), i7 = cvb__graph_tensor(G, "i7");
    check_err(run(CVB_OP_TOPK, 2, IN(x, k9), 2, IN(v7, i7), 0, NULL), CVB_ESHAPE, "K 9");
    check_err(run(CVB_OP_TOPK, 2, IN(x, krt), 2, IN(v7, i7), 0, NULL), CVB_EUNSUPPORTED,
              "'krt' is computed at run time");
}

static void test_gather_elements_and_tile(void) {
    reset(17);
    int x = tf("x", 2, DIMS(2, 3), F32(1, 2, 3, 4, 5, 6));
    int ix = ti("ix", 2, DIMS(2, 2), I64(-1, 0, 0, 1));
    int y = cvb__graph_tensor(G, "y"), y2 = cvb__graph_tensor(G, "y2");
    CHECK_EQ_INT(run(CVB_OP_GATHER_ELEMENTS, 2, IN(x, ix), 1, IN(y), 0, NULL), 0);
    check_shape(y, 2, DIMS(2, 2));
    check_f32(y, 4, F32(4, 2, 1, 5), 0);
    struct cvb_attr ax1[] = {a_int("axis", 1)};
    CHECK_EQ_INT(run(CVB_OP_GATHER_ELEMENTS, 2, IN(x, ix), 1, IN(y2), 1, ax1), 0);
    check_f32(y2, 4, F32(3, 1, 4, 5), 0);
    int bad = ti("bad", 2, DIMS(1, 1), I64(3)), y3 = cvb__graph_tensor(G, "y3");
    check_err(run(CVB_OP_GATHER_ELEMENTS, 2, IN(x, bad), 1, IN(y3), 1, ax1), CVB_ERANGE,
              "index 3");
    /* Tile */
    int rep = ti("rep", 1, DIMS(2), I64(2, 2)), t = cvb__graph_tensor(G, "t");
    int xs = ti("xs", 2, DIMS(1, 2), I64(7, 8));
    CHECK_EQ_INT(run(CVB_OP_TILE, 2, IN(xs, rep), 1, IN(t), 0, NULL), 0);
    check_shape(t, 2, DIMS(2, 4));
    check_i64(t, 8, I64(7, 8, 7, 8, 7, 8, 7, 8));
    int rep3 = ti("rep3", 1, DIMS(2), I64(1, 0)), t2 = cvb__graph_tensor(G, "t2");
    CHECK_EQ_INT(run(CVB_OP_TILE, 2, IN(x, rep3), 1, IN(t2), 0, NULL), 0);
    check_shape(t2, 2, DIMS(2, 0));
    int rep1 = ti("rep1", 1, DIMS(1), I64(2)), t3 = cvb__graph_tensor(G, "t3");
    check_err(run(CVB_OP_TILE, 2, IN(x, rep1), 1, IN(t3), 0, NULL), CVB_ESHAPE, "rank 2");
}

static void test_mod_signs(void) {
    reset(17);
    int a = ti("a", 1, DIMS(4), I64(7, -7, 7, -7)), b = ti("b", 1, DIMS(4), I64(3, 3, -3, -3));
    int y = cvb__graph_tensor(G, "y"), y2 = cvb__graph_tensor(G, "y2");
    CHECK_EQ_INT(run(CVB_OP_MOD, 2, IN(a, b), 1, IN(y), 0, NULL), 0);
    check_i64(y, 4, I64(1, 2, -2, -1)); /* the divisor's sign */
    struct cvb_attr fm[] = {a_int("fmod", 1)};
    CHECK_EQ_INT(run(CVB_OP_MOD, 2, IN(a, b), 1, IN(y2), 1, fm), 0);
    check_i64(y2, 4, I64(1, -1, 1, -1)); /* the dividend's sign */
    int nc = ti("nc", 0, NULL, I64(80)), idx = ti("idx", 2, DIMS(1, 3), I64(0, 85, 6719));
    int y3 = cvb__graph_tensor(G, "y3");
    CHECK_EQ_INT(run(CVB_OP_MOD, 2, IN(idx, nc), 1, IN(y3), 0, NULL), 0);
    check_shape(y3, 2, DIMS(1, 3));
    check_i64(y3, 3, I64(0, 5, 79));
    int fa = tf("fa", 1, DIMS(2), F32(5.5f, -5.5f)), fb = tf("fb", 1, DIMS(2), F32(2, 2));
    int y4 = cvb__graph_tensor(G, "y4"), y5 = cvb__graph_tensor(G, "y5");
    CHECK_EQ_INT(run(CVB_OP_MOD, 2, IN(fa, fb), 1, IN(y4), 1, fm), 0);
    check_f32(y4, 2, F32(1.5f, -1.5f), 0);
    check_err(run(CVB_OP_MOD, 2, IN(fa, fb), 1, IN(y5), 0, NULL), CVB_EFORMAT, "fmod 0");
    int z = ti("z", 1, DIMS(4), I64(1, 0, 1, 1)), y6 = cvb__graph_tensor(G, "y6");
    check_err(run(CVB_OP_MOD, 2, IN(a, z), 1, IN(y6), 0, NULL), CVB_ERANGE, "by zero");
}

int main(void) {
    RUN(test_add_broadcast);
    RUN(test_broadcast_error_names_node);
    RUN(test_int_div_and_pow);
    RUN(test_conv_grouped_strided_padded);
    RUN(test_conv_auto_pad_and_dilation);
    RUN(test_conv_channel_mismatch);
    RUN(test_maxpool_ceil_and_indices);
    RUN(test_resize_nearest_modes);
    RUN(test_resize_linear_and_scales);
    RUN(test_slice_negative_steps);
    RUN(test_softmax_axis_by_opset);
    RUN(test_matmul_batch_broadcast);
    RUN(test_gather_negative_and_shape_ops);
    RUN(test_constants_and_conv3d);
    RUN(test_averagepool_ceil_and_pads);
    RUN(test_reduce_axes_and_keepdims);
    RUN(test_argmax_ties);
    RUN(test_topk_stable_ties);
    RUN(test_gather_elements_and_tile);
    RUN(test_mod_signs);
    cvb__graph_free(G);
    return test_summary();
}
