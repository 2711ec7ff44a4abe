#!/usr/bin/env bats
# The README's quick start, command 1, as a person runs it: at a terminal.
# (Command 2 is this suite itself.) The demo works in a temporary directory of
# its own and removes it at the end unless asked to keep it. Run as root it
# would find the host's /var/lib/statekit: here (as root) it runs in a mount
# namespace where /var/lib/statekit is a directory of the test, holding a file
# of the operator's, to show that the demo leaves it alone. It must not use
# the caller's STATEKIT_CONFIG either, which names a broken configuration.

load helpers/common

setup() {
	sk_setup
	VARLIB=$BATS_TEST_TMPDIR/varlib
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	mkdir -p "$VARLIB" "$TMPDIR" "$BATS_TEST_TMPDIR/ns"
	echo 'kept by the operator' >"$VARLIB/mine"
	# The caller's configuration: a command that read it would exit 2.
	sk_conf "bogus = 1"
}

# demo ARGS: run 'bash scripts/demo.sh ARGS' at a terminal; the screen goes to
# $BATS_TEST_TMPDIR/out, carriage returns removed.
demo() {
	local line="bash '$REPO/scripts/demo.sh' $*" script
	if ((EUID == 0)); then
		local ns=$BATS_TEST_TMPDIR/ns
		script=$(printf 'set -e\nmount -t tmpfs demo %q\nmkdir %q/u %q/w\n' "$ns" "$ns" "$ns"
			printf 'mount -t overlay demo -o lowerdir=/var/lib,upperdir=%q/u,workdir=%q/w /var/lib\n' "$ns" "$ns"
			printf 'mkdir -p /var/lib/statekit\nmount --bind %q /var/lib/statekit\n' "$VARLIB"
			printf 'exec "$@"\n')
		run unshare -m --propagation private bash -c "$script" demo \
			"$REPO/tests/helpers/ptyrun" -t 300 -o "$BATS_TEST_TMPDIR/screen" "$line"
	else
		run "$REPO/tests/helpers/ptyrun" -t 300 -o "$BATS_TEST_TMPDIR/screen" "$line"
	fi
	tr -d '\r' <"$BATS_TEST_TMPDIR/screen" >"$BATS_TEST_TMPDIR/out"
	[ "$status" -eq 0 ] || fail "exit $status: $(tail -20 "$BATS_TEST_TMPDIR/out")"
	DEMO_DIR=$(sed -n 's/^== working in \([^:]*\): .*/\1/p' "$BATS_TEST_TMPDIR/out")
	[[ $DEMO_DIR == "$TMPDIR"/statekit-demo.* ]] || fail "the demo named no directory of its own under \$TMPDIR: $(head -20 "$BATS_TEST_TMPDIR/out")"
}

# The demo's own checks passed, and it said so.
assert_demo_worked() {
	local out=$BATS_TEST_TMPDIR/out
	grep -q '^identical: names, modes, sizes, links and every byte$' "$out" ||
		fail "no 'identical' line: $(tail -20 "$out")"
	grep -qx 'demo-dst 1: ok (206 entries)' "$out"
	grep -q '^preserved data is waiting to be restored$' "$out"
	grep -q '^nothing left to restore$' "$out"
	grep -q "^ws-export: exported bot 'demo-src'" "$out"
	grep -q '^== done$' "$out"
}

# Nothing of the demo in /var/lib/statekit, nor in the caller's state.
assert_no_trace_elsewhere() {
	assert_equal "$(cd "$VARLIB" && find . | LC_ALL=C sort | tr '\n' ' ')" ". ./mine "
	assert_equal "$(cat "$VARLIB/mine")" 'kept by the operator'
	assert_equal "$(cd "$ST" && find . | LC_ALL=C sort | tr '\n' ' ')" ". ./workspaces "
}

@test "scripts/demo.sh: at a terminal it round-trips, preserves and restores, says so, and leaves nothing behind" {
	demo
	assert_demo_worked
	grep -qxF "== removed $DEMO_DIR (scripts/demo.sh --keep keeps it)" "$BATS_TEST_TMPDIR/out" ||
		fail "the demo did not say it removed $DEMO_DIR: $(tail -5 "$BATS_TEST_TMPDIR/out")"
	[[ ! -e $DEMO_DIR ]] || fail "$DEMO_DIR is still there"
	assert_equal "$(ls -A "$TMPDIR")" ""
	assert_no_trace_elsewhere
}

@test "scripts/demo.sh: --keep keeps the directory, and the commands read it as the demo says" {
	demo --keep
	assert_demo_worked
	grep -qxF "== kept $DEMO_DIR; look with STATEKIT_CONFIG=$DEMO_DIR/statekit.ini ws-preserve --list" \
		"$BATS_TEST_TMPDIR/out" || fail "the demo did not say it kept $DEMO_DIR: $(tail -5 "$BATS_TEST_TMPDIR/out")"
	assert_equal "$(ls -A "$TMPDIR")" "${DEMO_DIR##*/}"
	[[ -f $DEMO_DIR/state/index.db ]] || fail "no index.db in $DEMO_DIR/state"
	assert_equal "$(tree_fingerprint "$DEMO_DIR/state/workspaces/demo-dst")" \
		"$(tree_fingerprint "$DEMO_DIR/state/workspaces/demo-src")"
	run --separate-stderr env STATEKIT_CONFIG="$DEMO_DIR/statekit.ini" ws-preserve --list
	assert_success
	assert_line --regexp '^demo-dst +1 '
	assert_no_trace_elsewhere
}

@test "scripts/demo.sh: DEMO_KEEP=1 keeps the directory too" {
	DEMO_KEEP=1 demo
	assert_demo_worked
	[[ -f $DEMO_DIR/state/index.db ]] || fail "DEMO_KEEP=1 did not keep $DEMO_DIR"
	assert_no_trace_elsewhere
}

@test "scripts/demo.sh: an unknown argument is a usage error, before anything is made" {
	run --separate-stderr bash "$REPO/scripts/demo.sh" --kep
	assert_failure 2
	assert_equal "$stderr" "usage: scripts/demo.sh [--keep]"
	assert_equal "$(ls -A "$TMPDIR")" ""
}
