/*
 * targuard: a strict, streaming check of tar framing (see targuard.h).
 *
 * Why it exists. ws-import hands libarchive 3.6.2 a plain tar stream, and
 * libarchive reads tar generously: after a header with a bad checksum it
 * returns ARCHIVE_RETRY and resynchronises on whatever block next looks like
 * a header; it treats the end of input as a clean end of archive; it reads a
 * v7 header with no magic; it stops parsing a pax header at the first
 * malformed record and keeps going without the records after it; it copies
 * pax paths with C-string functions, so "a\0b" silently becomes "a". Each of
 * these lets two readers (or a reader and a checker) disagree about where one
 * entry ends and the next begins, and an attacker who controls that
 * disagreement controls what gets extracted. ws-import must instead refuse
 * every archive whose framing is not exactly, boringly valid.
 *
 * How. Every byte of the plain tar stream passes through targuard_feed before
 * or alongside libarchive. The guard follows the framing itself: 512-byte
 * header blocks, GNU old-sparse extension blocks, 'x'/'g'/'L'/'K' bodies
 * (kept in memory, bounded by the limits, and parsed strictly), entry data
 * (skipped, except for the GNU sparse 1.0 map at its start), zero padding,
 * and the end-of-archive marker followed by nothing but zeros. It computes
 * each entry's data length exactly as libarchive does, and wherever
 * libarchive and other tar readers would disagree (a size on a directory, a
 * hardlink with a body, two pax headers for one entry, a sparse map that
 * libarchive would ignore) it rejects instead of picking a side.
 *
 * The guard never looks at what names mean ('..', absolute paths, link
 * targets escaping the workspace): the extractor does that on what libarchive
 * reports. It does bound name lengths, because it has to hold long names and
 * pax headers in memory anyway.
 */
#include "targuard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "banned.h"

#define TG_BLOCK 512

/* libarchive refuses 'x', 'g', 'L' and 'K' bodies larger than this. */
#define TG_BODY_HARD_MAX ((size_t)1 << 20)
/* libarchive gives up on a pax header at a record longer than this. */
#define TG_PAX_RECORD_MAX 999999

#define TG_DEFAULT_MAX_PATH 4096

static const char posix_magic[8] = { 'u', 's', 't', 'a', 'r', '\0', '0', '0' };
static const char gnu_magic[8] = "ustar  "; /* with its NUL: 8 bytes */

/* Byte offsets of header fields (POSIX ustar and old GNU layouts). */
enum {
	H_MODE = 100,
	H_UID = 108,
	H_GID = 116,
	H_SIZE = 124,
	H_MTIME = 136,
	H_CHKSUM = 148,
	H_TYPE = 156,
	H_MAGIC = 257,
	H_DEVMAJOR = 329,
	H_DEVMINOR = 337,
	H_PREFIX = 345,	    /* POSIX ustar only, 155 bytes */
	H_GNU_SPARSE = 386, /* 4 x (offset[12], numbytes[12]) */
	H_GNU_ISEXT = 482,
	H_GNU_REALSIZE = 483,
	H_GNU_END = 495,
	EXT_ISEXT = 504, /* in an old-sparse extension block */
};

enum tg_state {
	TG_HEADER,     /* collecting a header block */
	TG_SPARSE_EXT, /* collecting a GNU old-sparse extension block */
	TG_BODY,       /* collecting an 'x', 'g', 'L' or 'K' body */
	TG_DATA,       /* inside entry data */
	TG_PAD,	       /* zero padding up to the next block boundary */
	TG_EOF1,       /* one zero block seen: the second must follow */
	TG_TRAIL,      /* end of archive seen: only zeros may follow */
	TG_FAILED,
};

/* A sparse map as it is read: chunks must come in order, without overlap. */
struct tg_sparse {
	uint64_t end;	 /* end of the last chunk */
	uint64_t stored; /* sum of chunk lengths: bytes in the archive */
	uint64_t n;
};

/* Pax keywords that may appear once per header (bits of tg_ext.seen). */
enum {
	K_PATH = 1u << 0,
	K_LINKPATH = 1u << 1,
	K_SIZE = 1u << 2,
	K_UID = 1u << 3,
	K_GID = 1u << 4,
	K_UNAME = 1u << 5,
	K_GNAME = 1u << 6,
	K_MTIME = 1u << 7,
	K_ATIME = 1u << 8,
	K_CTIME = 1u << 9,
	K_SP_SIZE = 1u << 10,
	K_SP_REALSIZE = 1u << 11,
	K_SP_NUMBLOCKS = 1u << 12,
	K_SP_MAP = 1u << 13,
	K_SP_MAJOR = 1u << 14,
	K_SP_MINOR = 1u << 15,
	K_SP_NAME = 1u << 16,
};

/* Which GNU pax sparse dialect the keywords of an 'x' header belong to. */
enum {
	SP_00 = 1u << 0, /* GNU.sparse.offset / numbytes pairs */
	SP_01 = 1u << 1, /* GNU.sparse.map */
	SP_10 = 1u << 2, /* GNU.sparse.major / minor, map in the data */
};

/* What the extension headers before the next entry have said about it. */
struct tg_ext {
	bool x, g, L, K; /* which extension headers are pending */
	unsigned seen;	 /* K_* keywords in the 'x' header */
	bool has_size;
	uint64_t size;
	bool sparse_keys; /* any GNU.sparse* keyword */
	unsigned sparse;  /* SP_* dialects seen */
	uint64_t numblocks;
	uint64_t major, minor;
	uint64_t realsize;  /* GNU.sparse.size or GNU.sparse.realsize */
	bool want_numbytes; /* 0.0: an offset waits for its numbytes */
	/* last byte of each name source, 0 when absent or empty */
	char path_last, spname_last, lname_last;
	uint64_t pending_off;
	struct tg_sparse sp; /* the 0.0 or 0.1 map */
};

/* The GNU sparse 1.0 map at the start of an entry's data. */
struct tg_map {
	bool active;
	bool in_pad;	   /* numbers done, zero padding to the block end */
	uint64_t start;	   /* stream offset of the map */
	uint64_t consumed; /* map bytes read so far */
	uint64_t cur;	   /* number being read */
	unsigned digits;
	uint64_t count; /* numbers read so far */
	uint64_t total; /* numbers expected: 1 + 2 * entries */
	uint64_t off;	/* offset waiting for its length */
	uint64_t realsize;
	struct tg_sparse sp;
};

