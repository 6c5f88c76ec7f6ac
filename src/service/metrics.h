/* SPDX-License-Identifier: Apache-2.0 */
/* The service's Prometheus metrics: one registry per process (server or
 * worker) whose values are read at scrape time from the coordinator, the
 * workers and their queues (src/metrics/ does the exposition). Also the
 * dashboard route. */
#ifndef CVB_SERVICE_METRICS_H
#define CVB_SERVICE_METRICS_H

#include "service/service.h"

struct cvb_service_metrics;
struct cvb_http_server;

/* 'server': also the coordinator's families (tasks by state, queue depth). */
int cvb_service_metrics_new(bool server, struct cvb_service_metrics **out, struct cvb_err *err);
void cvb_service_metrics_free(struct cvb_service_metrics *sm);
/* Sources read at each scrape (borrowed: must outlive the registry's use). */
void cvb_service_metrics_add_coord(struct cvb_service_metrics *sm, struct cvb_coord *c);
void cvb_service_metrics_add_worker(struct cvb_service_metrics *sm, struct cvb_worker *w);
/* Serve the registry as GET /metrics on 'srv'. */
int cvb_service_metrics_route(struct cvb_service_metrics *sm, struct cvb_http_server *srv,
                              struct cvb_err *err);
/* Serve the embedded dashboard as GET / on 'srv'. */
int cvb_service_dashboard_route(struct cvb_http_server *srv, struct cvb_err *err);

#endif
