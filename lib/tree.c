/*
 * tree.c: the export walk. It reads the bot's workspace (untrusted, and
 * possibly changing under us) one level at a time from the root fd and writes
 * each entry to the archive; what import would refuse is left out, with a
 * warning, so an export always imports.
 */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "extract.h"
#include "fsutil.h"
#include "sig.h"
#include "banned.h"

#define IO_CHUNK (1 << 20)
/* The walk recurses once per level: a bot can make a tree a million levels
 * deep, which would overflow the C stack long before max_depth applies
 * (export skips what is too deep but still has to descend to see it). */
#define MAX_DEPTH 4096

/*
 * Files with more than one link: (dev, ino) -> the name first archived. A
 * later name becomes a hardlink entry to that first name, which is what
 * import accepts (a link to an earlier file of the archive), and the data is
 * stored once. dev is part of the key because inode numbers are unique only
 * per file system, and a workspace may hold a mount.
 */
struct link_ent {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	int rootfd;
	const struct extract_limits *lim;
	struct awriter *w;
	struct progress *prog;
	struct tree_stats *st;
	char *buf; /* IO_CHUNK bytes of file data */
	struct link_ent *links;
	size_t nlinks, caplinks;
	struct sk_extent *ext;
	size_t capext;
	char target[4097]; /* a symlink's target; here, not in each level's frame */
};

static size_t link_slot(const struct walk *wk, dev_t dev, ino_t ino)
{
	size_t h = ((size_t)ino * 0x9e3779b97f4a7c15ULL) ^ (size_t)dev;

	h &= wk->caplinks - 1;
	while (wk->links[h].path && (wk->links[h].dev != dev || wk->links[h].ino != ino))
		h = (h + 1) & (wk->caplinks - 1);
	return h;
}

static int link_grow(struct walk *wk)
{
	struct link_ent *old = wk->links;
	size_t oldcap = wk->caplinks, i;

	wk->caplinks = oldcap ? oldcap * 2 : 256;
	wk->links = calloc(wk->caplinks, sizeof(*wk->links));
	if (!wk->links)
		return -1;
	for (i = 0; i < oldcap; i++)
		if (old[i].path)
			wk->links[link_slot(wk, old[i].dev, old[i].ino)] = old[i];
	free(old);
	return 0;
}

/* The first name of (dev, ino) if seen before, else remember path: NULL.
 * A hash set, so a tree of a million hardlinks is not quadratic. */
static const char *link_seen(struct walk *wk, const struct stat *s, const char *path, int *oom)
{
	size_t h;

	*oom = 0;
	if ((wk->nlinks + 1) * 2 > wk->caplinks && link_grow(wk) < 0) {
		*oom = 1;
		return NULL;
	}
	h = link_slot(wk, s->st_dev, s->st_ino);
	if (wk->links[h].path)
		return wk->links[h].path;
	wk->links[h].path = strdup(path);
	if (!wk->links[h].path) {
		*oom = 1;
		return NULL;
	}
	wk->links[h].dev = s->st_dev;
	wk->links[h].ino = s->st_ino;
	wk->nlinks++;
	return NULL;
}

static int ext_push(struct walk *wk, size_t n, uint64_t off, uint64_t len)
{
	if (n == wk->capext) {
		size_t cap = wk->capext ? wk->capext * 2 : 64;
		struct sk_extent *e = realloc(wk->ext, cap * sizeof(*e));

		if (!e)
			return -1;
		wk->ext = e;
		wk->capext = cap;
	}
	wk->ext[n].off = off;
	wk->ext[n].len = len;
	return 0;
}

/*
 * Map the data regions of a file that has fewer blocks than its size.
 * Returns the number of extents, 0 for "treat as dense", -1 on error.
 * Holes are archived as holes (a pax sparse map) so a 60 GB sparse disk image
 * costs its data, not 60 GB of zeros, and comes back sparse.
 */
