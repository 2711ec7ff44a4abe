/*
 * index_test: idx_open on every schema the index has had. Each older
 * version's database is built by hand with its CREATE statements as they
 * were released (git log -p lib/index.c), filled, opened with idx_open and
 * read back through the index API. A newer schema and a damaged file must be
 * refused with the class index.h documents. This test, not the library,
 * talks to SQLite directly: it has to make databases idx_open did not.
 */
#include "index.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[PATH_MAX - 64];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "index_test: %s: %s\n", what, detail ? detail : strerror(errno));
	exit(99);
}

/* Schema 1, as commit 133a221 released it (migration 0 -> 1). */
static const char schema1[] =
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
    "CREATE TABLE backup_seq (bot TEXT PRIMARY KEY, last INTEGER NOT NULL);";

/* Schema 2 on top of schema 1, as commit 339c833 released it (migration 1 -> 2). */
static const char schema2_delta[] =
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
    "  created INTEGER NOT NULL);";

static const char data2[] =
    "INSERT INTO snapshots VALUES ('s9', 'm9', 1700000400, '1.16.1', '10.0.0', 4096, 1500);"
    "INSERT INTO artifacts VALUES ('s9', 'memory', 'memory', '', '', 0, 4096, 'dddd');"
    "INSERT INTO machines VALUES ('m8', 4343, 99, '/run/m8.sock', '/s/machines/m8', 0,"
    " 'eth0=tap8', 's9', 1, 1700000500);";

static const char data1[] =
    "INSERT INTO journal (object, kind, pid, started, step, stopped, path, path2, ino, dev)"
    " VALUES ('bot.b1', 'import', 4242, 1700000000, 'swapped', 1,"
    " '/s/tmp/import.b1.x', '/s/workspaces/b1', 77, 2049);"
    "INSERT INTO backups VALUES ('b1', 3, '/s/backups/b1/3.tar.gz', 'gzip', 1234,"
    " 'aaaa', 10, 1700000100, 0);"
    "INSERT INTO backups VALUES ('b1', 5, '/s/backups/b1/5.tar.zst', 'zstd', 99,"
    " 'bbbb', 2, 1700000200, 1700000300);"
    "INSERT INTO backup_seq VALUES ('b1', 7);";

/* A fresh state directory for one case. */
static const char *new_state(void)
{
	static char path[PATH_MAX];
	static int n;

	snprintf(path, sizeof(path), "%s/state%d", tmpdir, ++n);
	if (mkdir(path, 0700) < 0)
		die("mkdir", NULL);
	return path;
}

static void db_path(const char *state, char *out, size_t size)
{
	snprintf(out, size, "%s/index.db", state);
}

/* Make <state>/index.db from sql with user_version v, without idx_open. */
static void make_db(const char *state, const char *sql, int v)
{
	char path[PATH_MAX + 16], pragma[64];
	sqlite3 *db;
	char *msg = NULL;

	db_path(state, path, sizeof(path));
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(path, sqlite3_errmsg(db));
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", v);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK ||
	    sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK)
		die(path, msg);
	sqlite3_close(db);
}

