/* fcsnap-restore: verify, lay out, start a fresh Firecracker, load, resume, record. */
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
#include "index.h"
#include "lock.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "snapint.h"
#include "banned.h"

#define SPAWN_WAIT_S 10

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

			if ((end == ' ' || end == '\0') && snapint_machine_alive(&ms[i]))
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

	snapint_binary_versions(c, ver, sizeof(ver), fmt, sizeof(fmt));
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

/*
 * Start argv in a session of its own, in dir, its output appended to log,
 * held at the gate (sp->gated): the caller records the pid in the journal
 * first and then releases it (proc_spawn_release), so that no Firecracker
 * can run that a repair would not know to kill. If the caller dies first,
 * the child reads end-of-file at the gate and exits.
 */
static int spawn_vmm(struct proc_spawn *sp, char *const argv[], const char *dir, const char *log,
		     struct sk_err *err)
{
	int fd, ret;

	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", log);
	*sp = (struct proc_spawn)PROC_SPAWN_INIT(argv);
	sp->dir = dir;
	sp->out_fd = sp->err_fd = fd;
	sp->group = PROC_NEW_SESSION;
	sp->gated = 1;
	ret = proc_spawn(sp, "firecracker", err);
	close(fd);
	return ret;
}

/* Files restore makes in a machine's directory or jail root, that no disk may be. */
static int is_reserved(const char *path)
{
	static const char *const names[] = { "firecracker.log", "firecracker.socket",
					      "firecracker.pid", "firecracker", "statekit-memory",
					      "statekit-vmstate", "vsock.sock", "run", "dev" };
	const char *p = path;
	size_t i, n;

	while (*p == '/')
		p++;
	n = strcspn(p, "/");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !strncmp(p, names[i], n))
			return 1;
	return 0;
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
	snapint_set_str(out, size, p ? p + 1 : buf);
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
	int jailed, novr = 0, journaled = 0, i, k, rc, ret = -1, reflinked;
	pid_t child = 0;
	int64_t child_start = 0;
	struct proc_spawn sp = PROC_SPAWN_INIT(NULL);

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
		if (snapint_machine_alive(&old)) {
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
	if (snapint_verify_artifacts(sdir, o->snapshot, arts, srow.nartifacts, c.cfg.threads,
				     o->progress, err) < 0)
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
	/*
	 * The jail's user comes from the manifest (the source jail's owner). A
	 * jail running as root protects nothing, and an imported manifest must
	 * not be able to ask for one.
	 */
	if (jailed && (man.uid == 0 || man.gid == 0)) {
		sk_err_set(err, SK_EUSAGE, "snapshot '%s' would run its jail as %s (uid %ld, gid %ld "
			   "from the manifest); a jail must not run as root", o->snapshot,
			   man.jailed ? "root" : "root, because it comes from an unjailed machine",
			   man.uid, man.gid);
		goto out;
	}
	if (strlen(sock) >= 108) {
		sk_err_set(err, SK_EUSAGE, "socket path '%s' is too long for a Unix socket", sock);
		goto out;
	}
	for (i = 0; i < man.nart; i++) {
		const struct artifact_row *a = &man.arts[i];

		if (strcmp(a->kind, "disk"))
			continue;
		if (snapint_has_dotdot(a->recorded)) {
			sk_err_set(err, SK_EDAMAGED, "snapshot '%s': drive '%s' path '%s' has a '..' "
				   "component", o->snapshot, a->drive_id, a->recorded);
			goto out;
		}
		if (is_reserved(a->recorded)) {
			sk_err_set(err, SK_EDAMAGED, "snapshot '%s': drive '%s' path '%s' is a name "
				   "fcsnap-restore keeps for itself", o->snapshot, a->drive_id,
				   a->recorded);
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
	if (snapint_check_interrupt(err) < 0)
		goto out;

	/* A fresh process for every load: a failed load ends Firecracker. */
	if (jailed) {
		char *argv[] = { c.cfg.fc_jailer, "--id", (char *)o->machine, "--exec-file", exe,
				 "--uid", uid, "--gid", gid, "--chroot-base-dir", base, NULL };

		snprintf(uid, sizeof(uid), "%ld", man.uid);
		snprintf(gid, sizeof(gid), "%ld", man.gid);
		rc = spawn_vmm(&sp, argv, jaildir, log, err);
	} else {
		char fcid[72], *p;
		char *argv[] = { c.cfg.fc_binary, "--api-sock", sock, "--id", fcid, NULL };

		/* Firecracker's --id takes letters, digits and '-' only; it only names logs. */
		snprintf(fcid, sizeof(fcid), "%s", o->machine);
		for (p = fcid; *p; p++)
			if (*p == '_')
				*p = '-';
		rc = spawn_vmm(&sp, argv, root, log, err);
	}
	if (rc < 0)
		goto out;
	child = sp.pid;
	child_start = proc_start_time(child);
	jr.child = child;
	jr.child_start = child_start;
	snprintf(jr.step, sizeof(jr.step), "spawned");
	if (idx_journal_update(c.ix, &jr, err) < 0)
		goto out;
	if (proc_spawn_release(&sp, "firecracker", err) < 0)
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
	if (snapint_call_state(fc, "Resumed", err) < 0 || fcapi_describe(fc, &inst, err) < 0)
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
	snapint_set_str(mrow.root, sizeof(mrow.root), root);
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
	proc_spawn_cancel(&sp);	/* a child still at the gate exits */
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
