# shellcheck shell=bash
# Test microVMs for the fcsnap suites: start, configure, boot, pause, snapshot,
# restore and stop Firecracker processes, and look at what they leave on disk.
# Load after common.bash; call fc_stop_all from teardown.
#
# By default the processes are the simulator tests/fcsim/firecracker. With
# FIRECRACKER_BIN set they are that real binary (FC_REAL=1) and
# FIRECRACKER_KERNEL must name a guest kernel; the helpers that read what the
# simulated guest wrote (fc_guest_seq, fc_mem_token, fc_state_json) only make
# sense with the simulator.
#
# Call the starting helpers directly, not through `run`: they set variables.
# After fc_start/fc_spawn/fc_jail, for the VM just started:
#   FC_ID    its id          FC_SOCK  its API socket    FC_PID  its pid
#   FC_DIR   its directory: cwd of the process, or the jail root; the disk
#            images NAME.img are there
#   FC_LOG   its stderr
#   FC_TAP_<iface>            the TAP name of <iface> (e.g. FC_TAP_eth0)
#   FC_TAP_<ID>_<iface>       the same, per VM (ID with non-alphanumerics as _)
# and for any VM started in this test: fc_sock ID, fc_pid ID, fc_dir ID.
# FC_PIDS lists every pid started (fc_stop_all kills them). Each VM has
# $BATS_TEST_TMPDIR/vms/ID/ with fc.pid, fc.log (stderr, appended to when the
# ID is started again, e.g. to restore in the same directory) and, unless
# jailed, its disks and API socket fc.sock.

FCSIM=$REPO/tests/fcsim
FCCTL=$FCSIM/fcctl
FC_BIN=${FIRECRACKER_BIN:-$FCSIM/firecracker}
FC_JAILER=${JAILER_BIN:-$FCSIM/jailer}
FC_REAL=
[[ -n ${FIRECRACKER_BIN:-} ]] && FC_REAL=1
FC_PIDS=
FC_BOOT_ARGS="console=ttyS0 reboot=k panic=1 pci=off ip=172.16.0.2::172.16.0.1:255.255.255.0::eth0:off"

# TAP devices are real (the simulator opens /dev/net/tun as Firecracker does):
# make sure the node is there on a machine that has not used it yet.
if [[ ! -c /dev/net/tun && $EUID -eq 0 ]]; then
	modprobe tun 2>/dev/null || true
	[[ -c /dev/net/tun ]] || { mkdir -p /dev/net && mknod -m 666 /dev/net/tun c 10 200; } 2>/dev/null || true
fi

# fc_api SOCK METHOD PATH [JSON]: one API request (see tests/fcsim/fcctl).
fc_api() {
	"$FCCTL" "$@"
}

# fc_kernel: print the kernel to boot (a dummy file for the simulator).
fc_kernel() {
	if [[ -n $FC_REAL ]]; then
		[[ -n ${FIRECRACKER_KERNEL:-} ]] || fail "FIRECRACKER_BIN is set but FIRECRACKER_KERNEL is not"
		echo "$FIRECRACKER_KERNEL"
		return
	fi
	local k=$BATS_TEST_TMPDIR/vmlinux.fcsim
	[[ -f $k ]] || printf 'fcsim dummy kernel\n' >"$k"
	echo "$k"
}

