/*
 * sig.c: SIGINT, SIGTERM and SIGHUP only set a flag that long loops poll, so
 * cleanup runs on the normal error path; and the fault points tests use to
 * kill a command at a chosen step.
 */
#include "sig.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "banned.h"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

void sig_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int sig_interrupted(void)
{
	return interrupted != 0;
}

int fault_wanted(const char *name)
{
	const char *f = getenv("STATEKIT_FAULT");

	return f && strcmp(f, name) == 0;
}

void fault_point(const char *name)
{
	if (fault_wanted(name))
		kill(getpid(), SIGKILL);
}
