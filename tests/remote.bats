#!/usr/bin/env bats
# fcsnap-push and fcsnap-pull against a private Ceph RGW: snapshots go to the
# store as content-addressed chunks and come back byte for byte; damage,
# kills, wrong keys and a store that goes away are clear errors that leave
# nothing behind.

load helpers/common
load helpers/fc
load helpers/s3

setup_file() {
	s3_up
}

teardown_file() {
	s3_down
}

setup() {
	sk_setup
	s3_env
	BG_PIDS=
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
	ST2=$BATS_TEST_TMPDIR/host2
	CONF2=$BATS_TEST_TMPDIR/host2.ini
	sed "s|^dir = .*|dir = $ST2|" "$CONF" >"$CONF2"
	mkbucket
	R=s3://$BUCKET/fleet
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

make_snapshot() {
	fc_start vm1 --mem "${1:-64}" --disk rootfs:64 --disk data:16
	fcsnap-create vm1 s1
}

assert_same_snapshot() {	# DIR1 DIR2
	local f
	for f in vmstate memory disk-rootfs disk-data; do
		cmp "$1/$f" "$2/$f" || fail "$f differs"
	done
}

# Nothing of a refused pull may remain on host2.
assert_host2_clean() {
	assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM snapshots' 2>/dev/null || echo 0)" 0
	assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM journal' 2>/dev/null || echo 0)" 0
	assert_equal "$(ls -A "$ST2/snapshots" 2>/dev/null)" ""
	assert_equal "$(ls -A "$ST2/tmp" 2>/dev/null)" ""
}

jq_() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

@test "fcsnap-push: push, pull on another host, restore: byte for byte" {
	make_snapshot
	run -0 --separate-stderr fcsnap-push --json s1 "$R"
	[[ $(jq_ 'd["chunks_uploaded"]' <<<"$output") -gt 0 ]] || fail "nothing uploaded: $output"
	assert_equal "$(jq_ 'd["chunks_skipped"]' <<<"$output")" 0
	run -0 s3_keys fleet/snapshots/
	assert_output fleet/snapshots/s1.json
	run -0 --separate-stderr fcsnap-pull -c "$CONF2" --json "$R" s1
	assert_equal "$(jq_ 'd["snapshot"]' <<<"$output")" s1
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	cmp "$ST/snapshots/s1/manifest.json" "$ST2/snapshots/s1/manifest.json"
	run -0 fcsnap-verify -c "$CONF2" s1
	# holes stay holes: the pulled memory takes no more disk than the original
	(($(stat -c %b "$ST2/snapshots/s1/memory") <= $(stat -c %b "$ST/snapshots/s1/memory") + 64)) ||
		fail "the pulled memory file lost its holes"
	run -0 fcsnap-restore -c "$CONF2" --tap "eth0=${FC_TAP_eth0}r" s1 vm2
	stop_restored
}
