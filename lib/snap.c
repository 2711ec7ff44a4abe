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

#define SPAWN_WAIT_S 10
#define MAX_REPAIR 32

/* Copy a string, cutting it to fit. */
static void set_str(char *dst, size_t size, const char *src)
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

static int check_interrupt(struct sk_err *err)
{
	if (sig_interrupted())
		return sk_err_set(err, SK_EFAIL, "interrupted");
	return 0;
}

/* ---- repair: finish or undo what a killed fcsnap command left ---- */

static void resume_socket(const char *sock, const char *machine)
{
	struct sk_err e = SK_ERR_INIT;
	struct fcapi *fc = NULL;
	char *body = fcjson_body_vm_state("Resumed");

	if (body && fcapi_open(&fc, sock, &e) == 0 &&
	    fcapi_call(fc, "PATCH", "/vm", body, FCAPI_TIMEOUT_MS, NULL, &e) == 0)
		log_warn("resumed machine '%s', which an interrupted fcsnap-create left paused",
			 machine);
	else if (e.code == SK_EBUSY)
		log_warn("machine '%s' was left paused but is gone now (%s)", machine, e.msg);
	else
		log_warn("cannot resume machine '%s': %s", machine, e.msg);
	fcapi_close(fc);
	free(body);
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

	if (r->stopped)
		resume_socket(r->path2, machine);
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
static int has_dotdot(const char *p)
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
static void binary_versions(const struct sctx *c, char *ver, size_t vsize, char *fmt,
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
		set_str(ver, vsize, p[0] == 'v' ? p + 1 : p);
	}
	if (proc_capture(argv_s, out, sizeof(out), 10, &e) == 0) {
		first_word(out);
		set_str(fmt, fsize, out);
	}
}

