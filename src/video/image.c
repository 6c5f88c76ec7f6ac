/* SPDX-License-Identifier: Apache-2.0 */
/* Still images: decode to RGB24 (libavformat + libavcodec), letterbox to the
 * model's input size (libswscale), encode PNG, draw boxes.
 *
 * This file and its future video siblings are the only places that include
 * FFmpeg headers. Three rules hold here:
 *  1. FFmpeg never writes to stderr by itself: its log callback is replaced
 *     (once, by cvb__video_init) with one that forwards warnings and errors
 *     to the cvbench logger at debug level (bounded and rate limited) and
 *     remembers the thread's last error line for the error message.
 *  2. FFmpeg errors are translated here, once, into struct cvb_err naming the
 *     file and the problem; callers never see an AVERROR.
 *  3. Sizes are checked before memory is committed: files over
 *     CVB_IMAGE_MAX_FILE_BYTES are refused from stat(), and pictures with a
 *     side over CVB_IMAGE_MAX_SIDE are refused in the decoder's get_buffer2
 *     callback, before the frame is allocated. */
#include "cvb/video.h"
#include "video/video_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>

/* ==== FFmpeg log routing ====================================================== */

#define AV_LINE_MAX 256

static _Thread_local char av_last_error[AV_LINE_MAX];
static pthread_once_t video_once = PTHREAD_ONCE_INIT;

static void av_log_route(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > AV_LOG_WARNING) return;
    char line[AV_LINE_MAX];
    int print_prefix = 1;
    va_list copy;
    va_copy(copy, vl);
    av_log_format_line2(avcl, level, fmt, copy, line, sizeof line, &print_prefix);
    va_end(copy);
    /* "[mjpeg @ 0x55d0c...] overread 8" -> "mjpeg: overread 8": addresses
     * differ per run and mean nothing to a user. */
    char *at = line[0] == '[' ? strstr(line, " @ 0x") : NULL;
    char *close = at != NULL ? strstr(at, "] ") : NULL;
    if (close != NULL) {
        size_t name_len = (size_t)(at - line - 1);
        memmove(line, line + 1, name_len);
        line[name_len] = ':';
        memmove(line + name_len + 1, close + 1, strlen(close + 1) + 1);
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n == 0) return;
    if (level <= AV_LOG_ERROR) memcpy(av_last_error, line, n + 1);
    /* Even FFmpeg's "fatal" lines concern one input, whose error the caller
     * reports once through struct cvb_err: keep them at debug level. */
    cvb_log_debug("ffmpeg: %s", line);
}

static void video_init_once(void) {
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(av_log_route);
}

void cvb__video_init(void) {
    pthread_once(&video_once, video_init_once);
}

/* " (ffmpeg: <last error>)" or "" when FFmpeg said nothing; static per thread. */
static const char *av_detail(void) {
    static _Thread_local char buf[AV_LINE_MAX + 16];
    if (av_last_error[0] == '\0') return "";
    snprintf(buf, sizeof buf, " (ffmpeg: %s)", av_last_error);
    return buf;
}

static const char *av_errstr(int averr, char *buf, size_t len) {
    if (av_strerror(averr, buf, len) < 0) snprintf(buf, len, "error %d", averr);
    return buf;
}

/* Shared with video.c and vsynth.c through video/video_internal.h. */
void cvb__av_error_reset(void) {
    av_last_error[0] = '\0';
}

const char *cvb__av_last_error(void) {
    return av_last_error;
}

const char *cvb__av_detail(void) {
    return av_detail();
}

const char *cvb__av_errstr(int averr, char *buf, size_t len) {
    return av_errstr(averr, buf, len);
}

/* ==== decoding ================================================================ */

/* The name users know a codec by, for messages ("JPEG", not "mjpeg"). */
static const char *codec_label(const AVCodec *codec) {
    if (codec->id == AV_CODEC_ID_MJPEG) return "JPEG";
    if (codec->id == AV_CODEC_ID_PNG) return "PNG";
    return codec->name;
}

