/*
 * ws: the workspace operations behind ws-export, ws-import and ws-preserve
 * (ws_export.c, ws_import.c, ws_preserve.c, sharing ws_int.c). Each loads
 * the config, takes the bot's lock, repairs what a crashed command left in
 * the journal, then works under a journal row of its own for the next one.
 */
#ifndef SK_WS_H
#define SK_WS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"
#include "retain.h"

struct ws_opts {
	const char *config_path; /* -c, or NULL */
	const char *bot;
	int wait_s;   /* --wait; 0 = fail at once when busy */
	int progress; /* --progress */
	int json;     /* --json */

	const char *output;   /* ws-export -o; NULL = stdout */
	struct codec_opts co; /* -z, -l, -j */

	const char *input; /* ws-import -i; NULL = stdin */
	int merge;

	int64_t generation; /* ws-preserve -g; 0 = newest */
	/* ws-preserve's keep policy (-k, --keep-*), in force when keep_set:
	 * the command line replaces the config's keep keys as a whole. */
	struct retain_policy keep;
	int keep_set;
	int dry_run;	    /* --prune --dry-run: decide, delete nothing */
	int64_t at;	    /* --time: the new generation's creation time; 0 = now */
	int no_backup;	    /* --restore --no-backup: no pre-restore copy */
	const char *target; /* --restore --target DIR; NULL: the bot's workspace */
};

/* clang-format off */
#define WS_OPTS_INIT { .wait_s = 0 }
/* clang-format on */

/* What an import (or a restore) made of its archive. */
struct ws_import_result {
	char bot[72];
	uint64_t entries; /* entries extracted */
	uint64_t bytes;	  /* apparent bytes of regular files */
	enum codec codec; /* the codec the archive came in */
};

/* What ws_restore restored. */
struct ws_restore_result {
	int64_t generation;  /* 0: the legacy directory */
	int64_t pre_restore; /* the copy kept of the workspace first; 0: none */
	struct ws_import_result import;
};

/* The tag of a generation kept of a workspace before a restore replaced it. */
#define WS_TAG_PRE_RESTORE "pre-restore"

/* One backup generation. */
struct ws_backup {
	char bot[72];
	int64_t generation;
	char file[PATH_MAX]; /* absolute path of the archive, "" if it has none */
	char codec[8];
	uint64_t size; /* bytes of the archive */
	char sha256[72];
	uint64_t entries;
	int64_t created;  /* unix seconds */
	int64_t restored; /* unix seconds of the last restore, 0 if never */
	int64_t verified; /* unix seconds of the last --verify, 0 if never */
	int verify_ok;	  /* and whether it passed */
	char tag[16];	  /* "" or "pre-restore" */
};

/* One generation's verification, as ws_verify reports it. */
struct ws_verified {
	char bot[72];
	int64_t generation;
	uint64_t entries;	  /* entries read */
	const struct sk_err *err; /* NULL: good */
};
typedef void (*ws_verified_fn)(void *arg, const struct ws_verified *v);

/* Bot ids, sorted, each once. */
struct ws_ids {
	char **v;
	size_t n;
};

/*
 * None of these prints on stdout: results come back in the caller's
 * structs, and cmd/ prints them. Each returns 0 or -1 with err filled; the
 * exit classes are those of statekit(7).
 */

/* Write the bot's workspace as an archive to o->output or stdout. Exit classes 1-5. */
int ws_export(const struct ws_opts *o, struct sk_err *err);
/*
 * Replace (or with merge, update) the bot's workspace from an archive, all
 * or nothing; *res says what it held. Exit classes 1-5.
 */
int ws_import(const struct ws_opts *o, struct ws_import_result *res, struct sk_err *err);
/*
 * Keep the workspace as a new backup generation, then prune by the keep
 * policy (as ws_prune, reporting nothing); *res
 * is the new generation. Exit classes 1-4.
 */
int ws_preserve(const struct ws_opts *o, struct ws_backup *res, struct sk_err *err);
/*
 * Restore a generation (o->generation, 0 = the newest untagged one) or,
 * when the bot has no backup, its legacy directory, into the workspace;
 * first, unless o->no_backup, keep a workspace that is not empty as a
 * generation tagged pre-restore (res->pre_restore). With o->target, into
 * that directory instead (missing or empty), the bot left alone. Exit
 * classes 1-5 (5: the generation's sha256 does not match).
 */
