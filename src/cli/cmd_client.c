/* SPDX-License-Identifier: Apache-2.0 */
/* The service's command-line client: `cvbench submit`, `cvbench runs`,
 * `cvbench cancel`. It speaks the HTTP API (docs/openapi.yaml) through
 * src/http/'s client; users never need curl.
 *
 * A submitted scenario is the scenario file's JSON object with the flags
 * laid over it. Each flag goes through the scenario field table on a
 * scratch scenario (the same parser `cvbench run` uses, so a bad flag
 * fails here with the same message) and its encoded value replaces the
 * field in the body. Paths in the file are sent as written: the server
 * resolves relative ones against its first --data-root. */
#include "cli/cli.h"
#include "cvb/report.h"
#include "cvb/scenario.h"
#include "cvb/store.h"
#include "http/http.h"
#include "report/result_json.h"

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESP_MAX (64u << 20)
#define TIMEOUT_MS 30000
#define MAX_LEVELS (CVB_SCN_MAX_LEVELS + 64)

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig) {
    (void)sig;
    g_stop = 1;
}

struct client {
    const char *server;
    char token[CVB_HTTP_TOKEN_MAX + 1];
};

static const char *default_server(void) {
    const char *e = getenv("CVB_SERVER");
    return e && e[0] ? e : "http://127.0.0.1:8080";
}

/* One request; on an HTTP error status, print the server's message and
 * return the exit status for it (2 for 4xx, 1 otherwise). */
static int call(const struct client *c, const char *method, const char *path, const char *body,
                struct cvb_http_result *res, long want) {
    char url[2048];
    snprintf(url, sizeof url, "%s%s", c->server, path);
    struct cvb_err err = {0};
    int rc = cvb_http_request(method, url, c->token[0] ? c->token : NULL,
                              body ? "application/json" : NULL, body, body ? strlen(body) : 0,
                              TIMEOUT_MS, RESP_MAX, res, &err);
    if (rc < 0) return cvb__cli_fail(&err);
    if (res->status == want) return 0;
    json_t *j = json_loads(res->body ? res->body : "", 0, NULL);
    const char *msg = j ? json_string_value(json_object_get(json_object_get(j, "error"),
                                                            "message"))
                        : NULL;
    fprintf(stderr, "cvbench: error: %s %s: HTTP %ld: %s\n", method, url, res->status,
            msg ? msg : (res->body && res->body[0] ? res->body : "(no message)"));
    json_decref(j);
    int code = res->status >= 400 && res->status < 500 ? CVB_EXIT_USAGE : CVB_EXIT_FAIL;
    cvb_http_result_cleanup(res);
    return code;
}

static int load_token(struct client *c, const char *file) {
    if (file == NULL) return 0;
    struct cvb_err err = {0};
    if (cvb_http_load_token(file, c->token, sizeof c->token, &err) < 0) return cvb__cli_fail(&err);
    return 0;
}

/* Lay flag 'name' = 'value' over the request object 'o'. */
static int overlay_flag(json_t *o, struct cvb_scenario *scratch, const char *name,
                        const char *value, const char *cwd) {
    struct cvb_err err = {0};
    if (cvb_scenario_set(scratch, name, value, cwd, &err) < 0) return cvb__cli_fail(&err);
    char key[64];
    size_t i;
    for (i = 0; i < sizeof key - 1 && name[i]; i++) key[i] = name[i] == '-' ? '_' : name[i];
    key[i] = '\0';
    char *buf = malloc(1 << 20);
    if (buf == NULL) return cvb__cli_usage_error("out of memory");
    cvb_scenario_to_json(scratch, buf, 1 << 20);
    json_t *all = json_loads(buf, 0, NULL);
    free(buf);
    json_t *v = all ? json_object_get(all, key) : NULL;
    if (v == NULL) {
        json_decref(all);
        return cvb__cli_usage_error("option '--%s': cannot be encoded for the server", name);
    }
    json_object_set(o, key, v);
    json_decref(all);
    return 0;
}

