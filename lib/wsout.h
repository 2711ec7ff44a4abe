/*
 * wsout: how the ws commands print their results on stdout: the backup
 * table, the --json documents of ws-import and ws-preserve, and the list of
 * bot ids. Used only by cmd/; the library itself never prints.
 */
#ifndef SK_WSOUT_H
#define SK_WSOUT_H

#include <stddef.h>

#include "ws.h"

struct fcjson;

/* {"bot":...,"entries":...,"bytes":...,"codec":...} and a newline. */
void wsout_import_json(const struct ws_import_result *r);
/*
 * ws-preserve --restore --json, one line: the import's keys plus the
 * generation restored, the target directory (or null) and the pre-restore
 * copy's generation (or null).
 */
void wsout_restore_json(const struct ws_restore_result *r, const char *target);
/* The new generation of ws-preserve --json, one line. */
void wsout_backup_json(const struct ws_backup *b);
/* ws-preserve --list: a header line and one line per backup. */
void wsout_list_table(const struct ws_backup *v, size_t n);
/* ws-preserve --list --json: an array, one backup per line. */
void wsout_list_json(const struct ws_backup *v, size_t n);
/*
 * ws-preserve --verify: "BOT GEN: ok (N entries)" lines as results come,
 * none with -q (the bad ones are on stderr already), or with --json one array at the
 * end, one object per generation verified.
 */
struct wsout_verify {
	struct fcjson *arr;
	size_t told;
};
void wsout_verify_begin(struct wsout_verify *v, int json);
/* A ws_verified_fn; arg is a struct wsout_verify. Results may span bots (--all). */
void wsout_verified(void *arg, const struct ws_verified *r);
void wsout_verify_end(struct wsout_verify *v);
/*
 * ws-preserve --prune: with --dry-run, a table of every generation with
 * what the policy does with it and why; with --json, one array (dry or not)
 * of objects {bot, generation, created, created_epoch, tag, keep, reasons}.
 * Otherwise nothing: the removals are logged with -v.
 */
struct wsout_prune {
	struct fcjson *arr;
	int table;
	size_t told;
};
void wsout_prune_begin(struct wsout_prune *p, int json, int dry_run);
/* A ws_pruned_fn; arg is a struct wsout_prune. */
void wsout_pruned(void *arg, const struct ws_pruned *v);
void wsout_prune_end(struct wsout_prune *p);
/*
 * ws-preserve --ls: a table (TYPE MODE OWNER SIZE MTIME NAME, a link's
 * target after "->" or, for a hard link, "=>"), or with --json one array
 * of {path, type, mode, uid, gid, size, mtime, mtime_epoch, link}, printed
 * only when the whole generation read well.
 */
struct wsout_ls {
	struct fcjson *arr;
	size_t told;
};
void wsout_ls_begin(struct wsout_ls *l, int json);
/* A ws_entry_fn; arg is a struct wsout_ls. */
void wsout_entry(void *arg, const struct ws_entry *e);
void wsout_ls_end(struct wsout_ls *l, int rc);
/* ws-preserve --list-ids: one id per line. */
void wsout_ids(const struct ws_ids *ids);

#endif
