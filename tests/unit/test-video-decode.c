/* SPDX-License-Identifier: Apache-2.0 */
/* cvb_video_open/next/close on synthetic clips: frame counts, letterbox
 * geometry and padding for 16:9 into 640 and 320, per-frame metadata and
 * timings, loop mode, a still image as a one-frame video, the pixel limit,
 * and bad inputs (missing, directory, empty, text, random bytes named .mp4,
 * audio only, truncated and corrupted MP4s) that must give errors naming the
 * file (and the frame, once decoding has started), never a crash or a hang.
 * Prints (does not assert) the decode and letterbox rates of a 1280x720
 * H.264 clip on one thread: the benchmark targets are >= 150 frames/s for
 * decode + letterbox and >= 400 frames/s for letterbox alone. */
#include "cvb/video.h"
#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DOG "/usr/share/darknet/data/dog.jpg"

static char tmpdir[] = "/tmp/cvb-test-video-decode-XXXXXX";
static char clip[256]; /* 640x360, 30 fps, 2 s: 60 frames */

static void tmp_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static int write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    size_t w = fwrite(data, 1, n, f);
    fclose(f);
    return w == n ? 0 : -1;
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len);
    if (p != NULL && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return p;
}

static int rows_are_pad(const uint8_t *c, int S, int y0, int y1) {
    for (size_t i = (size_t)y0 * S * 3; i < (size_t)y1 * S * 3; i++)
        if (c[i] != CVB_LETTERBOX_PAD) return 0;
    return 1;
}

/* Does every row in [y0, y1) hold something other than the pad? */
static int rows_all_picture(const uint8_t *c, int S, int y0, int y1) {
    for (int y = y0; y < y1; y++)
        if (rows_are_pad(c, S, y, y + 1)) return 0;
    return 1;
}

static void decode_to(int S, int pad_top, int new_h) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = S};
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), 0);
    if (v == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    const struct cvb_video_info *in = cvb_video_info(v);
    CHECK_EQ_INT(in->width, 640);
    CHECK_EQ_INT(in->height, 360);
    CHECK_EQ_INT(in->n_frames, 60);
    size_t bytes = (size_t)S * S * 3;
    uint8_t *buf = malloc(bytes);
    struct cvb_frame_meta m;
    int n = 0, rc, geom_ok = 1, pad_ok = 1, pic_ok = 1, times_ok = 1, order_ok = 1;
    double last_pts = -1;
    for (;;) {
        memset(buf, 0xAB, bytes); /* every byte must be overwritten */
        rc = cvb_video_next(v, buf, &m, &err);
        if (rc != 0) break;
        if (m.lb.new_w != S || m.lb.new_h != new_h || m.lb.pad_left != 0 ||
            m.lb.pad_top != pad_top || m.lb.src_w != 640 || m.lb.src_h != 360 || m.lb.dst_w != S ||
            m.lb.dst_h != S || fabs(m.lb.scale - S / 640.0) > 1e-12)
            geom_ok = 0;
        if (!rows_are_pad(buf, S, 0, pad_top) || !rows_are_pad(buf, S, pad_top + new_h, S))
            pad_ok = 0;
        if (!rows_all_picture(buf, S, pad_top, pad_top + new_h)) pic_ok = 0;
        if (m.decode_ns == 0 || m.letterbox_ns == 0) times_ok = 0;
        if (m.index != n || m.pass != 0 || m.pass_index != n || !(m.pts_s > last_pts) ||
            fabs(m.pts_s - n / 30.0) > 0.02)
            order_ok = 0;
        last_pts = m.pts_s;
        n++;
    }
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_INT(n, 60);
    CHECK(geom_ok);
    CHECK(pad_ok);
    CHECK(pic_ok);
    CHECK(times_ok);
    CHECK(order_ok);
    /* The end is sticky and leaves the buffer alone. */
    memset(buf, 7, bytes);
    CHECK_EQ_INT(cvb_video_next(v, buf, &m, &err), 1);
    CHECK_EQ_INT(buf[0], 7);
    /* A box in canvas pixels maps back to source pixels. */
    float box[4] = {0, (float)pad_top, (float)S, (float)(pad_top + new_h)};
    cvb_letterbox_unmap(&m.lb, box);
    CHECK_NEAR(box[0], 0, 1e-3);
    CHECK_NEAR(box[1], 0, 1e-3);
    CHECK_NEAR(box[2], 640, 1e-3);
    CHECK_NEAR(box[3], 360, 1e-3);
    free(buf);
    cvb_video_close(v);
}

