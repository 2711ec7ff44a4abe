/*
 * clone.c: copying disk images for snapshots and restores: FICLONE where the
 * filesystem shares extents, else a sparse copy that moves only the data
 * ranges (SEEK_DATA/SEEK_HOLE, copy_file_range) and leaves holes as holes.
 */
#include "clone.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include "banned.h"

int clone_mode_parse(const char *s, enum clone_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = CLONE_AUTO;
	else if (!strcmp(s, "reflink"))
		*out = CLONE_REFLINK;
	else if (!strcmp(s, "copy"))
		*out = CLONE_COPY;
	else
		return -1;
	return 0;
}

/* Errors with which FICLONE says "not here" rather than "broken". */
static int no_reflink(int e)
{
	return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS ||
	       e == EPERM;
}

/* Copy [off, off+len) with copy_file_range, falling back to read/write. */
static int copy_range(int sfd, int dfd, off_t off, off_t len, char **bufp, const char *what,
		      struct sk_err *err)
{
	int use_cfr = 1;

	while (len > 0) {
		ssize_t n;

		if (use_cfr) {
			off_t in = off, out = off;

			n = copy_file_range(sfd, &in, dfd, &out, (size_t)len, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				use_cfr = 0;
				continue;
			}
		} else {
			size_t chunk = len > (1 << 20) ? (1 << 20) : (size_t)len;

			if (!*bufp && !(*bufp = malloc(1 << 20)))
				return sk_err_set(err, SK_EFAIL, "out of memory");
			n = pread(sfd, *bufp, chunk, off);
			if (n > 0) {
				ssize_t w = pwrite(dfd, *bufp, (size_t)n, off);

				if (w != n)
					return sk_err_sys(err, SK_EFAIL, w < 0 ? errno : EIO,
							  "write clone of '%s'", what);
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sk_err_sys(err, SK_EFAIL, errno, "copy '%s'", what);
		}
		if (n == 0) /* the source shrank under us */
			return sk_err_set(err, SK_EFAIL, "copy '%s': file shrank while copying",
					  what);
		off += n;
		len -= n;
	}
	return 0;
}

static int sparse_copy(int sfd, int dfd, off_t size, const char *what, struct sk_err *err)
{
	char *buf = NULL;
	off_t data = 0, hole;
	int ret = -1;

	while (data < size) {
		data = lseek(sfd, data, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO) /* only a hole remains */
				break;
			if (errno == EINVAL || errno == EOPNOTSUPP) {
				/* No SEEK_DATA here: copy it all, still by ranges. */
				if (copy_range(sfd, dfd, 0, size, &buf, what, err) < 0)
					goto out;
				break;
			}
			sk_err_sys(err, SK_EFAIL, errno, "seek in '%s'", what);
			goto out;
		}
		hole = lseek(sfd, data, SEEK_HOLE);
		if (hole < 0) {
			sk_err_sys(err, SK_EFAIL, errno, "seek in '%s'", what);
			goto out;
		}
		if (hole > size)
			hole = size;
		if (copy_range(sfd, dfd, data, hole - data, &buf, what, err) < 0)
			goto out;
		data = hole;
	}
	/* The tail may be a hole: the length must still match. */
	if (ftruncate(dfd, size) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "size clone of '%s'", what);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int clone_fd(int sfd, int dfd, enum clone_mode mode, int *reflinked, const char *what,
	     struct sk_err *err)
{
	struct stat st;

	if (reflinked)
		*reflinked = 0;
	if (fstat(sfd, &st) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "stat '%s'", what);
	if (!S_ISREG(st.st_mode))
		return sk_err_set(err, SK_EFAIL, "'%s' is not a regular file", what);
	if (mode != CLONE_COPY) {
		if (ioctl(dfd, FICLONE, sfd) == 0) {
			if (reflinked)
				*reflinked = 1;
			goto sync;
		}
		if (!no_reflink(errno))
			return sk_err_sys(err, SK_EFAIL, errno, "reflink '%s'", what);
		if (mode == CLONE_REFLINK)
			return sk_err_sys(err, SK_EFAIL, errno,
					  "cannot reflink '%s' (clone = reflink needs a filesystem "
					  "with reflink, such as XFS or btrfs, holding both files)",
					  what);
	}
	if (sparse_copy(sfd, dfd, st.st_size, what, err) < 0)
		return -1;
sync:
	if (fsync(dfd) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "fsync clone of '%s'", what);
	return 0;
}

int clone_fd_to(int sfd, const char *what, const char *dst, enum clone_mode mode, mode_t perm,
		int *reflinked, struct sk_err *err)
{
	int dfd, ret;

	dfd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, perm);
	if (dfd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", dst);
	ret = clone_fd(sfd, dfd, mode, reflinked, what, err);
	if (close(dfd) < 0 && ret == 0)
		ret = sk_err_sys(err, SK_EFAIL, errno, "close '%s'", dst);
	if (ret < 0)
		unlink(dst);
	return ret;
}

int clone_file(const char *src, const char *dst, enum clone_mode mode, mode_t perm, int *reflinked,
	       struct sk_err *err)
{
	int sfd, ret;

	sfd = open(src, O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return sk_err_sys(err, errno == ENOENT ? SK_ENOENT : SK_EFAIL, errno,
				  "cannot open '%s'", src);
	ret = clone_fd_to(sfd, src, dst, mode, perm, reflinked, err);
	close(sfd);
	return ret;
}
