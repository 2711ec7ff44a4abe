/*
 * fsutil.c: file-system helpers shared by every module: whole reads and
 * writes, mkdir -p and fsync of parents, removing a tree without following a
 * symlink, and temp files committed by rename (rule 1).
 */
#include "fsutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "banned.h"

int fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t fs_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int pread_all(int fd, char *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

void fs_next_data(int fd, off_t pos, off_t end, off_t *data, off_t *hole)
{
	off_t d = lseek(fd, pos, SEEK_DATA), h;

	if (d < 0)
		d = errno == ENXIO ? end : pos; /* only holes left, or no SEEK_DATA */
	if (d > end)
		d = end;
	h = d < end ? lseek(fd, d, SEEK_HOLE) : end;
	*data = d;
	*hole = h < 0 || h > end ? end : h;
}

int fs_pread_sparse(int fd, void *buf, size_t len, uint64_t off)
{
	char *b = buf;
	off_t pos = (off_t)off, end = (off_t)(off + len), data, hole;
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -1;
	if (st.st_size < end) {
		errno = EIO;
		return -1;
	}
	while (pos < end) {
		fs_next_data(fd, pos, end, &data, &hole);
		memset(b + (pos - (off_t)off), 0, (size_t)(data - pos));
		if (pread_all(fd, b + (data - (off_t)off), (size_t)(hole - data), data) < 0)
			return -1;
		pos = hole;
	}
	return 0;
}

int fs_mkdir_p(const char *path, mode_t mode, struct sk_err *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len == 0 || len >= sizeof(buf))
		return sk_err_set(err, SK_EFAIL, "bad directory path '%s'", path);
	memcpy(buf, path, len + 1);
	for (p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return sk_err_sys(err, SK_EFAIL, errno, "cannot create '%s'", buf);
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int fs_fsync_path(const char *path, struct sk_err *err)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", path);
	if (fsync(fd) < 0) {
		int e = errno;

		close(fd);
		return sk_err_sys(err, SK_EFAIL, e, "fsync '%s'", path);
	}
	close(fd);
	return 0;
}

const char *fs_split(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, size, ".");
		return path;
	}
	if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
	return slash + 1;
}

int fs_fsync_parent(const char *path, struct sk_err *err)
{
	char dir[PATH_MAX];

	fs_split(path, dir, sizeof(dir));
	return fs_fsync_path(dir, err);
}

int fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Empty the directory open at fd, depth levels below the top. */
static int rm_children(int fd, const char *what, int depth, struct sk_err *err)
{
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (depth > 4096)
		return sk_err_set(err, SK_EFAIL, "cannot remove '%s': tree too deep", what);
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return sk_err_sys(err, SK_EFAIL, e, "cannot read '%s'", what);
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
			continue;
		if (unlinkat(dirfd(d), n, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s/%s'", what, n);
			break;
		}
		/* A directory: O_NOFOLLOW keeps a swapped-in symlink from
		 * leading the removal out of the tree. */
		int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (sub < 0) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s/%s'", what, n);
			break;
		}
		if (rm_children(sub, what, depth + 1, err) < 0) {
			ret = -1;
			break;
		}
		if (unlinkat(dirfd(d), n, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			ret = sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s/%s'", what, n);
			break;
		}
	}
	if (ret == 0 && errno != 0)
		ret = sk_err_sys(err, SK_EFAIL, errno, "cannot read '%s'", what);
	closedir(d);
	return ret;
}

int fs_reopen_dir(int fd)
{
	return openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int fs_rmtree_at(int dirfd, const char *name, struct sk_err *err)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", name);
	if (rm_children(fd, name, 0, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot remove '%s'", name);
	return 0;
}

int fs_rmtree(const char *path, struct sk_err *err)
{
	char dir[PATH_MAX];
	const char *base = fs_split(path, dir, sizeof(dir));
	int dfd, ret;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open '%s'", dir);
	}
	ret = fs_rmtree_at(dfd, base, err);
	if (ret == 0)
		fsync(dfd);
	close(dfd);
	if (ret < 0)
		sk_err_wrap(err, "remove '%s'", path);
	return ret;
}

int fs_tmpfile_near(const char *final, char *tmp, size_t size, struct sk_err *err)
{
	char dir[PATH_MAX];
	const char *base = fs_split(final, dir, sizeof(dir));
	int fd;

	if ((size_t)snprintf(tmp, size, "%s/.%s.XXXXXX", dir, base) >= size)
		return sk_err_set(err, SK_EFAIL, "path too long: '%s'", final);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot create a temporary file in '%s'",
				  dir);
	return fd;
}

int fs_commit_tmp(int fd, const char *tmp, const char *final, struct sk_err *err)
{
	if (fsync(fd) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "fsync '%s'", tmp);
	if (rename(tmp, final) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot rename '%s' to '%s'", tmp, final);
	return fs_fsync_parent(final, err);
}

void fs_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int fs_pathf(char *buf, size_t size, struct sk_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return sk_err_set(err, SK_EUSAGE, "path too long: '%.64s...'", buf);
	return 0;
}
