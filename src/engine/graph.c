/* SPDX-License-Identifier: Apache-2.0 */
/* Graph IR storage: tensors, nodes, attributes, dtypes.
 *
 * The loader (onnx.c) fills a struct cvb_graph through these functions;
 * finalize.c orders, shapes and folds it. The graph owns every string and
 * buffer it points to; cvb__graph_free() is the one place they are freed. */
#include "engine/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ---- */

/* ONNX TensorProto.DataType values we map. */
enum {
    ONNX_FLOAT = 1,
    ONNX_UINT8 = 2,
    ONNX_INT8 = 3,
    ONNX_INT32 = 6,
    ONNX_INT64 = 7,
    ONNX_BOOL = 9,
};

static const struct {
    const char *name;
    size_t size;
    int onnx;
} dtype_table[CVB_DT_COUNT] = {
    [CVB_DT_UNDEF] = {"undefined", 0, 0},  [CVB_DT_F32] = {"float32", 4, ONNX_FLOAT},
    [CVB_DT_U8] = {"uint8", 1, ONNX_UINT8}, [CVB_DT_I8] = {"int8", 1, ONNX_INT8},
    [CVB_DT_I32] = {"int32", 4, ONNX_INT32}, [CVB_DT_I64] = {"int64", 8, ONNX_INT64},
    [CVB_DT_BOOL] = {"bool", 1, ONNX_BOOL},
};
_Static_assert(CVB_DT_COUNT == 7, "dtype_table must list every dtype");

size_t cvb__dtype_size(enum cvb_dtype dt) {
    return (unsigned)dt < CVB_DT_COUNT ? dtype_table[dt].size : 0;
}

const char *cvb__dtype_name(enum cvb_dtype dt) {
    return (unsigned)dt < CVB_DT_COUNT ? dtype_table[dt].name : "invalid";
}

enum cvb_dtype cvb__dtype_from_onnx(int onnx_type) {
    for (int i = 1; i < CVB_DT_COUNT; i++)
        if (dtype_table[i].onnx == onnx_type) return (enum cvb_dtype)i;
    return CVB_DT_UNDEF;
}

int cvb__dtype_to_onnx(enum cvb_dtype dt) {
    return (unsigned)dt < CVB_DT_COUNT ? dtype_table[dt].onnx : 0;
}

/* ---- ops ---- */

static const char *const op_names[CVB_OP_COUNT] = {
#define CVB_X(e, s) [CVB_OP_##e] = s,
    CVB_OP_LIST(CVB_X)
#undef CVB_X
};

const char *cvb__op_name(enum cvb_op op) {
    return (unsigned)op < CVB_OP_COUNT ? op_names[op] : "?";
}

int cvb__op_from_name(const char *op_type) {
    for (int i = 0; i < CVB_OP_COUNT; i++)
        if (strcmp(op_names[i], op_type) == 0) return i;
    return -1;
}

/* ---- attributes ---- */

const struct cvb_attr *cvb__attr_find(const struct cvb_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
    return NULL;
}

int64_t cvb__attr_int(const struct cvb_node *n, const char *name, int64_t def) {
    const struct cvb_attr *a = cvb__attr_find(n, name);
    return a != NULL && a->type == CVB_ATTR_INT ? a->i : def;
}

float cvb__attr_float(const struct cvb_node *n, const char *name, float def) {
    const struct cvb_attr *a = cvb__attr_find(n, name);
    return a != NULL && a->type == CVB_ATTR_FLOAT ? a->f : def;
}

const char *cvb__attr_str(const struct cvb_node *n, const char *name, const char *def) {
    const struct cvb_attr *a = cvb__attr_find(n, name);
    return a != NULL && a->type == CVB_ATTR_STRING ? a->s : def;
}

int cvb__attr_ints(const struct cvb_node *n, const char *name, const int64_t **vals) {
    const struct cvb_attr *a = cvb__attr_find(n, name);
    if (a == NULL || a->type != CVB_ATTR_INTS) {
        *vals = NULL;
        return -1;
    }
    *vals = a->ints;
    return a->n;
}

