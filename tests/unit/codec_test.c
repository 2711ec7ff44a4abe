/* codec_test: round trips through every codec, and damaged input of every kind. */
#include "codec.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#define MIB (1u << 20)

struct buf {
	unsigned char *p;
	size_t len;
};

static void die(const char *what)
{
	fprintf(stderr, "codec_test: %s: %s\n", what, strerror(errno));
	exit(99);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("malloc");
	return p;
}

/* A temp file, already unlinked unless path is wanted. */
static int tmpfile_fd(char *path, size_t size)
{
	char tmpl[] = "/tmp/codec_test.XXXXXX";
	int fd = mkstemp(tmpl);

	if (fd < 0)
		die("mkstemp");
	if (path)
		snprintf(path, size, "%s", tmpl);
	else
		unlink(tmpl);
	return fd;
}

static struct buf read_fd(int fd)
{
	struct buf b;
	struct stat st;
	size_t off = 0;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		die("fstat");
	b.len = (size_t)st.st_size;
	b.p = xmalloc(b.len);
	while (off < b.len) {
		n = pread(fd, b.p + off, b.len - off, (off_t)off);
		if (n <= 0)
			die("pread");
		off += (size_t)n;
	}
	return b;
}

static int fd_of(const void *p, size_t len)
{
	int fd = tmpfile_fd(NULL, 0);

	if (len && write(fd, p, len) != (ssize_t)len)
		die("write");
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Mixed test data: runs of random bytes between runs of text-like words. */
static unsigned char *make_data(size_t len, uint32_t seed)
{
	static const char *words[] = { "state", "kit ",	  "bot ", "snapshot\n",
				       "gzip ", "zstd\t", "0000", "workspace/" };
	unsigned char *p = xmalloc(len);
	uint32_t x = seed ? seed : 1;
	size_t i = 0, run, k;
	const char *w;

	while (i < len) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		run = 1 + x % 8192;
		if (x & 0x100) {
			for (k = 0; k < run && i < len; k++, i++) {
				x ^= x << 13;
				x ^= x >> 17;
				x ^= x << 5;
				p[i] = (unsigned char)x;
			}
		} else {
			for (k = 0; k < run && i < len; k++) {
				w = words[(x + k) % 8];
				while (*w && i < len)
					p[i++] = (unsigned char)*w++;
			}
		}
	}
	return p;
}

/* Encode in pieces of varying size; returns 0 and the compressed bytes. */
static int encode(enum codec c, int level, int threads, const unsigned char *data, size_t len,
		  struct buf *out, struct sk_err *err)
{
	static const size_t pieces[] = { 1, 7, 512, 10240, 65536, 3 * MIB };
	struct enc *e = NULL;
	size_t off = 0, n, i = 0;
	int fd = tmpfile_fd(NULL, 0), ret = -1;

	out->p = NULL;
	out->len = 0;
	if (enc_open(&e, fd, c, level, threads, err) < 0)
		goto done;
	while (off < len) {
		n = pieces[i++ % 6];
		if (n > len - off)
			n = len - off;
		if (enc_write(e, data + off, n, err) < 0)
			goto done;
		off += n;
	}
	if (enc_finish(e, err) < 0)
		goto done;
	*out = read_fd(fd);
	ret = enc_bytes_out(e) == out->len ? 0 : sk_err_set(err, 99, "bytes_out mismatch");
done:
	enc_free(e);
	close(fd);
	return ret;
}

/* Decode all of fd; returns 0 with the data, or -1 with err. */
static int decode_fd(int fd, struct buf *out, enum codec *c, struct sk_err *err)
{
	struct dec *d = NULL;
	const void *p;
	size_t n, cap = MIB;
	int r, ret = -1;

	out->p = xmalloc(cap);
	out->len = 0;
	sk_err_clear(err);
	if (dec_open(&d, fd, err) < 0)
		goto done;
	if (c)
		*c = dec_codec(d);
	while ((r = dec_next(d, &p, &n, err)) > 0) {
		if (n == 0) {
			sk_err_set(err, 99, "empty block");
			goto done;
		}
		while (out->len + n > cap) {
			cap *= 2;
			out->p = realloc(out->p, cap);
			if (!out->p)
				die("realloc");
		}
		memcpy(out->p + out->len, p, n);
		out->len += n;
	}
	if (r == 0) {
		/* the end repeats, and an error stays an error */
		r = dec_next(d, &p, &n, err);
		ret = r == 0 ? 0 : sk_err_set(err, 99, "end did not repeat");
	} else if (dec_next(d, &p, &n, err) != -1) {
		sk_err_set(err, 99, "error did not repeat");
	}
done:
	dec_free(d);
	return ret;
}

