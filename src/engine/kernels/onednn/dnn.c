/* SPDX-License-Identifier: Apache-2.0 */
/* The oneDNN kernel set: the only file in cvbench that includes dnnl.h.
 *
 * The executor (engine.c) asks cvb__dnn_prepare() once per live node, after
 * cvb__graph_finalize() has fixed every shape. prepare() either builds a
 * plan for the node -- one to four oneDNN primitives ("steps") with their
 * memory objects -- or returns CVB_EUNSUPPORTED so the node runs on its
 * reference kernel instead. cvb__dnn_run() then only points the memory
 * objects at the run's buffers and executes the steps: no allocation.
 *
 * What runs here (float32 only; anything else is refused):
 *   Conv          convolution_forward: 1-3 spatial dims, groups, strides,
 *                 pads, auto_pad, dilations, bias; constant weights are
 *                 reordered once into the layout the kernel picks
 *   MaxPool       pooling_v2 max: ceil_mode (end pad grown), auto_pad;
 *                 not the Indices output, not dilations (oneDNN: ref only)
 *   AveragePool   pooling_v2 avg_include_padding / avg_exclude_padding
 *                 (count_include_pad); not ceil_mode 1 (ONNX leaves the grown
 *                 end out of the divisor, oneDNN would not): the reference
 *                 kernel runs those
 *   Resize        resampling nearest/linear, opset >= 11, where every output
 *                 pixel provably reads the source ONNX names (checked per
 *                 index at prepare); cubic, tf_crop_and_resize, antialias
 *                 and .5 ties are refused
 *   Add Sub Mul Div  binary; src1 broadcasts, a broadcast src0 is swapped in
 *                 for Add/Mul and for Sub (negated by a post-op); not Div
 *   Sigmoid Relu Sqrt  eltwise; Pow with a constant scalar exponent
 *   Concat        concat;  Softmax: any axis, both opset semantics
 *                 (a non-innermost axis is reordered innermost and back)
 *   MatMul        matmul with numpy 1-D promotion and batch broadcast
 * Light ops for which oneDNN only has a "ref" implementation are refused:
 * its reference kernels are slower than our plain C ones.
 *
 * Contract at the node boundary: every tensor the executor hands us is dense
 * row-major (plain, "abcd...") float32. Inside a plan a primitive may prefer
 * another layout; then a reorder step converts into a buffer owned by the
 * plan, or, for constant inputs (conv weights), the conversion is done once
 * at prepare time.
 *
 * Invariants of a prepared plan (struct dnn_plan):
 *  1. Each step's exec args are fixed at prepare; run() only calls
 *     dnnl_memory_set_data_handle() on them, resolving each binding to an
 *     input, an output, a plan buffer or the context's shared scratchpad.
 *  2. All primitives use the user scratchpad mode; the context owns one
 *     scratchpad sized for the largest prepared primitive, so one context
 *     must run one node at a time (it has one stream, too).
 *  3. The plan only accepts a node when oneDNN computes what the ONNX spec
 *     computes; every semantic check is done here, at prepare time.
 *
 * Threads: oneDNN 2.6 here uses OpenMP; each calling thread has its own team.
 * prepare() and run() configure the calling thread once per context (team
 * size, FTZ/DAZ in the caller and in its OpenMP workers: denormals make
 * kernels ~60x slower, see notes/onednn.md). FTZ/DAZ stays set in that
 * thread afterwards, for the reference kernels it runs too. */
#include "engine/ir.h"
#include "engine/kernels/onednn/dnn.h"
#include "engine/kernels/onednn/vec.h"
#include "engine/quant.h"

#include <dnnl.h>
#include <dnnl_debug.h>

#include <dlfcn.h>
#include <pthread.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define CVB_HAVE_MXCSR 1
#endif

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- context ---------------------------------------------------------------- */

struct cvb__dnn {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    dnnl_primitive_attr_t attr; /* user scratchpad mode; shared by every primitive */
    int threads;                /* OpenMP team size for calling threads; 0 = default */
    unsigned long id;           /* unique per context, never reused */
    void *scratch;              /* shared scratchpad, grown at prepare time only */
    size_t scratch_bytes;
};

/* Ids of contexts; the calling thread remembers the one it was last
 * configured for (team size, FTZ) so run() reconfigures only on a change. */
static atomic_ulong next_id = 1;
static _Thread_local unsigned long tl_configured;
/* Set once oneDNN has been used in this process: the ISA cap is fixed. */
static atomic_bool dnn_used;

static void set_ftz_daz(void *unused) {
    (void)unused;
#ifdef CVB_HAVE_MXCSR
    /* FTZ is bit 15, DAZ bit 6. */
    unsigned csr = _mm_getcsr();
    if ((csr & 0x8040u) != 0x8040u) _mm_setcsr(csr | 0x8040u);
#endif
}

/* Set the calling thread's OpenMP team size, then FTZ/DAZ in the caller and
 * in each member of its team. Workers created later inherit the caller's
 * MXCSR (Linux copies FPU state on clone); the parallel region covers
 * workers that already exist. Without -fopenmp the libgomp entry points
 * that libdnnl loaded are looked up at run time; both are optional. */
static void configure_thread(const struct cvb__dnn *d) {
    set_ftz_daz(NULL);
#ifdef _OPENMP
    if (d->threads > 0) omp_set_num_threads(d->threads);
#pragma omp parallel
    set_ftz_daz(NULL);
#else
    typedef void (*set_threads_fn)(int);
    typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
    set_threads_fn set_threads = (set_threads_fn)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    gomp_parallel_fn gomp_parallel = (gomp_parallel_fn)dlsym(RTLD_DEFAULT, "GOMP_parallel");
    if (d->threads > 0 && set_threads != NULL) set_threads(d->threads);
    if (gomp_parallel != NULL) gomp_parallel(set_ftz_daz, NULL, 0, 0);
#endif
    tl_configured = d->id;
}

static int dnn_err(struct cvb_err *err, int code, dnnl_status_t s, const char *what) {
    return cvb_err_set(err, code, "oneDNN: %s failed: %s", what, dnnl_status2str(s));
}

int cvb__dnn_new(struct cvb__dnn **out, int threads, struct cvb_err *err) {
    int rc = 0;
    dnnl_status_t s;
    struct cvb__dnn *d = calloc(1, sizeof *d);
    *out = NULL;
    if (d == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "oneDNN: out of memory creating the context");
        goto out;
    }
    d->threads = threads > 0 ? threads : 0;
    d->id = atomic_fetch_add(&next_id, 1);
    atomic_store(&dnn_used, true); /* the ISA cap is fixed from here on */
    /* Engine verbosity floods logs (one line per primitive execution): off
     * unless the user asks for it through our own variable. */
    const char *v = getenv("CVB_ONEDNN_VERBOSE");
    int level = v != NULL && *v != '\0' ? atoi(v) : 0;
    dnnl_set_verbose(level < 0 ? 0 : level > 2 ? 2 : level);

    configure_thread(d);
    s = dnnl_engine_create(&d->eng, dnnl_cpu, 0);
    if (s != dnnl_success) {
        rc = dnn_err(err, CVB_EINTERNAL, s, "creating the CPU engine");
        goto out;
    }
    s = dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags);
    if (s != dnnl_success) {
        rc = dnn_err(err, CVB_EINTERNAL, s, "creating a stream");
        goto out;
    }
    s = dnnl_primitive_attr_create(&d->attr);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_scratchpad_mode(d->attr, dnnl_scratchpad_mode_user);
    if (s != dnnl_success) {
        rc = dnn_err(err, CVB_EINTERNAL, s, "creating primitive attributes");
        goto out;
    }
    *out = d;
    d = NULL;
out:
    cvb__dnn_free(d);
    return rc;
}

void cvb__dnn_free(struct cvb__dnn *d) {
    if (d == NULL) return;
    if (d->attr != NULL) dnnl_primitive_attr_destroy(d->attr);
    if (d->stream != NULL) dnnl_stream_destroy(d->stream);
    if (d->eng != NULL) dnnl_engine_destroy(d->eng);
    free(d->scratch);
    free(d);
}

/* ---- plans ------------------------------------------------------------------- */

enum bind_kind { BIND_IN, BIND_OUT, BIND_BUF, BIND_SCRATCH };

struct dnn_bind {
    enum bind_kind kind;
    int idx;    /* input/output index of the node, or plan buffer index */
    size_t off; /* bytes added to the bound pointer (slices of a view) */
};

#define MAX_STEPS 16
#define MAX_BUFS  16

/* A step is a oneDNN primitive or one of our vector kernels (vec.h). */
enum step_kind {
    STEP_PRIM = 0,
    STEP_SILU,   /* SiLU in place over silu_n floats at binds[0] */
    STEP_CONCAT, /* binds[n_args - 1] = rows of binds[0..n_args - 1), row_bytes each */
    STEP_FRAME2, /* binds[1] = the uint8 frame at binds[0] as bfloat16 [x, x], rows pixels */
    STEP_SOFTMAX, /* binds[1] = softmax of binds[0] over the middle axis of sm[3] */
    STEP_CONCAT_U8, /* STEP_CONCAT into uint8: cols values per input, requantised per q8 */
    STEP_ADD_Q8,    /* binds[2] = binds[0] + binds[1], n values, each as q8[0..2] */
    STEP_DFL,       /* binds[1] = the DFL of binds[0], sm[3] = outer, bins, inner */
};

struct dnn_step {
    dnnl_primitive_t prim; /* STEP_PRIM only */
    int kind;              /* enum step_kind */
    int64_t silu_n;
    int silu_isa; /* enum cvb__vec_isa */
    int64_t rows;      /* STEP_CONCAT, STEP_FRAME2 */
    int frame_c;       /* STEP_FRAME2: channels of the frame */
    int64_t sm[3];     /* STEP_SOFTMAX: outer, axis, inner */
    size_t *row_bytes; /* STEP_CONCAT: per input */
    int64_t *cols;     /* STEP_CONCAT_U8: per input */
    struct cvb__vec_q8 *q8; /* STEP_CONCAT_U8: per input, then the output; STEP_ADD_Q8: 3 */
    float *dfl_w;      /* STEP_DFL: the bins' weights (sm[1]), then the bias */
    void **ptrs;       /* our steps: the bound pointers of a run (n_args) */
    int n_args, cap_args;
    dnnl_exec_arg_t *args;  /* memory objects created at prepare, handles set per run */
    struct dnn_bind *binds; /* where each arg's handle comes from */
};

struct dnn_plan {
    enum cvb_op op;
    char impl[128];
    int n_steps;
    struct dnn_step steps[MAX_STEPS];
    int n_bufs;
    void *bufs[MAX_BUFS];
};

void cvb__dnn_release(void *state) {
    struct dnn_plan *p = state;
    if (p == NULL) return;
    for (int i = 0; i < p->n_steps; i++) {
        struct dnn_step *st = &p->steps[i];
        for (int j = 0; j < st->n_args; j++)
            if (st->args[j].memory != NULL) dnnl_memory_destroy(st->args[j].memory);
        if (st->prim != NULL) dnnl_primitive_destroy(st->prim);
        free(st->args);
        free(st->binds);
        free(st->row_bytes);
        free(st->cols);
        free(st->q8);
        free(st->dfl_w);
        free(st->ptrs);
    }
    for (int i = 0; i < p->n_bufs; i++)
        free(p->bufs[i]);
    free(p);
}

const char *cvb__dnn_impl_name(void *state) {
    const struct dnn_plan *p = state;
    return p != NULL ? p->impl : "";
}

/* Everything a per-op builder needs. */
struct prep {
    struct cvb__dnn *d;
    const struct cvb_graph *g;
    const struct cvb_node *n;
    struct dnn_plan *plan;
    struct cvb_err *err;
    const struct cvb__dnn_io *io; /* NULL: every activation plain, no fusion */
    int qsrc_buf1;                /* Conv split in parts: plan buffer + 1 of the quantised
                                     input the first part made (0: none) */
    dnnl_memory_desc_t qsrc_md;   /* its layout */
};

/* Tests only (cvb__dnn_test_refuse_sum): every fused sum is refused. */
static bool refuse_sum;

void cvb__dnn_test_refuse_sum(bool on) { refuse_sum = on; }

/* Tests only (cvb__dnn_test_refuse_matmul_trans): every MatMul reading a
 * transposed operand through strides is refused. */
static bool refuse_matmul_trans;

void cvb__dnn_test_refuse_matmul_trans(bool on) { refuse_matmul_trans = on; }

/* Tests only (cvb__dnn_test_no_winograd): every Conv runs direct. */
static bool no_winograd;

void cvb__dnn_test_no_winograd(bool on) { no_winograd = on; }

/* Tests only (cvb__dnn_test_no_vec_silu): SiLU stays oneDNN's swish. */
static bool no_vec_silu;

void cvb__dnn_test_no_vec_silu(bool on) { no_vec_silu = on; }

/* Tests only (cvb__dnn_test_no_vec_u8): no uint8 step of ours. */
static bool no_vec_u8;

void cvb__dnn_test_no_vec_u8(bool on) { no_vec_u8 = on; }

/* Tests only (cvb__dnn_test_no_dfl): the DFL is not fused. */
static bool no_dfl;

void cvb__dnn_test_no_dfl(bool on) { no_dfl = on; }

static int prep_fail(struct prep *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int prep_fail(struct prep *p, int code, const char *fmt, ...) {
    char msg[CVB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cvb_err_set(p->err, code, "node \"%s\" (%s): oneDNN: %s", p->n->name,
                       cvb__op_name(p->n->op), msg);
}

/* A oneDNN status at prepare time: out of memory is an error; anything else
 * means oneDNN cannot do this node, so the reference kernel will. */
static int prep_status(struct prep *p, dnnl_status_t s, const char *what) {
    return prep_fail(p, s == dnnl_out_of_memory ? CVB_ENOMEM : CVB_EUNSUPPORTED, "%s: %s", what,
                     dnnl_status2str(s));
}

static const struct cvb_tensor *tin(const struct prep *p, int i) {
    if (i >= p->n->n_in || p->n->in[i] < 0) return NULL;
    return &p->g->tensors[p->n->in[i]];
}

static const struct cvb_tensor *tout(const struct prep *p, int i) {
    if (i >= p->n->n_out || p->n->out[i] < 0) return NULL;
    return &p->g->tensors[p->n->out[i]];
}

static bool is_f32(const struct cvb_tensor *t) {
    return t != NULL && t->dtype == CVB_DT_F32 && t->numel > 0;
}

static void *alloc_aligned(size_t bytes) {
    void *ptr = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&ptr, 64, (bytes + 63) & ~(size_t)63) != 0) return NULL;
    return ptr;
}

/* Dense row-major f32 descriptor; a scalar becomes [1]. */
static dnnl_status_t md_plain(dnnl_memory_desc_t *md, int nd, const int64_t *dims) {
    dnnl_dims_t dd, st;
    if (nd == 0) {
        nd = 1;
        dd[0] = 1;
    } else {
        for (int i = 0; i < nd; i++)
            dd[i] = dims[i];
    }
    st[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--)
        st[i] = st[i + 1] * dd[i + 1];
    return dnnl_memory_desc_init_by_strides(md, nd, dd, dnnl_f32, st);
}

static dnnl_status_t md_flat(dnnl_memory_desc_t *md, int64_t numel) {
    return md_plain(md, 1, &numel);
}

/* Layout the executor gave tensor 't' (plain without an io). */
static int layout_of(const struct prep *p, const struct cvb_tensor *t) {
    if (p->io == NULL || p->io->layout == NULL || t == NULL) return CVB__LAYOUT_PLAIN;
    return p->io->layout[t - p->g->tensors];
}

/* Descriptor of 'dims' in layout 'layout' (dense row-major, nChw16c/8c or
 * NHWC) with element type 'dt'. */
static dnnl_status_t md_layout_dt(dnnl_memory_desc_t *md, int nd, const int64_t *dims, int layout,
                                  dnnl_data_type_t dt) {
    if ((layout == CVB__LAYOUT_PLAIN || nd != 4) && dt == dnnl_f32) return md_plain(md, nd, dims);
    if (layout == CVB__LAYOUT_PLAIN || nd != 4) return dnnl_invalid_arguments;
    dnnl_dims_t dd = {dims[0], dims[1], dims[2], dims[3]};
    return dnnl_memory_desc_init_by_tag(md, 4, dd, dt,
                                        layout == CVB__LAYOUT_BLK8   ? dnnl_nChw8c
                                        : layout == CVB__LAYOUT_NHWC ? dnnl_nhwc
                                                                     : dnnl_nChw16c);
}

