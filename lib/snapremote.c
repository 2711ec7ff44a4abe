/*
 * snapremote: fcsnap-push and fcsnap-pull, a snapshot to and from an
 * S3-compatible store (rstore.h has the layout), and their --presigned
 * forms for control planes that hold the credentials.
 *
 * Push sends each chunk the store lacks, read back and checked against the
 * manifest first (a damaged local file must not enter the store under the
 * digest of what it should have been), then the manifest. Pull fetches each
 * distinct chunk once, checks it against its digest, writes it wherever the
 * artifacts hold it, leaves zero chunks as holes, and commits through the
 * same staging as fcsnap-import.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fsutil.h"
#include "hash.h"
#include "lock.h"
#include "log.h"
#include "rstore.h"
#include "s3.h"
#include "sig.h"
#include "snap.h"
#include "snapint.h"
#include "banned.h"

#define CHUNK_LEVEL                                                                                \
	1 /* zstd -1: measured 20% faster pushes than -3 (bench/remote-bench.sh); zeros and random \
	     pages pack the same */

/* One place of a chunk in the artifacts. */
struct place {
	uint8_t d[HASH_LEN];
	int art;
	uint32_t idx;
};

static int cmp_place(const void *a, const void *b)
{
	const struct place *x = a, *y = b;
	int c = memcmp(x->d, y->d, HASH_LEN);

	if (c)
		return c;
	if (x->art != y->art)
		return x->art < y->art ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static uint64_t chunk_len(const struct manifest *m, int art, size_t idx)
{
	uint64_t off = (uint64_t)idx * m->chunk_size, size = m->arts[art].size;

	return size - off < m->chunk_size ? size - off : m->chunk_size;
}

/*
 * The non-zero chunk places of m, sorted by digest, so that the places of
 * one chunk lie together. Counts every place and the zero ones.
 */
static int collect_places(const struct manifest *m, struct place **out, size_t *n,
			  struct snap_moved *res, struct sk_err *err)
{
	size_t total = 0, k = 0, i;
	struct place *p;
	int a;

	for (a = 0; a < m->nart; a++)
		total += m->chunks[a].n;
	p = calloc(total ? total : 1, sizeof(*p));
	if (!p)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (a = 0; a < m->nart; a++) {
		res->size += m->arts[a].size;
		for (i = 0; i < m->chunks[a].n; i++) {
			res->chunks++;
			if (chunk_is_zero(&m->chunks[a], i, m->arts[a].size)) {
				res->chunks_zero++;
				continue;
			}
			memcpy(p[k].d, m->chunks[a].d[i], HASH_LEN);
			p[k].art = a;
			p[k++].idx = (uint32_t)i;
		}
	}
	qsort(p, k, sizeof(*p), cmp_place);
	*out = p;
	*n = k;
	return 0;
}

/* The bytes of m's zero chunks: done before a byte moves. */
static uint64_t zero_bytes(const struct manifest *m, const struct place *pl, size_t n)
{
	uint64_t total = 0, data = 0;
	size_t i;
	int a;

	for (a = 0; a < m->nart; a++)
		total += m->arts[a].size;
	for (i = 0; i < n; i++)
		data += chunk_len(m, pl[i].art, pl[i].idx);
	return total - data;
}

/* Draw "pushing 's1': 12 sent, 40 skipped" beside the bytes. */
static void progress_what(struct progress *prog, const char *verb, const char *id,
			  const struct snap_moved *res, int push)
{
	if (push)
		snprintf(prog->what, sizeof(prog->what), "%s '%s': %llu chunks sent, %llu skipped",
			 verb, id, (unsigned long long)res->chunks_moved,
			 (unsigned long long)res->chunks_skipped);
	else
		snprintf(prog->what, sizeof(prog->what), "%s '%s': %llu chunks received", verb, id,
			 (unsigned long long)res->chunks_moved);
}

static int open_artifacts(const char *dir, const struct manifest *m, int *fds, struct sk_err *err)
{
	int a;

	for (a = 0; a < m->nart; a++) {
		char path[PATH_MAX];
		struct stat st;

		if (fs_pathf(path, sizeof(path), err, "%s/%s", dir, m->arts[a].name) < 0)
			return -1;
		fds[a] = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fds[a] < 0)
			return sk_err_sys(err, SK_EDAMAGED, errno, "snapshot '%s': artifact '%s'",
					  m->snapshot, m->arts[a].name);
		if (fstat(fds[a], &st) < 0 || (uint64_t)st.st_size != m->arts[a].size)
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s': artifact '%s' is %lld bytes, expected "
					  "%llu",
					  m->snapshot, m->arts[a].name, (long long)st.st_size,
					  (unsigned long long)m->arts[a].size);
	}
	return 0;
}

/* ---- push ---- */

