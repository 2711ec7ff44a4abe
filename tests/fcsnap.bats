#!/usr/bin/env bats
# fcsnap-create, -restore, -list, -delete and -verify against the Firecracker
# simulator (tests/fcsim), or a real Firecracker when FIRECRACKER_BIN and
# FIRECRACKER_KERNEL are set. Every test asserts on exit codes, messages,
# files, index rows and machine states.

load helpers/common
load helpers/fc
load helpers/loopfs

setup() {
	sk_setup
	BG_PIDS=
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
}

teardown() {
	kill_bg
	stop_restored
	fc_stop_all
	loopfs_cleanup
	local t
	for t in ${TAPS_MADE:-}; do ip link del "$t" 2>/dev/null || true; done
}

snap_rows() { sqlite3 "$ST/index.db" "SELECT count(*) FROM snapshots"; }
machine_rows() { sqlite3 "$ST/index.db" "SELECT count(*) FROM machines"; }

# Nothing of a failed command may remain: no staging, no journal row.
assert_clean() {
	local left
	left=$(ls -A "$ST/tmp" 2>/dev/null)
	[[ -z $left ]] || fail "staging left in $ST/tmp: $left"
	assert_equal "$(journal_rows)" 0
}

# Put the directory of test machine ID on DIR (another filesystem) before
# fc_start, so its disks live there.
vm_on() {
	mkdir -p "$1/$2" "$BATS_TEST_TMPDIR/vms"
	ln -sfn "$1/$2" "$BATS_TEST_TMPDIR/vms/$2"
}

# --- fcsnap-create -----------------------------------------------------------

@test "fcsnap-create: snapshots a running machine and records every artifact" {
	fc_start vm1 --mem 128 --disk rootfs:64 --disk data:16
	run --separate-stderr fcsnap-create vm1 s1
	assert_success
	assert_equal "$stderr" ""
	d=$ST/snapshots/s1
	for f in manifest.json vmstate memory disk-rootfs disk-data; do
		[[ -f $d/$f ]] || fail "$d/$f is missing"
	done
	assert_equal "$(stat -c %s "$d/memory")" $((128 << 20))
	assert_equal "$(stat -c %s "$d/disk-rootfs")" $((64 << 20))
	assert_equal "$(fc_state "$(sock vm1)")" Running
	# Format 2: the manifest lists each 2 MiB chunk's sha256, and its and
	# the index's sha256 of a file is that of its chunk list; both are the
	# files' own, computed here apart from statekit.
	assert_equal "$(jq -r '.format, .chunk_size' "$d/manifest.json" | paste -sd' ')" "2 $((2 << 20))"
	for f in vmstate memory disk-rootfs disk-data; do
		sum=$("$REPO/tests/helpers/chunk-digest" "$d/$f")
		assert_equal "$(sqlite3 "$ST/index.db" "SELECT sha256 FROM artifacts WHERE snapshot='s1' AND name='$f'")" "$sum"
		assert_equal "$(jq -r --arg f "$f" '.artifacts[] | select(.name == $f) | .sha256' "$d/manifest.json")" "$sum"
		assert_equal "$(jq -r --arg f "$f" '.artifacts[] | select(.name == $f) | .chunks[]' "$d/manifest.json")" \
			"$("$REPO/tests/helpers/chunk-digest" --chunks "$d/$f")"
	done
	# 128 MiB of memory is 64 chunks; 64 MiB and 16 MiB of disk 32 and 8.
	assert_equal "$(jq -r '[.artifacts[] | .chunks | length | tostring] | join(" ")' "$d/manifest.json")" "1 64 32 8"
	run python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["machine"], m["vmm_version"], m["guest_ip"], m["taps"][0]["iface_id"], len(m["vm_config"]["drives"]))' "$d/manifest.json"
	assert_output --regexp '^vm1 [0-9]+\.[0-9]+\.[0-9]+ 172\.16\.0\.2 eth0 2$'
	assert_equal "$(snap_rows)" 1
	assert_clean
}

@test "fcsnap-create: the disk clones are the disks as they were at the pause" {
	sim_only
	fc_start vm1
	run fcsnap-create vm1 s1
	assert_success
	at_pause=$(fc_state_json "$ST/snapshots/s1/vmstate" | python3 -c 'import json,sys; print(json.load(sys.stdin)["guest"]["seq"])')
	assert_equal "$(fc_guest_seq "$ST/snapshots/s1/disk-rootfs")" "$at_pause"
	# The guest went on writing after the resume.
	for _ in $(seq 100); do
		(($(fc_guest_seq "$BATS_TEST_TMPDIR/vms/vm1/rootfs.img") > at_pause)) && break
		sleep 0.05
	done
	(($(fc_guest_seq "$BATS_TEST_TMPDIR/vms/vm1/rootfs.img") > at_pause)) ||
		fail "the guest did not run after the resume"
}

@test "fcsnap-create: a paused machine is left paused" {
	fc_start vm1
	fc_pause "$(sock vm1)" >/dev/null
	run fcsnap-create --json vm1 s1
	assert_success
	assert_equal "$(fc_state "$(sock vm1)")" Paused
	assert_output --partial '"was_paused": true'
}

