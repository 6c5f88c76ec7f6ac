/* SPDX-License-Identifier: Apache-2.0 */
/* KServe v2 (Open Inference Protocol) REST codec, with Triton's binary
 * tensor, statistics and model configuration extensions. No HTTP here: the
 * server (`cvbench serve-model`, on src/http/) and the client (the `kserve`
 * backend) hand bodies and the Inference-Header-Content-Length value in and
 * take bodies out. One parser of untrusted bytes (cvb_kserve_request_parse,
 * cvb_kserve_response_parse, cvb_kserve_model_meta_parse), fuzzed by
 * tests/fuzz/fuzz-kserve-request.c.
 *
 * Wire format of an infer request or response:
 *     body = JSON header [ binary tensor 0 | binary tensor 1 | ... ]
 * The JSON header's length travels in the HTTP header
 * Inference-Header-Content-Length (absent: the whole body is JSON). A
 * tensor sent binary carries "parameters": {"binary_data_size": N} and no
 * "data"; the binary tensors follow the header in the order of the tensors
 * in the JSON, each exactly N bytes, little-endian, row-major; BYTES
 * elements are a 4-byte little-endian length then the bytes. A requested
 * output asks for binary with "parameters": {"binary_data": true} (or the
 * request's "parameters": {"binary_data_output": true} asks for all).
 *
 * Ownership: a parsed tensor's bytes are borrowed from the body when they
 * came binary (zero copy: the body must outlive the parsed struct; the
 * pointer may be unaligned for the datatype) and point into one buffer the
 * parsed struct owns when they came as JSON "data" (8-byte aligned; freed
 * by the _cleanup function). */
#ifndef CVB_KSERVE_H
#define CVB_KSERVE_H

#include "cvb/common.h"

#include <stddef.h>
#include <stdint.h>

#define CVB_KSERVE_HEADER_LEN "Inference-Header-Content-Length"
#define CVB_KSERVE_MAX_DIMS 8
#define CVB_KSERVE_MAX_TENSORS 16
#define CVB_KSERVE_NAME_MAX 128  /* tensor, model and id strings, NUL included */
#define CVB_KSERVE_MAX_DEPTH 32  /* JSON nesting limit of every parser here */
#define CVB_KSERVE_DEFAULT_MAX_TENSOR_BYTES ((size_t)256 << 20)
#define CVB_KSERVE_DEFAULT_MAX_DECODE_BYTES ((size_t)64 << 20)

/* X(ENUM, "KServe name", "Triton config name", element bytes; 0 = variable) */
#define CVB_KSERVE_DTYPE_LIST(X)                                               \
    X(BOOL, "BOOL", "TYPE_BOOL", 1)                                            \
    X(UINT8, "UINT8", "TYPE_UINT8", 1)                                         \
    X(UINT16, "UINT16", "TYPE_UINT16", 2)                                      \
    X(UINT32, "UINT32", "TYPE_UINT32", 4)                                      \
    X(UINT64, "UINT64", "TYPE_UINT64", 8)                                      \
    X(INT8, "INT8", "TYPE_INT8", 1)                                            \
    X(INT16, "INT16", "TYPE_INT16", 2)                                         \
    X(INT32, "INT32", "TYPE_INT32", 4)                                         \
    X(INT64, "INT64", "TYPE_INT64", 8)                                         \
    X(FP16, "FP16", "TYPE_FP16", 2)                                            \
    X(FP32, "FP32", "TYPE_FP32", 4)                                            \
    X(FP64, "FP64", "TYPE_FP64", 8)                                            \
    X(BYTES, "BYTES", "TYPE_STRING", 0)

enum cvb_kserve_dtype {
#define CVB_X(e, name, triton, size) CVB_KSERVE_##e,
    CVB_KSERVE_DTYPE_LIST(CVB_X)
#undef CVB_X
    CVB_KSERVE_DTYPE_COUNT
};

