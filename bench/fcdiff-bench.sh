#!/bin/bash
# fcdiff-bench.sh: what Diff snapshots and chunked digests buy. One run, three
# tables:
#   1. fcsnap-create's pause window, total time and memory file on disk for
#      guests of 1, 4 and 16 GiB that touched about TOUCH_MB: --full beside
#      statekit's own choice (a Diff), and the same for a guest restored from
#      such a snapshot that then dirtied TOUCH_MB.
#   2. The digest of a 4 GiB sparse memory file holding DATA_MB, laid out in
#      2 MiB runs (as a kernel and huge pages lie) and in single 4 KiB pages
#      scattered at random (the worst case for chunks): the whole-file sha256
#      of manifest format 1 beside the chunked digest of format 2 at 1, 2, 4
#      and 8 MiB chunks, with sha256sum and openssl dgst -sha256 of the same
#      file. Page cache warm, every core.
#   3. fcsnap-verify of one snapshot (table 1's 4 GiB Diff), its manifest in
#      format 2 and then rewritten as format 1.
# Needs root. With FC_BIN a real Firecracker (and FC_KERNEL its guest kernel)
# runs instead of the simulator; no guest code runs then, so the memory
# touched is what Firecracker loaded, not TOUCH_MB.
#
# Environment (all optional):
#   BENCH_DIR  scratch directory (default /var/tmp/statekit-fcdiff); removed
#   SIZES_GB   guest sizes for table 1 (default "1 4 16")
#   TOUCH_MB   memory a guest touches, simulator only (default 100)
#   DATA_MB    data in table 2's files (default 200)
#   REPS       repetitions in table 2, the median is shown (default 3)
#   SK_BIN     the fcsnap commands (default build/bin); FC_BIN, FC_KERNEL
#
# Exit status: 0 measured; 1 a command failed; 2 usage or missing tools.
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/statekit-fcdiff}
SIZES_GB=${SIZES_GB:-1 4 16}
TOUCH_MB=${TOUCH_MB:-100}
DATA_MB=${DATA_MB:-200}
REPS=${REPS:-3}
SK_BIN=${SK_BIN:-$REPO/build/bin}
FC_BIN=${FC_BIN:-$REPO/tests/fcsim/firecracker}
FC_KERNEL=${FC_KERNEL:-}
FCCTL=$REPO/tests/fcsim/fcctl

