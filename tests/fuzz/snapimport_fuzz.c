/*
 * Fuzz fcsnap-import's stream reader: snap_import itself, reading the input
 * as its standard input (a memfd), with a state directory of its own under
 * the private temporary directory. [archive] max_bytes is small so that a
 * manifest cannot make one input hash a terabyte of zeros. After a failed
 * import nothing may be left in the staging or snapshot directories; after
 * a successful one the state is wiped so that the next input starts afresh.
 */
#include <dirent.h>

#include "log.h"
#include "snap.h"
#include "fuzz.h"

static char config[PATH_MAX], state[PATH_MAX];
/* Entries in dir, not counting "." and "..". */
static int entries(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void wipe_state(void)
{
	struct sk_err e = SK_ERR_INIT;

	if (fs_rmtree(state, &e) < 0)
		fz_die(e.msg);
}

static int import(const uint8_t *data, size_t size, struct sk_err *err)
{
	struct snap_opts o = SNAP_OPTS_INIT;

	o.config_path = config;
	if (dup2(fz_memfd(data, size), STDIN_FILENO) < 0)
		fz_die("dup2");
	return snap_import(&o, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = fz_tmpdir();
	char text[PATH_MAX + 64];
	struct sk_err err = SK_ERR_INIT;

	(void)argc;
	(void)argv;
	log_init("fcsnap-import");
	log_set_level(LOG_QUIET);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(config, sizeof(config), "%s/statekit.ini", dir);
	snprintf(text, sizeof(text), "[state]\ndir = %s\n[archive]\nmax_bytes = 1M\n", state);
	fz_write_file(config, (const uint8_t *)text, strlen(text));
	/* One import first, so that whatever is opened once per process is. */
	import((const uint8_t *)"", 0, &err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long runs;
	struct sk_err err = SK_ERR_INIT;
	int lowest_fd = fz_lowest_fd();
	int ret = import(data, size, &err);

	fz_verdict("%d %s", ret, err.msg);
	if (ret == 0) {
		if (entries(state, "snapshots") != 1)
			fz_fail("snapimport: an import succeeded but left %d snapshots",
				entries(state, "snapshots"));
		wipe_state();
	} else {
		if (err.code != SK_EDAMAGED)
			fz_fail("snapimport: failed with code %d, not SK_EDAMAGED: %s", err.code,
				err.msg);
		if (entries(state, "tmp") || entries(state, "snapshots"))
			fz_fail("snapimport: a failed import left files behind (%s)", err.msg);
	}
	fz_check_fds(lowest_fd, "snapimport");
	/* Lock files pile up, one per snapshot id tried. */
	if (++runs % 4096 == 0)
		wipe_state();
	return 0;
}
