/*
 * snap.c: the front door of every fcsnap operation. fcsnap-list,
 * fcsnap-delete (and the repair of a killed delete) and fcsnap-verify live
 * here; create, restore, export and import live in snapcreate.c,
 * snaprestore.c and snapxfer.c and are entered from here, handed the table
 * of journal repairs so that no file below this one needs to know the
 * others. What the operations share is in snapint.c.
 */
#include "snap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fsutil.h"
#include "index.h"
#include "lock.h"
#include "log.h"
#include "sig.h"
#include "snapint.h"
#include "banned.h"

/*
 * Each journal kind and the repair that lives beside its operation. Every
 * operation that opens the state read-write repairs what killed commands
 * left, whichever command they were.
 */
static const struct snapint_repair snap_repairs[] = {
	{ "fcsnap-create", snapcreate_repair },	   { "fcsnap-restore", snaprestore_repair },
	{ "fcsnap-delete", snap_repair_delete },   { "fcsnap-import", snapxfer_repair_import },
	{ "fcsnap-pull", snapxfer_repair_import }, { NULL, NULL },
};

int snap_create(const struct snap_opts *o, struct snap_created *res, struct sk_err *err)
{
	return snapcreate_run(o, snap_repairs, res, err);
}

int snap_restore(const struct snap_opts *o, struct machine_row *res, struct sk_err *err)
{
	return snaprestore_run(o, snap_repairs, res, err);
}

int snap_export(const struct snap_opts *o, struct sk_err *err)
{
	return snapxfer_export(o, snap_repairs, err);
}

int snap_import(const struct snap_opts *o, struct sk_err *err)
{
	return snapxfer_import(o, snap_repairs, err);
}

int snap_push(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err)
{
	return snapremote_push(o, snap_repairs, res, err);
}

int snap_pull(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err)
{
	return snapremote_pull(o, snap_repairs, res, err);
}

int snap_push_presigned(const struct snap_opts *o, struct snap_parts *res, struct sk_err *err)
{
	return snapremote_push_presigned(o, snap_repairs, res, err);
}

int snap_pull_presigned(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err)
{
	return snapremote_pull_presigned(o, snap_repairs, res, err);
}

/* ---- fcsnap-list, fcsnap-delete, fcsnap-verify ---- */

int snap_list(const struct snap_opts *o, struct snapshot_row **rows, size_t *n, struct sk_err *err)
{
	struct sctx *c = NULL;
	int ret;

	*rows = NULL;
	*n = 0;
	if (o->machine && config_check_id("machine", o->machine, err) < 0)
		return -1;
	/* Completions call --ids on every Tab: read, never repair or create. */
	if (o->ids)
		ret = snapint_open_readonly(&c, o->config_path, err);
	else
		ret = snapint_open(&c, o->config_path, snap_repairs, err);
	if (ret == 0 && c)
		ret = idx_snap_list(c->ix, o->machine, rows, n, err);
	snapint_close(c);
	return ret;
}

/* fcsnap-delete killed: only once the row is gone is the directory garbage. */
void snap_repair_delete(struct sctx *c, const struct journal_row *r, const char *sid)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row row;

	if (idx_snap_get(c->ix, sid, &row, NULL, &e) < 0 && e.code == SK_ENOENT)
		snapint_rmtree(r->staging);
	sk_err_clear(&e);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
}

