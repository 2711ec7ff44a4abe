#!/usr/bin/env bash
# Build the libFuzzer targets of tests/fuzz (make fuzz), make their seeds,
# and run each for SECONDS (default 60), one after the other. Prints per
# target how long it ran and how many inputs it tried; exits 1 when any
# target crashed, leaked, tripped a sanitizer or a harness check, 2 when the
# fuzzers could not be built or run. What a finding needs to be reproduced
# is kept in build-fuzz/findings/ (run the target on that file).
#
# Usage: scripts/fuzz.sh [SECONDS]
#   SK_FUZZ_TARGETS="targuard codec"  only these targets (default: all)
#   SK_FUZZ_CORPUS=DIR                keep each target's corpus in DIR/TARGET
#                                     across runs (default: a temporary one)
set -u
cd "$(dirname "$0")/.." || exit 2

secs=${1:-60}
[[ $secs =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
fb=build-fuzz

make -s fuzz || { echo "fuzz: cannot build the fuzz targets (is clang with libclang-rt installed? scripts/deps.sh --fuzz)" >&2; exit 2; }

# The targets write only under TMPDIR: a private one, in memory when we can.
base=/dev/shm
[[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/sk-fuzz.XXXXXX") || exit 2
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work/tmp" "$fb/findings"

bash tests/fuzz/seeds.sh "$work/seeds" || { echo "fuzz: cannot make the seeds" >&2; exit 2; }

targets=${SK_FUZZ_TARGETS:-$(for f in tests/fuzz/*_fuzz.c; do f=${f##*/}; echo "${f%_fuzz.c}"; done)}
found=0 total_execs=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in $targets; do
	bin=$fb/fuzz/${t}_fuzz
	[[ -x $bin ]] || { echo "fuzz: no target '$t'" >&2; exit 2; }
	corpus=$work/corpus/$t
	[[ -n ${SK_FUZZ_CORPUS:-} ]] && corpus=$SK_FUZZ_CORPUS/$t
	mkdir -p "$corpus" "$work/art/$t"
	dict=()
	[[ -f tests/fuzz/$t.dict ]] && dict=("-dict=tests/fuzz/$t.dict")
	log=$work/$t.log
	start=$(date +%s)
	# -timeout: one input taking 30 s is a finding too.
	TMPDIR=$work/tmp "$bin" -max_total_time="$secs" -timeout=30 -print_final_stats=1 \
		-artifact_prefix="$work/art/$t/" "${dict[@]}" "$corpus" "$work/seeds/$t" \
		>"$log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	pid=
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	execs=${execs:-0}
	total_execs=$((total_execs + execs))
	units=$(find "$corpus" -type f | wc -l)
	if ((rc != 0)) || grep -qE '^==[0-9]+==ERROR|runtime error:|fuzz finding:|^SUMMARY: ' "$log"; then
		found=$((found + 1))
		echo "fuzz: $t: FINDING after ${took} s and $execs execs (exit $rc):"
		grep -vE '^#[0-9]+|^INFO:|NEW_FUNC' "$log" | tail -60 | sed 's/^/  /'
		for a in "$work/art/$t"/*; do
			[[ -f $a ]] || continue
			cp "$a" "$fb/findings/$t-$(basename "$a")"
			echo "  reproducer: $fb/findings/$t-$(basename "$a") ($(stat -c %s "$a") bytes);" \
				"run: $bin $fb/findings/$t-$(basename "$a")"
		done
	else
		echo "fuzz: $t: ran ${took} s, $execs execs ($((execs / (took > 0 ? took : 1)))/s), corpus $units, no findings"
	fi
done
if ((found)); then
	echo "fuzz: $found of $(wc -w <<<"$targets") targets found something ($total_execs execs)"
	exit 1
fi
echo "fuzz: $(wc -w <<<"$targets") targets, $total_execs execs, no findings"
