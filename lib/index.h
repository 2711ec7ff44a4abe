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
struct journal_row {
	int64_t id;
	char object[80];	/* "bot.<id>" */
	char kind[16];		/* "export", "import", "preserve", ... */
	long pid;
	int64_t started;
	char step[32];
	int stopped;		/* the workload was stopped and must be started */
	char path[PATH_MAX];	/* staging or temp file, "" if none */
	char path2[PATH_MAX];	/* the final name it is to replace, "" if none */
	int64_t ino, dev;	/* identity of the staged tree, 0 if not yet known */
};

/* Insert row (its id is set) with pid and started filled in here. */
int idx_journal_begin(struct idx *ix, struct journal_row *row, struct sk_err *err);
/* Write every field of row back; committed (and synced) on return. */
int idx_journal_update(struct idx *ix, const struct journal_row *row, struct sk_err *err);
int idx_journal_end(struct idx *ix, int64_t id, struct sk_err *err);
/* Up to max rows for object, oldest first; *n is how many. */
int idx_journal_find(struct idx *ix, const char *object, struct journal_row *rows,
		     int max, int *n, struct sk_err *err);

struct backup_row {
	char bot[72];
	int64_t generation;
	char file[PATH_MAX];	/* absolute path of the archive */
	char codec[8];
	uint64_t size;
	char sha256[72];
	uint64_t entries;
	int64_t created;	/* unix seconds */
	int64_t restored;	/* unix seconds of the last restore, 0 if never */
};

int idx_backup_add(struct idx *ix, const struct backup_row *row, struct sk_err *err);
/*
 * All backups of bot (or of every bot when bot is NULL), ordered by bot and
 * generation. *rows is malloc'd (free it), *n its length.
 */
int idx_backup_list(struct idx *ix, const char *bot, struct backup_row **rows, size_t *n,
		    struct sk_err *err);
/* One generation, or the newest when generation is 0. SK_ENOENT if none. */
int idx_backup_get(struct idx *ix, const char *bot, int64_t generation,
		   struct backup_row *row, struct sk_err *err);
/* The generation number after the highest ever recorded for bot. */
int idx_backup_next(struct idx *ix, const char *bot, int64_t *generation, struct sk_err *err);
int idx_backup_mark_restored(struct idx *ix, const char *bot, int64_t generation,
			     int64_t when, struct sk_err *err);
int idx_backup_delete(struct idx *ix, const char *bot, int64_t generation,
		      struct sk_err *err);

#endif
