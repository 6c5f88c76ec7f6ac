/* SPDX-License-Identifier: Apache-2.0 */
/* The KServe v2 codec (src/kserve): request and response round trips in
 * both tensor encodings (uint8 [1,320,320,3] and fp32 [1,3,320,320]), every
 * malformed request the parser must refuse with a message naming the input,
 * and golden JSON text for each encoder, checked against the field names of
 * the Open Inference Protocol and Triton's extensions. */
#include "kserve/kserve.h"
#include "test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------------- */

static void set_tensor(struct cvb_kserve_tensor *t, const char *name, enum cvb_kserve_dtype dt,
                       int n_dims, const int64_t *shape, const void *data, size_t n_bytes,
                       int binary) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dt;
    t->n_dims = n_dims;
    memcpy(t->shape, shape, (size_t)n_dims * sizeof *shape);
    t->data = data;
    t->n_bytes = n_bytes;
    t->binary = binary;
}

static int tensor_eq(const struct cvb_kserve_tensor *a, const struct cvb_kserve_tensor *b) {
    if (strcmp(a->name, b->name) || a->dtype != b->dtype || a->n_dims != b->n_dims ||
        a->n_bytes != b->n_bytes)
        return 0;
    for (int i = 0; i < a->n_dims; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return a->n_bytes == 0 || memcmp(a->data, b->data, a->n_bytes) == 0;
}

/* Parse 'json' (pure JSON) and expect failure 'code' with 'needle' in the message. */
static void refuse(const char *json, const char *hlen, int code, const char *needle) {
    struct cvb_kserve_request r;
    struct cvb_err err = {0};
    int rc = cvb_kserve_request_parse(json, strlen(json), hlen, NULL, &r, &err);
    CHECK_EQ_INT(rc, code);
    if (strstr(err.msg, needle) == NULL) {
        test_failures++;
        fprintf(stderr, "%s: message '%s' lacks '%s' (body %.80s)\n", test_current, err.msg,
                needle, json);
    }
    CHECK(r.n_inputs == 0 && r.owned_ == NULL);
}

/* ---- round trips ------------------------------------------------------------------ */

static void roundtrip_request(enum cvb_kserve_dtype dt, const int64_t *shape, int binary) {
    uint64_t n = 1;
    for (int i = 0; i < 4; i++)
        n *= (uint64_t)shape[i];
    size_t esz = cvb_kserve_dtype_size(dt), bytes = n * esz;
    unsigned char *data = malloc(bytes);
    for (uint64_t i = 0; i < n; i++) {
        if (dt == CVB_KSERVE_UINT8) {
            data[i] = (unsigned char)(i * 7 + 3);
        } else {
            float f = (float)((double)(i % 1000) / 997.0 - 0.25);
            memcpy(data + i * 4, &f, 4);
        }
    }
    struct cvb_kserve_request q = {0}, p;
    snprintf(q.id, sizeof q.id, "req-1");
    q.n_inputs = 1;
    set_tensor(&q.inputs[0], "images", dt, 4, shape, data, bytes, binary);
    q.n_outputs = 1;
    snprintf(q.outputs[0].name, sizeof q.outputs[0].name, "output0");
    q.outputs[0].binary = binary;
    struct cvb_buf b;
    cvb_buf_init(&b, (size_t)64 << 20);
    size_t hlen = 0;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_kserve_request_encode(&q, &b, &hlen, &err), 0);
    if (binary) CHECK_EQ_INT(b.len, hlen + bytes);
    else CHECK_EQ_INT(b.len, hlen);
    char hv[32];
    snprintf(hv, sizeof hv, "%zu", hlen);
    int rc = cvb_kserve_request_parse(b.data, b.len, binary ? hv : NULL, NULL, &p, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK(strcmp(p.id, "req-1") == 0);
        CHECK_EQ_INT(p.n_inputs, 1);
        CHECK(tensor_eq(&q.inputs[0], &p.inputs[0]));
        CHECK_EQ_INT(p.inputs[0].binary, binary);
        if (binary) /* zero copy: the tensor points into the body */
            CHECK(p.inputs[0].data == (const void *)(b.data + hlen));
        else
            CHECK(p.owned_ != NULL && p.inputs[0].data == p.owned_);
        CHECK_EQ_INT(p.n_outputs, 1);
        CHECK(strcmp(p.outputs[0].name, "output0") == 0 && p.outputs[0].binary == binary);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    cvb_kserve_request_cleanup(&p);
    cvb_buf_cleanup(&b);
    free(data);
}

static void test_request_roundtrip_uint8_nhwc(void) {
    static const int64_t shape[4] = {1, 320, 320, 3};
    roundtrip_request(CVB_KSERVE_UINT8, shape, 1);
    roundtrip_request(CVB_KSERVE_UINT8, shape, 0);
}

static void test_request_roundtrip_fp32_nchw(void) {
    static const int64_t shape[4] = {1, 3, 320, 320};
    roundtrip_request(CVB_KSERVE_FP32, shape, 1);
    roundtrip_request(CVB_KSERVE_FP32, shape, 0);
}

/* Every fixed-size datatype through JSON and binary, mixed in one request. */
static void test_request_all_dtypes(void) {
    static const int64_t sh[1] = {3};
    unsigned char raw[CVB_KSERVE_DTYPE_COUNT][24];
    struct cvb_kserve_request q = {0}, p;
    int n = 0;
    for (int d = 0; d < CVB_KSERVE_DTYPE_COUNT; d++) {
        if (d == CVB_KSERVE_BYTES) continue;
        size_t esz = cvb_kserve_dtype_size((enum cvb_kserve_dtype)d);
        for (int i = 0; i < 3; i++) {
            if (d == CVB_KSERVE_FP16) {
                uint16_t h = cvb_kserve_f32_to_f16(1.5f * (float)(i - 1));
                memcpy(raw[d] + i * 2, &h, 2);
            } else if (d == CVB_KSERVE_FP32) {
                float f = 0.1f * (float)i - 1e30f;
                memcpy(raw[d] + i * 4, &f, 4);
            } else if (d == CVB_KSERVE_FP64) {
                double f = 0.1 * i + 1e300;
                memcpy(raw[d] + i * 8, &f, 8);
            } else if (d == CVB_KSERVE_BOOL) {
                raw[d][i] = (unsigned char)(i & 1);
            } else {
                memset(raw[d] + i * esz, i == 2 ? 0x7f : i * 0x11, esz); /* maxima, signed too */
            }
        }
        char name[16];
        snprintf(name, sizeof name, "t%d", d);
        set_tensor(&q.inputs[n], name, (enum cvb_kserve_dtype)d, 1, sh, raw[d], 3 * esz, d & 1);
        n++;
    }
    q.n_inputs = n;
    struct cvb_buf b;
    cvb_buf_init(&b, 1 << 20);
    size_t hlen;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_kserve_request_encode(&q, &b, &hlen, &err), 0);
    char hv[32];
    snprintf(hv, sizeof hv, "%zu", hlen);
    int rc = cvb_kserve_request_parse(b.data, b.len, hv, NULL, &p, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc < 0) fprintf(stderr, "  %s\n%s\n", err.msg, b.data);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (!tensor_eq(&q.inputs[i], &p.inputs[i])) {
            test_failures++;
            fprintf(stderr, "  input %s differs after the round trip\n", q.inputs[i].name);
        }
    }
    cvb_kserve_request_cleanup(&p);
    cvb_buf_cleanup(&b);
}

