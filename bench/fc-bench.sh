#!/bin/bash
# fc-bench.sh: the pause window of fcsnap-create on a loop-mounted XFS (reflink)
# and ext4 (sparse copy), for a 1 GiB and an 8 GiB sparse disk holding about
# 200 MB of data; and hashing throughput of fcsnap-verify beside sha256sum and
# openssl dgst -sha256 on the same files. One run, one table. Needs root.
#
# Environment (all optional):
#   BENCH_DIR   scratch directory for the filesystem images (default
#               /var/tmp/statekit-fcbench); removed at the end
#   REPS        timed repetitions per row, the median is shown (default 5)
#   DATA_MB     data written into each sparse disk (default 200)
#   MEM_MB      guest memory of the test machine (default 64)
#   DENSE_MB    size of each of the two dense disks hashed (default 512)
#   SK_BIN      directory holding the fcsnap commands (default build/bin)
#   FC_BIN      the Firecracker to drive (default tests/fcsim/firecracker;
#               the simulator also writes the memory file inside the pause)
#
# Exit status: 0 measured; 1 a command failed; 2 usage or missing tools.
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/statekit-fcbench}
REPS=${REPS:-5}
DATA_MB=${DATA_MB:-200}
MEM_MB=${MEM_MB:-64}
DENSE_MB=${DENSE_MB:-512}
SK_BIN=${SK_BIN:-$REPO/build/bin}
FC_BIN=${FC_BIN:-$REPO/tests/fcsim/firecracker}
FCCTL=$REPO/tests/fcsim/fcctl

