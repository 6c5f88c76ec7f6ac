/* SPDX-License-Identifier: Apache-2.0 */
/* The selection ops of YOLO end2end and nms=True heads (comparisons, Not,
 * And/Or/Xor, Where, Pad, GatherND, ScatterND) through constant folding:
 * each case builds a graph whose inputs are constants and finalises it, so
 * shape inference runs and the reference kernel folds the node; the folded
 * output is checked against hand-computed values. Also the refusals: a
 * dtype an op does not take, a Pad whose pads are only known at run time,
 * modes and reductions we do not implement, out-of-range indices; each
 * error must name the node.
 *
 * ONNX's own node tests for Not/And/Or/Xor are opset 1/7, which the loader
 * refuses, so this is where those ops are checked. */
#include "engine/ir.h"
#include "test.h"

#include <math.h>

#define MAX_NODES 16

static struct cvb_graph *G;
static struct cvb_err E;
static int n_made; /* output names y0, y1, ... */

static void reset(void) {
    cvb__graph_free(G);
    G = cvb__graph_new("test.onnx");
    G->opset = 17;
    G->nodes = calloc(MAX_NODES, sizeof *G->nodes);
    G->cap_nodes = MAX_NODES;
    G->outputs = calloc(MAX_NODES, sizeof *G->outputs);
    G->inputs = calloc(MAX_NODES, sizeof *G->inputs);
    n_made = 0;
    cvb_err_clear(&E);
}

/* A constant (data != NULL, copied) or, with data NULL, a graph input. */
static int tensor(const char *name, enum cvb_dtype dt, int nd, const int64_t *dims,
                  const void *data) {
    int t = cvb__graph_tensor(G, name);
    CHECK_EQ_INT(cvb__tensor_set_shape(G, t, dt, nd, dims, &E), 0);
    if (data != NULL) {
        size_t b = cvb__tensor_bytes(&G->tensors[t]);
        G->tensors[t].data = malloc(b ? b : 1);
        memcpy(G->tensors[t].data, data, b);
    } else {
        G->tensors[t].is_input = true;
        G->inputs[G->n_inputs++] = t;
    }
    return t;
}
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define U8(...) ((const uint8_t[]){__VA_ARGS__})
#define IN(...) ((const int[]){__VA_ARGS__})

static struct cvb_attr a_int(const char *nm, int64_t v) {
    return (struct cvb_attr){.name = (char *)nm, .type = CVB_ATTR_INT, .i = v};
}
static struct cvb_attr a_str(const char *nm, const char *s) {
    return (struct cvb_attr){.name = (char *)nm, .type = CVB_ATTR_STRING, .s = (char *)s};
}

/* Append node "n<k>" of 'op' with output "y<k>" (a graph output); the graph
 * takes copies of the attributes. Returns the output tensor. */
static int node(enum cvb_op op, int n_in, const int *in, int n_attrs,
                const struct cvb_attr *attrs) {
    char name[16], out[16];
    snprintf(name, sizeof name, "n%d", n_made);
    snprintf(out, sizeof out, "y%d", n_made++);
    int y = cvb__graph_tensor(G, out);
    struct cvb_node *n = &G->nodes[G->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = strdup(name);
    n->in = malloc(sizeof(int) * (size_t)n_in);
    memcpy(n->in, in, sizeof(int) * (size_t)n_in);
    n->n_in = n_in;
    n->out = malloc(sizeof(int));
    n->out[0] = y;
    n->n_out = 1;
    n->attrs = calloc((size_t)n_attrs + 1, sizeof *n->attrs);
    for (int i = 0; i < n_attrs; i++) {
        n->attrs[i] = attrs[i];
        n->attrs[i].name = strdup(attrs[i].name);
        n->attrs[i].s = attrs[i].s ? strdup(attrs[i].s) : NULL;
        n->attrs[i].ints = NULL;
        n->attrs[i].floats = NULL;
    }
    n->n_attrs = n_attrs;
    G->tensors[y].producer = G->n_nodes++;
    G->tensors[y].is_output = true;
    G->outputs[G->n_outputs++] = y;
    return y;
}

static int finalize(void) {
    cvb_err_clear(&E);
    return cvb__graph_finalize(G, 0, 0, &E);
}

static void check_shape(int t, int nd, const int64_t *dims) {
    const struct cvb_tensor *x = &G->tensors[t];
    CHECK_EQ_INT(x->ndim, nd);
    for (int i = 0; i < nd && i < x->ndim; i++) CHECK_EQ_INT(x->dims[i], dims[i]);
}
/* The output was folded (a constant) and holds 'want'. */
static void check_bytes(int t, enum cvb_dtype dt, int64_t n, const void *want) {
    const struct cvb_tensor *x = &G->tensors[t];
    CHECK_EQ_INT(x->dtype, dt);
    CHECK_EQ_INT(x->numel, n);
    CHECK(x->data != NULL);
    if (x->data == NULL || x->numel != n || x->dtype != dt) return;
    size_t es = cvb__dtype_size(dt);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp((const char *)x->data + i * es, (const char *)want + i * es, es) != 0) {
            test_failures++;
            fprintf(stderr, "%s: '%s' element %lld differs\n", test_current, x->name,
                    (long long)i);
            return;
        }
    }
}
static void check_err(int rc, int code, const char *needle) {
    CHECK_EQ_INT(rc, code);
    const char *need[2] = {needle, "\"n0\""};
    for (int i = 0; i < 2; i++) {
        if (strstr(E.msg, need[i]) == NULL) {
            test_failures++;
            fprintf(stderr, "%s: error \"%s\" does not mention %s\n", test_current, E.msg,
                    need[i]);
        }
    }
}

