/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP server layer on libmicrohttpd: the only file that includes
 * microhttpd.h. Serves `cvbench serve` (API, dashboard, /metrics), the
 * workers' --metrics-listen and later serve-model; see http.h for the
 * contract a handler gets.
 *
 * One request goes through MHD's access callback several times:
 *
 *   first call (headers read) --admit()--> refused: reply now (404, 405,
 *        |                                 401, 413 from Content-Length);
 *        |                                 MHD then closes without reading
 *        v                                 the body
 *   upload calls: append to conn->body; passing max_body_bytes -> 413 and
 *        |        the connection is closed (nothing more is read)
 *        v
 *   final call (*upload_data_size == 0) -> [JSON check] -> handler -> reply
 *
 * Invariants:
 *  1. A handler never sees a body over max_body_bytes, and no more than
 *     max_body_bytes of a body is ever held: the buffer is a cvb_buf capped
 *     at the limit, so memory per request <= body limit + response cap.
 *  2. Every reply the layer makes itself is the JSON error object (nested,
 *     or flat KServe style per server), so clients parse one error shape.
 *  3. Routes are only appended: the array slot is written under route_lock
 *     and then published by a release store of n_routes; request threads
 *     read n_routes with acquire and never lock. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SEGS        16
#define PATTERN_MAX     256
#define PATH_MAX_BYTES  2048
#define METHOD_MAX      16
#define RESP_HEADERS    8
#define HDR_NAME_MAX    64
#define HDR_VALUE_MAX   1024
#define ERR_MESSAGE_MAX 1024
#define CTYPE_JSON      "application/json"

struct route {
    char method[METHOD_MAX];
    char pattern[PATTERN_MAX];  /* as registered, for logs */
    char segs_buf[PATTERN_MAX]; /* the pattern split at '/', NUL-separated */
    const char *seg[MAX_SEGS];  /* literal text, or the parameter name */
    unsigned is_param;          /* bit i: segment i is {name} */
    unsigned n_seg;
    unsigned flags;
    cvb_http_handler fn;
    void *user;
};

struct cvb_http_server {
    struct MHD_Daemon *daemon;
    char listen[128];
    unsigned port;
    size_t max_body;
    size_t max_resp;
    int max_depth;
    char token[CVB_HTTP_TOKEN_MAX + 1]; /* "" = no token */
    size_t token_len;
    int flat_errors; /* error_style == CVB_HTTP_ERRORS_FLAT */
    char start_msg[256]; /* the last MHD log line while starting */
    pthread_mutex_t route_lock;
    atomic_uint n_routes;
    struct route routes[CVB_HTTP_MAX_ROUTES];
};

struct cvb_http_resp {
    int status;   /* 0 until a helper succeeded */
    int overflow; /* a helper failed: the layer answers 500 */
    int flat_errors; /* the server's error style (kept across resets) */
    char ctype[128];
    struct cvb_buf body;
    unsigned n_headers;
    struct {
        char name[HDR_NAME_MAX];
        char value[HDR_VALUE_MAX];
    } headers[RESP_HEADERS];
};

/* A body declared over the limit but at most this long is read and
 * discarded before the 413, so the client gets the answer, not EPIPE. */
#define DRAIN_MAX_BYTES (64ull << 20)

struct cvb_http__conn {
    struct cvb_http_server *s;
    struct MHD_Connection *mc;
    uint64_t t0_ns;
    int replied;
    int draining; /* a 413 is ready; the declared body is read and discarded first */
    char method[METHOD_MAX];
    char path[PATH_MAX_BYTES];
    char path_segs[PATH_MAX_BYTES]; /* path split at '/', param values point here */
    const struct route *route;
    unsigned n_params;
    const char *param_name[CVB_HTTP_MAX_PARAMS];
    const char *param_value[CVB_HTTP_MAX_PARAMS];
    struct cvb_buf body;
    struct cvb_http_resp resp;
};

/* ---- small helpers --------------------------------------------------------- */

/* Copy 'in' to 'out' (size n) replacing invalid UTF-8 with '?', so a
 * message that quotes client input is always a valid JSON string. */
