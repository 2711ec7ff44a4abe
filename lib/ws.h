/*
 * ws: the workspace operations behind ws-export, ws-import and ws-preserve.
 * Each entry point loads the config, takes the bot's lock, repairs whatever
 * an earlier crashed command left in the journal, and then does its work with
 * a journal row of its own, so that the next command can repair it in turn.
 */
#ifndef SK_WS_H
#define SK_WS_H

#include <stdint.h>

#include "codec.h"
#include "err.h"

struct ws_opts {
	const char *config_path;	/* -c, or NULL */
	const char *bot;
	int wait_s;			/* --wait; 0 = fail at once when busy */
	int progress;			/* --progress */
	int json;			/* --json */

	const char *output;		/* ws-export -o; NULL = stdout */
	struct codec_opts co;		/* -z, -l, -j */

	const char *input;		/* ws-import -i; NULL = stdin */
	int merge;

	int64_t generation;		/* ws-preserve -g; 0 = newest */
	int keep;			/* ws-preserve -k; 0 = from config */
};

#define WS_OPTS_INIT { .wait_s = 0 }

/* Write the bot's workspace as an archive. Exit classes 1-5. */
int ws_export(const struct ws_opts *o, struct sk_err *err);
/* Replace (or with merge, update) the bot's workspace from an archive, all or nothing. */
int ws_import(const struct ws_opts *o, struct sk_err *err);
/* Keep the workspace as a new backup generation, then prune to keep. */
int ws_preserve(const struct ws_opts *o, struct sk_err *err);
/* Restore a generation (or the legacy directory) into the workspace. */
int ws_restore(const struct ws_opts *o, struct sk_err *err);
/* 0 when preserved data not yet restored exists, else SK_ENOENT. */
int ws_check(const struct ws_opts *o, struct sk_err *err);
/* Print backups of o->bot (or all when NULL) as a table or JSON on stdout. */
int ws_list(const struct ws_opts *o, struct sk_err *err);
/* Delete generations beyond keep. */
int ws_prune(const struct ws_opts *o, struct sk_err *err);
/* Print every bot id statekit knows of, one per line, without locking. */
int ws_list_ids(const struct ws_opts *o, struct sk_err *err);

#endif
