/* ws-preserve: keep, list, check, prune and restore backup generations. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
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
	{ "keep-last", required_argument, NULL, CLI_OPT_KEEP_LAST },
	{ "keep-hourly", required_argument, NULL, CLI_OPT_KEEP_HOURLY },
	{ "keep-daily", required_argument, NULL, CLI_OPT_KEEP_DAILY },
	{ "keep-weekly", required_argument, NULL, CLI_OPT_KEEP_WEEKLY },
	{ "keep-monthly", required_argument, NULL, CLI_OPT_KEEP_MONTHLY },
	{ "keep-yearly", required_argument, NULL, CLI_OPT_KEEP_YEARLY },
	{ "keep-within", required_argument, NULL, CLI_OPT_KEEP_WITHIN },
	{ "dry-run", no_argument, NULL, CLI_OPT_DRY_RUN },
	{ "time", required_argument, NULL, CLI_OPT_TIME },
	{ "no-backup", no_argument, NULL, CLI_OPT_NO_BACKUP },
	{ "ls", no_argument, NULL, CLI_OPT_LS },
	{ "all", no_argument, NULL, CLI_OPT_ALL },
	{ "dump", no_argument, NULL, CLI_OPT_DUMP },
	{ "target", required_argument, NULL, CLI_OPT_TARGET },
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
	      " ws-preserve --restore [-g GEN] [--no-backup | --target DIR] BOT\n"
	      "                                           restore a generation (or legacy data)\n"
	      " ws-preserve --check BOT                   exit 0 if data waits to be restored\n"
	      " ws-preserve --verify [-g GEN] BOT         re-read and check backup generations\n"
	      " ws-preserve --list [--json] [BOT]         list backup generations\n"
	      " ws-preserve --ls [-g GEN] [--json] BOT [PATH]  list a generation's entries\n"
	      " ws-preserve --dump [-g GEN] BOT [PATH]    write a generation as tar, or one\n"
	      "                                           file's bytes, to stdout\n"
	      " ws-preserve --prune [KEEP] [--dry-run] BOT  delete what no keep rule keeps\n"
	      " ws-preserve [--verify | --prune] --all    the same for every bot, one by one\n"
	      " ws-preserve --list-ids                    print known bot ids\n"
	      "\n"
	      "Options:\n"
	      "     --restore              restore instead of preserving\n"
	      "     --no-backup            with --restore: do not keep the workspace first as a\n"
	      "                            pre-restore generation\n"
	      "     --target DIR           with --restore: restore into DIR (new or empty), not\n"
	      "                            into the bot's workspace\n"
	      "     --check                test for preserved data not yet restored\n"
	      "     --verify               check every generation (or -g GEN): sha256, codec,\n"
	      "                            tar framing, import policy; exit 5 if any is bad\n"
	      "     --list                 list backups as a table\n"
	      "     --ls                   list the entries of a generation (under PATH)\n"
	      "     --dump                 write a generation (or the file PATH in it) to stdout\n"
	      "     --prune                delete the generations no keep rule keeps\n"
	      "     --dry-run              with --prune: print what would go and why, delete\n"
	      "                            nothing\n"
	      "     --list-ids             print bot ids from workspaces, index and legacy dir\n"
	      "     --all                  preserve, --verify or --prune every bot, each under\n"
	      "                            its own lock, past failures; exit: the worst met\n"
	      " -g, --generation GEN       the generation to restore (default: newest) or verify\n"
	      " -k, --keep-last N          keep the newest N generations (--keep is the same)\n"
	      "     --keep-hourly N        keep the newest of each of the last N hours\n"
	      "     --keep-daily N         ... of each of the last N days\n"
	      "     --keep-weekly N        ... of each of the last N weeks\n"
	      "     --keep-monthly N       ... of each of the last N months\n"
	      "     --keep-yearly N        ... of each of the last N years\n"
	      "     --keep-within SPAN     keep all made within SPAN (like 30d, 2w, 1y6m) of\n"
	      "                            the newest; any of these replaces the config's\n"
	      "                            keep keys (default: keep = 3)\n"
	      "     --time TIME            record a new generation as made at TIME\n"
	      "                            ('YYYY-MM-DD HH:MM[:SS]' local, ...Z for UTC, "
	      "@SECONDS)\n"
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

/*
 * Write a generation. With skip_missing (--all, for a bot only the index
 * knows), a workspace that is gone is no failure, its generations stay:
 * SK_ENOENT then, without a message.
 */
