/*
 * snap.c: what the fcsnap commands share (snapint.h): opening the index and
 * locks, the manifest, artifact checks, and the repair of what a killed
 * command left in the journal; plus fcsnap-list, -delete and -verify.
 */
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clone.h"
#include "config.h"
#include "fcapi.h"
#include "fsutil.h"
#include "hash.h"
#include "index.h"
#include "lock.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "snapint.h"
#include "banned.h"

#define MAX_REPAIR 32

/* Copy a string, cutting it to fit. */
void snapint_set_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void snapint_close(struct sctx *c)
{
	idx_close(c->ix);
	c->ix = NULL;
}

int snapint_check_interrupt(struct sk_err *err)
{
	if (sig_interrupted())
		return sk_err_set(err, SK_EFAIL, "interrupted");
	return 0;
}

/* ---- repair: finish or undo what a killed fcsnap command left ---- */

/*
 * Resume a machine an interrupted create left paused. 0 when it is resumed
 * or gone (nothing left to resume), -1 when it may still be paused: then the
 * journal row must stay for the next command to try again.
 */
static int resume_socket(const char *sock, const char *machine)
{
	struct sk_err e = SK_ERR_INIT;
	struct fcapi *fc = NULL;
	char *body = fcjson_body_vm_state("Resumed");
	int ret = 0;

	if (body && fcapi_open(&fc, sock, &e) == 0 &&
	    fcapi_call(fc, "PATCH", "/vm", body, FCAPI_TIMEOUT_MS, NULL, &e) == 0) {
		log_warn("resumed machine '%s', which an interrupted fcsnap-create left paused",
			 machine);
	} else if (e.code == SK_EBUSY) {
		log_warn("machine '%s' was left paused but is gone now (%s)", machine, e.msg);
	} else {
		log_warn("cannot resume machine '%s' (the next command tries again): %s", machine,
			 body ? e.msg : "out of memory");
		ret = -1;
	}
	fcapi_close(fc);
	free(body);
	return ret;
}

void snapint_rmtree(const char *path)
{
	struct sk_err e = SK_ERR_INIT;

	if (path[0] && fs_rmtree(path, &e) < 0)
		log_warn("%s", e.msg);
}

/* The snapshot id from a staging path ".../snap.<id>". */
static const char *staged_id(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "snap.", 5) ? NULL : b + 5;
}

static void repair_create(struct sctx *c, const struct journal_row *r, const char *machine)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row row;
	struct lock *slk = NULL;
	const char *sid = staged_id(r->path);
	char final[PATH_MAX];

	if (r->stopped && resume_socket(r->path2, machine) < 0)
		return;
	if (!sid || lock_acquire(&slk, c->locks, "snapshot", sid, 0, &e) < 0)
		return;
	/* Renamed into place but never recorded: not a snapshot. */
	if (!strcmp(r->step, "committing") &&
	    idx_snap_get(c->ix, sid, &row, NULL, &e) < 0 && e.code == SK_ENOENT &&
	    fs_pathf(final, sizeof(final), &e, "%s/%s", c->snaps, sid) == 0)
		snapint_rmtree(final);
	snapint_rmtree(r->path);
	snapint_rmtree(r->path3);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
	lock_release(slk);
}

static void repair_restore(struct sctx *c, const struct journal_row *r, const char *machine)
{
	struct sk_err e = SK_ERR_INIT;
	struct machine_row m;

	if (idx_machine_get(c->ix, machine, &m, &e) == 0 && m.pid == r->child) {
		/* It was recorded: the restore had finished. */
		idx_journal_end(c->ix, r->id, &e);
		return;
	}
	if (r->child > 0 && proc_alive((pid_t)r->child, r->child_start)) {
		log_warn("stopping Firecracker pid %ld, started by an interrupted fcsnap-restore",
			 r->child);
		proc_kill_wait((pid_t)r->child, r->child_start);
	}
	snapint_rmtree(r->path);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
}

static void repair_delete(struct sctx *c, const struct journal_row *r, const char *sid)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row row;

	/* Only once the row is gone is the directory garbage. */
	if (idx_snap_get(c->ix, sid, &row, NULL, &e) < 0 && e.code == SK_ENOENT)
		snapint_rmtree(r->path);
	sk_err_clear(&e);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
}

/*
 * A journal row whose object lock is free belongs to a process that died;
 * repair it under that lock. Rows whose lock is held are someone's work in
 * progress and are left alone.
 */
