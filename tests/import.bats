#!/usr/bin/env bats
# ws-import: all or nothing. What a good archive does to the workspace
# (replace, --merge, create), the codecs and tar dialects it reads, and the
# damaged and hostile archives it must refuse whole with exit 5: the
# workspace byte-for-byte unchanged, no staging, an empty journal, nothing
# created outside the workspace.

load helpers/common

# One sample workspace and its archive for the whole file; each test gets a
# copy of both.
setup_file() {
	local st=$BATS_FILE_TMPDIR/state
	mkdir -p "$st/workspaces"
	printf '[state]\ndir = %s\n' "$st" >"$BATS_FILE_TMPDIR/statekit.ini"
	WS=$st/workspaces make_sample sample
	head -c 200000 /dev/urandom >"$st/workspaces/sample/random.bin"
	STATEKIT_CONFIG=$BATS_FILE_TMPDIR/statekit.ini ws-export sample >"$BATS_FILE_TMPDIR/good.tgz"
	export SAMPLE=$st/workspaces/sample GOOD=$BATS_FILE_TMPDIR/good.tgz
}

setup() {
	sk_setup
	EV=$BATS_TEST_TMPDIR/events
	cp -a "$SAMPLE" "$WS/bot1"
	cp "$GOOD" "$BATS_TEST_TMPDIR/good.tgz"
	# What the first command creates, so that snapshots of the test
	# directory taken before and after an import see only real changes.
	mkdir -p "$ST/locks" "$ST/tmp"
	# the index too: some tests start two commands at once
	ws-preserve --list >/dev/null
	BG=
}

teardown() {
	if [[ -n $BG ]]; then
		kill "$BG" 2>/dev/null || true
		wait "$BG" 2>/dev/null || true
	fi
}

hooks() {
	sk_conf "[workspace]" \
		"stop_command = echo stopped \$1 >> $EV" \
		"start_command = echo started \$1 >> $EV"
}

# Everything a rejected import could touch, in a form that changes if it
# did: the workspace's fingerprint, root inode, and every inode and mtime.
ws_state() {
	tree_fingerprint "$1"
	stat -c 'root %i %Y %a %U' "$1"
	(cd "$1" && find . -exec stat -c '%n %i %Y' {} + | LC_ALL=C sort)
}

# Every name under the test directory outside the workspace, except the
# index files whose WAL comes and goes; plus well-known escape targets.
outside() {
	find "$BATS_TEST_TMPDIR" -path "$WS/bot1" -prune -o ! -name 'index.db*' \
		! -path "$EV" ! -name 'separate-stderr-*' -printf '%p %y\n' | LC_ALL=C sort
	local p
	for p in /tmp/x /tmp/moo /tmp/evil.txt /etc/x /moo /escape /b; do
		stat -c "$p %i %Y" "$p" 2>/dev/null || echo "$p absent"
	done
}

