/* SPDX-License-Identifier: Apache-2.0 */
/* KServe v2 metadata (server and model), Triton's model configuration and
 * statistics extensions: encoders for the server, and parsers of the model
 * metadata and statistics for the client (untrusted bytes: the same depth
 * and size limits as the infer parser). Field names follow the Open
 * Inference Protocol REST spec and Triton's protocol/extension_*.md. */
#include "kserve/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int put_key_str(struct cvb_buf *b, const char *sep_key, const char *v) {
    int rc = cvb_buf_printf(b, "%s", sep_key);
    if (rc == 0) rc = cvb__kserve_put_str(b, v ? v : "");
    return rc;
}

static int overflow(int rc, struct cvb_err *err, const char *what) {
    if (rc == CVB_ERANGE) return cvb_err_set(err, CVB_ERANGE, "%s: passes the buffer limit", what);
    if (rc < 0) return cvb_err_set(err, rc, "%s: out of memory", what);
    return 0;
}

/* [{"name","datatype","shape"}] or, Triton config style, [{"name","data_type","format","dims"}] */
static int put_metas(struct cvb_buf *b, const char *key, const struct cvb_kserve_tensor_meta *t,
                     int n, int triton, struct cvb_err *err) {
    if (n < 0 || n > CVB_KSERVE_MAX_TENSORS)
        return cvb_err_set(err, CVB_EINVAL, "%s: %d tensors; at most %d", key, n,
                           CVB_KSERVE_MAX_TENSORS);
    int rc = cvb_buf_printf(b, ",\"%s\":[", key);
    for (int i = 0; rc == 0 && i < n; i++) {
        if ((unsigned)t[i].dtype >= CVB_KSERVE_DTYPE_COUNT || t[i].n_dims < 0 ||
            t[i].n_dims > CVB_KSERVE_MAX_DIMS)
            return cvb_err_set(err, CVB_EINVAL, "%s '%s': bad datatype or dims", key, t[i].name);
        rc = put_key_str(b, i ? ",{\"name\":" : "{\"name\":", t[i].name);
        if (rc == 0 && triton)
            rc = cvb_buf_printf(b, ",\"data_type\":\"%s\",\"format\":\"FORMAT_NONE\",\"dims\":",
                                cvb_kserve_dtype_triton_name(t[i].dtype));
        else if (rc == 0)
            rc = cvb_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":",
                                cvb_kserve_dtype_name(t[i].dtype));
        if (rc == 0) rc = cvb__kserve_put_shape(b, t[i].n_dims, t[i].shape);
        if (rc == 0) rc = cvb_buf_append(b, "}", 1);
    }
    if (rc == 0) rc = cvb_buf_append(b, "]", 1);
    return overflow(rc, err, key);
}

int cvb_kserve_model_meta_encode(const struct cvb_kserve_model_meta *m, struct cvb_buf *out,
                                 struct cvb_err *err) {
    int rc = put_key_str(out, "{\"name\":", m->name);
    if (rc == 0) rc = cvb_buf_append(out, ",\"versions\":[", 13);
    for (int i = 0; rc == 0 && i < m->n_versions && i < CVB_KSERVE_MAX_VERSIONS; i++)
        rc = put_key_str(out, i ? "," : "", m->versions[i]);
    if (rc == 0) rc = put_key_str(out, "],\"platform\":", m->platform);
    rc = overflow(rc, err, "model metadata");
    if (rc == 0) rc = put_metas(out, "inputs", m->inputs, m->n_inputs, 0, err);
    if (rc == 0) rc = put_metas(out, "outputs", m->outputs, m->n_outputs, 0, err);
    if (rc == 0) rc = overflow(cvb_buf_append(out, "}", 1), err, "model metadata");
    return rc;
}

int cvb_kserve_server_meta_encode(const struct cvb_kserve_server_meta *m, struct cvb_buf *out,
                                  struct cvb_err *err) {
    int rc = put_key_str(out, "{\"name\":", m->name);
    if (rc == 0) rc = put_key_str(out, ",\"version\":", m->version);
    if (rc == 0) rc = cvb_buf_append(out, ",\"extensions\":[", 15);
    for (int i = 0; rc == 0 && i < m->n_extensions && i < CVB_KSERVE_MAX_EXTENSIONS; i++)
        rc = put_key_str(out, i ? "," : "", m->extensions[i]);
    if (rc == 0) rc = cvb_buf_append(out, "]}", 2);
    return overflow(rc, err, "server metadata");
}

