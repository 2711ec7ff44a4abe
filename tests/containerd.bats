#!/usr/bin/env bats
# The containerd backend against a real containerd started for this suite:
# ws-export, ws-import and ws-preserve on bots whose /data lives in a
# container's overlay snapshot. What runs stays running (restarted), what
# was stopped stays stopped, damaged and hostile archives change nothing,
# and no command leaves a mount, a journal row or a temporary file behind.
# Crashes are in containerd-crash.bats.

load helpers/common
load helpers/containerd

setup_file() {
	ctrd_start
}

teardown_file() {
	ctrd_stop
}

setup() {
	sk_setup
	ctrd_setup
}

teardown() {
	ctrd_teardown
}

# Hooks that record the bot's network setup and teardown in $EVENTS.
net_hooks() {
	EVENTS=$BATS_TEST_TMPDIR/events
	: >"$EVENTS"
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $EVENTS" \
		"start_command = echo start \$1 >> $EVENTS"
}

# ---- moving data ----

@test "ws-export: data written inside a running bot is exported, and the bot runs again" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data/src && echo hello >/data/hello.txt && seq 1 500 >/data/src/n && ln -s hello.txt /data/link'
	pid=$(bot_pid bot1)
	run -0 --separate-stderr ws-export -v -o "$BATS_TEST_TMPDIR/b1.tgz" bot1
	[[ $stderr == *"stopping container 'workspace-bot1' (SIGTERM, SIGKILL after 5 s)"* ]]
	[[ $stderr == *"starting container 'workspace-bot1'"* ]]
	assert_running bot1 "$pid"
	mkdir "$BATS_TEST_TMPDIR/x"
	tar -xzf "$BATS_TEST_TMPDIR/b1.tgz" -C "$BATS_TEST_TMPDIR/x"
	[[ $(cat "$BATS_TEST_TMPDIR/x/hello.txt") == hello ]]
	[[ $(cat "$BATS_TEST_TMPDIR/x/src/n" | wc -l) == 500 ]]
	[[ $(readlink "$BATS_TEST_TMPDIR/x/link") == hello.txt ]]
	# the data is still there for the restarted bot
	run -0 bot_exec bot1 'cat /data/hello.txt'
	assert_output hello
	assert_clean
}

@test "ws-import: bot1's data, exported through a pipe, is visible inside bot2 after its task restarts" {
	bot_run bot1
	bot_run bot2
	bot_exec bot1 'mkdir -p /data/proj/deep && echo "from bot1" >/data/proj/deep/note && chmod 600 /data/proj/deep/note && head -c 100000 /dev/urandom >/data/blob'
	bot_exec bot2 'mkdir -p /data && echo old >/data/only-in-bot2'
	pid2=$(bot_pid bot2)
	run -0 --separate-stderr bash -c 'ws-export bot1 | ws-import bot2'
	assert_running bot1
	assert_running bot2 "$pid2"
	run -0 bot_exec bot2 'cat /data/proj/deep/note; stat -c %a /data/proj/deep/note; test ! -e /data/only-in-bot2 && echo gone'
	assert_output $'from bot1\n600\ngone'
	[[ $(bot_fp bot1) == "$(bot_fp bot2)" ]]
	assert_clean
}

@test "ws-import: into an image whose /data is a lower layer: the old content goes whole, the new is in place" {
	bot_run bot1 "$IMG_DATA"
	run -0 bot_exec bot1 'cat /data/from-image.txt /data/sub/deep.txt'
	bot_exec bot1 'echo mine >/data/sub/mine'
	mkdir -p "$BATS_TEST_TMPDIR/src/sub/x" "$BATS_TEST_TMPDIR/src/new"
	echo new >"$BATS_TEST_TMPDIR/src/new/file"
	echo x >"$BATS_TEST_TMPDIR/src/sub/x/f"
	tar -czf "$BATS_TEST_TMPDIR/new.tgz" -C "$BATS_TEST_TMPDIR/src" .
	pid=$(bot_pid bot1)
	run -0 --separate-stderr ws-import -v -i "$BATS_TEST_TMPDIR/new.tgz" bot1
	[[ $stderr == *"will not rename '/data' in container 'workspace-bot1': rolling forward"* ]]
	assert_running bot1 "$pid"
	# sub/ came from the image too: none of its old entries shows through
	run -0 bot_exec bot1 'cd /data && find . | sort'
	assert_output $'.\n./new\n./new/file\n./sub\n./sub/x\n./sub/x/f'
	# and a second import over that works the same way
	run -0 --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/new.tgz" bot1
	run -0 bot_exec bot1 'cat /data/new/file /data/sub/x/f'
	assert_output $'new\nx'
	assert_clean
}

