/* SPDX-License-Identifier: Apache-2.0 */
/* The engine: a finalized graph plus an execution plan.
 *
 * Load = parse (onnx.c) + finalize (finalize.c) + plan (here): each live
 * node gets a kernel (a oneDNN primitive prepared once, or the reference
 * kernel), and every run-time tensor gets an offset in one arena sized by
 * tensor lifetimes. cvb_engine_run() only points kernels at buffers and
 * calls them: it never allocates.
 *
 * Buffer rule: a tensor's lifetime is [index of its producer, index of its
 * last live consumer]; two tensors may share arena bytes only when their
 * lifetimes are disjoint, so a kernel never sees an output aliasing one of
 * its inputs. Graph outputs produced by a node are written straight into
 * the caller's buffers; graph inputs are read from the caller's buffers. */
#include "cvb/engine.h"
#include "engine/ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARENA_ALIGN 64
#define NO_OFFSET SIZE_MAX
/* Beyond this many tensors, first-fit placement (quadratic) is skipped and
 * every tensor gets its own range. */
#define MAX_SHARED_PLAN 20000

enum node_kind { KIND_REF = 0, KIND_DNN };

struct node_plan {
    enum node_kind kind;
    void *state; /* oneDNN state, owned; released with cvb__dnn_release */
};

struct cvb_engine {
    struct cvb_graph *g;
    struct cvb_engine_opts opts;
    struct cvb__dnn *dnn;
    struct node_plan *plan;   /* per node */
    size_t *offset;           /* per tensor arena offset or NO_OFFSET */
    void **buf;               /* per tensor data pointer during a run */
    uint8_t *arena;
    size_t arena_bytes;
    int max_io;
    const struct cvb_tensor **tin, **tout;
    const void **in;
    void **out;
    int n_dnn;
    cvb_engine_observer observer;
    void *observer_user;
    struct cvb_model_info info;
};

static size_t align_up(size_t v) { return (v + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN; }

struct interval {
    int t;
    int first, last;
    size_t bytes;
};

static int cmp_by_size_desc(const void *a, const void *b) {
    const struct interval *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->t - y->t;
}

/* Place every run-time tensor in the arena by first fit over lifetimes. */
static int plan_memory(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    int rc = 0;
    int *first = malloc((size_t)g->n_tensors * sizeof *first + 1);
    int *last = malloc((size_t)g->n_tensors * sizeof *last + 1);
    struct interval *iv = malloc((size_t)g->n_tensors * sizeof *iv + 1);
    struct interval *placed = malloc((size_t)g->n_tensors * sizeof *placed + 1);
    size_t *poff = malloc((size_t)g->n_tensors * sizeof *poff + 1);
    if (first == NULL || last == NULL || iv == NULL || placed == NULL || poff == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory planning buffers", g->path);
        goto out;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        first[t] = -1;
        last[t] = -1;
        e->offset[t] = NO_OFFSET;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_out; j++)
            if (n->out[j] >= 0 && first[n->out[j]] < 0) first[n->out[j]] = last[n->out[j]] = i;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) last[n->in[j]] = i;
    }
    int n_iv = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        const struct cvb_tensor *tt = &g->tensors[t];
        if (first[t] < 0 || tt->data != NULL || tt->is_input || tt->is_output) continue;
        iv[n_iv++] = (struct interval){t, first[t], last[t], align_up(cvb__tensor_bytes(tt))};
    }
    qsort(iv, (size_t)n_iv, sizeof *iv, cmp_by_size_desc);
    size_t total = 0;
    for (int k = 0; k < n_iv; k++) {
        size_t off = 0;
        if (n_iv <= MAX_SHARED_PLAN) {
            /* lowest offset that clears every placed, lifetime-overlapping range */
            bool moved = true;
            while (moved) {
                moved = false;
                for (int p = 0; p < k; p++) {
                    if (placed[p].last < iv[k].first || placed[p].first > iv[k].last) continue;
                    if (off < poff[p] + placed[p].bytes && poff[p] < off + iv[k].bytes) {
                        off = poff[p] + placed[p].bytes;
                        moved = true;
                    }
                }
            }
        } else {
            off = total;
        }
        placed[k] = iv[k];
        poff[k] = off;
        e->offset[iv[k].t] = off;
        if (off + iv[k].bytes > total) total = off + iv[k].bytes;
    }
    e->arena_bytes = total;
    e->arena = aligned_alloc(ARENA_ALIGN, total ? total : ARENA_ALIGN);
    if (e->arena == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %zu bytes of activations", g->path,
                         total);
        goto out;
    }
    memset(e->arena, 0, total);
    for (int t = 0; t < g->n_tensors; t++) {
        if (g->tensors[t].data != NULL)
            e->buf[t] = g->tensors[t].data;
        else if (e->offset[t] != NO_OFFSET)
            e->buf[t] = e->arena + e->offset[t];
    }
out:
    free(first);
    free(last);
    free(iv);
    free(placed);
    free(poff);
    return rc;
}

