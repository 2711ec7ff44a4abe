#!/usr/bin/env bats
# The examples operators copy, run as written. Every fenced sh and cron block
# of README.md and every .Bd -literal block and .Dl line of the EXAMPLES
# section of every man page, and of the operator's guide in statekit(7), is
# read from its file when the test runs (a changed example is tested as
# changed) and run:
#
# - typed lines under a real pty (tests/helpers/ptyrun), one bash per block,
#   so that state such as umask carries from line to line; a comment line
#   alone ("# delete and recreate the container") is where the test does what
#   it says; in a block written as a session ("$ cmd" then its output) the
#   output lines are what the command must print;
# - cron lines by their command part, as cron runs it: /bin/sh -c under
#   env -i with cron's own environment (PATH=/usr/bin:/bin, SHELL, HOME,
#   LOGNAME) plus the NAME=value lines of the same block, '%' handled as
#   crontab(5) says, stdin empty, output captured as cron would mail it;
# - configuration blocks (statekit.ini(5)) as the configuration file of the
#   commands the test then runs.
#
# Each runs in a private mount namespace where the paths the examples name
# are real: /var/lib/statekit is the test's state directory, /srv a directory
# of the test, /usr/local/bin holds the built commands (as after
# 'make install PREFIX=/usr/local': not on cron's PATH), /run/fc and
# /run/containerd are private, and /run/containerd/containerd.sock is the
# suite's private containerd. fcsnap examples run in a private network
# namespace, so TAP names such as tap1, tap7 and br0 are the examples' own.
#
# The only changes made to the text: 'ssh HOST CMD' runs CMD with
# STATEKIT_CONFIG naming the second state directory's config (a second host,
# in a network namespace of its own for fcsnap), every command gets
# STATEKIT_CONFIG naming the test's config (the examples mean
# /etc/statekit/statekit.ini), and a dated snapshot name such as
# vm1-2026-11-23 is the name the line before it created. A pid in an expected
# output ("(pid 4242)") or a command ("-p 12345") is the pid of the process
# the test made. Where less(1) pages, LESS=F lets it quit as a person would
# press q. There is no systemd here: the systemctl that statekit.ini(5)'s
# stop_command and start_command call is a stand-in that records its
# arguments.
#
# EX_TABLE maps every example line to the test that runs it (the tag in the
# test's title) or to 'norun:' with the reason it cannot run here. A line
# that no entry names fails the first test: a new example needs a test.

load helpers/common
load helpers/fc
load helpers/containerd

# FILE:BLOCK<TAB>TAG<TAB>LINE, LINE as extracted (mdoc escapes decoded).
EX_TABLE=$(
	cat <<'TABLE'
README.md:1	ex-quickstart	bash scripts/demo.sh     # build, then export, import, preserve and restore a sample workspace
README.md:1	norun:check	bash scripts/check.sh    # build with -Werror and run the whole test suite
README.md:2	ex-ws-move	ws-export bot1 | ssh host2 ws-import bot1
README.md:3	ex-cron-preserve	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
README.md:3	ex-cron-preserve	15 3 * * *  root  ws-preserve --wait 600 -q bot1
README.md:4	norun:systemd	systemctl enable --now statekit-preserve-all.timer statekit-verify-all.timer
README.md:5	ex-readme-recover	ws-preserve --list bot1              # what generations exist
README.md:5	ex-readme-recover	ws-preserve --verify bot1            # are they intact? (exit 5 names any that is not)
README.md:5	ex-readme-recover	ws-preserve --restore bot1           # the newest, checked against its sha256
README.md:5	ex-readme-recover	ws-preserve --restore -g 4 bot1      # or a given one
README.md:5	ex-readme-recover	ws-preserve --check bot1 && echo "bot1 has data waiting to be restored"
README.md:6	ex-readme-fcsnap	fcsnap-create --wait 60 vm1 vm1-$(date +%F)
README.md:6	ex-readme-fcsnap	fcsnap-export vm1-2026-11-23 | ssh host2 fcsnap-import
README.md:6	ex-readme-fcsnap	ssh host2 fcsnap-restore --tap eth0=tap7 vm1-2026-11-23 vm7
README.md:6	ex-readme-fcsnap	fcsnap-verify --all                  # re-hash every snapshot
README.md:7	ex-s3	fcsnap-push vm1-2026-11-23 s3://snapshots/fleet
README.md:7	ex-s3	ssh host3 fcsnap-pull s3://snapshots/fleet vm1-2026-11-23
README.md:7	ex-s3	fcsnap-verify --remote s3://snapshots/fleet --all --read-data
README.md:8	norun:make	make                         # build/bin/*
README.md:8	norun:check	make check                   # unit tests and bats suites
README.md:8	norun:make	make DEVELOPER=1             # -Werror
README.md:8	norun:lint	make lint                    # clang-format, mandoc -Tlint, shellcheck
README.md:8	norun:check	make SANITIZE=address,undefined check
README.md:8	norun:install	make install PREFIX=/usr/local DESTDIR=...
man/man1/fcsnap-create.1:1	ex-fccreate	fcsnap-create -v vm1 vm1-pre-upgrade
man/man1/fcsnap-create.1:2	ex-cron-fccreate	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man1/fcsnap-create.1:2	ex-cron-fccreate	30 2 * * * root fcsnap-create --wait 60 -q vm1 vm1-$(date +\%F)
man/man1/fcsnap-create.1:3	ex-fccreate-socket	fcsnap-create --socket /run/fc/vm3.socket vm3 vm3-debug
man/man1/fcsnap-create.1:4	ex-fccreate	fcsnap-create --json vm1 vm1-$(date +%F) | jq .pause_ms
man/man1/fcsnap-delete.1:1	ex-fcdelete	fcsnap-delete vm1-pre-upgrade
man/man1/fcsnap-delete.1:2	ex-cron-fcdelete	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man1/fcsnap-delete.1:2	ex-cron-fcdelete	45 2 * * * root fcsnap-list --ids vm1 | head -n -7 | xargs -r -n 1 fcsnap-delete --wait 60 -q
man/man1/fcsnap-delete.1:3	ex-fcdelete-inuse	$ fcsnap-delete vm1-2026-11-01
man/man1/fcsnap-delete.1:3	ex-fcdelete-inuse	fcsnap-delete: snapshot 'vm1-2026-11-01' is in use: machine 'vm7' (pid 4242) runs from its memory file
man/man1/fcsnap-delete.1:4	ex-s3	fcsnap-delete --remote s3://snapshots/fleet s1 && fcsnap-delete --remote s3://snapshots/fleet --prune
man/man1/fcsnap-delete.1:5	ex-s3	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man1/fcsnap-delete.1:5	ex-s3	0 5 * * 0 root fcsnap-delete --remote s3://snapshots/fleet --prune --wait 3600 -q
man/man1/fcsnap-export.1:1	ex-fcxfer	fcsnap-export s1 | ssh host2 fcsnap-import
man/man1/fcsnap-export.1:1	ex-fcxfer	ssh host2 fcsnap-restore s1 vm7
man/man1/fcsnap-export.1:2	ex-fcxfer-progress	fcsnap-export -q s1 | ssh host2 fcsnap-import --progress
man/man1/fcsnap-export.1:3	ex-fcxfer-file	umask 077
man/man1/fcsnap-export.1:3	ex-fcxfer-file	fcsnap-export -z none s1 > s1.sksnap
man/man1/fcsnap-export.1:4	ex-fcxfer	fcsnap-export -j 2 s1 | ssh host2 fcsnap-import
man/man1/fcsnap-import.1:1	ex-fcxfer	fcsnap-export s1 | ssh host2 fcsnap-import
man/man1/fcsnap-import.1:1	ex-fcxfer	ssh host2 fcsnap-restore s1 vm7
man/man1/fcsnap-import.1:2	ex-fcxfer-pull	ssh host1 fcsnap-export s1 | fcsnap-import
man/man1/fcsnap-import.1:3	ex-fcxfer-progress	fcsnap-export -q s1 | ssh host2 fcsnap-import --progress
man/man1/fcsnap-import.1:4	ex-fcxfer-file	fcsnap-import --as s1-old < s1.sksnap
man/man1/fcsnap-list.1:1	ex-fclist	fcsnap-list
man/man1/fcsnap-list.1:2	ex-fclist	fcsnap-list vm1
man/man1/fcsnap-list.1:3	ex-fclist	fcsnap-list --ids vm1 | tail -n 1
man/man1/fcsnap-list.1:4	ex-fclist	fcsnap-list --json | jq -r '.[] | select(.pause_ms > 500) | .snapshot'
man/man1/fcsnap-list.1:5	ex-fclist	fcsnap-list --ids vm1 | head -n -7 | xargs -r -n 1 fcsnap-delete
man/man1/fcsnap-list.1:6	ex-s3	fcsnap-list --remote s3://snapshots/fleet
man/man1/fcsnap-pull.1:1	norun:s3	fcsnap-pull s3://snapshots/fleet s1 && fcsnap-restore s1 vm2
man/man1/fcsnap-pull.1:2	ex-s3	fcsnap-pull --as s1-old s3://snapshots/fleet s1
man/man1/fcsnap-pull.1:3	norun:s3	fcsnap-pull --presigned spec.json
man/man1/fcsnap-push.1:1	ex-s3	fcsnap-push s1 s3://snapshots/fleet
man/man1/fcsnap-push.1:2	norun:s3	fcsnap-pull s3://snapshots/fleet s1 && fcsnap-restore s1 vm2
man/man1/fcsnap-push.1:3	norun:s3	AWS_ENDPOINT_URL=http://127.0.0.1:7480 fcsnap-push s1 s3://snapshots/fleet
man/man1/fcsnap-push.1:4	norun:s3	fcsnap-push --presigned plan.json s1 > parts.json
man/man1/fcsnap-restore.1:1	ex-fcrestore	fcsnap-restore vm1-2026-11-22 vm7
man/man1/fcsnap-restore.1:2	ex-fcrestore	ip tuntap add dev tap7 mode tap
man/man1/fcsnap-restore.1:2	ex-fcrestore	ip link set tap7 master br0 up
man/man1/fcsnap-restore.1:2	ex-fcrestore	fcsnap-restore --tap eth0=tap7 vm1-2026-11-22 vm7
man/man1/fcsnap-restore.1:3	ex-fcrestore-recover	fcsnap-list vm1
man/man1/fcsnap-restore.1:3	ex-fcrestore-recover	fcsnap-restore vm1-2026-11-22 vm1b
man/man1/fcsnap-restore.1:4	ex-fcrestore-reuse	rm -r /var/lib/statekit/machines/vm7
man/man1/fcsnap-restore.1:4	ex-fcrestore-reuse	fcsnap-restore vm1-2026-11-22 vm7
man/man1/fcsnap-verify.1:1	ex-fcverify	fcsnap-verify vm1-2026-11-22
man/man1/fcsnap-verify.1:2	ex-cron-fcverify	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man1/fcsnap-verify.1:2	ex-cron-fcverify	0 4 * * 0 root fcsnap-verify --all --wait 600 >/dev/null
man/man1/fcsnap-verify.1:3	ex-fcverify	fcsnap-verify --all --json | jq -r '.[] | select(.ok | not) | .snapshot'
man/man1/fcsnap-verify.1:4	ex-s3	fcsnap-verify --remote s3://snapshots/fleet --all --read-data
man/man1/ws-export.1:1	ex-ws-move	ws-export bot1 | ssh host2 ws-import bot1
man/man1/ws-export.1:2	ex-ws-move	ws-export -z zstd bot1 | ssh host2 ws-import bot1
man/man1/ws-export.1:3	ex-ws-file	ws-export --wait 600 -o /srv/archive/bot1.tar.gz bot1
man/man1/ws-export.1:4	ex-ws-less	ws-export bot1 | tar -tzvf - | less
man/man1/ws-export.1:5	ex-ws-ctrd	ws-export -o /srv/archive/bot1.tar.gz bot1
man/man1/ws-export.1:5	ex-ws-ctrd	ctr -n default tasks ls     # workspace-bot1 is RUNNING again
man/man1/ws-import.1:1	ex-ws-move	ws-export bot1 | ssh host2 ws-import bot1
man/man1/ws-import.1:2	ex-ws-pull	ssh host1 ws-export bot1 | ws-import bot1
man/man1/ws-import.1:3	ex-ws-file	ws-import --merge -i /srv/archive/bot1.tar.gz bot1
man/man1/ws-import.1:4	ex-ws-json	ws-import -q --json -i bot1.tar.zst bot1 > result.json
man/man1/ws-preserve.1:1	ex-cron-preserve	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man1/ws-preserve.1:1	ex-cron-preserve	15 3 * * * root ws-preserve --wait 600 -q bot1
man/man1/ws-preserve.1:2	ex-preserve-ctrd	ws-preserve bot1
man/man1/ws-preserve.1:2	ex-preserve-ctrd	# delete and recreate the container
man/man1/ws-preserve.1:2	ex-preserve-ctrd	ws-preserve --check bot1 && ws-preserve --restore bot1
man/man1/ws-preserve.1:3	ex-preserve-gen	ws-preserve --list bot1
man/man1/ws-preserve.1:4	ex-preserve-gen	ws-preserve --restore -g 41 bot1
man/man1/ws-preserve.1:5	ex-preserve-gen	ws-preserve --list bot1
man/man1/ws-preserve.1:5	ex-preserve-gen	ls -l /var/lib/statekit/workspaces/bot1
man/man1/ws-preserve.1:6	ex-preserve-keep	ws-preserve --prune --dry-run --keep-daily 7 --keep-weekly 5 --keep-monthly 12 bot1
man/man1/ws-preserve.1:7	ex-preserve-file	ws-preserve --ls -g 41 bot1 notes
man/man1/ws-preserve.1:7	ex-preserve-file	ws-preserve --dump -g 41 bot1 notes/todo.txt > todo.txt
man/man5/statekit.ini.5:1	ex-ini-ctrd	[workspace]
man/man5/statekit.ini.5:1	ex-ini-ctrd	backend = containerd
man/man5/statekit.ini.5:1	ex-ini-ctrd	keep = 7
man/man5/statekit.ini.5:1	ex-ini-ctrd	[containerd]
man/man5/statekit.ini.5:1	ex-ini-ctrd	namespace = agents
man/man5/statekit.ini.5:1	ex-ini-ctrd	container = agent-%s
man/man5/statekit.ini.5:1	ex-ini-ctrd	[archive]
man/man5/statekit.ini.5:1	ex-ini-ctrd	compression = zstd
man/man5/statekit.ini.5:2	ex-ini-dir	[state]
man/man5/statekit.ini.5:2	ex-ini-dir	dir = /srv/statekit
man/man5/statekit.ini.5:2	ex-ini-dir	[workspace]
man/man5/statekit.ini.5:2	ex-ini-dir	path = /srv/bots/%s/data
man/man5/statekit.ini.5:2	ex-ini-dir	stop_command = systemctl stop "bot@$1"
man/man5/statekit.ini.5:2	ex-ini-dir	start_command = systemctl start "bot@$1"
man/man5/statekit.ini.5:3	norun:s3	[remote]
man/man5/statekit.ini.5:3	norun:s3	endpoint = http://10.0.0.5:7480
man/man5/statekit.ini.5:3	norun:s3	credentials_file = /etc/statekit/s3-credentials
man/man7/statekit.7:1	ex-ws-move	ws-export bot1 | ssh host2 ws-import bot1
man/man7/statekit.7:2	ex-cron-preserve	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man7/statekit.7:2	ex-cron-preserve	15 3 * * * root ws-preserve --wait 600 -q bot1
man/man7/statekit.7:3	ex-preserve-gen	ws-preserve --list bot1
man/man7/statekit.7:3	ex-preserve-gen	ws-preserve --restore -g 41 bot1
man/man7/statekit.7:3	ex-preserve-gen	ws-preserve --list bot1
man/man7/statekit.7:4	ex-busy	ps -o pid,etime,args -p 12345
man/man7/statekit.7:5	ex-repair	ws-preserve --wait 600 bot1
man/man7/statekit.7:g1	norun:install	make install
man/man7/statekit.7:g2	norun:systemd	systemctl enable --now statekit-preserve-all.timer
man/man7/statekit.7:g2	norun:systemd	systemctl enable --now statekit-verify-all.timer
man/man7/statekit.7:g3	norun:systemd	systemctl enable --now statekit-preserve@bot1.timer
man/man7/statekit.7:g4	norun:systemd	systemctl list-timers 'statekit-*'
man/man7/statekit.7:g4	norun:systemd	journalctl -u statekit-preserve-all.service
man/man7/statekit.7:g5	ex-guide-all	PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
man/man7/statekit.7:g5	ex-guide-all	15 3 * * * root ws-preserve --all --wait 600 -q
man/man7/statekit.7:g5	ex-guide-all	30 4 * * 0 root ws-preserve --verify --all --wait 600 -q
man/man7/statekit.7:g6	ex-guide-all	ws-preserve --verify --all --wait 600
man/man7/statekit.7:g7	ex-guide-restore	ws-preserve --list bot1
man/man7/statekit.7:g8	ex-guide-restore	ws-preserve --restore bot1
man/man7/statekit.7:g8	ex-guide-restore	ws-preserve --restore -g 41 bot1
man/man7/statekit.7:g9	ex-guide-restore	ws-preserve --restore --target /srv/restore/bot1 bot1
man/man7/statekit.7:g10	ex-ws-move	ws-export bot1 | ssh host2 ws-import bot1
man/man7/statekit.7:g11	ex-guide-fcmove	fcsnap-create vm1 vm1-move
man/man7/statekit.7:g11	ex-guide-fcmove	# stop vm1 on this host now
man/man7/statekit.7:g11	ex-guide-fcmove	fcsnap-push vm1-move s3://snapshots/fleet
man/man7/statekit.7:g11	ex-guide-fcmove	ssh host2 fcsnap-pull s3://snapshots/fleet vm1-move
man/man7/statekit.7:g11	ex-guide-fcmove	ssh host2 fcsnap-restore vm1-move vm1
TABLE
)

