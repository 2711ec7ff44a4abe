#!/usr/bin/env bats
# Crash safety of the containerd backend, against the suite's own
# containerd. A command killed while the bot's task is stopped, or while
# its snapshot is mounted, leaves a journal row; the next command on the
# bot unmounts what is left, finishes or undoes the import, and starts the
# task again. Snapshots are mounted in a private mount namespace, so a
# kill -9 never leaves a mount on the host in the first place.
#
# Fault points (STATEKIT_FAULT=<point>, the process SIGKILLs itself; see
# statekit(7) and tests/crash.bats for the rest):
#   export-mounted, preserve-mounted   snapshot mounted, nothing written yet
#   ctrd-task-exited    the task has exited, not yet deleted
#   ctrd-task-started   the task runs again, start_command not yet run
#   import-rf-clearing  roll-forward: the first old entry of /data removed
#   import-rf-cleared   roll-forward: /data empty, the new tree staged
#   import-rf-filling   roll-forward: the first new entry moved into /data
#   import-rf-filled    roll-forward: all moved, before the cleanup

load helpers/common
load helpers/containerd

setup_file() {
	ctrd_start
	# The new content every import brings, as an archive and as a bot
	# shows it, made once for the file.
	local st=$BATS_FILE_TMPDIR/state
	mkdir -p "$BATS_FILE_TMPDIR/src/sub/x" "$BATS_FILE_TMPDIR/src/other"
	echo "new content" >"$BATS_FILE_TMPDIR/src/other/file"
	seq 1 3000 >"$BATS_FILE_TMPDIR/src/sub/x/numbers"
	for n in 1 2 3 4 5; do echo "$n" >"$BATS_FILE_TMPDIR/src/f$n"; done
	tar -czf "$BATS_FILE_TMPDIR/new.tgz" -C "$BATS_FILE_TMPDIR/src" .
	export NEW=$BATS_FILE_TMPDIR/new.tgz
}

teardown_file() {
	ctrd_stop
}

setup() {
	sk_setup
	ctrd_setup
	EVENTS=$BATS_TEST_TMPDIR/events
	: >"$EVENTS"
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $EVENTS" \
		"start_command = echo start \$1 >> $EVENTS"
}

teardown() {
	ctrd_teardown
}

journal_pid() {
	sqlite3 "$ST/index.db" 'SELECT pid FROM journal'
}

journal_step() {
	sqlite3 "$ST/index.db" 'SELECT step FROM journal'
}

# The fingerprint of NEW as a bot shows it.
fp_new() {
	bot_run ref
	ws-import -i "$NEW" ref 2>/dev/null
	bot_fp ref
}

# bot1 with old content: from the image's lower layer when $1 is "lower"
# (the roll-forward path), else only in the container's upper layer (the
# exchange path). Sets FP_OLD, FP_NEW, PID.
old_and_new() {
	FP_NEW=$(fp_new)
	if [[ $1 == lower ]]; then
		bot_run bot1 "$IMG_DATA"
		bot_exec bot1 'echo mine >/data/mine && echo more >/data/sub/more'
	else
		bot_run bot1
		bot_exec bot1 'mkdir -p /data/sub && echo mine >/data/mine && echo more >/data/sub/more'
	fi
	FP_OLD=$(bot_fp bot1)
	[[ $FP_OLD != "$FP_NEW" ]]
	PID=$(bot_pid bot1)
	: >"$EVENTS"
}

# What a crash leaves: a journal row, the task gone, and no mount on the host.
assert_crashed() {
	[[ $(journal_rows) == 1 ]] || fail "no journal row"
	[[ -z $(host_mounts) ]] || fail "a mount outlived the process: $(host_mounts)"
	[[ $(bot_state bot1) == none ]] || fail "task is $(bot_state bot1)"
}

# After the repairing command: the bot runs a new task, nothing is left.
assert_repaired() {
	assert_running bot1 "$PID"
	assert_clean
	[[ $(cat "$EVENTS") == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]] ||
		fail "events: $(cat "$EVENTS")"
}

