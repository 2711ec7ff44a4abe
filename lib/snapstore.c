/*
 * snapstore: the store-side commands: fcsnap-list, fcsnap-delete and
 * fcsnap-verify with --remote, and fcsnap-delete --prune, which removes
 * the chunks no manifest names (rstore.h has the layout and the locks).
 *
 * They work on the store alone: no index, no state directory, so that any
 * host (or an operator's laptop) can look after a fleet's store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "rstore.h"
#include "s3.h"
#include "snap.h"
#include "banned.h"

static int store_open(struct rstore *st, struct sk_config *cfg, const struct snap_opts *o,
		      const char *op, int exclusive, struct sk_err *err)
{
	if (config_load(cfg, o->config_path, err) < 0)
		return -1;
	return rstore_open(st, cfg, o->remote, op, 0, exclusive, o->wait_s, err);
}

static void free_ids(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void row_of(const struct manifest *m, struct snapshot_row *r)
{
	int a;

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", m->snapshot);
	snprintf(r->machine, sizeof(r->machine), "%s", m->machine);
	r->created = m->created;
	snprintf(r->vmm_version, sizeof(r->vmm_version), "%s", m->vmm_version);
	snprintf(r->snapshot_version, sizeof(r->snapshot_version), "%s", m->snapshot_version);
	r->pause_us = m->pause_us;
	r->nartifacts = m->nart;
	for (a = 0; a < m->nart; a++)
		r->size += m->arts[a].size;
}

int snap_remote_list(const struct snap_opts *o, struct snapshot_row **rows, size_t *n,
		     struct sk_err *err)
{
	struct sk_config *cfg = malloc(sizeof(*cfg));
	struct rstore st;
	char **ids = NULL;
	size_t nids = 0, i;
	int ret = -1;

	*rows = NULL;
	*n = 0;
	memset(&st, 0, sizeof(st));
	if (!cfg)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (o->machine && config_check_id("machine", o->machine, err) < 0)
		goto out;
	if (store_open(&st, cfg, o, "fcsnap-list", 0, err) < 0) {
		/* An empty prefix lists nothing. */
		if (err->code == SK_ENOENT && st.s) {
			sk_err_clear(err);
			ret = 0;
		}
		goto out;
	}
	if (rstore_list_ids(&st, &ids, &nids, err) < 0)
		goto out;
	*rows = calloc(nids ? nids : 1, sizeof(**rows));
	if (!*rows) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	for (i = 0; i < nids; i++) {
		struct manifest m;
		char *text = NULL;
		int rc = rstore_get_manifest(&st, ids[i], &text, &m, err);

		free(text);
		if (rc < 0 && err->code == SK_ENOENT) { /* deleted since the list */
			sk_err_clear(err);
			continue;
		}
		if (rc < 0)
			goto out;
		if (!o->machine || !strcmp(o->machine, m.machine))
			row_of(&m, &(*rows)[(*n)++]);
		fcjson_manifest_free(&m);
	}
	ret = 0;
out:
	if (ret < 0) {
		free(*rows);
		*rows = NULL;
		*n = 0;
	}
	free_ids(ids, nids);
	rstore_close(&st);
	free(cfg);
	return ret;
}

int snap_remote_delete(const struct snap_opts *o, struct sk_err *err)
{
	struct sk_config *cfg = malloc(sizeof(*cfg));
	struct rstore st;
	struct s3_req *r = NULL;
	char what[800];
	int ret = -1, has;

	memset(&st, 0, sizeof(st));
	if (!cfg)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (config_check_id("snapshot", o->snapshot, err) < 0 ||
	    store_open(&st, cfg, o, "fcsnap-delete", 0, err) < 0)
		goto out;
	has = rstore_has_manifest(&st, o->snapshot, err);
	if (has <= 0) {
		if (has == 0)
			sk_err_set(err, SK_ENOENT, "no snapshot '%s' in %s", o->snapshot,
				   st.rem.url);
		goto out;
	}
	r = s3_req_new("DELETE");
	if (!r || rstore_manifest_key(o->snapshot, r->key, sizeof(r->key)) < 0) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "delete snapshot '%s' from %s", o->snapshot, st.rem.url);
	if (s3_do(st.s, r, err) < 0 || s3_req_check(st.s, r, what, err) < 0)
		goto out;
	log_info("deleted snapshot '%s' from %s; its chunks go at the next --prune", o->snapshot,
		 st.rem.url);
	ret = 0;
