/* SPDX-License-Identifier: Apache-2.0 */
/* The inference engine: load an ONNX model, plan it once, run it many times.
 *
 * Building the graph (cvb_engine_load) is separate from computing it
 * (cvb_engine_run). Shapes are static after load; run() never allocates
 * (but for oneDNN's own transient argument maps, freed within each call). */
#ifndef CVB_ENGINE_H
#define CVB_ENGINE_H

#include "cvb/common.h"

#include <stdbool.h>
#include <stdint.h>

#define CVB_ENGINE_MAX_DIMS 8
/* Largest batch an engine may be planned for (cvb_engine_opts.batch). */
#define CVB_ENGINE_MAX_BATCH 1024
/* Model files larger than this are refused (2 GiB, protobuf's own limit). */
#define CVB_MODEL_MAX_BYTES ((size_t)2 << 30)

enum cvb_kernels {
    CVB_KERNELS_ONEDNN = 0, /* oneDNN primitives for heavy ops, reference for the rest */
    CVB_KERNELS_REF,        /* plain C reference kernels for every op */
};

/* How the caller hands input 0 to cvb_engine_run(). */
enum cvb_input_format {
    CVB_INPUT_F32_NCHW = 0, /* the model's own input: float32 [N,3,S,S], RGB in 0..1 */
    CVB_INPUT_U8_NHWC,      /* letterboxed frames: uint8 [N,S,S,3] RGB in 0..255; the
                               engine scales by 1/255 while converting it for the first
                               layer (one pass, no separate float copy) */
};

/* Numeric precision of the convolutions (oneDNN kernel set only).
 *  FP32: everything float32.
 *  BF16: convolutions take bfloat16 inputs and weights, accumulate and write
 *        float32; the rest stays float32. Needs avx512_bf16 or AMX: elsewhere
 *        oneDNN emulates it (~50x slower) and load refuses unless
 *        allow_emulated is set.
 *  INT8: post-training static quantisation with a calibration file
 *        ('calib', from cvb_calib_save / `cvbench model calibrate`): u8
 *        activations (per tensor, zero point), s8 weights (per output
 *        channel), float32 between layers in NHWC; the head's output convs,
 *        DFL, decode and any attention stay float32. */
enum cvb_precision { CVB_PRECISION_FP32 = 0, CVB_PRECISION_BF16, CVB_PRECISION_INT8 };

/* "fp32", "bf16", "int8" <-> enum; parse returns CVB_EINVAL on anything else. */
const char *cvb_precision_name(enum cvb_precision p);
int cvb_precision_parse(const char *s, enum cvb_precision *out);

/* Threads: each engine runs its oneDNN kernels on an OpenMP team of
 * 'threads' threads belonging to the thread that calls cvb_engine_run()
 * (run() sets that thread's team size). Several engines may run side by
 * side, each driven by its own thread; they do not share threads, so the
 * caller keeps the sum of their 'threads' at or below the cores it may use
 * (cvb_engine_default_threads()) to avoid oversubscription. */
struct cvb_engine_opts {
    enum cvb_kernels kernels;
    int imgsz;   /* > 0: fix dynamic spatial dims of 4-D inputs to imgsz x imgsz */
    int threads; /* oneDNN threads; 0 = the cores this process may use */
    enum cvb_input_format input_format;
    /* oneDNN ISA cap: NULL/"auto", "amx", "avx512_vnni", "avx512", "avx2".
     * Process-wide, fixed by the first engine: a later engine asking a
     * different cap fails (CVB_EINVAL); an ISA the CPU lacks fails
     * (CVB_EUNSUPPORTED). */
    const char *isa;
    bool no_fusion; /* oneDNN set: plain layouts, no fusion or views (for comparison) */
    enum cvb_precision precision; /* default FP32 */
    const char *calib;   /* INT8: calibration file (required; read at load, not kept) */
    bool allow_emulated; /* BF16 on a CPU without native bf16: run it anyway */
    /* > 0: refuse (CVB_ERANGE, naming the model and the size) a model whose
     * planned activation arena is larger, before allocating it. The arena
     * follows the declared input shape, which a small file can make huge. */
    int64_t max_activation_bytes;
    /* Items per run: 0 or 1 = the model's own batch; N > 1: the plan's input
     * dim 0 is N (a model exported at batch 1 or with a dynamic batch), and
     * every output's dim 0 is N. Shapes stay static: one engine = one batch
     * size. Nodes whose batch behaviour the loader cannot prove safe are
     * refused (CVB_EUNSUPPORTED, naming the node). */
    int batch;
};

