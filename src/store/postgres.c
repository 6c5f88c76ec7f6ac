/* SPDX-License-Identifier: Apache-2.0 */
/* Results and task store, PostgreSQL implementation: the slots of struct
 * cvb__store_ops (store_impl.h) on libpq. The only file that includes
 * libpq-fe.h. store.c above it validates arguments, holds the per-handle
 * mutex (a libpq connection is not thread-safe: one call at a time per
 * handle), brackets transactions and makes the task-state decisions; this
 * file only runs statements, on one connection per handle.
 *
 * Schema: version 2, the shared DDL of store_impl.h (cvb__store_schema_v2),
 * plus schema_version(version). There never was a PostgreSQL store of
 * version 1, so an existing schema is only checked, never migrated.
 *
 * Invariants:
 *  1. Every value travels as a parameter (PQexecParams, text format); no
 *     value is ever spliced into SQL text. Every list query has a LIMIT.
 *  2. Schema creation and the version check run in one transaction that
 *     first takes pg_advisory_xact_lock(SCHEMA_LOCK_KEY): two processes
 *     opening an empty database at once create it once, and neither sees it
 *     half made. A schema newer than this code is refused, never written.
 *  3. A broken connection is reset (PQreset) at most once per statement,
 *     and only where repeating is harmless: before a statement is sent, or
 *     for BEGIN and reads outside a transaction. A connection lost inside a
 *     transaction, or during a write or COMMIT, fails the call (CVB_EIO,
 *     "connection lost ... outcome unknown" for COMMIT); the next call
 *     reconnects. A server that stays gone is reported as unreachable.
 *  4. The store's clock is the server's: extract(epoch from
 *     clock_timestamp()), the clock lease_until is compared with.
 *  5. Every error message names the store by its URL without password
 *     ("PostgreSQL store postgresql://u@h:5432/db: <action>: <problem>").
 *
 * Transactions: begin(write) is READ COMMITTED, where the task rows a
 * decision depends on are locked (task_get FOR UPDATE inside a write
 * transaction; task_candidates FOR UPDATE SKIP LOCKED, so concurrent
 * claimers each take a different task and never wait for each other);
 * begin(read) is REPEATABLE READ READ ONLY, one snapshot. */
#include "store/store_impl.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_LOCK_KEY      "7166478237152116736" /* arbitrary, fixed: "cvbstore" */
#define CONNECT_TIMEOUT_S    "10"
#define MAX_PARAMS           32
#define FRAMES_PER_INSERT    1000
#define LIST_HARD_MAX        100000 /* a list asked for more rows than this is refused */

_Static_assert(CVB_STAGE_COUNT == 5, "the stage columns below list five stages");

struct pg {
    PGconn *conn;
    char name[512]; /* URL without password, for messages */
    bool in_txn;
    bool txn_write;
};

/* ---- parameters ------------------------------------------------------------------
 * Text-format parameters with their own storage for numbers. */
struct params {
    int n;
    const char *v[MAX_PARAMS];
    char num[MAX_PARAMS][32];
};

static void p_str(struct params *p, const char *s) {
    p->v[p->n++] = s; /* NULL: SQL NULL */
}
static void p_int(struct params *p, long long x) {
    snprintf(p->num[p->n], sizeof p->num[0], "%lld", x);
    p->v[p->n] = p->num[p->n];
    p->n++;
}
static void p_dbl(struct params *p, double x) {
    snprintf(p->num[p->n], sizeof p->num[0], "%.17g", x); /* nan / inf: float8in accepts both */
    p->v[p->n] = p->num[p->n];
    p->n++;
}
static void p_bool(struct params *p, bool b) {
    p->v[p->n++] = b ? "1" : "0";
}

/* ---- errors ------------------------------------------------------------------------ */

/* libpq messages span lines ("...failed: Connection refused\n\tIs the
 * server running..."): one line for cvb_err. */
static void one_line(char *dst, size_t cap, const char *src) {
    size_t j = 0;
    bool space = false;
    for (size_t i = 0; src && src[i] && j + 1 < cap; i++) {
        char c = src[i];
        if (c == '\n' || c == '\t' || c == '\r') {
            space = j > 0;
            continue;
        }
        if (space) {
            dst[j++] = ' ';
            space = false;
            if (j + 1 >= cap) break;
        }
        dst[j++] = c;
    }
    dst[j] = '\0';
}

static int map_sqlstate(const char *state) {
    if (state == NULL) return CVB_EIO;
    if (strcmp(state, "23503") == 0) return CVB_ENOTFOUND; /* foreign key: no such run */
    if (strncmp(state, "23", 2) == 0) return CVB_EINVAL;   /* integrity constraint */
    if (strncmp(state, "22", 2) == 0) return CVB_EINVAL;   /* data exception */
    if (strcmp(state, "53200") == 0) return CVB_ENOMEM;    /* out of memory */
    if (strncmp(state, "42", 2) == 0) return CVB_EINTERNAL; /* syntax / undefined: our bug */
    return CVB_EIO; /* connection, resources, serialization, admin shutdown ... */
}

