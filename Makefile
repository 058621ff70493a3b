# hull: make demo (run a busybox container), make test (every test), make bench.
SHELL := /bin/bash
HULL := target/release/hull

.PHONY: all build order deps demo test test-vm test-vm-engines lint bench faults fuzz fuzz-long fuzz-smoke fuzz-deps clean

all: build

# A static, non-PIE binary: no dynamic loader or shared libc mapped at each
# start and no self-relocation dirtying pages (create's RSS: 3.8 -> 2.9 MiB).
HULL_FLAGS := -C target-feature=+crt-static -C relocation-model=static
# The functions the lifecycle commands run, which lld (Rust's default linker
# on x86_64 Linux since 1.90) lays out together: the kernel maps text 64 KiB
# around each touched page, so scattered hot code costs RSS (3.7 -> 1.6 MiB).
# An older toolchain links with GNU ld, which has no such option: no order.
ORDER := bench/hull.order
LLD := $(shell rustc -vV 2>/dev/null | awk '/^host:/ { h = $$2 } /^release:/ { split($$2, v, "."); m = v[2] + 0 } \
	END { if (h == "x86_64-unknown-linux-gnu" && m >= 90) print "yes" }')
ifeq ($(LLD),yes)
ORDER_FLAGS := -C link-arg=-Wl,--symbol-ordering-file=$(CURDIR)/$(ORDER) \
	-C link-arg=-Wl,--no-warn-symbol-ordering
endif

build:
	cargo rustc --release --bin hull -- $(HULL_FLAGS) $(ORDER_FLAGS)

# Regenerates $(ORDER) by tracing a lifecycle (bench/hot-order.sh), as root,
# after a toolchain or dependency update or a change of the hot path. The
# traced build keeps its symbols with a rustc flag, not a profile setting,
# which would change every symbol's hash. cargo does not see the order file
# change, hence the clean before the next build.
order: deps
	CARGO_TARGET_DIR=target/order cargo rustc --release --bin hull -- $(HULL_FLAGS) -C strip=none
	bash bench/hot-order.sh target/order/release/hull $(ORDER)
	cargo clean --release -p hull

# What the tests need on a fresh Debian machine (as root): a static
# busybox for the rootfs, runc for the differential tests, podman's
# seccomp profile (golang-github-containers-common) for the seccomp tests,
# strace for the fault-injection tests, newuidmap/newgidmap (uidmap) for
# the rootless tests.
DEPS := busybox-static runc golang-github-containers-common strace uidmap
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

demo: deps build
	bash integration/demo.sh $(HULL)

test: deps build
	cargo test -- --test-threads=2
	bash integration/faults.sh $(HULL) sample

# The tests again, in a Debian bookworm VM under qemu (TCG): systemd as
# PID 1, pure cgroup v2, AppArmor, and the tests run from a systemd service
# (vm/run.sh). The image is built once and kept in target/vm (vm/image.sh);
# each boot writes to a throwaway overlay. Exits non-zero on any failure.
VM := target/vm
test-vm: deps build
	bash vm/deps.sh
	bash vm/image.sh $(VM)
	bash vm/payload.sh $(VM)/payload.tar
	bash vm/run.sh $(VM)/payload.tar $(VM)

# Real engines in the same kind of VM, with the systemd cgroup driver:
# docker 20.10, podman 4.3 and containerd's ctr (bookworm's), each with
# runc and with hull: a memory limit, exec, the container's cgroup a
# systemd scope (its MemoryMax), no unit left once it ends; and podman
# with user namespaces (vm/engines-userns.sh): rootless, as a user in its
# systemd session, and an idmapped bind mount. A table of
# scenario x runtime (vm/engines.sh); fails if any scenario failed. The
# engines make an image of their own, target/vm-engines, so test-vm's
# stays as it is.
VM_ENGINES := target/vm-engines
ENGINES_PACKAGES := docker.io containerd podman
test-vm-engines: build
	bash vm/deps.sh
	bash vm/image.sh $(VM_ENGINES) $(ENGINES_PACKAGES)
	bash vm/engines.sh $(HULL) $(VM_ENGINES)

# Every system call of `hull create` made to fail in turn (an errno, and
# SIGKILL), then `delete --force`: nothing may be left, hang or panic.
faults: deps build
	bash integration/faults.sh $(HULL) full

# Coverage-guided fuzzing of every parser of untrusted input (fuzz/:
# cargo-afl, whose AFL++ is built from the crate with the system C
# compiler, all under target/fuzz on first use): every target for
# FUZZ_SECONDS; fuzz-long 10 minutes each, two at once (about an hour);
# fuzz-smoke a few seconds each, so that the targets keep building (CI).
FUZZ_SECONDS ?= 60
fuzz: fuzz-deps
	bash fuzz/run.sh $(FUZZ_SECONDS)

fuzz-long: fuzz-deps
	FUZZ_JOBS=2 bash fuzz/run.sh 600

fuzz-smoke: fuzz-deps
	bash fuzz/run.sh 3

fuzz-deps:
	@dpkg -s build-essential >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential >/dev/null; }

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: deps build
	bash bench/lifecycle.sh $(HULL) runc crun

clean:
	cargo clean
