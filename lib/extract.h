/*
 * extract: create the entries of an untrusted archive inside a private
 * staging directory. Names are cleaned and checked before anything is
 * created; every level is opened relative to its parent with O_NOFOLLOW; the
 * archive's symlinks are never followed while extracting and must resolve
 * inside the tree when all is done (rule 5). Any violation rejects the whole
 * archive: the caller throws the staging directory away.
 */
#ifndef SK_EXTRACT_H
#define SK_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "astream.h"
#include "err.h"
#include "log.h"

struct extract_limits {
	uint64_t max_entries;
	uint64_t max_bytes; /* sum of the entries' apparent sizes */
	uint64_t max_path;  /* bytes in a name or a link target */
	uint64_t max_depth; /* components in a name */
};

struct extract_stats {
	uint64_t entries;
	uint64_t bytes;
};

/*
 * Clean an archive name into out (size bytes): drop "." and empty
 * components, refuse absolute names, "..", empty names, components over 255
 * bytes and names past the limits. An empty result means the root itself.
 * *depth gets the number of components. SK_EDAMAGED on refusal.
 */
int extract_clean_path(const char *name, const struct extract_limits *lim, char *out, size_t size,
		       size_t *depth, struct sk_err *err);

/*
 * Read every entry of r and create it below stagefd (not owned), which may
 * already hold a tree to merge into: an entry replaces a non-directory of the
 * same name and updates a directory. Owners are kept when running as root;
 * setuid and setgid bits are dropped; xattrs and ACLs are ignored. Returns 0
 * only after the whole stream verified (see areader_next). SK_EDAMAGED for a
 * hostile or damaged archive, SK_EFAIL for a local error.
 */
int extract_archive(struct areader *r, int stagefd, const struct extract_limits *lim,
		    struct progress *prog, struct extract_stats *st, struct sk_err *err);

/*
 * Judge r as extract_archive would, creating nothing: the stream verified
 * whole, and every entry checked against lim and the naming, hardlink and
 * lexical symlink rules. What needs the tree itself (a symlink that escapes
 * through another symlink, an entry that would replace a directory) only
 * extraction finds. Same returns as extract_archive.
 */
int extract_check(struct areader *r, const struct extract_limits *lim, struct progress *prog,
		  struct extract_stats *st, struct sk_err *err);

/*
 * Does the symlink at lpath (a cleaned path below rootfd) with target
 * ltarget resolve inside the tree? Resolves component by component like the
 * kernel, expanding the tree's own symlinks (at most 40) without following
 * anything for real; missing components are taken lexically. 1 inside, 0
 * outside, EXTRACT_LINK_LOOP when the chain is longer than the kernel would
 * follow (a loop, most likely), -1 on a local error. Export uses it to leave
 * such links out, import to reject them.
 */
#define EXTRACT_LINK_LOOP 2
int extract_link_inside(int rootfd, const char *lpath, const char *ltarget);

/* Purely lexical first check: no absolute target, no ".." above the root
 * for a link dir_depth levels down. 1 inside, 0 outside. */
int extract_link_lexical(const char *target, size_t dir_depth);

#endif
