/* SPDX-License-Identifier: Apache-2.0 */
/* Running one concurrency level: streams, stage threads, queues, pacing,
 * per-frame timing, and the level's statistics.
 *
 * Threads and buffers (nothing here is allocated per frame):
 *
 *   async execution
 *     stream k: producer thread  --(pool slot index)-->  ready queue  --> worker i
 *       pipeline: decode + letterbox into one of its POOL frames (uint8 SxSx3)
 *       inference-only: point at frame (n mod R) of its video's shared ring
 *     worker i (one per engine instance, "inference stream"): pops a job,
 *       converts the frame if the engine does not take uint8 NHWC, runs the
 *       engine, decodes boxes + NMS (pipeline mode), records the frame, and
 *       hands the slot back to its stream's free list.
 *     Postprocess runs on the worker, right after inference: NMS costs well
 *     under a millisecond against tens for inference, and doing it there
 *     needs one output buffer per instance; a separate stage would need a
 *     pool of output tensors (2.7 MB each at 640) and another hand-off.
 *
 *   direct execution
 *     stream k: one thread decodes into its single frame, then takes an engine
 *     instance from the pool (a counting semaphore: instances x threads never
 *     exceeds the cores), converts, runs, postprocesses, gives it back. The
 *     wait for an instance is the "queue" stage. Each stream thread that
 *     calls the engine owns an OpenMP team of threads_per_instance threads
 *     (oneDNN's OpenMP runtime gives every calling thread its own team); at
 *     most 'instances' of those teams run at once, the others sleep.
 *
 *   inference-only mode measures the engine fed from memory: no decode and
 *   no postprocess per frame (rings are letterboxed once, before the level);
 *   pipeline mode does all of it.
 *
 * Invariants:
 *   1. A frame buffer is owned by exactly one party at a time: the stream's
 *      free list, the producer (decoding into it), or the ready queue/worker.
 *      Ring frames are written once, before any thread starts, and then only
 *      read, so many jobs may point at the same ring frame.
 *   2. In flight per stream <= POOL (async) or 1 (direct), so the ready queue
 *      (capacity streams x POOL) can never be full when a producer pushes.
 *   3. Every released frame completes: producers stop releasing when asked
 *      (interrupt, error, end of frames), workers drain the queue and exit
 *      only when every producer has finished and the queue is empty.
 *
 * Pacing:
 *   max     a stream releases its next frame as soon as it has a free slot;
 *           latency runs from the moment the frame is ready (decoded and
 *           letterboxed, or taken from the ring) to its detections, so it
 *           includes the time the frame waits in its stream's pool for an
 *           engine instance (the queue stage), not its decode.
 *   camera  frame n of a stream is due at t0 + n / fps. The producer sleeps
 *           until then; if it gets to a frame a full period (or more) after
 *           it was due (no free slot: the pipeline is behind), the frames it
 *           missed are dropped, as a camera's would be, and counted; a frame
 *           started more than 10 % of a period late counts as late. Latency
 *           runs from the due time, so queueing behind a slow engine shows.
 *
 * Warm-up: the first 'warmup' frames of each stream are processed but not
 * measured; the measured wall time runs from the first measured frame's
 * release to the last frame's end.
 *
 * Length and stability: a level releases warmup + frames slots per stream,
 * then keeps releasing while its throughput windows are not yet stable, up
 * to max_duration (check_extension(); windows and the rule in stats.h). */
#include "cvb/detect.h"
#include "cvb/engine.h"
#include "cvb/video.h"
#include "kserve/client.h"
#include "pipeline/internal.h"
#include "pipeline/stats.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define STREAM_STACK_BYTES ((size_t)2 << 20)
#define MONITOR_TICK_NS 50000000ull /* 20 Hz RSS sampling */

struct job {
    int stream;
    int slot;                 /* pool slot / in-flight token, returned when done */
    const uint8_t *frame;     /* S x S x 3 uint8 */
    struct cvb_letterbox lb;
    int64_t n;                /* frame number within the stream (slot counter) */
    uint64_t t_release;       /* released: due time (camera) or before decode (max) */
    uint64_t t_origin;        /* latency origin: due time (camera) or frame ready (max) */
    uint64_t t_push;          /* entered the queue / started waiting for an engine */
    uint64_t decode_ns, letterbox_ns;
    int64_t lateness_ns;      /* camera: start - due */
};

struct stream {
    struct level *lv;
    int id;
    pthread_t th;
    bool started;
    void *stack;              /* mmap'ed thread stack (STREAM_STACK_BYTES), unmapped after join */
    struct cvb_video *video;  /* pipeline mode */
    uint8_t *pool;            /* pipeline: n_slots frames; inference-only: NULL */
    const uint8_t *ring;      /* inference-only: the video's shared ring */
    const struct cvb_letterbox *ring_lb;
    int n_slots;
    pthread_mutex_t m;
    pthread_cond_t cv;
    int free_slots[CVB_PIPELINE_MAX_SLOTS];
    int n_free;
    /* written by the producer only */
    int64_t dropped, late;
    bool past_total;
    /* under the collector lock */
    int64_t measured;
    uint64_t first_start, first_end, last_end;
    bool warm_done;
};

struct worker {
    struct level *lv;
    int id;
    pthread_t th;
    bool started;
    struct cvb_engine *e;
    struct cvb_kserve_conn *conn; /* backend kserve: instead of the engine */
    void *conv;               /* conversion buffer (float32 or uint8 NCHW) or NULL */
    void **outs;
    int n_outs;
    struct cvb_detector *det;
    struct cvb_detection dets[CVB_DETECT_MAX_DET];
};

struct level {
    const struct cvb_scenario *s;
    const struct cvb_pipeline_probe *p;
    const struct cvb_pipeline_hooks *hooks;
    int n_streams, n_inst, tpi;
    bool ionly, direct, camera;
    int64_t total;            /* slots per stream without extension: warmup + frames */
    int warmup;
    uint64_t period_ns;
    uint64_t t0;
    size_t frame_bytes;

    atomic_int stop;          /* interrupt or error: release no more frames */
    atomic_int extend;        /* keep releasing past 'total' (until stable, see check_extension) */
    atomic_int streams_past_total; /* streams that have released all their 'total' slots */
    atomic_int producers_left;
    atomic_llong released, completed, completed_measured;

    struct stream *st;
    struct worker *wk;
    uint8_t **rings;          /* per distinct video (inference-only) */
    struct cvb_letterbox *ring_lbs;
    int n_rings;

    /* ready queue (async) */
    pthread_mutex_t qm;
    pthread_cond_t qcv;
    struct job *q;
    int qcap, qhead, qn;

