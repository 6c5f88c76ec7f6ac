/* SPDX-License-Identifier: Apache-2.0 */
/* Image loading, letterboxing, tensor conversion, PNG round trip, box drawing,
 * and bad image files (empty, text, truncated JPEG and PNG, absurd size,
 * directory, missing) that must come back as errors naming the file. */
#include "cvb/video.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>

#define DOG "/usr/share/darknet/data/dog.jpg"

static char tmpdir[] = "/tmp/cvb-test-video-image-XXXXXX";

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

/* Are all pixels in rows [y0, y1) and columns [x0, x1) of a w-wide RGB canvas 114? */
static int region_is_pad(const uint8_t *c, int w, int x0, int x1, int y0, int y1) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            for (int k = 0; k < 3; k++)
                if (c[((size_t)y * w + x) * 3 + k] != CVB_LETTERBOX_PAD) return 0;
    return 1;
}

/* Does any row of [y0, y1) differ from the pad (i.e. hold picture)? */
static int rows_have_picture(const uint8_t *c, int w, int y0, int y1) {
    return !region_is_pad(c, w, 0, w, y0, y1);
}

static void test_load_dog(void) {
    struct cvb_image img;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_image_load(DOG, &img, &err), 0);
    /* ffprobe: mjpeg 768x576 */
    CHECK_EQ_INT(img.width, 768);
    CHECK_EQ_INT(img.height, 576);
    CHECK_EQ_INT(img.stride, 768 * 3);
    CHECK(img.rgb != NULL);
    if (img.rgb == NULL) return;
    /* not a flat picture */
    long sum = 0, sum2 = 0;
    for (size_t i = 0; i < (size_t)img.stride * img.height; i += 97) {
        sum += img.rgb[i];
        sum2 += (long)img.rgb[i] * img.rgb[i];
    }
    long n = (long)((size_t)img.stride * img.height / 97) + 1;
    double mean = (double)sum / n, var = (double)sum2 / n - mean * mean;
    CHECK(mean > 40 && mean < 200);
    CHECK(var > 500);
    cvb_image_cleanup(&img);
    CHECK(img.rgb == NULL && img.width == 0);
    cvb_image_cleanup(&img); /* twice is fine */
    cvb_image_cleanup(NULL);
}

static void letterbox_dog(int size, int top, int new_h) {
    struct cvb_image img;
    struct cvb_err err = {0};
    struct cvb_letterbox lb;
    CHECK_EQ_INT(cvb_image_load(DOG, &img, &err), 0);
    if (img.rgb == NULL) return;
    uint8_t *canvas = malloc((size_t)size * size * 3);
    memset(canvas, 0, (size_t)size * size * 3);
    CHECK_EQ_INT(cvb_letterbox(NULL, &img, canvas, size, size, &lb, &err), 0);
    CHECK_EQ_INT(lb.new_w, size);
    CHECK_EQ_INT(lb.new_h, new_h);
    CHECK_EQ_INT(lb.pad_left, 0);
    CHECK_EQ_INT(lb.pad_top, top);
    CHECK_NEAR(lb.scale, (double)size / 768, 1e-12);
    CHECK(region_is_pad(canvas, size, 0, size, 0, top));
    CHECK(region_is_pad(canvas, size, 0, size, top + new_h, size));
    /* the first and last picture rows are picture, not pad */
    CHECK(rows_have_picture(canvas, size, top, top + 1));
    CHECK(rows_have_picture(canvas, size, top + new_h - 1, top + new_h));
    /* float tensor: R plane of pad pixel (0,0) = 114/255, pixel layout NCHW */
    float *t = malloc((size_t)size * size * 3 * sizeof *t);
    cvb_image_to_nchw_f32(canvas, size, size, t);
    CHECK_NEAR(t[0], 114.0f / 255.0f, 0);
    size_t mid = (size_t)(size / 2) * size + size / 2, plane = (size_t)size * size;
    CHECK_NEAR(t[mid], canvas[mid * 3] / 255.0f, 0);
    CHECK_NEAR(t[plane + mid], canvas[mid * 3 + 1] / 255.0f, 0);
    CHECK_NEAR(t[2 * plane + mid], canvas[mid * 3 + 2] / 255.0f, 0);
    uint8_t *u = malloc(plane * 3);
    cvb_image_to_nchw_u8(canvas, size, size, u);
    CHECK_EQ_INT(u[2 * plane + mid], canvas[mid * 3 + 2]);
    free(u);
    free(t);
    free(canvas);
    cvb_image_cleanup(&img);
}

static void test_letterbox_dog_640(void) {
    letterbox_dog(640, 80, 480);
}
static void test_letterbox_dog_320(void) {
    letterbox_dog(320, 40, 240);
}