# expect_reject FILE REGEX [ws-import options...]: import FILE (on stdin) into
# bot1 and check that it is refused whole.
expect_reject() {
	local file=$1 re=$2 before out
	shift 2
	before=$(ws_state "$WS/bot1")
	out=$(outside)
	run --separate-stderr timeout 20 ws-import "$@" bot1 <"$file"
	[ "$status" -ne 124 ] || fail "ws-import hung"
	[ "$status" -eq 5 ] || fail "exit $status, expected 5; stderr: $stderr"
	[[ $stderr =~ ^ws-import:\ import\ \'bot1\':\ .*$re ]] ||
		fail "stderr does not match '$re': $stderr"
	[ -z "$output" ] || fail "stdout not empty: $output"
	diff -u <(echo "$before") <(ws_state "$WS/bot1") || fail "the workspace changed"
	assert_no_staging
	[ -z "$(ls -A "$ST/tmp")" ] || fail "left in $ST/tmp: $(ls -A "$ST/tmp")"
	[ "$(journal_rows)" -eq 0 ] || fail "journal not empty"
	diff -u <(echo "$out") <(outside) || fail "something changed outside the workspace"
}

# mktar OUT: build OUT with python's tarfile from the snippet on stdin, which
# may call f(name, data), d(name), sym(name, target), hard(name, target),
# node(name, type) and add(TarInfo-args...). GZ=1 in the environment gzips it.
mktar() {
	local snippet
	snippet=$(cat)
	python3 - "$1" "$snippet" <<-'PY'
		import gzip, io, sys, tarfile
		out, body = sys.argv[1], sys.argv[2]
		buf = io.BytesIO()
		t = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
		def add(name, type=tarfile.REGTYPE, data=b"", linkname="", mode=0o644,
		        uid=0, gid=0, devmajor=0, devminor=0):
		    ti = tarfile.TarInfo(name)
		    ti.type, ti.mode, ti.uid, ti.gid = type, mode, uid, gid
		    ti.mtime, ti.linkname = 1600000000, linkname
		    ti.devmajor, ti.devminor = devmajor, devminor
		    if type == tarfile.REGTYPE:
		        ti.size = len(data)
		        t.addfile(ti, io.BytesIO(data))
		    else:
		        t.addfile(ti)
		def f(name, data=b"x\n", **kw): add(name, data=data, **kw)
		def d(name, **kw): add(name, tarfile.DIRTYPE, mode=kw.pop("mode", 0o755), **kw)
		def sym(name, target): add(name, tarfile.SYMTYPE, linkname=target, mode=0o777)
		def hard(name, target): add(name, tarfile.LNKTYPE, linkname=target)
		def node(name, type, **kw): add(name, type, **kw)
		exec(body)
		t.close()
		data = buf.getvalue()
		open(out, "wb").write(gzip.compress(data))
	PY
}

# ---- good archives ----

@test "ws-import: import replaces the workspace entirely" {
	mkdir -p "$WS/bot2/olddir"
	echo old >"$WS/bot2/only-old"
	echo old >"$WS/bot2/hello.txt"
	echo old >"$WS/bot2/olddir/f"
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -z "$output" ]
	[ ! -e "$WS/bot2/only-old" ]
	[ ! -e "$WS/bot2/olddir" ]
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-import: --merge keeps files the archive does not name and replaces those it does" {
	mkdir -p "$WS/bot2/olddir" "$WS/bot2/src"
	echo old >"$WS/bot2/only-old"
	echo old >"$WS/bot2/olddir/f"
	echo old-numbers >"$WS/bot2/src/numbers.txt"
	echo old-hello >"$WS/bot2/hello.txt"
	# a second name for the old hello.txt: the merge must not write into it
	ln "$WS/bot2/hello.txt" "$BATS_TEST_TMPDIR/peek"
	run --separate-stderr ws-import --merge -i "$BATS_TEST_TMPDIR/good.tgz" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(cat "$WS/bot2/only-old")" = old ]
	[ "$(cat "$WS/bot2/olddir/f")" = old ]
	cmp "$WS/bot1/hello.txt" "$WS/bot2/hello.txt"
	cmp "$WS/bot1/src/numbers.txt" "$WS/bot2/src/numbers.txt"
	cmp "$WS/bot1/random.bin" "$WS/bot2/random.bin"
	[ "$(cat "$BATS_TEST_TMPDIR/peek")" = old-hello ] || fail "merge wrote into the old file"
	# everything from the archive is there, exactly
	rm -r "$WS/bot2/only-old" "$WS/bot2/olddir"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-import: --merge with a damaged archive leaves the workspace untouched" {
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/bad.tgz"
	echo extra >"$WS/bot1/extra"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "truncated gzip stream" --merge
}

@test "ws-import: --merge never writes through a symlink the workspace holds" {
	mkdir "$BATS_TEST_TMPDIR/outside"
	ln -s "$BATS_TEST_TMPDIR/outside" "$WS/bot1/evil"
	ln -s ../../../outside "$WS/bot1/evil-rel"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("evil/x", b"escaped\n")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "'evil/x' passes through 'evil'" --merge
	mktar "$BATS_TEST_TMPDIR/b.tgz" <<-'PY'
		f("evil-rel/x", b"escaped\n")
	PY
	expect_reject "$BATS_TEST_TMPDIR/b.tgz" "passes through" --merge
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/outside")" ] || fail "written outside"
}

@test "ws-import: --merge refuses an archive symlink that leaves through a workspace symlink" {
	ln -s /etc "$WS/bot1/esc"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		sym("lnk", "esc/passwd")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink 'lnk' -> 'esc/passwd' resolves outside" --merge
}

@test "ws-import: a new bot's workspace is created" {
	[ ! -e "$WS/newbot" ]
	run --separate-stderr ws-import newbot <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/newbot")
	# and with its parent directories, when the configured path has some
	sk_conf "[workspace]" "path = $BATS_TEST_TMPDIR/deep/er/%s/data"
	run --separate-stderr ws-import newbot <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$BATS_TEST_TMPDIR/deep/er/newbot/data")
	assert_no_staging "$BATS_TEST_TMPDIR/deep/er/newbot"
}

@test "ws-import: the workspace root keeps its owner and mode" {
	mkdir -p "$WS/bot2"
	chown 1234:5678 "$WS/bot2"
	chmod 0750 "$WS/bot2"
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c '%a %u:%g' "$WS/bot2")" = "750 1234:5678" ]
	run --separate-stderr ws-import --merge bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c '%a %u:%g' "$WS/bot2")" = "750 1234:5678" ]
}

