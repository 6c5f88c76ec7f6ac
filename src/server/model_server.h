/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench serve-model`: a KServe v2 (Open Inference Protocol) model server
 * for one ONNX model on the CPU engine, with Triton's binary tensor,
 * statistics and model configuration extensions and /metrics.
 *
 * N engine instances, each driven by its own thread, take requests from one
 * bounded queue. Request memory is a pool of item slots allocated at start
 * (queue_slots items; an item is one frame's input and outputs): a request
 * of batch b holds b contiguous items, so serving allocates nothing per
 * request beyond the HTTP layer's body and response buffers. A request that
 * finds no b free contiguous items gets 503. The HTTP handler copies the
 * input into its items, queues the request and waits (bounded) for an
 * instance; if the client went away meanwhile the result is dropped when
 * the reply cannot be sent. If the handler gives up waiting (timeout) the
 * items stay with the instance, which frees them when done.
 *
 * Dynamic batching (max_batch > 1). An instance takes the oldest queued
 * request and keeps adding queued requests (whole requests, in arrival
 * order) while they fit in max_batch items, until the batch is full, the
 * next request does not fit, or batch_timeout_us has passed since the
 * oldest request of the batch was queued (Triton's max_queue_delay: a
 * request that already waited that long for a busy instance does not wait
 * more; 0 = take only what is queued now). It then runs the batch and
 * splits the results back into each request's items.
 *
 * Plans: each instance plans the engine once per planned batch size, all
 * up front at start: the powers of two below max_batch and max_batch itself
 * ({1,2,4,8} for 8; {1,2,4,8,12} for 12). Up front rather than on first
 * use because a plan costs a model load (seconds for a big model: it would
 * land on one unlucky request), because a batch size the engine refuses
 * (a node it cannot prove batch-safe) must fail at start naming the node,
 * not mid-serve, and because memory is then fixed after start. A batch of
 * k items with no plan is split greedily into planned sizes (5 = 4+1,
 * 7 = 4+2+1), not padded: padding computes the padded items for nothing
 * (5 -> 8 is 60 % more work) while the batched engine's items/s barely
 * depends on the batch size (BENCHMARKS.md). Every batched item is bitwise
 * equal to the same frame run alone (tests/ops/test-engine-batch.c), so a
 * reply does not depend on which requests it was batched with. A chunk
 * whose items are contiguous in the pool (one request, or neighbours) runs
 * in place; otherwise its items are copied into the instance's staging
 * buffers and back.
 *
 * Memory per instance: the engines' activation arenas, about
 * A x (1 + 2 + 4 + ... + max_batch) ~ 2 x max_batch x A for A the batch-1
 * arena (a model's weights are held by each plan), plus staging of
 * max_batch x (input + outputs) bytes when max_batch > 1. The item pool:
 * queue_slots x (input + outputs) bytes.
 *
 * With max_batch 1 the model is served as before: shapes [1,...],
 * max_batch_size 0, no dynamic_batching in the config, no waiting. */
#ifndef CVB_MODEL_SERVER_H
#define CVB_MODEL_SERVER_H

#include "cvb/common.h"
#include "cvb/engine.h"

#include <stddef.h>

#define CVB_MODEL_SERVER_DEFAULT_LISTEN "127.0.0.1:8001"
#define CVB_MODEL_SERVER_DEFAULT_MAX_BODY ((size_t)64 << 20)
#define CVB_MODEL_SERVER_MAX_INSTANCES 64
#define CVB_MODEL_SERVER_DEFAULT_TIMEOUT_MS 60000
#define CVB_MODEL_SERVER_DEFAULT_BATCH_US 2000
#define CVB_MODEL_SERVER_MAX_BATCH_US 10000000

struct cvb_model_server_opts {
    const char *model_path;   /* the ONNX file (required) */
    const char *name;         /* model name in URLs; NULL = file basename without .onnx */
    const char *listen;       /* NULL = CVB_MODEL_SERVER_DEFAULT_LISTEN */
    int max_batch;            /* items per engine call, 0 or 1..CVB_ENGINE_MAX_BATCH;
                                 > 1: dynamic batching (shapes [-1,...]) */
    int batch_timeout_us;     /* max_batch > 1: the longest a request waits for its batch
                                 to fill; 0 = CVB_MODEL_SERVER_DEFAULT_BATCH_US, < 0 = no
                                 wait (take what is queued) */
    int instances;            /* engine instances (>= 1; 0 = 1) */
    int threads;              /* oneDNN threads per instance; 0 = cores / instances */
    enum cvb_precision precision;
    const char *calib;        /* INT8 calibration file */
    const char *isa;          /* NULL = auto */
    enum cvb_input_format input_format;
    const char *token;        /* bearer token for infer; NULL = none */
    size_t max_body_bytes;    /* 0 = 64 MiB */
    int queue_slots;          /* request items queued or running (a request of batch b
                                 holds b); 0 = max(4, 2 x max_batch) x instances */
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
