/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the result decoders cvb__manifest_from_json() and
 * cvb__level_from_json() (src/report/result_json.h): `cvbench submit
 * --wait` and `cvbench runs` decode a server's reply with them, and the
 * store decodes its rows. Every input, cut at its first NUL as the callers'
 * strings are, is decoded as both a manifest and a level. Its contract: any
 * text is decoded or refused with a message; strings stay NUL-terminated
 * within their fields and counts within their bounds; a decoded result,
 * encoded again and decoded again, encodes to the same text (the store's
 * exact round trip). A crash, a sanitizer report (a float-to-int overflow
 * among them), a leak or a hang is a finding.
 * Built and driven like the other targets (scripts/fuzz.sh --target result-json). */
#include "report/result_json.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STR_OK(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* One decoder and its encoder, over untyped results. */
struct codec {
    int (*dec)(const char *text, const char *origin, void *out, struct cvb_err *err);
    int (*enc)(const void *in, char **out, struct cvb_err *err);
    int (*sane)(const void *in); /* fields within their bounds */
};

static int dec_manifest(const char *t, const char *o, void *out, struct cvb_err *e) {
    return cvb__manifest_from_json(t, o, out, e);
}
static int enc_manifest(const void *in, char **out, struct cvb_err *e) {
    return cvb__manifest_to_json(in, CVB__MANIFEST_RAW_SCENARIO, out, e);
}
static int sane_manifest(const void *in) {
    const struct cvb_manifest *m = in;
    return STR_OK(m->run_id) && STR_OK(m->hostname) && STR_OK(m->cpu_flags) &&
           STR_OK(m->model_path) && STR_OK(m->video_desc) && STR_OK(m->density_decided) &&
           STR_OK(m->scenario_json);
}
static int dec_level(const char *t, const char *o, void *out, struct cvb_err *e) {
    return cvb__level_from_json(t, o, out, e);
}
static int enc_level(const void *in, char **out, struct cvb_err *e) {
    return cvb__level_to_json(in, out, e);
}
static int sane_level(const void *in) {
    const struct cvb_level_result *r = in;
    return r->n_windows >= 0 && r->n_windows <= CVB_MAX_WINDOWS && r->n_rss >= 0 &&
           r->n_rss <= CVB_MAX_RSS_SAMPLES && STR_OK(r->bottleneck) && STR_OK(r->status) &&
           STR_OK(r->error);
}

/* Decode 'text' into a; if accepted, encode, decode into b, encode again:
 * the two encodings must be the same text. */
static void check(const struct codec *c, const char *text, void *a, void *b) {
    struct cvb_err err = {0};
    int rc = c->dec(text, "fuzz input", a, &err);
    if (rc > 0) abort();
    if (rc < 0) {
        if (err.msg[0] == '\0') abort();
        return;
    }
    if (!c->sane(a)) abort();
    char *t1 = NULL, *t2 = NULL;
    if (c->enc(a, &t1, &err) != 0) abort();
    if (c->dec(t1, "round trip", b, &err) != 0) abort();
    if (c->enc(b, &t2, &err) != 0) abort();
    if (strcmp(t1, t2) != 0) abort();
    free(t1);
    free(t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (text == NULL) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const struct codec manifest = {dec_manifest, enc_manifest, sane_manifest};
    static const struct codec level = {dec_level, enc_level, sane_level};
    static struct cvb_manifest m[2]; /* large: not on the stack */
    static struct cvb_level_result r[2];
    check(&manifest, text, &m[0], &m[1]);
    check(&level, text, &r[0], &r[1]);
    free(text);
    return 0;
}