/* PRAGMA user_version read straight from the file, or -1. */
static int file_version(const char *state)
{
	char path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	db_path(state, path, sizeof(path));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* How many rows a query counts, straight from the file, or -1. */
static int file_count(const char *state, const char *sql)
{
	char path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	db_path(state, path, sizeof(path));
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return n;
}

/* A snapshot, an artifact and a machine: the tables schema 2 added work. */
static int use_schema2(struct idx *ix, struct sk_err *err)
{
	struct snapshot_row s = { .id = "s1", .machine = "m1", .created = 5, .size = 10 };
	struct artifact_row a = { .name = "memory",
				  .kind = "memory",
				  .size = 10,
				  .sha256 = "cccc" };
	struct machine_row m = { .id = "m2",
				 .pid = 1,
				 .socket = "/run/x",
				 .root = "/r",
				 .taps = "eth0=tap0",
				 .snapshot = "s1",
				 .created = 6 };
	struct snapshot_row got;
	struct artifact_row *arts = NULL;
	int ret;

	s.nartifacts = 1;
	if (idx_snap_add(ix, &s, &a, 1, err) < 0 || idx_machine_add(ix, &m, err) < 0 ||
	    idx_snap_get(ix, "s1", &got, &arts, err) < 0)
		return -1;
	ret = got.nartifacts == 1 && arts && strcmp(arts[0].sha256, "cccc") == 0 ? 0 : -1;
	free(arts);
	return ret;
}

/* The table schema 3 added: requests recorded, the latest of a process found. */
static int use_schema3(struct idx *ix, struct sk_err *err)
{
	char snap[72];
	int64_t id = 0;
	int done = -1;

	if (idx_vmm_snapshot_begin(ix, "m1", 10, 20, "a1", &id, err) < 0 ||
	    idx_vmm_snapshot_done(ix, id, err) < 0 ||
	    idx_vmm_snapshot_begin(ix, "m1", 10, 20, "a2", &id, err) < 0 ||
	    idx_vmm_snapshot_last(ix, 10, 20, snap, sizeof(snap), &done, err) < 0)
		return -1;
	if (strcmp(snap, "a2") || done != 0)
		return sk_err_set(err, SK_EFAIL, "last is '%s' done %d, expected a2 0", snap, done);
	/* A new process of m1 makes the old one's requests go. */
	if (idx_vmm_snapshot_begin(ix, "m1", 11, 21, "b1", &id, err) < 0 ||
	    idx_vmm_snapshot_last(ix, 10, 20, snap, sizeof(snap), &done, err) < 0)
		return -1;
	return snap[0] ? sk_err_set(err, SK_EFAIL, "the old process still has '%s'", snap) : 0;
}

/* Schema 4's columns: a tagged backup, then its verification recorded. */
static int use_schema4(struct idx *ix, struct sk_err *err)
{
	struct backup_row r = { .bot = "b4",
				.generation = 2,
				.file = "gen-000002.tar.gz",
				.codec = "gzip",
				.size = 7,
				.sha256 = "eeee",
				.entries = 1,
				.created = 1700000600,
				.tag = "pre-restore" };
	struct backup_row got;

	if (idx_backup_add(ix, &r, err) < 0 ||
	    idx_backup_mark_verified(ix, "b4", 2, 1700000700, 1, err) < 0 ||
	    idx_backup_get(ix, "b4", 2, &got, err) < 0)
		return -1;
	if (got.verified != 1700000700 || got.verify_ok != 1 || strcmp(got.tag, "pre-restore"))
		return sk_err_set(err, SK_EFAIL, "read back verified %lld ok %d tag '%s'",
				  (long long)got.verified, got.verify_ok, got.tag);
	return 0;
}

static void test_fresh(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	struct idx *ix = NULL;
	int rc;

	ok(idx_schema_version() == 4, "index: this build writes schema 4 (the test knows 0-4)");
	rc = idx_open(&ix, state, &err);
	ok(rc == 0 && ix, "index: a missing index.db is created (%s)", err.msg);
	ok(ix && use_schema2(ix, &err) == 0 && use_schema3(ix, &err) == 0 &&
	       use_schema4(ix, &err) == 0,
	   "index: a new index has every table (%s)", err.msg);
	idx_close(ix);
	ok(file_version(state) == idx_schema_version(), "index: a new index is at schema %d",
	   idx_schema_version());
}

static void test_from_0(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	char path[PATH_MAX + 16];
	struct idx *ix = NULL;
	int fd, rc;

	/* Schema 0: an empty file, as a crash right after creating it leaves. */
	db_path(state, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die(path, NULL);
	close(fd);
	rc = idx_open(&ix, state, &err);
	ok(rc == 0, "index: an empty index.db (schema 0) opens (%s)", err.msg);
	ok(ix && use_schema2(ix, &err) == 0, "index: schema 0 migrated to every table (%s)",
	   err.msg);
	idx_close(ix);
	ok(file_version(state) == idx_schema_version(), "index: schema 0 is now the latest (%d)",
	   file_version(state));

	/* Schema 0 with an unrelated table of its own: kept, not dropped. */
	state = new_state();
	make_db(state, "CREATE TABLE mine (x); INSERT INTO mine VALUES (1);", 0);
	ix = NULL;
	rc = idx_open(&ix, state, &err);
	idx_close(ix);
	ok(rc == 0 && file_version(state) == idx_schema_version() &&
	       file_count(state, "SELECT x FROM mine") == 1,
	   "index: schema 0 holding other tables is migrated around them (%s)", err.msg);
}

static void test_from_1(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	struct journal_row j[4];
	struct backup_row *b = NULL;
	struct idx *ix = NULL;
	int64_t gen = 0;
	size_t nb = 0;
	int n = 0, rc;

	make_db(state, schema1, 1);
	make_db(state, data1, 1);
	ok(file_version(state) == 1, "index: the hand-made database is at schema 1");
	rc = idx_open(&ix, state, &err);
	ok(rc == 0, "index: schema 1 opens (%s)", err.msg);
	if (rc < 0)
		return;
	ok(file_version(state) == idx_schema_version(), "index: schema 1 is now the latest (%d)",
	   file_version(state));

	rc = idx_journal_find(ix, "bot.b1", j, 4, &n, &err);
	ok(rc == 0 && n == 1, "index: the schema 1 journal row survives (%d rows, %s)", n, err.msg);
	ok(n == 1 && strcmp(j[0].kind, "import") == 0 && j[0].pid == 4242 &&
	       j[0].started == 1700000000 && strcmp(j[0].step, "swapped") == 0 &&
	       j[0].stopped == 1 && strcmp(j[0].staging, "/s/tmp/import.b1.x") == 0 &&
	       strcmp(j[0].target, "/s/workspaces/b1") == 0 && j[0].ino == 77 && j[0].dev == 2049,
	   "index: every schema 1 journal field reads back unchanged");
	ok(n == 1 && j[0].jail_side[0] == '\0' && j[0].child == 0 && j[0].child_start == 0,
	   "index: the journal columns schema 2 added read as their defaults");
	if (n == 1) {
		snprintf(j[0].jail_side, sizeof(j[0].jail_side), "/jail/x");
		j[0].child = 99;
		rc = idx_journal_update(ix, &j[0], &err);
		n = 0;
		if (rc == 0)
			rc = idx_journal_find(ix, "bot.b1", j, 4, &n, &err);
		ok(rc == 0 && n == 1 && strcmp(j[0].jail_side, "/jail/x") == 0 && j[0].child == 99,
		   "index: a migrated journal row takes the new columns (%s)", err.msg);
	}

	rc = idx_backup_list(ix, "b1", &b, &nb, &err);
	ok(rc == 0 && nb == 2, "index: both schema 1 backups survive (%zu, %s)", nb, err.msg);
	ok(nb == 2 && b[0].generation == 3 && strcmp(b[0].file, "/s/backups/b1/3.tar.gz") == 0 &&
	       strcmp(b[0].codec, "gzip") == 0 && b[0].size == 1234 &&
	       strcmp(b[0].sha256, "aaaa") == 0 && b[0].entries == 10 &&
	       b[0].created == 1700000100 && b[0].restored == 0 && b[1].generation == 5 &&
	       strcmp(b[1].codec, "zstd") == 0 && b[1].restored == 1700000300,
	   "index: every schema 1 backup field reads back unchanged");
	free(b);
	rc = idx_backup_next(ix, "b1", &gen, &err);
	ok(rc == 0 && gen == 8, "index: backup_seq survives: the next generation is 8 (%lld)",
	   (long long)gen);
	ok(use_schema2(ix, &err) == 0, "index: schema 1 gained the schema 2 tables (%s)", err.msg);
	idx_close(ix);

	/* Opening again is a no-op. */
	ix = NULL;
	rc = idx_open(&ix, state, &err);
	idx_close(ix);
	ok(rc == 0 && file_version(state) == idx_schema_version() &&
	       file_count(state, "SELECT count(*) FROM backups") == 2 &&
	       file_count(state, "SELECT count(*) FROM snapshots") == 1,
	   "index: a second open of the migrated index changes nothing (%s)", err.msg);
}

static void test_from_2(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	struct snapshot_row got;
	struct artifact_row *arts = NULL;
	struct machine_row m;
	struct idx *ix = NULL;
	int rc;

	make_db(state, schema1, 1);
	make_db(state, schema2_delta, 2);
	make_db(state, data2, 2);
	rc = idx_open(&ix, state, &err);
	ok(rc == 0 && file_version(state) == idx_schema_version(),
	   "index: schema 2 opens as schema %d (%s)", idx_schema_version(), err.msg);
	if (rc < 0)
		return;
	rc = idx_snap_get(ix, "s9", &got, &arts, &err);
	ok(rc == 0 && got.created == 1700000400 && got.pause_us == 1500 && got.nartifacts == 1 &&
	       arts && strcmp(arts[0].sha256, "dddd") == 0,
	   "index: the schema 2 snapshot and its artifact read back unchanged (%s)", err.msg);
	free(arts);
	rc = idx_machine_get(ix, "m8", &m, &err);
	ok(rc == 0 && m.pid == 4343 && m.pid_start == 99 && m.pins == 1 &&
	       strcmp(m.taps, "eth0=tap8") == 0 && strcmp(m.snapshot, "s9") == 0 && m.tracking == 0,
	   "index: the schema 2 machine reads back unchanged, not tracking (%s)", err.msg);
	m.tracking = 1;
	rc = idx_machine_add(ix, &m, &err);
	memset(&m, 0, sizeof(m));
	if (rc == 0)
		rc = idx_machine_get(ix, "m8", &m, &err);
	ok(rc == 0 && m.tracking == 1, "index: a migrated machine takes tracking (%s)", err.msg);
	ok(use_schema3(ix, &err) == 0, "index: schema 2 gained the schema 3 table (%s)", err.msg);
	idx_close(ix);
}

/* Schema 3's backups gain schema 4's columns: never verified, no tag. */
static void test_from_3(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	struct backup_row b;
	struct idx *ix = NULL;
	int rc;

	make_db(state, schema1, 1);
	make_db(state, data1, 1);
	/* schema 2 and 3 by this build's own migrations, then back to 3 */
	rc = idx_open(&ix, state, &err);
	idx_close(ix);
	ix = NULL;
	make_db(state,
		"ALTER TABLE backups DROP COLUMN verified;"
		"ALTER TABLE backups DROP COLUMN verify_ok;"
		"ALTER TABLE backups DROP COLUMN tag;",
		3);
	ok(rc == 0 && file_version(state) == 3 &&
	       file_count(state, "SELECT count(*) FROM pragma_table_info('backups')") == 9,
	   "index: a schema 3 index to migrate (%s)", err.msg);
	rc = idx_open(&ix, state, &err);
	ok(rc == 0 && file_version(state) == 4, "index: schema 3 opens as schema 4 (%s)", err.msg);
	if (rc < 0)
		return;
	rc = idx_backup_get(ix, "b1", 5, &b, &err);
	ok(rc == 0 && b.size == 99 && b.restored == 1700000300 && b.verified == 0 &&
	       b.verify_ok == 0 && b.tag[0] == '\0',
	   "index: a schema 3 backup reads back unchanged, never verified, untagged (%s)", err.msg);
	ok(use_schema4(ix, &err) == 0, "index: schema 3 gained the schema 4 columns (%s)", err.msg);
	idx_close(ix);
}

static void test_failed_migration(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	struct idx *ix = NULL;
	int rc;

	/*
	 * A schema 1 database that already has a "snapshots" table: the
	 * 1 -> 2 step fails in the middle and must leave schema 1 whole.
	 */
	make_db(state, schema1, 1);
	make_db(state, data1, 1);
	make_db(state, "CREATE TABLE snapshots (x);", 1);
	rc = idx_open(&ix, state, &err);
	ok(rc == -1 && !ix && err.code == SK_EFAIL && strstr(err.msg, "migrate schema"),
	   "index: a migration that fails is an error (%d: %s)", err.code, err.msg);
	ok(file_version(state) == 1 &&
	       file_count(state, "SELECT count(*) FROM pragma_table_info('journal')"
				 " WHERE name = 'path3'") == 0 &&
	       file_count(state, "SELECT count(*) FROM backups") == 2,
	   "index: a failed migration is rolled back whole: schema 1, no new column");
}

/*
 * Bytes 18 and 19 of the database header: 0x0101 for a rollback journal,
 * 0x0202 once the file is in WAL mode.
 */
static int journal_mode_bytes(const char *state)
{
	char path[PATH_MAX + 16];
	unsigned char h[20];
	int fd;

	db_path(state, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		die(path, NULL);
	close(fd);
	return h[18] << 8 | h[19];
}

static void test_newer(void)
{
	struct sk_err err = SK_ERR_INIT;
	const char *state = new_state();
	char want[128];
	struct idx *ix = NULL;
	int rc;

	make_db(state, "CREATE TABLE future (x); INSERT INTO future VALUES (42);",
		idx_schema_version() + 1);
	rc = idx_open(&ix, state, &err);
	snprintf(want, sizeof(want), "has schema %d, newer than this statekit (%d)",
		 idx_schema_version() + 1, idx_schema_version());
	ok(rc == -1 && !ix, "index: a newer schema is refused");
	ok(err.code == SK_EFAIL && strstr(err.msg, want) && strstr(err.msg, "index.db"),
	   "index: a newer schema is SK_EFAIL and says so (%d: %s)", err.code, err.msg);
	ok(file_version(state) == idx_schema_version() + 1 &&
	       file_count(state, "SELECT x FROM future") == 42,
	   "index: a newer index is left as it was");
	ok(journal_mode_bytes(state) == 0x0101,
	   "index: a refused newer index keeps its rollback journal, not switched to WAL "
	   "(header bytes 18-19: %04x)",
	   journal_mode_bytes(state));
}

/* Write len bytes of buf at off into state's index.db. */
static void poke(const char *state, off_t off, const void *buf, size_t len)
{
	char path[PATH_MAX + 16];
	int fd;

	db_path(state, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || pwrite(fd, buf, len, off) != (ssize_t)len)
		die(path, NULL);
	close(fd);
}

static void damaged(const char *label, const char *state)
{
	struct sk_err err = SK_ERR_INIT;
	struct idx *ix = NULL;
	int rc = idx_open(&ix, state, &err);

	ok(rc == -1 && !ix && err.code == SK_EDAMAGED && strstr(err.msg, "index.db"),
	   "index: %s is SK_EDAMAGED (%d: %s)", label, err.code, err.msg);
	idx_close(ix);
}

static void test_damaged(void)
{
	static const char text[] = "this is not a database, it is a text file\n";
	char junk[4096];
	const char *state;
	size_t i;

	state = new_state();
	poke(state, 0, text, sizeof(text) - 1);
	damaged("a short text file", state);

	state = new_state();
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	poke(state, 0, junk, sizeof(junk));
	poke(state, 4096, junk, sizeof(junk));
	damaged("8 KiB of noise", state);

	/* A real schema 1 database whose header magic is gone. */
	state = new_state();
	make_db(state, schema1, 1);
	poke(state, 0, "SQLite format 9", 15);
	damaged("a database with a broken header", state);

	/* A real schema 1 database whose schema page is overwritten. */
	state = new_state();
	make_db(state, schema1, 1);
	memset(junk, 0xa5, sizeof(junk));
	poke(state, 100, junk, 400);
	damaged("a schema 1 database with a broken schema page", state);

	/*
	 * A current index whose backups table page is overwritten: the
	 * header and schema are fine, so open may succeed; reading the table
	 * must then be SK_EDAMAGED, never rows made of noise.
	 */
	{
		struct sk_err err = SK_ERR_INIT;
		struct backup_row *b = NULL;
		struct idx *ix = NULL;
		size_t nb = 0;
		int root, rc;

		state = new_state();
		make_db(state, schema1, 1);
		make_db(state, data1, 1);
		if (idx_open(&ix, state, &err) < 0)
			die("idx_open", err.msg);
		idx_close(ix);
		ix = NULL;
		root =
		    file_count(state, "SELECT rootpage FROM sqlite_master WHERE name = 'backups'");
		if (root < 2)
			die("rootpage", "not found");
		/* Keep the 8-byte page header's type so the page is still a leaf. */
		memset(junk, 0xa5, sizeof(junk));
		poke(state, (off_t)(root - 1) * 4096 + 8, junk, 4096 - 8);
		rc = idx_open(&ix, state, &err);
		if (rc == 0)
			rc = idx_backup_list(ix, NULL, &b, &nb, &err);
		ok(rc == -1 && err.code == SK_EDAMAGED,
		   "index: a current index with a broken table page is SK_EDAMAGED by the time "
		   "it is read (%d: %s)",
		   err.code, err.msg);
		free(b);
		idx_close(ix);
	}
}

/* Remove the temp dir however the test ends, die() included. */
static void remove_tmpdir(void)
{
	char cmd[PATH_MAX + 16];

	if (!tmpdir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0) {
		fprintf(stderr, "index_test: cannot remove '%s'\n", tmpdir);
		_exit(99); /* something was left behind: a failure */
	}
	tmpdir[0] = '\0';
}

int main(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/index_test.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		die("mkdtemp", NULL);
	}
	atexit(remove_tmpdir);

	test_fresh();
	test_from_0();
	test_from_1();
	test_from_2();
	test_from_3();
	test_failed_migration();
	test_newer();
	test_damaged();

	return tap_done();
}
