/* SPDX-License-Identifier: Apache-2.0 */
/* Small HTTP client on libcurl for the CLI (`cvbench submit/runs/cancel`),
 * the tests and the kserve backend: errors that name the URL, capped
 * response bodies. The only file of src/http that includes curl.h.
 *
 * cvb_http_request*(): a fresh easy handle per request (a few calls per
 * command, not a hot path). cvb_http_conn: one easy handle kept for the
 * connection's life, so libcurl reuses its TCP connection; headers prepared
 * once, the caller's request and response buffers used in place. Nothing
 * is shared between threads except the one curl_global_init
 * (pthread_once). */
#include "http/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct sink {
    struct cvb_buf buf;
    int overflow;
};

static size_t on_data(char *p, size_t size, size_t n, void *user) {
    struct sink *k = user;
    if (cvb_buf_append(&k->buf, p, size * n) < 0) {
        k->overflow = 1;
        return 0; /* curl aborts with CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* Keep the header lines of the last response only: a "100 Continue" or a
 * redirect comes before the final one, and each status line starts over. */
static size_t on_header(char *p, size_t size, size_t n, void *user) {
    struct cvb_http_result *r = user;
    size_t len = size * n;
    size_t used = strlen(r->headers);
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        r->headers[0] = '\0';
        return len; /* the status line itself is not a header */
    }
    if (used + len < sizeof r->headers) {
        memcpy(r->headers + used, p, len);
        r->headers[used + len] = '\0';
    }
    return len;
}

/* The header lines a caller adds: at most CVB_HTTP_REQ_HEADERS_MAX lines
 * "Name: value", each under CVB_HTTP_REQ_HEADER_MAX bytes without CR/LF. */
static int check_headers(const char *const *headers, const char *method, const char *url,
                         struct cvb_err *err) {
    for (int i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (i >= CVB_HTTP_REQ_HEADERS_MAX || strlen(headers[i]) >= CVB_HTTP_REQ_HEADER_MAX ||
            strpbrk(headers[i], "\r\n") != NULL || strchr(headers[i], ':') == NULL)
            return cvb_err_set(err, CVB_EINVAL,
                               "%s %s: extra header %d is not one 'Name: value' line under %d "
                               "bytes (at most %d headers)",
                               method, url, i, CVB_HTTP_REQ_HEADER_MAX, CVB_HTTP_REQ_HEADERS_MAX);
    }
    return 0;
}

/* libcurl's global init (once) and the checks every request starts with. */
static int start_curl(const char *token, const char *const *headers, const char *method,
                      const char *url, struct cvb_err *err) {
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return cvb_err_set(err, CVB_EIO, "%s %s: libcurl init failed: %s", method, url,
                           curl_easy_strerror(curl_init_rc));
    if (token != NULL && strlen(token) > CVB_HTTP_TOKEN_MAX)
        return cvb_err_set(err, CVB_EINVAL, "%s %s: token over %d bytes", method, url,
                           CVB_HTTP_TOKEN_MAX);
    return check_headers(headers, method, url, err);
}

/* Append 'v' to *l; CVB_ENOMEM leaves *l as it was. */
static int add_header(struct curl_slist **l, const char *v) {
    struct curl_slist *n = curl_slist_append(*l, v);
    if (n == NULL) return CVB_ENOMEM;
    *l = n;
    return 0;
}

/* The request headers as a curl list: Authorization from 'token', then
 * 'content_type', then 'headers' (checked by start_curl). *out NULL when
 * there are none. 0 or CVB_ENOMEM. */
static int build_headers(const char *token, const char *content_type,
                         const char *const *headers, struct curl_slist **out) {
    char line[CVB_HTTP_TOKEN_MAX + CVB_HTTP_REQ_HEADER_MAX];
    struct curl_slist *l = NULL;
    int rc = 0;
    if (token != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        rc = add_header(&l, line);
    }
    if (rc == 0 && content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        rc = add_header(&l, line);
    }
    for (int i = 0; rc == 0 && headers != NULL && headers[i] != NULL; i++)
        rc = add_header(&l, headers[i]);
    memset(line, 0, sizeof line);
    if (rc < 0) {
        curl_slist_free_all(l);
        l = NULL;
    }
    *out = l;
    return rc;
}

/* Translate a failed transfer into CVB_EIO naming the URL (0 for CURLE_OK). */
static int transport_error(CURL *h, CURLcode cc, const char *errbuf, const char *method,
                           const char *url, long timeout_ms, struct cvb_err *err) {
    if (cc == CURLE_OK) return 0;
    if (cc == CURLE_COULDNT_CONNECT) {
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        return cvb_err_set(err, CVB_EIO, "cannot reach server %s: %s", url,
                           os_errno ? strerror((int)os_errno) : errbuf);
    }
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return cvb_err_set(err, CVB_EIO, "%s %s: no complete response within %ld ms", method,
                           url, timeout_ms);
    return cvb_err_set(err, CVB_EIO, "%s %s: %s", method, url,
                       errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

const char *cvb_http_result_header(const struct cvb_http_result *r, const char *name, char *buf,
                                   size_t len) {
    size_t nlen = strlen(name);
    for (const char *line = r->headers; *line != '\0';) {
        const char *eol = strstr(line, "\r\n");
        size_t llen = eol ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && line[nlen] == ':' && strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(buf, len, "%.*s", (int)(line + llen - v), v);
            return buf;
        }
        line += llen;
        if (*line != '\0') line += 2;
    }
    return NULL;
}

void cvb_http_result_cleanup(struct cvb_http_result *r) {
    if (r == NULL) return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

int cvb_http_request(const char *method, const char *url, const char *token,
                     const char *content_type, const void *body, size_t len, long timeout_ms,
                     size_t max_resp_bytes, struct cvb_http_result *out, struct cvb_err *err) {
    return cvb_http_request_ex(method, url, token, content_type, NULL, body, len, timeout_ms,
                               max_resp_bytes, out, err);
}

int cvb_http_request_ex(const char *method, const char *url, const char *token,
                        const char *content_type, const char *const *headers, const void *body,
                        size_t len, long timeout_ms, size_t max_resp_bytes,
                        struct cvb_http_result *out, struct cvb_err *err) {
    CURL *h = NULL;
    struct curl_slist *hdrs = NULL;
    struct sink k;
    char errbuf[CURL_ERROR_SIZE] = "";
    int rc = 0;
    memset(out, 0, sizeof *out);
    cvb_buf_init(&k.buf, max_resp_bytes);
    k.overflow = 0;
    rc = start_curl(token, headers, method, url, err);
    if (rc < 0) goto out;
    rc = check_headers(headers, method, url, err);
    if (rc < 0) goto out;
    h = curl_easy_init();
    if (h == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s %s: out of memory", method, url);
        goto out;
    }
    if (build_headers(token, content_type, headers, &hdrs) < 0) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s %s: out of memory", method, url);
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, out);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body == NULL && (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)) {
        body = ""; /* send Content-Length: 0 rather than no length at all */
        len = 0;
    }
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (hdrs != NULL) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

    CURLcode cc = curl_easy_perform(h);
    if (k.overflow) {
        rc = cvb_err_set(err, CVB_ERANGE, "%s %s: response body larger than %zu bytes", method,
                         url, max_resp_bytes);
        goto out;
    }
    rc = transport_error(h, cc, errbuf, method, url, timeout_ms, err);
    if (rc < 0) goto out;
    char *ct = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
        snprintf(out->content_type, sizeof out->content_type, "%s", ct);
    out->body = cvb_buf_take(&k.buf, &out->body_len);
    if (out->body == NULL) rc = cvb_err_set(err, CVB_ENOMEM, "%s %s: out of memory", method, url);
out:
    if (rc < 0) memset(out, 0, sizeof *out);
    cvb_buf_cleanup(&k.buf);
    curl_slist_free_all(hdrs);
    if (h != NULL) curl_easy_cleanup(h);
    return rc;
}

/* ---- persistent connection ------------------------------------------------------ */

struct cvb_http_conn {
    CURL *h;
    struct curl_slist *hdrs;
    char capture[64];             /* header name to record; "" = none */
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    /* the exchange in progress (the callbacks' state) */
    char *resp;
    size_t resp_cap;
    int overflow;
    struct cvb_http_exchange *x;
};

static size_t conn_on_data(char *p, size_t size, size_t n, void *user) {
    struct cvb_http_conn *c = user;
    size_t len = size * n;
    if (len > c->resp_cap - c->x->body_len) {
        c->overflow = 1;
        return 0; /* curl aborts with CURLE_WRITE_ERROR */
    }
    memcpy(c->resp + c->x->body_len, p, len);
    c->x->body_len += len;
    return len;
}

/* Record Content-Type and the captured header of the final response; a
 * status line (a redirect or 1xx before the final one) starts over. */
static size_t conn_on_header(char *p, size_t size, size_t n, void *user) {
    struct cvb_http_conn *c = user;
    struct cvb_http_exchange *x = c->x;
    size_t len = size * n, nlen;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        x->content_type[0] = x->captured[0] = '\0';
        x->has_captured = 0;
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL) return len;
    nlen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    if (nlen == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
        snprintf(x->content_type, sizeof x->content_type, "%.*s", (int)(end - v), v);
    } else if (c->capture[0] != '\0' && nlen == strlen(c->capture) &&
               strncasecmp(p, c->capture, nlen) == 0) {
        snprintf(x->captured, sizeof x->captured, "%.*s", (int)(end - v), v);
        x->has_captured = 1;
    }
    return len;
}

