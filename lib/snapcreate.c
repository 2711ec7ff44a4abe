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
	} else if (d->path[0] != '/' && fcpid <= 0) {
		return sk_err_set(err, SK_EFAIL,
				  "drive '%s': relative path '%s', and the Firecracker "
				  "process cannot be found to resolve it",
				  d->id, d->path);
	} else {
		int n = d->path[0] == '/'
			    ? snprintf(path, sizeof(path), "%s", d->path)
			    : snprintf(path, sizeof(path), "/proc/%d/cwd/%s", (int)fcpid, d->path);

		if (n >= (int)sizeof(path))
			return sk_err_sys(err, SK_EFAIL, ENAMETOOLONG,
					  "drive '%s': cannot open "
					  "'%s'",
					  d->id, d->path);
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
		return sk_err_set(err, SK_EFAIL,
				  "'%s' from the jail is not a plain file with one "
				  "link",
				  name);
	}
	if (fchown(fd, 0, 0) < 0 || fchmod(fd, 0600) < 0) {
		int e = errno;

		close(fd);
		return sk_err_sys(err, SK_EFAIL, e, "chown '%s'", name);
	}
	close(fd);
	return 0;
}

/* ---- the plan and its steps ---- */

/* Everything one fcsnap-create holds; on the heap (its paths alone are ~28 KB). */
struct create_plan {
	const struct snap_opts *o;
	struct sctx *c;
	struct lock *mlk, *slk;
	struct fcapi *fc;
	struct journal_row jr;
	int journaled;		 /* jr is in the journal */
	int recorded;		 /* the snapshot's rows are in the index */
	struct fc_instance inst; /* the machine as we found it */
	struct fc_vmconfig *vc;
	struct manifest man;
	struct artifact_row *arts; /* nart of them: state, memory, then disks */
	struct chunk_list *chunks; /* nart of them, once hashed */
	int nart;
	struct snapshot_row row;
	char sock[PATH_MAX];   /* the machine's API socket */
	char chroot[PATH_MAX]; /* its jail root, "" when not jailed */
	char stage[PATH_MAX];  /* tmp/snap.<id>, renamed to final at the end */
	char final[PATH_MAX];
	char jside[PATH_MAX]; /* <chroot>/.statekit-<id>, "" when not jailed */
	char api_state[PATH_MAX], api_mem[PATH_MAX]; /* as Firecracker is to write them */
	double t0, pause_ms, clone_ms;
	int we_paused;		  /* a resume is owed */
	int rootfd, jfd, stagefd; /* jail root, jail side, staging: -1 if not open */
	pid_t fcpid;
	struct stat jst;	 /* the jail root: its owner is the jail's user */
	struct snapdiff_plan dp; /* Full or Diff, and the Diff's base */
	char base_copy[8];	 /* how the base was laid: reflink, copy or empty */
	int64_t vmm_req;	 /* the request recorded for the process, 0 if none */
	double base_ms;		 /* and how long that took, before the pause */
};

/* Ids, index, locks (machine before snapshot), and the snapshot id is free. */
static int create_open(struct create_plan **pp, const struct snap_opts *o,
		       const struct snapint_repair *repairs, struct sk_err *err)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row existing;
	struct create_plan *p;
	struct sctx *c;

	if (config_check_id("machine", o->machine, err) < 0 ||
	    config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	p = *pp = calloc(1, sizeof(*p));
	if (!p)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	p->o = o;
	p->rootfd = p->jfd = p->stagefd = -1;
	if (snapint_open(&p->c, o->config_path, repairs, err) < 0)
		return -1;
	c = p->c;
	if (lock_acquire(&p->mlk, c->locks, "machine", o->machine, o->wait_s, err) < 0 ||
	    lock_acquire(&p->slk, c->locks, "snapshot", o->snapshot, o->wait_s, err) < 0)
		return -1;
	if (fs_pathf(p->final, sizeof(p->final), err, "%s/%s", c->snaps, o->snapshot) < 0 ||
	    fs_pathf(p->stage, sizeof(p->stage), err, "%s/snap.%s", c->tmp, o->snapshot) < 0)
		return -1;
	if (idx_snap_get(c->ix, o->snapshot, &existing, NULL, &e) == 0 || fs_exists(p->final))
		return sk_err_set(err, SK_EBUSY, "snapshot '%s' already exists", o->snapshot);
	if (e.code != SK_ENOENT) {
		*err = e;
		return -1;
	}
	return 0;
}

