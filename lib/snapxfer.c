/*
 * snapxfer: fcsnap-export and fcsnap-import, a snapshot as one stream.
 *
 * The plain stream (compressed as a whole by the codec module) is
 *
 *   "SKSNAP1\n"
 *   'M' u32 len, manifest.json text
 *   per artifact, in manifest order:
 *     'F' u16 len, name
 *     'D' u64 offset, u32 len, bytes     (any number, offsets increasing)
 *     'E' u64 size, 64 hex digits of the manifest's sha256 for it
 *   'T' 64 hex digits of the sha256 of the manifest text
 *
 * all integers little-endian. A 'D' record carries one run of non-zero 4 KiB
 * pages; holes and zero pages are not sent at all (memory files are mostly
 * zero pages) and come back as holes. The importer trusts nothing: names
 * must be the manifest's, in its order; offsets must increase and stay
 * inside the manifest's size; every file's digest is computed while it is
 * written and compared with the manifest's, chunk by chunk (manifest
 * format 2 only: a run of zeros that fills a chunk costs nothing, so a
 * stream that claims terabytes of zeros cannot keep the importer busy).
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fsutil.h"
#include "hash.h"
#include "lock.h"
#include "log.h"
#include "sig.h"
#include "snap.h"
#include "snapint.h"
#include "banned.h"

#define SNAPXFER_MAGIC "SKSNAP1\n"
#define SNAPXFER_PAGE 4096
#define SNAPXFER_CHUNK (1u << 20) /* read size, and the longest 'D' run */
#define SNAPXFER_MAX_MANIFEST SNAPINT_MAX_MANIFEST

static const uint8_t zero_page[SNAPXFER_PAGE];

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- export ---- */

/* Send the non-zero pages of buf (file offset off) as 'D' records. */
static int send_runs(struct enc *e, const uint8_t *buf, size_t len, uint64_t off,
		     struct sk_err *err)
{
	size_t i = 0;

	while (i < len) {
		size_t start, n;
		uint8_t hdr[13];

		while (i < len && !memcmp(buf + i, zero_page,
					  len - i < SNAPXFER_PAGE ? len - i : SNAPXFER_PAGE))
			i += SNAPXFER_PAGE;
		if (i >= len)
			break;
		start = i;
		while (i < len && memcmp(buf + i, zero_page,
					 len - i < SNAPXFER_PAGE ? len - i : SNAPXFER_PAGE))
			i += SNAPXFER_PAGE;
		n = (i < len ? i : len) - start;
		hdr[0] = 'D';
		put64(hdr + 1, off + start);
		put32(hdr + 9, (uint32_t)n);
		if (enc_write(e, hdr, sizeof(hdr), err) < 0 ||
		    enc_write(e, buf + start, n, err) < 0)
			return -1;
	}
	return 0;
}

/*
 * The digest of what was sent or received, in the manifest's chunks (format 2:
 * the manifest was checked to hold its chunk list's digest as the artifact's
 * sha256, so comparing that one digest compares every chunk).
 */
static int digest_finish(struct hasher *hs, char hex[HASH_HEX_LEN + 1], struct sk_err *err)
{
	struct chunk_list cl = { 0 };
	int rc = hasher_finish_chunks(hs, &cl, hex, err);

	chunk_list_free(&cl);
	return rc;
}

static int export_file(struct enc *e, const char *dir, const char *sid,
		       const struct artifact_row *a, uint32_t chunk_size, struct progress *prog,
		       struct sk_err *err)
{
	char path[PATH_MAX], hex[HASH_HEX_LEN + 1];
	uint8_t hdr[3 + 80], end[1 + 8 + HASH_HEX_LEN];
	struct hasher *hs = NULL, *done;
	struct stat st;
	off_t pos = 0, data, hole;
	size_t nlen = strlen(a->name);
	int fd, ret = -1;

