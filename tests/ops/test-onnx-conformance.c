/* SPDX-License-Identifier: Apache-2.0 */
/* ONNX backend node-test conformance: runs every test directory under
 * /usr/share/libonnx-testdata/data/node (Debian libonnx-testdata; override
 * with CVB_ONNX_NODE_DIR) through the public engine API, once with the
 * reference kernels and once with oneDNN, and compares each output with the
 * expected one: |got - want| <= atol + rtol * |want|, rtol 1e-3, atol 1e-7.
 *
 * A model the engine refuses with CVB_EUNSUPPORTED (an op, dtype or
 * attribute value we do not implement) is skipped, and the reason printed and
 * grouped in the summary; any other load error, a run error or a mismatch is
 * a failure. Exits 1 on any failure.
 *
 * cvbench only supports static shapes, but many node tests feed shape-like
 * values (Reshape's shape, Slice's starts/ends, Resize's scales, TopK's K,
 * reduction axes, ...) as graph inputs. Those inputs - and only those - are
 * frozen: moved from the graph inputs into the initializers with the test
 * data set's values, as an exporter with static shapes would have written
 * them. This is done on the ModelProto with the protobuf-c bindings, then the
 * model is loaded from the re-serialised buffer.
 *
 * Usage: test-onnx-conformance [-v] [name-substring]  (-v prints every test). */
#include "cvb/engine.h"
#include "onnx.pb-c.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RTOL 1e-3
#define ATOL 1e-7
#define MAX_IO 16
#define PATH_BUF 2048

enum result { R_PASS, R_FAIL, R_SKIP };

struct reason {
    char text[200];
    int count;
};

struct tally {
    int pass, fail, skip;
    int frozen;       /* passed tests that ran with shape inputs frozen */
    int dnn_nodes;    /* nodes the passed tests ran on oneDNN primitives */
    struct reason reasons[256];
    int n_reasons;
    char failed[64][96];
    int n_failed;
};

static bool verbose;

/* ---- small utilities ---------------------------------------------------------- */

static int read_all(const char *path, uint8_t **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (b == NULL) break;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap * 2);
            if (nb == NULL) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    if (b == NULL) return -1;
    *buf = b;
    *len = n;
    return 0;
}