struct targuard {
	size_t max_path;
	size_t max_pax;
	enum tg_state st;
	uint64_t off; /* stream offset of the next byte */

	unsigned char blk[TG_BLOCK];
	size_t blen;
	uint64_t blk_off; /* stream offset of blk[0] */

	char *body; /* 'x', 'g', 'L', 'K' body */
	size_t body_cap, body_len, body_size;
	uint64_t body_off;
	char body_type;

	uint64_t data_left; /* entry data still to come */
	uint64_t pad_left;  /* padding still to come */
	uint64_t zeros;	    /* zero bytes seen in TG_EOF1 */

	struct tg_ext ext;
	unsigned gseen; /* K_* keywords in the current 'g' header */

	/* GNU old sparse ('S') entry whose extension blocks are being read */
	struct tg_sparse osp;
	uint64_t osp_realsize;
	uint64_t osp_hdr_off;

	struct tg_map map;

	struct sk_err failed; /* the verdict, once it is a rejection */
};

/* Record a rejection; later calls keep returning it. */
static int reject(struct targuard *g, struct sk_err *err, const char *fmt, ...) SK_PRINTF(3, 4);

static int reject(struct targuard *g, struct sk_err *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sk_err_set(&g->failed, SK_EDAMAGED, "%s", msg);
	g->st = TG_FAILED;
	*err = g->failed;
	return -1;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static uint64_t padding(uint64_t size)
{
	return (TG_BLOCK - size % TG_BLOCK) % TG_BLOCK;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Results of parse_num(). */
enum { NUM_OK = 0, NUM_BAD = -1, NUM_NEGATIVE = -2 };

/*
 * A numeric header field: octal digits with optional leading spaces and
 * trailing NULs or spaces, or GNU base-256. libarchive's reader skips
 * leading blanks, takes an optional '-' and stops at the first non-digit, so
 * "12xyz" is 12 to it and something else to another reader: only the
 * canonical shapes pass here. Base-256 must be the positive form (first byte
 * exactly 0x80); 0xff is a negative number, which libarchive 3.6.2 turns
 * into silent end of archive for some header types. An empty field counts as
 * zero only where allow_empty says so.
 */
static int parse_num(const unsigned char *p, size_t n, bool allow_empty, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;

	if (p[0] & 0x80) {
		if (p[0] == 0xff)
			return NUM_NEGATIVE;
		if (p[0] != 0x80)
			return NUM_BAD;
		for (i = 1; i < n; i++) {
			if (v > (UINT64_MAX >> 8))
				return NUM_BAD;
			v = (v << 8) | p[i];
		}
		if (v > INT64_MAX)
			return NUM_BAD;
		*out = v;
		return NUM_OK;
	}
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, digits++)
		v = v * 8 + (uint64_t)(p[i] - '0'); /* 12 digits fit easily */
	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	if (i != n)
		return NUM_BAD;
	if (digits == 0 && !allow_empty)
		return NUM_BAD;
	*out = v;
	return NUM_OK;
}

/*
 * POSIX sums the header bytes as unsigned chars, with the checksum field
 * counted as eight spaces; some old tars (SunOS, HP-UX) summed signed chars.
 * libarchive accepts both, so does the guard. What it never does is what
 * libarchive does on a mismatch: skip ahead looking for something that
 * checks out.
 */
static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	unsigned long usum = 0;
	long ssum = 0;
	size_t i;

	if (h[H_CHKSUM] & 0x80)
		return false;
	if (parse_num(h + H_CHKSUM, 8, false, &want) != NUM_OK)
		return false;
	for (i = 0; i < TG_BLOCK; i++) {
		unsigned char c = (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];

		usum += c;
		ssum += (signed char)c;
	}
	return want == usum || (ssum >= 0 && want == (unsigned long)ssum);
}

