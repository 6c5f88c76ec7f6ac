/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the files of src/pipeline/: /proc readers. */
#ifndef CVB_PIPELINE_INTERNAL_H
#define CVB_PIPELINE_INTERNAL_H

#include "cvb/pipeline.h"

#include <stdint.h>

/* Process CPU time (user + system) in seconds, from /proc/self/stat. */
double cvb__proc_cpu_s(void);
/* Whole-machine CPU jiffies from the first line of /proc/stat: busy and total. */
void cvb__sys_cpu(uint64_t *busy, uint64_t *total);
/* A field of /proc/meminfo in bytes ("MemAvailable"), or -1. */
int64_t cvb__meminfo(const char *key);
/* Give freed heap pages back to the kernel (malloc_trim). */
void cvb__trim(void);
/* Fix glibc's mmap threshold (see system.c), once per process. */
void cvb__malloc_policy(void);

#endif
