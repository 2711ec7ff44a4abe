#!/usr/bin/env bats
# ws-export: what it writes (a tar stream standard tools read, in each codec),
# that it round-trips through ws-import with everything the workspace holds,
# and that the bot is stopped around it and started again whatever happens.

load helpers/common

setup() {
	sk_setup
	EV=$BATS_TEST_TMPDIR/events
	MNT=
	# Create the index up front: the pipelines below start two commands at
	# once, and the first use of a fresh index has its own test.
	ws-preserve --list >/dev/null
}

teardown() {
	if [[ -n $MNT ]] && mountpoint -q "$MNT"; then
		umount "$MNT"
	fi
}

# stop_command/start_command that log to $EV, with the bot id they got as $1.
hooks() {
	sk_conf "[workspace]" \
		"stop_command = echo stopped \$1 >> $EV" \
		"start_command = echo started \$1 >> $EV"
}

# The sample plus owners, odd modes, awkward names and set mtimes.
make_rich() {
	local w=$WS/$1
	make_sample "$1"
	chown 1234:5678 "$w/src/lib/main.c"
	chown -h 42:43 "$w/link-to-hello"
	mkdir -m 0750 "$w/private"
	printf 'secret\n' >"$w/private/key"
	chmod 0600 "$w/private/key"
	: >"$w/empty-file"
	printf 'spaces\n' >"$w/name with spaces"
	printf 'newline\n' >"$w/new"$'\n'"line"
	printf 'latin1\n' >"$w/caf"$'\xe9'
	printf 'utf8\n' >"$w/caf"$'\xc3\xa9'"-utf8"
	chmod 1777 "$w/empty"
	chmod 0755 "$w/src/numbers.txt"
	touch -d '2019-05-06 07:08:09' "$w/src/lib"
	touch -h -d '2018-01-01 00:00:00' "$w/link-to-hello"
	touch -d '2017-03-04 05:06:07' "$w/private/key" "$w/private"
}

# name and mtime (seconds) of every entry, symlinks themselves included.
mtimes() {
	(cd "$1" && find . -mindepth 1 -exec stat -c '%n %Y' {} + | LC_ALL=C sort)
}

# Workspace export that must round-trip, via a pipe.
@test "ws-export: round trip keeps names, types, modes, sizes, links, contents and owners" {
	make_rich bot1
	run --separate-stderr bash -c 'set -o pipefail; ws-export bot1 | ws-import bot2'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -z "$stderr" ] || fail "unexpected stderr: $stderr"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	# The fingerprint covers what it should: spot-check a few fields.
	[ "$(stat -c '%u:%g %a' "$WS/bot2/src/lib/main.c")" = "1234:5678 640" ]
	[ "$(stat -c '%a' "$WS/bot2/empty")" = "1777" ]
	[ "$(readlink "$WS/bot2/src/up-link")" = "../hello.txt" ]
	[ "$(cat "$WS/bot2/caf"$'\xe9')" = "latin1" ]
	[ "$(cat "$WS/bot2/new"$'\n'"line")" = "newline" ]
	assert_no_staging
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: round trip keeps the mtimes of files, directories and symlinks" {
	make_rich bot1
	run --separate-stderr bash -c 'set -o pipefail; ws-export bot1 | ws-import bot2'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %Y "$WS/bot2/hello.txt")" = "$(date -d '2020-01-02 03:04:05' +%s)" ]
	[ "$(stat -c %Y "$WS/bot2/src/lib")" = "$(date -d '2019-05-06 07:08:09' +%s)" ]
	diff -u <(mtimes "$WS/bot1") <(mtimes "$WS/bot2")
}