static int preserve_one(const struct ws_opts *o, int skip_missing, struct sk_err *err)
{
	struct ws_backup b;

	if (ws_preserve(o, &b, err) < 0) {
		if (!skip_missing || err->code != SK_ENOENT)
			return cli_finish(-1, err);
		log_info("%s: skipped", err->msg);
		return SK_ENOENT;
	}
	if (o->json)
		wsout_backup_json(&b);
	return cli_finish(0, err);
}

/* Each mode runs its library call, prints the result, and returns the exit status. */
static int do_preserve(const struct ws_opts *o, struct sk_err *err)
{
	return preserve_one(o, 0, err);
}

static int do_restore(const struct ws_opts *o, struct sk_err *err)
{
	struct ws_restore_result r;

	if (ws_restore(o, &r, err) < 0)
		return cli_finish(-1, err);
	/* As before, only a generation's restore prints JSON, not a legacy directory's. */
	if (o->json && r.generation)
		wsout_restore_json(&r, o->target);
	return cli_finish(0, err);
}

/* A predicate for scripts: "no" is exit status 3, with no message. */
static int do_check(const struct ws_opts *o, struct sk_err *err)
{
	int waiting, rc;

	rc = cli_finish(ws_check(o, &waiting, err), err);
	return rc == SK_OK && !waiting ? SK_ENOENT : rc;
}

/* With --all, the output that spans every bot is begun and ended once, in run_all. */
static int all_mode;
static struct wsout_verify vout;
static struct wsout_prune pout;

static int do_verify(const struct ws_opts *o, struct sk_err *err)
{
	int ret;

	if (!all_mode)
		wsout_verify_begin(&vout, o->json);
	ret = ws_verify(o, wsout_verified, &vout, err);
	if (!all_mode)
		wsout_verify_end(&vout);
	return cli_finish(ret, err);
}

static const char *browse_path; /* --ls and --dump: PATH, or NULL */

static int do_ls(const struct ws_opts *o, struct sk_err *err)
{
	struct wsout_ls l;
	int ret;

	wsout_ls_begin(&l, o->json);
	ret = ws_ls(o, browse_path, wsout_entry, &l, err);
	wsout_ls_end(&l, ret);
	return cli_finish(ret, err);
}

static int do_dump(const struct ws_opts *o, struct sk_err *err)
{
	if (isatty(STDOUT_FILENO))
		cli_usage_error(
		    "refusing to write to a terminal (pipe it or redirect it to a file)");
	return cli_finish(ws_dump(o, browse_path, STDOUT_FILENO, err), err);
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
	int ret;

	if (!all_mode)
		wsout_prune_begin(&pout, o->json, o->dry_run);
	ret = ws_prune(o, wsout_pruned, &pout, err);
	if (!all_mode)
		wsout_prune_end(&pout);
	return cli_finish(ret, err);
}

/* --all's one exit status: the most serious class met. */
static int severity(int rc)
{
	switch (rc) {
	case SK_EDAMAGED:
		return 5;
	case SK_EFAIL:
		return 4;
	case SK_EBUSY:
		return 3;
	case SK_ENOENT:
		return 2;
	case SK_OK:
		return 0;
	default:
		return 1;
	}
}

/* "bot3 (exit 5), bot7 (exit 4)", as much as fits. */
static void note_failure(char *buf, size_t size, const char *bot, int rc)
{
	size_t used = strlen(buf);

	if (used < size)
		snprintf(buf + used, size - used, "%s%s (exit %d)", used ? ", " : "", bot, rc);
}

