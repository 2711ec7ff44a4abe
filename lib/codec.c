/*
 * codec: gzip and zstd around the plain tar stream, with every byte checked
 * on the way back in. See codec.h for the contracts.
 */
#include "codec.h"
#include "sig.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>
#include "banned.h"

/*
 * Plain bytes per gzip member, and the size of the plain I/O buffers. Members
 * are independent (no dictionary carried over, unlike pigz), so each can be
 * deflated, and later inflated, on its own core; at 1 MiB that costs about
 * 0.1% in size.
 */
#define CHUNK (1u << 20)
/*
 * Every member the encoder writes starts with this 20-byte header: the 10
 * fixed bytes with FLG.FEXTRA set, XLEN = 8, then one extra subfield 'S' 'K'
 * of 4 bytes holding the member's total length (header, deflate data and
 * trailer) little-endian. Other gunzips skip FEXTRA; our decoder uses it to
 * cut the stream into members without inflating, and inflates them in
 * parallel.
 */
#define GZ_HDR 20
#define GZ_TRL 8
/* Largest member the decoder will hand to a worker (>= any we write). */
#define GZ_MEMBER_MAX (CHUNK + CHUNK / 4)
#define DEC_IN_SIZE (2 * CHUNK)
#define MAX_THREADS 128
/* Inflating runs at disk speed well before this many cores. */
#define DEC_MAX_THREADS 16

#define ZSTD_MAGIC 0xFD2FB528u
#define ZSTD_SKIP_MAGIC 0x184D2A50u
#define ZSTD_SKIP_MASK 0xFFFFFFF0u

static const struct {
	enum codec c;
	const char *name, *suffix;
} codecs[] = {
	{ CODEC_NONE, "none", ".tar" },
	{ CODEC_GZIP, "gzip", ".tar.gz" },
	{ CODEC_ZSTD, "zstd", ".tar.zst" },
};

int codec_parse(const char *name, enum codec *out)
{
	size_t i;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++) {
		if (name && strcmp(name, codecs[i].name) == 0) {
			*out = codecs[i].c;
			return 0;
		}
	}
	return -1;
}

const char *codec_name(enum codec c)
{
	size_t i;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].c == c)
			return codecs[i].name;
	return "unknown";
}

const char *codec_suffix(enum codec c)
{
	size_t i;

	for (i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
		if (codecs[i].c == c)
			return codecs[i].suffix;
	return "";
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

/* Wait for a non-blocking fd someone handed us to become ready. */
static void wait_fd(int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t *count, struct sk_err *err)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				wait_fd(fd, POLLOUT);
				continue;
			}
			return sk_err_sys(err, SK_EFAIL, errno, "write");
		}
		p += n;
		len -= (size_t)n;
		*count += (uint64_t)n;
	}
	return 0;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/*
 * A pool of worker threads that deflate chunks into gzip members (encoder)
 * or inflate whole members (decoder). Jobs live in a ring: the caller fills
 * the slot after the last submitted one, workers take submitted jobs in ring
 * order, and the caller collects them from the head, so output stays in input
 * order while memory stays at njobs slots.
 */
enum { JOB_FREE, JOB_QUEUED, JOB_BUSY, JOB_DONE };

struct job {
	unsigned char *in, *out;
	size_t in_len, out_len;
	int state;
	int zret;	  /* Z_OK, or what stopped the job */
	const char *zmsg; /* zlib's message (static storage), or NULL */
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
	struct job *jobs;
	unsigned njobs, head, nsub, todo;
	pthread_t *tids;
	unsigned nthreads, nstarted;
	int stop;
	int inflating;
	int level;
	size_t in_cap, out_cap;
};

static int gz_xfl(int level)
{
	if (level == 9)
		return 2;
	return level == 1 ? 4 : 0;
}

/* Deflate j->in into one complete gzip member in j->out. */
static void gz_deflate_job(z_stream *zs, int level, struct job *j, size_t out_cap)
{
	unsigned char *h = j->out;
	size_t mlen;
	int ret;

	j->zret = deflateReset(zs);
	if (j->zret != Z_OK)
		return;
	zs->next_in = j->in;
	zs->avail_in = (uInt)j->in_len;
	zs->next_out = j->out + GZ_HDR;
	zs->avail_out = (uInt)(out_cap - GZ_HDR - GZ_TRL);
	ret = deflate(zs, Z_FINISH);
	if (ret != Z_STREAM_END) {
		/* out_cap is deflateBound, so this is a zlib failure */
		j->zret = ret == Z_OK ? Z_BUF_ERROR : ret;
		return;
	}
	mlen = GZ_HDR + zs->total_out + GZ_TRL;

	h[0] = 0x1f;
	h[1] = 0x8b;
	h[2] = 8;	    /* deflate */
	h[3] = 4;	    /* FEXTRA */
	put_le32(h + 4, 0); /* no mtime: the same input gives the same bytes */
	h[8] = (unsigned char)gz_xfl(level);
	h[9] = 3;  /* Unix */
	h[10] = 8; /* XLEN */
	h[11] = 0;
	h[12] = 'S';
	h[13] = 'K';
	h[14] = 4;
	h[15] = 0;
	put_le32(h + 16, (uint32_t)mlen);
	put_le32(j->out + GZ_HDR + zs->total_out, (uint32_t)crc32(0, j->in, (uInt)j->in_len));
	put_le32(j->out + GZ_HDR + zs->total_out + 4, (uint32_t)j->in_len);
	j->out_len = mlen;
	j->zret = Z_OK;
}