@test "fcsnap-create: --json and -v report the pause window in milliseconds" {
	fc_start vm1
	run --separate-stderr fcsnap-create --json vm1 s1
	assert_success
	python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["pause_ms"] > 0 and j["snapshot"] == "s1" and len(j["artifacts"]) == 3' <<<"$output" ||
		fail "bad --json: $output"
	run --separate-stderr fcsnap-create -v vm1 s2
	assert_success
	assert_output ""
	[[ $stderr =~ paused\ [0-9.]+\ ms ]] || fail "no pause window in: $stderr"
}

@test "fcsnap-create: an existing snapshot id is exit 4 and changes nothing" {
	fc_start vm1
	fcsnap-create vm1 s1
	before=$(sha256sum "$ST/snapshots/s1/memory")
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 4
	assert_equal "$stderr" "fcsnap-create: snapshot 's1' already exists"
	assert_equal "$(sha256sum "$ST/snapshots/s1/memory")" "$before"
	assert_equal "$(fc_state "$(sock vm1)")" Running
	assert_equal "$(snap_rows)" 1
	assert_clean
}

@test "fcsnap-create: a machine that is not running is exit 4, nothing created" {
	run --separate-stderr fcsnap-create vm9 s1
	assert_failure 4
	[[ $stderr == *"machine 'vm9' is not running"* ]] || fail "stderr: $stderr"
	assert_equal "$(ls -A "$ST/snapshots")" ""
	assert_equal "$(snap_rows)" 0
	assert_clean
}

@test "fcsnap-create: a machine that has not booted is exit 4" {
	fc_start vm1 --no-boot
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 4
	assert_equal "$stderr" "fcsnap-create: machine 'vm1' is not running (state 'Not started')"
	assert_equal "$(ls -A "$ST/snapshots")" ""
}

@test "fcsnap-create: bad ids are usage errors before anything is touched" {
	run --separate-stderr fcsnap-create vm1 '../x'
	assert_failure 2
	[[ $stderr == *"invalid snapshot id"* || $stderr == *"snapshot"* ]] || fail "stderr: $stderr"
	run --separate-stderr fcsnap-create 'a b' s1
	assert_failure 2
	[[ ! -e $ST/index.db ]] || fail "the index was created"
}

