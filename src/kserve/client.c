/* SPDX-License-Identifier: Apache-2.0 */
/* The KServe v2 REST client (client.h): the `kserve` backend's side of
 * the wire. Opening talks to the server with one-off requests
 * (cvb_http_request); each connection then owns one persistent
 * cvb_http_conn and two buffers, and a frame goes
 *     frame --(convert)--> body[header_bytes..] --POST--> resp --parse--> outs
 *
 * Invariants:
 *  1. The request's JSON header never changes for a client (one input, a
 *     fixed shape, all outputs binary): it is encoded once at open, padded
 *     with spaces (JSON allows trailing whitespace) to a multiple of 64
 *     bytes, and copied once into each connection's body buffer. A frame
 *     rewrites only the binary part, which therefore starts 64-byte aligned
 *     (the FP32 conversion writes floats there directly).
 *  2. A connection's buffers are sized at creation: the body exactly
 *     header + payload, the response the outputs' binary bytes plus
 *     RESP_HEADER_MAX for the JSON header. A response that does not fit
 *     (a server that ignored binary_data_output, say) is refused, never
 *     grown into.
 *  3. The client is read-only after open, so connections may be used from
 *     different threads (each by one thread at a time).
 * What still allocates per frame: the response's JSON header is parsed
 * with jansson (cvb_kserve_response_parse), and libcurl's own bookkeeping. */
#include "kserve/client.h"

#include "cvb/video.h"
#include "http/http.h"
#include "kserve/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX            512
#define BASE_MAX           256
#define META_RESP_MAX      ((size_t)1 << 20) /* metadata, config, stats replies */
#define RESP_HEADER_MAX    ((size_t)64 << 10)
#define HEADER_ALIGN       64
#define DEFAULT_TIMEOUT_MS 60000L

struct cvb_kserve_client {
    char base[BASE_MAX]; /* "http://h:p", no trailing '/' */
    char model[CVB_KSERVE_NAME_MAX];
    char *token; /* owned copy, NULL = none */
    long timeout_ms;
    struct cvb_kserve_remote remote;
    struct cvb_kserve_tensor_meta in_meta; /* as the server declares it */
    int64_t in_shape[4];                   /* what is sent: batch 1 */
    char infer_url[URL_MAX];
    char *header; /* the padded JSON header (invariant 1) */
    size_t header_bytes;
    char header_line[80]; /* "Inference-Header-Content-Length: N" */
    size_t resp_cap;
};

struct cvb_kserve_conn {
    struct cvb_kserve_client *c;
    struct cvb_http_conn *http;
    unsigned char *body; /* header_bytes + input_bytes, 64-byte aligned */
    size_t body_len;
    char *resp; /* resp_cap bytes */
};

/* ---- helpers ------------------------------------------------------------------- */

static void fmt_shape(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < n_dims && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "," : "", (long long)shape[d]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* The message of an error reply: KServe's {"error":"..."}, the nested
 * {"error":{"message":"..."}}, or else the start of the body as text. */
static void reply_message(const char *body, size_t len, char *buf, size_t n) {
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = j != NULL ? json_object_get(j, "error") : NULL;
    if (json_is_object(e)) e = json_object_get(e, "message");
    if (json_is_string(e)) {
        snprintf(buf, n, "%s", json_string_value(e));
    } else {
        size_t k = 0;
        for (size_t i = 0; i < len && k + 1 < n && k < 200; i++)
            buf[k++] = body[i] >= 0x20 && body[i] < 0x7f ? body[i] : ' ';
        buf[k] = '\0';
        if (k == 0) snprintf(buf, n, "(empty body)");
    }
    json_decref(j);
}

/* Model names go into URL paths as they are: printable ASCII without
 * space, '/', '?', '#', '%' (what serve-model accepts too). */
static int check_model_name(const char *m, struct cvb_err *err) {
    size_t len = m != NULL ? strlen(m) : 0;
    if (len == 0 || len >= CVB_KSERVE_NAME_MAX)
        return cvb_err_set(err, CVB_EINVAL, "kserve: model name '%.64s' is empty or over %d bytes",
                           m ? m : "", CVB_KSERVE_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)m[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("/?#%", ch) != NULL)
            return cvb_err_set(err, CVB_EINVAL,
                               "kserve: model name '%s': byte %zu cannot go into a URL path as "
                               "it is",
                               m, i);
    }
    return 0;
}

