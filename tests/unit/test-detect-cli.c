/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench detect` end to end, on a tiny hand-built model whose output does
 * not depend on the picture: images [1,3,128,128] -> Conv (zero weights,
 * 8x8 stride 8) -> Reshape [1,84,256] -> Add a constant that holds four
 * known anchors. The boxes cvbench prints are therefore hand-computable:
 * dog.jpg 768x576 letterboxed to 128 has scale 1/6 and 16 rows of top pad.
 * An end-to-end twin (Conv to 6 channels -> Reshape [1,256,6] -> Add rows
 * x1,y1,x2,y2,score,class) stands for a YOLOv10/YOLO26 end2end head.
 * Also checks synthetic-weights labelling, --annotate naming, thresholds,
 * exit codes and the head line of `cvbench model info`. Runs the cvbench
 * binary next to this test executable. */
#include "cvb/video.h"
#include "onnx.pb-c.h"
#include "test.h"

#include <libgen.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#define DOG    "/usr/share/darknet/data/dog.jpg"
#define PERSON "/usr/share/darknet/data/person.jpg"

static char tmpdir[] = "/tmp/cvb-test-detect-cli-XXXXXX";
static char cvbench[1024];

/* ---- model --------------------------------------------------------------------- */

static Onnx__ValueInfoProto *value_info(const char *name, int ndim, const int64_t *dims) {
    static Onnx__TensorShapeProto__Dimension dimv[2][4];
    static Onnx__TensorShapeProto__Dimension *dimp[2][4];
    static Onnx__TensorShapeProto shape[2];
    static Onnx__TypeProto__Tensor tt[2];
    static Onnx__TypeProto type[2];
    static Onnx__ValueInfoProto vi[2];
    static int used;
    int k = used++;
    for (int i = 0; i < ndim; i++) {
        onnx__tensor_shape_proto__dimension__init(&dimv[k][i]);
        dimv[k][i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dimv[k][i].dim_value = dims[i];
        dimp[k][i] = &dimv[k][i];
    }
    onnx__tensor_shape_proto__init(&shape[k]);
    shape[k].n_dim = (size_t)ndim;
    shape[k].dim = dimp[k];
    onnx__type_proto__tensor__init(&tt[k]);
    tt[k].has_elem_type = 1;
    tt[k].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt[k].shape = &shape[k];
    onnx__type_proto__init(&type[k]);
    type[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type[k].tensor_type = &tt[k];
    onnx__value_info_proto__init(&vi[k]);
    vi[k].name = (char *)name;
    vi[k].type = &type[k];
    return &vi[k];
}

static void tensor(Onnx__TensorProto *t, const char *name, int dtype, int ndim, int64_t *dims,
                   void *data, size_t bytes) {
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->n_dims = (size_t)ndim;
    t->dims = dims;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = data;
}

enum { S = 128, N = 256, NC = 80 };

/* End-to-end rows of the e2e model: the same scene in x1,y1,x2,y2, the
 * duplicate dog kept (no NMS), and a row with class 85 under every default
 * threshold. */
static const float e2e_rows[6][6] = {
    {32, 48, 96, 80, 0.9f, 16}, {34, 48, 98, 80, 0.8f, 16}, {20, 20, 40, 40, 0.5f, 0},
    {54, 0, 74, 16, 0.4f, 2},   {0, 0, 10, 10, 0.1f, 85},
};

/* Write the model to 'path'; 'synthetic' adds cvbench.synthetic=true; 'e2e'
 * makes the end-to-end twin. */
static int write_model(const char *path, int synthetic, int e2e) {
    static float w[84 * 3 * 8 * 8], c[84 * N];
    memset(c, 0, sizeof c);
    /* anchor i: box (cx, cy, w, h) in model pixels, one class score */
    const struct {
        float cx, cy, w, h;
        int cls;
        float score;
    } a[4] = {
        {64, 64, 64, 32, 16, 0.9f}, /* dog (32,48,96,80) */
        {66, 64, 64, 32, 16, 0.8f}, /* the same dog, suppressed by NMS */
        {30, 30, 20, 20, 0, 0.5f},  /* person (20,20,40,40) */
        {64, 8, 20, 16, 2, 0.4f},   /* car in the top pad (54,0,74,16) */
    };
    for (int i = 0; i < 4; i++) {
        c[0 * N + i] = a[i].cx;
        c[1 * N + i] = a[i].cy;
        c[2 * N + i] = a[i].w;
        c[3 * N + i] = a[i].h;
        c[(4 + a[i].cls) * N + i] = a[i].score;
    }
    int64_t wd[4] = {84, 3, 8, 8}, cd[3] = {1, 84, N}, sd[1] = {3}, shape[3] = {1, 84, N};
    if (e2e) {
        memset(c, 0, sizeof c);
        memcpy(c, e2e_rows, sizeof e2e_rows);
        wd[0] = 6;
        cd[1] = shape[1] = N;
        cd[2] = shape[2] = 6;
    }
    Onnx__TensorProto tw, tc, ts;
    size_t wbytes = (size_t)wd[0] * 3 * 8 * 8 * sizeof(float);
    size_t cbytes = (size_t)cd[1] * (size_t)cd[2] * sizeof(float);
    tensor(&tw, "W", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, wd, w, wbytes);
    tensor(&tc, "C", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, cd, c, cbytes);
    tensor(&ts, "shape", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, sd, shape, sizeof shape);
    Onnx__TensorProto *inits[3] = {&tw, &tc, &ts};

    int64_t ks[2] = {8, 8}, st[2] = {8, 8};
    Onnx__AttributeProto attr[2];
    Onnx__AttributeProto *attrp[2] = {&attr[0], &attr[1]};
    for (int i = 0; i < 2; i++) {
        onnx__attribute_proto__init(&attr[i]);
        attr[i].has_type = 1;
        attr[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        attr[i].n_ints = 2;
    }
    attr[0].name = "kernel_shape";
    attr[0].ints = ks;
    attr[1].name = "strides";
    attr[1].ints = st;
    char *conv_in[2] = {"images", "W"}, *conv_out[1] = {"conv"};
    char *rs_in[2] = {"conv", "shape"}, *rs_out[1] = {"flat"};
    char *add_in[2] = {"flat", "C"}, *add_out[1] = {"output0"};
    Onnx__NodeProto nodes[3];
    Onnx__NodeProto *nodep[3] = {&nodes[0], &nodes[1], &nodes[2]};
    const char *ops[3] = {"Conv", "Reshape", "Add"};
    char **ins[3] = {conv_in, rs_in, add_in}, **outs[3] = {conv_out, rs_out, add_out};
    for (int i = 0; i < 3; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)ops[i];
        nodes[i].n_input = 2;
        nodes[i].input = ins[i];
        nodes[i].n_output = 1;
        nodes[i].output = outs[i];
    }
    nodes[0].n_attribute = 2;
    nodes[0].attribute = attrp;

    static int64_t in_dims[4] = {1, 3, S, S}, out_dims[3] = {1, 84, N};
    static int made;
    static Onnx__ValueInfoProto *in, *out;
    if (!made) {
        in = value_info("images", 4, in_dims);
        out = value_info("output0", 3, out_dims);
        made = 1;
    }
    /* the output's declared shape follows the model being written */
    out->type->tensor_type->shape->dim[1]->dim_value = shape[1];
    out->type->tensor_type->shape->dim[2]->dim_value = shape[2];
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = "fake";
    g.n_node = 3;
    g.node = nodep;
    g.n_initializer = 3;
    g.initializer = inits;
    g.n_input = 1;
    g.input = &in;
    g.n_output = 1;
    g.output = &out;

    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsetp = &opset;
    onnx__operator_set_id_proto__init(&opset);
    opset.domain = "";
    opset.has_version = 1;
    opset.version = 17;
    Onnx__StringStringEntryProto meta;
    Onnx__StringStringEntryProto *metap = &meta;
    onnx__string_string_entry_proto__init(&meta);
    meta.key = "cvbench.synthetic";
    meta.value = "true";

    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1;
    m.opset_import = &opsetp;
    m.producer_name = "test-detect-cli";
    m.graph = &g;
    if (synthetic) {
        m.n_metadata_props = 1;
        m.metadata_props = &metap;
    }
    size_t len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(&m, buf);
    FILE *f = fopen(path, "wb");
    int rc = f != NULL && fwrite(buf, 1, len, f) == len ? 0 : -1;
    if (f != NULL) fclose(f);
    free(buf);
    return rc;
}

/* ---- running cvbench -------------------------------------------------------------- */

static char out_buf[1 << 16], err_buf[1 << 12];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f != NULL ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL) fclose(f);
}

/* Run "cvbench SUB ARGS" (ARGS is shell text); returns the exit status
 * and leaves stdout/stderr in out_buf/err_buf. */
static int run_cvbench(const char *sub, const char *args) {
    char cmd[4096], o[256], e[256];
    snprintf(o, sizeof o, "%s/stdout", tmpdir);
    snprintf(e, sizeof e, "%s/stderr", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' %s %s >'%s' 2>'%s'", cvbench, sub, args, o, e);
    int st = system(cmd);
    slurp(o, out_buf, sizeof out_buf);
    slurp(e, err_buf, sizeof err_buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define HAS(buf, s)                                                                      \
    do {                                                                                 \
        if (strstr(buf, s) == NULL) fprintf(stderr, "  missing '%s' in:\n%s\n", s, buf); \
        CHECK(strstr(buf, s) != NULL);                                                   \
    } while (0)

static int detect(const char *args) {
    return run_cvbench("detect", args);
}

static int model_info(const char *args) {
    return run_cvbench("model info", args);
}

static char model[256], model_syn[256], model_e2e[256];

static void test_json(void) {
    char args[2048];
    snprintf(args, sizeof args, "--model '%s' --json " DOG, model);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"synthetic_weights\":false");
    HAS(out_buf, "\"path\":\"" DOG "\",\"width\":768,\"height\":576");
    /* dog: (32,48,96,80) -> x * 6, (y - 16) * 6 */
    HAS(out_buf, "{\"class_id\":16,\"class\":\"dog\",\"score\":0.9,\"box\":[192.00,192.00,576.00,"
                 "384.00]}");
    HAS(out_buf, "{\"class_id\":0,\"class\":\"person\",\"score\":0.5,\"box\":[120.00,24.00,"
                 "240.00,144.00]}");
    /* the car lies in the pad: clipped to a flat box on the top edge */
    HAS(out_buf, "\"class\":\"car\",\"score\":0.4,\"box\":[324.00,0.00,444.00,0.00]}");
    HAS(out_buf, "\"infer_ms\":");
    CHECK(strstr(out_buf, "\"score\":0.8") == NULL); /* suppressed duplicate */
    CHECK(strstr(out_buf, "not meaningful") == NULL);
    /* same answer from the reference kernels; stricter threshold drops all but the dog */
    snprintf(args, sizeof args, "--model '%s' --json --kernels ref --conf 0.6 " DOG, model);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"class\":\"dog\",\"score\":0.9,\"box\":[192.00,192.00,576.00,384.00]}],");
    snprintf(args, sizeof args, "--model '%s' --json --conf=0.95 " DOG, model);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"detections\":[]");
}

static void test_text_and_synthetic(void) {
    char args[2048];
    snprintf(args, sizeof args, "--model '%s' " DOG " " PERSON, model_syn);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "synthetic weights: detections are not meaningful");
    HAS(out_buf, DOG ": 768x576, 3 detections");
    HAS(out_buf, PERSON ": 640x424, 3 detections");
    HAS(out_buf, "dog");
    HAS(out_buf, "192.0");
    snprintf(args, sizeof args, "--model '%s' --json " DOG, model_syn);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"synthetic_weights\":true");
    HAS(out_buf, "\"warning\":\"synthetic weights: detections are not meaningful\"");
}

static void check_png(const char *path, int w, int h) {
    struct cvb_image img;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_image_load(path, &img, &err), 0);
    CHECK_EQ_INT(img.width, w);
    CHECK_EQ_INT(img.height, h);
    cvb_image_cleanup(&img);
    unlink(path);
}

static void test_annotate(void) {
    char args[2048], p[256];
    snprintf(args, sizeof args, "--model '%s' --annotate '%s/one.png' " DOG, model, tmpdir);
    CHECK_EQ_INT(detect(args), 0);
    snprintf(p, sizeof p, "%s/one.png", tmpdir);
    check_png(p, 768, 576);
    snprintf(args, sizeof args, "--model '%s' --annotate '%s/many.png' " DOG " " PERSON, model,
             tmpdir);
    CHECK_EQ_INT(detect(args), 0);
    snprintf(p, sizeof p, "%s/many-1.png", tmpdir);
    check_png(p, 768, 576);
    snprintf(p, sizeof p, "%s/many-2.png", tmpdir);
    check_png(p, 640, 424);
}

static void test_errors(void) {
    char args[2048], bad[256];
    snprintf(bad, sizeof bad, "%s/notes.txt", tmpdir);
    FILE *f = fopen(bad, "w");
    if (f != NULL) {
        fputs("not a picture\n", f);
        fclose(f);
    }
    snprintf(args, sizeof args, "--model '%s' --json " DOG " '%s'", model, bad);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, bad);
    HAS(err_buf, "not an image");
    CHECK(out_buf[0] == '\0'); /* no half-written JSON */
    unlink(bad);
    snprintf(args, sizeof args, "--model '%s/missing.onnx' " DOG, tmpdir);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, "missing.onnx");
    snprintf(args, sizeof args, "--model " DOG " " DOG); /* a picture as the model */
    CHECK_EQ_INT(detect(args), 2);
    CHECK_EQ_INT(detect(DOG), 2);
    HAS(err_buf, "--model is required");
    snprintf(args, sizeof args, "--model '%s'", model);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, "no IMAGE");
    snprintf(args, sizeof args, "--model '%s' --conf abc " DOG, model);
    CHECK_EQ_INT(detect(args), 2);
    snprintf(args, sizeof args, "--model '%s' --kernels gpu " DOG, model);
    CHECK_EQ_INT(detect(args), 2);
    snprintf(args, sizeof args, "--model '%s' --frobnicate " DOG, model);
    CHECK_EQ_INT(detect(args), 2);
    CHECK_EQ_INT(detect("--help"), 0);
    HAS(out_buf, "OUT-<n>.png");
}

/* An end-to-end output is only thresholded: the duplicate dog that NMS
 * drops from the v8 model stays; boxes map back as before. */
static void test_e2e(void) {
    char args[2048];
    snprintf(args, sizeof args, "--model '%s' --json " DOG, model_e2e);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "{\"class_id\":16,\"class\":\"dog\",\"score\":0.9,\"box\":[192.00,192.00,576.00,"
                 "384.00]}");
    HAS(out_buf, "{\"class_id\":16,\"class\":\"dog\",\"score\":0.8,\"box\":[204.00,192.00,588.00,"
                 "384.00]}");
    HAS(out_buf, "{\"class_id\":0,\"class\":\"person\",\"score\":0.5,\"box\":[120.00,24.00,"
                 "240.00,144.00]}");
    HAS(out_buf, "\"class\":\"car\",\"score\":0.4,\"box\":[324.00,0.00,444.00,0.00]}");
    CHECK(strstr(out_buf, "class85") == NULL); /* 0.1: under the threshold */
    /* --iou changes nothing: there is no NMS to run */
    snprintf(args, sizeof args, "--model '%s' --json --iou 0 --max-det 2 " DOG, model_e2e);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"score\":0.9,");
    HAS(out_buf, "\"score\":0.8,");
    CHECK(strstr(out_buf, "person") == NULL); /* third: over --max-det 2 */
    /* class 85 passes at conf 0.05: beyond COCO's 80 classes unless --classes */
    snprintf(args, sizeof args, "--model '%s' --json --conf 0.05 " DOG, model_e2e);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, "row 4");
    HAS(err_buf, "--classes");
    CHECK(out_buf[0] == '\0');
    snprintf(args, sizeof args, "--model '%s' --json --conf 0.05 --classes 86 " DOG, model_e2e);
    CHECK_EQ_INT(detect(args), 0);
    HAS(out_buf, "\"class_id\":85,\"class\":\"class85\",\"score\":0.1,");
    /* e2e forced on the v8 model's [1,84,256] is refused */
    snprintf(args, sizeof args, "--model '%s' --layout e2e " DOG, model);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, "not 6");
    snprintf(args, sizeof args, "--model '%s' --layout e3e " DOG, model);
    CHECK_EQ_INT(detect(args), 2);
    HAS(err_buf, "auto, v8, v5 or e2e");
}

/* `cvbench model info` names the head: v8 (synthetic weights) and e2e. */
static void test_model_info_head(void) {
    char args[1024];
    snprintf(args, sizeof args, "'%s'", model_syn);
    CHECK_EQ_INT(model_info(args), 0);
    HAS(out_buf, "synthetic weights");
    HAS(out_buf, "head:         yolov8 (anchor-free, [1,84,256]: 80 classes x 256 anchors, NMS on "
                 "the host)");
    snprintf(args, sizeof args, "--json '%s'", model_syn);
    CHECK_EQ_INT(model_info(args), 0);
    HAS(out_buf, "\"head\": {\"type\": \"yolov8\", \"description\": \"yolov8 (anchor-free");
    snprintf(args, sizeof args, "'%s'", model_e2e);
    CHECK_EQ_INT(model_info(args), 0);
    HAS(out_buf, "head:         end-to-end ([1,256,6]: top 256 boxes x1,y1,x2,y2,score,class, no "
                 "NMS");
    snprintf(args, sizeof args, "--json '%s'", model_e2e);
    CHECK_EQ_INT(model_info(args), 0);
    HAS(out_buf, "\"head\": {\"type\": \"end2end\"");
}

int main(int argc, char **argv) {
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return test_skip("cannot find this executable's directory");
    self[n] = '\0';
    snprintf(cvbench, sizeof cvbench, "%s/cvbench", dirname(self));
    if (access(cvbench, X_OK) != 0) return test_skip("cvbench is not built next to this test");
    if (access(DOG, R_OK) != 0 || access(PERSON, R_OK) != 0)
        return test_skip("darknet sample photos are missing (Debian package darknet)");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(model, sizeof model, "%s/fake.onnx", tmpdir);
    snprintf(model_syn, sizeof model_syn, "%s/fake-syn.onnx", tmpdir);
    snprintf(model_e2e, sizeof model_e2e, "%s/fake-e2e.onnx", tmpdir);
    if (write_model(model, 0, 0) != 0 || write_model(model_syn, 1, 0) != 0 ||
        write_model(model_e2e, 0, 1) != 0) {
        perror("writing test models");
        return 1;
    }
    RUN(test_json);
    RUN(test_text_and_synthetic);
    RUN(test_annotate);
    RUN(test_errors);
    RUN(test_e2e);
    RUN(test_model_info_head);
    char p[256];
    const char *names[] = {"fake.onnx", "fake-syn.onnx", "fake-e2e.onnx", "stdout", "stderr"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(names); i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
    rmdir(tmpdir);
    return test_summary();
}
