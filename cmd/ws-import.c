/* ws-import: make an archive a bot's workspace, all or nothing. */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ws.h"
#include "wsout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "input", required_argument, NULL, 'i' },
	{ "merge", no_argument, NULL, CLI_OPT_MERGE },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " ws-import [options] BOT\n"
	      "\n"
	      "Read a tar archive (gzip, zstd or plain) from stdin (or FILE), check it\n"
	      "whole, and make it the bot's workspace in one atomic swap.\n"
	      "\n"
	      "Options:\n"
	      " -i, --input FILE           read the archive from FILE\n"
	      "     --merge                keep files the archive does not name\n"
	      "     --json                 print the result as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy bot\n"
	      "     --progress             show progress even when stderr is not a terminal\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 3 no such input,\n"
	      "4 busy, 5 damaged or unsafe archive (workspace unchanged). See ws-import(1).\n",
	      stdout);
}

int main(int argc, char **argv)
{
	struct ws_opts opts = WS_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct ws_import_result res;
	int c;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "i:" CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (cli_common(c, optarg, &opts, usage))
			continue;
		switch (c) {
		case 'i':
			opts.input = optarg;
			break;
		case CLI_OPT_MERGE:
			opts.merge = 1;
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if (argc - optind != 1)
		cli_usage_error("expected exactly one BOT");
	opts.bot = argv[optind];
	if (ws_import(&opts, &res, &err) < 0)
		return cli_finish(-1, &err);
	if (opts.json)
		wsout_import_json(&res);
	return cli_finish(0, &err);
}
