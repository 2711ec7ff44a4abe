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
	[[ -z ${RGW2:-} ]] || "$REPO/tests/helpers/rgw" stop "$RGW2"
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
	fc_start vm1 --mem 64 --disk rootfs:64 --disk data:16
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

# new_chunks A B: distinct non-zero chunks of snapshot B that A does not have.
new_chunks() {
	python3 - "$ST/snapshots/$1/manifest.json" "$ST/snapshots/$2/manifest.json" <<-'PY'
	import hashlib, json, sys
	def chunks(path):
	    m = json.load(open(path)); cs = m["chunk_size"]; out = set()
	    for a in m["artifacts"]:
	        for i, d in enumerate(a["chunks"]):
	            n = min(cs, a["size"] - i * cs)
	            if d != hashlib.sha256(bytes(n)).hexdigest():
	                out.add(d)
	    return out
	print(len(chunks(sys.argv[2]) - chunks(sys.argv[1])))
	PY
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

@test "fcsnap-push: a second push sends only the manifest; a child sends only its changed chunks" {
	fc_start vm1 --mem 64 --disk rootfs:64 --disk data:16 --track-dirty
	fcsnap-create vm1 s1
	run -0 --separate-stderr fcsnap-push --json s1 "$R"
	local first=$output
	# the same id again: refused, then forced, and only the manifest moves
	run -4 --separate-stderr fcsnap-push s1 "$R"
	assert_equal "$stderr" "fcsnap-push: $R already has snapshot 's1'; --force replaces it"
	run -0 --separate-stderr fcsnap-push --force --json s1 "$R"
	assert_equal "$(jq_ 'd["chunks_uploaded"]' <<<"$output")" 0
	assert_equal "$(jq_ 'd["chunks_skipped"]' <<<"$first")" 0
	assert_equal "$(jq_ 'd["chunks_skipped"]' <<<"$output")" "$(jq_ 'd["chunks_uploaded"]' <<<"$first")"
	assert_equal "$(jq_ 'd["bytes_uploaded"]' <<<"$output")" "$(jq_ 'd["manifest_bytes"]' <<<"$output")"
	(($(jq_ 'd["bytes_uploaded"] * 100 < d["size"]' <<<"$output" | grep -c True) == 1)) ||
		fail "a second push sent $(jq_ 'd["bytes_uploaded"]' <<<"$output") bytes"
	# the guest keeps writing its page 0: the next snapshot differs there and in its state
	sleep 0.2
	fcsnap-create vm1 s2
	run -0 --separate-stderr fcsnap-push --json s2 "$R"
	# exactly the chunks of s2 that s1 does not have went up; its disks were all there
	assert_equal "$(jq_ 'd["chunks_uploaded"]' <<<"$output")" "$(new_chunks s1 s2)"
	(($(jq_ 'd["chunks_uploaded"]' <<<"$output") < $(jq_ 'd["chunks"] - d["chunks_zero"]' <<<"$output"))) ||
		fail "the child shared nothing: $output"
	run -0 fcsnap-pull -c "$CONF2" "$R" s2
	assert_same_snapshot "$ST/snapshots/s2" "$ST2/snapshots/s2"
}

@test "fcsnap-push: killed after a chunk, nothing is visible; run again, it sends only the rest" {
	make_snapshot
	head -c 8M /dev/urandom >"$BATS_TEST_TMPDIR/rnd"
	run -0 --separate-stderr fcsnap-push --json s1 "s3://$BUCKET/probe"
	local total
	total=$(jq_ 'd["chunks_uploaded"]' <<<"$output")
	((total >= 2)) || fail "too few chunks to test with: $output"
	STATEKIT_FAULT=fcpush-chunk-sent run -137 fcsnap-push s1 "$R"
	run -0 s3_keys fleet/snapshots/
	assert_output ""
	[[ -n $(s3_keys fleet/chunks/) ]] || fail "no chunk was sent before the kill"
	run -0 fcsnap-list --remote "$R" --ids
	assert_output ""
	run -0 --separate-stderr fcsnap-push --json s1 "$R"
	local up sk
	up=$(jq_ 'd["chunks_uploaded"]' <<<"$output")
	sk=$(jq_ 'd["chunks_skipped"]' <<<"$output")
	((sk >= 1 && up + sk == total)) || fail "after the kill: $up sent, $sk skipped of $total"
	run -0 fcsnap-list --remote "$R" --ids
	assert_output s1
	# the killed push's lock was never removed: it holds nothing back from a shared push
	run -0 fcsnap-verify --remote "$R" --read-data s1
}

@test "fcsnap-push: radosgw stopped mid-push is exit 1, and nothing is visible when it is back" {
	local d=$BATS_TEST_TMPDIR/rgw2 pid
	mkdir -p "$d"
	RGW2=$d # teardown stops it, whatever fails
	eval "$("$REPO/tests/helpers/rgw" start "$d")"
	export AWS_ENDPOINT_URL=$S3_ENDPOINT
	mkbucket gw
	fc_start vm1 --mem 64 --disk rootfs:128 --disk data:16
	head -c 120M /dev/urandom | dd of="$(fc_dir vm1)/rootfs.img" conv=notrunc status=none
	fcsnap-create vm1 s1
	sk_conf "[remote]" "concurrency = 1"
	fcsnap-push s1 "s3://$BUCKET/fleet" 2>"$BATS_TEST_TMPDIR/err" &
	pid=$!
	BG_PIDS=$pid
	for _ in $(seq 500); do
		[[ -n $(s3_keys fleet/chunks/ 2>/dev/null) ]] && break
		sleep 0.02
	done
	kill -STOP "$pid"
	"$REPO/tests/helpers/rgw" stop-gw "$d"
	kill -CONT "$pid"
	local rc=0
	wait "$pid" || rc=$?
	assert_equal "$rc" 1
	run cat "$BATS_TEST_TMPDIR/err"
	# the error last; before it, a warning that the lock could not be removed
	assert_equal "${lines[-1]}" "$(grep '^fcsnap-push: upload chunk' <<<"$output")"
	assert_line --regexp "^fcsnap-push: upload chunk [0-9a-f]{16}: cannot reach 127.0.0.1:[0-9]+: .* \(6 attempts\)$"
	"$REPO/tests/helpers/rgw" start-gw "$d"
	run -0 s3_keys fleet/snapshots/
	assert_output ""
}

@test "fcsnap-pull: a chunk overwritten in the bucket is exit 5 and leaves nothing" {
	make_snapshot
	fcsnap-push s1 "$R"
	local key
	key=$(s3_keys fleet/chunks/ | head -1)
	printf 'not the chunk' >"$BATS_TEST_TMPDIR/junk"
	s3_put "$key" "$BATS_TEST_TMPDIR/junk"
	run -5 --separate-stderr fcsnap-pull -c "$CONF2" "$R" s1
	[[ $stderr == "fcsnap-pull: chunk ${key:16:16}... is damaged in the store: "* ]] || fail "$stderr"
	assert_host2_clean
	run -5 --separate-stderr fcsnap-verify --remote "$R" --read-data s1
	[[ $stderr == *"chunk "*" (${key:16:16}...) is damaged"* ]] || fail "$stderr"
	# a listing alone sees the chunk is there
	run -0 fcsnap-verify --remote "$R" s1
	# a chunk gone altogether
	s3_del "$key"
	run -5 --separate-stderr fcsnap-verify --remote "$R" s1
	[[ $stderr == *"(${key:16:16}...) is missing from the store" ]] || fail "$stderr"
	run -5 --separate-stderr fcsnap-pull -c "$CONF2" "$R" s1
	assert_equal "$stderr" "fcsnap-pull: chunk ${key:16:16}... of snapshot 's1' is missing from $R"
	assert_host2_clean
}

@test "fcsnap-pull: a manifest replaced in the bucket is exit 5; an id taken here is exit 4 unless --as" {
	make_snapshot
	fcsnap-push s1 "$R"
	s3_get fleet/snapshots/s1.json | sed 's/"machine": "vm1"/"machine": "vm9"/' >"$BATS_TEST_TMPDIR/m"
	s3_put fleet/snapshots/s1.json "$BATS_TEST_TMPDIR/m"
	run -5 --separate-stderr fcsnap-pull -c "$CONF2" "$R" s1
	assert_equal "$stderr" "fcsnap-pull: the manifest of snapshot 's1' in $R does not match its sha256 (damaged or replaced in the store)"
	assert_host2_clean
	fcsnap-push --force s1 "$R"
	run -4 --separate-stderr fcsnap-pull "$R" s1
	assert_equal "$stderr" "fcsnap-pull: snapshot 's1' already exists; store it under another id with --as NEWID"
	run -0 fcsnap-pull "$R" s1 --as s1copy
	assert_same_snapshot "$ST/snapshots/s1" "$ST/snapshots/s1copy"
	run -3 --separate-stderr fcsnap-pull -c "$CONF2" "$R" nosuch
	assert_equal "$stderr" "fcsnap-pull: no snapshot 'nosuch' in $R"
	run -3 --separate-stderr fcsnap-pull -c "$CONF2" "s3://$BUCKET/empty" s1
	assert_equal "$stderr" "fcsnap-pull: no statekit store at s3://$BUCKET/empty"
	assert_host2_clean
}

@test "fcsnap-pull: killed at any point leaves nothing the next command does not clean up" {
	make_snapshot
	fcsnap-push s1 "$R"
	local f
	for f in fcpull-received fcimport-staged fcimport-committing; do
		STATEKIT_FAULT=$f run -137 fcsnap-pull -c "$CONF2" "$R" s1
		run -0 fcsnap-list -c "$CONF2"
		assert_host2_clean
	done
	run -0 fcsnap-pull -c "$CONF2" "$R" s1
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
}

@test "fcsnap-push: wrong keys, no bucket, no credentials and an open credentials file are exit 2" {
	make_snapshot
	AWS_SECRET_ACCESS_KEY=not-the-secret run -2 --separate-stderr fcsnap-push s1 "$R"
	assert_equal "$stderr" "fcsnap-push: read $R/statekit-store.json: the store refused the credentials (403 SignatureDoesNotMatch): check the access key, the secret key and the clock"
	[[ $stderr != *not-the-secret* ]] || fail "the secret is in the message"
	run -2 --separate-stderr fcsnap-push s1 "s3://no-such-bucket-$BUCKET/x"
	assert_equal "$stderr" "fcsnap-push: read s3://no-such-bucket-$BUCKET/x/statekit-store.json: bucket 'no-such-bucket-$BUCKET' does not exist at ${S3_ENDPOINT#http://}"
	run -2 --separate-stderr fcsnap-push s1 "https://$BUCKET/x"
	assert_equal "$stderr" "fcsnap-push: remote 'https://$BUCKET/x' is not s3://BUCKET/PREFIX"
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$BATS_TEST_TMPDIR/creds"
	(
		unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		run -2 --separate-stderr fcsnap-push s1 "$R"
		assert_equal "$stderr" "fcsnap-push: no credentials for the object store: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or [remote] credentials_file"
		chmod 0644 "$BATS_TEST_TMPDIR/creds"
		sk_conf "[remote]" "credentials_file = $BATS_TEST_TMPDIR/creds"
		run -2 --separate-stderr fcsnap-push s1 "$R"
		assert_equal "$stderr" "fcsnap-push: credentials file '$BATS_TEST_TMPDIR/creds' may be read by others (mode 0644): chmod 600 it"
		chmod 0600 "$BATS_TEST_TMPDIR/creds"
		run -0 fcsnap-push s1 "$R"
	) || fail "credentials"
	run -0 fcsnap-list --remote "$R" --ids
	assert_output s1
}

@test "fcsnap-delete --prune: removes what no snapshot names, never a concurrent push's chunks" {
	fc_start vm1 --mem 64 --disk rootfs:64 --disk data:16 --track-dirty
	fcsnap-create vm1 s1
	head -c 8M /dev/urandom | dd of="$(fc_dir vm1)/data.img" conv=notrunc status=none
	fcsnap-create vm1 s2
	fcsnap-push s1 "$R"
	fcsnap-push s2 "$R"
	# chunks of a push killed before its manifest
	fcsnap-create vm1 s3
	STATEKIT_FAULT=fcpush-chunk-sent run -137 fcsnap-push s3 "$R"
	run -0 fcsnap-delete --remote "$R" s1
	run -3 --separate-stderr fcsnap-delete --remote "$R" s1
	assert_equal "$stderr" "fcsnap-delete: no snapshot 's1' in $R"
	local before
	before=$(s3_keys fleet/chunks/ | wc -l)
	run -0 --separate-stderr fcsnap-delete --remote "$R" --prune --json
	(($(jq_ 'd["chunks_deleted"]' <<<"$output") >= 1)) || fail "$output"
	assert_equal "$(jq_ 'd["snapshots"]' <<<"$output")" 1
	assert_equal "$(($(s3_keys fleet/chunks/ | wc -l)))" "$((before - $(jq_ 'd["chunks_deleted"]' <<<"$output")))"
	run -0 fcsnap-verify --remote "$R" --read-data --all
	assert_output "s2: ok"
	# a push holding its shared lock keeps prune out
	fcsnap-push s3 "$R" --progress 2>/dev/null &
	local pid=$!
	BG_PIDS=$pid
	for _ in $(seq 500); do
		[[ -n $(s3_keys fleet/locks/shared.) ]] && break
		sleep 0.01
	done
	kill -STOP "$pid"
	run -4 --separate-stderr fcsnap-delete --remote "$R" --prune
	[[ $stderr == "fcsnap-delete: $R is locked by another command (fleet/locks/shared."* ]] ||
		[[ $stderr == "fcsnap-delete: $R is locked by another command (locks/shared."* ]] || fail "$stderr"
	kill -CONT "$pid"
	wait "$pid" || fail "the push held up by prune failed"
	run -0 fcsnap-delete --remote "$R" --prune
	run -0 fcsnap-verify --remote "$R" --read-data --all
	assert_output "s2: ok
s3: ok"
	assert_equal "$(s3_keys fleet/locks/)" ""
	run -0 fcsnap-pull -c "$CONF2" "$R" s3
	assert_same_snapshot "$ST/snapshots/s3" "$ST2/snapshots/s3"
}

@test "fcsnap-list --remote: the store's snapshots as a table, ids and JSON" {
	make_snapshot
	run -0 fcsnap-list --remote "$R"
	assert_output "SNAPSHOT                 MACHINE              CREATED                   SIZE ARTIFACTS"
	fcsnap-push s1 "$R"
	run -0 fcsnap-list --remote "$R" --ids
	assert_output s1
	run -0 fcsnap-list --remote "$R" --json
	assert_equal "$(jq -r '.[0].snapshot, .[0].machine' <<<"$output" | paste -sd' ')" "s1 vm1"
	assert_equal "$(jq -r '.[0].size' <<<"$output")" "$(fcsnap-list --json | jq -r '.[0].size')"
	run -0 fcsnap-list --remote "$R" --ids vm9
	assert_output ""
}

@test "fcsnap-push --presigned: parts to presigned UploadPart URLs; fcsnap-pull --presigned back, byte for byte" {
	make_snapshot
	local P=$BATS_TEST_TMPDIR
	"$REPO/tests/helpers/presign" plan "$ST/snapshots/s1/manifest.json" "$BUCKET" cp/s1 $((5 << 20)) 600 >"$P/plan.json"
	(
		# the control plane holds the keys, not this host
		unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		fcsnap-push --presigned "$P/plan.json" s1 >"$P/result.json"
	) || fail "push --presigned failed"
	assert_equal "$(jq -r '.manifest.snapshot' "$P/result.json")" s1
	"$REPO/tests/helpers/presign" complete "$P/plan.json" "$P/result.json"
	s3_get cp/s1/memory | cmp - "$ST/snapshots/s1/memory"
	s3_get cp/s1/disk-rootfs | cmp - "$ST/snapshots/s1/disk-rootfs"
	"$REPO/tests/helpers/presign" spec "$P/result.json" "$BUCKET" cp/s1 600 >"$P/spec.json"
	(
		unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
		fcsnap-pull -c "$CONF2" --presigned "$P/spec.json"
	) || fail "pull --presigned failed"
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	run -0 fcsnap-restore -c "$CONF2" --tap "eth0=${FC_TAP_eth0}r" s1 vm2
	stop_restored
	# expired URLs: exit 2, and nothing left
	"$REPO/tests/helpers/presign" spec "$P/result.json" "$BUCKET" cp/s1 1 >"$P/old.json"
	"$REPO/tests/helpers/presign" plan "$ST/snapshots/s1/manifest.json" "$BUCKET" cp/s2 $((5 << 20)) 1 >"$P/oldplan.json"
	sleep 2
	run -2 --separate-stderr fcsnap-pull -c "$CONF2" --presigned "$P/old.json" --as s1b
	[[ $stderr == "fcsnap-pull: download chunk "*": the store refused the presigned URL (403 AccessDenied): expired, or signed for another request" ]] || fail "$stderr"
	[[ $stderr != *X-Amz-Signature* ]] || fail "the URL's signature is in the message"
	run -2 --separate-stderr fcsnap-push --presigned "$P/oldplan.json" s1
	[[ $stderr == "fcsnap-push: upload part "*" of artifact '"*"': the store refused the presigned URL (403 AccessDenied): expired, or signed for another request" ]] || fail "$stderr"
	assert_equal "$(ls -A "$ST2/tmp")" ""
	assert_equal "$(sqlite3 "$ST2/index.db" 'SELECT count(*) FROM journal')" 0
}

# The lines a terminal would show: each \r starts a line again.
screen_lines() {
	tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -v '^$'
}

@test "fcsnap-push, fcsnap-pull: typed at a terminal, progress counts chunks and bytes; the copy is whole" {
	fc_start vm1 --mem 64 --disk rootfs:96 --disk data:16
	head -c 90M /dev/urandom | dd of="$(fc_dir vm1)/rootfs.img" conv=notrunc status=none
	fcsnap-create vm1 s1
	sk_conf "[remote]" "concurrency = 1"
	run "$REPO/tests/helpers/ptyrun" -o "$BATS_TEST_TMPDIR/screen" "fcsnap-push s1 $R"
	[ "$status" -eq 0 ] || fail "exit $status: $(cat "$BATS_TEST_TMPDIR/screen")"
	screen_lines "$BATS_TEST_TMPDIR/screen" >"$BATS_TEST_TMPDIR/lines"
	grep -Eq "^fcsnap-push: pushing 's1': [0-9]+ chunks sent, [0-9]+ skipped: [0-9.]+ [KMG]?i?B of [0-9.]+ MiB \([0-9]+%\)" "$BATS_TEST_TMPDIR/lines" ||
		fail "no chunk counts at the terminal: $(cat -A "$BATS_TEST_TMPDIR/screen")"
	assert_equal "$(grep -c ' in [0-9.]* s ' "$BATS_TEST_TMPDIR/lines")" 1
	tail -n1 "$BATS_TEST_TMPDIR/lines" | grep -Eq "^fcsnap-push: pushing 's1': [0-9]+ chunks sent, 0 skipped: [0-9.]+ MiB in " ||
		fail "closing line: $(tail -n1 "$BATS_TEST_TMPDIR/lines")"
	run "$REPO/tests/helpers/ptyrun" -o "$BATS_TEST_TMPDIR/screen2" "fcsnap-pull -c $CONF2 $R s1"
	[ "$status" -eq 0 ] || fail "exit $status: $(cat "$BATS_TEST_TMPDIR/screen2")"
	screen_lines "$BATS_TEST_TMPDIR/screen2" | tail -n1 | grep -Eq "^fcsnap-pull: pulling 's1': [0-9]+ chunks received: [0-9.]+ MiB in " ||
		fail "closing line: $(cat -A "$BATS_TEST_TMPDIR/screen2")"
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	# -q: nothing at all
	run "$REPO/tests/helpers/ptyrun" -o "$BATS_TEST_TMPDIR/screen3" "fcsnap-push -q --force s1 $R"
	assert_success
	assert_equal "$(cat "$BATS_TEST_TMPDIR/screen3")" ""
}

@test "fcsnap-push: a snapshot damaged on disk is exit 5 and nothing of it reaches the store" {
	make_snapshot
	# a byte of the disk's data flipped after the snapshot was recorded
	printf 'X' | dd of="$ST/snapshots/s1/disk-rootfs" bs=1 seek=4096 conv=notrunc status=none
	run -5 --separate-stderr fcsnap-push s1 "$R"
	assert_equal "$stderr" "fcsnap-push: snapshot 's1': artifact 'disk-rootfs' is damaged on disk (chunk 0 does not match the manifest); nothing of it was sent"
	run -0 s3_keys fleet/snapshots/
	assert_output ""
	run -0 fcsnap-list --remote "$R" --ids
	assert_output ""
}

# start_proxy ARGS...: tests/helpers/s3proxy in front of the RGW (see there);
# its port in $PORT, what it spoiled in $PLOG.
start_proxy() {
	local pf=$BATS_TEST_TMPDIR/proxy.$RANDOM
	"$REPO/tests/helpers/s3proxy" "$pf" "$S3_ENDPOINT" "$@" &
	BG_PIDS="$BG_PIDS $!"
	PROXY_PID=$!
	for _ in $(seq 200); do
		[[ -f $pf ]] && break
		sleep 0.05
	done
	PORT=$(cat "$pf")
	PLOG=$pf.log
}

@test "fcsnap-push, -pull, -verify: 503, 429 and reset connections are retried, and the copy is whole" {
	make_snapshot
	start_proxy --fail-every 3:503
	AWS_ENDPOINT_URL=http://127.0.0.1:$PORT run --separate-stderr fcsnap-push s1 "$R"
	[[ $status -eq 0 ]] || fail "exit $status: $stderr; $(cat "$PLOG")"
	(($(grep -c '^503 ' "$PLOG") >= 3)) || fail "the proxy spoiled too little: $(cat "$PLOG")"
	kill "$PROXY_PID"
	start_proxy --fail-every 4:429
	AWS_ENDPOINT_URL=http://127.0.0.1:$PORT run -0 fcsnap-pull -c "$CONF2" "$R" s1
	(($(grep -c '^429 ' "$PLOG") >= 3)) || fail "the proxy spoiled too little: $(cat "$PLOG")"
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	kill "$PROXY_PID"
	start_proxy --reset-every 4
	AWS_ENDPOINT_URL=http://127.0.0.1:$PORT run -0 fcsnap-verify --remote "$R" --read-data s1
	(($(grep -c '^reset ' "$PLOG") >= 3)) || fail "the proxy spoiled too little: $(cat "$PLOG")"
}

@test "fcsnap-push: a store that keeps answering 503 is exit 1 after 6 attempts, nothing visible" {
	make_snapshot
	fcsnap-push s1 "s3://$BUCKET/other" # the store exists; the marker is read below
	start_proxy --fail-every 1:503
	AWS_ENDPOINT_URL=http://127.0.0.1:$PORT run -1 --separate-stderr fcsnap-push s1 "$R"
	assert_equal "$stderr" "fcsnap-push: read $R/statekit-store.json: the store answered 503 SlowDown (6 attempts)"
	assert_equal "$(grep -c '^503 ' "$PLOG")" 6
	run -0 s3_keys fleet/
	assert_output ""
}

@test "fcsnap-push: TLS is verified; a self-signed store is exit 1 until AWS_CA_BUNDLE names its certificate" {
	make_snapshot
	local c=$BATS_TEST_TMPDIR/cert.pem k=$BATS_TEST_TMPDIR/key.pem
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$k" -out "$c" -days 1 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
	start_proxy --tls "$c" "$k"
	AWS_ENDPOINT_URL=https://127.0.0.1:$PORT run -1 --separate-stderr fcsnap-push s1 "$R"
	[[ $stderr == "fcsnap-push: read $R/statekit-store.json: cannot reach 127.0.0.1:$PORT: SSL certificate problem: self"*"signed certificate" ]] ||
		fail "$stderr"
	run -0 s3_keys fleet/
	assert_output ""
	AWS_CA_BUNDLE=$c AWS_ENDPOINT_URL=https://127.0.0.1:$PORT run -0 fcsnap-push s1 "$R"
	run -0 fcsnap-list --remote "$R" --ids
	assert_output s1
}

@test "fcsnap-push: [remote] addressing = virtual names the bucket in the host; path-style reads the same store" {
	make_snapshot
	# the private RGW answers for *.localhost (rgw dns name), which curl resolves to loopback
	sk_conf "[remote]" "addressing = virtual" "endpoint = http://localhost:${S3_ENDPOINT##*:}"
	run -0 --separate-stderr fcsnap-push --json s1 "$R"
	run -0 s3_keys fleet/snapshots/
	assert_output fleet/snapshots/s1.json
	run -0 fcsnap-pull -c "$CONF2" "$R" s1
	assert_same_snapshot "$ST/snapshots/s1" "$ST2/snapshots/s1"
	run -2 --separate-stderr fcsnap-list --remote "s3://no-such-$BUCKET/x"
	assert_equal "$stderr" "fcsnap-list: read s3://no-such-$BUCKET/x/statekit-store.json: bucket 'no-such-$BUCKET' does not exist at localhost:${S3_ENDPOINT##*:}"
}