static int check_url(const char *url, char *base, struct cvb_err *err) {
    size_t len = url != NULL ? strlen(url) : 0;
    while (len > 0 && url[len - 1] == '/')
        len--;
    if (len == 0 || len >= BASE_MAX ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return cvb_err_set(err, CVB_EINVAL,
                           "kserve: url '%.200s' is not http://host:port or https://... under "
                           "%d bytes",
                           url ? url : "", BASE_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f)
            return cvb_err_set(err, CVB_EINVAL, "kserve: url '%.200s': byte %zu is not allowed",
                               url, i);
    memcpy(base, url, len);
    base[len] = '\0';
    return 0;
}

/* GET base + path (a one-off request). 0 with r filled (any status), or
 * CVB_EIO "<base>: cannot reach server: ..." / the transport error. */
static int get(const struct cvb_kserve_client *c, const char *path, struct cvb_http_result *r,
               struct cvb_err *err) {
    char url[URL_MAX];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    char lead[URL_MAX + 32];
    int rc =
        cvb_http_request("GET", url, c->token, NULL, NULL, 0, c->timeout_ms, META_RESP_MAX, r, err);
    snprintf(lead, sizeof lead, "cannot reach server %s: ", url);
    if (rc < 0 && strncmp(err->msg, lead, strlen(lead)) == 0) {
        char why[CVB_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg + strlen(lead));
        rc = cvb_err_set(err, rc, "%s: cannot reach server: %.300s", c->base, why);
    }
    return rc;
}

/* GET /v2/models/{model}'suffix' and insist on 200: otherwise CVB_EIO
 * "model 'm' <what> http://h:p (HTTP 404: <the server's message>)". */
static int get_model(const struct cvb_kserve_client *c, const char *suffix, const char *what,
                     struct cvb_http_result *r, struct cvb_err *err) {
    char path[CVB_KSERVE_NAME_MAX + 32], msg[256];
    snprintf(path, sizeof path, "/v2/models/%s%s", c->model, suffix);
    int rc = get(c, path, r, err);
    if (rc == 0 && r->status != 200) {
        reply_message(r->body, r->body_len, msg, sizeof msg);
        rc = cvb_err_set(err, CVB_EIO, "model '%s' %s %s (HTTP %ld: %s)", c->model, what, c->base,
                         r->status, msg);
    }
    return rc;
}

/* ---- open -------------------------------------------------------------------------- */

static int check_ready(struct cvb_kserve_client *c, struct cvb_err *err) {
    struct cvb_http_result r = {0};
    char msg[256];
    int rc = get(c, "/v2/health/ready", &r, err);
    if (rc == 0 && (r.status == 404 || r.status == 405 || r.status == 501)) {
        cvb_http_result_cleanup(&r); /* no readiness route: liveness will do */
        rc = get(c, "/v2/health/live", &r, err);
    }
    if (rc == 0 && r.status != 200) {
        reply_message(r.body, r.body_len, msg, sizeof msg);
        rc = cvb_err_set(err, CVB_EIO, "%s: server is not ready (HTTP %ld: %s)", c->base, r.status,
                         msg);
    }
    cvb_http_result_cleanup(&r);
    if (rc < 0) return rc;
    rc = get_model(c, "/ready", "is not ready on", &r, err);
    cvb_http_result_cleanup(&r);
    return rc;
}

static int get_meta(struct cvb_kserve_client *c, struct cvb_kserve_model_meta *m,
                    struct cvb_err *err) {
    struct cvb_http_result r = {0};
    struct cvb_err perr = {0};
    int rc = get_model(c, "", "has no metadata on", &r, err);
    if (rc == 0 && cvb_kserve_model_meta_parse(r.body, r.body_len, m, &perr) < 0)
        rc = cvb_err_set(err, CVB_EFORMAT, "model '%s' on %s: malformed metadata: %.300s",
                         c->model, c->base, perr.msg);
    cvb_http_result_cleanup(&r);
    return rc;
}

/* The optional parts: GET /v2 (server name), Triton's model configuration
 * (max_batch_size, instance count) and the statistics extension. A server
 * without them is fine; only the transport failing is an error. */
static int get_optional(struct cvb_kserve_client *c, struct cvb_err *err) {
    struct cvb_http_result r = {0};
    struct cvb_kserve_remote *rm = &c->remote;
    char path[CVB_KSERVE_NAME_MAX + 32];
    json_t *j = NULL;
    int rc = get(c, "/v2", &r, err);
    if (rc < 0) goto out;
    if (r.status == 200 && (j = json_loadb(r.body, r.body_len, 0, NULL)) != NULL) {
        json_t *n = json_object_get(j, "name"), *v = json_object_get(j, "version");
        if (json_is_string(n))
            snprintf(rm->server, sizeof rm->server, "%.40s%s%.20s", json_string_value(n),
                     json_is_string(v) ? " " : "", json_is_string(v) ? json_string_value(v) : "");
    }
    json_decref(j);
    j = NULL;
    cvb_http_result_cleanup(&r);

    rm->max_batch_size = -1;
    snprintf(path, sizeof path, "/v2/models/%s/config", c->model);
    rc = get(c, path, &r, err);
    if (rc < 0) goto out;
    if (r.status == 200 && (j = json_loadb(r.body, r.body_len, 0, NULL)) != NULL) {
        json_t *mb = json_object_get(j, "max_batch_size"),
               *ig = json_object_get(j, "instance_group");
        if (json_is_integer(mb) && json_integer_value(mb) >= 0 &&
            json_integer_value(mb) < (1 << 20))
            rm->max_batch_size = (int)json_integer_value(mb);
        for (size_t i = 0; json_is_array(ig) && i < json_array_size(ig); i++) {
            json_t *cnt = json_object_get(json_array_get(ig, i), "count");
            if (json_is_integer(cnt) && json_integer_value(cnt) > 0 &&
                json_integer_value(cnt) < (1 << 16))
                rm->instances += (int)json_integer_value(cnt);
        }
    }
    json_decref(j);
    j = NULL;
    cvb_http_result_cleanup(&r);

    struct cvb_kserve_model_stats *st = malloc(sizeof *st);
    if (st == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/v2/models/%s/stats", c->model);
    rc = get(c, path, &r, err);
    rm->has_stats =
        rc == 0 && r.status == 200 && cvb_kserve_stats_parse(r.body, r.body_len, st, NULL) == 0;
    free(st);
out:
    json_decref(j);
    cvb_http_result_cleanup(&r);
    return rc;
}

/* Pick the encoding from the declared input (client.h) and resolve S. */
static int choose_input(struct cvb_kserve_client *c, const struct cvb_kserve_model_meta *m,
                        int want_imgsz, struct cvb_err *err) {
    struct cvb_kserve_remote *rm = &c->remote;
    char shape[128];
    if (m->n_inputs != 1)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model '%s' on %s has %d inputs; the kserve backend sends one image "
                           "tensor",
                           c->model, c->base, m->n_inputs);
    const struct cvb_kserve_tensor_meta *in = &m->inputs[0];
    const int64_t *s = in->shape;
    c->in_meta = *in;
    fmt_shape(shape, sizeof shape, in->n_dims, s);
    int u8 = in->dtype == CVB_KSERVE_UINT8 && in->n_dims == 4 && s[3] == 3;
    int f32 = in->dtype == CVB_KSERVE_FP32 && in->n_dims == 4 && s[1] == 3;
    int64_t h = u8 ? s[1] : s[2], w = u8 ? s[2] : s[3];
    if (!u8 && !f32)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model '%s' input '%s': %s %s is neither UINT8 [1,S,S,3] nor FP32 "
                           "[1,3,S,S]",
                           c->model, in->name, cvb_kserve_dtype_name(in->dtype), shape);
    if (s[0] != 1 && s[0] != -1)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model '%s' input '%s': %s has batch dim %lld; the client sends one "
                           "frame per request (batch 1 or -1)",
                           c->model, in->name, shape, (long long)s[0]);
    if (h == -1 && w == -1 && want_imgsz > 0) h = w = want_imgsz; /* dynamic: ours */
    if (h != w || h <= 0 || h > 8192)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model '%s' input '%s': %s is not a square image of a known side%s",
                           c->model, in->name, shape,
                           h == -1 || w == -1 ? " (dynamic: set imgsz)" : "");
    if (want_imgsz > 0 && h != want_imgsz)
        return cvb_err_set(err, CVB_EINVAL,
                           "model '%s' input is %lldx%lld, the scenario wants imgsz %d", c->model,
                           (long long)h, (long long)w, want_imgsz);
    rm->imgsz = (int)h;
    rm->input_u8 = u8;
    snprintf(rm->input_name, sizeof rm->input_name, "%s", in->name);
    rm->input_bytes = (size_t)3 * (size_t)h * (size_t)h * (u8 ? 1 : sizeof(float));
    int64_t send[4] = {1, 3, h, h};
    if (u8) send[1] = h, send[3] = 3;
    memcpy(c->in_shape, send, sizeof send);
    return 0;
}

