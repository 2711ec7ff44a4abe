/*
 * proc.c: other processes: whether a recorded pid is still the same process
 * (by its start time), who listens on a socket or holds a TAP device, and
 * proc_spawn, the one place statekit forks and execs, never through a shell.
 */
#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "banned.h"

int64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p;
	long long start;
	int fd, i;
	ssize_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = fs_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The name in parentheses may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* Fields 3.. follow; starttime is field 22, the 20th after the ')'. */
	for (i = 0; i < 19 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lld", &start) != 1)
		return -1;
	/* A zombie is gone for our purposes: it holds no files and serves nothing. */
	if (strstr(buf, ") Z ") || strstr(buf, ") X "))
		return -1;
	return start;
}

int proc_alive(pid_t pid, int64_t start)
{
	int64_t now = proc_start_time(pid);

	return now >= 0 && (start <= 0 || now == start);
}

pid_t proc_socket_peer(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pid_t pid = -1;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		pid = cred.pid;
	close(fd);
	return pid;
}

/* Does /proc/<pid>/fdinfo/<fd> say it is a tun fd attached to name? */
static int fdinfo_has_tap(int dfd, const char *fdname, const char *name)
{
	char buf[2048], *line;
	ssize_t n;
	int fd = openat(dfd, fdname, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = fs_read_full(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	for (line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, "iff:", 4))
			continue;
		line += 4;
		while (*line == ' ' || *line == '\t')
			line++;
		return !strncmp(line, name, strlen(name)) &&
		       (line[strlen(name)] == '\n' || line[strlen(name)] == '\0');
	}
	return 0;
}

pid_t proc_tap_holder(const char *name)
{
	DIR *procs = opendir("/proc");
	struct dirent *de;
	pid_t found = 0;

	if (!procs)
		return 0;
	while (!found && (de = readdir(procs))) {
		char path[300], target[64];
		struct dirent *fe;
		DIR *fds;
		int infofd;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", de->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fdinfo", de->d_name);
		infofd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		while (infofd >= 0 && !found && (fe = readdir(fds))) {
			ssize_t n;

			if (!isdigit((unsigned char)fe->d_name[0]))
				continue;
			/* Only fds on /dev/net/tun are worth reading fdinfo for. */
			n = readlinkat(dirfd(fds), fe->d_name, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			if (strcmp(target, "/dev/net/tun"))
				continue;
			if (fdinfo_has_tap(infofd, fe->d_name, name))
				found = (pid_t)atoi(de->d_name);
		}
		if (infofd >= 0)
			close(infofd);
		closedir(fds);
	}
	closedir(procs);
	return found;
}

/* What a child that could not start writes to its status pipe. */
struct spawn_fail {
	int step; /* SPAWN_* */
	int err;  /* errno */
};

enum { SPAWN_SETNS = 1, SPAWN_CHDIR, SPAWN_STDIO, SPAWN_EXEC };

static _Noreturn void child_fail(int status_fd, int step)
{
	struct spawn_fail f = { step, errno };

	(void)!write(status_fd, &f, sizeof(f));
	_exit(127);
}

/* stdout or stderr of the child: fd, /dev/null, or left as it is. */
static int child_stdio(int want, int target, int null)
{
	if (want == PROC_KEEP)
		return 0;
	return dup2(want == PROC_NULL ? null : want, target) < 0 ? -1 : 0;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static _Noreturn void spawn_child(const struct proc_spawn *s, int gate_fd, int status_fd)
{
	sigset_t none;
	int null, sig;
	char go;

	/*
	 * Every disposition back to the default. A handler would be reset by
	 * the exec anyway, but an ignored signal is inherited: ours (SIGPIPE)
	 * and whatever statekit itself was started with (a shell's background
	 * job ignores SIGINT and SIGQUIT) must not reach the bot or the VMM.
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (s->group == PROC_NEW_SESSION)
		setsid();
	else if (s->group == PROC_NEW_GROUP)
		setpgid(0, 0);
	/* Closed without a byte: the caller gave up or died; leave quietly. */
	if (s->gated && read(gate_fd, &go, 1) != 1)
		_exit(125);
	if (s->mntns >= 0 && setns(s->mntns, CLONE_NEWNS) < 0)
		child_fail(status_fd, SPAWN_SETNS);
	if (s->dir && chdir(s->dir) < 0)
		child_fail(status_fd, SPAWN_CHDIR);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    child_stdio(s->out_fd, STDOUT_FILENO, null) < 0 ||
	    child_stdio(s->err_fd, STDERR_FILENO, null) < 0)
		child_fail(status_fd, SPAWN_STDIO);
	/*
	 * Everything from 3 up closes at the exec: locks, the index, sockets.
	 * Marking rather than closing keeps status_fd until the exec itself.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		close_range(3, ~0U, 0); /* before 5.11: lose only the report */
	execvp(s->argv[0], s->argv);
	child_fail(status_fd, SPAWN_EXEC);
}

/*
 * Read the child's status pipe: end-of-file means it exec'd. A report
 * means it did not, and it is reaped here.
 */