@test "ws-import: into a container whose snapshot has no /data yet, it is created" {
	bot_create bot1
	mkdir -p "$BATS_TEST_TMPDIR/src/d"
	echo one >"$BATS_TEST_TMPDIR/src/d/f"
	tar -czf "$BATS_TEST_TMPDIR/a.tgz" -C "$BATS_TEST_TMPDIR/src" .
	run -0 ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot1
	[[ $(bot_state bot1) == none ]]
	c_ctr tasks start -d --null-io workspace-bot1
	run -0 bot_exec bot1 'cat /data/d/f'
	assert_output one
	assert_clean
}

@test "ws-import: --merge keeps the files the archive does not name, also from the image" {
	bot_run bot1 "$IMG_DATA"
	bot_exec bot1 'echo kept >/data/kept'
	mkdir -p "$BATS_TEST_TMPDIR/src/sub"
	echo replaced >"$BATS_TEST_TMPDIR/src/sub/deep.txt"
	echo added >"$BATS_TEST_TMPDIR/src/added"
	tar -czf "$BATS_TEST_TMPDIR/m.tgz" -C "$BATS_TEST_TMPDIR/src" .
	run -0 ws-import --merge -i "$BATS_TEST_TMPDIR/m.tgz" bot1
	assert_running bot1
	run -0 bot_exec bot1 'cat /data/kept /data/from-image.txt /data/sub/deep.txt /data/added'
	assert_output $'kept\nbaked into the image\nreplaced\nadded'
	assert_clean
}

@test "ws-preserve: a generation of a running bot, and --restore brings it back after a change" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data/a && echo v1 >/data/a/f'
	fp=$(bot_fp bot1)
	run -0 ws-preserve bot1
	bot_exec bot1 'echo v2 >/data/a/f && echo extra >/data/extra'
	pid=$(bot_pid bot1)
	run -0 ws-preserve --restore bot1
	assert_running bot1 "$pid"
	[[ $(bot_fp bot1) == "$fp" ]]
	run -0 ws-preserve --list bot1
	assert_line --regexp '^bot1 +1 '
	assert_clean
}