/* float32 'dims' in layout 'layout'. */
static dnnl_status_t md_layout(dnnl_memory_desc_t *md, int nd, const int64_t *dims, int layout) {
    return md_layout_dt(md, nd, dims, layout, dnnl_f32);
}

/* Elements of activation 't' as stored (cvb__act_elems). */
static int64_t act_elems(const struct prep *p, const struct cvb_tensor *t) {
    return cvb__act_elems(t, layout_of(p, t));
}

/* Is activation 't' stored as bfloat16 (bf16 plans, struct cvb__dnn_act)? */
static bool act_bf16(const struct prep *p, const struct cvb_tensor *t) {
    return p->io != NULL && p->io->act != NULL && t != NULL && p->io->act[t - p->g->tensors].bf16;
}

/* Descriptor of activation 't' in the layout and element type the
 * executor gave it. */
static dnnl_status_t md_act(const struct prep *p, dnnl_memory_desc_t *md,
                            const struct cvb_tensor *t) {
    return md_layout_dt(md, t->ndim, t->dims, layout_of(p, t),
                        act_bf16(p, t) ? dnnl_bf16 : dnnl_f32);
}

/* True when every activation (non-constant) input and output of the node
 * has the same layout; *layout gets it. */
static bool same_layout(const struct prep *p, int *layout) {
    int l = -1;
    for (int i = 0; i < p->n->n_in + p->n->n_out; i++) {
        const struct cvb_tensor *t = i < p->n->n_in ? tin(p, i) : tout(p, i - p->n->n_in);
        if (t == NULL || t->data != NULL) continue;
        int li = layout_of(p, t);
        if (l >= 0 && li != l) return false;
        l = li;
    }
    *layout = l < 0 ? CVB__LAYOUT_PLAIN : l;
    return true;
}

static int plan_buf(struct prep *p, size_t bytes, int *idx) {
    struct dnn_plan *pl = p->plan;
    if (pl->n_bufs == MAX_BUFS) return prep_fail(p, CVB_EINTERNAL, "too many plan buffers");
    void *b = alloc_aligned(bytes);
    if (b == NULL) return prep_fail(p, CVB_ENOMEM, "out of memory (%zu-byte buffer)", bytes);
    pl->bufs[pl->n_bufs] = b;
    *idx = pl->n_bufs++;
    return 0;
}

/* Create a step for primitive descriptor 'pd' with room for 'n_args'
 * arguments besides the scratchpad, which is bound here when needed. The
 * first step created with is_main names the plan's implementation. */
static int step_new(struct prep *p, const_dnnl_primitive_desc_t pd, int n_args, bool is_main,
                    struct dnn_step **out) {
    struct dnn_plan *pl = p->plan;
    int rc = 0;
    dnnl_status_t s;
    if (pl->n_steps == MAX_STEPS) return prep_fail(p, CVB_EINTERNAL, "too many steps");
    struct dnn_step *st = &pl->steps[pl->n_steps++];
    st->cap_args = n_args + 1;
    st->args = calloc((size_t)st->cap_args, sizeof *st->args);
    st->binds = calloc((size_t)st->cap_args, sizeof *st->binds);
    if (st->args == NULL || st->binds == NULL) {
        rc = prep_fail(p, CVB_ENOMEM, "out of memory");
        goto out;
    }
    if (is_main) {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success &&
            impl != NULL)
            snprintf(pl->impl, sizeof pl->impl, "%s", impl);
        /* oneDNN's "ref" kernels are 10-1000x slower than its jit ones, and
         * for the light ops slower than our plain C (softmax: 45 ms vs
         * 6 ms). Convolution and matmul keep them: still correct. */
        if (strncmp(pl->impl, "ref", 3) == 0 && pl->op != CVB_OP_CONV && pl->op != CVB_OP_MATMUL) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "only the slow reference implementation (%s)",
                           pl->impl);
            goto out;
        }
    }
    s = dnnl_primitive_create(&st->prim, pd);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "creating the primitive");
        goto out;
    }
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sbytes = smd != NULL ? dnnl_memory_desc_get_size(smd) : 0;
    if (sbytes > 0) {
        struct cvb__dnn *d = p->d;
        if (sbytes > d->scratch_bytes) {
            void *b = alloc_aligned(sbytes);
            if (b == NULL) {
                rc = prep_fail(p, CVB_ENOMEM, "out of memory (%zu-byte scratchpad)", sbytes);
                goto out;
            }
            free(d->scratch);
            d->scratch = b;
            d->scratch_bytes = sbytes;
        }
        s = dnnl_memory_create(&st->args[0].memory, smd, d->eng, DNNL_MEMORY_NONE);
        if (s != dnnl_success) {
            rc = prep_status(p, s, "creating the scratchpad memory");
            goto out;
        }
        st->args[0].arg = DNNL_ARG_SCRATCHPAD;
        st->binds[0] = (struct dnn_bind){BIND_SCRATCH, 0, 0};
        st->n_args = 1;
    }
    *out = st;
out:
    return rc;
}

/* Append argument 'arg' (DNNL_ARG_*) with layout 'md', bound to 'b'. */
static int step_arg(struct prep *p, struct dnn_step *st, int arg, const dnnl_memory_desc_t *md,
                    struct dnn_bind b) {
    if (st->n_args == st->cap_args) return prep_fail(p, CVB_EINTERNAL, "too many arguments");
    dnnl_status_t s =
        dnnl_memory_create(&st->args[st->n_args].memory, md, p->d->eng, DNNL_MEMORY_NONE);
    if (s != dnnl_success) return prep_status(p, s, "creating a memory object");
    st->args[st->n_args].arg = arg;
    st->binds[st->n_args] = b;
    st->n_args++;
    return 0;
}

/* Add a step that reorders 'src' (layout 'from') into 'dst' (layout 'to'),
 * with attributes 'attr' (NULL: the context's). */
static int step_reorder_attr(struct prep *p, const dnnl_memory_desc_t *from, struct dnn_bind src,
                             const dnnl_memory_desc_t *to, struct dnn_bind dst,
                             const_dnnl_primitive_attr_t attr) {
    dnnl_primitive_desc_t rpd = NULL;
    struct dnn_step *st;
    int rc;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&rpd, from, p->d->eng, to, p->d->eng,
                                                         attr != NULL ? attr : p->d->attr);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "creating a reorder");
        goto out;
    }
    rc = step_new(p, rpd, 2, false, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_FROM, from, src);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_TO, to, dst);
out:
    if (rpd != NULL) dnnl_primitive_desc_destroy(rpd);
    return rc;
}

static int step_reorder(struct prep *p, const dnnl_memory_desc_t *from, struct dnn_bind src,
                        const dnnl_memory_desc_t *to, struct dnn_bind dst) {
    return step_reorder_attr(p, from, src, to, dst, NULL);
}

/* v rounded to bfloat16 (to nearest, ties to even), as float32; v finite */
static float bf16_round(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Reorder constant data 'data' (layout 'from') into a new plan buffer of
 * layout 'to', now. */
static int const_reorder(struct prep *p, const void *data, const dnnl_memory_desc_t *from,
                         const dnnl_memory_desc_t *to, int *buf) {
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t rp = NULL;
    dnnl_memory_t mf = NULL, mt = NULL;
    int rc = plan_buf(p, dnnl_memory_desc_get_size(to), buf);
    if (rc < 0) goto out;
    dnnl_status_t s =
        dnnl_reorder_primitive_desc_create(&rpd, from, p->d->eng, to, p->d->eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&rp, rpd);
    if (s == dnnl_success) s = dnnl_memory_create(&mf, from, p->d->eng, (void *)data);
    if (s == dnnl_success) s = dnnl_memory_create(&mt, to, p->d->eng, p->plan->bufs[*buf]);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, mf}, {DNNL_ARG_TO, mt}};
        s = dnnl_primitive_execute(rp, p->d->stream, 2, args);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(p->d->stream);
    if (s != dnnl_success) rc = prep_status(p, s, "reordering constant weights");
out:
    if (mf != NULL) dnnl_memory_destroy(mf);
    if (mt != NULL) dnnl_memory_destroy(mt);
    if (rp != NULL) dnnl_primitive_destroy(rp);
    if (rpd != NULL) dnnl_primitive_desc_destroy(rpd);
    return rc;
}

/* Bind node input 'i' (dense layout 'plain') for a primitive that wants it
 * in layout 'want'. Equal layouts bind the input directly; otherwise a
 * constant is converted now and a run-time input gets a reorder step (which
 * must therefore be called before the main step is created). */
static int bind_input(struct prep *p, int i, const dnnl_memory_desc_t *plain,
                      const dnnl_memory_desc_t *want, struct dnn_bind *b) {
    int rc = 0, buf;
    if (dnnl_memory_desc_equal(plain, want)) {
        *b = (struct dnn_bind){BIND_IN, i, 0};
        goto out;
    }
    const struct cvb_tensor *t = tin(p, i);
    if (t->data != NULL) {
        rc = const_reorder(p, t->data, plain, want, &buf);
    } else {
        rc = plan_buf(p, dnnl_memory_desc_get_size(want), &buf);
        if (rc == 0)
            rc = step_reorder(p, plain, (struct dnn_bind){BIND_IN, i, 0}, want,
                              (struct dnn_bind){BIND_BUF, buf, 0});
    }
    if (rc == 0) *b = (struct dnn_bind){BIND_BUF, buf, 0};
out:
    return rc;
}

/* Like bind_input for run-time input 'i' whose actual layout is 'have'. */
static int bind_input_md(struct prep *p, int i, const dnnl_memory_desc_t *have,
                         const dnnl_memory_desc_t *want, struct dnn_bind *b) {
    int rc = 0, buf;
    if (dnnl_memory_desc_equal(have, want) || tin(p, i)->data != NULL)
        return bind_input(p, i, have, want, b);
    rc = plan_buf(p, dnnl_memory_desc_get_size(want), &buf);
    if (rc == 0)
        rc = step_reorder(p, have, (struct dnn_bind){BIND_IN, i, 0}, want,
                          (struct dnn_bind){BIND_BUF, buf, 0});
    if (rc == 0) *b = (struct dnn_bind){BIND_BUF, buf, 0};
    return rc;
}

/* Create the primitive descriptor for op descriptor 'od' with the context's
 * attributes (or 'attr'). */
static int pd_create(struct prep *p, const_dnnl_op_desc_t od, const_dnnl_primitive_attr_t attr,
                     dnnl_primitive_desc_t *pd) {
    dnnl_status_t s =
        dnnl_primitive_desc_create(pd, od, attr != NULL ? attr : p->d->attr, p->d->eng, NULL);
    if (s != dnnl_success) {
        *pd = NULL;
        return prep_status(p, s, "no implementation for this configuration");
    }
    return 0;
}

/* ---- spatial geometry (Conv, MaxPool) --------------------------------------- */

struct geom {
    int sp;             /* spatial rank */
    dnnl_dims_t stride; /* ONNX strides */
    dnnl_dims_t dil;    /* ONNX dilations (>= 1) */
    dnnl_dims_t pl, pr; /* begin/end padding as oneDNN needs it */
};

/* Read strides, dilations and pads of node 'n' (auto_pad included) for
 * input spatial dims 'in', kernel 'k' and the inferred output 'outd'. oneDNN
 * needs out == (in + pl + pr - kext) / s + 1 exactly; for a pooling node
 * with ceil_mode the end padding is grown so the last (partial) window
 * fits -- max pooling ignores padded positions, as ONNX does. */
static int read_geom(struct prep *p, int sp, const int64_t *in, const int64_t *k,
                     const int64_t *outd, bool pool, struct geom *gm) {
    const struct cvb_node *n = p->n;
    const int64_t *v;
    int cnt;
    gm->sp = sp;
    cnt = cvb__attr_ints(n, "strides", &v);
    if (cnt >= 0 && cnt != sp) return prep_fail(p, CVB_EUNSUPPORTED, "strides has %d values", cnt);
    for (int i = 0; i < sp; i++)
        gm->stride[i] = cnt > 0 ? v[i] : 1;
    cnt = cvb__attr_ints(n, "dilations", &v);
    if (cnt >= 0 && cnt != sp)
        return prep_fail(p, CVB_EUNSUPPORTED, "dilations has %d values", cnt);
    for (int i = 0; i < sp; i++)
        gm->dil[i] = cnt > 0 ? v[i] : 1;
    const char *ap = cvb__attr_str(n, "auto_pad", "NOTSET");
    cnt = cvb__attr_ints(n, "pads", &v);
    if (cnt >= 0 && cnt != 2 * sp) return prep_fail(p, CVB_EUNSUPPORTED, "pads has %d values", cnt);
    for (int i = 0; i < sp; i++) {
        if (gm->stride[i] < 1 || gm->dil[i] < 1 || k[i] < 1)
            return prep_fail(p, CVB_EUNSUPPORTED, "non-positive stride, dilation or kernel");
        int64_t kext = (k[i] - 1) * gm->dil[i] + 1;
        if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
            int64_t total = (outd[i] - 1) * gm->stride[i] + kext - in[i];
            if (total < 0) total = 0;
            gm->pl[i] = strcmp(ap, "SAME_UPPER") == 0 ? total / 2 : total - total / 2;
            gm->pr[i] = total - gm->pl[i];
        } else if (strcmp(ap, "VALID") == 0) {
            gm->pl[i] = gm->pr[i] = 0;
        } else if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0') {
            gm->pl[i] = cnt > 0 ? v[i] : 0;
            gm->pr[i] = cnt > 0 ? v[sp + i] : 0;
        } else {
            return prep_fail(p, CVB_EUNSUPPORTED, "auto_pad '%s'", ap);
        }
        if (gm->pl[i] < 0 || gm->pr[i] < 0)
            return prep_fail(p, CVB_EUNSUPPORTED, "negative padding");
        /* End padding that makes the last window end exactly at the edge. */
        int64_t need = (outd[i] - 1) * gm->stride[i] + kext - in[i] - gm->pl[i];
        if (gm->pr[i] < need) {
            if (!pool)
                return prep_fail(p, CVB_EUNSUPPORTED, "output size inconsistent with padding");
            /* ceil_mode: the last window must still start inside the data or
             * the begin padding, else ONNX and oneDNN disagree on it. */
            if ((outd[i] - 1) * gm->stride[i] - gm->pl[i] >= in[i])
                return prep_fail(p, CVB_EUNSUPPORTED, "a pooling window lies wholly in padding");
            gm->pr[i] = need;
        } else if (gm->pr[i] >= need + gm->stride[i]) {
            return prep_fail(p, CVB_EUNSUPPORTED, "output size inconsistent with padding");
        }
    }
    return 0;
}

/* ---- Conv -------------------------------------------------------------------- */

/* Precision of this Conv as the executor asked (float32 without an io). */
static const struct cvb__dnn_quant *conv_quant(const struct prep *p) {
    return p->io != NULL && p->io->quant != NULL && p->io->quant->prec != CVB__PREC_F32
               ? p->io->quant
               : NULL;
}

/* Storage of activation 't' in an int8 plan; NULL: float32. */
static const struct cvb__dnn_act *act_u8(const struct prep *p, const struct cvb_tensor *t) {
    if (p->io == NULL || p->io->act == NULL || t == NULL) return NULL;
    const struct cvb__dnn_act *a = &p->io->act[t - p->g->tensors];
    return a->u8 ? a : NULL;
}

/* Attributes of a reorder quantising float32 to uint8: x / scale + zp,
 * rounded and saturated (*out: a clone of the context's, to destroy). */
static dnnl_status_t quant_attr(struct prep *p, float scale, int32_t zp,
                                dnnl_primitive_attr_t *out) {
    float inv = 1.f / scale;
    dnnl_status_t s = dnnl_primitive_attr_clone(out, p->d->attr);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_output_scales(*out, 1, 0, &inv);
    if (s == dnnl_success && zp != 0)
        s = dnnl_primitive_attr_set_zero_points(*out, DNNL_ARG_DST, 1, 0, &zp);
    return s;
}

/* All ONNX attribute values 'name' of node n equal to 1 (absent counts). */
static bool attr_all_one(const struct cvb_node *n, const char *name) {
    const int64_t *v;
    int cnt = cvb__attr_ints(n, name, &v);
    for (int i = 0; i < cnt; i++)
        if (v[i] != 1) return false;
    return true;
}

/* Winograd convolution (oneDNN's jit_fp32_wino_2x3 / jit_wino_4x3): a
 * float32 3x3 stride-1 Conv between nChw16c activations whose channel
 * counts are multiples of 16 does 2.25-4x fewer multiplications. On Zen 4
 * (2 threads, notes/onednn.md) its kernels ran the C2f/C3k2 bottleneck
 * shapes 1.4-2x faster than the direct ones (64->64 at 80x80: 1.19 vs
 * 2.44 ms). They take no SiLU post-op (ReLU only), so SiLU then runs as a
 * step after it (ours, step_vec_silu, or oneDNN's eltwise, step_swish). A
 * fused sum stays direct: it accumulates after the activation. */