static int decode(const void *p, size_t len, struct buf *out, enum codec *c, struct sk_err *err)
{
	int fd = fd_of(p, len);
	int ret = decode_fd(fd, out, c, err);

	close(fd);
	return ret;
}

/* Decoding must fail with SK_EDAMAGED and a message containing want. */
static int damaged(const void *p, size_t len, const char *want, struct sk_err *err)
{
	struct buf out;
	int ret = decode(p, len, &out, NULL, err);

	free(out.p);
	return ret < 0 && err->code == SK_EDAMAGED && (!want || strstr(err->msg, want));
}

static int same(const struct buf *b, const void *p, size_t len)
{
	return b->len == len && (len == 0 || memcmp(b->p, p, len) == 0);
}

/* A gzip member as zlib alone writes it: no FEXTRA, so no SK length field. */
static struct buf plain_gzip(const unsigned char *data, size_t len)
{
	struct buf b;
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2");
	b.p = xmalloc(deflateBound(&zs, len));
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = b.p;
	zs.avail_out = (uInt)deflateBound(&zs, len);
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		die("deflate");
	b.len = zs.total_out;
	deflateEnd(&zs);
	return b;
}

static struct buf zstd_frame(const unsigned char *data, size_t len, int checksum)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	struct buf b;
	size_t r;

	b.p = xmalloc(ZSTD_compressBound(len));
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum);
	r = ZSTD_compress2(cc, b.p, ZSTD_compressBound(len), data, len);
	if (ZSTD_isError(r))
		die("ZSTD_compress2");
	b.len = r;
	ZSTD_freeCCtx(cc);
	return b;
}

static struct buf cat(const struct buf *a, const void *p, size_t len)
{
	struct buf b;