@test "ws-import: an image of 60 layers, whose overlay options pass a page, is mounted all the same" {
	ctrd_image "$BATS_TEST_TMPDIR/tall.tar" docker.io/statekit/busybox:tall 1 60
	c_ctr images import "$BATS_TEST_TMPDIR/tall.tar" >/dev/null
	bot_run bot1 docker.io/statekit/busybox:tall
	opts=$(c_ctr snapshots mounts /x workspace-bot1 | awk '{ print $7 }')
	((${#opts} > 4096)) || fail "only ${#opts} bytes of options"
	bot_exec bot1 'echo mine >/data/mine'
	run -0 ws-export -o "$BATS_TEST_TMPDIR/t.tgz" bot1
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/t.tgz" mine) == mine ]]
	run -0 ws-import -i "$BATS_TEST_TMPDIR/t.tgz" bot1
	run -0 bot_exec bot1 'cat /data/mine /layers/59; test -e /data/from-image.txt && echo image'
	assert_output $'mine\n59\nimage'
	assert_running bot1
	assert_clean
	ctrd_remove_all
	c_ctr images remove docker.io/statekit/busybox:tall >/dev/null
}

@test "ws-export: -o naming a device writes through it, and the device stays a device" {
	bot_run bot1
	bot_exec bot1 'mkdir /data && echo x >/data/x'
	mknod "$BATS_TEST_TMPDIR/null" c 1 3
	run -0 ws-export -o "$BATS_TEST_TMPDIR/null" bot1
	[[ -c $BATS_TEST_TMPDIR/null ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.null.*') ]]
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	tar -tzf "$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/list" &
	run -0 ws-export -o "$BATS_TEST_TMPDIR/fifo" bot1
	wait $!
	[[ -p $BATS_TEST_TMPDIR/fifo && $(cat "$BATS_TEST_TMPDIR/list") == x ]]
	assert_running bot1
	assert_clean
}

# ---- the task: running, stopped, absent ----

@test "ws-export, ws-import, ws-preserve: a container without a task is neither stopped nor started" {
	net_hooks
	bot_run src
	bot_exec src 'mkdir /data && echo payload >/data/p'
	ws-export -o "$BATS_TEST_TMPDIR/p.tgz" src
	: >"$EVENTS"
	bot_create bot1
	run -0 ws-import -i "$BATS_TEST_TMPDIR/p.tgz" bot1
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	run -0 ws-preserve bot1
	[[ $(bot_state bot1) == none ]]
	[[ ! -s $EVENTS ]] || fail "hooks ran: $(cat "$EVENTS")"
	tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" p | grep -qx payload
	assert_clean
}

@test "ws-export: a bot whose task has exited stays stopped; the dead task is cleared" {
	net_hooks
	bot_run bot1 "$IMG" 'mkdir -p /data; echo done >/data/exit-note'
	for _ in $(seq 50); do [[ $(bot_state bot1) == STOPPED ]] && break; sleep 0.1; done
	[[ $(bot_state bot1) == STOPPED ]]
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $(bot_state bot1) == none ]]
	[[ ! -s $EVENTS ]]
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" exit-note) == "done" ]]
	assert_clean
}

@test "ws-export: stop_command runs after the task stops, start_command after it runs again" {
	net_hooks
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 \$(ctr -a $CTRD_SOCK -n $CTRD_NS task ls | grep -c workspace-bot1) >> $EVENTS" \
		"start_command = echo start \$1 \$(ctr -a $CTRD_SOCK -n $CTRD_NS task ls | grep -c 'workspace-bot1.*RUNNING') >> $EVENTS"
	bot_run bot1
	bot_exec bot1 'mkdir /data'
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	# when stop_command ran the task was gone; when start_command ran it was running
	[[ $(cat "$EVENTS") == $'stop bot1 0\nstart bot1 1' ]]
	assert_clean
}

@test "ws-export: start_command runs in the host's mount namespace, not in statekit's private one" {
	mkdir "$BATS_TEST_TMPDIR/netns"
	sk_conf "[workspace]" "start_command = mount -t tmpfs hook $BATS_TEST_TMPDIR/netns"
	bot_run bot1
	bot_exec bot1 'mkdir /data'
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	# what the hook mounted outlives the command, on the host
	run -0 host_mounts
	assert_output "$BATS_TEST_TMPDIR/netns"
	umount "$BATS_TEST_TMPDIR/netns"
	assert_clean
}

@test "ws-export: a container made with 'ctr containers create' and started with 'ctr tasks start -d' runs again" {
	bot_create bot1 "$IMG_DATA"
	c_ctr tasks start -d --null-io workspace-bot1
	pid=$(bot_pid bot1)
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	assert_running bot1 "$pid"
	run -0 bot_exec bot1 'cat /data/from-image.txt'
	assert_output 'baked into the image'
	assert_clean
}

@test "ws-export: a task deaf to SIGTERM is killed after stop_timeout" {
	sk_conf "[containerd]" "stop_timeout = 1"
	bot_run bot1 "$IMG_DATA" "$BOT_CMD_DEAF"
	pid=$(bot_pid bot1)
	t0=$(date +%s%N)
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	t1=$(date +%s%N)
	[[ $stderr == *"container 'workspace-bot1' did not stop within 1 s; killing it"* ]]
	(((t1 - t0) >= 1000000000)) || fail "stopped too soon"
	assert_running bot1 "$pid"
	assert_clean
}

@test "ws-export: the image's stop signal is used to stop the task" {
	bot_run bot1 "$IMG_DATA" 'trap "echo usr1 >/data/sig; exit 0" USR1; trap "" TERM; while :; do sleep 1 & wait $!; done'
	c_ctr containers label workspace-bot1 io.containerd.image.config.stop-signal=SIGUSR1 >/dev/null
	run -0 --separate-stderr ws-export -v -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"(SIGUSR1, SIGKILL after 5 s)"* ]]
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" sig) == usr1 ]]
	assert_running bot1
}

@test "ws-export: a bot with file IO (label statekit.log-uri) keeps logging to its file after the restart" {
	log=$BATS_TEST_TMPDIR/bot1.log
	c_ctr run -d --log-uri "file://$log" --label "statekit.log-uri=file://$log" "$IMG_DATA" \
		workspace-bot1 sh -c 'trap "exit 0" TERM; echo "up $$ $(cat /proc/uptime)"; while :; do sleep 1 & wait $!; done'
	for _ in $(seq 30); do [[ -s $log ]] && break; sleep 0.1; done
	[[ $(wc -l <"$log") == 1 ]]
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	assert_running bot1
	for _ in $(seq 30); do (($(wc -l <"$log") == 2)) && break; sleep 0.1; done
	[[ $(wc -l <"$log") == 2 ]] || fail "log: $(cat "$log")"
}

@test "ws-export: a bot created with 'ctr run -d' and no IO option runs again with its IO on /dev/null" {
	c_ctr run -d "$IMG_DATA" workspace-bot1 sh -c "$BOT_CMD" </dev/null >/dev/null 2>&1
	pid=$(bot_pid bot1)
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	assert_running bot1 "$pid"
	# the null device, whichever /dev it was opened in
	run -0 stat -L -c '%F %t:%T' "/proc/$(bot_pid bot1)/fd/1"
	assert_output 'character special file 1:3'
}

@test "ws-export: a paused task is busy: exit 4, nothing changed" {
	bot_run bot1
	c_ctr tasks pause workspace-bot1
	run -4 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == "ws-export: export 'bot1': the task of container 'workspace-bot1' is PAUSED: resume it first" ]]
	[[ $(bot_state bot1) == PAUSED ]]
	[[ ! -e $BATS_TEST_TMPDIR/o.tgz ]]
	c_ctr tasks resume workspace-bot1
	assert_clean
}

