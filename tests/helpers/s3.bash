# shellcheck shell=bash
# The private Ceph RGW for the object-store suites: started once per file
# (setup_file: s3_up; teardown_file: s3_down), a bucket of its own per test,
# and raw S3 calls through curl --aws-sigv4 to look at or damage what
# statekit stored.

s3_up() {
	local d=$BATS_FILE_TMPDIR/rgw out
	out=$("$REPO/tests/helpers/rgw" start "$d") || {
		# A port picked free may be taken before the daemon binds it: once more.
		"$REPO/tests/helpers/rgw" stop "$d" >/dev/null 2>&1 || true
		out=$("$REPO/tests/helpers/rgw" start "$d")
	}
	eval "$out"
	export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_ENDPOINT_URL=$S3_ENDPOINT AWS_REGION=us-east-1
	echo "$out" >"$BATS_FILE_TMPDIR/s3.env"
}

s3_down() {
	"$REPO/tests/helpers/rgw" stop "$BATS_FILE_TMPDIR/rgw"
}

# Load what s3_up found (each test runs in a fresh shell).
s3_env() {
	eval "$(cat "$BATS_FILE_TMPDIR/s3.env")"
	export S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	export AWS_ENDPOINT_URL=$S3_ENDPOINT AWS_REGION=us-east-1
	unset AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_PROFILE AWS_DEFAULT_REGION
}

s3curl() {
	curl -sS --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# A new bucket for this test; its name in $BUCKET.
mkbucket() {
	BUCKET=t-$(printf '%s' "$BATS_TEST_NAME" | md5sum | cut -c1-12)-${1:-a}
	[[ $(s3curl -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$BUCKET") == 200 ]] ||
		fail "cannot create bucket $BUCKET"
}

# The keys under a prefix of $BUCKET, one a line, sorted.
s3_keys() {	# [PREFIX]
	local p=${1:-}
	# curl signs the query as written: it must be canonical already.
	s3curl "$S3_ENDPOINT/$BUCKET?list-type=2&max-keys=1000&prefix=${p//\//%2F}" |
		grep -o '<Key>[^<]*</Key>' | sed 's/<[^>]*>//g' | LC_ALL=C sort
}

s3_get() { s3curl -f "$S3_ENDPOINT/$BUCKET/$1"; }
s3_put() { s3curl -f -o /dev/null -T "$2" "$S3_ENDPOINT/$BUCKET/$1"; }	# KEY FILE
s3_del() { s3curl -f -o /dev/null -X DELETE "$S3_ENDPOINT/$BUCKET/$1"; }