    /* engine pool (direct) */
    pthread_mutex_t pm;
    pthread_cond_t pcv;
    int *free_inst;
    int n_free_inst;

    /* first error */
    pthread_mutex_t em;
    struct cvb_err err;
    int rc;

    /* collector: everything recorded per completed frame */
    pthread_mutex_t cm;
    struct cvb_hist lat, stage[CVB_STAGE_COUNT], lateness;
    double conv_ns, post_ns, infer_ns, prod_ns, decode_ns; /* measured frames, sums */
    double busy_infer_ns, busy_worker_ns, busy_prod_ns;    /* all frames */
    uint64_t last_end_any;
    struct cvb_windows win;
    uint64_t first_measured_start, last_end;
    int n_warm_done;
    int64_t warmup_done;
    uint64_t rng;
    int64_t n_seen_samples;

    struct cvb__acc acc;      /* accuracy under load: sampled frames (accuracy.c) */

    /* backend kserve (remote.c): sums over every request, under the collector lock */
    struct cvb__remote *rm;
    double ser_ns, rtt_ns, deser_ns, req_bytes, resp_bytes;
    int64_t n_remote;
};

static void set_error(struct level *lv, int rc, const struct cvb_err *err) {
    pthread_mutex_lock(&lv->em);
    if (lv->rc == 0) {
        lv->rc = rc;
        lv->err = *err;
    }
    pthread_mutex_unlock(&lv->em);
    atomic_store(&lv->stop, 1);
}

static bool stopping(struct level *lv) {
    if (atomic_load(&lv->stop)) return true;
    if (lv->hooks && lv->hooks->stop && *lv->hooks->stop) {
        atomic_store(&lv->stop, 1);
        return true;
    }
    return false;
}

