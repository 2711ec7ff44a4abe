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

@test "source: no module of lib/ depends on itself through others" {
	local b=${SK_BUILD:-build}
	[[ $b == /* ]] || b=$REPO/$b
	run "$REPO/tests/helpers/modcycles" "$b"
	assert_success
	assert_output --partial 'snap -> '
	refute_output --partial cycle
}

@test "source: make lint passes (clang-format, mandoc -Tlint, shellcheck)" {
	run make -s -C "$REPO" lint
	assert_success
}

@test "source: make lint fails on a file clang-format would change" {
	local t=$BATS_TEST_TMPDIR/r
	cp -a "$REPO/." "$t"
	printf 'int f(void);\nint f(void) { return 1; }\n' >>"$t/lib/err.c"
	run make -s -C "$t" lint
	assert_failure
	assert_output --partial 'err.c'
}

@test "source: no function in lib/ is over 100 lines" {
	local f long=
	for f in "$REPO"/lib/*.c; do
		long+=$(awk -v F="${f##*/}" '/^[a-z].*\(/ { name = $0; start = NR }
			/^}/ && start { if (NR - start + 1 > 100) printf " %s:%d", F, start; start = 0 }' "$f")
	done
	[[ -z $long ]] || fail "functions over 100 lines at:$long"
}
