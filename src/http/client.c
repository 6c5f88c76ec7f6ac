/* SPDX-License-Identifier: Apache-2.0 */
/* Small HTTP client on libcurl for the CLI (`cvbench submit/runs/cancel`)
 * and the tests: one blocking request, a capped response body, errors that
 * name the URL. The only file of src/http that includes curl.h.
 *
 * A fresh easy handle per request: these are a few calls per command, not a
 * hot path, and nothing is shared between threads except the one
 * curl_global_init (pthread_once). */
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
    char line[CVB_HTTP_TOKEN_MAX + 64];
    int rc = 0;
    memset(out, 0, sizeof *out);
    cvb_buf_init(&k.buf, max_resp_bytes);
    k.overflow = 0;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        rc = cvb_err_set(err, CVB_EIO, "%s %s: libcurl init failed: %s", method, url,
                         curl_easy_strerror(curl_init_rc));
        goto out;
    }
    if (token != NULL && strlen(token) > CVB_HTTP_TOKEN_MAX) {
        rc = cvb_err_set(err, CVB_EINVAL, "%s %s: token over %d bytes", method, url,
                         CVB_HTTP_TOKEN_MAX);
        goto out;
    }
    for (int i = 0; headers != NULL && headers[i] != NULL; i++) {
        if (i >= CVB_HTTP_REQ_HEADERS_MAX || strlen(headers[i]) >= CVB_HTTP_REQ_HEADER_MAX ||
            strpbrk(headers[i], "\r\n") != NULL || strchr(headers[i], ':') == NULL) {
            rc = cvb_err_set(err, CVB_EINVAL,
                             "%s %s: extra header %d is not one 'Name: value' line under %d "
                             "bytes (at most %d headers)",
                             method, url, i, CVB_HTTP_REQ_HEADER_MAX, CVB_HTTP_REQ_HEADERS_MAX);
            goto out;
        }
    }
    h = curl_easy_init();
    if (h == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "%s %s: out of memory", method, url);
        goto out;
    }
    if (token != NULL) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, line);
    }
    if (content_type != NULL) {
        snprintf(line, sizeof line, "Content-Type: %s", content_type);
        hdrs = curl_slist_append(hdrs, line);
    }
    for (int i = 0; headers != NULL && headers[i] != NULL; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
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
    if (cc == CURLE_COULDNT_CONNECT) {
        long os_errno = 0;
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
        rc = cvb_err_set(err, CVB_EIO, "cannot reach server %s: %s", url,
                         os_errno ? strerror((int)os_errno) : errbuf);
        goto out;
    }
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = cvb_err_set(err, CVB_EIO, "%s %s: no complete response within %ld ms", method, url,
                         timeout_ms);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = cvb_err_set(err, CVB_EIO, "%s %s: %s", method, url,
                         errbuf[0] ? errbuf : curl_easy_strerror(cc));
        goto out;
    }
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
    memset(line, 0, sizeof line);
    return rc;
}
