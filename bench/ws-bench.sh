#!/bin/bash
# ws-bench.sh: time ws-export and ws-import beside tar, gzip, pigz and zstd on
# the same workspace, in one run, and print one table. See bench/README.md.
#
# Environment (all optional):
#   BENCH_DIR      where the cached workspace and this run's scratch files live
#                  (default /var/tmp/statekit-bench)
#   SIZE_MB        size of the sample workspace in MiB (default 1024; 200 for
#                  a quick run)
#   REPS           timed repetitions per row (default 3); the table shows the
#                  median
#   CASES          which groups to run, from: export-gzip export-zstd
#                  roundtrip-gzip roundtrip-zstd import-gzip import-zstd
#                  (default all of them)
#   SK_BIN         directory holding ws-export and ws-import (default
#                  build/bin of this checkout)
#   STANDARD_ONLY  1: time only the standard tools (no statekit needed)
#   EXTRA          1: also time rows for context only: a pigz round trip, a
#                  pigz extraction, and tar -x followed by sync -f
#   STRICT         1: exit 3 when a target is missed
#   SEED           passed on to gen-workspace.sh (default 1)
#
# Exit status: 0 measured (targets met or not, unless STRICT=1); 1 a command
# failed or a result did not match the source tree (no speed is reported for
# it); 2 usage or missing tools; 3 a target was missed under STRICT=1.

# The timed commands are functions called through a variable:
# shellcheck disable=SC2317
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)

die() {
	echo "$PROG: $*" >&2
	exit "${EXIT:-1}"
}
note() {
	echo "$PROG: $*" >&2
}

ALL_CASES="export-gzip export-zstd roundtrip-gzip roundtrip-zstd import-gzip import-zstd"

usage() {
	cat <<EOF
Usage: [VAR=value ...] $PROG

Time ws-export and ws-import against tar, gzip, pigz and zstd on one
generated sample workspace and print a table with the targets of issue 2.

  BENCH_DIR=DIR       cache and scratch directory (default /var/tmp/statekit-bench)
  SIZE_MB=N           sample workspace size in MiB (default 1024)
  REPS=N              timed runs per row, the median is shown (default 3)
  CASES="..."         subset of: $ALL_CASES
  SK_BIN=DIR          where ws-export and ws-import are (default build/bin)
  STANDARD_ONLY=1     time the standard tools only
  EXTRA=1             add rows for context (pigz; tar -x followed by sync)
  STRICT=1            exit 3 if a target is missed

Remove the cached workspace with: rm -rf BENCH_DIR
EOF
}
case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
'') ;;
*)
	usage >&2
	exit 2
	;;
esac

BENCH_DIR=$(realpath -m -- "${BENCH_DIR:-/var/tmp/statekit-bench}")
SIZE_MB=${SIZE_MB:-1024}
REPS=${REPS:-3}
CASES=${CASES:-$ALL_CASES}
SK_BIN=${SK_BIN:-$HERE/../build/bin}
STANDARD_ONLY=${STANDARD_ONLY:-0}
STRICT=${STRICT:-0}
EXTRA=${EXTRA:-0}
export SEED=${SEED:-1}

[[ $REPS =~ ^[1-9][0-9]*$ ]] || EXIT=2 die "REPS must be a positive number: '$REPS'"
[[ $SIZE_MB =~ ^[0-9]+$ ]] || EXIT=2 die "SIZE_MB must be a number of MiB: '$SIZE_MB'"
for c in $CASES; do
	case " $ALL_CASES " in
	*" $c "*) ;;
	*) EXIT=2 die "unknown case '$c' (known: $ALL_CASES)" ;;
	esac
done
want() {
	case " $CASES " in *" $1 "*) return 0 ;; esac
	return 1
}

# ---- tools -------------------------------------------------------------

