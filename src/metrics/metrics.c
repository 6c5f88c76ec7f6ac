/* SPDX-License-Identifier: Apache-2.0 */
/* Metrics registry and Prometheus text exposition (format 0.0.4):
 *
 *   # HELP <name> <help, with \ and newline escaped>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value, with \ " and newline escaped>",...} <value>
 *   <name>_bucket{...,le="<bound>"} <cumulative count>   (histograms; last le="+Inf")
 *   <name>_sum{...} <sum>
 *   <name>_count{...} <count>
 *
 * Invariants:
 *  1. All storage of a family (its CVB_METRICS_MAX_SERIES series and their
 *     histogram buckets) is allocated when it is registered; an update
 *     never allocates, and the registry never grows past its caps.
 *  2. One mutex per registry guards every family and series; collectors
 *     run before it is taken, so they may update metrics themselves.
 *  3. Render order is registration order, then series creation order, so
 *     the text is deterministic for a given history of updates. */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NAME_MAX_BYTES  128
#define LABEL_MAX_BYTES 64
#define HELP_MAX_BYTES  256
#define DROPPED_NAME    "cvb_metrics_dropped_series_total"

enum type { COUNTER, GAUGE, HISTOGRAM };

static const char *const type_name[] = {"counter", "gauge", "histogram"};

struct series {
    char values[CVB_METRICS_LABELS_BYTES]; /* label values, NUL-separated */
    size_t values_len;
    double value;      /* counter, gauge */
    double sum;        /* histogram */
    uint64_t count;    /* histogram */
    uint64_t *buckets; /* histogram: n_bounds + 1 per-bucket (not cumulative) counts */
};

struct cvb_metric {
    struct cvb_metrics *reg;
    enum type type;
    char name[NAME_MAX_BYTES];
    char help[HELP_MAX_BYTES];
    unsigned n_labels;
    char label[CVB_METRICS_MAX_LABELS][LABEL_MAX_BYTES];
    double bounds[CVB_METRICS_MAX_BUCKETS];
    unsigned n_bounds;
    unsigned n_series;
    struct series *series;  /* CVB_METRICS_MAX_SERIES */
    uint64_t *bucket_store; /* CVB_METRICS_MAX_SERIES * (n_bounds + 1) */
};

struct collector {
    cvb_metrics_collect_fn fn;
    void *user;
};

struct cvb_metrics {
    pthread_mutex_t lock;
    unsigned n_families;
    struct cvb_metric *families[CVB_METRICS_MAX_FAMILIES];
    struct cvb_metric *dropped;
    unsigned n_collectors;
    struct collector collectors[CVB_METRICS_MAX_COLLECTORS];
    /* CVB_METRICS_PROCESS */
    struct cvb_metric *rss, *cpu, *start, *log_dropped;
    double start_time_s;
};

/* ---- registration ----------------------------------------------------------- */

static int valid_name(const char *s, int colon_ok) {
    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon_ok && c == ':')))
            return 0;
    }
    return 1;
}

static int parse_labels(struct cvb_metric *m, const char *labels, struct cvb_err *err) {
    if (labels == NULL || labels[0] == '\0') return 0;
    const char *p = labels;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (m->n_labels == CVB_METRICS_MAX_LABELS)
            return cvb_err_set(err, CVB_EINVAL, "metric %s: more than %d label names", m->name,
                               CVB_METRICS_MAX_LABELS);
        if (len == 0 || len >= LABEL_MAX_BYTES)
            return cvb_err_set(err, CVB_EINVAL, "metric %s: empty or over-long label name in '%s'",
                               m->name, labels);
        char *l = m->label[m->n_labels];
        memcpy(l, p, len);
        l[len] = '\0';
        if (!valid_name(l, 0) || strncmp(l, "__", 2) == 0 ||
            (m->type == HISTOGRAM && strcmp(l, "le") == 0))
            return cvb_err_set(err, CVB_EINVAL, "metric %s: '%s' is not a valid label name",
                               m->name, l);
        for (unsigned i = 0; i < m->n_labels; i++)
            if (strcmp(m->label[i], l) == 0)
                return cvb_err_set(err, CVB_EINVAL, "metric %s: label '%s' named twice", m->name,
                                   l);
        m->n_labels++;
        if (p[len] == '\0') return 0;
        p += len + 1;
    }
}