void cvb_http_conn_free(struct cvb_http_conn *c) {
    if (c == NULL) return;
    if (c->h != NULL) curl_easy_cleanup(c->h);
    curl_slist_free_all(c->hdrs);
    free(c);
}

int cvb_http_conn_new(const struct cvb_http_conn_opts *o, struct cvb_http_conn **out,
                      struct cvb_err *err) {
    struct cvb_http_conn *c = NULL;
    const char *const *lines = o->headers;
    int rc = 0;
    *out = NULL;
    rc = start_curl(o->token, lines, "connection", "(new)", err);
    if (rc < 0) goto out;
    if (o->capture != NULL && strlen(o->capture) >= sizeof c->capture) {
        rc = cvb_err_set(err, CVB_EINVAL, "connection: header name '%.64s...' too long",
                         o->capture);
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->h = curl_easy_init()) == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "connection: out of memory");
        goto out;
    }
    if (build_headers(o->token, NULL, lines, &c->hdrs) < 0 ||
        add_header(&c->hdrs, "Expect:") < 0) { /* no 100-continue round trip */
        rc = cvb_err_set(err, CVB_ENOMEM, "connection: out of memory");
        goto out;
    }
    snprintf(c->capture, sizeof c->capture, "%s", o->capture ? o->capture : "");
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 0;
    CURL *h = c->h;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, conn_on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, conn_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->hdrs);
    *out = c;
    c = NULL;