/* "ip=172.16.0.2::..." in the boot args gives the guest's address. */
static void guest_ip(const char *args, char *out, size_t size)
{
	const char *p = args;

	out[0] = '\0';
	while ((p = strstr(p, "ip=")) != NULL) {
		if (p == args || p[-1] == ' ') {
			size_t n = strcspn(p + 3, ": ");

			if (n < size)
				snprintf(out, size, "%.*s", (int)n, p + 3);
			return;
		}
		p += 3;
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
	int fd, ret;

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
	close(fd);
	if (n != st.st_size) {
		free(text);
		return sk_err_sys(err, SK_EDAMAGED, errno ? errno : EIO, "read '%s'", path);
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
static int verify_artifacts(const char *dir, const char *label, const struct artifact_row *want,
			    int n, int threads, int quiet_ok, struct sk_err *err)
{
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
	hash_many(jobs, (size_t)n, threads);
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
	(void)quiet_ok;
	return bad ? -1 : 0;
}

/* ---- fcsnap-create ---- */

/* Where the machine's API socket is, and its chroot ("" when not jailed). */
static int find_machine(struct sctx *c, const struct snap_opts *o, char *sock, char *chroot,
			struct sk_err *err)
{
	struct machine_row m;
	struct sk_err e = SK_ERR_INIT;

	chroot[0] = '\0';
	if (!o->socket && idx_machine_get(c->ix, o->machine, &m, &e) == 0 &&
	    proc_alive((pid_t)m.pid, m.pid_start)) {
		snprintf(sock, PATH_MAX, "%s", m.socket);
		if (m.jailed)
			snprintf(chroot, PATH_MAX, "%s", m.root);
		return 0;
	}
	if (o->socket)
		snprintf(sock, PATH_MAX, "%s", o->socket);
	else if (config_expand(c->cfg.fc_socket, o->machine, sock, PATH_MAX, err) < 0)
		return -1;
	if (c->cfg.fc_chroot[0] &&
	    config_expand(c->cfg.fc_chroot, o->machine, chroot, PATH_MAX, err) < 0)
		return -1;
	return 0;
}

/*
 * The host path of a drive path as Firecracker resolves it: inside the
 * chroot when jailed, else against the process's working directory.
 */
static int drive_host_path(const char *chroot, pid_t fcpid, const struct fc_drive *d, char *out,
			   struct sk_err *err)
{
	const char *p = d->path;

	if (chroot[0]) {
		if (has_dotdot(p))
			return sk_err_set(err, SK_EFAIL, "drive '%s': path '%s' has a '..' component",
					  d->id, p);
		while (*p == '/')
			p++;
		return fs_pathf(out, PATH_MAX, err, "%s/%s", chroot, p);
	}
	if (p[0] == '/')
		return fs_pathf(out, PATH_MAX, err, "%s", p);
	if (fcpid <= 0)
		return sk_err_set(err, SK_EFAIL,
				  "drive '%s': relative path '%s', and the Firecracker process "
				  "cannot be found to resolve it",
				  d->id, p);
	return fs_pathf(out, PATH_MAX, err, "/proc/%d/cwd/%s", (int)fcpid, p);
}

static int call_state(struct fcapi *fc, const char *state, struct sk_err *err)
{
	char *body = fcjson_body_vm_state(state);
	int ret;

	if (!body)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	ret = fcapi_call(fc, "PATCH", "/vm", body, FCAPI_TIMEOUT_MS, NULL, err);
	free(body);
	return ret;
}

static double ms_since(double t0)
{
	return (log_now() - t0) * 1000.0;
}

/*
 * Firecracker wrote src as the jail's user. The snapshot's copy belongs to
 * root alone, so no jailed process can change it afterwards.
 */
static int move_out_of_jail(const char *src, const char *dst, struct sk_err *err)
{
	if (rename(src, dst) < 0) {
		if (errno != EXDEV)
			return sk_err_sys(err, SK_EFAIL, errno, "move '%s' to '%s'", src, dst);
		if (clone_file(src, dst, CLONE_AUTO, 0600, NULL, err) < 0)
			return -1;
		unlink(src);
	}
	if (chown(dst, 0, 0) < 0 || chmod(dst, 0600) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", dst);
	return 0;
}

static void print_create(const struct snap_opts *o, const struct snapshot_row *row,
			 const struct artifact_row *arts, int n, double pause_ms, double clone_ms,
			 int was_paused, const char *dir)
{
	char sz[32];
	int i;

	if (o->json) {
		struct fcjson *j = fcjson_obj(), *a = fcjson_arr();

		fcjson_set_str(j, "snapshot", row->id);
		fcjson_set_str(j, "machine", row->machine);
		fcjson_set_str(j, "directory", dir);
		fcjson_set_int(j, "created", row->created);
		fcjson_set_str(j, "vmm_version", row->vmm_version);
		fcjson_set_str(j, "snapshot_version",
			       row->snapshot_version[0] ? row->snapshot_version : NULL);
		fcjson_set_real(j, "pause_ms", pause_ms);
		fcjson_set_real(j, "clone_ms", clone_ms);
		fcjson_set_bool(j, "was_paused", was_paused);
		fcjson_set_int(j, "size", (int64_t)row->size);
		for (i = 0; i < n; i++) {
			struct fcjson *x = fcjson_obj();

			fcjson_set_str(x, "name", arts[i].name);
			fcjson_set_str(x, "kind", arts[i].kind);
			if (arts[i].drive_id[0])
				fcjson_set_str(x, "drive_id", arts[i].drive_id);
			fcjson_set_int(x, "size", (int64_t)arts[i].size);
			fcjson_set_str(x, "sha256", arts[i].sha256);
			fcjson_append(a, x);
		}
		fcjson_set(j, "artifacts", a);
		fcjson_print(stdout, j);
	}
	log_info("snapshot '%s' of machine '%s': %d artifacts, %s, paused %.1f ms%s", row->id,
		 row->machine, n, log_bytes(row->size, sz, sizeof(sz)), pause_ms,
		 was_paused ? " (it was already paused)" : "");
}

int snap_create(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx c = { 0 };
	struct lock *mlk = NULL, *slk = NULL;
	struct fcapi *fc = NULL;
	struct journal_row jr = { 0 };
	struct fc_instance inst;
	struct fc_vmconfig *vc = NULL;
	struct manifest man = { 0 };
	struct artifact_row *arts = NULL;
	struct snapshot_row row = { 0 }, existing;
	struct hash_job *jobs = NULL;
	char (*paths)[PATH_MAX] = NULL;
	char sock[PATH_MAX], chroot[PATH_MAX], stage[PATH_MAX], final[PATH_MAX];
	char jside[PATH_MAX] = "", api_state[PATH_MAX], api_mem[PATH_MAX], binver[32];
	char *body = NULL, *cfgtext = NULL;
	struct sk_err e = SK_ERR_INIT;
	double t0 = 0, pause_ms = 0, t_clone, clone_ms;
	int we_paused = 0, journaled = 0, recorded = 0, nart = 0, i, ret = -1;
	pid_t fcpid;
	struct stat jst = { 0 };

	if (config_check_id("machine", o->machine, err) < 0 ||
	    config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, err) < 0)
		goto out;
	if (lock_acquire(&mlk, c.locks, "machine", o->machine, o->wait_s, err) < 0 ||
	    lock_acquire(&slk, c.locks, "snapshot", o->snapshot, o->wait_s, err) < 0)
		goto out;
	if (fs_pathf(final, sizeof(final), err, "%s/%s", c.snaps, o->snapshot) < 0 ||
	    fs_pathf(stage, sizeof(stage), err, "%s/snap.%s", c.tmp, o->snapshot) < 0)
		goto out;
	if (idx_snap_get(c.ix, o->snapshot, &existing, NULL, &e) == 0 || fs_exists(final)) {
		sk_err_set(err, SK_EBUSY, "snapshot '%s' already exists", o->snapshot);
		goto out;
	}
	if (e.code != SK_ENOENT) {
		*err = e;
		goto out;
	}
	if (find_machine(&c, o, sock, chroot, err) < 0 || fcapi_open(&fc, sock, err) < 0)
		goto out;
	if (fcapi_describe(fc, &inst, err) < 0) {
		if (err->code == SK_EBUSY)
			sk_err_wrap(err, "machine '%s' is not running", o->machine);
		goto out;
	}
	if (strcmp(inst.state, "Running") && strcmp(inst.state, "Paused")) {
		sk_err_set(err, SK_EBUSY, "machine '%s' is not running (state '%s')", o->machine,
			   inst.state);
		goto out;
	}
	fcpid = proc_socket_peer(sock);
	/* Ask the binary for its snapshot format now, not while the guest waits. */
	binary_versions(&c, binver, sizeof(binver), man.snapshot_version,
			sizeof(man.snapshot_version));
	if (strcmp(binver, inst.vmm_version))
		man.snapshot_version[0] = '\0';	/* another release: its answer is not ours */
	if (chroot[0] && stat(chroot, &jst) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "machine '%s': jail '%s'", o->machine, chroot);
		goto out;
	}

	snprintf(jr.object, sizeof(jr.object), "machine.%s", o->machine);
	snprintf(jr.kind, sizeof(jr.kind), "fcsnap-create");
	snprintf(jr.step, sizeof(jr.step), "started");
	snprintf(jr.path, sizeof(jr.path), "%s", stage);
	snprintf(jr.path2, sizeof(jr.path2), "%s", sock);
	if (chroot[0] && fs_pathf(jside, sizeof(jside), err, "%s/.statekit-%s", chroot,
				  o->snapshot) < 0)
		goto out;
	snprintf(jr.path3, sizeof(jr.path3), "%s", jside);
	if (idx_journal_begin(c.ix, &jr, err) < 0)
		goto out;
	journaled = 1;
	if (fs_rmtree(stage, err) < 0)
		goto out;
	if (mkdir(stage, 0700) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", stage);
		goto out;
	}
	if (jside[0]) {
		/* Firecracker writes the files itself, as the jail's user, inside the jail. */
		if (fs_rmtree(jside, err) < 0)
			goto out;
		if (mkdir(jside, 0700) < 0 || chown(jside, jst.st_uid, jst.st_gid) < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", jside);
			goto out;
		}
		snprintf(api_state, sizeof(api_state), "/.statekit-%s/vmstate", o->snapshot);
		snprintf(api_mem, sizeof(api_mem), "/.statekit-%s/memory", o->snapshot);
	} else if (fs_pathf(api_state, sizeof(api_state), err, "%s/vmstate", stage) < 0 ||
		   fs_pathf(api_mem, sizeof(api_mem), err, "%s/memory", stage) < 0) {
		goto out;
	}

	/* The pause window: from here to the resume, nothing slow. */
	if (!strcmp(inst.state, "Running")) {
		jr.stopped = 1;
		snprintf(jr.step, sizeof(jr.step), "pausing");
		if (idx_journal_update(c.ix, &jr, err) < 0)
			goto out;
		t0 = log_now();
		if (call_state(fc, "Paused", err) < 0) {
			sk_err_wrap(err, "pause machine '%s'", o->machine);
			goto out;
		}
		we_paused = 1;
	}
	fault_point("create-paused");
	if (fcapi_call(fc, "GET", "/vm/config", NULL, FCAPI_TIMEOUT_MS, &cfgtext, err) < 0)
		goto out;
	vc = malloc(sizeof(*vc));
	if (!vc) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	i = fcjson_vmconfig(cfgtext, vc, err);
	cfgtext = NULL;	/* vc->raw owns it now */
	if (i < 0)
		goto out;
	arts = calloc((size_t)vc->ndrives + 2, sizeof(*arts));
	if (!arts) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	body = fcjson_body_snapshot_create(api_state, api_mem);
	if (!body) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	if (fcapi_call(fc, "PUT", "/snapshot/create", body, FCAPI_SLOW_TIMEOUT_MS, NULL, err) < 0)
		goto out;
	fault_point("create-snapshotted");
	snprintf(arts[0].name, sizeof(arts[0].name), "vmstate");
	snprintf(arts[0].kind, sizeof(arts[0].kind), "state");
	snprintf(arts[1].name, sizeof(arts[1].name), "memory");
	snprintf(arts[1].kind, sizeof(arts[1].kind), "memory");
	nart = 2;
	/* Disks are copied while the guest cannot write to them. */
	t_clone = log_now();
	for (i = 0; i < vc->ndrives; i++) {
		const struct fc_drive *d = &vc->drives[i];
		struct artifact_row *a = &arts[nart];
		char src[PATH_MAX], dst[PATH_MAX];

		if (d->vhost_user) {
			sk_err_set(err, SK_EFAIL, "drive '%s' is a vhost-user socket; statekit "
				   "can only snapshot file-backed drives", d->id);
			goto out;
		}
		snprintf(a->name, sizeof(a->name), "disk-%s", d->id);
		snprintf(a->kind, sizeof(a->kind), "disk");
		snprintf(a->drive_id, sizeof(a->drive_id), "%s", d->id);
		snprintf(a->recorded, sizeof(a->recorded), "%s", d->path);
		a->read_only = d->read_only;
		if (!fcjson_safe_name(a->name)) {
			sk_err_set(err, SK_EFAIL, "drive id '%s' cannot name a file", d->id);
			goto out;
		}
		if (drive_host_path(chroot, fcpid, d, src, err) < 0 ||
		    fs_pathf(dst, sizeof(dst), err, "%s/%s", stage, a->name) < 0)
			goto out;
		if (clone_file(src, dst, c.clone, 0600, NULL, err) < 0) {
			/* A drive file that vanished is a system error, not an unknown id. */
			if (err->code == SK_ENOENT)
				err->code = SK_EFAIL;
			sk_err_wrap(err, "clone drive '%s'", d->id);
			goto out;
		}
		nart++;
	}
	clone_ms = ms_since(t_clone);
	if (we_paused) {
		if (call_state(fc, "Resumed", err) < 0) {
			sk_err_wrap(err, "resume machine '%s'", o->machine);
			goto out;
		}
		pause_ms = ms_since(t0);
		we_paused = 0;
		jr.stopped = 0;
		snprintf(jr.step, sizeof(jr.step), "resumed");
		if (idx_journal_update(c.ix, &jr, err) < 0)
			goto out;
	}
	fault_point("create-resumed");

	if (jside[0]) {
		char from[PATH_MAX], to[PATH_MAX];

		for (i = 0; i < 2; i++) {
			if (fs_pathf(from, sizeof(from), err, "%s/%s", jside, arts[i].name) < 0 ||
			    fs_pathf(to, sizeof(to), err, "%s/%s", stage, arts[i].name) < 0 ||
			    move_out_of_jail(from, to, err) < 0)
				goto out;
		}
		snapint_rmtree(jside);
	}
	if (check_interrupt(err) < 0)
		goto out;

	/* Hash after the resume, every file at once. */
	jobs = calloc((size_t)nart, sizeof(*jobs));
	paths = calloc((size_t)nart, sizeof(*paths));
	if (!jobs || !paths) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	for (i = 0; i < nart; i++) {
		if (fs_pathf(paths[i], sizeof(paths[i]), err, "%s/%s", stage, arts[i].name) < 0)
			goto out;
		jobs[i].path = paths[i];
	}
	if (hash_many(jobs, (size_t)nart, c.cfg.threads) < 0) {
		for (i = 0; i < nart && jobs[i].ret == 0; i++)
			;
		*err = jobs[i].err;
		goto out;
	}
	for (i = 0; i < nart; i++) {
		memcpy(arts[i].sha256, jobs[i].hex, sizeof(jobs[i].hex));
		arts[i].size = jobs[i].size;
		row.size += jobs[i].size;
	}

	man.format = MANIFEST_FORMAT;
	snprintf(man.snapshot, sizeof(man.snapshot), "%s", o->snapshot);
	snprintf(man.machine, sizeof(man.machine), "%s", o->machine);
	man.created = (int64_t)time(NULL);
	snprintf(man.vmm_version, sizeof(man.vmm_version), "%s", inst.vmm_version);
	man.jailed = chroot[0] != '\0';
	man.uid = (long)jst.st_uid;
	man.gid = (long)jst.st_gid;
	guest_ip(vc->boot_args, man.guest_ip, sizeof(man.guest_ip));
	man.pause_us = (int64_t)(pause_ms * 1000.0);
	man.nnets = vc->nnets;
	memcpy(man.nets, vc->nets, sizeof(vc->nets));
	man.nart = nart;
	man.arts = arts;
	man.vm_config = vc->raw;
	if (snapint_write_manifest(stage, &man, err) < 0 || fs_fsync_path(stage, err) < 0)
		goto out;

	snprintf(row.id, sizeof(row.id), "%s", o->snapshot);
	snprintf(row.machine, sizeof(row.machine), "%s", o->machine);
	row.created = man.created;
	snprintf(row.vmm_version, sizeof(row.vmm_version), "%s", man.vmm_version);
	snprintf(row.snapshot_version, sizeof(row.snapshot_version), "%s", man.snapshot_version);
	row.pause_us = man.pause_us;
	snprintf(jr.step, sizeof(jr.step), "committing");
	if (idx_journal_update(c.ix, &jr, err) < 0)
		goto out;
	if (rename(stage, final) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "rename '%s' to '%s'", stage, final);
		goto out;
	}
	if (fs_fsync_path(c.snaps, err) < 0)
		goto out;
	fault_point("create-committing");
	if (idx_snap_add(c.ix, &row, arts, nart, err) < 0)
		goto out;
	recorded = 1;
	if (idx_journal_end(c.ix, jr.id, err) < 0)
		goto out;
	journaled = 0;
	print_create(o, &row, arts, nart, pause_ms, clone_ms, !strcmp(inst.state, "Paused"), final);
	ret = 0;
out:
	if (ret < 0 && journaled) {
		struct sk_err re = SK_ERR_INIT;
		int resumed = 1;

		if (we_paused && call_state(fc, "Resumed", &re) < 0) {
			log_error("cannot resume machine '%s': %s", o->machine, re.msg);
			resumed = 0;
		}
		snapint_rmtree(stage);
		snapint_rmtree(jside);
		if (!recorded && !strcmp(jr.step, "committing"))
			snapint_rmtree(final);
		/* A machine we could not resume keeps its row: the next command retries. */
		if (resumed)
			idx_journal_end(c.ix, jr.id, &re);
	}
	free(jobs);
	free(paths);
	free(body);
	free(cfgtext);
	if (vc)
		free(vc->raw);
	free(vc);
	free(arts);
	fcapi_close(fc);
	lock_release(slk);
	lock_release(mlk);
	snapint_close(&c);
	return ret;
}

/* ---- fcsnap-restore ---- */

/* Is a recorded machine alive? */
static int machine_alive(const struct machine_row *m)
{
	return proc_alive((pid_t)m->pid, m->pid_start);
}

/* The live machine (from the index) holding tap, or NULL. */
static const struct machine_row *tap_owner(const struct machine_row *ms, size_t n, const char *tap)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char key[80];
		const char *p = ms[i].taps;

		snprintf(key, sizeof(key), "=%s", tap);
		while ((p = strstr(p, key)) != NULL) {
			char end = p[strlen(key)];

			if ((end == ' ' || end == '\0') && machine_alive(&ms[i]))
				return &ms[i];
			p += strlen(key);
		}
	}
	return NULL;
}

