/*
 * hash: sha256 through OpenSSL's EVP interface (which uses the CPU's SHA
 * instructions where it has them). Only this module includes OpenSSL headers.
 */
#ifndef SK_HASH_H
#define SK_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define HASH_HEX_LEN 64

struct hash;

int hash_new(struct hash **out, struct sk_err *err);
void hash_update(struct hash *h, const void *buf, size_t len);
/* Write the lowercase hex digest (65 bytes with NUL) and free. */
void hash_final(struct hash *h, char hex[HASH_HEX_LEN + 1]);
void hash_free(struct hash *h);

/* sha256 of the whole file at path; *size gets its length. SK_ENOENT when
 * missing, SK_EFAIL on a read error. */
int hash_file(const char *path, char hex[HASH_HEX_LEN + 1], uint64_t *size,
	      struct sk_err *err);

/* One file for hash_many: path in; hex, size, ret and err out. */
struct hash_job {
	const char *path;
	char hex[HASH_HEX_LEN + 1];
	uint64_t size;
	int ret;		/* 0 or -1 with err set */
	struct sk_err err;
};

/*
 * Hash every job's file with up to threads workers (0: one per core); a
 * file is hashed by one thread, so give the biggest first. Returns -1 when
 * any job failed (see each job's ret and err), else 0.
 */
int hash_many(struct hash_job *jobs, size_t n, int threads);

#endif
