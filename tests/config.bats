#!/usr/bin/env bats
# The configuration, seen through the commands: where it is read from, the
# defaults, %s and state.dir-relative defaults, comments, and exit 2 naming
# file, line and key for anything unknown or bad.

load helpers/common

setup() {
	sk_setup
	EVENTS=$BATS_TEST_TMPDIR/events
	make_sample bot1
}

# Write FILE from the remaining arguments, one line each.
ini() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

magic() {
	od -An -tx1 -N4 "$1" | tr -d ' '
}

@test "ws-export: with no config file and no STATEKIT_CONFIG the built-in defaults apply" {
	# In a private mount namespace with a fresh /var/lib, so that the
	# default state dir /var/lib/statekit of the host is never touched.
	[[ $BATS_TEST_TMPDIR != /var/lib/* && $BIN != /var/lib/* ]] ||
		fail "the test and the binaries must live outside /var/lib"
	marker=zz-marker-$$-$RANDOM
	run -0 --separate-stderr env -u STATEKIT_CONFIG unshare -m bash -euc '
		mount -t tmpfs tmpfs /var/lib
		if [[ -d /etc/statekit ]]; then mount -t tmpfs tmpfs /etc/statekit; fi
		mkdir -p /var/lib/statekit/workspaces/bot1 /var/lib/statekit/bots/legacy1
		echo hi >/var/lib/statekit/workspaces/bot1/f
		touch "/var/lib/statekit/$2"
		ws-export bot1 >"$1/out"
		for g in 1 2 3 4; do ws-preserve bot1; done
		echo backups: $(ls /var/lib/statekit/backups/bot1)
		ws-preserve --check legacy1 && echo legacy: yes
		echo ids: $(ws-preserve --list-ids)
		echo state: $(ls /var/lib/statekit)
		echo locks: $(ls /var/lib/statekit/locks)
	' _ "$BATS_TEST_TMPDIR" "$marker"
	[[ -z $stderr ]]
	# gzip; keep = 3; legacy_dir = <state>/bots; path = <state>/workspaces/%s
	assert_line "backups: gen-000002.tar.gz gen-000003.tar.gz gen-000004.tar.gz"
	assert_line "legacy: yes"
	assert_line "ids: bot1 legacy1"
	assert_line "state: backups bots index.db locks tmp workspaces $marker"
	# a lock file goes with its lock (--check and --list-ids take none:
	# tests/lock.bats)
	assert_line "locks:"
	[[ $(magic "$BATS_TEST_TMPDIR/out") == 1f8b* ]]
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/out" f) == hi ]]
	# none of it reached the host
	[[ ! -e /var/lib/statekit/$marker ]]
}

@test "ws-export: a named config file that does not exist is exit 2" {
	run -2 --separate-stderr ws-export -c "$BATS_TEST_TMPDIR/nope.ini" bot1
	assert_output ""
	[[ $stderr == "ws-export: cannot read config '$BATS_TEST_TMPDIR/nope.ini': No such file or directory" ]]
	STATEKIT_CONFIG=$BATS_TEST_TMPDIR/nope2.ini run -2 --separate-stderr ws-export bot1
	[[ $stderr == *"cannot read config '$BATS_TEST_TMPDIR/nope2.ini'"* ]]
	[[ ! -e $ST/index.db ]]
}

@test "ws-export: -c FILE beats STATEKIT_CONFIG" {
	other=$BATS_TEST_TMPDIR/other
	mkdir -p "$other/workspaces/bot1"
	echo other >"$other/workspaces/bot1/which"
	echo first >"$WS/bot1/which"
	ini "$BATS_TEST_TMPDIR/other.ini" "[state]" "dir = $other"
	# STATEKIT_CONFIG (set by sk_setup) names $ST
	ws-export bot1 >"$BATS_TEST_TMPDIR/a.tgz"
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/a.tgz" which) == first ]]
	ws-export -c "$BATS_TEST_TMPDIR/other.ini" bot1 >"$BATS_TEST_TMPDIR/b.tgz"
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/b.tgz" which) == other ]]
	ws-export --config "$BATS_TEST_TMPDIR/other.ini" bot1 >"$BATS_TEST_TMPDIR/c.tgz"
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/c.tgz" which) == other ]]
	[[ -d $other/locks && -e $other/index.db ]]
	# -c also wins when STATEKIT_CONFIG names a file that does not exist
	STATEKIT_CONFIG=/nonexistent/statekit.ini run -0 ws-export -c "$BATS_TEST_TMPDIR/other.ini" \
		-o "$BATS_TEST_TMPDIR/d.tgz" bot1
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/d.tgz" which) == other ]]
}

@test "ws-export: [state] dir moves the workspaces/ and bots/ defaults with it" {
	new=$BATS_TEST_TMPDIR/elsewhere
	mkdir -p "$new/workspaces/bot7" "$new/bots/old7"
	echo here >"$new/workspaces/bot7/f"
	ini "$CONF" "[state]" "dir = $new"
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot7
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" f) == here ]]
	run -0 ws-preserve --check old7
	run -0 ws-preserve bot7
	[[ -f $new/backups/bot7/gen-000001.tar.gz && -f $new/index.db && -d $new/locks ]]
	run -0 ws-preserve --list-ids
	assert_output $'bot7\nold7'
	# the sample under the old state dir is not a workspace any more
	run -3 ws-export bot1
}

@test "ws-export: [workspace] path replaces %s with the bot id; legacy_dir can be set apart" {
	mkdir -p "$BATS_TEST_TMPDIR/vols/bot1/data" "$BATS_TEST_TMPDIR/legacy/bot3"
	echo vol >"$BATS_TEST_TMPDIR/vols/bot1/data/f"
	sk_conf "[workspace]" "path = $BATS_TEST_TMPDIR/vols/%s/data" \
		"legacy_dir = $BATS_TEST_TMPDIR/legacy"
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	run -0 tar -tzf "$BATS_TEST_TMPDIR/o.tgz"
	assert_output f
	run -0 ws-preserve --check bot3
	run -3 ws-export bot2
	[[ $stderr$output == *"'$BATS_TEST_TMPDIR/vols/bot2/data'"* ]]
	# import creates the workspace where the template says
	run -0 ws-import -i "$BATS_TEST_TMPDIR/o.tgz" bot2
	[[ $(cat "$BATS_TEST_TMPDIR/vols/bot2/data/f") == vol ]]
	[[ ! -e $WS/bot2 ]]
}

@test "ws-export: comments, blank lines and inline ' ; comments' are allowed" {
	ini "$CONF" \
		"; statekit test config" \
		"# a hash comment too" \
		"" \
		"[state]   ; the state" \
		"dir = $ST ; inline comment" \
		"" \
		"[workspace]" \
		"keep = 2 ; only two" \
		"stop_command = echo stop \$1 >> $EVENTS;echo semicolon-kept \$1 >> $EVENTS ; not this" \
		"start_command = echo start \$1 >> $EVENTS" \
		"[archive]" \
		"compression = zstd  ; fast"
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	[[ $(magic "$BATS_TEST_TMPDIR/o") == 28b52ffd ]]
	# a ';' without white space before it belongs to the value
	run -0 cat "$EVENTS"
	assert_output $'stop bot1\nsemicolon-kept bot1\nstart bot1'
	for g in 1 2 3; do ws-preserve bot1; done
	run -0 ls "$ST/backups/bot1"
	assert_output $'gen-000002.tar.zst\ngen-000003.tar.zst'
}

@test "ws-export: indented keys are keys, not a continuation of the line before" {
	# statekit.ini(5): white space around keys and values is ignored
	mkdir -p "$BATS_TEST_TMPDIR/vols/bot1"
	echo vol >"$BATS_TEST_TMPDIR/vols/bot1/f"
	ini "$CONF" \
		"[state]" \
		"    dir = $ST" \
		"[workspace]" \
		"    legacy_dir = $BATS_TEST_TMPDIR/legacy" \
		"    path = $BATS_TEST_TMPDIR/vols/%s" \
		"    keep = 1"
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	# not the sample under the default path: the indented path was read
	run -0 tar -tzf "$BATS_TEST_TMPDIR/o.tgz"
	assert_output f
	mkdir -p "$BATS_TEST_TMPDIR/legacy/bot9"
	run -0 ws-preserve --check bot9
	ws-preserve bot1
	ws-preserve bot1
	run -0 ls "$ST/backups/bot1"
	assert_output gen-000002.tar.gz
}

@test "ws-export: a long value (a 300-character stop_command) is read whole" {
	long=$BATS_TEST_TMPDIR/$(printf 'd%.0s' $(seq 250))
	mkdir -p "$long"
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $long/events" \
		"start_command = echo start \$1 >> $long/events"
	(($(grep -c '^stop_command' "$CONF") == 1 && $(grep '^stop_command' "$CONF" | wc -c) > 300))
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	run -0 cat "$long/events"
	assert_output $'stop bot1\nstart bot1'
}

@test "ws-export: an unknown key is exit 2 naming file, line and key" {
	ini "$CONF" "[state]" "dir = $ST" "" "[archive]" "compression = gzip" "x = 1"
	run -2 --separate-stderr ws-export bot1
	assert_output ""
	[[ $stderr == "ws-export: $CONF:6: unknown key 'x' in [archive]" ]]
	# a key of another section is unknown where it stands
	ini "$CONF" "[state]" "dir = $ST" "keep = 2"
	run -2 --separate-stderr ws-export bot1
	[[ $stderr == "ws-export: $CONF:3: unknown key 'keep' in [state]" ]]
	# a key before any section
	ini "$CONF" "dir = $ST"
	run -2 --separate-stderr ws-export bot1
	[[ $stderr == "ws-export: $CONF:1: "* ]]
	# nothing was touched
	[[ ! -e $ST/index.db && ! -e $ST/locks ]]
	# and every command checks the file the same way
	ini "$CONF" "[state]" "dir = $ST" "bogus = 1"
	run -2 --separate-stderr ws-import -i /dev/null bot1
	[[ $stderr == "ws-import: "*"$CONF:3: unknown key 'bogus' in [state]" ]]
	run -2 --separate-stderr ws-preserve --list
	[[ $stderr == "ws-preserve: "*"$CONF:3: unknown key 'bogus' in [state]" ]]
}

@test "ws-export: an unknown section is exit 2 naming file, line and section" {
	ini "$CONF" "[state]" "dir = $ST" "[worksapce]" "keep = 2"
	run -2 --separate-stderr ws-export bot1
	assert_output ""
	[[ $stderr == "ws-export: $CONF:3: unknown section '[worksapce]'" ]]
	[[ ! -e $ST/index.db ]]
}

@test "ws-export: an unknown section with no keys is exit 2 too" {
	# statekit.ini(5): an unknown section stops the command with exit 2
	ini "$CONF" "[state]" "dir = $ST" "[worksapce]"
	run -2 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	[[ $stderr == *"$CONF:3: unknown section '[worksapce]'"* ]]
	[[ ! -e $ST/index.db ]]
}

@test "ws-export: a bad value is exit 2 naming file, line, key and value" {
	bad=(
		"workspace|keep|abc" "workspace|keep|-1" "workspace|keep_daily|-1" "workspace|keep_within|1q" "workspace|keep|1.5"
		"workspace|keep|" "workspace|backend|lxc"
		"archive|compression|lz4" "archive|compression|"
		"archive|level|abc" "archive|level|-1" "archive|level|23"
		"archive|threads|abc" "archive|threads|-1" "archive|threads|1025"
		"archive|max_bytes|abc" "archive|max_bytes|-1" "archive|max_bytes|0"
		"archive|max_bytes|64X" "archive|max_bytes|1.5G" "archive|max_bytes|99999999999T"
		"archive|max_entries|0" "archive|max_path|x" "archive|max_path|4097" "archive|max_depth|0"
		"containerd|stop_timeout|-1" "firecracker|clone|sometimes"
	)
	for b in "${bad[@]}"; do
		IFS='|' read -r sec key val <<<"$b"
		ini "$CONF" "[state]" "dir = $ST" "" "[$sec]" "$key = $val"
		run -2 --separate-stderr ws-export bot1
		[[ -z $output ]] || fail "$b: wrote to stdout"
		[[ $stderr == "ws-export: $CONF:5: bad value '$val' for '$key'"* ]] ||
			fail "$b: $stderr"
	done
	[[ ! -e $ST/index.db ]]
}

@test "ws-export: a relative [state] dir is exit 2 and creates nothing" {
	cd "$BATS_TEST_TMPDIR"
	ini "$CONF" "[state]" "dir = relative/state"
	run -2 --separate-stderr ws-export bot1
	assert_output ""
	[[ $stderr == "ws-export: $CONF: [state] dir must be an absolute path" ]]
	[[ ! -e relative ]]
}

@test "ws-export: [archive] compression = zstd writes zstd; -z on the command line wins" {
	fp=$(tree_fingerprint "$WS/bot1")
	sk_conf "[archive]" "compression = zstd"
	ws-export -o "$BATS_TEST_TMPDIR/o.zst" bot1
	[[ $(magic "$BATS_TEST_TMPDIR/o.zst") == 28b52ffd ]]
	zstd -tq "$BATS_TEST_TMPDIR/o.zst"
	rm -rf "$WS/bot1"
	ws-import -i "$BATS_TEST_TMPDIR/o.zst" bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	ws-export -z gzip -o "$BATS_TEST_TMPDIR/o.gz" bot1
	[[ $(magic "$BATS_TEST_TMPDIR/o.gz") == 1f8b* ]]
	ws-export -z none -o "$BATS_TEST_TMPDIR/o.tar" bot1
	tar -tf "$BATS_TEST_TMPDIR/o.tar" hello.txt
	sed -i 's/^compression = zstd$/compression = none/' "$CONF"
	ws-export -o "$BATS_TEST_TMPDIR/o2.tar" bot1
	tar -tf "$BATS_TEST_TMPDIR/o2.tar" hello.txt
}

@test "ws-export: [archive] level and threads are accepted and give valid archives" {
	fp=$(tree_fingerprint "$WS/bot1")
	for conf in "zstd|19|2" "zstd|1|1" "zstd|0|0" "gzip|9|2" "gzip|1|1" "gzip|0|0"; do
		IFS='|' read -r codec level threads <<<"$conf"
		ini "$CONF" "[state]" "dir = $ST" "[archive]" "compression = $codec" \
			"level = $level" "threads = $threads"
		ws-export -o "$BATS_TEST_TMPDIR/o" bot1 || fail "$conf: export failed"
		if [[ $codec == zstd ]]; then zstd -tq "$BATS_TEST_TMPDIR/o"; else gzip -t <"$BATS_TEST_TMPDIR/o"; fi
		ws-import -i "$BATS_TEST_TMPDIR/o" copy
		[[ $(tree_fingerprint "$WS/copy") == "$fp" ]] || fail "$conf: content differs"
	done
	# a higher level compresses at least as well
	ini "$CONF" "[state]" "dir = $ST" "[archive]" "compression = zstd" "level = 1"
	ws-export -o "$BATS_TEST_TMPDIR/l1" bot1
	ws-export -l 19 -o "$BATS_TEST_TMPDIR/l19" bot1
	(($(stat -c %s "$BATS_TEST_TMPDIR/l19") <= $(stat -c %s "$BATS_TEST_TMPDIR/l1")))
}

@test "ws-export: a gzip level past 9 is exit 2 naming the level, and the bot runs again" {
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $EVENTS" \
		"start_command = echo start \$1 >> $EVENTS" \
		"[archive]" "compression = gzip" "level = 15"
	run -2 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	[[ $stderr == *"level"* && $stderr == *"1-9"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/o && -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.o.*') ]]
	# stopped and started again, or never stopped
	[[ ! -s $EVENTS || $(cat "$EVENTS") == $'stop bot1\nstart bot1' ]]
	[[ $(journal_rows) == 0 ]]
}

@test "ws-import: [archive] max_bytes takes K/M/G/T suffixes and is enforced" {
	mkdir -p "$WS/src"
	head -c 3000 /dev/zero >"$WS/src/f"
	ws-export -o "$BATS_TEST_TMPDIR/o.tgz" src
	sk_conf "[archive]" "max_bytes = 64G" "max_entries = 1M"
	run -0 ws-import -i "$BATS_TEST_TMPDIR/o.tgz" dst
	[[ $(stat -c %s "$WS/dst/f") == 3000 ]]
	rm -rf "$WS/dst"
	ini "$CONF" "[state]" "dir = $ST" "[archive]" "max_bytes = 2k"
	run -5 --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/o.tgz" dst
	[[ $stderr == *"more than 2048 bytes (max_bytes)"* ]]
	[[ ! -e $WS/dst ]]
	[[ $(journal_rows) == 0 ]]
	assert_no_staging
	ini "$CONF" "[state]" "dir = $ST" "[archive]" "max_bytes = 3K"
	run -0 ws-import -i "$BATS_TEST_TMPDIR/o.tgz" dst
}

@test "ws-export: a failing stop_command is exit 1, and the bot is started again" {
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $EVENTS && exit 3" \
		"start_command = echo start \$1 >> $EVENTS"
	run -1 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	[[ $stderr == *"stop_command failed (exit status 3)"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/o ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.o.*') ]]
	run -0 cat "$EVENTS"
	assert_output $'stop bot1\nstart bot1'
	[[ $(journal_rows) == 0 ]]
}

@test "ws-export: the hooks get the bot id as \$1 and never in the shell text" {
	sk_conf "[workspace]" \
		"stop_command = printf '%s|%s\n' \"\$0\" \"\$1\" >> $EVENTS" \
		"start_command = printf 'start %s\n' \"\$*\" >> $EVENTS"
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o" bot1
	run -0 cat "$EVENTS"
	assert_output $'sh|bot1\nstart bot1'
}

@test "ws-export: a per-bot or per-machine template without %s is exit 2 naming file, line and key" {
	# One workspace, container or socket for every id would have the bots
	# and machines overwrite each other's state.
	bad=(
		"workspace|path|$BATS_TEST_TMPDIR/shared|bot"
		"workspace|path||bot"
		"containerd|container|workspace|bot"
		"firecracker|socket|/run/fc.socket|machine"
		"firecracker|socket||machine"
		"firecracker|chroot|/srv/jail/root|machine"
	)
	for b in "${bad[@]}"; do
		IFS='|' read -r sec key val what <<<"$b"
		ini "$CONF" "[state]" "dir = $ST" "" "[$sec]" "$key = $val"
		for cmd in ws-export fcsnap-verify; do
			run -2 --separate-stderr "$cmd" bot1
			[[ -z $output ]] || fail "$cmd $b: wrote to stdout"
			[[ $stderr == "$cmd: $CONF:5: bad value '$val' for '$key' (expected "*"%s for the $what id"* ]] ||
				fail "$cmd $b: $stderr"
		done
	done
	[[ ! -e $ST/index.db ]]
	# %s anywhere in the value is fine, and so is an empty chroot
	mkdir -p "$BATS_TEST_TMPDIR/ws/bot1/data"
	echo hi >"$BATS_TEST_TMPDIR/ws/bot1/data/f"
	ini "$CONF" "[state]" "dir = $ST" "[workspace]" "path = $BATS_TEST_TMPDIR/ws/%s/data" \
		"[containerd]" "container = c-%s-x" \
		"[firecracker]" "socket = /run/fc/%s.sock" "chroot ="
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" f) == hi ]]
	run -3 --separate-stderr fcsnap-verify nosuchsnap
}