out:
	s3_req_free(r);
	rstore_close(&st);
	free(cfg);
	return ret;
}

/* ---- verify ---- */

/* A chunk some snapshot names: which, and how long it is. */
struct ref {
	uint8_t d[HASH_LEN];
	uint64_t len;
	size_t snap; /* index into the ids */
	int art;
	uint32_t idx;
};

static int cmp_ref(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c = memcmp(x->d, y->d, HASH_LEN);

	return c ? c : x->snap < y->snap ? -1 : x->snap > y->snap;
}

struct vplan {
	struct rstore st;
	char **ids;
	size_t nids;
	struct sk_err *bad; /* per snapshot: why it is damaged, code 0 if not */
	struct manifest *man;
	struct ref *refs;
	size_t nrefs, next;
	struct rstore_set have;
	struct progress prog;
	uint64_t checked;
};

static int add_refs(struct vplan *v, size_t s, struct sk_err *err)
{
	const struct manifest *m = &v->man[s];
	size_t i, total = v->nrefs;
	struct ref *p;
	int a;

	for (a = 0; a < m->nart; a++)
		total += m->chunks[a].n;
	p = realloc(v->refs, (total ? total : 1) * sizeof(*p));
	if (!p)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	v->refs = p;
	for (a = 0; a < m->nart; a++)
		for (i = 0; i < m->chunks[a].n; i++) {
			uint64_t off = (uint64_t)i * m->chunk_size, size = m->arts[a].size;
			struct ref *r;

			if (chunk_is_zero(&m->chunks[a], i, size))
				continue;
			r = &v->refs[v->nrefs++];
			memcpy(r->d, m->chunks[a].d[i], HASH_LEN);
			r->len = size - off < m->chunk_size ? size - off : m->chunk_size;
			r->snap = s;
			r->art = a;
			r->idx = (uint32_t)i;
		}
	return 0;
}

/* Mark every snapshot that names the chunk of refs[first] damaged, with why. */
static void mark_group(struct vplan *v, size_t first, const char *why)
{
	size_t k;
	char hex[HASH_HEX_LEN + 1];

	hash_hex(v->refs[first].d, hex);
	for (k = first; k < v->nrefs && !memcmp(v->refs[k].d, v->refs[first].d, HASH_LEN); k++) {
		struct sk_err *b = &v->bad[v->refs[k].snap];

		if (!b->code)
			sk_err_set(b, SK_EDAMAGED,
				   "snapshot '%s': artifact '%s': chunk %u (%.16s...) %s",
				   v->ids[v->refs[k].snap],
				   v->man[v->refs[k].snap].arts[v->refs[k].art].name,
				   v->refs[k].idx, hex, why);
	}
}

static size_t group_end(const struct vplan *v, size_t first)
{
	size_t k = first + 1;

	while (k < v->nrefs && !memcmp(v->refs[k].d, v->refs[first].d, HASH_LEN))
		k++;
	return k;
}

static struct s3_req *verify_next(void *arg, int idle)
{
	struct vplan *v = arg;
	struct s3_req *r;

	(void)idle;
	/* Only chunks that exist are read; the missing were marked already. */
	while (v->next < v->nrefs && rstore_set_find(&v->have, v->refs[v->next].d) < 0)
		v->next = group_end(v, v->next);
	if (v->next >= v->nrefs)
		return NULL;
	r = s3_req_new("GET");
	if (!r)
		return NULL;
	rstore_chunk_key(v->refs[v->next].d, r->key, sizeof(r->key));
	r->max_resp = zstd_blob_bound((size_t)v->refs[v->next].len) + 64;
	r->tag = v->next;
	v->next = group_end(v, v->next);
	return r;
}

static int verify_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct vplan *v = arg;
	const struct ref *f = &v->refs[r->tag];
	struct sk_err e = SK_ERR_INIT;
	uint8_t *data = malloc(f->len ? f->len : 1);
	int ret = 0;

	if (!data)
		ret = sk_err_set(err, SK_EFAIL, "out of memory");
	else if (s3_req_check(v->st.s, r, "download chunk", &e) < 0 && e.code != SK_ENOENT &&
		 e.code != SK_EDAMAGED)
		ret = (*err = e, -1);
	else if (e.code)
		mark_group(v, r->tag, e.code == SK_ENOENT ? "is missing" : "is damaged");
	else if (rstore_unpack_chunk(r->resp, r->resp_len, f->d, data, (size_t)f->len, &e) < 0)
		mark_group(v, r->tag, "is damaged: it does not match its sha256");
	v->checked++;
	progress_add(&v->prog, f->len);
	free(data);
	s3_req_free(r);
	return ret;
}