struct push_plan {
	const struct snap_opts *o;
	struct sctx *c;
	struct lock *lk;
	struct snapshot_row row;
	struct artifact_row *arts;
	struct manifest man;
	char dir[PATH_MAX];
	char *text;
	struct rstore st;
	struct rstore_set have; /* what the store holds */
	struct place *places;
	size_t nplaces;
	size_t *todo;	      /* the chunks to send: their first place */
	uint64_t *todo_bytes; /* the bytes of all their places */
	size_t ntodo;
	int *fds;
	struct snap_moved *res;
	struct progress prog;
	/* the preparing threads (push_worker), under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int sync_init;
	pthread_t *th;
	int nth;
	size_t take, prepared; /* todo taken, and done with */
	struct s3_req **ready; /* packed, waiting for a transfer */
	size_t nready, ready_cap;
	int stop, failed;
	struct sk_err werr; /* why a chunk could not be packed */
};

static int push_open(struct push_plan *p, const struct snap_opts *o,
		     const struct snapint_repair *repairs, struct sk_err *err)
{
	struct sctx *c;
	int a;

	if (config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (snapint_open(&p->c, o->config_path, repairs, err) < 0)
		return -1;
	c = p->c;
	if (lock_acquire(&p->lk, c->locks, "snapshot", o->snapshot, o->wait_s, err) < 0 ||
	    idx_snap_get(c->ix, o->snapshot, &p->row, &p->arts, err) < 0 ||
	    fs_pathf(p->dir, sizeof(p->dir), err, "%s/%s", c->snaps, o->snapshot) < 0 ||
	    snapint_read_manifest(p->dir, &p->man, err) < 0 ||
	    snapint_manifest_matches(&p->man, &p->row, p->arts, err) < 0)
		return -1;
	if (!p->man.chunks &&
	    snapint_to_format2(c, p->dir, o->snapshot, o->progress, &p->man, err) < 0)
		return -1;
	p->text = fcjson_manifest_dump(&p->man, err);
	p->fds = calloc((size_t)p->man.nart, sizeof(*p->fds));
	if (!p->text || !p->fds)
		return p->text ? sk_err_set(err, SK_EFAIL, "out of memory") : -1;
	for (a = 0; a < p->man.nart; a++)
		p->fds[a] = -1;
	return open_artifacts(p->dir, &p->man, p->fds, err);
}

/* The store, locked shared, and no snapshot of this id there unless --force. */
static int push_store(struct push_plan *p, struct sk_err *err)
{
	int has;

	if (rstore_open(&p->st, &p->c->cfg, p->o->remote, "fcsnap-push", 1, 0, p->o->wait_s, err) <
	    0)
		return -1;
	snprintf(p->res->remote, sizeof(p->res->remote), "%s", p->st.rem.url);
	has = rstore_has_manifest(&p->st, p->o->snapshot, err);
	if (has < 0)
		return -1;
	if (has && !p->o->force)
		return sk_err_set(err, SK_EBUSY,
				  "%s already has snapshot '%s'; --force replaces it",
				  p->st.rem.url, p->o->snapshot);
	return rstore_list_chunks(&p->st, &p->have, err);
}

/* Read chunk pl, check it against the manifest, pack it; NULL with *e set on failure. */
static struct s3_req *push_chunk_req(const struct push_plan *p, const struct place *pl,
				     uint8_t *raw, struct sk_err *e)
{
	const struct manifest *m = &p->man;
	size_t len = (size_t)chunk_len(m, pl->art, pl->idx), cap = zstd_blob_bound(len), packed;
	uint8_t md[HASH_LEN];
	struct s3_req *r;

	if (fs_pread_sparse(p->fds[pl->art], raw, len, (uint64_t)pl->idx * m->chunk_size) < 0) {
		sk_err_sys(e, SK_EFAIL, errno, "read '%s/%s'", p->dir, m->arts[pl->art].name);
		return NULL;
	}
	hash_buf(raw, len, md);
	if (memcmp(md, pl->d, HASH_LEN)) {
		sk_err_set(e, SK_EDAMAGED,
			   "snapshot '%s': artifact '%s' is damaged on disk (chunk %u does not "
			   "match the manifest); nothing of it was sent",
			   m->snapshot, m->arts[pl->art].name, pl->idx);
		return NULL;
	}
	r = s3_req_new("PUT");
	if (r)
		r->own = malloc(cap);
	if (!r || !r->own) {
		s3_req_free(r);
		sk_err_set(e, SK_EFAIL, "out of memory");
		return NULL;
	}
	if (zstd_blob_pack(raw, len, r->own, cap, &packed, CHUNK_LEVEL, e) < 0) {
		s3_req_free(r);
		return NULL;
	}
	rstore_chunk_key(pl->d, r->key, sizeof(r->key));
	r->body = r->own;
	r->body_len = packed;
	r->has_body = 1;
	hash_md5_b64(r->own, packed, r->md5);
	return r;
}

/*
 * Which chunks go: one of each digest, unless the store has it. The bytes
 * of a chunk's every place count when it is sent (or at once, if skipped).
 */
static int push_plan_todo(struct push_plan *p, struct sk_err *err)
{
	size_t i = 0, k;

	p->todo = calloc(p->nplaces ? p->nplaces : 1, sizeof(*p->todo));
	p->todo_bytes = calloc(p->nplaces ? p->nplaces : 1, sizeof(*p->todo_bytes));
	if (!p->todo || !p->todo_bytes)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	while (i < p->nplaces) {
		const struct place *pl = &p->places[i];
		uint64_t len = chunk_len(&p->man, pl->art, pl->idx), all = 0;

		for (k = i; k < p->nplaces && !memcmp(p->places[k].d, pl->d, HASH_LEN); k++)
			all += chunk_len(&p->man, p->places[k].art, p->places[k].idx);
		if (rstore_set_find(&p->have, pl->d) >= 0) {
			p->res->chunks_skipped++;
			p->res->bytes_skipped += len;
			progress_add(&p->prog, all);
		} else {
			p->todo_bytes[p->ntodo] = all;
			p->todo[p->ntodo++] = i;
		}
		i = k;
	}
	return 0;
}

/*
 * A preparing thread: reads, hashes and packs the chunks in todo order
 * while the main thread keeps the transfers going, at most ready_cap ahead.
 */
static void *push_worker(void *arg)
{
	struct push_plan *p = arg;
	uint8_t *raw = malloc(p->man.chunk_size);
	struct sk_err e = SK_ERR_INIT;

	pthread_mutex_lock(&p->mu);
	while (!p->stop && p->take < p->ntodo) {
		size_t i;
		struct s3_req *r;

		if (p->nready >= p->ready_cap) {
			pthread_cond_wait(&p->cv, &p->mu);
			continue;
		}
		i = p->take++;
		pthread_mutex_unlock(&p->mu);
		r = raw ? push_chunk_req(p, &p->places[p->todo[i]], raw, &e) : NULL;
		if (!raw)
			sk_err_set(&e, SK_EFAIL, "out of memory");
		if (r)
			r->tag = p->todo_bytes[i];
		pthread_mutex_lock(&p->mu);
		if (!r && !p->failed) {
			p->werr = e;
			p->failed = 1;
		}
		if (r)
			p->ready[p->nready++] = r;
		p->stop |= p->failed;
		p->prepared++;
		pthread_cond_broadcast(&p->cv);
		s3_wakeup(p->st.s);
	}
	pthread_mutex_unlock(&p->mu);
	free(raw);
	return NULL;
}

static int push_workers_start(struct push_plan *p, struct sk_err *err)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cores < 2 ? 2 : cores > 8 ? 8 : (int)cores;

	p->ready_cap = 16;
	p->ready = calloc(p->ready_cap, sizeof(*p->ready));
	p->th = calloc((size_t)n, sizeof(*p->th));
	if (!p->ready || !p->th)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->sync_init = 1;
	for (; p->nth < n; p->nth++)
		if (pthread_create(&p->th[p->nth], NULL, push_worker, p) != 0)
			return sk_err_set(err, SK_EFAIL, "cannot start a thread");
	return 0;
}

