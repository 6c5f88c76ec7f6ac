/* SPDX-License-Identifier: Apache-2.0 */
/* Model synthesis: write an ONNX model with the exact topology of an
 * Ultralytics YOLO detection export and deterministic synthetic weights.
 *
 * Real weights cannot be downloaded where cvbench is built and tested, yet
 * every benchmark needs a model whose graph is the one people deploy. The
 * synthesized graph reproduces Ultralytics' classic ONNX export (opset 17,
 * static shape, simplified: BatchNorm folded into Conv, SiLU as Sigmoid then
 * Mul, Detect head with DFL and in-graph box decoding, output0 [1, 84, N]),
 * node for node, with the exporter's node and initializer names.
 *
 * Weights come from a seeded PRNG and are then fixed by a data-dependent
 * initialisation (a calibration pass through the engine's reference kernels
 * on a deterministic image-like input, normalising each convolution's output
 * per channel as BatchNorm with batch statistics would), so activations
 * neither vanish nor explode; YOLO11's attention logits are tempered to a
 * trained model's spread. Class scores come from a planted detector: three
 * channels carried through the unchanged topology compute colour-opponent
 * maps, SPPF turns them into local-maximum indicators, and the P5 class
 * conv maps each to one class, so a few anchors score far above 0.25 and
 * the rest far below, as with a trained model, and int8/bf16 keep the
 * detections (synth.c, "the planted detector"). Calibration runs at the
 * model's imgsz,
 * so the weights depend on seed and imgsz (and, through oneDNN's last bits,
 * rarely on the CPU). Every model written says so in its metadata
 * (cvbench.synthetic = "true"). */
#ifndef CVB_SYNTH_H
#define CVB_SYNTH_H

#include "cvb/common.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Calibration runs at the model's own imgsz up to this side (its cost grows
 * with the square of the side; the reference kernels run it). */
#define CVB_SYNTH_CALIB_MAX_IMGSZ 640
/* Over the procedural calibration inputs (single-content frames,
 * letterboxed frames, noise, grey), at imgsz 320 the median input has at
 * most CVB_SYNTH_HITS_MEDIAN anchors scoring above CVB_SYNTH_SCORE_THRESH and
 * none more than CVB_SYNTH_HITS_MAX (checked by the tests). Detections come
 * from P5 cells, so larger sizes give more (yolov8n at 640: median 17, max
 * 63), and other inputs other counts: the planted detector responds to
 * strongly coloured spots. */
#define CVB_SYNTH_HITS_MEDIAN 10
#define CVB_SYNTH_HITS_MAX 150
#define CVB_SYNTH_SCORE_THRESH 0.25f

struct cvb_synth_opts {
    const char *arch; /* "yolov5nu", "yolov8n", "yolov8s", "yolo11n", "yolov9t",
                         "yolov10n", "yolo12n", "yolo26n" */
    int imgsz;        /* input side, multiple of 32; 0 = 640 */
    uint64_t seed;
    int opset;        /* 0 = 17; only 17 is written */
    bool no_calib;    /* skip the data-dependent init (raw He-init weights;
                         for topology tests only: activations are not sane) */
    bool end2end;     /* end-to-end head: output0 [1, K, 6], K = min(300, anchors),
                         rows x1, y1, x2, y2, score, class. The Detect head then
                         decodes corner boxes and ends in the exact 19-node tail
                         Ultralytics 8.4 exports for a one-to-one head with
                         nms=False (YOLOv10, YOLO26), fed here from the model's
                         one (one-to-many) head: the rows are the plain model's
                         top-K (anchor, class) scores, no NMS. The weights are
                         those of the plain model (same seed and imgsz).
                         yolov10n writes its own one-to-one branches (as
                         exported) with the one-to-many branches' weights. */
    bool nms;         /* in-graph NMS, as Ultralytics 8.4 exports nms=True: output0
                         [1, 300, 6] (x1, y1, x2, y2, score, class; zero rows after
                         the kept boxes) from conf 0.25, class-wise NonMaxSuppression
                         at IoU 0.7, max_det 300: data-dependent shapes (NonZero,
                         NonMaxSuppression). Same weights as the plain model. */
};

struct cvb_synth_stats {
    int64_t n_params;      /* Conv/MatMul weight and bias elements (BN folded), as
                              Ultralytics' fused model summary counts them */
    double gflops;         /* 2 x MAC of Conv and MatMul per inference at imgsz, / 1e9 */
    int n_nodes;           /* nodes in the graph */
    int n_initializers;
    int64_t n_anchors;     /* N of output0 [1, 84, N] */
    int64_t e2e_rows;      /* end2end: K of output0 [1, K, 6]; else 0 */
    size_t model_bytes;    /* size of the serialized model */
    /* Calibration results (zero when no_calib): */
    int calib_imgsz;
    int calib_n_inputs;    /* procedural inputs the scores were counted over */
    int calib_hits_median, calib_hits_max; /* anchors with a class score > 0.25 on them */
    float calib_act_std_min, calib_act_std_max; /* range of SiLU outputs' std over layers */
    double calib_ms;       /* wall time of the calibration pass */
    /* Op histogram of the graph, in order of first appearance. */
    int n_ops;
    const char *op_names[32]; /* static strings */
    int op_counts[32];
};

/* Names of the architectures cvb_synth_model() knows, NULL-terminated. */
extern const char *const cvb_synth_archs[];

/* Synthesize the model described by 'o' and write it to 'out_path'. On
 * success returns 0 and fills *stats (which may be NULL). On failure returns
 * a negative status, describes the problem in 'err' (an unknown arch, a bad
 * imgsz, an unwritable path, or a calibration failure in the engine) and
 * leaves no file behind. */
int cvb_synth_model(const struct cvb_synth_opts *o, const char *out_path,
                    struct cvb_synth_stats *stats, struct cvb_err *err);

/* The same into memory: *buf (caller frees with free()) holds the serialized
 * ModelProto, *len its size. */
int cvb_synth_model_buffer(const struct cvb_synth_opts *o, void **buf, size_t *len,
                           struct cvb_synth_stats *stats, struct cvb_err *err);

/* The deterministic calibration input: an image-like float32 tensor
 * [1, 3, imgsz, imgsz] in [0, 1] (smooth gradients, textures and blobs),
 * written to 'out' (3 * imgsz * imgsz floats). Tests use it to check score
 * statistics on the same input the synthesis calibrated on. */
void cvb_synth_calib_image(int imgsz, float *out);

#endif
