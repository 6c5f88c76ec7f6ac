/* SPDX-License-Identifier: Apache-2.0 */
/* Post-training static quantisation: the scheme (quant.h), calibration,
 * the calibration file and QDQ ONNX export (the detection-level F1 the
 * guard reports is src/detect/match.c).
 *
 * Calibration picks the quantised Convs on the fused oneDNN engine (the
 * selection depends on fusion: see quant.h) and runs the frames on a second,
 * unfused oneDNN engine of the same model (u8 NHWC frames, plain layouts),
 * where each Conv's output is a materialised tensor (the fused engine only
 * has it after the SiLU). An engine tap sees each node's inputs just before
 * it runs; for every quantised Conv it widens [min, max] of the Conv's input
 * 0 (what the int8 engine uses) and of the Conv's own output, pre-activation
 * (what the QDQ export needs: ONNX Runtime fuses DequantizeLinear -> Conv ->
 * QuantizeLinear into QLinearConv only when the Conv output is quantised).
 * The unfused run costs ~2x the fused one per frame. Method: min/max over
 * all frames. Why not a
 * percentile or entropy: calibration sets are small (tens of frames), the
 * activations are post-SiLU (bounded below by -0.28, no long negative tail)
 * and YOLO's strongest detections ride on the largest activations, which a
 * percentile clips; min/max is also what ONNX Runtime's quantiser does by
 * default, so QDQ exports compare like with like.
 *
 * Calibration file (text, UTF-8, one record per line, '#' comments):
 *   cvbench-calib 1
 *   model_sha256 <64 hex>
 *   method minmax
 *   imgsz <S>
 *   frames <N>
 *   conv <node name> <input tensor name> <min> <max> <scale> <zero point>
 *   convout <node name> <output tensor name> <min> <max> <scale> <zero point>
 * A 'convout' record (the Conv's pre-activation output range; written since
 * the QDQ export quantises conv outputs) follows its node's 'conv' record.
 * It is optional: files without it (older ones) load unchanged, as the
 * int8 engine reads only 'conv'; readers ignore unknown keys, so older
 * readers accept newer files and the version stays 1.
 * Names may not contain white space (refused when writing).
 *
 * QDQ export: per quantised Conv, QuantizeLinear/DequantizeLinear (u8) on
 * input 0, DequantizeLinear on the s8 per-channel weights and the int32 bias
 * (scale x_scale*w_scale, zero point 0), and QuantizeLinear/Dequantize-
 * Linear (u8, per tensor) on the Conv's output before its activation: the
 * standard QDQ form ONNX Runtime turns into QLinearConv. The int8 engine
 * rounds differently: it applies the SiLU in float and writes uint8 with the
 * reader's input scale (engine.c, plan_u8), so the export rounds once more
 * per layer (the pre-activation output) than cvbench int8 does. The export
 * keeps the stem in float32; cvbench int8 quantises it too when it is fed
 * uint8 frames (cvb__quant_select_frame). */
#include "cvb/engine.h"
#include "engine/kernels/onednn/dnn.h"
#include "engine/quant.h"
#include "onnx.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALIB_MAX_BYTES ((size_t)16 << 20)

/* ---- precision names ----------------------------------------------------------- */

const char *cvb_precision_name(enum cvb_precision p) {
    switch (p) {
    case CVB_PRECISION_FP32: return "fp32";
    case CVB_PRECISION_BF16: return "bf16";
    case CVB_PRECISION_INT8: return "int8";
    }
    return "unknown";
}

int cvb_precision_parse(const char *s, enum cvb_precision *out) {
    if (s == NULL) return CVB_EINVAL;
    if (strcmp(s, "fp32") == 0) *out = CVB_PRECISION_FP32;
    else if (strcmp(s, "bf16") == 0) *out = CVB_PRECISION_BF16;
    else if (strcmp(s, "int8") == 0) *out = CVB_PRECISION_INT8;
    else return CVB_EINVAL;
    return 0;
}

/* ---- the scheme ------------------------------------------------------------------ */

void cvb__quant_weights(const float *w, int64_t oc, int64_t per, int8_t *q, float *scales) {
    for (int64_t o = 0; o < oc; o++) {
        const float *wo = w + o * per;
        float mx = 0.f;
        for (int64_t k = 0; k < per; k++) mx = fmaxf(mx, fabsf(wo[k]));
        float s = mx > 0.f ? mx / 127.f : 1.f;
        scales[o] = s;
        for (int64_t k = 0; k < per; k++) {
            float v = nearbyintf(wo[k] / s);
            q[o * per + k] = (int8_t)(v > 127.f ? 127 : v < -127.f ? -127 : v);
        }
    }
}

void cvb__quant_weights_fit(const float *w, int64_t oc, int64_t per, int8_t *q, float *scales) {
    for (int64_t o = 0; o < oc; o++) {
        const float *wo = w + o * per;
        float mx = 0.f;
        for (int64_t k = 0; k < per; k++) mx = fmaxf(mx, fabsf(wo[k]));
        float best_s = 1.f;
        double best_e = INFINITY;
        /* from 127 down: a tie keeps the wider grid */
        for (int top = 127; mx > 0.f && top >= 64; top--) {
            float s = mx / (float)top;
            double e = 0;
            for (int64_t k = 0; k < per && e < best_e; k++) {
                float v = nearbyintf(wo[k] / s);
                v = v > 127.f ? 127.f : v < -127.f ? -127.f : v;
                double d = (double)wo[k] - (double)v * s;
                e += d * d;
            }
            if (e < best_e) {
                best_e = e;
                best_s = s;
            }
        }
        scales[o] = best_s;
        for (int64_t k = 0; k < per; k++) {
            float v = nearbyintf(wo[k] / best_s);
            q[o * per + k] = (int8_t)(v > 127.f ? 127 : v < -127.f ? -127 : v);
        }
    }
}

