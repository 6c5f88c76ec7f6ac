/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench serve-model`: a KServe v2 model server for one ONNX model.
 * Option parsing only: the server lives in src/server/. */
#include "cli/cli.h"
#include "http/http.h"
#include "server/model_server.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench serve-model --model M [--name NAME] [--listen HOST:PORT]\n"
            "                           [--max-batch N] [--batch-timeout-us U]\n"
            "                           [--instances N] [--threads T]\n"
            "                           [--precision fp32|bf16|int8] [--calib F] [--isa I]\n"
            "                           [--input-format u8|f32] [--token-file F]\n"
            "                           [--queue-slots N] [--max-body-mb N] [--timeout-ms N]\n"
            "A KServe v2 (Open Inference Protocol) server for one model, with Triton's\n"
            "binary tensor, statistics and model configuration extensions, and /metrics.\n"
            "  --name NAME         model name in URLs (default: the file name without .onnx)\n"
            "  --listen HOST:PORT  default " CVB_MODEL_SERVER_DEFAULT_LISTEN "\n"
            "  --max-batch N       dynamic batching: up to N items (1..%d) per engine call,\n"
            "                      from requests that arrive within the batch timeout; a\n"
            "                      request may carry 1..N items (shapes [-1,...]). Plans\n"
            "                      sizes 1,2,4,...,N up front; other sizes run split (5=4+1).\n"
            "                      Default 1: batch 1 only, shapes [1,...]\n"
            "  --batch-timeout-us U  the longest a request waits for its batch to fill\n"
            "                      (default %d; 0: only what is already queued)\n"
            "  --instances N       engine instances, each on its own thread (default 1)\n"
            "  --threads T         oneDNN threads per instance (default: cores / instances)\n"
            "  --input-format F    u8: uint8 [1,S,S,3] letterboxed frames (default);\n"
            "                      f32: float32 [1,3,S,S] in 0..1\n"
            "  --token-file F      infer requests need 'Authorization: Bearer <token>'\n"
            "  --queue-slots N     request items queued or running (default 4 x instances;\n"
            "                      2 x max-batch x instances when batching); more: 503\n"
            "  --max-body-mb N     request body limit in MiB (default 64)\n"
            "  --timeout-ms N      how long a request waits for its result (default 60000)\n",
            CVB_ENGINE_MAX_BATCH, CVB_MODEL_SERVER_DEFAULT_BATCH_US);
}

int cvb__cmd_serve_model(int argc, char **argv) {
    enum { O_MODEL = 1, O_NAME, O_LISTEN, O_MAXB, O_INST, O_THREADS, O_PREC, O_CALIB, O_ISA,
           O_FMT, O_TOKEN, O_SLOTS, O_BODY, O_TIMEOUT, O_BATCH_US, O_HELP };
    static const struct option long_opts[] = {
        {"model", required_argument, 0, O_MODEL},     {"name", required_argument, 0, O_NAME},
        {"listen", required_argument, 0, O_LISTEN},   {"max-batch", required_argument, 0, O_MAXB},
        {"instances", required_argument, 0, O_INST},  {"threads", required_argument, 0, O_THREADS},
        {"precision", required_argument, 0, O_PREC},  {"calib", required_argument, 0, O_CALIB},
        {"isa", required_argument, 0, O_ISA},         {"input-format", required_argument, 0, O_FMT},
        {"token-file", required_argument, 0, O_TOKEN}, {"queue-slots", required_argument, 0, O_SLOTS},
        {"max-body-mb", required_argument, 0, O_BODY}, {"timeout-ms", required_argument, 0, O_TIMEOUT},
        {"batch-timeout-us", required_argument, 0, O_BATCH_US},
        {"help", no_argument, 0, O_HELP},             {0, 0, 0, 0}};
    struct cvb_model_server_opts o = {.input_format = CVB_INPUT_U8_NHWC, .max_batch = 1,
                                      .instances = 1};
    const char *token_file = NULL;
    char token[CVB_HTTP_TOKEN_MAX + 1];
    struct cvb_err err = {0};
    int c, v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: o.model_path = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_LISTEN: o.listen = optarg; break;
        case O_MAXB:
            if ((o.max_batch = cvb__parse_int(optarg, 1, CVB_ENGINE_MAX_BATCH)) < 0)
                return cvb__cli_usage_error("--max-batch must be an integer 1..%d, not '%s'",
                                            CVB_ENGINE_MAX_BATCH, optarg);
            break;
        case O_BATCH_US:
            if ((v = cvb__parse_int(optarg, 0, CVB_MODEL_SERVER_MAX_BATCH_US)) < 0)
                return cvb__cli_usage_error("--batch-timeout-us must be an integer 0..%d, not "
                                            "'%s'", CVB_MODEL_SERVER_MAX_BATCH_US, optarg);
            o.batch_timeout_us = v > 0 ? v : -1; /* the option's 0 = no wait */
            break;
        case O_INST:
            if ((o.instances = cvb__parse_int(optarg, 1, CVB_MODEL_SERVER_MAX_INSTANCES)) < 0)
                return cvb__cli_usage_error("--instances must be an integer 1..%d, not '%s'",
                                            CVB_MODEL_SERVER_MAX_INSTANCES, optarg);
            break;
        case O_THREADS:
            if ((o.threads = cvb__parse_int(optarg, 1, 1024)) < 0)
                return cvb__cli_usage_error("--threads must be an integer 1..1024, not '%s'",
                                            optarg);
            break;
        case O_PREC:
            if (cvb_precision_parse(optarg, &o.precision) < 0)
                return cvb__cli_usage_error("--precision must be fp32, bf16 or int8, not '%s'",
                                            optarg);
            break;
        case O_CALIB: o.calib = optarg; break;
        case O_ISA:
            if (cvb__check_isa(optarg) < 0) return CVB_EXIT_USAGE;
            o.isa = optarg;
            break;
        case O_FMT:
            if (strcmp(optarg, "u8") == 0 || strcmp(optarg, "u8-nhwc") == 0)
                o.input_format = CVB_INPUT_U8_NHWC;
            else if (strcmp(optarg, "f32") == 0 || strcmp(optarg, "f32-nchw") == 0)
                o.input_format = CVB_INPUT_F32_NCHW;
            else
                return cvb__cli_usage_error("--input-format must be u8 or f32, not '%s'", optarg);
            break;
        case O_TOKEN: token_file = optarg; break;
        case O_SLOTS:
            if ((o.queue_slots = cvb__parse_int(optarg, 1, 4096)) < 0)
                return cvb__cli_usage_error("--queue-slots must be an integer 1..4096, not '%s'",
                                            optarg);
            break;
        case O_BODY:
            if ((v = cvb__parse_int(optarg, 1, 2048)) < 0)
                return cvb__cli_usage_error("--max-body-mb must be an integer 1..2048, not '%s'",
                                            optarg);
            o.max_body_bytes = (size_t)v << 20;
            break;
        case O_TIMEOUT:
            if ((o.request_timeout_ms = cvb__parse_int(optarg, 1, 3600000)) < 0)
                return cvb__cli_usage_error("--timeout-ms must be an integer 1..3600000, not '%s'",
                                            optarg);
            break;
        case O_HELP: usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cvb__cli_usage_error("serve-model: unexpected argument '%s'", argv[optind]);
    if (o.model_path == NULL) return cvb__cli_usage_error("serve-model: --model M is required");
    if (o.queue_slots > 0 && o.queue_slots < o.max_batch)
        return cvb__cli_usage_error("--queue-slots %d < --max-batch %d: a request of max-batch "
                                    "items could never be queued", o.queue_slots, o.max_batch);
    if (o.precision == CVB_PRECISION_INT8 && o.calib == NULL)
        return cvb__cli_usage_error("--precision int8 needs --calib FILE");
    if (token_file != NULL) {
        if (cvb_http_load_token(token_file, token, sizeof token, &err) < 0)
            return cvb__cli_fail(&err);
        o.token = token;
    }

    cvb__cli_stop_on_signals(&g_stop);

    struct cvb_model_server *srv = NULL;
    if (cvb_model_server_new(&o, &srv, &err) < 0) return cvb__cli_fail(&err);
    printf("serve-model: serving model '%s' on %s (port %u; KServe v2; Ctrl-C stops)\n",
           cvb_model_server_name(srv), o.listen ? o.listen : CVB_MODEL_SERVER_DEFAULT_LISTEN,
           cvb_model_server_port(srv));
    fflush(stdout);
    while (!g_stop) pause();
    cvb_model_server_free(srv);
    memset(token, 0, sizeof token);
    return CVB_EXIT_OK;
}
