/*
 * snapint: what the snapshot operations (snap.c) share with the snapshot
 * transfer (snapxfer.c): the opened state, the manifest file, and the
 * repair of a killed fcsnap-import. Not for use outside those two.
 */
#ifndef SK_SNAPINT_H
#define SK_SNAPINT_H

#include <limits.h>

#include "clone.h"
#include "config.h"
#include "err.h"
#include "fcjson.h"
#include "index.h"

struct sctx {
	struct sk_config cfg;
	struct idx *ix;
	char locks[PATH_MAX];
	char snaps[PATH_MAX];
	char machines[PATH_MAX];
	char tmp[PATH_MAX];
	enum clone_mode clone;
};

/* Load the config, make the state directories, open the index, repair. */
int snapint_open(struct sctx *c, const char *config_path, struct sk_err *err);
void snapint_close(struct sctx *c);
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
 * Hash the n artifacts want of a snapshot directory in parallel and compare;
 * each mismatch is logged and the first one is SK_EDAMAGED (a missing file too).
 * Progress is drawn as log.h decides (show_progress: --progress).
 */
int snapint_verify_artifacts(const char *dir, const char *label, const struct artifact_row *want,
			     int n, int threads, int show_progress, struct sk_err *err);
struct fcapi;
/* PATCH /vm {"state": state}. */
int snapint_call_state(struct fcapi *fc, const char *state, struct sk_err *err);
/* Is the recorded machine's process alive (and the same process)? */
int snapint_machine_alive(const struct machine_row *m);

/* Repair a journal row of a killed fcsnap-import (in snapxfer.c). */
void sxfer_repair_import(struct sctx *c, const struct journal_row *r, const char *sid);

#endif