@test "ws-export: round trip keeps an mtime before 1970" {
	mkdir -p "$WS/bot1"
	echo old >"$WS/bot1/old"
	touch -d '1960-01-01 00:00:00' "$WS/bot1/old"
	mkdir "$WS/bot1/olddir"
	touch -d '1969-12-31 23:59:59' "$WS/bot1/olddir"
	run --separate-stderr bash -c 'set -o pipefail; ws-export bot1 | ws-import bot2'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %Y "$WS/bot2/old")" = "$(date -d '1960-01-01 00:00:00' +%s)" ]
	[ "$(stat -c %Y "$WS/bot2/olddir")" = -1 ]
}

@test "ws-export: round trip keeps far-future mtimes, large ids and files over 8 GiB" {
	mkdir -p "$WS/bot1"
	echo future >"$WS/bot1/future"
	touch -d '2300-01-01 00:00:00' "$WS/bot1/future"
	echo id >"$WS/bot1/big-ids"
	chown 4000000000:3000001 "$WS/bot1/big-ids"
	truncate -s 10G "$WS/bot1/ten-gib"
	echo end >>"$WS/bot1/ten-gib"
	run --separate-stderr bash -c 'set -o pipefail; ws-export bot1 | ws-import bot2'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %Y "$WS/bot2/future")" = "$(date -d '2300-01-01 00:00:00' +%s)" ]
	[ "$(stat -c %u:%g "$WS/bot2/big-ids")" = 4000000000:3000001 ]
	[ "$(stat -c %s "$WS/bot2/ten-gib")" -eq $((10 * 1024 * 1024 * 1024 + 4)) ]
	[ "$(tail -c 4 "$WS/bot2/ten-gib")" = end ]
	[ "$(du -k "$WS/bot2/ten-gib" | cut -f1)" -lt 1024 ]
}

@test "ws-export: round trip keeps hardlinks as hardlinks" {
	make_sample bot1
	mkdir "$WS/bot1/d"
	ln "$WS/bot1/src/numbers.txt" "$WS/bot1/d/numbers-again"
	run --separate-stderr bash -c 'set -o pipefail; ws-export bot1 | ws-import bot2'
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ "$(stat -c %i "$WS/bot2/hello.txt")" = "$(stat -c %i "$WS/bot2/hard-hello")" ]
	[ "$(stat -c %h "$WS/bot2/hello.txt")" -eq 2 ]
	[ "$(stat -c %i "$WS/bot2/src/numbers.txt")" = "$(stat -c %i "$WS/bot2/d/numbers-again")" ]
	# and two different files stay two files
	[ "$(stat -c %i "$WS/bot2/hello.txt")" != "$(stat -c %i "$WS/bot2/src/numbers.txt")" ]
}

@test "ws-export: a sparse file keeps its holes, in the archive and after import" {
	make_sample bot1
	truncate -s 256M "$WS/bot1/all-hole"
	echo start >"$WS/bot1/hole-at-end"
	truncate -s 100M "$WS/bot1/hole-at-end"
	truncate -s 1G "$WS/bot1/huge-sparse"
	printf 'end' | dd of="$WS/bot1/huge-sparse" bs=1 seek=$((1024 * 1024 * 1024 - 3)) \
		conv=notrunc status=none
	# The plain tar carries the data blocks, not 1 GiB of zeros.
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1
	size=$(stat -c %s "$BATS_TEST_TMPDIR/a.tar")
	((size < 1024 * 1024)) || fail "plain archive is $size bytes: holes were stored"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tar" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	cmp "$WS/bot1/sparse.img" "$WS/bot2/sparse.img"
	[ "$(stat -c %s "$WS/bot2/huge-sparse")" -eq $((1024 * 1024 * 1024)) ]
	[ "$(tail -c 3 "$WS/bot2/huge-sparse")" = "end" ]
	[ "$(du -k "$WS/bot2/sparse.img" | cut -f1)" -lt 1024 ]
	[ "$(du -k "$WS/bot2/huge-sparse" | cut -f1)" -lt 1024 ]
	cmp "$WS/bot1/all-hole" "$WS/bot2/all-hole"
	cmp "$WS/bot1/hole-at-end" "$WS/bot2/hole-at-end"
	[ "$(du -k "$WS/bot2/all-hole" | cut -f1)" -lt 1024 ]
	[ "$(du -k "$WS/bot2/hole-at-end" | cut -f1)" -lt 1024 ]
}

