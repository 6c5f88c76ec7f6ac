/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench infer`: run a model on NumPy tensors. */
#include "cli/cli.h"
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/npy.h"

#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IO 16
#define MAX_BATCHES 16

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench infer --model M [--input X.npy ...] [--output Y.npy ...]\n"
            "                     [--kernels onednn|ref] [--imgsz N] [--threads N]\n"
            "                     [--isa auto|amx|avx512_vnni|avx512|avx2]\n"
            "                     [--input-format f32-nchw|u8-nhwc] [--no-fusion]\n"
            "                     [--repeat R] [--warmup W] [--json] [--profile]\n"
            "                     [--precision fp32|bf16|int8] [--calib M.calib]\n"
            "                     [--allow-emulated] [--guard] [--batch N[,N...]]\n"
            "\n"
            "Inputs are matched to the model's inputs in order, outputs likewise; each\n"
            "input must have exactly the model input's dtype and shape (u8-nhwc: a\n"
            "uint8 [N,S,S,3] RGB frame, N the --batch). Without --input (timing only) a\n"
            "deterministic image-like tensor is used. --repeat R times R runs after W\n"
            "warm-ups (default 3) and prints one JSON object (median_ms, p90_ms, min_ms,\n"
            "mean_ms, fps, isa, threads, ...). --profile prints per-node time, kernel and\n"
            "GFLOP/s.\n"
            "--precision int8 needs --calib (from `cvbench model calibrate`); bf16 needs a\n"
            "CPU with avx512_bf16/AMX unless --allow-emulated. --guard (implied by --input\n"
            "when precision is not fp32) also runs fp32 and prints the detection-level\n"
            "agreement (F1 at IoU 0.5, class-matched) and the output's relative L2 error.\n"
            "--batch N plans the model for N items per run (inputs [N,...]; --input files\n"
            "must have dim 0 = N); the JSON adds batch, per_item_ms and items_per_s.\n"
            "--batch 1,2,4,8 (timing only, no --input/--output) loads one engine per size\n"
            "and times them side by side (runs interleaved round-robin), one JSON line per\n"
            "size with items_per_s and its ratio to the first size (speedup).\n");
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Deterministic image-like content: smooth gradients plus noise, in the
 * input's dtype (uint8 0..255 or float 0..1). */
static void fill_synthetic(void *buf, const struct cvb_tensor_info *ti) {
    uint32_t st = 0x12345678u;
    for (int64_t i = 0; i < ti->numel; i++) {
        st = st * 1664525u + 1013904223u;
        double v = 0.5 + 0.35 * sin((double)i * 0.0007) + ((st >> 8) & 0xff) / 255.0 * 0.15 - 0.075;
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        if (strcmp(ti->dtype, "uint8") == 0)
            ((uint8_t *)buf)[i] = (uint8_t)(v * 255.0 + 0.5);
        else if (strcmp(ti->dtype, "float32") == 0)
            ((float *)buf)[i] = (float)v;
        else
            memset((uint8_t *)buf + i * (int64_t)(ti->bytes / (size_t)(ti->numel ? ti->numel : 1)), 0,
                   ti->bytes / (size_t)(ti->numel ? ti->numel : 1));
    }
}

struct prof_row {
    const struct cvb_node_profile *p;
};

static int cmp_prof(const void *a, const void *b) {
    const struct cvb_node_profile *x = ((const struct prof_row *)a)->p;
    const struct cvb_node_profile *y = ((const struct prof_row *)b)->p;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

/* Accuracy guard: run the fp32 model on the same inputs and compare output
 * 0 with 'test' at the detection level (when it is a YOLO output) and as
 * raw numbers. Prints one line to stderr; sets *f1 (-1: not a detection
 * output) and *rel. */
static int run_guard(const char *model, const struct cvb_engine_opts *opts,
                     const void *const *in_ptrs, const float *test, double *f1, double *rel,
                     struct cvb_err *err) {
    struct cvb_engine_opts o = *opts;
    struct cvb_engine *e = NULL;
    struct cvb_detector *det = NULL;
    void *outs[MAX_IO] = {0};
    struct cvb_detection *da = NULL, *db = NULL;
    int rc = 0;
    o.precision = CVB_PRECISION_FP32;
    o.calib = NULL;
    o.isa = NULL; /* the process's cap is already set */
    *f1 = -1;
    *rel = -1;
    rc = cvb_engine_load(model, &o, &e, err);
    if (rc < 0) goto out;
    int n_out = cvb_engine_n_outputs(e);
    for (int i = 0; i < n_out && i < MAX_IO; i++) {
        struct cvb_tensor_info ti;
        cvb_engine_output_info(e, i, &ti);
        if ((outs[i] = malloc(ti.bytes ? ti.bytes : 1)) == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
            goto out;
        }
    }
    rc = cvb_engine_run(e, in_ptrs, outs, err);
    if (rc < 0) goto out;
    struct cvb_tensor_info oi;
    cvb_engine_output_info(e, 0, &oi);
    if (strcmp(oi.dtype, "float32") != 0) goto out;
    const float *ref = outs[0];
    double num = 0, den = 0;
    for (int64_t k = 0; k < oi.numel; k++) {
        double d = (double)test[k] - (double)ref[k];
        num += d * d;
        den += (double)ref[k] * (double)ref[k];
    }
    *rel = den > 0 ? sqrt(num / den) : sqrt(num);
    struct cvb_err derr = {0};
    int na = 0, nb = 0;
    /* batched: one detector per item (dim 0 = 1), F1 averaged over the items */
    int64_t items = oi.ndim >= 1 && oi.dims[0] > 1 ? oi.dims[0] : 1;
    int64_t idims[CVB_ENGINE_MAX_DIMS];
    memcpy(idims, oi.dims, sizeof idims);
    if (items > 1) idims[0] = 1;
    if (cvb_detector_new(oi.ndim, idims, NULL, &det, &derr) == 0) {
        da = calloc(CVB_DETECT_MAX_DET, sizeof *da);
        db = calloc(CVB_DETECT_MAX_DET, sizeof *db);
        if (da == NULL || db == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
            goto out;
        }
        double f1sum = 0;
        int64_t per = oi.numel / items;
        for (int64_t b = 0; b < items; b++) {
            int nai = 0, nbi = 0;
            rc = cvb_detector_run(det, ref + b * per, NULL, da, CVB_DETECT_MAX_DET, &nai, err);
            if (rc == 0)
                rc = cvb_detector_run(det, test + b * per, NULL, db, CVB_DETECT_MAX_DET, &nbi,
                                      err);
            if (rc < 0) goto out;
            f1sum += cvb_detections_f1(da, nai, db, nbi, 0.5f);
            na += nai;
            nb += nbi;
        }
        *f1 = f1sum / (double)items;
        fprintf(stderr, "accuracy guard: %s vs fp32: F1@IoU0.5 = %.4f (fp32 %d boxes, %s %d), "
                "output rel-L2 = %.4g\n", cvb_precision_name(opts->precision), *f1, na,
                cvb_precision_name(opts->precision), nb, *rel);
    } else {
        fprintf(stderr, "accuracy guard: %s vs fp32: output rel-L2 = %.4g (not a detection "
                "output: %s)\n", cvb_precision_name(opts->precision), *rel, derr.msg);
    }
out:
    for (int i = 0; i < MAX_IO; i++) free(outs[i]);
    free(da);
    free(db);
    cvb_detector_free(det);
    cvb_engine_free(e);
    return rc;
}

static void print_profile(struct cvb_engine *e, bool json) {
    const struct cvb_node_profile *pr;
    int n = cvb_engine_profile(e, &pr);
    struct prof_row *rows = calloc((size_t)n + 1, sizeof *rows);
    if (rows == NULL) return;
    double total = 0, flops = 0;
    for (int i = 0; i < n; i++) {
        rows[i].p = &pr[i];
        if (pr[i].calls > 0) total += (double)pr[i].ns / (double)pr[i].calls / 1e6;
        flops += pr[i].flops;
    }
    qsort(rows, (size_t)n, sizeof *rows, cmp_prof);
    FILE *f = json ? stderr : stdout;
    fprintf(f, "%-28s %-18s %-18s %-26s %9s %6s %8s\n", "node", "op(s)", "shape", "kernel", "ms",
            "%", "GFLOP/s");
    for (int i = 0; i < n; i++) {
        const struct cvb_node_profile *p = rows[i].p;
        double ms = p->calls > 0 ? (double)p->ns / (double)p->calls / 1e6 : 0;
        char gf[32] = "";
        if (p->flops > 0 && ms > 0) snprintf(gf, sizeof gf, "%.1f", p->flops / (ms * 1e6));
        fprintf(f, "%-28.28s %-18.18s %-18.18s %-26.26s %9.3f %6.2f %8s\n", p->name, p->ops,
                p->shape, p->kernel, ms, total > 0 ? 100.0 * ms / total : 0.0, gf);
    }
    fprintf(f, "total: %.3f ms over %d steps, %.2f GFLOP, %.1f GFLOP/s\n", total, n, flops / 1e9,
            total > 0 ? flops / (total * 1e6) : 0.0);
    free(rows);
}

/* JSON member "conv_kernels": how many convolutions run each kernel
 * ("jit_bf16:avx512_core_bf16/...": 40), the ISA proof bench/engine
 * reports per row. At most 32 distinct names (more are counted as "other"). */
static void print_conv_kernels(struct cvb_engine *e) {
    const struct cvb_node_profile *pr;
    int n = cvb_engine_profile(e, &pr), nk = 0, other = 0;
    const char *names[32];
    int counts[32];
    for (int i = 0; i < n; i++) {
        if (strncmp(pr[i].ops, "Conv", 4) != 0) continue;
        int k = 0;
        while (k < nk && strcmp(names[k], pr[i].kernel) != 0) k++;
        if (k == nk && nk == 32) {
            other++;
            continue;
        }
        if (k == nk) {
            names[nk] = pr[i].kernel;
            counts[nk++] = 0;
        }
        counts[k]++;
    }
    printf(", \"conv_kernels\": {");
    for (int k = 0; k < nk; k++) {
        printf("%s\"", k ? ", " : "");
        for (const char *c = names[k]; *c; c++)
            if (*c >= 0x20 && *c != '"' && *c != '\\') putchar(*c);
        printf("\": %d", counts[k]);
    }
    if (other > 0) printf("%s\"other\": %d", nk ? ", " : "", other);
    printf("}");
}

/* "1,2,4,8" -> sizes; returns the count or -1. */
static int parse_batches(const char *s, int *out) {
    int n = 0;
    char buf[256];
    if (strlen(s) >= sizeof buf) return -1;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_BATCHES) return -1;
        if ((out[n] = cvb__parse_int(tok, 1, CVB_ENGINE_MAX_BATCH)) < 0) return -1;
        n++;
    }
    return n > 0 ? n : -1;
}

static double median_of(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* --batch with several sizes: one engine per size, synthetic inputs, runs
 * interleaved round-robin (one run of each size per round) so that every
 * size sees the same machine state; one JSON line per size. */
static int time_batches(const char *model, const struct cvb_engine_opts *base, const int *sizes,
                        int n_sizes, int repeat, int warmup) {
    struct cvb_engine *e[MAX_BATCHES] = {0};
    void *ins[MAX_BATCHES] = {0};
    void *outs[MAX_BATCHES][MAX_IO];
    double *times = NULL;
    struct cvb_err err = {0};
    int status = CVB_EXIT_OK;
    memset(outs, 0, sizeof outs);
    int runs = repeat > 0 ? repeat : 10;
    times = calloc((size_t)n_sizes * (size_t)runs, sizeof *times);
    if (times == NULL) {
        cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        status = cvb__cli_fail(&err);
        goto out;
    }
    for (int k = 0; k < n_sizes; k++) {
        struct cvb_engine_opts o = *base;
        o.batch = sizes[k];
        if (k > 0) o.isa = NULL; /* the process's cap is set by the first */
        if (cvb_engine_load(model, &o, &e[k], &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
        if (cvb_engine_n_inputs(e[k]) != 1 || cvb_engine_n_outputs(e[k]) > MAX_IO) {
            status = cvb__cli_usage_error("%s: --batch with several sizes needs a model with one "
                                          "input and at most %d outputs", model, MAX_IO);
            goto out;
        }
        struct cvb_tensor_info ti;
        cvb_engine_input_info(e[k], 0, &ti);
        if ((ins[k] = malloc(ti.bytes ? ti.bytes : 1)) == NULL) {
            cvb_err_set(&err, CVB_ENOMEM, "cannot allocate input '%s'", ti.name);
            status = cvb__cli_fail(&err);
            goto out;
        }
        fill_synthetic(ins[k], &ti);
        for (int i = 0; i < cvb_engine_n_outputs(e[k]); i++) {
            cvb_engine_output_info(e[k], i, &ti);
            if ((outs[k][i] = malloc(ti.bytes ? ti.bytes : 1)) == NULL) {
                cvb_err_set(&err, CVB_ENOMEM, "cannot allocate output '%s'", ti.name);
                status = cvb__cli_fail(&err);
                goto out;
            }
        }
    }
    for (int r = -warmup; r < runs; r++)
        for (int k = 0; k < n_sizes; k++) {
            const void *in1[1] = {ins[k]};
            double t0 = now_ms();
            if (cvb_engine_run(e[k], in1, outs[k], &err) < 0) {
                status = cvb__cli_fail(&err);
                goto out;
            }
            if (r >= 0) times[(size_t)k * (size_t)runs + (size_t)r] = now_ms() - t0;
        }
    double base_ips = 0;
    for (int k = 0; k < n_sizes; k++) {
        double *t = times + (size_t)k * (size_t)runs;
        double med = median_of(t, runs);
        double ips = med > 0 ? 1000.0 * sizes[k] / med : 0;
        if (k == 0) base_ips = ips;
        printf("{\"model\": \"%s\", \"batch\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, "
               "\"per_item_ms\": %.4f, \"items_per_s\": %.2f, \"speedup\": %.3f, "
               "\"speedup_vs_batch\": %d, \"isa\": \"%s\", \"threads\": %d, "
               "\"kernels\": \"%s\", \"input_format\": \"%s\", \"precision\": \"%s\", "
               "\"repeat\": %d, \"warmup\": %d, \"interleaved\": true}\n",
               model, sizes[k], med, t[0], med / sizes[k], ips,
               base_ips > 0 ? ips / base_ips : 0.0, sizes[0], cvb_engine_isa(e[k]),
               cvb_engine_threads(e[k]), base->kernels == CVB_KERNELS_REF ? "ref" : "onednn",
               base->input_format == CVB_INPUT_U8_NHWC ? "u8-nhwc" : "f32-nchw",
               cvb_precision_name(base->precision), runs, warmup);
    }
out:
    for (int k = 0; k < MAX_BATCHES; k++) {
        for (int i = 0; i < MAX_IO; i++) free(outs[k][i]);
        free(ins[k]);
        cvb_engine_free(e[k]);
    }
    free(times);
    return status;
}

int cvb__cmd_infer(int argc, char **argv) {
    const char *model = NULL;
    const char *inputs[MAX_IO], *outputs[MAX_IO];
    int n_in = 0, n_out = 0, status = CVB_EXIT_OK;
    int repeat = 0, warmup = 3;
    int batches[MAX_BATCHES], n_batches = 0;
    bool json = false, profile = false, guard = false;
    double guard_f1 = -1, guard_rel = -1;
    struct cvb_engine_opts opts = {0};
    struct cvb_engine *e = NULL;
    struct cvb_npy in_npy[MAX_IO];
    void *out_bufs[MAX_IO] = {0};
    void *syn_bufs[MAX_IO] = {0};
    double *times = NULL;
    struct cvb_err err = {0};
    memset(in_npy, 0, sizeof in_npy);
    enum { OPT_ISA = 256, OPT_FMT, OPT_REPEAT, OPT_WARMUP, OPT_JSON, OPT_PROFILE, OPT_NOFUSE,
           OPT_PREC, OPT_CALIB, OPT_EMU, OPT_GUARD, OPT_BATCH };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"input", required_argument, 0, 'i'},
        {"output", required_argument, 0, 'o'},  {"kernels", required_argument, 0, 'k'},
        {"imgsz", required_argument, 0, 's'},   {"threads", required_argument, 0, 't'},
        {"isa", required_argument, 0, OPT_ISA}, {"input-format", required_argument, 0, OPT_FMT},
        {"repeat", required_argument, 0, OPT_REPEAT},
        {"warmup", required_argument, 0, OPT_WARMUP},
        {"json", no_argument, 0, OPT_JSON},     {"profile", no_argument, 0, OPT_PROFILE},
        {"no-fusion", no_argument, 0, OPT_NOFUSE},
        {"precision", required_argument, 0, OPT_PREC}, {"calib", required_argument, 0, OPT_CALIB},
        {"allow-emulated", no_argument, 0, OPT_EMU}, {"guard", no_argument, 0, OPT_GUARD},
        {"batch", required_argument, 0, OPT_BATCH},
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
        case OPT_ISA:
            if (cvb__check_isa(optarg) < 0) return CVB_EXIT_USAGE;
            opts.isa = optarg;
            break;
        case OPT_FMT:
            if (strcmp(optarg, "f32-nchw") == 0)
                opts.input_format = CVB_INPUT_F32_NCHW;
            else if (strcmp(optarg, "u8-nhwc") == 0)
                opts.input_format = CVB_INPUT_U8_NHWC;
            else
                return cvb__cli_usage_error("--input-format must be f32-nchw or u8-nhwc, not '%s'",
                                            optarg);
            break;
        case OPT_REPEAT:
            if ((repeat = cvb__parse_int(optarg, 1, 1000000)) < 0)
                return cvb__cli_usage_error("--repeat must be a positive integer, not '%s'", optarg);
            break;
        case OPT_WARMUP:
            if ((warmup = cvb__parse_int(optarg, 0, 1000000)) < 0)
                return cvb__cli_usage_error("--warmup must be an integer >= 0, not '%s'", optarg);
            break;
        case OPT_JSON: json = true; break;
        case OPT_PROFILE: profile = true; break;
        case OPT_NOFUSE: opts.no_fusion = true; break;
        case OPT_PREC:
            if (cvb_precision_parse(optarg, &opts.precision) < 0)
                return cvb__cli_usage_error("--precision must be fp32, bf16 or int8, not '%s'",
                                            optarg);
            break;
        case OPT_CALIB: opts.calib = optarg; break;
        case OPT_EMU: opts.allow_emulated = true; break;
        case OPT_GUARD: guard = true; break;
        case OPT_BATCH:
            if ((n_batches = parse_batches(optarg, batches)) < 0)
                return cvb__cli_usage_error("--batch must be N or a list N,N,... (at most %d) of "
                                            "integers in 1..%d, not '%s'",
                                            MAX_BATCHES, CVB_ENGINE_MAX_BATCH, optarg);
            break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc) return cvb__cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (model == NULL) return cvb__cli_usage_error("infer needs --model");
    bool timing = repeat > 0 || profile;
    if (!timing && (n_in == 0 || n_out == 0))
        return cvb__cli_usage_error("infer needs --input and --output (or --repeat/--profile)");
    if (n_batches > 1) {
        if (n_in > 0 || n_out > 0 || profile || guard)
            return cvb__cli_usage_error("--batch with several sizes times synthetic inputs only "
                                        "(no --input, --output, --profile or --guard)");
        return time_batches(model, &opts, batches, n_batches, repeat, warmup);
    }
    if (n_batches == 1) opts.batch = batches[0];

    if (cvb_engine_load(model, &opts, &e, &err) < 0) {
        status = cvb__cli_fail(&err);
        goto out;
    }
    if (n_in != 0 && n_in != cvb_engine_n_inputs(e)) {
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
    int n_model_in = cvb_engine_n_inputs(e);
    if (n_model_in > MAX_IO) {
        status = cvb__cli_usage_error("%s: more than %d inputs", model, MAX_IO);
        goto out;
    }
    for (int i = 0; i < n_model_in; i++) {
        struct cvb_tensor_info ti;
        cvb_engine_input_info(e, i, &ti);
        if (n_in == 0) {
            syn_bufs[i] = malloc(ti.bytes ? ti.bytes : 1);
            if (syn_bufs[i] == NULL) {
                cvb_err_set(&err, CVB_ENOMEM, "cannot allocate input '%s'", ti.name);
                status = cvb__cli_fail(&err);
                goto out;
            }
            fill_synthetic(syn_bufs[i], &ti);
            in_ptrs[i] = syn_bufs[i];
            continue;
        }
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
            bool batch_only = in_npy[i].ndim == ti.ndim && ti.ndim >= 1 &&
                              strcmp(in_npy[i].dtype, ti.dtype) == 0 && in_npy[i].dims[0] > 1;
            for (int d = 1; batch_only && d < ti.ndim; d++)
                batch_only = in_npy[i].dims[d] == ti.dims[d];
            char hint[96] = "";
            if (batch_only)
                snprintf(hint, sizeof hint, " (for a batch of %lld, add --batch %lld)",
                         (long long)in_npy[i].dims[0], (long long)in_npy[i].dims[0]);
            status = cvb__cli_usage_error("%s: %s [%s] does not match model input '%s' %s [%s]%s",
                                          inputs[i], in_npy[i].dtype, got, ti.name, ti.dtype, want,
                                          hint);
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
    if (opts.precision != CVB_PRECISION_FP32 && (guard || n_in > 0)) {
        if (run_guard(model, &opts, in_ptrs, out_bufs[0], &guard_f1, &guard_rel, &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info ti; /* a data-dependent output: the run's actual shape */
        cvb_engine_output_shape(e, i, &ti);
        if (cvb_npy_write(outputs[i], ti.dtype, ti.ndim, ti.dims, out_bufs[i], &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
    }
    if (!timing) goto out;
    int runs = repeat > 0 ? repeat : 10;
    times = calloc((size_t)runs, sizeof *times);
    if (times == NULL) {
        cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        status = cvb__cli_fail(&err);
        goto out;
    }
    for (int i = 0; i < warmup; i++)
        if (cvb_engine_run(e, in_ptrs, out_bufs, &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
    if (profile) {
        cvb_engine_profile_reset(e);
        cvb_engine_set_profiling(e, true);
    }
    for (int i = 0; i < runs; i++) {
        double t0 = now_ms();
        if (cvb_engine_run(e, in_ptrs, out_bufs, &err) < 0) {
            status = cvb__cli_fail(&err);
            goto out;
        }
        times[i] = now_ms() - t0;
    }
    cvb_engine_set_profiling(e, false);
    double sum = 0;
    for (int i = 0; i < runs; i++) sum += times[i];
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    double median = runs % 2 ? times[runs / 2] : 0.5 * (times[runs / 2 - 1] + times[runs / 2]);
    int p90i = (int)(0.9 * (runs - 1) + 0.5);
    struct cvb_model_info mi;
    cvb_engine_model_info(e, &mi);
    if (profile) print_profile(e, json || repeat > 0);
    if (repeat > 0 || json) {
        printf("{\"model\": \"%s\", \"median_ms\": %.4f, \"p90_ms\": %.4f, \"min_ms\": %.4f, "
               "\"mean_ms\": %.4f, \"max_ms\": %.4f, \"fps\": %.2f, \"isa\": \"%s\", "
               "\"threads\": %d, \"kernels\": \"%s\", \"input_format\": \"%s\", "
               "\"fusion\": %s, \"repeat\": %d, \"warmup\": %d, \"synthetic_weights\": %s, "
               "\"synthetic_input\": %s, \"gflops\": %.4f, \"gflop_per_s\": %.2f, "
               "\"activation_bytes\": %lld, \"precision\": \"%s\", \"lowp_convs\": %d",
               model, median, times[p90i], times[0], sum / runs, times[runs - 1],
               median > 0 ? 1000.0 / median : 0.0, cvb_engine_isa(e), cvb_engine_threads(e),
               opts.kernels == CVB_KERNELS_REF ? "ref" : "onednn",
               opts.input_format == CVB_INPUT_U8_NHWC ? "u8-nhwc" : "f32-nchw",
               opts.no_fusion || opts.kernels == CVB_KERNELS_REF ? "false" : "true", runs, warmup,
               mi.synthetic ? "true" : "false", n_in == 0 ? "true" : "false", mi.flops / 1e9,
               median > 0 ? mi.flops / (median * 1e6) : 0.0, (long long)mi.activation_bytes,
               cvb_precision_name(opts.precision), cvb_engine_n_lowp_convs(e));
        {
            int nb = opts.batch > 1 ? opts.batch : 1;
            printf(", \"batch\": %d, \"per_item_ms\": %.4f, \"items_per_s\": %.2f", nb,
                   median / nb, median > 0 ? 1000.0 * nb / median : 0.0);
        }
        print_conv_kernels(e);
        if (guard_f1 >= 0) printf(", \"guard_f1\": %.4f", guard_f1);
        if (guard_rel >= 0) printf(", \"guard_rel_l2\": %.5g", guard_rel);
        printf("}\n");
    }
out:
    for (int i = 0; i < MAX_IO; i++) {
        cvb_npy_cleanup(&in_npy[i]);
        free(out_bufs[i]);
        free(syn_bufs[i]);
    }
    free(times);
    cvb_engine_free(e);
    return status;
}
