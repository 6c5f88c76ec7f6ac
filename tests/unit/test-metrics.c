/* SPDX-License-Identifier: Apache-2.0 */
/* The metrics registry: exact exposition text for a counter, gauges and a
 * histogram with labels and escaping; the series and family caps and the
 * dropped-series counter; refused registrations and updates; collectors;
 * concurrent updates; and, when promtool (Debian's prometheus package) is
 * installed, `promtool check metrics` on a full exposition as the peer
 * check of the format. */
#include "metrics/metrics.h"
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static struct cvb_metrics *new_reg(unsigned flags) {
    struct cvb_metrics *reg = NULL;
    struct cvb_err err = {0};
    if (cvb_metrics_new(flags, &reg, &err) < 0) fprintf(stderr, "  %s\n", err.msg);
    return reg;
}

static char *render(struct cvb_metrics *reg) {
    char *text = NULL;
    size_t len = 0;
    struct cvb_err err = {0};
    if (cvb_metrics_render(reg, CVB_METRICS_RENDER_MAX, &text, &len, &err) < 0)
        fprintf(stderr, "  render: %s\n", err.msg);
    return text;
}

/* The families test_exposition and test_promtool both use. */
static void fill(struct cvb_metrics *reg) {
    struct cvb_err err = {0};
    struct cvb_metric *tasks, *depth, *temp, *level, *plain;
    static const double bounds[] = {0.1, 1, 10};
    CHECK_EQ_INT(cvb_metrics_counter(reg, "cvb_tasks_total", "Tasks by state.\nSecond \\ line",
                                     "queue,state", &tasks, &err), 0);
    CHECK_EQ_INT(cvb_metrics_gauge(reg, "cvb_queue_depth", "Tasks waiting.", NULL, &depth, &err), 0);
    CHECK_EQ_INT(cvb_metrics_gauge(reg, "cvb_temperature_celsius", "A gauge with labels.",
                                   "sensor", &temp, &err), 0);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "cvb_level_seconds", "Level duration.", "backend",
                                       bounds, 3, &level, &err), 0);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "cvb_request_seconds", "No labels.", NULL, bounds, 3,
                                       &plain, &err), 0);
    CHECK_EQ_INT(cvb_metric_inc(tasks, CVB_LABELS("redis", "done")), 0);
    CHECK_EQ_INT(cvb_metric_inc(tasks, CVB_LABELS("redis", "done")), 0);
    CHECK_EQ_INT(cvb_metric_add(tasks, CVB_LABELS("sqlite", "failed"), 3), 0);
    CHECK_EQ_INT(cvb_metric_inc(tasks, CVB_LABELS("a\"b\\c\n", "x")), 0);
    CHECK_EQ_INT(cvb_metric_set(depth, NULL, 7.5), 0);
    CHECK_EQ_INT(cvb_metric_set(temp, CVB_LABELS("cpu0"), -2.25), 0);
    CHECK_EQ_INT(cvb_metric_set(temp, CVB_LABELS("cpu1"), 0.1), 0);
    CHECK_EQ_INT(cvb_metric_set(temp, CVB_LABELS("gpu"), INFINITY), 0);
    CHECK_EQ_INT(cvb_metric_observe(level, CVB_LABELS("cpu"), 0.05), 0);
    CHECK_EQ_INT(cvb_metric_observe(level, CVB_LABELS("cpu"), 1), 0); /* le is inclusive */
    CHECK_EQ_INT(cvb_metric_observe(level, CVB_LABELS("cpu"), 20.45), 0);
    CHECK_EQ_INT(cvb_metric_observe(level, CVB_LABELS("kserve"), 0.5), 0);
}

