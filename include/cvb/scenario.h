/* SPDX-License-Identifier: Apache-2.0 */
/* A benchmark scenario: what to run, on what, how hard, and where results go.
 *
 * One table of fields drives the JSON file, the CLI flags and (later) the
 * API: a JSON field "frames" is the flag --frames; dashes in flag names are
 * underscores in JSON. Relative paths resolve against the directory of the
 * file that names them (the scenario file's directory; the working directory
 * only for paths given on the command line). Unknown fields and out-of-range
 * values are errors that name the field. */
#ifndef CVB_SCENARIO_H
#define CVB_SCENARIO_H

#include "cvb/common.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#define CVB_SCN_PATH 1024
#define CVB_SCN_MAX_BYTES (1 << 20) /* a scenario file or request body */
#define CVB_SCN_MAX_VIDEOS 64
#define CVB_SCN_MAX_LEVELS 32
#define CVB_SCN_MAX_STREAMS 1024
#define CVB_SCN_MAX_ACCURACY_SAMPLE 1024
#define CVB_SCN_MAX_INFLIGHT 16

struct cvb_scenario {
    char model[CVB_SCN_PATH];
    int n_videos;
    char videos[CVB_SCN_MAX_VIDEOS][CVB_SCN_PATH]; /* streams take them round-robin */
    char backend[16];       /* cpu | kserve (cuda: not implemented yet) */
    char kserve_url[256];   /* kserve: http://HOST:PORT of a KServe v2 server */
    char kserve_model[128]; /* kserve: model name there ("" = the model file's name) */
    int inflight;           /* kserve: requests in flight per stream (default 2) */
    char worker_tag[32];    /* service: only workers started with --tag worker_tag take it */
    char isa[24];           /* auto | amx | avx512_vnni | avx512 | avx2 */
    char precision[8];      /* fp32 | bf16 | int8 */
    char calib[CVB_SCN_PATH]; /* int8: calibration file from `cvbench model calibrate` */
    char kernels[8];        /* onednn | ref */
    int threads;            /* 0 = all cores the process may use */
    int n_levels;
    int streams[CVB_SCN_MAX_LEVELS]; /* concurrency levels; default 1,2,4,...,64 capped by budget */
    bool streams_given;     /* the user chose the levels (no capping, refuse instead) */
    int frames;             /* measured frames per stream per level (default 210) */
    int warmup;             /* warm-up frames per stream, excluded (default 10) */
    char mode[24];          /* pipeline | inference-only */
    int ring_frames;        /* inference-only: preprocessed frames cycled per stream (default 8) */
    char execution[16];     /* async | direct */
    int inference_streams;  /* async: engine instances; 0 = chosen from the core count */
    char pacing[16];        /* max | camera */
    double target_fps;      /* camera pacing rate and density target (default 30) */
    int64_t memory_budget;  /* bytes; 0 = 80 % of MemAvailable or the cgroup limit */
    double min_duration;    /* s; run each level at least this long (default 0) */
    double max_duration;    /* s; an unstable level runs past 'frames' up to this (default 60; 0: never) */
    double window;          /* s; a throughput window spans at least this (default 1) */
    int window_frames;      /* a throughput window holds at least this many frames (default 50) */
    bool density;           /* search the largest stream count meeting target_fps and p99_ms */
    double p99_ms;          /* density latency budget (default 100) */
    int imgsz;              /* 0 = the model's own input size */
    char json[CVB_SCN_PATH];
    char csv[CVB_SCN_PATH];
    char report[CVB_SCN_PATH];
    char db[CVB_SCN_PATH];  /* SQLite results database (default cvbench.db) */
    bool save_frames;       /* store per-frame samples in the db (bounded) */
    int accuracy_sample;    /* frames per level kept to check detections against an fp32
                               reference after the level (default 16; 0 = off) */
};

/* Fill 's' with the defaults. */
void cvb_scenario_defaults(struct cvb_scenario *s);
/* Apply the scenario JSON object in buf[0..len) (not NUL-terminated; at
 * most CVB_SCN_MAX_BYTES, no NUL bytes) on top of 's'. Relative paths in it
 * resolve against 'base_dir' (NULL or "": left relative); 'origin' names
 * the input in errors (a file path, or "request body"). Returns 0 or a
 * negative status with 'err' naming the origin and the field; fields
 * applied before an error stay applied. */
int cvb_scenario_apply_json_buffer(struct cvb_scenario *s, const void *buf, size_t len,
                                   const char *origin, const char *base_dir,
                                   struct cvb_err *err);
/* The same for a NUL-terminated string. */
int cvb_scenario_apply_json(struct cvb_scenario *s, const char *json_text, const char *origin,
                            const char *base_dir, struct cvb_err *err);
/* Read the file at 'path' and apply it with cvb_scenario_apply_json_buffer()
 * (relative paths against the file's directory). */
int cvb_scenario_load_file(struct cvb_scenario *s, const char *path, struct cvb_err *err);
/* Set one field from its flag name ("frames" or "memory-budget") and text
 * value, as the CLI does; relative paths resolve against 'base_dir'.
 * Repeatable fields (video) append on each call after the first reset. */
int cvb_scenario_set(struct cvb_scenario *s, const char *name, const char *value,
                     const char *base_dir, struct cvb_err *err);
/* Whether 'name' (flag spelling) is a scenario field, and whether it takes a value. */
bool cvb_scenario_has_field(const char *name, bool *takes_value);
/* Cross-field checks (a model and a video are set, levels ascending, ...). */
int cvb_scenario_validate(const struct cvb_scenario *s, struct cvb_err *err);
/* The effective scenario as a JSON object; returns the length written
 * (truncated to len-1 like snprintf). */
int cvb_scenario_to_json(const struct cvb_scenario *s, char *buf, size_t len);

#endif
