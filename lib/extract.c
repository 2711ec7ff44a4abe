/*
 * extract.c: import's extractor. The archive comes from the bot and may be
 * crafted to write outside the workspace, so libarchive only parses here
 * (after targuard has checked the raw tar framing); it never writes to
 * disk. archive_write_disk works from path strings and its protections are
 * opt-in flags (SECURE_SYMLINKS, SECURE_NODOTDOT); here every
 * entry is created with *at() calls relative to directory fds this file
 * opened itself, one level at a time with O_NOFOLLOW, so no name is ever
 * resolved through something the archive made. The staging directory is
 * private and the caller throws it away on any error: a check that fails
 * half-way needs no undo here.
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "sig.h"
#include "banned.h"

/*
 * How many of the tree's own symlinks one target may expand through, the
 * kernel's MAXSYMLINKS. It bounds the work a hostile chain can cause (each
 * hop appends at most one target, under PATH_MAX, to the pending path) and
 * turns a loop into EXTRACT_LINK_LOOP. The kernel also counts the link it starts
 * from, so it gives up one link earlier than we do: where we say inside it
 * may say ELOOP, which fails closed.
 */
#define MAX_LINK_HOPS 40
/* A cleaned name of max_path (4096, PATH_MAX) bytes and its NUL: export
 * writes names that long, so import must have room for them. */
#define NAME_BUF (PATH_MAX + 1)

/* A directory whose metadata is applied at the end, deepest first, so that
 * creating its children neither fails on a read-only mode nor moves its mtime.
 * Until then every directory is 0700 and ours: an archive that lists a
 * directory as 0000 or 0555 before its children cannot make them fail. */
struct dirmeta {
	char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;
};

/*
 * A symlink the archive created, checked only when every entry is in place:
 * a later entry can add the directories and links that change where a
 * target leads (par -> cur/.. is harmless until cur -> . arrives), so a
 * check at creation time would miss chains finished later.
 */
struct symlink_rec {
	char *path;
	char *target;
};

/*
 * The chain of open directories leading to the last entry's parent. Tar
 * lists siblings together, so most entries reuse the whole chain instead of
 * walking from the root again. Keeping fds is also what makes it safe: each
 * was opened by name with O_NOFOLLOW from the one before, and nothing
 * replaces a directory (make_room refuses), so a cached fd is still the
 * directory at that name. 1024 levels bounds the fds an archive can pin.
 */
struct dircache {
	int fd[1024];
	char *name[1024];
	size_t n;
};

struct ex {
	int stagefd; /* -1 for extract_check: check every entry, create nothing */
	int as_root;
	const struct extract_limits *lim;
	struct extract_stats *st;
	struct progress *prog;
	uint64_t last_in;
	struct areader *r;

	struct dircache dc;

	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	struct symlink_rec *links;
	size_t nlinks, caplinks;

	/* Regular files this archive created: the only valid hardlink targets.
	 * An open-addressing set of paths, grown at half full, so a million
	 * hardlinks cost a million lookups, not a scan of every earlier name. */
	char **files;
	size_t nfiles, capfiles;
};

/* FNV-1a: not keyed, but a colliding archive only slows itself down. */
static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static char **file_slot(char **set, size_t cap, const char *path)
{
	size_t i = str_hash(path) & (cap - 1);

	while (set[i] && strcmp(set[i], path) != 0)
		i = (i + 1) & (cap - 1);
	return &set[i];
}

static int file_add(struct ex *x, const char *path)
{
	char **slot;

	if ((x->nfiles + 1) * 2 > x->capfiles) {
		size_t cap = x->capfiles ? x->capfiles * 2 : 1024, i;
		char **set = calloc(cap, sizeof(*set));

		if (!set)
			return -1;
		for (i = 0; i < x->capfiles; i++)
			if (x->files[i])
				*file_slot(set, cap, x->files[i]) = x->files[i];
		free(x->files);
		x->files = set;
		x->capfiles = cap;
	}
	slot = file_slot(x->files, x->capfiles, path);
	if (*slot)
		return 0;
	*slot = strdup(path);
	if (!*slot)
		return -1;
	x->nfiles++;
	return 0;
}

static mode_t safe_mode(mode_t m)
{
	/* setuid/setgid never come from an archive (rule 5): a bot could
	 * otherwise plant a root-owned setuid binary, as we keep owners when
	 * running as root. Sticky may stay. The mask also drops type bits. */
	return m & 01777;
}

/*
 * Names are cleaned, not resolved: the result is a plain downward path whose
 * component count is its depth, which put_entry, the hardlink set and the
 * directory cache compare as strings. That only holds without "..", so
 * ".." is refused even where it would stay inside ("a/../b").
 */
