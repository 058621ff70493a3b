# hull: make demo (run a busybox container), make test (every test), make bench.
SHELL := /bin/bash

.PHONY: all build rust-target order deps demo test test-vm test-vm-engines lint bench faults fuzz fuzz-long fuzz-smoke fuzz-deps clean \
	docs install deb syscalls deps-arm64 build-arm64 deb-arm64 test-vm-arm64

all: build

# The release binary's target. On x86_64, musl: glibc's static start-up
# asks the CPU for its caches with about 65 cpuid instructions, each a trap
# to the hypervisor on a virtual machine (7 us here): 0.5 ms of every hull
# command, against 0.03 ms for musl's (README: Benchmark). Elsewhere (arm64
# has no such trap), the host's own target.
HOST_TARGET := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
ifeq ($(HOST_TARGET),x86_64-unknown-linux-gnu)
TARGET := x86_64-unknown-linux-musl
else
TARGET := $(HOST_TARGET)
endif
HULL := target/$(TARGET)/release/hull

# A static, non-PIE binary: no dynamic loader or shared libc mapped at each
# start and no self-relocation dirtying pages (create's RSS: 3.8 -> 2.9 MiB).
HULL_FLAGS := -C target-feature=+crt-static -C relocation-model=static
# The functions the lifecycle commands run, which lld (the musl target's
# linker, .cargo/config.toml) lays out together: the kernel maps text 64 KiB
# around each touched page, so scattered hot code costs RSS (3.7 -> 1.6 MiB).
ORDER := bench/hull.order
ifeq ($(TARGET),x86_64-unknown-linux-musl)
ORDER_FLAGS := -C link-arg=--symbol-ordering-file=$(CURDIR)/$(ORDER) \
	-C link-arg=--no-warn-symbol-ordering
endif

build: rust-target
	cargo rustc --release --target $(TARGET) --bin hull -- $(HULL_FLAGS) $(ORDER_FLAGS)

# The target's standard library (rustup's), once.
rust-target:
	@rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)

# Regenerates $(ORDER) by tracing a lifecycle (bench/hot-order.sh), as root,
# after a toolchain or dependency update or a change of the hot path. The
# traced build keeps its symbols with a rustc flag, not a profile setting,
# which would change every symbol's hash. cargo does not see the order file
# change, hence the clean before the next build.
order: deps rust-target
	CARGO_TARGET_DIR=target/order cargo rustc --release --target $(TARGET) --bin hull -- $(HULL_FLAGS) -C strip=none
	bash bench/hot-order.sh target/order/$(TARGET)/release/hull $(ORDER)
	cargo clean --release --target $(TARGET) -p hull

# What the tests need on a fresh Debian machine (as root): a static
# busybox for the rootfs, runc for the differential tests, podman's
# seccomp profile (golang-github-containers-common) for the seccomp tests,
# strace for the fault-injection tests, newuidmap/newgidmap (uidmap) for
# the rootless tests, criu (with iptables, which it locks a container's
# network with) for checkpoint/restore.
# The arm cross headers are the kernel's syscall lists for arm64 and arm
# (the unit test syscall_tables_match_the_installed_headers); man-db shows
# the manual pages (pkg/check.sh).
DEPS := busybox-static runc golang-github-containers-common strace uidmap criu iptables \
	linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross man-db
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

demo: deps build
	bash integration/demo.sh $(HULL)

# The tests are built for $(TARGET) too: they run the same C library's hull.
test: deps build deb
	cargo test --target $(TARGET) -- --test-threads=2
	bash integration/faults.sh $(HULL) sample
	bash pkg/check.sh $(DEB)

# The tests again, in a Debian bookworm VM under qemu (TCG): systemd as
# PID 1, pure cgroup v2, AppArmor, and the tests run from a systemd service
# (vm/run.sh). The image is built once and kept in target/vm (vm/image.sh);
# each boot writes to a throwaway overlay. Exits non-zero on any failure.
VM := target/vm
test-vm: deps build
	bash vm/deps.sh
	bash vm/image.sh $(VM)
	VM_TARGET=$(TARGET) bash vm/payload.sh $(VM)/payload.tar
	bash vm/run.sh $(VM)/payload.tar $(VM)

