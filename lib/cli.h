/*
 * cli: what every command's main shares: setup, --help/--version, the
 * options common to the ws commands, usage errors, and turning an error into
 * one line on stderr and an exit status.
 */
#ifndef SK_CLI_H
#define SK_CLI_H

#include "err.h"
#include "ws.h"

/* Common short options: "c:w:qv" plus long --progress (CLI_OPT_PROGRESS). */
#define CLI_COMMON_SHORT "c:w:qvhV"
#define CLI_OPT_PROGRESS 1000
#define CLI_OPT_JSON 1001
#define CLI_OPT_MERGE 1002
#define CLI_OPT_RESTORE 1003
#define CLI_OPT_CHECK 1004
#define CLI_OPT_LIST 1005
#define CLI_OPT_PRUNE 1006
#define CLI_OPT_LIST_IDS 1007
#define CLI_OPT_SOCKET 1008
#define CLI_OPT_TAP 1009
#define CLI_OPT_ALL 1010
#define CLI_OPT_IDS 1011
#define CLI_OPT_AS 1012
#define CLI_OPT_FULL 1013
#define CLI_OPT_REMOTE 1014
#define CLI_OPT_FORCE 1015
#define CLI_OPT_PRESIGNED 1016
#define CLI_OPT_READ_DATA 1017
#define CLI_OPT_VERIFY 1018
#define CLI_OPT_KEEP_LAST 1019
#define CLI_OPT_KEEP_HOURLY 1020
#define CLI_OPT_KEEP_DAILY 1021
#define CLI_OPT_KEEP_WEEKLY 1022
#define CLI_OPT_KEEP_MONTHLY 1023
#define CLI_OPT_KEEP_YEARLY 1024
#define CLI_OPT_KEEP_WITHIN 1025
#define CLI_OPT_DRY_RUN 1026
#define CLI_OPT_TIME 1027
#define CLI_OPT_NO_BACKUP 1028
#define CLI_OPT_TARGET 1029
#define CLI_OPT_LS 1030
#define CLI_OPT_DUMP 1031

/* clang-format off */
#define CLI_COMMON_LONG                                                        \
	{ "config", required_argument, NULL, 'c' },                            \
	{ "wait", required_argument, NULL, 'w' },                              \
	{ "quiet", no_argument, NULL, 'q' },                                   \
	{ "verbose", no_argument, NULL, 'v' },                                 \
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },                   \
	{ "help", no_argument, NULL, 'h' },                                    \
	{ "version", no_argument, NULL, 'V' }
/* clang-format on */

/* The options every fcsnap command takes (-w and --progress where it has them). */
/* clang-format off */
#define CLI_BASE_LONG                                                          \
	{ "config", required_argument, NULL, 'c' },                            \
	{ "quiet", no_argument, NULL, 'q' },                                   \
	{ "verbose", no_argument, NULL, 'v' },                                 \
	{ "help", no_argument, NULL, 'h' },                                    \
	{ "version", no_argument, NULL, 'V' }
#define CLI_WAIT_LONG { "wait", required_argument, NULL, 'w' }
/* clang-format on */

/* Program name, signals, locale, fd limit. */
void cli_init(const char *argv0);
/*
 * Handle -c, -w, -q, -v, --progress, -h or -V for any command; wait_s and
 * progress may be NULL for commands without those options. 1 if c was one
 * of them, 0 if not. May exit.
 */
int cli_common_base(int c, const char *arg, const char **config_path, int *wait_s, int *progress,
		    void (*usage)(void));
/* Handle a common option; 1 if it was one, 0 if not. May exit. */
int cli_common(int c, const char *arg, struct ws_opts *o, void (*usage)(void));
/* Parse -z/-l/-j values into o; exits 2 on a bad value. */
void cli_codec(int c, const char *arg, struct codec_opts *o);
/* Print "PROG: msg" and the --help hint, exit 2. */
void cli_usage_error(const char *fmt, ...) SK_PRINTF(1, 2) __attribute__((noreturn));
void cli_try_help(void) __attribute__((noreturn));
/* Report err on stderr and return its exit status. Also checks stdout. */
int cli_finish(int rc, const struct sk_err *err);

#endif