# ---- what does not exist ----

@test "ws-export: a bot with no container and no snapshot exits 3" {
	run -3 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" nosuch
	[[ $stderr == "ws-export: export 'nosuch': bot 'nosuch' does not exist: no container or snapshot 'workspace-nosuch' in namespace '$CTRD_NS' of containerd at '$CTRD_SOCK'" ]]
	[[ ! -e $BATS_TEST_TMPDIR/o.tgz ]]
	run -3 ws-import -i /dev/null nosuch
	run -3 ws-preserve nosuch
	assert_clean
}

@test "ws-export: a container whose snapshot has no /data exits 3 and runs again" {
	bot_run bot1
	pid=$(bot_pid bot1)
	run -3 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == "ws-export: export 'bot1': bot 'bot1' has no workspace ('/data' in container 'workspace-bot1')" ]]
	assert_running bot1 "$pid"
	assert_clean
}

@test "ws-export: containerd unreachable exits 1 naming the address" {
	bot_run bot1
	sk_conf "[containerd]" "address = $BATS_TEST_TMPDIR/nope.sock"
	run -1 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == "ws-export: export 'bot1': cannot reach containerd at '$BATS_TEST_TMPDIR/nope.sock': No such file or directory" ]]
	# a socket nobody listens on
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$BATS_TEST_TMPDIR/dead.sock"
	sk_conf "[containerd]" "address = $BATS_TEST_TMPDIR/dead.sock"
	run -1 --separate-stderr ws-preserve bot1
	[[ $stderr == "ws-preserve: preserve 'bot1': cannot reach containerd at '$BATS_TEST_TMPDIR/dead.sock': "*"connection refused"* ]]
	run -1 --separate-stderr ws-import -i /dev/null bot1
	[[ $stderr == *"cannot reach containerd at '$BATS_TEST_TMPDIR/dead.sock'"* ]]
	assert_running bot1
	assert_clean
}