int cvb_kserve_model_config_encode(const struct cvb_kserve_model_config *c, struct cvb_buf *out,
                                   struct cvb_err *err) {
    int rc = put_key_str(out, "{\"name\":", c->name);
    if (rc == 0) rc = put_key_str(out, ",\"platform\":", c->platform);
    if (rc == 0 && c->backend) rc = put_key_str(out, ",\"backend\":", c->backend);
    if (rc == 0) rc = cvb_buf_printf(out, ",\"max_batch_size\":%d", c->max_batch_size);
    rc = overflow(rc, err, "model config");
    if (rc == 0) rc = put_metas(out, "input", c->inputs, c->n_inputs, 1, err);
    if (rc == 0) rc = put_metas(out, "output", c->outputs, c->n_outputs, 1, err);
    if (rc < 0) return rc;
    if (c->dynamic_batching) {
        rc = cvb_buf_append(out, ",\"dynamic_batching\":{\"preferred_batch_size\":[", 45);
        for (int i = 0; rc == 0 && i < c->n_preferred && i < CVB_KSERVE_MAX_PREFERRED; i++)
            rc = cvb_buf_printf(out, "%s%d", i ? "," : "", c->preferred_batch_sizes[i]);
        if (rc == 0)
            rc = cvb_buf_printf(out, "],\"max_queue_delay_microseconds\":%" PRIu64 "}",
                                c->max_queue_delay_us);
    }
    if (rc == 0 && c->instance_count > 0)
        rc = cvb_buf_printf(out, ",\"instance_group\":[{\"count\":%d,\"kind\":\"KIND_CPU\"}]",
                            c->instance_count);
    if (rc == 0) rc = cvb_buf_append(out, "}", 1);
    return overflow(rc, err, "model config");
}

static int put_stat(struct cvb_buf *b, const char *key, const struct cvb_kserve_stat *s, int first) {
    return cvb_buf_printf(b, "%s\"%s\":{\"count\":%" PRIu64 ",\"ns\":%" PRIu64 "}", first ? "" : ",",
                          key, s->count, s->ns);
}

int cvb_kserve_stats_encode(const struct cvb_kserve_model_stats *m, int n, struct cvb_buf *out,
                            struct cvb_err *err) {
    static const struct cvb_kserve_stat zero;
    int rc = cvb_buf_append(out, "{\"model_stats\":[", 16);
    for (int i = 0; rc == 0 && i < n; i++) {
        const struct cvb_kserve_model_stats *s = &m[i];
        rc = put_key_str(out, i ? ",{\"name\":" : "{\"name\":", s->name);
        if (rc == 0) rc = put_key_str(out, ",\"version\":", s->version);
        if (rc == 0)
            rc = cvb_buf_printf(out,
                                ",\"last_inference\":%" PRIu64 ",\"inference_count\":%" PRIu64
                                ",\"execution_count\":%" PRIu64 ",\"inference_stats\":{",
                                s->last_inference_ms, s->inference_count, s->execution_count);
        if (rc == 0) rc = put_stat(out, "success", &s->success, 1);
        if (rc == 0) rc = put_stat(out, "fail", &s->fail, 0);
        if (rc == 0) rc = put_stat(out, "queue", &s->queue, 0);
        if (rc == 0) rc = put_stat(out, "compute_input", &s->compute_input, 0);
        if (rc == 0) rc = put_stat(out, "compute_infer", &s->compute_infer, 0);
        if (rc == 0) rc = put_stat(out, "compute_output", &s->compute_output, 0);
        if (rc == 0) rc = put_stat(out, "cache_hit", &zero, 0);
        if (rc == 0) rc = put_stat(out, "cache_miss", &zero, 0);
        if (rc == 0) rc = cvb_buf_append(out, "},\"batch_stats\":[", 17);
        for (int k = 0; rc == 0 && k < s->n_batch && k < CVB_KSERVE_MAX_BATCH_STATS; k++) {
            const struct cvb_kserve_batch_stat *bs = &s->batch[k];
            rc = cvb_buf_printf(out, "%s{\"batch_size\":%" PRIu64, k ? "," : "", bs->batch_size);
            if (rc == 0) rc = put_stat(out, "compute_input", &bs->compute_input, 0);
            if (rc == 0) rc = put_stat(out, "compute_infer", &bs->compute_infer, 0);
            if (rc == 0) rc = put_stat(out, "compute_output", &bs->compute_output, 0);
            if (rc == 0) rc = cvb_buf_append(out, "}", 1);
        }
        if (rc == 0) rc = cvb_buf_append(out, "]}", 2);
    }
    if (rc == 0) rc = cvb_buf_append(out, "]}", 2);
    return overflow(rc, err, "model statistics");
}

