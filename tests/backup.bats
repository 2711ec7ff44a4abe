#!/usr/bin/env bats
# ws-preserve as a backup tool: --verify of every generation (sha256, the
# codec's own checks, tar framing, the import policy), its record in the
# index and in --list, and --list of a bot that does not exist.

load helpers/common

setup() {
	sk_setup
}

teardown() {
	kill_bg
}

q() {
	sqlite3 "$ST/index.db" "$1"
}

# The archive of generation G of BOT, as the index names it.
gen_path() {
	printf '%s/backups/%s/%s' "$ST" "$1" "$(q "select file from backups where bot = '$1' and generation = $2")"
}

# Change byte OFF of FILE to a different value, in place.
flip_byte() {
	local f=$1 off=$2 b
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0xff)))" |
		dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# Make the index agree with the file of generation G of BOT again, so that
# only the checks behind the sha256 can find what was done to it.
reindex() {
	local f
	f=$(gen_path "$1" "$2")
	q "update backups set sha256 = '$(sha256sum "$f" | cut -d' ' -f1)', size = $(stat -c %s "$f")
	   where bot = '$1' and generation = $2"
}

# Record FILE as generation G of BOT (codec by its name), holding ENTRIES.
add_generation() {
	local bot=$1 g=$2 src=$3 entries=${4:-0} codec=none suffix=.tar dir name
	case $src in
	*.gz) codec=gzip suffix=.tar.gz ;;
	*.zst) codec=zstd suffix=.tar.zst ;;
	esac
	dir=$ST/backups/$bot
	name=$(printf 'gen-%06d%s' "$g" "$suffix")
	mkdir -p "$dir"
	cp "$src" "$dir/$name"
	q "insert into backups (bot, generation, file, codec, size, sha256, entries, created)
	   values ('$bot', $g, '$name', '$codec', $(stat -c %s "$src"),
	   '$(sha256sum "$src" | cut -d' ' -f1)', $entries, strftime('%s', 'now'))"
}

@test "verify: good generations in every codec are ok, and the index and --list say when" {
	make_sample bot1
	for z in gzip zstd none; do ws-preserve -q -z "$z" bot1; done
	run -0 --separate-stderr ws-preserve --verify bot1
	assert_equal "$output" "bot1 1: ok (10 entries)
bot1 2: ok (10 entries)
bot1 3: ok (10 entries)"
	[[ -z $stderr ]]
	[[ $(q "select count(*) from backups where verified >= strftime('%s','now') - 60 and verify_ok = 1") == 3 ]]
	run -0 ws-preserve --list bot1
	assert_line --index 0 --regexp '^BOT +GEN +CREATED +SIZE +ENTRIES +VERIFIED +RESTORED +TAG$'
	for g in 1 2 3; do assert_line --regexp "^bot1 +$g .* ok 20[0-9-]+T[0-9:]+Z +- +-$"; done
	run -0 ws-preserve --list --json bot1
	python3 -c '
import json, sys
for g in json.loads(sys.argv[1]):
    assert g["verified_ok"] is True and g["verified_epoch"] > 0 and g["tag"] is None, g' "$output"
	run -0 --separate-stderr ws-preserve -v --verify -g 2 bot1
	assert_output "bot1 2: ok (10 entries)"
	[[ $stderr == "ws-preserve: bot 'bot1': 1 generation verified" ]]
}

