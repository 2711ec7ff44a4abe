/*
 * targuard_test: the tar framing guard against hand-made archives, the shared
 * corpus of hostile archives (../shared/corpus, or $SK_CORPUS), and archives
 * that GNU tar and bsdtar write at run time. Every archive is fed whole and in
 * 1-, 7-, 512- and 4096-byte pieces; the verdict and message must not change.
 */
#include "targuard.h"
#include "tap.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct targuard_limits lim = { 4096, 1 << 20 };
static const char posix_magic[8] = { 'u', 's', 't', 'a', 'r', '\0', '0', '0' };
static const char gnu_magic[8] = "ustar  ";

/* ---- running the guard ---- */

/* Feed buf in pieces of chunk bytes (0: all at once); 0 = pass, -1 = reject. */
static int run(const unsigned char *buf, size_t len, size_t chunk, char *msg, size_t msgsz)
{
	struct sk_err err = SK_ERR_INIT;
	struct targuard *g = NULL;
	size_t pos = 0;
	int r = 0;

	if (targuard_new(&g, &lim, &err) < 0) {
		snprintf(msg, msgsz, "targuard_new: %s", err.msg);
		return -2;
	}
	if (chunk == 0)
		chunk = len ? len : 1;
	while (r == 0 && pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk;

		r = targuard_feed(g, buf + pos, n, &err);
		pos += n;
	}
	if (r == 0)
		r = targuard_finish(g, &err);
	if (r < 0 && err.code != SK_EDAMAGED) {
		snprintf(msg, msgsz, "wrong error class %d: %s", err.code, err.msg);
		r = -2;
	} else {
		snprintf(msg, msgsz, "%s", r < 0 ? err.msg : "");
	}
	targuard_free(g);
	return r;
}

/*
 * The verdict for buf, checked to be the same for every way of cutting it.
 * Returns 0 pass, -1 reject, -2 inconsistent (msg says how).
 */
static int verdict(const unsigned char *buf, size_t len, char *msg, size_t msgsz)
{
	static const size_t chunks[] = { 1, 7, 512, 4096 };
	char other[sizeof(((struct sk_err *)0)->msg)];
	size_t i;
	int r, r2;

	r = run(buf, len, 0, msg, msgsz);
	if (r == -2)
		return r;
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		r2 = run(buf, len, chunks[i], other, sizeof(other));
		if (r2 != r || strcmp(other, msg) != 0) {
			snprintf(msg, msgsz, "%zu-byte pieces give '%s', whole buffer '%s'",
				 chunks[i], other, r ? msg : "pass");
			return -2;
		}
	}
	return r;
}

/* want NULL: must pass; else must be rejected with want in the message. */
static bool expect(const unsigned char *buf, size_t len, const char *want, char *msg, size_t msgsz)
{
	int r = verdict(buf, len, msg, msgsz);

	if (r == -2)
		return false;
	if (!want)
		return r == 0;
	return r == -1 && strstr(msg, want) != NULL;
}

#define CHECK(b, want, ...)                                                                        \
	do {                                                                                       \
		char m_[600];                                                                      \
		bool ok_ = expect((b)->p, (b)->len, (want), m_, sizeof(m_));                       \
		ok(ok_, __VA_ARGS__);                                                              \
		if (!ok_)                                                                          \
			printf("#   want: %s\n#   got:  %s\n", (want) ? (want) : "pass",           \
			       m_[0] ? m_ : "pass");                                               \
	} while (0)

/* ---- building archives by hand ---- */

struct tb {
	unsigned char *p;
	size_t len, cap;
};

static void tb_put(struct tb *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (d)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
}

static void tb_pad(struct tb *b)
{
	tb_put(b, NULL, (512 - b->len % 512) % 512);
}

static void tb_reset(struct tb *b)
{
	b->len = 0;
}

static void put_octal(unsigned char *f, size_t width, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(width - 1), (unsigned long long)v);
	memcpy(f, tmp, width - 1);
	f[width - 1] = '\0';
}

static void hdr_sum(unsigned char *h)
{
	unsigned sum = 0;
	size_t i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	put_octal(h + 148, 7, sum);
	h[155] = ' ';
}

/* A header; gnu selects the old GNU magic. The checksum is set last by hdr_sum. */
static void hdr_make(unsigned char *h, const char *name, char type, uint64_t size, bool gnu)
{
	size_t n = strlen(name);

	memset(h, 0, 512);
	memcpy(h, name, n < 100 ? n : 100);
	put_octal(h + 100, 8, 0644);
	put_octal(h + 108, 8, 1000);
	put_octal(h + 116, 8, 1000);
	put_octal(h + 124, 12, size);
	put_octal(h + 136, 12, 1700000000);
	h[156] = (unsigned char)type;
	memcpy(h + 257, gnu ? gnu_magic : posix_magic, 8);
	memcpy(h + 265, "user", 4);
	memcpy(h + 297, "user", 4);
	hdr_sum(h);
}

static void tb_header(struct tb *b, const unsigned char *h)
{
	tb_put(b, h, 512);
}

/* An entry: header plus data plus padding; data NULL means 'A' bytes. */
static void tb_entry(struct tb *b, const char *name, char type, const void *data, size_t size)
{
	unsigned char h[512];

	hdr_make(h, name, type, size, false);
	tb_header(b, h);
	if (data) {
		tb_put(b, data, size);
	} else {
		size_t start = b->len;

		tb_put(b, NULL, size);
		memset(b->p + start, 'A', size);
	}
	tb_pad(b);
}

/* A 'x', 'g', 'L' or 'K' header with its body. */
static void tb_special(struct tb *b, char type, const void *body, size_t n)
{
	unsigned char h[512];

	hdr_make(h, type == 'L' || type == 'K' ? "././@LongLink" : "PaxHeaders/x", type, n,
		 type == 'L' || type == 'K');
	tb_header(b, h);
	tb_put(b, body, n);
	tb_pad(b);
}

static void tb_end(struct tb *b)
{
	tb_put(b, NULL, 1024);
}

/* Append one pax record "<len> key=value\n" (value of vlen bytes) to r. */
static void rec(struct tb *r, const char *key, const char *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, len = base + 1;
	char num[24];

	while (len != base + (size_t)snprintf(num, sizeof(num), "%zu", len))
		len = base + (size_t)snprintf(num, sizeof(num), "%zu", len);
	tb_put(r, num, strlen(num));
	tb_put(r, " ", 1);
	tb_put(r, key, strlen(key));
	tb_put(r, "=", 1);
	tb_put(r, val, vlen);
	tb_put(r, "\n", 1);
}

static void recs(struct tb *r, const char *key, const char *val)
{
	rec(r, key, val, strlen(val));
}

