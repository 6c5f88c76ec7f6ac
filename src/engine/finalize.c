/* SPDX-License-Identifier: Apache-2.0 */
/* Graph finalisation: fix input shapes, order nodes, infer shapes, fold
 * constants.
 *
 * After cvb__graph_finalize() returns 0 the invariants listed in ir.h hold.
 * Folding runs the reference kernel of any node whose inputs are all
 * constant (and every Shape node, whose output only depends on static
 * shapes), so the Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains
 * exporters emit collapse into constants before execution is planned. */
#include "engine/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Total bytes of constants that folding may create; a model that would fold
 * into more is refused rather than exhausting memory. Folding may expand
 * what the file carries (a Cast of fp16 weights doubles them, a
 * DequantizeLinear of int8 weights quadruples them) but must not conjure
 * gigabytes from a few bytes (a ConstantOfShape of [250000000] is 1 GB from
 * a 150-byte file): the budget is FOLD_SLACK_BYTES plus FOLD_FILE_FACTOR
 * times the model file's size, and never more than MAX_FOLDED_BYTES. */
#define MAX_FOLDED_BYTES (1ull << 30)
#define FOLD_SLACK_BYTES (64ull << 20)
#define FOLD_FILE_FACTOR 4ull

static uint64_t fold_budget(const struct cvb_graph *g) {
    uint64_t b = FOLD_SLACK_BYTES + FOLD_FILE_FACTOR * (uint64_t)g->file_bytes;
    return b < MAX_FOLDED_BYTES ? b : MAX_FOLDED_BYTES;
}

static int fix_inputs(struct cvb_graph *g, int imgsz, int batch, struct cvb_err *err) {
    if (batch > 1 && g->n_inputs != 1)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: batch %d needs a model with one input, this one has %d", g->path,
                           batch, g->n_inputs);
    for (int i = 0; i < g->n_inputs; i++) {
        struct cvb_tensor *t = &g->tensors[g->inputs[i]];
        char shape[160];
        size_t off = 0;
        bool dynamic = false;
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] < 0) dynamic = true;
            if (t->dims[d] < 0)
                off += (size_t)snprintf(shape + off, sizeof shape - off, "%s?", d ? "," : "");
            else
                off += (size_t)snprintf(shape + off, sizeof shape - off, "%s%lld", d ? "," : "",
                                        (long long)t->dims[d]);
            if (off >= sizeof shape) off = sizeof shape - 1;
        }
        if (batch > 1) {
            if (t->ndim < 1 || (t->dims[0] >= 0 && t->dims[0] != 1 && t->dims[0] != batch))
                return cvb_err_set(err, CVB_EUNSUPPORTED,
                                   "%s: input '%s' is [%s]; batch %d needs an input whose dim 0 "
                                   "is the batch (1 or dynamic)",
                                   g->path, t->name, shape, batch);
            t->dims[0] = batch;
        }
        if (!dynamic) {
            if (imgsz > 0 && t->ndim == 4 && (t->dims[2] != imgsz || t->dims[3] != imgsz))
                return cvb_err_set(err, CVB_EINVAL,
                                   "%s: input '%s' is fixed at [%s]; --imgsz %d needs a model "
                                   "exported with dynamic or %dx%d input",
                                   g->path, t->name, shape, imgsz, imgsz, imgsz);
            if (batch > 1) {
                int rc = cvb__tensor_set_shape(g, g->inputs[i], t->dtype, t->ndim, t->dims, err);
                if (rc < 0) return rc;
            }
            continue;
        }
        if (imgsz <= 0 || t->ndim != 4 || t->dims[1] < 0)
            return cvb_err_set(err, CVB_EUNSUPPORTED,
                               "%s: input '%s' has dynamic dimensions [%s]; cvbench needs static "
                               "shapes: pass --imgsz N to fix a 4-D image input at 1x C x N x N, "
                               "or re-export the model with a fixed input size",
                               g->path, t->name, shape);
        int64_t dims[4] = {t->dims[0] < 0 ? 1 : t->dims[0], t->dims[1],
                           t->dims[2] < 0 ? imgsz : t->dims[2], t->dims[3] < 0 ? imgsz : t->dims[3]};
        int rc = cvb__tensor_set_shape(g, g->inputs[i], t->dtype, 4, dims, err);
        if (rc < 0) return rc;
    }
    return 0;
}

