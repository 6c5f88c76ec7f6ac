/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 (FIPS 180-4), for the run manifest's model hash.
 *
 * Streaming: init, update any number of times, final. No allocation. */
#ifndef CVB_SHA256_H
#define CVB_SHA256_H

#include "cvb/common.h"

#include <stddef.h>
#include <stdint.h>

struct cvb_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t n_buf;
};

void cvb_sha256_init(struct cvb_sha256 *c);
void cvb_sha256_update(struct cvb_sha256 *c, const void *data, size_t len);
/* Finish and write the 32-byte digest. 'c' must be re-initialised to reuse. */
void cvb_sha256_final(struct cvb_sha256 *c, uint8_t digest[32]);
/* Digest of 'len' bytes at 'data' as 64 lowercase hex digits + NUL. */
void cvb_sha256_hex(const void *data, size_t len, char hex[65]);
/* Digest of the file at 'path' as hex (read in 64 KiB chunks). CVB_EIO with
 * the file named in 'err' when it cannot be read. */
int cvb_sha256_file(const char *path, char hex[65], struct cvb_err *err);

#endif