	b.len = a->len + len;
	b.p = xmalloc(b.len);
	memcpy(b.p, a->p, a->len);
	memcpy(b.p + a->len, p, len);
	return b;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int cmd_ok(const char *cmd, const struct buf *b)
{
	char path[64], line[256];
	int fd = tmpfile_fd(path, sizeof(path)), st;

	if (write(fd, b->p, b->len) != (ssize_t)b->len)
		die("write");
	close(fd);
	snprintf(line, sizeof(line), "%s '%s' >/dev/null 2>&1", cmd, path);
	st = system(line);
	unlink(path);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int have(const char *tool)
{
	char line[128];
	int st;

	snprintf(line, sizeof(line), "command -v %s >/dev/null 2>&1", tool);
	st = system(line);
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void test_names(void)
{
	enum codec c = CODEC_NONE;

	ok(codec_parse("gzip", &c) == 0 && c == CODEC_GZIP, "parse gzip");
	ok(codec_parse("zstd", &c) == 0 && c == CODEC_ZSTD, "parse zstd");
	ok(codec_parse("none", &c) == 0 && c == CODEC_NONE, "parse none");
	ok(codec_parse("bzip2", &c) < 0 && codec_parse("", &c) < 0 && codec_parse("GZIP", &c) < 0,
	   "parse refuses other names");
	ok(!strcmp(codec_name(CODEC_GZIP), "gzip") && !strcmp(codec_name(CODEC_ZSTD), "zstd") &&
	       !strcmp(codec_name(CODEC_NONE), "none"),
	   "codec_name");
	ok(!strcmp(codec_suffix(CODEC_GZIP), ".tar.gz") &&
	       !strcmp(codec_suffix(CODEC_ZSTD), ".tar.zst") &&
	       !strcmp(codec_suffix(CODEC_NONE), ".tar"),
	   "codec_suffix");
}

static void test_levels(void)
{
	struct sk_err err = SK_ERR_INIT;
	struct enc *e = NULL;
	int r;

	r = enc_open(&e, 1, CODEC_GZIP, 10, 1, &err);
	ok(r < 0 && e == NULL && err.code == SK_EUSAGE &&
	       !strcmp(err.msg, "gzip level must be 1-9"),
	   "gzip level 10 refused: %s", err.msg);
	r = enc_open(&e, 1, CODEC_GZIP, -1, 1, &err);
	ok(r < 0 && err.code == SK_EUSAGE, "gzip level -1 refused");
	r = enc_open(&e, 1, CODEC_ZSTD, ZSTD_maxCLevel() + 1, 1, &err);
	ok(r < 0 && err.code == SK_EUSAGE, "zstd level past max refused: %s", err.msg);
	r = enc_open(&e, 1, CODEC_ZSTD, -3, 1, &err);
	ok(r < 0 && err.code == SK_EUSAGE, "zstd negative level refused");
	r = enc_open(&e, 1, CODEC_GZIP, 0, -1, &err);
	ok(r < 0 && err.code == SK_EUSAGE, "negative threads refused");
}

static void test_roundtrips(void)
{
	static const size_t sizes[] = { 0, 1, MIB - 1, MIB, 5 * MIB + 3 };
	static const enum codec codecs[] = { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };
	static const int threads[] = { 1, 4 };
	struct sk_err err = SK_ERR_INIT;
	unsigned char *data = make_data(5 * MIB + 3, 7);
	struct buf z, out;
	enum codec got;
	size_t si, ci, ti;
	int r;

	for (ci = 0; ci < 3; ci++) {
		for (si = 0; si < 5; si++) {
			for (ti = 0; ti < 2; ti++) {
				const char *name = codec_name(codecs[ci]);

				r = encode(codecs[ci], 0, threads[ti], data, sizes[si], &z, &err);
				ok(r == 0, "%s encode %zu bytes, %d threads: %s", name, sizes[si],
				   threads[ti], err.msg);
				if (r < 0)
					continue;
				if (codecs[ci] == CODEC_NONE && sizes[si] == 0) {
					ok(damaged(z.p, z.len, "empty input", &err),
					   "none: empty stream is refused on decode");
					free(z.p);
					continue;
				}
				r = decode(z.p, z.len, &out, &got, &err);
				ok(r == 0 && got == codecs[ci] && same(&out, data, sizes[si]),
				   "%s round trip %zu bytes, %d threads%s%s", name, sizes[si],
				   threads[ti], r ? ": " : "", r ? err.msg : "");
				if (codecs[ci] == CODEC_GZIP)
					ok(cmd_ok("gzip -t", &z),
					   "gzip -t accepts %zu bytes, %d threads", sizes[si],
					   threads[ti]);
				if (codecs[ci] == CODEC_ZSTD && have("zstd"))
					ok(cmd_ok("zstd -q -t", &z), "zstd -t accepts %zu bytes",
					   sizes[si]);
				free(out.p);
				free(z.p);
			}
		}
	}

	/* same bytes whatever the thread count: members are independent */
	{
		struct buf a, b;

		encode(CODEC_GZIP, 6, 1, data, 3 * MIB + 5, &a, &err);
		encode(CODEC_GZIP, 6, 3, data, 3 * MIB + 5, &b, &err);
		ok(a.len == b.len && !memcmp(a.p, b.p, a.len),
		   "gzip output does not depend on the thread count");
		ok(a.len > 20 && a.p[3] == 4 && a.p[12] == 'S' && a.p[13] == 'K' &&
		       le32(a.p + 16) < a.len && le32(a.p + le32(a.p + 16) - 4) == MIB &&
		       a.p[le32(a.p + 16)] == 0x1f && a.p[le32(a.p + 16) + 1] == 0x8b,
		   "gzip member carries its length in an SK subfield");
		if (have("pigz"))
			ok(cmd_ok("pigz -t", &a), "pigz -t accepts the output");
		free(a.p);
		free(b.p);
	}

	/* levels at the edges */
	r = encode(CODEC_GZIP, 1, 2, data, MIB + 9, &z, &err);
	ok(r == 0 && z.p[8] == 4 && decode(z.p, z.len, &out, NULL, &err) == 0 &&
	       same(&out, data, MIB + 9),
	   "gzip level 1");
	free(z.p);
	free(out.p);
	r = encode(CODEC_GZIP, 9, 2, data, MIB + 9, &z, &err);
	ok(r == 0 && z.p[8] == 2 && decode(z.p, z.len, &out, NULL, &err) == 0 &&
	       same(&out, data, MIB + 9),
	   "gzip level 9");
	free(z.p);
	free(out.p);
	r = encode(CODEC_ZSTD, 19, 2, data, MIB / 2, &z, &err);
	ok(r == 0 && decode(z.p, z.len, &out, NULL, &err) == 0 && same(&out, data, MIB / 2),
	   "zstd level 19");
	free(z.p);
	free(out.p);
	free(data);
}

static void test_gzip_members(void)
{
	struct sk_err err = SK_ERR_INIT;
	unsigned char *data = make_data(3 * MIB, 11), *both;
	struct buf a, b, f, ab, abf, fa, out;
	int r;

	encode(CODEC_GZIP, 0, 2, data, 2 * MIB + 100, &a, &err);
	encode(CODEC_GZIP, 0, 1, data + 7, 1000, &b, &err);
	f = plain_gzip(data + 11, 3 * MIB - 11);
	ab = cat(&a, b.p, b.len);
	abf = cat(&ab, f.p, f.len);
	fa = cat(&f, a.p, a.len);
	both = xmalloc(2 * MIB + 100 + 1000 + 3 * MIB - 11);
	memcpy(both, data, 2 * MIB + 100);
	memcpy(both + 2 * MIB + 100, data + 7, 1000);
	memcpy(both + 2 * MIB + 1100, data + 11, 3 * MIB - 11);

	r = decode(ab.p, ab.len, &out, NULL, &err);
	ok(r == 0 && same(&out, both, 2 * MIB + 1100), "two concatenated gzip streams decode");
	free(out.p);
	r = decode(abf.p, abf.len, &out, NULL, &err);
	ok(r == 0 && same(&out, both, 2 * MIB + 1100 + 3 * MIB - 11),
	   "ours then a plain zlib member decode");
	free(out.p);
	r = decode(fa.p, fa.len, &out, NULL, &err);
	ok(r == 0 && out.len == 3 * MIB - 11 + 2 * MIB + 100 &&
	       !memcmp(out.p, data + 11, 3 * MIB - 11) &&
	       !memcmp(out.p + 3 * MIB - 11, data, 2 * MIB + 100),
	   "a plain zlib member then ours decode");
	free(out.p);
	ok(cmd_ok("gzip -t", &abf), "gzip -t accepts the concatenation");

	free(both);
	free(fa.p);
	free(abf.p);
	free(ab.p);
	free(f.p);
	free(b.p);
	free(a.p);
	free(data);
}

/* Damage one gzip stream in every way we check; label names the flavour. */
static void gzip_damage(const struct buf *z, const char *label)
{
	static const char *junk[] = { "junk", "\x1f", "\0\0\0\0", "\x1f\x8b" };
	static const size_t junk_len[] = { 4, 1, 4, 2 };
	struct sk_err err = SK_ERR_INIT;
	struct buf c, t;
	size_t cuts[] = {
		2, 9, 10, 19, 20, 21, 100, z->len / 2, z->len - 8, z->len - 5, z->len - 1
	};
	size_t i;

	c = cat(z, "", 0);
	c.p[40] ^= 0x55;
	ok(damaged(c.p, c.len, "gzip: ", &err), "%s: flipped deflate byte: %s", label, err.msg);
	memcpy(c.p, z->p, z->len);
	c.p[z->len - 6] ^= 1;
	ok(damaged(c.p, c.len, "incorrect data check", &err), "%s: bad CRC: %s", label, err.msg);
	memcpy(c.p, z->p, z->len);
	c.p[z->len - 3] ^= 1;
	ok(damaged(c.p, c.len, "incorrect length check", &err), "%s: bad ISIZE: %s", label,
	   err.msg);
	free(c.p);

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		ok(damaged(z->p, cuts[i], NULL, &err), "%s: truncated to %zu bytes: %s", label,
		   cuts[i], err.msg);
	ok(damaged(z->p, z->len - 1, "truncated gzip stream", &err), "%s: truncation says so: %s",
	   label, err.msg);

	for (i = 0; i < 4; i++) {
		t = cat(z, junk[i], junk_len[i]);
		ok(damaged(t.p, t.len, i == 3 ? "truncated" : "trailing garbage", &err),
		   "%s: trailing garbage %zu: %s", label, i, err.msg);
		free(t.p);
	}
}

static void test_gzip_damage(void)
{
	struct sk_err err = SK_ERR_INIT;
	unsigned char *data = make_data(2 * MIB + 77, 3);
	struct buf ours, plain, c, out;
	size_t i, pos;
	uint32_t mlen;
	int r;

	encode(CODEC_GZIP, 0, 2, data, 2 * MIB + 77, &ours, &err);
	plain = plain_gzip(data, 2 * MIB + 77);
	gzip_damage(&ours, "gzip (ours)");
	gzip_damage(&plain, "gzip (zlib)");

	/* a wrong length field must never yield wrong data */
	mlen = le32(ours.p + 16);
	for (i = 0; i < 4; i++) {
		static const int delta[] = { -1, 1, -100, 5000 };

		c = cat(&ours, "", 0);
		c.p[16] = (unsigned char)(mlen + (uint32_t)delta[i]);
		c.p[17] = (unsigned char)((mlen + (uint32_t)delta[i]) >> 8);
		c.p[18] = (unsigned char)((mlen + (uint32_t)delta[i]) >> 16);
		r = decode(c.p, c.len, &out, NULL, &err);
		ok((r == 0 && same(&out, data, 2 * MIB + 77)) || (r < 0 && err.code == SK_EDAMAGED),
		   "gzip: length field off by %d: %s", delta[i], r ? err.msg : "ignored");
		free(out.p);
		free(c.p);
	}

	/*
	 * A length field spanning two members ends on a plausible ISIZE, so a
	 * worker takes it, and must notice the member ends early.
	 */
	c = cat(&ours, "", 0);
	r = (int)(mlen + le32(ours.p + mlen + 16));
	c.p[16] = (unsigned char)r;
	c.p[17] = (unsigned char)(r >> 8);
	c.p[18] = (unsigned char)(r >> 16);
	r = decode(c.p, c.len, &out, NULL, &err);
	if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
		ok(r < 0 && err.code == SK_EDAMAGED && strstr(err.msg, "length field"),
		   "gzip: length field spanning two members: %s", err.msg);
	else
		ok(r == 0 && same(&out, data, 2 * MIB + 77),
		   "gzip: length field spanning two members (one cpu: ignored)");
	free(out.p);
	free(c.p);

	/* every flipped byte past the magic: damaged, or the very same data */
	for (i = 0; i < 300; i++) {
		pos = 2 + (i < 64 ? i : (i * 7919) % (ours.len - 2));
		if (i >= 64 && i < 128)
			pos = mlen - 32 + (i - 64);
		c = cat(&ours, "", 0);
		c.p[pos] ^= (unsigned char)(1u << (i % 8));
		r = decode(c.p, c.len, &out, NULL, &err);
		r = (r == 0 && same(&out, data, 2 * MIB + 77)) ||
		    (r < 0 && err.code == SK_EDAMAGED);
		free(out.p);
		free(c.p);
		if (!r)
			break;
	}
	ok(i == 300, "gzip: 300 single-bit flips are caught or harmless (stopped at %zu)", i);

	free(plain.p);
	free(ours.p);
	free(data);
}

static void test_zstd_damage(void)
{
	struct sk_err err = SK_ERR_INIT;
	unsigned char *data = make_data(3 * MIB, 5);
	unsigned char skip[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'n', 'o', 't', 'e' };
	struct buf z, nock, c, t, out;
	size_t cuts[4], i, pos;
	int r;

	encode(CODEC_ZSTD, 0, 2, data, 3 * MIB, &z, &err);
	nock = zstd_frame(data, 1000, 0);
	ok(damaged(nock.p, nock.len, "zstd frame without checksum", &err),
	   "zstd: frame without checksum: %s", err.msg);
	t = cat(&z, nock.p, nock.len);
	ok(damaged(t.p, t.len, "zstd frame without checksum", &err),
	   "zstd: second frame without checksum: %s", err.msg);
	free(t.p);

	c = cat(&z, "", 0);
	c.p[c.len - 1] ^= 1;
	ok(damaged(c.p, c.len, "zstd: ", &err), "zstd: corrupted checksum: %s", err.msg);
	memcpy(c.p, z.p, z.len);
	c.p[c.len / 2] ^= 0x10;
	ok(damaged(c.p, c.len, "zstd: ", &err), "zstd: flipped byte: %s", err.msg);
	free(c.p);

	/* fewer than 4 bytes are no zstd magic, just plain data */
	cuts[0] = 4;
	cuts[1] = 6;
	cuts[2] = z.len / 3;
	cuts[3] = z.len - 1;
	for (i = 0; i < 4; i++)
		ok(damaged(z.p, cuts[i], NULL, &err), "zstd: truncated to %zu: %s", cuts[i],
		   err.msg);
	ok(damaged(z.p, z.len - 1, "truncated zstd stream", &err), "zstd: truncation says so");
	t = cat(&z, "junk", 4);
	ok(damaged(t.p, t.len, "trailing garbage", &err), "zstd: trailing garbage: %s", err.msg);
	free(t.p);
	t = cat(&z, "\x28\xb5\x2f", 3);
	ok(damaged(t.p, t.len, NULL, &err), "zstd: trailing partial magic: %s", err.msg);
	free(t.p);

	/* frames and skippable frames may follow each other */
	{
		struct buf s = { skip, sizeof(skip) }, sz, szs, zz;

		sz = cat(&s, z.p, z.len);
		szs = cat(&sz, skip, sizeof(skip));
		zz = cat(&szs, z.p, z.len);
		r = decode(zz.p, zz.len, &out, NULL, &err);
		ok(r == 0 && out.len == 6 * MIB && !memcmp(out.p, data, 3 * MIB) &&
		       !memcmp(out.p + 3 * MIB, data, 3 * MIB),
		   "zstd: skippable frames and two frames decode%s%s", r ? ": " : "",
		   r ? err.msg : "");
		free(out.p);
		free(zz.p);
		free(szs.p);
		free(sz.p);
	}

	for (i = 0; i < 200; i++) {
		pos = 4 + (i < 16 ? i : (i * 104729) % (z.len - 4));
		c = cat(&z, "", 0);
		c.p[pos] ^= (unsigned char)(1u << (i % 8));
		r = decode(c.p, c.len, &out, NULL, &err);
		r = (r == 0 && same(&out, data, 3 * MIB)) || (r < 0 && err.code == SK_EDAMAGED);
		free(out.p);
		free(c.p);
		if (!r)
			break;
	}
	ok(i == 200, "zstd: 200 single-bit flips are caught or harmless (stopped at %zu)", i);

	free(nock.p);
	free(z.p);
	free(data);
}

static void test_magic(void)
{
	static const struct {
		const char *bytes, *name;
		size_t len;
	} m[] = {
		{ "BZh91AY&SY", "bzip2", 10 },
		{ "\xfd"
		  "7zXZ\0\0\4",
		  "xz", 8 },
		{ "LZIP\1", "lzip", 5 },
		{ "\x1f\x9d\x90", "compress", 3 },
		{ "\x04\x22\x4d\x18\x64", "lz4", 5 },
	};
	struct sk_err err = SK_ERR_INIT;
	struct buf out;
	enum codec c;
	char want[64];
	size_t i;
	int r;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(want, sizeof(want), "unsupported compression '%s'", m[i].name);
		ok(damaged(m[i].bytes, m[i].len, want, &err), "%s magic refused: %s", m[i].name,
		   err.msg);
	}
	ok(damaged("", 0, "empty input", &err), "empty input refused: %s", err.msg);
	r = decode("BZhello", 7, &out, &c, &err);
	ok(r == 0 && c == CODEC_NONE && same(&out, "BZhello", 7), "text starting BZh is plain");
	free(out.p);
	r = decode("\x1f", 1, &out, &c, &err);
	ok(r == 0 && c == CODEC_NONE && same(&out, "\x1f", 1), "a lone 1f byte is plain");
	free(out.p);
}

static void test_corpus(void)
{
	static const struct {
		const char *file;
		int good;
		const char *want;
	} f[] = {
		{ "test_read_filter_gzip_recursive.gz", 0, "gzip: " },
		{ "test_compat_gzip_2.tgz", 0, "trailing garbage after gzip member at offset" },
		{ "test_compat_gzip_1.tgz", 1, NULL },
		{ "test_read_too_many_filters.gz", 1, NULL },
		{ "test_read_format_gtar_redundant_L.tar.Z", 0, "'compress'" },
	};
	const char *dir = getenv("SK_CORPUS");
	struct sk_err err = SK_ERR_INIT;
	struct buf out;
	char path[512];
	size_t i;
	int fd, r;

	if (!dir)
		dir = "../shared/corpus";
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(path, sizeof(path), "%s/libarchive/%s", dir, f[i].file);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ok(1, "# SKIP %s: no corpus", f[i].file);
			continue;
		}
		r = decode_fd(fd, &out, NULL, &err);
		close(fd);
		if (f[i].good)
			ok(r == 0 && out.len > 0, "corpus %s decodes%s%s", f[i].file, r ? ": " : "",
			   r ? err.msg : "");
		else
			ok(r < 0 && err.code == SK_EDAMAGED && strstr(err.msg, f[i].want),
			   "corpus %s refused: %s", f[i].file, err.msg);
		if (i == 3)
			ok(r == 0 && out.len > 2 && out.p[0] == 0x1f && out.p[1] == 0x8b,
			   "nested gzip decodes one layer only");
		free(out.p);
	}
}

