#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int backend_run_hook(const char *what, const char *cmd, const char *bot, struct sk_err *err)
{
	pid_t pid;
	int status;

	if (!cmd || !*cmd)
		return 0;
	pid = fork();
	if (pid < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot run %s", what);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
		    dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, "sh", bot, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return sk_err_sys(err, SK_EFAIL, errno, "wait for %s", what);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return sk_err_set(err, SK_EFAIL, "%s failed (exit status %d)", what,
				  WEXITSTATUS(status));
	return sk_err_set(err, SK_EFAIL, "%s killed by signal %d", what, WTERMSIG(status));
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
	return config_expand(b->cfg->ws_path, b->bot, b->root, sizeof(b->root), err);
}

static void dir_detach(struct backend *b)
{
	(void)b;
}

static const struct backend_ops dir_ops = {
	.name = "dir",
	.stop = dir_stop,
	.start = dir_start,
	.attach = dir_attach,
	.detach = dir_detach,
};

int backend_open(struct backend **out, const struct sk_config *cfg, const char *bot,
		 struct sk_err *err)
{
	struct backend *b;

	*out = NULL;
	if (strcmp(cfg->backend, "dir") != 0)
		return sk_err_set(err, SK_EUSAGE, "workspace backend '%s' is not available yet",
				  cfg->backend);
	b = calloc(1, sizeof(*b));
	if (!b)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	b->ops = &dir_ops;
	b->cfg = cfg;
	snprintf(b->bot, sizeof(b->bot), "%s", bot);
	*out = b;
	return 0;
}

void backend_free(struct backend *b)
{
	free(b);
}