/* get_buffer2 hook: refuse absurd dimensions before the frame is allocated. */
static int checked_get_buffer2(AVCodecContext *ctx, AVFrame *frame, int flags) {
    if (frame->width > CVB_IMAGE_MAX_SIDE || frame->height > CVB_IMAGE_MAX_SIDE ||
        frame->width <= 0 || frame->height <= 0) {
        int *too_big = ctx->opaque;
        if (too_big != NULL) {
            too_big[0] = frame->width;
            too_big[1] = frame->height;
        }
        return AVERROR(ERANGE);
    }
    return avcodec_default_get_buffer2(ctx, frame, flags);
}

/* Demuxers that read one still picture from a file. Anything else FFmpeg can
 * open (a text file probes as "tty", say) is "not an image". */
static int is_image_demuxer(const char *name) {
    if (name == NULL) return 0;
    if (strcmp(name, "image2") == 0) return 1;
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, "_pipe") == 0;
}

/* The JPEG decoder conceals a truncated scan (grey rows, a log line) and still
 * returns a frame. A complete JPEG ends with the EOI marker FF D9 (possibly
 * followed by padding); require it within the last 64 bytes. */
static int jpeg_has_eoi(const char *path, int64_t size) {
    unsigned char tail[64];
    int found = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    long n = size < (int64_t)sizeof tail ? (long)size : (long)sizeof tail;
    if (fseek(f, -n, SEEK_END) == 0 && fread(tail, 1, (size_t)n, f) == (size_t)n) {
        for (long i = 0; i + 1 < n; i++)
            if (tail[i] == 0xFF && tail[i + 1] == 0xD9) found = 1;
    }
    fclose(f);
    return found;
}

