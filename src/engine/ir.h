/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's graph IR: tensors, nodes, attributes, and the kernel ABI.
 *
 * Internal to src/engine/. Built by onnx.c from a ModelProto, completed by
 * shape inference and constant folding (graph.c), then run by exec.c through
 * one of two kernel sets (kernels/ref, kernels/onednn).
 *
 * Invariants once cvb__graph_finalize() has returned 0:
 *  1. nodes[] is in topological order; every node's inputs are graph inputs,
 *     constants, or outputs of earlier nodes.
 *  2. Every tensor has a known dtype and a fully static shape.
 *  3. A tensor with data != NULL is a constant (initializer or folded); no
 *     live node produces it. Folded nodes are marked dead and never run.
 *  4. The graph owns every string, array and constant buffer it points to;
 *     cvb__graph_free() is the one place they are freed. */
#ifndef CVB_ENGINE_IR_H
#define CVB_ENGINE_IR_H

#include "cvb/common.h"

#include <stdbool.h>
#include <stdint.h>

#define CVB_MAX_DIMS 8
/* Any single tensor larger than this is refused as absurd (4 GiB). */
#define CVB_MAX_TENSOR_BYTES (4ull << 30)

enum cvb_dtype {
    CVB_DT_UNDEF = 0,
    CVB_DT_F32,
    CVB_DT_U8,
    CVB_DT_I8,
    CVB_DT_I32,
    CVB_DT_I64,
    CVB_DT_BOOL,
    CVB_DT_COUNT
};

size_t cvb__dtype_size(enum cvb_dtype dt);
const char *cvb__dtype_name(enum cvb_dtype dt);
/* Map an ONNX TensorProto.DataType to ours; CVB_DT_UNDEF if unsupported. */
enum cvb_dtype cvb__dtype_from_onnx(int onnx_type);
int cvb__dtype_to_onnx(enum cvb_dtype dt);

struct cvb_tensor {
    char *name;
    enum cvb_dtype dtype;
    int ndim;
    int64_t dims[CVB_MAX_DIMS];
    int64_t numel;          /* product of dims; 1 for a scalar (ndim 0) */
    void *data;             /* constant value, owned by the graph; NULL when computed at run time */
    int producer;           /* index of the producing node, -1 for inputs and constants */
    bool is_input, is_output;
    bool shape_known;
    /* Data-dependent shape (NonZero, NonMaxSuppression and what follows
     * them): 'dims' is the planned bound, the largest shape the tensor can
     * take; the executor infers the actual shape again at run time (within
     * the bound's bytes) and runs the producer on the reference kernel. */
    bool dyn;
    /* Run-time integer values that shapes downstream depend on (a Shape of
     * a dyn tensor and the arithmetic on it): their values with every dyn
     * tensor at its bound, computed at load time to plan the bounds. Owned
     * by the graph; NULL for all other tensors. */
    void *bdata;
};

enum cvb_attr_type {
    CVB_ATTR_UNDEF = 0,
    CVB_ATTR_FLOAT,
    CVB_ATTR_INT,
    CVB_ATTR_STRING,
    CVB_ATTR_TENSOR,
    CVB_ATTR_FLOATS,
    CVB_ATTR_INTS,
    CVB_ATTR_OTHER, /* graphs, sparse tensors, strings lists: recorded, never interpreted */
};

struct cvb_attr {
    char *name;
    enum cvb_attr_type type;
    int64_t i;
    float f;
    char *s;           /* NUL-terminated */
    int n;             /* element count of ints/floats */
    int64_t *ints;
    float *floats;
    int tensor;        /* CVB_ATTR_TENSOR: index of a constant tensor in the graph */
};

/* The operator list. X(ENUM, "OnnxName"). Every per-op table is indexed by
 * enum cvb_op and has a static_assert on CVB_OP_COUNT beside it, so adding an
 * op does not compile until every table knows it. */
