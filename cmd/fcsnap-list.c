/* fcsnap-list: the snapshots the index holds. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "ids", no_argument, NULL, CLI_OPT_IDS },
	{ "remote", required_argument, NULL, CLI_OPT_REMOTE },
	CLI_BASE_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-list [options] [MACHINE]\n"
	      " fcsnap-list [options] --remote s3://BUCKET[/PREFIX] [MACHINE]\n"
	      "\n"
	      "List snapshots (of MACHINE, or all) as a table: those in the index, or\n"
	      "with --remote those in an object store.\n"
	      "\n"
	      "Options:\n"
	      "     --json                 print them as JSON on stdout\n"
	      "     --ids                  print snapshot ids only, one per line\n"
	      "     --remote s3://BUCKET[/PREFIX]\n"
	      "                            list the snapshots in that object store\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print more\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed (the store unreachable), 2 usage or config\n"
	      "error (keys refused, no bucket), 4 the store is locked for a prune,\n"
	      "5 damaged index or manifest.\n"
	      "See fcsnap-list(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snapshot_row *rows = NULL;
	size_t n = 0;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, NULL, NULL, usage))
			continue;
		switch (c) {
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		case CLI_OPT_IDS:
			opts.ids = 1;
			break;
		case CLI_OPT_REMOTE:
			opts.remote = optarg;
			break;
		default:
			cli_try_help();
		}
	}
	if (opts.json && opts.ids)
		cli_usage_error("--json and --ids exclude each other");
	if (argc - optind > 1)
		cli_usage_error("expected at most one MACHINE");
	opts.machine = argc > optind ? argv[optind] : NULL;
	rc = opts.remote ? snap_remote_list(&opts, &rows, &n, &err)
			 : snap_list(&opts, &rows, &n, &err);
	if (rc == 0)
		snapout_list(&opts, rows, n);
	free(rows);
	return cli_finish(rc, &err);
}