static void test_decode_640(void) {
    decode_to(640, 140, 360);
}

static void test_decode_320(void) {
    decode_to(320, 70, 180);
}

static void test_threads(void) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 320, .threads = 3};
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), 0);
    if (v == NULL) return;
    static uint8_t buf[320 * 320 * 3];
    int n = 0;
    while (cvb_video_next(v, buf, NULL, &err) == 0)
        n++;
    CHECK_EQ_INT(n, 60);
    cvb_video_close(v);
}

static void test_loop(void) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 160, .loop = 1};
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), 0);
    if (v == NULL) return;
    static uint8_t buf[160 * 160 * 3], first[160 * 160 * 3];
    struct cvb_frame_meta m;
    int ok = 1;
    for (int i = 0; i < 150; i++) {
        if (cvb_video_next(v, buf, &m, &err) != 0) {
            fprintf(stderr, "  frame %d: %s\n", i, err.msg);
            ok = 0;
            break;
        }
        if (m.index != i || m.pass != i / 60 || m.pass_index != i % 60) ok = 0;
        if (i % 60 == 0 && fabs(m.pts_s) > 1e-9) ok = 0;
        if (i == 0) memcpy(first, buf, sizeof buf);
        if (i == 60 || i == 120)
            CHECK(memcmp(first, buf, sizeof buf) == 0); /* same picture again */
    }
    CHECK(ok);
    CHECK_EQ_INT(m.pass, 2);
    cvb_video_close(v);
}

/* A still image is a one-frame video (and repeats when looping). */
static void test_jpeg(void) {
    if (access(DOG, R_OK) != 0) {
        printf("  (skipped: %s missing)\n", DOG);
        return;
    }
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 320};
    CHECK_EQ_INT(cvb_video_open(DOG, &o, &v, &err), 0);
    if (v == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    const struct cvb_video_info *in = cvb_video_info(v);
    CHECK_EQ_INT(in->width, 768);
    CHECK_EQ_INT(in->height, 576);
    CHECK_EQ_INT(in->n_frames, 1);
    CHECK(strcmp(in->codec, "mjpeg") == 0);
    static uint8_t buf[320 * 320 * 3], again[320 * 320 * 3];
    struct cvb_frame_meta m;
    CHECK_EQ_INT(cvb_video_next(v, buf, &m, &err), 0);
    CHECK_EQ_INT(m.lb.new_h, 240);
    CHECK_EQ_INT(m.lb.pad_top, 40);
    CHECK_EQ_INT(cvb_video_next(v, buf, &m, &err), 1);
    cvb_video_close(v);

    o.loop = 1;
    CHECK_EQ_INT(cvb_video_open(DOG, &o, &v, &err), 0);
    if (v == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int rc = cvb_video_next(v, i == 0 ? buf : again, &m, &err);
        if (rc != 0) fprintf(stderr, "  loop %d: %s\n", i, err.msg);
        n += rc == 0;
    }
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(m.pass, 2);
    CHECK(memcmp(buf, again, sizeof buf) == 0);
    cvb_video_close(v);
}

static void test_max_pixels(void) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 320, .max_pixels = 320 * 240};
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), CVB_ERANGE);
    CHECK(v == NULL);
    CHECK(strstr(err.msg, clip) != NULL && strstr(err.msg, "640x360") != NULL);
    printf("  %s\n", err.msg);
}

static void test_version(void) {
    const char *v = cvb_video_version();
    printf("  %s\n", v);
    CHECK(strncmp(v, "FFmpeg libavformat ", 19) == 0);
    CHECK(strstr(v, "libavcodec ") != NULL && strstr(v, "libswscale ") != NULL);
}

static void test_bad_options(void) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 0};
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), CVB_EINVAL);
    o.out_size = 640;
    o.threads = -2;
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), CVB_EINVAL);
    o.threads = 1;
    o.max_pixels = -1;
    CHECK_EQ_INT(cvb_video_open(clip, &o, &v, &err), CVB_EINVAL);
    CHECK(v == NULL);
    cvb_video_close(NULL);
}

/* Open 'path' and expect a failure 'code' (0 = any negative) at open,
 * with a message naming the file. */