int cvb_image_load(const char *path, struct cvb_image *img, struct cvb_err *err) {
    int rc = 0, ret;
    AVFormatContext *fmt = NULL;
    AVDictionary *opts = NULL;
    AVCodecContext *dec = NULL;
    AVPacket *pkt = NULL;
    AVFrame *frame = NULL;
    struct SwsContext *sws = NULL;
    uint8_t *rgb = NULL;
    int too_big[2] = {0, 0};
    char ebuf[128];
    struct stat st;

    memset(img, 0, sizeof *img);
    cvb__video_init();
    av_last_error[0] = '\0';

    if (stat(path, &st) != 0) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot open image: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cvb_err_set(err, CVB_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not an image: the file is empty", path);
        goto out;
    }
    if ((int64_t)st.st_size > CVB_IMAGE_MAX_FILE_BYTES) {
        rc = cvb_err_set(err, CVB_ERANGE,
                         "%s: image file is %lld bytes, more than the %lld-byte limit", path,
                         (long long)st.st_size, (long long)CVB_IMAGE_MAX_FILE_BYTES);
        goto out;
    }

    /* The file name is a name, never a sequence pattern like img%03d.png. */
    av_dict_set(&opts, "pattern_type", "none", 0);
    ret = avformat_open_input(&fmt, path, NULL, &opts);
    if (ret < 0) {
        if (ret == AVERROR_INVALIDDATA)
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: not an image: unrecognised file format%s", path,
                             av_detail());
        else
            rc = cvb_err_set(err, CVB_EIO, "%s: cannot open image: %s%s", path,
                             av_errstr(ret, ebuf, sizeof ebuf), av_detail());
        goto out;
    }
    if (!is_image_demuxer(fmt->iformat->name)) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not an image (FFmpeg reads it as '%s')", path,
                         fmt->iformat->name);
        goto out;
    }
    int si = -1;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
            si = (int)i;
            break;
        }
    if (si < 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not an image: no picture in the file", path);
        goto out;
    }
    const AVCodecParameters *par = fmt->streams[si]->codecpar;
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (codec == NULL) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: unsupported image codec '%s' (no decoder)",
                         path, avcodec_get_name(par->codec_id));
        goto out;
    }
    dec = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (dec == NULL || pkt == NULL || frame == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory setting up the decoder", path);
        goto out;
    }
    ret = avcodec_parameters_to_context(dec, par);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: decoder setup: %s", path,
                         av_errstr(ret, ebuf, sizeof ebuf));
        goto out;
    }
    dec->thread_count = 1;
    dec->thread_type = 0;
    dec->max_pixels = (int64_t)CVB_IMAGE_MAX_SIDE * CVB_IMAGE_MAX_SIDE;
    dec->get_buffer2 = checked_get_buffer2;
    dec->opaque = too_big;
    ret = avcodec_open2(dec, codec, NULL);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: cannot open the '%s' decoder: %s%s", path,
                         codec->name, av_errstr(ret, ebuf, sizeof ebuf), av_detail());
        goto out;
    }

    /* Read packets until the decoder yields one frame. */
    int got = 0, eof = 0;
    while (!got) {
        if (!eof) {
            ret = av_read_frame(fmt, pkt);
            if (ret == AVERROR_EOF) {
                eof = 1;
                ret = avcodec_send_packet(dec, NULL);
            } else if (ret < 0) {
                rc = cvb_err_set(err, CVB_EIO, "%s: read error: %s", path,
                                 av_errstr(ret, ebuf, sizeof ebuf));
                goto out;
            } else {
                if (pkt->stream_index != si) {
                    av_packet_unref(pkt);
                    continue;
                }
                ret = avcodec_send_packet(dec, pkt);
                av_packet_unref(pkt);
            }
            if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) goto decode_error;
        }
        ret = avcodec_receive_frame(dec, frame);
        if (ret == 0) {
            got = 1;
        } else if (ret == AVERROR(EAGAIN)) {
            if (eof) break;
        } else if (ret == AVERROR_EOF) {
            break;
        } else {
            goto decode_error;
        }
    }
    if (!got) {
        rc =
            cvb_err_set(err, CVB_EFORMAT, "%s: truncated or corrupt %s image: no picture decoded%s",
                        path, codec_label(codec), av_detail());
        goto out;
    }
    if (frame->width > CVB_IMAGE_MAX_SIDE || frame->height > CVB_IMAGE_MAX_SIDE ||
        frame->width <= 0 || frame->height <= 0) {
        too_big[0] = frame->width;
        too_big[1] = frame->height;
        ret = AVERROR(ERANGE);
        goto decode_error;
    }
    if ((frame->flags & AV_FRAME_FLAG_CORRUPT) || frame->decode_error_flags != 0 ||
        (par->codec_id == AV_CODEC_ID_MJPEG && !jpeg_has_eoi(path, (int64_t)st.st_size))) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated or corrupt %s image%s", path,
                         codec_label(codec), av_detail());
        goto out;
    }

    int w = frame->width, h = frame->height;
    sws = sws_getContext(w, h, (enum AVPixelFormat)frame->format, w, h, AV_PIX_FMT_RGB24,
                         SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (sws == NULL) {
        const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)frame->format);
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: cannot convert pixel format '%s' to RGB", path,
                         pf ? pf : "?");
        goto out;
    }
    size_t stride = (size_t)w * 3;
    rgb = malloc(stride * (size_t)h);
    if (rgb == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: cannot allocate %dx%d RGB picture", path, w, h);
        goto out;
    }
    uint8_t *dst[4] = {rgb, NULL, NULL, NULL};
    int dst_stride[4] = {(int)stride, 0, 0, 0};
    ret =
        sws_scale(sws, (const uint8_t *const *)frame->data, frame->linesize, 0, h, dst, dst_stride);
    if (ret != h) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: RGB conversion failed", path);
        goto out;
    }
    img->rgb = rgb;
    img->width = w;
    img->height = h;
    img->stride = (int)stride;
    rgb = NULL;
    goto out;

