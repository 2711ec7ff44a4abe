#!/usr/bin/env bats
# ws-preserve: backup generations of a directory workspace under
# <state.dir>/backups/<bot>: writing and recording them, pruning, --list,
# --check, --restore (of a generation or of a legacy bind-mount directory),
# damage detection and the sweep of files the index does not name.

load helpers/common

setup() {
	sk_setup
	sk_hooks
}

# The path of generation G of BOT, gzip unless a suffix is given.
gen_file() {
	printf '%s/backups/%s/gen-%06d%s' "$ST" "$1" "$2" "${3:-.tar.gz}"
}

q() {
	sqlite3 "$ST/index.db" "$1"
}

# The bot was stopped and started as often, and its last event is a start.
assert_bot_running() {
	local bot=$1 stops starts last
	stops=$(grep -cx "stop $bot" "$EVENTS" 2>/dev/null) || true
	starts=$(grep -cx "start $bot" "$EVENTS" 2>/dev/null) || true
	last=$(grep -x "st[a-z]* $bot" "$EVENTS" 2>/dev/null | tail -n 1) || true
	((${stops:-0} > 0)) || fail "bot '$bot' was never stopped: $(cat "$EVENTS" 2>/dev/null)"
	[[ ${stops:-0} == "${starts:-0}" ]] ||
		fail "bot '$bot': $stops stops but $starts starts: $(cat "$EVENTS")"
	[[ $last == "start $bot" ]] || fail "bot '$bot': last event is '$last'"
}

# The bot was neither stopped nor started.
assert_bot_untouched() {
	if grep -q " $1\$" "$EVENTS" 2>/dev/null; then
		fail "bot '$1' was stopped or started: $(cat "$EVENTS")"
	fi
}

# No temp file of a preserve is left in the bot's backup directory.
assert_no_backup_temps() {
	local left
	left=$(find "$ST/backups/$1" -name '.gen-*' 2>/dev/null)
	[[ -z $left ]] || fail "temp files left behind: $left"
}

# Change byte OFF of FILE to a different value, in place.
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0xff)))" |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

