/* SPDX-License-Identifier: Apache-2.0 */
/* Memory admission: the probe that learns a run's sizes once, the memory
 * model of a level, and the engine-instance rule.
 *
 * The model (bytes above the process's RSS before the level):
 *   engines    instances x (engine_bytes            measured: RSS growth of
 *                                                    loading + running one
 *                                                    instance in the probe
 *                           + conversion buffer      float/NCHW input, if the
 *                                                    engine does not take the
 *                                                    uint8 frame as it is
 *                           + outputs + detector     ~ 1.5 x output bytes
 *                           + OpenMP team stacks)
 *              (kserve: connections x (request + response buffers + outputs +
 *              CONN_FIXED) instead: the engines run in the server)
 *   frames     pipeline/async:  streams x POOL x S*S*3 (kserve: inflight + 1)
 *              pipeline/direct: streams x 1 x S*S*3
 *              inference-only:  distinct videos x ring x S*S*3 (one ring per
 *                               video, shared read-only by its streams)
 *   decoders   pipeline: streams x (decoder_bytes + DECODER_FIXED)
 *              inference-only: one, transiently, while the rings are filled
 *   per_stream streams x PER_STREAM (thread stack pages, stream state);
 *              direct: + each stream thread's OpenMP team (it calls the engine)
 *   fixed      statistics, queues, RSS timeline
 *   accuracy   accuracy_sample x (S*S*3 + one sample's detections)
 * and after the level, once those are freed, its accuracy reference:
 *   reference  one fp32 engine (reference_bytes, measured by the probe) +
 *              buffers, beside the samples
 * The estimate is the larger of the two phases.
 * It is checked after every level: measured peak RSS must stay within
 * 1.25 x (baseline + estimate). */
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/video.h"
#include "pipeline/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB ((int64_t)1 << 20)
/* codec context, demuxer buffers, packet, swscale context and its tables */
#define DECODER_FIXED (3 * MiB)
#define PER_STREAM (256 * 1024)
#define FIXED (4 * MiB)
#define OMP_THREAD_BYTES (256 * 1024)
/* kserve: a connection's libcurl handle, socket buffers, its thread's stack pages */
#define CONN_FIXED (256 * 1024)

int cvb__pipeline_slots(const struct cvb_scenario *s) {
    if (strcmp(s->execution, "direct") == 0) return 1;
    if (strcmp(s->backend, "kserve") != 0) return CVB_PIPELINE_POOL_FRAMES;
    int n = s->inflight + 1;
    return n > CVB_PIPELINE_MAX_SLOTS ? CVB_PIPELINE_MAX_SLOTS : n < 2 ? 2 : n;
}

void cvb_pipeline_instances(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                            int streams, int *instances, int *threads_per_instance) {
    int cores = s->threads > 0 ? s->threads : (p && p->n_cpus > 0 ? p->n_cpus : cvb_engine_default_threads());
    if (strcmp(s->backend, "kserve") == 0) {
        *instances = streams * (s->inflight > 0 ? s->inflight : 1);
        *threads_per_instance = cores < 1 ? 1 : cores;
        return;
    }
    /* Auto: cores / 4 instances (>= 4 threads each on big machines), but at
     * least 2 where there are 2 cores or more. One team spanning all the
     * cores of a small machine loses throughput to its barriers: every
     * oneDNN primitive forks and joins the team, and a decode thread that
     * preempts one member stalls the others. Measured on 2 cores, yolov8n
     * 640 (bench/pipeline.md): 2x1 gave 24-26 fps inference-only against
     * 18-19 for 1x2, and pipeline mode 93-103 % of inference-only against
     * 86-90 %; a trivial one-conv model ran ~43k fps against 5-8k. One
     * stream still gets every core (n <= streams below), for latency. */
    int n = s->inference_streams > 0 ? s->inference_streams : cores / 4;
    if (s->inference_streams <= 0 && n < 2) n = cores < 2 ? 1 : 2;
    if (n < 1) n = 1;
    if (n > streams) n = streams;
    if (n < 1) n = 1;
    int t = cores / n;
    *instances = n;
    *threads_per_instance = t < 1 ? 1 : t;
}

