/* SPDX-License-Identifier: Apache-2.0 */
/* Graph optimisation passes for the oneDNN kernel set (passes.c).
 *
 * They run after cvb__graph_finalize() and before execution planning, only
 * when the engine uses oneDNN; the reference kernel set sees the graph as
 * loaded. Fused nodes are marked dead; the surviving Conv takes over the
 * last fused node's output tensor and its producer index. What each
 * surviving node must now also compute is recorded in struct cvb__fusion
 * (one per node), not in the graph. Internal to src/engine/. */
#ifndef CVB_ENGINE_PASSES_H
#define CVB_ENGINE_PASSES_H

#include "engine/ir.h"

struct cvb__fusion {
    unsigned post; /* CVB__POST_* (kernels/onednn/dnn.h) */
    int sum_in;    /* CVB__POST_SUM: tensor added in place (output aliases it); else -1 */
    char ops[40];  /* what the node computes, for profiles: "Conv+SiLU+Add" */
    /* CVB__POST_STRIDED (a Transpose): the element strides, per output
     * axis, at which it reads its input's dense storage */
    int64_t src_strides[CVB_MAX_DIMS];
};

/* Fuse, in this order:
 *   Conv -> Sigmoid -> Mul(conv, sigmoid)   => Conv with a swish post-op
 *   Conv -> Relu                            => Conv with a relu post-op
 *   Conv (no eltwise post-op) -> Add(conv, b) => Conv with a sum post-op,
 *       only when b is a run-time tensor with no consumer after the Add
 *       (the executor makes the Conv write on top of b's buffer)
 *   MatMul(Transpose(a), b), MatMul(a, Transpose(b)), Transposes of the
 *       last two axes     => the MatMul reads through strides (TRANS_A/B)
 *   MatMul(a, Transpose(p)) read by a Transpose, p larger than a
 *                         => it stores its output transposed (STORE_T) and
 *       that Transpose reads it so (READ_T)
 *   Transpose(perm 0,2,1,3) -> Softmax(axis 1) -> Conv(1x1, one output
 *       channel), only with 'dfl' (cvb__dnn_dfl_ok) => the Conv reads the
 *       Transpose's input and computes the DFL (CVB__POST_DFL)
 *   Transpose -> Reshape -> Transpose, where the Reshape is a view of the
 *       first Transpose's strided output
 *                         => the last Transpose reads the first one's input
 *       through strides (STRIDED: one reorder instead of two)
 * Each intermediate must have no other consumer and not be a graph output.
 * The Convs at the 'n_no_sum' node indices in 'no_sum' (NULL when 0) take
 * no sum: their Add stays a node of its own (the engine's per-node retreat
 * when oneDNN cannot run that Conv with the sum; their ops then read
 * "Conv,Add unfused" in profiles). The nodes at the 'n_plain' indices in
 * 'plain' (NULL when 0) take no fusion at all (the engine's per-node retreat
 * when oneDNN cannot run a node as planned; it also plans them in the plain
 * layout). 'f' has g->n_nodes entries, initialised here. Returns the number
 * of nodes removed (>= 0). */
int cvb__passes_fuse(struct cvb_graph *g, struct cvb__fusion *f, const int *no_sum,
                     int n_no_sum, const int *plain, int n_plain, bool dfl);

#endif
