#!/usr/bin/env bash
# Builds the disk image of the cgroup v2 test VM, or finds it in the cache, and prints its folder.
#
#   bash scripts/v2host/image.sh        # -> /var/cache/metamcp-guard/v2host/<key>
#
# The folder holds what scripts/v2host/vm.sh boots:
#   rootfs.img         raw ext4 root file system (never written: each boot writes to its own overlay)
#   vmlinuz, initrd.img  the image's own kernel and initramfs (passed to QEMU with -kernel/-initrd)
#   id_ed25519[.pub]   the key root logs in with (the VM listens on a loopback-forwarded port only)
#   host_key.pub       the VM's SSH host key, pinned by every client
#
# The image: Debian 12 with systemd as PID 1 (so cgroup v2, unified hierarchy), Debian's docker.io
# (Docker 20.10, runc 1.1, which picks the systemd cgroup driver there), openssh-server, and AppArmor
# (without it every `docker run` fails: "AppArmor enabled on system but the docker-default profile could
# not be loaded"). The VM has no registry and no network but its SSH port, so everything is installed
# here, in a chroot, before it ever boots.
#
# Cache: the folder is keyed by a hash of this file, which is the whole recipe (packages and settings):
# editing it builds a new image; anything else reuses the old one. Builds take ~6 minutes (debootstrap is
# most of it); a cached image takes none. METAMCP_GUARD_VM_CACHE moves the cache (default
# /var/cache/metamcp-guard/v2host, which CI machines keep between runs); METAMCP_GUARD_DEBIAN_MIRROR
# picks the mirror. Needs root (debootstrap, chroot).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${METAMCP_GUARD_VM_CACHE:-/var/cache/metamcp-guard/v2host}
MIRROR=${METAMCP_GUARD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
# udev and kmod: the initramfs finds the virtio disk; iproute2/procps: debugging over SSH.
PACKAGES=systemd,systemd-sysv,dbus,udev,kmod,openssh-server,docker.io,apparmor,linux-image-amd64,initramfs-tools,iproute2,procps
# Free room on the root file system for images and containers the tests make.
FREE_MIB=1536

log() { echo "v2host image: $*" >&2; }

KEY=$(sha256sum "$HERE/image.sh" | cut -c1-16)
OUT=$CACHE/$KEY

if [ -f "$OUT/complete" ]; then
  touch "$OUT/complete" # last use, for pruning below
  echo "$OUT"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { log "building the image needs root (debootstrap, chroot)"; exit 1; }
for tool in debootstrap mke2fs ssh-keygen; do
  command -v "$tool" >/dev/null 2>&1 || { log "needs $tool (apt-get install -y debootstrap e2fsprogs openssh-client)"; exit 1; }
done

mkdir -p "$CACHE"
# One build at a time per cache: a second CI run on the same machine waits, then finds the image built.
exec 9>"$CACHE/.lock"
flock 9
if [ -f "$OUT/complete" ]; then
  echo "$OUT"
  exit 0
fi

WORK=$(mktemp -d "$CACHE/.build-XXXXXX")
ROOT=$WORK/root
cleanup() {
  # debootstrap and our chroot steps mount these; never leave them mounted under the cache.
  for mount in "$ROOT/proc" "$ROOT/sys" "$ROOT/dev/pts" "$ROOT/dev"; do
    if mountpoint -q "$mount" 2>/dev/null; then umount -l "$mount" || true; fi
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
SECONDS=0

log "debootstrap $SUITE from $MIRROR (a few minutes)"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 30 "$WORK/debootstrap.log" >&2
  exit 1
}
log "debootstrap done after ${SECONDS}s"

in_root() { chroot "$ROOT" "$@"; }

# --- Boot: root on the first virtio disk, swap on the second (made fresh for each boot by vm.sh).
echo v2host >"$ROOT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 v2host\n' >"$ROOT/etc/hosts"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >"$ROOT/etc/fstab"
# Swap must exist, or "no swap" proves nothing: a hog under memory.swap.max=max would then be OOM-killed
# all the same. vm.sh attaches an empty disk as /dev/vdb; this formats and enables it at every boot.
cat >"$ROOT/etc/systemd/system/v2host-swap.service" <<'EOF'
[Unit]
Description=Swap on the scratch disk /dev/vdb (metamcp-guard test VM)
DefaultDependencies=no
Before=swap.target docker.service
ConditionPathExists=/dev/vdb

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/mkswap -f /dev/vdb
ExecStart=/sbin/swapon /dev/vdb

[Install]
WantedBy=swap.target
EOF
# The drivers the initramfs needs to find the root disk, whatever initramfs-tools' MODULES=most picks.
printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >>"$ROOT/etc/initramfs-tools/modules"

# --- Network: QEMU's user-mode network hands out an address by DHCP; only port 22 is forwarded to it.
cat >"$ROOT/etc/systemd/network/10-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF

# --- SSH: root by key only. The key pair is made here and kept with the image.
ssh-keygen -q -t ed25519 -N '' -C metamcp-guard-v2host -f "$WORK/id_ed25519"
install -d -m 700 "$ROOT/root/.ssh"
install -m 600 "$WORK/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
cat >"$ROOT/etc/ssh/sshd_config.d/10-v2host.conf" <<'EOF'
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UseDNS no
# Tests multiplex many sessions over one connection (ControlMaster): allow more than the default 10.
MaxSessions 64
EOF
# openssh-server's postinst made host keys in the chroot; every VM booted from this image has them.
cp "$ROOT/etc/ssh/ssh_host_ed25519_key.pub" "$WORK/host_key.pub"

# --- Services: what the tests need starts at boot; timers that would compete with them do not.
in_root systemctl enable systemd-networkd.service ssh.service docker.service containerd.service v2host-swap.service >/dev/null
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer man-db.timer \
  getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service; do
  in_root systemctl mask "$unit" >/dev/null 2>&1 || true
done

# --- Kernel and initramfs, rebuilt with the modules above.
mount -t proc proc "$ROOT/proc"
in_root update-initramfs -u -k all >"$WORK/initramfs.log" 2>&1 || { tail -n 20 "$WORK/initramfs.log" >&2; exit 1; }
umount "$ROOT/proc"
cp "$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n 1)" "$WORK/vmlinuz"
cp "$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -n 1)" "$WORK/initrd.img"

# --- The root file system, made from the folder without mounting anything (mke2fs -d).
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
used_mib=$(du -sm "$ROOT" | cut -f1)
mke2fs -q -t ext4 -L v2host -d "$ROOT" "$WORK/rootfs.img" "$((used_mib + FREE_MIB))M"
rm -rf "$ROOT"

mkdir -p "$OUT"
mv "$WORK/rootfs.img" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/id_ed25519" "$WORK/id_ed25519.pub" "$WORK/host_key.pub" "$OUT/"
chmod 600 "$OUT/id_ed25519"
touch "$OUT/complete"
log "built $OUT in ${SECONDS}s"

# Images of older recipes that nobody used for two weeks go (each is ~1.5 GiB).
find "$CACHE" -mindepth 2 -maxdepth 2 -name complete -mtime +14 -printf '%h\n' | while read -r old; do
  [ "$old" = "$OUT" ] || { log "pruning $old"; rm -rf "$old"; }
done

echo "$OUT"
