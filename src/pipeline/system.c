/* SPDX-License-Identifier: Apache-2.0 */
/* What the pipeline reads about the machine and the process from /proc and
 * /sys: RSS, CPU time, memory, the cgroup limit, the core count. Each
 * reader is a few syscalls on a small fixed buffer; the RSS sampler calls
 * cvb_pipeline_rss_bytes() at 20 Hz during a level. */
#include "pipeline/internal.h"

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = '\0';
    return (int)n;
}

int64_t cvb_pipeline_rss_bytes(void) {
    char buf[128];
    long long size = 0, rss = 0;
    if (read_small("/proc/self/statm", buf, sizeof buf) < 0) return 0;
    if (sscanf(buf, "%lld %lld", &size, &rss) != 2) return 0;
    return (int64_t)rss * sysconf(_SC_PAGESIZE);
}

double cvb__proc_cpu_s(void) {
    char buf[1024];
    if (read_small("/proc/self/stat", buf, sizeof buf) < 0) return 0;
    /* The command name (field 2) may contain spaces: parse after its ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL) return 0;
    p += 2; /* field 3 */
    unsigned long long utime = 0, stime = 0;
    /* fields 3..13 skipped, 14 utime, 15 stime */
    if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

void cvb__sys_cpu(uint64_t *busy, uint64_t *total) {
    char buf[512];
    unsigned long long v[10] = {0};
    *busy = *total = 0;
    if (read_small("/proc/stat", buf, sizeof buf) < 0) return;
    int n = sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (n < 4) return;
    uint64_t t = 0;
    for (int i = 0; i < 8 && i < n; i++) t += v[i]; /* guest time is already in user */
    *total = t;
    *busy = t - v[3] - (n > 4 ? v[4] : 0); /* minus idle and iowait */
}

int64_t cvb__meminfo(const char *key) {
    char buf[8192];
    if (read_small("/proc/meminfo", buf, sizeof buf) < 0) return -1;
    size_t kl = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            long long kb = 0;
            if (sscanf(line + kl + 1, "%lld", &kb) == 1) return (int64_t)kb * 1024;
        }
    }
    return -1;
}

void cvb__trim(void) { malloc_trim(0); }

/* Large buffers (frames, pools, decoder pictures, engine arenas) are
 * allocated once per level and freed at its end. glibc raises its mmap
 * threshold each time such a block is freed (up to 32 MiB), after which
 * those blocks come from the heaps of per-thread arenas, where
 * fragmentation keeps the memory after free: RSS would not return to its
 * baseline after a level with many streams. A fixed threshold keeps every
 * block >= 256 KiB in its own mapping, returned to the kernel on free. */
void cvb__malloc_policy(void) {
    static int done;
    if (done) return;
    done = 1;
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    /* One arena: per-thread arenas (up to 8 x cores) each keep fragments of
     * what 64 stream threads' decoders allocated, measured as 10-70 MiB of
     * RSS left after a 64-stream level; with one arena RSS returns to within
     * 2 %. Allocation is not on the hot path (FFmpeg's demuxer allocates one
     * packet per frame), so the shared lock costs nothing measurable. */
    mallopt(M_ARENA_MAX, 1);
}

int64_t cvb_pipeline_memory_budget(const struct cvb_scenario *s) {
    if (s->memory_budget > 0) return s->memory_budget;
    int64_t avail = cvb__meminfo("MemAvailable");
    if (avail <= 0) avail = cvb__meminfo("MemTotal");
    char buf[64];
    if (read_small("/sys/fs/cgroup/memory.max", buf, sizeof buf) > 0 &&
        strncmp(buf, "max", 3) != 0) {
        long long lim = atoll(buf), cur = 0;
        char cbuf[64];
        if (read_small("/sys/fs/cgroup/memory.current", cbuf, sizeof cbuf) > 0) cur = atoll(cbuf);
        /* The cgroup's headroom counts this process's own RSS as used; the
         * level estimate is compared with baseline + estimate, so add the
         * process back. */
        long long room = lim - cur + cvb_pipeline_rss_bytes();
        if (lim > 0 && (avail <= 0 || room < avail)) avail = room;
    }
    if (avail <= 0) avail = (int64_t)1 << 30;
    return avail / 10 * 8;
}
