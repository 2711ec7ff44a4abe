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
		return sk_err_set(err, SK_EUSAGE,
				  "cannot run '%s --version': is [firecracker] "
				  "binary right?",
				  c->cfg.fc_binary);
	if (m->snapshot_version[0] && fmt[0]) {
		if (fcapi_parse_version(m->snapshot_version, &a, &b, NULL) < 0 ||
		    fcapi_parse_version(fmt, &x, &y, NULL) < 0 || a != x || b > y)
			return sk_err_set(err, SK_EUSAGE,
					  "snapshot '%s' has snapshot format v%s (Firecracker %s), "
					  "but "
					  "'%s' is Firecracker %s with format v%s",
					  m->snapshot, m->snapshot_version, m->vmm_version,
					  c->cfg.fc_binary, ver[0] ? ver : "?", fmt);
		return 0;
	}
	/* No format recorded: the same release line is the safe rule. */
	if (fcapi_parse_version(m->vmm_version, &a, &b, NULL) < 0 ||
	    fcapi_parse_version(ver, &x, &y, NULL) < 0 || a != x || b != y)
		return sk_err_set(err, SK_EUSAGE,
				  "snapshot '%s' was made by Firecracker %s, but '%s' is "
				  "Firecracker "
				  "%s",
				  m->snapshot, m->vmm_version, c->cfg.fc_binary,
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
	static const char *const names[] = { "firecracker.log",
					     "firecracker.socket",
					     "firecracker.pid",
					     "firecracker",
					     "statekit-memory",
					     "statekit-vmstate",
					     "vsock.sock",
					     "run",
					     "dev" };
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
			return sk_err_set(err, SK_EFAIL,
					  "Firecracker exited at start (status %d)%s%s",
					  WIFEXITED(status) ? WEXITSTATUS(status)
							    : 128 + WTERMSIG(status),
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

/* ---- the plan and its steps ---- */

/* Everything one fcsnap-restore holds; on the heap (its paths alone are ~40 KB). */
struct restore_plan {
	const struct snap_opts *o;
	struct sctx *c;
	struct lock *mlk, *slk;
	struct fcapi *fc;
	struct journal_row jr;
	int journaled; /* jr is in the journal */
	struct snapshot_row srow;
	struct artifact_row *arts; /* the index's artifacts of the snapshot */
	struct manifest man;
	struct machine_row mrow;	/* the new machine, as recorded at the end */
	struct fc_net eff[FC_MAX_NETS]; /* the TAPs it gets: recorded, remapped by --tap */
	struct fc_net overrides[FC_MAX_NETS];
	int novr;
	struct fc_instance inst;
	int jailed;
	char sdir[PATH_MAX];	/* the snapshot's directory */
	char root[PATH_MAX];	/* the machine's directory, or its jail root */
	char jaildir[PATH_MAX]; /* <base>/<exec name>/<id>, "" unjailed */
	char base[PATH_MAX];	/* the jailer's --chroot-base-dir */
	char exe[PATH_MAX];	/* the Firecracker binary, absolute (jailed) */
	char sock[PATH_MAX], log[PATH_MAX];
	char api_state[PATH_MAX], api_mem[PATH_MAX]; /* as Firecracker is to open them */
	char src[PATH_MAX], dst[PATH_MAX];	     /* scratch for the lay-out steps */
	struct proc_spawn sp;
	pid_t child;
	int64_t child_start;
};

/* Ids, index, locks (machine before snapshot, as fcsnap-create: no lock-order cycle). */
static int restore_open(struct restore_plan **pp, const struct snap_opts *o,
			const struct snapint_repair *repairs, struct sk_err *err)
{
	struct restore_plan *p;

	if (config_check_id("snapshot", o->snapshot, err) < 0 ||
	    config_check_id("machine", o->machine, err) < 0)
		return -1;
	p = *pp = calloc(1, sizeof(*p));
	if (!p)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	p->o = o;
	p->sp = (struct proc_spawn)PROC_SPAWN_INIT(NULL);
	if (snapint_open(&p->c, o->config_path, repairs, err) < 0)
		return -1;
	p->jailed = p->c->cfg.fc_jailer[0] != '\0';
	if (lock_acquire(&p->mlk, p->c->locks, "machine", o->machine, o->wait_s, err) < 0 ||
	    lock_acquire(&p->slk, p->c->locks, "snapshot", o->snapshot, o->wait_s, err) < 0)
		return -1;
	return idx_snap_get(p->c->ix, o->snapshot, &p->srow, &p->arts, err);
}

/* The new machine's id must be free: no live record, no directory, no socket. */
static int check_machine_free(struct restore_plan *p, struct sk_err *err)
{
	const char *id = p->o->machine;
	struct sk_err e = SK_ERR_INIT;
	struct machine_row old;

	if (idx_machine_get(p->c->ix, id, &old, &e) == 0) {
		if (snapint_machine_alive(&old))
			return sk_err_set(err, SK_EBUSY, "machine '%s' already exists (pid %ld)",
					  id, old.pid);
		if (fs_exists(old.root))
			return sk_err_set(err, SK_EBUSY,
					  "machine '%s' has stopped, but its "
					  "directory '%s' remains; remove it to reuse the id",
					  id, old.root);
		if (idx_machine_delete(p->c->ix, id, err) < 0)
			return -1;
	}
	if (config_expand(p->c->cfg.fc_socket, id, p->sock, sizeof(p->sock), err) < 0)
		return -1;
	if (proc_socket_peer(p->sock) > 0)
		return sk_err_set(err, SK_EBUSY,
				  "machine '%s' already exists: a Firecracker "
				  "answers on '%s'",
				  id, p->sock);
	return 0;
}

/* Everything is checked before anything is created: manifest, hashes, format. */
static int check_artifacts(struct restore_plan *p, struct sk_err *err)
{
	const struct snap_opts *o = p->o;

	if (fs_pathf(p->sdir, sizeof(p->sdir), err, "%s/%s", p->c->snaps, o->snapshot) < 0 ||
	    snapint_read_manifest(p->sdir, &p->man, err) < 0 ||
	    snapint_manifest_matches(&p->man, &p->srow, p->arts, err) < 0)
		return -1;
	if (snapint_verify_artifacts(p->sdir, o->snapshot, &p->man, p->c->cfg.threads, o->progress,
				     err) < 0)
		return -1;
	return version_check(p->c, &p->man, err);
}

/* No two machines share a TAP: each one the new machine gets must be free. */
static int check_taps_free(struct restore_plan *p, struct sk_err *err)
{
	struct machine_row *live = NULL;
	size_t nlive = 0;
	int i, ret = 0;

	if (idx_machine_list(p->c->ix, &live, &nlive, err) < 0)
		return -1;
	for (i = 0; i < p->man.nnets && ret == 0; i++) {
		const struct fc_net *t = &p->eff[i];
		const struct machine_row *owner = tap_owner(live, nlive, t->tap);
		pid_t holder = owner ? (pid_t)owner->pid : proc_tap_holder(t->tap);

		if (holder && owner)
			ret = sk_err_set(err, SK_EBUSY,
					 "tap '%s' (interface %s) is in use by "
					 "machine '%s' (pid %d); give the new machine another "
					 "with --tap %s=NAME",
					 t->tap, t->iface, owner->id, (int)holder, t->iface);
		else if (holder)
			ret = sk_err_set(err, SK_EBUSY,
					 "tap '%s' (interface %s) is in use by "
					 "pid %d; give the new machine another with --tap "
					 "%s=NAME",
					 t->tap, t->iface, (int)holder, t->iface);
	}
	free(live);
	return ret;
}

/* Network: the recorded TAPs, remapped by --tap, each of them free. */
static int map_taps(struct restore_plan *p, const struct snap_opts *o, struct sk_err *err)
{
	const struct manifest *m = &p->man;
	int i, k;

	memcpy(p->eff, m->nets, sizeof(p->eff));
	for (i = 0; i < o->ntaps; i++) {
		for (k = 0; k < m->nnets && strcmp(m->nets[k].iface, o->taps[i].iface); k++)
			;
		if (k == m->nnets)
			return sk_err_set(err, SK_EUSAGE,
					  "--tap %s=%s: snapshot '%s' has no "
					  "interface '%s'",
					  o->taps[i].iface, o->taps[i].tap, o->snapshot,
					  o->taps[i].iface);
		snprintf(p->eff[k].tap, sizeof(p->eff[k].tap), "%s", o->taps[i].tap);
		p->overrides[p->novr++] = p->eff[k];
	}
	return check_taps_free(p, err);
}

/* Jailed: the jail the jailer will build, which must agree with the config. */
static int plan_jail(struct restore_plan *p, struct sk_err *err)
{
	const char *id = p->o->machine, *exe_name;
	char tail[PATH_MAX];
	size_t bl, tl;

	if (strchr(id, '_'))
		return sk_err_set(err, SK_EUSAGE,
				  "machine id '%s': the jailer allows letters, "
				  "digits and '-' only",
				  id);
	if (!p->c->cfg.fc_chroot[0])
		return sk_err_set(err, SK_EUSAGE,
				  "[firecracker] jailer is set but chroot is empty");
	if (config_expand(p->c->cfg.fc_chroot, id, p->root, sizeof(p->root), err) < 0 ||
	    which(p->c->cfg.fc_binary, p->exe, err) < 0)
		return -1;
	exe_name = strrchr(p->exe, '/') + 1;
	/* The jailer builds <base>/<exec name>/<id>/root; the config must agree. */
	snprintf(tail, sizeof(tail), "/%s/%s/root", exe_name, id);
	bl = strlen(p->root);
	tl = strlen(tail);
	if (bl <= tl || strcmp(p->root + bl - tl, tail))
		return sk_err_set(err, SK_EUSAGE,
				  "[firecracker] chroot '%s' must end in '%s', "
				  "where the jailer puts the jail",
				  p->c->cfg.fc_chroot, tail);
	snprintf(p->base, sizeof(p->base), "%.*s", (int)(bl - tl), p->root);
	if (fs_pathf(p->jaildir, sizeof(p->jaildir), err, "%s/%s/%s", p->base, exe_name, id) < 0)
		return -1;
	if (fs_exists(p->jaildir))
		return sk_err_set(err, SK_EBUSY, "machine '%s': jail '%s' already exists", id,
				  p->jaildir);
	if (fs_pathf(p->sock, sizeof(p->sock), err, "%s/run/firecracker.socket", p->root) < 0 ||
	    fs_pathf(p->log, sizeof(p->log), err, "%s/firecracker.log", p->jaildir) < 0)
		return -1;
	return 0;
}

/* Unjailed: a directory of its own under the state directory. */
static int plan_machine_dir(struct restore_plan *p, struct sk_err *err)
{
	const char *id = p->o->machine;

	if (fs_pathf(p->root, sizeof(p->root), err, "%s/%s", p->c->machines, id) < 0 ||
	    fs_pathf(p->sock, sizeof(p->sock), err, "%s/firecracker.socket", p->root) < 0 ||
	    fs_pathf(p->log, sizeof(p->log), err, "%s/firecracker.log", p->root) < 0)
		return -1;
	if (fs_exists(p->root))
		return sk_err_set(err, SK_EBUSY, "machine '%s': directory '%s' already exists", id,
				  p->root);
	return 0;
}

/*
 * No root jail. The jail's user comes from the manifest (the source jail's
 * owner). A jail running as root protects nothing, and an imported manifest
 * must not be able to ask for one.
 */
static int check_jail_not_root(const struct restore_plan *p, struct sk_err *err)
{
	const struct manifest *m = &p->man;

	if (p->jailed && (m->uid == 0 || m->gid == 0))
		return sk_err_set(err, SK_EUSAGE,
				  "snapshot '%s' would run its jail as %s "
				  "(uid %ld, gid %ld from the manifest); a jail must not run as "
				  "root",
				  p->o->snapshot,
				  m->jailed ? "root"
					    : "root, because it comes from an unjailed machine",
				  m->uid, m->gid);
	return 0;
}

/*
 * No shared disk. Each disk lands inside the new machine's directory, at a
 * name restore does not keep for itself, and never at the source's own file.
 */
static int check_disk_paths(const struct restore_plan *p, struct sk_err *err)
{
	const char *sid = p->o->snapshot;
	int i;

	for (i = 0; i < p->man.nart; i++) {
		const struct artifact_row *a = &p->man.arts[i];

		if (strcmp(a->kind, "disk"))
			continue;
		if (snapint_has_dotdot(a->recorded))
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s': drive '%s' path "
					  "'%s' has a '..' component",
					  sid, a->drive_id, a->recorded);
		if (is_reserved(a->recorded))
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s': drive '%s' path "
					  "'%s' is a name fcsnap-restore keeps for itself",
					  sid, a->drive_id, a->recorded);
		/* Unjailed, an absolute path would be the source machine's own disk. */
		if (!p->jailed && a->recorded[0] == '/')
			return sk_err_set(err, SK_EBUSY,
					  "snapshot '%s' records drive '%s' at "
					  "the absolute path '%s'; without a jailer the new "
					  "machine would open that same file. Configure "
					  "[firecracker] jailer, or give machines relative drive "
					  "paths",
					  sid, a->drive_id, a->recorded);
	}
	return 0;
}