static void utf8_sanitize(const char *in, char *out, size_t n) {
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p != '\0' && o + 5 < n) {
        unsigned c = p[0];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4 : 0;
        int ok = len > 0 && !(len == 2 && c < 0xC2) && !(len == 4 && c > 0xF4);
        for (size_t i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3) ok = !(c == 0xE0 && p[1] < 0xA0) && !(c == 0xED && p[1] >= 0xA0);
        if (ok && len == 4) ok = !(c == 0xF0 && p[1] < 0x90) && !(c == 0xF4 && p[1] >= 0x90);
        if (!ok) {
            out[o++] = '?';
            p++;
            continue;
        }
        memcpy(out + o, p, len);
        o += len;
        p += len;
    }
    out[o] = '\0';
}

/* Printable copy of client text for one log line. */
static void log_safe(const char *in, char *out, size_t n) {
    size_t o = 0;
    for (; *in != '\0' && o + 1 < n; in++) out[o++] = (*in >= 0x20 && *in < 0x7f) ? *in : '?';
    out[o] = '\0';
}

/* Compare without an early exit, so the time taken does not say how many
 * leading bytes of a guess were right. */
static int token_equal(const char *given, size_t given_len, const char *want, size_t want_len) {
    unsigned diff = given_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
    return diff == 0;
}

/* ---- responses --------------------------------------------------------------- */

static void resp_reset(struct cvb_http_resp *r) {
    r->status = 0;
    r->overflow = 0;
    r->ctype[0] = '\0';
    r->body.len = 0;
    if (r->body.cap > 0) r->body.data[0] = '\0';
}

static int resp_fail(struct cvb_http_resp *r, int rc) {
    r->overflow = 1;
    r->body.len = 0;
    return rc;
}

static int dump_cb(const char *buf, size_t size, void *data) {
    return cvb_buf_append(data, buf, size) < 0 ? -1 : 0;
}

int cvb_http_resp_json(struct cvb_http_resp *resp, int status, const struct json_t *json) {
    resp_reset(resp);
    if (json_dump_callback(json, dump_cb, &resp->body, JSON_COMPACT) != 0)
        return resp_fail(resp, CVB_ERANGE);
    resp->status = status;
    snprintf(resp->ctype, sizeof resp->ctype, "%s", CTYPE_JSON);
    return 0;
}

int cvb_http_resp_text(struct cvb_http_resp *resp, int status, const char *ctype,
                       const char *data, size_t len) {
    resp_reset(resp);
    int rc = cvb_buf_append(&resp->body, data, len);
    if (rc < 0) return resp_fail(resp, rc);
    resp->status = status;
    snprintf(resp->ctype, sizeof resp->ctype, "%s", ctype);
    return 0;
}

int cvb_http_resp_take(struct cvb_http_resp *resp, int status, const char *ctype, char *data,
                       size_t len) {
    resp_reset(resp);
    if (len > resp->body.max_bytes) {
        free(data);
        return resp_fail(resp, CVB_ERANGE);
    }
    free(resp->body.data);
    resp->body.data = data;
    resp->body.len = len;
    resp->body.cap = len; /* may lack room for a NUL: MHD sends len bytes; any
                           * later append reallocates first (len == cap) */
    resp->status = status;
    snprintf(resp->ctype, sizeof resp->ctype, "%s", ctype);
    return 0;
}

static int resp_error_v(struct cvb_http_resp *resp, int status, const char *field,
                        const char *fmt, va_list ap) {
    char raw[ERR_MESSAGE_MAX], msg[ERR_MESSAGE_MAX];
    vsnprintf(raw, sizeof raw, fmt, ap);
    utf8_sanitize(raw, msg, sizeof msg);
    json_t *inner = json_object();
    json_t *root = json_object();
    int rc = CVB_ENOMEM;
    if (inner == NULL || root == NULL) goto out;
    if (resp->flat_errors) {
        char both[2 * ERR_MESSAGE_MAX + 4];
        if (field != NULL) {
            utf8_sanitize(field, raw, 64);
            snprintf(both, sizeof both, "%s: %s", raw, msg);
        } else {
            snprintf(both, sizeof both, "%s", msg);
        }
        json_object_set_new(root, "error", json_string(both));
        rc = cvb_http_resp_json(resp, status, root);
        goto out;
    }
    json_object_set_new(inner, "status", json_integer(status));
    json_object_set_new(inner, "message", json_string(msg));
    if (field != NULL) {
        utf8_sanitize(field, raw, sizeof raw);
        json_object_set_new(inner, "field", json_string(raw));
    }
    json_object_set(root, "error", inner);
    rc = cvb_http_resp_json(resp, status, root);
out:
    json_decref(inner);
    json_decref(root);
    if (rc < 0) resp_fail(resp, rc);
    return rc;
}

