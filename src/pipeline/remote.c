/* SPDX-License-Identifier: Apache-2.0 */
/* Backend kserve, the pipeline's side: the probe's check of the server's
 * model against the local one, and per level the client, its connections
 * and the server's statistics over the level.
 *
 * The frames, pacing, queues and NMS are the cpu backend's (level.c); only
 * the engine call changes: a worker owns a keep-alive connection instead of
 * an engine instance and spends the engine's time waiting on the network.
 * The local model stays required: it is the reference the server's
 * metadata is checked against before any frame (same input side, same
 * output shapes), the accuracy reference after each level, and what the
 * manifest hashes. */
#include "cvb/engine.h"
#include "kserve/client.h"
#include "kserve/kserve.h"
#include "pipeline/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cvb__remote {
    struct cvb_kserve_client *client;
    struct cvb_kserve_remote info;
    bool have_st0;
    struct cvb_kserve_model_stats st0;
};

void cvb__remote_model_name(const struct cvb_scenario *s, char *out, size_t len) {
    if (s->kserve_model[0] != '\0') {
        snprintf(out, len, "%s", s->kserve_model);
        return;
    }
    const char *b = strrchr(s->model, '/');
    b = b ? b + 1 : s->model;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".onnx") == 0) n -= 5;
    snprintf(out, len, "%.*s", (int)n, b);
}

static int open_client(const struct cvb_scenario *s, int imgsz, struct cvb_kserve_client **c,
                       struct cvb_kserve_remote *info, struct cvb_err *err) {
    char name[CVB_KSERVE_NAME_MAX];
    cvb__remote_model_name(s, name, sizeof name);
    struct cvb_kserve_client_opts o = {.url = s->kserve_url, .model = name, .imgsz = imgsz};
    return cvb_kserve_client_open(&o, c, info, err);
}

int cvb__remote_probe(const struct cvb_scenario *s, struct cvb_engine *e,
                      struct cvb_pipeline_probe *p, struct cvb_err *err) {
    struct cvb_kserve_client *c = NULL;
    struct cvb_kserve_remote info;
    int rc = open_client(s, p->imgsz, &c, &info, err);
    if (rc < 0) return rc;
    char name[CVB_KSERVE_NAME_MAX];
    cvb__remote_model_name(s, name, sizeof name);
    struct cvb_tensor_info ii;
    cvb_engine_input_info(e, 0, &ii);
    if (strcmp(ii.name, info.input_name) != 0) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "%s: model '%s' input is named '%s'; the local model %s calls it '%s': "
                         "is the server serving the same model?",
                         s->kserve_url, name, info.input_name, s->model, ii.name);
        goto out;
    }
    int n_out = cvb_engine_n_outputs(e);
    if (info.n_outputs != n_out) {
        rc = cvb_err_set(err, CVB_EINVAL,
                         "%s: model '%s' has %d output(s); the local model %s has %d",
                         s->kserve_url, name, info.n_outputs, s->model, n_out);
        goto out;
    }
    for (int i = 0; i < n_out; i++) {
        struct cvb_tensor_info oi;
        cvb_engine_output_info(e, i, &oi);
        bool same = oi.ndim == info.output_ndim[i] && oi.bytes == info.output_bytes[i] &&
                    strcmp(oi.name, info.output_names[i]) == 0;
        for (int d = 0; same && d < oi.ndim; d++) same = oi.dims[d] == info.output_dims[i][d];
        if (!same) {
            char a[96] = "", b[96] = "";
            for (int d = 0; d < oi.ndim; d++)
                snprintf(a + strlen(a), sizeof a - strlen(a), "%s%lld", d ? "," : "",
                         (long long)oi.dims[d]);
            for (int d = 0; d < info.output_ndim[i]; d++)
                snprintf(b + strlen(b), sizeof b - strlen(b), "%s%lld", d ? "," : "",
                         (long long)info.output_dims[i][d]);
            rc = cvb_err_set(err, CVB_EINVAL,
                             "%s: model '%s' output %d '%s' is [%s]; the local model %s gives "
                             "'%s' [%s] %s: is the server serving the same model?",
                             s->kserve_url, name, i, info.output_names[i], b, s->model, oi.name,
                             a, oi.dtype);
            goto out;
        }
    }
    p->remote = true;
    p->remote_u8 = info.input_u8;
    p->remote_request_bytes = (int64_t)info.input_bytes + 4096;
    p->remote_response_bytes = 4096;
    for (int i = 0; i < info.n_outputs; i++) p->remote_response_bytes += info.output_bytes[i];
    snprintf(p->remote_server, sizeof p->remote_server, "%s", info.server);