@test "ws-import: the codec is detected: gzip, zstd and plain tar" {
	ws-export -z zstd -o "$BATS_TEST_TMPDIR/a.tar.zst" bot1
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	for f in good.tgz:gzip a.tar.zst:zstd a.tar:none; do
		rm -rf "$WS/bot2"
		run --separate-stderr ws-import --json bot2 <"$BATS_TEST_TMPDIR/${f%%:*}"
		[ "$status" -eq 0 ] || fail "$f: exit $status: $stderr"
		[[ $output =~ ^\{\"bot\":\"bot2\",\"entries\":[0-9]+,\"bytes\":[0-9]+,\"codec\":\"${f#*:}\"\}$ ]] ||
			fail "$f: --json printed: $output"
		diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	done
}

@test "ws-import: multi-frame zstd, skippable frames and multi-member gzip from other tools are read" {
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	t=$BATS_TEST_TMPDIR/a.tar
	{ head -c 7777 "$t" | zstd -q -c; tail -c +7778 "$t" | zstd -q -c; } >"$BATS_TEST_TMPDIR/multi.zst"
	{ printf '\x50\x2a\x4d\x18\x04\x00\x00\x00skip'; zstd -q -c "$t"; } >"$BATS_TEST_TMPDIR/skip.zst"
	{ head -c 7777 "$t" | gzip -c; tail -c +7778 "$t" | gzip -c; gzip -c </dev/null; } \
		>"$BATS_TEST_TMPDIR/multi.gz"
	for f in multi.zst skip.zst multi.gz; do
		rm -rf "$WS/bot2"
		run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/$f" bot2
		[ "$status" -eq 0 ] || fail "$f: exit $status: $stderr"
		diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2") || fail "$f differs"
	done
}

@test "ws-import: --json counts entries and bytes" {
	mkdir -p "$WS/src1/d"
	printf 'abc' >"$WS/src1/d/a"
	printf '12345' >"$WS/src1/b"
	ws-export -o "$BATS_TEST_TMPDIR/s.tgz" src1
	run --separate-stderr ws-import --json -i "$BATS_TEST_TMPDIR/s.tgz" bot2
	[ "$status" -eq 0 ]
	[ "$output" = '{"bot":"bot2","entries":3,"bytes":8,"codec":"gzip"}' ]
}

@test "ws-import: GNU tar archives are accepted, './' prefixes and long names included" {
	src=$BATS_TEST_TMPDIR/src
	cp -a "$WS/bot1" "$src"
	long=$(printf 'n%.0s' {1..150})
	mkdir -p "$src/$long/deeper"
	echo long >"$src/$long/deeper/$long"
	ln -s "$long/deeper/$long" "$src/$(printf 'l%.0s' {1..120})"
	for fmt in gnu posix gnu+zstd; do
		rm -rf "$WS/bot2"
		case $fmt in
		gnu) tar --format=gnu -cf - -C "$src" . >"$BATS_TEST_TMPDIR/a.tar" ;;
		posix) tar --format=posix -czf - -C "$src" . >"$BATS_TEST_TMPDIR/a.tar" ;;
		gnu+zstd) tar --format=gnu --zstd -cf - -C "$src" . >"$BATS_TEST_TMPDIR/a.tar" ;;
		esac
		run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tar" bot2
		[ "$status" -eq 0 ] || fail "$fmt: exit $status: $stderr"
		diff -u <(tree_fingerprint "$src") <(tree_fingerprint "$WS/bot2") || fail "$fmt differs"
	done
}

@test "ws-import: GNU tar sparse files (old GNU and pax 1.0) keep their holes" {
	src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	truncate -s 64M "$src/sp"
	printf 'middle' | dd of="$src/sp" bs=1 seek=$((32 * 1024 * 1024)) conv=notrunc status=none
	printf 'end' | dd of="$src/sp" bs=1 seek=$((64 * 1024 * 1024 - 3)) conv=notrunc status=none
	for fmt in gnu posix; do
		rm -rf "$WS/bot2"
		tar --format=$fmt -S -czf "$BATS_TEST_TMPDIR/a.tgz" -C "$src" .
		run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
		[ "$status" -eq 0 ] || fail "$fmt: exit $status: $stderr"
		cmp "$src/sp" "$WS/bot2/sp"
		[ "$(du -k "$WS/bot2/sp" | cut -f1)" -lt 1024 ] || fail "$fmt: holes filled"
	done
}

@test "ws-import: a setuid or setgid file is imported without those bits" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("suid", mode=0o4755)
		f("sgid", mode=0o2755)
		f("both", mode=0o6777)
		d("sgid-dir", mode=0o2775)
		f("sticky-dir-file", mode=0o1644)
	PY
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/a.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %a "$WS/bot2/suid")" = 755 ]
	[ "$(stat -c %a "$WS/bot2/sgid")" = 755 ]
	[ "$(stat -c %a "$WS/bot2/both")" = 777 ]
	[ "$(stat -c %a "$WS/bot2/sgid-dir")" = 775 ]
	[ -z "$(find "$WS/bot2" -perm /6000)" ]
}

@test "ws-import: numeric owners are kept when running as root" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("owned", uid=1234, gid=5678)
		d("dir", uid=2345, gid=6789)
		sym("link", "owned")
		import tarfile
		add("link2", tarfile.SYMTYPE, linkname="owned", uid=3456, gid=7890, mode=0o777)
	PY
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/a.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %u:%g "$WS/bot2/owned")" = 1234:5678 ]
	[ "$(stat -c %u:%g "$WS/bot2/dir")" = 2345:6789 ]
	[ "$(stat -c %u:%g "$WS/bot2/link2")" = 3456:7890 ]
}

@test "ws-import: a file after a symlink of the same name replaces the link, not its target" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("target", b"original\n")
		sym("moo", "target")
		f("moo", b"replaced\n")
	PY
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/a.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(cat "$WS/bot2/target")" = original ]
	[ ! -L "$WS/bot2/moo" ]
	[ "$(cat "$WS/bot2/moo")" = replaced ]
}

@test "ws-import: stop_command runs only around the swap, and not at all for a refused archive" {
	hooks
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/bad.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "truncated"
	[ ! -e "$EV" ] || fail "a refused import stopped the bot: $(cat "$EV")"
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ]
	[ "$(cat "$EV")" = "stopped bot2"$'\n'"started bot2" ]
}

