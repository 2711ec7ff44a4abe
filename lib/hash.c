/*
 * hash.c: sha256 with OpenSSL EVP, for a buffer, a file, or many files at
 * once on a worker pool; and the hasher, which digests a stream as it is
 * written (runs of zeros included) and reports an interruption as a failure.
 */
#include "hash.h"
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
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

void hash_final(struct hash *h, char hex[HASH_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	EVP_DigestFinal_ex(h->ctx, md, &n);
	for (i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[HASH_HEX_LEN] = '\0';
	hash_free(h);
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

		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			data = st.st_size;
		else if (data < 0)
			data = pos; /* no SEEK_DATA: read everything */
		hole = data < st.st_size ? lseek(fd, data, SEEK_HOLE) : st.st_size;
		if (hole < 0 || hole > st.st_size)
			hole = st.st_size;
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

int hash_many(struct hash_job *jobs, size_t n, int threads, struct progress *prog)
{
	struct hash_pool p = { .jobs = jobs, .n = n, .prog = prog };
	pthread_t tid[64];
	int i, started = 0, failed = 0;
	size_t k;

	if (threads <= 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		threads = c > 0 ? (int)c : 1;
	}
	if (threads > 64)
		threads = 64;
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
	int discard; /* abort: drop what is queued, stop mid-run */
	int cut;     /* a signal stopped a run of zeros: no true digest */
	struct hash *h;
};

static void hash_zero_run(struct hasher *hs, uint64_t n)
{
	static const uint8_t zeros[1 << 16];
	struct hash *h = hs->h;

	/*
	 * A hostile stream may claim a terabyte of zeros: an abort or Ctrl-C
	 * stops here too (the digest is then wrong, and the caller says why).
	 */
	while (n > 0 && !__atomic_load_n(&hs->discard, __ATOMIC_RELAXED) && !sig_interrupted()) {
		size_t k = n > sizeof(zeros) ? sizeof(zeros) : (size_t)n;

		hash_update(h, zeros, k);
		n -= k;
	}
	if (n > 0)
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
		else if (hs->q[i].zeros)
			hash_zero_run(hs, hs->q[i].zeros);
		else
			hash_update(hs->h, hs->q[i].buf, hs->q[i].len);
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
	hash_free(hs->h);
	pthread_cond_destroy(&hs->cv);
	pthread_mutex_destroy(&hs->mu);
	free(hs);
}

int hasher_start(struct hasher **out, struct sk_err *err)
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
	if (hash_new(&hs->h, err) < 0) {
		hasher_free(hs);
		return -1;
	}
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

int hasher_finish(struct hasher *hs, char hex[HASH_HEX_LEN + 1], struct sk_err *err)
{
	int cut;

	hasher_stop(hs); /* joins the thread: cut is settled */
	cut = hs->cut;
	hash_final(hs->h, hex);
	hs->h = NULL;
	hasher_free(hs);
	return cut ? sk_err_set(err, SK_EFAIL, "interrupted") : 0;
}

void hasher_abort(struct hasher *hs)
{
	if (!hs)
		return;
	__atomic_store_n(&hs->discard, 1, __ATOMIC_RELAXED);
	hasher_stop(hs);
	hasher_free(hs);
}