void cvb__quant_act_params(float lo, float hi, float *scale, int32_t *zp) {
    if (!(lo < 0.f)) lo = 0.f;
    if (!(hi > 0.f)) hi = 0.f;
    float s = (hi - lo) / 255.f;
    if (!(s > 0.f) || !isfinite(s)) s = 1.f;
    float z = nearbyintf(-lo / s);
    *scale = s;
    *zp = (int32_t)(z < 0.f ? 0 : z > 255.f ? 255 : z);
}

/* to_out[t]: tensor t reaches a graph output through non-Conv nodes only
 * (g->n_tensors entries; NULL when out of memory). */
static bool *reaches_output(const struct cvb_graph *g) {
    bool *to_out = calloc((size_t)g->n_tensors + 1, sizeof *to_out);
    if (to_out == NULL) return NULL;
    for (int i = 0; i < g->n_outputs; i++) to_out[g->outputs[i]] = true;
    /* reverse topological order: a tensor reaches an output without a Conv
     * when some non-Conv consumer's output does */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead || n->op == CVB_OP_CONV) continue;
        bool any = false;
        for (int j = 0; j < n->n_out; j++) any |= n->out[j] >= 0 && to_out[n->out[j]];
        if (any)
            for (int j = 0; j < n->n_in; j++)
                if (n->in[j] >= 0) to_out[n->in[j]] = true;
    }
    return to_out;
}

/* Is live node i a Conv that may be quantised, its input channel count
 * aside? 2-D, batch 1, float32, constant weights, no groups (with
 * 'grouped': groups), and not a head output conv. */
static bool conv_candidate_g(const struct cvb_graph *g, const struct cvb__fusion *f,
                             const bool *to_out, int i, bool grouped) {
    const struct cvb_node *n = &g->nodes[i];
    if (n->dead || n->op != CVB_OP_CONV || n->n_in < 2 || n->n_out < 1 || n->out[0] < 0 ||
        n->in[0] < 0 || n->in[1] < 0)
        return false;
    const struct cvb_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    if (x->dtype != CVB_DT_F32 || x->ndim != 4 || x->dims[0] < 1 || w->data == NULL ||
        w->dtype != CVB_DT_F32 || x->data != NULL || (cvb__attr_int(n, "group", 1) != 1) != grouped)
        return false;
    unsigned post = f != NULL ? f[i].post : 0;
    bool act = (post & (CVB__POST_SWISH | CVB__POST_RELU)) != 0;
    return !(to_out[n->out[0]] && !act); /* head output conv / DFL */
}

static bool conv_candidate(const struct cvb_graph *g, const struct cvb__fusion *f,
                           const bool *to_out, int i) {
    return conv_candidate_g(g, f, to_out, i, false);
}

int cvb__quant_select_grouped(const struct cvb_graph *g, const struct cvb__fusion *f, bool *sel) {
    int n_sel = 0;
    for (int i = 0; i < g->n_nodes; i++) sel[i] = false;
    bool *to_out = reaches_output(g);
    if (to_out == NULL) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        sel[i] = conv_candidate_g(g, f, to_out, i, true);
        n_sel += sel[i];
    }
    free(to_out);
    return n_sel;
}

int cvb__quant_select(const struct cvb_graph *g, const struct cvb__fusion *f, bool *sel) {
    int n_sel = 0;
    for (int i = 0; i < g->n_nodes; i++) sel[i] = false;
    bool *to_out = reaches_output(g);
    if (to_out == NULL) return 0; /* nothing quantised: still correct */
    for (int i = 0; i < g->n_nodes; i++) {
        if (!conv_candidate(g, f, to_out, i)) continue;
        /* a stem conv over 1-4 image channels: int8 kernels run it at ~11
         * GFLOP/s (brgconv, IC 3) vs ~30 in fp32, and its input is exact
         * (with a uint8 frame input it is quantised after all:
         * cvb__quant_select_frame) */
        if (g->tensors[g->nodes[i].in[0]].dims[1] < 8) continue;
        sel[i] = true;
        n_sel++;
    }
    free(to_out);
    return n_sel;
}

int cvb__quant_select_frame(const struct cvb_graph *g, const struct cvb__fusion *f, int input,
                            bool *sel) {
    int n_sel = 0;
    bool ok = true;
    for (int i = 0; i < g->n_nodes; i++) sel[i] = false;
    if (input < 0 || input >= g->n_tensors) return 0;
    bool *to_out = reaches_output(g);
    if (to_out == NULL) return 0;
    for (int i = 0; i < g->n_nodes && ok; i++) {
        const struct cvb_node *n = &g->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in && ok; j++) {
            if (n->in[j] != input) continue;
            /* input 0 of a candidate Conv without a fused sum (a sum reads
             * its addend as float32, and its own input is then float32 too) */
            ok = j == 0 && conv_candidate(g, f, to_out, i) &&
                 !(f != NULL && (f[i].post & CVB__POST_SUM));
            if (ok && !sel[i]) {
                sel[i] = true;
                n_sel++;
            }
        }
    }
    free(to_out);
    if (!ok) {
        for (int i = 0; i < g->n_nodes; i++) sel[i] = false;
        n_sel = 0;
    }
    return n_sel;
}

/* ---- calibration file ------------------------------------------------------------- */

