/* ws-export: write a bot's workspace as a tar archive. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ws.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "compression", required_argument, NULL, 'z' },
	{ "level", required_argument, NULL, 'l' },
	{ "threads", required_argument, NULL, 'j' },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " ws-export [options] BOT\n"
	      "\n"
	      "Stop the bot, write its workspace as a tar archive to stdout (or FILE),\n"
	      "and start the bot again.\n"
	      "\n"
	      "Options:\n"
	      " -o, --output FILE          write the archive to FILE (atomically)\n"
	      " -z, --compression CODEC    gzip, zstd or none (default: config, gzip)\n"
	      " -l, --level N              compression level, 0 for the codec's default\n"
	      " -j, --threads N            compression threads, 0 for one per core\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy bot\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 3 no such bot,\n"
	      "4 busy, 5 damaged or unsafe input. See ws-export(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct ws_opts opts = WS_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:z:l:j:" CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (cli_common(c, optarg, &opts, usage))
			continue;
		switch (c) {
		case 'o':
			opts.output = optarg;
			break;
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
		cli_usage_error("expected exactly one BOT");
	opts.bot = argv[optind];
	return cli_finish(ws_export(&opts, &err), &err);
}