# Why a 'norun:' line cannot run here. Each is still checked by bash -n and
# for the options its command's --help lists.
declare -gA EX_NORUN=(
	[check]="runs the whole suite, this file included (about 20 minutes on 2 cores)"
	[make]="rebuilds ./build, the binaries this suite is running (scripts/demo.sh, run by the Quick start test, runs make all itself)"
	[install]="an install writes outside the clone (and DESTDIR=... is a placeholder); tests/units.bats runs make install and make uninstall into temporary directories"
	[systemd]="needs systemd running as PID 1, which the suite does not have; tests/units.bats checks the units with systemd-analyze verify and enables the timers with systemctl --root"
	[lint]="tests/house.bats runs it, with the other rules of the source"
	[s3]="needs an object store at s3://snapshots/fleet and keys to it, or a control plane's presigned URLs; tests/remote.bats runs the same commands against a private Ceph RGW"
)

STATEKIT_CMDS=" ws-export ws-import ws-preserve fcsnap-create fcsnap-restore fcsnap-list fcsnap-delete fcsnap-verify fcsnap-export fcsnap-import fcsnap-push fcsnap-pull "

# The pages with examples: README.md and every man page.
ex_files() {
	echo README.md
	(cd "$REPO" && ls man/man*/*.[1-9])
}

# ex_all FILE: every example line of FILE as BLOCK<TAB>LINE. README.md: the
# fenced sh and cron blocks; a man page: the .Bd -literal blocks and .Dl
# lines of its EXAMPLES section, numbered 1, 2, ..., and those between the
# comment lines that open and close an operator's guide (statekit(7) has
# one), numbered g1, g2, ...; mdoc escapes decoded. Blank lines go.
ex_all() {
	case $1 in
	*.md)
		awk '/^```(sh|cron)[[:space:]]*$/ { n++; on = 1; next }
			/^```/ { on = 0; next }
			on && NF { print n "\t" $0 }' "$REPO/$1" ;;
	*)
		awk '/^\.\\" ---- operator.s guide/ { g = 1; next }
			/^\.\\" ---- end of the operator.s guide/ { g = 0; next }
			/^\.Sh / { ex = ($0 == ".Sh EXAMPLES"); next }
			!ex && !g { next }
			/^\.Bd -literal/ { b = g ? "g" (++gn) : ++n; lit = 1; next }
			/^\.Ed/ { lit = 0; next }
			/^\.Dl / { b = g ? "g" (++gn) : ++n; print b "\t" substr($0, 5); next }
			lit && NF { print b "\t" $0 }' "$REPO/$1" |
			sed -e 's/\\e/\x01/g' -e 's/\\-/-/g' -e "s/\\\\(aq/'/g" -e 's/\\(dq/"/g' \
				-e 's/\\&//g' -e 's/\x01/\\/g' ;;
	esac
}

# ex_lines FILE N: the lines of example block N of FILE.
ex_lines() {
	ex_all "$1" | awk -F '\t' -v n="$2" '$1 == n { sub(/^[^\t]*\t/, ""); print }'
}

# The test's own files, the second "host" and the namespace the examples run
# in (see the top of this file).
setup() {
	sk_setup
	BG_PIDS=
	EXD=$BATS_TEST_TMPDIR/ex
	mkdir -p "$EXD/cwd" "$EXD/srv" "$EXD/ns" "$EXD/home"
	: >"$EXD/rc"
	SRV=$EXD/srv
	ST2=$BATS_TEST_TMPDIR/host2
	CONF2=$BATS_TEST_TMPDIR/host2.ini
	EX_NET1='' EX_NET2='' EX_NS_EXTRA='' EX_DATE='' EX_HOOK=''
	ex_host2
}

teardown() {
	[[ -z ${EX_RELEASE:-} ]] || touch "$EX_RELEASE"
	[[ -z ${EX_RGW:-} ]] || "$REPO/tests/helpers/rgw" stop "$EX_RGW"
	kill_bg
	local db p f
	for db in "$ST/index.db" "$ST2/index.db"; do
		[[ -f $db ]] || continue
		for p in $(sqlite3 "$db" 'SELECT pid FROM machines' 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
	done
	fc_stop_all
	for f in $EX_NET1 $EX_NET2; do
		umount "$f" 2>/dev/null || true
	done
	if [[ -n ${EX_CTRD:-} ]]; then
		ctrd_teardown
		for ns in default agents; do
			CTRD_NS=$ns ctrd_remove_all
		done
	fi
}

setup_file() {
	# Only the containerd examples need it. Where it cannot run, those tests
	# say so themselves (ctrd_require: a skip, or a failure under CI).
	local t
	for t in containerd ctr runc containerd-shim-runc-v2 busybox; do
		command -v "$t" >/dev/null || return 0
	done
	((EUID == 0)) || return 0
	ctrd_start
	local ns
	for ns in default agents; do
		ctr --address "$CTRD_SOCK" -n "$ns" images import "$CTRD_DIR/data.tar" >/dev/null
	done
}

teardown_file() {
	ctrd_stop
}

# ex_host2: the second host's config, the first's with its own state dir.
# Call again after sk_conf.
ex_host2() {
	sed "s|^dir = .*|dir = $ST2|" "$CONF" >"$CONF2"
}

# ex_ns CMD...: run CMD in the examples' namespaces (see the top).
ex_ns() {
	local script pre=()
	script=$(
		printf 'set -e\n'
		printf 'mount -t tmpfs ex %q\n' "$EXD/ns"
		printf 'mkdir -p %q/lib/u %q/lib/w %q/run/u %q/run/w\n' "$EXD/ns" "$EXD/ns" "$EXD/ns" "$EXD/ns"
		printf 'mount -t overlay ex -o lowerdir=/var/lib,upperdir=%q/lib/u,workdir=%q/lib/w /var/lib\n' "$EXD/ns" "$EXD/ns"
		printf 'mkdir -p /var/lib/statekit\nmount --bind %q /var/lib/statekit\n' "$ST"
		printf 'mount -t overlay ex -o lowerdir=/run,upperdir=%q/run/u,workdir=%q/run/w /run\n' "$EXD/ns" "$EXD/ns"
		# Fresh empty directories over whatever the host has there (another
		# containerd may be making fifos under /run/containerd right now:
		# removing them through the overlay would race it).
		printf 'mkdir -p /run/fc /run/containerd\n'
		printf 'mount -t tmpfs ex /run/fc\nmount -t tmpfs ex /run/containerd\n'
		if [[ -n ${CTRD_SOCK:-} ]]; then
			printf ': >/run/containerd/containerd.sock\n'
			printf 'mount --bind %q /run/containerd/containerd.sock\n' "$CTRD_SOCK"
		fi
		printf 'mount --bind %q /srv\n' "$SRV"
		printf 'mount --bind %q /usr/local/bin\n' "$BIN"
		printf 'if [ -d /etc/statekit ]; then mount -t tmpfs ex /etc/statekit; fi\n'
		printf '%s\n' "$EX_NS_EXTRA"
		printf 'set +e\nexec "$@"\n'
	)
	[[ -n $EX_NET1 ]] && pre=(nsenter "--net=$EX_NET1")
	"${pre[@]}" unshare -m --propagation private bash -c "$script" ex-ns "$@"
}

# ex_subst LINE: the line with the substitutions of the top of this file.
ex_subst() {
	local l=$1 h2="env STATEKIT_CONFIG=$CONF2 "
	[[ -n $EX_NET2 ]] && h2="nsenter --net=$EX_NET2 $h2"
	l=$(sed -E "s#(^|[|;&(] *)ssh [A-Za-z0-9._-]+ #\\1$h2#g" <<<"$l")
	if [[ -n $EX_DATE ]]; then
		l=$(sed -E "s/\\b(vm1)-[0-9]{4}-[0-9]{2}-[0-9]{2}\\b/\\1-$EX_DATE/g" <<<"$l")
	fi
	if [[ -n ${EX_PID:-} ]]; then
		l=$(sed -E "s/-p [0-9]+/-p $EX_PID/g" <<<"$l")
	fi
	printf '%s\n' "$l"
}

# ex_pty SCRIPT: run SCRIPT under a pty in the namespaces, from $EXD/cwd;
# what the terminal shows is appended to $EXD/out.
ex_pty() {
	[[ -n $1 ]] || return 0
	(cd "$EXD/cwd" && ex_ns "$REPO/tests/helpers/ptyrun" -t 60 "$1") >>"$EXD/out" 2>&1 || true
}

# ex_run FILE N: run example block N of FILE as typed. Sets EX_LINES (the
# lines as written), EX_RC (per line: its exit status, '-' for a comment
# line or an output line), EX_EXPECT (the output lines of a "$ " session).
# At a comment line EX_HOOK, if set, is called with the line.
ex_run() {
	local line i=0 script='' session='' n rc
	mapfile -t EX_LINES < <(ex_lines "$1" "$2")
	((${#EX_LINES[@]})) || fail "$1 has no example block $2"
	EX_RC=() EX_EXPECT=()
	: >"$EXD/out"
	: >"$EXD/rc"
	printf '%s\n' "${EX_LINES[@]}" | grep -q '^\$ ' && session=1
	for line in "${EX_LINES[@]}"; do
		i=$((i + 1))
		EX_RC[i]=-
		if [[ -n $session ]]; then
			if [[ $line != '$ '* ]]; then
				EX_EXPECT+=("$line")
				continue
			fi
			line=${line#'$ '}
		fi
		if [[ $line =~ ^[[:space:]]*# ]]; then
			ex_pty "$script"
			script=
			[[ -z $EX_HOOK ]] || "$EX_HOOK" "$line"
			continue
		fi
		EX_RC[i]=missing
		script+="$(ex_subst "$line")"$'\n'"echo \"$i \$?\" >>$EXD/rc"$'\n'
	done
	ex_pty "$script"
	while read -r n rc; do
		EX_RC[n]=$rc
	done <"$EXD/rc"
	EX_OUT=$(tr -d '\r' <"$EXD/out")
}

# ex_ok: every command line of the last ex_run exited 0.
ex_ok() {
	local i
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - || ${EX_RC[i]} == 0 ]] ||
			fail "'${EX_LINES[i - 1]}' exited ${EX_RC[i]}; the terminal showed: $EX_OUT"
	done
}

# ex_rcs: the exit statuses of the last ex_run, one word per line.
ex_rcs() {
	local i out=
	for i in "${!EX_RC[@]}"; do
		out+="${EX_RC[i]} "
	done
	echo "${out% }"
}

# cron_cmd TEXT: split a crontab command at its first unescaped '%' (the rest
# is stdin, further '%' newlines) and unescape '\%', as crontab(5) says. Sets
# CRON_CMD and CRON_IN (unset when there is no '%').
cron_cmd() {
	local s=$1 c i out='' in='' part=cmd
	unset CRON_IN
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		if [[ $c == '\' && ${s:i+1:1} == % ]]; then
			c=%
			i=$((i + 1))
		elif [[ $c == % ]]; then
			if [[ $part == cmd ]]; then
				part=in
				CRON_IN=
				continue
			fi
			c=$'\n'
		fi
		if [[ $part == cmd ]]; then out+=$c; else CRON_IN+=$c; fi
	done
	CRON_CMD=$out
}

# ex_cron FILE N: run the jobs of cron block N of FILE (in the /etc/cron.d
# format: five time fields, the user, the command) as cron runs them. Sets
# EX_LINES, EX_RC as ex_run does and EX_MAIL[i] to the job's output. With
# EX_CRON_NOENV set, the block's NAME=value lines are left out.
ex_cron() {
	local line i=0 env=() user cmd
	mapfile -t EX_LINES < <(ex_lines "$1" "$2")
	((${#EX_LINES[@]})) || fail "$1 has no example block $2"
	EX_RC=() EX_MAIL=()
	for line in "${EX_LINES[@]}"; do
		i=$((i + 1))
		EX_RC[i]=-
		[[ $line =~ ^[[:space:]]*# ]] && continue
		if [[ $line =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
			[[ -n ${EX_CRON_NOENV:-} ]] || env+=("$line")
			continue
		fi
		read -r _ _ _ _ _ user cmd <<<"$line"
		[[ $user == root ]] || fail "cron line without a user field: $line"
		cron_cmd "$cmd"
		EX_RC[i]=0
		if [[ -v CRON_IN ]]; then
			(cd "$EXD/home" && ex_ns env -i SHELL=/bin/sh HOME="$EXD/home" LOGNAME=root \
				PATH=/usr/bin:/bin STATEKIT_CONFIG="$CONF" "${env[@]}" \
				/bin/sh -c "$CRON_CMD" <<<"$CRON_IN") >"$EXD/mail.$i" 2>&1 || EX_RC[i]=$?
		else
			(cd "$EXD/home" && ex_ns env -i SHELL=/bin/sh HOME="$EXD/home" LOGNAME=root \
				PATH=/usr/bin:/bin STATEKIT_CONFIG="$CONF" "${env[@]}" \
				/bin/sh -c "$CRON_CMD" </dev/null) >"$EXD/mail.$i" 2>&1 || EX_RC[i]=$?
		fi
		EX_MAIL[i]=$(cat "$EXD/mail.$i")
	done
}

# ex_cron_proves FILE N: the block's jobs need its NAME=value lines: without
# them, under cron's own PATH, a job finds no statekit command (exit 127), as
# on a host where the commands are installed under /usr/local/bin.
ex_cron_proves() {
	local i
	EX_CRON_NOENV=1 ex_cron "$1" "$2"
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		[[ ${EX_RC[i]} == 127 || ${EX_MAIL[i]} == *"not found"* ]] ||
			fail "'${EX_LINES[i - 1]}' ran without its PATH line (exit ${EX_RC[i]}): cron's environment leaks"
	done
}

# --- Firecracker ---------------------------------------------------------

# ex_fc: network namespaces for this host and host2, the simulator started in
# the first, the config's [firecracker] for both hosts.
ex_fc() {
	EX_NET1=$EXD/net1 EX_NET2=$EXD/net2
	: >"$EX_NET1"
	: >"$EX_NET2"
	unshare "--net=$EX_NET1" true || fail "cannot make a network namespace"
	unshare "--net=$EX_NET2" true || fail "cannot make a network namespace"
	FC_REAL_BIN=$FC_BIN
	FC_BIN=$EXD/firecracker
	printf '#!/bin/sh\nexec nsenter --net=%s %s "$@"\n' "$EX_NET1" "$FC_REAL_BIN" >"$FC_BIN"
	chmod +x "$FC_BIN"
	sk_conf "[firecracker]" \
		"binary = $FC_REAL_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
	ex_host2
}

# ex_vm ID [fc_start options]: a running test machine, small and quick.
ex_vm() {
	local id=$1
	shift
	fc_start "$id" --mem 16 --disk rootfs:16 "$@"
}

# snap_exists ID [STATE_DIR]: the index of that host has the snapshot.
snap_rows_of() {
	sqlite3 "${2:-$ST}/index.db" "SELECT count(*) FROM snapshots WHERE id='$1'" 2>/dev/null || echo 0
}

snap_ids() {
	sqlite3 "${1:-$ST}/index.db" 'SELECT id FROM snapshots ORDER BY id' 2>/dev/null
}

# assert_same_snapshot ID DIR1 DIR2: the snapshot's files in both state dirs
# are the same bytes.
assert_same_snapshot() {
	local f n=0
	for f in "$2/snapshots/$1"/*; do
		[[ $(basename "$f") == manifest.json ]] && continue
		cmp "$f" "$3/snapshots/$1/$(basename "$f")" || fail "$1: $(basename "$f") differs"
		n=$((n + 1))
	done
	((n >= 3)) || fail "$1 has $n artifacts in $2"
}

machine_pid() {
	sqlite3 "${2:-$ST}/index.db" "SELECT pid FROM machines WHERE id='$1'"
}

# assert_machine_runs ID [STATE_DIR]: restored, recorded, and answering Running.
assert_machine_runs() {
	local d=${2:-$ST} pid
	pid=$(machine_pid "$1" "$d")
	[[ -n $pid ]] || fail "no machine '$1' in $d"
	fc_alive "$pid" || fail "machine '$1' (pid $pid) is not running"
	assert_equal "$(fc_state "$d/machines/$1/firecracker.socket")" Running
}

# ============================================================================

@test "examples: every example line of README.md and the man pages is run by a test here" {
	local f n line tag missing=() stale=() have
	have=$(while read -r f; do
		ex_all "$f" | sed "s|^|$f:|"
	done < <(ex_files))
	while IFS= read -r line; do
		grep -qxF -- "${line%%$'\t'*}"$'\t'"${line#*$'\t'}" <(cut -f1,3 <<<"$EX_TABLE") ||
			missing+=("$line")
	done <<<"$have"
	while IFS=$'\t' read -r f tag line; do
		grep -qxF -- "$f"$'\t'"$line" <<<"$have" || stale+=("$f: $line")
		if [[ $tag == norun:* ]]; then
			[[ -n ${EX_NORUN[${tag#norun:}]:-} ]] || fail "no reason for $tag"
		else
			grep -qE "^@test .*\\($tag\\)\"" "$BATS_TEST_FILENAME" ||
				fail "no test tagged ($tag) for $f: $line"
		fi
	done <<<"$EX_TABLE"
	((${#missing[@]} == 0)) ||
		fail "example lines no test runs (add them to EX_TABLE with a test): $(printf '\n  %s' "${missing[@]}")"
	((${#stale[@]} == 0)) ||
		fail "EX_TABLE names lines no page has any more: $(printf '\n  %s' "${stale[@]}")"
}

@test "examples: every example line is valid sh and names only options its command's --help lists" {
	local f n line words w cmd='' bad=() i all sessions
	declare -A helps
	# The lines as the pages have them now, FILE:BLOCK<TAB>LINE.
	all=$(while read -r f; do
		ex_all "$f" | sed "s|^|$f:|"
	done < <(ex_files))
	# Blocks written as a session: only their "$ " lines are commands.
	sessions=$(awk -F '\t' '$2 ~ /^\$ / { print $1 }' <<<"$all" | sort -u)
	while IFS=$'\t' read -r f line; do
		[[ $f == man/man5/* ]] && continue	# configuration, not commands
		if grep -qxF -- "$f" <<<"$sessions"; then
			[[ $line == '$ '* ]] || continue
			line=${line#'$ '}
		fi
		[[ $line =~ ^[0-9*] ]] && read -r _ _ _ _ _ _ line <<<"$line"	# cron
		[[ $line == *'\%'* ]] && line=${line//\\%/%}
		bash -n -c "$line" 2>/dev/null || bad+=("$f: not valid sh: $line")
		# Words after each statekit command up to the end of its simple command.
		read -ra words <<<"$(sed -E 's/(\||&&|;|>|<|\$\(|\))/ \1 /g' <<<"$line")"
		cmd=
		for w in "${words[@]}"; do
			case $w in
			'|' | '&&' | ';' | '>' | '<' | '$(' | ')' | '#'*) cmd= ;;
			esac
			if [[ $STATEKIT_CMDS == *" $w "* ]]; then
				cmd=$w
				[[ -n ${helps[$cmd]:-} ]] || helps[$cmd]=$("$BIN/$cmd" --help)
				continue
			fi
			[[ -n $cmd && $w == -* ]] || continue
			w=${w%%=*}
			if [[ $w == --* ]]; then
				grep -qE -- "(^|[ ,])$w( |,|\$)" <<<"${helps[$cmd]}" ||
					bad+=("$f: $cmd has no option $w: $line")
			else
				for ((i = 1; i < ${#w}; i++)); do
					grep -qE -- "(^| )-${w:i:1}," <<<"${helps[$cmd]}" ||
						bad+=("$f: $cmd has no option -${w:i:1}: $line")
				done
			fi
		done
	done <<<"$all"
	((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
}

@test "examples: every cron block sets a PATH that reaches /usr/local/bin before its first job" {
	local f all block line path bad=()
	all=$(while read -r f; do
		ex_all "$f" | sed "s|^|$f:|"
	done < <(ex_files))
	for block in $(awk -F '\t' '$2 ~ /^[0-9*@]/ && $2 ~ / root / { print $1 }' <<<"$all" | sort -u); do
		path=
		while IFS= read -r line; do
			[[ $line =~ ^PATH=(.*)$ ]] && path=${BASH_REMATCH[1]}
			if [[ $line =~ ^[0-9*@] ]]; then
				[[ :$path: == *:/usr/local/bin:* ]] ||
					bad+=("$block: '$line' runs with cron's PATH (/usr/bin:/bin)")
				break
			fi
		done < <(awk -F '\t' -v b="$block" '$1 == b { sub(/^[^\t]*\t/, ""); print }' <<<"$all")
	done
	[[ -n ${block:-} ]] || fail "no cron lines found in the pages"
	((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
}

# --- Quick start -------------------------------------------------------------

ex_demo() {
	cd "$REPO" || return 1
	unset STATEKIT_CONFIG
	ex_ns "$REPO/tests/helpers/ptyrun" -t 120 "$1"
}

@test "scripts/demo.sh: the Quick start line runs the demo in a directory of its own and leaves nothing in /var/lib/statekit (ex-quickstart)" {
	local lines dir
	mapfile -t lines < <(ex_lines README.md 1)
	[[ ${lines[0]} == 'bash scripts/demo.sh'* ]] || fail "Quick start block 1 line 1 is now: ${lines[0]}"
	# The demo is run from the clone, as the Quick start says, as root, where
	# /var/lib/statekit is the test's state directory.
	run --separate-stderr ex_demo "${lines[0]}"
	assert_success
	out=$(tr -d '\r' <<<"$output")
	[[ $out == *"identical: names, modes, sizes, links and every byte"* ]] || fail "demo said: $out"
	dir=$(sed -n 's/^== working in \([^:]*\): .*/\1/p' <<<"$out")
	[[ $dir == "${TMPDIR:-/tmp}"/statekit-demo.* ]] || fail "the demo named no directory of its own: $out"
	[[ $out == *"== removed $dir (scripts/demo.sh --keep keeps it)"* ]] || fail "demo said: $out"
	[[ ! -e $dir ]] || fail "$dir is still there"
	# /var/lib/statekit as the test made it: an empty workspaces/.
	assert_equal "$(cd "$ST" && find . | LC_ALL=C sort | tr '\n' ' ')" ". ./workspaces "
}

# --- ws-export | ssh host2 ws-import ---------------------------------------------

@test "ws-export | ssh host2 ws-import: every page's pipe makes host2's workspace the source, byte for byte (ex-ws-move)" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	for ex in README.md:2 man/man1/ws-export.1:1 man/man1/ws-export.1:2 \
		man/man1/ws-import.1:1 man/man7/statekit.7:1 man/man7/statekit.7:g10; do
		rm -rf "$ST2"
		mkdir -p "$ST2/workspaces/bot1"
		echo old >"$ST2/workspaces/bot1/old.txt"
		ex_run "${ex%:*}" "${ex##*:}"
		ex_ok
		assert_equal "$(tree_fingerprint "$ST2/workspaces/bot1")" "$fp"
		assert_no_staging "$ST2/workspaces"
		# The source is untouched.
		assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
	done
}