@test "ws-preserve: writes gen-000001.tar.gz and records its size, sha256 and entries" {
	make_sample bot1
	run -0 --separate-stderr ws-preserve bot1
	assert_output ""
	f=$(gen_file bot1 1)
	[[ -f $f ]]
	gzip -t "$f"
	run -0 tar -tzf "$f"
	[[ ${#lines[@]} -eq $(find "$WS/bot1" -mindepth 1 | wc -l) ]]
	run -0 q "select file, codec, size, sha256, entries, restored from backups where bot = 'bot1'"
	# the index names the file relative to the bot's backup directory
	assert_output "gen-000001.tar.gz|gzip|$(stat -c %s "$f")|$(sha256sum "$f" | cut -d' ' -f1)|10|0"
	assert_bot_running bot1
	assert_no_backup_temps bot1
	[[ $(journal_rows) == 0 ]]
	[[ $(stat -c %a "$ST/backups/bot1") == 700 ]]
}

@test "ws-preserve: generations increase, and keep = 2 keeps only the two newest" {
	sk_conf "[workspace]" "keep = 2"
	mkdir -p "$WS/bot1"
	for g in 1 2 3 4; do
		echo "version $g" >"$WS/bot1/v"
		run -0 ws-preserve bot1
	done
	run -0 q "select generation from backups where bot = 'bot1' order by generation"
	assert_output $'3\n4'
	[[ ! -e $(gen_file bot1 1) && ! -e $(gen_file bot1 2) ]]
	[[ -f $(gen_file bot1 3) && -f $(gen_file bot1 4) ]]
	run -0 ls -A "$ST/backups/bot1"
	assert_output $'gen-000003.tar.gz\ngen-000004.tar.gz'
	run -0 tar -xzOf "$(gen_file bot1 4)" v
	assert_output "version 4"
	[[ $(grep -cx 'start bot1' "$EVENTS") == 4 ]]
	assert_bot_running bot1
}

@test "ws-preserve: -k beats [workspace] keep, and pruning never reuses a generation number" {
	sk_conf "[workspace]" "keep = 5"
	mkdir -p "$WS/bot1"
	run -0 ws-preserve bot1
	run -0 ws-preserve bot1
	run -0 ws-preserve -k 1 bot1
	run -0 q "select generation from backups where bot = 'bot1'"
	assert_output 3
	run -0 ws-preserve --keep 1 bot1
	run -0 q "select generation from backups where bot = 'bot1'"
	assert_output 4
	run -0 ls -A "$ST/backups/bot1"
	assert_output gen-000004.tar.gz
}

@test "ws-preserve: -k 0 is a usage error that touches nothing" {
	mkdir -p "$WS/bot1"
	run -2 --separate-stderr ws-preserve -k 0 bot1
	assert_output ""
	[[ $stderr == *"invalid keep count '0'"* ]]
	[[ ! -e $ST/backups ]]
	assert_bot_untouched bot1
}

@test "ws-preserve: --json prints the new generation" {
	make_sample bot1
	run -0 --separate-stderr ws-preserve --json bot1
	f=$(gen_file bot1 1)
	python3 -m json.tool <<<"$output" >/dev/null
	run -0 python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["bot"], d["generation"], d["file"], d["size"], d["sha256"], d["entries"], d["codec"])
' "$output"
	assert_output "bot1 1 $f $(stat -c %s "$f") $(sha256sum "$f" | cut -d' ' -f1) 10 gzip"
}

@test "ws-preserve: --json and --list --json stay valid JSON when the backup path is not UTF-8" {
	# a state dir named with the byte 0xff (not UTF-8), and one with é in UTF-8
	for name in $'st\xff' $'st\xc3\xa9'; do
		ST=$BATS_TEST_TMPDIR/$name
		WS=$ST/workspaces
		mkdir -p "$WS"
		printf '[state]\ndir = %s\n' "$ST" >"$CONF"
		make_sample bot1
		f=$(gen_file bot1 1)
		ws-preserve --json bot1 >"$BATS_TEST_TMPDIR/one.json"
		[[ -f $f ]]
		ws-preserve --list --json bot1 >"$BATS_TEST_TMPDIR/list.json"
		# strict UTF-8; a byte that is not UTF-8 is the character of its value
		run -0 python3 -c '
import json, os, sys
raw = os.fsencode(sys.argv[3]).decode("utf-8", "surrogateescape")
want = "".join(chr(ord(c) - 0xdc00) if 0xdc80 <= ord(c) <= 0xdcff else c for c in raw)
one = json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))
lst = json.loads(open(sys.argv[2], "rb").read().decode("utf-8"))
assert one["file"] == want, (one["file"], want)
assert [d["file"] for d in lst] == [want], (lst, want)
print(want.split("/")[-4])
' "$BATS_TEST_TMPDIR/one.json" "$BATS_TEST_TMPDIR/list.json" "$f"
		if [[ $name == $'st\xff' ]]; then
			assert_output $'st\xc3\xbf'	# U+00FF in UTF-8
		else
			assert_output "$name"
		fi
	done
}

@test "ws-preserve: -z zstd writes gen-000001.tar.zst" {
	make_sample bot1
	run -0 ws-preserve -z zstd bot1
	f=$(gen_file bot1 1 .tar.zst)
	[[ -f $f && ! -e $(gen_file bot1 1) ]]
	[[ $(od -An -tx1 -N4 "$f" | tr -d ' ') == 28b52ffd ]]
	zstd -tq "$f"
	run -0 q "select codec, sha256 from backups where bot = 'bot1'"
	assert_output "zstd|$(sha256sum "$f" | cut -d' ' -f1)"
	fp=$(tree_fingerprint "$WS/bot1")
	rm -rf "$WS/bot1"
	run -0 ws-preserve --restore bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
}

@test "ws-preserve: [archive] compression = none writes gen-000001.tar" {
	sk_conf "[archive]" "compression = none"
	make_sample bot1
	run -0 ws-preserve bot1
	f=$(gen_file bot1 1 .tar)
	[[ -f $f ]]
	run -0 tar -tf "$f"
	assert_line hello.txt
}

@test "ws-preserve: a missing workspace exits 3 and leaves nothing behind" {
	run -3 --separate-stderr ws-preserve bot1
	assert_output ""
	[[ $stderr == "ws-preserve: preserve 'bot1': bot 'bot1' has no workspace ('$WS/bot1')" ]]
	[[ -z $(find "$ST/backups" -type f 2>/dev/null) ]]
	[[ $(q "select count(*) from backups") == 0 ]]
	[[ $(journal_rows) == 0 ]]
	assert_bot_untouched bot1
}

