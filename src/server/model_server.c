/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench serve-model`: KServe v2 routes on src/http, the codec in
 * src/kserve, N engine instances fed from one bounded slot queue. See
 * model_server.h for the design (batching, plans, memory).
 *
 * Item pool: n_slots items; item i is slot i's descriptor and the bytes at
 * pool_in + i x in_bytes and pool_out[k] + i x out_bytes[k]. A request of
 * batch b holds items [first, first + b) (used[] marks them); its slot
 * descriptor is slots[first].
 *
 * Slot life cycle (all transitions under s->mu):
 *   FREE --handler--> QUEUED --instance--> RUNNING --instance--> DONE
 *   DONE --handler (after encoding the reply)--> FREE
 *   RUNNING/QUEUED with 'abandoned' set (the handler timed out)
 *        --instance, when done--> FREE
 * Invariants:
 *   1. A slot's items are only touched by its current owner: the handler
 *      while FREE->QUEUED and DONE, the instance while RUNNING.
 *   2. The ring holds QUEUED slots only, in arrival order; an instance takes
 *      whole requests from its head, never one out of order.
 *   3. Statistics of an execution are recorded before its slots turn DONE,
 *      so a client that has its reply sees its execution counted. */
#include "server/model_server.h"

#include "http/http.h"
#include "kserve/kserve.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OUT CVB_KSERVE_MAX_TENSORS
#define VERSION "1"
#define PLATFORM "cvbench_onnx"

enum slot_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct slot {
    enum slot_state state;
    int abandoned;
    int first, b; /* items [first, first + b) */
    int rc;
    char msg[CVB_ERR_MSG_MAX];
    void *in;
    void *out[MAX_OUT];
    uint64_t t_queued, t_start, t_end;
    pthread_cond_t done;
};

#define MAX_PLANS 16 /* powers of two up to CVB_ENGINE_MAX_BATCH, and max_batch */

struct instance {
    struct cvb_model_server *s;
    int id;
    struct cvb_engine *engine[MAX_PLANS]; /* one per s->plan[] size */
    struct slot **gather;                 /* max_batch: the requests of a batch */
    int *item;                            /* max_batch: pool index of each batch item */
    void *stage_in;                       /* max_batch items (NULL when max_batch 1) */
    void *stage_out[MAX_OUT];
    pthread_t thread;
    int started;
    atomic_uint_fast64_t busy_ns;
};

struct cvb_model_server {
    char name[CVB_KSERVE_NAME_MAX];
    int max_batch;
    uint64_t batch_ns; /* how long the oldest request of a batch may wait for more */
    int n_plans;
    int plan[MAX_PLANS]; /* planned batch sizes, ascending; plan[0] = 1 */
    int timeout_ms;
    struct cvb_http_server *http;
    struct cvb_metrics *reg;
    struct cvb_metric *m_requests, *m_queue, *m_compute, *m_request, *m_batch, *m_busy,
        *m_busy_s, *m_depth;
    uint64_t t_start_ns;

    /* declared shapes: dim 0 is -1 when max_batch > 1; bytes are per item */
    struct cvb_kserve_tensor_meta in_meta;
    size_t in_bytes;
    int n_out;
    struct cvb_kserve_tensor_meta out_meta[MAX_OUT];
    size_t out_bytes[MAX_OUT];
    size_t max_resp;

    int n_inst;
    struct instance inst[CVB_MODEL_SERVER_MAX_INSTANCES];

    pthread_mutex_t mu;
    pthread_cond_t work;
    int stopping;
    int n_slots;
    int conds_init; /* slots[].done initialised */
    struct slot *slots;
    unsigned char *used; /* n_slots: item held by a request */
    void *pool_in;       /* n_slots x in_bytes */
    void *pool_out[MAX_OUT];
    int *ring; /* queued slot indices */
    int head, count;

    pthread_mutex_t stats_mu;
    struct cvb_kserve_model_stats stats; /* batch[p] is plan[p]'s; zero counts not shown */
};

/* ---- helpers ----------------------------------------------------------------- */

static int dtype_from_engine(const char *dt, enum cvb_kserve_dtype *out) {
    static const struct {
        const char *engine;
        enum cvb_kserve_dtype k;
    } map[] = {{"float32", CVB_KSERVE_FP32}, {"uint8", CVB_KSERVE_UINT8},
               {"int8", CVB_KSERVE_INT8},    {"int32", CVB_KSERVE_INT32},
               {"int64", CVB_KSERVE_INT64},  {"float16", CVB_KSERVE_FP16},
               {"float64", CVB_KSERVE_FP64}, {"bool", CVB_KSERVE_BOOL}};
    for (size_t i = 0; i < CVB_ARRAY_LEN(map); i++)
        if (strcmp(dt, map[i].engine) == 0) {
            *out = map[i].k;
            return 0;
        }
    return CVB_EUNSUPPORTED;
}

static void meta_from_info(const struct cvb_tensor_info *ti, enum cvb_kserve_dtype dt,
                           struct cvb_kserve_tensor_meta *m) {
    snprintf(m->name, sizeof m->name, "%s", ti->name);
    m->dtype = dt;
    m->n_dims = ti->ndim;
    for (int d = 0; d < ti->ndim; d++) m->shape[d] = ti->dims[d];
}

static double ns_to_s(uint64_t ns) { return (double)ns / 1e9; }

static const char *status_label(int status) {
    switch (status) {
    case 200: return "200";
    case 400: return "400";
    case 404: return "404";
    case 503: return "503";
    default: return "500";
    }
}

/* A KServe error reply; the server's error style is FLAT, so this is
 * {"error":"..."}. Counts a failed infer when 'count_fail'. */
static int fail_reply(struct cvb_model_server *s, struct cvb_http_resp *resp, int status,
                      int count_fail, uint64_t t0, const char *msg) {
    if (count_fail) {
        pthread_mutex_lock(&s->stats_mu);
        s->stats.fail.count++;
        s->stats.fail.ns += cvb_now_ns() - t0;
        pthread_mutex_unlock(&s->stats_mu);
    }
    cvb_metric_inc(s->m_requests, CVB_LABELS(status_label(status)));
    cvb_http_resp_error(resp, status, NULL, "%s", msg);
    return 0;
}

/* The {name} (and {version} when routed with one) of a model route: 0, or
 * a 404 reply already made. */
static int model_known(struct cvb_model_server *s, const struct cvb_http_req *req,
                       struct cvb_http_resp *resp, int count_fail, uint64_t t0) {
    char msg[CVB_KSERVE_NAME_MAX * 2 + 64];
    const char *name = cvb_http_req_param(req, "name");
    const char *ver = cvb_http_req_param(req, "version");
    if (name == NULL || strcmp(name, s->name) != 0) {
        snprintf(msg, sizeof msg, "unknown model '%.128s' (this server serves '%s')",
                 name ? name : "", s->name);
        fail_reply(s, resp, 404, 0, t0, msg);
        return -1;
    }
    if (ver != NULL && strcmp(ver, VERSION) != 0) {
        snprintf(msg, sizeof msg, "model '%s' has no version '%.64s' (only " VERSION ")",
                 s->name, ver);
        fail_reply(s, resp, 404, count_fail, t0, msg);
        return -1;
    }
    return 0;
}

static int reply_buf(struct cvb_http_resp *resp, int status, const char *ctype,
                     struct cvb_buf *b) {
    size_t len = 0;
    char *data = cvb_buf_take(b, &len);
    if (data == NULL) return CVB_ENOMEM;
    return cvb_http_resp_take(resp, status, ctype, data, len);
}

/* The metadata replies: 'enc' (an encoder's status, its JSON in 'b') -> 200,
 * and 'b' released either way. */
static int reply_json(struct cvb_http_resp *resp, int enc, struct cvb_buf *b) {
    int rc = enc == 0 ? reply_buf(resp, 200, "application/json", b) : enc;
    cvb_buf_cleanup(b);
    return rc;
}

/* Take 'b' free contiguous items, first fit (NULL: none). Under s->mu. */
static struct slot *slot_get(struct cvb_model_server *s, int b) {
    for (int i = 0; i + b <= s->n_slots;) {
        int j = 0;
        while (j < b && !s->used[i + j]) j++;
        if (j == b) {
            struct slot *sl = &s->slots[i];
            memset(s->used + i, 1, (size_t)b);
            sl->first = i;
            sl->b = b;
            sl->in = (char *)s->pool_in + (size_t)i * s->in_bytes;
            for (int k = 0; k < s->n_out; k++)
                sl->out[k] = (char *)s->pool_out[k] + (size_t)i * s->out_bytes[k];
            return sl;
        }
        i += j + 1;
    }
    return NULL;
}

/* Give a slot's items back. Under s->mu. */
static void slot_put(struct cvb_model_server *s, struct slot *sl) {
    memset(s->used + sl->first, 0, (size_t)sl->b);
    sl->state = SLOT_FREE;
}

/* ---- instances ------------------------------------------------------------------ */

/* Add the queued requests that fit to the batch in in->gather[0..*n) (the
 * first one already taken) until it is full, the next does not fit, or the
 * oldest request's batch wait is over. Under s->mu; returns the items. */
static int gather_more(struct instance *in, int *n, int items) {
    struct cvb_model_server *s = in->s;
    uint64_t deadline = in->gather[0]->t_queued + s->batch_ns;
    while (items < s->max_batch) {
        if (s->count > 0) {
            struct slot *next = &s->slots[s->ring[s->head]];
            if (items + next->b > s->max_batch) {
                pthread_cond_signal(&s->work); /* for an idle instance */
                break;
            }
            s->head = (s->head + 1) % s->n_slots;
            s->count--;
            in->gather[(*n)++] = next;
            items += next->b;
            continue;
        }
        uint64_t now = cvb_now_ns();
        if (s->stopping || now >= deadline) break;
        struct timespec dl;
        uint64_t left = deadline - now;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += (time_t)(left / 1000000000u);
        dl.tv_nsec += (long)(left % 1000000000u);
        if (dl.tv_nsec >= 1000000000L) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->work, &s->mu, &dl);
    }
    return items;
}

/* Per-execution times of one batch, recorded after it ran. */
struct exec_rec {
    int plan;
    uint64_t in_ns, infer_ns, out_ns;
};

/* Run the batch's 'items' items (pool indices in->item[]) as engine calls
 * of planned sizes, largest first; each call's items run in place when
 * they are contiguous in the pool, else through the staging buffers.
 * Fills rec[0..*n_rec). */
static int run_batch(struct instance *in, int items, struct exec_rec *rec, int *n_rec,
                     struct cvb_err *err) {
    struct cvb_model_server *s = in->s;
    int rc = 0;
    *n_rec = 0;
    for (int done = 0; done < items && rc == 0;) {
        int p = s->n_plans - 1;
        while (s->plan[p] > items - done) p--; /* plan[0] = 1 always fits */
        int c = s->plan[p];
        const int *it = in->item + done;
        int contiguous = 1;
        for (int j = 1; j < c && contiguous; j++) contiguous = it[j] == it[0] + j;
        const void *ins[1];
        void *outs[MAX_OUT];
        uint64_t t_a = cvb_now_ns();
        if (contiguous) {
            ins[0] = (const char *)s->pool_in + (size_t)it[0] * s->in_bytes;
            for (int k = 0; k < s->n_out; k++)
                outs[k] = (char *)s->pool_out[k] + (size_t)it[0] * s->out_bytes[k];
        } else {
            for (int j = 0; j < c; j++)
                memcpy((char *)in->stage_in + (size_t)j * s->in_bytes,
                       (const char *)s->pool_in + (size_t)it[j] * s->in_bytes, s->in_bytes);
            ins[0] = in->stage_in;
            for (int k = 0; k < s->n_out; k++) outs[k] = in->stage_out[k];
        }
        uint64_t t_b = cvb_now_ns();
        rc = cvb_engine_run(in->engine[p], ins, outs, err);
        /* a data-dependent output (after NonZero/NonMaxSuppression) is
         * served only at the shape the metadata declares: its bound */
        for (int k = 0; rc == 0 && k < s->n_out; k++) {
            struct cvb_tensor_info ai;
            cvb_engine_output_shape(in->engine[p], k, &ai);
            if (ai.dynamic && ai.bytes != s->out_bytes[k] * (size_t)c)
                rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                                 "output '%s' has a data-dependent shape that differs from "
                                 "its declared bound in this run; serving such outputs is not "
                                 "implemented (Ultralytics' nms=True [1,300,6] always has its "
                                 "bound shape)",
                                 ai.name);
        }
        uint64_t t_c = cvb_now_ns();
        for (int j = 0; rc == 0 && !contiguous && j < c; j++)
            for (int k = 0; k < s->n_out; k++)
                memcpy((char *)s->pool_out[k] + (size_t)it[j] * s->out_bytes[k],
                       (const char *)in->stage_out[k] + (size_t)j * s->out_bytes[k],
                       s->out_bytes[k]);
        rec[(*n_rec)++] = (struct exec_rec){p, t_b - t_a, t_c - t_b, cvb_now_ns() - t_c};
        done += c;
    }
    return rc;
}

/* Statistics of a batch's executions (invariant 3: before its slots turn
 * DONE). */
static void record_batch(struct cvb_model_server *s, const struct exec_rec *rec, int n_rec,
                         int items, int rc) {
    pthread_mutex_lock(&s->stats_mu);
    struct cvb_kserve_model_stats *st = &s->stats;
    for (int i = 0; i < n_rec; i++) {
        struct cvb_kserve_batch_stat *bs = &st->batch[rec[i].plan];
        bs->compute_input.count++;
        bs->compute_input.ns += rec[i].in_ns;
        bs->compute_infer.count++;
        bs->compute_infer.ns += rec[i].infer_ns;
        bs->compute_output.count++;
        bs->compute_output.ns += rec[i].out_ns;
    }
    st->execution_count += (uint64_t)n_rec;
    if (rc == 0) st->inference_count += (uint64_t)items;
    pthread_mutex_unlock(&s->stats_mu);
    for (int i = 0; i < n_rec; i++) {
        cvb_metric_observe(s->m_compute, NULL, ns_to_s(rec[i].infer_ns));
        cvb_metric_observe(s->m_batch, NULL, (double)s->plan[rec[i].plan]);
    }
}

static void *instance_main(void *arg) {
    struct instance *in = arg;
    struct cvb_model_server *s = in->s;
    struct cvb_err err = {0};
    struct exec_rec rec[MAX_PLANS]; /* greedy split: each plan at most once */
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && s->count == 0) pthread_cond_wait(&s->work, &s->mu);
        if (s->count == 0) { /* stopping, nothing left */
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int n = 0;
        in->gather[n++] = &s->slots[s->ring[s->head]];
        s->head = (s->head + 1) % s->n_slots;
        s->count--;
        int items = gather_more(in, &n, in->gather[0]->b);
        uint64_t t_start = cvb_now_ns();
        for (int i = 0, j = 0; i < n; i++) {
            in->gather[i]->state = SLOT_RUNNING;
            in->gather[i]->t_start = t_start;
            for (int t = 0; t < in->gather[i]->b; t++) in->item[j++] = in->gather[i]->first + t;
        }
        pthread_mutex_unlock(&s->mu);

        int n_rec = 0;
        err.msg[0] = '\0';
        int rc = run_batch(in, items, rec, &n_rec, &err);
        uint64_t t_end = cvb_now_ns();
        atomic_fetch_add(&in->busy_ns, t_end - t_start);
        record_batch(s, rec, n_rec, items, rc);

        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < n; i++) {
            struct slot *sl = in->gather[i];
            sl->rc = rc;
            snprintf(sl->msg, sizeof sl->msg, "%s", rc < 0 ? err.msg : "");
            sl->t_end = t_end;
            if (sl->abandoned) { /* the handler gave up: nobody will read it */
                sl->abandoned = 0;
                slot_put(s, sl);
            } else {
                sl->state = SLOT_DONE;
                pthread_cond_signal(&sl->done);
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---- routes --------------------------------------------------------------------- */

static int h_live(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    (void)user;
    (void)req;
    return cvb_http_resp_text(resp, 200, "text/plain", "", 0);
}

static int h_server_meta(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    (void)user;
    (void)req;
    struct cvb_kserve_server_meta m = {
        .name = "cvbench",
        .version = CVB_VERSION,
        .n_extensions = 3,
        .extensions = {"binary_tensor_data", "statistics", "model_configuration"},
    };
    struct cvb_buf b;
    struct cvb_err err = {0};
    cvb_buf_init(&b, 1u << 16);
    return reply_json(resp, cvb_kserve_server_meta_encode(&m, &b, &err), &b);
}

/* Drop dim 0 (Triton config dims when max_batch_size > 0). */
static void drop_batch_dim(struct cvb_kserve_tensor_meta *m) {
    memmove(m->shape, m->shape + 1, (size_t)(m->n_dims - 1) * sizeof m->shape[0]);
    m->n_dims--;
}

/* The model's declared tensors into an encoder's arrays; 'config': Triton
 * config dims (without the batch dim when batching). */
static void put_io(const struct cvb_model_server *s, int config, int *n_in,
                   struct cvb_kserve_tensor_meta *in, int *n_out,
                   struct cvb_kserve_tensor_meta *out) {
    *n_in = 1;
    in[0] = s->in_meta;
    *n_out = s->n_out;
    memcpy(out, s->out_meta, (size_t)s->n_out * sizeof *out);
    if (!config || s->max_batch <= 1) return;
    drop_batch_dim(&in[0]);
    for (int i = 0; i < s->n_out; i++) drop_batch_dim(&out[i]);
}

static int h_model_meta(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_model_server *s = user;
    if (model_known(s, req, resp, 0, 0) < 0) return 0;
    struct cvb_kserve_model_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", s->name);
    m.n_versions = 1;
    snprintf(m.versions[0], sizeof m.versions[0], VERSION);
    snprintf(m.platform, sizeof m.platform, PLATFORM);
    put_io(s, 0, &m.n_inputs, m.inputs, &m.n_outputs, m.outputs);
    struct cvb_buf b;
    struct cvb_err err = {0};
    cvb_buf_init(&b, 1u << 16);
    return reply_json(resp, cvb_kserve_model_meta_encode(&m, &b, &err), &b);
}

static int h_model_ready(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_model_server *s = user;
    if (model_known(s, req, resp, 0, 0) < 0) return 0;
    return cvb_http_resp_text(resp, 200, "text/plain", "", 0);
}

static int h_model_config(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_model_server *s = user;
    if (model_known(s, req, resp, 0, 0) < 0) return 0;
    /* Triton: max_batch_size 0 = the model does not batch, and dims are the
     * full shape, batch dimension included; > 0: dims without it, and the
     * dynamic batcher's settings. */
    struct cvb_kserve_model_config c;
    memset(&c, 0, sizeof c);
    c.name = s->name;
    c.platform = PLATFORM;
    c.backend = "cvbench";
    c.max_batch_size = s->max_batch > 1 ? s->max_batch : 0;
    put_io(s, 1, &c.n_inputs, c.inputs, &c.n_outputs, c.outputs);
    if (s->max_batch > 1) {
        c.dynamic_batching = 1;
        c.max_queue_delay_us = s->batch_ns / 1000u;
        /* the planned sizes: every execution has one of them */
        int p0 = s->n_plans - CVB_KSERVE_MAX_PREFERRED; /* the largest ones fit */
        for (int p = p0 > 1 ? p0 : 1; p < s->n_plans; p++)
            c.preferred_batch_sizes[c.n_preferred++] = s->plan[p];
    }
    c.instance_count = s->n_inst;
    struct cvb_buf b;
    struct cvb_err err = {0};
    cvb_buf_init(&b, 1u << 16);
    return reply_json(resp, cvb_kserve_model_config_encode(&c, &b, &err), &b);
}

static int h_stats(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_model_server *s = user;
    /* /v2/models/stats (all models) has no {name} */
    if (cvb_http_req_param(req, "name") != NULL && model_known(s, req, resp, 0, 0) < 0) return 0;
    struct cvb_kserve_model_stats *st = malloc(sizeof *st);
    if (st == NULL) return CVB_ENOMEM;
    pthread_mutex_lock(&s->stats_mu);
    *st = s->stats;
    pthread_mutex_unlock(&s->stats_mu);
    /* batch_stats: the sizes executed so far, ascending */
    int n = 0;
    for (int p = 0; p < s->n_plans; p++)
        if (st->batch[p].compute_infer.count > 0) st->batch[n++] = st->batch[p];
    st->n_batch = n;
    struct cvb_buf b;
    struct cvb_err err = {0};
    cvb_buf_init(&b, 1u << 20);
    int rc = reply_json(resp, cvb_kserve_stats_encode(st, 1, &b, &err), &b);
    free(st);
    return rc;
}

static int h_infer(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_model_server *s = user;
    uint64_t t0 = cvb_now_ns();
    if (model_known(s, req, resp, 1, t0) < 0) return 0;
    struct cvb_err err = {0};
    char msg[CVB_ERR_MSG_MAX + CVB_KSERVE_NAME_MAX + 64];
    struct cvb_kserve_request *rq = malloc(sizeof *rq);
    struct cvb_kserve_response *rs = malloc(sizeof *rs);
    struct cvb_buf b;
    struct slot *sl = NULL;
    int rc = 0;
    cvb_buf_init(&b, s->max_resp);
    if (rq == NULL || rs == NULL) {
        rc = CVB_ENOMEM;
        goto out;
    }
    memset(rq, 0, sizeof *rq);
    const char *hl = cvb_http_req_header(req, CVB_KSERVE_HEADER_LEN);
    if (cvb_kserve_request_parse(req->body, req->body_len, hl, NULL, rq, &err) < 0) {
        memset(rq, 0, sizeof *rq);
        fail_reply(s, resp, 400, 1, t0, err.msg);
        goto out;
    }
    if (cvb_kserve_check_inputs(&s->in_meta, 1, rq->inputs, rq->n_inputs, &err) < 0) {
        fail_reply(s, resp, 400, 1, t0, err.msg);
        goto out;
    }
    /* batch b: dim 0, declared -1 when batching (else checked equal to 1) */
    int64_t nb = rq->inputs[0].n_dims > 0 ? rq->inputs[0].shape[0] : 1;
    if (nb < 1 || nb > s->max_batch) {
        snprintf(msg, sizeof msg,
                 "input '%s': batch dimension %lld out of range: model '%s' takes 1..%d items "
                 "per request (--max-batch)",
                 s->in_meta.name, (long long)nb, s->name, s->max_batch);
        fail_reply(s, resp, 400, 1, t0, msg);
        goto out;
    }
    for (int i = 0; i < rq->n_outputs; i++) {
        int found = 0;
        for (int k = 0; k < s->n_out && !found; k++)
            found = strcmp(rq->outputs[i].name, s->out_meta[k].name) == 0;
        if (!found) {
            snprintf(msg, sizeof msg, "requested output '%s' is not an output of model '%s'",
                     rq->outputs[i].name, s->name);
            fail_reply(s, resp, 400, 1, t0, msg);
            goto out;
        }
    }

    pthread_mutex_lock(&s->mu);
    sl = slot_get(s, (int)nb);
    if (sl != NULL) sl->state = SLOT_QUEUED; /* reserved; not in the ring yet */
    pthread_mutex_unlock(&s->mu);
    if (sl == NULL) {
        snprintf(msg, sizeof msg, "server busy: no %lld free request slots of model '%s' "
                 "(%d in all); retry later", (long long)nb, s->name, s->n_slots);
        fail_reply(s, resp, 503, 1, t0, msg);
        goto out;
    }
    /* size checked by check_inputs: b items */
    memcpy(sl->in, rq->inputs[0].data, (size_t)nb * s->in_bytes);
    uint64_t t_in = cvb_now_ns();

    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += s->timeout_ms / 1000;
    dl.tv_nsec += (long)(s->timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    sl->t_queued = t_in;
    sl->abandoned = 0;
    s->ring[(s->head + s->count) % s->n_slots] = (int)(sl - s->slots);
    s->count++;
    pthread_cond_signal(&s->work);
    int timed_out = 0;
    while (sl->state != SLOT_DONE && !timed_out)
        timed_out = pthread_cond_timedwait(&sl->done, &s->mu, &dl) == ETIMEDOUT &&
                    sl->state != SLOT_DONE;
    if (timed_out) sl->abandoned = 1; /* the instance frees it */
    pthread_mutex_unlock(&s->mu);
    if (timed_out) {
        sl = NULL;
        snprintf(msg, sizeof msg, "model '%s': no result within %d ms (server overloaded)",
                 s->name, s->timeout_ms);
        fail_reply(s, resp, 503, 1, t0, msg);
        goto out;
    }
    if (sl->rc < 0) {
        snprintf(msg, sizeof msg, "model '%s': inference failed: %s", s->name, sl->msg);
        fail_reply(s, resp, 500, 1, t0, msg);
        goto out;
    }

    /* the response: all outputs, or the requested ones in request order */
    memset(rs, 0, sizeof *rs);
    snprintf(rs->model_name, sizeof rs->model_name, "%s", s->name);
    snprintf(rs->model_version, sizeof rs->model_version, VERSION);
    snprintf(rs->id, sizeof rs->id, "%s", rq->id);
    int any_binary = 0;
    int n = rq->n_outputs > 0 ? rq->n_outputs : s->n_out;
    for (int i = 0; i < n; i++) {
        int k = i, bin = rq->binary_outputs;
        if (rq->n_outputs > 0) {
            for (k = 0; k < s->n_out; k++)
                if (strcmp(rq->outputs[i].name, s->out_meta[k].name) == 0) break;
            bin = bin || rq->outputs[i].binary;
        }
        struct cvb_kserve_tensor *t = &rs->outputs[i];
        snprintf(t->name, sizeof t->name, "%s", s->out_meta[k].name);
        t->dtype = s->out_meta[k].dtype;
        t->n_dims = s->out_meta[k].n_dims;
        memcpy(t->shape, s->out_meta[k].shape, sizeof t->shape);
        t->shape[0] = nb; /* -1 declared when batching */
        t->data = sl->out[k];
        t->n_bytes = (size_t)nb * s->out_bytes[k];
        t->binary = bin;
        any_binary |= bin;
    }
    rs->n_outputs = n;
    size_t header_len = 0;
    rc = cvb_kserve_response_encode(rs, &b, &header_len, &err);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "model '%s': cannot encode the response: %s", s->name, err.msg);
        fail_reply(s, resp, 500, 1, t0, msg);
        rc = 0;
        goto out;
    }
    uint64_t t_q = sl->t_start - sl->t_queued, t_inf = sl->t_end - sl->t_start;
    uint64_t t_end = sl->t_end;
    pthread_mutex_lock(&s->mu);
    slot_put(s, sl);
    pthread_mutex_unlock(&s->mu);
    sl = NULL;
    if (any_binary) {
        char v[32];
        snprintf(v, sizeof v, "%zu", header_len);
        cvb_http_resp_header(resp, CVB_KSERVE_HEADER_LEN, v);
    }
    rc = reply_buf(resp, 200, any_binary ? "application/octet-stream" : "application/json", &b);
    if (rc < 0) goto out;
    uint64_t now = cvb_now_ns();
    pthread_mutex_lock(&s->stats_mu);
    struct cvb_kserve_model_stats *st = &s->stats;
    st->success.count++;
    st->success.ns += now - t0;
    st->queue.count++;
    st->queue.ns += t_q;
    st->compute_input.count++;
    st->compute_input.ns += t_in - t0;
    st->compute_infer.count++;
    st->compute_infer.ns += t_inf;
    st->compute_output.count++;
    st->compute_output.ns += now - t_end;
    /* execution_count, inference_count and batch_stats: per engine call,
     * by the instance (record_batch) */
    st->last_inference_ms = (uint64_t)time(NULL) * 1000u;
    pthread_mutex_unlock(&s->stats_mu);
    cvb_metric_inc(s->m_requests, CVB_LABELS("200"));
    cvb_metric_observe(s->m_queue, NULL, ns_to_s(t_q));
    cvb_metric_observe(s->m_request, NULL, ns_to_s(now - t0));
out:
    if (sl != NULL) {
        pthread_mutex_lock(&s->mu);
        slot_put(s, sl);
        pthread_mutex_unlock(&s->mu);
    }
    if (rq != NULL) cvb_kserve_request_cleanup(rq);
    free(rq);
    free(rs);
    cvb_buf_cleanup(&b);
    return rc;
}

/* /metrics collector: busy ratio per instance since start, queue depth. */
static void collect(struct cvb_metrics *reg, void *user) {
    (void)reg;
    struct cvb_model_server *s = user;
    double up = ns_to_s(cvb_now_ns() - s->t_start_ns);
    for (int i = 0; i < s->n_inst; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        double busy = ns_to_s(atomic_load(&s->inst[i].busy_ns));
        cvb_metric_set(s->m_busy_s, CVB_LABELS(id), busy);
        cvb_metric_set(s->m_busy, CVB_LABELS(id), up > 0 ? busy / up : 0);
    }
    pthread_mutex_lock(&s->mu);
    int depth = s->count;
    pthread_mutex_unlock(&s->mu);
    cvb_metric_set(s->m_depth, NULL, depth);
}

static int setup_metrics(struct cvb_model_server *s, struct cvb_err *err) {
    static const double lat[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
    static const double bs[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    int rc = cvb_metrics_new(CVB_METRICS_PROCESS, &s->reg, err);
    if (rc == 0)
        rc = cvb_metrics_counter(s->reg, "cvb_model_requests_total",
                                 "Infer requests by HTTP status.", "status", &s->m_requests, err);
    if (rc == 0)
        rc = cvb_metrics_histogram(s->reg, "cvb_model_queue_seconds",
                                   "Time a request waited for an instance.", NULL, lat,
                                   CVB_ARRAY_LEN(lat), &s->m_queue, err);
    if (rc == 0)
        rc = cvb_metrics_histogram(s->reg, "cvb_model_compute_seconds",
                                   "Engine time per execution.", NULL, lat, CVB_ARRAY_LEN(lat),
                                   &s->m_compute, err);
    if (rc == 0)
        rc = cvb_metrics_histogram(s->reg, "cvb_model_request_seconds",
                                   "Infer request time in the server, body received to reply.",
                                   NULL, lat, CVB_ARRAY_LEN(lat), &s->m_request, err);
    if (rc == 0)
        rc = cvb_metrics_histogram(s->reg, "cvb_model_batch_size",
                                   "Items per execution (engine call).",
                                   NULL, bs, CVB_ARRAY_LEN(bs), &s->m_batch, err);
    if (rc == 0)
        rc = cvb_metrics_gauge(s->reg, "cvb_model_instance_busy_ratio",
                               "Fraction of time since start an instance spent in the engine.",
                               "instance", &s->m_busy, err);
    if (rc == 0)
        rc = cvb_metrics_counter(s->reg, "cvb_model_instance_busy_seconds_total",
                                 "Time an instance spent in the engine.", "instance",
                                 &s->m_busy_s, err);
    if (rc == 0)
        rc = cvb_metrics_gauge(s->reg, "cvb_model_queue_depth",
                               "Requests queued for an instance.", NULL, &s->m_depth, err);
    if (rc == 0) rc = cvb_metrics_on_collect(s->reg, collect, s, err);
    return rc;
}

/* ---- life cycle ----------------------------------------------------------------- */

static int default_name(const char *path, char *out, size_t n, struct cvb_err *err) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".onnx") == 0) len -= 5;
    if (len == 0 || len >= n)
        return cvb_err_set(err, CVB_EINVAL,
                           "--model %s: cannot derive a model name from the file name; give "
                           "--name", path);
    snprintf(out, n, "%.*s", (int)len, base);
    return 0;
}

static int check_name(const char *name, struct cvb_err *err) {
    size_t len = strlen(name);
    if (len == 0 || len >= CVB_KSERVE_NAME_MAX)
        return cvb_err_set(err, CVB_EINVAL, "model name '%.64s': empty or over %d bytes", name,
                           CVB_KSERVE_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '%')
            return cvb_err_set(err, CVB_EINVAL,
                               "model name '%s': byte %zu is not allowed in a URL segment "
                               "(printable ASCII without space, '/', '?', '#', '%%')",
                               name, i);
    }
    return 0;
}

static int load_instances(struct cvb_model_server *s, const struct cvb_model_server_opts *o,
                          struct cvb_err *err) {
    struct cvb_engine_opts eo = {
        .threads = o->threads > 0 ? o->threads
                                  : (cvb_engine_default_threads() / s->n_inst > 0
                                         ? cvb_engine_default_threads() / s->n_inst
                                         : 1),
        .input_format = o->input_format,
        .isa = o->isa,
        .precision = o->precision,
        .calib = o->calib,
    };
    int rc = 0;
    /* the plans: 1, 2, 4, ... below max_batch, and max_batch */
    s->n_plans = 0;
    for (int b = 1; b < s->max_batch; b *= 2) s->plan[s->n_plans++] = b;
    s->plan[s->n_plans++] = s->max_batch;
    for (int i = 0; i < s->n_inst && rc == 0; i++) {
        s->inst[i].s = s;
        s->inst[i].id = i;
        atomic_init(&s->inst[i].busy_ns, 0);
        for (int p = 0; p < s->n_plans && rc == 0; p++) {
            eo.batch = s->plan[p];
            rc = cvb_engine_load(o->model_path, &eo, &s->inst[i].engine[p], err);
        }
    }
    if (rc < 0) return rc;
    struct cvb_engine *e = s->inst[0].engine[0];
    struct cvb_tensor_info ti;
    enum cvb_kserve_dtype dt;
    if (cvb_engine_n_inputs(e) != 1)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: serve-model serves models with one input; this one has %d",
                           o->model_path, cvb_engine_n_inputs(e));
    if (cvb_engine_n_outputs(e) < 1 || cvb_engine_n_outputs(e) > MAX_OUT)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: %d outputs (serve-model takes 1..%d)",
                           o->model_path, cvb_engine_n_outputs(e), MAX_OUT);
    cvb_engine_input_info(e, 0, &ti);
    if (dtype_from_engine(ti.dtype, &dt) < 0 || ti.ndim > CVB_KSERVE_MAX_DIMS)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "%s: input '%s' of type %s is not servable",
                           o->model_path, ti.name, ti.dtype);
    if (s->max_batch > 1 && (ti.ndim < 1 || ti.dims[0] != 1))
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "%s: --max-batch %d needs an input with batch dimension 1 (or "
                           "dynamic); input '%s' has %d dims, the first %lld",
                           o->model_path, s->max_batch, ti.name, ti.ndim,
                           (long long)(ti.ndim > 0 ? ti.dims[0] : 0));
    meta_from_info(&ti, dt, &s->in_meta);
    if (s->max_batch > 1) s->in_meta.shape[0] = -1;
    s->in_bytes = ti.bytes;
    s->n_out = cvb_engine_n_outputs(e);
    size_t out_total = 0;
    for (int i = 0; i < s->n_out; i++) {
        cvb_engine_output_info(e, i, &ti);
        if (dtype_from_engine(ti.dtype, &dt) < 0 || ti.ndim > CVB_KSERVE_MAX_DIMS)
            return cvb_err_set(err, CVB_EUNSUPPORTED,
                               "%s: output '%s' of type %s is not servable", o->model_path,
                               ti.name, ti.dtype);
        if (s->max_batch > 1 && (ti.ndim < 1 || ti.dims[0] != 1))
            return cvb_err_set(err, CVB_EUNSUPPORTED,
                               "%s: --max-batch %d needs outputs with batch dimension 1; "
                               "output '%s' does not have it", o->model_path, s->max_batch,
                               ti.name);
        meta_from_info(&ti, dt, &s->out_meta[i]);
        if (s->max_batch > 1) s->out_meta[i].shape[0] = -1;
        s->out_bytes[i] = ti.bytes;
        out_total += ti.bytes;
    }
    /* JSON text of a float is at most ~16 bytes: 4x+ the binary size */
    s->max_resp = out_total * (size_t)s->max_batch * 5 + (1u << 20);
    if (s->max_resp < CVB_HTTP_DEFAULT_MAX_RESPONSE) s->max_resp = CVB_HTTP_DEFAULT_MAX_RESPONSE;
    return 0;
}

static void *alloc_items(size_t n, size_t bytes) {
    return aligned_alloc(64, (n * bytes + 63) / 64 * 64);
}

/* The item pool, the slot descriptors, and each instance's batch buffers. */
static int alloc_slots(struct cvb_model_server *s, struct cvb_err *err) {
    int rc = 0;
    size_t n = (size_t)s->n_slots, mb = (size_t)s->max_batch;
    s->slots = calloc(n, sizeof *s->slots);
    s->ring = calloc(n, sizeof *s->ring);
    s->used = calloc(n, 1);
    s->pool_in = alloc_items(n, s->in_bytes);
    if (s->slots == NULL || s->ring == NULL || s->used == NULL || s->pool_in == NULL)
        rc = CVB_ENOMEM;
    for (int k = 0; k < s->n_out && rc == 0; k++)
        if ((s->pool_out[k] = alloc_items(n, s->out_bytes[k])) == NULL) rc = CVB_ENOMEM;
    for (int i = 0; i < s->n_inst && rc == 0; i++) {
        struct instance *in = &s->inst[i];
        in->gather = calloc(mb, sizeof *in->gather);
        in->item = calloc(mb, sizeof *in->item);
        if (in->gather == NULL || in->item == NULL) rc = CVB_ENOMEM;
        if (rc < 0 || mb == 1) continue; /* batch 1 always runs in place */
        if ((in->stage_in = alloc_items(mb, s->in_bytes)) == NULL) rc = CVB_ENOMEM;
        for (int k = 0; k < s->n_out && rc == 0; k++)
            if ((in->stage_out[k] = alloc_items(mb, s->out_bytes[k])) == NULL) rc = CVB_ENOMEM;
    }
    if (rc < 0)
        return cvb_err_set(err, rc, "serve-model: out of memory for %d request slots and "
                           "max-batch %d staging", s->n_slots, s->max_batch);
    for (int i = 0; i < s->n_slots; i++) pthread_cond_init(&s->slots[i].done, NULL);
    s->conds_init = 1;
    return 0;
}

int cvb_model_server_new(const struct cvb_model_server_opts *o, struct cvb_model_server **out,
                         struct cvb_err *err) {
    struct cvb_model_server *s = NULL;
    int rc = 0;
    *out = NULL;
    if (o->model_path == NULL)
        return cvb_err_set(err, CVB_EINVAL, "serve-model: --model is required");
    if (o->max_batch > CVB_ENGINE_MAX_BATCH || o->batch_timeout_us > CVB_MODEL_SERVER_MAX_BATCH_US)
        return cvb_err_set(err, CVB_EINVAL,
                           "serve-model: --max-batch %d (at most %d) or --batch-timeout-us %d "
                           "(at most %d) out of range",
                           o->max_batch, CVB_ENGINE_MAX_BATCH, o->batch_timeout_us,
                           CVB_MODEL_SERVER_MAX_BATCH_US);
    if (o->max_batch < 0 || o->instances < 0 || o->instances > CVB_MODEL_SERVER_MAX_INSTANCES ||
        o->queue_slots < 0 || o->request_timeout_ms < 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "serve-model: max-batch, instances (<= %d), queue slots and timeout "
                           "must not be negative",
                           CVB_MODEL_SERVER_MAX_INSTANCES);
    s = calloc(1, sizeof *s);
    if (s == NULL) return cvb_err_set(err, CVB_ENOMEM, "serve-model: out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_mutex_init(&s->stats_mu, NULL);
    s->t_start_ns = cvb_now_ns();
    s->max_batch = o->max_batch > 0 ? o->max_batch : 1;
    s->batch_ns = o->batch_timeout_us < 0    ? 0
                  : o->batch_timeout_us == 0 ? (uint64_t)CVB_MODEL_SERVER_DEFAULT_BATCH_US * 1000u
                                             : (uint64_t)o->batch_timeout_us * 1000u;
    if (s->max_batch == 1) s->batch_ns = 0;
    s->n_inst = o->instances > 0 ? o->instances : 1;
    /* enough items to fill every instance's batch and queue as many again */
    s->n_slots = o->queue_slots > 0 ? o->queue_slots
                                    : s->n_inst * (s->max_batch > 2 ? 2 * s->max_batch : 4);
    if (s->n_slots < s->n_inst) s->n_slots = s->n_inst;
    if (s->n_slots < s->max_batch) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "serve-model: --queue-slots %d < --max-batch %d: a request of "
                         "max-batch items could never be queued", s->n_slots, s->max_batch);
        goto out;
    }
    s->timeout_ms = o->request_timeout_ms > 0 ? o->request_timeout_ms
                                              : CVB_MODEL_SERVER_DEFAULT_TIMEOUT_MS;
    if (o->name != NULL)
        snprintf(s->name, sizeof s->name, "%s", o->name);
    else
        rc = default_name(o->model_path, s->name, sizeof s->name, err);
    if (rc == 0) rc = check_name(o->name != NULL ? o->name : s->name, err);
    if (rc == 0) rc = load_instances(s, o, err);
    if (rc == 0) rc = alloc_slots(s, err);
    if (rc == 0) rc = setup_metrics(s, err);
    snprintf(s->stats.name, sizeof s->stats.name, "%s", s->name);
    snprintf(s->stats.version, sizeof s->stats.version, VERSION);
    for (int p = 0; p < s->n_plans; p++) s->stats.batch[p].batch_size = (uint64_t)s->plan[p];
    for (int i = 0; i < s->n_inst && rc == 0; i++) {
        if (pthread_create(&s->inst[i].thread, NULL, instance_main, &s->inst[i]) != 0)
            rc = cvb_err_set(err, CVB_EINTERNAL, "serve-model: cannot start instance %d", i);
        else
            s->inst[i].started = 1;
    }
    if (rc < 0) goto out;
    struct cvb_http_opts ho = {
        .listen = o->listen ? o->listen : CVB_MODEL_SERVER_DEFAULT_LISTEN,
        .max_body_bytes = o->max_body_bytes ? o->max_body_bytes : CVB_MODEL_SERVER_DEFAULT_MAX_BODY,
        .token = o->token,
        /* A handler blocks its thread while it waits for its result, and
         * libmicrohttpd splits the connection limit evenly over the pool's
         * threads: with as many connections as threads, a thread holds one
         * connection at a time, so a waiting handler never holds back a
         * request that arrived on another connection (which would keep
         * concurrent requests from meeting in one batch). A thread per
         * queued request, and 16 for idle keep-alive and metadata clients;
         * connections past that wait in the listen backlog. */
        .threads = (unsigned)(s->n_slots < 1008 ? s->n_slots + 16 : 1024),
        .max_connections = (unsigned)(s->n_slots < 1008 ? s->n_slots + 16 : 1024),
        .max_response_bytes = s->max_resp,
        .error_style = CVB_HTTP_ERRORS_FLAT,
    };
    rc = cvb_http_server_new(&ho, &s->http, err);
    if (rc < 0) goto out;
    static const struct {
        const char *m, *p;
        unsigned flags;
        cvb_http_handler fn;
    } routes[] = {
        {"GET", "/v2/health/live", 0, h_live},
        {"GET", "/v2/health/ready", 0, h_live},
        {"GET", "/v2", 0, h_server_meta},
        {"GET", "/v2/models/{name}", 0, h_model_meta},
        {"GET", "/v2/models/{name}/versions/{version}", 0, h_model_meta},
        {"GET", "/v2/models/{name}/ready", 0, h_model_ready},
        {"GET", "/v2/models/{name}/versions/{version}/ready", 0, h_model_ready},
        {"GET", "/v2/models/{name}/config", 0, h_model_config},
        {"GET", "/v2/models/{name}/versions/{version}/config", 0, h_model_config},
        {"GET", "/v2/models/stats", 0, h_stats},
        {"GET", "/v2/models/{name}/stats", 0, h_stats},
        {"GET", "/v2/models/{name}/versions/{version}/stats", 0, h_stats},
        {"POST", "/v2/models/{name}/infer", CVB_HTTP_MUTATING, h_infer},
        {"POST", "/v2/models/{name}/versions/{version}/infer", CVB_HTTP_MUTATING, h_infer},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(routes) && rc == 0; i++)
        rc = cvb_http_route(s->http, routes[i].m, routes[i].p, routes[i].flags, routes[i].fn, s,
                            err);
    if (rc == 0) rc = cvb_http_route_metrics(s->http, s->reg, err);
    if (rc < 0) goto out;
    *out = s;
    s = NULL;
out:
    cvb_model_server_free(s);
    return rc;
}

unsigned cvb_model_server_port(const struct cvb_model_server *s) {
    return cvb_http_server_port(s->http);
}

const char *cvb_model_server_name(const struct cvb_model_server *s) { return s->name; }

void cvb_model_server_free(struct cvb_model_server *s) {
    if (s == NULL) return;
    cvb_http_server_free(s->http); /* waits for running handlers: none waits on a slot after */
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->n_inst; i++) {
        struct instance *in = &s->inst[i];
        if (in->started) pthread_join(in->thread, NULL);
        for (int p = 0; p < MAX_PLANS; p++) cvb_engine_free(in->engine[p]);
        free(in->gather);
        free(in->item);
        free(in->stage_in);
        for (int k = 0; k < MAX_OUT; k++) free(in->stage_out[k]);
    }
    for (int i = 0; s->conds_init && i < s->n_slots; i++) pthread_cond_destroy(&s->slots[i].done);
    free(s->pool_in);
    for (int k = 0; k < MAX_OUT; k++) free(s->pool_out[k]);
    free(s->used);
    free(s->slots);
    free(s->ring);
    cvb_metrics_free(s->reg);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->stats_mu);
    free(s);
}