@test "ssh host1 ws-export | ws-import: a pull makes this host's workspace host1's (ex-ws-pull)" {
	WS_SAVE=$WS
	WS=$ST2/workspaces make_sample bot1
	fp=$(tree_fingerprint "$ST2/workspaces/bot1")
	mkdir -p "$WS/bot1"
	echo mine >"$WS/bot1/mine.txt"
	ex_run man/man1/ws-import.1 2
	ex_ok
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
}

@test "ws-export -o /srv/archive and ws-import --merge -i /srv/archive: the file holds the workspace, the merge keeps other files (ex-ws-file)" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	mkdir -p "$SRV/archive"
	ex_run man/man1/ws-export.1 3
	ex_ok
	a=$SRV/archive/bot1.tar.gz
	[[ -f $a ]] || fail "no $a"
	gzip -t "$a"
	mkdir -p "$BATS_TEST_TMPDIR/x"
	tar -xzf "$a" -C "$BATS_TEST_TMPDIR/x"
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/x")" "$fp"
	# The merge: the workspace lost a file and gained one; the archive's
	# files come back, the new one stays.
	rm "$WS/bot1/src/numbers.txt"
	echo kept >"$WS/bot1/new.txt"
	ex_run man/man1/ws-import.1 3
	ex_ok
	assert_equal "$(cat "$WS/bot1/new.txt")" kept
	rm "$WS/bot1/new.txt"
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
}

