/*
 * index: <state.dir>/index.db, the one record of what exists. SQLite in WAL
 * mode with a busy timeout; the schema is versioned with PRAGMA user_version
 * and migrated forward on open. Only this module includes sqlite3.h.
 */
#ifndef SK_INDEX_H
#define SK_INDEX_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct idx;

/*
 * Open (creating if needed) <state_dir>/index.db and migrate it to the
 * current schema. A corrupt file is SK_EDAMAGED, a schema newer than this
 * program knows SK_EFAIL, a lock held past the busy timeout SK_EBUSY.
 */
int idx_open(struct idx **out, const char *state_dir, struct sk_err *err);
void idx_close(struct idx *ix);
/* The schema version this build writes. */
int idx_schema_version(void);

/*
 * The operations journal: a row says "an operation on object is under way
 * and has reached step". A row found by a command that holds the object's
 * lock belongs to a process that died; the finder repairs and ends it.
 */
/*
 * One operation in progress: what the next command must finish or undo if
 * this one dies. The columns are shared by every kind; the field names say
 * what each holds for the kinds that use it.
 */
struct journal_row {
	int64_t id;
	char object[80]; /* "bot.<id>", "machine.<id>", "snapshot.<id>" */
	char kind[16];	 /* "export", "import", "preserve", "fccreate", ... */
	long pid;
	int64_t started;
	char step[32];
	union {		     /* column "stopped" */
		int stopped; /* ws-*: we stopped the bot; it must be started */
		int paused;  /* fcsnap-create: we paused the machine; it must be resumed */
	};
	char staging[PATH_MAX];	       /* column "path": what this operation writes first (a
					* staged tree, a temp file, a snapshot being made or
					* deleted, a new machine's directory); "" if none */
	union {			       /* column "path2"; "" if none */
		char target[PATH_MAX]; /* ws-import, fcsnap-import: the name staging
					* becomes (the workspace, the snapshot) */
		char socket[PATH_MAX]; /* fcsnap-create: the paused machine's API socket */
	};
	int64_t ino, dev;	  /* identity of the staged tree, 0 if not yet known */
	char jail_side[PATH_MAX]; /* column "path3", fcsnap-create: the snapshot's
				   * files inside the machine's jail; "" if none */
	long child;		  /* a process the operation started, 0 if none */
	int64_t child_start;	  /* its start time (proc_start_time), against pid reuse */
};

/* Insert row (its id is set) with pid and started filled in here. */
int idx_journal_begin(struct idx *ix, struct journal_row *row, struct sk_err *err);
/* Write every field of row back; committed (and synced) on return. */
int idx_journal_update(struct idx *ix, const struct journal_row *row, struct sk_err *err);
int idx_journal_end(struct idx *ix, int64_t id, struct sk_err *err);
/* Up to max rows for object, oldest first; *n is how many. */
int idx_journal_find(struct idx *ix, const char *object, struct journal_row *rows, int max, int *n,
		     struct sk_err *err);
/* Up to max rows whose kind starts with kind_prefix, oldest first. */
int idx_journal_find_kind(struct idx *ix, const char *kind_prefix, struct journal_row *rows,
			  int max, int *n, struct sk_err *err);

struct backup_row {
	char bot[72];
	int64_t generation;
	char file[PATH_MAX]; /* absolute path of the archive */
	char codec[8];
	uint64_t size;
	char sha256[72];
	uint64_t entries;
	int64_t created;  /* unix seconds */
	int64_t restored; /* unix seconds of the last restore, 0 if never */
	int64_t verified; /* unix seconds of the last --verify, 0 if never */
	int verify_ok;	  /* that verification passed */
	char tag[16];	  /* "" or "pre-restore" */
};

int idx_backup_add(struct idx *ix, const struct backup_row *row, struct sk_err *err);
/*
 * All backups of bot (or of every bot when bot is NULL), ordered by bot and
 * generation. *rows is malloc'd (free it), *n its length.
 */
int idx_backup_list(struct idx *ix, const char *bot, struct backup_row **rows, size_t *n,
		    struct sk_err *err);
/*
 * One generation, or when generation is 0 the newest untagged one (a
 * pre-restore copy is taken only by its number). SK_ENOENT if none.
 */
int idx_backup_get(struct idx *ix, const char *bot, int64_t generation, struct backup_row *row,
		   struct sk_err *err);
