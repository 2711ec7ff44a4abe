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
 * Run argv (argv[0] looked up in PATH) with stdin from /dev/null, collect up
 * to size-1 bytes of its stdout into out, stderr discarded. Gives up after
 * timeout_s seconds (killing it). Returns its exit status, or -1 (SK_EFAIL)
 * when it could not run or was killed.
 */
int proc_capture(char *const argv[], char *out, size_t size, int timeout_s, struct sk_err *err);

/* SIGKILL pid (and its process group when it leads one) and wait up to 5 s for it to go. */
void proc_kill_wait(pid_t pid, int64_t start);

#endif
