#!/usr/bin/env bash
# Builds the busybox rootfs the example Commands beside this script use
# (their "rootfs": /var/lib/hull/examples/rootfs), from the static busybox
# that `make deps` installs. Usage: make-rootfs.sh [DIR]   (as root)
set -euo pipefail
dir=${1:-/var/lib/hull/examples/rootfs}
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
	echo "make-rootfs.sh: needs the static busybox at $busybox (make deps, or apt-get install busybox-static)" >&2
	exit 1
fi
mkdir -p "$dir"/{bin,etc,proc,sys,dev,tmp,root,home/user,mnt}
chmod 1777 "$dir/tmp"
cp "$busybox" "$dir/bin/busybox"
for applet in $("$busybox" --list); do
	[ "$applet" = busybox ] || ln -sfn busybox "$dir/bin/$applet"
done
cat > "$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000::/home/user:/bin/sh
PASSWD
cat > "$dir/etc/group" <<'GROUP'
root:x:0:
wheel:x:10:user
audio:x:29:user
user:x:1000:
GROUP
chown 1000:1000 "$dir/home/user"
echo "$dir"