static int fail_conn(struct pg *pg, const char *what, const char *how, struct cvb_err *err) {
    char msg[300];
    one_line(msg, sizeof msg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
    return cvb_err_set(err, CVB_EIO, "PostgreSQL store %s: %s: %s%s%s", pg->name, what, how,
                       msg[0] ? ": " : "", msg);
}

static int fail_res(struct pg *pg, const PGresult *res, const char *what, struct cvb_err *err) {
    char msg[300];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    one_line(msg, sizeof msg, primary ? primary : PQerrorMessage(pg->conn));
    return cvb_err_set(err, map_sqlstate(state), "PostgreSQL store %s: %s: %s%s%s%s", pg->name,
                       what, msg, state ? " (SQLSTATE " : "", state ? state : "",
                       state ? ")" : "");
}

/* ---- statements ---------------------------------------------------------------------- */

enum retry { NO_RETRY, RETRY_SAFE };

/* Make sure the connection is up before sending: reset a broken one, once.
 * Inside a transaction a broken connection means the transaction is gone. */
static int ensure_conn(struct pg *pg, const char *what, struct cvb_err *err) {
    if (PQstatus(pg->conn) == CONNECTION_OK) return 0;
    if (pg->in_txn)
        return fail_conn(pg, what, "connection lost inside a transaction (rolled back)", err);
    cvb_log_warn("PostgreSQL store %s: connection broken, reconnecting", pg->name);
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return fail_conn(pg, what, "server unreachable (reconnect failed)", err);
    return 0;
}

/* Run 'sql' with parameters 'p' (may be NULL). On success *out (if not
 * NULL) holds the result, to PQclear; returns 0. On failure returns a
 * negative status described in 'err'. See invariant 3 for 'retry'. */
static int run(struct pg *pg, const char *what, const char *sql, const struct params *p,
               enum retry retry, PGresult **out, struct cvb_err *err) {
    if (out) *out = NULL;
    int rc = ensure_conn(pg, what, err);
    if (rc < 0) return rc;
    for (int tries = 0;; tries++) {
        PGresult *res = PQexecParams(pg->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL,
                                     NULL, 0);
        ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            if (out)
                *out = res;
            else
                PQclear(res);
            return 0;
        }
        if (PQstatus(pg->conn) != CONNECTION_BAD) {
            rc = fail_res(pg, res, what, err);
            PQclear(res);
            return rc;
        }
        PQclear(res);
        /* The connection broke under this statement. */
        if (retry == RETRY_SAFE && !pg->in_txn && tries == 0) {
            cvb_log_warn("PostgreSQL store %s: %s: connection lost, reconnecting once", pg->name,
                         what);
            PQreset(pg->conn);
            if (PQstatus(pg->conn) == CONNECTION_OK) continue;
            return fail_conn(pg, what, "connection lost and server unreachable", err);
        }
        return fail_conn(pg, what,
                         pg->in_txn ? "connection lost inside a transaction (rolled back)"
                                    : "connection lost (server gone or restarted?); the "
                                      "statement may or may not have been applied",
                         err);
    }
}

/* Rows a write changed (PQcmdTuples). */
static int changed_rows(PGresult *res) {
    const char *t = PQcmdTuples(res);
    return t && t[0] ? atoi(t) : 0;
}