int extract_clean_path(const char *name, const struct extract_limits *lim, char *out, size_t size,
		       size_t *depth, struct sk_err *err)
{
	const char *p = name;
	size_t o = 0, d = 0;

	if (!name || !*name)
		return sk_err_set(err, SK_EDAMAGED, "entry with an empty name");
	/* openat() ignores its directory fd for an absolute name:
	 * "/etc/cron.d/x" would be written to the host, not the stage. */
	if (name[0] == '/')
		return sk_err_set(err, SK_EDAMAGED, "absolute name '%s'", name);
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* "a//b", "./a", "a/": nothing to add. GNU tar writes
			 * "./a" and "dir/", so these are ordinary spellings. */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			return sk_err_set(err, SK_EDAMAGED, "name '%s' contains '..'", name);
		} else {
			/* The kernel would say ENAMETOOLONG half-way
			 * through; refusing here makes it exit 5 (a bad
			 * archive), not 1, before anything is created. */
			if (len > NAME_MAX)
				return sk_err_set(err, SK_EDAMAGED,
						  "name '%s' has a component over %d bytes", name,
						  NAME_MAX);
			/* Never cut a name to fit: a truncated name is a
			 * different name, possibly one that exists. */
			if (o + (o ? 1 : 0) + len + 1 > size) {
				if (lim->max_path < size)
					return sk_err_set(err, SK_EDAMAGED,
							  "name longer than %llu bytes (max_path)",
							  (unsigned long long)lim->max_path);
				return sk_err_set(err, SK_EDAMAGED,
						  "name longer than %zu bytes (the system's limit)",
						  size - 1);
			}
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
			/* Checked as we go: a name of a million "a/"
			 * stops at max_depth, not at the end. */
			if (++d > lim->max_depth)
				return sk_err_set(err, SK_EDAMAGED,
						  "name deeper than %llu levels (max_depth)",
						  (unsigned long long)lim->max_depth);
		}
		p += len;
		if (*p == '/')
			p++;
	}
	out[o] = '\0';
	/* The cleaned name counts: "./" prefixes and a directory's trailing
	 * slash are spelling, not length. */
	if (o > lim->max_path)
		return sk_err_set(err, SK_EDAMAGED, "name longer than %llu bytes (max_path)",
				  (unsigned long long)lim->max_path);
	*depth = d;
	return 0;
}

/* Grow a vector by one element (doubling); the caller fills it. */
static int push(void **v, size_t *n, size_t *cap, size_t elsize)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		void *nv = realloc(*v, nc * elsize);

		if (!nv)
			return -1;
		*v = nv;
		*cap = nc;
	}
	(*n)++;
	return 0;
}

static void dc_pop(struct dircache *dc)
{
	dc->n--;
	close(dc->fd[dc->n]);
	free(dc->name[dc->n]);
}

/*
 * Open (creating as needed) the parent directories of the cleaned path
 * whose components are comp[0..n-1], reusing the cached chain. Returns the fd
 * of the deepest one (the stage root when n is 0), owned by the cache.
 */
static int open_parents(struct ex *x, char **comp, size_t n, const char *path, struct sk_err *err)
{
	struct dircache *dc = &x->dc;
	size_t keep = 0;

	/* Only reached with a max_depth above the cache's 1024 levels. */
	if (n > sizeof(dc->fd) / sizeof(dc->fd[0]))
		return sk_err_set(err, SK_EDAMAGED, "'%s' is too deep", path);
	while (keep < dc->n && keep < n && strcmp(dc->name[keep], comp[keep]) == 0)
		keep++;
	while (dc->n > keep)
		dc_pop(dc);
	while (dc->n < n) {
		int parent = dc->n ? dc->fd[dc->n - 1] : x->stagefd;
		const char *c = comp[dc->n];
		int fd;

		/*
		 * O_NOFOLLOW stops the oldest tar attack: an earlier entry
		 * is a symlink, a later one is written through it. The
		 * lexical check refuses "a" -> /etc, but not "cur" -> . with
		 * "par" -> cur/.., which leads out of the stage and is only
		 * caught by finish(): too late if "par/x" had already been
		 * written. Here opening "par" fails with ELOOP and the
		 * archive is refused. O_DIRECTORY turns a file named "par"
		 * into ENOTDIR instead of a confusing failure one level down.
		 */
		fd = openat(parent, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			/* A parent the archive did not list: make it like tar
			 * does. fchmod after mkdir gives exactly 0755 whatever
			 * the umask; the reopen is by name, still without
			 * following, so the fd is of the directory we made. */
			if (mkdirat(parent, c, 0700) < 0)
				return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", c);
			fd = openat(parent, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0 && fchmod(fd, 0755) < 0) {
				int e = errno;

				close(fd);
				return sk_err_sys(err, SK_EFAIL, e, "chmod '%s'", c);
			}
		}
		if (fd < 0) {
			/* ELOOP: a symlink, ENOTDIR: a file. Either way the archive
			 * asks us to go through something that is not a directory:
			 * that is the archive's fault (exit 5), not the host's. */
			if (errno == ELOOP || errno == ENOTDIR)
				return sk_err_set(err, SK_EDAMAGED,
						  "'%s' passes through '%s', which is not a "
						  "directory",
						  path, c);
			return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", c);
		}
		dc->fd[dc->n] = fd;
		dc->name[dc->n] = strdup(c);
		if (!dc->name[dc->n]) {
			close(fd);
			return sk_err_set(err, SK_EFAIL, "out of memory");
		}
		dc->n++;
	}
	return dc->n ? dc->fd[dc->n - 1] : x->stagefd;
}

