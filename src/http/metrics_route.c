/* SPDX-License-Identifier: Apache-2.0 */
/* GET /metrics on any cvb_http_server: the glue between src/http and the
 * registry in src/metrics. `cvbench serve` adds it beside the API; a
 * worker's --metrics-listen server is a cvb_http_server with only this
 * route. */
#include "http/http.h"
#include "metrics/metrics.h"

#include <stdlib.h>

#define METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

static int serve_metrics(void *user, const struct cvb_http_req *req, struct cvb_http_resp *resp) {
    struct cvb_err err = {0};
    char *text = NULL;
    size_t len = 0;
    int rc = cvb_metrics_render(user, CVB_METRICS_RENDER_MAX, &text, &len, &err);
    if (rc < 0) {
        cvb_log_error("GET /metrics: %s", err.msg);
        cvb_http_resp_error(resp, 500, NULL, "%s", err.msg);
        return rc;
    }
    return cvb_http_resp_take(resp, 200, METRICS_CTYPE, text, len);
}

int cvb_http_route_metrics(struct cvb_http_server *s, struct cvb_metrics *reg,
                           struct cvb_err *err) {
    return cvb_http_route(s, "GET", "/metrics", 0, serve_metrics, reg, err);
}