int cvb__attr_floats(const struct cvb_node *n, const char *name, const float **vals) {
    const struct cvb_attr *a = cvb__attr_find(n, name);
    if (a == NULL || a->type != CVB_ATTR_FLOATS) {
        *vals = NULL;
        return -1;
    }
    *vals = a->floats;
    return a->n;
}

/* ---- graph ---- */

struct cvb_graph *cvb__graph_new(const char *path) {
    struct cvb_graph *g = calloc(1, sizeof *g);
    if (g == NULL) return NULL;
    g->path = strdup(path != NULL ? path : "<model>");
    if (g->path == NULL) {
        free(g);
        return NULL;
    }
    g->opset = 17;
    return g;
}

static void attr_cleanup(struct cvb_attr *a) {
    free(a->name);
    free(a->s);
    free(a->ints);
    free(a->floats);
}

void cvb__graph_free(struct cvb_graph *g) {
    if (g == NULL) return;
    for (int i = 0; i < g->n_tensors; i++) {
        free(g->tensors[i].name);
        free(g->tensors[i].data);
        free(g->tensors[i].bdata);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *n = &g->nodes[i];
        free(n->name);
        free(n->in);
        free(n->out);
        for (int j = 0; j < n->n_attrs; j++) attr_cleanup(&n->attrs[j]);
        free(n->attrs);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->producer);
    free(g->path);
    free(g);
}

int cvb__graph_find_tensor(const struct cvb_graph *g, const char *name) {
    /* Linear scan: graphs have at most a few thousand tensors and lookups
     * only happen at load time. */
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

int cvb__graph_tensor(struct cvb_graph *g, const char *name) {
    int t = cvb__graph_find_tensor(g, name);
    if (t >= 0) return t;
    if (g->n_tensors == g->cap_tensors) {
        int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        struct cvb_tensor *nt = realloc(g->tensors, (size_t)cap * sizeof *nt);
        if (nt == NULL) return -1;
        g->tensors = nt;
        g->cap_tensors = cap;
    }
    struct cvb_tensor *tt = &g->tensors[g->n_tensors];
    memset(tt, 0, sizeof *tt);
    tt->name = strdup(name);
    if (tt->name == NULL) return -1;
    tt->producer = -1;
    tt->numel = 1;
    return g->n_tensors++;
}

int cvb__tensor_set_shape(struct cvb_graph *g, int t, enum cvb_dtype dt, int ndim,
                          const int64_t *dims, struct cvb_err *err) {
    struct cvb_tensor *tt = &g->tensors[t];
    if (ndim < 0 || ndim > CVB_MAX_DIMS)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: tensor '%s' has rank %d; at most %d dimensions are supported",
                           g->path, tt->name, ndim, CVB_MAX_DIMS);
    if (dt <= CVB_DT_UNDEF || dt >= CVB_DT_COUNT)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: tensor '%s' has an unsupported data type",
                           g->path, tt->name);
    int64_t numel = 1;
    uint64_t max_el = CVB_MAX_TENSOR_BYTES / cvb__dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return cvb_err_set(err, CVB_ESHAPE, "%s: tensor '%s' has negative dimension %lld",
                               g->path, tt->name, (long long)dims[i]);
        if (dims[i] > 0 && (uint64_t)numel > max_el / (uint64_t)dims[i])
            return cvb_err_set(err, CVB_ERANGE,
                               "%s: tensor '%s' declares more than %llu elements (absurd size)",
                               g->path, tt->name, (unsigned long long)max_el);
        numel *= dims[i];
    }
    tt->dtype = dt;
    tt->ndim = ndim;
    for (int i = 0; i < ndim; i++) tt->dims[i] = dims[i];
    tt->numel = numel;
    tt->shape_known = true;
    return 0;
}

size_t cvb__tensor_bytes(const struct cvb_tensor *t) {
    return (size_t)t->numel * cvb__dtype_size(t->dtype);
}

const char *cvb__shape_str(const struct cvb_tensor *t, char *buf, size_t len) {
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (off < len) snprintf(buf + off, len - off, "]");
    return buf;
}