static void sleep_until(uint64_t t_ns) {
    struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
                          .tv_nsec = (long)(t_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static uint64_t xorshift(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* ---- recording a finished frame --------------------------------------------- */

static void record(struct level *lv, const struct job *j, uint64_t queue_ns, uint64_t conv_ns,
                   uint64_t infer_ns, uint64_t post_ns, uint64_t t_end,
                   const struct cvb_kserve_timing *tm) {
    struct stream *st = &lv->st[j->stream];
    bool measured = j->n >= lv->warmup;
    pthread_mutex_lock(&lv->cm);
    /* Busy time counts every frame, warm-up included: while one stream warms
     * up, others are measured on the same engines. */
    lv->busy_infer_ns += infer_ns;
    lv->busy_worker_ns += infer_ns + post_ns + conv_ns;
    lv->busy_prod_ns += j->decode_ns + j->letterbox_ns;
    if (t_end > lv->last_end_any) lv->last_end_any = t_end;
    if (tm != NULL) {
        /* every request, warm-up included, like the server's statistics */
        lv->ser_ns += (double)tm->serialize_ns;
        lv->rtt_ns += (double)tm->network_ns;
        lv->deser_ns += (double)tm->deserialize_ns;
        lv->req_bytes += (double)tm->request_bytes;
        lv->resp_bytes += (double)tm->response_bytes;
        lv->n_remote++;
    }
    if (!measured) {
        lv->warmup_done++;
        pthread_mutex_unlock(&lv->cm);
        return;
    }
    atomic_fetch_add(&lv->completed_measured, 1);
    uint64_t t_start = j->t_release;
    bool opens_windows = false;
    if (!st->warm_done) {
        st->warm_done = true;
        if (++lv->n_warm_done == lv->n_streams) opens_windows = true;
    }
    if (st->measured == 0 || t_start < st->first_start) st->first_start = t_start;
    if (st->measured == 0 || t_end < st->first_end) st->first_end = t_end;
    if (t_end > st->last_end) st->last_end = t_end;
    st->measured++;
    if (lv->first_measured_start == 0 || t_start < lv->first_measured_start)
        lv->first_measured_start = t_start;
    if (t_end > lv->last_end) lv->last_end = t_end;
    uint64_t lat = t_end > j->t_origin ? t_end - j->t_origin : 0;
    cvb__hist_add(&lv->lat, lat);
    uint64_t stage_ns[CVB_STAGE_COUNT] = {0};
    stage_ns[CVB_STAGE_DECODE] = j->decode_ns;
    stage_ns[CVB_STAGE_PREPROCESS] = j->letterbox_ns + conv_ns;
    stage_ns[CVB_STAGE_QUEUE] = queue_ns;
    stage_ns[CVB_STAGE_INFER] = infer_ns;
    stage_ns[CVB_STAGE_POSTPROCESS] = post_ns;
    for (int i = 0; i < CVB_STAGE_COUNT; i++) cvb__hist_add(&lv->stage[i], stage_ns[i]);
    if (lv->camera) cvb__hist_add(&lv->lateness, j->lateness_ns > 0 ? (uint64_t)j->lateness_ns : 0);
    lv->conv_ns += conv_ns;
    lv->post_ns += post_ns;
    lv->infer_ns += infer_ns;
    lv->prod_ns += j->decode_ns + j->letterbox_ns;
    lv->decode_ns += j->decode_ns;
    /* Throughput windows start when every stream is past its warm-up: the
     * completion that ends the last warm-up opens the first window. */
    if (opens_windows)
        cvb__windows_open(&lv->win, (double)(t_end - lv->t0) / 1e9);
    else
        cvb__windows_add(&lv->win, (double)(t_end - lv->t0) / 1e9);
    const struct cvb_pipeline_hooks *h = lv->hooks;
    if (h && h->samples && h->max_samples > 0 && h->n_samples) {
        int max = h->max_samples < CVB_MAX_FRAME_SAMPLES ? h->max_samples : CVB_MAX_FRAME_SAMPLES;
        int64_t k = lv->n_seen_samples++;
        int at = -1;
        if (k < max) {
            at = (int)k;
            *h->n_samples = (int)k + 1;
        } else {
            uint64_t r = xorshift(&lv->rng) % (uint64_t)(k + 1);
            if (r < (uint64_t)max) at = (int)r;
        }
        if (at >= 0) {
            struct cvb_frame_sample *fs = &h->samples[at];
            fs->stream = j->stream;
            fs->frame = j->n - lv->warmup;
            fs->t_s = (double)(t_end - lv->t0) / 1e9;
            fs->latency_ms = (float)(lat / 1e6);
            for (int i = 0; i < CVB_STAGE_COUNT; i++) fs->stage_ms[i] = (float)(stage_ns[i] / 1e6);
        }
    }
    pthread_mutex_unlock(&lv->cm);
}

/* ---- the per-frame work on an engine instance ----------------------------------- */

/* Convert, infer, postprocess and record job 'j' on worker 'w'. Backend
 * kserve: the request's serialisation counts as conversion (preprocess),
 * its round trip as inference, its deserialisation as postprocess. */
static int process(struct level *lv, struct worker *w, const struct job *j, uint64_t queue_ns) {
    struct cvb_err err = {0};
    struct cvb_kserve_timing tm = {0};
    int rc;
    uint64_t t0 = cvb_now_ns(), t1, t2;
    if (w->conn != NULL) {
        rc = cvb_kserve_conn_infer(w->conn, j->frame, (float *const *)w->outs, &tm, &err);
        t2 = cvb_now_ns();
        /* timings of the client's phases: the round trip is the "inference" */
        uint64_t tot = t2 - t0, pre = tm.serialize_ns < tot ? tm.serialize_ns : tot;
        t1 = t0 + pre;
        uint64_t net = tm.network_ns < tot - pre ? tm.network_ns : tot - pre;
        t2 = t1 + net; /* the deserialisation joins the postprocess below */
    } else {
        const void *in = cvb__pipeline_input(lv->p, j->frame, w->conv);
        t1 = cvb_now_ns();
        const void *ins[1] = {in};
        rc = cvb_engine_run(w->e, ins, w->outs, &err);
        t2 = cvb_now_ns();
    }
    if (rc < 0) {
        if (w->conn != NULL) /* the client's messages name the server */
            cvb_err_prefix(&err, "kserve: stream %d frame %lld", j->stream, (long long)j->n);
        else
            cvb_err_prefix(&err, "model %s: stream %d frame %lld", lv->s->model, j->stream,
                           (long long)j->n);
        set_error(lv, rc, &err);
        return rc;
    }
    int n_dets = 0;
    if (w->det != NULL && !lv->ionly) {
        rc = cvb_detector_run(w->det, w->outs[0], &j->lb, w->dets, CVB_DETECT_MAX_DET, &n_dets,
                              &err);
        if (rc < 0) {
            set_error(lv, rc, &err);
            return rc;
        }
    }
    uint64_t t3 = cvb_now_ns();
    record(lv, j, queue_ns, t1 - t0, t2 - t1, t3 - t2, t3, w->conn != NULL ? &tm : NULL);
    if (lv->acc.cap > 0 && j->n >= lv->warmup)
        cvb__acc_keep(&lv->acc, lv->ionly ? w->det : NULL, w->outs[0], j->frame, &j->lb,
                      w->dets, n_dets);
    return 0;
}

/* ---- the frame source of a stream ----------------------------------------------- */

/* Produce frame 'j->n' of stream 'st' into slot 'j->slot'. */
static int produce(struct level *lv, struct stream *st, struct job *j) {
    if (lv->ionly) {
        int r = (int)(j->n % lv->s->ring_frames);
        j->frame = st->ring + (size_t)r * lv->frame_bytes;
        j->lb = st->ring_lb[r];
        j->decode_ns = j->letterbox_ns = 0;
        return 0;
    }
    struct cvb_err err = {0};
    struct cvb_frame_meta meta;
    uint8_t *dst = st->pool + (size_t)j->slot * lv->frame_bytes;
    int rc = cvb_video_next(st->video, dst, &meta, &err);
    if (rc == 1) rc = cvb_err_set(&err, CVB_EFORMAT, "%s: ended while looping",
                                  lv->s->videos[st->id % lv->s->n_videos]);
    if (rc < 0) {
        set_error(lv, rc, &err);
        return rc;
    }
    j->frame = dst;
    j->lb = meta.lb;
    j->decode_ns = meta.decode_ns;
    j->letterbox_ns = meta.letterbox_ns;
    return 0;
}

static int take_slot(struct stream *st) {
    struct level *lv = st->lv;
    int slot = -1;
    pthread_mutex_lock(&st->m);
    while (st->n_free == 0 && !stopping(lv)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&st->cv, &st->m, &ts);
    }
    if (st->n_free > 0) slot = st->free_slots[--st->n_free];
    pthread_mutex_unlock(&st->m);
    return slot;
}

static void give_slot(struct stream *st, int slot) {
    pthread_mutex_lock(&st->m);
    st->free_slots[st->n_free++] = slot;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->m);
}

static int take_instance(struct level *lv) {
    pthread_mutex_lock(&lv->pm);
    while (lv->n_free_inst == 0) pthread_cond_wait(&lv->pcv, &lv->pm);
    int i = lv->free_inst[--lv->n_free_inst];
    pthread_mutex_unlock(&lv->pm);
    return i;
}

static void give_instance(struct level *lv, int i) {
    pthread_mutex_lock(&lv->pm);
    lv->free_inst[lv->n_free_inst++] = i;
    pthread_cond_signal(&lv->pcv);
    pthread_mutex_unlock(&lv->pm);
}

/* Pacing for frame *n: returns the due time (camera) and skips the frames
 * a camera would have dropped while the stream was behind. */
static uint64_t pace(struct level *lv, struct stream *st, int64_t *n, int64_t *lateness) {
    *lateness = 0;
    if (!lv->camera) return cvb_now_ns();
    uint64_t due = lv->t0 + (uint64_t)*n * lv->period_ns;
    uint64_t now = cvb_now_ns();
    if (now < due) {
        sleep_until(due);
        return due;
    }
    if (now - due >= lv->period_ns) {
        int64_t skip = (int64_t)((now - due) / lv->period_ns);
        for (int64_t k = 0; k < skip; k++)
            if (*n + k >= lv->warmup && (*n + k < lv->total || atomic_load(&lv->extend)))
                st->dropped++;
        *n += skip;
        due = lv->t0 + (uint64_t)*n * lv->period_ns;
    }
    *lateness = (int64_t)(now - due);
    if (*lateness > (int64_t)lv->period_ns / 10 && *n >= lv->warmup) st->late++;
    return due;
}

/* Count stream 'st' once when it releases its last nominal slot (n = total - 1,
 * or beyond when camera pacing skipped it): extension may end only after
 * every stream has released its 'frames'. */
static void past_total(struct level *lv, struct stream *st, int64_t n) {
    if (n + 1 >= lv->total && !st->past_total) {
        st->past_total = true;
        atomic_fetch_add(&lv->streams_past_total, 1);
    }
}

static bool more_frames(struct level *lv, int64_t n) {
    if (stopping(lv)) return false;
    return n < lv->total || atomic_load(&lv->extend);
}

static void *producer_main(void *arg) {
    struct stream *st = arg;
    struct level *lv = st->lv;
    for (int64_t n = 0; more_frames(lv, n); n++) {
        struct job j = {.stream = st->id};
        j.slot = take_slot(st);
        if (j.slot < 0) break;
        int64_t late = 0;
        uint64_t due = pace(lv, st, &n, &late);
        if (!more_frames(lv, n)) {
            give_slot(st, j.slot);
            break;
        }
        j.n = n;
        j.lateness_ns = late;
        j.t_release = lv->camera ? due : cvb_now_ns();
        if (produce(lv, st, &j) < 0) {
            give_slot(st, j.slot);
            break;
        }
        j.t_push = cvb_now_ns();
        j.t_origin = lv->camera ? due : j.t_push;
        past_total(lv, st, n);
        atomic_fetch_add(&lv->released, 1);
        pthread_mutex_lock(&lv->qm);
        lv->q[(lv->qhead + lv->qn) % lv->qcap] = j; /* never full: invariant 2 */
        lv->qn++;
        pthread_cond_signal(&lv->qcv);
        pthread_mutex_unlock(&lv->qm);
    }
    pthread_mutex_lock(&lv->qm);
    atomic_fetch_sub(&lv->producers_left, 1);
    pthread_cond_broadcast(&lv->qcv);
    pthread_mutex_unlock(&lv->qm);
    return NULL;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct level *lv = w->lv;
    for (;;) {
        pthread_mutex_lock(&lv->qm);
        while (lv->qn == 0 && atomic_load(&lv->producers_left) > 0)
            pthread_cond_wait(&lv->qcv, &lv->qm);
        if (lv->qn == 0) {
            pthread_mutex_unlock(&lv->qm);
            break;
        }
        struct job j = lv->q[lv->qhead];
        lv->qhead = (lv->qhead + 1) % lv->qcap;
        lv->qn--;
        pthread_mutex_unlock(&lv->qm);
        uint64_t t = cvb_now_ns();
        if (!atomic_load(&lv->stop) || lv->rc == 0) process(lv, w, &j, t - j.t_push);
        atomic_fetch_add(&lv->completed, 1);
        give_slot(&lv->st[j.stream], j.slot);
    }
    return NULL;
}

static void *direct_main(void *arg) {
    struct stream *st = arg;
    struct level *lv = st->lv;
    for (int64_t n = 0; more_frames(lv, n); n++) {
        struct job j = {.stream = st->id, .slot = 0};
        int64_t late = 0;
        uint64_t due = pace(lv, st, &n, &late);
        if (!more_frames(lv, n)) break;
        j.n = n;
        j.lateness_ns = late;
        j.t_release = lv->camera ? due : cvb_now_ns();
        if (produce(lv, st, &j) < 0) break;
        atomic_fetch_add(&lv->released, 1);
        j.t_push = cvb_now_ns();
        j.t_origin = lv->camera ? due : j.t_push;
        past_total(lv, st, n);
        int i = take_instance(lv);
        uint64_t t = cvb_now_ns();
        int rc = process(lv, &lv->wk[i], &j, t - j.t_push);
        atomic_fetch_add(&lv->completed, 1);
        give_instance(lv, i);
        if (rc < 0) break;
    }
    atomic_fetch_sub(&lv->producers_left, 1);
    return NULL;
}

/* ---- set-up and tear-down ------------------------------------------------------- */

/* Backend kserve: a connection, output buffers of the server's shapes, and
 * a detector for its output 0. */
static int setup_remote_worker(struct level *lv, struct worker *w, struct cvb_err *err) {
    const struct cvb_kserve_remote *ri = cvb__remote_info(lv->rm);
    int rc = cvb__remote_conn(lv->rm, &w->conn, err);
    if (rc < 0) return rc;
    w->n_outs = ri->n_outputs;
    w->outs = calloc((size_t)w->n_outs, sizeof *w->outs);
    if (w->outs == NULL) return cvb_err_set(err, CVB_ENOMEM, "output buffers");
    for (int i = 0; i < w->n_outs; i++) {
        w->outs[i] = malloc(ri->output_bytes[i] ? ri->output_bytes[i] : 1);
        if (w->outs[i] == NULL) return cvb_err_set(err, CVB_ENOMEM, "output buffers");
    }
    if (lv->ionly && lv->acc.cap == 0) return 0;
    rc = cvb_detector_new_guess(ri->output_ndim[0], ri->output_dims[0], NULL, &w->det, err);
    if (rc < 0)
        cvb_err_prefix(err, "%s: model output '%s'", lv->s->kserve_url, ri->output_names[0]);
    return rc;
}

static int setup_worker(struct level *lv, struct worker *w, struct cvb_err *err) {
    const struct cvb_pipeline_probe *p = lv->p;
    if (lv->rm != NULL) return setup_remote_worker(lv, w, err);
    int rc = cvb__pipeline_load_engine(lv->s, lv->tpi, p->input_u8, false, &w->e, err);
    if (rc < 0) return rc;
    if (!p->input_u8) {
        w->conv = malloc((size_t)p->input_bytes);
        if (w->conv == NULL) return cvb_err_set(err, CVB_ENOMEM, "engine input buffer");
    }
    w->n_outs = cvb_engine_n_outputs(w->e);
    w->outs = calloc((size_t)w->n_outs, sizeof *w->outs);
    if (w->outs == NULL) return cvb_err_set(err, CVB_ENOMEM, "engine output buffers");
    struct cvb_tensor_info oi;
    for (int i = 0; i < w->n_outs; i++) {
        cvb_engine_output_info(w->e, i, &oi);
        w->outs[i] = malloc(oi.bytes ? oi.bytes : 1);
        if (w->outs[i] == NULL) return cvb_err_set(err, CVB_ENOMEM, "engine output buffers");
    }
    if (!lv->ionly) return cvb__pipeline_detector(lv->s, w->e, &w->det, err);
    if (lv->acc.cap > 0) {
        /* inference-only: a detector for the sampled frames alone; a model
         * without a detection output is still benchmarked, unchecked */
        struct cvb_err derr = {0};
        if (cvb__pipeline_detector(lv->s, w->e, &w->det, &derr) < 0) {
            cvb_log_warn("accuracy not measured: %s", derr.msg);
            cvb__acc_cleanup(&lv->acc);
        }
    }
    return 0;
}

static void free_worker(struct worker *w) {
    if (w->outs != NULL)
        for (int i = 0; i < w->n_outs; i++) free(w->outs[i]);
    free(w->outs);
    free(w->conv);
    cvb_detector_free(w->det);
    cvb_engine_free(w->e);
    cvb_kserve_conn_free(w->conn);
}

/* Fill one ring per distinct video used by the level (inference-only). */
static int setup_rings(struct level *lv, struct cvb_err *err) {
    int rc = 0;
    int R = lv->s->ring_frames;
    lv->n_rings = lv->n_streams < lv->s->n_videos ? lv->n_streams : lv->s->n_videos;
    lv->rings = calloc((size_t)lv->n_rings, sizeof *lv->rings);
    lv->ring_lbs = calloc((size_t)lv->n_rings * R, sizeof *lv->ring_lbs);
    if (lv->rings == NULL || lv->ring_lbs == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "inference-only rings");
    for (int v = 0; v < lv->n_rings && rc == 0; v++) {
        struct cvb_video *vid = NULL;
        struct cvb_video_opts vo = {.out_size = lv->p->imgsz, .threads = 1, .loop = 1};
        lv->rings[v] = malloc((size_t)R * lv->frame_bytes);
        if (lv->rings[v] == NULL) return cvb_err_set(err, CVB_ENOMEM, "inference-only ring");
        rc = cvb_video_open(lv->s->videos[v], &vo, &vid, err);
        for (int i = 0; i < R && rc == 0; i++) {
            struct cvb_frame_meta meta;
            rc = cvb_video_next(vid, lv->rings[v] + (size_t)i * lv->frame_bytes, &meta, err);
            if (rc == 1)
                rc = cvb_err_set(err, CVB_EFORMAT, "%s: no frame %d", lv->s->videos[v], i);
            lv->ring_lbs[(size_t)v * R + i] = meta.lb;
        }
        cvb_video_close(vid);
    }
    return rc;
}

/* ---- the monitor (calling thread) ------------------------------------------------ */

struct rss_log {
    struct cvb_level_result *out;
    int stride, tick;
};

static void rss_sample(struct rss_log *rl, uint64_t t0, int64_t *peak) {
    int64_t rss = cvb_pipeline_rss_bytes();
    if (rss > *peak) *peak = rss;
    struct cvb_level_result *o = rl->out;
    if (rl->tick++ % rl->stride != 0) return;
    if (o->n_rss == CVB_MAX_RSS_SAMPLES) {
        /* decimate: keep every other sample, sample half as often */
        for (int i = 0; i < CVB_MAX_RSS_SAMPLES / 2; i++) {
            o->rss_t_s[i] = o->rss_t_s[2 * i];
            o->rss_bytes[i] = o->rss_bytes[2 * i];
        }
        o->n_rss = CVB_MAX_RSS_SAMPLES / 2;
        rl->stride *= 2;
    }
    o->rss_t_s[o->n_rss] = (float)((cvb_now_ns() - t0) / 1e9);
    o->rss_bytes[o->n_rss] = rss;
    o->n_rss++;
}

static void progress(struct level *lv, int level_index, uint64_t now, int64_t *last_done,
                     uint64_t *last_t) {
    const struct cvb_pipeline_hooks *h = lv->hooks;
    int64_t done = atomic_load(&lv->completed);
    double dt = (now - *last_t) / 1e9;
    struct cvb_progress pr = {
        .level = level_index,
        .n_levels = h->n_levels,
        .streams = lv->n_streams,
        .frames_done = done,
        .frames_total = lv->total * lv->n_streams,
        .fps_now = dt > 0 ? (double)(done - *last_done) / dt : 0,
        .elapsed_s = (now - lv->t0) / 1e9,
        .warming_up = lv->n_warm_done < lv->n_streams,
    };
    pr.eta_s = -1;
    pr.extending = atomic_load(&lv->extend) && done >= pr.frames_total;
    if (pr.extending)
        pr.eta_s = -1; /* extended until stable: unknown */
    else if (pr.fps_now > 0 && pr.frames_total > done)
        pr.eta_s = (double)(pr.frames_total - done) / pr.fps_now;
    else if (pr.frames_total <= done)
        pr.eta_s = 0;
    *last_done = done;
    *last_t = now;
    h->progress(h->user, &pr);
}

/* Extension: a level releases its 'frames' per stream and then keeps going
 * while it is not stable (the rule in stats.h, over the windows closed so
 * far), for at least min_duration and at most max_duration seconds since it
 * started. max_duration 0: never past 'frames'. */
static void check_extension(struct level *lv, uint64_t now) {
    if (!atomic_load(&lv->extend)) return;
    double el = (now - lv->t0) / 1e9;
    if (el >= lv->s->max_duration) {
        atomic_store(&lv->extend, 0);
        return;
    }
    if (el < lv->s->min_duration) return;
    if (atomic_load(&lv->streams_past_total) < lv->n_streams) return;
    double fps[CVB_MAX_WINDOWS];
    pthread_mutex_lock(&lv->cm);
    int n = cvb__windows_fps(&lv->win, fps, CVB_MAX_WINDOWS);
    pthread_mutex_unlock(&lv->cm);
    struct cvb_stability sb;
    cvb__stability(fps, n, &sb);
    if (sb.stable) atomic_store(&lv->extend, 0);
}

/* ---- results ------------------------------------------------------------------ */

static void fill_result(struct level *lv, struct cvb_level_result *o, double wall_s,
                        double cpu_s, uint64_t sys_busy, uint64_t sys_total) {
    o->frames = atomic_load(&lv->completed_measured);
    o->warmup_frames = lv->warmup_done;
    double dur = lv->last_end > lv->first_measured_start
                     ? (lv->last_end - lv->first_measured_start) / 1e9
                     : 0;
    o->duration_s = dur;
    o->fps = dur > 0 ? o->frames / dur : 0;
    /* Per-stream rate. max pacing: measured frames over first measured start
     * to last end. camera pacing: over max(slots offered x period, first end
     * to last end + one period), so a stream that keeps up reports exactly
     * the camera rate (not n / (n - 1 periods + one latency)), and one that
     * drops or falls behind reports less. Total fps: camera, the sum of the
     * streams' rates; max, all measured frames over the level's measured
     * wall time. */
    double sum = 0, mn = -1;
    for (int i = 0; i < lv->n_streams; i++) {
        struct stream *st = &lv->st[i];
        double d;
        if (lv->camera) {
            double offered = (double)(st->measured + st->dropped) * lv->period_ns / 1e9;
            double span = st->last_end > st->first_end
                              ? (st->last_end - st->first_end + lv->period_ns) / 1e9
                              : 0;
            d = offered > span ? offered : span;
        } else {
            d = st->last_end > st->first_start ? (st->last_end - st->first_start) / 1e9 : 0;
        }
        double f = d > 0 ? st->measured / d : 0;
        sum += f;
        if (mn < 0 || f < mn) mn = f;
        o->dropped_frames += st->dropped;
        o->late_frames += st->late;
    }
    if (lv->camera) o->fps = sum;
    o->fps_per_stream = lv->n_streams ? sum / lv->n_streams : 0;
    o->fps_per_stream_min = mn < 0 ? 0 : mn;
    o->latency_p50_ms = cvb__hist_pct_ms(&lv->lat, 50);
    o->latency_p90_ms = cvb__hist_pct_ms(&lv->lat, 90);
    o->latency_p95_ms = cvb__hist_pct_ms(&lv->lat, 95);
    o->latency_p99_ms = cvb__hist_pct_ms(&lv->lat, 99);
    o->latency_max_ms = cvb__hist_pct_ms(&lv->lat, 100);
    o->latency_mean_ms = cvb__hist_mean_ms(&lv->lat);
    o->lateness_p99_ms = lv->camera ? cvb__hist_pct_ms(&lv->lateness, 99) : 0;
    double total_ms = 0;
    for (int i = 0; i < CVB_STAGE_COUNT; i++) {
        o->stages[i].mean_ms = cvb__hist_mean_ms(&lv->stage[i]);
        o->stages[i].p99_ms = cvb__hist_pct_ms(&lv->stage[i], 99);
        total_ms += o->stages[i].mean_ms;
    }
    for (int i = 0; i < CVB_STAGE_COUNT; i++)
        o->stages[i].share = total_ms > 0 ? o->stages[i].mean_ms / total_ms : 0;
    o->cpu_process_pct = wall_s > 0 ? 100 * cpu_s / wall_s : 0;
    o->cpu_system_pct = sys_total > 0 ? 100.0 * sys_busy / sys_total : 0;
    o->engine_instances = lv->n_inst;
    o->threads_per_instance = lv->tpi;
    /* Busy fractions over the whole level (start to last frame), all frames. */
    double level_ns = lv->last_end_any > lv->t0 ? (double)(lv->last_end_any - lv->t0) : 0;
    double inst_time = level_ns * lv->n_inst;
    o->engine_busy_pct = inst_time > 0 ? 100 * lv->busy_infer_ns / inst_time : 0;
    if (o->engine_busy_pct > 100) o->engine_busy_pct = 100;
    /* windows: every closed window, after every stream finished warm-up */
    o->window_s = lv->win.min_s;
    o->window_frames = lv->win.min_frames;
    o->n_windows = cvb__windows_fps(&lv->win, o->window_fps, CVB_MAX_WINDOWS);
    for (int i = 0; i < o->n_windows; i++) {
        if (i == 0 || o->window_fps[i] < o->window_fps_min) o->window_fps_min = o->window_fps[i];
        if (i == 0 || o->window_fps[i] > o->window_fps_max) o->window_fps_max = o->window_fps[i];
    }
    struct cvb_stability sb;
    cvb__stability(o->window_fps, o->n_windows, &sb);
    o->stable = sb.stable;
    o->window_cv_pct = 100 * sb.cv;
    o->window_drift_pct = 100 * sb.drift;

    struct cvb_busy b = {0};
    b.engine = o->engine_busy_pct / 100;
    b.worker = inst_time > 0 ? lv->busy_worker_ns / inst_time : 0;
    b.producer = level_ns > 0 && !lv->ionly ? lv->busy_prod_ns / (level_ns * lv->n_streams) : 0;
    b.decode_share = lv->prod_ns > 0 ? lv->decode_ns / lv->prod_ns : 0;
    b.cpu_system = o->cpu_system_pct / 100;
    b.post_share = lv->post_ns + lv->conv_ns > 0 ? lv->post_ns / (lv->post_ns + lv->conv_ns) : 0;
    b.camera = lv->camera;
    b.target_fps = lv->s->target_fps;
    b.fps_per_stream_min = o->fps_per_stream_min;
    b.held = lv->camera && o->fps_per_stream_min >= 0.95 * lv->s->target_fps &&
             o->dropped_frames == 0;
    b.streams = lv->n_streams;
    b.instances = lv->n_inst;
    if (lv->rm != NULL) {
        struct cvb_remote_result *rm = &o->remote;
        double n = lv->n_remote > 0 ? (double)lv->n_remote : 1;
        rm->inflight = lv->s->inflight;
        rm->connections = lv->n_inst;
        rm->request_bytes = lv->req_bytes / n;
        rm->response_bytes = lv->resp_bytes / n;
        rm->serialize_ms = lv->ser_ns / n / 1e6;
        rm->deserialize_ms = lv->deser_ns / n / 1e6;
        rm->roundtrip_ms = lv->rtt_ns / n / 1e6;
        rm->roundtrip_p99_ms = o->stages[CVB_STAGE_INFER].p99_ms;
        int cores = lv->p->n_cpus > 0 ? lv->p->n_cpus : 1;
        rm->client_cpu_pct = o->cpu_process_pct / cores;
        cvb__remote_finish(lv->rm, level_ns / 1e9, rm);
        b.remote = true;
        b.server_stats = rm->server_stats;
        b.server = rm->server_busy_pct / 100;
        b.network_share = rm->roundtrip_ms > 0 ? rm->network_ms / rm->roundtrip_ms : 0;
        b.client_cpu = rm->client_cpu_pct / 100;
        b.roundtrip_ms = rm->roundtrip_ms;
    }
    cvb__bottleneck(&b, o->bottleneck, sizeof o->bottleneck);
}

/* ---- the level -------------------------------------------------------------------- */

/* Accuracy under load, after a level that finished (its threads joined, its
 * engines and frames freed; an interrupted level skips it): a failed
 * reference leaves the level's numbers as they are and its accuracy
 * unmeasured, with a warning. */
static void accuracy(struct level *lv, struct cvb_level_result *out) {
    struct cvb_err err = {0};
    if (cvb__acc_reference(&lv->acc, lv->s, lv->p, lv->tpi, out, &err) < 0)
        cvb_log_warn("%d streams: accuracy not measured: %s", lv->n_streams, err.msg);
}

static void human(int64_t b, char *buf, size_t len) {
    snprintf(buf, len, "%.1f MiB", b / 1048576.0);
}

int cvb_pipeline_run_level(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                           int streams, int level_index, const struct cvb_pipeline_hooks *hooks,
                           struct cvb_level_result *out, struct cvb_err *err) {
    int rc = 0;
    struct level *lv = NULL;
    struct cvb_err local_err = {0};
    if (err == NULL) err = &local_err;
    memset(out, 0, sizeof *out);
    out->level = level_index;
    out->streams = streams;
    snprintf(out->status, sizeof out->status, "failed");
    if (streams < 1 || streams > CVB_SCN_MAX_STREAMS) {
        rc = cvb_err_set(err, CVB_EINVAL, "streams %d: out of range 1..%d", streams,
                         CVB_SCN_MAX_STREAMS);
        goto done;
    }
    if (strcmp(s->backend, "cpu") != 0 && !p->remote) {
        rc = cvb_err_set(err, CVB_EUNSUPPORTED, "backend '%s' is not available in this build "
                         "(only 'cpu' and 'kserve')", s->backend);
        goto done;
    }

    /* Memory admission. */
    cvb__malloc_policy();
    cvb__trim();
    out->rss_start_bytes = cvb_pipeline_rss_bytes();
    struct cvb_mem_estimate est;
    cvb_pipeline_estimate(s, p, streams, &est);
    out->mem_estimate_bytes = out->rss_start_bytes + est.total;
    int64_t budget = cvb_pipeline_memory_budget(s);
    if (out->mem_estimate_bytes > budget) {
        char a[32], b[32], c[32];
        human(out->mem_estimate_bytes, a, sizeof a);
        human(budget, b, sizeof b);
        human(est.total, c, sizeof c);
        char pa[32];
        human(out->rss_start_bytes, pa, sizeof pa);
        rc = cvb_err_set(err, CVB_ERANGE,
                    "%d streams: estimated peak memory %s (process %s + level %s: engines "
                    "%.1f MiB, frames %.1f MiB, decoders %.1f MiB, accuracy samples %.1f MiB) "
                    "exceeds the memory budget %s",
                    streams, a, pa, c, est.engines / 1048576.0, est.frames / 1048576.0,
                    est.decoders / 1048576.0, est.accuracy / 1048576.0, b);
        snprintf(out->status, sizeof out->status, "refused");
        snprintf(out->error, sizeof out->error, "%.255s", err->msg);
        goto done;
    }

    lv = calloc(1, sizeof *lv);
    if (lv == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "level state");
        goto done;
    }
    lv->s = s;
    lv->p = p;
    lv->hooks = hooks;
    lv->n_streams = streams;
    cvb_pipeline_instances(s, p, streams, &lv->n_inst, &lv->tpi);
    lv->ionly = strcmp(s->mode, "inference-only") == 0;
    lv->direct = strcmp(s->execution, "direct") == 0;
    lv->camera = strcmp(s->pacing, "camera") == 0;
    lv->warmup = s->warmup;
    lv->total = (int64_t)s->warmup + s->frames;
    lv->period_ns = (uint64_t)(1e9 / (s->target_fps > 0 ? s->target_fps : 30));
    lv->frame_bytes = 3 * (size_t)p->imgsz * p->imgsz;
    lv->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)level_index;
    atomic_store(&lv->extend, s->max_duration > 0 ? 1 : 0);
    pthread_mutex_init(&lv->qm, NULL);
    pthread_cond_init(&lv->qcv, NULL);
    pthread_mutex_init(&lv->pm, NULL);
    pthread_cond_init(&lv->pcv, NULL);
    pthread_mutex_init(&lv->em, NULL);
    pthread_mutex_init(&lv->cm, NULL);
    cvb__hist_reset(&lv->lat);
    cvb__hist_reset(&lv->lateness);
    for (int i = 0; i < CVB_STAGE_COUNT; i++) cvb__hist_reset(&lv->stage[i]);
    cvb__windows_init(&lv->win, s->window, s->window_frames);

    lv->st = calloc((size_t)streams, sizeof *lv->st);
    lv->wk = calloc((size_t)lv->n_inst, sizeof *lv->wk);
    lv->free_inst = calloc((size_t)lv->n_inst, sizeof *lv->free_inst);
    int slots = cvb__pipeline_slots(s);
    lv->qcap = streams * slots;
    lv->q = calloc((size_t)lv->qcap, sizeof *lv->q);
    if (lv->st == NULL || lv->wk == NULL || lv->free_inst == NULL || lv->q == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "level state");
        goto done;
    }
    rc = cvb__acc_init(&lv->acc, s, p, streams, err);
    if (rc < 0) goto done;
    if (p->remote) {
        rc = cvb__remote_open(s, p, &lv->rm, err);
        if (rc < 0) goto done;
    }
    for (int i = 0; i < lv->n_inst; i++) {
        lv->wk[i].lv = lv;
        lv->wk[i].id = i;
        rc = setup_worker(lv, &lv->wk[i], err);
        if (rc < 0) goto done;
        lv->free_inst[lv->n_free_inst++] = i;
    }
    if (lv->ionly) {
        rc = setup_rings(lv, err);
        if (rc < 0) goto done;
    }
    for (int i = 0; i < streams; i++) {
        struct stream *st = &lv->st[i];
        st->lv = lv;
        st->id = i;
        st->n_slots = slots;
        pthread_mutex_init(&st->m, NULL);
        pthread_cond_init(&st->cv, NULL);
        for (int k = 0; k < slots; k++) st->free_slots[st->n_free++] = slots - 1 - k;
        int vi = i % s->n_videos;
        if (lv->ionly) {
            st->ring = lv->rings[vi];
            st->ring_lb = lv->ring_lbs + (size_t)vi * s->ring_frames;
        } else {
            st->pool = malloc((size_t)slots * lv->frame_bytes);
            if (st->pool == NULL) {
                rc = cvb_err_set(err, CVB_ENOMEM, "stream %d frame pool", i);
                goto done;
            }
            struct cvb_video_opts vo = {.out_size = p->imgsz, .threads = 1, .loop = 1};
            rc = cvb_video_open(s->videos[vi], &vo, &st->video, err);
            if (rc < 0) goto done;
        }
    }

    /* Start: workers first, then the streams. */
    int64_t peak = cvb_pipeline_rss_bytes();
    struct rss_log rl = {.out = out, .stride = 1};
    double cpu0 = cvb__proc_cpu_s();
    uint64_t sb0, st0, sb1, st1;
    cvb__sys_cpu(&sb0, &st0);
    if (lv->rm != NULL) cvb__remote_begin(lv->rm);
    lv->t0 = cvb_now_ns();
    atomic_store(&lv->producers_left, streams);
    /* Stream threads run on stacks mapped here and unmapped after the join:
     * glibc caches the stacks it allocates itself (up to 40 MiB, touched
     * pages included), which would keep RSS above its baseline after a
     * level with many streams. */
    if (!lv->direct) {
        for (int i = 0; i < lv->n_inst; i++) {
            if (pthread_create(&lv->wk[i].th, NULL, worker_main, &lv->wk[i]) != 0) {
                struct cvb_err e2;
                cvb_err_set(&e2, CVB_EINTERNAL, "cannot start worker thread %d", i);
                set_error(lv, CVB_EINTERNAL, &e2);
                break;
            }
            lv->wk[i].started = true;
        }
    }
    for (int i = 0; i < streams; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        int prc = -1;
        void *stk = mmap(NULL, STREAM_STACK_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stk != MAP_FAILED) {
            lv->st[i].stack = stk;
            mprotect(stk, 4096, PROT_NONE); /* guard page: the stack grows down */
            pthread_attr_setstack(&attr, stk, STREAM_STACK_BYTES);
            prc = pthread_create(&lv->st[i].th, &attr, lv->direct ? direct_main : producer_main,
                                 &lv->st[i]);
        }
        pthread_attr_destroy(&attr);
        if (prc != 0) {
            struct cvb_err e2;
            cvb_err_set(&e2, CVB_EINTERNAL, "cannot start stream thread %d", i);
            set_error(lv, CVB_EINTERNAL, &e2);
            atomic_fetch_sub(&lv->producers_left, streams - i);
            pthread_mutex_lock(&lv->qm);
            pthread_cond_broadcast(&lv->qcv);
            pthread_mutex_unlock(&lv->qm);
            break;
        }
        lv->st[i].started = true;
    }

    /* Monitor until every stream is done and the queue drained. */
    uint64_t last_prog = lv->t0;
    uint64_t last_t = last_prog;
    int64_t last_done = 0;
    bool warm_reported = false;
    for (;;) {
        uint64_t now = cvb_now_ns();
        rss_sample(&rl, lv->t0, &peak);
        stopping(lv);
        check_extension(lv, now);
        bool all_done = atomic_load(&lv->producers_left) == 0 &&
                        atomic_load(&lv->completed) >= atomic_load(&lv->released);
        if (all_done) break;
        if (hooks && hooks->progress) {
            bool warm_now = lv->n_warm_done == lv->n_streams;
            if (now - last_prog >= 1000000000ull || (warm_now && !warm_reported)) {
                progress(lv, level_index, now, &last_done, &last_t);
                last_prog = now;
                warm_reported = warm_now;
            }
        }
        sleep_until(now + MONITOR_TICK_NS);
    }
    for (int i = 0; i < streams; i++)
        if (lv->st[i].started) pthread_join(lv->st[i].th, NULL), lv->st[i].started = false;
    for (int i = 0; i < lv->n_inst; i++)
        if (lv->wk[i].started) pthread_join(lv->wk[i].th, NULL), lv->wk[i].started = false;
    uint64_t t_end = cvb_now_ns();
    rss_sample(&rl, lv->t0, &peak);
    double cpu1 = cvb__proc_cpu_s();
    cvb__sys_cpu(&sb1, &st1);
    if (hooks && hooks->progress) progress(lv, level_index, t_end, &last_done, &last_t);

    fill_result(lv, out, (t_end - lv->t0) / 1e9, cpu1 - cpu0, sb1 - sb0, st1 - st0);
    out->rss_peak_bytes = peak;
    if (lv->rc < 0) {
        rc = lv->rc;
        *err = lv->err;
        snprintf(out->error, sizeof out->error, "%.255s", lv->err.msg);
    } else {
        bool interrupted = hooks && hooks->stop && *hooks->stop;
        snprintf(out->status, sizeof out->status, "%s", interrupted ? "interrupted" : "ok");
    }