bool cvb__dnn_winograd_conv(const struct cvb_graph *g, const struct cvb_node *n) {
    if (no_winograd || n->op != CVB_OP_CONV || n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0 ||
        n->n_out < 1 || n->out[0] < 0)
        return false;
    const struct cvb_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]],
                            *y = &g->tensors[n->out[0]];
    const struct cvb_tensor *b = n->n_in > 2 && n->in[2] >= 0 ? &g->tensors[n->in[2]] : NULL;
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return (isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core && x->ndim == 4 &&
           w->ndim == 4 && y->ndim == 4 && cvb__attr_int(n, "group", 1) == 1 &&
           w->data != NULL && (b == NULL || b->data != NULL) && w->dims[2] == 3 &&
           w->dims[3] == 3 && attr_all_one(n, "strides") && attr_all_one(n, "dilations") &&
           x->dims[1] % 16 == 0 && y->dims[1] % 16 == 0;
}

static bool wino_candidate(const struct prep *p, const struct cvb_tensor *x,
                           const struct cvb_tensor *y, unsigned post, bool lowp) {
    return !lowp && cvb__dnn_winograd_conv(p->g, p->n) && layout_of(p, x) == CVB__LAYOUT_BLK16 &&
           layout_of(p, y) == CVB__LAYOUT_BLK16 && !(post & CVB__POST_SUM);
}

/* The Winograd primitive for these tensors (*pd), or *pd NULL where oneDNN
 * has none (CPU without AVX-512, shape outside its kernels). */
static int try_winograd(struct prep *p, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                        const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst,
                        const struct geom *gm, unsigned post, dnnl_primitive_desc_t *pd) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_dims_t strides = {1, 1}, dil = {0, 0}, pl = {gm->pl[0], gm->pl[1]},
                pr = {gm->pr[0], gm->pr[1]};
    dnnl_convolution_desc_t cd;
    *pd = NULL;
    dnnl_status_t s = dnnl_primitive_attr_clone(&attr, p->d->attr);
    if (s == dnnl_success && (post & CVB__POST_RELU)) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success) s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s == dnnl_success)
        s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                       dnnl_convolution_winograd, src, wei, bias,
                                                       dst, strides, dil, pl, pr);
    int rc = 0;
    dnnl_primitive_desc_iterator_t it = NULL;
    if (s != dnnl_success) {
        rc = prep_status(p, s, "winograd convolution descriptor");
    } else if (dnnl_primitive_desc_iterator_create(&it, &cd, attr, p->d->eng, NULL) !=
               dnnl_success) {
        it = NULL; /* not implemented here: the direct kernels */
    } else {
        /* oneDNN's first choice is jit_fp32_wino_2x3 at batch 1 and
         * jit_wino_4x3 at larger batches; 4x3 was faster at batch 1 too
         * (1.2-1.5x on the YOLO shapes, notes/onednn.md) and takes the same
         * shapes, so it is taken wherever it is offered: one algorithm at
         * every batch size, so an item's output does not depend on its batch */
        *pd = dnnl_primitive_desc_iterator_fetch(it);
        while (dnnl_primitive_desc_iterator_next(it) == dnnl_success) {
            dnnl_primitive_desc_t alt = dnnl_primitive_desc_iterator_fetch(it);
            const char *impl = NULL;
            if (alt != NULL)
                dnnl_primitive_desc_query(alt, dnnl_query_impl_info_str, 0, &impl);
            if (impl != NULL && strstr(impl, "wino_4x3") != NULL) {
                dnnl_primitive_desc_destroy(*pd);
                *pd = alt;
                break;
            }
            if (alt != NULL) dnnl_primitive_desc_destroy(alt);
        }
    }
    if (*pd == NULL) {
        /* none: the direct kernels */
    } else if (!dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(*pd, dnnl_query_src_md, 0), src) ||
               !dnnl_memory_desc_equal(dnnl_primitive_desc_query_md(*pd, dnnl_query_dst_md, 0), dst)) {
        dnnl_primitive_desc_destroy(*pd); /* never reorders around it */
        *pd = NULL;
    }
    if (it != NULL) dnnl_primitive_desc_iterator_destroy(it);
    if (po != NULL) dnnl_post_ops_destroy(po);
    if (attr != NULL) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* SiLU in place on output 0 ('y', in its planned layout): the activation a
 * Winograd convolution cannot fuse. */
static int step_swish(struct prep *p, const struct cvb_tensor *y) {
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t md;
    dnnl_eltwise_desc_t ed;
    struct dnn_step *st;
    int rc;
    dnnl_status_t s = md_flat(&md, act_elems(p, y));
    if (s == dnnl_success)
        s = dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_swish, &md,
                                           1.f, 0.f);
    if (s != dnnl_success) return prep_status(p, s, "SiLU descriptor");
    rc = pd_create(p, &ed, NULL, &pd);
    if (rc == 0) rc = step_new(p, pd, 2, false, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &md, (struct dnn_bind){BIND_OUT, 0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &md, (struct dnn_bind){BIND_OUT, 0, 0});
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    if (rc == 0) {
        size_t l = strlen(p->plan->impl);
        snprintf(p->plan->impl + l, sizeof p->plan->impl - l, "+swish");
    }
    return rc;
}

/* The instruction set of our SiLU step (vec.h) for this plan, or NONE
 * (oneDNN's swish then): the CPU's best, within the ISA oneDNN may use. */
static int vec_silu_isa(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    int cpu = cvb__vec_cpu_isa();
    if (no_vec_silu) return CVB__VEC_NONE;
    if ((isa & dnnl_cpu_isa_avx512_core) == dnnl_cpu_isa_avx512_core) return cpu;
    if ((isa & dnnl_cpu_isa_avx2) == dnnl_cpu_isa_avx2)
        return cpu < CVB__VEC_AVX2 ? cpu : CVB__VEC_AVX2;
    return CVB__VEC_NONE;
}

bool cvb__dnn_vec_u8(void) { return !no_vec_u8 && vec_silu_isa() == CVB__VEC_AVX512; }

bool cvb__dnn_dfl_ok(void) { return !no_dfl && vec_silu_isa() == CVB__VEC_AVX512; }

/* A step of ours (no primitive) with n_args bound pointers. */
static int step_own(struct prep *p, int kind, int n_args, struct dnn_step **out) {
    struct dnn_plan *pl = p->plan;
    if (pl->n_steps == MAX_STEPS) return prep_fail(p, CVB_EINTERNAL, "too many steps");
    struct dnn_step *st = &pl->steps[pl->n_steps++]; /* released with the plan */
    st->kind = kind;
    st->args = calloc((size_t)n_args, sizeof *st->args);
    st->binds = calloc((size_t)n_args, sizeof *st->binds);
    st->ptrs = calloc((size_t)n_args, sizeof *st->ptrs);
    if (st->args == NULL || st->binds == NULL || st->ptrs == NULL)
        return prep_fail(p, CVB_ENOMEM, "out of memory");
    st->cap_args = st->n_args = n_args;
    *out = st;
    return 0;
}

/* SiLU in place on output 0 ('y', every element as stored: zero padding
 * stays zero) as our vector step. */
static int step_vec_silu(struct prep *p, const struct cvb_tensor *y, int isa) {
    struct dnn_plan *pl = p->plan;
    struct dnn_step *st;
    int rc = step_own(p, STEP_SILU, 1, &st);
    if (rc < 0) return rc;
    st->binds[0] = (struct dnn_bind){BIND_OUT, 0, 0};
    st->silu_n = act_elems(p, y);
    st->silu_isa = isa;
    size_t l = strlen(pl->impl);
    snprintf(pl->impl + l, sizeof pl->impl - l, "+silu");
    return 0;
}

/* Conv in float32, bfloat16 or int8 (conv_quant). The activations the
 * executor hands over are float32 in its layout, unless it stores them
 * lower (struct cvb__dnn_act: u8, or bf16 NHWC, read and written as they
 * are); a bf16/int8 plan converts a float32 input on the way in (a reorder
 * step into a plan buffer: to bf16, or quantised to u8 NHWC with the
 * calibrated scale and zero point) and writes float32 or the stored type. int8 details: oneDNN 2.6 applies the output scale after the
 * bias, dst = oscale * (acc + bias), so the bias is passed divided by
 * src_scale * w_scale[oc]; the input zero point is a run-time attribute
 * (padding then reads as the zero point, i.e. real 0, as ONNX's QLinearConv). */
