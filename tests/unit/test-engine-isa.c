/* SPDX-License-Identifier: Apache-2.0 */
/* The engine's ISA switch and thread option.
 *
 * One process, so the process-wide ISA cap is fresh: an unknown name and an
 * ISA the CPU lacks are refused; the first engine fixes the cap (effective
 * ISA reported as asked); a later engine asking another cap is refused with
 * a message saying why; asking the same cap again is fine. */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "engine/kernels/onednn/dnn.h"
#include "test.h"

static void *model_buf;
static size_t model_len;

static int load(const char *isa, int threads, struct cvb_engine **e, struct cvb_err *err) {
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_ONEDNN, .isa = isa, .threads = threads};
    return cvb_engine_load_buffer(model_buf, model_len, "tiny", &o, e, err);
}

static void test_isa(void) {
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    CHECK_EQ_INT(load("sse9", 1, &e, &err), CVB_EINVAL);
    CHECK(e == NULL && strstr(err.msg, "unknown ISA") != NULL);
    if (!cvb__cpu_has("amx_tile")) {
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(load("amx", 1, &e, &err), CVB_EUNSUPPORTED);
        CHECK(strstr(err.msg, "amx_tile") != NULL);
    }
    if (!cvb__cpu_has("avx2")) {
        printf("skip: no avx2\n");
        return;
    }
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(load("avx2", 1, &e, &err), 0);
    if (e != NULL) {
        CHECK(strcmp(cvb_engine_isa(e), "avx2") == 0);
        CHECK_EQ_INT(cvb_engine_threads(e), 1);
        cvb_engine_free(e);
        e = NULL;
    }
    CHECK_EQ_INT(load("avx2", 0, &e, &err), 0); /* same cap again: fine */
    if (e != NULL) {
        CHECK_EQ_INT(cvb_engine_threads(e), cvb_engine_default_threads());
        cvb_engine_free(e);
        e = NULL;
    }
    if (cvb__cpu_has("avx512f")) {
        memset(&err, 0, sizeof err);
        CHECK_EQ_INT(load("avx512", 1, &e, &err), CVB_EINVAL);
        CHECK(e == NULL && strstr(err.msg, "before the first engine") != NULL);
    }
}

int main(void) {
    struct cvb_synth_opts o = {.arch = "yolov8n", .imgsz = 64, .seed = 1, .no_calib = true};
    struct cvb_err err = {0};
    if (cvb_synth_model_buffer(&o, &model_buf, &model_len, NULL, &err) < 0) {
        fprintf(stderr, "synth: %s\n", err.msg);
        return 1;
    }
    RUN(test_isa);
    free(model_buf);
    return test_summary();
}