static void repair_all(struct sctx *c)
{
	struct journal_row *rows;
	struct sk_err e = SK_ERR_INIT;
	int n = 0, i;

	rows = calloc(MAX_REPAIR, sizeof(*rows));
	if (!rows || idx_journal_find_kind(c->ix, "fcsnap-", rows, MAX_REPAIR, &n, &e) < 0) {
		free(rows);
		return;
	}
	for (i = 0; i < n; i++) {
		const struct journal_row *r = &rows[i];
		struct journal_row again[4];
		struct lock *lk = NULL;
		char kind[16];
		const char *id = strchr(r->object, '.');
		int k, m = 0, found = 0;

		if (!id || (size_t)(id - r->object) >= sizeof(kind))
			continue;
		memcpy(kind, r->object, (size_t)(id - r->object));
		kind[id - r->object] = '\0';
		id++;
		if (lock_acquire(&lk, c->locks, kind, id, 0, &e) < 0) {
			sk_err_clear(&e);
			continue;
		}
		/* Between the read and the lock its owner may have finished. */
		if (idx_journal_find(c->ix, r->object, again, 4, &m, &e) == 0)
			for (k = 0; k < m; k++)
				found |= again[k].id == r->id;
		if (found) {
			if (!strcmp(r->kind, "fcsnap-create"))
				repair_create(c, r, id);
			else if (!strcmp(r->kind, "fcsnap-restore"))
				repair_restore(c, r, id);
			else if (!strcmp(r->kind, "fcsnap-delete"))
				repair_delete(c, r, id);
			else if (!strcmp(r->kind, "fcsnap-import"))
				sxfer_repair_import(c, r, id);
		}
		lock_release(lk);
	}
	free(rows);
}

/*
 * Load the config, make the state directories, open the index and repair
 * what killed commands left. A read-only open (for completions, which must
 * change nothing) skips the directories and the repair.
 */
static int ctx_open_mode(struct sctx *c, const char *config_path, int readonly,
			 struct sk_err *err)
{
	const char *st = c->cfg.state_dir;

	if (config_load(&c->cfg, config_path, err) < 0)
		return -1;
	if (readonly)
		return idx_open(&c->ix, st, err);
	if (clone_mode_parse(c->cfg.fc_clone, &c->clone) < 0)
		return sk_err_set(err, SK_EUSAGE, "invalid clone mode '%s'", c->cfg.fc_clone);
	if (fs_pathf(c->locks, sizeof(c->locks), err, "%s/locks", st) < 0 ||
	    fs_pathf(c->snaps, sizeof(c->snaps), err, "%s/snapshots", st) < 0 ||
	    fs_pathf(c->machines, sizeof(c->machines), err, "%s/machines", st) < 0 ||
	    fs_pathf(c->tmp, sizeof(c->tmp), err, "%s/tmp", st) < 0)
		return -1;
	if (fs_mkdir_p(c->locks, 0700, err) < 0 || fs_mkdir_p(c->snaps, 0700, err) < 0 ||
	    fs_mkdir_p(c->machines, 0700, err) < 0 || fs_mkdir_p(c->tmp, 0700, err) < 0)
		return -1;
	if (idx_open(&c->ix, st, err) < 0)
		return -1;
	repair_all(c);
	return 0;
}

int snapint_open(struct sctx *c, const char *config_path, struct sk_err *err)
{
	return ctx_open_mode(c, config_path, 0, err);
}

/* ---- helpers shared by create and restore ---- */

/* Does path have a ".." component? */
int snapint_has_dotdot(const char *p)
{
	const char *s = p;

	while ((s = strstr(s, "..")) != NULL) {
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return 1;
		s += 2;
	}
	return 0;
}

/* First line of out, without the newline and a leading 'v'. */
static void first_word(char *out)
{
	char *nl = strpbrk(out, "\r\n");

	if (nl)
		*nl = '\0';
	if (out[0] == 'v')
		memmove(out, out + 1, strlen(out));
}

/*
 * What the configured binary says of itself: its version ("Firecracker
 * v1.16.1") and its snapshot format ("v10.0.0"). Either may come back "".
 */
