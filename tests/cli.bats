#!/usr/bin/env bats
# The CLI contract every workspace command keeps (ws-export, ws-import,
# ws-preserve): --help/--version on stdout with exit 0, usage errors as exit 2
# with the --help hint on stderr and nothing on stdout, bot ids checked before
# any file is touched, configuration errors named by file:line and key, and
# no archive ever written to or read from a terminal.
#
# Each behaviour has one test per command; the checks live in cli_* helpers.

load helpers/common
load helpers/fc

CMDS=(ws-export ws-import ws-preserve)

setup() {
	sk_setup
	# A state directory no command may create when it should stop at a
	# usage error: commands that get that far create it at once.
	FRESH=$BATS_TEST_TMPDIR/fresh-state
	FRESH_CONF=$BATS_TEST_TMPDIR/fresh.ini
	printf '[state]\ndir = %s\n' "$FRESH" >"$FRESH_CONF"
	VERSION=$(sed -n 's/^VERSION *:= *//p' "$REPO/Makefile")
	[[ -n $VERSION ]] || fail "cannot read VERSION from the Makefile"
}

teardown() {
	fc_stop_all
}

# Run CMD ARGS... with stdin from /dev/null (ws-import must not see a tty).
sk_run() {
	run --separate-stderr "$@" </dev/null
}

cli_help() {
	local cmd=$1 opt
	for opt in --help -h; do
		STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" "$opt"
		[ "$status" -eq 0 ] || fail "$cmd $opt: exit $status, stderr: $stderr"
		[ -z "$stderr" ] || fail "$cmd $opt: stderr not empty: $stderr"
		[[ ${lines[0]} == Usage:* ]] || fail "$cmd $opt: first line is '${lines[0]}'"
		[[ $output == *" $cmd [options] BOT"* ]] || fail "$cmd $opt: no synopsis in: $output"
		[[ $output == *"-h, --help"* && $output == *"-V, --version"* ]] ||
			fail "$cmd $opt: usage does not list --help and --version"
		[[ $output == *"Exit status"* ]] || fail "$cmd $opt: usage does not list exit codes"
	done
	# --help wins over the rest of the line and touches nothing.
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" --help bot1
	[ "$status" -eq 0 ]
	[ ! -e "$FRESH" ] || fail "$cmd --help created the state directory"
}

cli_version() {
	local cmd=$1 opt
	for opt in --version -V; do
		STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" "$opt"
		[ "$status" -eq 0 ] || fail "$cmd $opt: exit $status"
		[ "$output" = "$cmd (statekit) $VERSION" ] || fail "$cmd $opt printed '$output'"
		[ -z "$stderr" ] || fail "$cmd $opt: stderr not empty: $stderr"
	done
	[ ! -e "$FRESH" ] || fail "$cmd --version created the state directory"
}

# util-linux's close_stdout: output that never reached stdout is a failure.
cli_stdout_full() {
	local cmd=$1
	run --separate-stderr bash -c "\"$cmd\" --version >/dev/full"
	[ "$status" -eq 1 ] || fail "$cmd --version >/dev/full: exit $status"
	[[ $stderr == *"$cmd: write error"* ]] || fail "$cmd: stderr: $stderr"
}

cli_bad_option() {
	local cmd=$1 opt
	for opt in --bogus -Y; do
		STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" "$opt" bot1
		[ "$status" -eq 2 ] || fail "$cmd $opt: exit $status"
		[ -z "$output" ] || fail "$cmd $opt: stdout not empty: $output"
		[[ $stderr == *"Try '$cmd --help' for more information."* ]] ||
			fail "$cmd $opt: stderr: $stderr"
		[[ $stderr == "$cmd: "*"option"* ]] || fail "$cmd $opt: stderr: $stderr"
	done
	# An option that needs a value and has none.
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" bot1 --config
	[ "$status" -eq 2 ]
	[[ $stderr == *"Try '$cmd --help'"* ]]
	[ -z "$output" ]
	[ ! -e "$FRESH" ] || fail "$cmd with a bad option created the state directory"
}

