/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the KServe v2 codec's parsers of untrusted bytes
 * (src/kserve). An input is
 *     [R|M|S]<Inference-Header-Content-Length value>\n<body>
 * The first line picks the parser: no letter = the infer request parser
 * (what serve-model runs on every POST .../infer), R = the infer response
 * parser (what the kserve backend runs on every reply), M = the model
 * metadata parser, S = the statistics parser; the rest of the line is the
 * header value (an empty rest = header absent, the body all JSON). An input
 * without a newline is a pure-JSON request body.
 * Contract checked: every input is accepted or refused with CVB_EINVAL /
 * CVB_ERANGE (CVB_EIO for an error reply) and a message; on acceptance
 * every tensor's bytes lie inside the body (binary) or the parser's own
 * buffer (JSON data), are readable in full, match shape x datatype size,
 * and re-encoding the parsed request or response and parsing it again
 * gives the same tensors. A crash, a sanitizer report, a leak or a hang is
 * a finding. Driven by scripts/fuzz.sh --target kserve-request. */
#include "kserve/kserve.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned char sink;

static void check_err(int rc, const struct cvb_err *err, int allow_eio) {
    if (rc != CVB_EINVAL && rc != CVB_ERANGE && !(allow_eio && rc == CVB_EIO)) abort();
    if (err->msg[0] == '\0' || memchr(err->msg, '\0', sizeof err->msg) == NULL) abort();
}

static void check_tensors(const struct cvb_kserve_tensor *t, int n, const uint8_t *body,
                          size_t len) {
    if (n < 1 || n > CVB_KSERVE_MAX_TENSORS) abort();
    for (int i = 0; i < n; i++) {
        uint64_t elems;
        struct cvb_err err = {0};
        if (cvb_kserve_shape_check("t", t[i].dtype, t[i].n_dims, t[i].shape, SIZE_MAX, &elems,
                                   &err) != 0)
            abort();
        size_t esz = cvb_kserve_dtype_size(t[i].dtype);
        if (esz != 0 && t[i].n_bytes != elems * esz) abort();
        const uint8_t *p = t[i].data;
        if (t[i].binary && t[i].n_bytes > 0 && (p < body || p + t[i].n_bytes > body + len))
            abort();
        for (size_t k = 0; k < t[i].n_bytes; k++) /* ASan checks every byte is readable */
            sink ^= p[k];
    }
}

static int same(const struct cvb_kserve_tensor *a, const struct cvb_kserve_tensor *b, int n) {
    for (int i = 0; i < n; i++) {
        if (strcmp(a[i].name, b[i].name) || a[i].dtype != b[i].dtype ||
            a[i].n_dims != b[i].n_dims || a[i].n_bytes != b[i].n_bytes ||
            memcmp(a[i].shape, b[i].shape, sizeof a[i].shape[0] * (size_t)a[i].n_dims))
            return 0;
        if (a[i].n_bytes && memcmp(a[i].data, b[i].data, a[i].n_bytes)) return 0;
    }
    return 1;
}

static void request(const uint8_t *body, size_t len, const char *hv) {
    struct cvb_kserve_request r, r2;
    struct cvb_err err = {0};
    int rc = cvb_kserve_request_parse(body, len, hv, NULL, &r, &err);
    if (rc < 0) {
        check_err(rc, &err, 0);
        if (r.owned_ != NULL || r.n_inputs != 0) abort();
        return;
    }
    check_tensors(r.inputs, r.n_inputs, body, len);
    if (r.n_outputs < 0 || r.n_outputs > CVB_KSERVE_MAX_TENSORS) abort();
    struct cvb_buf b;
    cvb_buf_init(&b, (size_t)256 << 20);
    size_t hlen = 0;
    if (cvb_kserve_request_encode(&r, &b, &hlen, &err) != 0) abort();
    char h[32];
    snprintf(h, sizeof h, "%zu", hlen);
    if (cvb_kserve_request_parse(b.data, b.len, h, NULL, &r2, &err) != 0) {
        fprintf(stderr, "re-encoded request refused: %s\n", err.msg);
        abort();
    }
    if (r2.n_inputs != r.n_inputs || !same(r.inputs, r2.inputs, r.n_inputs) ||
        r2.n_outputs != r.n_outputs || strcmp(r.id, r2.id))
        abort();
    for (int i = 0; i < r.n_outputs; i++)
        if (strcmp(r.outputs[i].name, r2.outputs[i].name) ||
            r.outputs[i].binary != r2.outputs[i].binary)
            abort();
    cvb_kserve_request_cleanup(&r2);
    cvb_kserve_request_cleanup(&r);
    cvb_buf_cleanup(&b);
}

