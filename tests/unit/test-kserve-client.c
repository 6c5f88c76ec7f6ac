/* SPDX-License-Identifier: Apache-2.0 */
/* The KServe v2 REST client (src/kserve/client.c) against `cvbench
 * serve-model` run in-process on a synthetic yolov8n at 64x64, once with
 * --input-format u8 (UINT8 NHWC on the wire) and once f32 (FP32 NCHW):
 * what open reports, outputs equal to an in-process engine's on the same
 * frame, timings and byte counts, the server's statistics, refusals with
 * their messages, two connections on two threads, and keep-alive (one TCP
 * connection for many requests, counted by libcurl and by a raw test
 * server's accept()s). The raw server also sends broken replies, which
 * must come back as CVB_EIO / CVB_EFORMAT, not crashes. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "cvb/video.h"
#include "kserve/client.h"
#include "kserve/kserve.h"
#include "server/model_server.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#define S     64
#define N_SEQ 20

static char model_path[256];

static void make_frame(uint8_t *f, int seed) {
    for (int i = 0; i < S * S * 3; i++)
        f[i] = (uint8_t)((i * 7 + seed * 31 + (i / 192) * 3) & 0xff);
}

static double rel_l2(const float *a, const float *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- the real server ------------------------------------------------------------- */

struct fixture {
    enum cvb_input_format fmt;
    struct cvb_model_server *srv;
    struct cvb_engine *eng;
    char url[64];
    struct cvb_kserve_client *cl;
    struct cvb_kserve_remote rm;
    uint8_t frame[S * S * 3];
    float *ref; /* the engine's output 0 on 'frame' */
    size_t ref_bytes;
};

static int fixture_up(struct fixture *fx, enum cvb_input_format fmt) {
    struct cvb_err err = {0};
    memset(fx, 0, sizeof *fx);
    fx->fmt = fmt;
    struct cvb_model_server_opts so = {.model_path = model_path,
                                       .name = "m",
                                       .listen = "127.0.0.1:0",
                                       .instances = 2,
                                       .threads = 1,
                                       .input_format = fmt};
    if (cvb_model_server_new(&so, &fx->srv, &err) < 0) {
        fprintf(stderr, "serve-model: %s\n", err.msg);
        return -1;
    }
    snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%u/", cvb_model_server_port(fx->srv));
    struct cvb_engine_opts eo = {.threads = 1, .input_format = fmt};
    if (cvb_engine_load(model_path, &eo, &fx->eng, &err) < 0) {
        fprintf(stderr, "engine: %s\n", err.msg);
        return -1;
    }
    struct cvb_tensor_info oi;
    cvb_engine_output_info(fx->eng, 0, &oi);
    fx->ref_bytes = oi.bytes;
    fx->ref = malloc(oi.bytes);
    make_frame(fx->frame, 1);
    float *in = malloc((size_t)3 * S * S * sizeof(float));
    const void *ins[1] = {fx->frame};
    void *outs[1] = {fx->ref};
    if (fmt == CVB_INPUT_F32_NCHW) {
        cvb_image_to_nchw_f32(fx->frame, S, S, in);
        ins[0] = in;
    }
    int rc = cvb_engine_run(fx->eng, ins, outs, &err);
    free(in);
    if (rc < 0) fprintf(stderr, "engine run: %s\n", err.msg);
    struct cvb_kserve_client_opts co = {.url = fx->url, .model = "m", .imgsz = S};
    if (rc == 0 && (rc = cvb_kserve_client_open(&co, &fx->cl, &fx->rm, &err)) < 0)
        fprintf(stderr, "open: %s\n", err.msg);
    return rc;
}

static void fixture_down(struct fixture *fx) {
    cvb_kserve_client_free(fx->cl);
    cvb_model_server_free(fx->srv);
    cvb_engine_free(fx->eng);
    free(fx->ref);
}