void cvb__calib_table_cleanup(struct cvb__calib_table *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->n; i++) {
        free(t->e[i].node);
        free(t->e[i].tensor);
        free(t->e[i].out_tensor);
    }
    free(t->e);
    memset(t, 0, sizeof *t);
}

const struct cvb__calib_entry *cvb__calib_find(const struct cvb__calib_table *t, const char *node) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->e[i].node, node) == 0) return &t->e[i];
    return NULL;
}

int cvb__calib_load(const char *path, const char *model_sha256, struct cvb__calib_table *t,
                    struct cvb_err *err) {
    char *buf = NULL;
    size_t len = 0;
    int rc = 0, line_no = 0, cap = 0;
    bool header = false;
    memset(t, 0, sizeof *t);
    rc = cvb_read_file(path, CALIB_MAX_BYTES, (void **)&buf, &len, err);
    if (rc < 0) goto out;
    char *tmp = realloc(buf, len + 1);
    if (tmp == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    buf = tmp;
    buf[len] = '\0';
    for (char *line = buf, *next; line != NULL && *line != '\0'; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) *next++ = '\0';
        line_no++;
        if (line[0] == '#' || line[strspn(line, " \t\r")] == '\0') continue;
        char key[32], a[512], b[512];
        if (!header) {
            int ver = 0;
            if (sscanf(line, "cvbench-calib %d", &ver) != 1 || ver != 1) {
                rc = cvb_err_set(err, CVB_EFORMAT, "%s:%d: not a cvbench calibration file "
                                 "(expected 'cvbench-calib 1')", path, line_no);
                goto out;
            }
            header = true;
            continue;
        }
        if (sscanf(line, "%31s", key) != 1) continue;
        if (strcmp(key, "model_sha256") == 0) {
            if (sscanf(line, "%*s %64s", t->model_sha256) != 1) goto bad;
        } else if (strcmp(key, "method") == 0) {
            if (sscanf(line, "%*s %31s", t->method) != 1) goto bad;
        } else if (strcmp(key, "imgsz") == 0) {
            if (sscanf(line, "%*s %d", &t->imgsz) != 1) goto bad;
        } else if (strcmp(key, "frames") == 0) {
            if (sscanf(line, "%*s %d", &t->n_frames) != 1) goto bad;
        } else if (strcmp(key, "convout") == 0) {
            float lo, hi, sc;
            int zp;
            if (sscanf(line, "%*s %511s %511s %g %g %g %d", a, b, &lo, &hi, &sc, &zp) != 6 ||
                !(sc > 0.f) || !isfinite(sc) || zp < 0 || zp > 255)
                goto bad;
            struct cvb__calib_entry *ce = NULL;
            for (int k = 0; k < t->n; k++)
                if (strcmp(t->e[k].node, a) == 0) ce = &t->e[k];
            if (ce == NULL || ce->has_out) {
                rc = cvb_err_set(err, CVB_EFORMAT, "%s:%d: 'convout %s' without a preceding "
                                 "'conv %s' record, or repeated", path, line_no, a, a);
                goto out;
            }
            if ((ce->out_tensor = strdup(b)) == NULL) {
                rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            ce->has_out = true;
            ce->out_lo = lo;
            ce->out_hi = hi;
            ce->out_scale = sc;
            ce->out_zp = zp;
        } else if (strcmp(key, "conv") == 0) {
            struct cvb__calib_entry ce = {0};
            if (sscanf(line, "%*s %511s %511s %g %g %g %d", a, b, &ce.lo, &ce.hi, &ce.scale,
                       &ce.zp) != 6 ||
                !(ce.scale > 0.f) || !isfinite(ce.scale) || ce.zp < 0 || ce.zp > 255)
                goto bad;
            if (t->n == cap) {
                int nc = cap ? 2 * cap : 64;
                struct cvb__calib_entry *ne = realloc(t->e, (size_t)nc * sizeof *ne);
                if (ne == NULL || nc > 1000000) {
                    free(ne == t->e ? NULL : ne);
                    rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
                    goto out;
                }
                t->e = ne;
                cap = nc;
            }
            ce.node = strdup(a);
            ce.tensor = strdup(b);
            if (ce.node == NULL || ce.tensor == NULL) {
                free(ce.node);
                free(ce.tensor);
                rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            t->e[t->n++] = ce;
        } /* unknown keys: ignored (forward compatible) */
        continue;
    bad:
        rc = cvb_err_set(err, CVB_EFORMAT, "%s:%d: malformed '%s' record", path, line_no, key);
        goto out;
    }
    if (!header || strlen(t->model_sha256) != 64) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a cvbench calibration file (no header or "
                         "no model_sha256)", path);
        goto out;
    }
    if (model_sha256 != NULL && strcmp(model_sha256, t->model_sha256) != 0) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "%s was made for another model (SHA-256 %.16s..., this model is "
                         "%.16s...): calibrate this model with `cvbench model calibrate`",
                         path, t->model_sha256, model_sha256);
        goto out;
    }
out:
    free(buf);
    if (rc < 0) cvb__calib_table_cleanup(t);
    return rc;
}

/* ---- calibrator ------------------------------------------------------------------ */

struct cvb_calib {
    struct cvb_engine *e;  /* fused: selection, weights, names, SHA-256 */
    struct cvb_engine *eu; /* unfused (no_fusion): runs the frames */
    char *model_path;
    int imgsz;
    int n_frames;
    bool *sel;        /* per node of e's graph */
    float *lo, *hi;   /* per node of e: input 0 range */
    float *olo, *ohi; /* per node of e: output range (pre-activation) */
    int *oseen;       /* per node of e: frame whose output was last scanned */
    int *u_node;      /* per node of eu: the selected node of e of that name, or -1 */
    int *u_prod;      /* per tensor of eu: the selected node of e producing it, or -1 */
    char **out_name;  /* per node of e: its output tensor name in eu (not owned) */
    int n_sel;
    float *out;       /* output 0 buffer */
};