static void print_level(const struct cvb_level_result *r, int scenario, int n_scenarios) {
    char sc[32] = "";
    if (n_scenarios > 1) snprintf(sc, sizeof sc, "scenario %d ", scenario);
    if (strcmp(r->status, "ok") != 0) {
        fprintf(stderr, "%slevel %d: %d streams: %s: %s\n", sc, r->level + 1, r->streams,
                r->status, r->error);
        return;
    }
    fprintf(stderr,
            "%slevel %d: %d streams: %.1f fps (%.1f per stream), latency p50 %.1f ms p99 %.1f "
            "ms, %s%s\n",
            sc, r->level + 1, r->streams, r->fps, r->fps_per_stream, r->latency_p50_ms,
            r->latency_p99_ms, r->bottleneck, r->stable ? "" : " [unstable]");
}

/* Decode scenario k of a Run object: manifest (if any) and levels. */
static int decode_scenario(json_t *sc, struct cvb_manifest *m, bool *has_m,
                           struct cvb_level_result *lv, int *n) {
    struct cvb_err err = {0};
    *has_m = false;
    *n = 0;
    json_t *mj = json_object_get(sc, "manifest");
    if (json_is_object(mj)) {
        char *t = json_dumps(mj, JSON_COMPACT);
        memset(m, 0, sizeof *m);
        if (t && cvb__manifest_from_json(t, "server reply", m, &err) == 0) *has_m = true;
        free(t);
    }
    json_t *levels = json_object_get(sc, "levels");
    size_t i;
    json_t *l;
    json_array_foreach(levels, i, l) {
        if (*n >= MAX_LEVELS) break;
        char *t = json_dumps(l, JSON_COMPACT);
        memset(&lv[*n], 0, sizeof lv[*n]);
        if (t && cvb__level_from_json(t, "server reply", &lv[*n], &err) == 0) (*n)++;
        free(t);
    }
    return 0;
}

/* Poll the run until it finishes; print each level as it completes and
 * the summary table at the end. */
