#!/usr/bin/env bash
# Builds the test VM: a Debian bookworm root filesystem (DIR/bookworm.raw,
# ext4 on the whole disk, no partition table) and Debian's own kernel and
# initrd beside it (DIR/vmlinuz, DIR/initrd.img), for vm/run.sh.
#
#   vm/image.sh [DIR [PACKAGE...]]  (as root; DIR defaults to target/vm)
#
# VM_ARCH=arm64 builds an arm64 machine instead of amd64 (make
# test-vm-arm64): mmdebstrap runs its packages' scripts under
# qemu-user-static, which vm/binfmt.sh registers for the build only.
#
# Cached: nothing is done while DIR/key holds this script's hash, so the
# image is rebuilt only when this script (its package list, its units)
# changes. No loop mounts: mmdebstrap fills a directory, mkfs.ext4 -d packs
# it into the image file.
set -euo pipefail

out=${1:-target/vm}
shift $(($# > 0))
extra=("$@")
arch=${VM_ARCH:-amd64}
# The serial console the guest's kernel and tests write to.
case $arch in
amd64) tty=ttyS0 ;;
arm64) tty=ttyAMA0 ;;
*) echo "vm/image.sh: VM_ARCH=$arch: only amd64 and arm64" >&2; exit 2 ;;
esac
key=$({ cat "$0"; echo "${extra[*]}"; [ "$arch" = amd64 ] || echo "$arch"; } | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/key" 2>/dev/null)" = "$key" ] && [ -f "$out/bookworm.raw" ]; then
	exit 0
fi
mkdir -p "$out"
rm -f "$out/key"
root=$out/root.tmp
rm -rf "$root"
start=$SECONDS

# systemd as PID 1 (with udev for the device units, dbus for logind, and
# dbus-user-session: a user's systemd gets its bus, which rootless
# --systemd-cgroup and rootless podman ask);
# AppArmor's userspace, which loads its profiles at boot; Debian's kernel,
# whose initramfs-tools initrd loads the virtio and ext4 modules; what the
# tests use: `make deps`'s list, and ip, ps (hull ps), unshare, nsenter and
# mount, python3 (integration/faults.sh); criu for checkpoint/restore,
# with iptables, which it locks a container's network with.
packages=(
	systemd-sysv udev dbus dbus-user-session apparmor
	"linux-image-$arch" initramfs-tools kmod
	busybox-static runc golang-github-containers-common strace uidmap criu iptables
	iproute2 procps util-linux python3
	"${extra[@]}"
)
# unshare mode, as root: mmdebstrap's mounts (proc, sys, dev in the
# chroot) live in a mount namespace of their own, never on the host.
build=(mmdebstrap --mode=unshare --variant=apt --arch="$arch"
	--include="$(IFS=,; echo "${packages[*]}")" bookworm "$root" http://deb.debian.org/debian)
if [ "$arch" = amd64 ]; then
	"${build[@]}"
else
	# Emulated, mkinitramfs's default (MODULES=most: a modinfo per module)
	# takes some 20 minutes, twice; the guest needs only its disks'.
	hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d"
		echo MODULES=list >"$1/etc/initramfs-tools/conf.d/hull-vm.conf"
		printf "%s\n" virtio_pci virtio_blk ext4 crc32c_generic \
			>"$1/usr/share/initramfs-tools/modules.d/hull-vm"'
	build+=(--essential-hook="$hook")
	bash "$(dirname "$0")/binfmt.sh" "${build[@]}"
fi

echo hull-vm >"$root/etc/hostname"
echo "127.0.1.1 hull-vm" >>"$root/etc/hosts"
echo "/dev/vda / ext4 rw 0 0" >"$root/etc/fstab"
# A machine id of its own: with none, every boot of the throwaway overlay
# would be a systemd "first boot".
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$root/etc/machine-id"

# The test run: hull-test.service, once the boot is done (After= the target
# that wants it, so that target does not also wait for it: no cycle). It
# runs from a service on purpose: hull must work from one, in the cgroup
# /system.slice/hull-test.service. The machine powers off once it ends.
cat >"$root/etc/systemd/system/hull-test.service" <<EOF
[Unit]
Description=hull's tests, from the payload disk /dev/vdb
After=multi-user.target
SuccessAction=poweroff
FailureAction=poweroff

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/hull-vm-test
TimeoutStartSec=infinity
# Output only: the serial line is not made the service's controlling
# terminal (the tests run with none, as in CI).
StandardOutput=tty
StandardError=tty
TTYPath=/dev/$tty

[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/hull-test.service \
	"$root/etc/systemd/system/multi-user.target.wants/hull-test.service"

# The payload disk is a plain tar (no filesystem): its files go to their
# absolute paths, then its hull-vm/run runs. Its output reaches the serial
# console through a pipe, as a CI log would take it (no terminal), and a
# last line tells vm/run.sh the exit status.
cat >"$root/usr/local/sbin/hull-vm-test" <<'EOF'
#!/bin/bash
# Only emergencies from the kernel on the console while the tests print.
dmesg -n 1
echo "HULL-VM-START $(date -u +%FT%TZ) after $(cut -d' ' -f1 /proc/uptime) s of uptime"
if tar -xf /dev/vdb -C /; then
	/hull-vm/run 2>&1 | cat
	rc=${PIPESTATUS[0]}
else
	rc=125
fi
echo "HULL-VM-EXIT $rc"
EOF
chmod 755 "$root/usr/local/sbin/hull-vm-test"

# Nothing but the tests on the serial line: no login prompt; and no timer
# (apt-daily, fstrim, ...) starting work in the middle of the run.
for unit in "serial-getty@$tty.service" getty@tty1.service timers.target; do
	ln -sf /dev/null "$root/etc/systemd/system/$unit"
done

# The extra packages' services (docker, containerd, ...) are not enabled:
# the run starts what it uses once it has configured it, and a boot under
# TCG is not made longer by daemons starting before the run (it waits for
# multi-user.target).
# (Only units with an [Install] section: systemctl complains of the others.)
mapfile -t units < <(for pkg in "${extra[@]}"; do
	for list in "$root/var/lib/dpkg/info/$pkg.list" "$root/var/lib/dpkg/info/$pkg":*.list; do
		[ ! -f "$list" ] || cat "$list"
	done
done | grep -E '^/lib/systemd/system/[^/]+\.(service|socket|timer|path)$' |
	sed "s|^|$root|" | xargs -r grep -l '^\[Install\]' | xargs -r -n1 basename)
if [ ${#units[@]} -gt 0 ]; then
	echo "vm/image.sh: not started at boot: ${units[*]}"
	systemctl --root="$root" --quiet disable "${units[@]}"
fi

cp "$(ls "$root"/boot/vmlinuz-* | tail -1)" "$out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | tail -1)" "$out/initrd.img"
rm -f "$out/bookworm.raw"
# 8 GiB, sparse: room for the tests' files in each boot's overlay.
mkfs.ext4 -q -L hull-vm -d "$root" "$out/bookworm.raw" 8G
rm -rf "$root"
echo "$key" >"$out/key"
echo "vm/image.sh: built $out/bookworm.raw in $((SECONDS - start)) s"