static void test_response_roundtrip(void) {
    static const int64_t sh[3] = {1, 84, 2100};
    size_t n = 84 * 2100;
    float *v = malloc(n * 4);
    for (size_t i = 0; i < n; i++)
        v[i] = (float)i * 0.5f - 7.0f;
    for (int binary = 0; binary < 2; binary++) {
        struct cvb_kserve_response r = {0}, p;
        snprintf(r.model_name, sizeof r.model_name, "yolov8n");
        snprintf(r.model_version, sizeof r.model_version, "1");
        snprintf(r.id, sizeof r.id, "42");
        r.n_outputs = 1;
        set_tensor(&r.outputs[0], "output0", CVB_KSERVE_FP32, 3, sh, v, n * 4, binary);
        struct cvb_buf b;
        cvb_buf_init(&b, 16 << 20);
        size_t hlen;
        struct cvb_err err = {0};
        CHECK_EQ_INT(cvb_kserve_response_encode(&r, &b, &hlen, &err), 0);
        char hv[32];
        snprintf(hv, sizeof hv, "%zu", hlen);
        int rc = cvb_kserve_response_parse(b.data, b.len, binary ? hv : NULL, NULL, &p, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc == 0) {
            CHECK(strcmp(p.model_name, "yolov8n") == 0 && strcmp(p.model_version, "1") == 0);
            CHECK(strcmp(p.id, "42") == 0);
            CHECK(tensor_eq(&r.outputs[0], &p.outputs[0]));
        }
        cvb_kserve_response_cleanup(&p);
        cvb_buf_cleanup(&b);
    }
    free(v);
    /* a KServe error reply */
    struct cvb_kserve_response p;
    struct cvb_err err = {0};
    const char *e = "{\"error\":\"unknown model 'x'\"}";
    CHECK_EQ_INT(cvb_kserve_response_parse(e, strlen(e), NULL, NULL, &p, &err), CVB_EIO);
    CHECK(strstr(err.msg, "unknown model 'x'") != NULL);
}