void snapint_binary_versions(const struct sctx *c, char *ver, size_t vsize, char *fmt,
			    size_t fsize)
{
	char out[256];
	char *argv_v[] = { (char *)c->cfg.fc_binary, "--version", NULL };
	char *argv_s[] = { (char *)c->cfg.fc_binary, "--snapshot-version", NULL };
	struct sk_err e = SK_ERR_INIT;
	const char *p;

	ver[0] = fmt[0] = '\0';
	if (proc_capture(argv_v, out, sizeof(out), 10, &e) == 0) {
		first_word(out);
		p = strrchr(out, ' ');
		p = p ? p + 1 : out;
		snapint_set_str(ver, vsize, p[0] == 'v' ? p + 1 : p);
	}
	if (proc_capture(argv_s, out, sizeof(out), 10, &e) == 0) {
		first_word(out);
		snapint_set_str(fmt, fsize, out);
	}
}

int snapint_write_manifest(const char *dir, const struct manifest *m, struct sk_err *err)
{
	char final[PATH_MAX], tmp[PATH_MAX];
	char *text;
	int fd;

	if (fs_pathf(final, sizeof(final), err, "%s/manifest.json", dir) < 0)
		return -1;
	text = fcjson_manifest_dump(m, err);
	if (!text)
		return -1;
	fd = fs_tmpfile_near(final, tmp, sizeof(tmp), err);
	if (fd < 0) {
		free(text);
		return -1;
	}
	if (fchmod(fd, 0644) < 0 || fs_write_all(fd, text, strlen(text)) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "write '%s'", tmp);
		free(text);
		close(fd);
		unlink(tmp);
		return -1;
	}
	free(text);
	return fs_commit_tmp(fd, tmp, final, err);
}

