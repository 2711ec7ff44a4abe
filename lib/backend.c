/*
 * backend.c: the two workspace backends behind backend.h. "dir" is a host
 * directory plus optional stop/start hooks; "containerd" stops the bot's task
 * through ctrd, mounts its snapshot to reach data_path, and starts it again.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctrd.h"
#include "fsutil.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "banned.h"

/*
 * The host's mount namespace, kept open once this process has moved into a
 * private one to mount snapshots (see isolate_mounts); -1 until then.
 */
static int host_mntns = -1;

int backend_run_hook(const char *what, const char *cmd, const char *bot, struct sk_err *err)
{
	/* The bot id reaches the hook as $1, never inside the shell text. */
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, "sh", (char *)bot, NULL };
	struct proc_spawn sp = PROC_SPAWN_INIT(argv);
	int status;

	if (!cmd || !*cmd)
		return 0;
	/* Its output is diagnostics: stdout may be carrying an archive. */
	sp.out_fd = STDERR_FILENO;
	/* A hook that sets up a network namespace mounts under /run: that
	 * must land on the host, not in statekit's private copy. */
	sp.mntns = host_mntns;
	if (proc_spawn(&sp, what, err) < 0 || proc_wait(sp.pid, &status, what, err) < 0)
		return -1;
	return proc_status_ok(status, what, err);
}

/* ---- dir: a host directory ---- */

static int dir_probe(struct backend *b, struct sk_err *err)
{
	(void)err;
	/* The commands are run every time: statekit cannot tell whether
	 * whatever they stop is running. */
	b->running = 1;
	return 0;
}

static int dir_stop(struct backend *b, struct sk_err *err)
{
	return backend_run_hook("stop_command", b->cfg->stop_command, b->bot, err);
}

static int dir_start(struct backend *b, struct sk_err *err)
{
	return backend_run_hook("start_command", b->cfg->start_command, b->bot, err);
}

static int dir_attach(struct backend *b, int writable, struct sk_err *err)
{
	(void)writable;
	if (config_expand(b->cfg->ws_path, b->bot, b->root, sizeof(b->root), err) < 0)
		return -1;
	snprintf(b->where, sizeof(b->where), "'%s'", b->root);
	return 0;
}

static int dir_detach(struct backend *b, struct sk_err *err)
{
	(void)b;
	(void)err;
	return 0;
}

static int dir_sweep(struct backend *b, struct sk_err *err)
{
	(void)b;
	(void)err;
	return 0;
}

static const struct backend_ops dir_ops = {
	.name = "dir",
	.probe = dir_probe,
	.stop = dir_stop,
	.start = dir_start,
	.attach = dir_attach,
	.detach = dir_detach,
	.sweep = dir_sweep,
};

/* ---- containerd: data_path inside a container's snapshot ---- */

/* After SIGKILL, how long a task may take to be reported stopped. */
#define CTD_KILL_WAIT_S 10

struct ctd {
	struct backend b;
	struct ctrd ctrd;
	char container[80];
	char mnt[PATH_MAX]; /* <state>/tmp/ctrd-<bot>, the private mount point */
	int probed;
	int have_container; /* 0: only an orphan snapshot is left */
	struct ctrd_container info;
	int mounted, mounted_rw;
};

static struct ctd *ctd_of(struct backend *b)
{
	return (struct ctd *)((char *)b - offsetof(struct ctd, b));
}

/*
 * Mount snapshots in a mount namespace of our own whose mounts do not
 * propagate to the host: nobody else can reach the workspace through it
 * while we work, and when this process dies, however it dies, the kernel
 * takes the mount away with the namespace, so a kill -9 leaves no mount
 * behind to hold the container's upper directory. unshare(2) wants a
 * single-threaded process, so this runs from probe, before any thread. When
 * it cannot be done, mounts go to the host's namespace, and the sweep of
 * the next command removes what a crash left there.
 */
static void isolate_mounts(void)
{
	static int tried;
	int fd;

	if (tried)
		return;
	tried = 1;
	fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (unshare(CLONE_NEWNS) < 0) {
		log_info("mounting in the host's mount namespace: unshare: %s", strerror(errno));
		close(fd);
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		log_warn("cannot make the private mount namespace a slave: %s", strerror(errno));
	host_mntns = fd;
}

/* containerd's identifiers: a letter or digit, then letters, digits, '.', '_', '-'. */
static int ctd_valid_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 76)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = s[i];
		int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || !strchr("._-", ch)))
			return 0;
	}
	return 1;
}