static int version_check(const struct sctx *c, const struct manifest *m, struct sk_err *err)
{
	char ver[32], fmt[32];
	int a, b, x, y;

	binary_versions(c, ver, sizeof(ver), fmt, sizeof(fmt));
	if (!ver[0] && !fmt[0])
		return sk_err_set(err, SK_EUSAGE, "cannot run '%s --version': is [firecracker] "
				  "binary right?", c->cfg.fc_binary);
	if (m->snapshot_version[0] && fmt[0]) {
		if (fcapi_parse_version(m->snapshot_version, &a, &b, NULL) < 0 ||
		    fcapi_parse_version(fmt, &x, &y, NULL) < 0 || a != x || b > y)
			return sk_err_set(err, SK_EUSAGE,
					  "snapshot '%s' has snapshot format v%s (Firecracker %s), but "
					  "'%s' is Firecracker %s with format v%s",
					  m->snapshot, m->snapshot_version, m->vmm_version,
					  c->cfg.fc_binary, ver[0] ? ver : "?", fmt);
		return 0;
	}
	/* No format recorded: the same release line is the safe rule. */
	if (fcapi_parse_version(m->vmm_version, &a, &b, NULL) < 0 ||
	    fcapi_parse_version(ver, &x, &y, NULL) < 0 || a != x || b != y)
		return sk_err_set(err, SK_EUSAGE,
				  "snapshot '%s' was made by Firecracker %s, but '%s' is Firecracker "
				  "%s", m->snapshot, m->vmm_version, c->cfg.fc_binary,
				  ver[0] ? ver : "(unknown)");
	return 0;
}

