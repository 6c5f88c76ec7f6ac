/* SPDX-License-Identifier: Apache-2.0 */
/* The one HTTP layer: a server on libmicrohttpd (http.c, the only file that
 * includes microhttpd.h) and a small client on libcurl (client.c, the only
 * file that includes curl.h). Neither library's types appear here.
 *
 * Server: the caller creates a server, registers routes (method + path
 * pattern with {name} segments + handler), and the layer does everything a
 * handler should not have to: 404 for an unknown path, 405 with Allow for a
 * known path and another method, 401 for a mutating route without the right
 * bearer token, 413 for a body over the limit (refused from Content-Length
 * before reading, or as soon as a streamed body passes the limit), 400 for
 * malformed or too deeply nested JSON on routes that take JSON, and 500 if a
 * handler fails. Every error reply is
 *     {"error":{"status":N,"message":"...","field":"..."}}
 * ("field" only when one field is at fault), or {"error":"..."} on a server
 * created with error_style CVB_HTTP_ERRORS_FLAT. Memory per request is bounded
 * by the body limit plus the response cap.
 *
 * Threads: handlers run on the server's thread pool, several at a time; a
 * handler must be thread-safe with respect to its 'user' data. */
#ifndef CVB_HTTP_H
#define CVB_HTTP_H

#include "cvb/common.h"

#include <stddef.h>

struct json_t; /* jansson's json_t */

#define CVB_HTTP_DEFAULT_LISTEN        "127.0.0.1:8080"
#define CVB_HTTP_DEFAULT_MAX_BODY      (1u << 20)
#define CVB_HTTP_DEFAULT_MAX_DEPTH     32
#define CVB_HTTP_DEFAULT_MAX_CONNS     64
#define CVB_HTTP_DEFAULT_THREADS       4
#define CVB_HTTP_DEFAULT_TIMEOUT_S     30
#define CVB_HTTP_DEFAULT_MAX_RESPONSE  (16u << 20)
#define CVB_HTTP_TOKEN_MAX             4096
#define CVB_HTTP_MAX_ROUTES            64
#define CVB_HTTP_MAX_PARAMS            8

/* Server options; zero / NULL fields take the defaults above. */
struct cvb_http_opts {
    const char *listen;       /* "HOST:PORT": IPv4 literal, "localhost" or "[IPv6]"; port 0 = any */
    size_t max_body_bytes;    /* request bodies above this get 413 */
    int max_json_depth;       /* nesting limit for JSON bodies */
    const char *token;        /* bearer token for mutating routes; NULL = none (copied) */
    unsigned max_connections; /* concurrent connections; MHD closes more at accept */
    unsigned threads;         /* thread pool size */
    unsigned timeout_s;       /* idle connection timeout */
    size_t max_response_bytes; /* cap on one response body */
    int error_style;          /* CVB_HTTP_ERRORS_NESTED (default) or CVB_HTTP_ERRORS_FLAT */
};

/* Shape of every error reply of a server (the layer's own and
 * cvb_http_resp_error()'s). NESTED: {"error":{"status":N,"message":"...",
 * "field":"..."}}. FLAT: {"error":"<message>"}, the KServe v2 error shape
 * (serve-model), where "field" is folded into the message. */
enum { CVB_HTTP_ERRORS_NESTED = 0, CVB_HTTP_ERRORS_FLAT = 1 };

struct cvb_http_server;
struct cvb_http_resp; /* owned by the layer; filled through cvb_http_resp_*() */
struct cvb_http__conn; /* internal */

/* One request as a handler sees it. All pointers stay valid until the
 * handler returns. */
struct cvb_http_req {
    const char *method;   /* "GET", "POST", ... (HEAD is served by the GET route) */
    const char *path;     /* URL path, percent-decoded, without the query string */
    const char *body;     /* body_len bytes, NUL-terminated (may hold NULs); "" when none */
    size_t body_len;      /* <= max_body_bytes, always */
    struct json_t *json;  /* the parsed body on CVB_HTTP_JSON routes (borrowed), else NULL */
    struct cvb_http__conn *conn_; /* internal */
};

/* Route flags. */
enum {
    CVB_HTTP_MUTATING = 1u << 0, /* needs "Authorization: Bearer <token>" when a token is set */
    CVB_HTTP_JSON = 1u << 1,     /* the body must be a JSON object or list: the layer parses
                                    it (depth-checked) into req->json or answers 400 */
};

/* A handler fills 'resp' and returns 0. A negative return means an
 * unexpected failure: the layer answers 500 unless the handler already set
 * an error status (>= 400) with cvb_http_resp_error(). */
typedef int (*cvb_http_handler)(void *user, const struct cvb_http_req *req,
                                struct cvb_http_resp *resp);

/* Parse the options, bind and start serving. On success sets *out (free
 * with cvb_http_server_free()) and returns 0; on failure (bad listen
 * address, port in use, ...) returns a negative status and says why in
 * 'err', naming the address. Requests arriving before their route is
 * registered get 404: register routes before announcing the port. */
