/*
 * hash.c: sha256 with OpenSSL EVP, for a buffer, a file, or many files at
 * once on a worker pool; chunked digests (manifest format 2), of files on
 * every core and of a stream; and the hasher, which digests a stream as it
 * is written (runs of zeros included) on a thread of its own and reports
 * an interruption as a failure.
 */
#include "hash.h"
#include "fsutil.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "banned.h"

struct hash {
	EVP_MD_CTX *ctx;
};

int hash_new(struct hash **out, struct sk_err *err)
{
	struct hash *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		hash_free(h);
		return sk_err_set(err, SK_EFAIL, "cannot start sha256");
	}
	*out = h;
	return 0;
}

void hash_update(struct hash *h, const void *buf, size_t len)
{
	EVP_DigestUpdate(h->ctx, buf, len);
}

void hash_final_raw(struct hash *h, uint8_t md[HASH_LEN])
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	memset(buf, 0, sizeof(buf));
	EVP_DigestFinal_ex(h->ctx, buf, &n);
	memcpy(md, buf, HASH_LEN);
	hash_free(h);
}

void hash_hex(const uint8_t md[HASH_LEN], char hex[HASH_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = 0; i < HASH_LEN; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[HASH_HEX_LEN] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case too: digests are written in lower case only */
}

int hash_unhex(const char *hex, uint8_t md[HASH_LEN])
{
	int i, hi, lo;

	for (i = 0; i < HASH_LEN; i++) {
		hi = nibble(hex[2 * i]);
		lo = hi < 0 ? -1 : nibble(hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		md[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[HASH_HEX_LEN] == '\0' ? 0 : -1;
}

void hash_final(struct hash *h, char hex[HASH_HEX_LEN + 1])
{
	uint8_t md[HASH_LEN];

	hash_final_raw(h, md);
	hash_hex(md, hex);
}

void hash_free(struct hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

struct hash_pool {
	struct hash_job *jobs;
	size_t n;
	size_t next;
	struct progress *prog; /* NULL: nobody watches */
	pthread_mutex_t mu;    /* guards next and prog */
};

/* Report n more bytes digested to the pool's progress, if any. */
static void pool_tick(struct hash_pool *pool, uint64_t n)
{
	if (!pool || !pool->prog || !n)
		return;
	pthread_mutex_lock(&pool->mu);
	progress_add(pool->prog, n);
	pthread_mutex_unlock(&pool->mu);
}

/*
 * Feed the file to h. Holes (SEEK_DATA/SEEK_HOLE) are hashed as zeros from
 * memory rather than read, so a sparse 8 GiB disk image with 200 MB of data
 * costs 200 MB of reads.
 */
static int hash_fd(int fd, struct hash *h, uint64_t *size, const char *path, struct hash_pool *pool,
		   struct sk_err *err)
{
	enum { BUFSZ = 1 << 20 };
	static const char zeros[1 << 16];
	struct stat st;
	char *buf;
	off_t pos = 0, data, hole;
	int ret = -1;

	if (fstat(fd, &st) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "stat '%s'", path);
	buf = malloc(BUFSZ);
	if (!buf)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (pos < st.st_size) {
		off_t start = pos;

		fs_next_data(fd, pos, st.st_size, &data, &hole);
		for (; pos < data;) {
			size_t n = data - pos > (off_t)sizeof(zeros) ? sizeof(zeros)
								     : (size_t)(data - pos);

			hash_update(h, zeros, n);
			pos += (off_t)n;
		}
		pool_tick(pool, (uint64_t)(data - start));
		while (pos < hole) {
			size_t want = hole - pos > BUFSZ ? BUFSZ : (size_t)(hole - pos);
			ssize_t n = pread(fd, buf, want, pos);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				sk_err_sys(err, SK_EFAIL, errno, "read '%s'", path);
				goto out;
			}
			if (n == 0) {
				sk_err_set(err, SK_EFAIL, "read '%s': file shrank while hashing",
					   path);
				goto out;
			}
			hash_update(h, buf, (size_t)n);
			pos += n;
			pool_tick(pool, (uint64_t)n);
		}
	}
	*size = (uint64_t)st.st_size;
	ret = 0;
out:
	free(buf);
	return ret;
}

static int hash_path(const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size,
		     struct hash_pool *pool, struct sk_err *err)
{
	struct hash *h = NULL;
	uint64_t total = 0;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sk_err_sys(err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
				  "cannot open '%s'", path);
	if (hash_new(&h, err) < 0)
		goto out;
	if (hash_fd(fd, h, &total, path, pool, err) < 0)
		goto out;
	hash_final(h, hex);
	h = NULL;
	if (size)
		*size = total;
	ret = 0;
out:
	hash_free(h);
	close(fd);
	return ret;
}

int hash_file(const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size, struct sk_err *err)
{
	return hash_path(path, hex, size, NULL, err);
}

int hash_open_file(int fd, const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size,
		   struct progress *prog, struct sk_err *err)
{
	struct hash_pool pool = { .prog = prog, .mu = PTHREAD_MUTEX_INITIALIZER };
	struct hash *h;

	if (hash_new(&h, err) < 0)
		return -1;
	if (hash_fd(fd, h, size, path, &pool, err) < 0) {
		hash_free(h);
		return -1;
	}
	hash_final(h, hex);
	return 0;
}

static void *hash_worker(void *arg)
{
	struct hash_pool *p = arg;

	for (;;) {
		struct hash_job *j;

		pthread_mutex_lock(&p->mu);
		j = p->next < p->n ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->mu);
		if (!j)
			return NULL;
		sk_err_clear(&j->err);
		j->ret = hash_path(j->path, j->hex, &j->size, p, &j->err);
	}
}

static int pool_threads(int threads)
{
	long c = sysconf(_SC_NPROCESSORS_ONLN);

	if (threads <= 0)
		threads = c > 0 ? (int)c : 1;
	return threads > 64 ? 64 : threads;
}

int hash_many(struct hash_job *jobs, size_t n, int threads, struct progress *prog)
{
	struct hash_pool p = { .jobs = jobs, .n = n, .prog = prog };
	pthread_t tid[64];
	int i, started = 0, failed = 0;
	size_t k;

	threads = pool_threads(threads);
	if ((size_t)threads > n)
		threads = (int)n;
	if (prog) {
		uint64_t total = 0;
		struct stat st;

		for (k = 0; k < n; k++)
			if (stat(jobs[k].path, &st) == 0)
				total += (uint64_t)st.st_size;
		progress_set_total(prog, total);
	}
	pthread_mutex_init(&p.mu, NULL);
	for (i = 1; i < threads; i++)
		if (pthread_create(&tid[started], NULL, hash_worker, &p) == 0)
			started++;
	hash_worker(&p); /* this thread works too */
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.mu);
	for (k = 0; k < n; k++)
		failed += jobs[k].ret < 0;
	return failed ? -1 : 0;
}

/* ---- chunked digests ---- */

static const uint8_t zeros64k[1 << 16];

/* All bytes zero? The first 16 are checked, then each byte against the one 16 before. */
static int is_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < 16; i++)
		if (p[i])
			return 0;
	return n <= 16 || memcmp(p, p + 16, n - 16) == 0;
}

