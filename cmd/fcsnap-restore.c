/* fcsnap-restore: boot a new Firecracker microVM from a snapshot. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "snap.h"
#include "snapout.h"
#include "banned.h"

static const struct option longopts[] = {
	{ "tap", required_argument, NULL, CLI_OPT_TAP },
	{ "json", no_argument, NULL, CLI_OPT_JSON },
	CLI_BASE_LONG,
	CLI_WAIT_LONG,
	{ "progress", no_argument, NULL, CLI_OPT_PROGRESS },
	{ NULL, 0, NULL, 0 },
};

static void usage(void)
{
	fputs("Usage:\n"
	      " fcsnap-restore [options] SNAPSHOT MACHINE\n"
	      "\n"
	      "Verify SNAPSHOT, clone its disks for MACHINE, start a fresh Firecracker,\n"
	      "load the snapshot and resume it.\n"
	      "\n"
	      "Options:\n"
	      "     --tap IFACE=NAME       give interface IFACE the TAP device NAME instead of\n"
	      "                            the recorded one (Firecracker 1.12 or later)\n"
	      "     --json                 print the result as JSON on stdout\n"
	      " -c, --config FILE          read FILE instead of /etc/statekit/statekit.ini\n"
	      "     --progress             show hashing progress even when stderr is not a\n"
	      "                            terminal\n"
	      " -w, --wait SECONDS         wait up to SECONDS for a busy machine or snapshot\n"
	      " -q, --quiet                print errors only\n"
	      " -v, --verbose              print a summary when done\n"
	      " -h, --help                 display this help and exit\n"
	      " -V, --version              display version and exit\n"
	      "\n"
	      "Exit status: 0 done, 1 failed, 2 usage or config error (also a Firecracker\n"
	      "of another snapshot format), 3 no such snapshot, 4 machine exists or a disk\n"
	      "or TAP is in use, 5 damaged snapshot.\n"
	      "See fcsnap-restore(1).\n",
	      stdout);
}

static void add_tap(struct snap_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;

	if (!eq || n == 0 || n >= sizeof(o->taps[0].iface) || !eq[1] || strlen(eq + 1) > 15 ||
	    strpbrk(eq + 1, "/ \t\n"))
		cli_usage_error("invalid --tap '%s' (expected IFACE=NAME, NAME at most 15 "
				"characters)",
				arg);
	if (o->ntaps == FC_MAX_NETS)
		cli_usage_error("too many --tap options");
	memcpy(o->taps[o->ntaps].iface, arg, n);
	o->taps[o->ntaps].iface[n] = '\0';
	snprintf(o->taps[o->ntaps].tap, sizeof(o->taps[0].tap), "%s", eq + 1);
	o->ntaps++;
}

int main(int argc, char **argv)
{
	struct snap_opts opts = SNAP_OPTS_INIT;
	struct sk_err err = SK_ERR_INIT;
	struct machine_row res = { 0 };
	int c, rc;

	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "c:w:qvhV", longopts, NULL)) != -1) {
		if (cli_common_base(c, optarg, &opts.config_path, &opts.wait_s, &opts.progress,
				    usage))
			continue;
		switch (c) {
		case CLI_OPT_TAP:
			add_tap(&opts, optarg);
			break;
		case CLI_OPT_JSON:
			opts.json = 1;
			break;
		default:
			cli_try_help();
		}
	}
	if (argc - optind != 2)
		cli_usage_error("expected SNAPSHOT and MACHINE");
	opts.snapshot = argv[optind];
	opts.machine = argv[optind + 1];
	rc = snap_restore(&opts, &res, &err);
	if (rc == 0)
		snapout_restored(&opts, &res);
	return cli_finish(rc, &err);
}