/* An archive of one 'x' header (raw body) and a small file after it. */
static void pax_case(struct tb *b, const void *body, size_t n)
{
	tb_reset(b);
	tb_special(b, 'x', body, n);
	tb_entry(b, "file", '0', "hi\n", 3);
	tb_end(b);
}

static void pax_rec_case(struct tb *b, const char *key, const char *val, size_t vlen)
{
	struct tb r = { 0 };

	rec(&r, key, val, vlen);
	pax_case(b, r.p, r.len);
	free(r.p);
}

/* ---- hand-made archives ---- */

static void test_basics(void)
{
	struct tb b = { 0 };
	unsigned char h[512];

	tb_end(&b);
	CHECK(&b, NULL, "empty archive (two zero blocks) passes");

	tb_reset(&b);
	tb_entry(&b, "dir/", '5', NULL, 0);
	tb_entry(&b, "dir/a", '0', NULL, 1000);
	tb_entry(&b, "dir/b", '\0', NULL, 512);
	tb_entry(&b, "dir/e", '0', NULL, 0);
	hdr_make(h, "dir/l", '2', 0, false);
	memcpy(h + 157, "a", 1);
	hdr_sum(h);
	tb_header(&b, h);
	hdr_make(h, "dir/h", '1', 0, false);
	memcpy(h + 157, "dir/a", 5);
	hdr_sum(h);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, NULL, "ustar file, dir, symlink, hardlink pass");
	tb_put(&b, NULL, 10240 - b.len % 10240);
	CHECK(&b, NULL, "zero padding after the end-of-archive marker passes");
	tb_put(&b, "x", 1);
	CHECK(&b, "data after end of archive at offset", "garbage after the marker is rejected");

	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 10);
	CHECK(&b, "missing end-of-archive marker at offset 1024", "no end-of-archive marker");
	tb_put(&b, NULL, 512);
	CHECK(&b, "missing end-of-archive marker at offset 1536", "only one zero block");
	tb_put(&b, NULL, 100);
	CHECK(&b, "missing end-of-archive marker", "one and a bit zero blocks");
	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 10);
	tb_put(&b, NULL, 512);
	tb_entry(&b, "b", '0', NULL, 10);
	tb_end(&b);
	CHECK(&b, "data after end of archive at offset 1536",
	      "a header after a single zero block is rejected");

	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 1000);
	b.len -= 600;
	CHECK(&b, "truncated archive at offset 936", "truncated data");
	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 1000);
	b.len -= 20;
	CHECK(&b, "truncated archive at offset 1516", "truncated padding");
	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 10);
	tb_entry(&b, "b", '0', NULL, 10);
	b.len -= 1000;
	CHECK(&b, "truncated archive at offset 1048", "truncated header");
	tb_reset(&b);
	CHECK(&b, "missing end-of-archive marker at offset 0", "empty input");

	tb_reset(&b);
	tb_entry(&b, "a", '0', NULL, 10);
	b.p[600] = 'z';
	tb_end(&b);
	CHECK(&b, "non-zero padding at offset 600", "non-zero padding after data");
	free(b.p);
}

static void test_headers(void)
{
	static const char rejected[] = "34679ADEIMNVXZa";
	struct tb b = { 0 };
	unsigned char h[512];
	const char *t;
	unsigned sum;
	size_t i;

	tb_entry(&b, "a", '0', NULL, 10);
	tb_entry(&b, "b", '0', NULL, 10);
	tb_entry(&b, "c", '0', NULL, 10);
	tb_end(&b);
	b.p[2048 + 5] ^= 1;
	CHECK(&b, "bad header checksum at offset 2048", "bad checksum names the header offset");

	/* Old SunOS/HP-UX tars summed signed chars. */
	tb_reset(&b);
	hdr_make(h, "caf\xc3\xa9", '0', 0, false);
	memset(h + 148, ' ', 8);
	for (sum = 0, i = 0; i < 512; i++)
		sum += (unsigned)(int)(signed char)h[i];
	put_octal(h + 148, 7, sum);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, NULL, "signed-char checksum passes");

	tb_reset(&b);
	hdr_make(h, "a", '0', 0, false);
	memset(h + 257, 0, 8);
	hdr_sum(h);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, "unknown tar format (no ustar magic) at offset 0", "v7 header rejected");
	memcpy(b.p + 257, "ustar\0  ", 8);
	hdr_sum(b.p);
	CHECK(&b, "no ustar magic", "ustar magic with a bad version rejected");

	for (t = rejected; *t; t++) {
		tb_reset(&b);
		tb_entry(&b, "ok", '0', NULL, 0);
		hdr_make(h, "odd", *t, 0, false);
		tb_header(&b, h);
		tb_end(&b);
		CHECK(&b, "unsupported entry type", "typeflag '%c' rejected", *t);
	}
	tb_reset(&b);
	hdr_make(h, "fifo", '6', 0, false);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, "unsupported entry type '6' (fifo) at offset 0", "fifo message names the type");

	/* base-256 sizes */
	tb_reset(&b);
	hdr_make(h, "big", '0', 0, true);
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	h[135] = 3;
	hdr_sum(h);
	tb_header(&b, h);
	tb_put(&b, "abc", 3);
	tb_pad(&b);
	tb_end(&b);
	CHECK(&b, NULL, "positive base-256 size passes");
	b.p[124] = 0xff;
	hdr_sum(b.p);
	CHECK(&b, "negative size field at offset 0", "negative base-256 size rejected");
	b.p[124] = 0x81;
	hdr_sum(b.p);
	CHECK(&b, "bad size field", "base-256 with a stray high bit rejected");
	b.p[124] = 0x80;
	b.p[128] = 0x80;
	hdr_sum(b.p);
	CHECK(&b, "bad size field", "base-256 size beyond int64 rejected");

	tb_reset(&b);
	hdr_make(h, "a", '0', 0, false);
	memcpy(h + 124, "00000000012x", 12);
	hdr_sum(h);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, "bad size field", "garbage after size digits rejected");
	memcpy(b.p + 124, "0000000001 2", 12);
	hdr_sum(b.p);
	CHECK(&b, "bad size field", "digits after the size terminator rejected");
	memcpy(b.p + 124, "-0000000001\0", 12);
	hdr_sum(b.p);
	CHECK(&b, "bad size field", "minus sign in size rejected");
	memcpy(b.p + 124, "  0000000 \0 ", 12);
	hdr_sum(b.p);
	CHECK(&b, NULL, "leading spaces and mixed terminators pass");
	memcpy(b.p + 124, "\0\0\0\0\0\0\0\0\0\0\0\0", 12);
	hdr_sum(b.p);
	CHECK(&b, "bad size field", "empty size field rejected");
	memcpy(b.p + 124, "00000000000\0", 12);
	memcpy(b.p + 100, "06x4\0\0\0\0", 8);
	hdr_sum(b.p);
	CHECK(&b, "bad mode field", "garbage mode rejected");
	memcpy(b.p + 100, "0000644\0", 8);
	memcpy(b.p + 136, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe", 12);
	hdr_sum(b.p);
	/* libarchive writes pre-1970 times this way; they must read back */
	CHECK(&b, NULL, "negative base-256 mtime passes");
	memcpy(b.p + 136, "17000000000\0", 12);
	memcpy(b.p + 148, "0123\0x  ", 8);
	CHECK(&b, "bad header checksum", "garbage in the checksum field rejected");

	/* Sizes on types that carry no data in libarchive. */
	for (t = "125"; *t; t++) {
		tb_reset(&b);
		hdr_make(h, "n", *t, 5, false);
		memcpy(h + 157, "t", 1);
		hdr_sum(h);
		tb_header(&b, h);
		tb_put(&b, "abcde", 5);
		tb_pad(&b);
		tb_end(&b);
		CHECK(&b, "entry with data at offset 0", "typeflag '%c' with a size rejected", *t);
	}

	/* GNU sparse fields on a GNU header that is not 'S'. */
	tb_reset(&b);
	hdr_make(h, "a", '0', 3, true);
	memcpy(h + 386, "00000000000\0", 12);
	hdr_sum(h);
	tb_header(&b, h);
	tb_put(&b, "abc", 3);
	tb_pad(&b);
	tb_end(&b);
	CHECK(&b, "GNU sparse fields on a non-sparse entry at offset 0",
	      "GNU sparse area on a regular entry rejected");

	tb_reset(&b);
	hdr_make(h, "a", '0', 0, false);
	memcpy(h + 329, "0000x00\0", 8);
	hdr_sum(h);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, "bad device number field at offset 0", "garbage devmajor rejected");

	/* libarchive 3.6 makes these directories and forgets their data. */
	tb_reset(&b);
	tb_entry(&b, "dir/", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "regular file entry with a directory name has data at offset 0",
	      "regular entry named 'dir/' with data rejected");
	tb_reset(&b);
	tb_entry(&b, "dir/", '0', NULL, 0);
	tb_entry(&b, "old/", '\0', NULL, 0);
	tb_end(&b);
	CHECK(&b, NULL, "old-style directory (regular, 'dir/', no data) passes");
	tb_reset(&b);
	hdr_make(h, "", '0', 5, false);
	memcpy(h + 345, "prefix", 6);
	hdr_sum(h);
	tb_header(&b, h);
	tb_put(&b, "abcde", 5);
	tb_pad(&b);
	tb_end(&b);
	CHECK(&b, "directory name has data", "ustar prefix with an empty name has a '/' name");
	{
		struct tb r = { 0 };

		recs(&r, "path", "x/");
		tb_reset(&b);
		tb_special(&b, 'x', r.p, r.len);
		tb_entry(&b, "file", '0', NULL, 5);
		tb_end(&b);
		CHECK(&b, "directory name has data", "pax path ending in '/' with data rejected");
		tb_reset(&r);
		recs(&r, "path", "");
		tb_reset(&b);
		tb_special(&b, 'x', r.p, r.len);
		tb_entry(&b, "file", '0', NULL, 5);
		tb_end(&b);
		CHECK(&b, NULL, "empty pax path falls back to the header name");
		free(r.p);
	}
	tb_reset(&b);
	tb_special(&b, 'L', "long/dir/", 10);
	tb_entry(&b, "file", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "directory name has data", "GNU long name ending in '/' with data rejected");
	free(b.p);
}

