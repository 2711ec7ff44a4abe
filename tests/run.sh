#!/usr/bin/env bash
# Run every test: the C unit tests (TAP) and the bats suites (TAP), then
# print one closing line "N passed, N failed[, N skipped]". Under CI=true a
# skipped test counts as a failure. A program (unit test or bats) also
# counts as one failure when its own lines do not say so: it exits non-zero
# or dies by a signal without a "not ok", or it ran a different number of
# tests than its "1..N" plan (a missing plan included: the unit tests print
# theirs last, so a crash leaves none).
# Usage: tests/run.sh [suite.bats | unit-program ...]
set -u
cd "$(dirname "$0")/.." || exit 2

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tally() {	# name: reads TAP on stdin, echoes it, counts; sets ran, bad, plan
	local name=$1 line
	ran=0 bad=0 plan=
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"not ok "*)
			ran=$((ran + 1)) bad=$((bad + 1))
			failed=$((failed + 1)); printf '%s: %s\n' "$name" "$line" >>"$log" ;;
		"ok "*"# skip"* | "ok "*"# SKIP"*)
			ran=$((ran + 1))
			skipped=$((skipped + 1))
			if [[ ${CI:-} == true ]]; then
				failed=$((failed + 1)); printf '%s: skipped under CI: %s\n' "$name" "$line" >>"$log"
			fi ;;
		"ok "*)
			ran=$((ran + 1))
			passed=$((passed + 1)) ;;
		1..*)
			[[ -z $plan && $line =~ ^1\.\.([0-9]+) ]] && plan=${BASH_REMATCH[1]} ;;
		esac
	done
}

# name status: after tally, count what the TAP lines did not say.
verdict() {
	local name=$1 status=$2 why=
	if ((status > 128)); then
		why="killed by signal $((status - 128)) ($(kill -l $((status - 128)) 2>/dev/null || echo '?'))"
	elif ((status != 0 && bad == 0)); then
		why="exit status $status without a failed test"
	fi
	if [[ -z $plan ]]; then
		why+="${why:+, }no 1..N plan (ran $ran)"
	elif ((plan != ran)); then
		why+="${why:+, }planned $plan tests, ran $ran"
	fi
	[[ -z $why ]] && return 0
	echo "# $name: $why"
	failed=$((failed + 1))
	printf '%s: %s\n' "$name" "$why" >>"$log"
}

unit() {	# program: one C unit test
	echo "# unit: $1"
	tally "$1" < <("$1" 2>&1)
	wait $!
	verdict "$1" $?
}

if (($# == 0)); then
	for t in "${SK_BUILD:-build}"/tests/*; do
		[[ -f $t && -x $t ]] && unit "$t"
	done
	set -- tests/*.bats
fi
for s in "$@"; do
	if [[ $s != *.bats && -f $s && -x $s ]]; then
		unit "$s"
		continue
	fi
	echo "# suite: $s"
	tally "$s" < <(bats --tap "$s" 2>&1)
	wait $!
	verdict "$s" $?
done

if [[ -s $log ]]; then
	echo "# failures:"
	sed 's/^/#   /' "$log"
fi
if ((skipped)); then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0 && passed > 0))