@test "ws-export: the gzip archive is read by gzip and GNU tar" {
	make_rich bot1
	run --separate-stderr ws-export bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	ws-export bot1 >"$BATS_TEST_TMPDIR/a.tgz"
	gzip -t "$BATS_TEST_TMPDIR/a.tgz"
	tar -tzf "$BATS_TEST_TMPDIR/a.tgz" >"$BATS_TEST_TMPDIR/list"
	grep -qx 'src/lib/main.c' "$BATS_TEST_TMPDIR/list"
	grep -qx 'hard-hello' "$BATS_TEST_TMPDIR/list"
	mkdir "$BATS_TEST_TMPDIR/x"
	tar --numeric-owner -xzf "$BATS_TEST_TMPDIR/a.tgz" -C "$BATS_TEST_TMPDIR/x"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$BATS_TEST_TMPDIR/x")
}

@test "ws-export: -z zstd is read by zstd and GNU tar, with frame checksums" {
	make_rich bot1
	ws-export -z zstd bot1 >"$BATS_TEST_TMPDIR/a.tar.zst"
	[ "$(head -c 4 "$BATS_TEST_TMPDIR/a.tar.zst" | od -An -tx1 | tr -d ' ')" = "28b52ffd" ]
	zstd -qt "$BATS_TEST_TMPDIR/a.tar.zst"
	zstd -lv "$BATS_TEST_TMPDIR/a.tar.zst" 2>&1 | grep -q 'Check: XXH64'
	mkdir "$BATS_TEST_TMPDIR/x"
	tar --zstd --numeric-owner -xf "$BATS_TEST_TMPDIR/a.tar.zst" -C "$BATS_TEST_TMPDIR/x"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$BATS_TEST_TMPDIR/x")
}

@test "ws-export: -z none writes a plain tar that GNU tar reads" {
	make_rich bot1
	ws-export -z none bot1 >"$BATS_TEST_TMPDIR/a.tar"
	[ "$(dd if="$BATS_TEST_TMPDIR/a.tar" bs=1 skip=257 count=5 status=none)" = "ustar" ]
	mkdir "$BATS_TEST_TMPDIR/x"
	tar --numeric-owner -xf "$BATS_TEST_TMPDIR/a.tar" -C "$BATS_TEST_TMPDIR/x"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$BATS_TEST_TMPDIR/x")
}

@test "ws-export: [archive] compression sets the codec and -z wins over it" {
	make_sample bot1
	sk_conf "[archive]" "compression = zstd"
	ws-export bot1 >"$BATS_TEST_TMPDIR/a"
	zstd -qt "$BATS_TEST_TMPDIR/a"
	ws-export -z gzip bot1 >"$BATS_TEST_TMPDIR/b"
	gzip -t "$BATS_TEST_TMPDIR/b"
}