/* Find the machine, ask it what it is, and ask its binary for the snapshot format. */
static int describe_machine(struct create_plan *p, struct sk_err *err)
{
	const char *id = p->o->machine;
	char binver[32];

	if (find_machine(p->c, p->o, p->sock, p->chroot, err) < 0 ||
	    fcapi_open(&p->fc, p->sock, err) < 0)
		return -1;
	if (fcapi_describe(p->fc, &p->inst, err) < 0) {
		if (err->code == SK_EBUSY)
			sk_err_wrap(err, "machine '%s' is not running", id);
		return -1;
	}
	if (strcmp(p->inst.state, "Running") && strcmp(p->inst.state, "Paused"))
		return sk_err_set(err, SK_EBUSY, "machine '%s' is not running (state '%s')", id,
				  p->inst.state);
	p->fcpid = proc_socket_peer(p->sock);
	/* Ask the binary for its snapshot format now, not while the guest waits. */
	snapint_binary_versions(p->c, binver, sizeof(binver), p->man.snapshot_version,
				sizeof(p->man.snapshot_version));
	/* Another release: its answer is not ours. */
	if (strcmp(binver, p->inst.vmm_version))
		p->man.snapshot_version[0] = '\0';
	if (p->chroot[0] && stat(p->chroot, &p->jst) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "machine '%s': jail '%s'", id, p->chroot);
	return 0;
}

/*
 * Full or Diff (snapdiff.c), decided before the pause from the machine's
 * process and /vm/config; --full and [firecracker] snapshot = full force Full.
 */
