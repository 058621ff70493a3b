//! hull's integration tests: every test drives the built `hull` binary as
//! root against a busybox rootfs and checks what the container sees.
//!
//! Needs root and the static busybox (`apt-get install busybox-static`).
//! Run with `cargo test --test integration -- --test-threads=2`; with
//! `HULL_ITEST_VERBOSE=1 ... -- --nocapture` every hull command's output is shown.

// Every unsafe block says why it is sound (`// SAFETY:`).
#![deny(clippy::undocumented_unsafe_blocks)]

mod harness;

mod cgroups;
mod checkpoint;
mod cli;
mod driver;
mod engine;
mod errors;
mod escapes;
mod lifecycle;
mod namespaces;
mod process;
mod rootfs;
mod rootless;
mod security;
mod systemd;