@test "ws-export: -o FILE is written atomically and stdout stays empty" {
	make_sample bot1
	mkdir "$BATS_TEST_TMPDIR/out"
	printf 'old\n' >"$BATS_TEST_TMPDIR/out/a.tgz"
	old_ino=$(stat -c %i "$BATS_TEST_TMPDIR/out/a.tgz")
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/out/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -z "$output" ] || fail "stdout not empty with -o"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	# renamed over the old file, not rewritten in place; no temp file left
	[ "$(stat -c %i "$BATS_TEST_TMPDIR/out/a.tgz")" != "$old_ino" ]
	[ "$(ls -A "$BATS_TEST_TMPDIR/out")" = "a.tgz" ]
	# workspace data: readable by its owner only
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/out/a.tgz")" = "600" ]
	gzip -t "$BATS_TEST_TMPDIR/out/a.tgz"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/out/a.tgz" bot2
	[ "$status" -eq 0 ]
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: an empty workspace gives a valid empty archive that imports" {
	mkdir -p "$WS/bot1"
	ws-export bot1 >"$BATS_TEST_TMPDIR/a.tgz"
	gzip -t "$BATS_TEST_TMPDIR/a.tgz"
	[ -z "$(tar -tzf "$BATS_TEST_TMPDIR/a.tgz")" ]
	mkdir -p "$WS/bot2"
	echo gone >"$WS/bot2/old"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -d "$WS/bot2" ]
	[ -z "$(ls -A "$WS/bot2")" ]
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot3
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[ -d "$WS/bot3" ]
	[ -z "$(ls -A "$WS/bot3")" ]
}

@test "ws-export: a missing workspace exits 3 naming the bot, writes nothing, runs no hook" {
	hooks
	printf 'old\n' >"$BATS_TEST_TMPDIR/keep.tgz"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/new.tgz" nobot
	[ "$status" -eq 3 ]
	[[ $stderr == *"'nobot'"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
	[ ! -e "$BATS_TEST_TMPDIR/new.tgz" ]
	[ -z "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.new.tgz*')" ]
	# a failed export leaves an existing output file as it was
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/keep.tgz" nobot
	[ "$status" -eq 3 ]
	[ "$(cat "$BATS_TEST_TMPDIR/keep.tgz")" = "old" ]
	run --separate-stderr ws-export nobot
	[ "$status" -eq 3 ]
	[ -z "$output" ] || fail "something reached stdout"
	[ ! -e "$EV" ] || fail "hooks ran: $(cat "$EV")"
	[ ! -e "$WS/nobot" ] || fail "export created the workspace"
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: fifos and sockets are skipped with a warning" {
	make_sample bot1
	mkfifo "$WS/bot1/fifo1"
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$WS/bot1/sock1"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[[ $stderr == *"ws-export: warning: skipping fifo 'fifo1'"* ]] || fail "stderr: $stderr"
	[[ $stderr == *"skipping socket 'sock1'"* ]] || fail "stderr: $stderr"
	tar -tzf "$BATS_TEST_TMPDIR/a.tgz" >"$BATS_TEST_TMPDIR/list"
	! grep -q 'fifo1\|sock1' "$BATS_TEST_TMPDIR/list" || fail "fifo or socket archived"
	grep -qx hello.txt "$BATS_TEST_TMPDIR/list"
	# it still imports: nothing else was lost
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	rm "$WS/bot1/fifo1" "$WS/bot1/sock1"
	diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2")
}

@test "ws-export: -q silences the skip warnings" {
	make_sample bot1
	mkfifo "$WS/bot1/fifo1"
	run --separate-stderr ws-export -q -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ]
	[ -z "$stderr" ] || fail "stderr with -q: $stderr"
	run --separate-stderr ws-export -q --progress -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ -z "$stderr" ] || fail "-q does not win over --progress: $stderr"
}

@test "ws-export: -v prints a summary on stderr" {
	make_sample bot1
	run --separate-stderr ws-export -v -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ]
	[[ $stderr == *"exported bot 'bot1'"* ]] || fail "stderr: $stderr"
	[ -z "$output" ]
}

