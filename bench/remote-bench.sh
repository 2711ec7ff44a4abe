#!/bin/bash
# remote-bench.sh: a snapshot to and from a private Ceph RGW (bluestore, on
# loopback) three ways: fcsnap-push / fcsnap-pull; fcsnap-export | aws s3 cp -
# and back through fcsnap-import; and aws s3 cp --recursive of the snapshot
# directory. Then a second push of the same snapshot (--force) and the push
# of a child snapshot. Prints times, bytes sent to the store, and ratios.
#
# Environment (all optional):
#   BENCH_DIR   scratch directory (default /var/tmp/statekit-remote); removed
#               at the end
#   MEM_MB      guest memory, the memory file's size (default 4096)
#   FILL        fraction of memory pages with data (default 0.10: ~400 MB)
#   MEM_RUN     the data lies in runs of this many 4 KiB pages (default 1:
#               scattered, so every 2 MiB chunk holds some, the worst case
#               for a chunk store; 256 puts it in 1 MiB runs, as a guest's
#               page cache and heaps mostly are)
#   CHILD_FILL  fraction of pages the child's machine writes (default 0.0001)
#   REPS        runs of each push and pull, each to a fresh prefix or state
#               directory; the table shows the median (default 3; the
#               aws s3 cp --recursive cases run once, at 30-50 s each)
#   SK_BIN      directory holding the fcsnap commands (default build/bin)
#
# Needs the Ceph packages (scripts/deps.sh) and awscli (installed here with
# apt-get when missing). Exit status: 0 measured; 1 a command failed or a
# copy differed; 2 usage.
set -euo pipefail
umask 022

PROG=${0##*/}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/statekit-remote}
MEM_MB=${MEM_MB:-4096}
FILL=${FILL:-0.10}
MEM_RUN=${MEM_RUN:-1}
CHILD_FILL=${CHILD_FILL:-0.0001}
REPS=${REPS:-3}
SK_BIN=${SK_BIN:-$REPO/build/bin}
FC_BIN=$REPO/tests/fcsim/firecracker
FCCTL=$REPO/tests/fcsim/fcctl

die() { echo "$PROG: $*" >&2; exit "${EXIT:-1}"; }
note() { echo "$PROG: $*" >&2; }

case ${1:-} in
-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) EXIT=2 die "no arguments expected (see --help)" ;;
esac
[[ -x $SK_BIN/fcsnap-push ]] || EXIT=2 die "no $SK_BIN/fcsnap-push: run make first"
command -v radosgw >/dev/null || EXIT=2 die "no radosgw: run scripts/deps.sh"
if ! command -v aws >/dev/null || ! aws --version >/dev/null 2>&1; then
	note "installing awscli"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >/dev/null
fi
AWS=/usr/bin/aws
[[ -x $AWS ]] || AWS=$(command -v aws)
export PATH=$SK_BIN:$PATH