@test "ws-export: a ctr that cannot be run exits 1 naming it" {
	sk_conf "[containerd]" "ctr = $BATS_TEST_TMPDIR/no-ctr"
	run -1 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == "ws-export: export 'bot1': cannot run '$BATS_TEST_TMPDIR/no-ctr': No such file or directory" ]]
}

@test "ws-export: a container template that is not a containerd id is a config error" {
	sk_conf "[containerd]" "container = -x%s"
	run -2 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"container id '-xbot1' (from container = -x%s) is not a containerd id"* ]]
	sk_conf "[containerd]" "container = workspace-%s" "data_path = /data/../etc"
	run -2 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"bad data_path '/data/../etc'"* ]]
}

# ---- orphans ----

@test "ws-preserve: an orphan snapshot (its container deleted) is still preserved, exported and restored" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data && echo precious >/data/p'
	c_ctr tasks kill -s SIGKILL workspace-bot1
	for _ in $(seq 50); do [[ $(bot_state bot1) == STOPPED ]] && break; sleep 0.1; done
	c_ctr tasks delete workspace-bot1
	orphan bot1
	run -0 --separate-stderr ws-preserve -v bot1
	[[ $stderr == *"container 'workspace-bot1' is gone; using its snapshot"* ]]
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" p) == precious ]]
	# a new container gets the preserved data
	c_ctr snapshots remove workspace-bot1
	bot_create bot1
	run -0 ws-preserve --restore bot1
	c_ctr tasks start -d --null-io workspace-bot1
	run -0 bot_exec bot1 'cat /data/p'
	assert_output precious
	assert_clean
}

@test "ws-preserve --all: every container matching the template and every bot with generations, each running again" {
	bot_run bot1
	bot_run bot2
	bot_exec bot1 'mkdir -p /data && echo one >/data/f'
	bot_exec bot2 'mkdir -p /data && echo two >/data/f'
	# a container the template does not match is not a bot
	c_ctr run -d --null-io "$IMG" other sh -c "$BOT_CMD" >/dev/null
	# an orphan: its container deleted, its snapshot kept, a generation in the index
	bot_run bot3
	bot_exec bot3 'mkdir -p /data && echo three >/data/f'
	run -0 ws-preserve bot3
	c_ctr tasks kill -s SIGKILL workspace-bot3
	for _ in $(seq 50); do [[ $(bot_state bot3) == STOPPED ]] && break; sleep 0.1; done
	c_ctr tasks delete workspace-bot3
	orphan bot3
	p1=$(bot_pid bot1) p2=$(bot_pid bot2)
	run -0 --separate-stderr ws-preserve --all
	assert_running bot1 "$p1"
	assert_running bot2 "$p2"
	[[ $(task_state_of other) == RUNNING ]]
	[[ $(sqlite3 "$ST/index.db" "select group_concat(bot || generation) from backups") == "bot11,bot21,bot31,bot32" ]]
	run -0 ws-preserve --verify --all
	[[ ${#lines[@]} == 4 ]]
	for b in 1 2 3; do
		[[ $(ws-preserve --dump "bot$b" f) == $(sed -n "${b}p" <<<$'one\ntwo\nthree') ]]
	done
	c_ctr tasks kill -s SIGKILL other >/dev/null 2>&1 || true
	assert_clean
}

@test "ws-preserve: --restore into a container without a task goes straight into its snapshot" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data/w && echo saved >/data/w/f'
	ws-preserve bot1
	ctrd_remove_all
	bot_create bot1
	run -0 --separate-stderr ws-preserve --restore bot1
	[[ $(bot_state bot1) == none ]]
	run -0 bot_fp bot1
	assert_line --partial './w/f'
	c_ctr tasks start -d --null-io workspace-bot1
	run -0 bot_exec bot1 'cat /data/w/f'
	assert_output saved
	assert_clean
}

# ---- untrusted content ----

@test "ws-export: a /data that the bot made a symlink to the host's / is refused with 5, and the bot runs again" {
	bot_run bot1
	bot_exec bot1 'rm -rf /data; ln -s / /data'
	pid=$(bot_pid bot1)
	run -5 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"'/data' in the snapshot of container 'workspace-bot1' holds a symbolic link ('data'): refusing to follow it" ]]
	[[ ! -e $BATS_TEST_TMPDIR/o.tgz ]]
	run -5 ws-import -i /dev/null bot1
	[[ -d /etc && ! -e /.data.statekit-new ]]
	assert_running bot1 "$pid"
	assert_clean
}