/* data_path: absolute, at least one component, no "." or "..". */
static int ctd_valid_data_path(const char *p)
{
	const char *s = p;

	if (*p != '/')
		return 0;
	while (*s) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchr(s, '/');
		n = e ? (size_t)(e - s) : strlen(s);
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return 0;
		s += n;
	}
	return strspn(p, "/") != strlen(p);
}

static void ctd_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int ctd_probe(struct backend *b, struct sk_err *err)
{
	struct ctd *d = ctd_of(b);
	enum ctrd_task st = CTRD_TASK_NONE;
	int exists;

	d->probed = 0;
	b->running = 0;
	if (geteuid() != 0)
		return sk_err_set(err, SK_EFAIL,
				  "the containerd backend needs root: it mounts the bot's "
				  "snapshot");
	isolate_mounts();
	if (ctrd_container_exists(&d->ctrd, d->container, &exists, err) < 0)
		return -1;
	d->have_container = exists;
	if (exists) {
		if (ctrd_container_info(&d->ctrd, d->container, &d->info, err) < 0)
			return -1;
		if (ctrd_task_state(&d->ctrd, d->container, &st, err) < 0)
			return -1;
	} else {
		/* An orphan: the container is gone, its snapshot is still there
		 * under the container's id (what `ctr run` names it). */
		if (ctrd_snapshot_exists(&d->ctrd, NULL, d->container, &exists, err) < 0)
			return -1;
		if (!exists)
			return sk_err_set(err, SK_ENOENT,
					  "bot '%s' does not exist: no container or snapshot '%s' "
					  "in namespace '%s' of containerd at '%s'",
					  b->bot, d->container, d->ctrd.ns, d->ctrd.address);
		memset(&d->info, 0, sizeof(d->info));
		snprintf(d->info.snapshot_key, sizeof(d->info.snapshot_key), "%s", d->container);
		log_info("bot '%s': container '%s' is gone; using its snapshot", b->bot,
			 d->container);
	}
	if (st == CTRD_TASK_PAUSED || st == CTRD_TASK_PAUSING)
		return sk_err_set(err, SK_EBUSY,
				  "the task of container '%s' is %s: resume it first", d->container,
				  ctrd_task_name(st));
	/* UNKNOWN: the shim does not answer; treat it as running so that the
	 * stop deals with it and the bot is brought back afterwards. */
	b->running = st == CTRD_TASK_RUNNING || st == CTRD_TASK_UNKNOWN;
	d->probed = 1;
	return 0;
}

/* Poll until the task has exited (or is gone), at most timeout_s seconds. */
static int ctd_wait_exit(struct ctd *d, int timeout_s, int *exited, struct sk_err *err)
{
	double end = log_now() + timeout_s;
	enum ctrd_task st;

	*exited = 0;
	for (;;) {
		if (ctrd_task_state(&d->ctrd, d->container, &st, err) < 0)
			return -1;
		if (st == CTRD_TASK_STOPPED || st == CTRD_TASK_NONE) {
			*exited = 1;
			return 0;
		}
		if (log_now() >= end)
			return 0;
		ctd_sleep_ms(100);
	}
}

/* Signal the task; a task that exited meanwhile is not an error. */
static int ctd_kill(struct ctd *d, const char *sig, int all, struct sk_err *err)
{
	enum ctrd_task st;

	if (ctrd_task_kill(&d->ctrd, d->container, sig, all, err) == 0)
		return 0;
	if (ctrd_task_state(&d->ctrd, d->container, &st, &(struct sk_err)SK_ERR_INIT) == 0 &&
	    (st == CTRD_TASK_STOPPED || st == CTRD_TASK_NONE)) {
		sk_err_clear(err);
		return 0;
	}
	return -1;
}

/*
 * Make sure the container has no task: ask it to stop (its image's stop
 * signal, else SIGTERM), SIGKILL every process after stop_timeout, delete
 * the exited task. A task that had already exited is only deleted: its
 * rootfs mount must go before the snapshot is mounted here.
 */