/* Nested JSON data, BOOL, FP16, caller scratch, and a BYTES tensor binary. */
static void test_request_json_forms(void) {
    const char *j = "{\"inputs\":[{\"name\":\"a\",\"datatype\":\"INT16\",\"shape\":[2,2],"
                    "\"data\":[[1,-2],[3,32767]]},{\"name\":\"b\",\"datatype\":\"FP16\","
                    "\"shape\":[2],\"data\":[0.5,-65504]},{\"name\":\"c\",\"datatype\":\"BOOL\","
                    "\"shape\":[],\"data\":[true]}],\"outputs\":[{\"name\":\"o\"}],"
                    "\"parameters\":{\"binary_data_output\":true}}";
    struct cvb_kserve_request p;
    struct cvb_err err = {0};
    _Alignas(8) unsigned char scratch[64];
    struct cvb_kserve_limits lim = {.scratch = scratch, .scratch_bytes = sizeof scratch};
    int rc = cvb_kserve_request_parse(j, strlen(j), NULL, &lim, &p, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        int16_t a[4];
        memcpy(a, p.inputs[0].data, 8);
        CHECK(a[0] == 1 && a[1] == -2 && a[2] == 3 && a[3] == 32767);
        uint16_t h[2];
        memcpy(h, p.inputs[1].data, 4);
        CHECK(cvb_kserve_f16_to_f32(h[0]) == 0.5f && cvb_kserve_f16_to_f32(h[1]) == -65504.0f);
        CHECK(p.inputs[2].n_dims == 0 && p.inputs[2].n_bytes == 1 &&
              *(const unsigned char *)p.inputs[2].data == 1);
        CHECK(p.owned_ == NULL && (const unsigned char *)p.inputs[0].data >= scratch &&
              (const unsigned char *)p.inputs[0].data < scratch + sizeof scratch);
        CHECK(p.binary_outputs && p.outputs[0].binary); /* the request-wide default */
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    cvb_kserve_request_cleanup(&p);
    lim.scratch_bytes = 8; /* too small for the three tensors */
    CHECK_EQ_INT(cvb_kserve_request_parse(j, strlen(j), NULL, &lim, &p, &err), CVB_ERANGE);

    /* BYTES, binary: two elements "hi" and "" */
    const char hdr[] = "{\"inputs\":[{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[2],"
                       "\"parameters\":{\"binary_data_size\":10}}]}";
    unsigned char body[sizeof hdr - 1 + 10];
    memcpy(body, hdr, sizeof hdr - 1);
    memcpy(body + sizeof hdr - 1, "\x02\0\0\0hi\0\0\0\0", 10);
    char hv[16];
    snprintf(hv, sizeof hv, "%zu", sizeof hdr - 1);
    CHECK_EQ_INT(cvb_kserve_request_parse(body, sizeof body, hv, NULL, &p, &err), 0);
    cvb_kserve_request_cleanup(&p);
    body[sizeof hdr - 1] = 9; /* first element claims 9 bytes */
    CHECK_EQ_INT(cvb_kserve_request_parse(body, sizeof body, hv, NULL, &p, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 's'") != NULL);
}

/* ---- malformed requests ----------------------------------------------------------- */

#define IN(fields) "{\"inputs\":[{\"name\":\"images\"," fields "}]}"

static void test_refuse_malformed(void) {
    refuse("", NULL, CVB_EINVAL, "empty");
    refuse("{\"inputs\":[", NULL, CVB_EINVAL, "malformed JSON");
    refuse("[1,2]", NULL, CVB_EINVAL, "must be an object");
    char deep[200];
    memset(deep, '[', 40);
    snprintf(deep + 40, sizeof deep - 40, "1");
    memset(deep + 41, ']', 40);
    deep[81] = '\0';
    refuse(deep, NULL, CVB_EINVAL, "nested deeper than 32");
    refuse("{}", NULL, CVB_EINVAL, "\"inputs\" missing");
    refuse("{\"inputs\":[]}", NULL, CVB_EINVAL, "0 tensors");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1]"), NULL, CVB_EINVAL,
           "input 'images': neither \"data\" nor binary_data_size");
    refuse(IN("\"datatype\":\"FLOAT\",\"shape\":[1],\"data\":[1]"), NULL, CVB_EINVAL,
           "input 'images': unknown datatype 'FLOAT'");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[1,-3],\"data\":[1]"), NULL, CVB_EINVAL,
           "input 'images': shape dim 1 is -3");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[1,2.5],\"data\":[1]"), NULL, CVB_EINVAL,
           "shape dim 1 is not an integer");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data\":[1]"), NULL,
           CVB_EINVAL, "9 dims");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[4294967296,4294967296,16],\"data\":[1]"), NULL,
           CVB_ERANGE, "overflows");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1073741824,1024],\"data\":[1]"), NULL, CVB_ERANGE,
           "tensor limit");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[2,2],\"data\":[1,2,3]"), NULL, CVB_EINVAL,
           "input 'images': shape holds 4 elements but \"data\" has 3 values");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[2],\"data\":[1,2,3]"), NULL, CVB_EINVAL,
           "more than 2 values");
    refuse(IN("\"datatype\":\"UINT8\",\"shape\":[2],\"data\":[1,256]"), NULL, CVB_ERANGE,
           "input 'images': data[1] = 256 is out of UINT8 range");
    refuse(IN("\"datatype\":\"INT8\",\"shape\":[1],\"data\":[-129]"), NULL, CVB_ERANGE,
           "out of INT8 range");
    refuse(IN("\"datatype\":\"UINT32\",\"shape\":[1],\"data\":[-1]"), NULL, CVB_ERANGE,
           "out of UINT32 range");
    refuse(IN("\"datatype\":\"FP16\",\"shape\":[1],\"data\":[70000]"), NULL, CVB_ERANGE,
           "out of FP16 range");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1e39]"), NULL, CVB_ERANGE,
           "out of FP32 range");
    refuse(IN("\"datatype\":\"INT32\",\"shape\":[1],\"data\":[1.5]"), NULL, CVB_EINVAL,
           "data[0] is not an integer");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1],\"data\":[\"1\"]"), NULL, CVB_EINVAL,
           "not a number");
    refuse(IN("\"datatype\":\"BOOL\",\"shape\":[1],\"data\":[1]"), NULL, CVB_EINVAL,
           "not true or false");
    refuse(IN("\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"x\"]"), NULL, CVB_EINVAL,
           "not supported");
    refuse("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]},"
           "{\"name\":\"a\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]}]}",
           NULL, CVB_EINVAL, "input 'a': name given twice");
    refuse("{\"inputs\":[{\"name\":\"a\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]}],"
           "\"outputs\":[{\"name\":\"o\"},{\"name\":\"o\"}]}",
           NULL, CVB_EINVAL, "output 'o': requested twice");
    refuse("{\"inputs\":[{\"name\":\"\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]}]}",
           NULL, CVB_EINVAL, "\"name\" is empty");
    refuse("{\"inputs\":[{\"name\":\"a\\u0001\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]}]}",
           NULL, CVB_EINVAL, "control character");
    /* 17 inputs */
    char many[2048] = "{\"inputs\":[";
    for (int i = 0; i < 17; i++) {
        char one[96];
        snprintf(one, sizeof one, "%s{\"name\":\"i%d\",\"datatype\":\"UINT8\",\"shape\":[1],\"data\":[1]}",
                 i ? "," : "", i);
        strcat(many, one);
    }
    strcat(many, "]}");
    refuse(many, NULL, CVB_EINVAL, "17 tensors; expected 1 to 16");
}

