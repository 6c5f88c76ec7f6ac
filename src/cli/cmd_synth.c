/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model synth`: write an Ultralytics-topology YOLO model with
 * synthetic weights (see include/cvb/synth.h). Prints one summary line that
 * says the weights are synthetic. */
#include "cli/cli.h"
#include "cvb/synth.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench model synth --arch A [--imgsz 640] [--seed N] [--end2end | --nms]\n"
            "                           -o FILE.onnx\n"
            "\n"
            "Write an ONNX model with the exact topology of Ultralytics' ONNX export of\n"
            "architecture A (yolov5nu, yolov8n, yolov8s, yolo11n, yolov9t, yolov10n,\n"
            "yolo12n, yolo26n) and deterministic synthetic weights: the same options\n"
            "give the same file.\n"
            "\n"
            "  --arch A      architecture\n"
            "  --imgsz S     input side in pixels, a multiple of 32 (default 640)\n"
            "  --seed N      weight seed (default 0)\n"
            "  --end2end     end-to-end head: output0 [1,K,6] (x1,y1,x2,y2,score,class),\n"
            "                K = min(300, anchors). The boxes are decoded as corners and\n"
            "                the head ends in the exact top-K/gather tail Ultralytics 8.4\n"
            "                exports for YOLOv10/YOLO26 with nms=False, here fed from the\n"
            "                architecture's one (one-to-many) head instead of a separate\n"
            "                one-to-one head: the rows are the plain model's top-K\n"
            "                (anchor, class) scores with the same weights, not NMS'd,\n"
            "                so fp32 accuracy checks still mean \"same as fp32\".\n"
            "                yolov10n's is its own one-to-one head, as exported, with\n"
            "                the one-to-many head's weights (the same rows).\n"
            "                yolo26n's likewise (its one2one branches, as exported).\n"
            "                yolov5nu, yolov8n, yolov8s, yolo11n, yolov10n and yolo26n\n"
            "                accept it.\n"
            "  --nms         in-graph NMS as Ultralytics 8.4 exports nms=True: output0\n"
            "                [1,300,6] (x1,y1,x2,y2,score,class, zero rows after the\n"
            "                kept boxes): conf 0.25, class-wise NonMaxSuppression at IoU\n"
            "                0.7, max_det 300 (NonZero/NonMaxSuppression: shapes that\n"
            "                depend on the data). yolov5nu, yolov8n, yolov8s, yolo11n.\n"
            "  -o FILE       output path\n");
}

/* Parse a non-negative decimal integer that fits 'max'; -1 on junk. */
static int parse_u64(const char *s, unsigned long long max, unsigned long long *out) {
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) return -1;
    *out = v;
    return 0;
}

int cvb__cmd_model_synth(int argc, char **argv) {
    static const struct option longopts[] = {
        {"arch", required_argument, NULL, 'a'}, {"imgsz", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, 'S'}, {"output", required_argument, NULL, 'o'},
        {"end2end", no_argument, NULL, 'E'},    {"nms", no_argument, NULL, 'N'},    {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    struct cvb_synth_opts o = {0};
    const char *out_path = NULL;
    unsigned long long v = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': o.arch = optarg; break;
        case 's':
            if (parse_u64(optarg, 1u << 20, &v) < 0)
                return cvb__cli_usage_error("model synth: --imgsz '%s' is not a number", optarg);
            o.imgsz = (int)v;
            if (o.imgsz == 0)
                return cvb__cli_usage_error("model synth: --imgsz must be positive");
            break;
        case 'S':
            if (parse_u64(optarg, UINT64_MAX, &v) < 0)
                return cvb__cli_usage_error("model synth: --seed '%s' is not a non-negative integer",
                                            optarg);
            o.seed = v;
            break;
        case 'o': out_path = optarg; break;
        case 'E': o.end2end = true; break;
        case 'N': o.nms = true; break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        case ':': return cvb__cli_usage_error("model synth: option '%s' needs a value", argv[optind - 1]);
        default: return cvb__cli_usage_error("model synth: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cvb__cli_usage_error("model synth: unexpected argument '%s'", argv[optind]);
    if (o.arch == NULL)
        return cvb__cli_usage_error("model synth: --arch is required (yolov5nu, yolov8n, yolov8s, "
                                    "yolo11n, yolov9t, yolov10n, yolo12n, yolo26n)");
    if (out_path == NULL) return cvb__cli_usage_error("model synth: -o FILE.onnx is required");

    struct cvb_synth_stats st;
    struct cvb_err err = {0};
    int rc = cvb_synth_model(&o, out_path, &st, &err);
    if (rc < 0) return cvb__cli_fail(&err);
    char shape[64];
    if (o.end2end)
        snprintf(shape, sizeof shape, "[1,%lld,6] (end2end, %lld anchors)", (long long)st.e2e_rows,
                 (long long)st.n_anchors);
    else if (o.nms)
        snprintf(shape, sizeof shape, "[1,300,6] (in-graph NMS, %lld anchors)",
                 (long long)st.n_anchors);
    else
        snprintf(shape, sizeof shape, "[1,84,%lld]", (long long)st.n_anchors);
    printf("%s: %s imgsz %d, %.3fM params, %.2f GFLOPs, %d nodes, output0 %s, seed %llu, "
           "synthetic weights\n",
           out_path, o.arch, o.imgsz ? o.imgsz : 640, (double)st.n_params / 1e6, st.gflops,
           st.n_nodes, shape, (unsigned long long)o.seed);
    if (st.calib_n_inputs > 0)
        printf("calibration at %d: anchors > %.2f on %d procedural inputs: median %d, max %d; "
               "activation std %.2f..%.2f; %.1f s\n",
               st.calib_imgsz, (double)CVB_SYNTH_SCORE_THRESH, st.calib_n_inputs,
               st.calib_hits_median, st.calib_hits_max, (double)st.calib_act_std_min,
               (double)st.calib_act_std_max, st.calib_ms / 1e3);
    return CVB_EXIT_OK;
}
