#!/usr/bin/env bats
# fcsnap-create's Diff snapshots: when statekit takes one, onto which base,
# and that every snapshot it takes, Diff or Full, holds exactly the guest's
# memory at the pause. Two snapshots of one pause (the machine paused by
# the test, a Diff then a --full) must have the same memory file, apart from
# page 0, where the simulator stamps each snapshot's token; and each one
# restores (the simulator checks the restored memory against the snapshot's
# sampled pages and refuses to resume a guest whose memory differs). With
# FIRECRACKER_BIN the same tests run against a real Firecracker; they assert
# only on files, states and JSON.

load helpers/common
load helpers/fc

setup() {
	sk_setup
	BG_PIDS=
	SWAP_DEV=
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
}

teardown() {
	kill_bg
	stop_restored
	fc_stop_all
	if [[ -n $SWAP_DEV ]]; then
		swapoff "$SWAP_DEV" 2>/dev/null || true
		losetup -d "$SWAP_DEV" 2>/dev/null || true
	fi
}

# create_json MACHINE SNAPSHOT [OPTIONS...]: fcsnap-create --json, the JSON in $J.
create_json() {
	local m=$1 s=$2
	shift 2
	run --separate-stderr fcsnap-create --json "$@" "$m" "$s"
	[[ $status == 0 ]] || fail "fcsnap-create $m $s: exit $status: $stderr"
	J=$output
}

jf() { jq -r "$1" <<<"$J"; }

# same_memory A B: the memory files of snapshots A and B are equal past page 0.
same_memory() {
	local a=$ST/snapshots/$1/memory b=$ST/snapshots/$2/memory
	assert_equal "$(stat -c %s "$a")" "$(stat -c %s "$b")"
	cmp -i 4096 "$a" "$b" || fail "the memory of $1 and $2 differ past page 0"
}

# blocks FILE: bytes allocated on disk.
blocks() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

# restore_runs SNAPSHOT MACHINE: restored on a fresh TAP, and Running.
restore_runs() {
	run --separate-stderr fcsnap-restore --tap "eth0=$(fc_new_tap)" "$1" "$2"
	[[ $status == 0 ]] || fail "fcsnap-restore $1 $2: exit $status: $stderr"
	assert_equal "$(fc_state "$ST/machines/$2/firecracker.socket")" Running
}

# Let the guest run a few rounds, so that it writes to its memory.
guest_runs() { sleep 0.2; }

@test "fcdiff: a booted machine's Diff lies on an empty file, is sparse, and equals a Full of the same pause" {
	fc_start vm1 --mem 256
	guest_runs
	fc_pause "$(sock vm1)" >/dev/null
	create_json vm1 d1
	if [[ -n $(tail -n +2 /proc/swaps) ]]; then
		# A host that swaps gets Full here, by design (the swap test checks why).
		assert_equal "$(jf .snapshot_type)" Full
		return 0
	fi
	assert_equal "$(jf '.snapshot_type, .diff_base, .diff_pages, .base_copy' | paste -sd' ')" \
		"Diff  resident empty"
	assert_equal "$(jf .full_reason)" null
	assert_equal "$(jq -r '.snapshot_type, .diff_base, .diff_pages' "$ST/snapshots/d1/manifest.json" | paste -sd' ')" \
		"Diff  resident"
	create_json vm1 f1 --full
	assert_equal "$(jf '.snapshot_type, .full_reason, .diff_base' | paste -sd' ')" "Full --full null"
	same_memory d1 f1
	# The Diff holds what the guest (or the kernel image Firecracker loaded) wrote.
	(($(blocks "$ST/snapshots/d1/memory") * 4 < 256 << 20)) ||
		fail "the Diff is not sparse: $(blocks "$ST/snapshots/d1/memory") bytes"
	fc_resume "$(sock vm1)" >/dev/null
	restore_runs d1 vm2
	restore_runs f1 vm3
	run -0 fcsnap-verify --all
	run -0 --separate-stderr fcsnap-create -v vm1 d2
	[[ $stderr == *"snapshot 'd2': a Diff of the resident pages onto an empty memory file"* ]] ||
		fail "stderr: $stderr"
}

@test "fcdiff: with dirty page tracking each Diff lies on the last snapshot of the process" {
	fc_start vm1 --mem 64 --track-dirty
	create_json vm1 s1
	assert_equal "$(jf '.snapshot_type, .diff_base, .diff_pages' | paste -sd' ')" "Diff  dirty-log"
	guest_runs
	fc_pause "$(sock vm1)" >/dev/null
	create_json vm1 s2
	assert_equal "$(jf '.snapshot_type, .diff_base, .diff_pages' | paste -sd' ')" "Diff s1 dirty-log"
	create_json vm1 f2 --full
	same_memory s2 f2
	fc_resume "$(sock vm1)" >/dev/null
	# The Full reset the log too: the next Diff lies on it.
	guest_runs
	create_json vm1 s3
	assert_equal "$(jf '.diff_base')" f2
	restore_runs s3 vm2
	restore_runs s2 vm3
}