/* Where the new machine lives, and where its disks must sit. */
static int plan_layout(struct restore_plan *p, struct sk_err *err)
{
	if ((p->jailed ? plan_jail(p, err) : plan_machine_dir(p, err)) < 0)
		return -1;
	if (check_jail_not_root(p, err) < 0)
		return -1;
	if (strlen(p->sock) >= 108)
		return sk_err_set(err, SK_EUSAGE, "socket path '%s' is too long for a Unix socket",
				  p->sock);
	return check_disk_paths(p, err);
}

/* The journal row, then the machine's directory (or jail root). */
static int make_root(struct restore_plan *p, struct sk_err *err)
{
	struct journal_row *jr = &p->jr;

	snprintf(jr->object, sizeof(jr->object), "machine.%s", p->o->machine);
	snprintf(jr->kind, sizeof(jr->kind), "fcsnap-restore");
	snprintf(jr->step, sizeof(jr->step), "preparing");
	snprintf(jr->staging, sizeof(jr->staging), "%s", p->jailed ? p->jaildir : p->root);
	if (idx_journal_begin(p->c->ix, jr, err) < 0)
		return -1;
	p->journaled = 1;
	/* A jail's parents are the jailer's (0755, as it makes them); its root is the user's. */
	if (fs_mkdir_p(p->root, p->jailed ? 0755 : 0700, err) < 0)
		return -1;
	if (p->jailed &&
	    (chown(p->root, (uid_t)p->man.uid, (gid_t)p->man.gid) < 0 || chmod(p->root, 0700) < 0))
		return sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", p->root);
	return 0;
}