@test "ws-preserve: an invalid bot id is a usage error before any file is touched" {
	run -2 --separate-stderr ws-preserve ../bot1
	[[ $stderr == *"invalid bot id '../bot1'"* ]]
	[[ ! -e $ST/index.db && ! -e $ST/backups ]]
	run -2 --separate-stderr ws-preserve --restore -- -bot
	[[ $stderr == *"invalid bot id '-bot'"* ]]
	run -2 --separate-stderr ws-preserve --check "$(printf 'a%.0s' $(seq 65))"
	[[ $stderr == *"invalid bot id"* ]]
	[[ ! -e $ST/index.db ]]
}

@test "ws-preserve: options that exclude each other are usage errors" {
	run -2 --separate-stderr ws-preserve --list --check bot1
	[[ $stderr == *"exclude each other"* ]]
	run -2 --separate-stderr ws-preserve -g 1 bot1
	[[ $stderr == *"--generation goes with --restore, --verify, --ls or --dump"* ]]
	run -2 --separate-stderr ws-preserve --list-ids bot1
	[[ $stderr == *"--list-ids takes no BOT"* ]]
	run -2 --separate-stderr ws-preserve --restore -g 0 bot1
	[[ $stderr == *"invalid generation '0'"* ]]
	[[ ! -e $ST/index.db ]]
}

