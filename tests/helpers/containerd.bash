# shellcheck shell=bash
# A private containerd for the suites of the containerd backend: its root,
# state, socket and config live in the suite's temporary directory, it uses
# the overlayfs snapshotter and runc, and it runs bots from a busybox image
# built here as an OCI image layout tarball (no registry is reachable).
#
# Load after helpers/common. In the suite:
#   setup_file()    { ctrd_start; }
#   teardown_file() { ctrd_stop; }
#   setup()         { sk_setup; ctrd_setup; }
#   teardown()      { ctrd_teardown; }
#
# Images:  $IMG       busybox, no /data
#          $IMG_DATA  busybox plus a second layer holding /data with files
#                     (from-image.txt, sub/deep.txt): a /data that comes
#                     from a lower layer of the overlay
# Bots are containers workspace-<bot> in namespace $CTRD_NS.

# One namespace per run of bats: runc keeps its state under
# /run/containerd/runc/<namespace>/<container> whichever containerd started
# it, so two runs at once (two clones, two developers) sharing one name
# would see each other's containers.
CTRD_NS=statekit-test-${BATS_ROOT_PID:-$$}
IMG=docker.io/statekit/busybox:plain
IMG_DATA=docker.io/statekit/busybox:data
# A bot's workload: sh as PID 1 exits on SIGTERM at once (a PID 1 without
# a handler would ignore it).
BOT_CMD='trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'
# The same, deaf to SIGTERM: only SIGKILL stops it.
BOT_CMD_DEAF='trap "" TERM; while :; do sleep 1 & wait $!; done'

