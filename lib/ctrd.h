/*
 * ctrd: containerd, driven through its own client ctr. Every call is a fork
 * and execvp of an argv array (never a shell), with stdin from /dev/null,
 * stdout and stderr captured, and a time limit. Output is parsed strictly
 * here: anything that does not look exactly as expected is an error, never
 * a guess. Nothing in this module mounts or stops anything on its own.
 */
#ifndef SK_CTRD_H
#define SK_CTRD_H

#include <limits.h>

#include "err.h"

struct ctrd {
	char ctr[PATH_MAX]; /* the client: a name looked up on PATH, or a path */
	char address[PATH_MAX];
	char ns[128];
	int timeout_s; /* each call is killed after this long */
};

enum ctrd_task {
	CTRD_TASK_NONE, /* the container has no task */
	CTRD_TASK_CREATED,
	CTRD_TASK_RUNNING,
	CTRD_TASK_STOPPED, /* exited, not yet deleted */
	CTRD_TASK_PAUSED,
	CTRD_TASK_PAUSING,
	CTRD_TASK_UNKNOWN
};

/* What statekit needs from `ctr containers info`. */
struct ctrd_container {
	char snapshotter[64];
	char snapshot_key[256];
	char log_uri[PATH_MAX]; /* label statekit.log-uri, "" if none */
	char stop_signal[32];	/* label io.containerd.image.config.stop-signal, or "" */
};

/* One mount of `ctr snapshots mounts`, as ctr printed it. */
struct ctrd_mount {
	char type[32];
	char source[PATH_MAX];
	char options[16384]; /* comma-separated, as given */
};

/* Label that names the log URI a bot's task is started again with. */
#define CTRD_LABEL_LOG_URI "statekit.log-uri"

/* Fill c; the strings are copied. timeout_s <= 0 means 60 seconds. */
void ctrd_init(struct ctrd *c, const char *ctr, const char *address, const char *ns, int timeout_s);

/*
 * Fail fast when containerd cannot be there: an address that names a path
 * (plain or unix://) must be a socket. SK_EFAIL naming the address.
 */
int ctrd_check_address(const struct ctrd *c, struct sk_err *err);

/*
 * Every container id of the namespace, one per call of add. The first call
 * of an operation: when containerd cannot be reached, SK_EFAIL names the
 * address.
 */
int ctrd_container_ids(const struct ctrd *c, void (*add)(void *arg, const char *id), void *arg,
		       struct sk_err *err);

/* *exists = whether the container id is in the namespace. */
int ctrd_container_exists(const struct ctrd *c, const char *id, int *exists, struct sk_err *err);

/* Snapshotter, snapshot key and the labels statekit reads. SK_EFAIL on errors. */
int ctrd_container_info(const struct ctrd *c, const char *id, struct ctrd_container *out,
			struct sk_err *err);

/*
 * *exists = whether an active snapshot named key exists in snapshotter
 * (NULL or "" for ctr's default snapshotter).
 */
int ctrd_snapshot_exists(const struct ctrd *c, const char *snapshotter, const char *key,
			 int *exists, struct sk_err *err);

/*
 * The mount that makes the snapshot key reachable. Exactly one mount is
 * supported; anything else is SK_EFAIL.
 */
int ctrd_snapshot_mount(const struct ctrd *c, const char *snapshotter, const char *key,
			struct ctrd_mount *m, struct sk_err *err);

/* The state of the container's task (CTRD_TASK_NONE when it has none). */
int ctrd_task_state(const struct ctrd *c, const char *id, enum ctrd_task *state,
		    struct sk_err *err);
const char *ctrd_task_name(enum ctrd_task state);

/* Signal the task's init process (all its processes with all). */
int ctrd_task_kill(const struct ctrd *c, const char *id, const char *signal, int all,
		   struct sk_err *err);
/* Delete a task that is no longer running. */
int ctrd_task_delete(const struct ctrd *c, const char *id, struct sk_err *err);
/*
 * Start a detached task for the container: its IO goes to log_uri when that
 * is set, else to /dev/null (a detached ctr must not leave the task's IO
 * on FIFOs that nobody reads).
 */
int ctrd_task_start(const struct ctrd *c, const char *id, const char *log_uri, struct sk_err *err);

#endif
