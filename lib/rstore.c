/*
 * rstore.c: the store's marker, locks, chunk names and manifests (the
 * layout is described in rstore.h).
 *
 * The lock protocol is restic's: write our lock object first, then list the
 * locks. Two commands that conflict each see the other's object (S3 lists
 * what was written before the list began), so at least one of them backs
 * off: ours is removed again and, unless we may wait, the command is busy.
 */
#include "rstore.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "sig.h"
#include "banned.h"

#define MARKER_KEY "statekit-store.json"

static int put_text(struct rstore *st, const char *key, const char *text, const char *sha,
		    const char *what, struct sk_err *err)
{
	struct s3_req *r = s3_req_new("PUT");
	int ret;

	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->body = text;
	r->body_len = strlen(text);
	r->has_body = 1;
	hash_md5_b64(text, strlen(text), r->md5);
	if (sha)
		snprintf(r->meta_sha256, sizeof(r->meta_sha256), "%s", sha);
	ret = s3_do(st->s, r, err);
	if (ret == 0)
		ret = s3_req_check(st->s, r, what, err);
	s3_req_free(r);
	return ret;
}

/* GET key into *text (up to max bytes); SK_ENOENT when it is not there. */
static int get_text(struct rstore *st, const char *key, size_t max, char **text, size_t *len,
		    char *sha, const char *what, struct sk_err *err)
{
	struct s3_req *r = s3_req_new("GET");
	int ret;

	*text = NULL;
	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->max_resp = max;
	ret = s3_do(st->s, r, err);
	if (ret == 0)
		ret = s3_req_check(st->s, r, what, err);
	if (ret == 0) {
		*text = r->resp ? r->resp : strdup("");
		r->resp = NULL;
		if (len)
			*len = r->resp_len;
		if (sha)
			snprintf(sha, 65, "%s", r->got_sha256);
		if (!*text)
			ret = sk_err_set(err, SK_EFAIL, "out of memory");
	}
	s3_req_free(r);
	return ret;
}

static int delete_key(struct rstore *st, const char *key, const char *what, struct sk_err *err)
{
	struct s3_req *r = s3_req_new("DELETE");
	int ret;

	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	snprintf(r->key, sizeof(r->key), "%s", key);
	ret = s3_do(st->s, r, err);
	if (ret == 0)
		ret = s3_req_check(st->s, r, what, err);
	s3_req_free(r);
	return ret;
}

static int check_marker(struct rstore *st, int create, struct sk_err *err)
{
	char *text = NULL, what[700];
	int version = 0, ret;

	snprintf(what, sizeof(what), "read %s/%s", st->rem.url, MARKER_KEY);
	ret = get_text(st, MARKER_KEY, 4096, &text, NULL, NULL, what, err);
	if (ret < 0 && err->code == SK_ENOENT) {
		if (!create)
			return sk_err_set(err, SK_ENOENT, "no statekit store at %s", st->rem.url);
		sk_err_clear(err);
		text = fcjson_store_marker(RSTORE_VERSION);
		if (!text)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		snprintf(what, sizeof(what), "create the store %s", st->rem.url);
		ret = put_text(st, MARKER_KEY, text, NULL, what, err);
		free(text);
		return ret;
	}
	if (ret < 0)
		return -1;
	ret = fcjson_store_marker_parse(text, &version, err);
	free(text);
	if (ret < 0)
		return sk_err_wrap(err, "%s/%s", st->rem.url, MARKER_KEY);
	if (version > RSTORE_VERSION)
		return sk_err_set(err, SK_EUSAGE,
				  "%s is a store of format %d; this statekit knows format %d only",
				  st->rem.url, version, RSTORE_VERSION);
	return 0;
}

struct lock_scan {
	const char *own;
	const char *host; /* ours, as lock names carry it */
	int exclusive;
	int64_t now;
	char holder[300];
	int64_t age;
};

static int scan_lock(void *arg, const char *key, uint64_t size, int64_t mtime, struct sk_err *err)
{
	struct lock_scan *ls = arg;
	const char *name = key + strlen("locks/");

	(void)size;
	(void)err;
	if (!strcmp(key, ls->own) || rstore_lock_stale(key, mtime, ls->now, ls->host))
		return 0;
	if (ls->exclusive || !strncmp(name, "exclusive.", 10)) {
		snprintf(ls->holder, sizeof(ls->holder), "%s", key);
		ls->age = ls->now - mtime;
	}
	return 0;
}