# crash_import POINT lower|upper old|new: kill ws-import at POINT, check what
# the crash left, and that the next command ends with the OLD or NEW content.
crash_import() {
	old_and_new "$2"
	run -137 env STATEKIT_FAULT=$1 ws-import -i "$NEW" bot1
	assert_crashed
	pid=$(journal_pid)
	[[ $(cat "$EVENTS") == "stop bot1" ]]
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/after.tgz" bot1
	if [[ $3 == old ]]; then
		[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $pid)"* ]] || fail "$stderr"
		[[ $(bot_fp bot1) == "$FP_OLD" ]] || fail "not the old content"
	else
		[[ $stderr == *"warning: finishing an interrupted import of bot 'bot1' (pid $pid)"* ]] || fail "$stderr"
		[[ $(bot_fp bot1) == "$FP_NEW" ]] || fail "not the new content"
	fi
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted import (pid $pid)"* ]]
	assert_repaired
	# the export after the repair saw the same content
	mkdir "$BATS_TEST_TMPDIR/x"
	tar -xzf "$BATS_TEST_TMPDIR/after.tgz" -C "$BATS_TEST_TMPDIR/x"
	if [[ $3 == old ]]; then
		[[ -f $BATS_TEST_TMPDIR/x/mine && ! -e $BATS_TEST_TMPDIR/x/other ]]
	else
		[[ -f $BATS_TEST_TMPDIR/x/other/file && ! -e $BATS_TEST_TMPDIR/x/mine ]]
	fi
}

# ---- ws-export and ws-preserve ----

@test "ws-export: killed at export-stopped, the next command starts the task" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=export-stopped ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	assert_crashed
	pid=$(journal_pid)
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted export (pid $pid)"* ]]
	[[ $stderr == *"left by an interrupted export"* ]]
	[[ ! -e $BATS_TEST_TMPDIR/o.tgz && -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.o.tgz.*') ]]
	[[ $(bot_fp bot1) == "$FP_OLD" ]]
	assert_repaired
}

@test "ws-export: killed with the snapshot mounted, no mount is left and the next command starts the task" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=export-mounted ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	assert_crashed
	[[ $(journal_step) == export ]]
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted export"* ]]
	[[ $(bot_fp bot1) == "$FP_OLD" ]]
	assert_repaired
}

@test "ws-preserve: killed at preserve-stopped and at preserve-mounted, the next command starts the task" {
	old_and_new upper
	for point in preserve-stopped preserve-mounted; do
		: >"$EVENTS"
		PID=$(bot_pid bot1)
		run -137 env STATEKIT_FAULT=$point ws-preserve bot1
		assert_crashed
		run -0 --separate-stderr ws-preserve bot1
		[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted preserve"* ]] || fail "$point: $stderr"
		assert_repaired
	done
	run -0 ws-preserve --list bot1
	[[ ${#lines[@]} == 3 ]]
}

@test "ws-export: killed after the task exited but before it was deleted, the next command replaces it" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=ctrd-task-exited ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $(bot_state bot1) == STOPPED ]]
	[[ $(journal_rows) == 1 && -z $(host_mounts) ]]
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted export"* ]]
	# the crashed command never ran stop_command: one stop, two starts
	[[ $(cat "$EVENTS") == $'start bot1\nstop bot1\nstart bot1' ]]
	assert_running bot1 "$PID"
	assert_clean
}

@test "ws-export: killed after the task started again, the next command runs start_command without a second task" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=ctrd-task-started ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $(bot_state bot1) == RUNNING ]]
	[[ $(journal_rows) == 1 ]]
	[[ $(cat "$EVENTS") == "stop bot1" ]]
	mid=$(bot_pid bot1)
	# a command that takes no lock sees the row and leaves it
	run ws-preserve --check bot1
	run -0 --separate-stderr env STATEKIT_FAULT= ws-preserve --prune bot1
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted export"* ]]
	[[ $(bot_pid bot1) == "$mid" ]]
	[[ $(cat "$EVENTS") == $'stop bot1\nstart bot1' ]]
	assert_clean
}

# ---- ws-import: a /data of the container's own (the exchange) ----

@test "ws-import: exchange path, killed at import-staged, the next command undoes it" {
	crash_import import-staged upper old
}

@test "ws-import: exchange path, killed at import-stopped, the next command undoes it" {
	crash_import import-stopped upper old
}

@test "ws-import: exchange path, killed between the two renames, the next command moves the old /data back" {
	crash_import import-mid-swap upper old
}

