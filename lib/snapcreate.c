/* fcsnap-create: pause, snapshot, clone, resume, hash, record. */
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
 * Open a drive as Firecracker sees it. In a jail the path is resolved inside
 * the jail root (openat2 RESOLVE_IN_ROOT): the jail's user owns that tree, and
 * a symlink there must not reach a host file the way a path string would.
 * Unjailed, a relative path is resolved against the process's working
 * directory. The fd, or -1 (SK_EFAIL).
 */
static int open_drive(int rootfd, pid_t fcpid, const struct fc_drive *d, struct sk_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (rootfd >= 0) {
		struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };

		fd = (int)syscall(SYS_openat2, rootfd, d->path, &how, sizeof(how));
	} else {
		if (d->path[0] == '/')
			snprintf(path, sizeof(path), "%s", d->path);
		else if (fcpid > 0)
			snprintf(path, sizeof(path), "/proc/%d/cwd/%s", (int)fcpid, d->path);
		else
			return sk_err_set(err, SK_EFAIL,
					  "drive '%s': relative path '%s', and the Firecracker "
					  "process cannot be found to resolve it", d->id, d->path);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "drive '%s': cannot open '%s'", d->id,
				  d->path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return sk_err_set(err, SK_EFAIL, "drive '%s': '%s' is not a regular file", d->id,
				  d->path);
	}
	return fd;
}

static double ms_since(double t0)
{
	return (log_now() - t0) * 1000.0;
}

/*
 * move_out_of_jail across file systems: copy the jail's file into the
 * staging, and remove it from the jail only once the copy is complete and
 * on disk (clone_fd syncs the file, then the staging directory is synced).
 * A failed copy is reported with its own error; its partial file goes, the
 * jail's file stays.
 */
static int copy_out_of_jail(int jfd, int stagefd, const char *name, struct sk_err *err)
{
	struct stat st;
	int sfd, fd, ret = -1;

	sfd = openat(jfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "'%s' in the jail", name);
	if (fstat(sfd, &st) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "stat '%s' in the jail", name);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		sk_err_set(err, SK_EFAIL, "'%s' in the jail is not a regular file", name);
		goto out;
	}
	fd = openat(stagefd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "copy '%s' out of the jail: cannot create it",
			   name);
		goto out;
	}
	ret = clone_fd(sfd, fd, CLONE_AUTO, NULL, name, err);
	if (close(fd) < 0 && ret == 0)
		ret = sk_err_sys(err, SK_EFAIL, errno, "copy '%s' out of the jail: close", name);
	if (ret == 0 && fsync(stagefd) < 0)
		ret = sk_err_sys(err, SK_EFAIL, errno, "copy '%s' out of the jail: sync", name);
	if (ret < 0) {
		unlinkat(stagefd, name, 0);
		goto out;
	}
	/* The copy is whole and durable: the jail's file may go. */
	unlinkat(jfd, name, 0);
out:
	close(sfd);
	return ret;
}

/*
 * Firecracker wrote name inside the jail (jfd), as the jail's user, who owns
 * that directory and may have put anything there. Move it into the staging
 * (stagefd) and accept only a plain file with one link; the snapshot's copy
 * belongs to root alone, so no jailed process can change it afterwards. All
 * through directory fds and fchown/fchmod, never a path that could be a link.
 */