static void family_free(struct cvb_metric *m) {
    if (m == NULL) return;
    free(m->series);
    free(m->bucket_store);
    free(m);
}

static int family_new(struct cvb_metrics *reg, enum type type, const char *name,
                      const char *help, const char *labels, const double *bounds,
                      size_t n_bounds, struct cvb_metric **out, struct cvb_err *err) {
    struct cvb_metric *m = NULL;
    int rc = 0;
    *out = NULL;
    if (!valid_name(name, 1) || strlen(name) >= NAME_MAX_BYTES) {
        rc = cvb_err_set(err, CVB_EINVAL, "metric name '%s' is not [a-zA-Z_:][a-zA-Z0-9_:]* "
                         "(up to %d bytes)", name ? name : "(null)", NAME_MAX_BYTES - 1);
        goto out;
    }
    if (help == NULL || strlen(help) >= HELP_MAX_BYTES) {
        rc = cvb_err_set(err, CVB_EINVAL, "metric %s: help text missing or over %d bytes", name,
                         HELP_MAX_BYTES - 1);
        goto out;
    }
    m = calloc(1, sizeof *m);
    if (m == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "metric %s: out of memory", name);
        goto out;
    }
    m->reg = reg;
    m->type = type;
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->help, sizeof m->help, "%s", help);
    rc = parse_labels(m, labels, err);
    if (rc < 0) goto out;
    if (type == HISTOGRAM) {
        if (n_bounds == 0 || n_bounds > CVB_METRICS_MAX_BUCKETS) {
            rc = cvb_err_set(err, CVB_EINVAL, "histogram %s: %zu bounds; 1..%d allowed", name,
                             n_bounds, CVB_METRICS_MAX_BUCKETS);
            goto out;
        }
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1]))) {
                rc = cvb_err_set(err, CVB_EINVAL,
                                 "histogram %s: bound %zu (%g) is not finite and increasing", name,
                                 i, bounds[i]);
                goto out;
            }
            m->bounds[i] = bounds[i];
        }
        m->n_bounds = (unsigned)n_bounds;
        m->bucket_store = calloc((size_t)CVB_METRICS_MAX_SERIES * (n_bounds + 1), sizeof(uint64_t));
    }
    m->series = calloc(CVB_METRICS_MAX_SERIES, sizeof *m->series);
    if (m->series == NULL || (type == HISTOGRAM && m->bucket_store == NULL)) {
        rc = cvb_err_set(err, CVB_ENOMEM, "metric %s: out of memory", name);
        goto out;
    }
    for (unsigned i = 0; type == HISTOGRAM && i < CVB_METRICS_MAX_SERIES; i++)
        m->series[i].buckets = m->bucket_store + (size_t)i * (n_bounds + 1);
    if (m->n_labels == 0) m->n_series = 1; /* the one series exists from the start */

    pthread_mutex_lock(&reg->lock);
    for (unsigned i = 0; i < reg->n_families && rc == 0; i++)
        if (strcmp(reg->families[i]->name, name) == 0)
            rc = cvb_err_set(err, CVB_EINVAL, "metric %s: registered twice", name);
    if (rc == 0 && reg->n_families == CVB_METRICS_MAX_FAMILIES)
        rc = cvb_err_set(err, CVB_ERANGE, "metric %s: registry full (%d families)", name,
                         CVB_METRICS_MAX_FAMILIES);
    if (rc == 0) reg->families[reg->n_families++] = m;
    pthread_mutex_unlock(&reg->lock);
    if (rc < 0) goto out;
    *out = m;
    m = NULL;
out:
    family_free(m);
    return rc;
}

int cvb_metrics_counter(struct cvb_metrics *reg, const char *name, const char *help,
                        const char *labels, struct cvb_metric **out, struct cvb_err *err) {
    return family_new(reg, COUNTER, name, help, labels, NULL, 0, out, err);
}