@test "ws-import: a failing stop_command fails the import, keeps the workspace and starts the bot" {
	sk_conf "[workspace]" \
		"stop_command = echo stopped \$1 >> $EV; exit 3" \
		"start_command = echo started \$1 >> $EV"
	mkdir -p "$BATS_TEST_TMPDIR/src"
	echo new >"$BATS_TEST_TMPDIR/src/new"
	tar -czf "$BATS_TEST_TMPDIR/new.tgz" -C "$BATS_TEST_TMPDIR/src" .
	before=$(ws_state "$WS/bot1")
	run --separate-stderr ws-import bot1 <"$BATS_TEST_TMPDIR/new.tgz"
	[ "$status" -eq 1 ]
	[[ $stderr == *"stop_command failed (exit status 3)"* ]] || fail "stderr: $stderr"
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1" ]
	diff -u <(echo "$before") <(ws_state "$WS/bot1")
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-import: --merge stops the bot for the whole import and starts it even on failure" {
	hooks
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/bad.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "truncated" --merge
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1" ]
}

# ---- damaged input: exit 5, nothing changed ----

@test "ws-import: truncated gzip stream leaves the workspace untouched" {
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/bad.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "truncated gzip stream"
}

@test "ws-import: a gzip stream cut before its trailer is refused" {
	size=$(stat -c %s "$BATS_TEST_TMPDIR/good.tgz")
	head -c $((size - 4)) "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/bad.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "truncated gzip stream"
}

@test "ws-import: a flipped byte in the middle of a gzip stream is refused" {
	cp "$BATS_TEST_TMPDIR/good.tgz" "$BATS_TEST_TMPDIR/bad.tgz"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/bad.tgz")
	byte=$(dd if="$BATS_TEST_TMPDIR/bad.tgz" bs=1 skip=$((size / 2)) count=1 status=none | od -An -tu1)
	printf "\\x$(printf %02x $((byte ^ 0x55)))" |
		dd of="$BATS_TEST_TMPDIR/bad.tgz" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run cmp -s "$BATS_TEST_TMPDIR/good.tgz" "$BATS_TEST_TMPDIR/bad.tgz"
	[ "$status" -eq 1 ]
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "(gzip|tar|header|checksum|offset)"
}

@test "ws-import: a bad gzip CRC is refused" {
	cp "$BATS_TEST_TMPDIR/good.tgz" "$BATS_TEST_TMPDIR/bad.tgz"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/bad.tgz")
	crc=$(tail -c 8 "$BATS_TEST_TMPDIR/bad.tgz" | head -c 4 | od -An -tx1 | tr -d ' ')
	new=0000ffff
	[ "$crc" != "$new" ] || new=ffff0000
	printf "$(sed 's/../\\x&/g' <<<"$new")" |
		dd of="$BATS_TEST_TMPDIR/bad.tgz" bs=1 seek=$((size - 8)) conv=notrunc status=none
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "gzip: incorrect data check"
}

@test "ws-import: a bad gzip ISIZE is refused" {
	cp "$BATS_TEST_TMPDIR/good.tgz" "$BATS_TEST_TMPDIR/bad.tgz"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/bad.tgz")
	isize=$(tail -c 4 "$BATS_TEST_TMPDIR/bad.tgz" | od -An -tu4 | tr -d ' ')
	python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack("<I", (int(sys.argv[1]) + 512) & 0xffffffff))' \
		"$isize" | dd of="$BATS_TEST_TMPDIR/bad.tgz" bs=1 seek=$((size - 4)) conv=notrunc status=none
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "gzip: incorrect length check"
}