static int prep_conv_part(struct prep *p, int part) {
    const struct cvb_tensor *x = tin(p, 0), *w = tin(p, 1), *b = tin(p, 2), *y = tout(p, 0);
    /* part >= 0: output channels [o0, o0 + y's) into the absorbed Split's
     * output 'part' (out[part] at run time) */
    int out_idx = 0;
    int64_t o0 = 0;
    if (part >= 0) {
        for (int k = 0; k < part; k++) o0 += p->g->tensors[p->io->split_out[k]].dims[1];
        y = &p->g->tensors[p->io->split_out[part]];
        out_idx = part;
    }
    const struct cvb__dnn_quant *q = conv_quant(p);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL, qattr = NULL;
    dnnl_post_ops_t po = NULL;
    struct dnn_step *st;
    struct geom gm;
    int8_t *wq = NULL;
    float *wscale = NULL, *oscale = NULL;
    int rc = 0;
    if (!is_f32(x) || !is_f32(w) || !is_f32(y) || (b != NULL && !is_f32(b))) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 convolutions");
        goto out;
    }
    int nd = x->ndim, sp = nd - 2;
    if (nd < 3 || nd > 5 || w->ndim != nd || y->ndim != nd) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only 1-D, 2-D and 3-D convolutions");
        goto out;
    }
    bool int8 = q != NULL && q->prec == CVB__PREC_INT8, bf16 = q != NULL && q->prec == CVB__PREC_BF16;
    /* uint8 activations (int8 plans): the input is already quantised with
     * the Conv's own scale; the output is written quantised */
    const struct cvb__dnn_act *ax = act_u8(p, x), *ay = act_u8(p, y);
    unsigned post = p->io != NULL ? p->io->post : 0;
    if ((post & CVB__POST_SUM) && refuse_sum) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "fused sum refused (test hook)");
        goto out;
    }
    if ((ax != NULL || ay != NULL) &&
        (!int8 || (post & CVB__POST_SUM) ||
         (ax != NULL && (ax->scale != q->src_scale || ax->zp != q->src_zp)) ||
         (ay != NULL && (!(ay->scale > 0.f) || ay->zp < 0 || ay->zp > 255)))) {
        rc = prep_fail(p, CVB_EINTERNAL, "uint8 activations need an int8 convolution without a "
                       "fused sum, reading its input with its own scale");
        goto out;
    }
    if (int8 && (nd != 4 || x->dims[0] < 1 || w->data == NULL || !(q->src_scale > 0.f) ||
                 q->src_zp < 0 || q->src_zp > 255)) {
        rc = prep_fail(p, CVB_EINVAL, "int8 needs a 2-D convolution with constant "
                       "weights and a valid input scale (got scale %g, zero point %d)",
                       (double)q->src_scale, (int)q->src_zp);
        goto out;
    }
    if ((act_bf16(p, x) || act_bf16(p, y)) && (!bf16 || (act_bf16(p, y) && (post & CVB__POST_SUM)))) {
        rc = prep_fail(p, CVB_EINTERNAL, "bfloat16 activations need a bf16 convolution (and a "
                       "fused sum's output stays float32)");
        goto out;
    }
    if (bf16 && w->data == NULL) {
        rc = prep_fail(p, CVB_EINVAL, "bf16 needs constant weights");
        goto out;
    }
    bool x2 = bf16 && q->frame_x2; /* reads the frame as bfloat16 [x, x] */
    if (x2 && (nd != 4 || part >= 0 || cvb__attr_int(p->n, "group", 1) != 1 ||
               (post & CVB__POST_SUM) || !act_bf16(p, x))) {
        rc = prep_fail(p, CVB_EINTERNAL, "a bf16 frame convolution is 2-D, reads the frame "
                       "stored as bfloat16, has no groups or fused sum and absorbs no split");
        goto out;
    }
    int64_t group = cvb__attr_int(p->n, "group", 1);
    int64_t c = x->dims[1], m = part >= 0 ? y->dims[1] : w->dims[0];
    if (part >= 0 && (!(int8 || bf16) || group != 1 || o0 + m > w->dims[0] ||
                      (post & CVB__POST_SUM))) {
        rc = prep_fail(p, CVB_EINTERNAL, "only an int8 or bf16 convolution without groups or "
                       "a fused sum absorbs a split of its output");
        goto out;
    }
    if (group < 1 || c != w->dims[1] * group || m % group != 0 || y->dims[1] != m ||
        y->dims[0] != x->dims[0] || (b != NULL && b->numel != w->dims[0])) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "inconsistent channel counts");
        goto out;
    }
    const int64_t *ks;
    int nks = cvb__attr_ints(p->n, "kernel_shape", &ks);
    for (int i = 0; i < nks; i++)
        if (nks != sp || ks[i] != w->dims[2 + i]) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "kernel_shape disagrees with the weights");
            goto out;
        }
    rc = read_geom(p, sp, x->dims + 2, w->dims + 2, y->dims + 2, false, &gm);
    if (rc < 0) goto out;

    dnnl_memory_desc_t src_md, dst_md, wplain_md, wany_md, bias_md, csrc_md;
    int64_t wd[CVB_MAX_DIMS + 1];
    int wnd = 0;
    if (group > 1) wd[wnd++] = group;
    wd[wnd++] = m / group;
    wd[wnd++] = (x2 ? 2 : 1) * c / group;
    for (int i = 0; i < sp; i++)
        wd[wnd++] = w->dims[2 + i];
    dnnl_dims_t strides, dil, pl, pr, wdims, xdims;
    for (int i = 0; i < sp; i++) {
        strides[i] = gm.stride[i];
        dil[i] = gm.dil[i] - 1; /* oneDNN counts the gaps */
        pl[i] = gm.pl[i];
        pr[i] = gm.pr[i];
    }
    for (int i = 0; i < wnd; i++)
        wdims[i] = wd[i];
    for (int i = 0; i < nd; i++)
        xdims[i] = x->dims[i];
    if (x2) xdims[1] *= 2;
    dnnl_data_type_t wdt = int8 ? dnnl_s8 : bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_dims_t ydims;
    for (int i = 0; i < nd; i++)
        ydims[i] = y->dims[i];
    dnnl_status_t s = ax != NULL ? dnnl_memory_desc_init_by_tag(&src_md, nd, xdims, dnnl_u8, dnnl_nhwc)
                      : x2       ? dnnl_memory_desc_init_by_tag(&src_md, nd, xdims, dnnl_bf16, dnnl_nhwc)
                                 : md_act(p, &src_md, x);
    if (s == dnnl_success)
        s = ay != NULL ? dnnl_memory_desc_init_by_tag(&dst_md, nd, ydims, dnnl_u8, dnnl_nhwc)
                       : md_act(p, &dst_md, y);
    if (s == dnnl_success) s = md_plain(&wplain_md, wnd, wd);
    if (s == dnnl_success && int8) {
        dnnl_dims_t pd_;
        for (int i = 0; i < wnd; i++) pd_[i] = wd[i];
        s = dnnl_memory_desc_init_by_tag(&wplain_md, wnd, pd_, dnnl_s8,
                                         wnd == 4 ? dnnl_oihw : dnnl_goihw);
    }
    if (s == dnnl_success) s = md_flat(&bias_md, m);
    /* the convolution's own source: the activation, or its u8/bf16 copy */
    csrc_md = src_md;
    if (s == dnnl_success && int8)
        s = dnnl_memory_desc_init_by_tag(&csrc_md, nd, xdims, dnnl_u8, dnnl_nhwc);
    if (s == dnnl_success && bf16)
        s = dnnl_memory_desc_init_by_tag(&csrc_md, nd, xdims, dnnl_bf16, dnnl_format_tag_any);
    /* Constant weights may take the layout the kernel likes (converted once,
     * here); run-time weights stay plain. */
    if (s == dnnl_success) {
        if (w->data != NULL)
            s = dnnl_memory_desc_init_by_tag(&wany_md, wnd, wdims, wdt, dnnl_format_tag_any);
        else
            wany_md = wplain_md;
    }
    if (s != dnnl_success) {
        rc = prep_status(p, s, "describing the tensors");
        goto out;
    }
    if (int8) {
        int64_t per = w->numel / w->dims[0]; /* weights per output channel */
        wq = malloc((size_t)w->numel);
        wscale = malloc((size_t)m * sizeof *wscale);
        oscale = malloc((size_t)m * sizeof *oscale);
        if (wq == NULL || wscale == NULL || oscale == NULL) {
            rc = prep_fail(p, CVB_ENOMEM, "out of memory quantising weights");
            goto out;
        }
        (q->w_fit ? cvb__quant_weights_fit : cvb__quant_weights)((const float *)w->data + o0 * per,
                                                                  m, per, wq, wscale);
        for (int64_t o = 0; o < m; o++) oscale[o] = q->src_scale * wscale[o];
    }
    /* Fused post-ops (executor's passes): SiLU = swish(alpha 1), ReLU, and
     * the residual sum (the output buffer already holds the addend). A
     * uint8 output then gets x / scale + zp (a linear post-op: the
     * activation must see real values), rounded and saturated by the
     * kernel's store, as the quantise reorder of the consumer did before. */
    /* SiLU into a float32 output (any precision of the conv) without a
     * fused sum after it: our vector step over that output */
    int silu_isa = (post & CVB__POST_SWISH) && !(post & CVB__POST_SUM) && part < 0 &&
                           ay == NULL && !act_bf16(p, y)
                       ? vec_silu_isa()
                       : CVB__VEC_NONE;
    bool own_silu = silu_isa != CVB__VEC_NONE;
    if (post != 0 || int8) {
        s = dnnl_primitive_attr_clone(&attr, p->d->attr);
        if (s == dnnl_success && int8)
            s = dnnl_primitive_attr_set_output_scales(attr, m, 1 << 1, oscale);
        if (s == dnnl_success && int8 && q->src_zp != 0) {
            const int32_t rt = DNNL_RUNTIME_S32_VAL;
            s = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &rt);
        }
        if (s == dnnl_success) s = dnnl_post_ops_create(&po);
        if (s == dnnl_success && (post & CVB__POST_SWISH) && !own_silu)
            s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_swish, 1.f, 0.f);
        if (s == dnnl_success && (post & CVB__POST_RELU))
            s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
        if (s == dnnl_success && (post & CVB__POST_SUM)) s = dnnl_post_ops_append_sum(po, 1.f);
        if (s == dnnl_success && ay != NULL)
            s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_linear, 1.f / ay->scale,
                                             (float)ay->zp);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
        if (s != dnnl_success) {
            rc = prep_status(p, s, "post-ops and scales");
            goto out;
        }
    }
    /* First with the layouts the executor chose; if that only has a
     * reference kernel (e.g. plain source into a blocked output), let the
     * kernel pick both layouts and convert around it. A fused sum cannot
     * be converted around: the kernel accumulates into the addend, in the
     * planned output layout. So when the kernel's choice of output differs,
     * the third attempt lets it pick only the source layout (reordered on
     * the way in) and keeps the planned output; if that only has a
     * reference kernel too, the fused sum is refused (the engine then
     * plans this Conv without it). */
    /* A grouped (depthwise) convolution in the plain layout gets only
     * oneDNN's gemm kernel (~6 GFLOP/s: YOLO12's 7x7 attention position
     * convs); with the layouts of its choice it has a direct jit kernel, and
     * the reorders around it cost far less. So a gemm answer there without a
     * fused sum tries attempt 1 too, and comes back to attempt 0 ("again")
     * when that is no better. */
    bool sum_ref = false, again = false, via_direct = false, via_blk = false;
    bool wino_swish = false, wino_pd = false;
    if (wino_candidate(p, x, y, post, q != NULL)) {
        rc = try_winograd(p, &src_md, &wany_md, b != NULL ? &bias_md : NULL, &dst_md, &gm, post,
                          &pd);
        if (rc < 0) goto out;
        wino_pd = pd != NULL;
        wino_swish = wino_pd && (post & CVB__POST_SWISH);
    }
    for (int attempt = wino_pd ? 3 : 0; attempt < 3; attempt++) { /* none after Winograd */
        dnnl_memory_desc_t s_md = csrc_md, d_md = dst_md;
        if (attempt == 1 && via_blk && !again) {
            /* the source's blocked layout for the output too */
            s = md_layout(&d_md, nd, ydims, layout_of(p, x));
            if (s != dnnl_success) {
                rc = prep_status(p, s, "describing the tensors");
                goto out;
            }
        } else if (attempt >= 1 && !again) {
            s = dnnl_success;
            if (!int8)
                s = dnnl_memory_desc_init_by_tag(&s_md, nd, xdims, bf16 ? dnnl_bf16 : dnnl_f32,
                                                 dnnl_format_tag_any);
            if (s == dnnl_success && attempt == 1)
                s = dnnl_memory_desc_init_by_tag(&d_md, nd, ydims, ay != NULL ? dnnl_u8 : dnnl_f32,
                                                 dnnl_format_tag_any);
            if (s != dnnl_success) {
                rc = prep_status(p, s, "describing the tensors");
                goto out;
            }
        }
        dnnl_convolution_desc_t cd;
        s = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_direct, &s_md, &wany_md,
            b != NULL ? &bias_md : NULL, &d_md, strides, dil, pl, pr);
        if (s != dnnl_success) {
            rc = prep_status(p, s, "convolution descriptor");
            goto out;
        }
        if (pd != NULL) dnnl_primitive_desc_destroy(pd);
        pd = NULL;
        rc = pd_create(p, &cd, attr, &pd);
        if (rc < 0 && attempt == 2) {
            sum_ref = true;
            break;
        }
        if (rc < 0) goto out;
        const char *impl = NULL;
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
        bool is_ref = impl == NULL || strncmp(impl, "ref", 3) == 0;
        bool gemm = impl != NULL && strstr(impl, "gemm") != NULL;
        bool plain = layout_of(p, x) == CVB__LAYOUT_PLAIN && layout_of(p, y) == CVB__LAYOUT_PLAIN;
        /* a blocked source into a plain output (a head's last 1x1 conv, an
         * attention qkv conv feeding a Reshape): the kernels writing the
         * plain layout from it run at about half the speed of those writing
         * the blocked one, and a reorder after costs less than the difference.
         * bf16 only from NHWC (AMX plans: only channels-last runs the AMX
         * kernels, gemm otherwise); from nChw16c its jit_bf16 + reorder was
         * slower than the gemm kernel (0.51 vs 0.39 ms, avx512_core_bf16) */
        bool blk_to_plain = nd == 4 && layout_of(p, y) == CVB__LAYOUT_PLAIN &&
                            (bf16 ? layout_of(p, x) == CVB__LAYOUT_NHWC
                                  : layout_of(p, x) == CVB__LAYOUT_BLK16 ||
                                        layout_of(p, x) == CVB__LAYOUT_BLK8);
        bool try_direct = attempt == 0 && ((gemm && group > 1) || blk_to_plain) &&
                          !(post & CVB__POST_SUM) && !int8;
        if (again) break;
        if (attempt == 0 && !try_direct && (!is_ref || (plain && q == NULL))) break;
        if (try_direct) via_direct = true;
        if (try_direct && blk_to_plain && (!gemm || bf16)) via_blk = true;
        if (attempt == 1 && via_direct && (gemm || is_ref)) {
            again = true; /* no better than the planned layouts: rebuild attempt 0 */
            attempt = -1;
            continue;
        }
        if (attempt == 1 && (!(post & CVB__POST_SUM) ||
                             dnnl_memory_desc_equal(
                                 dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), &dst_md)))
            break;
        if (attempt == 2) sum_ref = is_ref;
    }
    if (sum_ref) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "a fused sum needs the output in its own layout, "
                       "and no non-reference kernel writes that layout from this source");
        goto out;
    }
    const dnnl_memory_desc_t *want_w = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *want_s = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *want_d = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    bool dst_direct = dnnl_memory_desc_equal(want_d, &dst_md);
    if (!dst_direct && (post & CVB__POST_SUM)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "a fused sum needs the output in its own layout");
        goto out;
    }
    struct dnn_bind wb, sb, db = {BIND_OUT, out_idx, 0}, bb = {BIND_IN, 2, 0}, zb = {BIND_BUF, 0, 0};
    if (int8) {
        /* weights: quantised here, reordered once into the kernel's layout */
        int buf;
        rc = const_reorder(p, wq, &wplain_md, want_w, &buf);
        if (rc < 0) goto out;
        wb = (struct dnn_bind){BIND_BUF, buf, 0};
        if (b != NULL) {
            rc = plan_buf(p, (size_t)m * sizeof(float), &buf);
            if (rc < 0) goto out;
            float *bq = p->plan->bufs[buf];
            for (int64_t o = 0; o < m; o++) bq[o] = ((const float *)b->data)[o0 + o] / oscale[o];
            bb = (struct dnn_bind){BIND_BUF, buf, 0};
        }
        if (q->src_zp != 0) {
            rc = plan_buf(p, sizeof(int32_t), &buf);
            if (rc < 0) goto out;
            *(int32_t *)p->plan->bufs[buf] = q->src_zp;
            zb = (struct dnn_bind){BIND_BUF, buf, 0};
        }
        if (ax != NULL) {
            /* input already uint8 with this scale */
            rc = bind_input_md(p, 0, &src_md, want_s, &sb);
        } else if (p->qsrc_buf1 > 0 && dnnl_memory_desc_equal(&p->qsrc_md, want_s)) {
            /* an earlier part of this Conv quantised the input already */
            sb = (struct dnn_bind){BIND_BUF, p->qsrc_buf1 - 1, 0};
        } else {
            /* input: quantise x / scale + zp, saturating to u8 */
            s = quant_attr(p, q->src_scale, q->src_zp, &qattr);
            if (s != dnnl_success) {
                rc = prep_status(p, s, "quantisation attributes");
                goto out;
            }
            rc = plan_buf(p, dnnl_memory_desc_get_size(want_s), &buf);
            if (rc == 0)
                rc = step_reorder_attr(p, &src_md, (struct dnn_bind){BIND_IN, 0, 0}, want_s,
                                       (struct dnn_bind){BIND_BUF, buf, 0}, qattr);
            sb = (struct dnn_bind){BIND_BUF, buf, 0};
            p->qsrc_buf1 = buf + 1;
            p->qsrc_md = *want_s;
        }
    } else if (part >= 0) {
        /* bf16, one part of an absorbed Split: this part's output channels'
         * weights and bias; the input converted once, by part 0 */
        int64_t per = w->numel / w->dims[0];
        int buf;
        rc = const_reorder(p, (const float *)w->data + o0 * per, &wplain_md, want_w, &buf);
        wb = (struct dnn_bind){BIND_BUF, buf, 0};
        bb.off = (size_t)o0 * sizeof(float);
        if (rc == 0 && p->qsrc_buf1 > 0 && dnnl_memory_desc_equal(&p->qsrc_md, want_s)) {
            sb = (struct dnn_bind){BIND_BUF, p->qsrc_buf1 - 1, 0};
        } else if (rc == 0) {
            rc = bind_input_md(p, 0, &src_md, want_s, &sb);
            if (rc == 0 && sb.kind == BIND_BUF) {
                p->qsrc_buf1 = sb.idx + 1;
                p->qsrc_md = *want_s;
            }
        }
    } else if (x2) {
        /* [hi, lo] of w / 255 per output channel: the frame holds [x, x] */
        int64_t per = w->numel / w->dims[0];
        float *w2 = malloc((size_t)(2 * w->numel) * sizeof *w2);
        if (w2 == NULL) {
            rc = prep_fail(p, CVB_ENOMEM, "out of memory");
            goto out;
        }
        for (int64_t o = 0; o < m; o++)
            for (int64_t k = 0; k < per; k++) {
                float v = ((const float *)w->data)[o * per + k] / 255.f, hi = bf16_round(v);
                w2[o * 2 * per + k] = hi;
                w2[o * 2 * per + per + k] = v - hi; /* input channel C + (its channel) */
            }
        int buf;
        rc = const_reorder(p, w2, &wplain_md, want_w, &buf);
        free(w2);
        wb = (struct dnn_bind){BIND_BUF, buf, 0};
        if (rc == 0) rc = bind_input_md(p, 0, &src_md, want_s, &sb);
    } else {
        rc = bind_input(p, 1, &wplain_md, want_w, &wb);
        if (rc == 0) rc = bind_input_md(p, 0, &src_md, want_s, &sb);
    }
    if (rc == 0 && !dst_direct) {
        int buf;
        rc = plan_buf(p, dnnl_memory_desc_get_size(want_d), &buf);
        db = (struct dnn_bind){BIND_BUF, buf, 0};
    }
    if (rc < 0) goto out;
    rc = step_new(p, pd, 5, part <= 0, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, want_s, sb);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_WEIGHTS, want_w, wb);
    if (rc == 0 && b != NULL) rc = step_arg(p, st, DNNL_ARG_BIAS, &bias_md, bb);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, want_d, db);
    if (rc == 0 && int8 && q->src_zp != 0) {
        dnnl_memory_desc_t zmd;
        dnnl_dims_t one = {1};
        s = dnnl_memory_desc_init_by_tag(&zmd, 1, one, dnnl_s32, dnnl_x);
        rc = s != dnnl_success ? prep_status(p, s, "zero point")
                               : step_arg(p, st, DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, &zmd, zb);
    }
    if (rc == 0 && !dst_direct)
        rc = step_reorder(p, want_d, db, &dst_md, (struct dnn_bind){BIND_OUT, out_idx, 0});
    if (rc == 0 && q != NULL && part <= 0) {
        /* name the precision in profiles: "brgconv:avx512_core_vnni/u8s8" */
        size_t l = strlen(p->plan->impl);
        snprintf(p->plan->impl + l, sizeof p->plan->impl - l, "%s%s%s",
                 int8 ? (q->src_zp != 0 ? "/u8s8+zp" : "/u8s8") : x2 ? "/bf16x2" : "/bf16",
                 ay != NULL ? ">u8" : act_bf16(p, y) ? ">bf16" : "",
                 part == 0 ? "+split" : "");
    }
    if (rc == 0 && own_silu) rc = step_vec_silu(p, y, silu_isa);
    else if (rc == 0 && wino_swish) rc = step_swish(p, y);
out:
    free(wq);
    free(wscale);
    free(oscale);
    if (po != NULL) dnnl_post_ops_destroy(po);
    if (attr != NULL) dnnl_primitive_attr_destroy(attr);
    if (qattr != NULL) dnnl_primitive_attr_destroy(qattr);
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* The fused DFL (CVB__POST_DFL) as our step: x [N, A, K, I] plain, the
 * Conv's weights [1, K, 1, 1] constant, optional bias [1], y [N, 1, A, I]
 * plain. */
static int prep_dfl(struct prep *p) {
    const struct cvb_tensor *x = tin(p, 0), *w = tin(p, 1), *b = tin(p, 2), *y = tout(p, 0);
    if (!cvb__dnn_dfl_ok() || !is_f32(x) || !is_f32(w) || !is_f32(y) || x->ndim != 4 ||
        w->ndim != 4 || y->ndim != 4 || w->data == NULL || w->dims[0] != 1 ||
        w->dims[1] != x->dims[2] || w->dims[2] != 1 || w->dims[3] != 1 ||
        y->dims[0] != x->dims[0] || y->dims[1] != 1 || y->dims[2] != x->dims[1] ||
        y->dims[3] != x->dims[3] ||
        (b != NULL && (!is_f32(b) || b->data == NULL || b->numel != 1)) ||
        layout_of(p, x) != CVB__LAYOUT_PLAIN || layout_of(p, y) != CVB__LAYOUT_PLAIN ||
        cvb__attr_int(p->n, "group", 1) != 1)
        return prep_fail(p, CVB_EINTERNAL, "a fused DFL needs [N,A,K,I] -> [N,1,A,I] plain "
                         "float32 with constant [1,K,1,1] weights");
    struct dnn_step *st;
    int rc = step_own(p, STEP_DFL, 2, &st);
    if (rc < 0) return rc;
    int64_t k = x->dims[2];
    st->dfl_w = malloc(sizeof *st->dfl_w * (size_t)(k + 1));
    if (st->dfl_w == NULL) return prep_fail(p, CVB_ENOMEM, "out of memory");
    memcpy(st->dfl_w, w->data, sizeof *st->dfl_w * (size_t)k);
    st->dfl_w[k] = b != NULL ? *(const float *)b->data : 0.f;
    st->sm[0] = x->dims[0] * x->dims[1];
    st->sm[1] = k;
    st->sm[2] = x->dims[3];
    st->binds[0] = (struct dnn_bind){BIND_IN, 0, 0};
    st->binds[1] = (struct dnn_bind){BIND_OUT, 0, 0};
    snprintf(p->plan->impl, sizeof p->plan->impl, "vec:dfl");
    return 0;
}

