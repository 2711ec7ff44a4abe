#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "sig.h"

struct lock {
	int fd;
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

int lock_acquire(struct lock **out, const char *locks_dir, const char *kind,
		 const char *id, int wait_s, struct sk_err *err)
{
	char path[PATH_MAX], pid[32];
	double deadline = log_now() + (wait_s > 0 ? wait_s : 0);
	struct lock *lk;
	int fd;

	*out = NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.%s", locks_dir, kind, id) >=
	    sizeof(path))
		return sk_err_set(err, SK_EFAIL, "lock path too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return sk_err_sys(err, SK_EFAIL, errno, "cannot open lock '%s'", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			sk_err_sys(err, SK_EFAIL, errno, "cannot lock '%s'", path);
			close(fd);
			return -1;
		}
		/*
		 * A wait may be an hour long: SIGINT or SIGTERM ends it at
		 * once, before anything was changed.
		 */
		if (sig_interrupted()) {
			close(fd);
			return sk_err_set(err, SK_EFAIL, "interrupted");
		}
		if (log_now() >= deadline) {
			long holder = read_holder(fd);

			close(fd);
			if (holder > 0)
				return sk_err_set(err, SK_EBUSY,
						  "%s '%s' is busy: locked by pid %ld", kind, id,
						  holder);
			return sk_err_set(err, SK_EBUSY, "%s '%s' is busy: locked", kind, id);
		}
		usleep(50 * 1000);
	}
	snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, strlen(pid), 0) < 0) {
		sk_err_sys(err, SK_EFAIL, errno, "cannot write lock '%s'", path);
		close(fd);
		return -1;
	}
	lk = malloc(sizeof(*lk));
	if (!lk) {
		close(fd);
		return sk_err_sys(err, SK_EFAIL, ENOMEM, "lock");
	}
	lk->fd = fd;
	*out = lk;
	return 0;
}

void lock_release(struct lock *lk)
{
	if (!lk)
		return;
	/* Clear the pid first so a reader never names a finished process. */
	if (ftruncate(lk->fd, 0) < 0) {
		/* nothing to do: the lock goes with the close */
	}
	close(lk->fd);
	free(lk);
}