/*
 * Inflate one whole member. It must end exactly where its length field said,
 * or the member boundaries we cut by would differ from what a sequential
 * gunzip sees; zlib itself checks CRC32 and ISIZE.
 */
static void gz_inflate_job(z_stream *zs, struct job *j, size_t out_cap)
{
	int ret;

	j->zmsg = NULL;
	j->zret = inflateReset(zs);
	if (j->zret != Z_OK)
		return;
	zs->next_in = j->in;
	zs->avail_in = (uInt)j->in_len;
	zs->next_out = j->out;
	zs->avail_out = (uInt)out_cap;
	ret = inflate(zs, Z_FINISH);
	j->out_len = out_cap - zs->avail_out;
	if (ret == Z_STREAM_END && zs->avail_in == 0) {
		j->zret = Z_OK;
	} else if (ret == Z_STREAM_END) {
		j->zret = Z_DATA_ERROR;
		j->zmsg = "member shorter than its length field";
	} else if (ret == Z_BUF_ERROR && zs->avail_out == 0) {
		/* more output than the ISIZE we checked allows */
		j->zret = Z_DATA_ERROR;
		j->zmsg = "incorrect length check";
	} else if (ret == Z_BUF_ERROR) {
		j->zret = Z_DATA_ERROR;
		j->zmsg = "member longer than its length field";
	} else {
		j->zret = ret == Z_NEED_DICT ? Z_DATA_ERROR : ret;
		j->zmsg = zs->msg;
	}
}

static void pool_run(struct pool *p, z_stream *zs, struct job *j)
{
	if (p->inflating)
		gz_inflate_job(zs, j, p->out_cap);
	else
		gz_deflate_job(zs, p->level, j, p->out_cap);
}

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	struct job *j;
	z_stream zs;
	int ready = 0;

	memset(&zs, 0, sizeof(zs));
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		j = &p->jobs[p->todo];
		if (j->state != JOB_QUEUED) {
			pthread_cond_wait(&p->work_cv, &p->mu);
			continue;
		}
		j->state = JOB_BUSY;
		p->todo = (p->todo + 1) % p->njobs;
		pthread_mutex_unlock(&p->mu);

		if (!ready) {
			if (p->inflating)
				ready = inflateInit2(&zs, 15 + 16) == Z_OK;
			else
				ready = deflateInit2(&zs, p->level, Z_DEFLATED, -15, 8,
						     Z_DEFAULT_STRATEGY) == Z_OK;
		}
		if (!ready)
			j->zret = Z_MEM_ERROR;
		else
			pool_run(p, &zs, j);

		pthread_mutex_lock(&p->mu);
		j->state = JOB_DONE;
		pthread_cond_signal(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	if (ready) {
		if (p->inflating)
			inflateEnd(&zs);
		else
			deflateEnd(&zs);
	}
	return NULL;
}

static void pool_free(struct pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nstarted; i++)
		pthread_join(p->tids[i], NULL);
	for (i = 0; p->jobs && i < p->njobs; i++) {
		free(p->jobs[i].in);
		free(p->jobs[i].out);
	}
	free(p->jobs);
	free(p->tids);
	pthread_cond_destroy(&p->done_cv);
	pthread_cond_destroy(&p->work_cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

static struct pool *pool_new(unsigned nthreads, int inflating, int level, size_t in_cap,
			     size_t out_cap)
{
	struct pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	p->nthreads = nthreads;
	/* two jobs per worker keep them busy while the caller writes or reads */
	p->njobs = 2 * nthreads + 2;
	p->inflating = inflating;
	p->level = level;
	p->in_cap = in_cap;
	p->out_cap = out_cap;
	p->jobs = calloc(p->njobs, sizeof(*p->jobs));
	p->tids = calloc(nthreads, sizeof(*p->tids));
	if (!p->jobs || !p->tids) {
		pool_free(p);
		return NULL;
	}
	return p;
}

/* The free slot after the last submitted job; buffers are allocated on first use. */
static struct job *pool_slot(struct pool *p)
{
	struct job *j = &p->jobs[(p->head + p->nsub) % p->njobs];

	if (!j->in)
		j->in = malloc(p->in_cap);
	if (!j->out)
		j->out = malloc(p->out_cap);
	return j->in && j->out ? j : NULL;
}

/*
 * Start one more worker. Workers block every signal: the program's handlers
 * (SIGINT cleanup, say) belong on its own thread.
 */
static int pool_spawn(struct pool *p)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(&p->tids[p->nstarted], NULL, pool_worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0)
		return ret;
	p->nstarted++;
	return 0;
}