int cvb_metrics_gauge(struct cvb_metrics *reg, const char *name, const char *help,
                      const char *labels, struct cvb_metric **out, struct cvb_err *err) {
    return family_new(reg, GAUGE, name, help, labels, NULL, 0, out, err);
}

int cvb_metrics_histogram(struct cvb_metrics *reg, const char *name, const char *help,
                          const char *labels, const double *bounds, size_t n_bounds,
                          struct cvb_metric **out, struct cvb_err *err) {
    return family_new(reg, HISTOGRAM, name, help, labels, bounds, n_bounds, out, err);
}

int cvb_metrics_on_collect(struct cvb_metrics *reg, cvb_metrics_collect_fn fn, void *user,
                           struct cvb_err *err) {
    int rc = 0;
    pthread_mutex_lock(&reg->lock);
    if (reg->n_collectors == CVB_METRICS_MAX_COLLECTORS)
        rc = cvb_err_set(err, CVB_ERANGE, "metrics: more than %d collectors",
                         CVB_METRICS_MAX_COLLECTORS);
    else
        reg->collectors[reg->n_collectors++] = (struct collector){fn, user};
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- process metrics ------------------------------------------------------------ */

/* Seconds since the epoch at which this process started: /proc/self/stat
 * field 22 (ticks after boot) + btime from /proc/stat; 0 when unreadable. */
static double process_start_time(void) {
    char buf[1024];
    double start = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ticks = 0;
    /* after ") " come fields 3.. ; starttime is field 22 */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                                   "%*d %*d %*d %*d %llu", &ticks) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    if (f == NULL) return 0;
    unsigned long long btime = 0;
    while (fgets(buf, sizeof buf, f) != NULL)
        if (sscanf(buf, "btime %llu", &btime) == 1) break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (btime > 0 && hz > 0) start = (double)btime + (double)ticks / (double)hz;
    return start;
}

