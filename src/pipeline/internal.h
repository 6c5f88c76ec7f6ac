/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of src/pipeline/: /proc readers, engine
 * loading, and the accuracy sampler of a level. */
#ifndef CVB_PIPELINE_INTERNAL_H
#define CVB_PIPELINE_INTERNAL_H

#include "cvb/pipeline.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct cvb_detection;
struct cvb_detector;
struct cvb_engine;
struct cvb_letterbox;

/* Process CPU time (user + system) in seconds, from /proc/self/stat. */
double cvb__proc_cpu_s(void);
/* Whole-machine CPU jiffies from the first line of /proc/stat: busy and total. */
void cvb__sys_cpu(uint64_t *busy, uint64_t *total);
/* A field of /proc/meminfo in bytes ("MemAvailable"), or -1. */
int64_t cvb__meminfo(const char *key);
/* Give freed heap pages back to the kernel (malloc_trim). */
void cvb__trim(void);
/* Fix glibc's mmap threshold (see system.c), once per process. */
void cvb__malloc_policy(void);

/* Load scenario 's''s model (memory.c): 'threads' per instance, uint8 NHWC
 * frames when 'u8'; 'fp32' forces precision fp32 (the accuracy reference),
 * else the scenario's precision and calibration file. Errors name the model. */
int cvb__pipeline_load_engine(const struct cvb_scenario *s, int threads, bool u8, bool fp32,
                              struct cvb_engine **out, struct cvb_err *err);

/* ---- accuracy under load (accuracy.c) ----------------------------------------
 * A level keeps about accuracy_sample frames, every k-th measured completion
 * (k = expected measured frames / accuracy_sample), with the detections the
 * level produced for them; after the level they run through an fp32
 * reference engine and the two box sets are matched. Buffers are allocated
 * before the level starts; the hot path claims a slot with one atomic add
 * and copies into it. */
struct cvb__acc_sample;
struct cvb__acc {
    int cap;                   /* samples kept at most (0: off) */
    int64_t every;             /* k */
    atomic_llong seen;         /* measured completions counted */
    size_t frame_bytes;        /* S x S x 3 */
    uint8_t *frames;           /* cap x frame_bytes */
    struct cvb__acc_sample *samples; /* cap */
};
/* Bytes cvb__acc_init allocates for 's' (the memory estimate counts them). */
int64_t cvb__acc_bytes(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p);
/* Allocate the sample buffers of a level with 'streams' streams; a zeroed
 * 'a' stays off when scenario accuracy_sample is 0. Free with _cleanup. */
int cvb__acc_init(struct cvb__acc *a, const struct cvb_scenario *s,
                  const struct cvb_pipeline_probe *p, int streams, struct cvb_err *err);
void cvb__acc_cleanup(struct cvb__acc *a);
/* Hot path, any thread, after the frame's timestamps: count one measured
 * completion and, if it is sampled, copy 'frame' and its detections. With
 * 'det' (inference-only: no NMS ran) the detections are made here from
 * 'output' into 'dets' (room for CVB_DETECT_MAX_DET) first. Allocates nothing. */
void cvb__acc_keep(struct cvb__acc *a, struct cvb_detector *det, const float *output,
                   const uint8_t *frame, const struct cvb_letterbox *lb,
                   struct cvb_detection *dets, int n_dets);
/* After the level (threads joined, its engines freed): run the samples
 * through an fp32 engine with 'threads' threads, match, fill out->accuracy_*
 * and raise out->rss_peak_bytes to the RSS seen meanwhile. */
int cvb__acc_reference(struct cvb__acc *a, const struct cvb_scenario *s,
                       const struct cvb_pipeline_probe *p, int threads,
                       struct cvb_level_result *out, struct cvb_err *err);

/* The detector of a level for engine 'e''s output 0, with the options every
 * level and its accuracy reference share. Errors name the model and output. */
int cvb__pipeline_detector(const struct cvb_scenario *s, struct cvb_engine *e,
                           struct cvb_detector **out, struct cvb_err *err);
/* The engine input for letterboxed 'frame': the frame itself, or 'conv'
 * filled with its uint8 or float32 NCHW form when 'conv' is not NULL. */
const void *cvb__pipeline_input(const struct cvb_pipeline_probe *p, const uint8_t *frame,
                                void *conv);

/* Frames in a stream's pool: 1 (direct), CVB_PIPELINE_POOL_FRAMES (async),
 * inflight + 1 (async, backend kserve). */
int cvb__pipeline_slots(const struct cvb_scenario *s);

/* ---- backend kserve (remote.c) -------------------------------------------------
 * The server's model name for scenario 's' (kserve_model, or the model
 * file's name without .onnx). */
void cvb__remote_model_name(const struct cvb_scenario *s, char *out, size_t len);
/* Probe: open the server, check its model against the local one ('e',
 * loaded from s->model: the same input side and output shapes), fill p's
 * remote_* fields. Errors name the URL and model. */
int cvb__remote_probe(const struct cvb_scenario *s, struct cvb_engine *e,
                      struct cvb_pipeline_probe *p, struct cvb_err *err);
/* A level's client (one per level), opened before its first frame. */
struct cvb__remote;
struct cvb_kserve_conn;
struct cvb_kserve_remote;
int cvb__remote_open(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                     struct cvb__remote **out, struct cvb_err *err);
void cvb__remote_free(struct cvb__remote *r);
const struct cvb_kserve_remote *cvb__remote_info(const struct cvb__remote *r);
/* A connection for one worker (freed with cvb_kserve_conn_free). */
int cvb__remote_conn(struct cvb__remote *r, struct cvb_kserve_conn **out, struct cvb_err *err);
/* The server's statistics when the level starts, and the level's share of
 * them when it ends: fills o's server_* fields and network_ms (o's
 * roundtrip_ms must be set) and o's identity fields. */
void cvb__remote_begin(struct cvb__remote *r);
void cvb__remote_finish(struct cvb__remote *r, double level_s, struct cvb_remote_result *o);

#endif