static void expect_open_error(const char *path, int code, const char *what) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = 320};
    int rc = cvb_video_open(path, &o, &v, &err);
    printf("  %-10s -> %s\n", what, err.msg);
    CHECK(rc < 0);
    if (code != 0) CHECK_EQ_INT(rc, code);
    CHECK(v == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    cvb_video_close(v);
}

static void test_bad_files(void) {
    char p[256];
    tmp_path(p, sizeof p, "missing.mp4");
    expect_open_error(p, CVB_EIO, "missing");
    expect_open_error(tmpdir, CVB_EIO, "directory");

    tmp_path(p, sizeof p, "empty.mp4");
    CHECK_EQ_INT(write_bytes(p, "", 0), 0);
    expect_open_error(p, CVB_EFORMAT, "empty");

    tmp_path(p, sizeof p, "notes.txt");
    const char *text = "These are not the frames you are looking for.\nLine two.\n";
    CHECK_EQ_INT(write_bytes(p, text, strlen(text)), 0);
    expect_open_error(p, CVB_EFORMAT, "text");

    tmp_path(p, sizeof p, "random.mp4");
    uint8_t junk[64 * 1024];
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        junk[i] = (uint8_t)(s >> 56);
    }
    CHECK_EQ_INT(write_bytes(p, junk, sizeof junk), 0);
    expect_open_error(p, 0, "random");

    /* A WAV file: audio only. */
    tmp_path(p, sizeof p, "tone.wav");
    static uint8_t wav[44 + 16000];
    const uint32_t data = 16000, rate = 8000;
    memcpy(wav, "RIFF", 4);
    uint32_t riff = 36 + data;
    memcpy(wav + 4, &riff, 4);
    memcpy(wav + 8, "WAVEfmt ", 8);
    const uint32_t fmt_len = 16, byte_rate = rate * 2;
    const uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
    memcpy(wav + 16, &fmt_len, 4);
    memcpy(wav + 20, &pcm, 2);
    memcpy(wav + 22, &ch, 2);
    memcpy(wav + 24, &rate, 4);
    memcpy(wav + 28, &byte_rate, 4);
    memcpy(wav + 32, &align, 2);
    memcpy(wav + 34, &bits, 2);
    memcpy(wav + 36, "data", 4);
    memcpy(wav + 40, &data, 4);
    for (uint32_t i = 0; i < data; i++)
        wav[44 + i] = (uint8_t)(i * 37);
    CHECK_EQ_INT(write_bytes(p, wav, sizeof wav), 0);
    expect_open_error(p, CVB_EFORMAT, "audio");
}

/* Decode 'path' to the end; returns frames decoded; *rc_out the final status. */
static int drain(const char *path, int *rc_out, struct cvb_err *err) {
    struct cvb_video *v = NULL;
    struct cvb_video_opts o = {.out_size = 160};
    *rc_out = cvb_video_open(path, &o, &v, err);
    if (*rc_out < 0) return 0;
    static uint8_t buf[160 * 160 * 3];
    int n = 0, rc;
    /* Bounded: a stream never yields more than twice its frames. */
    while ((rc = cvb_video_next(v, buf, NULL, err)) == 0 && n < 1000)
        n++;
    *rc_out = rc;
    cvb_video_close(v);
    return n;
}

static void test_truncated(void) {
    size_t n = 0;
    uint8_t *bytes = read_all(clip, &n);
    CHECK(bytes != NULL);
    if (bytes == NULL) return;
    char p[256];
    struct cvb_err err = {0};
    int rc;

    /* Cut in half: the moov atom is at the front, so it opens; the frames
     * before the cut decode, then the stream ends or fails, naming the frame. */
    tmp_path(p, sizeof p, "half.mp4");
    CHECK_EQ_INT(write_bytes(p, bytes, n / 2), 0);
    int frames = drain(p, &rc, &err);
    printf("  half:    %d frames, then %s\n", frames, rc == 1 ? "end of stream" : err.msg);
    CHECK(frames > 0 && frames < 60);
    CHECK(rc == 1 || (rc < 0 && strstr(err.msg, p) != NULL && strstr(err.msg, "frame") != NULL));

    /* Cut inside the header: refused at open. */
    tmp_path(p, sizeof p, "head.mp4");
    CHECK_EQ_INT(write_bytes(p, bytes, 600), 0);
    frames = drain(p, &rc, &err);
    printf("  head:    %s\n", err.msg);
    CHECK(rc < 0 && frames == 0);
    CHECK(strstr(err.msg, p) != NULL);

    /* Garbage over the middle of the media data: concealed or reported. */
    tmp_path(p, sizeof p, "corrupt.mp4");
    uint64_t s = 99;
    for (size_t i = n / 2; i < n / 2 + 4096 && i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        bytes[i] = (uint8_t)(s >> 56);
    }
    CHECK_EQ_INT(write_bytes(p, bytes, n), 0);
    frames = drain(p, &rc, &err);
    printf("  corrupt: %d frames, then %s\n", frames, rc == 1 ? "end of stream" : err.msg);
    CHECK(frames > 0 && frames <= 60);
    CHECK(rc == 1 || (rc < 0 && strstr(err.msg, "frame") != NULL));
    free(bytes);
}