static void test_refuse_binary(void) {
    const char *j = IN("\"datatype\":\"UINT8\",\"shape\":[4],\"parameters\":{\"binary_data_size\":4}");
    size_t jl = strlen(j);
    char body[512];
    memcpy(body, j, jl);
    memcpy(body + jl, "abcd", 4);
    char hv[32];
    struct cvb_kserve_request p;
    struct cvb_err err = {0};
    snprintf(hv, sizeof hv, "%zu", jl);
    CHECK_EQ_INT(cvb_kserve_request_parse(body, jl + 4, hv, NULL, &p, &err), 0);
    CHECK(p.inputs[0].binary && memcmp(p.inputs[0].data, "abcd", 4) == 0);
    cvb_kserve_request_cleanup(&p);
    /* header length past the body */
    snprintf(hv, sizeof hv, "%zu", jl + 5);
    CHECK_EQ_INT(cvb_kserve_request_parse(body, jl + 4, hv, NULL, &p, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "is more than the") != NULL);
    /* not a number, empty, zero, signed */
    const char *bad[] = {"12a", "", "0", "-5", "+5", " 5", "99999999999999999999999"};
    for (size_t i = 0; i < CVB_ARRAY_LEN(bad); i++) {
        int rc = cvb_kserve_request_parse(body, jl + 4, bad[i], NULL, &p, &err);
        CHECK(rc == CVB_EINVAL || rc == CVB_ERANGE);
        CHECK(strstr(err.msg, CVB_KSERVE_HEADER_LEN) != NULL);
    }
    /* binary sizes do not sum to the bytes after the header */
    snprintf(hv, sizeof hv, "%zu", jl);
    CHECK_EQ_INT(cvb_kserve_request_parse(body, jl + 3, hv, NULL, &p, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 'images': binary_data_size 4 passes the end") != NULL);
    memcpy(body + jl + 4, "e", 1);
    CHECK_EQ_INT(cvb_kserve_request_parse(body, jl + 5, hv, NULL, &p, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "sums to 4 bytes but 5 follow") != NULL);
    /* binary data without the header: the JSON is followed by garbage */
    CHECK_EQ_INT(cvb_kserve_request_parse(body, jl + 4, NULL, NULL, &p, &err), CVB_EINVAL);
    /* binary size that does not match the shape */
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[4],\"parameters\":{\"binary_data_size\":4}"), NULL,
           CVB_EINVAL, "input 'images': binary_data_size 4 does not match shape x FP32 (4 x 4 = 16");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1],\"parameters\":{\"binary_data_size\":4}"),
           NULL, CVB_EINVAL, "both");
    refuse(IN("\"datatype\":\"FP32\",\"shape\":[1],\"parameters\":{\"binary_data_size\":-4}"), NULL,
           CVB_EINVAL, "integer >= 0");
}