static void copy_col(char *dst, size_t cap, PGresult *res, int row, int col) {
    snprintf(dst, cap, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}
#define COPY_COL(dst, res, row, col) copy_col(dst, sizeof(dst), res, row, col)

static double dbl_col(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? 0.0 : strtod(PQgetvalue(res, row, col), NULL);
}
static long long int_col(PGresult *res, int row, int col) {
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* *out = malloc'ed copy of a text column, NULL for SQL NULL. */
static int dup_col(struct pg *pg, PGresult *res, int row, int col, char **out,
                   struct cvb_err *err) {
    *out = NULL;
    if (PQgetisnull(res, row, col)) return 0;
    *out = strdup(PQgetvalue(res, row, col));
    if (*out == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "PostgreSQL store %s: out of memory", pg->name);
    return 0;
}

static int check_max(struct pg *pg, int max, const char *what, struct cvb_err *err) {
    if (max < 0 || max > LIST_HARD_MAX)
        return cvb_err_set(err, CVB_ERANGE, "PostgreSQL store %s: %s: max %d out of range 0..%d",
                           pg->name, what, max, LIST_HARD_MAX);
    return 0;
}

/* ---- open / close / clock / transactions ------------------------------------------------- */

static void notice_sink(void *arg, const char *message) {
    const struct pg *pg = arg;
    char msg[300];
    one_line(msg, sizeof msg, message);
    cvb_log_debug("PostgreSQL store %s: %s", pg->name, msg);
}

static int pg_begin(void *ctx, bool write, struct cvb_err *err);
static int pg_commit(void *ctx, struct cvb_err *err);
static void pg_rollback(void *ctx);

/* Create the v2 schema in an empty database or check an existing one's
 * version (invariant 2). */
static int init_schema(struct pg *pg, struct cvb_err *err) {
    PGresult *res = NULL;
    int rc = pg_begin(pg, true, err);
    if (rc < 0) return rc;
    rc = run(pg, "locking the schema", "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK_KEY ")", NULL,
             NO_RETRY, NULL, err);
    if (rc < 0) goto out;
    rc = run(pg, "creating the schema",
             "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", NULL,
             NO_RETRY, NULL, err);
    if (rc < 0) goto out;
    rc = run(pg, "reading the schema version", "SELECT max(version) FROM schema_version", NULL,
             NO_RETRY, &res, err);
    if (rc < 0) goto out;
    if (PQgetisnull(res, 0, 0)) {
        for (int i = 0; cvb__store_schema_v2[i] != NULL; i++) {
            rc = run(pg, "creating the schema", cvb__store_schema_v2[i], NULL, NO_RETRY, NULL, err);
            if (rc < 0) goto out;
        }
        struct params p = {0};
        p_int(&p, CVB__STORE_SCHEMA_VERSION);
        rc = run(pg, "creating the schema", "INSERT INTO schema_version (version) VALUES ($1)", &p,
                 NO_RETRY, NULL, err);
        if (rc < 0) goto out;
    } else {
        long long v = int_col(res, 0, 0);
        if (v > CVB__STORE_SCHEMA_VERSION) {
            rc = cvb_err_set(err, CVB_EUNSUPPORTED,
                             "PostgreSQL store %s has schema version %lld, newer than the version "
                             "%d this cvbench knows: use a newer cvbench or another database",
                             pg->name, v, CVB__STORE_SCHEMA_VERSION);
            goto out;
        }
        if (v < CVB__STORE_SCHEMA_VERSION) {
            rc = cvb_err_set(err, CVB_EFORMAT,
                             "PostgreSQL store %s has unknown schema version %lld (expected %d; "
                             "no older PostgreSQL schema exists to migrate)",
                             pg->name, v, CVB__STORE_SCHEMA_VERSION);
            goto out;
        }
    }
    rc = pg_commit(pg, err);
out:
    PQclear(res);
    if (rc < 0 && pg->in_txn) pg_rollback(pg);
    return rc;
}

static void pg_close(void *ctx) {
    struct pg *pg = ctx;
    if (pg == NULL) return;
    PQfinish(pg->conn);
    free(pg);
}

static int pg_open(const char *target, const char *name, void **ctx, struct cvb_err *err) {
    *ctx = NULL;
    struct pg *pg = calloc(1, sizeof *pg);
    if (pg == NULL)
        return cvb_err_set(err, CVB_ENOMEM, "PostgreSQL store %s: out of memory",
                           name ? name : "(unnamed)");
    snprintf(pg->name, sizeof pg->name, "%s", name ? name : "(unnamed)");
    int rc = 0;
    /* Validate the URL first, for a message about the URL rather than a
     * failed connection. */
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(target, &perr);
    if (opts == NULL) {
        char msg[300];
        one_line(msg, sizeof msg, perr ? perr : "out of memory");
        PQfreemem(perr);
        rc = cvb_err_set(err, perr ? CVB_EINVAL : CVB_ENOMEM,
                         "PostgreSQL store %s: bad connection URL: %s", pg->name, msg);
        goto out;
    }
    PQconninfoFree(opts);
    /* Keywords are applied in order: the URL (expanded from dbname) comes
     * last, so its own connect_timeout, if any, wins over ours. */
    const char *const keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *const vals[] = {CONNECT_TIMEOUT_S, "cvbench", target, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (pg->conn == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "PostgreSQL store %s: out of memory", pg->name);
        goto out;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        rc = fail_conn(pg, "cannot connect", "server unreachable or refused", err);
        goto out;
    }
    PQsetNoticeProcessor(pg->conn, notice_sink, pg);
    rc = run(pg, "setting up the session", "SET client_min_messages = warning", NULL, RETRY_SAFE,
             NULL, err);
    if (rc < 0) goto out;
    rc = init_schema(pg, err);
out:
    if (rc < 0) {
        pg_close(pg);
        return rc;
    }
    *ctx = pg;
    return 0;
}

static int pg_now(void *ctx, double *now, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *now = 0;
    int rc = run(pg, "reading the clock", "SELECT extract(epoch FROM clock_timestamp())::float8",
                 NULL, RETRY_SAFE, &res, err);
    if (rc == 0) *now = dbl_col(res, 0, 0);
    PQclear(res);
    return rc;
}

static int pg_begin(void *ctx, bool write, struct cvb_err *err) {
    struct pg *pg = ctx;
    if (pg->in_txn)
        return cvb_err_set(err, CVB_EINTERNAL, "PostgreSQL store %s: transaction already open",
                           pg->name);
    int rc = run(pg, "starting a transaction",
                 write ? "BEGIN ISOLATION LEVEL READ COMMITTED"
                       : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                 NULL, RETRY_SAFE, NULL, err);
    if (rc == 0) {
        pg->in_txn = true;
        pg->txn_write = write;
    }
    return rc;
}

static int pg_commit(void *ctx, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    int rc = run(pg, "committing", "COMMIT", NULL, NO_RETRY, &res, err);
    pg->in_txn = false;
    if (rc < 0) {
        if (PQstatus(pg->conn) == CONNECTION_BAD)
            rc = fail_conn(pg, "committing", "connection lost: the outcome is unknown", err);
        return rc;
    }
    /* COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK. */
    if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        rc = cvb_err_set(err, CVB_EIO,
                         "PostgreSQL store %s: committing: the transaction had failed and was "
                         "rolled back",
                         pg->name);
    PQclear(res);
    return rc;
}

static void pg_rollback(void *ctx) {
    struct pg *pg = ctx;
    bool was = pg->in_txn;
    pg->in_txn = false;
    if (!was || PQstatus(pg->conn) != CONNECTION_OK) return; /* a lost connection rolled back */
    PGresult *res = PQexec(pg->conn, "ROLLBACK");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        char msg[300];
        one_line(msg, sizeof msg, PQerrorMessage(pg->conn));
        cvb_log_warn("PostgreSQL store %s: rollback failed: %s", pg->name, msg);
    }
    PQclear(res);
}

/* ---- runs and scenarios --------------------------------------------------------------------- */

/* The manifest's copies in the runs columns, in this order. */
#define MANIFEST_COLS                                                                            \
    "cvbench_version, git_commit, hostname, cpu_model, model_path, model_sha256, "              \
    "synthetic_weights, backend, precision, mode, execution, pacing"
#define N_MANIFEST_COLS 12

static void p_manifest(struct params *p, const struct cvb_manifest *m) {
    if (m == NULL) {
        for (int i = 0; i < N_MANIFEST_COLS; i++)
            p_str(p, i == 6 ? "0" : NULL);
        return;
    }
    p_str(p, m->cvbench_version);
    p_str(p, m->git_commit);
    p_str(p, m->hostname);
    p_str(p, m->cpu_model);
    p_str(p, m->model_path);
    p_str(p, m->model_sha256);
    p_bool(p, m->synthetic_weights);
    p_str(p, m->backend);
    p_str(p, m->precision);
    p_str(p, m->mode);
    p_str(p, m->execution);
    p_str(p, m->pacing);
}