@test "fcsnap-create: a failure after the pause resumes the machine and removes the partial snapshot" {
	sim_only
	FCSIM_FAIL=snapshot-create fc_start vm1
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 1
	[[ $stderr == *"fcsim: injected failure"* ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$(sock vm1)")" Running
	assert_equal "$(ls -A "$ST/snapshots")" ""
	assert_equal "$(snap_rows)" 0
	assert_clean
}

@test "fcsnap-create: a failing disk clone resumes the machine" {
	fc_start vm1 --disk rootfs:16 --disk data:8
	rm "$BATS_TEST_TMPDIR/vms/vm1/data.img"	# the VMM keeps its fd; the path is gone
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 1
	[[ $stderr == *"clone drive 'data'"* ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$(sock vm1)")" Running
	assert_equal "$(ls -A "$ST/snapshots")" ""
	assert_clean
}

@test "fcsnap-create: a second command on a busy machine is exit 4 naming the holder" {
	sim_only
	FCSIM_DELAY_MS=snapshot-create=1500 fc_start vm1
	fcsnap-create vm1 s1 2>"$BATS_TEST_TMPDIR/bg.err" &
	bg=$!
	BG_PIDS+=" $bg"
	for _ in $(seq 100); do
		[[ $(cat "$ST/locks/machine.vm1" 2>/dev/null) == "$bg" ]] && break
		sleep 0.05
	done
	run --separate-stderr fcsnap-create vm1 s2
	assert_failure 4
	[[ $stderr == *"$bg"* ]] || fail "the holder's pid is not named: $stderr"
	wait "$bg"
	run fcsnap-create --wait 30 vm1 s2
	assert_success
	assert_equal "$(snap_rows)" 2
}

@test "fcsnap-create: clone = reflink on a filesystem without reflink fails clearly" {
	loopfs_mount ext4 "$BATS_TEST_TMPDIR/ext4" 256
	sk_conf "[state]" "dir = $BATS_TEST_TMPDIR/ext4/state"
	ST=$BATS_TEST_TMPDIR/ext4/state
	sed -i 's/^clone =.*//' "$CONF"
	sk_conf "[firecracker]" "clone = reflink"
	vm_on "$BATS_TEST_TMPDIR/ext4" vm1
	fc_start vm1
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 1
	[[ $stderr == *"cannot reflink"* ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$(sock vm1)")" Running
	assert_equal "$(ls -A "$ST/snapshots")" ""
}

@test "fcsnap-create: on XFS the disks are reflinked, on ext4 copied sparse" {
	loopfs_mount xfs "$BATS_TEST_TMPDIR/xfs" 512
	sk_conf "[state]" "dir = $BATS_TEST_TMPDIR/xfs/state"
	ST=$BATS_TEST_TMPDIR/xfs/state
	vm_on "$BATS_TEST_TMPDIR/xfs" vm1
	fc_start vm1 --disk rootfs:128
	run fcsnap-create vm1 s1
	assert_success
	filefrag -v "$ST/snapshots/s1/disk-rootfs" | grep -q shared ||
		fail "the clone on XFS shares no extent"
	# ext4: a sparse copy, holes stay holes.
	loopfs_mount ext4 "$BATS_TEST_TMPDIR/ext4" 512
	vm_on "$BATS_TEST_TMPDIR/ext4" vm2
	fc_start vm2 --disk rootfs:128
	sk_conf "[state]" "dir = $BATS_TEST_TMPDIR/ext4/state"
	ST=$BATS_TEST_TMPDIR/ext4/state
	run fcsnap-create vm2 s2
	assert_success
	used=$(du -k "$ST/snapshots/s2/disk-rootfs" | cut -f1)
	((used < 64 * 1024)) || fail "the 128 MB sparse disk took $used KiB"
	! filefrag -v "$ST/snapshots/s2/disk-rootfs" | grep -q shared || fail "ext4 shared an extent?"
}

# --- fcsnap-restore ----------------------------------------------------------

@test "fcsnap-restore: boots a new machine from a snapshot on a free TAP" {
	fc_start vm1
	fcsnap-create vm1 s1
	run --separate-stderr fcsnap-restore s1 vm7
	assert_failure 4
	[[ $stderr == *"tap '$FC_TAP_eth0' (interface eth0) is in use"*"--tap eth0=NAME"* ]] ||
		fail "stderr: $stderr"
	assert_equal "$(machine_rows)" 0
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 was created"

	tap2=${FC_TAP_eth0}r
	run --separate-stderr fcsnap-restore --json --tap "eth0=$tap2" s1 vm7
	assert_success
	m=$ST/machines/vm7
	assert_equal "$(fc_state "$m/firecracker.socket")" Running
	[[ -f $m/rootfs.img ]] || fail "the disk clone is not at its recorded path"
	pid=$(sqlite3 "$ST/index.db" "SELECT pid FROM machines WHERE id='vm7'")
	kill -0 "$pid"
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT taps || ' ' || snapshot FROM machines WHERE id='vm7'")" "eth0=$tap2 s1"
	python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["machine"] == "vm7" and j["pid"] > 0' <<<"$output" ||
		fail "bad --json: $output"
	# The new VMM opened its own disk, never vm1's.
	readlink "/proc/$pid/fd"/* | grep -q "$m/rootfs.img" || fail "vm7 does not hold its own disk"
	! readlink "/proc/$pid/fd"/* | grep -q "vms/vm1/" || fail "vm7 holds a file of vm1"
	assert_clean
}

@test "fcsnap-restore: the restored guest continues from the snapshot" {
	sim_only
	fc_start vm1
	fcsnap-create vm1 s1
	at=$(fc_guest_seq "$ST/snapshots/s1/disk-rootfs")
	run fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_success
	for _ in $(seq 100); do
		(($(fc_guest_seq "$ST/machines/vm7/rootfs.img") > at)) && break
		sleep 0.05
	done
	(($(fc_guest_seq "$ST/machines/vm7/rootfs.img") > at)) || fail "the restored guest is not running"
}

@test "fcsnap-restore: an existing machine id is exit 4" {
	fc_start vm1
	fcsnap-create vm1 s1
	fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}s" s1 vm7
	assert_failure 4
	[[ $stderr == *"machine 'vm7' already exists"* ]] || fail "stderr: $stderr"
	# A machine the config's socket template finds is taken too.
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}s" s1 vm1
	assert_failure 4
	[[ $stderr == *"machine 'vm1' already exists"* ]] || fail "stderr: $stderr"
	assert_equal "$(machine_rows)" 1
}

@test "fcsnap-restore: an unknown snapshot is exit 3" {
	run --separate-stderr fcsnap-restore nosuch vm7
	assert_failure 3
	assert_equal "$stderr" "fcsnap-restore: no snapshot 'nosuch'"
}

@test "fcsnap-restore: a damaged artifact is exit 5 naming it, before anything starts" {
	fc_start vm1
	fcsnap-create vm1 s1
	printf 'X' | dd of="$ST/snapshots/s1/memory" bs=1 seek=4096 conv=notrunc status=none
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 5
	[[ $stderr == *"artifact 'memory' is damaged"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 was created"
	assert_equal "$(machine_rows)" 0
	assert_clean
}

@test "fcsnap-restore: a Firecracker of another snapshot format is refused, naming both" {
	sim_only
	fc_start vm1
	fcsnap-create vm1 s1
	old=$BATS_TEST_TMPDIR/firecracker-1.14
	printf '#!/bin/sh\nFCSIM_VERSION=1.14.2 exec %s "$@"\n' "$FC_BIN" >"$old"
	chmod +x "$old"
	sk_conf "[firecracker]" "binary = $old"
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 2
	[[ $stderr == *"v10.0.0"*"1.16.1"*"1.14.2"*"v8.0.0"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 was created"
}

@test "fcsnap-restore: absolute drive paths are refused unjailed, explaining why" {
	fc_start vm1 --abs
	fcsnap-create vm1 s1
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 4
	[[ $stderr == *"absolute path"*"same file"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 was created"
	assert_clean
}

@test "fcsnap-restore: a failed load kills the new Firecracker and removes what it made" {
	sim_only
	fc_start vm1
	fcsnap-create vm1 s1
	FCSIM_FAIL=load run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 1
	[[ $stderr == *"load snapshot 's1'"*"injected failure"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 remains"
	run pgrep -f -- "--id vm7"
	assert_failure
	assert_equal "$(machine_rows)" 0
	assert_clean
}

@test "fcsnap-restore: a load that Firecracker rejects (wrong memory size) leaves nothing" {
	sim_only
	fc_start vm1
	fcsnap-create vm1 s1
	# Make the memory artifact the wrong size, and the records agree with it,
	# so only Firecracker can notice.
	truncate -s 1M "$ST/snapshots/s1/memory"
	sum=$("$REPO/tests/helpers/chunk-digest" "$ST/snapshots/s1/memory")
	sqlite3 "$ST/index.db" "UPDATE artifacts SET size=1048576, sha256='$sum' WHERE name='memory'"
	python3 - "$ST/snapshots/s1/manifest.json" "$sum" \
		"$("$REPO/tests/helpers/chunk-digest" --chunks "$ST/snapshots/s1/memory")" <<-'PY'
	import json, sys
	m = json.load(open(sys.argv[1]))
	for a in m["artifacts"]:
	    if a["name"] == "memory":
	        a["size"], a["sha256"], a["chunks"] = 1048576, sys.argv[2], sys.argv[3].split()
	json.dump(m, open(sys.argv[1], "w"))
	PY
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 1
	[[ $stderr == *"load snapshot 's1'"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 remains"
	assert_equal "$(machine_rows)" 0
}

@test "fcsnap-restore: a restored machine can be snapshotted and restored again" {
	fc_start vm1
	fcsnap-create vm1 s1
	fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	run fcsnap-create vm7 s2
	assert_success
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT machine FROM snapshots WHERE id='s2'")" vm7
	run fcsnap-restore --tap "eth0=${FC_TAP_eth0}s" s2 vm8
	assert_success
	assert_equal "$(fc_state "$ST/machines/vm8/firecracker.socket")" Running
	assert_equal "$(machine_rows)" 2
}

# --- fcsnap-delete -----------------------------------------------------------

@test "fcsnap-delete: removes the row and the directory" {
	fc_start vm1
	fcsnap-create vm1 s1
	run --separate-stderr fcsnap-delete s1
	assert_success
	[[ ! -e $ST/snapshots/s1 ]] || fail "the directory remains"
	assert_equal "$(snap_rows)" 0
	assert_equal "$(sqlite3 "$ST/index.db" 'SELECT count(*) FROM artifacts')" 0
	run --separate-stderr fcsnap-delete s1
	assert_failure 3
	assert_equal "$stderr" "fcsnap-delete: no snapshot 's1'"
}

@test "fcsnap-delete: never breaks a machine that runs from the snapshot's memory" {
	fc_start vm1
	sk_conf "[firecracker]" "clone = copy"
	fcsnap-create vm1 s1
	mem_before=$(sha256sum <"$ST/snapshots/s1/memory")
	fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	# Without reflink the machine maps the snapshot's own file: delete waits.
	run --separate-stderr fcsnap-delete s1
	assert_failure 4
	[[ $stderr == *"in use: machine 'vm7'"* ]] || fail "stderr: $stderr"
	assert_equal "$(sha256sum <"$ST/snapshots/s1/memory")" "$mem_before"
	pid=$(sqlite3 "$ST/index.db" "SELECT pid FROM machines WHERE id='vm7'")
	stop_restored
	# Gone, or a zombie nobody reaps: either way it maps nothing any more.
	for _ in $(seq 100); do
		[[ -e /proc/$pid ]] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null || break
		sleep 0.05
	done
	run fcsnap-delete s1
	assert_success
}

@test "fcsnap-delete: with reflink the machine keeps a private memory copy" {
	loopfs_mount xfs "$BATS_TEST_TMPDIR/xfs" 512
	sk_conf "[state]" "dir = $BATS_TEST_TMPDIR/xfs/state"
	ST=$BATS_TEST_TMPDIR/xfs/state
	vm_on "$BATS_TEST_TMPDIR/xfs" vm1
	fc_start vm1
	fcsnap-create vm1 s1
	mem=$(sha256sum <"$ST/snapshots/s1/memory")
	fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT pins FROM machines WHERE id='vm7'")" 0
	run fcsnap-delete s1
	assert_success
	assert_equal "$(sha256sum <"$ST/machines/vm7/statekit-memory")" "$mem"
	assert_equal "$(fc_state "$ST/machines/vm7/firecracker.socket")" Running
}

# --- fcsnap-verify and fcsnap-list ------------------------------------------

@test "fcsnap-verify: ok snapshots pass, a damaged or missing artifact is exit 5 naming it" {
	fc_start vm1 --disk rootfs:16 --disk data:8
	fcsnap-create vm1 s1
	fcsnap-create vm1 s2
	run --separate-stderr fcsnap-verify s1
	assert_success
	assert_output "s1: ok"
	printf 'Y' | dd of="$ST/snapshots/s1/disk-data" bs=1 seek=100 conv=notrunc status=none
	run --separate-stderr fcsnap-verify s1
	assert_failure 5
	[[ $stderr == *"artifact 'disk-data' is damaged"* ]] || fail "stderr: $stderr"
	rm "$ST/snapshots/s2/vmstate"
	run --separate-stderr fcsnap-verify --all
	assert_failure 5
	[[ $stderr == *"'s1': artifact 'disk-data' is damaged"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"'s2': artifact 'vmstate' is missing"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"2 of 2 snapshots failed verification"* ]] || fail "stderr: $stderr"
	run fcsnap-verify nosuch
	assert_failure 3
}

@test "fcsnap-verify: a damaged chunk is named by its place; zero chunks and holes match" {
	fc_start vm1 --mem 128 --disk data:16
	fcsnap-create vm1 s1
	# A byte at 5 MiB lies in the third 2 MiB chunk of the memory file.
	printf 'Y' | dd of="$ST/snapshots/s1/memory" bs=1 seek=$((5 << 20)) conv=notrunc status=none
	run --separate-stderr fcsnap-verify s1
	assert_failure 5
	[[ $stderr == *"artifact 'memory' is damaged: 1 of its 64 chunks differ, the first at byte 4194304"* ]] ||
		fail "stderr: $stderr"
	# Every zero chunk of a file made a hole reads as the zeros it held
	# (the test disk holds data in its first 2 MiB and last 2 MiB only).
	fcsnap-create vm1 s2
	f=$ST/snapshots/s2/disk-data
	zero=$(head -c $((2 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
	mapfile -t chunks < <(jq -r '.artifacts[] | select(.name == "disk-data") | .chunks[]' \
		"$ST/snapshots/s2/manifest.json")
	n=0
	for i in "${!chunks[@]}"; do
		[[ ${chunks[i]} == "$zero" ]] || continue
		fallocate --punch-hole --offset $((i << 21)) --length $((2 << 20)) "$f"
		n=$((n + 1))
	done
	assert_equal "$n" 6
	run fcsnap-verify s2
	assert_success
	assert_output "s2: ok"
}

@test "fcsnap-*: a snapshot of manifest format 1 (whole-file sha256) still verifies, restores, exports and imports" {
	sim_only
	fc_start vm1 --disk data:8
	fcsnap-create vm1 s1
	d=$ST/snapshots/s1
	for f in vmstate memory disk-data; do
		sum=$(sha256sum "$d/$f" | cut -d' ' -f1)
		sqlite3 "$ST/index.db" "UPDATE artifacts SET sha256='$sum' WHERE snapshot='s1' AND name='$f'"
	done
	python3 - "$d/manifest.json" <<-'PY'
	import hashlib, json, os, sys
	p = sys.argv[1]
	m = json.load(open(p))
	m["format"] = 1
	del m["chunk_size"]
	for a in m["artifacts"]:
	    del a["chunks"]
	    a["sha256"] = hashlib.sha256(open(os.path.join(os.path.dirname(p), a["name"]), "rb").read()).hexdigest()
	json.dump(m, open(p, "w"), indent=2)
	PY
	run --separate-stderr fcsnap-verify s1
	assert_success
	assert_output "s1: ok"
	# It leaves as format 2: checked whole, then cut into chunks.
	fcsnap-export s1 | fcsnap-import --as s1b
	assert_equal "$(jq -r '.format, .snapshot_type' "$ST/snapshots/s1b/manifest.json" | paste -sd' ')" "2 Full"
	assert_equal "$(jq -r '.artifacts[] | select(.name == "memory") | .sha256' "$ST/snapshots/s1b/manifest.json")" \
		"$("$REPO/tests/helpers/chunk-digest" "$ST/snapshots/s1b/memory")"
	cmp "$d/memory" "$ST/snapshots/s1b/memory"
	run fcsnap-verify s1b
	assert_success
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1b vm7
	assert_success
	printf 'Y' | dd of="$d/memory" bs=1 seek=100 conv=notrunc status=none
	run --separate-stderr fcsnap-verify s1
	assert_failure 5
	[[ $stderr == *"artifact 'memory' is damaged: sha256 "* ]] || fail "stderr: $stderr"
	# Damaged, it does not leave at all.
	run --separate-stderr bash -c 'fcsnap-export s1 >/dev/null'
	assert_failure 5
	[[ $stderr == *"artifact 'memory' is damaged"* ]] || fail "stderr: $stderr"
}

@test "fcsnap-list: a table, JSON, ids, and a filter by machine" {
	fc_start vm1
	fc_start vm2
	fcsnap-create vm1 a1
	fcsnap-create vm2 b1
	run --separate-stderr fcsnap-list
	assert_success
	assert_line --index 0 --regexp '^SNAPSHOT +MACHINE +CREATED +SIZE +ARTIFACTS$'
	assert_line --index 1 --regexp '^a1 +vm1 +[0-9-]+ [0-9:]+ +[0-9.]+ [KMG]iB +3$'
	run fcsnap-list --ids vm2
	assert_output b1
	run fcsnap-list --json
	python3 -c 'import json,sys; j=json.load(sys.stdin); assert [x["snapshot"] for x in j] == ["a1","b1"] and j[0]["artifact_count"] == 3' <<<"$output" ||
		fail "bad --json: $output"
	run fcsnap-list --json nosuch
	assert_output "[]"
}

# --- crash safety ----------------------------------------------------------

@test "fcsnap-create: killed after the pause, the next command resumes the machine" {
	for point in create-paused create-snapshotted; do
		fc_start "vm-$point"
		STATEKIT_FAULT=$point run fcsnap-create "vm-$point" s1
		assert_equal "$status" 137
		assert_equal "$(fc_state "$(sock "vm-$point")")" Paused
		[[ -n $(ls -A "$ST/tmp") ]] || fail "$point: no staging to clean up"
		run --separate-stderr fcsnap-list
		assert_success
		[[ $stderr == *"resumed machine 'vm-$point'"* ]] || fail "stderr: $stderr"
		assert_equal "$(fc_state "$(sock "vm-$point")")" Running
		assert_equal "$(snap_rows)" 0
		assert_equal "$(ls -A "$ST/snapshots")" ""
		assert_clean
	done
}

@test "fcsnap-create: killed mid-create leaves no row, and the partial directory goes" {
	fc_start vm1
	STATEKIT_FAULT=create-resumed run fcsnap-create vm1 s1
	assert_equal "$status" 137
	assert_equal "$(fc_state "$(sock vm1)")" Running
	STATEKIT_FAULT=create-committing run fcsnap-create vm1 s2
	assert_equal "$status" 137
	[[ -d $ST/snapshots/s2 ]] || fail "s2 should sit renamed but unrecorded"
	run fcsnap-create vm1 s1
	assert_success
	[[ ! -e $ST/snapshots/s2 ]] || fail "the unrecorded s2 remains"
	assert_equal "$(snap_rows)" 1
	assert_clean
}

@test "fcsnap-create: killed from outside while paused, the next command on the machine resumes it" {
	sim_only
	FCSIM_DELAY_MS=snapshot-create=1500 fc_start vm1
	fcsnap-create vm1 s1 2>/dev/null &
	bg=$!
	BG_PIDS+=" $bg"
	# The simulator logs the delay once the machine is paused and the
	# snapshot request has arrived.
	for _ in $(seq 400); do
		grep -q "delaying snapshot-create" "$BATS_TEST_TMPDIR/vms/vm1/fc.log" && break
		sleep 0.02
	done
	grep -q "delaying snapshot-create" "$BATS_TEST_TMPDIR/vms/vm1/fc.log" ||
		fail "fcsnap-create never got to the snapshot request"
	kill -9 "$bg"
	wait "$bg" 2>/dev/null || true
	assert_equal "$(fc_state "$(sock vm1)")" Paused
	run --separate-stderr fcsnap-create vm1 s1
	assert_success
	[[ $stderr == *"resumed machine 'vm1'"* ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$(sock vm1)")" Running
	assert_equal "$(snap_rows)" 1
	assert_clean
}

@test "fcsnap-restore: killed mid-restore, the started Firecracker is killed and its directory removed" {
	fc_start vm1
	fcsnap-create vm1 s1
	for point in restore-spawned restore-loaded; do
		STATEKIT_FAULT=$point run fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
		assert_equal "$status" 137
		pid=$(sqlite3 "$ST/index.db" "SELECT child FROM journal WHERE kind='fcsnap-restore'")
		[[ -n $pid ]] && kill -0 "$pid" || fail "$point: no Firecracker was left running"
		[[ -d $ST/machines/vm7 ]] || fail "$point: no directory was left"
		run --separate-stderr fcsnap-list
		assert_success
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		! kill -0 "$pid" 2>/dev/null || fail "$point: the started Firecracker still runs"
		[[ ! -e $ST/machines/vm7 ]] || fail "$point: machines/vm7 remains"
		assert_equal "$(machine_rows)" 0
		assert_clean
	done
	run fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_success
}

@test "fcsnap-delete: killed between the row and the directory, the next command removes it" {
	fc_start vm1
	fcsnap-create vm1 s1
	STATEKIT_FAULT=delete-unlisted run fcsnap-delete s1
	assert_equal "$status" 137
	assert_equal "$(snap_rows)" 0
	[[ -d $ST/snapshots/s1 ]] || fail "the directory should remain until repair"
	run fcsnap-list
	assert_success
	[[ ! -e $ST/snapshots/s1 ]] || fail "the directory remains after repair"
	assert_clean
}

# --- vsock and the jailer ---------------------------------------------------

# Start vm1 with a vsock device at an absolute path, booted.
start_with_vsock() {
	fc_start vm1 --no-boot
	fc_api "$FC_SOCK" PUT /vsock "{\"guest_cid\":3,\"uds_path\":\"$FC_DIR/v.sock\"}" >/dev/null
	fc_api "$FC_SOCK" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null
	fc_wait_state "$FC_SOCK" Running
}

@test "fcsnap-restore: a vsock at an absolute path gets the new machine's own socket" {
	fc_at_least 1 16 || skip "vsock_override needs Firecracker 1.16"
	start_with_vsock
	fcsnap-create vm1 s1
	run fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_success
	run fc_api "$ST/machines/vm7/firecracker.socket" GET /vm/config
	assert_output --partial "\"uds_path\":\"$ST/machines/vm7/vsock.sock\""
}

@test "fcsnap-restore: a vsock at an absolute path is refused by a Firecracker before 1.16" {
	sim_only
	export FCSIM_VERSION=1.15.0
	start_with_vsock
	fcsnap-create vm1 s1
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_failure 4
	[[ $stderr == *"vsock"*"1.16"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 remains"
	assert_clean
}

@test "fcsnap-create and fcsnap-restore: a jailed machine, restored through the jailer" {
	needs_jailer
	sk_conf "[firecracker]" \
		"jailer = $FC_JAILER" \
		"socket = $BATS_TEST_TMPDIR/jail/firecracker/%s/root/run/firecracker.socket" \
		"chroot = $BATS_TEST_TMPDIR/jail/firecracker/%s/root"
	# The simulated jail is not a real chroot: its user must pass the test's
	# own temp directories to reach it.
	d=$BATS_TEST_TMPDIR
	while [[ $d == "${BATS_RUN_TMPDIR%/}"* && $d != / ]]; do chmod a+x "$d"; d=${d%/*}; done
	mkdir -p "$BATS_TEST_TMPDIR/jail"
	chmod a+x "$BATS_TEST_TMPDIR/jail"
	# An unprivileged jail needs its TAPs made for it, owned by its user.
	tap1=$(fc_new_tap) tap2=$(fc_new_tap)
	for t in "$tap1" "$tap2"; do
		ip tuntap add dev "$t" mode tap user 4242 || fail "cannot create TAP $t"
		TAPS_MADE+=" $t"
	done
	FC_JAIL_UID=4242 FC_JAIL_GID=4242 fc_start vm1 --jail --abs --tap "eth0=$tap1"
	run --separate-stderr fcsnap-create vm1 s1
	assert_success
	d=$ST/snapshots/s1
	assert_equal "$(stat -c %u:%a "$d/memory")" "0:600"
	assert_equal "$(stat -c %u:%a "$d/vmstate")" "0:600"
	[[ -z $(find "$BATS_TEST_TMPDIR/jail/firecracker/vm1/root" -mindepth 1 -maxdepth 1 -name '*statekit*') ]] ||
		fail "snapshot files left in vm1's jail"
	run --separate-stderr fcsnap-restore -v --tap "eth0=$tap2" s1 vm7
	[[ $status == 0 ]] || fail "fcsnap-restore: $stderr"
	root=$BATS_TEST_TMPDIR/jail/firecracker/vm7/root
	assert_equal "$(fc_state "$root/run/firecracker.socket")" Running
	assert_equal "$(stat -c %u "$root/rootfs.img")" 4242
	assert_equal "$(stat -c %u "$root/statekit-memory")" 4242
	# The snapshot's own files stay root's.
	assert_equal "$(stat -c %u "$d/memory")" 0
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT jailed || ' ' || root FROM machines WHERE id='vm7'")" "1 $root"
	# A jail id may not hold '_'.
	run --separate-stderr fcsnap-restore --tap "eth0=${FC_TAP_eth0}s" s1 vm_8
	assert_failure 2
	[[ $stderr == *"jailer allows"* ]] || fail "stderr: $stderr"
}

@test "fcsnap-restore: a machine id with '_' is given to Firecracker's --id as '-'" {
	fc_start vm1
	fcsnap-create vm1 s1
	run fcsnap-restore --tap "eth0=${FC_TAP_eth0}r" s1 vm_7
	assert_success
	run fc_api "$ST/machines/vm_7/firecracker.socket" GET /
	assert_output --partial '"id":"vm-7"'
	assert_equal "$(sqlite3 "$ST/index.db" "SELECT id FROM machines")" vm_7
}

@test "fcsnap-create: a jailed drive that is a symlink to a host file is resolved inside the jail, never copied" {
	needs_jailer
	sk_conf "[firecracker]" \
		"socket = $BATS_TEST_TMPDIR/jail/firecracker/%s/root/run/firecracker.socket" \
		"chroot = $BATS_TEST_TMPDIR/jail/firecracker/%s/root"
	fc_start vm1 --jail --abs --no-net
	root=$BATS_TEST_TMPDIR/jail/firecracker/vm1/root
	# The jail's user swaps its disk for a link to a host file.
	echo "host secret" >"$BATS_TEST_TMPDIR/secret"
	rm "$root/rootfs.img"
	ln -s "$BATS_TEST_TMPDIR/secret" "$root/rootfs.img"
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 1
	[[ $stderr == *"clone drive 'rootfs'"* ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$root/run/firecracker.socket")" Running
	! grep -rq "host secret" "$ST" || fail "the host file was copied into the state directory"
	assert_equal "$(snap_rows)" 0
	assert_clean
}

@test "fcsnap-restore: a jail that would run as root is refused before anything is made" {
	needs_jailer
	sk_conf "[firecracker]" \
		"jailer = $FC_JAILER" \
		"socket = $BATS_TEST_TMPDIR/jail/firecracker/%s/root/run/firecracker.socket" \
		"chroot = $BATS_TEST_TMPDIR/jail/firecracker/%s/root"
	fc_start vm1 --jail --abs --no-net	# the jail runs as uid 0
	fcsnap-create vm1 s1
	run --separate-stderr fcsnap-restore s1 vm7
	assert_failure 2
	[[ $stderr == *"a jail must not run as root"* ]] || fail "stderr: $stderr"
	[[ ! -e $BATS_TEST_TMPDIR/jail/firecracker/vm7 ]] || fail "a jail was made"
	assert_equal "$(machine_rows)" 0
	assert_clean
}

@test "fcsnap-restore: a disk path naming one of restore's own files is exit 5" {
	fc_start vm1 --no-net
	fcsnap-create vm1 s1
	sqlite3 "$ST/index.db" "UPDATE artifacts SET recorded_path='firecracker.log' WHERE kind='disk'"
	sed -i 's|"recorded_path": "rootfs.img"|"recorded_path": "firecracker.log"|' \
		"$ST/snapshots/s1/manifest.json"
	run --separate-stderr fcsnap-restore s1 vm7
	assert_failure 5
	[[ $stderr == *"keeps for itself"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST/machines/vm7 ]] || fail "machines/vm7 was created"
	assert_clean
}

# state_on_small_fs SIZE_MB: the state directory on a small ext4 of its own,
# with few inodes, so that a jailed machine's snapshot files are copied out
# of the jail, not renamed. loopfs_cleanup unmounts it. Filler files go to
# its lost+found ($FILL).
state_on_small_fs() {
	local img=$BATS_TEST_TMPDIR/state.img
	truncate -s "${1}M" "$img"
	mkfs.ext4 -q -F -N 64 "$img"
	mkdir -p "$ST"
	[[ -e /dev/loop-control ]] || modprobe loop 2>/dev/null || true
	mount -o loop "$img" "$ST" || fail "cannot loop-mount the state directory (needs root)"
	LOOPFS_MOUNTS+=" $ST"
	fcsnap-list >/dev/null
	FILL=$ST/lost+found
}

@test "fcsnap-create: a jail file that cannot be copied out is reported with the copy's own error" {
	needs_jailer
	sk_conf "[firecracker]" \
		"socket = $BATS_TEST_TMPDIR/jail/firecracker/%s/root/run/firecracker.socket" \
		"chroot = $BATS_TEST_TMPDIR/jail/firecracker/%s/root"
	fc_start vm1 --jail --abs --no-net --mem 16
	state_on_small_fs 200
	# Leave inodes for what comes before the copy out of the jail only (two
	# lock files, the index's -wal and -shm, the staging directory and the
	# disk clone): the copy of vmstate cannot create its file.
	free=$(df --output=iavail "$ST" | tail -1)
	(cd "$FILL" && seq $((free - 6)) | xargs touch)
	[[ $(df --output=iavail "$ST" | tail -1) -eq 6 ]]
	run --separate-stderr fcsnap-create vm1 s1
	assert_failure 1
	[[ $stderr == "fcsnap-create: "*"copy 'vmstate' out of the jail: cannot create it: No space left on device" ]] ||
		fail "stderr: $stderr"
	assert_equal "$(fc_state "$BATS_TEST_TMPDIR/jail/firecracker/vm1/root/run/firecracker.socket")" Running
	assert_equal "$(snap_rows)" 0
	assert_equal "$(journal_rows)" 0
	[[ -z $(ls -A "$ST/tmp") ]] || fail "staging left: $(ls -A "$ST/tmp")"
	[[ ! -e $ST/snapshots/s1 ]]
	[[ -z $(find "$BATS_TEST_TMPDIR/jail/firecracker/vm1/root" -mindepth 1 -maxdepth 1 -name '*statekit*') ]] ||
		fail "snapshot files left in vm1's jail"
	# with room again, the same snapshot is taken, copied out of the jail
	find "$FILL" -mindepth 1 -delete
	run --separate-stderr fcsnap-create vm1 s1
	[[ $status == 0 ]] || fail "exit $status: $stderr"
	run -0 --separate-stderr fcsnap-verify s1
}

@test "fcsnap-create: a jail file whose copy runs out of space is reported with the copy's own error" {
	needs_jailer
	sk_conf "[firecracker]" \
		"socket = $BATS_TEST_TMPDIR/jail/firecracker/%s/root/run/firecracker.socket" \
		"chroot = $BATS_TEST_TMPDIR/jail/firecracker/%s/root"
	fc_start vm1 --jail --abs --no-net --mem 64
	state_on_small_fs 16
	# Full: all 64 MiB of memory is written (a Diff of a booted machine is sparse).
	run --separate-stderr fcsnap-create --full vm1 s1
	assert_failure 1
	[[ $stderr == "fcsnap-create: "*"'memory'"*"No space left on device" ]] || fail "stderr: $stderr"
	assert_equal "$(fc_state "$BATS_TEST_TMPDIR/jail/firecracker/vm1/root/run/firecracker.socket")" Running
	assert_equal "$(snap_rows)" 0
	assert_equal "$(journal_rows)" 0
	[[ -z $(ls -A "$ST/tmp") ]] || fail "staging left: $(ls -A "$ST/tmp")"
	[[ $(df --output=used -B1 "$ST" | tail -1) -lt 4000000 ]] || fail "a partial copy is left"
}