static void minmax(const float *x, int64_t n, float *lo, float *hi) {
    float l = *lo, h = *hi;
    for (int64_t k = 0; k < n; k++) {
        l = fminf(l, x[k]);
        h = fmaxf(h, x[k]);
    }
    *lo = l;
    *hi = h;
}

/* Tap on the unfused engine 'eu' (graph 'g' is eu's). */
static void calib_tap(void *user, const struct cvb_graph *g, int node, const void *const *in) {
    struct cvb_calib *c = user;
    const struct cvb_node *n = &g->nodes[node];
    int i = c->u_node[node];
    if (i >= 0 && in[0] != NULL && n->in[0] >= 0)
        minmax(in[0], g->tensors[n->in[0]].numel, &c->lo[i], &c->hi[i]);
    for (int j = 0; j < n->n_in; j++) {
        int t = n->in[j];
        if (t < 0 || in[j] == NULL || (i = c->u_prod[t]) < 0 || c->oseen[i] == c->n_frames)
            continue;
        c->oseen[i] = c->n_frames; /* Sigmoid and Mul both read it: scan once */
        minmax(in[j], g->tensors[t].numel, &c->olo[i], &c->ohi[i]);
    }
}

int cvb_calib_new(const char *model_path, int imgsz, int threads, struct cvb_calib **out,
                  struct cvb_err *err) {
    int rc = 0;
    struct cvb_calib *c = calloc(1, sizeof *c);
    *out = NULL;
    if (c == NULL) return cvb_err_set(err, CVB_ENOMEM, "out of memory");
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .imgsz = imgsz, .threads = threads,
                                .input_format = CVB_INPUT_U8_NHWC};
    rc = cvb_engine_load(model_path, &o, &c->e, err);
    if (rc < 0) goto out;
    const struct cvb_graph *g = cvb__engine_graph(c->e);
    struct cvb_tensor_info ii, oi;
    cvb_engine_input_info(c->e, 0, &ii);
    cvb_engine_output_info(c->e, 0, &oi);
    if (ii.ndim != 4 || ii.dims[1] != ii.dims[2] || ii.dims[3] != 3) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: calibration needs a square 3-channel image "
                         "input", model_path);
        goto out;
    }
    c->imgsz = (int)ii.dims[1];
    c->model_path = strdup(model_path);
    c->sel = calloc((size_t)g->n_nodes + 1, sizeof *c->sel);
    c->lo = malloc(((size_t)g->n_nodes + 1) * sizeof *c->lo);
    c->hi = malloc(((size_t)g->n_nodes + 1) * sizeof *c->hi);
    c->olo = malloc(((size_t)g->n_nodes + 1) * sizeof *c->olo);
    c->ohi = malloc(((size_t)g->n_nodes + 1) * sizeof *c->ohi);
    c->oseen = malloc(((size_t)g->n_nodes + 1) * sizeof *c->oseen);
    c->out_name = calloc((size_t)g->n_nodes + 1, sizeof *c->out_name);
    c->out = malloc(oi.bytes ? oi.bytes : 1);
    if (c->model_path == NULL || c->sel == NULL || c->lo == NULL || c->hi == NULL ||
        c->olo == NULL || c->ohi == NULL || c->oseen == NULL || c->out_name == NULL ||
        c->out == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
        goto out;
    }
    c->n_sel = cvb__quant_select(g, cvb__engine_fusion(c->e), c->sel);
    for (int i = 0; i < g->n_nodes; i++) {
        c->lo[i] = c->olo[i] = INFINITY;
        c->hi[i] = c->ohi[i] = -INFINITY;
        c->oseen[i] = -1;
    }
    if (c->n_sel == 0) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: no convolution to quantise", model_path);
        goto out;
    }
    if (cvb_engine_n_outputs(c->e) != 1) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: calibration supports one-output models",
                         model_path);
        goto out;
    }
    o.no_fusion = true;
    rc = cvb_engine_load(model_path, &o, &c->eu, err);
    if (rc < 0) goto out;
    const struct cvb_graph *gu = cvb__engine_graph(c->eu);
    c->u_node = malloc(((size_t)gu->n_nodes + 1) * sizeof *c->u_node);
    c->u_prod = malloc(((size_t)gu->n_tensors + 1) * sizeof *c->u_prod);
    if (c->u_node == NULL || c->u_prod == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
        goto out;
    }
    for (int j = 0; j < gu->n_tensors; j++) c->u_prod[j] = -1;
    for (int j = 0; j < gu->n_nodes; j++) {
        const struct cvb_node *un = &gu->nodes[j];
        c->u_node[j] = -1;
        if (un->dead || un->op != CVB_OP_CONV || un->n_out < 1 || un->out[0] < 0) continue;
        for (int i = 0; i < g->n_nodes; i++)
            if (c->sel[i] && strcmp(g->nodes[i].name, un->name) == 0) {
                c->u_node[j] = i;
                c->u_prod[un->out[0]] = i;
                c->out_name[i] = gu->tensors[un->out[0]].name;
                break;
            }
    }
    cvb__engine_set_tap(c->eu, calib_tap, c);
    *out = c;
    c = NULL;
out:
    cvb_calib_free(c);
    return rc;
}