static int move_out_of_jail(int jfd, int stagefd, const char *name, struct sk_err *err)
{
	struct stat st;
	int fd;

	if (renameat(jfd, name, stagefd, name) == 0) {
		fd = openat(stagefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	} else if (errno == EXDEV) {
		if (copy_out_of_jail(jfd, stagefd, name, err) < 0)
			return -1;
		fd = openat(stagefd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		return sk_err_sys(err, SK_EFAIL, errno, "move '%s' out of the jail", name);
	}
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "'%s' from the jail is not a regular file",
				  name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return sk_err_set(err, SK_EFAIL, "'%s' from the jail is not a plain file with one "
				  "link", name);
	}
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0) {
		int e = errno;

		close(fd);
		return sk_err_sys(err, SK_EFAIL, e, "chown '%s'", name);
	}
	close(fd);
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
	struct progress prog;
	char (*paths)[PATH_MAX] = NULL;
	char sock[PATH_MAX], chroot[PATH_MAX], stage[PATH_MAX], final[PATH_MAX];
	char jside[PATH_MAX] = "", api_state[PATH_MAX], api_mem[PATH_MAX], binver[32];
	char *body = NULL, *cfgtext = NULL;
	struct sk_err e = SK_ERR_INIT;
	double t0 = 0, pause_ms = 0, t_clone, clone_ms;
	int we_paused = 0, journaled = 0, recorded = 0, nart = 0, i, rc, ret = -1;
	int rootfd = -1, jfd = -1, stagefd = -1;
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
	snapint_binary_versions(&c, binver, sizeof(binver), man.snapshot_version,
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
		struct stat js;
		const char *jname = strrchr(jside, '/') + 1;

		/*
		 * Firecracker writes the files itself, as the jail's user, inside
		 * the jail; that user owns the jail root and can race us there, so
		 * only fds and no-follow calls from here on.
		 */
		rootfd = open(chroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		stagefd = open(stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rootfd < 0 || stagefd < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "open '%s'", rootfd < 0 ? chroot : stage);
			goto out;
		}
		if (fs_rmtree_at(rootfd, jname, err) < 0)
			goto out;
		if (mkdirat(rootfd, jname, 0700) < 0 ||
		    (jfd = openat(rootfd, jname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
		    fstat(jfd, &js) < 0 || js.st_uid != geteuid() ||
		    fchown(jfd, jst.st_uid, jst.st_gid) < 0) {
			sk_err_sys(err, SK_EFAIL, errno ? errno : EPERM, "cannot create '%s'", jside);
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
		/*
		 * Counted as paused before the answer: a request that times out may
		 * still have paused it, and resuming a running machine is harmless.
		 */
		we_paused = 1;
		if (snapint_call_state(fc, "Paused", err) < 0) {
			sk_err_wrap(err, "pause machine '%s'", o->machine);
			goto out;
		}
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
		char dst[PATH_MAX];
		int sfd;

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
		if (fs_pathf(dst, sizeof(dst), err, "%s/%s", stage, a->name) < 0)
			goto out;
		sfd = open_drive(rootfd, fcpid, d, err);
		if (sfd < 0 || clone_fd_to(sfd, d->path, dst, c.clone, 0600, NULL, err) < 0) {
			if (sfd >= 0)
				close(sfd);
			sk_err_wrap(err, "clone drive '%s'", d->id);
			goto out;
		}
		close(sfd);
		nart++;
	}
	clone_ms = ms_since(t_clone);
	if (we_paused) {
		if (snapint_call_state(fc, "Resumed", err) < 0) {
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

	if (jfd >= 0) {
		for (i = 0; i < 2; i++)
			if (move_out_of_jail(jfd, stagefd, arts[i].name, err) < 0)
				goto out;
		fs_rmtree_at(rootfd, strrchr(jside, '/') + 1, &e);
	}
	if (snapint_check_interrupt(err) < 0)
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
	progress_start(&prog, o->progress, 0);
	snprintf(prog.what, sizeof(prog.what), "hashing '%s'", o->snapshot);
	rc = hash_many(jobs, (size_t)nart, c.cfg.threads, &prog);
	progress_end(&prog, rc == 0);
	if (rc < 0) {
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

		if (we_paused && snapint_call_state(fc, "Resumed", &re) < 0) {
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
	if (jfd >= 0)
		close(jfd);
	if (stagefd >= 0)
		close(stagefd);
	if (rootfd >= 0)
		close(rootfd);
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
