#!/usr/bin/env bats
# ws-import against hostile and malformed archives that tests/gen-hostile
# writes at test time, one class of abuse per test (see the generator's
# header for the manifest it writes beside them). Plain .tar files are fed
# gzipped (the tar layer under the usual codec) and then raw (the plain-tar
# path); compressed ones as they are (the decompression layer).
#
# REJECT: exit 5 within the time bound, the expected reason on stderr,
# nothing on stdout, the workspace byte-for-byte unchanged, no staging, an
# empty journal, nothing created anywhere else.
# EXTRACT-SAFE: exit 0, exactly the tree the manifest names (contents,
# modes without setuid/setgid, link targets, shared inodes), no device, fifo
# or socket, no set-id bit, no xattr, no link resolving outside, nothing
# created anywhere else.

load helpers/common

# The classes of shared/corpus/README.txt, as the generator names them.
CLASSES="traversal absolute symlink symlink-chain hardlink special setid checksum
truncation pax gnu-long sparse bomb duplicate header gzip zstd"

setup_file() {
	GEN=$BATS_FILE_TMPDIR/gen
	"$BATS_TEST_DIRNAME/gen-hostile" "$GEN" || return 1
	export GEN
}

# A small workspace with a bit of everything (make_sample's 8 MiB sparse
# file would cost a hash per import): the "before" of every rejection.
small_sample() {
	local w=$WS/bot1
	mkdir -p "$w/src/lib" "$w/empty"
	printf 'hello\n' >"$w/hello.txt"
	seq 1 2000 >"$w/src/numbers.txt"
	printf 'int main(void) { return 0; }\n' >"$w/src/lib/main.c"
	ln -s hello.txt "$w/link-to-hello"
	ln -s ../hello.txt "$w/src/up-link"
	ln "$w/hello.txt" "$w/hard-hello"
	truncate -s 1M "$w/sparse.img"
	printf 'data' | dd of="$w/sparse.img" bs=1 seek=400000 conv=notrunc status=none
	chmod 0640 "$w/src/lib/main.c"
	touch -d '2020-01-02 03:04:05' "$w/hello.txt"
}

setup() {
	sk_setup
	small_sample
	# What the first command creates, so that snapshots of the test
	# directory taken before and after an import see only real changes.
	mkdir -p "$ST/locks" "$ST/tmp"
}

# Everything an escape could create or touch: the test directory but the
# workspace (and the index's WAL files and our inputs), anything named
# sk-hostile-* where the archives aim, and the files they link to.
outside() {
	local p
	find "$BATS_TEST_TMPDIR" -path "$WS/bot1" -prune -o ! -name 'index.db*' \
		! -name 'separate-stderr-*' ! -name 'in.*' ! -name 'conf.*' \
		-printf '%p %y\n' | LC_ALL=C sort
	for p in /tmp/sk-hostile* /sk-hostile* "$BATS_RUN_TMPDIR"/sk-hostile* \
		"$BATS_TEST_TMPDIR"/../sk-hostile*; do
		[[ ! -e $p && ! -L $p ]] || echo "$p"
	done
	stat -c '%n %i %Y %Z %h' /etc/passwd /etc/shadow
}

# rows CLASS: the manifest lines of one class (tab-separated).
rows() {
	awk -F'\t' -v c="$1" '$2 == c' "$GEN/MANIFEST.tsv"
}

# feeds NAME FEED: "HOW FILE" lines, the ways one archive is fed.
feeds() {
	case $2 in
	gz+raw)
		gzip -c "$GEN/$1" >"$BATS_TEST_TMPDIR/in.gz"
		echo "gzip $BATS_TEST_TMPDIR/in.gz"
		echo "raw $GEN/$1" ;;
	raw)
		echo "raw $GEN/$1" ;;
	esac
}