static void compute_info(struct cvb_engine *e) {
    const struct cvb_graph *g = e->g;
    struct cvb_model_info *info = &e->info;
    memset(info, 0, sizeof *info);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        info->n_nodes++;
        if (!n->dead) info->n_live_nodes++;
        const char *name = cvb__op_name(n->op);
        int k;
        for (k = 0; k < info->n_ops; k++)
            if (strcmp(info->op_names[k], name) == 0) break;
        if (k == info->n_ops && k < (int)CVB_ARRAY_LEN(info->op_names)) {
            info->op_names[k] = name;
            info->n_ops++;
        }
        if (k < info->n_ops) info->op_counts[k]++;
        if (n->dead) continue;
        if (n->op == CVB_OP_CONV && n->n_in >= 2 && n->n_out >= 1 && n->out[0] >= 0) {
            const struct cvb_tensor *w = &g->tensors[n->in[1]];
            const struct cvb_tensor *y = &g->tensors[n->out[0]];
            if (w->data != NULL) info->n_params += w->numel;
            if (n->n_in >= 3 && n->in[2] >= 0 && g->tensors[n->in[2]].data != NULL)
                info->n_params += g->tensors[n->in[2]].numel;
            /* MACs: every output element reads (Cin/group) x kernel-area weights */
            int64_t per_out = 1;
            for (int d = 1; d < w->ndim; d++) per_out *= w->dims[d];
            info->flops += 2.0 * (double)y->numel * (double)per_out;
        } else if (n->op == CVB_OP_MATMUL && n->n_in >= 2 && n->n_out >= 1 && n->out[0] >= 0) {
            const struct cvb_tensor *a = &g->tensors[n->in[0]];
            const struct cvb_tensor *b = &g->tensors[n->in[1]];
            const struct cvb_tensor *y = &g->tensors[n->out[0]];
            int64_t kdim = a->ndim >= 1 ? a->dims[a->ndim - 1] : 1;
            info->flops += 2.0 * (double)y->numel * (double)kdim;
            if (b->data != NULL) info->n_params += b->numel;
            if (a->data != NULL) info->n_params += a->numel;
        }
    }
    info->activation_bytes = (int64_t)e->arena_bytes;
    info->opset = g->opset;
    info->synthetic = g->synthetic;
    info->producer = g->producer;
}

static int prepare(struct cvb_engine *e, struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    e->plan = calloc((size_t)g->n_nodes + 1, sizeof *e->plan);
    e->offset = calloc((size_t)g->n_tensors + 1, sizeof *e->offset);
    e->buf = calloc((size_t)g->n_tensors + 1, sizeof *e->buf);
    if (e->plan == NULL || e->offset == NULL || e->buf == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    int max_io = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > max_io) max_io = g->nodes[i].n_in;
        if (g->nodes[i].n_out > max_io) max_io = g->nodes[i].n_out;
    }
    e->max_io = max_io;
    e->tin = calloc((size_t)max_io, sizeof *e->tin);
    e->tout = calloc((size_t)max_io, sizeof *e->tout);
    e->in = calloc((size_t)max_io, sizeof *e->in);
    e->out = calloc((size_t)max_io, sizeof *e->out);
    if (e->tin == NULL || e->tout == NULL || e->in == NULL || e->out == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", g->path);
    int rc = plan_memory(e, err);
    if (rc < 0) return rc;
    if (e->opts.kernels == CVB_KERNELS_ONEDNN) {
        rc = cvb__dnn_new(&e->dnn, e->opts.threads, err);
        if (rc < 0) return rc;
        for (int i = 0; i < g->n_nodes; i++) {
            if (g->nodes[i].dead) continue;
            void *state = NULL;
            struct cvb_err perr = {0};
            rc = cvb__dnn_prepare(e->dnn, g, &g->nodes[i], &state, &perr);
            if (rc == 0) {
                e->plan[i].kind = KIND_DNN;
                e->plan[i].state = state;
                e->n_dnn++;
            } else if (rc == CVB_EUNSUPPORTED) {
                cvb_log_debug("%s: node '%s' (%s) runs on the reference kernel: %s", g->path,
                              g->nodes[i].name, cvb__op_name(g->nodes[i].op), perr.msg);
            } else {
                *err = perr;
                return rc;
            }
        }
    }
    compute_info(e);
    return 0;
}

