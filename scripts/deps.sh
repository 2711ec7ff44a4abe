#!/usr/bin/env bash
# Install the Debian 12 packages statekit builds and tests with, if missing.
# Safe to run again: it installs only what dpkg does not already have.
# Usage: scripts/deps.sh [--fuzz]
#   --fuzz  also the optional fuzzing group: clang 14 and its libFuzzer and
#           sanitizer runtimes, for make fuzz and scripts/fuzz.sh
set -eu

pkgs=(
	build-essential pkg-config
	libarchive-dev zlib1g-dev libinih-dev libsqlite3-dev libzstd-dev libssl-dev
	sqlite3 bats bats-assert bats-support mandoc zsh
	pigz zstd bzip2 xz-utils attr python3 util-linux libarchive-tools
	libcurl4-openssl-dev libjansson-dev xfsprogs iproute2
	containerd runc busybox-static
	jq less procps clang-format shellcheck
	ceph-mon ceph-osd radosgw ceph-common curl python3-boto3 openssl
	systemd man-db
)
# Optional group "fuzz": only with --fuzz (.ci/run asks for it).
fuzz_pkgs=(clang libclang-rt-14-dev)

case ${1:-} in
--fuzz) pkgs+=("${fuzz_pkgs[@]}") ;;
'') ;;
*) echo "usage: scripts/deps.sh [--fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

echo "statekit: installing ${missing[*]}" >&2
sudo=
if ((EUID != 0)); then
	command -v sudo >/dev/null || { echo "statekit: need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