@test "verify: a generation never verified shows as such; a damaged one is BAD in --list, exit 5 names every bad one" {
	make_sample bot1
	sk_conf "[workspace]" "keep = 10"
	for i in 1 2 3 4; do ws-preserve -q bot1; done
	run -0 ws-preserve --list --json bot1
	python3 -c '
import json, sys
for g in json.loads(sys.argv[1]):
    assert g["verified"] is None and g["verified_ok"] is None, g' "$output"
	flip_byte "$(gen_path bot1 1)" 100
	rm "$(gen_path bot1 3)"
	run -5 --separate-stderr ws-preserve --verify bot1
	assert_equal "$output" "bot1 2: ok (10 entries)
bot1 4: ok (10 entries)"
	[[ ${#stderr_lines[@]} == 3 ]] || fail "stderr: $stderr"
	[[ ${stderr_lines[0]} == "ws-preserve: bot 'bot1': generation 1 is damaged: '$ST/backups/bot1/gen-000001.tar.gz' has sha256 "*", expected "* ]]
	[[ ${stderr_lines[1]} == "ws-preserve: bot 'bot1': generation 3 is missing: '$ST/backups/bot1/gen-000003.tar.gz' is gone" ]]
	[[ ${stderr_lines[2]} == "ws-preserve: verify 'bot1': 2 of 4 generations failed verification: 1, 3" ]]
	run -0 ws-preserve --list bot1
	assert_line --regexp '^bot1 +1 .* BAD 20[-0-9T:]+Z '
	assert_line --regexp '^bot1 +2 .* ok 20[-0-9T:]+Z '
	assert_line --regexp '^bot1 +3 .* BAD 20[-0-9T:]+Z '
	run -5 --separate-stderr ws-preserve --verify --json bot1
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
assert [(g["generation"], g["ok"]) for g in v] == [(1, False), (2, True), (3, False), (4, True)], v
assert "is damaged" in v[0]["error"] and "is missing" in v[2]["error"] and v[1]["error"] is None, v
assert all(sorted(g) == ["bot", "entries", "error", "generation", "ok"] for g in v), v' "$output"
	# one generation at a time
	run -0 ws-preserve --verify -g 4 bot1
	run -5 --separate-stderr ws-preserve --verify -g 1 bot1
	[[ $stderr == *"verify 'bot1': 1 of 1 generation failed verification: 1" ]]
}

@test "verify: a flipped byte behind a matching sha256 is found by each codec's own check" {
	make_sample bot1
	ws-preserve -q -z gzip bot1
	ws-preserve -q -z zstd bot1
	ws-preserve -q -z none bot1
	# gzip: a byte of the CRC-32 in the trailer; zstd: of the content
	# checksum at the end of the frame; none: of a tar header's name.
	f=$(gen_path bot1 1) && flip_byte "$f" $(($(stat -c %s "$f") - 6)) && reindex bot1 1
	f=$(gen_path bot1 2) && flip_byte "$f" $(($(stat -c %s "$f") - 2)) && reindex bot1 2
	f=$(gen_path bot1 3) && flip_byte "$f" 600 && reindex bot1 3
	run -5 --separate-stderr ws-preserve --verify bot1
	assert_output ""
	[[ ${stderr_lines[0]} == "ws-preserve: bot 'bot1': generation 1: gzip: incorrect data check" ]] || fail "gzip: $stderr"
	[[ ${stderr_lines[1]} == "ws-preserve: bot 'bot1': generation 2: "*checksum* ]] || fail "zstd: $stderr"
	[[ ${stderr_lines[2]} == "ws-preserve: bot 'bot1': generation 3: "*checksum* ]] || fail "tar: $stderr"
	[[ ${stderr_lines[3]} == "ws-preserve: verify 'bot1': 3 of 3 generations failed verification: 1, 2, 3" ]]
	[[ $(q "select count(*) from backups where verified > 0 and verify_ok = 0") == 3 ]]
}

@test "verify: a truncated generation behind a matching sha256 is exit 5" {
	make_sample bot1
	for z in gzip zstd none; do ws-preserve -q -z "$z" bot1; done
	for g in 1 2 3; do
		f=$(gen_path bot1 $g)
		truncate -s $(($(stat -c %s "$f") / 2)) "$f"
		reindex bot1 $g
	done
	run -5 --separate-stderr ws-preserve --verify bot1
	[[ ${#stderr_lines[@]} == 4 ]] || fail "$stderr"
	for i in 0 1 2; do
		[[ ${stderr_lines[i]} == "ws-preserve: bot 'bot1': generation $((i + 1)): "* ]] || fail "$stderr"
	done
}

@test "verify: the entries and codec the index recorded must be what the archive holds" {
	make_sample bot1
	ws-preserve -q bot1
	ws-preserve -q bot1
	q "update backups set entries = 9 where generation = 1"
	q "update backups set codec = 'zstd' where generation = 2"
	run -5 --separate-stderr ws-preserve --verify bot1
	[[ ${stderr_lines[0]} == "ws-preserve: bot 'bot1': generation 1 holds 10 entries, the index says 9" ]]
	[[ ${stderr_lines[1]} == "ws-preserve: bot 'bot1': generation 2 is gzip, the index says zstd" ]]
}

# Every archive of tests/gen-hostile, recorded as a generation: --verify must
# refuse what ws-import refuses and pass what it takes. (What only an
# extracted tree can tell, ws-preserve(1) documents; none of these needs it.)
@test "verify: agrees with ws-import's policy on every hostile archive" {
	out=$BATS_TEST_TMPDIR/hostile
	"$BATS_TEST_DIRNAME/gen-hostile" "$out" >/dev/null
	ws-preserve --list-ids >/dev/null # the index
	g=0 checked=0
	while IFS=$'\t' read -r name class expect feed config check note; do
		[[ $name == '#'* || $config != - ]] && continue
		g=$((g + 1))
		entries=0
		if [[ $expect == EXTRACT-SAFE ]]; then
			mkdir -p "$WS/scratch$g"
			entries=$(ws-import --json "scratch$g" <"$out/$name" |
				python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')
		fi
		add_generation hb "$g" "$out/$name" "$entries"
		set +e
		ws-preserve --verify -g "$g" hb >/dev/null 2>"$BATS_TEST_TMPDIR/err"
		rc=$?
		set -e
		case $expect:$rc in
		EXTRACT-SAFE:0 | REJECT:5) checked=$((checked + 1)) ;;
		REJECT:0) fail "$name ($class): ws-import refuses it, --verify passed it" ;;
		*) fail "$name ($class, $expect): --verify exit $rc: $(cat "$BATS_TEST_TMPDIR/err")" ;;
		esac
	done <"$out/MANIFEST.tsv"
	((checked > 40)) || fail "only $checked archives checked"
}

@test "verify: no backup, or no such generation, is exit 3; a busy bot is exit 4" {
	run -3 --separate-stderr ws-preserve --verify bot1
	[[ $stderr == "ws-preserve: verify 'bot1': bot 'bot1' has no backup" ]]
	make_sample bot1
	ws-preserve -q bot1
	run -3 --separate-stderr ws-preserve --verify -g 5 bot1
	[[ $stderr == "ws-preserve: verify 'bot1': bot 'bot1' has no backup generation 5" ]]
	mkdir -p "$ST/locks"
	(
		exec 9<>"$ST/locks/bot.bot1"
		flock -x 9
		touch "$BATS_TEST_TMPDIR/held"
		exec sleep 60
	) 3>&- &
	BG_PIDS+=" $!"
	for _ in $(seq 100); do [[ -e $BATS_TEST_TMPDIR/held ]] && break; sleep 0.05; done
	run -4 --separate-stderr ws-preserve --verify bot1
	[[ $stderr == *"busy"* || $stderr == *"locked"* ]] || fail "$stderr"
	[[ $(q "select verified from backups") == 0 ]]
}

@test "verify: under a pty with progress on, the same outcome and an ended progress line" {
	make_sample bot1
	head -c 20M /dev/urandom >"$WS/bot1/big.bin"
	ws-preserve -q bot1
	run -0 "$BATS_TEST_DIRNAME/helpers/ptyrun" "ws-preserve --verify bot1"
	[[ $output == *"bot1 1: ok (11 entries)"* ]] || fail "$output"
	# the progress line was drawn in place, and ended before the result
	[[ $output == *$'\r'*"verifying 'bot1'"* ]] || fail "no progress: $output"
	[[ $(q "select verify_ok from backups") == 1 ]]
}

@test "list: a bot with no backup and no workspace is exit 3; with a workspace, an empty table" {
	run -3 --separate-stderr ws-preserve --list nosuchbot
	[[ $stderr == "ws-preserve: bot 'nosuchbot' has no backup, no workspace and no legacy directory" ]]
	run -3 ws-preserve --list --json nosuchbot
	mkdir -p "$WS/bot2"
	run -0 --separate-stderr ws-preserve --list bot2
	assert_output --regexp '^BOT +GEN'
	[[ ${#lines[@]} == 1 ]]
	run -0 ws-preserve --list --json bot2
	assert_output "[]"
	# a legacy directory is something to restore: not exit 3
	mkdir -p "$ST/bots/bot3"
	run -0 ws-preserve --list bot3
}

# A generation of BOT made at TIME (ws-preserve --time), quietly.
preserve_at() {
	ws-preserve -q --time "$2" "$1"
}

# The generations of BOT left, by creation time: "YYYY-MM-DD HH:MM" lines.
kept_times() {
	q "select strftime('%Y-%m-%d %H:%M', created, 'unixepoch') from backups
	   where bot = '$1' order by created"
}

@test "retention: a simulated year of nightly backups, pruned by hourly, daily, weekly, monthly and yearly rules" {
	export TZ=UTC
	sk_conf "[workspace]" "keep = 100000"
	mkdir -p "$WS/bot1" && echo x >"$WS/bot1/x"
	start=$(date -d '2025-12-01 03:00Z' +%s)
	for d in $(seq 0 364); do preserve_at bot1 "@$((start + d * 86400))"; done
	# and two runs by hand on the last day, after the nightly one
	preserve_at bot1 "2026-11-30 11:00Z"
	preserve_at bot1 "2026-11-30 17:45Z"
	[[ $(q "select count(*) from backups") == 367 ]]
	# what restic's forget keeps, computed here independently
	want=$(python3 - <<-'PY'
	import datetime as dt
	t = [dt.datetime(2025, 12, 1, 3) + dt.timedelta(days=d) for d in range(365)]
	t += [dt.datetime(2026, 11, 30, 11), dt.datetime(2026, 11, 30, 17, 45)]
	t.sort(reverse=True)
	keep = set()
	for n, key in ((3, lambda x: x.strftime("%Y%m%d%H")), (7, lambda x: x.date()),
	               (5, lambda x: x.isocalendar()[:2]), (12, lambda x: (x.year, x.month)),
	               (3, lambda x: x.year)):
	    seen = []
	    for x in t:
	        if len(seen) < n and key(x) not in seen:
	            seen.append(key(x)); keep.add(x)
	print("\n".join(sorted(x.strftime("%Y-%m-%d %H:%M") for x in keep)))
	PY
	)
	run -0 ws-preserve --prune --dry-run --keep-hourly 3 --keep-daily 7 --keep-weekly 5 \
		--keep-monthly 12 --keep-yearly 3 bot1
	[[ $(q "select count(*) from backups") == 367 ]] # a dry run deletes nothing
	[[ $(ls "$ST/backups/bot1" | wc -l) == 367 ]]
	[[ ${lines[0]} =~ ^BOT\ +GEN\ +CREATED\ +ACTION\ +WHY$ ]]
	[[ $(grep -cE 'Z  keep ' <<<"$output") == $(wc -l <<<"$want") ]] ||
		fail "$(grep -E 'Z  keep ' <<<"$output") / want: $want"
	assert_line --regexp '^bot1 +1  2025-12-01T03:00:00Z  remove  no keep rule keeps it$'
	assert_line --regexp '^bot1 +367  2026-11-30T17:45:00Z  keep    hourly, daily, weekly, monthly, yearly$'
	assert_line --regexp '^bot1 +31  2025-12-31T03:00:00Z  keep    monthly, yearly$'
	run -0 --separate-stderr ws-preserve --prune -v --keep-hourly 3 --keep-daily 7 --keep-weekly 5 \
		--keep-monthly 12 --keep-yearly 3 bot1
	assert_equal "$(kept_times bot1)" "$want"
	# -v names each generation removed, and only those
	removed=$((367 - $(wc -l <<<"$want")))
	[[ $(grep -c "^ws-preserve: removed generation [0-9]* of bot 'bot1'$" <<<"$stderr") == "$removed" ]]
	[[ $stderr == *"removed generation 1 of bot 'bot1'"* ]]
	# files and rows agree: no file left for a removed generation
	[[ $(ls "$ST/backups/bot1" | wc -l) == $(wc -l <<<"$want") ]]
}

@test "retention: with keep_daily in the config, a run by hand during the day does not push out last week" {
	export TZ=UTC
	sk_conf "[workspace]" "keep = 1" "keep_daily = 7"
	mkdir -p "$WS/bot1" && echo x >"$WS/bot1/x"
	for d in 1 2 3 4 5 6 7; do preserve_at bot1 "2026-11-0$d 03:00"; done
	before=$(kept_times bot1)
	[[ $(wc -l <<<"$before") == 7 ]]
	preserve_at bot1 "2026-11-07 14:00"
	preserve_at bot1 "2026-11-07 16:00"
	# the 1st stays; of the 7th only the newest run
	assert_equal "$(kept_times bot1)" "2026-11-01 03:00
2026-11-02 03:00
2026-11-03 03:00
2026-11-04 03:00
2026-11-05 03:00
2026-11-06 03:00
2026-11-07 16:00"
	# keep_within: everything made within 3 days before the newest (from the
	# 4th, 16:00), on the command line
	run -0 ws-preserve --prune --keep-within 3d bot1
	assert_equal "$(kept_times bot1)" "2026-11-05 03:00
2026-11-06 03:00
2026-11-07 16:00"
}

@test "retention: the newest generation that verified good is never pruned" {
	sk_conf "[workspace]" "keep = 100"
	make_sample bot1
	for i in 1 2 3 4 5; do ws-preserve -q bot1; done
	ws-preserve -q --verify -g 2 bot1
	ws-preserve -q --verify -g 3 bot1
	# generation 3 is the newest verified good, 4 is damaged
	echo junk >>"$(gen_path bot1 4)"
	run -5 ws-preserve --verify -g 4 bot1
	run -0 --separate-stderr ws-preserve --prune --dry-run --json --keep-last 1 bot1
	python3 -c '
import json, sys
v = {g["generation"]: (g["keep"], g["reasons"]) for g in json.loads(sys.argv[1])}
assert v == {1: (False, []), 2: (False, []), 3: (True, ["newest verified"]),
             4: (False, []), 5: (True, ["last"])}, v' "$output"
	run -0 ws-preserve --prune --keep-last 1 bot1
	[[ $(q "select group_concat(generation) from backups") == "3,5" ]]
}

@test "retention: bad keep options and keys are usage errors that touch nothing" {
	make_sample bot1
	ws-preserve -q bot1
	before=$(q "select * from backups")
	for args in "--keep-daily 0" "--keep-weekly x" "--keep-within 3x" "--keep-within 0" \
		"--keep-within d" "--dry-run" "--dry-run --verify" "--list --keep-daily 2" \
		"--prune --time @5" "--time yesterday" "--time 2026-13-01"; do
		# shellcheck disable=SC2086
		run -2 --separate-stderr ws-preserve $args bot1
		[[ -n $stderr ]] || fail "$args: no message"
	done
	run -2 --separate-stderr ws-preserve --keep-within 1q bot1
	[[ ${stderr_lines[0]} == "ws-preserve: invalid --keep-within '1q' (expected a span like 30d, 2w or 1y6m)" ]]
	run -2 --separate-stderr ws-preserve --prune --dry-run --keep-last 0 bot1
	[[ ${stderr_lines[0]} == "ws-preserve: invalid keep count '0' (expected 1 or more)" ]]
	sk_conf "[workspace]" "keep_within = 2 weeks"
	run -2 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"statekit.ini:"*"bad value '2 weeks' for 'keep_within' (expected a span like 30d, 2w or 1y6m)" ]]
	sed -i '/keep_within/d' "$CONF"
	sk_conf "keep = 0"
	run -2 --separate-stderr ws-preserve --prune bot1
	[[ $stderr == *"[workspace] keeps no generation: set keep or a keep_* key" ]]
	assert_equal "$(q "select * from backups")" "$before"
}

@test "retention: --time records the time given, local or UTC or in seconds" {
	make_sample bot1
	sk_conf "[workspace]" "keep = 10"
	TZ=America/New_York ws-preserve -q --time "2026-07-04 12:00" bot1
	ws-preserve -q --time "2026-07-04T12:00:30Z" bot1
	ws-preserve -q --time "@1700000000" bot1
	run -0 ws-preserve --json --time "2026-01-02" bot1
	assert_equal "$(q "select created from backups order by generation")" "$(date -d '2026-07-04 16:00Z' +%s)
$(date -d '2026-07-04 12:00:30Z' +%s)
1700000000
$(date -d '2026-01-02 00:00' +%s)"
	[[ $output == *'"created_epoch":'"$(date -d '2026-01-02 00:00' +%s)"* ]]
}

# The bot's stop and start hooks write to $EVENTS.
hooks() {
	EVENTS=$BATS_TEST_TMPDIR/events
	sk_conf "[workspace]" "keep = 10" \
		"stop_command = echo stop \$1 >> $EVENTS" \
		"start_command = echo start \$1 >> $EVENTS"
}

@test "restore: keeps the workspace as a pre-restore generation first, and going back gives it back byte for byte" {
	hooks
	make_sample bot1
	ws-preserve -q bot1
	echo "written today" >"$WS/bot1/today.txt"
	rm "$WS/bot1/hello.txt"
	today=$(tree_fingerprint "$WS/bot1")
	run -0 --separate-stderr ws-preserve --restore bot1
	assert_equal "$stderr" "ws-preserve: the workspace as it was is generation 2 (pre-restore); to go back: ws-preserve --restore -g 2 bot1"
	[[ ! -e $WS/bot1/today.txt && -f $WS/bot1/hello.txt ]]
	assert_equal "$(q "select generation, tag, restored > 0 from backups order by generation")" "1||1
2|pre-restore|0"
	# --check: the pre-restore copy is not data waiting to be restored
	run -3 ws-preserve --check bot1
	# the way back, as the message says
	run -0 --separate-stderr ws-preserve --restore -g 2 bot1
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$today"
	[[ $stderr == *"generation 3 (pre-restore)"* ]]
	# --restore without -g takes the newest untagged generation, not a copy
	run -0 --separate-stderr ws-preserve --restore --no-backup --json bot1
	[[ $output == '{"bot":"bot1","generation":1,'*'"target":null,"pre_restore_generation":null}' ]]
	[[ -z $stderr ]]
	[[ $(q "select count(*) from backups") == 3 ]] # --no-backup kept nothing
	[[ ! -e $WS/bot1/today.txt ]]
	assert_no_staging
	assert_no_backup_temps_in bot1
	[[ $(journal_rows) == 0 ]]
}

assert_no_backup_temps_in() {
	local left
	left=$(find "$ST/backups/$1" -name '.gen-*' 2>/dev/null)
	[[ -z $left ]] || fail "temp files left behind: $left"
}

@test "restore: an empty or missing workspace is not kept; a damaged generation keeps nothing and changes nothing" {
	sk_conf "[workspace]" "keep = 10"
	make_sample bot1
	ws-preserve -q bot1
	rm -rf "$WS/bot1"
	run -0 --separate-stderr ws-preserve --restore bot1
	[[ -z $stderr ]]
	mkdir -p "$WS/bot2"
	echo x >"$WS/bot2/x"
	ws-preserve -q bot2
	rm "$WS/bot2/x"
	run -0 --separate-stderr ws-preserve --restore bot2
	[[ -z $stderr ]]
	[[ $(q "select count(*) from backups where tag != ''") == 0 ]]
	# damaged: exit 5 before anything is kept
	echo junk >>"$(gen_path bot1 1)"
	echo new >"$WS/bot1/new.txt"
	before=$(tree_fingerprint "$WS/bot1")
	run -5 --separate-stderr ws-preserve --restore bot1
	[[ $stderr == "ws-preserve: restore 'bot1': generation 1 is damaged: "* ]]
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$before"
	[[ $(q "select count(*) from backups where bot = 'bot1'") == 1 ]]
}

@test "restore: a pre-restore copy counts for no keep rule until a newer generation exists" {
	sk_conf "[workspace]" "keep = 1"
	make_sample bot1
	ws-preserve -q bot1
	echo change >"$WS/bot1/change.txt"
	ws-preserve -q --restore bot1
	run -0 ws-preserve --prune bot1
	assert_equal "$(q "select group_concat(generation || ':' || tag) from backups")" "1:,2:pre-restore"
	ws-preserve -q bot1
	assert_equal "$(q "select group_concat(generation) from backups")" "3"
}

@test "restore --target: into a new or empty directory, the bot and its workspace left alone" {
	hooks
	make_sample bot1
	want=$(tree_fingerprint "$WS/bot1")
	ws-preserve -q bot1
	: >"$EVENTS"
	echo later >"$WS/bot1/later.txt"
	ws_before=$(ws_state "$WS/bot1")
	run -0 --separate-stderr ws-preserve --restore --target "$BATS_TEST_TMPDIR/copy" --json bot1
	[[ -z $stderr ]]
	[[ $output == '{"bot":"bot1","generation":1,"entries":10,'*'"target":"'"$BATS_TEST_TMPDIR/copy"'","pre_restore_generation":null}' ]]
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/copy")" "$want"
	assert_equal "$(ws_state "$WS/bot1")" "$ws_before"
	[[ ! -s $EVENTS ]] || fail "the bot was stopped or started: $(cat "$EVENTS")"
	[[ $(q "select restored from backups") == 0 ]]
	# an empty directory that exists, by a relative name with a trailing slash
	mkdir "$BATS_TEST_TMPDIR/empty"
	cd "$BATS_TEST_TMPDIR"
	run -0 ws-preserve --restore -g 1 --target empty/ bot1
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/empty")" "$want"
	# not empty, a file, no parent: exit 2, nothing made
	run -2 --separate-stderr ws-preserve --restore --target copy bot1
	[[ $stderr == "ws-preserve: target 'copy' is not empty (restore into a new or empty directory)" ]]
	touch afile
	run -2 --separate-stderr ws-preserve --restore --target afile bot1
	[[ $stderr == "ws-preserve: target 'afile' is not a directory" ]]
	run -2 --separate-stderr ws-preserve --restore --target afile/x bot1
	[[ $stderr == "ws-preserve: target 'afile/x' is not a directory" ]]
	# missing directories above the target are made, as mkdir -p makes them
	run -0 ws-preserve --restore --target new/dirs/x bot1
	assert_equal "$(tree_fingerprint new/dirs/x)" "$want"
	run -2 --separate-stderr ws-preserve --target x bot1
	[[ $stderr == *"--no-backup and --target go with --restore"* ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.*statekit-*') ]]
	[[ ! -e x ]]
}

@test "restore --target: a damaged generation, or a kill before the rename, leaves no target and no staging" {
	make_sample bot1
	ws-preserve -q bot1
	ws-preserve -q -z zstd bot1
	f=$(gen_path bot1 1)
	flip_byte "$f" $(($(stat -c %s "$f") - 6))
	reindex bot1 1
	run -5 --separate-stderr ws-preserve --restore -g 1 --target "$BATS_TEST_TMPDIR/t1" bot1
	[[ $stderr == "ws-preserve: restore 'bot1': generation 1: gzip: incorrect data check" ]]
	[[ ! -e $BATS_TEST_TMPDIR/t1 ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.*statekit-*') ]]
	run -137 env STATEKIT_FAULT=target-staged ws-preserve --restore --target "$BATS_TEST_TMPDIR/t2" bot1
	[[ ! -e $BATS_TEST_TMPDIR/t2 ]]
	[[ -n $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.t2.statekit-*') ]]
	[[ $(journal_rows) == 1 ]]
	# the next command on the bot removes it, and the restore then works
	run -0 --separate-stderr ws-preserve --restore --target "$BATS_TEST_TMPDIR/t2" bot1
	[[ $stderr == "ws-preserve: warning: removing '$BATS_TEST_TMPDIR/.t2.statekit-"*"' left by an interrupted restore (pid "*")" ]]
	[[ -z $(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.*statekit-*') ]]
	[[ $(journal_rows) == 0 ]]
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/t2")" "$(tree_fingerprint "$WS/bot1")"
}

@test "restore: under a pty with progress on, the pre-restore copy and the restore both work" {
	make_sample bot1
	head -c 20M /dev/urandom >"$WS/bot1/big.bin"
	ws-preserve -q bot1
	want=$(tree_fingerprint "$WS/bot1")
	echo today >"$WS/bot1/today.txt"
	run -0 "$BATS_TEST_DIRNAME/helpers/ptyrun" "ws-preserve --restore bot1 && ws-preserve --restore --target '$BATS_TEST_TMPDIR/t' bot1"
	[[ $output == *"to go back: ws-preserve --restore -g 2 bot1"* ]] || fail "$output"
	assert_equal "$(tree_fingerprint "$WS/bot1")" "$want"
	assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/t")" "$want"
	[[ $(q "select tag from backups where generation = 2") == pre-restore ]]
}

@test "ls: a generation's entries as a table and as JSON, all of them or under a path" {
	make_sample bot1
	ws-preserve -q bot1
	echo later >"$WS/bot1/later.txt"
	ws-preserve -q -z zstd bot1
	run -0 --separate-stderr ws-preserve --ls -g 1 bot1
	[[ -z $stderr ]]
	[[ ${lines[0]} =~ ^TYPE\ +MODE\ +OWNER\ +SIZE\ +MTIME\ +NAME$ ]]
	[[ ${#lines[@]} == 11 ]]
	# hello.txt and hard-hello are one file: stored once, then linked
	assert_line --regexp '^f +0644 +0:0 +6  2020-01-02T03:04:05Z  (hello.txt|hard-hello)$'
	assert_line --regexp '^f +0640 +0:0 +[0-9]+  [-0-9T:]+Z  src/lib/main.c$'
	assert_line --regexp '^l +0777 .*  link-to-hello -> hello.txt$'
	assert_line --regexp '^h +0644 .*  (hard-hello => hello.txt|hello.txt => hard-hello)$'
	assert_line --regexp '^f +0644 +0:0 +8388608  .*  sparse.img$'
	assert_line --regexp '^d +0755 .*  empty$'
	refute_line --partial later.txt
	# the newest by default; every name the workspace has, once
	run -0 ws-preserve --ls --json bot1
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
names = sorted(e["path"] for e in v)
assert names == sorted(sys.argv[2].split("\n")), (names, sys.argv[2])
e = {x["path"]: x for x in v}
f, h = (e["hello.txt"], e["hard-hello"]) if e["hello.txt"]["type"] == "file" else \
    (e["hard-hello"], e["hello.txt"])
assert f == {"path": f["path"], "type": "file", "mode": "0644", "uid": 0, "gid": 0,
    "size": 6, "mtime": "2020-01-02T03:04:05Z", "mtime_epoch": 1577934245, "link": None}, f
assert h["type"] == "hardlink" and h["link"] == f["path"] and h["size"] == 0, h
assert e["src/up-link"]["type"] == "symlink" and e["src/up-link"]["link"] == "../hello.txt"
assert e["src"]["type"] == "dir" and e["src"]["size"] == 0' "$output" "$(cd "$WS/bot1" && find . -mindepth 1 -printf '%P\n')"
	# under a path, spelled as people spell it
	for p in src ./src/ /src; do
		run -0 ws-preserve --ls bot1 "$p"
		[[ ${#lines[@]} == 6 ]] || fail "$p: $output"
		assert_line --regexp '  src/numbers.txt$'
	done
	run -0 ws-preserve --ls bot1 src/lib/main.c
	[[ ${#lines[@]} == 2 ]]
	run -3 --separate-stderr ws-preserve --ls bot1 sr
	[[ $stderr == "ws-preserve: ls 'bot1': generation 2 of bot 'bot1' has no 'sr'" ]]
	run -3 --separate-stderr ws-preserve --ls -g 9 bot1
	[[ $stderr == "ws-preserve: ls 'bot1': bot 'bot1' has no backup generation 9" ]]
}

@test "dump: a generation as tar, and one file's bytes, byte for byte; never to a terminal" {
	make_sample bot1
	head -c 3M /dev/urandom >"$WS/bot1/random.bin"
	want=$(tree_fingerprint "$WS/bot1")
	for z in gzip zstd none; do ws-preserve -q -z "$z" bot1; done
	for g in 1 2 3; do
		mkdir "$BATS_TEST_TMPDIR/x$g"
		ws-preserve --dump -g "$g" bot1 | tar -x -C "$BATS_TEST_TMPDIR/x$g"
		assert_equal "$(tree_fingerprint "$BATS_TEST_TMPDIR/x$g")" "$want"
	done
	# a plain tar stream, which ws-import takes: the bot moved
	ws-preserve --dump bot1 | ws-import bot2
	assert_equal "$(tree_fingerprint "$WS/bot2")" "$want"
	ws-preserve --dump bot1 >"$BATS_TEST_TMPDIR/g.tar"
	[[ $(od -An -c -j 257 -N 5 "$BATS_TEST_TMPDIR/g.tar" | tr -d ' ') == ustar ]]
	# one file: its bytes, holes as zeros
	ws-preserve --dump -g 1 bot1 random.bin | cmp - "$WS/bot1/random.bin"
	ws-preserve --dump -g 2 bot1 ./sparse.img | cmp - "$WS/bot1/sparse.img"
	ws-preserve --dump bot1 src/lib/main.c | cmp - "$WS/bot1/src/lib/main.c"
	# both names of a hard-linked file give its bytes
	ws-preserve --dump bot1 hello.txt | cmp - "$WS/bot1/hello.txt"
	ws-preserve --dump bot1 hard-hello | cmp - "$WS/bot1/hello.txt"
	run -2 --separate-stderr ws-preserve --dump bot1 src
	[[ $stderr == "ws-preserve: 'src' is a directory (--dump without a path writes the whole generation as tar)" ]]
	run -2 --separate-stderr ws-preserve --dump bot1 link-to-hello
	[[ $stderr == "ws-preserve: 'link-to-hello' is a symbolic link to 'hello.txt'" ]]
	run -3 --separate-stderr ws-preserve --dump bot1 nothing
	[[ $stderr == "ws-preserve: dump 'bot1': no file 'nothing' in the generation" ]]
	# at a terminal: refused before anything is read or written
	run -2 "$BATS_TEST_DIRNAME/helpers/ptyrun" "ws-preserve --dump bot1"
	[[ $output == *"ws-preserve: refusing to write to a terminal (pipe it or redirect it to a file)"* ]]
	[[ ${#output} -lt 300 ]]
}

@test "ls, dump: a damaged generation is exit 5" {
	make_sample bot1
	ws-preserve -q bot1
	ws-preserve -q bot1
	echo junk >>"$(gen_path bot1 1)"
	run -5 --separate-stderr ws-preserve --ls -g 1 bot1
	[[ $stderr == "ws-preserve: ls 'bot1': generation 1 is damaged: "* ]]
	run -5 --separate-stderr ws-preserve --dump -g 1 bot1
	[[ -z $output ]]
	# behind a matching sha256, the codec's checks still stop it
	f=$(gen_path bot1 2)
	flip_byte "$f" $(($(stat -c %s "$f") - 6))
	reindex bot1 2
	run -5 --separate-stderr ws-preserve --dump bot1 src/lib/main.c
	[[ $stderr == *"gzip: incorrect data check" ]]
	run -5 --separate-stderr ws-preserve --ls bot1
	[[ $stderr == *"gzip: incorrect data check" ]]
}

# Hold the lock of bot $1 from a process of our own until the test ends
# (or for $2 seconds).
hold_bot() {
	mkdir -p "$ST/locks"
	rm -f "$BATS_TEST_TMPDIR/held"
	(
		exec 9<>"$ST/locks/bot.$1"
		flock -x 9
		touch "$BATS_TEST_TMPDIR/held"
		exec sleep "${2:-60}"
	) 3>&- &
	BG_PIDS+=" $!"
	for _ in $(seq 100); do [[ -e $BATS_TEST_TMPDIR/held ]] && return 0; sleep 0.05; done
	fail "the lock of '$1' was never held"
}

@test "all: preserve, verify and prune every bot, one broken among several: the others done, the summary names it" {
	sk_conf "[workspace]" "keep = 5"
	for b in alpha bravo charlie delta; do make_sample "$b"; done
	hold_bot charlie
	run -4 --separate-stderr ws-preserve --all
	[[ ${stderr_lines[0]} == "ws-preserve: preserve 'charlie': bot 'charlie' is busy"* ]] || fail "$stderr"
	[[ ${stderr_lines[-1]} == "ws-preserve: --all: 1 of 4 bots failed: charlie (exit 4)" ]]
	assert_equal "$(q "select group_concat(bot) from backups")" "alpha,bravo,delta"
	kill_bg
	BG_PIDS=
	run -0 --separate-stderr ws-preserve -v --all
	[[ ${stderr_lines[-1]} == "ws-preserve: --all: 4 bots done, 0 skipped (no workspace; their generations are kept)" ]]
	# one damaged generation, one busy bot: exit 5, the most serious, and both named
	echo junk >>"$(gen_path bravo 1)"
	hold_bot delta
	run -5 --separate-stderr ws-preserve --verify --all
	assert_equal "$output" "alpha 1: ok (10 entries)
alpha 2: ok (10 entries)
bravo 2: ok (10 entries)
charlie 1: ok (10 entries)"
	[[ ${stderr_lines[-1]} == "ws-preserve: --all: 2 of 4 bots failed: bravo (exit 5), delta (exit 4)" ]]
	[[ $(q "select count(*) from backups where verified > 0") == 5 ]]
	kill_bg
	BG_PIDS=
	# --json: one array across the bots
	run -5 --separate-stderr ws-preserve --verify --all --json
	python3 -c '
import json, sys
v = json.loads(sys.argv[1])
assert [(g["bot"], g["generation"], g["ok"]) for g in v] == [("alpha", 1, True), ("alpha", 2, True),
    ("bravo", 1, False), ("bravo", 2, True), ("charlie", 1, True), ("delta", 1, True), ("delta", 2, True)], v' "$output"
	# prune --all: one table, every bot; -k 1 keeps the newest and the newest verified
	run -0 ws-preserve --prune --all --dry-run -k 1
	[[ $(grep -c '^BOT ' <<<"$output") == 1 ]]
	assert_line --regexp '^bravo +1 .* remove  no keep rule keeps it$'
	run -0 ws-preserve --prune --all -k 1
	assert_equal "$(q "select group_concat(bot || generation) from backups")" "alpha2,bravo2,charlie1,delta2"
}

@test "all: a bot whose workspace is gone keeps its generations and is skipped; --wait applies to each bot" {
	make_sample alpha
	make_sample bravo
	ws-preserve -q --all
	rm -rf "$WS/bravo"
	run -0 --separate-stderr ws-preserve --all
	[[ -z $stderr ]]
	assert_equal "$(q "select group_concat(bot || generation) from backups")" "alpha1,alpha2,bravo1"
	# busy for a second: --wait waits for it, and the run succeeds
	hold_bot alpha 1
	run -0 --separate-stderr ws-preserve --all --wait 10
	[[ $(q "select max(generation) from backups where bot = 'alpha'") == 3 ]]
	run -0 ws-preserve --verify --all
	[[ ${#lines[@]} == 4 ]]
}

@test "all: usage errors, and a workspace path --all cannot list" {
	make_sample bot1
	run -2 --separate-stderr ws-preserve --all bot1
	[[ $stderr == *"--all takes no BOT"* ]]
	run -2 --separate-stderr ws-preserve --all --ls
	[[ $stderr == *"--all goes with writing generations, --verify or --prune"* ]]
	run -2 --separate-stderr ws-preserve --all --restore
	run -2 --separate-stderr ws-preserve --all --verify -g 1
	[[ $stderr == *"--all and --generation exclude each other"* ]]
	sk_conf "[workspace]" "path = $BATS_TEST_TMPDIR/%s/data"
	run -2 --separate-stderr ws-preserve --all
	[[ $stderr == "ws-preserve: --all finds the bots of the dir backend only when [workspace] path ends in /%s (it is '$BATS_TEST_TMPDIR/%s/data')" ]]
	[[ ! -e $ST/backups ]]
}