static void hash_zeros(struct hash *h, uint64_t n)
{
	while (n > 0) {
		size_t k = n > sizeof(zeros64k) ? sizeof(zeros64k) : (size_t)n;

		hash_update(h, zeros64k, k);
		n -= k;
	}
}

/*
 * The digest of len zero bytes. A file has at most two chunk lengths (the
 * chunk size and its tail), so a few remembered lengths serve every call.
 */
static int zero_digest(uint64_t len, uint8_t md[HASH_LEN])
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct {
		uint64_t len;
		uint8_t md[HASH_LEN];
	} seen[8];
	static unsigned nseen, next;
	struct sk_err e = SK_ERR_INIT;
	struct hash *h;
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&mu);
	for (i = 0; i < nseen; i++)
		if (seen[i].len == len) {
			memcpy(md, seen[i].md, HASH_LEN);
			goto out;
		}
	if (hash_new(&h, &e) < 0) {
		ret = -1;
		goto out;
	}
	hash_zeros(h, len);
	hash_final_raw(h, md);
	i = next++ % 8;
	seen[i].len = len;
	memcpy(seen[i].md, md, HASH_LEN);
	if (nseen < 8)
		nseen++;
out:
	pthread_mutex_unlock(&mu);
	return ret;
}

size_t chunk_count(uint64_t size, uint32_t chunk_size)
{
	return (size_t)(size / chunk_size + (size % chunk_size != 0));
}

