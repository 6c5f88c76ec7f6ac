/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench serve-model`: a KServe v2 (Open Inference Protocol) model server
 * for one ONNX model on the CPU engine, with Triton's binary tensor,
 * statistics and model configuration extensions and /metrics.
 *
 * N engine instances, each driven by its own thread, take requests from one
 * bounded queue of request slots (allocated at start: a request's input and
 * output buffers live in its slot, so serving allocates nothing per request
 * beyond the HTTP layer's body and response buffers). A request that finds
 * no free slot gets 503. The HTTP handler copies the input into its slot,
 * queues it and waits (bounded) for an instance; if the client went away
 * meanwhile the result is dropped when the reply cannot be sent. If the
 * handler gives up waiting (timeout) the slot stays with the instance,
 * which frees it when done.
 *
 * This slice serves batch 1 only: max_batch > 1 (dynamic batching) is
 * refused as not implemented. */
#ifndef CVB_MODEL_SERVER_H
#define CVB_MODEL_SERVER_H

#include "cvb/common.h"
#include "cvb/engine.h"

#include <stddef.h>

#define CVB_MODEL_SERVER_DEFAULT_LISTEN "127.0.0.1:8001"
#define CVB_MODEL_SERVER_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define CVB_MODEL_SERVER_MAX_INSTANCES 64
#define CVB_MODEL_SERVER_DEFAULT_TIMEOUT_MS 60000

struct cvb_model_server_opts {
    const char *model_path;   /* the ONNX file (required) */
    const char *name;         /* model name in URLs; NULL = file basename without .onnx */
    const char *listen;       /* NULL = CVB_MODEL_SERVER_DEFAULT_LISTEN */
    int max_batch;            /* 0 or 1 (> 1: CVB_EUNSUPPORTED, not implemented yet) */
    int instances;            /* engine instances (>= 1; 0 = 1) */
    int threads;              /* oneDNN threads per instance; 0 = cores / instances */
    enum cvb_precision precision;
    const char *calib;        /* INT8 calibration file */
    const char *isa;          /* NULL = auto */
    enum cvb_input_format input_format;
    const char *token;        /* bearer token for infer; NULL = none */
    size_t max_body_bytes;    /* 0 = 64 MiB */
    int queue_slots;          /* requests queued or running; 0 = 4 x instances */
    int request_timeout_ms;   /* how long a handler waits for its result; 0 = 60 s */
};

struct cvb_model_server;

/* Load the instances, bind and serve. 0 and *out, or a negative status
 * with 'err' naming the model / option / address. */
int cvb_model_server_new(const struct cvb_model_server_opts *opts, struct cvb_model_server **out,
                         struct cvb_err *err);
unsigned cvb_model_server_port(const struct cvb_model_server *s);
const char *cvb_model_server_name(const struct cvb_model_server *s);
/* Stop serving, wait for running requests, stop the instances, free. */
void cvb_model_server_free(struct cvb_model_server *s);

#endif
