/*
 * lock: one flock(2) file per object under <state.dir>/locks/. The holder
 * writes its pid into the file so a busy command can name it, and removes the
 * file when it releases the lock. The kernel drops the lock when its holder
 * dies, so a stale lock cannot outlive a crash (the file does, harmlessly).
 */
#ifndef SK_LOCK_H
#define SK_LOCK_H

#include "err.h"

struct lock;

/*
 * Take the exclusive lock <locks_dir>/<kind>.<id>. wait_s < 0 or 0 fails at
 * once when busy; > 0 waits up to that many seconds. Busy is SK_EBUSY naming
 * the holder's pid; a SIGINT, SIGTERM or SIGHUP (sig_interrupted()) while
 * busy is SK_EFAIL "interrupted"; anything else SK_EFAIL. *out is NULL on
 * failure.
 */
int lock_acquire(struct lock **out, const char *locks_dir, const char *kind, const char *id,
		 int wait_s, struct sk_err *err);
/* Release, remove the lock file, free; NULL is fine. */
void lock_release(struct lock *lk);

#endif
