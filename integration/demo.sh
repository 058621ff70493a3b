#!/usr/bin/env bash
# Runs one busybox container with hull and shows what it sees.
# Usage: demo.sh HULL_BINARY   (as root)
set -euo pipefail
HULL=$(readlink -f "${1:?usage: demo.sh HULL_BINARY (make demo passes its own)}")
work=$(mktemp -d /tmp/hull-demo.XXXXXX)
root="$work/state"
trap '"$HULL" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

mkdir -p "$work/rootfs/bin" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -s busybox "$work/rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$work/rootfs/etc/passwd"

cd "$work"
"$HULL" spec
# hull's default config, made non-interactive with a script to run.
script='echo hello from $(hostname), I am $(id); echo processes:; ps; echo capabilities:; grep Cap /proc/self/status; echo mounts:; cat /proc/mounts'
sed -i -e 's/"terminal": true/"terminal": false/' config.json
busybox awk -v s="$script" '
	/"args": \[/ { print "    \"args\": [\"sh\", \"-c\", \"" s "\"],"; skip=1; next }
	skip && /\]/ { skip=0; next }
	!skip' config.json > config.json.new && mv config.json.new config.json
"$HULL" --root "$root" run demo
