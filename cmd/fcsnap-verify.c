/* fcsnap-verify: re-hash every artifact of a snapshot. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "all", no_argument, NULL, CLI_OPT_ALL },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "remote", required_argument, NULL, CLI_OPT_REMOTE },
	{ "read-data", no_argument, NULL, CLI_OPT_READ_DATA },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-verify [options] SNAPSHOT\n"
	      " fcsnap-verify [options] --all\n"
	      " fcsnap-verify [options] --remote s3://BUCKET[/PREFIX] SNAPSHOT|--all\n"
	      "\n"
	      "Re-hash every artifact and compare with the sha256 recorded at creation.\n"
	      "With --remote, check that an object store holds every chunk of the\n"
	      "snapshot; with --read-data also download and re-hash each one.\n"
	      "\n"
	      "Options:\n"
	      "     --all                  verify every snapshot in the index (or store)\n"
	      "     --remote s3://BUCKET[/PREFIX]\n"
	      "                            verify the snapshots in that object store\n"
	      "     --read-data            with --remote: download and hash every chunk\n"
	      "     --json                 print the results as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      "     --progress             show hashing progress even when stderr is not a\n"
	      "                            terminal\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print more\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 all match, 1 failed, 2 usage or config error, 3 no such\n"
	      "snapshot, 4 busy, 5 an artifact (or a chunk in the store) is missing or\n"
	      "damaged.\n"
	      "See fcsnap-verify(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snapout_verify out;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_ALL:
			opts.all = 1;
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		case CLI_OPT_REMOTE:
			opts.remote = optarg;
			break;
		case CLI_OPT_READ_DATA:
			opts.read_data = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if (opts.all ? argc != optind : argc - optind != 1)
		cli_usage_error(opts.all ? "--all takes no SNAPSHOT"
					 : "expected one SNAPSHOT or --all");
	if (opts.read_data && !opts.remote)
		cli_usage_error("--read-data goes with --remote");
	opts.snapshot = opts.all ? NULL : argv[optind];
	snapout_verify_begin(&out, opts.json);
	rc = opts.remote ? snap_remote_verify(&opts, snapout_verified, &out, &err)
			 : snap_verify(&opts, snapout_verified, &out, &err);
	snapout_verify_end(&out, rc);
	return cli_finish(rc, &err);
}
