/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the model loader: every input is handed to
 * cvb_engine_load_buffer() as a serialized ModelProto (reference kernels, no
 * --imgsz, activations capped at 256 MiB), and whatever loads is freed
 * again. The loader's contract is that any byte string either loads or
 * returns a negative status with a message; a crash, a sanitizer report, a
 * leak, a hang or a huge allocation is a finding. Built with clang
 * -fsanitize=fuzzer,address,undefined against all of cvb_core compiled with
 * the same sanitizers (CVB_FUZZ=ON, see tests/tests.cmake); driven by
 * scripts/fuzz.sh --target model-load. */
#include "cvb/engine.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    /* The loader reports through the return value and cvb_err; keep the
     * logger quiet so the fuzzer's own output stays readable. */
    cvb_log_set_level(CVB_LOG_ERROR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The activation arena follows the declared input shape: a 100-byte
     * file can ask for gigabytes, legitimately. Capped here so that such a
     * plan is refused (CVB_ERANGE) rather than reported as a huge malloc;
     * what the cap must not hide is a parser allocating before it checks. */
    struct cvb_engine_opts opts = {.kernels = CVB_KERNELS_REF, .imgsz = 0, .threads = 1,
                                   .max_activation_bytes = (int64_t)256 << 20};
    struct cvb_engine *e = NULL;
    struct cvb_err err = {0};
    int rc = cvb_engine_load_buffer(data, size, "fuzz-input.onnx", &opts, &e, &err);
    if (rc == 0 && e == NULL) abort(); /* contract: success sets *out */
    if (rc < 0 && (e != NULL || err.msg[0] == '\0')) abort(); /* failure: NULL + message */
    cvb_engine_free(e);
    return 0;
}