@test "fcdiff: a deleted base, or a snapshot of the process that did not complete, makes the next one Full" {
	fc_start vm1 --mem 128 --track-dirty
	fcsnap-create vm1 s1
	run -0 fcsnap-delete s1
	create_json vm1 s2
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"snapshot 's1', the last of this process, was deleted"* ]] ||
		fail "reason: $(jf .full_reason)"
	# A new snapshot that takes the deleted one's id is not this process's base.
	fcsnap-create --full vm1 s1b
	run -0 fcsnap-delete s1b
	fc_start vm8 --mem 128
	fcsnap-create vm8 s1b
	create_json vm1 s2b
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"snapshot 's1b', the last of this process, was deleted"* ]] ||
		fail "reason: $(jf .full_reason)"
	sim_only
	# Killed after Firecracker wrote the snapshot: the log was reset, nothing recorded.
	run env STATEKIT_FAULT=create-snapshotted fcsnap-create vm1 s3
	[[ $status -ne 0 ]] || fail "the fault did not fire"
	create_json vm1 s4
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"('s3') did not complete"* ]] || fail "reason: $(jf .full_reason)"
	create_json vm1 s5
	assert_equal "$(jf '.snapshot_type, .diff_base' | paste -sd' ')" "Diff s4"
	restore_runs s5 vm2
}

@test "fcdiff: restore, create, restore, create: each Diff lies on the snapshot its machine came from" {
	fc_start vm1 --mem 64
	guest_runs
	fcsnap-create vm1 s1
	restore_runs s1 vm2
	guest_runs
	fc_pause "$ST/machines/vm2/firecracker.socket" >/dev/null
	create_json vm2 s2
	assert_equal "$(jf '.snapshot_type, .diff_base, .diff_pages' | paste -sd' ')" "Diff s1 dirty-log"
	[[ $(jf .base_copy) == reflink || $(jf .base_copy) == copy ]] || fail "base_copy $(jf .base_copy)"
	create_json vm2 f2 --full
	same_memory s2 f2
	fc_resume "$ST/machines/vm2/firecracker.socket" >/dev/null
	restore_runs s2 vm3
	guest_runs
	create_json vm3 s3
	assert_equal "$(jf '.diff_base')" s2
	# A second snapshot of the same process lies on the first: the log starts there.
	guest_runs
	fc_pause "$ST/machines/vm3/firecracker.socket" >/dev/null
	create_json vm3 s3b
	assert_equal "$(jf '.diff_base')" s3
	create_json vm3 f3b --full
	same_memory s3b f3b
	fc_resume "$ST/machines/vm3/firecracker.socket" >/dev/null
	restore_runs s3b vm4
	guest_runs
	create_json vm4 s4
	assert_equal "$(jf '.diff_base')" s3b
	restore_runs s4 vm5
	run -0 fcsnap-verify --all
	run -0 --separate-stderr fcsnap-create -v vm5 s5
	[[ $stderr == *"snapshot 's5': a Diff of the dirty-logged pages onto snapshot 's4' (a "*" ms before the pause)"* ]] ||
		fail "stderr: $stderr"
}

@test "fcdiff: fcsnap-restore loads with dirty page tracking and says so; snapshot = full does not" {
	fc_start vm1 --mem 128
	fcsnap-create vm1 s1
	run -0 --separate-stderr fcsnap-restore --json --tap "eth0=$(fc_new_tap)" s1 vm2
	assert_equal "$(jq -r .dirty_tracking <<<"$output")" true
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT tracking FROM machines WHERE id='vm2'")" 1
	run -0 fc_api "$ST/machines/vm2/firecracker.socket" GET /vm/config
	assert_equal "$(jq -r '."machine-config".track_dirty_pages' <<<"$output")" true
	sk_conf "snapshot = full"
	run -0 --separate-stderr fcsnap-restore --json --tap "eth0=$(fc_new_tap)" s1 vm3
	assert_equal "$(jq -r .dirty_tracking <<<"$output")" false
	create_json vm3 s3
	assert_equal "$(jf '.snapshot_type, .full_reason' | paste -sd' ')" "Full [firecracker] snapshot = full"
}

