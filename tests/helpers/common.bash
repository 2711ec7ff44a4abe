# shellcheck shell=bash
# Shared setup for the bats suites: a private state directory and config per
# test, the built binaries on PATH, and a few assertions about trees.
bats_require_minimum_version 1.5.0
load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BIN=$REPO/${SK_BUILD:-build}/bin
CORPUS=${SK_CORPUS:-$REPO/../shared/corpus}
PATH=$BIN:$PATH

# A fresh state dir and config per test; workspaces under $WS/<bot>.
sk_setup() {
	[[ -x $BIN/ws-export ]] || fail "$BIN/ws-export is missing: run make first"
	ST=$BATS_TEST_TMPDIR/state
	WS=$ST/workspaces
	CONF=$BATS_TEST_TMPDIR/statekit.ini
	mkdir -p "$WS"
	cat >"$CONF" <<-INI
	[state]
	dir = $ST
	INI
	export STATEKIT_CONFIG=$CONF
	unset STATEKIT_FAULT
}

# Append lines to the config (e.g. sk_conf "[workspace]" "keep = 2").
sk_conf() {
	printf '%s\n' "$@" >>"$CONF"
}

# A small workspace with a bit of everything export supports.
make_sample() {
	local w=$WS/$1
	mkdir -p "$w/src/lib" "$w/empty"
	printf 'hello\n' >"$w/hello.txt"
	seq 1 20000 >"$w/src/numbers.txt"
	printf 'int main(void) { return 0; }\n' >"$w/src/lib/main.c"
	ln -s hello.txt "$w/link-to-hello"
	ln -s ../hello.txt "$w/src/up-link"
	ln "$w/hello.txt" "$w/hard-hello"
	truncate -s 8M "$w/sparse.img"
	printf 'data' | dd of="$w/sparse.img" bs=1 seek=4000000 conv=notrunc status=none
	chmod 0640 "$w/src/lib/main.c"
	touch -d '2020-01-02 03:04:05' "$w/hello.txt"
}

# A listing that captures names, types, modes, sizes, link targets and file
# contents: two trees are equal when their fingerprints are.
tree_fingerprint() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %s %l %U:%G\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# A workspace as a rejected import must leave it: its fingerprint, and the
# inode and mtime of the root and of every entry (an import that replaced a
# file with an identical copy changed something too).
ws_state() {
	tree_fingerprint "$1"
	stat -c 'root %i %Y %a %U' "$1"
	(cd "$1" && find . -exec stat -c '%n %i %Y' {} + | LC_ALL=C sort)
}

# Nothing named like statekit staging may remain next to the workspaces.
assert_no_staging() {
	local left
	left=$(find "${1:-$WS}" -maxdepth 1 -name '.*.statekit-*' 2>/dev/null)
	[[ -z $left ]] || fail "staging left behind: $left"
}

# The journal must be empty once a command has finished or been repaired.
journal_rows() {
	sqlite3 "$ST/index.db" 'SELECT count(*) FROM journal' 2>/dev/null || echo 0
}

# Record the bot's stops and starts ("stop BOT", "start BOT") in $EVENTS
# through the config's hooks.
sk_hooks() {
	EVENTS=$BATS_TEST_TMPDIR/events
	sk_conf "[workspace]" \
		"stop_command = echo stop \$1 >> $EVENTS" \
		"start_command = echo start \$1 >> $EVENTS"
}

# Kill the background processes this test started (pids in $BG_PIDS).
kill_bg() {
	local p
	for p in ${BG_PIDS:-}; do
		kill -9 "$p" 2>/dev/null || true
	done
}