/* The generation number after the highest ever recorded for bot. */
int idx_backup_next(struct idx *ix, const char *bot, int64_t *generation, struct sk_err *err);
int idx_backup_mark_restored(struct idx *ix, const char *bot, int64_t generation, int64_t when,
			     struct sk_err *err);
/* Record a verification of the generation at when: ok or damaged. */
int idx_backup_mark_verified(struct idx *ix, const char *bot, int64_t generation, int64_t when,
			     int ok, struct sk_err *err);
int idx_backup_delete(struct idx *ix, const char *bot, int64_t generation, struct sk_err *err);

/* A Firecracker snapshot: one row, and one artifact row per file. */
struct artifact_row {
	char name[80];		 /* file name inside the snapshot directory */
	char kind[16];		 /* "state", "memory" or "disk" */
	char drive_id[72];	 /* disks: the drive's id, else "" */
	char recorded[PATH_MAX]; /* disks: path_on_host as the machine saw it */
	int read_only;
	uint64_t size;
	char sha256[72];
};

struct snapshot_row {
	char id[72];
	char machine[72];
	int64_t created; /* unix seconds */
	char vmm_version[32];
	char snapshot_version[32]; /* "" when the binary could not tell */
	uint64_t size;		   /* bytes of all artifacts (apparent) */
	int64_t pause_us;
	int nartifacts;
};

/* Add a snapshot and its artifacts in one transaction. SK_EBUSY if the id exists. */
int idx_snap_add(struct idx *ix, const struct snapshot_row *row, const struct artifact_row *arts,
		 int nart, struct sk_err *err);
/*
 * One snapshot; *arts (malloc'd, may be NULL when the caller does not want
 * them) gets its artifacts in insertion order. SK_ENOENT when missing.
 */
int idx_snap_get(struct idx *ix, const char *id, struct snapshot_row *row,
		 struct artifact_row **arts, struct sk_err *err);
/* Every snapshot (of machine, or all when NULL), oldest first; *rows malloc'd. */
int idx_snap_list(struct idx *ix, const char *machine, struct snapshot_row **rows, size_t *n,
		  struct sk_err *err);
/* Remove a snapshot's rows; SK_ENOENT when there were none. */
int idx_snap_delete(struct idx *ix, const char *id, struct sk_err *err);

/* A microVM that fcsnap-restore started. */
struct machine_row {
	char id[72];
	long pid;
	int64_t pid_start; /* proc_start_time of pid, so a reused pid is not taken for it */
	char socket[PATH_MAX];
	char root[PATH_MAX]; /* its directory: machines/<id> or the jail root */
	int jailed;
	char taps[512];	   /* "iface=tap iface=tap" */
	char snapshot[72]; /* restored from */
	int pins;	   /* 1: it maps the snapshot's own memory file */
	int tracking;	   /* 1: loaded with dirty page tracking (track_dirty_pages) */
	int64_t created;
};

/*
 * The snapshots statekit asked each Firecracker process for (pid and
 * proc_start_time), in order, kept after the snapshot itself is deleted:
 * a snapshot resets the process's dirty page log, so the next Diff with
 * dirty tracking is only complete on top of the last one. begin records a
 * request (before the pause) and forgets those of older processes of the
 * machine id; done marks it recorded, and idx_snap_delete marks it -1,
 * deleted. last gives the latest request of the process ("" when there was
 * none) and done: 1 recorded, 0 not (yet), -1 deleted.
 */
int idx_vmm_snapshot_begin(struct idx *ix, const char *machine, long pid, int64_t pid_start,
			   const char *snapshot, int64_t *id, struct sk_err *err);
int idx_vmm_snapshot_done(struct idx *ix, int64_t id, struct sk_err *err);
int idx_vmm_snapshot_last(struct idx *ix, long pid, int64_t pid_start, char *snapshot, size_t size,
			  int *done, struct sk_err *err);

int idx_machine_add(struct idx *ix, const struct machine_row *row, struct sk_err *err);
/* SK_ENOENT when missing. */
int idx_machine_get(struct idx *ix, const char *id, struct machine_row *row, struct sk_err *err);
int idx_machine_list(struct idx *ix, struct machine_row **rows, size_t *n, struct sk_err *err);
int idx_machine_delete(struct idx *ix, const char *id, struct sk_err *err);

#endif