static int pg_run_insert(void *ctx, const struct cvb__run_row *row, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    p_str(&p, row->id);
    p_str(&p, row->started_at);
    p_str(&p, row->status);
    p_str(&p, row->origin);
    p_dbl(&p, row->created);
    p_int(&p, row->n_scenarios);
    p_str(&p, row->manifest_json ? row->manifest_json : "{}");
    p_manifest(&p, row->m);
    int rc = run(pg, "storing a run",
                 "INSERT INTO runs (id, started_at, status, origin, created, n_scenarios, "
                 "manifest_json, " MANIFEST_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                 "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19) ON CONFLICT (id) DO NOTHING",
                 &p, NO_RETRY, &res, err);
    if (rc == 0 && changed_rows(res) == 0) rc = 1;
    PQclear(res);
    return rc;
}

#define RUN_INFO_COLS                                                                            \
    "r.id, r.status, r.origin, r.created, coalesce(r.finished, 0), r.n_scenarios, "             \
    "(SELECT count(*) FROM levels l WHERE l.run_id = r.id), r.message"

static void read_run_info(PGresult *res, int row, struct cvb_run_info *o) {
    memset(o, 0, sizeof *o);
    COPY_COL(o->id, res, row, 0);
    COPY_COL(o->status, res, row, 1);
    COPY_COL(o->origin, res, row, 2);
    o->created = dbl_col(res, row, 3);
    o->finished = dbl_col(res, row, 4);
    o->n_scenarios = (int)int_col(res, row, 5);
    o->n_levels = (int)int_col(res, row, 6);
    COPY_COL(o->message, res, row, 7);
}

static int pg_run_get(void *ctx, const char *run_id, struct cvb_run_info *info,
                      char **manifest_json, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    if (manifest_json) *manifest_json = NULL;
    if (run_id) p_str(&p, run_id);
    int rc = run(pg, "reading a run",
                 run_id ? "SELECT " RUN_INFO_COLS ", r.manifest_json FROM runs r WHERE r.id = $1"
                        : "SELECT " RUN_INFO_COLS ", r.manifest_json FROM runs r "
                          "ORDER BY r.created DESC, r.id DESC LIMIT 1",
                 &p, RETRY_SAFE, &res, err);
    if (rc < 0) goto out;
    if (PQntuples(res) == 0) {
        rc = 1;
        goto out;
    }
    if (info) read_run_info(res, 0, info);
    if (manifest_json) rc = dup_col(pg, res, 0, 8, manifest_json, err);
out:
    PQclear(res);
    return rc;
}

static int pg_run_list(void *ctx, const char *status, int offset, struct cvb_run_info *out,
                       int max, int *n, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *n = 0;
    int rc = check_max(pg, max, "listing runs", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_str(&p, status);
    p_int(&p, max);
    p_int(&p, offset < 0 ? 0 : offset);
    rc = run(pg, "listing runs",
             "SELECT " RUN_INFO_COLS " FROM runs r WHERE ($1::text IS NULL OR r.status = $1) "
             "ORDER BY r.created DESC, r.id DESC LIMIT $2 OFFSET $3",
             &p, RETRY_SAFE, &res, err);
    if (rc < 0) return rc;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && i < max; i++)
        read_run_info(res, i, &out[i]);
    *n = rows < max ? rows : max;
    PQclear(res);
    return 0;
}

static int pg_run_set_manifest(void *ctx, const char *run_id, const struct cvb_manifest *m,
                               const char *manifest_json, bool only_if_unknown, int *changed,
                               struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    *changed = 0;
    p_str(&p, run_id);
    p_str(&p, manifest_json);
    p_bool(&p, only_if_unknown);
    p_manifest(&p, m);
    int rc = run(pg, "updating a run's manifest",
                 "UPDATE runs SET manifest_json = $2, (" MANIFEST_COLS ") = ($4, $5, $6, $7, $8, "
                 "$9, $10::integer, $11, $12, $13, $14, $15) "
                 "WHERE id = $1 AND (NOT $3::boolean OR manifest_json = '{}')",
                 &p, NO_RETRY, &res, err);
    if (rc == 0) *changed = changed_rows(res);
    PQclear(res);
    return rc;
}

static int pg_run_set_status(void *ctx, const char *run_id, const char *status,
                             const char *message, double finished, const char *finished_at,
                             const char *only_if, int *changed, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    *changed = 0;
    p_str(&p, run_id);
    p_str(&p, status);
    p_str(&p, message);
    p_dbl(&p, finished);
    p_str(&p, finished_at);
    p_str(&p, only_if);
    int rc = run(pg, "setting a run's status",
                 "UPDATE runs SET status = $2, message = coalesce($3::text, message), "
                 "finished = CASE WHEN $4::float8 > 0 THEN $4::float8 ELSE finished END, "
                 "finished_at = CASE WHEN $4::float8 > 0 THEN $5::text ELSE finished_at END "
                 "WHERE id = $1 AND ($6::text IS NULL OR status = $6::text)",
                 &p, NO_RETRY, &res, err);
    if (rc == 0) *changed = changed_rows(res);
    PQclear(res);
    return rc;
}

static int pg_scenario_insert(void *ctx, const char *run_id, int idx, const char *scenario_json,
                              const char *manifest_json, struct cvb_err *err) {
    struct pg *pg = ctx;
    struct params p = {0};
    p_str(&p, run_id);
    p_int(&p, idx);
    p_str(&p, scenario_json);
    p_str(&p, manifest_json);
    return run(pg, "storing a scenario",
               "INSERT INTO scenarios (run_id, idx, scenario_json, manifest_json) "
               "VALUES ($1, $2, $3, $4)",
               &p, NO_RETRY, NULL, err);
}

