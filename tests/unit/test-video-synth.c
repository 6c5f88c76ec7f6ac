/* SPDX-License-Identifier: Apache-2.0 */
/* cvb_video_synth(): the clip's properties as a reader sees them (size, fps,
 * frame count, codec), that it is a moving scene and not a flat frame, that
 * the same seed gives the same pictures (and bytes) and another seed other
 * pictures, both encoders, and bad options. */
#include "cvb/video.h"
#include "test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/cvb-test-video-synth-XXXXXX";

static void tmp_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* FNV-1a over a buffer. */
static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static uint64_t file_hash(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return 0;
    uint8_t buf[65536];
    uint64_t h = 1469598103934665603ull;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    fclose(f);
    return h;
}

/* Checksum of decoded frame 'which', letterboxed to 'size'; 0 on failure. */
static uint64_t frame_checksum(const char *path, int size, int which) {
    struct cvb_video *v = NULL;
    struct cvb_err err = {0};
    struct cvb_video_opts o = {.out_size = size};
    uint64_t h = 0;
    uint8_t *buf = malloc((size_t)size * size * 3);
    if (buf == NULL || cvb_video_open(path, &o, &v, &err) < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        goto out;
    }
    for (int i = 0; i <= which; i++)
        if (cvb_video_next(v, buf, NULL, &err) != 0) goto out;
    h = fnv1a(buf, (size_t)size * size * 3);
out:
    cvb_video_close(v);
    free(buf);
    return h;
}

static void test_h264_clip(void) {
    char path[256];
    tmp_path(path, sizeof path, "h264.mp4");
    struct cvb_vsynth_opts o = {.width = 320,
                                .height = 240,
                                .fps = 30,
                                .seconds = 2,
                                .seed = 42,
                                .codec = CVB_VSYNTH_CODEC_H264};
    struct cvb_err err = {0};
    int rc = cvb_video_synth(&o, path, &err);
    if (rc == CVB_EUNSUPPORTED) {
        printf("  (no libx264 in this FFmpeg: %s)\n", err.msg);
        return;
    }
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    struct cvb_video *v = NULL;
    struct cvb_video_opts vo = {.out_size = 320};
    CHECK_EQ_INT(cvb_video_open(path, &vo, &v, &err), 0);
    if (v == NULL) return;
    const struct cvb_video_info *in = cvb_video_info(v);
    CHECK_EQ_INT(in->width, 320);
    CHECK_EQ_INT(in->height, 240);
    CHECK_NEAR(in->fps, 30, 1e-9);
    CHECK_EQ_INT(in->n_frames, 60);
    CHECK_NEAR(in->duration_s, 2.0, 0.05);
    CHECK(strcmp(in->codec, "h264") == 0);
    CHECK(strcmp(in->container, "mp4") == 0);
    CHECK(strcmp(in->pix_fmt, "yuv420p") == 0);
    CHECK(in->bit_rate > 0);
    CHECK(in->decoder_bytes >= 320 * 240 * 3 / 2);

    /* Every frame decodes; it is a moving scene, not a flat frame. */
    uint8_t *buf = malloc(320 * 320 * 3), *first = malloc(320 * 320 * 3);
    int n = 0, flat = 0, same_as_first = 0;
    struct cvb_frame_meta m;
    while ((rc = cvb_video_next(v, buf, &m, &err)) == 0) {
        /* picture rows 40..279 (240 rows letterboxed to 320: pad 40 each side) */
        const uint8_t *pic = buf + 40 * 320 * 3;
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < 240 * 320 * 3; i += 7) {
            sum += pic[i];
            sum2 += (double)pic[i] * pic[i];
        }
        double cnt = (240 * 320 * 3 + 6) / 7, mean = sum / cnt;
        if (sum2 / cnt - mean * mean < 200) flat++;
        if (n == 0)
            memcpy(first, buf, 320 * 320 * 3);
        else if (memcmp(first, buf, 320 * 320 * 3) == 0)
            same_as_first++;
        n++;
    }
    CHECK_EQ_INT(rc, 1);
    CHECK_EQ_INT(n, 60);
    CHECK_EQ_INT(flat, 0);
    CHECK_EQ_INT(same_as_first, 0);
    free(buf);
    free(first);
    cvb_video_close(v);
}