/* A flat red portrait picture upscaled: side pads, exact colours, and the
 * context reused across calls and sizes. */
static void test_letterbox_portrait(void) {
    enum { W = 300, H = 500, S = 640 };
    struct cvb_image img = {malloc((size_t)W * H * 3), W, H, W * 3};
    for (size_t i = 0; i < (size_t)W * H; i++) {
        img.rgb[3 * i] = 200;
        img.rgb[3 * i + 1] = 10;
        img.rgb[3 * i + 2] = 60;
    }
    struct cvb_letterboxer *lbr = NULL;
    struct cvb_err err = {0};
    struct cvb_letterbox lb;
    CHECK_EQ_INT(cvb_letterboxer_new(&lbr, &err), 0);
    uint8_t *canvas = malloc((size_t)S * S * 3);
    for (int round = 0; round < 2; round++) {
        memset(canvas, 0, (size_t)S * S * 3);
        CHECK_EQ_INT(cvb_letterbox(lbr, &img, canvas, S, S, &lb, &err), 0);
        CHECK_EQ_INT(lb.new_w, 384);
        CHECK_EQ_INT(lb.new_h, 640);
        CHECK_EQ_INT(lb.pad_left, 128);
        CHECK_EQ_INT(lb.pad_top, 0);
        CHECK(region_is_pad(canvas, S, 0, 128, 0, S));
        CHECK(region_is_pad(canvas, S, 512, S, 0, S));
        int flat = 1;
        for (int y = 0; y < S; y++)
            for (int x = 128; x < 512; x++) {
                const uint8_t *p = canvas + ((size_t)y * S + x) * 3;
                if (abs(p[0] - 200) > 1 || abs(p[1] - 10) > 1 || abs(p[2] - 60) > 1) flat = 0;
            }
        CHECK(flat);
    }
    /* same size as the target: copied, not resized */
    uint8_t *small = malloc((size_t)W * W * 3);
    struct cvb_image sq = {img.rgb, W, W, W * 3};
    CHECK_EQ_INT(cvb_letterbox(lbr, &sq, small, W, W, &lb, &err), 0);
    CHECK(memcmp(small, img.rgb, (size_t)W * W * 3) == 0);
    /* bad arguments are errors */
    CHECK_EQ_INT(cvb_letterbox(lbr, &img, canvas, 0, S, &lb, &err), CVB_EINVAL);
    struct cvb_image none = {NULL, 10, 10, 30};
    CHECK_EQ_INT(cvb_letterbox(lbr, &none, canvas, S, S, &lb, &err), CVB_EINVAL);
    cvb_letterboxer_free(lbr);
    cvb_letterboxer_free(NULL);
    free(small);
    free(canvas);
    free(img.rgb);
}

/* Exact fit (no padding at all) and a vertical gradient: the picture's last
 * rows, which are scaled from a separate padded slice, continue the ramp. */
static void test_letterbox_exact_fit(void) {
    enum { W = 1280, H = 720, DW = 640, DH = 360 };
    struct cvb_image img = {malloc((size_t)W * H * 3), W, H, W * 3};
    for (int y = 0; y < H; y++)
        memset(img.rgb + (size_t)y * W * 3, (int)(y * 255 / (H - 1)), (size_t)W * 3);
    uint8_t *canvas = malloc((size_t)DW * DH * 3);
    struct cvb_letterbox lb;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_letterbox(NULL, &img, canvas, DW, DH, &lb, &err), 0);
    CHECK_EQ_INT(lb.new_w, DW);
    CHECK_EQ_INT(lb.new_h, DH);
    CHECK_EQ_INT(lb.pad_left, 0);
    CHECK_EQ_INT(lb.pad_top, 0);
    int monotonic = 1, rows_flat = 1;
    for (int y = 0; y < DH; y++) {
        const uint8_t *r = canvas + (size_t)y * DW * 3;
        for (int x = 0; x < DW * 3; x++)
            if (r[x] != r[0]) rows_flat = 0;
        if (y > 0 && r[0] < r[-DW * 3]) monotonic = 0;
    }
    CHECK(monotonic);
    CHECK(rows_flat);
    CHECK(canvas[0] <= 2);
    CHECK(canvas[(size_t)(DH - 1) * DW * 3] >= 253);
    free(canvas);
    free(img.rgb);
}