@test "ws-export | tar -tzvf - | less: the listing names every file of the workspace (ex-ws-less)" {
	make_sample bot1
	export LESS=F
	ex_run man/man1/ws-export.1 4
	ex_ok
	for f in hello.txt src/numbers.txt src/lib/main.c link-to-hello sparse.img empty/; do
		[[ $EX_OUT == *" $f"* ]] || fail "the listing lacks $f: $EX_OUT"
	done
	[[ $EX_OUT == *"link-to-hello -> hello.txt"* ]] || fail "the symlink is not listed as one: $EX_OUT"
}

@test "ws-import -q --json -i bot1.tar.zst: result.json holds the counts, the terminal shows nothing (ex-ws-json)" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	ws-export -q -z zstd -o "$EXD/cwd/bot1.tar.zst" bot1
	rm -rf "$WS/bot1"
	mkdir "$WS/bot1"
	ex_run man/man1/ws-import.1 4
	ex_ok
	assert_equal "$EX_OUT" ""
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
	n=$(find "$WS/bot1" -mindepth 1 | wc -l)
	jq -e --argjson n "$n" '.bot == "bot1" and .entries == $n and .codec == "zstd"' "$EXD/cwd/result.json" >/dev/null ||
		fail "result.json: $(cat "$EXD/cwd/result.json")"
}