int snapint_read_manifest(const char *dir, struct manifest *m, struct sk_err *err)
{
	char path[PATH_MAX];
	char *text;
	struct stat st;
	ssize_t n;
	int fd, ret, e;

	if (fs_pathf(path, sizeof(path), err, "%s/manifest.json", dir) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sk_err_sys(err, SK_EDAMAGED, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0 || st.st_size > (4 << 20)) {
		close(fd);
		return sk_err_set(err, SK_EDAMAGED, "'%s' is not a plausible manifest", path);
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	n = fs_read_full(fd, text, (size_t)st.st_size);
	e = n < 0 ? errno : EIO;	/* short: the file shrank under us */
	close(fd);
	if (n != st.st_size) {
		free(text);
		return sk_err_sys(err, SK_EDAMAGED, e, "read '%s'", path);
	}
	text[n] = '\0';
	ret = fcjson_manifest_parse(text, m, err);
	free(text);
	if (ret < 0)
		sk_err_wrap(err, "'%s'", path);
	return ret;
}

/*
 * Hash every artifact of a snapshot directory and compare with want (n of
 * them). Each mismatch is logged; the first one (or a missing file) is the
 * SK_EDAMAGED error. label names the snapshot in messages.
 */
int snapint_verify_artifacts(const char *dir, const char *label, const struct artifact_row *want,
			     int n, int threads, int show_progress, struct sk_err *err)
{
	struct progress prog;
	struct hash_job *jobs;
	char (*paths)[PATH_MAX];
	int i, bad = 0;

	jobs = calloc((size_t)n, sizeof(*jobs));
	paths = calloc((size_t)n, sizeof(*paths));
	if (!jobs || !paths) {
		free(jobs);
		free(paths);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	for (i = 0; i < n; i++) {
		if (snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, want[i].name) >=
		    (int)sizeof(paths[i]))
			paths[i][0] = '\0';	/* fails to open, reported as missing */
		jobs[i].path = paths[i];
	}
	progress_start(&prog, show_progress, 0);
	snprintf(prog.what, sizeof(prog.what), "hashing '%s'", label);
	hash_many(jobs, (size_t)n, threads, &prog);
	progress_end(&prog, 1);
	for (i = 0; i < n; i++) {
		struct sk_err e = SK_ERR_INIT;

		if (jobs[i].ret < 0) {
			if (jobs[i].err.code == SK_ENOENT)
				sk_err_set(&e, SK_EDAMAGED, "snapshot '%s': artifact '%s' is missing",
					   label, want[i].name);
			else
				sk_err_set(&e, jobs[i].err.code, "snapshot '%s': %s", label,
					   jobs[i].err.msg);
		} else if (jobs[i].size != want[i].size) {
			sk_err_set(&e, SK_EDAMAGED,
				   "snapshot '%s': artifact '%s' is %llu bytes, expected %llu", label,
				   want[i].name, (unsigned long long)jobs[i].size,
				   (unsigned long long)want[i].size);
		} else if (strcmp(jobs[i].hex, want[i].sha256)) {
			sk_err_set(&e, SK_EDAMAGED,
				   "snapshot '%s': artifact '%s' is damaged: sha256 %.16s..., expected "
				   "%.16s...",
				   label, want[i].name, jobs[i].hex, want[i].sha256);
		} else {
			continue;
		}
		if (!bad++)
			*err = e;
		else
			log_error("%s", e.msg);
	}
	free(jobs);
	free(paths);
	return bad ? -1 : 0;
}

int snapint_call_state(struct fcapi *fc, const char *state, struct sk_err *err)
{
	char *body = fcjson_body_vm_state(state);
	int ret;

	if (!body)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	ret = fcapi_call(fc, "PATCH", "/vm", body, FCAPI_TIMEOUT_MS, NULL, err);
	free(body);
	return ret;
}

/* Is a recorded machine alive? */
int snapint_machine_alive(const struct machine_row *m)
{
	return proc_alive((pid_t)m->pid, m->pid_start);
}

/* The manifest and the index must tell the same story. */
int snapint_manifest_matches(const struct manifest *m, const struct snapshot_row *row,
			     const struct artifact_row *arts, struct sk_err *err)
{
	int i;

	if (strcmp(m->snapshot, row->id) || m->nart != row->nartifacts)
		return sk_err_set(err, SK_EDAMAGED,
				  "snapshot '%s': manifest.json does not match the index", row->id);
	for (i = 0; i < m->nart; i++)
		if (strcmp(m->arts[i].name, arts[i].name) || strcmp(m->arts[i].sha256, arts[i].sha256) ||
		    m->arts[i].size != arts[i].size || strcmp(m->arts[i].kind, arts[i].kind))
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s': manifest.json and the index disagree about "
					  "'%s'", row->id, arts[i].name);
	return 0;
}

/* ---- fcsnap-list, fcsnap-delete, fcsnap-verify ---- */

int snap_list(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx c = { 0 };
	struct snapshot_row *rows = NULL;
	struct fcjson *arr = NULL;
	size_t n = 0, i;
	int ret = -1;

	if (o->machine && config_check_id("machine", o->machine, err) < 0)
		return -1;
	if (o->ids) {
		/* Completions call this on every Tab: read, never repair or create. */
		char db[PATH_MAX];

		if (config_load(&c.cfg, o->config_path, err) < 0 ||
		    fs_pathf(db, sizeof(db), err, "%s/index.db", c.cfg.state_dir) < 0)
			goto out;
		if (!fs_exists(db))
			return 0;
	}
	if (ctx_open_mode(&c, o->config_path, o->ids, err) < 0 ||
	    idx_snap_list(c.ix, o->machine, &rows, &n, err) < 0)
		goto out;
	if (o->json)
		arr = fcjson_arr();
	else if (!o->ids)
		printf("%-24s %-20s %-19s %10s %9s\n", "SNAPSHOT", "MACHINE", "CREATED", "SIZE",
		       "ARTIFACTS");
	for (i = 0; i < n; i++) {
		const struct snapshot_row *r = &rows[i];
		char when[32], sz[32];
		time_t t = (time_t)r->created;
		struct tm tm;

		if (o->ids) {
			printf("%s\n", r->id);
			continue;
		}
		if (o->json) {
			struct fcjson *j = fcjson_obj();

			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			fcjson_set_str(j, "snapshot", r->id);
			fcjson_set_str(j, "machine", r->machine);
			fcjson_set_int(j, "created", r->created);
			fcjson_set_str(j, "created_utc", when);
			fcjson_set_int(j, "size", (int64_t)r->size);
			fcjson_set_int(j, "artifacts", r->nartifacts);
			fcjson_set_str(j, "vmm_version", r->vmm_version);
			fcjson_set_str(j, "snapshot_version",
				       r->snapshot_version[0] ? r->snapshot_version : NULL);
			fcjson_set_real(j, "pause_ms", (double)r->pause_us / 1000.0);
			fcjson_append(arr, j);
			continue;
		}
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-24s %-20s %-19s %10s %9d\n", r->id, r->machine, when,
		       log_bytes(r->size, sz, sizeof(sz)), r->nartifacts);
	}
	if (arr) {
		fcjson_print(stdout, arr);
		arr = NULL;
	}
	ret = 0;
out:
	fcjson_free(arr);
	free(rows);
	snapint_close(&c);
	return ret;
}