# config_for CONFIG: a config file with the row's [archive] settings.
config_for() {
	local c=$BATS_TEST_TMPDIR/conf.${1//[^A-Za-z0-9]/_} kv
	[[ -f $c ]] && echo "$c" && return
	cp "$CONF" "$c"
	if [[ $1 != - ]]; then
		echo "[archive]" >>"$c"
		for kv in ${1//,/ }; do
			echo "${kv%%=*} = ${kv#*=}" >>"$c"
		done
	fi
	echo "$c"
}

import_timed() {
	STATEKIT_CONFIG=$3 run --separate-stderr timeout 20 ws-import bot1 <"$1"
	[ "$status" -ne 124 ] || fail "$2: ws-import hung"
}

# check_reject WHAT FILE CONFIG REGEX: against the baselines $BEFORE (the
# workspace) and $OUTSIDE, taken once for a run of rejections.
check_reject() {
	local what=$1 in=$2 conf=$3 regex=$4 now
	import_timed "$in" "$what" "$conf"
	[ "$status" -eq 5 ] || fail "$what: exit $status, expected 5; stderr: $stderr"
	[[ $stderr != *$'\n'* && $stderr =~ ^ws-import:\ import\ \'bot1\':\ (.*)$ ]] ||
		fail "$what: stderr is not one 'ws-import: import 'bot1': ...' line: $stderr"
	[[ ${BASH_REMATCH[1]} =~ $regex ]] ||
		fail "$what: reason does not match '$regex': $stderr"
	[ -z "$output" ] || fail "$what: stdout: $output"
	now=$(ws_state "$WS/bot1")
	[[ $now == "$BEFORE" ]] || fail "$what: workspace changed: $(diff <(echo "$BEFORE") <(echo "$now"))"
	assert_no_staging
	[ -z "$(ls -A "$ST/tmp")" ] || fail "$what: left in $ST/tmp: $(ls -A "$ST/tmp")"
	[ "$(journal_rows)" -eq 0 ] || fail "$what: journal not empty"
	now=$(outside)
	[[ $now == "$OUTSIDE" ]] ||
		fail "$what: something appeared outside: $(diff <(echo "$OUTSIDE") <(echo "$now"))"
}

# The tree as the manifest spells it (without contents and shared inodes).
listing() {
	(cd "$1" && find . -mindepth 1 \( -type f -printf 'f %P %s %m\n' \) -o \
		\( -type d -printf 'd %P %m\n' \) -o \( -type l -printf 'l %P %l\n' \) -o \
		-printf '? %P %y\n') | LC_ALL=C sort
}

# check_safe WHAT FILE CONFIG TREE: into a fresh sample workspace.
check_safe() {
	local what=$1 in=$2 conf=$3 want=$4 ws=$WS/bot1 l t p a b size mode sum now
	rm -rf "$ws"
	small_sample
	import_timed "$in" "$what" "$conf"
	[ "$status" -eq 0 ] || fail "$what: exit $status, expected 0; stderr: $stderr"
	[ -z "$output" ] || fail "$what: stdout: $output"
	[ -z "$(find "$ws" \( -type b -o -type c -o -type p -o -type s \))" ] ||
		fail "$what: device, fifo or socket created"
	[ -z "$(find "$ws" -perm /6000)" ] || fail "$what: setuid/setgid bit set"
	while IFS= read -r -d '' l; do
		case $(readlink -m "$l") in
		"$ws" | "$ws"/*) ;;
		*) fail "$what: symlink '$l' -> '$(readlink "$l")' resolves outside" ;;
		esac
	done < <(find "$ws" -type l -print0)
	[ -z "$(getfattr -R -d -m - --absolute-names "$ws" 2>/dev/null)" ] ||
		fail "$what: xattrs restored: $(getfattr -R -d -m - --absolute-names "$ws")"
	# exactly the tree the manifest names
	diff -u <(tr ';' '\n' <<<"$want" | grep -v '^h ' |
		sed -E 's/^(f .* [0-7]+) ([0-9a-f]{64}|-)$/\1/' | LC_ALL=C sort) \
		<(listing "$ws") || fail "$what: the tree is not the expected one"
	while IFS= read -r l; do
		case $l in
		"f "*)
			read -r t p size mode sum <<<"$l"
			if [[ $sum == - ]]; then
				[ "$(du -k "$ws/$p" | cut -f1)" -lt 1024 ] ||
					fail "$what: '$p' is not sparse"
			else
				[ "$(sha256sum <"$ws/$p" | cut -d' ' -f1)" = "$sum" ] ||
					fail "$what: '$p' has the wrong content"
			fi ;;
		"h "*)
			read -r t a b <<<"$l"
			[ "$(stat -c %i "$ws/$a")" = "$(stat -c %i "$ws/$b")" ] ||
				fail "$what: '$a' and '$b' are not one file" ;;
		esac
	done < <(tr ';' '\n' <<<"$want")
	assert_no_staging
	[ -z "$(ls -A "$ST/tmp")" ] || fail "$what: left in $ST/tmp"
	[ "$(journal_rows)" -eq 0 ] || fail "$what: journal not empty"
	now=$(outside)
	[[ $now == "$OUTSIDE" ]] ||
		fail "$what: something appeared outside: $(diff <(echo "$OUTSIDE") <(echo "$now"))"
	# the next rejection is checked against a fresh sample
	rm -rf "$ws"
	small_sample
	BEFORE=$(ws_state "$ws")
}

# run_class CLASS: every archive of the class, every way it is fed.
run_class() {
	local name cls expect feed config check note how in conf n=0
	BEFORE=$(ws_state "$WS/bot1")
	OUTSIDE=$(outside)
	while IFS=$'\t' read -r name cls expect feed config check note; do
		[[ $feed == gz+raw || $feed == raw ]] || fail "$name: unknown feed '$feed'"
		conf=$(config_for "$config")
		while read -r how in; do
			case $expect in
			REJECT) check_reject "$name ($how: $note)" "$in" "$conf" "$check" ;;
			EXTRACT-SAFE) check_safe "$name ($how: $note)" "$in" "$conf" "$check" ;;
			*) fail "$name: unknown expectation '$expect'" ;;
			esac
			n=$((n + 1))
		done < <(feeds "$name" "$feed")
	done < <(rows "$1")
	[ "$n" -gt 0 ] || fail "no archives of class '$1'"
}

@test "ws-import: path traversal ('../', 'a/../../x', in prefix, pax and GNU names) is refused" { run_class traversal; }
@test "ws-import: absolute names are refused" { run_class absolute; }
@test "ws-import: symlinks out of the workspace, and files written through links, are refused" { run_class symlink; }
@test "ws-import: symlink chains that escape in two steps are refused" { run_class symlink-chain; }
@test "ws-import: hardlinks out of the workspace, to later or missing entries, are refused" { run_class hardlink; }
@test "ws-import: devices, fifos and other entry types are refused" { run_class special; }
@test "ws-import: setuid and setgid bits are dropped" { run_class setid; }
@test "ws-import: bad header checksums are refused, never resynced past" { run_class checksum; }
@test "ws-import: truncated archives and data after the end are refused" { run_class truncation; }
@test "ws-import: pax header abuse is refused" { run_class pax; }
@test "ws-import: GNU long name and long link abuse is refused" { run_class gnu-long; }
@test "ws-import: bogus GNU and pax sparse maps are refused, huge sparse files stay sparse" { run_class sparse; }
@test "ws-import: compression bombs stop at the configured limits" { run_class bomb; }
@test "ws-import: duplicate entries replace names, never write through them" { run_class duplicate; }
@test "ws-import: malformed header fields are refused" { run_class header; }
@test "ws-import: damaged gzip layers are refused" { run_class gzip; }
@test "ws-import: damaged zstd layers are refused" { run_class zstd; }

@test "gen-hostile: every class has a test, the manifest names every file, output is deterministic" {
	# the generator's classes are the ones tested above
	run -0 "$BATS_TEST_DIRNAME/gen-hostile" --list
	diff -u <(tr ' \n' '\n\n' <<<"$CLASSES" | grep . | sort) <(echo "$output" | sort)
	for c in $CLASSES; do
		grep -q "^@test .*{ run_class $c; }\$" "$BATS_TEST_FILENAME" ||
			fail "class '$c' has no test"
		[[ $c == setid ]] || [ "$(rows "$c" | awk -F'\t' '$3 == "REJECT"' | wc -l)" -gt 0 ] ||
			fail "class '$c' has no REJECT case"
	done
	diff -u <(cd "$GEN" && ls -I MANIFEST.tsv | LC_ALL=C sort) \
		<(grep -v '^#' "$GEN/MANIFEST.tsv" | cut -f1 | LC_ALL=C sort)
	# a second run writes the same bytes; --no-manifest only the archives
	"$BATS_TEST_DIRNAME/gen-hostile" "$BATS_TEST_TMPDIR/again"
	diff -r "$GEN" "$BATS_TEST_TMPDIR/again"
	run -0 "$BATS_TEST_DIRNAME/gen-hostile" --no-manifest "$BATS_TEST_TMPDIR/seeds"
	[ -z "$output" ]
	diff <(cd "$GEN" && ls -I MANIFEST.tsv) <(ls "$BATS_TEST_TMPDIR/seeds")
	run -0 "$BATS_TEST_DIRNAME/gen-hostile" --no-manifest --tar-only "$BATS_TEST_TMPDIR/tars"
	diff <(cd "$GEN" && ls -d -- *.tar) <(ls "$BATS_TEST_TMPDIR/tars")
	run -2 "$BATS_TEST_DIRNAME/gen-hostile"
	[[ $output == "usage: gen-hostile"* ]]
}
