/* fcsnap-delete: remove a snapshot from the index and the disk. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "banned.h"

static const struct option longopts[] = {
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-delete [options] SNAPSHOT\n"
	      "\n"
	      "Remove SNAPSHOT: its index rows, then its directory.\n"
	      "\n"
	      "Options:\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print what was deleted\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 3 no such snapshot,\n"
	      "4 busy or in use by a running machine.\n"
	      "See fcsnap-delete(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, NULL, usage))
			continue;
		cli_try_help();
	}
	if (argc - optind != 1)
		cli_usage_error("expected exactly one SNAPSHOT");
	opts.snapshot = argv[optind];
	return cli_finish(snap_delete(&opts, &err), &err);
}