static Onnx__TensorProto *read_tensor(const char *path) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if (read_all(path, &buf, &len) < 0) return NULL;
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    return t;
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in 'dir' starting with 'prefix' (caller frees each and the array). */
static int list_dir(const char *dir, const char *prefix, char ***out) {
    DIR *d = opendir(dir);
    if (d == NULL) return -1;
    int n = 0, cap = 64;
    char **v = malloc(sizeof(char *) * (size_t)cap);
    struct dirent *e;
    while (v && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        if (n == cap) {
            cap *= 2;
            char **nv = realloc(v, sizeof(char *) * (size_t)cap);
            if (nv == NULL) break;
            v = nv;
        }
        v[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (v == NULL) return -1;
    qsort(v, (size_t)n, sizeof(char *), cmp_str);
    *out = v;
    return n;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* ONNX TensorProto.DataType <-> our dtype names, and element sizes. */
static const char *onnx_dtype_name(int t) {
    switch (t) {
    case 1: return "float32";
    case 2: return "uint8";
    case 3: return "int8";
    case 6: return "int32";
    case 7: return "int64";
    case 9: return "bool";
    default: return NULL;
    }
}

static size_t dtype_size(const char *name) {
    if (!strcmp(name, "float32") || !strcmp(name, "int32")) return 4;
    if (!strcmp(name, "int64")) return 8;
    return 1;
}

static int64_t proto_numel(const Onnx__TensorProto *t) {
    int64_t n = 1;
    for (size_t i = 0; i < t->n_dims; i++) n *= t->dims[i];
    return n;
}

/* Decode a TensorProto into a fresh dense buffer of its own dtype. Returns
 * NULL (with 'why') for dtypes we do not handle or inconsistent data. */
static void *proto_data(const Onnx__TensorProto *t, const char **dtype, char *why, size_t wl) {
    const char *dn = onnx_dtype_name(t->data_type);
    if (dn == NULL) {
        snprintf(why, wl, "test data has ONNX data type %d", t->data_type);
        return NULL;
    }
    *dtype = dn;
    int64_t n = proto_numel(t);
    size_t es = dtype_size(dn), bytes = (size_t)n * es;
    void *p = calloc(bytes ? bytes : 1, 1);
    if (p == NULL) {
        snprintf(why, wl, "out of memory");
        return NULL;
    }
    if (t->has_raw_data) {
        if (t->raw_data.len != bytes) goto bad;
        if (bytes) memcpy(p, t->raw_data.data, bytes);
        return p;
    }
    switch (t->data_type) {
    case 1:
        if ((int64_t)t->n_float_data != n) goto bad;
        if (bytes) memcpy(p, t->float_data, bytes);
        return p;
    case 7:
        if ((int64_t)t->n_int64_data != n) goto bad;
        if (bytes) memcpy(p, t->int64_data, bytes);
        return p;
    case 6:
        if ((int64_t)t->n_int32_data != n) goto bad;
        if (bytes) memcpy(p, t->int32_data, bytes);
        return p;
    default: /* uint8, int8, bool live in int32_data */
        if ((int64_t)t->n_int32_data != n) goto bad;
        for (int64_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)t->int32_data[i];
        return p;
    }
bad:
    snprintf(why, wl, "tensor proto '%s' holds the wrong number of values", t->name ? t->name : "");
    free(p);
    return NULL;
}

/* ---- skip reasons ------------------------------------------------------------------ */

/* Reduce an error message to a category: drop the leading "<path>: " and
 * replace quoted node/tensor/input names with '*', so that identical causes
 * in different tests group together. */
static void categorize(const char *msg, const char *path, char *out, size_t len) {
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) == 0 && msg[pl] == ':') msg += pl + 1;
    while (*msg == ' ') msg++;
    const char *op = strstr(msg, "unsupported op '");
    if (op) {
        op += strlen("unsupported op '");
        const char *e = strchr(op, '\'');
        snprintf(out, len, "op %.*s unsupported", e ? (int)(e - op) : 40, op);
        return;
    }
    static const char *const keys[] = {"node ", "tensor ", "input ", "initializer ", "output "};
    size_t o = 0;
    while (*msg && o + 1 < len) {
        bool replaced = false;
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(msg, keys[k], kl) == 0 && (msg[kl] == '\'' || msg[kl] == '"')) {
                char q = msg[kl];
                const char *e = strchr(msg + kl + 1, q);
                if (e == NULL) break;
                int w = snprintf(out + o, len - o, "%s*", keys[k]);
                if (w > 0) o += (size_t)w;
                if (o >= len) o = len - 1;
                msg = e + 1;
                replaced = true;
                break;
            }
        }
        if (!replaced) out[o++] = *msg++;
    }
    out[o] = '\0';
}

static void add_reason(struct tally *t, const char *text) {
    for (int i = 0; i < t->n_reasons; i++)
        if (strcmp(t->reasons[i].text, text) == 0) {
            t->reasons[i].count++;
            return;
        }
    if (t->n_reasons < (int)(sizeof t->reasons / sizeof t->reasons[0])) {
        snprintf(t->reasons[t->n_reasons].text, sizeof t->reasons[0].text, "%s", text);
        t->reasons[t->n_reasons++].count = 1;
    }
}

/* ---- freezing shape-like inputs ----------------------------------------------------- */

/* Is input slot 'slot' of op 'op' a shape-like value that must be static? */
static bool shape_slot(const char *op, size_t slot) {
    if (!strcmp(op, "Reshape") || !strcmp(op, "Expand") || !strcmp(op, "Split") ||
        !strcmp(op, "Squeeze") || !strcmp(op, "Unsqueeze") || !strcmp(op, "Tile") ||
        !strcmp(op, "TopK") || !strcmp(op, "ReduceMax") || !strcmp(op, "ReduceMin") ||
        !strcmp(op, "ReduceSum"))
        return slot == 1;
    if (!strcmp(op, "Slice")) return slot >= 1;
    if (!strcmp(op, "Resize")) return slot >= 1;
    if (!strcmp(op, "ConstantOfShape")) return slot == 0;
    if (!strcmp(op, "Pad")) return slot == 1 || slot == 3; /* pads, axes; not constant_value */
    return false;
}

