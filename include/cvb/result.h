/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark results: the run manifest and one record per concurrency level.
 *
 * Produced by the pipeline (src/pipeline/), consumed by the store
 * (src/store/), the reports (src/report/) and, later, the service. Plain
 * data with fixed-size fields: a result can be copied with memcpy and holds
 * no pointers, so its size never depends on the number of frames. */
#ifndef CVB_RESULT_H
#define CVB_RESULT_H

#include <stdbool.h>
#include <stdint.h>

/* Per-frame stages, in pipeline order. X(ENUM, "name") */
#define CVB_STAGE_LIST(X)                                                      \
    X(DECODE, "decode")                                                        \
    X(PREPROCESS, "preprocess")                                                \
    X(QUEUE, "queue")                                                          \
    X(INFER, "inference")                                                      \
    X(POSTPROCESS, "postprocess")

enum cvb_stage {
#define CVB_X(e, s) CVB_STAGE_##e,
    CVB_STAGE_LIST(CVB_X)
#undef CVB_X
        CVB_STAGE_COUNT
};
const char *cvb_stage_name(enum cvb_stage s);

struct cvb_stage_stat {
    double mean_ms;  /* mean time per frame in this stage */
    double p99_ms;
    double share;    /* mean_ms / sum of all stages' mean_ms, 0..1 */
};

#define CVB_RESULT_STR 128
#define CVB_MAX_WINDOWS 600 /* throughput windows kept per level (bounded) */
#define CVB_MAX_RSS_SAMPLES 1200

/* The kserve backend's view of one level (remote.used false for cpu).
 * Per request (one frame), means over every request of the level, warm-up
 * included (the server's statistics cannot tell warm-up apart): serialise
 * on the client, the round trip (send to last response byte: network + the
 * server's queue and compute), and deserialise (parse + copy); the round
 * trip's p99 is over the measured frames (the inference stage's). The
 * server's own queue and compute times and its busy ratio come from deltas
 * of its statistics extension over the level (server_stats false when it
 * has none); network = round trip - server queue - server compute (>= 0). */
struct cvb_remote_result {
    bool used;
    char server[64];            /* "cvbench-serve-model 0.1", "" unknown */
    char payload[8];            /* "uint8" (NHWC) | "fp32" (NCHW) */
    int inflight;               /* requests in flight per stream at most */
    int connections;            /* keep-alive connections (streams x inflight) */
    double request_bytes;       /* per frame, mean */
    double response_bytes;
    double serialize_ms, roundtrip_ms, roundtrip_p99_ms, deserialize_ms;
    bool server_stats;
    int64_t server_requests;    /* requests the server counted during the level */
    double server_queue_ms;     /* per request, mean */
    double server_compute_ms;   /* per request: compute input + infer + output */
    double server_batch_mean;   /* items per server engine call */
    int server_instances;       /* from Triton's model configuration; 1 if unknown */
    double server_busy_pct;     /* compute time / (instances x level wall), 0..100 */
    double network_ms;          /* per request */
    double client_cpu_pct;      /* this process's CPU / cores it may use, 0..100 */
};

