/*
 * err: the error value that flows up from every fallible library call.
 * The library never prints or exits; it fills a caller-owned struct sk_err
 * and returns -1 (or NULL). Only cmd/ turns the code into an exit status.
 */
#ifndef SK_ERR_H
#define SK_ERR_H

#include <stddef.h>

/* Exit classes, the same for every command (see statekit(7)). */
enum {
	SK_OK = 0,	/* done */
	SK_EFAIL = 1,	/* system or backend error */
	SK_EUSAGE = 2,	/* usage or configuration error */
	SK_ENOENT = 3,	/* the named object does not exist */
	SK_EBUSY = 4,	/* locked or in the wrong state; retry may succeed */
	SK_EDAMAGED = 5 /* damaged or unsafe input */
};

struct sk_err {
	int code; /* one of the SK_E* classes */
	int sys;  /* errno that caused it, or 0 */
	char msg[512];
};

/* clang-format off */
#define SK_ERR_INIT { 0, 0, "" }
/* clang-format on */

#define SK_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set code and message; returns -1 so callers can `return sk_err_set(...)`. */
int sk_err_set(struct sk_err *err, int code, const char *fmt, ...) SK_PRINTF(3, 4);

/* Like sk_err_set, then append ": strerror(errnum)" and record errnum. */
int sk_err_sys(struct sk_err *err, int code, int errnum, const char *fmt, ...) SK_PRINTF(4, 5);

/* Prefix the existing message with context and ": "; keeps code and sys. */
int sk_err_wrap(struct sk_err *err, const char *fmt, ...) SK_PRINTF(2, 3);

/* Reset to "no error". */
void sk_err_clear(struct sk_err *err);

#endif
