/* SPDX-License-Identifier: Apache-2.0 */
/* Engine load limits set by the caller: max_activation_bytes refuses a plan
 * whose activation arena (or reference-kernel scratch) is larger, before
 * allocating it, and names the
 * model and the size (the fuzz target relies on it: a small file can
 * declare an input that makes the arena gigabytes). */
#include "cvb/engine.h"
#include "cvb/synth.h"
#include "test.h"

#include <stdint.h>

static void test_max_activation_bytes(void) {
    struct cvb_synth_opts so = {.arch = "yolov8n", .imgsz = 64, .seed = 1};
    void *buf = NULL;
    size_t len = 0;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_synth_model_buffer(&so, &buf, &len, NULL, &err), 0);
    if (buf == NULL) return;

    /* no limit: loads, and says how large its arena is */
    struct cvb_engine_opts o = {.kernels = CVB_KERNELS_REF, .threads = 1};
    struct cvb_engine *e = NULL;
    CHECK_EQ_INT(cvb_engine_load_buffer(buf, len, "limits.onnx", &o, &e, &err), 0);
    struct cvb_model_info mi = {0};
    if (e != NULL) cvb_engine_model_info(e, &mi);
    cvb_engine_free(e);
    e = NULL;
    CHECK(mi.activation_bytes > 4096);

    /* a limit one byte short of the plan: refused, nothing loaded */
    o.max_activation_bytes = mi.activation_bytes - 1;
    CHECK_EQ_INT(cvb_engine_load_buffer(buf, len, "limits.onnx", &o, &e, &err), CVB_ERANGE);
    CHECK(e == NULL);
    CHECK(strstr(err.msg, "limits.onnx") != NULL);
    CHECK(strstr(err.msg, "activations") != NULL);
    char want[64];
    snprintf(want, sizeof want, "%lld bytes", (long long)mi.activation_bytes);
    CHECK(strstr(err.msg, want) != NULL);

    /* the reference kernels' planned working memory (a Conv's row of
     * accumulators) falls under the same limit, checked before allocating */
    o.max_activation_bytes = 100;
    CHECK_EQ_INT(cvb_engine_load_buffer(buf, len, "limits.onnx", &o, &e, &err), CVB_ERANGE);
    CHECK(e == NULL);
    CHECK(strstr(err.msg, "working memory") != NULL);

    /* exactly the plan: loads */
    o.max_activation_bytes = mi.activation_bytes;
    CHECK_EQ_INT(cvb_engine_load_buffer(buf, len, "limits.onnx", &o, &e, &err), 0);
    cvb_engine_free(e);
    free(buf);
}

int main(void) {
    cvb_log_set_level(CVB_LOG_ERROR);
    RUN(test_max_activation_bytes);
    return test_summary();
}
