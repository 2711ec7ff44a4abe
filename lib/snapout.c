/* snapout.c: the fcsnap commands' stdout (tables, ids, JSON) and summary lines. */
#include "snapout.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fcjson.h"
#include "log.h"
#include "banned.h"

/* What fcsnap-list and fcsnap-create --json both say of a snapshot. */
static struct fcjson *snapshot_json(const struct snapshot_row *r, int nart)
{
	struct fcjson *j = fcjson_obj();

	fcjson_set_str(j, "snapshot", r->id);
	fcjson_set_str(j, "machine", r->machine);
	fcjson_set_time(j, "created", r->created);
	fcjson_set_int(j, "size", (int64_t)r->size);
	fcjson_set_int(j, "artifact_count", nart);
	fcjson_set_str(j, "vmm_version", r->vmm_version);
	fcjson_set_str(j, "snapshot_version", r->snapshot_version[0] ? r->snapshot_version : NULL);
	/* the microseconds the manifest and the index keep */
	fcjson_set_ms(j, "pause_ms", (double)r->pause_us / 1000.0);
	return j;
}

static void list_json(const struct snapshot_row *rows, size_t n)
{
	struct fcjson *arr = fcjson_arr();
	size_t i;

	for (i = 0; i < n; i++)
		fcjson_append(arr, snapshot_json(&rows[i], rows[i].nartifacts));
	fcjson_print(stdout, arr);
}

void snapout_list(const struct snap_opts *o, const struct snapshot_row *rows, size_t n)
{
	size_t i;

	if (o->json) {
		list_json(rows, n);
		return;
	}
	if (!o->ids)
		printf("%-24s %-20s %-19s %10s %9s\n", "SNAPSHOT", "MACHINE", "CREATED", "SIZE",
		       "ARTIFACTS");
	for (i = 0; i < n; i++) {
		const struct snapshot_row *r = &rows[i];
		time_t t = (time_t)r->created;
		char when[32], sz[32];
		struct tm tm;

		if (o->ids) {
			printf("%s\n", r->id);
			continue;
		}
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-24s %-20s %-19s %10s %9d\n", r->id, r->machine, when,
		       log_bytes(r->size, sz, sizeof(sz)), r->nartifacts);
	}
}

void snapout_verify_begin(struct snapout_verify *v, int json)
{
	v->arr = json ? fcjson_arr() : NULL;
	v->told = 0;
}

void snapout_verified(void *arg, const char *id, const struct sk_err *e)
{
	struct snapout_verify *v = arg;

	v->told++;

	if (v->arr) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "snapshot", id);
		fcjson_set_bool(j, "ok", e == NULL);
		fcjson_set_str(j, "error", e ? e->msg : NULL);
		fcjson_append(v->arr, j);
	} else if (!e) {
		printf("%s: ok\n", id);
	}
}

void snapout_verify_end(struct snapout_verify *v, int rc)
{
	if (v->arr && (rc == 0 || v->told))
		fcjson_print(stdout, v->arr);
	else
		fcjson_free(v->arr);
	v->arr = NULL;
}

static struct fcjson *artifacts_json(const struct artifact_row *arts, int n)
{
	struct fcjson *a = fcjson_arr();
	int i;

	for (i = 0; i < n; i++) {
		struct fcjson *x = fcjson_obj();

		fcjson_set_str(x, "name", arts[i].name);
		fcjson_set_str(x, "kind", arts[i].kind);
		fcjson_set_str(x, "drive_id", arts[i].drive_id[0] ? arts[i].drive_id : NULL);
		fcjson_set_int(x, "size", (int64_t)arts[i].size);
		fcjson_set_str(x, "sha256", arts[i].sha256);
		fcjson_append(a, x);
	}
	return a;
}

void snapout_created(const struct snap_opts *o, const struct snap_created *r)
{
	const struct snapshot_row *row = &r->row;
	char sz[32];

	if (o->json) {
		struct fcjson *j = snapshot_json(row, r->nart);

		fcjson_set_str(j, "directory", r->dir);
		fcjson_set_ms(j, "clone_ms", r->clone_ms);
		fcjson_set_bool(j, "was_paused", r->was_paused);
		fcjson_set_str(j, "snapshot_type", r->diff ? "Diff" : "Full");
		fcjson_set_str(j, "diff_base", r->diff ? r->base : NULL);
		fcjson_set_str(j, "diff_pages", r->diff ? r->diff_pages : NULL);
		fcjson_set_str(j, "base_copy", r->diff ? r->base_copy : NULL);
		fcjson_set_ms(j, "base_ms", r->base_ms);
		fcjson_set_str(j, "full_reason", r->diff ? NULL : r->full_why);
		fcjson_set(j, "artifacts", artifacts_json(r->arts, r->nart));
		fcjson_print(stdout, j);
	}
	if (r->diff && r->base[0])
		log_info("snapshot '%s': a Diff of the %s pages onto snapshot '%s' (a %s of it, "
			 "%.1f ms before the pause)",
			 row->id, !strcmp(r->diff_pages, "resident") ? "resident" : "dirty-logged",
			 r->base, r->base_copy, r->base_ms);
	else if (r->diff)
		log_info("snapshot '%s': a Diff of the %s pages onto an empty memory file", row->id,
			 !strcmp(r->diff_pages, "resident") ? "resident" : "dirty-logged");
	else
		log_info("snapshot '%s': Full, because %s", row->id, r->full_why);
	log_info("snapshot '%s' of machine '%s': %d artifacts, %s, paused %.1f ms%s", row->id,
		 row->machine, r->nart, log_bytes(row->size, sz, sizeof(sz)), r->pause_ms,
		 r->was_paused ? " (it was already paused)" : "");
}

