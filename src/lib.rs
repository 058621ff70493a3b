//! hull: a low-level OCI container runtime. The library holds all logic;
//! `main.rs` is a thin CLI over `container::*`.

pub mod config;
pub mod container;
pub mod error;
pub mod init;
pub mod log;
pub mod namespaces;
pub mod rootfs;
pub mod security;
pub mod state;
pub mod sync;
pub mod sys;

pub mod cgroups {
    //! Placeholder until the cgroup layer lands.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    pub struct Cgroup {}
}

pub use error::{Error, Result};