int cvb_http_resp_error(struct cvb_http_resp *resp, int status, const char *field,
                        const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = resp_error_v(resp, status, field, fmt, ap);
    va_end(ap);
    return rc;
}

/* The layer's own error replies: they cannot overflow a 16 MiB cap, but if
 * JSON encoding fails for lack of memory MHD still gets a plain body. */
static void layer_error(struct cvb_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void layer_error(struct cvb_http_resp *resp, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = resp_error_v(resp, status, NULL, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        resp_reset(resp);
        resp->status = status;
    }
}

int cvb_http_resp_header(struct cvb_http_resp *resp, const char *name, const char *value) {
    if (resp->n_headers >= RESP_HEADERS) return CVB_ERANGE;
    if (strlen(name) >= HDR_NAME_MAX || strlen(value) >= HDR_VALUE_MAX) return CVB_ERANGE;
    if (name[0] == '\0' || strpbrk(name, "\r\n: ") != NULL || strpbrk(value, "\r\n") != NULL)
        return CVB_EINVAL;
    snprintf(resp->headers[resp->n_headers].name, HDR_NAME_MAX, "%s", name);
    snprintf(resp->headers[resp->n_headers].value, HDR_VALUE_MAX, "%s", value);
    resp->n_headers++;
    return 0;
}

/* ---- requests ------------------------------------------------------------------ */

const char *cvb_http_req_param(const struct cvb_http_req *req, const char *name) {
    const struct cvb_http__conn *c = req->conn_;
    for (unsigned i = 0; i < c->n_params; i++)
        if (strcmp(c->param_name[i], name) == 0) return c->param_value[i];
    return NULL;
}

const char *cvb_http_req_query(const struct cvb_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn_->mc, MHD_GET_ARGUMENT_KIND, name);
}

const char *cvb_http_req_header(const struct cvb_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn_->mc, MHD_HEADER_KIND, name);
}

/* Scan the raw bytes, outside strings, for nesting deeper than 'max' and
 * for NUL bytes: jansson recurses per level, so depth is refused before it
 * sees the text. Returns 0, or 1 (NUL) / 2 (too deep) with *at the offset. */
static int scan_json(const char *p, size_t n, int max, size_t *at) {
    int depth = 0, in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        *at = i;
        if (ch == '\0') return 1;
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max) return 2;
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return 0;
}

int cvb_http_json_parse(const char *body, size_t len, int max_depth, struct json_t **out,
                        char *why, size_t why_len) {
    size_t at = 0;
    *out = NULL;
    if (len == 0) {
        snprintf(why, why_len, "request body: empty; expected a JSON object or list");
        return CVB_EFORMAT;
    }
    switch (scan_json(body, len, max_depth, &at)) {
    case 1:
        snprintf(why, why_len, "request body: NUL byte at offset %zu", at);
        return CVB_EFORMAT;
    case 2:
        snprintf(why, why_len, "request body: JSON nested deeper than %d levels (at offset %zu)",
                 max_depth, at);
        return CVB_EFORMAT;
    }
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        snprintf(why, why_len, "request body: malformed JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return CVB_EFORMAT;
    }
    *out = j;
    return 0;
}

int cvb_http_req_json(const struct cvb_http_req *req, struct cvb_http_resp *resp,
                      struct json_t **out) {
    char why[CVB_HTTP_JSON_WHY_MAX];
    int rc = cvb_http_json_parse(req->body, req->body_len, req->conn_->s->max_depth, out, why,
                                 sizeof why);
    if (rc < 0) cvb_http_resp_error(resp, 400, NULL, "%s", why);
    return rc;
}

/* ---- routes ---------------------------------------------------------------------- */

/* Split 'buf' (a path starting with '/') in place into segments. Returns
 * the count, or -1 when there are more than MAX_SEGS. "/" has none. */
