/* progress_test: the progress line as a terminal and as a log file see it. */
#include "log.h"
#include "tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run fn with stderr sent to a temp file; return what it wrote (malloc'd). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/progress_test.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	static char buf[8192];
	ssize_t n;

	if (fd < 0 || saved < 0) {
		perror("progress_test: capture");
		exit(99);
	}
	unlink(path);
	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strdup(buf);
}

/* ok(), and on failure the captured text with its control characters shown. */
static void check(int cond, const char *s, const char *what)
{
	ok(cond, "%s", what);
	if (cond)
		return;
	printf("#   got: ");
	for (; *s; s++)
		if (*s == '\n')
			printf("\\n");
		else if (*s == '\r')
			printf("\\r");
		else if (*s == '\033')
			printf("\\e");
		else
			putchar(*s);
	printf("\n");
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* As if a second had gone by since the last line, so that the next add draws. */
static void age(struct progress *p, double secs)
{
	p->start -= secs;
	p->last -= secs;
}

static void plain_with_total(void)
{
	struct progress p;

	progress_start(&p, 1, 4u << 20);
	p.tty = 0;
	age(&p, 10);
	progress_add(&p, 1u << 20); /* drawn: 5 s have passed */
	progress_add(&p, 1u << 20); /* not drawn: too soon */
	age(&p, 10);
	progress_add(&p, 1u << 20);
	progress_end(&p, 1);
	progress_end(&p, 1); /* the closing line is written once */
}

static void tty_with_total(void)
{
	struct progress p;

	progress_start(&p, 1, 200);
	p.tty = 1;
	snprintf(p.what, sizeof(p.what), "hashing 's1'");
	age(&p, 1);
	progress_add(&p, 50);
	age(&p, 1);
	progress_add(&p, 250); /* grew past the total: no 150% */
	progress_end(&p, 1);
}

static void unknown_total(void)
{
	struct progress p;

	progress_start(&p, 1, 0);
	p.tty = 0;
	age(&p, 10);
	progress_add(&p, 3u << 20);
	progress_end(&p, 1);
}

static void failed_on_tty(void)
{
	struct progress p;

	progress_start(&p, 1, 100);
	p.tty = 1;
	age(&p, 1);
	progress_add(&p, 10);
	progress_end(&p, 0); /* the line is ended, nothing claimed */
	progress_end(&p, 1);
}

static void failed_plain(void)
{
	struct progress p;

	progress_start(&p, 1, 100);
	p.tty = 0;
	progress_add(&p, 10);
	progress_end(&p, 0);
}

static void quiet(void)
{
	struct progress p;

	log_set_level(LOG_QUIET);
	progress_start(&p, 1, 100);
	age(&p, 10);
	progress_add(&p, 50);
	progress_end(&p, 1);
	log_set_level(LOG_NORMAL);
}

int main(void)
{
	char *s;

	log_init("ws-export");

	s = capture(plain_with_total);
	check(!strchr(s, '\r') && !strchr(s, '\033'), s, "a log file gets no control characters");
	check(count(s, "\n") == 3, s, "a log file gets one line per interval and the closing line");
	check(strstr(s, "ws-export: 1.0 MiB of 4.0 MiB (25%)") != NULL, s, "percentage and total");
	check(strstr(s, "ws-export: 3.0 MiB of 4.0 MiB (75%)") != NULL, s, "the next line");
	check(count(s, " in ") == 1 && strstr(s, "ws-export: 3.0 MiB in ") != NULL, s,
	      "the closing line once, with what was done");
	free(s);

	s = capture(tty_with_total);
	check(strncmp(s, "\rws-export: hashing 's1': 50 B of 200 B (25%)", 45) == 0, s,
	      "a terminal line starts with \\r and names the work");
	check(strstr(s, "300 B of 200 B (100%)") != NULL, s, "never past 100%");
	check(count(s, "\033[K") == 3, s, "each redraw erases the rest of the line");
	check(s[strlen(s) - 1] == '\n' && count(s, "\n") == 1, s, "one newline, at the very end");
	free(s);

	s = capture(unknown_total);
	check(strstr(s, "ws-export: 3.0 MiB  ") != NULL && !strstr(s, "%") && !strstr(s, "ETA"), s,
	      "no total: bytes and rate, no percentage or ETA");
	free(s);

	s = capture(failed_on_tty);
	check(count(s, "\n") == 1 && s[strlen(s) - 1] == '\n' && !strstr(s, " in "), s,
	      "a failure ends the drawn line without a closing summary");
	free(s);

	s = capture(failed_plain);
	check(s[0] == '\0', s, "a failure before any line writes nothing");
	free(s);

	s = capture(quiet);
	check(s[0] == '\0', s, "-q wins over --progress");
	free(s);

	return tap_done();
}