void cvb_pipeline_estimate(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                           int streams, struct cvb_mem_estimate *e) {
    memset(e, 0, sizeof *e);
    int inst = 0, tpi = 0;
    cvb_pipeline_instances(s, p, streams, &inst, &tpi);
    int64_t frame = 3 * (int64_t)p->imgsz * p->imgsz;
    int64_t conv = p->input_u8 ? 0 : p->input_bytes;
    if (p->remote)
        e->engines = inst * (p->remote_request_bytes + p->remote_response_bytes +
                             p->output_bytes * 3 / 2 + CONN_FIXED);
    else
        e->engines = inst * (p->engine_bytes + conv + p->output_bytes * 3 / 2 +
                             (int64_t)tpi * OMP_THREAD_BYTES);
    bool ionly = strcmp(s->mode, "inference-only") == 0;
    bool direct = strcmp(s->execution, "direct") == 0;
    if (ionly) {
        int n_rings = streams < s->n_videos ? streams : s->n_videos;
        if (n_rings < 1) n_rings = 1;
        e->frames = (int64_t)n_rings * s->ring_frames * frame;
        e->decoders = p->decoder_bytes + DECODER_FIXED;
    } else {
        e->frames = (int64_t)streams * cvb__pipeline_slots(s) * frame;
        e->decoders = (int64_t)streams * (p->decoder_bytes + DECODER_FIXED);
    }
    e->per_stream = (int64_t)streams * PER_STREAM;
    /* direct: every stream thread that calls the engine owns an OpenMP team */
    if (direct && !p->remote) e->per_stream += (int64_t)streams * tpi * OMP_THREAD_BYTES;
    e->fixed = FIXED;
    e->accuracy = cvb__acc_bytes(s, p);
    e->total = e->engines + e->frames + e->decoders + e->per_stream + e->fixed + e->accuracy;
    /* The accuracy reference runs after the level's engines, frames and
     * decoders are freed: one fp32 engine beside the samples. The peak is
     * the larger of the two phases. */
    if (e->accuracy > 0) {
        e->reference = p->reference_bytes + conv + p->output_bytes * 3 / 2 +
                       (int64_t)tpi * OMP_THREAD_BYTES;
        int64_t phase = e->accuracy + e->reference + e->fixed;
        if (phase > e->total) e->total = phase;
    }
}

/* Provided by the engine as it gains them; weak so this builds before. */
#pragma weak cvb_engine_isa

static void engine_opts(const struct cvb_scenario *s, int threads, bool u8, bool fp32,
                        struct cvb_engine_opts *o) {
    memset(o, 0, sizeof *o);
    o->kernels = strcmp(s->kernels, "ref") == 0 ? CVB_KERNELS_REF : CVB_KERNELS_ONEDNN;
    o->imgsz = s->imgsz;
    o->threads = threads;
    o->input_format = u8 ? CVB_INPUT_U8_NHWC : CVB_INPUT_F32_NCHW;
    o->isa = strcmp(s->isa, "auto") == 0 ? NULL : s->isa;
    if (!fp32) {
        cvb_precision_parse(s->precision, &o->precision); /* validated: one of the three */
        o->calib = s->calib[0] ? s->calib : NULL;
    }
}

/* Load scenario 's''s model with 'threads' threads per instance, taking
 * letterboxed uint8 NHWC frames directly when 'u8' (the probe decides:
 * only if the engine then reports a uint8 [1,S,S,3] input); in fp32 when
 * 'fp32', else in the scenario's precision. Shared with the level code.
 * Errors name the model file. */
int cvb__pipeline_load_engine(const struct cvb_scenario *s, int threads, bool u8, bool fp32,
                              struct cvb_engine **out, struct cvb_err *err) {
    struct cvb_engine_opts o;
    engine_opts(s, threads, u8, fp32, &o);
    int rc = cvb_engine_load(s->model, &o, out, err);
    if (rc < 0 && err != NULL && strstr(err->msg, s->model) == NULL)
        cvb_err_prefix(err, "model %s", s->model);
    return rc;
}

/* oneDNN keeps the primitives it creates in a process-wide cache, keyed
 * among other things by the number of threads they were made for. A level
 * whose threads per instance differ from every earlier one's adds ~3 MiB
 * to that cache (yolov8n 640: 1-thread primitives at 2 streams after a
 * 2-thread first level), and the memory contract then reports RSS that
 * did not return to its baseline. So the probe creates, runs once and frees
 * an engine for every other thread count the scenario's levels will use
 * (and their fp32 accuracy reference), before any level's baseline.
 * 'done_tpi' was already warmed by the probe's own engine. */
