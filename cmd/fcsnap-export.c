/* fcsnap-export: write a snapshot as one stream to stdout. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "snap.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "compression", required_argument, NULL, 'z' },
	{ "level", required_argument, NULL, 'l' },
	{ "threads", required_argument, NULL, 'j' },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-export [options] SNAPSHOT > STREAM\n"
	      "\n"
	      "Write SNAPSHOT (manifest, then every artifact without its holes and zero\n"
	      "pages) as one stream to standard output, for fcsnap-import on another host.\n"
	      "\n"
	      "Options:\n"
	      " -z, --compression CODEC    zstd, gzip or none (default: zstd)\n"
	      " -l, --level N              compression level, 0 for the codec's default\n"
	      " -j, --threads N            compression threads, 0 for one per core\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy snapshot\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error (stdout is a\n"
	      "terminal), 3 no such snapshot, 4 busy, 5 an artifact is damaged on disk.\n"
	      "See fcsnap-export(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "z:l:j:c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case 'z':
		case 'l':
		case 'j':
			cli_codec(c, optarg, &opts.co);
			break;
		default:
			cli_try_help();
		}
	}
	if (argc - optind != 1)
		cli_usage_error("expected exactly one SNAPSHOT");
	opts.snapshot = argv[optind];
	return cli_finish(snap_export(&opts, &err), &err);
}
