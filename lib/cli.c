/*
 * cli.c: what every cmd/ main shares: program name and signals, --help and
 * --version, the options common to the ws commands, usage errors (exit 2),
 * and the one place an sk_err becomes a line on stderr and an exit status.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "fsutil.h"
#include "log.h"
#include "sig.h"
#include "banned.h"

void cli_init(const char *argv0)
{
	log_init(argv0);
	sig_install();
	fs_raise_nofile();
	/* Names in pax headers are UTF-8; let libarchive convert 1:1. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
}

void cli_try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", log_prog());
	exit(SK_EUSAGE);
}

void cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	char msg[768];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s", msg); /* control bytes made harmless, as for every message */
	cli_try_help();
}

static long parse_num(const char *arg, const char *what, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		cli_usage_error("invalid %s '%s' (expected %ld to %ld)", what, arg, min, max);
	return v;
}

static __attribute__((noreturn)) void version(void)
{
	printf("%s (statekit) %s\n", log_prog(), SK_VERSION);
	exit(cli_finish(0, NULL));
}

int cli_common_base(int c, const char *arg, const char **config_path, int *wait_s, int *progress,
		    void (*usage)(void))
{
	switch (c) {
	case 'c':
		*config_path = arg;
		return 1;
	case 'w':
		if (!wait_s)
			return 0;
		*wait_s = (int)parse_num(arg, "--wait seconds", 0, 86400 * 7);
		return 1;
	case 'q':
		log_set_level(LOG_QUIET);
		return 1;
	case 'v':
		log_set_level(LOG_VERBOSE);
		return 1;
	case CLI_OPT_PROGRESS:
		if (!progress)
			return 0;
		*progress = 1;
		return 1;
	case 'h':
		usage();
		exit(cli_finish(0, NULL));
	case 'V':
		version();
	}
	return 0;
}

int cli_common(int c, const char *arg, struct ws_opts *o, void (*usage)(void))
{
	return cli_common_base(c, arg, &o->config_path, &o->wait_s, &o->progress, usage);
}

void cli_codec(int c, const char *arg, struct codec_opts *o)
{
	switch (c) {
	case 'z':
		if (codec_parse(arg, &o->codec) < 0)
			cli_usage_error("invalid compression '%s' (expected gzip, zstd or none)",
					arg);
		o->codec_set = 1;
		break;
	case 'l':
		o->level = (int)parse_num(arg, "level", 0, 22);
		o->level_set = 1;
		break;
	case 'j':
		o->threads = (int)parse_num(arg, "thread count", 0, 1024);
		o->threads_set = 1;
		break;
	}
}

int cli_finish(int rc, const struct sk_err *err)
{
	if (rc < 0 && err) {
		/* An error without a message has only its exit status to say. */
		if (err->msg[0])
			log_error("%s", err->msg);
		return err->code ? err->code : SK_EFAIL;
	}
	/* Data that never reached stdout is a failure, not a success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("write error on stdout: %s", strerror(errno));
		return SK_EFAIL;
	}
	return SK_OK;
}
