/*
 * tree: write a workspace tree into a tar stream. The workspace belongs to
 * the bot and is untrusted: every level is opened relative to its parent with
 * O_NOFOLLOW, so a symlink is archived as a link and never followed, and a
 * name swapped under us cannot lead the walk outside the root (rule 4).
 */
#ifndef SK_TREE_H
#define SK_TREE_H

#include <stdint.h>

#include "astream.h"
#include "extract.h"
#include "err.h"
#include "log.h"

struct tree_stats {
	uint64_t entries; /* entries written */
	uint64_t bytes;	  /* apparent bytes of regular files */
	uint64_t skipped; /* sockets, fifos, devices left out */
};

/*
 * Archive everything below the directory open at rootfd (not owned) into w,
 * names relative to the root, in sorted order. Regular files keep their holes,
 * hardlinks become hardlink entries, symlinks links; sockets, fifos,
 * devices, symlinks that resolve outside the root, and names past lim's
 * max_path or max_depth (which ws-import would refuse) are skipped with a
 * warning, so that an export always imports. prog may be NULL. SK_EFAIL on errors.
 */
int tree_export(int rootfd, struct awriter *w, const struct extract_limits *lim,
		struct progress *prog, struct tree_stats *st, struct sk_err *err);

/* Apparent bytes and entries below rootfd, for an ETA; best effort. */
uint64_t tree_size(int rootfd);

/*
 * Recreate the tree below srcfd under dstfd (both directories, not owned)
 * out of hardlinks: directories are new, everything else is linked. Used to
 * stage a merge without copying data; the extractor never writes into an
 * existing inode, it replaces names, so the source stays untouched.
 */
int tree_link_copy(int srcfd, int dstfd, struct sk_err *err);
#endif
