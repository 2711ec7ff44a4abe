#!/usr/bin/env bats
# The Firecracker simulator (tests/fcsim) behaves as NOTES.md says the real
# VMM does, down to what statekit relies on: the HTTP framing, serde's
# refusals, the state machine, snapshot files, fatal restores, TAPs held for
# real, the jailer's layout. The fcsnap suites trust it because of this suite.

load helpers/common
load helpers/fc

setup() {
	FC_PIDS=
}

teardown() {
	fc_stop_all
}

FCSIM_BIN=$BATS_TEST_DIRNAME/fcsim/firecracker

# A raw exchange on one connection: each argument is "METHOD PATH [BODY]";
# prints every response verbatim, separated by a line "--".
raw_http() {
	python3 - "$@" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.connect(sys.argv[1])
	buf = b""
	for req in sys.argv[2:]:
	    method, path, *body = req.split(" ", 2)
	    body = body[0].encode() if body else b""
	    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
	    if body:
	        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
	    s.sendall((head + "\r\n").encode() + body)
	    while b"\r\n\r\n" not in buf:
	        buf += s.recv(65536)
	    head, buf = buf.split(b"\r\n\r\n", 1)
	    n = 0
	    for line in head.split(b"\r\n"):
	        if line.lower().startswith(b"content-length:"):
	            n = int(line.split(b":")[1])
	    while len(buf) < n:
	        buf += s.recv(65536)
	    sys.stdout.write((head + b"\r\n\r\n" + buf[:n]).decode() + "\n--\n")
	    buf = buf[n:]
	PY
}

# jget PY_EXPR: evaluate PY_EXPR on the JSON on stdin, bound to d; a string
# prints bare, anything else as compact JSON.
jget() {
	python3 -c 'import json, sys
v = eval(sys.argv[1], {"d": json.load(sys.stdin)})
print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))' "$1"
}

# CRC-64/REDIS (Firecracker's crc64), computed here independently: prints
# "crc-ok" when the CRC of the whole file is 0, and the magic in hex.
crc_check() {
	python3 - "$1" <<-'PY'
	import struct, sys
	poly = 0xad93d23594c935a9
	rev = int(f"{poly:064b}"[::-1], 2)
	table = []
	for i in range(256):
	    c = i
	    for _ in range(8):
	        c = (c >> 1) ^ rev if c & 1 else c >> 1
	    table.append(c)
	def crc(data):
	    c = 0
	    for b in data:
	        c = table[(c ^ b) & 0xff] ^ (c >> 8)
	    return c
	assert crc(b"123456789") == 0xe9c6d914c4b8d9ca
	data = open(sys.argv[1], "rb").read()
	body_crc = crc(data[:-8])
	print("crc-ok" if crc(data) == 0 and struct.unpack("<Q", data[-8:])[0] == body_crc
	      else "crc-bad")
	print(hex(struct.unpack("<Q", data[:8])[0]))
	PY
}

# Start VM ID, let the guest write, pause it and snapshot it (Full) into
# $BATS_TEST_TMPDIR/snap/ID.{snap,mem}; SEQ is the guest seq at the pause.
snapshot_vm() {
	local id=$1
	shift
	fc_start "$id" "$@"
	fc_wait_seq "$FC_DIR/rootfs.img" 3
	fc_pause "$FC_SOCK"
	SEQ=$(fc_guest_seq "$FC_DIR/rootfs.img")
	SNAP=$BATS_TEST_TMPDIR/snap/$id
	mkdir -p "${SNAP%/*}"
	fc_snapshot "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
}

