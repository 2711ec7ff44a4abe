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