/* A Conv, or (io->n_split_out > 0) a Conv that also does the channel
 * Split of its output: one convolution per Split output over that slice of
 * the output channels, each writing its own dense tensor (in NHWC a channel
 * slice is strided, and oneDNN convolutions into or out of strided memory
 * run on reference kernels only), sharing one quantised input. */
static int prep_conv(struct prep *p) {
    if (p->io != NULL && (p->io->post & CVB__POST_DFL)) return prep_dfl(p);
    if (p->io == NULL || p->io->n_split_out == 0) return prep_conv_part(p, -1);
    for (int k = 0; k < p->io->n_split_out; k++) {
        int rc = prep_conv_part(p, k);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ---- MaxPool, AveragePool ------------------------------------------------------ */

static int prep_pool(struct prep *p) {
    const struct cvb_tensor *x = tin(p, 0), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    struct dnn_step *st;
    struct geom gm;
    int rc = 0;
    if (!is_f32(x) || !is_f32(y)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 pooling");
        goto out;
    }
    if (tout(p, 1) != NULL) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "the Indices output");
        goto out;
    }
    dnnl_alg_kind_t alg = dnnl_pooling_max;
    if (p->n->op == CVB_OP_AVERAGEPOOL) {
        if (cvb__attr_int(p->n, "ceil_mode", 0) != 0) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "average pooling with ceil_mode 1");
            goto out;
        }
        alg = cvb__attr_int(p->n, "count_include_pad", 0) != 0
                  ? dnnl_pooling_avg_include_padding
                  : dnnl_pooling_avg_exclude_padding;
    }
    int nd = x->ndim, sp = nd - 2;
    if (nd < 3 || nd > 5 || y->ndim != nd || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1]) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only 1-D, 2-D and 3-D pooling");
        goto out;
    }
    const int64_t *ks;
    if (cvb__attr_ints(p->n, "kernel_shape", &ks) != sp) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "kernel_shape must have %d values", sp);
        goto out;
    }
    rc = read_geom(p, sp, x->dims + 2, ks, y->dims + 2, true, &gm);
    if (rc < 0) goto out;
    dnnl_dims_t strides, kernel, dil, pl, pr;
    for (int i = 0; i < sp; i++) {
        strides[i] = gm.stride[i];
        kernel[i] = ks[i];
        dil[i] = gm.dil[i] - 1;
        pl[i] = gm.pl[i];
        pr[i] = gm.pr[i];
    }
    dnnl_memory_desc_t src_md, dst_md;
    int lay;
    if (!same_layout(p, &lay)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "input and output in different layouts");
        goto out;
    }
    dnnl_status_t s = md_act(p, &src_md, x);
    if (s == dnnl_success) s = md_act(p, &dst_md, y);
    dnnl_pooling_v2_desc_t pdsc;
    if (s == dnnl_success)
        s = dnnl_pooling_v2_forward_desc_init(&pdsc, dnnl_forward_inference, alg,
                                              &src_md, &dst_md, strides, kernel, dil, pl, pr);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "pooling descriptor");
        goto out;
    }
    rc = pd_create(p, &pdsc, NULL, &pd);
    if (rc == 0) rc = step_new(p, pd, 2, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &src_md, (struct dnn_bind){BIND_IN, 0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &dst_md, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- Resize ------------------------------------------------------------------ */

/* ONNX's source coordinate for output index o (Resize-11+ spec). 'ok' is
 * cleared for modes we do not map. */
static double onnx_coord(const char *mode, double o, double scale, int64_t in, int64_t out,
                         bool *ok) {
    if (strcmp(mode, "half_pixel") == 0) return (o + 0.5) / scale - 0.5;
    if (strcmp(mode, "pytorch_half_pixel") == 0) return out > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
    if (strcmp(mode, "asymmetric") == 0) return o / scale;
    if (strcmp(mode, "tf_half_pixel_for_nn") == 0) return (o + 0.5) / scale;
    if (strcmp(mode, "align_corners") == 0)
        return out == 1 ? 0.0 : o * (double)(in - 1) / (double)(out - 1);
    if (strcmp(mode, "half_pixel_symmetric") == 0) {
        double adj = (double)out / ((double)in * scale);
        double off = (double)in / 2.0 * (1.0 - adj);
        return off + (o + 0.5) / scale - 0.5;
    }
    *ok = false;
    return 0.0;
}

/* ONNX nearest index for coordinate x, or -1 for a mode we do not know. */
static int64_t onnx_nearest(const char *nm, double x, int64_t in) {
    double r;
    if (strcmp(nm, "floor") == 0) {
        r = floor(x);
    } else if (strcmp(nm, "ceil") == 0) {
        r = ceil(x);
    } else if (strcmp(nm, "round_prefer_floor") == 0) {
        r = x - floor(x) == 0.5 ? floor(x) : floor(x + 0.5);
    } else if (strcmp(nm, "round_prefer_ceil") == 0) {
        r = x - floor(x) == 0.5 ? ceil(x) : floor(x + 0.5);
    } else {
        return -1;
    }
    int64_t i = (int64_t)r;
    return i < 0 ? 0 : i >= in ? in - 1 : i;
}

/* Check every output index of one spatial axis maps to the same source as
 * in ONNX. oneDNN picks round((o + 0.5) * in / out - 0.5) (float math); we
 * only accept it where that value is clearly off a .5 tie, so the rounding
 * convention of its kernels cannot matter. Linear: the source coordinates
 * must agree (oneDNN clamps at the edges, as ONNX's reference does). */
static bool resize_axis_ok(bool linear, const char *coord, const char *nm, double scale, int64_t in,
                           int64_t out) {
    for (int64_t o = 0; o < out; o++) {
        bool ok = true;
        double xo = onnx_coord(coord, (double)o, scale, in, out, &ok);
        float xd = ((float)o + 0.5f) * (float)in / (float)out - 0.5f;
        if (!ok) return false;
        if (linear) {
            if (fabs(xo - (double)xd) > 1e-5 * (1.0 + fabs(xo))) return false;
            continue;
        }
        /* Same answer in float and double, or the ONNX index is ambiguous. */
        bool okf = true;
        double xof =
            (double)(float)onnx_coord(coord, (double)(float)o, (double)(float)scale, in, out, &okf);
        int64_t io = onnx_nearest(nm, xo, in);
        if (io < 0 || io != onnx_nearest(nm, xof, in)) return false;
        double frac = (double)xd - floor((double)xd);
        if (fabs(frac - 0.5) < 1e-3) return false;
        int64_t id = (int64_t)floor((double)xd + 0.5);
        id = id < 0 ? 0 : id >= in ? in - 1 : id;
        if (id != io) return false;
    }
    return true;
}

static int prep_resize(struct prep *p) {
    const struct cvb_tensor *x = tin(p, 0), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    struct dnn_step *st;
    int rc = 0;
    if (!is_f32(x) || !is_f32(y)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 resize");
        goto out;
    }
    int nd = x->ndim;
    if (nd < 3 || nd > 5 || y->ndim != nd || y->dims[0] != x->dims[0] || y->dims[1] != x->dims[1]) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only resizing 1 to 3 spatial axes of N,C,...");
        goto out;
    }
    const char *mode = cvb__attr_str(p->n, "mode", "nearest");
    bool linear = strcmp(mode, "linear") == 0;
    if (!linear && strcmp(mode, "nearest") != 0) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "mode '%s'", mode);
        goto out;
    }
    const char *coord, *nm;
    const struct cvb_tensor *scales_t, *sizes_t;
    if (p->g->opset < 11) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "Resize before opset 11");
        goto out;
    }
    coord = cvb__attr_str(p->n, "coordinate_transformation_mode", "half_pixel");
    nm = cvb__attr_str(p->n, "nearest_mode", "round_prefer_floor");
    scales_t = tin(p, 2);
    sizes_t = tin(p, 3);
    const char *karp = cvb__attr_str(p->n, "keep_aspect_ratio_policy", "stretch");
    if (cvb__attr_int(p->n, "antialias", 0) != 0 || cvb__attr_find(p->n, "axes") != NULL ||
        strcmp(karp, "stretch") != 0) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "antialias, axes or keep_aspect_ratio_policy");
        goto out;
    }
    if (scales_t != NULL && scales_t->numel == 0) scales_t = NULL;
    float fac[3];
    for (int i = 0; i < nd; i++) {
        double scale;
        if (scales_t != NULL) {
            if (scales_t->data == NULL || scales_t->dtype != CVB_DT_F32 || scales_t->numel != nd) {
                rc = prep_fail(p, CVB_EUNSUPPORTED, "scales must be a constant float32[%d]", nd);
                goto out;
            }
            scale = ((const float *)scales_t->data)[i];
        } else if (sizes_t != NULL) {
            scale = (double)y->dims[i] / (double)x->dims[i];
        } else {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "neither scales nor sizes");
            goto out;
        }
        if (i < 2) {
            if (scale != 1.0) {
                rc = prep_fail(p, CVB_EUNSUPPORTED, "resizing the batch or channel axis");
                goto out;
            }
            continue;
        }
        if (!(scale > 0.0) || !resize_axis_ok(linear, coord, nm, scale, x->dims[i], y->dims[i])) {
            rc = prep_fail(p, CVB_EUNSUPPORTED,
                           "%s/%s%s%s on axis %d (scale %g) is not what oneDNN computes", mode,
                           coord, linear ? "" : "/", linear ? "" : nm, i, scale);
            goto out;
        }
        fac[i - 2] = (float)y->dims[i] / (float)x->dims[i];
    }
    dnnl_memory_desc_t src_md, dst_md;
    int lay;
    if (!same_layout(p, &lay)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "input and output in different layouts");
        goto out;
    }
    dnnl_status_t s = md_act(p, &src_md, x);
    if (s == dnnl_success) s = md_act(p, &dst_md, y);
    dnnl_resampling_desc_t rd;
    if (s == dnnl_success)
        s = dnnl_resampling_forward_desc_init(
            &rd, dnnl_forward_inference, linear ? dnnl_resampling_linear : dnnl_resampling_nearest,
            fac, &src_md, &dst_md);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "resampling descriptor");
        goto out;
    }
    rc = pd_create(p, &rd, NULL, &pd);
    if (rc == 0) rc = step_new(p, pd, 2, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &src_md, (struct dnn_bind){BIND_IN, 0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &dst_md, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- Add, Sub, Mul, Div ------------------------------------------------------ */

/* A same-shape Add as our step (cvb__vec_add_q8), with q[j] the storage of
 * input 0, input 1 and the output (NULL: float32), in any layout (element
 * by element over the stored values). */
static int step_add_q8(struct prep *p, const struct cvb__dnn_act *const q[3]) {
    struct dnn_step *st;
    int rc = step_own(p, STEP_ADD_Q8, 3, &st);
    if (rc < 0) return rc;
    st->q8 = calloc(3, sizeof *st->q8);
    if (st->q8 == NULL) return prep_fail(p, CVB_ENOMEM, "out of memory");
    for (int j = 0; j < 3; j++)
        st->q8[j] = q[j] != NULL ? (struct cvb__vec_q8){CVB__VEC_U8, q[j]->scale, q[j]->zp}
                                 : (struct cvb__vec_q8){CVB__VEC_F32, 1.f, 0};
    st->rows = act_elems(p, tout(p, 0));
    st->binds[0] = (struct dnn_bind){BIND_IN, 0, 0};
    st->binds[1] = (struct dnn_bind){BIND_IN, 1, 0};
    st->binds[2] = (struct dnn_bind){BIND_OUT, 0, 0};
    snprintf(p->plan->impl, sizeof p->plan->impl, "vec:add/%s+%s>%s", q[0] ? "u8" : "f32",
             q[1] ? "u8" : "f32", q[2] ? "u8" : "f32");
    return 0;
}

static int prep_binary(struct prep *p, dnnl_alg_kind_t alg) {
    const struct cvb_tensor *a = tin(p, 0), *b = tin(p, 1), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    struct dnn_step *st;
    int rc = 0;
    if (!is_f32(a) || !is_f32(b) || !is_f32(y)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 arithmetic");
        goto out;
    }
    int nd = y->ndim;
    if (a->ndim > nd || b->ndim > nd) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "output rank below an input's");
        goto out;
    }
    int lay;
    if (!same_layout(p, &lay)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "operands in different layouts");
        goto out;
    }
    /* Right-align both shapes to the output rank. */
    int64_t da[CVB_MAX_DIMS], db[CVB_MAX_DIMS];
    bool a_full = true, b_full = true;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        da[i] = ia >= 0 ? a->dims[ia] : 1;
        db[i] = ib >= 0 ? b->dims[ib] : 1;
        if (da[i] != y->dims[i]) a_full = false;
        if (db[i] != y->dims[i]) b_full = false;
        if ((da[i] != y->dims[i] && da[i] != 1) || (db[i] != y->dims[i] && db[i] != 1)) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "shapes do not broadcast to the output");
            goto out;
        }
    }
    /* oneDNN broadcasts src1 only. A broadcast first operand is swapped in
     * for the commutative ops; for Sub, b - a is computed and negated by an
     * exact linear post-op. Div with a broadcast dividend stays on ref. */
    int i0 = 0, i1 = 1;
    bool negate = false;
    if (!a_full) {
        if (!b_full || alg == dnnl_binary_div) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "broadcast of the first operand");
            goto out;
        }
        i0 = 1;
        i1 = 0;
        negate = alg == dnnl_binary_sub;
    }
    if (lay != CVB__LAYOUT_PLAIN && !(a_full && b_full)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "broadcast in a blocked layout");
        goto out;
    }
    /* int8 plans: a same-shape Add with a uint8 operand or output (only
     * with cvb__dnn_vec_u8) is our step */
    const struct cvb__dnn_act *qa[3] = {act_u8(p, a), act_u8(p, b), act_u8(p, y)};
    if (qa[0] != NULL || qa[1] != NULL || qa[2] != NULL) {
        if (!a_full || !b_full || alg != dnnl_binary_add || !cvb__dnn_vec_u8()) {
            rc = prep_fail(p, CVB_EINTERNAL, "uint8 operands of a binary op other than a "
                           "same-shape Add, or without the AVX-512 step");
            goto out;
        }
        rc = step_add_q8(p, qa);
        goto out;
    }
    /* bf16 plans: a same-shape Add whose operands and output are all stored
     * as bfloat16 (the executor makes it all or none) adds in bfloat16 */
    int n_bf16 = act_bf16(p, a) + act_bf16(p, b) + act_bf16(p, y);
    if (n_bf16 != 0 && (n_bf16 != 3 || !a_full || !b_full || alg != dnnl_binary_add)) {
        rc = prep_fail(p, CVB_EINTERNAL, "bfloat16 operands of a binary op other than a "
                       "same-shape Add of bfloat16 tensors");
        goto out;
    }
    dnnl_memory_desc_t md0, md1, mdy;
    dnnl_status_t s;
    if (a_full && b_full) {
        /* element by element over the stored bytes: zero padding stays zero */
        dnnl_dims_t ne = {act_elems(p, y)};
        s = n_bf16 == 3 ? dnnl_memory_desc_init_by_tag(&md0, 1, ne, dnnl_bf16, dnnl_a)
                        : md_flat(&md0, ne[0]);
        md1 = md0;
    } else {
        s = md_plain(&md0, nd, y->dims);
        if (s == dnnl_success) s = md_plain(&md1, nd, i1 == 1 ? db : da);
    }
    mdy = md0;
    dnnl_binary_desc_t bd;
    if (s == dnnl_success) s = dnnl_binary_desc_init(&bd, alg, &md0, &md1, &mdy);
    if (s == dnnl_success && negate) {
        s = dnnl_primitive_attr_clone(&attr, p->d->attr);
        if (s == dnnl_success) s = dnnl_post_ops_create(&po);
        if (s == dnnl_success)
            s = dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_linear, -1.f, 0.f);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (s != dnnl_success) {
        rc = prep_status(p, s, "binary descriptor");
        goto out;
    }
    rc = pd_create(p, &bd, attr, &pd);
    if (rc == 0) rc = step_new(p, pd, 3, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC_0, &md0, (struct dnn_bind){BIND_IN, i0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC_1, &md1, (struct dnn_bind){BIND_IN, i1, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &mdy, (struct dnn_bind){BIND_OUT, 0, 0});
    if (rc == 0 && n_bf16 != 0) {
        size_t l = strlen(p->plan->impl);
        snprintf(p->plan->impl + l, sizeof p->plan->impl - l, "/bf16");
    }
out:
    if (po != NULL) dnnl_post_ops_destroy(po);
    if (attr != NULL) dnnl_primitive_attr_destroy(attr);
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- Sigmoid, Relu, Sqrt, Pow ------------------------------------------------ */

static int prep_eltwise(struct prep *p, dnnl_alg_kind_t alg) {
    const struct cvb_tensor *x = tin(p, 0), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    struct dnn_step *st;
    int rc = 0;
    float alpha = 0.f, beta = 0.f;
    int lay;
    if (!is_f32(x) || !is_f32(y) || x->numel != y->numel || !same_layout(p, &lay)) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 element-wise ops, one layout");
        goto out;
    }
    if (alg == dnnl_eltwise_pow) {
        /* Pow(x, e) with a constant scalar exponent: alpha * x^beta. */
        const struct cvb_tensor *e = tin(p, 1);
        if (e == NULL || e->data == NULL || e->numel != 1) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "Pow needs a constant scalar exponent");
            goto out;
        }
        switch (e->dtype) {
        case CVB_DT_F32: beta = *(const float *)e->data; break;
        case CVB_DT_I32: beta = (float)*(const int32_t *)e->data; break;
        case CVB_DT_I64: beta = (float)*(const int64_t *)e->data; break;
        default:
            rc = prep_fail(p, CVB_EUNSUPPORTED, "Pow exponent of type %s",
                           cvb__dtype_name(e->dtype));
            goto out;
        }
        alpha = 1.f;
    }
    dnnl_memory_desc_t md;
    dnnl_eltwise_desc_t ed;
    dnnl_status_t s = md_flat(&md, act_elems(p, y));
    if (s == dnnl_success)
        s = dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg, &md, alpha, beta);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "eltwise descriptor");
        goto out;
    }
    rc = pd_create(p, &ed, NULL, &pd);
    if (rc == 0) rc = step_new(p, pd, 2, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &md, (struct dnn_bind){BIND_IN, 0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &md, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- Concat ------------------------------------------------------------------ */

/* Concat as rows (cvb__vec_concat_rows): in NHWC along channels (a row per
 * pixel) or in the plain layout along any axis (a row per index before
 * it); every tensor float32, or every one bfloat16 (bf16 plans). */
static int step_concat_rows(struct prep *p, int lay, int axis) {
    const struct cvb_tensor *y = tout(p, 0);
    int k = p->n->n_in, n_bf16 = act_bf16(p, y);
    for (int i = 0; i < k; i++) n_bf16 += act_bf16(p, tin(p, i));
    if (n_bf16 != 0 && n_bf16 != k + 1)
        return prep_fail(p, CVB_EINTERNAL, "Concat of float32 and bfloat16 tensors");
    size_t esz = n_bf16 != 0 ? 2 : 4;
    /* the storage order's dims: NHWC's channel axis is the last */
    int64_t rows = 1;
    if (lay == CVB__LAYOUT_NHWC)
        rows = y->dims[0] * y->dims[2] * y->dims[3];
    else
        for (int d = 0; d < axis; d++) rows *= y->dims[d];
    struct dnn_step *st;
    int rc = step_own(p, STEP_CONCAT, k + 1, &st);
    if (rc < 0) return rc;
    st->row_bytes = calloc((size_t)k, sizeof *st->row_bytes);
    if (st->row_bytes == NULL) return prep_fail(p, CVB_ENOMEM, "out of memory");
    st->rows = rows;
    for (int i = 0; i < k; i++) {
        const struct cvb_tensor *x = tin(p, i);
        int64_t e = 1;
        if (lay == CVB__LAYOUT_NHWC)
            e = x->dims[1];
        else
            for (int d = axis; d < x->ndim; d++) e *= x->dims[d];
        st->row_bytes[i] = (size_t)e * esz;
        st->binds[i] = (struct dnn_bind){BIND_IN, i, 0};
    }
    st->binds[k] = (struct dnn_bind){BIND_OUT, 0, 0};
    snprintf(p->plan->impl, sizeof p->plan->impl, "vec:rows%s", esz == 2 ? "/bf16" : "");
    return 0;
}

static int prep_concat(struct prep *p) {
    const struct cvb_tensor *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t *mds = NULL;
    struct dnn_step *st;
    int rc = 0, k = p->n->n_in;
    if (!is_f32(y) || y->ndim < 1 || k < 1) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 concatenation");
        goto out;
    }
    int64_t axis = cvb__attr_int(p->n, "axis", 0);
    if (axis < 0) axis += y->ndim;
    if (axis < 0 || axis >= y->ndim) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "axis out of range");
        goto out;
    }
    for (int i = 0; i < k; i++) {
        const struct cvb_tensor *x = tin(p, i);
        /* Empty inputs (numel 0) are left to the reference kernel. */
        if (!is_f32(x) || x->ndim != y->ndim) {
            rc = prep_fail(p, CVB_EUNSUPPORTED, "input %d is not a float32 tensor of rank %d", i,
                           y->ndim);
            goto out;
        }
    }
    int lay;
    bool consts = false; /* stored plain whatever the layout of the rest */
    for (int i = 0; i < k; i++) consts |= tin(p, i)->data != NULL;
    if (same_layout(p, &lay) &&
        (lay == CVB__LAYOUT_PLAIN ||
         (lay == CVB__LAYOUT_NHWC && y->ndim == 4 && axis == 1 && !consts))) {
        rc = step_concat_rows(p, lay, (int)axis);
        goto out;
    }
    mds = calloc((size_t)k, sizeof *mds);
    if (mds == NULL) {
        rc = prep_fail(p, CVB_ENOMEM, "out of memory");
        goto out;
    }
    dnnl_status_t s = dnnl_success;
    for (int i = 0; i < k && s == dnnl_success; i++) s = md_act(p, &mds[i], tin(p, i));
    dnnl_memory_desc_t dst_md;
    if (s == dnnl_success) s = md_act(p, &dst_md, y);
    if (s == dnnl_success)
        s = dnnl_concat_primitive_desc_create(&pd, &dst_md, k, (int)axis, mds, p->d->attr,
                                              p->d->eng);
    if (s != dnnl_success) {
        pd = NULL;
        rc = prep_status(p, s, "concat");
        goto out;
    }
    rc = step_new(p, pd, k + 1, true, &st);
    for (int i = 0; i < k && rc == 0; i++)
        rc = step_arg(p, st, DNNL_ARG_MULTIPLE_SRC + i, &mds[i], (struct dnn_bind){BIND_IN, i, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &dst_md, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    free(mds);
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* prep_concat_u8 as our rows step (cvb__vec_concat_rows_u8), members
 * checked by the caller. */
static int step_concat_rows_u8(struct prep *p, const struct cvb__dnn_act *ay) {
    const struct cvb_tensor *y = tout(p, 0);
    int k = p->n->n_in;
    struct dnn_step *st;
    int rc = step_own(p, STEP_CONCAT_U8, k + 1, &st);
    if (rc < 0) return rc;
    st->cols = calloc((size_t)k, sizeof *st->cols);
    st->q8 = calloc((size_t)k + 1, sizeof *st->q8);
    if (st->cols == NULL || st->q8 == NULL) return prep_fail(p, CVB_ENOMEM, "out of memory");
    st->rows = y->dims[0] * y->dims[2] * y->dims[3];
    st->q8[k] = (struct cvb__vec_q8){CVB__VEC_U8, ay->scale, ay->zp};
    for (int i = 0; i < k; i++) {
        const struct cvb__dnn_act *ax = act_u8(p, tin(p, i));
        st->cols[i] = tin(p, i)->dims[1];
        if (ax == NULL)
            st->q8[i] = (struct cvb__vec_q8){CVB__VEC_F32, 1.f, 0};
        else if (ax->scale == ay->scale && ax->zp == ay->zp)
            st->q8[i] = (struct cvb__vec_q8){CVB__VEC_COPY, ax->scale, ax->zp};
        else
            st->q8[i] = (struct cvb__vec_q8){CVB__VEC_U8, ax->scale, ax->zp};
        st->binds[i] = (struct dnn_bind){BIND_IN, i, 0};
    }
    st->binds[k] = (struct dnn_bind){BIND_OUT, 0, 0};
    snprintf(p->plan->impl, sizeof p->plan->impl, "vec:rows->u8");
    return 0;
}

/* Channel Concat in NHWC writing a uint8 output (int8 plans: every reader
 * is an int8 Conv with the output's scale): a float32 member is quantised
 * into its channel slice (x / scale + zp, rounded, saturated, as the Conv's
 * own quantise step did), a uint8 member with the output's scale and zero
 * point is copied. This replaces a float32 concat followed by a quantise
 * pass over the whole output. With AVX-512 it is our rows step
 * (vec:rows->u8), which also requantises a uint8 member stored with
 * another scale (cvb__dnn_vec_u8: the executor plans those only then);
 * elsewhere each member is a oneDNN reorder into its slice of the output
 * (a strided sub-memory). */
static int prep_concat_u8(struct prep *p, const struct cvb__dnn_act *ay) {
    const struct cvb_tensor *y = tout(p, 0);
    dnnl_primitive_attr_t qattr = NULL;
    int rc = 0, k = p->n->n_in;
    int64_t axis = cvb__attr_int(p->n, "axis", 0);
    if (axis < 0) axis += y->ndim;
    if (y->ndim != 4 || axis != 1 || layout_of(p, y) != CVB__LAYOUT_NHWC)
        return prep_fail(p, CVB_EINTERNAL, "a uint8 concat needs an NHWC channel concat");
    int64_t pos = 0;
    for (int i = 0; i < k; i++) {
        const struct cvb_tensor *x = tin(p, i);
        if (!is_f32(x) || x->ndim != 4 || x->data != NULL || layout_of(p, x) != CVB__LAYOUT_NHWC)
            return prep_fail(p, CVB_EINTERNAL, "uint8 concat member %d is not an NHWC activation",
                             i);
        const struct cvb__dnn_act *ax = act_u8(p, x);
        if (ax != NULL && (ax->scale != ay->scale || ax->zp != ay->zp) && !cvb__dnn_vec_u8())
            return prep_fail(p, CVB_EINTERNAL, "uint8 concat member %d has another scale", i);
        pos += x->dims[1];
    }
    if (pos != y->dims[1]) return prep_fail(p, CVB_EINTERNAL, "members do not cover the output");
    if (cvb__dnn_vec_u8()) return step_concat_rows_u8(p, ay);
    dnnl_dims_t yd = {y->dims[0], y->dims[1], y->dims[2], y->dims[3]};
    dnnl_memory_desc_t whole;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&whole, 4, yd, dnnl_u8, dnnl_nhwc);
    if (s == dnnl_success) s = quant_attr(p, ay->scale, ay->zp, &qattr);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "describing the output");
        goto out;
    }
    pos = 0;
    for (int i = 0; i < k && rc == 0; i++) {
        const struct cvb_tensor *x = tin(p, i);
        const struct cvb__dnn_act *ax = act_u8(p, x);
        dnnl_dims_t xd = {x->dims[0], x->dims[1], x->dims[2], x->dims[3]}, off = {0, pos, 0, 0};
        dnnl_memory_desc_t xmd, sub;
        s = dnnl_memory_desc_init_by_tag(&xmd, 4, xd, ax != NULL ? dnnl_u8 : dnnl_f32, dnnl_nhwc);
        if (s == dnnl_success) s = dnnl_memory_desc_init_submemory(&sub, &whole, xd, off);
        if (s != dnnl_success) {
            rc = prep_status(p, s, "describing a slice");
            goto out;
        }
        rc = step_reorder_attr(p, &xmd, (struct dnn_bind){BIND_IN, i, 0}, &sub,
                               (struct dnn_bind){BIND_OUT, 0, 0}, ax != NULL ? NULL : qattr);
        pos += x->dims[1];
    }
    if (rc == 0) {
        /* name the copies' kernel, e.g. "reorder:jit:uni->u8" */
        const_dnnl_primitive_desc_t rpd = NULL;
        const char *impl = NULL;
        if (p->plan->n_steps > 0 &&
            dnnl_primitive_get_primitive_desc(p->plan->steps[0].prim, &rpd) == dnnl_success)
            dnnl_primitive_desc_query(rpd, dnnl_query_impl_info_str, 0, &impl);
        snprintf(p->plan->impl, sizeof p->plan->impl, "reorder:%s->u8", impl != NULL ? impl : "?");
    }