/* The argv[0] of a PATH lookup made absolute (the jailer wants a path). */
static int which(const char *name, char *out, struct sk_err *err)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(name, '/')) {
		if (!realpath(name, out))
			return sk_err_sys(err, SK_EUSAGE, errno, "firecracker binary '%s'", name);
		return 0;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0 && realpath(buf, out))
			return 0;
		path += n + (path[n] == ':');
	}
	return sk_err_set(err, SK_EUSAGE, "firecracker binary '%s' is not in PATH", name);
}

/* Start argv in its own session with cwd dir and output to log; the pid or -1. */
static pid_t spawn(char *const argv[], const char *dir, const char *log, struct sk_err *err)
{
	pid_t pid = fork();

	if (pid < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "fork");
	if (pid == 0) {
		sigset_t none;
		int fd;

		setsid();
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (chdir(dir) < 0)
			_exit(126);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0)
			dup2(fd, 0);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* Our locks and the index must not live on in the new VMM. */
		close_range(3, ~0U, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* The last line of a log file, for an error message. */
static void log_tail(const char *log, char *out, size_t size)
{
	char buf[4096], *p;
	ssize_t n;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd < 0)
		return;
	if (lseek(fd, 0, SEEK_END) > (off_t)sizeof(buf) - 1)
		lseek(fd, -(off_t)(sizeof(buf) - 1), SEEK_END);
	else
		lseek(fd, 0, SEEK_SET);
	n = fs_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	p = strrchr(buf, '\n');
	set_str(out, size, p ? p + 1 : buf);
}

/* Wait until something answers on sock; SK_EFAIL if pid exits first. */
static int wait_socket(pid_t pid, const char *sock, const char *log, struct sk_err *err)
{
	double end = log_now() + SPAWN_WAIT_S;
	char tail[300];
	int status;

	while (log_now() < end) {
		if (proc_socket_peer(sock) > 0)
			return 0;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			log_tail(log, tail, sizeof(tail));
			return sk_err_set(err, SK_EFAIL, "Firecracker exited at start (status %d)%s%s",
					  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
					  tail[0] ? ": " : "", tail);
		}
		if (sig_interrupted())
			return sk_err_set(err, SK_EFAIL, "interrupted");
		usleep(10000);
	}
	return sk_err_set(err, SK_EFAIL, "Firecracker did not open '%s' within %d s", sock,
			  SPAWN_WAIT_S);
}

