#!/usr/bin/env bats
# Every --json output against the one schema of statekit(7), JSON output:
# the exact keys of each command, each key's type, RFC 3339 UTC times that
# agree with their _epoch twins, integer sizes and counts, arrays for lists,
# an object for taps, milliseconds to 3 decimals, strict UTF-8.

load helpers/common
load helpers/fc

setup() {
	sk_setup
	sk_hooks
	sk_conf "[firecracker]" \
		"binary = $FC_BIN" \
		"socket = $BATS_TEST_TMPDIR/vms/%s/fc.sock" \
		"chroot ="
	CHECK=$BATS_TEST_TMPDIR/check.py
	cat >"$CHECK" <<-'PY'
	import datetime, json, re, sys

	# kind of every key, the same in every command
	STR = ("bot", "snapshot", "machine", "codec", "file", "directory", "socket", "root",
	       "vmm_version", "name", "kind", "remote", "source_snapshot")
	STR_OR_NULL = ("snapshot_version", "error", "drive_id", "diff_base", "diff_pages",
	               "base_copy", "full_reason", "tag")
	INT = ("generation", "size", "entries", "bytes", "artifact_count", "pid",
	       "chunks", "chunks_zero", "chunks_uploaded", "chunks_downloaded", "chunks_skipped",
	       "bytes_uploaded", "bytes_downloaded", "bytes_skipped", "manifest_bytes",
	       "snapshots", "chunks_kept", "chunks_deleted", "bytes_deleted", "locks_deleted", "uid",
	       "gid")
	BOOL = ("ok", "keep", "was_paused", "jailed", "pins_snapshot_memory", "dirty_tracking")
	MS = ("pause_ms", "clone_ms", "base_ms", "duration_ms")
	TIME = ("created", "restored", "verified", "mtime")
	KEYS = {
	    "import": "bot entries bytes codec",
	    "preserve": "bot generation file created created_epoch size entries codec sha256",
	    "preserve-list": "bot generation file created created_epoch size entries codec sha256"
	                     " restored restored_epoch verified verified_epoch verified_ok tag",
	    "preserve-verify": "bot generation ok entries error",
	    "preserve-ls": "path type mode uid gid size mtime mtime_epoch link",
	    "preserve-restore": "bot generation entries bytes codec target pre_restore_generation",
	    "preserve-prune": "bot generation created created_epoch tag keep reasons",
	    "fcsnap-create": "snapshot machine directory created created_epoch size artifact_count"
	                     " vmm_version snapshot_version pause_ms clone_ms was_paused snapshot_type"
	                     " diff_base diff_pages base_copy base_ms full_reason artifacts",
	    "fcsnap-list": "snapshot machine created created_epoch size artifact_count vmm_version"
	                   " snapshot_version pause_ms",
	    "fcsnap-restore": "machine snapshot pid socket root jailed taps pins_snapshot_memory"
	                      " dirty_tracking",
	    "fcsnap-verify": "snapshot ok error",
	    "fcsnap-push": "snapshot remote size chunks chunks_zero chunks_uploaded chunks_skipped"
	                   " bytes_uploaded bytes_skipped manifest_bytes duration_ms",
	    "fcsnap-pull": "snapshot remote source_snapshot size chunks chunks_zero chunks_downloaded"
	                   " bytes_downloaded manifest_bytes duration_ms",
	    "fcsnap-prune": "remote snapshots chunks_kept chunks_deleted bytes_deleted locks_deleted",
	    "artifact": "name kind drive_id size sha256",
	}
	LISTS = ("preserve-list", "preserve-verify", "preserve-prune", "preserve-ls", "fcsnap-list", "fcsnap-verify")

	def fail(msg):
	    sys.exit("%s: %s" % (sys.argv[1], msg))

	def is_int(v):
	    return isinstance(v, int) and not isinstance(v, bool)

	def check(kind, d):
	    if not isinstance(d, dict):
	        fail("%s: not an object: %r" % (kind, d))
	    want = KEYS[kind].split()
	    if sorted(d) != sorted(want):
	        fail("%s: keys %s, want %s" % (kind, sorted(d), sorted(want)))
	    for k, v in d.items():
	        if k in STR:
	            ok = isinstance(v, str) and v != ""
	        elif k in STR_OR_NULL:
	            ok = v is None or isinstance(v, str)
	        elif k in INT:
	            ok = is_int(v) and v >= 0
	        elif k in BOOL:
	            ok = isinstance(v, bool)
	        elif k in MS:
	            ok = (is_int(v) or isinstance(v, float)) and v >= 0 and round(v, 3) == v
	        elif k == "snapshot_type":
	            ok = v in ("Full", "Diff") and (v == "Diff") == (d["full_reason"] is None) and \
	                (v == "Diff") == (d["diff_pages"] in ("dirty-log", "resident"))
	        elif k == "sha256":
	            ok = isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v)
	        elif k in TIME:
	            e = d[k + "_epoch"]
	            if v is None:
	                ok = e is None and k != "created"
	            else:
	                ok = (isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v)
	                      and is_int(e) and datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ")
	                      .replace(tzinfo=datetime.timezone.utc).timestamp() == e)
	        elif k.endswith("_epoch") and k[:-6] in TIME:
	            ok = v is None or is_int(v)
	        elif k == "path":
	            ok = isinstance(v, str) and v != "" and not v.startswith(("/", "./"))
	        elif k == "type":
	            ok = v in ("file", "dir", "symlink", "hardlink")
	        elif k == "mode":
	            ok = isinstance(v, str) and re.fullmatch(r"0[0-7]{3}", v)
	        elif k == "link":
	            ok = (v is None) == (d["type"] in ("file", "dir"))
	        elif k == "pre_restore_generation":
	            ok = v is None or (is_int(v) and v > d["generation"])
	        elif k == "target":
	            ok = v is None or (isinstance(v, str) and v.startswith("/"))
	        elif k == "reasons":
	            ok = isinstance(v, list) and all(isinstance(x, str) and x for x in v) and \
	                bool(v) == d["keep"]
	        elif k == "verified_ok":
	            ok = v is None if d["verified"] is None else isinstance(v, bool)
	        elif k == "artifacts":
	            ok = isinstance(v, list) and len(v) == d["artifact_count"] and len(v) > 0
	            for a in v if ok else []:
	                check("artifact", a)
	        elif k == "taps":
	            ok = isinstance(v, dict) and all(isinstance(x, str) and x for x in v.values())
	        else:
	            fail("%s: key %r has no schema" % (kind, k))
	        if not ok:
	            fail("%s: %s = %r does not fit the schema" % (kind, k, v))

	kind, raw = sys.argv[1], open(sys.argv[2], "rb").read()
	try:
	    doc = json.loads(raw.decode("utf-8"))
	except Exception as e:
	    fail("not strict UTF-8 JSON (%s): %r" % (e, raw[:300]))
	# no more than 3 decimals as printed, not only as parsed
	for m in re.finditer(rb'"(?:pause|clone)_ms": *(-?[0-9.eE+-]+)', raw):
	    if not re.fullmatch(rb"[0-9]+(\.[0-9]{1,3})?", m.group(1)):
	        fail("milliseconds printed as %r" % m.group(1))
	if kind in LISTS:
	    if not isinstance(doc, list) or not doc:
	        fail("want a non-empty array: %r" % doc)
	    for d in doc:
	        check(kind, d)
	else:
	    check(kind, doc)
	print("ok")
	PY
}

