/*
 * snapint: what the snapshot operations (snap.c, snapcreate.c, snaprestore.c,
 * snapxfer.c) share: the opened state, the manifest file, artifact checks,
 * and the journal repair loop. Not for use outside those files.
 */
#ifndef SK_SNAPINT_H
#define SK_SNAPINT_H

#include <limits.h>

#include "clone.h"
#include "config.h"
#include "err.h"
#include "fcjson.h"
#include "index.h"
#include "snap.h"

/* The opened state of one fcsnap command; heap-allocated (the config alone is ~45 KB). */
struct sctx {
	struct sk_config cfg;
	struct idx *ix;
	char locks[PATH_MAX];
	char snaps[PATH_MAX];
	char machines[PATH_MAX];
	char tmp[PATH_MAX];
	enum clone_mode clone;
	const struct snapint_repair *repairs; /* snapint_open's, for repair_all */
};

/*
 * A journal repair, each beside its operation. It is called with the
 * object's lock held and the row known to be still there; id is the object's
 * id (machine or snapshot). It ends the row, or leaves it for the next
 * command when the work cannot be finished yet.
 */
struct snapint_repair {
	const char *kind; /* the journal row's kind: "fcsnap-create", ... */
	void (*repair)(struct sctx *c, const struct journal_row *r, const char *id);
};

/*
 * Allocate *cp, load the config, make the state directories, open the index
 * and repair what killed commands left, with repairs (terminated by a NULL
 * kind). On failure *cp may still be set: snapint_close it. Exit classes 1,
 * 2, 5.
 */
int snapint_open(struct sctx **cp, const char *config_path, const struct snapint_repair *repairs,
		 struct sk_err *err);
/*
 * The same for readers that must change nothing (completions): the config and
 * the index only, no directories, no repair. 0 with *cp NULL when there is no
 * index yet.
 */
int snapint_open_readonly(struct sctx **cp, const char *config_path, struct sk_err *err);
/* Close the index and free c; NULL is fine. */
void snapint_close(struct sctx *c);

/*
 * The longest manifest read, from a file or a stream: a chunk's digest takes
 * about 74 bytes of it, so 16 MiB lists 440 GiB of files in 2 MiB chunks.
 */
#define SNAPINT_MAX_MANIFEST (16 << 20)
/* <dir>/manifest.json written by rule 1, or read and checked (SK_EDAMAGED). */
int snapint_write_manifest(const char *dir, const struct manifest *m, struct sk_err *err);
int snapint_read_manifest(const char *dir, struct manifest *m, struct sk_err *err);
/* The manifest and the index row tell the same story, else SK_EDAMAGED. */
int snapint_manifest_matches(const struct manifest *m, const struct snapshot_row *row,
			     const struct artifact_row *arts, struct sk_err *err);
/* Remove a tree, warning (not failing) when that fails; "" does nothing. */
void snapint_rmtree(const char *path);

/* Copy a string, cutting it to fit. */
void snapint_set_str(char *dst, size_t size, const char *src);
/* SK_EFAIL "interrupted" once SIGINT, SIGTERM or SIGHUP arrived, else 0. */
int snapint_check_interrupt(struct sk_err *err);
/* Does the path have a ".." component? */
int snapint_has_dotdot(const char *p);
/* The configured binary's release ("1.16.1") and snapshot format ("10.0.0"); "" if unknown. */
void snapint_binary_versions(const struct sctx *c, char *ver, size_t vsize, char *fmt,
			     size_t fsize);
/*
 * Hash the artifacts of manifest m in snapshot directory dir in parallel and
 * compare: chunk by chunk in format 2 (a chunk in a hole costs nothing),
 * whole files in format 1. Each mismatch is logged and the first one is
 * SK_EDAMAGED (a missing file too). Check m against the index first
 * (snapint_manifest_matches). Progress is drawn as log.h decides
 * (show_progress: --progress).
 */
int snapint_verify_artifacts(const char *dir, const char *label, const struct manifest *m,
			     int threads, int show_progress, struct sk_err *err);
/*
 * A snapshot arriving (fcsnap-import, fcsnap-pull): its id locked and free,
 * a journal row, a staging directory under tmp/, then the commit (rename,
 * index rows) or the undo. The journal kind's repair is
 * snapxfer_repair_import.
 */