void chunk_list_digest(const struct chunk_list *cl, char hex[HASH_HEX_LEN + 1])
{
	struct sk_err e = SK_ERR_INIT;
	struct hash *h;

	if (hash_new(&h, &e) < 0) {
		memset(hex, '-', HASH_HEX_LEN); /* matches no digest */
		hex[HASH_HEX_LEN] = '\0';
		return;
	}
	if (cl->n)
		hash_update(h, cl->d, cl->n * HASH_LEN);
	hash_final(h, hex);
}

int chunk_is_zero(const struct chunk_list *cl, size_t i, uint64_t file_size)
{
	uint64_t off = (uint64_t)i * cl->chunk_size;
	uint64_t len = file_size - off < cl->chunk_size ? file_size - off : cl->chunk_size;
	uint8_t z[HASH_LEN];

	return i < cl->n && off < file_size && zero_digest(len, z) == 0 &&
	       memcmp(cl->d[i], z, HASH_LEN) == 0;
}

void chunk_list_free(struct chunk_list *cl)
{
	free(cl->d);
	cl->d = NULL;
	cl->n = 0;
}

/* Every chunk of every job's file is one task; workers take the next. */
struct chunk_pool {
	struct chunk_job *jobs;
	int *fds;
	size_t *first; /* first task of job j; first[n] is the number of tasks */
	size_t n, next;
	uint32_t cs;
	struct progress *prog;
	pthread_mutex_t mu; /* guards next, prog and a job's ret and err */
};

static void chunk_fail(struct chunk_pool *p, struct chunk_job *j, int code, int e, const char *what)
{
	pthread_mutex_lock(&p->mu);
	if (j->ret == 0) {
		j->ret = -1;
		sk_err_sys(&j->err, code, e, "%s '%s'", what, j->path);
	}
	pthread_mutex_unlock(&p->mu);
}

/*
 * Give back the blocks of every run of zero pages in buf (len bytes read at
 * off): the file reads the same, and takes only the space of its data.
 * Best effort: a file system that cannot punch holes keeps its zeros.
 */
static void punch_zero_pages(int fd, const uint8_t *buf, uint64_t off, size_t len)
{
	enum { PAGE = 4096 };
	size_t i = 0, run;

	while (i + PAGE <= len) {
		for (run = 0; i + run + PAGE <= len && is_zero(buf + i + run, PAGE); run += PAGE)
			;
		if (run && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     (off_t)(off + i), (off_t)run) < 0)
			return;
		i += run ? run : PAGE;
	}
}

/* Read chunk k of job j into buf and digest it; a chunk in a hole is not read. */
static void chunk_task(struct chunk_pool *p, size_t j, size_t k, uint8_t *buf)
{
	struct chunk_job *job = &p->jobs[j];
	uint64_t off = (uint64_t)k * p->cs;
	size_t len = job->size - off < p->cs ? (size_t)(job->size - off) : p->cs;
	off_t data = lseek(p->fds[j], (off_t)off, SEEK_DATA);
	struct hash *h;
	struct sk_err e = SK_ERR_INIT;

	if ((data < 0 && errno == ENXIO) || (data >= 0 && (uint64_t)data >= off + len)) {
		if (zero_digest(len, job->chunks.d[k]) < 0)
			chunk_fail(p, job, SK_EFAIL, ENOMEM, "hash");
		return;
	}
	if (fs_pread_sparse(p->fds[j], buf, len, off) < 0) {
		chunk_fail(p, job, SK_EFAIL, errno, "read");
		return;
	}
	if (job->punch)
		punch_zero_pages(p->fds[j], buf, off, len);
	if (is_zero(buf, len)) {
		if (zero_digest(len, job->chunks.d[k]) < 0)
			chunk_fail(p, job, SK_EFAIL, ENOMEM, "hash");
		return;
	}
	if (hash_new(&h, &e) < 0) {
		chunk_fail(p, job, SK_EFAIL, ENOMEM, "hash");
		return;
	}
	hash_update(h, buf, len);
	hash_final_raw(h, job->chunks.d[k]);
}

