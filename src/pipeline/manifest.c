/* SPDX-License-Identifier: Apache-2.0 */
/* The run manifest: what was measured, on what, with what. Everything a
 * reader needs to judge or reproduce a number: machine (CPU model and the
 * flags that matter to inference, cores, memory), effective ISA, library
 * versions, the model's SHA-256 and whether its weights are synthetic, the
 * video, the cvbench version and commit, and the effective scenario.
 *
 * Library versions come from the module that links each library (this file
 * includes none of their headers): cvb_engine_version() (oneDNN),
 * cvb_video_version() (FFmpeg) and cvb_store_version() (SQLite); the
 * effective ISA from the probe's engine (cvb_engine_isa()). */
#include "cvb/engine.h"
#include "cvb/sha256.h"
#include "cvb/store.h"
#include "cvb/video.h"
#include "pipeline/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef CVB_VERSION
#define CVB_VERSION "0.0.0"
#endif
#ifndef CVB_GIT_COMMIT
#define CVB_GIT_COMMIT "unknown"
#endif


/* CPU flags worth recording for inference speed, in this order. */
static const char *const FLAGS[] = {"avx2",        "fma",        "avx512f",     "avx512bw",
                                    "avx512_vnni", "avx512_bf16", "avx_vnni",   "amx_tile",
                                    "amx_bf16",    "amx_int8",   "avx512_fp16"};

static void cpu_info(struct cvb_manifest *m) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    bool have_model = false, have_flags = false;
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    if (f == NULL) return;
    while (fgets(line, sizeof line, f) != NULL && !(have_model && have_flags)) {
        char *colon = strchr(line, ':');
        if (colon == NULL) continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = '\0';
        if (!have_model && strncmp(line, "model name", 10) == 0) {
            snprintf(m->cpu_model, sizeof m->cpu_model, "%s", v);
            have_model = true;
        } else if (!have_flags && strncmp(line, "flags", 5) == 0) {
            have_flags = true;
            size_t used = 0;
            m->cpu_flags[0] = '\0';
            for (size_t i = 0; i < CVB_ARRAY_LEN(FLAGS); i++) {
                /* whole-word match in the space-separated list */
                size_t fl = strlen(FLAGS[i]);
                for (char *p = strstr(v, FLAGS[i]); p != NULL; p = strstr(p + 1, FLAGS[i])) {
                    if ((p == v || p[-1] == ' ') && (p[fl] == ' ' || p[fl] == '\0')) {
                        int n = snprintf(m->cpu_flags + used, sizeof m->cpu_flags - used, "%s%s",
                                         used ? " " : "", FLAGS[i]);
                        if (n > 0 && (size_t)n < sizeof m->cpu_flags - used) used += (size_t)n;
                        break;
                    }
                }
            }
        }
    }
    fclose(f);
}

void cvb_pipeline_run_id(char *id, size_t len, char *started, size_t slen) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    unsigned rnd = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL || fread(&rnd, sizeof rnd, 1, f) != 1)
        rnd = (unsigned)(cvb_now_ns() ^ ((uint64_t)getpid() << 16));
    if (f != NULL) fclose(f);
    char ts[32];
    strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
    snprintf(id, len, "%s-%06x", ts, rnd & 0xffffff);
    if (started != NULL) strftime(started, slen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cvb_pipeline_manifest(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                          struct cvb_manifest *m, struct cvb_err *err) {
    int rc = 0;
    memset(m, 0, sizeof *m);
    m->density_streams = -1;
    cvb_pipeline_run_id(m->run_id, sizeof m->run_id, m->started_at, sizeof m->started_at);
    snprintf(m->cvbench_version, sizeof m->cvbench_version, "%s", CVB_VERSION);
    snprintf(m->git_commit, sizeof m->git_commit, "%s", CVB_GIT_COMMIT);
    if (gethostname(m->hostname, sizeof m->hostname - 1) != 0)
        snprintf(m->hostname, sizeof m->hostname, "unknown");
    cpu_info(m);
    m->n_cpus = p && p->n_cpus > 0 ? p->n_cpus : cvb_engine_default_threads();
    m->mem_total_bytes = cvb__meminfo("MemTotal");
    snprintf(m->isa, sizeof m->isa, "%s", p && p->isa[0] ? p->isa : s->isa);
    m->threads = s->threads > 0 ? s->threads : m->n_cpus;
    const char *dnn = cvb_engine_version();
    const char *av = cvb_video_version();
    const char *sq = cvb_store_version();
    snprintf(m->libraries, sizeof m->libraries, "%s, %s, %s", dnn ? dnn : "oneDNN unknown",
             av ? av : "FFmpeg unknown", sq ? sq : "SQLite unknown");
    snprintf(m->model_path, sizeof m->model_path, "%.255s", s->model);
    rc = cvb_sha256_file(s->model, m->model_sha256, err);
    if (rc < 0) {
        cvb_err_prefix(err, "model");
        goto out;
    }
    if (p != NULL) {
        m->synthetic_weights = p->synthetic;
        snprintf(m->model_input, sizeof m->model_input, "%s", p->model_input);
        m->model_gflops = p->gflops;
        snprintf(m->video_desc, sizeof m->video_desc, "%s", p->video_desc);
    }
    snprintf(m->video_path, sizeof m->video_path, "%.255s", s->n_videos > 0 ? s->videos[0] : "");
    snprintf(m->backend, sizeof m->backend, "%s", s->backend);
    snprintf(m->precision, sizeof m->precision, "%s", s->precision);
    snprintf(m->mode, sizeof m->mode, "%s", s->mode);
    snprintf(m->execution, sizeof m->execution, "%s", s->execution);
    snprintf(m->pacing, sizeof m->pacing, "%s", s->density ? "camera" : s->pacing);
    m->target_fps = s->target_fps;
    cvb_scenario_to_json(s, m->scenario_json, sizeof m->scenario_json);
out:
    return rc;
}
