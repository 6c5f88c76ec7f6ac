/* SPDX-License-Identifier: Apache-2.0 */
/* ONNX model loading: ModelProto (protobuf-c bindings generated at build
 * time from the system's onnx.proto) -> struct cvb_graph.
 *
 * This is the only file that reads ONNX protobuf messages for the engine. It
 * checks everything a hostile file can get wrong before trusting it: opset,
 * domains, tensor sizes against their payloads, names, attribute types.
 * Shapes, ordering and folding happen afterwards in finalize.c. */
#include "engine/ir.h"
#include "onnx.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CVB_OPSET_MIN 11
#define CVB_OPSET_MAX 17
/* Limits on what one attribute may declare. Real models use a few ints
 * (pads, strides, axes) and short strings; protobuf-c has already backed
 * the lists with bytes of the file, these caps keep counts within int and
 * make an absurd attribute an error that names it. */
#define CVB_ATTR_MAX_ELEMS (1 << 20)
#define CVB_ATTR_MAX_STRING (1 << 16)

static char *xstrdup(const char *s) { return strdup(s != NULL ? s : ""); }

/* Copy a TensorProto's payload into a fresh buffer of exactly numel elements
 * of tensor t's dtype (already set). Sets t->data.
 *
 * The declared size (dims) is checked against the bytes the file actually
 * carries before anything is allocated: a 100-byte file may declare a
 * 2 GB tensor, and only the payload length is backed by input. */
static int tensor_payload(struct cvb_graph *g, struct cvb_tensor *t, const Onnx__TensorProto *tp,
                          struct cvb_err *err) {
    size_t esz = cvb__dtype_size(t->dtype);
    size_t bytes = (size_t)t->numel * esz;
    size_t have = 0;
    const char *kind = "raw_data";
    const void *src = NULL; /* bytes to copy as they are */
    bool widen = false;     /* narrow integers from int32_data, one per element */
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: tensor '%s' stores its data in an external file; "
                           "only self-contained models are supported",
                           g->path, t->name);
    if (tp->has_raw_data) {
        have = tp->raw_data.len;
        src = tp->raw_data.data;
    } else {
        switch (t->dtype) {
        case CVB_DT_F32:
            kind = "float_data";
            have = tp->n_float_data * 4;
            src = tp->float_data;
            break;
        case CVB_DT_I64:
            kind = "int64_data";
            have = tp->n_int64_data * 8;
            src = tp->int64_data;
            break;
        case CVB_DT_I32:
        case CVB_DT_U8:
        case CVB_DT_I8:
        case CVB_DT_BOOL:
            /* int32_data carries every narrow integer type, one per element */
            kind = "int32_data";
            have = tp->n_int32_data * esz;
            widen = true;
            break;
        default: break;
        }
    }
    if (have != bytes)
        return cvb_err_set(err, CVB_EFORMAT,
                           "%s: tensor '%s' declares %lld elements (%zu bytes) but its %s holds "
                           "%zu bytes",
                           g->path, t->name, (long long)t->numel, bytes, kind, have);
    /* Only now is 'bytes' backed by input: the model file holds it. */
    void *buf = malloc(bytes ? bytes : 1);
    if (buf == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes for tensor '%s'",
                           g->path, bytes, t->name);
    if (widen) {
        for (size_t i = 0; i < tp->n_int32_data; i++) {
            int32_t v = tp->int32_data[i];
            if (t->dtype == CVB_DT_I32)
                ((int32_t *)buf)[i] = v;
            else if (t->dtype == CVB_DT_I8)
                ((int8_t *)buf)[i] = (int8_t)v;
            else
                ((uint8_t *)buf)[i] = (uint8_t)v;
        }
    } else if (bytes) {
        memcpy(buf, src, bytes);
    }
    t->data = buf;
    return 0;
}