static const struct artifact_row *find_art(const struct manifest *m, const char *kind)
{
	int i;

	for (i = 0; i < m->nart; i++)
		if (!strcmp(m->arts[i].kind, kind))
			return &m->arts[i];
	return NULL;
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

static void print_restore(const struct snap_opts *o, const struct machine_row *m)
{
	if (o->json) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "machine", m->id);
		fcjson_set_str(j, "snapshot", m->snapshot);
		fcjson_set_int(j, "pid", m->pid);
		fcjson_set_str(j, "socket", m->socket);
		fcjson_set_str(j, "root", m->root);
		fcjson_set_bool(j, "jailed", m->jailed);
		fcjson_set_str(j, "taps", m->taps);
		fcjson_set_bool(j, "pins_snapshot_memory", m->pins);
		fcjson_print(stdout, j);
	}
	log_info("machine '%s' runs from snapshot '%s' (pid %ld, socket %s)", m->id, m->snapshot,
		 m->pid, m->socket);
}

int snap_restore(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx c = { 0 };
	struct lock *mlk = NULL, *slk = NULL;
	struct fcapi *fc = NULL;
	struct journal_row jr = { 0 };
	struct snapshot_row srow;
	struct artifact_row *arts = NULL;
	struct manifest man = { 0 };
	struct machine_row mrow = { 0 }, old, *live = NULL;
	struct fc_net eff[FC_MAX_NETS], overrides[FC_MAX_NETS];
	struct fc_instance inst;
	const struct artifact_row *a_state, *a_mem;
	char sdir[PATH_MAX], root[PATH_MAX], jaildir[PATH_MAX] = "", base[PATH_MAX];
	char sock[PATH_MAX], log[PATH_MAX], exe[PATH_MAX], api_state[PATH_MAX], api_mem[PATH_MAX];
	char src[PATH_MAX], dst[PATH_MAX], cfgsock[PATH_MAX], uid[24], gid[24], vsock[PATH_MAX];
	char *body = NULL;
	struct sk_err e = SK_ERR_INIT;
	size_t nlive = 0;
	int jailed, novr = 0, journaled = 0, i, k, ret = -1, reflinked;
	pid_t child = 0;
	int64_t child_start = 0;

	if (config_check_id("snapshot", o->snapshot, err) < 0 ||
	    config_check_id("machine", o->machine, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, err) < 0)
		goto out;
	jailed = c.cfg.fc_jailer[0] != '\0';
	/* Always machine before snapshot, as fcsnap-create does: no lock-order cycle. */
	if (lock_acquire(&mlk, c.locks, "machine", o->machine, o->wait_s, err) < 0 ||
	    lock_acquire(&slk, c.locks, "snapshot", o->snapshot, o->wait_s, err) < 0)
		goto out;
	if (idx_snap_get(c.ix, o->snapshot, &srow, &arts, err) < 0)
		goto out;

	/* The new machine's id must be free: no live record, no directory, no socket. */
	if (idx_machine_get(c.ix, o->machine, &old, &e) == 0) {
		if (machine_alive(&old)) {
			sk_err_set(err, SK_EBUSY, "machine '%s' already exists (pid %ld)", o->machine,
				   old.pid);
			goto out;
		}
		if (fs_exists(old.root)) {
			sk_err_set(err, SK_EBUSY,
				   "machine '%s' has stopped, but its directory '%s' remains; "
				   "remove it to reuse the id", o->machine, old.root);
			goto out;
		}
		if (idx_machine_delete(c.ix, o->machine, err) < 0)
			goto out;
	}
	if (config_expand(c.cfg.fc_socket, o->machine, cfgsock, sizeof(cfgsock), err) < 0)
		goto out;
	if (proc_socket_peer(cfgsock) > 0) {
		sk_err_set(err, SK_EBUSY, "machine '%s' already exists: a Firecracker answers on '%s'",
			   o->machine, cfgsock);
		goto out;
	}

	/* Everything is checked before anything is created. */
	if (fs_pathf(sdir, sizeof(sdir), err, "%s/%s", c.snaps, o->snapshot) < 0 ||
	    snapint_read_manifest(sdir, &man, err) < 0 || snapint_manifest_matches(&man, &srow, arts, err) < 0)
		goto out;
	if (verify_artifacts(sdir, o->snapshot, arts, srow.nartifacts, c.cfg.threads, 1, err) < 0)
		goto out;
	if (version_check(&c, &man, err) < 0)
		goto out;
	a_state = find_art(&man, "state");
	a_mem = find_art(&man, "memory");

	/* Network: the recorded TAPs, remapped by --tap. */
	memcpy(eff, man.nets, sizeof(eff));
	for (i = 0; i < o->ntaps; i++) {
		for (k = 0; k < man.nnets && strcmp(man.nets[k].iface, o->taps[i].iface); k++)
			;
		if (k == man.nnets) {
			sk_err_set(err, SK_EUSAGE, "--tap %s=%s: snapshot '%s' has no interface '%s'",
				   o->taps[i].iface, o->taps[i].tap, o->snapshot, o->taps[i].iface);
			goto out;
		}
		snprintf(eff[k].tap, sizeof(eff[k].tap), "%s", o->taps[i].tap);
		overrides[novr++] = eff[k];
	}
	if (idx_machine_list(c.ix, &live, &nlive, err) < 0)
		goto out;
	for (i = 0; i < man.nnets; i++) {
		const struct machine_row *owner = tap_owner(live, nlive, eff[i].tap);
		pid_t holder = owner ? (pid_t)owner->pid : proc_tap_holder(eff[i].tap);

		if (!holder)
			continue;
		if (owner)
			sk_err_set(err, SK_EBUSY, "tap '%s' (interface %s) is in use by machine '%s' "
				   "(pid %d); give the new machine another with --tap %s=NAME",
				   eff[i].tap, eff[i].iface, owner->id, (int)holder, eff[i].iface);
		else
			sk_err_set(err, SK_EBUSY, "tap '%s' (interface %s) is in use by pid %d; give "
				   "the new machine another with --tap %s=NAME",
				   eff[i].tap, eff[i].iface, (int)holder, eff[i].iface);
		goto out;
	}

	/* Where the new machine lives, and where its disks must sit. */
	if (jailed) {
		const char *exe_name;
		size_t bl, tl;
		char tail[PATH_MAX];

		if (strchr(o->machine, '_')) {
			sk_err_set(err, SK_EUSAGE, "machine id '%s': the jailer allows letters, digits "
				   "and '-' only", o->machine);
			goto out;
		}
		if (!c.cfg.fc_chroot[0]) {
			sk_err_set(err, SK_EUSAGE, "[firecracker] jailer is set but chroot is empty");
			goto out;
		}
		if (config_expand(c.cfg.fc_chroot, o->machine, root, sizeof(root), err) < 0 ||
		    which(c.cfg.fc_binary, exe, err) < 0)
			goto out;
		exe_name = strrchr(exe, '/') + 1;
		/* The jailer builds <base>/<exec name>/<id>/root; the config must agree. */
		snprintf(tail, sizeof(tail), "/%s/%s/root", exe_name, o->machine);
		bl = strlen(root);
		tl = strlen(tail);
		if (bl <= tl || strcmp(root + bl - tl, tail)) {
			sk_err_set(err, SK_EUSAGE, "[firecracker] chroot '%s' must end in '%s', where "
				   "the jailer puts the jail", c.cfg.fc_chroot, tail);
			goto out;
		}
		snprintf(base, sizeof(base), "%.*s", (int)(bl - tl), root);
		if (fs_pathf(jaildir, sizeof(jaildir), err, "%s/%s/%s", base, exe_name,
			     o->machine) < 0)
			goto out;
		if (fs_exists(jaildir)) {
			sk_err_set(err, SK_EBUSY, "machine '%s': jail '%s' already exists", o->machine,
				   jaildir);
			goto out;
		}
		if (fs_pathf(sock, sizeof(sock), err, "%s/run/firecracker.socket", root) < 0 ||
		    fs_pathf(log, sizeof(log), err, "%s/firecracker.log", jaildir) < 0)
			goto out;
	} else {
		if (fs_pathf(root, sizeof(root), err, "%s/%s", c.machines, o->machine) < 0 ||
		    fs_pathf(sock, sizeof(sock), err, "%s/firecracker.socket", root) < 0 ||
		    fs_pathf(log, sizeof(log), err, "%s/firecracker.log", root) < 0)
			goto out;
		if (fs_exists(root)) {
			sk_err_set(err, SK_EBUSY, "machine '%s': directory '%s' already exists",
				   o->machine, root);
			goto out;
		}
	}
	if (strlen(sock) >= 108) {
		sk_err_set(err, SK_EUSAGE, "socket path '%s' is too long for a Unix socket", sock);
		goto out;
	}
	for (i = 0; i < man.nart; i++) {
		const struct artifact_row *a = &man.arts[i];

		if (strcmp(a->kind, "disk"))
			continue;
		if (has_dotdot(a->recorded)) {
			sk_err_set(err, SK_EDAMAGED, "snapshot '%s': drive '%s' path '%s' has a '..' "
				   "component", o->snapshot, a->drive_id, a->recorded);
			goto out;
		}
		/* Unjailed, an absolute path would be the source machine's own disk. */
		if (!jailed && a->recorded[0] == '/') {
			sk_err_set(err, SK_EBUSY,
				   "snapshot '%s' records drive '%s' at the absolute path '%s'; "
				   "without a jailer the new machine would open that same file. "
				   "Configure [firecracker] jailer, or give machines relative "
				   "drive paths", o->snapshot, a->drive_id, a->recorded);
			goto out;
		}
	}

	snprintf(jr.object, sizeof(jr.object), "machine.%s", o->machine);
	snprintf(jr.kind, sizeof(jr.kind), "fcsnap-restore");
	snprintf(jr.step, sizeof(jr.step), "preparing");
	snprintf(jr.path, sizeof(jr.path), "%s", jailed ? jaildir : root);
	if (idx_journal_begin(c.ix, &jr, err) < 0)
		goto out;
	journaled = 1;
	/* A jail's parents are the jailer's (0755, as it makes them); its root is the user's. */
	if (fs_mkdir_p(root, jailed ? 0755 : 0700, err) < 0)
		goto out;
	if (jailed && (chown(root, (uid_t)man.uid, (gid_t)man.gid) < 0 || chmod(root, 0700) < 0)) {
		sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", root);
		goto out;
	}

	/* Disks: fresh clones at the paths the snapshot will reopen. */
	for (i = 0; i < man.nart; i++) {
		const struct artifact_row *a = &man.arts[i];
		const char *p = a->recorded;
		char dir[PATH_MAX];

		if (strcmp(a->kind, "disk"))
			continue;
		while (*p == '/')
			p++;
		if (fs_pathf(src, sizeof(src), err, "%s/%s", sdir, a->name) < 0 ||
		    fs_pathf(dst, sizeof(dst), err, "%s/%s", root, p) < 0)
			goto out;
		fs_split(dst, dir, sizeof(dir));
		if (fs_mkdir_p(dir, 0700, err) < 0)
			goto out;
		if (jailed && strcmp(dir, root) && chown(dir, (uid_t)man.uid, (gid_t)man.gid) < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", dir);
			goto out;
		}
		if (clone_file(src, dst, c.clone, a->read_only ? 0400 : 0600, NULL, err) < 0) {
			sk_err_wrap(err, "clone drive '%s'", a->drive_id);
			goto out;
		}
		if (jailed && chown(dst, (uid_t)man.uid, (gid_t)man.gid) < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", dst);
			goto out;
		}
	}
	/*
	 * Memory: Firecracker maps the file for the VM's whole life, so it must
	 * never change under it. A reflink is a private copy for free; without
	 * one the machine maps the snapshot's own file and pins the snapshot
	 * (fcsnap-delete refuses while it runs). In a jail it must be inside,
	 * owned by the jail's user: a copy.
	 */
	if (fs_pathf(src, sizeof(src), err, "%s/%s", sdir, a_mem->name) < 0 ||
	    fs_pathf(dst, sizeof(dst), err, "%s/statekit-memory", root) < 0)
		goto out;
	mrow.pins = 0;
	if (c.clone == CLONE_COPY ||
	    clone_file(src, dst, CLONE_REFLINK, 0600, &reflinked, &e) < 0) {
		sk_err_clear(&e);
		if (!jailed) {
			mrow.pins = 1;
			snprintf(dst, sizeof(dst), "%s", src);
		} else if (clone_file(src, dst, CLONE_COPY, 0600, NULL, err) < 0) {
			/* Not a hard link: the jail's user would own the snapshot's file. */
			goto out;
		}
	}
	if (jailed) {
		if (chown(dst, (uid_t)man.uid, (gid_t)man.gid) < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", dst);
			goto out;
		}
		snprintf(api_mem, sizeof(api_mem), "/statekit-memory");
	} else {
		snprintf(api_mem, sizeof(api_mem), "%s", dst);
	}
	/* The state file is read once at load. */
	if (fs_pathf(src, sizeof(src), err, "%s/%s", sdir, a_state->name) < 0)
		goto out;
	if (jailed) {
		if (fs_pathf(dst, sizeof(dst), err, "%s/statekit-vmstate", root) < 0 ||
		    clone_file(src, dst, CLONE_AUTO, 0600, NULL, err) < 0 ||
		    chown(dst, (uid_t)man.uid, (gid_t)man.gid) < 0) {
			if (!err->msg[0])
				sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", dst);
			goto out;
		}
		snprintf(api_state, sizeof(api_state), "/statekit-vmstate");
	} else {
		snprintf(api_state, sizeof(api_state), "%s", src);
	}
	if (check_interrupt(err) < 0)
		goto out;

	/* A fresh process for every load: a failed load ends Firecracker. */
	if (jailed) {
		char *argv[] = { c.cfg.fc_jailer, "--id", (char *)o->machine, "--exec-file", exe,
				 "--uid", uid, "--gid", gid, "--chroot-base-dir", base, NULL };

		snprintf(uid, sizeof(uid), "%ld", man.uid);
		snprintf(gid, sizeof(gid), "%ld", man.gid);
		child = spawn(argv, jaildir, log, err);
	} else {
		char *argv[] = { c.cfg.fc_binary, "--api-sock", sock, "--id", (char *)o->machine,
				 NULL };

		child = spawn(argv, root, log, err);
	}
	if (child < 0) {
		child = 0;
		goto out;
	}
	child_start = proc_start_time(child);
	jr.child = child;
	jr.child_start = child_start;
	snprintf(jr.step, sizeof(jr.step), "spawned");
	if (idx_journal_update(c.ix, &jr, err) < 0)
		goto out;
	fault_point("restore-spawned");
	if (wait_socket(child, sock, log, err) < 0 || fcapi_open(&fc, sock, err) < 0 ||
	    fcapi_describe(fc, &inst, err) < 0)
		goto out;
	if (novr && !fcapi_at_least(fc, 1, 12)) {
		sk_err_set(err, SK_EUSAGE, "--tap needs Firecracker 1.12 or later "
			   "(network_overrides); this one is %s", inst.vmm_version);
		goto out;
	}
	/*
	 * Unjailed, an absolute vsock path is the source machine's socket; give
	 * the new machine its own (vsock_override, 1.16 and later).
	 */
	fcjson_vsock_path(man.vm_config, vsock, sizeof(vsock));
	if (!jailed && vsock[0] == '/') {
		if (!fcapi_at_least(fc, 1, 16)) {
			sk_err_set(err, SK_EBUSY, "snapshot '%s' has a vsock at the absolute path '%s', "
				   "which the source machine uses; Firecracker %s cannot move it "
				   "(vsock_override needs 1.16)", o->snapshot, vsock, inst.vmm_version);
			goto out;
		}
		if (fs_pathf(vsock, sizeof(vsock), err, "%s/vsock.sock", root) < 0)
			goto out;
	} else {
		vsock[0] = '\0';
	}
	body = fcjson_body_snapshot_load(api_state, api_mem, fcapi_at_least(fc, 1, 1), overrides,
					 novr, vsock[0] ? vsock : NULL);
	if (!body) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	if (fcapi_call(fc, "PUT", "/snapshot/load", body, FCAPI_SLOW_TIMEOUT_MS, NULL, err) < 0) {
		sk_err_wrap(err, "load snapshot '%s'", o->snapshot);
		goto out;
	}
	fault_point("restore-loaded");
	if (call_state(fc, "Resumed", err) < 0 || fcapi_describe(fc, &inst, err) < 0)
		goto out;
	if (strcmp(inst.state, "Running")) {
		sk_err_set(err, SK_EFAIL, "machine '%s' is '%s' after the resume", o->machine,
			   inst.state);
		goto out;
	}

	snprintf(mrow.id, sizeof(mrow.id), "%s", o->machine);
	mrow.pid = child;
	mrow.pid_start = child_start;
	snprintf(mrow.socket, sizeof(mrow.socket), "%s", sock);
	set_str(mrow.root, sizeof(mrow.root), root);
	mrow.jailed = jailed;
	for (i = 0; i < man.nnets; i++) {
		size_t len = strlen(mrow.taps);

		snprintf(mrow.taps + len, sizeof(mrow.taps) - len, "%s%s=%s", len ? " " : "",
			 eff[i].iface, eff[i].tap);
	}
	snprintf(mrow.snapshot, sizeof(mrow.snapshot), "%s", o->snapshot);
	mrow.created = (int64_t)time(NULL);
	if (idx_machine_add(c.ix, &mrow, err) < 0)
		goto out;
	idx_journal_end(c.ix, jr.id, &e);
	journaled = 0;
	print_restore(o, &mrow);
	ret = 0;
out:
	if (ret < 0 && journaled) {
		struct sk_err re = SK_ERR_INIT;

		if (child > 0)
			proc_kill_wait(child, child_start);
		snapint_rmtree(jr.path);
		idx_journal_end(c.ix, jr.id, &re);
	}
	free(body);
	free(live);
	free(arts);
	fcjson_manifest_free(&man);
	fcapi_close(fc);
	lock_release(mlk);
	lock_release(slk);
	snapint_close(&c);
	return ret;
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
		if (ms[i].pins && !strcmp(ms[i].snapshot, o->snapshot) && machine_alive(&ms[i])) {
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
	ret = verify_artifacts(dir, id, arts, row.nartifacts, c->cfg.threads, 0, err);
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