static int ctd_remove_task(struct ctd *d, int *was_running, struct sk_err *err)
{
	const char *sig = *d->info.stop_signal ? d->info.stop_signal : "SIGTERM";
	enum ctrd_task st;
	int exited;

	*was_running = 0;
	if (ctrd_task_state(&d->ctrd, d->container, &st, err) < 0)
		return -1;
	if (st == CTRD_TASK_NONE)
		return 0;
	if (st == CTRD_TASK_PAUSED || st == CTRD_TASK_PAUSING)
		return sk_err_set(err, SK_EBUSY,
				  "the task of container '%s' is %s: resume it first", d->container,
				  ctrd_task_name(st));
	*was_running = st == CTRD_TASK_RUNNING || st == CTRD_TASK_UNKNOWN;
	exited = st == CTRD_TASK_STOPPED;
	if (!exited && st != CTRD_TASK_CREATED) {
		log_info("stopping container '%s' (%s, SIGKILL after %d s)", d->container, sig,
			 d->b.cfg->ctd_stop_timeout);
		if (ctd_kill(d, sig, 0, err) < 0 ||
		    ctd_wait_exit(d, d->b.cfg->ctd_stop_timeout, &exited, err) < 0)
			return -1;
	}
	if (!exited) {
		if (st != CTRD_TASK_CREATED)
			log_warn("container '%s' did not stop within %d s; killing it",
				 d->container, d->b.cfg->ctd_stop_timeout);
		if (ctd_kill(d, "SIGKILL", 1, err) < 0 ||
		    ctd_wait_exit(d, CTD_KILL_WAIT_S, &exited, err) < 0)
			return -1;
		if (!exited)
			return sk_err_set(err, SK_EFAIL,
					  "the task of container '%s' did not exit after SIGKILL",
					  d->container);
	}
	fault_point("ctrd-task-exited");
	if (ctrd_task_delete(&d->ctrd, d->container, err) < 0) {
		/* it may have been deleted by someone else meanwhile */
		if (ctrd_task_state(&d->ctrd, d->container, &st, &(struct sk_err)SK_ERR_INIT) < 0 ||
		    st != CTRD_TASK_NONE)
			return -1;
		sk_err_clear(err);
	}
	return 0;
}

static int ctd_stop(struct backend *b, struct sk_err *err)
{
	struct ctd *d = ctd_of(b);
	int was_running;

	if (!d->probed && ctd_probe(b, err) < 0)
		return -1;
	if (!d->have_container)
		return 0;
	if (ctd_remove_task(d, &was_running, err) < 0)
		return sk_err_wrap(err, "container '%s'", d->container);
	if (was_running)
		return backend_run_hook("stop_command", b->cfg->stop_command, b->bot, err);
	return 0;
}

/*
 * Ensure the task runs, then run start_command. Whatever an earlier crash
 * left is dealt with: a task that already runs is kept (only the command
 * runs again), an exited or half-created one is deleted and replaced. A
 * detached ctr must not leave the task's stdio on FIFOs that nobody reads,
 * so the new task writes to the container's statekit.log-uri label, or to
 * /dev/null.
 */
static int ctd_start(struct backend *b, struct sk_err *err)
{
	struct ctd *d = ctd_of(b);
	enum ctrd_task st;
	int exists, was_running;

	if (ctrd_container_exists(&d->ctrd, d->container, &exists, err) < 0)
		return -1;
	if (!exists) {
		log_warn("container '%s' of bot '%s' is gone: there is no task to start",
			 d->container, b->bot);
		return 0;
	}
	if (ctrd_container_info(&d->ctrd, d->container, &d->info, err) < 0 ||
	    ctrd_task_state(&d->ctrd, d->container, &st, err) < 0)
		return -1;
	if (st != CTRD_TASK_RUNNING && st != CTRD_TASK_PAUSED && st != CTRD_TASK_PAUSING) {
		if (st != CTRD_TASK_NONE && ctd_remove_task(d, &was_running, err) < 0)
			return sk_err_wrap(err, "container '%s'", d->container);
		log_info("starting container '%s'", d->container);
		if (ctrd_task_start(&d->ctrd, d->container, d->info.log_uri, err) < 0)
			return -1;
	}
	fault_point("ctrd-task-started");
	return backend_run_hook("start_command", b->cfg->start_command, b->bot, err);
}