out:
    if (qattr != NULL) dnnl_primitive_attr_destroy(qattr);
    return rc;
}

/* ---- Softmax ----------------------------------------------------------------- */

static int prep_softmax(struct prep *p) {
    const struct cvb_tensor *x = tin(p, 0), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    struct dnn_step *st;
    int rc = 0;
    if (!is_f32(x) || !is_f32(y) || x->ndim < 1 || x->numel != y->numel) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 softmax of rank >= 1");
        goto out;
    }
    int nd = x->ndim;
    bool v13 = p->g->opset >= 13;
    int64_t axis = cvb__attr_int(p->n, "axis", v13 ? -1 : 1);
    if (axis < 0) axis += nd;
    if (axis < 0 || axis >= nd) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "axis out of range");
        goto out;
    }
    /* Softmax-13: over one axis, seen as [outer, axis, inner]. Before 13 the
     * input is flattened to [outer, inner] at 'axis' and normalised over
     * the inner part: a softmax over axis 1 of that 2-D view. */
    int64_t outer = 1, mid = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= x->dims[i];
    if (v13) {
        mid = x->dims[axis];
        for (int i = (int)axis + 1; i < nd; i++)
            inner *= x->dims[i];
    } else {
        for (int i = (int)axis; i < nd; i++)
            mid *= x->dims[i];
    }
    /* oneDNN's fast softmax wants the axis innermost in memory: with inner
     * > 1 it would take a reorder to [outer, inner, mid] and one back (DFL:
     * 16 bins on axis 1 of [1,16,4,A]); ours (AVX-512) reads the columns in
     * place: 0.10-0.17 vs 0.52-0.58 ms for YOLOv8n's DFL at 640 (Zen 4, 2
     * threads, 3 alternating rounds) */
    if (inner > 1 && vec_silu_isa() == CVB__VEC_AVX512) {
        rc = step_own(p, STEP_SOFTMAX, 2, &st);
        if (rc < 0) goto out;
        st->binds[0] = (struct dnn_bind){BIND_IN, 0, 0};
        st->binds[1] = (struct dnn_bind){BIND_OUT, 0, 0};
        st->sm[0] = outer;
        st->sm[1] = mid;
        st->sm[2] = inner;
        snprintf(p->plan->impl, sizeof p->plan->impl, "vec:softmax");
        goto out;
    }
    int64_t dims[3] = {outer, mid, inner};
    dnnl_dims_t ddims = {outer, mid, inner};
    dnnl_memory_desc_t md, md_t;
    dnnl_softmax_desc_t sd;
    bool permute = inner > 1;
    dnnl_status_t s = md_plain(&md, permute ? 3 : 2, dims);
    if (s == dnnl_success && permute)
        s = dnnl_memory_desc_init_by_tag(&md_t, 3, ddims, dnnl_f32, dnnl_acb);
    if (s == dnnl_success)
        s = dnnl_softmax_forward_desc_init(&sd, dnnl_forward_inference, permute ? &md_t : &md, 1);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "softmax descriptor");
        goto out;
    }
    rc = pd_create(p, &sd, NULL, &pd);
    if (rc < 0) goto out;
    if (!permute) {
        rc = step_new(p, pd, 2, true, &st);
        if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &md, (struct dnn_bind){BIND_IN, 0, 0});
        if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &md, (struct dnn_bind){BIND_OUT, 0, 0});
        goto out;
    }
    int b0, b1;
    size_t bytes = dnnl_memory_desc_get_size(&md_t);
    rc = plan_buf(p, bytes, &b0);
    if (rc == 0) rc = plan_buf(p, bytes, &b1);
    if (rc == 0)
        rc = step_reorder(p, &md, (struct dnn_bind){BIND_IN, 0, 0}, &md_t,
                          (struct dnn_bind){BIND_BUF, b0, 0});
    if (rc == 0) rc = step_new(p, pd, 2, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_SRC, &md_t, (struct dnn_bind){BIND_BUF, b0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &md_t, (struct dnn_bind){BIND_BUF, b1, 0});
    if (rc == 0)
        rc = step_reorder(p, &md_t, (struct dnn_bind){BIND_BUF, b1, 0}, &md,
                          (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- Transpose ---------------------------------------------------------------- */

/* A Transpose is a reorder between two descriptors of the output's dims:
 * the source reads the input with its strides permuted, the destination is
 * dense. Plain layouts only, 1..6 dims, float32 or a 1-byte type (bytes
 * are only moved: int8 rides as u8); other cases stay on our C kernel.
 * The reorder kernel oneDNN picks is the plan's name ("jit:uni" for the DFL's
 * [1,4,16,A] -> [1,16,4,A]), and a "ref" one is refused by step_new (the
 * executor then runs our C kernel, labelled "ref:Transpose"). */
static int prep_transpose(struct prep *p) {
    const struct cvb_tensor *x = tin(p, 0), *y = tout(p, 0);
    int rc = 0;
    /* composed with a Reshape and a Transpose before it (the passes): the
     * input is read at the strides they give, whatever its own shape */
    bool strided = p->io != NULL && (p->io->post & CVB__POST_STRIDED) && p->io->src_strides;
    if (x == NULL || y == NULL || x->numel <= 0 || x->ndim < 1 || x->ndim > 6 ||
        x->dtype != y->dtype || x->numel != y->numel || (y->ndim != x->ndim && !strided) ||
        y->ndim < 1 || y->ndim > 6)
        return prep_fail(p, CVB_EUNSUPPORTED, "only a same-type transpose of rank 1..6");
    /* a primitive launch (a few microseconds) costs more than our C copy of
     * a tiny tensor (shape-like data, the 2x3 case of test-onednn-vs-ref) */
    dnnl_data_type_t dt;
    if (x->dtype == CVB_DT_F32)
        dt = dnnl_f32;
    else if (cvb__dtype_size(x->dtype) == 1)
        dt = dnnl_u8;
    else
        return prep_fail(p, CVB_EUNSUPPORTED, "only float32 and 1-byte types");
    const int64_t *pv = NULL;
    int nd = y->ndim, cnt = cvb__attr_ints(p->n, "perm", &pv), perm[CVB_MAX_DIMS];
    if (cnt >= 0 && cnt != nd) return prep_fail(p, CVB_EUNSUPPORTED, "perm has %d values", cnt);
    for (int i = 0; i < nd && !strided; i++) {
        int64_t a = cnt < 0 ? nd - 1 - i : pv[i] < 0 ? pv[i] + nd : pv[i];
        if (a < 0 || a >= nd) return prep_fail(p, CVB_EUNSUPPORTED, "perm out of range");
        perm[i] = (int)a;
    }
    dnnl_dims_t xst, sst, dst, ydims;
    xst[nd - 1] = 1;
    for (int i = nd - 2; i >= 0 && !strided; i--) xst[i] = xst[i + 1] * x->dims[i + 1];
    if (p->io != NULL && (p->io->post & CVB__POST_READ_T)) {
        /* the input is stored with its last two axes swapped, dense
         * (its MatMul's CVB__POST_STORE_T) */
        if (nd < 2) return prep_fail(p, CVB_EINTERNAL, "a transposed input of rank below 2");
        xst[nd - 2] = 1;
        xst[nd - 1] = x->dims[nd - 2];
    }
    dst[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--) dst[i] = dst[i + 1] * y->dims[i + 1];
    for (int i = 0; i < nd; i++) {
        ydims[i] = y->dims[i];
        if (strided) {
            sst[i] = p->io->src_strides[i];
            continue;
        }
        sst[i] = xst[perm[i]];
        if (y->dims[i] != x->dims[perm[i]])
            return prep_fail(p, CVB_EINTERNAL, "output shape disagrees with perm");
    }
    dnnl_memory_desc_t smd, dmd;
    int ly = layout_of(p, y);
    if (layout_of(p, x) != CVB__LAYOUT_PLAIN ||
        (ly != CVB__LAYOUT_PLAIN && ly != CVB__LAYOUT_BLK16 && ly != CVB__LAYOUT_BLK8) ||
        (ly != CVB__LAYOUT_PLAIN && dt != dnnl_f32))
        return prep_fail(p, CVB_EUNSUPPORTED, "a transpose with a non-plain input or to %s",
                         ly == CVB__LAYOUT_NHWC ? "NHWC" : "a blocked integer output");
    dnnl_status_t s = dnnl_memory_desc_init_by_strides(&smd, nd, ydims, dt, sst);
    if (s == dnnl_success)
        s = layout_of(p, y) != CVB__LAYOUT_PLAIN && dt == dnnl_f32
                ? md_act(p, &dmd, y) /* the executor's nChw16c/8c output */
                : dnnl_memory_desc_init_by_strides(&dmd, nd, ydims, dt, dst);
    if (s != dnnl_success) return prep_status(p, s, "describing the tensors");
    dnnl_primitive_desc_t rpd = NULL;
    struct dnn_step *st;
    s = dnnl_reorder_primitive_desc_create(&rpd, &smd, p->d->eng, &dmd, p->d->eng, p->d->attr);
    if (s != dnnl_success) return prep_status(p, s, "creating a reorder");
    rc = step_new(p, rpd, 2, true, &st);
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_FROM, &smd, (struct dnn_bind){BIND_IN, 0, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_TO, &dmd, (struct dnn_bind){BIND_OUT, 0, 0});
    dnnl_primitive_desc_destroy(rpd);
    return rc;
}

/* ---- MatMul ------------------------------------------------------------------ */

static void swap_last2(int64_t *d, int nd) {
    int64_t t = d[nd - 2];
    d[nd - 2] = d[nd - 1];
    d[nd - 1] = t;
}

/* Descriptor of logical 'dims' (nd >= 2) stored as the dense row-major
 * tensor of 'dims' with the last two axes swapped: the transpose of its
 * last two axes, read through strides. */
static dnnl_status_t md_plain_t(dnnl_memory_desc_t *md, int nd, const int64_t *dims) {
    dnnl_dims_t dd, st;
    for (int i = 0; i < nd; i++) dd[i] = dims[i];
    st[nd - 2] = 1;              /* the stored last axis */
    st[nd - 1] = dims[nd - 2];   /* the stored second-to-last axis */
    int64_t acc = dims[nd - 2] * dims[nd - 1];
    for (int i = nd - 3; i >= 0; i--) {
        st[i] = acc;
        acc *= dims[i];
    }
    return dnnl_memory_desc_init_by_strides(md, nd, dd, dnnl_f32, st);
}

static int prep_matmul(struct prep *p) {
    const struct cvb_tensor *a = tin(p, 0), *b = tin(p, 1), *y = tout(p, 0);
    dnnl_primitive_desc_t pd = NULL;
    struct dnn_step *st;
    int rc = 0;
    if (!is_f32(a) || !is_f32(b) || !is_f32(y) || a->ndim < 1 || b->ndim < 1) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "only float32 matmul of rank >= 1");
        goto out;
    }
    /* An operand whose Transpose of the last two axes the passes removed
     * (CVB__POST_TRANS_A/B) is the tensor before it: its logical dims have
     * the last two swapped, and so do its strides. */
    unsigned post = p->io != NULL ? p->io->post : 0;
    bool ta = (post & CVB__POST_TRANS_A) != 0, tb = (post & CVB__POST_TRANS_B) != 0;
    if ((ta && a->ndim < 2) || (tb && b->ndim < 2)) {
        rc = prep_fail(p, CVB_EINTERNAL, "a transposed operand of rank below 2");
        goto out;
    }
    if ((ta || tb) && refuse_matmul_trans) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "a transposed operand refused (test hook)");
        goto out;
    }
    /* numpy rules: a 1-D A is [1,K], a 1-D B is [K,1]; the inserted dim is
     * dropped from the output, which does not change its memory. */
    int64_t sa[CVB_MAX_DIMS + 1], sb[CVB_MAX_DIMS + 1];
    int na = a->ndim, nb = b->ndim;
    if (na == 1) {
        sa[0] = 1;
        sa[1] = a->dims[0];
        na = 2;
    } else {
        memcpy(sa, a->dims, (size_t)na * sizeof *sa);
    }
    if (nb == 1) {
        sb[0] = b->dims[0];
        sb[1] = 1;
        nb = 2;
    } else {
        memcpy(sb, b->dims, (size_t)nb * sizeof *sb);
    }
    if (ta) swap_last2(sa, na);
    if (tb) swap_last2(sb, nb);
    int nd = na > nb ? na : nb;
    if (nd > CVB_MAX_DIMS) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "rank above %d", CVB_MAX_DIMS);
        goto out;
    }
    int64_t da[CVB_MAX_DIMS], db[CVB_MAX_DIMS], dy[CVB_MAX_DIMS];
    int64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - na), ib = i - (nd - nb);
        da[i] = ia >= 0 ? sa[ia] : 1;
        db[i] = ib >= 0 ? sb[ib] : 1;
        if (i < nd - 2) {
            if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
                rc = prep_fail(p, CVB_EUNSUPPORTED, "batch dims do not broadcast");
                goto out;
            }
            dy[i] = da[i] > db[i] ? da[i] : db[i];
        }
        numel *= i < nd - 2 ? dy[i] : 1;
    }
    /* cppcheck-suppress uninitvar ; da/db are filled for all nd dims above */
    if (da[nd - 1] != db[nd - 2]) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "inner dimensions differ");
        goto out;
    }
    dy[nd - 2] = da[nd - 2];
    dy[nd - 1] = db[nd - 1];
    numel *= dy[nd - 2] * dy[nd - 1];
    if (numel != y->numel) {
        rc = prep_fail(p, CVB_EUNSUPPORTED, "output size disagrees with the inputs");
        goto out;
    }
    dnnl_memory_desc_t ma, mb, my;
    dnnl_matmul_desc_t md;
    bool store_t = (post & CVB__POST_STORE_T) != 0;
    if (store_t && (ta || !tb)) {
        rc = prep_fail(p, CVB_EINTERNAL, "a transposed store needs A plain and B transposed");
        goto out;
    }
    dnnl_status_t s;
    if (store_t) {
        /* y^T = B^T A^T: the source is B^T, i.e. input 1 as stored; the
         * weights A^T read input 0 through strides; y^T is written dense */
        swap_last2(da, nd);
        swap_last2(db, nd);
        swap_last2(dy, nd);
        s = md_plain(&ma, nd, db);
        if (s == dnnl_success) s = md_plain_t(&mb, nd, da);
    } else {
        s = ta ? md_plain_t(&ma, nd, da) : md_plain(&ma, nd, da);
        if (s == dnnl_success) s = tb ? md_plain_t(&mb, nd, db) : md_plain(&mb, nd, db);
    }
    if (s == dnnl_success) s = md_plain(&my, nd, dy);
    if (s == dnnl_success) s = dnnl_matmul_desc_init(&md, &ma, &mb, NULL, &my);
    if (s != dnnl_success) {
        rc = prep_status(p, s, "matmul descriptor");
        goto out;
    }
    rc = pd_create(p, &md, NULL, &pd);
    if (rc == 0) rc = step_new(p, pd, 3, true, &st);
    if (rc == 0)
        rc = step_arg(p, st, DNNL_ARG_SRC, &ma, (struct dnn_bind){BIND_IN, store_t ? 1 : 0, 0});
    if (rc == 0)
        rc = step_arg(p, st, DNNL_ARG_WEIGHTS, &mb, (struct dnn_bind){BIND_IN, store_t ? 0 : 1, 0});
    if (rc == 0) rc = step_arg(p, st, DNNL_ARG_DST, &my, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (pd != NULL) dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* ---- prepare / run ----------------------------------------------------------- */

/* ---- Concat / Split as views ------------------------------------------------ */

/* The executor placed the members of a channel Concat (inputs) or Split
 * (outputs) as dense slices of the whole tensor; members marked view[i] are
 * already in place, the others are copied (reordered: layouts may differ)
 * to/from byte offset off[i] of the whole tensor, described in its layout. */
static int prep_view_copies(struct prep *p, bool concat) {
    const struct cvb__dnn_io *io = p->io;
    const struct cvb_tensor *whole = concat ? tout(p, 0) : tin(p, 0);
    int k = concat ? p->n->n_in : p->n->n_out, rc = 0, n_copies = 0;
    if (!is_f32(whole)) return prep_fail(p, CVB_EUNSUPPORTED, "only float32 views");
    int wl = layout_of(p, whole);
    for (int i = 0; i < k && rc == 0; i++) {
        const struct cvb_tensor *m = concat ? tin(p, i) : tout(p, i);
        if (m == NULL || io->view[i]) continue;
        if (!is_f32(m)) return prep_fail(p, CVB_EUNSUPPORTED, "member %d is not float32", i);
        dnnl_memory_desc_t mmd, smd;
        dnnl_status_t s = md_act(p, &mmd, m);
        if (s == dnnl_success) s = md_layout(&smd, m->ndim, m->dims, wl);
        if (s != dnnl_success) return prep_status(p, s, "describing a slice");
        if (concat) {
            if (m->data != NULL) {
                /* a constant member: copied into the slice by a reorder
                 * from a plan buffer holding it */
                int buf;
                rc = plan_buf(p, cvb__tensor_bytes(m), &buf);
                if (rc == 0) memcpy(p->plan->bufs[buf], m->data, cvb__tensor_bytes(m));
                if (rc == 0)
                    rc = step_reorder(p, &mmd, (struct dnn_bind){BIND_BUF, buf, 0}, &smd,
                                      (struct dnn_bind){BIND_OUT, 0, io->off[i]});
            } else {
                rc = step_reorder(p, &mmd, (struct dnn_bind){BIND_IN, i, 0}, &smd,
                                  (struct dnn_bind){BIND_OUT, 0, io->off[i]});
            }
        } else {
            rc = step_reorder(p, &smd, (struct dnn_bind){BIND_IN, 0, io->off[i]}, &mmd,
                              (struct dnn_bind){BIND_OUT, i, 0});
        }
        n_copies++;
    }
    snprintf(p->plan->impl, sizeof p->plan->impl, n_copies ? "view+reorder" : "view");
    return rc;
}

/* ---- Split (copies) -------------------------------------------------------------- */

/* Split whose outputs are not views (NHWC, where a channel slice is
 * strided): each output is a reorder from a sub-memory of the input. The
 * slice sizes are read off the inferred output shapes. Only where the
 * executor chose a non-plain layout; plain splits stay on the reference
 * kernel (a plain copy is as fast). */
/* Split, and Concat with blocked activations and no views (batch N > 1:
 * the channel slices are not dense): each member is reordered from (Split)
 * or into (Concat) its slice of the whole tensor, a sub-memory at its
 * offset on 'axis' (block-aligned for blocked layouts). */
static int prep_slice_reorders(struct prep *p, bool concat) {
    const struct cvb_tensor *w = concat ? tout(p, 0) : tin(p, 0);
    int n_mem = concat ? p->n->n_in : p->n->n_out;
    int rc = 0;
    if (!is_f32(w)) return prep_fail(p, CVB_EUNSUPPORTED, "only float32 split/concat");
    int64_t axis = cvb__attr_int(p->n, "axis", concat ? 1 : 0);
    if (axis < 0) axis += w->ndim;
    if (axis < 0 || axis >= w->ndim) return prep_fail(p, CVB_EUNSUPPORTED, "axis out of range");
    dnnl_memory_desc_t whole;
    dnnl_status_t s = md_act(p, &whole, w);
    if (s != dnnl_success) return prep_status(p, s, "describing the whole tensor");
    int64_t pos = 0;
    for (int i = 0; i < n_mem && rc == 0; i++) {
        const struct cvb_tensor *m = concat ? tin(p, i) : tout(p, i);
        if (m == NULL || !is_f32(m) || m->ndim != w->ndim || m->data != NULL)
            return prep_fail(p, CVB_EUNSUPPORTED, "member %d is not a float32 activation", i);
        dnnl_dims_t dd, off;
        for (int d = 0; d < w->ndim; d++) {
            dd[d] = m->dims[d];
            off[d] = d == axis ? pos : 0;
        }
        dnnl_memory_desc_t sub, mmd;
        s = dnnl_memory_desc_init_submemory(&sub, &whole, dd, off);
        if (s == dnnl_success) s = md_act(p, &mmd, m);
        if (s != dnnl_success) return prep_status(p, s, "describing a slice");
        rc = concat ? step_reorder(p, &mmd, (struct dnn_bind){BIND_IN, i, 0}, &sub,
                                   (struct dnn_bind){BIND_OUT, 0, 0})
                    : step_reorder(p, &sub, (struct dnn_bind){BIND_IN, 0, 0}, &mmd,
                                   (struct dnn_bind){BIND_OUT, i, 0});
        pos += m->dims[axis];
    }
    if (rc == 0 && pos != w->dims[axis])
        rc = prep_fail(p, CVB_EUNSUPPORTED, "members do not cover the whole tensor");
    if (rc == 0)
        snprintf(p->plan->impl, sizeof p->plan->impl, concat ? "concat+reorder" : "split+reorder");
    return rc;
}

/* ---- uint8 frame input --------------------------------------------------------- */

int cvb__dnn_prepare_u8_input(struct cvb__dnn *d, const struct cvb_tensor *t, int layout,
                              bool bf16x2, void **state, struct cvb_err *err) {
    static const struct cvb_node dummy = {.op = CVB_OP_IDENTITY, .name = "input"};
    struct prep p = {.d = d, .n = &dummy, .err = err};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    struct dnn_step *st;
    int rc = 0;
    *state = NULL;
    p.plan = calloc(1, sizeof *p.plan);
    if (p.plan == NULL) return cvb_err_set(err, CVB_ENOMEM, "oneDNN: out of memory");
    p.plan->op = CVB_OP_IDENTITY;
    if (tl_configured != d->id) configure_thread(d);
    if (t->ndim != 4) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "uint8 input needs a [N,C,H,W] model input");
        goto out;
    }
    if (bf16x2) {
        rc = step_own(&p, STEP_FRAME2, 2, &st);
        if (rc == 0) {
            st->binds[0] = (struct dnn_bind){BIND_IN, 0, 0};
            st->binds[1] = (struct dnn_bind){BIND_OUT, 0, 0};
            st->rows = t->dims[0] * t->dims[2] * t->dims[3];
            st->frame_c = (int)t->dims[1];
            snprintf(p.plan->impl, sizeof p.plan->impl, "vec:u8>bf16x2");
        }
        goto out;
    }
    /* logical dims N,C,H,W; the frame is N,H,W,C bytes */
    dnnl_dims_t dd = {t->dims[0], t->dims[1], t->dims[2], t->dims[3]};
    dnnl_memory_desc_t from, to;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&from, 4, dd, dnnl_u8, dnnl_nhwc);
    if (s == dnnl_success) s = md_layout(&to, 4, t->dims, layout);
    if (s == dnnl_success) s = dnnl_primitive_attr_clone(&attr, d->attr);
    if (s == dnnl_success) {
        float scale = 1.f / 255.f;
        s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &scale);
    }
    if (s == dnnl_success)
        s = dnnl_reorder_primitive_desc_create(&rpd, &from, d->eng, &to, d->eng, attr);
    if (s != dnnl_success) {
        rpd = NULL;
        rc = dnn_err(err, CVB_EUNSUPPORTED, s, "uint8 NHWC to float32 reorder");
        goto out;
    }
    rc = step_new(&p, rpd, 2, true, &st);
    if (rc == 0) rc = step_arg(&p, st, DNNL_ARG_FROM, &from, (struct dnn_bind){BIND_IN, 0, 0});
    if (rc == 0) rc = step_arg(&p, st, DNNL_ARG_TO, &to, (struct dnn_bind){BIND_OUT, 0, 0});