@test "fcdiff: a machine loaded from a memory file statekit did not lay out is snapshotted Full" {
	fc_start vm1 --mem 128
	fcsnap-create --full vm1 s1
	cp --sparse=always "$ST/snapshots/s1/memory" "$BATS_TEST_TMPDIR/elsewhere.mem"
	mkdir -p "$BATS_TEST_TMPDIR/vms/vm9"
	cp --sparse=always "$ST/snapshots/s1/disk-rootfs" "$BATS_TEST_TMPDIR/vms/vm9/rootfs.img"
	fc_spawn vm9
	fc_load "$FC_SOCK" "$ST/snapshots/s1/vmstate" "$BATS_TEST_TMPDIR/elsewhere.mem" \
		"\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$(fc_new_tap)\"}]" >/dev/null
	fc_resume "$FC_SOCK" >/dev/null
	create_json vm9 s9
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"mapped from a file statekit did not lay out"*"elsewhere.mem"* ]] ||
		fail "reason: $(jf .full_reason)"
	restore_runs s9 vm10
}

@test "fcdiff: a machine whose memory a page-fault handler serves (Uffd) is snapshotted Full" {
	sim_only
	fc_start vm1 --mem 128
	fcsnap-create --full vm1 s1
	python3 -c 'import socket,sys,time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)
c, _ = s.accept(); time.sleep(600)' "$BATS_TEST_TMPDIR/uffd.sock" &
	BG_PIDS+=" $!"
	for _ in $(seq 50); do [[ -S $BATS_TEST_TMPDIR/uffd.sock ]] && break; sleep 0.1; done
	mkdir -p "$BATS_TEST_TMPDIR/vms/vm9"
	cp --sparse=always "$ST/snapshots/s1/disk-rootfs" "$BATS_TEST_TMPDIR/vms/vm9/rootfs.img"
	fc_spawn vm9
	fc_api "$FC_SOCK" PUT /snapshot/load "{\"snapshot_path\":\"$ST/snapshots/s1/vmstate\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"$BATS_TEST_TMPDIR/uffd.sock\"},\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$(fc_new_tap)\"}]}" >/dev/null
	fc_resume "$FC_SOCK" >/dev/null
	create_json vm9 s9
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"page-fault handler (Uffd)"* ]] || fail "reason: $(jf .full_reason)"
}

@test "fcdiff: with swap on, a machine without dirty tracking is snapshotted Full, one with it Diff" {
	# A swap area of our own, on a loop device, unless the host swaps already.
	if [[ -z $(tail -n +2 /proc/swaps) ]]; then
		truncate -s 64M "$BATS_TEST_TMPDIR/swap.img"
		SWAP_DEV=$(losetup -f --show "$BATS_TEST_TMPDIR/swap.img")
		mkswap -q "$SWAP_DEV"
		swapon "$SWAP_DEV"
	fi
	[[ -n $(tail -n +2 /proc/swaps) ]] || fail "no swap is active"
	fc_start vm1 --mem 128
	fc_start vm2 --mem 128 --track-dirty
	guest_runs
	create_json vm1 s1
	assert_equal "$(jf .snapshot_type)" Full
	[[ $(jf .full_reason) == *"active swap"* ]] || fail "reason: $(jf .full_reason)"
	create_json vm2 s2
	assert_equal "$(jf '.snapshot_type, .diff_pages' | paste -sd' ')" "Diff dirty-log"
	restore_runs s1 vm3
	restore_runs s2 vm4
}

@test "fcdiff: --full, [firecracker] snapshot = full and a Firecracker older than 1.13 take Full" {
	fc_start vm1 --mem 128
	sk_conf "[firecracker]" "binary = $FC_BIN" "socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot =" "snapshot = full"
	create_json vm1 s1
	assert_equal "$(jf '.snapshot_type, .full_reason' | paste -sd' ')" \
		"Full [firecracker] snapshot = full"
	run -0 --separate-stderr fcsnap-create -v vm1 s2
	[[ $stderr == *"snapshot 's2': Full, because [firecracker] snapshot = full"* ]] ||
		fail "stderr: $stderr"
	sim_only
	sk_conf "snapshot = auto"
	FCSIM_VERSION=1.12.0 fc_start vm2 --mem 128
	create_json vm2 s3
	assert_equal "$(jf '.snapshot_type, .full_reason' | paste -sd' ')" \
		"Full Firecracker 1.12.0 is older than 1.13"
	run -0 --separate-stderr fcsnap-create -v vm1 s4
	run -2 --separate-stderr fcsnap-create -c /dev/null --full --bogus vm1 s5
}

@test "fcdiff: a Full memory file keeps no zero page allocated" {
	fc_start vm1 --mem 256
	create_json vm1 f1 --full
	m=$ST/snapshots/f1/memory
	(($(blocks "$m") < 64 << 20)) || fail "$(blocks "$m") bytes allocated for 256 MiB, little of it written"
	run -0 fcsnap-verify f1
	restore_runs f1 vm2
}
