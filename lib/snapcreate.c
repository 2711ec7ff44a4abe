/* fcsnap-create: pause, snapshot, clone, resume, hash, record. */
#include "snap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
 * The host path of a drive path as Firecracker resolves it: inside the
 * chroot when jailed, else against the process's working directory.
 */
static int drive_host_path(const char *chroot, pid_t fcpid, const struct fc_drive *d, char *out,
			   struct sk_err *err)
{
	const char *p = d->path;

	if (chroot[0]) {
		if (snapint_has_dotdot(p))
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
		if (snapint_call_state(fc, "Paused", err) < 0) {
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
