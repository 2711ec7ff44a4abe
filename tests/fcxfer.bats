#!/usr/bin/env bats
# fcsnap-export | fcsnap-import: a snapshot moved between two state
# directories through a pipe, as between two hosts, then restored from the
# copy. Damaged, truncated and hostile streams leave nothing behind.

load helpers/common
load helpers/fc

setup() {
	sk_setup
	BG_PIDS=
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
	# The receiving host: its own state directory and config.
	ST2=$BATS_TEST_TMPDIR/host2
	CONF2=$BATS_TEST_TMPDIR/host2.ini
	sed "s|^dir = .*|dir = $ST2|" "$CONF" >"$CONF2"
	S=$BATS_TEST_TMPDIR/stream
}

teardown() {
	kill_bg
	local db p
	for db in "$ST/index.db" "$ST2/index.db"; do
		[[ -f $db ]] || continue
		for p in $(sqlite3 "$db" 'SELECT pid FROM machines' 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
	done
	fc_stop_all
}

# A snapshot s1 of a machine with a mostly-zero memory file and a sparse disk.
make_snapshot() {
	fc_start vm1 --mem "${1:-64}" --disk rootfs:64 --disk data:16
	fcsnap-create vm1 s1
}

# Nothing of a refused import may remain on host2.
assert_host2_clean() {
	assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM snapshots' 2>/dev/null || echo 0)" 0
	assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM journal' 2>/dev/null || echo 0)" 0
	assert_equal "$(ls -A "$ST2/snapshots" 2>/dev/null)" ""
	assert_equal "$(ls -A "$ST2/tmp" 2>/dev/null)" ""
}

# Both snapshot directories hold the same files, byte for byte.
assert_same_snapshot() {	# DIR1 DIR2
	local f
	for f in vmstate memory disk-rootfs disk-data; do
		cmp "$1/$f" "$2/$f" || fail "$f differs"
	done
}

# Write a hand-made stream: python3 code on stdin gets helpers rec(), manifest().
craft() {
	python3 - "$ST/snapshots/s1" "$S" <<-PY
	import hashlib, json, struct, sys
	src, out = sys.argv[1], sys.argv[2]
	man = json.load(open(src + "/manifest.json"))
	def text(m): return json.dumps(m, indent=2) + "\n"
	def mrec(m):
	    t = text(m).encode()
	    return b"SKSNAP1\n" + b"M" + struct.pack("<I", len(t)) + t
	def frec(name): return b"F" + struct.pack("<H", len(name)) + name.encode()
	def drec(off, data): return b"D" + struct.pack("<QI", off, len(data)) + data
	def erec(a): return b"E" + struct.pack("<Q", a["size"]) + a["sha256"].encode()
	def trec(m): return b"T" + hashlib.sha256(text(m).encode()).hexdigest().encode()
	def whole(name): return open(src + "/" + name, "rb").read()
	$(cat)
	open(out, "wb").write(stream)
	PY
}

@test "fcsnap-export | fcsnap-import: a round trip to another state directory, then a restore" {
	make_snapshot
	for z in zstd gzip none; do
		rm -rf "$ST2"
		run bash -c "fcsnap-export -z $z s1 | fcsnap-import -c '$CONF2'"
		assert_success
		assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
		assert_equal "$(sqlite3 "$ST2/index.db" "SELECT machine || ' ' || count(*) FROM snapshots JOIN artifacts ON snapshot = id")" "vm1 4"
		run fcsnap-verify -c "$CONF2" s1
		assert_success
	done
	# Restore from the imported copy on "host 2".
	run --separate-stderr fcsnap-restore -c "$CONF2" --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	assert_success
	assert_equal "$(fc_state "$ST2/machines/vm7/firecracker.socket")" Running
}

@test "fcsnap-export: zero pages and holes are not sent, and come back as holes" {
	make_snapshot 256
	fcsnap-export -z none s1 >"$S"
	mem=$(stat -c %s "$ST/snapshots/s1/memory")
	size=$(stat -c %s "$S")
	((size < mem / 4)) || fail "a $mem-byte memory file made a $size-byte stream"
	fcsnap-import -c "$CONF2" <"$S"
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	used=$(du -k "$ST2/snapshots/s1/memory" | cut -f1)
	((used * 1024 < mem / 4)) || fail "the imported memory file takes $used KiB: holes not restored"
}

@test "fcsnap-import: an existing snapshot id is exit 4 unless --as NEWID" {
	make_snapshot
	fcsnap-export s1 >"$S"
	run --separate-stderr fcsnap-import <"$S"
	assert_failure 4
	assert_equal "$stderr" "fcsnap-import: snapshot 's1' already exists; store it under another id with --as NEWID"
	run fcsnap-import --as s1-copy <"$S"
	assert_success
	assert_same_snapshot "$ST/snapshots/s1" "$ST/snapshots/s1-copy"
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["snapshot"] == "s1-copy"' \
		"$ST/snapshots/s1-copy/manifest.json"
	run fcsnap-verify s1-copy
	assert_success
	run fcsnap-import --as '../x' <"$S"
	assert_failure 2
}

@test "fcsnap-import: a truncated stream is exit 5 and leaves nothing" {
	make_snapshot
	for z in zstd none; do
		fcsnap-export -z "$z" s1 >"$S.full"
		full=$(stat -c %s "$S.full")
		for cut in 5 100 $((full / 3)) $((full - 70)) $((full - 1)); do
			head -c "$cut" "$S.full" >"$S"
			run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
			assert_failure 5
			[[ -n $stderr ]] || fail "$z cut at $cut: no message"
			assert_host2_clean
		done
	done
}

@test "fcsnap-import: a damaged stream is exit 5 naming what is wrong" {
	make_snapshot
	fcsnap-export -z none s1 >"$S"
	# A flipped byte in the data of a plain stream: the file's sha256 catches it.
	python3 - "$S" <<-'PY'
	import sys
	b = bytearray(open(sys.argv[1], "rb").read())
	# Disk data: the simulated guest's block 0, else the test disk's last page
	# (a real Firecracker runs no guest code).
	i = b.rfind(b"FCSIM-GUEST")
	i = i if i >= 0 else b.rindex(b"statekit test disk")
	b[i + 2] ^= 0x20
	open(sys.argv[1], "wb").write(b)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"arrived damaged"* ]] || fail "stderr: $stderr"
	assert_host2_clean
	# A flipped byte in a compressed stream: the codec's checksum catches it.
	fcsnap-export -z zstd s1 >"$S"
	printf '\x55' | dd of="$S" bs=1 seek=$(($(stat -c %s "$S") / 2)) conv=notrunc status=none
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	assert_host2_clean
	# Trailing bytes after the end record.
	{ fcsnap-export -z none s1; printf 'x'; } >"$S"
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"data after the end"* ]] || fail "stderr: $stderr"
	# Not a snapshot stream at all.
	echo hello >"$S"
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"not a statekit snapshot stream"* ]] || fail "stderr: $stderr"
	assert_host2_clean
}