void cvb_calib_free(struct cvb_calib *c) {
    if (c == NULL) return;
    cvb_engine_free(c->e);
    cvb_engine_free(c->eu);
    free(c->model_path);
    free(c->olo);
    free(c->ohi);
    free(c->oseen);
    free(c->u_node);
    free(c->u_prod);
    free(c->out_name);
    free(c->sel);
    free(c->lo);
    free(c->hi);
    free(c->out);
    free(c);
}

int cvb_calib_imgsz(const struct cvb_calib *c) { return c->imgsz; }
int cvb_calib_n_tensors(const struct cvb_calib *c) { return c->n_sel; }

int cvb_calib_add_frame(struct cvb_calib *c, const uint8_t *frame, struct cvb_err *err) {
    const void *in[1] = {frame};
    void *outs[1] = {c->out};
    int rc = cvb_engine_run(c->eu, in, outs, err);
    if (rc == 0) c->n_frames++;
    return rc;
}

static bool has_space(const char *s) { return strpbrk(s, " \t\r\n") != NULL || *s == '\0'; }

int cvb_calib_save(const struct cvb_calib *c, const char *path, struct cvb_err *err) {
    const struct cvb_graph *g = cvb__engine_graph(c->e);
    int rc = 0;
    FILE *f = NULL;
    if (c->n_frames < 1)
        return cvb_err_set(err, CVB_EINVAL, "%s: no frames were calibrated", c->model_path);
    for (int i = 0; i < g->n_nodes; i++)
        if (c->sel[i] && (has_space(g->nodes[i].name) ||
                          has_space(g->tensors[g->nodes[i].in[0]].name) ||
                          (c->out_name[i] != NULL && has_space(c->out_name[i]))))
            return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: node '%s' or its input has white "
                               "space in its name", c->model_path, g->nodes[i].name);
    f = fopen(path, "w");
    if (f == NULL) return cvb_err_set(err, CVB_EIO, "%s: cannot write: %m", path);
    fprintf(f, "cvbench-calib 1\n# per-tensor u8 activation ranges of the quantised convs' "
            "inputs (conv) and pre-activation outputs (convout, for the QDQ export); weights "
            "are quantised per channel at load\n");
    fprintf(f, "model_sha256 %s\nmethod minmax\nimgsz %d\nframes %d\n",
            cvb__engine_sha256(c->e), c->imgsz, c->n_frames);
    for (int i = 0; i < g->n_nodes; i++) {
        if (!c->sel[i]) continue;
        float s;
        int32_t zp;
        cvb__quant_act_params(c->lo[i], c->hi[i], &s, &zp);
        fprintf(f, "conv %s %s %.9g %.9g %.9g %d\n", g->nodes[i].name,
                g->tensors[g->nodes[i].in[0]].name, (double)c->lo[i], (double)c->hi[i],
                (double)s, (int)zp);
        if (c->out_name[i] == NULL || !(c->olo[i] <= c->ohi[i])) continue; /* never seen */
        cvb__quant_act_params(c->olo[i], c->ohi[i], &s, &zp);
        fprintf(f, "convout %s %s %.9g %.9g %.9g %d\n", g->nodes[i].name, c->out_name[i],
                (double)c->olo[i], (double)c->ohi[i], (double)s, (int)zp);
    }
    if (ferror(f)) rc = cvb_err_set(err, CVB_EIO, "%s: write failed", path);
    if (fclose(f) != 0 && rc == 0) rc = cvb_err_set(err, CVB_EIO, "%s: write failed: %m", path);
    return rc;
}

/* ---- QDQ export ---------------------------------------------------------------------
 * The model file is re-read and unpacked; new nodes and initializers are
 * added by building new pointer arrays that hold the originals plus ours.
 * Everything we allocate is recorded in a pool and freed by us; before the
 * unpacked model is freed its original arrays are put back. */

struct pool {
    void **p;
    size_t n, cap;
};

static void *pool_alloc(struct pool *pl, size_t bytes) {
    if (pl->n == pl->cap) {
        size_t nc = pl->cap ? 2 * pl->cap : 256;
        void **np = realloc(pl->p, nc * sizeof *np);
        if (np == NULL) return NULL;
        pl->p = np;
        pl->cap = nc;
    }
    void *v = calloc(1, bytes ? bytes : 1);
    if (v != NULL) pl->p[pl->n++] = v;
    return v;
}

static char *pool_fmt(struct pool *pl, const char *a, const char *b) {
    size_t l = strlen(a) + strlen(b) + 1;
    char *s = pool_alloc(pl, l);
    if (s != NULL) snprintf(s, l, "%s%s", a, b);
    return s;
}

static void pool_free(struct pool *pl) {
    for (size_t i = 0; i < pl->n; i++) free(pl->p[i]);
    free(pl->p);
}

/* A new initializer 'name' of 'dt' with dims and raw bytes (copied). */
static Onnx__TensorProto *mk_tensor(struct pool *pl, const char *name, int dt, int nd,
                                    const int64_t *dims, const void *data, size_t bytes) {
    Onnx__TensorProto *t = pool_alloc(pl, sizeof *t);
    int64_t *d = pool_alloc(pl, sizeof *d * (size_t)(nd ? nd : 1));
    uint8_t *raw = pool_alloc(pl, bytes);
    char *nm = pool_fmt(pl, name, "");
    if (t == NULL || d == NULL || raw == NULL || nm == NULL) return NULL;
    Onnx__TensorProto init = ONNX__TENSOR_PROTO__INIT;
    *t = init;
    memcpy(d, dims, sizeof *d * (size_t)nd);
    memcpy(raw, data, bytes);
    t->n_dims = (size_t)nd;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = dt;
    t->name = nm;
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = raw;
    return t;
}

