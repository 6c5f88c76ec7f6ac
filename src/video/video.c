/* SPDX-License-Identifier: Apache-2.0 */
/* Video streams: demux (libavformat), decode (libavcodec), and letterbox each
 * frame (libswscale) into a caller-provided uint8 RGB canvas the size of the
 * model input. This is the first stage of a pipeline stream: the pipeline
 * owns a fixed pool of canvases and hands one to cvb_video_next() per frame.
 *
 * Design notes:
 *  1. cvb_video_open() decodes the first frame before it returns, so a file
 *     that holds no decodable video (empty, text, audio only, a broken
 *     header) is refused at open, and the info reports the real decoded
 *     size and pixel format rather than the container's claim.
 *  2. Per frame nothing is allocated here: one AVPacket, one AVFrame and one
 *     SwsContext are reused; the scaler converts the decoder's YUV straight
 *     into the caller's canvas (colour conversion and resize in one pass), so
 *     there is no intermediate RGB picture. The scaler and geometry are
 *     rebuilt only if the stream changes size or format mid-way.
 *  3. Decoding is a small state machine, so end of stream, draining and
 *     looping cannot spin:
 *
 *        READ --(demuxer EOF: send flush packet)--> DRAIN
 *        DRAIN --(decoder EOF)--> END
 *        END --(loop and the pass yielded frames: seek to start)--> READ
 *        END --(not looping)--> returns 1 forever
 *        any --(error)--> FAILED: returns the same error forever
 *
 *     Each READ step consumes one packet of a finite file, so every call
 *     ends. A looping pass that yields no frame is an error, not a restart.
 *  4. Errors name the file and the index of the frame being decoded, and
 *     quote FFmpeg's last error line; they are sticky.
 *  5. Decode and letterbox times are measured separately on CLOCK_MONOTONIC. */
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
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#define MAX_OUT_SIZE 4096

enum vstate { ST_READ, ST_DRAIN, ST_END, ST_FAILED };

struct cvb_video {
    char *path;
    struct cvb_video_opts opts;
    struct cvb_video_info info;

    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;     /* the decoder's output */
    AVFrame *still;     /* a still image's picture, kept to repeat it when looping */
    const AVFrame *cur; /* the picture the next letterbox reads: frame or still */
    int is_still;       /* read by an image demuxer: one picture, no seeking */
    int si;             /* video stream index */
    int64_t start_pts;  /* stream start, in stream time base (0 if unknown) */
    double time_base;   /* seconds per stream tick */

    enum vstate state;
    int have_frame; /* 'frame' holds a decoded frame not yet yielded (after open) */
    uint64_t pending_decode_ns;
    int64_t n_out;      /* frames yielded since open */
    int64_t pass_index; /* frames yielded in this pass */
    int pass;
    struct cvb_err failure; /* the sticky error, once FAILED */

    /* letterbox state, keyed on the source frame's size/format/colour */
    struct SwsContext *sws;
    int key_w, key_h, key_fmt, key_cs, key_range;
    struct cvb_letterbox lb;
    uint8_t *scratch; /* only for the unscaled-odd-width case, see letterbox_frame() */
    size_t scratch_cap;
};

/* ==== helpers ================================================================= */

static int is_full_range(const AVFrame *f) {
    switch (f->format) {
    case AV_PIX_FMT_YUVJ420P:
    case AV_PIX_FMT_YUVJ422P:
    case AV_PIX_FMT_YUVJ444P:
    case AV_PIX_FMT_YUVJ440P:
    case AV_PIX_FMT_YUVJ411P: return 1;
    default: return f->color_range == AVCOL_RANGE_JPEG;
    }
}

/* "mp4" rather than libavformat's "mov,mp4,m4a,3gp,3g2,mj2". */
static void container_name(const AVFormatContext *fmt, char *buf, size_t len) {
    const char *name = fmt->iformat->name;
    if (strncmp(name, "mov,", 4) == 0) {
        const AVDictionaryEntry *e = av_dict_get(fmt->metadata, "major_brand", NULL, 0);
        snprintf(buf, len, "%s", e != NULL && strncmp(e->value, "qt", 2) == 0 ? "mov" : "mp4");
        return;
    }
    size_t n = strcspn(name, ",");
    if (n >= len) n = len - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
}

/* An upper estimate of the frames a decoder of this codec keeps alive: its
 * reference buffer (the codec's maximum), the frame being output, and one
 * in flight per extra thread. */
