# hull: make demo (run a busybox container), make test (every test), make bench.
SHELL := /bin/bash
HULL := target/release/hull

.PHONY: all build deps demo test unit integration lint bench clean

all: build

# A static, non-PIE binary: no dynamic loader or shared libc mapped at each
# start and no self-relocation dirtying pages, which is most of a
# short-lived runtime's resident memory (create: 3.8 MiB -> 2.9 MiB).
build:
	cargo rustc --release --bin hull -- -C target-feature=+crt-static -C relocation-model=static

# What the tests need on a fresh Debian machine (as root): a static
# busybox for the rootfs, runc for the differential tests, podman's
# seccomp profile (golang-github-containers-common) for the seccomp tests.
DEPS := busybox-static runc golang-github-containers-common
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

demo: deps build
	bash integration/demo.sh $(HULL)

test: deps
	cargo test -- --test-threads=2

lint:
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

bench: deps build
	bash bench/lifecycle.sh $(HULL) runc crun

clean:
	cargo clean