static void push_workers_stop(struct push_plan *p)
{
	int i;

	if (!p->sync_init)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nth; i++)
		pthread_join(p->th[i], NULL);
	while (p->nready)
		s3_req_free(p->ready[--p->nready]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	p->sync_init = 0;
}

/* A packed chunk when one is ready; with nothing in flight, wait for one. */
static struct s3_req *push_next(void *arg, int idle)
{
	struct push_plan *p = arg;
	struct s3_req *r = NULL;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (p->nready) {
			r = p->ready[--p->nready];
			pthread_cond_broadcast(&p->cv);
			break;
		}
		if (p->failed || p->prepared == p->ntodo || !idle)
			break;
		pthread_cond_wait(&p->cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return r;
}

static int push_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct push_plan *p = arg;
	char what[200];
	int ret, failed;

	snprintf(what, sizeof(what), "upload chunk %.16s", r->key + 10);
	ret = s3_req_check(p->st.s, r, what, err);
	if (ret == 0) {
		p->res->chunks_moved++;
		p->res->bytes_moved += r->body_len;
		progress_add(&p->prog, r->tag);
		progress_what(&p->prog, "pushing", p->o->snapshot, p->res, 1);
		fault_point("fcpush-chunk-sent");
	}
	s3_req_free(r);
	pthread_mutex_lock(&p->mu);
	failed = p->failed;
	pthread_mutex_unlock(&p->mu);
	if (ret == 0 && failed) {
		*err = p->werr;
		return -1;
	}
	return ret;
}

static int push_tick(void *arg, struct sk_err *err)
{
	struct push_plan *p = arg;

	return rstore_refresh(&p->st, err);
}