/* "FP32"; "?" for a value outside the enum. */
const char *cvb_kserve_dtype_name(enum cvb_kserve_dtype dt);
/* "TYPE_FP32" (Triton's model configuration); "?" outside the enum. */
const char *cvb_kserve_dtype_triton_name(enum cvb_kserve_dtype dt);
/* Bytes per element; 0 for BYTES (variable) and outside the enum. */
size_t cvb_kserve_dtype_size(enum cvb_kserve_dtype dt);
/* "FP32" -> CVB_KSERVE_FP32 (exact, case-sensitive, as the spec spells
 * them); also accepts the Triton "TYPE_*" names when 'triton' is nonzero.
 * 0, or CVB_EINVAL for any other string. */
int cvb_kserve_dtype_parse(const char *name, int triton, enum cvb_kserve_dtype *out);

/* IEEE half <-> float (round to nearest even), for FP16 tensors in JSON. */
uint16_t cvb_kserve_f32_to_f16(float f);
float cvb_kserve_f16_to_f32(uint16_t h);

/* One tensor of a request or response. */
struct cvb_kserve_tensor {
    char name[CVB_KSERVE_NAME_MAX];
    enum cvb_kserve_dtype dtype;
    int n_dims;                             /* 0..CVB_KSERVE_MAX_DIMS (0: a scalar) */
    int64_t shape[CVB_KSERVE_MAX_DIMS];     /* each >= 0 */
    const void *data;                       /* n_bytes bytes (see Ownership above) */
    size_t n_bytes;                         /* elements x element size; BYTES: the
                                               length-prefixed encoding's size */
    int binary;                             /* encode: send binary; parse: it came binary */
};

/* Elements in 'shape' (1 for a scalar) into *n_elems; CVB_EINVAL for a
 * negative dim or too many dims, CVB_ERANGE when the product overflows or
 * the bytes (elements x element size of 'dt'; for BYTES at least 4 per
 * element) pass 'max_bytes'. 'what' names the tensor in the message. */
int cvb_kserve_shape_check(const char *what, enum cvb_kserve_dtype dt, int n_dims,
                           const int64_t *shape, size_t max_bytes, uint64_t *n_elems,
                           struct cvb_err *err);

/* Caps applied while parsing untrusted bytes; zero fields take defaults. */
struct cvb_kserve_limits {
    size_t max_tensor_bytes; /* one tensor's bytes (default 256 MiB) */
    size_t max_decode_bytes; /* all tensors sent as JSON "data", decoded (default 64 MiB) */
    void *scratch;           /* optional caller buffer for the decoded JSON data */
    size_t scratch_bytes;    /* its size (then no allocation; ERANGE if too small) */
};

/* An output the client asks for. */
struct cvb_kserve_output_req {
    char name[CVB_KSERVE_NAME_MAX];
    int binary; /* "parameters": {"binary_data": true} */
};

/* POST /v2/models/{name}[/versions/{v}]/infer */
struct cvb_kserve_request {
    char id[CVB_KSERVE_NAME_MAX];  /* "" = none */
    int n_inputs;                  /* 1..CVB_KSERVE_MAX_TENSORS */
    struct cvb_kserve_tensor inputs[CVB_KSERVE_MAX_TENSORS];
    int n_outputs;                 /* 0 = all outputs (the spec's default) */
    struct cvb_kserve_output_req outputs[CVB_KSERVE_MAX_TENSORS];
    int binary_outputs;            /* "parameters": {"binary_data_output": true} */
    void *owned_;                  /* decoded JSON data (internal) */
};

/* The inference response. */
struct cvb_kserve_response {
    char model_name[CVB_KSERVE_NAME_MAX];
    char model_version[CVB_KSERVE_NAME_MAX]; /* "" = omitted */
    char id[CVB_KSERVE_NAME_MAX];            /* "" = omitted */
    int n_outputs;                           /* 1..CVB_KSERVE_MAX_TENSORS */
    struct cvb_kserve_tensor outputs[CVB_KSERVE_MAX_TENSORS];
    void *owned_;                            /* decoded JSON data (internal) */
};