int ws_restore(const struct ws_opts *o, struct ws_restore_result *res, struct sk_err *err);
/*
 * Is there preserved data not yet restored (a generation never restored,
 * or a legacy directory)? *waiting is the answer; -1 only on an error.
 * Takes no lock.
 */
int ws_check(const struct ws_opts *o, int *waiting, struct sk_err *err);
/*
 * The backups of o->bot (or of every bot when NULL), by bot and
 * generation, without locking. *list is malloc'd (free it), *n its length.
 */
int ws_list(const struct ws_opts *o, struct ws_backup **list, size_t *n, struct sk_err *err);
/*
 * Re-read o->bot's generations (o->generation alone, when set) without
 * extracting them: sha256, the codec's checks, the tar framing and the
 * import policy. Each outcome goes to done and into the index. Under the
 * bot's lock. -1 when any failed: SK_EDAMAGED naming them all (each was
 * logged as found), SK_ENOENT for a bot with no backup.
 */
int ws_verify(const struct ws_opts *o, ws_verified_fn done, void *arg, struct sk_err *err);
/* One entry of a generation, as --ls shows it. */
struct ws_entry {
	const char *path; /* relative, as in the archive */
	char type;	  /* 'f' file, 'd' directory, 'l' symlink, 'h' hardlink */
	unsigned mode;	  /* permission bits */
	unsigned uid, gid;
	int64_t mtime;
	uint64_t size;	  /* a file's apparent size; 0 for the others */
	const char *link; /* a link's target, else NULL */
};
typedef void (*ws_entry_fn)(void *arg, const struct ws_entry *e);
/*
 * The entries of generation o->generation (0: the newest untagged) of
 * o->bot at path and below (path NULL or "": all), in archive order, each
 * to each. The sha256 is checked first; the whole stream is read, so a
 * damaged generation is SK_EDAMAGED. SK_ENOENT when nothing matched path.
 */
int ws_ls(const struct ws_opts *o, const char *path, ws_entry_fn each, void *arg,
	  struct sk_err *err);
/*
 * Write generation o->generation (0: the newest untagged) of o->bot to
 * out_fd: with path NULL, as a plain tar stream; else the bytes of the
 * regular file at path (holes as zeros). SK_ENOENT when there is no such
 * file, SK_EUSAGE when path is not a regular file, SK_EDAMAGED when the
 * generation is.
 */
int ws_dump(const struct ws_opts *o, const char *path, int out_fd, struct sk_err *err);
/* One generation as a prune judged it. */
struct ws_pruned {
	char bot[72];
	int64_t generation;
	int64_t created;
	char tag[16];
	unsigned why; /* the retain.h reasons it is kept; 0: removed (or, dry, would be) */
};
typedef void (*ws_pruned_fn)(void *arg, const struct ws_pruned *p);
/*
 * Apply the keep policy: delete every generation no rule keeps (unless
 * o->dry_run), and files no backup record names. Each generation's verdict
 * goes to done (may be NULL), oldest first.
 */
int ws_prune(const struct ws_opts *o, ws_pruned_fn done, void *arg, struct sk_err *err);
/*
 * Every bot id statekit knows of (workspaces, legacy directories,
 * containers, backups), without locking. Free with ws_ids_free.
 */
int ws_list_ids(const struct ws_opts *o, struct ws_ids *ids, struct sk_err *err);
void ws_ids_free(struct ws_ids *ids);
/*
 * The bots --all works through, sorted, without locking: with
 * WS_BOTS_BACKEND those the backend knows (the dir backend's workspace
 * directories, when path ends in /%s; containerd's containers matching the
 * container template), with WS_BOTS_INDEX those with generations. A
 * backend that cannot be asked is an error (SK_EUSAGE, SK_EFAIL), with
 * nothing in ids.
 */
#define WS_BOTS_BACKEND 1
#define WS_BOTS_INDEX 2
int ws_all_bots(const struct ws_opts *o, int which, struct ws_ids *ids, struct sk_err *err);
/* Is id in ids (sorted, as both functions above leave it)? */
int ws_ids_has(const struct ws_ids *ids, const char *id);

#endif