static int split_path(char *buf, const char **seg) {
    int n = 0;
    if (buf[0] != '/') return -1;
    if (buf[1] == '\0') return 0;
    char *p = buf + 1;
    for (;;) {
        if (n == MAX_SEGS) return -1;
        seg[n++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL) break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

int cvb_http_route(struct cvb_http_server *s, const char *method, const char *pattern,
                   unsigned flags, cvb_http_handler fn, void *user, struct cvb_err *err) {
    struct route r;
    memset(&r, 0, sizeof r);
    if (method == NULL || method[0] == '\0' || strlen(method) >= METHOD_MAX || fn == NULL)
        return cvb_err_set(err, CVB_EINVAL, "http route '%s': bad method or no handler",
                           pattern ? pattern : "(null)");
    if (pattern == NULL || strlen(pattern) >= PATTERN_MAX)
        return cvb_err_set(err, CVB_EINVAL, "http route: pattern missing or over %d bytes",
                           PATTERN_MAX - 1);
    snprintf(r.method, sizeof r.method, "%s", method);
    snprintf(r.pattern, sizeof r.pattern, "%s", pattern);
    snprintf(r.segs_buf, sizeof r.segs_buf, "%s", pattern);
    int n = split_path(r.segs_buf, r.seg);
    if (n < 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "http route '%s': must start with '/' and have at most %d segments",
                           pattern, MAX_SEGS);
    r.n_seg = (unsigned)n;
    unsigned n_params = 0;
    for (unsigned i = 0; i < r.n_seg; i++) {
        char *sg = (char *)r.seg[i];
        size_t len = strlen(sg);
        if (len == 0)
            return cvb_err_set(err, CVB_EINVAL, "http route '%s': empty segment", pattern);
        if (sg[0] == '{') {
            if (len < 3 || sg[len - 1] != '}' || strpbrk(sg + 1, "{") != NULL)
                return cvb_err_set(err, CVB_EINVAL,
                                   "http route '%s': parameter segment '%s' is not {name}",
                                   pattern, sg);
            if (++n_params > CVB_HTTP_MAX_PARAMS)
                return cvb_err_set(err, CVB_EINVAL, "http route '%s': more than %d parameters",
                                   pattern, CVB_HTTP_MAX_PARAMS);
            sg[len - 1] = '\0';
            r.seg[i] = sg + 1;
            r.is_param |= 1u << i;
        } else if (strpbrk(sg, "{}") != NULL) {
            return cvb_err_set(err, CVB_EINVAL,
                               "http route '%s': a parameter must be a whole segment", pattern);
        }
    }
    r.flags = flags;
    r.fn = fn;
    r.user = user;

    int rc = 0;
    pthread_mutex_lock(&s->route_lock);
    unsigned k = atomic_load_explicit(&s->n_routes, memory_order_relaxed);
    for (unsigned i = 0; i < k && rc == 0; i++)
        if (strcmp(s->routes[i].method, method) == 0 && strcmp(s->routes[i].pattern, pattern) == 0)
            rc = cvb_err_set(err, CVB_EINVAL, "http route %s %s: registered twice", method,
                             pattern);
    if (rc == 0 && k == CVB_HTTP_MAX_ROUTES)
        rc = cvb_err_set(err, CVB_ERANGE, "http route %s %s: more than %d routes", method,
                         pattern, CVB_HTTP_MAX_ROUTES);
    if (rc == 0) {
        s->routes[k] = r;
        /* segment pointers must point into the stored copy */
        for (unsigned i = 0; i < r.n_seg; i++)
            s->routes[k].seg[i] = s->routes[k].segs_buf + (r.seg[i] - r.segs_buf);
        atomic_store_explicit(&s->n_routes, k + 1, memory_order_release);
    }
    pthread_mutex_unlock(&s->route_lock);
    return rc;
}

static int route_matches(const struct route *r, const char **seg, unsigned n) {
    if (r->n_seg != n) return 0;
    for (unsigned i = 0; i < n; i++) {
        if (r->is_param & (1u << i)) {
            if (seg[i][0] == '\0') return 0;
        } else if (strcmp(r->seg[i], seg[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Literal segments to the left outrank parameters: "/v1/runs/stats" beats
 * "/v1/runs/{id}" for the path /v1/runs/stats. */
static unsigned route_rank(const struct route *r) {
    unsigned rank = 0;
    for (unsigned i = 0; i < r->n_seg; i++)
        if (!(r->is_param & (1u << i))) rank |= 1u << (MAX_SEGS - 1 - i);
    return rank;
}

static void allow_add(char *allow, size_t n, const char *method) {
    size_t mlen = strlen(method);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen)
        if ((p == allow || p[-1] == ' ') && (p[mlen] == ',' || p[mlen] == '\0')) return;
    size_t used = strlen(allow);
    snprintf(allow + used, n - used, "%s%s", used ? ", " : "", method);
}

/* Find the route for c->method and c->path. Returns 0 and sets c->route,
 * or 404 / 405 (with 'allow' filled) when there is none. */
static int find_route(struct cvb_http__conn *c, char *allow, size_t allow_len) {
    const char *seg[MAX_SEGS];
    snprintf(c->path_segs, sizeof c->path_segs, "%s", c->path);
    int n = split_path(c->path_segs, seg);
    if (n < 0) return 404;
    int is_head = strcmp(c->method, "HEAD") == 0;
    unsigned k = atomic_load_explicit(&c->s->n_routes, memory_order_acquire);
    const struct route *best = NULL;
    allow[0] = '\0';
    for (unsigned i = 0; i < k; i++) {
        const struct route *r = &c->s->routes[i];
        if (!route_matches(r, seg, (unsigned)n)) continue;
        allow_add(allow, allow_len, r->method);
        if (strcmp(r->method, "GET") == 0) allow_add(allow, allow_len, "HEAD");
        int method_ok = strcmp(r->method, c->method) == 0 || (is_head && strcmp(r->method, "GET") == 0);
        if (method_ok && (best == NULL || route_rank(r) > route_rank(best))) best = r;
    }
    if (best == NULL) return allow[0] ? 405 : 404;
    c->route = best;
    c->n_params = 0;
    for (unsigned i = 0; i < best->n_seg; i++) {
        if (!(best->is_param & (1u << i))) continue;
        c->param_name[c->n_params] = best->seg[i];
        c->param_value[c->n_params] = seg[i];
        c->n_params++;
    }
    return 0;
}

/* ---- the MHD callbacks -------------------------------------------------------------- */

static enum MHD_Result reply(struct cvb_http__conn *c) {
    struct cvb_http_resp *rs = &c->resp;
    c->replied = 1;
    if (rs->status == 0) layer_error(rs, 500, "internal error: no response");
    size_t len = 0;
    char *data = cvb_buf_take(&rs->body, &len);
    if (data == NULL) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(data);
        return MHD_NO;
    }
    if (rs->ctype[0] != '\0') MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->ctype);
    for (unsigned i = 0; i < rs->n_headers; i++)
        MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
    enum MHD_Result ok = MHD_queue_response(c->mc, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    if (cvb_log_get_level() >= CVB_LOG_DEBUG) {
        char path[256];
        log_safe(c->path, path, sizeof path);
        cvb_log_debug("http: %s %s -> %d, %zu bytes, %.1f ms%s", c->method, path, rs->status,
                      len, (double)(cvb_now_ns() - c->t0_ns) / 1e6,
                      ok == MHD_YES ? "" : " (could not be queued; connection closed)");
    }
    return ok;
}

/* First call: decide from the request line and headers alone. Returns 0 to
 * go on reading the body, or fills c->resp with the refusal. */
static int admit(struct cvb_http__conn *c, const char *url, const char *method) {
    struct cvb_http_server *s = c->s;
    struct cvb_http_resp *rs = &c->resp;
    char allow[128];
    if (strlen(method) >= METHOD_MAX) {
        snprintf(c->method, sizeof c->method, "%.*s", METHOD_MAX - 1, method);
        layer_error(rs, 405, "method not allowed");
        return -1;
    }
    snprintf(c->method, sizeof c->method, "%s", method);
    if (strlen(url) >= sizeof c->path) {
        snprintf(c->path, sizeof c->path, "%.*s...", 64, url);
        layer_error(rs, 414, "request path longer than %zu bytes", sizeof c->path - 1);
        return -1;
    }
    snprintf(c->path, sizeof c->path, "%s", url);
    int st = find_route(c, allow, sizeof allow);
    if (st == 404) {
        char p[256];
        utf8_sanitize(c->path, p, sizeof p);
        layer_error(rs, 404, "no such path: %s", p);
        return -1;
    }
    if (st == 405) {
        layer_error(rs, 405, "method %s not allowed on this path (allowed: %s)", c->method, allow);
        cvb_http_resp_header(rs, MHD_HTTP_HEADER_ALLOW, allow);
        return -1;
    }
    if ((c->route->flags & CVB_HTTP_MUTATING) && s->token_len > 0) {
        const char *auth = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        const char *given = NULL;
        if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
            given = auth + 7;
            while (*given == ' ') given++;
        }
        if (given == NULL || !token_equal(given, strlen(given), s->token, s->token_len)) {
            layer_error(rs, 401, "%s", given == NULL ? "missing bearer token (Authorization: Bearer <token>)"
                                                     : "wrong bearer token");
            cvb_http_resp_header(rs, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
            return -1;
        }
    }
    const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno != 0 || end == cl || n > s->max_body) {
            layer_error(rs, 413, "request body of %s bytes is over the limit of %zu bytes", cl,
                        s->max_body);
            /* A client still sending its body when the connection closes sees
             * EPIPE, not the 413: read and discard a body of moderate size
             * (nothing is kept), then answer. Larger ones: answer and close. */
            if (errno == 0 && end != cl && n <= DRAIN_MAX_BYTES) {
                c->draining = 1;
                return 0;
            }
            return -1;
        }
    }
    return 0;
}

static void dispatch(struct cvb_http__conn *c) {
    struct cvb_http_resp *rs = &c->resp;
    const struct route *r = c->route;
    struct cvb_http_req req = {
        .method = c->method,
        .path = c->path,
        .body = c->body.data != NULL ? c->body.data : "",
        .body_len = c->body.len,
        .json = NULL,
        .conn_ = c,
    };
    json_t *json = NULL;
    if ((r->flags & CVB_HTTP_JSON) && cvb_http_req_json(&req, rs, &json) < 0) return;
    req.json = json;
    int rc = r->fn(r->user, &req, rs);
    json_decref(json);
    if (rs->overflow) {
        cvb_log_error("http: %s %s: response over the %zu-byte cap or out of memory", r->method,
                      r->pattern, c->s->max_resp);
        layer_error(rs, 500, "internal error: response too large");
    } else if (rc < 0 && rs->status < 400) {
        cvb_log_error("http: %s %s: handler failed: %s", r->method, r->pattern,
                      cvb_strerror(rc));
        layer_error(rs, 500, "internal error: %s", cvb_strerror(rc));
    } else if (rs->status == 0) {
        cvb_log_error("http: %s %s: handler produced no response", r->method, r->pattern);
        layer_error(rs, 500, "internal error: no response");
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    struct cvb_http_server *s = cls;
    struct cvb_http__conn *c = *con_cls;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL) return MHD_NO;
        *con_cls = c;
        c->s = s;
        c->mc = mc;
        c->t0_ns = cvb_now_ns();
        cvb_buf_init(&c->body, s->max_body);
        cvb_buf_init(&c->resp.body, s->max_resp);
        c->resp.flat_errors = s->flat_errors;
        if (admit(c, url, method) < 0) return reply(c);
        return MHD_YES;
    }
    if (c->replied) { /* MHD should not call again after a reply; discard */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->draining) {
        if (*upload_data_size > 0) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        return reply(c);
    }
    if (*upload_data_size > 0) {
        if (cvb_buf_append(&c->body, upload_data, *upload_data_size) < 0) {
            /* A streamed (chunked) body passed the limit. MHD only takes a
             * reply once the request is complete, and reading the rest
             * would be unbounded: answer if MHD accepts it, else close. */
            layer_error(&c->resp, 413, "request body over the limit of %zu bytes", s->max_body);
            char p[256];
            log_safe(c->path, p, sizeof p);
            cvb_log_debug("http: %s %s: streamed body over %zu bytes; closing", c->method, p,
                          s->max_body);
            return reply(c);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(c);
    return reply(c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct cvb_http__conn *c = *con_cls;
    if (c == NULL) return;
    cvb_buf_cleanup(&c->body);
    cvb_buf_cleanup(&c->resp.body);
    free(c);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    struct cvb_http_server *s = cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (s->daemon == NULL)
        snprintf(s->start_msg, sizeof s->start_msg, "%s", line);
    else
        cvb_log_warn("http %s: %s", s->listen, line);
}

/* ---- server ------------------------------------------------------------------------- */

/* "HOST:PORT" -> socket address. HOST: an IPv4 literal, "localhost", or an
 * IPv6 literal in brackets. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss, int *is_v6,
                        struct cvb_err *err) {
    char host[64];
    const char *port_s;
    memset(ss, 0, sizeof *ss);
    *is_v6 = 0;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof host)
            return cvb_err_set(err, CVB_EINVAL,
                               "listen address '%s': expected [IPv6]:PORT, e.g. [::1]:8080", spec);
        snprintf(host, sizeof host, "%.*s", (int)(close - spec - 1), spec + 1);
        port_s = close + 2;
        *is_v6 = 1;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL || colon == spec || (size_t)(colon - spec) >= sizeof host)
            return cvb_err_set(err, CVB_EINVAL,
                               "listen address '%s': expected HOST:PORT, e.g. 127.0.0.1:8080", spec);
        if (memchr(spec, ':', (size_t)(colon - spec)) != NULL)
            return cvb_err_set(err, CVB_EINVAL,
                               "listen address '%s': an IPv6 address needs brackets, e.g. [::1]:8080",
                               spec);
        snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
        port_s = colon + 1;
    }
    size_t plen = strlen(port_s);
    if (plen == 0 || plen > 5 || strspn(port_s, "0123456789") != plen || atol(port_s) > 65535)
        return cvb_err_set(err, CVB_EINVAL, "listen address '%s': port '%s' is not 0..65535",
                           spec, port_s);
    uint16_t port = htons((uint16_t)atol(port_s));
    if (*is_v6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = port;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return cvb_err_set(err, CVB_EINVAL, "listen address '%s': '%s' is not an IPv6 address",
                               spec, host);
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        a4->sin_family = AF_INET;
        a4->sin_port = port;
        if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return cvb_err_set(err, CVB_EINVAL,
                               "listen address '%s': '%s' is not an IPv4 address or localhost",
                               spec, host);
    }
    return 0;
}

static int is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int cvb_http_server_new(const struct cvb_http_opts *opts, struct cvb_http_server **out,
                        struct cvb_err *err) {
    static const struct cvb_http_opts none;
    const struct cvb_http_opts *o = opts != NULL ? opts : &none;
    struct cvb_http_server *s = NULL;
    struct sockaddr_storage ss;
    int is_v6 = 0, rc = 0;
    *out = NULL;
    const char *listen = o->listen != NULL ? o->listen : CVB_HTTP_DEFAULT_LISTEN;
    if (strlen(listen) >= sizeof s->listen) {
        rc = cvb_err_set(err, CVB_EINVAL, "listen address '%.64s...': too long", listen);
        goto out;
    }
    rc = parse_listen(listen, &ss, &is_v6, err);
    if (rc < 0) goto out;
    if (o->token != NULL && (o->token[0] == '\0' || strlen(o->token) > CVB_HTTP_TOKEN_MAX)) {
        rc = cvb_err_set(err, CVB_EINVAL, "http server %s: bearer token empty or over %d bytes",
                         listen, CVB_HTTP_TOKEN_MAX);
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "http server %s: out of memory", listen);
        goto out;
    }
    pthread_mutex_init(&s->route_lock, NULL);
    atomic_init(&s->n_routes, 0);
    snprintf(s->listen, sizeof s->listen, "%s", listen);
    s->max_body = o->max_body_bytes ? o->max_body_bytes : CVB_HTTP_DEFAULT_MAX_BODY;
    s->max_resp = o->max_response_bytes ? o->max_response_bytes : CVB_HTTP_DEFAULT_MAX_RESPONSE;
    s->max_depth = o->max_json_depth > 0 ? o->max_json_depth : CVB_HTTP_DEFAULT_MAX_DEPTH;
    if (o->error_style != CVB_HTTP_ERRORS_NESTED && o->error_style != CVB_HTTP_ERRORS_FLAT) {
        rc = cvb_err_set(err, CVB_EINVAL, "http server %s: unknown error_style %d", listen,
                         o->error_style);
        goto out;
    }
    s->flat_errors = o->error_style == CVB_HTTP_ERRORS_FLAT;
    if (o->token != NULL) {
        snprintf(s->token, sizeof s->token, "%s", o->token);
        s->token_len = strlen(s->token);
    }
    unsigned threads = o->threads ? o->threads : CVB_HTTP_DEFAULT_THREADS;
    unsigned max_conns = o->max_connections ? o->max_connections : CVB_HTTP_DEFAULT_MAX_CONNS;
    unsigned timeout_s = o->timeout_s ? o->timeout_s : CVB_HTTP_DEFAULT_TIMEOUT_S;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (is_v6) flags |= MHD_USE_IPv6;
    uint16_t port = is_v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                          : ((struct sockaddr_in *)&ss)->sin_port;
    /* with MHD_OPTION_SOCK_ADDR the port argument only appears in messages */
    s->daemon = MHD_start_daemon(
        flags, ntohs(port), NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT, max_conns,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_END);
    if (s->daemon == NULL) {
        rc = cvb_err_set(err, CVB_EIO, "http server: cannot listen on %s: %s", listen,
                         s->start_msg[0] ? s->start_msg : "libmicrohttpd refused to start");
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info != NULL ? info->port : 0;
    if (!is_loopback(&ss) && s->token_len == 0)
        cvb_log_warn("http server %s: listening beyond loopback without a bearer token: anyone "
                     "who can reach it can submit work", listen);
    *out = s;
    s = NULL;
out:
    if (s != NULL) {
        pthread_mutex_destroy(&s->route_lock);
        free(s);
    }
    return rc;
}

void cvb_http_server_free(struct cvb_http_server *s) {
    if (s == NULL) return;
    if (s->daemon != NULL) MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->route_lock);
    memset(s->token, 0, sizeof s->token);
    free(s);
}

unsigned cvb_http_server_port(const struct cvb_http_server *s) { return s->port; }

/* ---- token file ---------------------------------------------------------------------- */

int cvb_http_load_token(const char *path, char *buf, size_t len, struct cvb_err *err) {
    char tmp[CVB_HTTP_TOKEN_MAX + 3];
    size_t n = 0;
    int rc = 0;
    int fd = -1;
    if (len < CVB_HTTP_TOKEN_MAX + 1)
        return cvb_err_set(err, CVB_EINVAL, "token file %s: buffer too small", path);
    buf[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = cvb_err_set(err, CVB_EIO, "token file %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = cvb_err_set(err, CVB_EINVAL, "token file %s: not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRGRP | S_IROTH))
        cvb_log_warn("token file %s is readable by group or others (mode %03o); chmod 600 it",
                     path, (unsigned)(st.st_mode & 0777));
    for (;;) {
        ssize_t k = read(fd, tmp + n, sizeof tmp - 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = cvb_err_set(err, CVB_EIO, "token file %s: %s", path, strerror(errno));
            goto out;
        }
        if (k == 0 || n + (size_t)k == sizeof tmp - 1) {
            n += (size_t)k;
            break;
        }
        n += (size_t)k;
    }
    if (n > 0 && tmp[n - 1] == '\n') n--;
    if (n > 0 && tmp[n - 1] == '\r') n--;
    if (n == 0) {
        rc = cvb_err_set(err, CVB_EINVAL, "token file %s: empty token", path);
        goto out;
    }
    if (n > CVB_HTTP_TOKEN_MAX) {
        rc = cvb_err_set(err, CVB_ERANGE, "token file %s: token over %d bytes", path,
                         CVB_HTTP_TOKEN_MAX);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)tmp[i] <= 0x20 || (unsigned char)tmp[i] >= 0x7f) {
            rc = cvb_err_set(err, CVB_EINVAL,
                             "token file %s: byte %zu of the token is a space, control or non-ASCII "
                             "character (a token is one line of printable ASCII)",
                             path, i);
            goto out;
        }
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
out:
    if (fd >= 0) close(fd);
    memset(tmp, 0, sizeof tmp);
    return rc;
}