@test "ws-preserve: --list prints a table of BOT GEN CREATED SIZE ENTRIES VERIFIED RESTORED TAG" {
	make_sample bot1
	mkdir -p "$WS/bot2"
	echo x >"$WS/bot2/x"
	run -0 ws-preserve bot1
	run -0 ws-preserve bot1
	run -0 ws-preserve bot2
	run -0 ws-preserve --restore --no-backup -g 1 bot1
	run -0 --separate-stderr ws-preserve --list
	[[ ${#lines[@]} == 4 ]]
	[[ ${lines[0]} =~ ^BOT\ +GEN\ +CREATED\ +SIZE\ +ENTRIES\ +VERIFIED\ +RESTORED\ +TAG$ ]]
	[[ ${lines[1]} =~ ^bot1\ +1\ +[0-9-]{10}T[0-9:]{8}Z\ +.*\ +10\ +-\ +[0-9-]{10}T[0-9:]{8}Z\ +-$ ]]
	[[ ${lines[2]} =~ ^bot1\ +2\ +[0-9-]{10}T[0-9:]{8}Z\ +.*\ +10\ +-\ +-\ +-$ ]]
	[[ ${lines[3]} =~ ^bot2\ +1\ .*\ 1\ +-\ +-\ +-$ ]]
	run -0 ws-preserve --list bot2
	[[ ${#lines[@]} == 2 && ${lines[1]} == bot2\ * ]]
}

@test "ws-preserve: --list --json is a JSON array with every field" {
	make_sample bot1
	run -0 ws-preserve bot1
	run -0 ws-preserve bot1
	run -0 ws-preserve --restore --no-backup bot1
	run -0 --separate-stderr ws-preserve --list --json bot1
	python3 -m json.tool <<<"$output" >/dev/null
	f1=$(gen_file bot1 1) f2=$(gen_file bot1 2)
	run -0 python3 -c '
import json, sys
for d in json.loads(sys.argv[1]):
    assert sorted(d) == ["bot", "codec", "created", "created_epoch", "entries", "file",
                         "generation", "restored", "restored_epoch", "sha256", "size", "tag",
                         "verified", "verified_epoch", "verified_ok"], sorted(d)
    assert (d["restored"] is None) == (d["restored_epoch"] is None), d
    print(d["bot"], d["generation"], d["file"], d["size"], d["sha256"], d["entries"],
          d["codec"], d["restored"] is not None, len(d["created"]))
' "$output"
	assert_line -n 0 "bot1 1 $f1 $(stat -c %s "$f1") $(sha256sum "$f1" | cut -d' ' -f1) 10 gzip False 20"
	assert_line -n 1 "bot1 2 $f2 $(stat -c %s "$f2") $(sha256sum "$f2" | cut -d' ' -f1) 10 gzip True 20"
	[[ ${#lines[@]} == 2 ]]
}

@test "ws-preserve: --list with no backups prints just the header, --json an empty array" {
	run -0 --separate-stderr ws-preserve --list
	[[ ${#lines[@]} == 1 && ${lines[0]} == BOT\ * ]]
	mkdir -p "$WS/bot1"
	run -0 --separate-stderr ws-preserve --list bot1
	[[ ${#lines[@]} == 1 && ${lines[0]} == BOT\ * ]]
	run -0 --separate-stderr ws-preserve --list --json
	[[ $(python3 -c 'import json,sys; print(json.load(sys.stdin))' <<<"$output") == "[]" ]]
	[[ -z $stderr ]]
}

@test "ws-preserve: --check follows preserve and restore" {
	mkdir -p "$WS/bot1"
	# a predicate: the answer is the exit status, -v says it in words
	run -3 --separate-stderr ws-preserve --check bot1
	assert_output ""
	[[ -z $stderr ]]
	run -3 --separate-stderr ws-preserve -v --check bot1
	[[ $stderr == "ws-preserve: bot 'bot1' has no preserved data waiting to be restored" ]]
	run -0 ws-preserve bot1
	run -0 --separate-stderr ws-preserve --check bot1
	assert_output ""
	[[ -z $stderr ]]
	run -0 ws-preserve --restore bot1
	run -3 ws-preserve --check bot1
	run -0 ws-preserve bot1
	run -0 ws-preserve --check bot1
	# --check takes no lock and changes nothing: four stops and starts,
	# the restore's two being its pre-restore copy's and its own
	assert_bot_running bot1
	[[ $(grep -c . "$EVENTS") == 8 ]]
}

@test "ws-preserve: --check of an unknown bot exits 3" {
	run -3 --separate-stderr ws-preserve -v --check nosuchbot
	assert_output ""
	[[ $stderr == *"bot 'nosuchbot' has no preserved data"* ]]
	[[ ! -e $ST/backups/nosuchbot && ! -e $WS/nosuchbot ]]
}

@test "ws-preserve: --restore brings back the newest generation after the workspace changed" {
	make_sample bot1
	run -0 ws-preserve bot1
	echo second >"$WS/bot1/second"
	fp=$(tree_fingerprint "$WS/bot1")
	run -0 ws-preserve bot1
	rm -rf "$WS/bot1/src"
	echo changed >"$WS/bot1/hello.txt"
	echo new >"$WS/bot1/not-in-backup"
	: >"$EVENTS"
	run -0 --separate-stderr ws-preserve --restore bot1
	assert_output ""
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	[[ ! -e $WS/bot1/not-in-backup ]]
	[[ $(stat -c %h "$WS/bot1/hello.txt") == 2 ]]
	[[ -L $WS/bot1/link-to-hello ]]
	[[ $(q "select generation from backups where bot = 'bot1' and restored > 0") == 2 ]]
	assert_bot_running bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore recreates a deleted workspace" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	run -0 ws-preserve bot1
	rm -rf "$WS/bot1"
	run -0 ws-preserve --restore bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore --json prints the import result" {
	make_sample bot1
	run -0 ws-preserve bot1
	run -0 --separate-stderr ws-preserve --restore --json bot1
	run -0 python3 -c '
import json, sys
d = json.loads(sys.argv[1])
print(d["bot"], d["entries"], d["codec"])
' "$output"
	assert_output "bot1 10 gzip"
}

@test "ws-preserve: --restore -g N restores that generation" {
	mkdir -p "$WS/bot1"
	# (not $i: bats' run clobbers it)
	for g in 1 2 3; do
		echo "version $g" >"$WS/bot1/v"
		mkdir -p "$WS/bot1/only-$g"
		ws-preserve bot1
		[[ $g != 2 ]] || fp2=$(tree_fingerprint "$WS/bot1")
		rm -rf "$WS/bot1/only-$g"
	done
	run -0 ws-preserve --restore -g 2 bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$fp2" ]]
	[[ $(cat "$WS/bot1/v") == "version 2" ]]
	[[ $(q "select generation from backups where restored > 0") == 2 ]]
	# the newest is still waiting
	run -0 ws-preserve --check bot1
}

@test "ws-preserve: --restore of a missing generation exits 3 and leaves the workspace alone" {
	make_sample bot1
	run -0 ws-preserve bot1
	echo changed >"$WS/bot1/hello.txt"
	fp=$(tree_fingerprint "$WS/bot1")
	: >"$EVENTS"
	run -3 --separate-stderr ws-preserve --restore -g 7 bot1
	assert_output ""
	[[ $stderr == "ws-preserve: restore 'bot1': bot 'bot1' has no backup generation 7" ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	assert_bot_untouched bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore of a bot with no backup and no legacy dir exits 3" {
	make_sample bot1
	fp=$(tree_fingerprint "$WS/bot1")
	run -3 --separate-stderr ws-preserve --restore bot1
	assert_output ""
	[[ $stderr == *"bot 'bot1' has no backup and no legacy directory"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	assert_bot_untouched bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore of a damaged generation exits 5 and leaves the workspace alone" {
	make_sample bot1
	run -0 ws-preserve bot1
	f=$(gen_file bot1 1)
	want=$(sha256sum "$f" | cut -d' ' -f1)
	flip_byte "$f" 100
	got=$(sha256sum "$f" | cut -d' ' -f1)
	[[ $got != "$want" ]]
	echo changed >"$WS/bot1/hello.txt"
	rm "$WS/bot1/src/numbers.txt"
	fp=$(tree_fingerprint "$WS/bot1")
	: >"$EVENTS"
	run -5 --separate-stderr ws-preserve --restore bot1
	assert_output ""
	[[ $stderr == *"generation 1 is damaged: '$f' has sha256 $got, expected $want"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	[[ $(q "select restored from backups") == 0 ]]
	assert_bot_untouched bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
	# still damaged, still refused: nothing was "repaired" by accident
	run -5 ws-preserve --restore bot1
}

@test "ws-preserve: --restore of a truncated generation exits 5" {
	make_sample bot1
	run -0 ws-preserve bot1
	f=$(gen_file bot1 1)
	truncate -s -1 "$f"
	fp=$(tree_fingerprint "$WS/bot1")
	run -5 --separate-stderr ws-preserve --restore bot1
	[[ $stderr == *"generation 1 is damaged"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	assert_no_staging
}

@test "ws-preserve: --restore of a generation whose file was deleted exits 5 naming the file" {
	make_sample bot1
	run -0 ws-preserve bot1
	f=$(gen_file bot1 1)
	rm "$f"
	echo changed >"$WS/bot1/hello.txt"
	fp=$(tree_fingerprint "$WS/bot1")
	: >"$EVENTS"
	run -5 --separate-stderr ws-preserve --restore bot1
	assert_output ""
	[[ $stderr == *"restore 'bot1': generation 1 is missing: '$f' is gone"* ]]
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	assert_bot_untouched bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore migrates a legacy directory and renames it .migrated" {
	L=$ST/bots/bot1
	mkdir -p "$L/sub/deeper" "$WS/bot1"
	echo old >"$WS/bot1/old-workspace-file"
	echo data >"$L/sub/deeper/file"
	seq 1 5000 >"$L/numbers"
	ln -s sub/deeper/file "$L/link"
	ln -s sub "$L/dirlink"
	ln "$L/numbers" "$L/numbers.hard"
	chmod 0600 "$L/numbers"
	chown 1234:2345 "$L/sub/deeper/file"
	fp=$(tree_fingerprint "$L")
	run -0 ws-preserve --check bot1
	run -0 --separate-stderr ws-preserve --restore bot1
	assert_output ""
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
	[[ -L $WS/bot1/link && $(readlink "$WS/bot1/link") == sub/deeper/file ]]
	[[ -L $WS/bot1/dirlink && $(readlink "$WS/bot1/dirlink") == sub ]]
	[[ $(stat -c %h "$WS/bot1/numbers") == 2 ]]
	[[ ! -e $WS/bot1/old-workspace-file ]]
	[[ ! -e $L && -d $ST/bots/bot1.migrated ]]
	[[ $(tree_fingerprint "$ST/bots/bot1.migrated") == "$fp" ]]
	run -3 ws-preserve --check bot1
	run -3 ws-preserve --restore bot1
	assert_bot_running bot1
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --restore of a second legacy directory keeps the first .migrated" {
	mkdir -p "$ST/bots/bot1"
	echo first >"$ST/bots/bot1/f"
	run -0 ws-preserve --restore bot1
	mkdir -p "$ST/bots/bot1"
	echo second >"$ST/bots/bot1/f"
	run -0 ws-preserve --check bot1
	run -0 ws-preserve --restore bot1
	[[ $(cat "$WS/bot1/f") == second ]]
	[[ $(cat "$ST/bots/bot1.migrated/f") == first ]]
	run -0 find "$ST/bots" -mindepth 1 -maxdepth 1 -name 'bot1.migrated.*'
	[[ ${#lines[@]} == 1 && $(cat "${lines[0]}/f") == second ]]
	[[ ! -e $ST/bots/bot1 ]]
}

@test "ws-preserve: --restore of a legacy directory follows [workspace] legacy_dir" {
	sk_conf "[workspace]" "legacy_dir = $BATS_TEST_TMPDIR/old-binds"
	mkdir -p "$BATS_TEST_TMPDIR/old-binds/bot1" "$ST/bots/bot1"
	echo right >"$BATS_TEST_TMPDIR/old-binds/bot1/f"
	echo wrong >"$ST/bots/bot1/f"
	run -0 ws-preserve --restore bot1
	[[ $(cat "$WS/bot1/f") == right ]]
	[[ -d $BATS_TEST_TMPDIR/old-binds/bot1.migrated && -d $ST/bots/bot1 ]]
}

@test "ws-preserve: --restore of a legacy directory never follows a symlink out of it" {
	L=$ST/bots/bot1
	mkdir -p "$L"
	echo data >"$L/file"
	ln -s /etc "$L/etc"
	ln -s /etc/passwd "$L/passwd"
	run --separate-stderr ws-preserve --restore bot1
	# whatever the outcome, /etc was not copied into the workspace
	[[ ! -e $WS/bot1/etc/passwd || -L $WS/bot1/etc ]]
	[[ ! -f $WS/bot1/passwd || -L $WS/bot1/passwd ]]
	[[ -z $(find "$WS" -name shadow) ]]
	# Rule 5: import refuses links that leave the workspace, and export emits
	# only what import accepts, skipping the rest with a warning: the
	# migration succeeds without the two links and says so.
	((status == 0)) || fail "exit $status: $stderr"
	[[ $stderr == *"'etc'"* && $stderr == *"'passwd'"* ]]
	[[ $(cat "$WS/bot1/file") == data ]]
	[[ ! -e $WS/bot1/etc && ! -L $WS/bot1/etc ]]
	[[ -d $ST/bots/bot1.migrated ]]
	assert_no_staging
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: a workspace holding a symlink to /etc still gives a restorable backup" {
	make_sample bot1
	ln -s /etc "$WS/bot1/etc-link"
	run -0 --separate-stderr ws-preserve bot1
	# Rule 5: export emits only entries import accepts and warns about the rest.
	[[ $stderr == *"'etc-link'"* ]]
	rm "$WS/bot1/etc-link"
	fp=$(tree_fingerprint "$WS/bot1")
	rm -rf "$WS/bot1"
	run -0 --separate-stderr ws-preserve --restore bot1
	[[ $(tree_fingerprint "$WS/bot1") == "$fp" ]]
}

@test "ws-preserve: a backup takes precedence over a legacy directory" {
	mkdir -p "$WS/bot1" "$ST/bots/bot1"
	echo backup >"$WS/bot1/f"
	echo legacy >"$ST/bots/bot1/f"
	run -0 ws-preserve bot1
	echo changed >"$WS/bot1/f"
	run -0 ws-preserve --restore bot1
	[[ $(cat "$WS/bot1/f") == backup ]]
	[[ -d $ST/bots/bot1 && ! -e $ST/bots/bot1.migrated ]]
}

@test "ws-preserve: --prune -k 1 deletes all but the newest generation" {
	mkdir -p "$WS/bot1"
	for g in 1 2 3; do ws-preserve bot1; done
	: >"$EVENTS"
	run -0 --separate-stderr ws-preserve --prune -k 1 bot1
	assert_output ""
	run -0 q "select generation from backups where bot = 'bot1'"
	assert_output 3
	run -0 ls -A "$ST/backups/bot1"
	assert_output gen-000003.tar.gz
	# pruning does not disturb the bot
	assert_bot_untouched bot1
	[[ $(journal_rows) == 0 ]]
}

@test "ws-preserve: --prune without -k follows [workspace] keep" {
	sk_conf "[workspace]" "keep = 10"
	mkdir -p "$WS/bot1"
	for g in 1 2 3 4; do ws-preserve bot1; done
	sed -i 's/^keep = 10$/keep = 2/' "$CONF"
	run -0 ws-preserve --prune bot1
	run -0 q "select group_concat(generation) from backups where bot = 'bot1'"
	assert_output 3,4
	[[ ! -e $(gen_file bot1 1) && ! -e $(gen_file bot1 2) ]]
}

@test "ws-preserve: files no backup record names are removed by the next preserve, with a warning" {
	mkdir -p "$WS/bot1"
	echo x >"$WS/bot1/x"
	run -0 ws-preserve bot1
	d=$ST/backups/bot1
	echo junk >"$d/gen-000099.tar.gz"
	echo junk >"$d/.gen-000002.tar.gz.AbC123"
	echo keep >"$d/NOTES"
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr == *"warning: removing '$d/gen-000099.tar.gz', which no backup record names"* ]]
	[[ $stderr == *"warning: removing '$d/.gen-000002.tar.gz.AbC123', which no backup record names"* ]]
	run -0 ls -A "$d"
	assert_output $'NOTES\ngen-000001.tar.gz\ngen-000002.tar.gz'
	run -0 q "select group_concat(generation) from backups"
	assert_output 1,2
	run -0 ws-preserve --list bot1
	refute_output --partial 99
}

@test "ws-preserve: --prune also removes files no backup record names" {
	mkdir -p "$WS/bot1"
	run -0 ws-preserve bot1
	echo junk >"$ST/backups/bot1/gen-000050.tar.zst"
	run -0 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"removing '$ST/backups/bot1/gen-000050.tar.zst'"* ]]
	run -0 ls -A "$ST/backups/bot1"
	assert_output gen-000001.tar.gz
}

@test "ws-preserve: a trailing slash in [state] dir does not turn the generations into orphans" {
	mkdir -p "$WS/bot1"
	echo x >"$WS/bot1/x"
	run -0 ws-preserve bot1
	run -0 ws-preserve bot1
	# the same state dir, spelled with a trailing slash
	sed -i "s|^dir = $ST\$|dir = $ST/|" "$CONF"
	grep -qx "dir = $ST/" "$CONF"
	run -0 --separate-stderr ws-preserve bot1
	[[ $stderr != *removing* ]] || fail "deleted live backups: $stderr"
	run -0 ls -A "$ST/backups/bot1"
	assert_output $'gen-000001.tar.gz\ngen-000002.tar.gz\ngen-000003.tar.gz'
	run -0 ws-preserve --restore -g 1 bot1
}

@test "ws-preserve: --list-ids prints ids from workspaces, backups and legacy dirs" {
	mkdir -p "$WS/ws-only" "$WS/both" "$WS/.hidden" "$WS/bad id"
	mkdir -p "$ST/bots/legacy-only" "$ST/bots/gone.migrated" "$ST/bots/done"
	run -0 ws-preserve both
	mkdir -p "$WS/backed-up"
	run -0 ws-preserve backed-up
	rm -rf "$WS/backed-up"
	run -0 ws-preserve --restore "done"
	rm -rf "$WS/done"
	run -0 --separate-stderr ws-preserve --list-ids
	run -0 sort -u <<<"$output"
	assert_output $'backed-up\nboth\nlegacy-only\nws-only'
	[[ -z $stderr ]]
}

@test "ws-preserve: --help and --version print to stdout and exit 0" {
	run -0 --separate-stderr ws-preserve --help
	assert_line --partial "ws-preserve --restore"
	[[ -z $stderr ]]
	run -0 --separate-stderr ws-preserve -V
	assert_output "ws-preserve (statekit) 0.1.0"
	run -2 --separate-stderr ws-preserve --bogus bot1
	[[ $stderr == *"Try 'ws-preserve --help' for more information."* ]]
}