# Real engines in the same kind of VM, with the systemd cgroup driver:
# docker 20.10, podman 4.3 and containerd's ctr (bookworm's), each with
# runc and with hull: a memory limit, exec, the container's cgroup a
# systemd scope (its MemoryMax), no unit left once it ends, a counter
# checkpointed and restored by each engine (CRIU); and podman
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

# The same tests on arm64: Debian bookworm arm64 under qemu-system-aarch64
# (TCG, the virt board, -cpu max), its image built as test-vm's
# (VM_ARCH=arm64: mmdebstrap under qemu-user-static, target/vm-arm64),
# running the tests and hull cross-built for aarch64, then the arm64
# .deb's check (pkg/check.sh: installed, man, completion, a container).
VM_ARM64 := target/vm-arm64
test-vm-arm64: deps deb-arm64
	bash vm/deps.sh arm64
	VM_ARCH=arm64 bash vm/image.sh $(VM_ARM64) man-db
	VM_TARGET=$(ARM64) VM_DEB=target/hull_$(VERSION)_arm64.deb bash vm/payload.sh $(VM_ARM64)/payload.tar
	VM_ARCH=arm64 VM_TIMEOUT=$${VM_TIMEOUT:-3600} bash vm/run.sh $(VM_ARM64)/payload.tar $(VM_ARM64)

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
	cargo clippy --all-targets --target $(TARGET) -- -D warnings

bench: deps build
	bash bench/lifecycle.sh $(HULL) runc crun

# Manual pages and shell completions, generated from the clap definitions:
# the completions by the built binary (`hull completion SHELL`), the pages
# by a `docs` build of its own (`hull man DIR`, with clap_mangen, which the
# release binary does not link: see Cargo.toml).
DOCS := target/docs
docs: build
	rm -rf $(DOCS) && mkdir -p $(DOCS)/man $(DOCS)/completions
	cargo run -q --features docs --target-dir target/docs-build --bin hull -- man $(DOCS)/man
	$(HULL) completion bash >$(DOCS)/completions/hull.bash
	$(HULL) completion zsh >$(DOCS)/completions/_hull
	$(HULL) completion fish >$(DOCS)/completions/hull.fish

# The static release binary (with the link order), its manual pages and
# completions, under $(DESTDIR)$(PREFIX). `cargo install --path .` is the
# developer's build instead: dynamic, without the order, pages or
# completions.
PREFIX ?= /usr/local
DESTDIR ?=
install: docs
	bash pkg/install.sh $(HULL) $(DOCS) "$(DESTDIR)" "$(PREFIX)"

# target/hull_VERSION_ARCH.deb (dpkg-deb): apt-get install ./target/hull_*.deb
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -1)
DEB := target/hull_$(VERSION)_$(shell dpkg --print-architecture 2>/dev/null).deb
deb: docs
	bash pkg/deb.sh $(HULL) $(DOCS) target

# The syscall tables of seccomp.rs from the kernel's own lists (see
# src/security/syscalls.sh): make syscalls SYSCALLS_DEB=linux-libc-dev_V_all.deb
# (a Debian package of Linux 6.5 or newer, which holds every
# architecture's headers: `apt-get download linux-libc-dev` on trixie or
# sid). Newer kernels only add numbers.
syscalls:
	@test -n "$(SYSCALLS_DEB)" || { echo "usage: make syscalls SYSCALLS_DEB=linux-libc-dev_VERSION_all.deb"; exit 2; }
	bash src/security/syscalls.sh $(SYSCALLS_DEB) >src/security/syscalls.rs.new
	mv src/security/syscalls.rs.new src/security/syscalls.rs

# arm64: the same static binary, cross-built with Debian's
# gcc-aarch64-linux-gnu as linker (.cargo/config.toml), without the link
# order (bench/hull.order is x86_64's; GNU ld links there).
ARM64 := aarch64-unknown-linux-gnu
HULL_ARM64 := target/$(ARM64)/release/hull
deps-arm64:
	@rustup target list --installed | grep -qx $(ARM64) || rustup target add $(ARM64)
	@dpkg -s gcc-aarch64-linux-gnu libc6-dev-arm64-cross >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu \
		libc6-dev-arm64-cross >/dev/null; }
build-arm64: deps-arm64
	cargo rustc --release --target $(ARM64) --bin hull -- $(HULL_FLAGS)
deb-arm64: build-arm64 docs
	bash pkg/deb.sh $(HULL_ARM64) $(DOCS) target arm64

clean:
	cargo clean
