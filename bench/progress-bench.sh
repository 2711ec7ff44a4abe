#!/bin/bash
# progress-bench.sh: what the progress display costs ws-export. With
# progress on, ws-export first walks the workspace to learn its total (a
# stat of every entry), then archives it. The worst case for that pass is a
# tree of many small files with the page cache warm, which this makes: FILES
# files of 200 bytes in directories of 250. It times, in one run and
# alternating, tar -c (into a pipe: GNU tar skips reading for /dev/null),
# ws-export -z none, and ws-export -z none --progress (stderr to /dev/null,
# so the plain-line mode), and prints the median CPU time (user + system) and
# wall time of each with ratios against tar.
#
# Environment: BENCH_DIR (default /var/tmp/statekit-bench), FILES (default
# 50000), REPS (default 5), SK_BIN (default build/bin).
set -euo pipefail

cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-/var/tmp/statekit-bench}/progress
files=${FILES:-50000}
reps=${REPS:-5}
bin=${SK_BIN:-build/bin}
[[ -x $bin/ws-export ]] || { echo "progress-bench: no $bin/ws-export: run make first" >&2; exit 2; }

ws=$dir/ws/bot1
if [[ ! -f $dir/made-$files ]]; then
	rm -rf "$dir"
	mkdir -p "$ws"
	python3 - "$ws" "$files" <<-'PY'
		import os, sys
		root, n = sys.argv[1], int(sys.argv[2])
		for i in range(n):
		    d = os.path.join(root, "d%d" % (i // 250))
		    os.makedirs(d, exist_ok=True)
		    with open(os.path.join(d, "f%d" % i), "wb") as f:
		        f.write(os.urandom(200))
	PY
	touch "$dir/made-$files"
fi
printf '[state]\ndir = %s/state\n[workspace]\npath = %s/ws/%%s\n' "$dir" "$dir" >"$dir/statekit.ini"
export STATEKIT_CONFIG=$dir/statekit.ini

# run NAME CMD...: one timed run, appended to $dir/NAME as "cpu wall".
run() {
	local name=$1
	shift
	/usr/bin/time -o "$dir/t" -f '%U %S %e' "$@" >/dev/null 2>&1
	awk '{ printf "%.3f %.3f\n", $1 + $2, $3 }' "$dir/t" >>"$dir/$name"
}

rm -f "$dir/tar" "$dir/plain" "$dir/progress"
# one warm-up of each, not counted
tar -C "$ws" -cf - . | cat >/dev/null
"$bin/ws-export" -z none -o /dev/null bot1 2>/dev/null
for ((i = 0; i < reps; i++)); do
	# shellcheck disable=SC2016  # $1 is for the inner sh, not this one
	run tar sh -c 'tar -C "$1" -cf - . | cat' sh "$ws"
	run plain "$bin/ws-export" -z none -o /dev/null bot1
	run progress "$bin/ws-export" --progress -z none -o /dev/null bot1
done

median() { sort -n -k"$2" "$dir/$1" | awk -v k="$2" '{ v[NR] = $k } END { print v[int((NR + 1) / 2)] }'; }
tc=$(median tar 1) tw=$(median tar 2)
printf '%-32s %8s %8s %9s %9s\n' "$files files of 200 B" "cpu s" "wall s" "cpu/tar" "wall/tar"
for n in tar plain progress; do
	c=$(median $n 1) w=$(median $n 2)
	case $n in
	tar) label="tar -c | cat" ;;
	plain) label="ws-export -z none" ;;
	progress) label="ws-export -z none --progress" ;;
	esac
	printf '%-32s %8s %8s %9.2f %9.2f\n' "$label" "$c" "$w" \
		"$(echo "$c / $tc" | bc -l)" "$(echo "$w / $tw" | bc -l)"
done