static bool is_initializer(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name)) return true;
    return false;
}

static bool feeds_shape_slot(const Onnx__GraphProto *g, const char *name) {
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) continue;
        for (size_t j = 0; j < n->n_input; j++)
            if (!strcmp(n->input[j], name) && shape_slot(n->op_type, j)) return true;
    }
    return false;
}

/* ---- one test directory ------------------------------------------------------------- */

struct dataset {
    int n_in, n_out;
    Onnx__TensorProto *in[MAX_IO], *out[MAX_IO];
};

static void dataset_free(struct dataset *ds) {
    for (int i = 0; i < ds->n_in; i++) onnx__tensor_proto__free_unpacked(ds->in[i], NULL);
    for (int i = 0; i < ds->n_out; i++) onnx__tensor_proto__free_unpacked(ds->out[i], NULL);
    memset(ds, 0, sizeof *ds);
}

static int dataset_load(const char *dir, struct dataset *ds, char *why, size_t wl) {
    char p[PATH_BUF + 32];
    memset(ds, 0, sizeof *ds);
    for (int i = 0; i < MAX_IO; i++) {
        snprintf(p, sizeof p, "%s/input_%d.pb", dir, i);
        if (!exists(p)) break;
        if ((ds->in[ds->n_in] = read_tensor(p)) == NULL) goto bad;
        ds->n_in++;
    }
    for (int i = 0; i < MAX_IO; i++) {
        snprintf(p, sizeof p, "%s/output_%d.pb", dir, i);
        if (!exists(p)) break;
        if ((ds->out[ds->n_out] = read_tensor(p)) == NULL) goto bad;
        ds->n_out++;
    }
    return 0;
bad:
    snprintf(why, wl, "cannot parse %.600s", p);
    dataset_free(ds);
    return -1;
}

/* Compare one output. Returns 0 or -1 with 'why'. */
static int compare(const struct cvb_tensor_info *info, const void *got,
                   const Onnx__TensorProto *want_p, char *why, size_t wl) {
    const char *wdt = NULL;
    void *want = proto_data(want_p, &wdt, why, wl);
    int rc = -1;
    if (want == NULL) return -1;
    if (strcmp(wdt, info->dtype) != 0) {
        snprintf(why, wl, "output '%s' has dtype %s, expected %s", info->name, info->dtype, wdt);
        goto out;
    }
    bool same = (int)want_p->n_dims == info->ndim;
    for (int d = 0; same && d < info->ndim; d++) same = info->dims[d] == want_p->dims[d];
    if (!same) {
        snprintf(why, wl, "output '%s' has rank %d / %lld elements, expected rank %zu / %lld",
                 info->name, info->ndim, (long long)info->numel, want_p->n_dims,
                 (long long)proto_numel(want_p));
        goto out;
    }
    double worst = 0;
    int64_t worst_i = -1, bad = 0;
    for (int64_t i = 0; i < info->numel; i++) {
        double g, w;
        if (!strcmp(wdt, "float32")) {
            g = ((const float *)got)[i];
            w = ((const float *)want)[i];
        } else if (!strcmp(wdt, "int64")) {
            if (((const int64_t *)got)[i] != ((const int64_t *)want)[i]) {
                if (bad++ == 0) worst_i = i;
            }
            continue;
        } else if (!strcmp(wdt, "int32")) {
            g = ((const int32_t *)got)[i];
            w = ((const int32_t *)want)[i];
        } else if (!strcmp(wdt, "int8")) {
            g = ((const int8_t *)got)[i];
            w = ((const int8_t *)want)[i];
        } else {
            g = ((const uint8_t *)got)[i];
            w = ((const uint8_t *)want)[i];
        }
        bool ok;
        if (isnan(w))
            ok = isnan(g);
        else if (isinf(w))
            ok = g == w;
        else
            ok = fabs(g - w) <= ATOL + RTOL * fabs(w);
        if (!ok) {
            double ex = fabs(g - w);
            if (bad++ == 0 || ex > worst || isnan(ex)) {
                worst = ex;
                worst_i = i;
            }
        }
    }
    if (bad) {
        if (!strcmp(wdt, "int64"))
            snprintf(why, wl, "output '%s': %lld of %lld values differ; first at %lld: got %lld, "
                     "expected %lld",
                     info->name, (long long)bad, (long long)info->numel, (long long)worst_i,
                     (long long)((const int64_t *)got)[worst_i],
                     (long long)((const int64_t *)want)[worst_i]);
        else if (!strcmp(wdt, "float32"))
            snprintf(why, wl, "output '%s': %lld of %lld values out of tolerance; worst at %lld: "
                     "got %.9g, expected %.9g",
                     info->name, (long long)bad, (long long)info->numel, (long long)worst_i,
                     (double)((const float *)got)[worst_i], (double)((const float *)want)[worst_i]);
        else
            snprintf(why, wl, "output '%s': %lld of %lld values differ", info->name,
                     (long long)bad, (long long)info->numel);
        goto out;
    }
    rc = 0;
out:
    free(want);
    return rc;
}

