/*
 * clone: copy a disk image the cheap way. FICLONE shares the extents on a
 * reflink filesystem (XFS, btrfs) in constant time; elsewhere a sparse-aware
 * copy walks SEEK_DATA/SEEK_HOLE and moves only the data with
 * copy_file_range, so a hole is never written as zeros.
 */
#ifndef SK_CLONE_H
#define SK_CLONE_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

enum clone_mode {
	CLONE_AUTO,    /* reflink where the filesystem can, else copy */
	CLONE_REFLINK, /* reflink or fail */
	CLONE_COPY     /* always the sparse copy */
};

/* "auto", "reflink" or "copy"; -1 for anything else. */
int clone_mode_parse(const char *s, enum clone_mode *out);

/*
 * Create dst (it must not exist; never followed if a symlink) with mode perm
 * and src's content, then fsync it. *reflinked (may be NULL) says which way
 * it went. A reflink that mode demands but the filesystem cannot do is
 * SK_EFAIL saying so. On failure dst is removed. SK_ENOENT if src is missing.
 */
int clone_file(const char *src, const char *dst, enum clone_mode mode, mode_t perm, int *reflinked,
	       struct sk_err *err);

/*
 * Create dst (not existing, never followed) with mode perm as a clone of the
 * open file sfd; what names the source in messages. On failure dst is removed.
 */
int clone_fd_to(int sfd, const char *what, const char *dst, enum clone_mode mode, mode_t perm,
		int *reflinked, struct sk_err *err);

/* The same between open descriptors (dfd empty, opened for writing). */
int clone_fd(int sfd, int dfd, enum clone_mode mode, int *reflinked, const char *what,
	     struct sk_err *err);

#endif