/* Make (or fill) the constant tensor 'name' from a TensorProto. */
static int load_constant(struct cvb_graph *g, const char *name, const Onnx__TensorProto *tp,
                         int *out_index, struct cvb_err *err) {
    int t = cvb__graph_tensor(g, name);
    if (t < 0) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    struct cvb_tensor *tt = &g->tensors[t];
    if (tt->data != NULL)
        return cvb_err_set(err, CVB_EFORMAT, "%s: initializer '%s' is defined twice", g->path,
                           name);
    enum cvb_dtype dt = cvb__dtype_from_onnx(tp->data_type);
    if (dt == CVB_DT_UNDEF)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: tensor '%s' has ONNX data type %d, which is not supported "
                           "(supported: float32, uint8, int8, int32, int64, bool)",
                           g->path, name, (int)tp->data_type);
    if (tp->n_dims > CVB_MAX_DIMS)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: tensor '%s' has rank %zu (at most %d)",
                           g->path, name, tp->n_dims, CVB_MAX_DIMS);
    int rc = cvb__tensor_set_shape(g, t, dt, (int)tp->n_dims, tp->dims, err);
    if (rc < 0) return rc;
    rc = tensor_payload(g, &g->tensors[t], tp, err);
    if (rc < 0) return rc;
    if (out_index) *out_index = t;
    return 0;
}

static int load_attr(struct cvb_graph *g, const Onnx__NodeProto *np, const char *node_name,
                     const Onnx__AttributeProto *ap, struct cvb_attr *a, struct cvb_err *err) {
    a->name = xstrdup(ap->name);
    a->tensor = -1;
    if (a->name == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    if (ap->ref_attr_name != NULL && ap->ref_attr_name[0])
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: node '%s' (%s): attribute '%s' refers to a function attribute",
                           g->path, node_name, np->op_type, a->name);
    size_t n_list = ap->n_ints + ap->n_floats + ap->n_strings + ap->n_tensors;
    if (n_list > CVB_ATTR_MAX_ELEMS)
        return cvb_err_set(err, CVB_ERANGE,
                           "%s: node '%s' (%s): attribute '%s' lists %zu values (at most %d)",
                           g->path, node_name, np->op_type, a->name, n_list, CVB_ATTR_MAX_ELEMS);
    if (ap->s.len > CVB_ATTR_MAX_STRING)
        return cvb_err_set(err, CVB_ERANGE,
                           "%s: node '%s' (%s): attribute '%s' is a %zu-byte string (at most %d)",
                           g->path, node_name, np->op_type, a->name, ap->s.len,
                           CVB_ATTR_MAX_STRING);
    switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = CVB_ATTR_FLOAT;
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = CVB_ATTR_INT;
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = CVB_ATTR_STRING;
        a->s = malloc(ap->s.len + 1);
        if (a->s == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        if (ap->s.len) memcpy(a->s, ap->s.data, ap->s.len);
        a->s[ap->s.len] = '\0';
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = CVB_ATTR_INTS;
        a->n = (int)ap->n_ints;
        a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof *a->ints);
        if (a->ints == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        if (ap->n_ints) memcpy(a->ints, ap->ints, ap->n_ints * sizeof *a->ints);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = CVB_ATTR_FLOATS;
        a->n = (int)ap->n_floats;
        a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof *a->floats);
        if (a->floats == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        if (ap->n_floats) memcpy(a->floats, ap->floats, ap->n_floats * sizeof *a->floats);
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
        if (ap->t == NULL)
            return cvb_err_set(err, CVB_EFORMAT, "%s: node '%s' (%s): tensor attribute '%s' is empty",
                               g->path, node_name, np->op_type, a->name);
        char cname[600];
        snprintf(cname, sizeof cname, "%s:%s", node_name, a->name);
        a->type = CVB_ATTR_TENSOR;
        int rc = load_constant(g, cname, ap->t, &a->tensor, err);
        if (rc < 0)
            return cvb_err_prefix(err, "node '%s' (%s), attribute '%s'", node_name, np->op_type,
                                  a->name);
        break;
    }
    default:
        /* Graphs, sparse tensors, string lists: kept as OTHER so that an op
         * that needs one reports it as unsupported. */
        a->type = CVB_ATTR_OTHER;
        break;
    }
    return 0;
}

