#!/usr/bin/env bats
# The house rules of the source, checked so that they hold by themselves.

load helpers/common

@test "source: every .c file includes banned.h after its other headers" {
	local f bad=
	for f in "$REPO"/lib/*.c "$REPO"/cmd/*.c; do
		last=$(grep '^#include' "$f" | tail -n1)
		[[ $last == '#include "banned.h"' ]] || bad+=" ${f#"$REPO"/}"
	done
	[[ -z $bad ]] || fail "banned.h missing or not last in:$bad"
}

@test "source: a banned call does not compile" {
	printf '#include <string.h>\n#include "banned.h"\nvoid f(char *a);\nvoid f(char *a) { strcpy(a, "x"); }\n' \
		>"$BATS_TEST_TMPDIR/b.c"
	run cc -I"$REPO/lib" -c "$BATS_TEST_TMPDIR/b.c" -o "$BATS_TEST_TMPDIR/b.o"
	assert_failure
	assert_output --partial sorry_strcpy_is_banned_in_statekit
}

@test "source: only lib/proc.c forks a child that execs" {
	run grep -ln 'exec[lv]p\?(' "$REPO"/lib/*.c "$REPO"/cmd/*.c
	assert_output "$REPO/lib/proc.c"
}
