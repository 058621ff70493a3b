#!/usr/bin/env bash
# Fuzz every target of fuzz/ with AFL++ (cargo-afl) for SECONDS each, and
# say per target: executions, corpus, coverage, crashes and hangs.
#
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target)
#
# FUZZ_JOBS=N runs N targets at once (default 1). Everything goes under
# target/fuzz/ (FUZZ_DIR): cargo-afl and AFL++ (built once, from the
# cargo-afl crate, with the system C compiler), the build, and out/TARGET
# with each target's queue, crashes and hangs; a rerun resumes there.
# Exits non-zero when any target has a crash or a hang.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
all=(config seccomp driver update process state cgroups passwd paths dbus)
targets=("${@:-${all[@]}}")
dir=${FUZZ_DIR:-$PWD/target/fuzz}
jobs=${FUZZ_JOBS:-1}
afl_version=0.18.2

# cargo-afl and AFL++, ours alone (not in ~/.cargo or ~/.local).
export PATH="$dir/tools/bin:$PATH" XDG_DATA_HOME="$dir/tools/share"
if ! cargo afl --version 2>/dev/null | grep -q "^cargo-afl $afl_version "; then
	echo "fuzz: installing cargo-afl $afl_version"
	nice -n 19 cargo install --quiet --locked --root "$dir/tools" --version "$afl_version" cargo-afl
fi
if ! ls "$XDG_DATA_HOME"/afl.rs/*/afl.rs-"$afl_version"/afl/bin/afl-fuzz >/dev/null 2>&1; then
	echo "fuzz: building AFL++"
	nice -n 19 cargo afl config --build >"$dir/tools/afl-build.log" 2>&1 ||
		{ cat "$dir/tools/afl-build.log"; exit 1; }
fi

export CARGO_TARGET_DIR="$dir/build"
nice -n 19 cargo afl build --quiet --release --locked --manifest-path fuzz/Cargo.toml

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
	AFL_AUTORESUME=1 AFL_NO_UI=1 AFL_QUIET=1
mkdir -p "$dir/out"
run_one() {
	local t=$1
	# The targets' scratch trees (a bundle, a rootfs, a cgroup tree per
	# process), removed after the run.
	export TMPDIR="$dir/tmp/$t"
	mkdir -p "$TMPDIR"
	# -t: the seccomp targets wait up to 0.5 s for a child that spins in
	# a denied exit. (-m, AFL++'s address space limit, fails the Rust
	# binaries at start even at 4 GiB: not set.)
	nice -n 19 cargo afl fuzz -i "fuzz/seeds/$t" -o "$dir/out/$t" -V "$seconds" -t 3000 \
		-- "$CARGO_TARGET_DIR/release/$t" >"$dir/out/$t.log" 2>&1 ||
		{ echo "fuzz: $t: afl-fuzz failed:"; tail -20 "$dir/out/$t.log"; }
	rm -rf "$TMPDIR"
}
export -f run_one
export dir seconds
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'

# The summary, from each fuzzer's stats.
status=0
printf '%-8s %10s %8s %7s %7s %7s %8s\n' target execs exec/s corpus cover crashes hangs
for t in "${targets[@]}"; do
	stats="$dir/out/$t/default/fuzzer_stats"
	if [ ! -f "$stats" ]; then
		echo "$t: no stats (afl-fuzz did not run)"
		status=1
		continue
	fi
	get() { awk -F' *: ' -v k="$1" '$1 == k { print $2 }' "$stats"; }
	printf '%-8s %10s %8s %7s %7s %7s %8s\n' "$t" "$(get execs_done)" "$(get execs_per_sec)" \
		"$(get corpus_count)" "$(get bitmap_cvg)" "$(get saved_crashes)" "$(get saved_hangs)"
	if [ "$(get saved_crashes)" != 0 ] || [ "$(get saved_hangs)" != 0 ]; then
		echo "  $t: see $dir/out/$t/default/{crashes,hangs}; replay one with" \
			"$CARGO_TARGET_DIR/release/replay $t FILE"
		status=1
	fi
done
exit $status