missing_tools() {
	local t
	for t in tar gzip pigz zstd perl openssl cksum findmnt flock; do
		command -v "$t" >/dev/null || printf '%s ' "$t"
	done
}
missing=$(missing_tools)
if [ -n "$missing" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		# Debian package names: findmnt and flock are in util-linux, cksum in
		# coreutils.
		pkgs=$(echo "$missing" | sed 's/findmnt/util-linux/; s/flock/util-linux/; s/cksum/coreutils/')
		note "installing missing tools: $pkgs"
		# shellcheck disable=SC2086
		apt-get install -y -q --no-install-recommends $pkgs >&2 ||
			{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends $pkgs >&2; } ||
			die "apt-get could not install: $pkgs"
		missing=$(missing_tools)
	fi
	[ -z "$missing" ] || EXIT=2 die "missing tools: $missing(install them, e.g. apt-get install pigz zstd)"
fi

SK=0
if [ "$STANDARD_ONLY" != 1 ]; then
	SK_BIN=$(realpath -m -- "$SK_BIN")
	for b in ws-export ws-import; do
		[ -x "$SK_BIN/$b" ] ||
			EXIT=2 die "no $SK_BIN/$b: run make first, set SK_BIN, or set STANDARD_ONLY=1"
		"$SK_BIN/$b" --version >/dev/null || die "'$SK_BIN/$b --version' failed"
	done
	SK_VERSION=$("$SK_BIN/ws-export" --version | head -1)
	SK=1
fi

# ---- places ------------------------------------------------------------

# ws/ holds the workspaces under the [workspace] path template: the cached
# source tree, and the destination that every import or extraction writes.
WSROOT=$BENCH_DIR/ws
SRC_BOT=src-$SIZE_MB
DST_BOT=bench-dst
SRC=$WSROOT/$SRC_BOT
DST=$WSROOT/$DST_BOT
mkdir -p -- "$WSROOT"
# One run at a time per BENCH_DIR: they would share the destination. Under
# the lock, scratch left by a run that was killed outright is ours to remove.
exec 9>"$BENCH_DIR/.lock"
flock -n 9 || die "another $PROG is running in '$BENCH_DIR'"
rm -rf -- "$BENCH_DIR"/run.*
RUN=$(mktemp -d "$BENCH_DIR/run.XXXXXX")

cleanup() {
	rm -rf -- "$RUN" "$DST" "$WSROOT/.$DST_BOT".statekit-*
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

avail_mb=$(df -P -m -- "$BENCH_DIR" | awk 'NR == 2 { print $4 }')
if [ ! -f "$SRC/.statekit-bench-workspace" ]; then
	need=$((SIZE_MB * 4))
else
	need=$((SIZE_MB * 3))
fi
[ "$avail_mb" -ge "$need" ] ||
	die "'$BENCH_DIR' has $avail_mb MiB free, the run needs about $need MiB"

"$HERE/gen-workspace.sh" "$SRC" "$SIZE_MB"

CFG=$RUN/statekit.ini
cat >"$CFG" <<EOF
[state]
dir = $RUN/state

[workspace]
backend = dir
path = $WSROOT/%s
EOF
mkdir "$RUN/state" "$RUN/out"
OUT=$RUN/out/out
export STATEKIT_CONFIG=$CFG

# The size every MB/s figure is taken of: the apparent size of the tree
# (file lengths, a hardlinked file once, the sparse file at its full length).
WS_BYTES=$(du -s --apparent-size -B1 -- "$SRC" | cut -f1)
WS_FILES=$(find "$SRC" -type f | wc -l)

# ---- the machine -------------------------------------------------------

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
[ -n "$cpu" ] || cpu=$(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
fs=$(findmnt -n -o FSTYPE,SOURCE -T "$BENCH_DIR" | awk '{ print $1 " on " $2 }')
echo "statekit workspace benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine:   $(nproc) cores, $cpu, $mem, Linux $(uname -r)"
echo "bench dir: $BENCH_DIR ($fs)"
echo "workspace: $SRC: $WS_FILES files, $(awk -v b="$WS_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB apparent size (SIZE_MB=$SIZE_MB, seed $SEED)"
echo "tools:     $(tar --version | head -1), $(gzip --version | head -1), $(pigz --version 2>&1 | head -1), $(zstd --version | sed 's/^\*\*\* //; s/, by.*//')"
if [ "$SK" = 1 ]; then
	echo "statekit:  $SK_VERSION, $SK_BIN"
else
	echo "statekit:  not measured (STANDARD_ONLY=1)"
fi
echo "method:    median of $REPS timed runs per row after one untimed read of the tree;"
echo "           sync before each run, outputs go to files in the bench dir;"
echo "           MB = 10^6 bytes; MB/s = workspace apparent size / seconds"
echo

# ---- checking results --------------------------------------------------

# A signature of a tree: every entry's name, type and mode, sizes, link
# counts, owners, mtimes of regular files and symlink targets, then a CRC of
# every regular file's content. Directory sizes and times are left out: they
# depend on how the directory was filled, not on what it holds.
tree_sig() {
	(
		cd "$1" &&
			find . -mindepth 1 \( -type d -printf '%P d %m %U:%G\n' \) \
				-o \( -type l -printf '%P l %l %U:%G\n' \) \
				-o \( -type f -printf '%P f %m %s %n %U:%G %T@\n' \) \
				-o -printf '%P %y\n' | LC_ALL=C sort &&
			find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r cksum
	) | md5sum | cut -d' ' -f1
}

note "computing the signature of the source tree"
SRC_SIG=$(tree_sig "$SRC")

check_dst() {
	local what=$1 sig
	sig=$(tree_sig "$DST")
	if [ "$sig" != "$SRC_SIG" ]; then
		note "WRONG RESULT: $what: '$DST' differs from '$SRC'; first differences:"
		diff <(cd "$SRC" && find . -printf '%P %y %m %s %n %l\n' | LC_ALL=C sort) \
			<(cd "$DST" && find . -printf '%P %y %m %s %n %l\n' | LC_ALL=C sort) |
			head -20 >&2 || true
		exit 1
	fi
}

# ---- timing ------------------------------------------------------------

fresh_dst() {
	rm -rf -- "$DST" "$WSROOT/.$DST_BOT".statekit-*
	mkdir -- "$DST"
}

# Table rows, one per timed command, fields separated by tabs:
# group, label, who, median seconds, median CPU seconds, output bytes, target
ROWS=()
TAB=$'\t'

# Set CHILD_CPU to the CPU seconds (user + system) of this shell's finished
# children so far. `times` must run in this shell, not in a $(...) subshell,
# to see them, hence a global rather than output.
CHILD_CPU=0
children_cpu() {
	times >"$RUN/times"
	CHILD_CPU=$(awk 'NR == 2 {
		split($0, f, /[ ms]+/)
		print f[1] * 60 + f[2] + f[3] * 60 + f[4]
	}' "$RUN/times")
}
# CPU seconds the whole machine spent busy so far (all cores, idle and
# iowait excluded).
machine_cpu() {
	awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat
}
TIMED_WALL=0
TIMED_OTHER=0

median_of() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}

# A group is built with row calls, then timed by run_group.
#   row WHO LABEL RUN CHECK [TARGET]
#   WHO: sk (statekit; left out under STANDARD_ONLY=1), std, or extra (a
#   standard row for context, timed only with EXTRA=1). RUN is the function
#   timed. CHECK: "out" (RUN writes $OUT; its size goes in the table) or
#   "dst" (RUN fills $DST, which is then compared with the source).
G_WHO=() G_LABEL=() G_RUN=() G_CHECK=() G_TARGET=()
row() {
	[ "$1" != sk ] || [ "$SK" = 1 ] || return 0
	[ "$1" != extra ] || [ "$EXTRA" = 1 ] || return 0
	G_WHO+=("$1") G_LABEL+=("$2") G_RUN+=("$3") G_CHECK+=("$4") G_TARGET+=("${5:--}")
}

# run_group GROUP: REPS rounds, each running every row once; the order
# rotates from round to round, so that a change in background load or
# writeback falls on all rows alike. Before each run the destination or
# output is removed and the page cache flushed (sync), both untimed.
# statekit's trees are compared with the source after every run, the
# standard tools' after the last one. statekit's output from the last round
# is left in $RUN/out/sk.
run_group() {
	local group=$1 n=${#G_RUN[@]} r k i t0 t1 c0 c1 m0 m1 rc who
	local -a times=() cpus=() outsize=()
	for ((i = 0; i < n; i++)); do
		times[i]='' cpus[i]='' outsize[i]=-
	done
	for ((r = 0; r < REPS; r++)); do
		for ((k = 0; k < n; k++)); do
			i=$(((k + r) % n))
			who=${G_WHO[i]}
			OUT=$RUN/out/$i
			[ "$who" != sk ] || OUT=$RUN/out/sk
			if [ "${G_CHECK[i]}" = dst ]; then fresh_dst; else rm -f -- "$OUT"; fi
			sync
			children_cpu
			c0=$CHILD_CPU
			m0=$(machine_cpu)
			t0=$(date +%s.%N)
			rc=0
			"${G_RUN[i]}" 2>"$RUN/stderr" || rc=$?
			t1=$(date +%s.%N)
			m1=$(machine_cpu)
			children_cpu
			c1=$CHILD_CPU
			if [ "$rc" != 0 ]; then
				note "FAILED: $group: ${G_LABEL[i]} exited $rc; its stderr:"
				sed 's/^/  /' "$RUN/stderr" >&2
				exit 1
			fi
			if [ -s "$RUN/stderr" ] && [ "$who" = sk ]; then
				note "${G_LABEL[i]} wrote to stderr:"
				sed 's/^/  /' "$RUN/stderr" >&2
			fi
			times[i]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
			cpus[i]+=" $(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
			read -r TIMED_WALL TIMED_OTHER < <(awk -v w="$TIMED_WALL" -v o="$TIMED_OTHER" \
				-v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v m0="$m0" -v m1="$m1" \
				'BEGIN { x = (m1 - m0) - (c1 - c0); if (x < 0) x = 0; print w + t1 - t0, o + x }')
			if [ "${G_CHECK[i]}" = dst ]; then
				if [ "$who" = sk ] || [ "$r" = $((REPS - 1)) ]; then
					check_dst "${G_LABEL[i]}"
				fi
			else
				outsize[i]=$(stat -c %s -- "$OUT")
				[ "$who" = sk ] || rm -f -- "$OUT"
			fi
		done
	done
	[ "${G_CHECK[0]:-}" != dst ] || fresh_dst
	for ((i = 0; i < n; i++)); do
		local med cpu
		# shellcheck disable=SC2086
		med=$(median_of ${times[i]})
		# shellcheck disable=SC2086
		cpu=$(median_of ${cpus[i]})
		note "$group: ${G_LABEL[i]}:${times[i]} s (CPU${cpus[i]} s), median $med s"
		who=${G_WHO[i]}
		[ "$who" != extra ] || who=std
		ROWS+=("$group$TAB${G_LABEL[i]}$TAB$who$TAB$med$TAB$cpu$TAB${outsize[i]}$TAB${G_TARGET[i]}")
	done
	G_WHO=() G_LABEL=() G_RUN=() G_CHECK=() G_TARGET=()
}

# Commands, one function each, so that every pipeline's status counts
# (pipefail) and the stderr of all its parts is kept.
sk_export() { "$SK_BIN/ws-export" -q -z "$1" -l "$2" "$SRC_BOT"; }
sk_import() { "$SK_BIN/ws-import" -q "$DST_BOT"; }

c_sk_export_gzip() { sk_export gzip 6 >"$OUT"; }
c_tar_czf() { tar -czf "$OUT" -C "$SRC" .; }
c_tar_pigz() { tar -cf - -C "$SRC" . | pigz -6 >"$OUT"; }
c_sk_export_zstd() { sk_export zstd 3 >"$OUT"; }
c_tar_zstd() { tar -cf - -C "$SRC" . | zstd -q -T0 -3 >"$OUT"; }

c_sk_rt_gzip() { sk_export gzip 6 | sk_import; }
c_tar_rt_gzip() { tar -czf - -C "$SRC" . | tar -xzf - -C "$DST"; }
c_pigz_rt() { tar -cf - -C "$SRC" . | pigz -6 | pigz -dc | tar -xf - -C "$DST"; }
c_sk_rt_zstd() { sk_export zstd 3 | sk_import; }
c_tar_rt_zstd() { tar -cf - -C "$SRC" . | zstd -q -T0 -3 | zstd -q -dc | tar -xf - -C "$DST"; }

STREAM_GZ=$RUN/stream.tar.gz
STREAM_ZST=$RUN/stream.tar.zst
c_sk_import_gz() { sk_import <"$STREAM_GZ"; }
c_tar_xzf() { tar -xzf "$STREAM_GZ" -C "$DST"; }
c_tar_xzf_sync() { tar -xzf "$STREAM_GZ" -C "$DST" && sync -f "$DST"; }
c_pigz_x() { pigz -dc "$STREAM_GZ" | tar -xf - -C "$DST"; }
c_sk_import_zst() { sk_import <"$STREAM_ZST"; }
c_tar_xzst() { tar --zstd -xf "$STREAM_ZST" -C "$DST"; }
c_tar_xzst_sync() { tar --zstd -xf "$STREAM_ZST" -C "$DST" && sync -f "$DST"; }

# The stream the import rows read: statekit's own export when statekit is
# measured (kept from the export rows, or made here), else pigz's or zstd's.
# statekit's stream is first extracted by the standard tar and compared with
# the source, so a bad export is caught even without the import rows.
CHECKED=
stream_ready() {
	local codec=$1 file=$2
	if [ ! -s "$file" ]; then
		note "writing the $codec stream for the import rows"
		if [ "$SK" = 1 ]; then
			local level=3
			[ "$codec" = zstd ] || level=6
			sk_export "$codec" "$level" >"$file" || die "FAILED: ws-export -z $codec exited $?"
		elif [ "$codec" = gzip ]; then
			tar -cf - -C "$SRC" . | pigz -6 >"$file"
		else
			tar -cf - -C "$SRC" . | zstd -q -T0 -3 >"$file"
		fi
	fi
	if [ "$SK" = 0 ] || [[ " $CHECKED " == *" $codec "* ]]; then
		return 0
	fi
	note "checking ws-export's $codec stream with the standard tools"
	fresh_dst
	# gzip -d and zstd -d check the CRCs and checksums as they go, and tar
	# fails when they do.
	if [ "$codec" = gzip ]; then
		tar -xzf "$file" -C "$DST" || die "FAILED: gzip or tar rejects ws-export's gzip stream"
	else
		tar --zstd -xf "$file" -C "$DST" || die "FAILED: zstd or tar rejects ws-export's zstd stream"
	fi
	check_dst "ws-export -z $codec, extracted by tar"
	fresh_dst
	CHECKED="$CHECKED $codec"
}
keep_stream() {
	[ "$SK" = 1 ] || return 0
	mv -- "$RUN/out/sk" "$2"
	stream_ready "$1" "$2"
}

note "warming the page cache with one read of the tree"
tar -cf - -C "$SRC" . | cat >/dev/null

if want export-gzip; then
	row sk "ws-export -z gzip -l 6 > file" c_sk_export_gzip out
	row std "tar -czf file (gzip -6, 1 thread)" c_tar_czf out
	row std "tar -cf - | pigz -6 > file" c_tar_pigz out 1.00
	run_group export-gzip
	keep_stream gzip "$STREAM_GZ"
fi
if want export-zstd; then
	row sk "ws-export -z zstd -l 3 > file" c_sk_export_zstd out
	row std "tar -cf - | zstd -T0 -3 > file" c_tar_zstd out 0.90
	run_group export-zstd
	keep_stream zstd "$STREAM_ZST"
fi
if want roundtrip-gzip; then
	row sk "ws-export -z gzip | ws-import" c_sk_rt_gzip dst
	row std "tar -czf - | tar -xzf -" c_tar_rt_gzip dst
	row extra "tar -c | pigz -6 | pigz -d | tar -x" c_pigz_rt dst
	run_group roundtrip-gzip
fi
if want roundtrip-zstd; then
	row sk "ws-export -z zstd | ws-import" c_sk_rt_zstd dst
	row std "tar -c | zstd -T0 -3 | zstd -d | tar -x" c_tar_rt_zstd dst
	run_group roundtrip-zstd
fi
if want import-gzip; then
	stream_ready gzip "$STREAM_GZ"
	row sk "ws-import < stream.tar.gz" c_sk_import_gz dst
	row std "tar -xzf stream.tar.gz" c_tar_xzf dst 1.00
	row extra "pigz -dc stream.tar.gz | tar -x" c_pigz_x dst
	row extra "tar -xzf stream.tar.gz; sync -f" c_tar_xzf_sync dst
	run_group import-gzip
fi
if want import-zstd; then
	stream_ready zstd "$STREAM_ZST"
	row sk "ws-import < stream.tar.zst" c_sk_import_zst dst
	row std "tar --zstd -xf stream.tar.zst" c_tar_xzst dst 1.00
	row extra "tar --zstd -xf stream.tar.zst; sync -f" c_tar_xzst_sync dst
	run_group import-zstd
fi

# ---- the table ---------------------------------------------------------

stream_note() {
	local f=$1
	[ -s "$f" ] || return 0
	awk -v b="$(stat -c %s -- "$f")" 'BEGIN { printf " (stream %.1f MB)", b / 1e6 }'
}

missed=0
met=0
fmt='%-2s%-40s %8s %7s %7s %5s %9s %8s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" "" "case / command" "median s" "MB/s" "CPU s" cores "output MB" "sk ratio" "target"
printf '%s\n' "$(printf '%.0s-' {1..110})"
prev=
sk_time=
for row in "${ROWS[@]}"; do
	IFS=$TAB read -r group label who secs cpu outsize target <<<"$row"
	if [ "$group" != "$prev" ]; then
		sk_time=
		for r2 in "${ROWS[@]}"; do
			IFS=$TAB read -r g2 _ w2 s2 _ _ _ <<<"$r2"
			if [ "$g2" = "$group" ] && [ "$w2" = sk ]; then sk_time=$s2; fi
		done
		title=$group
		case $group in
		import-gzip) title="$title$(stream_note "$STREAM_GZ")" ;;
		import-zstd) title="$title$(stream_note "$STREAM_ZST")" ;;
		esac
		echo "$title"
		prev=$group
	fi
	mbs=$(awk -v b="$WS_BYTES" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? b / 1e6 / s : 0) }')
	outmb=-
	if [ "$outsize" != - ]; then
		outmb=$(awk -v b="$outsize" 'BEGIN { printf "%.1f", b / 1e6 }')
	fi
	ratio=-
	verdict=
	if [ "$who" = std ] && [ -n "$sk_time" ]; then
		ratio=$(awk -v a="$secs" -v b="$sk_time" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')
	fi
	if [ "$target" != - ]; then
		if [ "$ratio" = - ]; then
			verdict=">= ${target}x"
		elif awk -v r="${ratio%x}" -v t="$target" 'BEGIN { exit !(r >= t) }'; then
			verdict=">= ${target}x met"
			met=$((met + 1))
		else
			verdict=">= ${target}x MISSED"
			missed=$((missed + 1))
		fi
	fi
	mark=
	if [ "$who" = sk ]; then mark='*'; fi
	cores=$(awk -v c="$cpu" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? c / s : 0) }')
	# shellcheck disable=SC2059
	printf "$fmt" "$mark" "$label" "$(printf %.2f "$secs")" "$mbs" "$(printf %.2f "$cpu")" "$cores" \
		"$outmb" "$ratio" "$verdict"