#define CVB_OP_LIST(X)                                                         \
    X(CONV, "Conv")                                                            \
    X(SIGMOID, "Sigmoid")                                                      \
    X(RELU, "Relu")                                                            \
    X(MUL, "Mul")                                                              \
    X(ADD, "Add")                                                              \
    X(SUB, "Sub")                                                              \
    X(DIV, "Div")                                                              \
    X(POW, "Pow")                                                              \
    X(SQRT, "Sqrt")                                                            \
    X(CONCAT, "Concat")                                                        \
    X(SPLIT, "Split")                                                          \
    X(SLICE, "Slice")                                                          \
    X(MAXPOOL, "MaxPool")                                                      \
    X(RESIZE, "Resize")                                                        \
    X(RESHAPE, "Reshape")                                                      \
    X(TRANSPOSE, "Transpose")                                                  \
    X(SOFTMAX, "Softmax")                                                      \
    X(MATMUL, "MatMul")                                                        \
    X(CONSTANT, "Constant")                                                    \
    X(SHAPE, "Shape")                                                          \
    X(GATHER, "Gather")                                                        \
    X(UNSQUEEZE, "Unsqueeze")                                                  \
    X(SQUEEZE, "Squeeze")                                                      \
    X(CAST, "Cast")                                                            \
    X(EXPAND, "Expand")                                                        \
    X(IDENTITY, "Identity")                                                    \
    X(FLATTEN, "Flatten")                                                      \
    X(CONSTANT_OF_SHAPE, "ConstantOfShape")                                    \
    X(GREATER, "Greater")                                                      \
    X(LESS, "Less")                                                            \
    X(EQUAL, "Equal")                                                          \
    X(GREATER_OR_EQUAL, "GreaterOrEqual")                                      \
    X(LESS_OR_EQUAL, "LessOrEqual")                                            \
    X(NOT, "Not")                                                              \
    X(AND, "And")                                                              \
    X(OR, "Or")                                                                \
    X(XOR, "Xor")                                                              \
    X(WHERE, "Where")                                                          \
    X(PAD, "Pad")                                                              \
    X(GATHER_ND, "GatherND")                                                   \
    X(SCATTER_ND, "ScatterND")                                                 \
    X(AVERAGEPOOL, "AveragePool")                                              \
    X(REDUCE_MAX, "ReduceMax")                                                 \
    X(REDUCE_MIN, "ReduceMin")                                                 \
    X(REDUCE_SUM, "ReduceSum")                                                 \
    X(ARGMAX, "ArgMax")                                                        \
    X(TOPK, "TopK")                                                            \
    X(GATHER_ELEMENTS, "GatherElements")                                       \
    X(TILE, "Tile")                                                            \
    X(MOD, "Mod")                                                              \
    X(NONZERO, "NonZero")                                                      \
    X(NON_MAX_SUPPRESSION, "NonMaxSuppression")

enum cvb_op {
#define CVB_X(e, s) CVB_OP_##e,
    CVB_OP_LIST(CVB_X)
#undef CVB_X
        CVB_OP_COUNT
};

const char *cvb__op_name(enum cvb_op op);
/* Look up an ONNX op_type; returns -1 when we have no such op. */
int cvb__op_from_name(const char *op_type);

struct cvb_node {
    enum cvb_op op;
    char *name;     /* never NULL: exporter's name or "<op_type>_<index>" */
    int n_in, n_out;
    int *in;        /* tensor indices; -1 for an absent optional input */
    int *out;
    int n_attrs;
    struct cvb_attr *attrs;
    bool dead;      /* folded into constants or removed by a pass */
};

struct cvb_graph {
    char *path;         /* model file, for error messages */
    int64_t opset;      /* default-domain opset version */
    int n_tensors, cap_tensors;
    struct cvb_tensor *tensors;
    int n_nodes, cap_nodes;
    struct cvb_node *nodes;
    int n_inputs, n_outputs;
    int *inputs;        /* tensor indices of runtime graph inputs (initializers excluded) */
    int *outputs;
    bool synthetic;     /* metadata_props cvbench.synthetic == "true" */
    char *producer;     /* producer_name/version, for model info */
    size_t file_bytes;  /* size of the serialized model: bounds what folding may create */
};

/* ---- attribute access (node->attrs) ---- */
const struct cvb_attr *cvb__attr_find(const struct cvb_node *n, const char *name);
int64_t cvb__attr_int(const struct cvb_node *n, const char *name, int64_t def);
float cvb__attr_float(const struct cvb_node *n, const char *name, float def);
/* NULL when absent. */
const char *cvb__attr_str(const struct cvb_node *n, const char *name, const char *def);
/* Returns the element count and sets *vals, or -1 (and *vals NULL) when absent. */
int cvb__attr_ints(const struct cvb_node *n, const char *name, const int64_t **vals);
int cvb__attr_floats(const struct cvb_node *n, const char *name, const float **vals);

/* ---- graph building ---- */
struct cvb_graph *cvb__graph_new(const char *path);
void cvb__graph_free(struct cvb_graph *g);
/* Index of the tensor named 'name', creating an empty one if needed; -1 on OOM. */
int cvb__graph_tensor(struct cvb_graph *g, const char *name);
int cvb__graph_find_tensor(const struct cvb_graph *g, const char *name);
/* Set a tensor's dtype and shape and recompute numel; ESHAPE/ERANGE on absurd sizes. */
int cvb__tensor_set_shape(struct cvb_graph *g, int t, enum cvb_dtype dt, int ndim,
                          const int64_t *dims, struct cvb_err *err);
size_t cvb__tensor_bytes(const struct cvb_tensor *t);
/* "[1,3,640,640]" into buf. */
const char *cvb__shape_str(const struct cvb_tensor *t, char *buf, size_t len);