static int choose_type(struct create_plan *p, struct sk_err *err)
{
	struct fc_vmconfig *vc;
	char *text = NULL;
	int rc;

	if (p->o->full) {
		memset(&p->dp, 0, sizeof(p->dp));
		snprintf(p->dp.why, sizeof(p->dp.why), "--full");
		return 0;
	}
	if (fcapi_call(p->fc, "GET", "/vm/config", NULL, FCAPI_TIMEOUT_MS, &text, err) < 0)
		return -1;
	vc = calloc(1, sizeof(*vc));
	if (!vc) {
		free(text);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	rc = fcjson_vmconfig(text, vc, err); /* vc->raw owns text now */
	if (rc == 0)
		snapdiff_choose(p->c, p->o->machine, p->fcpid, p->inst.vmm_version, vc, &p->dp);
	free(vc->raw);
	free(vc);
	return rc;
}

/* The journal row (from here on a failure is undone), then an empty staging directory. */
static int begin_stage(struct create_plan *p, struct sk_err *err)
{
	struct journal_row *jr = &p->jr;

	snprintf(jr->object, sizeof(jr->object), "machine.%s", p->o->machine);
	snprintf(jr->kind, sizeof(jr->kind), "fcsnap-create");
	snprintf(jr->step, sizeof(jr->step), "started");
	snprintf(jr->staging, sizeof(jr->staging), "%s", p->stage);
	snprintf(jr->socket, sizeof(jr->socket), "%s", p->sock);
	if (p->chroot[0] && fs_pathf(p->jside, sizeof(p->jside), err, "%s/.statekit-%s", p->chroot,
				     p->o->snapshot) < 0)
		return -1;
	snprintf(jr->jail_side, sizeof(jr->jail_side), "%s", p->jside);
	if (idx_journal_begin(p->c->ix, jr, err) < 0)
		return -1;
	p->journaled = 1;
	if (fs_rmtree(p->stage, err) < 0)
		return -1;
	if (mkdir(p->stage, 0700) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", p->stage);
	return 0;
}

/*
 * Jailed: Firecracker writes the files itself, as the jail's user, inside
 * the jail; that user owns the jail root and can race us there, so only fds
 * and no-follow calls from here on.
 */
static int make_jail_side(struct create_plan *p, struct sk_err *err)
{
	const char *jname = strrchr(p->jside, '/') + 1;
	struct stat js;

	p->rootfd = open(p->chroot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	p->stagefd = open(p->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (p->rootfd < 0 || p->stagefd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "open '%s'",
				  p->rootfd < 0 ? p->chroot : p->stage);
	if (fs_rmtree_at(p->rootfd, jname, err) < 0)
		return -1;
	if (mkdirat(p->rootfd, jname, 0700) < 0 ||
	    (p->jfd = openat(p->rootfd, jname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
		0 ||
	    fstat(p->jfd, &js) < 0 || js.st_uid != geteuid() ||
	    fchown(p->jfd, p->jst.st_uid, p->jst.st_gid) < 0)
		return sk_err_sys(err, SK_EFAIL, errno ? errno : EPERM, "cannot create '%s'",
				  p->jside);
	snprintf(p->api_state, sizeof(p->api_state), "/.statekit-%s/vmstate", p->o->snapshot);
	snprintf(p->api_mem, sizeof(p->api_mem), "/.statekit-%s/memory", p->o->snapshot);
	return 0;
}

/* Where Firecracker writes the state and memory files: the staging, or inside the jail. */
static int stage(struct create_plan *p, struct sk_err *err)
{
	if (begin_stage(p, err) < 0)
		return -1;
	if (p->jside[0])
		return make_jail_side(p, err);
	if (fs_pathf(p->api_state, sizeof(p->api_state), err, "%s/vmstate", p->stage) < 0 ||
	    fs_pathf(p->api_mem, sizeof(p->api_mem), err, "%s/memory", p->stage) < 0)
		return -1;
	return 0;
}

/*
 * A Diff is written onto the file Firecracker finds at the memory path when
 * it has the guest's exact size: lay the base there now, before the pause
 * (a reflink, else a sparse copy; an empty file for a booted machine). In a
 * jail the file is inside, owned by the jail's user, who writes it.
 */
static int lay_base(struct create_plan *p, struct sk_err *err)
{
	int dirfd = p->jfd, own = -1, sfd = -1, dfd, reflinked = 0, ret = -1;
	double t = log_now();

	if (!p->dp.diff)
		return 0;
	if (dirfd < 0)
		dirfd = own = open(p->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dfd = dirfd < 0 ? -1
			: openat(dirfd, "memory",
				 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot create the memory file in '%s'",
			   p->jside[0] ? p->jside : p->stage);
		goto out;
	}
	if (p->dp.base_path[0]) {
		sfd = open(p->dp.base_path, O_RDONLY | O_CLOEXEC);
		if (sfd < 0 || clone_fd(sfd, dfd, CLONE_AUTO, &reflinked, "memory", err) < 0) {
			if (sfd < 0)
				sk_err_sys(err, SK_EFAIL, errno, "open '%s'", p->dp.base_path);
			sk_err_wrap(err, "lay the base of a Diff snapshot");
			goto out;
		}
		snprintf(p->base_copy, sizeof(p->base_copy), "%s", reflinked ? "reflink" : "copy");
	} else {
		snprintf(p->base_copy, sizeof(p->base_copy), "empty");
	}
	if (ftruncate(dfd, (off_t)p->dp.mem_bytes) < 0 ||
	    (p->jfd >= 0 && fchown(dfd, p->jst.st_uid, p->jst.st_gid) < 0)) {
		sk_err_sys(err, SK_EFAIL, errno, "prepare the memory file");
		goto out;
	}
	p->base_ms = ms_since(t);
	ret = 0;
out:
	if (sfd >= 0)
		close(sfd);
	if (dfd >= 0)
		close(dfd);
	if (own >= 0)
		close(own);
	return ret;
}

/*
 * Any snapshot resets the process's dirty page log: record that one is asked
 * for, before the pause, so that the next Diff knows its base (snapdiff.c).
 */
static int note_request(struct create_plan *p, struct sk_err *err)
{
	if (p->fcpid <= 0)
		return 0;
	return idx_vmm_snapshot_begin(p->c->ix, p->o->machine, (long)p->fcpid,
				      proc_start_time(p->fcpid), p->o->snapshot, &p->vmm_req, err);
}

/* The pause window opens: from here to resume_machine, nothing slow. */
static int pause_machine(struct create_plan *p, struct sk_err *err)
{
	if (!strcmp(p->inst.state, "Running")) {
		p->jr.paused = 1;
		snprintf(p->jr.step, sizeof(p->jr.step), "pausing");
		if (idx_journal_update(p->c->ix, &p->jr, err) < 0)
			return -1;
		p->t0 = log_now();
		/*
		 * Counted as paused before the answer: a request that times out may
		 * still have paused it, and resuming a running machine is harmless.
		 */
		p->we_paused = 1;
		if (snapint_call_state(p->fc, "Paused", err) < 0) {
			sk_err_wrap(err, "pause machine '%s'", p->o->machine);
			return -1;
		}
	}
	fault_point("create-paused");
	return 0;
}

/* The machine's config (its drives and nets), then Firecracker writes state and memory. */
static int take_snapshot(struct create_plan *p, struct sk_err *err)
{
	char *cfgtext = NULL, *body;
	int rc;

	if (fcapi_call(p->fc, "GET", "/vm/config", NULL, FCAPI_TIMEOUT_MS, &cfgtext, err) < 0)
		return -1;
	p->vc = calloc(1, sizeof(*p->vc));
	if (!p->vc) {
		free(cfgtext);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	if (fcjson_vmconfig(cfgtext, p->vc, err) < 0) /* p->vc->raw owns cfgtext now */
		return -1;
	p->arts = calloc((size_t)p->vc->ndrives + 2, sizeof(*p->arts));
	/* The base was laid for this size: if it changed, Full is right whatever is there. */
	if (p->dp.diff && ((uint64_t)p->vc->mem_mib << 20) != p->dp.mem_bytes) {
		p->dp.diff = 0;
		snprintf(p->dp.why, sizeof(p->dp.why), "the guest's memory size changed");
	}
	body = fcjson_body_snapshot_create(p->api_state, p->api_mem, p->dp.diff);
	if (!p->arts || !body) {
		free(body);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	rc = fcapi_call(p->fc, "PUT", "/snapshot/create", body, FCAPI_SLOW_TIMEOUT_MS, NULL, err);
	free(body);
	if (rc < 0)
		return -1;
	fault_point("create-snapshotted");
	snprintf(p->arts[0].name, sizeof(p->arts[0].name), "vmstate");
	snprintf(p->arts[0].kind, sizeof(p->arts[0].kind), "state");
	snprintf(p->arts[1].name, sizeof(p->arts[1].name), "memory");
	snprintf(p->arts[1].kind, sizeof(p->arts[1].kind), "memory");
	p->nart = 2;
	return 0;
}

/* One drive's artifact: a clone of its file as Firecracker sees it. */
static int clone_disk(struct create_plan *p, const struct fc_drive *d, struct sk_err *err)
{
	struct artifact_row *a = &p->arts[p->nart];
	char dst[PATH_MAX];
	int sfd;

	if (d->vhost_user)
		return sk_err_set(err, SK_EFAIL,
				  "drive '%s' is a vhost-user socket; statekit "
				  "can only snapshot file-backed drives",
				  d->id);
	snprintf(a->name, sizeof(a->name), "disk-%s", d->id);
	snprintf(a->kind, sizeof(a->kind), "disk");
	snprintf(a->drive_id, sizeof(a->drive_id), "%s", d->id);
	snprintf(a->recorded, sizeof(a->recorded), "%s", d->path);
	a->read_only = d->read_only;
	if (!fcjson_safe_name(a->name))
		return sk_err_set(err, SK_EFAIL, "drive id '%s' cannot name a file", d->id);
	if (fs_pathf(dst, sizeof(dst), err, "%s/%s", p->stage, a->name) < 0)
		return -1;
	sfd = open_drive(p->rootfd, p->fcpid, d, err);
	if (sfd < 0 || clone_fd_to(sfd, d->path, dst, p->c->clone, 0600, NULL, err) < 0) {
		if (sfd >= 0)
			close(sfd);
		sk_err_wrap(err, "clone drive '%s'", d->id);
		return -1;
	}
	close(sfd);
	p->nart++;
	return 0;
}

/* Disks are copied while the guest cannot write to them. */
static int clone_disks(struct create_plan *p, struct sk_err *err)
{
	double t_clone = log_now();
	int i;

	for (i = 0; i < p->vc->ndrives; i++)
		if (clone_disk(p, &p->vc->drives[i], err) < 0)
			return -1;
	p->clone_ms = ms_since(t_clone);
	return 0;
}

/*
 * The rule "the machine is resumed", written once: if we paused it, resume it
 * and close the pause window. Called on success and by create_close on
 * failure. -1 (err) when it may still be paused.
 */
static int resume_machine(struct create_plan *p, struct sk_err *err)
{
	if (!p->we_paused)
		return 0;
	if (snapint_call_state(p->fc, "Resumed", err) < 0)
		return -1;
	p->pause_ms = ms_since(p->t0);
	p->we_paused = 0;
	return 0;
}

/* Resumed: the journal says so, so that a repair does not resume it again. */
static int resume(struct create_plan *p, struct sk_err *err)
{
	if (p->we_paused) {
		if (resume_machine(p, err) < 0) {
			sk_err_wrap(err, "resume machine '%s'", p->o->machine);
			return -1;
		}
		p->jr.paused = 0;
		snprintf(p->jr.step, sizeof(p->jr.step), "resumed");
		if (idx_journal_update(p->c->ix, &p->jr, err) < 0)
			return -1;
	}
	fault_point("create-resumed");
	return 0;
}

/* Jailed: the state and memory files come out of the jail into the staging. */
static int take_out_of_jail(struct create_plan *p, struct sk_err *err)
{
	struct sk_err e = SK_ERR_INIT;
	int i;

	if (p->jfd >= 0) {
		for (i = 0; i < 2; i++)
			if (move_out_of_jail(p->jfd, p->stagefd, p->arts[i].name, err) < 0)
				return -1;
		fs_rmtree_at(p->rootfd, strrchr(p->jside, '/') + 1, &e);
	}
	return snapint_check_interrupt(err);
}

/* Hash after the resume: the chunks of every file, on every core. */
static int hash_artifacts(struct create_plan *p, struct sk_err *err)
{
	struct chunk_job *jobs = calloc((size_t)p->nart, sizeof(*jobs));
	char(*paths)[PATH_MAX] = calloc((size_t)p->nart, sizeof(*paths));
	struct progress prog;
	int i, rc = -1;

	p->chunks = calloc((size_t)p->nart, sizeof(*p->chunks));
	if (!jobs || !paths || !p->chunks) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	for (i = 0; i < p->nart; i++) {
		if (fs_pathf(paths[i], sizeof(paths[i]), err, "%s/%s", p->stage, p->arts[i].name) <
		    0)
			goto out;
		jobs[i].path = paths[i];
		/* A Full memory file is dense: its zero pages become holes here, after the pause.
		 */
		jobs[i].punch = !strcmp(p->arts[i].kind, "memory");
	}
	progress_start(&prog, p->o->progress, 0);
	snprintf(prog.what, sizeof(prog.what), "hashing '%s'", p->o->snapshot);
	rc = chunk_hash_many(jobs, (size_t)p->nart, HASH_CHUNK_SIZE, p->c->cfg.threads, &prog);
	progress_end(&prog, rc == 0);
	for (i = 0; i < p->nart; i++)
		p->chunks[i] = jobs[i].chunks; /* freed with the plan, whatever happened */
	for (i = 0; i < p->nart && rc == 0; i++) {
		memcpy(p->arts[i].sha256, jobs[i].hex, sizeof(jobs[i].hex));
		p->arts[i].size = jobs[i].size;
		p->row.size += jobs[i].size;
	}
	for (i = 0; i < p->nart && rc < 0 && jobs[i].ret == 0; i++)
		;
	if (rc < 0)
		*err = jobs[i].err;
out:
	free(jobs);
	free(paths);
	return rc;
}

/* The manifest, written into the staging by rule 1. */
static int write_manifest(struct create_plan *p, struct sk_err *err)
{
	struct manifest *m = &p->man;

	m->format = MANIFEST_FORMAT;
	snprintf(m->snapshot, sizeof(m->snapshot), "%s", p->o->snapshot);
	snprintf(m->machine, sizeof(m->machine), "%s", p->o->machine);
	m->created = (int64_t)time(NULL);
	snprintf(m->vmm_version, sizeof(m->vmm_version), "%s", p->inst.vmm_version);
	m->jailed = p->chroot[0] != '\0';
	m->uid = (long)p->jst.st_uid;
	m->gid = (long)p->jst.st_gid;
	guest_ip(p->vc->boot_args, m->guest_ip, sizeof(m->guest_ip));
	m->pause_us = (int64_t)(p->pause_ms * 1000.0);
	m->nnets = p->vc->nnets;
	memcpy(m->nets, p->vc->nets, sizeof(p->vc->nets));
	m->nart = p->nart;
	m->arts = p->arts;
	m->chunk_size = HASH_CHUNK_SIZE;
	m->chunks = p->chunks;
	m->diff = p->dp.diff;
	snprintf(m->base, sizeof(m->base), "%s", p->dp.base);
	snprintf(m->diff_pages, sizeof(m->diff_pages), "%s", p->dp.pages);
	m->vm_config = p->vc->raw;
	if (snapint_write_manifest(p->stage, m, err) < 0 || fs_fsync_path(p->stage, err) < 0)
		return -1;
	return 0;
}

/* Rename the staging into place, then the index rows, then the end of the journal row. */
static int record_snapshot(struct create_plan *p, struct sk_err *err)
{
	struct snapshot_row *row = &p->row;
	struct sk_err e = SK_ERR_INIT;

	snprintf(row->id, sizeof(row->id), "%s", p->o->snapshot);
	snprintf(row->machine, sizeof(row->machine), "%s", p->o->machine);
	row->created = p->man.created;
	snprintf(row->vmm_version, sizeof(row->vmm_version), "%s", p->man.vmm_version);
	snprintf(row->snapshot_version, sizeof(row->snapshot_version), "%s",
		 p->man.snapshot_version);
	row->pause_us = p->man.pause_us;
	snprintf(p->jr.step, sizeof(p->jr.step), "committing");
	if (idx_journal_update(p->c->ix, &p->jr, err) < 0)
		return -1;
	if (rename(p->stage, p->final) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "rename '%s' to '%s'", p->stage, p->final);
	if (fs_fsync_path(p->c->snaps, err) < 0)
		return -1;
	fault_point("create-committing");
	if (idx_snap_add(p->c->ix, row, p->arts, p->nart, err) < 0)
		return -1;
	p->recorded = 1;
	/* Left undone, the next Diff of this process is Full: safe, only slower. */
	if (p->vmm_req && idx_vmm_snapshot_done(p->c->ix, p->vmm_req, &e) < 0)
		log_warn("%s", e.msg);
	if (idx_journal_end(p->c->ix, p->jr.id, err) < 0)
		return -1;
	p->journaled = 0;
	return 0;
}

/* What was made, for the caller; it takes the artifacts over. */
static void hand_over(struct create_plan *p, struct snap_created *res)
{
	res->row = p->row;
	res->arts = p->arts;
	res->nart = p->nart;
	p->arts = NULL;
	p->man.arts = NULL;
	res->pause_ms = p->pause_ms;
	res->clone_ms = p->clone_ms;
	res->was_paused = !strcmp(p->inst.state, "Paused");
	res->diff = p->dp.diff;
	snprintf(res->base, sizeof(res->base), "%s", p->dp.base);
	snprintf(res->diff_pages, sizeof(res->diff_pages), "%s", p->dp.pages);
	snprintf(res->base_copy, sizeof(res->base_copy), "%s", p->base_copy);
	snprintf(res->full_why, sizeof(res->full_why), "%s", p->dp.diff ? "" : p->dp.why);
	res->base_ms = p->base_ms;
	snprintf(res->dir, sizeof(res->dir), "%s", p->final);
}

/* Undo a failed create: resume, remove what was staged, end the row. */
static void create_undo(struct create_plan *p)
{
	struct sk_err re = SK_ERR_INIT;
	int resumed = 1;

	if (resume_machine(p, &re) < 0) {
		log_error("cannot resume machine '%s': %s", p->o->machine, re.msg);
		resumed = 0;
	}
	snapint_rmtree(p->stage);
	snapint_rmtree(p->jside);
	if (!p->recorded && !strcmp(p->jr.step, "committing"))
		snapint_rmtree(p->final);
	/* A machine we could not resume keeps its row: the next command retries. */
	if (resumed)
		idx_journal_end(p->c->ix, p->jr.id, &re);
}

static void create_close(struct create_plan *p, int ret)
{
	int i;

	if (!p)
		return;
	if (ret < 0 && p->journaled)
		create_undo(p);
	if (p->jfd >= 0)
		close(p->jfd);
	if (p->stagefd >= 0)
		close(p->stagefd);
	if (p->rootfd >= 0)
		close(p->rootfd);
	if (p->vc)
		free(p->vc->raw);
	free(p->vc);
	for (i = 0; p->chunks && i < p->nart; i++)
		chunk_list_free(&p->chunks[i]);
	free(p->chunks);
	free(p->arts);
	fcapi_close(p->fc);
	lock_release(p->slk);
	lock_release(p->mlk);
	snapint_close(p->c);
	free(p);
}

int snapcreate_run(const struct snap_opts *o, const struct snapint_repair *repairs,
		   struct snap_created *res, struct sk_err *err)
{
	struct create_plan *p = NULL;
	int ret = -1;

	if (create_open(&p, o, repairs, err) < 0 || describe_machine(p, err) < 0 ||
	    choose_type(p, err) < 0)
		goto out;
	if (stage(p, err) < 0 || lay_base(p, err) < 0 || /* the journal row, from here on undone */
	    note_request(p, err) < 0)
		goto out;
	if (pause_machine(p, err) < 0 || take_snapshot(p, err) < 0 || clone_disks(p, err) < 0 ||
	    resume(p, err) < 0)
		goto out;
	if (take_out_of_jail(p, err) < 0 || hash_artifacts(p, err) < 0 ||
	    write_manifest(p, err) < 0 || record_snapshot(p, err) < 0)
		goto out;
	hand_over(p, res);
	ret = 0;
out:
	create_close(p, ret); /* resume if still paused, undo, end the journal row */
	return ret;
}

/* ---- repair ---- */

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

/* The snapshot id from a staging path ".../snap.<id>". */
static const char *staged_id(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "snap.", 5) ? NULL : b + 5;
}

/* fcsnap-create killed: resume the machine if it was left paused, remove the staging. */
void snapcreate_repair(struct sctx *c, const struct journal_row *r, const char *machine)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row row;
	struct lock *slk = NULL;
	const char *sid = staged_id(r->staging);
	char final[PATH_MAX];

	if (r->paused && resume_socket(r->socket, machine) < 0)
		return;
	if (!sid || lock_acquire(&slk, c->locks, "snapshot", sid, 0, &e) < 0)
		return;
	/* Renamed into place but never recorded: not a snapshot. */
	if (!strcmp(r->step, "committing") && idx_snap_get(c->ix, sid, &row, NULL, &e) < 0 &&
	    e.code == SK_ENOENT && fs_pathf(final, sizeof(final), &e, "%s/%s", c->snaps, sid) == 0)
		snapint_rmtree(final);
	snapint_rmtree(r->staging);
	snapint_rmtree(r->jail_side);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
	lock_release(slk);
}