/* Load (with frozen shape inputs), run and compare one data set. */
static enum result run_dataset(const char *model_path, Onnx__ModelProto *mp,
                               const struct dataset *ds, enum cvb_kernels kernels, char *why,
                               size_t wl, int *n_frozen_out, int *n_dnn_out) {
    Onnx__GraphProto *g = mp->graph;
    enum result res = R_FAIL;
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    uint8_t *buf = NULL;
    void *inputs[MAX_IO] = {0}, *outputs[MAX_IO] = {0};
    const void *in_ptrs[MAX_IO];
    const Onnx__TensorProto *fed[MAX_IO];
    int n_fed = 0;

    /* Graph inputs that are not initializers correspond to input_<i>.pb. */
    Onnx__ValueInfoProto **old_in = g->input;
    size_t old_n_in = g->n_input;
    Onnx__TensorProto **old_init = g->initializer;
    size_t old_n_init = g->n_initializer;
    Onnx__ValueInfoProto *new_in[64];
    Onnx__TensorProto **new_init = malloc(sizeof(void *) * (old_n_init + MAX_IO + 1));
    char *saved_names[MAX_IO] = {0};
    Onnx__TensorProto *renamed[MAX_IO];
    int n_frozen = 0;
    size_t n_new_in = 0;
    if (new_init == NULL || old_n_in > 64) {
        snprintf(why, wl, "test harness: too many inputs");
        goto out;
    }
    if (old_n_init) memcpy(new_init, old_init, sizeof(void *) * old_n_init);
    size_t n_new_init = old_n_init;
    int k = 0;
    for (size_t i = 0; i < old_n_in; i++) {
        const char *name = old_in[i]->name;
        if (is_initializer(g, name)) {
            new_in[n_new_in++] = old_in[i];
            continue;
        }
        if (k >= ds->n_in) {
            snprintf(why, wl, "test data has %d inputs, the model more", ds->n_in);
            goto out;
        }
        Onnx__TensorProto *tp = ds->in[k++];
        if (feeds_shape_slot(g, name)) {
            renamed[n_frozen] = tp;
            saved_names[n_frozen] = tp->name;
            tp->name = (char *)name;
            n_frozen++;
            new_init[n_new_init++] = tp;
        } else {
            new_in[n_new_in++] = old_in[i];
            fed[n_fed++] = tp;
        }
    }
    size_t len = 0;
    if (n_frozen > 0) {
        g->input = new_in;
        g->n_input = n_new_in;
        g->initializer = new_init;
        g->n_initializer = n_new_init;
        len = onnx__model_proto__get_packed_size(mp);
        buf = malloc(len ? len : 1);
        if (buf) onnx__model_proto__pack(mp, buf);
        g->input = old_in;
        g->n_input = old_n_in;
        g->initializer = old_init;
        g->n_initializer = old_n_init;
        for (int i = 0; i < n_frozen; i++) renamed[i]->name = saved_names[i];
        if (buf == NULL) {
            snprintf(why, wl, "out of memory");
            goto out;
        }
    }
    struct cvb_engine_opts opts = {.kernels = kernels, .imgsz = 0, .threads = 1};
    int rc = n_frozen ? cvb_engine_load_buffer(buf, len, model_path, &opts, &e, &err)
                      : cvb_engine_load(model_path, &opts, &e, &err);
    if (rc < 0) {
        snprintf(why, wl, "%s", err.msg);
        res = rc == CVB_EUNSUPPORTED ? R_SKIP : R_FAIL;
        if (res == R_FAIL) snprintf(why, wl, "load failed (%s): %s", cvb_status_label(rc), err.msg);
        goto out;
    }
    if (cvb_engine_n_inputs(e) != n_fed || cvb_engine_n_outputs(e) != ds->n_out) {
        snprintf(why, wl, "engine has %d inputs / %d outputs; test data %d / %d",
                 cvb_engine_n_inputs(e), cvb_engine_n_outputs(e), n_fed, ds->n_out);
        goto out;
    }
    for (int i = 0; i < n_fed; i++) {
        struct cvb_tensor_info info;
        cvb_engine_input_info(e, i, &info);
        const char *dt = NULL;
        inputs[i] = proto_data(fed[i], &dt, why, wl);
        if (inputs[i] == NULL) {
            res = R_SKIP;
            goto out;
        }
        bool same = strcmp(dt, info.dtype) == 0 && (int)fed[i]->n_dims == info.ndim;
        for (int d = 0; same && d < info.ndim; d++) same = info.dims[d] == fed[i]->dims[d];
        if (!same) {
            snprintf(why, wl, "input '%s' (%s, rank %d) does not match the test data (%s, rank %zu)",
                     info.name, info.dtype, info.ndim, dt, fed[i]->n_dims);
            goto out;
        }
        in_ptrs[i] = inputs[i];
    }
    for (int i = 0; i < ds->n_out; i++) {
        struct cvb_tensor_info info;
        cvb_engine_output_info(e, i, &info);
        outputs[i] = calloc(info.bytes ? info.bytes : 1, 1);
        if (outputs[i] == NULL) {
            snprintf(why, wl, "out of memory");
            goto out;
        }
    }
    rc = cvb_engine_run(e, in_ptrs, outputs, &err);
    if (rc < 0) {
        snprintf(why, wl, "run failed (%s): %s", cvb_status_label(rc), err.msg);
        goto out;
    }
    for (int i = 0; i < ds->n_out; i++) {
        struct cvb_tensor_info info; /* data-dependent outputs: the run's actual shape */
        cvb_engine_output_shape(e, i, &info);
        if (compare(&info, outputs[i], ds->out[i], why, wl) < 0) goto out;
    }
    res = R_PASS;
    *n_frozen_out = n_frozen;
    *n_dnn_out = cvb_engine_n_onednn_nodes(e);
out:
    for (int i = 0; i < MAX_IO; i++) {
        free(inputs[i]);
        free(outputs[i]);
    }
    cvb_engine_free(e);
    free(buf);
    free(new_init);
    return res;
}