# --- ws-preserve ---------------------------------------------------------------

# newest_gen BOT: the number of the newest backup generation.
newest_gen() {
	sqlite3 "$ST/index.db" "SELECT max(generation) FROM backups WHERE bot='$1'"
}

# gen_fp BOT GEN: the fingerprint of the tree in backup GEN.
gen_fp() {
	local d=$BATS_TEST_TMPDIR/gen-$2 f
	f=$(ls "$ST/backups/$1/"gen-*"$2".tar.*)
	rm -rf "$d"
	mkdir -p "$d"
	tar -xf "$f" -C "$d" || fail "cannot read $f"
	tree_fingerprint "$d"
}

@test "ws-preserve: the cron lines run by cron wait for a running export, keep a generation of the workspace, and mail nothing (ex-cron-preserve)" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	# An export holds the bot until $EXD/go exists.
	sk_conf "[workspace]" \
		"stop_command = [ -e $EXD/go ] || { touch $EXD/stopping; while [ ! -e $EXD/go ]; do sleep 0.05; done; }"
	ex_host2
	EX_RELEASE=$EXD/go
	n=0
	for ex in README.md:3 man/man1/ws-preserve.1:1 man/man7/statekit.7:2; do
		ex_cron_proves "${ex%:*}" "${ex##*:}"
		rm -f "$EXD/go" "$EXD/stopping"
		ws-export -q -o "$EXD/held.tar.gz" bot1 3>&- &
		holder=$!
		BG_PIDS=$holder
		for _ in $(seq 200); do
			[[ -e $EXD/stopping ]] && break
			sleep 0.05
		done
		[[ -e $EXD/stopping ]] || fail "ws-export did not stop the bot"
		(sleep 0.5; touch "$EXD/go") 3>&- &
		ex_cron "${ex%:*}" "${ex##*:}"
		# The export ended first: the job waited for it.
		wait "$holder"
		for i in "${!EX_RC[@]}"; do
			[[ ${EX_RC[i]} == - ]] && continue
			assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
			n=$((n + 1))
		done
		assert_equal "$(newest_gen bot1)" "$n"
		assert_equal "$(gen_fp bot1 "$n")" "$fp"
	done
	assert_equal "$(journal_rows)" 0
}

@test "ws-preserve: README's recovery lines list, restore the newest and generation 4, then find nothing waiting (ex-readme-recover)" {
	mkdir -p "$WS/bot1"
	for g in 1 2 3 4 5; do
		rm -rf "$WS/bot1"
		make_sample bot1
		echo "generation $g" >"$WS/bot1/gen.txt"
		fps[g]=$(tree_fingerprint "$WS/bot1")
		ws-preserve -q bot1
	done
	rm -rf "$WS/bot1"/*
	ex_run README.md 5
	assert_equal "$(ex_rcs)" "0 0 0 0 3"
	for g in 3 4 5; do
		grep -qE "^bot1 +$g " <<<"$EX_OUT" || fail "--list does not show generation $g: $EX_OUT"
		grep -qx "bot1 $g: ok (11 entries)" <<<"$EX_OUT" || fail "--verify does not pass generation $g: $EX_OUT"
	done
	[[ $EX_OUT != *"bot1 has data waiting"* ]] || fail "--check found data waiting after the restores"
	assert_equal "$(tree_fingerprint "$WS/bot1")" "${fps[4]}"
	assert_equal "$(journal_rows)" 0
}

# list_restored OUT BOT GEN: the RESTORED column of BOT's generation GEN, from
# every ws-preserve --list table in OUT, one line per table. The column is
# found by its heading: it need not be the last one.
list_restored() {
	awk -v bot="$2" -v gen="$3" '
		/^BOT +GEN / { col = index($0, "RESTORED"); next }
		col && $1 == bot && $2 == gen { v = substr($0, col); sub(/ .*/, "", v); print v }' <<<"$1"
}

# gen41 BOT: 40 small generations of BOT, then the sample workspace as
# generation 41, whose fingerprint is left in FP41.
gen41() {
	mkdir -p "$WS/$1"
	for g in $(seq 1 40); do
		echo "$g" >"$WS/$1/early.txt"
		ws-preserve -q -z none "$1"
	done
	rm "$WS/$1/early.txt"
	make_sample "$1"
	FP41=$(tree_fingerprint "$WS/$1")
	ws-preserve -q "$1"
}

@test "ws-preserve: the recovery at 3 a.m. lists, restores generation 41, and the list shows it restored (ex-preserve-gen)" {
	gen41 bot1
	fp=$FP41
	assert_equal "$(newest_gen bot1)" 41
	# The damage, and a generation of it.
	damage() {
		rm -rf "$WS/bot1/src"
		echo broken >"$WS/bot1/hello.txt"
	}
	damage
	ws-preserve -q bot1

	ex_run man/man1/ws-preserve.1 3
	ex_ok
	for g in 40 41 42; do
		grep -qE "^bot1 +$g " <<<"$EX_OUT" || fail "--list does not show generation $g: $EX_OUT"
	done
	ex_run man/man1/ws-preserve.1 4
	ex_ok
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
	ex_run man/man1/ws-preserve.1 5
	ex_ok
	restored=$(list_restored "$EX_OUT" bot1 41)
	[[ $restored == 20[0-9][0-9]-* ]] || fail "generation 41 is not shown restored: $EX_OUT"
	for f in hello.txt src empty sparse.img link-to-hello; do
		grep -qE " $f( |\$)" <<<"$EX_OUT" || fail "ls -l does not show $f: $EX_OUT"
	done

	damage
	ex_run man/man7/statekit.7 3
	ex_ok
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp"
	[[ $(list_restored "$EX_OUT" bot1 41 | grep -c '^20[0-9][0-9]-') == 2 ]] ||
		fail "the lists do not show generation 41 restored: $EX_OUT"
	assert_equal "$(journal_rows)" 0
}

@test "ws-preserve: the guide's restore lists the generations, puts back the newest, then generation 41 (ex-guide-restore)" {
	sk_conf "[workspace]" "keep = 100"
	gen41 bot1
	fp41=$FP41
	echo "a later change" >"$WS/bot1/later.txt"
	ws-preserve -q bot1
	assert_equal "$(newest_gen bot1)" 42
	rm -rf "$WS/bot1/src"
	echo broken >"$WS/bot1/hello.txt"

	ex_run man/man7/statekit.7 g7
	ex_ok
	for g in 1 41 42; do
		grep -qE "^bot1 +$g " <<<"$EX_OUT" || fail "--list does not show generation $g: $EX_OUT"
	done
	ex_run man/man7/statekit.7 g8
	ex_ok
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$fp41"
	# a look at the newest without touching the bot: /srv/restore is made
	fp42=$(gen_fp bot1 42)
	before=$(ws_state "$WS/bot1")
	ex_run man/man7/statekit.7 g9
	ex_ok
	assert_equal "$(tree_fingerprint "$SRV/restore/bot1")" "$fp42"
	assert_equal "$(ws_state "$WS/bot1")" "$before"
	# the newest was restored first, then 41
	run -0 --separate-stderr ws-preserve --list --json bot1
	r42=$(jq '.[] | select(.generation == 42) | .restored_epoch' <<<"$output")
	r41=$(jq '.[] | select(.generation == 41) | .restored_epoch' <<<"$output")
	[[ $r42 =~ ^[0-9]+$ && $r41 =~ ^[0-9]+$ ]] || fail "41 and 42 are not both restored: $output"
	((r41 >= r42)) || fail "41 was restored before 42: $output"
	assert_equal "$(journal_rows)" 0
	assert_no_staging
}