/* ---- comparisons ---------------------------------------------------------------- */

static void test_compare_broadcast_and_dtypes(void) {
    reset();
    int a = tensor("a", CVB_DT_F32, 2, DIMS(2, 3), F32(1, 2, 3, 4, NAN, 6));
    int s = tensor("s", CVB_DT_F32, 0, NULL, F32(3));
    int gt = node(CVB_OP_GREATER, 2, IN(a, s), 0, NULL);
    int le = node(CVB_OP_LESS_OR_EQUAL, 2, IN(a, s), 0, NULL);
    int c = tensor("c", CVB_DT_I64, 1, DIMS(3), I64(5, -1, 7));
    int r = tensor("r", CVB_DT_I64, 2, DIMS(2, 1), I64(5, 7));
    int lt = node(CVB_OP_LESS, 2, IN(c, r), 0, NULL);
    int ge = node(CVB_OP_GREATER_OR_EQUAL, 2, IN(c, r), 0, NULL);
    int p = tensor("p", CVB_DT_BOOL, 1, DIMS(2), U8(1, 0));
    int q = tensor("q", CVB_DT_BOOL, 2, DIMS(2, 1), U8(1, 0));
    int eq = node(CVB_OP_EQUAL, 2, IN(p, q), 0, NULL);
    CHECK_EQ_INT(finalize(), 0);
    check_shape(gt, 2, DIMS(2, 3));
    check_bytes(gt, CVB_DT_BOOL, 6, U8(0, 0, 0, 1, 0, 1)); /* NaN compares false */
    check_bytes(le, CVB_DT_BOOL, 6, U8(1, 1, 1, 0, 0, 0));
    check_shape(lt, 2, DIMS(2, 3));
    check_bytes(lt, CVB_DT_BOOL, 6, U8(0, 1, 0, 1, 1, 0));
    check_bytes(ge, CVB_DT_BOOL, 6, U8(1, 0, 1, 0, 0, 1));
    check_bytes(eq, CVB_DT_BOOL, 4, U8(1, 0, 0, 1));
    for (int i = 0; i < G->n_nodes; i++) CHECK(G->nodes[i].dead);
}

static void test_compare_refusals(void) {
    reset();
    int a = tensor("a", CVB_DT_U8, 1, DIMS(2), U8(1, 2));
    node(CVB_OP_GREATER, 2, IN(a, a), 0, NULL);
    check_err(finalize(), CVB_EUNSUPPORTED, "uint8");
    reset();
    int f = tensor("f", CVB_DT_F32, 1, DIMS(2), F32(1, 2));
    int i = tensor("i", CVB_DT_I64, 1, DIMS(2), I64(1, 2));
    node(CVB_OP_EQUAL, 2, IN(f, i), 0, NULL);
    check_err(finalize(), CVB_EFORMAT, "different dtypes");
    reset();
    int b = tensor("b", CVB_DT_BOOL, 1, DIMS(2), U8(1, 0));
    node(CVB_OP_LESS, 2, IN(b, b), 0, NULL); /* only Equal takes bool */
    check_err(finalize(), CVB_EUNSUPPORTED, "bool");
    reset();
    int x = tensor("x", CVB_DT_F32, 1, DIMS(3), F32(1, 2, 3));
    int z = tensor("z", CVB_DT_F32, 1, DIMS(2), F32(1, 2));
    node(CVB_OP_GREATER, 2, IN(x, z), 0, NULL);
    check_err(finalize(), CVB_ESHAPE, "broadcast");
}

