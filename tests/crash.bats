#!/usr/bin/env bats
# Crash safety of ws-export, ws-import and ws-preserve (rules 1 to 3 of the
# design): a command killed at any point leaves a journal row, and the next
# command that takes the bot's lock repairs first: an import is finished or
# undone as a whole, a stopped bot is started again, staging and temporary
# files go.
#
# The fault points, STATEKIT_FAULT=<point> (the process SIGKILLs itself
# there, so the command exits 137):
#   export-stopped     ws-export: after stop_command, before the archive is written
#   import-staged      ws-import: archive fully staged, before the bot is stopped
#   import-stopped     ws-import: bot stopped, before the swap
#   import-mid-swap    ws-import: the two-rename swap, between the renames: the
#                      workspace is at .<name>.statekit-old, the new tree still
#                      at .<name>.statekit-new
#   import-swapped     ws-import: after the swap, before the cleanup
#   preserve-stopped   ws-preserve: bot stopped, backup half written
#   preserve-renamed   ws-preserve: backup renamed into place, before its index row

load helpers/common

setup() {
	sk_setup
	sk_hooks
	NEW=$BATS_TEST_TMPDIR/new.tar.gz
	BG_PIDS=
}

# Background processes a failed test left: only those it started.
teardown() {
	kill_bg
}

# bot1 holds the sample (the old content, fingerprint in $FP_OLD); $NEW is
# an archive of other content (fingerprint $FP_NEW); no events yet.
old_and_new() {
	make_sample bot1
	FP_OLD=$(tree_fingerprint "$WS/bot1")
	mkdir -p "$WS/src/other"
	echo "new content" >"$WS/src/other/file"
	seq 1 3000 >"$WS/src/numbers"
	ws-export -o "$NEW" src
	FP_NEW=$(tree_fingerprint "$WS/src")
	rm -rf "$WS/src"
	: >"$EVENTS"
}

# The events of BOT, one per line.
events() {
	grep -x "st[a-z]* $1" "$EVENTS" 2>/dev/null || true
}

# The events of BOT end with a start and balance stops with starts.
assert_bot_running() {
	local ev stops starts
	ev=$(events "$1")
	stops=$(grep -c '^stop' <<<"$ev") || true
	starts=$(grep -c '^start' <<<"$ev") || true
	[[ $stops == "$starts" && $(tail -n 1 <<<"$ev") == "start $1" ]] ||
		fail "bot '$1' is not running: $(echo $ev)"
}

# The pid the journal names for the interrupted operation.
journal_pid() {
	sqlite3 "$ST/index.db" 'SELECT pid FROM journal'
}

assert_no_backup_temps() {
	local left
	left=$(find "$ST/backups" -name '.gen-*' 2>/dev/null)
	[[ -z $left ]] || fail "temp files left behind: $left"
}

# ws-export with the archive thrown away (run would capture it).
export_null() {
	ws-export "$@" >/dev/null
}

# ---- ws-import ----