	if (fs_pathf(path, sizeof(path), err, "%s/%s", dir, a->name) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return sk_err_sys(err, SK_EDAMAGED, errno, "snapshot '%s': artifact '%s'", sid,
				  a->name);
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != a->size) {
		sk_err_set(err, SK_EDAMAGED,
			   "snapshot '%s': artifact '%s' is %lld bytes, expected "
			   "%llu",
			   sid, a->name, (long long)st.st_size, (unsigned long long)a->size);
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* The sha256 is computed on another core while this one reads and sends. */
	if (hasher_start_chunked(&hs, chunk_size, err) < 0)
		goto out;
	hdr[0] = 'F';
	put16(hdr + 1, (uint16_t)nlen);
	memcpy(hdr + 3, a->name, nlen);
	if (enc_write(e, hdr, 3 + nlen, err) < 0)
		goto out;
	while (pos < st.st_size) {
		fs_next_data(fd, pos, st.st_size, &data, &hole);
		/* A hole is not sent: the importer makes it again. */
		hasher_zeros(hs, (uint64_t)(data - pos));
		progress_add(prog, (uint64_t)(data - pos));
		pos = data;
		while (pos < hole) {
			size_t want =
			    hole - pos > SNAPXFER_CHUNK ? SNAPXFER_CHUNK : (size_t)(hole - pos);
			uint8_t *buf = hasher_slot(hs);
			ssize_t n = pread(fd, buf, want, pos);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				sk_err_sys(err, SK_EFAIL, n < 0 ? errno : EIO, "read '%s'", path);
				goto out;
			}
			hasher_commit(hs, (size_t)n);
			if (send_runs(e, buf, (size_t)n, (uint64_t)pos, err) < 0)
				goto out;
			pos += n;
			progress_add(prog, (uint64_t)n);
			if (sig_interrupted()) {
				sk_err_set(err, SK_EFAIL, "interrupted");
				goto out;
			}
		}
	}
	done = hs;
	hs = NULL; /* finished or not, it is freed */
	if (digest_finish(done, hex, err) < 0)
		goto out;
	/* Damage found here ends the stream before this file's end record. */
	if (strcmp(hex, a->sha256)) {
		sk_err_set(err, SK_EDAMAGED,
			   "snapshot '%s': artifact '%s' is damaged on disk "
			   "(sha256 %.16s..., expected %.16s...)",
			   sid, a->name, hex, a->sha256);
		goto out;
	}
	end[0] = 'E';
	put64(end + 1, a->size);
	memcpy(end + 9, hex, HASH_HEX_LEN);
	ret = enc_write(e, end, sizeof(end), err);
out:
	hasher_abort(hs);
	close(fd);
	return ret;
}

