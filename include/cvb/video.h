/* SPDX-License-Identifier: Apache-2.0 */
/* Video and image input: decode to RGB24, letterbox to the model's input size.
 *
 * This is the front of the data flow: a picture (a still image, or each
 * frame of a video stream) is decoded and converted to packed RGB24 while it is
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

/* ---- video streams ------------------------------------------------------------
 * A decoder for one stream: demux (libavformat), decode (libavcodec) and
 * letterbox each frame (libswscale, colour conversion and resize in one pass)
 * into a caller-provided S x S x 3 RGB24 (HWC uint8) buffer, typically one of
 * a fixed per-stream pool. After cvb_video_open() returns, cvb_video_next()
 * allocates nothing of its own: the packet, frame and scaler are reused and
 * the picture goes straight into the caller's buffer, with no intermediate
 * RGB copy. Inside FFmpeg, the demuxer allocates each compressed packet's
 * payload and it is freed as soon as it is decoded (one at a time), and the
 * decoder recycles its frames from a pool whose size is bounded by the codec
 * and the thread count, not by the number of frames (see
 * cvb_video_info.decoder_bytes): memory stays flat over any run length.
 *
 * One struct cvb_video belongs to one thread at a time (it is not locked).
 *
 * A still image (JPEG, PNG, ...) opens as a one-frame video: each pass
 * yields that one picture, so with 'loop' set it repeats it. A file with no
 * video stream (audio only, a text file, random bytes) or whose video stream
 * yields no decodable frame is refused at open: cvb_video_open() decodes the
 * first frame before it returns. */

/* Default limit on the decoded picture area (width * height); max_pixels
 * may set any limit up to CVB_IMAGE_MAX_SIDE squared. */
#define CVB_VIDEO_DEFAULT_MAX_PIXELS ((int64_t)4096 * 4096)
#define CVB_VIDEO_MAX_THREADS        64

struct cvb_video_opts {
    int out_size;       /* model input side S: frames are letterboxed to S x S (1..4096) */
    int threads;        /* decoder threads; 0 = 1. Frame threading adds threads-1 frames of delay */
    int64_t max_pixels; /* refuse streams with width*height above this; 0 =
                           CVB_VIDEO_DEFAULT_MAX_PIXELS */
    int loop;           /* nonzero: at the end of the stream, seek back and go on (long runs) */
};

/* What the container and the first decoded frame say about the stream. */
struct cvb_video_info {
    int width, height;     /* of the first decoded frame */
    double fps;            /* average frame rate (container's, else guessed); 0 if unknown */
    int64_t n_frames;      /* frame count: the container's, else duration * fps; 0 if
                              unknown. An estimate: count what cvb_video_next() yields
                              when it matters */
    double duration_s;     /* of the video stream (else of the file); 0 if unknown */
    int64_t bit_rate;      /* bits/s of the stream (else of the file); 0 if unknown */
    char codec[32];        /* decoder's codec name: "h264", "hevc", "mpeg4", "mjpeg" ... */
    char container[32];    /* "mp4", "mov", "matroska", "avi", "image2" ... */
    char pix_fmt[32];      /* decoded pixel format: "yuv420p" ... */
    int64_t decoder_bytes; /* upper estimate of the decoder's own frame memory
                              (reference and threading frames), for memory admission */
};

/* Where a frame came from and what it cost. Times are CLOCK_MONOTONIC
 * (cvb_now_ns()) differences, measured separately so decode and
 * preprocessing report as separate stages. */
struct cvb_frame_meta {
    struct cvb_letterbox lb; /* geometry: map detections back with cvb_letterbox_unmap() */
    int64_t index;           /* frames yielded since open, counting across loops (0, 1, ...) */
    int64_t pass_index;      /* frame number within the current pass of the file */
    int pass;                /* 0 on the first pass, +1 each time 'loop' restarts the file */
    double pts_s;          /* presentation time in seconds from the stream start; NAN if unknown */
    uint64_t decode_ns;    /* demux + decode of this frame (including seeking on a loop) */
    uint64_t letterbox_ns; /* colour conversion + resize + padding into the buffer */
};