/* ---- logic ---------------------------------------------------------------------- */

static void test_logic_broadcast(void) {
    reset();
    int a = tensor("a", CVB_DT_BOOL, 2, DIMS(2, 1), U8(1, 0));
    int b = tensor("b", CVB_DT_BOOL, 2, DIMS(1, 2), U8(1, 0));
    int and_ = node(CVB_OP_AND, 2, IN(a, b), 0, NULL);
    int or_ = node(CVB_OP_OR, 2, IN(a, b), 0, NULL);
    int xor_ = node(CVB_OP_XOR, 2, IN(a, b), 0, NULL);
    int not_ = node(CVB_OP_NOT, 1, IN(b), 0, NULL);
    CHECK_EQ_INT(finalize(), 0);
    check_shape(and_, 2, DIMS(2, 2));
    check_bytes(and_, CVB_DT_BOOL, 4, U8(1, 0, 0, 0));
    check_bytes(or_, CVB_DT_BOOL, 4, U8(1, 1, 1, 0));
    check_bytes(xor_, CVB_DT_BOOL, 4, U8(0, 1, 1, 0));
    check_shape(not_, 2, DIMS(1, 2));
    check_bytes(not_, CVB_DT_BOOL, 2, U8(0, 1));
    reset();
    int f = tensor("f", CVB_DT_F32, 1, DIMS(2), F32(1, 0));
    node(CVB_OP_NOT, 1, IN(f), 0, NULL);
    check_err(finalize(), CVB_EUNSUPPORTED, "float32");
}

/* ---- Where ---------------------------------------------------------------------- */

static void test_where_three_way_broadcast(void) {
    reset();
    /* a Greater folded first feeds Where, as in a score-threshold mask */
    int s = tensor("s", CVB_DT_F32, 2, DIMS(2, 1), F32(0.9f, 0.1f));
    int th = tensor("th", CVB_DT_F32, 0, NULL, F32(0.5f));
    int m = node(CVB_OP_GREATER, 2, IN(s, th), 0, NULL);
    int x = tensor("x", CVB_DT_F32, 2, DIMS(1, 3), F32(1, 2, 3));
    int y = tensor("y", CVB_DT_F32, 0, NULL, F32(-1));
    int w = node(CVB_OP_WHERE, 3, IN(m, x, y), 0, NULL);
    int xi = tensor("xi", CVB_DT_I64, 1, DIMS(2), I64(10, 11));
    int yi = tensor("yi", CVB_DT_I64, 2, DIMS(2, 2), I64(0, 1, 2, 3));
    int wi = node(CVB_OP_WHERE, 3, IN(m, xi, yi), 0, NULL);
    CHECK_EQ_INT(finalize(), 0);
    check_shape(w, 2, DIMS(2, 3));
    check_bytes(w, CVB_DT_F32, 6, F32(1, 2, 3, -1, -1, -1));
    check_bytes(wi, CVB_DT_I64, 4, I64(10, 11, 2, 3));
    reset();
    int c = tensor("c", CVB_DT_F32, 1, DIMS(2), F32(1, 0));
    node(CVB_OP_WHERE, 3, IN(c, c, c), 0, NULL);
    check_err(finalize(), CVB_EUNSUPPORTED, "condition");
}

/* ---- Pad ------------------------------------------------------------------------ */

static int pad(int x, const int64_t *pads, int n_pads, const char *mode, int value) {
    char nm[16];
    snprintf(nm, sizeof nm, "pads%d", n_made);
    int p = tensor(nm, CVB_DT_I64, 1, (const int64_t[]){n_pads}, pads);
    struct cvb_attr a = a_str("mode", mode);
    return node(CVB_OP_PAD, value >= 0 ? 3 : 2, IN(x, p, value), 1, &a);
}

