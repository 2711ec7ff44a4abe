#!/bin/bash
# gen-workspace.sh: build the sample workspace that bench/ws-bench.sh measures.
#
# Usage: bench/gen-workspace.sh DIR [SIZE_MB]
#
# Writes a tree of about SIZE_MB MiB (default 1024) into DIR, the same bytes
# on every machine for the same SIZE_MB and SEED: nothing comes from the
# network, /dev/urandom or the clock. At the default size it holds:
#
#   ~20,000 source-like text files, 300 B to 30 KB, ~250 MB, in ~300
#           directories up to six levels deep (gzip -6 shrinks them ~3.3x)
#   4 log files with timestamps, levels and request ids, ~600 MB (~4.4x)
#   3 incompressible blobs from AES-CTR keyed by the seed, ~190 MB
#   1 sparse disk image, ~21 MB apparent, one eighth of it data
#   a few relative symlinks (to files and to a directory), one hardlink
#   pair, an empty file and an empty directory
#
# File counts and sizes scale with SIZE_MB. The last thing written is the
# marker DIR/.statekit-bench-workspace naming the parameters; a later run
# with the same parameters reuses DIR as it is. A DIR with a marker for other
# parameters is regenerated; a non-empty DIR without a marker is refused, so a
# mistyped path never loses data.
#
# Environment: SEED (default 1) selects a different but equally repeatable tree.
# Needs bash, perl 5 and openssl. 20 to 50 s at the default size on 2 cores.

set -euo pipefail
umask 022

PROG=${0##*/}
GEN_VERSION=2
MARKER=.statekit-bench-workspace

die() {
	echo "$PROG: $*" >&2
	exit "${EXIT:-1}"
}

usage() {
	cat <<EOF
Usage: $PROG DIR [SIZE_MB]

Generate the deterministic sample workspace for bench/ws-bench.sh in DIR,
about SIZE_MB MiB (default 1024, at least 20). Reuses DIR when its marker
file names the same size and seed. SEED=N in the environment (default 1)
picks another repeatable tree.
EOF
}

case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
'' | -*)
	usage >&2
	exit 2
	;;