@test "fcsnap-import: hostile streams are exit 5 with nothing left behind" {
	make_snapshot
	# An artifact name that leaves the snapshot directory.
	craft <<-'PY'
	m = dict(man); m["artifacts"] = [dict(a) for a in man["artifacts"]]
	m["artifacts"][0]["name"] = "../../evil"
	stream = mrec(m) + frec("../../evil") + erec(m["artifacts"][0]) + trec(m)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"unsafe artifact name"* ]] || fail "stderr: $stderr"
	[[ ! -e $ST2/evil && ! -e $BATS_TEST_TMPDIR/evil ]] || fail "a file was written outside"
	assert_host2_clean
	# Data past the size the manifest gives the file.
	craft <<-'PY'
	a = man["artifacts"][0]
	stream = mrec(man) + frec(a["name"]) + drec(a["size"] - 10, b"x" * 4096) + erec(a) + trec(man)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"outside the size the manifest gives it"* ]] || fail "stderr: $stderr"
	assert_host2_clean
	# Runs that go backwards (would overwrite what was checked).
	craft <<-'PY'
	a = man["artifacts"][0]
	stream = mrec(man) + frec(a["name"]) + drec(8192, b"y" * 4096) + drec(0, b"z" * 4096)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	assert_host2_clean
	# Artifacts in another order than the manifest's.
	craft <<-'PY'
	a = man["artifacts"][1]
	stream = mrec(man) + frec(a["name"])
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"where the manifest puts it"* ]] || fail "stderr: $stderr"
	# A disk whose recorded path climbs out of the machine's directory.
	craft <<-'PY'
	m = dict(man); m["artifacts"] = [dict(a) for a in man["artifacts"]]
	d = [a for a in m["artifacts"] if a["kind"] == "disk"][0]
	d["recorded_path"] = "../../../../etc/evil"
	stream = mrec(m)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"unsafe path"* ]] || fail "stderr: $stderr"
	assert_host2_clean
	# A manifest of format 1 (one digest per whole file): refused before any data.
	craft <<-'PY'
	m = dict(man); m["artifacts"] = [dict(a) for a in man["artifacts"]]
	m["format"] = 1; del m["chunk_size"]
	for a in m["artifacts"]: del a["chunks"]
	m["artifacts"][1]["size"] = 1 << 40
	stream = mrec(m) + frec(m["artifacts"][0]["name"])
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"manifest is format 1, which fcsnap-import no longer takes: export the snapshot again"* ]] ||
		fail "stderr: $stderr"
	assert_host2_clean
	# Sizes beyond [archive] max_bytes, here 1 MiB on host2.
	printf '[archive]\nmax_bytes = 1M\n' >>"$CONF2"
	craft <<-'PY'
	stream = mrec(man)
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"max_bytes"* ]] || fail "stderr: $stderr"
	sed -i '/^\[archive\]$/,$d' "$CONF2"
	# A memory file of 1 TiB of zeros in format 2 must list 524,288 chunks:
	# one that lists fewer is refused before a byte is hashed.
	craft <<-'PY'
	m = dict(man); m["artifacts"] = [dict(a) for a in man["artifacts"]]
	m["artifacts"][1]["size"] = 1 << 40
	stream = mrec(m) + frec(m["artifacts"][0]["name"])
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"does not list one chunk per 2097152 bytes"* ]] || fail "stderr: $stderr"
	assert_host2_clean
	# A manifest that is not one.
	craft <<-'PY'
	t = b'{"format": 1, "snapshot": "s1"'
	stream = b"SKSNAP1\nM" + struct.pack("<I", len(t)) + t
	PY
	run --separate-stderr fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	[[ $stderr == *"manifest"* ]] || fail "stderr: $stderr"
	assert_host2_clean
}