static Onnx__NodeProto *mk_node(struct pool *pl, const char *op, const char *name, int n_in,
                                char **in, const char *out, int axis) {
    Onnx__NodeProto *n = pool_alloc(pl, sizeof *n);
    char **ins = pool_alloc(pl, sizeof *ins * (size_t)n_in);
    char **outs = pool_alloc(pl, sizeof *outs);
    if (n == NULL || ins == NULL || outs == NULL) return NULL;
    Onnx__NodeProto init = ONNX__NODE_PROTO__INIT;
    *n = init;
    for (int i = 0; i < n_in; i++) ins[i] = in[i];
    outs[0] = (char *)out;
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    n->op_type = pool_fmt(pl, op, "");
    n->name = pool_fmt(pl, name, "");
    n->domain = pool_fmt(pl, "", "");
    if (n->op_type == NULL || n->name == NULL || n->domain == NULL) return NULL;
    if (axis >= 0) {
        Onnx__AttributeProto *a = pool_alloc(pl, sizeof *a);
        Onnx__AttributeProto **aa = pool_alloc(pl, sizeof *aa);
        if (a == NULL || aa == NULL) return NULL;
        Onnx__AttributeProto ainit = ONNX__ATTRIBUTE_PROTO__INIT;
        *a = ainit;
        a->name = pool_fmt(pl, "axis", "");
        a->has_type = 1;
        a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        a->has_i = 1;
        a->i = axis;
        aa[0] = a;
        n->n_attribute = 1;
        n->attribute = aa;
        if (a->name == NULL) return NULL;
    }
    return n;
}

