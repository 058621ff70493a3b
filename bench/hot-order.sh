#!/usr/bin/env bash
# bench/hot-order.sh - write the link order of hull's hot functions
#
# Usage (root): bench/hot-order.sh BINARY ORDER      (make order does it all)
#   BINARY  hull built like `make build` but unstripped
#   ORDER   the symbol ordering file to write (bench/hull.order)
#
# Runs the benchmark's lifecycle (create --pid-file, state, start, delete of
# a /bin/true bundle) with every command under `hot-order.py trace`, on each
# of the benchmark's configs (its own, `runc spec`'s and the engines' from
# bench/configs, rewritten as bench/lifecycle.sh does), and an exec into a
# running container of podman's config: the engines' configs run code the
# bench's own does not (seccomp, the cgroup mount, sysctls, bind mounts),
# and each function left out of the order costs a 64 KiB window of text.
# The bench's own config runs on the host's cgroup layout and, on a hybrid
# host, also on cgroup v1 alone as the benchmark runs it (cgroup2 unmounted
# in a private mount namespace). Then merges the traces (hot-order.py merge
# says in what order). `make build` hands ORDER to lld, which lays those
# functions out together, so a command faults in few text pages.
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

HB_TMP=$TMP RT_NAME=() RT_BIN=() # what prepare_configs reads
build_rootfs "$TMP/rootfs"
prepare_configs "$ALL_CONFIGS" || die "cannot write the configs"
configs=$(cut -f1 "$TMP/configs.list")
# bundle NAME CONFIG: $TMP/NAME, CONFIG's container in a cgroup of its own
bundle() {
	mkdir "$TMP/$1"
	sed "s|@CGROUPS_PATH@|/$HB_CGROUP/$1|" "$TMP/configs/$2.json" >"$TMP/$1/config.json"
}

# lifecycle NAME: one traced lifecycle of bundle NAME, traces in $TMP/NAME.<command>
lifecycle() {
	local t=$TMP/$1 hull=("$BIN" --root "$TMP/root") tracer
	local trace=(python3 "$HERE/hot-order.py" trace "$BIN")
	"${trace[@]}" "$t.create" -- "${hull[@]}" create --bundle "$TMP/$1" --pid-file "$TMP/pid" ord &
	tracer=$! # it goes on tracing the container's init until its exec
	until [[ -s $t.create ]]; do
		kill -0 "$tracer" 2>/dev/null || die "create of $1 failed under the tracer"
		sleep 0.05
	done
	"${trace[@]}" "$t.state" -- "${hull[@]}" state ord >/dev/null
	"${trace[@]}" "$t.start" -- "${hull[@]}" start ord
	wait "$tracer"
	"${trace[@]}" "$t.delete" -- "${hull[@]}" delete ord
}

export -f lifecycle die warn
export BIN TMP HERE
runs=()
for c in $configs; do bundle "$c" "$c"; done
if grep -q ' /sys/fs/cgroup/unified ' /proc/self/mounts; then
	runs+=(v1)
	bundle v1 bench
	unshare --mount --propagation private -- \
		bash -c 'set -euo pipefail; umount -l /sys/fs/cgroup/unified; lifecycle v1'
fi
for c in $configs; do
	lifecycle "$c"
	runs+=("$c")
done
# Every config's create first: create's functions lie together, whatever the
# config; then the lighter commands' own.
traces=()
for cmd in create state start delete; do
	for run in "${runs[@]}"; do traces+=("$TMP/$run.$cmd"); done
done

# exec, traced into a running container of podman's config (or the last one)
exec_config=podman
grep -qx podman <<<"$configs" || exec_config=${configs##*$'\n'}
mkdir "$TMP/exec" && sed "s|@CGROUPS_PATH@|/$HB_CGROUP/exec|" "$TMP/configs/$exec_config.exec.json" >"$TMP/exec/config.json"
"$BIN" --root "$TMP/root" create --bundle "$TMP/exec" ord
"$BIN" --root "$TMP/root" start ord
python3 "$HERE/hot-order.py" trace "$BIN" "$TMP/exec.exec" -- "$BIN" --root "$TMP/root" exec ord /bin/true
"$BIN" --root "$TMP/root" delete --force ord
traces+=("$TMP/exec.exec")
python3 "$HERE/hot-order.py" merge "$BIN" "$ORDER" "${traces[@]}"