static void shape_text(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n_dims && at < n; i++) {
        int k = snprintf(buf + at, n - at, "%s%lld", i ? "," : "", (long long)shape[i]);
        if (k < 0) break;
        at += (size_t)k;
    }
}

int cvb_kserve_check_inputs(const struct cvb_kserve_tensor_meta *decl, int n_decl,
                            const struct cvb_kserve_tensor *t, int n, struct cvb_err *err) {
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < n_decl && strcmp(decl[k].name, t[i].name) != 0)
            k++;
        if (k == n_decl)
            return cvb_err_set(err, CVB_EINVAL, "input '%s': the model has no such input",
                               t[i].name);
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, t[i].name) == 0)
                return cvb_err_set(err, CVB_EINVAL, "input '%s': given twice", t[i].name);
        const struct cvb_kserve_tensor_meta *d = &decl[k];
        if (d->dtype != t[i].dtype)
            return cvb_err_set(err, CVB_EINVAL, "input '%s': datatype %s; the model takes %s",
                               t[i].name, cvb_kserve_dtype_name(t[i].dtype),
                               cvb_kserve_dtype_name(d->dtype));
        int ok = d->n_dims == t[i].n_dims;
        for (int j = 0; ok && j < d->n_dims; j++)
            ok = d->shape[j] == -1 || d->shape[j] == t[i].shape[j];
        if (!ok) {
            char got[160], want[160];
            shape_text(got, sizeof got, t[i].n_dims, t[i].shape);
            shape_text(want, sizeof want, d->n_dims, d->shape);
            return cvb_err_set(err, CVB_EINVAL, "input '%s': shape [%s]; the model takes [%s]",
                               t[i].name, got, want);
        }
    }
    for (int k = 0; k < n_decl; k++) {
        int found = 0;
        for (int i = 0; i < n && !found; i++)
            found = strcmp(decl[k].name, t[i].name) == 0;
        if (!found)
            return cvb_err_set(err, CVB_EINVAL, "input '%s': missing; the model needs it",
                               decl[k].name);
    }
    return 0;
}

/* ---- client-side parsers --------------------------------------------------------- */

static int get_metas(json_t *root, const char *key, struct cvb_kserve_tensor_meta *t, int *n,
                     struct cvb_err *err) {
    json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr) || json_array_size(arr) > CVB_KSERVE_MAX_TENSORS)
        return cvb_err_set(err, CVB_EINVAL,
                           "model metadata: \"%s\" missing, not a list or over %d tensors", key,
                           CVB_KSERVE_MAX_TENSORS);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        char what[CVB_KSERVE_NAME_MAX + 48];
        snprintf(what, sizeof what, "model metadata %s %zu", key, i);
        if (!json_is_object(o)) return cvb_err_set(err, CVB_EINVAL, "%s: not an object", what);
        int rc = cvb__kserve_get_str(o, "name", 1, what, t[i].name, sizeof t[i].name, err);
        if (rc < 0) return rc;
        snprintf(what, sizeof what, "model metadata %s '%s'", key, t[i].name);
        json_t *dt = json_object_get(o, "datatype");
        if (!json_is_string(dt) || cvb_kserve_dtype_parse(json_string_value(dt), 0, &t[i].dtype) < 0)
            return cvb_err_set(err, CVB_EINVAL, "%s: \"datatype\" missing or unknown", what);
        rc = cvb__kserve_get_shape(json_object_get(o, "shape"), what, -1, &t[i].n_dims,
                                   t[i].shape, err);
        if (rc < 0) return rc;
    }
    *n = (int)json_array_size(arr);
    return 0;
}