struct snapint_stage {
	struct lock *lk;
	const char *id;	       /* the id it is stored as */
	struct journal_row jr; /* staging, and target: the final directory */
	int journaled, recorded;
	int dirfd; /* the staging, -1 if not open (set it so before claim) */
};
/*
 * Lock the id (as, else the manifest's, which m then takes) and check that
 * no snapshot has it: SK_EBUSY, suggesting --as, when one has.
 */
int snapint_stage_claim(struct sctx *c, struct snapint_stage *st, struct manifest *m,
			const char *as, int wait_s, struct sk_err *err);
/* The journal row (kind), then an empty staging directory open in st->dirfd. */
int snapint_stage_begin(struct sctx *c, struct snapint_stage *st, const struct manifest *m,
			const char *kind, struct sk_err *err);
/*
 * The artifacts are in the staging, complete and synced: write the manifest,
 * rename the staging into place, add the index rows (total: the sizes added
 * up), end the journal row.
 */
int snapint_stage_commit(struct sctx *c, struct snapint_stage *st, const struct manifest *m,
			 uint64_t total, struct sk_err *err);
/* After a failure (ret < 0) undo what the stage did; release the lock either way. */
void snapint_stage_end(struct sctx *c, struct snapint_stage *st, int ret);

/*
 * A manifest of format 1 made format 2 in memory: the files of dir are
 * checked against their whole-file digests, then cut into chunks (every
 * snapshot format 1 knew was Full). SK_EDAMAGED on a mismatch.
 */
int snapint_to_format2(struct sctx *c, const char *dir, const char *label, int progress,
		       struct manifest *m, struct sk_err *err);
/* fcsnap-create's choice of snapshot type (snapdiff.c). */
struct snapdiff_plan {
	int diff;		  /* 1: a Diff onto base; 0: Full, for the reason in why */
	uint64_t mem_bytes;	  /* the guest's memory size */
	char base[72];		  /* the base snapshot, "" for an empty file */
	char base_path[PATH_MAX]; /* the file to copy, "" for an empty one */
	char pages[16];		  /* "dirty-log" or "resident" */
	int tracking;		  /* fcsnap-restore loaded the machine with dirty tracking */
	char why[256];		  /* why Full */
};
/*
 * Decide Full or Diff for the running machine (pid, its release, its
 * /vm/config, and the index: whether fcsnap-restore loaded it with dirty page
 * tracking). Never fails: what cannot be known makes it Full, with why.
 */
int snapdiff_choose(struct sctx *c, const char *machine, pid_t pid, const char *vmm_version,
		    const struct fc_vmconfig *vc, struct snapdiff_plan *d);

struct fcapi;
/* PATCH /vm {"state": state}. */
int snapint_call_state(struct fcapi *fc, const char *state, struct sk_err *err);
/* Is the recorded machine's process alive (and the same process)? */
int snapint_machine_alive(const struct machine_row *m);

/*
 * The operations, each in its file, entered through snap.c, which hands them
 * the repair table; and their repairs (struct snapint_repair).
 */
int snapcreate_run(const struct snap_opts *o, const struct snapint_repair *repairs,
		   struct snap_created *res, struct sk_err *err);
int snaprestore_run(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct machine_row *res, struct sk_err *err);
int snapxfer_export(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct sk_err *err);
int snapxfer_import(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct sk_err *err);
int snapremote_push(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct snap_moved *res, struct sk_err *err);
int snapremote_pull(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct snap_moved *res, struct sk_err *err);
int snapremote_push_presigned(const struct snap_opts *o, const struct snapint_repair *repairs,
			      struct snap_parts *res, struct sk_err *err);
int snapremote_pull_presigned(const struct snap_opts *o, const struct snapint_repair *repairs,
			      struct snap_moved *res, struct sk_err *err);
void snapcreate_repair(struct sctx *c, const struct journal_row *r, const char *machine);
void snaprestore_repair(struct sctx *c, const struct journal_row *r, const char *machine);
void snap_repair_delete(struct sctx *c, const struct journal_row *r, const char *sid);
void snapxfer_repair_import(struct sctx *c, const struct journal_row *r, const char *sid);

#endif