static int spawn_result(struct proc_spawn *s, const char *what, struct sk_err *err)
{
	struct spawn_fail f;
	ssize_t n;

	do
		n = read(s->status_fd, &f, sizeof(f));
	while (n < 0 && errno == EINTR);
	close(s->status_fd);
	s->status_fd = -1;
	if (n != (ssize_t)sizeof(f))
		return 0;
	proc_wait(s->pid, NULL, what, err);
	s->pid = -1;
	switch (f.step) {
	case SPAWN_SETNS:
		return sk_err_sys(err, SK_EFAIL, f.err,
				  "cannot run %s: cannot enter the host's "
				  "mount namespace",
				  what);
	case SPAWN_CHDIR:
		return sk_err_sys(err, SK_EFAIL, f.err, "cannot run %s: cannot enter '%s'", what,
				  s->dir);
	case SPAWN_STDIO:
		return sk_err_sys(err, SK_EFAIL, f.err, "cannot run %s: cannot set up its output",
				  what);
	default:
		return sk_err_sys(err, SK_EFAIL, f.err, "cannot run %s", what);
	}
}

int proc_spawn(struct proc_spawn *s, const char *what, struct sk_err *err)
{
	int status[2] = { -1, -1 }, gate[2] = { -1, -1 };

	s->pid = -1;
	s->gate_fd = s->status_fd = -1;
	if (pipe2(status, O_CLOEXEC) < 0 || (s->gated && pipe2(gate, O_CLOEXEC) < 0)) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot run %s: pipe", what);
		goto fail;
	}
	s->pid = fork();
	if (s->pid < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot run %s: fork", what);
		goto fail;
	}
	if (s->pid == 0) {
		/* Our copy of the gate's write end would hold it open for ever. */
		if (s->gated)
			close(gate[1]);
		close(status[0]);
		spawn_child(s, gate[0], status[1]);
	}
	close(status[1]);
	s->status_fd = status[0];
	if (!s->gated)
		return spawn_result(s, what, err);
	close(gate[0]);
	s->gate_fd = gate[1];
	return 0;
fail:
	if (status[0] >= 0) {
		close(status[0]);
		close(status[1]);
	}
	if (gate[0] >= 0) {
		close(gate[0]);
		close(gate[1]);
	}
	s->pid = -1;
	return -1;
}

int proc_spawn_release(struct proc_spawn *s, const char *what, struct sk_err *err)
{
	if (s->gate_fd < 0)
		return 0;
	if (write(s->gate_fd, "g", 1) != 1) {
		int e = errno;

		proc_spawn_cancel(s);
		return sk_err_sys(err, SK_EFAIL, e, "cannot start %s", what);
	}
	close(s->gate_fd);
	s->gate_fd = -1;
	return spawn_result(s, what, err);
}

void proc_spawn_cancel(struct proc_spawn *s)
{
	if (s->gate_fd >= 0)
		close(s->gate_fd);
	if (s->status_fd >= 0)
		close(s->status_fd);
	s->gate_fd = s->status_fd = -1;
}

int proc_wait(pid_t pid, int *status, const char *what, struct sk_err *err)
{
	int st;

	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return sk_err_sys(err, SK_EFAIL, errno, "wait for %s", what);
	}
	if (status)
		*status = st;
	return 0;
}

int proc_status_ok(int status, const char *what, struct sk_err *err)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return sk_err_set(err, SK_EFAIL, "%s failed (exit status %d)", what,
				  WEXITSTATUS(status));
	return sk_err_set(err, SK_EFAIL, "%s killed by signal %d", what, WTERMSIG(status));
}

int proc_capture(char *const argv[], char *out, size_t size, int timeout_s, struct sk_err *err)
{
	struct proc_spawn sp = PROC_SPAWN_INIT(argv);
	char what[PATH_MAX + 2];
	int pfd[2], status;
	size_t len = 0;
	time_t end = time(NULL) + timeout_s;

	out[0] = '\0';
	snprintf(what, sizeof(what), "'%s'", argv[0]);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "pipe");
	sp.out_fd = pfd[1];
	sp.err_fd = PROC_NULL;
	if (proc_spawn(&sp, what, err) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int left = (int)(end - time(NULL));
		char tmp[512];
		ssize_t n;

		if (left <= 0) {
			kill(sp.pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, left * 1000) <= 0)
			continue;
		n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + 1 < size) {
			size_t k = (size_t)n < size - 1 - len ? (size_t)n : size - 1 - len;

			memcpy(out + len, tmp, k);
			len += k;
			out[len] = '\0';
		}
	}
	close(pfd[0]);
	if (proc_wait(sp.pid, &status, what, err) < 0)
		return -1;
	if (!WIFEXITED(status))
		return sk_err_set(err, SK_EFAIL, "%s was killed (timeout %d s?)", what, timeout_s);
	return WEXITSTATUS(status);
}

void proc_kill_wait(pid_t pid, int64_t start)
{
	int i;

	if (pid <= 0 || !proc_alive(pid, start))
		return;
	if (getpgid(pid) == pid)
		kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	for (i = 0; i < 500 && proc_alive(pid, start); i++) {
		/* Our own child must be reaped, or it stays a zombie. */
		if (waitpid(pid, NULL, WNOHANG) == pid)
			break;
		usleep(10000);
	}
}
