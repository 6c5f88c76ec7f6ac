/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP layer end to end: a server on 127.0.0.1:0 with a few routes,
 * driven by the libcurl client of the same module (and a raw socket for a
 * chunked body). Checks the replies the layer makes itself (404, 405 +
 * Allow, 413, 400 for bad JSON and depth, 401 + WWW-Authenticate, 500),
 * what handlers see (path and query parameters, body, parsed JSON),
 * concurrency, /metrics, listen address parsing and the token file. */
#include "http/http.h"
#include "metrics/metrics.h"
#include "test.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN "s3cret-token"

static struct cvb_http_server *srv;
static char base[64];
static atomic_int n_post_calls;

/* ---- handlers ---- */

static int h_hello(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    json_t *j = json_pack("{s:s}", "hello", "world");
    int rc = cvb_http_resp_json(resp, 200, j);
    json_decref(j);
    return rc;
}

static int h_run(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    json_t *j = json_pack("{s:s}", "id", cvb_http_req_param(req, "id"));
    int rc = cvb_http_resp_json(resp, 200, j);
    json_decref(j);
    return rc;
}

static int h_stats(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    return cvb_http_resp_text(resp, 200, "text/plain", "stats", 5);
}

static int h_list(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    const char *st = cvb_http_req_query(req, "status");
    const char *lim = cvb_http_req_query(req, "limit");
    const char *x = cvb_http_req_query(req, "x");
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%s|%s|%s", st ? st : "-", lim ? lim : "-", x ? x : "-");
    return cvb_http_resp_text(resp, 200, "text/plain", buf, (size_t)n);
}

static int h_submit(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    atomic_fetch_add(&n_post_calls, 1);
    if (req->json == NULL || !json_is_object(req->json))
        return cvb_http_resp_error(resp, 422, "body", "expected an object");
    cvb_http_resp_header(resp, "Location", "/v1/runs/r1");
    json_t *j = json_pack("{s:s,s:i}", "id", "r1", "keys", (int)json_object_size(req->json));
    int rc = cvb_http_resp_json(resp, 201, j);
    json_decref(j);
    return rc;
}

static int h_cancel(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    return cvb_http_resp_error(resp, 409, NULL, "run %s already finished",
                               cvb_http_req_param(req, "id"));
}

static int h_fail(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    return CVB_EINTERNAL;
}

static int h_big(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    static char blob[200 * 1024];
    memset(blob, 'x', sizeof blob);
    return cvb_http_resp_text(resp, 200, "text/plain", blob, sizeof blob);
}

/* ---- helpers ---- */

static int req(const char *method, const char *path, const char *token, const char *body,
               size_t len, struct cvb_http_result *r) {
    char url[512];
    struct cvb_err err = {0};
    snprintf(url, sizeof url, "%s%s", base, path);
    int rc = cvb_http_request(method, url, token, body ? "application/json" : NULL, body, len,
                              10000, 1 << 20, r, &err);
    if (rc < 0) fprintf(stderr, "  request failed: %s\n", err.msg);
    return rc;
}

/* The error object must be exactly {"error":{"status":N,"message":...[,"field":...]}}. */
static void check_error(const struct cvb_http_result *r, long status, const char *msg_part,
                        const char *field) {
    CHECK_EQ_INT(r->status, status);
    CHECK(strncmp(r->content_type, "application/json", 16) == 0);
    json_error_t je;
    json_t *j = json_loads(r->body ? r->body : "", 0, &je);
    CHECK(j != NULL);
    if (j == NULL) return;
    json_t *e = json_object_get(j, "error");
    CHECK(json_object_size(j) == 1 && json_is_object(e));
    CHECK_EQ_INT(json_integer_value(json_object_get(e, "status")), status);
    const char *m = json_string_value(json_object_get(e, "message"));
    CHECK(m != NULL && strstr(m, msg_part) != NULL);
    if (m != NULL && strstr(m, msg_part) == NULL) fprintf(stderr, "  message: %s\n", m);
    const char *f = json_string_value(json_object_get(e, "field"));
    if (field == NULL) {
        CHECK(f == NULL && json_object_size(e) == 2);
    } else {
        CHECK(f != NULL && strcmp(f, field) == 0);
    }
    json_decref(j);
}