@test "ws-export: a symlink out of the workspace is never followed" {
	make_sample bot1
	mkdir "$BATS_TEST_TMPDIR/outside"
	printf 'TOP-SECRET-%s\n' "$BATS_TEST_NUMBER" >"$BATS_TEST_TMPDIR/outside/secret"
	ln -s /etc/passwd "$WS/bot1/pw"
	ln -s "$BATS_TEST_TMPDIR/outside" "$WS/bot1/outdir"
	ln -s ../../../outside/secret "$WS/bot1/rel-out"
	ln -s src "$WS/bot1/srclink"
	ws-export -z none -o "$BATS_TEST_TMPDIR/a.tar" bot1 2>/dev/null
	# no file content from outside is in the archive
	! grep -q 'TOP-SECRET' "$BATS_TEST_TMPDIR/a.tar" || fail "a file outside was read"
	! grep -qF "$(head -1 /etc/passwd)" "$BATS_TEST_TMPDIR/a.tar" || fail "/etc/passwd was read"
	tar -tvf "$BATS_TEST_TMPDIR/a.tar" >"$BATS_TEST_TMPDIR/list"
	# if they are in the archive at all, they are links, not files or dirs
	! grep -E '^[-dh].* (pw|outdir|rel-out|outdir/secret)$' "$BATS_TEST_TMPDIR/list" ||
		fail "a link out was archived as a file or directory"
	# a link inside is archived as a link and not walked through
	grep -q '^l.* srclink -> src$' "$BATS_TEST_TMPDIR/list"
	! grep -q 'srclink/' "$BATS_TEST_TMPDIR/list" || fail "walked through a symlink"
}

# DESIGN rule 5 and ws-export(1): export emits only what import accepts and
# warns about the rest, so that every export imports.
@test "ws-export: a symlink out of the workspace is left out with a warning, so the export imports" {
	make_sample bot1
	ln -s /etc/passwd "$WS/bot1/pw"
	ln -s ../../outside "$WS/bot1/src/up2"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[[ $stderr == *"'pw'"* ]] || fail "no warning about 'pw': $stderr"
	[[ $stderr == *"'src/up2'"* ]] || fail "no warning about 'src/up2': $stderr"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	[ "$status" -eq 0 ] || fail "the export does not import: exit $status: $stderr"
	[ ! -L "$WS/bot2/pw" ]
	[ -L "$WS/bot2/src/up-link" ]
}

@test "ws-export: a symlink chain that resolves outside is left out, so the export imports" {
	make_sample bot1
	ln -s . "$WS/bot1/cur"
	ln -s cur/.. "$WS/bot1/par"
	mkdir "$WS/bot1/d"
	ln -s ../par "$WS/bot1/d/via"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[[ $stderr == *"'par'"* ]] || fail "no warning about 'par': $stderr"
	[[ $stderr == *"'d/via'"* ]] || fail "no warning about 'd/via': $stderr"
	[[ $stderr != *"'cur'"* ]] || fail "'cur' -> '.' stays inside: $stderr"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	[ "$status" -eq 0 ] || fail "the export does not import: exit $status: $stderr"
	[ "$(readlink "$WS/bot2/cur")" = . ]
	[ ! -e "$WS/bot2/par" ]
}

# Import refuses names past max_depth and max_path; an export must not hand
# it such an archive as a success (it could be the only backup of the bot):
# either it leaves those entries out with a warning and the rest imports, or
# it fails saying why.
export_must_import() {
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	if [ "$status" -eq 0 ]; then
		local warned=$stderr
		run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
		[ "$status" -eq 0 ] ||
			fail "ws-export exited 0 with an archive ws-import refuses: $stderr"
		[ "$(cat "$WS/bot2/hello.txt")" = hello ]
		[[ $warned =~ $1 ]] || fail "exported without a warning matching '$1': $warned"
	else
		[[ $stderr =~ $1 ]] || fail "exit $status without a message matching '$1': $stderr"
		[ ! -e "$BATS_TEST_TMPDIR/a.tgz" ]
	fi
}

@test "ws-export: a tree deeper than max_depth never makes an export that does not import" {
	make_sample bot1
	(cd "$WS/bot1" && for _ in $(seq 300); do mkdir d && cd d || exit 1; done && echo deep >f)
	export_must_import '(max_depth|deep|skipping)'
}

