/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench serve`: the API server, the coordinator and N local workers in
 * one process; `cvbench worker`: one worker process (distributed mode).
 * Option parsing only: the service lives in src/service/. */
#include "cli/cli.h"
#include "http/http.h"
#include "service/api.h"
#include "service/metrics.h"
#include "service/service.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LOCAL_WORKERS 16

static volatile sig_atomic_t g_stop;

static void install_signals(void) { cvb__cli_stop_on_signals(&g_stop); }

/* Options both commands share. */
struct common {
    char store[CVB_SERVICE_URL_MAX];
    char broker[CVB_SERVICE_URL_MAX];
    struct cvb_queue_opts queue;
    char isa[24];
    int n_tags;
    char tags[CVB_CAPS_MAX_TAGS][32];
    char backend[16];
};

static int parse_seconds(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || errno || !(x >= lo && x <= hi))
        return cvb__cli_usage_error("--%s: '%s' is not a number of seconds in %g..%g", opt, v, lo,
                                    hi);
    *out = x;
    return 0;
}

/* Handle an option of 'struct common'; 1 if it was one, 0 if not, 2 on error. */
static int common_opt(struct common *c, const char *name, const char *v) {
    if (strcmp(name, "db") == 0 || strcmp(name, "store") == 0) {
        snprintf(c->store, sizeof c->store, "%s", v);
    } else if (strcmp(name, "broker") == 0) {
        if (strncmp(v, "redis://", 8) != 0)
            return cvb__cli_usage_error("--broker: '%s' is not a redis://HOST:PORT URL", v), 2;
        snprintf(c->broker, sizeof c->broker, "%s", v);
    } else if (strcmp(name, "lease") == 0) {
        if (parse_seconds(name, v, 0.05, 86400, &c->queue.lease_s)) return 2;
    } else if (strcmp(name, "heartbeat") == 0) {
        if (parse_seconds(name, v, 0.01, 3600, &c->queue.heartbeat_s)) return 2;
    } else if (strcmp(name, "max-attempts") == 0) {
        int n = cvb__parse_int(v, 1, 100);
        if (n < 0) return cvb__cli_usage_error("--max-attempts: '%s' is not in 1..100", v), 2;
        c->queue.max_attempts = n;
    } else if (strcmp(name, "isa") == 0) {
        static const char *const ok[] = {"auto", "amx", "avx512_vnni", "avx512", "avx2"};
        bool found = false;
        for (size_t i = 0; i < CVB_ARRAY_LEN(ok); i++) found |= strcmp(v, ok[i]) == 0;
        if (!found)
            return cvb__cli_usage_error("--isa: '%s' is not one of auto, amx, avx512_vnni, "
                                        "avx512, avx2", v), 2;
        snprintf(c->isa, sizeof c->isa, "%s", v);
    } else if (strcmp(name, "tag") == 0) {
        size_t len = strlen(v);
        if (len == 0 || len >= sizeof c->tags[0] || strspn(v, "abcdefghijklmnopqrstuvwxyz"
                                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                              "0123456789_.-") != len)
            return cvb__cli_usage_error("--tag: '%s' must be 1..31 letters, digits, '_', '.' "
                                        "or '-'", v), 2;
        if (c->n_tags == CVB_CAPS_MAX_TAGS)
            return cvb__cli_usage_error("--tag: at most %d tags", CVB_CAPS_MAX_TAGS), 2;
        snprintf(c->tags[c->n_tags++], sizeof c->tags[0], "%s", v);
    } else if (strcmp(name, "backend") == 0) {
        if (strcmp(v, "cpu") != 0 && strcmp(v, "kserve") != 0)
            return cvb__cli_usage_error("--backend: '%s' is not implemented yet (cpu and "
                                        "kserve are; cuda comes with its issue)", v), 2;
        snprintf(c->backend, sizeof c->backend, "%s", v);
    } else {
        return 0;
    }
    return 1;
}

static void common_defaults(struct common *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->store, sizeof c->store, "cvbench.db");
    cvb_queue_opts_defaults(&c->queue);
    snprintf(c->isa, sizeof c->isa, "auto");
    snprintf(c->backend, sizeof c->backend, "cpu");
}

static int check_periods(const struct common *c) {
    if (!(c->queue.heartbeat_s < c->queue.lease_s))
        return cvb__cli_usage_error("--heartbeat (%g s) must be shorter than --lease (%g s)",
                                    c->queue.heartbeat_s, c->queue.lease_s);
    return 0;
}

static void worker_opts(const struct common *c, struct cvb_worker_opts *o) {
    cvb_worker_opts_defaults(o);
    snprintf(o->store_url, sizeof o->store_url, "%s", c->store);
    snprintf(o->broker, sizeof o->broker, "%s", c->broker);
    o->queue = c->queue;
    snprintf(o->backend, sizeof o->backend, "%s", c->backend);
    snprintf(o->isa, sizeof o->isa, "%s", c->isa);
    o->n_tags = c->n_tags;
    memcpy(o->tags, c->tags, sizeof o->tags);
}

static const char common_help[] =
    "  --db FILE | --store URL   the store: an SQLite file (default cvbench.db) or\n"
    "                          postgresql://USER@HOST:PORT/DB\n"
    "  --broker redis://HOST:PORT  the task queue (default: the store's task table)\n"
    "  --lease S (60) --heartbeat S (10) --max-attempts N (3)\n"
    "                          a worker renews its task's lease every heartbeat; a task\n"
    "                          whose worker stops renewing for a lease goes to another\n"
    "                          worker; after max-attempts deliveries it is dead\n"
    "  --isa auto|amx|avx512_vnni|avx512|avx2   worker ISA cap (default: detect)\n"
    "  --tag NAME              worker tag (repeatable); a scenario's worker_tag routes to it\n"
    "  --backend cpu|kserve    worker backend: kserve workers run scenarios of backend\n"
    "                          kserve against the scenario's kserve_url (cuda: not yet)\n";

/* ---- worker threads (serve) ---------------------------------------------------------- */

struct local_worker {
    pthread_t th;
    struct cvb_worker *w;
};

static void *local_worker_main(void *arg) {
    struct local_worker *lw = arg;
    struct cvb_err err = {0};
    if (cvb_worker_run(lw->w, &g_stop, &err) < 0)
        fprintf(stderr, "cvbench: worker %s: %s\n", cvb_worker_id(lw->w), err.msg);
    return NULL;
}

static int add_root(struct cvb_api_opts *a, const char *dir) {
    if (a->n_roots == CVB_API_MAX_ROOTS)
        return cvb__cli_usage_error("--data-root: at most %d roots", CVB_API_MAX_ROOTS);
    char real[PATH_MAX];
    if (realpath(dir, real) == NULL)
        return cvb__cli_usage_error("--data-root %s: %s", dir, strerror(errno));
    snprintf(a->roots[a->n_roots++], sizeof a->roots[0], "%s", real);
    return 0;
}

int cvb__cmd_serve(int argc, char **argv) {
    struct common c;
    common_defaults(&c);
    struct cvb_api_opts *ao = calloc(1, sizeof *ao);
    if (ao == NULL) return cvb__cli_usage_error("out of memory");
    const char *listen = CVB_HTTP_DEFAULT_LISTEN, *token_file = NULL;
    int n_workers = -1;
    double tick_s = 0.2;
    int exit_code = CVB_EXIT_OK;
    static const struct option longopts[] = {
        {"listen", required_argument, 0, 'l'}, {"db", required_argument, 0, 0},
        {"store", required_argument, 0, 0},    {"broker", required_argument, 0, 0},
        {"workers", required_argument, 0, 'w'}, {"data-root", required_argument, 0, 'r'},
        {"token-file", required_argument, 0, 't'}, {"lease", required_argument, 0, 0},
        {"heartbeat", required_argument, 0, 0}, {"max-attempts", required_argument, 0, 0},
        {"tick", required_argument, 0, 'k'},   {"isa", required_argument, 0, 0},
        {"tag", required_argument, 0, 0},      {"backend", required_argument, 0, 0},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    int ch, li;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
        switch (ch) {
        case 0: {
            int r = common_opt(&c, longopts[li].name, optarg);
            if (r == 2) {
                exit_code = CVB_EXIT_USAGE;
                goto out;
            }
            break;
        }
        case 'l': listen = optarg; break;
        case 'w':
            n_workers = cvb__parse_int(optarg, 0, MAX_LOCAL_WORKERS);
            if (n_workers < 0) {
                exit_code = cvb__cli_usage_error("--workers: '%s' is not in 0..%d", optarg,
                                                 MAX_LOCAL_WORKERS);
                goto out;
            }
            break;
        case 'r':
            if (add_root(ao, optarg)) {
                exit_code = CVB_EXIT_USAGE;
                goto out;
            }
            break;
        case 't': token_file = optarg; break;
        case 'k':
            if (parse_seconds("tick", optarg, 0.01, 60, &tick_s)) {
                exit_code = CVB_EXIT_USAGE;
                goto out;
            }
            break;
        case 'h':
            printf("usage: cvbench serve [--listen HOST:PORT] [--db FILE | --store URL]\n"
                   "                     [--broker redis://HOST:PORT] [--workers N]\n"
                   "                     [--data-root DIR]... [--token-file FILE]\n"
                   "\n"
                   "The benchmark service: HTTP API (/v1, docs/openapi.yaml), dashboard (/),\n"
                   "Prometheus metrics (/metrics), the coordinator, and N local workers, in\n"
                   "one process. Embedded (default): an SQLite file holds runs, tasks and\n"
                   "results; nothing else to start. Distributed: --broker redis://... and\n"
                   "--store postgresql://..., with `cvbench worker` on each machine.\n"
                   "\n"
                   "  --listen HOST:PORT      default 127.0.0.1:8080 (port 0: any free port)\n"
                   "  --workers N             local workers (default 1; 0 with --broker)\n"
                   "  --data-root DIR         submitted model/video paths must resolve under\n"
                   "                          one of these (repeatable; default: the working\n"
                   "                          directory); relative ones resolve against the first\n"
                   "  --token-file FILE       POST requests need 'Authorization: Bearer <token>'\n"
                   "  --tick S                coordinator period (default 0.2)\n"
                   "%s",
                   common_help);
            goto out;
        default: exit_code = CVB_EXIT_USAGE; goto out;
        }
    }
    if (optind < argc) {
        exit_code = cvb__cli_usage_error("serve: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (check_periods(&c)) {
        exit_code = CVB_EXIT_USAGE;
        goto out;
    }
    if (n_workers < 0) n_workers = c.broker[0] ? 0 : 1;
    if (ao->n_roots == 0 && add_root(ao, ".")) {
        exit_code = CVB_EXIT_USAGE;
        goto out;
    }
    char token[CVB_HTTP_TOKEN_MAX + 1] = "";
    struct cvb_err err = {0};
    if (token_file != NULL && cvb_http_load_token(token_file, token, sizeof token, &err) < 0) {
        exit_code = cvb__cli_fail(&err);
        goto out;
    }
    install_signals();

    struct cvb_coord_opts co;
    cvb_coord_opts_defaults(&co);
    snprintf(co.store_url, sizeof co.store_url, "%s", c.store);
    snprintf(co.broker, sizeof co.broker, "%s", c.broker);
    co.queue = c.queue;
    co.tick_s = tick_s;
    struct cvb_coord *coord = NULL;
    struct cvb_api *api = NULL;
    struct cvb_http_server *srv = NULL;
    struct cvb_service_metrics *sm = NULL;
    struct local_worker lw[MAX_LOCAL_WORKERS];
    int n_started = 0;
    memset(lw, 0, sizeof lw);
    int rc = cvb_coord_new(&co, &coord, &err);
    if (rc < 0) goto fail;
    snprintf(ao->store_url, sizeof ao->store_url, "%s", c.store);
    snprintf(ao->queue_kind, sizeof ao->queue_kind, "%s", cvb_queue_kind(cvb__coord_queue(coord)));
    snprintf(ao->version, sizeof ao->version, "%s", CVB_VERSION);
    ao->lost_after_s = c.queue.lease_s;
    rc = cvb_api_new(ao, &api, &err);
    if (rc < 0) goto fail;
    for (int i = 0; i < n_workers; i++) {
        struct cvb_worker_opts wo;
        worker_opts(&c, &wo);
        rc = cvb_worker_new(&wo, &lw[i].w, &err);
        if (rc < 0) goto fail;
        if (pthread_create(&lw[i].th, NULL, local_worker_main, &lw[i]) != 0) {
            cvb_worker_free(lw[i].w);
            lw[i].w = NULL;
            rc = cvb_err_set(&err, CVB_ENOMEM, "cannot start worker thread %d", i + 1);
            goto fail;
        }
        n_started++;
    }
    rc = cvb_service_metrics_new(true, &sm, &err);
    if (rc < 0) goto fail;
    cvb_service_metrics_add_coord(sm, coord);
    for (int i = 0; i < n_started; i++) cvb_service_metrics_add_worker(sm, lw[i].w);
    struct cvb_http_opts ho = {.listen = listen, .token = token[0] ? token : NULL};
    rc = cvb_http_server_new(&ho, &srv, &err);
    if (rc < 0) goto fail;
    if ((rc = cvb_api_register(api, srv, &err)) < 0) goto fail;
    if ((rc = cvb_service_metrics_route(sm, srv, &err)) < 0) goto fail;
    if ((rc = cvb_service_dashboard_route(srv, &err)) < 0) goto fail;
    {
        char host[128];
        snprintf(host, sizeof host, "%s", listen);
        char *colon = strrchr(host, ':');
        if (colon) *colon = '\0';
        fprintf(stderr,
                "cvbench serve: listening on http://%s:%u (store %s, queue %s, %d local "
                "worker%s, data roots:",
                host, cvb_http_server_port(srv), c.store,
                ao->queue_kind, n_started, n_started == 1 ? "" : "s");
        for (int i = 0; i < ao->n_roots; i++) fprintf(stderr, " %s", ao->roots[i]);
        fprintf(stderr, "%s)\n", token[0] ? "; POST needs the bearer token" : "");
        fflush(stderr);
    }
    rc = cvb_coord_run(coord, &g_stop, &err);
fail:
    g_stop = 1;
    cvb_http_server_free(srv);
    for (int i = 0; i < n_started; i++) pthread_join(lw[i].th, NULL);
    for (int i = 0; i < n_started; i++) cvb_worker_free(lw[i].w);
    cvb_service_metrics_free(sm);
    cvb_api_free(api);
    cvb_coord_free(coord);
    if (rc < 0) exit_code = cvb__cli_fail(&err);
    else fprintf(stderr, "cvbench serve: stopped\n");
out:
    free(ao);
    return exit_code;
}

int cvb__cmd_worker(int argc, char **argv) {
    struct common c;
    common_defaults(&c);
    const char *metrics_listen = NULL;
    static const struct option longopts[] = {
        {"db", required_argument, 0, 0},      {"store", required_argument, 0, 0},
        {"broker", required_argument, 0, 0},  {"lease", required_argument, 0, 0},
        {"heartbeat", required_argument, 0, 0}, {"max-attempts", required_argument, 0, 0},
        {"isa", required_argument, 0, 0},     {"tag", required_argument, 0, 0},
        {"backend", required_argument, 0, 0}, {"metrics-listen", required_argument, 0, 'm'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    int ch, li;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", longopts, &li)) != -1) {
        switch (ch) {
        case 0:
            if (common_opt(&c, longopts[li].name, optarg) == 2) return CVB_EXIT_USAGE;
            break;
        case 'm': metrics_listen = optarg; break;
        case 'h':
            printf("usage: cvbench worker [--db FILE | --store URL] [--broker redis://HOST:PORT]\n"
                   "                      [--isa I] [--tag NAME]... [--metrics-listen HOST:PORT]\n"
                   "\n"
                   "One worker: advertises its capabilities (CPU, ISA, cores, memory,\n"
                   "backend, tags), takes tasks (one concurrency level each) from the queue\n"
                   "and runs them as `cvbench run` would, renewing its lease by heartbeat.\n"
                   "SIGINT/SIGTERM: stop (a task in flight is left to another worker).\n"
                   "\n"
                   "  --metrics-listen HOST:PORT   serve /metrics (Prometheus) there\n"
                   "%s",
                   common_help);
            return CVB_EXIT_OK;
        default: return CVB_EXIT_USAGE;
        }
    }
    if (optind < argc) return cvb__cli_usage_error("worker: unexpected argument '%s'", argv[optind]);
    if (check_periods(&c)) return CVB_EXIT_USAGE;
    install_signals();
    struct cvb_err err = {0};
    struct cvb_worker_opts wo;
    worker_opts(&c, &wo);
    struct cvb_worker *w = NULL;
    struct cvb_http_server *srv = NULL;
    struct cvb_service_metrics *sm = NULL;
    int rc = 0;
    if (metrics_listen != NULL) {
        struct cvb_http_opts ho = {.listen = metrics_listen};
        rc = cvb_http_server_new(&ho, &srv, &err);
        if (rc < 0) goto out;
        char host[128];
        snprintf(host, sizeof host, "%s", metrics_listen);
        char *colon = strrchr(host, ':');
        if (colon) *colon = '\0';
        snprintf(wo.metrics_url, sizeof wo.metrics_url, "http://%.90s:%u/metrics", host,
                 cvb_http_server_port(srv));
    }
    rc = cvb_worker_new(&wo, &w, &err);
    if (rc < 0) goto out;
    if (srv != NULL) {
        if ((rc = cvb_service_metrics_new(false, &sm, &err)) < 0) goto out;
        cvb_service_metrics_add_worker(sm, w);
        if ((rc = cvb_service_metrics_route(sm, srv, &err)) < 0) goto out;
    }
    const struct cvb_worker_info *in = cvb_worker_info(w);
    fprintf(stderr, "cvbench worker %s: backend %s, isa %s (takes: %s)%s%s, store %s, queue %s%s%s\n",
            in->id, in->backend, in->isa, in->isas, in->tags[0] ? ", tags " : "", in->tags,
            c.store, c.broker[0] ? c.broker : "store",
            in->metrics_url[0] ? ", metrics " : "", in->metrics_url);
    fflush(stderr);
    rc = cvb_worker_run(w, &g_stop, &err);
out:
    cvb_http_server_free(srv);
    cvb_worker_free(w);
    cvb_service_metrics_free(sm);
    if (rc < 0) return cvb__cli_fail(&err);
    fprintf(stderr, "cvbench worker: stopped\n");
    return CVB_EXIT_OK;
}