/* ---- golden JSON ------------------------------------------------------------------ */

static void expect_text(struct cvb_buf *b, const char *want) {
    if (b->data == NULL || strcmp(b->data, want) != 0) {
        test_failures++;
        fprintf(stderr, "%s: got\n  %s\nwant\n  %s\n", test_current, b->data ? b->data : "(null)",
                want);
    }
    test_checks++;
    cvb_buf_cleanup(b);
    cvb_buf_init(b, 1 << 20);
}

static void test_golden(void) {
    struct cvb_buf b;
    struct cvb_err err = {0};
    size_t hlen;
    cvb_buf_init(&b, 1 << 20);

    static const uint8_t px[4] = {0, 1, 254, 255};
    static const int64_t sh[2] = {2, 2};
    struct cvb_kserve_request q = {0};
    snprintf(q.id, sizeof q.id, "7");
    q.n_inputs = 1;
    set_tensor(&q.inputs[0], "images", CVB_KSERVE_UINT8, 2, sh, px, 4, 0);
    q.n_outputs = 1;
    snprintf(q.outputs[0].name, sizeof q.outputs[0].name, "output0");
    q.outputs[0].binary = 1;
    CHECK_EQ_INT(cvb_kserve_request_encode(&q, &b, &hlen, &err), 0);
    expect_text(&b, "{\"id\":\"7\",\"parameters\":{\"binary_data_output\":false},\"inputs\":[{\"name\":"
                    "\"images\",\"datatype\":\"UINT8\",\"shape\":[2,2],\"data\":[0,1,254,255]}],"
                    "\"outputs\":[{\"name\":\"output0\",\"parameters\":{\"binary_data\":true}}]}");
    q.inputs[0].binary = 1;
    CHECK_EQ_INT(cvb_kserve_request_encode(&q, &b, &hlen, &err), 0);
    CHECK_EQ_INT(b.len, hlen + 4);
    CHECK(memcmp(b.data + hlen, px, 4) == 0);
    b.data[hlen] = '\0';
    b.len = hlen;
    expect_text(&b, "{\"id\":\"7\",\"parameters\":{\"binary_data_output\":false},\"inputs\":[{\"name\":"
                    "\"images\",\"datatype\":\"UINT8\",\"shape\":[2,2],\"parameters\":"
                    "{\"binary_data_size\":4}}],\"outputs\":[{\"name\":\"output0\",\"parameters\":"
                    "{\"binary_data\":true}}]}");

    static const float f[2] = {0.5f, -1.25f};
    static const int64_t sh1[2] = {1, 2};
    struct cvb_kserve_response r = {0};
    snprintf(r.model_name, sizeof r.model_name, "m\"q");
    snprintf(r.model_version, sizeof r.model_version, "1");
    r.n_outputs = 1;
    set_tensor(&r.outputs[0], "output0", CVB_KSERVE_FP32, 2, sh1, f, 8, 0);
    CHECK_EQ_INT(cvb_kserve_response_encode(&r, &b, &hlen, &err), 0);
    expect_text(&b, "{\"model_name\":\"m\\\"q\",\"model_version\":\"1\",\"outputs\":[{\"name\":"
                    "\"output0\",\"datatype\":\"FP32\",\"shape\":[1,2],\"data\":[0.5,-1.25]}]}");
    /* whole and negative-zero values stay JSON reals: "-0" would read back as +0 */
    static const float whole[2] = {-0.0f, 3.0f};
    r.outputs[0].data = whole;
    CHECK_EQ_INT(cvb_kserve_response_encode(&r, &b, &hlen, &err), 0);
    CHECK(strstr(b.data, "\"data\":[-0.0,3.0]") != NULL);
    expect_text(&b, b.data ? b.data : "");
    float nan = 0.0f / 0.0f;
    r.outputs[0].data = &nan;
    r.outputs[0].n_bytes = 4;
    r.outputs[0].shape[1] = 1;
    CHECK_EQ_INT(cvb_kserve_response_encode(&r, &b, &hlen, &err), CVB_ERANGE);
    CHECK_EQ_INT(b.len, 0); /* left as it was */
    expect_text(&b, "");

    CHECK_EQ_INT(cvb_kserve_error_encode("bad \"shape\"", &b), 0);
    expect_text(&b, "{\"error\":\"bad \\\"shape\\\"\"}");

    struct cvb_kserve_server_meta sm = {"cvbench", "0.9", 3,
                                        {"binary_tensor_data", "statistics", "model_configuration"}};
    CHECK_EQ_INT(cvb_kserve_server_meta_encode(&sm, &b, &err), 0);
    expect_text(&b, "{\"name\":\"cvbench\",\"version\":\"0.9\",\"extensions\":[\"binary_tensor_data\","
                    "\"statistics\",\"model_configuration\"]}");

    struct cvb_kserve_model_meta mm = {0};
    snprintf(mm.name, sizeof mm.name, "yolov8n");
    mm.n_versions = 1;
    snprintf(mm.versions[0], sizeof mm.versions[0], "1");
    snprintf(mm.platform, sizeof mm.platform, "onnxruntime_onnx");
    mm.n_inputs = 1;
    mm.inputs[0] = (struct cvb_kserve_tensor_meta){"images", CVB_KSERVE_UINT8, 4, {-1, 320, 320, 3}};
    mm.n_outputs = 1;
    mm.outputs[0] = (struct cvb_kserve_tensor_meta){"output0", CVB_KSERVE_FP32, 3, {-1, 84, 2100}};
    CHECK_EQ_INT(cvb_kserve_model_meta_encode(&mm, &b, &err), 0);
    const char *mm_text = "{\"name\":\"yolov8n\",\"versions\":[\"1\"],\"platform\":\"onnxruntime_onnx\","
                          "\"inputs\":[{\"name\":\"images\",\"datatype\":\"UINT8\",\"shape\":"
                          "[-1,320,320,3]}],\"outputs\":[{\"name\":\"output0\",\"datatype\":\"FP32\","
                          "\"shape\":[-1,84,2100]}]}";
    struct cvb_kserve_model_meta back;
    CHECK_EQ_INT(cvb_kserve_model_meta_parse(b.data, b.len, &back, &err), 0);
    CHECK(memcmp(&back, &mm, sizeof mm) == 0);
    expect_text(&b, mm_text);
    const char *bad_meta = "{\"name\":\"m\",\"inputs\":[{\"name\":\"x\",\"datatype\":\"FP32\",\"shape\":[-2]}],\"outputs\":[]}";
    CHECK_EQ_INT(cvb_kserve_model_meta_parse(bad_meta, strlen(bad_meta), &back, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "inputs 'x': shape dim 0 is -2") != NULL);

    struct cvb_kserve_model_config mc = {.name = "yolov8n", .platform = "onnxruntime_onnx",
                                         .max_batch_size = 32, .n_inputs = 1, .n_outputs = 1,
                                         .dynamic_batching = 1, .max_queue_delay_us = 2000,
                                         .n_preferred = 2, .preferred_batch_sizes = {8, 32},
                                         .instance_count = 2};
    mc.inputs[0] = (struct cvb_kserve_tensor_meta){"images", CVB_KSERVE_UINT8, 3, {320, 320, 3}};
    mc.outputs[0] = (struct cvb_kserve_tensor_meta){"output0", CVB_KSERVE_FP32, 2, {84, 2100}};
    CHECK_EQ_INT(cvb_kserve_model_config_encode(&mc, &b, &err), 0);
    expect_text(&b, "{\"name\":\"yolov8n\",\"platform\":\"onnxruntime_onnx\",\"max_batch_size\":32,"
                    "\"input\":[{\"name\":\"images\",\"data_type\":\"TYPE_UINT8\",\"format\":"
                    "\"FORMAT_NONE\",\"dims\":[320,320,3]}],\"output\":[{\"name\":\"output0\","
                    "\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\",\"dims\":[84,2100]}],"
                    "\"dynamic_batching\":{\"preferred_batch_size\":[8,32],"
                    "\"max_queue_delay_microseconds\":2000},\"instance_group\":[{\"count\":2,"
                    "\"kind\":\"KIND_CPU\"}]}");

    struct cvb_kserve_model_stats st = {0}, sb;
    snprintf(st.name, sizeof st.name, "yolov8n");
    snprintf(st.version, sizeof st.version, "1");
    st.last_inference_ms = 1765000000000ull;
    st.inference_count = 10;
    st.execution_count = 3;
    st.success = (struct cvb_kserve_stat){10, 5000};
    st.queue = (struct cvb_kserve_stat){10, 100};
    st.compute_infer = (struct cvb_kserve_stat){3, 4000};
    st.n_batch = 1;
    st.batch[0].batch_size = 4;
    st.batch[0].compute_infer = (struct cvb_kserve_stat){2, 3000};
    CHECK_EQ_INT(cvb_kserve_stats_encode(&st, 1, &b, &err), 0);
    CHECK_EQ_INT(cvb_kserve_stats_parse(b.data, b.len, &sb, &err), 0);
    CHECK(memcmp(&sb, &st, sizeof st) == 0);
    expect_text(&b, "{\"model_stats\":[{\"name\":\"yolov8n\",\"version\":\"1\",\"last_inference\":"
                    "1765000000000,\"inference_count\":10,\"execution_count\":3,\"inference_stats\":"
                    "{\"success\":{\"count\":10,\"ns\":5000},\"fail\":{\"count\":0,\"ns\":0},\"queue\":"
                    "{\"count\":10,\"ns\":100},\"compute_input\":{\"count\":0,\"ns\":0},"
                    "\"compute_infer\":{\"count\":3,\"ns\":4000},\"compute_output\":{\"count\":0,"
                    "\"ns\":0},\"cache_hit\":{\"count\":0,\"ns\":0},\"cache_miss\":{\"count\":0,"
                    "\"ns\":0}},\"batch_stats\":[{\"batch_size\":4,\"compute_input\":{\"count\":0,"
                    "\"ns\":0},\"compute_infer\":{\"count\":2,\"ns\":3000},\"compute_output\":"
                    "{\"count\":0,\"ns\":0}}]}]}");
    cvb_buf_cleanup(&b);
}