static ssize_t map_sparse(struct walk *wk, int fd, const struct stat *s)
{
	off_t pos = 0, data, hole, size = s->st_size;
	size_t n = 0;

	/* As many blocks as bytes: no hole worth a map, and no lseek calls
	 * on the common, dense file. */
	if (size == 0 || (uint64_t)s->st_blocks * 512 >= (uint64_t)size)
		return 0;
	while (pos < size) {
		data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole remains */
			/* EINVAL: the file system has no SEEK_DATA. */
			return errno == EINVAL ? 0 : -1;
		}
		if (data >= size)
			break;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -1;
		/* The file may grow while we map it: the header's size,
		 * taken from the same fstat, is what counts. */
		if (hole > size)
			hole = size;
		if (ext_push(wk, n++, (uint64_t)data, (uint64_t)(hole - data)) < 0)
			return -1;
		pos = hole;
	}
	/* A sparse map needs at least one region; a file that is all hole
	 * gets its last byte stored, as GNU tar does. */
	if (n == 0 && ext_push(wk, n++, (uint64_t)size - 1, 1) < 0)
		return -1;
	return (ssize_t)n;
}

/*
 * Copy len bytes at off into the archive. Exactly len: the header already
 * promised that many, and a tar stream with fewer is misaligned from there
 * on, every later header read as data. Bytes a growing file gains past the
 * header's size are not read at all.
 */
static int copy_range(struct walk *wk, int fd, const char *path, uint64_t off, uint64_t len,
		      struct sk_err *err)
{
	int changed = 0;