/* Add a chunk to a sparse map: in order, no overlap, no overflow. */
static bool sparse_add(struct tg_sparse *sp, uint64_t off, uint64_t len)
{
	if (off > INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return false;
	if (off < sp->end)
		return false;
	sp->end = off + len;
	sp->stored += len; /* stored <= end <= INT64_MAX */
	sp->n++;
	return true;
}

/* A non-negative decimal that fits in int64_t, digits only. */
static bool parse_dec(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* A pax time: [-]digits[.digits], the integer part within int64_t. */
static bool parse_time(const char *s, size_t n)
{
	const char *dot;
	uint64_t v;
	size_t ilen;

	if (n > 0 && s[0] == '-') {
		s++;
		n--;
	}
	dot = memchr(s, '.', n);
	ilen = dot ? (size_t)(dot - s) : n;
	if (!parse_dec(s, ilen, &v))
		return false;
	if (dot) {
		size_t i, flen = n - ilen - 1;

		if (flen == 0)
			return false;
		for (i = 0; i < flen; i++)
			if (!is_digit(dot[1 + i]))
				return false;
	}
	return true;
}

static bool key_is(const char *key, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(key, name, klen) == 0;
}

static bool key_has_prefix(const char *key, size_t klen, const char *prefix)
{
	size_t plen = strlen(prefix);

	return klen > plen && memcmp(key, prefix, plen) == 0;
}

/*
 * libarchive routes every keyword that starts with "GNU.sparse" (no dot)
 * to its sparse code, so that is the prefix the guard must own.
 */
static bool key_is_gnu_sparse(const char *key, size_t klen)
{
	return klen >= 10 && memcmp(key, "GNU.sparse", 10) == 0;
}

/* GNU.sparse.map (format 0.1): "offset,size,offset,size,..." */
static bool parse_sparse_map01(struct tg_sparse *sp, const char *v, size_t n)
{
	uint64_t num, off = 0;
	size_t i = 0, count = 0;

	for (;;) {
		size_t start = i;

		while (i < n && v[i] != ',')
			i++;
		if (!parse_dec(v + start, i - start, &num))
			return false;
		if (count % 2 == 0)
			off = num;
		else if (!sparse_add(sp, off, num))
			return false;
		count++;
		if (i == n)
			break;
		i++; /* the comma; a trailing one fails parse_dec next round */
	}
	return count % 2 == 0;
}

/* The keyword, quoted for a message: printable, and not too long. */
static void key_for_msg(char *out, size_t outsz, const char *key, size_t klen)
{
	size_t i, n = klen < outsz - 1 ? klen : outsz - 1;

	for (i = 0; i < n; i++)
		out[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
	out[n] = '\0';
}

/* One pax record as pax_parse found it, and what its keyword is. */
struct pax_rec {
	bool global; /* in a 'g' header */
	const char *key, *val;
	size_t klen, vlen;
	uint64_t at;  /* stream offset of the record, for messages */
	unsigned bit; /* K_* for a keyword that may appear once, else 0 */
	bool is_path; /* a name: path, linkpath, GNU.sparse.name */
	bool binary;  /* SCHILY.xattr.*: any bytes allowed */
	char kq[64];  /* the keyword, quoted for messages */
};

/* The keywords that may appear once per header. */
static const struct {
	const char *name;
	unsigned bit;
	bool is_path;
} pax_once[] = {
	{ "path", K_PATH, true },
	{ "linkpath", K_LINKPATH, true },
	{ "GNU.sparse.name", K_SP_NAME, true },
	{ "size", K_SIZE, false },
	{ "uid", K_UID, false },
	{ "gid", K_GID, false },
	{ "uname", K_UNAME, false },
	{ "gname", K_GNAME, false },
	{ "mtime", K_MTIME, false },
	{ "atime", K_ATIME, false },
	{ "ctime", K_CTIME, false },
	{ "GNU.sparse.size", K_SP_SIZE, false },
	{ "GNU.sparse.realsize", K_SP_REALSIZE, false },
	{ "GNU.sparse.numblocks", K_SP_NUMBLOCKS, false },
	{ "GNU.sparse.map", K_SP_MAP, false },
	{ "GNU.sparse.major", K_SP_MAJOR, false },
	{ "GNU.sparse.minor", K_SP_MINOR, false },
};

/* Name the record's keyword: r->bit, r->is_path, r->binary, r->kq. */
static int pax_classify(struct targuard *g, struct pax_rec *r, struct sk_err *err)
{
	size_t i;

	key_for_msg(r->kq, sizeof(r->kq), r->key, r->klen);
	for (i = 0; i < sizeof(pax_once) / sizeof(pax_once[0]); i++) {
		if (key_is(r->key, r->klen, pax_once[i].name)) {
			r->bit = pax_once[i].bit;
			r->is_path = pax_once[i].is_path;
			return 0;
		}
	}
	if (key_has_prefix(r->key, r->klen, "SCHILY.xattr."))
		r->binary = true;
	else if (key_is(r->key, r->klen, "SCHILY.xattr.") ||
		 key_is(r->key, r->klen, "LIBARCHIVE.xattr."))
		return reject(g, err, "pax xattr record without a name at offset %" PRIu64, r->at);
	return 0;
}

/*
 * The checks every record passes, whatever its keyword: no NUL unless the
 * value is binary by design, nothing in a global header that steers naming
 * or framing, and a once-only keyword only once.
 */
static int pax_common(struct targuard *g, const struct pax_rec *r, struct sk_err *err)
{
	if (!r->binary && memchr(r->val, '\0', r->vlen)) {
		if (r->is_path)
			return reject(g, err, "pax path contains NUL at offset %" PRIu64, r->at);
		return reject(g, err, "pax value of '%s' contains NUL at offset %" PRIu64, r->kq,
			      r->at);
	}

	/*
	 * libarchive ignores 'g' headers altogether, while POSIX applies them to
	 * every later entry: a global name, size or sparse map would mean one
	 * thing to libarchive and another to any other reader.
	 */
	if (r->global && (r->is_path || r->bit == K_SIZE || key_is_gnu_sparse(r->key, r->klen)))
		return reject(g, err, "pax global header sets '%s' at offset %" PRIu64, r->kq,
			      r->at);
	if (key_is_gnu_sparse(r->key, r->klen))
		g->ext.sparse_keys = true;

	if (r->bit) {
		unsigned *seen = r->global ? &g->gseen : &g->ext.seen;

		if (*seen & r->bit)
			return reject(g, err, "duplicate pax record '%s' at offset %" PRIu64, r->kq,
				      r->at);
		*seen |= r->bit;
	}
	return 0;
}

/* path, linkpath, GNU.sparse.name: bounded, and their last byte noted. */
static int pax_name(struct targuard *g, const struct pax_rec *r, struct sk_err *err)
{
	struct tg_ext *e = &g->ext;

	if (r->vlen > g->max_path)
		return reject(g, err, "pax path too long at offset %" PRIu64, r->at);
	if (r->bit == K_PATH)
		e->path_last = r->vlen ? r->val[r->vlen - 1] : 0;
	else if (r->bit == K_SP_NAME)
		e->spname_last = r->vlen ? r->val[r->vlen - 1] : 0;
	return 0;
}

/* size, uid, gid, the times, uname, gname. 1 when the keyword is not one of them. */
static int pax_basic(struct targuard *g, const struct pax_rec *r, struct sk_err *err)
{
	uint64_t num;

	switch (r->bit) {
	case K_SIZE:
		/* The one record that moves entry boundaries. */
		if (!parse_dec(r->val, r->vlen, &num))
			return reject(g, err, "bad pax size at offset %" PRIu64, r->at);
		g->ext.has_size = true;
		g->ext.size = num;
		return 0;
	case K_UID:
	case K_GID:
		if (!parse_dec(r->val, r->vlen, &num))
			return reject(g, err, "bad pax %s at offset %" PRIu64, r->kq, r->at);
		return 0;
	case K_MTIME:
	case K_ATIME:
	case K_CTIME:
		if (!parse_time(r->val, r->vlen))
			return reject(g, err, "bad pax %s at offset %" PRIu64, r->kq, r->at);
		return 0;
	case K_UNAME:
	case K_GNAME:
		return 0;
	default:
		return 1;
	}
}

/* The vendor keywords the guard knows; any other one is let through. */
static int pax_vendor(struct targuard *g, const struct pax_rec *r, struct sk_err *err)
{
	const char *key = r->key;
	size_t klen = r->klen;
	uint64_t num;

	if (key_is(key, klen, "LIBARCHIVE.creationtime")) {
		if (!parse_time(r->val, r->vlen))
			return reject(g, err, "bad pax %s at offset %" PRIu64, r->kq, r->at);
		return 0;
	}
	/*
	 * libarchive 3.6 reports star's SCHILY.realsize as the entry's size
	 * without moving the framing, while GNU tar and CPython ignore it: a
	 * 2-byte member becomes a 1 GB file to one reader and stays 2 bytes to
	 * the others. Only star writes it, for sparse files of its own kind.
	 */
	if (key_is(key, klen, "SCHILY.realsize"))
		return reject(g, err,
			      "pax record 'SCHILY.realsize' overrides the entry size at offset "
			      "%" PRIu64,
			      r->at);
	if (key_is(key, klen, "SCHILY.devmajor") || key_is(key, klen, "SCHILY.devminor") ||
	    key_is(key, klen, "SCHILY.dev") || key_is(key, klen, "SCHILY.ino") ||
	    key_is(key, klen, "SCHILY.nlink")) {
		if (!parse_dec(r->val, r->vlen, &num))
			return reject(g, err, "bad pax %s at offset %" PRIu64, r->kq, r->at);
		return 0;
	}
	if (key_is(key, klen, "SUN.holesdata"))
		return reject(g, err, "unsupported Solaris sparse file at offset %" PRIu64, r->at);
	return 0; /* anything else is metadata libarchive may use or ignore */
}

/* The GNU sparse keywords: all numeric except the map. */
static int pax_gnu_sparse(struct targuard *g, const struct pax_rec *r, struct sk_err *err)
{
	struct tg_ext *e = &g->ext;
	uint64_t num;

	if (r->bit == K_SP_MAP) {
		e->sparse |= SP_01;
		if (!parse_sparse_map01(&e->sp, r->val, r->vlen))
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, r->at);
		return 0;
	}
	if (!parse_dec(r->val, r->vlen, &num))
		return reject(g, err, "bad pax %s at offset %" PRIu64, r->kq, r->at);
	switch (r->bit) {
	case K_SP_SIZE:
	case K_SP_REALSIZE:
		e->realsize = num;
		return 0;
	case K_SP_NUMBLOCKS:
		/*
		 * libarchive resets its 0.0 pair state on this keyword, so
		 * pairs before it would be assembled wrongly.
		 */
		if (e->sp.n || e->want_numbytes)
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, r->at);
		e->numblocks = num;
		return 0;
	case K_SP_MAJOR:
		e->sparse |= SP_10;
		e->major = num;
		return 0;
	case K_SP_MINOR:
		e->sparse |= SP_10;
		e->minor = num;
		return 0;
	default:
		break;
	}
	if (key_is(r->key, r->klen, "GNU.sparse.offset")) {
		e->sparse |= SP_00;
		if (e->want_numbytes || !(e->seen & K_SP_NUMBLOCKS))
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, r->at);
		e->pending_off = num;
		e->want_numbytes = true;
		return 0;
	}
	if (key_is(r->key, r->klen, "GNU.sparse.numbytes")) {
		e->sparse |= SP_00;
		if (!e->want_numbytes || !sparse_add(&e->sp, e->pending_off, num))
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, r->at);
		e->want_numbytes = false;
		return 0;
	}
	return reject(g, err, "unknown pax keyword '%s' at offset %" PRIu64, r->kq, r->at);
}