static const struct {
	const char *name;
	int clear;
	unsigned long flag;
} mount_flags[] = {
	{ "async", 1, MS_SYNCHRONOUS },
	{ "atime", 1, MS_NOATIME },
	{ "bind", 0, MS_BIND },
	{ "defaults", 0, 0 },
	{ "dev", 1, MS_NODEV },
	{ "diratime", 1, MS_NODIRATIME },
	{ "dirsync", 0, MS_DIRSYNC },
	{ "exec", 1, MS_NOEXEC },
	{ "noatime", 0, MS_NOATIME },
	{ "nodev", 0, MS_NODEV },
	{ "nodiratime", 0, MS_NODIRATIME },
	{ "noexec", 0, MS_NOEXEC },
	{ "norelatime", 1, MS_RELATIME },
	{ "nostrictatime", 1, MS_STRICTATIME },
	{ "nosuid", 0, MS_NOSUID },
	{ "rbind", 0, MS_BIND | MS_REC },
	{ "relatime", 0, MS_RELATIME },
	{ "ro", 0, MS_RDONLY },
	{ "rw", 1, MS_RDONLY },
	{ "strictatime", 0, MS_STRICTATIME },
	{ "suid", 1, MS_NOSUID },
	{ "sync", 0, MS_SYNCHRONOUS },
};

/*
 * An image of many layers makes a lowerdir= option longer than the page
 * that mount(2) copies its data into. Like containerd, name the layers
 * relative to their common parent directory instead (into dir), for a
 * mount made from there (mount_from). -1 when that gains nothing.
 */
static int compact_lowerdir(const char *data, char *out, size_t size, char *dir, size_t dsize)
{
	const char *lo = NULL, *val, *end, *p;
	size_t plen, o;

	for (p = data; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		if (strncmp(p, "lowerdir=", 9) == 0) {
			lo = p;
			break;
		}
	}
	if (!lo)
		return -1;
	val = lo + 9;
	end = strchr(val, ',');
	if (!end)
		end = val + strlen(val);
	if (*val != '/' || memchr(val, '\\', (size_t)(end - val)))
		return -1;
	/* the longest common prefix of the layers, cut back to a '/' */
	plen = strcspn(val, ":,");
	for (p = val; p < end;) {
		size_t n = strcspn(p, ":,"), i = 0;

		if (*p != '/')
			return -1;
		while (i < plen && i < n && p[i] == val[i])
			i++;
		plen = i;
		p += n;
		if (*p != ':')
			break;
		p++;
	}
	while (plen > 0 && val[plen - 1] != '/')
		plen--;
	if (plen <= 1 || plen >= dsize)
		return -1;
	snprintf(dir, dsize, "%.*s", (int)plen, val);
	o = (size_t)snprintf(out, size, "%.*s", (int)(val - data), data);
	for (p = val; p < end && o < size;) {
		size_t n = strcspn(p, ":,");

		o += (size_t)snprintf(out + o, size - o, "%s%.*s", p == val ? "" : ":",
				      (int)(n - plen), p + plen);
		p += n;
		if (*p == ':')
			p++;
		else
			break;
	}
	if (o < size)
		o += (size_t)snprintf(out + o, size - o, "%s", end);
	return o < size ? 0 : -1;
}

/*
 * mount(2) from a child whose working directory is dir, so that relative
 * layer names resolve there; the child shares this process's mount
 * namespace, so the mount is ours. 0, or the errno of the failure.
 */
static int mount_from(const char *dir, const char *src, const char *target, const char *type,
		      unsigned long flags, const char *data)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return errno;
	if (pid == 0) {
		if (chdir(dir) < 0)
			_exit(errno & 0xff);
		_exit(mount(src, target, type, flags, data) < 0 ? errno & 0xff : 0);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : EINTR;
}

/*
 * mount(2) what ctr described, at target. Options that are mount flags
 * become flags, the rest the file system's data, as mount(8) would do. The
 * content is the bot's: never set-user-ID, device nodes or execution
 * through this mount.
 */
/* The two option buffers of ctd_mount, on the heap: 16 KiB each. */
struct mount_opts {
	char opts[sizeof(((struct ctrd_mount *)0)->options)];
	char data[sizeof(((struct ctrd_mount *)0)->options)];
};

static int ctd_mount_with(const struct ctrd_mount *m, const char *target, int writable,
			  struct mount_opts *mo, struct sk_err *err);