int snap_delete(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx c = { 0 };
	struct lock *slk = NULL;
	struct journal_row jr = { 0 };
	struct snapshot_row row;
	struct machine_row *ms = NULL;
	size_t n = 0, i;
	int ret = -1;

	if (config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, err) < 0 ||
	    lock_acquire(&slk, c.locks, "snapshot", o->snapshot, o->wait_s, err) < 0 ||
	    idx_snap_get(c.ix, o->snapshot, &row, NULL, err) < 0 ||
	    idx_machine_list(c.ix, &ms, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (ms[i].pins && !strcmp(ms[i].snapshot, o->snapshot) && snapint_machine_alive(&ms[i])) {
			sk_err_set(err, SK_EBUSY, "snapshot '%s' is in use: machine '%s' (pid %ld) "
				   "runs from its memory file", o->snapshot, ms[i].id, ms[i].pid);
			goto out;
		}
	snprintf(jr.object, sizeof(jr.object), "snapshot.%s", o->snapshot);
	snprintf(jr.kind, sizeof(jr.kind), "fcsnap-delete");
	snprintf(jr.step, sizeof(jr.step), "unlisting");
	if (fs_pathf(jr.path, sizeof(jr.path), err, "%s/%s", c.snaps, o->snapshot) < 0 ||
	    idx_journal_begin(c.ix, &jr, err) < 0)
		goto out;
	/* Row first: a crash after it leaves a directory that repair removes. */
	if (idx_snap_delete(c.ix, o->snapshot, err) < 0)
		goto out;
	fault_point("delete-unlisted");
	if (fs_rmtree(jr.path, err) < 0 || fs_fsync_path(c.snaps, err) < 0)
		goto out;
	if (idx_journal_end(c.ix, jr.id, err) < 0)
		goto out;
	log_info("deleted snapshot '%s' of machine '%s'", o->snapshot, row.machine);
	ret = 0;
out:
	free(ms);
	lock_release(slk);
	snapint_close(&c);
	return ret;
}

static int verify_one(struct sctx *c, const struct snap_opts *o, const char *id,
		      struct fcjson *arr, struct sk_err *err)
{
	struct lock *lk = NULL;
	struct snapshot_row row;
	struct artifact_row *arts = NULL;
	struct manifest man = { 0 };
	char dir[PATH_MAX];
	int ret = -1;

	if (lock_acquire(&lk, c->locks, "snapshot", id, o->wait_s, err) < 0 ||
	    idx_snap_get(c->ix, id, &row, &arts, err) < 0 ||
	    fs_pathf(dir, sizeof(dir), err, "%s/%s", c->snaps, id) < 0)
		goto out;
	if (snapint_read_manifest(dir, &man, err) < 0 || snapint_manifest_matches(&man, &row, arts, err) < 0)
		goto out;
	ret = snapint_verify_artifacts(dir, id, arts, row.nartifacts, c->cfg.threads, o->progress,
				       err);
out:
	if (arr) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "snapshot", id);
		fcjson_set_bool(j, "ok", ret == 0);
		fcjson_set_str(j, "error", ret == 0 ? NULL : err->msg);
		fcjson_append(arr, j);
	} else if (ret == 0) {
		printf("%s: ok\n", id);
	}
	fcjson_manifest_free(&man);
	free(arts);
	lock_release(lk);
	return ret;
}

int snap_verify(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx c = { 0 };
	struct snapshot_row *rows = NULL;
	struct fcjson *arr = NULL;
	struct sk_err first = SK_ERR_INIT;
	size_t n = 0, i;
	int bad = 0, ret = -1;

	if (!o->all && config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, err) < 0)
		goto out;
	if (o->json)
		arr = fcjson_arr();
	if (!o->all) {
		bad = verify_one(&c, o, o->snapshot, arr, &first) < 0;
	} else {
		if (idx_snap_list(c.ix, NULL, &rows, &n, err) < 0)
			goto out;
		for (i = 0; i < n; i++) {
			struct sk_err e = SK_ERR_INIT;

			if (verify_one(&c, o, rows[i].id, arr, &e) == 0)
				continue;
			/* Name every failure; exit with the most telling class. */
			log_error("%s", e.msg);
			if (!bad++ || e.code == SK_EDAMAGED)
				first.code = e.code;
		}
		if (bad)
			snprintf(first.msg, sizeof(first.msg), "%d of %zu snapshots failed verification",
				 bad, n);
	}
	if (arr) {
		fcjson_print(stdout, arr);
		arr = NULL;
	}
	if (bad) {
		*err = first;
		goto out;
	}
	ret = 0;
out:
	fcjson_free(arr);
	free(rows);
	snapint_close(&c);
	return ret;
}