/* Request, and compare the status and (when 'want' is not NULL) the body. */
static void expect(const char *method, const char *path, const char *token, const char *body,
                   size_t len, long status, const char *want) {
    struct cvb_http_result r;
    CHECK_EQ_INT(req(method, path, token, body, len, &r), 0);
    CHECK_EQ_INT(r.status, status);
    if (want != NULL) {
        CHECK(r.body != NULL && strcmp(r.body, want) == 0);
        if (r.body != NULL && strcmp(r.body, want) != 0) fprintf(stderr, "  body: %s\n", r.body);
    }
    cvb_http_result_cleanup(&r);
}

/* Request, and check the reply is the error object with 'status'. */
static void expect_error(const char *method, const char *path, const char *token,
                         const char *body, size_t len, long status, const char *msg_part) {
    struct cvb_http_result r;
    CHECK_EQ_INT(req(method, path, token, body, len, &r), 0);
    check_error(&r, status, msg_part, NULL);
    cvb_http_result_cleanup(&r);
}

/* ---- tests ---- */

static char access_line[512];

static void log_sink(enum cvb_log_level level, const char *line, void *user) {
    if (strstr(line, "http: ") != NULL) snprintf(access_line, sizeof access_line, "%s", line);
}

static void test_json_200(void) {
    struct cvb_http_result r;
    cvb_log_set_sink(log_sink, NULL);
    cvb_log_set_level(CVB_LOG_DEBUG);
    CHECK_EQ_INT(req("GET", "/hello?x=1", NULL, NULL, 0, &r), 0);
    cvb_log_set_level(CVB_LOG_INFO);
    cvb_log_set_sink(NULL, NULL);
    CHECK(strcmp(r.content_type, "application/json") == 0);
    cvb_http_result_cleanup(&r);
    /* one access line per request, at debug level */
    CHECK(strstr(access_line, "debug: http: GET /hello -> 200, 17 bytes, ") != NULL);
    expect("GET", "/hello", NULL, NULL, 0, 200, "{\"hello\":\"world\"}");
    expect("HEAD", "/hello", NULL, NULL, 0, 200, "");
}

static void test_path_params(void) {
    expect("GET", "/v1/runs/abc-123", NULL, NULL, 0, 200, "{\"id\":\"abc-123\"}");
    /* a literal segment beats {id} */
    expect("GET", "/v1/runs/stats", NULL, NULL, 0, 200, "stats");
    /* a trailing slash (an empty segment) is not {id} */
    expect_error("GET", "/v1/runs/", NULL, NULL, 0, 404, "no such path");
}

static void test_query_params(void) {
    expect("GET", "/v1/runs?status=done&limit=5&x=a%20b%26c", NULL, NULL, 0, 200, "done|5|a b&c");
    expect("GET", "/v1/runs", NULL, NULL, 0, 200, "-|-|-");
}

static void test_404_405(void) {
    struct cvb_http_result r;
    char allow[128];
    expect_error("GET", "/nope", NULL, NULL, 0, 404, "no such path: /nope");
    CHECK_EQ_INT(req("DELETE", "/v1/runs", NULL, NULL, 0, &r), 0);
    check_error(&r, 405, "method DELETE not allowed", NULL);
    CHECK(cvb_http_result_header(&r, "allow", allow, sizeof allow) != NULL);
    CHECK(strcmp(allow, "GET, HEAD, POST") == 0);
    cvb_http_result_cleanup(&r);
    CHECK_EQ_INT(req("GET", "/v1/runs/r1/cancel", NULL, NULL, 0, &r), 0);
    check_error(&r, 405, "not allowed", NULL);
    CHECK(cvb_http_result_header(&r, "Allow", allow, sizeof allow) != NULL);
    CHECK(strcmp(allow, "POST") == 0);
    cvb_http_result_cleanup(&r);
}

static void test_413(void) {
    size_t n = 2u << 20;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    int before = atomic_load(&n_post_calls);
    expect_error("POST", "/v1/runs", TOKEN, big, n, 413, "over the limit of 1048576 bytes");
    /* exactly at the limit is read ("   ...}" is not JSON, hence 400) */
    expect_error("POST", "/v1/runs", TOKEN, big + n - (1u << 20), 1u << 20, 400, "malformed");
    CHECK_EQ_INT(atomic_load(&n_post_calls), before);
    free(big);
}

/* A chunked body has no Content-Length: the layer must stop at the limit
 * and never call the handler; it answers 413 or closes the connection. */
