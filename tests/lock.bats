#!/usr/bin/env bats
# Locks: one command at a time per bot. A command that finds its bot locked
# exits 4 at once naming the holder's pid; --wait waits; other bots are not
# held up; a lock never outlives its process, however the command ended.

load helpers/common

setup() {
	sk_setup
	sk_hooks
	BIG=$BATS_TEST_TMPDIR/big.tar
	BG_PIDS=
}

# Only the processes this test started, by pid.
teardown() {
	kill_bg
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

events() {
	grep -x "st[a-z]* $1" "$EVENTS" 2>/dev/null || true
}

# A plain tar of ~1.5 MB (plain, so that a half-fed stream stages files at
# once) whose content has fingerprint $FP_BIG.
make_big() {
	mkdir -p "$WS/big"
	for n in 1 2 3 4 5 6; do head -c 262144 /dev/urandom >"$WS/big/f$n"; done
	ws-export -z none -o "$BIG" big
	FP_BIG=$(tree_fingerprint "$WS/big")
	rm -rf "$WS/big"
	: >"$EVENTS"
}

# Start `ws-import BOT` in the background on a stream that stalls halfway
# until release_import; returns once the import holds the lock. Its pid is
# in $IMP.
start_stalled_import() {
	local bot=$1 size t
	[[ -f $BIG ]] || make_big
	size=$(stat -c %s "$BIG")
	GO=$BATS_TEST_TMPDIR/go.$bot
	mkfifo "$BATS_TEST_TMPDIR/fifo.$bot"
	{
		head -c $((size / 2)) "$BIG"
		while [[ ! -e $GO ]]; do sleep 0.05; done
		tail -c +$((size / 2 + 1)) "$BIG"
	} >"$BATS_TEST_TMPDIR/fifo.$bot" 3>&- &
	BG_PIDS+=" $!"
	ws-import "$bot" <"$BATS_TEST_TMPDIR/fifo.$bot" >"$BATS_TEST_TMPDIR/imp.out" \
		2>"$BATS_TEST_TMPDIR/imp.err" 3>&- &
	IMP=$!
	BG_PIDS+=" $IMP"
	for t in $(seq 200); do
		[[ $(cat "$ST/locks/bot.$bot" 2>/dev/null) == "$IMP" ]] && return 0
		sleep 0.05
	done
	fail "the import never took the lock of '$bot'"
}

# Let the stalled import finish; its exit status is the function's.
release_import() {
	touch "$GO"
	wait "$IMP"
}

# ws-export with the archive thrown away (run would capture it).
export_null() {
	ws-export "$@" >/dev/null
}

@test "ws-export: a bot locked by a running import exits 4 at once, naming the holder's pid" {
	make_sample bot1
	start_stalled_import bot1
	t0=$(now_ms)
	run -4 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/out.tar.gz" bot1
	t1=$(now_ms)
	((t1 - t0 < 1500)) || fail "took $((t1 - t0)) ms"
	assert_output ""
	[[ $stderr == "ws-export: "*"bot 'bot1' is busy: locked by pid $IMP" ]]
	# the named process is alive, and is the importer
	kill -0 "$IMP"
	[[ $(cat "/proc/$IMP/comm") == ws-import ]]
	# the refused export did nothing: no stop, no output, no temp, no row of its own
	[[ -z $(events bot1) ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '*out.tar.gz*') ]]
	[[ $(journal_rows) == 1 ]]
	# the holder is undisturbed and finishes
	release_import
	[[ $(tree_fingerprint "$WS/bot1") == "$FP_BIG" ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
	assert_no_staging
}

@test "ws-import: a locked bot exits 4 at once, and so do ws-preserve, --restore and --prune" {
	make_big
	make_sample bot1
	ws-preserve bot1
	start_stalled_import bot1
	fp=$(tree_fingerprint "$WS/bot1")
	run -4 --separate-stderr ws-import -i "$BIG" bot1
	[[ $stderr == "ws-import: import 'bot1': bot 'bot1' is busy: locked by pid $IMP" ]]
	run -4 --separate-stderr ws-preserve bot1
	[[ $stderr == "ws-preserve: preserve 'bot1': bot 'bot1' is busy: locked by pid $IMP" ]]
	run -4 --separate-stderr ws-preserve --restore bot1
	[[ $stderr == "ws-preserve: restore 'bot1': bot 'bot1' is busy: locked by pid $IMP" ]]
	run -4 --separate-stderr ws-preserve --prune -k 1 bot1
	[[ $stderr == "ws-preserve: prune 'bot1': bot 'bot1' is busy: locked by pid $IMP" ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	run -0 ls -A "$ST/backups/bot1"
	assert_output gen-000001.tar.gz
	[[ $(events bot1) == $'stop bot1\nstart bot1' ]]
	release_import
}

@test "ws-preserve: --check, --list and --list-ids take no lock" {
	make_sample bot1
	ws-preserve bot1
	start_stalled_import bot1
	t0=$(now_ms)
	run -0 --separate-stderr ws-preserve --check bot1
	run -0 --separate-stderr ws-preserve --list bot1
	[[ ${lines[1]} == bot1\ * ]]
	run -0 --separate-stderr ws-preserve --list-ids
	assert_line bot1
	t1=$(now_ms)
	((t1 - t0 < 3000)) || fail "took $((t1 - t0)) ms"
	kill -0 "$IMP"
	release_import
}

@test "ws-export: --wait 10 waits for the holder and then succeeds" {
	make_sample bot1
	start_stalled_import bot1
	(sleep 1.5 && touch "$GO") 3>&- &
	BG_PIDS+=" $!"
	t0=$(now_ms)
	run -0 --separate-stderr ws-export --wait 10 -o "$BATS_TEST_TMPDIR/out.tar.gz" bot1
	t1=$(now_ms)
	((t1 - t0 >= 1000)) || fail "did not wait: $((t1 - t0)) ms"
	wait "$IMP"
	# it ran after the import: it exported the imported content
	mkdir "$BATS_TEST_TMPDIR/x"
	tar -xzf "$BATS_TEST_TMPDIR/out.tar.gz" -C "$BATS_TEST_TMPDIR/x"
	[[ $(tree_fingerprint "$BATS_TEST_TMPDIR/x") == "$FP_BIG" ]]
	# one after the other, never interleaved
	[[ $(events bot1) == $'stop bot1\nstart bot1\nstop bot1\nstart bot1' ]]
	[[ $(journal_rows) == 0 ]]
	assert_no_staging
}

@test "ws-export: --wait 1 gives up after about a second with exit 4" {
	make_sample bot1
	start_stalled_import bot1
	t0=$(now_ms)
	run -4 --separate-stderr ws-export -w 1 bot1
	t1=$(now_ms)
	((t1 - t0 >= 900 && t1 - t0 < 3000)) || fail "gave up after $((t1 - t0)) ms"
	assert_output ""
	[[ $stderr == "ws-export: "*"bot 'bot1' is busy: locked by pid $IMP" ]]
	[[ -z $(events bot1) ]]
	release_import
}

@test "ws-export: --wait takes whole seconds from 0; anything else is a usage error" {
	make_sample bot1
	run -2 --separate-stderr ws-export --wait abc bot1
	[[ $stderr == *"invalid --wait seconds 'abc'"* ]]
	run -2 --separate-stderr ws-export --wait -1 bot1
	[[ $stderr == *"invalid --wait seconds '-1'"* ]]
	[[ ! -e $ST/index.db ]]
	run -0 ws-export --wait 0 -o "$BATS_TEST_TMPDIR/out.tar.gz" bot1
}

@test "ws-export: another bot is not held up while bot1 is locked" {
	make_sample bot1
	make_sample bot2
	start_stalled_import bot1
	t0=$(now_ms)
	run -0 --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/bot2.tar.gz" bot2
	[[ -z $stderr ]]
	run -0 --separate-stderr ws-preserve bot2
	[[ -z $stderr ]]
	t1=$(now_ms)
	((t1 - t0 < 5000)) || fail "took $((t1 - t0)) ms"
	# bot1 is still held
	kill -0 "$IMP"
	[[ $(cat "$ST/locks/bot.bot1") == "$IMP" ]]
	[[ $(events bot2) == $'stop bot2\nstart bot2\nstop bot2\nstart bot2' ]]
	[[ -z $(events bot1) ]]
	release_import
	[[ $(journal_rows) == 0 ]]
}

@test "ws-import: the lock is released after a failed command" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	run -5 --separate-stderr ws-import bot1 <<<"this is not an archive"
	[[ $stderr == "ws-import: import 'bot1': "* ]]
	[[ ! -s $ST/locks/bot.bot1 ]]
	run -0 --separate-stderr export_null bot1
	[[ -z $stderr ]]
	run -3 --separate-stderr ws-export nosuchbot
	[[ ! -s $ST/locks/bot.nosuchbot ]]
	run -0 --separate-stderr export_null bot1
	[[ -z $stderr ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	[[ $(journal_rows) == 0 ]]
}

@test "ws-export: a pid left in the lock file by a dead process does not make the bot busy" {
	make_sample bot1
	ws-export bot1 >/dev/null
	# a pid that cannot be alive
	echo 4194305 >"$ST/locks/bot.bot1"
	run -0 --separate-stderr export_null bot1
	[[ -z $stderr ]]
	[[ ! -s $ST/locks/bot.bot1 ]]
}

@test "ws-export: a lock held by another process without a pid is busy too" {
	make_sample bot1
	ws-export bot1 >/dev/null
	lockf=$ST/locks/bot.bot1
	(
		exec 9<>"$lockf"
		flock -x 9
		touch "$BATS_TEST_TMPDIR/held"
		exec sleep 30
	) 3>&- &
	holder=$!
	BG_PIDS+=" $holder"
	for t in $(seq 100); do [[ -e $BATS_TEST_TMPDIR/held ]] && break; sleep 0.05; done
	[[ -e $BATS_TEST_TMPDIR/held ]]
	run -4 --separate-stderr ws-export bot1
	[[ $stderr == "ws-export: "*"bot 'bot1' is busy: locked" ]]
	kill "$holder"
	wait "$holder" || true
	run -0 export_null bot1
}

@test "ws-preserve: parallel preserves with --wait all succeed, one generation each" {
	make_sample bot1
	pids=
	for n in 1 2 3 4; do
		ws-preserve --wait 30 bot1 2>"$BATS_TEST_TMPDIR/p$n.err" 3>&- &
		pids+=" $!"
	done
	BG_PIDS+=$pids
	for p in $pids; do
		wait "$p" || fail "a parallel preserve failed: $(cat "$BATS_TEST_TMPDIR"/p*.err)"
	done
	[[ -z $(cat "$BATS_TEST_TMPDIR"/p*.err) ]]
	gens=$(sqlite3 "$ST/index.db" "select group_concat(generation) from backups")
	[[ $gens == 2,3,4 ]]
	run -0 ls -A "$ST/backups/bot1"
	assert_output $'gen-000002.tar.gz\ngen-000003.tar.gz\ngen-000004.tar.gz'
	# strictly one after the other
	[[ $(events bot1 | paste -sd ' ') == "stop bot1 start bot1 stop bot1 start bot1 stop bot1 start bot1 stop bot1 start bot1" ]]
	[[ $(journal_rows) == 0 ]]
}

# Hold bot1's lock from a process of our own that writes no pid; returns once
# it is held. The holder's pid is in $HOLDER.
hold_lock() {
	local lockf=$ST/locks/$1 t
	mkdir -p "$ST/locks"
	(
		exec 9<>"$lockf"
		flock -x 9
		touch "$BATS_TEST_TMPDIR/held"
		exec sleep 60
	) 3>&- &
	HOLDER=$!
	BG_PIDS+=" $HOLDER"
	for t in $(seq 100); do [[ -e $BATS_TEST_TMPDIR/held ]] && return 0; sleep 0.05; done
	fail "the lock '$1' was never held"
}

# Wait until process $1 has the lock file $2 open (it is waiting for it).
wait_for_lock_open() {
	local t
	for t in $(seq 100); do
		readlink "/proc/$1/fd"/* 2>/dev/null | grep -q "/locks/$2\$" && return 0
		sleep 0.05
	done
	fail "process $1 never opened the lock '$2'"
}

# Wait at most $2 ms for process $1 to end; its exit status in $RC.
wait_exit_within() {
	local t0 t1
	t0=$(now_ms)
	while kill -0 "$1" 2>/dev/null; do
		t1=$(now_ms)
		((t1 - t0 < $2)) || fail "still running $((t1 - t0)) ms after the signal"
		sleep 0.05
	done
	RC=0
	wait "$1" || RC=$?
}

@test "ws-export: SIGTERM during --wait 3600 exits 1 at once, saying interrupted, changing nothing" {
	make_sample bot1
	ws-export bot1 >/dev/null
	: >"$EVENTS"
	fp=$(tree_fingerprint "$WS/bot1")
	hold_lock bot.bot1
	ws-export --wait 3600 -o "$BATS_TEST_TMPDIR/out.tar.gz" bot1 \
		>"$BATS_TEST_TMPDIR/exp.out" 2>"$BATS_TEST_TMPDIR/exp.err" 3>&- &
	pid=$!
	BG_PIDS+=" $pid"
	wait_for_lock_open "$pid" bot.bot1
	sleep 0.3
	kill -TERM "$pid"
	wait_exit_within "$pid" 2000
	[[ $RC == 1 ]] || fail "exit $RC: $(cat "$BATS_TEST_TMPDIR/exp.err")"
	[[ $(cat "$BATS_TEST_TMPDIR/exp.err") == "ws-export: export 'bot1': interrupted" ]]
	[[ ! -s $BATS_TEST_TMPDIR/exp.out ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '*out.tar.gz*') ]]
	[[ -z $(events bot1) ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	# the holder still holds the lock
	kill -0 "$HOLDER"
	run -1 flock -n "$ST/locks/bot.bot1" true
	assert_no_staging
}

@test "ws-export: Ctrl-C during --wait 3600 at a terminal exits 1 at once, saying interrupted" {
	make_sample bot1
	ws-export bot1 >/dev/null
	: >"$EVENTS"
	fp=$(tree_fingerprint "$WS/bot1")
	hold_lock bot.bot1
	pidf=$BATS_TEST_TMPDIR/pid
	"$REPO/tests/helpers/ptyrun" -t 30 -o "$BATS_TEST_TMPDIR/tty" \
		"echo \$\$ >'$pidf'; exec ws-export --wait 3600 -o '$BATS_TEST_TMPDIR/out.tar.gz' bot1" \
		3>&- &
	pty=$!
	BG_PIDS+=" $pty"
	for t in $(seq 100); do [[ -s $pidf ]] && break; sleep 0.05; done
	pid=$(cat "$pidf")
	BG_PIDS+=" $pid"
	wait_for_lock_open "$pid" bot.bot1
	sleep 0.3
	# what the terminal does on Ctrl-C: SIGINT to the foreground process group
	kill -INT -- "-$pid"
	wait_exit_within "$pty" 2000
	[[ $RC == 1 ]] || fail "exit $RC: $(cat "$BATS_TEST_TMPDIR/tty")"
	[[ $(cat "$BATS_TEST_TMPDIR/tty") == $'ws-export: export \'bot1\': interrupted\r' ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '*out.tar.gz*') ]]
	[[ -z $(events bot1) ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	kill -0 "$HOLDER"
}

# Run "$@" in the background while lock $1 is held, SIGTERM it once it waits
# for that lock, and expect exit 1 within 2 s with "...: interrupted".
interrupt_wait() {
	local lk=$1 pid err=$BATS_TEST_TMPDIR/int.err
	shift
	"$@" >/dev/null 2>"$err" 3>&- &
	pid=$!
	BG_PIDS+=" $pid"
	wait_for_lock_open "$pid" "$lk"
	sleep 0.2
	kill -TERM "$pid"
	wait_exit_within "$pid" 2000
	[[ $RC == 1 ]] || fail "$*: exit $RC: $(cat "$err")"
	[[ $(cat "$err") == "$1: "*": interrupted" || $(cat "$err") == "$1: interrupted" ]] ||
		fail "$*: $(cat "$err")"
}

@test "ws-import, ws-preserve and every fcsnap command with --wait: SIGTERM while waiting exits 1 at once" {
	make_sample bot1
	ws-preserve bot1
	fcsnap-list >/dev/null
	: >"$EVENTS"
	fp=$(tree_fingerprint "$WS/bot1")
	find "$ST" | sort >"$BATS_TEST_TMPDIR/before"
	hold_lock bot.bot1
	interrupt_wait bot.bot1 ws-import --wait 3600 -i /dev/null bot1
	interrupt_wait bot.bot1 ws-preserve --wait 3600 bot1
	interrupt_wait bot.bot1 ws-preserve --wait 3600 --restore bot1
	interrupt_wait bot.bot1 ws-preserve --wait 3600 --prune bot1
	kill "$HOLDER"
	rm "$BATS_TEST_TMPDIR/held"
	hold_lock snapshot.s1
	interrupt_wait snapshot.s1 fcsnap-delete --wait 3600 s1
	interrupt_wait snapshot.s1 fcsnap-verify --wait 3600 s1
	interrupt_wait snapshot.s1 fcsnap-export --wait 3600 s1
	kill "$HOLDER"
	rm "$BATS_TEST_TMPDIR/held"
	hold_lock machine.vm1
	interrupt_wait machine.vm1 fcsnap-create --wait 3600 vm1 s1
	interrupt_wait machine.vm1 fcsnap-restore --wait 3600 s1 vm1
	kill "$HOLDER"
	wait "$HOLDER" || true
	[[ -z $(events bot1) ]]
	[[ $(journal_rows) == 0 ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	# nothing but the lock files our holders made
	run -0 diff <(grep -v /locks/ "$BATS_TEST_TMPDIR/before") <(find "$ST" | sort | grep -v /locks/)
}