static void *chunk_worker(void *arg)
{
	struct chunk_pool *p = arg;
	uint8_t *buf = malloc(p->cs);
	size_t t, j = 0;

	for (;;) {
		pthread_mutex_lock(&p->mu);
		t = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (t >= p->first[p->n])
			break;
		for (j = 0; t >= p->first[j + 1]; j++)
			;
		if (p->jobs[j].ret == 0 && !sig_interrupted()) {
			if (buf)
				chunk_task(p, j, t - p->first[j], buf);
			else
				chunk_fail(p, &p->jobs[j], SK_EFAIL, ENOMEM, "hash");
		}
		if (p->prog) {
			uint64_t off = (uint64_t)(t - p->first[j]) * p->cs;
			uint64_t left = p->jobs[j].size - off;

			pthread_mutex_lock(&p->mu);
			progress_add(p->prog, left < p->cs ? left : p->cs);
			pthread_mutex_unlock(&p->mu);
		}
	}
	free(buf);
	return NULL;
}

/* Open job j, take its size and make room for its digests. */
static int chunk_open(struct chunk_pool *p, size_t j)
{
	struct chunk_job *job = &p->jobs[j];
	struct stat st;

	sk_err_clear(&job->err);
	job->ret = 0;
	job->chunks.chunk_size = p->cs;
	p->fds[j] = open(job->path, (job->punch ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (p->fds[j] < 0 || fstat(p->fds[j], &st) < 0) {
		job->ret = -1;
		return sk_err_sys(&job->err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
				  "cannot open '%s'", job->path);
	}
	job->size = (uint64_t)st.st_size;
	job->chunks.n = chunk_count(job->size, p->cs);
	job->chunks.d = calloc(job->chunks.n ? job->chunks.n : 1, HASH_LEN);
	if (!job->chunks.d) {
		job->ret = -1;
		return sk_err_set(&job->err, SK_EFAIL, "out of memory");
	}
	posix_fadvise(p->fds[j], 0, 0, POSIX_FADV_SEQUENTIAL);
	return 0;
}

int chunk_hash_many(struct chunk_job *jobs, size_t n, uint32_t chunk_size, int threads,
		    struct progress *prog)
{
	struct chunk_pool p = { .jobs = jobs, .n = n, .cs = chunk_size, .prog = prog };
	pthread_t tid[64];
	uint64_t total = 0;
	int i, started = 0, failed = 0;
	size_t j;

	p.fds = malloc((n ? n : 1) * sizeof(*p.fds));
	p.first = calloc(n + 1, sizeof(*p.first));
	if (!p.fds || !p.first) {
		for (j = 0; j < n; j++)
			jobs[j].ret = sk_err_set(&jobs[j].err, SK_EFAIL, "out of memory");
		free(p.fds);
		free(p.first);
		return -1;
	}
	for (j = 0; j < n; j++) {
		chunk_open(&p, j);
		p.first[j + 1] = p.first[j] + (jobs[j].ret == 0 ? jobs[j].chunks.n : 0);
		total += jobs[j].ret == 0 ? jobs[j].size : 0;
	}
	if (prog)
		progress_set_total(prog, total);
	threads = pool_threads(threads);
	if ((size_t)threads > p.first[n])
		threads = p.first[n] ? (int)p.first[n] : 1;
	pthread_mutex_init(&p.mu, NULL);
	for (i = 1; i < threads; i++)
		if (pthread_create(&tid[started], NULL, chunk_worker, &p) == 0)
			started++;
	chunk_worker(&p); /* this thread works too */
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.mu);
	for (j = 0; j < n; j++) {
		if (p.fds[j] >= 0)
			close(p.fds[j]);
		if (jobs[j].ret == 0 && sig_interrupted())
			jobs[j].ret = sk_err_set(&jobs[j].err, SK_EFAIL, "interrupted");
		if (jobs[j].ret == 0)
			chunk_list_digest(&jobs[j].chunks, jobs[j].hex);
		failed += jobs[j].ret < 0;
	}
	free(p.fds);
	free(p.first);
	return failed ? -1 : 0;
}

/*
 * The chunker: chunk digests of a stream fed in pieces of any length, data
 * or runs of zeros. A chunk that has seen only zeros so far has no sha256
 * context yet; if it ends that way it gets the known digest.
 */
struct chunker {
	uint32_t cs;
	uint64_t pos;
	struct hash *cur; /* the current chunk's, once it met a non-zero byte */
	struct chunk_list cl;
	size_t cap;
	int failed; /* out of memory: no true digest */
};

static void chunker_emit(struct chunker *ck, uint64_t len)
{
	uint8_t md[HASH_LEN];

	if (ck->cur) {
		hash_final_raw(ck->cur, md);
		ck->cur = NULL;
	} else if (zero_digest(len, md) < 0) {
		ck->failed = 1;
	}
	if (ck->cl.n == ck->cap) {
		size_t cap = ck->cap ? 2 * ck->cap : 64;
		void *d = realloc(ck->cl.d, cap * HASH_LEN);

		if (!d) {
			ck->failed = 1;
			return;
		}
		ck->cl.d = d;
		ck->cap = cap;
	}
	memcpy(ck->cl.d[ck->cl.n++], md, HASH_LEN);
}

/* Take n bytes: buf's, or zeros when buf is NULL. Stops early when stop says so. */
static void chunker_take(struct chunker *ck, const uint8_t *buf, uint64_t n, const int *stop)
{
	struct sk_err e = SK_ERR_INIT;

	while (n > 0 && !ck->failed && !__atomic_load_n(stop, __ATOMIC_RELAXED)) {
		uint64_t in = ck->pos % ck->cs;
		uint64_t k = n < ck->cs - in ? n : ck->cs - in;
		int zero = !buf || is_zero(buf, (size_t)k);

		if (!zero && !ck->cur) {
			if (hash_new(&ck->cur, &e) < 0) {
				ck->failed = 1;
				return;
			}
			hash_zeros(ck->cur, in); /* what the chunk held so far */
		}
		if (ck->cur) {
			if (zero)
				hash_zeros(ck->cur, k);
			else
				hash_update(ck->cur, buf, (size_t)k);
		}
		ck->pos += k;
		n -= k;
		if (buf)
			buf += k;
		if (ck->pos % ck->cs == 0)
			chunker_emit(ck, ck->cs);
	}
}

/* The last, short chunk; then the list is complete. */
static void chunker_end(struct chunker *ck)
{
	if (ck->pos % ck->cs)
		chunker_emit(ck, ck->pos % ck->cs);
	ck->cl.chunk_size = ck->cs;
}

#define HASHER_SLOTS 8

struct hasher {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct {
		uint8_t *buf;
		size_t len;
		uint64_t zeros;
	} q[HASHER_SLOTS];
	unsigned head, tail, count; /* ring: head is filled next, tail hashed next */
	int stop;
	int discard;	    /* abort: drop what is queued, stop mid-run */
	int cut;	    /* a signal stopped a run of zeros: no true digest */
	struct chunker *ck; /* the chunk digests so far */
};

/*
 * One piece for the chunker. A hostile stream may claim a terabyte of zeros:
 * an abort or Ctrl-C stops the run, and then there is no true digest.
 */
static void chunk_run(struct hasher *hs, const uint8_t *buf, uint64_t n)
{
	uint64_t before = hs->ck->pos;

	chunker_take(hs->ck, buf, n, &hs->discard);
	if (hs->ck->pos - before < n && !hs->ck->failed)
		hs->cut = 1;
}

static void *hasher_main(void *arg)
{
	struct hasher *hs = arg;

	pthread_mutex_lock(&hs->mu);
	for (;;) {
		unsigned i;

		while (hs->count == 0 && !hs->stop)
			pthread_cond_wait(&hs->cv, &hs->mu);
		if (hs->count == 0)
			break;
		i = hs->tail;
		pthread_mutex_unlock(&hs->mu);
		if (__atomic_load_n(&hs->discard, __ATOMIC_RELAXED))
			;
		else
			chunk_run(hs, hs->q[i].zeros ? NULL : hs->q[i].buf,
				  hs->q[i].zeros ? hs->q[i].zeros : hs->q[i].len);
		pthread_mutex_lock(&hs->mu);
		hs->tail = (hs->tail + 1) % HASHER_SLOTS;
		hs->count--;
		pthread_cond_broadcast(&hs->cv);
	}
	pthread_mutex_unlock(&hs->mu);
	return NULL;
}

static void hasher_free(struct hasher *hs)
{
	unsigned i;

	for (i = 0; i < HASHER_SLOTS; i++)
		free(hs->q[i].buf);
	if (hs->ck) {
		hash_free(hs->ck->cur);
		chunk_list_free(&hs->ck->cl);
		free(hs->ck);
	}
	pthread_cond_destroy(&hs->cv);
	pthread_mutex_destroy(&hs->mu);
	free(hs);
}

int hasher_start_chunked(struct hasher **out, uint32_t chunk_size, struct sk_err *err)
{
	struct hasher *hs = calloc(1, sizeof(*hs));
	sigset_t all, old;
	unsigned i;
	int rc;

	*out = NULL;
	if (!hs)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	pthread_mutex_init(&hs->mu, NULL);
	pthread_cond_init(&hs->cv, NULL);
	for (i = 0; i < HASHER_SLOTS; i++)
		if (!(hs->q[i].buf = malloc(HASHER_SLOT_SIZE))) {
			hasher_free(hs);
			return sk_err_set(err, SK_EFAIL, "out of memory");
		}
	hs->ck = calloc(1, sizeof(*hs->ck));
	if (!hs->ck) {
		hasher_free(hs);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	hs->ck->cs = chunk_size;
	/* Signals belong to the thread that reads and can give up. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&hs->tid, NULL, hasher_main, hs);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		hasher_free(hs);
		return sk_err_set(err, SK_EFAIL, "cannot start a hashing thread");
	}
	*out = hs;
	return 0;
}

/* Wait for a free ring entry; called with mu held. */
static void wait_free(struct hasher *hs)
{
	while (hs->count == HASHER_SLOTS)
		pthread_cond_wait(&hs->cv, &hs->mu);
}

void *hasher_slot(struct hasher *hs)
{
	void *b;

	pthread_mutex_lock(&hs->mu);
	wait_free(hs);
	b = hs->q[hs->head].buf;
	pthread_mutex_unlock(&hs->mu);
	return b;
}

static void push(struct hasher *hs, size_t len, uint64_t zeros)
{
	pthread_mutex_lock(&hs->mu);
	wait_free(hs);
	hs->q[hs->head].len = len;
	hs->q[hs->head].zeros = zeros;
	hs->head = (hs->head + 1) % HASHER_SLOTS;
	hs->count++;
	pthread_cond_broadcast(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
}

void hasher_commit(struct hasher *hs, size_t len)
{
	push(hs, len, 0);
}

void hasher_zeros(struct hasher *hs, uint64_t n)
{
	if (n)
		push(hs, 0, n);
}

static void hasher_stop(struct hasher *hs)
{
	pthread_mutex_lock(&hs->mu);
	hs->stop = 1;
	pthread_cond_broadcast(&hs->cv);
	pthread_mutex_unlock(&hs->mu);
	pthread_join(hs->tid, NULL);
}

int hasher_finish_chunks(struct hasher *hs, struct chunk_list *cl, char hex[HASH_HEX_LEN + 1],
			 struct sk_err *err)
{
	int ret = 0;

	hasher_stop(hs); /* joins the thread: cut and the chunker are settled */
	if (hs->cut) {
		ret = sk_err_set(err, SK_EFAIL, "interrupted");
	} else {
		chunker_end(hs->ck);
		if (hs->ck->failed)
			ret = sk_err_set(err, SK_EFAIL, "out of memory");
	}
	if (ret == 0) {
		*cl = hs->ck->cl;
		hs->ck->cl.d = NULL;
		hs->ck->cl.n = 0;
		chunk_list_digest(cl, hex);
	}
	hasher_free(hs);
	return ret;
}

void hasher_abort(struct hasher *hs)
{
	if (!hs)
		return;
	__atomic_store_n(&hs->discard, 1, __ATOMIC_RELAXED);
	hasher_stop(hs);
	hasher_free(hs);
}

void hash_buf(const void *buf, size_t len, uint8_t md[HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1 || n != HASH_LEN)
		memset(md, 0xff, HASH_LEN);
}

void hash_buf_hex(const void *buf, size_t len, char hex[HASH_HEX_LEN + 1])
{
	uint8_t md[HASH_LEN];

	hash_buf(buf, len, md);
	hash_hex(md, hex);
}

void hash_md5_b64(const void *buf, size_t len, char out[25])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
}

int hash_md5_b64_fd(int fd, uint64_t off, uint64_t len, char out[25], struct sk_err *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *buf = malloc(1u << 20);
	int ret = -1;

	if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto out;
	}
	while (len > 0) {
		size_t want = len < (1u << 20) ? (size_t)len : (1u << 20);
		ssize_t r = pread(fd, buf, want, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			sk_err_sys(err, SK_EFAIL, r < 0 ? errno : EIO, "read");
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_EncodeBlock((unsigned char *)out, md, (int)n);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}