/* Not a pass/fail check: the targets, measured and printed. */
static void test_throughput_720p(void) {
    char p[256];
    tmp_path(p, sizeof p, "hd.mp4");
    struct cvb_vsynth_opts so = {.width = 1280,
                                 .height = 720,
                                 .fps = 30,
                                 .seconds = 3,
                                 .seed = 5,
                                 .codec = CVB_VSYNTH_CODEC_H264};
    struct cvb_err err = {0};
    int rc = cvb_video_synth(&so, p, &err);
    if (rc == CVB_EUNSUPPORTED) {
        printf("  (no libx264: throughput not measured)\n");
        return;
    }
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) return;
    struct cvb_video *v = NULL;
    struct cvb_video_opts o = {.out_size = 640, .threads = 1, .loop = 1};
    CHECK_EQ_INT(cvb_video_open(p, &o, &v, &err), 0);
    if (v == NULL) return;
    uint8_t *buf = malloc(640 * 640 * 3);
    struct cvb_frame_meta m;
    uint64_t dec = 0, lb = 0;
    const int N = 180; /* two passes of the 90-frame clip */
    int n = 0;
    /* Frame 0 was decoded at open: time frames 1..N-1. CPU time of this
     * thread (the decoder runs in it with threads = 1) gives the rate per
     * core even on a loaded machine; the per-stage split is wall time. */
    struct timespec c0, c1;
    CHECK_EQ_INT(cvb_video_next(v, buf, &m, &err), 0);
    n = 1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    uint64_t t0 = cvb_now_ns();
    for (; n < N && cvb_video_next(v, buf, &m, &err) == 0; n++) {
        dec += m.decode_ns;
        lb += m.letterbox_ns;
    }
    double wall = (double)(cvb_now_ns() - t0) / 1e9;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    CHECK_EQ_INT(n, N);
    const double f = N - 1, busy = wall > 0 ? cpu / wall : 0;
    printf("  1280x720 H.264 -> 640x640, 1 thread, %d frames:\n"
           "    wall:  decode %.0f frames/s, letterbox %.0f frames/s, decode+letterbox %.0f "
           "frames/s\n"
           "    per CPU-second (this thread had the CPU %.0f %% of the time): decode+letterbox "
           "%.0f frames/s, letterbox ~%.0f frames/s\n"
           "    targets: decode+letterbox >= 150, letterbox >= 400 frames/s per core\n",
           N - 1, f / (dec / 1e9), f / (lb / 1e9), f / ((dec + lb) / 1e9), 100 * busy, f / cpu,
           busy > 0 ? f / (lb / 1e9 * busy) : 0);
    free(buf);
    cvb_video_close(v);
}

static void cleanup(void) {
    DIR *d = opendir(tmpdir);
    if (d != NULL) {
        struct dirent *e;
        char path[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

int main(void) {
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    tmp_path(clip, sizeof clip, "clip.mp4");
    struct cvb_vsynth_opts so = {.width = 640, .height = 360, .fps = 30, .seconds = 2, .seed = 11};
    struct cvb_err err = {0};
    if (cvb_video_synth(&so, clip, &err) < 0) {
        fprintf(stderr, "cannot make the test clip: %s\n", err.msg);
        cleanup();
        return 1;
    }
    RUN(test_decode_640);
    RUN(test_decode_320);
    RUN(test_threads);
    RUN(test_loop);
    RUN(test_jpeg);
    RUN(test_max_pixels);
    RUN(test_bad_options);
    RUN(test_version);
    RUN(test_bad_files);
    RUN(test_truncated);
    RUN(test_throughput_720p);
    cleanup();
    return test_summary();
}