static void collect_process(struct cvb_metrics *reg, void *user) {
    long rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%*s %ld", &rss_pages) != 1) rss_pages = 0;
        fclose(f);
    }
    cvb_metric_set(reg->rss, NULL, (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cvb_metric_set(reg->cpu, NULL,
                       (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6);
    cvb_metric_set(reg->log_dropped, NULL, (double)cvb_log_dropped_lines());
}

static int register_process(struct cvb_metrics *reg, struct cvb_err *err) {
    int rc = cvb_metrics_gauge(reg, "process_resident_memory_bytes",
                               "Resident memory size in bytes.", NULL, &reg->rss, err);
    if (rc == 0)
        rc = cvb_metrics_counter(reg, "process_cpu_seconds_total",
                                 "Total user and system CPU time spent in seconds.", NULL,
                                 &reg->cpu, err);
    if (rc == 0)
        rc = cvb_metrics_gauge(reg, "process_start_time_seconds",
                               "Start time of the process since unix epoch in seconds.", NULL,
                               &reg->start, err);
    if (rc == 0)
        rc = cvb_metrics_counter(reg, "cvb_log_lines_dropped_total",
                                 "Log lines dropped by the per-site rate limit or the byte cap.",
                                 NULL, &reg->log_dropped, err);
    if (rc == 0) {
        double t = process_start_time();
        if (t <= 0) t = (double)time(NULL);
        rc = cvb_metric_set(reg->start, NULL, t);
    }
    if (rc == 0) rc = cvb_metrics_on_collect(reg, collect_process, NULL, err);
    return rc;
}

int cvb_metrics_new(unsigned flags, struct cvb_metrics **out, struct cvb_err *err) {
    struct cvb_metrics *reg = calloc(1, sizeof *reg);
    int rc = 0;
    *out = NULL;
    if (reg == NULL) return cvb_err_set(err, CVB_ENOMEM, "metrics registry: out of memory");
    pthread_mutex_init(&reg->lock, NULL);
    rc = cvb_metrics_counter(reg, DROPPED_NAME,
                             "Metric updates dropped: series cap reached or label values too long.",
                             NULL, &reg->dropped, err);
    if (rc == 0 && (flags & CVB_METRICS_PROCESS)) rc = register_process(reg, err);
    if (rc < 0) {
        cvb_metrics_free(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void cvb_metrics_free(struct cvb_metrics *reg) {
    if (reg == NULL) return;
    for (unsigned i = 0; i < reg->n_families; i++) family_free(reg->families[i]);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

/* ---- updates ------------------------------------------------------------------------ */

/* Find or create the series for 'values'; called with the lock held.
 * Returns NULL when the update must be dropped (*rc says why). */
static struct series *series_get(struct cvb_metric *m, const char *const *values, int *rc) {
    char key[CVB_METRICS_LABELS_BYTES];
    size_t len = 0;
    unsigned n = 0;
    *rc = 0;
    if (values != NULL)
        for (; n <= m->n_labels && values[n] != NULL; n++) {
            size_t l = strlen(values[n]) + 1;
            if (len + l > sizeof key) {
                *rc = CVB_ERANGE;
                break;
            }
            memcpy(key + len, values[n], l);
            len += l;
        }
    if (*rc == 0 && n != m->n_labels) {
        cvb_log_warn("metric %s: update with %u label values, family has %u", m->name, n,
                     m->n_labels);
        *rc = CVB_EINVAL;
        return NULL;
    }
    if (*rc == 0) {
        for (unsigned i = 0; i < m->n_series; i++) {
            struct series *s = &m->series[i];
            if (s->values_len == len && memcmp(s->values, key, len) == 0) return s;
        }
        if (m->n_series == CVB_METRICS_MAX_SERIES) *rc = CVB_ERANGE;
    }
    if (*rc == CVB_ERANGE) {
        if (m != m->reg->dropped) m->reg->dropped->series[0].value += 1;
        return NULL;
    }
    struct series *s = &m->series[m->n_series++];
    memcpy(s->values, key, len);
    s->values_len = len;
    return s;
}

enum op { ADD, SET, OBSERVE };

static int update(struct cvb_metric *m, const char *const *values, double v, enum op op) {
    if (isnan(v)) return CVB_EINVAL;
    if (op == OBSERVE ? m->type != HISTOGRAM : m->type == HISTOGRAM) return CVB_EINVAL;
    if (op == ADD && m->type == COUNTER && v < 0) return CVB_EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->reg->lock);
    struct series *s = series_get(m, values, &rc);
    if (s != NULL) {
        if (op == ADD) {
            s->value += v;
        } else if (op == SET) {
            s->value = v;
        } else {
            unsigned b = 0;
            while (b < m->n_bounds && v > m->bounds[b]) b++;
            s->buckets[b]++;
            s->sum += v;
            s->count++;
        }
    }
    pthread_mutex_unlock(&m->reg->lock);
    return rc;
}

int cvb_metric_add(struct cvb_metric *m, const char *const *values, double v) {
    return update(m, values, v, ADD);
}

int cvb_metric_set(struct cvb_metric *m, const char *const *values, double v) {
    return update(m, values, v, SET);
}

int cvb_metric_observe(struct cvb_metric *m, const char *const *values, double v) {
    return update(m, values, v, OBSERVE);
}

uint64_t cvb_metrics_dropped(struct cvb_metrics *reg) {
    pthread_mutex_lock(&reg->lock);
    uint64_t n = (uint64_t)reg->dropped->series[0].value;
    pthread_mutex_unlock(&reg->lock);
    return n;
}

/* ---- exposition ---------------------------------------------------------------------- */

/* Shortest text that reads back as the same double; integers without a
 * fraction; +Inf, -Inf, NaN as Prometheus spells them. */
static void fmt_value(char *b, size_t n, double v) {
    if (isnan(v))
        snprintf(b, n, "NaN");
    else if (isinf(v))
        snprintf(b, n, "%sInf", v > 0 ? "+" : "-");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(b, n, "%.0f", v);
    else {
        snprintf(b, n, "%.15g", v);
        if (strtod(b, NULL) != v) snprintf(b, n, "%.17g", v);
    }
}

/* Append 's' escaping backslash and newline, and '"' too when 'quote'. */
static int put_escaped(struct cvb_buf *o, const char *s, int quote) {
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        if (*s == '\\')
            rc = cvb_buf_append(o, "\\\\", 2);
        else if (*s == '\n')
            rc = cvb_buf_append(o, "\\n", 2);
        else if (*s == '"' && quote)
            rc = cvb_buf_append(o, "\\\"", 2);
        else
            rc = cvb_buf_append(o, s, 1);
    }
    return rc;
}

/* One sample line: name[suffix]{labels[,le="..."]} value */
static int put_sample(struct cvb_buf *o, const struct cvb_metric *m, const struct series *s,
                      const char *suffix, const char *le, double v) {
    char num[40];
    int rc = cvb_buf_printf(o, "%s%s", m->name, suffix);
    const char *val = s->values;
    int any = m->n_labels > 0 || le != NULL;
    if (rc == 0 && any) rc = cvb_buf_append(o, "{", 1);
    for (unsigned i = 0; i < m->n_labels && rc == 0; i++) {
        rc = cvb_buf_printf(o, "%s%s=\"", i ? "," : "", m->label[i]);
        if (rc == 0) rc = put_escaped(o, val, 1);
        if (rc == 0) rc = cvb_buf_append(o, "\"", 1);
        val += strlen(val) + 1;
    }
    if (rc == 0 && le != NULL) rc = cvb_buf_printf(o, "%sle=\"%s\"", m->n_labels ? "," : "", le);
    if (rc == 0 && any) rc = cvb_buf_append(o, "}", 1);
    fmt_value(num, sizeof num, v);
    if (rc == 0) rc = cvb_buf_printf(o, " %s\n", num);
    return rc;
}

static int put_family(struct cvb_buf *o, const struct cvb_metric *m) {
    int rc = cvb_buf_printf(o, "# HELP %s ", m->name);
    if (rc == 0) rc = put_escaped(o, m->help, 0);
    if (rc == 0) rc = cvb_buf_printf(o, "\n# TYPE %s %s\n", m->name, type_name[m->type]);
    for (unsigned i = 0; i < m->n_series && rc == 0; i++) {
        const struct series *s = &m->series[i];
        if (m->type != HISTOGRAM) {
            rc = put_sample(o, m, s, "", NULL, s->value);
            continue;
        }
        uint64_t cum = 0;
        char le[40];
        for (unsigned b = 0; b < m->n_bounds && rc == 0; b++) {
            cum += s->buckets[b];
            fmt_value(le, sizeof le, m->bounds[b]);
            rc = put_sample(o, m, s, "_bucket", le, (double)cum);
        }
        if (rc == 0) rc = put_sample(o, m, s, "_bucket", "+Inf", (double)s->count);
        if (rc == 0) rc = put_sample(o, m, s, "_sum", NULL, s->sum);
        if (rc == 0) rc = put_sample(o, m, s, "_count", NULL, (double)s->count);
    }
    return rc;
}

int cvb_metrics_render(struct cvb_metrics *reg, size_t max_bytes, char **out, size_t *out_len,
                       struct cvb_err *err) {
    struct collector col[CVB_METRICS_MAX_COLLECTORS];
    struct cvb_buf o;
    int rc = 0;
    *out = NULL;
    *out_len = 0;
    pthread_mutex_lock(&reg->lock);
    unsigned n_col = reg->n_collectors;
    memcpy(col, reg->collectors, n_col * sizeof col[0]);
    pthread_mutex_unlock(&reg->lock);
    for (unsigned i = 0; i < n_col; i++) col[i].fn(reg, col[i].user);

    cvb_buf_init(&o, max_bytes);
    pthread_mutex_lock(&reg->lock);
    for (unsigned i = 0; i < reg->n_families && rc == 0; i++) rc = put_family(&o, reg->families[i]);
    pthread_mutex_unlock(&reg->lock);
    if (rc < 0) {
        cvb_buf_cleanup(&o);
        return cvb_err_set(err, rc, "metrics exposition: %s (limit %zu bytes)",
                           rc == CVB_ERANGE ? "text over the size limit" : cvb_strerror(rc),
                           max_bytes);
    }
    *out = cvb_buf_take(&o, out_len);
    if (*out == NULL) return cvb_err_set(err, CVB_ENOMEM, "metrics exposition: out of memory");
    return 0;
}
