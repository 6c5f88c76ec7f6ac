/* SPDX-License-Identifier: Apache-2.0 */
/* cvbench: the command-line entry point; dispatches to one file per subcommand. */
#include "cli/cli.h"

#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Subcommands other files provide while they are being written; a missing
 * one fails loudly instead of linking errors. */
#pragma weak cvb__cmd_model_synth
#pragma weak cvb__cmd_detect

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench <command> [options]\n"
            "\n"
            "commands:\n"
            "  model synth --arch A [--imgsz S] [--seed N] -o FILE.onnx\n"
            "                        write a YOLO model with synthetic weights\n"
            "  model info MODEL [--json] [--imgsz N]\n"
            "                        inputs, outputs, op histogram, parameters, GFLOPs\n"
            "  model calibrate --model M (--video V|--images DIR|--synthetic N) -o M.calib\n"
            "                        int8 calibration [--qdq OUT.onnx: QDQ ONNX export]\n"
            "  infer --model M --input X.npy --output Y.npy [--kernels ref|onednn]\n"
            "                        run a model on NumPy tensors\n"
            "  detect --model M IMAGE... [--json] [--annotate OUT.png]\n"
            "                        detect objects in images\n"
            "  report [--db FILE] [--run ID|latest] [-o FILE.html|.json|.csv]\n"
            "                        re-render a stored run\n"
            "  compare RUN_A RUN_B [--db FILE]\n"
            "                        per-level deltas of two stored runs\n"
            "  run [SCENARIO.json] [--flag value ...]\n"
            "                        the benchmark: video streams swept over concurrency\n"
            "  serve [--listen HOST:PORT] [--db FILE|--store URL] [--broker redis://...]\n"
            "                        the service: HTTP API, dashboard, metrics, coordinator,\n"
            "                        local workers (embedded: one SQLite file)\n"
            "  serve-model --model M [--name NAME] [--listen HOST:PORT] [--instances N]\n"
            "                        KServe v2 model server (Triton-compatible REST)\n"
            "  worker [--store URL] [--broker redis://...] [--isa I] [--tag T]\n"
            "                        one worker process (distributed service)\n"
            "  submit [SCENARIO.json] [--flag value ...] [--server URL] [--wait]\n"
            "  runs [--server URL]   cancel RUN_ID [--server URL]\n"
            "                        the service's client\n"
            "  video synth -o FILE.mp4 [--size WxH] [--fps N] [--seconds S] [--seed N]\n"
            "                        write a synthetic test clip\n"
            "  video info FILE [--json] [--decode]\n"
            "                        container, codec, size, frame rate; --decode times decoding\n"
            "  sysinfo [--json]      CPU model, ISA flags, oneDNN ISA, threading\n"
            "  version               print the version\n"
            "\n"
            "Run 'cvbench <command> --help' for a command's options.\n");
}

int cvb__check_isa(const char *s) {
    static const char *const ok[] = {"auto", "amx", "avx512_vnni", "avx512", "avx2"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(ok); i++)
        if (strcmp(s, ok[i]) == 0) return 0;
    cvb__cli_usage_error("--isa must be auto, amx, avx512_vnni, avx512 or avx2, not '%s'", s);
    return -1;
}

static volatile sig_atomic_t *g_stop_flag;

static void on_stop_signal(int sig) {
    (void)sig;
    if (g_stop_flag != NULL) *g_stop_flag = 1;
}

void cvb__cli_stop_on_signals(volatile sig_atomic_t *flag) {
    struct sigaction sa;
    g_stop_flag = flag;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cvb__cli_fail(const struct cvb_err *err) {
    fprintf(stderr, "cvbench: error: %s\n", err->msg[0] ? err->msg : cvb_strerror(err->code));
    switch (err->code) {
    case CVB_ENOMEM:
    case CVB_EINTERNAL: return CVB_EXIT_FAIL;
    default: return CVB_EXIT_USAGE;
    }
}

int cvb__cli_usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cvbench: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return CVB_EXIT_USAGE;
}

static int missing(const char *what) {
    return cvb__cli_usage_error("'%s' is not built into this cvbench", what);
}

/* OpenMP threads (oneDNN's runtime) spin for a while at every barrier by
 * default (libgomp: 300,000 iterations, then sleep). That is right while one
 * engine owns the cores and wrong while they are shared: measured on a
 * 2-core host, yolov8n 640, 2 threads, median ms (passive / libgomp default):
 * quiet 55-66 / 44-46; with one busy process beside it 79-88 / 160-194.
 * `cvbench run` shares the cores by design (stream decoders, several engine
 * instances), so it sleeps at once (OMP_WAIT_POLICY=passive); single-engine
 * commands (infer, detect, calibrate...) keep libgomp's default, as ONNX
 * Runtime's and OpenVINO's pools spin too. libgomp reads the variable when
 * it is loaded, before main(), so the only way to set it is to re-execute
 * ourselves once with it set. A user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT
 * is always kept. */
static void default_passive_openmp(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "run") != 0) return;
    const char *policy = getenv("OMP_WAIT_POLICY"), *spin = getenv("GOMP_SPINCOUNT");
    if ((policy != NULL && policy[0] != '\0') || (spin != NULL && spin[0] != '\0')) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with libgomp's defaults */
}

int main(int argc, char **argv) {
    default_passive_openmp(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return CVB_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CVB_EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("cvbench %s (commit %s)\n", CVB_VERSION, CVB_GIT_COMMIT);
        return CVB_EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0) return cvb__cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "video") == 0) return cvb__cmd_video(argc - 1, argv + 1);
    if (strcmp(cmd, "infer") == 0) return cvb__cmd_infer(argc - 1, argv + 1);
    if (strcmp(cmd, "sysinfo") == 0) return cvb__cmd_sysinfo(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cvb__cmd_report(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cvb__cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "serve-model") == 0) return cvb__cmd_serve_model(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cvb__cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "worker") == 0) return cvb__cmd_worker(argc - 1, argv + 1);
    if (strcmp(cmd, "submit") == 0) return cvb__cmd_submit(argc - 1, argv + 1);
    if (strcmp(cmd, "runs") == 0) return cvb__cmd_runs(argc - 1, argv + 1);
    if (strcmp(cmd, "cancel") == 0) return cvb__cmd_cancel(argc - 1, argv + 1);
    if (strcmp(cmd, "detect") == 0)
        return cvb__cmd_detect ? cvb__cmd_detect(argc - 1, argv + 1) : missing("detect");
    if (strcmp(cmd, "model") == 0) {
        if (argc < 3) return cvb__cli_usage_error("'model' needs a subcommand: synth or info");
        if (strcmp(argv[2], "info") == 0) return cvb__cmd_model_info(argc - 2, argv + 2);
        if (strcmp(argv[2], "calibrate") == 0) return cvb__cmd_model_calibrate(argc - 2, argv + 2);
        if (strcmp(argv[2], "synth") == 0)
            return cvb__cmd_model_synth ? cvb__cmd_model_synth(argc - 2, argv + 2)
                                        : missing("model synth");
        return cvb__cli_usage_error("unknown 'model' subcommand '%s' (expected synth or info)",
                                    argv[2]);
    }
    fprintf(stderr, "cvbench: error: unknown command '%s'\n", cmd);
    usage(stderr);
    return CVB_EXIT_USAGE;
}

bool cvb__store_is_url(const char *store) {
    return strncmp(store, "postgresql://", 13) == 0 || strncmp(store, "postgres://", 11) == 0;
}

const char *cvb__store_file(const char *store) {
    return strncmp(store, "file:", 5) == 0 ? store + 5 : store;
}