static void test_pax(void)
{
	struct tb b = { 0 }, r = { 0 };
	unsigned char h[512];
	char big[5000];

	/* The pax size moves the entry boundary. */
	recs(&r, "size", "600");
	recs(&r, "mtime", "1700000000.123456789");
	recs(&r, "path", "pax/file");
	tb_special(&b, 'x', r.p, r.len);
	hdr_make(h, "file", '0', 0, false);
	tb_header(&b, h);
	tb_put(&b, NULL, 600);
	memset(b.p + b.len - 600, 'A', 600);
	tb_pad(&b);
	tb_end(&b);
	CHECK(&b, NULL, "pax size overrides the header size");

	pax_rec_case(&b, "mtime", "-12.5", 5);
	CHECK(&b, NULL, "negative fractional mtime passes");
	pax_rec_case(&b, "mtime", "999xxx9324.4", 12);
	CHECK(&b, "bad pax mtime at offset 512", "unparsable mtime rejected");
	pax_rec_case(&b, "atime", "12.", 3);
	CHECK(&b, "bad pax atime", "mtime with an empty fraction rejected");
	pax_rec_case(&b, "size", "-5", 2);
	CHECK(&b, "bad pax size at offset 512", "negative pax size rejected");
	pax_rec_case(&b, "size", "9223372036854775808", 19);
	CHECK(&b, "bad pax size", "pax size beyond int64 rejected");
	pax_rec_case(&b, "size", "", 0);
	CHECK(&b, "bad pax size", "empty pax size rejected");
	pax_rec_case(&b, "uid", "12a", 3);
	CHECK(&b, "bad pax uid", "garbage pax uid rejected");
	pax_rec_case(&b, "path", "a\0b", 3);
	CHECK(&b, "pax path contains NUL at offset 512", "NUL in pax path rejected");
	pax_rec_case(&b, "linkpath", "a\0", 2);
	CHECK(&b, "pax path contains NUL", "NUL in pax linkpath rejected");
	pax_rec_case(&b, "uname", "ro\0ot", 5);
	CHECK(&b, "contains NUL", "NUL in pax uname rejected");
	pax_rec_case(&b, "SCHILY.xattr.user.bin", "a\0b\n\xff", 5);
	CHECK(&b, NULL, "binary SCHILY.xattr value passes");
	pax_rec_case(&b, "SCHILY.xattr.", "x", 1);
	CHECK(&b, "without a name", "xattr record without a name rejected");
	pax_rec_case(&b, "SUN.holesdata", " 0 10", 5);
	CHECK(&b, "unsupported Solaris sparse", "Solaris sparse rejected");
	memset(big, 'a', sizeof(big));
	pax_rec_case(&b, "path", big, sizeof(big));
	CHECK(&b, "pax path too long", "pax path over max_path rejected");
	pax_rec_case(&b, "path", big, 4096);
	CHECK(&b, NULL, "pax path of exactly max_path passes");

#define RAW(s) pax_case(&b, s, sizeof(s) - 1)
	RAW("0 a=\n");
	CHECK(&b, "bad pax record length at offset 512", "zero record length rejected");
	RAW("06 a=b\n");
	CHECK(&b, "bad pax record length", "leading zero in record length rejected");
	RAW("4 a=");
	CHECK(&b, "bad pax record length", "record too short for its fields rejected");
	RAW("6 a=bc");
	CHECK(&b, "does not end in a newline", "record without newline rejected");
	RAW("9 a=b\n");
	CHECK(&b, "overruns", "record longer than the body rejected");
	RAW("6 ab=\n6 a=bc");
	CHECK(&b, "does not end in a newline at offset 518", "second record offset reported");
	RAW("6 abc\n");
	CHECK(&b, "without '='", "record without '=' rejected");
	RAW("6 =ab\n");
	CHECK(&b, "empty pax keyword", "empty keyword rejected");
	RAW("8 a\0b=c\n");
	CHECK(&b, "pax keyword contains NUL", "NUL in keyword rejected");
	RAW("6a=bc\n");
	CHECK(&b, "bad pax record length", "missing space after length rejected");
	RAW(" 6 a=b\n");
	CHECK(&b, "bad pax record length", "leading space rejected");
	RAW("6 a=b\n\0\0\0");
	CHECK(&b, "bad pax record length at offset 518", "NULs after the last record rejected");
	RAW("10 path=a\n10 path=b\n");
	CHECK(&b, "duplicate pax record 'path'", "duplicate path rejected");
	RAW("8 a=b\nc\n");
	CHECK(&b, NULL, "newline inside a value passes");
	RAW("");
	CHECK(&b, NULL, "empty pax body passes");
	RAW("1000000 a=b\n");
	CHECK(&b, "pax record too long", "record length over libarchive's limit rejected");
#undef RAW

	/* Placement of 'x' headers. */
	tb_reset(&r);
	recs(&r, "path", "p");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, "two pax headers for one entry at offset 1024", "x after x rejected");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_end(&b);
	CHECK(&b, "end-of-archive marker after an extension header at offset 1024",
	      "x before end of archive rejected");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	CHECK(&b, "truncated archive at offset 1024", "x at end of input rejected");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "g", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, NULL, "one x per entry passes");

	tb_reset(&b);
	hdr_make(h, "PaxHeaders/x", 'x', (uint64_t)(1 << 20) + 1, false);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, "pax header too large at offset 0", "x over max_pax rejected");

	/* 'g' headers */
	tb_reset(&r);
	recs(&r, "comment", "d34db33f");
	tb_reset(&b);
	tb_special(&b, 'g', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, NULL, "g with a comment passes (git archive)");
	tb_reset(&b);
	tb_special(&b, 'g', r.p, r.len);
	tb_end(&b);
	CHECK(&b, NULL, "g before end of archive passes");
	tb_reset(&b);
	tb_special(&b, 'g', r.p, r.len);
	tb_special(&b, 'g', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, "misplaced pax global header", "g after g rejected");
	tb_reset(&r);
	recs(&r, "path", "everything");
	tb_reset(&b);
	tb_special(&b, 'g', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, "pax global header sets 'path'", "g setting path rejected");
	tb_reset(&r);
	recs(&r, "size", "0");
	tb_reset(&b);
	tb_special(&b, 'g', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 1);
	tb_end(&b);
	CHECK(&b, "pax global header sets 'size'", "g setting size rejected");

	/* link names only on links */
	tb_reset(&r);
	recs(&r, "linkpath", "target");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "link name on a non-link entry", "pax linkpath on a regular file rejected");
	free(r.p);
	free(b.p);
}