decode_error:
    /* FFmpeg refuses sizes over max_pixels before get_buffer2 is reached and
     * only says so in its log line "Picture size WxH is invalid". */
    if (too_big[0] == 0 && too_big[1] == 0) {
        const char *ps = strstr(av_last_error, "Picture size ");
        unsigned pw = 0, ph = 0;
        if (ps != NULL && sscanf(ps, "Picture size %ux%u", &pw, &ph) == 2 &&
            (pw > CVB_IMAGE_MAX_SIDE || ph > CVB_IMAGE_MAX_SIDE || pw == 0 || ph == 0 ||
             (uint64_t)pw * ph > (uint64_t)dec->max_pixels)) {
            too_big[0] = (int)(pw > INT32_MAX ? INT32_MAX : pw);
            too_big[1] = (int)(ph > INT32_MAX ? INT32_MAX : ph);
            ret = AVERROR(ERANGE);
        }
    }
    if (ret == AVERROR(ERANGE) && (too_big[0] != 0 || too_big[1] != 0))
        rc = cvb_err_set(err, CVB_ERANGE,
                         "%s: absurd image dimensions %dx%d (each side must be 1..%d)", path,
                         too_big[0], too_big[1], CVB_IMAGE_MAX_SIDE);
    else if (strstr(av_last_error, "Invalid image size") != NULL)
        rc = cvb_err_set(err, CVB_ERANGE,
                         "%s: absurd image dimensions in the %s header (each side must be "
                         "1..%d)%s",
                         path, codec_label(codec), CVB_IMAGE_MAX_SIDE, av_detail());
    else if (ret == AVERROR_PATCHWELCOME)
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: unsupported %s image feature%s", path,
                         codec_label(codec), av_detail());
    else
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: truncated or corrupt %s image: %s%s", path,
                         codec_label(codec), av_errstr(ret, ebuf, sizeof ebuf), av_detail());
out:
    free(rgb);
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    av_dict_free(&opts);
    return rc;
}

void cvb_image_cleanup(struct cvb_image *img) {
    if (img == NULL) return;
    free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ==== PNG output ============================================================== */

int cvb_image_write_png(const char *path, const uint8_t *rgb, int width, int height, int stride,
                        struct cvb_err *err) {
    int rc = 0, ret;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    FILE *f = NULL;
    char ebuf[128];

    cvb__video_init();
    av_last_error[0] = '\0';
    if (rgb == NULL || width <= 0 || height <= 0 || width > CVB_IMAGE_MAX_SIDE ||
        height > CVB_IMAGE_MAX_SIDE || stride < 3 * width) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: cannot write a %dx%d picture (stride %d)", path,
                         width, height, stride);
        goto out;
    }
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (codec == NULL) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "%s: this FFmpeg has no PNG encoder", path);
        goto out;
    }
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    if (enc == NULL || frame == NULL || pkt == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory setting up the PNG encoder", path);
        goto out;
    }
    enc->width = width;
    enc->height = height;
    enc->pix_fmt = AV_PIX_FMT_RGB24;
    enc->time_base = (AVRational){1, 1};
    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: cannot open the PNG encoder: %s%s", path,
                         av_errstr(ret, ebuf, sizeof ebuf), av_detail());
        goto out;
    }
    /* The encoder only reads the picture; it is not copied. */
    frame->format = AV_PIX_FMT_RGB24;
    frame->width = width;
    frame->height = height;
    frame->data[0] = (uint8_t *)rgb;
    frame->linesize[0] = stride;
    ret = avcodec_send_frame(enc, frame);
    if (ret >= 0) ret = avcodec_send_frame(enc, NULL);
    if (ret >= 0) ret = avcodec_receive_packet(enc, pkt);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: PNG encoding failed: %s%s", path,
                         av_errstr(ret, ebuf, sizeof ebuf), av_detail());
        goto out;
    }
    f = fopen(path, "wb");
    if (f == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    if (fwrite(pkt->data, 1, (size_t)pkt->size, f) != (size_t)pkt->size) {
        rc = cvb_err_set(err, CVB_EIO, "%s: write failed: %s", path, strerror(errno));
        goto out;
    }
    ret = fclose(f);
    f = NULL;
    if (ret != 0) rc = cvb_err_set(err, CVB_EIO, "%s: write failed: %s", path, strerror(errno));
out:
    if (f != NULL) fclose(f);
    av_packet_free(&pkt);
    av_frame_free(&frame); /* data[0] was borrowed: no buffer refs to release */
    avcodec_free_context(&enc);
    return rc;
}

