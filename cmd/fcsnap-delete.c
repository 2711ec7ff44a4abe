/* fcsnap-delete: remove a snapshot from the index and the disk. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "remote", required_argument, NULL, CLI_OPT_REMOTE },
	{ "prune", no_argument, NULL, CLI_OPT_PRUNE },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-delete [options] SNAPSHOT\n"
	      " fcsnap-delete [options] --remote s3://BUCKET[/PREFIX] SNAPSHOT\n"
	      " fcsnap-delete [options] --remote s3://BUCKET[/PREFIX] --prune\n"
	      "\n"
	      "Remove SNAPSHOT: its index rows, then its directory. With --remote, remove\n"
	      "it from an object store; --prune then removes the chunks that no snapshot\n"
	      "in the store names any more.\n"
	      "\n"
	      "Options:\n"
	      "     --remote s3://BUCKET[/PREFIX]\n"
	      "                            delete from that object store\n"
	      "     --prune                remove the chunks no snapshot there names\n"
	      "     --json                 print what --prune removed as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print what was deleted\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 3 no such snapshot,\n"
	      "4 busy or in use by a running machine, or the store is locked, 5 a manifest\n"
	      "in the store is damaged (nothing is pruned).\n"
	      "See fcsnap-delete(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snap_pruned pr;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, NULL, usage))
			continue;
		switch (c) {
		case CLI_OPT_REMOTE:
			opts.remote = optarg;
			break;
		case CLI_OPT_PRUNE:
			opts.prune = 1;
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if ((opts.prune || opts.json) && !opts.remote)
		cli_usage_error("--prune and --json go with --remote");
	if (opts.json && !opts.prune)
		cli_usage_error("--json reports what --prune did: use it with --prune");
	if (opts.prune) {
		if (argc != optind)
			cli_usage_error("--prune takes no SNAPSHOT");
		rc = snap_remote_prune(&opts, &pr, &err);
		if (rc == 0)
			snapout_pruned(&opts, &pr);
		return cli_finish(rc, &err);
	}
	if (argc - optind != 1)
		cli_usage_error("expected exactly one SNAPSHOT");
	opts.snapshot = argv[optind];
	rc = opts.remote ? snap_remote_delete(&opts, &err) : snap_delete(&opts, &err);
	return cli_finish(rc, &err);
}
