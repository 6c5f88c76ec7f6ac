/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench run`: the benchmark. Builds the scenario (defaults, then the
 * scenario file, then each flag in order), probes the model and videos once,
 * records the run in the results database, runs the concurrency sweep (or
 * the density search) level by level with a live progress line, stores each
 * finished level as soon as it finishes, then prints the summary table and
 * writes the JSON/CSV/HTML outputs.
 *
 * Levels and memory: with default levels, those whose estimated peak memory
 * exceeds the budget are dropped before the sweep (and said so); with
 * explicit --streams, a level that does not fit is recorded as "refused" with
 * the estimate and the budget, and the sweep goes on (each refusal costs
 * nothing, and the record shows every level the user asked for).
 *
 * Ctrl-C stops the current level cleanly (frames in flight finish), records
 * it as "interrupted", marks the run "interrupted", still writes every output
 * for what finished, and exits with 130. */
#include "cli/cli.h"
#include "cvb/pipeline.h"
#include "cvb/report.h"
#include "cvb/scenario.h"
#include "cvb/store.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_INTERRUPTED 130
#define MAX_RESULTS (CVB_SCN_MAX_LEVELS + 64)

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: cvbench run [SCENARIO.json] [--flag value ...]\n"
            "\n"
            "Run the benchmark: concurrent video streams through decode, letterbox,\n"
            "inference and NMS, swept over concurrency levels. Flags override the\n"
            "scenario file's fields (a JSON field frames is the flag --frames; dashes\n"
            "are underscores in JSON); they apply in order, so a later one wins.\n"
            "\n"
            "common flags:\n"
            "  --model M.onnx          YOLO detection model\n"
            "  --video V.mp4           input video (repeatable; streams take them round-robin)\n"
            "  --streams 1,2,4         concurrency levels (default 1,2,4,...,64 capped to\n"
            "                          what the memory budget allows)\n"
            "  --frames N --warmup N   measured and warm-up frames per stream per level\n"
            "  --mode pipeline|inference-only   --execution async|direct\n"
            "  --pacing max|camera     --target-fps F   --inference-streams N\n"
            "  --memory-budget 8G      --min-duration S --max-duration S\n"
            "  --window S --window-frames N   throughput windows (stability rule below)\n"
            "  --density [--p99-ms MS] largest N of camera-paced streams holding target-fps\n"
            "  --json F --csv F --report F.html --db F.db (default cvbench.db)\n"
            "  --save-frames           keep per-frame samples in the database (bounded)\n"
            "  --isa I --threads N --precision fp32|bf16|int8 [--calib M.calib]\n"
            "  --accuracy-sample N     per level, check the detections of N sampled frames\n"
            "                          against an fp32 reference after the level (default\n"
            "                          16; 0 = off): the F1 column\n"
            "\n"
            "A level runs warmup + frames per stream, then keeps running while it is\n"
            "not stable, up to --max-duration (default 60 s; 0: exactly --frames).\n"
            "Stable: >= 3 throughput windows (each >= --window-frames frames and\n"
            ">= --window s), their coefficient of variation <= 5 %% and the mean of\n"
            "the last third within 5 %% of the first third's.\n"
            "Latency: from the moment a frame is ready (decoded, or taken from the\n"
            "ring) to its detections; under --pacing max it includes the time the\n"
            "frame waits in its stream's pool for an engine; under camera pacing it\n"
            "runs from the frame's due time.\n"
            "\n"
            "Exit status: 0 done, 2 bad scenario/model/video or no level fits the\n"
            "memory budget, 1 internal error,\n"
            "130 interrupted (what finished is still written).\n");
}

struct run_ctx {
    bool tty;
    double last_progress_s;
};

static void on_progress(void *user, const struct cvb_progress *p) {
    struct run_ctx *c = user;
    cvb_report_progress(stderr, c->tty, p);
}

static void level_line(struct run_ctx *c, const struct cvb_level_result *r, int n_levels) {
    if (c->tty) fputs("\r\033[K", stderr);
    if (strcmp(r->status, "ok") != 0 && strcmp(r->status, "interrupted") != 0) {
        fprintf(stderr, "level %d%s%d: %d streams: %s: %s\n", r->level + 1, n_levels ? "/" : "",
                n_levels, r->streams, r->status, r->error);
        return;
    }
    char tot[16] = "";
    if (n_levels) snprintf(tot, sizeof tot, "/%d", n_levels);
    fprintf(stderr,
            "level %d%s: %d streams: %.1f fps (%.1f per stream), latency p50 %.1f ms p99 "
            "%.1f ms, %s%s%s%s\n",
            r->level + 1, tot, r->streams, r->fps, r->fps_per_stream, r->latency_p50_ms,
            r->latency_p99_ms, r->bottleneck, r->stable ? "" : " [unstable]",
            strcmp(r->status, "interrupted") == 0 ? " [interrupted]" : "",
            r->error[0] ? " [" : "");
    if (r->error[0]) fprintf(stderr, "%s]\n", r->error);
}

/* Apply argv to the scenario: the file first (wherever it appears), then
 * the flags in order. */
static int build_scenario(int argc, char **argv, struct cvb_scenario *s, struct cvb_err *err) {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) snprintf(cwd, sizeof cwd, ".");
    cvb_scenario_defaults(s);
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            bool tv = false;
            if (strchr(a, '=') == NULL && cvb_scenario_has_field(a + 2, &tv) && tv) i++;
            continue;
        }
        if (file != NULL)
            return cvb_err_set(err, CVB_EINVAL, "unexpected argument '%s' (one scenario file "
                               "only; flags start with --)", a);
        file = a;
    }
    int rc = 0;
    if (file != NULL) {
        rc = cvb_scenario_load_file(s, file, err);
        if (rc < 0) return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) continue;
        char name[128];
        const char *value = NULL;
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nl >= sizeof name) return cvb_err_set(err, CVB_EINVAL, "unknown option '%s'", a);
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        bool tv = false;
        if (!cvb_scenario_has_field(name, &tv))
            return cvb_err_set(err, CVB_EINVAL, "unknown option '--%s' (see cvbench run --help)",
                               name);
        if (eq != NULL) {
            value = eq + 1;
        } else if (tv) {
            if (i + 1 >= argc)
                return cvb_err_set(err, CVB_EINVAL, "option '--%s' needs a value", name);
            value = argv[++i];
        } else {
            value = "true";
        }
        rc = cvb_scenario_set(s, name, value, cwd, err);
        if (rc < 0) return rc;
    }
    return cvb_scenario_validate(s, err);
}

static int finish_outputs(const struct cvb_scenario *s, const struct cvb_manifest *m,
                          const struct cvb_level_result *res, int n, struct cvb_err *err) {
    int rc = 0;
    cvb_report_table(stdout, m, res, n);
    fflush(stdout);
    if (s->json[0] && (rc = cvb_report_json(s->json, m, res, n, err)) < 0) return rc;
    if (s->csv[0] && (rc = cvb_report_csv(s->csv, m, res, n, err)) < 0) return rc;
    if (s->report[0] && (rc = cvb_report_html(s->report, m, res, n, err)) < 0) return rc;
    return 0;
}

int cvb__cmd_run(int argc, char **argv) {
    int exit_code = CVB_EXIT_OK;
    int rc = 0;
    struct cvb_err err = {0};
    struct cvb_scenario *s = NULL;
    struct cvb_level_result *res = NULL;
    struct cvb_frame_sample *samples = NULL;
    struct cvb_store *st = NULL;
    struct cvb_manifest *m = NULL;
    struct cvb_pipeline_probe probe;
    bool run_recorded = false;
    const char *run_status = "done";
    int n_res = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CVB_EXIT_OK;
        }
    s = calloc(1, sizeof *s);
    m = calloc(1, sizeof *m);
    res = calloc(MAX_RESULTS, sizeof *res);
    if (s == NULL || m == NULL || res == NULL) {
        rc = cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        goto fail;
    }
    rc = build_scenario(argc, argv, s, &err);
    if (rc < 0) goto fail;
    if (s->save_frames) {
        samples = calloc(CVB_MAX_FRAME_SAMPLES, sizeof *samples);
        if (samples == NULL) {
            rc = cvb_err_set(&err, CVB_ENOMEM, "out of memory");
            goto fail;
        }
    }
    if (s->density) snprintf(s->pacing, sizeof s->pacing, "camera");

    rc = cvb_pipeline_probe(s, &probe, &err);
    if (rc < 0) goto fail;
    rc = cvb_pipeline_manifest(s, &probe, m, &err);
    if (rc < 0) goto fail;
    rc = cvb_store_open(s->db, &st, &err);
    if (rc < 0) goto fail;
    rc = cvb_store_put_run(st, m, &err);
    if (rc < 0) goto fail;
    run_recorded = true;

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);

    struct run_ctx ctx = {.tty = isatty(STDERR_FILENO) != 0};
    int n_samples = 0;
    struct cvb_pipeline_hooks hooks = {
        .progress = on_progress,
        .user = &ctx,
        .stop = &g_stop,
        .samples = samples,
        .max_samples = samples ? CVB_MAX_FRAME_SAMPLES : 0,
        .n_samples = &n_samples,
    };
    fprintf(stderr, "run %s: %s, %s, %s/%s/%s, %d cpus%s\n", m->run_id, m->model_path,
            m->video_desc, s->mode, s->execution, s->pacing, probe.n_cpus,
            probe.synthetic ? " (synthetic weights)" : "");

    /* The levels to run. */
    int levels[CVB_SCN_MAX_LEVELS];
    int n_levels = 0;
    int64_t budget = cvb_pipeline_memory_budget(s);
    if (!s->density) {
        char dropped[256] = "";
        int64_t base = cvb_pipeline_rss_bytes();
        for (int i = 0; i < s->n_levels; i++) {
            struct cvb_mem_estimate e;
            cvb_pipeline_estimate(s, &probe, s->streams[i], &e);
            if (!s->streams_given && base + e.total > budget) {
                size_t u = strlen(dropped);
                snprintf(dropped + u, sizeof dropped - u, "%s%d", u ? ", " : "", s->streams[i]);
                continue;
            }
            levels[n_levels++] = s->streams[i];
        }
        if (dropped[0])
            fprintf(stderr,
                    "levels %s dropped: their estimated peak memory exceeds the budget "
                    "%.0f MiB (--memory-budget)\n",
                    dropped, budget / 1048576.0);
        if (n_levels == 0) {
            rc = cvb_err_set(&err, CVB_ERANGE, "no level fits the memory budget %.0f MiB",
                             budget / 1048576.0);
            goto fail;
        }
    }
    hooks.n_levels = s->density ? 0 : n_levels;

    struct cvb_density dens;
    int max_density = CVB_SCN_MAX_STREAMS;
    if (s->streams_given) {
        max_density = 0;
        for (int i = 0; i < s->n_levels; i++)
            if (s->streams[i] > max_density) max_density = s->streams[i];
    }
    cvb_density_init(&dens, s, max_density);
    for (int li = 0; !g_stop && n_res < MAX_RESULTS; li++) {
        int n_streams = 0;
        if (s->density) {
            n_streams = cvb_density_next(&dens);
            if (n_streams <= 0) break;
        } else {
            if (li >= n_levels) break;
            n_streams = levels[li];
        }
        struct cvb_level_result *r = &res[n_res];
        n_samples = 0;
        struct cvb_err lerr = {0};
        int lrc = cvb_pipeline_run_level(s, &probe, n_streams, li, &hooks, r, &lerr);
        n_res++;
        level_line(&ctx, r, hooks.n_levels);
        if (cvb_store_put_level(st, m->run_id, r, &err) < 0) {
            rc = err.code;
            run_status = "failed";
            goto fail;
        }
        if (samples && n_samples > 0 &&
            cvb_store_put_frames(st, m->run_id, r->level, samples, n_samples, &err) < 0) {
            rc = err.code;
            run_status = "failed";
            goto fail;
        }
        if (s->density) cvb_density_report(&dens, r);
        if (lrc < 0 && lrc != CVB_ERANGE) {
            /* a video or engine failure: stop the sweep, keep what finished */
            err = lerr;
            rc = lrc;
            run_status = "failed";
            break;
        }
        if (strcmp(r->status, "interrupted") == 0) break;
    }
    sigaction(SIGINT, &old_sa, NULL);
    if (g_stop) run_status = "interrupted";
    if (rc == 0 && n_res > 0) {
        int n_refused = 0;
        for (int i = 0; i < n_res; i++) n_refused += strcmp(res[i].status, "refused") == 0;
        if (n_refused == n_res) {
            /* nothing was measured: the budget is too small for any level */
            rc = cvb_err_set(&err, CVB_ERANGE, "every level was refused by the memory budget "
                             "(%.0f MiB); raise --memory-budget or lower --streams",
                             budget / 1048576.0);
            run_status = "failed";
        }
    }
    if (s->density) {
        /* the answer goes into the manifest (JSON, CSV, HTML, db) and on stdout */
        size_t off = 0;
        char *d = m->density_decided;
        size_t dl = sizeof m->density_decided;
        m->density_streams = dens.best;
        if (dens.lo_level >= 0)
            off += (size_t)snprintf(d + off, dl - off, "level %d: %d pass", dens.lo_level + 1,
                                    dens.lo);
        if (dens.hi_level >= 0 && off < dl)
            snprintf(d + off, dl - off, "%slevel %d: %d fail", off ? ", " : "",
                     dens.hi_level + 1, dens.hi);
        if (dens.best > 0)
            printf("density: %d stream(s) hold %.1f fps with p99 <= %.0f ms", dens.best,
                   s->target_fps, s->p99_ms);
        else
            printf("density: not even 1 stream holds %.1f fps with p99 <= %.0f ms",
                   s->target_fps, s->p99_ms);
        if (d[0]) printf(" (decided by %s)", d);
        printf("\n");
        struct cvb_err uerr = {0};
        if (cvb_store_update_run(st, m, &uerr) < 0)
            fprintf(stderr, "cvbench: error: %s\n", uerr.msg);
    }

    struct cvb_err oerr = {0};
    if (finish_outputs(s, m, res, n_res, &oerr) < 0) {
        if (rc == 0) {
            err = oerr;
            rc = oerr.code;
        } else {
            fprintf(stderr, "cvbench: error: %s\n", oerr.msg);
        }
        run_status = "failed";
    }
    struct cvb_err ferr = {0};
    if (cvb_store_finish_run(st, m->run_id, run_status, &ferr) < 0)
        fprintf(stderr, "cvbench: error: %s\n", ferr.msg);
    run_recorded = false;
    fprintf(stderr, "run %s %s; results in %s", m->run_id, run_status, s->db);
    if (s->json[0]) fprintf(stderr, ", %s", s->json);
    if (s->csv[0]) fprintf(stderr, ", %s", s->csv);
    if (s->report[0]) fprintf(stderr, "; report: %s", s->report);
    fprintf(stderr, "\n");
    if (rc < 0) goto fail;
    if (strcmp(run_status, "interrupted") == 0) exit_code = EXIT_INTERRUPTED;
    goto out;

fail:
    if (run_recorded) {
        struct cvb_err ferr2 = {0};
        cvb_store_finish_run(st, m->run_id, "failed", &ferr2);
    }
    if (err.code == 0) err.code = rc;
    exit_code = cvb__cli_fail(&err);
out:
    cvb_store_close(st);
    free(samples);
    free(res);
    free(m);
    free(s);
    return exit_code;
}
