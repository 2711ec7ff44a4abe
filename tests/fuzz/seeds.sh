#!/usr/bin/env bash
# Make the seed corpus of every fuzz target: tests/fuzz/seeds.sh DIR writes
# DIR/targuard, DIR/codec, DIR/snapimport, DIR/manifest, DIR/config,
# DIR/remote and DIR/archive (the tar and compressed seeds together),
# each a directory of small valid inputs. Nothing binary is kept in the
# repository: the tar streams come from GNU tar and bsdtar, the compressed
# streams from gzip, pigz, zstd and a few lines of Python (statekit's own
# gzip members with the SK length field, zstd skippable frames), and the
# snapshot stream is written by hand following lib/snapxfer.c's format.
# When tests/gen-hostile exists, its hostile archives join the tar seeds.
set -eu
out=${1:?usage: tests/fuzz/seeds.sh DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"/{targuard,codec,snapimport,manifest,config,remote,archive}

# ---- tar streams
t=$work/tree
mkdir -p "$t/dir/sub" "$t/empty"
printf 'hello\n' >"$t/a.txt"
printf 'x%.0s' $(seq 1 700) >"$t/dir/sub/b.txt"
: >"$t/zero"
ln -s a.txt "$t/link"
ln "$t/a.txt" "$t/dir/hard"
long=$(printf 'n%.0s' $(seq 1 120))
printf 'long\n' >"$t/dir/$long"
truncate -s 20K "$t/sparse"
printf 'data' | dd of="$t/sparse" bs=1 seek=12288 conv=notrunc status=none
(
	cd "$t"
	tar -b1 --format=gnu -cf "$out/targuard/gnu.tar" .
	tar -b1 --format=pax -cf "$out/targuard/pax.tar" .
	tar -b1 --format=ustar -cf "$out/targuard/ustar.tar" a.txt dir/sub link empty
	tar -b1 --format=v7 -cf "$out/targuard/v7.tar" a.txt link
	tar -b1 --format=gnu --sparse -cf "$out/targuard/gnu-sparse.tar" sparse a.txt
	tar -b1 --format=pax --sparse --sparse-version=0.0 -cf "$out/targuard/pax-sparse00.tar" sparse
	tar -b1 --format=pax --sparse --sparse-version=0.1 -cf "$out/targuard/pax-sparse01.tar" sparse
	tar -b1 --format=pax --sparse --sparse-version=1.0 -cf "$out/targuard/pax-sparse10.tar" sparse
	bsdtar -b 1 --format=pax -cf "$out/targuard/bsdtar-pax.tar" a.txt dir link
	bsdtar -b 1 --format=ustar -cf "$out/targuard/bsdtar-ustar.tar" a.txt zero empty
	tar -b1 -cf "$out/targuard/empty.tar" -T /dev/null
)
if [[ -x $repo/tests/gen-hostile ]]; then
	mkdir -p "$work/hostile"
	if "$repo/tests/gen-hostile" "$work/hostile" >/dev/null 2>&1; then
		for f in "$work/hostile"/*; do
			[[ -f $f ]] && cp "$f" "$out/targuard/hostile-$(basename "$f")"
		done
	fi
fi

# ---- compressed streams
c=$out/codec
head -c 3000 "$repo/README.md" >"$c/plain"
cp "$out/targuard/ustar.tar" "$c/plain.tar"
gzip -9nc "$c/plain" >"$c/plain.gz"
pigz -nc "$out/targuard/pax.tar" >"$c/pax.tar.gz"
zstd -q --check -c "$c/plain" >"$c/plain.zst"
zstd -q --check -19 -c "$out/targuard/gnu.tar" >"$c/gnu.tar.zst"
cat "$c/plain.gz" "$c/plain.gz" >"$c/two-members.gz"
cat "$c/plain.zst" "$c/plain.zst" >"$c/two-frames.zst"
python3 - "$c" <<'EOF'
import os, struct, sys, zlib

out = sys.argv[1]
text = open(os.path.join(out, "plain"), "rb").read()


def sk_member(data, level=6):
    """A gzip member as statekit's encoder writes it: FEXTRA 'SK' = member length."""
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    body = co.compress(data) + co.flush()
    n = 20 + len(body) + 8
    hdr = b"\x1f\x8b\x08\x04" + b"\0\0\0\0" + b"\x00\xff" + struct.pack("<H", 8)
    hdr += b"SK" + struct.pack("<HI", 4, n)
    return hdr + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def skippable(payload):
    return struct.pack("<II", 0x184D2A50, len(payload)) + payload


with open(os.path.join(out, "statekit.gz"), "wb") as f:
    f.write(sk_member(text[:1500]) + sk_member(text[1500:], 1) + sk_member(b""))
zst = open(os.path.join(out, "plain.zst"), "rb").read()
with open(os.path.join(out, "skippable.zst"), "wb") as f:
    f.write(skippable(b"pzstd") + zst + skippable(b""))
EOF
zstd -q --no-check -c "$c/plain" >"$c/no-checksum.zst"	# refused: no checksum

# ---- a snapshot stream, its manifest
python3 - "$out" <<'EOF'
import gzip, hashlib, json, os, struct, sys

out = sys.argv[1]
page = 4096


def art(name, kind, data, **extra):
    a = {"name": name, "kind": kind, "size": len(data),
         "sha256": hashlib.sha256(data).hexdigest()}
    a.update(extra)
    return a, data


state = bytes(range(256)) * 16 + b"state-tail"
memory = bytes(2 * page) + b"M" * page + bytes(page) + b"m" * 100 + bytes(page - 100)
disk = b"D" * page + bytes(3 * page)
arts = [art("vm.state", "state", state), art("mem.snap", "memory", memory),
        art("rootfs.ext4", "disk", disk, drive_id="rootfs",
            recorded_path="/srv/vms/vm1/rootfs.ext4", read_only=False)]
man = {"format": 1, "snapshot": "snap1", "machine": "vm1", "created": 1760000000,
       "vmm_version": "1.16.1", "snapshot_version": "10.0.0", "jailed": False,
       "guest_ip": "172.16.0.2", "pause_us": 1234,
       "taps": [{"iface_id": "eth0", "host_dev_name": "tap0",
                 "guest_mac": "06:00:ac:10:00:02"}],
       "artifacts": [a for a, _ in arts],
       "vm_config": {"machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
                     "drives": [{"drive_id": "rootfs",
                                 "path_on_host": "/srv/vms/vm1/rootfs.ext4"}]}}
text = (json.dumps(man, indent=2) + "\n").encode()
jailed = dict(man, jailed=True, uid=123, gid=456, snapshot="snap2", guest_ip=None,
              snapshot_version=None, taps=[], vm_config=None)
minimal = {"format": 1, "snapshot": "s", "machine": "m", "vmm_version": "1.0",
           "artifacts": [a for a, _ in arts[:2]]}
for name, m in (("full.json", None), ("jailed.json", jailed), ("minimal.json", minimal)):
    with open(os.path.join(out, "manifest", name), "wb") as f:
        f.write(text if m is None else (json.dumps(m, indent=2) + "\n").encode())


def runs(data):
    """'D' records for the non-zero 4 KiB pages, as snapxfer.c's send_runs makes them."""
    recs, i = b"", 0
    while i < len(data):
        while i < len(data) and not any(data[i:i + page]):
            i += page
        if i >= len(data):
            break
        start = i
        while i < len(data) and any(data[i:i + page]):
            i += page
        chunk = data[start:min(i, len(data))]
        recs += b"D" + struct.pack("<QI", start, len(chunk)) + chunk
    return recs


def stream(text, arts):
    s = b"SKSNAP1\n" + b"M" + struct.pack("<I", len(text)) + text
    for a, data in arts:
        name = a["name"].encode()
        s += b"F" + struct.pack("<H", len(name)) + name + runs(data)
        s += b"E" + struct.pack("<Q", len(data)) + a["sha256"].encode()
    return s + b"T" + hashlib.sha256(text).hexdigest().encode()


plain = stream(text, arts)
mtext = (json.dumps(minimal) + "\n").encode()
d = os.path.join(out, "snapimport")
with open(os.path.join(d, "full.sksnap"), "wb") as f:
    f.write(plain)
with open(os.path.join(d, "minimal.sksnap"), "wb") as f:
    f.write(stream(mtext, arts[:2]))
with open(os.path.join(d, "full.sksnap.gz"), "wb") as f:
    f.write(gzip.compress(plain, mtime=0))
EOF
zstd -q --check -c "$out/snapimport/full.sksnap" >"$out/snapimport/full.sksnap.zst"

# ---- configurations
cfg=$out/config
cat >"$cfg/full.ini" <<'EOF'
; every section and key statekit knows
[state]
dir = /var/lib/statekit

[workspace]
backend = dir
path = /var/lib/statekit/workspaces/%s
stop_command = systemctl stop bot@%s
start_command = systemctl start bot@%s
legacy_dir = /var/lib/statekit/bots
keep = 3

[containerd]
address = /run/containerd/containerd.sock
namespace = default
container = workspace-%s
data_path = /data
stop_timeout = 10
ctr = ctr

[archive]
compression = zstd
level = 3
threads = 0
max_entries = 1000000
max_bytes = 1T
max_path = 4K
max_depth = 256

[firecracker]
binary = firecracker
jailer = jailer
socket = /srv/jailer/firecracker/%s/root/run/firecracker.socket
chroot = /srv/jailer/firecracker/%s/root
clone = auto
EOF
printf '[state]\ndir = /srv/statekit\n' >"$cfg/state.ini"
printf '# containerd bots\n[workspace]\nbackend = containerd\n[containerd]\nstop_timeout = 0\n' \
	>"$cfg/containerd.ini"
printf '[archive]\ncompression=none\nmax_bytes=64G\nlevel=22\n[firecracker]\nclone=reflink\n' \
	>"$cfg/archive.ini"
: >"$cfg/empty.ini"

# ---- remote: the first byte picks the parser (0 XML, 1 PLAN, 2 SPEC, 3 chunk)
r=$out/remote
{ printf '\000'; printf '<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/chunks/ab/ab&amp;c</Key><Size>12</Size><LastModified>2026-12-03T13:40:35.000Z</LastModified></Contents><NextContinuationToken>tok</NextContinuationToken></ListBucketResult>'; } >"$r/list.bin"
{ printf '\000'; printf '<Error><Code>NoSuchBucket</Code><Message>no &lt;b&gt;</Message></Error>'; } >"$r/error.bin"
{ printf '\001'; printf '{"artifacts":[{"name":"memory","part_size":5242880,"parts":[{"part_number":1,"url":"http://h/b/k?partNumber=1"},{"part_number":2,"url":"https://h/b/k?partNumber=2"}]}]}'; } >"$r/plan.bin"
{ printf '\002'; printf '{"manifest":{"format":2},"artifacts":[{"name":"vmstate","url":"http://h/b/v"}]}'; } >"$r/spec.bin"
python3 - "$r/chunk.bin" <<'PY'
import hashlib, subprocess, sys
data = b"statekit chunk " * 100
z = subprocess.run(["zstd", "-q", "-c", "--check"], input=data, capture_output=True, check=True).stdout
open(sys.argv[1], "wb").write(b"\x03" + len(data).to_bytes(2, "big") + hashlib.sha256(data).digest() + z)
PY

# ---- archive: whole archives, plain and compressed, as a generation holds them
cp "$out"/targuard/* "$out"/codec/*.tar* "$out/archive/"