/* ==== annotation ============================================================== */

static void fill_rect(struct cvb_image *img, int x0, int y0, int x1, int y1, const uint8_t c[3]) {
    /* inclusive bounds, already clipped */
    for (int y = y0; y <= y1; y++) {
        uint8_t *p = img->rgb + (size_t)y * (size_t)img->stride + (size_t)x0 * 3;
        for (int x = x0; x <= x1; x++, p += 3) {
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
        }
    }
}

static int clampi(long v, int lo, int hi) {
    return v < lo ? lo : v > hi ? hi : (int)v;
}

void cvb_image_draw_box(struct cvb_image *img, float x1, float y1, float x2, float y2,
                        const uint8_t color[3], int thickness) {
    if (img == NULL || img->rgb == NULL || img->width <= 0 || img->height <= 0) return;
    if (!isfinite(x1) || !isfinite(y1) || !isfinite(x2) || !isfinite(y2)) return;
    if (thickness < 1) thickness = 1;
    if (x2 < 0 || y2 < 0 || x1 > img->width || y1 > img->height || x2 < x1 || y2 < y1) return;
    /* pixel columns [ix0, ix1] cover [x1, x2) */
    int ix0 = clampi(lrintf(x1), 0, img->width - 1);
    int iy0 = clampi(lrintf(y1), 0, img->height - 1);
    int ix1 = clampi(lrintf(x2) - 1, 0, img->width - 1);
    int iy1 = clampi(lrintf(y2) - 1, 0, img->height - 1);
    if (ix1 < ix0) ix1 = ix0;
    if (iy1 < iy0) iy1 = iy0;
    int t = thickness - 1;
    fill_rect(img, ix0, iy0, ix1, iy0 + t < iy1 ? iy0 + t : iy1, color); /* top */
    fill_rect(img, ix0, iy1 - t > iy0 ? iy1 - t : iy0, ix1, iy1, color); /* bottom */
    fill_rect(img, ix0, iy0, ix0 + t < ix1 ? ix0 + t : ix1, iy1, color); /* left */
    fill_rect(img, ix1 - t > ix0 ? ix1 - t : ix0, iy0, ix1, iy1, color); /* right */
}

void cvb_image_class_color(int class_id, uint8_t color[3]) {
    /* Hues spaced by the golden ratio: neighbouring ids get distant colours. */
    unsigned id = class_id < 0 ? 0u : (unsigned)class_id;
    double h = fmod((double)id * 0.6180339887498949 + 0.07, 1.0) * 6.0;
    double s = id % 2 ? 0.70 : 0.90, v = id % 3 == 2 ? 0.80 : 0.98;
    int sector = (int)h;
    double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    double r, g, b;
    switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    color[0] = (uint8_t)lrint(r * 255);
    color[1] = (uint8_t)lrint(g * 255);
    color[2] = (uint8_t)lrint(b * 255);
}

/* ==== letterbox =============================================================== */

