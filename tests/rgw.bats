#!/usr/bin/env bats
# tests/helpers/rgw, the private Ceph RGW the object-store suites will use:
# it starts on loopback, takes a signed PUT and gives the bytes back, and
# stops leaving no process and no directory.

load helpers/common

@test "rgw: a private RGW starts, round-trips an object byte for byte, and stops leaving nothing" {
	local d=$BATS_TEST_TMPDIR/rgw env auth pids
	run -0 "$REPO/tests/helpers/rgw" start "$d"
	env=$output
	eval "$env"
	auth=(--aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
	pids=$(cat "$d"/run/*.pid)
	run -0 curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X PUT "$S3_ENDPOINT/statekit-test"
	assert_output 200
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/obj"
	run -0 curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -T "$BATS_TEST_TMPDIR/obj" \
		"$S3_ENDPOINT/statekit-test/k1"
	assert_output 200
	curl -s "${auth[@]}" "$S3_ENDPOINT/statekit-test/k1" | cmp - "$BATS_TEST_TMPDIR/obj"
	run -0 "$REPO/tests/helpers/rgw" stop "$d"
	[[ ! -e $d ]] || fail "$d is left"
	for p in $pids; do
		[[ ! -r /proc/$p/stat ]] || [[ $(sed 's/^.*) \(.\).*/\1/' "/proc/$p/stat") == Z ]] ||
			fail "daemon $p still runs"
	done
}
