/*
 * ws_int: what the workspace operations (ws_export.c, ws_import.c,
 * ws_preserve.c) share: the opened context, the journal's repair, and rule 3
 * (a bot that ran before an operation runs after it, and the journal row
 * ends) written once in wsint_quiesce/wsint_resume. Not for use elsewhere.
 */
#ifndef SK_WS_INT_H
#define SK_WS_INT_H

#include <limits.h>
#include <stdint.h>

#include "backend.h"
#include "config.h"
#include "err.h"
#include "extract.h"
#include "index.h"
#include "log.h"
#include "lock.h"
#include "tree.h"
#include "ws.h"

/* An opened bot: config, index, backend and (when locked) its lock. */
struct wsint_ctx {
	struct sk_config cfg;
	struct idx *ix;
	struct lock *lk;
	struct backend *be;
	const char *bot;
	char object[80]; /* "bot.<id>": the journal's object */
	char locks[PATH_MAX];
	char backups[PATH_MAX]; /* <state>/backups/<bot> */
};

/*
 * The repair of one kind of journal row the bot may hold. A kind without
 * one left at most a temporary file (the row's staging), which is removed.
 */
struct wsint_repair {
	const char *kind; /* "import", ... */
	int (*repair)(struct wsint_ctx *c, struct journal_row *r, struct sk_err *err);
};
/*
 * The table, terminated by a NULL kind. It lives in ws_import.c, beside the
 * only repair that does more than remove a file; export and preserve take it
 * from there, so that ws_int.c needs none of them.
 */
extern const struct wsint_repair ws_repairs[];

/*
 * Config, id check, state layout, index; for a bot (o->bot), its backend.
 * With repairs (ws_repairs), also the bot's lock and the repair of anything
 * an earlier command left in the journal; NULL opens without the lock, for
 * commands that only read. *out is malloc'd (the config is too big for a
 * stack frame): close it with wsint_close, which accepts NULL.
 */
int wsint_open(struct wsint_ctx **out, const struct ws_opts *o, const struct wsint_repair *repairs,
	       struct sk_err *err);
void wsint_close(struct wsint_ctx *c);

/*
 * Give a failure its operation as context ("import 'bot1': ..."), but leave
 * usage and config errors as they are: they name the file and line already.
 * Returns -1.
 */
int wsint_fail(struct sk_err *err, const char *op, const char *bot);

/*
 * Rule 3, first half. Begin the operation's journal row (object, kind, step
 * and path are filled in here; path may be ""), so that whatever follows,
 * the next command can finish or undo it.
 */
int wsint_begin(struct wsint_ctx *c, struct journal_row *jr, const char *kind, const char *step,
		const char *path, struct sk_err *err);
/*
 * Quiesce the bot (the backend was probed). The row says "stopped" before
 * the stop begins, so that a command killed in the middle of it still has
 * its bot started by the next one.
 */
int wsint_quiesce(struct wsint_ctx *c, struct journal_row *jr, struct sk_err *err);
/*
 * Let the bot go early, before an operation's bookkeeping: give up the
 * workspace and start the bot if this operation stopped it. Failures are
 * the operation's error.
 */
int wsint_release(struct wsint_ctx *c, struct journal_row *jr, struct sk_err *err);

enum wsint_row { WSINT_END_ROW, WSINT_KEEP_ROW };
/*
 * Rule 3, second half, on every path out of an operation that began a row:
 * give up the workspace, start the bot if this operation stopped it, and
 * end the row (unless keep: a repair must still finish the work). ret is
 * the operation's result so far; the result after this is returned. A
 * failure here becomes the error when the operation had none, and is logged
 * otherwise; a bot that will not start keeps the row, so that the next
 * command tries again. Does nothing for a row that never began.
 */
int wsint_resume(struct wsint_ctx *c, struct journal_row *jr, int ret, enum wsint_row keep,
		 struct sk_err *err);

/* Open the workspace root for reading (attaching it); SK_ENOENT when it is missing. */
int wsint_open_root(struct wsint_ctx *c, struct sk_err *err);

/* The config's extraction limits. */
void wsint_limits(const struct sk_config *cfg, struct extract_limits *lim);

/* The codec settings, checked before the bot is stopped rather than after. */
struct wsint_codec {
	enum codec codec;
	int level;
	int threads;
};
int wsint_resolve_codec(const struct wsint_ctx *c, const struct ws_opts *o, struct wsint_codec *cs,
			struct sk_err *err);

/* What writing an archive did. */
struct wsint_export_res {
	struct tree_stats ts;
	uint64_t out_bytes;
};
/* Archive the tree at rootfd into out_fd with the chosen codec (ws_export.c). */
int wsint_write_archive(const struct sk_config *cfg, int rootfd, int out_fd,
			const struct wsint_codec *cs, int show_progress,
			struct wsint_export_res *res, struct sk_err *err);

/*
 * Import an archive read from in_fd into the bot's workspace, all or
 * nothing (ws_import.c). The caller holds the lock. in_size is the
 * archive's size for progress, 0 when unknown.
 */
int wsint_import_locked(struct wsint_ctx *c, int in_fd, int merge, int show_progress,
			uint64_t in_size, struct ws_import_result *res, struct sk_err *err);

/*
 * A generation's archive: its absolute name (the index keeps it relative
 * to the bot's backup directory), and the archive opened with rule 6 kept:
 * its size and sha256 checked against the row before a byte of it is used
 * (hashed once while prog, if not NULL, counts the bytes). The fd is at
 * offset 0. SK_EDAMAGED for a generation that is missing or does not match.
 */
int wsint_backup_file(const struct sk_config *cfg, const struct backup_row *r, char *out,
		      size_t size, struct sk_err *err);
int wsint_open_generation(const struct sk_config *cfg, const struct backup_row *row,
			  struct progress *prog, struct sk_err *err);

/* The bot's legacy bind-mount directory into out: 1 if it is a directory. */
int wsint_legacy_dir(const struct wsint_ctx *c, char *out, size_t size);

/*
 * Write the workspace as a new generation tagged tag ("" or
 * WS_TAG_PRE_RESTORE), under the lock c holds (ws_preserve.c). With a tag,
 * an empty workspace is not kept: b->generation is 0.
 */
int wsint_preserve_locked(struct wsint_ctx *c, const struct ws_opts *o, const char *tag,
			  struct ws_backup *b, struct sk_err *err);

/*
 * Restore the generation row into o->target, a directory that does not
 * exist or is empty, leaving the bot alone: staged beside it, synced, then
 * renamed into place (ws_browse.c). The caller holds the bot's lock.
 */
int wsint_restore_target(struct wsint_ctx *c, const struct backup_row *row, const struct ws_opts *o,
			 struct ws_import_result *res, struct sk_err *err);

#endif