static int verify_tick(void *arg, struct sk_err *err)
{
	return rstore_refresh(&((struct vplan *)arg)->st, err);
}

/* Read every manifest to check; a damaged one marks its snapshot. */
static int verify_manifests(struct vplan *v, struct sk_err *err)
{
	size_t s;

	v->bad = calloc(v->nids ? v->nids : 1, sizeof(*v->bad));
	v->man = calloc(v->nids ? v->nids : 1, sizeof(*v->man));
	if (!v->bad || !v->man)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (s = 0; s < v->nids; s++) {
		char *text = NULL;
		int rc = rstore_get_manifest(&v->st, v->ids[s], &text, &v->man[s], &v->bad[s]);

		free(text);
		if (rc < 0 && v->bad[s].code != SK_EDAMAGED) {
			*err = v->bad[s];
			return -1;
		}
		if (rc == 0 && add_refs(v, s, err) < 0)
			return -1;
	}
	qsort(v->refs, v->nrefs, sizeof(*v->refs), cmp_ref);
	return 0;
}

static int verify_chunks(struct vplan *v, int read_data, int progress, struct sk_err *err)
{
	struct s3_ops ops = { verify_next, verify_done, verify_tick, v };
	uint64_t total = 0;
	size_t i;

	if (rstore_list_chunks(&v->st, &v->have, err) < 0)
		return -1;
	for (i = 0; i < v->nrefs; i = group_end(v, i)) {
		if (rstore_set_find(&v->have, v->refs[i].d) < 0)
			mark_group(v, i, "is missing from the store");
		else
			total += v->refs[i].len;
	}
	if (!read_data)
		return 0;
	progress_start(&v->prog, progress, total);
	snprintf(v->prog.what, sizeof(v->prog.what), "reading %.80s", v->st.rem.url);
	if (s3_run(v->st.s, &ops, err) < 0)
		return -1;
	progress_end(&v->prog, 1);
	return 0;
}

int snap_remote_verify(const struct snap_opts *o, snap_verified_fn done, void *arg,
		       struct sk_err *err)
{
	struct sk_config *cfg = malloc(sizeof(*cfg));
	struct vplan v;
	size_t s, nbad = 0;
	int ret = -1;

	memset(&v, 0, sizeof(v));
	if (!cfg)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (!o->all && config_check_id("snapshot", o->snapshot, err) < 0)
		goto out;
	if (store_open(&v.st, cfg, o, "fcsnap-verify", 0, err) < 0)
		goto out;
	if (o->all) {
		if (rstore_list_ids(&v.st, &v.ids, &v.nids, err) < 0)
			goto out;
	} else {
		int has = rstore_has_manifest(&v.st, o->snapshot, err);

		if (has <= 0) {
			if (has == 0)
				sk_err_set(err, SK_ENOENT, "no snapshot '%s' in %s", o->snapshot,
					   v.st.rem.url);
			goto out;
		}
		v.ids = calloc(1, sizeof(*v.ids));
		if (!v.ids || !(v.ids[0] = strdup(o->snapshot))) {
			sk_err_set(err, SK_EFAIL, "out of memory");
			goto out;
		}
		v.nids = 1;
	}
	if (verify_manifests(&v, err) < 0 || verify_chunks(&v, o->read_data, o->progress, err) < 0)
		goto out;
	for (s = 0; s < v.nids; s++) {
		done(arg, v.ids[s], v.bad[s].code ? &v.bad[s] : NULL);
		if (v.bad[s].code && !nbad++)
			*err = v.bad[s];
	}
	if (nbad > 1)
		sk_err_set(err, SK_EDAMAGED, "%zu of %zu snapshots in %s are damaged", nbad, v.nids,
			   v.st.rem.url);
	ret = nbad ? -1 : 0;
out:
	progress_end(&v.prog, 0);
	for (s = 0; v.man && s < v.nids; s++)
		fcjson_manifest_free(&v.man[s]);
	free(v.man);
	free(v.bad);
	free(v.refs);
	rstore_set_free(&v.have);
	free_ids(v.ids, v.nids);
	rstore_close(&v.st);
	free(cfg);
	return ret;
}

/* ---- prune ---- */