@test "ws-import: exchange path, killed at import-swapped, the next command finishes it" {
	crash_import import-swapped upper new
}

# ---- ws-import: a /data from the image's lower layer (the roll-forward) ----

@test "ws-import: roll-forward, killed at import-staged (nothing removed yet), the next command undoes it" {
	crash_import import-staged lower old
}

@test "ws-import: roll-forward, killed while removing the old entries, the next command finishes it" {
	crash_import import-rf-clearing lower new
}

@test "ws-import: roll-forward, killed with /data empty, the next command finishes it" {
	old_and_new lower
	run -137 env STATEKIT_FAULT=import-rf-cleared ws-import -i "$NEW" bot1
	assert_crashed
	[[ $(journal_step) == rf-clear ]]
	# what the crash left: an empty /data, the whole new tree staged
	run -0 bot_fp bot1
	assert_output --partial $'.\n. 755 0:0'
	refute_output --partial './mine'
	run -0 --separate-stderr ws-import -i "$NEW" bot1
	[[ $stderr == *"finishing an interrupted import of bot 'bot1'"* ]]
	[[ $(bot_fp bot1) == "$FP_NEW" ]]
	assert_repaired
}

@test "ws-import: roll-forward, killed while moving the new entries in, the next command finishes it" {
	old_and_new lower
	run -137 env STATEKIT_FAULT=import-rf-filling ws-import -i "$NEW" bot1
	assert_crashed
	[[ $(journal_step) == rf-fill ]]
	run -0 bot_fp bot1
	refute_output --partial './mine'
	[[ $output != "$FP_NEW" ]]
	crash_next_finishes
}

crash_next_finishes() {
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"finishing an interrupted import of bot 'bot1'"* ]]
	[[ $(bot_fp bot1) == "$FP_NEW" ]]
	assert_repaired
}

@test "ws-import: roll-forward, killed at import-rf-filled, the next command finishes it" {
	crash_import import-rf-filled lower new
}

@test "ws-import: roll-forward, killed at import-swapped, the next command finishes it" {
	crash_import import-swapped lower new
}

@test "ws-import: after a crash at every point, the next import repairs first and then succeeds" {
	FP_NEW=$(fp_new)
	for point in upper:import-staged upper:import-stopped upper:import-mid-swap \
		upper:import-swapped lower:import-staged lower:import-stopped \
		lower:import-rf-clearing lower:import-rf-cleared lower:import-rf-filling \
		lower:import-rf-filled lower:import-swapped; do
		ctrd_remove_all
		if [[ $point == lower:* ]]; then
			bot_run bot1 "$IMG_DATA"
		else
			bot_run bot1
			bot_exec bot1 'mkdir /data && echo old >/data/old'
		fi
		point=${point#*:}
		run -137 env STATEKIT_FAULT=$point ws-import -i "$NEW" bot1
		[[ $(journal_rows) == 1 ]] || fail "$point: no journal row"
		run -0 --separate-stderr ws-import -i "$NEW" bot1
		[[ $stderr == *"interrupted import of bot 'bot1'"* ]] || fail "$point: $stderr"
		[[ $(bot_fp bot1) == "$FP_NEW" ]] || fail "$point: wrong content"
		assert_running bot1
		assert_clean
	done
}

@test "ws-preserve: --restore into a container without a task, killed while rolling forward, is finished and stays without a task" {
	bot_run bot1 "$IMG_DATA"
	bot_exec bot1 'echo saved >/data/saved'
	ws-preserve bot1
	fp=$(bot_fp bot1)
	ctrd_remove_all
	bot_create bot1 "$IMG_DATA"
	: >"$EVENTS"
	run -137 env STATEKIT_FAULT=import-rf-filling ws-preserve --restore bot1
	[[ $(journal_rows) == 1 && -z $(host_mounts) ]]
	run -0 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"finishing an interrupted import"* ]]
	[[ $stderr != *"starting bot"* ]]
	[[ $(bot_state bot1) == none ]]
	[[ ! -s $EVENTS ]]
	c_ctr tasks start -d --null-io workspace-bot1
	[[ $(bot_fp bot1) == "$fp" ]]
	assert_clean
}

# ---- from outside, and what the operator may do meanwhile ----