@test "ws-import: a symlink in the middle of data_path is refused with 5" {
	sk_conf "[containerd]" "data_path = /srv/ws"
	bot_run bot1
	bot_exec bot1 'ln -s /etc /srv'
	mkdir "$BATS_TEST_TMPDIR/e"
	tar -czf "$BATS_TEST_TMPDIR/e.tgz" -C "$BATS_TEST_TMPDIR/e" .
	run -5 --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/e.tgz" bot1
	[[ $stderr == *"'/srv/ws' in the snapshot of container 'workspace-bot1' holds a symbolic link ('srv')"* ]]
	[[ ! -e /etc/ws ]]
	assert_running bot1
	assert_clean
}

@test "ws-export: symlinks inside /data that point out of it are skipped, never followed" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data && ln -s /etc/passwd /data/pw && ln -s ../bin /data/bin && echo ok >/data/ok'
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	run -0 tar -tzf "$BATS_TEST_TMPDIR/o.tgz"
	assert_output ok
	assert_running bot1
}

@test "ws-export: what the bot's creator wrote into the container's spec and labels cannot redirect statekit" {
	# strings in the spec and labels that look like the top-level keys
	# statekit reads from 'ctr containers info'
	c_ctr run -d --null-io --label 'SnapshotKey=workspace-evil' --label 'Snapshotter=native' \
		--env 'X="SnapshotKey": "workspace-evil", "Snapshotter": "native"' \
		"$IMG_DATA" workspace-bot1 sh -c "$BOT_CMD" >/dev/null
	bot_run evil "$IMG_DATA"
	bot_exec evil 'echo evil >/data/evil'
	bot_exec bot1 'echo mine >/data/mine'
	run -0 ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	run -0 tar -tzf "$BATS_TEST_TMPDIR/o.tgz"
	assert_line mine
	refute_line evil
	assert_running bot1
	assert_clean
}

# hostile_reject NAME: an archive tests/gen-hostile wrote is refused whole.
hostile_reject() {
	local f=$BATS_TEST_TMPDIR/gen/$1 fp pid
	[[ -f $f ]] || fail "gen-hostile wrote no '$1'"
	fp=$(bot_fp bot1)
	pid=$(bot_pid bot1)
	case $f in
	*.tar) gzip -c "$f" >"$BATS_TEST_TMPDIR/in" ;;
	*) cp "$f" "$BATS_TEST_TMPDIR/in" ;;
	esac
	run --separate-stderr timeout 60 ws-import -i "$BATS_TEST_TMPDIR/in" bot1
	[[ $status == 5 ]] || fail "$1: exit $status: $stderr"
	[[ $(bot_fp bot1) == "$fp" ]] || fail "$1: /data changed"
	assert_running bot1 "$pid"
	assert_clean
}