static void check_remote(struct fixture *fx) {
    const struct cvb_kserve_remote *rm = &fx->rm;
    struct cvb_tensor_info oi;
    cvb_engine_output_info(fx->eng, 0, &oi);
    CHECK_EQ_INT(rm->input_u8, fx->fmt == CVB_INPUT_U8_NHWC);
    CHECK_EQ_INT(rm->imgsz, S);
    CHECK(strcmp(rm->input_name, "images") == 0);
    CHECK_EQ_INT(rm->input_bytes, (size_t)S * S * 3 * (rm->input_u8 ? 1 : 4));
    CHECK_EQ_INT(rm->n_outputs, 1);
    CHECK(strcmp(rm->output_names[0], "output0") == 0);
    CHECK_EQ_INT(rm->output_ndim[0], oi.ndim);
    for (int d = 0; d < oi.ndim; d++)
        CHECK_EQ_INT(rm->output_dims[0][d], oi.dims[d]);
    CHECK_EQ_INT(rm->output_bytes[0], oi.bytes);
    CHECK(strncmp(rm->server, "cvbench ", 8) == 0);
    CHECK_EQ_INT(rm->max_batch_size, 0); /* serve-model's config: no batching */
    CHECK_EQ_INT(rm->instances, 2);
    CHECK(rm->has_stats);
    CHECK(rm->request_header_bytes > 0 && rm->request_header_bytes % 64 == 0);
}

/* One infer on 'k' compared with the engine; returns the timing. */
static int infer_check(struct fixture *fx, struct cvb_kserve_conn *k, struct cvb_kserve_timing *t) {
    struct cvb_err err = {0};
    float *out = malloc(fx->ref_bytes);
    float *outs[1] = {out};
    int rc = cvb_kserve_conn_infer(k, fx->frame, outs, t, &err);
    if (rc < 0) fprintf(stderr, "infer: %s\n", err.msg);
    if (rc == 0 && fx->fmt == CVB_INPUT_U8_NHWC && memcmp(out, fx->ref, fx->ref_bytes) != 0)
        rc = -100; /* same engine, same bytes in: the same bits out */
    if (rc == 0 && rel_l2(out, fx->ref, fx->ref_bytes / 4) > 1e-5) rc = -101;
    free(out);
    return rc;
}

static void check_infer_and_reuse(struct fixture *fx) {
    struct cvb_err err = {0};
    struct cvb_kserve_conn *k = NULL;
    struct cvb_kserve_timing t;
    struct cvb_kserve_model_stats st0, st1;
    CHECK_EQ_INT(cvb_kserve_client_stats(fx->cl, &st0, &err), 0);
    CHECK_EQ_INT(cvb_kserve_conn_new(fx->cl, &k, &err), 0);
    if (k == NULL) return;
    CHECK_EQ_INT(infer_check(fx, k, &t), 0);
    CHECK(t.serialize_ns > 0 && t.network_ns > 0 && t.deserialize_ns > 0);
    CHECK_EQ_INT(t.request_bytes, fx->rm.request_header_bytes + fx->rm.input_bytes);
    CHECK(t.response_bytes > fx->rm.output_bytes[0]);
    CHECK_EQ_INT(t.new_connections, 1);
    long connects = 0;
    int fails = 0;
    for (int i = 0; i < N_SEQ; i++) {
        fails += infer_check(fx, k, &t) != 0;
        connects += t.new_connections;
    }
    CHECK_EQ_INT(fails, 0);
    CHECK_EQ_INT(connects, 0); /* all on the first request's connection */
    cvb_kserve_conn_free(k);
    CHECK_EQ_INT(cvb_kserve_client_stats(fx->cl, &st1, &err), 0);
    CHECK_EQ_INT(st1.success.count - st0.success.count, N_SEQ + 1);
    CHECK_EQ_INT(st1.inference_count - st0.inference_count, N_SEQ + 1);
    CHECK(strcmp(st1.name, "m") == 0);
}

struct worker {
    struct fixture *fx;
    int fails;
};

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct cvb_err err = {0};
    struct cvb_kserve_conn *k = NULL;
    struct cvb_kserve_timing t;
    if (cvb_kserve_conn_new(w->fx->cl, &k, &err) < 0) {
        w->fails = 1000;
        return NULL;
    }
    for (int i = 0; i < 10; i++)
        w->fails += infer_check(w->fx, k, &t) != 0;
    cvb_kserve_conn_free(k);
    return NULL;
}

