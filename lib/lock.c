/*
 * lock.c: one flock(2) file per object. The holder writes its pid so a busy
 * command can name it; a lock file that was unlinked while we waited is not
 * a lock, so acquiring retries until the locked file is the linked one.
 */
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "sig.h"
#include "banned.h"

struct lock {
	int fd;
	char path[PATH_MAX];
};

static long read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/*
 * Whether fd, which holds the lock, is still the file path names. A holder
 * removes the file as it releases the lock, so a waiter can end up holding a
 * file nobody will ever look at again: it must open the path afresh. 1 yes,
 * 0 no, -1 error.
 */
static int still_linked(int fd, const char *path, struct sk_err *err)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot stat lock '%s'", path);
	if (lstat(path, &b) < 0) {
		if (errno == ENOENT)
			return 0;
		return sk_err_sys(err, SK_EFAIL, errno, "cannot stat lock '%s'", path);
	}
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int lock_acquire(struct lock **out, const char *locks_dir, const char *kind, const char *id,
		 int wait_s, struct sk_err *err)
{
	char path[PATH_MAX], pid[32];
	double deadline = log_now() + (wait_s > 0 ? wait_s : 0);
	struct lock *lk;
	int fd = -1, r;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", locks_dir, kind, id) >= sizeof(path))
		return sk_err_set(err, SK_EFAIL, "lock path too long");
	for (;;) {
		if (fd < 0) {
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (fd < 0)
				return sk_err_sys(err, SK_EFAIL, errno, "cannot open lock '%s'",
						  path);
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			r = still_linked(fd, path, err);
			if (r < 0)
				goto fail;
			if (r > 0)
				break;
			close(fd);
			fd = -1;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			sk_err_sys(err, SK_EFAIL, errno, "cannot lock '%s'", path);
			goto fail;
		}
		/*
		 * A wait may be an hour long: SIGINT or SIGTERM ends it at
		 * once, before anything was changed.
		 */
		if (sig_interrupted()) {
			sk_err_set(err, SK_EFAIL, "interrupted");
			goto fail;
		}
		if (log_now() >= deadline) {
			long holder = read_holder(fd);

			if (holder > 0)
				sk_err_set(err, SK_EBUSY, "%s '%s' is busy: locked by pid %ld",
					   kind, id, holder);
			else
				sk_err_set(err, SK_EBUSY, "%s '%s' is busy: locked", kind, id);
			goto fail;
		}
		usleep(50 * 1000);
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot write lock '%s'", path);
		goto fail;
	}
	lk = malloc(sizeof(*lk));
	if (!lk) {
		sk_err_sys(err, SK_EFAIL, ENOMEM, "lock");
		goto fail;
	}
	lk->fd = fd;
	memcpy(lk->path, path, sizeof(lk->path));
	*out = lk;
	return 0;
fail:
	close(fd);
	return -1;
}

void lock_release(struct lock *lk)
{
	if (!lk)
		return;
	/* Clear the pid first so a reader never names a finished process. */
	if (ftruncate(lk->fd, 0) < 0) {
		/* nothing to do: the lock goes with the close */
	}
	/*
	 * Remove the file while still holding the lock, so that a command on
	 * an object that does not exist leaves nothing behind. A waiter that
	 * opened it before the unlink sees that it is gone (still_linked) and
	 * takes a new one; whoever holds the file at the path holds the lock.
	 */
	unlink(lk->path);
	close(lk->fd);
	free(lk);
}