int snap_delete(const struct snap_opts *o, struct sk_err *err)
{
	struct sctx *c = NULL;
	struct lock *slk = NULL;
	struct journal_row jr = { 0 };
	struct snapshot_row row;
	struct machine_row *ms = NULL;
	size_t n = 0, i;
	int ret = -1;

	if (config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, snap_repairs, err) < 0 ||
	    lock_acquire(&slk, c->locks, "snapshot", o->snapshot, o->wait_s, err) < 0 ||
	    idx_snap_get(c->ix, o->snapshot, &row, NULL, err) < 0 ||
	    idx_machine_list(c->ix, &ms, &n, err) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (ms[i].pins && !strcmp(ms[i].snapshot, o->snapshot) &&
		    snapint_machine_alive(&ms[i])) {
			sk_err_set(err, SK_EBUSY,
				   "snapshot '%s' is in use: machine '%s' (pid %ld) "
				   "runs from its memory file",
				   o->snapshot, ms[i].id, ms[i].pid);
			goto out;
		}
	snprintf(jr.object, sizeof(jr.object), "snapshot.%s", o->snapshot);
	snprintf(jr.kind, sizeof(jr.kind), "fcsnap-delete");
	snprintf(jr.step, sizeof(jr.step), "unlisting");
	if (fs_pathf(jr.staging, sizeof(jr.staging), err, "%s/%s", c->snaps, o->snapshot) < 0 ||
	    idx_journal_begin(c->ix, &jr, err) < 0)
		goto out;
	/* Row first: a crash after it leaves a directory that repair removes. */
	if (idx_snap_delete(c->ix, o->snapshot, err) < 0)
		goto out;
	fault_point("delete-unlisted");
	if (fs_rmtree(jr.staging, err) < 0 || fs_fsync_path(c->snaps, err) < 0)
		goto out;
	if (idx_journal_end(c->ix, jr.id, err) < 0)
		goto out;
	log_info("deleted snapshot '%s' of machine '%s'", o->snapshot, row.machine);
	ret = 0;
out:
	free(ms);
	lock_release(slk);
	snapint_close(c);
	return ret;
}

/* Verify one snapshot under its lock; tell done, and return 0 or -1 (err). */
static int verify_one(struct sctx *c, const struct snap_opts *o, const char *id,
		      snap_verified_fn done, void *arg, struct sk_err *err)
{
	struct lock *lk = NULL;
	struct snapshot_row row;
	struct artifact_row *arts = NULL;
	struct manifest man = { 0 };
	char dir[PATH_MAX];
	int ret = -1;

	if (lock_acquire(&lk, c->locks, "snapshot", id, o->wait_s, err) < 0 ||
	    idx_snap_get(c->ix, id, &row, &arts, err) < 0 ||
	    fs_pathf(dir, sizeof(dir), err, "%s/%s", c->snaps, id) < 0)
		goto out;
	if (snapint_read_manifest(dir, &man, err) < 0 ||
	    snapint_manifest_matches(&man, &row, arts, err) < 0)
		goto out;
	ret = snapint_verify_artifacts(dir, id, &man, c->cfg.threads, o->progress, err);
out:
	done(arg, id, ret == 0 ? NULL : err);
	fcjson_manifest_free(&man);
	free(arts);
	lock_release(lk);
	return ret;
}

int snap_verify(const struct snap_opts *o, snap_verified_fn done, void *arg, struct sk_err *err)
{
	struct sctx *c = NULL;
	struct snapshot_row *rows = NULL;
	struct sk_err first = SK_ERR_INIT;
	size_t n = 0, i;
	int bad = 0, ret = -1;

	if (!o->all && config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&c, o->config_path, snap_repairs, err) < 0)
		goto out;
	if (!o->all) {
		bad = verify_one(c, o, o->snapshot, done, arg, &first) < 0;
	} else {
		if (idx_snap_list(c->ix, NULL, &rows, &n, err) < 0)
			goto out;
		for (i = 0; i < n; i++) {
			struct sk_err e = SK_ERR_INIT;

			if (verify_one(c, o, rows[i].id, done, arg, &e) == 0)
				continue;
			/* Name every failure; exit with the most telling class. */
			log_error("%s", e.msg);
			if (!bad++ || e.code == SK_EDAMAGED)
				first.code = e.code;
		}
		if (bad)
			snprintf(first.msg, sizeof(first.msg),
				 "%d of %zu snapshots failed verification", bad, n);
	}
	if (bad) {
		*err = first;
		goto out;
	}
	ret = 0;
out:
	free(rows);
	snapint_close(c);
	return ret;
}