int snapxfer_export(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct sk_err *err)
{
	struct sctx *c = NULL;
	struct lock *lk = NULL;
	struct snapshot_row row;
	struct artifact_row *arts = NULL;
	struct manifest man = { 0 };
	struct enc *e = NULL;
	struct progress prog = { 0 };
	char dir[PATH_MAX], hex[HASH_HEX_LEN + 1], sz[32], out[32];
	char *text = NULL;
	uint8_t hdr[5], tail[1 + HASH_HEX_LEN];
	uint64_t total = 0;
	enum codec codec;
	int i, level, ret = -1;

	if (config_check_id("snapshot", o->snapshot, err) < 0)
		return -1;
	if (isatty(STDOUT_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to write a snapshot stream to a terminal "
				  "(redirect it or pipe it into fcsnap-import)");
	if (snapint_open(&c, o->config_path, repairs, err) < 0 ||
	    lock_acquire(&lk, c->locks, "snapshot", o->snapshot, o->wait_s, err) < 0 ||
	    idx_snap_get(c->ix, o->snapshot, &row, &arts, err) < 0 ||
	    fs_pathf(dir, sizeof(dir), err, "%s/%s", c->snaps, o->snapshot) < 0 ||
	    snapint_read_manifest(dir, &man, err) < 0)
		goto out;
	if (snapint_manifest_matches(&man, &row, arts, err) < 0 ||
	    (!man.chunks && snapint_to_format2(c, dir, o->snapshot, o->progress, &man, err) < 0))
		goto out;
	for (i = 0; i < man.nart; i++)
		total += arts[i].size;
	/* The manifest as read and checked, written out again. */
	text = fcjson_manifest_dump(&man, err);
	if (!text)
		goto out;
	/*
	 * zstd unless -z says otherwise; [archive] level is for [archive]
	 * compression, so it applies only when that is the codec in use.
	 */
	codec = o->co.codec_set ? o->co.codec : CODEC_ZSTD;
	level = o->co.level_set ? o->co.level : codec == c->cfg.codec ? c->cfg.level : 0;
	if (enc_open(&e, STDOUT_FILENO, codec, level,
		     o->co.threads_set ? o->co.threads : c->cfg.threads, err) < 0)
		goto out;
	hdr[0] = 'M';
	put32(hdr + 1, (uint32_t)strlen(text));
	if (enc_write(e, SNAPXFER_MAGIC, 8, err) < 0 || enc_write(e, hdr, sizeof(hdr), err) < 0 ||
	    enc_write(e, text, strlen(text), err) < 0)
		goto out;
	progress_start(&prog, o->progress, total);
	for (i = 0; i < man.nart; i++)
		if (export_file(e, dir, o->snapshot, &man.arts[i], man.chunk_size, &prog, err) < 0)
			goto out;
	hash_buf_hex(text, strlen(text), hex);
	tail[0] = 'T';
	memcpy(tail + 1, hex, HASH_HEX_LEN);
	if (enc_write(e, tail, sizeof(tail), err) < 0 || enc_finish(e, err) < 0)
		goto out;
	progress_end(&prog, 1);
	log_info("exported snapshot '%s': %d artifacts, %s, as a %s stream of %s", o->snapshot,
		 man.nart, log_bytes(total, sz, sizeof(sz)), codec_name(codec),
		 log_bytes(enc_bytes_out(e), out, sizeof(out)));
	ret = 0;
out:
	progress_end(&prog, 0);
	enc_free(e);
	free(text);
	fcjson_manifest_free(&man);
	free(arts);
	lock_release(lk);
	snapint_close(c);
	return ret;
}

/* ---- import ---- */

/* Exact reads from the decoded stream. */
struct rd {
	struct dec *d;
	const uint8_t *p;
	size_t left;
	uint64_t offset; /* plain bytes consumed */
};

static int rd_get(struct rd *r, void *dst, size_t n, struct sk_err *err)
{
	uint8_t *out = dst;

	while (n > 0) {
		size_t k;

		if (r->left == 0) {
			const void *b;
			int rc = dec_next(r->d, &b, &r->left, err);

			if (rc < 0)
				return -1;
			if (rc == 0)
				return sk_err_set(err, SK_EDAMAGED,
						  "the stream ends early, at byte %llu "
						  "(truncated?)",
						  (unsigned long long)r->offset);
			r->p = b;
		}
		k = n < r->left ? n : r->left;
		memcpy(out, r->p, k);
		out += k;
		r->p += k;
		r->left -= k;
		r->offset += k;
		n -= k;
	}
	return 0;
}

/* The stream must end right here. */
static int rd_end(struct rd *r, struct sk_err *err)
{
	const void *b;
	size_t n;
	int rc;

	if (r->left)
		return sk_err_set(err, SK_EDAMAGED, "data after the end of the snapshot stream");
	while ((rc = dec_next(r->d, &b, &n, err)) == 1)
		if (n)
			return sk_err_set(err, SK_EDAMAGED,
					  "data after the end of the snapshot stream");
	return rc;
}

static int SK_PRINTF(2, 3) bad(struct sk_err *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->code = SK_EDAMAGED;
	err->sys = 0;
	return -1;
}

/* Receive one artifact into <stage>/<name>, checking it against a. */
static int import_file(struct rd *r, int dirfd, const struct artifact_row *a, uint32_t chunk_size,
		       struct progress *prog, struct sk_err *err)
{
	uint8_t t, rec[12], end[8 + HASH_HEX_LEN], name[80];
	uint16_t nlen;
	uint64_t pos = 0;
	char hex[HASH_HEX_LEN + 1];
	struct hasher *hs = NULL, *done;
	int fd = -1, ret = -1;

	if (rd_get(r, &t, 1, err) < 0 || rd_get(r, rec, 2, err) < 0)
		return -1;
	nlen = (uint16_t)(rec[0] | rec[1] << 8);
	if (t != 'F' || nlen != strlen(a->name))
		return bad(err,
			   "the stream does not carry artifact '%s' where the manifest puts it",
			   a->name);
	if (rd_get(r, name, nlen, err) < 0) /* a read error keeps its own class */
		return -1;
	if (memcmp(name, a->name, nlen))
		return bad(err,
			   "the stream does not carry artifact '%s' where the manifest puts it",
			   a->name);
	fd = openat(dirfd, a->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", a->name);
	if (hasher_start_chunked(&hs, chunk_size, err) < 0)
		goto out;
	for (;;) {
		uint64_t off;
		uint32_t len;
		uint8_t *buf;

		if (rd_get(r, &t, 1, err) < 0)
			goto out;
		if (t == 'E')
			break;
		if (t != 'D') {
			bad(err, "a record of unknown type inside artifact '%s'", a->name);
			goto out;
		}
		if (rd_get(r, rec, 12, err) < 0)
			goto out;
		off = get64(rec);
		len = get32(rec + 8);
		/* Runs only go forward and never past the manifest's size. */
		if (len == 0 || len > SNAPXFER_CHUNK || off < pos || off > a->size ||
		    len > a->size - off) {
			bad(err,
			    "data for artifact '%s' lies outside the size the manifest gives it",
			    a->name);
			goto out;
		}
		hasher_zeros(hs, off - pos);
		buf = hasher_slot(hs);
		if (rd_get(r, buf, len, err) < 0)
			goto out;
		hasher_commit(hs, len);
		if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
			sk_err_sys(err, SK_EFAIL, errno ? errno : EIO, "write '%s'", a->name);
			goto out;
		}
		progress_add(prog, off + len - pos);
		pos = off + len;
		if (sig_interrupted()) {
			sk_err_set(err, SK_EFAIL, "interrupted");
			goto out;
		}
	}
	if (rd_get(r, end, sizeof(end), err) < 0)
		goto out;
	if (get64(end) != a->size || memcmp(end + 8, a->sha256, HASH_HEX_LEN)) {
		bad(err, "the end record of artifact '%s' does not match the manifest", a->name);
		goto out;
	}
	hasher_zeros(hs, a->size - pos);
	progress_add(prog, a->size - pos);
	done = hs;
	hs = NULL; /* finished or not, it is freed */
	if (digest_finish(done, hex, err) < 0)
		goto out;
	if (strcmp(hex, a->sha256)) {
		bad(err, "artifact '%s' arrived damaged: its sha256 does not match the manifest",
		    a->name);
		goto out;
	}
	/* The tail of the file may be a hole: set the length, then make it durable. */
	if (ftruncate(fd, (off_t)a->size) < 0 || fsync(fd) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "write '%s'", a->name);
		goto out;
	}
	ret = 0;
out:
	hasher_abort(hs);
	if (close(fd) < 0 && ret == 0)
		ret = sk_err_sys(err, SK_EFAIL, errno, "close '%s'", a->name);
	return ret;
}