/* Parse a serialized ModelProto into a new graph (onnx.c). 'path' names the
 * model in errors. Shapes are not inferred yet: call cvb__graph_finalize(). */
int cvb__onnx_parse(const void *buf, size_t len, const char *path, struct cvb_graph **out,
                    struct cvb_err *err);

/* Sort nodes topologically (cycle -> EFORMAT), infer every shape, fold
 * constant subgraphs, mark outputs. 'imgsz' > 0 fixes dynamic spatial dims
 * of 4-D inputs; other dynamic dims are an error that says so. 'batch' > 1
 * sets the (single) input's dim 0 to batch, rewrites Reshape targets that
 * hard-code batch 1, and refuses (EUNSUPPORTED, naming the node) any node
 * that is not proven to keep the items apart; 0 or 1: the model's own. */
int cvb__graph_finalize(struct cvb_graph *g, int imgsz, int batch, struct cvb_err *err);

/* ---- kernel ABI ----
 * A kernel gets the node, tensor metadata and data pointers. Inputs with
 * index -1 have tin[i] == NULL and in[i] == NULL. Output buffers are
 * allocated by the executor (or, for folding, by the graph) to exactly
 * cvb__tensor_bytes(tout[i]). Kernels never allocate per call unless noted.
 * The arrays have exactly node->n_in / node->n_out entries: a kernel must
 * check the count before reading an optional trailing input.
 * A data-dependent op (cvb__op_data_dependent()) learns its output shape
 * from the data: its kernel writes the actual dims into tout_rt (the
 * executor's run-time copies; its buffers are sized for the bound in tout).
 * 'scratch' holds cvb__ref_scratch_bytes() for the node, planned at load
 * (NULL from callers that run one kernel by itself, e.g. the conformance
 * runner: the kernel then allocates its own). */
struct cvb_kctx {
    const struct cvb_graph *g;
    const struct cvb_node *node;
    const struct cvb_tensor *const *tin;
    const struct cvb_tensor *const *tout;
    const void *const *in;
    void *const *out;
    struct cvb_tensor *const *tout_rt;
    void *scratch;
};

/* Ops whose output shape depends on input values (NonZero,
 * NonMaxSuppression): never folded unless their inference is exact. */
bool cvb__op_data_dependent(enum cvb_op op);
/* Working memory the reference kernel of n needs (bytes, 0 for most): the
 * executor plans the largest once, so that no kernel allocates in run(). */
size_t cvb__ref_scratch_bytes(const struct cvb_graph *g, const struct cvb_node *n);
size_t cvb__ref_conv_scratch(const struct cvb_graph *g, const struct cvb_node *n);
size_t cvb__ref_resize_scratch(const struct cvb_graph *g, const struct cvb_node *n);
/* Is Slice n (constant bounds) one dense run of its input's elements in
 * the plain row-major layout? Then *elem_off is where it starts. */
bool cvb__ref_slice_is_view(const struct cvb_graph *g, const struct cvb_node *n,
                            int64_t *elem_off);

/* Shape inference: read input shapes (and constant input values where the
 * op needs them), set every output's dtype and shape with
 * cvb__tensor_set_shape(). Errors name the node and the problem:
 * ESHAPE for inconsistent shapes, EUNSUPPORTED for attribute values or
 * dtypes we do not implement, EFORMAT for malformed nodes. */
typedef int (*cvb_infer_fn)(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err);
/* Plain-C reference kernel: simple and obviously right. */
typedef int (*cvb_ref_fn)(const struct cvb_kctx *k, struct cvb_err *err);

struct cvb_op_def {
    const char *name;
    cvb_infer_fn infer;
    cvb_ref_fn ref;
};

/* Indexed by enum cvb_op; defined in kernels/ref/ops_table.c. */
extern const struct cvb_op_def cvb__op_defs[CVB_OP_COUNT];

/* ---- oneDNN kernel set (kernels/onednn/) ----
 * prepare() builds primitives once for a node whose shapes are final and
 * returns CVB_EUNSUPPORTED when the node should run on the reference kernel
 * instead (non-f32 dtypes, shape ops). run() must not allocate. */
struct cvb__dnn; /* per-engine oneDNN context: engine, stream */
int cvb__dnn_new(struct cvb__dnn **out, int threads, struct cvb_err *err);
void cvb__dnn_free(struct cvb__dnn *d);
int cvb__dnn_prepare(struct cvb__dnn *d, const struct cvb_graph *g, const struct cvb_node *n,
                     void **state, struct cvb_err *err);
int cvb__dnn_run(struct cvb__dnn *d, void *state, const struct cvb_kctx *k, struct cvb_err *err);
void cvb__dnn_release(void *state);
/* Name of the implementation oneDNN chose for a prepared node ("brgconv:avx512_core"). */
const char *cvb__dnn_impl_name(void *state);

#endif