static int wait_run(const struct client *c, const char *id) {
    struct cvb_level_result *lv = calloc(MAX_LEVELS, sizeof *lv);
    struct cvb_manifest *m = calloc(1, sizeof *m);
    int printed[CVB_STORE_MAX_SCENARIOS] = {0};
    int code = CVB_EXIT_OK;
    char path[128], last_line[512] = "";
    bool tty = isatty(STDERR_FILENO) != 0;
    if (lv == NULL || m == NULL) {
        free(lv);
        free(m);
        return cvb__cli_usage_error("out of memory");
    }
    snprintf(path, sizeof path, "/v1/runs/%s", id);
    signal(SIGINT, on_sigint);
    for (;;) {
        struct cvb_http_result res = {0};
        code = call(c, "GET", path, NULL, &res, 200);
        if (code) break;
        json_t *run = json_loads(res.body, 0, NULL);
        cvb_http_result_cleanup(&res);
        if (run == NULL) {
            code = cvb__cli_usage_error("server reply for run %s is not JSON", id);
            break;
        }
        const char *status = json_string_value(json_object_get(run, "status"));
        const char *message = json_string_value(json_object_get(run, "message"));
        json_t *scns = json_object_get(run, "scenarios");
        int n_sc = (int)json_array_size(scns);
        bool finished = status && (strcmp(status, "done") == 0 || strcmp(status, "failed") == 0 ||
                                   strcmp(status, "cancelled") == 0);
        for (int k = 0; k < n_sc && k < CVB_STORE_MAX_SCENARIOS; k++) {
            bool has_m;
            int n = 0;
            decode_scenario(json_array_get(scns, (size_t)k), m, &has_m, lv, &n);
            for (int i = printed[k]; i < n; i++) {
                if (tty && last_line[0]) fputs("\r\033[K", stderr);
                print_level(&lv[i], k + 1, n_sc);
                last_line[0] = '\0';
            }
            printed[k] = n;
            if (finished && has_m && n > 0) {
                if (n_sc > 1) printf("scenario %d\n", k + 1);
                cvb_report_table(stdout, m, lv, n);
            }
        }
        if (finished) {
            fflush(stdout);
            fprintf(stderr, "run %s %s%s%s\n", id, status, message && message[0] ? ": " : "",
                    message ? message : "");
            code = strcmp(status, "done") == 0 ? CVB_EXIT_OK : CVB_EXIT_FAIL;
            json_decref(run);
            break;
        }
        /* live line: what runs now; with its worker's published progress,
         * the same line `cvbench run` prints */
        char line[512] = "";
        bool shown = false;
        json_t *cur = json_object_get(json_object_get(run, "progress"), "current");
        json_t *t0 = json_array_get(cur, 0);
        json_t *pj = json_object_get(t0, "progress");
        if (json_is_object(pj)) {
            struct cvb_progress p = {0};
            int k = (int)json_integer_value(json_object_get(t0, "scenario")) - 1;
            json_t *sj = json_object_get(json_array_get(scns, (size_t)(k < 0 ? 0 : k)), "scenario");
            p.level = (int)json_integer_value(json_object_get(t0, "level"));
            p.n_levels = json_is_true(json_object_get(sj, "density"))
                             ? 0
                             : (int)json_array_size(json_object_get(sj, "streams"));
            p.streams = (int)json_integer_value(json_object_get(t0, "streams"));
            p.frames_done = json_integer_value(json_object_get(pj, "frames_done"));
            p.frames_total = json_integer_value(json_object_get(pj, "frames_total"));
            p.fps_now = json_number_value(json_object_get(pj, "fps_now"));
            p.elapsed_s = json_number_value(json_object_get(pj, "elapsed_s"));
            p.eta_s = json_number_value(json_object_get(pj, "eta_s"));
            p.warming_up = json_is_true(json_object_get(pj, "warming_up"));
            p.extending = json_is_true(json_object_get(pj, "extending"));
            if (n_sc > 1 && !tty) fprintf(stderr, "scenario %d: ", k + 1);
            cvb_report_progress(stderr, tty, &p);
            snprintf(last_line, sizeof last_line, "progress");
            shown = true;
        } else if (t0)
            snprintf(line, sizeof line, "run %s: %s: scenario %lld level %lld (%lld streams) on %s, "
                     "attempt %lld",
                     id, status ? status : "?",
                     (long long)json_integer_value(json_object_get(t0, "scenario")),
                     (long long)json_integer_value(json_object_get(t0, "level")) + 1,
                     (long long)json_integer_value(json_object_get(t0, "streams")),
                     json_string_value(json_object_get(t0, "worker")),
                     (long long)json_integer_value(json_object_get(t0, "attempt")));
        else
            snprintf(line, sizeof line, "run %s: %s%s%s", id, status ? status : "?",
                     message && message[0] ? ": " : "", message ? message : "");
        if (!shown && (strcmp(line, last_line) != 0 || tty)) {
            if (tty)
                fprintf(stderr, "\r\033[K%.*s", 200, line);
            else
                fprintf(stderr, "%s\n", line);
            snprintf(last_line, sizeof last_line, "%s", line);
        }
        json_decref(run);
        if (g_stop) {
            if (tty) fputs("\n", stderr);
            fprintf(stderr, "stopped waiting; the run goes on (cvbench cancel %s)\n", id);
            code = 130;
            break;
        }
        for (int i = 0; i < 10 && !g_stop; i++) usleep(100000);
    }
    free(lv);
    free(m);
    return code;
}