static enum result run_test(const char *dir, enum cvb_kernels kernels, char *why, size_t wl,
                            bool *frozen, int *dnn_nodes) {
    char p[PATH_BUF];
    snprintf(p, sizeof p, "%s/model.onnx", dir);
    uint8_t *mbuf = NULL;
    size_t mlen = 0;
    if (read_all(p, &mbuf, &mlen) < 0) {
        snprintf(why, wl, "cannot read %.600s: %s", p, strerror(errno));
        return R_FAIL;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, mlen, mbuf);
    free(mbuf);
    if (mp == NULL || mp->graph == NULL) {
        snprintf(why, wl, "test harness cannot parse %.600s", p);
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        return R_FAIL;
    }
    char **sets = NULL;
    int n_sets = list_dir(dir, "test_data_set_", &sets);
    enum result res = R_PASS;
    if (n_sets <= 0) {
        snprintf(why, wl, "no test data sets");
        res = R_SKIP;
    }
    for (int s = 0; s < n_sets && res == R_PASS; s++) {
        char sd[PATH_BUF];
        snprintf(sd, sizeof sd, "%s/%s", dir, sets[s]);
        struct dataset ds;
        if (dataset_load(sd, &ds, why, wl) < 0) {
            res = R_FAIL;
            break;
        }
        int nf = 0, nd = 0;
        res = run_dataset(p, mp, &ds, kernels, why, wl, &nf, &nd);
        if (nf > 0) *frozen = true;
        if (nd > *dnn_nodes) *dnn_nodes = nd;
        if (res == R_FAIL) {
            char tmp[1024];
            snprintf(tmp, sizeof tmp, "%s: %.900s", sets[s], why);
            snprintf(why, wl, "%s", tmp);
        }
        dataset_free(&ds);
    }
    if (n_sets > 0) free_list(sets, n_sets);
    onnx__model_proto__free_unpacked(mp, NULL);
    return res;
}