/* Parse an infer request: 'len' bytes of 'body' and the value of the
 * Inference-Header-Content-Length header ('header_len' NULL when absent:
 * the body is all JSON). Everything is validated before anything is
 * allocated: the header length (decimal, 1..len), the JSON (an object,
 * nested at most 32 deep), 1..16 inputs with distinct printable names,
 * datatype, shape (<= 8 dims, each >= 0, product and bytes under the
 * limits), exactly one of "data" (flat or nested lists holding exactly the
 * shape's element count, each value within the datatype's range) or
 * "binary_data_size" (the element count x size; the sizes sum exactly to
 * the bytes after the header), and 0..16 distinct requested outputs. On
 * success fills *out (release with cvb_kserve_request_cleanup(); binary
 * tensors borrow 'body') and returns 0. Otherwise returns CVB_EINVAL (bad
 * structure) or CVB_ERANGE (a value or size out of range; CVB_ENOMEM only
 * when allocating the decode buffer failed), leaves *out holding nothing,
 * and puts a message fit for a 400 reply, naming the input and the
 * problem, in 'err'. 'lim' may be NULL (defaults). */
int cvb_kserve_request_parse(const void *body, size_t len, const char *header_len,
                             const struct cvb_kserve_limits *lim, struct cvb_kserve_request *out,
                             struct cvb_err *err);
void cvb_kserve_request_cleanup(struct cvb_kserve_request *r);

/* Encode 'r' (inputs with binary set go binary, the others as JSON "data"):
 * appends the body to 'out' (a cvb_buf whose max_bytes bounds it) and sets
 * *header_len to the JSON header's length. When any tensor is binary, send
 * *header_len as Inference-Header-Content-Length; otherwise it equals the
 * body length and the header may be omitted. CVB_EINVAL for a tensor whose
 * n_bytes does not match its shape or a NaN/inf value sent as JSON
 * (CVB_ERANGE), CVB_ERANGE past out's max_bytes. */
int cvb_kserve_request_encode(const struct cvb_kserve_request *r, struct cvb_buf *out,
                              size_t *header_len, struct cvb_err *err);

/* The same pair for responses (the server encodes, the client parses).
 * The parser applies the request parser's checks to "outputs" (1..16);
 * a KServe error reply {"error": "..."} returns CVB_EIO with the server's
 * message in 'err'. */
int cvb_kserve_response_encode(const struct cvb_kserve_response *r, struct cvb_buf *out,
                               size_t *header_len, struct cvb_err *err);
int cvb_kserve_response_parse(const void *body, size_t len, const char *header_len,
                              const struct cvb_kserve_limits *lim,
                              struct cvb_kserve_response *out, struct cvb_err *err);
void cvb_kserve_response_cleanup(struct cvb_kserve_response *r);

/* {"error":"<msg>"}: the KServe error reply body (status 400/404/500 is
 * the caller's choice). */
int cvb_kserve_error_encode(const char *msg, struct cvb_buf *out);

/* ---- metadata, configuration, statistics -------------------------------------- */

/* A tensor's description: shape dims may be -1 (variable, e.g. batch). */
struct cvb_kserve_tensor_meta {
    char name[CVB_KSERVE_NAME_MAX];
    enum cvb_kserve_dtype dtype;
    int n_dims;
    int64_t shape[CVB_KSERVE_MAX_DIMS];
};

#define CVB_KSERVE_MAX_VERSIONS 8
/* GET /v2/models/{name}:
 * {"name","versions":[...],"platform","inputs":[{"name","datatype","shape"}],"outputs":[...]} */
struct cvb_kserve_model_meta {
    char name[CVB_KSERVE_NAME_MAX];
    int n_versions;
    char versions[CVB_KSERVE_MAX_VERSIONS][32];
    char platform[64];
    int n_inputs;
    struct cvb_kserve_tensor_meta inputs[CVB_KSERVE_MAX_TENSORS];
    int n_outputs;
    struct cvb_kserve_tensor_meta outputs[CVB_KSERVE_MAX_TENSORS];
};
int cvb_kserve_model_meta_encode(const struct cvb_kserve_model_meta *m, struct cvb_buf *out,
                                 struct cvb_err *err);
/* Client side: parse a server's model metadata (untrusted: same limits as
 * the request parser; dims >= -1; unknown fields ignored). 0 or
 * CVB_EINVAL / CVB_ERANGE naming the field. */
int cvb_kserve_model_meta_parse(const void *body, size_t len, struct cvb_kserve_model_meta *out,
                                struct cvb_err *err);

