#!/usr/bin/env bash
# bench/hot-order.sh - write the link order of hull's hot functions
#
# Usage (root): bench/hot-order.sh BINARY ORDER      (make order does it all)
#   BINARY  hull built like `make build` but unstripped
#   ORDER   the symbol ordering file to write (bench/hull.order)
#
# Runs the benchmark's lifecycle (create --pid-file, state, start, delete of
# its /bin/true bundle) with every command under `hot-order.py trace`: on the
# host's cgroup layout and, on a hybrid host, also on cgroup v1 alone as the
# benchmark runs (cgroup2 unmounted in a private mount namespace). Then
# merges the traces: the commands' own functions first, create's leading,
# then the container init's. `make build` hands ORDER to lld, which lays
# those functions out together, so a command faults in few text pages.
# Symbol names carry hashes that change with the toolchain and dependency
# versions: rerun after updating either (a stale name is just skipped).

set -euo pipefail
HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
source "$HERE/lifecycle.sh" # build_rootfs, write_config_template, remove_cgroups

(($# == 2)) || { sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
BIN=$(readlink -f "$1") ORDER=$2
[[ $(id -u) == 0 ]] || die "must run as root"
# hot-order.py reads x86_64 registers, and only lld (x86_64's linker) uses
# the order: elsewhere there is nothing to trace for.
[[ $(uname -m) == x86_64 ]] || die "the link order is x86_64's; this is $(uname -m)"
TMP=$(mktemp -d /tmp/hull-order.XXXXXX)
export HB_CGROUP=hull-order-${TMP##*.}
cleanup() {
	"$BIN" --root "$TMP/root" delete --force ord 2>/dev/null || true
	remove_cgroups
	rm -rf "$TMP"
}
trap cleanup EXIT

build_rootfs "$TMP/rootfs"
write_config_template "$TMP/rootfs" "$TMP/config.template"
mkdir "$TMP/bundle"
sed "s|@CGROUPS_PATH@|/$HB_CGROUP/ord|" "$TMP/config.template" >"$TMP/bundle/config.json"

# lifecycle NAME: one traced lifecycle, traces in $TMP/NAME.<command>
lifecycle() {
	local t=$TMP/$1 hull=("$BIN" --root "$TMP/root") tracer
	local trace=(python3 "$HERE/hot-order.py" trace "$BIN")
	"${trace[@]}" "$t.create" -- "${hull[@]}" create --bundle "$TMP/bundle" --pid-file "$TMP/pid" ord &
	tracer=$! # it goes on tracing the container's init until its exec
	until [[ -s $t.create ]]; do
		kill -0 "$tracer" 2>/dev/null || die "create failed under the tracer"
		sleep 0.05
	done
	"${trace[@]}" "$t.state" -- "${hull[@]}" state ord >/dev/null
	"${trace[@]}" "$t.start" -- "${hull[@]}" start ord
	wait "$tracer"
	"${trace[@]}" "$t.delete" -- "${hull[@]}" delete ord
}

export -f lifecycle die warn
export BIN TMP HERE
runs=(host)
if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mounts; then
	runs=(bench host)
	unshare --mount --propagation private -- \
		bash -c 'set -euo pipefail; umount -l /sys/fs/cgroup/unified; lifecycle bench'
fi
lifecycle host
traces=()
for run in "${runs[@]}"; do traces+=("$TMP/$run".{create,state,start,delete}); done
python3 "$HERE/hot-order.py" merge "$BIN" "$ORDER" "${traces[@]}"
