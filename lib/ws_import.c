/*
 * ws.c: ws-export, ws-import and ws-preserve: config, lock, journal repair,
 * then the operation as named steps. Import stages the new tree beside the
 * workspace and swaps it in by rename (or rolls forward where the file
 * system refuses the rename), so a crash leaves old or new, never a mixture.
 */
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "astream.h"
#include "backend.h"
#include "config.h"
#include "extract.h"
#include "fsutil.h"
#include "hash.h"
#include "index.h"
#include "lock.h"
#include "log.h"
#include "sig.h"
#include "tree.h"
#include "banned.h"

struct ctx {
	struct sk_config cfg;
	struct idx *ix;
	struct lock *lk;
	struct backend *be;
	const char *bot;
	char object[80];
	char locks[PATH_MAX];
	char backups[PATH_MAX];	/* <state>/backups/<bot> */
};

struct swap_names {
	char parent[PATH_MAX];	/* the workspace's directory */
	char base[NAME_MAX + 1];
	char newp[PATH_MAX];	/* <parent>/.<base>.statekit-new */
	char oldp[PATH_MAX];	/* <parent>/.<base>.statekit-old */
};

static int swap_names(const char *root, struct swap_names *sn, struct sk_err *err)
{
	const char *base = fs_split(root, sn->parent, sizeof(sn->parent));

	if (!*base || strlen(base) > NAME_MAX - 20)
		return sk_err_set(err, SK_EUSAGE, "bad workspace path '%s'", root);
	snprintf(sn->base, sizeof(sn->base), "%s", base);
	if ((size_t)snprintf(sn->newp, sizeof(sn->newp), "%s/.%s.statekit-new", sn->parent,
			     base) >= sizeof(sn->newp) ||
	    (size_t)snprintf(sn->oldp, sizeof(sn->oldp), "%s/.%s.statekit-old", sn->parent,
			     base) >= sizeof(sn->oldp))
		return sk_err_set(err, SK_EUSAGE, "workspace path '%s' is too long", root);
	return 0;
}

