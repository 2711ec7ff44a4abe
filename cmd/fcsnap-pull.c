/* fcsnap-pull: a snapshot from an S3-compatible object store into the snapshots. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "as", required_argument, NULL, CLI_OPT_AS },
	{ "presigned", required_argument, NULL, CLI_OPT_PRESIGNED },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-pull [options] s3://BUCKET[/PREFIX] SNAPSHOT\n"
	      " fcsnap-pull [options] --presigned SPEC.json\n"
	      "\n"
	      "Download a snapshot from an S3-compatible object store, check every chunk\n"
	      "against its sha256, and only then add it to the snapshots. With\n"
	      "--presigned, download the artifacts from the URLs of SPEC.json.\n"
	      "\n"
	      "Options:\n"
	      "     --as NEWID             store it as snapshot NEWID instead of its own id\n"
	      "     --presigned SPEC.json  download from the presigned GET URLs of SPEC.json\n"
	      "     --json                 print what was received as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot id or store\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed (the store unreachable or failing), 2 usage\n"
	      "or config error (no credentials, keys refused, no bucket, an expired URL),\n"
	      "3 the store has no such snapshot, 4 the id exists here or is busy,\n"
	      "5 a chunk or the manifest does not match its sha256.\n"
	      "See fcsnap-pull(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snap_moved res;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_AS:
			opts.as = optarg;
			break;
		case CLI_OPT_PRESIGNED:
			opts.presigned = optarg;
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if (opts.presigned) {
		if (argc != optind)
			cli_usage_error("with --presigned, the snapshot comes from SPEC.json: "
					"expected no operands");
		opts.snapshot = "";
		rc = snap_pull_presigned(&opts, &res, &err);
	} else {
		if (argc - optind != 2)
			cli_usage_error("expected s3://BUCKET[/PREFIX] and SNAPSHOT");
		opts.remote = argv[optind];
		opts.snapshot = argv[optind + 1];
		rc = snap_pull(&opts, &res, &err);
	}
	if (rc == 0)
		snapout_moved(&opts, &res, 0);
	return cli_finish(rc, &err);
}