@test "ws-export: a path longer than max_path never makes an export that does not import" {
	make_sample bot1
	n=$(printf 'x%.0s' {1..200})
	(cd "$WS/bot1" && for _ in $(seq 25); do mkdir "$n" && cd "$n" || exit 1; done && echo long >f)
	export_must_import '(max_path|long|skipping)'
}

@test "ws-export: stop_command and start_command run around the export, with the bot id as \$1" {
	make_sample bot1
	# the id reaches the hook as an argument, never as shell text
	sk_conf "[workspace]" \
		"stop_command = echo \"stopped \$1 \$#\" >> $EV; ls -A $WS/bot1 | wc -l >> $EV" \
		"start_command = echo \"started \$1 \$#\" >> $EV"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	n=$(ls -A "$WS/bot1" | wc -l)
	[ "$(cat "$EV")" = "stopped bot1 1"$'\n'"$n"$'\n'"started bot1 1" ]
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: a failing stop_command fails the export and start_command still runs" {
	make_sample bot1
	sk_conf "[workspace]" \
		"stop_command = echo stopped \$1 >> $EV; exit 3" \
		"start_command = echo started \$1 >> $EV"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 1 ]
	[[ $stderr == *"stop_command failed (exit status 3)"* ]] || fail "stderr: $stderr"
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1" ]
	[ ! -e "$BATS_TEST_TMPDIR/a.tgz" ]
	[ -z "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name '.a.tgz*')" ] || fail "temp file left"
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: a failing start_command is exit 1 and the next command starts the bot" {
	make_sample bot1
	cp "$CONF" "$BATS_TEST_TMPDIR/good.ini"
	sk_conf "[workspace]" "stop_command = echo stopped \$1 >> $EV" "start_command = exit 7"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 1 ]
	[[ $stderr == *"start_command failed (exit status 7)"* ]] || fail "stderr: $stderr"
	# the row stays so that the bot is started by whoever comes next
	[ "$(journal_rows)" -eq 1 ]
	cp "$BATS_TEST_TMPDIR/good.ini" "$CONF"
	hooks
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/b.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	[[ $stderr == *"starting bot 'bot1' again"* ]] || fail "stderr: $stderr"
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1"$'\n'"stopped bot1"$'\n'"started bot1" ]
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: -o into a missing directory exits 1 before the bot is stopped" {
	make_sample bot1
	hooks
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/no/such/dir/a.tgz" bot1
	[ "$status" -eq 1 ]
	[[ $stderr == *"$BATS_TEST_TMPDIR/no/such/dir"* ]] || fail "stderr: $stderr"
	[ ! -e "$EV" ] || fail "hooks ran: $(cat "$EV")"
	[ ! -e "$BATS_TEST_TMPDIR/no" ]
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: a closed pipe downstream is exit 1, the bot restarted and the lock free" {
	make_sample bot1
	head -c 4M /dev/urandom >"$WS/bot1/random.bin"
	hooks
	run --separate-stderr bash -c \
		'ws-export bot1 | head -c 100 >/dev/null; echo "${PIPESTATUS[0]}"'
	[ "$output" = "1" ] || fail "ws-export exited ${output} (141 would be SIGPIPE): $stderr"
	[[ $stderr == *"Broken pipe"* ]] || fail "stderr: $stderr"
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1" ]
	[ "$(journal_rows)" -eq 0 ]
	# the lock is free: no --wait, so a held lock would be exit 4
	run --separate-stderr timeout 20 ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	gzip -t "$BATS_TEST_TMPDIR/a.tgz"
}

