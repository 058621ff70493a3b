#!/usr/bin/env bash
# Boots the test VM (vm/image.sh's) with PAYLOAD as its second disk, shows
# its serial console as it goes, and exits with the status the guest
# reports on its last line, `HULL-VM-EXIT <rc>`: 124 on a time-out, 1 with
# no such line (the VM did not boot, or died).
#
#   vm/run.sh PAYLOAD_TAR [DIR]      (DIR: the image's, default target/vm)
#
# VM_TIMEOUT (seconds, default 1800) bounds the whole run, VM_ACCEL picks
# qemu's accelerator (default tcg: nested KVM fails on this kind of
# machine), VM_LOG keeps the serial log (default DIR/serial.log), VM_ARCH
# (amd64 or arm64, default amd64) is the image's architecture.
set -euo pipefail

payload=$(realpath "${1:?usage: vm/run.sh PAYLOAD_TAR [DIR]}")
dir=${2:-target/vm}
log=${VM_LOG:-$dir/serial.log}
: >"$log"

# Pure cgroup v2 and AppArmor (bookworm's defaults, made explicit).
# tsc=reliable: under TCG the kernel finds the TSC "unsynchronized" and
# falls back to the HPET, which has no vDSO: every clock_gettime would be
# a real system call (seen by strace and seccomp), as on no real machine.
# mitigations=off: speed; this throwaway guest runs only our code.
# panic=1 (with -no-reboot below): a panic ends qemu at once.
cmdline=(root=/dev/vda rw panic=1 mitigations=off
	systemd.unified_cgroup_hierarchy=1 apparmor=1 security=apparmor)
case ${VM_ARCH:-amd64} in
amd64)
	cmdline+=(console=ttyS0 tsc=reliable)
	machine=(qemu-system-x86_64 -cpu max)
	;;
arm64)
	# The virt board's PL011 serial line; -cpu max with QEMU's own
	# pointer authentication, far cheaper under TCG than the architected
	# algorithm (the guest cannot tell).
	cmdline+=(console=ttyAMA0)
	machine=(qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on)
	;;
*)
	echo "vm/run.sh: VM_ARCH=$VM_ARCH: only amd64 and arm64" >&2
	exit 2
	;;
esac

# The root disk's writes go to a throwaway overlay (snapshot=on): the cached
# image stays clean for the next boot. The payload is a raw tar, read only.
# -no-reboot: the guest's poweroff, reboot or panic ends qemu.
qemu=("${machine[@]}" -accel "${VM_ACCEL:-tcg}" -m 4G -smp 2
	-nodefaults -no-user-config -display none -no-reboot
	-kernel "$dir/vmlinuz" -initrd "$dir/initrd.img"
	-append "${cmdline[*]}"
	-drive "file=$dir/bookworm.raw,format=raw,if=virtio,snapshot=on"
	-drive "file=$payload,format=raw,if=virtio,readonly=on"
	-device virtio-rng-pci -nic none
	-serial "file:$log")

start=$SECONDS
timeout --kill-after=10 "${VM_TIMEOUT:-1800}" "${qemu[@]}" </dev/null &
vm=$!
# make's Ctrl-C, or any exit of ours, ends the VM too.
trap 'kill "$vm" 2>/dev/null || true' EXIT
# The console as it comes (without the serial line's carriage returns),
# until qemu is gone.
tail -n +1 -f --pid="$vm" "$log" | tr -d '\r'
rc=0
wait "$vm" || rc=$?
echo "vm/run.sh: qemu ran $((SECONDS - start)) s; serial log: $log"

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	echo "vm/run.sh: timed out after ${VM_TIMEOUT:-1800} s" >&2
	exit 124
fi
marker=$(tr -d '\r' <"$log" | grep -a '^HULL-VM-EXIT ' | tail -1)
if [ -z "$marker" ]; then
	echo "vm/run.sh: no HULL-VM-EXIT line: the VM did not run the tests (qemu's status: $rc)" >&2
	exit 1
fi
exit "${marker#HULL-VM-EXIT }"
