/* SPDX-License-Identifier: Apache-2.0 */
/* Reports of a run: console progress and summary table, JSON, CSV, and a
 * self-contained HTML page with inline SVG charts (no network needed). */
#ifndef CVB_REPORT_H
#define CVB_REPORT_H

#include "cvb/common.h"
#include "cvb/result.h"

#include <stdbool.h>
#include <stdio.h>

/* One progress update: on a TTY rewrites the current line ("\r"), otherwise
 * prints a plain line (the caller rate-limits calls: ~1 per second). */
void cvb_report_progress(FILE *f, bool tty, const struct cvb_progress *p);
/* The end-of-run summary table, one row per level. */
void cvb_report_table(FILE *f, const struct cvb_manifest *m, const struct cvb_level_result *lv,
                      int n);
int cvb_report_json(const char *path, const struct cvb_manifest *m,
                    const struct cvb_level_result *lv, int n, struct cvb_err *err);
int cvb_report_csv(const char *path, const struct cvb_manifest *m,
                   const struct cvb_level_result *lv, int n, struct cvb_err *err);
/* The same HTML report written to the open stream 'f' ('name' names it in
 * errors): the service serves it from memory. */
int cvb_report_html_stream(FILE *f, const char *name, const struct cvb_manifest *m,
                           const struct cvb_level_result *lv, int n, struct cvb_err *err);
int cvb_report_html(const char *path, const struct cvb_manifest *m,
                    const struct cvb_level_result *lv, int n, struct cvb_err *err);
/* Per-level deltas of run b against run a (same stream counts matched). */
void cvb_report_compare(FILE *f, const struct cvb_manifest *ma, const struct cvb_level_result *a,
                        int na, const struct cvb_manifest *mb, const struct cvb_level_result *b,
                        int nb);

#endif