die() { echo "$PROG: $*" >&2; exit "${EXIT:-1}"; }
note() { echo "$PROG: $*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) EXIT=2 die "no arguments expected (see --help)" ;;
esac
((EUID == 0)) || EXIT=2 die "needs root"
for t in sha256sum openssl python3 setsid jq cc pkg-config; do
	command -v "$t" >/dev/null || EXIT=2 die "missing $t"
done
[[ -x $SK_BIN/fcsnap-create && -f $REPO/build/libstatekit.a ]] ||
	EXIT=2 die "no $SK_BIN/fcsnap-create or build/libstatekit.a: run make first"
[[ $FC_BIN == "$REPO/tests/fcsim/firecracker" || -n $FC_KERNEL ]] ||
	EXIT=2 die "FC_BIN needs FC_KERNEL, a guest kernel"
export PATH=$SK_BIN:$PATH

PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	if [[ -f $BENCH_DIR/state/index.db ]]; then
		for p in $(sqlite3 "$BENCH_DIR/state/index.db" 'SELECT pid FROM machines' 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
	fi
	sleep 0.2
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
CFG=$BENCH_DIR/statekit.ini
cat >"$CFG" <<EOF
[state]
dir = $BENCH_DIR/state
[firecracker]
binary = $FC_BIN
chroot =
socket = $BENCH_DIR/vms/%s/fc.sock
EOF

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
mib_on_disk() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1") >> 20)); }

# Boot machine ID with MEM_MB of memory; the simulator touches TOUCH_MB of it per run.
start_vm() {	# ID MEM_MB
	local id=$1 mem=$2 dir=$BENCH_DIR/vms/$1 kernel
	mkdir -p "$dir"
	truncate -s 64M "$dir/rootfs.img"
	(cd "$dir" && FCSIM_MEM_FILL=$(awk -v t="$TOUCH_MB" -v m="$mem" 'BEGIN { print t / m }') \
		exec setsid "$FC_BIN" --api-sock "$dir/fc.sock" --id "$id" \
		</dev/null >/dev/null 2>"$dir/fc.log") &
	PIDS+=($!)
	disown $!
	"$FCCTL" "$dir/fc.sock" wait 10 >/dev/null
	kernel=${FC_KERNEL:-$dir/vmlinux}
	[[ -n $FC_KERNEL ]] || : >"$kernel"
	"$FCCTL" "$dir/fc.sock" PUT /boot-source "{\"kernel_image_path\":\"$kernel\",\"boot_args\":\"console=ttyS0 reboot=k panic=1\"}" >/dev/null
	"$FCCTL" "$dir/fc.sock" PUT /machine-config "{\"vcpu_count\":1,\"mem_size_mib\":$mem}" >/dev/null
	"$FCCTL" "$dir/fc.sock" PUT /drives/rootfs \
		'{"drive_id":"rootfs","path_on_host":"rootfs.img","is_root_device":true,"is_read_only":false}' >/dev/null
	"$FCCTL" "$dir/fc.sock" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
	sleep 0.5
}

# One fcsnap-create: a table row. Leaves the snapshot.
create_row() {	# LABEL MACHINE SNAPSHOT [--full]
	local label=$1 m=$2 s=$3 t0 t1 j
	shift 3
	# Each row starts with nothing dirty: Firecracker syncs the files it
	# writes, and on ext4 that sync also waits for an earlier row's data.
	sync
	t0=$(now_ns)
	j=$(FCSIM_MEM_FILL=0 fcsnap-create -c "$CFG" --json "$@" "$m" "$s") || die "fcsnap-create $m $s failed"
	t1=$(now_ns)
	printf '| %-30s | %-4s | %9.1f ms | %7s s | %8d MiB | %s\n' "$label" \
		"$(jq -r .snapshot_type <<<"$j")" "$(jq -r .pause_ms <<<"$j")" "$(secs "$t0" "$t1")" \
		"$(mib_on_disk "$BENCH_DIR/state/snapshots/$s/memory")" \
		"$(jq -r 'if .snapshot_type == "Diff" then "onto " + (if .diff_base == "" then "an empty file" else .diff_base end) + ", " + .diff_pages + ", base " + .base_copy else .full_reason end' <<<"$j") |"
}

echo "1. fcsnap-create, $(basename "$FC_BIN"), $(nproc) cores; guests touch ${TOUCH_MB} MB (simulator)"
echo
echo "| guest                          | type | pause        | total     | memory on disk | why |"
echo "| ------------------------------ | ---- | ------------ | --------- | -------------- | --- |"
# Restore snapshot S as machine M; the simulator's guest dirties TOUCH_MB as it resumes.
restore_vm() {	# S M MEM_MB
	FCSIM_MEM_FILL=$(awk -v t="$TOUCH_MB" -v m="$3" 'BEGIN { print t / m }') \
		fcsnap-restore -c "$CFG" "$1" "$2" >/dev/null || die "fcsnap-restore $2 failed"
	sleep 0.5
}
stop_vm() {	# M: a machine fcsnap-restore started
	kill -9 "$(sqlite3 "$BENCH_DIR/state/index.db" "SELECT pid FROM machines WHERE id='$1'")" 2>/dev/null || true
	sqlite3 "$BENCH_DIR/state/index.db" "DELETE FROM machines WHERE id='$1'"
}
# Every row is the first snapshot of a fresh process: a Full snapshot reads
# every page of the guest, which leaves every page resident, so a Diff by
# resident pages after it would be as large as a Full.
for g in $SIZES_GB; do
	mem=$((g * 1024))
	start_vm "f$g" "$mem"
	create_row "booted, ${g} GiB, --full" "f$g" "f$g-full" --full
	start_vm "b$g" "$mem"
	create_row "booted, ${g} GiB, statekit" "b$g" "b$g-auto"
	restore_vm "b$g-auto" "rf$g" "$mem"
	create_row "restored, ${g} GiB, --full" "rf$g" "rf$g-full" --full
	restore_vm "b$g-auto" "r$g" "$mem"
	create_row "restored, ${g} GiB, statekit" "r$g" "r$g-auto"
	stop_vm "rf$g"
	stop_vm "r$g"
	for s in f$g-full rf$g-full r$g-auto; do fcsnap-delete -c "$CFG" "$s"; done
	[[ $g == 4 ]] || fcsnap-delete -c "$CFG" "b$g-auto"
done

# 2. Digests of one 4 GiB sparse file, two layouts.
read -r -a libs < <(pkg-config --libs libarchive zlib inih sqlite3 libzstd libcrypto libcurl jansson)
cc -O2 -D_GNU_SOURCE -I"$REPO/lib" "$HERE/chunkbench.c" "$REPO/build/libstatekit.a" "${libs[@]}" \
	-lpthread -o "$BENCH_DIR/chunkbench"
make_file() {	# FILE RUN_BYTES
	python3 - "$1" "$2" "$DATA_MB" <<-'PY'
	import os, random, sys
	path, run, data_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	size = 4 << 30
	rng = random.Random(42)
	slots = rng.sample(range(size // run), (data_mb << 20) // run)
	with open(path, "wb") as f:
	    f.truncate(size)
	    for s in slots:
	        f.seek(s * run)
	        f.write(rng.randbytes(run))
	PY
}
time_cmd() {	# CMD... -> median seconds
	local i t0 t1
	local -a v=()
	for ((i = 0; i < REPS; i++)); do
		t0=$(now_ns)
		"$@" >/dev/null
		t1=$(now_ns)
		v+=("$(secs "$t0" "$t1")")
	done
	printf '%s\n' "${v[@]}" | median
}
echo
echo "2. The digest of a 4 GiB sparse file holding ${DATA_MB} MB, page cache warm, $(nproc) cores,"
echo "   median of $REPS (ratios: the whole-file sha256 of format 1 / this)"
for layout in "2 MiB runs:2097152" "4 KiB pages scattered:4096"; do
	f=$BENCH_DIR/mem-${layout#*:}
	make_file "$f" "${layout#*:}"
	cat "$f" >/dev/null
	old=$(time_cmd "$BENCH_DIR/chunkbench" 0 "$f")
	echo
	echo "   ${layout%%:*}"
	echo
	echo "| digest                         | time     | data chunks | vs format 1 |"
	echo "| ------------------------------ | -------- | ----------- | ----------- |"
	row() { awk -v l="$1" -v t="$2" -v d="$3" -v o="$old" \
		'BEGIN { printf "| %-30s | %6.2f s | %11s | %10.1fx |\n", l, t, d, o / t }'; }
	row "format 1: sha256 of the file" "$old" "-"
	row "sha256sum" "$(time_cmd sha256sum "$f")" "-"
	row "openssl dgst -sha256" "$(time_cmd openssl dgst -sha256 "$f")" "-"
	for mb in 1 2 4 8; do
		out=$("$BENCH_DIR/chunkbench" $((mb << 20)) "$f")
		t=$(time_cmd "$BENCH_DIR/chunkbench" $((mb << 20)) "$f")
		read -r _ d a <<<"$out"
		row "format 2: ${mb} MiB chunks" "$t" "$d of $a"
	done
	rm -f "$f"
done

# 3. fcsnap-verify of the 4 GiB Diff, format 2 and then format 1.
if [[ -d $BENCH_DIR/state/snapshots/b4-auto ]]; then
	d=$BENCH_DIR/state/snapshots/b4-auto
	cat "$d"/* >/dev/null
	t2=$(time_cmd fcsnap-verify -c "$CFG" b4-auto)
	python3 - "$d/manifest.json" <<-'PY'
	import hashlib, json, os, sys
	p = sys.argv[1]
	m = json.load(open(p))
	m["format"] = 1
	for k in ("chunk_size", "snapshot_type", "diff_base", "diff_pages"):
	    m.pop(k, None)
	for a in m["artifacts"]:
	    del a["chunks"]
	    h = hashlib.sha256()
	    with open(os.path.join(os.path.dirname(p), a["name"]), "rb") as f:
	        for b in iter(lambda: f.read(1 << 20), b""):
	            h.update(b)
	    a["sha256"] = h.hexdigest()
	json.dump(m, open(p, "w"), indent=2)
	PY
	for f in "$d"/*; do
		n=${f##*/}
		[[ $n == manifest.json ]] && continue
		sum=$(jq -r --arg n "$n" '.artifacts[] | select(.name == $n) | .sha256' "$d/manifest.json")
		sqlite3 "$BENCH_DIR/state/index.db" "UPDATE artifacts SET sha256='$sum' WHERE snapshot='b4-auto' AND name='$n'"
	done
	t1=$(time_cmd fcsnap-verify -c "$CFG" b4-auto)
	echo
	echo "3. fcsnap-verify of the 4 GiB Diff snapshot ($(du -sm "$d" | cut -f1) MiB on disk), median of $REPS"
	echo
	echo "| manifest          | time     | vs format 1 |"
	echo "| ----------------- | -------- | ----------- |"
	awk -v t="$t1" 'BEGIN { printf "| format 1 (whole) | %6.2f s | %10.1fx |\n", t, 1 }'
	awk -v t="$t2" -v o="$t1" 'BEGIN { printf "| format 2 (chunks) | %6.2f s | %10.1fx |\n", t, o / t }'
fi
