/*
 * hash: sha256 through OpenSSL's EVP interface (which uses the CPU's SHA
 * instructions where it has them). Only this module includes OpenSSL headers.
 */
#ifndef SK_HASH_H
#define SK_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

#define HASH_HEX_LEN 64
#define HASH_LEN 32 /* a sha256 digest in bytes */

struct hash;

int hash_new(struct hash **out, struct sk_err *err);
void hash_update(struct hash *h, const void *buf, size_t len);
/* Write the lowercase hex digest (65 bytes with NUL) and free. */
void hash_final(struct hash *h, char hex[HASH_HEX_LEN + 1]);
void hash_free(struct hash *h);
/* The digest as bytes, and free. */
void hash_final_raw(struct hash *h, uint8_t md[HASH_LEN]);
/* Lowercase hex of a digest (65 bytes with NUL); parse it back (-1 if not 64 hex digits). */
void hash_hex(const uint8_t md[HASH_LEN], char hex[HASH_HEX_LEN + 1]);
int hash_unhex(const char *hex, uint8_t md[HASH_LEN]);

/* sha256 of the whole file at path; *size gets its length. SK_ENOENT when
 * missing, SK_EFAIL on a read error. */
/*
 * The sha256 of len bytes at buf in one call, as bytes; and as hex. These
 * cannot fail (libcrypto's one-shot digest; on an allocation failure the
 * digest is all 0xff, which matches nothing).
 */
void hash_buf(const void *buf, size_t len, uint8_t md[HASH_LEN]);
void hash_buf_hex(const void *buf, size_t len, char hex[HASH_HEX_LEN + 1]);
/* The MD5 of buf, base64 as Content-MD5 wants it (24 characters and a NUL). */
void hash_md5_b64(const void *buf, size_t len, char out[25]);
/*
 * The same for len bytes of fd from off, read in pieces (a part of an
 * artifact, too big to hold). SK_EFAIL on a read error or early end.
 */
int hash_md5_b64_fd(int fd, uint64_t off, uint64_t len, char out[25], struct sk_err *err);
int hash_file(const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size, struct sk_err *err);
/*
 * The same for a file already open as fd (path names it in messages); prog,
 * when not NULL, counts the bytes digested. fd's offset is left anywhere.
 */
int hash_open_file(int fd, const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size,
		   struct progress *prog, struct sk_err *err);

/* One file for hash_many: path in; hex, size, ret and err out. */
struct hash_job {
	const char *path;
	char hex[HASH_HEX_LEN + 1];
	uint64_t size;
	int ret; /* 0 or -1 with err set */
	struct sk_err err;
};

/*
 * Hash every job's file with up to threads workers (0: one per core); a
 * file is hashed by one thread, so give the biggest first. When prog is not
 * NULL, the files' total length becomes its total and every byte digested
 * (holes included) is added to it. Returns -1 when any job failed (see each
 * job's ret and err), else 0.
 */
int hash_many(struct hash_job *jobs, size_t n, int threads, struct progress *prog);

/*
 * Chunked digests (manifest format 2). A file is cut into chunks of a fixed
 * size (the last may be shorter); each chunk has its sha256, and the file's
 * digest is the sha256 of its chunk digests, as bytes, in order. A chunk
 * of zeros has a known digest: it is never hashed, and a chunk that lies in
 * a hole is not even read.
 */
/*
 * What fcsnap-create writes. Measured (bench/fcdiff-bench.sh): on a 4 GiB
 * memory file holding 200 MB in 2 MiB runs, 2 MiB chunks digest it 14x
 * faster than the whole-file sha256, 4 MiB 7x and 8 MiB 4x; 1 MiB gains
 * nothing more and doubles the manifest.
 */
#define HASH_CHUNK_SIZE (2u << 20)
#define HASH_CHUNK_MIN (64u << 10)
#define HASH_CHUNK_MAX (64u << 20)

struct chunk_list {
	uint32_t chunk_size;
	size_t n;		/* ceil(file size / chunk_size) */
	uint8_t (*d)[HASH_LEN]; /* n digests, malloc'd */
};
/* How many chunks a file of size bytes has. */
size_t chunk_count(uint64_t size, uint32_t chunk_size);
/* The file digest of a chunk list. */
void chunk_list_digest(const struct chunk_list *cl, char hex[HASH_HEX_LEN + 1]);
/* Is chunk i the chunk of zeros of its length? */
int chunk_is_zero(const struct chunk_list *cl, size_t i, uint64_t file_size);
void chunk_list_free(struct chunk_list *cl);

/* One file for chunk_hash_many: path in; size, chunks, hex, ret and err out. */
struct chunk_job {
	const char *path;
	int punch; /* make the file's zero pages holes as they are read (memory files) */
	uint64_t size;
	struct chunk_list chunks; /* free with chunk_list_free */
	char hex[HASH_HEX_LEN + 1];
	int ret;
	struct sk_err err;
};
/*
 * The chunk digests of every job's file, chunks of every file spread over
 * up to threads workers (0: one per core). prog as for hash_many, counting
 * hole chunks as done at once. -1 when any job failed (see each job).
 */
int chunk_hash_many(struct chunk_job *jobs, size_t n, uint32_t chunk_size, int threads,
		    struct progress *prog);

/*
 * A hasher: the chunk digests of a stream (chunks of chunk_size) on a thread
 * of its own, so that a stream can be read, scanned and written on one core
 * while it is hashed on another. The caller fills a slot the hasher lends it
 * (hasher_slot), hands it over (hasher_commit) and may go on reading that
 * slot until it asks for the next one; runs of zeros are queued without a
 * buffer (hasher_zeros), and those that fill a chunk cost nothing. Order is
 * kept.
 */
#define HASHER_SLOT_SIZE (1u << 20)
struct hasher;
int hasher_start_chunked(struct hasher **out, uint32_t chunk_size, struct sk_err *err);
/* A buffer of HASHER_SLOT_SIZE bytes to fill; waits while all are in use. */
void *hasher_slot(struct hasher *hs);
/* Queue the first len bytes of the slot hasher_slot returned last. */
void hasher_commit(struct hasher *hs, size_t len);
/* Queue n zero bytes. */
void hasher_zeros(struct hasher *hs, uint64_t n);
/*
 * Wait for everything queued, give the chunk list (free it with
 * chunk_list_free) and the file digest, free. -1 (SK_EFAIL "interrupted")
 * when a SIGINT or SIGTERM cut a run of zeros short, so the digest is not
 * the file's.
 */
int hasher_finish_chunks(struct hasher *hs, struct chunk_list *cl, char hex[HASH_HEX_LEN + 1],
			 struct sk_err *err);
/* Stop and free without a digest; NULL is fine. */
void hasher_abort(struct hasher *hs);

#endif