static void test_gnu_long(void)
{
	struct tb b = { 0 };
	char name[5000];
	unsigned char h[512];

	memset(name, 'n', sizeof(name));
	name[300] = '\0';
	tb_special(&b, 'L', name, 301);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_special(&b, 'K', name, 301);
	hdr_make(h, "sym", '2', 0, true);
	tb_header(&b, h);
	tb_end(&b);
	CHECK(&b, NULL, "GNU L and K with names over 255 bytes pass");

	tb_reset(&b);
	tb_special(&b, 'L', name, 301);
	tb_special(&b, 'L', name, 301);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "redundant GNU long name header at offset 1024", "L after L rejected");

	tb_reset(&b);
	tb_special(&b, 'L', name, 300);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, NULL, "L without a terminating NUL passes");

	tb_reset(&b);
	tb_special(&b, 'L', "ab\0cd\0", 6);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "long name contains NUL at offset 512", "L with a hidden second name rejected");

	tb_reset(&b);
	tb_special(&b, 'L', "\0\0", 2);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "empty long name", "empty L rejected");

	memset(name, 'n', sizeof(name));
	tb_reset(&b);
	tb_special(&b, 'L', name, 4098);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "long name too long at offset 0", "L over max_path + 1 rejected");
	tb_reset(&b);
	name[4096] = '\0';
	tb_special(&b, 'L', name, 4097);
	tb_entry(&b, "short", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, NULL, "L of exactly max_path passes");

	tb_reset(&b);
	tb_special(&b, 'L', "abc", 4);
	tb_end(&b);
	CHECK(&b, "end-of-archive marker after an extension header",
	      "L before the marker rejected");

	tb_reset(&b);
	tb_special(&b, 'K', "abc", 4);
	tb_entry(&b, "f", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "link name on a non-link entry", "K before a regular file rejected");

	tb_reset(&b);
	{
		struct tb r = { 0 };

		recs(&r, "path", "other");
		tb_special(&b, 'L', "abc", 4);
		tb_special(&b, 'x', r.p, r.len);
		free(r.p);
	}
	tb_entry(&b, "f", '0', NULL, 5);
	tb_end(&b);
	CHECK(&b, "both GNU long name and pax path", "L plus pax path rejected");
	free(b.p);
}

/* An old GNU sparse ('S') entry with n chunks of 512 bytes every 1024. */
static void old_sparse(struct tb *b, int n, bool gnu)
{
	unsigned char h[512], ext[512];
	uint64_t off = 0;
	int i, slot = 0;
	unsigned char *sp = h + 386;

	hdr_make(h, "sparse", 'S', (uint64_t)n * 512, gnu);
	memset(ext, 0, sizeof(ext));
	put_octal(h + 483, 12, (uint64_t)n * 1024 + 4096);
	for (i = 0; i < n; i++, off += 1024) {
		if (i == 4) {
			h[482] = 1;
			sp = ext;
			slot = 0;
		}
		put_octal(sp + slot * 24, 12, off);
		put_octal(sp + slot * 24 + 12, 12, 512);
		slot++;
	}
	hdr_sum(h);
	tb_header(b, h);
	if (n > 4)
		tb_put(b, ext, 512);
	for (i = 0; i < n; i++) {
		tb_put(b, NULL, 512);
		memset(b->p + b->len - 512, 'A' + i, 512);
	}
}