static void test_dtypes(void) {
    enum cvb_kserve_dtype d;
    CHECK(cvb_kserve_dtype_parse("FP32", 0, &d) == 0 && d == CVB_KSERVE_FP32);
    CHECK(cvb_kserve_dtype_parse("TYPE_UINT8", 0, &d) == CVB_EINVAL);
    CHECK(cvb_kserve_dtype_parse("TYPE_UINT8", 1, &d) == 0 && d == CVB_KSERVE_UINT8);
    CHECK(cvb_kserve_dtype_parse("TYPE_STRING", 1, &d) == 0 && d == CVB_KSERVE_BYTES);
    CHECK(cvb_kserve_dtype_parse("fp32", 0, &d) == CVB_EINVAL);
    CHECK_EQ_INT(cvb_kserve_dtype_size(CVB_KSERVE_FP16), 2);
    CHECK_EQ_INT(cvb_kserve_dtype_size(CVB_KSERVE_UINT64), 8);
    CHECK_EQ_INT(cvb_kserve_dtype_size(CVB_KSERVE_BYTES), 0);
    CHECK(strcmp(cvb_kserve_dtype_name(CVB_KSERVE_DTYPE_COUNT), "?") == 0);
    /* half: exact values, rounding to nearest even, overflow, subnormals */
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(-2.0f), 0xc000);
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(1e6f), 0x7c00);
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00); /* tie: to even */
    CHECK_EQ_INT(cvb_kserve_f32_to_f16(5.9604645e-8f), 0x0001);
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite positive half survives the trip */
        if (cvb_kserve_f32_to_f16(cvb_kserve_f16_to_f32((uint16_t)h)) != h) {
            test_failures++;
            fprintf(stderr, "half 0x%04x does not round-trip\n", h);
            break;
        }
    uint64_t n;
    struct cvb_err err = {0};
    int64_t sh[2] = {0, 5};
    CHECK(cvb_kserve_shape_check("t", CVB_KSERVE_FP32, 2, sh, 100, &n, &err) == 0 && n == 0);
    CHECK(cvb_kserve_shape_check("t", CVB_KSERVE_FP32, 0, sh, 100, &n, &err) == 0 && n == 1);
}