static void test_pad_modes(void) {
    reset();
    int x = tensor("x", CVB_DT_F32, 2, DIMS(2, 3), F32(1, 2, 3, 4, 5, 6));
    int v = tensor("v", CVB_DT_F32, 0, NULL, F32(9));
    int c = pad(x, I64(1, 0, 0, 2), 4, "constant", v);
    int e = pad(x, I64(0, 2, 1, 0), 4, "edge", -1);
    int r = pad(x, I64(0, 2, 0, 2), 4, "reflect", -1);
    int r4 = pad(x, I64(0, 4, 0, 0), 4, "reflect", -1); /* wider than the axis: folds again */
    int crop = pad(x, I64(0, -1, 0, 1), 4, "constant", -1);
    int xi = tensor("xi", CVB_DT_I64, 1, DIMS(2), I64(7, 8));
    int vi = tensor("vi", CVB_DT_I64, 0, NULL, I64(-5));
    int ci = pad(xi, I64(1, 2), 2, "constant", vi);
    CHECK_EQ_INT(finalize(), 0);
    check_shape(c, 2, DIMS(3, 5));
    check_bytes(c, CVB_DT_F32, 15, F32(9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 9, 9));
    check_shape(e, 2, DIMS(3, 5));
    check_bytes(e, CVB_DT_F32, 15, F32(1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 4, 4, 4, 5, 6));
    check_shape(r, 2, DIMS(2, 7));
    check_bytes(r, CVB_DT_F32, 14, F32(3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4));
    check_bytes(r4, CVB_DT_F32, 14, F32(1, 2, 3, 2, 1, 2, 3, 4, 5, 6, 5, 4, 5, 6));
    check_shape(crop, 2, DIMS(2, 3));
    check_bytes(crop, CVB_DT_F32, 6, F32(2, 3, 0, 5, 6, 0));
    check_bytes(ci, CVB_DT_I64, 5, I64(-5, 7, 8, -5, -5));
}

static void test_pad_refusals(void) {
    reset();
    int x = tensor("x", CVB_DT_F32, 1, DIMS(2), F32(1, 2));
    pad(x, I64(1, 1), 2, "wrap", -1);
    check_err(finalize(), CVB_EUNSUPPORTED, "wrap");
    reset();
    x = tensor("x", CVB_DT_F32, 1, DIMS(2), F32(1, 2));
    pad(x, I64(1, 1, 0, 0), 4, "constant", -1);
    check_err(finalize(), CVB_ESHAPE, "pads has 4 values");
    reset();
    x = tensor("x", CVB_DT_F32, 1, DIMS(2), NULL);
    int p = tensor("p", CVB_DT_I64, 1, DIMS(2), NULL); /* pads known only at run time */
    node(CVB_OP_PAD, 2, IN(x, p), 0, NULL);
    check_err(finalize(), CVB_EUNSUPPORTED, "run time");
    reset();
    x = tensor("x", CVB_DT_F32, 1, DIMS(2), F32(1, 2));
    pad(x, I64(-2, -1), 2, "constant", -1);
    check_err(finalize(), CVB_ESHAPE, "negative size");
}

/* ---- GatherND, ScatterND ----------------------------------------------------------- */

static void test_gathernd(void) {
    reset();
    int d = tensor("d", CVB_DT_I64, 2, DIMS(2, 2), I64(0, 1, 2, 3));
    int i2 = tensor("i2", CVB_DT_I64, 2, DIMS(2, 2), I64(1, 0, 0, -1));
    int el = node(CVB_OP_GATHER_ND, 2, IN(d, i2), 0, NULL);
    int i1 = tensor("i1", CVB_DT_I64, 2, DIMS(2, 1), I64(1, 0));
    int rows = node(CVB_OP_GATHER_ND, 2, IN(d, i1), 0, NULL);
    int db = tensor("db", CVB_DT_F32, 3, DIMS(2, 2, 2), F32(0, 1, 2, 3, 4, 5, 6, 7));
    struct cvb_attr bd = a_int("batch_dims", 1);
    int bat = node(CVB_OP_GATHER_ND, 2, IN(db, i1), 1, &bd);
    CHECK_EQ_INT(finalize(), 0);
    check_shape(el, 1, DIMS(2));
    check_bytes(el, CVB_DT_I64, 2, I64(2, 1));
    check_shape(rows, 2, DIMS(2, 2));
    check_bytes(rows, CVB_DT_I64, 4, I64(2, 3, 0, 1));
    check_shape(bat, 2, DIMS(2, 2));
    check_bytes(bat, CVB_DT_F32, 4, F32(2, 3, 4, 5));
    reset();
    d = tensor("d", CVB_DT_F32, 1, DIMS(2), F32(0, 1));
    i1 = tensor("i1", CVB_DT_I64, 2, DIMS(1, 1), I64(2));
    node(CVB_OP_GATHER_ND, 2, IN(d, i1), 0, NULL);
    check_err(finalize(), CVB_ERANGE, "index 2 is out of range");
    reset();
    d = tensor("d", CVB_DT_F32, 1, DIMS(2), F32(0, 1));
    i2 = tensor("i2", CVB_DT_I64, 2, DIMS(1, 2), I64(0, 0));
    node(CVB_OP_GATHER_ND, 2, IN(d, i2), 0, NULL);
    check_err(finalize(), CVB_ESHAPE, "last axis is 2");
}