/* In a jail, a file the new machine opens belongs to the jail's user. */
static int jail_own(const struct restore_plan *p, const char *path, struct sk_err *err)
{
	if (p->jailed && chown(path, (uid_t)p->man.uid, (gid_t)p->man.gid) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", path);
	return 0;
}

/* One disk: a fresh clone at the path the snapshot will reopen. */
static int lay_out_disk(struct restore_plan *p, const struct artifact_row *a, struct sk_err *err)
{
	const char *rel = a->recorded;
	char dir[PATH_MAX];

	while (*rel == '/')
		rel++;
	if (fs_pathf(p->src, sizeof(p->src), err, "%s/%s", p->sdir, a->name) < 0 ||
	    fs_pathf(p->dst, sizeof(p->dst), err, "%s/%s", p->root, rel) < 0)
		return -1;
	fs_split(p->dst, dir, sizeof(dir));
	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (strcmp(dir, p->root) && jail_own(p, dir, err) < 0)
		return -1;
	if (clone_file(p->src, p->dst, p->c->clone, a->read_only ? 0400 : 0600, NULL, err) < 0) {
		sk_err_wrap(err, "clone drive '%s'", a->drive_id);
		return -1;
	}
	return jail_own(p, p->dst, err);
}

static int lay_out_disks(struct restore_plan *p, struct sk_err *err)
{
	int i;

	for (i = 0; i < p->man.nart; i++)
		if (!strcmp(p->man.arts[i].kind, "disk") &&
		    lay_out_disk(p, &p->man.arts[i], err) < 0)
			return -1;
	return 0;
}

/*
 * Memory: Firecracker maps the file for the VM's whole life, so it must
 * never change under it. A reflink is a private copy for free; without
 * one the machine maps the snapshot's own file and pins the snapshot
 * (fcsnap-delete refuses while it runs). In a jail it must be inside,
 * owned by the jail's user: a copy.
 */
static int lay_out_memory_file(struct restore_plan *p, struct sk_err *err)
{
	const struct artifact_row *a_mem = find_art(&p->man, "memory");
	struct sk_err e = SK_ERR_INIT;
	int reflinked;

	if (fs_pathf(p->src, sizeof(p->src), err, "%s/%s", p->sdir, a_mem->name) < 0 ||
	    fs_pathf(p->dst, sizeof(p->dst), err, "%s/statekit-memory", p->root) < 0)
		return -1;
	p->mrow.pins = 0;
	if (p->c->clone == CLONE_COPY ||
	    clone_file(p->src, p->dst, CLONE_REFLINK, 0600, &reflinked, &e) < 0) {
		if (!p->jailed) {
			p->mrow.pins = 1;
			snprintf(p->dst, sizeof(p->dst), "%s", p->src);
		} else if (clone_file(p->src, p->dst, CLONE_COPY, 0600, NULL, err) < 0) {
			/* Not a hard link: the jail's user would own the snapshot's file. */
			return -1;
		}
	}
	if (jail_own(p, p->dst, err) < 0)
		return -1;
	snprintf(p->api_mem, sizeof(p->api_mem), "%s", p->jailed ? "/statekit-memory" : p->dst);
	return 0;
}

/* The state file is read once at load: in a jail a copy inside, else the snapshot's own. */
static int lay_out_state_file(struct restore_plan *p, struct sk_err *err)
{
	const struct artifact_row *a_state = find_art(&p->man, "state");

	if (fs_pathf(p->src, sizeof(p->src), err, "%s/%s", p->sdir, a_state->name) < 0)
		return -1;
	if (!p->jailed) {
		snprintf(p->api_state, sizeof(p->api_state), "%s", p->src);
		return 0;
	}
	if (fs_pathf(p->dst, sizeof(p->dst), err, "%s/statekit-vmstate", p->root) < 0 ||
	    clone_file(p->src, p->dst, CLONE_AUTO, 0600, NULL, err) < 0 ||
	    chown(p->dst, (uid_t)p->man.uid, (gid_t)p->man.gid) < 0) {
		if (!err->msg[0])
			sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", p->dst);
		return -1;
	}
	snprintf(p->api_state, sizeof(p->api_state), "/statekit-vmstate");
	return 0;
}

static int lay_out_memory(struct restore_plan *p, struct sk_err *err)
{
	if (lay_out_memory_file(p, err) < 0 || lay_out_state_file(p, err) < 0)
		return -1;
	return snapint_check_interrupt(err);
}

/* Spawn the jailer or Firecracker itself, held at the gate. */
static int spawn_for(struct restore_plan *p, struct sk_err *err)
{
	const struct sk_config *cfg = &p->c->cfg;
	char uid[24], gid[24], fcid[72], *s;

	if (p->jailed) {
		char *argv[] = { (char *)cfg->fc_jailer,
				 "--id",
				 (char *)p->o->machine,
				 "--exec-file",
				 p->exe,
				 "--uid",
				 uid,
				 "--gid",
				 gid,
				 "--chroot-base-dir",
				 p->base,
				 NULL };

		snprintf(uid, sizeof(uid), "%ld", p->man.uid);
		snprintf(gid, sizeof(gid), "%ld", p->man.gid);
		return spawn_vmm(&p->sp, argv, p->jaildir, p->log, err);
	} else {
		char *argv[] = {
			(char *)cfg->fc_binary, "--api-sock", p->sock, "--id", fcid, NULL
		};

		/* Firecracker's --id takes letters, digits and '-' only; it only names logs. */
		snprintf(fcid, sizeof(fcid), "%s", p->o->machine);
		for (s = fcid; *s; s++)
			if (*s == '_')
				*s = '-';
		return spawn_vmm(&p->sp, argv, p->root, p->log, err);
	}
}

/*
 * A fresh process for every load: a failed load ends Firecracker. Its pid
 * is in the journal before it is let past the gate.
 */
static int start_vmm(struct restore_plan *p, struct sk_err *err)
{
	if (spawn_for(p, err) < 0)
		return -1;
	p->child = p->sp.pid;
	p->child_start = proc_start_time(p->child);
	p->jr.child = p->child;
	p->jr.child_start = p->child_start;
	snprintf(p->jr.step, sizeof(p->jr.step), "spawned");
	if (idx_journal_update(p->c->ix, &p->jr, err) < 0)
		return -1;
	if (proc_spawn_release(&p->sp, "firecracker", err) < 0)
		return -1;
	fault_point("restore-spawned");
	if (wait_socket(p->child, p->sock, p->log, err) < 0 ||
	    fcapi_open(&p->fc, p->sock, err) < 0 || fcapi_describe(p->fc, &p->inst, err) < 0)
		return -1;
	if (p->novr && !fcapi_at_least(p->fc, 1, 12))
		return sk_err_set(err, SK_EUSAGE,
				  "--tap needs Firecracker 1.12 or later "
				  "(network_overrides); this one is %s",
				  p->inst.vmm_version);
	return 0;
}

/*
 * Unjailed, an absolute vsock path is the source machine's socket; give
 * the new machine its own (vsock_override, 1.16 and later). "" for none.
 */
static int plan_vsock(struct restore_plan *p, char *vsock, size_t size, struct sk_err *err)
{
	fcjson_vsock_path(p->man.vm_config, vsock, size);
	if (p->jailed || vsock[0] != '/') {
		vsock[0] = '\0';
		return 0;
	}
	if (!fcapi_at_least(p->fc, 1, 16))
		return sk_err_set(err, SK_EBUSY,
				  "snapshot '%s' has a vsock at the absolute path "
				  "'%s', which the source machine uses; Firecracker %s cannot move "
				  "it (vsock_override needs 1.16)",
				  p->o->snapshot, vsock, p->inst.vmm_version);
	return fs_pathf(vsock, size, err, "%s/vsock.sock", p->root);
}

static int load_and_resume(struct restore_plan *p, struct sk_err *err)
{
	char vsock[PATH_MAX], *body;
	int rc;

	if (plan_vsock(p, vsock, sizeof(vsock), err) < 0)
		return -1;
	/*
	 * Dirty page tracking from the load makes the next Diff of this machine
	 * exactly what it changed (fcsnap-create, snapdiff.c); 1.13 takes it at
	 * load, and it must be asked for at every load.
	 */
	p->mrow.tracking = fcapi_at_least(p->fc, 1, 13) && strcmp(p->c->cfg.fc_snapshot, "full");
	body = fcjson_body_snapshot_load(p->api_state, p->api_mem, fcapi_at_least(p->fc, 1, 1),
					 p->overrides, p->novr, vsock[0] ? vsock : NULL,
					 p->mrow.tracking);
	if (!body)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	rc = fcapi_call(p->fc, "PUT", "/snapshot/load", body, FCAPI_SLOW_TIMEOUT_MS, NULL, err);
	free(body);
	if (rc < 0) {
		sk_err_wrap(err, "load snapshot '%s'", p->o->snapshot);
		return -1;
	}
	fault_point("restore-loaded");
	if (snapint_call_state(p->fc, "Resumed", err) < 0 ||
	    fcapi_describe(p->fc, &p->inst, err) < 0)
		return -1;
	if (strcmp(p->inst.state, "Running"))
		return sk_err_set(err, SK_EFAIL, "machine '%s' is '%s' after the resume",
				  p->o->machine, p->inst.state);
	return 0;
}

/* The machine's row, then the end of the journal row; *res is a copy of the row. */
static int record_machine(struct restore_plan *p, struct machine_row *res, struct sk_err *err)
{
	struct machine_row *m = &p->mrow;
	struct sk_err e = SK_ERR_INIT;
	int i;

	snprintf(m->id, sizeof(m->id), "%s", p->o->machine);
	m->pid = p->child;
	m->pid_start = p->child_start;
	snprintf(m->socket, sizeof(m->socket), "%s", p->sock);
	snapint_set_str(m->root, sizeof(m->root), p->root);
	m->jailed = p->jailed;
	for (i = 0; i < p->man.nnets; i++) {
		size_t len = strlen(m->taps);

		snprintf(m->taps + len, sizeof(m->taps) - len, "%s%s=%s", len ? " " : "",
			 p->eff[i].iface, p->eff[i].tap);
	}
	snprintf(m->snapshot, sizeof(m->snapshot), "%s", p->o->snapshot);
	m->created = (int64_t)time(NULL);
	if (idx_machine_add(p->c->ix, m, err) < 0)
		return -1;
	idx_journal_end(p->c->ix, p->jr.id, &e);
	p->journaled = 0;
	*res = *m;
	return 0;
}

/* Undo a failed restore (stop the child, remove its tree, end the row); free the plan. */
static void restore_close(struct restore_plan *p, int ret)
{
	if (!p)
		return;
	proc_spawn_cancel(&p->sp); /* a child still at the gate exits */
	if (ret < 0 && p->journaled) {
		struct sk_err re = SK_ERR_INIT;

		if (p->child > 0)
			proc_kill_wait(p->child, p->child_start);
		snapint_rmtree(p->jr.staging);
		idx_journal_end(p->c->ix, p->jr.id, &re);
	}
	free(p->arts);
	fcjson_manifest_free(&p->man);
	fcapi_close(p->fc);
	lock_release(p->mlk);
	lock_release(p->slk);
	snapint_close(p->c);
	free(p);
}

int snaprestore_run(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct machine_row *res, struct sk_err *err)
{
	struct restore_plan *p = NULL;
	int ret = -1;

	if (restore_open(&p, o, repairs, err) < 0) /* ids, index, locks */
		goto out;
	if (check_machine_free(p, err) < 0 || check_artifacts(p, err) < 0 ||
	    map_taps(p, o, err) < 0 || plan_layout(p, err) < 0)
		goto out;
	if (make_root(p, err) < 0) /* the journal row, from here on undone */
		goto out;
	if (lay_out_disks(p, err) < 0 || lay_out_memory(p, err) < 0)
		goto out;
	if (start_vmm(p, err) < 0 || load_and_resume(p, err) < 0)
		goto out;
	ret = record_machine(p, res, err);
out:
	restore_close(p, ret); /* undo on failure, end the journal row */
	return ret;
}

/* ---- repair ---- */

/* fcsnap-restore killed: a recorded machine stays; else stop its Firecracker, remove its tree. */
void snaprestore_repair(struct sctx *c, const struct journal_row *r, const char *machine)
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
	snapint_rmtree(r->staging);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
}