struct cvb_level_result {
    int level;                  /* index in the sweep, 0-based */
    int streams;
    int64_t frames;             /* measured frames (warm-up excluded) */
    int64_t warmup_frames;      /* frames excluded as warm-up, all streams */
    double duration_s;          /* measured wall time */
    double fps;                 /* total frames per second */
    double fps_per_stream;      /* mean over streams */
    double fps_per_stream_min;  /* slowest stream */
    double latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms,
        latency_mean_ms;
    struct cvb_stage_stat stages[CVB_STAGE_COUNT];
    double cpu_process_pct;     /* process CPU time / wall time, 100 = one core */
    double cpu_system_pct;      /* whole machine busy %, 0..100 */
    double engine_busy_pct;     /* inference instances busy time / (instances x wall), 0..100 */
    int engine_instances;
    int threads_per_instance;
    int64_t rss_start_bytes, rss_peak_bytes, rss_end_bytes, mem_estimate_bytes;
    int64_t dropped_frames;     /* camera pacing: frames skipped because the stream fell behind */
    int64_t late_frames;        /* camera pacing: frames released later than their slot */
    double lateness_p99_ms;
    /* Throughput windows, closed by completions: each holds at least
     * window_frames frames and spans at least window_s (src/pipeline/stats.h) */
    double window_s;
    int64_t window_frames;
    int n_windows;
    double window_fps[CVB_MAX_WINDOWS];
    double window_fps_min, window_fps_max;
    double window_cv_pct;       /* windows' standard deviation / mean, % */
    double window_drift_pct;    /* last third's mean - first third's, % of the mean (signed) */
    bool stable;                /* >= 3 windows, cv <= 5 %, |drift| <= 5 % */
    char bottleneck[CVB_RESULT_STR]; /* "inference-bound: engine busy 97 %" */
    char status[32];            /* "ok", "refused" (memory), "failed" */
    char error[256];            /* why refused/failed */
    /* RSS over time, bounded: (t_s, bytes) pairs sampled at >= 10 Hz, decimated when full */
    int n_rss;
    float rss_t_s[CVB_MAX_RSS_SAMPLES];
    int64_t rss_bytes[CVB_MAX_RSS_SAMPLES];
    /* Accuracy under load (scenario accuracy_sample; src/pipeline/accuracy.c):
     * detections the level produced on frames sampled while it ran, against
     * an fp32 reference engine's on the same frames, matched greedily by
     * score (same class, IoU >= 0.5), pooled over the frames. F1 = 2 matched
     * / (ref + test boxes); mean IoU over matched pairs; both 1.0 when
     * neither side has a box. accuracy_frames == 0: not measured (the other
     * fields are then 0). */
    int accuracy_frames;            /* frames sampled */
    int64_t accuracy_matched;       /* matched boxes */
    int64_t accuracy_ref_boxes;     /* boxes of the fp32 reference */
    int64_t accuracy_test_boxes;    /* boxes of the level (precision under test) */
    double accuracy_f1;             /* F1 at IoU 0.5, 0..1 */
    double accuracy_mean_iou;       /* of matched boxes, 0..1 */
    struct cvb_remote_result remote; /* backend kserve */
};

struct cvb_manifest {
    char run_id[40];            /* unique, e.g. "20261126-213000-ab12cd" */
    char started_at[32];        /* ISO 8601 UTC */
    char cvbench_version[32];
    char git_commit[48];
    char hostname[64];
    char cpu_model[CVB_RESULT_STR];
    char cpu_flags[CVB_RESULT_STR]; /* the relevant ones: "avx2 avx512f avx512_vnni" */
    int n_cpus;
    int64_t mem_total_bytes;
    char isa[32];               /* effective oneDNN ISA */
    int threads;
    char libraries[256];        /* "oneDNN 2.6.3, FFmpeg 5.1 (lavc 59.37), SQLite 3.40.1" */
    char model_path[256];
    char model_sha256[65];
    bool synthetic_weights;
    char model_input[64];       /* "images float32 [1,3,640,640]" */
    double model_gflops;
    char video_path[256];       /* first video; all listed in scenario_json */
    char video_desc[CVB_RESULT_STR]; /* "h264 1280x720 30.00 fps 300 frames" */
    char backend[16];           /* cpu | kserve | cuda */
    char precision[8];
    char mode[24];              /* pipeline | inference-only */
    char execution[16];         /* async | direct */
    char pacing[16];            /* max | camera */
    double target_fps;
    char scenario_json[2048];   /* the effective scenario, as JSON (truncated if longer) */
    /* Stream density (scenario.density): the largest N of camera-paced
     * streams that held target_fps within p99_ms; -1 when not a density run
     * (0: not even one stream did), and which levels decided it. */
    int density_streams;
    char density_decided[CVB_RESULT_STR];
};

/* Live progress of a level, for the progress line. */
struct cvb_progress {
    int level, n_levels;        /* 0-based level index and sweep length (0 if unknown: density) */
    int streams;
    int64_t frames_done, frames_total; /* all streams, warm-up included */
    double fps_now;             /* over the last window */
    double elapsed_s, eta_s;    /* eta < 0: unknown */
    bool warming_up;
    bool extending;             /* past frames_total, running until stable (or max_duration) */
};

/* One frame's record, for the optional per-frame samples table. */
struct cvb_frame_sample {
    int stream;
    int64_t frame;
    double t_s;                 /* completion time since the level started */
    float latency_ms;           /* frame ready (max pacing) or due (camera) to postprocess end */
    float stage_ms[CVB_STAGE_COUNT];
};
/* Per-frame samples stored per level are capped at this many (evenly decimated). */
#define CVB_MAX_FRAME_SAMPLES 20000

#endif