out:
    cvb_kserve_client_free(c);
    return rc;
}

int cvb__remote_open(const struct cvb_scenario *s, const struct cvb_pipeline_probe *p,
                     struct cvb__remote **out, struct cvb_err *err) {
    struct cvb__remote *r = calloc(1, sizeof *r);
    if (r == NULL) return cvb_err_set(err, CVB_ENOMEM, "kserve client");
    int rc = open_client(s, p->imgsz, &r->client, &r->info, err);
    if (rc == 0 && r->info.input_u8 != p->remote_u8)
        rc = cvb_err_set(err, CVB_EINVAL, "%s: the model's input changed since the probe",
                         s->kserve_url);
    if (rc < 0) {
        cvb__remote_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void cvb__remote_free(struct cvb__remote *r) {
    if (r == NULL) return;
    cvb_kserve_client_free(r->client);
    free(r);
}

const struct cvb_kserve_remote *cvb__remote_info(const struct cvb__remote *r) {
    return &r->info;
}

int cvb__remote_conn(struct cvb__remote *r, struct cvb_kserve_conn **out, struct cvb_err *err) {
    return cvb_kserve_conn_new(r->client, out, err);
}

void cvb__remote_begin(struct cvb__remote *r) {
    struct cvb_err err = {0};
    r->have_st0 = r->info.has_stats && cvb_kserve_client_stats(r->client, &r->st0, &err) == 0;
    if (r->info.has_stats && !r->have_st0)
        cvb_log_warn("kserve: server statistics not read before the level: %s", err.msg);
}

static uint64_t dsub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* Compute time (input + infer + output) of engine executions: from the
 * per-batch-size statistics when the server gives them (each execution
 * counted once), else the model's totals (per request: a batched server
 * counts an execution's time once per request in it). */
static uint64_t exec_ns(const struct cvb_kserve_model_stats *st, bool *per_exec) {
    uint64_t t = 0;
    for (int i = 0; i < st->n_batch; i++)
        t += st->batch[i].compute_input.ns + st->batch[i].compute_infer.ns +
             st->batch[i].compute_output.ns;
    *per_exec = st->n_batch > 0;
    if (st->n_batch > 0) return t;
    return st->compute_input.ns + st->compute_infer.ns + st->compute_output.ns;
}

void cvb__remote_finish(struct cvb__remote *r, double level_s, struct cvb_remote_result *o) {
    o->used = true;
    snprintf(o->server, sizeof o->server, "%s", r->info.server);
    snprintf(o->payload, sizeof o->payload, "%s", r->info.input_u8 ? "uint8" : "fp32");
    o->server_instances = r->info.instances > 0 ? r->info.instances : 1;
    struct cvb_kserve_model_stats st1;
    struct cvb_err err = {0};
    if (!r->have_st0) return;
    if (cvb_kserve_client_stats(r->client, &st1, &err) < 0) {
        cvb_log_warn("kserve: server statistics not read after the level: %s", err.msg);
        return;
    }
    const struct cvb_kserve_model_stats *a = &r->st0, *b = &st1;
    uint64_t req = dsub(b->success.count, a->success.count);
    if (req == 0) return;
    o->server_stats = true;
    o->server_requests = (int64_t)req;
    o->server_queue_ms = dsub(b->queue.ns, a->queue.ns) / 1e6 / (double)req;
    uint64_t comp = dsub(b->compute_input.ns, a->compute_input.ns) +
                    dsub(b->compute_infer.ns, a->compute_infer.ns) +
                    dsub(b->compute_output.ns, a->compute_output.ns);
    o->server_compute_ms = comp / 1e6 / (double)req;
    uint64_t execs = dsub(b->execution_count, a->execution_count);
    uint64_t items = dsub(b->inference_count, a->inference_count);
    o->server_batch_mean = execs > 0 ? (double)items / (double)execs : 0;
    bool pa = false, pb = false;
    uint64_t ea = exec_ns(a, &pa), eb = exec_ns(b, &pb);
    double busy_ns = (double)dsub(eb, ea);
    if (!pb && o->server_batch_mean > 1) busy_ns /= o->server_batch_mean;
    if (level_s > 0)
        o->server_busy_pct = 100 * busy_ns / (level_s * 1e9 * o->server_instances);
    if (o->server_busy_pct > 100) o->server_busy_pct = 100;
    double nw = o->roundtrip_ms - o->server_queue_ms - o->server_compute_ms;
    o->network_ms = nw > 0 ? nw : 0;
}