int cvb_letterbox_geometry(int src_w, int src_h, int dst_w, int dst_h, struct cvb_letterbox *lb,
                           struct cvb_err *err) {
    memset(lb, 0, sizeof *lb);
    if (src_w < 1 || src_h < 1 || dst_w < 1 || dst_h < 1 || src_w > CVB_IMAGE_MAX_SIDE ||
        src_h > CVB_IMAGE_MAX_SIDE || dst_w > CVB_IMAGE_MAX_SIDE || dst_h > CVB_IMAGE_MAX_SIDE)
        return cvb_err_set(err, CVB_EINVAL, "letterbox %dx%d into %dx%d: sizes must be 1..%d",
                           src_w, src_h, dst_w, dst_h, CVB_IMAGE_MAX_SIDE);
    double rh = (double)dst_h / src_h, rw = (double)dst_w / src_w;
    double r = rh < rw ? rh : rw;
    /* Python's round(): half to even, which rint() does in the default mode. */
    int new_w = (int)rint(src_w * r), new_h = (int)rint(src_h * r);
    if (new_w < 1) new_w = 1;
    if (new_h < 1) new_h = 1;
    if (new_w > dst_w) new_w = dst_w;
    if (new_h > dst_h) new_h = dst_h;
    double dw = (dst_w - new_w) / 2.0, dh = (dst_h - new_h) / 2.0;
    lb->src_w = src_w;
    lb->src_h = src_h;
    lb->dst_w = dst_w;
    lb->dst_h = dst_h;
    lb->new_w = new_w;
    lb->new_h = new_h;
    lb->pad_left = (int)rint(dw - 0.1);
    lb->pad_top = (int)rint(dh - 0.1);
    lb->scale = r;
    return 0;
}

void cvb_letterbox_unmap(const struct cvb_letterbox *lb, float box[4]) {
    const float lim[4] = {(float)lb->src_w, (float)lb->src_h, (float)lb->src_w, (float)lb->src_h};
    const double pad[4] = {lb->pad_left, lb->pad_top, lb->pad_left, lb->pad_top};
    for (int i = 0; i < 4; i++) {
        float v = (float)((box[i] - pad[i]) / lb->scale);
        if (!(v > 0)) v = 0; /* also maps NaN to 0 */
        if (v > lim[i]) v = lim[i];
        box[i] = v;
    }
}

void cvb__letterbox_fill_pad(uint8_t *canvas, const struct cvb_letterbox *lb) {
    const size_t row = (size_t)lb->dst_w * 3;
    memset(canvas, CVB_LETTERBOX_PAD, row * (size_t)lb->pad_top);
    size_t below = (size_t)(lb->pad_top + lb->new_h);
    memset(canvas + row * below, CVB_LETTERBOX_PAD, row * ((size_t)lb->dst_h - below));
    size_t right = (size_t)(lb->dst_w - lb->pad_left - lb->new_w) * 3;
    if (lb->pad_left == 0 && right == 0) return;
    for (int y = lb->pad_top; y < lb->pad_top + lb->new_h; y++) {
        uint8_t *r = canvas + row * (size_t)y;
        memset(r, CVB_LETTERBOX_PAD, (size_t)lb->pad_left * 3);
        memset(r + (size_t)(lb->pad_left + lb->new_w) * 3, CVB_LETTERBOX_PAD, right);
    }
}

/* swscale's SIMD readers load up to 16 bytes past the end of a source row.
 * Inside the picture that lands in the next row; past the last row it would
 * leave the caller's buffer. So the last source row is fed from 'tail', a
 * copy with TAIL_PAD spare bytes, as a separate slice. */
#define TAIL_PAD 64

struct cvb_letterboxer {
    struct SwsContext *sws;
    uint8_t *tail; /* one padded source row */
    size_t tail_cap;
};

int cvb_letterboxer_new(struct cvb_letterboxer **out, struct cvb_err *err) {
    cvb__video_init();
    *out = calloc(1, sizeof **out);
    if (*out == NULL) return cvb_err_set(err, CVB_ENOMEM, "letterboxer: out of memory");
    return 0;
}

void cvb_letterboxer_free(struct cvb_letterboxer *lbr) {
    if (lbr == NULL) return;
    sws_freeContext(lbr->sws);
    free(lbr->tail);
    free(lbr);
}