static void test_exposition(void) {
    struct cvb_metrics *reg = new_reg(0);
    fill(reg);
    char *text = render(reg);
    static const char want[] =
        "# HELP cvb_metrics_dropped_series_total Metric updates dropped: series cap reached or label values too long.\n"
        "# TYPE cvb_metrics_dropped_series_total counter\n"
        "cvb_metrics_dropped_series_total 0\n"
        "# HELP cvb_tasks_total Tasks by state.\\nSecond \\\\ line\n"
        "# TYPE cvb_tasks_total counter\n"
        "cvb_tasks_total{queue=\"redis\",state=\"done\"} 2\n"
        "cvb_tasks_total{queue=\"sqlite\",state=\"failed\"} 3\n"
        "cvb_tasks_total{queue=\"a\\\"b\\\\c\\n\",state=\"x\"} 1\n"
        "# HELP cvb_queue_depth Tasks waiting.\n"
        "# TYPE cvb_queue_depth gauge\n"
        "cvb_queue_depth 7.5\n"
        "# HELP cvb_temperature_celsius A gauge with labels.\n"
        "# TYPE cvb_temperature_celsius gauge\n"
        "cvb_temperature_celsius{sensor=\"cpu0\"} -2.25\n"
        "cvb_temperature_celsius{sensor=\"cpu1\"} 0.1\n"
        "cvb_temperature_celsius{sensor=\"gpu\"} +Inf\n"
        "# HELP cvb_level_seconds Level duration.\n"
        "# TYPE cvb_level_seconds histogram\n"
        "cvb_level_seconds_bucket{backend=\"cpu\",le=\"0.1\"} 1\n"
        "cvb_level_seconds_bucket{backend=\"cpu\",le=\"1\"} 2\n"
        "cvb_level_seconds_bucket{backend=\"cpu\",le=\"10\"} 2\n"
        "cvb_level_seconds_bucket{backend=\"cpu\",le=\"+Inf\"} 3\n"
        "cvb_level_seconds_sum{backend=\"cpu\"} 21.5\n"
        "cvb_level_seconds_count{backend=\"cpu\"} 3\n"
        "cvb_level_seconds_bucket{backend=\"kserve\",le=\"0.1\"} 0\n"
        "cvb_level_seconds_bucket{backend=\"kserve\",le=\"1\"} 1\n"
        "cvb_level_seconds_bucket{backend=\"kserve\",le=\"10\"} 1\n"
        "cvb_level_seconds_bucket{backend=\"kserve\",le=\"+Inf\"} 1\n"
        "cvb_level_seconds_sum{backend=\"kserve\"} 0.5\n"
        "cvb_level_seconds_count{backend=\"kserve\"} 1\n"
        "# HELP cvb_request_seconds No labels.\n"
        "# TYPE cvb_request_seconds histogram\n"
        "cvb_request_seconds_bucket{le=\"0.1\"} 0\n"
        "cvb_request_seconds_bucket{le=\"1\"} 0\n"
        "cvb_request_seconds_bucket{le=\"10\"} 0\n"
        "cvb_request_seconds_bucket{le=\"+Inf\"} 0\n"
        "cvb_request_seconds_sum 0\n"
        "cvb_request_seconds_count 0\n";
    CHECK(text != NULL && strcmp(text, want) == 0);
    if (text != NULL && strcmp(text, want) != 0) fprintf(stderr, "got:\n%s", text);
    /* too small a limit is refused, not truncated */
    char *small = NULL;
    size_t len = 0;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_metrics_render(reg, 100, &small, &len, &err), CVB_ERANGE);
    CHECK(small == NULL && strstr(err.msg, "limit 100 bytes") != NULL);
    free(text);
    cvb_metrics_free(reg);
}

static void test_series_cap(void) {
    struct cvb_metrics *reg = new_reg(0);
    struct cvb_metric *m;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_metrics_counter(reg, "cvb_by_id_total", "One series per id.", "id", &m, &err),
                 0);
    int ok = 0, dropped = 0;
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i);
        int rc = cvb_metric_inc(m, CVB_LABELS(id));
        ok += rc == 0;
        dropped += rc == CVB_ERANGE;
    }
    CHECK_EQ_INT(ok, CVB_METRICS_MAX_SERIES);
    CHECK_EQ_INT(dropped, 200 - CVB_METRICS_MAX_SERIES);
    /* existing series still update; a value over the label bytes is dropped */
    CHECK_EQ_INT(cvb_metric_inc(m, CVB_LABELS("w0")), 0);
    char huge[CVB_METRICS_LABELS_BYTES + 1];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    CHECK_EQ_INT(cvb_metric_inc(m, CVB_LABELS(huge)), CVB_ERANGE);
    CHECK_EQ_INT(cvb_metrics_dropped(reg), 200 - CVB_METRICS_MAX_SERIES + 1);
    char *text = render(reg);
    CHECK(text && strstr(text, "\ncvb_metrics_dropped_series_total 73\n"));
    CHECK(text && strstr(text, "\ncvb_by_id_total{id=\"w0\"} 2\n"));
    CHECK(text && strstr(text, "{id=\"w127\"} 1\n") && !strstr(text, "{id=\"w128\"}"));
    free(text);
    /* the family cap */
    int rc = 0, added = 0;
    for (int i = 0; rc == 0 && i < 100; i++) {
        char name[32];
        snprintf(name, sizeof name, "cvb_g%d", i);
        rc = cvb_metrics_gauge(reg, name, "filler", NULL, &m, &err);
        added += rc == 0;
    }
    CHECK_EQ_INT(rc, CVB_ERANGE);
    CHECK_EQ_INT(2 + added, CVB_METRICS_MAX_FAMILIES); /* + dropped_series and by_id */
    CHECK(strstr(err.msg, "registry full") != NULL);
    cvb_metrics_free(reg);
}