/* A pax sparse 1.0 entry: 'x' at 0, header at 1024, map at 1536, 1024 data bytes. */
static void sparse10(struct tb *b, const char *map)
{
	struct tb r = { 0 };
	unsigned char h[512];

	recs(&r, "GNU.sparse.major", "1");
	recs(&r, "GNU.sparse.minor", "0");
	recs(&r, "GNU.sparse.name", "sp");
	recs(&r, "GNU.sparse.realsize", "8192");
	tb_reset(b);
	tb_special(b, 'x', r.p, r.len);
	hdr_make(h, "GNUSparseFile.0/sp", '0', 512 + 1024, false);
	tb_header(b, h);
	tb_put(b, map, strlen(map));
	tb_pad(b);
	tb_put(b, NULL, 1024);
	memset(b->p + b->len - 1024, 'D', 1024);
	tb_end(b);
	free(r.p);
}

static void test_sparse(void)
{
	static const char *const maps[] = {
		"2\n0\n512\n4096\n512\n", "2\n0\n512\n4096\n511\n",  "2\n0\n512\nx\n512\n",
		"9\n0\n512\n4096\n512\n", "2\n0\n512\n4096\n0512\n", "2\n0\n512\n0\n512\n",
	};
	static const char *const want[] = {
		NULL,
		"GNU sparse map does not match the entry at offset 1536",
		"bad GNU sparse map at offset 1544",
		"bad GNU sparse map",
		"bad GNU sparse map",
		"bad GNU sparse map",
	};
	struct tb b = { 0 }, r = { 0 };
	size_t i;

	old_sparse(&b, 3, true);
	tb_end(&b);
	CHECK(&b, NULL, "GNU old sparse entry passes");
	tb_reset(&b);
	old_sparse(&b, 6, true);
	tb_entry(&b, "after", '0', NULL, 3);
	tb_end(&b);
	CHECK(&b, NULL, "GNU old sparse entry with an extension block passes");
	b.p[512 + 504] = 1;
	CHECK(&b, "bad GNU sparse extension block at offset 512",
	      "extension flag on a half-full block rejected");
	b.p[512 + 504] = 0;
	b.p[512 + 24] = 'x';
	CHECK(&b, "bad GNU sparse extension block", "garbage sparse offset rejected");
	memcpy(b.p + 512 + 24, b.p + 512, 12);
	CHECK(&b, "bad GNU sparse extension block", "overlapping sparse chunks rejected");

	tb_reset(&b);
	old_sparse(&b, 3, false);
	tb_end(&b);
	CHECK(&b, "GNU sparse entry without GNU magic", "'S' in a POSIX header rejected");

	tb_reset(&b);
	old_sparse(&b, 3, true);
	tb_end(&b);
	put_octal(b.p + 124, 12, 3 * 512 + 512);
	hdr_sum(b.p);
	tb_put(&b, NULL, 512);
	CHECK(&b, "GNU sparse map does not match the entry at offset 0",
	      "old sparse map shorter than the size rejected");

	tb_reset(&b);
	old_sparse(&b, 2, true);
	tb_end(&b);
	memcpy(b.p + 386 + 48, b.p + 386, 24);
	hdr_sum(b.p);
	CHECK(&b, "bad GNU sparse header", "old sparse chunks out of order rejected");
	tb_reset(&b);
	old_sparse(&b, 2, true);
	tb_end(&b);
	memset(b.p + 386, 0, 24);
	hdr_sum(b.p);
	CHECK(&b, "bad GNU sparse header", "old sparse map with a hole in the slots rejected");
	tb_reset(&b);
	old_sparse(&b, 2, true);
	tb_end(&b);
	b.p[482] = 1;
	hdr_sum(b.p);
	CHECK(&b, "bad GNU sparse header", "isextended with free slots rejected");

	/* pax sparse 1.0: the map opens the data */
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		sparse10(&b, maps[i]);
		CHECK(&b, want[i], "pax sparse 1.0 map %zu", i);
	}
	sparse10(&b, maps[0]);
	b.p[1536 + 30] = 1;
	CHECK(&b, "bad GNU sparse map padding at offset 1566",
	      "pax sparse 1.0 map with dirty padding rejected");

	tb_reset(&r);
	recs(&r, "GNU.sparse.major", "2");
	recs(&r, "GNU.sparse.minor", "0");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "unsupported GNU sparse version", "pax sparse 2.0 rejected");

	/* pax sparse 0.0 and 0.1: the map is in the header */
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.numblocks", "2");
	recs(&r, "GNU.sparse.offset", "0");
	recs(&r, "GNU.sparse.numbytes", "100");
	recs(&r, "GNU.sparse.offset", "1000");
	recs(&r, "GNU.sparse.numbytes", "50");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp00", '0', NULL, 150);
	tb_end(&b);
	CHECK(&b, NULL, "pax sparse 0.0 passes");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp00", '0', NULL, 151);
	tb_end(&b);
	CHECK(&b, "GNU sparse map does not match", "pax sparse 0.0 with a wrong size rejected");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp00", '5', NULL, 0);
	tb_end(&b);
	CHECK(&b, "GNU sparse records on a non-regular entry",
	      "pax sparse on a directory rejected");

	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.numblocks", "2");
	recs(&r, "GNU.sparse.map", "0,100,1000,50");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp01", '0', NULL, 150);
	tb_end(&b);
	CHECK(&b, NULL, "pax sparse 0.1 passes");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.numblocks", "3");
	recs(&r, "GNU.sparse.map", "0,100,1000,50");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "bad GNU sparse map", "pax sparse 0.1 with a wrong block count rejected");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.map", "0,100,1000");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "bad GNU sparse map", "pax sparse 0.1 with an odd map rejected");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.map", "0,3,,1");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "bad GNU sparse map", "pax sparse 0.1 with an empty number rejected");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.map", "0,3");
	recs(&r, "GNU.sparse.major", "1");
	recs(&r, "GNU.sparse.minor", "0");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "mixed GNU sparse formats", "two sparse dialects in one header rejected");

	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.offset", "0");
	recs(&r, "GNU.sparse.numbytes", "3");
	recs(&r, "GNU.sparse.numblocks", "1");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "bad GNU sparse map", "pax sparse 0.0 pairs before numblocks rejected");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse5numblocks", "1");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "unknown pax keyword 'GNU.sparse5numblocks'",
	      "keywords libarchive treats as sparse are checked by its prefix");
	tb_reset(&r);
	recs(&r, "GNU.sparse.name", "renamed");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "GNU sparse records without a map", "sparse name without a map rejected");
	tb_reset(&r);
	recs(&r, "GNU.sparse.size", "4096");
	recs(&r, "GNU.sparse.map", "0,3");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp", '\0', NULL, 3);
	tb_end(&b);
	CHECK(&b, "GNU sparse records on a non-regular entry",
	      "pax sparse on typeflag NUL rejected (libarchive: '0' only)");
	tb_reset(&b);
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "sp", '0', NULL, 3);
	tb_end(&b);
	CHECK(&b, NULL, "the same on typeflag '0' passes");
	tb_reset(&r);
	recs(&r, "GNU.sparse.major", "1");
	recs(&r, "GNU.sparse.minor", "0");
	pax_case(&b, r.p, r.len);
	CHECK(&b, "without a real size", "pax sparse 1.0 without realsize rejected");
	free(r.p);
	free(b.p);
}

