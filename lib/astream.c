/*
 * astream.c: the tar layer between libarchive and the codecs. The writer
 * formats entries and hands libarchive's bytes to a codec encoder; the reader
 * decodes, runs every byte through targuard, and only then lets libarchive
 * parse the stream. See astream.h for the contracts.
 */
#include "astream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "banned.h"

struct awriter {
	struct archive *a;
	struct archive_entry *ent;
	struct enc *enc;
	struct sk_err werr; /* error from the encoder, seen in the callback */
};

static la_ssize_t w_cb(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct awriter *w = ud;

	if (enc_write(w->enc, buf, len, &w->werr) < 0) {
		archive_set_error(a, w->werr.sys ? w->werr.sys : EIO, "%s", w->werr.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int w_fail(struct awriter *w, struct sk_err *err, const char *what)
{
	if (w->werr.code)
		*err = w->werr;
	else
		sk_err_set(err, SK_EFAIL, "%s: %s", what, archive_error_string(w->a));
	return -1;
}

int awriter_open(struct awriter **out, struct enc *enc, struct sk_err *err)
{
	struct awriter *w = calloc(1, sizeof(*w));

	*out = NULL;
	if (!w)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	w->enc = enc;
	w->a = archive_write_new();
	w->ent = archive_entry_new();
	if (!w->a || !w->ent) {
		awriter_free(w);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	/* The codec layer compresses; libarchive only frames. One 10 KiB
	 * record block keeps its buffering small and the output tar-standard. */
	if (archive_write_set_format_pax_restricted(w->a) != ARCHIVE_OK ||
	    archive_write_add_filter_none(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(w->a, 10240) != ARCHIVE_OK ||
	    archive_write_open2(w->a, w, NULL, w_cb, NULL, NULL) != ARCHIVE_OK) {
		w_fail(w, err, "start archive");
		awriter_free(w);
		return -1;
	}
	*out = w;
	return 0;
}

int awriter_add(struct awriter *w, const struct sk_entry *e, struct sk_err *err)
{
	struct archive_entry *ae = w->ent;
	size_t i;

	archive_entry_clear(ae);
	archive_entry_copy_pathname(ae, e->path);
	archive_entry_set_uid(ae, e->uid);
	archive_entry_set_gid(ae, e->gid);
	archive_entry_set_mtime(ae, e->mtime.tv_sec, e->mtime.tv_nsec);
	archive_entry_set_perm(ae, e->mode & 07777);
	switch (e->type) {
	case SK_REG:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)e->size);
		for (i = 0; i < e->nextents; i++)
			archive_entry_sparse_add_entry(ae, (la_int64_t)e->extents[i].off,
						       (la_int64_t)e->extents[i].len);
		break;
	case SK_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case SK_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_copy_symlink(ae, e->link);
		break;
	case SK_HARDLINK:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_copy_hardlink(ae, e->link);
		archive_entry_set_size(ae, 0);
		break;
	}
	/* ARCHIVE_WARN here means a name did not convert to UTF-8; libarchive
	 * then stores it as raw bytes (hdrcharset=BINARY), which reads back
	 * exactly. */
	if (archive_write_header(w->a, ae) < ARCHIVE_WARN)
		return w_fail(w, err, e->path);
	return 0;
}

int awriter_data(struct awriter *w, const void *buf, size_t len, struct sk_err *err)
{
	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, buf, len);

		if (n <= 0)
			return w_fail(w, err, "write archive");
		buf = (const char *)buf + n;
		len -= (size_t)n;
	}
	return 0;
}

int awriter_hole(struct awriter *w, uint64_t len, struct sk_err *err)
{
	static const char zeros[64 * 1024];

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		if (awriter_data(w, zeros, n, err) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

int awriter_finish(struct awriter *w, struct sk_err *err)
{
	if (archive_write_close(w->a) != ARCHIVE_OK)
		return w_fail(w, err, "finish archive");
	return 0;
}

void awriter_free(struct awriter *w)
{
	if (!w)
		return;
	if (w->a)
		archive_write_free(w->a);
	if (w->ent)
		archive_entry_free(w->ent);
	free(w);
}

/*
 * Reading runs in two threads: a prefetch thread decodes and guards the
 * stream into a small ring of buffers while the caller's thread parses and
 * writes files, so decompression overlaps the file system work (as it does
 * for "zstd -d | tar -x", which are two processes).
 */
#define PF_SLOTS 4
#define PF_SIZE (1 << 20)

struct areader {
	struct archive *a;
	struct dec *dec;
	struct targuard *guard;
	struct sk_err rerr; /* what ended the stream for the callback */
	int at_eof;

	pthread_t th;
	int th_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char *slot[PF_SLOTS];
	size_t slot_len[PF_SLOTS];
	unsigned head, tail; /* ring: [head, tail) filled; head is in use */
	int holding;	     /* the consumer holds slot head */
	int done, stop;	     /* producer finished / asked to finish */
	int prc;	     /* 0 clean end, -1 perr */
	struct sk_err perr;
	uint64_t bytes_in;
};

static void pf_nop(int sig)
{
	(void)sig; /* only there to make a blocked read return EINTR */
}

static void pf_finish(struct areader *r, int rc, const struct sk_err *e)
{
	pthread_mutex_lock(&r->mu);
	r->prc = rc;
	if (e)
		r->perr = *e;
	r->done = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void *pf_run(void *arg)
{
	struct areader *r = arg;
	struct sk_err e = SK_ERR_INIT;
	const void *buf;
	size_t len;
	int rc;

	for (;;) {
		rc = dec_next(r->dec, &buf, &len, &e);
		if (rc <= 0) {
			pf_finish(r, rc, rc < 0 ? &e : NULL);
			return NULL;
		}
		/* The guard sees every byte before libarchive does. */
		if (targuard_feed(r->guard, buf, len, &e) < 0) {
			pf_finish(r, -1, &e);
			return NULL;
		}
		while (len > 0) {
			size_t n = len < PF_SIZE ? len : PF_SIZE;
			unsigned t;

			pthread_mutex_lock(&r->mu);
			while (r->tail - r->head == PF_SLOTS && !r->stop)
				pthread_cond_wait(&r->cv, &r->mu);
			if (r->stop) {
				pthread_mutex_unlock(&r->mu);
				pf_finish(r, 0, NULL);
				return NULL;
			}
			t = r->tail % PF_SLOTS;
			pthread_mutex_unlock(&r->mu);
			/* Slot t is outside [head, tail): only this thread touches it. */
			memcpy(r->slot[t], buf, n);
			pthread_mutex_lock(&r->mu);
			r->slot_len[t] = n;
			r->tail++;
			r->bytes_in = dec_bytes_in(r->dec);
			pthread_cond_broadcast(&r->cv);
			pthread_mutex_unlock(&r->mu);
			buf = (const char *)buf + n;
			len -= n;
		}
	}
}

/* Next block from the ring: 1 with data, 0 at the end, -1 with *err. The
 * block stays valid until the next call. */
static int pf_next(struct areader *r, const void **buf, size_t *len, struct sk_err *err)
{
	int rc = 1;

	pthread_mutex_lock(&r->mu);
	if (r->holding) {
		r->head++;
		r->holding = 0;
		pthread_cond_broadcast(&r->cv);
	}
	while (r->tail == r->head && !r->done)
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->tail != r->head) {
		*buf = r->slot[r->head % PF_SLOTS];
		*len = r->slot_len[r->head % PF_SLOTS];
		r->holding = 1;
	} else {
		rc = r->prc;
		if (rc < 0)
			*err = r->perr;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

static la_ssize_t r_cb(struct archive *a, void *ud, const void **buf)
{
	struct areader *r = ud;
	size_t len = 0;
	int rc;

	if (r->at_eof)
		return 0;
	rc = pf_next(r, buf, &len, &r->rerr);
	if (rc < 0) {
		archive_set_error(a, EINVAL, "%s", r->rerr.msg);
		return -1;
	}
	if (rc == 0) {
		r->at_eof = 1;
		return 0;
	}
	return (la_ssize_t)len;
}

static int r_fail(struct areader *r, struct sk_err *err, const char *what)
{
	if (r->rerr.code) {
		*err = r->rerr;
		return -1;
	}
	return sk_err_set(err, SK_EDAMAGED, "%s: %s", what,
			  archive_error_string(r->a) ? archive_error_string(r->a)
						     : "damaged archive");
}

int areader_open(struct areader **out, int fd, const struct targuard_limits *lim,
		 struct sk_err *err)
{
	struct areader *r = calloc(1, sizeof(*r));
	struct sigaction sa;
	int i;

	*out = NULL;
	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (dec_open(&r->dec, fd, err) < 0 || targuard_new(&r->guard, lim, err) < 0)
		goto fail;
	for (i = 0; i < PF_SLOTS; i++) {
		r->slot[i] = malloc(PF_SIZE);
		if (!r->slot[i]) {
			sk_err_set(err, SK_EFAIL, "out of memory");
			goto fail;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = pf_nop; /* no SA_RESTART: the read must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
	if (pthread_create(&r->th, NULL, pf_run, r) != 0) {
		sk_err_set(err, SK_EFAIL, "cannot start the reader thread");
		goto fail;
	}
	r->th_started = 1;
	r->a = archive_read_new();
	if (!r->a) {
		sk_err_set(err, SK_EFAIL, "out of memory");
		goto fail;
	}
	/* tar only, no filters: decompression is the codec module's job. */
	if (archive_read_support_format_tar(r->a) != ARCHIVE_OK ||
	    archive_read_open(r->a, r, NULL, r_cb, NULL) != ARCHIVE_OK) {
		r_fail(r, err, "open archive");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	areader_free(r);
	return -1;
}

/* After libarchive's end: the rest of the stream must be zero padding, and
 * the codec's trailer must check out. */
static int drain(struct areader *r, struct sk_err *err)
{
	const void *buf;
	size_t len;
	int rc;

	while (!r->at_eof) {
		rc = pf_next(r, &buf, &len, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
	}
	r->at_eof = 1;
	/* The producer is done: the guard is ours alone now. */
	return targuard_finish(r->guard, err);
}

int areader_next(struct areader *r, struct sk_entry *e, struct sk_err *err)
{
	struct archive_entry *ae;
	const char *hl;
	int rc;

	rc = archive_read_next_header(r->a, &ae);
	if (rc == ARCHIVE_EOF)
		return drain(r, err) < 0 ? -1 : 0;
	/* Strict: a warning (a malformed pax record, an unconvertible name)
	 * or a retry (a bad checksum libarchive would skip) rejects it all. */
	if (rc != ARCHIVE_OK)
		return r_fail(r, err, "read archive");
	memset(e, 0, sizeof(*e));
	e->path = archive_entry_pathname(ae);
	if (!e->path)
		return sk_err_set(err, SK_EDAMAGED, "entry without a usable name");
	e->mode = archive_entry_perm(ae);
	/*
	 * A pax uid or gid is any decimal number. Cut to 32 bits, 2^32 would
	 * become root, and 2^32 - 1 is (uid_t)-1, which fchown takes as
	 * "leave as it is": refuse both rather than give the file another owner.
	 */
	if (archive_entry_uid(ae) < 0 || archive_entry_uid(ae) >= (la_int64_t)UINT32_MAX ||
	    archive_entry_gid(ae) < 0 || archive_entry_gid(ae) >= (la_int64_t)UINT32_MAX)
		return sk_err_set(err, SK_EDAMAGED, "'%s': owner %lld:%lld is out of range",
				  e->path, (long long)archive_entry_uid(ae),
				  (long long)archive_entry_gid(ae));
	e->uid = (uid_t)archive_entry_uid(ae);
	e->gid = (gid_t)archive_entry_gid(ae);
	e->mtime.tv_sec = archive_entry_mtime(ae);
	e->mtime.tv_nsec = archive_entry_mtime_nsec(ae);
	hl = archive_entry_hardlink(ae);
	if (hl) {
		e->type = SK_HARDLINK;
		e->link = hl;
		return 1;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG:
		e->type = SK_REG;
		if (archive_entry_size(ae) < 0)
			return sk_err_set(err, SK_EDAMAGED, "'%s': negative size", e->path);
		e->size = (uint64_t)archive_entry_size(ae);
		break;
	case AE_IFDIR:
		e->type = SK_DIR;
		break;
	case AE_IFLNK:
		e->type = SK_SYMLINK;
		e->link = archive_entry_symlink(ae);
		if (!e->link)
			return sk_err_set(err, SK_EDAMAGED, "'%s': symlink without a target",
					  e->path);
		break;
	case AE_IFCHR:
		return sk_err_set(err, SK_EDAMAGED, "'%s': character device not allowed", e->path);
	case AE_IFBLK:
		return sk_err_set(err, SK_EDAMAGED, "'%s': block device not allowed", e->path);
	case AE_IFIFO:
		return sk_err_set(err, SK_EDAMAGED, "'%s': fifo not allowed", e->path);
	case AE_IFSOCK:
		return sk_err_set(err, SK_EDAMAGED, "'%s': socket not allowed", e->path);
	default:
		return sk_err_set(err, SK_EDAMAGED, "'%s': unsupported entry type", e->path);
	}
	return 1;
}

int areader_data(struct areader *r, const void **buf, size_t *len, uint64_t *off,
		 struct sk_err *err)
{
	la_int64_t o;
	int rc = archive_read_data_block(r->a, buf, len, &o);

	if (rc == ARCHIVE_EOF)
		return 0;
	if (rc != ARCHIVE_OK)
		return r_fail(r, err, "read archive data");
	if (o < 0)
		return sk_err_set(err, SK_EDAMAGED, "negative data offset");
	*off = (uint64_t)o;
	return 1;
}

enum codec areader_codec(const struct areader *r)
{
	return dec_codec(r->dec);
}

uint64_t areader_bytes_in(struct areader *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->mu);
	n = r->bytes_in;
	pthread_mutex_unlock(&r->mu);
	return n;
}

void areader_free(struct areader *r)
{
	int i;

	if (!r)
		return;
	if (r->th_started) {
		/* Stop the producer even if it sits in a read on a pipe whose
		 * writer has gone quiet: cancel, then poke it until it is out. */
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		dec_cancel(r->dec);
		for (;;) {
			int done;

			pthread_mutex_lock(&r->mu);
			done = r->done;
			pthread_mutex_unlock(&r->mu);
			if (done)
				break;
			pthread_kill(r->th, SIGUSR2);
			usleep(1000);
		}
		pthread_join(r->th, NULL);
	}
	if (r->a)
		archive_read_free(r->a);
	targuard_free(r->guard);
	dec_free(r->dec);
	for (i = 0; i < PF_SLOTS; i++)
		free(r->slot[i]);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
