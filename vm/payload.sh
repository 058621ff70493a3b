#!/usr/bin/env bash
# Packs what the VM needs to run the tests into one tar, for vm/run.sh: the
# repository (without target/ and .git/) at its absolute host path, since
# the tests read files from the source tree and have the hull binary's
# path compiled in (env!("CARGO_BIN_EXE_hull")); the binaries cargo builds
# for `cargo test` (the test executables, the debug hull) and make build's
# release hull (for faults.sh); and hull-vm/run,
# which the VM runs: vm/guest.sh with the test executables.
#
#   vm/payload.sh OUT_TAR      (from the repository, after make build)
#
# For a quicker run while working on some tests, two settings are passed
# on to vm/guest.sh (unset: every test, then faults.sh):
#   VM_TEST_FILTER   test-name filters given to each test executable, as to
#                    `cargo test -- FILTER...` (e.g. "cgroups:: cli::spec";
#                    other arguments of theirs too, e.g. --nocapture)
#   VM_SKIP_FAULTS=1 skips integration/faults.sh
# VM_TARGET (a cargo target: make test-vm passes x86_64-unknown-linux-musl,
# make test-vm-arm64 aarch64-unknown-linux-gnu) builds the tests for it;
# make build (or build-arm64) has built its release binary. VM_DEB (a .deb
# of hull) is packed too, and the VM checks it with pkg/check.sh:
# installed, its manual pages, completions, a container run.
set -euo pipefail

out=$(realpath "${1:?usage: vm/payload.sh OUT_TAR}")
repo=$(pwd -P)

# Every executable cargo builds for the tests (built now if need be); the
# test executables are those with "test":true in their profile (sorted:
# the unit tests, hull-*, before the integration tests).
target=()
release=target/release/hull
if [ -n "${VM_TARGET:-}" ]; then
	target=(--target "$VM_TARGET")
	release=target/$VM_TARGET/release/hull
fi
json=$(cargo test --no-run --message-format=json "${target[@]}")
executables=$(grep -o '"executable":"[^"]*"' <<<"$json" | cut -d'"' -f4)
tests=$(grep '"profile":{[^}]*"test":true' <<<"$json" |
	grep -o '"executable":"[^"]*"' | cut -d'"' -f4 | sort)

run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
mkdir "$run/hull-vm"
{
	echo '#!/bin/bash'
	printf 'export VM_TEST_FILTER=%q VM_SKIP_FAULTS=%q VM_RELEASE_HULL=%q VM_DEB=%q\n' \
		"${VM_TEST_FILTER:-}" "${VM_SKIP_FAULTS:-}" "$release" "${VM_DEB:-}"
	echo "exec bash $repo/vm/guest.sh" $tests
} >"$run/hull-vm/run"
chmod 755 "$run/hull-vm/run"

# Paths relative to / (tar extracts them there in the VM).
tar -C / -cf "$out" --exclude="${repo#/}/target" --exclude="${repo#/}/.git" "${repo#/}"
tar -C / -rf "$out" $(for f in $executables "$repo/$release" ${VM_DEB:+"$repo/$VM_DEB"}; do
	echo "${f#/}"
done)
tar -C "$run" -rf "$out" hull-vm
echo "vm/payload.sh: $out ($(du -h "$out" | cut -f1)), tests:" $tests
