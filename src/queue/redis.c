/* SPDX-License-Identifier: Apache-2.0 */
/* The Redis Streams task queue (broker "redis://host:port[/db]"), the only
 * file that includes hiredis.h. Facts it relies on: ../shared/notes/queue.md.
 *
 * Layout: one stream per requirement, key
 *     "<prefix>:tasks:<backend>:<isa>:<tag or ->"
 * with one consumer group "workers"; each entry carries one field, task_id.
 * The store stays the source of truth for task state; the stream only says
 * "this task wants a worker". A worker's filter names the keys it reads:
 * backend x each accepted ISA x (no tag + each of its tags).
 *
 * Delivery (next): per key, first XAUTOCLAIM an entry idle for lease_s
 * (its worker stopped renewing: redelivered), then XREADGROUP a new one;
 * each delivery is begun in the store (cvb_store_task_begin), which bumps
 * the attempt, the fencing token. Finished tasks are acknowledged and
 * skipped, tasks past max_attempts go dead, unknown ids are acknowledged.
 *
 * Invariants (include/cvb/queue.h numbers them; the contract suite checks):
 *  1. Renewal = store renew + XCLAIM <id> JUSTID with min-idle 0, which
 *     resets the entry's idle time without counting a delivery; done in a
 *     Lua script only when XPENDING says this consumer owns the entry
 *     (XCLAIM checks no owner). So a renewed entry never idles lease_s and
 *     is never auto-claimed by anyone else.
 *  2. Fencing is the store's: a late worker's renew/complete return
 *     CVB_TASK_FENCED from the store; a renewal of an entry another
 *     consumer now owns is FENCED too.
 *  3. Acknowledgement (XACK + XDEL) is guarded by the same owner check
 *     (XACK checks no owner either: a stale worker would remove the new
 *     owner's pending entry), and happens only after the store accepted
 *     the result, or for a delivery the store says is finished.
 *  4. Streams are never trimmed (MAXLEN/XTRIM drop pending entries);
 *     acknowledged entries are XDEL'ed.
 *  5. Idle time is the server's clock: after a (re)connect (Redis may have
 *     been paused or restarted, making every lease look expired) this
 *     handle waits one heartbeat before any XAUTOCLAIM, so that live
 *     workers renew first.
 * An entry that Redis lost while its task runs (stream deleted) does not
 * fence the worker: the store says its attempt is current, so renew
 * succeeds (logged) and the reconciler leaves the task alone while its
 * lease is renewed.
 *
 * Reconcile re-XADDs tasks the store lists as queued (or running with a
 * lease expired by more than lease_s) that no entry of their stream holds;
 * the duplicates this may create are absorbed by fencing (3).
 *
 * One hiredis context per handle, behind a mutex; a lost connection is
 * dropped and reopened by the next command; every error names the broker. */
#include "queue/queue_impl.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP "workers"
#define POLL_MS 50              /* next() poll period when every stream is empty */
#define MAX_SKIPS 64            /* finished/dead deliveries acknowledged per next() call */
#define AUTOCLAIM_SCANS 32      /* XAUTOCLAIM cursor steps per key per round (10 entries each) */
#define RECONCILE_MAX 1024      /* tasks per state looked at per reconcile pass */
#define RECONCILE_PAGE "200"    /* XRANGE page */
#define RECONCILE_MAX_ENTRIES 200000 /* entries read per stream before giving up on it */
#define DEPTH_MAX_KEYS 10000    /* stream keys summed by depth() */
#define MAX_KEYS (CVB_CAPS_MAX_ISAS * (CVB_CAPS_MAX_TAGS + 1))
#define KEY_MAX 128             /* == sizeof(struct cvb_delivery.stream) */

struct rq {
    pthread_mutex_t mu;         /* serialises every use of c */
    redisContext *c;            /* NULL while disconnected */
    char url[256];              /* the broker as given, for messages */
    char host[128];
    int port, db;
    uint64_t claim_after_ns;    /* no XAUTOCLAIM before this (invariant 5) */
    /* streams where next() made this handle a consumer; close() removes it
     * from those where it holds nothing, so that the groups do not collect
     * one consumer per worker process ever started */
    int n_used;
    char used[MAX_KEYS][KEY_MAX];
};

/* Owner-checked renew ("renew": XCLAIM JUSTID) or acknowledge ("ack": XACK
 * + XDEL) of entry ARGV[2] of stream KEYS[1], group ARGV[1], consumer
 * ARGV[3]. Returns 1 done, 0 owned by another consumer, -1 not pending
 * (acknowledged or lost), -2 no such group (stream lost). */
