#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

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

int proc_capture(char *const argv[], char *out, size_t size, int timeout_s, struct sk_err *err)
{
	int pfd[2], status, devnull;
	size_t len = 0;
	pid_t pid;
	time_t end = time(NULL) + timeout_s;

	out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return sk_err_sys(err, SK_EFAIL, errno, "fork");
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		dup2(pfd[1], 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int left = (int)(end - time(NULL));
		char tmp[512];
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, left * 1000) <= 0) {
			if (errno == EINTR)
				continue;
			continue;
		}
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
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return sk_err_set(err, SK_EFAIL, "cannot run '%s'", argv[0]);
	if (!WIFEXITED(status))
		return sk_err_set(err, SK_EFAIL, "'%s' was killed (timeout %d s?)", argv[0],
				  timeout_s);
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