/* A JSON string literal for s (quotes included) in out; paths may hold any byte. */
static const char *json_str(const char *s, char *out, size_t size)
{
	size_t o = 0;

	out[o++] = '"';
	for (; *s && o + 8 < size; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

/*
 * Give a failure its operation as context ("import 'bot1': ..."), but leave
 * usage and config errors as they are: they name the file and line already.
 */
static int op_fail(struct sk_err *err, const char *op, const char *bot)
{
	if (err->code == SK_EUSAGE || !bot)
		return -1;
	return sk_err_wrap(err, "%s '%s'", op, bot);
}

/* dev 0: the workspace's st_dev changes between attachments (a new
 * overlay mount each time), so its inode number alone tells. */
static int same_ino(const char *path, int64_t dev, int64_t ino)
{
	struct stat s;

	return lstat(path, &s) == 0 && (int64_t)s.st_ino == ino &&
	       (dev == 0 || (int64_t)s.st_dev == dev);
}

/*
 * After an import, whichever way it went: once swapped, the old tree sits at
 * the -new name (exchange) or the -old name (two renames) and goes; before
 * that, the staging goes and a workspace parked at -old comes back.
 */
static int settle(const struct swap_names *sn, const char *root, int swapped,
		  struct sk_err *err)
{
	if (!swapped && !fs_exists(root) && fs_exists(sn->oldp)) {
		if (rename(sn->oldp, root) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot move '%s' back to '%s'",
					  sn->oldp, root);
		if (fs_fsync_parent(root, err) < 0)
			return -1;
	}
	if (fs_rmtree(sn->newp, err) < 0)
		return -1;
	return fs_rmtree(sn->oldp, err);
}

static int stop_bot(struct ctx *c, struct journal_row *jr, struct sk_err *err);
static int roll_forward(struct ctx *c, struct journal_row *jr, const struct swap_names *sn,
			struct sk_err *err);

/*
 * Finish or undo an import that died. A roll-forward that had begun (step
 * rf-*) is finished: its new tree was complete before the old one went.
 * Otherwise the journal recorded the staged tree's identity before the
 * swap, so the workspace name tells which side of the rename(2) the crash
 * fell on: if it now holds the staged tree, the swap happened and what is
 * left is the old tree; otherwise the old tree is still (or again) the
 * workspace and the staging goes. An offline workspace (a container's
 * snapshot) is mounted for this, with the bot's task stopped.
 */
static int repair_import(struct ctx *c, struct journal_row *r, struct sk_err *err)
{
	struct swap_names sn;
	int rolling = strncmp(r->step, "rf-", 3) == 0;
	int swapped, ret = -1;

	if (!r->path2[0])
		return 0;
	if (c->be->offline) {
		if (strcmp(r->path2, c->be->root) != 0)
			return sk_err_set(err, SK_EFAIL,
					  "an interrupted import left '%s', but the workspace is now "
					  "'%s': set data_path back to finish it",
					  r->path2, c->be->root);
		if (c->be->ops->probe(c->be, err) < 0) {
			if (err->code != SK_ENOENT)
				return -1;
			log_warn("bot '%s' is gone: nothing left of an interrupted import (pid %ld)",
				 c->bot, r->pid);
			sk_err_clear(err);
			r->stopped = 0;
			return 0;
		}
		if (stop_bot(c, r, err) < 0 || c->be->ops->attach(c->be, 1, err) < 0)
			goto out;
	}
	if (swap_names(r->path2, &sn, err) < 0)
		goto out;
	swapped = rolling || strcmp(r->step, "cleanup") == 0 ||
		  (r->ino && same_ino(r->path2, r->dev, r->ino));
	log_warn("%s an interrupted import of bot '%s' (pid %ld)",
		 swapped ? "finishing" : "undoing", c->bot, r->pid);
	if (rolling && roll_forward(c, r, &sn, err) < 0)
		goto out;
	ret = settle(&sn, r->path2, swapped, err);
out:
	if (c->be->ops->detach(c->be, ret < 0 ? &(struct sk_err)SK_ERR_INIT : err) < 0)
		ret = -1;
	return ret;
}

static int repair(struct ctx *c, struct sk_err *err)
{
	struct journal_row rows[8];
	int n, i;

	if (c->be->ops->sweep(c->be, err) < 0)
		goto fail;
	if (idx_journal_find(c->ix, c->object, rows, 8, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct journal_row *r = &rows[i];

		if (strcmp(r->kind, "import") == 0) {
			if (repair_import(c, r, err) < 0)
				goto fail;
		} else if (r->path[0]) {
			log_warn("removing '%s' left by an interrupted %s (pid %ld)", r->path,
				 r->kind, r->pid);
			if (unlink(r->path) < 0 && errno != ENOENT) {
				sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", r->path);
				goto fail;
			}
		}
		if (r->stopped) {
			log_warn("starting bot '%s' again after an interrupted %s (pid %ld)",
				 c->bot, r->kind, r->pid);
			if (c->be->ops->start(c->be, err) < 0)
				goto fail;
		}
		if (idx_journal_end(c->ix, r->id, err) < 0)
			goto fail;
	}
	return 0;
fail:
	return sk_err_wrap(err, "repair bot '%s'", c->bot);
}

static void ctx_close(struct ctx *c)
{
	backend_free(c->be);
	lock_release(c->lk);
	idx_close(c->ix);
	memset(c, 0, sizeof(*c));
}

/*
 * Config, id check, state layout, index; with lock, also the bot's lock and
 * the repair of anything an earlier command left behind.
 */
static int ctx_open(struct ctx *c, const struct ws_opts *o, int lock, struct sk_err *err)
{
	char dir[PATH_MAX];

	memset(c, 0, sizeof(*c));
	c->bot = o->bot;
	if (o->bot && config_check_id("bot", o->bot, err) < 0)
		return -1;
	if (config_load(&c->cfg, o->config_path, err) < 0)
		return -1;
	if (fs_pathf(c->locks, sizeof(c->locks), err, "%s/locks", c->cfg.state_dir) < 0 ||
	    fs_pathf(dir, sizeof(dir), err, "%s/tmp", c->cfg.state_dir) < 0)
		return -1;
	if (fs_mkdir_p(c->cfg.state_dir, 0755, err) < 0 || fs_mkdir_p(c->locks, 0700, err) < 0)
		return -1;
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (idx_open(&c->ix, c->cfg.state_dir, err) < 0)
		goto fail;
	if (!o->bot)
		return 0;
	snprintf(c->object, sizeof(c->object), "bot.%s", o->bot);
	if (fs_pathf(c->backups, sizeof(c->backups), err, "%s/backups/%s", c->cfg.state_dir,
		     o->bot) < 0)
		goto fail;
	if (backend_open(&c->be, &c->cfg, o->bot, err) < 0)
		goto fail;
	if (lock) {
		if (lock_acquire(&c->lk, c->locks, "bot", o->bot, o->wait_s, err) < 0)
			goto fail;
		if (repair(c, err) < 0)
			goto fail;
	}
	return 0;
fail:
	ctx_close(c);
	return -1;
}

/*
 * Quiesce the bot (the backend was probed). The row says "stopped" before
 * the stop begins: if we die in the middle of it, the next command still
 * starts the bot. Only a workload that runs is recorded so: a container
 * without a running task is not started afterwards.
 */
static int stop_bot(struct ctx *c, struct journal_row *jr, struct sk_err *err)
{
	if (c->be->running && !jr->stopped) {
		jr->stopped = 1;
		if (idx_journal_update(c->ix, jr, err) < 0)
			return -1;
	}
	if (c->be->ops->stop(c->be, err) < 0)
		return sk_err_wrap(err, "stop bot '%s'", c->bot);
	return 0;
}

/* Give up the workspace before the bot may run again; a failure is
 * reported but does not keep the bot from being started. */
static void detach_ws(struct ctx *c, int *ret, struct sk_err *err)
{
	struct sk_err derr = SK_ERR_INIT;

	if (c->be->ops->detach(c->be, &derr) == 0)
		return;
	if (*ret == 0) {
		*err = derr;
		*ret = -1;
	} else {
		log_error("%s", derr.msg);
	}
}

/* Start the bot again if this operation stopped it. On failure the journal
 * row stays, so that the next command tries again. */
static int start_bot(struct ctx *c, struct journal_row *jr, struct sk_err *err)
{
	if (!jr->stopped)
		return 0;
	if (c->be->ops->start(c->be, err) < 0)
		return sk_err_wrap(err, "start bot '%s'", c->bot);
	jr->stopped = 0;
	return idx_journal_update(c->ix, jr, err);
}

/* Open the workspace root for reading; SK_ENOENT when it is missing. */
static int open_root(struct ctx *c, struct sk_err *err)
{
	int fd;

	if (c->be->ops->attach(c->be, 0, err) < 0)
		return -1;
	fd = open(c->be->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return sk_err_set(err, SK_ENOENT, "bot '%s' has no workspace (%s)", c->bot,
				  c->be->where);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", c->be->root);
	return fd;
}

struct export_res {
	struct tree_stats ts;
	uint64_t out_bytes;
};

static void limits_of(const struct sk_config *cfg, struct extract_limits *lim)
{
	lim->max_entries = cfg->max_entries;
	lim->max_bytes = cfg->max_bytes;
	lim->max_path = cfg->max_path;
	lim->max_depth = cfg->max_depth;
}

/* Archive the tree at rootfd into out_fd with the chosen codec. */
static int write_archive(const struct sk_config *cfg, int rootfd, int out_fd, enum codec codec,
			 int level, int threads, int show_progress, struct export_res *res,
			 struct sk_err *err)
{
	struct extract_limits lim;
	struct enc *enc = NULL;
	struct awriter *w = NULL;
	struct progress prog;
	int ret = -1;

	progress_start(&prog, show_progress, 0);
	if (prog.on)
		progress_set_total(&prog, tree_size(rootfd));
	if (enc_open(&enc, out_fd, codec, level, threads, err) < 0)
		goto out;
	if (awriter_open(&w, enc, err) < 0)
		goto out;
	limits_of(cfg, &lim);
	if (tree_export(rootfd, w, &lim, &prog, &res->ts, err) < 0)
		goto out;
	if (awriter_finish(w, err) < 0 || enc_finish(enc, err) < 0)
		goto out;
	res->out_bytes = enc_bytes_out(enc);
	progress_end(&prog, 1);
	ret = 0;
out:
	progress_end(&prog, 0);
	awriter_free(w);
	enc_free(enc);
	return ret;
}

/* The codec settings, checked before the bot is stopped rather than after. */
static int resolve_codec(const struct ctx *c, const struct ws_opts *o, enum codec *codec,
			 int *level, int *threads, struct sk_err *err)
{
	int max;

	*codec = o->co.codec_set ? o->co.codec : c->cfg.codec;
	*level = o->co.level_set ? o->co.level : c->cfg.level;
	*threads = o->co.threads_set ? o->co.threads : c->cfg.threads;
	if (*codec == CODEC_NONE)
		return 0;	/* no level to check */
	max = *codec == CODEC_GZIP ? 9 : 19;
	if (*level > max)
		return sk_err_set(err, SK_EUSAGE, "level %d is out of range for %s (1-%d)", *level,
				  codec_name(*codec), max);
	return 0;
}

/*
 * The -o file: a temporary file next to it, renamed over it when complete
 * (its name goes to tmp). A device or a FIFO that is already there, such
 * as /dev/null, is written in place instead (tmp stays empty): a rename
 * would put a regular file where the device was.
 */
static int open_output(const char *path, char *tmp, size_t size, struct sk_err *err)
{
	struct stat st;
	int fd;

	tmp[0] = '\0';
	if (stat(path, &st) < 0 || S_ISREG(st.st_mode))
		return fs_tmpfile_near(path, tmp, size, err);
	if (S_ISDIR(st.st_mode))
		return sk_err_set(err, SK_EUSAGE, "'%s' is a directory", path);
	fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	if (isatty(fd)) {
		close(fd);
		return sk_err_set(err, SK_EUSAGE, "refusing to write an archive to a terminal ('%s')",
				  path);
	}
	return fd;
}

int ws_export(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct journal_row jr = { 0 };
	struct export_res res = { 0 };
	char tmp[PATH_MAX] = "";
	enum codec codec;
	int level, threads, out_fd = STDOUT_FILENO, rootfd = -1, ret = -1, began = 0;
	double t0 = log_now();

	if (!o->output && isatty(STDOUT_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to write an archive to a terminal (use -o FILE or a pipe)");
	if (ctx_open(&c, o, 1, err) < 0)
		return op_fail(err, "export", o->bot);
	if (resolve_codec(&c, o, &codec, &level, &threads, err) < 0)
		goto out;
	if (c.be->ops->probe(c.be, err) < 0)
		goto out;
	/* An offline workspace is reached only once the bot is stopped. */
	if (!c.be->offline && (rootfd = open_root(&c, err)) < 0)
		goto out;
	if (o->output && (out_fd = open_output(o->output, tmp, sizeof(tmp), err)) < 0)
		goto out;
	snprintf(jr.object, sizeof(jr.object), "%s", c.object);
	snprintf(jr.kind, sizeof(jr.kind), "export");
	snprintf(jr.step, sizeof(jr.step), "export");
	snprintf(jr.path, sizeof(jr.path), "%s", tmp);
	if (idx_journal_begin(c.ix, &jr, err) < 0)
		goto out;
	began = 1;
	if (stop_bot(&c, &jr, err) < 0)
		goto out;
	fault_point("export-stopped");
	if (c.be->offline) {
		if ((rootfd = open_root(&c, err)) < 0)
			goto out;
		fault_point("export-mounted");
	}
	if (write_archive(&c.cfg, rootfd, out_fd, codec, level, threads, o->progress, &res, err) < 0)
		goto out;
	if (tmp[0] && fs_commit_tmp(out_fd, tmp, o->output, err) < 0)
		goto out;
	tmp[0] = '\0';
	ret = 0;
out:
	if (rootfd >= 0)
		close(rootfd);
	rootfd = -1;
	if (began)
		detach_ws(&c, &ret, err);
	if (began) {
		struct sk_err serr = SK_ERR_INIT;

		/* Rule 3: the bot comes back whatever happened above. */
		if (start_bot(&c, &jr, &serr) < 0) {
			if (ret == 0)
				*err = serr;
			else
				log_error("%s", serr.msg);
			ret = -1;
			began = 0;	/* keep the row: the next command retries */
		}
	}
	if (tmp[0])
		unlink(tmp);
	if (began)
		idx_journal_end(c.ix, jr.id, &(struct sk_err)SK_ERR_INIT);
	if (out_fd >= 0 && out_fd != STDOUT_FILENO)
		close(out_fd);
	if (rootfd >= 0)
		close(rootfd);
	if (ret == 0) {
		char b[32], ob[32];

		log_info("exported bot '%s': %llu entries, %s (%s %s) in %.1f s", c.bot,
			 (unsigned long long)res.ts.entries, log_bytes(res.ts.bytes, b, sizeof(b)),
			 log_bytes(res.out_bytes, ob, sizeof(ob)), codec_name(codec),
			 log_now() - t0);
	} else {
		op_fail(err, "export", o->bot);
	}
	ctx_close(&c);
	return ret;
}

struct import_res {
	struct extract_stats es;
	enum codec codec;
};

static int stage_root_like(int stagefd, const char *root, struct sk_err *err)
{
	struct stat s;

	if (stat(root, &s) < 0) {
		if (errno != ENOENT)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot stat '%s'", root);
		return fchmod(stagefd, 0755) < 0 ? sk_err_sys(err, SK_EFAIL, errno, "chmod") : 0;
	}
	if (!S_ISDIR(s.st_mode))
		return sk_err_set(err, SK_EFAIL, "workspace '%s' is not a directory", root);
	if ((geteuid() == 0 && fchown(stagefd, s.st_uid, s.st_gid) < 0) ||
	    fchmod(stagefd, s.st_mode & 07777) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot copy the mode of '%s'", root);
	return 0;
}

/*
 * The swap. With RENAME_EXCHANGE the workspace name goes from the old tree
 * to the new one in one step; where the file system lacks it, two renames
 * with the old tree parked at the -old name, which the repair can undo.
 * Returns 1, having changed nothing, when the file system refuses to move
 * the old workspace at all: overlayfs says EXDEV for a directory that comes
 * from a lower layer (a /data that the container's image holds), unless
 * mounted with redirect_dir, which containerd does not use. The caller then
 * rolls forward instead.
 */
static int swap_in(const struct swap_names *sn, const char *root, int had_old,
		   struct sk_err *err)
{
	if (!had_old) {
		if (renameat2(AT_FDCWD, sn->newp, AT_FDCWD, root, RENAME_NOREPLACE) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot move '%s' to '%s'",
					  sn->newp, root);
		return fs_fsync_path(sn->parent, err);
	}
	if (!fault_wanted("import-mid-swap")) {
		if (renameat2(AT_FDCWD, sn->newp, AT_FDCWD, root, RENAME_EXCHANGE) == 0)
			return fs_fsync_path(sn->parent, err);
		if (errno == EXDEV)
			return 1;
		if (errno != EINVAL && errno != ENOSYS)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot swap '%s' into '%s'",
					  sn->newp, root);
	}
	if (rename(root, sn->oldp) < 0) {
		if (errno == EXDEV)
			return 1;
		return sk_err_sys(err, SK_EFAIL, errno, "cannot move '%s' aside", root);
	}
	fault_point("import-mid-swap");
	if (rename(sn->newp, root) < 0) {
		int e = errno;

		if (rename(sn->oldp, root) < 0) {
			/* leave it to the repair: the journal still has the row */
		}
		return sk_err_sys(err, SK_EFAIL, e, "cannot move '%s' to '%s'", sn->newp, root);
	}
	return fs_fsync_path(sn->parent, err);
}

/* The names in the directory open at fd, "." and ".." left out; *names is
 * malloc'd, each name too (free with free_names). */
static int dir_names(int fd, const char *what, char ***names, size_t *n, struct sk_err *err)
{
	struct dirent *de;
	size_t cap = 0;
	int dfd = fs_reopen_dir(fd);
	DIR *d;

	*names = NULL;
	*n = 0;
	if (dfd < 0 || !(d = fdopendir(dfd))) {
		int e = errno;

		if (dfd >= 0)
			close(dfd);
		return sk_err_sys(err, SK_EFAIL, e, "cannot read '%s'", what);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *nm = de->d_name;

		if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
			continue;
		if (*n == cap) {
			char **v = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v)
				break;
			*names = v;
		}
		if (!((*names)[*n] = strdup(nm)))
			break;
		(*n)++;
	}
	if (de || errno) {
		int e = errno ? errno : ENOMEM;

		closedir(d);
		return sk_err_sys(err, SK_EFAIL, e, "cannot read '%s'", what);
	}
	closedir(d);
	return 0;
}

static void free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Roll forward, first half: the old content goes, entry by entry. */
static int rf_clear(const char *root, struct sk_err *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int fd, ret = -1;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", root);
	if (dir_names(fd, root, &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (fs_rmtree_at(fd, names[i], err) < 0) {
			sk_err_wrap(err, "clear '%s'", root);
			goto out;
		}
		fault_point("import-rf-clearing");
	}
	if (syncfs(fd) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "sync '%s'", root);
		goto out;
	}
	ret = 0;
out:
	free_names(names, n);
	close(fd);
	return ret;
}

/*
 * Roll forward, second half: each staged entry moves into the workspace.
 * The staging directory is the import's own, so the overlay lets its
 * entries move (a directory moved into a merged one is made opaque, so no
 * lower content shows through it). A name already there is not from the
 * new tree (a rename moves an entry whole), so it goes first. Last, the
 * workspace takes the staged root's owner, mode and mtime (after a crash
 * half way, the mtime is that of the crash).
 */
static int rf_fill(const char *stage, const char *root, struct sk_err *err)
{
	char **names = NULL;
	size_t n = 0, i;
	struct stat st;
	int sfd = -1, rfd = -1, ret = -1;

	sfd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0 || rfd < 0 || fstat(sfd, &st) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", sfd < 0 ? stage : root);
		goto out;
	}
	if (dir_names(sfd, stage, &names, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		int rc = renameat2(sfd, names[i], rfd, names[i], RENAME_NOREPLACE);

		if (rc < 0 && errno == EEXIST) {
			if (fs_rmtree_at(rfd, names[i], err) < 0)
				goto out;
			rc = renameat2(sfd, names[i], rfd, names[i], RENAME_NOREPLACE);
		}
		if (rc < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "cannot move '%s/%s' into '%s'", stage,
				   names[i], root);
			goto out;
		}
		fault_point("import-rf-filling");
	}
	if ((geteuid() == 0 && fchown(rfd, st.st_uid, st.st_gid) < 0) ||
	    fchmod(rfd, st.st_mode & 07777) < 0 ||
	    futimens(rfd, (struct timespec[2]){ st.st_atim, st.st_mtim }) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot set the owner and mode of '%s'", root);
		goto out;
	}
	if (syncfs(rfd) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "sync '%s'", root);
		goto out;
	}
	ret = 0;
out:
	free_names(names, n);
	if (sfd >= 0)
		close(sfd);
	if (rfd >= 0)
		close(rfd);
	return ret;
}

/*
 * Roll forward, for a workspace that cannot be renamed (see swap_in). The
 * new tree is complete and synced in the staging directory before this
 * starts, and the journal row says "rf-clear" before the first old entry
 * goes. From then on the import only goes forward: a crash, a power cut or
 * a failure is finished by the next command on the bot, under its lock,
 * before it does anything else (repair_import), and each step can be
 * repeated:
 *   rf-clear  remove every entry of the workspace, sync;
 *   rf-fill   move every staged entry into it (rf_fill), sync.
 * The row is moved to rf-fill only once the clear is on disk, so a
 * repeated clear never meets a new entry. The bot's task stays stopped
 * throughout, so no workload sees the workspace half way.
 */
static int roll_forward(struct ctx *c, struct journal_row *jr, const struct swap_names *sn,
			struct sk_err *err)
{
	if (strcmp(jr->step, "rf-fill") != 0) {
		if (strcmp(jr->step, "rf-clear") != 0) {
			snprintf(jr->step, sizeof(jr->step), "rf-clear");
			if (idx_journal_update(c->ix, jr, err) < 0)
				return -1;
		}
		if (rf_clear(jr->path2, err) < 0)
			return -1;
		fault_point("import-rf-cleared");
		snprintf(jr->step, sizeof(jr->step), "rf-fill");
		if (idx_journal_update(c->ix, jr, err) < 0)
			return -1;
	}
	if (rf_fill(sn->newp, jr->path2, err) < 0)
		return -1;
	fault_point("import-rf-filled");
	return 0;
}

/*
 * Import an archive read from in_fd into the bot's workspace, all or
 * nothing. The caller holds the lock. Without merge the archive is staged
 * while the bot keeps running, and the bot is stopped only for the swap;
 * an offline workspace (a container's snapshot) is mounted, and so staged,
 * only once the bot is stopped.
 */
static int import_locked(struct ctx *c, int in_fd, int merge, int show_progress,
			 uint64_t in_size, struct import_res *res, struct sk_err *err)
{
	struct extract_limits lim;
	/* The guard bounds what it buffers; the extractor applies the exact
	 * limit to cleaned names, so leave room for "./" and trailing slashes. */
	struct targuard_limits glim = { (size_t)c->cfg.max_path + 16, 1 << 20 };
	struct journal_row jr = { 0 };
	struct swap_names sn;
	struct areader *r = NULL;
	struct progress prog;
	struct stat st;
	const char *root;
	int stagefd = -1, had_old, ret = -1, began = 0, swapped = 0, rc;
	int offline = c->be->offline;

	limits_of(&c->cfg, &lim);
	progress_start(&prog, show_progress, in_size);
	if (c->be->ops->probe(c->be, err) < 0)
		return -1;
	if (!offline && c->be->ops->attach(c->be, 1, err) < 0)
		return -1;
	root = c->be->root;
	if (swap_names(root, &sn, err) < 0)
		return -1;

	snprintf(jr.object, sizeof(jr.object), "%s", c->object);
	snprintf(jr.kind, sizeof(jr.kind), "import");
	snprintf(jr.step, sizeof(jr.step), "stage");
	snprintf(jr.path, sizeof(jr.path), "%s", sn.newp);
	snprintf(jr.path2, sizeof(jr.path2), "%s", root);
	if (idx_journal_begin(c->ix, &jr, err) < 0)
		return -1;
	began = 1;
	if ((merge || offline) && stop_bot(c, &jr, err) < 0)
		goto out;
	if (offline && c->be->ops->attach(c->be, 1, err) < 0)
		goto out;
	if (fs_mkdir_p(sn.parent, 0755, err) < 0)
		goto out;
	had_old = lstat(root, &st) == 0;
	if (had_old && !S_ISDIR(st.st_mode)) {
		sk_err_set(err, SK_EFAIL, "workspace %s is not a directory", c->be->where);
		goto out;
	}
	/* Left by a crash the journal no longer knows of: ours by name. */
	if (fs_rmtree(sn.newp, err) < 0 || fs_rmtree(sn.oldp, err) < 0)
		goto out;
	if (mkdir(sn.newp, 0700) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", sn.newp);
		goto out;
	}
	stagefd = open(sn.newp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (stagefd < 0 || fstat(stagefd, &st) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", sn.newp);
		goto out;
	}
	if (merge && had_old) {
		int oldfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (oldfd < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", root);
			goto out;
		}
		rc = tree_link_copy(oldfd, stagefd, err);
		close(oldfd);
		if (rc < 0)
			goto out;
	}
	if (stage_root_like(stagefd, root, err) < 0)
		goto out;
	if (areader_open(&r, in_fd, &glim, err) < 0)
		goto out;
	if (extract_archive(r, stagefd, &lim, &prog, &res->es, err) < 0)
		goto out;
	progress_end(&prog, 1);
	res->codec = areader_codec(r);
	if (sig_interrupted()) {
		sk_err_set(err, SK_EFAIL, "interrupted");
		goto out;
	}
	/* Everything staged reaches the disk before the name can point at it. */
	if (syncfs(stagefd) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "sync '%s'", sn.newp);
		goto out;
	}
	fault_point("import-staged");
	if (!merge && !offline && stop_bot(c, &jr, err) < 0)
		goto out;
	fault_point("import-stopped");
	snprintf(jr.step, sizeof(jr.step), "swap");
	jr.ino = (int64_t)st.st_ino;
	jr.dev = offline ? 0 : (int64_t)st.st_dev;
	if (idx_journal_update(c->ix, &jr, err) < 0)
		goto out;
	rc = swap_in(&sn, root, had_old, err);
	if (rc < 0)
		goto out;
	if (rc > 0) {
		log_info("the file system will not rename %s: rolling forward", c->be->where);
		if (roll_forward(c, &jr, &sn, err) < 0)
			goto out;
	}
	swapped = 1;
	fault_point("import-swapped");
	snprintf(jr.step, sizeof(jr.step), "cleanup");
	if (idx_journal_update(c->ix, &jr, err) < 0)
		goto out;
	ret = 0;
out:
	progress_end(&prog, 0);
	areader_free(r);
	if (stagefd >= 0)
		close(stagefd);
	if (began) {
		struct sk_err cerr = SK_ERR_INIT;
		int clean;

		if (strncmp(jr.step, "rf-", 3) == 0) {
			/* Only forward from here, and only by the repair. */
			log_error("bot '%s' has only part of its new workspace in place; the next "
				  "command on the bot finishes the import",
				  c->bot);
			clean = -1;
		} else if ((clean = settle(&sn, root, swapped, &cerr)) < 0) {
			log_warn("%s", cerr.msg);
		}
		detach_ws(c, &ret, err);
		if (start_bot(c, &jr, &cerr) < 0) {
			if (ret == 0)
				*err = cerr;
			else
				log_error("%s", cerr.msg);
			ret = -1;
		} else if (clean == 0) {
			/* A failed cleanup keeps the row for the next repair. */
			idx_journal_end(c->ix, jr.id, &cerr);
		}
	}
	return ret;
}

static void print_import_json(const char *bot, const struct import_res *res)
{
	printf("{\"bot\":\"%s\",\"entries\":%llu,\"bytes\":%llu,\"codec\":\"%s\"}\n", bot,
	       (unsigned long long)res->es.entries, (unsigned long long)res->es.bytes,
	       codec_name(res->codec));
}

int ws_import(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct import_res res = { 0 };
	struct stat st;
	uint64_t in_size = 0;
	int in_fd = STDIN_FILENO, ret = -1;
	double t0 = log_now();

	if (!o->input && isatty(STDIN_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to read an archive from a terminal (use -i FILE or a pipe)");
	if (o->input) {
		in_fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (in_fd < 0)
			return sk_err_sys(err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
					  "cannot open '%s'", o->input);
	}
	if (fstat(in_fd, &st) == 0 && S_ISREG(st.st_mode))
		in_size = (uint64_t)st.st_size;
	if (ctx_open(&c, o, 1, err) < 0)
		goto done;
	ret = import_locked(&c, in_fd, o->merge, o->progress, in_size, &res, err);
	if (ret == 0) {
		char b[32];

		if (o->json)
			print_import_json(c.bot, &res);
		log_info("imported bot '%s': %llu entries, %s (%s) in %.1f s", c.bot,
			 (unsigned long long)res.es.entries, log_bytes(res.es.bytes, b, sizeof(b)),
			 codec_name(res.codec), log_now() - t0);
	}
	ctx_close(&c);
done:
	if (ret < 0)
		op_fail(err, "import", o->bot);
	if (in_fd != STDIN_FILENO)
		close(in_fd);
	return ret;
}

/* ---- ws-preserve ---- */

static int backup_path(const struct ctx *c, int64_t gen, enum codec codec, char *out,
		       size_t size)
{
	return (size_t)snprintf(out, size, "%s/gen-%06lld%s", c->backups, (long long)gen,
				codec_suffix(codec)) >= size ? -1 : 0;
}

/*
 * The index keeps a generation's file name relative to the bot's backup
 * directory, so that a state dir spelled another way (a trailing slash, a
 * symlink, a move) still finds it, and never mistakes it for an orphan.
 */
static int backup_file(const struct sk_config *cfg, const struct backup_row *r, char *out,
		       size_t size, struct sk_err *err)
{
	return fs_pathf(out, size, err, "%s/backups/%s/%s", cfg->state_dir, r->bot, r->file);
}

/* Remove files in the bot's backup directory that the index does not name:
 * a temp file of a crashed preserve, or a generation whose row was pruned. */
static int sweep_orphans(struct ctx *c, struct sk_err *err)
{
	struct backup_row *rows = NULL;
	struct dirent *de;
	size_t n, i;
	DIR *d;
	int ret = 0;

	d = opendir(c->backups);
	if (!d)
		return errno == ENOENT ? 0 : sk_err_sys(err, SK_EFAIL, errno, "cannot read '%s'",
							c->backups);
	if (idx_backup_list(c->ix, c->bot, &rows, &n, err) < 0) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char full[PATH_MAX];
		int known = 0;

		if (strncmp(de->d_name, "gen-", 4) != 0 && strncmp(de->d_name, ".gen-", 5) != 0)
			continue;
		if (fs_pathf(full, sizeof(full), err, "%s/%s", c->backups, de->d_name) < 0)
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(rows[i].file, de->d_name) == 0)
				known = 1;
		if (known)
			continue;
		log_warn("removing '%s', which no backup record names", full);
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", full);
			break;
		}
	}
	closedir(d);
	free(rows);
	return ret;
}

static int prune_locked(struct ctx *c, int keep, struct sk_err *err)
{
	struct backup_row *rows = NULL;
	size_t n, i;
	int ret = 0;

	if (idx_backup_list(c->ix, c->bot, &rows, &n, err) < 0)
		return -1;
	/* Oldest first. The row goes before the file: a crash in between
	 * leaves an orphan file the next sweep removes, never a row that
	 * names a missing file. */
	for (i = 0; n > (size_t)keep && i < n - (size_t)keep; i++) {
		char file[PATH_MAX];

		if (backup_file(&c->cfg, &rows[i], file, sizeof(file), err) < 0 ||
		    idx_backup_delete(c->ix, c->bot, rows[i].generation, err) < 0) {
			ret = -1;
			break;
		}
		if (unlink(file) < 0 && errno != ENOENT) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", file);
			break;
		}
		log_info("pruned generation %lld of bot '%s'", (long long)rows[i].generation,
			 c->bot);
	}
	if (ret == 0 && i > 0)
		ret = fs_fsync_path(c->backups, err);
	free(rows);
	return ret;
}

int ws_preserve(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct journal_row jr = { 0 };
	struct export_res res = { 0 };
	struct backup_row row = { 0 };
	char tmp[PATH_MAX] = "", final[PATH_MAX], js[2 * PATH_MAX];
	enum codec codec;
	int level, threads, fd = -1, rootfd = -1, ret = -1, began = 0;

	if (ctx_open(&c, o, 1, err) < 0)
		return op_fail(err, "preserve", o->bot);
	if (resolve_codec(&c, o, &codec, &level, &threads, err) < 0)
		goto out;
	if (sweep_orphans(&c, err) < 0)
		goto out;
	if (c.be->ops->probe(c.be, err) < 0)
		goto out;
	if (!c.be->offline && (rootfd = open_root(&c, err)) < 0)
		goto out;
	if (fs_mkdir_p(c.backups, 0700, err) < 0)
		goto out;
	if (idx_backup_next(c.ix, c.bot, &row.generation, err) < 0)
		goto out;
	if (backup_path(&c, row.generation, codec, final, sizeof(final)) < 0) {
		sk_err_set(err, SK_EFAIL, "backup path too long");
		goto out;
	}
	fd = fs_tmpfile_near(final, tmp, sizeof(tmp), err);
	if (fd < 0)
		goto out;
	snprintf(jr.object, sizeof(jr.object), "%s", c.object);
	snprintf(jr.kind, sizeof(jr.kind), "preserve");
	snprintf(jr.step, sizeof(jr.step), "write");
	snprintf(jr.path, sizeof(jr.path), "%s", tmp);
	if (idx_journal_begin(c.ix, &jr, err) < 0)
		goto out;
	began = 1;
	if (stop_bot(&c, &jr, err) < 0)
		goto out;
	fault_point("preserve-stopped");
	if (c.be->offline) {
		if ((rootfd = open_root(&c, err)) < 0)
			goto out;
		fault_point("preserve-mounted");
	}
	if (write_archive(&c.cfg, rootfd, fd, codec, level, threads, o->progress, &res, err) < 0)
		goto out;
	/* The bot need not wait for the hash and the bookkeeping. */
	close(rootfd);
	rootfd = -1;
	if (c.be->ops->detach(c.be, err) < 0)
		goto out;
	if (start_bot(&c, &jr, err) < 0)
		goto out;
	if (fs_commit_tmp(fd, tmp, final, err) < 0)
		goto out;
	tmp[0] = '\0';
	fault_point("preserve-renamed");
	if (hash_file(final, row.sha256, &row.size, err) < 0)
		goto out;
	snprintf(row.bot, sizeof(row.bot), "%s", c.bot);
	snprintf(row.file, sizeof(row.file), "%s", strrchr(final, '/') + 1);
	snprintf(row.codec, sizeof(row.codec), "%s", codec_name(codec));
	row.entries = res.ts.entries;
	row.created = (int64_t)time(NULL);
	if (idx_backup_add(c.ix, &row, err) < 0)
		goto out;
	ret = prune_locked(&c, o->keep > 0 ? o->keep : c.cfg.keep, err);
	if (ret == 0 && o->json)
		printf("{\"bot\":\"%s\",\"generation\":%lld,\"file\":%s,\"size\":%llu,"
		       "\"sha256\":\"%s\",\"entries\":%llu}\n",
		       row.bot, (long long)row.generation, json_str(final, js, sizeof(js)),
		       (unsigned long long)row.size, row.sha256,
		       (unsigned long long)row.entries);
	if (ret == 0)
		log_info("preserved bot '%s' as generation %lld (%llu entries)", c.bot,
			 (long long)row.generation, (unsigned long long)row.entries);
out:
	if (rootfd >= 0)
		close(rootfd);
	rootfd = -1;
	if (began)
		detach_ws(&c, &ret, err);
	if (began) {
		struct sk_err serr = SK_ERR_INIT;

		if (start_bot(&c, &jr, &serr) < 0) {
			if (ret == 0)
				*err = serr;
			else
				log_error("%s", serr.msg);
			ret = -1;
			began = 0;
		}
	}
	if (tmp[0])
		unlink(tmp);
	if (began)
		idx_journal_end(c.ix, jr.id, &(struct sk_err)SK_ERR_INIT);
	if (fd >= 0)
		close(fd);
	ctx_close(&c);
	if (ret < 0)
		op_fail(err, "preserve", o->bot);
	return ret;
}

struct legacy_feed {
	const struct sk_config *cfg;
	int rootfd, out_fd;
	struct sk_err err;
	int ret;
};

static void *legacy_writer(void *arg)
{
	struct legacy_feed *f = arg;
	struct export_res res;

	f->ret = write_archive(f->cfg, f->rootfd, f->out_fd, CODEC_NONE, 0, 1, 0, &res, &f->err);
	close(f->out_fd);
	return NULL;
}

/*
 * A legacy bind-mount directory is bot data like any other: rather than
 * copy it by hand, stream it through the same archive writer and importer,
 * so it gets every check and the same all-or-nothing swap.
 */
static int restore_legacy(struct ctx *c, const char *dir, const struct ws_opts *o,
			  struct sk_err *err)
{
	struct legacy_feed f = { .cfg = &c->cfg, .rootfd = -1, .out_fd = -1 };
	struct import_res res = { 0 };
	char done[PATH_MAX];
	pthread_t th;
	int pfd[2], ret;

	/* Before the thread starts: the containerd backend moves this
	 * process into a mount namespace of its own, which a threaded
	 * process cannot do. */
	if (c->be->ops->probe(c->be, err) < 0)
		return -1;
	f.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f.rootfd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", dir);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;

		close(f.rootfd);
		return sk_err_sys(err, SK_EFAIL, e, "pipe");
	}
	f.out_fd = pfd[1];
	if (pthread_create(&th, NULL, legacy_writer, &f) != 0) {
		close(pfd[0]);
		close(pfd[1]);
		close(f.rootfd);
		return sk_err_set(err, SK_EFAIL, "cannot start a thread");
	}
	ret = import_locked(c, pfd[0], 0, o->progress, 0, &res, err);
	close(pfd[0]);
	pthread_join(th, NULL);
	close(f.rootfd);
	if (ret == 0 && f.ret < 0) {
		*err = f.err;
		return -1;
	}
	if (ret < 0)
		return -1;
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

static int legacy_dir(const struct ctx *c, char *out, size_t size)
{
	struct stat s;

	if ((size_t)snprintf(out, size, "%s/%s", c->cfg.legacy_dir, c->bot) >= size)
		return 0;
	return stat(out, &s) == 0 && S_ISDIR(s.st_mode);
}

int ws_restore(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct backup_row row;
	struct import_res res = { 0 };
	char sum[HASH_HEX_LEN + 1], legacy[PATH_MAX], file[PATH_MAX];
	uint64_t size;
	int fd = -1, ret = -1;

	if (ctx_open(&c, o, 1, err) < 0)
		return op_fail(err, "restore", o->bot);
	if (idx_backup_get(c.ix, c.bot, o->generation, &row, err) < 0) {
		if (err->code != SK_ENOENT || o->generation)
			goto out;
		if (!legacy_dir(&c, legacy, sizeof(legacy))) {
			sk_err_set(err, SK_ENOENT, "bot '%s' has no backup and no legacy directory",
				   c.bot);
			goto out;
		}
		ret = restore_legacy(&c, legacy, o, err);
		goto out;
	}
	if (backup_file(&c.cfg, &row, file, sizeof(file), err) < 0)
		goto out;
	/* Rule 6: the backup's sha256 is checked before a byte of it is used. */
	if (hash_file(file, sum, &size, err) < 0) {
		if (err->code == SK_ENOENT) {
			sk_err_set(err, SK_EDAMAGED, "generation %lld is missing: '%s' is gone",
				   (long long)row.generation, file);
		}
		goto out;
	}
	if (strcmp(sum, row.sha256) != 0 || size != row.size) {
		sk_err_set(err, SK_EDAMAGED,
			   "generation %lld is damaged: '%s' has sha256 %s, expected %s",
			   (long long)row.generation, file, sum, row.sha256);
		goto out;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", file);
		goto out;
	}
	if (import_locked(&c, fd, 0, o->progress, row.size, &res, err) < 0)
		goto out;
	if (idx_backup_mark_restored(c.ix, c.bot, row.generation, (int64_t)time(NULL), err) < 0)
		goto out;
	if (o->json)
		print_import_json(c.bot, &res);
	log_info("restored bot '%s' from generation %lld (%llu entries)", c.bot,
		 (long long)row.generation, (unsigned long long)res.es.entries);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	ctx_close(&c);
	if (ret < 0)
		op_fail(err, "restore", o->bot);
	return ret;
}

int ws_check(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct backup_row row;
	char legacy[PATH_MAX];
	int ret = -1;

	if (ctx_open(&c, o, 0, err) < 0)
		return -1;
	if (idx_backup_get(c.ix, c.bot, 0, &row, err) == 0) {
		if (!row.restored)
			ret = 0;
	} else if (err->code != SK_ENOENT) {
		goto out;
	}
	if (ret < 0 && legacy_dir(&c, legacy, sizeof(legacy)))
		ret = 0;
	/* A predicate for scripts: "no" is an exit status, not an error message. */
	if (ret < 0) {
		log_info("bot '%s' has no preserved data waiting to be restored", c.bot);
		sk_err_set(err, SK_ENOENT, "%s", "");
	} else {
		log_info("bot '%s' has preserved data waiting to be restored", c.bot);
	}
out:
	ctx_close(&c);
	return ret;
}

int ws_prune(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	int ret;

	if (ctx_open(&c, o, 1, err) < 0)
		return op_fail(err, "prune", o->bot);
	ret = prune_locked(&c, o->keep > 0 ? o->keep : c.cfg.keep, err);
	if (ret == 0)
		ret = sweep_orphans(&c, err);
	ctx_close(&c);
	return ret < 0 ? op_fail(err, "prune", o->bot) : 0;
}

static void fmt_time(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t) {
		snprintf(buf, size, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ws_list(const struct ws_opts *o, struct sk_err *err)
{
	struct ctx c;
	struct backup_row *rows = NULL;
	size_t n, i;

	if (ctx_open(&c, o, 0, err) < 0)
		return -1;
	if (idx_backup_list(c.ix, o->bot, &rows, &n, err) < 0) {
		ctx_close(&c);
		return -1;
	}
	if (o->json) {
		printf("[");
		for (i = 0; i < n; i++) {
			char cr[32], rs[32], file[PATH_MAX], js[2 * PATH_MAX];

			if (backup_file(&c.cfg, &rows[i], file, sizeof(file), err) < 0)
				file[0] = '\0';
			fmt_time(rows[i].created, cr, sizeof(cr));
			fmt_time(rows[i].restored, rs, sizeof(rs));
			printf("%s\n  {\"bot\":\"%s\",\"generation\":%lld,\"created\":\"%s\","
			       "\"size\":%llu,\"entries\":%llu,\"codec\":\"%s\",\"sha256\":\"%s\","
			       "\"restored\":%s%s%s,\"file\":%s}",
			       i ? "," : "", rows[i].bot, (long long)rows[i].generation, cr,
			       (unsigned long long)rows[i].size, (unsigned long long)rows[i].entries,
			       rows[i].codec, rows[i].sha256, rows[i].restored ? "\"" : "",
			       rows[i].restored ? rs : "null", rows[i].restored ? "\"" : "",
			       json_str(file, js, sizeof(js)));
		}
		printf("%s]\n", n ? "\n" : "");
	} else {
		printf("%-20s %5s  %-20s  %10s  %8s  %s\n", "BOT", "GEN", "CREATED", "SIZE",
		       "ENTRIES", "RESTORED");
		for (i = 0; i < n; i++) {
			char cr[32], rs[32], sz[32];

			fmt_time(rows[i].created, cr, sizeof(cr));
			fmt_time(rows[i].restored, rs, sizeof(rs));
			printf("%-20s %5lld  %-20s  %10s  %8llu  %s\n", rows[i].bot,
			       (long long)rows[i].generation, cr,
			       log_bytes(rows[i].size, sz, sizeof(sz)),
			       (unsigned long long)rows[i].entries, rs);
		}
	}
	free(rows);
	ctx_close(&c);
	return 0;
}

struct idlist {
	char **v;
	size_t n, cap;
};

static void ids_add(struct idlist *l, const char *id)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(id);
	if (l->v[l->n])
		l->n++;
}

static void ids_add_cb(void *arg, const char *id)
{
	ids_add(arg, id);
}

static void ids_from_dir(struct idlist *l, const char *dir)
{
	struct sk_err e = SK_ERR_INIT;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	/* A valid id has no '.', so "<bot>.migrated" never passes the check. */
	while ((de = readdir(d)) != NULL)
		if (config_check_id("bot", de->d_name, &e) == 0)
			ids_add(l, de->d_name);
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ws_list_ids(const struct ws_opts *o, struct sk_err *err)
{
	struct idlist l = { 0 };
	struct ctx c;
	struct backup_row *rows = NULL;
	size_t n, i;
	const char *tail;

	if (ctx_open(&c, o, 0, err) < 0)
		return -1;
	/* Workspaces: only when the template's last component is exactly %s. */
	tail = strrchr(c.cfg.ws_path, '/');
	if (tail && strcmp(tail, "/%s") == 0 && !strstr(c.cfg.ws_path, "%s/")) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%.*s", (int)(tail - c.cfg.ws_path), c.cfg.ws_path);
		ids_from_dir(&l, dir);
	}
	ids_from_dir(&l, c.cfg.legacy_dir);
	/* Containers: a containerd that cannot be asked just adds none. */
	if (backend_bot_ids(&c.cfg, ids_add_cb, &l, err) < 0) {
		log_info("%s", err->msg);
		sk_err_clear(err);
	}
	if (idx_backup_list(c.ix, NULL, &rows, &n, err) == 0)
		for (i = 0; i < n; i++)
			ids_add(&l, rows[i].bot);
	free(rows);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_str);
	for (i = 0; i < l.n; i++)
		if (i == 0 || strcmp(l.v[i], l.v[i - 1]) != 0)
			printf("%s\n", l.v[i]);
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	ctx_close(&c);
	return 0;
}