/* Split a cleaned path in place into components; returns the count. A
 * cleaned path has no empty components, so no checks are needed here. */
static size_t split(char *path, char **comp, size_t max)
{
	size_t n = 0;
	char *p = path;

	if (!*p)
		return 0;
	while (n < max) {
		comp[n++] = p;
		p = strchr(p, '/');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

/* Open the directory at a cleaned path without creating or following
 * anything. Returns an fd the caller closes, or -1 with errno. It walks
 * from the stage root each time instead of using the directory cache, which
 * holds only the current entry's parents; it is for the rarer lookups
 * (hardlink targets, the final metadata pass). */
static int open_dir_nofollow(int stagefd, const char *path)
{
	char buf[NAME_BUF];
	char *comp[1024];
	size_t n, i;
	int fd, next;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = split(buf, comp, 1024);
	fd = fs_reopen_dir(stagefd);
	for (i = 0; fd >= 0 && i < n; i++) {
		next = openat(fd, comp[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

/*
 * Make room for a new entry called name in parent: a non-directory there is
 * replaced; a directory stays only when the new entry is one too.
 * Returns 1 when a directory exists and should be kept, 0 when the name is free.
 *
 * Replacing is tar's rule (the later entry wins). It is done by unlinking,
 * never by opening the old name with O_TRUNC: the old name may be a symlink
 * (writing would go through it) or a hardlink (writing would change every
 * other name of that file: after "a" and its hardlink "b", a new "b" would
 * rewrite "a" too). A new inode leaves earlier entries as the archive made
 * them. A directory is
 * never replaced by a non-directory: it may already hold entries, and the
 * directory cache holds fds into it; an archive that asks for that is
 * refused.
 */
static int make_room(int parent, const char *name, int want_dir, const char *path,
		     struct sk_err *err)
{
	struct stat s;

	/* AT_SYMLINK_NOFOLLOW: the question is what the name is, not what a
	 * link there points at. */
	if (fstatat(parent, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return sk_err_sys(err, SK_EFAIL, errno, "cannot stat '%s'", path);
	}
	if (S_ISDIR(s.st_mode)) {
		if (want_dir)
			return 1;
		return sk_err_set(err, SK_EDAMAGED, "'%s' would replace a directory", path);
	}
	if (unlinkat(parent, name, 0) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot replace '%s'", path);
	return 0;
}

/*
 * Owner, mode and times of an entry, all through its fd, so the name is
 * resolved once, when it was created without following. Owners only as
 * root: anyone else can only give files to themselves, and the bot's files
 * must stay the bot's when root imports them (rule 5).
 */
static int set_owner_times(struct ex *x, int fd, const struct sk_entry *e, const char *path,
			   struct sk_err *err)
{
	struct timespec ts[2] = { e->mtime, e->mtime };

	/* chown before chmod: chown clears the mode's set-id bits anyway. */
	if (x->as_root && fchown(fd, e->uid, e->gid) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", path);
	if (fchmod(fd, safe_mode(e->mode)) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "chmod '%s'", path);
	if (futimens(fd, ts) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "set times of '%s'", path);
	return 0;
}

/* Progress counts compressed bytes read: the input size is the total. */
static void note_progress(struct ex *x)
{
	uint64_t in;

	if (!x->prog)
		return;
	in = areader_bytes_in(x->r);
	progress_add(x->prog, in - x->last_in);
	x->last_in = in;
}

static int put_reg(struct ex *x, int parent, const char *name, const char *path,
		   const struct sk_entry *e, struct sk_err *err)
{
	const void *buf;
	size_t len;
	uint64_t off;
	int fd, rc, ret = -1;

	if (make_room(parent, name, 0, path, err) < 0)
		return -1;
	/*
	 * O_EXCL: a new inode or nothing; if anything sits at the name after
	 * make_room, fail rather than write into it. 0600 until
	 * set_owner_times: the final mode may lack write permission (0444),
	 * and nobody else should read a half-written file.
	 */
	fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", path);
	/* Only the blocks the archive carries are written: holes in a sparse
	 * entry stay holes, so a 60 GB sparse member costs what its data costs. */
	while ((rc = areader_data(x->r, &buf, &len, &off, err)) > 0) {
		const char *p = buf;

		/* A sparse map is archive data too: a block placed past
		 * the declared size would grow the file beyond what
		 * max_bytes accounted for. Written so it cannot overflow. */
		if (off > e->size || len > e->size - off) {
			sk_err_set(err, SK_EDAMAGED, "'%s': data beyond its declared size", path);
			goto out;
		}
		/* A file that is all hole carries its last byte, a zero, as its
		 * one data region (a sparse map needs one): the ftruncate below
		 * makes that byte as part of the hole instead of a block. */
		if (len == 1 && off + 1 == e->size && *p == '\0')
			continue;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, (off_t)off);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				sk_err_sys(err, SK_EFAIL, errno, "write '%s'", path);
				goto out;
			}
			p += n;
			off += (uint64_t)n;
			len -= (size_t)n;
		}
		note_progress(x);
	}
	if (rc < 0)
		goto out;
	/* The declared size, so a trailing hole of a sparse file exists. */
	if (ftruncate(fd, (off_t)e->size) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot size '%s'", path);
		goto out;
	}
	if (set_owner_times(x, fd, e, path, err) < 0)
		goto out;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* Did this archive create a regular file at the cleaned path? */
static int has_file(struct ex *x, const char *path)
{
	return x->capfiles && *file_slot(x->files, x->capfiles, path) != NULL;
}

/*
 * A hardlink may only name a regular file this archive already created.
 * Tar cannot express a link to a later entry, and anything else is an
 * attack or a mistake: a link to a file already in the tree we merge into
 * would give a file the archive did not write a second name the archive
 * chose; a link to a symlink or a directory is not a file. The target
 * name goes through the same cleaning as any name, so it cannot be absolute
 * or contain "..".
 */
static int hardlink_target(struct ex *x, const char *path, const struct sk_entry *e,
			   char target[NAME_BUF], struct sk_err *err)
{
	size_t depth;

	if (extract_clean_path(e->link, x->lim, target, NAME_BUF, &depth, err) < 0)
		return sk_err_wrap(err, "hardlink '%s'", path);
	if (depth == 0 || !has_file(x, target))
		return sk_err_set(err, SK_EDAMAGED,
				  "hardlink '%s' -> '%s' does not name an earlier file of the "
				  "archive",
				  path, e->link);
	/* make_room would unlink the target before linking to it. */
	if (strcmp(target, path) == 0)
		return sk_err_set(err, SK_EDAMAGED, "hardlink '%s' names itself", path);
	return 0;
}

static int put_hardlink(struct ex *x, int parent, const char *name, const char *path,
			const struct sk_entry *e, struct sk_err *err)
{
	char target[NAME_BUF], tdir[NAME_BUF];
	const char *tbase;
	struct stat ts;
	int tfd, ret;

	if (hardlink_target(x, path, e, target, err) < 0)
		return -1;
	tbase = strrchr(target, '/');
	if (tbase) {
		snprintf(tdir, sizeof(tdir), "%.*s", (int)(tbase - target), target);
		tbase++;
	} else {
		tdir[0] = '\0';
		tbase = target;
	}
	/* The target's directory is reached without following, like any
	 * parent: the set holds names, and a name can be reached through a
	 * symlink only if we follow one. */
	tfd = open_dir_nofollow(x->stagefd, tdir);
	if (tfd < 0)
		return sk_err_set(err, SK_EDAMAGED, "hardlink '%s': the directory of '%s' is gone",
				  path, target);
	/* A later entry may have replaced the file with a link or a directory. */
	if (fstatat(tfd, tbase, &ts, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(ts.st_mode)) {
		close(tfd);
		return sk_err_set(err, SK_EDAMAGED,
				  "hardlink '%s' -> '%s' does not name a regular file", path,
				  target);
	}
	ret = make_room(parent, name, 0, path, err);
	/* flags 0: link the name itself, never what a symlink points at. */
	/* ENOENT here means the target went between the check and the link:
	 * that can only be this archive's own doing, so it is exit 5. */
	if (ret == 0 && linkat(tfd, tbase, parent, name, 0) < 0)
		ret = sk_err_sys(err, errno == ENOENT ? SK_EDAMAGED : SK_EFAIL, errno,
				 "cannot link '%s' to '%s'", path, target);
	close(tfd);
	return ret < 0 ? -1 : 0;
}

/*
 * The cheap check at creation time. It catches the plain escapes ("..",
 * "../../etc", "/etc") at the entry that carries them, with a message that
 * names it. It is not enough on its own: it treats every component as a
 * directory, while a component that is a symlink changes what a following
 * ".." means. extract_link_inside settles that at the end.
 */
int extract_link_lexical(const char *target, size_t dir_depth)
{
	long depth = (long)dir_depth;
	const char *p = target;

	/* Absolute targets mean something else once the tree moves from the
	 * stage to the workspace and into the container: never inside. */
	if (target[0] == '/')
		return 0;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			/* Above the root even for a moment is outside:
			 * "../ws/x" comes back only while the root is
			 * called "ws". */
			if (--depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 1;
}

/* What a symlink entry must be before it is created: the lexical checks. */
static int symlink_ok(const struct ex *x, const char *path, size_t depth, const struct sk_entry *e,
		      struct sk_err *err)
{
	/* The kernel refuses an empty target (ENOENT): say why here. */
	if (!*e->link)
		return sk_err_set(err, SK_EDAMAGED, "symlink '%s' has an empty target", path);
	/* The limit also bounds what the resolver walks at the end. */
	if (strlen(e->link) > x->lim->max_path)
		return sk_err_set(err, SK_EDAMAGED, "symlink '%s': target too long", path);
	/* depth - 1: a relative target starts from the link's directory. */
	if (!extract_link_lexical(e->link, depth - 1))
		return sk_err_set(err, SK_EDAMAGED,
				  "symlink '%s' -> '%s' points outside the workspace", path,
				  e->link);
	return 0;
}

static int put_symlink(struct ex *x, int parent, const char *name, const char *path, size_t depth,
		       const struct sk_entry *e, struct sk_err *err)
{
	struct timespec ts[2] = { e->mtime, e->mtime };
	struct symlink_rec *rec;

	if (symlink_ok(x, path, depth, e, err) < 0 || make_room(parent, name, 0, path, err) < 0)
		return -1;
	if (symlinkat(e->link, parent, name) < 0) {
		/* max_path may be set past what the kernel keeps in a link. */
		if (errno == ENAMETOOLONG)
			return sk_err_set(err, SK_EDAMAGED,
					  "symlink '%s': target of %zu bytes is longer than the "
					  "system allows (%d)",
					  path, strlen(e->link), PATH_MAX - 1);
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create symlink '%s'", path);
	}
	/*
	 * AT_SYMLINK_NOFOLLOW on both: without it chown and utimens act on
	 * what the link points at, and an archive could give itself any file
	 * the link names (the lexical check passed, but the tree is not
	 * finished). A symlink has no mode of its own on Linux: no chmod.
	 */
	if (x->as_root && fchownat(parent, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "chown '%s'", path);
	if (utimensat(parent, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "set times of '%s'", path);
	if (push((void **)&x->links, &x->nlinks, &x->caplinks, sizeof(*x->links)) < 0)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	rec = &x->links[x->nlinks - 1];
	rec->path = strdup(path);
	rec->target = strdup(e->link);
	if (!rec->path || !rec->target)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	return 0;
}

static int put_dir(struct ex *x, int parent, const char *name, const char *path,
		   const struct sk_entry *e, struct sk_err *err)
{
	struct dirmeta *m;
	int rc;

	/* "" is the stage root ("./" in the archive): it exists; only its
	 * metadata is taken. An existing directory is merged into, as tar
	 * does; its mode and times are set at the end like a new one's. */
	if (*path) {
		rc = make_room(parent, name, 1, path, err);
		if (rc < 0)
			return -1;
		if (rc == 0 && mkdirat(parent, name, 0700) < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", path);
	}
	if (push((void **)&x->dirs, &x->ndirs, &x->capdirs, sizeof(*x->dirs)) < 0)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	m = &x->dirs[x->ndirs - 1];
	m->path = strdup(path);
	if (!m->path)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	m->mode = e->mode;
	m->uid = e->uid;
	m->gid = e->gid;
	m->mtime = e->mtime;
	return 0;
}

/* extract_check's part of put_entry: the checks that need no tree. */
static int check_entry(struct ex *x, const struct sk_entry *e, const char *clean, size_t depth,
		       struct sk_err *err)
{
	char target[NAME_BUF];

	switch (e->type) {
	case SK_REG:
		return file_add(x, clean) < 0 ? sk_err_set(err, SK_EFAIL, "out of memory") : 0;
	case SK_HARDLINK:
		return hardlink_target(x, clean, e, target, err);
	case SK_SYMLINK:
		return symlink_ok(x, clean, depth, e, err);
	case SK_DIR:
		return 0;
	}
	return sk_err_set(err, SK_EDAMAGED, "'%s': unsupported entry type", clean);
}

static int put_entry(struct ex *x, const struct sk_entry *e, struct sk_err *err)
{
	char clean[NAME_BUF], work[NAME_BUF];
	char *comp[1024];
	size_t depth, n;
	const char *name;
	int parent;

	if (extract_clean_path(e->path, x->lim, clean, sizeof(clean), &depth, err) < 0)
		return -1;
	/* "./" as a file or link would replace the stage root itself. */
	if (depth == 0 && e->type != SK_DIR)
		return sk_err_set(err, SK_EDAMAGED, "entry '%s' names the workspace root", e->path);
	/*
	 * max_bytes is checked on the declared size before a byte is written,
	 * so an archive cannot fill the disk and only then be refused. Sparse
	 * entries count their apparent size: the bot gets back what it had.
	 * Written as a subtraction so a huge size cannot wrap the sum.
	 */
	if (e->type == SK_REG) {
		if (e->size > x->lim->max_bytes - x->st->bytes)
			return sk_err_set(err, SK_EDAMAGED,
					  "archive holds more than %llu bytes (max_bytes)",
					  (unsigned long long)x->lim->max_bytes);
		x->st->bytes += e->size;
	}
	if (x->stagefd < 0)
		return check_entry(x, e, clean, depth, err);
	if (depth == 0)
		return put_dir(x, x->stagefd, ".", "", e, err);
	memcpy(work, clean, sizeof(work)); /* same size: clean is terminated */
	n = split(work, comp, 1024);
	if (n == 0)
		return sk_err_set(err, SK_EDAMAGED, "entry with an empty name");
	name = comp[n - 1];
	parent = open_parents(x, comp, n - 1, clean, err);
	if (parent < 0)
		return -1;
	/* Only regular files, hardlinks, symlinks and directories get here:
	 * areader_next refuses devices, fifos and sockets (rule 5). */
	switch (e->type) {
	case SK_REG:
		if (put_reg(x, parent, name, clean, e, err) < 0)
			return -1;
		if (file_add(x, clean) < 0)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		return 0;
	case SK_HARDLINK:
		return put_hardlink(x, parent, name, clean, e, err);
	case SK_SYMLINK:
		return put_symlink(x, parent, name, clean, depth, e, err);
	case SK_DIR:
		return put_dir(x, parent, name, clean, e, err);
	}
	return sk_err_set(err, SK_EDAMAGED, "'%s': unsupported entry type", clean);
}

/*
 * Where the resolver stands: depth components below the root, of which the
 * first nreal are directories that exist, dfd being the last of them (or the
 * root). The components past nreal do not exist and are taken lexically:
 * only their count matters. No names are kept, so a target of any length
 * (up to max_path, which put_symlink enforces) resolves in constant space.
 */
struct walk {
	int dfd;
	size_t depth, nreal;
};

/* Step into comp: for real when it is a directory that exists (never
 * through a symlink), else lexically. -1 on a local error.
 * O_PATH: the fd only anchors the walk and needs no read permission on
 * the directory (export runs on the bot's tree, modes and all).
 * A component that is missing or a file is counted but not entered: the
 * kernel would fail there, and counting it keeps a later ".." honest. The
 * check is of the tree as it stands: after import the bot owns it and may
 * make any link it likes; what is stopped is the archive itself handing
 * the host a link out of the workspace. */
static int walk_into(struct walk *w, const char *comp)
{
	int fd;

	if (w->nreal == w->depth) {
		fd = openat(w->dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			close(w->dfd);
			w->dfd = fd;
			w->nreal++;
		} else if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP &&
			   errno != ENAMETOOLONG) {
			return -1;
		}
	}
	w->depth++;
	return 0;
}

/* Step up to the parent; the caller checked that depth > 0. Every real
 * level was entered by name without following a link, so its ".." is the
 * level above it. That is why the walk keeps an fd and no names: ".." of
 * the fd is the truth, a string of names would have to be trusted. */
static int walk_up(struct walk *w)
{
	int fd;

	if (w->depth == w->nreal) {
		fd = openat(w->dfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -1;
		close(w->dfd);
		w->dfd = fd;
		w->nreal--;
	}
	w->depth--;
	return 0;
}

/*
 * The resolver's state: where the walk stands, and the part of the target
 * still to resolve.
 */
struct resolve {
	struct walk w;
	char *rest; /* malloc'd: the target, later a link's target joined with what was left */
	char *cur;  /* the next component, inside rest */
	int hops;   /* links expanded so far */
};

/* What a step returns when the target is not yet decided. */
#define LINK_GO_ON (-2)

/* The link's own directory, component by component. Its components
 * are real directories (open_parents on import, the walk on export
 * made sure), so they are entered, not expanded: a relative target
 * starts there. */
static int walk_link_dir(struct walk *w, const char *lpath)
{
	const char *dir_end = strrchr(lpath, '/');
	char *d, *p, *slash;

	if (!dir_end)
		return 0;
	d = strndup(lpath, (size_t)(dir_end - lpath));
	if (!d)
		return -1;
	p = d;
	while (p) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p && walk_into(w, p) < 0) {
			free(d);
			return -1;
		}
		p = slash ? slash + 1 : NULL;
	}
	free(d);
	return 0;
}

/* The next component of the target (NUL terminated in place), or NULL at its end. */
static char *next_comp(struct resolve *rs)
{
	char *comp, *slash;

	while (*rs->cur == '/')
		rs->cur++;
	if (!*rs->cur)
		return NULL;
	comp = rs->cur;
	slash = strchr(comp, '/');
	if (slash) {
		*slash = '\0';
		rs->cur = slash + 1;
	} else {
		rs->cur += strlen(rs->cur);
	}
	return comp;
}

/* comp is a symlink of the tree: go on with its target, then what was left. */
static int expand_link(struct resolve *rs, const char *comp)
{
	char tbuf[PATH_MAX];
	char *joined;
	ssize_t tl;

	/* A loop, or a chain past MAXSYMLINKS: not inside,
	 * and named as such in the message. */
	if (++rs->hops > MAX_LINK_HOPS)
		return EXTRACT_LINK_LOOP;
	/* Linux keeps a link target below PATH_MAX: it fits. */
	tl = readlinkat(rs->w.dfd, comp, tbuf, sizeof(tbuf) - 1);
	if (tl < 0)
		return -1;
	tbuf[tl] = '\0';
	if (tbuf[0] == '/')
		return 0;
	/* Continue with the link's target, then what was left.
	 * The walker stays in the link's directory, which is
	 * where a relative target starts: a leading ".." of
	 * the target climbs from there. */
	if (asprintf(&joined, "%s/%s", tbuf, rs->cur) < 0)
		return -1;
	free(rs->rest);
	rs->rest = rs->cur = joined;
	return LINK_GO_ON;
}

/* One component of the target: ".", "..", a symlink of the tree, or a name. */
static int resolve_comp(struct resolve *rs, const char *comp)
{
	struct walk *w = &rs->w;
	struct stat s;

	if (strcmp(comp, ".") == 0)
		return LINK_GO_ON;
	if (strcmp(comp, "..") == 0) {
		/* Leaving the root is an escape even when the rest
		 * of the target would come back in. */
		if (w->depth == 0)
			return 0;
		return walk_up(w) < 0 ? -1 : LINK_GO_ON;
	}
	/* A symlink of the tree: expand it as the kernel would. Only
	 * on the real part of the walk; below a missing component
	 * there is nothing to expand. */
	if (w->nreal == w->depth && fstatat(w->dfd, comp, &s, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(s.st_mode))
		return expand_link(rs, comp);
	return walk_into(w, comp) < 0 ? -1 : LINK_GO_ON;
}

/*
 * Resolve a symlink the way the kernel would, but inside the staging tree
 * and without following anything for real: walk the target component by
 * component from the link's directory, expanding the links the tree holds
 * (the lexical check alone misses chains such as cur -> ., par -> cur/..).
 * Components that do not exist are taken lexically. Returns 1 if the link
 * stays inside, 0 if it escapes, EXTRACT_LINK_LOOP past MAX_LINK_HOPS, -1 on
 * a local error.
 *
 * Why walk at all instead of asking the kernel (openat2 RESOLVE_BENEATH)?
 * The kernel stops at the first missing component, and a dangling link, or
 * one through a file, is legitimate in a workspace: it has no answer for
 * those. The unit test compares both where they can both answer.
 */
int extract_link_inside(int stagefd, const char *lpath, const char *ltarget)
{
	struct resolve rs = { .w = { -1, 0, 0 } };
	const char *comp;
	int result = -1;

	/* See extract_link_lexical: an absolute target is never inside. */
	if (!*ltarget || ltarget[0] == '/')
		return 0;
	rs.w.dfd = openat(stagefd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rs.w.dfd < 0)
		return -1;
	if (walk_link_dir(&rs.w, lpath) < 0)
		goto out;
	rs.rest = rs.cur = strdup(ltarget);
	if (!rs.rest)
		goto out;
	do {
		comp = next_comp(&rs);
		result = comp ? resolve_comp(&rs, comp) : 1;
	} while (result == LINK_GO_ON);
out:
	if (rs.w.dfd >= 0)
		close(rs.w.dfd);
	free(rs.rest);
	return result;
}

/*
 * A name for a message: a path or target of thousands of characters would
 * push the reason out of the 512 bytes of an sk_err. Keep its head and
 * tail.
 */
static const char *elide(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s);

	if (n < 128 || size < 104)
		return s;
	snprintf(buf, size, "%.40s...%s", s, s + n - 60);
	return buf;
}

/*
 * The tree-wide checks and the deferred metadata, run only once the whole
 * stream is in and verified. Symlinks first, while every directory is still
 * 0700 and ours: the resolver must be able to search each one, which an
 * archive's final modes (0000, say) could stop for a caller that is not root.
 */
static int finish(struct ex *x, struct sk_err *err)
{
	char eb1[128], eb2[128];
	size_t i;

	for (i = 0; i < x->nlinks; i++) {
		const struct symlink_rec *l = &x->links[i];
		int rc = extract_link_inside(x->stagefd, l->path, l->target);

		if (rc < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot check symlink '%s'",
					  elide(l->path, eb1, sizeof(eb1)));
		if (rc == EXTRACT_LINK_LOOP)
			return sk_err_set(err, SK_EDAMAGED,
					  "symlink '%s' -> '%s': a chain of more than %d links "
					  "(a loop?)",
					  elide(l->path, eb1, sizeof(eb1)),
					  elide(l->target, eb2, sizeof(eb2)), MAX_LINK_HOPS);
		if (rc == 0)
			return sk_err_set(err, SK_EDAMAGED,
					  "symlink '%s' -> '%s' resolves outside the workspace",
					  elide(l->path, eb1, sizeof(eb1)),
					  elide(l->target, eb2, sizeof(eb2)));
	}
	/* Children were recorded after their parents: walk backwards, so a
	 * parent's mtime is set after its children stop changing it and its
	 * mode after they no longer need to be created. Each is reopened by
	 * name without following instead of kept open: a tree with a million
	 * directories would need a million fds. */
	for (i = x->ndirs; i > 0; i--) {
		const struct dirmeta *m = &x->dirs[i - 1];
		struct sk_entry e = { 0 };
		int fd = open_dir_nofollow(x->stagefd, m->path);

		if (fd < 0)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'",
					  *m->path ? m->path : ".");
		e.mode = m->mode;
		e.uid = m->uid;
		e.gid = m->gid;
		e.mtime = m->mtime;
		if (set_owner_times(x, fd, &e, *m->path ? m->path : ".", err) < 0) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Release what the extraction holds; the stage itself stays for the caller. */
static void ex_free(struct ex *x)
{
	size_t i;

	if (!x)
		return;
	while (x->dc.n > 0)
		dc_pop(&x->dc);
	for (i = 0; i < x->ndirs; i++)
		free(x->dirs[i].path);
	free(x->dirs);
	for (i = 0; i < x->nlinks; i++) {
		free(x->links[i].path);
		free(x->links[i].target);
	}
	free(x->links);
	for (i = 0; i < x->capfiles; i++)
		free(x->files[i]);
	free(x->files);
	free(x);
}

static int run_archive(struct areader *r, int stagefd, const struct extract_limits *lim,
		       struct progress *prog, struct extract_stats *st, struct sk_err *err)
{
	struct ex *x;
	struct sk_entry e;
	int rc, ret = -1;

	memset(st, 0, sizeof(*st));
	/* On the heap: the directory cache alone is 12 KB. */
	x = calloc(1, sizeof(*x));
	if (!x)
		return sk_err_set(err, SK_EFAIL, "out of memory");
	x->stagefd = stagefd;
	/* Root keeps numeric owners; anyone else owns what it creates. */
	x->as_root = geteuid() == 0;
	x->lim = lim;
	x->st = st;
	x->prog = prog;
	x->r = r;
	while ((rc = areader_next(r, &e, err)) > 0) {
		/* Ctrl-C between entries: the caller removes the stage. */
		if (sig_interrupted()) {
			sk_err_set(err, SK_EFAIL, "interrupted");
			goto out;
		}
		/* Before the entry is created: max_entries bounds the
		 * inodes an archive of empty files can use. */
		if (st->entries >= lim->max_entries) {
			sk_err_set(err, SK_EDAMAGED,
				   "archive holds more than %llu entries (max_entries)",
				   (unsigned long long)lim->max_entries);
			goto out;
		}
		if (put_entry(x, &e, err) < 0)
			goto out;
		st->entries++;
		note_progress(x);
	}
	if (rc < 0)
		goto out;
	/* The stream is whole and verified (codec checksums, trailer, no
	 * trailing garbage); now the tree-wide checks. A truncated archive
	 * never gets this far, so it is never judged on half its links. */
	ret = x->stagefd < 0 ? 0 : finish(x, err);
out:
	ex_free(x);
	return ret;
}

int extract_archive(struct areader *r, int stagefd, const struct extract_limits *lim,
		    struct progress *prog, struct extract_stats *st, struct sk_err *err)
{
	return run_archive(r, stagefd, lim, prog, st, err);
}

int extract_check(struct areader *r, const struct extract_limits *lim, struct progress *prog,
		  struct extract_stats *st, struct sk_err *err)
{
	return run_archive(r, -1, lim, prog, st, err);
}