static void test_deterministic(void) {
    char a[256], b[256], c[256];
    tmp_path(a, sizeof a, "seed7a.mp4");
    tmp_path(b, sizeof b, "seed7b.mp4");
    tmp_path(c, sizeof c, "seed8.mp4");
    struct cvb_vsynth_opts o = {.width = 320, .height = 240, .fps = 30, .seconds = 1, .seed = 7};
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_video_synth(&o, a, &err), 0);
    CHECK_EQ_INT(cvb_video_synth(&o, b, &err), 0);
    o.seed = 8;
    CHECK_EQ_INT(cvb_video_synth(&o, c, &err), 0);
    uint64_t ha = frame_checksum(a, 320, 0), hb = frame_checksum(b, 320, 0);
    uint64_t hc = frame_checksum(c, 320, 0);
    printf("  frame 0 checksums: seed 7 %016llx, again %016llx, seed 8 %016llx\n",
           (unsigned long long)ha, (unsigned long long)hb, (unsigned long long)hc);
    CHECK(ha != 0);
    CHECK(ha == hb);
    CHECK(ha != hc);
    CHECK(frame_checksum(a, 320, 20) == frame_checksum(b, 320, 20));
    /* Bit-exact muxing and a single-threaded encoder: the same bytes. */
    CHECK(file_hash(a) == file_hash(b));
}

static void test_mpeg4(void) {
    char path[256];
    tmp_path(path, sizeof path, "mpeg4.mp4");
    struct cvb_vsynth_opts o = {.width = 176,
                                .height = 144,
                                .fps = 25,
                                .seconds = 1.2,
                                .seed = 3,
                                .codec = CVB_VSYNTH_CODEC_MPEG4};
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_video_synth(&o, path, &err), 0);
    struct cvb_video *v = NULL;
    struct cvb_video_opts vo = {.out_size = 160};
    CHECK_EQ_INT(cvb_video_open(path, &vo, &v, &err), 0);
    if (v == NULL) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    const struct cvb_video_info *in = cvb_video_info(v);
    CHECK(strcmp(in->codec, "mpeg4") == 0);
    CHECK_EQ_INT(in->width, 176);
    CHECK_EQ_INT(in->height, 144);
    CHECK_NEAR(in->fps, 25, 1e-9);
    CHECK_EQ_INT(in->n_frames, 30);
    uint8_t buf[160 * 160 * 3];
    int n = 0;
    while (cvb_video_next(v, buf, NULL, &err) == 0)
        n++;
    CHECK_EQ_INT(n, 30);
    cvb_video_close(v);
}

static void test_defaults(void) {
    /* Zeroed options: 1280x720, 30 fps, 10 s. Shortened here to keep the
     * test fast: only the size and fps defaults are checked. */
    char path[256];
    tmp_path(path, sizeof path, "defaults.mp4");
    struct cvb_vsynth_opts o = {.seconds = 0.2};
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_video_synth(&o, path, &err), 0);
    struct cvb_video *v = NULL;
    struct cvb_video_opts vo = {.out_size = 64};
    CHECK_EQ_INT(cvb_video_open(path, &vo, &v, &err), 0);
    if (v == NULL) return;
    CHECK_EQ_INT(cvb_video_info(v)->width, 1280);
    CHECK_EQ_INT(cvb_video_info(v)->height, 720);
    CHECK_NEAR(cvb_video_info(v)->fps, 30, 1e-9);
    CHECK_EQ_INT(cvb_video_info(v)->n_frames, 6);
    cvb_video_close(v);
}

static void test_bad_options(void) {
    char path[256];
    tmp_path(path, sizeof path, "bad.mp4");
    struct cvb_err err = {0};
    struct cvb_vsynth_opts odd = {.width = 321, .height = 240, .seconds = 1};
    CHECK_EQ_INT(cvb_video_synth(&odd, path, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "321x240") != NULL);
    struct cvb_vsynth_opts huge = {.width = 8192, .height = 240, .seconds = 1};
    CHECK_EQ_INT(cvb_video_synth(&huge, path, &err), CVB_EINVAL);
    struct cvb_vsynth_opts fps = {.fps = 1000, .seconds = 1};
    CHECK_EQ_INT(cvb_video_synth(&fps, path, &err), CVB_EINVAL);
    struct cvb_vsynth_opts secs = {.seconds = -1};
    CHECK_EQ_INT(cvb_video_synth(&secs, path, &err), CVB_EINVAL);
    CHECK(access(path, F_OK) != 0);
    /* Unwritable destination: an I/O error naming it, nothing left behind. */
    struct cvb_vsynth_opts ok = {.width = 64, .height = 64, .seconds = 0.1};
    const char *nowhere = "/nonexistent-cvb-dir/clip.mp4";
    CHECK_EQ_INT(cvb_video_synth(&ok, nowhere, &err), CVB_EIO);
    CHECK(strstr(err.msg, nowhere) != NULL);
    CHECK_EQ_INT(cvb_video_synth(NULL, path, &err), CVB_EINVAL);
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
    RUN(test_h264_clip);
    RUN(test_deterministic);
    RUN(test_mpeg4);
    RUN(test_defaults);
    RUN(test_bad_options);
    cleanup();
    return test_summary();
}
