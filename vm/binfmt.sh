#!/usr/bin/env bash
# Runs COMMAND with the kernel running aarch64 programs through
# qemu-user-static (binfmt_misc), as mmdebstrap needs to build an arm64
# root on an amd64 host; afterwards the host is as it was: the handler is
# unregistered and binfmt_misc unmounted if this script added them.
#
#   vm/binfmt.sh COMMAND...     (as root)
set -euo pipefail

conf=/usr/lib/binfmt.d/qemu-aarch64.conf
if [ ! -f "$conf" ]; then
	echo "vm/binfmt.sh: $conf is missing (qemu-user-static)" >&2
	exit 1
fi
dir=/proc/sys/fs/binfmt_misc
mounted=
registered=
cleanup() {
	if [ -n "$registered" ]; then
		echo -1 >"$dir/qemu-aarch64"
	fi
	if [ -n "$mounted" ]; then
		umount "$dir"
	fi
}
trap cleanup EXIT
if [ ! -f "$dir/register" ]; then
	mount -t binfmt_misc binfmt_misc "$dir"
	mounted=1
fi
if [ ! -f "$dir/qemu-aarch64" ]; then
	# The F flag: the kernel opens the interpreter now, so it also works
	# inside mmdebstrap's chroot, which has no qemu of its own.
	grep -v '^#' "$conf" >"$dir/register"
	registered=1
fi
"$@"
