/*
 * astream: the tar layer. Writing formats entries with libarchive (pax
 * restricted: plain ustar headers, pax records only where needed) and hands
 * the bytes to a codec encoder. Reading pulls plain bytes from a codec
 * decoder, passes every byte through targuard, and only then lets libarchive
 * parse them. Only this module includes archive.h.
 */
#ifndef SK_ASTREAM_H
#define SK_ASTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "codec.h"
#include "err.h"
#include "targuard.h"

enum sk_type { SK_REG, SK_DIR, SK_SYMLINK, SK_HARDLINK };

/* A data region of a sparse file. */
struct sk_extent {
	uint64_t off, len;
};

struct sk_entry {
	const char *path; /* relative, '/'-separated, no leading "./" */
	enum sk_type type;
	mode_t mode; /* permission bits incl. setuid/setgid/sticky */
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
	uint64_t size;	  /* apparent size of a regular file */
	const char *link; /* symlink target or hardlink target path */
	/* Writing only: the data regions of a sparse file, or NULL for dense. */
	const struct sk_extent *extents;
	size_t nextents;
};

struct awriter;

/* Start a tar stream that goes to enc (not owned). */
int awriter_open(struct awriter **out, struct enc *enc, struct sk_err *err);
/*
 * Write a header. For a sparse regular file, the data written next must
 * still be the whole apparent content, holes as zeros: libarchive drops the
 * hole bytes itself (see awriter_hole).
 */
int awriter_add(struct awriter *w, const struct sk_entry *e, struct sk_err *err);
int awriter_data(struct awriter *w, const void *buf, size_t len, struct sk_err *err);
/* Feed len bytes of hole (zeros that will not be stored). */
int awriter_hole(struct awriter *w, uint64_t len, struct sk_err *err);
/* Write the end-of-archive blocks (does not finish enc). */
int awriter_finish(struct awriter *w, struct sk_err *err);
void awriter_free(struct awriter *w);

struct areader;

/*
 * Start reading an archive from fd (not owned): codec detected by magic,
 * every plain byte checked by targuard under lim.
 */
int areader_open(struct areader **out, int fd, const struct targuard_limits *lim,
		 struct sk_err *err);
/*
 * Next entry into *e (strings valid until the next call). Returns 1 with an
 * entry, 0 at the end of a fully verified stream (end-of-archive marker,
 * codec trailer, nothing after), -1 on error: SK_EDAMAGED for anything wrong
 * with the input, SK_EFAIL for a read error. An entry type other than the four
 * sk_type values is SK_EDAMAGED naming it.
 */
int areader_next(struct areader *r, struct sk_entry *e, struct sk_err *err);
/* Next data block of the current entry at offset *off. 1 data, 0 end, -1 error. */
int areader_data(struct areader *r, const void **buf, size_t *len, uint64_t *off,
		 struct sk_err *err);
enum codec areader_codec(const struct areader *r);
/* Compressed bytes read so far, for progress. */
uint64_t areader_bytes_in(struct areader *r);
void areader_free(struct areader *r);

#endif
