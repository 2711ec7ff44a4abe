/*
 * ws_int.c: what every ws operation shares: opening the bot (config, lock,
 * index, backend), the repair of whatever an earlier command left in the
 * journal (each kind's repair dispatched from the table handed in), and rule 3 (stop,
 * always start again, end the row) written once.
 */
#include "ws_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "banned.h"

int wsint_fail(struct sk_err *err, const char *op, const char *bot)
{
	if (err->code == SK_EUSAGE || !bot)
		return -1;
	return sk_err_wrap(err, "%s '%s'", op, bot);
}

/* A killed export or preserve leaves at most its temporary file. */
static int repair_tmpfile(struct wsint_ctx *c, struct journal_row *r, struct sk_err *err)
{
	(void)c;
	if (!r->staging[0])
		return 0;
	log_warn("removing '%s' left by an interrupted %s (pid %ld)", r->staging, r->kind, r->pid);
	if (unlink(r->staging) < 0 && errno != ENOENT)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", r->staging);
	return 0;
}

static int repair_row(struct wsint_ctx *c, const struct wsint_repair *repairs,
		      struct journal_row *r, struct sk_err *err)
{
	size_t i;

	for (i = 0; repairs[i].kind; i++)
		if (strcmp(r->kind, repairs[i].kind) == 0)
			return repairs[i].repair(c, r, err);
	return repair_tmpfile(c, r, err);
}

#define REPAIR_MAX 8

/*
 * Finish or undo what earlier commands on the bot left in the journal, oldest
 * first; then start the bot if one of them had stopped it, and end the row.
 */
static int repair(struct wsint_ctx *c, const struct wsint_repair *repairs, struct sk_err *err)
{
	struct journal_row *rows;
	int n, i, ret = -1;

	if (c->be->ops->sweep(c->be, err) < 0)
		return sk_err_wrap(err, "repair bot '%s'", c->bot);
	/* A row holds three paths: eight of them do not belong on the stack. */
	rows = calloc(REPAIR_MAX, sizeof(*rows));
	if (!rows)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "repair bot '%s'", c->bot);
	if (idx_journal_find(c->ix, c->object, rows, REPAIR_MAX, &n, err) < 0) {
		free(rows);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct journal_row *r = &rows[i];

		if (repair_row(c, repairs, r, err) < 0)
			goto out;
		if (r->stopped) {
			log_warn("starting bot '%s' again after an interrupted %s (pid %ld)",
				 c->bot, r->kind, r->pid);
			if (c->be->ops->start(c->be, err) < 0)
				goto out;
		}
		if (idx_journal_end(c->ix, r->id, err) < 0)
			goto out;
	}
	ret = 0;
out:
	free(rows);
	return ret < 0 ? sk_err_wrap(err, "repair bot '%s'", c->bot) : 0;
}

void wsint_close(struct wsint_ctx *c)
{
	if (!c)
		return;
	backend_free(c->be);
	lock_release(c->lk);
	idx_close(c->ix);
	free(c);
}

/* The state directory's layout: state, locks and tmp. */
static int make_state(struct wsint_ctx *c, struct sk_err *err)
{
	char dir[PATH_MAX];

	if (fs_pathf(c->locks, sizeof(c->locks), err, "%s/locks", c->cfg.state_dir) < 0 ||
	    fs_pathf(dir, sizeof(dir), err, "%s/tmp", c->cfg.state_dir) < 0)
		return -1;
	if (fs_mkdir_p(c->cfg.state_dir, 0755, err) < 0 || fs_mkdir_p(c->locks, 0700, err) < 0)
		return -1;
	return fs_mkdir_p(dir, 0700, err);
}

int wsint_open(struct wsint_ctx **out, const struct ws_opts *o, const struct wsint_repair *repairs,
	       struct sk_err *err)
{
	struct wsint_ctx *c;

	*out = NULL;
	if (o->bot && config_check_id("bot", o->bot, err) < 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "cannot allocate");
	c->bot = o->bot;
	if (config_load(&c->cfg, o->config_path, err) < 0 || make_state(c, err) < 0)
		goto fail;
	if (idx_open(&c->ix, c->cfg.state_dir, err) < 0)
		goto fail;
	if (!o->bot)
		goto done;
	snprintf(c->object, sizeof(c->object), "bot.%s", o->bot);
	if (fs_pathf(c->backups, sizeof(c->backups), err, "%s/backups/%s", c->cfg.state_dir,
		     o->bot) < 0)
		goto fail;
	if (backend_open(&c->be, &c->cfg, o->bot, err) < 0)
		goto fail;
	if (repairs) {
		if (lock_acquire(&c->lk, c->locks, "bot", o->bot, o->wait_s, err) < 0)
			goto fail;
		if (repair(c, repairs, err) < 0)
			goto fail;
	}
done:
	*out = c;
	return 0;
fail:
	wsint_close(c);
	return -1;
}