/* This host's name as lock names carry it: [A-Za-z0-9-] only. */
static void lock_host(char *host, size_t size)
{
	size_t i;

	snprintf(host, size, "host");
	gethostname(host, size - 1);
	host[size - 1] = '\0';
	for (i = 0; host[i]; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
		      (host[i] >= '0' && host[i] <= '9') || host[i] == '-'))
			host[i] = '-';
}

int rstore_lock_stale(const char *key, int64_t mtime, int64_t now, const char *host)
{
	const char *name = strrchr(key, '/'), *h, *pid;
	char me[128];
	size_t hl;
	long n;

	if (now - mtime > RSTORE_LOCK_STALE)
		return 1;
	/* KIND.HOST.PID.RAND: a lock of this host whose process is gone is stale now. */
	h = name ? strchr(name, '.') : NULL;
	pid = h ? strchr(h + 1, '.') : NULL;
	if (!pid)
		return 0;
	h++;
	hl = (size_t)(pid - h);
	if (!host) {
		lock_host(me, sizeof(me));
		host = me;
	}
	if (hl != strlen(host) || strncmp(h, host, hl))
		return 0;
	n = strtol(pid + 1, NULL, 10);
	return n > 0 && kill((pid_t)n, 0) < 0 && errno == ESRCH;
}

/* Write our lock, then look for one that conflicts with it: 1 if there is one. */
static int try_lock(struct rstore *st, int exclusive, struct lock_scan *ls, struct sk_err *err)
{
	char what[700];

	snprintf(what, sizeof(what), "lock %s", st->rem.url);
	if (put_text(st, st->lock_key, st->lock_body, NULL, what, err) < 0)
		return -1;
	st->lock_at = log_now();
	memset(ls, 0, sizeof(*ls));
	ls->own = st->lock_key;
	ls->host = NULL;
	ls->exclusive = exclusive;
	ls->now = (int64_t)time(NULL);
	if (s3_list(st->s, "locks/", scan_lock, ls, err) < 0)
		return -1;
	if (!ls->holder[0])
		return 0;
	delete_key(st, st->lock_key, what, err);
	sk_err_clear(err);
	return 1;
}

static int take_lock(struct rstore *st, const char *op, int exclusive, int wait_s,
		     struct sk_err *err)
{
	char host[128];
	double deadline = log_now() + (wait_s > 0 ? wait_s : 0);
	struct lock_scan ls;
	int rc;

	lock_host(host, sizeof(host));
	snprintf(st->lock_key, sizeof(st->lock_key), "locks/%s.%s.%ld.%08lx",
		 exclusive ? "exclusive" : "shared", host, (long)getpid(),
		 (unsigned long)((unsigned)rand() ^ (unsigned)time(NULL)));
	st->lock_body = fcjson_lock_body(host, (long)getpid(), op, exclusive, (int64_t)time(NULL));
	if (!st->lock_body)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	for (;;) {
		rc = try_lock(st, exclusive, &ls, err);
		if (rc <= 0) {
			if (rc < 0)
				st->lock_key[0] = '\0';
			return rc;
		}
		if (log_now() >= deadline)
			break;
		sleep(1);
		if (sig_interrupted()) {
			st->lock_key[0] = '\0';
			return sk_err_set(err, SK_EFAIL, "interrupted");
		}
	}
	st->lock_key[0] = '\0';
	return sk_err_set(err, SK_EBUSY,
			  "%s is locked by another command (%s, written %llds ago)%s", st->rem.url,
			  ls.holder, (long long)ls.age,
			  exclusive ? "" : ": a prune is running; try again later or use --wait");
}

int rstore_open(struct rstore *st, const struct sk_config *cfg, const char *url, const char *op,
		int create, int exclusive, int wait_s, struct sk_err *err)
{
	struct s3_conf sc;

	memset(st, 0, sizeof(*st));
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	if (s3_parse_url(url, &st->rem, err) < 0 || s3_conf_load(&sc, cfg, 1, err) < 0)
		return -1;
	if (s3_open(&st->s, &sc, &st->rem, err) < 0) {
		explicit_bzero(&sc, sizeof(sc));
		return -1;
	}
	explicit_bzero(&sc, sizeof(sc));
	if (check_marker(st, create, err) < 0)
		return -1;
	return take_lock(st, op, exclusive, wait_s, err);
}

int rstore_refresh(struct rstore *st, struct sk_err *err)
{
	char what[700];

	if (!st->lock_key[0] || log_now() - st->lock_at < RSTORE_LOCK_REFRESH)
		return 0;
	snprintf(what, sizeof(what), "refresh the lock on %s", st->rem.url);
	if (put_text(st, st->lock_key, st->lock_body, NULL, what, err) < 0)
		return -1;
	st->lock_at = log_now();
	return 0;
}