/* Kahn's algorithm over tensor readiness. Rewrites g->nodes in topological
 * order and fixes tensor->producer indices. */
static int topo_sort(struct cvb_graph *g, struct cvb_err *err) {
    int rc = 0;
    int n = g->n_nodes;
    int *pending = calloc((size_t)n + 1, sizeof *pending);
    int *cons_start = calloc((size_t)g->n_tensors + 1, sizeof *cons_start);
    int *cons = NULL, *fill = NULL, *queue = NULL;
    struct cvb_node *sorted = NULL;
    int n_edges = 0;
    if (pending == NULL || cons_start == NULL) goto oom;
    for (int i = 0; i < n; i++) {
        const struct cvb_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            int t = nd->in[j];
            if (t < 0) continue;
            const struct cvb_tensor *tt = &g->tensors[t];
            if (tt->producer < 0 && tt->data == NULL && !tt->is_input) {
                rc = cvb_err_set(err, CVB_EFORMAT,
                                 "%s: node '%s' (%s): input '%s' is not produced by any node, "
                                 "not a graph input and not an initializer",
                                 g->path, nd->name, cvb__op_name(nd->op), tt->name);
                goto out;
            }
            if (tt->producer >= 0) {
                pending[i]++;
                cons_start[t + 1]++;
                n_edges++;
            }
        }
    }
    for (int t = 0; t < g->n_tensors; t++) cons_start[t + 1] += cons_start[t];
    cons = malloc(((size_t)n_edges + 1) * sizeof *cons);
    fill = calloc((size_t)g->n_tensors + 1, sizeof *fill);
    queue = malloc(((size_t)n + 1) * sizeof *queue);
    sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (cons == NULL || fill == NULL || queue == NULL || sorted == NULL) goto oom;
    for (int i = 0; i < n; i++) {
        const struct cvb_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            int t = nd->in[j];
            if (t >= 0 && g->tensors[t].producer >= 0) cons[cons_start[t] + fill[t]++] = i;
        }
    }
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0) queue[tail++] = i;
    while (head < tail) {
        int i = queue[head++];
        const struct cvb_node *nd = &g->nodes[i];
        for (int j = 0; j < nd->n_out; j++) {
            int t = nd->out[j];
            if (t < 0) continue;
            for (int k = cons_start[t]; k < cons_start[t + 1]; k++)
                if (--pending[cons[k]] == 0) queue[tail++] = cons[k];
        }
    }
    if (tail < n) {
        for (int i = 0; i < n; i++) {
            if (pending[i] > 0) {
                rc = cvb_err_set(err, CVB_EFORMAT,
                                 "%s: graph has a cycle: node '%s' (%s) depends on its own "
                                 "output (directly or through other nodes)",
                                 g->path, g->nodes[i].name, cvb__op_name(g->nodes[i].op));
                goto out;
            }
        }
    }
    for (int k = 0; k < n; k++) sorted[k] = g->nodes[queue[k]];
    memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
    for (int k = 0; k < n; k++)
        for (int j = 0; j < g->nodes[k].n_out; j++)
            if (g->nodes[k].out[j] >= 0) g->tensors[g->nodes[k].out[j]].producer = k;
    goto out;
oom:
    rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
out:
    free(pending);
    free(cons_start);
    free(cons);
    free(fill);
    free(queue);
    free(sorted);
    return rc;
}

