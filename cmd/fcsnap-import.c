/* fcsnap-import: take a snapshot stream from stdin into the snapshots. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "as", required_argument, NULL, CLI_OPT_AS },	     CLI_BASE_LONG,	   CLI_WAIT_LONG,
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS }, { NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-import [options] < STREAM\n"
	      "\n"
	      "Read a stream written by fcsnap-export, check every artifact's size and\n"
	      "sha256, and only then add it to the snapshots.\n"
	      "\n"
	      "Options:\n"
	      "     --as NEWID             store it as snapshot NEWID instead of its own id\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot id\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error (stdin is a\n"
	      "terminal), 4 the snapshot id exists or is busy, 5 truncated, damaged or\n"
	      "unsafe stream.\n"
	      "See fcsnap-import(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_AS:
			opts.as = optarg;
			break;
		default:
			cli_try_help();
		}
	}
	if (argc != optind)
		cli_usage_error("fcsnap-import takes no operands; the stream comes on stdin");
	return cli_finish(snap_import(&opts, &err), &err);
}
