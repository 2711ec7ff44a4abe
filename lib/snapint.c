/*
 * snapint.c: what the fcsnap operations share (snapint.h): opening the
 * config, index and state directories, the table that dispatches the repair
 * of what a killed command left in the journal, the manifest, artifact
 * checks, and small helpers.
 */
#include "snapint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcapi.h"
#include "fsutil.h"
#include "hash.h"
#include "lock.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "banned.h"

#define MAX_REPAIR 32
#define MAX_AGAIN 4

/* Copy a string, cutting it to fit. */
void snapint_set_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int snapint_check_interrupt(struct sk_err *err)
{
	if (sig_interrupted())
		return sk_err_set(err, SK_EFAIL, "interrupted");
	return 0;
}

void snapint_rmtree(const char *path)
{
	struct sk_err e = SK_ERR_INIT;

	if (path[0] && fs_rmtree(path, &e) < 0)
		log_warn("%s", e.msg);
}

/* ---- repair: finish or undo what a killed fcsnap command left ---- */

/* Is row id still in the journal? Between the read and the lock its owner may have finished. */
static int still_journaled(struct sctx *c, const struct journal_row *r, struct journal_row *again)
{
	struct sk_err e = SK_ERR_INIT;
	int k, m = 0, found = 0;

	if (idx_journal_find(c->ix, r->object, again, MAX_AGAIN, &m, &e) == 0)
		for (k = 0; k < m; k++)
			found |= again[k].id == r->id;
	return found;
}

/* Repair one row under its object's lock, if that lock is free. */
static void repair_one(struct sctx *c, const struct journal_row *r, struct journal_row *again)
{
	struct sk_err e = SK_ERR_INIT;
	struct lock *lk = NULL;
	char kind[16];
	const char *id = strchr(r->object, '.');
	size_t k;

	if (!id || (size_t)(id - r->object) >= sizeof(kind))
		return;
	memcpy(kind, r->object, (size_t)(id - r->object));
	kind[id - r->object] = '\0';
	id++;
	if (lock_acquire(&lk, c->locks, kind, id, 0, &e) < 0)
		return;
	if (still_journaled(c, r, again))
		for (k = 0; c->repairs[k].kind; k++)
			if (!strcmp(r->kind, c->repairs[k].kind))
				c->repairs[k].repair(c, r, id);
	lock_release(lk);
}

/*
 * A journal row whose object lock is free belongs to a process that died;
 * repair it under that lock. Rows whose lock is held are someone's work in
 * progress and are left alone.
 */
static void repair_all(struct sctx *c)
{
	struct journal_row *rows, *again;
	struct sk_err e = SK_ERR_INIT;
	int n = 0, i;

	rows = calloc(MAX_REPAIR, sizeof(*rows));
	again = calloc(MAX_AGAIN, sizeof(*again));
	if (rows && again && idx_journal_find_kind(c->ix, "fcsnap-", rows, MAX_REPAIR, &n, &e) == 0)
		for (i = 0; i < n; i++)
			repair_one(c, &rows[i], again);
	free(again);
	free(rows);
}

/* ---- opening ---- */

static int ctx_alloc(struct sctx **cp, const char *config_path, struct sk_err *err)
{
	*cp = calloc(1, sizeof(**cp));
	if (!*cp)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	return config_load(&(*cp)->cfg, config_path, err);
}

int snapint_open(struct sctx **cp, const char *config_path, const struct snapint_repair *repairs,
		 struct sk_err *err)
{
	struct sctx *c;
	const char *st;

