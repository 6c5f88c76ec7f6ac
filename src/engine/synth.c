/* SPDX-License-Identifier: Apache-2.0 */
/* Model synthesis: Ultralytics YOLO detection graphs with synthetic weights.
 *
 * Sits beside the engine: it builds an ONNX ModelProto with the protobuf-c
 * bindings generated at build time, runs it once through the engine's
 * reference kernels to calibrate the weights, and writes the result.
 *
 * The graph is the one Ultralytics 8.4's ONNX export writes (torch
 * exporter, opset 17, static shape, simplified), derived from
 * ultralytics/cfg/models/{v5/yolov5.yaml, v8/yolov8.yaml, 11/yolo11.yaml}
 * and ultralytics/nn/modules/{conv.py, block.py, head.py}, node for node
 * against real 8.4.190 exports (tests/integration/synth_vs_export.py):
 *   Conv      Conv2d with the BatchNorm folded into weight and bias, then SiLU
 *             exported as Sigmoid and Mul (act=False convs have neither);
 *   C2f       cv1, Split in two, n Bottlenecks on the last part, Concat, cv2;
 *   C3        cv1 -> n Bottlenecks, cv2, Concat, cv3 (v5u; C3k inside C3k2);
 *   C3k2      C2f whose blocks are Bottleneck(e=0.5) or C3k (YOLO11);
 *   SPPF      cv1, three MaxPool 5x5 (with dilations), Concat, cv2;
 *   C2PSA     cv1, Split, PSABlock (Attention: qkv conv, Reshape, Split,
 *             q times kd^-0.5, Transpose, MatMul, Softmax, Transpose,
 *             MatMul, Reshape, depthwise positional conv on v, Add, proj;
 *             then an FFN of two convs, each with a residual Add), Concat,
 *             cv2;
 *   Detect    8.4's head (synth_v9.c; build_graph() on its node order): per
 *             level a box branch (cv2: Conv 3x3, Conv 3x3, Conv2d 1x1 to
 *             4 x 16 DFL bins) and a class branch (cv3: two Conv 3x3 for the
 *             "legacy" v5u/v8 head, two DWConv+Conv pairs for YOLO11), each
 *             reshaped to [1, C, HW] on its own;
 *             Concat of the box maps and of the class maps across levels,
 *             DFL (Reshape, Transpose, Softmax, fixed Conv 0..15, Reshape),
 *             Sigmoid on the classes, dist2bbox (two Slices, Sub, Add, Add,
 *             Div, Sub, Concat), Mul by the strides, Concat to output0.
 *   --end2end corner boxes and Ultralytics 8.4's top-K tail to output0
 *             [1, K, 6] ("end-to-end head" below); --nms corner boxes and
 *             8.4's nms=True tail ("in-graph NMS" below).
 * Node, tensor and initializer names follow the exporter's scheme
 * ("/model.2/m.0/cv1/conv/Conv", "model.2.m.0.cv1.conv.weight").
 *
 * Weights and the data-dependent init:
 *  1. Every convolution gets N(0, 1/fan_in) weights and zero bias from a
 *     splitmix64 stream seeded with the user's seed, in graph order. The
 *     weights live in struct synth (not in the protobuf) so that graphs of
 *     different sizes share them.
 *  2. The graph is built at the requested size (at most
 *     CVB_SYNTH_CALIB_MAX_IMGSZ: a random network is far from scale-robust, so
 *     calibrating at the deployed size matters), loaded with the reference
 *     kernels and run once on cvb_synth_calib_image(). An engine observer
 *     sees each Conv's output, normalises it per channel to a target mean
 *     and std (BatchNorm with batch statistics), and folds the same affine
 *     map into that conv's weights, so later layers see calibrated inputs.
 *     In YOLO11's attention the q^T k logits are tempered to a trained
 *     model's spread (q and k channels of the qkv conv scaled by sqrt f).
 *  3. The planted detector (below) sets the class branch's final convs;
 *     its colour and peak channels were written when the weights were
 *     created, and the observer leaves them alone. The anchors scoring
 *     above 0.25 are then counted over a handful of procedural inputs run
 *     with the oneDNN kernels (calibrate_scores(); reported, not tuned).
 *  4. The graph is rebuilt at the requested size with the fixed weights and
 *     serialized. No timestamp or host detail enters the file: the same
 *     options give the same bytes. */
#include "cvb/synth.h"
#include "cvb/engine.h"

#include "onnx.pb-c.h"
#include "synth_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "synth.c writes raw_data in host byte order; ONNX raw_data is little-endian"
#endif

#define OPSET 17
#define IR_VERSION 8
#define NC 80
#define REG_MAX 16
#define MAX_IMGSZ 4096
#define MAX_SCOPE 256
#define MAX_ATTN 8 /* attention blocks per model (yolo12n: 8 ABlocks) */

const char *const cvb_synth_archs[] = {"yolov5nu", "yolov8n", "yolov8s", "yolo11n", "yolov9t",
                                        "yolov10n", "yolo12n", "yolo26n", NULL};

/* ==== PRNG: splitmix64 + Box-Muller ======================================= */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() in Box-Muller is finite. */
static double rng_uniform(uint64_t *s) { return ((double)(splitmix64(s) >> 11) + 0.5) * 0x1.0p-53; }

