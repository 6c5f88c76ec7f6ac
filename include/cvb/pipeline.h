/* SPDX-License-Identifier: Apache-2.0 */
/* The pipeline: executes one concurrency level of a scenario and measures it.
 *
 * One level = N streams, each decoding (or cycling a ring of) frames through
 * letterbox -> inference -> decode boxes + NMS, with per-frame stage
 * timestamps on CLOCK_MONOTONIC, summarised into a struct cvb_level_result
 * (fixed size: nothing in here grows with the number of frames).
 *
 *   cvb_pipeline_probe()          once per run: loads the model once and opens
 *                                 each video once to learn the sizes the memory
 *                                 model needs (and warms oneDNN's caches)
 *   cvb_pipeline_estimate()       pure function: predicted peak memory of a level
 *   cvb_pipeline_memory_budget()  the budget a level's estimate is held to
 *   cvb_pipeline_run_level()      run one level (refusing it if it does not fit)
 *   cvb_pipeline_manifest()       the run manifest (machine, libraries, model hash)
 *   cvb_density_*                 the stream-density search (which N to run next)
 *
 * Memory contract: everything a level allocates (engine instances, decoders,
 * frame pools, rings, threads, accuracy samples) is allocated before its
 * first frame and freed before cvb_pipeline_run_level() returns; the hot
 * path allocates nothing. The accuracy reference engine is loaded after the
 * level's own engines are freed. */
#ifndef CVB_PIPELINE_H
#define CVB_PIPELINE_H

#include "cvb/common.h"
#include "cvb/result.h"
#include "cvb/scenario.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Frames in each stream's decode pool (async, pipeline mode): the producer
 * can run this many frames ahead of inference. Direct execution uses 1. */
#define CVB_PIPELINE_POOL_FRAMES 3
/* Backend kserve: a stream's pool holds inflight + 1 frames (one decoding
 * while 'inflight' requests are out), up to this many. */
#define CVB_PIPELINE_MAX_SLOTS (CVB_SCN_MAX_INFLIGHT + 1)

/* What a run learned about its model and videos, once, before any level. */
struct cvb_pipeline_probe {
    int imgsz;                   /* model input side S (frames are S x S x 3 uint8) */
    bool input_u8;               /* the engine takes uint8 input (no float conversion) */
    int64_t input_bytes;         /* engine input tensor bytes */
    int64_t output_bytes;        /* all engine outputs, bytes */
    int64_t engine_bytes;        /* memory of one loaded + run engine instance (weights,
                                    prepared weights, arena, scratch): measured RSS delta,
                                    at least the model-info formula */
    int64_t reference_bytes;     /* the same for the fp32 engine of the accuracy reference
                                    (= engine_bytes when the precision is fp32) */
    int64_t weights_bytes;       /* n_params x 4 (model info) */
    int64_t activation_bytes;    /* model info */
    double gflops;
    bool synthetic;
    int n_cpus;                  /* cores this process may use */
    int n_videos;
    int max_video_w, max_video_h;
    int64_t decoder_bytes;       /* largest of the videos' decoder estimates */
    char video_desc[CVB_RESULT_STR]; /* first video: "h264 1280x720 30.00 fps 300 frames" */
    char model_input[64];
    char isa[32];                /* effective ISA the engine runs ("avx512_core_vnni") */
    /* backend kserve: what the server's model takes (checked against the
     * local model: same input side, same output shapes) */
    bool remote;
    bool remote_u8;              /* frames travel as uint8 NHWC (else fp32 NCHW) */
    int64_t remote_request_bytes;  /* per frame: binary payload + JSON header */
    int64_t remote_response_bytes; /* per frame: outputs + JSON header */
    char remote_server[64];
};

/* Probe scenario 's': load the model once (threads as a level would use
 * them), run it once on a grey frame, open and close every video. Errors
 * name the model or video (bad input: CVB_EFORMAT/EIO/EUNSUPPORTED...). */
int cvb_pipeline_probe(const struct cvb_scenario *s, struct cvb_pipeline_probe *p,
                       struct cvb_err *err);

/* Engine instances and threads per instance a level with 'streams' streams
 * uses: scenario.inference_streams if set, else n_cpus / 4 but at least 2
 * on 2+ cores (each instance has >= 4 threads on big machines; on small ones
 * single-thread instances avoid OpenMP barriers that a decode thread would
 * stall), never more instances than streams; threads per instance =
 * scenario.threads (0: n_cpus) / instances, at least 1. So instances x
 * threads never exceeds the cores and concurrent engine calls never
 * oversubscribe them, in both executions.
 * Backend kserve: 'instances' are the client's connections, streams x
 * inflight (each a thread that mostly waits on the network), and
 * 'threads_per_instance' is all the cores (for the accuracy reference). */
void cvb_pipeline_instances(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                            int streams, int *instances, int *threads_per_instance);

/* The memory model of one level, in bytes above the process's RSS before
 * the level (the returned total adds nothing for that baseline). */