static void test_png_round_trip_and_draw(void) {
    enum { W = 37, H = 23 };
    uint8_t *px = calloc((size_t)W * H * 3, 1);
    struct cvb_image img = {px, W, H, W * 3};
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (uint8_t)(i * 7);
    const uint8_t red[3] = {255, 0, 0};
    memset(px, 0, (size_t)W * H * 3);
    cvb_image_draw_box(&img, 2, 3, 10, 12, red, 2);
    /* outline pixels [2..9] x [3..11], 2 px thick, inside the box */
    CHECK(px[(3 * W + 2) * 3] == 255);
    CHECK(px[(4 * W + 3) * 3] == 255);
    CHECK(px[(11 * W + 9) * 3] == 255);
    CHECK(px[(10 * W + 8) * 3] == 255);
    CHECK(px[(5 * W + 5) * 3] == 0);  /* interior untouched */
    CHECK(px[(12 * W + 5) * 3] == 0); /* below the box */
    CHECK(px[(5 * W + 10) * 3] == 0); /* right of the box */
    /* off-picture, inverted and non-finite boxes draw nothing and do not crash */
    uint8_t before = px[0];
    cvb_image_draw_box(&img, -50, -50, -10, -10, red, 2);
    cvb_image_draw_box(&img, 100, 100, 200, 200, red, 2);
    cvb_image_draw_box(&img, 10, 10, 5, 5, red, 2);
    cvb_image_draw_box(&img, NAN, 0, 5, 5, red, 2);
    CHECK(px[0] == before);
    /* a box larger than the picture is clipped to its edges */
    cvb_image_draw_box(&img, -5, -5, 1000, 1000, red, 1);
    CHECK(px[0] == 255);
    CHECK(px[((H - 1) * W + W - 1) * 3] == 255);
    uint8_t c1[3], c2[3], c1b[3];
    cvb_image_class_color(1, c1);
    cvb_image_class_color(2, c2);
    cvb_image_class_color(1, c1b);
    CHECK(memcmp(c1, c1b, 3) == 0);
    CHECK(memcmp(c1, c2, 3) != 0);

    char path[256];
    struct cvb_err err = {0};
    struct cvb_image back;
    tmp_path(path, sizeof path, "round.png");
    CHECK_EQ_INT(cvb_image_write_png(path, px, W, H, W * 3, &err), 0);
    CHECK_EQ_INT(cvb_image_load(path, &back, &err), 0);
    CHECK_EQ_INT(back.width, W);
    CHECK_EQ_INT(back.height, H);
    if (back.rgb != NULL) CHECK(memcmp(back.rgb, px, (size_t)W * H * 3) == 0);
    cvb_image_cleanup(&back);
    /* unwritable path and bad sizes */
    CHECK_EQ_INT(cvb_image_write_png("/nonexistent-dir/x.png", px, W, H, W * 3, &err), CVB_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.png") != NULL);
    CHECK_EQ_INT(cvb_image_write_png(path, px, 0, H, W * 3, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_image_write_png(path, px, W, H, W, &err), CVB_EINVAL);
    free(px);
}

static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static size_t png_chunk(uint8_t *out, const char *type, const uint8_t *data, uint32_t n) {
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, type, 4);
    if (n) memcpy(out + 8, data, n);
    uint32_t crc = crc32_bytes(out + 4, 4 + n);
    out[8 + n] = (uint8_t)(crc >> 24);
    out[9 + n] = (uint8_t)(crc >> 16);
    out[10 + n] = (uint8_t)(crc >> 8);
    out[11 + n] = (uint8_t)crc;
    return 12 + n;
}

/* A PNG whose header declares w x h RGB pixels, with a token IDAT. */
static size_t make_png_header(uint8_t *buf, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {(uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        8,
                        2,
                        0,
                        0,
                        0};
    static const uint8_t idat[16] = {0x78, 0x9c, 0x63, 0x60};
    size_t n = 0;
    memcpy(buf, sig, 8);
    n += 8;
    n += png_chunk(buf + n, "IHDR", ihdr, 13);
    n += png_chunk(buf + n, "IDAT", idat, sizeof idat);
    n += png_chunk(buf + n, "IEND", NULL, 0);
    return n;
}

/* Load 'path'; expect status 'code' and an error naming the file and
 * containing 'what'. */
static void expect_bad(const char *path, int code, const char *what) {
    struct cvb_image img;
    struct cvb_err err = {0};
    int rc = cvb_image_load(path, &img, &err);
    CHECK_EQ_INT(rc, code);
    CHECK(img.rgb == NULL && img.width == 0);
    CHECK(strstr(err.msg, path) != NULL);
    if (strstr(err.msg, what) == NULL) {
        fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, what);
        CHECK(strstr(err.msg, what) != NULL);
    }
}

static void test_bad_inputs(void) {
    char path[256];
    tmp_path(path, sizeof path, "empty.jpg");
    CHECK_EQ_INT(write_bytes(path, "", 0), 0);
    expect_bad(path, CVB_EFORMAT, "empty");

    tmp_path(path, sizeof path, "notes.txt");
    const char *text = "this is a text file, not a picture\n";
    CHECK_EQ_INT(write_bytes(path, text, strlen(text)), 0);
    expect_bad(path, CVB_EFORMAT, "not an image");

    tmp_path(path, sizeof path, "text.jpg"); /* text with an image extension */
    CHECK_EQ_INT(write_bytes(path, text, strlen(text)), 0);
    expect_bad(path, CVB_EFORMAT, "corrupt");

    /* truncated JPEG: the first 20000 bytes of dog.jpg, and only the header */
    void *jpg = NULL;
    size_t jpg_len = 0;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_read_file(DOG, 1 << 24, &jpg, &jpg_len, &err), 0);
    if (jpg != NULL) {
        CHECK(jpg_len > 20000);
        tmp_path(path, sizeof path, "trunc.jpg");
        CHECK_EQ_INT(write_bytes(path, jpg, 20000), 0);
        expect_bad(path, CVB_EFORMAT, "truncated");
        tmp_path(path, sizeof path, "header.jpg");
        CHECK_EQ_INT(write_bytes(path, jpg, 300), 0);
        expect_bad(path, CVB_EFORMAT, "JPEG");
        /* bit rot in the middle of the entropy-coded data must not crash */
        uint8_t *rot = malloc(jpg_len);
        memcpy(rot, jpg, jpg_len);
        for (size_t i = 1000; i < jpg_len; i += 1500)
            rot[i] ^= 0x5a;
        tmp_path(path, sizeof path, "rot.jpg");
        CHECK_EQ_INT(write_bytes(path, rot, jpg_len), 0);
        struct cvb_image img;
        int rc = cvb_image_load(path, &img, &err); /* either outcome, no crash */
        CHECK(rc == 0 || rc == CVB_EFORMAT);
        cvb_image_cleanup(&img);
        free(rot);
        free(jpg);
    }

    /* truncated PNG */
    enum { W = 64, H = 48 };
    uint8_t *px = malloc((size_t)W * H * 3);
    for (int i = 0; i < W * H * 3; i++)
        px[i] = (uint8_t)((i * 2654435761u) >> 24);
    tmp_path(path, sizeof path, "full.png");
    CHECK_EQ_INT(cvb_image_write_png(path, px, W, H, W * 3, &err), 0);
    void *png = NULL;
    size_t png_len = 0;
    CHECK_EQ_INT(cvb_read_file(path, 1 << 24, &png, &png_len, &err), 0);
    if (png != NULL) {
        tmp_path(path, sizeof path, "trunc.png");
        CHECK_EQ_INT(write_bytes(path, png, png_len / 2), 0);
        expect_bad(path, CVB_EFORMAT, "PNG");
        free(png);
    }
    free(px);

    /* absurd dimensions declared in a PNG header */
    uint8_t hdr[128];
    size_t n = make_png_header(hdr, 20000, 8);
    tmp_path(path, sizeof path, "wide.png");
    CHECK_EQ_INT(write_bytes(path, hdr, n), 0);
    expect_bad(path, CVB_ERANGE, "20000x8");
    n = make_png_header(hdr, 100000, 100000);
    tmp_path(path, sizeof path, "huge.png");
    CHECK_EQ_INT(write_bytes(path, hdr, n), 0);
    expect_bad(path, CVB_ERANGE, "absurd image dimensions");

    expect_bad("/nonexistent/dog.jpg", CVB_EIO, "No such file");
    expect_bad(tmpdir, CVB_EIO, "not a regular file");
    /* a file name with a sequence pattern is a name, not a pattern */
    tmp_path(path, sizeof path, "img%03d.jpg");
    expect_bad(path, CVB_EIO, "No such file");
}

static void cleanup_tmpdir(void) {
    const char *names[] = {"empty.jpg",  "notes.txt", "text.jpg", "trunc.jpg",
                           "header.jpg", "rot.jpg",   "full.png", "trunc.png",
                           "wide.png",   "huge.png",  "round.png"};
    char path[256];
    for (size_t i = 0; i < CVB_ARRAY_LEN(names); i++) {
        tmp_path(path, sizeof path, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

int main(void) {
    if (access(DOG, R_OK) != 0) return test_skip(DOG " is missing (Debian package darknet)");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_load_dog);
    RUN(test_letterbox_dog_640);
    RUN(test_letterbox_dog_320);
    RUN(test_letterbox_portrait);
    RUN(test_letterbox_exact_fit);
    RUN(test_png_round_trip_and_draw);
    RUN(test_bad_inputs);
    cleanup_tmpdir();
    return test_summary();
}