void rstore_close(struct rstore *st)
{
	struct sk_err e = SK_ERR_INIT;

	if (st->s && st->lock_key[0] && delete_key(st, st->lock_key, "unlock", &e) < 0)
		log_warn("%s: cannot remove lock %s (it goes stale in %d minutes): %s", st->rem.url,
			 st->lock_key, RSTORE_LOCK_STALE / 60, e.msg);
	s3_close(st->s);
	free(st->lock_body);
	memset(st, 0, sizeof(*st));
}

void rstore_chunk_key(const uint8_t d[HASH_LEN], char *key, size_t size)
{
	char hex[HASH_HEX_LEN + 1];

	hash_hex(d, hex);
	snprintf(key, size, "chunks/%.2s/%s", hex, hex);
}

int rstore_manifest_key(const char *id, char *key, size_t size)
{
	struct sk_err e = SK_ERR_INIT;

	if (config_check_id("snapshot", id, &e) < 0)
		return -1;
	snprintf(key, size, "snapshots/%s.json", id);
	return 0;
}

int rstore_set_add(struct rstore_set *set, const uint8_t d[HASH_LEN], uint64_t size)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		void *a = realloc(set->d, cap * sizeof(*set->d));
		void *b;

		if (!a)
			return -1;
		set->d = a;
		b = realloc(set->size, cap * sizeof(*set->size));
		if (!b)
			return -1;
		set->size = b;
		set->cap = cap;
	}
	memcpy(set->d[set->n], d, HASH_LEN);
	set->size[set->n++] = size;
	return 0;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, HASH_LEN);
}

void rstore_set_sort(struct rstore_set *set)
{
	size_t i;
	struct {
		uint8_t d[HASH_LEN];
		uint64_t size;
	} * tmp;

	if (set->n < 2)
		return;
	/* Sort the pairs together, then drop repeats. */
	tmp = malloc(set->n * sizeof(*tmp));
	if (!tmp) {
		qsort(set->d, set->n, HASH_LEN, cmp_digest);
		return;
	}
	for (i = 0; i < set->n; i++) {
		memcpy(tmp[i].d, set->d[i], HASH_LEN);
		tmp[i].size = set->size[i];
	}
	qsort(tmp, set->n, sizeof(*tmp), cmp_digest);
	{
		size_t o = 0;

		for (i = 0; i < set->n; i++) {
			if (o && !memcmp(set->d[o - 1], tmp[i].d, HASH_LEN))
				continue;
			memcpy(set->d[o], tmp[i].d, HASH_LEN);
			set->size[o++] = tmp[i].size;
		}
		set->n = o;
	}
	free(tmp);
}

long rstore_set_find(const struct rstore_set *set, const uint8_t d[HASH_LEN])
{
	const uint8_t(*p)[HASH_LEN];

	if (!set->n)
		return -1;
	p = bsearch(d, set->d, set->n, HASH_LEN, cmp_digest);
	return p ? (long)(p - set->d) : -1;
}

void rstore_set_free(struct rstore_set *set)
{
	free(set->d);
	free(set->size);
	memset(set, 0, sizeof(*set));
}

static int add_chunk_key(void *arg, const char *key, uint64_t size, int64_t mtime,
			 struct sk_err *err)
{
	uint8_t d[HASH_LEN];

	(void)mtime;
	/* chunks/ab/<64 hex>, the two agreeing */
	if (strlen(key) != 10 + HASH_HEX_LEN || strncmp(key + 7, key + 10, 2) || key[9] != '/' ||
	    hash_unhex(key + 10, d) < 0)
		return 0;
	if (rstore_set_add(arg, d, size) < 0)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	return 0;
}

int rstore_list_chunks(struct rstore *st, struct rstore_set *set, struct sk_err *err)
{
	if (s3_list(st->s, "chunks/", add_chunk_key, set, err) < 0)
		return -1;
	rstore_set_sort(set);
	return 0;
}

struct idlist {
	char **ids;
	size_t n, cap;
};