/*
 * One pax record. Records that steer framing (size, the GNU sparse keys) or
 * naming (path, linkpath) must be well formed, appear once, and carry no
 * NUL: libarchive copies these values with strcpy, so an embedded NUL would
 * silently cut a path short. Only SCHILY.xattr.* values are binary by design.
 */
static int pax_record(struct targuard *g, bool global, const char *key, size_t klen,
		      const char *val, size_t vlen, uint64_t at, struct sk_err *err)
{
	struct pax_rec r = { .global = global,
			     .key = key,
			     .klen = klen,
			     .val = val,
			     .vlen = vlen,
			     .at = at };
	int rc;

	if (pax_classify(g, &r, err) < 0 || pax_common(g, &r, err) < 0)
		return -1;
	if (r.is_path)
		return pax_name(g, &r, err);
	rc = pax_basic(g, &r, err);
	if (rc <= 0)
		return rc;
	if (!key_is_gnu_sparse(key, klen))
		return pax_vendor(g, &r, err);
	return pax_gnu_sparse(g, &r, err);
}

/*
 * The length that opens the record at rec (avail bytes left in the body):
 * *len, the whole record's, and *keyat, where its keyword starts.
 */
static int pax_rec_len(struct targuard *g, const char *rec, size_t avail, uint64_t at, size_t *len,
		       size_t *keyat, struct sk_err *err)
{
	size_t i = 0, n = 0;

	while (i < avail && is_digit(rec[i])) {
		if (i == 0 && rec[0] == '0')
			return reject(g, err, "bad pax record length at offset %" PRIu64, at);
		n = n * 10 + (size_t)(rec[i] - '0');
		if (n > TG_PAX_RECORD_MAX)
			return reject(g, err, "pax record too long at offset %" PRIu64, at);
		i++;
	}
	/* digits, space, a key of one byte or more, '=', newline */
	if (i == 0 || i >= avail || rec[i] != ' ' || n < i + 4)
		return reject(g, err, "bad pax record length at offset %" PRIu64, at);
	if (n > avail)
		return reject(g, err, "pax record overruns its header at offset %" PRIu64, at);
	if (rec[n - 1] != '\n')
		return reject(g, err, "pax record does not end in a newline at offset %" PRIu64,
			      at);
	*len = n;
	*keyat = i + 1;
	return 0;
}

/* The keyword at key, up to the '=' before end: *klen bytes, all printable. */
static int pax_rec_key(struct targuard *g, const char *key, const char *end, uint64_t at,
		       size_t *klen, struct sk_err *err)
{
	const char *eq = memchr(key, '=', (size_t)(end - key));
	size_t k;

	if (!eq)
		return reject(g, err, "pax record without '=' at offset %" PRIu64, at);
	*klen = (size_t)(eq - key);
	if (*klen == 0)
		return reject(g, err, "empty pax keyword at offset %" PRIu64, at);
	for (k = 0; k < *klen; k++) {
		if (key[k] == '\0')
			return reject(g, err, "pax keyword contains NUL at offset %" PRIu64, at);
		if ((unsigned char)key[k] < 0x20 || key[k] == 0x7f)
			return reject(g, err,
				      "pax keyword contains a control character at offset %" PRIu64,
				      at);
	}
	return 0;
}

/*
 * A pax body is a sequence of "<len> <key>=<value>\n" records that covers
 * it exactly. The length is decimal without leading zeros and counts the
 * whole record; "0 X=" made CPython loop forever, and libarchive abandons the
 * rest of the header at the first bad record while other readers go on, so
 * any flaw rejects the archive.
 */