static int pg_scenario_get(void *ctx, const char *run_id, int idx, char **scenario_json,
                           char **manifest_json, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    if (scenario_json) *scenario_json = NULL;
    if (manifest_json) *manifest_json = NULL;
    p_str(&p, run_id);
    p_int(&p, idx);
    int rc = run(pg, "reading a scenario",
                 "SELECT scenario_json, manifest_json FROM scenarios WHERE run_id = $1 AND idx = $2",
                 &p, RETRY_SAFE, &res, err);
    if (rc < 0) goto out;
    if (PQntuples(res) == 0) {
        rc = 1;
        goto out;
    }
    if (scenario_json) rc = dup_col(pg, res, 0, 0, scenario_json, err);
    if (rc == 0 && manifest_json) rc = dup_col(pg, res, 0, 1, manifest_json, err);
    if (rc < 0 && scenario_json) {
        free(*scenario_json);
        *scenario_json = NULL;
    }
out:
    PQclear(res);
    return rc;
}

static int pg_scenario_set_manifest(void *ctx, const char *run_id, int idx,
                                    const char *manifest_json, bool always, struct cvb_err *err) {
    struct pg *pg = ctx;
    struct params p = {0};
    p_str(&p, run_id);
    p_int(&p, idx);
    p_str(&p, manifest_json);
    p_bool(&p, always);
    return run(pg, "storing a scenario's manifest",
               "UPDATE scenarios SET manifest_json = $3 "
               "WHERE run_id = $1 AND idx = $2 AND ($4::boolean OR manifest_json IS NULL)",
               &p, NO_RETRY, NULL, err);
}

/* ---- levels and frames ------------------------------------------------------------------------ */

static int pg_level_put(void *ctx, const char *run_id, int scenario,
                        const struct cvb_level_result *r, const char *result_json,
                        const char *worker, const char *task_id, struct cvb_err *err) {
    struct pg *pg = ctx;
    struct params p = {0};
    p_str(&p, run_id);
    p_int(&p, scenario);
    p_int(&p, r->level);
    p_int(&p, r->streams);
    p_int(&p, r->frames);
    p_dbl(&p, r->fps);
    p_dbl(&p, r->fps_per_stream);
    p_dbl(&p, r->latency_p50_ms);
    p_dbl(&p, r->latency_p90_ms);
    p_dbl(&p, r->latency_p95_ms);
    p_dbl(&p, r->latency_p99_ms);
    p_dbl(&p, r->latency_max_ms);
    for (int k = 0; k < CVB_STAGE_COUNT; k++)
        p_dbl(&p, r->stages[k].mean_ms);
    p_dbl(&p, r->cpu_process_pct);
    p_dbl(&p, r->cpu_system_pct);
    p_int(&p, r->rss_peak_bytes);
    p_bool(&p, r->stable);
    p_str(&p, r->bottleneck);
    p_str(&p, r->status[0] ? r->status : "ok");
    p_str(&p, result_json);
    p_str(&p, worker);
    p_str(&p, task_id);
    return run(pg, "storing a level",
               "INSERT INTO levels (run_id, scenario, level, streams, frames, fps, fps_per_stream, "
               "latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms, latency_max_ms, "
               "decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms, "
               "cpu_process_pct, cpu_system_pct, rss_peak_bytes, stable, bottleneck, status, "
               "result_json, worker, task_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
               "$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26) "
               "ON CONFLICT (run_id, scenario, level) DO UPDATE SET streams = EXCLUDED.streams, "
               "frames = EXCLUDED.frames, fps = EXCLUDED.fps, "
               "fps_per_stream = EXCLUDED.fps_per_stream, "
               "latency_p50_ms = EXCLUDED.latency_p50_ms, latency_p90_ms = EXCLUDED.latency_p90_ms, "
               "latency_p95_ms = EXCLUDED.latency_p95_ms, latency_p99_ms = EXCLUDED.latency_p99_ms, "
               "latency_max_ms = EXCLUDED.latency_max_ms, decode_ms = EXCLUDED.decode_ms, "
               "preprocess_ms = EXCLUDED.preprocess_ms, queue_ms = EXCLUDED.queue_ms, "
               "inference_ms = EXCLUDED.inference_ms, postprocess_ms = EXCLUDED.postprocess_ms, "
               "cpu_process_pct = EXCLUDED.cpu_process_pct, "
               "cpu_system_pct = EXCLUDED.cpu_system_pct, "
               "rss_peak_bytes = EXCLUDED.rss_peak_bytes, stable = EXCLUDED.stable, "
               "bottleneck = EXCLUDED.bottleneck, status = EXCLUDED.status, "
               "result_json = EXCLUDED.result_json, worker = EXCLUDED.worker, "
               "task_id = EXCLUDED.task_id",
               &p, NO_RETRY, NULL, err);
}