static void test_sticky(void)
{
	struct sk_err err = SK_ERR_INIT;
	struct targuard *g = NULL;
	struct tb b = { 0 };
	char first[sizeof(err.msg)];
	int r1, r2, r3;

	tb_entry(&b, "a", '0', NULL, 3);
	b.p[0] ^= 1;
	ok(targuard_new(&g, &lim, &err) == 0, "targuard_new");
	r1 = targuard_feed(g, b.p, b.len, &err);
	snprintf(first, sizeof(first), "%s", err.msg);
	sk_err_clear(&err);
	r2 = targuard_feed(g, b.p, 10, &err);
	ok(r1 == -1 && r2 == -1 && err.code == SK_EDAMAGED && strcmp(first, err.msg) == 0,
	   "a rejection sticks across feeds");
	sk_err_clear(&err);
	r3 = targuard_finish(g, &err);
	ok(r3 == -1 && strcmp(first, err.msg) == 0, "and finish repeats it");
	targuard_free(g);
	targuard_free(NULL);
	free(b.p);
}

/* ---- files: corpus and generated archives ---- */

static bool env_is(const char *name, const char *val)
{
	const char *v = getenv(name);

	return v && strcmp(v, val) == 0;
}

/* A missing prerequisite: a failure under CI, a skip elsewhere. */
static void missing(const char *what)
{
	if (env_is("CI", "true"))
		ok(0, "%s is available (CI=true: no skipping)", what);
	else
		ok(1, "%s # SKIP not available", what);
}

/* Read a file, or the output of a shell command, entirely. */
static unsigned char *slurp(const char *path, const char *cmd, size_t *len)
{
	FILE *f = cmd ? popen(cmd, "r") : fopen(path, "rb");
	unsigned char *p = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		n = fread(p + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	if (cmd)
		pclose(f);
	else
		fclose(f);
	return p;
}

enum how { RAW, GZIP, BZIP2, NOT_TAR };

/*
 * Every file in the corpus, its verdict from the guard, and why. REJECT
 * entries name a piece of the expected message. PASS entries are valid
 * framing; the path-semantic ones among them are the extractor's to refuse.
 */
static const struct corpus_case {
	const char *file;
	enum how how;
	const char *want; /* NULL: passes */
	const char *why;
} corpus[] = {
	{ "cpython/recursion.tar", RAW, "no ustar magic", "'g' with '0 X=' record, no magic" },
	{ "cpython/testtar.tar", RAW, "unsupported entry type '7'", "format zoo with devices" },
	{ "go/gnu-incremental.tar", RAW, "unsupported entry type 'D'", "GNU dumpdir" },
	{ "go/gnu-sparse-big.tar", RAW, NULL, "old GNU sparse, 60 GB, extension block" },
	{ "go/hardlink.tar", RAW, NULL, "file plus hardlink" },
	{ "go/hdr-only.tar", RAW, "unsupported entry type '6' (fifo) at offset 512", "devices" },
	{ "go/issue10968.tar", RAW, "bad header checksum at offset 0", "fuzzed header" },
	{ "go/issue11169.tar", RAW, "bad header checksum at offset 0",
	  "checksum field '011420\\0' '0'; its pax record is bad too" },
	{ "go/issue12435.tar", RAW, "no ustar magic", "fuzzed sparse header" },
	{ "go/neg-size.tar", RAW, "no ustar magic", "fuzzed header, negative base-256 size" },
	{ "go/pax-bad-hdr-file.tar", RAW, "pax record does not end in a newline at offset 512",
	  "record length mismatch" },
	{ "go/pax-bad-hdr-large.tar.bz2", BZIP2, "pax header too large at offset 0",
	  "pax header over 1 MiB" },
	{ "go/pax-bad-mtime-file.tar", RAW, "bad pax mtime at offset 512", "unparsable mtime" },
	{ "go/pax-nul-path.tar", RAW, "pax path contains NUL at offset 512", "NUL in path" },
	{ "go/pax-nul-xattrs.tar", RAW, "pax keyword contains NUL at offset 512",
	  "NUL in xattr key" },
	{ "go/sparse-formats.tar", RAW, NULL, "GNU old sparse and pax 0.0, 0.1, 1.0" },
	{ "go/writer-big-long.tar", RAW, "truncated archive at offset 1536", "16 GiB, no data" },
	{ "go/xattrs.tar", RAW, NULL, "SCHILY.xattr with a binary value" },
	{ "jwilk/absolute1.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/absolute2.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/dirsymlink.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/dirsymlink2a.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/dirsymlink2b.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/relative0.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/relative2.tar", RAW, NULL, "path semantics: extractor" },
	{ "jwilk/symlink.tar", RAW, NULL, "path semantics: extractor" },
	{ "libarchive/test_compat_gzip_1.tgz", GZIP, NULL, "multi-member gzip, valid tar" },
	{ "libarchive/test_compat_gzip_2.tgz", GZIP, NULL,
	  "tar is valid; the gzip trailing garbage is the codec's to reject" },
	{ "libarchive/test_read_filter_gzip_recursive.gz", NOT_TAR, NULL, "gzip layer only" },
	{ "libarchive/test_read_format_gtar_redundant_L.tar.Z", GZIP,
	  "redundant GNU long name header at offset 1024", "L after L" },
	{ "libarchive/test_read_format_tar_V_negative_size.tar", RAW,
	  "bad header checksum at offset 0", "'V' with negative size" },
	{ "libarchive/test_read_format_tar_acl_oob_read.tar", RAW,
	  "pax record does not end in a newline at offset 2048", "crafted ACL record" },
	{ "libarchive/test_read_format_tar_empty_filename.tar", RAW, NULL,
	  "empty name: extractor" },
	{ "libarchive/test_read_format_tar_invalid_pax_size.tar", RAW, "no ustar magic",
	  "'utsar' magic; negative pax size" },
	{ "libarchive/test_read_format_tar_pax_g_large.tar", RAW,
	  "pax header too large at offset 0", "4 GiB 'g' header" },
	{ "libarchive/test_read_pax_empty_val_no_nl.tar", RAW,
	  "bad pax record length at offset 512", "'4 x=' without newline" },
	{ "libarchive/test_read_too_many_filters.gz", NOT_TAR, NULL, "gzip layer only" },
	{ "node-tar/bad-cksum.tar", RAW, "bad header checksum at offset 1024", "bad checksum" },
	{ "node-tar/excessively-deep.tar", RAW, "pax path too long at offset 512",
	  "444 KB path over max_path" },
	{ "node-tar/links-invalid.tar", RAW, NULL, "empty link target: extractor" },
	{ "node-tar/long-linkname.tar", RAW, NULL, "pax linkpath" },
	{ "node-tar/path-missing.tar", RAW, NULL, "empty name: extractor" },
	{ "node-tar/sync-gzip-fail.tgz", GZIP, NULL, "small valid tgz" },
	{ "snyk/zip-slip-win.tar", RAW, NULL, "path semantics: extractor" },
	{ "snyk/zip-slip.tar", RAW, NULL, "path semantics: extractor" },
	{ "tar-rs/simple_missing_last_header.tar", RAW, NULL,
	  "has 16 zero blocks after 3 headers: a valid end of archive (tar-rs reads it too)" },
	{ "tar-rs/sparse-large.tar", RAW, NULL, "old GNU sparse, base-256 offsets" },
	{ "tar-split/1c51fc28-no-eof-marker.tar.gz", GZIP,
	  "missing end-of-archive marker at offset 1024", "no end-of-archive marker" },
	{ "tar-split/fatlonglink.tar.gz", GZIP, NULL, "26 MB of GNU long names" },
	{ "tar-split/notenoughnils.tar.gz", GZIP, "missing end-of-archive marker at offset 512",
	  "header only" },
	{ "tar-stream/base-256-size.tar", RAW, NULL, "base-256 size" },
	{ "tar-stream/incomplete.tar", RAW, "truncated archive at offset 1000", "truncated" },
	{ "tar-stream/unknown-format.tar", RAW, "no ustar magic", "magic removed" },
};

static const struct corpus_case *corpus_find(const char *rel)
{
	size_t i;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		if (strcmp(corpus[i].file, rel) == 0)
			return &corpus[i];
	return NULL;
}

static void test_corpus(void)
{
	const char *dir = getenv("SK_CORPUS");
	char path[4096], cmd[4200], msg[600];
	struct stat st;
	size_t i, len;

	if (!dir || !*dir)
		dir = "../shared/corpus";
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		missing("corpus directory (SK_CORPUS or ../shared/corpus)");
		return;
	}

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		const struct corpus_case *c = &corpus[i];
		unsigned char *data;
		bool good;

		snprintf(path, sizeof(path), "%s/%s", dir, c->file);
		if (c->how == NOT_TAR) {
			ok(stat(path, &st) == 0, "corpus %s: present (not a tar stream: %s)",
			   c->file, c->why);
			continue;
		}
		if (c->how == GZIP)
			snprintf(cmd, sizeof(cmd), "gzip -dc '%s' 2>/dev/null", path);
		else if (c->how == BZIP2)
			snprintf(cmd, sizeof(cmd), "bzip2 -dc '%s' 2>/dev/null", path);
		data = slurp(path, c->how == RAW ? NULL : cmd, &len);
		if (!data || len == 0) {
			ok(0, "corpus %s: readable", c->file);
			free(data);
			continue;
		}
		good = expect(data, len, c->want, msg, sizeof(msg));
		ok(good, "corpus %s: %s (%s)", c->file, c->want ? "REJECT" : "PASS", c->why);
		if (!good || c->want)
			printf("#   %s\n", msg[0] ? msg : "passes");
		free(data);
	}

	/* Every file in the corpus has a row in the table. */
	{
		static const char *const subdirs[] = { "cpython",    "go",	  "jwilk",
						       "libarchive", "node-tar",  "snyk",
						       "tar-rs",     "tar-split", "tar-stream" };
		size_t s, files = 0, unknown = 0;

		for (s = 0; s < sizeof(subdirs) / sizeof(subdirs[0]); s++) {
			struct dirent *de;
			DIR *d;

			snprintf(path, sizeof(path), "%s/%s", dir, subdirs[s]);
			d = opendir(path);
			if (!d)
				continue;
			while ((de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", subdirs[s], de->d_name);
				files++;
				if (!corpus_find(path)) {
					unknown++;
					printf("# corpus file without a verdict: %s\n", path);
				}
			}
			closedir(d);
		}
		ok(unknown == 0 && files == sizeof(corpus) / sizeof(corpus[0]),
		   "the corpus table covers all %zu corpus files", files);
	}
}

