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
/* "PROG: ..." unless quiet: something the operator needs to know. */
void log_note(const char *fmt, ...) SK_PRINTF(1, 2);
/* "PROG: ..." only when verbose. */
void log_info(const char *fmt, ...) SK_PRINTF(1, 2);
/* "PROG: ..." always. */
void log_error(const char *fmt, ...) SK_PRINTF(1, 2);

/*
 * Progress of one long operation on stderr. At a terminal one line is
 * redrawn in place (\r, erase to end of line) a few times a second; when
 * stderr is a pipe or a file (--progress in a log) a plain line is written
 * every PROGRESS_PLAIN_EVERY seconds instead, with no control characters.
 * Where the total is known the line says how much of it is done:
 *   ws-export: 12.3 MiB of 48.0 MiB (25%)  40.1 MiB/s  ETA 0:00:01
 * progress_end prints the closing line exactly once.
 */
#define PROGRESS_PLAIN_EVERY 5.0

struct progress {
	int on;
	int tty;	/* stderr is a terminal: redraw in place */
	uint64_t total; /* 0 when unknown: no percentage, no ETA */
	uint64_t done;
	double start, last;
	int drawn;     /* a line is on the terminal and not yet ended */
	char what[96]; /* "" or what is being done: "hashing 'snap1'" */
};

/*
 * Decide whether to draw: forced by --progress, else only when stderr is a
 * terminal; never when quiet. total may be 0 (unknown).
 */
void progress_start(struct progress *p, int forced, uint64_t total);
/* Learn the total later (export knows it after its size pass). */
void progress_set_total(struct progress *p, uint64_t total);
/* Add n bytes; redraws at most a few times per second. */
void progress_add(struct progress *p, uint64_t n);
/*
 * The closing line, once: what was done, in how long, how fast. Later calls
 * do nothing. With ok false (the operation failed) only a line drawn in
 * place is ended, so that the error starts a line of its own.
 */
void progress_end(struct progress *p, int ok);

/* Format a byte count as "12.3 MiB" into buf. */
const char *log_bytes(uint64_t n, char *buf, unsigned size);
/* Monotonic seconds. */
double log_now(void);

#endif
