/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench video synth` (write a synthetic test clip) and `cvbench video info`
 * (what a video file holds, optionally with a full decode that counts the
 * frames and times decoding and letterboxing). See include/cvb/video.h.
 *
 * Entry point: cvb__cmd_video(argc, argv) with argv[0] = "video" and
 * argv[1] the subcommand. */
#include "cli/cli.h"
#include "cvb/video.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench video synth -o FILE.mp4 [--size 1280x720] [--fps 30] [--seconds 10]\n"
            "                           [--seed N] [--codec h264|mpeg4]\n"
            "       cvbench video info FILE [--json] [--decode [--size S] [--threads N]]\n"
            "\n"
            "synth  write a synthetic clip (moving, textured objects over a changing\n"
            "       background; the same options and seed give the same pictures).\n"
            "       --codec: h264 (libx264, the default when present) or mpeg4.\n"
            "info   print the video's size, frame rate, frame count, codec, duration and\n"
            "       container. --decode also decodes every frame, letterboxing it to\n"
            "       S x S (default 640) on N decoder threads (default 1), and reports the\n"
            "       exact frame count and the decode and letterbox rates.\n");
}

/* "1280x720" -> w, h; -1 on junk. */
static int parse_size(const char *s, int *w, int *h) {
    char *end = NULL;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno != 0 || end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *s2 = end + 1;
    long b = strtol(s2, &end, 10);
    if (errno != 0 || end == s2 || *end != '\0' || a < 1 || b < 1 || a > 1 << 20 || b > 1 << 20)
        return -1;
    *w = (int)a;
    *h = (int)b;
    return 0;
}

static int parse_u64(const char *s, unsigned long long *out) {
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

static int cmd_synth(int argc, char **argv) {
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"size", required_argument, NULL, 's'},
        {"fps", required_argument, NULL, 'f'},    {"seconds", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 'S'},   {"codec", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    struct cvb_vsynth_opts o = {.width = 1280, .height = 720, .fps = 30, .seconds = 10};
    const char *out_path = NULL;
    unsigned long long u = 0;
    char *end = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out_path = optarg; break;
        case 's':
            if (parse_size(optarg, &o.width, &o.height) < 0)
                return cvb__cli_usage_error("video synth: --size '%s' is not WIDTHxHEIGHT", optarg);
            break;
        case 'f':
            o.fps = cvb__parse_int(optarg, 1, 240);
            if (o.fps < 0)
                return cvb__cli_usage_error("video synth: --fps '%s' is not in 1..240", optarg);
            break;
        case 't':
            errno = 0;
            o.seconds = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(o.seconds > 0) || o.seconds > 3600)
                return cvb__cli_usage_error("video synth: --seconds '%s' is not in (0, 3600]",
                                            optarg);
            break;
        case 'S':
            if (parse_u64(optarg, &u) < 0)
                return cvb__cli_usage_error(
                    "video synth: --seed '%s' is not a non-negative integer", optarg);
            o.seed = u;
            break;
        case 'c':
            if (strcmp(optarg, "h264") == 0)
                o.codec = CVB_VSYNTH_CODEC_H264;
            else if (strcmp(optarg, "mpeg4") == 0)
                o.codec = CVB_VSYNTH_CODEC_MPEG4;
            else
                return cvb__cli_usage_error("video synth: --codec '%s' is not h264 or mpeg4",
                                            optarg);
            break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        case ':':
            return cvb__cli_usage_error("video synth: option '%s' needs a value", argv[optind - 1]);
        default: return cvb__cli_usage_error("video synth: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cvb__cli_usage_error("video synth: unexpected argument '%s'", argv[optind]);
    if (out_path == NULL) return cvb__cli_usage_error("video synth: -o FILE.mp4 is required");
    if (o.width % 2 || o.height % 2 || o.width < 16 || o.height < 16 || o.width > 4096 ||
        o.height > 4096)
        return cvb__cli_usage_error("video synth: --size %dx%d: width and height must be even and "
                                    "in 16..4096",
                                    o.width, o.height);

    struct cvb_err err = {0};
    uint64_t t0 = cvb_now_ns();
    int rc = cvb_video_synth(&o, out_path, &err);
    if (rc < 0) return cvb__cli_fail(&err);
    double secs = (double)(cvb_now_ns() - t0) / 1e9;
    /* Report what a reader of the file sees, not what we asked for. */
    struct cvb_video *v = NULL;
    struct cvb_video_opts vo = {.out_size = 640};
    rc = cvb_video_open(out_path, &vo, &v, &err);
    if (rc < 0) return cvb__cli_fail(&err);
    const struct cvb_video_info *in = cvb_video_info(v);
    struct stat st;
    long long bytes = stat(out_path, &st) == 0 ? (long long)st.st_size : -1;
    printf("%s: %dx%d %s, %g fps, %lld frames, %.2f s, %lld bytes, seed %llu, synthetic "
           "(written in %.1f s)\n",
           out_path, in->width, in->height, in->codec, in->fps, (long long)in->n_frames,
           in->duration_s, bytes, (unsigned long long)o.seed, secs);
    cvb_video_close(v);
    return CVB_EXIT_OK;
}

/* Print 's' as a JSON string (our strings are names and paths). */
static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static int cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},       {"decode", no_argument, NULL, 'd'},
        {"size", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int json = 0, decode = 0, size = 640, threads = 1, c;
    const char *path = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'd': decode = 1; break;
        case 's':
            size = cvb__parse_int(optarg, 1, 4096);
            if (size < 0)
                return cvb__cli_usage_error("video info: --size '%s' is not in 1..4096", optarg);
            break;
        case 't':
            threads = cvb__parse_int(optarg, 1, CVB_VIDEO_MAX_THREADS);
            if (threads < 0)
                return cvb__cli_usage_error("video info: --threads '%s' is not in 1..%d", optarg,
                                            CVB_VIDEO_MAX_THREADS);
            break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        case ':':
            return cvb__cli_usage_error("video info: option '%s' needs a value", argv[optind - 1]);
        default: return cvb__cli_usage_error("video info: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cvb__cli_usage_error("video info: a video FILE is required");
    path = argv[optind++];
    if (optind < argc)
        return cvb__cli_usage_error("video info: unexpected argument '%s'", argv[optind]);

    struct cvb_err err = {0};
    struct cvb_video *v = NULL;
    struct cvb_video_opts vo = {.out_size = size, .threads = threads};
    uint8_t *canvas = NULL;
    int exit_code = CVB_EXIT_OK;
    int rc = cvb_video_open(path, &vo, &v, &err);
    if (rc < 0) return cvb__cli_fail(&err);
    const struct cvb_video_info *in = cvb_video_info(v);

    long long n = 0;
    uint64_t dec_ns = 0, lb_ns = 0;
    if (decode) {
        canvas = malloc((size_t)size * size * 3);
        if (canvas == NULL) {
            cvb_err_set(&err, CVB_ENOMEM, "%s: out of memory for a %dx%d canvas", path, size, size);
            exit_code = cvb__cli_fail(&err);
            goto out;
        }
        struct cvb_frame_meta m;
        while ((rc = cvb_video_next(v, canvas, &m, &err)) == 0) {
            n++;
            dec_ns += m.decode_ns;
            lb_ns += m.letterbox_ns;
        }
        if (rc < 0) {
            exit_code = cvb__cli_fail(&err);
            goto out;
        }
    }
    double dec_fps = dec_ns ? n / (dec_ns / 1e9) : 0, lb_fps = lb_ns ? n / (lb_ns / 1e9) : 0;
    double both_fps = dec_ns + lb_ns ? n / ((dec_ns + lb_ns) / 1e9) : 0;
    if (json) {
        printf("{\"path\": ");
        json_str(path);
        printf(", \"width\": %d, \"height\": %d, \"fps\": %.6g, \"frames\": %lld, "
               "\"duration_s\": %.6g, \"bit_rate\": %lld, \"codec\": ",
               in->width, in->height, in->fps, (long long)in->n_frames, in->duration_s,
               (long long)in->bit_rate);
        json_str(in->codec);
        printf(", \"container\": ");
        json_str(in->container);
        printf(", \"pix_fmt\": ");
        json_str(in->pix_fmt);
        printf(", \"decoder_bytes\": %lld", (long long)in->decoder_bytes);
        if (decode)
            printf(", \"decode\": {\"size\": %d, \"threads\": %d, \"frames\": %lld, "
                   "\"decode_fps\": %.1f, \"letterbox_fps\": %.1f, \"decode_letterbox_fps\": %.1f}",
                   size, threads, n, dec_fps, lb_fps, both_fps);
        printf("}\n");
    } else {
        printf("file:       %s\n", path);
        printf("container:  %s\n", in->container);
        printf("codec:      %s (%s)\n", in->codec, in->pix_fmt);
        printf("size:       %dx%d\n", in->width, in->height);
        printf("fps:        %.6g\n", in->fps);
        printf("frames:     %lld%s\n", (long long)in->n_frames, in->n_frames ? "" : " (unknown)");
        printf("duration:   %.3f s\n", in->duration_s);
        printf("bit rate:   %.0f kb/s\n", (double)in->bit_rate / 1000);
        if (decode) {
            printf("decoded:    %lld frames to %dx%d on %d thread%s\n", n, size, size, threads,
                   threads == 1 ? "" : "s");
            printf("decode:     %.1f frames/s\n", dec_fps);
            printf("letterbox:  %.1f frames/s\n", lb_fps);
            printf("both:       %.1f frames/s\n", both_fps);
        }
    }
out:
    free(canvas);
    cvb_video_close(v);
    return exit_code;
}

int cvb__cmd_video(int argc, char **argv) {
    if (argc < 2) return cvb__cli_usage_error("'video' needs a subcommand: synth or info");
    const char *sub = argv[1];
    if (strcmp(sub, "synth") == 0) return cmd_synth(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0) return cmd_info(argc - 1, argv + 1);
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
        usage(stdout);
        return CVB_EXIT_OK;
    }
    return cvb__cli_usage_error("unknown 'video' subcommand '%s' (expected synth or info)", sub);
}