out:
    cvb_http_conn_free(c);
    return rc;
}

static uint64_t info_ns(CURL *h, CURLINFO what) {
    curl_off_t us = 0;
    if (curl_easy_getinfo(h, what, &us) != CURLE_OK || us < 0) return 0;
    return (uint64_t)us * 1000u;
}

int cvb_http_conn_request(struct cvb_http_conn *c, const char *method, const char *url,
                          const void *body, size_t len, void *resp, size_t resp_cap,
                          struct cvb_http_exchange *x, struct cvb_err *err) {
    CURL *h = c->h;
    int rc = 0;
    memset(x, 0, sizeof *x);
    c->resp = resp;
    c->resp_cap = resp_cap;
    c->overflow = 0;
    c->x = x;
    c->errbuf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        /* POST semantics (a body with Content-Length) under the given verb */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body != NULL ? len : 0));
        if (strcmp(method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode cc = curl_easy_perform(h);
    long nc = 0;
    curl_off_t up = 0;
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
    x->new_connects = nc;
    if (curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
        x->sent_bytes = (size_t)up;
    x->connect_ns = info_ns(h, CURLINFO_CONNECT_TIME_T);
    x->first_byte_ns = info_ns(h, CURLINFO_STARTTRANSFER_TIME_T);
    x->total_ns = info_ns(h, CURLINFO_TOTAL_TIME_T);
    if (c->overflow) {
        rc = cvb_err_set(err, CVB_ERANGE, "%s %s: response body larger than %zu bytes", method,
                         url, resp_cap);
        goto out;
    }
    rc = transport_error(h, cc, c->errbuf, method, url, c->timeout_ms, err);
    if (rc < 0) goto out;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
out:
    c->resp = NULL;
    c->x = NULL;
    return rc;
}
