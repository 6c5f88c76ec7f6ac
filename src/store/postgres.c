/* SPDX-License-Identifier: Apache-2.0 */
/* PostgreSQL store: PLACEHOLDER until the real implementation (H3, branch
 * with src/store/postgres.c against store_impl.h) replaces this file. It
 * defines cvb__store_postgres_ops so that store.c links, and its open()
 * refuses every postgresql:// URL loudly. No other slot can be reached:
 * a handle is never created. */
#include "store/store_impl.h"

static int pg_open(const char *target, const char *name, void **ctx, struct cvb_err *err) {
    (void)target;
    *ctx = NULL;
    return cvb_err_set(err, CVB_EUNSUPPORTED,
                       "PostgreSQL store %s: not built yet (src/store/postgres.c is a placeholder "
                       "in this build); use an SQLite file",
                       name);
}

static void pg_close(void *ctx) { (void)ctx; }

const struct cvb__store_ops cvb__store_postgres_ops = {
    .kind = "postgresql",
    .open = pg_open,
    .close = pg_close,
};