static void response(const uint8_t *body, size_t len, const char *hv) {
    struct cvb_kserve_response r, r2;
    struct cvb_err err = {0};
    int rc = cvb_kserve_response_parse(body, len, hv, NULL, &r, &err);
    if (rc < 0) {
        check_err(rc, &err, 1);
        if (r.owned_ != NULL || r.n_outputs != 0) abort();
        return;
    }
    check_tensors(r.outputs, r.n_outputs, body, len);
    struct cvb_buf b;
    cvb_buf_init(&b, (size_t)256 << 20);
    size_t hlen = 0;
    if (cvb_kserve_response_encode(&r, &b, &hlen, &err) != 0) abort();
    char h[32];
    snprintf(h, sizeof h, "%zu", hlen);
    if (cvb_kserve_response_parse(b.data, b.len, h, NULL, &r2, &err) != 0) {
        fprintf(stderr, "re-encoded response refused: %s\n", err.msg);
        abort();
    }
    if (r2.n_outputs != r.n_outputs || !same(r.outputs, r2.outputs, r.n_outputs) ||
        strcmp(r.model_name, r2.model_name) || strcmp(r.id, r2.id))
        abort();
    cvb_kserve_response_cleanup(&r2);
    cvb_kserve_response_cleanup(&r);
    cvb_buf_cleanup(&b);
}

static void metadata(const uint8_t *body, size_t len) {
    static struct cvb_kserve_model_meta m, m2;
    struct cvb_err err = {0};
    int rc = cvb_kserve_model_meta_parse(body, len, &m, &err);
    if (rc < 0) {
        check_err(rc, &err, 0);
        return;
    }
    struct cvb_buf b;
    cvb_buf_init(&b, 1 << 20);
    if (cvb_kserve_model_meta_encode(&m, &b, &err) != 0) abort();
    if (cvb_kserve_model_meta_parse(b.data, b.len, &m2, &err) != 0) abort();
    if (memcmp(&m, &m2, sizeof m) != 0) abort();
    cvb_buf_cleanup(&b);
}

static void stats(const uint8_t *body, size_t len) {
    static struct cvb_kserve_model_stats s;
    struct cvb_err err = {0};
    int rc = cvb_kserve_stats_parse(body, len, &s, &err);
    if (rc < 0) check_err(rc, &err, 0);
    else if (s.n_batch < 0 || s.n_batch > CVB_KSERVE_MAX_BATCH_STATS) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size < 40 ? size : 40);
    char line[41], kind = 0;
    if (nl == NULL) {
        request(data, size, NULL);
        return 0;
    }
    size_t n = (size_t)(nl - data), off = 0;
    if (n > 0 && (data[0] == 'R' || data[0] == 'M' || data[0] == 'S')) {
        kind = (char)data[0];
        off = 1;
    }
    memcpy(line, data + off, n - off);
    line[n - off] = '\0';
    if (memchr(line, '\0', n - off) != NULL) return 0; /* an HTTP header value holds no NUL */
    const uint8_t *body = nl + 1;
    size_t len = size - n - 1;
    /* the body gets its own allocation so ASan sees reads past its end */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) abort();
    if (len) memcpy(copy, body, len);
    const char *hv = line[0] ? line : NULL;
    switch (kind) {
    case 'R': response(copy, len, hv); break;
    case 'M': metadata(copy, len); break;
    case 'S': stats(copy, len); break;
    default: request(copy, len, hv); break;
    }
    free(copy);
    return 0;
}