static int pg_levels_get(void *ctx, const char *run_id, int scenario, int max, cvb__level_cb cb,
                         void *arg, int *total, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *total = 0;
    int rc = check_max(pg, max, "reading levels", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_str(&p, run_id);
    p_int(&p, scenario);
    p_int(&p, max);
    /* count(*) OVER () is computed before LIMIT: the total of all rows. */
    rc = run(pg, "reading levels",
             "SELECT count(*) OVER (), level, result_json FROM levels "
             "WHERE run_id = $1 AND scenario = $2 ORDER BY level LIMIT $3",
             &p, RETRY_SAFE, &res, err);
    if (rc < 0) goto out;
    int rows = PQntuples(res);
    if (rows > 0) {
        *total = (int)int_col(res, 0, 0);
    } else if (max == 0) {
        PQclear(res);
        res = NULL;
        struct params q = {0};
        p_str(&q, run_id);
        p_int(&q, scenario);
        rc = run(pg, "counting levels",
                 "SELECT count(*) FROM levels WHERE run_id = $1 AND scenario = $2", &q, RETRY_SAFE,
                 &res, err);
        if (rc < 0) goto out;
        *total = (int)int_col(res, 0, 0);
        rows = 0;
    }
    for (int i = 0; i < rows && i < max; i++) {
        rc = cb(arg, (int)int_col(res, i, 1), PQgetvalue(res, i, 2), err);
        if (rc < 0) goto out;
    }
out:
    PQclear(res);
    return rc;
}

/* Text array literal builder for the frame columns: "{1,2,3}". */
struct arr {
    char *buf;
    size_t len, cap;
};

static bool arr_add(struct arr *a, const char *fmt, double x, long long i, bool is_int) {
    char tmp[40];
    int k = is_int ? snprintf(tmp, sizeof tmp, "%lld", i)
                   : snprintf(tmp, sizeof tmp, fmt != NULL ? fmt : "%.17g", x);
    if (k < 0 || a->len + (size_t)k + 2 >= a->cap) return false;
    a->buf[a->len] = a->len == 0 ? '{' : ',';
    a->len++;
    memcpy(a->buf + a->len, tmp, (size_t)k);
    a->len += (size_t)k;
    a->buf[a->len] = '\0';
    return true;
}
static void arr_close(struct arr *a) {
    if (a->len == 0) a->buf[a->len++] = '{';
    a->buf[a->len] = '}';
    a->len++;
    a->buf[a->len] = '\0';
}

#define N_FRAME_ARRS (4 + CVB_STAGE_COUNT)

static int pg_frames_put(void *ctx, const char *run_id, int scenario, int level,
                         const struct cvb_frame_sample *s, int n, struct cvb_err *err) {
    struct pg *pg = ctx;
    struct arr a[N_FRAME_ARRS] = {{0}};
    /* 40 bytes a value is more than %.17g / %lld ever print, so arr_add never fails. */
    const size_t cap = (size_t)FRAMES_PER_INSERT * 40 + 4;
    bool own_txn = false;
    int rc = 0;
    if (n < 0 || (n > 0 && s == NULL) || n > CVB_MAX_FRAME_SAMPLES)
        return cvb_err_set(err, CVB_EINVAL, "PostgreSQL store %s: bad frame sample array (n=%d)",
                           pg->name, n);
    for (int k = 0; k < N_FRAME_ARRS; k++) {
        a[k].cap = cap;
        a[k].buf = malloc(cap);
        if (a[k].buf == NULL) {
            rc = cvb_err_set(err, CVB_ENOMEM, "PostgreSQL store %s: out of memory", pg->name);
            goto out;
        }
    }
    if (!pg->in_txn) { /* delete + inserts must be atomic */
        rc = pg_begin(pg, true, err);
        if (rc < 0) goto out;
        own_txn = true;
    }
    struct params p = {0};
    p_str(&p, run_id);
    p_int(&p, scenario);
    p_int(&p, level);
    rc = run(pg, "storing frames",
             "DELETE FROM frames WHERE run_id = $1 AND scenario = $2 AND level = $3", &p, NO_RETRY,
             NULL, err);
    if (rc < 0) goto out;
    for (int start = 0; start < n; start += FRAMES_PER_INSERT) {
        int end = start + FRAMES_PER_INSERT < n ? start + FRAMES_PER_INSERT : n;
        for (int k = 0; k < N_FRAME_ARRS; k++)
            a[k].len = 0;
        for (int j = start; j < end; j++) {
            const struct cvb_frame_sample *f = &s[j];
            arr_add(&a[0], NULL, 0, f->stream, true);
            arr_add(&a[1], NULL, 0, f->frame, true);
            arr_add(&a[2], "%.17g", f->t_s, 0, false);
            arr_add(&a[3], "%.9g", f->latency_ms, 0, false);
            for (int k = 0; k < CVB_STAGE_COUNT; k++)
                arr_add(&a[4 + k], "%.9g", f->stage_ms[k], 0, false);
        }
        struct params q = {0};
        p_str(&q, run_id);
        p_int(&q, scenario);
        p_int(&q, level);
        for (int k = 0; k < N_FRAME_ARRS; k++) {
            arr_close(&a[k]);
            p_str(&q, a[k].buf);
        }
        rc = run(pg, "storing frames",
                 "INSERT INTO frames (run_id, scenario, level, stream, frame, t_s, latency_ms, "
                 "decode_ms, preprocess_ms, queue_ms, inference_ms, postprocess_ms) "
                 "SELECT $1, $2, $3, u.* FROM unnest($4::integer[], $5::bigint[], $6::float8[], "
                 "$7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], "
                 "$12::float8[]) AS u "
                 "ON CONFLICT (run_id, scenario, level, stream, frame) DO UPDATE SET "
                 "t_s = EXCLUDED.t_s, latency_ms = EXCLUDED.latency_ms, "
                 "decode_ms = EXCLUDED.decode_ms, preprocess_ms = EXCLUDED.preprocess_ms, "
                 "queue_ms = EXCLUDED.queue_ms, inference_ms = EXCLUDED.inference_ms, "
                 "postprocess_ms = EXCLUDED.postprocess_ms",
                 &q, NO_RETRY, NULL, err);
        if (rc < 0) goto out;
    }
    if (own_txn) {
        own_txn = false;
        rc = pg_commit(pg, err);
    }
out:
    if (own_txn) pg_rollback(pg);
    for (int k = 0; k < N_FRAME_ARRS; k++)
        free(a[k].buf);
    return rc;
}

/* ---- tasks ---------------------------------------------------------------------------------------- */

#define TASK_COLS                                                                                \
    "id, run_id, scenario, level, streams, state, attempt, worker, lease_until, req_backend, "  \
    "req_isa, req_tag, reason, created, started, finished"

static void read_task(PGresult *res, int row, struct cvb_task *t) {
    memset(t, 0, sizeof *t);
    COPY_COL(t->id, res, row, 0);
    COPY_COL(t->run_id, res, row, 1);
    t->scenario = (int)int_col(res, row, 2);
    t->level = (int)int_col(res, row, 3);
    t->streams = (int)int_col(res, row, 4);
    COPY_COL(t->state, res, row, 5);
    t->attempt = (int)int_col(res, row, 6);
    COPY_COL(t->worker, res, row, 7);
    t->lease_until = dbl_col(res, row, 8);
    COPY_COL(t->req_backend, res, row, 9);
    COPY_COL(t->req_isa, res, row, 10);
    COPY_COL(t->req_tag, res, row, 11);
    COPY_COL(t->reason, res, row, 12);
    t->created = dbl_col(res, row, 13);
    t->started = dbl_col(res, row, 14);
    t->finished = dbl_col(res, row, 15);
}

static int read_tasks(PGresult *res, struct cvb_task *out, int max, int *n) {
    int rows = PQntuples(res);
    for (int i = 0; i < rows && i < max; i++)
        read_task(res, i, &out[i]);
    *n = rows < max ? rows : max;
    return 0;
}

static int pg_task_insert(void *ctx, const struct cvb_task *t, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    p_str(&p, t->id);
    p_str(&p, t->run_id);
    p_int(&p, t->scenario);
    p_int(&p, t->level);
    p_int(&p, t->streams);
    p_str(&p, t->state);
    p_int(&p, t->attempt);
    p_str(&p, t->worker);
    p_dbl(&p, t->lease_until);
    p_str(&p, t->req_backend);
    p_str(&p, t->req_isa);
    p_str(&p, t->req_tag);
    p_str(&p, t->reason);
    p_dbl(&p, t->created);
    p_dbl(&p, t->started);
    p_dbl(&p, t->finished);
    int rc = run(pg, "storing a task",
                 "INSERT INTO tasks (" TASK_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                 "$10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO NOTHING",
                 &p, NO_RETRY, &res, err);
    if (rc == 0 && changed_rows(res) == 0) rc = 1;
    PQclear(res);
    return rc;
}

static int pg_task_get(void *ctx, const char *id, struct cvb_task *t, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    p_str(&p, id);
    /* In a write transaction the decision store.c takes on this row must
     * hold until commit: lock it. */
    bool lock = pg->in_txn && pg->txn_write;
    int rc = run(pg, "reading a task",
                 lock ? "SELECT " TASK_COLS " FROM tasks WHERE id = $1 FOR UPDATE"
                      : "SELECT " TASK_COLS " FROM tasks WHERE id = $1",
                 &p, RETRY_SAFE, &res, err);
    if (rc == 0) {
        if (PQntuples(res) == 0)
            rc = 1;
        else
            read_task(res, 0, t);
    }
    PQclear(res);
    return rc;
}

static int pg_task_list(void *ctx, const char *run_id, const char *state, struct cvb_task *out,
                        int max, int *n, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *n = 0;
    int rc = check_max(pg, max, "listing tasks", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_str(&p, run_id);
    p_str(&p, state);
    p_int(&p, max);
    rc = run(pg, "listing tasks",
             "SELECT " TASK_COLS " FROM tasks WHERE ($1::text IS NULL OR run_id = $1) "
             "AND ($2::text IS NULL OR state = $2) ORDER BY created, id LIMIT $3",
             &p, RETRY_SAFE, &res, err);
    if (rc == 0) read_tasks(res, out, max, n);
    PQclear(res);
    return rc;
}

static int pg_task_candidates(void *ctx, double now, const struct cvb_task *after,
                              struct cvb_task *out, int max, int *n, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *n = 0;
    int rc = check_max(pg, max, "looking for a task to claim", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_dbl(&p, now);
    p_str(&p, after ? after->id : NULL);
    p_dbl(&p, after ? after->created : 0);
    p_int(&p, max);
    /* SKIP LOCKED: rows another claimer holds are passed over, not waited
     * for; under READ COMMITTED a row it has committed meanwhile is
     * re-checked against the WHERE clause before it is returned. */
    rc = run(pg, "looking for a task to claim",
             "SELECT " TASK_COLS " FROM tasks "
             "WHERE (state = 'queued' OR (state = 'running' AND lease_until < $1::float8)) "
             "AND ($2::text IS NULL OR (created, id) > ($3::float8, $2::text)) "
             "ORDER BY created, id LIMIT $4 FOR UPDATE SKIP LOCKED",
             &p, NO_RETRY, &res, err);
    if (rc == 0) read_tasks(res, out, max, n);
    PQclear(res);
    return rc;
}

static int pg_task_update(void *ctx, const struct cvb_task *t, int old_attempt,
                          const char *old_state, int *changed, struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    struct params p = {0};
    *changed = 0;
    p_str(&p, t->id);
    p_str(&p, t->state);
    p_int(&p, t->attempt);
    p_str(&p, t->worker);
    p_dbl(&p, t->lease_until);
    p_str(&p, t->reason);
    p_dbl(&p, t->started);
    p_dbl(&p, t->finished);
    p_int(&p, old_attempt);
    p_str(&p, old_state);
    int rc = run(pg, "updating a task",
                 "UPDATE tasks SET state = $2, attempt = $3, worker = $4, lease_until = $5, "
                 "reason = $6, started = $7, finished = $8 "
                 "WHERE id = $1 AND attempt = $9 AND state = $10",
                 &p, NO_RETRY, &res, err);
    if (rc == 0) *changed = changed_rows(res);
    PQclear(res);
    return rc;
}

static int pg_task_cancel_run(void *ctx, const char *run_id, const char *reason, double now,
                              struct cvb_err *err) {
    struct pg *pg = ctx;
    struct params p = {0};
    p_str(&p, run_id);
    p_str(&p, reason);
    p_dbl(&p, now);
    return run(pg, "cancelling a run's tasks",
               "UPDATE tasks SET state = 'cancelled', reason = $2, finished = $3, lease_until = 0 "
               "WHERE run_id = $1 AND state IN ('queued', 'running')",
               &p, NO_RETRY, NULL, err);
}

static int pg_task_count(void *ctx, int64_t counts[CVB_TASK_N_STATES], struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    int rc = run(pg, "counting tasks",
                 "SELECT state, count(*) FROM tasks GROUP BY state ORDER BY state LIMIT 64", NULL,
                 RETRY_SAFE, &res, err);
    if (rc < 0) return rc;
    for (int i = 0; i < PQntuples(res); i++) {
        int k = cvb__task_state_index(PQgetvalue(res, i, 0));
        if (k >= 0) counts[k] = int_col(res, i, 1);
    }
    PQclear(res);
    return 0;
}

/* ---- workers ----------------------------------------------------------------------------------- */

#define WORKER_COLS                                                                              \
    "id, host, backend, isa, isas, tags, cpu_model, cpu_flags, cores, mem_bytes, state, "       \
    "task_id, metrics_url, started, last_seen, progress"

static int pg_worker_put(void *ctx, const struct cvb_worker_info *w, struct cvb_err *err) {
    struct pg *pg = ctx;
    struct params p = {0};
    p_str(&p, w->id);
    p_str(&p, w->host);
    p_str(&p, w->backend);
    p_str(&p, w->isa);
    p_str(&p, w->isas);
    p_str(&p, w->tags);
    p_str(&p, w->cpu_model);
    p_str(&p, w->cpu_flags);
    p_int(&p, w->cores);
    p_int(&p, w->mem_bytes);
    p_str(&p, w->state);
    p_str(&p, w->task_id);
    p_str(&p, w->metrics_url);
    p_dbl(&p, w->started);
    p_dbl(&p, w->last_seen);
    p_str(&p, w->progress);
    return run(pg, "storing a worker",
               "INSERT INTO workers (" WORKER_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
               "$10, $11, $12, $13, $14, $15, $16) ON CONFLICT (id) DO UPDATE SET "
               "host = EXCLUDED.host, backend = EXCLUDED.backend, isa = EXCLUDED.isa, "
               "isas = EXCLUDED.isas, tags = EXCLUDED.tags, cpu_model = EXCLUDED.cpu_model, "
               "cpu_flags = EXCLUDED.cpu_flags, cores = EXCLUDED.cores, "
               "mem_bytes = EXCLUDED.mem_bytes, state = EXCLUDED.state, "
               "task_id = EXCLUDED.task_id, metrics_url = EXCLUDED.metrics_url, "
               "started = EXCLUDED.started, last_seen = EXCLUDED.last_seen, "
               "progress = EXCLUDED.progress",
               &p, NO_RETRY, NULL, err);
}

static int pg_worker_prune(void *ctx, double before, int max, struct cvb_err *err) {
    struct pg *pg = ctx;
    int rc = check_max(pg, max, "pruning workers", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_dbl(&p, before);
    p_int(&p, max);
    return run(pg, "pruning workers",
               "DELETE FROM workers WHERE id IN "
               "(SELECT id FROM workers WHERE last_seen < $1 ORDER BY last_seen LIMIT $2)",
               &p, NO_RETRY, NULL, err);
}

static int pg_worker_list(void *ctx, struct cvb_worker_info *out, int max, int *n,
                          struct cvb_err *err) {
    struct pg *pg = ctx;
    PGresult *res = NULL;
    *n = 0;
    int rc = check_max(pg, max, "listing workers", err);
    if (rc < 0) return rc;
    struct params p = {0};
    p_int(&p, max);
    rc = run(pg, "listing workers",
             "SELECT " WORKER_COLS " FROM workers ORDER BY last_seen DESC, id LIMIT $1", &p,
             RETRY_SAFE, &res, err);
    if (rc < 0) return rc;
    int rows = PQntuples(res);
    for (int i = 0; i < rows && i < max; i++) {
        struct cvb_worker_info *w = &out[i];
        memset(w, 0, sizeof *w);
        COPY_COL(w->id, res, i, 0);
        COPY_COL(w->host, res, i, 1);
        COPY_COL(w->backend, res, i, 2);
        COPY_COL(w->isa, res, i, 3);
        COPY_COL(w->isas, res, i, 4);
        COPY_COL(w->tags, res, i, 5);
        COPY_COL(w->cpu_model, res, i, 6);
        COPY_COL(w->cpu_flags, res, i, 7);
        w->cores = (int)int_col(res, i, 8);
        w->mem_bytes = int_col(res, i, 9);
        COPY_COL(w->state, res, i, 10);
        COPY_COL(w->task_id, res, i, 11);
        COPY_COL(w->metrics_url, res, i, 12);
        w->started = dbl_col(res, i, 13);
        w->last_seen = dbl_col(res, i, 14);
        COPY_COL(w->progress, res, i, 15);
    }
    *n = rows < max ? rows : max;
    PQclear(res);
    return 0;
}

const struct cvb__store_ops cvb__store_postgres_ops = {
    .kind = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .now = pg_now,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .run_insert = pg_run_insert,
    .run_get = pg_run_get,
    .run_list = pg_run_list,
    .run_set_manifest = pg_run_set_manifest,
    .run_set_status = pg_run_set_status,
    .scenario_insert = pg_scenario_insert,
    .scenario_get = pg_scenario_get,
    .scenario_set_manifest = pg_scenario_set_manifest,
    .level_put = pg_level_put,
    .levels_get = pg_levels_get,
    .frames_put = pg_frames_put,
    .task_insert = pg_task_insert,
    .task_get = pg_task_get,
    .task_list = pg_task_list,
    .task_candidates = pg_task_candidates,
    .task_update = pg_task_update,
    .task_cancel_run = pg_task_cancel_run,
    .task_count = pg_task_count,
    .worker_put = pg_worker_put,
    .worker_prune = pg_worker_prune,
    .worker_list = pg_worker_list,
};
