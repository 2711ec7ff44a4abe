/*
 * hash_test: chunked digests against OpenSSL's SHA256() as the oracle, for
 * files (data, holes, written zeros, a short tail) on one and many threads,
 * and for the same bytes fed to the stream hasher in pieces of any length;
 * fs_pread_sparse against pread on a file with holes of a page.
 */
#include "fsutil.h"
#include "hash.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CS HASH_CHUNK_MIN

static char dir[] = "/tmp/hash_test.XXXXXX";

/* The oracle: every chunk of buf (len bytes), and the digest of the list. */
static void oracle(const uint8_t *buf, size_t len, uint8_t (*d)[HASH_LEN], char hex[65])
{
	size_t i, n = chunk_count(len, CS);
	uint8_t md[HASH_LEN];

	for (i = 0; i < n; i++) {
		size_t off = i * CS, k = len - off < CS ? len - off : CS;

		SHA256(buf + off, k, d[i]);
	}
	SHA256((const uint8_t *)d, n * HASH_LEN, md);
	hash_hex(md, hex);
}

/* A file of len bytes from buf; zero stretches of a whole chunk become holes if sparse. */
static void write_file(const char *path, const uint8_t *buf, size_t len, int sparse)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t off;

	if (fd < 0 || ftruncate(fd, (off_t)len) < 0)
		exit(99);
	for (off = 0; off < len; off += CS) {
		size_t k = len - off < CS ? len - off : CS, i;
		int zero = 1;

		for (i = 0; i < k && zero; i++)
			zero = buf[off + i] == 0;
		if (zero && sparse)
			continue;
		if (pwrite(fd, buf + off, k, (off_t)off) != (ssize_t)k)
			exit(99);
	}
	close(fd);
}

static int same_list(const struct chunk_list *cl, uint8_t (*d)[HASH_LEN], size_t n)
{
	return cl->n == n && cl->chunk_size == CS &&
	       (n == 0 || memcmp(cl->d, d, n * HASH_LEN) == 0);
}

static void test_hex(void)
{
	uint8_t md[HASH_LEN], back[HASH_LEN];
	char hex[65];
	int i;

	for (i = 0; i < HASH_LEN; i++)
		md[i] = (uint8_t)(i * 37 + 5);
	hash_hex(md, hex);
	ok(strlen(hex) == 64 && hash_unhex(hex, back) == 0 && memcmp(md, back, HASH_LEN) == 0,
	   "hex: a digest survives hex and back");
	hex[3] = 'A';
	ok(hash_unhex(hex, back) < 0, "hex: upper case is refused (digests are written in lower)");
	ok(hash_unhex("abc", back) < 0, "hex: a short string is refused");
	hash_hex(md, hex);
	{
		char longer[70];

		snprintf(longer, sizeof(longer), "%s00", hex);
		ok(hash_unhex(longer, back) < 0, "hex: a longer string is refused");
	}
}

/* Chunks: data, a hole, written zeros, data, then a short tail of data. */
static uint8_t *sample(size_t *len)
{
	size_t n = 4 * CS + 12345, i;
	uint8_t *buf = calloc(1, n);

	if (!buf)
		exit(99);
	srand(7);
	for (i = 0; i < CS; i++)
		buf[i] = (uint8_t)rand();
	for (i = 3 * CS; i < n; i++)
		buf[i] = (uint8_t)rand();
	buf[3 * CS + 100] = 0; /* zeros inside a data chunk are data */
	*len = n;
	return buf;
}

