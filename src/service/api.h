/* SPDX-License-Identifier: Apache-2.0 */
/* The service's HTTP API (/v1, /healthz) on a cvb_http_server: see api.c
 * and docs/openapi.yaml. */
#ifndef CVB_SERVICE_API_H
#define CVB_SERVICE_API_H

#include "service/service.h"

#include <limits.h>

#define CVB_API_MAX_ROOTS 8

struct cvb_api_opts {
    char store_url[CVB_SERVICE_URL_MAX];
    int n_roots;                          /* data roots, realpath'ed, >= 1 */
    char roots[CVB_API_MAX_ROOTS][PATH_MAX];
    char queue_kind[16];                  /* "store" | "redis", for /healthz */
    char version[32];
    double lost_after_s;                  /* a worker unseen this long reads as lost (lease) */
};

struct cvb_api;
struct cvb_http_server;
/* Open the API's own store handle. Free with cvb_api_free(). */
int cvb_api_new(const struct cvb_api_opts *o, struct cvb_api **out, struct cvb_err *err);
/* Register the routes on 'srv' ('a' must outlive the server's requests). */
int cvb_api_register(struct cvb_api *a, struct cvb_http_server *srv, struct cvb_err *err);
void cvb_api_free(struct cvb_api *a);

/* The submission parser of POST /v1/runs, without a connection (what the
 * handler calls, and what tests/fuzz/fuzz-api-body.c drives): a parsed body
 * (an object, a list of objects or {"scenarios": [...]}) into 1..'max'
 * scenarios in out[0..*n), each through the scenario field table,
 * validated, with no local outputs and every path it names under a data
 * root of 'o'. 0, or a negative status with the HTTP status (422, or 500
 * when out of memory) in *status, the field at fault in 'field' ("" when
 * none) and the message in 'msg'. */
struct json_t;
int cvb__api_parse_submission(const struct cvb_api_opts *o, struct json_t *body,
                              struct cvb_scenario *out, int max, int *n, int *status,
                              char *field, size_t field_len, char *msg, size_t msg_len);

#endif