	if (ctx_alloc(cp, config_path, err) < 0)
		return -1;
	c = *cp;
	c->repairs = repairs;
	st = c->cfg.state_dir;
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

int snapint_open_readonly(struct sctx **cp, const char *config_path, struct sk_err *err)
{
	char db[PATH_MAX];

	if (ctx_alloc(cp, config_path, err) < 0 ||
	    fs_pathf(db, sizeof(db), err, "%s/index.db", (*cp)->cfg.state_dir) < 0)
		return -1;
	if (!fs_exists(db)) {
		snapint_close(*cp);
		*cp = NULL;
		return 0;
	}
	return idx_open(&(*cp)->ix, (*cp)->cfg.state_dir, err);
}

void snapint_close(struct sctx *c)
{
	if (!c)
		return;
	idx_close(c->ix);
	free(c);
}

/* ---- helpers shared by the operations ---- */

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
void snapint_binary_versions(const struct sctx *c, char *ver, size_t vsize, char *fmt, size_t fsize)
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
	if (fstat(fd, &st) < 0 || st.st_size > SNAPINT_MAX_MANIFEST) {
		close(fd);
		return sk_err_set(err, SK_EDAMAGED, "'%s' is not a plausible manifest", path);
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	n = fs_read_full(fd, text, (size_t)st.st_size);
	e = n < 0 ? errno : EIO; /* short: the file shrank under us */
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
/* What hashing one artifact found; bad_chunk is -1 when every chunk matched. */
struct found {
	int ret;
	struct sk_err err;
	uint64_t size;
	char hex[HASH_HEX_LEN + 1];
	long long bad_chunk; /* the first chunk that differs from the manifest's */
	size_t nbad;	     /* how many do */
	char bad_hex[HASH_HEX_LEN + 1];
};

/* Format 1: the sha256 of each whole file. */
static int hash_whole(char (*paths)[PATH_MAX], int n, int threads, struct progress *prog,
		      struct found *f)
{
	struct hash_job *jobs = calloc((size_t)n, sizeof(*jobs));
	int i;

	if (!jobs)
		return -1;
	for (i = 0; i < n; i++)
		jobs[i].path = paths[i];
	hash_many(jobs, (size_t)n, threads, prog);
	for (i = 0; i < n; i++) {
		f[i].ret = jobs[i].ret;
		f[i].err = jobs[i].err;
		f[i].size = jobs[i].size;
		f[i].bad_chunk = -1;
		memcpy(f[i].hex, jobs[i].hex, sizeof(f[i].hex));
	}
	free(jobs);
	return 0;
}

/* Format 2: each file's chunks on every core, each compared with the manifest's. */
static int hash_chunked(char (*paths)[PATH_MAX], const struct manifest *m, int threads,
			struct progress *prog, struct found *f)
{
	struct chunk_job *jobs = calloc((size_t)m->nart, sizeof(*jobs));
	size_t k;
	int i;

	if (!jobs)
		return -1;
	for (i = 0; i < m->nart; i++)
		jobs[i].path = paths[i];
	chunk_hash_many(jobs, (size_t)m->nart, m->chunk_size, threads, prog);
	for (i = 0; i < m->nart; i++) {
		const struct chunk_list *want = &m->chunks[i], *got = &jobs[i].chunks;

		f[i].ret = jobs[i].ret;
		f[i].err = jobs[i].err;
		f[i].size = jobs[i].size;
		f[i].bad_chunk = -1;
		memcpy(f[i].hex, jobs[i].hex, sizeof(f[i].hex));
		for (k = 0; f[i].ret == 0 && k < got->n && k < want->n; k++) {
			if (memcmp(got->d[k], want->d[k], HASH_LEN) == 0)
				continue;
			if (f[i].nbad++ == 0) {
				f[i].bad_chunk = (long long)k;
				hash_hex(got->d[k], f[i].bad_hex);
			}
		}
		chunk_list_free(&jobs[i].chunks);
	}
	free(jobs);
	return 0;
}

/* The message for artifact i's trouble, or 0 when it is as the manifest says. */
static int judge(const char *label, const struct manifest *m, const struct artifact_row *want,
		 const struct found *f, struct sk_err *e)
{
	if (f->ret < 0 && f->err.code == SK_ENOENT)
		return sk_err_set(e, SK_EDAMAGED, "snapshot '%s': artifact '%s' is missing", label,
				  want->name);
	if (f->ret < 0)
		return sk_err_set(e, f->err.code, "snapshot '%s': %s", label, f->err.msg);
	if (f->size != want->size)
		return sk_err_set(e, SK_EDAMAGED,
				  "snapshot '%s': artifact '%s' is %llu bytes, expected %llu",
				  label, want->name, (unsigned long long)f->size,
				  (unsigned long long)want->size);
	if (f->bad_chunk >= 0) {
		char want_hex[HASH_HEX_LEN + 1];

		hash_hex(m->chunks[want - m->arts].d[f->bad_chunk], want_hex);
		return sk_err_set(e, SK_EDAMAGED,
				  "snapshot '%s': artifact '%s' is damaged: %zu of its %zu chunks "
				  "differ, the first at byte %llu (sha256 %.16s..., expected "
				  "%.16s...)",
				  label, want->name, f->nbad, m->chunks[want - m->arts].n,
				  (unsigned long long)f->bad_chunk * m->chunk_size, f->bad_hex,
				  want_hex);
	}
	if (strcmp(f->hex, want->sha256))
		return sk_err_set(e, SK_EDAMAGED,
				  "snapshot '%s': artifact '%s' is damaged: sha256 %.16s..., "
				  "expected "
				  "%.16s...",
				  label, want->name, f->hex, want->sha256);
	return 0;
}

int snapint_verify_artifacts(const char *dir, const char *label, const struct manifest *m,
			     int threads, int show_progress, struct sk_err *err)
{
	struct progress prog;
	struct found *f;
	char(*paths)[PATH_MAX];
	int i, bad = 0, rc;

	f = calloc((size_t)m->nart, sizeof(*f));
	paths = calloc((size_t)m->nart, sizeof(*paths));
	if (!f || !paths) {
		free(f);
		free(paths);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	for (i = 0; i < m->nart; i++)
		if (snprintf(paths[i], sizeof(paths[i]), "%s/%s", dir, m->arts[i].name) >=
		    (int)sizeof(paths[i]))
			paths[i][0] = '\0'; /* fails to open, reported as missing */
	progress_start(&prog, show_progress, 0);
	snprintf(prog.what, sizeof(prog.what), "hashing '%s'", label);
	if (m->chunks)
		rc = hash_chunked(paths, m, threads, &prog, f);
	else
		rc = hash_whole(paths, m->nart, threads, &prog, f);
	progress_end(&prog, 1);
	for (i = 0; i < m->nart && rc == 0; i++) {
		struct sk_err e = SK_ERR_INIT;

		if (judge(label, m, &m->arts[i], &f[i], &e) == 0)
			continue;
		if (!bad++)
			*err = e;
		else
			log_error("%s", e.msg);
	}
	free(f);
	free(paths);
	if (rc < 0)
		return sk_err_set(err, SK_EFAIL, "out of memory");
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
		if (strcmp(m->arts[i].name, arts[i].name) ||
		    strcmp(m->arts[i].sha256, arts[i].sha256) || m->arts[i].size != arts[i].size ||
		    strcmp(m->arts[i].kind, arts[i].kind))
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s': manifest.json and the index disagree "
					  "about "
					  "'%s'",
					  row->id, arts[i].name);
	return 0;
}

/* Both passes read the data once each. */
int snapint_to_format2(struct sctx *c, const char *dir, const char *label, int progress,
		       struct manifest *m, struct sk_err *err)
{
	struct chunk_job *jobs;
	char(*paths)[PATH_MAX];
	int i, ret = -1;

	if (snapint_verify_artifacts(dir, label, m, c->cfg.threads, progress, err) < 0)
		return -1;
	jobs = calloc((size_t)m->nart, sizeof(*jobs));
	paths = calloc((size_t)m->nart, sizeof(*paths));
	m->chunks = calloc((size_t)m->nart, sizeof(*m->chunks));
	if (!jobs || !paths || !m->chunks) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	for (i = 0; i < m->nart; i++) {
		if (fs_pathf(paths[i], sizeof(paths[i]), err, "%s/%s", dir, m->arts[i].name) < 0)
			goto out;
		jobs[i].path = paths[i];
	}
	if (chunk_hash_many(jobs, (size_t)m->nart, HASH_CHUNK_SIZE, c->cfg.threads, NULL) < 0) {
		for (i = 0; jobs[i].ret == 0; i++)
			;
		*err = jobs[i].err;
		goto out;
	}
	for (i = 0; i < m->nart; i++) {
		m->chunks[i] = jobs[i].chunks;
		jobs[i].chunks.d = NULL;
		memcpy(m->arts[i].sha256, jobs[i].hex, sizeof(jobs[i].hex));
	}
	m->format = MANIFEST_FORMAT;
	m->chunk_size = HASH_CHUNK_SIZE;
	m->diff = 0;
	ret = 0;
out:
	for (i = 0; jobs && i < m->nart; i++)
		chunk_list_free(&jobs[i].chunks);
	free(jobs);
	free(paths);
	return ret;
}

int snapint_stage_claim(struct sctx *c, struct snapint_stage *st, struct manifest *m,
			const char *as, int wait_s, struct sk_err *err)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row old;

	st->id = as ? as : m->snapshot;
	if (lock_acquire(&st->lk, c->locks, "snapshot", st->id, wait_s, err) < 0)
		return -1;
	if (as)
		snprintf(m->snapshot, sizeof(m->snapshot), "%s", as);
	st->id = m->snapshot;
	if (fs_pathf(st->jr.staging, sizeof(st->jr.staging), err, "%s/import.%s", c->tmp, st->id) <
		0 ||
	    fs_pathf(st->jr.target, sizeof(st->jr.target), err, "%s/%s", c->snaps, st->id) < 0)
		return -1;
	if (idx_snap_get(c->ix, st->id, &old, NULL, &e) == 0 || fs_exists(st->jr.target))
		return sk_err_set(err, SK_EBUSY,
				  "snapshot '%s' already exists; store it under another id with "
				  "--as NEWID",
				  st->id);
	if (e.code != SK_ENOENT) {
		*err = e;
		return -1;
	}
	return 0;
}

int snapint_stage_begin(struct sctx *c, struct snapint_stage *st, const struct manifest *m,
			const char *kind, struct sk_err *err)
{
	struct journal_row *jr = &st->jr;

	if (snprintf(jr->object, sizeof(jr->object), "snapshot.%s", m->snapshot) >=
	    (int)sizeof(jr->object))
		return sk_err_set(err, SK_EUSAGE, "snapshot id too long");
	snprintf(jr->kind, sizeof(jr->kind), "%s", kind);
	snprintf(jr->step, sizeof(jr->step), "receiving");
	if (idx_journal_begin(c->ix, jr, err) < 0)
		return -1;
	st->journaled = 1;
	if (fs_rmtree(jr->staging, err) < 0)
		return -1;
	if (mkdir(jr->staging, 0700) < 0 ||
	    (st->dirfd = open(jr->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", jr->staging);
	return 0;
}

int snapint_stage_commit(struct sctx *c, struct snapint_stage *st, const struct manifest *m,
			 uint64_t total, struct sk_err *err)
{
	struct snapshot_row row = { 0 };
	struct sk_err e = SK_ERR_INIT;

	if (snapint_write_manifest(st->jr.staging, m, err) < 0 ||
	    fs_fsync_path(st->jr.staging, err) < 0)
		return -1;
	fault_point("fcimport-staged");
	snprintf(st->jr.step, sizeof(st->jr.step), "committing");
	if (idx_journal_update(c->ix, &st->jr, err) < 0)
		return -1;
	if (rename(st->jr.staging, st->jr.target) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "rename '%s' to '%s'", st->jr.staging,
				  st->jr.target);
	if (fs_fsync_path(c->snaps, err) < 0)
		return -1;
	fault_point("fcimport-committing");
	memcpy(row.id, m->snapshot, sizeof(row.id));
	snprintf(row.machine, sizeof(row.machine), "%s", m->machine);
	row.created = m->created;
	snprintf(row.vmm_version, sizeof(row.vmm_version), "%s", m->vmm_version);
	snprintf(row.snapshot_version, sizeof(row.snapshot_version), "%s", m->snapshot_version);
	row.size = total;
	row.pause_us = m->pause_us;
	if (idx_snap_add(c->ix, &row, m->arts, m->nart, err) < 0)
		return -1;
	st->recorded = 1;
	idx_journal_end(c->ix, st->jr.id, &e);
	st->journaled = 0;
	return 0;
}

void snapint_stage_end(struct sctx *c, struct snapint_stage *st, int ret)
{
	if (st->dirfd >= 0)
		close(st->dirfd);
	st->dirfd = -1;
	if (ret < 0 && st->journaled) {
		struct sk_err re = SK_ERR_INIT;

		snapint_rmtree(st->jr.staging);
		if (!st->recorded && !strcmp(st->jr.step, "committing"))
			snapint_rmtree(st->jr.target);
		idx_journal_end(c->ix, st->jr.id, &re);
		st->journaled = 0;
	}
	lock_release(st->lk);
	st->lk = NULL;
}
