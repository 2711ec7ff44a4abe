#!/usr/bin/env bash
# Run every test: the C unit tests (TAP) and the bats suites (TAP), then
# print one closing line "N passed, N failed[, N skipped]". Under CI=true a
# skipped test counts as a failure. Usage: tests/run.sh [suite.bats ...]
set -u
cd "$(dirname "$0")/.." || exit 2

passed=0 failed=0 skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

tally() {	# name: reads TAP on stdin, echoes it, counts
	local name=$1 line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		"not ok "*)
			failed=$((failed + 1)); printf '%s: %s\n' "$name" "$line" >>"$log" ;;
		"ok "*"# skip"* | "ok "*"# SKIP"*)
			skipped=$((skipped + 1))
			if [[ ${CI:-} == true ]]; then
				failed=$((failed + 1)); printf '%s: skipped under CI: %s\n' "$name" "$line" >>"$log"
			fi ;;
		"ok "*)
			passed=$((passed + 1)) ;;
		esac
	done
}

if (($# == 0)); then
	for t in "${SK_BUILD:-build}"/tests/*; do
		[[ -f $t && -x $t ]] || continue
		echo "# unit: $t"
		tally "$t" < <("$t" 2>&1; echo "# exit $?")
	done
	set -- tests/*.bats
fi
for s in "$@"; do
	echo "# suite: $s"
	tally "$s" < <(bats --tap "$s" 2>&1)
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