@test "ws-import: a bad CRC in a middle member of a multi-member gzip stream is refused" {
	seq 1 600000 >"$WS/bot1/big.txt"
	ws-export -j 2 -o "$BATS_TEST_TMPDIR/multi.tgz" bot1
	# the end of the first member, from zlib's view of the stream
	end=$(python3 -c '
import sys, zlib
data = open(sys.argv[1], "rb").read()
d = zlib.decompressobj(31); d.decompress(data)
assert d.eof and d.unused_data, "not multi-member"
print(len(data) - len(d.unused_data))' "$BATS_TEST_TMPDIR/multi.tgz")
	cp "$BATS_TEST_TMPDIR/multi.tgz" "$BATS_TEST_TMPDIR/bad.tgz"
	printf '\xde\xad\xbe\xef' | dd of="$BATS_TEST_TMPDIR/bad.tgz" bs=1 seek=$((end - 8)) \
		conv=notrunc status=none
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "gzip: incorrect data check"
}

@test "ws-import: trailing garbage after a valid gzip stream is refused" {
	{ cat "$BATS_TEST_TMPDIR/good.tgz"; echo 'garbage'; } >"$BATS_TEST_TMPDIR/bad.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad.tgz" "trailing garbage after gzip member"
	# even trailing zeros: gzip -t would warn, statekit refuses
	{ cat "$BATS_TEST_TMPDIR/good.tgz"; head -c 1024 /dev/zero; } >"$BATS_TEST_TMPDIR/bad2.tgz"
	expect_reject "$BATS_TEST_TMPDIR/bad2.tgz" "trailing garbage"
}

@test "ws-import: a truncated zstd stream is refused" {
	ws-export -z zstd -o "$BATS_TEST_TMPDIR/a.zst" bot1
	size=$(stat -c %s "$BATS_TEST_TMPDIR/a.zst")
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/a.zst" >"$BATS_TEST_TMPDIR/bad.zst"
	expect_reject "$BATS_TEST_TMPDIR/bad.zst" "truncated zstd stream"
	head -c $((size - 2)) "$BATS_TEST_TMPDIR/a.zst" >"$BATS_TEST_TMPDIR/bad2.zst"
	expect_reject "$BATS_TEST_TMPDIR/bad2.zst" "truncated zstd stream"
}

@test "ws-import: a zstd stream with a flipped byte is refused" {
	ws-export -z zstd -o "$BATS_TEST_TMPDIR/bad.zst" bot1
	size=$(stat -c %s "$BATS_TEST_TMPDIR/bad.zst")
	byte=$(dd if="$BATS_TEST_TMPDIR/bad.zst" bs=1 skip=$((size / 2)) count=1 status=none | od -An -tu1)
	printf "\\x$(printf %02x $((byte ^ 0x55)))" |
		dd of="$BATS_TEST_TMPDIR/bad.zst" bs=1 seek=$((size / 2)) conv=notrunc status=none
	expect_reject "$BATS_TEST_TMPDIR/bad.zst" "(zstd|tar|header|checksum|offset)"
}

@test "ws-import: a zstd frame without a checksum is refused" {
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	zstd -q --no-check -c "$BATS_TEST_TMPDIR/a.tar" >"$BATS_TEST_TMPDIR/bad.zst"
	expect_reject "$BATS_TEST_TMPDIR/bad.zst" "zstd frame without checksum"
	# the same data with a checksum is fine
	zstd -q --check -c "$BATS_TEST_TMPDIR/a.tar" >"$BATS_TEST_TMPDIR/ok.zst"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/ok.zst" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
}

@test "ws-import: trailing garbage after a zstd frame is refused" {
	ws-export -z zstd -o "$BATS_TEST_TMPDIR/a.zst" bot1
	{ cat "$BATS_TEST_TMPDIR/a.zst"; echo garbage; } >"$BATS_TEST_TMPDIR/bad.zst"
	expect_reject "$BATS_TEST_TMPDIR/bad.zst" "trailing garbage after zstd frame"
}

@test "ws-import: bzip2, xz and compress streams are refused naming the format" {
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	bzip2 -c "$BATS_TEST_TMPDIR/a.tar" >"$BATS_TEST_TMPDIR/a.tar.bz2"
	expect_reject "$BATS_TEST_TMPDIR/a.tar.bz2" "unsupported compression 'bzip2'"
	xz -c "$BATS_TEST_TMPDIR/a.tar" >"$BATS_TEST_TMPDIR/a.tar.xz"
	expect_reject "$BATS_TEST_TMPDIR/a.tar.xz" "unsupported compression 'xz'"
}

@test "ws-import: gzip inside gzip is refused" {
	gzip -c "$BATS_TEST_TMPDIR/good.tgz" >"$BATS_TEST_TMPDIR/double.gz"
	expect_reject "$BATS_TEST_TMPDIR/double.gz" "."
}

@test "ws-import: empty input is refused" {
	: >"$BATS_TEST_TMPDIR/empty"
	expect_reject "$BATS_TEST_TMPDIR/empty" "empty input"
}

@test "ws-import: random bytes are refused" {
	head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/random"
	# make sure it does not start like gzip or zstd by chance
	printf 'XX' | dd of="$BATS_TEST_TMPDIR/random" bs=1 conv=notrunc status=none
	expect_reject "$BATS_TEST_TMPDIR/random" "(bad header checksum|unknown tar format)"
	gzip -c "$BATS_TEST_TMPDIR/random" >"$BATS_TEST_TMPDIR/random.gz"
	expect_reject "$BATS_TEST_TMPDIR/random.gz" "(bad header checksum|unknown tar format)"
}

@test "ws-import: a tar stream cut in a header, in data, or before the end marker is refused" {
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	size=$(stat -c %s "$BATS_TEST_TMPDIR/a.tar")
	head -c 700 "$BATS_TEST_TMPDIR/a.tar" | gzip >"$BATS_TEST_TMPDIR/b1.tgz"
	expect_reject "$BATS_TEST_TMPDIR/b1.tgz" "[Tt]runcated"
	head -c $((size / 2)) "$BATS_TEST_TMPDIR/a.tar" | gzip >"$BATS_TEST_TMPDIR/b2.tgz"
	expect_reject "$BATS_TEST_TMPDIR/b2.tgz" "[Tt]runcated"
	# everything up to the first of the two zero blocks
	python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
t.getmembers()
sys.stdout.buffer.write(open(sys.argv[1], "rb").read()[:t.offset])' \
		"$BATS_TEST_TMPDIR/a.tar" | gzip >"$BATS_TEST_TMPDIR/b3.tgz"
	expect_reject "$BATS_TEST_TMPDIR/b3.tgz" "missing end-of-archive marker"
	# and with one of the two zero blocks
	python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
t.getmembers()
sys.stdout.buffer.write(open(sys.argv[1], "rb").read()[:t.offset + 512])' \
		"$BATS_TEST_TMPDIR/a.tar" | gzip >"$BATS_TEST_TMPDIR/b4.tgz"
	expect_reject "$BATS_TEST_TMPDIR/b4.tgz" "missing end-of-archive marker"
}

@test "ws-import: a tar header with a bad checksum is refused, not skipped" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("first")
		f("second")
		f("third")
	PY
	python3 - "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		import gzip, sys
		d = bytearray(gzip.decompress(open(sys.argv[1], "rb").read()))
		# the second header: the checksum field of block 2
		d[1024 + 148:1024 + 156] = b"0000000\0"
		open(sys.argv[1], "wb").write(gzip.compress(bytes(d)))
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "bad header checksum at offset 1024"
}