static void test_413_chunked(void) {
    int before = atomic_load(&n_post_calls);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(cvb_http_server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof a) == 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    const char *hdr = "POST /v1/runs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " TOKEN
                      "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    send(fd, hdr, strlen(hdr), MSG_NOSIGNAL);
    static char chunk[65536 + 16];
    int head = snprintf(chunk, sizeof chunk, "10000\r\n");
    memset(chunk + head, '[', 65536);
    memcpy(chunk + head + 65536, "\r\n", 2);
    size_t sent = 0;
    for (int i = 0; i < 512; i++) { /* up to 32 MiB: well past the socket buffers */
        ssize_t k = send(fd, chunk, (size_t)head + 65536 + 2, MSG_NOSIGNAL);
        if (k <= 0) break;
        sent += (size_t)k;
    }
    char resp[512] = "";
    ssize_t k = recv(fd, resp, sizeof resp - 1, 0);
    if (k > 0) resp[k] = '\0';
    close(fd);
    printf("  chunked 32 MiB: sent %zu bytes before the server stopped; reply: %s\n", sent,
           k > 0 ? (strncmp(resp, "HTTP/1.1 413", 12) == 0 ? "413" : "other") : "connection closed");
    CHECK(k <= 0 || strncmp(resp, "HTTP/1.1 413", 12) == 0);
    CHECK(sent < (32u << 20)); /* it stopped reading */
    CHECK_EQ_INT(atomic_load(&n_post_calls), before);
}

static void test_bad_json(void) {
    expect_error("POST", "/v1/runs", TOKEN, "{bad", 4, 400, "malformed JSON at line 1");
    expect_error("POST", "/v1/runs", TOKEN, "", 0, 400, "empty");
    expect_error("POST", "/v1/runs", TOKEN, "{\"a\":\"x\0y\"}", 11, 400, "NUL byte at offset 7");
    expect_error("POST", "/v1/runs", TOKEN, "42", 2, 400, "malformed JSON");
    expect_error("POST", "/v1/runs", TOKEN, "{\"a\":1,\"a\":2}", 13, 400, "duplicate");
    char deep[2001];
    for (int i = 0; i < 1000; i++) deep[i] = '[', deep[1000 + i] = ']';
    deep[2000] = '\0';
    expect_error("POST", "/v1/runs", TOKEN, deep, 2000, 400,
                 "nested deeper than 32 levels (at offset 32)");
    /* brackets inside strings do not count; 32 levels is fine */
    char ok[200];
    int n = snprintf(ok, sizeof ok, "{\"s\":\"[[[[{{{{\\\"[[[[\",\"a\":");
    for (int i = 0; i < 31; i++) ok[n++] = '[';
    for (int i = 0; i < 31; i++) ok[n++] = ']';
    ok[n++] = '}';
    expect("POST", "/v1/runs", TOKEN, ok, (size_t)n, 201, NULL);
    struct cvb_http_result r;
    CHECK_EQ_INT(req("POST", "/v1/runs", TOKEN, "[1]", 3, &r), 0);
    check_error(&r, 422, "expected an object", "body");
    cvb_http_result_cleanup(&r);
}

static void test_auth(void) {
    struct cvb_http_result r;
    char v[64];
    int before = atomic_load(&n_post_calls);
    CHECK_EQ_INT(req("POST", "/v1/runs", NULL, "{}", 2, &r), 0);
    check_error(&r, 401, "missing bearer token", NULL);
    CHECK(cvb_http_result_header(&r, "WWW-Authenticate", v, sizeof v) && strcmp(v, "Bearer") == 0);
    cvb_http_result_cleanup(&r);
    expect_error("POST", "/v1/runs", "s3cret-tokeN", "{}", 2, 401, "wrong bearer token");
    expect_error("POST", "/v1/runs", "s3cret-token-longer", "{}", 2, 401, "wrong bearer token");
    CHECK_EQ_INT(atomic_load(&n_post_calls), before);
    CHECK_EQ_INT(req("POST", "/v1/runs", TOKEN, "{\"model\":\"m.onnx\"}", 18, &r), 0);
    CHECK_EQ_INT(r.status, 201);
    CHECK(r.body != NULL && strcmp(r.body, "{\"id\":\"r1\",\"keys\":1}") == 0);
    CHECK(cvb_http_result_header(&r, "location", v, sizeof v) && strcmp(v, "/v1/runs/r1") == 0);
    cvb_http_result_cleanup(&r);
    /* a handler's own error keeps its status */
    expect_error("POST", "/v1/runs/r9/cancel", TOKEN, NULL, 0, 409, "run r9 already finished");
}