/* Check tensors 't' (a parsed request's inputs, or what a client is about
 * to send) against the model's declared inputs 'decl': each declared input
 * given exactly once, no undeclared one, the same datatype and rank, and
 * every dim equal to the declared one unless that is -1. 0, or CVB_EINVAL
 * naming the input and the mismatch (fit for a 400 reply, or for the
 * client's refusal before a run). */
int cvb_kserve_check_inputs(const struct cvb_kserve_tensor_meta *decl, int n_decl,
                            const struct cvb_kserve_tensor *t, int n, struct cvb_err *err);

#define CVB_KSERVE_MAX_EXTENSIONS 16
/* GET /v2: {"name","version","extensions":[...]} */
struct cvb_kserve_server_meta {
    const char *name;
    const char *version;
    int n_extensions;
    const char *extensions[CVB_KSERVE_MAX_EXTENSIONS];
};
int cvb_kserve_server_meta_encode(const struct cvb_kserve_server_meta *m, struct cvb_buf *out,
                                  struct cvb_err *err);

/* GET /v2/models/{name}/config (Triton's model configuration extension):
 * {"name","platform","backend","max_batch_size","input":[{"name","data_type":"TYPE_UINT8",
 *  "format":"FORMAT_NONE","dims":[...]}],"output":[...],
 *  "dynamic_batching":{"preferred_batch_size":[...],"max_queue_delay_microseconds":N},
 *  "instance_group":[{"count":N,"kind":"KIND_CPU"}]}
 * dims exclude the batch dimension when max_batch_size > 0, as in Triton. */
#define CVB_KSERVE_MAX_PREFERRED 8
struct cvb_kserve_model_config {
    const char *name;
    const char *platform;          /* e.g. "onnxruntime_onnx" */
    const char *backend;           /* NULL = omitted */
    int max_batch_size;            /* 0 = no batching */
    int n_inputs;
    struct cvb_kserve_tensor_meta inputs[CVB_KSERVE_MAX_TENSORS];
    int n_outputs;
    struct cvb_kserve_tensor_meta outputs[CVB_KSERVE_MAX_TENSORS];
    int dynamic_batching;          /* emit "dynamic_batching" */
    uint64_t max_queue_delay_us;
    int n_preferred;
    int preferred_batch_sizes[CVB_KSERVE_MAX_PREFERRED];
    int instance_count;            /* 0 = omit instance_group */
};
int cvb_kserve_model_config_encode(const struct cvb_kserve_model_config *c, struct cvb_buf *out,
                                   struct cvb_err *err);

/* GET /v2/models/{name}/stats (Triton's statistics extension):
 * {"model_stats":[{"name","version","last_inference","inference_count","execution_count",
 *   "inference_stats":{"success":{"count","ns"},"fail","queue","compute_input",
 *   "compute_infer","compute_output","cache_hit","cache_miss"},
 *   "batch_stats":[{"batch_size","compute_input","compute_infer","compute_output"}]}]} */
struct cvb_kserve_stat {
    uint64_t count;
    uint64_t ns;
};
#define CVB_KSERVE_MAX_BATCH_STATS 64
struct cvb_kserve_batch_stat {
    uint64_t batch_size;
    struct cvb_kserve_stat compute_input, compute_infer, compute_output;
};
struct cvb_kserve_model_stats {
    char name[CVB_KSERVE_NAME_MAX];
    char version[32];
    uint64_t last_inference_ms;    /* ms since the epoch of the last request */
    uint64_t inference_count;      /* requests' batch items inferred */
    uint64_t execution_count;      /* engine calls (batches) */
    struct cvb_kserve_stat success, fail, queue, compute_input, compute_infer, compute_output;
    int n_batch;
    struct cvb_kserve_batch_stat batch[CVB_KSERVE_MAX_BATCH_STATS];
};
int cvb_kserve_stats_encode(const struct cvb_kserve_model_stats *m, int n, struct cvb_buf *out,
                            struct cvb_err *err);
/* Client side: the first entry of "model_stats" (counts and times only;
 * the batch_stats list is read up to CVB_KSERVE_MAX_BATCH_STATS). */
int cvb_kserve_stats_parse(const void *body, size_t len, struct cvb_kserve_model_stats *out,
                           struct cvb_err *err);

#endif