@test "ws-preserve: the guide's cron lines, run by cron, keep and check a generation of every bot and mail nothing; the weekly check as typed (ex-guide-all)" {
	for b in alpha bravo charlie; do make_sample "$b"; done
	ex_cron_proves man/man7/statekit.7 g5
	ex_cron man/man7/statekit.7 g5
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
	done
	for b in alpha bravo charlie; do
		assert_equal "$(newest_gen "$b")" 1
		assert_equal "$(gen_fp "$b" 1)" "$(tree_fingerprint "$WS/$b")"
	done
	[[ $(sqlite3 "$ST/index.db" "select count(*) from backups where verify_ok = 1") == 3 ]]
	# the weekly check, typed: one line per generation; a damaged one is exit 5
	ex_run man/man7/statekit.7 g6
	ex_ok
	for b in alpha bravo charlie; do grep -qx "$b 1: ok (10 entries)" <<<"$EX_OUT" || fail "$EX_OUT"; done
	echo junk >>"$ST/backups/bravo/gen-000001.tar.gz"
	ex_run man/man7/statekit.7 g6
	assert_equal "$(ex_rcs)" 5
	[[ $EX_OUT == *"--all: 1 of 3 bots failed: bravo (exit 5)"* ]] || fail "$EX_OUT"
	# and cron mails the failure
	ex_cron man/man7/statekit.7 g5
	[[ ${EX_RC[3]} == 5 && ${EX_MAIL[3]} == *"bravo (exit 5)"* ]] || fail "rc ${EX_RC[3]}: ${EX_MAIL[3]}"
	assert_equal "$(journal_rows)" 0
}

@test "ws-preserve: the keep policy's dry run shows every generation's fate and deletes nothing (ex-preserve-keep)" {
	sk_conf "[workspace]" "keep = 1000"
	mkdir -p "$WS/bot1"
	echo x >"$WS/bot1/x"
	start=$(date -d '2026-01-01 03:00' +%s)
	for d in $(seq 0 119); do ws-preserve -q --time "@$((start + d * 86400))" bot1; done
	before=$(sqlite3 "$ST/index.db" "select count(*) from backups")
	ex_run man/man1/ws-preserve.1 6
	ex_ok
	assert_equal "$(sqlite3 "$ST/index.db" "select count(*) from backups")" "$before"
	[[ $(grep -cE '^bot1 .* (keep|remove) ' <<<"$EX_OUT") == 120 ]] || fail "$EX_OUT"
	# 7 days, then the newest of 5 weeks and of 4 months (Jan to Apr), overlapping
	kept=$(grep -cE '^bot1 .*Z  keep ' <<<"$EX_OUT")
	((kept >= 12 && kept <= 16)) || fail "$kept kept: $EX_OUT"
	grep -qE '^bot1 +31  2026-01-31T.* keep +monthly$' <<<"$EX_OUT" || fail "31 January: $EX_OUT"
}

@test "ws-preserve: one damaged file taken back from generation 41 alone, the bot left alone (ex-preserve-file)" {
	sk_conf "[workspace]" "keep = 100"
	mkdir -p "$WS/bot1/notes"
	for g in $(seq 1 42); do
		echo "todo as of generation $g" >"$WS/bot1/notes/todo.txt"
		echo "plan $g" >"$WS/bot1/notes/plan.txt"
		ws-preserve -q bot1
	done
	echo garbage >"$WS/bot1/notes/todo.txt"
	before=$(ws_state "$WS/bot1")
	ex_run man/man1/ws-preserve.1 7
	ex_ok
	grep -qE '^f +0644 .*  notes/todo.txt$' <<<"$EX_OUT" || fail "$EX_OUT"
	grep -qE '^d +0755 .*  notes$' <<<"$EX_OUT" || fail "$EX_OUT"
	assert_equal "$(cat "$EXD/cwd/todo.txt")" "todo as of generation 41"
	assert_equal "$(ws_state "$WS/bot1")" "$before"
}

@test "ps: the process a busy command names is the one that holds the bot (ex-busy)" {
	make_sample bot1
	sk_conf "[workspace]" "stop_command = touch $EXD/stopping; while [ ! -e $EXD/go ]; do sleep 0.05; done"
	EX_RELEASE=$EXD/go
	ws-export -q -o "$EXD/held.tar.gz" bot1 3>&- &
	holder=$!
	BG_PIDS=$holder
	for _ in $(seq 200); do
		[[ -e $EXD/stopping ]] && break
		sleep 0.05
	done
	[[ -e $EXD/stopping ]] || fail "ws-export did not stop the bot"
	run --separate-stderr ws-preserve bot1
	assert_failure 4
	[[ $stderr == *"locked by pid $holder"* ]] || fail "the busy message names no pid: $stderr"
	EX_PID=$holder
	ex_run man/man7/statekit.7 4
	ex_ok
	# (ps cuts the line at the terminal's width)
	grep -qE "^ *$holder +[0-9:]+ +ws-export -q -o $EXD/" <<<"$EX_OUT" ||
		fail "ps did not show the holder: $EX_OUT"
	touch "$EXD/go"
	wait "$holder"
}

@test "ws-preserve: after a crash the same command again repairs first, then does its job (ex-repair)" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	sk_hooks
	run -137 env STATEKIT_FAULT=preserve-stopped ws-preserve bot1
	assert_equal "$(cat "$EVENTS")" "stop bot1"
	ex_run man/man7/statekit.7 5
	ex_ok
	[[ $EX_OUT == *"starting bot 'bot1' again after an interrupted preserve"* ]] ||
		fail "the repair did not say what it did: $EX_OUT"
	assert_equal "$(cat "$EVENTS")" $'stop bot1\nstart bot1\nstop bot1\nstart bot1'
	assert_equal "$(journal_rows)" 0
	assert_equal "$(gen_fp bot1 "$(newest_gen bot1)")" "$fp"
	assert_equal "$(ls -A "$ST/tmp")" ""
}

# --- containerd ------------------------------------------------------------------

# ctr against the suite's containerd in namespace NS: nctr NS ARGS...
nctr() {
	local ns=$1
	shift
	ctr --address "$CTRD_SOCK" -n "$ns" "$@"
}

ntask() {	# NS CONTAINER: "PID STATUS" of its task, or nothing
	nctr "$1" tasks ls 2>/dev/null | awk -v id="$2" '$1 == id { print $2, $3 }'
}

@test "ws-export: a containerd bot's /data goes to /srv/archive and 'ctr -n default tasks ls' shows it RUNNING again (ex-ws-ctrd)" {
	EX_CTRD=1
	[[ -n ${CTRD_SOCK:-} ]] || ctrd_require
	sk_conf "[workspace]" "backend = containerd" "[containerd]" "stop_timeout = 5"
	ex_host2
	nctr default run -d --null-io "$IMG_DATA" workspace-bot1 sh -c "$BOT_CMD" >/dev/null
	read -r pid0 st0 < <(ntask default workspace-bot1)
	assert_equal "$st0" RUNNING
	mkdir -p "$SRV/archive"
	ex_run man/man1/ws-export.1 5
	ex_ok
	read -r pid1 st1 < <(ntask default workspace-bot1)
	assert_equal "$st1" RUNNING
	[[ $pid1 != "$pid0" ]] || fail "the task was not stopped while the archive was written"
	grep -qE "^workspace-bot1 +$pid1 +RUNNING" <<<"$EX_OUT" || fail "ctr did not show it RUNNING: $EX_OUT"
	mkdir -p "$BATS_TEST_TMPDIR/x"
	tar -xzf "$SRV/archive/bot1.tar.gz" -C "$BATS_TEST_TMPDIR/x"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/x/from-image.txt")" "baked into the image"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/x/sub/deep.txt")" "a deeper image file"
	assert_equal "$(host_mounts)" ""
}

# At the comment line of the example: delete the container and make a new
# one of the same name, from an image without /data.
recreate_bot1() {
	c_ctr tasks kill -s SIGKILL workspace-bot1 >/dev/null
	for _ in $(seq 50); do
		[[ $(bot_state bot1) == RUNNING ]] || break
		sleep 0.1
	done
	c_ctr tasks delete workspace-bot1 >/dev/null
	c_ctr containers delete workspace-bot1
	bot_run bot1 "$IMG"
	assert_equal "$(bot_fp bot1)" "no /data"
}

@test "ws-preserve: a bot's data kept before its container is deleted is in the new container after --check && --restore (ex-preserve-ctrd)" {
	EX_CTRD=1
	[[ -n ${CTRD_SOCK:-} ]] || ctrd_require
	ctrd_setup
	ex_host2
	bot_run bot1 "$IMG_DATA"
	bot_exec bot1 'echo written by the bot >/data/mine.txt; mkdir -p /data/d; echo x >/data/d/y'
	fp=$(bot_fp bot1)
	EX_HOOK=recreate_bot1
	ex_run man/man1/ws-preserve.1 2
	ex_ok
	assert_running bot1
	assert_equal "$(bot_fp bot1)" "$fp"
	# Nothing waits any more.
	run ws-preserve --check bot1
	assert_failure 3
	assert_clean
}

@test "statekit.ini: the containerd example configures bots agent-BOT in namespace agents, zstd, seven generations (ex-ini-ctrd)" {
	EX_CTRD=1
	[[ -n ${CTRD_SOCK:-} ]] || ctrd_require
	ex_lines man/man5/statekit.ini.5 1 >"$EXD/statekit.ini"
	nctr agents containers create "$IMG_DATA" agent-bot1 -- sh -c "$BOT_CMD" >/dev/null
	for i in $(seq 1 8); do
		STATEKIT_CONFIG=$EXD/statekit.ini ex_ns ws-preserve -q bot1 ||
			fail "ws-preserve with the example's configuration failed"
	done
	# The state is the built-in /var/lib/statekit: the test's, in the namespace.
	run ls "$ST/backups/bot1"
	assert_output "$(printf 'gen-%06d.tar.zst\n' 2 3 4 5 6 7 8)"
	zstd -t -q "$ST/backups/bot1/gen-000008.tar.zst"
	mkdir -p "$BATS_TEST_TMPDIR/x"
	tar -xf "$ST/backups/bot1/gen-000008.tar.zst" -C "$BATS_TEST_TMPDIR/x"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/x/from-image.txt")" "baked into the image"
	assert_equal "$(host_mounts)" ""
}

