/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded growable byte buffer (struct cvb_buf, include/cvb/common.h): the
 * one way HTTP bodies, replies and metric expositions are built. Every
 * buffer has a maximum set when it is created; an append past it fails and
 * leaves the contents unchanged, so output is never silently truncated. */
#include "cvb/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 256

void cvb_buf_init(struct cvb_buf *b, size_t max_bytes) {
    memset(b, 0, sizeof *b);
    b->max_bytes = max_bytes < SIZE_MAX / 2 ? max_bytes : SIZE_MAX / 2;
}

/* Make room for 'need' content bytes plus the NUL. */
static int reserve(struct cvb_buf *b, size_t need) {
    if (need > b->max_bytes) return CVB_ERANGE;
    if (need < b->cap) return 0;
    size_t cap = b->cap ? b->cap : MIN_CAP;
    while (cap <= need) cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
    if (cap > b->max_bytes + 1) cap = b->max_bytes + 1;
    char *p = realloc(b->data, cap);
    if (p == NULL) return CVB_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

int cvb_buf_append(struct cvb_buf *b, const void *p, size_t n) {
    if (n > SIZE_MAX - 1 - b->len) return CVB_ERANGE;
    int rc = reserve(b, b->len + n);
    if (rc < 0) return rc;
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int cvb_buf_printf(struct cvb_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return CVB_EINVAL;
    if ((size_t)n < sizeof small) return cvb_buf_append(b, small, (size_t)n);
    if ((size_t)n > SIZE_MAX - 1 - b->len) return CVB_ERANGE;
    int rc = reserve(b, b->len + (size_t)n);
    if (rc < 0) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *cvb_buf_take(struct cvb_buf *b, size_t *len) {
    char *p = b->data;
    if (p == NULL) p = calloc(1, 1);
    if (p == NULL) return NULL;
    if (len != NULL) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void cvb_buf_cleanup(struct cvb_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
