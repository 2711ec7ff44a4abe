/* fcsnap-push: a snapshot into an S3-compatible object store. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "force", no_argument, NULL, CLI_OPT_FORCE },
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
	      " fcsnap-push [options] SNAPSHOT s3://BUCKET[/PREFIX]\n"
	      " fcsnap-push [options] --presigned PLAN.json SNAPSHOT\n"
	      "\n"
	      "Upload a snapshot to an S3-compatible object store: every chunk the store\n"
	      "does not hold yet, then the manifest. With --presigned, upload each artifact\n"
	      "in parts to the URLs of PLAN.json and print the parts' ETags as JSON.\n"
	      "\n"
	      "Options:\n"
	      "     --force                replace a snapshot of the same id in the store\n"
	      "     --presigned PLAN.json  upload to the presigned UploadPart URLs of PLAN.json\n"
	      "     --json                 print what was sent as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot or store\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed (the store unreachable or failing), 2 usage\n"
	      "or config error (no credentials, keys refused, no bucket, an expired URL),\n"
	      "3 no such snapshot, 4 busy, or the store has the id already, 5 damaged.\n"
	      "See fcsnap-push(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct snap_moved res;
	struct snap_parts parts;
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_FORCE:
			opts.force = 1;
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
		if (argc - optind != 1)
			cli_usage_error("with --presigned, expected exactly one SNAPSHOT");
		if (opts.force)
			cli_usage_error("--force has no meaning with --presigned");
		opts.snapshot = argv[optind];
		rc = snap_push_presigned(&opts, &parts, &err);
		if (rc == 0) {
			rc = snapout_parts(&parts);
			if (rc < 0)
				sk_err_set(&err, SK_EFAIL, "cannot write the result");
			snap_parts_free(&parts);
		}
		return cli_finish(rc, &err);
	}
	if (argc - optind != 2)
		cli_usage_error("expected SNAPSHOT and s3://BUCKET[/PREFIX]");
	opts.snapshot = argv[optind];
	opts.remote = argv[optind + 1];
	rc = snap_push(&opts, &res, &err);
	if (rc == 0)
		snapout_moved(&opts, &res, 1);
	return cli_finish(rc, &err);
}