/* The cores this process may use (sched_getaffinity), >= 1. */
int cvb_engine_default_threads(void);

/* Tensor description. dtype is one of "float32", "uint8", "int64", ... */
struct cvb_tensor_info {
    const char *name;
    const char *dtype;
    int ndim;
    int64_t dims[CVB_ENGINE_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    /* The shape depends on the data (after NonZero or NonMaxSuppression):
     * dims/bytes are the bound, the largest it can be; the caller's buffer
     * must hold that, and cvb_engine_output_shape() gives the last run's. */
    bool dynamic;
};

struct cvb_engine;

/* Load the ONNX model at 'path'. On success sets *out (caller frees with
 * cvb_engine_free()) and returns 0; on failure returns a negative status,
 * sets *out to NULL and describes the problem in 'err' (naming the file, and
 * the node and op where there is one). 'opts' may be NULL for defaults. */
int cvb_engine_load(const char *path, const struct cvb_engine_opts *opts,
                    struct cvb_engine **out, struct cvb_err *err);
/* The same from a serialized ModelProto in memory; 'name' is used in errors. */
int cvb_engine_load_buffer(const void *buf, size_t len, const char *name,
                           const struct cvb_engine_opts *opts, struct cvb_engine **out,
                           struct cvb_err *err);
void cvb_engine_free(struct cvb_engine *e);

int cvb_engine_n_inputs(const struct cvb_engine *e);
int cvb_engine_n_outputs(const struct cvb_engine *e);
/* Fill *info for input/output i; the strings live as long as the engine. */
int cvb_engine_input_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info);
int cvb_engine_output_info(const struct cvb_engine *e, int i, struct cvb_tensor_info *info);
/* Output i's actual shape in the last run() (the same as output_info for
 * static outputs; before any run, the bound). */
int cvb_engine_output_shape(const struct cvb_engine *e, int i, struct cvb_tensor_info *info);

/* Run once. inputs[i] points to a dense row-major buffer of input i's dtype
 * and size; outputs[i] to a buffer of output i's size, which run() fills.
 * Not thread-safe on one engine: use one engine per concurrent caller. */
int cvb_engine_run(struct cvb_engine *e, const void *const *inputs, void *const *outputs,
                   struct cvb_err *err);

/* Called after each node executes with that node's first output (float32
 * outputs only). The callback may modify the data in place; later nodes
 * see the modification. Used by model synthesis for data-dependent init.
 * Only honoured with CVB_KERNELS_REF; pass NULL to remove. */
typedef void (*cvb_engine_observer)(void *user, const char *node_name, const char *op_type,
                                    float *data, int ndim, const int64_t *dims);
void cvb_engine_set_observer(struct cvb_engine *e, cvb_engine_observer fn, void *user);

/* Static facts about a loaded model, for `cvbench model info`. */
struct cvb_model_info {
    int64_t n_params;           /* elements of float constants feeding Conv/MatMul/Gemm/Add/Mul */
    double flops;               /* 2 x MAC of Conv and MatMul per inference */
    int64_t activation_bytes;   /* bytes of run-time tensor buffers the engine holds */
    int n_nodes;                /* nodes in the model file */
    int n_live_nodes;           /* nodes left after constant folding */
    int n_dyn_nodes;            /* live nodes with data-dependent shapes (reference kernels) */
    int64_t opset;
    bool synthetic;             /* model says it carries synthetic weights */
    const char *producer;
    int n_ops;                  /* entries in op_names/op_counts (file's histogram) */
    const char *op_names[64];
    int op_counts[64];
};
int cvb_engine_model_info(const struct cvb_engine *e, struct cvb_model_info *info);