static void test_500(void) {
    expect_error("GET", "/fail", NULL, NULL, 0, 500, "internal error");
    expect_error("GET", "/big", NULL, NULL, 0, 500, "response too large");
}

static void *worker(void *arg) {
    long t = (long)arg;
    long bad = 0;
    for (int i = 0; i < 50; i++) {
        char path[64], want[64];
        struct cvb_http_result r;
        snprintf(path, sizeof path, "/v1/runs/t%ld-%d", t, i);
        snprintf(want, sizeof want, "{\"id\":\"t%ld-%d\"}", t, i);
        if (req("GET", path, NULL, NULL, 0, &r) < 0 || r.status != 200 || strcmp(r.body, want) != 0)
            bad++;
        cvb_http_result_cleanup(&r);
    }
    return (void *)bad;
}

static void test_concurrent(void) {
    pthread_t th[6];
    for (long t = 0; t < 6; t++) pthread_create(&th[t], NULL, worker, (void *)t);
    long bad_total = 0;
    for (int t = 0; t < 6; t++) {
        void *bad;
        pthread_join(th[t], &bad);
        bad_total += (long)bad;
    }
    CHECK_EQ_INT(bad_total, 0);
}

static void test_metrics_route(void) {
    struct cvb_http_result r;
    CHECK_EQ_INT(req("GET", "/metrics", NULL, NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strcmp(r.content_type, "text/plain; version=0.0.4; charset=utf-8") == 0);
    CHECK(r.body && strstr(r.body, "# TYPE process_resident_memory_bytes gauge\n"));
    CHECK(r.body && strstr(r.body, "\ncvb_metrics_dropped_series_total 0\n"));
    cvb_http_result_cleanup(&r);
}

static void test_client_errors(void) {
    struct cvb_http_result r;
    struct cvb_err err = {0};
    char url[128];
    CHECK_EQ_INT(cvb_http_request("GET", "http://127.0.0.1:1/hello", NULL, NULL, NULL, 0, 5000,
                                  1024, &r, &err),
                 CVB_EIO);
    CHECK(strcmp(err.msg, "cannot reach server http://127.0.0.1:1/hello: Connection refused") == 0);
    if (strstr(err.msg, "Connection refused") == NULL) fprintf(stderr, "  %s\n", err.msg);
    snprintf(url, sizeof url, "%s/hello", base);
    CHECK_EQ_INT(cvb_http_request("GET", url, NULL, NULL, NULL, 0, 5000, 4, &r, &err), CVB_ERANGE);
    CHECK(strstr(err.msg, "larger than 4 bytes") != NULL);
    CHECK(r.body == NULL);
}

static int h_echo_header(void *user, const struct cvb_http_req *req,
                         struct cvb_http_resp *resp) {
    const char *v = cvb_http_req_header(req, "Inference-Header-Content-Length");
    return cvb_http_resp_text(resp, 200, "text/plain", v ? v : "-", strlen(v ? v : "-"));
}

/* The error must be exactly {"error":"<message>"} (KServe style). */
static void check_flat_error(const struct cvb_http_result *r, long status, const char *msg_part) {
    CHECK_EQ_INT(r->status, status);
    json_error_t je;
    json_t *j = json_loads(r->body ? r->body : "", 0, &je);
    CHECK(j != NULL);
    if (j == NULL) return;
    const char *m = json_string_value(json_object_get(j, "error"));
    CHECK(json_object_size(j) == 1 && m != NULL && strstr(m, msg_part) != NULL);
    if (m == NULL || strstr(m, msg_part) == NULL)
        fprintf(stderr, "  body: %s\n", r->body ? r->body : "(null)");
    json_decref(j);
}

/* error_style FLAT: every layer-made error and cvb_http_resp_error() reply
 * is {"error":"..."}; extra client headers reach the handler. */
static void test_flat_errors(void) {
    struct cvb_err err = {0};
    struct cvb_http_server *fs = NULL;
    struct cvb_http_opts o = {.listen = "127.0.0.1:0", .token = TOKEN, .max_body_bytes = 1024,
                              .error_style = CVB_HTTP_ERRORS_FLAT};
    struct cvb_http_opts bad = {.listen = "127.0.0.1:0", .error_style = 7};
    CHECK_EQ_INT(cvb_http_server_new(&bad, &fs, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "error_style") != NULL);
    CHECK_EQ_INT(cvb_http_server_new(&o, &fs, &err), 0);
    if (fs == NULL) return;
    CHECK_EQ_INT(cvb_http_route(fs, "POST", "/j", CVB_HTTP_MUTATING | CVB_HTTP_JSON, h_submit,
                                NULL, &err), 0);
    CHECK_EQ_INT(cvb_http_route(fs, "GET", "/echo", 0, h_echo_header, NULL, &err), 0);
    char url[128], big[2048];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", cvb_http_server_port(fs));
    memset(big, ' ', sizeof big);
    struct {
        const char *method, *path, *token, *body;
        size_t len;
        long status;
        const char *msg;
    } cases[] = {
        {"GET", "/nope", NULL, NULL, 0, 404, "no such path: /nope"},
        {"DELETE", "/j", NULL, NULL, 0, 405, "method DELETE not allowed"},
        {"POST", "/j", NULL, "{}", 2, 401, "missing bearer token"},
        {"POST", "/j", TOKEN, big, sizeof big, 413, "over the limit of 1024 bytes"},
        {"POST", "/j", TOKEN, "{bad", 4, 400, "malformed JSON"},
        {"POST", "/j", TOKEN, "[1]", 3, 422, "body: expected an object"},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(cases); i++) {
        struct cvb_http_result r;
        char u[256];
        snprintf(u, sizeof u, "%s%s", url, cases[i].path);
        CHECK_EQ_INT(cvb_http_request(cases[i].method, u, cases[i].token,
                                      cases[i].body ? "application/json" : NULL, cases[i].body,
                                      cases[i].len, 5000, 1 << 20, &r, &err), 0);
        check_flat_error(&r, cases[i].status, cases[i].msg);
        cvb_http_result_cleanup(&r);
    }
    /* extra request headers */
    struct cvb_http_result r;
    char u[256];
    snprintf(u, sizeof u, "%s/echo", url);
    const char *hdrs[] = {"Inference-Header-Content-Length: 123", NULL};
    CHECK_EQ_INT(cvb_http_request_ex("GET", u, NULL, NULL, hdrs, NULL, 0, 5000, 1024, &r, &err), 0);
    CHECK(r.status == 200 && r.body != NULL && strcmp(r.body, "123") == 0);
    cvb_http_result_cleanup(&r);
    const char *crlf[] = {"X-A: 1\r\nX-B: 2", NULL};
    CHECK_EQ_INT(cvb_http_request_ex("GET", u, NULL, NULL, crlf, NULL, 0, 5000, 1024, &r, &err),
                 CVB_EINVAL);
    CHECK(strstr(err.msg, "extra header 0") != NULL);
    cvb_http_server_free(fs);
}

/* Freeing a server with no request in flight stops it: its port refuses. */
static void test_free_idle(void) {
    struct cvb_http_result r;
    struct cvb_err err = {0};
    char url[128];
    snprintf(url, sizeof url, "%s/hello", base);
    cvb_http_server_free(srv);
    srv = NULL;
    CHECK_EQ_INT(cvb_http_request("GET", url, NULL, NULL, NULL, 0, 5000, 1024, &r, &err), CVB_EIO);
    CHECK(strstr(err.msg, "cannot reach server") != NULL);
}

static void test_listen_parse(void) {
    static const char *bad[] = {"nohost", "1.2.3.4:99999", "::1:80", "[::1]:x", "example.com:80",
                                "127.0.0.1:", ":8080", "[::1:80", "1.2.3:80"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(bad); i++) {
        struct cvb_http_opts o = {.listen = bad[i]};
        struct cvb_http_server *s = (void *)1;
        struct cvb_err err = {0};
        CHECK_EQ_INT(cvb_http_server_new(&o, &s, &err), CVB_EINVAL);
        CHECK(s == NULL);
        CHECK(strstr(err.msg, bad[i]) != NULL);
    }
    /* the port in use is named */
    char in_use[64];
    snprintf(in_use, sizeof in_use, "127.0.0.1:%u", cvb_http_server_port(srv));
    struct cvb_http_opts o = {.listen = in_use};
    struct cvb_http_server *s = NULL;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_http_server_new(&o, &s, &err), CVB_EIO);
    CHECK(strstr(err.msg, in_use) != NULL);
    printf("  port in use: %s\n", err.msg);
    /* IPv6 loopback, when the machine has it */
    o.listen = "[::1]:0";
    if (cvb_http_server_new(&o, &s, &err) == 0) {
        CHECK(cvb_http_server_port(s) > 0);
        cvb_http_server_free(s);
    } else {
        printf("  [::1]:0 not available here (%s); IPv6 not checked\n", err.msg);
    }
    /* localhost, port 0, freed while idle */
    o.listen = "localhost:0";
    CHECK_EQ_INT(cvb_http_server_new(&o, &s, &err), 0);
    CHECK(s != NULL && cvb_http_server_port(s) > 0);
    cvb_http_server_free(s);
    cvb_http_server_free(NULL);
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    chmod(path, mode);
}