struct cvb_video;

/* Open the video file at 'path', set up its decoder, and decode its first
 * frame (kept for the first cvb_video_next()). On success sets *out (free
 * with cvb_video_close()) and returns 0. On failure returns a negative status,
 * sets *out to NULL and names the file and the problem in 'err':
 *   CVB_EINVAL       bad options (out_size, threads, max_pixels)
 *   CVB_EIO          missing, unreadable or not a regular file
 *   CVB_EFORMAT      empty file, not a video (unrecognised, text, audio only),
 *                    no decodable frame, corrupt or truncated data
 *   CVB_EUNSUPPORTED no decoder for the codec in this FFmpeg
 *   CVB_ERANGE       picture larger than max_pixels (or a side over
 *                    CVB_IMAGE_MAX_SIDE)
 *   CVB_ENOMEM       out of memory */
int cvb_video_open(const char *path, const struct cvb_video_opts *o, struct cvb_video **out,
                   struct cvb_err *err);

/* The stream's properties, valid until cvb_video_close(). */
const struct cvb_video_info *cvb_video_info(const struct cvb_video *v);

/* Decode the next frame and letterbox it into 'dst', a caller-owned RGB24
 * buffer of out_size x out_size pixels (3*S*S bytes, rows 3*S bytes apart,
 * no alignment needed). Every byte of 'dst' is written: the picture and the
 * CVB_LETTERBOX_PAD padding. Fills *meta (may be NULL). Returns
 *   0  a frame was written to dst,
 *   1  end of stream (not looping); 'dst' untouched; later calls return 1,
 *   <0 error, with 'err' naming the file and the frame index, as in
 *      "clip.mp4: frame 37: decoding failed: Invalid data found when
 *      processing input"; later calls return the same status.
 * A truncated file yields the frames before the damage, then ends (1) or
 * fails (<0), depending on where it was cut; it never hangs. In loop mode a
 * pass that yields no frame at all is an error (CVB_EFORMAT), never a busy
 * loop. */
int cvb_video_next(struct cvb_video *v, uint8_t *dst, struct cvb_frame_meta *meta,
                   struct cvb_err *err);

/* Close the file and free the decoder. NULL is a no-op. */
void cvb_video_close(struct cvb_video *v);

/* The FFmpeg libraries in use, for run manifests: "FFmpeg libavformat
 * 59.27.100, libavcodec 59.37.100, libswscale 6.7.100" (the versions linked
 * at run time). Static storage; never NULL. */
const char *cvb_video_version(void);

/* ---- synthetic clips ------------------------------------------------------- */

enum cvb_vsynth_codec {
    CVB_VSYNTH_CODEC_DEFAULT = 0, /* H.264 (libx264) if this FFmpeg has it, else MPEG-4 part 2 */
    CVB_VSYNTH_CODEC_H264,        /* H.264 via libx264; CVB_EUNSUPPORTED if absent */
    CVB_VSYNTH_CODEC_MPEG4,       /* MPEG-4 part 2 (FFmpeg's own encoder, always present) */
};

struct cvb_vsynth_opts {
    int width, height; /* even, 16..4096; 0 = 1280 x 720 */
    int fps;           /* 1..240; 0 = 30 */
    double seconds;    /* > 0, at most 3600; 0 = 10 */
    uint64_t seed;     /* the same options and seed give the same pictures */
    enum cvb_vsynth_codec codec;
};

/* Write a synthetic test clip to 'out_path' (an MP4, created or truncated;
 * yuv420p, the moov atom at the front so a truncated copy still opens): a
 * smoothly changing, textured background with several moving, coloured,
 * textured rectangles and ellipses that bounce off the edges, a scene rather
 * than a flat frame so decoding costs what real footage costs. The pictures
 * are a pure function of the options; the encoded bytes are deterministic for
 * the same FFmpeg build. On failure returns a negative status, removes the
 * partial file and names the problem in 'err'. */
int cvb_video_synth(const struct cvb_vsynth_opts *o, const char *out_path, struct cvb_err *err);

#endif