static int ctd_mount(const struct ctrd_mount *m, const char *target, int writable,
		     struct sk_err *err)
{
	struct mount_opts *mo = malloc(sizeof(*mo));
	int ret;

	if (!mo)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	ret = ctd_mount_with(m, target, writable, mo, err);
	free(mo);
	return ret;
}

static int ctd_mount_with(const struct ctrd_mount *m, const char *target, int writable,
			  struct mount_opts *mo, struct sk_err *err)
{
	unsigned long flags = 0;
	char *opts = mo->opts, *data = mo->data;
	char *tok, *save = NULL;
	size_t dlen = 0, i;

	snprintf(opts, sizeof(mo->opts), "%s", m->options);
	data[0] = '\0';
	for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int known = 0;

		for (i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++) {
			if (strcmp(tok, mount_flags[i].name) != 0)
				continue;
			known = 1;
			if (mount_flags[i].clear)
				flags &= ~mount_flags[i].flag;
			else
				flags |= mount_flags[i].flag;
		}
		if (strcmp(tok, "remount") == 0 || strstr(tok, "private") ||
		    strstr(tok, "shared") || strstr(tok, "slave") || strstr(tok, "unbindable"))
			known = 1; /* propagation is ours to decide */
		if (known)
			continue;
		dlen += (size_t)snprintf(data + dlen, sizeof(mo->data) - dlen, "%s%s",
					 dlen ? "," : "", tok);
	}
	/* whatever the options said */
	flags |= MS_NOSUID | MS_NODEV | MS_NOEXEC;
	if (!writable)
		flags |= MS_RDONLY;
	if (dlen >= (size_t)sysconf(_SC_PAGESIZE)) {
		char dir[PATH_MAX];
		int e;

		if (strcmp(m->type, "overlay") != 0 || *target != '/' ||
		    compact_lowerdir(data, opts, sizeof(mo->opts), dir, sizeof(dir)) < 0 ||
		    strlen(opts) >= (size_t)sysconf(_SC_PAGESIZE))
			return sk_err_set(err, SK_EFAIL,
					  "the snapshot's mount options are %zu bytes, more than "
					  "mount(2) takes",
					  dlen);
		e = mount_from(dir, m->source, target, m->type, flags, opts);
		if (e)
			return sk_err_sys(err, SK_EFAIL, e, "cannot mount %s '%s' on '%s'", m->type,
					  m->source, target);
	} else if (mount(m->source, target, m->type, flags, dlen ? data : NULL) < 0) {
		return sk_err_sys(err, SK_EFAIL, errno, "cannot mount %s '%s' on '%s'", m->type,
				  m->source, target);
	}
	/* A bind mount ignores MS_RDONLY until remounted. */
	if ((flags & MS_BIND) && !writable &&
	    mount(NULL, target, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		int e = errno;

		umount2(target, MNT_DETACH);
		return sk_err_sys(err, SK_EFAIL, e, "cannot make '%s' read-only", target);
	}
	return 0;
}

/* Unmount everything stacked at path; 1 if anything was, 0 if not. */
static int ctd_unmount_all(const char *path, struct sk_err *err)
{
	int any = 0;

	for (;;) {
		if (umount2(path, UMOUNT_NOFOLLOW) == 0) {
			any = 1;
			continue;
		}
		if (errno == EINVAL || errno == ENOENT)
			return any;
		if (errno == EBUSY && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
			log_warn("'%s' is busy; detached it lazily", path);
			any = 1;
			continue;
		}
		return sk_err_sys(err, SK_EFAIL, errno, "cannot unmount '%s'", path);
	}
}

/*
 * The path to data_path below the mount is the bot's to shape: any
 * component may be a symlink the bot planted (/data -> /, or -> /etc),
 * which a path string would follow out of the container and into the
 * host. Walk it one component at a time with O_NOFOLLOW and refuse a
 * symlink anywhere. The task is stopped and the mount is private, so
 * nobody can change the answer afterwards. A missing tail is fine: import
 * creates it.
 */