int cvb_engine_load_buffer(const void *buf, size_t len, const char *name,
                           const struct cvb_engine_opts *opts, struct cvb_engine **out,
                           struct cvb_err *err) {
    int rc = 0;
    struct cvb_engine *e = NULL;
    *out = NULL;
    e = calloc(1, sizeof *e);
    if (e == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    if (opts != NULL) e->opts = *opts;
    if (e->opts.imgsz < 0 || e->opts.imgsz > 16384 || (e->opts.imgsz % 32) != 0) {
        rc = cvb_err_set(err, CVB_EINVAL, "imgsz %d is invalid: it must be a multiple of 32 in "
                         "32..16384", e->opts.imgsz);
        goto out;
    }
    rc = cvb__onnx_parse(buf, len, name, &e->g, err);
    if (rc < 0) goto out;
    rc = cvb__graph_finalize(e->g, e->opts.imgsz, err);
    if (rc < 0) goto out;
    rc = prepare(e, err);
    if (rc < 0) goto out;
    *out = e;
    e = NULL;
out:
    cvb_engine_free(e);
    return rc;
}

int cvb_engine_load(const char *path, const struct cvb_engine_opts *opts,
                    struct cvb_engine **out, struct cvb_err *err) {
    void *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = cvb_read_file(path, CVB_MODEL_MAX_BYTES, &buf, &len, err);
    if (rc < 0) return rc;
    rc = cvb_engine_load_buffer(buf, len, path, opts, out, err);
    free(buf);
    return rc;
}

void cvb_engine_free(struct cvb_engine *e) {
    if (e == NULL) return;
    if (e->plan != NULL && e->g != NULL)
        for (int i = 0; i < e->g->n_nodes; i++)
            if (e->plan[i].kind == KIND_DNN) cvb__dnn_release(e->plan[i].state);
    cvb__dnn_free(e->dnn);
    free(e->plan);
    free(e->offset);
    free(e->buf);
    free(e->arena);
    free(e->tin);
    free(e->tout);
    free(e->in);
    free(e->out);
    cvb__graph_free(e->g);
    free(e);
}

int cvb_engine_n_inputs(const struct cvb_engine *e) { return e->g->n_inputs; }
int cvb_engine_n_outputs(const struct cvb_engine *e) { return e->g->n_outputs; }

static void fill_info(const struct cvb_tensor *t, struct cvb_tensor_info *info) {
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = cvb__dtype_name(t->dtype);
    info->ndim = t->ndim;
    for (int d = 0; d < t->ndim; d++) info->dims[d] = t->dims[d];
    info->numel = t->numel;
    info->bytes = cvb__tensor_bytes(t);
}

int cvb_engine_input_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info) {
    if (i < 0 || i >= e->g->n_inputs) return CVB_EINVAL;
    fill_info(&e->g->tensors[e->g->inputs[i]], info);
    return 0;
}

int cvb_engine_output_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info) {
    if (i < 0 || i >= e->g->n_outputs) return CVB_EINVAL;
    fill_info(&e->g->tensors[e->g->outputs[i]], info);
    return 0;
}

void cvb_engine_set_observer(struct cvb_engine *e, cvb_engine_observer fn, void *user) {
    e->observer = fn;
    e->observer_user = user;
}

int cvb_engine_model_info(const struct cvb_engine *e, struct cvb_model_info *info) {
    *info = e->info;
    return 0;
}

int cvb_engine_n_onednn_nodes(const struct cvb_engine *e) { return e->n_dnn; }

int cvb_engine_run(struct cvb_engine *e, const void *const *inputs, void *const *outputs,
                   struct cvb_err *err) {
    struct cvb_graph *g = e->g;
    for (int i = 0; i < g->n_inputs; i++) e->buf[g->inputs[i]] = (void *)inputs[i];
    for (int i = 0; i < g->n_outputs; i++) {
        const struct cvb_tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer >= 0 && !t->is_input) e->buf[g->outputs[i]] = outputs[i];
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++) {
            int t = n->in[j];
            e->tin[j] = t >= 0 ? &g->tensors[t] : NULL;
            e->in[j] = t >= 0 ? e->buf[t] : NULL;
        }
        for (int j = 0; j < n->n_out; j++) {
            int t = n->out[j];
            e->tout[j] = t >= 0 ? &g->tensors[t] : NULL;
            e->out[j] = t >= 0 ? e->buf[t] : NULL;
        }
        struct cvb_kctx k = {.g = g, .node = n, .tin = e->tin, .tout = e->tout,
                             .in = e->in, .out = e->out};
        int rc = e->plan[i].kind == KIND_DNN ? cvb__dnn_run(e->dnn, e->plan[i].state, &k, err)
                                             : cvb__op_defs[n->op].ref(&k, err);
        if (rc < 0) return rc;
        if (e->observer != NULL && n->n_out >= 1 && n->out[0] >= 0 &&
            g->tensors[n->out[0]].dtype == CVB_DT_F32) {
            const struct cvb_tensor *t = &g->tensors[n->out[0]];
            e->observer(e->observer_user, n->name, cvb__op_name(n->op), e->buf[n->out[0]],
                        t->ndim, t->dims);
        }
    }
    /* outputs that no node produced at run time: constants or pass-through inputs */
    for (int i = 0; i < g->n_outputs; i++) {
        const struct cvb_tensor *t = &g->tensors[g->outputs[i]];
        if (t->producer >= 0 && !t->is_input) continue;
        const void *src = t->data != NULL ? t->data : e->buf[g->outputs[i]];
        if (src != outputs[i]) memcpy(outputs[i], src, cvb__tensor_bytes(t));
    }
    return 0;
}
