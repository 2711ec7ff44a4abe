#!/usr/bin/env bats
# Progress as an operator sees it: at a terminal (a real pty) one line
# redrawn in place with a percentage of a known total, ending in one closing
# line; in a pipe or a log file plain lines without control characters;
# never with -q. And whatever the progress does, the bytes are the same.
# The line's exact wording is tested in tests/unit/progress_test.c.

load helpers/common
load helpers/fc

PTYRUN=$REPO/tests/helpers/ptyrun

setup() {
	sk_setup
	BG_PIDS=
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
	ws-preserve --list >/dev/null
}

teardown() {
	kill_bg
	fc_stop_all
}

# A workspace that takes a second or two to gzip at -l 9 on one thread, so
# that a terminal sees more than the closing line.
make_slow() {
	make_sample "$1"
	head -c 48M /dev/urandom >"$WS/$1/random.bin"
}

# The lines a terminal would show: each \r starts a line again.
screen_lines() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -v '^$'
}

@test "ws-export: at a terminal, progress shows a percentage of the size, then one closing line" {
	make_slow bot1
	run "$PTYRUN" -o "$BATS_TEST_TMPDIR/screen" "ws-export -l 9 -j 1 bot1 >'$BATS_TEST_TMPDIR/a.tgz'"
	[ "$status" -eq 0 ] || fail "exit $status: $(cat "$BATS_TEST_TMPDIR/screen")"
	screen_lines "$BATS_TEST_TMPDIR/screen" >"$BATS_TEST_TMPDIR/lines"
	grep -Eq '^ws-export: [0-9.]+ [KMG]?i?B of [0-9.]+ MiB \([0-9]+%\)' "$BATS_TEST_TMPDIR/lines" ||
		fail "no percentage of a total at the terminal: $(cat -A "$BATS_TEST_TMPDIR/screen")"
	assert_equal "$(grep -c ' in [0-9.]* s ' "$BATS_TEST_TMPDIR/lines")" 1
	tail -n1 "$BATS_TEST_TMPDIR/lines" | grep -q '^ws-export: 56\.[0-9] MiB in ' ||
		fail "closing line: $(tail -n1 "$BATS_TEST_TMPDIR/lines")"
	# the archive is whole
	run ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	assert_success
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
}

@test "ws-export: --progress into a pipe or a file writes plain lines, the closing one once" {
	make_sample bot1
	run --separate-stderr ws-export --progress -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	assert_success
	[[ $stderr != *$'\r'* && $stderr != *$'\e'* ]] || fail "control characters: $(printf %q "$stderr")"
	assert_equal "$(grep -c ' in [0-9.]* s ' <<<"$stderr")" 1
	[[ $stderr =~ ^ws-export:\ [0-9.]+\ (B|KiB|MiB)\ in\ [0-9.]+\ s ]] || fail "stderr: $stderr"
	ws-export --progress bot1 2>"$BATS_TEST_TMPDIR/err.log" >"$BATS_TEST_TMPDIR/b.tgz"
	! grep -q $'[\r\e]' "$BATS_TEST_TMPDIR/err.log" || fail "control characters in a log file"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/err.log")" 1
	# progress on or off, the same archive content
	cmp <(tar -xzOf "$BATS_TEST_TMPDIR/a.tgz" | sha256sum) <(tar -xzOf "$BATS_TEST_TMPDIR/b.tgz" | sha256sum)
}

@test "ws-export: without a terminal and without --progress, stderr stays empty" {
	make_sample bot1
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	assert_success
	assert_equal "$stderr" ""
}

@test "ws-import: from a file, the terminal shows a percentage of the file's size" {
	make_slow bot1
	ws-export -z none bot1 >"$BATS_TEST_TMPDIR/a.tar"
	# stdin redirected from a file: its size is known too
	run "$PTYRUN" -o "$BATS_TEST_TMPDIR/screen" "ws-import bot2 <'$BATS_TEST_TMPDIR/a.tar'"
	[ "$status" -eq 0 ] || fail "exit $status: $(cat "$BATS_TEST_TMPDIR/screen")"
	screen_lines "$BATS_TEST_TMPDIR/screen" >"$BATS_TEST_TMPDIR/lines"
	assert_equal "$(grep -c ' in [0-9.]* s ' "$BATS_TEST_TMPDIR/lines")" 1
	if (($(wc -l <"$BATS_TEST_TMPDIR/lines") > 1)); then
		grep -Eq '\([0-9]+%\)' "$BATS_TEST_TMPDIR/lines" ||
			fail "a redrawn line without a percentage: $(cat "$BATS_TEST_TMPDIR/lines")"
	fi
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
}

@test "ws-import: a failed import ends the progress line and prints no closing line" {
	make_sample bot1
	ws-export bot1 | head -c 20000 >"$BATS_TEST_TMPDIR/cut.tgz"
	run --separate-stderr ws-import --progress -i "$BATS_TEST_TMPDIR/cut.tgz" bot2
	assert_equal "$status" 5
	! grep -q ' in [0-9.]* s ' <<<"$stderr" || fail "a closing line after a failure: $stderr"
	[[ $stderr == *"ws-import: "* ]]
}

@test "fcsnap-create: --progress reports hashing with the snapshot's size, once at the end" {
	fc_start vm1 --mem 32 --disk rootfs:16
	run --separate-stderr fcsnap-create --progress vm1 s1
	assert_success
	[[ $stderr != *$'\r'* ]] || fail "control characters: $(printf %q "$stderr")"
	assert_equal "$(grep -c "^fcsnap-create: hashing 's1': .* in [0-9.]* s " <<<"$stderr")" 1
	# 32 MiB memory + 16 MiB disk + the state file
	[[ $stderr =~ hashing\ \'s1\':\ 48\.[0-9]\ MiB\ in ]] || fail "stderr: $stderr"
	run fcsnap-verify s1
	assert_success
}

@test "fcsnap-create: at a terminal the hashing line is drawn in place, and -q silences it" {
	fc_start vm1 --mem 32
	run "$PTYRUN" -o "$BATS_TEST_TMPDIR/screen" "fcsnap-create vm1 s1"
	[ "$status" -eq 0 ] || fail "exit $status: $(cat "$BATS_TEST_TMPDIR/screen")"
	grep -q $'\r'"fcsnap-create: hashing 's1': " "$BATS_TEST_TMPDIR/screen" ||
		fail "screen: $(cat -A "$BATS_TEST_TMPDIR/screen")"
	run "$PTYRUN" -o "$BATS_TEST_TMPDIR/screen" "fcsnap-create -q vm1 s2"
	assert_success
	[ ! -s "$BATS_TEST_TMPDIR/screen" ] || fail "-q printed: $(cat -A "$BATS_TEST_TMPDIR/screen")"
}

@test "fcsnap-verify: --progress names each snapshot it hashes" {
	fc_start vm1 --mem 16
	fcsnap-create -q vm1 s1
	fcsnap-create -q vm1 s2
	run --separate-stderr fcsnap-verify --progress --all
	assert_success
	assert_equal "$(grep -c "^fcsnap-verify: hashing 's1': .* in " <<<"$stderr")" 1
	assert_equal "$(grep -c "^fcsnap-verify: hashing 's2': .* in " <<<"$stderr")" 1
	run --separate-stderr fcsnap-verify s1
	assert_success
	[[ $stderr != *hashing* ]] || fail "progress without --progress or a terminal: $stderr"
}
