/* proc_test: the one child setup every spawned process gets (proc_spawn). */
#include "proc.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv through proc_spawn with stdout into buf; the exit status, or -1. */
static int run(char *const argv[], char *buf, size_t size, struct sk_err *err)
{
	struct proc_spawn sp = PROC_SPAWN_INIT(argv);
	int p[2], status;
	ssize_t n, len = 0;

	buf[0] = '\0';
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	sp.out_fd = p[1];
	if (proc_spawn(&sp, "the test child", err) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, size - 1 - (size_t)len)) > 0)
		len += n;
	buf[len] = '\0';
	close(p[0]);
	if (proc_wait(sp.pid, &status, "the test child", err) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The hex mask after "field:\t" in /proc/self/status text. */
static unsigned long long mask(const char *status, const char *field)
{
	const char *p = strstr(status, field);

	return p ? strtoull(p + strlen(field), NULL, 16) : ~0ULL;
}

int main(void)
{
	struct sk_err err = SK_ERR_INIT;
	char buf[8192], fdpath[64];
	sigset_t block;
	int rc, leak;

	/* What statekit's own process looks like: SIGPIPE ignored, SIGTERM
	 * caught, a signal blocked, a descriptor without close-on-exec. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR2, SIG_IGN); /* as if statekit had been started ignoring it */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	leak = open("/dev/null", O_RDONLY);

	{
		char *argv[] = { "cat", "/proc/self/status", NULL };

		rc = run(argv, buf, sizeof(buf), &err);
		ok(rc == 0, "a child runs and its stdout is ours to read (%d: %s)", rc, err.msg);
		/* 32 and 33 are glibc's own (thread cancellation, setxid): its
		 * signal() will not touch them, and every glibc program sets
		 * them up afresh at start. A make's /bin/sh may ignore them. */
		ok((mask(buf, "SigIgn:\t") & ~0x180000000ULL) == 0,
		   "no signal ignored in the child");
		ok(mask(buf, "SigBlk:\t") == 0, "an empty signal mask in the child");
	}
	{
		char *argv[] = { "readlink", "/proc/self/fd/0", NULL };

		rc = run(argv, buf, sizeof(buf), &err);
		ok(rc == 0 && strcmp(buf, "/dev/null\n") == 0, "stdin is /dev/null");
	}
	{
		char *argv[] = { "test", "-e", fdpath, NULL };

		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", leak);
		rc = run(argv, buf, sizeof(buf), &err);
		ok(rc == 1, "a descriptor without close-on-exec does not reach the child (%d)", rc);
	}
	{
		char *argv[] = { "statekit-no-such-program", NULL };

		sk_err_clear(&err);
		rc = run(argv, buf, sizeof(buf), &err);
		ok(rc == -1 && err.code == SK_EFAIL && err.sys == ENOENT &&
		       strstr(err.msg, "cannot run the test child") != NULL,
		   "an exec failure comes back as an error, not exit 127: %s", err.msg);
	}
	{
		char *argv[] = { "true", NULL };
		struct proc_spawn sp = PROC_SPAWN_INIT(argv);

		sp.dir = "/nonexistent/statekit";
		sk_err_clear(&err);
		rc = proc_spawn(&sp, "the test child", &err);
		ok(rc == -1 && err.sys == ENOENT && strstr(err.msg, "cannot enter") != NULL,
		   "a working directory that cannot be entered is named: %s", err.msg);
	}
	{
		char *argv[] = { "true", NULL };
		struct proc_spawn sp = PROC_SPAWN_INIT(argv);
		int status = -1;

		sp.gated = 1;
		rc = proc_spawn(&sp, "the test child", &err);
		ok(rc == 0 && sp.pid > 0 && waitpid(sp.pid, &status, WNOHANG) == 0,
		   "a gated child waits at the gate");
		proc_spawn_cancel(&sp);
		proc_wait(sp.pid, &status, "the test child", &err);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 125,
		   "a cancelled child exits without running (%d)", status);
	}
	{
		char *argv[] = { "true", NULL };
		struct proc_spawn sp = PROC_SPAWN_INIT(argv);
		int status = -1;

		sp.gated = 1;
		sp.group = PROC_NEW_SESSION;
		rc = proc_spawn(&sp, "the test child", &err);
		ok(rc == 0 && proc_spawn_release(&sp, "the test child", &err) == 0,
		   "a released child runs");
		proc_wait(sp.pid, &status, "the test child", &err);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "and exits 0 (%d)", status);
	}
	{
		char *argv[] = { "statekit-no-such-program", NULL };
		struct proc_spawn sp = PROC_SPAWN_INIT(argv);

		sp.gated = 1;
		sk_err_clear(&err);
		rc = proc_spawn(&sp, "the test child", &err);
		ok(rc == 0 && proc_spawn_release(&sp, "the test child", &err) == -1 &&
		       err.sys == ENOENT && sp.pid == -1,
		   "a released child that cannot exec is reaped and reported: %s", err.msg);
	}
	{
		sk_err_clear(&err);
		ok(proc_status_ok(0, "hook", &err) == 0, "exit 0 is success");
		ok(proc_status_ok(3 << 8, "hook", &err) == -1 &&
		       strcmp(err.msg, "hook failed (exit status 3)") == 0,
		   "an exit status is named: %s", err.msg);
		ok(proc_status_ok(SIGKILL, "hook", &err) == -1 &&
		       strcmp(err.msg, "hook killed by signal 9") == 0,
		   "a signal is named: %s", err.msg);
	}
	close(leak);
	return tap_done();
}
