#!/usr/bin/env bash
# Runs inside the test VM (hull-test.service runs the payload's hull-vm/run,
# which runs this), in the repository at its host path: each test
# executable given, as `cargo test -- --test-threads=2` would, then `make
# test`'s sample of the fault matrix. Fails if any of them failed.
#
#   vm/guest.sh TEST_EXECUTABLE...
#
# VM_TEST_FILTER (test-name filters or other arguments of the test
# executables, e.g. --nocapture, split on spaces) and VM_SKIP_FAULTS=1
# narrow the run, for a quicker turn while working on some tests
# (vm/payload.sh bakes them in from the host's environment).
set -uo pipefail
cd "$(dirname "$0")/.."

# What the run is about: pure cgroup v2, AppArmor, a service's cgroup, no
# controlling terminal.
echo "guest: kernel $(uname -r); /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup);" \
	"AppArmor enabled: $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || echo no);" \
	"our cgroup: $(cut -d: -f3 /proc/self/cgroup); terminal: $(ps -o tty= $$)"

read -ra filter <<<"${VM_TEST_FILTER:-}"
if [ ${#filter[@]} -gt 0 ]; then
	echo "guest: only tests matching: ${filter[*]}"
fi

failed=()
for test in "$@"; do
	# cargo runs each test executable from the package's directory.
	echo "guest: running $test"
	start=$SECONDS
	"$test" --test-threads=2 "${filter[@]}" || failed+=("$(basename "$test")")
	echo "guest: $(basename "$test") took $((SECONDS - start)) s"
done
if [ "${VM_SKIP_FAULTS:-}" = 1 ]; then
	echo "guest: VM_SKIP_FAULTS=1: integration/faults.sh not run"
else
	hull=${VM_RELEASE_HULL:?vm/payload.sh sets it}
	echo "guest: running integration/faults.sh $hull sample"
	start=$SECONDS
	bash integration/faults.sh "$hull" sample || failed+=(faults.sh)
	echo "guest: faults.sh took $((SECONDS - start)) s"
fi

if [ -n "${VM_DEB:-}" ]; then
	echo "guest: running pkg/check.sh $VM_DEB"
	start=$SECONDS
	bash pkg/check.sh "$VM_DEB" || failed+=(pkg/check.sh)
	echo "guest: pkg/check.sh took $((SECONDS - start)) s"
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "guest: FAILED: ${failed[*]}"
	exit 1
fi
echo "guest: all passed"
