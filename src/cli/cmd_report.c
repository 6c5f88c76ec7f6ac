/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench report`: re-render a run stored in the results database as HTML,
 * JSON, CSV or the console table. The stored level results are complete
 * (levels.result_json), so the output equals what the run itself wrote. */
#include "cli/cli.h"
#include "cvb/report.h"
#include "cvb/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Levels read back per run; a sweep has far fewer (scenario: 32 at most). */
#define MAX_LEVELS 128

static void usage(FILE *f) {
    fprintf(f, "usage: cvbench report [--db FILE | --store URL] [--run ID|latest] [-o FILE.html|.json|.csv]\n"
               "                      [--format html|json|csv|table]\n"
               "  Re-render a stored run (default: the latest in cvbench.db). Without -o the\n"
               "  summary table goes to stdout; the format follows -o's extension unless\n"
               "  --format says otherwise.\n");
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

int cvb__cmd_report(int argc, char **argv) {
    const char *db = "cvbench.db", *run = "latest", *outp = NULL, *format = NULL;
    static const struct option longopts[] = {
        {"db", required_argument, 0, 'd'}, {"store", required_argument, 0, 'd'},     {"run", required_argument, 0, 'r'},
        {"output", required_argument, 0, 'o'}, {"format", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:r:o:f:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'r': run = optarg; break;
        case 'o': outp = optarg; break;
        case 'f': format = optarg; break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return cvb__cli_usage_error("report: unexpected argument '%s'", argv[optind]);
    if (format == NULL) {
        if (outp == NULL)
            format = "table";
        else if (ends_with(outp, ".html") || ends_with(outp, ".htm"))
            format = "html";
        else if (ends_with(outp, ".json"))
            format = "json";
        else if (ends_with(outp, ".csv"))
            format = "csv";
        else
            return cvb__cli_usage_error("report: cannot tell the format of '%s' from its "
                                        "extension: name it .html, .json or .csv, or give --format",
                                        outp);
    }
    bool table = strcmp(format, "table") == 0;
    if (!table && strcmp(format, "html") != 0 && strcmp(format, "json") != 0 &&
        strcmp(format, "csv") != 0)
        return cvb__cli_usage_error("report: --format must be html, json, csv or table, not '%s'",
                                    format);
    if (!table && outp == NULL)
        return cvb__cli_usage_error("report: --format %s needs an output file (-o FILE)", format);
    /* Reading must not create an empty database where none was. */
    if (!cvb__store_is_url(db) && access(cvb__store_file(db), F_OK) != 0)
        return cvb__cli_usage_error("report: results database %s does not exist", db);

    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    struct cvb_manifest *m = calloc(1, sizeof *m);
    struct cvb_level_result *lv = calloc(MAX_LEVELS, sizeof *lv);
    int n = 0, rc = 0, exit_code = CVB_EXIT_OK;
    if (m == NULL || lv == NULL) {
        rc = cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        goto out;
    }
    rc = cvb_store_open(db, &st, &err);
    if (rc < 0) goto out;
    rc = cvb_store_get_run(st, run, m, lv, MAX_LEVELS, &n, &err);
    if (rc < 0) goto out;
    if (table)
        cvb_report_table(stdout, m, lv, n);
    else if (strcmp(format, "html") == 0)
        rc = cvb_report_html(outp, m, lv, n, &err);
    else if (strcmp(format, "json") == 0)
        rc = cvb_report_json(outp, m, lv, n, &err);
    else
        rc = cvb_report_csv(outp, m, lv, n, &err);
    if (rc == 0 && !table) printf("run %s: %s report written to %s\n", m->run_id, format, outp);
out:
    if (rc < 0) exit_code = cvb__cli_fail(&err);
    cvb_store_close(st);
    free(m);
    free(lv);
    return exit_code;
}