static const char owner_script[] =
    "local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"
    "if type(p) == 'table' and p.err then return -2 end\n"
    "if #p == 0 then return -1 end\n"
    "if p[1][2] ~= ARGV[3] then return 0 end\n"
    "if ARGV[4] == 'renew' then\n"
    "  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')\n"
    "else\n"
    "  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "  redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 1\n";

/* Remove consumer ARGV[2] from group ARGV[1] of KEYS[1] if nothing is
 * pending to it (XGROUP DELCONSUMER would make its pending entries
 * unclaimable). Returns 1 removed, 0 kept, -2 no group. */
static const char delconsumer_script[] =
    "local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])\n"
    "if type(p) == 'table' and p.err then return -2 end\n"
    "if #p > 0 then return 0 end\n"
    "redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";

/* ---- connection ---------------------------------------------------------------- */

static int parse_url(struct rq *r, const char *url, struct cvb_err *err) {
    const char *p = url + strlen("redis://");
    const char *end;
    r->port = 6379;
    r->db = 0;
    if (strchr(p, '@'))
        return cvb_err_set(err, CVB_EUNSUPPORTED,
                           "broker %s: credentials in the URL are not supported (use a "
                           "loopback or firewalled Redis)", r->url);
    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL) return cvb_err_set(err, CVB_EINVAL, "broker %s: unterminated [host]", r->url);
        p++;
    } else {
        end = p + strcspn(p, ":/");
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof r->host)
        return cvb_err_set(err, CVB_EINVAL, "broker %s: host empty or too long", r->url);
    memcpy(r->host, p, n);
    r->host[n] = '\0';
    p = end + (*end == ']');
    if (*p == ':') {
        char *e;
        long v = strtol(p + 1, &e, 10);
        if (e == p + 1 || v < 1 || v > 65535)
            return cvb_err_set(err, CVB_EINVAL, "broker %s: bad port", r->url);
        r->port = (int)v;
        p = e;
    }
    if (*p == '/' && p[1] != '\0') {
        char *e;
        long v = strtol(p + 1, &e, 10);
        if (e == p + 1 || *e != '\0' || v < 0 || v > 1000)
            return cvb_err_set(err, CVB_EINVAL, "broker %s: bad database number", r->url);
        r->db = (int)v;
        p = e;
    } else if (*p == '/') {
        p++;
    }
    if (*p != '\0')
        return cvb_err_set(err, CVB_EINVAL, "broker %s: unexpected \"%.40s\" (expected "
                           "redis://host:port[/db])", r->url, p);
    return 0;
}

static void drop(struct rq *r) {
    if (r->c) redisFree(r->c);
    r->c = NULL;
}

static int connect_broker(struct cvb_queue *q, struct rq *r, struct cvb_err *err) {
    drop(r);
    struct timeval tv = {.tv_sec = 2, .tv_usec = 0};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (c == NULL) return cvb_err_set(err, CVB_ENOMEM, "broker %s: connect: out of memory", r->url);
    if (c->err) {
        int rc = cvb_err_set(err, CVB_EIO, "broker %s: connect: %s", r->url, c->errstr);
        redisFree(c);
        return rc;
    }
    struct timeval cmd_tv = {.tv_sec = 5, .tv_usec = 0};
    redisSetTimeout(c, cmd_tv);
    if (r->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", r->db);
        const char *argv[] = {"SELECT", db};
        redisReply *rep = redisCommandArgv(c, 2, argv, NULL);
        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            int rc = cvb_err_set(err, CVB_EIO, "broker %s: SELECT %d: %s", r->url, r->db,
                                 rep ? rep->str : c->errstr);
            if (rep) freeReplyObject(rep);
            redisFree(c);
            return rc;
        }
        freeReplyObject(rep);
    }
    r->c = c;
    r->claim_after_ns = cvb_now_ns() + (uint64_t)(q->o.heartbeat_s * 1e9);
    return 0;
}

/* Run one command (caller holds r->mu), connecting first if needed. 0 with
 * *reply set; CVB_EIO with *reply NULL when the connection failed (it is
 * dropped: the next command reconnects); CVB_EIO with *reply set to the
 * error reply when Redis refused (callers test its text, e.g. NOGROUP).
 * The caller frees a non-NULL *reply. */