done
other=$(awk -v w="$TIMED_WALL" -v o="$TIMED_OTHER" -v n="$(nproc)" \
	'BEGIN { printf "%.0f", (w > 0 ? 100 * o / (w * n) : 0) }')
echo
echo "* = statekit. median s: wall-clock seconds, median of $REPS runs. MB/s: the workspace's apparent"
echo "size ($(awk -v b="$WS_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB) / median s. CPU s: user + system seconds of the command, all"
echo "processes and threads (median). cores: CPU s / median s, how many cores it kept busy."
echo "sk ratio: this row's time / statekit's time in the same group; above 1.00x statekit is faster."
echo "Targets (issue 2) stand on the row they compare with: gzip export at least as fast as"
echo "tar | pigz -6, zstd export at least 0.90x as fast as tar | zstd -T0 -3, import no slower than"
echo "tar -x of the same stream. Rows without a target are for context."
if [ "$SK" = 1 ]; then
	echo "Targets met: $met, missed: $missed. Every statekit result was compared with the source tree."
fi
echo "Timed runs: $(printf %.0f "$TIMED_WALL") s. CPU taken by other processes and kernel threads meanwhile: $other% of the machine."
if [ "$other" -gt 15 ]; then
	echo "WARNING: the machine was not idle (other load or heavy writeback); the times are noisy."
fi
echo "The cached workspace stays in $SRC; remove it with: rm -rf $BENCH_DIR"

if [ "$STRICT" = 1 ] && [ "$missed" -gt 0 ]; then
	exit 3
fi
exit 0