# ---- hostile archives ----

@test "ws-import: an absolute name is refused" {
	export OUTP=$BATS_TEST_TMPDIR/abs-escape
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		import os
		f("ok")
		f(os.environ["OUTP"])
		f("/tmp/x")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "absolute name '$OUTP'"
	[ ! -e "$OUTP" ]
}

@test "ws-import: a '..' name is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		f("../escape")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "name '../escape' contains '..'"
	[ ! -e "$WS/escape" ]
}

@test "ws-import: a name that climbs out through 'a/../../b' is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("a")
		f("a/../../b")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "name 'a/../../b' contains '..'"
	[ ! -e "$WS/b" ]
}

@test "ws-import: a '..' name that stays inside is refused too" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("a")
		f("a/../b")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "contains '..'"
}

@test "ws-import: a symlink to /etc and a file through it are refused" {
	probe=statekit-probe-$$-$RANDOM
	export probe
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		import os
		sym("link", "/etc")
		f("link/" + os.environ["probe"])
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink 'link' -> '/etc' points outside the workspace"
	[ ! -e "/etc/$probe" ]
}

@test "ws-import: a relative symlink out and a file through it are refused" {
	mkdir "$BATS_TEST_TMPDIR/outside"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		sym("link", "../../../outside")
		f("link/x")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "points outside the workspace"
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/outside")" ]
}

@test "ws-import: a symlink 'up' -> '../../outside' is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		sym("up", "../../outside")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink 'up' -> '../../outside' points outside"
}

@test "ws-import: a deep symlink that climbs one level too far is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("a"); d("a/b")
		sym("a/b/fine", "../../ok")
		sym("a/b/bad", "../../../x")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink 'a/b/bad' -> '../../../x'"
}

@test "ws-import: a symlink chain cur -> . and par -> cur/.. is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		sym("cur", ".")
		sym("par", "cur/..")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink 'par' -> 'cur/..' resolves outside the workspace"
}

@test "ws-import: a symlink chain with a file through it is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		sym("cur", ".")
		sym("par", "cur/..")
		f("par/moo")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "(passes through|outside)"
	[ ! -e "$WS/moo" ]
}

@test "ws-import: a file through a symlink that stays inside is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("real")
		sym("alias", "real")
		f("alias/x")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "'alias/x' passes through 'alias', which is not a directory"
}

@test "ws-import: a symlink loop is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		sym("a", "b/x")
		sym("b", "a/y")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "symlink .a. -> .b/x.: a chain of more than 40 links \\(a loop\\?\\)"
}

@test "ws-import: a hardlink to /etc/passwd is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		hard("pw", "/etc/passwd")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "hardlink 'pw'.*absolute name '/etc/passwd'"
}

@test "ws-import: a hardlink with '..' is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		hard("h", "../bot1/hello.txt")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "hardlink 'h'.*contains '..'"
}

@test "ws-import: a hardlink to a name not earlier in the archive is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		hard("early", "later")
		f("later")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "hardlink 'early' -> 'later' does not name an earlier file"
}

@test "ws-import: --merge: a hardlink to a workspace file the archive does not hold is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		hard("h", "hello.txt")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "does not name an earlier file" --merge
}

@test "ws-import: a hardlink to a directory or a symlink of the archive is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("dir")
		hard("h", "dir")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "does not name an earlier file"
	mktar "$BATS_TEST_TMPDIR/b.tgz" <<-'PY'
		f("t")
		sym("s", "t")
		hard("h", "s")
	PY
	expect_reject "$BATS_TEST_TMPDIR/b.tgz" "does not name an earlier file"
}

# A name the archive first writes as a file and then replaces must not stay a
# hardlink target: linking it would hardlink whatever replaced it.
@test "ws-import: a hardlink to a name the archive turned into a symlink is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("sub"); d("sub/deep")
		f("sub/deep/a")
		# fine where it is: sub/deep/../../outside is the workspace's outside
		sym("sub/deep/a", "../../outside")
		# the same link inode at the top would point two levels out
		hard("h", "sub/deep/a")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "hardlink 'h'"
	[ ! -L "$WS/bot1/h" ]
}

@test "ws-import: a hardlink to a name the archive turned into a directory is refused with 5" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("a")
		d("a")
		hard("h", "a")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "hardlink 'h'"
}

@test "ws-import: a character device is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		node("null", tarfile.CHRTYPE, devmajor=1, devminor=3)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "character device"
}

@test "ws-import: a block device is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		node("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "block device"
}

@test "ws-import: a fifo is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		node("pipe", tarfile.FIFOTYPE)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "fifo"
}

@test "ws-import: an entry with an empty name is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		f("")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "empty name"
}

@test "ws-import: a file named '.' (the workspace root) is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f(".")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "names the workspace root"
}

@test "ws-import: a file that would replace a directory of the archive is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		d("d")
		f("d/inner")
		f("d")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "'d' would replace a directory"
}

@test "ws-import: a name of 300 components (over max_depth) is refused" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("a/" * 299 + "f")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "deeper than 256 levels \\(max_depth\\)"
	# 256 is allowed
	mktar "$BATS_TEST_TMPDIR/ok.tgz" <<-'PY'
		f("a/" * 255 + "f")
	PY
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/ok.tgz" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -f "$WS/bot2/$(printf 'a/%.0s' {1..255})f" ]
}