@test "ws-export: a full disk under -o is exit 1, no temp file, old file kept, bot restarted" {
	make_sample bot1
	head -c 1M /dev/urandom >"$WS/bot1/random.bin"
	hooks
	MNT=$BATS_TEST_TMPDIR/full
	mkdir "$MNT"
	mount -t tmpfs -o size=64k tmpfs "$MNT"
	printf 'old\n' >"$MNT/a.tgz"
	run --separate-stderr ws-export -o "$MNT/a.tgz" bot1
	[ "$status" -eq 1 ]
	[[ $stderr == *"No space left on device"* ]] || fail "stderr: $stderr"
	[ "$(ls -A "$MNT")" = "a.tgz" ] || fail "left in $MNT: $(ls -A "$MNT")"
	[ "$(cat "$MNT/a.tgz")" = "old" ]
	[ "$(cat "$EV")" = "stopped bot1"$'\n'"started bot1" ]
	[ "$(journal_rows)" -eq 0 ]
}

@test "ws-export: gzip with -j 2 writes many members that gzip -t accepts" {
	mkdir -p "$WS/bot1"
	seq 1 1000000 >"$WS/bot1/big.txt"	# 6.6 MiB
	ws-export -j 2 bot1 >"$BATS_TEST_TMPDIR/a.tgz"
	gzip -t "$BATS_TEST_TMPDIR/a.tgz"
	members=$(python3 - "$BATS_TEST_TMPDIR/a.tgz" <<-'PY'
		import sys, zlib
		data = open(sys.argv[1], 'rb').read()
		n = 0
		while data:
		    d = zlib.decompressobj(31)
		    d.decompress(data)
		    if not d.eof:
		        sys.exit("truncated member")
		    data = d.unused_data
		    n += 1
		print(n)
	PY
	)
	((members > 1)) || fail "only $members gzip member(s)"
	run --separate-stderr ws-import -i "$BATS_TEST_TMPDIR/a.tgz" bot2
	[ "$status" -eq 0 ] || fail "exit $status: $stderr"
	cmp "$WS/bot1/big.txt" "$WS/bot2/big.txt"
}

@test "ws-export: -l sets the level: -l 1 and -l 9 both valid, 9 smaller" {
	mkdir -p "$WS/bot1"
	seq 1 300000 >"$WS/bot1/n.txt"
	ws-export -l 1 bot1 >"$BATS_TEST_TMPDIR/1.tgz"
	ws-export -l 9 bot1 >"$BATS_TEST_TMPDIR/9.tgz"
	gzip -t "$BATS_TEST_TMPDIR/1.tgz"
	gzip -t "$BATS_TEST_TMPDIR/9.tgz"
	s1=$(stat -c %s "$BATS_TEST_TMPDIR/1.tgz")
	s9=$(stat -c %s "$BATS_TEST_TMPDIR/9.tgz")
	((s9 < s1)) || fail "-l 9 ($s9 bytes) not smaller than -l 1 ($s1 bytes)"
	ws-export -z zstd -l 1 bot1 >"$BATS_TEST_TMPDIR/1.zst"
	ws-export -z zstd -l 19 bot1 >"$BATS_TEST_TMPDIR/19.zst"
	zstd -qt "$BATS_TEST_TMPDIR/1.zst"
	zstd -qt "$BATS_TEST_TMPDIR/19.zst"
	z1=$(stat -c %s "$BATS_TEST_TMPDIR/1.zst")
	z19=$(stat -c %s "$BATS_TEST_TMPDIR/19.zst")
	((z19 < z1)) || fail "zstd -l 19 ($z19 bytes) not smaller than -l 1 ($z1 bytes)"
}

# Two commands on different bots share nothing but the index: neither may
# fail because the other is creating it (the documented pipeline
# "ws-export bot1 | ws-import bot2" does exactly this on a new host).
@test "ws-export: commands that open a fresh index at the same time all succeed" {
	local i j failed=0
	for i in $(seq 60); do
		d=$BATS_TEST_TMPDIR/fresh$i
		mkdir -p "$d/state/workspaces/b1" "$d/state/workspaces/b2" "$d/state/workspaces/b3"
		printf '[state]\ndir = %s/state\n' "$d" >"$d/c.ini"
		pids=()
		for j in 1 2 3; do
			STATEKIT_CONFIG=$d/c.ini ws-export -o "$d/o$j.tgz" b$j 2>"$d/err$j" 3>&- &
			pids+=($!)
		done
		for j in "${pids[@]}"; do
			wait "$j" || failed=$((failed + 1))
		done
	done
	((failed == 0)) || fail "$failed of 180 failed: $(cat "$BATS_TEST_TMPDIR"/fresh*/err* | sort | uniq -c)"
}