@test "ws-import: killed at import-staged, the next command undoes it: old content, no staging" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-staged ws-import -i "$NEW" bot1
	# what the crash left: the old workspace, the staged tree, a journal row
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	[[ $(tree_fingerprint "$WS/.bot1.statekit-new") == "$FP_NEW" ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ -z $(events bot1) ]]

	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/after.tar.gz" bot1
	[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $pid)"* ]]
	[[ $stderr != *"starting bot"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
	# the export after the repair is of the old content
	mkdir "$BATS_TEST_TMPDIR/x"
	tar -xzf "$BATS_TEST_TMPDIR/after.tar.gz" -C "$BATS_TEST_TMPDIR/x"
	[[ -f $BATS_TEST_TMPDIR/x/hello.txt && ! -e $BATS_TEST_TMPDIR/x/other ]]
}

@test "ws-import: killed at import-stopped, the next command undoes it and starts the bot" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-stopped ws-import -i "$NEW" bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	[[ -d $WS/.bot1.statekit-new ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ $(events bot1) == "stop bot1" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $pid)"* ]]
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted import (pid $pid)"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

@test "ws-import: killed at import-mid-swap, the next command moves the old workspace back" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-mid-swap ws-import -i "$NEW" bot1
	# between the two renames: no workspace at all, both trees parked
	[[ ! -e $WS/bot1 ]]
	[[ $(tree_fingerprint "$WS/.bot1.statekit-old") == "$FP_OLD" ]]
	[[ $(tree_fingerprint "$WS/.bot1.statekit-new") == "$FP_NEW" ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ $(events bot1) == "stop bot1" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $pid)"* ]]
	[[ $stderr == *"starting bot 'bot1' again"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

@test "ws-import: killed at import-swapped, the next command finishes it: new content, no staging" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-swapped ws-import -i "$NEW" bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]]
	# after the exchange the old tree sits at the -new name
	[[ $(tree_fingerprint "$WS/.bot1.statekit-new") == "$FP_OLD" ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ $(events bot1) == "stop bot1" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: finishing an interrupted import of bot 'bot1' (pid $pid)"* ]]
	[[ $stderr == *"starting bot 'bot1' again"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

@test "ws-import: killed at import-swapped into a missing workspace, the next command finishes it" {
	old_and_new
	rm -rf "$WS/bot1"
	run -137 env STATEKIT_FAULT=import-swapped ws-import -i "$NEW" bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]]
	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"finishing an interrupted import"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	assert_bot_running bot1
}

@test "ws-import: after a crash at every point, the next import repairs first and then succeeds" {
	old_and_new
	for point in import-staged import-stopped import-mid-swap import-swapped; do
		rm -rf "$WS/bot1"
		make_sample bot1
		run -137 env STATEKIT_FAULT=$point ws-import -i "$NEW" bot1
		[[ $(journal_rows) == 1 ]] || fail "$point: no journal row"
		run -0 --separate-stderr ws-import -i "$NEW" bot1
		[[ $stderr == *"interrupted import of bot 'bot1'"* ]] || fail "$point: $stderr"
		[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]] || fail "$point: wrong content"
		assert_no_staging
		[[ $(journal_rows) == 0 ]] || fail "$point: journal not empty"
		assert_bot_running bot1
	done
}

@test "ws-import: --merge killed at import-staged (bot already stopped), the next command restarts it" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-staged ws-import --merge -i "$NEW" bot1
	[[ $(events bot1) == "stop bot1" ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"undoing an interrupted import"* ]]
	[[ $stderr == *"starting bot 'bot1' again"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

@test "ws-import: kill -9 from outside while staging a slow stream, the next command undoes it" {
	old_and_new
	# a plain tar (the gzip decoder reads whole members ahead), big enough
	# that its first half stages files
	mkdir -p "$WS/big"
	for n in 1 2 3 4 5 6; do head -c 262144 /dev/urandom >"$WS/big/f$n"; done
	ws-export -z none -o "$BATS_TEST_TMPDIR/big.tar" big
	rm -rf "$WS/big"
	: >"$EVENTS"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/big.tar")
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	{ head -c $((size / 2)) "$BATS_TEST_TMPDIR/big.tar"; exec sleep 60; } \
		>"$BATS_TEST_TMPDIR/fifo" 3>&- &
	writer=$!
	BG_PIDS+=" $writer"
	ws-import bot1 <"$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/imp.out" 2>&1 3>&- &
	imp=$!
	BG_PIDS+=" $imp"
	for t in $(seq 100); do
		[[ -n $(find "$WS/.bot1.statekit-new" -type f 2>/dev/null) ]] && break
		sleep 0.1
	done
	[[ -n $(find "$WS/.bot1.statekit-new" -type f) ]] || fail "nothing staged"
	kill -0 "$imp" # still running, blocked on the stream
	kill -9 "$imp"
	wait "$imp" || rc=$?
	kill "$writer"
	wait "$writer" || true
	[[ ${rc:-0} == 137 ]]
	[[ $(journal_rows) == 1 ]]
	[[ $(journal_pid) == "$imp" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: undoing an interrupted import of bot 'bot1' (pid $imp)"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	# staging does not stop the bot: only the export's own stop and start
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
}

@test "ws-import: the repair after a crash of bot1 does not touch bot2" {
	old_and_new
	mkdir -p "$WS/bot2"
	echo two >"$WS/bot2/f"
	fp2=$(tree_fingerprint "$WS/bot2")
	run -137 env STATEKIT_FAULT=import-mid-swap ws-import -i "$NEW" bot1
	run -0 --separate-stderr export_null bot2
	[[ $stderr != *warning* ]] || fail "bot2's export repaired something: $stderr"
	# bot1 is still exactly as the crash left it
	[[ ! -e $WS/bot1 && -d $WS/.bot1.statekit-old && -d $WS/.bot1.statekit-new ]]
	[[ $(journal_rows) == 1 ]]
	[[ $(events bot1) == "stop bot1" ]]
	[[ $(events bot2) == $'stop bot2\nstart bot2' ]]
	[[ $(tree_fingerprint "$WS/bot2") == "$fp2" ]]
	# and bot1's own next command repairs it
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr == *"undoing an interrupted import of bot 'bot1'"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	assert_bot_running bot1
}

@test "ws-preserve: --check and --list after a crash take no lock and repair nothing" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-stopped ws-import -i "$NEW" bot1
	run -3 --separate-stderr ws-preserve --check bot1
	[[ -z $stderr ]]
	run -0 --separate-stderr ws-preserve --list
	[[ -z $stderr ]]
	[[ $(journal_rows) == 1 && -d $WS/.bot1.statekit-new ]]
	[[ $(events bot1) == "stop bot1" ]]
}

@test "ws-preserve: --restore killed at import-swapped, the next command finishes it" {
	make_sample bot1
	FP_OLD=$(tree_fingerprint "$WS/bot1")
	ws-preserve bot1
	echo changed >"$WS/bot1/hello.txt"
	rm -rf "$WS/bot1/src"
	: >"$EVENTS"
	run -137 env STATEKIT_FAULT=import-swapped ws-preserve --restore --no-backup bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	run -0 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"finishing an interrupted import of bot 'bot1'"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
}

@test "ws-preserve: --restore killed while keeping the workspace first, the next command starts the bot; nothing changed" {
	make_sample bot1
	ws-preserve bot1
	echo changed >"$WS/bot1/hello.txt"
	FP_TODAY=$(tree_fingerprint "$WS/bot1")
	: >"$EVENTS"
	run -137 env STATEKIT_FAULT=preserve-stopped ws-preserve --restore bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_TODAY" ]]
	[[ $(events bot1) == "stop bot1" ]]
	run -0 --separate-stderr ws-preserve --list bot1
	[[ ${#lines[@]} == 2 ]] # the copy was never recorded
	run -0 ws-preserve --prune bot1
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
	[[ -z $(find "$ST/backups/bot1" -name '.gen-*') ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_TODAY" ]]
	# and the restore, run again, keeps the copy and restores
	run -0 --separate-stderr ws-preserve --restore bot1
	[[ $stderr == *"generation 2 (pre-restore)"* ]]
}

# ---- ws-export ----

@test "ws-export: killed at export-stopped, the next command starts the bot and removes the temp file" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	: >"$EVENTS"
	out=$BATS_TEST_TMPDIR/out.tar.gz
	run -137 env STATEKIT_FAULT=export-stopped ws-export -o "$out" bot1
	[[ ! -e $out ]]
	tmp=$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.out.tar.gz.*')
	[[ -n $tmp ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ $(events bot1) == "stop bot1" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: removing '$tmp' left by an interrupted export (pid $pid)"* ]]
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted export (pid $pid)"* ]]
	[[ ! -e $tmp && ! -e $out ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
}

@test "ws-export: killed at export-stopped writing to a pipe, the next import repairs and succeeds" {
	old_and_new
	run -137 env STATEKIT_FAULT=export-stopped ws-export bot1
	[[ $(events bot1) == "stop bot1" ]]
	run -0 --separate-stderr ws-import -i "$NEW" bot1
	[[ $stderr == *"starting bot 'bot1' again after an interrupted export"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_NEW" ]]
	[[ $(journal_rows) == 0 ]]
	assert_no_staging
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

# ---- ws-preserve ----

@test "ws-preserve: killed at preserve-stopped, the next command removes the half-written backup and starts the bot" {
	make_sample bot1
	: >"$EVENTS"
	run -137 env STATEKIT_FAULT=preserve-stopped ws-preserve bot1
	tmp=$(find "$ST/backups/bot1" -name '.gen-000001.tar.gz.*')
	[[ -n $tmp ]]
	[[ -z $(find "$ST/backups/bot1" -name 'gen-*') ]]
	[[ $(sqlite3 "$ST/index.db" 'select count(*) from backups') == 0 ]]
	[[ $(journal_rows) == 1 ]]
	pid=$(journal_pid)
	[[ $(events bot1) == "stop bot1" ]]

	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: removing '$tmp' left by an interrupted preserve (pid $pid)"* ]]
	[[ $stderr == *"warning: starting bot 'bot1' again after an interrupted preserve (pid $pid)"* ]]
	assert_no_backup_temps
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
	run -3 ws-preserve --check bot1
	# and a preserve now writes generation 1 cleanly
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr != *warning* ]]
	run -0 ls -A "$ST/backups/bot1"
	assert_output gen-000001.tar.gz
}

@test "ws-preserve: killed at preserve-renamed, the unrecorded file is never listed and the next preserve removes it" {
	make_sample bot1
	ws-preserve bot1
	: >"$EVENTS"
	run -137 env STATEKIT_FAULT=preserve-renamed ws-preserve bot1
	orphan=$ST/backups/bot1/gen-000002.tar.gz
	[[ -f $orphan ]]
	gzip -t "$orphan"
	[[ $(journal_rows) == 1 ]]
	# the bot was started again before the rename
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
	run -0 ws-preserve --list bot1
	[[ ${#lines[@]} == 2 ]]
	refute_output --regexp 'bot1 +2 '

	echo more >"$WS/bot1/more"
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr == *"left by an interrupted preserve"* ]]
	[[ $stderr == *"warning: removing '$orphan', which no backup record names"* ]]
	[[ $stderr != *"starting bot"* ]]
	[[ $(journal_rows) == 0 ]]
	assert_no_backup_temps
	assert_bot_running bot1
	# generation 2 is now the new preserve, and its row matches its file
	run -0 sqlite3 "$ST/index.db" "select generation, size, sha256 from backups where bot = 'bot1' order by generation"
	assert_output $'1|'"$(stat -c %s "$ST/backups/bot1/gen-000001.tar.gz")|$(sha256sum "$ST/backups/bot1/gen-000001.tar.gz" | cut -d' ' -f1)"$'\n2|'"$(stat -c %s "$orphan")|$(sha256sum "$orphan" | cut -d' ' -f1)"
	tar -xzOf "$orphan" more
	run -0 ws-preserve --restore bot1
	[[ $(cat "$WS/bot1/more") == more ]]
}

@test "ws-preserve: killed at preserve-renamed, --prune removes the unrecorded file" {
	make_sample bot1
	run -137 env STATEKIT_FAULT=preserve-renamed ws-preserve bot1
	[[ -f $ST/backups/bot1/gen-000001.tar.gz ]]
	run -0 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"removing '$ST/backups/bot1/gen-000001.tar.gz', which no backup record names"* ]]
	[[ -z $(ls -A "$ST/backups/bot1") ]]
	[[ $(journal_rows) == 0 ]]
	run -3 ws-preserve --check bot1
	run -0 ws-preserve --list --json bot1
	[[ $(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$output") == 0 ]]
}

# ---- a start that fails is retried ----

@test "ws-export: a failing start_command keeps the journal row, and the next command starts the bot" {
	make_sample bot1
	sk_conf "[workspace]" "start_command = echo start \$1 >> $EVENTS && test ! -e $BATS_TEST_TMPDIR/broken"
	: >"$EVENTS"
	touch "$BATS_TEST_TMPDIR/broken"
	run -1 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/o.tgz" bot1
	[[ $stderr == *"export 'bot1': start bot 'bot1': start_command failed (exit status 1)"* ]]
	[[ $(journal_rows) == 1 ]]
	# (the archive itself was complete and committed before the start failed)
	[[ -z $(find "$BATS_TEST_TMPDIR" -name '.o.tgz.*') ]]
	rm "$BATS_TEST_TMPDIR/broken"
	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"warning: starting bot 'bot1' again"* ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}

@test "ws-import: a repair whose start_command fails keeps the row, and the next command retries" {
	old_and_new
	run -137 env STATEKIT_FAULT=import-stopped ws-import -i "$NEW" bot1
	sk_conf "[workspace]" "start_command = echo start \$1 >> $EVENTS && test ! -e $BATS_TEST_TMPDIR/broken"
	touch "$BATS_TEST_TMPDIR/broken"
	run -1 --separate-stderr export_null bot1
	[[ $stderr == *"repair bot 'bot1': start_command failed (exit status 1)"* ]]
	# the import was undone all the same, but the bot is not known to run
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	assert_no_staging
	[[ $(journal_rows) == 1 ]]
	rm "$BATS_TEST_TMPDIR/broken"
	run -0 --separate-stderr export_null bot1
	[[ $stderr == *"starting bot 'bot1' again after an interrupted import"* ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_OLD" ]]
	# crash; failed start of the repair (the command went no further); start
	# of the second repair; the export
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstart bot1\nstop bot1\nstart bot1' ]]
}
