/* SPDX-License-Identifier: Apache-2.0 */
/* `cvbench compare RUN_A RUN_B`: per-level deltas of two stored runs (levels
 * matched by stream count), as cvb_report_compare prints them. */
#include "cli/cli.h"
#include "cvb/report.h"
#include "cvb/store.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_LEVELS 128

static void usage(FILE *f) {
    fprintf(f, "usage: cvbench compare RUN_A RUN_B [--db FILE | --store URL]\n"
               "  Per-level deltas of run B against run A (fps, p50/p99 latency, stage ms,\n"
               "  peak RSS), levels matched by stream count. A run may be 'latest'.\n");
}

int cvb__cmd_compare(int argc, char **argv) {
    const char *db = "cvbench.db";
    static const struct option longopts[] = {
        {"db", required_argument, 0, 'd'}, {"store", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'h': usage(stdout); return CVB_EXIT_OK;
        default: usage(stderr); return CVB_EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return cvb__cli_usage_error("compare needs exactly two run ids");
    }
    if (!cvb__store_is_url(db) && access(cvb__store_file(db), F_OK) != 0)
        return cvb__cli_usage_error("compare: results database %s does not exist", db);

    struct cvb_err err = {0};
    struct cvb_store *st = NULL;
    struct cvb_manifest *m = calloc(2, sizeof *m);
    struct cvb_level_result *lv = calloc(2 * MAX_LEVELS, sizeof *lv);
    int n[2] = {0, 0}, rc = 0;
    if (m == NULL || lv == NULL) {
        rc = cvb_err_set(&err, CVB_ENOMEM, "out of memory");
        goto out;
    }
    rc = cvb_store_open(db, &st, &err);
    if (rc < 0) goto out;
    for (int k = 0; k < 2 && rc == 0; k++)
        rc = cvb_store_get_run(st, argv[optind + k], &m[k], lv + k * MAX_LEVELS, MAX_LEVELS, &n[k],
                               &err);
    if (rc < 0) goto out;
    cvb_report_compare(stdout, &m[0], lv, n[0], &m[1], lv + MAX_LEVELS, n[1]);
out:
    cvb_store_close(st);
    free(m);
    free(lv);
    return rc < 0 ? cvb__cli_fail(&err) : CVB_EXIT_OK;
}