esac
[ $# -le 2 ] || { usage >&2; exit 2; }

DIR=${1%/}
SIZE_MB=${2:-1024}
SEED=${SEED:-1}
if ! [[ $SIZE_MB =~ ^[0-9]+$ ]] || [ "$SIZE_MB" -lt 20 ]; then
	EXIT=2 die "SIZE_MB must be a whole number of MiB, at least 20: '$SIZE_MB'"
fi
[[ $SEED =~ ^[0-9]+$ ]] || EXIT=2 die "SEED must be a whole number: '$SEED'"
for tool in perl openssl; do
	command -v "$tool" >/dev/null || die "'$tool' is needed and not installed"
done

PARAMS="statekit bench workspace v$GEN_VERSION size_mb=$SIZE_MB seed=$SEED"

if [ -e "$DIR" ] || [ -L "$DIR" ]; then
	if [ -L "$DIR" ] || [ ! -d "$DIR" ]; then
		die "'$DIR' exists and is not a directory"
	fi
	if [ -f "$DIR/$MARKER" ]; then
		if [ "$(cat "$DIR/$MARKER")" = "$PARAMS" ]; then
			echo "$PROG: reusing '$DIR' ($PARAMS)" >&2
			exit 0
		fi
		echo "$PROG: '$DIR' was generated with other parameters, regenerating" >&2
		rm -rf -- "$DIR"
	elif [ -z "$(ls -A -- "$DIR")" ]; then
		rmdir -- "$DIR"
	else
		die "'$DIR' is not empty and has no $MARKER: not touching it"
	fi
fi

# Build under a side name and rename at the end, so an interrupted run never
# leaves a tree that looks finished.
PART="$DIR.gen-partial"
rm -rf -- "$PART"
mkdir -p -- "$PART"

TOTAL=$((SIZE_MB * 1048576))
NFILES=$((20000 * SIZE_MB / 1024))
NDIRS=$((300 * SIZE_MB / 1024))
[ "$NDIRS" -ge 30 ] || NDIRS=30
RANDOM_BYTES=$((TOTAL * 18 / 100))
SPARSE_BYTES=$((TOTAL * 2 / 100))

echo "$PROG: generating ~$SIZE_MB MiB in '$DIR' (seed $SEED)" >&2
start=$(date +%s)

# The generator. Perl's rand() is drand48 on every platform, so srand(N)
# gives the same numbers everywhere. No hash is ever iterated (perl
# randomizes hash order), only arrays.
# shellcheck disable=SC2016
PERL_GEN='
use strict;
use warnings;
use File::Spec;

my @W = qw(
 state buf len size count index node list entry item key value name path file
 dir data result err error ctx config opts flags mode level type kind id hash
 sum total offset start end next prev head tail first last parent child root
 tree map set table row col cell page block chunk frame packet header body
 payload message request response client server conn socket stream reader
 writer input output source target dest local remote user group owner perm time
 stamp date clock timer lock mutex cond queue stack pool cache store record
 field schema query filter sort merge split join parse format encode decode
 read write open close init free alloc copy move swap find match check verify
 update insert delete remove create destroy reset clear flush sync load save
 send recv handle process run exec spawn wait kill signal event callback
 handler listener worker task job thread channel limit max min avg rate delay
 retry timeout backoff token auth session cookie cert secret policy rule scope
 role account
);
my @KW = qw(int char void unsigned size_t bool long uint32_t uint64_t ssize_t);
my $NW = @W;

# Skewed picks: a few words are common, as in real code.
sub w { $W[int($NW * rand()**2.2)] }
sub ident {
	my $r = rand();
	return $r < 0.55 ? w() : $r < 0.9 ? w() . "_" . w() : w() . "_" . w() . "_" . w();
}
sub words { join " ", map { w() } 1 .. $_[0] }

sub c_line {
	my $p = "\t" x (1 + int(rand()**2 * 3));
	my $r = rand();
	return "" if $r < 0.10;
	return "$p/* " . words(3 + int(rand(9))) . " */" if $r < 0.18;
	return "$p}" if $r < 0.24;
	return "${p}if (" . ident() . (rand() < 0.5 ? "->" : ".") . ident() . " == "
	    . (rand() < 0.5 ? ident() : int(rand(256))) . ") {" if $r < 0.34;
	return "${p}return " . ident() . ";" if $r < 0.40;
	return "${p}for (i = 0; i < " . ident() . "; i++) {" if $r < 0.44;
	return "$p" . $KW[rand @KW] . " " . ident() . " = " . ident() . ";" if $r < 0.56;
	return "${p}err = " . ident() . "(" . join(", ", map { ident() } 0 .. int(rand(3))) . ");"
	    if $r < 0.72;
	return "${p}if (err < 0)\n$p\tgoto out;" if $r < 0.76;
	return "$p" . ident() . "->" . ident() . " = " . ident() . "(" . ident() . ", "
	    . int(rand(4096)) . ");";
}

sub c_text {
	my ($n) = @_;
	my $s = "/*\n * " . words(6 + int(rand(6))) . "\n */\n#include <" . w() . ".h>\n#include \""
	    . ident() . ".h\"\n\n";
	while (length($s) < $n) {
		$s .= "static int " . ident() . "(struct " . ident() . " *" . ident() . ", size_t "
		    . ident() . ")\n{\n";
		$s .= c_line() . "\n" for 0 .. 4 + int(rand(40));
		$s .= "out:\n\treturn err;\n}\n\n";
	}
	return substr($s, 0, $n - 1) . "\n";
}

sub py_line {
	my $p = "    " x (2 + int(rand()**2 * 3));
	my $r = rand();
	return "" if $r < 0.10;
	return "$p# " . words(3 + int(rand(9))) if $r < 0.20;
	return "${p}if self." . ident() . " is None:" if $r < 0.30;
	return "${p}return self." . ident() if $r < 0.38;
	return "${p}for " . w() . " in self." . ident() . ":" if $r < 0.44;
	return "$p" . ident() . " = self." . ident() . "(" . join(", ", map { ident() } 0 .. int(rand(3))) . ")";
}

sub py_text {
	my ($n) = @_;
	my $s = "\"\"\"" . words(6 + int(rand(6))) . "\"\"\"\n\nimport " . w() . "\nfrom " . w()
	    . " import " . ident() . "\n\n";
	while (length($s) < $n) {
		$s .= "\nclass " . ucfirst(w()) . ucfirst(w()) . ":\n";
		for (0 .. 1 + int(rand(4))) {
			$s .= "    def " . ident() . "(self, " . ident() . "):\n";
			$s .= py_line() . "\n" for 0 .. 3 + int(rand(20));
			$s .= "\n";
		}
	}
	return substr($s, 0, $n - 1) . "\n";
}

sub md_text {
	my ($n) = @_;
	my $s = "# " . ucfirst(words(3)) . "\n\n";
	while (length($s) < $n) {
		my $r = rand();
		if ($r < 0.15) {
			$s .= "## " . ucfirst(words(2 + int(rand(4)))) . "\n\n";
		} elsif ($r < 0.3) {
			$s .= "- " . words(4 + int(rand(10))) . "\n" for 0 .. int(rand(5));
			$s .= "\n";
		} else {
			$s .= ucfirst(words(20 + int(rand(60)))) . ".\n\n";
		}
	}
	return substr($s, 0, $n - 1) . "\n";
}

sub put {
	my ($path, $data, $mode, $mtime) = @_;
	open(my $fh, ">", $path) or die "cannot create $path: $!\n";
	print $fh $data or die "cannot write $path: $!\n";
	close($fh) or die "cannot write $path: $!\n";
	chmod($mode, $path) or die "chmod $path: $!\n";
	utime($mtime, $mtime, $path) or die "utime $path: $!\n";
}

# The base time of every mtime: 2024-03-01 00:00:00 UTC.
my $T0 = 1709251200;

sub gen_sources {
	my ($root, $nfiles, $ndirs, $sparse_bytes, $seed) = @_;
	srand($seed);

	# Directory tree: a few fixed top levels, then each new directory
	# hangs under a random existing one that is not yet too deep.
	my @dirs = qw(src include lib tests tools vendor docs);
	my @depth = (1) x @dirs;
	my %taken;
	$taken{$_} = 1 for @dirs;
	while (@dirs < $ndirs) {
		my $i = int(rand(@dirs));
		next if $depth[$i] >= 6 || $dirs[$i] eq "docs";
		my $name = rand() < 0.7 ? w() : w() . "_" . w();
		my $d = "$dirs[$i]/$name";
		next if $taken{$d}++;
		push @dirs, $d;
		push @depth, $depth[$i] + 1;
	}
	mkdir("$root/$_") or die "mkdir $root/$_: $!\n" for @dirs;

	# Files: sizes 300 B .. 30 KB, skewed toward the larger end so that
	# the text is about a quarter of the tree; mostly C, some Python and
	# Markdown.
	my @files;
	my %fseen;
	while (@files < $nfiles) {
		my $d = $dirs[int(rand(@dirs))];
		my $r = rand();
		my ($ext, $gen) = $d =~ /^docs/ || $r < 0.08 ? ("md", \&md_text)
		    : $r < 0.25 ? ("py", \&py_text)
		    : $r < 0.45 ? ("h", \&c_text) : ("c", \&c_text);
		my $f = "$d/" . ident() . ".$ext";
		next if $fseen{$f}++;
		my $size = int(300 * 100**(rand()**0.35));
		my $mode = $ext eq "py" && rand() < 0.3 ? 0755 : rand() < 0.03 ? 0600 : 0644;
		put("$root/$f", $gen->($size), $mode, $T0 + int(rand(86400 * 30)));
		push @files, $f;
	}

	# Edge cases every archiver must keep: relative symlinks to a file, to
	# a file in another directory and to a directory, one hardlink pair,
	# an empty file and an empty directory.
	my $rel = sub {
		my ($from_dir, $to) = @_;
		return File::Spec->abs2rel("/$to", "/$from_dir");
	};
	symlink("docs", "$root/documentation") or die "symlink: $!\n";
	symlink($files[0], "$root/FIRST") or die "symlink: $!\n";
	symlink($rel->("tools", $files[1]), "$root/tools/link-to-" . (split m{/}, $files[1])[-1])
	    or die "symlink: $!\n";
	symlink($rel->("include", $dirs[-1]), "$root/include/deep") or die "symlink: $!\n";
	link("$root/$files[2]", "$root/tools/hardlink-copy") or die "link: $!\n";
	put("$root/src/.keep", "", 0644, $T0);
	mkdir("$root/tmp") or die "mkdir: $!\n";

	# A sparse disk image: data in eight spread-out extents, holes between.
	my $img = "$root/tools/disk.img";
	open(my $fh, ">", $img) or die "cannot create $img: $!\n";
	my $ext = int($sparse_bytes / 64);
	for my $k (0 .. 7) {
		seek($fh, $k * int($sparse_bytes / 8), 0) or die "seek $img: $!\n";
		print $fh c_text($ext) or die "write $img: $!\n";
	}
	truncate($fh, $sparse_bytes) or die "truncate $img: $!\n";
	close($fh) or die "write $img: $!\n";
	utime($T0, $T0, $img) or die "utime $img: $!\n";
}

my @lv = (("INFO") x 80, ("DEBUG") x 12, ("WARN") x 6, ("ERROR") x 2);
my @urls = qw(/api/v1/items /api/v1/users /api/v1/orders /api/v2/search /healthz /metrics
    /api/v1/sessions /static/app.js /api/v1/upload /api/v1/items/batch);
my @meth = (("GET") x 7, ("POST") x 2, "PUT", "DELETE");
my @st = ((200) x 30, 201, 204, 304, 400, 401, 403, 404, 404, 500, 503);
my @msgs = ("request completed", "cache miss, fetching from store",
    "retrying after transient error", "connection reset by peer", "slow query detected",
    "token refreshed", "worker idle, parking", "flushed write buffer",
    "queue depth above threshold", "checkpoint written");

sub gen_log {
	my ($path, $bytes, $seed) = @_;
	srand($seed);
	open(my $fh, ">", $path) or die "cannot create $path: $!\n";
	my ($t, $us, $last, $ts, $out, $total) = ($T0 + $seed % 1000 * 3600, 0, -1, "", "", 0);
	while ($total < $bytes) {
		$us += int(rand(3000));
		if ($us >= 1_000_000) {
			$t += int($us / 1_000_000);
			$us %= 1_000_000;
		}
		if ($t != $last) {
			my @g = gmtime($t);
			$ts = sprintf("%04d-%02d-%02dT%02d:%02d:%02d",
			    $g[5] + 1900, $g[4] + 1, $g[3], $g[2], $g[1], $g[0]);
			$last = $t;
		}
		my $l;
		if (rand() < 0.7) {
			$l = sprintf("%s.%06dZ %-5s [worker-%d] req=%08x%08x %s %s/%d status=%d bytes=%d dur_ms=%.1f\n",
			    $ts, $us, $lv[rand @lv], int(rand(16)), int(rand(4294967296)),
			    int(rand(4294967296)), $meth[rand @meth], $urls[rand @urls],
			    int(rand(100000)), $st[rand @st], int(rand(65536)), rand(250));
		} else {
			$l = sprintf("%s.%06dZ %-5s [worker-%d] %s id=%d attempt=%d\n", $ts, $us,
			    $lv[rand @lv], int(rand(16)), $msgs[rand @msgs], int(rand(1000000)),
			    1 + int(rand(3)));
		}
		$l = substr($l, 0, $bytes - $total - 1) . "\n" if $total + length($l) > $bytes;
		$out .= $l;
		$total += length($l);
		if (length($out) >= 1 << 20) {
			print $fh $out or die "write $path: $!\n";
			$out = "";
		}
	}
	print $fh $out or die "write $path: $!\n";
	close($fh) or die "write $path: $!\n";
	utime($t, $t, $path) or die "utime $path: $!\n";
}

my $what = shift @ARGV;
if ($what eq "sources") {
	gen_sources(@ARGV);
} elsif ($what eq "log") {
	gen_log(@ARGV);
} else {
	die "unknown generator $what\n";
}
'

gen() {
	perl -e "$PERL_GEN" -- "$@"
}

# Random blobs: AES-128-CTR over zeros with a key derived from the seed.
blob() {
	local path=$1 bytes=$2 name=$3 key iv
	key=$(printf 'statekit bench key %s %s' "$SEED" "$name" | sha256sum | cut -c1-32)
	iv=$(printf 'statekit bench iv %s %s' "$SEED" "$name" | sha256sum | cut -c1-32)
	head -c "$bytes" /dev/zero | openssl enc -aes-128-ctr -nosalt -K "$key" -iv "$iv" >"$path"
	touch -d @1709251200 "$path"
}

# The text files come first: their total decides how much the logs fill.
gen sources "$PART" "$NFILES" "$NDIRS" "$SPARSE_BYTES" "$SEED"
mkdir "$PART/logs" "$PART/data"

# The blobs are cheap; make them while the logs are written on both cores.
blob "$PART/data/weights.bin" $((RANDOM_BYTES / 2)) weights
blob "$PART/data/cache.pack" $((RANDOM_BYTES * 3 / 10)) cache
blob "$PART/data/assets.tar.zst" $((RANDOM_BYTES - RANDOM_BYTES / 2 - RANDOM_BYTES * 3 / 10)) assets

used=$(du -s --apparent-size -B1 "$PART" | cut -f1)
LOG_BYTES=$((TOTAL - used))
[ "$LOG_BYTES" -gt 0 ] || die "no room left for the logs (sources took $used bytes)"
pids=()
i=0
for share in 40 30 20 10; do
	i=$((i + 1))
	bytes=$((LOG_BYTES * share / 100))
	gen log "$PART/logs/app-$i.log" "$bytes" $((SEED * 100 + i)) &
	pids+=($!)
	# Two at a time: this machine class has two cores.
	if [ $((i % 2)) -eq 0 ]; then
		for p in "${pids[@]}"; do wait "$p" || die "log generator failed"; done
		pids=()
	fi
done
ln -s app-1.log "$PART/logs/current.log"

# Fixed times on everything the generator did not time itself, deepest first
# so that setting a directory's time is the last change inside it.
find "$PART" -depth \( -type d -o -type l \) -exec touch -h -d @1709251200 {} +
printf '%s\n' "$PARAMS" >"$PART/$MARKER"
touch -d @1709251200 "$PART/$MARKER" "$PART"
mv -T -- "$PART" "$DIR"

files=$(find "$DIR" -type f | wc -l)
dirs=$(find "$DIR" -type d | wc -l)
bytes=$(du -s --apparent-size -B1 "$DIR" | cut -f1)
echo "$PROG: done in $(($(date +%s) - start)) s: $files files, $dirs directories," \
	"$((bytes / 1048576)) MiB apparent" >&2