static void test_refused(void) {
    struct cvb_metrics *reg = new_reg(0);
    struct cvb_metric *m = NULL, *c, *h;
    struct cvb_err err = {0};
    static const double b_ok[] = {1, 2}, b_bad[] = {2, 1}, b_inf[] = {1, INFINITY};
    CHECK_EQ_INT(cvb_metrics_counter(reg, "1abc", "x", NULL, &m, &err), CVB_EINVAL);
    CHECK(m == NULL && strstr(err.msg, "'1abc'") != NULL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "a-b", "x", NULL, &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", "__x", &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", "a,,b", &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", "a,a", &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", "a,b,c,d,e", &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "h", "x", "le", b_ok, 2, &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "h", "x", NULL, b_bad, 2, &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "h", "x", NULL, b_inf, 2, &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "h", "x", NULL, b_ok, 0, &m, &err), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", "a,b", &c, &err), 0);
    CHECK_EQ_INT(cvb_metrics_counter(reg, "ok_total", "x", NULL, &m, &err), CVB_EINVAL);
    CHECK(strstr(err.msg, "registered twice") != NULL);
    CHECK_EQ_INT(cvb_metrics_histogram(reg, "h", "x", "a", b_ok, 2, &h, &err), 0);
    /* updates that do not fit */
    CHECK_EQ_INT(cvb_metric_inc(c, CVB_LABELS("only-one")), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_inc(c, CVB_LABELS("1", "2", "3")), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_inc(c, NULL), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_add(c, CVB_LABELS("1", "2"), -1), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_add(c, CVB_LABELS("1", "2"), NAN), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_observe(c, CVB_LABELS("1", "2"), 1), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metric_add(h, CVB_LABELS("1"), 1), CVB_EINVAL);
    CHECK_EQ_INT(cvb_metrics_dropped(reg), 0);
    char *text = render(reg);
    CHECK(text && strstr(text, "# TYPE ok_total counter\n# HELP h x\n")); /* no series yet */
    free(text);
    cvb_metrics_free(reg);
    cvb_metrics_free(NULL);
}

static int n_collect;

static void collect(struct cvb_metrics *reg, void *user) {
    n_collect++;
    cvb_metric_set(user, NULL, 40 + n_collect);
}

static void test_collector(void) {
    struct cvb_metrics *reg = new_reg(CVB_METRICS_PROCESS);
    struct cvb_metric *g;
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_metrics_gauge(reg, "cvb_queue_depth", "Read at scrape time.", NULL, &g, &err),
                 0);
    CHECK_EQ_INT(cvb_metrics_on_collect(reg, collect, g, &err), 0);
    char *text = render(reg);
    CHECK_EQ_INT(n_collect, 1);
    CHECK(text && strstr(text, "\ncvb_queue_depth 41\n"));
    CHECK(text && strstr(text, "\n# TYPE process_cpu_seconds_total counter\n"));
    CHECK(text && strstr(text, "\n# TYPE cvb_log_lines_dropped_total counter\n"));
    const char *rss = text ? strstr(text, "\nprocess_resident_memory_bytes ") : NULL;
    CHECK(rss && atof(rss + 31) > 1e5);
    const char *st = text ? strstr(text, "\nprocess_start_time_seconds ") : NULL;
    CHECK(st && fabs(atof(st + 28) - (double)time(NULL)) < 3600);
    free(text);
    cvb_metrics_free(reg);
}

static struct cvb_metric *shared;

static void *hammer(void *arg) {
    const char *lbl = arg;
    for (int i = 0; i < 20000; i++) cvb_metric_inc(shared, CVB_LABELS(lbl));
    return NULL;
}

static void test_threads(void) {
    struct cvb_metrics *reg = new_reg(0);
    struct cvb_err err = {0};
    CHECK_EQ_INT(cvb_metrics_counter(reg, "cvb_hits_total", "Hits.", "t", &shared, &err), 0);
    pthread_t th[4];
    static const char *lbl[] = {"a", "b", "a", "b"};
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, (void *)lbl[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    char *text = render(reg);
    /* which thread created its series first decides the order */
    CHECK(text && strstr(text, "\ncvb_hits_total{t=\"a\"} 40000\n"));
    CHECK(text && strstr(text, "\ncvb_hits_total{t=\"b\"} 40000\n"));
    free(text);
    cvb_metrics_free(reg);
}

/* The peer check: Prometheus' own parser and linter on our text. */
static void test_promtool(void) {
    const char *promtool = "/usr/bin/promtool";
    if (access(promtool, X_OK) != 0) {
        printf("  SKIP part: promtool not installed (Debian: apt install prometheus); "
               "the exposition was checked against the expected text only\n");
        return;
    }
    struct cvb_metrics *reg = new_reg(CVB_METRICS_PROCESS);
    fill(reg);
    char *text = render(reg);
    char path[] = "/tmp/cvb-metrics-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && text != NULL);
    if (fd < 0 || text == NULL) return;
    CHECK_EQ_INT(write(fd, text, strlen(text)), strlen(text));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s check metrics < %s 2>&1", promtool, path);
    FILE *p = popen(cmd, "r");
    char out[4096] = "";
    size_t n = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[n] = '\0';
    int status = p ? pclose(p) : -1;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(n == 0);
    printf("  promtool check metrics: exit %d%s%s\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
           n ? ", said: " : ", no complaints", out);
    unlink(path);
    free(text);
    cvb_metrics_free(reg);
}


int main(void) {
    RUN(test_exposition);
    RUN(test_series_cap);
    RUN(test_refused);
    RUN(test_collector);
    RUN(test_threads);
    RUN(test_promtool);
    return test_summary();
}
