/* SPDX-License-Identifier: Apache-2.0 */
/* Subcommand entry points and shared CLI conventions.
 *
 * Every subcommand returns the process exit status: 0 success, 2 bad input
 * or usage (the message names the input and the problem), 1 internal
 * failure. Errors are printed once, as one line "cvbench: error: ...". */
#ifndef CVB_CLI_H
#define CVB_CLI_H

#include "cvb/common.h"

#include <stdbool.h>

#define CVB_EXIT_OK 0
#define CVB_EXIT_FAIL 1
#define CVB_EXIT_USAGE 2

int cvb__cmd_infer(int argc, char **argv);
int cvb__cmd_model_info(int argc, char **argv);
int cvb__cmd_model_synth(int argc, char **argv);
int cvb__cmd_model_calibrate(int argc, char **argv);
int cvb__cmd_detect(int argc, char **argv);
int cvb__cmd_sysinfo(int argc, char **argv);
int cvb__cmd_run(int argc, char **argv);
int cvb__cmd_report(int argc, char **argv);
int cvb__cmd_compare(int argc, char **argv);
int cvb__cmd_video(int argc, char **argv);
int cvb__cmd_serve(int argc, char **argv);
int cvb__cmd_serve_model(int argc, char **argv);
int cvb__cmd_worker(int argc, char **argv);
int cvb__cmd_submit(int argc, char **argv);
int cvb__cmd_runs(int argc, char **argv);
int cvb__cmd_cancel(int argc, char **argv);

/* Print "cvbench: error: <msg>" for 'err' and return the exit status its
 * code maps to (2 for bad input, 1 for internal/out-of-memory). */
int cvb__cli_fail(const struct cvb_err *err);
/* printf-style usage error: prints one line, returns 2. */
int cvb__cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include "cvb/engine.h"
/* Option parsing shared by subcommands. */
int cvb__parse_kernels(const char *s, enum cvb_kernels *out);
/* A store argument: a postgresql:// URL (nothing to check on disk), or an
 * SQLite path with an optional "file:" prefix (the path without it). */
bool cvb__store_is_url(const char *store);
const char *cvb__store_file(const char *store);
/* SIGINT and SIGTERM set *flag to 1 (one flag per process: the last call
 * wins); SIGPIPE is ignored. For the long-running commands. */
#include <signal.h>
void cvb__cli_stop_on_signals(volatile sig_atomic_t *flag);
/* --isa value: 0, or -1 after printing the usage error. */
int cvb__check_isa(const char *s);
/* Integer in [lo, hi], or -1 when 's' is not one. */
int cvb__parse_int(const char *s, int lo, int hi);

#endif