static void test_files(void)
{
	size_t len, n;
	uint8_t *buf = sample(&len);
	uint8_t(*want)[HASH_LEN];
	char hex[65], p1[256], p2[256];
	struct chunk_job jobs[2];
	int threads;

	n = chunk_count(len, CS);
	want = calloc(n, HASH_LEN);
	oracle(buf, len, want, hex);
	snprintf(p1, sizeof(p1), "%s/sparse", dir);
	snprintf(p2, sizeof(p2), "%s/dense", dir);
	write_file(p1, buf, len, 1);
	write_file(p2, buf, len, 0);
	for (threads = 1; threads <= 4; threads += 3) {
		memset(jobs, 0, sizeof(jobs));
		jobs[0].path = p1;
		jobs[1].path = p2;
		ok(chunk_hash_many(jobs, 2, CS, threads, NULL) == 0,
		   "files: %d thread(s) hash both", threads);
		ok(n == 5 && jobs[0].size == len && same_list(&jobs[0].chunks, want, n),
		   "files: %d thread(s): every chunk of the sparse file is its sha256", threads);
		ok(same_list(&jobs[1].chunks, want, n) && !strcmp(jobs[0].hex, hex) &&
		       !strcmp(jobs[1].hex, hex),
		   "files: %d thread(s): holes and written zeros give the same digests", threads);
		ok(!chunk_is_zero(&jobs[0].chunks, 0, len) &&
		       chunk_is_zero(&jobs[0].chunks, 1, len) &&
		       chunk_is_zero(&jobs[0].chunks, 2, len) &&
		       !chunk_is_zero(&jobs[0].chunks, 3, len) &&
		       !chunk_is_zero(&jobs[0].chunks, 4, len),
		   "files: %d thread(s): the hole and the zeros are known zero chunks, nothing "
		   "else",
		   threads);
		chunk_list_free(&jobs[0].chunks);
		chunk_list_free(&jobs[1].chunks);
	}
	free(want);
	free(buf);
}

static void test_edges(void)
{
	struct chunk_job j[3];
	char p[256], q[256], hex[65];
	uint8_t md[HASH_LEN];
	uint8_t *buf = calloc(1, 2 * CS);

	memset(j, 0, sizeof(j));
	snprintf(p, sizeof(p), "%s/empty", dir);
	write_file(p, buf, 0, 0);
	snprintf(q, sizeof(q), "%s/exact", dir);
	memset(buf, 0xab, 2 * CS);
	write_file(q, buf, 2 * CS, 0);
	j[0].path = p;
	j[1].path = q;
	j[2].path = "/nonexistent/hash_test";
	ok(chunk_hash_many(j, 3, CS, 2, NULL) < 0 && j[2].ret < 0 && j[2].err.code == SK_ENOENT,
	   "edges: a missing file fails with SK_ENOENT, alone");
	SHA256((const uint8_t *)"", 0, md);
	hash_hex(md, hex);
	ok(j[0].ret == 0 && j[0].chunks.n == 0 && !strcmp(j[0].hex, hex),
	   "edges: an empty file has no chunks and the digest of an empty list");
	ok(j[1].ret == 0 && j[1].chunks.n == 2, "edges: a file of exactly two chunks has two");
	chunk_list_free(&j[0].chunks);
	chunk_list_free(&j[1].chunks);
	free(buf);
}

static void test_big_hole(void)
{
	char p[256];
	struct chunk_job j = { 0 };
	uint64_t size = 1ull << 32;
	size_t i, zero = 0;
	int fd;

	snprintf(p, sizeof(p), "%s/hole", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0 || pwrite(fd, "x", 1, (off_t)(size / 2)) != 1)
		exit(99);
	close(fd);
	j.path = p;
	ok(chunk_hash_many(&j, 1, 4u << 20, 0, NULL) == 0 && j.chunks.n == 1024,
	   "hole: a 4 GiB sparse file has 1024 chunks of 4 MiB");
	for (i = 0; i < j.chunks.n; i++)
		zero += chunk_is_zero(&j.chunks, i, size);
	ok(zero == 1023 && !chunk_is_zero(&j.chunks, 512, size),
	   "hole: all are zero chunks but the one holding the byte (%zu)", zero);
	chunk_list_free(&j.chunks);
	unlink(p);
}

