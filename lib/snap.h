/*
 * snap: the Firecracker snapshot operations behind the fcsnap-* commands:
 * create (pause, snapshot, clone disks, resume, hash, record), restore (verify,
 * lay out disks, start a fresh Firecracker, load, resume, record), list,
 * delete and verify, and the journal repair that finishes or undoes what a
 * killed fcsnap command left behind.
 */
#ifndef SK_SNAP_H
#define SK_SNAP_H

#include "codec.h"
#include "err.h"
#include "fcjson.h"

struct snap_opts {
	const char *config_path;	/* -c, or NULL */
	int wait_s;			/* --wait */
	int json;			/* --json */
	const char *machine;
	const char *snapshot;
	const char *socket;		/* fcsnap-create --socket */
	int all;			/* fcsnap-verify --all */
	int ids;			/* fcsnap-list --ids */
	int ntaps;			/* fcsnap-restore --tap IFACE=NAME */
	struct fc_net taps[FC_MAX_NETS];
	int progress;			/* --progress */
	const char *as;			/* fcsnap-import --as NEWID */
	struct codec_opts co;		/* fcsnap-export -z, -l, -j */
};

#define SNAP_OPTS_INIT { .wait_s = 0 }

/* Snapshot o->machine as o->snapshot. Exit classes 1-5. */
int snap_create(const struct snap_opts *o, struct sk_err *err);
/* Boot o->machine from o->snapshot. Exit classes 1-5. */
int snap_restore(const struct snap_opts *o, struct sk_err *err);
/* Print the snapshots (of o->machine, or all) as a table, JSON or ids. */
int snap_list(const struct snap_opts *o, struct sk_err *err);
/* Remove o->snapshot: its row, then its directory. */
int snap_delete(const struct snap_opts *o, struct sk_err *err);
/* Re-hash o->snapshot (or all with o->all); SK_EDAMAGED naming each mismatch. */
int snap_verify(const struct snap_opts *o, struct sk_err *err);

/*
 * Write o->snapshot as one stream to fd 1: the manifest, then each artifact's
 * non-zero pages, checking every sha256 on the way (SK_EDAMAGED stops the
 * stream before the damaged file's end record). See snapxfer.c for the format.
 */
int snap_export(const struct snap_opts *o, struct sk_err *err);
/*
 * Read such a stream from fd 0 into staging, check every size and sha256,
 * then move it into the snapshots and record it (as o->as when set).
 */
int snap_import(const struct snap_opts *o, struct sk_err *err);

#endif