int cvb_http_server_new(const struct cvb_http_opts *opts, struct cvb_http_server **out,
                        struct cvb_err *err);
/* Stop accepting, wait for running handlers and free. NULL is a no-op. */
void cvb_http_server_free(struct cvb_http_server *s);
/* The port actually bound (useful when the listen port was 0). */
unsigned cvb_http_server_port(const struct cvb_http_server *s);

/* Register 'fn' for 'method' on 'pattern' ("/v1/runs/{id}/cancel": literal
 * segments and whole-segment {name} parameters). Safe while the server
 * runs (routes are only ever added). A literal segment beats a parameter
 * when two patterns match the same path. CVB_ERANGE past
 * CVB_HTTP_MAX_ROUTES, CVB_EINVAL for a malformed pattern. */
int cvb_http_route(struct cvb_http_server *s, const char *method, const char *pattern,
                   unsigned flags, cvb_http_handler fn, void *user, struct cvb_err *err);

/* ---- request accessors (NULL when absent) ---- */
const char *cvb_http_req_param(const struct cvb_http_req *req, const char *name);
/* Query parameter, percent-decoded; the first one when repeated. */
const char *cvb_http_req_query(const struct cvb_http_req *req, const char *name);
/* Header, name matched case-insensitively. */
const char *cvb_http_req_header(const struct cvb_http_req *req, const char *name);

/* Parse the body as JSON: refuses an empty body, NUL bytes, nesting deeper
 * than the server's max_json_depth (checked by scanning the bytes before any
 * parsing) and anything that is not an object or a list. On success sets
 * *out to a new reference (json_decref() it) and returns 0; on failure
 * fills 'resp' with a 400 naming the problem and returns CVB_EFORMAT. */
int cvb_http_req_json(const struct cvb_http_req *req, struct cvb_http_resp *resp,
                      struct json_t **out);
/* The same check without a connection (what cvb_http_req_json() calls, and
 * what tests/fuzz/fuzz-api-body.c drives): 'len' bytes of 'body' with
 * nesting limit 'max_depth'. 0 and a new reference in *out, or CVB_EFORMAT
 * with *out NULL and the 400 message in 'why' (CVB_HTTP_JSON_WHY_MAX bytes
 * hold any of them in full). */
#define CVB_HTTP_JSON_WHY_MAX 1024
int cvb_http_json_parse(const char *body, size_t len, int max_depth, struct json_t **out,
                        char *why, size_t why_len);

/* ---- response helpers: each returns 0, or CVB_ERANGE when the body passes
 * the response cap / CVB_ENOMEM (the layer then answers 500) ---- */
/* Reply 'status' with the compact JSON encoding of 'json' (not consumed). */
int cvb_http_resp_json(struct cvb_http_resp *resp, int status, const struct json_t *json);
/* Reply 'status' with 'len' bytes of 'data' as 'ctype'. */
int cvb_http_resp_text(struct cvb_http_resp *resp, int status, const char *ctype,
                       const char *data, size_t len);
/* Same, taking ownership of 'data' (malloc'ed; freed by the layer even on
 * failure), for large bodies built elsewhere (the HTML report, /metrics). */
int cvb_http_resp_take(struct cvb_http_resp *resp, int status, const char *ctype, char *data,
                       size_t len);
/* Reply {"error":{"status":status,"message":...,"field":field}}; 'field'
 * may be NULL. The message is truncated to 1 KiB. On a FLAT-style server:
 * {"error":"<field>: <message>"} (or the message alone without a field). */