int cvb_kserve_model_meta_parse(const void *body, size_t len, struct cvb_kserve_model_meta *out,
                                struct cvb_err *err) {
    json_t *root = NULL;
    memset(out, 0, sizeof *out);
    int rc = cvb__kserve_parse_object(body, len, &root, err);
    if (rc < 0) goto out;
    rc = cvb__kserve_get_str(root, "name", 1, "model metadata", out->name, sizeof out->name, err);
    if (rc == 0)
        rc = cvb__kserve_get_str(root, "platform", 0, "model metadata", out->platform,
                                 sizeof out->platform, err);
    if (rc < 0) goto out;
    json_t *v = json_object_get(root, "versions");
    if (v != NULL && !json_is_null(v)) { /* KServe's ModelServer sends null */
        if (!json_is_array(v) || json_array_size(v) > CVB_KSERVE_MAX_VERSIONS) {
            rc = cvb_err_set(err, CVB_EINVAL, "model metadata: \"versions\" must be a list of at "
                             "most %d strings", CVB_KSERVE_MAX_VERSIONS);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *s = json_array_get(v, i);
            if (!json_is_string(s) || json_string_length(s) >= sizeof out->versions[0]) {
                rc = cvb_err_set(err, CVB_EINVAL, "model metadata: version %zu not a short "
                                 "string", i);
                goto out;
            }
            snprintf(out->versions[i], sizeof out->versions[i], "%s", json_string_value(s));
            out->n_versions = (int)i + 1;
        }
    }
    rc = get_metas(root, "inputs", out->inputs, &out->n_inputs, err);
    if (rc == 0) rc = get_metas(root, "outputs", out->outputs, &out->n_outputs, err);
out:
    json_decref(root);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}

static int get_stat(json_t *o, const char *key, struct cvb_kserve_stat *s, struct cvb_err *err) {
    json_t *v = json_object_get(o, key);
    memset(s, 0, sizeof *s);
    if (v == NULL) return 0;
    json_t *c = json_object_get(v, "count"), *ns = json_object_get(v, "ns");
    if (!json_is_object(v) || !json_is_integer(c) || !json_is_integer(ns) ||
        json_integer_value(c) < 0 || json_integer_value(ns) < 0)
        return cvb_err_set(err, CVB_EINVAL,
                           "model statistics: \"%s\" must be {\"count\": n, \"ns\": n}, n >= 0",
                           key);
    s->count = (uint64_t)json_integer_value(c);
    s->ns = (uint64_t)json_integer_value(ns);
    return 0;
}

static uint64_t get_u64(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

int cvb_kserve_stats_parse(const void *body, size_t len, struct cvb_kserve_model_stats *out,
                           struct cvb_err *err) {
    json_t *root = NULL;
    memset(out, 0, sizeof *out);
    int rc = cvb__kserve_parse_object(body, len, &root, err);
    if (rc < 0) goto out;
    json_t *ms = json_object_get(root, "model_stats"), *s = json_array_get(ms, 0);
    if (!json_is_object(s)) {
        rc = cvb_err_set(err, CVB_EINVAL, "model statistics: \"model_stats\" holds no model");
        goto out;
    }
    rc = cvb__kserve_get_str(s, "name", 0, "model statistics", out->name, sizeof out->name, err);
    if (rc == 0)
        rc = cvb__kserve_get_str(s, "version", 0, "model statistics", out->version,
                                 sizeof out->version, err);
    if (rc < 0) goto out;
    out->last_inference_ms = get_u64(s, "last_inference");
    out->inference_count = get_u64(s, "inference_count");
    out->execution_count = get_u64(s, "execution_count");
    json_t *is = json_object_get(s, "inference_stats");
    if (!json_is_object(is)) {
        rc = cvb_err_set(err, CVB_EINVAL, "model statistics: \"inference_stats\" missing");
        goto out;
    }
    struct {
        const char *key;
        struct cvb_kserve_stat *dst;
    } f[] = {{"success", &out->success}, {"fail", &out->fail}, {"queue", &out->queue},
             {"compute_input", &out->compute_input}, {"compute_infer", &out->compute_infer},
             {"compute_output", &out->compute_output}};
    for (size_t i = 0; rc == 0 && i < CVB_ARRAY_LEN(f); i++)
        rc = get_stat(is, f[i].key, f[i].dst, err);
    json_t *bs = json_object_get(s, "batch_stats");
    for (size_t i = 0; rc == 0 && json_is_array(bs) && i < json_array_size(bs) &&
                       i < CVB_KSERVE_MAX_BATCH_STATS;
         i++) {
        json_t *b = json_array_get(bs, i);
        struct cvb_kserve_batch_stat *d = &out->batch[i];
        if (!json_is_object(b)) {
            rc = cvb_err_set(err, CVB_EINVAL, "model statistics: batch_stats %zu not an object", i);
            break;
        }
        d->batch_size = get_u64(b, "batch_size");
        rc = get_stat(b, "compute_input", &d->compute_input, err);
        if (rc == 0) rc = get_stat(b, "compute_infer", &d->compute_infer, err);
        if (rc == 0) rc = get_stat(b, "compute_output", &d->compute_output, err);
        out->n_batch = (int)i + 1;
    }
out:
    json_decref(root);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}
