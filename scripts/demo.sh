#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the main
# job: export a sample workspace, import it as another bot, keep a backup
# generation, lose the workspace, restore it, and check that every byte came
# back. Says what it does as it goes.
#
# Usage: scripts/demo.sh [--keep]
#
# Everything happens in a temporary directory of its own, named at the start
# (under $TMPDIR, else /tmp): its state directory and configuration, the
# demo bots' workspaces and the archives. It never reads /etc/statekit or
# touches /var/lib/statekit, whoever runs it. The directory is removed at
# the end, whatever happened, unless --keep or DEMO_KEEP=1 asks to keep it
# to look at; the commands then work on it with
# STATEKIT_CONFIG=<dir>/statekit.ini.
set -eu
keep=${DEMO_KEEP:-0}
case $# in
0) ;;
1) [[ $1 == --keep ]] || { echo "usage: scripts/demo.sh [--keep]" >&2; exit 2; }
	keep=1 ;;
*) echo "usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s all
PATH=$PWD/build/bin:$PATH

say() { printf '\n== %s\n' "$*"; }

demo=$(mktemp -d "${TMPDIR:-/tmp}/statekit-demo.XXXXXX")
finish() {
	if [[ $keep == 1 ]]; then
		say "kept $demo; look with STATEKIT_CONFIG=$demo/statekit.ini ws-preserve --list"
	else
		rm -rf "$demo"
		say "removed $demo (scripts/demo.sh --keep keeps it)"
	fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
state=$demo/state
printf '[state]\ndir = %s\n' "$state" >"$demo/statekit.ini"
STATEKIT_CONFIG=$demo/statekit.ini
export STATEKIT_CONFIG
say "working in $demo: state in $state, configuration in $STATEKIT_CONFIG"
src=demo-src dst=demo-dst
ws=$state/workspaces
work=$demo/archives
mkdir -p "$work"

say "making a sample workspace for bot '$src' in $ws/$src"
mkdir -p "$ws/$src/notes" "$ws/$src/data"
for i in $(seq 1 200); do printf 'note %d: the quick brown fox\n' "$i" >"$ws/$src/notes/n$i.txt"; done
seq 1 200000 >"$ws/$src/data/numbers.csv"
head -c 1048576 /dev/urandom >"$ws/$src/data/blob.bin"
truncate -s 64M "$ws/$src/data/disk.img"
ln -s notes/n1.txt "$ws/$src/latest-note"
du -sh --apparent-size "$ws/$src"

say "ws-export $src > $work/$src.tar.gz"
ws-export -v "$src" >"$work/$src.tar.gz"
ls -l "$work/$src.tar.gz"

say "ws-import $dst < $work/$src.tar.gz"
ws-import -v "$dst" <"$work/$src.tar.gz"

say "the same thing as a pipe: ws-export $src | ws-import $dst"
ws-export "$src" | ws-import -v "$dst"

say "ws-preserve $dst (a backup generation)"
ws-preserve -v "$dst"

say "ws-preserve --verify $dst (the generation re-read and checked, as a restore would)"
ws-preserve --verify "$dst"
ws-preserve --list "$dst"

say "losing bot '$dst''s workspace, then ws-preserve --check and --restore"
rm -rf "${ws:?}/$dst"
ws-preserve --check "$dst" && echo "preserved data is waiting to be restored"
ws-preserve -v --restore "$dst"
ws-preserve --check "$dst" || echo "nothing left to restore"

say "comparing $src and $dst"
fp() { (cd "$1" && find . -printf '%P %y %m %s %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
if [[ "$(fp "$ws/$src")" == "$(fp "$ws/$dst")" ]]; then
	echo "identical: names, modes, sizes, links and every byte"
else
	echo "MISMATCH between $ws/$src and $ws/$dst" >&2
	exit 1
fi
echo "sparse file kept its holes: $(du -k "$ws/$dst/data/disk.img" | cut -f1) KiB on disk for 64 MiB"
say "done"
