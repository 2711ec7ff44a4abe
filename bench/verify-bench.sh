#!/bin/bash
# verify-bench.sh: time ws-preserve --verify of one generation beside what an
# operator would run by hand to check the same archive (sha256sum, then
# gzip -t / zstd -t, then tar -t), and ws-preserve --ls and --dump beside
# tar -t and tar -x to stdout, in one run. Prints the median of REPS runs,
# from a warm page cache, and ratios.
#
# Environment (all optional):
#   BENCH_DIR  where the workspace and the state live (default
#              /var/tmp/statekit-verify); the workspace is kept for the next
#              run, the state is removed
#   SIZE_MB    size of the sample workspace in MiB (default 1024)
#   REPS       timed repetitions per row (default 3)
#   SK_BIN     directory holding ws-preserve (default build/bin)
#
# Exit status: 0 measured; 1 a command failed; 2 usage.
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/statekit-verify}
SIZE_MB=${SIZE_MB:-1024}
REPS=${REPS:-3}
SK_BIN=${SK_BIN:-$REPO/build/bin}

die() { echo "$PROG: $*" >&2; exit "${EXIT:-1}"; }
note() { echo "$PROG: $*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) EXIT=2 die "no arguments expected (see --help)" ;;
esac
[[ -x $SK_BIN/ws-preserve ]] || EXIT=2 die "no $SK_BIN/ws-preserve: run make first"
export PATH=$SK_BIN:$PATH

ST=$BENCH_DIR/state
cleanup() { rm -rf "$ST" "$BENCH_DIR/statekit.ini"; }
trap cleanup EXIT
mkdir -p "$BENCH_DIR"
bash "$HERE/gen-workspace.sh" "$BENCH_DIR/ws" "$SIZE_MB" >&2
rm -rf "$ST"
# The bot is "ws": its workspace the generated tree, where it is.
printf '[state]\ndir = %s\n[workspace]\npath = %s/%%s\nkeep = 10\n' "$ST" "$BENCH_DIR" \
	>"$BENCH_DIR/statekit.ini"
export STATEKIT_CONFIG=$BENCH_DIR/statekit.ini

# median SECONDS...: the middle one
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now() { date +%s.%N; }
# timeit CMD: the median wall time of REPS runs of CMD (a shell line)
timeit() {
	local i t0 t1 ts=()
	bash -c "$1" >/dev/null 2>&1 || die "failed: $1"
	for ((i = 0; i < REPS; i++)); do
		t0=$(now)
		bash -c "$1" >/dev/null 2>&1 || die "failed: $1"
		t1=$(now)
		ts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
	done
	median "${ts[@]}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo "Workspace: $SIZE_MB MiB (bench/gen-workspace.sh); $(nproc) cores; median of $REPS runs, warm cache."
echo
echo "| codec | case | time | vs ws-preserve |"
echo "| --- | --- | --- | --- |"
g=0
for z in gzip zstd; do
	g=$((g + 1))
	ws-preserve -q -z "$z" ws
	f=$(sqlite3 "$ST/index.db" "select file from backups where generation = $g")
	f=$ST/backups/ws/$f
	t=-z
	[[ $z == zstd ]] && t=--zstd
	v=$(timeit "ws-preserve --verify -g $g ws")
	h=$(timeit "sha256sum '$f' && $z -t '$f' && tar $t -tf '$f'")
	echo "| $z | ws-preserve --verify | $v s | 1.00x |"
	echo "| $z | sha256sum; $z -t; tar -t | $h s | $(ratio "$h" "$v") |"
	l=$(timeit "ws-preserve --ls -g $g ws")
	tl=$(timeit "tar $t -tvf '$f'")
	echo "| $z | ws-preserve --ls | $l s | 1.00x |"
	echo "| $z | tar -tv | $tl s | $(ratio "$tl" "$l") |"
	d=$(timeit "ws-preserve --dump -g $g ws >/dev/null")
	td=$(timeit "$z -dc '$f' >/dev/null")
	echo "| $z | ws-preserve --dump | $d s | 1.00x |"
	echo "| $z | $z -dc | $td s | $(ratio "$td" "$d") |"
done