/* Every output FP32 with a known shape (a -1 batch dim resolves to 1). */
static int take_outputs(struct cvb_kserve_client *c, const struct cvb_kserve_model_meta *m,
                        struct cvb_err *err) {
    struct cvb_kserve_remote *rm = &c->remote;
    char shape[128];
    if (m->n_outputs < 1 || m->n_outputs > CVB_KSERVE_CLIENT_MAX_OUTPUTS)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "model '%s' on %s has %d outputs (1..%d taken)",
                           c->model, c->base, m->n_outputs, CVB_KSERVE_CLIENT_MAX_OUTPUTS);
    rm->n_outputs = m->n_outputs;
    for (int i = 0; i < m->n_outputs; i++) {
        const struct cvb_kserve_tensor_meta *o = &m->outputs[i];
        uint64_t elems = 1;
        fmt_shape(shape, sizeof shape, o->n_dims, o->shape);
        if (o->dtype != CVB_KSERVE_FP32 || o->n_dims < 1)
            return cvb_err_set(err, CVB_EUNSUPPORTED,
                               "model '%s' output '%s': %s %s; the client takes FP32 tensors",
                               c->model, o->name, cvb_kserve_dtype_name(o->dtype), shape);
        snprintf(rm->output_names[i], sizeof rm->output_names[i], "%s", o->name);
        rm->output_ndim[i] = o->n_dims;
        for (int d = 0; d < o->n_dims; d++) {
            int64_t v = d == 0 && o->shape[0] == -1 ? 1 : o->shape[d];
            if (v <= 0 || (d == 0 && v != 1))
                return cvb_err_set(err, CVB_EUNSUPPORTED,
                                   "model '%s' output '%s': shape %s; the client needs batch 1 "
                                   "(or -1) and fixed other dims",
                                   c->model, o->name, shape);
            rm->output_dims[i][d] = v;
            elems *= (uint64_t)v;
            if (elems > ((size_t)256 << 20) / sizeof(float))
                return cvb_err_set(err, CVB_ERANGE, "model '%s' output '%s': %s is over 256 MiB",
                                   c->model, o->name, shape);
        }
        rm->output_bytes[i] = (size_t)elems * sizeof(float);
        c->resp_cap += rm->output_bytes[i];
    }
    c->resp_cap += RESP_HEADER_MAX;
    return 0;
}

