/*
 * rstore: statekit's layout in an S3-compatible store, under s3://BUCKET/PREFIX:
 *
 *   statekit-store.json          {"statekit_store": 1}: what this prefix holds
 *   chunks/ab/ab12...(64 hex)    one chunk, named by the sha256 of its bytes,
 *                                stored as one zstd frame; zero chunks never
 *   snapshots/ID.json            a manifest; its sha256 in x-amz-meta-sha256
 *   locks/KIND.HOST.PID.RAND     a lock: KIND "shared" (push, pull, delete,
 *                                verify) or "exclusive" (prune)
 *
 * A manifest is written only after every chunk it names, so a snapshot is
 * in the store whole or not at all. Chunks that no manifest names are
 * removed by prune alone, under the exclusive lock: no push can then be
 * between its chunks and its manifest. A lock not refreshed for
 * RSTORE_LOCK_STALE seconds is stale, as restic's are: its holder died; so
 * is one of this host whose process is gone.
 */
#ifndef SK_RSTORE_H
#define SK_RSTORE_H

#include <stdint.h>

#include "config.h"
#include "err.h"
#include "fcjson.h"
#include "hash.h"
#include "s3.h"

#define RSTORE_VERSION 1
#define RSTORE_LOCK_REFRESH 300	       /* seconds between a lock's refreshes */
#define RSTORE_LOCK_STALE 1800	       /* seconds after which a lock not refreshed is ignored */
#define RSTORE_MAX_MANIFEST (16 << 20) /* as snapint.h's SNAPINT_MAX_MANIFEST */

struct rstore {
	struct s3 *s;
	struct s3_remote rem;
	char lock_key[300]; /* ours, "" if none */
	char *lock_body;
	double lock_at; /* when it was last written (log_now) */
};

/*
 * Open the store at url for op ("fcsnap-push", ...) with the credentials
 * of cfg and the environment. create: write the marker when the prefix has
 * none (push); else a prefix without one is SK_ENOENT "no statekit store".
 * A marker of a newer version is SK_EUSAGE. Then take a lock: exclusive or
 * shared, waiting up to wait_s seconds for a conflicting one to go
 * (SK_EBUSY naming it after that).
 */
int rstore_open(struct rstore *st, const struct sk_config *cfg, const char *url, const char *op,
		int create, int exclusive, int wait_s, struct sk_err *err);
/*
 * Is lock key (written at mtime, the store's clock) stale at now: not
 * refreshed for RSTORE_LOCK_STALE, or held by a process of this host (host,
 * NULL for ours) that is gone, as restic judges its own host's locks.
 */
int rstore_lock_stale(const char *key, int64_t mtime, int64_t now, const char *host);
/* Rewrite our lock if RSTORE_LOCK_REFRESH has passed (an s3_ops tick). */
int rstore_refresh(struct rstore *st, struct sk_err *err);
/* Remove our lock (best effort) and close. */
void rstore_close(struct rstore *st);

/* Object keys (under the prefix). */
void rstore_chunk_key(const uint8_t d[HASH_LEN], char *key, size_t size);
int rstore_manifest_key(const char *id, char *key, size_t size);

/* A sorted set of chunk digests. */
struct rstore_set {
	uint8_t (*d)[HASH_LEN];
	uint64_t *size; /* as stored */
	size_t n, cap;
};
int rstore_set_add(struct rstore_set *set, const uint8_t d[HASH_LEN], uint64_t size);
void rstore_set_sort(struct rstore_set *set);
/* Index of d in a sorted set, or -1. */
long rstore_set_find(const struct rstore_set *set, const uint8_t d[HASH_LEN]);
void rstore_set_free(struct rstore_set *set);
/* Every chunk the store holds (keys that are not chunk names are skipped). */
int rstore_list_chunks(struct rstore *st, struct rstore_set *set, struct sk_err *err);
/* The ids of the manifests in the store, sorted (free each, then *ids). */
int rstore_list_ids(struct rstore *st, char ***ids, size_t *n, struct sk_err *err);

/*
 * Read and check manifest id: SK_ENOENT if there is none; SK_EDAMAGED if
 * its text does not match the digest stored with it, does not parse, names
 * another snapshot, or is not format 2. *text is malloc'd.
 */
int rstore_get_manifest(struct rstore *st, const char *id, char **text, struct manifest *m,
			struct sk_err *err);
/* Does manifest id exist? 1, 0, or -1 with err. */
int rstore_has_manifest(struct rstore *st, const char *id, struct sk_err *err);
/* Write manifest id (text), with its digest and Content-MD5. */
int rstore_put_manifest(struct rstore *st, const char *id, const char *text, struct sk_err *err);

/*
 * A downloaded chunk checked and unpacked: body (len bytes, as stored) must
 * be one zstd frame of exactly want bytes whose sha256 is d; out gets them.
 * SK_EDAMAGED naming the chunk otherwise.
 */
int rstore_unpack_chunk(const void *body, size_t len, const uint8_t d[HASH_LEN], void *out,
			size_t want, struct sk_err *err);

#endif