cli_missing_bot() {
	local cmd=$1
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd"
	[ "$status" -eq 2 ] || fail "$cmd without BOT: exit $status"
	[[ $stderr == *"$cmd: expected exactly one BOT"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"Try '$cmd --help'"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" bot1 bot2
	[ "$status" -eq 2 ] || fail "$cmd with two BOTs: exit $status"
	[[ $stderr == *"expected exactly one BOT"* ]] || fail "stderr: $stderr"
	[ ! -e "$FRESH" ] || fail "$cmd created the state directory"
}

cli_bad_ids() {
	local cmd=$1 id long
	long=$(printf 'a%.0s' {1..65})
	for id in "../x" "a/b" "$long" "" "_x" "a.b" "a b" "x/../../y"; do
		STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" -- "$id"
		[ "$status" -eq 2 ] || fail "$cmd '$id': exit $status, stderr: $stderr"
		[[ $stderr == *"invalid bot id '$id'"* ]] || fail "$cmd '$id': stderr: $stderr"
		[ -z "$output" ] || fail "$cmd '$id': stdout: $output"
		[ ! -e "$FRESH" ] || fail "$cmd '$id' touched the state directory"
	done
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" -- -x
	[ "$status" -eq 2 ] || fail "$cmd -- -x: exit $status"
	[[ $stderr == *"invalid bot id '-x'"* ]] || fail "stderr: $stderr"
	# 64 characters is the longest valid id: it gets past the id check.
	STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" -- "${long:1}"
	[[ $stderr != *"invalid bot id"* ]] || fail "$cmd refused a 64-character id"
}

cli_missing_config() {
	local cmd=$1
	sk_run "$cmd" -c "$BATS_TEST_TMPDIR/nonexistent.ini" bot1
	[ "$status" -eq 2 ] || fail "$cmd -c missing: exit $status"
	[[ $stderr == *"'$BATS_TEST_TMPDIR/nonexistent.ini'"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"No such file"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
	STATEKIT_CONFIG=$BATS_TEST_TMPDIR/also-missing.ini sk_run "$cmd" bot1
	[ "$status" -eq 2 ] || fail "$cmd STATEKIT_CONFIG missing: exit $status"
	[[ $stderr == *"'$BATS_TEST_TMPDIR/also-missing.ini'"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
}

# Write a config whose lines 3 and 4 are SECTION and LINE, and check that the
# report names the file, the line AT and WANT (the key or the section).
cli_bad_config_line() {
	local cmd=$1 section=$2 line=$3 at=$4 want=$5 conf=$BATS_TEST_TMPDIR/bad.ini
	printf '[state]\ndir = %s\n%s\n%s\n' "$FRESH" "$section" "$line" >"$conf"
	sk_run "$cmd" -c "$conf" bot1
	[ "$status" -eq 2 ] || fail "$cmd with '$section' '$line': exit $status, stderr: $stderr"
	[[ $stderr == *"$conf:$at:"* ]] || fail "$cmd '$line': no $conf:$at: in: $stderr"
	[[ $stderr == *"$want"* ]] || fail "$cmd '$line': '$want' not in: $stderr"
	[ -z "$output" ]
	[ ! -e "$FRESH" ] || fail "$cmd went on after a bad config"
}

cli_bad_config() {
	local cmd=$1
	cli_bad_config_line "$cmd" "[state]" "bogus = 1" 4 "unknown key 'bogus'"
	cli_bad_config_line "$cmd" "[nosuch]" "dir = /x" 3 "unknown section '[nosuch]'"
	# a misspelt section with no keys is still a mistake
	cli_bad_config_line "$cmd" "[workspace]" "[worksapce]" 4 "unknown section '[worksapce]'"
	cli_bad_config_line "$cmd" "[workspace]" "keep = x" 4 "'keep'"
	cli_bad_config_line "$cmd" "[workspace]" "keep = -1" 4 "'keep'"
	cli_bad_config_line "$cmd" "[archive]" "compression = lz4" 4 "'compression'"
	cli_bad_config_line "$cmd" "[archive]" "max_bytes = 12Q" 4 "'max_bytes'"
	cli_bad_config_line "$cmd" "[workspace]" "backend = lxc" 4 "'backend'"
	cli_bad_config_line "$cmd" "[state]" "not an ini line" 4 "syntax error"
}

# The command line wins over the environment: with STATEKIT_CONFIG naming a
# missing file, -c GOOD still works and its state dir is the one used.
cli_config_precedence() {
	local cmd=$1
	export STATEKIT_CONFIG=$BATS_TEST_TMPDIR/missing.ini
	mkdir -p "$FRESH/workspaces/bot1"
	case $cmd in
	ws-export) sk_run "$cmd" -c "$FRESH_CONF" -o "$BATS_TEST_TMPDIR/o.tgz" bot1 ;;
	ws-import)
		tar -czf "$BATS_TEST_TMPDIR/e.tgz" -T /dev/null
		sk_run "$cmd" -c "$FRESH_CONF" -i "$BATS_TEST_TMPDIR/e.tgz" bot1 ;;
	ws-preserve) sk_run "$cmd" -c "$FRESH_CONF" bot1 ;;
	esac
	[ "$status" -eq 0 ] || fail "$cmd -c over a missing STATEKIT_CONFIG: exit $status: $stderr"
	[ -e "$FRESH/index.db" ] || fail "$cmd did not use the state dir of -c"
	[ ! -e "$ST/index.db" ] || fail "$cmd used the state dir of the default config"
}

cli_codec_opts() {
	local cmd=$1 args
	for args in "-z bogus" "-z lz4" "-l abc" "-l -1" "-l 99" "-j -1" "-j x" "--threads="; do
		# shellcheck disable=SC2086
		STATEKIT_CONFIG=$FRESH_CONF sk_run "$cmd" $args bot1
		[ "$status" -eq 2 ] || fail "$cmd $args: exit $status, stderr: $stderr"
		[[ $stderr == *"Try '$cmd --help'"* ]] || fail "$cmd $args: stderr: $stderr"
		[ -z "$output" ] || fail "$cmd $args: stdout not empty"
		[ ! -e "$FRESH" ] || fail "$cmd $args touched the state directory"
	done
}

@test "ws-export: --help and -h print usage on stdout and exit 0" { cli_help ws-export; }
@test "ws-import: --help and -h print usage on stdout and exit 0" { cli_help ws-import; }
@test "ws-preserve: --help and -h print usage on stdout and exit 0" { cli_help ws-preserve; }

@test "ws-export: --version and -V print 'ws-export (statekit) VERSION'" { cli_version ws-export; }
@test "ws-import: --version and -V print 'ws-import (statekit) VERSION'" { cli_version ws-import; }
@test "ws-preserve: --version and -V print 'ws-preserve (statekit) VERSION'" { cli_version ws-preserve; }

@test "ws-export: a write error on stdout is exit 1" { cli_stdout_full ws-export; }
@test "ws-import: a write error on stdout is exit 1" { cli_stdout_full ws-import; }
@test "ws-preserve: a write error on stdout is exit 1" { cli_stdout_full ws-preserve; }

@test "ws-export: a bad option exits 2 with the --help hint and no stdout" { cli_bad_option ws-export; }
@test "ws-import: a bad option exits 2 with the --help hint and no stdout" { cli_bad_option ws-import; }
@test "ws-preserve: a bad option exits 2 with the --help hint and no stdout" { cli_bad_option ws-preserve; }

@test "ws-export: a missing or extra BOT exits 2" { cli_missing_bot ws-export; }
@test "ws-import: a missing or extra BOT exits 2" { cli_missing_bot ws-import; }
@test "ws-preserve: a missing or extra BOT exits 2" { cli_missing_bot ws-preserve; }

@test "ws-export: an invalid bot id exits 2 before any file is touched" { cli_bad_ids ws-export; }
@test "ws-import: an invalid bot id exits 2 before any file is touched" { cli_bad_ids ws-import; }
@test "ws-preserve: an invalid bot id exits 2 before any file is touched" { cli_bad_ids ws-preserve; }

@test "ws-export: a missing named config exits 2 naming it" { cli_missing_config ws-export; }
@test "ws-import: a missing named config exits 2 naming it" { cli_missing_config ws-import; }
@test "ws-preserve: a missing named config exits 2 naming it" { cli_missing_config ws-preserve; }

@test "ws-export: a bad config exits 2 naming file:line and key" { cli_bad_config ws-export; }
@test "ws-import: a bad config exits 2 naming file:line and key" { cli_bad_config ws-import; }
@test "ws-preserve: a bad config exits 2 naming file:line and key" { cli_bad_config ws-preserve; }

@test "ws-export: -c wins over STATEKIT_CONFIG" { cli_config_precedence ws-export; }
@test "ws-import: -c wins over STATEKIT_CONFIG" { cli_config_precedence ws-import; }
@test "ws-preserve: -c wins over STATEKIT_CONFIG" { cli_config_precedence ws-preserve; }

@test "ws-export: bad -z, -l and -j values exit 2" { cli_codec_opts ws-export; }
@test "ws-preserve: bad -z, -l and -j values exit 2" { cli_codec_opts ws-preserve; }

@test "ws-export: a level the codec does not accept exits 2 before the bot is stopped" {
	mkdir -p "$WS/bot1"
	echo hi >"$WS/bot1/f"
	sk_conf "[workspace]" "stop_command = echo stopped >> $BATS_TEST_TMPDIR/ev" \
		"start_command = echo started >> $BATS_TEST_TMPDIR/ev"
	for args in "-z gzip -l 10" "-z zstd -l 20"; do
		# shellcheck disable=SC2086
		run --separate-stderr ws-export $args -o "$BATS_TEST_TMPDIR/out.tgz" bot1
		[ "$status" -eq 2 ] || fail "$args: exit $status: $stderr"
		[[ $stderr == *"level"* ]] || fail "$args: stderr: $stderr"
		[ ! -e "$BATS_TEST_TMPDIR/out.tgz" ]
		[ -z "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.out.tgz.*')" ] || fail "temp file left"
		[ ! -e "$BATS_TEST_TMPDIR/ev" ] || fail "$args: the bot was stopped: $(cat "$BATS_TEST_TMPDIR/ev")"
		[ "$(journal_rows)" -eq 0 ]
	done
	# and the highest valid levels work
	ws-export -z gzip -l 9 -o "$BATS_TEST_TMPDIR/out.tgz" bot1
	ws-export -z zstd -l 19 -o "$BATS_TEST_TMPDIR/out.zst" bot1
}

@test "ws-export: refuses to write an archive to a terminal" {
	mkdir -p "$WS/bot1"
	echo hi >"$WS/bot1/f"
	run script -qec "ws-export bot1" /dev/null </dev/null
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	[[ $output == *"ws-export: refusing to write an archive to a terminal"* ]] || fail "$output"
	# Not a byte of the archive reached the terminal (gzip magic 1f 8b).
	[[ $output != *$'\x1f\x8b'* ]]
	[ "$(journal_rows)" -eq 0 ]
	# The same command into a pipe or a file works: the refusal is about the tty.
	run script -qec "ws-export -q bot1 | gzip -t" /dev/null </dev/null
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	run script -qec "ws-export -q -o '$BATS_TEST_TMPDIR/a.tgz' bot1" /dev/null </dev/null
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	gzip -t "$BATS_TEST_TMPDIR/a.tgz"
}

@test "ws-import: refuses to read an archive from a terminal" {
	mkdir -p "$WS/bot1"
	echo hi >"$WS/bot1/f"
	before=$(tree_fingerprint "$WS/bot1")
	run script -qec "ws-import bot1" /dev/null </dev/null
	[ "$status" -eq 2 ] || fail "exit $status: $output"
	[[ $output == *"ws-import: refusing to read an archive from a terminal"* ]] || fail "$output"
	[ "$(tree_fingerprint "$WS/bot1")" = "$before" ]
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
	# with -i FILE a terminal on stdin does not matter
	mkdir -p "$WS/src"
	echo new >"$WS/src/g"
	ws-export -o "$BATS_TEST_TMPDIR/a.tgz" src
	run script -qec "ws-import -q -i '$BATS_TEST_TMPDIR/a.tgz' bot1" /dev/null </dev/null
	[ "$status" -eq 0 ] || fail "exit $status: $output"
	[ "$(cat "$WS/bot1/g")" = new ]
}

@test "ws-import: -i FILE that does not exist exits 3 naming it" {
	mkdir -p "$WS/bot1"
	echo hi >"$WS/bot1/f"
	before=$(tree_fingerprint "$WS/bot1")
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/none.tgz" bot1
	[ "$status" -eq 3 ]
	[[ $stderr == *"'$BATS_TEST_TMPDIR/none.tgz'"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
	[ "$(tree_fingerprint "$WS/bot1")" = "$before" ]
	assert_no_staging
}

# Every command, on ids that name nothing, with the exit status it must give:
# "STATUS CMD ARGS...". ws-import of an empty stream and fcsnap-import of one
# fail the same way. fcsnap-create cannot tell a machine that does not exist
# from one that is down: exit 4 (fcsnap-create(1)).
NOSUCH=(
	"3 ws-export nosuchbot"
	"5 ws-import -i /dev/null nosuchbot"
	"3 ws-preserve nosuchbot"
	"3 ws-preserve --restore nosuchbot"
	"3 ws-preserve --check nosuchbot"
	"3 ws-preserve --list nosuchbot"
	"0 ws-preserve --prune nosuchbot"
	"4 fcsnap-create nosuchvm snapx"
	"3 fcsnap-restore nosuchsnap vmx"
	"3 fcsnap-delete nosuchsnap"
	"3 fcsnap-verify nosuchsnap"
	"3 fcsnap-export nosuchsnap"
	"5 fcsnap-import"
)

# Names, types and sizes of everything under the state directory, and every
# row of the index.
state_of() {
	(cd "$1" && find . -printf '%p %y %s %l\n' | LC_ALL=C sort)
	sqlite3 "$1/index.db" .dump
}

@test "ws-*, fcsnap-*: a command on an id that does not exist leaves the state directory exactly as it was" {
	sk_conf "[firecracker]" "binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" "chroot ="
	make_sample bot1
	ws-preserve bot1
	fc_start vm1 --mem 16 --no-net
	fcsnap-create vm1 s1
	fc_stop vm1
	# ids that exist around an object that does not: no generation 99 of bot1
	local -a cases=("${NOSUCH[@]}" "3 ws-preserve --restore -g 99 bot1"
		"3 fcsnap-restore nosuchsnap vm1")
	before=$(state_of "$ST")
	[[ $before == *"/locks "* && $before == *"/backups/bot1/"* && $before == *"/snapshots/s1/"* ]]
	for c in "${cases[@]}"; do
		want=${c%% *}
		sk_run ${c#* }
		[[ $status == "$want" ]] || fail "${c#* }: exit $status, not $want: $stderr"
		[[ $want == 0 || -z $output ]] || fail "${c#* }: stdout: $output"
		after=$(state_of "$ST")
		[[ $after == "$before" ]] ||
			fail "${c#* }: the state directory changed: $(diff <(echo "$before") <(echo "$after"))"
	done
}

@test "ws-*, fcsnap-*: a command on an id that does not exist in a fresh state directory creates only the directory's own layout" {
	# Every command that gets past its options makes the state directory,
	# its index and the directories it always uses (locks, tmp, and for the
	# fcsnap commands machines and snapshots); a failed ws-import also makes
	# the parent of the configured workspace path. Nothing in them is left.
	for c in "${NOSUCH[@]}"; do
		rm -rf "$FRESH"
		want=${c%% *}
		STATEKIT_CONFIG=$FRESH_CONF sk_run ${c#* }
		[[ $status == "$want" ]] || fail "${c#* }: exit $status, not $want: $stderr"
		left=$(cd "$FRESH" && find . -mindepth 1 ! -name index.db ! -name locks ! -name tmp \
			! -name machines ! -name snapshots ! -path ./workspaces)
		[[ -z $left ]] || fail "${c#* }: left behind: $left"
		[[ -f $FRESH/index.db ]]
	done
}