int cvb_letterbox(struct cvb_letterboxer *lbr, const struct cvb_image *src, uint8_t *canvas,
                  int dst_w, int dst_h, struct cvb_letterbox *lb, struct cvb_err *err) {
    int rc = 0;
    struct cvb_letterboxer tmp = {NULL};
    if (lbr == NULL) lbr = &tmp;
    cvb__video_init();
    if (src == NULL || src->rgb == NULL || canvas == NULL || src->stride < 3 * src->width) {
        rc = cvb_err_set(err, CVB_EINVAL, "letterbox: no source picture or canvas");
        goto out;
    }
    rc = cvb_letterbox_geometry(src->width, src->height, dst_w, dst_h, lb, err);
    if (rc < 0) goto out;
    const size_t row = (size_t)dst_w * 3;
    /* Fill only the padding; the picture area is overwritten below. */
    cvb__letterbox_fill_pad(canvas, lb);
    uint8_t *dst0 = canvas + row * (size_t)lb->pad_top + (size_t)lb->pad_left * 3;
    if (lb->new_w == src->width && lb->new_h == src->height) {
        for (int y = 0; y < src->height; y++)
            memcpy(dst0 + row * (size_t)y, src->rgb + (size_t)y * (size_t)src->stride,
                   (size_t)src->width * 3);
        goto out;
    }
    lbr->sws = sws_getCachedContext(lbr->sws, src->width, src->height, AV_PIX_FMT_RGB24, lb->new_w,
                                    lb->new_h, AV_PIX_FMT_RGB24, SWS_BILINEAR | SWS_ACCURATE_RND,
                                    NULL, NULL, NULL);
    if (lbr->sws == NULL) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "letterbox: cannot create a %dx%d -> %dx%d scaler",
                         src->width, src->height, lb->new_w, lb->new_h);
        goto out;
    }
    const size_t src_row = (size_t)src->width * 3;
    if (lbr->tail_cap < src_row + TAIL_PAD) {
        free(lbr->tail);
        lbr->tail_cap = 0;
        lbr->tail = calloc(1, src_row + TAIL_PAD);
        if (lbr->tail == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "letterbox: out of memory");
            goto out;
        }
        lbr->tail_cap = src_row + TAIL_PAD;
    }
    const int last = src->height - 1;
    memcpy(lbr->tail, src->rgb + (size_t)last * (size_t)src->stride, src_row);
    const uint8_t *sp[4] = {src->rgb, NULL, NULL, NULL};
    int ss[4] = {src->stride, 0, 0, 0};
    uint8_t *dp[4] = {dst0, NULL, NULL, NULL};
    int ds[4] = {(int)row, 0, 0, 0};
    int rows = 0;
    if (last > 0) rows += sws_scale(lbr->sws, sp, ss, 0, last, dp, ds);
    sp[0] = lbr->tail;
    rows += sws_scale(lbr->sws, sp, ss, last, 1, dp, ds);
    if (rows != lb->new_h)
        rc = cvb_err_set(err, CVB_EINTERNAL, "letterbox: scaling %dx%d -> %dx%d failed", src->width,
                         src->height, lb->new_w, lb->new_h);
out:
    if (lbr == &tmp) {
        sws_freeContext(tmp.sws);
        free(tmp.tail);
    }
    return rc;
}

/* ==== tensor conversion ======================================================= */

void cvb_image_to_nchw_f32(const uint8_t *canvas, int w, int h, float *out) {
    const size_t plane = (size_t)w * (size_t)h;
    float *r = out, *g = out + plane, *b = out + 2 * plane;
    /* a true division, as Ultralytics' img / 255 (x * (1/255) differs in the last bit) */
    for (size_t i = 0; i < plane; i++) {
        r[i] = (float)canvas[3 * i] / 255.0f;
        g[i] = (float)canvas[3 * i + 1] / 255.0f;
        b[i] = (float)canvas[3 * i + 2] / 255.0f;
    }
}

void cvb_image_to_nchw_u8(const uint8_t *canvas, int w, int h, uint8_t *out) {
    const size_t plane = (size_t)w * (size_t)h;
    for (size_t i = 0; i < plane; i++) {
        out[i] = canvas[3 * i];
        out[plane + i] = canvas[3 * i + 1];
        out[2 * plane + i] = canvas[3 * i + 2];
    }
}