@test "fcsim: --version, --snapshot-version and --describe-snapshot print as the real binary; an unknown flag exits 153" {
	"$FCSIM_BIN" --version | cmp - <(printf 'Firecracker v1.16.1\n\n')
	run -0 "$FCSIM_BIN" --snapshot-version
	assert_output v10.0.0
	FCSIM_VERSION=1.14.2 run -0 "$FCSIM_BIN" --snapshot-version
	assert_output v8.0.0
	FCSIM_VERSION=1.7.0 run -0 "$FCSIM_BIN" --version
	assert_output --partial "Firecracker v1.7.0"
	run -153 --separate-stderr "$FCSIM_BIN" --api-sock x --bogus
	[[ $stderr == *"Found argument '--bogus' which wasn't expected"* ]]
	run -153 --separate-stderr "$FCSIM_BIN" --api-sock
	# the real flags are accepted
	run -0 "$FCSIM_BIN" --no-seccomp --level Debug --show-level --show-log-origin --boot-timer \
		--start-time-us 1 --start-time-cpu-us 2 --parent-cpu-time-us 3 --enable-pci --version
	# describe: a 1.16 file is v10.0.0; an older binary still reads its header,
	# a newer one cannot decode an older format
	snapshot_vm d1 --no-net
	run -0 "$FCSIM_BIN" --describe-snapshot "$SNAP.snap"
	assert_output v10.0.0
	FCSIM_VERSION=1.14.2 run -0 "$FCSIM_BIN" --describe-snapshot "$SNAP.snap"
	assert_output v10.0.0
	FCSIM_VERSION=1.17.0 FCSIM_SNAPSHOT_VERSION=12.0.0 run -1 "$FCSIM_BIN" --describe-snapshot "$SNAP.snap"
	run -1 "$FCSIM_BIN" --describe-snapshot "$BATS_TEST_TMPDIR/none"
}

@test "fcsim: a socket path that exists already makes it exit 1" {
	: >"$BATS_TEST_TMPDIR/taken.sock"
	run -1 --separate-stderr "$FCSIM_BIN" --api-sock "$BATS_TEST_TMPDIR/taken.sock"
	[[ $stderr == *"Failed to open the API socket at: $BATS_TEST_TMPDIR/taken.sock"* ]]
}

@test "fcsim: answers have an empty reason phrase and Firecracker's headers, on one kept-alive connection" {
	fc_spawn r1
	run -0 raw_http "$FC_SOCK" "GET /" "PATCH /vm {\"state\":\"Paused\"}" \
		"PUT /logger {\"level\":\"Info\"}" "GET /version"
	[[ ${lines[0]} == $'HTTP/1.1 200 \r' ]]
	[[ ${lines[1]} == $'Server: Firecracker API\r' ]]
	[[ ${lines[2]} == $'Connection: keep-alive\r' ]]
	[[ ${lines[3]} == $'Content-Type: application/json\r' ]]
	body='{"id":"r1","state":"Not started","vmm_version":"1.16.1","app_name":"Firecracker"}'
	[[ ${lines[4]} == $'Content-Length: '"${#body}"$'\r' ]]
	[[ ${lines[5]} == $'\r' && ${lines[6]} == "$body" ]]
	[[ ${lines[8]} == $'HTTP/1.1 400 \r' ]]
	assert_line '{"fault_message":"The requested operation is not supported before starting the microVM."}'
	# a 204 has no body and no content headers
	[[ $output == *$'--\nHTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n\n--\nHTTP/1.1 200 \r'* ]]
	assert_line '{"firecracker_version":"1.16.1"}'
	# a body over 51200 bytes is 413
	big=$(head -c 52000 /dev/zero | tr '\0' a)
	run -0 raw_http "$FC_SOCK" "PUT /mmds {\"a\":\"$big\"}"
	[[ ${lines[0]} == $'HTTP/1.1 413 \r' ]]
	# deprecated fields are answered with Deprecation: true
	fc_spawn r2
	run -0 raw_http "$FC_SOCK" 'PUT /vsock {"vsock_id":"v","guest_cid":3,"uds_path":"v.sock"}'
	assert_line $'Deprecation: true\r'
}

