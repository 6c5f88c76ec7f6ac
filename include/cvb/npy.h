/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy files (format versions 1-3, little-endian, C order) for
 * `cvbench infer` and the tests. */
#ifndef CVB_NPY_H
#define CVB_NPY_H

#include "cvb/common.h"

#include <stdint.h>

#define CVB_NPY_MAX_DIMS 8
#define CVB_NPY_MAX_BYTES ((size_t)4 << 30)

struct cvb_npy {
    char dtype[8];   /* "float32", "uint8", "int64", "int32", "int8", "bool" */
    int ndim;
    int64_t dims[CVB_NPY_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    void *data;      /* owned; free with cvb_npy_cleanup() */
};

/* Read 'path'. Errors name the file and what is wrong (not an .npy file,
 * big-endian, Fortran order, unsupported dtype, truncated). */
int cvb_npy_read(const char *path, struct cvb_npy *out, struct cvb_err *err);
/* Write 'data' with the given dtype name and shape. */
int cvb_npy_write(const char *path, const char *dtype, int ndim, const int64_t *dims,
                  const void *data, struct cvb_err *err);
void cvb_npy_cleanup(struct cvb_npy *npy);

#endif