/*
 * Run action for every bot, one after another, each under its own lock
 * (and --wait), past failures. Writing a generation tries every bot known
 * to the backend or the index; a bot only the index knows whose workspace
 * is gone is skipped, its generations kept. --verify and --prune take the
 * bots with generations.
 */
static int run_all(int (*action)(const struct ws_opts *, struct sk_err *), struct ws_opts *o)
{
	struct ws_ids ids, backend = { 0 };
	struct sk_err err = SK_ERR_INIT;
	char failed[1024] = "";
	size_t i, nfail = 0, nskip = 0;
	int worst = SK_OK;

	if (action == do_preserve && ws_all_bots(o, WS_BOTS_BACKEND, &backend, &err) < 0)
		return cli_finish(-1, &err);
	if (ws_all_bots(o, WS_BOTS_INDEX | (action == do_preserve ? WS_BOTS_BACKEND : 0), &ids,
			&err) < 0) {
		ws_ids_free(&backend);
		return cli_finish(-1, &err);
	}
	all_mode = 1;
	wsout_verify_begin(&vout, o->json && action == do_verify);
	wsout_prune_begin(&pout, o->json && action == do_prune, o->dry_run);
	for (i = 0; i < ids.n; i++) {
		struct sk_err e = SK_ERR_INIT;
		int rc, index_only;

		o->bot = ids.v[i];
		index_only = action == do_preserve && !ws_ids_has(&backend, o->bot);
		rc = index_only ? preserve_one(o, 1, &e) : action(o, &e);
		if (rc == SK_ENOENT && index_only) {
			nskip++;
			continue;
		}
		if (rc == SK_OK)
			continue;
		nfail++;
		note_failure(failed, sizeof(failed), o->bot, rc);
		if (severity(rc) > severity(worst))
			worst = rc;
	}
	wsout_verify_end(&vout);
	wsout_prune_end(&pout);
	if (nfail)
		log_error("--all: %zu of %zu bots failed: %s", nfail, ids.n, failed);
	else
		log_info("--all: %zu bots done, %zu skipped (no workspace; their generations are "
			 "kept)",
			 ids.n - nskip, nskip);
	ws_ids_free(&ids);
	ws_ids_free(&backend);
	if (fflush(stdout) != 0 || ferror(stdout))
		return cli_finish(0, NULL);
	return worst;
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

/* -k and --keep-*: the command line's policy replaces the config's. */
static void keep_option(int c, const char *arg, struct ws_opts *o)
{
	struct retain_policy *p = &o->keep;
	char *end;
	long n;

	o->keep_set = 1;
	if (c == CLI_OPT_KEEP_WITHIN) {
		if (retain_parse_span(arg, &p->within) < 0 || !retain_span_any(&p->within))
			cli_usage_error("invalid --keep-within '%s' (expected a span like 30d, 2w "
					"or "
					"1y6m)",
					arg);
		return;
	}
	n = strtol(arg, &end, 10);
	if (*end || end == arg || n < 1 || n > 1000000)
		cli_usage_error("invalid keep count '%s' (expected 1 or more)", arg);
	switch (c) {
	case CLI_OPT_KEEP_HOURLY:
		p->hourly = (int)n;
		break;
	case CLI_OPT_KEEP_DAILY:
		p->daily = (int)n;
		break;
	case CLI_OPT_KEEP_WEEKLY:
		p->weekly = (int)n;
		break;
	case CLI_OPT_KEEP_MONTHLY:
		p->monthly = (int)n;
		break;
	case CLI_OPT_KEEP_YEARLY:
		p->yearly = (int)n;
		break;
	default:
		p->last = (int)n;
	}
}

/*
 * --time: "@SECONDS", or "YYYY-MM-DD[ HH:MM[:SS]]" in local time (a 'T' for
 * the space, and a final 'Z' for UTC, are taken too).
 */
static int64_t parse_time(const char *arg)
{
	struct tm tm = { 0 };
	const char *rest;
	char *end;
	time_t t;

	if (arg[0] == '@') {
		long long v = strtoll(arg + 1, &end, 10);

		if (*end || end == arg + 1 || v < 1)
			cli_usage_error("invalid --time '%s'", arg);
		return (int64_t)v;
	}
	rest = strptime(arg, "%Y-%m-%d", &tm);
	if (rest && (*rest == ' ' || *rest == 'T')) {
		const char *hm = strptime(rest + 1, "%H:%M", &tm);

		rest = hm && *hm == ':' ? strptime(hm + 1, "%S", &tm) : hm;
	}
	if (!rest || (*rest && strcmp(rest, "Z") != 0))
		cli_usage_error("invalid --time '%s' (expected 'YYYY-MM-DD HH:MM:SS' or @SECONDS)",
				arg);
	tm.tm_isdst = -1;
	t = *rest == 'Z' ? timegm(&tm) : mktime(&tm);
	if (t < 1)
		cli_usage_error("invalid --time '%s'", arg);
	return (int64_t)t;
}

int main(int argc, char **argv)
{
	struct ws_opts opts = WS_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	int (*action)(const struct ws_opts *, struct sk_err *) = do_preserve;
	int c, nactions = 0, bot_optional = 0, no_bot = 0, all = 0;
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
		case CLI_OPT_ALL:
			all = 1;
			break;
		case CLI_OPT_LS:
			action = do_ls;
			nactions++;
			break;
		case CLI_OPT_DUMP:
			action = do_dump;
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
		case CLI_OPT_KEEP_LAST:
		case CLI_OPT_KEEP_HOURLY:
		case CLI_OPT_KEEP_DAILY:
		case CLI_OPT_KEEP_WEEKLY:
		case CLI_OPT_KEEP_MONTHLY:
		case CLI_OPT_KEEP_YEARLY:
		case CLI_OPT_KEEP_WITHIN:
			keep_option(c, optarg, &opts);
			break;
		case CLI_OPT_NO_BACKUP:
			opts.no_backup = 1;
			break;
		case CLI_OPT_TARGET:
			if (!*optarg)
				cli_usage_error("--target needs a directory");
			opts.target = optarg;
			break;
		case CLI_OPT_DRY_RUN:
			opts.dry_run = 1;
			break;
		case CLI_OPT_TIME:
			opts.at = parse_time(optarg);
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
	if ((opts.no_backup || opts.target) && action != do_restore)
		cli_usage_error("--no-backup and --target go with --restore");
	if (opts.dry_run && action != do_prune)
		cli_usage_error("--dry-run goes with --prune");
	if (opts.at && action != do_preserve)
		cli_usage_error("--time goes with writing a generation");
	if (opts.keep_set && action != do_preserve && action != do_prune)
		cli_usage_error("--keep options go with writing a generation or --prune");
	if (opts.generation && action != do_restore && action != do_verify && action != do_ls &&
	    action != do_dump)
		cli_usage_error("--generation goes with --restore, --verify, --ls or --dump");
	if (all) {
		if (action != do_preserve && action != do_verify && action != do_prune)
			cli_usage_error("--all goes with writing generations, --verify or --prune");
		if (opts.generation)
			cli_usage_error("--all and --generation exclude each other");
		if (argc != optind)
			cli_usage_error("--all takes no BOT");
		return run_all(action, &opts);
	}
	if (no_bot) {
		if (argc != optind)
			cli_usage_error("--list-ids takes no BOT");
	} else if ((action == do_ls || action == do_dump) && argc - optind == 2) {
		opts.bot = argv[optind];
		browse_path = argv[optind + 1];
	} else if (bot_optional && argc - optind == 0) {
		opts.bot = NULL;
	} else if (argc - optind != 1) {
		cli_usage_error("expected exactly one BOT");
	} else {
		opts.bot = argv[optind];
	}
	return action(&opts, &err);
}