static int push_chunks(struct push_plan *p, struct sk_err *err)
{
	struct s3_ops ops = { push_next, push_done, push_tick, p };

	int ret;

	progress_start(&p->prog, p->o->progress, p->res->size);
	progress_what(&p->prog, "pushing", p->o->snapshot, p->res, 1);
	progress_add(&p->prog, zero_bytes(&p->man, p->places, p->nplaces));
	if (push_plan_todo(p, err) < 0 || push_workers_start(p, err) < 0)
		return -1;
	ret = s3_run(p->st.s, &ops, err);
	push_workers_stop(p);
	if (ret == 0 && p->failed) {
		*err = p->werr;
		return -1;
	}
	return ret;
}

static void push_close(struct push_plan *p)
{
	int a;

	progress_end(&p->prog, 0);
	push_workers_stop(p);
	free(p->th);
	free(p->ready);
	free(p->todo);
	free(p->todo_bytes);
	rstore_close(&p->st);
	rstore_set_free(&p->have);
	for (a = 0; p->fds && a < p->man.nart; a++)
		if (p->fds[a] >= 0)
			close(p->fds[a]);
	free(p->fds);
	free(p->places);
	free(p->text);
	fcjson_manifest_free(&p->man);
	free(p->arts);
	lock_release(p->lk);
	snapint_close(p->c);
}

int snapremote_push(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct snap_moved *res, struct sk_err *err)
{
	struct push_plan p;
	double t0 = log_now();
	int ret = -1;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	p.o = o;
	p.res = res;
	snprintf(res->snapshot, sizeof(res->snapshot), "%s", o->snapshot);
	if (push_open(&p, o, repairs, err) < 0 || push_store(&p, err) < 0 ||
	    collect_places(&p.man, &p.places, &p.nplaces, res, err) < 0)
		goto out;
	if (push_chunks(&p, err) < 0)
		goto out;
	fault_point("fcpush-chunks-sent");
	/* Last: only now is the snapshot in the store. */
	if (rstore_put_manifest(&p.st, o->snapshot, p.text, err) < 0)
		goto out;
	res->manifest_bytes = strlen(p.text);
	res->bytes_moved += res->manifest_bytes;
	progress_end(&p.prog, 1);
	res->seconds = log_now() - t0;
	ret = 0;
out:
	push_close(&p);
	return ret;
}

/* ---- pull ---- */

struct pull_plan {
	const struct snap_opts *o;
	struct sctx *c;
	struct rstore st;
	char *text;
	struct manifest man;
	struct snapint_stage stage;
	int *fds; /* the staged artifacts, written */
	struct place *places;
	size_t nplaces, next;
	uint64_t filled; /* places written */
	struct snap_moved *res;
	struct progress prog;
	/* --presigned: chunks come by ranged GETs of each artifact's URL */
	struct presign ps;
	int presigned;
	struct s3 *s; /* the client in use */
};

static int pull_check_size(struct pull_plan *p, struct sk_err *err);

static int pull_fetch_manifest(struct pull_plan *p, struct sk_err *err)
{
	if (config_check_id("snapshot", p->o->snapshot, err) < 0 ||
	    rstore_open(&p->st, &p->c->cfg, p->o->remote, "fcsnap-pull", 0, 0, p->o->wait_s, err) <
		0)
		return -1;
	snprintf(p->res->remote, sizeof(p->res->remote), "%s", p->st.rem.url);
	if (rstore_get_manifest(&p->st, p->o->snapshot, &p->text, &p->man, err) < 0)
		return -1;
	return pull_check_size(p, err);
}

/* The source id, and the sizes inside [archive] max_bytes, as fcsnap-import takes them. */
static int pull_check_size(struct pull_plan *p, struct sk_err *err)
{
	uint64_t total = 0, max = p->c->cfg.max_bytes;
	int a;

	snprintf(p->res->source, sizeof(p->res->source), "%s", p->man.snapshot);
	for (a = 0; a < p->man.nart; a++) {
		if (p->man.arts[a].size > max || total > max - p->man.arts[a].size)
			return sk_err_set(err, SK_EDAMAGED,
					  "snapshot '%s' adds up to more than [archive] max_bytes "
					  "(%llu)",
					  p->man.snapshot, (unsigned long long)max);
		total += p->man.arts[a].size;
	}
	return 0;
}