/* Archives GNU tar and bsdtar write, with what the guard must say about them. */
static const struct gen_case {
	const char *file;
	const char *cmd; /* run in the temp dir */
	const char *want;
} generated[] = {
	{ "gnu.tar", "tar --format=gnu -S -cf gnu.tar -C src tree", NULL },
	{ "oldgnu.tar", "tar --format=oldgnu -S -cf oldgnu.tar -C src tree", NULL },
	{ "pax.tar", "tar --format=pax -S -cf pax.tar -C src tree", NULL },
	{ "posix.tar", "tar --format=posix -cf posix.tar -C src tree", NULL },
	{ "pax-sparse00.tar",
	  "tar --format=pax -S --sparse-version=0.0 -cf pax-sparse00.tar -C src tree", NULL },
	{ "pax-sparse01.tar",
	  "tar --format=pax -S --sparse-version=0.1 -cf pax-sparse01.tar -C src tree", NULL },
	{ "pax-sparse10.tar",
	  "tar --format=pax -S --sparse-version=1.0 -cf pax-sparse10.tar -C src tree", NULL },
	{ "ustar.tar", "tar --format=ustar -cf ustar.tar -C src small", NULL },
	{ "gnu-b1.tar", "tar --format=gnu -b 1 -cf gnu-b1.tar -C src small", NULL },
	{ "bsd-pax.tar", "bsdtar --format pax -cf bsd-pax.tar -C src tree", NULL },
	{ "bsd-ustar.tar", "bsdtar --format ustar -cf bsd-ustar.tar -C src small", NULL },
	{ "bsd-gnutar.tar", "bsdtar --format gnutar -cf bsd-gnutar.tar -C src tree", NULL },
	{ "bsd-default.tar", "bsdtar -cf bsd-default.tar -C src tree", NULL },
	{ "fifo.tar", "tar --format=pax -cf fifo.tar -C src special",
	  "unsupported entry type '6' (fifo)" },
	{ "incremental.tar", "tar --format=gnu -g snar -cf incremental.tar -C src small",
	  "unsupported entry type 'D'" },
	{ "v7.tar", "tar --format=v7 -cf v7.tar -C src small", "no ustar magic" },
};