/* Per-node kernel assignment, for profiling and tests: the number of live
 * nodes running on oneDNN primitives. */
int cvb_engine_n_onednn_nodes(const struct cvb_engine *e);

/* ---- profiling ----
 * One entry per executed step (a node, possibly with fused nodes, or the
 * input conversion), in execution order. Times are only taken while
 * profiling is on (a clock read around each step; off by default). */
struct cvb_node_profile {
    const char *name;   /* node name ("input" for the u8 frame conversion) */
    const char *ops;    /* what it computes: "Conv+SiLU", "Concat", ... */
    const char *shape;  /* first output's shape, "[1,16,320,320]" */
    const char *kernel; /* oneDNN implementation ("jit:avx512_core"), or "ref:<op>" */
    double flops;       /* 2 x MACs per run (Conv, MatMul), else 0 */
    int64_t ns;         /* accumulated wall time over 'calls' runs */
    int64_t calls;
};
void cvb_engine_set_profiling(struct cvb_engine *e, bool on);
void cvb_engine_profile_reset(struct cvb_engine *e);
/* Sets *entries (valid while the engine lives) and returns their count. */
int cvb_engine_profile(const struct cvb_engine *e, const struct cvb_node_profile **entries);

/* Effective settings: the thread count run() uses; the ISA oneDNN runs
 * ("avx512_core_vnni"; "none" with the reference kernels). */
int cvb_engine_threads(const struct cvb_engine *e);
const char *cvb_engine_isa(const struct cvb_engine *e);

/* Precision the engine runs and the number of convolutions running at it
 * (the others stay float32). */
enum cvb_precision cvb_engine_precision(const struct cvb_engine *e);
int cvb_engine_n_lowp_convs(const struct cvb_engine *e);

/* ---- calibration (post-training static quantisation) ----
 * A calibrator runs the float32 model (oneDNN, u8 NHWC frames) and records
 * the range of every quantised convolution's input (min/max over all frames).
 * Frames are letterboxed uint8 RGB, S x S x 3 (S = cvb_calib_imgsz()). */
struct cvb_calib;
/* Load 'model_path' for calibration at 'imgsz' (0: the model's own) with
 * 'threads' (0: default). Free with cvb_calib_free(). */
int cvb_calib_new(const char *model_path, int imgsz, int threads, struct cvb_calib **out,
                  struct cvb_err *err);
void cvb_calib_free(struct cvb_calib *c);
int cvb_calib_imgsz(const struct cvb_calib *c);
int cvb_calib_n_tensors(const struct cvb_calib *c); /* quantised convs */
/* Run one frame and widen the recorded ranges. */
int cvb_calib_add_frame(struct cvb_calib *c, const uint8_t *frame, struct cvb_err *err);
/* Write the calibration file (text, one line per quantised conv, with the
 * method and the model's SHA-256). Needs at least one frame. */
int cvb_calib_save(const struct cvb_calib *c, const char *path, struct cvb_err *err);
/* A procedural calibration frame (S x S x 3 RGB, seeded): a gradient
 * background, random rectangles and discs in random colours, noise, and on
 * every other seed grey-114 letterbox bars. Deterministic per (S, seed). */
void cvb_calib_procedural_frame(int s, uint64_t seed, uint8_t *dst);
/* Write the model as a QDQ ONNX file: QuantizeLinear/DequantizeLinear on each
 * quantised conv's input and (before its SiLU) output, u8 with the
 * calibrated scales/zero points, and DequantizeLinear on its int8 weights
 * (per output channel, axis 0): the numbers the int8 engine uses, in the
 * standard form ONNX Runtime fuses into QLinearConv. */
int cvb_calib_export_qdq(const struct cvb_calib *c, const char *path, struct cvb_err *err);

/* The inference library in use, for run manifests: "oneDNN 2.6.3 (OpenMP)". */
const char *cvb_engine_version(void);

#endif
