/*
 * backend: where a bot's workspace lives and how its workload is stopped and
 * started. The ws operations only ever talk to this interface; "dir" (a host
 * directory with optional stop/start commands) is behind it today.
 */
#ifndef SK_BACKEND_H
#define SK_BACKEND_H

#include <limits.h>

#include "config.h"
#include "err.h"

struct backend;

struct backend_ops {
	const char *name;
	/* Quiesce the workload. */
	int (*stop)(struct backend *b, struct sk_err *err);
	/* Bring it back; must be safe to call after a stop that failed half way. */
	int (*start)(struct backend *b, struct sk_err *err);
	/* Make the workspace reachable at b->root (mounting if need be). */
	int (*attach)(struct backend *b, int writable, struct sk_err *err);
	void (*detach)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	const struct sk_config *cfg;	/* not owned */
	char bot[72];
	char root[PATH_MAX];		/* the workspace directory while attached */
};

/* The backend the config names, for bot. SK_EUSAGE for an unknown one. */
int backend_open(struct backend **out, const struct sk_config *cfg, const char *bot,
		 struct sk_err *err);
void backend_free(struct backend *b);

/*
 * Run an operator's command through /bin/sh -c with the bot id as $1 (never
 * spliced into the text), stdin from /dev/null and stdout to stderr, so it
 * can neither eat an archive on stdin nor write into one on stdout. An empty
 * command does nothing. SK_EFAIL when it fails, naming what.
 */
int backend_run_hook(const char *what, const char *cmd, const char *bot, struct sk_err *err);

#endif