out:
    if (rpd != NULL) dnnl_primitive_desc_destroy(rpd);
    if (attr != NULL) dnnl_primitive_attr_destroy(attr);
    if (rc < 0) {
        cvb__dnn_release(p.plan);
        return rc;
    }
    *state = p.plan;
    return 0;
}

/* ---- ISA ------------------------------------------------------------------------- */

bool cvb__cpu_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool found = false;
    size_t fl = strlen(flag);
    if (f == NULL) return false;
    while (!found && fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "flags", 5) != 0) continue;
        for (char *q = strstr(line, flag); q != NULL; q = strstr(q + 1, flag))
            if ((q == line || q[-1] == ' ' || q[-1] == '\t') &&
                (q[fl] == ' ' || q[fl] == '\n' || q[fl] == '\0')) {
                found = true;
                break;
            }
        break; /* first CPU's flags */
    }
    fclose(f);
    return found;
}

const char *cvb__cpu_model(char *buf, size_t len) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[1024];
    snprintf(buf, len, "unknown");
    if (f == NULL) return buf;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *c = strchr(line, ':');
        if (c == NULL) break;
        c++;
        while (*c == ' ' || *c == '\t') c++;
        c[strcspn(c, "\n")] = '\0';
        snprintf(buf, len, "%s", c);
        break;
    }
    fclose(f);
    return buf;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_all: return "all";
    default: return "other";
    }
}