struct pplan {
	struct rstore st;
	struct rstore_set keep, have;
	size_t next;
	struct snap_pruned *res;
	char stale[64][300];
	int nstale;
};

static int note_stale(void *arg, const char *key, uint64_t size, int64_t mtime, struct sk_err *err)
{
	struct pplan *p = arg;

	(void)size;
	(void)err;
	if (rstore_lock_stale(key, mtime, (int64_t)time(NULL), NULL) &&
	    strcmp(key, p->st.lock_key) && p->nstale < 64)
		snprintf(p->stale[p->nstale++], sizeof(p->stale[0]), "%s", key);
	return 0;
}

static struct s3_req *prune_next(void *arg, int idle)
{
	struct pplan *p = arg;
	struct s3_req *r;

	(void)idle;
	while (p->next < p->have.n && rstore_set_find(&p->keep, p->have.d[p->next]) >= 0) {
		p->res->chunks_kept++;
		p->next++;
	}
	if (p->next >= p->have.n)
		return NULL;
	r = s3_req_new("DELETE");
	if (!r)
		return NULL;
	rstore_chunk_key(p->have.d[p->next], r->key, sizeof(r->key));
	r->tag = p->next++;
	return r;
}

static int prune_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct pplan *p = arg;
	int ret = s3_req_check(p->st.s, r, "delete a chunk", err);

	if (ret == 0) {
		p->res->chunks_deleted++;
		p->res->bytes_deleted += p->have.size[r->tag];
	}
	s3_req_free(r);
	return ret;
}

static int prune_tick(void *arg, struct sk_err *err)
{
	return rstore_refresh(&((struct pplan *)arg)->st, err);
}

/* What every manifest names; one that cannot be read stops the prune. */
static int prune_keep(struct pplan *p, struct sk_err *err)
{
	char **ids = NULL;
	size_t nids = 0, s, i;
	int ret = -1, a;

	if (rstore_list_ids(&p->st, &ids, &nids, err) < 0)
		return -1;
	for (s = 0; s < nids; s++) {
		struct manifest m;
		char *text = NULL;
		int rc = rstore_get_manifest(&p->st, ids[s], &text, &m, err);

		free(text);
		if (rc < 0) {
			sk_err_wrap(err, "nothing pruned");
			goto out;
		}
		for (a = 0; a < m.nart; a++)
			for (i = 0; i < m.chunks[a].n; i++)
				if (rstore_set_add(&p->keep, m.chunks[a].d[i], 0) < 0) {
					fcjson_manifest_free(&m);
					sk_err_set(err, SK_EFAIL, "out of memory");
					goto out;
				}
		fcjson_manifest_free(&m);
		p->res->snapshots++;
	}
	rstore_set_sort(&p->keep);
	ret = 0;
out:
	free_ids(ids, nids);
	return ret;
}

int snap_remote_prune(const struct snap_opts *o, struct snap_pruned *res, struct sk_err *err)
{
	struct sk_config *cfg = malloc(sizeof(*cfg));
	struct s3_ops ops;
	struct pplan *p = calloc(1, sizeof(*p));
	int ret = -1, i;

	memset(res, 0, sizeof(*res));
	if (!cfg || !p) {
		free(cfg);
		free(p);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	p->res = res;
	ops = (struct s3_ops){ prune_next, prune_done, prune_tick, p };
	/* Exclusive: no push is between its chunks and its manifest. */
	if (store_open(&p->st, cfg, o, "fcsnap-delete --prune", 1, err) < 0 ||
	    prune_keep(p, err) < 0 || rstore_list_chunks(&p->st, &p->have, err) < 0 ||
	    s3_run(p->st.s, &ops, err) < 0)
		goto out;
	if (s3_list(p->st.s, "locks/", note_stale, p, err) < 0)
		goto out;
	for (i = 0; i < p->nstale; i++) {
		struct s3_req *r = s3_req_new("DELETE");

		if (!r)
			break;
		snprintf(r->key, sizeof(r->key), "%s", p->stale[i]);
		if (s3_do(p->st.s, r, err) == 0 &&
		    s3_req_check(p->st.s, r, "delete a lock", err) == 0)
			res->locks_deleted++;
		sk_err_clear(err);
		s3_req_free(r);
	}
	ret = 0;
out:
	rstore_set_free(&p->keep);
	rstore_set_free(&p->have);
	rstore_close(&p->st);
	free(p);
	free(cfg);
	return ret;
}