@test "fcsim: unknown and missing fields, bad JSON and wrong paths are 400 with serde's words; fields are gated by version" {
	fc_spawn f1
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64,"bogus":1}'
	[[ $stderr == "400 An error occurred when deserializing the json body of a request: unknown field \`bogus\`, expected one of \`vcpu_count\`, \`mem_size_mib\`, \`smt\`, \`cpu_template\`, \`track_dirty_pages\`, \`huge_pages\` at line 1 column 41." ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /machine-config '{"vcpu_count":1}'
	[[ $stderr == "400 An error occurred when deserializing the json body of a request: missing field \`mem_size_mib\` at line 1 column 16." ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /machine-config '{"vcpu_count":"one","mem_size_mib":64}'
	[[ $stderr == *'invalid type: string "one", expected u8'* ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /machine-config '{"vcpu_count":1,'
	[[ $stderr == *"EOF while parsing an object at line 1 column 16."* ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PATCH /vm '{"state":"Bogus"}'
	[[ $stderr == *"unknown variant \`Bogus\`, expected \`Paused\` or \`Resumed\`"* ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" GET /bogus
	[[ $stderr == "400 Invalid request method and/or path: GET bogus." ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" DELETE /vm
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /drives/root '{"drive_id":"other","is_root_device":true,"path_on_host":"x"}'
	[[ $stderr == "400 The id from the path does not match the id from the body!" ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /drives/root '{"drive_id":"root","is_root_device":true,"path_on_host":"nope.img"}'
	[[ $stderr == *"No such file or directory (os error 2) nope.img" ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load '{"snapshot_path":"s"}'
	[[ $stderr == *"missing field: either \`mem_backend\` or \`mem_file_path\` is required." ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load '{"snapshot_path":"s","mem_file_path":"m","mem_backend":{"backend_type":"File","backend_path":"m"}}'
	[[ $stderr == *"too many fields: either \`mem_backend\` or \`mem_file_path\` exclusively is required." ]]
	# none of those refusals was fatal, and JSON errors do not configure anything
	[[ $(fc_state "$FC_SOCK") == "Not started" ]]
	# gates: 1.16 knows clock_realtime, 1.14.2 does not; 1.12 knows
	# network_overrides but not track_dirty_pages on load
	load='{"snapshot_path":"s","mem_file_path":"m"'
	FCSIM_VERSION=1.14.2 fc_spawn f2
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load "$load,\"clock_realtime\":true}"
	[[ $stderr == *"unknown field \`clock_realtime\`"* ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load "$load,\"vsock_override\":{\"uds_path\":\"v\"}}"
	[[ $stderr == *"unknown field \`vsock_override\`"* ]]
	FCSIM_VERSION=1.12.1 fc_spawn f3
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load "$load,\"track_dirty_pages\":true}"
	[[ $stderr == *"unknown field \`track_dirty_pages\`"* ]]
	fc_alive "$FC_PID"
}

@test "fcsim: pause before boot is refused, pause and resume are idempotent, create while running and pre-boot config after boot are refused" {
	fc_spawn s1
	run -1 --separate-stderr fc_pause "$FC_SOCK"
	[[ $stderr == "400 The requested operation is not supported before starting the microVM." ]]
	run -1 --separate-stderr fc_snapshot "$FC_SOCK" a.snap a.mem
	[[ $stderr == "400 The requested operation is not supported before starting the microVM." ]]
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /actions '{"action_type":"InstanceStart"}'
	[[ $stderr == *"Cannot start microvm without kernel configuration."* ]]
	fc_stop s1
	fc_start s2 --no-net
	[[ $(fc_state "$FC_SOCK") == Running ]]
	fc_resume "$FC_SOCK"
	[[ $(fc_state "$FC_SOCK") == Running ]]
	run -1 --separate-stderr fc_snapshot "$FC_SOCK" "$BATS_TEST_TMPDIR/a.snap" "$BATS_TEST_TMPDIR/a.mem"
	[[ $stderr == "400 Create snapshot error: Cannot save the microVM state: Operation not allowed: save/restore unavailable while running" ]]
	[[ ! -e $BATS_TEST_TMPDIR/a.snap && ! -e $BATS_TEST_TMPDIR/a.mem ]]
	fc_pause "$FC_SOCK"
	fc_pause "$FC_SOCK"
	[[ $(fc_state "$FC_SOCK") == Paused ]]
	for req in "/machine-config {\"vcpu_count\":1,\"mem_size_mib\":32}" "/boot-source {\"kernel_image_path\":\"x\"}" \
		"/actions {\"action_type\":\"InstanceStart\"}" "/logger {\"level\":\"Info\"}"; do
		run -1 --separate-stderr fc_api "$FC_SOCK" PUT "${req%% *}" "${req#* }"
		[[ $stderr == "400 The requested operation is not supported after starting the microVM." ]]
	done
	run -1 --separate-stderr fc_load "$FC_SOCK" a.snap a.mem
	[[ $stderr == "400 The requested operation is not supported after starting the microVM." ]]
	fc_api "$FC_SOCK" PUT /actions '{"action_type":"SendCtrlAltDel"}'
	run -1 fc_api "$FC_SOCK" PUT /actions '{"action_type":"FlushMetrics"}'
	fc_resume "$FC_SOCK"
	fc_resume "$FC_SOCK"
	[[ $(fc_state "$FC_SOCK") == Running ]]
	run -0 fc_api "$FC_SOCK" GET /vm/config
	[[ $output == '{"balloon":null,"drives":[{"drive_id":"rootfs","partuuid":null,"is_root_device":true,"cache_type":"Unsafe","is_read_only":false,"path_on_host":"rootfs.img","rate_limiter":null,"io_engine":"Sync","socket":null}],"boot-source":{"kernel_image_path":"'"$(fc_kernel)"'","initrd_path":null,"boot_args":"'"$FC_BOOT_ARGS"'"},"cpu-config":null,"logger":null,"machine-config":{"vcpu_count":1,"mem_size_mib":64,"smt":false,"track_dirty_pages":false,"huge_pages":"None"},"metrics":null,"mmds-config":null,"network-interfaces":[],"vsock":null,"entropy":null,"pmem":[],"memory-hotplug":null}' ]]
}

@test "fcsim: the guest writes its seq to every writable disk and nothing while paused" {
	fc_start g1 --disk rootfs --disk data:8 --disk base:4:ro --no-net
	fc_wait_seq "$FC_DIR/data.img" 5
	sum_ro=$(sha256sum <"$FC_DIR/base.img")
	fc_pause "$FC_SOCK"
	a=$(fc_guest_seq "$FC_DIR/rootfs.img")
	sum=$(sha256sum <"$FC_DIR/rootfs.img")
	[[ $(head -c 4096 "$FC_DIR/rootfs.img" | tr -d '\0') == "FCSIM-GUEST seq=$a id=g1" ]]
	sleep 0.3
	[[ $(fc_guest_seq "$FC_DIR/rootfs.img") == "$a" ]]
	[[ $(sha256sum <"$FC_DIR/rootfs.img") == "$sum" ]]
	[[ $(fc_guest_seq "$FC_DIR/data.img") == "$a" ]]
	[[ -z $(fc_guest_seq "$FC_DIR/base.img") ]]
	[[ $(sha256sum <"$FC_DIR/base.img") == "$sum_ro" ]]
	fc_resume "$FC_SOCK"
	fc_wait_seq "$FC_DIR/rootfs.img" $((a + 5))
}

@test "fcsim: a Full snapshot is a dense memory file of the VM's size and a state file with a valid CRC; a Diff is sparse" {
	snapshot_vm c1 --mem 32 --no-net
	[[ $(stat -c %s "$SNAP.mem") == $((32 * 1048576)) ]]
	(($(stat -c %b "$SNAP.mem") * $(stat -c %B "$SNAP.mem") >= 32 * 1048576))
	[[ $(fc_mem_token "$SNAP.mem") =~ ^[0-9a-f]{16}$ ]]
	run -0 crc_check "$SNAP.snap"
	assert_output $'crc-ok\n0x710198486640000'
	run -0 fc_state_json "$SNAP.snap"
	state=$output
	[[ $(jget 'd["format_version"]' <<<"$state") == 10.0.0 ]]
	[[ $(jget 'd["vmm_version"]' <<<"$state") == 1.16.1 ]]
	[[ $(jget 'd["guest"]["seq"]' <<<"$state") == "$SEQ" ]]
	[[ $(jget 'd["memory"]["token"]' <<<"$state") == "$(fc_mem_token "$SNAP.mem")" ]]
	[[ $(jget '[d["drives"][0][k] for k in ("drive_id", "path_on_host", "is_read_only", "is_root_device")]' <<<"$state") == '["rootfs","rootfs.img",false,true]' ]]
	[[ $(jget 'd["machine-config"]["mem_size_mib"]' <<<"$state") == 32 ]]
	# a flipped byte breaks the CRC, and a load refuses the file
	cp "$SNAP.snap" "$BATS_TEST_TMPDIR/bad.snap"
	printf 'X' | dd of="$BATS_TEST_TMPDIR/bad.snap" bs=1 seek=20 conv=notrunc status=none
	run -0 crc_check "$BATS_TEST_TMPDIR/bad.snap"
	assert_line crc-bad
	run -1 fc_state_json "$BATS_TEST_TMPDIR/bad.snap"
	# a Diff: full apparent size, only the dirty pages allocated
	fc_resume "$FC_SOCK"
	fc_pause "$FC_SOCK"
	fc_snapshot "$FC_SOCK" "$SNAP.diff.snap" "$SNAP.diff.mem" Diff
	[[ $(stat -c %s "$SNAP.diff.mem") == $((32 * 1048576)) ]]
	(($(stat -c %b "$SNAP.diff.mem") * $(stat -c %B "$SNAP.diff.mem") < 4 * 1048576))
	# an existing memory file of the exact size is written on top, not truncated
	cp "$SNAP.mem" "$BATS_TEST_TMPDIR/merge.mem"
	fc_resume "$FC_SOCK"
	fc_pause "$FC_SOCK"
	fc_snapshot "$FC_SOCK" "$SNAP.d2.snap" "$BATS_TEST_TMPDIR/merge.mem" Diff
	(($(stat -c %b "$BATS_TEST_TMPDIR/merge.mem") * $(stat -c %B "$BATS_TEST_TMPDIR/merge.mem") >= 32 * 1048576))
	# a missing parent directory
	run -1 --separate-stderr fc_snapshot "$FC_SOCK" "$BATS_TEST_TMPDIR/no/x.snap" "$BATS_TEST_TMPDIR/no/x.mem"
	[[ $stderr == "400 Create snapshot error: Cannot perform open on the snapshot backing file: No such file or directory (os error 2)" ]]
	[[ $(fc_state "$FC_SOCK") == Paused ]]
}

@test "fcsim: a fresh process loads a snapshot, shows its config and the guest goes on from the recorded seq" {
	snapshot_vm l1 --tap eth0
	tap=$FC_TAP_eth0
	disk=$FC_DIR/rootfs.img
	fc_stop l1
	cp "$disk" "$BATS_TEST_TMPDIR/at-snapshot.img"
	fc_spawn l2
	# the snapshot recorded rootfs.img, relative: the new process runs in
	# another directory, so put the disk there
	cp "$disk" "$FC_DIR/rootfs.img"
	run -0 raw_http "$FC_SOCK" "PUT /snapshot/load {\"snapshot_path\":\"$SNAP.snap\",\"mem_file_path\":\"$SNAP.mem\",\"enable_diff_snapshots\":true}"
	[[ ${lines[0]} == $'HTTP/1.1 204 \r' ]]
	assert_line $'Deprecation: true\r'
	[[ $(fc_state "$FC_SOCK") == Paused ]]
	run -0 fc_api "$FC_SOCK" GET /vm/config
	[[ $(jget '[d["drives"][0]["path_on_host"], d["network-interfaces"][0]["host_dev_name"], d["machine-config"]["track_dirty_pages"]]' <<<"$output") == "[\"rootfs.img\",\"$tap\",true]" ]]
	[[ $(fc_taps_of "$FC_PID") == "$tap" ]]
	# the memory file stays open, the disk is untouched until resumed
	sleep 0.1
	cmp "$FC_DIR/rootfs.img" "$BATS_TEST_TMPDIR/at-snapshot.img"
	[[ $(readlink "/proc/$FC_PID"/fd/*) == *"$SNAP.mem"* ]]
	fc_resume "$FC_SOCK"
	fc_wait_seq "$FC_DIR/rootfs.img" $((SEQ + 1))
	fc_pause "$FC_SOCK"
	grep -q "fcsim: restored .* at seq $SEQ" "$FC_LOG"
	# resume_vm: true comes back Running
	fc_spawn l3
	cp "$BATS_TEST_TMPDIR/at-snapshot.img" "$FC_DIR/rootfs.img"
	fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem" '"resume_vm":true,"network_overrides":[{"iface_id":"eth0","host_dev_name":"'"$(fc_new_tap)"'"}]'
	[[ $(fc_state "$FC_SOCK") == Running ]]
	fc_wait_seq "$FC_DIR/rootfs.img" $((SEQ + 1))
}

@test "fcsim: a load after configuring the VM is refused and the process lives" {
	snapshot_vm n1 --no-net
	fc_spawn n2
	fc_api "$FC_SOCK" PUT /logger '{"level":"Debug"}'
	fc_api "$FC_SOCK" PUT /machine-config '{"vcpu_count":1,"mem_size_mib":64}'
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $stderr == "400 Load snapshot error: Loading a microVM snapshot not allowed after configuring boot-specific resources." ]]
	fc_alive "$FC_PID"
	[[ $(fc_state "$FC_SOCK") == "Not started" ]]
}

@test "fcsim: a failed restore answers 400 and exits 1: missing state, disk or memory file, wrong memory size" {
	snapshot_vm x1 --mem 16 --disk rootfs --disk data:4 --abs --no-net
	fc_stop x1
	check_fatal() {	# expected message part, load arguments...
		local want=$1 pid
		shift
		fc_spawn "x$((++N))"
		pid=$FC_PID
		run -1 --separate-stderr fc_load "$FC_SOCK" "$@"
		[[ $stderr == "400 "*"$want"* ]] || fail "got: $stderr"
		fc_wait_exit "$pid" 5
		[[ $FC_EXIT == 1 ]] || fail "exit status '$FC_EXIT'"
	}
	N=1
	check_fatal "Failed to open snapshot file: No such file or directory (os error 2)" \
		"$SNAP.none" "$SNAP.mem"
	check_fatal "No such file or directory (os error 2)" "$SNAP.snap" "$SNAP.none"
	head -c 1048576 /dev/zero >"$BATS_TEST_TMPDIR/small.mem"
	check_fatal "Total sum of memory regions exceeds largest possible file offset" \
		"$SNAP.snap" "$BATS_TEST_TMPDIR/small.mem"
	mv "$BATS_TEST_TMPDIR/vms/x1/data.img" "$BATS_TEST_TMPDIR/data.away"
	check_fatal "Block: Virtio backend error: Error manipulating the backing file: No such file or directory (os error 2) $BATS_TEST_TMPDIR/vms/x1/data.img" \
		"$SNAP.snap" "$SNAP.mem"
	mv "$BATS_TEST_TMPDIR/data.away" "$BATS_TEST_TMPDIR/vms/x1/data.img"
	# a Uffd backend nobody listens on
	fc_spawn x8
	pid=$FC_PID
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /snapshot/load "{\"snapshot_path\":\"$SNAP.snap\",\"mem_backend\":{\"backend_type\":\"Uffd\",\"backend_path\":\"$BATS_TEST_TMPDIR/no.uffd\"}}"
	[[ $stderr == *"Error creating guest memory from uffd: Failed to connect to UDS Unix stream: No such file or directory (os error 2)" ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 1 ]]
	# FCSIM_FAIL=load is fatal too; with everything in place the load works
	FCSIM_FAIL=load check_fatal "fcsim: injected failure" "$SNAP.snap" "$SNAP.mem"
	fc_spawn x9
	fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $(fc_state "$FC_SOCK") == Paused ]]
}

@test "fcsim: a 1.14.2 process cannot restore a 1.16 snapshot, and the reverse is refused too" {
	snapshot_vm v1 --no-net
	cp "$FC_DIR/rootfs.img" "$BATS_TEST_TMPDIR/disk.img"
	FCSIM_VERSION=1.14.2 fc_spawn v2
	cp "$BATS_TEST_TMPDIR/disk.img" "$FC_DIR/rootfs.img"
	pid=$FC_PID
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $stderr == "400 Load snapshot error: Failed to restore from snapshot: Failed to get snapshot state from file: Failed to load snapshot state from file: Invalid data version: 10.0.0" ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 1 ]]
	# a 1.14.2 snapshot on 1.16.1
	FCSIM_VERSION=1.14.2 snapshot_vm v3 --no-net
	run -0 fc_state_json "$SNAP.snap"
	[[ $(jget 'd["format_version"]' <<<"$output") == 8.0.0 ]]
	fc_spawn v4
	cp "$BATS_TEST_TMPDIR/vms/v3/rootfs.img" "$FC_DIR/rootfs.img"
	pid=$FC_PID
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $stderr == *"Invalid data version: 8.0.0" ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 1 ]]
}

@test "fcsim: TAPs are held for real: a busy TAP is 400 EBUSY, fatal in a restore, and fdinfo shows iff:" {
	snapshot_vm t1 --tap eth0
	tap=$FC_TAP_eth0
	holder=$FC_PID
	# the paused VM still holds its TAP
	[[ $(fc_taps_of "$holder") == "$tap" ]]
	ip link show "$tap" >/dev/null
	fc_spawn t2
	run -1 --separate-stderr fc_api "$FC_SOCK" PUT /network-interfaces/eth0 "{\"iface_id\":\"eth0\",\"host_dev_name\":\"$tap\"}"
	[[ $stderr == *"Open tap device failed: "*"Resource busy (os error 16)"* ]]
	fc_alive "$FC_PID"
	fc_spawn t3
	cp "$BATS_TEST_TMPDIR/vms/t1/rootfs.img" "$FC_DIR/"
	pid=$FC_PID
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $stderr == *"Net: Open tap device failed: "*"Resource busy (os error 16)"* ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 1 ]]
	# once the holder is gone, its TAP is gone too, and a restore takes it
	fc_stop t1
	run ! ip link show "$tap"
	fc_spawn t4
	cp "$BATS_TEST_TMPDIR/vms/t1/rootfs.img" "$FC_DIR/"
	fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem"
	[[ $(fc_taps_of "$FC_PID") == "$tap" ]]
}

@test "fcsim: network_overrides is an unknown field to 1.11 and re-points the TAP on 1.16" {
	snapshot_vm o1 --tap eth0
	old=$FC_TAP_eth0
	new=$(fc_new_tap)
	FCSIM_VERSION=1.11.0 fc_spawn o2
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem" "\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$new\"}]"
	[[ $stderr == *"unknown field \`network_overrides\`, expected one of"* ]]
	fc_alive "$FC_PID"
	fc_spawn o3
	cp "$BATS_TEST_TMPDIR/vms/o1/rootfs.img" "$FC_DIR/"
	fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem" "\"network_overrides\":[{\"iface_id\":\"eth0\",\"host_dev_name\":\"$new\"}]"
	run -0 fc_api "$FC_SOCK" GET /vm/config
	[[ $(jget 'd["network-interfaces"][0]["host_dev_name"]' <<<"$output") == "$new" ]]
	[[ $(fc_taps_of "$FC_PID") == "$new" ]]
	[[ $(fc_taps_of "$(fc_pid o1)") == "$old" ]]
	# an override naming an unknown interface is fatal
	fc_spawn o4
	pid=$FC_PID
	run -1 --separate-stderr fc_load "$FC_SOCK" "$SNAP.snap" "$SNAP.mem" "\"network_overrides\":[{\"iface_id\":\"eth9\",\"host_dev_name\":\"$new\"}]"
	[[ $stderr == *"Unknown Network Device." ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 1 ]]
}

@test "fcsim: a memory file that does not match the state file is caught at resume" {
	snapshot_vm m1 --no-net --track-dirty
	first=$SNAP
	fc_resume "$FC_SOCK"
	fc_pause "$FC_SOCK"
	fc_snapshot "$FC_SOCK" "$first.d.snap" "$first.d.mem" Diff
	fc_stop m1
	disk=$BATS_TEST_TMPDIR/vms/m1/rootfs.img
	# the memory of another snapshot: loads, refuses to resume
	fc_spawn m2
	cp "$disk" "$FC_DIR/"
	fc_load "$FC_SOCK" "$first.d.snap" "$first.mem"
	run -1 --separate-stderr fc_resume "$FC_SOCK"
	[[ $stderr == "400 fcsim: guest memory corrupt: "* ]]
	grep -q "fcsim: guest memory corrupt" "$FC_LOG"
	[[ $(fc_state "$FC_SOCK") == Paused ]]
	# the diff alone (not merged onto its base) is caught as well
	fc_spawn m3
	cp "$disk" "$FC_DIR/"
	fc_load "$FC_SOCK" "$first.d.snap" "$first.d.mem"
	run -1 fc_resume "$FC_SOCK"
	# the diff merged onto the base resumes
	python3 - "$first.d.mem" "$first.mem" <<-'PY'
	import os, sys
	src = os.open(sys.argv[1], os.O_RDONLY)
	dst = os.open(sys.argv[2], os.O_WRONLY)
	off = 0
	while True:
	    try:
	        off = os.lseek(src, off, os.SEEK_DATA)
	    except OSError:
	        break
	    end = os.lseek(src, off, os.SEEK_HOLE)
	    os.pwrite(dst, os.pread(src, end - off, off), off)
	    off = end
	PY
	fc_spawn m4
	cp "$disk" "$FC_DIR/"
	fc_load "$FC_SOCK" "$first.d.snap" "$first.mem"
	fc_resume "$FC_SOCK"
	run ! grep -q corrupt "$FC_LOG"
}

@test "fcsim: FCSIM_FAIL and FCSIM_DELAY_MS inject failures and slowness without side effects" {
	FCSIM_FAIL=pause,snapshot-create FCSIM_DELAY_MS=resume=400 fc_start i1 --no-net
	run -1 --separate-stderr fc_pause "$FC_SOCK"
	[[ $stderr == "400 fcsim: injected failure" ]]
	[[ $(fc_state "$FC_SOCK") == Running ]]
	fc_stop i1
	FCSIM_FAIL=snapshot-create FCSIM_DELAY_MS=resume=400 fc_start i2 --no-net
	fc_pause "$FC_SOCK"
	run -1 --separate-stderr fc_snapshot "$FC_SOCK" "$BATS_TEST_TMPDIR/i.snap" "$BATS_TEST_TMPDIR/i.mem"
	[[ $stderr == "400 fcsim: injected failure" ]]
	[[ ! -e $BATS_TEST_TMPDIR/i.snap && ! -e $BATS_TEST_TMPDIR/i.mem ]]
	[[ $(fc_state "$FC_SOCK") == Paused ]]
	t0=$(date +%s%N)
	fc_resume "$FC_SOCK"
	(($(date +%s%N) - t0 >= 400000000))
	[[ $(fc_state "$FC_SOCK") == Running ]]
	# FCSIM_CRASH: the process dies at the action without answering
	FCSIM_CRASH=pause fc_start i3 --no-net
	pid=$FC_PID
	run -2 --separate-stderr fc_pause "$FC_SOCK"
	[[ $stderr == "fcctl: connection closed before a complete answer" ]]
	fc_wait_exit "$pid" 5
	[[ $FC_EXIT == 137 ]]
}

@test "fcsim: the jailer builds the jail, drops privileges, and API paths resolve inside the jail" {
	run -1 --separate-stderr "$FC_JAILER" --id bad_id --exec-file "$FC_BIN" --uid 0 --gid 0 \
		--chroot-base-dir "$BATS_TEST_TMPDIR/jail"
	[[ $stderr == *"invalid instance id 'bad_id'"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/jail/firecracker/bad_id ]]
	# an unprivileged uid needs to reach the jail: let it through this run's
	# directories (the ones above are world-searchable, as /tmp is)
	d=$BATS_TEST_TMPDIR
	while [[ $d == "$BATS_RUN_TMPDIR"* ]]; do chmod o+x "$d"; d=$(dirname "$d"); done
	FC_JAIL_UID=4242 FC_JAIL_GID=4243 fc_start j1 --jail --no-net --disk rootfs:8 --disk data:4 --abs
	root=$BATS_TEST_TMPDIR/jail/firecracker/j1/root
	[[ $FC_DIR == "$root" && $FC_SOCK == "$root/run/firecracker.socket" ]]
	[[ $(stat -c %u:%g "$root") == 4242:4243 ]]
	cmp "$root/firecracker" "$FC_BIN"
	[[ $(cat "$root/firecracker.pid") == "$FC_PID" ]]
	[[ $(stat -c %u:%g "/proc/$FC_PID") == 4242:4243 ]]
	[[ -c $root/dev/net/tun ]]
	# relative and absolute paths are inside the root; .. cannot climb out
	fc_wait_seq "$root/rootfs.img" 2
	fc_wait_seq "$root/data.img" 2
	fc_pause "$FC_SOCK"
	mkdir "$root/snap"
	chown 4242:4243 "$root/snap"
	fc_snapshot "$FC_SOCK" /snap/vm.snap ../../../snap/vm.mem
	[[ -s $root/snap/vm.snap && -s $root/snap/vm.mem ]]
	run -0 fc_state_json "$root/snap/vm.snap"
	[[ $(jget '[x["path_on_host"] for x in d["drives"]]' <<<"$output") == '["/rootfs.img","/data.img"]' ]]
	[[ ! -e /snap/vm.snap ]]
	# the same layout in a new jail restores
	fc_stop j1
	FC_JAIL_UID=4242 FC_JAIL_GID=4243 fc_jail j2
	root2=$FC_DIR
	cp -a "$root/rootfs.img" "$root/data.img" "$root/snap" "$root2/"
	fc_load "$FC_SOCK" snap/vm.snap /snap/vm.mem '"resume_vm":true'
	fc_wait_seq "$root2/data.img" 3
	# --daemonize returns at once; the pid file names the detached process
	run -0 "$FC_JAILER" --id j3 --exec-file "$FC_BIN" --uid 0 --gid 0 \
		--chroot-base-dir "$BATS_TEST_TMPDIR/jail" --daemonize
	root3=$BATS_TEST_TMPDIR/jail/firecracker/j3/root
	pid=$(cat "$root3/firecracker.pid")
	FC_PIDS+=" $pid"
	fc_api "$root3/run/firecracker.socket" wait 5
	run -0 fc_api "$root3/run/firecracker.socket" GET /
	[[ $output == *'"id":"j3"'* ]]
}