static double rng_normal(uint64_t *s) {
    double u1 = rng_uniform(s), u2 = rng_uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ==== arena for protobuf pieces =========================================== */

struct arena_blk {
    struct arena_blk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

/* ==== synthesis state ===================================================== */

/* The planted detector (header comment, "Class scores"): what a conv does
 * with the PLANT_K carried channels, fixed when its weights are created. */
enum plant {
    PL_NONE = 0,
    PL_STEM,     /* first conv: colour-opponent means of the RGB input */
    PL_PASS,     /* carries the input's planted channels on (mean or centre tap) */
    PL_ZERO,     /* residual branch: exact zeros where the shortcut carries them */
    PL_GAIN,     /* SPPF cv1: soft threshold below the peak range, gain above */
    PL_LOCALMAX, /* SPPF cv2: peak indicator from x and its 5x5 max */
    PL_CLS,      /* class conv reading peak indicators */
    PL_NMSGAIN,  /* no SPPF: colour thresholded and amplified for int8 (depthwise) */
    PL_FANOUT,   /* no SPPF: PLANT_NMS_CH copies of each colour channel (1x1) */
    PL_NBR,      /* no SPPF: colour and its 8 neighbour differences (depthwise 3x3) */
    PL_PEAKSUM,  /* no SPPF: peak indicator from colour and differences (1x1) */
    PL_ZSLOT,    /* exact zeros in channels 0..K-1, the input's planted ones carried on
                    in K..2K-1 (F_PLANT_ZSLOT: YOLO26's SPPF shortcut) */
};

/* One convolution's weights (BN folded). Owned by struct synth; graphs point
 * at them through raw_data without copying. */
struct conv_w {
    char *node;     /* exporter's node name, e.g. "/model.0/conv/Conv"; malloc'd */
    int cout, cin_g, k;
    enum conv_role role;
    float *w;       /* cout * cin_g * k * k */
    float *b;       /* cout, or NULL (DFL) */
    int seen;       /* calibration: times the observer normalised it */
    enum plant plant;
    int plant_in;      /* input channel of planted channel 0 (PL_LOCALMAX: of x) */
    int plant_in2;     /* PL_LOCALMAX: input channel of the 5x5 max of channel 0 */
    float plant_ofs;   /* value offset the input's planted channels carry */
    float plant_gain;  /* and their gain (val.dgain; 1 when 0) */
    float plant_boost; /* PL_PASS: the factor it multiplies that gain by (F_PLANT_BOOST) */
};

enum arch_id { ARCH_V5NU = 0, ARCH_V8N, ARCH_V8S, ARCH_11N, ARCH_V9T, ARCH_V10N, ARCH_12N, ARCH_26N };

struct arch {
    const char *name;
    enum arch_id id;
    const char *desc; /* as Ultralytics' metadata "description" names it */
    double depth, width;
    int max_ch;
    bool end2end; /* accepts --end2end: an anchor-free Detect head (e2e_tail()) */
};

static const struct arch archs[] = {
    {"yolov5nu", ARCH_V5NU, "Ultralytics YOLOv5nu model", 0.33, 0.25, 1024, true},
    {"yolov8n", ARCH_V8N, "Ultralytics YOLOv8n model", 0.33, 0.25, 1024, true},
    {"yolov8s", ARCH_V8S, "Ultralytics YOLOv8s model", 0.33, 0.50, 1024, true},
    {"yolo11n", ARCH_11N, "Ultralytics YOLO11n model", 0.50, 0.25, 1024, true},
    {"yolov9t", ARCH_V9T, "Ultralytics YOLOv9t model ", 1.0, 1.0, 1024, false}, /* synth_v9.c */
    {"yolov10n", ARCH_V10N, "Ultralytics YOLOv10n model ", 0.33, 0.25, 1024, true}, /* synth_v10.c */
    {"yolo12n", ARCH_12N, "Ultralytics YOLO12n model ", 0.50, 0.25, 1024, false}, /* synth_v12.c */
    {"yolo26n", ARCH_26N, "Ultralytics YOLO26n model ", 0.50, 0.25, 1024, true}, /* synth_v26.c */
};

struct name_count {
    char *key; /* "<scope>/<op>" */
    int n;
};

struct synth {
    const struct arch *arch;
    uint64_t seed, rng;
    int imgsz;             /* of the graph being built */
    int rc;                /* first error while building; builders no-op once set */
    struct cvb_err *err;

    /* weights, persistent across builds */
    struct conv_w *convs;
    int n_convs, cap_convs;
    int conv_cursor;       /* next conv index in the graph being built */

    /* graph being built */
    struct arena_blk *arena;
    Onnx__NodeProto **nodes;
    int n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    int n_inits, cap_inits;
    struct name_count *names;
    int n_names, cap_names;
    char scope[MAX_SCOPE];
    int64_t n_params;
    double macs;
    /* attention logits (C2PSA, YOLO12's AAttn) of the graph being built,
     * for calibration */
    int n_attn;
    const char *attn_out[MAX_ATTN]; /* scaled q^T k tensor, [areas, heads, N, N] */
    int64_t attn_dims[MAX_ATTN][4];
    int attn_qkv[MAX_ATTN];         /* index of the qkv conv in convs */
    bool attn_prescaled[MAX_ATTN];  /* its MatMul already has the hd^-0.5 scale (AAttn) */
    bool pack_attn;          /* pack_model(): expose attn_out as graph outputs */
    bool plant;              /* plant the detector (off with no_calib) */
    bool fresh;              /* next_conv_w() created the weights it returned */
    bool end2end;            /* final build only: end-to-end tail (e2e_tail()) */
    bool nms;                /* final build only: corner boxes and the in-graph NMS tail */
    /* cvb__synth_weights_alias(): convs whose node names contain alias_from
     * take the weights of the one named with alias_from removed (NULL: off) */
    const char *alias_from;
    bool e2e_names;          /* --end2end asked: every build names the head as the final one
                                (yolo26n's one2one_ branches; cvb__synth_e2e_names()) */
};

static const struct val NOVAL = {.name = NULL};

static int fail(struct synth *s, int code, const char *what) {
    if (s->rc == 0) s->rc = cvb_err_set(s->err, code, "model synth (%s): %s", s->arch->name, what);
    return s->rc;
}

static void *arena_alloc(struct synth *s, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (s->arena == NULL || s->arena->cap - s->arena->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        struct arena_blk *b = malloc(sizeof(*b) + cap);
        if (b == NULL) {
            fail(s, CVB_ENOMEM, "out of memory building the graph");
            return NULL;
        }
        b->next = s->arena;
        b->used = 0;
        b->cap = cap;
        s->arena = b;
    }
    void *p = s->arena->data + s->arena->used;
    s->arena->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_printf(struct synth *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *arena_printf(struct synth *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(s, (size_t)n + 1);
    if (p == NULL) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

/* Forget the graph being built (weights stay). */
static void graph_reset(struct synth *s) {
    while (s->arena != NULL) {
        struct arena_blk *b = s->arena;
        s->arena = b->next;
        free(b);
    }
    for (int i = 0; i < s->n_names; i++) free(s->names[i].key);
    s->n_names = 0;
    s->n_nodes = s->n_inits = 0;
    s->scope[0] = '\0';
    s->n_params = 0;
    s->macs = 0;
    s->conv_cursor = 0;
    s->n_attn = 0;
}

static void synth_cleanup(struct synth *s) {
    graph_reset(s);
    free(s->names);
    free(s->nodes);
    free(s->inits);
    for (int i = 0; i < s->n_convs; i++) {
        free(s->convs[i].node);
        free(s->convs[i].w);
        free(s->convs[i].b);
    }
    free(s->convs);
}

static int grow(struct synth *s, void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return 0;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (p == NULL) return fail(s, CVB_ENOMEM, "out of memory building the graph");
    *arr = p;
    *cap = ncap;
    return 0;
}

/* ---- scopes and names ----------------------------------------------------
 * The torch exporter names a node "<scope>/<Op>[_k]" where the scope is the
 * chain of module names and k counts earlier nodes of that op in the same
 * scope; its outputs are "<node>_output_<i>". */

static size_t scope_push(struct synth *s, const char *comp) {
    size_t mark = strlen(s->scope);
    int n = snprintf(s->scope + mark, MAX_SCOPE - mark, "/%s", comp);
    if (n < 0 || (size_t)n >= MAX_SCOPE - mark) fail(s, CVB_EINTERNAL, "scope name too long");
    return mark;
}

static void scope_pop(struct synth *s, size_t mark) { s->scope[mark] = '\0'; }

static char *node_name(struct synth *s, const char *op) {
    char key[MAX_SCOPE + 32];
    snprintf(key, sizeof key, "%s/%s", s->scope, op);
    for (int i = 0; i < s->n_names; i++) {
        if (strcmp(s->names[i].key, key) == 0) {
            int k = s->names[i].n++;
            return arena_printf(s, "%s_%d", key, k);
        }
    }
    if (grow(s, (void **)&s->names, &s->cap_names, s->n_names + 1, sizeof(*s->names)) < 0)
        return NULL;
    char *dup = strdup(key);
    if (dup == NULL) {
        fail(s, CVB_ENOMEM, "out of memory building the graph");
        return NULL;
    }
    s->names[s->n_names].key = dup;
    s->names[s->n_names].n = 1;
    s->n_names++;
    return arena_printf(s, "%s", key);
}

/* "/model.2/m.0/cv1/conv" + ".weight" -> "model.2.m.0.cv1.conv.weight" */
static char *param_name(struct synth *s, const char *suffix) {
    char *p = arena_printf(s, "%s.%s", s->scope[0] == '/' ? s->scope + 1 : s->scope, suffix);
    if (p == NULL) return NULL;
    for (char *q = p; *q; q++)
        if (*q == '/') *q = '.';
    return p;
}

/* ---- protobuf pieces ------------------------------------------------------ */

/* Add a node of 'op' in the current scope with inputs in[0..n_in) (NULL or
 * "" = absent optional input) and n_out outputs named after the node. */
static Onnx__NodeProto *add_node(struct synth *s, const char *op, int n_in, const char *const *in,
                                 int n_out) {
    if (s->rc < 0) return NULL;
    if (grow(s, (void **)&s->nodes, &s->cap_nodes, s->n_nodes + 1, sizeof(*s->nodes)) < 0)
        return NULL;
    Onnx__NodeProto *n = arena_alloc(s, sizeof(*n));
    char **ins = arena_alloc(s, sizeof(char *) * (size_t)n_in);
    char **outs = arena_alloc(s, sizeof(char *) * (size_t)n_out);
    Onnx__AttributeProto **attrs = arena_alloc(s, sizeof(*attrs) * 8);
    char *name = node_name(s, op);
    if (n == NULL || ins == NULL || outs == NULL || attrs == NULL || name == NULL) return NULL;
    onnx__node_proto__init(n);
    n->name = name;
    n->op_type = (char *)op;
    n->n_input = (size_t)n_in;
    n->input = ins;
    for (int i = 0; i < n_in; i++) ins[i] = (char *)(in[i] != NULL ? in[i] : "");
    n->n_output = (size_t)n_out;
    n->output = outs;
    for (int i = 0; i < n_out; i++)
        if ((outs[i] = arena_printf(s, "%s_output_%d", name, i)) == NULL) return NULL;
    n->attribute = attrs;
    s->nodes[s->n_nodes++] = n;
    return n;
}

static Onnx__AttributeProto *add_attr(struct synth *s, Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type) {
    if (n == NULL || n->n_attribute >= 8) {
        if (n != NULL) fail(s, CVB_EINTERNAL, "too many attributes");
        return NULL;
    }
    Onnx__AttributeProto *a = arena_alloc(s, sizeof(*a));
    if (a == NULL) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char *)name;
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void attr_int(struct synth *s, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = add_attr(s, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a == NULL) return;
    a->has_i = 1;
    a->i = v;
}

static void attr_float(struct synth *s, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = add_attr(s, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a == NULL) return;
    a->has_f = 1;
    a->f = v;
}

static void attr_str(struct synth *s, Onnx__NodeProto *n, const char *name, const char *v) {
    Onnx__AttributeProto *a = add_attr(s, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    if (a == NULL) return;
    a->has_s = 1;
    a->s.data = (uint8_t *)v;
    a->s.len = strlen(v);
}

static void attr_ints(struct synth *s, Onnx__NodeProto *n, const char *name, int cnt,
                      const int64_t *v) {
    Onnx__AttributeProto *a = add_attr(s, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = arena_alloc(s, sizeof(int64_t) * (size_t)cnt);
    if (a == NULL || copy == NULL) return;
    memcpy(copy, v, sizeof(int64_t) * (size_t)cnt);
    a->n_ints = (size_t)cnt;
    a->ints = copy;
}

/* Add an initializer. 'data' is referenced, not copied, unless 'copy'. */
static const char *add_init(struct synth *s, const char *name, int dtype, int ndim,
                            const int64_t *dims, const void *data, size_t bytes, int copy) {
    if (s->rc < 0 || name == NULL) return NULL;
    if (grow(s, (void **)&s->inits, &s->cap_inits, s->n_inits + 1, sizeof(*s->inits)) < 0)
        return NULL;
    Onnx__TensorProto *t = arena_alloc(s, sizeof(*t));
    int64_t *d = arena_alloc(s, sizeof(int64_t) * (size_t)(ndim > 0 ? ndim : 1));
    void *buf = copy ? arena_alloc(s, bytes) : (void *)data;
    if (t == NULL || d == NULL || buf == NULL) return NULL;
    if (copy) memcpy(buf, data, bytes);
    onnx__tensor_proto__init(t);
    t->name = (char *)name;
    t->n_dims = (size_t)ndim;
    memcpy(d, dims, sizeof(int64_t) * (size_t)ndim);
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->has_raw_data = 1;
    t->raw_data.data = buf;
    t->raw_data.len = bytes;
    s->inits[s->n_inits++] = t;
    return name;
}

static const char *init_i64(struct synth *s, const char *name, int n, const int64_t *v) {
    int64_t dims[1] = {n};
    return add_init(s, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, dims, v,
                    sizeof(int64_t) * (size_t)n, 1);
}

static const char *init_f32_scalar(struct synth *s, const char *name, float v) {
    return add_init(s, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &v, sizeof v, 1);
}

/* ==== layers ============================================================== */

static int make_divisible8(double x) { return (int)ceil(x / 8.0) * 8; }

/* Output channels of a layer whose yaml says 'c' (parse_model's scaling). */
static int ch(const struct synth *s, int c) {
    int m = c < s->arch->max_ch ? c : s->arch->max_ch;
    return make_divisible8(m * s->arch->width);
}

/* Repeats of a block whose yaml says 'n'. */
static int reps(const struct synth *s, int n) {
    if (n <= 1) return n;
    int r = (int)lround(n * s->arch->depth);
    return r > 1 ? r : 1;
}

/* Whether 'node' names the conv whose weights were created as 'stored':
 * equal, but for every occurrence of s->alias_from in 'node'. */
static bool same_conv(const struct synth *s, const char *stored, const char *node) {
    size_t al = s->alias_from != NULL ? strlen(s->alias_from) : 0;
    while (*node != '\0') {
        if (al > 0 && strncmp(node, s->alias_from, al) == 0) {
            node += al;
            continue;
        }
        if (*stored++ != *node++) return false;
    }
    return *stored == '\0';
}

/* The weights of the next conv in graph order: created (He-init) on the
 * first build, reused by later builds of the same architecture. */
static struct conv_w *next_conv_w(struct synth *s, const char *node, int cout, int cin_g, int k,
                                  int bias, enum conv_role role) {
    int i = s->conv_cursor++;
    s->fresh = false;
    if (i < s->n_convs) {
        struct conv_w *cw = &s->convs[i];
        if (cw->cout != cout || cw->cin_g != cin_g || cw->k != k || !same_conv(s, cw->node, node)) {
            fail(s, CVB_EINTERNAL, "conv weights out of step between builds");
            return NULL;
        }
        return cw;
    }
    if (grow(s, (void **)&s->convs, &s->cap_convs, s->n_convs + 1, sizeof(*s->convs)) < 0)
        return NULL;
    struct conv_w *cw = &s->convs[s->n_convs];
    memset(cw, 0, sizeof(*cw));
    size_t nw = (size_t)cout * cin_g * k * k;
    cw->node = strdup(node);
    cw->w = malloc(nw * sizeof(float));
    cw->b = bias ? calloc((size_t)cout, sizeof(float)) : NULL;
    if (cw->node == NULL || cw->w == NULL || (bias && cw->b == NULL)) {
        free(cw->node);
        free(cw->w);
        free(cw->b);
        fail(s, CVB_ENOMEM, "out of memory for weights");
        return NULL;
    }
    cw->cout = cout;
    cw->cin_g = cin_g;
    cw->k = k;
    cw->role = role;
    s->n_convs++;
    s->fresh = true;
    if (role == ROLE_DFL) {
        for (size_t j = 0; j < nw; j++) cw->w[j] = (float)j; /* DFL: arange(16) */
    } else {
        double sd = 1.0 / sqrt((double)cin_g * k * k);
        for (size_t j = 0; j < nw; j++) cw->w[j] = (float)(rng_normal(&s->rng) * sd);
    }
    return cw;
}


/* ==== the planted detector ================================================
 *
 * A random network's class logits are a continuous function of features
 * that every lower precision perturbs by a few per cent, so a threshold at
 * 0.25 always has anchors within the noise of it: int8 and bf16 flip them
 * (measured with the earlier bounded-logit head: F1 vs fp32 0.32-1.0, mean
 * 0.67 for int8 and 0.94 for bf16, yolov8n 320). A trained detector's scores
 * are not like that: a few anchors far above the threshold, the rest far
 * below, and the anchors in between are neighbours of a peak that NMS
 * removes. The planted detector gives the synthetic model that structure
 * with PLANT_K designated channels routed through the unchanged Ultralytics
 * topology (weights only; compute is the same):
 *  - the stem writes, per channel, a red/green/blue colour-opponent mean of
 *    its receptive field, PLANT_STEM_GAIN x (c - mean of the other two),
 *    around PLANT_OFS, where SiLU is close to the identity (written as
 *    silu(P + d / slope) with silu(P) = PLANT_OFS: plant_operating_point());
 *    a model without an SPPF multiplies the gain by PLANT_NMS_CGAIN
 *    (plant_colour_gain(), plant_nms_weights());
 *  - every later conv whose input carries them copies them on (the mean of
 *    the kernel's taps below stride PLANT_AVG_MAXSTRIDE, the centre tap
 *    above, so that the P5 map keeps the contrast of ~7-pixel windows: the
 *    wider means measured flat-topped at P5, where int8's step then ties
 *    neighbouring cells); a residual branch writes exact zeros under them
 *    (silu(0) = 0) so that the shortcut's Add passes them on unchanged;
 *    Concat keeps the group furthest along (peaks over colour) live and
 *    the others, like Resize's copies, excluded: no conv reads an excluded
 *    or live planted channel with a random weight (plant_isolate()), so the
 *    random part of the network never sees them;
 *  - SPPF's cv1 applies a soft threshold and a gain: silu(PLANT_GAIN_S x
 *    (colour - PLANT_T + PLANT_SOFT)), about 0 below the peak range;
 *  - SPPF's cv2, which sees x and its 5x5 max-pool side by side, writes
 *    silu(q (127 x - 124 max5(x)) - 3 q PLANT_GAIN_S PLANT_SOFT), q =
 *    PLANT_LM_Q: about 3 q PLANT_GAIN_S (colour - PLANT_T) at local maxima
 *    of the colour map and far below 0 elsewhere -- non-maximum suppression
 *    inside the network. The weights 127 q and -124 q are exact under
 *    per-channel int8 (scale q) and bf16, and x and its max share one
 *    quantisation grid, so int8 computes the same maxima but for ties;
 *  - without an SPPF (YOLO12), the P5 class branch's four convs do the
 *    same over 3x3 neighbourhoods (plant_nms_weights());
 *  - the P5 class conv maps peak channel k to one class (plant_class())
 *    with weight PLANT_CLS_W over a bias of PLANT_CLS_BIAS: scores from
 *    0.25 to ~0.95 over the peaks' range. Every other class logit is the
 *    bias plus a random part bounded above for any input (class_weights()),
 *    at most ~0.08, and P3/P4 detect nothing: the detections are P5's
 *    (stride 32, the large-object level).
 *  - YOLO26 (synth_v26.c): its SPPF adds its input to its output, so the
 *    conv before it (F_PLANT_ZSLOT) writes exact zeros in channels 0..K-1
 *    and carries the colour maps in K..2K-1, and the Add passes SPPF's
 *    peaks over those zeros (val.zpos); convs with F_PLANT_BOOST carry the
 *    peaks on with PLANT_BOOST x their deviation (val.dgain), which the
 *    class conv divides back, so that int8's per-tensor steps over wide
 *    random ranges (attention's residual outputs) move the scores less.
 * Boxes: the box branch's final convs keep only their bias, a fixed prior
 * per side and bin (box_weights()): every anchor of a level predicts a box
 * about 6 strides wide, which no lower precision's noise moves. (Random
 * box logits swung boxes by 100+ pixels between fp32 and int8.) */
#define PLANT_K 3
#define PLANT_OFS 10.0
#define PLANT_AVG_MAXSTRIDE 4
#define PLANT_STEM_GAIN 24.0
#define PLANT_GAIN_S 1.5
#define PLANT_SOFT 1.2
#define PLANT_LM_Q (1.0 / 6.0)
#define PLANT_T 0.3
#define PLANT_CLS_W 0.6
#define PLANT_CLS_BIAS (-3.0)
#define PLANT_CLS_RAND_L1 2.0
#define PLANT_BOOST 2.0
#define SILU_MIN (-0.27846)
#define PLANT_NMS_CH 9 /* colour + its 8 neighbours (no SPPF: plant_nms_weights()) */
#define PLANT_NMS_G 6.0
#define PLANT_NMS_CGAIN 3.0
#define PLANT_NMS_BIAS (-8.0)
#define PLANT_NMS_A (3.0 * PLANT_LM_Q * PLANT_GAIN_S)
#define PLANT_NMS_BETA (127.0 * PLANT_NMS_A / PLANT_NMS_G)

static const double plant_colour[PLANT_K][3] = {
    {1.0, -0.5, -0.5}, /* red */
    {-0.5, 1.0, -0.5}, /* green */
    {-0.5, -0.5, 1.0}, /* blue */
};

/* The class planted peak channel k scores as: distinct, fixed by the seed. */
static int plant_class(const struct synth *s, int k) {
    return (int)((s->seed * 7u + 16u + 27u * (unsigned)k) % NC);
}

/* Record group 'pos1' (a dpos) as no longer live in y. */
static void val_exclude(struct val *y, int pos1) {
    if (pos1 <= 0) return;
    for (int i = 0; i < PLANT_MAX_EX; i++) {
        if (y->ex[i] == pos1) return;
        if (y->ex[i] == 0) {
            y->ex[i] = pos1;
            return;
        }
    }
}

/* What a conv (not yet created) does with x's planted channels. */
static enum plant plant_decide(const struct synth *s, struct val x, int c2, int g, int flags,
                               enum conv_role role, int *pin, float *pofs) {
    *pin = x.dpos - 1;
    *pofs = x.dofs;
    if (!s->plant || (flags & F_NOPLANT) || role == ROLE_BOX || role == ROLE_DFL) return PL_NONE;
    if (x.dpos == 0) {
        bool stem = strcmp(x.name, "images") == 0 && x.c == 3 && g == 1 && c2 >= PLANT_K;
        *pin = 0;
        *pofs = 0;
        return stem && role == ROLE_PLAIN ? PL_STEM : PL_NONE;
    }
    if (role == ROLE_CLS) return x.dkind == DK_PEAK && g == 1 ? PL_CLS : PL_NONE;
    if (flags & F_PLANT_NMSGAIN)
        return x.dkind == DK_COLOUR && g == x.c && c2 == x.c && x.dpos == 1 ? PL_NMSGAIN : PL_NONE;
    if (flags & F_PLANT_FANOUT)
        return x.dkind == DK_NMSIN && g == 1 && c2 >= PLANT_K * PLANT_NMS_CH ? PL_FANOUT : PL_NONE;
    if (flags & F_PLANT_NBR)
        return x.dkind == DK_FAN && g == x.c && c2 == x.c && x.dpos == 1 ? PL_NBR : PL_NONE;
    if (flags & F_PLANT_PEAKSUM)
        return x.dkind == DK_NBR && g == 1 && x.dpos - 1 + PLANT_K * PLANT_NMS_CH <= x.c
                   ? PL_PEAKSUM : PL_NONE;
    if (x.dkind != DK_COLOUR && x.dkind != DK_PEAK) return PL_NONE;
    if (c2 < PLANT_K || x.dpos - 1 + PLANT_K > x.c) return PL_NONE;
    if (g != 1 && !(g == x.c && c2 == x.c && x.dpos == 1)) return PL_NONE; /* depthwise only */
    if (flags & F_PLANT_ZERO) return PL_ZERO;
    if (flags & F_PLANT_ZSLOT) return c2 >= 2 * PLANT_K ? PL_ZSLOT : PL_NONE;
    if (flags & F_PLANT_GAIN) return x.dkind == DK_COLOUR ? PL_GAIN : PL_NONE;
    if (flags & F_PLANT_LOCALMAX) return x.dkind == DK_COLOUR && x.dpos - 1 + PLANT_K <= x.c / 4
                                             ? PL_LOCALMAX : PL_NONE;
    return PL_PASS;
}

/* SiLU's inverse at PLANT_OFS and its slope there: a carried channel is
 * written as silu(P + (v - offset) / slope), about PLANT_OFS + (v - offset). */
static void plant_operating_point(double *p, double *slope) {
    double x = PLANT_OFS;
    for (int i = 0; i < 50; i++) { /* Newton on x * sigmoid(x) = PLANT_OFS */
        double sg = 1.0 / (1.0 + exp(-x)), f = x * sg - PLANT_OFS, d = sg + x * sg * (1 - sg);
        x -= f / d;
    }
    double sg = 1.0 / (1.0 + exp(-x));
    *p = x;
    *slope = sg + x * sg * (1 - sg);
}

/* The gain at which the stem writes the colour, carried through the
 * backbone (PLANT_NMS_CGAIN without an SPPF: plant_nms_weights(); 1
 * elsewhere). */
static double plant_colour_gain(const struct synth *s) {
    return s->arch->id == ARCH_12N ? PLANT_NMS_CGAIN : 1.0;
}


/* Output channels a conv plants (the observer and plant_isolate() leave
 * them alone). */
static int plant_rows(const struct conv_w *cw) {
    if (cw->plant == PL_NONE || cw->plant == PL_CLS) return 0;
    if (cw->plant == PL_FANOUT || cw->plant == PL_NBR) return PLANT_K * PLANT_NMS_CH;
    return cw->plant == PL_ZSLOT ? 2 * PLANT_K : PLANT_K;
}

/* Zero the weights by which output channels that are not planted would
 * read planted input channels (the live group and the excluded ones), so
 * that the random network never sees them. */
static void plant_isolate(struct conv_w *cw, struct val x, int g) {
    size_t taps = (size_t)cw->k * cw->k, per = (size_t)cw->cin_g * taps;
    int first = plant_rows(cw);
    int groups[1 + PLANT_MAX_EX], n = 0;
    if (x.dpos > 0) groups[n++] = x.dpos - 1;
    for (int i = 0; i < PLANT_MAX_EX; i++)
        if (x.ex[i] > 0) groups[n++] = x.ex[i] - 1;
    for (int j = 0; j < n; j++) {
        int p0 = groups[j], p1 = groups[j] + PLANT_K < x.c ? groups[j] + PLANT_K : x.c;
        if (g == 1) {
            for (int r = first; r < cw->cout; r++)
                memset(cw->w + (size_t)r * per + (size_t)p0 * taps, 0,
                       (size_t)(p1 - p0) * taps * sizeof(float));
        } else if (g == x.c && cw->cin_g == 1) { /* depthwise: row r reads channel r */
            for (int r = p0 > first ? p0 : first; r < p1; r++)
                memset(cw->w + (size_t)r * per, 0, per * sizeof(float));
        }
    }
}

/* The local-max stage of a model without an SPPF (F_PLANT_NMSGAIN,
 * _FANOUT, _NBR, _PEAKSUM; p, slope: plant_operating_point(); cgain:
 * plant_colour_gain()), in the P5 class branch. Laid out for int8, whose
 * activation scale is one per tensor (quant.h: a 1x1 conv reads its input
 * as u8 over the calibrated [min, max]; depthwise convs run in float32),
 * so that every u8 tensor on the colour's way spends its 255 steps on the
 * colour range that decides peaks, and every conv weight is exact:
 *  - the backbone carries the colour at PLANT_NMS_CGAIN x the stem's gain.
 *    Its late tensors' u8 ranges (~80-130) are set by the random channels,
 *    ~4x the colour's PLANT_OFS + ~23: at gain 1 each requantisation (the
 *    last one at P5 a grid of 0.34 colour units, seed 1) moved colours
 *    (P5 error std 0.17) and tied neighbours, flipping peaks at the
 *    threshold and suppressions. At gain 3 the colour spans about the
 *    random range (the early tensors, whose range the colour sets, keep
 *    their precision per colour unit) and P5's error std is ~0.03. Colours
 *    below -PLANT_OFS / 3 are cut by SiLU: far below any peak;
 *  - the first depthwise conv writes y = silu(PLANT_NMS_G (colour -
 *    PLANT_T)): about 0 where no peak can be (the peak conv gives 0 there
 *    anyway), PLANT_NMS_G x the colour above. The 1x1 fan-out reads y as
 *    u8, whose scale the larger of y's calibrated top (~130) and the random
 *    channels' (~125) sets: one step is ~0.09 colour units, where the
 *    colour carried as PLANT_OFS + colour got ~0.5;
 *  - the fan-out (1x1) writes PLANT_NMS_CH copies of y, channel 9k + m for
 *    colour k, as silu(p + y / slope) ~ PLANT_OFS + y (float32: its reader
 *    is depthwise); its one weight per row is exact;
 *  - the neighbour conv (depthwise 3x3, float32) writes, m = 0, the colour
 *    as silu(PLANT_NMS_BETA y) ~ 127 PLANT_NMS_A (colour - PLANT_T), and, m
 *    = 1..8, the difference to 3x3 neighbour m (taps in row-major order, the
 *    centre skipped) as silu(PLANT_NMS_BETA (y_n - y) + PLANT_NMS_BIAS):
 *    ~0 where the neighbour is not above the centre (zero padding never
 *    is), 127 PLANT_NMS_A = 95 x the excess in colour units where it is.
 *    Colour and differences have one gain, so the tensor's u8 step (the
 *    largest of either over the calibration frames / 255) is ~0.09 colour
 *    units for both. PLANT_NMS_BIAS keeps SiLU's negative lobe (-0.28 at
 *    most, below one u8 step, so int8 reads it as 0) out of near-ties:
 *    silu(-8) x 8 neighbours adds 0.02 to a peak in fp32 (silu(-4) added
 *    0.58: every flat region scored 0.06 in fp32 and 0.05 in int8);
 *  - the peak conv (1x1) writes silu(m0 / 127 - sum of the eight):
 *    PLANT_NMS_A (colour - PLANT_T) at a local maximum, as the SPPF path's
 *    3 q PLANT_GAIN_S (colour - PLANT_T), pushed down by 95 per colour unit
 *    a neighbour exceeds it by (past 8 / 95) elsewhere: a neighbour 0.12
 *    above a peak at the score threshold removes it. Its weights 1/127 and
 *    -1 are exact under per-channel int8 (scale 1/127) and bf16; 127, the
 *    largest ratio int8 holds exactly, sets the differences' gain against
 *    the colour's (PLANT_NMS_BETA). */
static void plant_nms_weights(struct conv_w *cw, double p, double slope, double cgain) {
    size_t taps = (size_t)cw->k * cw->k, per = (size_t)cw->cin_g * taps;
    size_t centre = (size_t)(cw->k / 2) * cw->k + cw->k / 2;
    int rows = cw->plant == PL_PEAKSUM || cw->plant == PL_NMSGAIN ? PLANT_K
                                                                  : PLANT_K * PLANT_NMS_CH;
    for (int r = 0; r < rows; r++) {
        float *w = cw->w + (size_t)r * per;
        int k = r / PLANT_NMS_CH, m = r % PLANT_NMS_CH;
        double bias = 0;
        memset(w, 0, per * sizeof(float));
        if (cw->plant == PL_NMSGAIN) { /* depthwise: its own channel */
            w[centre] = (float)(PLANT_NMS_G / cgain);
            bias = -PLANT_NMS_G * (cw->plant_ofs / cgain + PLANT_T);
        } else if (cw->plant == PL_FANOUT) {
            w[(size_t)(cw->plant_in + k) * taps + centre] = (float)(1.0 / slope);
            bias = p - cw->plant_ofs / slope;
        } else if (cw->plant == PL_NBR && m == 0) {
            w[centre] = (float)PLANT_NMS_BETA;
            bias = -PLANT_NMS_BETA * cw->plant_ofs;
        } else if (cw->plant == PL_NBR) {
            size_t tap = (size_t)(m - 1) < centre ? (size_t)(m - 1) : (size_t)m;
            w[tap] = (float)PLANT_NMS_BETA;
            w[centre] = (float)-PLANT_NMS_BETA;
            bias = PLANT_NMS_BIAS;
        } else { /* PL_PEAKSUM, row r = colour r */
            size_t c0 = (size_t)(cw->plant_in + r * PLANT_NMS_CH);
            w[c0 * taps + centre] = (float)(1.0 / 127.0);
            for (size_t j = 1; j < PLANT_NMS_CH; j++) w[(c0 + j) * taps + centre] = -1.0f;
            bias = -cw->plant_ofs / 127.0;
        }
        cw->b[r] = (float)bias;
    }
}

/* Overwrite the planted output channels of a freshly created conv (after
 * its random init; the observer leaves them alone). x: its input; act:
 * whether SiLU follows. */
static void plant_weights(struct conv_w *cw, struct val x, bool act, int in_stride,
                          double cgain) {
    size_t per = (size_t)cw->cin_g * cw->k * cw->k, taps = (size_t)cw->k * cw->k;
    size_t centre = (size_t)(cw->k / 2) * cw->k + cw->k / 2;
    double p = PLANT_OFS, slope = 1.0;
    if (act) plant_operating_point(&p, &slope);
    if (cw->plant == PL_NONE || cw->plant == PL_CLS) return;
    if (cw->plant == PL_NMSGAIN || cw->plant == PL_FANOUT || cw->plant == PL_NBR ||
        cw->plant == PL_PEAKSUM) {
        plant_nms_weights(cw, p, slope, cgain);
        return;
    }
    for (int r = 0; r < plant_rows(cw); r++) {
        /* PL_ZSLOT: zeros (as PL_ZERO) in rows 0..K-1, PL_PASS in K..2K-1 */
        int k = r % PLANT_K;
        enum plant kind = cw->plant != PL_ZSLOT ? cw->plant : r < PLANT_K ? PL_ZERO : PL_PASS;
        float *w = cw->w + (size_t)r * per;
        memset(w, 0, per * sizeof(float));
        double bias = 0;
        int ci = cw->cin_g == 1 ? 0 : cw->plant_in + k; /* depthwise: its own channel */
        switch (kind) {
        case PL_STEM:
            for (int c = 0; c < 3; c++)
                for (size_t t = 0; t < taps; t++)
                    w[(size_t)c * taps + t] =
                        (float)(PLANT_STEM_GAIN * cgain * plant_colour[k][c] /
                                (slope * (double)taps));
            bias = p;
            break;
        case PL_PASS:
            if (x.dkind == DK_COLOUR && in_stride < PLANT_AVG_MAXSTRIDE)
                for (size_t t = 0; t < taps; t++)
                    w[(size_t)ci * taps + t] = (float)(cw->plant_boost / (slope * (double)taps));
            else
                w[(size_t)ci * taps + centre] = (float)(cw->plant_boost / slope);
            bias = p - cw->plant_boost * cw->plant_ofs / slope;
            break;
        case PL_GAIN:
            w[(size_t)ci * taps + centre] = (float)PLANT_GAIN_S;
            bias = -PLANT_GAIN_S * (cw->plant_ofs + PLANT_T - PLANT_SOFT);
            break;
        case PL_LOCALMAX:
            w[(size_t)(cw->plant_in + k) * taps + centre] = (float)(127.0 * PLANT_LM_Q);
            w[(size_t)(cw->plant_in2 + k) * taps + centre] = (float)(-124.0 * PLANT_LM_Q);
            bias = -3.0 * PLANT_LM_Q * PLANT_GAIN_S * PLANT_SOFT;
            break;
        default: /* PL_ZERO */
            break;
        }
        cw->b[r] = (float)bias;
    }
}

/* Ultralytics Conv (module 'comp' in the current scope): Conv2d with folded
 * BN then SiLU when F_ACT; with F_BARE a plain nn.Conv2d named
 * "<comp>/Conv". pad < 0 means autopad (k / 2). */
static struct val conv_role(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                            int pad, int g, int flags, enum conv_role role) {
    if (s->rc < 0) return NOVAL;
    size_t mark = comp ? scope_push(s, comp) : strlen(s->scope);
    size_t mark2 = (flags & F_BARE) ? 0 : scope_push(s, "conv");
    if (pad < 0) pad = k / 2;
    struct val y = {.c = c2, .h = (x.h + 2 * pad - k) / st + 1, .w = (x.w + 2 * pad - k) / st + 1};
    char *node = node_name(s, "Conv");
    /* node_name consumed the counter; build the node by hand with that name */
    struct conv_w *cw = node ? next_conv_w(s, node, c2, x.c / g, k, !(flags & F_NOBIAS), role)
                             : NULL;
    if (cw != NULL && s->fresh) {
        int pin;
        float pofs;
        cw->plant = plant_decide(s, x, c2, g, flags, role, &pin, &pofs);
        cw->plant_in = pin;
        cw->plant_in2 = pin + x.c / 4;
        cw->plant_ofs = pofs;
        cw->plant_gain = x.dgain > 0 ? x.dgain : 1.0f;
        cw->plant_boost = (flags & F_PLANT_BOOST) ? (float)PLANT_BOOST : 1.0f;
        if (cw->plant != PL_NONE && cw->plant != PL_CLS && cw->b == NULL) cw->plant = PL_NONE;
        if (cw->plant == PL_NBR && k != 3) cw->plant = PL_NONE;
        plant_weights(cw, x, (flags & F_ACT) != 0, x.h > 0 ? s->imgsz / x.h : 1,
                      plant_colour_gain(s));
        if (s->plant) plant_isolate(cw, x, g);
    }
    if (cw != NULL) {
        switch (cw->plant) {
        case PL_STEM: y.dpos = 1, y.dkind = DK_COLOUR, y.dofs = (float)PLANT_OFS; break;
        case PL_PASS:
            y.dpos = 1, y.dkind = x.dkind, y.dofs = (float)PLANT_OFS;
            y.dgain = cw->plant_gain * cw->plant_boost;
            break;
        case PL_GAIN: y.dpos = 1, y.dkind = DK_COLOUR, y.dofs = 0; break;
        case PL_LOCALMAX: y.dpos = 1, y.dkind = DK_PEAK, y.dofs = 0; break;
        case PL_ZERO: y.dpos = 1, y.dkind = DK_ZERO, y.dofs = 0; break;
        case PL_NMSGAIN: y.dpos = 1, y.dkind = DK_NMSIN, y.dofs = 0; break;
        case PL_FANOUT: y.dpos = 1, y.dkind = DK_FAN, y.dofs = (float)PLANT_OFS; break;
        case PL_NBR: y.dpos = 1, y.dkind = DK_NBR, y.dofs = 0; break;
        case PL_PEAKSUM: y.dpos = 1, y.dkind = DK_PEAK, y.dofs = 0; break;
        case PL_ZSLOT:
            y.dpos = PLANT_K + 1, y.dkind = x.dkind, y.dofs = (float)PLANT_OFS, y.zpos = 1;
            y.dgain = x.dgain;
            break;
        default: break;
        }
    }
    const char *wname = param_name(s, "weight");
    const char *bname = (flags & F_NOBIAS) ? NULL : param_name(s, "bias");
    if (cw == NULL || wname == NULL) goto out;
    int64_t wd[4] = {c2, x.c / g, k, k};
    add_init(s, wname, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, wd, cw->w,
             sizeof(float) * (size_t)c2 * (x.c / g) * k * k, 0);
    if (bname != NULL) {
        int64_t bd[1] = {c2};
        add_init(s, bname, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, bd, cw->b,
                 sizeof(float) * (size_t)c2, 0);
    }
    if (grow(s, (void **)&s->nodes, &s->cap_nodes, s->n_nodes + 1, sizeof(*s->nodes)) < 0) goto out;
    Onnx__NodeProto *n = arena_alloc(s, sizeof(*n));
    char **ins = arena_alloc(s, sizeof(char *) * 3);
    char **outs = arena_alloc(s, sizeof(char *));
    Onnx__AttributeProto **attrs = arena_alloc(s, sizeof(*attrs) * 8);
    if (n == NULL || ins == NULL || outs == NULL || attrs == NULL) goto out;
    onnx__node_proto__init(n);
    n->name = node;
    n->op_type = "Conv";
    ins[0] = (char *)x.name;
    ins[1] = (char *)wname;
    ins[2] = (char *)bname;
    n->n_input = bname ? 3 : 2;
    n->input = ins;
    if ((outs[0] = arena_printf(s, "%s_output_0", node)) == NULL) goto out;
    n->n_output = 1;
    n->output = outs;
    n->attribute = attrs;
    s->nodes[s->n_nodes++] = n;
    int64_t dil[2] = {1, 1}, ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad}, strides[2] = {st, st};
    attr_ints(s, n, "dilations", 2, dil);
    attr_int(s, n, "group", g);
    attr_ints(s, n, "kernel_shape", 2, ks);
    attr_ints(s, n, "pads", 4, pads);
    attr_ints(s, n, "strides", 2, strides);
    s->n_params += (int64_t)c2 * (x.c / g) * k * k + (bname ? c2 : 0);
    s->macs += (double)c2 * y.h * y.w * (x.c / g) * k * k;
    y.name = outs[0];
    if (!(flags & F_BARE)) scope_pop(s, mark2);
    if (flags & F_ACT) {
        size_t m3 = scope_push(s, "act");
        const char *in1[1] = {y.name};
        Onnx__NodeProto *sg = add_node(s, "Sigmoid", 1, in1, 1);
        if (sg != NULL) {
            const char *in2[2] = {y.name, sg->output[0]};
            Onnx__NodeProto *mul = add_node(s, "Mul", 2, in2, 1);
            if (mul != NULL) y.name = mul->output[0];
        }
        scope_pop(s, m3);
    }
out:
    scope_pop(s, mark);
    return s->rc < 0 ? NOVAL : y;
}

static struct val conv(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                       int flags) {
    return conv_role(s, comp, x, c2, k, st, -1, 1, flags, ROLE_PLAIN);
}

/* A Conv that is itself a model layer: its parts sit in the layer's scope. */
static struct val conv_here(struct synth *s, struct val x, int c2, int k, int st, int pad) {
    return conv_role(s, NULL, x, c2, k, st, pad, 1, F_ACT, ROLE_PLAIN);
}

static struct val add2(struct synth *s, struct val a, struct val b) {
    const char *in[2] = {a.name, b.name};
    Onnx__NodeProto *n = add_node(s, "Add", 2, in, 1);
    if (n == NULL) return NOVAL;
    /* planted channels survive an Add only over exact zeros: a residual
     * branch's (PL_ZERO), or a shortcut's zero slot (PL_ZSLOT), whose own
     * live group then meets the other side's random channels */
    struct val y = a;
    if (a.dkind == DK_ZERO && a.dpos == b.dpos) {
        y = b;
    } else if (b.zpos > 0 && b.zpos == a.dpos) {
        val_exclude(&y, b.dpos);
    } else if (a.zpos > 0 && a.zpos == b.dpos) {
        y = b;
        val_exclude(&y, a.dpos);
    } else if (!(b.dkind == DK_ZERO && b.dpos == a.dpos)) {
        y.dpos = 0, y.dkind = DK_NONE;
        val_exclude(&y, a.dpos);
        val_exclude(&y, b.dpos);
    }
    for (int i = 0; i < PLANT_MAX_EX; i++) {
        val_exclude(&y, a.ex[i]);
        val_exclude(&y, b.ex[i]);
    }
    y.zpos = 0;
    y.name = n->output[0];
    return y;
}

static struct val concat(struct synth *s, int cnt, const struct val *xs) {
    const char *in[8];
    struct val y = {.name = NULL, .h = xs[0].h, .w = xs[0].w};
    int win = -1, off = 0;
    /* the live planted channels furthest along (peaks over colour) stay
     * live; every other group is excluded */
    for (int i = 0; i < cnt; i++)
        if (xs[i].dpos > 0 && (xs[i].dkind == DK_COLOUR || xs[i].dkind == DK_PEAK) &&
            (win < 0 || xs[i].dkind > xs[win].dkind))
            win = i;
    for (int i = 0; i < cnt; i++) {
        in[i] = xs[i].name;
        if (i == win) {
            y.dpos = off + xs[i].dpos, y.dkind = xs[i].dkind, y.dofs = xs[i].dofs;
            y.dgain = xs[i].dgain;
        } else if (xs[i].dpos > 0) {
            val_exclude(&y, off + xs[i].dpos);
        }
        for (int j = 0; j < PLANT_MAX_EX; j++)
            if (xs[i].ex[j] > 0) val_exclude(&y, off + xs[i].ex[j]);
        off += xs[i].c;
    }
    y.c = off;
    Onnx__NodeProto *n = add_node(s, "Concat", cnt, in, 1);
    attr_int(s, n, "axis", 1);
    if (n == NULL) return NOVAL;
    y.name = n->output[0];
    return y;
}

/* Part [off, off + c) of a channel Split of x, named 'name': it carries
 * x's planted channels when they lie within it. */
static struct val split_part(struct val x, const char *name, int off, int c) {
    struct val p = {.name = name, .c = c, .h = x.h, .w = x.w};
    if (x.dpos > 0 && x.dpos - 1 >= off && x.dpos - 1 + PLANT_K <= off + c)
        p.dpos = x.dpos - off, p.dkind = x.dkind, p.dofs = x.dofs, p.dgain = x.dgain;
    for (int i = 0; i < PLANT_MAX_EX; i++)
        if (x.ex[i] > 0 && x.ex[i] - 1 >= off && x.ex[i] - 1 < off + c) val_exclude(&p, x.ex[i] - off);
    return p;
}

/* Split along 'axis' into cnt parts of sizes[]; output names into out[]. */
static int split(struct synth *s, const char *x, int axis, int cnt, const int64_t *sizes,
                 const char **out) {
    if (s->rc < 0) return s->rc;
    char *nm = arena_printf(s, "%s/Split_sizes_%d", s->scope, s->n_inits);
    const char *sz = init_i64(s, nm, cnt, sizes);
    const char *in[2] = {x, sz};
    Onnx__NodeProto *n = add_node(s, "Split", 2, in, cnt);
    attr_int(s, n, "axis", axis);
    if (n == NULL) return s->rc;
    for (int i = 0; i < cnt; i++) out[i] = n->output[i];
    return 0;
}

static const char *reshape(struct synth *s, const char *x, int nd, const int64_t *shape) {
    char *nm = arena_printf(s, "%s/Reshape_shape_%d", s->scope, s->n_inits);
    const char *sh = init_i64(s, nm, nd, shape);
    const char *in[2] = {x, sh};
    Onnx__NodeProto *n = add_node(s, "Reshape", 2, in, 1);
    attr_int(s, n, "allowzero", 0);
    return n ? n->output[0] : NULL;
}

static const char *unary(struct synth *s, const char *op, const char *x) {
    const char *in[1] = {x};
    Onnx__NodeProto *n = add_node(s, op, 1, in, 1);
    return n ? n->output[0] : NULL;
}

static const char *binary(struct synth *s, const char *op, const char *a, const char *b) {
    const char *in[2] = {a, b};
    Onnx__NodeProto *n = add_node(s, op, 2, in, 1);
    return n ? n->output[0] : NULL;
}

static const char *transpose(struct synth *s, const char *x, int nd, const int64_t *perm) {
    const char *in[1] = {x};
    Onnx__NodeProto *n = add_node(s, "Transpose", 1, in, 1);
    attr_ints(s, n, "perm", nd, perm);
    return n ? n->output[0] : NULL;
}

static const char *softmax(struct synth *s, const char *x, int axis) {
    const char *in[1] = {x};
    Onnx__NodeProto *n = add_node(s, "Softmax", 1, in, 1);
    attr_int(s, n, "axis", axis);
    return n ? n->output[0] : NULL;
}

/* ---- for the builders in other files (synth_internal.h) ------------------ */

struct val cvb__synth_conv(struct synth *s, const char *comp, struct val x, int c2, int k, int st,
                           int pad, int g, int flags, enum conv_role role) {
    return conv_role(s, comp, x, c2, k, st, pad, g, flags, role);
}
struct val cvb__synth_add2(struct synth *s, struct val a, struct val b) { return add2(s, a, b); }
struct val cvb__synth_concat(struct synth *s, int cnt, const struct val *xs) {
    return concat(s, cnt, xs);
}
static struct val upsample(struct synth *s, struct val x);
struct val cvb__synth_upsample(struct synth *s, struct val x) { return upsample(s, x); }
struct val cvb__synth_part(struct val x, const char *name, int off, int c) {
    return split_part(x, name, off, c);
}
size_t cvb__synth_scope_push(struct synth *s, const char *comp) { return scope_push(s, comp); }
void cvb__synth_scope_pop(struct synth *s, size_t mark) { scope_pop(s, mark); }
const char *cvb__synth_scope(const struct synth *s) { return s->scope; }
Onnx__NodeProto *cvb__synth_node(struct synth *s, const char *op, int n_in, const char *const *in,
                                 int n_out) {
    return add_node(s, op, n_in, in, n_out);
}
void cvb__synth_rename(struct synth *s, Onnx__NodeProto *n, const char *name) {
    if (n == NULL || s->rc < 0) return;
    char *nm = arena_printf(s, "%s", name);
    if (nm == NULL) return;
    n->name = nm;
    for (size_t i = 0; i < n->n_output; i++)
        if ((n->output[i] = arena_printf(s, "%s_output_%zu", nm, i)) == NULL) return;
}
void cvb__synth_attr_int(struct synth *s, Onnx__NodeProto *n, const char *name, int64_t v) {
    attr_int(s, n, name, v);
}
void cvb__synth_attr_ints(struct synth *s, Onnx__NodeProto *n, const char *name, int cnt,
                          const int64_t *v) {
    attr_ints(s, n, name, cnt, v);
}
const char *cvb__synth_init_i64(struct synth *s, const char *name, int n, const int64_t *v) {
    return init_i64(s, arena_printf(s, "%s", name), n, v);
}
const char *cvb__synth_init_f32(struct synth *s, const char *name, int ndim, const int64_t *dims,
                                const float *v, size_t n) {
    return add_init(s, arena_printf(s, "%s", name), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, ndim,
                    dims, v, sizeof(float) * n, 1);
}
const char *cvb__synth_reshape(struct synth *s, const char *x, int nd, const int64_t *shape) {
    return reshape(s, x, nd, shape);
}
const char *cvb__synth_unary(struct synth *s, const char *op, const char *x) { return unary(s, op, x); }
const char *cvb__synth_binary(struct synth *s, const char *op, const char *a, const char *b) {
    return binary(s, op, a, b);
}
const char *cvb__synth_transpose(struct synth *s, const char *x, int nd, const int64_t *perm) {
    return transpose(s, x, nd, perm);
}
const char *cvb__synth_softmax(struct synth *s, const char *x, int axis) { return softmax(s, x, axis); }
int cvb__synth_imgsz(const struct synth *s) { return s->imgsz; }
int cvb__synth_rc(const struct synth *s) { return s->rc; }
int cvb__synth_fail(struct synth *s, int code, const char *what) { return fail(s, code, what); }
enum c2f_block { BLK_C2F = 0, BLK_C3K2_BOTTLENECK, BLK_C3K2_C3K };
static struct val c2f(struct synth *s, struct val x, int c2, int n, int shortcut, double e,
                      enum c2f_block blk);
static void attn_logits(struct synth *s, const char *name, const int64_t *dims, bool prescaled);
struct val cvb__synth_c3k2(struct synth *s, struct val x, int c2, int n, bool c3k, double e) {
    return c2f(s, x, c2, n, 1, e, c3k ? BLK_C3K2_C3K : BLK_C3K2_BOTTLENECK);
}
void cvb__synth_name_output(struct synth *s, Onnx__NodeProto *n, size_t i, const char *name) {
    if (n == NULL || s->rc < 0 || i >= n->n_output) return;
    char *nm = arena_printf(s, "%s", name);
    if (nm != NULL) n->output[i] = nm;
}
void cvb__synth_attn_logits(struct synth *s, const char *name, const int64_t *dims,
                            bool prescaled) {
    attn_logits(s, name, dims, prescaled);
}
void cvb__synth_add_macs(struct synth *s, double macs) { s->macs += macs; }
bool cvb__synth_e2e_names(const struct synth *s) { return s->e2e_names; }
static struct val psablock(struct synth *s, const char *comp, struct val x, int heads);
struct val cvb__synth_psablock(struct synth *s, const char *comp, struct val x, int heads) {
    return psablock(s, comp, x, heads);
}
Onnx__NodeProto *cvb__synth_find_node(struct synth *s, const char *name) {
    for (int i = 0; i < s->n_nodes; i++)
        if (strcmp(s->nodes[i]->name, name) == 0) return s->nodes[i];
    return NULL;
}

/* ==== modules (ultralytics/nn/modules) ==================================== */

/* Bottleneck(c1, c2, shortcut, k=(k1, k2), e): cv1 -> cv2, + x when the
 * shortcut is on and c1 == c2. */
static struct val bottleneck(struct synth *s, const char *comp, struct val x, int c2,
                             int shortcut, int k1, int k2, double e) {
    size_t mark = scope_push(s, comp);
    int c_ = (int)(c2 * e);
    bool add = shortcut && x.c == c2;
    struct val y = conv(s, "cv1", x, c_, k1, 1, F_ACT);
    y = conv(s, "cv2", y, c2, k2, 1, F_ACT | (add ? F_PLANT_ZERO : 0));
    if (add) y = add2(s, x, y);
    scope_pop(s, mark);
    return y;
}

/* C3(c1, c2, n, shortcut, e) in the current scope; inner bottlenecks use
 * kernels (kb1, 3) and e=1.0 (C3: kb1 = 1; C3k: kb1 = 3). */
static struct val c3(struct synth *s, struct val x, int c2, int n, int shortcut, double e, int kb1) {
    int c_ = (int)(c2 * e);
    struct val a = conv(s, "cv1", x, c_, 1, 1, F_ACT);
    size_t mark = scope_push(s, "m");
    for (int i = 0; i < n; i++) {
        char comp[16];
        snprintf(comp, sizeof comp, "m.%d", i);
        a = bottleneck(s, comp, a, c_, shortcut, kb1, 3, 1.0);
    }
    scope_pop(s, mark);
    struct val b = conv(s, "cv2", x, c_, 1, 1, F_ACT);
    struct val cat[2] = {a, b};
    struct val y = concat(s, 2, cat);
    return conv(s, "cv3", y, c2, 1, 1, F_ACT);
}

/* C2f / C3k2 in the current scope. */
static struct val c2f(struct synth *s, struct val x, int c2, int n, int shortcut, double e,
                      enum c2f_block blk) {
    int c = (int)(c2 * e);
    struct val y0 = conv(s, "cv1", x, 2 * c, 1, 1, F_ACT);
    const char *parts[2] = {NULL, NULL};
    int64_t sizes[2] = {c, c};
    if (split(s, y0.name, 1, 2, sizes, parts) < 0) return NOVAL;
    struct val ys[8];
    int ny = 0;
    ys[ny++] = split_part(y0, parts[0], 0, c);
    ys[ny++] = split_part(y0, parts[1], c, c);
    for (int i = 0; i < n && ny < 8; i++) {
        char comp[16];
        snprintf(comp, sizeof comp, "m.%d", i);
        struct val prev = ys[ny - 1], y;
        if (blk == BLK_C2F) {
            y = bottleneck(s, comp, prev, c, shortcut, 3, 3, 1.0);
        } else if (blk == BLK_C3K2_BOTTLENECK) {
            y = bottleneck(s, comp, prev, c, shortcut, 3, 3, 0.5);
        } else {
            size_t mark = scope_push(s, comp);
            y = c3(s, prev, c, 2, shortcut, 0.5, 3); /* C3k(c, c, 2, shortcut), k=3 */
            scope_pop(s, mark);
        }
        ys[ny++] = y;
    }
    struct val cat = concat(s, ny, ys);
    return conv(s, "cv2", cat, c2, 1, 1, F_ACT);
}

/* nn.MaxPool2d(5, 1, 2) 'comp' in the current scope, with the dilations
 * attribute when 'dilations' (Ultralytics 8.4's exporter writes it on every
 * MaxPool; 8.3's did not); x's planted channels, a local max of themselves,
 * keep their meaning. */
struct val cvb__synth_maxpool5(struct synth *s, const char *comp, struct val x, bool dilations) {
    size_t mark = scope_push(s, comp);
    const char *in[1] = {x.name};
    Onnx__NodeProto *n = add_node(s, "MaxPool", 1, in, 1);
    int64_t ks[2] = {5, 5}, pads[4] = {2, 2, 2, 2}, st[2] = {1, 1}, dil[2] = {1, 1};
    attr_int(s, n, "ceil_mode", 0);
    if (dilations) attr_ints(s, n, "dilations", 2, dil);
    attr_ints(s, n, "kernel_shape", 2, ks);
    attr_ints(s, n, "pads", 4, pads);
    attr_ints(s, n, "strides", 2, st);
    scope_pop(s, mark);
    x.name = n ? n->output[0] : NULL;
    return x;
}

/* SPPF(c1, c2, k=5) as Ultralytics 8.4's exporter writes it: cv1, three
 * chained MaxPool 5x5 (with dilations; 8.3's exporter left them out), Concat,
 * cv2. */
static struct val sppf(struct synth *s, struct val x, int c2) {
    int c_ = x.c / 2;
    struct val ys[4];
    ys[0] = conv(s, "cv1", x, c_, 1, 1, F_ACT | F_PLANT_GAIN);
    static const char *const comps[3] = {"m", "m_1", "m_2"};
    for (int i = 0; i < 3; i++) ys[i + 1] = cvb__synth_maxpool5(s, comps[i], ys[i], true);
    struct val cat = concat(s, 4, ys);
    return conv(s, "cv2", cat, c2, 1, 1, F_ACT | F_PLANT_LOCALMAX);
}

/* Record tensor 'name' ([areas, heads, N, N], scaled q^T k) as an
 * attention block's logits, for calibration (temper_attention()); the
 * block's qkv conv is the last conv created. prescaled: its MatMul node
 * already includes the head_dim^-0.5 scale (AAttn scales q before it). */
static void attn_logits(struct synth *s, const char *name, const int64_t *dims, bool prescaled) {
    if (name == NULL || s->rc < 0) return;
    if (s->n_attn == MAX_ATTN) {
        fail(s, CVB_EINTERNAL, "more attention blocks than MAX_ATTN");
        return;
    }
    memcpy(s->attn_dims[s->n_attn], dims, sizeof(int64_t) * 4);
    s->attn_qkv[s->n_attn] = s->conv_cursor - 1;
    s->attn_prescaled[s->n_attn] = prescaled;
    s->attn_out[s->n_attn++] = name;
}


/* Attention(dim, num_heads, attn_ratio=0.5) of PSABlock (and YOLOv10's
 * PSA) in 8.4's form: qkv conv, Reshape, Split, q times kd^-0.5 (8.4 scales
 * q before the MatMul), ((q * scale)^T k).softmax(-1), v @ attn^T, Reshape,
 * + pe(v) (depthwise 3x3), proj. */
static struct val attention(struct synth *s, struct val x, int heads) {
    size_t mark = scope_push(s, "attn");
    const int dim = x.c, hd = dim / heads, kd = hd / 2, h = dim + 2 * kd * heads;
    const int64_t n_pos = (int64_t)x.h * x.w;
    struct val qkv = conv_role(s, "qkv", x, h, 1, 1, -1, 1, 0, ROLE_PLAIN);
    const int64_t sh1[4] = {1, heads, 2 * kd + hd, n_pos}, sizes[3] = {kd, kd, hd};
    const char *qkv3[3] = {NULL, NULL, NULL};
    split(s, reshape(s, qkv.name, 4, sh1), 2, 3, sizes, qkv3);
    const float scale = 1.0f / sqrtf((float)kd);
    const char *q = binary(s, "Mul", qkv3[0],
                           init_f32_scalar(s, arena_printf(s, "%s/Mul_scale", s->scope), scale));
    const int64_t perm[4] = {0, 1, 3, 2};
    const char *logits = binary(s, "MatMul", transpose(s, q, 4, perm), qkv3[1]);
    const int64_t ad[4] = {1, heads, n_pos, n_pos};
    attn_logits(s, logits, ad, true); /* q scaled before the MatMul */
    const char *sm = transpose(s, softmax(s, logits, -1), 4, perm);
    const char *o = binary(s, "MatMul", qkv3[2], sm);
    s->macs += (double)heads * n_pos * n_pos * (kd + hd);
    const int64_t sh2[4] = {1, dim, x.h, x.w};
    o = reshape(s, o, 4, sh2);
    struct val v = {.name = reshape(s, qkv3[2], 4, sh2), .c = dim, .h = x.h, .w = x.w};
    struct val pe = conv_role(s, "pe", v, dim, 3, 1, -1, dim, 0, ROLE_PLAIN);
    struct val sum = {.name = binary(s, "Add", o, pe.name), .c = dim, .h = x.h, .w = x.w};
    struct val y = conv_role(s, "proj", sum, dim, 1, 1, -1, 1, 0, ROLE_PLAIN);
    scope_pop(s, mark);
    return y;
}

static struct val psablock(struct synth *s, const char *comp, struct val x, int heads) {
    size_t mark = scope_push(s, comp);
    x = add2(s, x, attention(s, x, heads));
    size_t m2 = scope_push(s, "ffn");
    struct val f = conv(s, "ffn.0", x, 2 * x.c, 1, 1, F_ACT);
    f = conv(s, "ffn.1", f, x.c, 1, 1, 0);
    scope_pop(s, m2);
    x = add2(s, x, f);
    scope_pop(s, mark);
    return x;
}

/* C2PSA(c1, c2, n, e=0.5) in the current scope. */
static struct val c2psa(struct synth *s, struct val x, int n) {
    int c = x.c / 2;
    struct val y0 = conv(s, "cv1", x, 2 * c, 1, 1, F_ACT);
    const char *parts[2] = {NULL, NULL};
    int64_t sizes[2] = {c, c};
    if (split(s, y0.name, 1, 2, sizes, parts) < 0) return NOVAL;
    struct val a = split_part(y0, parts[0], 0, c), b = split_part(y0, parts[1], c, c);
    size_t mark = scope_push(s, "m");
    for (int i = 0; i < n; i++) {
        char comp[16];
        snprintf(comp, sizeof comp, "m.%d", i);
        b = psablock(s, comp, b, c / 64 > 1 ? c / 64 : 1);
    }
    scope_pop(s, mark);
    struct val cat[2] = {a, b};
    return conv(s, "cv2", concat(s, 2, cat), x.c, 1, 1, F_ACT);
}

static struct val upsample(struct synth *s, struct val x) {
    static const float scales[4] = {1, 1, 2, 2};
    int64_t d[1] = {4};
    char *nm = arena_printf(s, "%s/Resize_scales", s->scope);
    const char *sc = add_init(s, nm, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, d, scales,
                              sizeof scales, 1);
    const char *in[3] = {x.name, "", sc};
    Onnx__NodeProto *n = add_node(s, "Resize", 3, in, 1);
    attr_str(s, n, "coordinate_transformation_mode", "asymmetric");
    attr_float(s, n, "cubic_coeff_a", -0.75f);
    attr_str(s, n, "mode", "nearest");
    attr_str(s, n, "nearest_mode", "floor");
    if (n == NULL) return NOVAL;
    /* the planted channels are no longer live: see "the planted detector" */
    struct val y = {.name = n->output[0], .c = x.c, .h = x.h * 2, .w = x.w * 2};
    memcpy(y.ex, x.ex, sizeof y.ex);
    val_exclude(&y, x.dpos);
    return y;
}

/* ==== end-to-end head (--end2end) =========================================
 *
 * What Ultralytics 8.4 exports for a one-to-one head with nms=False
 * (Detect.forward with end2end: _inference() with dist2bbox(xywh=False),
 * then postprocess() / get_topk_index(); checked node for node against
 * yolo26n-640-e2e.onnx and yolov10n-640-e2e.onnx): the boxes are decoded as
 * corners (x1y1 = anchor - lt, x2y2 = anchor + rb, no xywh conversion), and
 * the 19-node tail below selects the top K = min(300, anchors) (anchor,
 * class) pairs into output0 [1, K, 6] = x1, y1, x2, y2, score, class.
 * The real models feed it from their separate one-to-one branches
 * (one2one_cv2/cv3); a synthetic model feeds it from its one head, so its
 * rows are exactly the top-K (anchor, class) scores of the plain model. */
#define E2E_MAX_DET 300
#define E2E_ARCHS "yolov5nu, yolov8n, yolov8s, yolo11n, yolov10n, yolo26n"

/* The K of output0 [1, K, 6] of an end-to-end head over n_anchor anchors
 * (get_topk_index(): k = min(max_det, anchors)). */
static int64_t e2e_rows(int64_t n_anchor) {
    return n_anchor < E2E_MAX_DET ? n_anchor : E2E_MAX_DET;
}

/* _grouped_topk(x, k, 1): TopK along axis 1, largest, sorted (ties: lower
 * index first). Outputs values and int64 indices, [1, K]. */
static Onnx__NodeProto *e2e_topk(struct synth *s, const char *x, const char *k) {
    const char *in[2] = {x, k};
    Onnx__NodeProto *n = add_node(s, "TopK", 2, in, 2);
    attr_int(s, n, "axis", 1);
    attr_int(s, n, "largest", 1);
    attr_int(s, n, "sorted", 1);
    return n;
}

/* get_topk_index() and the gathers: [1, 4 + NC, N] -> output0 [1, K, 6]. */
static const char *e2e_tail(struct synth *s, const char *pred, int64_t n_anchor) {
    const int64_t kv[1] = {e2e_rows(n_anchor)}, ax2[1] = {2};
    const int64_t ex_cls[3] = {1, 1, NC}, ex_box[3] = {1, 1, 4};
    const int64_t nc = NC, perm[3] = {0, 2, 1}, axes[1] = {-1}, parts[2] = {4, NC};
    int64_t scalar_dims[1] = {0};
    const char *kc = init_i64(s, arena_printf(s, "%s/e2e_k", s->scope), 1, kv);
    const char *a2 = init_i64(s, arena_printf(s, "%s/e2e_axis2", s->scope), 1, ax2);
    const char *shc = init_i64(s, arena_printf(s, "%s/e2e_expand_cls", s->scope), 3, ex_cls);
    const char *shb = init_i64(s, arena_printf(s, "%s/e2e_expand_box", s->scope), 3, ex_box);
    const char *ncc = add_init(s, arena_printf(s, "%s/e2e_nc", s->scope),
                               ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 0, scalar_dims, &nc,
                               sizeof nc, 1);
    const char *t = transpose(s, pred, 3, perm);
    const char *bs[2] = {NULL, NULL};
    split(s, t, -1, 2, parts, bs); /* boxes [1, N, 4], scores [1, N, NC] */
    const char *in1[1] = {bs[1]};
    Onnx__NodeProto *rm = add_node(s, "ReduceMax", 1, in1, 1);
    attr_ints(s, rm, "axes", 1, axes);
    attr_int(s, rm, "keepdims", 0);
    if (rm == NULL) return NULL;
    Onnx__NodeProto *tk1 = e2e_topk(s, rm->output[0], kc);
    if (tk1 == NULL) return NULL;
    const char *idx1 = tk1->output[1]; /* anchors of the K best, [1, K] */
    const char *u = binary(s, "Unsqueeze", idx1, a2);
    const char *ex = binary(s, "Expand", u, shc);
    const char *ge_in[2] = {bs[1], ex};
    Onnx__NodeProto *ge = add_node(s, "GatherElements", 2, ge_in, 1);
    attr_int(s, ge, "axis", 1);
    if (ge == NULL) return NULL;
    const char *in_f[1] = {ge->output[0]};
    Onnx__NodeProto *fl = add_node(s, "Flatten", 1, in_f, 1);
    attr_int(s, fl, "axis", 1);
    if (fl == NULL) return NULL;
    Onnx__NodeProto *tk2 = e2e_topk(s, fl->output[0], kc);
    if (tk2 == NULL) return NULL;
    const char *idx2 = tk2->output[1]; /* flat (slot * NC + class), [1, K] */
    const char *score = binary(s, "Unsqueeze", tk2->output[0], a2);
    const char *mod_in[2] = {idx2, ncc};
    Onnx__NodeProto *mod = add_node(s, "Mod", 2, mod_in, 1);
    attr_int(s, mod, "fmod", 0);
    if (mod == NULL) return NULL;
    const char *slot = binary(s, "Div", idx2, ncc); /* int64: integer division */
    const char *cls_u = binary(s, "Unsqueeze", mod->output[0], a2);
    const char *ge1_in[2] = {idx1, slot};
    Onnx__NodeProto *ge1 = add_node(s, "GatherElements", 2, ge1_in, 1);
    attr_int(s, ge1, "axis", 1);
    if (ge1 == NULL) return NULL;
    const char *in_c[1] = {cls_u};
    Onnx__NodeProto *cast = add_node(s, "Cast", 1, in_c, 1);
    attr_int(s, cast, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (cast == NULL) return NULL;
    const char *u3 = binary(s, "Unsqueeze", ge1->output[0], a2);
    const char *ex1 = binary(s, "Expand", u3, shb);
    const char *ge2_in[2] = {bs[0], ex1};
    Onnx__NodeProto *ge2 = add_node(s, "GatherElements", 2, ge2_in, 1);
    attr_int(s, ge2, "axis", 1);
    if (ge2 == NULL) return NULL;
    const char *cat_in[3] = {ge2->output[0], score, cast->output[0]};
    Onnx__NodeProto *out = add_node(s, "Concat", 3, cat_in, 1);
    attr_int(s, out, "axis", -1);
    if (out == NULL) return NULL;
    out->output[0] = "output0";
    return out->output[0];
}

/* ==== in-graph NMS (--nms) ==============================================
 *
 * What Ultralytics 8.4 exports with nms=True (NMSModel.forward around a
 * one-to-many Detect that decodes corner boxes, class-wise NMS as ONNX
 * NonMaxSuppression; checked op for op, constant for constant, against
 * yolov8n-640-nms.onnx): from pred [1, 4 + NC, N] (x1, y1, x2, y2 in
 * pixels, class scores), the anchors whose best score exceeds conf 0.25
 * (NonZero: data-dependent), their boxes offset per class (class / NC on
 * boxes scaled by 1 / (imgsz NC)) so that NMS never compares two classes,
 * NonMaxSuppression at IoU 0.7, the first max_det = 300 kept, padded with
 * zero rows to output0 [1, 300, 6] = x1, y1, x2, y2, score, class. Ours
 * names the tail's nodes by our scheme (the exporter's are onnxslim's
 * leftovers) and keeps the plain model's names for the rest, where the
 * export wraps everything in "/model". */
#define NMS_MAX_DET 300
#define NMS_ARCHS "yolov5nu, yolov8n, yolov8s, yolo11n"
#define NMS_CONF 0.25f
#define NMS_IOU 0.7f

static const char *nms_i64(struct synth *s, const char *name, int ndim, const int64_t *dims,
                           const int64_t *v, int n) {
    return add_init(s, arena_printf(s, "/nms/%s", name), ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
                    ndim, dims, v, sizeof(int64_t) * (size_t)n, 1);
}

static const char *nms_slice(struct synth *s, const char *x, const char *st, const char *en,
                             const char *ax, const char *step) {
    const char *in[5] = {x, st, en, ax, step};
    Onnx__NodeProto *n = add_node(s, "Slice", step != NULL ? 5 : 4, in, 1);
    return n != NULL ? n->output[0] : NULL;
}

static const char *nms_axis_op(struct synth *s, const char *op, const char *x, const char *axis_name,
                               const char *kw, int64_t v) {
    const char *in[2] = {x, axis_name};
    Onnx__NodeProto *n = add_node(s, op, axis_name != NULL ? 2 : 1, in, 1);
    if (kw != NULL) attr_int(s, n, kw, v);
    return n != NULL ? n->output[0] : NULL;
}

static const char *nms_tail(struct synth *s, const char *pred, int64_t n_anchor) {
    (void)n_anchor;
    char saved[MAX_SCOPE];
    snprintf(saved, sizeof saved, "%s", s->scope);
    s->scope[0] = '\0'; /* NMSModel's nodes sit at the graph's root */
    const int64_t one[1] = {1}, two[1] = {2}, none[1] = {0};
    const int64_t v0[1] = {0}, v1[1] = {1}, v2[1] = {2}, v4[1] = {4}, vno[1] = {4 + NC};
    const int64_t vm1[1] = {-1}, vbig[1] = {INT64_MAX}, vmin[1] = {-INT64_MAX};
    const int64_t vdet[1] = {NMS_MAX_DET}, v6[1] = {6}, v10[2] = {1, 0}, vm11[2] = {-1, 1};
    const int64_t vm12[2] = {-1, 2}, out_sh[3] = {1, NMS_MAX_DET, 6};
    const char *c0 = nms_i64(s, "zero", 1, one, v0, 1), *c1 = nms_i64(s, "one", 1, one, v1, 1);
    const char *c2 = nms_i64(s, "two", 1, one, v2, 1), *c4 = nms_i64(s, "four", 1, one, v4, 1);
    const char *cno = nms_i64(s, "no", 1, one, vno, 1);
    const char *cs0 = nms_i64(s, "zero_scalar", 0, none, v0, 1);
    const char *cm1 = nms_i64(s, "minus_one", 1, one, vm1, 1);
    const char *c10 = nms_i64(s, "unsqueeze_axes", 1, two, v10, 2);
    const char *cm11 = nms_i64(s, "col_shape", 1, two, vm11, 2);
    /* pred [1, 4 + NC, N] -> [1, N, 4 + NC]; boxes, scores; best class */
    const int64_t perm[3] = {0, 2, 1}, perm2[2] = {1, 0};
    const char *t = transpose(s, pred, 3, perm);
    const char *box = nms_slice(s, t, c0, c4, c2, NULL);
    const char *cls = nms_slice(s, t, c4, cno, c2, NULL);
    const int64_t axes[1] = {-1};
    const char *in_rm[1] = {cls};
    Onnx__NodeProto *rm = add_node(s, "ReduceMax", 1, in_rm, 1);
    attr_ints(s, rm, "axes", 1, axes);
    attr_int(s, rm, "keepdims", 0);
    Onnx__NodeProto *am = add_node(s, "ArgMax", 1, in_rm, 1);
    attr_int(s, am, "axis", -1);
    attr_int(s, am, "keepdims", 0);
    if (rm == NULL || am == NULL) goto fail;
    const char *g_box = nms_axis_op(s, "Gather", box, cs0, "axis", 0);        /* [N, 4] */
    const char *g_cls = nms_axis_op(s, "Gather", am->output[0], cs0, "axis", 0); /* [N] */
    const char *g_sc = nms_axis_op(s, "Gather", rm->output[0], cs0, "axis", 0);  /* [N] */
    const char *gt = binary(s, "Greater", g_sc,
                            init_f32_scalar(s, arena_printf(s, "/nms/conf"), NMS_CONF));
    const char *nz = unary(s, "NonZero", gt);                                   /* [1, M] */
    const char *idx = transpose(s, nz, 2, perm2);                               /* [M, 1] */
    const char *b = binary(s, "GatherND", g_box, idx);                          /* [M, 4] */
    const char *sc = binary(s, "GatherND", g_sc, idx);                          /* [M] */
    const char *cl = binary(s, "GatherND", g_cls, idx);                         /* [M] */
    const float inv_nc = 1.0f / NC;
    const char *cinv = init_f32_scalar(s, arena_printf(s, "/nms/inv_nc"), inv_nc);
    const char *dv = binary(s, "Div", b, init_f32_scalar(s, arena_printf(s, "/nms/imgsz"),
                                                          (float)s->imgsz));
    const char *sh = unary(s, "Shape", cl);
    const char *scores = binary(s, "Unsqueeze", sc, c10);                       /* [1, 1, M] */
    const char *clr = binary(s, "Reshape", cl, cm11);                           /* [M, 1] */
    const char *nb = binary(s, "Mul", dv, cinv);
    const char *m = nms_axis_op(s, "Gather", sh, cs0, "axis", 0);
    const char *mu = binary(s, "Unsqueeze", m, c0);
    const char *nb4 = nms_slice(s, nb, c0, c4, c1, c1);
    const char *cat_in[2] = {mu, c4};
    Onnx__NodeProto *cat = add_node(s, "Concat", 2, cat_in, 1);
    attr_int(s, cat, "axis", 0);
    if (cat == NULL) goto fail;
    /* the exporter's Where(Equal(shape, -1), 1, shape), folded to constants */
    static const uint8_t never[2] = {0, 0};
    const int64_t d2[1] = {2}, ones[2] = {1, 1};
    const char *cond = add_init(s, arena_printf(s, "/nms/expand_never"),
                                ONNX__TENSOR_PROTO__DATA_TYPE__BOOL, 1, d2, never, 2, 1);
    const char *wh_in[3] = {cond, nms_i64(s, "expand_ones", 1, d2, ones, 2), cat->output[0]};
    Onnx__NodeProto *wh = add_node(s, "Where", 3, wh_in, 1);
    if (wh == NULL) goto fail;
    const char *ex = binary(s, "Expand", clr, wh->output[0]);                   /* [M, 4] */
    const char *in_c1[1] = {ex};
    Onnx__NodeProto *cast1 = add_node(s, "Cast", 1, in_c1, 1);
    attr_int(s, cast1, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (cast1 == NULL) goto fail;
    const char *off = binary(s, "Mul", cast1->output[0], cinv);
    const char *ob = binary(s, "Add", nb4, off);
    const char *boxes = binary(s, "Unsqueeze", ob, c0);                         /* [1, M, 4] */
    const float iou[1] = {NMS_IOU};
    const char *nms_in[4] = {boxes, scores, nms_i64(s, "max_per_class", 1, one, vbig, 1),
                             add_init(s, arena_printf(s, "/nms/iou"),
                                      ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, one, iou,
                                      sizeof iou, 1)};
    Onnx__NodeProto *nms = add_node(s, "NonMaxSuppression", 4, nms_in, 1);    /* [S, 3] */
    if (nms == NULL) goto fail;
    const char *sel = nms_axis_op(s, "Gather", nms->output[0], c2, "axis", 1); /* [S, 1] */
    const char *sq = binary(s, "Squeeze", sel, c1);                             /* [S] */
    const char *keep = nms_slice(s, sq, c0, nms_i64(s, "max_det", 1, one, vdet, 1), c0, c1);
    const char *kb = nms_axis_op(s, "Gather", b, keep, "axis", 0);              /* [K, 4] */
    const char *ks = nms_axis_op(s, "Gather", sc, keep, "axis", 0);             /* [K] */
    const char *kc = nms_axis_op(s, "Gather", cl, keep, "axis", 0);             /* [K] */
    const char *ks1 = binary(s, "Reshape", ks, cm11);
    const char *kc1 = binary(s, "Reshape", kc, cm11);
    const char *in_c4[1] = {kc1};
    Onnx__NodeProto *cast4 = add_node(s, "Cast", 1, in_c4, 1);
    attr_int(s, cast4, "to", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT);
    if (cast4 == NULL) goto fail;
    const char *det_in[3] = {kb, ks1, cast4->output[0]};
    Onnx__NodeProto *det = add_node(s, "Concat", 3, det_in, 1);                 /* [K, 6] */
    attr_int(s, det, "axis", -1);
    if (det == NULL) goto fail;
    /* pad to max_det rows: pads [0, 6 (300 - K)], spelt as the exporter does */
    const char *sh2 = unary(s, "Shape", det->output[0]);
    const char *flat = binary(s, "Reshape", det->output[0], cm1);              /* [6K] */
    const char *k = nms_axis_op(s, "Gather", sh2, cs0, "axis", 0);
    const char *rest = binary(s, "Sub", nms_i64(s, "max_det_scalar", 0, none, vdet, 1), k);
    const char *rest6 = binary(s, "Mul", rest, nms_i64(s, "six", 0, none, v6, 1));
    const char *r1 = binary(s, "Unsqueeze", rest6, c0);
    const char *pc_in[2] = {c0, r1};
    Onnx__NodeProto *pc = add_node(s, "Concat", 2, pc_in, 1);
    attr_int(s, pc, "axis", 0);
    if (pc == NULL) goto fail;
    const char *p2 = binary(s, "Reshape", pc->output[0], nms_i64(s, "pairs", 1, two, vm12, 2));
    const char *pr = nms_slice(s, p2, cm1, nms_i64(s, "to_start", 1, one, vmin, 1), c0, cm1);
    const char *pads = binary(s, "Reshape", pr, cm1);
    const char *pad_in[3] = {flat, pads, NULL};
    Onnx__NodeProto *pad = add_node(s, "Pad", 3, pad_in, 1);
    attr_str(s, pad, "mode", "constant");
    if (pad == NULL) goto fail;
    const char *rows = binary(s, "Reshape", pad->output[0], nms_i64(s, "out_shape", 1, (int64_t[]){3},
                                                                     out_sh, 3));
    static const float zeros[NMS_MAX_DET * 6];
    const int64_t zd[3] = {1, NMS_MAX_DET, 6}, id[2] = {1, 1};
    const char *sc_in[3] = {add_init(s, arena_printf(s, "/nms/zeros"),
                                     ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, zd, zeros,
                                     sizeof zeros, 0),
                            nms_i64(s, "batch_slot", 2, id, v0, 1), rows};
    Onnx__NodeProto *out = add_node(s, "ScatterND", 3, sc_in, 1);
    if (out == NULL) goto fail;
    out->output[0] = "output0";
    snprintf(s->scope, MAX_SCOPE, "%s", saved);
    return out->output[0];
fail:
    snprintf(s->scope, MAX_SCOPE, "%s", saved);
    return NULL;
}

/* DFL after its input Reshape to [1, 4, 16, A] (tensor d), in the current
 * scope (Detect's "dfl"): Transpose, Softmax over the bins, the fixed 1x1
 * conv (weights 0..15), Reshape to [1, 4, A]. Returns that tensor. */
const char *cvb__synth_dfl(struct synth *s, const char *d, int64_t n_anchor) {
    int64_t perm[4] = {0, 2, 1, 3};
    d = transpose(s, d, 4, perm);
    d = softmax(s, d, 1);
    struct val dv = {.name = d, .c = REG_MAX, .h = 4, .w = (int)n_anchor};
    dv = conv_role(s, "conv", dv, 1, 1, 1, -1, 1, F_BARE | F_NOBIAS, ROLE_DFL);
    int64_t sh3[3] = {1, 4, n_anchor};
    return reshape(s, dv.name, 3, sh3);
}

/* Anchors [1, 2, A] (cell centres) and strides [1, A] of the levels
 * feats[0..nl) as initializers named anc_name and str_name (copied); their names
 * into *anchors and *strd. Returns 0 or the first error. */
int cvb__synth_anchors(struct synth *s, const struct val *feats, int nl, const int *strides,
                       const char *anc_name, const char *str_name, const char **anchors,
                       const char **strd) {
    int64_t n_anchor = 0;
    for (int i = 0; i < nl; i++) n_anchor += (int64_t)feats[i].h * feats[i].w;
    float *anc = arena_alloc(s, sizeof(float) * 2 * (size_t)n_anchor);
    float *str = arena_alloc(s, sizeof(float) * (size_t)n_anchor);
    if (anc == NULL || str == NULL) return s->rc;
    int64_t a = 0;
    for (int i = 0; i < nl; i++)
        for (int y = 0; y < feats[i].h; y++)
            for (int x = 0; x < feats[i].w; x++, a++) {
                anc[a] = (float)x + 0.5f;
                anc[n_anchor + a] = (float)y + 0.5f;
                str[a] = (float)strides[i];
            }
    int64_t ad[3] = {1, 2, n_anchor}, sd[2] = {1, n_anchor};
    *anchors = add_init(s, arena_printf(s, "%s", anc_name), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 3, ad, anc,
                        sizeof(float) * 2 * (size_t)n_anchor, 0);
    *strd = add_init(s, arena_printf(s, "%s", str_name), ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, sd, str,
                     sizeof(float) * (size_t)n_anchor, 0);
    return s->rc;
}

/* ==== architectures ======================================================= */

/* Build the whole graph at s->imgsz into s->nodes / s->inits. The v5u, v8
 * and 11 graphs end in 8.4's Detect head (synth_v9.c) on the layers
 * levels[]. Its convs are created after the last layer, each level's box
 * branch before its class branch, the order of the 8.3 head these archs had
 * before: the weights come from one stream in creation order, so a seed
 * keeps its weights and calibrated detector (and what was measured on them:
 * the precision guard's seeds, BENCHMARKS.md). The exporter writes each
 * level right after the layer that feeds it; node order is not part of the
 * graph's meaning, and synth_vs_export.py reports it without failing. */
static int build_graph(struct synth *s) {
    graph_reset(s);
    if (s->arch->id == ARCH_V9T) return cvb__synth_build_v9t(s);
    if (s->arch->id == ARCH_V10N) return cvb__synth_build_v10n(s);
    if (s->arch->id == ARCH_12N) return cvb__synth_build_v12n(s);
    if (s->arch->id == ARCH_26N) return cvb__synth_build_v26n(s);
    struct val L[24];
    struct val x = {.name = "images", .c = 3, .h = s->imgsz, .w = s->imgsz};
    static const int levels_v8[3] = {15, 18, 21}, levels_v5[3] = {17, 20, 23},
                     levels_11[3] = {16, 19, 22};
    const int *levels = s->arch->id == ARCH_V5NU  ? levels_v5
                        : s->arch->id == ARCH_11N ? levels_11
                                                  : levels_v8;
    struct detect84 det = {.layer = levels[2] + 1, .dw = s->arch->id == ARCH_11N,
                           .box_first = true};
    char comp[16];
#define LAYER(i, expr)                                                         \
    do {                                                                       \
        snprintf(comp, sizeof comp, "model.%d", (i));                          \
        size_t mark_ = scope_push(s, comp);                                    \
        L[i] = (expr);                                                         \
        scope_pop(s, mark_);                                                   \
    } while (0)
#define CAT2(i, a, b)                                                          \
    do {                                                                       \
        struct val xs_[2] = {(a), (b)};                                        \
        LAYER(i, concat(s, 2, xs_));                                           \
    } while (0)

#define CONVL(i, in, c, k, st) LAYER(i, conv_here(s, (in), (c), (k), (st), -1))
    switch (s->arch->id) {
    case ARCH_V8N:
    case ARCH_V8S: {
        CONVL(0, x, ch(s, 64), 3, 2);
        CONVL(1, L[0], ch(s, 128), 3, 2);
        LAYER(2, c2f(s, L[1], ch(s, 128), reps(s, 3), 1, 0.5, BLK_C2F));
        CONVL(3, L[2], ch(s, 256), 3, 2);
        LAYER(4, c2f(s, L[3], ch(s, 256), reps(s, 6), 1, 0.5, BLK_C2F));
        CONVL(5, L[4], ch(s, 512), 3, 2);
        LAYER(6, c2f(s, L[5], ch(s, 512), reps(s, 6), 1, 0.5, BLK_C2F));
        CONVL(7, L[6], ch(s, 1024), 3, 2);
        LAYER(8, c2f(s, L[7], ch(s, 1024), reps(s, 3), 1, 0.5, BLK_C2F));
        LAYER(9, sppf(s, L[8], ch(s, 1024)));
        LAYER(10, upsample(s, L[9]));
        CAT2(11, L[10], L[6]);
        LAYER(12, c2f(s, L[11], ch(s, 512), reps(s, 3), 0, 0.5, BLK_C2F));
        LAYER(13, upsample(s, L[12]));
        CAT2(14, L[13], L[4]);
        LAYER(15, c2f(s, L[14], ch(s, 256), reps(s, 3), 0, 0.5, BLK_C2F));
        CONVL(16, L[15], ch(s, 256), 3, 2);
        CAT2(17, L[16], L[12]);
        LAYER(18, c2f(s, L[17], ch(s, 512), reps(s, 3), 0, 0.5, BLK_C2F));
        CONVL(19, L[18], ch(s, 512), 3, 2);
        CAT2(20, L[19], L[9]);
        LAYER(21, c2f(s, L[20], ch(s, 1024), reps(s, 3), 0, 0.5, BLK_C2F));
        break;
    }
    case ARCH_V5NU: {
        LAYER(0, conv_here(s, x, ch(s, 64), 6, 2, 2));
        CONVL(1, L[0], ch(s, 128), 3, 2);
        LAYER(2, c3(s, L[1], ch(s, 128), reps(s, 3), 1, 0.5, 1));
        CONVL(3, L[2], ch(s, 256), 3, 2);
        LAYER(4, c3(s, L[3], ch(s, 256), reps(s, 6), 1, 0.5, 1));
        CONVL(5, L[4], ch(s, 512), 3, 2);
        LAYER(6, c3(s, L[5], ch(s, 512), reps(s, 9), 1, 0.5, 1));
        CONVL(7, L[6], ch(s, 1024), 3, 2);
        LAYER(8, c3(s, L[7], ch(s, 1024), reps(s, 3), 1, 0.5, 1));
        LAYER(9, sppf(s, L[8], ch(s, 1024)));
        CONVL(10, L[9], ch(s, 512), 1, 1);
        LAYER(11, upsample(s, L[10]));
        CAT2(12, L[11], L[6]);
        LAYER(13, c3(s, L[12], ch(s, 512), reps(s, 3), 0, 0.5, 1));
        CONVL(14, L[13], ch(s, 256), 1, 1);
        LAYER(15, upsample(s, L[14]));
        CAT2(16, L[15], L[4]);
        LAYER(17, c3(s, L[16], ch(s, 256), reps(s, 3), 0, 0.5, 1));
        CONVL(18, L[17], ch(s, 256), 3, 2);
        CAT2(19, L[18], L[14]);
        LAYER(20, c3(s, L[19], ch(s, 512), reps(s, 3), 0, 0.5, 1));
        CONVL(21, L[20], ch(s, 512), 3, 2);
        CAT2(22, L[21], L[10]);
        LAYER(23, c3(s, L[22], ch(s, 1024), reps(s, 3), 0, 0.5, 1));
        break;
    }
    case ARCH_V9T: /* above */
    case ARCH_V10N: break;
    case ARCH_12N: break;
    case ARCH_26N: break;
    case ARCH_11N: {
        CONVL(0, x, ch(s, 64), 3, 2);
        CONVL(1, L[0], ch(s, 128), 3, 2);
        LAYER(2, c2f(s, L[1], ch(s, 256), reps(s, 2), 1, 0.25, BLK_C3K2_BOTTLENECK));
        CONVL(3, L[2], ch(s, 256), 3, 2);
        LAYER(4, c2f(s, L[3], ch(s, 512), reps(s, 2), 1, 0.25, BLK_C3K2_BOTTLENECK));
        CONVL(5, L[4], ch(s, 512), 3, 2);
        LAYER(6, c2f(s, L[5], ch(s, 512), reps(s, 2), 1, 0.5, BLK_C3K2_C3K));
        CONVL(7, L[6], ch(s, 1024), 3, 2);
        LAYER(8, c2f(s, L[7], ch(s, 1024), reps(s, 2), 1, 0.5, BLK_C3K2_C3K));
        LAYER(9, sppf(s, L[8], ch(s, 1024)));
        LAYER(10, c2psa(s, L[9], reps(s, 2)));
        LAYER(11, upsample(s, L[10]));
        CAT2(12, L[11], L[6]);
        LAYER(13, c2f(s, L[12], ch(s, 512), reps(s, 2), 1, 0.5, BLK_C3K2_BOTTLENECK));
        LAYER(14, upsample(s, L[13]));
        CAT2(15, L[14], L[4]);
        LAYER(16, c2f(s, L[15], ch(s, 256), reps(s, 2), 1, 0.5, BLK_C3K2_BOTTLENECK));
        CONVL(17, L[16], ch(s, 256), 3, 2);
        CAT2(18, L[17], L[13]);
        LAYER(19, c2f(s, L[18], ch(s, 512), reps(s, 2), 1, 0.5, BLK_C3K2_BOTTLENECK));
        CONVL(20, L[19], ch(s, 512), 3, 2);
        CAT2(21, L[20], L[10]);
        LAYER(22, c2f(s, L[21], ch(s, 1024), reps(s, 2), 1, 0.5, BLK_C3K2_C3K));
        break;
    }
    }
#undef LAYER
#undef CAT2
#undef CONVL
    det.ch0 = L[levels[0]].c;
    for (int i = 0; i < 3; i++) cvb__synth_det84_level(s, &det, i, L[levels[i]]);
    return cvb__synth_det84_tail(s, &det);
}

/* ==== model assembly ====================================================== */

static const char *const coco_names[NC] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush"};

static Onnx__ValueInfoProto *value_info(struct synth *s, const char *name, int ndim,
                                        const int64_t *dims) {
    Onnx__ValueInfoProto *vi = arena_alloc(s, sizeof(*vi));
    Onnx__TypeProto *tp = arena_alloc(s, sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = arena_alloc(s, sizeof(*tt));
    Onnx__TensorShapeProto *sh = arena_alloc(s, sizeof(*sh));
    Onnx__TensorShapeProto__Dimension **dv = arena_alloc(s, sizeof(*dv) * (size_t)ndim);
    if (vi == NULL || tp == NULL || tt == NULL || sh == NULL || dv == NULL) return NULL;
    onnx__value_info_proto__init(vi);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < ndim; i++) {
        dv[i] = arena_alloc(s, sizeof(**dv));
        if (dv[i] == NULL) return NULL;
        onnx__tensor_shape_proto__dimension__init(dv[i]);
        dv[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dv[i]->dim_value = dims[i];
    }
    sh->n_dim = (size_t)ndim;
    sh->dim = dv;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->name = (char *)name;
    vi->type = tp;
    return vi;
}

/* Serialize the graph built last into a fresh malloc'd buffer. */
static int pack_model(struct synth *s, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if (s->rc < 0) return s->rc;
    int64_t n_anchor = 0;
    for (int st = 8; st <= 32; st *= 2) n_anchor += (int64_t)(s->imgsz / st) * (s->imgsz / st);
    int64_t in_dims[4] = {1, 3, s->imgsz, s->imgsz}, out_dims[3] = {1, 4 + NC, n_anchor};
    if (s->end2end) out_dims[1] = e2e_rows(n_anchor), out_dims[2] = 6; /* [1, K, 6] */
    if (s->nms) out_dims[1] = NMS_MAX_DET, out_dims[2] = 6;              /* [1, 300, 6] */

    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    onnx__model_proto__init(&model);
    onnx__graph_proto__init(&graph);
    onnx__operator_set_id_proto__init(&opset);
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    opset.domain = "";
    opset.has_version = 1;
    opset.version = OPSET;

    Onnx__ValueInfoProto *in = value_info(s, "images", 4, in_dims);
    Onnx__ValueInfoProto *outs[1 + MAX_ATTN] = {value_info(s, "output0", 3, out_dims)};
    int n_out = 1;
    for (int i = 0; s->pack_attn && i < s->n_attn; i++)
        if ((outs[n_out++] = value_info(s, s->attn_out[i], 4, s->attn_dims[i])) == NULL) return s->rc;
    Onnx__ValueInfoProto *out = outs[0];

    /* Ultralytics' own metadata keys (exporter.py), then ours. */
    char names[2048];
    size_t used = 0;
    used += (size_t)snprintf(names + used, sizeof names - used, "{");
    for (int i = 0; i < NC && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%d: '%s'", i ? ", " : "", i,
                                 coco_names[i]);
    if (used < sizeof names) snprintf(names + used, sizeof names - used, "}");
    char imgsz[32], seed[32];
    snprintf(imgsz, sizeof imgsz, "[%d, %d]", s->imgsz, s->imgsz);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)s->seed);
    const char *kv[][2] = {
        {"description", s->arch->desc},
        {"author", "cvbench model synth (synthetic weights, not Ultralytics' trained weights)"},
        {"stride", "32"},
        {"task", "detect"},
        {"batch", "1"},
        {"imgsz", imgsz},
        {"names", names},
        {"cvbench.synthetic", "true"},
        {"cvbench.arch", s->arch->name},
        {"cvbench.seed", seed},
        {"end2end", "True"}, /* Ultralytics' key for [1, K, 6] heads; only with end2end */
    };
    enum { N_KV = sizeof kv / sizeof kv[0] };
    const int n_meta = s->end2end ? N_KV : N_KV - 1;
    Onnx__StringStringEntryProto meta[N_KV];
    Onnx__StringStringEntryProto *metap[N_KV];
    for (int i = 0; i < n_meta; i++) {
        onnx__string_string_entry_proto__init(&meta[i]);
        meta[i].key = (char *)kv[i][0];
        meta[i].value = (char *)kv[i][1];
        metap[i] = &meta[i];
    }
    if (in == NULL || out == NULL) return s->rc;

    graph.name = "main_graph";
    graph.n_node = (size_t)s->n_nodes;
    graph.node = s->nodes;
    graph.n_initializer = (size_t)s->n_inits;
    graph.initializer = s->inits;
    graph.n_input = 1;
    graph.input = &in;
    graph.n_output = (size_t)n_out;
    graph.output = outs;

    model.has_ir_version = 1;
    model.ir_version = IR_VERSION;
    model.n_opset_import = 1;
    model.opset_import = opsets;
    model.producer_name = "cvbench-synth";
    model.producer_version = CVB_VERSION;
    model.graph = &graph;
    model.n_metadata_props = (size_t)n_meta;
    model.metadata_props = metap;

    size_t n = onnx__model_proto__get_packed_size(&model);
    uint8_t *b = malloc(n ? n : 1);
    if (b == NULL) return fail(s, CVB_ENOMEM, "out of memory serializing the model");
    size_t wrote = onnx__model_proto__pack(&model, b);
    if (wrote != n) {
        free(b);
        return fail(s, CVB_EINTERNAL, "protobuf-c packed a different size than it measured");
    }
    *buf = b;
    *len = n;
    return 0;
}

/* ==== calibration ========================================================= */

/* Per-pixel hash noise in [-1, 1], a pure function of position. */
static double pixel_noise(uint64_t x, uint64_t y, uint64_t c) {
    uint64_t h = (x * 0x9E3779B97F4A7C15ull) ^ (y * 0xC2B2AE3D27D4EB4Full) ^ (c << 56);
    return (double)(splitmix64(&h) >> 11) * 0x1.0p-52 - 1.0;
}

/* The calibration input is a 3 x 3 mosaic of unlike content, so that the
 * per-channel statistics of one image span what a batch of photos would
 * (between-content variance included), as YOLO's own mosaic augmentation
 * does: a model normalised on it stays sane on photos, noise and flat
 * frames. Tiles, row-major: blobs on gradients, uniform noise, flat grey,
 * stripes, dark scene, sharp rectangles, bright scene, small blobs, smooth
 * gradient. Every pattern is defined in tile-relative coordinates, so the
 * picture is the same at every size (but for pixel noise). */
enum { N_BLOBS = 10, N_RECTS = 8 };
struct calib_pic {
    struct { double cu, cv, ru, rv, rgb[3], freq, ang, tex; } blobs[N_BLOBS];
    struct { double u0, v0, u1, v1, rgb[3]; } rects[N_RECTS];
};

static void calib_pic_init(struct calib_pic *pc) {
    uint64_t r = 0x5EEDC0FFEEull; /* fixed: the same picture for every model */
    for (int i = 0; i < N_BLOBS; i++) {
        pc->blobs[i].cu = 0.1 + 0.8 * rng_uniform(&r);
        pc->blobs[i].cv = 0.1 + 0.8 * rng_uniform(&r);
        pc->blobs[i].ru = 0.08 + 0.25 * rng_uniform(&r);
        pc->blobs[i].rv = 0.08 + 0.25 * rng_uniform(&r);
        for (int c = 0; c < 3; c++) pc->blobs[i].rgb[c] = rng_uniform(&r);
        pc->blobs[i].freq = 4 + 16 * rng_uniform(&r);
        pc->blobs[i].ang = 3.14159265 * rng_uniform(&r);
        pc->blobs[i].tex = (i % 2) ? 0.3 * rng_uniform(&r) : 0.0;
    }
    for (int i = 0; i < N_RECTS; i++) {
        double u = 0.9 * rng_uniform(&r), v = 0.9 * rng_uniform(&r);
        pc->rects[i].u0 = u;
        pc->rects[i].v0 = v;
        pc->rects[i].u1 = u + 0.1 + 0.4 * rng_uniform(&r);
        pc->rects[i].v1 = v + 0.1 + 0.4 * rng_uniform(&r);
        for (int c = 0; c < 3; c++) pc->rects[i].rgb[c] = rng_uniform(&r);
    }
}

static void blobs_over(const struct calib_pic *pc, double u, double v, double scale, double *px) {
    const double tau = 6.283185307179586;
    for (int i = 0; i < N_BLOBS; i++) {
        double du = (u - pc->blobs[i].cu) / (pc->blobs[i].ru * scale);
        double dv = (v - pc->blobs[i].cv) / (pc->blobs[i].rv * scale);
        double alpha = (1.0 - sqrt(du * du + dv * dv)) * 8.0;
        if (alpha <= 0) continue;
        if (alpha > 1) alpha = 1;
        double stripe = pc->blobs[i].tex *
                        sin(tau * pc->blobs[i].freq / scale *
                            (u * cos(pc->blobs[i].ang) + v * sin(pc->blobs[i].ang)));
        for (int c = 0; c < 3; c++) px[c] = (1 - alpha) * px[c] + alpha * (pc->blobs[i].rgb[c] + stripe);
    }
}

/* Value noise: smoothly interpolated hash noise on a grid of 'f' cells per
 * unit, in [-1, 1]. */
static double value_noise(double u, double v, double f, uint64_t salt) {
    double gx = u * f, gy = v * f;
    double fx = floor(gx), fy = floor(gy), tx = gx - fx, ty = gy - fy;
    uint64_t ix = (uint64_t)(int64_t)fx, iy = (uint64_t)(int64_t)fy;
    tx = tx * tx * (3 - 2 * tx);
    ty = ty * ty * (3 - 2 * ty);
    double n00 = pixel_noise(ix, iy, salt), n10 = pixel_noise(ix + 1, iy, salt);
    double n01 = pixel_noise(ix, iy + 1, salt), n11 = pixel_noise(ix + 1, iy + 1, salt);
    return (n00 * (1 - tx) + n10 * tx) * (1 - ty) + (n01 * (1 - tx) + n11 * tx) * ty;
}

/* Photo-like texture: octaves of value noise with a 1/f amplitude
 * spectrum (natural images' statistics), colours partly correlated. */
static void fractal_px(double u, double v, uint64_t salt, double *px) {
    double acc[3] = {0, 0, 0};
    for (int o = 0; o < 8; o++) {
        double f = (double)(2 << o), a = 2.0 / f;
        double shared = value_noise(u, v, f, salt + 16u * o);
        for (int c = 0; c < 3; c++)
            acc[c] += a * (0.75 * shared + 0.25 * value_noise(u, v, f, salt + 16u * o + 1 + c));
    }
    for (int c = 0; c < 3; c++) px[c] = 0.5 + 0.45 * acc[c];
}

static void calib_pixel(const struct calib_pic *pc, int tile, double u, double v, int x, int y,
                        double *px) {
    const double tau = 6.283185307179586;
    for (int c = 0; c < 3; c++)
        px[c] = 0.5 + 0.2 * sin(tau * (1.1 * u + 0.3 * c)) * cos(tau * (0.7 * v - 0.2 * c)) +
                0.15 * (u - v) * (c - 1);
    switch (tile) {
    case 0: blobs_over(pc, u, v, 1.0, px); break;
    case 1:
        for (int c = 0; c < 3; c++) px[c] = 0.5 + 0.5 * pixel_noise((uint64_t)x, (uint64_t)y, (uint64_t)c + 3);
        break;
    case 2:
        for (int c = 0; c < 3; c++) px[c] = 114.0 / 255.0;
        break;
    case 3:
        for (int c = 0; c < 3; c++)
            px[c] = 0.5 + 0.4 * sin(tau * (6 + 10 * v) * u + c) * (v < 0.5 ? 1 : cos(tau * 9 * v));
        break;
    case 4:
        for (int c = 0; c < 3; c++) px[c] *= 0.25;
        blobs_over(pc, 1 - u, v, 0.6, px);
        break;
    case 5:
        for (int i = 0; i < N_RECTS; i++)
            if (u >= pc->rects[i].u0 && u < pc->rects[i].u1 && v >= pc->rects[i].v0 &&
                v < pc->rects[i].v1)
                for (int c = 0; c < 3; c++) px[c] = pc->rects[i].rgb[c];
        break;
    case 6:
        for (int c = 0; c < 3; c++) px[c] = 0.75 + 0.5 * (px[c] - 0.5);
        blobs_over(pc, v, u, 1.3, px);
        break;
    case 7: blobs_over(pc, u, 1 - v, 0.35, px); break;
    /* whole-frame variants only (calib_variant), not in the mosaic: */
    case 10:
        fractal_px(u, v, 2000, px);
        blobs_over(pc, u, v, 0.8, px);
        break;
    default: break;
    }
}

void cvb_synth_calib_image(int imgsz, float *out) {
    struct calib_pic pc;
    calib_pic_init(&pc);
    size_t plane = (size_t)imgsz * imgsz;
    for (int y = 0; y < imgsz; y++) {
        int ty = y * 3 / imgsz;
        double v = (y - ty * imgsz / 3.0 + 0.5) / (imgsz / 3.0);
        for (int x = 0; x < imgsz; x++) {
            int tx = x * 3 / imgsz;
            double u = (x - tx * imgsz / 3.0 + 0.5) / (imgsz / 3.0);
            double px[3];
            calib_pixel(&pc, ty * 3 + tx, u, v, x, y, px);
            for (int c = 0; c < 3; c++) {
                double p = px[c] + 0.02 * pixel_noise((uint64_t)x, (uint64_t)y, (uint64_t)c);
                p = p < 0 ? 0 : p > 1 ? 1 : p;
                out[(size_t)c * plane + (size_t)y * imgsz + x] = (float)p;
            }
        }
    }
}

/* The inputs the class bias is chosen over (after the BN-style init, which
 * sees only the mosaic), one oneDNN run each: whole frames of single
 * contents, some letterboxed with grey 114 bars as a photo of another aspect
 * ratio is, a photo-like 1/f texture, uniform noise and a flat grey frame.
 * (The mosaic itself is not among them: its tile seams are unlike any
 * photo's content.) */
static const struct {
    int tile;      /* calib_pixel() content */
    double v0, v1; /* content rows (fractions of the side); grey 114 outside */
    double u0, u1; /* content columns */
} calib_variants[] = {
    {0, 0, 1, 0, 1},         /* blobs on gradients */
    {5, 0.125, 0.875, 0, 1}, /* sharp rectangles, letterboxed */
    {4, 0, 1, 0.2, 0.8},     /* dark scene, pillarboxed */
    {10, 0.15, 0.85, 0, 1},  /* 1/f texture with blobs, letterboxed */
    {1, 0, 1, 0, 1},         /* uniform noise */
    {2, 0, 1, 0, 1},         /* grey */
};

static void calib_variant(int imgsz, int k, float *out) {
    struct calib_pic pc;
    calib_pic_init(&pc);
    size_t plane = (size_t)imgsz * imgsz;
    double v0 = calib_variants[k].v0, v1 = calib_variants[k].v1;
    double u0 = calib_variants[k].u0, u1 = calib_variants[k].u1;
    for (int y = 0; y < imgsz; y++) {
        double fy = (y + 0.5) / imgsz;
        for (int x = 0; x < imgsz; x++) {
            double fx = (x + 0.5) / imgsz, px[3];
            if (fy < v0 || fy >= v1 || fx < u0 || fx >= u1) {
                for (int c = 0; c < 3; c++) out[(size_t)c * plane + (size_t)y * imgsz + x] = 114.0f / 255.0f;
                continue;
            }
            calib_pixel(&pc, calib_variants[k].tile, (fx - u0) / (u1 - u0), (fy - v0) / (v1 - v0),
                        x, y, px);
            for (int c = 0; c < 3; c++) {
                double p = px[c];
                if (calib_variants[k].tile != 2)
                    p += 0.02 * pixel_noise((uint64_t)x, (uint64_t)y, (uint64_t)c);
                p = p < 0 ? 0 : p > 1 ? 1 : p;
                out[(size_t)c * plane + (size_t)y * imgsz + x] = (float)p;
            }
        }
    }
}

/* Fraction of a layer's median channel std below which a channel's std is
 * not trusted for its gain. At 1, no channel gets more gain than the
 * layer's median one: channels quiet on the mosaic would otherwise amplify
 * whatever other inputs put there (measured: the neck's activations reached
 * std 5-20 on photos with 0.25). */
#define CALIB_SD_FLOOR 1.0

struct calib {
    struct synth *s;
    double *scratch; /* 3 x max channels */
    int64_t scratch_n;
    int n_fixed;
    int n_attn; /* attention blocks whose logits were rescaled */
    int failed;
    float act_std_min, act_std_max;
};

static struct conv_w *find_conv(struct synth *s, const char *node) {
    for (int i = 0; i < s->n_convs; i++)
        if (strcmp(s->convs[i].node, node) == 0) return &s->convs[i];
    return NULL;
}

/* Target (gamma, beta) of output channel c of a conv: BatchNorm-like
 * per-channel scale and shift, drawn from a stream private to the conv so
 * that they do not depend on anything but the seed and the conv's place. */
static void target_affine(const struct synth *s, const struct conv_w *cw, int idx, int c,
                          double *gamma, double *beta) {
    uint64_t r = s->seed ^ (0xA5A5A5A5ull + (uint64_t)idx * 0x9E3779B97F4A7C15ull) ^
                 ((uint64_t)c << 40);
    double n1 = rng_normal(&r), n2 = rng_normal(&r);
    switch (cw->role) {
    case ROLE_BOX:
        /* DFL bin logits: a prior towards short distances (boxes ~6
         * strides wide): see "the planted detector" */
        *gamma = 1.0; /* the weights are dropped later: box_weights() */
        *beta = -0.3 * (c % REG_MAX) + 0.5 * n2;
        break;
    case ROLE_CLS:
        *gamma = 1.0;
        *beta = 0.0; /* shifted together afterwards */
        break;
    default:
        *gamma = exp(0.15 * n1);
        *beta = 0.2 * n2;
        break;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Attention logits (C2PSA, AAttn): the first MatMul of an Attention block, q^T k
 * [areas, heads, N, N] before the kd^-0.5 scale (after it in AAttn and in
 * Ultralytics 8.4's Attention, YOLO26's, which scale q first). With BN-normalised q and k
 * channels they are far larger than a trained model's (thousands; the
 * Softmax then amplifies rounding differences between kernel sets), so each
 * head's logits are rescaled in place to a scaled std of
 * CALIB_ATTN_LOGIT_STD, and the q and k output channels of that head in the
 * qkv conv get weights and bias times sqrt(f) (v is untouched), which scales
 * q^T k by exactly f. */
#define CALIB_ATTN_LOGIT_STD 2.0
static void attention_logits(struct calib *cb, const char *node, float *data,
                             const int64_t *dims) {
    static const char tail[] = "/attn/MatMul";
    size_t nl = strlen(node), tl = sizeof tail - 1;
    if (nl < tl || strcmp(node + nl - tl, tail) != 0) return; /* MatMul_1: attn @ v */
    char qkv[MAX_SCOPE + 32];
    snprintf(qkv, sizeof qkv, "%.*s/attn/qkv/conv/Conv", (int)(nl - tl), node);
    struct conv_w *cw = find_conv(cb->s, qkv);
    int64_t areas = dims[0], heads = dims[1], npos = dims[2] * dims[3];
    bool prescaled = false;
    for (int i = 0; i < cb->s->n_attn; i++)
        if (cw != NULL && &cb->s->convs[cb->s->attn_qkv[i]] == cw) prescaled = cb->s->attn_prescaled[i];
    if (cw == NULL || cw->b == NULL || heads <= 0 || cw->cout % heads != 0 ||
        cw->cin_g % heads != 0) {
        cb->failed = 1;
        return;
    }
    int per = cw->cout / (int)heads, hd = cw->cin_g / (int)heads, kd = (per - hd) / 2;
    if (kd <= 0) {
        cb->failed = 1;
        return;
    }
    size_t wper = (size_t)cw->cin_g * cw->k * cw->k;
    /* Ultralytics 8.4's Attention (YOLO26) scales q before this MatMul: its
     * output is then the scaled logits (noted by the builder as attn_out) */
    char out[MAX_SCOPE + 48];
    bool scaled = false;
    snprintf(out, sizeof out, "%s_output_0", node);
    for (int i = 0; i < cb->s->n_attn; i++) scaled |= strcmp(cb->s->attn_out[i], out) == 0;
    for (int64_t h = 0; h < heads; h++) {
        /* one head's logits over all areas: they share the qkv weights */
        double sum = 0, sq = 0;
        for (int64_t a = 0; a < areas; a++) {
            const float *p = data + (a * heads + h) * npos;
            for (int64_t i = 0; i < npos; i++) {
                sum += p[i];
                sq += (double)p[i] * p[i];
            }
        }
        double n = (double)(areas * npos), mean = sum / n, sd = sqrt(fmax(sq / n - mean * mean, 0));
        /* before the scale Mul, unless q was scaled before this MatMul */
        double target = CALIB_ATTN_LOGIT_STD * (prescaled || scaled ? 1.0 : sqrt((double)kd));
        if (sd < 1e-12) continue;
        double f = target / sd, r = sqrt(f);
        for (int64_t a = 0; a < areas; a++) {
            float *p = data + (a * heads + h) * npos;
            for (int64_t i = 0; i < npos; i++) p[i] = (float)(p[i] * f);
        }
        for (int c = (int)h * per; c < (int)h * per + 2 * kd; c++) {
            float *w = cw->w + (size_t)c * wper;
            for (size_t j = 0; j < wper; j++) w[j] = (float)(w[j] * r);
            cw->b[c] = (float)(cw->b[c] * r);
        }
    }
    cb->n_attn++;
}

static void observe(void *user, const char *node, const char *op, float *data, int ndim,
                    const int64_t *dims) {
    struct calib *cb = user;
    struct synth *s = cb->s;
    if (ndim == 4 && strcmp(op, "MatMul") == 0) { /* AAttn: areas in dims[0] */
        attention_logits(cb, node, data, dims);
        return;
    }
    if (ndim != 4 || dims[0] != 1) return;
    int64_t C = dims[1], HW = dims[2] * dims[3];
    if (strcmp(op, "Mul") == 0) {
        size_t nl = strlen(node);
        if (nl < 8 || strcmp(node + nl - 8, "/act/Mul") != 0) return;
        /* the random network's activations: the planted channels (the
         * first PLANT_K of a planted conv's output) are not among them */
        char conv_node[MAX_SCOPE + 32];
        snprintf(conv_node, sizeof conv_node, "%.*s/conv/Conv", (int)(nl - 8), node);
        const struct conv_w *pc = find_conv(s, conv_node);
        int64_t skip = pc != NULL ? plant_rows(pc) : 0;
        double sum = 0, sq = 0;
        int64_t n = (C - skip) * HW;
        for (int64_t i = skip * HW; i < C * HW; i++) {
            sum += data[i];
            sq += (double)data[i] * data[i];
        }
        double mean = sum / n, sd = sqrt(fmax(sq / n - mean * mean, 0));
        if (sd < cb->act_std_min) cb->act_std_min = (float)sd;
        if (sd > cb->act_std_max) cb->act_std_max = (float)sd;
        return;
    }
    if (strcmp(op, "Conv") != 0) return;
    struct conv_w *cw = find_conv(s, node);
    if (cw == NULL || cw->cout != C) {
        cb->failed = 1;
        return;
    }
    if (cw->role == ROLE_DFL) return;
    int idx = (int)(cw - s->convs);
    size_t per = (size_t)cw->cin_g * cw->k * cw->k;
    double *mean = cb->scratch, *sd = cb->scratch + C;
    if (3 * C > cb->scratch_n) {
        cb->failed = 1;
        return;
    }
    for (int64_t c = 0; c < C; c++) {
        const float *p = data + c * HW;
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < HW; i++) {
            sum += p[i];
            sq += (double)p[i] * p[i];
        }
        mean[c] = sum / HW;
        sd[c] = sqrt(fmax(sq / HW - mean[c] * mean[c], 0));
    }
    /* A channel nearly constant on the calibration input would get a huge
     * gain and explode on other inputs: floor its std (CALIB_SD_FLOOR x the
     * layer's median). */
    double *tmp = cb->scratch + 2 * C;
    memcpy(tmp, sd, sizeof(double) * (size_t)C);
    qsort(tmp, (size_t)C, sizeof(double), cmp_double);
    double floor_sd = fmax(CALIB_SD_FLOOR * tmp[C / 2], 1e-6);
    int planted = plant_rows(cw);
    for (int64_t c = planted; c < C; c++) {
        float *p = data + c * HW;
        double sdc = fmax(sd[c], floor_sd);
        double gamma, beta;
        target_affine(s, cw, idx, (int)c, &gamma, &beta);
        double a = gamma / sdc, b = beta - mean[c] * a;
        for (int64_t i = 0; i < HW; i++) p[i] = (float)(p[i] * a + b);
        float *w = cw->w + (size_t)c * per;
        for (size_t j = 0; j < per; j++) w[j] = (float)(w[j] * a);
        cw->b[c] = (float)(cw->b[c] * a + b);
    }
    cw->seen++;
    cb->n_fixed++;
}

/* Anchors whose best class score exceeds the threshold over the
 * calibration inputs: CVB_SYNTH_HITS_* in the header bound them. */
static void class_weights(const struct synth *s, struct conv_w *cw, int level) {
    size_t per = (size_t)cw->cin_g * cw->k * cw->k;
    /* The random part: every weight negative, heavy-tailed magnitudes (a few
     * input channels dominate each class) with an L1 norm of
     * PLANT_CLS_RAND_L1. SiLU outputs are >= SILU_MIN, so it never adds
     * more than |SILU_MIN| x PLANT_CLS_RAND_L1 to the bias, whatever the
     * input: a random network's activations swing far more between inputs
     * than a trained one's, and zero-mean random class weights would turn
     * that into anywhere from none to every anchor over the threshold. */
    for (int c = 0; c < cw->cout; c++) {
        uint64_t r = s->seed ^ (0xC1A55ull + (uint64_t)level * 0x9E3779B97F4A7C15ull) ^
                     ((uint64_t)c << 32);
        float *w = cw->w + (size_t)c * per;
        double sum = 0;
        for (size_t j = 0; j < per; j++) {
            w[j] = (float)exp(1.5 * rng_normal(&r));
            sum += w[j];
        }
        for (size_t j = 0; j < per; j++) w[j] = (float)(-PLANT_CLS_RAND_L1 * w[j] / sum);
        cw->b[c] = (float)PLANT_CLS_BIAS;
    }
    if (cw->plant != PL_CLS) return;
    size_t taps = (size_t)cw->k * cw->k;
    for (int c = 0; c < cw->cout; c++) /* the random part never reads them */
        memset(cw->w + (size_t)c * per + (size_t)cw->plant_in * taps, 0,
               PLANT_K * taps * sizeof(float));
    for (int k = 0; k < PLANT_K; k++) { /* a planted class is the peak alone */
        int c = plant_class(s, k);
        float *w = cw->w + (size_t)c * per;
        memset(w, 0, per * sizeof(float));
        w[(size_t)(cw->plant_in + k) * taps + taps / 2] = (float)(PLANT_CLS_W / cw->plant_gain);
        cw->b[c] = (float)(PLANT_CLS_BIAS - PLANT_CLS_W / cw->plant_gain * cw->plant_ofs);
    }
}

/* Build the graph at s->imgsz and load it into a one-thread engine with
 * the given kernels (the calibration passes' model; the engine keeps no
 * reference to the serialized bytes). */
static int calib_engine(struct synth *s, enum cvb_kernels kernels, struct cvb_engine **e) {
    void *buf = NULL;
    size_t len = 0;
    int rc = build_graph(s);
    if (rc == 0) rc = pack_model(s, &buf, &len);
    if (rc == 0) {
        struct cvb_engine_opts eo = {.kernels = kernels, .imgsz = 0, .threads = 1};
        struct cvb_err eerr = {0};
        rc = cvb_engine_load_buffer(buf, len, "synthesized calibration model", &eo, e, &eerr);
        if (rc < 0)
            rc = cvb_err_set(s->err, rc,
                             "model synth (%s): calibration model rejected by the engine: %s",
                             s->arch->name, eerr.msg);
    }
    free(buf);
    return rc;
}

/* Attention logits over the class-calibration inputs: the BN-style init
 * tempered them on the mosaic only, where they then have std
 * CALIB_ATTN_LOGIT_STD; other inputs (noise above all) can give many times
 * that, and a Softmax over logits in the hundreds is a hard argmax that
 * amplifies rounding. Runs each calib_variant() with the scaled logits as
 * extra outputs and shrinks q and k of each head so that no input's logit
 * std exceeds CALIB_ATTN_LOGIT_STD_MAX. */
#define CALIB_ATTN_LOGIT_STD_MAX 3.0
static int temper_attention(struct synth *s, int cal_sz) {
    struct cvb_engine *e = NULL;
    float *img = NULL, *bufs[1 + MAX_ATTN] = {NULL};
    double worst[MAX_ATTN][16] = {{0}};
    int rc;
    s->imgsz = cal_sz;
    s->pack_attn = true;
    rc = calib_engine(s, CVB_KERNELS_ONEDNN, &e);
    s->pack_attn = false;
    if (rc < 0) goto out;
    struct cvb_err eerr = {0};
    int n_out = cvb_engine_n_outputs(e);
    if (n_out != 1 + s->n_attn) {
        rc = fail(s, CVB_EINTERNAL, "calibration: attention outputs missing");
        goto out;
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info oi;
        cvb_engine_output_info(e, i, &oi);
        if ((bufs[i] = malloc((size_t)oi.numel * sizeof(float))) == NULL) {
            rc = fail(s, CVB_ENOMEM, "out of memory for calibration");
            goto out;
        }
    }
    img = malloc((size_t)3 * cal_sz * cal_sz * sizeof(float));
    if (img == NULL) {
        rc = fail(s, CVB_ENOMEM, "out of memory for calibration");
        goto out;
    }
    for (int k = 0; k < (int)CVB_ARRAY_LEN(calib_variants); k++) {
        calib_variant(cal_sz, k, img);
        const void *ins[1] = {img};
        rc = cvb_engine_run(e, ins, (void *const *)bufs, &eerr);
        if (rc < 0) {
            rc = cvb_err_set(s->err, rc, "model synth (%s): calibration run failed: %s",
                             s->arch->name, eerr.msg);
            goto out;
        }
        for (int i = 0; i < s->n_attn; i++) {
            int64_t areas = s->attn_dims[i][0], heads = s->attn_dims[i][1];
            int64_t nel = s->attn_dims[i][2] * s->attn_dims[i][3];
            for (int64_t h = 0; h < heads && h < 16; h++) {
                double sum = 0, sq = 0, n = (double)(areas * nel);
                for (int64_t a = 0; a < areas; a++) {
                    const float *p = bufs[1 + i] + (a * heads + h) * nel;
                    for (int64_t j = 0; j < nel; j++) {
                        sum += p[j];
                        sq += (double)p[j] * p[j];
                    }
                }
                double sd = sqrt(fmax(sq / n - (sum / n) * (sum / n), 0));
                worst[i][h] = sd > worst[i][h] ? sd : worst[i][h];
            }
        }
    }
    for (int i = 0; i < s->n_attn; i++) {
        struct conv_w *cw = &s->convs[s->attn_qkv[i]];
        int heads = (int)s->attn_dims[i][1], per = cw->cout / heads, hd = cw->cin_g / heads;
        int kd = (per - hd) / 2;
        size_t wper = (size_t)cw->cin_g * cw->k * cw->k;
        for (int h = 0; h < heads && h < 16; h++) {
            if (worst[i][h] <= CALIB_ATTN_LOGIT_STD_MAX) continue;
            double r = sqrt(CALIB_ATTN_LOGIT_STD_MAX / worst[i][h]);
            for (int c = h * per; c < h * per + 2 * kd; c++) {
                float *w = cw->w + (size_t)c * wper;
                for (size_t j = 0; j < wper; j++) w[j] = (float)(w[j] * r);
                cw->b[c] = (float)(cw->b[c] * r);
            }
        }
    }
    rc = 0;
out:
    cvb_engine_free(e);
    free(img);
    for (int i = 0; i < 1 + MAX_ATTN; i++) free(bufs[i]);
    return rc;
}

/* A box branch's final conv: no weights, its bias the per-side, per-bin
 * prior of target_affine() (see "the planted detector").
 * A head without DFL (reg_max 1, YOLO26: 4 outputs, Detect's dfl an
 * Identity) reads its conv's outputs as the side distances themselves, in
 * strides, where a bin prior would mean distances of -4.5 to 0 and
 * inverted boxes. Its bias per side is instead what a DFL head decodes from
 * the same prior (the bins' softmax expectation, bins 16 j .. 16 j + 15 of
 * target_affine() for side j): every anchor predicts the same ~6-stride box
 * about its cell as the DFL architectures with this seed, and with zero
 * weights that box is the bias, exact at every precision. */
static void box_weights(const struct synth *s, struct conv_w *cw, int idx) {
    memset(cw->w, 0, (size_t)cw->cout * cw->cin_g * cw->k * cw->k * sizeof(float));
    bool dfl = cw->cout == 4 * REG_MAX;
    for (int c = 0; c < cw->cout; c++) {
        double gamma, beta, z = 0, ev = 0, lg[REG_MAX], mx = -INFINITY;
        if (dfl) {
            target_affine(s, cw, idx, c, &gamma, &beta);
            cw->b[c] = (float)beta;
            continue;
        }
        for (int b = 0; b < REG_MAX; b++) {
            target_affine(s, cw, idx, c * REG_MAX + b, &gamma, &lg[b]);
            mx = fmax(mx, lg[b]);
        }
        for (int b = 0; b < REG_MAX; b++) {
            double e = exp(lg[b] - mx);
            z += e;
            ev += b * e;
        }
        cw->b[c] = (float)(ev / z);
    }
}

/* Step 3: the class branch's final convs (class_weights()), then the
 * anchors above the threshold counted over several procedural inputs run
 * with the oneDNN kernels (calib_variant(); reported in the stats). */
static int calibrate_scores(struct synth *s, int cal_sz, struct cvb_synth_stats *st) {
    struct cvb_engine *e = NULL;
    float *img = NULL, *out = NULL;
    int rc, n_cls = 0, n_planted = 0;
    const int K = (int)CVB_ARRAY_LEN(calib_variants);
    s->imgsz = cal_sz;
    for (int i = 0; i < s->n_convs; i++) {
        if (s->convs[i].role == ROLE_BOX) box_weights(s, &s->convs[i], i);
        if (s->convs[i].role == ROLE_CLS) {
            class_weights(s, &s->convs[i], n_cls);
            n_cls++;
            n_planted += s->convs[i].plant == PL_CLS;
        }
    }
    if (n_cls != 3 || n_planted != 1) {
        rc = cvb_err_set(s->err, CVB_EINTERNAL,
                         "model synth (%s): the planted detector reached %d of the %d class "
                         "convolutions (expected the P5 one only)",
                         s->arch->name, n_planted, n_cls);
        goto out;
    }
    if ((rc = calib_engine(s, CVB_KERNELS_ONEDNN, &e)) < 0) goto out;
    struct cvb_err eerr = {0};
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e, 0, &oi);
    int64_t A = oi.dims[2];
    if (oi.dims[1] != 4 + NC) {
        rc = fail(s, CVB_EINTERNAL, "calibration: unexpected Detect head layout");
        goto out;
    }
    img = malloc((size_t)3 * cal_sz * cal_sz * sizeof(float));
    out = malloc((size_t)oi.numel * sizeof(float));
    if (img == NULL || out == NULL) {
        rc = fail(s, CVB_ENOMEM, "out of memory for calibration");
        goto out;
    }
    int hits[32], hmax = 0;
    for (int k = 0; k < K && k < 32; k++) {
        calib_variant(cal_sz, k, img);
        const void *ins[1] = {img};
        void *outs[1] = {out};
        rc = cvb_engine_run(e, ins, outs, &eerr);
        if (rc < 0) {
            rc = cvb_err_set(s->err, rc, "model synth (%s): calibration run failed: %s",
                             s->arch->name, eerr.msg);
            goto out;
        }
        hits[k] = 0;
        for (int64_t a = 0; a < A; a++) {
            float m = 0;
            for (int c = 0; c < NC; c++)
                m = out[(size_t)(4 + c) * A + a] > m ? out[(size_t)(4 + c) * A + a] : m;
            hits[k] += m > CVB_SYNTH_SCORE_THRESH;
        }
        hmax = hits[k] > hmax ? hits[k] : hmax;
    }
    if (st != NULL) {
        st->calib_hits_max = hmax;
        int tmp[32];
        memcpy(tmp, hits, sizeof(int) * (size_t)K);
        for (int i = 1; i < K; i++) /* insertion sort: K is small */
            for (int j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
                int t = tmp[j];
                tmp[j] = tmp[j - 1];
                tmp[j - 1] = t;
            }
        st->calib_hits_median = tmp[K / 2];
        st->calib_n_inputs = K;
    }
    rc = 0;
out:
    cvb_engine_free(e);
    free(img);
    free(out);
    return rc;
}

/* Steps 2 and 3 of the header comment: the BN-style init on the mosaic (with
 * the attention logits tempered), then calibrate_scores(). */
static int calibrate(struct synth *s, int cal_sz, struct cvb_synth_stats *st) {
    struct cvb_engine *e = NULL;
    float *img = NULL, *out = NULL;
    struct calib cb = {.s = s, .act_std_min = INFINITY, .act_std_max = 0};
    uint64_t t0 = cvb_now_ns();
    int rc;
    s->imgsz = cal_sz;
    if ((rc = calib_engine(s, CVB_KERNELS_REF, &e)) < 0) goto out;
    struct cvb_err eerr = {0};
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e, 0, &oi);
    size_t isz = (size_t)3 * cal_sz * cal_sz;
    img = malloc(isz * sizeof(float));
    out = malloc((size_t)oi.numel * sizeof(float));
    if (img == NULL || out == NULL) {
        rc = fail(s, CVB_ENOMEM, "out of memory for calibration");
        goto out;
    }
    int max_c = 0;
    for (int i = 0; i < s->n_convs; i++) max_c = s->convs[i].cout > max_c ? s->convs[i].cout : max_c;
    cb.scratch_n = 3 * (int64_t)max_c;
    cb.scratch = malloc(sizeof(double) * (size_t)cb.scratch_n);
    if (cb.scratch == NULL) {
        rc = fail(s, CVB_ENOMEM, "out of memory for calibration");
        goto out;
    }
    cvb_synth_calib_image(cal_sz, img);
    cvb_engine_set_observer(e, observe, &cb);
    const void *ins[1] = {img};
    void *outs[1] = {out};
    rc = cvb_engine_run(e, ins, outs, &eerr);
    if (rc < 0) {
        rc = cvb_err_set(s->err, rc, "model synth (%s): calibration run failed: %s",
                         s->arch->name, eerr.msg);
        goto out;
    }
    int expect = 0;
    for (int i = 0; i < s->n_convs; i++) expect += s->convs[i].role != ROLE_DFL;
    if (cb.failed || cb.n_fixed != expect) {
        rc = cvb_err_set(s->err, CVB_EINTERNAL,
                         "model synth (%s): calibration saw %d of %d convolutions (the engine "
                         "must call its observer after every Conv node with reference kernels)",
                         s->arch->name, cb.n_fixed, expect);
        goto out;
    }
    int n_qkv = 0;
    for (int i = 0; i < s->n_convs; i++) {
        static const char qkv[] = "/attn/qkv/conv/Conv";
        size_t nl = strlen(s->convs[i].node), ql = sizeof qkv - 1;
        n_qkv += nl > ql && strcmp(s->convs[i].node + nl - ql, qkv) == 0;
    }
    if (cb.n_attn != n_qkv) {
        rc = cvb_err_set(s->err, CVB_EINTERNAL,
                         "model synth (%s): calibration rescaled %d of %d attention blocks",
                         s->arch->name, cb.n_attn, n_qkv);
        goto out;
    }
    cvb_engine_free(e);
    e = NULL;
    if (s->n_attn > 0 && (rc = temper_attention(s, cal_sz)) < 0) goto out;
    rc = calibrate_scores(s, cal_sz, st);
    if (rc < 0) goto out;
    if (st != NULL) {
        st->calib_imgsz = cal_sz;
        st->calib_act_std_min = cb.act_std_min;
        st->calib_act_std_max = cb.act_std_max;
        st->calib_ms = (double)(cvb_now_ns() - t0) / 1e6;
    }
    rc = 0;
out:
    cvb_engine_free(e);
    free(img);
    free(out);
    free(cb.scratch);
    return rc;
}

/* ==== public API ========================================================== */

static int check_opts(const struct cvb_synth_opts *o, const struct arch **arch, int *imgsz,
                      struct cvb_err *err) {
    if (o == NULL || o->arch == NULL)
        return cvb_err_set(err, CVB_EINVAL, "model synth: no architecture given (one of "
                                            "yolov5nu, yolov8n, yolov8s, yolo11n, yolov9t, yolov10n, yolo12n, "
                                            "yolo26n)");
    *arch = NULL;
    for (size_t i = 0; i < CVB_ARRAY_LEN(archs); i++)
        if (strcmp(archs[i].name, o->arch) == 0) *arch = &archs[i];
    if (*arch == NULL)
        return cvb_err_set(err, CVB_EINVAL,
                           "model synth: unknown architecture '%s' (expected one of yolov5nu, "
                           "yolov8n, yolov8s, yolo11n, yolov9t, yolov10n, yolo12n, yolo26n)",
                           o->arch);
    *imgsz = o->imgsz ? o->imgsz : 640;
    if (*imgsz < 32 || *imgsz > MAX_IMGSZ || *imgsz % 32 != 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "model synth: imgsz %d is not a multiple of 32 between 32 and %d",
                           *imgsz, MAX_IMGSZ);
    if (o->end2end && o->nms)
        return cvb_err_set(err, CVB_EINVAL,
                           "model synth: --end2end and --nms are two different heads; pick one");
    /* the in-graph NMS tail: on the heads it was checked with (yolov8n-640-nms) */
    if (o->nms && !((*arch)->end2end && (*arch)->id <= ARCH_11N))
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model synth: --nms is not offered for '%s' (only for %s)", o->arch,
                           NMS_ARCHS);
    if (o->end2end && !(*arch)->end2end)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model synth: --end2end is not offered for '%s' (only for the "
                           "anchor-free Detect heads: %s)", o->arch, E2E_ARCHS);
    if (o->opset != 0 && o->opset != OPSET)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model synth: opset %d not supported (only %d, as Ultralytics' "
                           "default export)", o->opset, OPSET);
    return 0;
}

static void fill_stats(const struct synth *s, size_t len, struct cvb_synth_stats *st) {
    st->n_params = s->n_params;
    st->gflops = 2.0 * s->macs / 1e9;
    st->n_nodes = s->n_nodes;
    st->n_initializers = s->n_inits;
    st->n_anchors = 0;
    for (int k = 8; k <= 32; k *= 2) st->n_anchors += (int64_t)(s->imgsz / k) * (s->imgsz / k);
    st->model_bytes = len;
    st->n_ops = 0;
    for (int i = 0; i < s->n_nodes; i++) {
        const char *op = s->nodes[i]->op_type;
        int j = 0;
        while (j < st->n_ops && strcmp(st->op_names[j], op) != 0) j++;
        if (j == st->n_ops) {
            if (st->n_ops == (int)CVB_ARRAY_LEN(st->op_names)) continue;
            st->op_names[st->n_ops] = op; /* string literals in this file */
            st->op_counts[st->n_ops++] = 0;
        }
        st->op_counts[j]++;
    }
}

int cvb_synth_model_buffer(const struct cvb_synth_opts *o, void **buf, size_t *len,
                           struct cvb_synth_stats *stats, struct cvb_err *err) {
    struct synth s = {0};
    struct cvb_synth_stats st = {0};
    int imgsz = 0;
    *buf = NULL;
    *len = 0;
    int rc = check_opts(o, &s.arch, &imgsz, err);
    if (rc < 0) return rc;
    s.err = err;
    s.seed = o->seed;
    s.rng = o->seed;
    s.plant = !o->no_calib;
    s.e2e_names = o->end2end;
    int cal_sz = imgsz < CVB_SYNTH_CALIB_MAX_IMGSZ ? imgsz : CVB_SYNTH_CALIB_MAX_IMGSZ;
    if (!o->no_calib && (rc = calibrate(&s, cal_sz, &st)) < 0) goto out;
    s.imgsz = imgsz;
    s.end2end = o->end2end; /* calibration above ran the one-to-many output */
    s.nms = o->nms;
    if ((rc = build_graph(&s)) < 0) goto out;
    if ((rc = pack_model(&s, buf, len)) < 0) goto out;
    fill_stats(&s, *len, &st);
    st.e2e_rows = s.end2end ? e2e_rows(st.n_anchors) : 0;
    if (stats != NULL) *stats = st;
out:
    synth_cleanup(&s);
    return rc;
}

int cvb_synth_model(const struct cvb_synth_opts *o, const char *out_path,
                    struct cvb_synth_stats *stats, struct cvb_err *err) {
    void *buf = NULL;
    size_t len = 0;
    char *tmp = NULL;
    FILE *f = NULL;
    int rc = cvb_synth_model_buffer(o, &buf, &len, stats, err);
    if (rc < 0) goto out;
    size_t n = strlen(out_path) + 16;
    tmp = malloc(n);
    if (tmp == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "model synth: out of memory");
        goto out;
    }
    snprintf(tmp, n, "%s.tmp%d", out_path, (int)getpid());
    f = fopen(tmp, "wb");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "model synth: cannot write '%s': %s", out_path,
                         strerror(errno));
        goto out;
    }
    if (fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        f = NULL;
        rc = cvb_err_set(err, CVB_EIO, "model synth: writing '%s' failed: %s", out_path,
                         strerror(errno));
        unlink(tmp);
        goto out;
    }
    f = NULL;
    if (rename(tmp, out_path) != 0) {
        rc = cvb_err_set(err, CVB_EIO, "model synth: cannot create '%s': %s", out_path,
                         strerror(errno));
        unlink(tmp);
        goto out;
    }
out:
    if (f != NULL) {
        fclose(f);
        unlink(tmp);
    }
    free(tmp);
    free(buf);
    return rc;
}

/* ==== more of synth.c for the builders in other files (synth_internal.h) == */

struct val cvb__synth_c2f(struct synth *s, struct val x, int c2, int n, int shortcut, double e) {
    return c2f(s, x, c2, n, shortcut, e, BLK_C2F);
}
struct val cvb__synth_attention(struct synth *s, struct val x, int heads) {
    return attention(s, x, heads);
}
struct val cvb__synth_sppf(struct synth *s, struct val x, int c2) {
    return sppf(s, x, c2);
}
int cvb__synth_split(struct synth *s, const char *x, int axis, int cnt, const int64_t *sizes,
                     const char **out) {
    return split(s, x, axis, cnt, sizes, out);
}
const char *cvb__synth_e2e_tail(struct synth *s, const char *pred, int64_t n_anchor) {
    return s->nms ? nms_tail(s, pred, n_anchor) : e2e_tail(s, pred, n_anchor);
}
void cvb__synth_skip_name(struct synth *s, const char *op) {
    if (s->rc == 0) (void)node_name(s, op);
}
bool cvb__synth_end2end(const struct synth *s) { return s->end2end; }
bool cvb__synth_nms(const struct synth *s) { return s->nms; }
void cvb__synth_weights_alias(struct synth *s, const char *from) { s->alias_from = from; }