static int scatter(int d, int i, int u, const char *red) {
    struct cvb_attr a = a_str("reduction", red);
    return node(CVB_OP_SCATTER_ND, 3, IN(d, i, u), red != NULL ? 1 : 0, &a);
}

static void test_scatternd(void) {
    reset();
    int d = tensor("d", CVB_DT_F32, 1, DIMS(4), F32(1, 2, 3, 4));
    int i = tensor("i", CVB_DT_I64, 2, DIMS(2, 1), I64(1, -1));
    int u = tensor("u", CVB_DT_F32, 1, DIMS(2), F32(10, 20));
    int none = scatter(d, i, u, NULL);
    int add = scatter(d, i, u, "add");
    int mul = scatter(d, i, u, "mul");
    int d2 = tensor("d2", CVB_DT_I64, 2, DIMS(2, 2), I64(0, 0, 0, 0));
    int i2 = tensor("i2", CVB_DT_I64, 2, DIMS(1, 1), I64(1));
    int u2 = tensor("u2", CVB_DT_I64, 2, DIMS(1, 2), I64(5, 6));
    int row = scatter(d2, i2, u2, NULL);
    CHECK_EQ_INT(finalize(), 0);
    check_bytes(none, CVB_DT_F32, 4, F32(1, 10, 3, 20));
    check_bytes(add, CVB_DT_F32, 4, F32(1, 12, 3, 24));
    check_bytes(mul, CVB_DT_F32, 4, F32(1, 20, 3, 80));
    check_shape(row, 2, DIMS(2, 2));
    check_bytes(row, CVB_DT_I64, 4, I64(0, 0, 5, 6));
    /* the data constant itself is untouched */
    check_bytes(d, CVB_DT_F32, 4, F32(1, 2, 3, 4));
    reset();
    d = tensor("d", CVB_DT_F32, 1, DIMS(4), F32(1, 2, 3, 4));
    i = tensor("i", CVB_DT_I64, 2, DIMS(2, 1), I64(1, 3));
    u = tensor("u", CVB_DT_F32, 1, DIMS(2), F32(10, 20));
    scatter(d, i, u, "max");
    check_err(finalize(), CVB_EUNSUPPORTED, "max");
    reset();
    d = tensor("d", CVB_DT_F32, 1, DIMS(4), F32(1, 2, 3, 4));
    i = tensor("i", CVB_DT_I64, 2, DIMS(2, 1), I64(1, 3));
    u = tensor("u", CVB_DT_F32, 1, DIMS(3), F32(10, 20, 30));
    scatter(d, i, u, NULL);
    check_err(finalize(), CVB_ESHAPE, "updates");
    reset();
    d = tensor("d", CVB_DT_F32, 1, DIMS(4), F32(1, 2, 3, 4));
    i = tensor("i", CVB_DT_I64, 2, DIMS(2, 1), I64(1, 4));
    u = tensor("u", CVB_DT_F32, 1, DIMS(2), F32(10, 20));
    scatter(d, i, u, NULL);
    check_err(finalize(), CVB_ERANGE, "index 4 is out of range");
}

int main(void) {
    RUN(test_compare_broadcast_and_dtypes);
    RUN(test_compare_refusals);
    RUN(test_logic_broadcast);
    RUN(test_where_three_way_broadcast);
    RUN(test_pad_modes);
    RUN(test_pad_refusals);
    RUN(test_gathernd);
    RUN(test_scatternd);
    cvb__graph_free(G);
    return test_summary();
}
