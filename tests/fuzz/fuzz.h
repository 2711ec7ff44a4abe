/*
 * fuzz: what the libFuzzer targets in tests/fuzz share: a private temporary
 * directory removed at exit, one reusable memfd to hand an input to code that
 * reads a file descriptor, and a check that an input left no fd open.
 */
#ifndef SK_FUZZ_H
#define SK_FUZZ_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsutil.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness failure (not a finding): say why and stop the whole run. */
static inline void fz_die(const char *what)
{
	fprintf(stderr, "fuzz harness: %s: %s\n", what, strerror(errno));
	exit(2);
}

static char fz_dir[PATH_MAX];

static inline void fz_cleanup(void)
{
	struct sk_err e = SK_ERR_INIT;

	if (fz_dir[0])
		fs_rmtree(fz_dir, &e);
}

/* $TMPDIR/sk-fuzz.XXXXXX, made once, removed when the process exits. */
static inline const char *fz_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	if (fz_dir[0])
		return fz_dir;
	snprintf(fz_dir, sizeof(fz_dir), "%s/sk-fuzz.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(fz_dir)) {
		fz_dir[0] = '\0';
		fz_die("mkdtemp");
	}
	atexit(fz_cleanup);
	return fz_dir;
}

/* One memfd holding exactly data, positioned at its start. */
static inline int fz_memfd(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0) {
		fd = memfd_create("sk-fuzz", MFD_CLOEXEC);
		if (fd < 0)
			fz_die("memfd_create");
	}
	if (ftruncate(fd, 0) < 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size) ||
	    lseek(fd, 0, SEEK_SET) < 0)
		fz_die("memfd");
	return fd;
}

/* Write data to path (created 0600, truncated). */
static inline void fz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || fs_write_all(fd, data, size) < 0 || close(fd) < 0)
		fz_die(path);
}

/*
 * The lowest free fd: the same before and after an input, or it leaked one.
 * Taken afresh for each input, since libFuzzer opens fds of its own between
 * inputs (its symbolizer).
 */
static inline int fz_lowest_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		fz_die("dup");
	close(fd);
	return fd;
}

static inline void fz_check_fds(int before, const char *target)
{
	int now = fz_lowest_fd();

	if (now != before) {
		fprintf(stderr, "%s: an input leaked a file descriptor (lowest free fd %d, was %d)\n",
			target, now, before);
		abort();
	}
}

/* SK_FUZZ_VERBOSE set: print each input's verdict (to check the seeds). */
#define fz_verdict(...)                                                                            \
	do {                                                                                       \
		if (getenv("SK_FUZZ_VERBOSE")) {                                                   \
			fprintf(stderr, "verdict: " __VA_ARGS__);                                  \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

/* A finding: print it and abort, so libFuzzer saves the input. */
#define fz_fail(...)                                                                               \
	do {                                                                                       \
		fprintf(stderr, "fuzz finding: " __VA_ARGS__);                                     \
		fputc('\n', stderr);                                                               \
		abort();                                                                           \
	} while (0)

#endif
