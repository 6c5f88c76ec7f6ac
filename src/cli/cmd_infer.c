/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench infer`: run a model on NumPy tensors. */
#include "cli/cli.h"
#include "cvb/engine.h"
#include "cvb/npy.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 16

static void usage(FILE *f) {
    fprintf(f, "usage: cvbench infer --model M --input X.npy [--input ...] --output Y.npy "
               "[--output ...]\n"
               "                     [--kernels onednn|ref] [--imgsz N] [--threads N]\n"
               "\n"
               "Inputs are matched to the model's inputs in order, outputs likewise; each\n"
               "input must have exactly the model input's dtype and shape.\n");
}

int cvb__parse_kernels(const char *s, enum cvb_kernels *out) {
    if (strcmp(s, "ref") == 0)
        *out = CVB_KERNELS_REF;
    else if (strcmp(s, "onednn") == 0)
        *out = CVB_KERNELS_ONEDNN;
    else
        return CVB_EINVAL;
    return 0;
}

/* Parse a positive int option value; returns -1 if not a valid number in range. */
int cvb__parse_int(const char *s, int lo, int hi) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
    return (int)v;
}

int cvb__cmd_infer(int argc, char **argv) {
    const char *model = NULL;
    const char *inputs[MAX_IO], *outputs[MAX_IO];
    int n_in = 0, n_out = 0, status = CVB_EXIT_OK;
    struct cvb_engine_opts opts = {0};
    struct cvb_engine *e = NULL;
    struct cvb_npy in_npy[MAX_IO];
    void *out_bufs[MAX_IO] = {0};
    struct cvb_err err = {0};
    memset(in_npy, 0, sizeof in_npy);
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},  {"kernels", required_argument, 0, 'k'},
        {"imgsz", required_argument, 0, 's'},   {"threads", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "m:i:o:k:s:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'i':
            if (n_in == MAX_IO) return cvb__cli_usage_error("at most %d --input files", MAX_IO);
            inputs[n_in++] = optarg;
            break;
        case 'o':
            if (n_out == MAX_IO) return cvb__cli_usage_error("at most %d --output files", MAX_IO);
            outputs[n_out++] = optarg;
            break;
        case 'k':
            if (cvb__parse_kernels(optarg, &opts.kernels) < 0)
                return cvb__cli_usage_error("--kernels must be 'onednn' or 'ref', not '%s'", optarg);
            break;
        case 's':
            if ((opts.imgsz = cvb__parse_int(optarg, 32, 16384)) < 0 || opts.imgsz % 32)
                return cvb__cli_usage_error("--imgsz must be a multiple of 32 in 32..16384, not '%s'",
                                            optarg);
            break;
        case 't':
            if ((opts.threads = cvb__parse_int(optarg, 1, 4096)) < 0)
                return cvb__cli_usage_error("--threads must be a positive integer, not '%s'", optarg);
            break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc) return cvb__cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (model == NULL) return cvb__cli_usage_error("infer needs --model");
    if (n_in == 0 || n_out == 0) return cvb__cli_usage_error("infer needs --input and --output");

    if (cvb_engine_load(model, &opts, &e, &err) < 0) {
        status = cvb__cli_fail(&err);
        goto out;
    }
    if (n_in != cvb_engine_n_inputs(e)) {
        status = cvb__cli_usage_error("%s: model has %d inputs but %d --input files were given",
                                      model, cvb_engine_n_inputs(e), n_in);
        goto out;
    }
    if (n_out > cvb_engine_n_outputs(e)) {
        status = cvb__cli_usage_error("%s: model has %d outputs but %d --output files were given",
                                      model, cvb_engine_n_outputs(e), n_out);
        goto out;
    }
    const void *in_ptrs[MAX_IO];
    for (int i = 0; i < n_in; i++) {
        struct cvb_tensor_info ti;
        cvb_engine_input_info(e, i, &ti);
        if (cvb_npy_read(inputs[i], &in_npy[i], &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
        bool same = in_npy[i].ndim == ti.ndim && strcmp(in_npy[i].dtype, ti.dtype) == 0;
        for (int d = 0; same && d < ti.ndim; d++) same = in_npy[i].dims[d] == ti.dims[d];
        if (!same) {
            char want[128] = "", got[128] = "";
            size_t o1 = 0, o2 = 0;
            for (int d = 0; d < ti.ndim; d++)
                o1 += (size_t)snprintf(want + o1, sizeof want - o1, d ? ",%lld" : "%lld",
                                       (long long)ti.dims[d]);
            for (int d = 0; d < in_npy[i].ndim; d++)
                o2 += (size_t)snprintf(got + o2, sizeof got - o2, d ? ",%lld" : "%lld",
                                       (long long)in_npy[i].dims[d]);
            status = cvb__cli_usage_error("%s: %s [%s] does not match model input '%s' %s [%s]",
                                          inputs[i], in_npy[i].dtype, got, ti.name, ti.dtype, want);
            goto out;
        }
        in_ptrs[i] = in_npy[i].data;
    }
    int n_model_out = cvb_engine_n_outputs(e);
    for (int i = 0; i < n_model_out && i < MAX_IO; i++) {
        struct cvb_tensor_info ti;
        cvb_engine_output_info(e, i, &ti);
        out_bufs[i] = malloc(ti.bytes ? ti.bytes : 1);
        if (out_bufs[i] == NULL) {
            cvb_err_set(&err, CVB_ENOMEM, "cannot allocate output '%s'", ti.name);
            status = cvb__cli_fail(&err);
            goto out;
        }
    }
    if (cvb_engine_run(e, in_ptrs, out_bufs, &err) < 0) {
        status = cvb__cli_fail(&err);
        goto out;
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info ti;
        cvb_engine_output_info(e, i, &ti);
        if (cvb_npy_write(outputs[i], ti.dtype, ti.ndim, ti.dims, out_bufs[i], &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
    }
out:
    for (int i = 0; i < MAX_IO; i++) {
        cvb_npy_cleanup(&in_npy[i]);
        free(out_bufs[i]);
    }
    cvb_engine_free(e);
    return status;
}