int cvb_http_resp_error(struct cvb_http_resp *resp, int status, const char *field,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Add a response header (Location, Allow, Cache-Control, ...); at most 8,
 * values up to 1 KiB. CVB_ERANGE / CVB_EINVAL (CR or LF in either). */
int cvb_http_resp_header(struct cvb_http_resp *resp, const char *name, const char *value);

/* Read a bearer token from 'path' into buf (len >= CVB_HTTP_TOKEN_MAX + 1):
 * one trailing newline (LF or CRLF) is stripped; an empty token, one over
 * CVB_HTTP_TOKEN_MAX bytes or one with spaces or control characters is
 * refused. A file readable by group or others is accepted with a warning. */
int cvb_http_load_token(const char *path, char *buf, size_t len, struct cvb_err *err);

/* ---- client (client.c, libcurl) ---- */
struct cvb_http_result {
    long status;            /* HTTP status */
    char *body;             /* malloc'ed, NUL-terminated; free with cvb_http_result_cleanup() */
    size_t body_len;
    char content_type[128]; /* "" when the server sent none */
    char headers[8192];     /* the final response's header lines ("Name: value\r\n"...),
                               truncated past 8 KiB; read with cvb_http_result_header() */
};

/* Perform one request. 'token' (NULL = none) goes in "Authorization:
 * Bearer"; 'content_type' and 'body' may be NULL. A response body over
 * max_resp_bytes is refused (CVB_ERANGE). Any HTTP status is a success
 * (look at out->status); transport failures return CVB_EIO with a message
 * naming the URL ("cannot reach server http://...: Connection refused").
 * On failure *out holds no allocation. */
int cvb_http_request(const char *method, const char *url, const char *token,
                     const char *content_type, const void *body, size_t len, long timeout_ms,
                     size_t max_resp_bytes, struct cvb_http_result *out, struct cvb_err *err);
/* The same with extra request headers: 'headers' is a NULL-terminated list
 * of "Name: value" lines (NULL = none; each under 1 KiB, no CR or LF:
 * otherwise CVB_EINVAL), e.g. "Inference-Header-Content-Length: 123". */
#define CVB_HTTP_REQ_HEADER_MAX 1024
#define CVB_HTTP_REQ_HEADERS_MAX 16
int cvb_http_request_ex(const char *method, const char *url, const char *token,
                        const char *content_type, const char *const *headers, const void *body,
                        size_t len, long timeout_ms, size_t max_resp_bytes,
                        struct cvb_http_result *out, struct cvb_err *err);
void cvb_http_result_cleanup(struct cvb_http_result *r);
/* Copy the value of response header 'name' (case-insensitive; the first
 * one) into buf; returns buf, or NULL when there is no such header. */
const char *cvb_http_result_header(const struct cvb_http_result *r, const char *name, char *buf,
                                   size_t len);

/* ---- persistent client connection (client.c) ----
 * One libcurl easy handle reused request after request, so the TCP
 * connection stays open between them (HTTP/1.1 keep-alive; libcurl
 * reconnects by itself when the server closed it). For hot paths such as
 * the kserve backend's one request per frame: the headers are prepared once
 * at creation, the request body is the caller's (not copied) and the
 * response body is written into the caller's buffer, so a request allocates
 * nothing in this layer (libcurl itself may, internally). TCP_NODELAY, no
 * "Expect: 100-continue" (libcurl would wait up to 1 s for the server's
 * go-ahead on a large POST). One thread at a time per connection. */
struct cvb_http_conn;

struct cvb_http_conn_opts {
    const char *token;                /* "Authorization: Bearer", NULL = none */
    const char *const *headers;       /* NULL-terminated "Name: value" lines sent with
                                         every request (same rules as _request_ex) */
    const char *capture;              /* a response header whose value each exchange
                                         records (NULL = none), e.g.
                                         "Inference-Header-Content-Length" */
    long timeout_ms;                  /* per request; 0 = none */
};

/* What one request on a connection gave. */
struct cvb_http_exchange {
    long status;            /* HTTP status of the final response */
    size_t body_len;        /* bytes written into the caller's response buffer */
    char content_type[128]; /* "" when none */
    char captured[64];      /* value of opts.capture ("" when absent; truncated) */
    int has_captured;       /* the header was present */
    long new_connects;      /* TCP connections this request had to open (0: reused) */
    uint64_t connect_ns;    /* libcurl's phases, from the start of the request: */
    uint64_t first_byte_ns; /*   connected, first response byte, */
    uint64_t total_ns;      /*   and the whole exchange */
    size_t sent_bytes;      /* request body bytes uploaded */
};

/* Create a connection (nothing is connected until the first request).
 * 0 and *out (free with cvb_http_conn_free()), or CVB_EINVAL for a bad
 * header line / token, CVB_ENOMEM, CVB_EIO if libcurl cannot start. */
int cvb_http_conn_new(const struct cvb_http_conn_opts *opts, struct cvb_http_conn **out,
                      struct cvb_err *err);
/* Close the connection and free. NULL is a no-op. */
void cvb_http_conn_free(struct cvb_http_conn *c);
/* 'method' ("GET", "POST", ...) 'url' on the connection, sending 'len'
 * bytes of 'body' (NULL: none; borrowed for the call) and writing the
 * response body into 'resp' (at most 'resp_cap' bytes; a longer body is
 * refused with CVB_ERANGE). Any HTTP status is a success (look at
 * x->status); a transport failure is CVB_EIO naming the URL, as
 * cvb_http_request(). Fills *x either way (as far as it got). */
int cvb_http_conn_request(struct cvb_http_conn *c, const char *method, const char *url,
                          const void *body, size_t len, void *resp, size_t resp_cap,
                          struct cvb_http_exchange *x, struct cvb_err *err);

/* ---- /metrics ---- */
struct cvb_metrics;
/* Serve 'reg' (src/metrics) as GET /metrics on 's' in the Prometheus text
 * format 0.0.4. 'reg' must outlive the server. */
int cvb_http_route_metrics(struct cvb_http_server *s, struct cvb_metrics *reg,
                           struct cvb_err *err);

#endif