static int cmd(struct cvb_queue *q, struct rq *r, int argc, const char **argv, redisReply **reply,
               struct cvb_err *err) {
    *reply = NULL;
    if (r->c == NULL) {
        int rc = connect_broker(q, r, err);
        if (rc < 0) return rc;
        cvb_log_info("queue: connected to broker %s", r->url);
    }
    size_t lens[16];
    if (argc > (int)CVB_ARRAY_LEN(lens))
        return cvb_err_set(err, CVB_EINTERNAL, "broker %s: %s: too many arguments", r->url, argv[0]);
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    /* messages name the command and its key (for EVAL the key, not the script) */
    bool eval = strcmp(argv[0], "EVAL") == 0;
    const char *subject = eval ? (argc > 3 ? argv[3] : "") : (argc > 1 ? argv[1] : "");
    const char *name = eval ? "script on" : argv[0];
    redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
    if (rep == NULL) {
        int rc = cvb_err_set(err, CVB_EIO, "broker %s: %s %s: connection lost: %s", r->url, name,
                             subject, r->c->errstr);
        drop(r);
        return rc;
    }
    *reply = rep;
    if (rep->type == REDIS_REPLY_ERROR)
        return cvb_err_set(err, CVB_EIO, "broker %s: %s %s: %s", r->url, name, subject, rep->str);
    return 0;
}

static bool reply_is(const redisReply *rep, const char *prefix) {
    return rep && rep->type == REDIS_REPLY_ERROR && rep->str &&
           strncmp(rep->str, prefix, strlen(prefix)) == 0;
}

/* Create the group (and the stream) if missing. From id 0, not $: an entry
 * XADDed between a stream's loss and this call is still delivered. */
static int ensure_group(struct cvb_queue *q, struct rq *r, const char *key, struct cvb_err *err) {
    const char *argv[] = {"XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM"};
    redisReply *rep;
    int rc = cmd(q, r, 6, argv, &rep, err);
    if (rc < 0 && reply_is(rep, "BUSYGROUP")) rc = 0;
    if (rep) freeReplyObject(rep);
    return rc;
}

/* ---- keys ---------------------------------------------------------------------- */

/* A stream key component: non-empty (unless 'may_be_empty'), no ':', no
 * space or control character, no glob character (depth() SCANs by pattern). */
