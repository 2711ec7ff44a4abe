/*
 * ws_restore.c: ws-preserve --restore and --check: put a generation (or a
 * legacy bind-mount directory) back as the bot's workspace, first keeping
 * what the workspace held as a pre-restore generation, and say whether
 * preserved data waits to be restored.
 */
#include "ws.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "ws_int.h"
#include "banned.h"

struct legacy_feed {
	const struct sk_config *cfg;
	int rootfd, out_fd;
	struct sk_err err;
	int ret;
};

static void *legacy_writer(void *arg)
{
	static const struct wsint_codec plain = { CODEC_NONE, 0, 1 };
	struct legacy_feed *f = arg;
	struct wsint_export_res res;

	f->ret = wsint_write_archive(f->cfg, f->rootfd, f->out_fd, &plain, 0, &res, &f->err);
	close(f->out_fd);
	return NULL;
}

/* Stream the directory open at f->rootfd through a pipe, from a thread,
 * into the importer. */
static int import_through_pipe(struct wsint_ctx *c, struct legacy_feed *f, int show_progress,
			       struct ws_import_result *res, struct sk_err *err)
{
	pthread_t th;
	int pfd[2], ret;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "pipe");
	f->out_fd = pfd[1];
	if (pthread_create(&th, NULL, legacy_writer, f) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		return sk_err_set(err, SK_EFAIL, "cannot start a thread");
	}
	ret = wsint_import_locked(c, pfd[0], 0, show_progress, 0, res, err);
	close(pfd[0]);
	pthread_join(th, NULL);
	if (ret == 0 && f->ret < 0) {
		*err = f->err;
		return -1;
	}
	return ret;
}

/* The legacy directory, restored, is kept as <dir>.migrated (or .migrated.<time>). */
static int retire_legacy(struct wsint_ctx *c, const char *dir, struct sk_err *err)
{
	char done[PATH_MAX];

	if (fs_pathf(done, sizeof(done), err, "%s.migrated", dir) < 0)
		return -1;
	if (fs_exists(done) &&
	    fs_pathf(done, sizeof(done), err, "%s.migrated.%lld", dir, (long long)time(NULL)) < 0)
		return -1;
	if (rename(dir, done) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "restored, but cannot rename '%s' to '%s'",
				  dir, done);
	if (fs_fsync_parent(dir, err) < 0)
		return -1;
	log_info("restored bot '%s' from legacy directory '%s' (now '%s')", c->bot, dir, done);
	return 0;
}

/*
 * A legacy bind-mount directory is bot data like any other: rather than
 * copy it by hand, stream it through the same archive writer and importer,
 * so it gets every check and the same all-or-nothing swap.
 */
static int restore_legacy(struct wsint_ctx *c, const char *dir, const struct ws_opts *o,
			  struct ws_import_result *res, struct sk_err *err)
{
	struct legacy_feed f = { .cfg = &c->cfg, .rootfd = -1, .out_fd = -1 };
	int ret;

	/* Before the thread starts: the containerd backend moves this
	 * process into a mount namespace of its own, which a threaded
	 * process cannot do. */
	if (c->be->ops->probe(c->be, err) < 0)
		return -1;
	f.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f.rootfd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", dir);
	ret = import_through_pipe(c, &f, o->progress, res, err);
	close(f.rootfd);
	if (ret < 0)
		return -1;
	return retire_legacy(c, dir, err);
}

/*
 * Keep what the workspace holds now as a generation tagged pre-restore,
 * unless it is empty or missing. Its number goes to *gen (0: none kept).
 */
static int keep_today(struct wsint_ctx *c, const struct ws_opts *o, int64_t *gen,
		      struct sk_err *err)
{
	struct ws_backup b;

	*gen = 0;
	if (o->no_backup)
		return 0;
	if (wsint_preserve_locked(c, o, WS_TAG_PRE_RESTORE, &b, err) < 0) {
		/* A workspace that is not there has nothing to lose. */
		if (err->code != SK_ENOENT)
			return sk_err_wrap(err, "cannot keep the workspace before the restore (see "
						"--no-backup)");
		sk_err_clear(err);
		return 0;
	}
	*gen = b.generation;
	return 0;
}

static int restore_generation(struct wsint_ctx *c, const struct backup_row *row,
			      const struct ws_opts *o, struct ws_restore_result *res,
			      struct sk_err *err)
{
	int fd, ret;

	/* Rule 6: the backup's sha256 is checked before a byte of it is used,
	 * and before anything is kept or changed. */
	fd = wsint_open_generation(&c->cfg, row, NULL, err);
	if (fd < 0)
		return -1;
	ret = keep_today(c, o, &res->pre_restore, err);
	if (ret == 0)
		ret = wsint_import_locked(c, fd, 0, o->progress, row->size, &res->import, err);
	close(fd);
	if (ret < 0)
		return -1;
	if (idx_backup_mark_restored(c->ix, c->bot, row->generation, (int64_t)time(NULL), err) < 0)
		return -1;
	log_info("restored bot '%s' from generation %lld (%llu entries)", c->bot,
		 (long long)row->generation, (unsigned long long)res->import.entries);
	return 0;
}

/* Say where the workspace as it was went, and how to get it back. */
static void tell_way_back(const struct wsint_ctx *c, int64_t gen)
{
	if (gen)
		log_note("the workspace as it was is generation %lld (pre-restore); to go back: "
			 "ws-preserve --restore -g %lld %s",
			 (long long)gen, (long long)gen, c->bot);
}

int ws_restore(const struct ws_opts *o, struct ws_restore_result *res, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row row;
	char legacy[PATH_MAX];
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (wsint_open(&c, o, ws_repairs, err) < 0)
		return wsint_fail(err, "restore", o->bot);
	snprintf(res->import.bot, sizeof(res->import.bot), "%s", c->bot);
	if (idx_backup_get(c->ix, c->bot, o->generation, &row, err) == 0) {
		res->generation = row.generation;
		ret = o->target ? wsint_restore_target(c, &row, o, &res->import, err)
				: restore_generation(c, &row, o, res, err);
	} else if (err->code != SK_ENOENT || o->generation || o->target) {
		/* the error stands */
	} else if (!wsint_legacy_dir(c, legacy, sizeof(legacy))) {
		sk_err_set(err, SK_ENOENT, "bot '%s' has no backup and no legacy directory",
			   c->bot);
	} else if (keep_today(c, o, &res->pre_restore, err) == 0) {
		ret = restore_legacy(c, legacy, o, &res->import, err);
	}
	if (ret == 0)
		tell_way_back(c, res->pre_restore);
	wsint_close(c);
	if (ret < 0)
		wsint_fail(err, "restore", o->bot);
	return ret;
}

int ws_check(const struct ws_opts *o, int *waiting, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row row;
	char legacy[PATH_MAX];

	*waiting = 0;
	if (wsint_open(&c, o, NULL, err) < 0)
		return -1;
	if (idx_backup_get(c->ix, c->bot, 0, &row, err) == 0) {
		*waiting = !row.restored;
	} else if (err->code != SK_ENOENT) {
		wsint_close(c);
		return -1;
	}
	sk_err_clear(err);
	if (!*waiting && wsint_legacy_dir(c, legacy, sizeof(legacy)))
		*waiting = 1;
	log_info("bot '%s' has %spreserved data waiting to be restored", c->bot,
		 *waiting ? "" : "no ");
	wsint_close(c);
	return 0;
}
