/*
 * backend: where a bot's workspace lives and how its workload is stopped and
 * started. The ws operations only ever talk to this interface. "dir" is a
 * host directory with optional stop/start commands; "containerd" is
 * data_path inside a container's snapshot, reached by mounting the snapshot
 * while the container's task is stopped.
 */
#ifndef SK_BACKEND_H
#define SK_BACKEND_H

#include <limits.h>

#include "config.h"
#include "err.h"

struct backend;

struct backend_ops {
	const char *name;
	/*
	 * Look the bot up before anything is changed, and learn whether its
	 * workload runs (b->running). SK_ENOENT when the bot does not exist,
	 * SK_EBUSY when its workload is in a state statekit must not touch,
	 * SK_EFAIL when the backend cannot be asked.
	 */
	int (*probe)(struct backend *b, struct sk_err *err);
	/* Quiesce the workload. Called whether or not it runs. */
	int (*stop)(struct backend *b, struct sk_err *err);
	/*
	 * Bring the workload back; called only when probe said it ran. Safe to
	 * call again after a stop or start that failed half way, or a crash.
	 */
	int (*start)(struct backend *b, struct sk_err *err);
	/*
	 * Make the workspace reachable at b->root, read-only unless writable
	 * (an offline backend mounts it; call only with the workload stopped).
	 * Attaching again for writing upgrades a read-only attachment.
	 */
	int (*attach)(struct backend *b, int writable, struct sk_err *err);
	/* Undo attach; a no-op when not attached. */
	int (*detach)(struct backend *b, struct sk_err *err);
	/*
	 * Remove what a command killed while attached may have left (a
	 * mount). Called under the bot's lock before the journal's repair.
	 */
	int (*sweep)(struct backend *b, struct sk_err *err);
};

struct backend {
	const struct backend_ops *ops;
	const struct sk_config *cfg; /* not owned */
	char bot[72];
	char root[PATH_MAX];	   /* the workspace directory while attached */
	char where[PATH_MAX + 96]; /* the workspace, as an operator knows it */
	/*
	 * The workspace can be attached only while the workload is stopped,
	 * and its st_dev changes from one attachment to the next (a fresh
	 * overlay mount), so only st_ino identifies a directory in it.
	 */
	int offline;
	int running; /* set by probe */
};

/*
 * The backend the config names, for bot. Checks the backend's settings
 * without contacting anything: SK_EUSAGE for a bad one.
 */
int backend_open(struct backend **out, const struct sk_config *cfg, const char *bot,
		 struct sk_err *err);
/* Detach if attached, and free; NULL is fine. */
void backend_free(struct backend *b);

/*
 * Call add for every bot id the configured backend can name without a
 * lock (containerd: containers whose id matches the container template).
 * The dir backend names none here (ws lists its directory itself).
 */
int backend_bot_ids(const struct sk_config *cfg, void (*add)(void *arg, const char *id), void *arg,
		    struct sk_err *err);

/*
 * Run an operator's command through /bin/sh -c with the bot id as $1 (never
 * spliced into the text), stdin from /dev/null and stdout to stderr, so it
 * can neither eat an archive on stdin nor write into one on stdout. It runs
 * in the host's mount namespace even when statekit has left it. An empty
 * command does nothing. SK_EFAIL when it fails, naming what.
 */
int backend_run_hook(const char *what, const char *cmd, const char *bot, struct sk_err *err);

#endif