# fc_new_tap: print a fresh TAP name, unique to this test and run (TAP names
# are global on the host): sk + a random tag + the test number + a counter,
# 12 characters (15 at most). Kept in a file: callers use $(fc_new_tap).
fc_new_tap() {
	local f=$BATS_TEST_TMPDIR/.fc-taps tag n=0
	if [[ -s $f ]]; then
		read -r tag n <"$f"
	else
		tag=$(printf '%06x%02x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)) \
			$((${BATS_SUITE_TEST_NUMBER:-0} % 256)))
	fi
	n=$((n + 1))
	printf '%s %s\n' "$tag" "$n" >"$f"
	printf 'sk%s%02x\n' "$tag" "$n"
}

# fc_alive PID: true while PID runs (not gone, not a zombie).
fc_alive() {
	local st
	st=$(sed -E 's/^.*\) (.).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[[ -n $st && $st != Z && $st != X ]]
}

# fc_wait_exit PID [SECONDS]: wait (default 10 s) for PID to end; fails if it
# does not. Sets FC_EXIT to its exit status when it is a child of this shell,
# else to "".
fc_wait_exit() {
	local pid=$1 n=$((${2:-10} * 50)) i
	for ((i = 0; i < n; i++)); do
		fc_alive "$pid" || break
		sleep 0.02
	done
	fc_alive "$pid" && fail "process $pid still runs after ${2:-10} s"
	FC_EXIT=
	if wait "$pid" 2>/dev/null; then
		FC_EXIT=0
	else
		FC_EXIT=$?
		((FC_EXIT == 127)) && FC_EXIT=
	fi
	return 0
}

# Wait for the API socket of a just started process, or fail with its log.
_fc_wait_socket() {
	local sock=$1 pid=$2 log=$3 i
	for ((i = 0; i < 200; i++)); do
		[[ -S $sock ]] && "$FCCTL" "$sock" wait 0.05 2>/dev/null && return 0
		fc_alive "$pid" || fail "firecracker $pid exited before its socket was up: $(tail -n 5 "$log")"
		sleep 0.02
	done
	fail "no API socket at $sock after 5 s: $(tail -n 5 "$log")"
}

# shellcheck disable=SC2034 # FC_* are for the suites
_fc_record() {	# id dir sock pid log
	local m=$BATS_TEST_TMPDIR/vms/$1
	mkdir -p "$m"
	printf '%s\n' "$2" >"$m/fc.dir"
	printf '%s\n' "$3" >"$m/fc.sockpath"
	printf '%s\n' "$4" >"$m/fc.pid"
	FC_ID=$1 FC_DIR=$2 FC_SOCK=$3 FC_PID=$4 FC_LOG=$5
	FC_PIDS+=" $4"
}

# fc_sock ID, fc_pid ID, fc_dir ID: print what fc_start/fc_spawn recorded.
fc_sock() { cat "$BATS_TEST_TMPDIR/vms/$1/fc.sockpath"; }
fc_pid() { cat "$BATS_TEST_TMPDIR/vms/$1/fc.pid"; }
fc_dir() { cat "$BATS_TEST_TMPDIR/vms/$1/fc.dir"; }

# fc_spawn ID [FC ARGS...]: start a bare Firecracker (nothing configured) in
# $BATS_TEST_TMPDIR/vms/ID, its own session, cwd there, API socket fc.sock
# there, stderr to fc.log there; wait for the socket. Environment variables
# (FCSIM_*) given on the call reach the process.
fc_spawn() {
	local id=$1
	shift
	local dir=$BATS_TEST_TMPDIR/vms/$id
	mkdir -p "$dir"
	rm -f "$dir/fc.sock"
	(cd "$dir" && exec setsid "$FC_BIN" --api-sock "$dir/fc.sock" --id "$id" "$@" \
		</dev/null >>"$dir/fc.out" 2>>"$dir/fc.log") 3>&- &
	_fc_record "$id" "$dir" "$dir/fc.sock" $! "$dir/fc.log"
	_fc_wait_socket "$FC_SOCK" "$FC_PID" "$FC_LOG"
}

# fc_jail ID [FC ARGS...]: start Firecracker through the jailer (tests/fcsim/jailer
# or JAILER_BIN) with chroot base $BATS_TEST_TMPDIR/jail, uid/gid
# FC_JAIL_UID/FC_JAIL_GID (default 0); FC_DIR is the jail root and FC_SOCK
# <root>/run/firecracker.socket. API paths are relative to the jail root.
fc_jail() {
	local id=$1
	shift
	local base=$BATS_TEST_TMPDIR/jail m=$BATS_TEST_TMPDIR/vms/$id root
	root=$base/$(basename "$FC_BIN")/$id/root
	mkdir -p "$m" "$base"
	rm -f "$root/run/firecracker.socket"
	(exec setsid "$FC_JAILER" --id "$id" --exec-file "$FC_BIN" --uid "${FC_JAIL_UID:-0}" \
		--gid "${FC_JAIL_GID:-0}" --chroot-base-dir "$base" -- "$@" \
		</dev/null >>"$m/fc.out" 2>>"$m/fc.log") 3>&- &
	_fc_record "$id" "$root" "$root/run/firecracker.socket" $! "$m/fc.log"
	_fc_wait_socket "$FC_SOCK" "$FC_PID" "$FC_LOG"
}

# fc_make_disk FILE SIZE_MB: a sparse image with some data in it.
fc_make_disk() {
	truncate -s "${2}M" "$1"
	if (($2 >= 2)); then
		head -c 1048576 /dev/urandom | dd of="$1" bs=64K seek=1 conv=notrunc status=none
	fi
	printf 'statekit test disk %s\n' "$(basename "$1")" |
		dd of="$1" bs=1 seek=$((${2} * 1048576 - 4096)) conv=notrunc status=none
}

# fc_start ID [--mem MIB] [--vcpus N] [--disk NAME[:SIZE_MB][:ro]]...
#          [--tap IFACE[=TAPNAME]]... [--no-net] [--abs] [--track-dirty]
#          [--jail] [--no-boot] [-- FC ARGS...]
# Start a microVM and boot it: disks NAME.img (default one rootfs of 64 MB,
# the first disk is the root device) in its directory, given to the API by
# relative path (NAME.img) or, with --abs, absolute path (in a jail: /NAME.img);
# memory --mem MiB (default 64), 1 vCPU; one interface eth0 on a fresh TAP
# unless --tap (IFACE alone gets a fresh TAP name) or --no-net; machine-config
# track_dirty_pages with --track-dirty; through the jailer with --jail.
# Returns with the VM Running (or configured but not started with --no-boot).
fc_start() {
	local id=$1
	shift
	local mem=64 vcpus=1 abs='' track=false jail='' boot=1 net=1
	local -a disks=() taps=() fcargs=()
	while (($#)); do
		case $1 in
		--mem) mem=$2; shift ;;
		--vcpus) vcpus=$2; shift ;;
		--disk) disks+=("$2"); shift ;;
		--tap) taps+=("$2"); shift ;;
		--no-net) net='' ;;
		--abs) abs=1 ;;
		--track-dirty) track=true ;;
		--jail) jail=1 ;;
		--no-boot) boot= ;;
		--) shift; fcargs=("$@"); break ;;
		*) fail "fc_start: unknown option $1" ;;
		esac
		shift
	done
	((${#disks[@]})) || disks=(rootfs)
	[[ -n $net && ${#taps[@]} -eq 0 ]] && taps=(eth0)
	[[ -n $net ]] || taps=()

	if [[ -n $jail ]]; then
		fc_jail "$id" "${fcargs[@]}"
	else
		fc_spawn "$id" "${fcargs[@]}"
	fi
	local sock=$FC_SOCK dir=$FC_DIR kernel
	kernel=$(fc_kernel)
	if [[ -n $jail ]]; then
		cp "$kernel" "$dir/vmlinux"
		chown "${FC_JAIL_UID:-0}:${FC_JAIL_GID:-0}" "$dir/vmlinux"
		kernel=/vmlinux
	fi
	fc_api "$sock" PUT /boot-source \
		"{\"kernel_image_path\":\"$kernel\",\"boot_args\":\"$FC_BOOT_ARGS\"}" >/dev/null ||
		fail "fc_start $id: boot-source"
	fc_api "$sock" PUT /machine-config \
		"{\"vcpu_count\":$vcpus,\"mem_size_mib\":$mem,\"track_dirty_pages\":$track}" >/dev/null ||
		fail "fc_start $id: machine-config"

	local spec name size ro root=true path
	for spec in "${disks[@]}"; do
		IFS=: read -r name size ro <<<"$spec"
		[[ $size == ro ]] && size='' ro=ro
		fc_make_disk "$dir/$name.img" "${size:-64}"
		[[ -z $jail ]] || chown "${FC_JAIL_UID:-0}:${FC_JAIL_GID:-0}" "$dir/$name.img"
		path=$name.img
		if [[ -n $abs ]]; then
			if [[ -n $jail ]]; then path=/$name.img; else path=$dir/$name.img; fi
		fi
		fc_api "$sock" PUT "/drives/$name" "{\"drive_id\":\"$name\",\"path_on_host\":\"$path\",\"is_root_device\":$root,\"is_read_only\":$([[ $ro == ro ]] && echo true || echo false)}" >/dev/null ||
			fail "fc_start $id: drive $name"
		root=false
	done

	local iface tap n=2 vid
	vid=${id//[^A-Za-z0-9_]/_}
	for spec in "${taps[@]}"; do
		iface=${spec%%=*}
		if [[ $spec == *=* ]]; then tap=${spec#*=}; else tap=$(fc_new_tap); fi
		fc_api "$sock" PUT "/network-interfaces/$iface" "{\"iface_id\":\"$iface\",\"host_dev_name\":\"$tap\",\"guest_mac\":\"06:00:AC:10:00:$(printf %02x $n)\"}" >/dev/null ||
			fail "fc_start $id: network interface $iface on $tap"
		printf -v "FC_TAP_$iface" '%s' "$tap"
		printf -v "FC_TAP_${vid}_$iface" '%s' "$tap"
		export "FC_TAP_$iface" "FC_TAP_${vid}_$iface"
		n=$((n + 1))
	done

	[[ -n $boot ]] || return 0
	fc_api "$sock" PUT /actions '{"action_type":"InstanceStart"}' >/dev/null ||
		fail "fc_start $id: InstanceStart"
	fc_wait_state "$sock" Running
}

# Kill the machines fcsnap-restore started in this test (pids from the index).
stop_restored() {
	local p
	[[ -f $ST/index.db ]] || return 0
	for p in $(sqlite3 "$ST/index.db" 'SELECT pid FROM machines' 2>/dev/null); do
		kill -9 "$p" 2>/dev/null || true
	done
}

# sock ID: the API socket of test machine ID started by fc_start.
sock() { echo "$BATS_TEST_TMPDIR/vms/$1/fc.sock"; }

# sim_only: skip with a real Firecracker (the test needs the simulator's faults).
sim_only() {
	[[ -z ${FC_REAL:-} ]] || skip "needs the simulator's fault injection"
}

# needs_jailer: skip, with a real Firecracker and no JAILER_BIN (the simulator's
# jailer passes the simulator's own flags).
needs_jailer() {
	[[ -z ${FC_REAL:-} || -n ${JAILER_BIN:-} ]] ||
		skip "a real Firecracker needs a real jailer: set JAILER_BIN"
}

# fc_at_least MAJOR MINOR: is the Firecracker under test that release or later?
fc_at_least() {
	local v
	v=$("$FC_BIN" --version 2>/dev/null | sed -n '1s/^Firecracker v\{0,1\}\([0-9]*\.[0-9]*\).*/\1/p')
	[[ -n $v ]] || return 1
	((${v%%.*} > $1 || (${v%%.*} == $1 && ${v#*.} >= $2)))
}

# fc_state SOCK: print the VM's state (Not started, Running, Paused).
fc_state() {
	fc_api "$1" GET / | sed -n 's/.*"state":"\([^"]*\)".*/\1/p'
}

# fc_wait_state SOCK STATE [SECONDS]: wait (default 10 s) for STATE or fail.
fc_wait_state() {
	local i n=$((${3:-10} * 20)) st=
	for ((i = 0; i < n; i++)); do
		st=$(fc_state "$1" 2>/dev/null)
		[[ $st == "$2" ]] && return 0
		sleep 0.05
	done
	fail "state of $1 is '$st', not '$2', after ${3:-10} s"
}

# fc_pause SOCK, fc_resume SOCK.
fc_pause() { fc_api "$1" PATCH /vm '{"state":"Paused"}'; }
fc_resume() { fc_api "$1" PATCH /vm '{"state":"Resumed"}'; }

# fc_snapshot SOCK STATE_FILE MEM_FILE [Full|Diff]: create a snapshot (paused VM).
fc_snapshot() {
	fc_api "$1" PUT /snapshot/create \
		"{\"snapshot_type\":\"${4:-Full}\",\"snapshot_path\":\"$2\",\"mem_file_path\":\"$3\"}"
}

# fc_load SOCK STATE_FILE MEM_FILE [JSON MEMBERS]: load a snapshot with the File
# backend; extra members are appended, e.g. '"resume_vm":true'.
fc_load() {
	fc_api "$1" PUT /snapshot/load \
		"{\"snapshot_path\":\"$2\",\"mem_backend\":{\"backend_type\":\"File\",\"backend_path\":\"$3\"}${4:+,$4}}"
}

# fc_guest_seq FILE: the seq the simulated guest last wrote in block 0 of FILE.
fc_guest_seq() {
	head -c 4096 "$1" | tr -d '\0' | sed -n 's/^FCSIM-GUEST seq=\([0-9]*\) .*/\1/p'
}

# fc_wait_seq FILE MIN [SECONDS]: wait until the guest seq in FILE is >= MIN.
fc_wait_seq() {
	local i n=$((${3:-10} * 50)) s=
	for ((i = 0; i < n; i++)); do
		s=$(fc_guest_seq "$1")
		[[ -n $s ]] && ((s >= $2)) && return 0
		sleep 0.02
	done
	fail "guest seq in $1 is '$s', not >= $2, after ${3:-10} s"
}

# fc_mem_token FILE: the token in page 0 of a simulator memory file.
fc_mem_token() {
	head -c 4096 "$1" | tr -d '\0' | sed -n 's/^FCSIM-MEM token=\([0-9a-f]*\) .*/\1/p'
}

# fc_state_json FILE: the JSON of a simulator state file (fails on a bad
# magic or CRC).
fc_state_json() {
	"$FCSIM/firecracker" --fcsim-dump-state "$1"
}

# fc_taps_of PID: the TAP names PID holds open (from /proc/PID/fdinfo "iff:").
fc_taps_of() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		sed -n 's/^iff:[[:space:]]*//p' "$f" 2>/dev/null
	done
}

# fc_stop ID: kill -9 the VM's process.
fc_stop() {
	local pid
	pid=$(fc_pid "$1")
	kill -9 "$pid" 2>/dev/null || true
	fc_wait_exit "$pid" 5
}

# fc_stop_all: kill -9 every process fc_* started in this test (teardown).
fc_stop_all() {
	local p
	for p in $FC_PIDS; do
		kill -9 "$p" 2>/dev/null || true
	done
	for p in $FC_PIDS; do
		fc_wait_exit "$p" 5 2>/dev/null || true
	done
	FC_PIDS=
}