@test "ws-import: kill -9 from outside while staging a slow stream: no mount is left, the next command undoes it" {
	old_and_new lower
	mkdir -p "$BATS_TEST_TMPDIR/big"
	for n in 1 2 3 4 5 6; do head -c 262144 /dev/urandom >"$BATS_TEST_TMPDIR/big/f$n"; done
	tar -cf "$BATS_TEST_TMPDIR/big.tar" -C "$BATS_TEST_TMPDIR/big" .
	size=$(stat -c %s "$BATS_TEST_TMPDIR/big.tar")
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	{ head -c $((size / 2)) "$BATS_TEST_TMPDIR/big.tar"; exec sleep 60; } \
		>"$BATS_TEST_TMPDIR/fifo" 3>&- &
	writer=$!
	BG_PIDS+=" $writer"
	ws-import bot1 <"$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/imp.out" 2>&1 3>&- &
	imp=$!
	BG_PIDS+=" $imp"
	# staging happens in the snapshot, mounted in the import's own namespace
	for _ in $(seq 100); do
		[[ -n $(find "/proc/$imp/root$ST/tmp/ctrd-bot1/.data.statekit-new" -type f 2>/dev/null) ]] && break
		sleep 0.1
	done
	[[ -n $(find "/proc/$imp/root$ST/tmp/ctrd-bot1/.data.statekit-new" -type f) ]] || fail "nothing staged"
	[[ -z $(host_mounts) ]]
	kill -9 "$imp"
	wait "$imp" || rc=$?
	kill "$writer"
	wait "$writer" || true
	[[ ${rc:-0} == 137 ]]
	assert_crashed
	[[ $(journal_pid) == "$imp" ]]
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $status == 0 ]] || fail "exit $status: $stderr"
	[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $imp)"* ]]
	[[ $(bot_fp bot1) == "$FP_OLD" ]]
	assert_repaired
}

@test "ws-export: a snapshot left mounted on the host by a crash is unmounted by the next command" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=export-mounted ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	# as a statekit that could not leave the host's mount namespace would
	# have left it
	bot_mount bot1 "$ST/tmp/ctrd-bot1"
	[[ -n $(host_mounts) ]]
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"warning: unmounted '$ST/tmp/ctrd-bot1', left mounted by an interrupted command"* ]]
	[[ $stderr == *"starting bot 'bot1' again"* ]]
	assert_repaired
}

@test "ws-import: a repair while containerd is unreachable fails and keeps the row; the next one finishes" {
	old_and_new lower
	run -137 env STATEKIT_FAULT=import-rf-cleared ws-import -i "$NEW" bot1
	cp "$CONF" "$BATS_TEST_TMPDIR/good.ini"
	sk_conf "[containerd]" "address = $BATS_TEST_TMPDIR/nope.sock"
	run -1 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"repair bot 'bot1': cannot reach containerd at '$BATS_TEST_TMPDIR/nope.sock'"* ]]
	[[ $(journal_rows) == 1 && $(journal_step) == rf-clear ]]
	cp "$BATS_TEST_TMPDIR/good.ini" "$CONF"
	crash_next_finishes
}

@test "ws-import: a task started by hand after a crash is stopped for the repair and started again" {
	old_and_new lower
	run -137 env STATEKIT_FAULT=import-rf-filling ws-import -i "$NEW" bot1
	c_ctr tasks start -d --null-io workspace-bot1
	[[ $(bot_state bot1) == RUNNING ]]
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"finishing an interrupted import of bot 'bot1'"* ]]
	[[ $(bot_fp bot1) == "$FP_NEW" ]]
	assert_running bot1
	assert_clean
}

@test "ws-export: a container deleted after a crash: the repair starts nothing and ends the row" {
	old_and_new upper
	run -137 env STATEKIT_FAULT=export-mounted ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	orphan bot1
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr == *"warning: container 'workspace-bot1' of bot 'bot1' is gone: there is no task to start"* ]]
	assert_clean
	# and an import crash whose container and snapshot are both gone
	c_ctr snapshots remove workspace-bot1
	bot_run bot1 "$IMG_DATA"
	run -137 env STATEKIT_FAULT=import-rf-cleared ws-import -i "$NEW" bot1
	c_ctr containers delete workspace-bot1
	run -0 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"warning: bot 'bot1' is gone: nothing left of an interrupted import"* ]]
	assert_clean
}
