/* SPDX-License-Identifier: Apache-2.0 */
/* Transpose on oneDNN (a reorder between two descriptors of the output's
 * dims: the source with the input's strides permuted) against our C
 * kernel, bit for bit, one node at a time; then in a whole network.
 *
 * Checks: the DFL transpose of YOLOv8 ([1,4,16,A] -> [1,16,4,A], perm
 * 0,2,1,3) and a few other permutations (default reverse, negative axes,
 * 1-byte data) run a non-reference oneDNN kernel and match the C kernel
 * exactly; in a
 * synthetic fp32 YOLOv8n at 320 (its DFL unfused: test hook) the profile
 * shows the DFL Transpose on that kernel and no "ref:*" kernel anywhere. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "engine/ir.h"
#include "engine/kernels/onednn/dnn.h"
#include "test.h"

#include <stdint.h>

static struct cvb__dnn *dnn;

/* One Transpose of run-time input 'dims' (type 'dt'), perm 'perm' (np
 * values; np < 0: no attribute), through both kernel sets. */
static void transpose_case(const char *label, enum cvb_dtype dt, int nd, const int64_t *dims,
                           int np, const int64_t *perm) {
    struct cvb_err err = {0};
    void *state = NULL, *in_buf = NULL, *out_ref = NULL, *out_dnn = NULL;
    struct cvb_graph *g = cvb__graph_new("test");
    g->opset = 17;
    g->nodes = calloc(1, sizeof *g->nodes);
    g->cap_nodes = g->n_nodes = 1;
    struct cvb_node *n = &g->nodes[0];
    n->op = CVB_OP_TRANSPOSE;
    n->name = strdup(label);
    n->in = calloc(1, sizeof(int));
    n->out = calloc(1, sizeof(int));
    test_current = label;
    int x = cvb__graph_tensor(g, "x");
    CHECK(cvb__tensor_set_shape(g, x, dt, nd, dims, &err) == 0);
    n->in[n->n_in++] = x;
    if (np >= 0) {
        n->attrs = calloc(1, sizeof *n->attrs);
        struct cvb_attr *a = &n->attrs[n->n_attrs++];
        a->name = strdup("perm");
        a->type = CVB_ATTR_INTS;
        a->n = np;
        a->ints = malloc((size_t)np * sizeof *a->ints);
        memcpy(a->ints, perm, (size_t)np * sizeof *a->ints);
    }
    n->out[n->n_out++] = cvb__graph_tensor(g, "y");
    int rc = cvb__op_defs[n->op].infer(g, n, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) goto out;
    const struct cvb_tensor *tx = &g->tensors[x], *ty = &g->tensors[n->out[0]];
    size_t bytes = cvb__tensor_bytes(tx);
    in_buf = malloc(bytes);
    out_ref = calloc(1, bytes);
    out_dnn = malloc(bytes);
    memset(out_dnn, 0xff, bytes); /* catches unwritten outputs */
    uint32_t s = 7;
    for (size_t i = 0; i < bytes; i++) {
        s = s * 1664525u + 1013904223u;
        ((uint8_t *)in_buf)[i] = (uint8_t)(s >> 24);
    }
    if (dt == CVB_DT_F32) /* finite floats: the bytes above could be NaNs */
        for (int64_t i = 0; i < tx->numel; i++) ((float *)in_buf)[i] = (float)(i % 977) - 488.25f;
    const struct cvb_tensor *tin[1] = {tx}, *tout[1] = {ty};
    const void *in[1] = {in_buf};
    void *o_ref[1] = {out_ref}, *o_dnn[1] = {out_dnn};
    struct cvb_kctx k_ref = {g, n, tin, tout, in, o_ref, NULL, NULL};
    struct cvb_kctx k_dnn = {g, n, tin, tout, in, o_dnn, NULL, NULL};
    rc = cvb__dnn_prepare(dnn, g, n, &state, &err);
    if (rc < 0) fprintf(stderr, "%s: prepare: %s\n", label, err.msg);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) goto out;
    CHECK_EQ_INT(cvb__op_defs[n->op].ref(&k_ref, &err), 0);
    for (int rep = 0; rep < 2; rep++) CHECK_EQ_INT(cvb__dnn_run(dnn, state, &k_dnn, &err), 0);
    const char *impl = cvb__dnn_impl_name(state);
    char shape[96];
    printf("  %-28s %-12s out %s\n", label, impl, cvb__shape_str(ty, shape, sizeof shape));
    CHECK(strncmp(impl, "ref", 3) != 0 && impl[0] != '\0');
    CHECK(memcmp(out_ref, out_dnn, bytes) == 0);
out:
    cvb__dnn_release(state);
    free(in_buf);
    free(out_ref);
    free(out_dnn);
    cvb__graph_free(g);
}

static void test_transpose_nodes(void) {
    transpose_case("dfl [1,4,16,8400] 0,2,1,3", CVB_DT_F32, 4, (int64_t[]){1, 4, 16, 8400}, 4,
                   (int64_t[]){0, 2, 1, 3});
    transpose_case("dfl [1,4,16,2100] 0,2,1,3", CVB_DT_F32, 4, (int64_t[]){1, 4, 16, 2100}, 4,
                   (int64_t[]){0, 2, 1, 3});
    transpose_case("[5,7,9] default perm", CVB_DT_F32, 3, (int64_t[]){5, 7, 9}, -1, NULL);
    transpose_case("[2,3,4,15] -1,0,-2,1", CVB_DT_F32, 4, (int64_t[]){2, 3, 4, 15}, 4,
                   (int64_t[]){-1, 0, -2, 1});
    transpose_case("u8 [1,16,20,20] 0,2,3,1", CVB_DT_U8, 4, (int64_t[]){1, 16, 20, 20}, 4,
                   (int64_t[]){0, 2, 3, 1});
}

/* In a whole network: the DFL Transpose is on oneDNN, nothing on "ref:*"
 * (with the DFL left unfused: where AVX-512 runs, the fused DFL step reads
 * the Transpose's input itself, test-engine-fused). */
static void test_transpose_in_network(void) {
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = 320, .seed = 3};
    struct cvb_err err = {0};
    void *buf = NULL;
    size_t len = 0;
    struct cvb_engine *e = NULL;
    CHECK(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err) == 0);
    if (buf == NULL) return;
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .threads = 1};
    cvb__dnn_test_no_dfl(true);
    CHECK(cvb_engine_load_buffer(buf, len, "yolov8n-320", &o, &e, &err) == 0);
    cvb__dnn_test_no_dfl(false);
    if (e == NULL) goto out;
    const struct cvb_node_profile *pr;
    int np = cvb_engine_profile(e, &pr), n_tr = 0;
    for (int i = 0; i < np; i++) {
        if (strcmp(pr[i].ops, "Transpose") == 0) {
            n_tr++;
            printf("  %s: %s\n", pr[i].name, pr[i].kernel);
        }
        if (strncmp(pr[i].kernel, "ref", 3) == 0) {
            fprintf(stderr, "%s (%s) runs %s\n", pr[i].name, pr[i].ops, pr[i].kernel);
            CHECK(!"a reference kernel in the executed network");
        }
    }
    CHECK_EQ_INT(n_tr, 1);
out:
    cvb_engine_free(e);
    free(buf);
}

int main(void) {
    struct cvb_err err = {0};
    if (cvb__dnn_new(&dnn, 1, &err) < 0) {
        fprintf(stderr, "cvb__dnn_new: %s\n", err.msg);
        return 1;
    }
    RUN(test_transpose_nodes);
    RUN(test_transpose_in_network);
    cvb__dnn_free(dnn);
    return test_summary();
}
