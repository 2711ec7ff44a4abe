/* ws-preserve: keep, list, check, prune and restore backup generations. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "ws.h"
#include "wsout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "restore", no_argument, NULL, CLI_OPT_RESTORE },
	{ "check", no_argument, NULL, CLI_OPT_CHECK },
	{ "verify", no_argument, NULL, CLI_OPT_VERIFY },
	{ "list", no_argument, NULL, CLI_OPT_LIST },
	{ "prune", no_argument, NULL, CLI_OPT_PRUNE },
	{ "list-ids", no_argument, NULL, CLI_OPT_LIST_IDS },
	{ "generation", required_argument, NULL, 'g' },
	{ "keep", required_argument, NULL, 'k' },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	{ "compression", required_argument, NULL, 'z' },
	{ "level", required_argument, NULL, 'l' },
	{ "threads", required_argument, NULL, 'j' },
	CLI_COMMON_LONG,
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " ws-preserve [options] BOT                 keep a new backup generation\n"
	      " ws-preserve --restore [-g GEN] BOT        restore a generation (or legacy data)\n"
	      " ws-preserve --check BOT                   exit 0 if data waits to be restored\n"
	      " ws-preserve --verify [-g GEN] BOT         re-read and check backup generations\n"
	      " ws-preserve --list [--json] [BOT]         list backup generations\n"
	      " ws-preserve --prune [-k N] BOT            delete all but the newest N\n"
	      " ws-preserve --list-ids                    print known bot ids\n"
	      "\n"
	      "Options:\n"
	      "     --restore              restore instead of preserving\n"
	      "     --check                test for preserved data not yet restored\n"
	      "     --verify               check every generation (or -g GEN): sha256, codec,\n"
	      "                            tar framing, import policy; exit 5 if any is bad\n"
	      "     --list                 list backups as a table\n"
	      "     --prune                delete the oldest generations beyond --keep\n"
	      "     --list-ids             print bot ids from workspaces, index and legacy dir\n"
	      " -g, --generation GEN       the generation to restore (default: newest) or verify\n"
	      " -k, --keep N               generations to keep (default: config, 3)\n"
	      "     --json                 print results as JSON on stdout\n"
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
	      "Exit status: 0 done, 1 failed, 2 usage or config error, 3 no such bot or\n"
	      "backup (--check: nothing to restore), 4 busy, 5 damaged backup.\n"
	      "See ws-preserve(1).\n",
	      stdout);
}

/* Each mode runs its library call, prints the result, and returns the exit status. */
static int do_preserve(const struct ws_opts *o, struct sk_err *err)
{
	struct ws_backup b;

	if (ws_preserve(o, &b, err) < 0)
		return cli_finish(-1, err);
	if (o->json)
		wsout_backup_json(&b);
	return cli_finish(0, err);
}

static int do_restore(const struct ws_opts *o, struct sk_err *err)
{
	struct ws_restore_result r;

	if (ws_restore(o, &r, err) < 0)
		return cli_finish(-1, err);
	/* As before, only a generation's restore prints JSON, not a legacy directory's. */
	if (o->json && r.generation)
		wsout_import_json(&r.import);
	return cli_finish(0, err);
}

/* A predicate for scripts: "no" is exit status 3, with no message. */
static int do_check(const struct ws_opts *o, struct sk_err *err)
{
	int waiting, rc;

	rc = cli_finish(ws_check(o, &waiting, err), err);
	return rc == SK_OK && !waiting ? SK_ENOENT : rc;
}

static int do_verify(const struct ws_opts *o, struct sk_err *err)
{
	struct wsout_verify v;
	int ret;

	wsout_verify_begin(&v, o->json);
	ret = ws_verify(o, wsout_verified, &v, err);
	wsout_verify_end(&v);
	return cli_finish(ret, err);
}

static int do_list(const struct ws_opts *o, struct sk_err *err)
{
	struct ws_backup *v;
	size_t n;

	if (ws_list(o, &v, &n, err) < 0)
		return cli_finish(-1, err);
	if (o->json)
		wsout_list_json(v, n);
	else
		wsout_list_table(v, n);
	free(v);
	return cli_finish(0, err);
}

static int do_prune(const struct ws_opts *o, struct sk_err *err)
{
	return cli_finish(ws_prune(o, err), err);
}

static int do_list_ids(const struct ws_opts *o, struct sk_err *err)
{
	struct ws_ids ids;

	if (ws_list_ids(o, &ids, err) < 0)
		return cli_finish(-1, err);
	wsout_ids(&ids);
	ws_ids_free(&ids);
	return cli_finish(0, err);
}

int main(int argc, char **argv)
{
	struct ws_opts opts = WS_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int (*action)(const struct ws_opts *, struct sk_err *) = do_preserve;
	int c, nactions = 0, bot_optional = 0, no_bot = 0;
	char *end;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "g:k:z:l:j:" CLI_COMMON_SHORT, longopts, NULL)) != -1) {
		if (cli_common(c, optarg, &opts, usage))
			continue;
		switch (c) {
		case CLI_OPT_RESTORE:
			action = do_restore;
			nactions++;
			break;
		case CLI_OPT_CHECK:
			action = do_check;
			nactions++;
			break;
		case CLI_OPT_VERIFY:
			action = do_verify;
			nactions++;
			break;
		case CLI_OPT_LIST:
			action = do_list;
			bot_optional = 1;
			nactions++;
			break;
		case CLI_OPT_PRUNE:
			action = do_prune;
			nactions++;
			break;
		case CLI_OPT_LIST_IDS:
			action = do_list_ids;
			no_bot = 1;
			nactions++;
			break;
		case 'g':
			opts.generation = strtoll(optarg, &end, 10);
			if (*end || end == optarg || opts.generation < 1)
				cli_usage_error("invalid generation '%s'", optarg);
			break;
		case 'k':
			opts.keep = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || opts.keep < 1)
				cli_usage_error("invalid --keep '%s' (expected 1 or more)", optarg);
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
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
	if (nactions > 1)
		cli_usage_error(
		    "--restore, --check, --verify, --list, --prune and --list-ids exclude "
		    "each other");
	if (opts.generation && action != do_restore && action != do_verify)
		cli_usage_error("--generation goes with --restore or --verify");
	if (no_bot) {
		if (argc != optind)
			cli_usage_error("--list-ids takes no BOT");
	} else if (bot_optional && argc - optind == 0) {
		opts.bot = NULL;
	} else if (argc - optind != 1) {
		cli_usage_error("expected exactly one BOT");
	} else {
		opts.bot = argv[optind];
	}
	return action(&opts, &err);
}