static int ctd_check_data_path(struct ctd *d, struct sk_err *err)
{
	char path[PATH_MAX], *comp, *save = NULL;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s", d->b.cfg->ctd_data_path);
	fd = open(d->mnt, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", d->mnt);
	for (comp = strtok_r(path, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;

		if (nfd >= 0) {
			close(fd);
			fd = nfd;
			continue;
		}
		if (errno == ENOENT)
			break;
		if (fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			ret = sk_err_set(err, SK_EDAMAGED,
					 "'%s' in the snapshot of container '%s' holds a symbolic "
					 "link ('%s'): refusing to follow it",
					 d->b.cfg->ctd_data_path, d->container, comp);
		else if (errno == ENOTDIR)
			ret = sk_err_set(err, SK_EFAIL,
					 "'%s' in the snapshot of container '%s': '%s' is not a "
					 "directory",
					 d->b.cfg->ctd_data_path, d->container, comp);
		else
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s' in '%s'", comp,
					 d->mnt);
		break;
	}
	close(fd);
	return ret;
}

static int ctd_detach(struct backend *b, struct sk_err *err)
{
	struct ctd *d = ctd_of(b);

	if (!d->mounted)
		return 0;
	if (ctd_unmount_all(d->mnt, err) < 0)
		return -1;
	d->mounted = d->mounted_rw = 0;
	if (rmdir(d->mnt) < 0 && errno != ENOENT)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", d->mnt);
	return 0;
}

static int ctd_attach_with(struct backend *b, int writable, struct ctrd_mount *mnt,
			   struct sk_err *err);

/* struct ctrd_mount is 20 KiB (its options): on the heap, not the stack. */
static int ctd_attach(struct backend *b, int writable, struct sk_err *err)
{
	struct ctrd_mount *m;
	int ret;

	if (ctd_of(b)->mounted && (ctd_of(b)->mounted_rw || !writable))
		return 0;
	m = malloc(sizeof(*m));
	if (!m)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	ret = ctd_attach_with(b, writable, m, err);
	free(m);
	return ret;
}

static int ctd_attach_with(struct backend *b, int writable, struct ctrd_mount *mnt,
			   struct sk_err *err)
{
	struct ctd *d = ctd_of(b);
	struct stat st;

	if (d->mounted && (d->mounted_rw || !writable))
		return 0;
	if (d->mounted && ctd_detach(b, err) < 0)
		return -1;
	if (!d->probed && ctd_probe(b, err) < 0)
		return -1;
	if (ctrd_snapshot_mount(&d->ctrd, d->info.snapshotter, d->info.snapshot_key, mnt, err) < 0)
		return -1;
	if (mkdir(d->mnt, 0700) < 0 && errno != EEXIST)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", d->mnt);
	if (lstat(d->mnt, &st) < 0 || !S_ISDIR(st.st_mode))
		return sk_err_set(err, SK_EFAIL, "'%s' is not a directory", d->mnt);
	if (ctd_unmount_all(d->mnt, err) < 0)
		return -1;
	if (ctd_mount(mnt, d->mnt, writable, err) < 0) {
		rmdir(d->mnt);
		return sk_err_wrap(err, "snapshot '%s'", d->info.snapshot_key);
	}
	d->mounted = 1;
	d->mounted_rw = writable;
	if (ctd_check_data_path(d, err) < 0) {
		ctd_detach(b, &(struct sk_err)SK_ERR_INIT);
		return -1;
	}
	return 0;
}

static int ctd_sweep(struct backend *b, struct sk_err *err)
{
	struct ctd *d = ctd_of(b);
	int rc = ctd_unmount_all(d->mnt, err);

	if (rc < 0)
		return -1;
	if (rc > 0)
		log_warn("unmounted '%s', left mounted by an interrupted command", d->mnt);
	if (rmdir(d->mnt) < 0 && errno != ENOENT && errno != ENOTEMPTY)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", d->mnt);
	return 0;
}

static const struct backend_ops ctd_ops = {
	.name = "containerd",
	.probe = ctd_probe,
	.stop = ctd_stop,
	.start = ctd_start,
	.attach = ctd_attach,
	.detach = ctd_detach,
	.sweep = ctd_sweep,
};

static int ctd_open(struct backend **out, const struct sk_config *cfg, const char *bot,
		    struct sk_err *err)
{
	struct ctd *d;
	char id[sizeof(d->container)];

	if (config_expand(cfg->ctd_container, bot, id, sizeof(id), err) < 0)
		return -1;
	if (!ctd_valid_id(id))
		return sk_err_set(err, SK_EUSAGE,
				  "container id '%s' (from container = %s) is not a containerd id",
				  id, cfg->ctd_container);
	if (!ctd_valid_data_path(cfg->ctd_data_path))
		return sk_err_set(err, SK_EUSAGE,
				  "bad data_path '%s' (expected an absolute path below /, without "
				  "'.' or '..')",
				  cfg->ctd_data_path);
	if (!*cfg->ctd_ctr || !*cfg->ctd_address || !ctd_valid_id(cfg->ctd_namespace))
		return sk_err_set(err, SK_EUSAGE,
				  "[containerd] needs ctr, address and a valid namespace");
	d = calloc(1, sizeof(*d));
	if (!d)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	snprintf(d->container, sizeof(d->container), "%s", id);
	ctrd_init(&d->ctrd, cfg->ctd_ctr, cfg->ctd_address, cfg->ctd_namespace, 0);
	if (fs_pathf(d->mnt, sizeof(d->mnt), err, "%s/tmp/ctrd-%s", cfg->state_dir, bot) < 0) {
		free(d);
		return -1;
	}
	/* Known before the mount, so that the journal can name it first. */
	if (fs_pathf(d->b.root, sizeof(d->b.root), err, "%s%s", d->mnt, cfg->ctd_data_path) < 0) {
		free(d);
		return -1;
	}
	/* "/data/" and "/data" are one workspace to the swap. */
	while (d->b.root[strlen(d->b.root) - 1] == '/')
		d->b.root[strlen(d->b.root) - 1] = '\0';
	snprintf(d->b.where, sizeof(d->b.where), "'%s' in container '%s'", cfg->ctd_data_path, id);
	d->b.ops = &ctd_ops;
	d->b.offline = 1;
	*out = &d->b;
	return 0;
}

struct ids_filter {
	const char *prefix, *suffix;
	size_t plen, slen;
	void (*add)(void *arg, const char *id);
	void *arg;
};

static void ids_match(void *arg, const char *cid)
{
	struct ids_filter *f = arg;
	struct sk_err e = SK_ERR_INIT;
	size_t n = strlen(cid);
	char bot[80];

	if (n <= f->plen + f->slen || n - f->plen - f->slen >= sizeof(bot) ||
	    strncmp(cid, f->prefix, f->plen) != 0 || strcmp(cid + n - f->slen, f->suffix) != 0)
		return;
	snprintf(bot, sizeof(bot), "%.*s", (int)(n - f->plen - f->slen), cid + f->plen);
	if (config_check_id("bot", bot, &e) == 0)
		f->add(f->arg, bot);
}

int backend_bot_ids(const struct sk_config *cfg, void (*add)(void *arg, const char *id), void *arg,
		    struct sk_err *err)
{
	struct ids_filter f = { 0 };
	struct ctrd c;
	const char *at;

	if (strcmp(cfg->backend, "containerd") != 0)
		return 0;
	at = strstr(cfg->ctd_container, "%s");
	if (!at || strstr(at + 2, "%s"))
		return 0;
	f.prefix = cfg->ctd_container;
	f.plen = (size_t)(at - cfg->ctd_container);
	f.suffix = at + 2;
	f.slen = strlen(f.suffix);
	f.add = add;
	f.arg = arg;
	/* Completion waits on this: a short limit. */
	ctrd_init(&c, cfg->ctd_ctr, cfg->ctd_address, cfg->ctd_namespace, 5);
	return ctrd_container_ids(&c, ids_match, &f, err);
}

int backend_open(struct backend **out, const struct sk_config *cfg, const char *bot,
		 struct sk_err *err)
{
	struct backend *b = NULL;

	*out = NULL;
	if (strcmp(cfg->backend, "containerd") == 0) {
		if (ctd_open(&b, cfg, bot, err) < 0)
			return -1;
	} else if (strcmp(cfg->backend, "dir") == 0) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		b->ops = &dir_ops;
	} else {
		return sk_err_set(err, SK_EUSAGE, "unknown workspace backend '%s'", cfg->backend);
	}
	b->cfg = cfg;
	snprintf(b->bot, sizeof(b->bot), "%s", bot);
	*out = b;
	return 0;
}

void backend_free(struct backend *b)
{
	struct sk_err e = SK_ERR_INIT;

	if (!b)
		return;
	if (b->ops->detach(b, &e) < 0)
		log_warn("%s", e.msg);
	if (b->ops == &ctd_ops)
		free(ctd_of(b));
	else
		free(b);
}