static void test_token_file(void) {
    char dir[] = "/tmp/cvb-http-token-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128], buf[CVB_HTTP_TOKEN_MAX + 1];
    struct cvb_err err = {0};
    snprintf(path, sizeof path, "%s/token", dir);
    write_file(path, "abc123\n", 7, 0600);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), 0);
    CHECK(strcmp(buf, "abc123") == 0);
    write_file(path, "abc123\r\n", 8, 0644); /* accepted with a warning */
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), 0);
    CHECK(strcmp(buf, "abc123") == 0);
    write_file(path, "\n", 1, 0600);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "empty token") != NULL && strstr(err.msg, path) != NULL);
    write_file(path, "two words\n", 10, 0600);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), CVB_EINVAL);
    static char big[CVB_HTTP_TOKEN_MAX + 2];
    memset(big, 'a', sizeof big);
    write_file(path, big, CVB_HTTP_TOKEN_MAX, 0600);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), 0);
    CHECK_EQ_INT(strlen(buf), CVB_HTTP_TOKEN_MAX);
    write_file(path, big, CVB_HTTP_TOKEN_MAX + 1, 0600);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), CVB_ERANGE);
    unlink(path);
    CHECK_EQ_INT(cvb_http_load_token(path, buf, sizeof buf, &err), CVB_EIO);
    CHECK(strstr(err.msg, "No such file") != NULL);
    rmdir(dir);
}