	while (len > 0) {
		size_t want = len < IO_CHUNK ? (size_t)len : IO_CHUNK;

		/* Per chunk, not per file: Ctrl-C on a 60 GB file must
		 * not wait for the end of it. */
		if (sig_interrupted())
			return sk_err_set(err, SK_EFAIL, "interrupted");
		ssize_t n = pread(fd, wk->buf, want, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sk_err_sys(err, SK_EFAIL, errno, "read '%s'", path);
		}
		if (n == 0) {
			/* Shrunk while we read it: keep the header's promise. */
			memset(wk->buf, 0, want);
			n = (ssize_t)want;
			changed = 1;
		}
		if (awriter_data(wk->w, wk->buf, (size_t)n, err) < 0)
			return -1;
		if (wk->prog)
			progress_add(wk->prog, (uint64_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	if (changed)
		log_warn("'%s' shrank while it was read; padded with zeros", path);
	return 0;
}

/*
 * One regular file: a hardlink entry if its inode was archived under an
 * earlier name, else a header and its data (holes kept). The lstat that
 * chose this function and the open that reads are two steps, and the bot's
 * tree can change in between: the checks below make a swapped name an
 * error, never a read of something else.
 */
static int put_file(struct walk *wk, int dfd, const char *name, const char *path,
		    const struct stat *s, struct sk_err *err)
{
	struct sk_entry e = { 0 };
	struct stat fs;
	uint64_t pos = 0;
	ssize_t next = 0;
	size_t i;
	int fd, ret = -1, oom;

	e.path = path;
	e.mode = s->st_mode;
	e.uid = s->st_uid;
	e.gid = s->st_gid;
	e.mtime = s->st_mtim;
	if (s->st_nlink > 1) {
		const char *first = link_seen(wk, s, path, &oom);

		if (oom)
			return sk_err_set(err, SK_EFAIL, "out of memory");
		if (first) {
			e.type = SK_HARDLINK;
			e.link = first;
			return awriter_add(wk->w, &e, err);
		}
	}
	/* O_NOFOLLOW: if the name became a symlink since the lstat, fail
	 * rather than read whatever it points at (/etc/shadow, as root).
	 * O_NONBLOCK: if it became a fifo, open would wait forever for a
	 * writer. O_NOCTTY: if it became a terminal, it must not become ours. */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	/* The inode comparison: the name now opened must be the file the
	 * lstat saw. Another file swapped in would be archived under this
	 * name with the wrong hardlink identity; a fifo or device passes
	 * O_NOFOLLOW but is not S_ISREG. The header below is built from this
	 * fstat, the one that matches the data we read. */
	if (fstat(fd, &fs) < 0 || !S_ISREG(fs.st_mode) || fs.st_ino != s->st_ino) {
		sk_err_set(err, SK_EFAIL, "'%s' changed while it was archived", path);
		goto out;
	}
	/* Read-ahead only; a failure changes nothing. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	e.type = SK_REG;
	e.size = (uint64_t)fs.st_size;
	next = map_sparse(wk, fd, &fs);
	if (next < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot map holes of '%s'", path);
		goto out;
	}
	e.extents = next ? wk->ext : NULL;
	e.nextents = (size_t)next;
	if (awriter_add(wk->w, &e, err) < 0)
		goto out;
	if (next == 0) {
		if (copy_range(wk, fd, path, 0, e.size, err) < 0)
			goto out;
	} else {
		for (i = 0; i < (size_t)next; i++) {
			if (awriter_hole(wk->w, wk->ext[i].off - pos, err) < 0)
				goto out;
			/* A hole counts as done: the size pass counted it. */
			if (wk->prog)
				progress_add(wk->prog, wk->ext[i].off - pos);
			if (copy_range(wk, fd, path, wk->ext[i].off, wk->ext[i].len, err) < 0)
				goto out;
			pos = wk->ext[i].off + wk->ext[i].len;
		}
		if (awriter_hole(wk->w, e.size - pos, err) < 0)
			goto out;
		if (wk->prog)
			progress_add(wk->prog, e.size - pos);
	}
	wk->st->bytes += e.size;
	ret = 0;
out:
	close(fd);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the directory open at fd (fd is consumed). Sorted so that
 * the same tree always gives the same archive, whatever order the file
 * system returns; read whole and closed before the caller recurses, so the
 * walk holds one directory fd per level, not a DIR stream per level. */
static char **list_dir(int fd, size_t *count, struct sk_err *err, const char *path)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		int e = errno;

		close(fd);
		sk_err_sys(err, SK_EFAIL, e, "cannot read '%s'", path);
		return NULL;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *nm = de->d_name;

		if (nm[0] == '.' && (nm[1] == '\0' || (nm[1] == '.' && nm[2] == '\0')))
			continue;
		if (n + 1 >= cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **nv = realloc(v, nc * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
			cap = nc;
		}
		v[n] = strdup(nm);
		if (!v[n])
			goto oom;
		n++;
	}
	/* readdir returns NULL at the end and on an error alike: a listing
	 * cut short would silently leave files out of the backup. */
	if (errno) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot read '%s'", path);
		goto fail;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_names);
	if (!v)
		v = calloc(1, sizeof(*v));
	*count = n;
	return v;
oom:
	sk_err_set(err, SK_EFAIL, "out of memory");
fail:
	while (n > 0)
		free(v[--n]);
	free(v);
	closedir(d);
	return NULL;
}

/* The header fields every entry takes from its lstat. */
static void entry_from_stat(struct sk_entry *e, const char *path, const struct stat *s)
{
	e->path = path;
	e->mode = s->st_mode;
	e->uid = s->st_uid;
	e->gid = s->st_gid;
	e->mtime = s->st_mtim;
}

static int walk_dir(struct walk *wk, int dfd, char *path, size_t plen, int depth,
		    struct sk_err *err);

/*
 * A directory: its header, then its children. path[0..plen) is its name,
 * as in walk_dir.
 */