static void check_threads(struct fixture *fx) {
    struct worker w[2] = {{fx, 0}, {fx, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ_INT(w[0].fails, 0);
    CHECK_EQ_INT(w[1].fails, 0);
}

static void check_refusals(struct fixture *fx) {
    struct cvb_err err = {0};
    struct cvb_kserve_client *c = NULL;
    struct cvb_kserve_remote rm;
    struct cvb_kserve_client_opts o = {.url = fx->url, .model = "nope", .imgsz = S};
    CHECK_EQ_INT(cvb_kserve_client_open(&o, &c, &rm, &err), CVB_EIO);
    CHECK(strstr(err.msg, "model 'nope' is not ready on http://127.0.0.1:") != NULL);
    CHECK(strstr(err.msg, "unknown model 'nope'") != NULL); /* the server's own message */
    CHECK(c == NULL);
    o.model = "m";
    o.imgsz = 320;
    CHECK_EQ_INT(cvb_kserve_client_open(&o, &c, &rm, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "model 'm' input is 64x64, the scenario wants imgsz 320") != NULL);
    o.model = "a/b";
    CHECK_EQ_INT(cvb_kserve_client_open(&o, &c, &rm, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "model name 'a/b'") != NULL);
    o.model = "m";
    o.url = "ftp://x";
    CHECK_EQ_INT(cvb_kserve_client_open(&o, &c, &rm, &err), CVB_EINVAL);
    /* a port nobody listens on: bind one, note it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    char url[64];
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(a.sin_port));
    o.url = url;
    o.imgsz = S;
    CHECK_EQ_INT(cvb_kserve_client_open(&o, &c, &rm, &err), CVB_EIO);
    char want[128];
    snprintf(want, sizeof want, "%s: cannot reach server: Connection refused", url);
    CHECK(strstr(err.msg, want) != NULL);
    if (strstr(err.msg, want) == NULL) fprintf(stderr, "  got: %s\n", err.msg);
}

static void test_server(enum cvb_input_format fmt) {
    struct fixture fx;
    int rc = fixture_up(&fx, fmt);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        check_remote(&fx);
        check_infer_and_reuse(&fx);
        check_threads(&fx);
        check_refusals(&fx);
    }
    fixture_down(&fx);
}

static void test_u8(void) {
    test_server(CVB_INPUT_U8_NHWC);
}
static void test_f32(void) {
    test_server(CVB_INPUT_F32_NCHW);
}

/* ---- a raw server: metadata that works, replies that may not ----------------------- */

enum reply {
    R_GOOD,
    R_GARBAGE_BODY,
    R_SHORT,
    R_NOT_HTTP,
    R_WRONG_SHAPE,
    R_ERROR_500,
    R_HEADER_LEN_PAST_END
};

struct raw {
    int fd;
    unsigned port;
    pthread_t th;
    _Atomic int mode;
    atomic_int accepts;
    atomic_int expects; /* requests that carried an Expect: header */
};

#define RAW_S   640 /* 1.2 MB bodies: past libcurl's 1 MiB Expect threshold */
#define RAW_OUT 20  /* output0 FP32 [1,4,5] */

static void send_all(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}

static void reply(int fd, int status, const char *extra, const void *body, size_t len) {
    char h[512];
    int n = snprintf(h, sizeof h, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, len,
                     extra ? extra : "");
    send_all(fd, h, (size_t)n);
    send_all(fd, body, len);
}

/* An infer response with output0 of the given last dim (binary). */
static void infer_reply(int fd, int last_dim, int header_len_extra) {
    static float zeros[64];
    struct cvb_kserve_response rs;
    memset(&rs, 0, sizeof rs);
    snprintf(rs.model_name, sizeof rs.model_name, "m");
    rs.n_outputs = 1;
    struct cvb_kserve_tensor *t = &rs.outputs[0];
    snprintf(t->name, sizeof t->name, "output0");
    t->dtype = CVB_KSERVE_FP32;
    t->n_dims = 3;
    t->shape[0] = 1, t->shape[1] = 4, t->shape[2] = last_dim;
    t->data = zeros;
    t->n_bytes = (size_t)4 * last_dim * 4;
    t->binary = 1;
    struct cvb_buf b;
    size_t hl = 0;
    char extra[96];
    cvb_buf_init(&b, 1 << 16);
    cvb_kserve_response_encode(&rs, &b, &hl, NULL);
    snprintf(extra, sizeof extra, "%s: %zu\r\n", CVB_KSERVE_HEADER_LEN, hl + header_len_extra);
    reply(fd, 200, extra, b.data, b.len);
    cvb_buf_cleanup(&b);
}

/* Serve one connection's requests; returns when the peer closes or a
 * broken reply was sent. */
static void raw_conn(struct raw *r, int fd) {
    static char buf[1 << 16];
    for (;;) {
        size_t got = 0;
        char *end = NULL;
        while (end == NULL) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0) return;
            got += (size_t)n;
            buf[got] = '\0';
            end = strstr(buf, "\r\n\r\n");
            if (end == NULL && got == sizeof buf - 1) return;
        }
        size_t head = (size_t)(end + 4 - buf), clen = 0;
        const char *ex = strcasestr(buf, "\r\nExpect:");
        if (ex != NULL && ex < end) atomic_fetch_add(&r->expects, 1);
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl != NULL && cl < end) clen = strtoul(cl + 17, NULL, 10);
        for (size_t have = got - head; have < clen;) { /* discard the body */
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) return;
            have += (size_t)n;
        }
        if (strncmp(buf, "GET /v2/health/ready ", 21) == 0 ||
            strncmp(buf, "GET /v2/models/m/ready ", 23) == 0) {
            reply(fd, 200, NULL, "", 0);
        } else if (strncmp(buf, "GET /v2/models/m ", 17) == 0) {
            char meta[512];
            int n = snprintf(meta, sizeof meta,
                             "{\"name\":\"m\",\"platform\":\"x\",\"inputs\":[{\"name\":\"img\","
                             "\"datatype\":\"UINT8\",\"shape\":[-1,%d,%d,3]}],\"outputs\":[{"
                             "\"name\":\"output0\",\"datatype\":\"FP32\",\"shape\":[-1,4,5]}]}",
                             RAW_S, RAW_S);
            reply(fd, 200, "Content-Type: application/json\r\n", meta, (size_t)n);
        } else if (strncmp(buf, "GET ", 4) == 0) {
            reply(fd, 404, NULL, "{\"error\":\"not here\"}", 20);
        } else {
            switch (atomic_load(&r->mode)) {
            case R_GOOD: infer_reply(fd, 5, 0); continue;
            case R_GARBAGE_BODY:
                reply(fd, 200, CVB_KSERVE_HEADER_LEN ": 5\r\n", "}{x]\x01zz", 7);
                break;
            case R_SHORT: {
                const char *m = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"mo";
                send_all(fd, m, strlen(m));
                break;
            }
            case R_NOT_HTTP: send_all(fd, "\x16\x03\x01 garbage\r\n\r\n", 15); break;
            case R_WRONG_SHAPE: infer_reply(fd, 7, 0); break;
            case R_ERROR_500: reply(fd, 500, NULL, "{\"error\":\"boom\"}", 16); break;
            case R_HEADER_LEN_PAST_END: infer_reply(fd, 5, 100000); break;
            }
            return; /* close after a broken reply */
        }
    }
}

