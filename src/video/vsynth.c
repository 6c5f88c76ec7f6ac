/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic test clips: `cvbench video synth` and the default job's clip.
 *
 * Each frame is drawn in RGB24 (a scene, not a flat frame, so that decoding
 * it costs what decoding real footage costs), converted to yuv420p with
 * libswscale, encoded with libavcodec (H.264 via libx264 when this FFmpeg has
 * it, else FFmpeg's MPEG-4 part 2 encoder) and muxed into an MP4 with
 * libavformat, the moov atom moved to the front so a truncated copy still
 * opens.
 *
 * The scene: a background of two colours blended along slowly drifting
 * waves, with a scrolling grain texture (like a panning camera), and 6 to 10
 * objects (rectangles and ellipses) with colour gradients and stripe, checker
 * or grain textures, each moving at its own velocity and bouncing off the
 * edges; later objects pass in front of earlier ones. Everything is a pure
 * function of (options, seed): the drawing uses only integer arithmetic and
 * per-row/per-column sin() tables, and the PRNG is splitmix64. */
#include "cvb/video.h"
#include "video/video_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#define MAX_SIDE    4096
#define MAX_OBJECTS 10
#define TILE        256 /* grain texture tile side (power of two) */

/* ==== scene ===================================================================== */

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double urand(uint64_t *s, double lo, double hi) {
    return lo + (hi - lo) * (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

enum shape { SHAPE_RECT, SHAPE_ELLIPSE };
enum texture { TEX_STRIPES, TEX_CHECKER, TEX_GRAIN };

struct object {
    enum shape shape;
    enum texture tex;
    int w, h;         /* size in pixels */
    double x, y;      /* top-left, pixels */
    double vx, vy;    /* pixels per frame */
    int c0[3], c1[3]; /* gradient end colours, left to right */
    int period;       /* texture period, pixels */
};

struct scene {
    int W, H;
    int n_obj;
    struct object obj[MAX_OBJECTS];
    int bg0[3], bg1[3];        /* background colours */
    double fx, fy, wt;         /* background wave frequencies (cycles per picture) and speed */
    int8_t grain[TILE * TILE]; /* smooth value noise, -24..24 */
    /* per-frame tables */
    int16_t *col_mix; /* [W] 0..256 */
    int16_t *row_mix; /* [H] 0..256 */
    uint8_t *rgb;     /* W*H*3 */
    int16_t *grad;    /* per-object gradient, [MAX_SIDE * 3] scratch */
};

static void scene_cleanup(struct scene *sc) {
    free(sc->col_mix);
    free(sc->row_mix);
    free(sc->rgb);
    free(sc->grad);
}

static int scene_init(struct scene *sc, int W, int H, uint64_t seed) {
    memset(sc, 0, sizeof *sc);
    uint64_t s = seed ^ 0x63766273796E7468ull; /* "cvbsynth" */
    sc->W = W;
    sc->H = H;
    sc->col_mix = malloc(sizeof(int16_t) * (size_t)W);
    sc->row_mix = malloc(sizeof(int16_t) * (size_t)H);
    sc->rgb = malloc((size_t)W * (size_t)H * 3);
    sc->grad = malloc(sizeof(int16_t) * MAX_SIDE * 3);
    if (sc->col_mix == NULL || sc->row_mix == NULL || sc->rgb == NULL || sc->grad == NULL)
        return CVB_ENOMEM;

    for (int c = 0; c < 3; c++) {
        sc->bg0[c] = (int)urand(&s, 20, 120);
        sc->bg1[c] = (int)urand(&s, 100, 230);
    }
    sc->fx = urand(&s, 0.5, 2.0);
    sc->fy = urand(&s, 0.5, 2.0);
    sc->wt = urand(&s, 0.01, 0.04);

    /* Grain: 16x16 lattice of random values, bilinearly interpolated to the
     * tile, plus a little per-pixel noise; wraps seamlessly. */
    int lat[16][16];
    for (int j = 0; j < 16; j++)
        for (int i = 0; i < 16; i++)
            lat[j][i] = (int)urand(&s, -18, 18);
    for (int y = 0; y < TILE; y++)
        for (int x = 0; x < TILE; x++) {
            int gx = x / 16, gy = y / 16, fx = x % 16, fy = y % 16;
            int a = lat[gy][gx], b = lat[gy][(gx + 1) % 16];
            int c = lat[(gy + 1) % 16][gx], d = lat[(gy + 1) % 16][(gx + 1) % 16];
            int top = a * (16 - fx) + b * fx, bot = c * (16 - fx) + d * fx;
            int v = (top * (16 - fy) + bot * fy) / 256 + (int)(splitmix64(&s) % 13) - 6;
            sc->grain[y * TILE + x] = (int8_t)(v < -24 ? -24 : v > 24 ? 24 : v);
        }

    sc->n_obj = 6 + (int)(splitmix64(&s) % 5);
    for (int k = 0; k < sc->n_obj; k++) {
        struct object *o = &sc->obj[k];
        o->shape = splitmix64(&s) % 2 ? SHAPE_ELLIPSE : SHAPE_RECT;
        o->tex = (enum texture)(splitmix64(&s) % 3);
        o->w = (int)urand(&s, W / 12.0, W / 4.0) + 2;
        o->h = (int)urand(&s, H / 10.0, H / 3.0) + 2;
        o->x = urand(&s, 0, W - o->w);
        o->y = urand(&s, 0, H - o->h);
        double speed = urand(&s, 0.002, 0.012) * W, ang = urand(&s, 0, 2 * M_PI);
        o->vx = speed * cos(ang);
        o->vy = speed * sin(ang);
        for (int c = 0; c < 3; c++) {
            o->c0[c] = (int)urand(&s, 0, 256);
            o->c1[c] = (int)urand(&s, 0, 256);
        }
        o->period = 4 + (int)(splitmix64(&s) % 20);
    }
    return 0;
}

static inline uint8_t clamp_u8(int v) {
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Draw frame 't' into sc->rgb, then advance the objects by one frame. */
static void scene_draw(struct scene *sc, int t) {
    const int W = sc->W, H = sc->H;
    const double ph = t * sc->wt * 2 * M_PI;
    for (int x = 0; x < W; x++)
        sc->col_mix[x] = (int16_t)lrint(64 + 64 * sin(2 * M_PI * sc->fx * x / W + ph));
    for (int y = 0; y < H; y++)
        sc->row_mix[y] = (int16_t)lrint(64 + 64 * sin(2 * M_PI * sc->fy * y / H - 0.7 * ph));
    const int sx = t, sy = t / 3; /* grain scroll: a slow pan */
    for (int y = 0; y < H; y++) {
        uint8_t *p = sc->rgb + (size_t)y * (size_t)W * 3;
        const int8_t *g = sc->grain + ((y + sy) & (TILE - 1)) * TILE;
        const int rm = sc->row_mix[y];
        for (int x = 0; x < W; x++, p += 3) {
            int m = sc->col_mix[x] + rm; /* 0..256 */
            int n = g[(x + sx) & (TILE - 1)];
            for (int c = 0; c < 3; c++)
                p[c] = clamp_u8((sc->bg0[c] * (256 - m) + sc->bg1[c] * m) / 256 + n);
        }
    }
    for (int k = 0; k < sc->n_obj; k++) {
        struct object *o = &sc->obj[k];
        const int x0 = (int)lrint(o->x), y0 = (int)lrint(o->y);
        for (int i = 0; i < o->w; i++)
            for (int c = 0; c < 3; c++)
                sc->grad[i * 3 + c] = (int16_t)((o->c0[c] * (o->w - i) + o->c1[c] * i) / o->w);
        const double rx = o->w / 2.0, ry = o->h / 2.0;
        for (int j = 0; j < o->h; j++) {
            const int y = y0 + j;
            if (y < 0 || y >= H) continue;
            int i0 = 0, i1 = o->w; /* columns [i0, i1) of the object on this row */
            if (o->shape == SHAPE_ELLIPSE) {
                double dy = (j + 0.5 - ry) / ry, half = rx * sqrt(fmax(0.0, 1 - dy * dy));
                i0 = (int)lrint(rx - half);
                i1 = (int)lrint(rx + half);
            }
            /* Shading: darker towards the bottom, as if lit from above. */
            const int shade = 256 - 80 * j / o->h;
            uint8_t *row = sc->rgb + (size_t)y * (size_t)W * 3;
            const int8_t *g = sc->grain + (j & (TILE - 1)) * TILE;
            for (int i = i0; i < i1; i++) {
                const int x = x0 + i;
                if (x < 0 || x >= W) continue;
                int tx;
                switch (o->tex) {
                case TEX_STRIPES: tx = ((i + j) / o->period) & 1 ? 28 : -28; break;
                case TEX_CHECKER: tx = ((i / o->period) + (j / o->period)) & 1 ? 22 : -22; break;
                default: tx = 2 * g[i & (TILE - 1)]; break;
                }
                uint8_t *p = row + (size_t)x * 3;
                for (int c = 0; c < 3; c++)
                    p[c] = clamp_u8(sc->grad[i * 3 + c] * shade / 256 + tx);
            }
        }
        /* Move and bounce off the edges. */
        o->x += o->vx;
        o->y += o->vy;
        if (o->x < 0) o->x = -o->x, o->vx = -o->vx;
        if (o->y < 0) o->y = -o->y, o->vy = -o->vy;
        if (o->x > W - o->w) o->x = 2.0 * (W - o->w) - o->x, o->vx = -o->vx;
        if (o->y > H - o->h) o->y = 2.0 * (H - o->h) - o->y, o->vy = -o->vy;
    }
}

/* ==== encoding ================================================================== */

/* Send 'frame' (NULL to flush) and write every packet the encoder returns. */
static int encode_write(AVCodecContext *enc, AVFormatContext *oc, AVStream *st, AVFrame *frame,
                        AVPacket *pkt, const char *path, struct cvb_err *err) {
    char ebuf[128];
    int ret = avcodec_send_frame(enc, frame);
    if (ret < 0)
        return cvb_err_set(err, CVB_EINTERNAL, "%s: encoding failed: %s%s", path,
                           cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
    for (;;) {
        ret = avcodec_receive_packet(enc, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0)
            return cvb_err_set(err, CVB_EINTERNAL, "%s: encoding failed: %s%s", path,
                               cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
        pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(oc, pkt); /* takes the packet's reference */
        if (ret < 0)
            return cvb_err_set(err, CVB_EIO, "%s: writing failed: %s%s", path,
                               cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
    }
}

int cvb_video_synth(const struct cvb_vsynth_opts *o, const char *out_path, struct cvb_err *err) {
    int rc = 0, ret;
    struct scene sc = {0};
    int file_created = 0;
    AVFormatContext *oc = NULL;
    AVCodecContext *enc = NULL;
    AVFrame *frame = NULL;
    AVPacket *pkt = NULL;
    struct SwsContext *sws = NULL;
    AVDictionary *mux_opts = NULL;
    char ebuf[128];

    cvb__video_init();
    cvb__av_error_reset();
    if (o == NULL || out_path == NULL || out_path[0] == '\0') {
        rc = cvb_err_set(err, CVB_EINVAL, "video synth: no options or output path");
        goto out;
    }
    const int W = o->width ? o->width : 1280, H = o->height ? o->height : 720;
    const int fps = o->fps ? o->fps : 30;
    const double seconds = o->seconds != 0 ? o->seconds : 10;
    if (W < 16 || H < 16 || W > MAX_SIDE || H > MAX_SIDE || W % 2 || H % 2) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "%s: size %dx%d: width and height must be even and in "
                         "16..%d",
                         out_path, W, H, MAX_SIDE);
        goto out;
    }
    if (fps < 1 || fps > 240) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: fps %d is not in 1..240", out_path, fps);
        goto out;
    }
    if (!(seconds > 0 && seconds <= 3600)) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s: length %g s is not in (0, 3600]", out_path, seconds);
        goto out;
    }
    long n_frames = lrint(seconds * fps);
    if (n_frames < 1) n_frames = 1;

    const AVCodec *codec = NULL;
    if (o->codec == CVB_VSYNTH_CODEC_DEFAULT || o->codec == CVB_VSYNTH_CODEC_H264)
        codec = avcodec_find_encoder_by_name("libx264");
    if (codec == NULL && o->codec == CVB_VSYNTH_CODEC_H264) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "%s: this FFmpeg has no H.264 encoder (libx264); "
                         "use --codec mpeg4",
                         out_path);
        goto out;
    }
    if (codec == NULL) codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (codec == NULL) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "%s: this FFmpeg has neither libx264 nor an "
                         "MPEG-4 encoder",
                         out_path);
        goto out;
    }
    const int is_x264 = strcmp(codec->name, "libx264") == 0;

    if (scene_init(&sc, W, H, o->seed) < 0) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory for a %dx%d picture", out_path, W, H);
        goto out;
    }

    ret = avformat_alloc_output_context2(&oc, NULL, "mp4", out_path);
    if (ret < 0 || oc == NULL) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: cannot set up the MP4 muxer: %s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf));
        goto out;
    }
    /* No version strings or dates: the same options give the same bytes. */
    oc->flags |= AVFMT_FLAG_BITEXACT;
    enc = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    AVStream *st = avformat_new_stream(oc, NULL);
    if (enc == NULL || frame == NULL || pkt == NULL || st == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory setting up the encoder", out_path);
        goto out;
    }
    enc->width = W;
    enc->height = H;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, fps};
    enc->framerate = (AVRational){fps, 1};
    enc->gop_size = 2 * fps; /* a keyframe every 2 s, as IP cameras do */
    enc->thread_count = 1;   /* deterministic, and light on shared machines */
    enc->flags |= AV_CODEC_FLAG_BITEXACT;
    enc->color_range = AVCOL_RANGE_MPEG;
    enc->colorspace = AVCOL_SPC_SMPTE170M; /* BT.601, what sws_scale writes by default */
    enc->color_primaries = AVCOL_PRI_SMPTE170M;
    enc->color_trc = AVCOL_TRC_SMPTE170M;
    if (is_x264) {
        /* CABAC, B-frames: the decode cost of ordinary H.264 footage. */
        av_opt_set(enc->priv_data, "preset", "veryfast", 0);
        av_opt_set(enc->priv_data, "crf", "23", 0);
    } else {
        enc->flags |= AV_CODEC_FLAG_QSCALE;
        enc->global_quality = FF_QP2LAMBDA * 4;
        enc->max_b_frames = 2;
    }
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: cannot open the %s encoder: %s%s", out_path,
                         codec->name, cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }
    ret = avcodec_parameters_from_context(st->codecpar, enc);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EINTERNAL, "%s: encoder parameters: %s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf));
        goto out;
    }
    st->time_base = enc->time_base;
    st->avg_frame_rate = enc->framerate;
    char comment[96];
    snprintf(comment, sizeof comment, "cvbench synthetic clip, seed %llu",
             (unsigned long long)o->seed);
    av_dict_set(&oc->metadata, "comment", comment, 0);

    ret = avio_open(&oc->pb, out_path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot create: %s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf));
        goto out;
    }
    file_created = 1;
    av_dict_set(&mux_opts, "movflags", "+faststart", 0);
    ret = avformat_write_header(oc, &mux_opts);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot write the MP4 header: %s%s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }

    frame->format = AV_PIX_FMT_YUV420P;
    frame->width = W;
    frame->height = H;
    ret = av_frame_get_buffer(frame, 0);
    sws = sws_getContext(W, H, AV_PIX_FMT_RGB24, W, H, AV_PIX_FMT_YUV420P,
                         SWS_BILINEAR | SWS_ACCURATE_RND | SWS_BITEXACT, NULL, NULL, NULL);
    if (ret < 0 || sws == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory for the frame converter", out_path);
        goto out;
    }
    for (long t = 0; t < n_frames; t++) {
        scene_draw(&sc, (int)t);
        /* The encoder may still hold a reference to the last frame's buffer. */
        ret = av_frame_make_writable(frame);
        if (ret < 0) {
            rc = cvb_err_set(err, CVB_ENOMEM, "%s: out of memory at frame %ld", out_path, t);
            goto out;
        }
        const uint8_t *sp[1] = {sc.rgb};
        int ss[1] = {3 * W};
        sws_scale(sws, sp, ss, 0, H, frame->data, frame->linesize);
        frame->pts = t;
        rc = encode_write(enc, oc, st, frame, pkt, out_path, err);
        if (rc < 0) goto out;
    }
    rc = encode_write(enc, oc, st, NULL, pkt, out_path, err);
    if (rc < 0) goto out;
    ret = av_write_trailer(oc);
    if (ret < 0) {
        rc = cvb_err_set(err, CVB_EIO, "%s: cannot finish the MP4 file: %s%s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf), cvb__av_detail());
        goto out;
    }
    ret = avio_closep(&oc->pb);
    if (ret < 0)
        rc = cvb_err_set(err, CVB_EIO, "%s: write failed: %s", out_path,
                         cvb__av_errstr(ret, ebuf, sizeof ebuf));
out:
    /* A failed clip is removed whole; it never gets a trailer. */
    if (oc != NULL && oc->pb != NULL) avio_closep(&oc->pb);
    if (rc < 0 && file_created) unlink(out_path);
    sws_freeContext(sws);
    av_dict_free(&mux_opts);
    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);
    avformat_free_context(oc);
    scene_cleanup(&sc);
    return rc;
}
