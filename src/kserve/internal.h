/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the KServe codec's files (tensor.c, infer.c, meta.c);
 * not part of its API. */
#ifndef CVB_KSERVE_INTERNAL_H
#define CVB_KSERVE_INTERNAL_H

#include "kserve/kserve.h"

#include <jansson.h>

/* Append 's' as a JSON string (quoted, escaped). */
int cvb__kserve_put_str(struct cvb_buf *b, const char *s);
/* Append [d0,d1,...]. */
int cvb__kserve_put_shape(struct cvb_buf *b, int n_dims, const int64_t *shape);
/* Copy a JSON string member 'key' of 'obj' into dst (size n): absent
 * leaves dst "" when !required, else CVB_EINVAL; not a string, empty,
 * too long or holding control characters: CVB_EINVAL naming 'what'.'key'. */
int cvb__kserve_get_str(json_t *obj, const char *key, int required, const char *what, char *dst,
                        size_t n, struct cvb_err *err);
/* Parse the JSON header (depth-checked by cvb_http_json_parse) into an
 * object; CVB_EINVAL with the reason. */
int cvb__kserve_parse_object(const char *p, size_t len, json_t **out, struct cvb_err *err);
/* Parse a "shape" list of 0..8 integers >= min_dim into t. */
int cvb__kserve_get_shape(json_t *v, const char *what, int64_t min_dim, int *n_dims,
                          int64_t *shape, struct cvb_err *err);

#endif