@test "ws-import: max_depth from the config is enforced" {
	sk_conf "[archive]" "max_depth = 3"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("a/b/c")
		f("a/b/c2/d")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "deeper than 3 levels"
}

@test "ws-import: a name longer than max_path is refused" {
	sk_conf "[archive]" "max_path = 100"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("ok")
		f("d/" + "x" * 148)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "too long"
	# a GNU long name as well
	python3 - "$BATS_TEST_TMPDIR/b.tgz" <<-'PY'
		import gzip, io, sys, tarfile
		b = io.BytesIO()
		with tarfile.open(fileobj=b, mode="w", format=tarfile.GNU_FORMAT) as t:
		    ti = tarfile.TarInfo("y" * 150); ti.size = 1
		    t.addfile(ti, io.BytesIO(b"y"))
		open(sys.argv[1], "wb").write(gzip.compress(b.getvalue()))
	PY
	expect_reject "$BATS_TEST_TMPDIR/b.tgz" "too long"
	# a symlink target as well
	mktar "$BATS_TEST_TMPDIR/c.tgz" <<-'PY'
		sym("s", "t" * 150)
	PY
	expect_reject "$BATS_TEST_TMPDIR/c.tgz" "too long"
}

@test "ws-import: more entries than max_entries are refused" {
	sk_conf "[archive]" "max_entries = 5"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		for i in range(10):
		    f("f%d" % i)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "more than 5 entries \\(max_entries\\)"
	mktar "$BATS_TEST_TMPDIR/ok.tgz" <<-'PY'
		for i in range(5):
		    f("f%d" % i)
	PY
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/ok.tgz" bot2
	[ "$status" -eq 0 ] || fail "5 entries with max_entries = 5: exit $status: $stderr"
}

@test "ws-import: more bytes than max_bytes are refused" {
	sk_conf "[archive]" "max_bytes = 1K"
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("big", b"z" * 4096)
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "more than 1024 bytes \\(max_bytes\\)"
	# the sum counts, not the largest file
	mktar "$BATS_TEST_TMPDIR/b.tgz" <<-'PY'
		for i in range(3):
		    f("f%d" % i, b"z" * 400)
	PY
	expect_reject "$BATS_TEST_TMPDIR/b.tgz" "max_bytes"
}

@test "ws-import: a declared size far past max_bytes is refused before any data is read" {
	sk_conf "[archive]" "max_bytes = 1M"
	python3 - "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		import gzip, sys, tarfile
		ti = tarfile.TarInfo("huge"); ti.size = 1 << 40
		hdr = ti.tobuf(tarfile.GNU_FORMAT)
		open(sys.argv[1], "wb").write(gzip.compress(hdr + bytes(512 * 4)))
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" "max_bytes"
}

# ---- locks ----