@test "fcsnap-export: a snapshot damaged on disk is exit 5, and its stream is refused" {
	make_snapshot
	printf 'Z' | dd of="$ST/snapshots/s1/disk-rootfs" bs=1 seek=5000 conv=notrunc status=none
	run --separate-stderr bash -c "fcsnap-export -z none s1 >'$S'"
	assert_failure 5
	[[ $stderr == *"artifact 'disk-rootfs' is damaged on disk"* ]] || fail "stderr: $stderr"
	run fcsnap-import -c "$CONF2" <"$S"
	assert_failure 5
	assert_host2_clean
}

@test "fcsnap-export: refuses a terminal; fcsnap-import refuses one too" {
	make_snapshot
	run script -qec "fcsnap-export s1" /dev/null </dev/null
	assert_equal "$status" 2
	assert_output --partial "refusing to write a snapshot stream to a terminal"
	run script -qec "fcsnap-import -c '$CONF2'" /dev/null
	assert_equal "$status" 2
	assert_output --partial "refusing to read a snapshot stream from a terminal"
	run fcsnap-export nosuch
	assert_failure 3
}

@test "fcsnap-import: killed at any point, no row and no snapshot; the next command cleans up" {
	make_snapshot
	fcsnap-export s1 >"$S"
	for point in fcimport-staged fcimport-committing; do
		STATEKIT_FAULT=$point run fcsnap-import -c "$CONF2" <"$S"
		assert_equal "$status" 137
		assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM snapshots')" 0
		run fcsnap-list -c "$CONF2" --ids
		assert_output ""
		run fcsnap-list -c "$CONF2"
		assert_success
		assert_host2_clean
	done
	# Killed from outside halfway through the stream.
	fcsnap-export -z none s1 >"$S.plain"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	{ head -c 100000 "$S.plain"; sleep 30; } >"$BATS_TEST_TMPDIR/fifo" &
	BG_PIDS+=" $!"
	fcsnap-import -c "$CONF2" <"$BATS_TEST_TMPDIR/fifo" &
	imp=$!
	BG_PIDS+=" $imp"
	for _ in $(seq 100); do [[ -d $ST2/tmp/import.s1 ]] && break; sleep 0.05; done
	kill -9 "$imp"
	wait "$imp" 2>/dev/null || true
	[[ -d $ST2/tmp/import.s1 ]] || fail "no staging to clean"
	run fcsnap-import -c "$CONF2" <"$S"
	assert_success
	run fcsnap-verify -c "$CONF2" s1
	assert_success
	assert_equal "$(ls -A "$ST2/tmp")" ""
}

@test "fcsnap-import: SIGTERM while the sender is silent stops it at once, leaving nothing" {
	make_snapshot
	fcsnap-export -z none s1 >"$S"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	{ head -c 100000 "$S"; sleep 30; } >"$BATS_TEST_TMPDIR/fifo" &
	BG_PIDS+=" $!"
	fcsnap-import -c "$CONF2" <"$BATS_TEST_TMPDIR/fifo" 2>"$BATS_TEST_TMPDIR/err" &
	imp=$!
	for _ in $(seq 100); do [[ -d $ST2/tmp/import.s1 ]] && break; sleep 0.05; done
	sleep 0.2
	kill -TERM "$imp"
	for _ in $(seq 40); do kill -0 "$imp" 2>/dev/null || break; sleep 0.05; done
	! kill -0 "$imp" 2>/dev/null || fail "fcsnap-import still runs 2 s after SIGTERM"
	wait "$imp" || st=$?
	assert_equal "${st:-0}" 1
	grep -q "interrupted" "$BATS_TEST_TMPDIR/err" || fail "$(cat "$BATS_TEST_TMPDIR/err")"
	assert_host2_clean
}