static void *raw_main(void *arg) {
    struct raw *r = arg;
    for (;;) {
        int fd = accept(r->fd, NULL, NULL);
        if (fd < 0) return NULL; /* the listening socket was shut down */
        atomic_fetch_add(&r->accepts, 1);
        raw_conn(r, fd);
        close(fd);
    }
}

static int raw_up(struct raw *r) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    memset(r, 0, sizeof *r);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(r->fd, 16) < 0 ||
        getsockname(r->fd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    r->port = ntohs(a.sin_port);
    return pthread_create(&r->th, NULL, raw_main, r) == 0 ? 0 : -1;
}

static void raw_down(struct raw *r) {
    shutdown(r->fd, SHUT_RDWR);
    pthread_join(r->th, NULL);
    close(r->fd);
}

static void test_raw_server(void) {
    struct raw r;
    CHECK_EQ_INT(raw_up(&r), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", r.port);
    struct cvb_kserve_client_opts o = {.url = url, .model = "m", .timeout_ms = 5000};
    struct cvb_kserve_client *c = NULL;
    struct cvb_kserve_remote rm;
    struct cvb_kserve_conn *k = NULL;
    struct cvb_kserve_timing t;
    struct cvb_err err = {0};
    int rc = cvb_kserve_client_open(&o, &c, &rm, &err);
    if (rc < 0) fprintf(stderr, "  open: %s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) goto out;
    CHECK_EQ_INT(rm.imgsz, RAW_S); /* from the dims, the batch dim -1 */
    CHECK(rm.input_u8);
    CHECK_EQ_INT(rm.output_dims[0][0], 1);
    CHECK_EQ_INT(rm.max_batch_size, -1); /* config 404 */
    CHECK(!rm.has_stats);
    CHECK(rm.server[0] == '\0');
    CHECK_EQ_INT(cvb_kserve_client_stats(c, NULL, &err), CVB_EUNSUPPORTED);
    CHECK_EQ_INT(cvb_kserve_conn_new(c, &k, &err), 0);
    static uint8_t frame[RAW_S * RAW_S * 3];
    float out[RAW_OUT];
    float *outs[1] = {out};

    /* keep-alive, counted by the server's accept()s */
    atomic_store(&r.mode, R_GOOD);
    int before = atomic_load(&r.accepts), fails = 0;
    for (int i = 0; i < N_SEQ; i++)
        fails += cvb_kserve_conn_infer(k, frame, outs, &t, &err) != 0;
    CHECK_EQ_INT(fails, 0);
    CHECK_EQ_INT(atomic_load(&r.accepts) - before, 1);
    /* no "Expect: 100-continue" (and its 1 s wait) on 1.2 MB bodies */
    CHECK_EQ_INT(atomic_load(&r.expects), 0);

    static const struct {
        enum reply mode;
        int rc;
        const char *msg;
    } bad[] = {
        {R_GARBAGE_BODY, CVB_EFORMAT, "malformed response"},
        {R_SHORT, CVB_EIO, "/v2/models/m/infer"},
        {R_NOT_HTTP, CVB_EIO, "/v2/models/m/infer"},
        {R_WRONG_SHAPE, CVB_EFORMAT,
         "output 'output0' came FP32 [1,4,7] (112 bytes), the "
         "metadata says FP32 [1,4,5]"},
        {R_ERROR_500, CVB_EIO, "/v2/models/m/infer: HTTP 500: boom"},
        {R_HEADER_LEN_PAST_END, CVB_EFORMAT, "malformed response"},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(bad); i++) {
        atomic_store(&r.mode, bad[i].mode);
        err.msg[0] = '\0';
        rc = cvb_kserve_conn_infer(k, frame, outs, &t, &err);
        CHECK_EQ_INT(rc, bad[i].rc);
        CHECK(strstr(err.msg, bad[i].msg) != NULL);
        if (rc != bad[i].rc || strstr(err.msg, bad[i].msg) == NULL)
            fprintf(stderr, "  case %zu: %d %s\n", i, rc, err.msg);
        /* and the connection still works afterwards (reconnecting) */
        atomic_store(&r.mode, R_GOOD);
        CHECK_EQ_INT(cvb_kserve_conn_infer(k, frame, outs, &t, &err), 0);
    }
out:
    cvb_kserve_conn_free(k);
    cvb_kserve_client_free(c);
    raw_down(&r);
}

int main(void) {
    char dir[] = "/tmp/cvb-kclient-XXXXXX";
    struct cvb_err err = {0};
    if (mkdtemp(dir) == NULL) return test_skip("cannot make a temp dir");
    snprintf(model_path, sizeof model_path, "%s/m.onnx", dir);
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = S, .seed = 3};
    if (cvb_synth_model(&so, model_path, NULL, &err) < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return 1;
    }
    RUN(test_u8);
    RUN(test_f32);
    RUN(test_raw_server);
    unlink(model_path);
    rmdir(dir);
    return test_summary();
}