static void client_usage(FILE *f) {
    fprintf(f,
            "usage: cvbench submit [SCENARIO.json] [--flag value ...] [--server URL]\n"
            "                      [--token-file FILE] [--wait]\n"
            "       cvbench runs [--server URL] [--status S] [--limit N]\n"
            "       cvbench cancel RUN_ID [--server URL] [--token-file FILE]\n"
            "\n"
            "Client of `cvbench serve` (default server: $CVB_SERVER or\n"
            "http://127.0.0.1:8080). submit sends the scenario file with the flags laid\n"
            "over it (the same flags as cvbench run, checked by the same parser) and\n"
            "prints the run id; --wait follows the run, printing each level as it\n"
            "completes and the summary table at the end (exit 0 done, 1 failed or\n"
            "cancelled). Paths in the file are sent as written: the server resolves\n"
            "relative ones against its first --data-root.\n");
}

/* The options every client command takes at argv[*i]: -h/--help (1: help
 * printed), --server URL, --token-file FILE (0: taken, *i advanced); 2 on
 * a usage error (printed); -1 if argv[*i] is none of them. */
static int client_opt(struct client *c, int argc, char **argv, int *i, const char **token_file) {
    const char *a = argv[*i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
        client_usage(stdout);
        return 1;
    }
    if (strcmp(a, "--server") != 0 && strcmp(a, "--token-file") != 0) return -1;
    if (*i + 1 >= argc) {
        cvb__cli_usage_error("option '%s' needs a value", a);
        return 2;
    }
    if (a[2] == 's')
        c->server = argv[++*i];
    else
        *token_file = argv[++*i];
    return 0;
}

int cvb__cmd_submit(int argc, char **argv) {
    struct client c = {.server = default_server()};
    const char *file = NULL, *token_file = NULL;
    bool wait = false;
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL) snprintf(cwd, sizeof cwd, ".");
    /* first pass: the client's own options and the file */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = client_opt(&c, argc, argv, &i, &token_file);
        if (r >= 0) {
            if (r > 0) return r == 1 ? CVB_EXIT_OK : CVB_EXIT_USAGE;
        } else if (strcmp(a, "--wait") == 0) {
            wait = true;
        } else if (strncmp(a, "--", 2) == 0) {
            bool tv = false;
            if (strchr(a, '=') == NULL && cvb_scenario_has_field(a + 2, &tv) && tv) i++;
        } else if (file != NULL) {
            return cvb__cli_usage_error("submit: unexpected argument '%s' (one scenario file)", a);
        } else {
            file = a;
        }
    }
    int code = load_token(&c, token_file);
    if (code) return code;
    json_t *o = NULL;
    if (file != NULL) {
        json_error_t je;
        o = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
        if (o == NULL)
            return cvb__cli_usage_error("%s: line %d: %s", file, je.line, je.text);
        if (!json_is_object(o)) {
            json_decref(o);
            return cvb__cli_usage_error("%s: a scenario file holds one JSON object", file);
        }
    } else {
        o = json_object();
    }
    struct cvb_scenario *scratch = calloc(1, sizeof *scratch);
    if (scratch == NULL) {
        json_decref(o);
        return cvb__cli_usage_error("out of memory");
    }
    cvb_scenario_defaults(scratch);
    for (int i = 1; i < argc && code == 0; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) continue;
        if (strcmp(a, "--server") == 0 || strcmp(a, "--token-file") == 0) {
            i++;
            continue;
        }
        if (strcmp(a, "--wait") == 0) continue;
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nl >= sizeof name) {
            code = cvb__cli_usage_error("unknown option '%s'", a);
            break;
        }
        memcpy(name, a + 2, nl);
        name[nl] = '\0';
        bool tv = false;
        if (!cvb_scenario_has_field(name, &tv)) {
            code = cvb__cli_usage_error("unknown option '--%s' (see cvbench submit --help)", name);
            break;
        }
        const char *value = "true";
        if (eq) value = eq + 1;
        else if (tv) {
            if (i + 1 >= argc) {
                code = cvb__cli_usage_error("option '--%s' needs a value", name);
                break;
            }
            value = argv[++i];
        }
        code = overlay_flag(o, scratch, name, value, cwd);
    }
    free(scratch);
    char *body = code ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (code) return code;
    struct cvb_http_result res = {0};
    code = call(&c, "POST", "/v1/runs", body, &res, 201);
    free(body);
    if (code) return code;
    json_t *r = json_loads(res.body, 0, NULL);
    cvb_http_result_cleanup(&res);
    const char *id = r ? json_string_value(json_object_get(r, "id")) : NULL;
    if (id == NULL) {
        json_decref(r);
        return cvb__cli_usage_error("server reply to POST /v1/runs has no run id");
    }
    printf("%s\n", id);
    fflush(stdout);
    if (wait) code = wait_run(&c, id);
    json_decref(r);
    return code;
}

