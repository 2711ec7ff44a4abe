/*
 * err.c: filling a struct sk_err: set, set with strerror, wrap with context.
 * No allocation, so the error path cannot fail in turn.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "banned.h"

int sk_err_set(struct sk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	err->sys = 0;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int sk_err_sys(struct sk_err *err, int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	err->code = code;
	err->sys = errnum;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	return -1;
}

int sk_err_wrap(struct sk_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncating the tail of a long message is fine: the context leads. */
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old) < 0)
		err->msg[0] = '\0';
	return -1;
}

void sk_err_clear(struct sk_err *err)
{
	err->code = 0;
	err->sys = 0;
	err->msg[0] = '\0';
}