/* "iface=tap iface=tap" as an object iface -> tap. */
static struct fcjson *taps_json(const char *taps)
{
	struct fcjson *o = fcjson_obj();
	char copy[sizeof(((struct machine_row *)0)->taps)], *save = NULL, *w, *eq;

	snprintf(copy, sizeof(copy), "%s", taps);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		eq = strchr(w, '=');
		if (!eq)
			continue;
		*eq = '\0';
		fcjson_set_str(o, w, eq + 1);
	}
	return o;
}

void snapout_restored(const struct snap_opts *o, const struct machine_row *m)
{
	if (o->json) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "machine", m->id);
		fcjson_set_str(j, "snapshot", m->snapshot);
		fcjson_set_int(j, "pid", m->pid);
		fcjson_set_str(j, "socket", m->socket);
		fcjson_set_str(j, "root", m->root);
		fcjson_set_bool(j, "jailed", m->jailed);
		fcjson_set(j, "taps", taps_json(m->taps));
		fcjson_set_bool(j, "pins_snapshot_memory", m->pins);
		fcjson_set_bool(j, "dirty_tracking", m->tracking);
		fcjson_print(stdout, j);
	}
	log_info("machine '%s' runs from snapshot '%s' (pid %ld, socket %s)", m->id, m->snapshot,
		 m->pid, m->socket);
}

void snapout_moved(const struct snap_opts *o, const struct snap_moved *m, int push)
{
	char sz[32], moved[32], skipped[32];

	if (o->json) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "snapshot", m->snapshot);
		fcjson_set_str(j, "remote", m->remote);
		if (!push)
			fcjson_set_str(j, "source_snapshot", m->source);
		fcjson_set_int(j, "size", (int64_t)m->size);
		fcjson_set_int(j, "chunks", (int64_t)m->chunks);
		fcjson_set_int(j, "chunks_zero", (int64_t)m->chunks_zero);
		fcjson_set_int(j, push ? "chunks_uploaded" : "chunks_downloaded",
			       (int64_t)m->chunks_moved);
		if (push)
			fcjson_set_int(j, "chunks_skipped", (int64_t)m->chunks_skipped);
		fcjson_set_int(j, push ? "bytes_uploaded" : "bytes_downloaded",
			       (int64_t)m->bytes_moved);
		if (push)
			fcjson_set_int(j, "bytes_skipped", (int64_t)m->bytes_skipped);
		fcjson_set_int(j, "manifest_bytes", (int64_t)m->manifest_bytes);
		fcjson_set_ms(j, "duration_ms", m->seconds * 1000.0);
		fcjson_print(stdout, j);
	}
	log_bytes(m->size, sz, sizeof(sz));
	log_bytes(m->bytes_moved, moved, sizeof(moved));
	log_bytes(m->bytes_skipped, skipped, sizeof(skipped));
	if (push)
		log_info("pushed snapshot '%s' (%s) to %s: %llu chunks sent (%s), %llu already "
			 "there (%s), %llu zero",
			 m->snapshot, sz, m->remote, (unsigned long long)m->chunks_moved, moved,
			 (unsigned long long)m->chunks_skipped, skipped,
			 (unsigned long long)m->chunks_zero);
	else
		log_info("pulled snapshot '%s' (%s) from %s: %llu chunks received (%s), %llu zero",
			 m->snapshot, sz, m->remote, (unsigned long long)m->chunks_moved, moved,
			 (unsigned long long)m->chunks_zero);
}

int snapout_parts(const struct snap_parts *p)
{
	struct fcjson *j = fcjson_obj(), *arts = fcjson_arr();
	int i, k;

	fcjson_set_str(j, "snapshot", p->snapshot);
	fcjson_set(j, "manifest", fcjson_from_text(p->manifest));
	for (i = 0; i < p->nart; i++) {
		const struct snap_part_art *a = &p->arts[i];
		struct fcjson *aj = fcjson_obj(), *parts = fcjson_arr();

		fcjson_set_str(aj, "name", a->name);
		fcjson_set_int(aj, "size", (int64_t)a->size);
		fcjson_set_int(aj, "part_size", (int64_t)a->part_size);
		for (k = 0; k < a->nparts; k++) {
			struct fcjson *pj = fcjson_obj();

			fcjson_set_int(pj, "part_number", k + 1);
			fcjson_set_str(pj, "etag", a->etags[k]);
			fcjson_append(parts, pj);
		}
		fcjson_set(aj, "parts", parts);
		fcjson_append(arts, aj);
	}
	fcjson_set(j, "artifacts", arts);
	return fcjson_print(stdout, j);
}

void snapout_pruned(const struct snap_opts *o, const struct snap_pruned *p)
{
	char sz[32];

	if (o->json) {
		struct fcjson *j = fcjson_obj();

		fcjson_set_str(j, "remote", o->remote);
		fcjson_set_int(j, "snapshots", (int64_t)p->snapshots);
		fcjson_set_int(j, "chunks_kept", (int64_t)p->chunks_kept);
		fcjson_set_int(j, "chunks_deleted", (int64_t)p->chunks_deleted);
		fcjson_set_int(j, "bytes_deleted", (int64_t)p->bytes_deleted);
		fcjson_set_int(j, "locks_deleted", (int64_t)p->locks_deleted);
		fcjson_print(stdout, j);
	}
	log_info("pruned %s: %llu chunks removed (%s), %llu kept for %llu snapshots, %llu stale "
		 "locks removed",
		 o->remote, (unsigned long long)p->chunks_deleted,
		 log_bytes(p->bytes_deleted, sz, sizeof(sz)), (unsigned long long)p->chunks_kept,
		 (unsigned long long)p->snapshots, (unsigned long long)p->locks_deleted);
}