static int check_part(const char *s, const char *what, const char *task, struct cvb_err *err) {
    if (s[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "queue: task %s: %s is empty", task, what);
    for (const char *p = s; *p; p++)
        if (*p == ':' || (unsigned char)*p <= ' ' || *p == 0x7f || strchr("*?[]\\", *p))
            return cvb_err_set(err, CVB_EINVAL, "queue: task %s: %s \"%s\": character '%c' "
                               "not allowed in a stream key", task, what, s, *p);
    return 0;
}

static int stream_key(const struct cvb_queue *q, const char *backend, const char *isa,
                      const char *tag, const char *task, char *key, struct cvb_err *err) {
    int rc = check_part(backend, "backend", task, err);
    if (rc == 0) rc = check_part(isa, "isa", task, err);
    if (rc == 0 && tag[0] != '\0') rc = check_part(tag, "tag", task, err);
    if (rc < 0) return rc;
    int n = snprintf(key, KEY_MAX, "%s:tasks:%s:%s:%s", q->o.stream_prefix, backend, isa,
                     tag[0] ? tag : "-");
    if (n < 0 || n >= KEY_MAX)
        return cvb_err_set(err, CVB_ERANGE, "queue: task %s: stream key longer than %d "
                           "characters", task, KEY_MAX - 1);
    return 0;
}

static int task_key(const struct cvb_queue *q, const struct cvb_task *t, char *key,
                    struct cvb_err *err) {
    return stream_key(q, t->req_backend, t->req_isa, t->req_tag, t->id, key, err);
}

/* ---- open / push ------------------------------------------------------------- */

static int rq_open(struct cvb_queue *q, const char *broker, struct cvb_err *err) {
    struct rq *r = calloc(1, sizeof *r);
    if (r == NULL) return cvb_err_set(err, CVB_ENOMEM, "broker %.200s: out of memory", broker);
    if (strlen(broker) >= sizeof r->url) {
        free(r);
        return cvb_err_set(err, CVB_EINVAL, "broker %.80s...: URL too long", broker);
    }
    snprintf(r->url, sizeof r->url, "%s", broker);
    int rc = parse_url(r, broker, err);
    if (rc == 0) rc = connect_broker(q, r, err);
    if (rc < 0) {
        drop(r);
        free(r);
        return rc;
    }
    pthread_mutex_init(&r->mu, NULL);
    q->impl = r;
    return 0;
}

static void rq_close(struct cvb_queue *q) {
    struct rq *r = q->impl;
    if (r == NULL) return;
    for (int i = 0; i < r->n_used && r->c != NULL; i++) {
        const char *argv[] = {"EVAL", delconsumer_script, "1", r->used[i], GROUP, q->consumer};
        struct cvb_err e = {0};
        redisReply *rep;
        if (cmd(q, r, 6, argv, &rep, &e) < 0)
            cvb_log_warn("queue: close: consumer %s left in %s: %s", q->consumer, r->used[i], e.msg);
        if (rep) freeReplyObject(rep);
    }
    drop(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
    q->impl = NULL;
}

/* XADD task 'id' to 'key' (caller holds r->mu). */
static int xadd(struct cvb_queue *q, struct rq *r, const char *key, const char *id,
                struct cvb_err *err) {
    int rc = ensure_group(q, r, key, err);
    if (rc < 0) return rc;
    const char *argv[] = {"XADD", key, "*", "task_id", id};
    redisReply *rep;
    rc = cmd(q, r, 5, argv, &rep, err);
    if (rep) freeReplyObject(rep);
    return rc;
}

static int rq_push(struct cvb_queue *q, const struct cvb_task *t, bool force,
                   struct cvb_err *err) {
    struct rq *r = q->impl;
    char key[KEY_MAX];
    int rc = task_key(q, t, key, err);
    if (rc < 0) return rc;
    bool created = false;
    rc = cvb_store_add_task(q->st, t, &created, err);
    if (rc < 0 || (!created && !force)) return rc;
    pthread_mutex_lock(&r->mu);
    rc = xadd(q, r, key, t->id, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- delivery ------------------------------------------------------------------ */

/* Owner-checked renew or ack of entry 'entry' of 'key' (caller holds
 * r->mu). *res: 1 done, 0 another consumer owns it, -1 not pending, -2 no
 * group. */
static int owner_op(struct cvb_queue *q, struct rq *r, const char *key, const char *entry,
                    const char *op, int *res, struct cvb_err *err) {
    const char *argv[] = {"EVAL", owner_script, "1", key, GROUP, entry, q->consumer, op};
    redisReply *rep;
    int rc = cmd(q, r, 8, argv, &rep, err);
    if (rc == 0 && rep->type != REDIS_REPLY_INTEGER)
        rc = cvb_err_set(err, CVB_EIO, "broker %s: %s %s %s: unexpected reply type %d", r->url,
                         op, key, entry, rep->type);
    if (rc == 0) *res = (int)rep->integer;
    if (rep) freeReplyObject(rep);
    return rc;
}

#define SKIPPED 1 /* process(): delivery acknowledged and skipped */

/* One delivered entry: begin it in the store. 0: *d filled; SKIPPED; < 0. */
static int process(struct cvb_queue *q, struct rq *r, const char *key, const redisReply *e,
                   bool redelivered, struct cvb_delivery *d, struct cvb_err *err) {
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
        e->element[0]->type != REDIS_REPLY_STRING)
        return cvb_err_set(err, CVB_EFORMAT, "broker %s: %s: malformed stream entry", r->url, key);
    const char *entry = e->element[0]->str;
    const redisReply *fv = e->element[1];
    const char *id = NULL;
    if (fv->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i + 1 < fv->elements; i += 2)
            if (fv->element[i]->type == REDIS_REPLY_STRING &&
                strcmp(fv->element[i]->str, "task_id") == 0 &&
                fv->element[i + 1]->type == REDIS_REPLY_STRING)
                id = fv->element[i + 1]->str;
    int res = 0, attempt = 0, rc;
    if (id == NULL || strlen(id) >= CVB_TASK_ID_MAX || strlen(entry) >= sizeof d->entry) {
        cvb_log_warn("queue: broker %s: %s entry %s has no usable task_id: acknowledged",
                     r->url, key, entry);
        rc = owner_op(q, r, key, entry, "ack", &res, err);
        return rc < 0 ? rc : SKIPPED;
    }
    rc = cvb_store_task_begin(q->st, id, q->consumer, q->o.lease_s, q->o.max_attempts, &attempt,
                              err);
    if (rc == 0) {
        rc = cvb_store_get_task(q->st, id, &d->task, err);
        if (rc < 0) return rc; /* begun but unreadable: the lease expires, it comes back */
        d->task.attempt = attempt;
        d->redelivered = redelivered;
        snprintf(d->stream, sizeof d->stream, "%s", key);
        snprintf(d->entry, sizeof d->entry, "%s", entry);
        return 0;
    }
    if (rc == CVB_TASK_FINISHED) {
        cvb__queue_count(q, &q->stats.acked_finished, 1);
    } else if (rc == CVB_TASK_DEAD) {
        cvb__queue_count(q, &q->stats.dead, 1);
        cvb_log_warn("queue: task %s is dead: more than %d deliveries", id, q->o.max_attempts);
    } else if (rc == CVB_ENOTFOUND) {
        cvb_log_warn("queue: broker %s: %s entry %s names task %s, which the store %s does "
                     "not have: acknowledged", r->url, key, entry, id, cvb_store_name(q->st));
    } else {
        return rc; /* store error: the entry stays pending, taken over after the lease */
    }
    rc = owner_op(q, r, key, entry, "ack", &res, err);
    return rc < 0 ? rc : SKIPPED;
}

/* Take over an entry of 'key' idle for lease_s (caller holds r->mu).
 * 0: *d filled; CVB_ENOTFOUND; < 0. *skips counts acknowledged ones. */
static int take_expired(struct cvb_queue *q, struct rq *r, const char *key,
                        struct cvb_delivery *d, int *skips, struct cvb_err *err) {
    char idle[32], cursor[48] = "0-0";
    snprintf(idle, sizeof idle, "%lld", (long long)(q->o.lease_s * 1000.0));
    for (int scan = 0; scan < AUTOCLAIM_SCANS && *skips < MAX_SKIPS; scan++) {
        const char *argv[] = {"XAUTOCLAIM", key, GROUP, q->consumer, idle, cursor, "COUNT", "1"};
        redisReply *rep;
        int rc = cmd(q, r, 8, argv, &rep, err);
        if (rc < 0 && reply_is(rep, "NOGROUP")) {
            freeReplyObject(rep);
            rc = ensure_group(q, r, key, err);
            return rc < 0 ? rc : CVB_ENOTFOUND; /* a new group has nothing pending */
        }
        if (rc < 0) {
            if (rep) freeReplyObject(rep);
            return rc;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return cvb_err_set(err, CVB_EFORMAT, "broker %s: XAUTOCLAIM %s: unexpected reply",
                               r->url, key);
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        const redisReply *entries = rep->element[1];
        rc = CVB_ENOTFOUND;
        for (size_t i = 0; i < entries->elements; i++) {
            if (entries->element[i]->type == REDIS_REPLY_NIL) continue; /* deleted (6.2) */
            rc = process(q, r, key, entries->element[i], true, d, err);
            if (rc == SKIPPED) (*skips)++;
            if (rc != SKIPPED) break;
        }
        freeReplyObject(rep);
        if (rc == 0 || (rc < 0 && rc != CVB_ENOTFOUND)) return rc;
        if (rc == SKIPPED) {
            snprintf(cursor, sizeof cursor, "0-0");
            continue;
        }
        if (strcmp(cursor, "0-0") == 0) break;
    }
    return CVB_ENOTFOUND;
}

/* Read a never-delivered entry of 'key' (caller holds r->mu). */
static int take_new(struct cvb_queue *q, struct rq *r, const char *key, struct cvb_delivery *d,
                    int *skips, struct cvb_err *err) {
    bool created = false;
    while (*skips < MAX_SKIPS) {
        const char *argv[] = {"XREADGROUP", "GROUP", GROUP, q->consumer, "COUNT", "1",
                              "STREAMS", key, ">"};
        redisReply *rep;
        int rc = cmd(q, r, 9, argv, &rep, err);
        if (rc < 0 && reply_is(rep, "NOGROUP") && !created) {
            freeReplyObject(rep);
            rc = ensure_group(q, r, key, err);
            if (rc < 0) return rc;
            created = true;
            continue;
        }
        if (rc < 0) {
            if (rep) freeReplyObject(rep);
            return rc;
        }
        if (rep->type == REDIS_REPLY_NIL) {
            freeReplyObject(rep);
            return CVB_ENOTFOUND;
        }
        /* [[key, [[id, [field, value]]]]] */
        const redisReply *s = rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 ? rep->element[0] : NULL;
        const redisReply *entries = s && s->type == REDIS_REPLY_ARRAY && s->elements == 2 ? s->element[1] : NULL;
        if (entries == NULL || entries->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return cvb_err_set(err, CVB_EFORMAT, "broker %s: XREADGROUP %s: unexpected reply",
                               r->url, key);
        }
        if (entries->elements == 0) {
            freeReplyObject(rep);
            return CVB_ENOTFOUND;
        }
        rc = process(q, r, key, entries->element[0], false, d, err);
        freeReplyObject(rep);
        if (rc != SKIPPED) return rc;
        (*skips)++;
    }
    return CVB_ENOTFOUND;
}

static int rq_next(struct cvb_queue *q, const struct cvb_task_filter *f, struct cvb_delivery *d,
                   struct cvb_err *err) {
    struct rq *r = q->impl;
    static const char no_tag[] = "";
    char keys[MAX_KEYS][KEY_MAX];
    int n_keys = 0, rc = 0;
    for (int i = 0; i < f->n_isas; i++)
        for (int t = -1; t < f->n_tags; t++) {
            rc = stream_key(q, f->backend, f->isas[i], t < 0 ? no_tag : f->tags[t], "(filter)",
                            keys[n_keys], err);
            if (rc < 0) return rc;
            n_keys++;
        }
    uint64_t deadline = cvb_now_ns() + (uint64_t)q->o.block_ms * 1000000ull;
    pthread_mutex_lock(&r->mu);
    for (int k = 0; k < n_keys; k++) {
        int u = 0;
        while (u < r->n_used && strcmp(r->used[u], keys[k]) != 0) u++;
        if (u == r->n_used && u < MAX_KEYS) memcpy(r->used[r->n_used++], keys[k], KEY_MAX);
    }
    pthread_mutex_unlock(&r->mu);
    for (;;) {
        int skips = 0;
        rc = CVB_ENOTFOUND;
        pthread_mutex_lock(&r->mu);
        for (int k = 0; k < n_keys && rc == CVB_ENOTFOUND; k++) {
            /* connect first, so that a reconnect's wait applies to this round */
            if (r->c == NULL) {
                rc = connect_broker(q, r, err);
                if (rc < 0) break;
                cvb_log_info("queue: reconnected to broker %s", r->url);
                rc = CVB_ENOTFOUND;
            }
            if (cvb_now_ns() >= r->claim_after_ns)
                rc = take_expired(q, r, keys[k], d, &skips, err);
            if (rc == CVB_ENOTFOUND) rc = take_new(q, r, keys[k], d, &skips, err);
        }
        pthread_mutex_unlock(&r->mu);
        if (rc != CVB_ENOTFOUND) return rc;
        uint64_t now = cvb_now_ns();
        if (now >= deadline) break;
        uint64_t left_ms = (deadline - now + 999999ull) / 1000000ull;
        cvb__queue_sleep_ms(left_ms < POLL_MS ? (int)left_ms : POLL_MS);
    }
    return cvb_err_set(err, CVB_ENOTFOUND, "broker %s: no task for %s", r->url, q->consumer);
}

static int check_redis_delivery(const struct rq *r, const struct cvb_delivery *d,
                                struct cvb_err *err) {
    if (d->stream[0] == '\0' || d->entry[0] == '\0')
        return cvb_err_set(err, CVB_EINVAL, "broker %s: task %s: delivery has no stream entry "
                           "(not delivered by a Redis queue)", r->url, d->task.id);
    return 0;
}

static int rq_renew(struct cvb_queue *q, const struct cvb_delivery *d, struct cvb_err *err) {
    struct rq *r = q->impl;
    int rc = check_redis_delivery(r, d, err);
    if (rc < 0) return rc;
    rc = cvb_store_task_renew(q->st, d->task.id, d->task.attempt, q->o.lease_s, err);
    if (rc != 0) return rc;
    int res = 0;
    pthread_mutex_lock(&r->mu);
    rc = owner_op(q, r, d->stream, d->entry, "renew", &res, err);
    pthread_mutex_unlock(&r->mu);
    if (rc < 0) return rc;
    if (res == 0) {
        cvb_log_warn("queue: task %s attempt %d: entry %s of %s is now another consumer's: "
                     "fenced", d->task.id, d->task.attempt, d->entry, d->stream);
        return CVB_TASK_FENCED;
    }
    if (res < 0)
        cvb_log_warn("queue: broker %s lost entry %s of %s (task %s, attempt %d still current "
                     "in the store): renewed in the store only", r->url, d->entry, d->stream,
                     d->task.id, d->task.attempt);
    return 0;
}

/* Acknowledge d after the store accepted its outcome. A failed ack is
 * harmless (the task is finished: a redelivery is acknowledged then), so
 * it is logged, not returned. */
static void ack_finished(struct cvb_queue *q, struct rq *r, const struct cvb_delivery *d) {
    struct cvb_err e = {0};
    int res = 0;
    pthread_mutex_lock(&r->mu);
    int rc = owner_op(q, r, d->stream, d->entry, "ack", &res, &e);
    pthread_mutex_unlock(&r->mu);
    if (rc < 0)
        cvb_log_warn("queue: task %s finished but not acknowledged (a redelivery will be): %s",
                     d->task.id, e.msg);
    else if (res != 1)
        cvb_log_info("queue: task %s: entry %s of %s not pending to %s (%d): nothing to "
                     "acknowledge", d->task.id, d->entry, d->stream, q->consumer, res);
}

static int rq_complete(struct cvb_queue *q, const struct cvb_delivery *d,
                       const struct cvb_manifest *m, const struct cvb_level_result *r_,
                       const struct cvb_frame_sample *samples, int n_samples,
                       struct cvb_err *err) {
    struct rq *r = q->impl;
    int rc = check_redis_delivery(r, d, err);
    if (rc < 0) return rc;
    rc = cvb_store_task_complete(q->st, d->task.id, d->task.attempt, m, r_, samples, n_samples,
                                 err);
    if (rc != 0) return rc; /* fenced: nothing stored, nothing acknowledged */
    ack_finished(q, r, d);
    return 0;
}

static int rq_fail(struct cvb_queue *q, const struct cvb_delivery *d, const char *reason,
                   struct cvb_err *err) {
    struct rq *r = q->impl;
    int rc = check_redis_delivery(r, d, err);
    if (rc < 0) return rc;
    rc = cvb_store_task_fail(q->st, d->task.id, d->task.attempt, reason, err);
    if (rc != 0) return rc;
    ack_finished(q, r, d);
    return 0;
}

/* ---- reconcile / depth -------------------------------------------------------- */

struct cand {
    char key[KEY_MAX];
    char id[CVB_TASK_ID_MAX];
    bool held;
};

static int cand_cmp(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->id, y->id);
}

/* Mark the candidates [lo, hi) (one key, sorted by id) whose id an entry of
 * their stream holds (caller holds r->mu). *complete false when the stream
 * was longer than RECONCILE_MAX_ENTRIES: absence is then unproven. */
static int mark_held(struct cvb_queue *q, struct rq *r, struct cand *c, int lo, int hi,
                     bool *complete, struct cvb_err *err) {
    char start[64] = "-";
    long read = 0;
    *complete = false;
    while (read < RECONCILE_MAX_ENTRIES) {
        const char *argv[] = {"XRANGE", c[lo].key, start, "+", "COUNT", RECONCILE_PAGE};
        redisReply *rep;
        int rc = cmd(q, r, 6, argv, &rep, err);
        if (rc < 0) {
            if (rep) freeReplyObject(rep);
            return rc;
        }
        if (rep->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(rep);
            return cvb_err_set(err, CVB_EFORMAT, "broker %s: XRANGE %s: unexpected reply",
                               r->url, c[lo].key);
        }
        size_t n = rep->elements;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
            const redisReply *fv = e->element[1];
            for (size_t j = 0; fv->type == REDIS_REPLY_ARRAY && j + 1 < fv->elements; j += 2) {
                if (strcmp(fv->element[j]->str ? fv->element[j]->str : "", "task_id") != 0 ||
                    fv->element[j + 1]->str == NULL)
                    continue;
                struct cand probe = {0};
                snprintf(probe.key, sizeof probe.key, "%s", c[lo].key);
                snprintf(probe.id, sizeof probe.id, "%s", fv->element[j + 1]->str);
                struct cand *hit = bsearch(&probe, c + lo, (size_t)(hi - lo), sizeof *c, cand_cmp);
                if (hit) hit->held = true;
            }
            if (i + 1 == n && e->element[0]->type == REDIS_REPLY_STRING)
                snprintf(start, sizeof start, "(%s", e->element[0]->str);
        }
        freeReplyObject(rep);
        read += (long)n;
        if (n < (size_t)atoi(RECONCILE_PAGE)) {
            *complete = true;
            break;
        }
    }
    return 0;
}

static int rq_reconcile(struct cvb_queue *q, int *n_requeued, struct cvb_err *err) {
    struct rq *r = q->impl;
    struct cvb_task *tasks = malloc(sizeof *tasks * RECONCILE_MAX);
    struct cand *c = malloc(sizeof *c * 2 * RECONCILE_MAX);
    int n_c = 0, rc = 0;
    double now = 0;
    *n_requeued = 0;
    if (tasks == NULL || c == NULL) {
        rc = cvb_err_set(err, CVB_ENOMEM, "broker %s: reconcile: out of memory", r->url);
        goto out;
    }
    rc = cvb_store_now(q->st, &now, err);
    if (rc < 0) goto out;
    static const char *const states[] = {"queued", "running"};
    for (int s = 0; s < 2; s++) {
        int n = 0;
        rc = cvb_store_list_tasks(q->st, NULL, states[s], tasks, RECONCILE_MAX, &n, err);
        if (rc < 0) goto out;
        for (int i = 0; i < n; i++) {
            if (s == 1 && !(tasks[i].lease_until < now - q->o.lease_s)) continue;
            struct cvb_err e = {0};
            if (task_key(q, &tasks[i], c[n_c].key, &e) < 0) {
                cvb_log_warn("queue: reconcile: %s", e.msg);
                continue;
            }
            snprintf(c[n_c].id, sizeof c[n_c].id, "%s", tasks[i].id);
            c[n_c].held = false;
            n_c++;
        }
    }
    qsort(c, (size_t)n_c, sizeof *c, cand_cmp);
    pthread_mutex_lock(&r->mu);
    for (int lo = 0, hi; lo < n_c && rc == 0; lo = hi) {
        for (hi = lo + 1; hi < n_c && strcmp(c[hi].key, c[lo].key) == 0; hi++) {
        }
        bool complete = false;
        rc = mark_held(q, r, c, lo, hi, &complete, err);
        if (rc < 0) break;
        if (!complete) {
            cvb_log_warn("queue: reconcile: stream %s holds more than %d entries: not checked",
                         c[lo].key, RECONCILE_MAX_ENTRIES);
            continue;
        }
        for (int i = lo; i < hi && rc == 0; i++) {
            if (c[i].held) continue;
            rc = xadd(q, r, c[i].key, c[i].id, err);
            if (rc == 0) {
                (*n_requeued)++;
                cvb_log_info("queue: reconcile: task %s re-enqueued on %s (no stream entry)",
                             c[i].id, c[i].key);
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
out:
    free(tasks);
    free(c);
    return rc;
}

/* Undelivered entries of one stream: XLEN - pending (acknowledged entries
 * are deleted, so the rest were never delivered). */
static int stream_depth(struct cvb_queue *q, struct rq *r, const char *key, int64_t *depth,
                        struct cvb_err *err) {
    const char *len_argv[] = {"XLEN", key};
    const char *pend_argv[] = {"XPENDING", key, GROUP};
    redisReply *rep;
    int rc = cmd(q, r, 2, len_argv, &rep, err);
    if (rc < 0 || rep->type != REDIS_REPLY_INTEGER) {
        if (rep) freeReplyObject(rep);
        return rc < 0 ? rc : cvb_err_set(err, CVB_EFORMAT, "broker %s: XLEN %s: bad reply", r->url, key);
    }
    int64_t len = rep->integer;
    freeReplyObject(rep);
    int64_t pending = 0;
    rc = cmd(q, r, 3, pend_argv, &rep, err);
    if (rc < 0 && reply_is(rep, "NOGROUP")) {
        rc = 0;
    } else if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 1 &&
               rep->element[0]->type == REDIS_REPLY_INTEGER) {
        pending = rep->element[0]->integer;
    } else if (rc == 0) {
        rc = cvb_err_set(err, CVB_EFORMAT, "broker %s: XPENDING %s: bad reply", r->url, key);
    }
    if (rep) freeReplyObject(rep);
    if (rc == 0 && len > pending) *depth += len - pending;
    return rc;
}

static int rq_depth(struct cvb_queue *q, int64_t *depth, struct cvb_err *err) {
    struct rq *r = q->impl;
    char pattern[KEY_MAX], cursor[32] = "0";
    int rc = 0, n_keys = 0;
    snprintf(pattern, sizeof pattern, "%s:tasks:*", q->o.stream_prefix);
    pthread_mutex_lock(&r->mu);
    do {
        const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", "200", "TYPE", "stream"};
        redisReply *rep;
        rc = cmd(q, r, 8, argv, &rep, err);
        if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
                        rep->element[0]->type != REDIS_REPLY_STRING ||
                        rep->element[1]->type != REDIS_REPLY_ARRAY))
            rc = cvb_err_set(err, CVB_EFORMAT, "broker %s: SCAN %s: bad reply", r->url, pattern);
        if (rc < 0) {
            if (rep) freeReplyObject(rep);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        for (size_t i = 0; i < rep->element[1]->elements && rc == 0 && n_keys < DEPTH_MAX_KEYS; i++, n_keys++)
            rc = stream_depth(q, r, rep->element[1]->element[i]->str, depth, err);
        freeReplyObject(rep);
    } while (rc == 0 && strcmp(cursor, "0") != 0 && n_keys < DEPTH_MAX_KEYS);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0 && n_keys >= DEPTH_MAX_KEYS)
        cvb_log_warn("queue: depth: more than %d streams under %s: the rest not counted",
                     DEPTH_MAX_KEYS, pattern);
    return rc;
}

int cvb__queue_redis_command(struct cvb_queue *q, int argc, const char **argv, long long *n,
                             struct cvb_err *err) {
    if (n) *n = -1;
    if (q->ops != &cvb__queue_redis_ops)
        return cvb_err_set(err, CVB_EUNSUPPORTED, "queue: raw commands need a Redis broker");
    struct rq *r = q->impl;
    redisReply *rep;
    pthread_mutex_lock(&r->mu);
    int rc = cmd(q, r, argc, argv, &rep, err);
    pthread_mutex_unlock(&r->mu);
    if (rc == 0 && n && rep->type == REDIS_REPLY_INTEGER) *n = rep->integer;
    if (rc == 0 && n && rep->type == REDIS_REPLY_ARRAY) *n = (long long)rep->elements;
    if (rep) freeReplyObject(rep);
    return rc;
}

const struct cvb__queue_ops cvb__queue_redis_ops = {
    .kind = "redis",
    .open = rq_open,
    .close = rq_close,
    .push = rq_push,
    .next = rq_next,
    .renew = rq_renew,
    .complete = rq_complete,
    .fail = rq_fail,
    .reconcile = rq_reconcile,
    .depth = rq_depth,
};
