/*
 * log.c: diagnostics on stderr as "PROG: message", one write(2) per line;
 * and the progress display (bytes, rate, ETA) redrawn on a terminal or
 * printed as plain lines into a log.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "banned.h"

static const char *prog = "statekit";
static int level = LOG_NORMAL;

void log_init(const char *argv0)
{
	const char *slash = argv0 ? strrchr(argv0, '/') : NULL;

	if (argv0)
		prog = slash ? slash + 1 : argv0;
}

void log_set_level(int l)
{
	level = l;
}

int log_level(void)
{
	return level;
}

const char *log_prog(void)
{
	return prog;
}

static void vlog(const char *tag, const char *fmt, va_list ap) SK_PRINTF(2, 0);

static void vlog(const char *tag, const char *fmt, va_list ap)
{
	char line[1024];
	size_t len;
	int n;

	/* One write per message, so lines from parallel commands do not mix. */
	n = snprintf(line, sizeof(line), "%s: %s", prog, tag);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	len = strlen(line); /* at most sizeof(line) - 2: room for the newline */
	/*
	 * Messages quote names from archives, manifests and workspaces, which
	 * a bot or an attacker wrote: an escape sequence in one must not reach
	 * the operator's terminal (retitle it, hide text, fake a prompt).
	 * Every control byte becomes '?'; UTF-8 passes unchanged.
	 */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_note(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (level < LOG_VERBOSE)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

double log_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *log_bytes(uint64_t n, char *buf, unsigned size)
{
	static const char *unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, unit[u]);
	return buf;
}

void progress_start(struct progress *p, int forced, uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->tty = isatty(STDERR_FILENO);
	p->on = level > LOG_QUIET && (forced || p->tty);
	p->total = total;
	p->start = p->last = log_now();
}

void progress_set_total(struct progress *p, uint64_t total)
{
	p->total = total;
}

/* "12.3 MiB of 48.0 MiB (25%)", or "12.3 MiB" without a total. */
static int progress_amount(const struct progress *p, char *buf, size_t size)
{
	char done[32], total[32];
	unsigned pct;

	if (!p->total)
		return snprintf(buf, size, "%s", log_bytes(p->done, done, sizeof(done)));
	/* A file that grew while it was read must not show 104%. */
	pct = p->done >= p->total ? 100 : (unsigned)(p->done * 100.0 / p->total);
	return snprintf(buf, size, "%s of %s (%u%%)", log_bytes(p->done, done, sizeof(done)),
			log_bytes(p->total, total, sizeof(total)), pct);
}

static void progress_write(struct progress *p, const char *text)
{
	char line[256];

	/* One write per line, as vlog does. */
	snprintf(line, sizeof(line), "%s%s: %s%s%s%s", p->tty ? "\r" : "", prog, p->what,
		 p->what[0] ? ": " : "", text, p->tty ? "\033[K" : "\n");
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		return;
	p->drawn = p->tty;
}

static void progress_draw(struct progress *p, double now)
{
	char amount[96], rate[32], text[192];
	double secs = now - p->start;
	double bps = secs > 0 ? p->done / secs : 0;
	int n;

	progress_amount(p, amount, sizeof(amount));
	n = snprintf(text, sizeof(text), "%s  %s/s", amount,
		     log_bytes((uint64_t)bps, rate, sizeof(rate)));
	if (p->total > p->done && bps > 0 && n > 0 && (size_t)n < sizeof(text)) {
		unsigned eta = (unsigned)((p->total - p->done) / bps);

		snprintf(text + n, sizeof(text) - n, "  ETA %u:%02u:%02u", eta / 3600,
			 eta / 60 % 60, eta % 60);
	}
	progress_write(p, text);
}

void progress_add(struct progress *p, uint64_t n)
{
	double now;

	p->done += n;
	if (!p->on)
		return;
	now = log_now();
	if (now - p->last < (p->tty ? 0.25 : PROGRESS_PLAIN_EVERY))
		return;
	p->last = now;
	progress_draw(p, now);
}

void progress_end(struct progress *p, int ok)
{
	char amount[96], rate[32], text[192];
	double secs;

	if (!p->on)
		return;
	p->on = 0;
	if (!ok) {
		if (p->drawn && write(STDERR_FILENO, "\n", 1) < 0)
			return;
		return;
	}
	secs = log_now() - p->start;
	/* The closing line says what was done, not what was foreseen. */
	p->total = 0;
	progress_amount(p, amount, sizeof(amount));
	snprintf(text, sizeof(text), "%s in %.1f s  %s/s", amount, secs,
		 log_bytes(secs > 0 ? (uint64_t)(p->done / secs) : p->done, rate, sizeof(rate)));
	progress_write(p, text);
	if (p->tty && write(STDERR_FILENO, "\n", 1) < 0)
		return;
	p->drawn = 0;
}
