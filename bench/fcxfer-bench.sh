#!/bin/bash
# fcxfer-bench.sh: fcsnap-export | fcsnap-import of a snapshot whose memory
# file is 2 GiB with about 10% non-zero pages, beside
# `tar -S -c | zstd -T0 | zstd -d | tar -x` and `cp --sparse=always` on the
# same files. Prints MB/s of apparent size, stream sizes and ratios.
#
# Environment (all optional):
#   BENCH_DIR   scratch directory (default /var/tmp/statekit-fcxfer); removed
#               at the end
#   MEM_MB      guest memory, the memory file's size (default 2048)
#   FILL        fraction of non-zero memory pages (default 0.10)
#   REPS        timed repetitions per row, the median is shown (default 3)
#   SK_BIN      directory holding the fcsnap commands (default build/bin)
#
# Exit status: 0 measured; 1 a command failed or a copy differed; 2 usage.
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/statekit-fcxfer}
MEM_MB=${MEM_MB:-2048}
FILL=${FILL:-0.10}
REPS=${REPS:-3}
SK_BIN=${SK_BIN:-$REPO/build/bin}
FC_BIN=$REPO/tests/fcsim/firecracker
FCCTL=$REPO/tests/fcsim/fcctl

die() { echo "$PROG: $*" >&2; exit "${EXIT:-1}"; }
note() { echo "$PROG: $*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) EXIT=2 die "no arguments expected (see --help)" ;;
esac
for t in tar zstd cp python3 setsid; do
	command -v "$t" >/dev/null || EXIT=2 die "missing $t"
done
[[ -x $SK_BIN/fcsnap-export ]] || EXIT=2 die "no $SK_BIN/fcsnap-export: run make first"
export PATH=$SK_BIN:$PATH

VM_PID=
cleanup() {
	[[ -z $VM_PID ]] || kill -9 "$VM_PID" 2>/dev/null || true
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/vm"

# The source snapshot: a simulated machine with MEM_MB of memory, FILL of it
# non-zero, and a 256 MiB sparse disk with 32 MiB of data.
vm=$BENCH_DIR/vm
truncate -s 256M "$vm/rootfs.img"
dd if=/dev/urandom of="$vm/rootfs.img" bs=1M count=32 seek=100 conv=notrunc status=none
: >"$vm/vmlinux"
(cd "$vm" && FCSIM_MEM_FILL=$FILL exec setsid "$FC_BIN" --api-sock "$vm/fc.sock" --id src \
	</dev/null >/dev/null 2>"$vm/fc.log") &
VM_PID=$!
disown "$VM_PID"
"$FCCTL" "$vm/fc.sock" wait 10 >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /boot-source "{\"kernel_image_path\":\"$vm/vmlinux\"}" >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /machine-config "{\"vcpu_count\":1,\"mem_size_mib\":$MEM_MB}" >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /drives/rootfs \
	'{"drive_id":"rootfs","path_on_host":"rootfs.img","is_root_device":true,"is_read_only":false}' >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
for h in a b; do
	cat >"$BENCH_DIR/$h.ini" <<-EOF
	[state]
	dir = $BENCH_DIR/state-$h
	[firecracker]
	binary = $FC_BIN
	chroot =
	socket = /nonexistent/%s
	EOF
done
note "creating the source snapshot ($MEM_MB MiB of memory, $FILL non-zero)"
fcsnap-create -c "$BENCH_DIR/a.ini" --socket "$vm/fc.sock" src s1
kill -9 "$VM_PID"
VM_PID=
SRC=$BENCH_DIR/state-a/snapshots/s1
apparent=$(stat -c %s "$SRC"/* | awk '{ s += $1 } END { printf "%.0f", s }')
nonzero=$(python3 - "$SRC/memory" <<-'PY'
	import sys
	z = bytes(4096); n = t = 0
	with open(sys.argv[1], "rb") as f:
	    while (b := f.read(1 << 20)):
	        for i in range(0, len(b), 4096):
	            t += 1; n += b[i:i + 4096] != z
	print(f"{100 * n / t:.1f}")
	PY
)
cat "$SRC"/* >/dev/null	# the page cache is warm for every tool alike

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# time_case LABEL CMD: median seconds of CMD (a shell string) over REPS runs,
# with $BENCH_DIR/dst emptied before each; the stream size in $BENCH_DIR/stream.size.
declare -A T
time_case() {
	local i t0 t1
	local -a v=()
	for ((i = 0; i < REPS; i++)); do
		rm -rf "$BENCH_DIR/dst" "$BENCH_DIR/state-b"
		mkdir -p "$BENCH_DIR/dst"
		sync
		t0=$(now_ns)
		bash -c "$2" || die "$1 failed"
		t1=$(now_ns)
		v+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
	done
	T[$1]=$(printf '%s\n' "${v[@]}" | median)
}

count='python3 -c "import sys; n=0
while (b := sys.stdin.buffer.read(1 << 20)): n += len(b)
open(\"'$BENCH_DIR'/stream.size\", \"w\").write(str(n))"'

time_case statekit "fcsnap-export -q -c '$BENCH_DIR/a.ini' s1 | tee >($count) | fcsnap-import -q -c '$BENCH_DIR/b.ini'"
sleep 0.5
S_SK=$(cat "$BENCH_DIR/stream.size")
for f in vmstate memory disk-rootfs; do
	cmp "$SRC/$f" "$BENCH_DIR/state-b/snapshots/s1/$f" || die "the imported $f differs"
done
time_case tar "tar -S -C '$SRC' -cf - . | zstd -q -T0 | tee >($count) | zstd -q -d | tar -x -C '$BENCH_DIR/dst'"
sleep 0.5
S_TAR=$(cat "$BENCH_DIR/stream.size")
cmp "$SRC/memory" "$BENCH_DIR/dst/memory" || die "tar's copy of memory differs"
# fcsnap-import fsyncs every file before it records the snapshot; tar does not.
time_case tarsync "tar -S -C '$SRC' -cf - . | zstd -q -T0 | zstd -q -d | tar -x -C '$BENCH_DIR/dst' && sync -f '$BENCH_DIR/dst'"
time_case cp "cp --sparse=always -r '$SRC/.' '$BENCH_DIR/dst/'"
# The two halves alone, through a file in the page cache.
time_case export "fcsnap-export -q -c '$BENCH_DIR/a.ini' s1 >'$BENCH_DIR/s1.stream'"
time_case import "fcsnap-import -q -c '$BENCH_DIR/b.ini' <'$BENCH_DIR/s1.stream'"

mb() { awk -v b="$apparent" -v t="$1" 'BEGIN { printf "%.0f", b / t / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo "Snapshot: $((apparent >> 20)) MiB apparent (memory $MEM_MB MiB, $nonzero% of its pages non-zero;"
echo "a 256 MiB sparse disk with 32 MiB of data). Page cache warm, $(nproc) cores, median of $REPS."
echo
echo "| case                                            | time     | MB/s (apparent) | stream   | statekit is |"
echo "| ----------------------------------------------- | -------- | --------------- | -------- | ----------- |"
printf '| %-47s | %6.2f s | %15s | %5d MiB | %11s |\n' "fcsnap-export | fcsnap-import (zstd)" "${T[statekit]}" "$(mb "${T[statekit]}")" $((S_SK >> 20)) "1.00x"
printf '| %-47s | %6.2f s | %15s | %5d MiB | %11s |\n' "tar -S -c | zstd -T0 | zstd -d | tar -x" "${T[tar]}" "$(mb "${T[tar]}")" $((S_TAR >> 20)) "$(ratio "${T[tar]}" "${T[statekit]}")"
printf '| %-47s | %6.2f s | %15s | %8s | %11s |\n' "the same, then sync -f (as durable as statekit)" "${T[tarsync]}" "$(mb "${T[tarsync]}")" "" "$(ratio "${T[tarsync]}" "${T[statekit]}")"
printf '| %-47s | %6.2f s | %15s | %8s | %11s |\n' "cp --sparse=always (no stream)" "${T[cp]}" "$(mb "${T[cp]}")" "-" "$(ratio "${T[cp]}" "${T[statekit]}")"
printf '| %-47s | %6.2f s | %15s | %8s | %11s |\n' "  of it: fcsnap-export > file" "${T[export]}" "$(mb "${T[export]}")" "" ""
printf '| %-47s | %6.2f s | %15s | %8s | %11s |\n' "  of it: fcsnap-import < file" "${T[import]}" "$(mb "${T[import]}")" "" ""
echo
awk -v a="$S_SK" -v b="$S_TAR" 'BEGIN { printf "Stream: statekit %d bytes, tar | zstd %d bytes (%.2f%% smaller)\n", a, b, 100 * (b - a) / b }'