/* Feed buf to a chunked hasher in pieces of varying length, zero pieces as runs. */
static void test_stream(void)
{
	size_t len, n, pos = 0, step = 1;
	uint8_t *buf = sample(&len);
	uint8_t(*want)[HASH_LEN];
	struct chunk_list cl = { 0 };
	struct hasher *hs;
	struct sk_err err = SK_ERR_INIT;
	char hex[65], got[65];

	n = chunk_count(len, CS);
	want = calloc(n, HASH_LEN);
	oracle(buf, len, want, hex);
	ok(hasher_start_chunked(&hs, CS, &err) == 0, "stream: the chunked hasher starts");
	while (pos < len) {
		size_t k = step % 7 == 0 ? 3 * CS / 2 : step * 977 % (HASHER_SLOT_SIZE / 2) + 1, i;
		int zero = 1;

		if (k > len - pos)
			k = len - pos;
		for (i = 0; i < k && zero; i++)
			zero = buf[pos + i] == 0;
		if (zero) {
			hasher_zeros(hs, k);
		} else {
			memcpy(hasher_slot(hs), buf + pos, k);
			hasher_commit(hs, k);
		}
		pos += k;
		step++;
	}
	ok(hasher_finish_chunks(hs, &cl, got, &err) == 0, "stream: it finishes (%s)", err.msg);
	ok(same_list(&cl, want, n) && !strcmp(got, hex),
	   "stream: pieces of any length and runs of zeros give the file's chunk digests");
	chunk_list_free(&cl);

	ok(hasher_start_chunked(&hs, CS, &err) == 0, "stream: a second hasher starts");
	hasher_zeros(hs, 2 * CS + 5);
	ok(hasher_finish_chunks(hs, &cl, got, &err) == 0 && cl.n == 3 &&
	       chunk_is_zero(&cl, 0, 2 * CS + 5) && chunk_is_zero(&cl, 2, 2 * CS + 5),
	   "stream: zeros alone make known zero chunks, the short tail too");
	chunk_list_free(&cl);
	free(want);
	free(buf);
}

/*
 * A file of 40 pages and a 100-byte tail: data, holes a page long, a run
 * of holes, written zeros. fs_pread_sparse must read every range of it as
 * pread does, and fail with EIO on a range past its end.
 */
static void test_sparse_read(void)
{
	enum { PG = 4096, NPG = 40, LEN = NPG * PG + 100 };
	static const char kind[NPG + 1] = "dhdhhhdzdhhhhhhhhhhdddhzhdhhhhhhhhhhhhhd";
	static uint8_t want[LEN], got[LEN + PG];
	char path[300];
	size_t i, bad = 0, n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/sparse", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, LEN) < 0)
		exit(99);
	for (i = 0; i < LEN; i++)
		want[i] = (i / PG < NPG && kind[i / PG] == 'd') || i / PG == NPG
			      ? (uint8_t)(i * 7 + 1)
			      : 0;
	for (i = 0; i <= NPG; i++)
		if (i == NPG || kind[i] != 'h') {
			size_t k = i == NPG ? 100 : PG;

			if (pwrite(fd, want + i * PG, k, (off_t)(i * PG)) != (ssize_t)k)
				exit(99);
		}
	for (i = 0; i + 1 < LEN; i += 1531) {
		size_t len;

		for (len = 1; i + len <= LEN; len = len * 3 + 17) {
			memset(got, 0xa5, len);
			n++;
			if (fs_pread_sparse(fd, got, len, i) < 0 || memcmp(got, want + i, len))
				bad++;
		}
	}
	ok(bad == 0, "fs_pread_sparse reads %zu ranges of a file with holes as pread does", n);
	ok(fs_pread_sparse(fd, got, LEN, 0) == 0 && !memcmp(got, want, LEN), "and the whole file");
	errno = 0;
	ok(fs_pread_sparse(fd, got, 200, LEN - 100) < 0 && errno == EIO,
	   "a range past the end of the file is EIO");
	ok(ftruncate(fd, 20 * PG) == 0 && fs_pread_sparse(fd, got, 4 * PG, 19 * PG) < 0 &&
	       errno == EIO,
	   "and so is one that ends in a hole past the end");
	close(fd);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("hash_test: mkdtemp");
		return 99;
	}
	test_hex();
	test_files();
	test_edges();
	test_big_hole();
	test_stream();
	test_sparse_read();
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 99;
	}
	return tap_done();
}
