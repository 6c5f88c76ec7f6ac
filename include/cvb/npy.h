/* SPDX-License-Identifier: Apache-2.0 */
/* NumPy .npy files (format versions 1-3, little-endian, C order) for
 * `cvbench infer` and the tests. */
#ifndef CVB_NPY_H
#define CVB_NPY_H

#include "cvb/common.h"

#include <stdint.h>

#define CVB_NPY_MAX_DIMS 8
#define CVB_NPY_MAX_BYTES ((size_t)4 << 30)
#define CVB_NPY_MAX_HEADER 65536

struct cvb_npy {
    char dtype[8];   /* "float32", "uint8", "int64", "int32", "int8", "bool" */
    int ndim;
    int64_t dims[CVB_NPY_MAX_DIMS];
    int64_t numel;
    size_t bytes;
    void *data;      /* owned; free with cvb_npy_cleanup() */
};

/* Parse the .npy image buf[0..len) ('name' names it in errors). On success
 * fills 'out' with a copy of the elements (free with cvb_npy_cleanup()) and
 * returns 0; on failure returns a negative status, leaves 'out' empty and
 * says what is wrong in 'err' (not an .npy file, big-endian, Fortran order,
 * unsupported dtype, a header or shape declaring more than the bytes
 * present). The declared size is checked against 'len' and the limits
 * above before anything of that size is allocated. */
int cvb_npy_parse(const void *buf, size_t len, const char *name, struct cvb_npy *out,
                  struct cvb_err *err);
/* Read the file at 'path' and parse it as cvb_npy_parse() does; errors name
 * the file. Allocates no more than the file's size. */
int cvb_npy_read(const char *path, struct cvb_npy *out, struct cvb_err *err);
/* Write 'data' with the given dtype name and shape. */
int cvb_npy_write(const char *path, const char *dtype, int ndim, const int64_t *dims,
                  const void *data, struct cvb_err *err);
void cvb_npy_cleanup(struct cvb_npy *npy);

#endif
