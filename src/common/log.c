/* SPDX-License-Identifier: Apache-2.0 */
/* The process logger.
 *
 * Invariants:
 *  1. Total bytes handed to the sink never exceed max_bytes (plus one final
 *     notice line saying the cap was reached).
 *  2. One call site (file:line) emits at most SITE_BURST lines per
 *     SITE_WINDOW_NS; the rest are counted and reported in the next line
 *     that site is allowed to write.
 * Both hold whatever the run length, concurrency or engine verbosity. */
#include "cvb/common.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define SITE_SLOTS 256
#define SITE_BURST 20
#define SITE_WINDOW_NS 1000000000ull
#define DEFAULT_MAX_BYTES (64ull << 20)

struct site {
    const char *file;
    int line;
    uint64_t window_start_ns;
    unsigned n_in_window;
    uint64_t n_suppressed;
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum cvb_log_level log_level = CVB_LOG_INFO;
static uint64_t log_max_bytes = DEFAULT_MAX_BYTES;
static uint64_t log_bytes;
static int log_capped;
static uint64_t log_dropped; /* lines dropped by the site limit or the byte cap */
static cvb_log_sink log_sink;
static void *log_sink_user;
static struct site sites[SITE_SLOTS];

uint64_t cvb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cvb_log_set_level(enum cvb_log_level level) { log_level = level; }
enum cvb_log_level cvb_log_get_level(void) { return log_level; }

void cvb_log_set_max_bytes(uint64_t max_bytes) {
    pthread_mutex_lock(&log_lock);
    log_max_bytes = max_bytes ? max_bytes : DEFAULT_MAX_BYTES;
    pthread_mutex_unlock(&log_lock);
}

void cvb_log_set_sink(cvb_log_sink sink, void *user) {
    pthread_mutex_lock(&log_lock);
    log_sink = sink;
    log_sink_user = user;
    pthread_mutex_unlock(&log_lock);
}

uint64_t cvb_log_dropped_lines(void) {
    pthread_mutex_lock(&log_lock);
    uint64_t n = log_dropped;
    pthread_mutex_unlock(&log_lock);
    return n;
}

static const char *level_name(enum cvb_log_level level) {
    switch (level) {
    case CVB_LOG_ERROR: return "error";
    case CVB_LOG_WARN: return "warn";
    case CVB_LOG_INFO: return "info";
    case CVB_LOG_DEBUG: return "debug";
    }
    return "?";
}

static void emit(enum cvb_log_level level, const char *line) {
    if (log_sink != NULL)
        log_sink(level, line, log_sink_user);
    else
        fputs(line, stderr);
}

/* Returns the number of lines suppressed before this one, or -1 when this
 * line must be dropped. Called with log_lock held. */
static long long site_admit(const char *file, int line, uint64_t now) {
    uintptr_t h = ((uintptr_t)file * 31u + (uintptr_t)line) % SITE_SLOTS;
    struct site *s = &sites[h];
    if (s->file != file || s->line != line) {
        /* slot collision: the newest site takes the slot over */
        memset(s, 0, sizeof *s);
        s->file = file;
        s->line = line;
        s->window_start_ns = now;
    }
    if (now - s->window_start_ns >= SITE_WINDOW_NS) {
        s->window_start_ns = now;
        s->n_in_window = 0;
    }
    if (s->n_in_window >= SITE_BURST) {
        s->n_suppressed++;
        return -1;
    }
    s->n_in_window++;
    long long n = (long long)s->n_suppressed;
    s->n_suppressed = 0;
    return n;
}

void cvb__log(enum cvb_log_level level, const char *file, int line, const char *fmt, ...) {
    if (level > log_level) return;
    char buf[1024];
    int off;
    pthread_mutex_lock(&log_lock);
    if (log_capped) {
        log_dropped++;
        goto out;
    }
    long long suppressed = site_admit(file, line, cvb_now_ns());
    if (suppressed < 0) {
        log_dropped++;
        goto out;
    }
    off = snprintf(buf, sizeof buf, "cvbench: %s: ", level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + off, sizeof buf - (size_t)off, fmt, ap);
    va_end(ap);
    off = n < 0 ? off : off + n;
    if (off > (int)sizeof buf - 64) off = (int)sizeof buf - 64;
    if (suppressed > 0)
        off += snprintf(buf + off, sizeof buf - (size_t)off, " (%lld similar lines suppressed)",
                        suppressed);
    buf[off++] = '\n';
    buf[off] = '\0';
    if (log_bytes + (uint64_t)off > log_max_bytes) {
        log_capped = 1;
        log_dropped++;
        emit(CVB_LOG_WARN, "cvbench: warn: log byte cap reached; further log output dropped\n");
        goto out;
    }
    log_bytes += (uint64_t)off;
    emit(level, buf);
out:
    pthread_mutex_unlock(&log_lock);
}