teardown() {
	local p
	if [[ -f $ST/index.db ]]; then
		for p in $(sqlite3 "$ST/index.db" 'SELECT pid FROM machines' 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
	fi
	fc_stop_all
}

# Run a command line, its stdout into a file, then the checker: KIND CMD...
json_ok() {
	local kind=$1 out=$BATS_TEST_TMPDIR/out.json
	shift
	"$@" >"$out" || fail "$* exited $?"
	run -0 python3 "$CHECK" "$kind" "$out"
	assert_output ok
}

@test "json: ws-import, ws-preserve, --list and --restore --json fit the schema" {
	make_sample bot1
	json_ok preserve ws-preserve --json bot1
	json_ok preserve ws-preserve --json bot1
	json_ok preserve-list ws-preserve --list --json bot1	# restored is null
	json_ok preserve-restore ws-preserve --restore --json bot1
	json_ok preserve-restore ws-preserve --restore --json --target "$BATS_TEST_TMPDIR/t" bot1
	json_ok preserve-verify ws-preserve --verify --json -g 1 bot1
	json_ok preserve-ls ws-preserve --ls --json bot1
	json_ok preserve-prune ws-preserve --prune --dry-run --json --keep-last 1 bot1
	json_ok preserve-list ws-preserve --list --json	# one restored, one not; one verified
	run -0 python3 -c 'import json,sys; print([d["restored"] is None for d in json.load(sys.stdin)])' \
		< <(ws-preserve --list --json)
	assert_output "[True, False, True]" # 3: the pre-restore copy
	ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	json_ok import ws-import --json -i "$BATS_TEST_TMPDIR/a.tgz" bot2
}

@test "json: fcsnap-create, -list, -verify and -restore --json fit the schema" {
	fc_start vm1
	json_ok fcsnap-create fcsnap-create --json vm1 s1
	cp "$BATS_TEST_TMPDIR/out.json" "$BATS_TEST_TMPDIR/create.json"
	json_ok fcsnap-list fcsnap-list --json
	# one pause, one number: create and list print the same milliseconds
	run -0 python3 -c '
import json, sys
c, l = (json.load(open(f)) for f in sys.argv[1:])
assert c["pause_ms"] > 0 and [c["pause_ms"]] == [x["pause_ms"] for x in l], (c, l)
assert [c["created"], c["size"]] == [l[0]["created"], l[0]["size"]], (c, l)
' "$BATS_TEST_TMPDIR/create.json" "$BATS_TEST_TMPDIR/out.json"
	json_ok fcsnap-verify fcsnap-verify --all --json
	json_ok fcsnap-restore fcsnap-restore --json --tap "eth0=${FC_TAP_eth0}r" s1 vm7
	run -0 python3 -c 'import json,sys; print(json.load(sys.stdin)["taps"])' \
		<"$BATS_TEST_TMPDIR/out.json"
	assert_output "{'eth0': '${FC_TAP_eth0}r'}"
}

@test "json: the checker refuses what the schema forbids" {
	bad() {
		printf '%s' "$2" >"$BATS_TEST_TMPDIR/bad.json"
		run -1 python3 "$CHECK" "$1" "$BATS_TEST_TMPDIR/bad.json"
		[[ $output == *"$3"* ]] || fail "$2: $output"
	}
	good='"bot":"b","entries":1,"codec":"gzip"'
	bad import "{$good,\"bytes\":8.0}" "bytes = 8.0"
	bad import "{$good}" "keys"
	bad import "{$good,\"bytes\":true}" "bytes = True"
	bad import $'{"bot":"\xff","entries":1,"bytes":1,"codec":"gzip"}' "not strict UTF-8"
	t='"snapshot":"s","ok":true,"error":null'
	bad fcsnap-verify "{$t}" "want a non-empty array"
	l='"snapshot":"s","machine":"m","size":1,"artifact_count":1,"vmm_version":"1","snapshot_version":null'
	bad fcsnap-list "[{$l,\"created\":1764748800,\"created_epoch\":1764748800,\"pause_ms\":1}]" "created = 1764748800"
	bad fcsnap-list "[{$l,\"created\":\"2025-12-03T08:00:00Z\",\"created_epoch\":1,\"pause_ms\":1}]" "created = '2025"
	bad fcsnap-list "[{$l,\"created\":\"2025-12-03 08:00:00\",\"created_epoch\":1764748800,\"pause_ms\":1}]" "created = '2025"
	bad fcsnap-list "[{$l,\"created\":\"2025-12-03T08:00:00Z\",\"created_epoch\":1764748800,\"pause_ms\":40.5642660000467}]" "milliseconds printed"
	bad fcsnap-restore '{"machine":"m","snapshot":"s","pid":1,"socket":"/s","root":"/r","jailed":false,"taps":"eth0=tap0","pins_snapshot_memory":false,"dirty_tracking":true}' "taps = 'eth0=tap0'"
	python3 -c 'import datetime; print(datetime.datetime(2025,12,3,8,tzinfo=datetime.timezone.utc).timestamp())' | grep -qx 1764748800.0
}