/* The cap set through cvb__dnn_set_isa (0: none asked), under 'isa_lock'. */
static pthread_mutex_t isa_lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_cpu_isa_t isa_cap;

const char *cvb__dnn_effective_isa(void) {
    atomic_store(&dnn_used, true);
    return isa_name(dnnl_get_effective_cpu_isa());
}

static atomic_int bf16_layout_forced;
void cvb__dnn_test_bf16_layout(int layout) { atomic_store(&bf16_layout_forced, layout); }

int cvb__dnn_bf16_layout(void) {
    int forced = atomic_load(&bf16_layout_forced);
    if (forced != 0) return forced;
    atomic_store(&dnn_used, true);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    bool amx = isa == dnnl_cpu_isa_avx512_core_amx ||
               (isa == dnnl_cpu_isa_all && cvb__cpu_has("amx_bf16"));
    return amx ? CVB__LAYOUT_NHWC : cvb__dnn_blocked_layout();
}

int cvb__dnn_blocked_layout(void) {
    atomic_store(&dnn_used, true);
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    bool avx512 = isa == dnnl_cpu_isa_avx512_core || isa == dnnl_cpu_isa_avx512_core_vnni ||
                  isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx ||
                  isa == dnnl_cpu_isa_all;
    return avx512 ? CVB__LAYOUT_BLK16 : CVB__LAYOUT_BLK8;
}

const char *cvb__dnn_version(void) {
    static char text[64];
    const dnnl_version_t *v = dnnl_version();
    if (v == NULL) return "oneDNN unknown";
    snprintf(text, sizeof text, "oneDNN %d.%d.%d (%s)", v->major, v->minor, v->patch,
             v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime");
    return text;
}

const char *cvb__dnn_runtime(void) {
    const dnnl_version_t *v = dnnl_version();
    return v != NULL && v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other";
}

int cvb__dnn_set_isa(const char *isa, struct cvb_err *err) {
    static const struct {
        const char *name;
        dnnl_cpu_isa_t cap;
        const char *flags[3];
    } tab[] = {
        {"amx", dnnl_cpu_isa_avx512_core_amx, {"amx_tile", "amx_int8", "amx_bf16"}},
        {"avx512_vnni", dnnl_cpu_isa_avx512_core_vnni, {"avx512_vnni", "avx512f", "avx512bw"}},
        {"avx512", dnnl_cpu_isa_avx512_core, {"avx512f", "avx512bw", "avx512vl"}},
        {"avx2", dnnl_cpu_isa_avx2, {"avx2", "fma", NULL}},
    };
    int rc = 0;
    if (isa == NULL || isa[0] == '\0' || strcmp(isa, "auto") == 0) return 0;
    int k = -1;
    for (int i = 0; i < (int)CVB_ARRAY_LEN(tab); i++)
        if (strcmp(isa, tab[i].name) == 0) k = i;
    if (k < 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "unknown ISA '%s' (expected auto, amx, avx512_vnni, avx512 or avx2)", isa);
    for (int j = 0; j < 3; j++)
        if (tab[k].flags[j] != NULL && !cvb__cpu_has(tab[k].flags[j])) {
            char model[128];
            return cvb_err_set(err, CVB_EUNSUPPORTED,
                               "ISA '%s' needs the CPU flag '%s', which this CPU (%s) lacks", isa,
                               tab[k].flags[j], cvb__cpu_model(model, sizeof model));
        }
    pthread_mutex_lock(&isa_lock);
    if (isa_cap == tab[k].cap) goto out;
    if (isa_cap != 0 || atomic_load(&dnn_used)) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "ISA '%s' asked after oneDNN was initialised in this process with %s "
                         "(%s): the ISA can only be chosen before the first engine is created",
                         isa, isa_cap ? "a cap of" : "no cap, effective",
                         isa_cap ? isa_name(isa_cap) : isa_name(dnnl_get_effective_cpu_isa()));
        goto out;
    }
    dnnl_status_t s = dnnl_set_max_cpu_isa(tab[k].cap);
    if (s != dnnl_success) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "ISA '%s': oneDNN refused the cap (%s): it was already initialised", isa,
                         dnnl_status2str(s));
        goto out;
    }
    isa_cap = tab[k].cap;
    atomic_store(&dnn_used, true);
    dnnl_cpu_isa_t eff = dnnl_get_effective_cpu_isa();
    /* the effective ISA must be the asked family: never a silent fallback */
    bool ok = (k == 0 && eff == dnnl_cpu_isa_avx512_core_amx) ||
              (k == 1 && eff == dnnl_cpu_isa_avx512_core_vnni) ||
              (k == 2 && eff == dnnl_cpu_isa_avx512_core) || (k == 3 && eff == dnnl_cpu_isa_avx2);
    if (!ok)
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "ISA '%s' asked but oneDNN runs %s", isa,
                         isa_name(eff));
out:
    pthread_mutex_unlock(&isa_lock);
    return rc;
}

/* ---- prepare / run ----------------------------------------------------------- */

int cvb__dnn_prepare(struct cvb__dnn *d, const struct cvb_graph *g, const struct cvb_node *n,
                     void **state, struct cvb_err *err) {
    return cvb__dnn_prepare_io(d, g, n, NULL, state, err);
}

int cvb__dnn_prepare_io(struct cvb__dnn *d, const struct cvb_graph *g, const struct cvb_node *n,
                        const struct cvb__dnn_io *io, void **state, struct cvb_err *err) {
    struct prep p = {.d = d, .g = g, .n = n, .err = err, .io = io};
    int rc;
    *state = NULL;
    p.plan = calloc(1, sizeof *p.plan);
    if (p.plan == NULL) return prep_fail(&p, CVB_ENOMEM, "out of memory");
    p.plan->op = n->op;
    if (tl_configured != d->id) configure_thread(d);
    bool blk = false, blk16 = false; /* any non-plain; any nChw16c/8c */
    for (int i = 0; i < n->n_in + n->n_out; i++) {
        const struct cvb_tensor *t = i < n->n_in ? tin(&p, i) : tout(&p, i - n->n_in);
        int l = t != NULL ? layout_of(&p, t) : CVB__LAYOUT_PLAIN;
        if (l != CVB__LAYOUT_PLAIN) blk = true;
        if (l == CVB__LAYOUT_BLK16 || l == CVB__LAYOUT_BLK8) blk16 = true;
    }
    bool views = io != NULL && io->view != NULL;
    if (views && n->op != CVB_OP_CONCAT && n->op != CVB_OP_SPLIT) {
        rc = prep_fail(&p, CVB_EINTERNAL, "views asked for a node that is not Concat or Split");
    } else if (io != NULL && io->post != 0 && n->op != CVB_OP_CONV &&
               (n->op != CVB_OP_MATMUL ||
                (io->post & ~(unsigned)(CVB__POST_TRANS_A | CVB__POST_TRANS_B |
                                        CVB__POST_STORE_T)) != 0) &&
               (n->op != CVB_OP_TRANSPOSE ||
                (io->post != CVB__POST_READ_T && io->post != CVB__POST_STRIDED))) {
        rc = prep_fail(&p, CVB_EINTERNAL, "post-ops asked for a node that is not Conv");
    } else if (views) {
        rc = prep_view_copies(&p, n->op == CVB_OP_CONCAT);
    } else {
        switch (n->op) {
        case CVB_OP_CONV: rc = prep_conv(&p); break;
        case CVB_OP_MAXPOOL:
        case CVB_OP_AVERAGEPOOL: rc = prep_pool(&p); break;
        case CVB_OP_RESIZE: rc = prep_resize(&p); break;
        case CVB_OP_ADD: rc = prep_binary(&p, dnnl_binary_add); break;
        case CVB_OP_SUB: rc = prep_binary(&p, dnnl_binary_sub); break;
        case CVB_OP_MUL: rc = prep_binary(&p, dnnl_binary_mul); break;
        case CVB_OP_DIV: rc = prep_binary(&p, dnnl_binary_div); break;
        case CVB_OP_SIGMOID: rc = prep_eltwise(&p, dnnl_eltwise_logistic); break;
        case CVB_OP_RELU: rc = prep_eltwise(&p, dnnl_eltwise_relu); break;
        case CVB_OP_SQRT: rc = prep_eltwise(&p, dnnl_eltwise_sqrt); break;
        case CVB_OP_POW: rc = prep_eltwise(&p, dnnl_eltwise_pow); break;
        case CVB_OP_SPLIT: rc = prep_slice_reorders(&p, false); break;
        case CVB_OP_TRANSPOSE: rc = prep_transpose(&p); break; /* blocked output only */
        case CVB_OP_CONCAT:
            if (blk16) {
                /* batch 1 plans a blocked Concat as views (prep_view_copies) */
                rc = tout(&p, 0)->dims[0] > 1
                         ? prep_slice_reorders(&p, true)
                         : prep_fail(&p, CVB_EUNSUPPORTED, "blocked layout for this op");
                break;
            }
            if (act_u8(&p, tout(&p, 0)) != NULL)
                rc = prep_concat_u8(&p, act_u8(&p, tout(&p, 0)));
            else
                rc = prep_concat(&p);
            break;
        case CVB_OP_SOFTMAX:
        case CVB_OP_MATMUL:
            if (blk) {
                rc = prep_fail(&p, CVB_EUNSUPPORTED, "blocked layout for this op");
                break;
            }
            rc = n->op == CVB_OP_SOFTMAX ? prep_softmax(&p) : prep_matmul(&p);
            break;
        default: rc = prep_fail(&p, CVB_EUNSUPPORTED, "no oneDNN kernel for this op"); break;
        }
    }
    if (rc < 0) {
        cvb__dnn_release(p.plan);
        return rc;
    }
    *state = p.plan;
    return 0;
}

int cvb__dnn_run(struct cvb__dnn *d, void *state, const struct cvb_kctx *k, struct cvb_err *err) {
    struct dnn_plan *pl = state;
    dnnl_status_t s = dnnl_success;
    if (tl_configured != d->id) configure_thread(d);
    for (int i = 0; i < pl->n_steps && s == dnnl_success; i++) {
        struct dnn_step *st = &pl->steps[i];
        for (int j = 0; j < st->n_args && s == dnnl_success; j++) {
            const struct dnn_bind *b = &st->binds[j];
            void *ptr;
            switch (b->kind) {
            case BIND_IN: ptr = (uint8_t *)k->in[b->idx] + b->off; break;
            case BIND_OUT: ptr = (uint8_t *)k->out[b->idx] + b->off; break;
            case BIND_BUF: ptr = pl->bufs[b->idx]; break;
            default: ptr = d->scratch; break;
            }
            if (st->kind == STEP_PRIM)
                s = dnnl_memory_set_data_handle(st->args[j].memory, ptr);
            else
                st->ptrs[j] = ptr;
        }
        /* ours run in order with the primitives: the CPU stream is synchronous */
        if (s == dnnl_success && st->kind == STEP_PRIM)
            s = dnnl_primitive_execute(st->prim, d->stream, st->n_args, st->args);
        else if (st->kind == STEP_SILU)
            cvb__vec_silu(st->ptrs[0], st->silu_n, st->silu_isa);
        else if (st->kind == STEP_CONCAT)
            cvb__vec_concat_rows(st->ptrs[st->n_args - 1], (const void *const *)st->ptrs,
                                 st->row_bytes, st->n_args - 1, st->rows);
        else if (st->kind == STEP_FRAME2)
            cvb__vec_u8_to_bf16x2(st->ptrs[1], st->ptrs[0], st->rows, st->frame_c);
        else if (st->kind == STEP_SOFTMAX)
            cvb__vec_softmax_mid(st->ptrs[0], st->ptrs[1], st->sm[0], st->sm[1], st->sm[2]);
        else if (st->kind == STEP_CONCAT_U8)
            cvb__vec_concat_rows_u8(st->ptrs[st->n_args - 1], (const void *const *)st->ptrs,
                                    st->cols, st->q8, st->n_args - 1, st->rows,
                                    st->q8[st->n_args - 1].scale, st->q8[st->n_args - 1].zp);
        else if (st->kind == STEP_ADD_Q8)
            cvb__vec_add_q8(st->ptrs[2], st->ptrs[0], st->ptrs[1], st->rows, st->q8);
        else if (st->kind == STEP_DFL)
            cvb__vec_dfl(st->ptrs[0], st->ptrs[1], st->sm[0], st->sm[1], st->sm[2], st->dfl_w,
                         st->dfl_w[st->sm[1]]);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(d->stream);
    if (s != dnnl_success)
        return cvb_err_set(err, CVB_EINTERNAL, "node \"%s\" (%s): oneDNN execution failed: %s",
                           k->node->name, cvb__op_name(k->node->op), dnnl_status2str(s));
    return 0;
}