int wsint_begin(struct wsint_ctx *c, struct journal_row *jr, const char *kind, const char *step,
		const char *path, struct sk_err *err)
{
	snprintf(jr->object, sizeof(jr->object), "%s", c->object);
	snprintf(jr->kind, sizeof(jr->kind), "%s", kind);
	snprintf(jr->step, sizeof(jr->step), "%s", step);
	snprintf(jr->staging, sizeof(jr->staging), "%s", path);
	return idx_journal_begin(c->ix, jr, err);
}

/*
 * Only a workload that runs is recorded as stopped: a container without a
 * running task is not started afterwards.
 */
int wsint_quiesce(struct wsint_ctx *c, struct journal_row *jr, struct sk_err *err)
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

/* Start the bot again if this operation stopped it. On failure the journal
 * row keeps saying "stopped", so that the next command tries again. */
static int start_bot(struct wsint_ctx *c, struct journal_row *jr, struct sk_err *err)
{
	if (!jr->stopped)
		return 0;
	if (c->be->ops->start(c->be, err) < 0)
		return sk_err_wrap(err, "start bot '%s'", c->bot);
	jr->stopped = 0;
	return idx_journal_update(c->ix, jr, err);
}

int wsint_release(struct wsint_ctx *c, struct journal_row *jr, struct sk_err *err)
{
	if (c->be->ops->detach(c->be, err) < 0)
		return -1;
	return start_bot(c, jr, err);
}

/* A failure after the operation's own: the error if there was none yet,
 * else a line on stderr. */
static void late_failure(int *ret, struct sk_err *err, const struct sk_err *late)
{
	if (*ret == 0)
		*err = *late;
	else
		log_error("%s", late->msg);
	*ret = -1;
}

int wsint_resume(struct wsint_ctx *c, struct journal_row *jr, int ret, enum wsint_row keep,
		 struct sk_err *err)
{
	struct sk_err lerr = SK_ERR_INIT;

	if (!jr->id)
		return ret;
	/* The workspace is given up before the bot may run again; a failure
	 * to do so does not keep the bot from being started. */
	if (c->be->ops->detach(c->be, &lerr) < 0) {
		late_failure(&ret, err, &lerr);
		sk_err_clear(&lerr);
	}
	if (start_bot(c, jr, &lerr) < 0) {
		late_failure(&ret, err, &lerr);
		return ret; /* keep the row: the next command retries */
	}
	if (keep == WSINT_END_ROW)
		idx_journal_end(c->ix, jr->id, &lerr);
	return ret;
}

int wsint_open_root(struct wsint_ctx *c, struct sk_err *err)
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

void wsint_limits(const struct sk_config *cfg, struct extract_limits *lim)
{
	lim->max_entries = cfg->max_entries;
	lim->max_bytes = cfg->max_bytes;
	lim->max_path = cfg->max_path;
	lim->max_depth = cfg->max_depth;
}

int wsint_resolve_codec(const struct wsint_ctx *c, const struct ws_opts *o, struct wsint_codec *cs,
			struct sk_err *err)
{
	int max;

	cs->codec = o->co.codec_set ? o->co.codec : c->cfg.codec;
	cs->level = o->co.level_set ? o->co.level : c->cfg.level;
	cs->threads = o->co.threads_set ? o->co.threads : c->cfg.threads;
	if (cs->codec == CODEC_NONE)
		return 0; /* no level to check */
	max = cs->codec == CODEC_GZIP ? 9 : 19;
	if (cs->level > max)
		return sk_err_set(err, SK_EUSAGE, "level %d is out of range for %s (1-%d)",
				  cs->level, codec_name(cs->codec), max);
	return 0;
}

int wsint_backup_file(const struct sk_config *cfg, const struct backup_row *r, char *out,
		      size_t size, struct sk_err *err)
{
	return fs_pathf(out, size, err, "%s/backups/%s/%s", cfg->state_dir, r->bot, r->file);
}

int wsint_open_generation(const struct sk_config *cfg, const struct backup_row *row,
			  struct progress *prog, struct sk_err *err)
{
	char file[PATH_MAX], sum[HASH_HEX_LEN + 1];
	uint64_t size = 0;
	int fd;

	if (wsint_backup_file(cfg, row, file, sizeof(file), err) < 0)
		return -1;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? sk_err_set(err, SK_EDAMAGED,
						    "generation %lld is missing: '%s' is gone",
						    (long long)row->generation, file)
				       : sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", file);
	if (hash_open_file(fd, file, sum, &size, prog, err) < 0)
		goto fail;
	if (strcmp(sum, row->sha256) != 0 || size != row->size) {
		sk_err_set(err, SK_EDAMAGED,
			   "generation %lld is damaged: '%s' has sha256 %s, expected %s",
			   (long long)row->generation, file, sum, row->sha256);
		goto fail;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot rewind '%s'", file);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int wsint_legacy_dir(const struct wsint_ctx *c, char *out, size_t size)
{
	struct stat s;

	if ((size_t)snprintf(out, size, "%s/%s", c->cfg.legacy_dir, c->bot) >= size)
		return 0;
	return stat(out, &s) == 0 && S_ISDIR(s.st_mode);
}