/* Everything one fcsnap-import holds; on the heap (the journal row alone is ~12 KB). */
struct import_plan {
	const struct snap_opts *o;
	struct sctx *c;
	struct lock *lk;
	struct dec *d;
	struct rd r;
	char *text; /* the manifest as it came */
	struct manifest man;
	uint64_t total; /* the artifacts' sizes added up */
	struct snapint_stage st;
	struct progress prog;
};

/* The plan, the index (and repair), the decoder on stdin, which must not be a terminal. */
static int import_open(struct import_plan **pp, const struct snap_opts *o,
		       const struct snapint_repair *repairs, struct sk_err *err)
{
	struct import_plan *p;

	if (o->as && config_check_id("snapshot", o->as, err) < 0)
		return -1;
	if (isatty(STDIN_FILENO))
		return sk_err_set(err, SK_EUSAGE,
				  "refusing to read a snapshot stream from a terminal");
	p = *pp = calloc(1, sizeof(*p));
	if (!p)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	p->o = o;
	p->st.dirfd = -1;
	if (snapint_open(&p->c, o->config_path, repairs, err) < 0 ||
	    dec_open(&p->d, STDIN_FILENO, err) < 0)
		return -1;
	p->r.d = p->d;
	return 0;
}

/* The magic and the manifest record, parsed, its sizes inside [archive] max_bytes. */
static int read_manifest_record(struct import_plan *p, struct sk_err *err)
{
	uint64_t max = p->c->cfg.max_bytes;
	uint8_t magic[8], hdr[5];
	uint32_t mlen;
	int i;

	if (rd_get(&p->r, magic, 8, err) < 0 || memcmp(magic, SNAPXFER_MAGIC, 8)) {
		if (err->code && err->code != SK_EDAMAGED)
			return -1;
		return sk_err_set(err, SK_EDAMAGED,
				  "not a statekit snapshot stream (see "
				  "fcsnap-export(1))");
	}
	if (rd_get(&p->r, hdr, 5, err) < 0)
		return -1;
	mlen = get32(hdr + 1);
	if (hdr[0] != 'M' || mlen == 0 || mlen > SNAPXFER_MAX_MANIFEST)
		return sk_err_set(err, SK_EDAMAGED, "the stream does not start with a manifest");
	p->text = malloc((size_t)mlen + 1);
	if (!p->text)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	if (rd_get(&p->r, p->text, mlen, err) < 0)
		return -1;
	p->text[mlen] = '\0';
	if (strlen(p->text) != mlen)
		return sk_err_set(err, SK_EDAMAGED, "manifest: a NUL byte inside the text");
	if (fcjson_manifest_parse(p->text, &p->man, err) < 0)
		return -1;
	/*
	 * Format 1 has one digest per whole file, so a stream that claims a
	 * terabyte of zeros would keep us hashing them for many minutes before
	 * its digest could be refused. This statekit exports every snapshot in
	 * format 2, old ones included.
	 */
	if (!p->man.chunks)
		return sk_err_set(err, SK_EDAMAGED,
				  "the stream's manifest is format %d, which fcsnap-import no "
				  "longer "
				  "takes: export the snapshot again with statekit %s, which sends "
				  "format %d",
				  p->man.format, SK_VERSION, MANIFEST_FORMAT);
	for (i = 0; i < p->man.nart; i++) {
		uint64_t size = p->man.arts[i].size;

		if (size > max || p->total > max - size)
			return sk_err_set(err, SK_EDAMAGED,
					  "the manifest's artifacts add up to "
					  "more than [archive] max_bytes (%llu)",
					  (unsigned long long)max);
		p->total += size;
	}
	return 0;
}