/* Shape's value depends only on its input's static shape. */
static int fold_shape(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    const struct cvb_tensor *x = &g->tensors[n->in[0]];
    int64_t r = x->ndim;
    int64_t start = 0, end = r;
    if (g->opset >= 15) {
        start = cvb__attr_int(n, "start", 0);
        end = cvb__attr_int(n, "end", r);
    }
    if (start < 0) start += r;
    if (end < 0) end += r;
    if (start < 0) start = 0;
    if (end > r) end = r;
    if (end < start) end = start;
    int64_t len = end - start;
    int t = n->out[0];
    int rc = cvb__tensor_set_shape(g, t, CVB_DT_I64, 1, &len, err);
    if (rc < 0) return rc;
    int64_t *v = malloc((size_t)(len ? len : 1) * sizeof *v);
    if (v == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    for (int64_t i = 0; i < len; i++) v[i] = x->dims[start + i];
    g->tensors[t].data = v;
    return 0;
}

/* Run node n's reference kernel at load time on its inputs' values: the
 * constants (data), or with 'bound' set, the bound values of run-time
 * integer inputs (bdata), the outputs then going to bdata and the node
 * staying live. */
static int fold_node(struct cvb_graph *g, struct cvb_node *n, uint64_t *folded, bool bound,
                     struct cvb_err *err) {
    int rc = 0;
    const struct cvb_tensor **tin = calloc((size_t)n->n_in + 1, sizeof *tin);
    const struct cvb_tensor **tout = calloc((size_t)n->n_out + 1, sizeof *tout);
    const void **in = calloc((size_t)n->n_in + 1, sizeof *in);
    void **out = calloc((size_t)n->n_out + 1, sizeof *out);
    void *scratch = calloc(cvb__ref_scratch_bytes(g, n) + 1, 1);
    if (tin == NULL || tout == NULL || in == NULL || out == NULL || scratch == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
        goto out;
    }
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0) continue;
        tin[j] = &g->tensors[n->in[j]];
        in[j] = tin[j]->data != NULL ? tin[j]->data : tin[j]->bdata;
    }
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        struct cvb_tensor *t = &g->tensors[n->out[j]];
        size_t bytes = cvb__tensor_bytes(t);
        *folded += bytes;
        if (*folded > fold_budget(g)) {
            rc = cvb_err_set(err, CVB_ERANGE,
                             "%s: node '%s' (%s): constant folding would create more than "
                             "%llu MiB of constants (output '%s' is %zu bytes; the limit is "
                             "64 MiB + 4x the model file, at most 1 GiB)",
                             g->path, n->name, cvb__op_name(n->op),
                             (unsigned long long)(fold_budget(g) >> 20), t->name, bytes);
            goto out;
        }
        tout[j] = t;
        out[j] = calloc(bytes ? bytes : 1, 1);
        if (out[j] == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
            goto out;
        }
    }
    struct cvb_kctx k = {.g = g, .node = n, .tin = tin, .tout = tout, .in = in, .out = out,
                         .scratch = scratch};
    rc = cvb__op_defs[n->op].ref(&k, err);
    if (rc < 0) goto out;
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        if (bound) {
            free(g->tensors[n->out[j]].bdata);
            g->tensors[n->out[j]].bdata = out[j];
        } else {
            g->tensors[n->out[j]].data = out[j];
            g->tensors[n->out[j]].producer = -1;
        }
        out[j] = NULL;
    }
    if (!bound) n->dead = true;
out:
    if (out != NULL)
        for (int j = 0; j < n->n_out; j++) free(out[j]);
    free(scratch);
    free(tin);
    free(tout);
    free(in);
    free(out);
    return rc;
}

/* ---- data-dependent shapes -----------------------------------------------------
 * NonZero and NonMaxSuppression produce as many rows as the data asks for;
 * what follows them (Ultralytics' nms=True tail: GatherND, NMS, Gather,
 * Slice, Concat, Pad to max_det, Reshape, ScatterND) has shapes that
 * depend on those counts. Such tensors are 'dyn': inference gives each its
 * bound, the shape it has when every count is at its largest, and the
 * executor re-infers the actual shape at run time, inside the bound's
 * bytes, on the reference kernels.
 *  - A node reading a dyn tensor has dyn outputs.
 *  - Shape of a dyn tensor is not folded: its value is known at run time
 *    only. Small integer tensors computed at run time from such values get
 *    'bdata', their values with every dyn tensor at its bound (the kernel
 *    run at load time), so that a node whose inference needs one of them as
 *    a constant (Pad's pads, Expand's shape) can be inferred: first as
 *    usual, and if that fails, again with the bound values standing in for
 *    the constants; its outputs are then dyn. The bounds assume a shape
 *    grows with the counts: where it does not, the run-time check catches
 *    it (an error naming the node, never an overrun). */