/* Every artifact as an empty file of its size: what is never written stays a hole. */
static int pull_files(struct pull_plan *p, struct sk_err *err)
{
	int a;

	p->fds = calloc((size_t)p->man.nart, sizeof(*p->fds));
	if (!p->fds)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (a = 0; a < p->man.nart; a++)
		p->fds[a] = -1;
	for (a = 0; a < p->man.nart; a++) {
		const char *name = p->man.arts[a].name;

		p->fds[a] = openat(p->stage.dirfd, name,
				   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (p->fds[a] < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", name);
		if (ftruncate(p->fds[a], (off_t)p->man.arts[a].size) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot size '%s'", name);
	}
	return 0;
}

static struct s3_req *pull_next(void *arg, int idle)
{
	struct pull_plan *p = arg;
	const struct place *pl;
	uint64_t len;
	struct s3_req *r;
	size_t k;

	(void)idle;
	if (p->next >= p->nplaces)
		return NULL;
	pl = &p->places[p->next];
	len = chunk_len(&p->man, pl->art, pl->idx);
	r = s3_req_new("GET");
	if (!r)
		return NULL;
	r->tag = p->next;
	for (k = p->next + 1; k < p->nplaces && !memcmp(p->places[k].d, pl->d, HASH_LEN); k++)
		;
	p->next = k;
	if (p->presigned) {
		r->url = strdup(p->ps.arts[pl->art].url);
		r->range_off = (uint64_t)pl->idx * p->man.chunk_size;
		r->range_len = len;
		r->max_resp = (size_t)len;
	} else {
		rstore_chunk_key(pl->d, r->key, sizeof(r->key));
		r->max_resp = zstd_blob_bound((size_t)len) + 64;
	}
	return r;
}

/*
 * Write data at off leaving its zero pages unwritten: the file was sized
 * empty, so they read back as zeros and stay holes (memory files are
 * mostly zero pages, also inside chunks that are not all zero).
 */
static int write_sparse(int fd, const uint8_t *data, size_t len, uint64_t off)
{
	static const uint8_t zero[4096];
	size_t i = 0;

	while (i < len) {
		size_t start, n = len - i < sizeof(zero) ? len - i : sizeof(zero);

		if (!memcmp(data + i, zero, n)) {
			i += n;
			continue;
		}
		start = i;
		while (i < len) {
			n = len - i < sizeof(zero) ? len - i : sizeof(zero);
			if (!memcmp(data + i, zero, n))
				break;
			i += n;
		}
		if (pwrite(fd, data + start, i - start, (off_t)(off + start)) !=
		    (ssize_t)(i - start))
			return -1;
	}
	return 0;
}

/* Write the checked chunk data at every place of the group that starts at first. */
static int pull_place_all(struct pull_plan *p, size_t first, const uint8_t *data, uint64_t len,
			  struct sk_err *err)
{
	size_t k;

	for (k = first; k < p->nplaces && !memcmp(p->places[k].d, p->places[first].d, HASH_LEN);
	     k++) {
		const struct place *pl = &p->places[k];
		const char *name = p->man.arts[pl->art].name;

		/* Equal digests of unequal lengths: the manifest lies. */
		if (chunk_len(&p->man, pl->art, pl->idx) != len)
			return sk_err_set(err, SK_EDAMAGED,
					  "manifest of '%s': one chunk digest for chunks of two "
					  "lengths",
					  p->res->source);
		if (write_sparse(p->fds[pl->art], data, (size_t)len,
				 (uint64_t)pl->idx * p->man.chunk_size) < 0)
			return sk_err_sys(err, SK_EFAIL, errno ? errno : EIO, "write '%s'", name);
		p->filled++;
		progress_add(&p->prog, len);
	}
	return 0;
}

static int pull_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct pull_plan *p = arg;
	const struct place *pl = &p->places[r->tag];
	uint64_t len = chunk_len(&p->man, pl->art, pl->idx);
	char what[200], hex[HASH_HEX_LEN + 1];
	uint8_t *data = NULL;
	int ret = -1;

	hash_hex(pl->d, hex);
	snprintf(what, sizeof(what), "download chunk %.16s", hex);
	if (s3_req_check(p->s, r, what, err) < 0) {
		/* The manifest names it, so the store lost it. */
		if (err->code == SK_ENOENT && !p->presigned)
			sk_err_set(err, SK_EDAMAGED,
				   "chunk %.16s... of snapshot '%s' is missing from %s", hex,
				   p->res->source, p->st.rem.url);
		goto out;
	}
	p->res->bytes_moved += r->resp_len;
	if (p->presigned) {
		uint8_t md[HASH_LEN];

		if (r->resp_len != len) {
			sk_err_set(err, SK_EDAMAGED,
				   "artifact '%s': got %zu bytes for a chunk of %llu",
				   p->man.arts[pl->art].name, r->resp_len, (unsigned long long)len);
			goto out;
		}
		hash_buf(r->resp, r->resp_len, md);
		if (memcmp(md, pl->d, HASH_LEN)) {
			sk_err_set(err, SK_EDAMAGED,
				   "artifact '%s': chunk %u arrived damaged (its sha256 does not "
				   "match the manifest)",
				   p->man.arts[pl->art].name, pl->idx);
			goto out;
		}
		ret = pull_place_all(p, r->tag, (const uint8_t *)r->resp, len, err);
	} else {
		data = malloc(len ? len : 1);
		if (!data) {
			sk_err_set(err, SK_EFAIL, "out of memory");
			goto out;
		}
		if (rstore_unpack_chunk(r->resp, r->resp_len, pl->d, data, (size_t)len, err) < 0)
			goto out;
		ret = pull_place_all(p, r->tag, data, len, err);
	}
	p->res->chunks_moved++;
	progress_what(&p->prog, "pulling", p->stage.id, p->res, 0);
out:
	free(data);
	s3_req_free(r);
	return ret;
}

static int pull_tick(void *arg, struct sk_err *err)
{
	struct pull_plan *p = arg;

	return p->presigned ? 0 : rstore_refresh(&p->st, err);
}

/* Every chunk in place and every file synced: the artifacts are what the manifest says. */
static int pull_chunks(struct pull_plan *p, struct s3 *s, struct sk_err *err)
{
	struct s3_ops ops = { pull_next, pull_done, pull_tick, p };
	int a;

	if (collect_places(&p->man, &p->places, &p->nplaces, p->res, err) < 0)
		return -1;
	p->s = s;
	progress_start(&p->prog, p->o->progress, p->res->size);
	progress_what(&p->prog, "pulling", p->stage.id, p->res, 0);
	progress_add(&p->prog, zero_bytes(&p->man, p->places, p->nplaces));
	if (s3_run(s, &ops, err) < 0)
		return -1;
	/*
	 * Each place was written with data whose sha256 is the manifest's
	 * digest for it, and the manifest's artifact digests are the digests
	 * of those lists (checked when it was parsed): all places filled is
	 * every artifact whole.
	 */
	if (p->filled != p->nplaces)
		return sk_err_set(err, SK_EFAIL, "snapshot '%s': %llu of %zu chunks arrived",
				  p->res->source, (unsigned long long)p->filled, p->nplaces);
	for (a = 0; a < p->man.nart; a++)
		if (fsync(p->fds[a]) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "write '%s'", p->man.arts[a].name);
	progress_end(&p->prog, 1);
	return 0;
}

static void pull_close(struct pull_plan *p, int ret)
{
	int a;

	progress_end(&p->prog, 0);
	for (a = 0; p->fds && a < p->man.nart; a++)
		if (p->fds[a] >= 0)
			close(p->fds[a]);
	free(p->fds);
	if (p->c)
		snapint_stage_end(p->c, &p->stage, ret);
	rstore_close(&p->st);
	fcjson_presign_free(&p->ps);
	free(p->places);
	free(p->text);
	fcjson_manifest_free(&p->man);
	snapint_close(p->c);
}

static int pull_commit(struct pull_plan *p, struct sk_err *err)
{
	fault_point("fcpull-received");
	if (snapint_stage_commit(p->c, &p->stage, &p->man, p->res->size, err) < 0)
		return -1;
	snprintf(p->res->snapshot, sizeof(p->res->snapshot), "%s", p->stage.id);
	return 0;
}

int snapremote_pull(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct snap_moved *res, struct sk_err *err)
{
	struct pull_plan p;
	double t0 = log_now();
	int ret = -1;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	p.o = o;
	p.res = res;
	p.stage.dirfd = -1;
	if (o->as && config_check_id("snapshot", o->as, err) < 0)
		return -1;
	if (snapint_open(&p.c, o->config_path, repairs, err) < 0 ||
	    pull_fetch_manifest(&p, err) < 0 ||
	    snapint_stage_claim(p.c, &p.stage, &p.man, o->as, o->wait_s, err) < 0)
		goto out;
	/* The journal row: from here on a failure or a kill is undone. */
	if (snapint_stage_begin(p.c, &p.stage, &p.man, "fcsnap-pull", err) < 0 ||
	    pull_files(&p, err) < 0 || pull_chunks(&p, p.st.s, err) < 0)
		goto out;
	res->bytes_moved += strlen(p.text);
	res->manifest_bytes = strlen(p.text);
	ret = pull_commit(&p, err);
	res->seconds = log_now() - t0;
out:
	pull_close(&p, ret);
	return ret;
}

/* ---- --presigned ---- */

static int read_small_file(const char *path, char **text, struct sk_err *err)
{
	FILE *f = fopen(path, "re");
	size_t n;

	*text = NULL;
	if (!f)
		return sk_err_sys(err, errno == ENOENT ? SK_EUSAGE : SK_EFAIL, errno,
				  "cannot read '%s'", path);
	*text = malloc(RSTORE_MAX_MANIFEST + 1);
	if (!*text) {
		fclose(f);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	n = fread(*text, 1, RSTORE_MAX_MANIFEST + 1, f);
	fclose(f);
	if (n > RSTORE_MAX_MANIFEST)
		return sk_err_set(err, SK_EUSAGE, "'%s' is longer than %d bytes", path,
				  RSTORE_MAX_MANIFEST);
	(*text)[n] = '\0';
	return 0;
}

/* An s3 client that only follows presigned URLs: no credentials, no bucket. */
static int presigned_client(struct sctx *c, struct s3 **s, struct sk_err *err)
{
	struct s3_conf sc;
	struct s3_remote rem;

	memset(&rem, 0, sizeof(rem));
	snprintf(rem.url, sizeof(rem.url), "presigned URLs");
	if (s3_conf_load(&sc, &c->cfg, 0, err) < 0)
		return -1;
	return s3_open(s, &sc, &rem, err);
}

int snapremote_pull_presigned(const struct snap_opts *o, const struct snapint_repair *repairs,
			      struct snap_moved *res, struct sk_err *err)
{
	struct pull_plan p;
	struct s3 *s = NULL;
	char *spec = NULL;
	double t0 = log_now();
	int ret = -1, a, k;

	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	p.o = o;
	p.res = res;
	p.presigned = 1;
	p.stage.dirfd = -1;
	snprintf(res->remote, sizeof(res->remote), "presigned URLs");
	if (o->as && config_check_id("snapshot", o->as, err) < 0)
		return -1;
	if (read_small_file(o->presigned, &spec, err) < 0 ||
	    fcjson_presign_parse(spec, 1, &p.ps, err) < 0) {
		sk_err_wrap(err, "%s", o->presigned);
		goto out;
	}
	if (fcjson_manifest_parse(p.ps.manifest, &p.man, err) < 0)
		goto out;
	if (!p.man.chunks) {
		sk_err_set(err, SK_EDAMAGED, "%s: the manifest is not format 2", o->presigned);
		goto out;
	}
	/* The URLs in the manifest's order, one for each artifact. */
	if (p.ps.nart != p.man.nart) {
		sk_err_set(err, SK_EUSAGE, "%s: %d artifact URLs for a manifest of %d artifacts",
			   o->presigned, p.ps.nart, p.man.nart);
		goto out;
	}
	for (a = 0; a < p.man.nart; a++) {
		for (k = 0; k < p.ps.nart && strcmp(p.ps.arts[k].name, p.man.arts[a].name); k++)
			;
		if (k == p.ps.nart) {
			sk_err_set(err, SK_EUSAGE, "%s: no URL for artifact '%s'", o->presigned,
				   p.man.arts[a].name);
			goto out;
		}
		if (k != a) {
			struct presign_art t = p.ps.arts[a];

			p.ps.arts[a] = p.ps.arts[k];
			p.ps.arts[k] = t;
		}
	}
	if (snapint_open(&p.c, o->config_path, repairs, err) < 0 || pull_check_size(&p, err) < 0 ||
	    presigned_client(p.c, &s, err) < 0 ||
	    snapint_stage_claim(p.c, &p.stage, &p.man, o->as, o->wait_s, err) < 0)
		goto out;
	if (snapint_stage_begin(p.c, &p.stage, &p.man, "fcsnap-pull", err) < 0 ||
	    pull_files(&p, err) < 0 || pull_chunks(&p, s, err) < 0)
		goto out;
	ret = pull_commit(&p, err);
	res->seconds = log_now() - t0;
out:
	free(spec);
	pull_close(&p, ret);
	s3_close(s);
	return ret;
}

/* fcsnap-push --presigned: the parts of each artifact to their UploadPart URLs. */
struct part_plan {
	const struct snap_opts *o;
	struct s3 *s;
	struct presign ps;
	int *fds; /* in the plan's artifact order: push_plan's, not owned */
	int art, part;
	struct snap_parts *res;
	struct progress prog;
	struct sk_err werr;
	int failed;
};

static struct s3_req *part_next(void *arg, int idle)
{
	struct part_plan *p = arg;
	struct presign_art *pa;
	struct snap_part_art *ra;
	struct s3_req *r;

	(void)idle;
	while (p->art < p->ps.nart && p->part >= p->ps.arts[p->art].nparts) {
		p->art++;
		p->part = 0;
	}
	if (p->failed || p->art >= p->ps.nart)
		return NULL;
	pa = &p->ps.arts[p->art];
	ra = &p->res->arts[p->art];
	r = s3_req_new("PUT");
	if (!r || !(r->url = strdup(pa->parts[p->part].url))) {
		s3_req_free(r);
		p->failed = 1;
		sk_err_set(&p->werr, SK_EFAIL, "out of memory");
		return NULL;
	}
	r->body_fd = p->fds[p->art];
	r->body_off = (uint64_t)p->part * pa->part_size;
	r->body_len =
	    ra->size - r->body_off < pa->part_size ? ra->size - r->body_off : pa->part_size;
	r->has_body = 1;
	r->tag = (uint64_t)p->art << 32 | (uint32_t)p->part;
	if (hash_md5_b64_fd(r->body_fd, r->body_off, r->body_len, r->md5, &p->werr) < 0) {
		s3_req_free(r);
		p->failed = 1;
		return NULL;
	}
	p->part++;
	return r;
}

static int part_done(void *arg, struct s3_req *r, struct sk_err *err)
{
	struct part_plan *p = arg;
	int art = (int)(r->tag >> 32), part = (int)(uint32_t)r->tag;
	char what[200];
	int ret;

	snprintf(what, sizeof(what), "upload part %d of artifact '%s'", part + 1,
		 p->ps.arts[art].name);
	ret = s3_req_check(p->s, r, what, err);
	if (ret == 0 && !r->etag[0])
		ret = sk_err_set(err, SK_EFAIL, "%s: the store gave no ETag", what);
	if (ret == 0) {
		snprintf(p->res->arts[art].etags[part], sizeof(p->res->arts[art].etags[part]), "%s",
			 r->etag);
		progress_add(&p->prog, r->body_len);
	}
	s3_req_free(r);
	if (ret == 0 && p->failed) {
		*err = p->werr;
		return -1;
	}
	return ret;
}

/* The plan must cover each artifact exactly: parts 1..N of part_size, the last one shorter. */
static int part_check(struct part_plan *p, const struct push_plan *pp, struct sk_err *err)
{
	const struct manifest *m = &pp->man;
	int i, a;

	p->res->nart = p->ps.nart;
	p->res->arts = calloc((size_t)p->ps.nart, sizeof(*p->res->arts));
	p->fds = calloc((size_t)p->ps.nart, sizeof(*p->fds));
	if (!p->res->arts || !p->fds)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (i = 0; i < p->ps.nart; i++) {
		struct presign_art *pa = &p->ps.arts[i];
		struct snap_part_art *ra = &p->res->arts[i];
		uint64_t want;

		for (a = 0; a < m->nart && strcmp(m->arts[a].name, pa->name); a++)
			;
		if (a == m->nart)
			return sk_err_set(err, SK_EUSAGE, "%s: snapshot '%s' has no artifact '%s'",
					  p->o->presigned, m->snapshot, pa->name);
		want = (m->arts[a].size + pa->part_size - 1) / pa->part_size;
		if (want == 0)
			want = 1;
		if ((uint64_t)pa->nparts != want)
			return sk_err_set(err, SK_EUSAGE,
					  "%s: artifact '%s' (%llu bytes) takes %llu parts of %llu "
					  "bytes, the plan has %d",
					  p->o->presigned, pa->name,
					  (unsigned long long)m->arts[a].size,
					  (unsigned long long)want,
					  (unsigned long long)pa->part_size, pa->nparts);
		snprintf(ra->name, sizeof(ra->name), "%s", pa->name);
		ra->size = m->arts[a].size;
		ra->part_size = pa->part_size;
		ra->nparts = pa->nparts;
		ra->etags = calloc((size_t)pa->nparts, sizeof(*ra->etags));
		if (!ra->etags)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		p->fds[i] = pp->fds[a]; /* push_open's, closed by push_close */
	}
	if (p->ps.nart != m->nart)
		return sk_err_set(err, SK_EUSAGE,
				  "%s: the plan has %d of the snapshot's %d artifacts",
				  p->o->presigned, p->ps.nart, m->nart);
	return 0;
}

int snapremote_push_presigned(const struct snap_opts *o, const struct snapint_repair *repairs,
			      struct snap_parts *res, struct sk_err *err)
{
	struct push_plan pp;
	struct part_plan p;
	struct s3_ops ops = { part_next, part_done, NULL, &p };
	char *plan = NULL;
	uint64_t total = 0;
	int ret = -1, i;

	memset(&pp, 0, sizeof(pp));
	memset(&p, 0, sizeof(p));
	memset(res, 0, sizeof(*res));
	pp.o = o;
	p.o = o;
	p.res = res;
	snprintf(res->snapshot, sizeof(res->snapshot), "%s", o->snapshot);
	if (read_small_file(o->presigned, &plan, err) < 0 ||
	    fcjson_presign_parse(plan, 0, &p.ps, err) < 0) {
		sk_err_wrap(err, "%s", o->presigned);
		goto out;
	}
	if (push_open(&pp, o, repairs, err) < 0 || part_check(&p, &pp, err) < 0)
		goto out;
	/* Every byte checked before it leaves: the parts are cut across chunks. */
	if (snapint_verify_artifacts(pp.dir, o->snapshot, &pp.man, pp.c->cfg.threads, o->progress,
				     err) < 0 ||
	    presigned_client(pp.c, &p.s, err) < 0)
		goto out;
	for (i = 0; i < res->nart; i++)
		total += res->arts[i].size;
	progress_start(&p.prog, o->progress, total);
	snprintf(p.prog.what, sizeof(p.prog.what), "uploading '%s'", o->snapshot);
	if (s3_run(p.s, &ops, err) < 0)
		goto out;
	if (p.failed) {
		*err = p.werr;
		goto out;
	}
	progress_end(&p.prog, 1);
	res->manifest = pp.text;
	pp.text = NULL;
	ret = 0;
out:
	progress_end(&p.prog, 0);
	free(p.fds);
	fcjson_presign_free(&p.ps);
	s3_close(p.s);
	free(plan);
	push_close(&pp);
	if (ret < 0)
		snap_parts_free(res);
	return ret;
}

void snap_parts_free(struct snap_parts *p)
{
	int i;

	for (i = 0; p->arts && i < p->nart; i++)
		free(p->arts[i].etags);
	free(p->arts);
	free(p->manifest);
	memset(p, 0, sizeof(*p));
}