static int load_node(struct cvb_graph *g, const Onnx__NodeProto *np, int index,
                     struct cvb_err *err) {
    char auto_name[64];
    const char *op_type = np->op_type != NULL ? np->op_type : "";
    const char *node_name = np->name;
    if (node_name == NULL || node_name[0] == '\0') {
        snprintf(auto_name, sizeof auto_name, "%.40s_%d", op_type, index);
        node_name = auto_name;
    }
    if (np->domain != NULL && np->domain[0] && strcmp(np->domain, "ai.onnx") != 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: node '%s': unsupported op '%s' from domain '%s' "
                           "(only the default ONNX domain is supported)",
                           g->path, node_name, op_type, np->domain);
    int op = cvb__op_from_name(op_type);
    if (op < 0)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: node '%s': unsupported op '%s'", g->path,
                           node_name, op_type);
    if (np->n_input > 4096 || np->n_output > 4096 || np->n_attribute > 256)
        return cvb_err_set(err, CVB_ERANGE, "%s: node '%s' (%s) has absurd input/output counts",
                           g->path, node_name, op_type);
    struct cvb_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    g->n_nodes++; /* counted now so that graph_free releases partial nodes */
    n->op = (enum cvb_op)op;
    n->name = xstrdup(node_name);
    n->in = malloc((np->n_input ? np->n_input : 1) * sizeof *n->in);
    n->out = malloc((np->n_output ? np->n_output : 1) * sizeof *n->out);
    n->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n->attrs);
    if (n->name == NULL || n->in == NULL || n->out == NULL || n->attrs == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    for (size_t i = 0; i < np->n_attribute; i++) {
        n->n_attrs++;
        int rc = load_attr(g, np, n->name, np->attribute[i], &n->attrs[i], err);
        if (rc < 0) return rc;
    }
    for (size_t i = 0; i < np->n_input; i++) {
        const char *in = np->input[i];
        if (in == NULL || in[0] == '\0') {
            n->in[n->n_in++] = -1; /* absent optional input */
            continue;
        }
        int t = cvb__graph_tensor(g, in);
        if (t < 0) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        n->in[n->n_in++] = t;
    }
    for (size_t i = 0; i < np->n_output; i++) {
        const char *o = np->output[i];
        if (o == NULL || o[0] == '\0') {
            n->out[n->n_out++] = -1;
            continue;
        }
        int t = cvb__graph_tensor(g, o);
        if (t < 0) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        if (g->tensors[t].producer >= 0 || g->tensors[t].data != NULL)
            return cvb_err_set(err, CVB_EFORMAT,
                               "%s: node '%s' (%s): output '%s' is already produced elsewhere "
                               "(each value must have exactly one producer)",
                               g->path, n->name, op_type, o);
        g->tensors[t].producer = g->n_nodes - 1;
        n->out[n->n_out++] = t;
    }
    return 0;
}

/* Read a graph input's declared type and shape. Dynamic dims are stored as
 * -1 for finalize() to fix or explain. */
static int load_input(struct cvb_graph *g, const Onnx__ValueInfoProto *vi, struct cvb_err *err) {
    const char *name = vi->name != NULL ? vi->name : "";
    int t = cvb__graph_tensor(g, name);
    if (t < 0) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    if (g->tensors[t].data != NULL) return 0; /* an initializer listed as input (IR < 4) */
    const Onnx__TypeProto *tp = vi->type;
    if (tp == NULL || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
        tp->tensor_type == NULL)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: graph input '%s' is not a tensor", g->path,
                           name);
    enum cvb_dtype dt = cvb__dtype_from_onnx(tp->tensor_type->elem_type);
    if (dt == CVB_DT_UNDEF)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: graph input '%s' has ONNX data type %d, which is not supported",
                           g->path, name, (int)tp->tensor_type->elem_type);
    const Onnx__TensorShapeProto *sp = tp->tensor_type->shape;
    if (sp == NULL)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: graph input '%s' has no declared shape; only static shapes are "
                           "supported",
                           g->path, name);
    if (sp->n_dim > CVB_MAX_DIMS)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: graph input '%s' has rank %zu (at most %d)",
                           g->path, name, sp->n_dim, CVB_MAX_DIMS);
    struct cvb_tensor *tt = &g->tensors[t];
    tt->dtype = dt;
    tt->ndim = (int)sp->n_dim;
    tt->is_input = true;
    bool dynamic = false;
    for (size_t i = 0; i < sp->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = sp->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0) {
            tt->dims[i] = d->dim_value;
        } else {
            tt->dims[i] = -1;
            dynamic = true;
        }
    }
    if (!dynamic) {
        int rc = cvb__tensor_set_shape(g, t, dt, tt->ndim, tt->dims, err);
        if (rc < 0) return rc;
    }
    int *ni = realloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof *ni);
    if (ni == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    g->inputs = ni;
    g->inputs[g->n_inputs++] = t;
    return 0;
}

/* A protobuf parse failure says nothing about why. A ModelProto almost
 * always starts with field 1 (ir_version, varint): 0x08. */