#define BDATA_MAX_ELEMS 64

static bool reads_values(const struct cvb_node *n, int j) {
    return !(n->op == CVB_OP_SHAPE && j == 0);
}

static bool any_input(const struct cvb_graph *g, const struct cvb_node *n, bool bdata) {
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0) continue;
        const struct cvb_tensor *t = &g->tensors[n->in[j]];
        if (bdata ? t->bdata != NULL : t->dyn) return true;
    }
    return false;
}

/* Let inference see the bound values of n's inputs as constants (on) or not. */
static void expose_bounds(struct cvb_graph *g, const struct cvb_node *n, bool on) {
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0) continue;
        struct cvb_tensor *t = &g->tensors[n->in[j]];
        if (t->bdata != NULL) t->data = on ? t->bdata : NULL;
    }
}

/* Bound values for n's outputs when they are small integers computed from
 * constants and bound values only. */
static int bound_values(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err) {
    if (cvb__op_data_dependent(n->op)) return 0;
    bool any = false;
    for (int j = 0; j < n->n_out; j++) {
        if (n->out[j] < 0) continue;
        const struct cvb_tensor *t = &g->tensors[n->out[j]];
        if ((t->dtype != CVB_DT_I64 && t->dtype != CVB_DT_I32) || t->numel > BDATA_MAX_ELEMS)
            return 0;
        any = true;
    }
    for (int j = 0; j < n->n_in; j++) {
        if (n->in[j] < 0 || !reads_values(n, j)) continue;
        const struct cvb_tensor *t = &g->tensors[n->in[j]];
        if (t->data == NULL && t->bdata == NULL) return 0;
    }
    if (!any) return 0;
    uint64_t none = 0;
    return fold_node(g, n, &none, true, err);
}

/* ---- batch > 1 ------------------------------------------------------------------
 * A model exported at batch 1 is run at batch N by giving its input dim 0 = N
 * and letting shape inference and folding follow. A tensor "carries the
 * batch" (bat[t]) when it is computed from the input with dim 0 holding the
 * items, each item's elements contiguous and computed from that item alone.
 * Every live node reading such a tensor must be proven to keep that: an op
 * whose batch behaviour we cannot prove is refused (CVB_EUNSUPPORTED, naming
 * it), never run. Reshape shape constants that say 1 for the batch (an
 * exporter's static batch) are rewritten to N before inference. */

static int batch_fail(const struct cvb_graph *g, const struct cvb_node *n, int batch,
                      const char *why, struct cvb_err *err) {
    return cvb_err_set(err, CVB_EUNSUPPORTED,
                       "%s: node '%s' (%s): batch %d is not supported: %s; run this model at "
                       "batch 1",
                       g->path, n->name, cvb__op_name(n->op), batch, why);
}

/* Reshape: a constant target whose dim 0 is the exporter's batch 1 becomes N. */
static int batch_rewrite_reshape(struct cvb_graph *g, struct cvb_node *n, int batch,
                                 const bool *bat, struct cvb_err *err) {
    if (n->op != CVB_OP_RESHAPE || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0 || !bat[n->in[0]])
        return 0;
    const struct cvb_tensor *x = &g->tensors[n->in[0]], *s = &g->tensors[n->in[1]];
    if (x->ndim < 1 || x->dims[0] != batch || s->data == NULL || s->dtype != CVB_DT_I64 ||
        s->ndim != 1 || s->numel < 1 || ((const int64_t *)s->data)[0] != 1)
        return 0;
    char name[96];
    snprintf(name, sizeof name, "cvb_batch%d_shape_%d", batch, n->in[1]);
    int64_t cnt = s->numel;
    int64_t *v = malloc((size_t)cnt * sizeof *v);
    if (v == NULL) return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    memcpy(v, s->data, (size_t)cnt * sizeof *v);
    v[0] = batch;
    int t = cvb__graph_find_tensor(g, name);
    if (t < 0) t = cvb__graph_tensor(g, name); /* may move g->tensors */
    if (t < 0) {
        free(v);
        return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    }
    if (g->tensors[t].data == NULL) {
        int rc = cvb__tensor_set_shape(g, t, CVB_DT_I64, 1, &cnt, err);
        if (rc < 0) {
            free(v);
            return rc;
        }
        g->tensors[t].data = v;
        g->tensors[t].producer = -1;
    } else {
        free(v);
    }
    n->in[1] = t;
    return 0;
}