/* Bodies in the shape Triton's own client and server write them (field
 * order as tritonclient.http builds a request; the "simple" model of
 * Triton's examples answering with binary outputs). */
static void test_triton_shaped_bodies(void) {
    const char req[] = "{\"inputs\":[{\"name\":\"INPUT0\",\"shape\":[1,4],\"datatype\":\"INT32\","
                       "\"parameters\":{\"binary_data_size\":16}},{\"name\":\"INPUT1\",\"shape\":"
                       "[1,4],\"datatype\":\"INT32\",\"data\":[1,1,1,1]}],\"outputs\":[{\"name\":"
                       "\"OUTPUT0\",\"parameters\":{\"binary_data\":true}},{\"name\":\"OUTPUT1\","
                       "\"parameters\":{\"binary_data\":false}}]}";
    int32_t in0[4] = {0, 1, 2, -3};
    unsigned char body[sizeof req - 1 + 16];
    memcpy(body, req, sizeof req - 1);
    memcpy(body + sizeof req - 1, in0, 16);
    char hv[16];
    snprintf(hv, sizeof hv, "%zu", sizeof req - 1);
    struct cvb_kserve_request p;
    struct cvb_err err = {0};
    int rc = cvb_kserve_request_parse(body, sizeof body, hv, NULL, &p, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        CHECK(p.n_inputs == 2 && p.inputs[0].binary && !p.inputs[1].binary);
        CHECK(memcmp(p.inputs[0].data, in0, 16) == 0);
        CHECK(p.n_outputs == 2 && p.outputs[0].binary && !p.outputs[1].binary);
    }
    cvb_kserve_request_cleanup(&p);

    const char resp[] = "{\"model_name\":\"simple\",\"model_version\":\"1\",\"outputs\":[{\"name\":"
                        "\"OUTPUT0\",\"datatype\":\"INT32\",\"shape\":[1,4],\"parameters\":"
                        "{\"binary_data_size\":16}},{\"name\":\"OUTPUT1\",\"datatype\":\"INT32\","
                        "\"shape\":[1,4],\"data\":[-1,0,1,-4]}]}";
    _Static_assert(sizeof resp <= sizeof req, "the response fits the request's buffer");
    memcpy(body, resp, sizeof resp - 1);
    memcpy(body + sizeof resp - 1, in0, 16);
    snprintf(hv, sizeof hv, "%zu", sizeof resp - 1);
    struct cvb_kserve_response r;
    rc = cvb_kserve_response_parse(body, sizeof resp - 1 + 16, hv, NULL, &r, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc == 0) {
        int32_t o1[4];
        memcpy(o1, r.outputs[1].data, 16);
        CHECK(strcmp(r.model_name, "simple") == 0 && r.n_outputs == 2);
        CHECK(memcmp(r.outputs[0].data, in0, 16) == 0 && o1[0] == -1 && o1[3] == -4);
    }
    cvb_kserve_response_cleanup(&r);
}