static int pax_parse(struct targuard *g, bool global, struct sk_err *err)
{
	size_t n = g->body_size, pos = 0;

	g->gseen = 0;
	while (pos < n) {
		const char *rec = g->body + pos, *key, *val, *end;
		size_t len = 0, keyat = 0, klen = 0;
		uint64_t at = g->body_off + pos;

		if (pax_rec_len(g, rec, n - pos, at, &len, &keyat, err) < 0)
			return -1;
		key = rec + keyat;
		end = rec + len - 1; /* the newline */
		if (pax_rec_key(g, key, end, at, &klen, err) < 0)
			return -1;
		val = key + klen + 1;
		if (pax_record(g, global, key, klen, val, (size_t)(end - val), at, err) < 0)
			return -1;
		pos += len;
	}
	return 0;
}

/*
 * A GNU 'L' or 'K' body: the name, then NUL padding. libarchive and GNU tar
 * both stop at the first NUL, so anything after it would be a hidden second
 * name; refuse it, as well as empty names.
 */
static int longname_check(struct targuard *g, struct sk_err *err)
{
	const char *nul = memchr(g->body, '\0', g->body_size);
	size_t len = nul ? (size_t)(nul - g->body) : g->body_size;
	const char *what = g->body_type == 'L' ? "long name" : "long link name";

	if (len == 0)
		return reject(g, err, "empty %s at offset %" PRIu64, what, g->body_off);
	if (len > g->max_path)
		return reject(g, err, "%s too long at offset %" PRIu64, what, g->body_off);
	if (!all_zero((const unsigned char *)g->body + len, g->body_size - len))
		return reject(g, err, "%s contains NUL at offset %" PRIu64, what, g->body_off);
	if (g->body_type == 'L')
		g->ext.lname_last = g->body[len - 1];
	return 0;
}

static int body_done(struct targuard *g, struct sk_err *err)
{
	int r;

	if (g->body_type == 'x' || g->body_type == 'g')
		r = pax_parse(g, g->body_type == 'g', err);
	else
		r = longname_check(g, err);
	if (r < 0)
		return -1;
	g->st = g->pad_left ? TG_PAD : TG_HEADER;
	return 0;
}

static const char *type_name(unsigned char t)
{
	switch (t) {
	case '3':
		return "character device";
	case '4':
		return "block device";
	case '6':
		return "fifo";
	case '7':
		return "contiguous file";
	case 'A':
		return "Solaris ACL";
	case 'D':
		return "GNU dumpdir (incremental)";
	case 'E':
		return "Solaris extended attribute";
	case 'I':
		return "inode metadata";
	case 'M':
		return "GNU multivolume continuation";
	case 'N':
		return "GNU old long name";
	case 'V':
		return "volume label";
	case 'X':
		return "Solaris extended header";
	default:
		return NULL;
	}
}

static int reject_type(struct targuard *g, unsigned char t, uint64_t at, struct sk_err *err)
{
	const char *name = type_name(t);

	if (name)
		return reject(g, err, "unsupported entry type '%c' (%s) at offset %" PRIu64, t,
			      name, at);
	if (t >= 0x20 && t < 0x7f)
		return reject(g, err, "unsupported entry type '%c' at offset %" PRIu64, t, at);
	return reject(g, err, "unsupported entry type 0x%02x at offset %" PRIu64, t, at);
}

/* An 'x', 'g', 'L' or 'K' header: check where it stands, then read its body. */
static int start_body(struct targuard *g, unsigned char t, uint64_t size, uint64_t at,
		      struct sk_err *err)
{
	struct tg_ext *e = &g->ext;
	size_t max;

	/*
	 * One of each kind per entry. libarchive lets a second 'x' silently
	 * replace the first and a second 'L' replace the first, where other
	 * readers merge or complain; and its 'g' handling differs from every
	 * other reader's anyway, so a 'g' may only stand between entries.
	 */
	switch (t) {
	case 'x':
		if (e->x)
			return reject(g, err, "two pax headers for one entry at offset %" PRIu64,
				      at);
		e->x = true;
		break;
	case 'g':
		if (e->g || e->x || e->L || e->K)
			return reject(g, err, "misplaced pax global header at offset %" PRIu64, at);
		e->g = true;
		break;
	case 'L':
		if (e->L)
			return reject(g, err, "redundant GNU long name header at offset %" PRIu64,
				      at);
		e->L = true;
		break;
	default:
		if (e->K)
			return reject(g, err, "redundant GNU long link header at offset %" PRIu64,
				      at);
		e->K = true;
		break;
	}

	if (t == 'x' || t == 'g') {
		if (size > g->max_pax)
			return reject(g, err, "pax header too large at offset %" PRIu64, at);
	} else {
		max = g->max_path < g->max_pax ? g->max_path + 1 : g->max_pax;
		if (size > max)
			return reject(g, err, "%s too long at offset %" PRIu64,
				      t == 'L' ? "long name" : "long link name", at);
		if (size == 0)
			return reject(g, err, "empty %s at offset %" PRIu64,
				      t == 'L' ? "long name" : "long link name", at);
	}

	if (size > g->body_cap) {
		char *nb = realloc(g->body, (size_t)size);

		if (!nb) {
			sk_err_sys(&g->failed, SK_EFAIL, ENOMEM, "check tar stream");
			g->st = TG_FAILED;
			*err = g->failed;
			return -1;
		}
		g->body = nb;
		g->body_cap = (size_t)size;
	}
	g->body_type = (char)t;
	g->body_size = (size_t)size;
	g->body_len = 0;
	g->body_off = at + TG_BLOCK;
	g->pad_left = padding(size);
	if (size == 0)
		return body_done(g, err);
	g->st = TG_BODY;
	return 0;
}

/*
 * Old GNU sparse entries: offset[12] numbytes[12] pairs. libarchive reads
 * them until the first entry whose offset starts with NUL; the rest of the
 * array must then be empty, or a reader that scans all slots would see a
 * different map. Returns the number of entries used, or -1.
 */
static int old_sparse_entries(struct tg_sparse *sp, const unsigned char *p, int n)
{
	uint64_t off, len;
	int i, used = 0;

	for (i = 0; i < n; i++, p += 24) {
		if (p[0] == 0) {
			if (!all_zero(p, (size_t)(n - i) * 24))
				return -1;
			break;
		}
		if (parse_num(p, 12, false, &off) != NUM_OK ||
		    parse_num(p + 12, 12, false, &len) != NUM_OK)
			return -1;
		if (!sparse_add(sp, off, len))
			return -1;
		used++;
	}
	return used;
}