@test "ws-import: hostile archives change nothing in the container" {
	"$BATS_TEST_DIRNAME/gen-hostile" --no-manifest "$BATS_TEST_TMPDIR/gen"
	bot_run bot1 "$IMG_DATA"
	bot_exec bot1 'echo mine >/data/mine'
	for f in abs-slash.tar sym-then-file.tar trav-inner.tar sym-then-same-name.tar \
		trav-after-good.tar chain-cur-par-file.tar dev-after-files.tar hl-dotdot.tar \
		gz-trailing-garbage.tar.gz trunc-no-eof.tar; do
		hostile_reject "$f"
	done
	[[ ! -e /tmp/sk-hostile-moo && ! -e /tmp/sk-hostile-evil.txt ]]
}

@test "ws-import: damaged streams change nothing in the container" {
	bot_run bot1 "$IMG_DATA"
	bot_exec bot1 'mkdir -p /data/w && head -c 300000 /dev/urandom >/data/w/big && echo mine >/data/mine'
	ws-export -o "$BATS_TEST_TMPDIR/good.tgz" bot1
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	fp=$(bot_fp bot1)
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/trunc.tgz"
	cp "$BATS_TEST_TMPDIR/good.tgz" "$BATS_TEST_TMPDIR/flip.tgz"
	printf '\xff' | dd of="$BATS_TEST_TMPDIR/flip.tgz" bs=1 seek=$((size - 6)) conv=notrunc status=none
	{ cat "$BATS_TEST_TMPDIR/good.tgz"; echo garbage; } >"$BATS_TEST_TMPDIR/trail.tgz"
	for f in trunc flip trail; do
		pid=$(bot_pid bot1)
		run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/$f.tgz" bot1
		[[ $status == 5 ]] || fail "$f: exit $status: $stderr"
		[[ $(bot_fp bot1) == "$fp" ]] || fail "$f: /data changed"
		assert_running bot1 "$pid"
		assert_clean
	done
}

# ---- locking ----

@test "ws-export: two commands on one bot serialize: exit 4 at once, or --wait for the first" {
	bot_run bot1
	bot_exec bot1 'mkdir -p /data && echo before >/data/f'
	mkdir -p "$BATS_TEST_TMPDIR/src"
	echo after >"$BATS_TEST_TMPDIR/src/f"
	tar -cf "$BATS_TEST_TMPDIR/a.tar" -C "$BATS_TEST_TMPDIR/src" .
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	ws-import bot1 <"$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/imp.out" 2>&1 3>&- &
	imp=$!
	BG_PIDS+=" $imp"
	exec 5>"$BATS_TEST_TMPDIR/fifo"
	for _ in $(seq 100); do
		[[ $(cat "$ST/locks/bot.bot1" 2>/dev/null) == "$imp" ]] && break
		sleep 0.1
	done
	# the import has stopped the bot and mounted its snapshot, in a mount
	# namespace of its own: the host sees no mount
	for _ in $(seq 100); do [[ $(bot_state bot1) == none ]] && break; sleep 0.1; done
	[[ $(bot_state bot1) == none ]]
	[[ -z $(host_mounts) ]]
	run -4 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == "ws-export: export 'bot1': bot 'bot1' is busy: locked by pid $imp" ]]
	ws-export -w 30 -o "$BATS_TEST_TMPDIR/o.tgz" bot1 3>&- 5>&- &
	exp=$!
	BG_PIDS+=" $exp"
	sleep 0.5
	kill -0 "$exp"
	cat "$BATS_TEST_TMPDIR/a.tar" >&5
	exec 5>&-
	wait "$imp" || fail "import: $(cat "$BATS_TEST_TMPDIR/imp.out")"
	wait "$exp"
	[[ $(tar -xzOf "$BATS_TEST_TMPDIR/o.tgz" f) == after ]]
	assert_running bot1
	assert_clean
}

@test "ws-preserve: --list-ids names the bots of the containers" {
	bot_create alpha
	bot_create beta
	c_ctr containers create "$IMG" other-thing -- sh >/dev/null
	run -0 --separate-stderr ws-preserve --list-ids
	assert_output $'alpha\nbeta'
}
