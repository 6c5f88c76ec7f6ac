/* SPDX-License-Identifier: Apache-2.0 */
/* Video and image input: decode to RGB24, letterbox to the model's input size.
 *
 * This is the front of the data flow: a picture (a still image now; video
 * streams are added by a later issue) is decoded to packed RGB24, then
 * letterboxed into a caller-provided uint8 canvas the size of the model input
 * (resized keeping the aspect ratio, centred, padded with grey 114, exactly as
 * Ultralytics' LetterBox does). The letterbox geometry (scale and padding) is
 * returned in a struct cvb_letterbox so detect can map boxes back to the
 * original picture's pixels.
 *
 * src/video/ is the only module that includes FFmpeg (libav*) headers; no
 * FFmpeg type appears here. FFmpeg's own log output is routed through the
 * cvbench logger (bounded, rate limited) at debug level; errors are
 * translated once, into struct cvb_err, naming the file and the problem. */
#ifndef CVB_VIDEO_H
#define CVB_VIDEO_H

#include "cvb/common.h"

#include <stddef.h>
#include <stdint.h>

/* Pictures with a side longer than this are refused with CVB_ERANGE. */
#define CVB_IMAGE_MAX_SIDE 16384
/* Image files larger than this are refused with CVB_ERANGE. */
#define CVB_IMAGE_MAX_FILE_BYTES ((int64_t)256 << 20)
/* Grey level of the letterbox padding (Ultralytics' value). */
#define CVB_LETTERBOX_PAD 114

/* ---- images ----------------------------------------------------------------- */

/* A packed RGB24 picture: pixel (x, y) channel c is at rgb[y*stride + 3*x + c].
 * Filled by cvb_image_load() (which allocates rgb: release with
 * cvb_image_cleanup()) or set up by the caller over its own buffer. */
struct cvb_image {
    uint8_t *rgb;
    int width;
    int height;
    int stride; /* bytes per row, >= 3*width */
};

/* Decode the image file at 'path' (JPEG, PNG, BMP, ... anything FFmpeg's image
 * demuxers and decoders handle) to RGB24 in *img, which the caller owns and
 * releases with cvb_image_cleanup(). Returns 0, or a negative status with
 * 'err' naming the file and the problem: missing or unreadable file
 * (CVB_EIO), empty, not an image, truncated or corrupt data (CVB_EFORMAT),
 * no decoder for the codec (CVB_EUNSUPPORTED), a side larger than
 * CVB_IMAGE_MAX_SIDE or a file larger than CVB_IMAGE_MAX_FILE_BYTES
 * (CVB_ERANGE). On failure *img is zeroed. */
int cvb_image_load(const char *path, struct cvb_image *img, struct cvb_err *err);
/* Free what cvb_image_load() allocated and zero *img. NULL or a zeroed image
 * is a no-op. */
void cvb_image_cleanup(struct cvb_image *img);

/* Encode 'rgb' (width x height RGB24, rows 'stride' bytes apart) as PNG into
 * the file 'path' (created or truncated). */
int cvb_image_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride,
                        struct cvb_err *err);

/* Draw the outline of the box [x1, x2] x [y1, y2] (pixel coordinates, as
 * detect reports them; clipped to the picture) 'thickness' pixels thick,
 * inside the box, in colour 'color' (R, G, B). A box entirely outside the
 * picture or with non-finite coordinates draws nothing. */
void cvb_image_draw_box(struct cvb_image *img, float x1, float y1, float x2, float y2,
                        const uint8_t color[3], int thickness);
/* A distinct colour for class 'class_id' (stable: the same id always gets the
 * same colour). */
void cvb_image_class_color(int class_id, uint8_t color[3]);

/* ---- letterbox ---------------------------------------------------------------- */

/* Geometry of one letterbox: the source picture src_w x src_h was resized by
 * 'scale' to new_w x new_h and placed at (pad_left, pad_top) in a dst_w x
 * dst_h canvas. A point (x, y) of the source maps to
 *   (x * scale + pad_left, y * scale + pad_top)
 * in the canvas, and back through cvb_letterbox_unmap(). */
struct cvb_letterbox {
    int src_w, src_h;
    int dst_w, dst_h;
    int new_w, new_h;
    int pad_left, pad_top;
    double scale;
};

/* Compute Ultralytics' LetterBox geometry (centre padding, scale-up allowed):
 *   r = min(dst_h / src_h, dst_w / src_w)
 *   new_w = round(src_w * r), new_h = round(src_h * r)   (round half to even)
 *   dw = (dst_w - new_w) / 2, dh = (dst_h - new_h) / 2
 *   pad_left = round(dw - 0.1), pad_top = round(dh - 0.1)
 * Sizes must be in 1..CVB_IMAGE_MAX_SIDE (else CVB_EINVAL). */
int cvb_letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h, struct cvb_letterbox *lb,
                           struct cvb_err *err);

/* Map a box (x1, y1, x2, y2) from canvas pixels back to source pixels, the
 * way Ultralytics' scale_boxes does: subtract the padding, divide by 'scale',
 * clip x to [0, src_w] and y to [0, src_h]. In place on box[4]. */
void cvb_letterbox_unmap(const struct cvb_letterbox *lb, float box[4]);

/* A letterboxer keeps the swscale context between calls, so letterboxing a
 * stream of same-sized pictures allocates nothing after the first. One per
 * thread. Free with cvb_letterboxer_free() (NULL is a no-op). */
struct cvb_letterboxer;
int cvb_letterboxer_new(struct cvb_letterboxer **out, struct cvb_err *err);
void cvb_letterboxer_free(struct cvb_letterboxer *lbr);

/* Letterbox 'src' into 'canvas', a packed RGB24 buffer of dst_w x dst_h
 * pixels (3*dst_w*dst_h bytes, rows 3*dst_w bytes apart) that the caller
 * owns: the padding is filled with CVB_LETTERBOX_PAD and the picture resized
 * (bilinear, swscale) into the middle. Sets *lb to the geometry. 'lbr' may
 * be NULL for a one-off call (a temporary context is created and freed). */
int cvb_letterbox(struct cvb_letterboxer *lbr, const struct cvb_image *src, uint8_t *canvas,
                  int dst_w, int dst_h, struct cvb_letterbox *lb, struct cvb_err *err);

/* Convert a packed RGB24 canvas (w x h, HWC uint8) to the float32 NCHW
 * [1, 3, h, w] tensor an fp32 YOLO export takes: out[c*h*w + y*w + x] =
 * canvas[(y*w + x)*3 + c] / 255. 'out' holds 3*w*h floats. */
void cvb_image_to_nchw_f32(const uint8_t *canvas, int w, int h, float *out);
/* The same without scaling, to a uint8 NCHW tensor. */
void cvb_image_to_nchw_u8(const uint8_t *canvas, int w, int h, uint8_t *out);

#endif