/* The sparse map of an 'S' entry is complete: it must describe the data. */
static int old_sparse_done(struct targuard *g, struct sk_err *err)
{
	if (g->osp.stored != g->data_left || g->osp.end > g->osp_realsize)
		return reject(g, err, "GNU sparse map does not match the entry at offset %" PRIu64,
			      g->osp_hdr_off);
	g->st = g->data_left ? TG_DATA : (g->pad_left ? TG_PAD : TG_HEADER);
	return 0;
}

static int sparse_ext_block(struct targuard *g, struct sk_err *err)
{
	const unsigned char *b = g->blk;
	int used;

	used = old_sparse_entries(&g->osp, b, 21);
	if (used <= 0 || b[EXT_ISEXT] > 1 || (b[EXT_ISEXT] && used != 21) ||
	    !all_zero(b + EXT_ISEXT + 1, TG_BLOCK - EXT_ISEXT - 1))
		return reject(g, err, "bad GNU sparse extension block at offset %" PRIu64,
			      g->blk_off);
	if (b[EXT_ISEXT]) {
		g->st = TG_SPARSE_EXT;
		return 0;
	}
	return old_sparse_done(g, err);
}

/* Check the pax GNU sparse keywords of a regular entry with data length size. */
static int pax_sparse_check(struct targuard *g, uint64_t size, uint64_t at, struct sk_err *err)
{
	struct tg_ext *e = &g->ext;

	if (e->sparse != SP_00 && e->sparse != SP_01 && e->sparse != SP_10)
		return reject(g, err, "mixed GNU sparse formats at offset %" PRIu64, at);
	if (e->sparse == SP_10) {
		/*
		 * 1.0: the map is a list of decimal lines at the start of the
		 * data, padded to a block. libarchive consumes it as part of the
		 * entry's size; anything but major 1 minor 0 it reads as plain
		 * data after a warning.
		 */
		if (!(e->seen & K_SP_MAJOR) || !(e->seen & K_SP_MINOR) || e->major != 1 ||
		    e->minor != 0)
			return reject(g, err, "unsupported GNU sparse version at offset %" PRIu64,
				      at);
		/* Without it libarchive sizes the file by the stored bytes. */
		if (!(e->seen & K_SP_REALSIZE))
			return reject(g, err,
				      "GNU sparse file without a real size at offset %" PRIu64, at);
		if (e->seen & (K_SP_NUMBLOCKS | K_SP_SIZE))
			return reject(g, err, "mixed GNU sparse formats at offset %" PRIu64, at);
		memset(&g->map, 0, sizeof(g->map));
		g->map.active = true;
		g->map.start = at + TG_BLOCK;
		g->map.realsize = e->realsize;
		if (size == 0)
			return reject(g, err, "GNU sparse map missing at offset %" PRIu64, at);
		return 0;
	}
	/* 0.0 and 0.1: the map is in the pax header, the data is the chunks. */
	if (e->want_numbytes || (e->seen & K_SP_REALSIZE) || !(e->seen & K_SP_SIZE) ||
	    ((e->seen & K_SP_NUMBLOCKS) && e->numblocks != e->sp.n))
		return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
	if (e->sp.stored != size || e->sp.end > e->realsize)
		return reject(g, err, "GNU sparse map does not match the entry at offset %" PRIu64,
			      at);
	return 0;
}

/*
 * The last byte of the name libarchive will report for this entry: the
 * GNU.sparse.name, else the pax path, else the GNU long name (empty values
 * do not count), else the header's own prefix and name.
 */
static char final_name_last(const struct tg_ext *e, const unsigned char *h, bool gnu)
{
	size_t nlen, plen;

	if (e->spname_last)
		return e->spname_last;
	if (e->path_last)
		return e->path_last;
	if (e->lname_last)
		return e->lname_last;
	nlen = strnlen((const char *)h, 100);
	plen = gnu ? 0 : strnlen((const char *)h + H_PREFIX, 155);
	if (nlen)
		return (char)h[nlen - 1];
	return plen ? '/' : 0; /* libarchive joins "prefix" and "" as "prefix/" */
}

