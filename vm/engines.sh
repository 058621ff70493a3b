#!/usr/bin/env bash
# `make test-vm-engines`: real engines (docker, podman, containerd's ctr)
# with runc and with hull, using the systemd cgroup driver, in the engines
# VM (vm/image.sh's, with the engines installed): packs the payload (HULL
# and vm/engines-guest.sh, which the VM runs), boots the VM with it
# (vm/run.sh), then prints a table of scenario x runtime from the guest's
# `engines: ...` lines in the serial log, and each failure's output.
#
#   vm/engines.sh HULL [DIR]     (as root; DIR: the image's, default target/vm-engines)
#
# Exits non-zero if any scenario failed, or none reported: runc's column
# failing means the VM or the engines are broken (not hull), which is said.
set -uo pipefail

hull=$(realpath "${1:?usage: vm/engines.sh HULL [DIR]}")
dir=${2:-target/vm-engines}
vm=$(dirname "$(realpath "$0")")

# The payload: a plain tar whose files the guest extracts at their absolute
# paths: /hull-vm/run (what the guest runs), the guest script, and hull
# under its own name (podman goes by the runtime's basename).
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/hull-vm"
cp "$hull" "$stage/hull-vm/hull"
cp "$vm/engines-guest.sh" "$vm/engines-userns.sh" "$stage/hull-vm/"
printf '#!/bin/bash\nexec bash /hull-vm/engines-guest.sh /hull-vm/hull\n' >"$stage/hull-vm/run"
chmod 755 "$stage/hull-vm/run"
tar -C "$stage" -cf "$dir/payload.tar" hull-vm

log=${VM_LOG:-$dir/serial.log}
VM_LOG=$log bash "$vm/run.sh" "$dir/payload.tar" "$dir"
rc=$?
lines=$(tr -d '\r' <"$log" | grep -a '^engines: [a-z-]*/[a-z]* ')

# The table: a row per engine and scenario, in the order they ran; a
# column per runtime.
echo
echo "vm/engines.sh: the systemd cgroup driver, scenario x runtime:"
awk '
	$4 == "PASS" || $4 == "FAIL" || $4 == "N/A" {
		split($2, er, "/"); row = er[1] " " $3
		if (!(row in seen)) { seen[row] = 1; rows[++n] = row }
		if (!(er[2] in cols)) { cols[er[2]] = 1; col[++m] = er[2] }
		res[row, er[2]] = $4
	}
	END {
		printf "%-34s", "scenario"; for (j = 1; j <= m; j++) printf " %-6s", col[j]; print ""
		for (i = 1; i <= n; i++) {
			printf "%-34s", rows[i]
			for (j = 1; j <= m; j++) printf " %-6s", ((rows[i], col[j]) in res) ? res[rows[i], col[j]] : "-"
			print ""
		}
	}' <<<"$lines"

fails=$(awk '$4 == "FAIL" { print $2 " " $3 }' <<<"$lines")
if [ -n "$fails" ]; then
	echo
	echo "vm/engines.sh: what failed:"
	while read -r key scenario; do
		echo "$key $scenario:"
		grep -F "engines: $key $scenario | " <<<"$lines" | sed 's/^[^|]*| /    /'
	done <<<"$fails"
fi

echo
tr -d '\r' <"$log" | grep -a '^engines: units left:' | sed 's/^engines: /vm\/engines.sh: /'
if [ -z "$lines" ]; then
	echo "vm/engines.sh: no scenario reported (vm/run.sh's status: $rc)" >&2
	exit 1
fi
if grep -q '^[a-z-]*/runc ' <<<"$fails"; then
	echo "vm/engines.sh: runc failed too: the VM's engines are broken, not (only) hull" >&2
	exit 1
fi
if [ -n "$fails" ]; then
	echo "vm/engines.sh: hull failed $(wc -l <<<"$fails") scenario(s)" >&2
	exit 1
fi
echo "vm/engines.sh: all passed"
