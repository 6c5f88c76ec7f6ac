/* SPDX-License-Identifier: Apache-2.0 */
/* Results store: runs, levels, optional per-frame samples.
 *
 * Embedded implementation: SQLite (src/store/sqlite.c, the only module that
 * includes sqlite3.h). The schema is shared with the service's PostgreSQL
 * store (another issue): runs(id, ...), levels(run_id, level, ...),
 * frames(run_id, level, ...). */
#ifndef CVB_STORE_H
#define CVB_STORE_H

#include "cvb/common.h"
#include "cvb/result.h"

struct cvb_store;

/* Open (creating if needed, with the schema) the database at 'path'. */
int cvb_store_open(const char *path, struct cvb_store **out, struct cvb_err *err);
void cvb_store_close(struct cvb_store *st);

/* Record a new run (status "running"). */
int cvb_store_put_run(struct cvb_store *st, const struct cvb_manifest *m, struct cvb_err *err);
/* Record one finished level of run 'run_id'. */
int cvb_store_put_level(struct cvb_store *st, const char *run_id, const struct cvb_level_result *r,
                        struct cvb_err *err);
/* Record per-frame samples of a level (at most CVB_MAX_FRAME_SAMPLES kept). */
int cvb_store_put_frames(struct cvb_store *st, const char *run_id, int level,
                         const struct cvb_frame_sample *s, int n, struct cvb_err *err);
/* Replace the stored manifest of run m->run_id (e.g. with the density
 * answer, known only at the end). */
int cvb_store_update_run(struct cvb_store *st, const struct cvb_manifest *m, struct cvb_err *err);
/* Mark the run finished: status "done", "failed" or "interrupted". */
int cvb_store_finish_run(struct cvb_store *st, const char *run_id, const char *status,
                         struct cvb_err *err);
/* Load run 'run_id' (NULL or "latest": the most recent) with up to
 * max_levels levels in level order. */
int cvb_store_get_run(struct cvb_store *st, const char *run_id, struct cvb_manifest *m,
                      struct cvb_level_result *levels, int max_levels, int *n_levels,
                      struct cvb_err *err);

/* The SQLite library in use, for run manifests: "SQLite 3.40.1". */
const char *cvb_store_version(void);

#endif
