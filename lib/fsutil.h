/*
 * fsutil: small file-system helpers every module shares: whole writes,
 * directory creation and fsync, tree removal that never follows a symlink,
 * and the temp-name-then-rename discipline of rule 1.
 */
#ifndef SK_FSUTIL_H
#define SK_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Write all of buf, retrying short writes and EINTR. 0, or -1 with errno. */
int fs_write_all(int fd, const void *buf, size_t len);

/* Read up to len bytes, retrying short reads until EOF. Bytes read or -1. */
ssize_t fs_read_full(int fd, void *buf, size_t len);

/*
 * The next run of data in fd from pos on, cut at end: [*data, *hole).
 * *data is end when only holes are left. Where the file system cannot tell
 * its holes (no SEEK_DATA), all of [pos, end) is data.
 */
void fs_next_data(int fd, off_t pos, off_t end, off_t *data, off_t *hole);

/*
 * Read exactly len bytes at off, the holes as zeros without reading them
 * (fs_next_data): a sparse memory file's zero pages cost a memset, not a
 * copy out of the page cache. 0, or -1 with errno (EIO: the file ends first).
 */
int fs_pread_sparse(int fd, void *buf, size_t len, uint64_t off);

/* mkdir -p with mode for the directories it creates. SK_EFAIL on error. */
int fs_mkdir_p(const char *path, mode_t mode, struct sk_err *err);

/* fsync the directory at path. SK_EFAIL on error. */
int fs_fsync_path(const char *path, struct sk_err *err);

/* fsync the directory that contains path. */
int fs_fsync_parent(const char *path, struct sk_err *err);

/*
 * Remove name under dirfd and everything below it, never following a
 * symbolic link (each level is opened with O_NOFOLLOW relative to its parent).
 * A missing name is not an error. SK_EFAIL on error.
 */
int fs_rmtree_at(int dirfd, const char *name, struct sk_err *err);
/* The same for an absolute or cwd-relative path. */
int fs_rmtree(const char *path, struct sk_err *err);

/* Split path into its directory (into dir, size bytes) and return the last
 * component (pointing into path). "a" gives ".". */
const char *fs_split(const char *path, char *dir, size_t size);

/* True if path names an existing file of any kind (lstat). */
int fs_exists(const char *path);

/*
 * Open a fresh temporary file next to final ("<dir>/.<base>.XXXXXX"), mode
 * 0600. The chosen name goes to tmp (size bytes). Returns fd or -1 (SK_EFAIL).
 */
int fs_tmpfile_near(const char *final, char *tmp, size_t size, struct sk_err *err);

/* fsync fd, rename tmp over final, fsync final's directory (rule 1). */
int fs_commit_tmp(int fd, const char *tmp, const char *final, struct sk_err *err);

/* snprintf into a path buffer; SK_EUSAGE naming the result when it does not fit. */
int fs_pathf(char *buf, size_t size, struct sk_err *err, const char *fmt, ...) SK_PRINTF(4, 5);

/*
 * Open the directory that fd names afresh, with an offset of its own
 * (openat(fd, ".")). Every reader of a directory (fdopendir, readdir) gets
 * such a descriptor: a dup() shares the offset, so a second pass over it
 * would start at the end and see an empty directory. fd or -1 with errno.
 */
int fs_reopen_dir(int fd);

/* Raise RLIMIT_NOFILE to its hard limit; deep trees hold one fd per level. */
void fs_raise_nofile(void);

#endif
