/*
 * log: the one place that writes diagnostics. Messages go to stderr as
 * "PROG: message"; progress is drawn on stderr when it is a terminal or when
 * asked for, and never in quiet mode. stdout is left to data.
 */
#ifndef SK_LOG_H
#define SK_LOG_H

#include <stdint.h>

#include "err.h"

enum { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_VERBOSE = 2 };

/* Remember the program name (basename of argv0) and the verbosity. */
void log_init(const char *argv0);
void log_set_level(int level);
int log_level(void);
const char *log_prog(void);

/* "PROG: warning: ..." unless quiet. */
void log_warn(const char *fmt, ...) SK_PRINTF(1, 2);
/* "PROG: ..." only when verbose. */
void log_info(const char *fmt, ...) SK_PRINTF(1, 2);
/* "PROG: ..." always. */
void log_error(const char *fmt, ...) SK_PRINTF(1, 2);

struct progress {
	int on;
	uint64_t total;	 /* 0 when unknown: no ETA */
	uint64_t done;
	double start, last;
	int drawn;
};

/*
 * Decide whether to draw: forced by --progress, else only when stderr is a
 * terminal; never when quiet. total may be 0 (unknown).
 */
void progress_start(struct progress *p, int forced, uint64_t total);
/* Add n bytes; redraws at most a few times per second. */
void progress_add(struct progress *p, uint64_t n);
/* Finish the line if anything was drawn. */
void progress_end(struct progress *p);

/* Format a byte count as "12.3 MiB" into buf. */
const char *log_bytes(uint64_t n, char *buf, unsigned size);
/* Monotonic seconds. */
double log_now(void);

#endif
