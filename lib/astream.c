#include "astream.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct awriter {
	struct archive *a;
	struct archive_entry *ent;
	struct enc *enc;
	struct sk_err werr;	/* error from the encoder, seen in the callback */
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

struct areader {
	struct archive *a;
	struct dec *dec;
	struct targuard *guard;
	struct sk_err rerr;	/* decoder or guard error, seen in the callback */
	int at_eof;
};

static la_ssize_t r_cb(struct archive *a, void *ud, const void **buf)
{
	struct areader *r = ud;
	size_t len = 0;
	int rc;

	if (r->at_eof)
		return 0;
	rc = dec_next(r->dec, buf, &len, &r->rerr);
	if (rc < 0)
		goto fail;
	if (rc == 0) {
		r->at_eof = 1;
		return 0;
	}
	/* The guard sees every byte before libarchive does. */
	if (targuard_feed(r->guard, *buf, len, &r->rerr) < 0)
		goto fail;
	return (la_ssize_t)len;
fail:
	archive_set_error(a, EINVAL, "%s", r->rerr.msg);
	return -1;
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

	*out = NULL;
	if (!r)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (dec_open(&r->dec, fd, err) < 0 || targuard_new(&r->guard, lim, err) < 0)
		goto fail;
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
		rc = dec_next(r->dec, &buf, &len, err);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		if (targuard_feed(r->guard, buf, len, err) < 0)
			return -1;
	}
	r->at_eof = 1;
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
		return sk_err_set(err, SK_EDAMAGED, "'%s': character device not allowed",
				  e->path);
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

uint64_t areader_bytes_in(const struct areader *r)
{
	return dec_bytes_in(r->dec);
}

void areader_free(struct areader *r)
{
	if (!r)
		return;
	if (r->a)
		archive_read_free(r->a);
	targuard_free(r->guard);
	dec_free(r->dec);
	free(r);
}
