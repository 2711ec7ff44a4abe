/*
 * index.c: the SQLite index: open (WAL, busy timeout, synchronous=FULL),
 * forward migration by PRAGMA user_version, and one small function per query
 * for the journal, backups, snapshots with their artifacts, and machines.
 * SQLite's result codes become exit classes in db_code().
 */
#include "index.h"

#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "banned.h"

struct idx {
	sqlite3 *db;
	char path[PATH_MAX];
};

/*
 * Forward migrations: entry i brings a database from user_version i to i+1.
 * Never edit a released entry; append a new one.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the journal and workspace backups */
	"CREATE TABLE journal ("
	"  id INTEGER PRIMARY KEY,"
	"  object TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  started INTEGER NOT NULL,"
	"  step TEXT NOT NULL,"
	"  stopped INTEGER NOT NULL DEFAULT 0,"
	"  path TEXT NOT NULL DEFAULT '',"
	"  path2 TEXT NOT NULL DEFAULT '',"
	"  ino INTEGER NOT NULL DEFAULT 0,"
	"  dev INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX journal_object ON journal(object);"
	"CREATE TABLE backups ("
	"  bot TEXT NOT NULL,"
	"  generation INTEGER NOT NULL,"
	"  file TEXT NOT NULL,"
	"  codec TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  entries INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  restored INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (bot, generation));"
	"CREATE TABLE backup_seq (bot TEXT PRIMARY KEY, last INTEGER NOT NULL);",
	/* 1 -> 2: Firecracker snapshots, their artifacts, restored machines */
	"ALTER TABLE journal ADD COLUMN path3 TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE journal ADD COLUMN child INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE journal ADD COLUMN child_start INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE snapshots ("
	"  id TEXT PRIMARY KEY,"
	"  machine TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  vmm_version TEXT NOT NULL,"
	"  snapshot_version TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  pause_us INTEGER NOT NULL);"
	"CREATE TABLE artifacts ("
	"  snapshot TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  drive_id TEXT NOT NULL DEFAULT '',"
	"  recorded_path TEXT NOT NULL DEFAULT '',"
	"  read_only INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL,"
	"  PRIMARY KEY (snapshot, name));"
	"CREATE TABLE machines ("
	"  id TEXT PRIMARY KEY,"
	"  pid INTEGER NOT NULL,"
	"  pid_start INTEGER NOT NULL,"
	"  socket TEXT NOT NULL,"
	"  root TEXT NOT NULL,"
	"  jailed INTEGER NOT NULL,"
	"  taps TEXT NOT NULL,"
	"  snapshot TEXT NOT NULL,"
	"  pins INTEGER NOT NULL,"
	"  created INTEGER NOT NULL);",
	/* 2 -> 3: every snapshot statekit asked a Firecracker process for; dirty tracking */
	"ALTER TABLE machines ADD COLUMN tracking INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE vmm_snapshots ("
	"  id INTEGER PRIMARY KEY,"
	"  machine TEXT NOT NULL,"
	"  pid INTEGER NOT NULL,"
	"  pid_start INTEGER NOT NULL,"
	"  snapshot TEXT NOT NULL,"
	"  done INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX vmm_snapshots_machine ON vmm_snapshots(machine);",
	/* 3 -> 4: backups: the last verification and its outcome; a tag ("pre-restore") */
	"ALTER TABLE backups ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE backups ADD COLUMN verify_ok INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE backups ADD COLUMN tag TEXT NOT NULL DEFAULT '';",
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int idx_schema_version(void)
{
	return NMIGRATIONS;
}

static int db_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SK_EBUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return SK_EDAMAGED;
	default:
		return SK_EFAIL;
	}
}

static int db_fail(struct idx *ix, int rc, struct sk_err *err, const char *what)
{
	const char *msg = ix->db ? sqlite3_errmsg(ix->db) : sqlite3_errstr(rc);

	if ((rc & 0xff) == SQLITE_BUSY)
		return sk_err_set(err, SK_EBUSY, "index '%s' is busy: %s", ix->path, what);
	return sk_err_set(err, db_code(rc), "index '%s': %s: %s", ix->path, what, msg);
}