int cvb_calib_export_qdq(const struct cvb_calib *c, const char *path, struct cvb_err *err) {
    const struct cvb_graph *g = cvb__engine_graph(c->e);
    void *buf = NULL, *packed = NULL;
    size_t len = 0;
    int rc = 0;
    Onnx__ModelProto *m = NULL;
    struct pool pl = {0};
    Onnx__NodeProto **orig_nodes = NULL, **nodes = NULL;
    Onnx__TensorProto **orig_inits = NULL, **inits = NULL;
    size_t orig_n_nodes = 0, orig_n_inits = 0;
    struct swap {
        Onnx__NodeProto *np;
        char *in[3];
        char *out0;
    } *swaps = NULL;
    int n_swaps = 0;
    FILE *f = NULL;
    if (c->n_frames < 1)
        return cvb_err_set(err, CVB_EINVAL, "%s: no frames were calibrated", c->model_path);
    rc = cvb_read_file(c->model_path, CVB_MODEL_MAX_BYTES, &buf, &len, err);
    if (rc < 0) goto out;
    m = onnx__model_proto__unpack(NULL, len, buf);
    if (m == NULL || m->graph == NULL) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: cannot parse the model", c->model_path);
        goto out;
    }
    Onnx__GraphProto *gp = m->graph;
    orig_nodes = gp->node;
    orig_n_nodes = gp->n_node;
    orig_inits = gp->initializer;
    orig_n_inits = gp->n_initializer;
    nodes = pool_alloc(&pl, sizeof *nodes * (orig_n_nodes + 6 * (size_t)c->n_sel + 1));
    inits = pool_alloc(&pl, sizeof *inits * (orig_n_inits + 10 * (size_t)c->n_sel + 1));
    swaps = calloc((size_t)c->n_sel + 1, sizeof *swaps);
    if (nodes == NULL || inits == NULL || swaps == NULL) goto oom;
    size_t nn = 0, ni = orig_n_inits;
    memcpy(inits, orig_inits, sizeof *inits * orig_n_inits);
    for (size_t k = 0; k < orig_n_nodes; k++) {
        Onnx__NodeProto *np = orig_nodes[k];
        int gi = -1;
        if (np->name != NULL && np->op_type != NULL && strcmp(np->op_type, "Conv") == 0)
            for (int i = 0; i < g->n_nodes; i++)
                if (c->sel[i] && strcmp(g->nodes[i].name, np->name) == 0) gi = i;
        if (gi < 0 || np->n_input < 2 || n_swaps == c->n_sel) {
            nodes[nn++] = np;
            continue;
        }
        const struct cvb_node *n = &g->nodes[gi];
        const struct cvb_tensor *w = &g->tensors[n->in[1]];
        const struct cvb_tensor *b = n->n_in >= 3 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
        int64_t oc = w->dims[0], per = w->numel / oc;
        float xs;
        int32_t xzp;
        cvb__quant_act_params(c->lo[gi], c->hi[gi], &xs, &xzp);
        int8_t *wq = pool_alloc(&pl, (size_t)w->numel);
        float *ws = pool_alloc(&pl, sizeof *ws * (size_t)oc);
        int8_t *wz = pool_alloc(&pl, (size_t)oc);
        int32_t *bq = pool_alloc(&pl, sizeof *bq * (size_t)oc);
        float *bs = pool_alloc(&pl, sizeof *bs * (size_t)oc);
        int32_t *bz = pool_alloc(&pl, sizeof *bz * (size_t)oc);
        if (wq == NULL || ws == NULL || wz == NULL || bq == NULL || bs == NULL || bz == NULL)
            goto oom;
        cvb__quant_weights(w->data, oc, per, wq, ws);
        for (int64_t o = 0; o < oc; o++) {
            bs[o] = xs * ws[o];
            if (b != NULL) {
                double v = nearbyint((double)((const float *)b->data)[o] / (double)bs[o]);
                bq[o] = (int32_t)(v > 2147483647.0 ? 2147483647.0 : v < -2147483647.0 ? -2147483647.0 : v);
            }
        }
        const char *nm = np->name;
        char *xname = np->input[0], *wname = np->input[1];
        char *xs_n = pool_fmt(&pl, nm, "/x_scale"), *xz_n = pool_fmt(&pl, nm, "/x_zero_point");
        char *xq_n = pool_fmt(&pl, nm, "/x_quantized"), *xd_n = pool_fmt(&pl, nm, "/x_dequantized");
        char *wq_n = pool_fmt(&pl, nm, "/w_quantized"), *ws_n = pool_fmt(&pl, nm, "/w_scale");
        char *wz_n = pool_fmt(&pl, nm, "/w_zero_point"), *wd_n = pool_fmt(&pl, nm, "/w_dequantized");
        char *bq_n = pool_fmt(&pl, nm, "/b_quantized"), *bs_n = pool_fmt(&pl, nm, "/b_scale");
        char *bz_n = pool_fmt(&pl, nm, "/b_zero_point"), *bd_n = pool_fmt(&pl, nm, "/b_dequantized");
        if (!xs_n || !xz_n || !xq_n || !xd_n || !wq_n || !ws_n || !wz_n || !wd_n || !bq_n ||
            !bs_n || !bz_n || !bd_n)
            goto oom;
        uint8_t zpu = (uint8_t)xzp;
        int64_t ocd[1] = {oc};
        inits[ni++] = mk_tensor(&pl, xs_n, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &xs, 4);
        inits[ni++] = mk_tensor(&pl, xz_n, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 0, NULL, &zpu, 1);
        inits[ni++] = mk_tensor(&pl, wq_n, ONNX__TENSOR_PROTO__DATA_TYPE__INT8, w->ndim, w->dims,
                                wq, (size_t)w->numel);
        inits[ni++] = mk_tensor(&pl, ws_n, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, ocd, ws,
                                4 * (size_t)oc);
        inits[ni++] = mk_tensor(&pl, wz_n, ONNX__TENSOR_PROTO__DATA_TYPE__INT8, 1, ocd, wz,
                                (size_t)oc);
        for (size_t q = ni - 5; q < ni; q++)
            if (inits[q] == NULL) goto oom;
        char *qin[3] = {xname, xs_n, xz_n};
        char *dxin[3] = {xq_n, xs_n, xz_n};
        char *dwin[3] = {wq_n, ws_n, wz_n};
        nodes[nn++] = mk_node(&pl, "QuantizeLinear", pool_fmt(&pl, nm, "/QuantizeLinear_x"), 3,
                              qin, xq_n, -1);
        nodes[nn++] = mk_node(&pl, "DequantizeLinear", pool_fmt(&pl, nm, "/DequantizeLinear_x"),
                              3, dxin, xd_n, -1);
        nodes[nn++] = mk_node(&pl, "DequantizeLinear", pool_fmt(&pl, nm, "/DequantizeLinear_w"),
                              3, dwin, wd_n, 0);
        if (b != NULL && np->n_input >= 3) {
            inits[ni++] = mk_tensor(&pl, bq_n, ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 1, ocd, bq,
                                    4 * (size_t)oc);
            inits[ni++] = mk_tensor(&pl, bs_n, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, ocd, bs,
                                    4 * (size_t)oc);
            inits[ni++] = mk_tensor(&pl, bz_n, ONNX__TENSOR_PROTO__DATA_TYPE__INT32, 1, ocd, bz,
                                    4 * (size_t)oc);
            for (size_t q = ni - 3; q < ni; q++)
                if (inits[q] == NULL) goto oom;
            char *dbin[3] = {bq_n, bs_n, bz_n};
            nodes[nn++] = mk_node(&pl, "DequantizeLinear",
                                  pool_fmt(&pl, nm, "/DequantizeLinear_b"), 3, dbin, bd_n, 0);
        }
        for (size_t q = nn - (b != NULL && np->n_input >= 3 ? 4 : 3); q < nn; q++)
            if (nodes[q] == NULL) goto oom;
        /* the Conv reads the dequantised tensors; its own input array is
         * the unpacked one: swap the names in place, restored below */
        swaps[n_swaps].np = np;
        for (int q = 0; q < 3; q++) swaps[n_swaps].in[q] = q < (int)np->n_input ? np->input[q] : NULL;
        swaps[n_swaps].out0 = np->n_output >= 1 ? np->output[0] : NULL;
        n_swaps++;
        np->input[0] = xd_n;
        np->input[1] = wd_n;
        if (b != NULL && np->n_input >= 3) np->input[2] = bd_n;
        nodes[nn++] = np;
        (void)wname;
        /* output: Conv -> y_float -> QuantizeLinear -> DequantizeLinear -> the
         * original output name, so the consumers (the SiLU) are untouched */
        if (np->n_output == 1 && c->olo[gi] <= c->ohi[gi]) {
            float ys;
            int32_t yzp;
            cvb__quant_act_params(c->olo[gi], c->ohi[gi], &ys, &yzp);
            uint8_t yzu = (uint8_t)yzp;
            char *yf_n = pool_fmt(&pl, nm, "/y_float"), *ys_n = pool_fmt(&pl, nm, "/y_scale");
            char *yz_n = pool_fmt(&pl, nm, "/y_zero_point");
            char *yq_n = pool_fmt(&pl, nm, "/y_quantized");
            if (!yf_n || !ys_n || !yz_n || !yq_n) goto oom;
            inits[ni++] = mk_tensor(&pl, ys_n, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL, &ys, 4);
            inits[ni++] = mk_tensor(&pl, yz_n, ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 0, NULL, &yzu,
                                    1);
            if (inits[ni - 1] == NULL || inits[ni - 2] == NULL) goto oom;
            char *qyin[3] = {yf_n, ys_n, yz_n};
            char *dyin[3] = {yq_n, ys_n, yz_n};
            nodes[nn++] = mk_node(&pl, "QuantizeLinear", pool_fmt(&pl, nm, "/QuantizeLinear_y"),
                                  3, qyin, yq_n, -1);
            nodes[nn++] = mk_node(&pl, "DequantizeLinear",
                                  pool_fmt(&pl, nm, "/DequantizeLinear_y"), 3, dyin,
                                  swaps[n_swaps - 1].out0, -1);
            if (nodes[nn - 1] == NULL || nodes[nn - 2] == NULL) goto oom;
            np->output[0] = yf_n;
        }
    }
    /* drop the float weights/biases the quantised convs no longer read
     * (ORT warns about unused initializers; the file would be twice the size) */
    size_t nk = 0;
    for (size_t q = 0; q < ni; q++) {
        const char *in = inits[q]->name;
        bool replaced = false, used = false;
        for (int k = 0; k < n_swaps && !replaced && in != NULL; k++)
            for (int r = 1; r < 3; r++)
                replaced |= swaps[k].in[r] != NULL && strcmp(swaps[k].in[r], in) == 0;
        for (size_t k = 0; replaced && !used && k < nn; k++)
            for (size_t r = 0; r < nodes[k]->n_input && !used; r++)
                used = strcmp(nodes[k]->input[r], in) == 0;
        if (!replaced || used) inits[nk++] = inits[q];
    }
    ni = nk;
    gp->node = nodes;
    gp->n_node = nn;
    gp->initializer = inits;
    gp->n_initializer = ni;
    size_t plen = onnx__model_proto__get_packed_size(m);
    packed = malloc(plen ? plen : 1);
    if (packed == NULL) goto oom;
    onnx__model_proto__pack(m, packed);
    f = fopen(path, "wb");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot write: %m", path);
        goto out;
    }
    if (fwrite(packed, 1, plen, f) != plen) rc = cvb_err_set(err, CVB_EIO, "%s: write failed", path);
    if (fclose(f) != 0 && rc == 0) rc = cvb_err_set(err, CVB_EIO, "%s: write failed: %m", path);
    goto out;