static void test_check_inputs(void) {
    static const struct cvb_kserve_tensor_meta decl[2] = {
        {"images", CVB_KSERVE_UINT8, 4, {-1, 320, 320, 3}}, {"scale", CVB_KSERVE_FP32, 1, {1}}};
    static const int64_t ok[4] = {8, 320, 320, 3}, bad[4] = {1, 320, 321, 3}, one[1] = {1};
    struct cvb_kserve_tensor t[3];
    struct cvb_err err = {0};
    set_tensor(&t[0], "scale", CVB_KSERVE_FP32, 1, one, NULL, 4, 0);
    set_tensor(&t[1], "images", CVB_KSERVE_UINT8, 4, ok, NULL, 0, 1);
    CHECK_EQ_INT(cvb_kserve_check_inputs(decl, 2, t, 2, &err), 0);
    t[1].shape[2] = bad[2];
    CHECK_EQ_INT(cvb_kserve_check_inputs(decl, 2, t, 2, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 'images': shape [8,320,321,3]; the model takes [-1,320,320,3]"));
    t[1].shape[2] = 320;
    t[1].dtype = CVB_KSERVE_FP32;
    CHECK_EQ_INT(cvb_kserve_check_inputs(decl, 2, t, 2, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 'images': datatype FP32; the model takes UINT8"));
    CHECK_EQ_INT(cvb_kserve_check_inputs(decl, 2, t, 1, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 'images': missing"));
    set_tensor(&t[2], "extra", CVB_KSERVE_FP32, 1, one, NULL, 4, 0);
    t[1].dtype = CVB_KSERVE_UINT8;
    CHECK_EQ_INT(cvb_kserve_check_inputs(decl, 2, t, 3, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "input 'extra': the model has no such input"));
}

int main(void) {
    RUN(test_dtypes);
    RUN(test_request_roundtrip_uint8_nhwc);
    RUN(test_request_roundtrip_fp32_nchw);
    RUN(test_request_all_dtypes);
    RUN(test_request_json_forms);
    RUN(test_response_roundtrip);
    RUN(test_refuse_malformed);
    RUN(test_refuse_binary);
    RUN(test_golden);
    RUN(test_check_inputs);
    RUN(test_triton_shaped_bodies);
    return test_summary();
}