int main(void) {
    struct cvb_err err = {0};
    struct cvb_metrics *reg = NULL;
    struct cvb_http_opts o = {.listen = "127.0.0.1:0", .token = TOKEN,
                              .max_response_bytes = 128 * 1024};
    if (cvb_http_server_new(&o, &srv, &err) < 0) {
        fprintf(stderr, "cannot start server: %s\n", err.msg);
        return 1;
    }
    snprintf(base, sizeof base, "http://127.0.0.1:%u", cvb_http_server_port(srv));
    int rc = cvb_metrics_new(CVB_METRICS_PROCESS, &reg, &err);
    struct {
        const char *m, *p;
        unsigned flags;
        cvb_http_handler fn;
    } routes[] = {
        {"GET", "/hello", 0, h_hello},
        {"GET", "/v1/runs", 0, h_list},
        {"POST", "/v1/runs", CVB_HTTP_MUTATING | CVB_HTTP_JSON, h_submit},
        {"GET", "/v1/runs/{id}", 0, h_run},
        {"GET", "/v1/runs/stats", 0, h_stats},
        {"POST", "/v1/runs/{id}/cancel", CVB_HTTP_MUTATING, h_cancel},
        {"GET", "/fail", 0, h_fail},
        {"GET", "/big", 0, h_big},
    };
    for (size_t i = 0; i < CVB_ARRAY_LEN(routes) && rc == 0; i++)
        rc = cvb_http_route(srv, routes[i].m, routes[i].p, routes[i].flags, routes[i].fn, NULL,
                            &err);
    if (rc == 0) rc = cvb_http_route_metrics(srv, reg, &err);
    if (rc < 0) {
        fprintf(stderr, "setup: %s\n", err.msg);
        return 1;
    }
    /* bad patterns are refused */
    CHECK_EQ_INT(cvb_http_route(srv, "GET", "/a/{x", 0, h_hello, NULL, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_http_route(srv, "GET", "/a/b{x}", 0, h_hello, NULL, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_http_route(srv, "GET", "no-slash", 0, h_hello, NULL, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_http_route(srv, "GET", "/hello", 0, h_hello, NULL, &err), CVB_EINVAL);

    RUN(test_json_200);
    RUN(test_path_params);
    RUN(test_query_params);
    RUN(test_404_405);
    RUN(test_413);
    RUN(test_413_chunked);
    RUN(test_bad_json);
    RUN(test_auth);
    RUN(test_500);
    RUN(test_concurrent);
    RUN(test_metrics_route);
    RUN(test_listen_parse);
    RUN(test_token_file);
    RUN(test_client_errors);
    RUN(test_flat_errors);
    RUN(test_free_idle);
    cvb_metrics_free(reg);
    return test_summary();
}
