/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench model calibrate`: post-training static quantisation of a model.
 *
 * Runs the float32 model on letterboxed frames (a video, a folder of
 * images, or procedural pictures), records each quantised convolution's
 * input and (pre-activation) output range and writes the calibration file
 * that `cvbench infer --precision int8 --calib FILE` reads; optionally also
 * a QDQ ONNX export of the same quantisation for ONNX Runtime, in the
 * standard form (Q/DQ on each quantised conv's input and output, DQ on its
 * weights and bias) that ONNX Runtime fuses into QLinearConv. */
#include "cli/cli.h"
#include "cvb/engine.h"
#include "cvb/video.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench model calibrate --model M (--video V | --images DIR | --synthetic N)\n"
            "                               [--frames N] [--imgsz S] [--threads N]\n"
            "                               -o M.calib [--qdq OUT.onnx]\n"
            "\n"
            "Runs the float32 model on up to N letterboxed frames (default 32; --synthetic:\n"
            "N procedural pictures) and writes per-tensor activation ranges (min/max) of\n"
            "the input and output of every convolution the int8 engine quantises, with\n"
            "the model's SHA-256.\n"
            "--qdq also writes a QuantizeLinear/DequantizeLinear ONNX model with the same\n"
            "scales (u8 activations, per-channel s8 weights, int32 bias) and u8 conv\n"
            "outputs, which ONNX Runtime fuses into QLinearConv.\n");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *n) {
    const char *dot = strrchr(n, '.');
    if (dot == NULL) return false;
    static const char *ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(ext); i++)
        if (strcmp(dot, ext[i]) == 0) return true;
    return false;
}

/* Feed the images of 'dir' (sorted by name, at most 'max' of them). */
static int feed_images(struct cvb_calib *c, const char *dir, int max, uint8_t *frame, int *fed,
                       struct cvb_err *err) {
    DIR *d = opendir(dir);
    char **names = NULL;
    int n = 0, cap = 0, rc = 0, s = cvb_calib_imgsz(c);
    struct cvb_image img = {0};
    if (d == NULL) return cvb_err_set(err, CVB_EIO, "%s: cannot open the folder: %m", dir);
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (!is_image_name(de->d_name)) continue;
        if (n == cap) {
            int nc = cap ? 2 * cap : 64;
            char **nn = realloc(names, (size_t)nc * sizeof *nn);
            if (nn == NULL || nc > 1000000) {
                free(nn == names ? NULL : nn);
                rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
                goto out;
            }
            names = nn;
            cap = nc;
        }
        size_t l = strlen(dir) + strlen(de->d_name) + 2;
        if ((names[n] = malloc(l)) == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(names[n++], l, "%s/%s", dir, de->d_name);
    }
    if (n == 0) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: no .jpg/.jpeg/.png/.bmp images in it", dir);
        goto out;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n && *fed < max; i++) {
        struct cvb_letterbox lb;
        rc = cvb_image_load(names[i], &img, err);
        if (rc == 0) rc = cvb_letterbox(NULL, &img, frame, s, s, &lb, err);
        cvb_image_cleanup(&img);
        if (rc == 0) rc = cvb_calib_add_frame(c, frame, err);
        if (rc < 0) goto out;
        (*fed)++;
    }
out:
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int cvb__cmd_model_calibrate(int argc, char **argv) {
    const char *model = NULL, *video = NULL, *images = NULL, *out_path = NULL, *qdq = NULL;
    int synthetic = 0, frames = 32, imgsz = 0, threads = 0, status = CVB_EXIT_OK, fed = 0;
    struct cvb_calib *c = NULL;
    struct cvb_video *v = NULL;
    uint8_t *frame = NULL;
    struct cvb_err err = {0};
    enum { OPT_VIDEO = 256, OPT_IMAGES, OPT_SYN, OPT_FRAMES, OPT_QDQ };
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},       {"video", required_argument, 0, OPT_VIDEO},
        {"images", required_argument, 0, OPT_IMAGES}, {"synthetic", required_argument, 0, OPT_SYN},
        {"frames", required_argument, 0, OPT_FRAMES}, {"imgsz", required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},     {"output", required_argument, 0, 'o'},
        {"qdq", required_argument, 0, OPT_QDQ},     {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "m:s:t:o:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case OPT_VIDEO: video = optarg; break;
        case OPT_IMAGES: images = optarg; break;
        case OPT_SYN:
            if ((synthetic = cvb__parse_int(optarg, 1, 100000)) < 0)
                return cvb__cli_usage_error("--synthetic must be a positive count, not '%s'", optarg);
            break;
        case OPT_FRAMES:
            if ((frames = cvb__parse_int(optarg, 1, 100000)) < 0)
                return cvb__cli_usage_error("--frames must be a positive count, not '%s'", optarg);
            break;
        case 's':
            if ((imgsz = cvb__parse_int(optarg, 32, 16384)) < 0 || imgsz % 32)
                return cvb__cli_usage_error("--imgsz must be a multiple of 32 in 32..16384, not '%s'",
                                            optarg);
            break;
        case 't':
            if ((threads = cvb__parse_int(optarg, 1, 4096)) < 0)
                return cvb__cli_usage_error("--threads must be a positive integer, not '%s'", optarg);
            break;
        case 'o': out_path = optarg; break;
        case OPT_QDQ: qdq = optarg; break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc) return cvb__cli_usage_error("unexpected argument '%s'", argv[optind]);
    if (model == NULL) return cvb__cli_usage_error("model calibrate needs --model");
    if (out_path == NULL) return cvb__cli_usage_error("model calibrate needs -o FILE.calib");
    if ((video != NULL) + (images != NULL) + (synthetic > 0) != 1)
        return cvb__cli_usage_error("model calibrate needs exactly one of --video, --images, "
                                    "--synthetic");
    if (synthetic > 0) frames = synthetic;

    if (cvb_calib_new(model, imgsz, threads, &c, &err) < 0) goto fail;
    int s = cvb_calib_imgsz(c);
    frame = malloc((size_t)s * s * 3);
    if (frame == NULL) {
        cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        goto fail;
    }
    if (synthetic > 0) {
        for (int i = 0; i < synthetic; i++) {
            cvb_calib_procedural_frame(s, (uint64_t)i, frame);
            if (cvb_calib_add_frame(c, frame, &err) < 0) goto fail;
            fed++;
        }
    } else if (images != NULL) {
        if (feed_images(c, images, frames, frame, &fed, &err) < 0) goto fail;
    } else {
        struct cvb_video_opts vo = {.out_size = s};
        if (cvb_video_open(video, &vo, &v, &err) < 0) goto fail;
        while (fed < frames) {
            int r = cvb_video_next(v, frame, NULL, &err);
            if (r < 0) goto fail;
            if (r == 1) break;
            if (cvb_calib_add_frame(c, frame, &err) < 0) goto fail;
            fed++;
        }
    }
    if (cvb_calib_save(c, out_path, &err) < 0) goto fail;
    fprintf(stderr, "cvbench: calibrated %d convolutions of %s on %d frames (%dx%d, min/max) -> %s\n",
            cvb_calib_n_tensors(c), model, fed, s, s, out_path);
    if (qdq != NULL) {
        if (cvb_calib_export_qdq(c, qdq, &err) < 0) goto fail;
        fprintf(stderr, "cvbench: QDQ model -> %s\n", qdq);
    }
    goto out;
fail:
    status = cvb__cli_fail(&err);
out:
    cvb_video_close(v);
    free(frame);
    cvb_calib_free(c);
    return status;
}