@test "ws-export: a bot whose lock is held exits 4 naming the holder" {
	make_sample bot1
	mkdir -p "$ST/locks"
	# -o: the lock stays with flock itself, not with its sleep
	flock -o -x "$ST/locks/bot.bot1" sleep 10 3>&- &
	holder=$!
	echo "$holder" >"$ST/locks/bot.bot1"
	for _ in $(seq 50); do
		flock -n "$ST/locks/bot.bot1" true || break
		sleep 0.1
	done
	SECONDS=0
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/a.tgz" bot1
	kill "$holder" 2>/dev/null || true
	[ "$status" -eq 4 ]
	[[ $stderr == *"locked by pid $holder"* ]] || fail "stderr: $stderr"
	((SECONDS < 3)) || fail "took $SECONDS s: it waited"
	[ ! -e "$BATS_TEST_TMPDIR/a.tgz" ]
}

@test "ws-export: -o onto a device or FIFO writes into it and never replaces it" {
	make_sample bot1
	mknod "$BATS_TEST_TMPDIR/null" c 1 3
	run ws-export -o "$BATS_TEST_TMPDIR/null" bot1
	assert_success
	[[ -c $BATS_TEST_TMPDIR/null ]] || fail "the device was replaced by a regular file"
	assert_equal "$(find "$BATS_TEST_TMPDIR" -mindepth 1 -maxdepth 1 -name '.null*' -printf . | wc -c)" 0
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	gzip -t <"$BATS_TEST_TMPDIR/fifo" &
	reader=$!
	run ws-export -o "$BATS_TEST_TMPDIR/fifo" bot1
	assert_success
	wait "$reader" || fail "what came through the FIFO is not a whole gzip stream"
	[[ -p $BATS_TEST_TMPDIR/fifo ]] || fail "the FIFO was replaced"
	mkdir "$BATS_TEST_TMPDIR/dir"
	run --separate-stderr ws-export -o "$BATS_TEST_TMPDIR/dir" bot1
	assert_failure 2
	[[ $stderr == *"is a directory"* ]] || fail "$stderr"
}

# Issue 9: at a terminal the progress display's size pass and the archive
# walk shared one directory offset, and the archive came out empty (exit 0).
@test "ws-export: typed at a terminal, with and without --progress, the archive holds every entry" {
	make_rich bot1
	local opt
	for opt in "" --progress; do
		rm -rf "$WS/bot2"
		PTYOUT=$BATS_TEST_TMPDIR/screen
		run "$REPO/tests/helpers/ptyrun" -o "$PTYOUT" \
			"ws-export $opt bot1 | ws-import bot2"
		[ "$status" -eq 0 ] || fail "exit $status ($opt): $(cat "$PTYOUT")"
		diff -u <(tree_fingerprint "$WS/bot1") <(tree_fingerprint "$WS/bot2") ||
			fail "round trip under a pty changed the tree ($opt)"
		run "$REPO/tests/helpers/ptyrun" -o "$PTYOUT" \
			"ws-export $opt bot1 | tar tzf - 2>/dev/null | wc -l"
		[ "$status" -eq 0 ]
		local want
		want=$(cd "$WS/bot1" && find . -mindepth 1 -printf x | wc -c)	# tar escapes the newline
		grep -q "^$want" "$PTYOUT" || fail "tar lists $(cat "$PTYOUT"), want $want ($opt)"
	done
}