static int put_dir(struct walk *wk, int dfd, const char *name, char *path, size_t plen, int depth,
		   const struct stat *s, struct sk_err *err)
{
	struct sk_entry e = { 0 };
	int sub, ret;

	/* The directory's header before its children, the
	 * order every tar reader expects (the archive must
	 * import with GNU tar and bsdtar too): a reader that
	 * meets a child first has to invent its parent. */
	entry_from_stat(&e, path, s);
	e.type = SK_DIR;
	if (awriter_add(wk->w, &e, err) < 0)
		return -1;
	/* O_NOFOLLOW | O_DIRECTORY: if the name became a
	 * symlink (to /, say) since the fstatat, this fails
	 * instead of walking the host into the archive. */
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	ret = walk_dir(wk, sub, path, plen, depth + 1, err);
	close(sub);
	return ret;
}

/* A symlink: archived as a link if it stays inside, else skipped (1). */
static int put_symlink(struct walk *wk, int dfd, const char *name, const char *path,
		       const struct stat *s, struct sk_err *err)
{
	struct sk_entry e = { 0 };
	char *target = wk->target;
	ssize_t tl = readlinkat(dfd, name, target, sizeof(wk->target) - 1);
	int rc;

	if (tl < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot read link '%s'", path);
	/* Linux keeps targets under 4096 bytes: a full
	 * buffer means it was cut, and a cut target is a
	 * different target. */
	if ((size_t)tl >= sizeof(wk->target) - 1)
		return sk_err_set(err, SK_EFAIL, "'%s': link target too long", path);
	target[tl] = '\0';
	/* Rule 5: only links that stay inside; import would refuse
	 * the whole archive for one that does not. The same
	 * resolver as import's, on the same tree, so the two
	 * cannot disagree; -1 (could not tell) is skipped too. */
	rc = extract_link_inside(wk->rootfd, path, target);
	if (rc != 1) {
		log_warn("skipping symlink '%s' -> '%s': %s", path, target,
			 rc == EXTRACT_LINK_LOOP ? "a chain of more than 40 links"
						 : "it points outside the workspace");
		wk->st->skipped++;
		return 1;
	}
	entry_from_stat(&e, path, s);
	e.type = SK_SYMLINK;
	e.link = target;
	return awriter_add(wk->w, &e, err);
}

/* Anything that is not a file, directory or symlink: skipped (1). */
static int skip_special(struct walk *wk, const char *path, const struct stat *s)
{
	/* Devices, fifos and sockets: import refuses them
	 * (a device node written as root is a way into the
	 * host), and a socket or fifo has no content to keep. */
	log_warn("skipping %s '%s'",
		 S_ISSOCK(s->st_mode)	? "socket"
		 : S_ISFIFO(s->st_mode) ? "fifo"
		 : S_ISCHR(s->st_mode)	? "character device"
		 : S_ISBLK(s->st_mode)	? "block device"
					: "special file",
		 path);
	wk->st->skipped++;
	return 1;
}

/*
 * One name of the directory open at dfd, whose own name is path[0..plen):
 * appended to path, checked against the limits, lstat'ed and archived by
 * type. 0 when archived, 1 when skipped, -1 on an error.
 */
static int walk_entry(struct walk *wk, int dfd, const char *name, char *path, size_t plen,
		      int depth, struct sk_err *err)
{
	size_t nlen = strlen(name), clen = plen + nlen + (plen ? 1 : 0);
	struct stat s;

	if (sig_interrupted())
		return sk_err_set(err, SK_EFAIL, "interrupted");
	/* The path buffer's size; far past any max_path. */
	if (plen + nlen + 2 > 65536)
		return sk_err_set(err, SK_EFAIL, "'%s/%s': name too long", path, name);
	if (plen)
		path[plen] = '/';
	memcpy(path + plen + (plen ? 1 : 0), name, nlen + 1);
	/* Import refuses the whole archive for one name past its
	 * limits; leaving that name out here, with a warning, is the
	 * lesser loss: an export must always import. */
	if ((uint64_t)depth + 1 > wk->lim->max_depth || clen > wk->lim->max_path) {
		log_warn("skipping '%.200s...': deeper or longer than the archive limits "
			 "(max_depth %llu, max_path %llu)",
			 path, (unsigned long long)wk->lim->max_depth,
			 (unsigned long long)wk->lim->max_path);
		wk->st->skipped++;
		return 1;
	}
	/* AT_SYMLINK_NOFOLLOW: a symlink is archived as a link,
	 * never as what it points at. */
	if (fstatat(dfd, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 1; /* gone since readdir */
		return sk_err_sys(err, SK_EFAIL, errno, "cannot stat '%s'", path);
	}
	switch (s.st_mode & S_IFMT) {
	case S_IFREG:
		return put_file(wk, dfd, name, path, &s, err);
	case S_IFDIR:
		return put_dir(wk, dfd, name, path, clen, depth, &s, err);
	case S_IFLNK:
		return put_symlink(wk, dfd, name, path, &s, err);
	default:
		return skip_special(wk, path, &s);
	}
}

/*
 * Archive the entries of the directory open at dfd, whose name relative to
 * the root is path[0..plen). Every child is reached from dfd by a single
 * name, never by a path string from the root: a directory renamed or
 * replaced by a symlink while we walk cannot move the walk outside the
 * workspace (rule 4).
 */
static int walk_dir(struct walk *wk, int dfd, char *path, size_t plen, int depth,
		    struct sk_err *err)
{
	char **names;
	size_t n, i;
	int ret = 0, fd;

	if (depth > MAX_DEPTH)
		return sk_err_set(err, SK_EFAIL, "'%s': tree deeper than %d levels", path,
				  MAX_DEPTH);
	/* A descriptor of its own for reading: one shared with the size pass
	 * would start at the end and list nothing (fs_reopen_dir). */
	fd = fs_reopen_dir(dfd);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", plen ? path : ".");
	names = list_dir(fd, &n, err, plen ? path : ".");
	if (!names)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		int rc = walk_entry(wk, dfd, names[i], path, plen, depth, err);

		if (rc < 0)
			ret = -1;
		else if (rc == 0)
			wk->st->entries++;
		path[plen] = '\0';
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int tree_export(int rootfd, struct awriter *w, const struct extract_limits *lim,
		struct progress *prog, struct tree_stats *st, struct sk_err *err)
{
	struct walk wk = { 0 };
	char *path;
	size_t i;
	int ret;

	memset(st, 0, sizeof(*st));
	wk.rootfd = rootfd;
	wk.lim = lim;
	wk.w = w;
	wk.prog = prog;
	wk.st = st;
	/* One data buffer and one path buffer for the whole walk, not one
	 * per level: a deep tree must not cost depth times a megabyte. */
	wk.buf = malloc(IO_CHUNK);
	path = malloc(65536);
	if (!wk.buf || !path) {
		free(wk.buf);
		free(path);
		return sk_err_set(err, SK_EFAIL, "out of memory");
	}
	path[0] = '\0';
	ret = walk_dir(&wk, rootfd, path, 0, 0, err);
	for (i = 0; i < wk.caplinks; i++)
		free(wk.links[i].path);
	free(wk.links);
	free(wk.ext);
	free(wk.buf);
	free(path);
	return ret;
}

/*
 * The size pass behind the progress percentage: what the walk will count,
 * every regular file's length (holes included, as the walk counts them),
 * each inode once however many names it has.
 */
struct size_pass {
	ino_t *seen; /* open-addressing set of multi-link inodes */
	size_t cap, n;
};

/* 1 if ino was already counted; otherwise remember it and return 0. */
static int size_seen(struct size_pass *sp, ino_t ino)
{
	size_t i;

	if (sp->n * 2 >= sp->cap) {
		size_t ncap = sp->cap ? sp->cap * 2 : 256;
		ino_t *nv = calloc(ncap, sizeof(*nv));

		if (!nv)
			return 0; /* an estimate too high, nothing worse */
		for (i = 0; i < sp->cap; i++) {
			size_t h;

			if (!sp->seen[i])
				continue;
			for (h = sp->seen[i] % ncap; nv[h]; h = (h + 1) % ncap)
				;
			nv[h] = sp->seen[i];
		}
		free(sp->seen);
		sp->seen = nv;
		sp->cap = ncap;
	}
	for (i = ino % sp->cap; sp->seen[i]; i = (i + 1) % sp->cap)
		if (sp->seen[i] == ino)
			return 1;
	sp->seen[i] = ino;
	sp->n++;
	return 0;
}

/* Best effort, so every error is skipped: a wrong total only makes the
 * percentage wrong, and the real walk reports real errors. The same
 * O_NOFOLLOW descent as the walk, so it cannot count the host either. */
static uint64_t size_dir(struct size_pass *sp, int dfd, int depth)
{
	uint64_t total = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if (depth > MAX_DEPTH || (fd = fs_reopen_dir(dfd)) < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat s;

		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (fstatat(dirfd(d), de->d_name, &s, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(s.st_mode)) {
			/* Inode 0 is the set's empty marker: counted, not kept. */
			if (s.st_nlink < 2 || !s.st_ino || !size_seen(sp, s.st_ino))
				total += (uint64_t)s.st_size;
		} else if (S_ISDIR(s.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				total += size_dir(sp, sub, depth + 1);
				close(sub);
			}
		}
	}
	closedir(d);
	return total;
}

uint64_t tree_size(int rootfd)
{
	struct size_pass sp = { 0 };
	uint64_t total = size_dir(&sp, rootfd, 0);

	free(sp.seen);
	return total;
}

/*
 * Hardlinks instead of copies are safe because the extractor replaces names
 * (unlink, then create a new inode) and never writes into an existing file:
 * the old workspace, which these inodes still belong to, stays as it was
 * if the import fails.
 */
static int link_copy_dir(int src, int dst, const char *path, int depth, struct sk_err *err)
{
	char **names;
	size_t n, i;
	int fd, ret = 0;

	if (depth > MAX_DEPTH)
		return sk_err_set(err, SK_EFAIL, "'%s': tree too deep", path);
	fd = fs_reopen_dir(src);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	names = list_dir(fd, &n, err, path);
	if (!names)
		return -1;
	for (i = 0; i < n && ret == 0; i++) {
		struct stat s;
		int s2, d2;

		if (fstatat(src, names[i], &s, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot stat '%s'", names[i]);
			break;
		}
		/* flags 0: a symlink is linked as itself, not its target. */
		if (!S_ISDIR(s.st_mode)) {
			if (linkat(src, names[i], dst, names[i], 0) < 0)
				ret =
				    sk_err_sys(err, SK_EFAIL, errno, "cannot link '%s'", names[i]);
			continue;
		}
		/* 0700 until its children are in: the source's mode may be
		 * read-only, and its mtime is set after they stop changing it. */
		if (mkdirat(dst, names[i], 0700) < 0) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", names[i]);
			break;
		}
		s2 = openat(src, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		d2 = openat(dst, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s2 < 0 || d2 < 0) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", names[i]);
		} else {
			struct timespec ts[2] = { s.st_atim, s.st_mtim };

			ret = link_copy_dir(s2, d2, names[i], depth + 1, err);
			if (ret == 0 && (fchown(d2, s.st_uid, s.st_gid) < 0 ||
					 fchmod(d2, s.st_mode & 07777) < 0 || futimens(d2, ts) < 0))
				ret = sk_err_sys(err, SK_EFAIL, errno,
						 "cannot copy metadata of '%s'", names[i]);
		}
		if (s2 >= 0)
			close(s2);
		if (d2 >= 0)
			close(d2);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int tree_link_copy(int srcfd, int dstfd, struct sk_err *err)
{
	return link_copy_dir(srcfd, dstfd, ".", 0, err);
}