/* Hand the slot from pool_slot to the workers. Returns an errno value or 0. */
static int pool_submit(struct pool *p)
{
	struct job *j = &p->jobs[(p->head + p->nsub) % p->njobs];
	int ret;

	/* threads start as work arrives, so a small stream spawns few */
	if (p->nstarted < p->nthreads && p->nstarted <= p->nsub) {
		ret = pool_spawn(p);
		if (ret != 0 && p->nstarted == 0)
			return ret;
	}
	pthread_mutex_lock(&p->mu);
	j->state = JOB_QUEUED;
	pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	p->nsub++;
	return 0;
}

/*
 * The oldest submitted job once it is done; NULL if not done and !block.
 * A blocking caller with a zlib stream of its own runs queued jobs itself
 * rather than sleep: no thread idles while work is queued, and the work
 * keeps moving on whichever cpu the caller has when the workers are
 * crowded onto one (seen on busy hosts).
 */
static struct job *pool_head(struct pool *p, int block, z_stream *zs)
{
	struct job *j = &p->jobs[p->head], *q;
	int done;

	pthread_mutex_lock(&p->mu);
	while (!(done = j->state == JOB_DONE) && block) {
		q = &p->jobs[p->todo];
		if (zs && q->state == JOB_QUEUED) {
			q->state = JOB_BUSY;
			p->todo = (p->todo + 1) % p->njobs;
			pthread_mutex_unlock(&p->mu);
			pool_run(p, zs, q);
			pthread_mutex_lock(&p->mu);
			q->state = JOB_DONE;
			continue;
		}
		pthread_cond_wait(&p->done_cv, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return done ? j : NULL;
}

static void pool_release(struct pool *p)
{
	struct job *j = &p->jobs[p->head];

	pthread_mutex_lock(&p->mu);
	j->state = JOB_FREE;
	pthread_mutex_unlock(&p->mu);
	j->in_len = 0;
	j->out_len = 0;
	p->head = (p->head + 1) % p->njobs;
	p->nsub--;
}

/* ---------------------------------------------------------------- encoder */

struct enc {
	enum codec codec;
	int fd;
	int level;
	uint64_t out_bytes;
	int state;	    /* 0 open, 1 finished, -1 failed */
	struct sk_err ferr; /* the failure, repeated by later calls */

	/* none and zstd: output buffer */
	unsigned char *buf;
	size_t buf_len;

	/* gzip: a pool when threads > 1, else one job deflated in place */
	struct pool *pool;
	struct job one;
	z_stream zs;
	int zs_ready;
	size_t out_cap;
	uint64_t members;

	ZSTD_CCtx *zc;
};

static struct job *gz_cur(struct enc *e, struct sk_err *err)
{
	struct job *j = e->pool ? pool_slot(e->pool) : &e->one;

	if (!j || !j->in || !j->out) {
		sk_err_sys(err, SK_EFAIL, ENOMEM, "gzip");
		return NULL;
	}
	return j;
}

static int gz_emit(struct enc *e, struct job *j, struct sk_err *err)
{
	if (j->zret != Z_OK)
		return sk_err_set(err, SK_EFAIL, "gzip: %s", zError(j->zret));
	return write_all(e->fd, j->out, j->out_len, &e->out_bytes, err);
}

/* Write finished members in order; wait while more than keep are in flight. */
static int gz_drain(struct enc *e, unsigned keep, struct sk_err *err)
{
	struct pool *p = e->pool;
	struct job *j;

	while (p->nsub > 0) {
		j = pool_head(p, p->nsub > keep, &e->zs);
		if (!j)
			break;
		if (gz_emit(e, j, err) < 0)
			return -1;
		pool_release(p);
	}
	return 0;
}

/* The current chunk is complete: make it a member. */
static int gz_submit(struct enc *e, struct sk_err *err)
{
	int ret;

	e->members++;
	if (!e->pool) {
		gz_deflate_job(&e->zs, e->level, &e->one, e->out_cap);
		e->one.in_len = 0;
		return gz_emit(e, &e->one, err);
	}
	ret = pool_submit(e->pool);
	if (ret != 0)
		return sk_err_sys(err, SK_EFAIL, ret, "gzip: start thread");
	return gz_drain(e, e->pool->njobs - 1, err);
}

static int gz_write(struct enc *e, const unsigned char *p, size_t len, struct sk_err *err)
{
	struct job *j;
	size_t n;

	while (len > 0) {
		j = gz_cur(e, err);
		if (!j)
			return -1;
		n = CHUNK - j->in_len;
		if (n > len)
			n = len;
		memcpy(j->in + j->in_len, p, n);
		j->in_len += n;
		p += n;
		len -= n;
		if (j->in_len == CHUNK && gz_submit(e, err) < 0)
			return -1;
	}
	return 0;
}

static int gz_finish(struct enc *e, struct sk_err *err)
{
	struct job *j = gz_cur(e, err);

	if (!j)
		return -1;
	/* an empty input still gets one (empty) member: a valid gzip file */
	if ((j->in_len > 0 || e->members == 0) && gz_submit(e, err) < 0)
		return -1;
	return e->pool ? gz_drain(e, 0, err) : 0;
}

static int buf_flush(struct enc *e, struct sk_err *err)
{
	int ret = write_all(e->fd, e->buf, e->buf_len, &e->out_bytes, err);

	e->buf_len = 0;
	return ret;
}

static int zstd_run(struct enc *e, const void *buf, size_t len, ZSTD_EndDirective mode,
		    struct sk_err *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	ZSTD_outBuffer out;
	size_t r;

	for (;;) {
		out.dst = e->buf;
		out.size = CHUNK;
		out.pos = e->buf_len;
		r = ZSTD_compressStream2(e->zc, &out, &in, mode);
		e->buf_len = out.pos;
		if (ZSTD_isError(r))
			return sk_err_set(err, SK_EFAIL, "zstd: %s", ZSTD_getErrorName(r));
		if (e->buf_len == CHUNK || (mode == ZSTD_e_end && r == 0)) {
			if (buf_flush(e, err) < 0)
				return -1;
		}
		if (mode == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

static int zstd_open(struct enc *e, int threads, struct sk_err *err)
{
	ZSTD_bounds b;
	size_t r;

	e->zc = ZSTD_createCCtx();
	if (!e->zc)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "zstd");
	r = ZSTD_CCtx_setParameter(e->zc, ZSTD_c_compressionLevel, e->level);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(e->zc, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(r))
		return sk_err_set(err, SK_EFAIL, "zstd: %s", ZSTD_getErrorName(r));
	/*
	 * A libzstd built without threads refuses nbWorkers >= 1; it then
	 * compresses on the calling thread, which is still correct.
	 */
	b = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
	if (!ZSTD_isError(b.error) && b.upperBound > 0) {
		if (threads > b.upperBound)
			threads = b.upperBound;
		r = ZSTD_CCtx_setParameter(e->zc, ZSTD_c_nbWorkers, threads);
		if (ZSTD_isError(r))
			ZSTD_CCtx_setParameter(e->zc, ZSTD_c_nbWorkers, 0);
	}
	return 0;
}

static int enc_fail(struct enc *e, struct sk_err *err)
{
	e->state = -1;
	e->ferr = *err;
	return -1;
}

int enc_open(struct enc **out, int fd, enum codec c, int level, int threads, struct sk_err *err)
{
	struct enc *e = NULL;

	*out = NULL;
	if (threads < 0)
		return sk_err_set(err, SK_EUSAGE, "threads must be 0 or more");
	if (threads == 0 || threads > MAX_THREADS)
		threads = threads == 0 ? (int)online_cpus() : MAX_THREADS;
	switch (c) {
	case CODEC_NONE:
		break;
	case CODEC_GZIP:
		if (level == 0)
			level = 6;
		if (level < 1 || level > 9)
			return sk_err_set(err, SK_EUSAGE, "gzip level must be 1-9");
		break;
	case CODEC_ZSTD:
		if (level == 0)
			level = ZSTD_CLEVEL_DEFAULT;
		if (level < 1 || level > ZSTD_maxCLevel())
			return sk_err_set(err, SK_EUSAGE, "zstd level must be 1-%d",
					  ZSTD_maxCLevel());
		break;
	default:
		return sk_err_set(err, SK_EUSAGE, "unknown compression %d", (int)c);
	}

	e = calloc(1, sizeof(*e));
	if (!e)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "encoder");
	e->codec = c;
	e->fd = fd;
	e->level = level;

	if (c == CODEC_GZIP) {
		/* the bound for any stream, so one number serves every worker */
		e->out_cap = GZ_HDR + deflateBound(NULL, CHUNK) + GZ_TRL;
		if (threads > 1) {
			e->pool = pool_new((unsigned)threads, 0, level, CHUNK, e->out_cap);
			if (!e->pool)
				goto nomem;
		} else {
			e->one.in = malloc(CHUNK);
			e->one.out = malloc(e->out_cap);
			if (!e->one.in || !e->one.out)
				goto nomem;
		}
		if (deflateInit2(&e->zs, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			goto nomem;
		e->zs_ready = 1;
	} else {
		e->buf = malloc(CHUNK);
		if (!e->buf)
			goto nomem;
		if (c == CODEC_ZSTD && zstd_open(e, threads, err) < 0)
			goto fail;
	}
	*out = e;
	return 0;
nomem:
	sk_err_sys(err, SK_EFAIL, ENOMEM, "encoder");
fail:
	enc_free(e);
	return -1;
}

int enc_write(struct enc *e, const void *buf, size_t len, struct sk_err *err)
{
	int ret = 0;

	if (e->state < 0) {
		*err = e->ferr;
		return -1;
	}
	if (e->state > 0)
		return sk_err_set(err, SK_EFAIL, "write after the end of the stream");
	if (len == 0)
		return 0;
	switch (e->codec) {
	case CODEC_GZIP:
		ret = gz_write(e, buf, len, err);
		break;
	case CODEC_ZSTD:
		ret = zstd_run(e, buf, len, ZSTD_e_continue, err);
		break;
	default:
		/* big writes skip the buffer, small ones are batched */
		if (e->buf_len + len > CHUNK && e->buf_len > 0)
			ret = buf_flush(e, err);
		if (ret == 0 && len >= CHUNK) {
			ret = write_all(e->fd, buf, len, &e->out_bytes, err);
		} else if (ret == 0) {
			memcpy(e->buf + e->buf_len, buf, len);
			e->buf_len += len;
		}
		break;
	}
	return ret < 0 ? enc_fail(e, err) : 0;
}

int enc_finish(struct enc *e, struct sk_err *err)
{
	int ret;

	if (e->state < 0) {
		*err = e->ferr;
		return -1;
	}
	if (e->state > 0)
		return 0;
	if (e->codec == CODEC_GZIP)
		ret = gz_finish(e, err);
	else if (e->codec == CODEC_ZSTD)
		ret = zstd_run(e, NULL, 0, ZSTD_e_end, err);
	else
		ret = buf_flush(e, err);
	if (ret < 0)
		return enc_fail(e, err);
	e->state = 1;
	return 0;
}

uint64_t enc_bytes_out(const struct enc *e)
{
	return e->out_bytes;
}

void enc_free(struct enc *e)
{
	if (!e)
		return;
	pool_free(e->pool);
	if (e->zs_ready)
		deflateEnd(&e->zs);
	free(e->one.in);
	free(e->one.out);
	ZSTD_freeCCtx(e->zc);
	free(e->buf);
	free(e);
}

/* ---------------------------------------------------------------- decoder */

struct dec {
	int fd;
	int cancel; /* set by dec_cancel from another thread */
	enum codec codec;
	int state; /* 0 running, 1 verified end, -1 failed */
	struct sk_err ferr;
	uint64_t in_bytes;

	unsigned char *in; /* read buffer: unread bytes are in[pos, len) */
	size_t pos, len;
	int eof;
	unsigned char *out;

	/* gzip */
	z_stream zs;
	int zs_ready;
	int in_member; /* inflating a member here, not on a worker */
	struct pool *pool;
	int returned; /* the pool's head job was handed out last call */
	int deferred; /* derr happens after the queued members */
	struct sk_err derr;

	/* zstd */
	ZSTD_DCtx *zd;
	int in_frame;
};

static size_t avail(const struct dec *d)
{
	return d->len - d->pos;
}

/* Stream offset of the next unread byte. */
static uint64_t dec_offset(const struct dec *d)
{
	return d->in_bytes - avail(d);
}

/* Make at least want bytes readable (want <= DEC_IN_SIZE), unless EOF comes first. */
static int dec_fill(struct dec *d, size_t want, struct sk_err *err)
{
	size_t have = avail(d);
	ssize_t n;

	if (have >= want || d->eof)
		return 0;
	if (have == 0 || DEC_IN_SIZE - d->pos < want) {
		memmove(d->in, d->in + d->pos, have);
		d->len = have;
		d->pos = 0;
	}
	while (avail(d) < want && !d->eof) {
		if (__atomic_load_n(&d->cancel, __ATOMIC_ACQUIRE))
			return sk_err_set(err, SK_EFAIL, "read cancelled");
		n = read(d->fd, d->in + d->len, DEC_IN_SIZE - d->len);
		if (n < 0) {
			/* SIGINT or SIGTERM while the sender is silent: stop, do not wait on. */
			if (errno == EINTR && sig_interrupted())
				return sk_err_set(err, SK_EFAIL, "interrupted");
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				wait_fd(d->fd, POLLIN);
				continue;
			}
			return sk_err_sys(err, SK_EFAIL, errno, "read");
		}
		if (n == 0)
			d->eof = 1;
		d->len += (size_t)n;
		d->in_bytes += (uint64_t)n;
	}
	return 0;
}

static int gz_truncated(struct sk_err *err)
{
	return sk_err_set(err, SK_EDAMAGED, "truncated gzip stream");
}

/*
 * At a member boundary, look at what comes next: 0 is the clean end, 1 a
 * member to inflate here, 2 a member of *mlen bytes, wholly in the buffer,
 * that a worker can inflate; -1 an error.
 */
static int gz_classify(struct dec *d, size_t *mlen, struct sk_err *err)
{
	const unsigned char *p;
	uint32_t len;

	if (dec_fill(d, GZ_HDR, err) < 0)
		return -1;
	p = d->in + d->pos;
	if (avail(d) == 0)
		return 0;
	/*
	 * A second member is fine (gzip allows concatenation); anything else
	 * is not ours to pass on, and gzip -d would only warn about it.
	 */
	if (avail(d) < 2 || p[0] != 0x1f || p[1] != 0x8b)
		return sk_err_set(err, SK_EDAMAGED,
				  "trailing garbage after gzip member at offset %" PRIu64,
				  dec_offset(d));
	if (!d->pool || avail(d) < GZ_HDR || p[2] != 8 || p[3] != 4 || p[10] != 8 || p[11] != 0 ||
	    p[12] != 'S' || p[13] != 'K' || p[14] != 4 || p[15] != 0)
		return 1;
	len = get_le32(p + 16);
	/* out of range: let the sequential path judge the member on its own */
	if (len < GZ_HDR + GZ_TRL || len > GZ_MEMBER_MAX)
		return 1;
	if (dec_fill(d, len, err) < 0)
		return -1;
	if (avail(d) < len)
		return gz_truncated(err);
	p = d->in + d->pos;
	/* ISIZE bounds the output; a worker only has CHUNK bytes for it */
	if (get_le32(p + len - 4) > CHUNK)
		return 1;
	*mlen = len;
	return 2;
}

/* Inflate the current member here; 1 with data, 0 at its end with none, -1. */
static int gz_inflate_here(struct dec *d, const void **buf, size_t *len, struct sk_err *err)
{
	size_t before;
	int ret;

	d->zs.next_out = d->out;
	d->zs.avail_out = CHUNK;
	while (d->zs.avail_out > 0) {
		if (avail(d) == 0) {
			if (dec_fill(d, 1, err) < 0)
				return -1;
			if (avail(d) == 0)
				return gz_truncated(err);
		}
		d->zs.next_in = d->in + d->pos;
		d->zs.avail_in = (uInt)avail(d);
		before = d->zs.avail_in;
		ret = inflate(&d->zs, Z_NO_FLUSH);
		d->pos += before - d->zs.avail_in;
		if (ret == Z_STREAM_END) {
			d->in_member = 0;
			break;
		}
		if (ret == Z_MEM_ERROR)
			return sk_err_sys(err, SK_EFAIL, ENOMEM, "gzip");
		if (ret == Z_BUF_ERROR && d->zs.avail_in > 0)
			return sk_err_set(err, SK_EFAIL, "gzip: inflate made no progress");
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return sk_err_set(err, SK_EDAMAGED, "gzip: %s",
					  d->zs.msg ? d->zs.msg : zError(ret));
	}
	*buf = d->out;
	*len = CHUNK - d->zs.avail_out;
	return *len > 0;
}

static int gz_next(struct dec *d, const void **buf, size_t *len, struct sk_err *err)
{
	struct pool *p;
	struct job *j;
	size_t mlen;
	int ret;

	if (d->returned) {
		pool_release(d->pool);
		d->returned = 0;
	}
	for (;;) {
		if (d->in_member) {
			ret = gz_inflate_here(d, buf, len, err);
			if (ret != 0)
				return ret;
			continue;
		}
		p = d->pool;
		/* queue whole members with our length field on the workers */
		while (p && !d->deferred && p->nsub < p->njobs) {
			ret = gz_classify(d, &mlen, &d->derr);
			if (ret < 0)
				d->deferred = 1;
			if (ret != 2)
				break;
			j = pool_slot(p);
			if (!j)
				return sk_err_sys(err, SK_EFAIL, ENOMEM, "gzip");
			memcpy(j->in, d->in + d->pos, mlen);
			j->in_len = mlen;
			d->pos += mlen;
			ret = pool_submit(p);
			if (ret != 0)
				return sk_err_sys(err, SK_EFAIL, ret, "gzip: start thread");
		}
		if (p && p->nsub > 0) {
			j = pool_head(p, 1, &d->zs);
			if (j->zret == Z_MEM_ERROR)
				return sk_err_sys(err, SK_EFAIL, ENOMEM, "gzip");
			if (j->zret != Z_OK)
				return sk_err_set(err, SK_EDAMAGED, "gzip: %s",
						  j->zmsg ? j->zmsg : zError(j->zret));
			if (j->out_len == 0) {
				pool_release(p);
				continue;
			}
			d->returned = 1;
			*buf = j->out;
			*len = j->out_len;
			return 1;
		}
		if (d->deferred) {
			*err = d->derr;
			return -1;
		}
		/* a member inflated here: no length field, or no workers */
		ret = gz_classify(d, &mlen, err);
		if (ret <= 0)
			return ret;
		if (inflateReset(&d->zs) != Z_OK)
			return sk_err_set(err, SK_EFAIL, "gzip: inflateReset failed");
		d->in_member = 1;
	}
}

static int zstd_truncated(struct sk_err *err)
{
	return sk_err_set(err, SK_EDAMAGED, "truncated zstd stream");
}

/*
 * At a frame boundary: 0 at the clean end, 1 when a frame (or skippable
 * frame) starts, -1 on error. The checksum flag is read straight from the
 * frame header descriptor (RFC 8878, 3.1.1.1.1): the format is frozen, while
 * ZSTD_getFrameHeader belongs to libzstd's static-only API, whose struct
 * layout may change under a shared library.
 */
static int zstd_frame_start(struct dec *d, struct sk_err *err)
{
	const unsigned char *p;
	uint32_t magic;

	if (dec_fill(d, 5, err) < 0)
		return -1;
	p = d->in + d->pos;
	if (avail(d) == 0)
		return 0;
	magic = avail(d) >= 4 ? get_le32(p) : 0;
	if ((magic & ZSTD_SKIP_MASK) == ZSTD_SKIP_MAGIC)
		return 1;
	if (magic != ZSTD_MAGIC)
		return sk_err_set(err, SK_EDAMAGED,
				  "trailing garbage after zstd frame at offset %" PRIu64,
				  dec_offset(d));
	if (avail(d) < 5)
		return zstd_truncated(err);
	if (!(p[4] & 0x04))
		return sk_err_set(err, SK_EDAMAGED,
				  "zstd frame without checksum at offset %" PRIu64, dec_offset(d));
	return 1;
}

static int zstd_next(struct dec *d, const void **buf, size_t *len, struct sk_err *err)
{
	ZSTD_outBuffer out = { d->out, CHUNK, 0 };
	ZSTD_inBuffer in;
	size_t r;
	int ret;

	for (;;) {
		if (!d->in_frame) {
			ret = zstd_frame_start(d, err);
			if (ret <= 0)
				return ret;
			d->in_frame = 1;
		}
		while (d->in_frame && out.pos < out.size) {
			in.src = d->in + d->pos;
			in.size = avail(d);
			in.pos = 0;
			/*
			 * libzstd stops at the end of each frame, so the next
			 * frame's header passes through zstd_frame_start.
			 */
			r = ZSTD_decompressStream(d->zd, &out, &in);
			d->pos += in.pos;
			if (ZSTD_isError(r))
				return sk_err_set(err, SK_EDAMAGED, "zstd: %s",
						  ZSTD_getErrorName(r));
			if (r == 0) {
				d->in_frame = 0;
			} else if (out.pos < out.size) {
				/* everything buffered is out: it needs input */
				if (dec_fill(d, 1, err) < 0)
					return -1;
				if (avail(d) == 0)
					return zstd_truncated(err);
			}
		}
		if (out.pos > 0) {
			*buf = d->out;
			*len = out.pos;
			return 1;
		}
	}
}

static int plain_next(struct dec *d, const void **buf, size_t *len, struct sk_err *err)
{
	if (dec_fill(d, 1, err) < 0)
		return -1;
	if (avail(d) == 0)
		return 0;
	*buf = d->in + d->pos;
	*len = avail(d);
	d->pos = d->len;
	return 1;
}

static const struct {
	const char *name;
	size_t len;
	const char *magic;
} refused[] = {
	{ "bzip2", 3, "BZh" },
	{ "xz", 6,
	  "\xfd"
	  "7zXZ\0" },
	{ "lzip", 4, "LZIP" },
	{ "compress", 2, "\x1f\x9d" },
	{ "lz4", 4, "\x04\x22\x4d\x18" },
	{ "lz4", 4, "\x02\x21\x4c\x18" }, /* lz4 legacy frame */
};

static int detect(struct dec *d, struct sk_err *err)
{
	const unsigned char *p = d->in + d->pos;
	size_t n = avail(d), i;

	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
		d->codec = CODEC_GZIP;
		return 0;
	}
	/* pzstd and seekable zstd open with a skippable frame */
	if (n >= 4 &&
	    (get_le32(p) == ZSTD_MAGIC || (get_le32(p) & ZSTD_SKIP_MASK) == ZSTD_SKIP_MAGIC)) {
		d->codec = CODEC_ZSTD;
		return 0;
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (n < refused[i].len || memcmp(p, refused[i].magic, refused[i].len) != 0)
			continue;
		/* "BZh" is only bzip2 with a block size digit after it */
		if (i == 0 && (n < 4 || p[3] < '1' || p[3] > '9'))
			continue;
		return sk_err_set(err, SK_EDAMAGED, "unsupported compression '%s'",
				  refused[i].name);
	}
	d->codec = CODEC_NONE;
	return 0;
}

int dec_open(struct dec **out, int fd, struct sk_err *err)
{
	struct dec *d;
	unsigned n;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "decoder");
	d->fd = fd;
	d->in = malloc(DEC_IN_SIZE);
	if (!d->in)
		goto nomem;
	if (dec_fill(d, 6, err) < 0)
		goto fail;
	if (avail(d) == 0) {
		sk_err_set(err, SK_EDAMAGED, "empty input");
		goto fail;
	}
	if (detect(d, err) < 0)
		goto fail;
	if (d->codec != CODEC_NONE) {
		d->out = malloc(CHUNK);
		if (!d->out)
			goto nomem;
	}
	if (d->codec == CODEC_GZIP) {
		if (inflateInit2(&d->zs, 15 + 16) != Z_OK)
			goto nomem;
		d->zs_ready = 1;
		/* threads start only once members with our length field show up */
		n = online_cpus() < DEC_MAX_THREADS ? online_cpus() : DEC_MAX_THREADS;
		if (n > 1)
			d->pool = pool_new(n, 1, 0, GZ_MEMBER_MAX, CHUNK);
	} else if (d->codec == CODEC_ZSTD) {
		d->zd = ZSTD_createDCtx();
		if (!d->zd)
			goto nomem;
	}
	*out = d;
	return 0;
nomem:
	sk_err_sys(err, SK_EFAIL, ENOMEM, "decoder");
fail:
	dec_free(d);
	return -1;
}

int dec_next(struct dec *d, const void **buf, size_t *len, struct sk_err *err)
{
	int ret;

	*buf = NULL;
	*len = 0;
	if (d->state < 0) {
		*err = d->ferr;
		return -1;
	}
	if (d->state > 0)
		return 0;
	if (d->codec == CODEC_GZIP)
		ret = gz_next(d, buf, len, err);
	else if (d->codec == CODEC_ZSTD)
		ret = zstd_next(d, buf, len, err);
	else
		ret = plain_next(d, buf, len, err);
	if (ret < 0) {
		d->state = -1;
		d->ferr = *err;
		*buf = NULL;
		*len = 0;
	} else if (ret == 0) {
		d->state = 1;
	}
	return ret;
}

enum codec dec_codec(const struct dec *d)
{
	return d->codec;
}

uint64_t dec_bytes_in(const struct dec *d)
{
	return d->in_bytes;
}

void dec_cancel(struct dec *d)
{
	__atomic_store_n(&d->cancel, 1, __ATOMIC_RELEASE);
}

void dec_free(struct dec *d)
{
	if (!d)
		return;
	pool_free(d->pool);
	if (d->zs_ready)
		inflateEnd(&d->zs);
	ZSTD_freeDCtx(d->zd);
	free(d->out);
	free(d->in);
	free(d);
}

size_t zstd_blob_bound(size_t len)
{
	return ZSTD_compressBound(len);
}

int zstd_blob_pack(const void *src, size_t len, void *dst, size_t cap, size_t *out_len, int level,
		   struct sk_err *err)
{
	ZSTD_CCtx *zc = ZSTD_createCCtx();
	size_t r;

	if (!zc)
		return sk_err_set(err, SK_EFAIL, "zstd: out of memory");
	r = ZSTD_CCtx_setParameter(zc, ZSTD_c_compressionLevel,
				   level ? level : ZSTD_CLEVEL_DEFAULT);
	if (!ZSTD_isError(r))
		r = ZSTD_CCtx_setParameter(zc, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(r))
		r = ZSTD_compress2(zc, dst, cap, src, len);
	ZSTD_freeCCtx(zc);
	if (ZSTD_isError(r))
		return sk_err_set(err, SK_EFAIL, "zstd: %s", ZSTD_getErrorName(r));
	*out_len = r;
	return 0;
}

int zstd_blob_unpack(const void *src, size_t len, void *dst, size_t want, struct sk_err *err)
{
	ZSTD_DCtx *zd;
	unsigned long long size;
	size_t r;

	/* One frame exactly, that says its size and carries a checksum. */
	if (len < 4 || get_le32(src) != ZSTD_MAGIC || ZSTD_findFrameCompressedSize(src, len) != len)
		return sk_err_set(err, SK_EDAMAGED, "not one zstd frame");
	size = ZSTD_getFrameContentSize(src, len);
	if (size != want)
		return sk_err_set(err, SK_EDAMAGED, "the zstd frame holds %llu bytes, expected %zu",
				  size, want);
	if (len < 6 || !(((const unsigned char *)src)[4] & 0x04))
		return sk_err_set(err, SK_EDAMAGED, "the zstd frame has no checksum");
	zd = ZSTD_createDCtx();
	if (!zd)
		return sk_err_set(err, SK_EFAIL, "zstd: out of memory");
	r = ZSTD_decompressDCtx(zd, dst, want, src, len);
	ZSTD_freeDCtx(zd);
	if (ZSTD_isError(r))
		return sk_err_set(err, SK_EDAMAGED, "zstd: %s", ZSTD_getErrorName(r));
	if (r != want)
		return sk_err_set(err, SK_EDAMAGED, "the zstd frame holds %zu bytes, expected %zu",
				  r, want);
	return 0;
}
