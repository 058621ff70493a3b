#!/usr/bin/env bash
# What `make test-vm` needs on the host (Debian 12, as root), installed when
# missing: mmdebstrap and mkfs.ext4 build the image, qemu boots it.
#
#   vm/deps.sh [amd64|arm64]    (the VM's architecture, default amd64)
#
# arm64 (make test-vm-arm64) also needs qemu-user-static, which runs the
# arm64 packages' scripts while mmdebstrap builds the image (vm/binfmt.sh).
set -euo pipefail

host=(mmdebstrap e2fsprogs)
qemu=qemu-system-x86
if [ "${1:-amd64}" = arm64 ]; then
	host+=(qemu-user-static)
	qemu=qemu-system-arm
fi
missing=""
for p in "${host[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# qemu from bookworm-backports: this kind of machine comes with qemu-utils
# 10.0 from there, which bookworm's qemu-system 7.2 "breaks" (apt would
# remove it). The backports source is handed to apt for this install only:
# /etc/apt is left as it is.
if ! dpkg -s "$qemu" >/dev/null 2>&1; then
	echo "installing: $qemu (bookworm-backports)"
	list=$(mktemp)
	trap 'rm -f "$list"' EXIT
	echo "deb http://deb.debian.org/debian bookworm-backports main" >"$list"
	apt=(apt-get -qq -o Dir::Etc::SourceList="$list")
	"${apt[@]}" update
	DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends \
		-t bookworm-backports "$qemu" >/dev/null
fi