static int explain_unparsable(const char *path, const uint8_t *buf, size_t len,
                              struct cvb_err *err) {
    if (len == 0) return cvb_err_set(err, CVB_EFORMAT, "%s: file is empty, not an ONNX model", path);
    if (len >= 8 && memcmp(buf, "\x89PNG", 4) == 0)
        return cvb_err_set(err, CVB_EFORMAT, "%s: this is a PNG image, not an ONNX model", path);
    if (buf[0] == 0x08)
        return cvb_err_set(err, CVB_EFORMAT,
                           "%s: not a valid ONNX model: the protobuf data is truncated or "
                           "corrupt (%zu bytes)",
                           path, len);
    return cvb_err_set(err, CVB_EFORMAT,
                       "%s: not a valid ONNX model: the file is not an ONNX protobuf (wrong "
                       "magic: first byte 0x%02x, expected 0x08)",
                       path, buf[0]);
}

int cvb__onnx_parse(const void *buf, size_t len, const char *path, struct cvb_graph **out,
                    struct cvb_err *err) {
    int rc = 0;
    struct cvb_graph *g = NULL;
    Onnx__ModelProto *m = NULL;
    *out = NULL;
    m = onnx__model_proto__unpack(NULL, len, buf);
    if (m == NULL) {
        rc = explain_unparsable(path, buf, len, err);
        goto out;
    }
    g = cvb__graph_new(path);
    if (g == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    g->file_bytes = len;
    if (m->graph == NULL) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a valid ONNX model: it has no graph", path);
        goto out;
    }
    int64_t opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        if (os->domain == NULL || os->domain[0] == '\0' || strcmp(os->domain, "ai.onnx") == 0)
            opset = os->version;
    }
    if (opset < 0) {
        const char *dom = m->n_opset_import > 0 && m->opset_import[0]->domain != NULL
                              ? m->opset_import[0]->domain
                              : NULL;
        if (dom != NULL)
            rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                             "%s: unsupported opset domain '%s' (only the default ONNX domain is "
                             "supported)",
                             path, dom);
        else
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "%s: not a valid ONNX model: no opset_import for the default domain",
                             path);
        goto out;
    }
    if (opset < CVB_OPSET_MIN || opset > CVB_OPSET_MAX) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "%s: unsupported opset %lld (supported: %d to %d); re-export the model "
                         "with opset=%d",
                         path, (long long)opset, CVB_OPSET_MIN, CVB_OPSET_MAX, CVB_OPSET_MAX);
        goto out;
    }
    g->opset = opset;
    for (size_t i = 0; i < m->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = m->metadata_props[i];
        if (p->key != NULL && p->value != NULL && strcmp(p->key, "cvbench.synthetic") == 0 &&
            strcmp(p->value, "true") == 0)
            g->synthetic = true;
    }
    char producer[256];
    snprintf(producer, sizeof producer, "%s %s", m->producer_name ? m->producer_name : "",
             m->producer_version ? m->producer_version : "");
    g->producer = xstrdup(producer);

    const Onnx__GraphProto *gp = m->graph;
    if (gp->n_node > 1000000 || gp->n_initializer > 1000000) {
        rc = cvb_err_set(err, CVB_ERANGE, "%s: graph declares an absurd number of nodes", path);
        goto out;
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (tp->name == NULL || tp->name[0] == '\0') {
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: initializer #%zu has no name", path, i);
            goto out;
        }
        rc = load_constant(g, tp->name, tp, NULL, err);
        if (rc < 0) goto out;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        rc = load_input(g, gp->input[i], err);
        if (rc < 0) goto out;
    }
    g->nodes = calloc(gp->n_node ? gp->n_node : 1, sizeof *g->nodes);
    if (g->nodes == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    g->cap_nodes = (int)gp->n_node;
    for (size_t i = 0; i < gp->n_node; i++) {
        rc = load_node(g, gp->node[i], (int)i, err);
        if (rc < 0) goto out;
    }
    if (gp->n_output == 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: graph has no outputs", path);
        goto out;
    }
    g->outputs = malloc(gp->n_output * sizeof *g->outputs);
    if (g->outputs == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        int t = name != NULL ? cvb__graph_find_tensor(g, name) : -1;
        if (t < 0) {
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "%s: graph output '%s' is not produced by any node", path,
                             name ? name : "");
            goto out;
        }
        g->tensors[t].is_output = true;
        g->outputs[g->n_outputs++] = t;
    }
    *out = g;
    g = NULL;
out:
    cvb__graph_free(g);
    if (m != NULL) onnx__model_proto__free_unpacked(m, NULL);
    return rc;
}
