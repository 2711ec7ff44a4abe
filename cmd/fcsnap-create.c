/* fcsnap-create: snapshot a running Firecracker microVM. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "socket", required_argument, NULL, CLI_OPT_SOCKET },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "full", no_argument, NULL, CLI_OPT_FULL },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-create [options] MACHINE SNAPSHOT\n"
	      "\n"
	      "Pause MACHINE, write its memory (a Diff onto a known base where that is\n"
	      "safe, else Full) and state, clone its disks, resume it, hash every file\n"
	      "and record them as SNAPSHOT.\n"
	      "\n"
	      "Options:\n"
	      "     --socket PATH          the machine's API socket (default: the index, then\n"
	      "                            the config's socket template)\n"
	      "     --full                 write every page of memory, never a Diff\n"
	      "     --json                 print the result as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      "     --progress             show hashing progress even when stderr is not a\n"
	      "                            terminal\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy machine or snapshot\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary with the pause window when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 4 busy, not running\n"
	      "or the snapshot exists, 5 damaged input.\n"
	      "See fcsnap-create(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snap_created res = { 0 };
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_SOCKET:
			opts.socket = optarg;
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		case CLI_OPT_FULL:
			opts.full = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if (argc - optind != 2)
		cli_usage_error("expected MACHINE and SNAPSHOT");
	opts.machine = argv[optind];
	opts.snapshot = argv[optind + 1];
	rc = snap_create(&opts, &res, &err);
	if (rc == 0)
		snapout_created(&opts, &res);
	free(res.arts);
	return cli_finish(rc, &err);
}
