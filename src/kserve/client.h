/* SPDX-License-Identifier: Apache-2.0 */
/* The KServe v2 (Open Inference Protocol) REST client behind `cvbench run
 * --backend kserve`: talks to Triton, OpenVINO Model Server, KServe's
 * ModelServer, MLServer or `cvbench serve-model` over HTTP/1.1.
 *
 *   cvb_kserve_client_open()   once per level: server and model readiness,
 *                              the model's metadata (and Triton's model
 *                              configuration when the server has it), the
 *                              choice of encoding, checks
 *   cvb_kserve_conn_new()      one keep-alive connection with its request and
 *                              response buffers (one per request in flight)
 *   cvb_kserve_conn_infer()    one frame: serialise, POST, parse, copy out
 *   cvb_kserve_client_stats()  the server's statistics extension (cumulative)
 *
 * Encoding: the client sends the letterboxed frame as UINT8 NHWC [1,S,S,3]
 * when the model's input is declared UINT8 with 3 as its last dim, and as
 * FP32 NCHW [1,3,S,S] (pixel / 255, as the cpu backend's engines see it)
 * when it is declared FP32 with 3 as its second dim; anything else is
 * refused before the run. A batch dim declared -1 is sent as 1. Tensors
 * travel with the binary tensor extension both ways. */
#ifndef CVB_KSERVE_CLIENT_H
#define CVB_KSERVE_CLIENT_H

#include "cvb/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CVB_KSERVE_CLIENT_MAX_OUTPUTS 8

struct cvb_kserve_client_opts {
    const char *url;     /* "http://host:port" (a trailing '/' is ignored) */
    const char *model;   /* the model name in /v2/models/{model} */
    const char *token;   /* bearer token, NULL = none */
    int imgsz;           /* expected input side S; 0 = whatever the server declares */
    long timeout_ms;     /* per request; 0 = 60 s */
};

/* What the server's model takes and gives, as the client will use it. */
struct cvb_kserve_remote {
    char server[64];               /* GET /v2 "name version", "" if the server has no /v2 */
    int imgsz;                     /* S */
    bool input_u8;                 /* UINT8 NHWC; false: FP32 NCHW */
    char input_name[128];
    size_t input_bytes;            /* binary payload per frame: S*S*3 or 4*S*S*3 */
    int n_outputs;                 /* the model's outputs (all are requested, binary) */
    char output_names[CVB_KSERVE_CLIENT_MAX_OUTPUTS][128];
    int output_ndim[CVB_KSERVE_CLIENT_MAX_OUTPUTS];
    int64_t output_dims[CVB_KSERVE_CLIENT_MAX_OUTPUTS][8]; /* batch dim resolved to 1 */
    size_t output_bytes[CVB_KSERVE_CLIENT_MAX_OUTPUTS];    /* FP32 elements x 4 */
    int max_batch_size;            /* Triton config; -1 when the server has no config */
    int instances;                 /* Triton config instance_group count sum; 0 unknown */
    bool has_stats;                /* the statistics extension answered */
    size_t request_header_bytes;   /* the JSON header of every request (padded with
                                      spaces to a multiple of 64); a request body is
                                      this + input_bytes */
};

struct cvb_kserve_client;
struct cvb_kserve_conn;

/* Ready checks, metadata, config, encoding choice. Errors name the URL or
 * the model and the problem: "http://h:p: cannot reach server: ...",
 * "model 'm' is not ready on http://h:p", "model 'm' input 'images':
 * FP16 [1,3,640,640] is neither UINT8 [1,S,S,3] nor FP32 [1,3,S,S]",
 * "model 'm' input is 640x640, the scenario wants imgsz 320". */
int cvb_kserve_client_open(const struct cvb_kserve_client_opts *opts,
                           struct cvb_kserve_client **out, struct cvb_kserve_remote *remote,
                           struct cvb_err *err);
void cvb_kserve_client_free(struct cvb_kserve_client *c);

/* A connection (one libcurl easy handle, kept alive between requests) with
 * buffers sized for one frame's request and response: the hot path
 * allocates nothing. Any number per client; each is used by one thread at
 * a time. */
int cvb_kserve_conn_new(struct cvb_kserve_client *c, struct cvb_kserve_conn **out,
                        struct cvb_err *err);
void cvb_kserve_conn_free(struct cvb_kserve_conn *k);

struct cvb_kserve_timing {
    uint64_t serialize_ns;   /* frame -> request body (conversion to FP32 included) */
    uint64_t network_ns;     /* send to last response byte: network + server */
    uint64_t deserialize_ns; /* response parse + copy into the caller's outputs */
    size_t request_bytes, response_bytes; /* HTTP bodies (sent as libcurl counted it) */
    long new_connections;    /* TCP connections this request opened (0: kept alive) */
};

/* Infer one letterboxed frame ('frame': S x S x 3 uint8 NHWC). 'outs[i]'
 * receives output i (remote->output_bytes[i] bytes, FP32). 0, or CVB_EIO
 * naming the URL and model with the server's status and KServe error
 * message / the transport error, CVB_EFORMAT for a response that does not
 * match the metadata. */
int cvb_kserve_conn_infer(struct cvb_kserve_conn *k, const uint8_t *frame, float *const *outs,
                          struct cvb_kserve_timing *t, struct cvb_err *err);

/* The server's cumulative statistics for the model (GET
 * /v2/models/{m}/stats). CVB_EUNSUPPORTED when the server has none. */
struct cvb_kserve_model_stats;
int cvb_kserve_client_stats(struct cvb_kserve_client *c, struct cvb_kserve_model_stats *st,
                            struct cvb_err *err);

#endif