static int cmp_reason(const void *a, const void *b) {
    const struct reason *x = a, *y = b;
    return y->count != x->count ? y->count - x->count : strcmp(x->text, y->text);
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = true;
        else
            filter = argv[i];
    }
    const char *root = getenv("CVB_ONNX_NODE_DIR");
    if (root == NULL) root = "/usr/share/libonnx-testdata/data/node";
    char **tests = NULL;
    int n_tests = list_dir(root, "test_", &tests);
    if (n_tests <= 0) {
        printf("SKIP: no ONNX node tests in %s (install Debian package libonnx-testdata)\n", root);
        return 77;
    }
    static struct tally tallies[2];
    const enum cvb_kernels sets[2] = {CVB_KERNELS_REF, CVB_KERNELS_ONEDNN};
    const char *names[2] = {"ref", "onednn"};
    for (int s = 0; s < 2; s++) {
        struct tally *t = &tallies[s];
        for (int i = 0; i < n_tests; i++) {
            if (filter && strstr(tests[i], filter) == NULL) continue;
            char dir[PATH_BUF - 16], why[1024] = "", path[PATH_BUF], cat[200];
            snprintf(dir, sizeof dir, "%.1000s/%.500s", root, tests[i]);
            bool frozen = false;
            int dnn = 0;
            enum result r = run_test(dir, sets[s], why, sizeof why, &frozen, &dnn);
            snprintf(path, sizeof path, "%s/model.onnx", dir);
            switch (r) {
            case R_PASS:
                t->pass++;
                t->frozen += frozen;
                t->dnn_nodes += dnn;
                if (verbose) printf("[%s] PASS %s\n", names[s], tests[i]);
                break;
            case R_FAIL:
                t->fail++;
                printf("[%s] FAIL %s: %s\n", names[s], tests[i], why);
                if (t->n_failed < 64)
                    snprintf(t->failed[t->n_failed++], sizeof t->failed[0], "%s", tests[i]);
                break;
            case R_SKIP:
                t->skip++;
                categorize(why, path, cat, sizeof cat);
                add_reason(t, cat);
                if (verbose) printf("[%s] SKIP %s: %s\n", names[s], tests[i], why);
                break;
            }
            fflush(stdout);
        }
    }
    for (int s = 0; s < 2; s++) {
        struct tally *t = &tallies[s];
        qsort(t->reasons, (size_t)t->n_reasons, sizeof t->reasons[0], cmp_reason);
        printf("\nskip reasons [%s]:\n", names[s]);
        for (int i = 0; i < t->n_reasons; i++)
            printf("  %s: %d test%s\n", t->reasons[i].text, t->reasons[i].count,
                   t->reasons[i].count == 1 ? "" : "s");
    }
    printf("\n");
    for (int s = 0; s < 2; s++) {
        struct tally *t = &tallies[s];
        printf("conformance[%s]: %d passed, %d failed, %d skipped\n", names[s], t->pass, t->fail,
               t->skip);
        printf("  (%d passed tests ran with shape-like inputs frozen to constants; %d nodes of "
               "passed tests ran on oneDNN primitives)\n",
               t->frozen, t->dnn_nodes);
        if (t->n_failed) {
            printf("  failed:");
            for (int i = 0; i < t->n_failed; i++) printf(" %s", t->failed[i]);
            printf("\n");
        }
    }
    free_list(tests, n_tests);
    return (tallies[0].fail || tallies[1].fail) ? 1 : 0;
}