VM_PID=
cleanup() {
	[[ -z $VM_PID ]] || kill -9 "$VM_PID" 2>/dev/null || true
	"$REPO/tests/helpers/rgw" stop "$BENCH_DIR/rgw" >/dev/null 2>&1 || true
	rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/vm"

note "starting a private RGW (bluestore)"
eval "$(RGW_STORE=bluestore RGW_STORE_GIB=24 "$REPO/tests/helpers/rgw" start "$BENCH_DIR/rgw")"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL=$S3_ENDPOINT
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
# awscli 2.9 (Debian 12) does not read AWS_ENDPOINT_URL yet.
AWS="$AWS --endpoint-url $S3_ENDPOINT"
$AWS s3 mb s3://bench >/dev/null

# start_vm DIR FILL: a simulated machine, its memory FILL written by the guest.
start_vm() {
	local vm=$1
	mkdir -p "$vm"
	[[ -f $vm/rootfs.img ]] || {
		truncate -s 1G "$vm/rootfs.img"
		head -c 24M /dev/urandom | dd of="$vm/rootfs.img" seek=100 bs=1M conv=notrunc status=none
	}
	: >"$vm/vmlinux"
	(cd "$vm" && FCSIM_MEM_FILL=$2 FCSIM_MEM_RUN=$MEM_RUN exec setsid "$FC_BIN" --api-sock "$vm/fc.sock" --id src \
		</dev/null >/dev/null 2>"$vm/fc.log") &
	VM_PID=$!
	disown "$VM_PID"
	"$FCCTL" "$vm/fc.sock" wait 10 >/dev/null
}
for h in a b c; do
	cat >"$BENCH_DIR/$h.ini" <<-EOF
	[state]
	dir = $BENCH_DIR/state-$h
	[firecracker]
	binary = $FC_BIN
	chroot =
	socket = /nonexistent/%s
	EOF
done
start_vm "$BENCH_DIR/vm" "$FILL"
vm=$BENCH_DIR/vm
"$FCCTL" "$vm/fc.sock" PUT /boot-source "{\"kernel_image_path\":\"$vm/vmlinux\"}" >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /machine-config "{\"vcpu_count\":1,\"mem_size_mib\":$MEM_MB}" >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /drives/rootfs \
	'{"drive_id":"rootfs","path_on_host":"rootfs.img","is_root_device":true,"is_read_only":false}' >/dev/null
"$FCCTL" "$vm/fc.sock" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
sleep 1
note "creating the snapshot ($MEM_MB MiB of memory, $FILL of it data)"
fcsnap-create -q -c "$BENCH_DIR/a.ini" --socket "$vm/fc.sock" src s1
kill -9 "$VM_PID"
VM_PID=
SRC=$BENCH_DIR/state-a/snapshots/s1
apparent=$(stat -c %s "$SRC"/* | awk '{ s += $1 } END { printf "%.0f", s }')
data=$(du -B1 -s "$SRC" | cut -f1)
cat "$SRC"/* >/dev/null

now() { date +%s.%N; }
declare -A T B RUNS
# run_case LABEL CMD: seconds of CMD, added to LABEL's runs; T[LABEL] is
# their median (of an even count, the lower middle one).
run_case() {
	local t0 t1
	sync
	t0=$(now)
	bash -c "$2" >"$BENCH_DIR/$1.out" || die "$1 failed: $(tail -3 "$BENCH_DIR/$1.out")"
	t1=$(now)
	RUNS[$1]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') "
	T[$1]=$(tr ' ' '\n' <<<"${RUNS[$1]}" | sed '/^$/d' | sort -n |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
}
json() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$BENCH_DIR/$1.out" "$2"; }
# bytes under a prefix of the bucket, as stored
stored() { $AWS s3 ls --recursive --summarize "s3://bench/$1" | sed -n 's/^ *Total Size: //p'; }

note "push three ways ($REPS runs of the first two, taking turns)"
for ((i = 1; i <= REPS; i++)); do
	run_case push "fcsnap-push -q --json -c '$BENCH_DIR/a.ini' s1 s3://bench/sk$i"
	run_case export_cp "fcsnap-export -q -c '$BENCH_DIR/a.ini' s1 | $AWS s3 cp --only-show-errors - s3://bench/stream$i/s1.sksnap"
done
B[push]=$(json push bytes_uploaded)
B[export_cp]=$(stored stream1/)
run_case cp_rec "$AWS s3 cp --only-show-errors --recursive '$SRC' s3://bench/dir/s1"
B[cp_rec]=$(stored dir/)

note "pull three ways ($REPS runs of the first two, taking turns)"
for ((i = 1; i <= REPS; i++)); do
	if ((i > 1)); then
		fcsnap-delete -q -c "$BENCH_DIR/b.ini" s1
		fcsnap-delete -q -c "$BENCH_DIR/c.ini" s1
	fi
	run_case pull "fcsnap-pull -q --json -c '$BENCH_DIR/b.ini' s3://bench/sk$i s1"
	run_case cp_import "$AWS s3 cp --only-show-errors s3://bench/stream$i/s1.sksnap - | fcsnap-import -q -c '$BENCH_DIR/c.ini'"
done
B[pull]=$(json pull bytes_downloaded)
B[cp_import]=${B[export_cp]}
mkdir -p "$BENCH_DIR/dl"
run_case cp_down "$AWS s3 cp --only-show-errors --recursive s3://bench/dir/s1 '$BENCH_DIR/dl' && sync -f '$BENCH_DIR/dl'"
B[cp_down]=${B[cp_rec]}
for f in "$SRC"/*; do
	cmp "$f" "$BENCH_DIR/state-b/snapshots/s1/${f##*/}" || die "the pulled ${f##*/} differs"
	cmp "$f" "$BENCH_DIR/state-c/snapshots/s1/${f##*/}" || die "the imported ${f##*/} differs"
done

note "a second push, and a child's"
run_case push2 "fcsnap-push -q --json --force -c '$BENCH_DIR/a.ini' s1 s3://bench/sk1"
B[push2]=$(json push2 bytes_uploaded)
# The child: s1 restored, run a while writing CHILD_FILL of its pages, snapshotted.
rm -f "$vm/fc.sock"
start_vm "$vm" "$CHILD_FILL"
"$FCCTL" "$vm/fc.sock" PUT /snapshot/load "{\"snapshot_path\":\"$SRC/vmstate\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$SRC/memory\"},\"resume_vm\":true}" >/dev/null
sleep 1
fcsnap-create -q -c "$BENCH_DIR/a.ini" --socket "$vm/fc.sock" src s2
kill -9 "$VM_PID"
VM_PID=
run_case child "fcsnap-push -q --json -c '$BENCH_DIR/a.ini' s2 s3://bench/sk1"
B[child]=$(json child bytes_uploaded)

mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row() {	# LABEL KEY BASE
	printf '| %-52s | %7.2f s | %9s MiB | %11s | %10s |\n' "$1" "${T[$2]}" "$(mib "${B[$2]}")" \
		"$(ratio "${T[$2]}" "${T[$3]}")" "$(ratio "${B[$2]}" "${B[$3]}")"
}
echo "Snapshot: $((apparent >> 20)) MiB apparent, $((data >> 20)) MiB on disk (memory $MEM_MB MiB,"
echo "$FILL of its pages data in runs of $MEM_RUN pages; a 1 GiB disk with 24 MiB of data)."
echo "A private RGW on loopback"
echo "(bluestore on a file), $(nproc) cores shared with it; the median of $REPS runs"
echo "for the first two cases of push and of pull, one run for the others."
echo
echo "| case                                                 | time      | sent/received | time vs statekit | bytes vs statekit |"
echo "| ---------------------------------------------------- | --------- | ------------- | ----------- | ---------- |"
row "fcsnap-push" push push
row "fcsnap-export | aws s3 cp - (one stream object)" export_cp push
row "aws s3 cp --recursive (the directory)" cp_rec push
row "fcsnap-pull" pull pull
row "aws s3 cp - | fcsnap-import" cp_import pull
row "aws s3 cp --recursive, then sync" cp_down pull
row "fcsnap-push again (--force): the manifest only" push2 push
row "fcsnap-push of a child ($CHILD_FILL of pages rewritten)" child push
echo
awk -v a="${B[push2]}" -v b="${B[push]}" 'BEGIN { printf "Second push: %d bytes, %.3f%% of the first push'"'"'s bytes.\n", a, 100 * a / b }'
for k in push export_cp pull cp_import; do
	echo "Runs of $k: ${RUNS[$k]}s"
done
echo "Child push: $(json child chunks_uploaded) of $(($(json child chunks) - $(json child chunks_zero))) non-zero chunks sent, $(json child chunks_skipped) already stored."
