/*
 * Fuzz the import policy twice over. Each input is an archive (plain tar,
 * gzip or zstd) read as ws-preserve --verify reads a generation
 * (extract_check: every check, nothing created) and as ws-import reads it
 * (extract_archive into a scratch directory). Both must end in a verdict
 * of the input (SK_EDAMAGED), never a crash or a leak; and --verify must
 * never refuse an archive import takes: whatever import extracts, verify
 * passes, with the same number of entries.
 */
#include <sys/stat.h>

#include "astream.h"
#include "extract.h"
#include "fuzz.h"

static const struct targuard_limits glim = { 4096 + 16, 1 << 20 };
/* Small enough that no input fills the scratch directory. */
static const struct extract_limits lim = { 10000, 16u << 20, 4096, 256 };

static int judge(int fd, int stagefd, struct extract_stats *st, struct sk_err *err)
{
	struct areader *r = NULL;
	int ret;

	if (lseek(fd, 0, SEEK_SET) < 0)
		fz_die("lseek");
	ret = areader_open(&r, fd, &glim, err);
	if (ret == 0)
		ret = stagefd < 0 ? extract_check(r, &lim, NULL, st, err)
				  : extract_archive(r, stagefd, &lim, NULL, st, err);
	areader_free(r);
	if (ret < 0 && err->code != SK_EDAMAGED)
		fz_fail("archive: %s gave code %d: %s",
			stagefd < 0 ? "extract_check" : "extract_archive", err->code, err->msg);
	return ret;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_tmpdir();
	fz_memfd(NULL, 0); /* opened once, before any input counts fds */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sk_err ec = SK_ERR_INIT, ex = SK_ERR_INIT;
	struct extract_stats sc = { 0 }, sx = { 0 };
	char stage[PATH_MAX];
	int before = fz_lowest_fd(), fd, stagefd, rc, rx;

	fd = fz_memfd(data, size);
	rc = judge(fd, -1, &sc, &ec);
	snprintf(stage, sizeof(stage), "%s/stage", fz_tmpdir());
	if (mkdir(stage, 0700) < 0)
		fz_die("mkdir");
	stagefd = open(stage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (stagefd < 0)
		fz_die("open stage");
	rx = judge(fd, stagefd, &sx, &ex);
	close(stagefd);
	if (fs_rmtree(stage, &ex) < 0)
		fz_die("rmtree");
	fz_verdict("check %d (%s), extract %d (%s)", rc, ec.msg, rx, ex.msg);
	if (rx == 0 && rc < 0)
		fz_fail("archive: import extracts it, verify refuses it: %s", ec.msg);
	if (rx == 0 && sc.entries != sx.entries)
		fz_fail("archive: verify counts %llu entries, import %llu",
			(unsigned long long)sc.entries, (unsigned long long)sx.entries);
	fz_check_fds(before, "archive");
	return 0;
}
