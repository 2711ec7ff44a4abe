/*
 * snap: the Firecracker snapshot operations behind the fcsnap-* commands:
 * create (pause, snapshot, clone disks, resume, hash, record), restore (verify,
 * lay out disks, start a fresh Firecracker, load, resume, record), list,
 * delete and verify, and the journal repair that finishes or undoes what a
 * killed fcsnap command left behind. Results come back as data; the library
 * prints nothing on stdout (snapout.h does, for cmd/).
 */
#ifndef SK_SNAP_H
#define SK_SNAP_H

#include "codec.h"
#include "err.h"
#include "fcjson.h"
#include "index.h"

struct snap_opts {
	const char *config_path; /* -c, or NULL */
	int wait_s;		 /* --wait */
	int json;		 /* --json */
	const char *machine;
	const char *snapshot;
	const char *socket; /* fcsnap-create --socket */
	int all;	    /* fcsnap-verify --all */
	int ids;	    /* fcsnap-list --ids */
	int ntaps;	    /* fcsnap-restore --tap IFACE=NAME */
	struct fc_net taps[FC_MAX_NETS];
	int progress;	       /* --progress */
	int full;	       /* fcsnap-create --full */
	const char *as;	       /* fcsnap-import --as NEWID */
	struct codec_opts co;  /* fcsnap-export -z, -l, -j */
	const char *remote;    /* s3://BUCKET/PREFIX: push, pull, --remote */
	int force;	       /* fcsnap-push --force: replace a remote snapshot */
	int read_data;	       /* fcsnap-verify --remote --read-data */
	int prune;	       /* fcsnap-delete --remote --prune */
	const char *presigned; /* fcsnap-push/-pull --presigned FILE */
};

/* clang-format off */
#define SNAP_OPTS_INIT { .wait_s = 0 }
/* clang-format on */

/* What fcsnap-create made. */
struct snap_created {
	struct snapshot_row row;
	struct artifact_row *arts; /* nart of them; the caller frees it */
	int nart;
	double pause_ms;     /* the pause window (0 if it was already paused) */
	double clone_ms;     /* of which cloning the disks */
	int was_paused;	     /* it was paused before we came */
	int diff;	     /* a Diff snapshot, merged onto base */
	char base[72];	     /* its base snapshot, "" for an empty file */
	char diff_pages[16]; /* "dirty-log" or "resident" */
	char base_copy[8];   /* "reflink", "copy" or "empty" */
	double base_ms;	     /* laying the base, before the pause */
	char full_why[256];  /* a Full snapshot: why */
	char dir[PATH_MAX];  /* the snapshot's directory */
};

/*
 * Snapshot o->machine as o->snapshot; on success *res says what was made
 * (free res->arts). Exit classes 1-5.
 */
int snap_create(const struct snap_opts *o, struct snap_created *res, struct sk_err *err);
/* Boot o->machine from o->snapshot; on success *res is its index row. Exit classes 1-5. */
int snap_restore(const struct snap_opts *o, struct machine_row *res, struct sk_err *err);
/*
 * The snapshots (of o->machine, or all) into *rows (*n of them; the caller
 * frees *rows). With o->ids it only reads: no directories, no repair, and
 * nothing at all when there is no index yet.
 */
int snap_list(const struct snap_opts *o, struct snapshot_row **rows, size_t *n, struct sk_err *err);
/* Remove o->snapshot: its row, then its directory. */
int snap_delete(const struct snap_opts *o, struct sk_err *err);
/* Told of each snapshot verified: e is NULL when it matched, else why not. */
typedef void (*snap_verified_fn)(void *arg, const char *id, const struct sk_err *e);
/*
 * Re-hash o->snapshot (or all with o->all), calling done(arg, ...) after
 * each; SK_EDAMAGED naming each mismatch.
 */
int snap_verify(const struct snap_opts *o, snap_verified_fn done, void *arg, struct sk_err *err);

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

/* What fcsnap-push and fcsnap-pull moved. Counts are of chunks, bytes of data as it is. */
struct snap_moved {
	char snapshot[72]; /* as stored where it went */
	char source[72];   /* its id where it came from */
	char remote[600];
	uint64_t size;		 /* the artifacts' bytes */
	uint64_t chunks;	 /* chunk places in the artifacts */
	uint64_t chunks_zero;	 /* all zeros: never stored */
	uint64_t chunks_moved;	 /* distinct chunks uploaded or downloaded */
	uint64_t chunks_skipped; /* push: distinct chunks the store had */
	uint64_t bytes_moved;	 /* compressed bytes sent or received, manifest included */
	uint64_t bytes_skipped;	 /* push: bytes of the chunks skipped */
	uint64_t manifest_bytes; /* the manifest's share of bytes_moved */
	double seconds;
};
/* fcsnap-push --presigned: the ETag of each part, per artifact, for the control plane. */
struct snap_parts {
	char snapshot[72];
	char *manifest; /* its text, malloc'd */
	int nart;
	struct snap_part_art {
		char name[80];
		uint64_t size, part_size;
		int nparts;
		char (*etags)[80];
	} * arts;
};
void snap_parts_free(struct snap_parts *p);
/* What --prune removed. */
struct snap_pruned {
	uint64_t snapshots; /* manifests read */
	uint64_t chunks_kept;
	uint64_t chunks_deleted;
	uint64_t bytes_deleted; /* as stored */
	uint64_t locks_deleted; /* stale ones */
};

/*
 * Upload o->snapshot to o->remote: every chunk the store lacks, then the
 * manifest. SK_EBUSY if the store has that id already (unless o->force) or
 * is locked for pruning; SK_EUSAGE for a bad remote, no credentials, keys
 * refused or no bucket; SK_EDAMAGED when a chunk read back does not match.
 */
int snap_push(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err);
/*
 * Download o->snapshot from o->remote (as o->as) into the snapshots, each
 * chunk checked against its digest, committed as fcsnap-import does.
 * SK_ENOENT when the store has no such snapshot; SK_EDAMAGED for a chunk
 * or manifest that does not match; SK_EBUSY for an id taken here.
 */
int snap_pull(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err);
/* The snapshots in o->remote (of o->machine, or all), from their manifests. */
int snap_remote_list(const struct snap_opts *o, struct snapshot_row **rows, size_t *n,
		     struct sk_err *err);
/* Remove o->snapshot's manifest from o->remote (its chunks go at the next prune). */
int snap_remote_delete(const struct snap_opts *o, struct sk_err *err);
/*
 * Check o->snapshot (or all) in o->remote: every chunk it names is stored;
 * with o->read_data every chunk downloaded and hashed. done as snap_verify.
 */
int snap_remote_verify(const struct snap_opts *o, snap_verified_fn done, void *arg,
		       struct sk_err *err);
/* Remove the chunks no manifest in o->remote names, and stale locks; exclusive. */
int snap_remote_prune(const struct snap_opts *o, struct snap_pruned *res, struct sk_err *err);
/* Upload o->snapshot's artifacts to the part URLs of o->presigned; *res gets the ETags. */
int snap_push_presigned(const struct snap_opts *o, struct snap_parts *res, struct sk_err *err);
/* Download the snapshot that o->presigned describes (as o->as) and commit it. */
int snap_pull_presigned(const struct snap_opts *o, struct snap_moved *res, struct sk_err *err);

#endif
