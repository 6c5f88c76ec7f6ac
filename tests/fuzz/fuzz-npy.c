/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the .npy reader: every input is handed to
 * cvb_npy_parse() (the parser cvb_npy_read() and `cvbench infer --input`
 * use). Its contract: any byte string either parses into an array whose
 * declared size matches the bytes present, or returns a negative status
 * with a message; a crash, a sanitizer report, a leak or an allocation
 * larger than the input (plus the header) is a finding. Built and driven
 * like fuzz-model-load (tests/tests.cmake, scripts/fuzz.sh --target npy). */
#include "cvb/npy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct cvb_npy n;
    struct cvb_err err = {0};
    int rc = cvb_npy_parse(data, size, "fuzz-input.npy", &n, &err);
    if (rc < 0) {
        if (n.data != NULL || err.msg[0] == '\0') abort(); /* failure: empty + message */
        return 0;
    }
    if (rc != 0 || n.data == NULL || n.bytes > size || n.ndim < 0 || n.ndim > CVB_NPY_MAX_DIMS)
        abort();
    int64_t numel = 1;
    for (int d = 0; d < n.ndim; d++) numel *= n.dims[d];
    if (numel != n.numel) abort();
    /* touch every byte: a short copy shows up under ASan */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < n.bytes; i++) sum ^= ((const uint8_t *)n.data)[i];
    (void)sum;
    cvb_npy_cleanup(&n);
    return 0;
}