/* A header for an actual entry: work out how much data follows it. */
static int start_entry(struct targuard *g, const unsigned char *h, bool gnu, uint64_t hsize,
		       uint64_t at, struct sk_err *err)
{
	struct tg_ext *e = &g->ext;
	unsigned char t = h[H_TYPE];
	uint64_t size = e->has_size ? e->size : hsize;
	bool regular = (t == '0' || t == '\0');
	int used;

	/*
	 * libarchive parses the old GNU sparse area of every GNU-magic header
	 * (not only 'S') when its first byte is set, and then reads extension
	 * blocks that other readers take for the next header. GNU tar leaves
	 * the area zero outside 'S' entries; insist on that.
	 */
	if (gnu && t != 'S' && !all_zero(h + H_GNU_SPARSE, H_GNU_END - H_GNU_SPARSE))
		return reject(g, err, "GNU sparse fields on a non-sparse entry at offset %" PRIu64,
			      at);

	/*
	 * libarchive forces the size of symlinks and directories to zero, but
	 * honours a pax size for them, and guesses for hardlinks (pax allows
	 * them a body, ustar does not): whether data follows is reader-defined.
	 * Refuse any size on these types.
	 */
	if ((t == '1' || t == '2' || t == '5') && (hsize || size))
		return reject(g, err, "%s entry with data at offset %" PRIu64,
			      t == '1' ? "hardlink" : (t == '2' ? "symlink" : "directory"), at);

	/*
	 * A link name on anything but a link turns, in libarchive, a regular
	 * file into a "hardlink with data"; and a GNU long name plus a pax path
	 * resolve by header order. Both are ambiguous: reject.
	 */
	if ((e->K || (e->seen & K_LINKPATH)) && t != '1' && t != '2')
		return reject(g, err, "link name on a non-link entry at offset %" PRIu64, at);
	if (e->L && (e->seen & (K_PATH | K_SP_NAME)))
		return reject(g, err, "both GNU long name and pax path at offset %" PRIu64, at);

	/*
	 * libarchive 3.6 turns a regular entry whose name ends in '/' into a
	 * directory and forgets its data length (other versions keep it, and
	 * 3.6 itself keeps it when the header read only warned): data after
	 * such a header would be read as the next header by one and skipped by
	 * the other.
	 */
	if ((regular && size > 0) || t == 'S') {
		if (final_name_last(e, h, gnu) == '/')
			return reject(g, err,
				      "regular file entry with a directory name has data at offset "
				      "%" PRIu64,
				      at);
	}
	if (e->K && (e->seen & K_LINKPATH))
		return reject(g, err, "both GNU long link name and pax linkpath at offset %" PRIu64,
			      at);

	/* libarchive allows pax sparse files on type '0' only, not on '\0'. */
	if (e->sparse_keys && t != '0')
		return reject(g, err,
			      "GNU sparse records on a non-regular entry at offset %" PRIu64, at);
	if (e->sparse_keys && !e->sparse)
		return reject(g, err, "GNU sparse records without a map at offset %" PRIu64, at);
	memset(&g->map, 0, sizeof(g->map));
	if (e->sparse && pax_sparse_check(g, size, at, err) < 0)
		return -1;

	g->data_left = size;
	g->pad_left = padding(size);

	if (t == 'S') {
		/* Old GNU sparse: only in GNU headers, never mixed with pax. */
		if (!gnu)
			return reject(g, err,
				      "GNU sparse entry without GNU magic at offset %" PRIu64, at);
		if (e->x)
			return reject(g, err,
				      "pax header before a GNU sparse entry at offset %" PRIu64,
				      at);
		memset(&g->osp, 0, sizeof(g->osp));
		g->osp_hdr_off = at;
		used = old_sparse_entries(&g->osp, h + H_GNU_SPARSE, 4);
		if (used <= 0 || h[H_GNU_ISEXT] > 1 || (h[H_GNU_ISEXT] && used != 4) ||
		    parse_num(h + H_GNU_REALSIZE, 12, false, &g->osp_realsize) != NUM_OK)
			return reject(g, err, "bad GNU sparse header at offset %" PRIu64, at);
		memset(e, 0, sizeof(*e));
		if (h[H_GNU_ISEXT]) {
			g->st = TG_SPARSE_EXT;
			return 0;
		}
		return old_sparse_done(g, err);
	}

	memset(e, 0, sizeof(*e));
	g->st = size ? TG_DATA : TG_HEADER;
	return 0;
}

static int header_block(struct targuard *g, struct sk_err *err)
{
	const unsigned char *h = g->blk;
	uint64_t at = g->blk_off, size, v;
	unsigned char t = h[H_TYPE];
	bool gnu, posix;
	int r;

	if (all_zero(h, TG_BLOCK)) {
		/* libarchive would report a clean end of archive here. */
		if (g->ext.x || g->ext.L || g->ext.K)
			return reject(g, err,
				      "end-of-archive marker after an extension header at offset "
				      "%" PRIu64,
				      at);
		g->st = TG_EOF1;
		g->zeros = 0;
		return 0;
	}
	if (!checksum_ok(h))
		return reject(g, err, "bad header checksum at offset %" PRIu64, at);

	/*
	 * Only POSIX ustar ("ustar\0" "00") and GNU ("ustar  \0"). v7 headers
	 * have no magic, no type for most entries and no reliable way to tell
	 * a header from data: nothing statekit writes looks like that.
	 */
	posix = memcmp(h + H_MAGIC, posix_magic, 8) == 0;
	gnu = memcmp(h + H_MAGIC, gnu_magic, 8) == 0;
	if (!posix && !gnu)
		return reject(g, err, "unknown tar format (no ustar magic) at offset %" PRIu64, at);

	switch (t) {
	case '0':
	case '\0':
	case '1':
	case '2':
	case '5':
	case 'S':
	case 'x':
	case 'g':
	case 'L':
	case 'K':
		break;
	default:
		return reject_type(g, t, at, err);
	}

	r = parse_num(h + H_SIZE, 12, false, &size);
	if (r == NUM_NEGATIVE)
		return reject(g, err, "negative size field at offset %" PRIu64, at);
	if (r != NUM_OK)
		return reject(g, err, "bad size field at offset %" PRIu64, at);
	if (parse_num(h + H_MODE, 8, true, &v) != NUM_OK)
		return reject(g, err, "bad mode field at offset %" PRIu64, at);
	if (parse_num(h + H_UID, 8, true, &v) != NUM_OK)
		return reject(g, err, "bad uid field at offset %" PRIu64, at);
	if (parse_num(h + H_GID, 8, true, &v) != NUM_OK)
		return reject(g, err, "bad gid field at offset %" PRIu64, at);
	/* A time before 1970 is a fact, not an attack: libarchive itself
	 * writes it as base-256 0xff..., and only the size must not be negative. */
	r = parse_num(h + H_MTIME, 12, true, &v);
	if (r != NUM_OK && r != NUM_NEGATIVE)
		return reject(g, err, "bad mtime field at offset %" PRIu64, at);
	/* libarchive vets these when it sniffs the format: so do we, everywhere. */
	if (parse_num(h + H_DEVMAJOR, 8, true, &v) != NUM_OK ||
	    parse_num(h + H_DEVMINOR, 8, true, &v) != NUM_OK)
		return reject(g, err, "bad device number field at offset %" PRIu64, at);

	if (t == 'x' || t == 'g' || t == 'L' || t == 'K')
		return start_body(g, t, size, at, err);
	return start_entry(g, h, gnu, size, at, err);
}

