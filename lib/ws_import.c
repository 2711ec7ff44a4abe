/*
 * ws_import.c: ws-import, all or nothing. The archive is staged beside the
 * workspace and swapped in by rename, or rolled forward where the file
 * system refuses the rename, so a crash leaves old or new, never a mixture;
 * and the repair that finishes or undoes an import that died.
 */
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "astream.h"
#include "fsutil.h"
#include "log.h"
#include "sig.h"
#include "ws_int.h"
#include "banned.h"

struct swap_names {
	char parent[PATH_MAX]; /* the workspace's directory */
	char base[NAME_MAX + 1];
	char newp[PATH_MAX]; /* <parent>/.<base>.statekit-new */
	char oldp[PATH_MAX]; /* <parent>/.<base>.statekit-old */
};

static int swap_names(const char *root, struct swap_names *sn, struct sk_err *err)
{
	const char *base = fs_split(root, sn->parent, sizeof(sn->parent));

	if (!*base || strlen(base) > NAME_MAX - 20)
		return sk_err_set(err, SK_EUSAGE, "bad workspace path '%s'", root);
	snprintf(sn->base, sizeof(sn->base), "%s", base);
	if ((size_t)snprintf(sn->newp, sizeof(sn->newp), "%s/.%s.statekit-new", sn->parent, base) >=
		sizeof(sn->newp) ||
	    (size_t)snprintf(sn->oldp, sizeof(sn->oldp), "%s/.%s.statekit-old", sn->parent, base) >=
		sizeof(sn->oldp))
		return sk_err_set(err, SK_EUSAGE, "workspace path '%s' is too long", root);
	return 0;
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
static int settle(const struct swap_names *sn, const char *root, int swapped, struct sk_err *err)
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
static int swap_in(const struct swap_names *sn, const char *root, int had_old, struct sk_err *err)
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
 * before it does anything else (import_repair), and each step can be
 * repeated:
 *   rf-clear  remove every entry of the workspace, sync;
 *   rf-fill   move every staged entry into it (rf_fill), sync.
 * The row is moved to rf-fill only once the clear is on disk, so a
 * repeated clear never meets a new entry. The bot's task stays stopped
 * throughout, so no workload sees the workspace half way.
 */
static int roll_forward(struct wsint_ctx *c, struct journal_row *jr, const struct swap_names *sn,
			struct sk_err *err)
{
	if (strcmp(jr->step, "rf-fill") != 0) {
		if (strcmp(jr->step, "rf-clear") != 0) {
			snprintf(jr->step, sizeof(jr->step), "rf-clear");
			if (idx_journal_update(c->ix, jr, err) < 0)
				return -1;
		}
		if (rf_clear(jr->target, err) < 0)
			return -1;
		fault_point("import-rf-cleared");
		snprintf(jr->step, sizeof(jr->step), "rf-fill");
		if (idx_journal_update(c->ix, jr, err) < 0)
			return -1;
	}
	if (rf_fill(sn->newp, jr->target, err) < 0)
		return -1;
	fault_point("import-rf-filled");
	return 0;
}

/*
 * An offline workspace (a container's snapshot) is mounted for the repair,
 * with the bot's task stopped. 1 when the bot is gone, and with it what the
 * import left. Detaching after a failure here is harmless.
 */
static int repair_attach(struct wsint_ctx *c, struct journal_row *r, struct sk_err *err)
{
	if (strcmp(r->target, c->be->root) != 0)
		return sk_err_set(err, SK_EFAIL,
				  "an interrupted import left '%s', but the workspace is now "
				  "'%s': set data_path back to finish it",
				  r->target, c->be->root);
	if (c->be->ops->probe(c->be, err) < 0) {
		if (err->code != SK_ENOENT)
			return -1;
		log_warn("bot '%s' is gone: nothing left of an interrupted import (pid %ld)",
			 c->bot, r->pid);
		sk_err_clear(err);
		r->stopped = 0;
		return 1;
	}
	if (wsint_quiesce(c, r, err) < 0 || c->be->ops->attach(c->be, 1, err) < 0)
		return -1;
	return 0;
}

/*
 * Finish or undo an import that died. A roll-forward that had begun (step
 * rf-*) is finished: its new tree was complete before the old one went.
 * Otherwise the journal recorded the staged tree's identity before the
 * swap, so the workspace name tells which side of the rename(2) the crash
 * fell on: if it now holds the staged tree, the swap happened and what is
 * left is the old tree; otherwise the old tree is still (or again) the
 * workspace and the staging goes.
 */
static int import_repair(struct wsint_ctx *c, struct journal_row *r, struct sk_err *err)
{
	struct swap_names sn;
	int rolling = strncmp(r->step, "rf-", 3) == 0;
	int swapped, rc, ret = -1;

	if (!r->target[0])
		return 0;
	if (c->be->offline) {
		rc = repair_attach(c, r, err);
		if (rc != 0) {
			ret = rc > 0 ? 0 : -1;
			goto out;
		}
	}
	if (swap_names(r->target, &sn, err) < 0)
		goto out;
	swapped = rolling || strcmp(r->step, "cleanup") == 0 ||
		  (r->ino && same_ino(r->target, r->dev, r->ino));
	log_warn("%s an interrupted import of bot '%s' (pid %ld)",
		 swapped ? "finishing" : "undoing", c->bot, r->pid);
	if (rolling && roll_forward(c, r, &sn, err) < 0)
		goto out;
	ret = settle(&sn, r->target, swapped, err);
out:
	if (c->be->ops->detach(c->be, ret < 0 ? &(struct sk_err)SK_ERR_INIT : err) < 0)
		ret = -1;
	return ret;
}

/*
 * Each kind of journal row that leaves more than a temporary file, and its
 * repair (ws_int.h). Only an import does; every locked open takes this table.
 */
/* A restore --target killed before its rename leaves its staging directory. */
static int target_repair(struct wsint_ctx *c, struct journal_row *r, struct sk_err *err)
{
	(void)c;
	if (!r->staging[0] || !fs_exists(r->staging))
		return 0;
	log_warn("removing '%s' left by an interrupted restore (pid %ld)", r->staging, r->pid);
	return fs_rmtree(r->staging, err);
}

const struct wsint_repair ws_repairs[] = {
	{ "import", import_repair },
	{ "target", target_repair },
	{ NULL, NULL },
};

/* An import in progress: what its steps share. */
struct import_plan {
	struct wsint_ctx *c;
	int merge, offline;
	struct journal_row jr;
	struct swap_names sn;
	const char *root; /* the workspace, while attached */
	int had_old;	  /* a workspace was there to replace */
	int stagefd;	  /* the staging directory, sn.newp */
	struct stat st;	  /* its identity, recorded before the swap */
	struct areader *r;
	struct progress prog;
	int swapped;
};

/* Probe the bot, reach an online workspace, and name the staging. */
static int import_prepare(struct import_plan *p, int show_progress, uint64_t in_size,
			  struct sk_err *err)
{
	struct wsint_ctx *c = p->c;

	progress_start(&p->prog, show_progress, in_size);
	if (c->be->ops->probe(c->be, err) < 0)
		return -1;
	p->offline = c->be->offline;
	if (!p->offline && c->be->ops->attach(c->be, 1, err) < 0)
		return -1;
	p->root = c->be->root;
	if (swap_names(p->root, &p->sn, err) < 0)
		return -1;
	snprintf(p->jr.target, sizeof(p->jr.target), "%s", p->root);
	return 0;
}

/*
 * With merge the bot is stopped before its tree is copied; an offline
 * workspace is mounted, and so staged, only once the bot is stopped.
 */
static int stop_before_staging(struct import_plan *p, struct sk_err *err)
{
	if ((p->merge || p->offline) && wsint_quiesce(p->c, &p->jr, err) < 0)
		return -1;
	if (p->offline && p->c->be->ops->attach(p->c->be, 1, err) < 0)
		return -1;
	return 0;
}

/* An empty staging directory beside the workspace, open at p->stagefd. */
static int make_stage(struct import_plan *p, struct sk_err *err)
{
	const struct swap_names *sn = &p->sn;

	if (fs_mkdir_p(sn->parent, 0755, err) < 0)
		return -1;
	p->had_old = lstat(p->root, &p->st) == 0;
	if (p->had_old && !S_ISDIR(p->st.st_mode))
		return sk_err_set(err, SK_EFAIL, "workspace %s is not a directory",
				  p->c->be->where);
	/* Left by a crash the journal no longer knows of: ours by name. */
	if (fs_rmtree(sn->newp, err) < 0 || fs_rmtree(sn->oldp, err) < 0)
		return -1;
	if (mkdir(sn->newp, 0700) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", sn->newp);
	p->stagefd = open(sn->newp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->stagefd < 0 || fstat(p->stagefd, &p->st) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", sn->newp);
	return 0;
}

/* The staging root takes the workspace's owner and mode. */
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

/* With merge the staging starts as a hard-linked copy of the workspace. */
static int seed_stage(struct import_plan *p, struct sk_err *err)
{
	int oldfd, rc;

	if (p->merge && p->had_old) {
		oldfd = open(p->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (oldfd < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", p->root);
		rc = tree_link_copy(oldfd, p->stagefd, err);
		close(oldfd);
		if (rc < 0)
			return -1;
	}
	return stage_root_like(p->stagefd, p->root, err);
}

/* Extract the archive into the staging, checked whole, and sync it. */
static int stage_archive(struct import_plan *p, int in_fd, struct ws_import_result *res,
			 struct sk_err *err)
{
	struct extract_limits lim;
	/* The guard bounds what it buffers; the extractor applies the exact
	 * limit to cleaned names, so leave room for "./" and trailing slashes. */
	struct targuard_limits glim = { (size_t)p->c->cfg.max_path + 16, 1 << 20 };
	struct extract_stats es = { 0 };

	wsint_limits(&p->c->cfg, &lim);
	if (areader_open(&p->r, in_fd, &glim, err) < 0)
		return -1;
	if (extract_archive(p->r, p->stagefd, &lim, &p->prog, &es, err) < 0)
		return -1;
	progress_end(&p->prog, 1);
	res->entries = es.entries;
	res->bytes = es.bytes;
	res->codec = areader_codec(p->r);
	if (sig_interrupted())
		return sk_err_set(err, SK_EFAIL, "interrupted");
	/* Everything staged reaches the disk before the name can point at it. */
	if (syncfs(p->stagefd) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "sync '%s'", p->sn.newp);
	fault_point("import-staged");
	return 0;
}

/* A plain import stops the bot only now, for the swap. */
static int stop_for_swap(struct import_plan *p, struct sk_err *err)
{
	if (!p->merge && !p->offline && wsint_quiesce(p->c, &p->jr, err) < 0)
		return -1;
	fault_point("import-stopped");
	return 0;
}

static int set_step(struct import_plan *p, const char *step, struct sk_err *err)
{
	snprintf(p->jr.step, sizeof(p->jr.step), "%s", step);
	return idx_journal_update(p->c->ix, &p->jr, err);
}

/*
 * The staged tree becomes the workspace: its identity goes to the journal
 * first, so that a repair can tell which side of the swap a crash fell on.
 */
static int swap(struct import_plan *p, struct sk_err *err)
{
	int rc;

	p->jr.ino = (int64_t)p->st.st_ino;
	p->jr.dev = p->offline ? 0 : (int64_t)p->st.st_dev;
	if (set_step(p, "swap", err) < 0)
		return -1;
	rc = swap_in(&p->sn, p->root, p->had_old, err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		log_info("the file system will not rename %s: rolling forward", p->c->be->where);
		if (roll_forward(p->c, &p->jr, &p->sn, err) < 0)
			return -1;
	}
	p->swapped = 1;
	fault_point("import-swapped");
	return set_step(p, "cleanup", err);
}

/*
 * Clear away the staging or the old tree, whichever way the import went.
 * WSINT_KEEP_ROW when a repair must still finish the work.
 */
static enum wsint_row import_settle(struct import_plan *p)
{
	struct sk_err cerr = SK_ERR_INIT;

	progress_end(&p->prog, 0);
	areader_free(p->r);
	p->r = NULL;
	if (p->stagefd >= 0)
		close(p->stagefd);
	p->stagefd = -1;
	if (!p->jr.id)
		return WSINT_END_ROW;
	if (strncmp(p->jr.step, "rf-", 3) == 0) {
		/* Only forward from here, and only by the repair. */
		log_error("bot '%s' has only part of its new workspace in place; the next "
			  "command on the bot finishes the import",
			  p->c->bot);
		return WSINT_KEEP_ROW;
	}
	if (settle(&p->sn, p->root, p->swapped, &cerr) < 0) {
		log_warn("%s", cerr.msg);
		return WSINT_KEEP_ROW; /* the next repair tries again */
	}
	return WSINT_END_ROW;
}

int wsint_import_locked(struct wsint_ctx *c, int in_fd, int merge, int show_progress,
			uint64_t in_size, struct ws_import_result *res, struct sk_err *err)
{
	struct import_plan p = { .c = c, .merge = merge, .stagefd = -1 };
	enum wsint_row keep;
	int ret = -1;

	if (import_prepare(&p, show_progress, in_size, err) < 0)
		goto out;
	if (wsint_begin(c, &p.jr, "import", "stage", p.sn.newp, err) < 0)
		goto out;
	if (stop_before_staging(&p, err) < 0 || make_stage(&p, err) < 0 ||
	    seed_stage(&p, err) < 0 || stage_archive(&p, in_fd, res, err) < 0)
		goto out;
	if (stop_for_swap(&p, err) < 0 || swap(&p, err) < 0)
		goto out;
	ret = 0;
out:
	keep = import_settle(&p);
	return wsint_resume(c, &p.jr, ret, keep, err);
}

static void log_imported(const struct ws_import_result *res, double t0)
{
	char b[32];

	log_info("imported bot '%s': %llu entries, %s (%s) in %.1f s", res->bot,
		 (unsigned long long)res->entries, log_bytes(res->bytes, b, sizeof(b)),
		 codec_name(res->codec), log_now() - t0);
}

/* stdin or -i, refused when it is a terminal; its size when it has one. */
static int open_input(const struct ws_opts *o, uint64_t *size, struct sk_err *err)
{
	struct stat st;
	int fd = STDIN_FILENO;

	if (!o->input && isatty(STDIN_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to read an archive from a terminal (use -i FILE or a "
				  "pipe)");
	if (o->input) {
		fd = open(o->input, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return sk_err_sys(err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
					  "cannot open '%s'", o->input);
	}
	*size = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		*size = (uint64_t)st.st_size;
	return fd;
}

int ws_import(const struct ws_opts *o, struct ws_import_result *res, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	uint64_t in_size = 0;
	int in_fd, ret = -1;
	double t0 = log_now();

	memset(res, 0, sizeof(*res));
	in_fd = open_input(o, &in_size, err);
	if (in_fd < 0)
		return -1;
	if (wsint_open(&c, o, ws_repairs, err) < 0)
		goto out;
	snprintf(res->bot, sizeof(res->bot), "%s", c->bot);
	ret = wsint_import_locked(c, in_fd, o->merge, o->progress, in_size, res, err);
	if (ret == 0)
		log_imported(res, t0);
out:
	wsint_close(c);
	if (ret < 0)
		wsint_fail(err, "import", o->bot);
	if (in_fd != STDIN_FILENO)
		close(in_fd);
	return ret;
}