die() { echo "$PROG: $*" >&2; exit "${EXIT:-1}"; }
note() { echo "$PROG: $*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) EXIT=2 die "no arguments expected (see --help)" ;;
esac
((EUID == 0)) || EXIT=2 die "needs root (loop mounts)"
for t in mkfs.xfs mkfs.ext4 sha256sum openssl python3 setsid filefrag; do
	command -v "$t" >/dev/null || EXIT=2 die "missing $t"
done
[[ -x $SK_BIN/fcsnap-create ]] || EXIT=2 die "no $SK_BIN/fcsnap-create: run make first"
export PATH=$SK_BIN:$PATH

MOUNTS=() PIDS=()
cleanup() {
	local p m
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	sleep 0.2
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"

mount_fs() {	# TYPE DIR
	local img=$BENCH_DIR/$1.img
	truncate -s 24G "$img"
	case $1 in
	xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
	ext4) mkfs.ext4 -q -F "$img" ;;
	esac
	mkdir -p "$2"
	mount -o loop "$img" "$2"
	MOUNTS+=("$2")
}

now_ns() { date +%s%N; }

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# A sparse disk of SIZE_GB with DATA_MB of random data in 4 MiB pieces spread over it.
make_sparse_disk() {	# FILE SIZE_GB
	local f=$1 size=$2 pieces=$((DATA_MB / 4)) i step
	truncate -s "${size}G" "$f"
	step=$(((size * 1024 / 4) / pieces))
	for ((i = 0; i < pieces; i++)); do
		dd if=/dev/urandom of="$f" bs=4M count=1 seek=$((i * step)) conv=notrunc status=none
	done
}

# Start a machine in DIR with the disks given as NAME=FILE (relative to DIR).
start_vm() {	# ID DIR NAME...
	local id=$1 dir=$2 name root=true
	shift 2
	(cd "$dir" && exec setsid "$FC_BIN" --api-sock "$dir/fc.sock" --id "$id" \
		</dev/null >/dev/null 2>"$dir/fc.log") &
	PIDS+=($!)
	disown $!
	"$FCCTL" "$dir/fc.sock" wait 10 >/dev/null
	: >"$dir/vmlinux"
	"$FCCTL" "$dir/fc.sock" PUT /boot-source "{\"kernel_image_path\":\"$dir/vmlinux\"}" >/dev/null
	"$FCCTL" "$dir/fc.sock" PUT /machine-config "{\"vcpu_count\":1,\"mem_size_mib\":$MEM_MB}" >/dev/null
	for name in "$@"; do
		"$FCCTL" "$dir/fc.sock" PUT "/drives/$name" \
			"{\"drive_id\":\"$name\",\"path_on_host\":\"$name.img\",\"is_root_device\":$root,\"is_read_only\":false}" >/dev/null
		root=false
	done
	"$FCCTL" "$dir/fc.sock" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
}

conf() {	# STATE_DIR CLONE -> config file path
	cat >"$1.ini" <<-EOF
	[state]
	dir = $1
	[firecracker]
	binary = $FC_BIN
	chroot =
	socket = /nonexistent/%s
	clone = $2
	EOF
	echo "$1.ini"
}

pause_row() {	# FS CLONE SIZE_GB
	local fs=$1 clone=$2 size=$3 dir=$BENCH_DIR/$1/vm-$3g st=$BENCH_DIR/$1/state-$3g cfg i ms
	local -a v=() c=()
	mkdir -p "$dir"
	make_sparse_disk "$dir/rootfs.img" "$size"
	start_vm "bench$size" "$dir" rootfs
	cfg=$(conf "$st" "$clone")
	for ((i = 0; i < REPS; i++)); do
		ms=$(fcsnap-create -c "$cfg" --socket "$dir/fc.sock" --json "bench$size" "s$i" |
			python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["pause_ms"], j["clone_ms"])') ||
			die "fcsnap-create failed on $fs"
		v+=("${ms% *}")
		c+=("${ms#* }")
		[[ $clone != reflink ]] || filefrag -v "$st/snapshots/s$i/disk-rootfs" | grep -q shared ||
			die "the $fs clone is not a reflink"
		fcsnap-delete -c "$cfg" "s$i"
	done
	printf '| %-5s | %-7s | %2d GiB, %d MB data | %8.1f ms | %8.1f ms | %6.1f - %6.1f |\n' \
		"$fs" "$clone" "$size" "$DATA_MB" "$(printf '%s\n' "${v[@]}" | median)" \
		"$(printf '%s\n' "${c[@]}" | median)" \
		"$(printf '%s\n' "${v[@]}" | sort -n | head -1)" "$(printf '%s\n' "${v[@]}" | sort -n | tail -1)"
}

note "mounting XFS and ext4 images in $BENCH_DIR"
mount_fs xfs "$BENCH_DIR/xfs"
mount_fs ext4 "$BENCH_DIR/ext4"

echo "Pause window of fcsnap-create (median of $REPS; guest memory $MEM_MB MiB, written by"
echo "$(basename "$FC_BIN") inside the pause)"
echo
echo "| fs    | clone   | disk                | pause       | of it clone | pause min - max |"
echo "| ----- | ------- | ------------------- | ----------- | ----------- | --------------- |"
for size in 1 8; do pause_row xfs reflink "$size"; done
for size in 1 8; do pause_row ext4 copy "$size"; done

# Hashing: a snapshot with two dense disks, and the sparse 8 GiB one.
dir=$BENCH_DIR/xfs/vm-dense st=$BENCH_DIR/xfs/state-dense
mkdir -p "$dir"
for n in d1 d2; do
	dd if=/dev/urandom of="$dir/$n.img" bs=1M count="$DENSE_MB" status=none
done
start_vm dense "$dir" d1 d2
cfg=$(conf "$st" auto)
fcsnap-create -c "$cfg" --socket "$dir/fc.sock" dense h1
files=("$st"/snapshots/h1/{memory,vmstate,disk-d1,disk-d2})
bytes=$(stat -c %s "${files[@]}" | awk '{ s += $1 } END { print s }')
cat "${files[@]}" >/dev/null	# warm the page cache for every tool alike

time_cmd() {	# LABEL CMD... -> median seconds
	local i t0 t1
	local -a v=()
	for ((i = 0; i < REPS; i++)); do
		t0=$(now_ns)
		"$@" >/dev/null
		t1=$(now_ns)
		v+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')")
	done
	printf '%s\n' "${v[@]}" | median
}

t_sk=$(time_cmd fcsnap-verify -c "$cfg" h1)
t_sum=$(time_cmd sha256sum "${files[@]}")
t_ssl=$(time_cmd openssl dgst -sha256 "${files[@]}")
echo
echo "Hashing the artifacts of one snapshot: $((bytes >> 20)) MiB in ${#files[@]} files, page cache warm,"
echo "$(nproc) cores, median of $REPS"
echo
echo "| tool                  | time     | MB/s   | statekit is |"
echo "| --------------------- | -------- | ------ | ----------- |"
row() { awk -v l="$1" -v t="$2" -v b="$bytes" -v s="$t_sk" \
	'BEGIN { printf "| %-21s | %6.3f s | %6.0f | %9.2fx |\n", l, t, b / t / 1e6, t / s }'; }
row "fcsnap-verify" "$t_sk"
row "sha256sum" "$t_sum"
row "openssl dgst -sha256" "$t_ssl"