/* The tree the archives are made of: long names, links, holes, empty things. */
static const char tree_script[] =
    "set -e\n"
    "mkdir -p src/tree/empty src/tree/sub src/small/d src/special\n"
    "printf 'hello\\n' > src/tree/a.txt\n"
    ": > src/tree/zero\n"
    "ln src/tree/a.txt src/tree/hard.txt\n"
    "ln -s a.txt src/tree/sym\n"
    "ln -s ../a.txt src/tree/sub/up\n"
    "head -c 100000 /dev/zero | tr '\\0' 'q' > src/tree/sub/data.bin\n"
    "n120=$(printf 'n%.0s' $(seq 120))\n"
    "printf 'long\\n' > src/tree/$n120\n"
    "d60=$(printf 'd%.0s' $(seq 60))\n"
    "mkdir -p src/tree/$d60/$d60/$d60/$d60/$d60\n"
    "printf 'deep\\n' > src/tree/$d60/$d60/$d60/$d60/$d60/$n120\n"
    "ln src/tree/$d60/$d60/$d60/$d60/$d60/$n120 src/tree/deeplink\n"
    "ln -s $d60/$d60/$d60/$d60/$d60/$n120 src/tree/longsym\n"
    "truncate -s 3M src/tree/sparse\n"
    "printf x | dd of=src/tree/sparse bs=1 seek=1048576 conv=notrunc 2>/dev/null\n"
    "printf y | dd of=src/tree/sparse bs=1 seek=2097152 conv=notrunc 2>/dev/null\n"
    "truncate -s 1M src/tree/allhole\n"
    "printf 'small\\n' > src/small/f\n"
    "ln src/small/f src/small/hard\n"
    "ln -s f src/small/sym\n"
    "printf 'x\\n' > src/small/d/g\n"
    "mkfifo src/special/fifo\n"
    "printf 'x\\n' > src/special/plain\n";

static bool have(const char *tool)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void test_generated(void)
{
	char tmpl[] = "/tmp/targuard-test.XXXXXX", cmd[8192], path[512], msg[600];
	const char *tmp;
	bool gnu = have("tar") && system("tar --version 2>/dev/null | grep -q 'GNU tar'") == 0;
	bool bsd = have("bsdtar");
	size_t i, len;

	if (!gnu)
		missing("GNU tar");
	if (!bsd)
		missing("bsdtar (Debian package libarchive-tools)");
	tmp = mkdtemp(tmpl);
	if (!tmp) {
		ok(0, "mkdtemp");
		return;
	}
	{
		FILE *f;

		snprintf(path, sizeof(path), "%s/make-tree.sh", tmp);
		f = fopen(path, "w");
		if (!f) {
			ok(0, "write %s", path);
			return;
		}
		fputs(tree_script, f);
		fclose(f);
		snprintf(cmd, sizeof(cmd), "cd '%s' && sh make-tree.sh", tmp);
		ok(system(cmd) == 0, "generated source tree");
	}

	for (i = 0; i < sizeof(generated) / sizeof(generated[0]); i++) {
		const struct gen_case *c = &generated[i];
		unsigned char *data;
		bool good;

		if (strncmp(c->cmd, "bsdtar", 6) == 0 ? !bsd : !gnu)
			continue;
		snprintf(cmd, sizeof(cmd), "cd '%s' && %s 2>/dev/null", tmp, c->cmd);
		if (system(cmd) != 0 && !c->want) {
			ok(0, "generated %s: %s", c->file, c->cmd);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", tmp, c->file);
		data = slurp(path, NULL, &len);
		if (!data || len == 0) {
			ok(0, "generated %s: written", c->file);
			free(data);
			continue;
		}
		good = expect(data, len, c->want, msg, sizeof(msg));
		ok(good, "generated %s (%s): %s", c->file, c->cmd, c->want ? "REJECT" : "PASS");
		if (!good || c->want)
			printf("#   %s\n", msg[0] ? msg : "passes");
		free(data);
	}

	/* The test relies on the tools really writing what it means to test. */
	if (gnu) {
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && grep -qa 'GNU.sparse.map' pax-sparse01.tar && "
			 "grep -qa 'GNU.sparse.major=1' pax-sparse10.tar && "
			 "grep -qa 'GNU.sparse.numblocks' pax-sparse00.tar && "
			 "grep -qa '././@LongLink' gnu.tar",
			 tmp);
		ok(system(cmd) == 0, "GNU tar wrote pax sparse 0.0, 0.1, 1.0 and GNU long names");
	}
	if (bsd) {
		snprintf(cmd, sizeof(cmd), "cd '%s' && grep -qa 'GNU.sparse.major=1' bsd-pax.tar",
			 tmp);
		ok(system(cmd) == 0, "bsdtar wrote a pax sparse 1.0 entry");
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
}

/*
 * Damage a valid archive a byte at a time: the guard must not crash, and
 * must say the same thing however the stream is cut.
 */
static void test_mutations(void)
{
	struct tb b = { 0 }, r = { 0 };
	unsigned char *copy;
	uint32_t seed = 12345;
	char m1[600], m2[600];
	int i, bad = 0;

	recs(&r, "path", "some/long/path");
	recs(&r, "mtime", "1700000000.5");
	recs(&r, "SCHILY.xattr.user.k", "v");
	tb_special(&b, 'x', r.p, r.len);
	tb_entry(&b, "f", '0', NULL, 700);
	tb_special(&b, 'L', "a-long-name", 12);
	tb_entry(&b, "g", '0', NULL, 3);
	old_sparse(&b, 6, true);
	tb_reset(&r);
	recs(&r, "GNU.sparse.major", "1");
	recs(&r, "GNU.sparse.minor", "0");
	recs(&r, "GNU.sparse.realsize", "8192");
	tb_special(&b, 'x', r.p, r.len);
	{
		unsigned char h[512];
		const char *map = "2\n0\n512\n4096\n512\n";

		hdr_make(h, "sp", '0', 512 + 1024, false);
		tb_header(&b, h);
		tb_put(&b, map, strlen(map));
		tb_pad(&b);
		tb_put(&b, NULL, 1024);
	}
	tb_end(&b);
	CHECK(&b, NULL, "mutation base archive passes");

	copy = malloc(b.len);
	if (!copy)
		abort();
	for (i = 0; i < 3000; i++) {
		size_t pos;
		int r1, r2;

		memcpy(copy, b.p, b.len);
		seed = seed * 1103515245u + 12345u;
		pos = (seed >> 8) % b.len;
		seed = seed * 1103515245u + 12345u;
		copy[pos] = (unsigned char)(seed >> 16);
		r1 = run(copy, b.len, 0, m1, sizeof(m1));
		r2 = run(copy, b.len, 7, m2, sizeof(m2));
		if (r1 != r2 || strcmp(m1, m2) != 0 || r1 == -2) {
			if (bad++ < 5)
				printf("# mutation at %zu: '%s' vs '%s'\n", pos, m1, m2);
		}
	}
	ok(bad == 0, "3000 single-byte mutations give the same verdict whole and in 7-byte pieces");
	free(copy);
	free(r.p);
	free(b.p);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_basics();
	test_headers();
	test_pax();
	test_gnu_long();
	test_sparse();
	test_sticky();
	test_mutations();
	test_corpus();
	test_generated();
	return tap_done();
}