static int decoder_frames(enum AVCodecID id, int threads) {
    int refs;
    switch (id) {
    case AV_CODEC_ID_H264:
    case AV_CODEC_ID_HEVC: refs = 16; break;
    case AV_CODEC_ID_VP9:
    case AV_CODEC_ID_AV1: refs = 8; break;
    case AV_CODEC_ID_MJPEG:
    case AV_CODEC_ID_PNG: refs = 0; break;
    default: refs = 3; break;
    }
    return refs + 2 + (threads - 1);
}

/* Record a sticky failure, copy it to 'err', return its code. */
static int fail(struct cvb_video *v, struct cvb_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(struct cvb_video *v, struct cvb_err *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    v->failure.code = code;
    vsnprintf(v->failure.msg, sizeof v->failure.msg, fmt, ap);
    va_end(ap);
    v->state = ST_FAILED;
    if (err != NULL) *err = v->failure;
    return code;
}

/* ==== decoding ================================================================ */

/* Seek back to the start of the file for the next pass. */
static int restart(struct cvb_video *v, struct cvb_err *err) {
    char ebuf[128];
    if (v->pass_index == 0)
        return fail(v, err, CVB_EFORMAT,
                    "%s: frame %lld: looping: pass %d of the file yielded no frame", v->path,
                    (long long)v->n_out, v->pass);
    int ret = av_seek_frame(v->fmt, v->si, v->start_pts, AVSEEK_FLAG_BACKWARD);
    if (ret < 0)
        ret = av_seek_frame(v->fmt, v->si, v->start_pts, AVSEEK_FLAG_BACKWARD | AVSEEK_FLAG_ANY);
    if (ret < 0)
        return fail(v, err, CVB_EUNSUPPORTED,
                    "%s: frame %lld: looping: cannot seek back to the start: %s%s", v->path,
                    (long long)v->n_out, cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
    avcodec_flush_buffers(v->dec);
    v->state = ST_READ;
    v->pass++;
    v->pass_index = 0;
    return 0;
}

/* Said of a decoding error once the demuxer has hit the end of the file:
 * the likeliest cause is a file cut short (a copy still in progress, say). */
static const char *truncated_note(const struct cvb_video *v) {
    return avio_feof(v->fmt->pb) ? " (the file ends early: truncated?)" : "";
}

/* Decode the next frame into v->frame. Returns 0 (frame), 1 (end of
 * stream, not looping) or a negative status (sticky). */
static int decode_frame(struct cvb_video *v, struct cvb_err *err) {
    char ebuf[128];
    int ret;
    const long long idx = (long long)v->n_out;
    for (;;) {
        if (v->state == ST_FAILED) {
            if (err != NULL) *err = v->failure;
            return v->failure.code;
        }
        if (v->state == ST_END) {
            if (!v->opts.loop) return 1;
            if (v->is_still && v->still->buf[0] != NULL) {
                /* Image demuxers cannot seek back: repeat the kept picture. */
                v->pass++;
                v->pass_index = 0;
                v->cur = v->still;
                return 0;
            }
            ret = restart(v, err);
            if (ret < 0) return ret;
            continue;
        }
        ret = avcodec_receive_frame(v->dec, v->frame);
        if (ret == 0) {
            v->cur = v->frame;
            if (v->is_still && v->opts.loop) {
                av_frame_unref(v->still);
                av_frame_move_ref(v->still, v->frame);
                v->cur = v->still;
            }
            return 0;
        }
        if (ret == AVERROR_EOF) {
            v->state = ST_END;
            continue;
        }
        if (ret != AVERROR(EAGAIN))
            return fail(v, err, ret == AVERROR(ENOMEM) ? CVB_ENOMEM : CVB_EFORMAT,
                        "%s: frame %lld: decoding failed%s: %s%s", v->path, idx, truncated_note(v),
                        cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        if (v->state == ST_DRAIN) /* EAGAIN while draining: cannot happen; don't spin */
            return fail(v, err, CVB_EINTERNAL, "%s: frame %lld: decoder stalled while draining",
                        v->path, idx);
        /* READ: feed one packet of our stream. */
        ret = av_read_frame(v->fmt, v->pkt);
        if (ret == AVERROR_EOF || (ret < 0 && avio_feof(v->fmt->pb))) {
            /* End of file, or a read error at a truncated end: flush the decoder. */
            ret = avcodec_send_packet(v->dec, NULL);
            if (ret < 0 && ret != AVERROR_EOF)
                return fail(v, err, CVB_EFORMAT, "%s: frame %lld: decoding failed: %s%s", v->path,
                            idx, cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
            v->state = ST_DRAIN;
            continue;
        }
        if (ret < 0)
            return fail(v, err, ret == AVERROR(ENOMEM) ? CVB_ENOMEM : CVB_EFORMAT,
                        "%s: frame %lld: reading failed: %s%s", v->path, idx,
                        cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        if (v->pkt->stream_index != v->si) {
            av_packet_unref(v->pkt);
            continue;
        }
        ret = avcodec_send_packet(v->dec, v->pkt);
        av_packet_unref(v->pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN))
            return fail(v, err, ret == AVERROR(ENOMEM) ? CVB_ENOMEM : CVB_EFORMAT,
                        "%s: frame %lld: decoding failed%s: %s%s", v->path, idx, truncated_note(v),
                        cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
    }
}

/* ==== letterbox =============================================================== */

/* (Re)build the scaler and geometry for the frame's size, format and colour. */
static int setup_scaler(struct cvb_video *v, const AVFrame *f, struct cvb_err *err) {
    const int S = v->opts.out_size;
    const int range = is_full_range(f);
    const int cs = f->colorspace;
    if (v->sws != NULL && f->width == v->key_w && f->height == v->key_h &&
        f->format == v->key_fmt && cs == v->key_cs && range == v->key_range)
        return 0;
    const long long idx = (long long)v->n_out;
    if ((int64_t)f->width * f->height > v->opts.max_pixels)
        return fail(v, err, CVB_ERANGE,
                    "%s: frame %lld: picture is %dx%d, more than the %lld-pixel limit", v->path,
                    idx, f->width, f->height, (long long)v->opts.max_pixels);
    struct cvb_err gerr = {0};
    if (cvb_letterbox_geometry(f->width, f->height, S, S, &v->lb, &gerr) < 0)
        return fail(v, err, CVB_ERANGE, "%s: frame %lld: %s", v->path, idx, gerr.msg);
    const char *fmt_name = av_get_pix_fmt_name((enum AVPixelFormat)f->format);
    /* Bilinear, like the cv2.INTER_LINEAR resize in Ultralytics' LetterBox. */
    v->sws = sws_getCachedContext(v->sws, f->width, f->height, (enum AVPixelFormat)f->format,
                                  v->lb.new_w, v->lb.new_h, AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL,
                                  NULL, NULL);
    if (v->sws == NULL)
        return fail(v, err, CVB_EUNSUPPORTED,
                    "%s: frame %lld: cannot convert %dx%d %s pictures to RGB", v->path, idx,
                    f->width, f->height, fmt_name != NULL ? fmt_name : "(unknown format)");
    /* Honour the stream's YUV matrix and range (BT.601 when unspecified). */
    const int *src_coef =
        sws_getCoefficients(cs >= 0 && cs <= AVCOL_SPC_BT2020_CL ? cs : SWS_CS_DEFAULT);
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get((enum AVPixelFormat)f->format);
    if (d != NULL && !(d->flags & AV_PIX_FMT_FLAG_RGB) && d->nb_components >= 3)
        sws_setColorspaceDetails(v->sws, src_coef, range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                                 1 << 16, 1 << 16);
    /* Unscaled YUV->RGB conversion goes through swscale's SIMD converter,
     * which writes whole groups of 8 pixels: with an odd-sized picture that
     * can spill past the picture's last row, beyond the caller's canvas.
     * In that case convert into our own slack-padded buffer and copy. */
    size_t need = 0;
    if (v->lb.new_w == f->width && v->lb.new_h == f->height && v->lb.new_w % 8 != 0)
        need = (size_t)v->lb.new_w * 3 * (size_t)v->lb.new_h + 64;
    if (need > v->scratch_cap) {
        free(v->scratch);
        v->scratch_cap = 0;
        v->scratch = malloc(need);
        if (v->scratch == NULL)
            return fail(v, err, CVB_ENOMEM, "%s: frame %lld: out of memory", v->path, idx);
        v->scratch_cap = need;
    }
    v->key_w = f->width;
    v->key_h = f->height;
    v->key_fmt = f->format;
    v->key_cs = cs;
    v->key_range = range;
    return 0;
}

static int letterbox_frame(struct cvb_video *v, uint8_t *dst, struct cvb_err *err) {
    const AVFrame *f = v->cur;
    int rc = setup_scaler(v, f, err);
    if (rc < 0) return rc;
    const struct cvb_letterbox *lb = &v->lb;
    const size_t row = (size_t)lb->dst_w * 3;
    cvb__letterbox_fill_pad(dst, lb);
    uint8_t *dst0 = dst + row * (size_t)lb->pad_top + (size_t)lb->pad_left * 3;
    const int unscaled_odd = lb->new_w == f->width && lb->new_h == f->height && lb->new_w % 8 != 0;
    uint8_t *dp[4] = {unscaled_odd ? v->scratch : dst0, NULL, NULL, NULL};
    int ds[4] = {unscaled_odd ? lb->new_w * 3 : (int)row, 0, 0, 0};
    int rows =
        sws_scale(v->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dp, ds);
    if (rows != lb->new_h)
        return fail(v, err, CVB_EINTERNAL, "%s: frame %lld: scaling %dx%d to %dx%d failed", v->path,
                    (long long)v->n_out, f->width, f->height, lb->new_w, lb->new_h);
    if (unscaled_odd)
        for (int y = 0; y < lb->new_h; y++)
            memcpy(dst0 + row * (size_t)y, v->scratch + (size_t)y * (size_t)ds[0], (size_t)ds[0]);
    return 0;
}

/* ==== public API ============================================================== */

int cvb_video_next(struct cvb_video *v, uint8_t *dst, struct cvb_frame_meta *meta,
                   struct cvb_err *err) {
    int rc;
    uint64_t t0 = cvb_now_ns(), t1, t2;
    uint64_t decode_ns;
    if (v == NULL || dst == NULL)
        return cvb_err_set(err, CVB_EINVAL, "video: next frame: no stream or no buffer");
    cvb__av_error_reset();
    if (v->have_frame) {
        v->have_frame = 0;
        decode_ns = v->pending_decode_ns;
        t1 = t0;
    } else {
        rc = decode_frame(v, err);
        if (rc != 0) return rc;
        t1 = cvb_now_ns();
        decode_ns = t1 - t0;
    }
    rc = letterbox_frame(v, dst, err);
    t2 = cvb_now_ns();
    if (rc == 0 && meta != NULL) {
        meta->lb = v->lb;
        meta->index = v->n_out;
        meta->pass_index = v->pass_index;
        meta->pass = v->pass;
        int64_t ts = v->cur->best_effort_timestamp;
        meta->pts_s = ts == AV_NOPTS_VALUE ? NAN : (double)(ts - v->start_pts) * v->time_base;
        meta->decode_ns = decode_ns;
        meta->letterbox_ns = t2 - t1;
    }
    av_frame_unref(v->frame); /* the kept still, if any, stays */
    if (rc < 0) return rc;
    v->n_out++;
    v->pass_index++;
    return 0;
}

const struct cvb_video_info *cvb_video_info(const struct cvb_video *v) {
    return &v->info;
}

void cvb_video_close(struct cvb_video *v) {
    if (v == NULL) return;
    sws_freeContext(v->sws);
    av_frame_free(&v->frame);
    av_frame_free(&v->still);
    av_packet_free(&v->pkt);
    avcodec_free_context(&v->dec);
    avformat_close_input(&v->fmt);
    free(v->scratch);
    free(v->path);
    free(v);
}

static char version_str[128];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void version_init(void) {
    unsigned f = avformat_version(), c = avcodec_version(), w = swscale_version();
    snprintf(version_str, sizeof version_str,
             "FFmpeg libavformat %u.%u.%u, libavcodec %u.%u.%u, libswscale %u.%u.%u",
             AV_VERSION_MAJOR(f), AV_VERSION_MINOR(f), AV_VERSION_MICRO(f), AV_VERSION_MAJOR(c),
             AV_VERSION_MINOR(c), AV_VERSION_MICRO(c), AV_VERSION_MAJOR(w), AV_VERSION_MINOR(w),
             AV_VERSION_MICRO(w));
}

const char *cvb_video_version(void) {
    pthread_once(&version_once, version_init);
    return version_str;
}

/* Demuxers that probe files which are not video: a text file reads as 'tty'
 * (ANSI art); playlists and concat scripts would open other files. */
static int refused_demuxer(const char *name) {
    static const char *const refused[] = {"tty", "concat", "hls", "dash", "ffmetadata"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(refused); i++)
        if (strcmp(name, refused[i]) == 0) return 1;
    return 0;
}

int cvb_video_open(const char *path, const struct cvb_video_opts *o, struct cvb_video **out,
                   struct cvb_err *err) {
    int rc = 0, ret;
    struct cvb_video *v = NULL;
    AVDictionary *dopts = NULL;
    char ebuf[128];
    struct stat st;

    *out = NULL;
    cvb__video_init();
    cvb__av_error_reset();
    if (path == NULL || o == NULL) {
        rc = cvb_err_set(err, CVB_EINVAL, "video: no path or options");
        goto out;
    }
    if (o->out_size < 1 || o->out_size > MAX_OUT_SIZE) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: output size %d is not in 1..%d", path, o->out_size,
                         MAX_OUT_SIZE);
        goto out;
    }
    if (o->threads < 0 || o->threads > CVB_VIDEO_MAX_THREADS) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: decoder threads %d is not in 0..%d", path,
                         o->threads, CVB_VIDEO_MAX_THREADS);
        goto out;
    }
    if (o->max_pixels < 0 || o->max_pixels > (int64_t)CVB_IMAGE_MAX_SIDE * CVB_IMAGE_MAX_SIDE) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: max_pixels %lld is not in 0..%lld", path,
                         (long long)o->max_pixels,
                         (long long)CVB_IMAGE_MAX_SIDE * CVB_IMAGE_MAX_SIDE);
        goto out;
    }
    if (stat(path, &st) != 0) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot open video: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cvb_err_set(err, CVB_EIO, "%s: not a regular file", path);
        goto out;
    }
    if (st.st_size == 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a video: the file is empty", path);
        goto out;
    }

    v = calloc(1, sizeof *v);
    if (v == NULL || (v->path = strdup(path)) == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    v->opts = *o;
    if (v->opts.threads == 0) v->opts.threads = 1;
    if (v->opts.max_pixels == 0) v->opts.max_pixels = CVB_VIDEO_DEFAULT_MAX_PIXELS;

    /* Local files only; a name is a name, never an image sequence pattern. */
    av_dict_set(&dopts, "protocol_whitelist", "file", 0);
    av_dict_set(&dopts, "pattern_type", "none", 0);
    ret = avformat_open_input(&v->fmt, path, NULL, &dopts);
    if (ret < 0) {
        if (ret == AVERROR_INVALIDDATA)
            rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a video: unrecognised file format%s", path,
                             cvb__av_detail());
        else if (ret == AVERROR_EOF)
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "%s: truncated or corrupt video: the file ends "
                             "inside its header%s",
                             path, cvb__av_detail());
        else
            rc = cvb_err_set(err, CVB_EIO, "%s: cannot open video: %s%s", path,
                             cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }
    if (refused_demuxer(v->fmt->iformat->name)) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a video (FFmpeg reads it as '%s')", path,
                         v->fmt->iformat->name);
        goto out;
    }
    ret = avformat_find_stream_info(v->fmt, NULL);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EFORMAT,
                         "%s: corrupt or truncated video: cannot read stream "
                         "information: %s%s",
                         path, cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }
    v->si = -1;
    int n_audio = 0;
    for (unsigned i = 0; i < v->fmt->nb_streams; i++) {
        const AVStream *s = v->fmt->streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) n_audio++;
        if (v->si < 0 && s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
            v->si = (int)i;
    }
    if (v->si < 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a video: no video stream%s", path,
                         n_audio > 0 ? " (audio only)" : "");
        goto out;
    }
    /* Other streams' packets are dropped by the demuxer, not read and skipped. */
    for (unsigned i = 0; i < v->fmt->nb_streams; i++)
        if ((int)i != v->si) v->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *vs = v->fmt->streams[v->si];
    const AVCodecParameters *par = vs->codecpar;
    if ((int64_t)par->width * par->height > v->opts.max_pixels || par->width > CVB_IMAGE_MAX_SIDE ||
        par->height > CVB_IMAGE_MAX_SIDE) {
        rc = cvb_err_set(err, CVB_ERANGE,
                         "%s: video is %dx%d, more than the limit of %lld pixels (each side at "
                         "most %d); raise max_pixels to decode it",
                         path, par->width, par->height, (long long)v->opts.max_pixels,
                         CVB_IMAGE_MAX_SIDE);
        goto out;
    }
    const AVCodec *codec = avcodec_find_decoder(par->codec_id);
    if (codec == NULL) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "%s: unsupported video codec '%s' (no decoder in "
                         "this FFmpeg)",
                         path, avcodec_get_name(par->codec_id));
        goto out;
    }
    if (par->codec_id == AV_CODEC_ID_ANSI || par->codec_id == AV_CODEC_ID_TEXT) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: not a video (text)", path);
        goto out;
    }
    v->dec = avcodec_alloc_context3(codec);
    v->pkt = av_packet_alloc();
    v->frame = av_frame_alloc();
    v->still = av_frame_alloc();
    if (v->dec == NULL || v->pkt == NULL || v->frame == NULL || v->still == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory setting up the decoder", path);
        goto out;
    }
    ret = avcodec_parameters_to_context(v->dec, par);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: decoder setup: %s", path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf));
        goto out;
    }
    v->dec->thread_count = v->opts.threads;
    v->dec->thread_type = v->opts.threads > 1 ? FF_THREAD_FRAME | FF_THREAD_SLICE : 0;
    v->dec->max_pixels = v->opts.max_pixels;
    v->dec->pkt_timebase = vs->time_base;
    ret = avcodec_open2(v->dec, codec, NULL);
    if (ret < 0) {
        rc = cvb_err_set(err, ret == AVERROR_PATCHWELCOME ? CVB_EUNSUPPORTED : CVB_EFORMAT,
                         "%s: cannot open the %s decoder: %s%s", path, codec->name,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }
    v->is_still = strcmp(v->fmt->iformat->name, "image2") == 0 ||
                  (strlen(v->fmt->iformat->name) > 5 &&
                   strcmp(v->fmt->iformat->name + strlen(v->fmt->iformat->name) - 5, "_pipe") == 0);
    v->time_base = av_q2d(vs->time_base);
    v->start_pts = vs->start_time != AV_NOPTS_VALUE ? vs->start_time : 0;

    /* Decode the first frame now: a file without one is refused here. */
    uint64_t t0 = cvb_now_ns();
    ret = decode_frame(v, err);
    if (ret == 1) {
        rc = cvb_err_set(err, CVB_EFORMAT, "%s: no decodable video frame in the file%s", path,
                         cvb__av_detail());
        goto out;
    }
    if (ret < 0) {
        rc = ret;
        goto out;
    }
    v->pending_decode_ns = cvb_now_ns() - t0;
    v->have_frame = 1;
    if (setup_scaler(v, v->cur, err) < 0) {
        rc = v->failure.code;
        goto out;
    }

    struct cvb_video_info *in = &v->info;
    in->width = v->cur->width;
    in->height = v->cur->height;
    AVRational fr = vs->avg_frame_rate;
    if (fr.num <= 0 || fr.den <= 0) fr = av_guess_frame_rate(v->fmt, vs, NULL);
    in->fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
    if (vs->duration != AV_NOPTS_VALUE && vs->duration > 0)
        in->duration_s = (double)vs->duration * v->time_base;
    else if (v->fmt->duration != AV_NOPTS_VALUE && v->fmt->duration > 0)
        in->duration_s = (double)v->fmt->duration / AV_TIME_BASE;
    if (vs->nb_frames > 0)
        in->n_frames = vs->nb_frames;
    else if (in->duration_s > 0 && in->fps > 0)
        in->n_frames = (int64_t)llround(in->duration_s * in->fps);
    else if (v->is_still)
        in->n_frames = 1;
    in->bit_rate = par->bit_rate > 0 ? par->bit_rate : v->fmt->bit_rate > 0 ? v->fmt->bit_rate : 0;
    snprintf(in->codec, sizeof in->codec, "%s", avcodec_get_name(par->codec_id));
    container_name(v->fmt, in->container, sizeof in->container);
    const char *pf = av_get_pix_fmt_name((enum AVPixelFormat)v->cur->format);
    snprintf(in->pix_fmt, sizeof in->pix_fmt, "%s", pf != NULL ? pf : "unknown");
    int fb =
        av_image_get_buffer_size((enum AVPixelFormat)v->cur->format, in->width, in->height, 64);
    if (fb < 0) fb = in->width * in->height * 4;
    in->decoder_bytes = (int64_t)fb * decoder_frames(par->codec_id, v->opts.threads);

    *out = v;
    v = NULL;
out:
    av_dict_free(&dopts);
    cvb_video_close(v);
    return rc;
}
