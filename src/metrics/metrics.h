/* SPDX-License-Identifier: Apache-2.0 */
/* Metrics registry: counters, gauges and histograms with labels, exposed in
 * the Prometheus text format 0.0.4 (served as GET /metrics through
 * cvb_http_route_metrics() in src/http). Used by the API server, the
 * workers (--metrics-listen) and the model server.
 *
 * Register a family once and keep the handle; update it from any thread:
 *
 *     struct cvb_metric *runs;
 *     cvb_metrics_counter(reg, "cvb_runs_total", "Runs by final status.", "status",
 *                         &runs, &err);
 *     cvb_metric_inc(runs, CVB_LABELS("done"));
 *
 * Everything is bounded: at most CVB_METRICS_MAX_FAMILIES families per
 * registry and CVB_METRICS_MAX_SERIES label combinations per family, all
 * allocated when the family is registered. An update that would create a
 * series past the cap is dropped and counted in
 * cvb_metrics_dropped_series_total, which every registry exposes. */
#ifndef CVB_METRICS_H
#define CVB_METRICS_H

#include "cvb/common.h"

#include <stddef.h>
#include <stdint.h>

#define CVB_METRICS_MAX_FAMILIES   64
#define CVB_METRICS_MAX_SERIES     128 /* per family */
#define CVB_METRICS_MAX_LABELS     4   /* label names per family */
#define CVB_METRICS_LABELS_BYTES   256 /* all label values of one series, NUL-separated */
#define CVB_METRICS_MAX_BUCKETS    32  /* histogram bounds, +Inf not counted */
#define CVB_METRICS_MAX_COLLECTORS 8
#define CVB_METRICS_RENDER_MAX     (4u << 20)

/* Registry flags. */
enum {
    /* Expose process_resident_memory_bytes, process_cpu_seconds_total,
     * process_start_time_seconds and cvb_log_lines_dropped_total. */
    CVB_METRICS_PROCESS = 1u << 0,
};

struct cvb_metrics; /* a registry */
struct cvb_metric;  /* one family: a name, a type, label names, its series */

/* Label values for one update, in the order the family named them:
 * CVB_LABELS("done", "cpu"). A family without labels takes NULL. */
#define CVB_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Create a registry. On success sets *out (free with cvb_metrics_free())
 * and returns 0. */
int cvb_metrics_new(unsigned flags, struct cvb_metrics **out, struct cvb_err *err);
/* Free the registry and every handle it gave out. NULL is a no-op. */
void cvb_metrics_free(struct cvb_metrics *reg);

/* Register a family. 'name' follows Prometheus naming ([a-zA-Z_:][a-zA-Z0-9_:]*);
 * 'help' is one line of text; 'labels' is a comma-separated list of label
 * names ("queue,status") or NULL for none. A family without labels is
 * exposed (at 0) from the start. On success sets *out (owned by the
 * registry) and returns 0; a bad or duplicate name, or a full registry,
 * returns CVB_EINVAL / CVB_ERANGE naming the metric. */
int cvb_metrics_counter(struct cvb_metrics *reg, const char *name, const char *help,
                        const char *labels, struct cvb_metric **out, struct cvb_err *err);
int cvb_metrics_gauge(struct cvb_metrics *reg, const char *name, const char *help,
                      const char *labels, struct cvb_metric **out, struct cvb_err *err);
/* 'bounds': 1..CVB_METRICS_MAX_BUCKETS finite upper bounds, strictly
 * increasing (copied); the +Inf bucket is implicit. "le" is not a label
 * name a histogram may use. */
int cvb_metrics_histogram(struct cvb_metrics *reg, const char *name, const char *help,
                          const char *labels, const double *bounds, size_t n_bounds,
                          struct cvb_metric **out, struct cvb_err *err);

/* Updates. 'values' is CVB_LABELS(...) with exactly as many values as the
 * family has label names (NULL when it has none). Each returns 0;
 * CVB_ERANGE when the update was dropped (series cap, or label values over
 * CVB_METRICS_LABELS_BYTES); CVB_EINVAL for a wrong label count, an update
 * that does not fit the type (observe on a counter, a negative counter
 * increment, NaN). Nothing is allocated. */
int cvb_metric_add(struct cvb_metric *m, const char *const *values, double v);
/* Gauges; on a counter, mirrors a count kept elsewhere that only grows
 * (process CPU seconds, dropped log lines). */
int cvb_metric_set(struct cvb_metric *m, const char *const *values, double v);
int cvb_metric_observe(struct cvb_metric *m, const char *const *values, double v);
static inline int cvb_metric_inc(struct cvb_metric *m, const char *const *values) {
    return cvb_metric_add(m, values, 1.0);
}

/* A function called at the start of every cvb_metrics_render(), without
 * the registry lock held, to set gauges whose value is read at scrape time
 * (RSS, queue depth). At most CVB_METRICS_MAX_COLLECTORS; 'user' must
 * outlive the registry. */
typedef void (*cvb_metrics_collect_fn)(struct cvb_metrics *reg, void *user);
int cvb_metrics_on_collect(struct cvb_metrics *reg, cvb_metrics_collect_fn fn, void *user,
                           struct cvb_err *err);

/* Render every family in registration order, series in creation order, as
 * Prometheus text 0.0.4. On success sets *out (malloc'ed, NUL-terminated;
 * free()) and *out_len; text over max_bytes is refused with CVB_ERANGE. */
int cvb_metrics_render(struct cvb_metrics *reg, size_t max_bytes, char **out, size_t *out_len,
                       struct cvb_err *err);

/* Updates dropped so far for the series cap (the value of
 * cvb_metrics_dropped_series_total). */
uint64_t cvb_metrics_dropped(struct cvb_metrics *reg);

#endif
