#!/usr/bin/env bats
# ws-import against the shared corpus of hostile and malformed archives from
# other projects' test suites (../shared/corpus, see its README.txt). One test
# per file, so that a failure names it.
#
# An extra: the corpus is not part of the project, and tests/hostile.bats
# covers every class of it with archives generated at test time. Without the
# corpus (SK_CORPUS, else ../shared/corpus beside the clone) these tests skip
# and say why; under CI=true, where the corpus must be there, they fail. Plain .tar files are fed gzipped (the
# tar layer under the usual codec) and then raw (the plain-tar path); the
# compressed ones are fed as they are (the decompression layer).
#
# REJECT (and SKIP-ENTRY, which statekit treats as REJECT): exit 5 within the
# time bound, with the expected reason, the workspace byte-for-byte
# unchanged, no staging, an empty journal, nothing created anywhere else.
# EXTRACT-SAFE: exit 0, nothing outside the workspace, no device, fifo or
# socket, no setuid/setgid bit, and the same content GNU tar extracts.

load helpers/common

setup() {
	if [[ ! -d $CORPUS ]]; then
		[[ ${CI:-} != true ]] ||
			fail "corpus not found at '$CORPUS': CI=true needs it (set SK_CORPUS)"
		skip "no corpus at '$CORPUS' (an optional extra: set SK_CORPUS to run it)"
	fi
	sk_setup
	make_sample bot1
	# What the first command creates, so that snapshots of the test
	# directory taken before and after an import see only real changes.
	mkdir -p "$ST/locks" "$ST/tmp"
}

# Names outside the workspace that an escape would create: everything under
# the test directory (but the workspace and the index's WAL files), and the
# targets the corpus aims at.
outside() {
	find "$BATS_TEST_TMPDIR" -path "$WS/bot1" -prune -o ! -name 'index.db*' \
		! -name 'separate-stderr-*' ! -name 'in.*' -printf '%p %y\n' | LC_ALL=C sort
	local p
	for p in /tmp/moo /tmp/evil.txt /tmp/x /moo /evil.txt /Temp \
		"$BATS_TEST_TMPDIR/../moo" "$BATS_TEST_TMPDIR/../evil.txt" \
		"$BATS_RUN_TMPDIR/moo" "$BATS_RUN_TMPDIR/evil.txt"; do
		stat -c "$p %i %Y" "$p" 2>/dev/null || echo "$p absent"
	done
}

# The ways a corpus file is fed: "NAME FILE" lines.
inputs() {
	local f=$CORPUS/$1
	[[ -f $f ]] || fail "corpus file '$1' is missing"
	case $1 in
	*.tar)
		gzip -c "$f" >"$BATS_TEST_TMPDIR/in.gz"
		echo "gzip $BATS_TEST_TMPDIR/in.gz"
		echo "raw $f" ;;
	*)
		echo "raw $f" ;;
	esac
}

import_timed() {
	run --separate-stderr timeout 20 ws-import bot1 <"$1"
	[ "$status" -ne 124 ] || fail "ws-import hung on $2"
}