@test "statekit.ini: the host-directory example keeps state in /srv/statekit and stops the bot with systemctl stop bot@BOT (ex-ini-dir)" {
	ex_lines man/man5/statekit.ini.5 2 >"$EXD/statekit.ini"
	# No systemd here: a systemctl that records what it is asked.
	mkdir -p "$EXD/stub"
	printf '#!/bin/sh\necho "$*" >>%q\n' "$EXD/systemctl.log" >"$EXD/stub/systemctl"
	chmod +x "$EXD/stub/systemctl"
	WS=$SRV/bots make_sample bot1/data
	fp=$(tree_fingerprint "$SRV/bots/bot1/data")
	STATEKIT_CONFIG=$EXD/statekit.ini PATH=$EXD/stub:$PATH \
		ex_ns ws-export -q -o /srv/bot1.tar.gz bot1 || fail "ws-export with the example's configuration failed"
	assert_equal "$(cat "$EXD/systemctl.log")" $'stop bot@bot1\nstart bot@bot1'
	mkdir -p "$BATS_TEST_TMPDIR/x"
	tar -xzf "$SRV/bot1.tar.gz" -C "$BATS_TEST_TMPDIR/x"
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/x")" "$fp"
	[[ -f $SRV/statekit/index.db ]] || fail "the state is not in /srv/statekit"
	# "Here legacy_dir is /srv/statekit/bots": a bot there is known.
	mkdir -p "$SRV/statekit/bots/bot9"
	echo legacy >"$SRV/statekit/bots/bot9/f"
	STATEKIT_CONFIG=$EXD/statekit.ini run ex_ns ws-preserve --list-ids
	assert_success
	assert_line bot9
}

# --- fcsnap --------------------------------------------------------------------

@test "fcsnap-create, -export | ssh host2 fcsnap-import, ssh host2 fcsnap-restore, -verify: README's nightly snapshot booted on host2 (ex-readme-fcsnap)" {
	ex_fc
	ex_vm vm1
	EX_DATE=$(date +%F)
	ex_run README.md 6
	ex_ok
	id=vm1-$EX_DATE
	assert_equal "$(snap_ids)" "$id"
	assert_equal "$(snap_ids "$ST2")" "$id"
	assert_same_snapshot "$id" "$ST" "$ST2"
	assert_machine_runs vm7 "$ST2"
	assert_equal "$(sqlite3 "$ST2/index.db" "SELECT taps FROM machines WHERE id='vm7'")" eth0=tap7
	# vm1 on this host runs on, on its own TAP.
	assert_equal "$(fc_state "$(fc_sock vm1)")" Running
	[[ $EX_OUT == *"$id"*ok* || $EX_OUT == *ok*"$id"* ]] || fail "fcsnap-verify --all did not report $id: $EX_OUT"
}

# ex_rgw_snapshots DIR: a private RGW in DIR (stopped by teardown), its
# endpoint and keys exported, a bucket "snapshots", and the simulator in
# the config.
ex_rgw_snapshots() {
	eval "$("$REPO/tests/helpers/rgw" start "$1")"
	EX_RGW=$1
	export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL=$S3_ENDPOINT
	[[ $(curl -sS -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
		-X PUT "$S3_ENDPOINT/snapshots") == 200 ]] || fail "cannot create the bucket"
	sk_conf "[firecracker]" "binary = $FC_BIN" "socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" "chroot ="
}

@test "fcsnap-push, -pull, -list, -verify, -delete: the store examples as written, against a private RGW (ex-s3)" {
	local d=$BATS_TEST_TMPDIR/rgw
	ex_rgw_snapshots "$d"
	ex_vm vm1
	EX_DATE=$(date +%F)
	fcsnap-create vm1 "vm1-$EX_DATE"
	ex_run README.md 7
	ex_ok
	assert_same_snapshot "vm1-$EX_DATE" "$ST" "$ST2"
	fcsnap-create vm1 s1
	ex_run man/man1/fcsnap-push.1 1
	ex_ok
	ex_run man/man1/fcsnap-pull.1 2
	ex_ok
	for f in "$ST/snapshots/s1"/*; do
		[[ ${f##*/} == manifest.json ]] || cmp "$f" "$ST/snapshots/s1-old/${f##*/}"
	done
	ex_run man/man1/fcsnap-list.1 6
	ex_ok
	[[ $EX_OUT == *"s1 "*" vm1 "* && $EX_OUT == *"vm1-$EX_DATE "* ]] || fail "fcsnap-list --remote: $EX_OUT"
	ex_run man/man1/fcsnap-verify.1 4
	ex_ok
	[[ $EX_OUT == *"s1: ok"* ]] || fail "fcsnap-verify --remote: $EX_OUT"
	ex_run man/man1/fcsnap-delete.1 4
	ex_ok
	# the weekly prune from cron: no terminal, cron's PATH, no AWS_* in its
	# environment; the store and the keys come from the config, as on a host
	fcsnap-push s1 s3://snapshots/fleet
	fcsnap-delete --remote s3://snapshots/fleet s1
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$BATS_TEST_TMPDIR/creds"
	chmod 600 "$BATS_TEST_TMPDIR/creds"
	sk_conf "[remote]" "endpoint = $S3_ENDPOINT" "credentials_file = $BATS_TEST_TMPDIR/creds"
	ex_cron_proves man/man1/fcsnap-delete.1 5
	ex_cron man/man1/fcsnap-delete.1 5
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
	done
	run -0 --separate-stderr fcsnap-delete --remote s3://snapshots/fleet --prune --json
	assert_equal "$(jq .chunks_deleted <<<"$output")" 0
	# s1 went, and with it the chunks only s1 had; the README's snapshot stays whole
	assert_equal "$(fcsnap-list --remote s3://snapshots/fleet --ids)" "vm1-$EX_DATE"
	fcsnap-verify -q --remote s3://snapshots/fleet --all --read-data
}

@test "fcsnap-create, -push, ssh host2 fcsnap-pull, fcsnap-restore: the guide moves vm1 to host2 through a private RGW (ex-guide-fcmove)" {
	local d=$BATS_TEST_TMPDIR/rgw pid
	ex_rgw_snapshots "$d"
	ex_host2
	ex_vm vm1
	pid=$(fc_pid vm1)
	# "# stop vm1 on this host now": its TAP is then free for host2's vm1
	stop_vm1() { fc_stop vm1; }
	EX_HOOK=stop_vm1
	ex_run man/man7/statekit.7 g11
	ex_ok
	! fc_alive "$pid" || fail "vm1 still runs on this host"
	assert_equal "$(fcsnap-list --remote s3://snapshots/fleet --ids)" vm1-move
	assert_same_snapshot vm1-move "$ST" "$ST2"
	assert_machine_runs vm1 "$ST2"
	assert_equal "$(sqlite3 "$ST2/index.db" "SELECT snapshot FROM machines WHERE id='vm1'")" vm1-move
	assert_equal "$(snap_ids "$ST2")" vm1-move
}

@test "fcsnap-create: -v reports the pause; --json | jq .pause_ms prints it (ex-fccreate)" {
	ex_fc
	ex_vm vm1
	ex_run man/man1/fcsnap-create.1 1
	ex_ok
	[[ $EX_OUT == *paus* ]] || fail "-v did not report the pause: $EX_OUT"
	fcsnap-verify -q vm1-pre-upgrade
	ex_run man/man1/fcsnap-create.1 4
	ex_ok
	id=vm1-$(date +%F)
	ms=$(fcsnap-list --json | jq --arg id "$id" '.[] | select(.snapshot == $id) | .pause_ms')
	[[ $ms =~ ^[0-9.]+$ ]] || fail "no pause_ms of $id: $(fcsnap-list --json)"
	# jq colours its output on a terminal; create and list both round to
	# 3 decimals (statekit(7), JSON output), so they print the same number.
	got=$(tail -n 1 <<<"$EX_OUT" | sed 's/\x1b\[[0-9;]*m//g')
	[[ $got =~ ^[0-9]+(\.[0-9]{1,3})?$ ]] || fail "jq .pause_ms printed: $EX_OUT"
	assert_equal "$got" "$ms"
	fcsnap-verify -q "$id"
	assert_equal "$(fc_state "$(fc_sock vm1)")" Running
}

@test "fcsnap-create: --socket reaches a machine started by hand whose socket the config does not know (ex-fccreate-socket)" {
	ex_fc
	ex_vm vm3
	# The config's template no longer finds it.
	sk_conf "[firecracker]" "socket = $EXD/nowhere/%s.sock"
	ex_host2
	EX_NS_EXTRA=": >/run/fc/vm3.socket; mount --bind $(fc_sock vm3) /run/fc/vm3.socket"
	run fcsnap-create vm3 vm3-nosock
	assert_failure
	ex_run man/man1/fcsnap-create.1 3
	ex_ok
	fcsnap-verify -q vm3-debug
	assert_equal "$(snap_ids)" vm3-debug
	assert_equal "$(fc_state "$(fc_sock vm3)")" Running
}

@test "fcsnap-create: the cron line, run by cron, makes tonight's snapshot (ex-cron-fccreate)" {
	ex_fc
	ex_vm vm1
	ex_cron_proves man/man1/fcsnap-create.1 2
	ex_cron man/man1/fcsnap-create.1 2
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
	done
	assert_equal "$(snap_ids)" "vm1-$(date +%F)"
	fcsnap-verify -q "vm1-$(date +%F)"
}

# snaps_of_vm1 N: N snapshots of vm1, a-01 ... in order of creation.
snaps_of_vm1() {
	local i
	for ((i = 1; i <= $1; i++)); do
		fcsnap-create -q vm1 "vm1-n$(printf %02d "$i")" || fail "fcsnap-create $i"
	done
}

@test "fcsnap-delete: the example deletes one snapshot; the cron line keeps the newest seven (ex-fcdelete)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 vm1-pre-upgrade
	ex_run man/man1/fcsnap-delete.1 1
	ex_ok
	assert_equal "$(snap_ids)" ""
	[[ ! -e $ST/snapshots/vm1-pre-upgrade ]] || fail "its directory remains"
}

@test "fcsnap-delete: the cron line, run by cron, keeps the newest seven snapshots of vm1 (ex-cron-fcdelete)" {
	ex_fc
	ex_vm vm1
	ex_vm vm2
	snaps_of_vm1 9
	fcsnap-create -q vm2 vm2-a
	ex_cron_proves man/man1/fcsnap-delete.1 2
	assert_equal "$(snap_ids | wc -l)" 10
	ex_cron man/man1/fcsnap-delete.1 2
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
	done
	assert_equal "$(snap_ids | tr '\n' ' ')" "vm1-n03 vm1-n04 vm1-n05 vm1-n06 vm1-n07 vm1-n08 vm1-n09 vm2-a "
	assert_equal "$(ls "$ST/snapshots" | tr '\n' ' ')" "vm1-n03 vm1-n04 vm1-n05 vm1-n06 vm1-n07 vm1-n08 vm1-n09 vm2-a "
}