static int add_id(void *arg, const char *key, uint64_t size, int64_t mtime, struct sk_err *err)
{
	struct idlist *l = arg;
	const char *name = key + strlen("snapshots/");
	size_t len = strlen(name);
	char id[80];
	struct sk_err e = SK_ERR_INIT;

	(void)size;
	(void)mtime;
	if (len < 6 || len - 5 >= sizeof(id) || strcmp(name + len - 5, ".json"))
		return 0;
	memcpy(id, name, len - 5);
	id[len - 5] = '\0';
	if (config_check_id("snapshot", id, &e) < 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **p = realloc(l->ids, cap * sizeof(*p));

		if (!p)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		l->ids = p;
		l->cap = cap;
	}
	l->ids[l->n] = strdup(id);
	if (!l->ids[l->n])
		return sk_err_set(err, SK_EFAIL, "out of memory");
	l->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rstore_list_ids(struct rstore *st, char ***ids, size_t *n, struct sk_err *err)
{
	struct idlist l = { NULL, 0, 0 };
	size_t i;

	if (s3_list(st->s, "snapshots/", add_id, &l, err) < 0) {
		for (i = 0; i < l.n; i++)
			free(l.ids[i]);
		free(l.ids);
		return -1;
	}
	if (l.n)
		qsort(l.ids, l.n, sizeof(*l.ids), cmp_str);
	*ids = l.ids;
	*n = l.n;
	return 0;
}

int rstore_get_manifest(struct rstore *st, const char *id, char **text, struct manifest *m,
			struct sk_err *err)
{
	char key[128], what[800], sha[65] = "", hex[HASH_HEX_LEN + 1];
	size_t len = 0;

	*text = NULL;
	if (rstore_manifest_key(id, key, sizeof(key)) < 0)
		return config_check_id("snapshot", id, err);
	snprintf(what, sizeof(what), "read snapshot '%s' from %s", id, st->rem.url);
	if (get_text(st, key, RSTORE_MAX_MANIFEST, text, &len, sha, what, err) < 0) {
		if (err->code == SK_ENOENT)
			sk_err_set(err, SK_ENOENT, "no snapshot '%s' in %s", id, st->rem.url);
		return -1;
	}
	hash_buf_hex(*text, len, hex);
	if (strlen(*text) != len || strcmp(hex, sha))
		return sk_err_set(err, SK_EDAMAGED,
				  "the manifest of snapshot '%s' in %s does not match its sha256 "
				  "(damaged or replaced in the store)",
				  id, st->rem.url);
	if (fcjson_manifest_parse(*text, m, err) < 0)
		return sk_err_wrap(err, "snapshot '%s' in %s", id, st->rem.url);
	if (strcmp(m->snapshot, id))
		return sk_err_set(err, SK_EDAMAGED,
				  "the manifest at %s/%s is of snapshot '%s', not '%s'",
				  st->rem.url, key, m->snapshot, id);
	if (!m->chunks)
		return sk_err_set(err, SK_EDAMAGED,
				  "snapshot '%s' in %s has a format %d manifest; stores hold "
				  "format "
				  "2",
				  id, st->rem.url, m->format);
	return 0;
}

int rstore_has_manifest(struct rstore *st, const char *id, struct sk_err *err)
{
	struct s3_req *r = s3_req_new("HEAD");
	char what[800];
	int ret;

	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (rstore_manifest_key(id, r->key, sizeof(r->key)) < 0) {
		s3_req_free(r);
		return config_check_id("snapshot", id, err);
	}
	snprintf(what, sizeof(what), "look for snapshot '%s' in %s", id, st->rem.url);
	ret = s3_do(st->s, r, err);
	if (ret == 0)
		ret = r->status == 404 ? 0 : s3_req_check(st->s, r, what, err) < 0 ? -1 : 1;
	s3_req_free(r);
	return ret;
}

int rstore_put_manifest(struct rstore *st, const char *id, const char *text, struct sk_err *err)
{
	char key[128], what[800], hex[HASH_HEX_LEN + 1];

	if (rstore_manifest_key(id, key, sizeof(key)) < 0)
		return config_check_id("snapshot", id, err);
	hash_buf_hex(text, strlen(text), hex);
	snprintf(what, sizeof(what), "write the manifest of '%s' to %s", id, st->rem.url);
	return put_text(st, key, text, hex, what, err);
}

int rstore_unpack_chunk(const void *body, size_t len, const uint8_t d[HASH_LEN], void *out,
			size_t want, struct sk_err *err)
{
	uint8_t md[HASH_LEN];
	char hex[HASH_HEX_LEN + 1];

	hash_hex(d, hex);
	if (zstd_blob_unpack(body, len, out, want, err) < 0)
		return sk_err_wrap(err, "chunk %.16s... is damaged in the store", hex);
	hash_buf(out, want, md);
	if (memcmp(md, d, HASH_LEN))
		return sk_err_set(err, SK_EDAMAGED,
				  "chunk %.16s... is damaged in the store: its bytes do not match "
				  "its sha256",
				  hex);
	return 0;
}
