#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the main
# job on built-in defaults: export a sample workspace, import it as another
# bot, keep a backup generation, lose the workspace, restore it, and check
# that every byte came back. Says what it does as it goes.
set -eu
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s all
PATH=$PWD/build/bin:$PATH

say() { printf '\n== %s\n' "$*"; }

# Built-in defaults mean /var/lib/statekit, which only root can write;
# others get the same defaults under a private state directory.
if ((EUID != 0)) || [[ -n ${STATEKIT_CONFIG:-} ]]; then
	state=$(mktemp -d)/state
	printf '[state]\ndir = %s\n' "$state" >"$(dirname "$state")/statekit.ini"
	STATEKIT_CONFIG=$(dirname "$state")/statekit.ini
	export STATEKIT_CONFIG
else
	state=/var/lib/statekit
	unset STATEKIT_CONFIG
fi
src=demo-src dst=demo-dst
ws=$state/workspaces
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

say "making a sample workspace for bot '$src' in $ws/$src"
rm -rf "${ws:?}/$src" "${ws:?}/$dst"
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
say "done: state is in $state (index.db, backups/, workspaces/)"