@test "fcsnap-delete: a snapshot a restored machine runs from is refused with the page's message, and deleted once it stops (ex-fcdelete-inuse)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 vm1-2026-11-01
	nsenter "--net=$EX_NET1" fcsnap-restore -q --tap eth0=tap9 vm1-2026-11-01 vm7
	pid=$(machine_pid vm7)
	ex_run man/man1/fcsnap-delete.1 3
	assert_equal "$(ex_rcs)" "4 -"
	want=$(sed -E "s/\\(pid [0-9]+\\)/(pid $pid)/" <<<"${EX_EXPECT[0]}")
	assert_equal "$EX_OUT" "$want"
	fcsnap-verify -q vm1-2026-11-01
	# "or stop vm7 and run the same command again"
	kill -9 "$pid"
	fc_wait_exit "$pid" 5
	ex_run man/man1/fcsnap-delete.1 3
	assert_equal "$(ex_rcs)" "0 -"
	assert_equal "$(snap_ids)" ""
}

@test "fcsnap-export | ssh host2 fcsnap-import and ssh host2 fcsnap-restore: host2 has the same snapshot and boots it (ex-fcxfer)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 s1
	# fcsnap-restore finds a TAP in use by any process of the machine, not
	# of its network namespace: vm1 must not hold s1's TAP where "host2"
	# restores it.
	fc_stop vm1
	for ex in man/man1/fcsnap-export.1:1 man/man1/fcsnap-import.1:1 man/man1/fcsnap-export.1:4; do
		for p in $(sqlite3 "$ST2/index.db" 'SELECT pid FROM machines' 2>/dev/null); do
			kill -9 "$p"
		done
		rm -rf "$ST2"
		ex_run "${ex%:*}" "${ex##*:}"
		ex_ok
		assert_equal "$(snap_ids "$ST2")" s1
		assert_same_snapshot s1 "$ST" "$ST2"
		if grep -q fcsnap-restore <<<"$(ex_lines "${ex%:*}" "${ex##*:}")"; then
			assert_machine_runs vm7 "$ST2"
		fi
	done
}

@test "fcsnap-export -q | ssh host2 fcsnap-import --progress: the terminal shows the import's progress only (ex-fcxfer-progress)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 s1
	for ex in man/man1/fcsnap-export.1:2 man/man1/fcsnap-import.1:3; do
		rm -rf "$ST2"
		ex_run "${ex%:*}" "${ex##*:}"
		ex_ok
		assert_same_snapshot s1 "$ST" "$ST2"
		[[ $EX_OUT == *fcsnap-import* ]] || fail "no progress of the import: $EX_OUT"
		[[ $EX_OUT != *fcsnap-export* ]] || fail "the exporter wrote to the terminal: $EX_OUT"
	done
}

@test "ssh host1 fcsnap-export | fcsnap-import: a pull brings host1's snapshot here (ex-fcxfer-pull)" {
	ex_fc
	ex_vm vm1
	STATEKIT_CONFIG=$CONF2 fcsnap-create -q vm1 s1
	ex_run man/man1/fcsnap-import.1 2
	ex_ok
	assert_equal "$(snap_ids)" s1
	assert_same_snapshot s1 "$ST2" "$ST"
	fcsnap-verify -q s1
}

@test "fcsnap-export -z none > s1.sksnap under umask 077, and fcsnap-import --as s1-old < s1.sksnap beside s1 (ex-fcxfer-file)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 s1
	ex_run man/man1/fcsnap-export.1 3
	ex_ok
	f=$EXD/cwd/s1.sksnap
	assert_equal "$(stat -c %a "$f")" 600
	assert_equal "$(head -c 8 "$f")" "SKSNAP1"
	# A later s1 is here now; the saved one comes back beside it.
	fcsnap-delete -q s1
	fcsnap-create -q vm1 s1
	ex_run man/man1/fcsnap-import.1 4
	ex_ok
	assert_equal "$(snap_ids | tr '\n' ' ')" "s1 s1-old "
	fcsnap-verify -q s1-old
	fcsnap-verify -q s1
}

@test "fcsnap-list: all snapshots, those of vm1, the newest id, the slow pauses, and all but the newest seven deleted (ex-fclist)" {
	ex_fc
	ex_vm vm1
	snaps_of_vm1 8
	FCSIM_DELAY_MS=pause=600 ex_vm vm2
	fcsnap-create -q vm2 vm2-slow
	fcsnap-create -q vm1 vm1-n09
	ex_run man/man1/fcsnap-list.1 1
	ex_ok
	for s in vm1-n01 vm1-n09 vm2-slow; do
		grep -qE "(^| )$s " <<<"$EX_OUT" || fail "fcsnap-list does not list $s: $EX_OUT"
	done
	ex_run man/man1/fcsnap-list.1 2
	ex_ok
	grep -q vm1-n05 <<<"$EX_OUT" || fail "fcsnap-list vm1: $EX_OUT"
	[[ $EX_OUT != *vm2-slow* ]] || fail "fcsnap-list vm1 lists vm2's: $EX_OUT"
	ex_run man/man1/fcsnap-list.1 3
	ex_ok
	assert_equal "$EX_OUT" vm1-n09
	ex_run man/man1/fcsnap-list.1 4
	ex_ok
	slow=$(sqlite3 "$ST/index.db" 'SELECT id FROM snapshots WHERE pause_us > 500000 ORDER BY created, id')
	[[ -n $FC_REAL || $slow == vm2-slow ]] || fail "the simulator's slow pause was not slow: $slow"
	assert_equal "$EX_OUT" "$slow"
	ex_run man/man1/fcsnap-list.1 5
	ex_ok
	assert_equal "$(snap_ids | tr '\n' ' ')" "vm1-n03 vm1-n04 vm1-n05 vm1-n06 vm1-n07 vm1-n08 vm1-n09 vm2-slow "
}

@test "fcsnap-restore: on vm1's TAP exit 4 naming it; on tap7 in br0 it boots (ex-fcrestore)" {
	ex_fc
	ex_vm vm1 --tap eth0=tap1
	fcsnap-create -q vm1 vm1-2026-11-22
	nsenter "--net=$EX_NET1" ip link add br0 type bridge
	ex_run man/man1/fcsnap-restore.1 1
	assert_equal "$(ex_rcs)" 4
	[[ $EX_OUT == *"tap 'tap1' (interface eth0) is in use"* ]] || fail "the restore did not name tap1: $EX_OUT"
	ex_run man/man1/fcsnap-restore.1 2
	ex_ok
	assert_machine_runs vm7
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT taps FROM machines WHERE id='vm7'")" eth0=tap7
	nsenter "--net=$EX_NET1" ip -o link show tap7 | grep -q "master br0" || fail "tap7 is not in br0"
	assert_equal "$(fc_state "$(fc_sock vm1)")" Running
}

@test "fcsnap-restore: recovery: vm1 stopped, its snapshot found by fcsnap-list and booted as vm1b (ex-fcrestore-recover)" {
	ex_fc
	ex_vm vm1 --tap eth0=tap1
	fcsnap-create -q vm1 vm1-2026-11-22
	fc_stop vm1
	ex_run man/man1/fcsnap-restore.1 3
	ex_ok
	grep -q vm1-2026-11-22 <<<"$EX_OUT" || fail "fcsnap-list vm1 did not show the snapshot: $EX_OUT"
	assert_machine_runs vm1b
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT taps FROM machines WHERE id='vm1b'")" eth0=tap1
}

@test "fcsnap-restore: the id of a stopped restored machine is reused once its directory is removed (ex-fcrestore-reuse)" {
	ex_fc
	ex_vm vm1 --tap eth0=tap1
	fcsnap-create -q vm1 vm1-2026-11-22
	nsenter "--net=$EX_NET1" fcsnap-restore -q --tap eth0=tap7 vm1-2026-11-22 vm7
	pid=$(machine_pid vm7)
	kill -9 "$pid"
	fc_wait_exit "$pid" 5
	fc_stop vm1
	ex_run man/man1/fcsnap-restore.1 4
	ex_ok
	assert_machine_runs vm7
	[[ $(machine_pid vm7) != "$pid" ]] || fail "vm7 is the old process"
}

@test "fcsnap-verify: one snapshot, and --all --json | jq listing the damaged only (ex-fcverify)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 vm1-2026-11-22
	fcsnap-create -q vm1 vm1-2026-11-23
	ex_run man/man1/fcsnap-verify.1 1
	ex_ok
	printf 'X' | dd of="$ST/snapshots/vm1-2026-11-23/memory" bs=1 seek=8191 conv=notrunc status=none
	ex_run man/man1/fcsnap-verify.1 3
	ex_ok
	# The terminal shows fcsnap-verify's messages too; the pipe's output is
	# the damaged snapshot alone.
	assert_equal "$(grep -v '^fcsnap-verify: ' <<<"$EX_OUT")" vm1-2026-11-23
	grep -q "^fcsnap-verify: snapshot 'vm1-2026-11-23': artifact 'memory' is damaged" <<<"$EX_OUT" ||
		fail "no message about the damage: $EX_OUT"
}

@test "fcsnap-verify: the cron line, run by cron, mails nothing while every snapshot is whole, and the damage when one is not (ex-cron-fcverify)" {
	ex_fc
	ex_vm vm1
	fcsnap-create -q vm1 s1
	fcsnap-create -q vm1 s2
	ex_cron_proves man/man1/fcsnap-verify.1 2
	ex_cron man/man1/fcsnap-verify.1 2
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}:${EX_MAIL[i]}" 0:
	done
	printf 'X' | dd of="$ST/snapshots/s2/vmstate" bs=1 seek=10 conv=notrunc status=none
	ex_cron man/man1/fcsnap-verify.1 2
	for i in "${!EX_RC[@]}"; do
		[[ ${EX_RC[i]} == - ]] && continue
		assert_equal "${EX_RC[i]}" 5
		[[ ${EX_MAIL[i]} == *s2* && ${EX_MAIL[i]} == *vmstate* ]] || fail "the mail does not name the damage: ${EX_MAIL[i]}"
		[[ ${EX_MAIL[i]} != *s1* ]] || fail "the mail names the whole s1: ${EX_MAIL[i]}"
	done
}