# corpus_reject FILE REGEX
corpus_reject() {
	local how in before out
	while read -r how in; do
		before=$(ws_state "$WS/bot1")
		out=$(outside)
		import_timed "$in" "$1 ($how)"
		[ "$status" -eq 5 ] || fail "$1 ($how): exit $status, expected 5; stderr: $stderr"
		[[ $stderr =~ ^ws-import:\ import\ \'bot1\':\ .*$2 ]] ||
			fail "$1 ($how): stderr does not match '$2': $stderr"
		[ -z "$output" ] || fail "$1 ($how): stdout: $output"
		diff -u <(echo "$before") <(ws_state "$WS/bot1") || fail "$1 ($how): workspace changed"
		assert_no_staging
		[ -z "$(ls -A "$ST/tmp")" ] || fail "$1 ($how): left in $ST/tmp"
		[ "$(journal_rows)" -eq 0 ] || fail "$1 ($how): journal not empty"
		diff -u <(echo "$out") <(outside) || fail "$1 ($how): something appeared outside"
	done < <(inputs "$1")
}

# What GNU tar makes of the archive: names, types, sizes, link targets and
# contents (modes and owners are compared separately, setuid aside).
content_fp() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %s %l\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# Nonzero data runs of a sparse file, found by SEEK_DATA/SEEK_HOLE: compares
# huge sparse files without reading their holes.
sparse_sig() {
	python3 - "$1" <<-'PY'
		import hashlib, os, sys
		fd = os.open(sys.argv[1], os.O_RDONLY)
		size = os.fstat(fd).st_size
		off = 0
		while off < size:
		    try:
		        off = os.lseek(fd, off, os.SEEK_DATA)
		    except OSError:
		        break
		    end = os.lseek(fd, off, os.SEEK_HOLE)
		    data = os.pread(fd, end - off, off)
		    i = 0
		    while i < len(data):
		        if data[i] == 0:
		            i += 1
		            continue
		        j = i
		        while j < len(data) and data[j] != 0:
		            j += 1
		        print(off + i, hashlib.sha256(data[i:j]).hexdigest())
		        i = j
		    off = end
		print("size", size)
	PY
}

# What a reference extractor makes of FILE, in $BATS_TEST_TMPDIR/oracle: GNU
# tar, or with ORACLE=python CPython's tarfile (GNU tar 1.34 misreads
# go/sparse-formats.tar, which Go, CPython and libarchive agree on).
oracle() {
	rm -rf "$BATS_TEST_TMPDIR/oracle"
	mkdir "$BATS_TEST_TMPDIR/oracle"
	if [[ ${ORACLE:-tar} == python ]]; then
		python3 - "$CORPUS/$1" "$BATS_TEST_TMPDIR/oracle" <<-'PY' || fail "tarfile cannot extract $1"
			import sys, tarfile
			kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
			tarfile.open(sys.argv[1]).extractall(sys.argv[2], numeric_owner=True, **kw)
		PY
	else
		tar --numeric-owner -xf "$CORPUS/$1" -C "$BATS_TEST_TMPDIR/oracle" ||
			fail "GNU tar cannot extract $1 either"
	fi
}

# "MODE UID:GID NAME" of every non-link entry, setuid/setgid masked off.
modes() {
	local mode own name
	(cd "$1" && find . -mindepth 1 ! -type l -printf '%m %U:%G %P\n') |
		while read -r mode own name; do
			printf '%s %o %s\n' "$name" $((8#$mode & 01777)) "$own"
		done | LC_ALL=C sort
}

# The safety checks every accepted archive must pass.
check_safe() {
	local ws=$WS/bot1 l
	[ -z "$(find "$ws" \( -type b -o -type c -o -type p -o -type s \))" ] ||
		fail "$1: device, fifo or socket created"
	[ -z "$(find "$ws" -perm /6000)" ] || fail "$1: setuid/setgid bit set"
	while IFS= read -r -d '' l; do
		case $(readlink -m "$l") in
		"$ws" | "$ws"/*) ;;
		*) fail "$1: symlink '$l' -> '$(readlink "$l")' resolves outside" ;;
		esac
	done < <(find "$ws" -type l -print0)
	[ ! -e "$ws/hello.txt" ] || fail "$1: the old workspace content is still there"
	assert_no_staging
	[ -z "$(ls -A "$ST/tmp")" ] || fail "$1: left in $ST/tmp"
	[ "$(journal_rows)" -eq 0 ] || fail "$1: journal not empty"
}

# corpus_extract FILE [sparse]: accepted, safe, and GNU tar's content.
corpus_extract() {
	local how in out f
	oracle "$1"
	while read -r how in; do
		rm -rf "$WS/bot1"
		make_sample bot1
		out=$(outside)
		import_timed "$in" "$1 ($how)"
		[ "$status" -eq 0 ] || fail "$1 ($how): exit $status, expected 0; stderr: $stderr"
		[ -z "$output" ] || fail "$1 ($how): stdout: $output"
		check_safe "$1 ($how)"
		diff -u <(echo "$out") <(outside) || fail "$1 ($how): something appeared outside"
		if [[ ${2:-} == sparse ]]; then
			diff -u <(cd "$BATS_TEST_TMPDIR/oracle" && find . -printf '%P %y %s\n' | sort) \
				<(cd "$WS/bot1" && find . -printf '%P %y %s\n' | sort)
			while IFS= read -r -d '' f; do
				[ "$(du -k "$WS/bot1/$f" | cut -f1)" -lt 1024 ] ||
					fail "$1 ($how): '$f' is not sparse"
				diff -u <(sparse_sig "$BATS_TEST_TMPDIR/oracle/$f") \
					<(sparse_sig "$WS/bot1/$f") || fail "$1 ($how): '$f' differs"
			done < <(cd "$WS/bot1" && find . -type f -printf '%P\0')
		else
			diff -u <(content_fp "$BATS_TEST_TMPDIR/oracle") <(content_fp "$WS/bot1") ||
				fail "$1 ($how): content differs from GNU tar's"
		fi
		# modes (without setuid/setgid) and numeric owners as the oracle sets them
		diff -u <(modes "$BATS_TEST_TMPDIR/oracle") <(modes "$WS/bot1") ||
			fail "$1 ($how): modes or owners differ from the oracle's"
	done < <(inputs "$1")
}

# ---- REJECT ----
@test "ws-import: corpus cpython/recursion.tar is refused" { corpus_reject cpython/recursion.tar "unknown tar format"; }
@test "ws-import: corpus cpython/testtar.tar is refused" { corpus_reject cpython/testtar.tar "unsupported entry type"; }
@test "ws-import: corpus go/gnu-incremental.tar is refused" { corpus_reject go/gnu-incremental.tar "GNU dumpdir"; }
@test "ws-import: corpus go/hdr-only.tar is refused" { corpus_reject go/hdr-only.tar "fifo"; }
@test "ws-import: corpus go/issue10968.tar is refused" { corpus_reject go/issue10968.tar "bad header checksum"; }
@test "ws-import: corpus go/issue11169.tar is refused" { corpus_reject go/issue11169.tar "bad header checksum"; }
@test "ws-import: corpus go/issue12435.tar is refused" { corpus_reject go/issue12435.tar "unknown tar format"; }
@test "ws-import: corpus go/neg-size.tar is refused" { corpus_reject go/neg-size.tar "unknown tar format"; }
@test "ws-import: corpus go/pax-bad-hdr-file.tar is refused" { corpus_reject go/pax-bad-hdr-file.tar "pax record"; }
@test "ws-import: corpus go/pax-bad-hdr-large.tar.bz2 is refused" { corpus_reject go/pax-bad-hdr-large.tar.bz2 "unsupported compression 'bzip2'"; }
@test "ws-import: corpus go/pax-bad-mtime-file.tar is refused" { corpus_reject go/pax-bad-mtime-file.tar "bad pax mtime"; }
@test "ws-import: corpus go/pax-nul-path.tar is refused" { corpus_reject go/pax-nul-path.tar "pax path contains NUL"; }
@test "ws-import: corpus go/pax-nul-xattrs.tar is refused" { corpus_reject go/pax-nul-xattrs.tar "contains NUL"; }
@test "ws-import: corpus go/writer-big-long.tar is refused" { corpus_reject go/writer-big-long.tar "[Tt]runcated"; }
@test "ws-import: corpus jwilk/absolute1.tar is refused" { corpus_reject jwilk/absolute1.tar "absolute name '/tmp/moo'"; }
@test "ws-import: corpus jwilk/absolute2.tar is refused" { corpus_reject jwilk/absolute2.tar "absolute name '//tmp/moo'"; }
@test "ws-import: corpus jwilk/dirsymlink.tar is refused" { corpus_reject jwilk/dirsymlink.tar "symlink 'tmp' -> '/tmp' points outside"; }
@test "ws-import: corpus jwilk/dirsymlink2a.tar is refused" { corpus_reject jwilk/dirsymlink2a.tar "(passes through|outside)"; }
@test "ws-import: corpus jwilk/dirsymlink2b.tar is refused" { corpus_reject jwilk/dirsymlink2b.tar "(passes through|outside)"; }
@test "ws-import: corpus jwilk/relative0.tar is refused" { corpus_reject jwilk/relative0.tar "name '../moo' contains '..'"; }
@test "ws-import: corpus jwilk/relative2.tar is refused" { corpus_reject jwilk/relative2.tar "name 'tmp/../../moo' contains '..'"; }
@test "ws-import: corpus jwilk/symlink.tar is refused" { corpus_reject jwilk/symlink.tar "symlink 'moo' -> '/tmp/moo' points outside"; }
@test "ws-import: corpus libarchive/test_compat_gzip_2.tgz is refused" { corpus_reject libarchive/test_compat_gzip_2.tgz "trailing garbage after gzip member"; }
@test "ws-import: corpus libarchive/test_read_filter_gzip_recursive.gz is refused" { corpus_reject libarchive/test_read_filter_gzip_recursive.gz "gzip"; }
@test "ws-import: corpus libarchive/test_read_format_gtar_redundant_L.tar.Z is refused" { corpus_reject libarchive/test_read_format_gtar_redundant_L.tar.Z "unsupported compression 'compress'"; }
@test "ws-import: corpus libarchive/test_read_format_tar_V_negative_size.tar is refused" { corpus_reject libarchive/test_read_format_tar_V_negative_size.tar "bad header checksum"; }
@test "ws-import: corpus libarchive/test_read_format_tar_acl_oob_read.tar is refused" { corpus_reject libarchive/test_read_format_tar_acl_oob_read.tar "pax record"; }
@test "ws-import: corpus libarchive/test_read_format_tar_empty_filename.tar is refused" { corpus_reject libarchive/test_read_format_tar_empty_filename.tar "empty name"; }
@test "ws-import: corpus libarchive/test_read_format_tar_invalid_pax_size.tar is refused" { corpus_reject libarchive/test_read_format_tar_invalid_pax_size.tar "unknown tar format"; }
@test "ws-import: corpus libarchive/test_read_format_tar_pax_g_large.tar is refused" { corpus_reject libarchive/test_read_format_tar_pax_g_large.tar "pax header too large"; }
@test "ws-import: corpus libarchive/test_read_pax_empty_val_no_nl.tar is refused" { corpus_reject libarchive/test_read_pax_empty_val_no_nl.tar "bad pax record length"; }
@test "ws-import: corpus libarchive/test_read_too_many_filters.gz is refused" { corpus_reject libarchive/test_read_too_many_filters.gz "Unrecognized archive format"; }
@test "ws-import: corpus node-tar/bad-cksum.tar is refused" { corpus_reject node-tar/bad-cksum.tar "bad header checksum at offset 1024"; }
@test "ws-import: corpus node-tar/excessively-deep.tar is refused" { corpus_reject node-tar/excessively-deep.tar "too long"; }
@test "ws-import: corpus node-tar/links-invalid.tar is refused" { corpus_reject node-tar/links-invalid.tar "hardlink 'hardlink-2'.*empty name"; }
@test "ws-import: corpus node-tar/path-missing.tar is refused" { corpus_reject node-tar/path-missing.tar "empty name"; }
@test "ws-import: corpus snyk/zip-slip.tar is refused" { corpus_reject snyk/zip-slip.tar "/tmp/evil.txt' contains '..'"; }
@test "ws-import: corpus tar-split/1c51fc28-no-eof-marker.tar.gz is refused" { corpus_reject tar-split/1c51fc28-no-eof-marker.tar.gz "missing end-of-archive marker"; }
@test "ws-import: corpus tar-split/notenoughnils.tar.gz is refused" { corpus_reject tar-split/notenoughnils.tar.gz "missing end-of-archive marker"; }
@test "ws-import: corpus tar-stream/incomplete.tar is refused" { corpus_reject tar-stream/incomplete.tar "[Tt]runcated"; }
@test "ws-import: corpus tar-stream/unknown-format.tar is refused" { corpus_reject tar-stream/unknown-format.tar "unknown tar format"; }

# ---- EXTRACT-SAFE ----
@test "ws-import: corpus go/gnu-sparse-big.tar is extracted sparse" { corpus_extract go/gnu-sparse-big.tar sparse; }
@test "ws-import: corpus go/hardlink.tar is extracted" {
	corpus_extract go/hardlink.tar
	[ "$(stat -c %i "$WS/bot1/file.txt")" = "$(stat -c %i "$WS/bot1/hard.txt")" ]
}
@test "ws-import: corpus go/sparse-formats.tar is extracted" {
	ORACLE=python corpus_extract go/sparse-formats.tar
	# the digests Go's reader_test.go expects
	for f in sparse-gnu sparse-posix-0.0 sparse-posix-0.1 sparse-posix-1.0; do
		[ "$(md5sum <"$WS/bot1/$f" | cut -d' ' -f1)" = 6f53234398c2449fe67c1812d993012f ] ||
			fail "$f has the wrong content"
	done
	[ "$(md5sum <"$WS/bot1/end" | cut -d' ' -f1)" = b0061974914468de549a2af8ced10316 ]
}
@test "ws-import: corpus go/xattrs.tar is extracted without its xattrs" {
	# the file system takes user xattrs, so their absence means something
	setfattr -n user.probe -v 1 "$WS/bot1/hello.txt"
	corpus_extract go/xattrs.tar
	attrs=$(getfattr -R -d -m - --absolute-names "$WS/bot1" 2>/dev/null)
	[ -z "$attrs" ] || fail "xattrs restored: $attrs"
}
@test "ws-import: corpus libarchive/test_compat_gzip_1.tgz (multi-member gzip) is extracted" { corpus_extract libarchive/test_compat_gzip_1.tgz; }
@test "ws-import: corpus node-tar/long-linkname.tar is extracted" { corpus_extract node-tar/long-linkname.tar; }
@test "ws-import: corpus node-tar/sync-gzip-fail.tgz is extracted" { corpus_extract node-tar/sync-gzip-fail.tgz; }
@test "ws-import: corpus snyk/zip-slip-win.tar is extracted with backslashes as name bytes" {
	corpus_extract snyk/zip-slip-win.tar
	[ "$(find "$WS/bot1" -mindepth 1 -maxdepth 1 -name '*\\*evil.txt' | wc -l)" -eq 1 ]
	[ "$(find "$WS/bot1" -mindepth 1 | wc -l)" -eq 2 ]
}
# README: "REJECT in strict mode ... or accept only if the gzip trailer
# verified". The file does end with the two zero blocks (16 of them): only
# the last 512 bytes of its 10 KiB record are missing, so it is whole.
@test "ws-import: corpus tar-rs/simple_missing_last_header.tar is extracted" { corpus_extract tar-rs/simple_missing_last_header.tar; }
@test "ws-import: corpus tar-rs/sparse-large.tar is extracted sparse" { corpus_extract tar-rs/sparse-large.tar sparse; }
@test "ws-import: corpus tar-split/fatlonglink.tar.gz is extracted within the limits" { corpus_extract tar-split/fatlonglink.tar.gz; }
@test "ws-import: corpus tar-stream/base-256-size.tar is extracted" { corpus_extract tar-stream/base-256-size.tar; }

@test "ws-import: every corpus file has a test here" {
	listed=$(grep -o 'corpus_\(reject\|extract\) [^ ;]*' "$BATS_TEST_FILENAME" |
		awk '{ print $2 }' | grep -v '^[A-Z"$]' | sort -u)
	present=$(cd "$CORPUS" && find . -type f ! -name README.txt -printf '%P\n' | sort)
	diff -u <(echo "$present") <(echo "$listed")
	# and the README describes each of them
	for f in $present; do
		grep -q "^$f " "$CORPUS/README.txt" || fail "README.txt does not describe $f"
	done
}