static int warm_thread_counts(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                              int done_tpi, const void **ins, void **outs,
                              struct cvb_err *err) {
    int seen[32], n_seen = 0, max_streams = 1;
    seen[n_seen++] = done_tpi;
    for (int i = 0; i < s->n_levels; i++)
        if (s->streams[i] > max_streams) max_streams = s->streams[i];
    bool ref = s->accuracy_sample > 0 && strcmp(s->precision, "fp32") != 0;
    for (int n = 1; n <= max_streams && n_seen < (int)CVB_ARRAY_LEN(seen); n++) {
        int inst = 0, tpi = 0;
        cvb_pipeline_instances(s, p, n, &inst, &tpi);
        bool known = false;
        for (int k = 0; k < n_seen; k++) known = known || seen[k] == tpi;
        if (known) continue;
        seen[n_seen++] = tpi;
        for (int fp32 = 0; fp32 <= (ref ? 1 : 0); fp32++) {
            struct cvb_engine *w = NULL;
            int rc = cvb__pipeline_load_engine(s, tpi, true, fp32 != 0, &w, err);
            if (rc == 0) rc = cvb_engine_run(w, ins, outs, err);
            cvb_engine_free(w);
            if (rc < 0) {
                cvb_err_prefix(err, "model %s: warming %d-thread engines", s->model, tpi);
                return rc;
            }
        }
    }
    return 0;
}

