#!/usr/bin/env bats
# The README's quick start, command 1, as a person runs it: at a terminal.
# (Command 2 is this suite itself.) A private state directory stands in for
# /var/lib/statekit, as the demo itself does for anyone but root.

load helpers/common

@test "scripts/demo.sh: at a terminal it round-trips, preserves and restores, and says so" {
	sk_setup
	export TMPDIR=$BATS_TEST_TMPDIR
	run "$REPO/tests/helpers/ptyrun" -o "$BATS_TEST_TMPDIR/screen" "bash '$REPO/scripts/demo.sh'"
	[ "$status" -eq 0 ] || fail "exit $status: $(tail -20 "$BATS_TEST_TMPDIR/screen")"
	tr -d '\r' <"$BATS_TEST_TMPDIR/screen" >"$BATS_TEST_TMPDIR/out"
	grep -q '^identical: names, modes, sizes, links and every byte$' "$BATS_TEST_TMPDIR/out" ||
		fail "no 'identical' line: $(tail -20 "$BATS_TEST_TMPDIR/out")"
	grep -q '^preserved data is waiting to be restored$' "$BATS_TEST_TMPDIR/out"
	grep -q '^nothing left to restore$' "$BATS_TEST_TMPDIR/out"
	grep -q "^ws-export: exported bot 'demo-src'" "$BATS_TEST_TMPDIR/out"
	grep -q '^== done: state is in ' "$BATS_TEST_TMPDIR/out"
	# the demo's state stayed in the private directory
	state=$(sed -n 's/^== done: state is in \(.*\) (index.db.*/\1/p' "$BATS_TEST_TMPDIR/out")
	[[ $state == "$BATS_TEST_TMPDIR"/* ]] || fail "demo state outside the test: $state"
	[[ -d $state/workspaces/demo-dst && -f $state/index.db ]]
}