/* Encode the request's JSON header once (invariant 1), checking the
 * tensor against the declared input on the way. */
static int make_header(struct cvb_kserve_client *c, struct cvb_err *err) {
    struct cvb_kserve_request *rq = calloc(1, sizeof *rq);
    void *zeros = calloc(1, c->remote.input_bytes);
    struct cvb_buf b;
    size_t hlen = 0;
    int rc = 0;
    cvb_buf_init(&b, RESP_HEADER_MAX + c->remote.input_bytes);
    if (rq == NULL || zeros == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    struct cvb_kserve_tensor *t = &rq->inputs[0];
    rq->n_inputs = 1;
    rq->binary_outputs = 1;
    snprintf(t->name, sizeof t->name, "%s", c->remote.input_name);
    t->dtype = c->remote.input_u8 ? CVB_KSERVE_UINT8 : CVB_KSERVE_FP32;
    t->n_dims = 4;
    memcpy(t->shape, c->in_shape, sizeof c->in_shape);
    t->data = zeros;
    t->n_bytes = c->remote.input_bytes;
    t->binary = 1;
    rc = cvb_kserve_check_inputs(&c->in_meta, 1, t, 1, err);
    if (rc == 0) rc = cvb_kserve_request_encode(rq, &b, &hlen, err);
    if (rc < 0) {
        cvb_err_prefix(err, "model '%s' on %s: cannot build the request", c->model, c->base);
        goto out;
    }
    c->header_bytes = (hlen + HEADER_ALIGN - 1) / HEADER_ALIGN * HEADER_ALIGN;
    c->header = malloc(c->header_bytes);
    if (c->header == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    memcpy(c->header, b.data, hlen);
    memset(c->header + hlen, ' ', c->header_bytes - hlen);
    snprintf(c->header_line, sizeof c->header_line, CVB_KSERVE_HEADER_LEN ": %zu", c->header_bytes);
    c->remote.request_header_bytes = c->header_bytes;
out:
    cvb_buf_cleanup(&b);
    free(zeros);
    free(rq);
    return rc;
}

int cvb_kserve_client_open(const struct cvb_kserve_client_opts *opts,
                           struct cvb_kserve_client **out, struct cvb_kserve_remote *remote,
                           struct cvb_err *err) {
    struct cvb_err local;
    if (err == NULL) err = &local; /* the messages are built on err->msg */
    struct cvb_kserve_client *c = NULL;
    struct cvb_kserve_model_meta *m = NULL;
    int rc = 0;
    *out = NULL;
    memset(remote, 0, sizeof *remote);
    c = calloc(1, sizeof *c);
    m = calloc(1, sizeof *m);
    if (c == NULL || m == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    rc = check_url(opts->url, c->base, err);
    if (rc == 0) rc = check_model_name(opts->model, err);
    if (rc == 0 && (opts->imgsz < 0 || opts->timeout_ms < 0))
        rc = cvb_err_set(err, CVB_EINVAL, "kserve: imgsz %d / timeout %ld ms must not be negative",
                         opts->imgsz, opts->timeout_ms);
    if (rc < 0) goto out;
    snprintf(c->model, sizeof c->model, "%s", opts->model);
    c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (opts->token != NULL && (c->token = strdup(opts->token)) == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    snprintf(c->infer_url, sizeof c->infer_url, "%s/v2/models/%s/infer", c->base, c->model);
    rc = check_ready(c, err);
    if (rc == 0) rc = get_meta(c, m, err);
    if (rc == 0) rc = choose_input(c, m, opts->imgsz, err);
    if (rc == 0) rc = take_outputs(c, m, err);
    if (rc == 0) rc = get_optional(c, err);
    if (rc == 0) rc = make_header(c, err);
    if (rc < 0) goto out;
    *remote = c->remote;
    *out = c;
    c = NULL;
out:
    free(m);
    cvb_kserve_client_free(c);
    return rc;
}

void cvb_kserve_client_free(struct cvb_kserve_client *c) {
    if (c == NULL) return;
    if (c->token != NULL) memset(c->token, 0, strlen(c->token));
    free(c->token);
    free(c->header);
    free(c);
}

/* ---- connections and inference -------------------------------------------------- */

int cvb_kserve_conn_new(struct cvb_kserve_client *c, struct cvb_kserve_conn **out,
                        struct cvb_err *err) {
    struct cvb_err local;
    if (err == NULL) err = &local; /* the messages are built on err->msg */
    struct cvb_kserve_conn *k = calloc(1, sizeof *k);
    const char *headers[] = {"Content-Type: application/octet-stream", c->header_line, NULL};
    struct cvb_http_conn_opts ho = {
        .token = c->token,
        .headers = headers,
        .capture = CVB_KSERVE_HEADER_LEN,
        .timeout_ms = c->timeout_ms,
    };
    int rc = 0;
    *out = NULL;
    if (k == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "kserve: out of memory");
        goto out;
    }
    k->c = c;
    k->body_len = c->header_bytes + c->remote.input_bytes;
    k->body =
        aligned_alloc(HEADER_ALIGN, (k->body_len + HEADER_ALIGN - 1) / HEADER_ALIGN * HEADER_ALIGN);
    k->resp = malloc(c->resp_cap);
    if (k->body == NULL || k->resp == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM,
                         "model '%s' on %s: out of memory for a connection's %zu + %zu bytes",
                         c->model, c->base, k->body_len, c->resp_cap);
        goto out;
    }
    memcpy(k->body, c->header, c->header_bytes);
    memset(k->body + c->header_bytes, 0, c->remote.input_bytes);
    rc = cvb_http_conn_new(&ho, &k->http, err);
    if (rc < 0) goto out;
    *out = k;
    k = NULL;
out:
    cvb_kserve_conn_free(k);
    return rc;
}

void cvb_kserve_conn_free(struct cvb_kserve_conn *k) {
    if (k == NULL) return;
    cvb_http_conn_free(k->http);
    free(k->body);
    free(k->resp);
    free(k);
}

/* Check the parsed response against the metadata and copy it out. */
static int copy_outputs(const struct cvb_kserve_client *c, const struct cvb_kserve_response *rs,
                        float *const *outs, struct cvb_err *err) {
    const struct cvb_kserve_remote *rm = &c->remote;
    char got[128], want[128];
    for (int i = 0; i < rm->n_outputs; i++) {
        const struct cvb_kserve_tensor *t = NULL;
        for (int k = 0; k < rs->n_outputs && t == NULL; k++)
            if (strcmp(rs->outputs[k].name, rm->output_names[i]) == 0) t = &rs->outputs[k];
        if (t == NULL)
            return cvb_err_set(err, CVB_EFORMAT, "%s: the response has no output '%s'",
                               c->infer_url, rm->output_names[i]);
        int same = t->dtype == CVB_KSERVE_FP32 && t->n_dims == rm->output_ndim[i] &&
                   t->n_bytes == rm->output_bytes[i];
        for (int d = 0; same && d < t->n_dims; d++)
            same = t->shape[d] == rm->output_dims[i][d];
        if (!same) {
            fmt_shape(got, sizeof got, t->n_dims, t->shape);
            fmt_shape(want, sizeof want, rm->output_ndim[i], rm->output_dims[i]);
            return cvb_err_set(err, CVB_EFORMAT,
                               "%s: output '%s' came %s %s (%zu bytes), the metadata says "
                               "FP32 %s",
                               c->infer_url, t->name, cvb_kserve_dtype_name(t->dtype), got,
                               t->n_bytes, want);
        }
        memcpy(outs[i], t->data, t->n_bytes);
    }
    return 0;
}

int cvb_kserve_conn_infer(struct cvb_kserve_conn *k, const uint8_t *frame, float *const *outs,
                          struct cvb_kserve_timing *t, struct cvb_err *err) {
    struct cvb_err local;
    if (err == NULL) err = &local; /* the messages are built on err->msg */
    const struct cvb_kserve_client *c = k->c;
    struct cvb_http_exchange x;
    struct cvb_kserve_response rs; /* ~4 KiB on the stack: no allocation */
    char msg[256];
    int rc = 0, parsed = 0;
    memset(t, 0, sizeof *t);
    uint64_t t0 = cvb_now_ns();
    unsigned char *payload = k->body + c->header_bytes;
    int s = c->remote.imgsz;
    if (c->remote.input_u8)
        memcpy(payload, frame, c->remote.input_bytes);
    else
        cvb_image_to_nchw_f32(frame, s, s, (float *)(void *)payload); /* 64-byte aligned */
    uint64_t t1 = cvb_now_ns();
    rc = cvb_http_conn_request(k->http, "POST", c->infer_url, k->body, k->body_len, k->resp,
                               c->resp_cap, &x, err);
    uint64_t t2 = cvb_now_ns();
    t->serialize_ns = t1 - t0;
    t->network_ns = t2 - t1;
    t->request_bytes = x.sent_bytes;
    t->response_bytes = x.body_len;
    t->new_connections = x.new_connects;
    if (rc == CVB_ERANGE) {
        rc = cvb_err_set(err, CVB_EFORMAT,
                         "%s: response over %zu bytes, more than the outputs' binary size (does "
                         "the server honour binary_data_output?)",
                         c->infer_url, c->resp_cap);
        goto out;
    }
    if (rc < 0) goto out;
    if (x.status != 200) {
        reply_message(k->resp, x.body_len, msg, sizeof msg);
        rc = cvb_err_set(err, CVB_EIO, "%s: HTTP %ld: %s", c->infer_url, x.status, msg);
        goto out;
    }
    rc = cvb_kserve_response_parse(k->resp, x.body_len, x.has_captured ? x.captured : NULL, NULL,
                                   &rs, err);
    if (rc < 0) {
        if (rc != CVB_EIO) rc = CVB_EFORMAT;
        cvb_err_prefix(err, "%s: %s", c->infer_url,
                       rc == CVB_EIO ? "error reply" : "malformed response");
        err->code = rc;
        goto out;
    }
    parsed = 1;
    rc = copy_outputs(c, &rs, outs, err);
out:
    if (parsed) cvb_kserve_response_cleanup(&rs);
    t->deserialize_ns = cvb_now_ns() - t2;
    return rc;
}

/* ---- statistics ----------------------------------------------------------------- */

int cvb_kserve_client_stats(struct cvb_kserve_client *c, struct cvb_kserve_model_stats *st,
                            struct cvb_err *err) {
    struct cvb_err local;
    if (err == NULL) err = &local; /* the messages are built on err->msg */
    struct cvb_http_result r = {0};
    int rc = 0;
    if (!c->remote.has_stats)
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "model '%s' on %s: the server has no statistics extension", c->model,
                           c->base);
    rc = get_model(c, "/stats", "answered no statistics on", &r, err);
    if (rc == 0 && cvb_kserve_stats_parse(r.body, r.body_len, st, err) < 0) {
        cvb_err_prefix(err, "model '%s' on %s: malformed statistics", c->model, c->base);
        rc = err->code = CVB_EFORMAT;
    }
    cvb_http_result_cleanup(&r);
    return rc;
}