/* Is int64/int32 constant input i of n holding 'v' among its first values? */
static bool const_has(const struct cvb_graph *g, const struct cvb_node *n, int i, int rank,
                      int64_t v) {
    if (i >= n->n_in || n->in[i] < 0) return false;
    const struct cvb_tensor *t = &g->tensors[n->in[i]];
    if (t->data == NULL || (t->dtype != CVB_DT_I64 && t->dtype != CVB_DT_I32)) return true;
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t a = t->dtype == CVB_DT_I64 ? ((const int64_t *)t->data)[k]
                                           : ((const int32_t *)t->data)[k];
        if (a < 0) a += rank;
        if (a == v) return true;
    }
    return false;
}

/* After inference of live node n: does it keep the batch? Marks its outputs. */
static int batch_check(struct cvb_graph *g, struct cvb_node *n, int batch, bool *bat,
                       struct cvb_err *err) {
    int nb = 0, first = -1;
    for (int j = 0; j < n->n_in; j++)
        if (n->in[j] >= 0 && bat[n->in[j]]) {
            nb++;
            if (first < 0) first = j;
        }
    if (nb == 0) return 0;
    const struct cvb_tensor *x = &g->tensors[n->in[first]];
    const struct cvb_tensor *y = n->n_out >= 1 && n->out[0] >= 0 ? &g->tensors[n->out[0]] : NULL;
    int r = x->ndim;
    for (int j = 0; j < n->n_out; j++) {
        const struct cvb_tensor *o = n->out[j] >= 0 ? &g->tensors[n->out[j]] : NULL;
        if (o != NULL && (o->ndim < 1 || o->dims[0] != batch))
            return batch_fail(g, n, batch, "its output does not keep the batch in dim 0", err);
    }
    if (y == NULL) return batch_fail(g, n, batch, "no output", err);
    switch (n->op) {
    case CVB_OP_CONV:
    case CVB_OP_MAXPOOL:
    case CVB_OP_AVERAGEPOOL:
        if (first != 0 || nb != 1)
            return batch_fail(g, n, batch, "the batch reaches its weights", err);
        break;
    case CVB_OP_SIGMOID:
    case CVB_OP_RELU:
    case CVB_OP_SQRT:
    case CVB_OP_CAST:
    case CVB_OP_IDENTITY:
    case CVB_OP_RESHAPE: /* row-major, dim 0 = N on both sides: items stay contiguous */
    case CVB_OP_RESIZE:  /* output dim 0 checked above: no scaling of the batch */
    case CVB_OP_EXPAND:
    case CVB_OP_NOT:
        if (first != 0 || nb != 1)
            return batch_fail(g, n, batch, "the batch reaches a parameter input", err);
        break;
    case CVB_OP_FLATTEN:
        if (cvb__attr_int(n, "axis", 1) == 0 || (cvb__attr_int(n, "axis", 1) + r) % r == 0)
            return batch_fail(g, n, batch, "it flattens the batch axis", err);
        break;
    case CVB_OP_ADD:
    case CVB_OP_SUB:
    case CVB_OP_MUL:
    case CVB_OP_DIV:
    case CVB_OP_POW:
    case CVB_OP_GREATER:
    case CVB_OP_LESS:
    case CVB_OP_EQUAL:
    case CVB_OP_GREATER_OR_EQUAL:
    case CVB_OP_LESS_OR_EQUAL:
    case CVB_OP_AND:
    case CVB_OP_OR:
    case CVB_OP_XOR:
    case CVB_OP_WHERE:
    case CVB_OP_MOD:
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] < 0) continue;
            const struct cvb_tensor *a = &g->tensors[n->in[j]];
            if (bat[n->in[j]] ? a->ndim != y->ndim
                              : (a->ndim == y->ndim && a->dims[0] != 1))
                return batch_fail(g, n, batch, "an operand does not broadcast per item", err);
        }
        break;
    case CVB_OP_CONCAT:
    case CVB_OP_SPLIT:
    case CVB_OP_SOFTMAX: {
        int64_t a = cvb__attr_int(n, "axis", n->op == CVB_OP_SOFTMAX
                                                  ? (g->opset >= 13 ? -1 : 1)
                                                  : (n->op == CVB_OP_SPLIT ? 0 : 1));
        if (a < 0) a += r;
        if (a == 0) return batch_fail(g, n, batch, "it works on axis 0 (the batch)", err);
        if (n->op == CVB_OP_CONCAT && nb != n->n_in)
            return batch_fail(g, n, batch, "it joins a constant to the batch", err);
        if (n->op == CVB_OP_SPLIT && first != 0)
            return batch_fail(g, n, batch, "the batch reaches its split sizes", err);
        break;
    }
    case CVB_OP_SLICE:
        if (first != 0 || nb != 1)
            return batch_fail(g, n, batch, "the batch reaches its bounds", err);
        if (n->n_in >= 4 && n->in[3] >= 0 ? const_has(g, n, 3, r, 0) : true)
            return batch_fail(g, n, batch, "it slices axis 0 (the batch)", err);
        break;
    case CVB_OP_TRANSPOSE: {
        const int64_t *perm = NULL;
        int c = cvb__attr_ints(n, "perm", &perm);
        if (c < 1 || perm[0] != 0)
            return batch_fail(g, n, batch, "it moves the batch axis", err);
        break;
    }
    case CVB_OP_UNSQUEEZE:
    case CVB_OP_SQUEEZE: {
        const int64_t *ax = NULL;
        int ra = n->op == CVB_OP_UNSQUEEZE ? y->ndim : r;
        bool has0;
        if (n->n_in >= 2 && n->in[1] >= 0) {
            if (first != 0) return batch_fail(g, n, batch, "the batch reaches its axes", err);
            has0 = const_has(g, n, 1, ra, 0);
        } else {
            int c = cvb__attr_ints(n, "axes", &ax);
            has0 = c < 0; /* Squeeze without axes: batch-1 meaning differs */
            for (int k = 0; k < c; k++) has0 |= ax[k] == 0 || ax[k] + ra == 0;
        }
        if (has0) return batch_fail(g, n, batch, "it squeezes or inserts axis 0", err);
        break;
    }
    case CVB_OP_GATHER: {
        int64_t a = cvb__attr_int(n, "axis", 0);
        if (a < 0) a += r;
        if (first != 0 || nb != 1 || a == 0)
            return batch_fail(g, n, batch, "it gathers on the batch axis", err);
        break;
    }
    case CVB_OP_MATMUL: {
        const struct cvb_tensor *a = n->in[0] >= 0 ? &g->tensors[n->in[0]] : NULL;
        const struct cvb_tensor *b = n->n_in > 1 && n->in[1] >= 0 ? &g->tensors[n->in[1]] : NULL;
        if (a == NULL || b == NULL) return batch_fail(g, n, batch, "missing operand", err);
        bool ba = bat[n->in[0]], bb = bat[n->in[1]];
        /* the batch must be a leading (broadcast) dim of the product, or A's rows */
        if (bb && (b->ndim < 3 || b->ndim != y->ndim))
            return batch_fail(g, n, batch, "the batch is in B's contracted dims", err);
        if (ba && a->ndim != y->ndim)
            return batch_fail(g, n, batch, "the batch does not lead the product", err);
        if (!ba && a->ndim == y->ndim && a->dims[0] != 1)
            return batch_fail(g, n, batch, "operand A does not broadcast per item", err);
        if (!bb && b->ndim == y->ndim && b->dims[0] != 1)
            return batch_fail(g, n, batch, "operand B does not broadcast per item", err);
        break;
    }
    default:
        return batch_fail(g, n, batch, "its batch behaviour is not proven (not implemented)",
                          err);
    }
    for (int j = 0; j < n->n_out; j++)
        if (n->out[j] >= 0) bat[n->out[j]] = true;
    return 0;
}