/* One byte of a GNU sparse 1.0 map. */
static int map_byte(struct targuard *g, unsigned char c, struct sk_err *err)
{
	struct tg_map *m = &g->map;
	uint64_t at = m->start + m->consumed;

	m->consumed++;
	if (m->in_pad) {
		if (c != 0)
			return reject(g, err, "bad GNU sparse map padding at offset %" PRIu64, at);
	} else if (is_digit(c)) {
		if (m->digits > 0 && m->cur == 0)
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
		if (m->cur > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
		m->cur = m->cur * 10 + (uint64_t)(c - '0');
		m->digits++;
	} else if (c == '\n' && m->digits > 0) {
		if (m->count == 0) {
			/*
			 * Each entry takes at least four bytes ("0\n0\n");
			 * libarchive keeps the count in an int.
			 */
			if (m->cur > g->data_left / 4 || m->cur > INT32_MAX)
				return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
			m->total = 1 + 2 * m->cur;
		} else if (m->count % 2 == 1) {
			m->off = m->cur;
		} else if (!sparse_add(&m->sp, m->off, m->cur)) {
			return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
		}
		m->count++;
		m->cur = 0;
		m->digits = 0;
		if (m->count == m->total)
			m->in_pad = true;
	} else {
		return reject(g, err, "bad GNU sparse map at offset %" PRIu64, at);
	}

	if (m->in_pad && m->consumed % TG_BLOCK == 0) {
		/* The rest of the entry's data must be exactly the chunks. */
		m->active = false;
		if (m->sp.stored != g->data_left || m->sp.end > m->realsize)
			return reject(g, err,
				      "GNU sparse map does not match the entry at offset %" PRIu64,
				      m->start);
	}
	return 0;
}

int targuard_new(struct targuard **out, const struct targuard_limits *lim, struct sk_err *err)
{
	struct targuard *g;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "check tar stream");
	g->max_path = lim ? lim->max_path : TG_DEFAULT_MAX_PATH;
	g->max_pax = lim ? lim->max_pax : TG_BODY_HARD_MAX;
	/* Larger bodies would be refused by libarchive anyway. */
	if (g->max_pax > TG_BODY_HARD_MAX)
		g->max_pax = TG_BODY_HARD_MAX;
	g->st = TG_HEADER;
	*out = g;
	return 0;
}

/* Header and old-sparse extension blocks: collect 512 bytes, then judge them. */
static int feed_block(struct targuard *g, const unsigned char *p, size_t len, size_t *used,
		      struct sk_err *err)
{
	size_t n;

	if (g->blen == 0)
		g->blk_off = g->off;
	n = TG_BLOCK - g->blen;
	if (n > len)
		n = len;
	memcpy(g->blk + g->blen, p, n);
	g->blen += n;
	*used = n;
	g->off += n;
	if (g->blen < TG_BLOCK)
		return 0;
	g->blen = 0;
	return g->st == TG_HEADER ? header_block(g, err) : sparse_ext_block(g, err);
}

/* An 'x', 'g', 'L' or 'K' body: kept whole, then parsed. */
static int feed_body(struct targuard *g, const unsigned char *p, size_t len, size_t *used,
		     struct sk_err *err)
{
	size_t n = g->body_size - g->body_len;

	if (n > len)
		n = len;
	memcpy(g->body + g->body_len, p, n);
	g->body_len += n;
	*used = n;
	g->off += n;
	if (g->body_len == g->body_size)
		return body_done(g, err);
	return 0;
}

/* Entry data: skipped, except a GNU sparse 1.0 map at its start. */
static int feed_data(struct targuard *g, const unsigned char *p, size_t len, size_t *used,
		     struct sk_err *err)
{
	if (g->map.active) {
		/* The map is small; read it a byte at a time. */
		g->data_left--;
		g->off++;
		if (map_byte(g, *p, err) < 0)
			return -1;
		*used = 1;
	} else {
		size_t n = len < g->data_left ? len : (size_t)g->data_left;

		*used = n;
		g->off += n;
		g->data_left -= n;
	}
	if (g->data_left == 0) {
		if (g->map.active)
			return reject(g, err,
				      "GNU sparse map runs past the entry data at "
				      "offset %" PRIu64,
				      g->map.start);
		g->st = g->pad_left ? TG_PAD : TG_HEADER;
	}
	return 0;
}

static int feed_pad(struct targuard *g, const unsigned char *p, size_t len, size_t *used,
		    struct sk_err *err)
{
	size_t n = len < g->pad_left ? len : (size_t)g->pad_left;

	/*
	 * Writers pad with zeros. Non-zero padding is the
	 * usual sign that the writer's idea of the entry's size
	 * differs from ours.
	 */
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return reject(g, err, "non-zero padding at offset %" PRIu64, g->off + i);
	*used = n;
	g->off += n;
	g->pad_left -= n;
	if (g->pad_left == 0)
		g->st = TG_HEADER;
	return 0;
}

/* The end-of-archive marker and what follows it. */
static int feed_trail(struct targuard *g, const unsigned char *p, size_t len, size_t *used,
		      struct sk_err *err)
{
	size_t n;

	/*
	 * libarchive stops at the first zero block and never
	 * looks further: whatever non-zero bytes follow would be
	 * invisible to the extractor but not to other tools.
	 */
	for (n = 0; n < len; n++) {
		if (p[n])
			return reject(g, err, "data after end of archive at offset %" PRIu64,
				      g->off + n);
		if (g->st == TG_EOF1 && ++g->zeros == TG_BLOCK)
			g->st = TG_TRAIL;
	}
	g->off += len;
	*used = len;
	return 0;
}

int targuard_feed(struct targuard *g, const void *buf, size_t len, struct sk_err *err)
{
	const unsigned char *p = buf;

	while (len > 0) {
		size_t used = 0;
		int rc = 0;

		switch (g->st) {
		case TG_FAILED:
			*err = g->failed;
			return -1;
		case TG_HEADER:
		case TG_SPARSE_EXT:
			rc = feed_block(g, p, len, &used, err);
			break;
		case TG_BODY:
			rc = feed_body(g, p, len, &used, err);
			break;
		case TG_DATA:
			rc = feed_data(g, p, len, &used, err);
			break;
		case TG_PAD:
			rc = feed_pad(g, p, len, &used, err);
			break;
		case TG_EOF1:
		case TG_TRAIL:
			rc = feed_trail(g, p, len, &used, err);
			break;
		}
		if (rc < 0)
			return -1;
		p += used;
		len -= used;
	}
	if (g->st == TG_FAILED) {
		*err = g->failed;
		return -1;
	}
	return 0;
}

int targuard_finish(struct targuard *g, struct sk_err *err)
{
	switch (g->st) {
	case TG_FAILED:
		*err = g->failed;
		return -1;
	case TG_TRAIL:
		return 0;
	case TG_EOF1:
		return reject(g, err, "missing end-of-archive marker at offset %" PRIu64, g->off);
	case TG_HEADER:
		if (g->blen == 0 && !g->ext.x && !g->ext.L && !g->ext.K)
			return reject(g, err, "missing end-of-archive marker at offset %" PRIu64,
				      g->off);
		/* fall through */
	default:
		return reject(g, err, "truncated archive at offset %" PRIu64, g->off);
	}
}

void targuard_free(struct targuard *g)
{
	if (!g)
		return;
	free(g->body);
	free(g);
}
