/* SPDX-License-Identifier: Apache-2.0 */
/* Private helpers shared by the reference kernels and their shape inference
 * (the .c files in src/engine/kernels/ref). Nothing outside kernels/ref includes this.
 *
 * Each op family file exports one infer function and one ref kernel per op
 * (cvb__infer_<op>, cvb__ref_<op>); ops_table.c gathers them into
 * cvb__op_defs[]. Infer functions follow the ONNX operator spec for opsets
 * 11-17 exactly and name the node in every error; ref kernels are plain,
 * single-threaded C that never allocate beyond small scratch they free. */
#ifndef CVB_ENGINE_REF_H
#define CVB_ENGINE_REF_H

#include "engine/ir.h"

#include <stdbool.h>
#include <stdint.h>

/* Record an error about node 'n': the message reads
 * 'node "<name>" (<Op>): <fmt...>'. Returns 'code'. */
int cvb__ref_fail(struct cvb_err *err, int code, const struct cvb_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Input i of 'n' as a tensor, or NULL when it is absent (beyond n_in or -1). */
struct cvb_tensor *cvb__ref_in(struct cvb_graph *g, const struct cvb_node *n, int i);
/* Input i must be present: returns it, or NULL after setting EFORMAT in 'err'. */
struct cvb_tensor *cvb__ref_need(struct cvb_graph *g, const struct cvb_node *n, int i,
                                 const char *what, struct cvb_err *err);
/* Check 'n' has between min..max inputs and at least one output. */
int cvb__ref_arity(const struct cvb_node *n, int min_in, int max_in, struct cvb_err *err);
/* Set output i of 'n' (ignores an absent output). */
int cvb__ref_set_out(struct cvb_graph *g, const struct cvb_node *n, int i, enum cvb_dtype dt,
                     int ndim, const int64_t *dims, struct cvb_err *err);

/* Read the integer values of input i (int64 or int32, must be constant) into
 * vals[0..max). Sets *count. 'what' names the input in errors ("shape").
 * A non-constant input is CVB_EUNSUPPORTED ("computed at run time; only
 * static shapes are supported"). */
int cvb__ref_const_ints(struct cvb_graph *g, const struct cvb_node *n, int i, const char *what,
                        int64_t *vals, int max, int *count, struct cvb_err *err);
/* The same for float32 values. */
int cvb__ref_const_floats(struct cvb_graph *g, const struct cvb_node *n, int i, const char *what,
                          float *vals, int max, int *count, struct cvb_err *err);

/* Normalise axis 'a' against rank 'r' (accepting -r..r-1); -1 if out of range. */
int cvb__ref_axis(int64_t a, int r);

/* The node's 'axis' attribute (default 'def') normalised against rank r into
 * *ax; ESHAPE naming the node when out of range. */
int cvb__ref_attr_axis(const struct cvb_node *n, int r, int64_t def, int *ax, struct cvb_err *err);
/* Every int32/int64 index of ti (values at p) within -dim..dim-1, or ERANGE
 * naming the node, the index and the axis size. */
int cvb__ref_check_indices(const struct cvb_node *n, const struct cvb_tensor *ti, const void *p,
                           int64_t dim, struct cvb_err *err);
/* Row-major element strides of a rank-r tensor of shape dims. */
void cvb__ref_strides(int r, const int64_t *dims, int64_t *strides);

/* Numpy multidirectional broadcast of shapes a and b into out (rank *nd). */
int cvb__ref_broadcast(const struct cvb_node *n, int na, const int64_t *a, int nb,
                       const int64_t *b, int *nd, int64_t *out, struct cvb_err *err);
/* Element strides of a tensor of shape (nin, din) broadcast into rank 'nd'
 * output 'dout': 0 where the dimension is broadcast. */
void cvb__ref_bcast_strides(int nin, const int64_t *din, int nd, const int64_t *dout,
                            int64_t *strides);

/* Dtype gate: EUNSUPPORTED naming the input unless t's dtype is in 'mask'
 * (a bit per enum cvb_dtype). */
#define CVB_DTM(dt) (1u << (dt))
#define CVB_DTM_F32 CVB_DTM(CVB_DT_F32)
#define CVB_DTM_INT (CVB_DTM(CVB_DT_I32) | CVB_DTM(CVB_DT_I64))
#define CVB_DTM_ANY 0xffffffffu
int cvb__ref_dtype_ok(const struct cvb_node *n, const struct cvb_tensor *t, const char *what,
                      unsigned mask, struct cvb_err *err);

/* Integer element i of an int64/int32/int8/uint8 buffer. */
static inline int64_t cvb__ref_geti(const void *p, enum cvb_dtype dt, int64_t i) {
    switch (dt) {
    case CVB_DT_I32: return ((const int32_t *)p)[i];
    case CVB_DT_I8: return ((const int8_t *)p)[i];
    case CVB_DT_U8: return ((const uint8_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

/* Sliding-window geometry shared by Conv and MaxPool. From the node's
 * auto_pad, pads, strides and dilations attributes and the 'ns' spatial
 * input sizes 'in' and kernel sizes 'kern', compute the output sizes 'out',
 * pads[0..ns) (begin) and pads[ns..2ns) (end), strides and dilations.
 * 'ceil_mode' rounds the output size up (MaxPool), dropping a last window
 * that would start in the end padding. */
int cvb__ref_window(const struct cvb_node *n, int ns, const int64_t *in, const int64_t *kern,
                    bool ceil_mode, int64_t *out, int64_t *pads, int64_t *strides,
                    int64_t *dil, struct cvb_err *err);

/* ---- per-op entry points (one pair per op) ---- */
#define CVB_REF_DECL(e, s)                                                     \
    int cvb__infer_##e(struct cvb_graph *g, struct cvb_node *n, struct cvb_err *err); \
    int cvb__ref_##e(const struct cvb_kctx *k, struct cvb_err *err);
CVB_OP_LIST(CVB_REF_DECL)
#undef CVB_REF_DECL

#endif