/* Every artifact, checked as it is written, the end record, and nothing after it. */
static int receive_artifacts(struct import_plan *p, struct sk_err *err)
{
	char hex[HASH_HEX_LEN + 1];
	uint8_t tail[1 + HASH_HEX_LEN];
	int i;

	progress_start(&p->prog, p->o->progress, p->total);
	for (i = 0; i < p->man.nart; i++)
		if (import_file(&p->r, p->st.dirfd, &p->man.arts[i], p->man.chunk_size, &p->prog,
				err) < 0)
			return -1;
	if (rd_get(&p->r, tail, sizeof(tail), err) < 0)
		return -1;
	hash_buf_hex(p->text, strlen(p->text), hex);
	if (tail[0] != 'T' || memcmp(tail + 1, hex, HASH_HEX_LEN))
		return sk_err_set(err, SK_EDAMAGED,
				  "the stream's end record does not match its "
				  "manifest");
	if (rd_end(&p->r, err) < 0)
		return -1;
	progress_end(&p->prog, 1);
	return 0;
}

/* Undo a failed import; free the plan. */
static void import_close(struct import_plan *p, int ret)
{
	if (!p)
		return;
	progress_end(&p->prog, 0);
	snapint_stage_end(p->c, &p->st, ret);
	dec_free(p->d);
	free(p->text);
	fcjson_manifest_free(&p->man);
	snapint_close(p->c);
	free(p);
}

int snapxfer_import(const struct snap_opts *o, const struct snapint_repair *repairs,
		    struct sk_err *err)
{
	struct import_plan *p = NULL;
	char sz[32];
	int ret = -1;

	if (import_open(&p, o, repairs, err) < 0 || read_manifest_record(p, err) < 0 ||
	    snapint_stage_claim(p->c, &p->st, &p->man, o->as, o->wait_s, err) < 0)
		goto out;
	/* The journal row, from here on undone. */
	if (snapint_stage_begin(p->c, &p->st, &p->man, "fcsnap-import", err) < 0)
		goto out;
	if (receive_artifacts(p, err) < 0)
		goto out;
	ret = snapint_stage_commit(p->c, &p->st, &p->man, p->total, err);
	if (ret == 0)
		log_info("imported snapshot '%s' of machine '%s': %d artifacts, %s, from a %s "
			 "stream",
			 p->st.id, p->man.machine, p->man.nart, log_bytes(p->total, sz, sizeof(sz)),
			 codec_name(dec_codec(p->d)));
out:
	import_close(p, ret);
	return ret;
}

/* fcsnap-import killed: remove the staging, and a directory moved into place but not recorded. */
void snapxfer_repair_import(struct sctx *c, const struct journal_row *r, const char *sid)
{
	struct sk_err e = SK_ERR_INIT;
	struct snapshot_row row;

	snapint_rmtree(r->staging);
	/* Moved into place but never recorded: not a snapshot. */
	if (!strcmp(r->step, "committing") && idx_snap_get(c->ix, sid, &row, NULL, &e) < 0 &&
	    e.code == SK_ENOENT)
		snapint_rmtree(r->target);
	sk_err_clear(&e);
	if (idx_journal_end(c->ix, r->id, &e) < 0)
		log_warn("%s", e.msg);
}
