/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model info`: what a model takes, gives and costs, and which kind
 * of detection head it has (how `cvbench detect` and `run` read output 0). */
#include "cli/cli.h"
#include "cvb/detect.h"
#include "cvb/engine.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: cvbench model info MODEL [--json] [--imgsz N] [--kernels onednn|ref]\n");
}

static void print_dims(FILE *f, const struct cvb_tensor_info *ti) {
    fputc('[', f);
    for (int d = 0; d < ti->ndim; d++) fprintf(f, d ? ",%lld" : "%lld", (long long)ti->dims[d]);
    fputc(']', f);
}

/* JSON string with the escapes names can need. */
static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s != NULL && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void print_tensors_json(FILE *f, const struct cvb_engine *e, int outputs) {
    int n = outputs ? cvb_engine_n_outputs(e) : cvb_engine_n_inputs(e);
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        struct cvb_tensor_info ti;
        if (outputs)
            cvb_engine_output_info(e, i, &ti);
        else
            cvb_engine_input_info(e, i, &ti);
        fprintf(f, "%s{\"name\": ", i ? ", " : "");
        json_str(f, ti.name);
        fprintf(f, ", \"dtype\": \"%s\", \"shape\": ", ti.dtype);
        print_dims(f, &ti);
        if (ti.dynamic) fprintf(f, ", \"data_dependent\": true");
        fputc('}', f);
    }
    fputc(']', f);
}

/* The detection head, from output 0: its layout by the rule `detect` and
 * `run` use (cvb_detector_new_guess) and, for an end-to-end [1,K,6], the op
 * histogram: a NonMaxSuppression node means an nms=True export, none a
 * one-to-one head (YOLOv10, YOLO26 end2end). Sets *type to "yolov8",
 * "yolov5", "end2end", "nms" or "none" and writes a sentence to 'text'. */
static void describe_head(const struct cvb_engine *e, const struct cvb_model_info *mi,
                          const char **type, char *text, size_t n) {
    struct cvb_tensor_info oi;
    char shape[160];
    int off = 0;
    *type = "none";
    if (cvb_engine_n_outputs(e) < 1 || cvb_engine_output_info(e, 0, &oi) < 0) {
        snprintf(text, n, "none (no output)");
        return;
    }
    for (int d = 0; d < oi.ndim && off < (int)sizeof shape - 24; d++)
        off += snprintf(shape + off, sizeof shape - (size_t)off, d ? ",%lld" : "[%lld",
                        (long long)oi.dims[d]);
    snprintf(shape + off, sizeof shape - (size_t)off, oi.ndim ? "]" : "[]");
    if (strcmp(oi.dtype, "float32") != 0) {
        snprintf(text, n, "none (output '%.64s' %s is %s; detection needs float32)", oi.name, shape,
                 oi.dtype);
        return;
    }
    struct cvb_detector *det = NULL;
    struct cvb_err err = {0};
    if (cvb_detector_new_guess(oi.ndim, oi.dims, NULL, &det, &err) < 0) {
        snprintf(text, n, "none (output '%.64s' is not a YOLO detection output: %.300s)", oi.name,
                 err.msg);
        return;
    }
    bool nms = false;
    for (int i = 0; i < mi->n_ops; i++)
        if (strcmp(mi->op_names[i], "NonMaxSuppression") == 0) nms = true;
    int nc = cvb_detector_n_classes(det);
    long long na = (long long)cvb_detector_n_anchors(det);
    switch (cvb_detector_layout(det)) {
    case CVB_YOLO_V8:
        *type = "yolov8";
        snprintf(text, n, "yolov8 (anchor-free, %s: %d classes x %lld anchors, NMS on the host)",
                 shape, nc, na);
        break;
    case CVB_YOLO_V5:
        *type = "yolov5";
        snprintf(text, n,
                 "yolov5 (anchors with objectness, %s: %lld anchors x %d classes, NMS on the "
                 "host)",
                 shape, na, nc);
        break;
    default:
        *type = nms ? "nms" : "end2end";
        if (nms)
            snprintf(text, n,
                     "in-graph NMS (nms=True export, %s: up to %lld boxes x1,y1,x2,y2,score,class, "
                     "NMS in the model; the host only thresholds)",
                     shape, na);
        else
            snprintf(text, n,
                     "end-to-end (%s: top %lld boxes x1,y1,x2,y2,score,class, no NMS; the host "
                     "only thresholds)",
                     shape, na);
        break;
    }
    cvb_detector_free(det);
}

int cvb__cmd_model_info(int argc, char **argv) {
    struct cvb_engine_opts opts = {.kernels = CVB_KERNELS_ONEDNN};
    int json = 0;
    static const struct option longopts[] = {{"json", no_argument, 0, 'j'},
                                             {"imgsz", required_argument, 0, 's'},
                                             {"kernels", required_argument, 0, 'k'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "js:k:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 's':
            if ((opts.imgsz = cvb__parse_int(optarg, 32, 16384)) < 0 || opts.imgsz % 32)
                return cvb__cli_usage_error("--imgsz must be a multiple of 32 in 32..16384, not '%s'",
                                            optarg);
            break;
        case 'k':
            if (cvb__parse_kernels(optarg, &opts.kernels) < 0)
                return cvb__cli_usage_error("--kernels must be 'onednn' or 'ref', not '%s'", optarg);
            break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) return cvb__cli_usage_error("model info needs exactly one MODEL file");
    const char *path = argv[optind];
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    if (cvb_engine_load(path, &opts, &e, &err) < 0) return cvb__cli_fail(&err);
    struct cvb_model_info mi;
    cvb_engine_model_info(e, &mi);
    const char *head_type = "none";
    char head[512];
    describe_head(e, &mi, &head_type, head, sizeof head);
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, path);
        printf(", \"producer\": ");
        json_str(stdout, mi.producer);
        printf(", \"opset\": %lld, \"synthetic_weights\": %s, \"inputs\": ", (long long)mi.opset,
               mi.synthetic ? "true" : "false");
        print_tensors_json(stdout, e, 0);
        printf(", \"outputs\": ");
        print_tensors_json(stdout, e, 1);
        printf(", \"head\": {\"type\": \"%s\", \"description\": ", head_type);
        json_str(stdout, head);
        putchar('}');
        printf(", \"nodes\": %d, \"nodes_after_folding\": %d, \"ops\": {", mi.n_nodes,
               mi.n_live_nodes);
        for (int i = 0; i < mi.n_ops; i++)
            printf("%s\"%s\": %d", i ? ", " : "", mi.op_names[i], mi.op_counts[i]);
        printf("}, \"data_dependent_nodes\": %d", mi.n_dyn_nodes);
        printf(", \"parameters\": %lld, \"gflops\": %.4f, \"activation_bytes\": %lld}\n",
               (long long)mi.n_params, mi.flops / 1e9, (long long)mi.activation_bytes);
    } else {
        printf("model:        %s\n", path);
        printf("producer:     %s (opset %lld)\n", mi.producer, (long long)mi.opset);
        printf("weights:      %s\n", mi.synthetic ? "synthetic weights (cvbench model synth)"
                                                  : "from the model file");
        for (int i = 0; i < cvb_engine_n_inputs(e); i++) {
            struct cvb_tensor_info ti;
            cvb_engine_input_info(e, i, &ti);
            printf("input:        %s %s ", ti.name, ti.dtype);
            print_dims(stdout, &ti);
            putchar('\n');
        }
        for (int i = 0; i < cvb_engine_n_outputs(e); i++) {
            struct cvb_tensor_info ti;
            cvb_engine_output_info(e, i, &ti);
            printf("output:       %s %s ", ti.name, ti.dtype);
            print_dims(stdout, &ti);
            if (ti.dynamic) printf(" (data-dependent: at most this)");
            putchar('\n');
        }
        printf("head:         %s\n", head);
        printf("nodes:        %d (%d after constant folding)\n", mi.n_nodes, mi.n_live_nodes);
        if (mi.n_dyn_nodes > 0)
            printf("data-dependent: %d nodes with run-time shapes (after NonZero/"
                   "NonMaxSuppression), on reference kernels in bounded buffers\n",
                   mi.n_dyn_nodes);
        printf("ops:         ");
        for (int i = 0; i < mi.n_ops; i++)
            printf(" %s %d%s", mi.op_names[i], mi.op_counts[i], i + 1 < mi.n_ops ? "," : "");
        putchar('\n');
        printf("parameters:   %lld (%.2f M)\n", (long long)mi.n_params, mi.n_params / 1e6);
        printf("GFLOPs:       %.2f per inference (2 x MACs of Conv and MatMul)\n", mi.flops / 1e9);
        printf("activations:  %.1f MiB (planned arena)\n", mi.activation_bytes / 1048576.0);
    }
    cvb_engine_free(e);
    return CVB_EXIT_OK;
}
