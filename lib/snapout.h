/*
 * snapout: how the fcsnap commands show their results on stdout (tables,
 * id lists, JSON) and in the log. Used by cmd/ only; the snap operations
 * return data and never print.
 */
#ifndef SK_SNAPOUT_H
#define SK_SNAPOUT_H

#include <stddef.h>

#include "err.h"
#include "index.h"
#include "snap.h"

/* fcsnap-list: a table, ids one a line (o->ids) or a JSON array (o->json). */
void snapout_list(const struct snap_opts *o, const struct snapshot_row *rows, size_t n);

/* fcsnap-verify: "ID: ok" lines as results come, or one JSON array at the end. */
struct snapout_verify {
	struct fcjson *arr; /* NULL unless --json */
	int told;	    /* results received */
};
void snapout_verify_begin(struct snapout_verify *v, int json);
/* A snap_verified_fn; arg is a struct snapout_verify. */
void snapout_verified(void *arg, const char *id, const struct sk_err *e);
/*
 * Print the JSON array (if any) and free it: printed when the verify
 * succeeded (rc 0) or judged at least one snapshot, not when it failed
 * before that.
 */
void snapout_verify_end(struct snapout_verify *v, int rc);

/* fcsnap-create: the JSON document (o->json) and the summary log line. */
void snapout_created(const struct snap_opts *o, const struct snap_created *r);
/* fcsnap-restore: the JSON document (o->json) and the summary log line. */
void snapout_restored(const struct snap_opts *o, const struct machine_row *m);

/* fcsnap-push (push 1) and fcsnap-pull: the JSON document (o->json) and the summary line. */
void snapout_moved(const struct snap_opts *o, const struct snap_moved *m, int push);
/* fcsnap-push --presigned: the parts' ETags as JSON, always (the control plane reads it). */
int snapout_parts(const struct snap_parts *p);
/* fcsnap-delete --prune: the JSON document (o->json) and the summary line. */
void snapout_pruned(const struct snap_opts *o, const struct snap_pruned *p);

#endif
