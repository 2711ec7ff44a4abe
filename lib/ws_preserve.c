/*
 * ws_preserve.c: ws-preserve: keep the workspace as a numbered backup
 * generation, restore one (or a legacy bind-mount directory), check for
 * data waiting to be restored, prune old generations, and list backups and
 * bot ids as data for cmd/ to print.
 */
#include "ws.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "sig.h"
#include "ws_int.h"
#include "banned.h"

static int backup_path(const struct wsint_ctx *c, int64_t gen, enum codec codec, char *out,
		       size_t size)
{
	return (size_t)snprintf(out, size, "%s/gen-%06lld%s", c->backups, (long long)gen,
				codec_suffix(codec)) >= size
		   ? -1
		   : 0;
}

static int known_file(const struct backup_row *rows, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(rows[i].file, name) == 0)
			return 1;
	return 0;
}

/* Remove files in the bot's backup directory that the index does not name:
 * a temp file of a crashed preserve, or a generation whose row was pruned. */
static int sweep_orphans(struct wsint_ctx *c, struct sk_err *err)
{
	struct backup_row *rows = NULL;
	struct dirent *de;
	size_t n;
	DIR *d;
	int ret = 0;

	d = opendir(c->backups);
	if (!d)
		return errno == ENOENT
			   ? 0
			   : sk_err_sys(err, SK_EFAIL, errno, "cannot read '%s'", c->backups);
	if (idx_backup_list(c->ix, c->bot, &rows, &n, err) < 0) {
		closedir(d);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char full[PATH_MAX];

		if (strncmp(de->d_name, "gen-", 4) != 0 && strncmp(de->d_name, ".gen-", 5) != 0)
			continue;
		if (fs_pathf(full, sizeof(full), err, "%s/%s", c->backups, de->d_name) < 0)
			continue;
		if (known_file(rows, n, de->d_name))
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

/* The policy in force: the command line's, else the config's keep keys. */
static void policy_of(const struct wsint_ctx *c, const struct ws_opts *o, struct retain_policy *p)
{
	const struct sk_config *cfg = &c->cfg;

	if (o->keep_set) {
		*p = o->keep;
		return;
	}
	memset(p, 0, sizeof(*p));
	p->last = cfg->keep;
	p->hourly = cfg->keep_hourly;
	p->daily = cfg->keep_daily;
	p->weekly = cfg->keep_weekly;
	p->monthly = cfg->keep_monthly;
	p->yearly = cfg->keep_yearly;
	p->within = cfg->keep_within;
}

/* The policy's verdict on each of rows: why[i], 0 for a generation that goes. */
static int decide(const struct wsint_ctx *c, const struct ws_opts *o, const struct backup_row *rows,
		  size_t n, unsigned *why, struct sk_err *err)
{
	struct retain_policy pol;
	struct retain_gen *g;
	size_t i;
	int rc;

	policy_of(c, o, &pol);
	g = calloc(n ? n : 1, sizeof(*g));
	if (!g)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (i = 0; i < n; i++) {
		g[i].generation = rows[i].generation;
		g[i].created = rows[i].created;
		g[i].pre_restore = strcmp(rows[i].tag, WS_TAG_PRE_RESTORE) == 0;
		g[i].verified_ok = rows[i].verified && rows[i].verify_ok;
	}
	rc = retain_decide(&pol, g, n, why);
	free(g);
	return rc < 0 ? sk_err_set(err, SK_EFAIL, "out of memory") : 0;
}

/*
 * The row goes before the file: a crash in between leaves an orphan file
 * the next sweep removes, never a row that names a missing file.
 */
static int remove_generation(struct wsint_ctx *c, const struct backup_row *r, struct sk_err *err)
{
	char file[PATH_MAX];

	if (wsint_backup_file(&c->cfg, r, file, sizeof(file), err) < 0 ||
	    idx_backup_delete(c->ix, c->bot, r->generation, err) < 0)
		return -1;
	if (unlink(file) < 0 && errno != ENOENT)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", file);
	log_info("removed generation %lld of bot '%s'", (long long)r->generation, c->bot);
	return 0;
}

static int prune_locked(struct wsint_ctx *c, const struct ws_opts *o, ws_pruned_fn done, void *arg,
			struct sk_err *err)
{
	struct backup_row *rows = NULL;
	unsigned *why = NULL;
	size_t n, i, removed = 0;
	int ret = -1;

	if (idx_backup_list(c->ix, c->bot, &rows, &n, err) < 0)
		return -1;
	why = calloc(n ? n : 1, sizeof(*why));
	if (!why) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	if (decide(c, o, rows, n, why, err) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		struct ws_pruned v = { .generation = rows[i].generation,
				       .created = rows[i].created,
				       .why = why[i] };

		if (!why[i] && !o->dry_run) {
			if (remove_generation(c, &rows[i], err) < 0)
				goto out;
			removed++;
		}
		snprintf(v.bot, sizeof(v.bot), "%s", c->bot);
		snprintf(v.tag, sizeof(v.tag), "%s", rows[i].tag);
		if (done)
			done(arg, &v);
	}
	ret = removed ? fs_fsync_path(c->backups, err) : 0;
out:
	free(why);
	free(rows);
	return ret;
}

/* A preserve in progress: what its steps share. */
struct preserve_plan {
	struct wsint_ctx *c;
	struct wsint_codec cs;
	struct journal_row jr;
	int rootfd;	    /* the workspace, read-only */
	int fd;		    /* the archive being written, at tmp */
	char tmp[PATH_MAX]; /* "" once renamed to b->file */
	struct wsint_export_res res;
	struct ws_backup *b; /* the new generation; b->file its final name */
	int64_t at;	     /* its creation time (--time); 0: now */
	const char *tag;     /* "" or WS_TAG_PRE_RESTORE */
};

/*
 * Everything that can fail before the bot is stopped: the codec, the
 * backup directory (swept of orphans), the bot itself, an online
 * workspace, the generation's number and its temporary file.
 */
static int preserve_prepare(struct preserve_plan *p, const struct ws_opts *o, struct sk_err *err)
{
	struct wsint_ctx *c = p->c;

	if (wsint_resolve_codec(c, o, &p->cs, err) < 0 || sweep_orphans(c, err) < 0)
		return -1;
	if (c->be->ops->probe(c->be, err) < 0)
		return -1;
	if (!c->be->offline && (p->rootfd = wsint_open_root(c, err)) < 0)
		return -1;
	if (fs_mkdir_p(c->backups, 0700, err) < 0)
		return -1;
	if (idx_backup_next(c->ix, c->bot, &p->b->generation, err) < 0)
		return -1;
	if (backup_path(c, p->b->generation, p->cs.codec, p->b->file, sizeof(p->b->file)) < 0)
		return sk_err_set(err, SK_EFAIL, "backup path too long");
	p->fd = fs_tmpfile_near(p->b->file, p->tmp, sizeof(p->tmp), err);
	return p->fd < 0 ? -1 : 0;
}

/* With the bot stopped: reach an offline workspace and archive it. */
static int write_generation(struct preserve_plan *p, int show_progress, struct sk_err *err)
{
	struct wsint_ctx *c = p->c;

	if (c->be->offline) {
		if ((p->rootfd = wsint_open_root(c, err)) < 0)
			return -1;
		fault_point("preserve-mounted");
	}
	if (wsint_write_archive(&c->cfg, p->rootfd, p->fd, &p->cs, show_progress, &p->res, err) < 0)
		return -1;
	close(p->rootfd);
	p->rootfd = -1;
	return 0;
}

/* The archive takes its final name, and the index its row. */
static int record_generation(struct preserve_plan *p, struct sk_err *err)
{
	struct ws_backup *b = p->b;
	struct backup_row row = { 0 };

	if (fs_commit_tmp(p->fd, p->tmp, b->file, err) < 0)
		return -1;
	p->tmp[0] = '\0';
	fault_point("preserve-renamed");
	if (hash_file(b->file, b->sha256, &b->size, err) < 0)
		return -1;
	snprintf(b->bot, sizeof(b->bot), "%s", p->c->bot);
	snprintf(b->codec, sizeof(b->codec), "%s", codec_name(p->cs.codec));
	b->entries = p->res.ts.entries;
	b->created = p->at ? p->at : (int64_t)time(NULL);

	snprintf(row.bot, sizeof(row.bot), "%s", b->bot);
	row.generation = b->generation;
	snprintf(row.file, sizeof(row.file), "%s", strrchr(b->file, '/') + 1);
	snprintf(row.codec, sizeof(row.codec), "%s", b->codec);
	row.size = b->size;
	snprintf(row.sha256, sizeof(row.sha256), "%s", b->sha256);
	row.entries = b->entries;
	row.created = b->created;
	snprintf(row.tag, sizeof(row.tag), "%s", p->tag ? p->tag : "");
	snprintf(b->tag, sizeof(b->tag), "%s", row.tag);
	return idx_backup_add(p->c->ix, &row, err);
}

int wsint_preserve_locked(struct wsint_ctx *c, const struct ws_opts *o, const char *tag,
			  struct ws_backup *b, struct sk_err *err)
{
	struct preserve_plan p = { .c = c,
				   .rootfd = -1,
				   .fd = -1,
				   .b = b,
				   .at = o->at,
				   .tag = tag };
	int ret = -1;

	memset(b, 0, sizeof(*b));
	if (preserve_prepare(&p, o, err) < 0)
		goto out;
	if (wsint_begin(c, &p.jr, "preserve", "write", p.tmp, err) < 0 ||
	    wsint_quiesce(c, &p.jr, err) < 0)
		goto out;
	fault_point("preserve-stopped");
	if (write_generation(&p, o->progress, err) < 0)
		goto out;
	/* The bot need not wait for the hash and the bookkeeping. */
	if (wsint_release(c, &p.jr, err) < 0)
		goto out;
	/* A copy before a restore is kept only of a workspace with something in it. */
	if (*tag && p.res.ts.entries == 0) {
		b->generation = 0;
		ret = 0;
		goto out;
	}
	ret = record_generation(&p, err);
out:
	if (p.rootfd >= 0)
		close(p.rootfd);
	if (p.tmp[0])
		unlink(p.tmp);
	ret = wsint_resume(c, &p.jr, ret, WSINT_END_ROW, err);
	if (p.fd >= 0)
		close(p.fd);
	return ret;
}

int ws_preserve(const struct ws_opts *o, struct ws_backup *b, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	int ret = -1;

	memset(b, 0, sizeof(*b));
	if (wsint_open(&c, o, ws_repairs, err) < 0)
		return wsint_fail(err, "preserve", o->bot);
	if (wsint_preserve_locked(c, o, "", b, err) == 0 &&
	    prune_locked(c, o, NULL, NULL, err) == 0) {
		log_info("preserved bot '%s' as generation %lld (%llu entries)", c->bot,
			 (long long)b->generation, (unsigned long long)b->entries);
		ret = 0;
	}
	wsint_close(c);
	return ret < 0 ? wsint_fail(err, "preserve", o->bot) : 0;
}

int ws_prune(const struct ws_opts *o, ws_pruned_fn done, void *arg, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	int ret;

	if (wsint_open(&c, o, ws_repairs, err) < 0)
		return wsint_fail(err, "prune", o->bot);
	ret = prune_locked(c, o, done, arg, err);
	if (ret == 0 && !o->dry_run)
		ret = sweep_orphans(c, err);
	wsint_close(c);
	return ret < 0 ? wsint_fail(err, "prune", o->bot) : 0;
}

/*
 * Does the bot have anything to back up: a workspace (a container, for an
 * offline backend), or a legacy directory? A backend that cannot be asked
 * counts as yes: the caller only wants to tell "no such bot".
 */
static int bot_exists(struct wsint_ctx *c)
{
	struct sk_err e = SK_ERR_INIT;
	char path[PATH_MAX];
	struct stat st;

	if (wsint_legacy_dir(c, path, sizeof(path)))
		return 1;
	if (c->be->offline)
		return c->be->ops->probe(c->be, &e) == 0 || e.code != SK_ENOENT;
	if (config_expand(c->cfg.ws_path, c->bot, path, sizeof(path), &e) < 0)
		return 1;
	return stat(path, &st) == 0 || errno != ENOENT;
}

/* A backup row as the caller sees it: with the archive's absolute name. */
static void backup_of(const struct sk_config *cfg, const struct backup_row *r, struct ws_backup *b)
{
	struct sk_err e = SK_ERR_INIT;

	snprintf(b->bot, sizeof(b->bot), "%s", r->bot);
	b->generation = r->generation;
	if (wsint_backup_file(cfg, r, b->file, sizeof(b->file), &e) < 0)
		b->file[0] = '\0';
	snprintf(b->codec, sizeof(b->codec), "%s", r->codec);
	b->size = r->size;
	snprintf(b->sha256, sizeof(b->sha256), "%s", r->sha256);
	b->entries = r->entries;
	b->created = r->created;
	b->restored = r->restored;
	b->verified = r->verified;
	b->verify_ok = r->verify_ok;
	snprintf(b->tag, sizeof(b->tag), "%s", r->tag);
}

int ws_list(const struct ws_opts *o, struct ws_backup **list, size_t *n, struct sk_err *err)
{
	struct wsint_ctx *c = NULL;
	struct backup_row *rows = NULL;
	size_t i;
	int ret = -1;

	*list = NULL;
	*n = 0;
	if (wsint_open(&c, o, NULL, err) < 0)
		return -1;
	if (idx_backup_list(c->ix, o->bot, &rows, n, err) < 0)
		goto out;
	if (o->bot && *n == 0 && !bot_exists(c)) {
		sk_err_set(err, SK_ENOENT,
			   "bot '%s' has no backup, no workspace and no legacy directory", c->bot);
		goto out;
	}
	*list = calloc(*n ? *n : 1, sizeof(**list));
	if (!*list) {
		*n = 0;
		sk_err_sys(err, SK_EFAIL, ENOMEM, "cannot list backups");
		goto out;
	}
	for (i = 0; i < *n; i++)
		backup_of(&c->cfg, &rows[i], &(*list)[i]);
	ret = 0;
out:
	free(rows);
	wsint_close(c);
	return ret;
}

static void ids_add(struct ws_ids *l, size_t *cap, const char *id)
{
	if (l->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **v = realloc(l->v, ncap * sizeof(*v));

		if (!v)
			return;
		l->v = v;
		*cap = ncap;
	}
	l->v[l->n] = strdup(id);
	if (l->v[l->n])
		l->n++;
}

struct idlist {
	struct ws_ids *ids;
	size_t cap;
};

static void ids_add_cb(void *arg, const char *id)
{
	struct idlist *l = arg;

	ids_add(l->ids, &l->cap, id);
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
			ids_add_cb(l, de->d_name);
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort, and keep each id once. */
static void ids_unique(struct ws_ids *ids)
{
	size_t i, k = 0;

	if (ids->n)
		qsort(ids->v, ids->n, sizeof(*ids->v), cmp_str);
	for (i = 0; i < ids->n; i++) {
		if (k && strcmp(ids->v[i], ids->v[k - 1]) == 0)
			free(ids->v[i]);
		else
			ids->v[k++] = ids->v[i];
	}
	ids->n = k;
}

/* Workspaces: only when the template's last component is exactly %s. */
static void ids_from_workspaces(struct idlist *l, const char *ws_path)
{
	const char *tail = strrchr(ws_path, '/');
	char dir[PATH_MAX];

	if (!tail || strcmp(tail, "/%s") != 0 || strstr(ws_path, "%s/"))
		return;
	snprintf(dir, sizeof(dir), "%.*s", (int)(tail - ws_path), ws_path);
	ids_from_dir(l, dir);
}

/* Every bot with generations in the index. */
static int ids_from_index(struct idlist *l, struct wsint_ctx *c, struct sk_err *err)
{
	struct backup_row *rows = NULL;
	size_t n, i;

	if (idx_backup_list(c->ix, NULL, &rows, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++)
		ids_add_cb(l, rows[i].bot);
	free(rows);
	return 0;
}

int ws_list_ids(const struct ws_opts *o, struct ws_ids *ids, struct sk_err *err)
{
	struct idlist l = { .ids = ids };
	struct wsint_ctx *c = NULL;

	ids->v = NULL;
	ids->n = 0;
	if (wsint_open(&c, o, NULL, err) < 0)
		return -1;
	ids_from_workspaces(&l, c->cfg.ws_path);
	ids_from_dir(&l, c->cfg.legacy_dir);
	/* Containers: a containerd that cannot be asked just adds none. */
	if (backend_bot_ids(&c->cfg, ids_add_cb, &l, err) < 0) {
		log_info("%s", err->msg);
		sk_err_clear(err);
	}
	ids_from_index(&l, c, err);
	ids_unique(ids);
	wsint_close(c);
	return 0;
}

/* The workspaces of the dir backend, which --all can find only as <dir>/%s. */
static int bots_of_dir(struct idlist *l, const char *ws_path, struct sk_err *err)
{
	const char *tail = strrchr(ws_path, '/');

	if (!tail || strcmp(tail, "/%s") != 0 || strstr(ws_path, "%s/"))
		return sk_err_set(err, SK_EUSAGE,
				  "--all finds the bots of the dir backend only when [workspace] "
				  "path ends in /%%s (it is '%s')",
				  ws_path);
	ids_from_workspaces(l, ws_path);
	return 0;
}

int ws_all_bots(const struct ws_opts *o, int which, struct ws_ids *ids, struct sk_err *err)
{
	struct idlist l = { .ids = ids };
	struct wsint_ctx *c = NULL;
	int ret = 0;

	ids->v = NULL;
	ids->n = 0;
	if (wsint_open(&c, o, NULL, err) < 0)
		return -1;
	if (which & WS_BOTS_BACKEND) {
		if (strcmp(c->cfg.backend, "dir") == 0)
			ret = bots_of_dir(&l, c->cfg.ws_path, err);
		else
			ret = backend_bot_ids(&c->cfg, ids_add_cb, &l, err);
	}
	if (ret == 0 && (which & WS_BOTS_INDEX))
		ret = ids_from_index(&l, c, err);
	ids_unique(ids);
	wsint_close(c);
	if (ret < 0)
		ws_ids_free(ids);
	return ret;
}

int ws_ids_has(const struct ws_ids *ids, const char *id)
{
	const char *key = id;

	return ids->n && bsearch(&key, ids->v, ids->n, sizeof(*ids->v), cmp_str) != NULL;
}

void ws_ids_free(struct ws_ids *ids)
{
	size_t i;

	for (i = 0; i < ids->n; i++)
		free(ids->v[i]);
	free(ids->v);
	ids->v = NULL;
	ids->n = 0;
}
