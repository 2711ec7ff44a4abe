# shellcheck shell=bash
# Loop-mounted filesystems for tests that need a particular one: XFS with
# reflink, ext4 without. Everything mounted here is unmounted and detached by
# loopfs_cleanup (call it from teardown).

# loopfs_mount TYPE DIR [SIZE_MB]: make a TYPE filesystem in an image file and
# mount it on DIR (created). TYPE is xfs (with reflink) or ext4.
loopfs_mount() {
	local type=$1 dir=$2 size=${3:-512} img=$BATS_TEST_TMPDIR/loopfs.$RANDOM.img
	truncate -s "${size}M" "$img"
	case $type in
	xfs) mkfs.xfs -q -m reflink=1 "$img" ;;
	ext4) mkfs.ext4 -q -F "$img" ;;
	*) fail "loopfs_mount: unknown type $type" ;;
	esac
	mkdir -p "$dir"
	[[ -e /dev/loop-control ]] || modprobe loop 2>/dev/null || true
	mount -o loop "$img" "$dir" || fail "cannot loop-mount $type on $dir (needs root)"
	LOOPFS_MOUNTS+=" $dir"
}

loopfs_cleanup() {
	local d
	for d in ${LOOPFS_MOUNTS:-}; do
		umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
	done
	LOOPFS_MOUNTS=
}
