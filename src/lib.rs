//! hull: a low-level OCI container runtime. The library holds all logic;
//! `main.rs` is a thin CLI over `container::*`.

// Every unsafe block says why it is sound (`// SAFETY:`).
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cgroups;
pub mod config;
pub mod console;
pub mod container;
pub mod criu;
pub mod driver;
pub mod error;
pub mod features;
pub mod foreground;
pub mod hooks;
pub mod init;
pub mod launch;
pub mod log;
pub mod namespaces;
pub mod rootfs;
pub mod rootless;
pub mod security;
pub mod state;
pub mod sync;
pub mod sys;

pub use error::{Error, Result};