struct cvb_mem_estimate {
    int64_t engines;     /* instances x (engine_bytes + input/output buffers + detector) */
    int64_t frames;      /* pools (pipeline) or shared rings (inference-only) */
    int64_t decoders;    /* live decoders x decoder_bytes (pipeline only) */
    int64_t per_stream;  /* streams x fixed per-stream overhead (thread stack, state) */
    int64_t fixed;       /* queues, statistics, RSS timeline */
    int64_t accuracy;    /* sampled frames + their detections (scenario accuracy_sample) */
    int64_t reference;   /* the fp32 reference engine, after the level's engines are freed */
    int64_t total;       /* max(level: engines..accuracy, after: accuracy + reference + fixed) */
};
/* Pure: the estimate for 'streams' streams of scenario 's' given probe 'p'. */
void cvb_pipeline_estimate(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                           int streams, struct cvb_mem_estimate *e);

/* The budget a level's estimated peak RSS (baseline + estimate) is held
 * to: scenario.memory_budget if > 0, else 80 % of the smaller of
 * MemAvailable and the cgroup v2 limit (/sys/fs/cgroup/memory.max, minus
 * what the cgroup already uses). */
int64_t cvb_pipeline_memory_budget(const struct cvb_scenario *s);

/* Current resident set size of this process (bytes, from /proc/self/statm). */
int64_t cvb_pipeline_rss_bytes(void);

struct cvb_pipeline_hooks {
    /* Called from the calling thread about once per second (and once at the
     * end of warm-up) while the level runs. */
    void (*progress)(void *user, const struct cvb_progress *p);
    void *user;
    /* Set (to nonzero, e.g. from a SIGINT handler) to stop the level: the
     * streams stop releasing frames, frames in flight finish, the result is
     * filled from what completed and its status is "interrupted". */
    const volatile sig_atomic_t *stop;
    /* Optional per-frame sample reservoir (uniform over measured frames,
     * algorithm R): up to max_samples (<= CVB_MAX_FRAME_SAMPLES) samples go
     * to samples[], their count to *n_samples. */
    struct cvb_frame_sample *samples;
    int max_samples;
    int *n_samples;
    int n_levels; /* for the progress record; 0 if unknown */
};

/* Run one level: 'streams' streams of scenario 's' (probe 'p' from
 * cvb_pipeline_probe()), level index 'level_index' in the sweep. Fills *out
 * completely whatever happens:
 *   - status "ok": measured; violations of the memory contract (peak RSS >
 *     1.25 x estimate, RSS after not within 5 % of before) are reported in
 *     out->error, not as failures;
 *   - status "refused": baseline + estimate exceeds the budget; out->error
 *     shows both; returns CVB_ERANGE with the same message in 'err';
 *   - status "interrupted": hooks->stop was set; returns 0;
 *   - status "failed": a video or engine error (returns it, 'err' names it).
 * 'hooks' may be NULL. */
int cvb_pipeline_run_level(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                           int streams, int level_index, const struct cvb_pipeline_hooks *hooks,
                           struct cvb_level_result *out, struct cvb_err *err);

/* Fill the run manifest: run id, start time, host, CPU model and flags, core
 * count, MemTotal, effective ISA, library versions, model SHA-256 and
 * synthetic flag, video description, cvbench version and commit, effective
 * scenario. 'p' may be NULL (model/video fields then come from the files
 * alone). */
int cvb_pipeline_manifest(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                          struct cvb_manifest *m, struct cvb_err *err);

/* A new run id ("20261126-213000-ab12cd": UTC time + 24 random bits) and,
 * if 'started' is not NULL, the same time in ISO 8601 UTC. */
void cvb_pipeline_run_id(char *id, size_t len, char *started, size_t slen);

/* ---- stream density ----------------------------------------------------------
 * Largest N such that a camera-paced level of N streams passes: every stream
 * holds >= 95 % of target_fps (fps_per_stream_min), no more than 1 % of its
 * frames were dropped, and p99 latency <= p99_ms. Search: N = 1, 2, 4, ...
 * until a level fails (or is refused, or max_streams is passed), then binary
 * search between the last pass and the first failure. Usage:
 *   cvb_density_init(&d, s, max);
 *   while ((n = cvb_density_next(&d)) > 0) { run level n; cvb_density_report(&d, n, &r); }
 *   d.best is the answer (0: not even one stream passes). */
struct cvb_density {
    double target_fps, p99_ms;
    int max_streams;
    int lo;        /* largest N known to pass (0: none) */
    int hi;        /* smallest N known to fail (0: none yet) */
    int best;
    int lo_level, hi_level; /* level indices that decided lo and hi (-1: none) */
    int n_evaluated;
};
void cvb_density_init(struct cvb_density *d, const struct cvb_scenario *s, int max_streams);
/* The next N to evaluate, or 0 when the search is over. */
int cvb_density_next(const struct cvb_density *d);
/* Whether level result 'r' passes the density criteria. */
bool cvb_density_pass(const struct cvb_density *d, const struct cvb_level_result *r);
/* Record the result of evaluating N = r->streams (level index r->level). */
void cvb_density_report(struct cvb_density *d, const struct cvb_level_result *r);

#endif
