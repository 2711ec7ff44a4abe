/*
 * proc: what statekit asks of other processes: is a recorded pid still the
 * same process, who listens on a socket, who holds a TAP device, and a
 * command's output captured without a shell.
 */
#ifndef SK_PROC_H
#define SK_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Start time of pid in clock ticks since boot (/proc/PID/stat field 22), or -1. */
int64_t proc_start_time(pid_t pid);

/* 1 if pid is alive and still started at start (a reused pid is not). */
int proc_alive(pid_t pid, int64_t start);

/* The pid of the process listening on the Unix socket at path, or -1. */
pid_t proc_socket_peer(const char *path);

/* The pid of a process holding the TAP device name open (from its fdinfo "iff:"), or 0. */
pid_t proc_tap_holder(const char *name);

/*
 * Every child statekit starts (hooks, ctr, Firecracker, the jailer, version
 * probes) is started by proc_spawn, so that each gets the same setup:
 *   - default dispositions for every signal statekit catches or ignores
 *     (SIGINT, SIGTERM, SIGHUP, SIGPIPE) and an empty signal mask;
 *   - stdin from /dev/null; stdout and stderr as out_fd and err_fd say;
 *   - no other descriptor: our locks, the index and sockets must not live
 *     on in a child (close_range from 3 up);
 *   - if it cannot start (chdir, setns, open, exec), the reason comes back
 *     through a close-on-exec pipe as an errno, never as a bare exit 127.
 * Options that only some children need: a working directory, a session or
 * process group of their own (so that the terminal's Ctrl-C meant for
 * statekit does not kill the ctr that restarts the bot), the host's mount
 * namespace, and a gate that holds the child before its exec until the
 * caller has recorded its pid (proc_spawn_release).
 */
#define PROC_NULL (-1) /* out_fd/err_fd: /dev/null */
#define PROC_KEEP (-2) /* out_fd/err_fd: as inherited */

enum proc_group { PROC_SAME_GROUP, PROC_NEW_GROUP, PROC_NEW_SESSION };

struct proc_spawn {
	char *const *argv;  /* argv[0] is looked up in PATH */
	const char *dir;    /* NULL: the caller's working directory */
	int out_fd, err_fd; /* PROC_NULL, PROC_KEEP or a descriptor to dup */
	enum proc_group group;
	int mntns; /* >= 0: setns(mntns, CLONE_NEWNS) before exec */
	int gated; /* wait for proc_spawn_release before exec */
	/* filled in by proc_spawn */
	pid_t pid;
	int gate_fd, status_fd;
};
/* clang-format off */
#define PROC_SPAWN_INIT(av) \
	{ .argv = (av), .out_fd = PROC_NULL, .err_fd = PROC_KEEP, .mntns = -1, .pid = -1, \
	  .gate_fd = -1, .status_fd = -1 }
/* clang-format on */

/*
 * Start s->argv as set up above; s->pid gets its pid. Ungated, returns
 * once the exec has happened or failed: -1 (SK_EFAIL, "cannot run 'ctr':
 * No such file or directory") after reaping a child that failed. Gated,
 * returns at once; the exec waits for proc_spawn_release. what names the
 * child in errors.
 */
int proc_spawn(struct proc_spawn *s, const char *what, struct sk_err *err);

/*
 * Open a gated child's gate and wait for its exec: 0, or -1 (SK_EFAIL)
 * with the reason it could not start (the child is reaped then). Nothing
 * to do for an ungated or already released child.
 */
int proc_spawn_release(struct proc_spawn *s, const char *what, struct sk_err *err);

/* Close a gated child's gate without releasing it: it exits without exec. */
void proc_spawn_cancel(struct proc_spawn *s);

/*
 * Wait for pid, retrying EINTR; *status as waitpid(2) gives it. 0 or -1
 * (SK_EFAIL).
 */
int proc_wait(pid_t pid, int *status, const char *what, struct sk_err *err);

/*
 * An exit status as a sentence for errors: 0 when it is a clean exit 0;
 * otherwise -1 (SK_EFAIL) with "WHAT failed (exit status N)" or
 * "WHAT killed by signal N".
 */
int proc_status_ok(int status, const char *what, struct sk_err *err);

/*
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null, collect up
 * to size-1 bytes of its stdout into out, stderr discarded. Gives up after
 * timeout_s seconds (killing it). Returns its exit status, or -1 (SK_EFAIL)
 * when it could not run or was killed.
 */
int proc_capture(char *const argv[], char *out, size_t size, int timeout_s, struct sk_err *err);

/* SIGKILL pid (and its process group when it leads one) and wait up to 5 s for it to go. */
void proc_kill_wait(pid_t pid, int64_t start);

#endif