@test "ws-import: importing while another import holds the lock exits 4 naming its pid" {
	mkdir -p "$WS/bot2"
	echo mine >"$WS/bot2/f"
	before=$(tree_fingerprint "$WS/bot2")
	mkfifo "$BATS_TEST_TMPDIR/feed"
	ws-import bot2 <"$BATS_TEST_TMPDIR/feed" 3>&- &
	BG=$!
	exec 5>"$BATS_TEST_TMPDIR/feed"
	for _ in $(seq 100); do
		[[ -s $ST/locks/bot.bot2 ]] && break
		sleep 0.05
	done
	[ "$(cat "$ST/locks/bot.bot2")" = "$BG" ] || fail "lock holder: $(cat "$ST/locks/bot.bot2")"
	SECONDS=0
	run --separate-stderr ws-import bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	((SECONDS < 3)) || fail "took $SECONDS s: it waited"
	[ "$status" -eq 4 ] || fail "exit $status: $stderr"
	[[ $stderr == *"bot 'bot2' is busy: locked by pid $BG"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
	[ "$(tree_fingerprint "$WS/bot2")" = "$before" ]
	# the first import finishes normally
	cat "$BATS_TEST_TMPDIR/good.tgz" >&5
	exec 5>&-
	wait "$BG"
	BG=
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-import: a lock held by flock exits 4 at once naming the pid in the lock file" {
	flock -o -x "$ST/locks/bot.bot1" sleep 5 3>&- &
	BG=$!
	echo "$BG" >"$ST/locks/bot.bot1"
	for _ in $(seq 100); do
		flock -n "$ST/locks/bot.bot1" true || break
		sleep 0.05
	done
	before=$(ws_state "$WS/bot1")
	SECONDS=0
	run --separate-stderr ws-import bot1 <"$BATS_TEST_TMPDIR/good.tgz"
	((SECONDS < 3)) || fail "took $SECONDS s: it waited"
	[ "$status" -eq 4 ]
	[[ $stderr == *"locked by pid $BG"* ]] || fail "stderr: $stderr"
	[ "$(ws_state "$WS/bot1")" = "$before" ]
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-import: --wait waits for the lock and then succeeds" {
	flock -o -x "$ST/locks/bot.bot2" sleep 2 3>&- &
	BG=$!
	for _ in $(seq 100); do
		flock -n "$ST/locks/bot.bot2" true || break
		sleep 0.05
	done
	SECONDS=0
	run --separate-stderr ws-import --wait 10 bot2 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	((SECONDS >= 1)) || fail "did not wait for the lock"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
}

@test "ws-import: --wait gives up with exit 4 when the lock stays held" {
	flock -o -x "$ST/locks/bot.bot1" sleep 10 3>&- &
	BG=$!
	for _ in $(seq 100); do
		flock -n "$ST/locks/bot.bot1" true || break
		sleep 0.05
	done
	SECONDS=0
	run --separate-stderr ws-import --wait 1 bot1 <"$BATS_TEST_TMPDIR/good.tgz"
	[ "$status" -eq 4 ] || fail "exit $status: $stderr"
	((SECONDS >= 1 && SECONDS < 5)) || fail "waited $SECONDS s"
	[[ $stderr == *"is busy"* ]] || fail "stderr: $stderr"
}

# ---- long symlink targets: resolved whole, never given up on ----

# A directory chain 15 deep of 255-character names (a path of 3,840
# characters, inside max_path 4096) holding the link "L" and "c" -> ".", and
# 50 levels of "d" holding "l": targets whose resolution runs past PATH_MAX
# characters or 2,048 components before it is done.
long_links_tar() {
	LONGDIR=$(python3 -c 'print("/".join(chr(97 + i) * 255 for i in range(15)))')
	mktar "$1" <<-PY
		p = ""
		for i in range(15):
		    p += ("/" if p else "") + chr(97 + i) * 255
		    d(p)
		sym(p + "/c", ".")
		f(p + "/x", b"deep\n")
		q = ""
		for i in range(50):
		    q += ("/" if q else "") + "d"
		    d(q)
		$2
	PY
}

@test "ws-import: symlinks with 2,000-component targets that stay inside import as they are" {
	# 2,000 components below a link 50 levels down (3,999 characters)
	t1=$(python3 -c 'print("/".join(["a"] * 2000))')
	# 400 missing levels down and back, then through c -> . and up 14 of
	# the 15 levels to a file that exists
	t2=$(python3 -c 'print("a/" * 400 + "../" * 400 + "c/.." + "/.." * 14 + "/" + "o" * 255 + "/x")')
	long_links_tar "$BATS_TEST_TMPDIR/a.tgz" "sym(q + '/l', '$t1'); sym(p + '/L', '$t2')"
	run --separate-stderr ws-import bot1 <"$BATS_TEST_TMPDIR/a.tgz"
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	d50=$(printf 'd/%.0s' $(seq 50))
	[ "$(readlink "$WS/bot1/${d50}l")" = "$t1" ]
	# byte for byte, through the link's directory fd (the path is too long
	# for one system call)
	got=$(cd "$WS/bot1" && for n in ${LONGDIR//\// }; do cd "$n"; done && readlink L)
	[ "$got" = "$t2" ]
	[ "$(journal_rows)" -eq 0 ]
	assert_no_staging
}

@test "ws-import: a symlink that escapes through a link after many components is refused, exit 5" {
	# down 400 missing levels and back, c -> . then up all 15 levels and one more
	t=$(python3 -c 'print("a/" * 400 + "../" * 400 + "c/.." + "/.." * 15 + "/etc")')
	long_links_tar "$BATS_TEST_TMPDIR/a.tgz" "sym(p + '/L', '$t')"
	# names this long are shortened in the message: head...tail
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" \
		"symlink 'a{40}\\.\\.\\.o{58}/L' -> '(a/){20}\\.\\.\\.[./c]*/etc' resolves outside the workspace\$"
	# the same after 2,400 components: from 50 levels down, up to d/, then
	# through d/z and z, each 600 missing levels down and back up
	z=$(python3 -c 'print("a/" * 600 + "../" * 599 + "..")')
	t=$(python3 -c 'print("../" * 49 + "z/../z/../etc")')
	mktar "$BATS_TEST_TMPDIR/b.tgz" <<-PY
		q = ""
		for i in range(50):
		    q += ("/" if q else "") + "d"
		    d(q)
		sym("z", "$z")
		sym("d/z", "$z")
		sym(q + "/l", "$t")
	PY
	expect_reject "$BATS_TEST_TMPDIR/b.tgz" \
		"symlink '(d/){50}l' -> '[./]*z/\\.\\./z/\\.\\./etc' resolves outside the workspace\$"
}

@test "ws-import: a symlink target of max_path bytes, one past what the kernel keeps, is exit 5" {
	t=$(python3 -c 'print("x/" * 2047 + "xx")')
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-PY
		f("ok")
		sym("l", "$t")
	PY
	expect_reject "$BATS_TEST_TMPDIR/a.tgz" \
		"symlink 'l': target of 4096 bytes is longer than the system allows \\(4095\\)\$"
}

@test "ws-import: max_path past 4096 is a config error: export would write names no import takes" {
	sk_conf "[archive]" "max_path = 8192"
	run --separate-stderr ws-import -i /dev/null bot1
	[ "$status" -eq 2 ] || fail "exit $status: $stderr"
	[[ $stderr == *"bad value '8192' for 'max_path' (at most 4096, the longest path Linux takes)"* ]] ||
		fail "stderr: $stderr"
}

@test "ws-import: an escape sequence in a hostile name never reaches the terminal" {
	mktar "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		f("x\x1b]0;owned\x07\x1b[31m/../../etc/x")
	PY
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 5 ] || fail "exit $status: $stderr"
	[[ $stderr != *$'\e'* && $stderr != *$'\a'* ]] || fail "control bytes on stderr: $(printf %q "$stderr")"
	[[ $stderr == *"x?]0;owned??[31m/../../etc/x"* ]] || fail "stderr: $stderr"
}