oom:
    rc = cvb_err_set(err, CVB_ENOMEM, "out of memory writing the QDQ model");
out:
    if (m != NULL) {
        /* free_unpacked frees what unpack allocated: put the originals back */
        for (int k = 0; k < n_swaps; k++) {
            for (int q = 0; q < 3 && q < (int)swaps[k].np->n_input; q++)
                swaps[k].np->input[q] = swaps[k].in[q];
            if (swaps[k].np->n_output >= 1) swaps[k].np->output[0] = swaps[k].out0;
        }
        if (orig_nodes != NULL) {
            m->graph->node = orig_nodes;
            m->graph->n_node = orig_n_nodes;
            m->graph->initializer = orig_inits;
            m->graph->n_initializer = orig_n_inits;
        }
    }
    free(packed);
    free(swaps);
    pool_free(&pl);
    if (m != NULL) onnx__model_proto__free_unpacked(m, NULL);
    free(buf);
    return rc;
}

/* ---- procedural frames ------------------------------------------------------------- */

static uint32_t rng_next(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

void cvb_calib_procedural_frame(int s, uint64_t seed, uint8_t *dst) {
    uint64_t st = seed * 0x9E3779B97F4A7C15ull + 1;
    float c0[3], c1[3];
    for (int k = 0; k < 3; k++) {
        c0[k] = (float)(rng_next(&st) % 256);
        c1[k] = (float)(rng_next(&st) % 256);
    }
    for (int y = 0; y < s; y++)
        for (int x = 0; x < s; x++)
            for (int k = 0; k < 3; k++) {
                float t = (float)(x + y) / (float)(2 * s);
                dst[((size_t)y * s + x) * 3 + k] = (uint8_t)(c0[k] + (c1[k] - c0[k]) * t);
            }
    int n_shapes = 3 + (int)(rng_next(&st) % 12);
    for (int i = 0; i < n_shapes; i++) {
        int w = 4 + (int)(rng_next(&st) % (uint32_t)(s / 2)), h = 4 + (int)(rng_next(&st) % (uint32_t)(s / 2));
        int x0 = (int)(rng_next(&st) % (uint32_t)s), y0 = (int)(rng_next(&st) % (uint32_t)s);
        bool disc = rng_next(&st) & 1;
        uint8_t col[3] = {(uint8_t)rng_next(&st), (uint8_t)rng_next(&st), (uint8_t)rng_next(&st)};
        for (int y = y0; y < y0 + h && y < s; y++)
            for (int x = x0; x < x0 + w && x < s; x++) {
                if (disc) {
                    float dx = (float)(x - x0) / (float)w * 2.f - 1.f;
                    float dy = (float)(y - y0) / (float)h * 2.f - 1.f;
                    if (dx * dx + dy * dy > 1.f) continue;
                }
                memcpy(dst + ((size_t)y * s + x) * 3, col, 3);
            }
    }
    int noise = (int)(rng_next(&st) % 24);
    if (noise > 0)
        for (size_t i = 0; i < (size_t)s * s * 3; i++) {
            int v = dst[i] + (int)(rng_next(&st) % (uint32_t)(2 * noise + 1)) - noise;
            dst[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    if (seed % 2 == 1) { /* letterbox bars, as a 16:9 frame would have */
        int bar = s / 8;
        for (int y = 0; y < s; y++)
            if (y < bar || y >= s - bar) memset(dst + (size_t)y * s * 3, 114, (size_t)s * 3);
    }
}