static void test_write_errors(void)
{
	static const enum codec codecs[] = { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD };
	struct sk_err err = SK_ERR_INIT, err2 = SK_ERR_INIT;
	unsigned char *data = make_data(4 * MIB, 9);
	struct enc *e;
	size_t i;
	int pfd[2], full, r;

	for (i = 0; i < 3; i++) {
		if (pipe(pfd) < 0)
			die("pipe");
		close(pfd[0]);
		r = enc_open(&e, pfd[1], codecs[i], 0, 2, &err);
		if (r == 0)
			r = enc_write(e, data, 4 * MIB, &err);
		if (r == 0)
			r = enc_finish(e, &err);
		ok(r < 0 && err.code == SK_EFAIL && err.sys == EPIPE &&
		       !strcmp(err.msg, "write: Broken pipe"),
		   "%s: closed pipe is SK_EFAIL: %s", codec_name(codecs[i]), err.msg);
		ok(enc_write(e, "x", 1, &err2) < 0 && err2.code == SK_EFAIL &&
		       enc_finish(e, &err2) < 0,
		   "%s: the failure sticks", codec_name(codecs[i]));
		enc_free(e);
		close(pfd[1]);

		full = open("/dev/full", O_WRONLY | O_CLOEXEC);
		if (full < 0) {
			ok(1, "# SKIP no /dev/full");
			continue;
		}
		r = enc_open(&e, full, codecs[i], 0, 1, &err);
		if (r == 0)
			r = enc_write(e, data, 3 * MIB, &err);
		if (r == 0)
			r = enc_finish(e, &err);
		ok(r < 0 && err.code == SK_EFAIL && err.sys == ENOSPC,
		   "%s: full disk is SK_EFAIL: %s", codec_name(codecs[i]), err.msg);
		enc_free(e);
		close(full);
	}
	free(data);
}