int cvb__cmd_runs(int argc, char **argv) {
    struct client c = {.server = default_server()};
    const char *status = NULL;
    int limit = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            client_usage(stdout);
            return CVB_EXIT_OK;
        }
        if (i + 1 >= argc) return cvb__cli_usage_error("runs: unexpected argument '%s'", a);
        if (strcmp(a, "--server") == 0) c.server = argv[++i];
        else if (strcmp(a, "--status") == 0) status = argv[++i];
        else if (strcmp(a, "--limit") == 0) {
            limit = cvb__parse_int(argv[++i], 1, 500);
            if (limit < 0) return cvb__cli_usage_error("--limit: '%s' is not in 1..500", argv[i]);
        } else
            return cvb__cli_usage_error("runs: unexpected argument '%s'", a);
    }
    char path[160];
    snprintf(path, sizeof path, "/v1/runs?limit=%d%s%s", limit, status ? "&status=" : "",
             status ? status : "");
    struct cvb_http_result res = {0};
    int code = call(&c, "GET", path, NULL, &res, 200);
    if (code) return code;
    json_t *r = json_loads(res.body, 0, NULL);
    cvb_http_result_cleanup(&res);
    json_t *runs = json_object_get(r, "runs");
    printf("%-24s %-10s %-20s %9s %6s  %s\n", "run", "status", "created", "scenarios", "levels",
           "message");
    size_t i;
    json_t *x;
    json_array_foreach(runs, i, x) {
        printf("%-24s %-10s %-20s %9lld %6lld  %s\n",
               json_string_value(json_object_get(x, "id")),
               json_string_value(json_object_get(x, "status")),
               json_string_value(json_object_get(x, "created_at")),
               (long long)json_integer_value(json_object_get(x, "scenarios")),
               (long long)json_integer_value(json_object_get(x, "levels_done")),
               json_string_value(json_object_get(x, "message")));
    }
    json_decref(r);
    return CVB_EXIT_OK;
}

int cvb__cmd_cancel(int argc, char **argv) {
    struct client c = {.server = default_server()};
    const char *id = NULL, *token_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r = client_opt(&c, argc, argv, &i, &token_file);
        if (r >= 0) {
            if (r > 0) return r == 1 ? CVB_EXIT_OK : CVB_EXIT_USAGE;
        } else if (id == NULL && a[0] != '-') {
            id = a;
        } else {
            return cvb__cli_usage_error("cancel: unexpected argument '%s'", a);
        }
    }
    if (id == NULL) return cvb__cli_usage_error("cancel: which run? (cvbench cancel RUN_ID)");
    int code = load_token(&c, token_file);
    if (code) return code;
    char path[160];
    snprintf(path, sizeof path, "/v1/runs/%.60s/cancel", id);
    struct cvb_http_result res = {0};
    code = call(&c, "POST", path, NULL, &res, 200);
    if (code) return code;
    cvb_http_result_cleanup(&res);
    printf("%s cancelled\n", id);
    return CVB_EXIT_OK;
}