int cvb_pipeline_probe(const struct cvb_scenario *s, struct cvb_pipeline_probe *p,
                       struct cvb_err *err) {
    int rc = 0;
    struct cvb_engine *e = NULL, *ref = NULL;
    void *in = NULL, **outs = NULL;
    struct cvb_video *v = NULL;
    memset(p, 0, sizeof *p);
    p->n_cpus = cvb_engine_default_threads();
    /* Load with the widest OpenMP team any level will use (the smallest
     * level's): the team threads libgomp starts for this (main) thread, and
     * their per-thread state, then exist before the first level's RSS
     * baseline instead of showing up as growth that outlives that level. */
    int min_streams = s->n_levels > 0 ? s->streams[0] : 1;
    for (int i = 0; i < s->n_levels; i++)
        if (s->streams[i] < min_streams) min_streams = s->streams[i];
    if (min_streams < 1) min_streams = 1;
    int inst = 0, tpi = 0;
    cvb_pipeline_instances(s, p, min_streams, &inst, &tpi);

    if (strcmp(s->backend, "cpu") != 0 && strcmp(s->backend, "kserve") != 0) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "backend '%s' is not available in this build (only 'cpu' and 'kserve')",
                         s->backend);
        goto out;
    }
    cvb__malloc_policy();
    cvb__trim();
    int64_t rss0 = cvb_pipeline_rss_bytes();
    rc = cvb__pipeline_load_engine(s, tpi, true, false, &e, err);
    if (rc < 0) goto out;
    snprintf(p->isa, sizeof p->isa, "%s", cvb_engine_isa ? cvb_engine_isa(e) : s->isa);
    struct cvb_tensor_info ti;
    if (cvb_engine_n_inputs(e) != 1) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "model %s: has %d inputs; a detection model has one image input",
                         s->model, cvb_engine_n_inputs(e));
        goto out;
    }
    cvb_engine_input_info(e, 0, &ti);
    bool f32 = strcmp(ti.dtype, "float32") == 0, u8 = strcmp(ti.dtype, "uint8") == 0;
    bool nchw = ti.ndim == 4 && ti.dims[0] == 1 && ti.dims[1] == 3 && ti.dims[2] == ti.dims[3];
    bool nhwc = ti.ndim == 4 && ti.dims[0] == 1 && ti.dims[3] == 3 && ti.dims[1] == ti.dims[2];
    if (!((f32 && nchw) || (u8 && (nchw || nhwc)))) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                         "model %s: input '%s' is %s with %d dims; expected float32 or uint8 "
                         "[1,3,S,S] (or uint8 [1,S,S,3])",
                         s->model, ti.name, ti.dtype, ti.ndim);
        goto out;
    }
    p->imgsz = (int)(nchw ? ti.dims[2] : ti.dims[1]);
    p->input_u8 = u8 && nhwc;
    p->input_bytes = (int64_t)ti.bytes;
    snprintf(p->model_input, sizeof p->model_input, "%s %s [%lld,%lld,%lld,%lld]", ti.name,
             ti.dtype, (long long)ti.dims[0], (long long)ti.dims[1], (long long)ti.dims[2],
             (long long)ti.dims[3]);
    int n_out = cvb_engine_n_outputs(e);
    outs = calloc((size_t)n_out, sizeof *outs);
    in = calloc(1, ti.bytes);
    if (outs == NULL || in == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "probe: out of memory");
        goto out;
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info oi;
        cvb_engine_output_info(e, i, &oi);
        p->output_bytes += (int64_t)oi.bytes;
        outs[i] = malloc(oi.bytes ? oi.bytes : 1);
        if (outs[i] == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "probe: out of memory");
            goto out;
        }
    }
    if (f32) {
        float *f = in;
        for (int64_t i = 0; i < ti.numel; i++) f[i] = 114.0f / 255.0f;
    } else {
        memset(in, 114, ti.bytes);
    }
    const void *ins[1] = {in};
    rc = cvb_engine_run(e, ins, outs, err);
    if (rc < 0) {
        cvb_err_prefix(err, "model %s", s->model);
        goto out;
    }
    struct cvb_model_info mi;
    cvb_engine_model_info(e, &mi);
    p->weights_bytes = mi.n_params * 4;
    p->activation_bytes = mi.activation_bytes;
    p->gflops = mi.flops / 1e9;
    p->synthetic = mi.synthetic;
    int64_t rss1 = cvb_pipeline_rss_bytes();
    int64_t formula = p->weights_bytes * 2 + p->activation_bytes;
    p->engine_bytes = rss1 - rss0 - p->output_bytes - p->input_bytes;
    if (p->engine_bytes < formula) p->engine_bytes = formula;
    p->reference_bytes = p->engine_bytes;
    if (s->accuracy_sample > 0 && strcmp(s->precision, "fp32") != 0) {
        /* The accuracy reference is an fp32 engine: measure it the same way,
         * and let oneDNN cache its primitives now rather than during the
         * first level (where they would look like RSS the level kept). */
        rc = cvb__pipeline_load_engine(s, tpi, true, true, &ref, err);
        if (rc == 0) rc = cvb_engine_run(ref, ins, outs, err);
        if (rc < 0) {
            cvb_err_prefix(err, "accuracy reference (fp32)");
            goto out;
        }
        p->reference_bytes = cvb_pipeline_rss_bytes() - rss1;
        if (p->reference_bytes < formula) p->reference_bytes = formula;
    }
    rc = warm_thread_counts(s, p, tpi, ins, outs, err);
    if (rc < 0) goto out;
    if (strcmp(s->backend, "kserve") == 0) {
        rc = cvb__remote_probe(s, e, p, err);
        if (rc < 0) goto out;
    }

    p->n_videos = s->n_videos;
    for (int i = 0; i < s->n_videos; i++) {
        struct cvb_video_opts vo = {.out_size = p->imgsz, .threads = 1, .loop = 0};
        rc = cvb_video_open(s->videos[i], &vo, &v, err);
        if (rc < 0) goto out;
        const struct cvb_video_info *vi = cvb_video_info(v);
        int64_t db = vi->decoder_bytes > 0 ? vi->decoder_bytes
                                           : (int64_t)vi->width * vi->height * 3 / 2 * 8;
        if (db > p->decoder_bytes) p->decoder_bytes = db;
        if (vi->width > p->max_video_w) p->max_video_w = vi->width;
        if (vi->height > p->max_video_h) p->max_video_h = vi->height;
        if (i == 0)
            snprintf(p->video_desc, sizeof p->video_desc, "%s %dx%d %.2f fps %lld frames (%s)",
                     vi->codec, vi->width, vi->height, vi->fps, (long long)vi->n_frames,
                     vi->container);
        cvb_video_close(v);
        v = NULL;
    }
out:
    cvb_video_close(v);
    if (outs != NULL) {
        for (int i = 0; e != NULL && i < cvb_engine_n_outputs(e); i++) free(outs[i]);
        free(outs);
    }
    free(in);
    cvb_engine_free(ref);
    cvb_engine_free(e);
    cvb__trim();
    return rc;
}