# Skip (or fail, under CI) when this host cannot run containers.
ctrd_require() {
	local missing=() t
	for t in containerd ctr runc containerd-shim-runc-v2 busybox python3 mount; do
		command -v "$t" >/dev/null || missing+=("$t")
	done
	if ((EUID != 0)); then
		missing+=("root")
	fi
	((${#missing[@]} == 0)) && return 0
	if [[ ${CI:-} == true ]]; then
		echo "containerd tests need: ${missing[*]} (scripts/deps.sh installs them)" >&2
		return 1
	fi
	skip "containerd tests need: ${missing[*]}"
}

# ctr against the private containerd.
c_ctr() {
	ctr --address "$CTRD_SOCK" --namespace "$CTRD_NS" "$@"
}

# Write an OCI image layout tarball: ctrd_image OUT NAME WITH_DATA(0|1)
# [EXTRA_LAYERS], each extra layer holding one file /layers/<n>.
ctrd_image() {
	python3 - "$@" <<-'PY'
		import hashlib, io, json, platform, subprocess, sys, tarfile
		out, name, with_data = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
		extra = int(sys.argv[4]) if len(sys.argv) > 4 else 0
		T = 1600000000
		def tarball(build):
		    buf = io.BytesIO()
		    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
		    build(t)
		    t.close()
		    return buf.getvalue()
		def d(t, n, mode=0o755):
		    ti = tarfile.TarInfo(n); ti.type = tarfile.DIRTYPE; ti.mode = mode; ti.mtime = T
		    t.addfile(ti)
		def f(t, n, data, mode=0o644):
		    ti = tarfile.TarInfo(n); ti.size = len(data); ti.mode = mode; ti.mtime = T
		    t.addfile(ti, io.BytesIO(data))
		def sym(t, n, target):
		    ti = tarfile.TarInfo(n); ti.type = tarfile.SYMTYPE; ti.linkname = target
		    ti.mode = 0o777; ti.mtime = T
		    t.addfile(ti)
		bb = open(subprocess.run(["sh", "-c", "command -v busybox"], capture_output=True,
		                         text=True).stdout.strip(), "rb").read()
		applets = subprocess.run(["busybox", "--list"], capture_output=True,
		                         text=True).stdout.split()
		def base(t):
		    for n in ("bin", "dev", "etc", "proc", "root", "run", "sys"):
		        d(t, n)
		    d(t, "tmp", 0o1777)
		    f(t, "bin/busybox", bb, 0o755)
		    for a in applets:
		        if a != "busybox":
		            sym(t, "bin/" + a, "busybox")
		    f(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
		def data(t):
		    d(t, "data")
		    f(t, "data/from-image.txt", b"baked into the image\n")
		    d(t, "data/sub")
		    f(t, "data/sub/deep.txt", b"a deeper image file\n")
		blobs = {}
		def blob(b):
		    h = hashlib.sha256(b).hexdigest()
		    blobs[h] = b
		    return "sha256:" + h
		layers = [tarball(base)] + ([tarball(data)] if with_data else [])
		for n in range(extra):
		    layers.append(tarball(lambda t: (d(t, "layers"), f(t, "layers/%d" % n, b"%d\n" % n))))
		ldesc = [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
		          "digest": blob(l), "size": len(l)} for l in layers]
		arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
		cfg = json.dumps({"architecture": arch, "os": "linux",
		                  "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
		                  "rootfs": {"type": "layers",
		                             "diff_ids": [l["digest"] for l in ldesc]}}).encode()
		man = json.dumps({"schemaVersion": 2,
		                  "mediaType": "application/vnd.oci.image.manifest.v1+json",
		                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
		                             "digest": blob(cfg), "size": len(cfg)},
		                  "layers": ldesc}).encode()
		index = json.dumps({"schemaVersion": 2, "manifests": [{
		    "mediaType": "application/vnd.oci.image.manifest.v1+json",
		    "digest": blob(man), "size": len(man),
		    "annotations": {"io.containerd.image.name": name,
		                    "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}}]}).encode()
		def layout(t):
		    f(t, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
		    f(t, "index.json", index)
		    d(t, "blobs")
		    d(t, "blobs/sha256")
		    for h, b in blobs.items():
		        f(t, "blobs/sha256/" + h, b)
		open(out, "wb").write(tarball(layout))
	PY
}

# Start the suite's containerd and import the images (setup_file).
ctrd_start() {
	ctrd_require || return 1
	CTRD_DIR=$BATS_FILE_TMPDIR/ctrd
	# A unix socket path has room for 107 bytes.
	if ((${#CTRD_DIR} > 80)); then
		CTRD_DIR=$(mktemp -d /tmp/sk-ctrd.XXXXXX)
		CTRD_OWN_DIR=1
	fi
	CTRD_SOCK=$CTRD_DIR/containerd.sock
	mkdir -p "$CTRD_DIR"
	cat >"$CTRD_DIR/config.toml" <<-TOML
	version = 2
	root = "$CTRD_DIR/root"
	state = "$CTRD_DIR/state"
	disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
	  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
	  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
	  "io.containerd.internal.v1.tracing"]
	[grpc]
	  address = "$CTRD_SOCK"
	[ttrpc]
	  address = "$CTRD_SOCK.ttrpc"
	[debug]
	  address = ""
	[metrics]
	  address = ""
	[plugins."io.containerd.internal.v1.opt"]
	  path = "$CTRD_DIR/opt"
	TOML
	# Its own session, and none of bats' descriptors: bats waits for those.
	setsid containerd --config "$CTRD_DIR/config.toml" \
		>"$CTRD_DIR/containerd.log" 2>&1 </dev/null 3>&- &
	CTRD_PID=$!
	local i
	for i in $(seq 100); do
		c_ctr version >/dev/null 2>&1 && break
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.1
	done
	c_ctr version >/dev/null 2>&1 || {
		echo "containerd did not start; its log:" >&2
		tail -20 "$CTRD_DIR/containerd.log" >&2
		return 1
	}
	ctrd_image "$CTRD_DIR/plain.tar" "$IMG" 0
	ctrd_image "$CTRD_DIR/data.tar" "$IMG_DATA" 1
	c_ctr images import "$CTRD_DIR/plain.tar" >/dev/null
	c_ctr images import "$CTRD_DIR/data.tar" >/dev/null
	export CTRD_DIR CTRD_SOCK CTRD_PID CTRD_OWN_DIR
}

# Remove every container of the namespace, with its task and snapshot.
ctrd_remove_all() {
	local id
	for id in $(c_ctr tasks list -q 2>/dev/null); do
		c_ctr tasks resume "$id" >/dev/null 2>&1 || true
		c_ctr tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
	done
	for id in $(c_ctr tasks list -q 2>/dev/null); do
		for _ in $(seq 50); do
			[[ $(task_state_of "$id") == RUNNING ]] || break
			sleep 0.1
		done
		c_ctr tasks delete "$id" >/dev/null 2>&1 || c_ctr tasks delete -f "$id" >/dev/null 2>&1 || true
	done
	for id in $(c_ctr containers list -q 2>/dev/null); do
		c_ctr containers delete "$id" >/dev/null 2>&1 || true
	done
	# orphans made on purpose
	for id in $(c_ctr snapshots list 2>/dev/null | awk '$1 ~ /^workspace-/ { print $1 }'); do
		c_ctr snapshots remove "$id" >/dev/null 2>&1 || true
	done
}

# Unmount whatever is still mounted below $1 in this namespace, deepest
# first; print what was.
unmount_below() {
	local m
	for m in $(awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		echo "$m"
		umount -l "$m" 2>/dev/null || true
	done
}

# Stop the suite's containerd and everything it started (teardown_file).
ctrd_stop() {
	[[ -n ${CTRD_PID:-} ]] || return 0
	ctrd_remove_all
	kill "$CTRD_PID" 2>/dev/null || true
	local i p
	for i in $(seq 50); do
		kill -0 "$CTRD_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$CTRD_PID" 2>/dev/null || true
	# Shims of our containerd that outlived it (they name its socket).
	for p in $(pgrep -f -- "-address $CTRD_SOCK" || true); do
		grep -qF -- "$CTRD_SOCK" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p" 2>/dev/null
	done
	unmount_below "$CTRD_DIR" >/dev/null
	if [[ -n ${CTRD_OWN_DIR:-} ]]; then
		rm -rf "$CTRD_DIR"
	fi
}

# Point the test's config at the private containerd (after sk_setup).
ctrd_setup() {
	sk_conf "[workspace]" "backend = containerd" \
		"[containerd]" "address = $CTRD_SOCK" "namespace = $CTRD_NS" "stop_timeout = 5"
	BG_PIDS=
}

# After each test: nothing of it may stay mounted on the host, and its
# containers go.
ctrd_teardown() {
	local left
	kill_bg
	left=$(unmount_below "$BATS_TEST_TMPDIR")
	ctrd_remove_all
	[[ -z $left ]] || fail "left mounted: $left"
}

# The state of a task: RUNNING, STOPPED, ... or "none".
task_state_of() {
	c_ctr tasks list 2>/dev/null | awk -v id="$1" '$1 == id { s = $3 } END { print s ? s : "none" }'
}

bot_state() { task_state_of "workspace-$1"; }

bot_pid() {
	c_ctr tasks list | awk -v id="workspace-$1" '$1 == id { print $2 }'
}

# bot_run BOT [IMAGE [CMD]]: a container with a running task, IO to /dev/null.
bot_run() {
	c_ctr run -d --null-io "${2:-$IMG}" "workspace-$1" sh -c "${3:-$BOT_CMD}" >/dev/null
}

# bot_create BOT [IMAGE]: a container without a task.
bot_create() {
	c_ctr containers create "${2:-$IMG}" "workspace-$1" -- sh -c "$BOT_CMD" >/dev/null
}

# orphan BOT: delete the bot's container but keep its snapshot. containerd
# collects a snapshot no container refers to, unless a label makes it a
# root of its garbage collection: what an operator keeping one does too.
orphan() {
	c_ctr snapshots label "workspace-$1" containerd.io/gc.root=statekit-test >/dev/null
	c_ctr containers delete --keep-snapshot "workspace-$1"
}

# bot_exec BOT SCRIPT: run a shell script inside the bot's running task.
# ctr 1.6 may drop the tail of an exec's output (it cancels the copy when
# the process exits), so the script writes its output to files in the
# container's /tmp, read here through /proc/PID/root.
bot_exec() {
	local id=x$RANDOM$RANDOM rc=0 root
	c_ctr tasks exec --exec-id "$id" "workspace-$1" \
		sh -c 'eval "$3" >"$1" 2>"$2"' sh "/tmp/.$id.out" "/tmp/.$id.err" "$2" || rc=$?
	root=/proc/$(bot_pid "$1")/root/tmp
	cat "$root/.$id.out" 2>/dev/null
	cat "$root/.$id.err" >&2 2>/dev/null
	rm -f "$root/.$id.out" "$root/.$id.err"
	return $rc
}

# A listing of a /data tree: names, modes, owners, sizes and contents. The
# same busybox script runs inside a task or on a mounted snapshot, so the
# two agree.
FP_SCRIPT='cd "$1" 2>/dev/null || { echo "no $1"; exit 0; }
find . | LC_ALL=C sort
find . ! -type l -exec stat -c "%n %a %u:%g %s" {} + | LC_ALL=C sort
find . -type f | LC_ALL=C sort | while IFS= read -r f; do sha256sum "$f"; done'

# Mount the bot's snapshot read-only at DIR (test code: trusted input).
bot_mount() {
	local line type src opts
	line=$(c_ctr snapshots mounts "$2" "workspace-$1")
	read -r _ _ type src _ _ opts <<<"$line"
	mkdir -p "$2"
	mount -t "$type" -o "ro,$opts" "$src" "$2"
}

# The fingerprint of the bot's /data: from inside when its task runs,
# else from its snapshot mounted read-only for a moment.
bot_fp() {
	if [[ $(bot_state "$1") == RUNNING ]]; then
		bot_exec "$1" "set -- /data; $FP_SCRIPT"
	else
		local m=$BATS_TEST_TMPDIR/peek-$1
		bot_mount "$1" "$m"
		busybox sh -c "$FP_SCRIPT" sh "$m/data"
		umount "$m"
		rmdir "$m"
	fi
}

# Host mounts below the test's directory (there must be none).
host_mounts() {
	awk -v d="$BATS_TEST_TMPDIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo
}

# A command left nothing behind: no mount, no journal row, no staging, an
# empty state tmp directory.
assert_clean() {
	local m
	m=$(host_mounts)
	[[ -z $m ]] || fail "left mounted: $m"
	[[ $(journal_rows) == 0 ]] || fail "journal not empty: $(sqlite3 "$ST/index.db" 'select * from journal')"
	[[ -z $(ls -A "$ST/tmp" 2>/dev/null) ]] || fail "left in $ST/tmp: $(ls -A "$ST/tmp")"
}

# The task runs, and (given the pid it had) was restarted.
assert_running() {
	local st pid
	st=$(bot_state "$1")
	[[ $st == RUNNING ]] || fail "bot '$1' is not running: task $st"
	if [[ -n ${2:-} ]]; then
		pid=$(bot_pid "$1")
		[[ $pid != "$2" ]] || fail "bot '$1' was not restarted (pid $pid)"
	fi
}