static void test_read_error(void)
{
	struct sk_err err = SK_ERR_INIT;
	struct dec *d = NULL;
	int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ok(dec_open(&d, fd, &err) < 0 && d == NULL && err.code == SK_EFAIL && err.sys == EISDIR,
	   "read error is SK_EFAIL: %s", err.msg);
	close(fd);
}

/* A child encodes into a pipe while we decode from it. */
static void test_pipe(enum codec c)
{
	struct sk_err err = SK_ERR_INIT;
	size_t len = 7 * MIB + 11;
	unsigned char *data = make_data(len, 13);
	struct buf out;
	int pfd[2], st, r;
	pid_t pid;

	if (pipe(pfd) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct enc *e = NULL;

		close(pfd[0]);
		if (enc_open(&e, pfd[1], c, 0, 3, &err) < 0 || enc_write(e, data, len, &err) < 0 ||
		    enc_finish(e, &err) < 0)
			_exit(1);
		enc_free(e);
		_exit(0);
	}
	close(pfd[1]);
	r = decode_fd(pfd[0], &out, NULL, &err);
	close(pfd[0]);
	waitpid(pid, &st, 0);
	ok(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && same(&out, data, len),
	   "%s through a pipe%s%s", codec_name(c), r ? ": " : "", r ? err.msg : "");
	free(out.p);
	free(data);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_names();
	test_levels();
	test_roundtrips();
	test_gzip_members();
	test_gzip_damage();
	test_zstd_damage();
	test_magic();
	test_corpus();
	test_write_errors();
	test_read_error();
	test_pipe(CODEC_GZIP);
	test_pipe(CODEC_ZSTD);
	test_pipe(CODEC_NONE);
	return tap_done();
}
