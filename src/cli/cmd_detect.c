/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench detect`: run a YOLO detection model on image files.
 *
 * The whole per-frame path of the benchmark, once per image, in one thread:
 *   cvb_image_load -> cvb_letterbox (model input size) -> float32/uint8 NCHW
 *   -> cvb_engine_run -> cvb_detector_run (decode + NMS + unletterbox)
 * then a table per image, or one JSON object for the run, on stdout.
 * Every image is processed before anything is printed, so a bad image (exit
 * 2) never leaves half a JSON document behind. Buffers (canvas, tensors,
 * detector) are sized once from the model and reused for every image. */
#include "cli/cli.h"
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/video.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNTHETIC_NOTE "synthetic weights: detections are not meaningful"

static void usage(FILE *f) {
    fprintf(f, "usage: cvbench detect --model M IMAGE... [options]\n"
               "\n"
               "Detect objects in image files (JPEG, PNG, BMP, ...) with a YOLO detection\n"
               "model: each image is letterboxed to the model's input size, run, decoded,\n"
               "filtered by class-aware NMS, and its boxes mapped back to image pixels.\n"
               "End-to-end outputs [1,K,6] (YOLOv10 / YOLO26 end2end heads, nms=True\n"
               "exports) already hold the final boxes: they are only thresholded.\n"
               "\n"
               "options:\n"
               "  --model M          ONNX model (an Ultralytics YOLO detection export)\n"
               "  --json             print one JSON object for the run instead of tables\n"
               "  --annotate OUT.png write each image with its boxes drawn as PNG: with one\n"
               "                     image to OUT.png itself; with several, image n (1-based,\n"
               "                     in command-line order) to OUT-<n>.png (OUT-1.png, ...)\n"
               "  --conf T           confidence threshold, 0..1 (default 0.25)\n"
               "  --iou T            NMS IoU threshold, 0..1 (default 0.45; not used for\n"
               "                     end-to-end outputs)\n"
               "  --max-det N        at most N boxes per image, 1..300 (default 300)\n"
               "  --layout L         output layout: auto (default), v8 ([1,4+C,N]: YOLOv8,\n"
               "                     v9, YOLO11, YOLO12, YOLO26 plain, YOLOv5u), v5 ([1,N,5+C]\n"
               "                     with objectness) or e2e ([1,K,6]: x1,y1,x2,y2,score,\n"
               "                     class). auto reads any [1,K,6] as e2e: give --layout v5\n"
               "                     for a one-class YOLOv5 model\n"
               "  --classes N        class count, 1..100000; an e2e output's shape does not\n"
               "                     say it: default 80 (COCO), larger class ids are refused\n"
               "  --kernels K        ref or onednn (default onednn)\n"
               "  --imgsz N          input size for models with dynamic input dimensions\n"
               "  -h, --help         this text\n"
               "\n"
               "Box coordinates are x1,y1,x2,y2 in the original image's pixels. A model with\n"
               "synthetic weights is labelled: its detections are not meaningful.\n"
               "Exit status: 0 success, 2 usage error or bad model/image, 1 internal error.\n");
}

struct detect_args {
    const char *model;
    const char **images;
    int n_images;
    bool json;
    const char *annotate;
    struct cvb_detect_opts dopts;
    struct cvb_engine_opts eopts;
};

/* Per-image result, kept until everything has run. */
struct image_result {
    const char *path;
    int width, height;
    double infer_ms;
    int n_dets;
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
};

/* ---- argument parsing -------------------------------------------------------- */

static int parse_float01(const char *opt, const char *s, float *out) {
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 1))
        return cvb__cli_usage_error("%s: '%s' is not a number in 0..1", opt, s);
    *out = v;
    return 0;
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return cvb__cli_usage_error("%s: '%s' is not an integer in %d..%d", opt, s, lo, hi);
    *out = (int)v;
    return 0;
}

/* Returns 0 to go on, -1 after --help (exit 0), or an exit status > 0. */
static int parse_args(int argc, char **argv, struct detect_args *a) {
    memset(a, 0, sizeof *a);
    cvb_detect_opts_init(&a->dopts);
    a->eopts.kernels = CVB_KERNELS_ONEDNN;
    a->images = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->images);
    if (a->images == NULL) return cvb__cli_usage_error("out of memory");
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (options_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
            a->images[a->n_images++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(arg, "--json") == 0) {
            a->json = true;
            continue;
        }
        /* options with a value: --opt VALUE or --opt=VALUE */
        char name[32];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        if (nlen >= sizeof name) return cvb__cli_usage_error("detect: unknown option '%s'", arg);
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        static const char *const with_value[] = {"--model",   "--annotate", "--conf",
                                                 "--iou",     "--max-det",  "--layout",
                                                 "--kernels", "--imgsz",    "--classes"};
        bool known = false;
        for (size_t k = 0; k < CVB_ARRAY_LEN(with_value); k++)
            if (strcmp(name, with_value[k]) == 0) known = true;
        if (!known) {
            cvb__cli_usage_error("detect: unknown option '%s' (see cvbench detect --help)", arg);
            return CVB_EXIT_USAGE;
        }
        if (eq != NULL) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return cvb__cli_usage_error("detect: %s needs a value", name);
        }
        int rc = 0;
        if (strcmp(name, "--model") == 0) {
            a->model = val;
        } else if (strcmp(name, "--annotate") == 0) {
            if (val[0] == '\0') return cvb__cli_usage_error("detect: --annotate needs a file name");
            a->annotate = val;
        } else if (strcmp(name, "--conf") == 0) {
            rc = parse_float01(name, val, &a->dopts.conf_thresh);
        } else if (strcmp(name, "--iou") == 0) {
            rc = parse_float01(name, val, &a->dopts.iou_thresh);
        } else if (strcmp(name, "--max-det") == 0) {
            rc = parse_int(name, val, 1, CVB_DETECT_MAX_DET, &a->dopts.max_det);
        } else if (strcmp(name, "--classes") == 0) {
            rc = parse_int(name, val, 1, CVB_DETECT_MAX_CLASSES, &a->dopts.n_classes);
        } else if (strcmp(name, "--imgsz") == 0) {
            rc = parse_int(name, val, 32, CVB_IMAGE_MAX_SIDE, &a->eopts.imgsz);
        } else if (strcmp(name, "--layout") == 0) {
            if (strcmp(val, "auto") == 0)
                a->dopts.layout = CVB_YOLO_AUTO;
            else if (strcmp(val, "v8") == 0)
                a->dopts.layout = CVB_YOLO_V8;
            else if (strcmp(val, "v5") == 0)
                a->dopts.layout = CVB_YOLO_V5;
            else if (strcmp(val, "e2e") == 0)
                a->dopts.layout = CVB_YOLO_E2E;
            else
                return cvb__cli_usage_error("--layout: '%s' is not auto, v8, v5 or e2e", val);
        } else if (strcmp(name, "--kernels") == 0) {
            if (strcmp(val, "ref") == 0)
                a->eopts.kernels = CVB_KERNELS_REF;
            else if (strcmp(val, "onednn") == 0)
                a->eopts.kernels = CVB_KERNELS_ONEDNN;
            else
                return cvb__cli_usage_error("--kernels: '%s' is not ref or onednn", val);
        }
        if (rc != 0) return rc;
    }
    if (a->model == NULL) return cvb__cli_usage_error("detect: --model is required");
    if (a->n_images == 0) return cvb__cli_usage_error("detect: no IMAGE given");
    return 0;
}

/* ---- model input ------------------------------------------------------------- */

enum input_kind { INPUT_F32_NCHW, INPUT_U8_NCHW, INPUT_U8_NHWC };

/* Work out how to feed the model: [1,3,H,W] float32 (Ultralytics' export),
 * [1,3,H,W] uint8 or [1,H,W,3] uint8 (normalisation folded into the model). */
static int input_layout(const char *model, const struct cvb_tensor_info *in, enum input_kind *kind,
                        int *w, int *h, struct cvb_err *err) {
    const int64_t *d = in->dims;
    bool f32 = strcmp(in->dtype, "float32") == 0, u8 = strcmp(in->dtype, "uint8") == 0;
    if (in->ndim == 4 && d[0] == 1 && d[1] == 3 && (f32 || u8)) {
        *kind = f32 ? INPUT_F32_NCHW : INPUT_U8_NCHW;
        *h = (int)d[2];
        *w = (int)d[3];
    } else if (in->ndim == 4 && d[0] == 1 && d[3] == 3 && u8) {
        *kind = INPUT_U8_NHWC;
        *h = (int)d[1];
        *w = (int)d[2];
    } else {
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: input '%s' is %s with %d dims; detect needs an image input "
                           "[1,3,H,W] float32 or uint8, or [1,H,W,3] uint8",
                           model, in->name, in->dtype, in->ndim);
    }
    if (*w < 1 || *h < 1 || *w > CVB_IMAGE_MAX_SIDE || *h > CVB_IMAGE_MAX_SIDE)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: input '%s' has size %dx%d; use --imgsz for dynamic dimensions",
                           model, in->name, *w, *h);
    return 0;
}

/* ---- output ------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static const char *class_name(int id, int n_classes, char *buf, size_t len) {
    const char *name = n_classes == CVB_COCO_N_CLASSES ? cvb_coco_class_name(id) : NULL;
    if (name != NULL) return name;
    snprintf(buf, len, "class%d", id);
    return buf;
}

static void print_json(FILE *f, const struct detect_args *a, bool synthetic, int n_classes,
                       const struct image_result *res) {
    char buf[32];
    fputs("{\"model\":", f);
    json_string(f, a->model);
    fprintf(f, ",\"synthetic_weights\":%s", synthetic ? "true" : "false");
    if (synthetic) fputs(",\"warning\":\"" SYNTHETIC_NOTE "\"", f);
    fputs(",\"images\":[", f);
    for (int i = 0; i < a->n_images; i++) {
        const struct image_result *r = &res[i];
        fputs(i ? ",{\"path\":" : "{\"path\":", f);
        json_string(f, r->path);
        fprintf(f, ",\"width\":%d,\"height\":%d,\"detections\":[", r->width, r->height);
        for (int j = 0; j < r->n_dets; j++) {
            const struct cvb_detection *d = &r->dets[j];
            fprintf(f, "%s{\"class_id\":%d,\"class\":", j ? "," : "", d->class_id);
            json_string(f, class_name(d->class_id, n_classes, buf, sizeof buf));
            fprintf(f, ",\"score\":%.6g,\"box\":[%.2f,%.2f,%.2f,%.2f]}", d->score, d->x1, d->y1,
                    d->x2, d->y2);
        }
        fprintf(f, "],\"infer_ms\":%.3f}", r->infer_ms);
    }
    fputs("]}\n", f);
}

static void print_text(FILE *f, const struct detect_args *a, bool synthetic, int n_classes,
                       const struct image_result *res) {
    char buf[32];
    fprintf(f, "model: %s\n", a->model);
    if (synthetic) fprintf(f, "note: " SYNTHETIC_NOTE "\n");
    for (int i = 0; i < a->n_images; i++) {
        const struct image_result *r = &res[i];
        fprintf(f, "\n%s: %dx%d, %d detection%s, inference %.1f ms\n", r->path, r->width, r->height,
                r->n_dets, r->n_dets == 1 ? "" : "s", r->infer_ms);
        if (r->n_dets == 0) continue;
        fprintf(f, "  %-16s %6s %8s %8s %8s %8s\n", "class", "score", "x1", "y1", "x2", "y2");
        for (int j = 0; j < r->n_dets; j++) {
            const struct cvb_detection *d = &r->dets[j];
            fprintf(f, "  %-16s %6.3f %8.1f %8.1f %8.1f %8.1f\n",
                    class_name(d->class_id, n_classes, buf, sizeof buf), d->score, d->x1, d->y1,
                    d->x2, d->y2);
        }
    }
}

/* OUT.png for a single image; OUT-<n>.png (n 1-based) for several. */
static void annotate_path(const char *out, int n_images, int i, char *buf, size_t len) {
    if (n_images == 1) {
        snprintf(buf, len, "%s", out);
        return;
    }
    size_t n = strlen(out);
    const char *ext = n >= 4 && strcmp(out + n - 4, ".png") == 0 ? out + n - 4 : out + n;
    snprintf(buf, len, "%.*s-%d%s", (int)(ext - out), out, i + 1, ext);
}

/* ---- the command ------------------------------------------------------------- */

int cvb__cmd_detect(int argc, char **argv) {
    int status = CVB_EXIT_OK, rc;
    struct detect_args a;
    struct cvb_err err = {0};
    struct cvb_engine *eng = NULL;
    struct cvb_detector *det = NULL;
    struct cvb_letterboxer *lbr = NULL;
    struct image_result *res = NULL;
    struct cvb_image img = {0};
    uint8_t *canvas = NULL;
    void *in_buf = NULL, **out_bufs = NULL;
    int n_out = 0;

    rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        status = rc < 0 ? CVB_EXIT_OK : rc;
        goto out;
    }
    rc = cvb_engine_load(a.model, &a.eopts, &eng, &err);
    if (rc < 0) goto fail;
    struct cvb_model_info mi;
    memset(&mi, 0, sizeof mi);
    rc = cvb_engine_model_info(eng, &mi);
    if (rc < 0) {
        cvb_err_set(&err, rc, "%s: cannot read model info", a.model);
        goto fail;
    }
    if (cvb_engine_n_inputs(eng) != 1) {
        rc = cvb_err_set(&err, CVB_EUNSUPPORTED, "%s: detect needs a model with one input, not %d",
                         a.model, cvb_engine_n_inputs(eng));
        goto fail;
    }
    struct cvb_tensor_info in_info, out_info;
    enum input_kind kind = INPUT_F32_NCHW;
    int in_w = 0, in_h = 0;
    rc = cvb_engine_input_info(eng, 0, &in_info);
    if (rc < 0) {
        cvb_err_set(&err, rc, "%s: cannot describe input 0", a.model);
        goto fail;
    }
    rc = input_layout(a.model, &in_info, &kind, &in_w, &in_h, &err);
    if (rc < 0) goto fail;
    n_out = cvb_engine_n_outputs(eng);
    if (n_out < 1) {
        rc = cvb_err_set(&err, CVB_EUNSUPPORTED, "%s: model has no outputs", a.model);
        goto fail;
    }
    /* Output 0 is the detection head; any other outputs (segmentation
     * prototypes, say) are computed and ignored. */
    rc = cvb_engine_output_info(eng, 0, &out_info);
    if (rc < 0) {
        cvb_err_set(&err, rc, "%s: cannot describe output 0", a.model);
        goto fail;
    }
    if (strcmp(out_info.dtype, "float32") != 0) {
        rc = cvb_err_set(&err, CVB_EUNSUPPORTED, "%s: output '%s' is %s; detect needs float32",
                         a.model, out_info.name, out_info.dtype);
        goto fail;
    }
    rc = cvb_detector_new_guess(out_info.ndim, out_info.dims, &a.dopts, &det, &err);
    if (rc == 0 && cvb_detector_layout(det) == CVB_YOLO_E2E && a.dopts.n_classes == 0) {
        /* no class count in an e2e shape: COCO's, as every pretrained
         * Ultralytics detector (--classes says otherwise) */
        cvb_detector_free(det);
        det = NULL;
        a.dopts.n_classes = CVB_COCO_N_CLASSES;
        rc = cvb_detector_new_guess(out_info.ndim, out_info.dims, &a.dopts, &det, &err);
    }
    if (rc < 0) {
        cvb_err_prefix(&err, "%s: output '%s'", a.model, out_info.name);
        goto fail;
    }

    out_bufs = calloc((size_t)n_out, sizeof *out_bufs);
    canvas = malloc((size_t)in_w * (size_t)in_h * 3);
    in_buf = malloc(in_info.bytes);
    res = calloc((size_t)a.n_images, sizeof *res);
    if (out_bufs == NULL || canvas == NULL || in_buf == NULL || res == NULL) {
        rc = cvb_err_set(&err, CVB_ENOMEM, "%s: out of memory for buffers", a.model);
        goto fail;
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info oi;
        rc = cvb_engine_output_info(eng, i, &oi);
        if (rc < 0) {
            cvb_err_set(&err, rc, "%s: cannot describe output %d", a.model, i);
            goto fail;
        }
        out_bufs[i] = malloc(oi.bytes ? oi.bytes : 1);
        if (out_bufs[i] == NULL) {
            rc = cvb_err_set(&err, CVB_ENOMEM, "%s: out of memory for output '%s'", a.model,
                             oi.name);
            goto fail;
        }
    }
    rc = cvb_letterboxer_new(&lbr, &err);
    if (rc < 0) goto fail;

    for (int i = 0; i < a.n_images; i++) {
        struct image_result *r = &res[i];
        struct cvb_letterbox lb;
        r->path = a.images[i];
        rc = cvb_image_load(a.images[i], &img, &err);
        if (rc < 0) goto fail;
        r->width = img.width;
        r->height = img.height;
        rc = cvb_letterbox(lbr, &img, canvas, in_w, in_h, &lb, &err);
        if (rc < 0) goto fail;
        if (kind == INPUT_F32_NCHW)
            cvb_image_to_nchw_f32(canvas, in_w, in_h, in_buf);
        else if (kind == INPUT_U8_NCHW)
            cvb_image_to_nchw_u8(canvas, in_w, in_h, in_buf);
        else
            memcpy(in_buf, canvas, (size_t)in_w * (size_t)in_h * 3);
        const void *inputs[1] = {in_buf};
        uint64_t t0 = cvb_now_ns();
        rc = cvb_engine_run(eng, inputs, out_bufs, &err);
        r->infer_ms = (double)(cvb_now_ns() - t0) / 1e6;
        if (rc < 0) {
            cvb_err_prefix(&err, "%s: running %s", a.images[i], a.model);
            goto fail;
        }
        rc = cvb_detector_run(det, out_bufs[0], &lb, r->dets, CVB_DETECT_MAX_DET, &r->n_dets, &err);
        if (rc == CVB_EFORMAT && cvb_detector_layout(det) == CVB_YOLO_E2E) {
            cvb_err_prefix(&err, "%s: %s", a.model, r->path);
            size_t len = strlen(err.msg);
            snprintf(err.msg + len, sizeof err.msg - len, " (--classes N for a model with more)");
        }
        if (rc < 0) goto fail;
        if (a.annotate != NULL) {
            char path[4096];
            annotate_path(a.annotate, a.n_images, i, path, sizeof path);
            for (int j = r->n_dets - 1; j >= 0; j--) { /* best box drawn last, on top */
                uint8_t color[3];
                const struct cvb_detection *d = &r->dets[j];
                cvb_image_class_color(d->class_id, color);
                cvb_image_draw_box(&img, d->x1, d->y1, d->x2, d->y2, color, 2);
            }
            rc = cvb_image_write_png(path, img.rgb, img.width, img.height, img.stride, &err);
            if (rc < 0) goto fail;
        }
        cvb_image_cleanup(&img);
    }

    if (a.json)
        print_json(stdout, &a, mi.synthetic, cvb_detector_n_classes(det), res);
    else
        print_text(stdout, &a, mi.synthetic, cvb_detector_n_classes(det), res);
    if (fflush(stdout) != 0) {
        rc = cvb_err_set(&err, CVB_EIO, "stdout: write failed: %s", strerror(errno));
        goto fail;
    }
    goto out;

fail:
    if (err.code == 0) cvb_err_set(&err, rc < 0 ? rc : CVB_EINTERNAL, "detect failed");
    status = cvb__cli_fail(&err);
out:
    cvb_image_cleanup(&img);
    if (out_bufs != NULL)
        for (int i = 0; i < n_out; i++)
            free(out_bufs[i]);
    free(out_bufs);
    free(in_buf);
    free(canvas);
    free(res);
    cvb_letterboxer_free(lbr);
    cvb_detector_free(det);
    cvb_engine_free(eng);
    free(a.images);
    return status;
}