done:
    if (rc < 0 && out->error[0] == '\0')
        snprintf(out->error, sizeof out->error, "%.255s", err->msg);
    if (lv == NULL) out->rss_end_bytes = cvb_pipeline_rss_bytes();
    if (lv != NULL) {
        /* Threads are joined on every path that started them (the monitor
         * loop only exits once they are done). */
        if (lv->st != NULL)
            for (int i = 0; i < streams; i++) {
                cvb_video_close(lv->st[i].video);
                free(lv->st[i].pool);
                if (lv->st[i].stack != NULL) munmap(lv->st[i].stack, STREAM_STACK_BYTES);
                if (lv->st[i].lv != NULL) {
                    pthread_mutex_destroy(&lv->st[i].m);
                    pthread_cond_destroy(&lv->st[i].cv);
                }
            }
        if (lv->wk != NULL)
            for (int i = 0; i < lv->n_inst; i++) free_worker(&lv->wk[i]);
        cvb__remote_free(lv->rm);
        for (int i = 0; lv->rings != NULL && i < lv->n_rings; i++) free(lv->rings[i]);
        free(lv->rings);
        free(lv->ring_lbs);
        if (rc == 0 && strcmp(out->status, "ok") == 0) accuracy(lv, out);
        cvb__acc_cleanup(&lv->acc);
        free(lv->st);
        free(lv->wk);
        free(lv->free_inst);
        free(lv->q);
        pthread_mutex_destroy(&lv->qm);
        pthread_cond_destroy(&lv->qcv);
        pthread_mutex_destroy(&lv->pm);
        pthread_cond_destroy(&lv->pcv);
        pthread_mutex_destroy(&lv->em);
        pthread_mutex_destroy(&lv->cm);
        free(lv);
        cvb__trim();
        out->rss_end_bytes = cvb_pipeline_rss_bytes();
        /* The memory contract, reported (not fatal). */
        if (strcmp(out->status, "ok") == 0 || strcmp(out->status, "interrupted") == 0) {
            char msg[256] = "";
            if (out->rss_peak_bytes > out->mem_estimate_bytes * 5 / 4)
                snprintf(msg, sizeof msg, "peak RSS %.1f MiB exceeds 1.25 x estimate %.1f MiB; ",
                         out->rss_peak_bytes / 1048576.0, out->mem_estimate_bytes / 1048576.0);
            int64_t d = out->rss_end_bytes - out->rss_start_bytes;
            if (d > out->rss_start_bytes / 20 || -d > out->rss_start_bytes / 20)
                snprintf(msg + strlen(msg), sizeof msg - strlen(msg),
                         "RSS after the level %.1f MiB not within 5 %% of before %.1f MiB",
                         out->rss_end_bytes / 1048576.0, out->rss_start_bytes / 1048576.0);
            if (msg[0]) snprintf(out->error, sizeof out->error, "memory: %s", msg);
        }
    }
    return rc;
}