static int exec(struct idx *ix, const char *sql, struct sk_err *err)
{
	int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(ix, rc, err, "exec");
}

static int user_version(struct idx *ix, int *v, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(ix->db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return db_fail(ix, rc, err, "read schema version");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return db_fail(ix, rc, err, "read schema version");
	}
	*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int too_new(struct idx *ix, int v, struct sk_err *err)
{
	return sk_err_set(err, SK_EFAIL, "index '%s' has schema %d, newer than this statekit (%d)",
			  ix->path, v, NMIGRATIONS);
}

static int migrate(struct idx *ix, struct sk_err *err)
{
	char sql[64];
	int v;

	if (user_version(ix, &v, err) < 0)
		return -1;
	if (v == NMIGRATIONS)
		return 0;
	if (v > NMIGRATIONS)
		return too_new(ix, v, err);
	/* IMMEDIATE: two first runs racing must not both migrate. */
	if (exec(ix, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (user_version(ix, &v, err) < 0)
		goto fail;
	for (; v < NMIGRATIONS; v++) {
		if (exec(ix, migrations[v], err) < 0)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(ix, sql, err) < 0)
			goto fail;
	}
	return exec(ix, "COMMIT", err);
fail:
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	return sk_err_wrap(err, "migrate schema");
}

/*
 * Switching a new database to WAL needs a lock SQLite does not wait for:
 * with two commands opening a fresh index at once (ws-export | ws-import on
 * a new host), the loser gets SQLITE_BUSY at once, busy timeout or not. So
 * retry here, within the same ten seconds.
 */
static int set_wal(struct idx *ix, struct sk_err *err)
{
	int rc, i;

	for (i = 0; i < 1000; i++) {
		rc = sqlite3_exec(ix->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			break;
		usleep(10 * 1000);
	}
	return rc == SQLITE_OK ? 0 : db_fail(ix, rc, err, "set WAL mode");
}

int idx_open(struct idx **out, const char *state_dir, struct sk_err *err)
{
	struct idx *ix;
	int rc, v;

	*out = NULL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	snprintf(ix->path, sizeof(ix->path), "%s/index.db", state_dir);
	rc =
	    sqlite3_open_v2(ix->path, &ix->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		db_fail(ix, rc, err, "open");
		goto fail;
	}
	sqlite3_busy_timeout(ix->db, 10000);
	/* Before set_wal: a newer statekit's index is refused as it is, not
	 * first switched to WAL by a program that cannot use it. */
	if (user_version(ix, &v, err) < 0)
		goto fail;
	if (v > NMIGRATIONS) {
		too_new(ix, v, err);
		goto fail;
	}
	if (set_wal(ix, err) < 0)
		goto fail;
	/* FULL: a journal row must be on disk before the step it announces. */
	if (exec(ix, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", err) < 0)
		goto fail;
	if (migrate(ix, err) < 0)
		goto fail;
	*out = ix;
	return 0;
fail:
	idx_close(ix);
	return -1;
}

void idx_close(struct idx *ix)
{
	if (!ix)
		return;
	sqlite3_close(ix->db);
	free(ix);
}

static int prep(struct idx *ix, sqlite3_stmt **st, const char *sql, struct sk_err *err)
{
	int rc = sqlite3_prepare_v2(ix->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(ix, rc, err, "prepare");
}

/* Step a statement that returns no rows, then finalize it. */
static int run(struct idx *ix, sqlite3_stmt *st, struct sk_err *err, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(ix, rc, err, what);
}

static void col_text(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

int idx_journal_begin(struct idx *ix, struct journal_row *row, struct sk_err *err)
{
	sqlite3_stmt *st;

	row->pid = (long)getpid();
	row->started = (int64_t)time(NULL);
	if (prep(ix, &st,
		 "INSERT INTO journal (object, kind, pid, started, step, stopped, path, path2,"
		 " ino, dev, path3, child, child_start)"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, row->object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->kind, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, row->pid);
	sqlite3_bind_int64(st, 4, row->started);
	sqlite3_bind_text(st, 5, row->step, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, row->stopped);
	sqlite3_bind_text(st, 7, row->staging, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, row->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, row->ino);
	sqlite3_bind_int64(st, 10, row->dev);
	sqlite3_bind_text(st, 11, row->jail_side, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 12, row->child);
	sqlite3_bind_int64(st, 13, row->child_start);
	if (run(ix, st, err, "add journal row") < 0)
		return -1;
	row->id = sqlite3_last_insert_rowid(ix->db);
	return 0;
}

int idx_journal_update(struct idx *ix, const struct journal_row *row, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st,
		 "UPDATE journal SET step = ?, stopped = ?, path = ?, path2 = ?, ino = ?,"
		 " dev = ?, path3 = ?, child = ?, child_start = ? WHERE id = ?",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, row->step, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, row->stopped);
	sqlite3_bind_text(st, 3, row->staging, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->target, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, row->ino);
	sqlite3_bind_int64(st, 6, row->dev);
	sqlite3_bind_text(st, 7, row->jail_side, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, row->child);
	sqlite3_bind_int64(st, 9, row->child_start);
	sqlite3_bind_int64(st, 10, row->id);
	return run(ix, st, err, "update journal row");
}

int idx_journal_end(struct idx *ix, int64_t id, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st, "DELETE FROM journal WHERE id = ?", err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return run(ix, st, err, "end journal row");
}

#define JOURNAL_COLS                                                                               \
	"id, object, kind, pid, started, step, stopped, path, path2, ino, dev, path3, child,"      \
	" child_start"

static void read_journal(sqlite3_stmt *st, struct journal_row *r)
{
	r->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, r->object, sizeof(r->object));
	col_text(st, 2, r->kind, sizeof(r->kind));
	r->pid = (long)sqlite3_column_int64(st, 3);
	r->started = sqlite3_column_int64(st, 4);
	col_text(st, 5, r->step, sizeof(r->step));
	r->stopped = sqlite3_column_int(st, 6);
	col_text(st, 7, r->staging, sizeof(r->staging));
	col_text(st, 8, r->target, sizeof(r->target));
	r->ino = sqlite3_column_int64(st, 9);
	r->dev = sqlite3_column_int64(st, 10);
	col_text(st, 11, r->jail_side, sizeof(r->jail_side));
	r->child = (long)sqlite3_column_int64(st, 12);
	r->child_start = sqlite3_column_int64(st, 13);
}

static int journal_select(struct idx *ix, const char *sql, const char *arg,
			  struct journal_row *rows, int max, int *n, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (prep(ix, &st, sql, err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		read_journal(st, &rows[(*n)++]);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(ix, rc, err, "read journal");
	return 0;
}

int idx_journal_find(struct idx *ix, const char *object, struct journal_row *rows, int max, int *n,
		     struct sk_err *err)
{
	return journal_select(ix,
			      "SELECT " JOURNAL_COLS " FROM journal WHERE object = ? ORDER BY id",
			      object, rows, max, n, err);
}

int idx_journal_find_kind(struct idx *ix, const char *kind_prefix, struct journal_row *rows,
			  int max, int *n, struct sk_err *err)
{
	return journal_select(ix,
			      "SELECT " JOURNAL_COLS " FROM journal"
			      " WHERE substr(kind, 1, length(?1)) = ?1 ORDER BY id",
			      kind_prefix, rows, max, n, err);
}

int idx_backup_add(struct idx *ix, const struct backup_row *r, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (exec(ix, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (prep(ix, &st,
		 "INSERT INTO backups (bot, generation, file, codec, size, sha256, entries,"
		 " created, restored, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, r->bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->generation);
	sqlite3_bind_text(st, 3, r->file, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->codec, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (int64_t)r->size);
	sqlite3_bind_text(st, 6, r->sha256, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (int64_t)r->entries);
	sqlite3_bind_int64(st, 8, r->created);
	sqlite3_bind_int64(st, 9, r->restored);
	sqlite3_bind_text(st, 10, r->tag, -1, SQLITE_STATIC);
	if (run(ix, st, err, "add backup") < 0)
		goto fail;
	if (prep(ix, &st,
		 "INSERT INTO backup_seq (bot, last) VALUES (?, ?)"
		 " ON CONFLICT(bot) DO UPDATE SET last = max(last, excluded.last)",
		 err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, r->bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->generation);
	if (run(ix, st, err, "add backup") < 0)
		goto fail;
	return exec(ix, "COMMIT", err);
fail:
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static void read_backup(sqlite3_stmt *st, struct backup_row *r)
{
	col_text(st, 0, r->bot, sizeof(r->bot));
	r->generation = sqlite3_column_int64(st, 1);
	col_text(st, 2, r->file, sizeof(r->file));
	col_text(st, 3, r->codec, sizeof(r->codec));
	r->size = (uint64_t)sqlite3_column_int64(st, 4);
	col_text(st, 5, r->sha256, sizeof(r->sha256));
	r->entries = (uint64_t)sqlite3_column_int64(st, 6);
	r->created = sqlite3_column_int64(st, 7);
	r->restored = sqlite3_column_int64(st, 8);
	r->verified = sqlite3_column_int64(st, 9);
	r->verify_ok = sqlite3_column_int(st, 10);
	col_text(st, 11, r->tag, sizeof(r->tag));
}

#define BACKUP_COLS                                                                                \
	"bot, generation, file, codec, size, sha256, entries, created, restored, verified,"        \
	" verify_ok, tag"

int idx_backup_list(struct idx *ix, const char *bot, struct backup_row **rows, size_t *n,
		    struct sk_err *err)
{
	struct backup_row *v = NULL;
	size_t cap = 0, len = 0;
	sqlite3_stmt *st;
	int rc;

	*rows = NULL;
	*n = 0;
	if (prep(ix, &st,
		 "SELECT " BACKUP_COLS " FROM backups WHERE ?1 IS NULL OR bot = ?1"
		 " ORDER BY bot, generation",
		 err) < 0)
		return -1;
	if (bot)
		sqlite3_bind_text(st, 1, bot, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct backup_row *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				sqlite3_finalize(st);
				free(v);
				return sk_err_set(err, SK_EFAIL, "out of memory");
			}
			v = nv;
			cap = ncap;
		}
		read_backup(st, &v[len++]);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return db_fail(ix, rc, err, "list backups");
	}
	*rows = v;
	*n = len;
	return 0;
}

int idx_backup_get(struct idx *ix, const char *bot, int64_t generation, struct backup_row *row,
		   struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prep(ix, &st,
		 "SELECT " BACKUP_COLS
		 " FROM backups WHERE bot = ?1 AND (generation = ?2 OR ?2 = 0 AND tag = '')"
		 " ORDER BY generation DESC LIMIT 1",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, generation);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_backup(st, row);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE)
		return db_fail(ix, rc, err, "read backup");
	if (generation)
		return sk_err_set(err, SK_ENOENT, "bot '%s' has no backup generation %lld", bot,
				  (long long)generation);
	return sk_err_set(err, SK_ENOENT, "bot '%s' has no backup", bot);
}

int idx_backup_next(struct idx *ix, const char *bot, int64_t *generation, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prep(ix, &st,
		 "SELECT max(coalesce((SELECT last FROM backup_seq WHERE bot = ?1), 0),"
		 " coalesce((SELECT max(generation) FROM backups WHERE bot = ?1), 0))",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, bot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*generation = sqlite3_column_int64(st, 0) + 1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_fail(ix, rc, err, "next generation");
}

int idx_backup_mark_restored(struct idx *ix, const char *bot, int64_t generation, int64_t when,
			     struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st, "UPDATE backups SET restored = ? WHERE bot = ? AND generation = ?", err) <
	    0)
		return -1;
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_text(st, 2, bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, generation);
	return run(ix, st, err, "mark backup restored");
}

int idx_backup_mark_verified(struct idx *ix, const char *bot, int64_t generation, int64_t when,
			     int ok, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st,
		 "UPDATE backups SET verified = ?, verify_ok = ? WHERE bot = ? AND generation = ?",
		 err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, when);
	sqlite3_bind_int(st, 2, ok);
	sqlite3_bind_text(st, 3, bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, generation);
	return run(ix, st, err, "mark backup verified");
}

int idx_backup_delete(struct idx *ix, const char *bot, int64_t generation, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st, "DELETE FROM backups WHERE bot = ? AND generation = ?", err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, bot, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, generation);
	return run(ix, st, err, "delete backup");
}

int idx_snap_add(struct idx *ix, const struct snapshot_row *r, const struct artifact_row *arts,
		 int nart, struct sk_err *err)
{
	sqlite3_stmt *st;
	int i, rc;

	if (exec(ix, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (prep(ix, &st,
		 "INSERT INTO snapshots (id, machine, created, vmm_version, snapshot_version,"
		 " size, pause_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
		 err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->machine, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->created);
	sqlite3_bind_text(st, 4, r->vmm_version, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->snapshot_version, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (int64_t)r->size);
	sqlite3_bind_int64(st, 7, r->pause_us);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		sk_err_set(err, SK_EBUSY, "snapshot '%s' already exists", r->id);
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		db_fail(ix, rc, err, "add snapshot");
		goto fail;
	}
	for (i = 0; i < nart; i++) {
		const struct artifact_row *a = &arts[i];

		if (prep(ix, &st,
			 "INSERT INTO artifacts (snapshot, name, kind, drive_id, recorded_path,"
			 " read_only, size, sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
			 err) < 0)
			goto fail;
		sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, a->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, a->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, a->drive_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, a->recorded, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, a->read_only);
		sqlite3_bind_int64(st, 7, (int64_t)a->size);
		sqlite3_bind_text(st, 8, a->sha256, -1, SQLITE_STATIC);
		if (run(ix, st, err, "add artifact") < 0)
			goto fail;
	}
	return exec(ix, "COMMIT", err);
fail:
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

#define SNAP_COLS                                                                                  \
	"id, machine, created, vmm_version, snapshot_version, size, pause_us,"                     \
	" (SELECT count(*) FROM artifacts WHERE snapshot = snapshots.id)"

static void read_snap(sqlite3_stmt *st, struct snapshot_row *r)
{
	col_text(st, 0, r->id, sizeof(r->id));
	col_text(st, 1, r->machine, sizeof(r->machine));
	r->created = sqlite3_column_int64(st, 2);
	col_text(st, 3, r->vmm_version, sizeof(r->vmm_version));
	col_text(st, 4, r->snapshot_version, sizeof(r->snapshot_version));
	r->size = (uint64_t)sqlite3_column_int64(st, 5);
	r->pause_us = sqlite3_column_int64(st, 6);
	r->nartifacts = sqlite3_column_int(st, 7);
}

static int read_artifacts(struct idx *ix, const char *id, int n, struct artifact_row **out,
			  struct sk_err *err)
{
	struct artifact_row *v;
	sqlite3_stmt *st;
	int rc, i = 0;

	v = calloc(n ? (size_t)n : 1, sizeof(*v));
	if (!v)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (prep(ix, &st,
		 "SELECT name, kind, drive_id, recorded_path, read_only, size, sha256"
		 " FROM artifacts WHERE snapshot = ? ORDER BY rowid",
		 err) < 0) {
		free(v);
		return -1;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && i < n) {
		struct artifact_row *a = &v[i++];

		col_text(st, 0, a->name, sizeof(a->name));
		col_text(st, 1, a->kind, sizeof(a->kind));
		col_text(st, 2, a->drive_id, sizeof(a->drive_id));
		col_text(st, 3, a->recorded, sizeof(a->recorded));
		a->read_only = sqlite3_column_int(st, 4);
		a->size = (uint64_t)sqlite3_column_int64(st, 5);
		col_text(st, 6, a->sha256, sizeof(a->sha256));
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(v);
		return db_fail(ix, rc, err, "read artifacts");
	}
	*out = v;
	return 0;
}

int idx_snap_get(struct idx *ix, const char *id, struct snapshot_row *row,
		 struct artifact_row **arts, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (arts)
		*arts = NULL;
	if (prep(ix, &st, "SELECT " SNAP_COLS " FROM snapshots WHERE id = ?", err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_snap(st, row);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return sk_err_set(err, SK_ENOENT, "no snapshot '%s'", id);
	if (rc != SQLITE_ROW)
		return db_fail(ix, rc, err, "read snapshot");
	if (arts)
		return read_artifacts(ix, id, row->nartifacts, arts, err);
	return 0;
}

/* Grow *v (of elem bytes each) so that one more fits. */
static int grow(void **v, size_t *cap, size_t len, size_t elem, struct sk_err *err)
{
	size_t ncap;
	void *nv;

	if (len < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	*v = nv;
	*cap = ncap;
	return 0;
}

int idx_snap_list(struct idx *ix, const char *machine, struct snapshot_row **rows, size_t *n,
		  struct sk_err *err)
{
	void *v = NULL;
	size_t cap = 0, len = 0;
	sqlite3_stmt *st;
	int rc;

	*rows = NULL;
	*n = 0;
	if (prep(ix, &st,
		 "SELECT " SNAP_COLS " FROM snapshots WHERE ?1 IS NULL OR machine = ?1"
		 " ORDER BY created, id",
		 err) < 0)
		return -1;
	if (machine)
		sqlite3_bind_text(st, 1, machine, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow(&v, &cap, len, sizeof(struct snapshot_row), err) < 0) {
			sqlite3_finalize(st);
			free(v);
			return -1;
		}
		read_snap(st, (struct snapshot_row *)v + len++);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return db_fail(ix, rc, err, "list snapshots");
	}
	*rows = v;
	*n = len;
	return 0;
}

int idx_snap_delete(struct idx *ix, const char *id, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (exec(ix, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (prep(ix, &st, "DELETE FROM artifacts WHERE snapshot = ?", err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (run(ix, st, err, "delete artifacts") < 0)
		goto fail;
	if (prep(ix, &st, "DELETE FROM snapshots WHERE id = ?", err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (run(ix, st, err, "delete snapshot") < 0)
		goto fail;
	if (sqlite3_changes(ix->db) == 0) {
		sk_err_set(err, SK_ENOENT, "no snapshot '%s'", id);
		goto fail;
	}
	/* A later snapshot may take the id: a process's base is gone for good. */
	if (prep(ix, &st, "UPDATE vmm_snapshots SET done = -1 WHERE snapshot = ?", err) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (run(ix, st, err, "forget a deleted base") < 0)
		goto fail;
	return exec(ix, "COMMIT", err);
fail:
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

#define MACHINE_COLS                                                                               \
	"id, pid, pid_start, socket, root, jailed, taps, snapshot, pins, created, tracking"

int idx_machine_add(struct idx *ix, const struct machine_row *r, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st,
		 "INSERT OR REPLACE INTO machines (" MACHINE_COLS ")"
		 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->pid);
	sqlite3_bind_int64(st, 3, r->pid_start);
	sqlite3_bind_text(st, 4, r->socket, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->root, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, r->jailed);
	sqlite3_bind_text(st, 7, r->taps, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, r->snapshot, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 9, r->pins);
	sqlite3_bind_int64(st, 10, r->created);
	sqlite3_bind_int(st, 11, r->tracking);
	return run(ix, st, err, "add machine");
}

static void read_machine(sqlite3_stmt *st, struct machine_row *r)
{
	col_text(st, 0, r->id, sizeof(r->id));
	r->pid = (long)sqlite3_column_int64(st, 1);
	r->pid_start = sqlite3_column_int64(st, 2);
	col_text(st, 3, r->socket, sizeof(r->socket));
	col_text(st, 4, r->root, sizeof(r->root));
	r->jailed = sqlite3_column_int(st, 5);
	col_text(st, 6, r->taps, sizeof(r->taps));
	col_text(st, 7, r->snapshot, sizeof(r->snapshot));
	r->pins = sqlite3_column_int(st, 8);
	r->created = sqlite3_column_int64(st, 9);
	r->tracking = sqlite3_column_int(st, 10);
}

int idx_vmm_snapshot_begin(struct idx *ix, const char *machine, long pid, int64_t pid_start,
			   const char *snapshot, int64_t *id, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* Only the latest process of a machine id matters: forget the others. */
	if (prep(ix, &st,
		 "DELETE FROM vmm_snapshots WHERE machine = ? AND (pid != ? OR pid_start != ?)",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, machine, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, pid);
	sqlite3_bind_int64(st, 3, pid_start);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(ix, rc, err, "forget old snapshot requests");
	if (prep(ix, &st,
		 "INSERT INTO vmm_snapshots (machine, pid, pid_start, snapshot) VALUES (?, ?, ?, "
		 "?)",
		 err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, machine, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, pid);
	sqlite3_bind_int64(st, 3, pid_start);
	sqlite3_bind_text(st, 4, snapshot, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_fail(ix, rc, err, "record a snapshot request");
	*id = sqlite3_last_insert_rowid(ix->db);
	return 0;
}

int idx_vmm_snapshot_done(struct idx *ix, int64_t id, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prep(ix, &st, "UPDATE vmm_snapshots SET done = 1 WHERE id = ?", err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_fail(ix, rc, err, "record a snapshot done");
}

int idx_vmm_snapshot_last(struct idx *ix, long pid, int64_t pid_start, char *snapshot, size_t size,
			  int *done, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	snapshot[0] = '\0';
	*done = 0;
	if (prep(ix, &st,
		 "SELECT snapshot, done FROM vmm_snapshots WHERE pid = ? AND pid_start = ? "
		 "ORDER BY id DESC LIMIT 1",
		 err) < 0)
		return -1;
	sqlite3_bind_int64(st, 1, pid);
	sqlite3_bind_int64(st, 2, pid_start);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(snapshot, size, "%s", (const char *)sqlite3_column_text(st, 0));
		*done = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
		   ? 0
		   : db_fail(ix, rc, err, "read snapshot requests");
}

int idx_machine_get(struct idx *ix, const char *id, struct machine_row *row, struct sk_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prep(ix, &st, "SELECT " MACHINE_COLS " FROM machines WHERE id = ?", err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		read_machine(st, row);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return sk_err_set(err, SK_ENOENT, "no machine '%s'", id);
	return rc == SQLITE_ROW ? 0 : db_fail(ix, rc, err, "read machine");
}

int idx_machine_list(struct idx *ix, struct machine_row **rows, size_t *n, struct sk_err *err)
{
	void *v = NULL;
	size_t cap = 0, len = 0;
	sqlite3_stmt *st;
	int rc;

	*rows = NULL;
	*n = 0;
	if (prep(ix, &st, "SELECT " MACHINE_COLS " FROM machines ORDER BY id", err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (grow(&v, &cap, len, sizeof(struct machine_row), err) < 0) {
			sqlite3_finalize(st);
			free(v);
			return -1;
		}
		read_machine(st, (struct machine_row *)v + len++);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(v);
		return db_fail(ix, rc, err, "list machines");
	}
	*rows = v;
	*n = len;
	return 0;
}

int idx_machine_delete(struct idx *ix, const char *id, struct sk_err *err)
{
	sqlite3_stmt *st;

	if (prep(ix, &st, "DELETE FROM machines WHERE id = ?", err) < 0)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	return run(ix, st, err, "delete machine");
}
