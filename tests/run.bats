#!/usr/bin/env bats
# tests/run.sh itself: the closing "N passed, N failed" line counts a test
# program as failed when its TAP lines do not say so: a short plan, a missing
# plan, a non-zero exit or a signal after nothing but "ok" lines. Each test
# runs tests/run.sh on one small fake unit program, so the suite takes well
# under a second.

bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# fake NAME: an executable unit program whose body is the shell lines on stdin.
fake() {
	FAKE=$BATS_TEST_TMPDIR/$1
	{ echo '#!/bin/sh'; cat; } >"$FAKE"
	chmod +x "$FAKE"
}

@test "tests/run.sh: a unit program that passes all it plans passes" {
	fake good <<-'EOF'
	echo 'ok 1 - one'; echo 'ok 2 - two'; echo 'ok 3 - three'; echo '1..3'
	EOF
	run "$REPO/tests/run.sh" "$FAKE"
	assert_success
	assert_line --index 0 "# unit: $FAKE"
	assert_equal "${lines[-1]}" "3 passed, 0 failed"
	refute_output --partial "# failures:"
}

@test "tests/run.sh: a unit program that plans 3 and prints 2 counts as a failure" {
	fake short <<-'EOF'
	echo 'ok 1 - one'; echo 'ok 2 - two'; echo '1..3'
	EOF
	run "$REPO/tests/run.sh" "$FAKE"
	assert_failure 1
	assert_line "#   $FAKE: planned 3 tests, ran 2"
	assert_equal "${lines[-1]}" "2 passed, 1 failed"
}

@test "tests/run.sh: a unit program that exits 1 after all oks counts as a failure" {
	fake exit1 <<-'EOF'
	echo 'ok 1 - one'; echo 'ok 2 - two'; echo '1..2'; exit 1
	EOF
	run "$REPO/tests/run.sh" "$FAKE"
	assert_failure 1
	assert_line "#   $FAKE: exit status 1 without a failed test"
	assert_equal "${lines[-1]}" "2 passed, 1 failed"
}

@test "tests/run.sh: a unit program killed by a signal before its plan counts as a failure" {
	fake crash <<-'EOF'
	echo 'ok 1 - one'; kill -SEGV $$
	EOF
	run "$REPO/tests/run.sh" "$FAKE"
	assert_failure 1
	assert_line "#   $FAKE: killed by signal 11 (SEGV), no 1..N plan (ran 1)"
	assert_equal "${lines[-1]}" "1 passed, 1 failed"
}

@test "tests/run.sh: a failed test and the exit status it causes count once" {
	fake notok <<-'EOF'
	echo 'ok 1 - one'; echo 'not ok 2 - two'; echo '1..2'; exit 1
	EOF
	run "$REPO/tests/run.sh" "$FAKE"
	assert_failure 1
	assert_line "#   $FAKE: not ok 2 - two"
	assert_equal "${lines[-1]}" "1 passed, 1 failed"
}