int cvb__graph_finalize(struct cvb_graph *g, int imgsz, int batch, struct cvb_err *err) {
    bool *bat = NULL;
    int rc = fix_inputs(g, imgsz, batch, err);
    if (rc < 0) goto out;
    rc = topo_sort(g, err);
    if (rc < 0) goto out;
    if (batch > 1) {
        /* room for the rewritten Reshape shapes, one per node at most */
        bat = calloc((size_t)g->n_tensors + (size_t)g->n_nodes + 1, sizeof *bat);
        if (bat == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
            goto out;
        }
        bat[g->inputs[0]] = true;
    }
    uint64_t folded = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        struct cvb_node *n = &g->nodes[i];
        const struct cvb_op_def *def = &cvb__op_defs[n->op];
        if (def->infer == NULL || def->ref == NULL) {
            rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: node '%s': op '%s' is not implemented",
                             g->path, n->name, cvb__op_name(n->op));
            goto out;
        }
        if (n->op == CVB_OP_SHAPE && n->n_in >= 1 && n->in[0] >= 0 && n->n_out >= 1 &&
            n->out[0] >= 0 && !g->tensors[n->in[0]].dyn) {
            rc = fold_shape(g, n, err);
            if (rc < 0) goto out;
            g->tensors[n->out[0]].producer = -1;
            n->dead = true;
            continue;
        }
        if (bat != NULL) {
            rc = batch_rewrite_reshape(g, n, batch, bat, err);
            if (rc < 0) goto out;
        }
        rc = def->infer(g, n, err);
        bool exposed = false;
        if (rc < 0 && any_input(g, n, true)) {
            struct cvb_err e2 = {0};
            expose_bounds(g, n, true);
            int rc2 = def->infer(g, n, &e2);
            expose_bounds(g, n, false);
            if (rc2 == 0) rc = 0, exposed = true;
        }
        if (rc < 0) {
            /* every load error names the model file */
            if (err != NULL && strstr(err->msg, g->path) == NULL) cvb_err_prefix(err, "%s", g->path);
            goto out;
        }
        bool all_const = true;
        for (int j = 0; j < n->n_out; j++) {
            if (n->out[j] >= 0 && !g->tensors[n->out[j]].shape_known) {
                rc = cvb_err_set(err, CVB_EINTERNAL,
                                 "%s: node '%s' (%s): shape inference left output %d unknown",
                                 g->path, n->name, cvb__op_name(n->op), j);
                goto out;
            }
        }
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && g->tensors[n->in[j]].data == NULL) all_const = false;
        /* NonZero's inference is exact on a constant; NonMaxSuppression's is
         * a bound, so it always runs */
        if (n->op == CVB_OP_NON_MAX_SUPPRESSION) all_const = false;
        if (exposed || any_input(g, n, false) || (!all_const && cvb__op_data_dependent(n->op)))
            for (int j = 0; j < n->n_out; j++)
                if (n->out[j] >= 0) g->tensors[n->out[j]].dyn = true;
        if (!all_const) {
            rc = bound_values(g, n, err);
            if (rc < 0) {
                if (err != NULL && strstr(err->msg, g->path) == NULL)
                    cvb_err_prefix(err, "%s", g->path);
                goto out;
            }
        }
        if (all_const) {
            rc = fold_node(g, n, &folded, false, err);
            if (rc < 0) {
                if (err != NULL && strstr(err->msg, g->path) == NULL)
                    cvb_err_prefix(err, "%s", g->path);
                goto out;
            }
        } else if (bat != NULL) {
            rc = batch_check(g, n, batch, bat, err);
            if (rc < 0) goto out;
        }
    }
    for (int i = 0; i < g->n_outputs; i++) {
        const struct cvb_tensor *t = &g->tensors[g->outputs[i]];
        if (!t->shape_known) {
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: graph output '%s' has no known shape",
                             g->path, t->name);
            goto out;
        }
        if (bat != NULL && !bat[g->outputs[i]]) {
            rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                             "%s: batch %d is not supported: graph output '%s' does not carry "
                             "the batch in dim 0; run this model at batch 1",
                             g->path, batch, t->name);
            goto out;
        }
    }
    rc = 0;
out:
    free(bat);
    return rc;
}
