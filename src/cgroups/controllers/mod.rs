//! The cgroup controllers, a module each: what one takes from the config
//! and writes in v1 and in v2, and the statistics it reads there. OCI
//! resources are v1 shaped; v2 gets them converted as runc and crun do.
//! [`ALL`] lists the controllers; each is driven wherever the host has it.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::stats::Stats;
use crate::error::Result;

pub mod blkio;
pub mod cpu;
pub mod cpuacct;
pub mod cpuset;
pub mod devices;
pub mod freezer;
pub mod hugetlb;
pub mod memory;
pub mod net_cls;
pub mod net_prio;
pub mod pids;
pub mod rdma;

/// Every controller, in the order `apply` writes (and `stats` reads) them.
pub const ALL: [&Controller; 12] = [
    &memory::CONTROLLER,
    &cpu::CONTROLLER,
    &cpuacct::CONTROLLER,
    &cpuset::CONTROLLER,
    &pids::CONTROLLER,
    &blkio::CONTROLLER,
    &hugetlb::CONTROLLER,
    &net_cls::CONTROLLER,
    &net_prio::CONTROLLER,
    &rdma::CONTROLLER,
    &devices::CONTROLLER,
    &freezer::CONTROLLER,
];

/// A controller: its names and what it does.
pub struct Controller {
    /// Its v1 name (a hierarchy's mount option), also the one errors use.
    pub name: &'static str,
    /// How the unified tree offers it.
    pub v2: Unified,
    /// Writes its part of the config.
    pub set: Option<Set>,
    /// Reads its statistics from its directory.
    pub stats: Option<fn(Dir, &mut Stats) -> Result<()>>,
    /// `hull features` lists it in linux.cgroup (features-linux.md has keys
    /// for some controllers).
    pub feature: bool,
}

/// Writes a controller's part of `resources` (`update`: for `hull
/// update`, see [`nonzero_in_update`]), asking `at` for the directory once
/// there is something to write.
pub type Set = fn(resources: &LinuxResources, update: bool, at: &dyn Locate) -> Result<()>;

/// How the unified tree offers a controller.
pub enum Unified {
    /// Enabled per cgroup: listed under this name in cgroup.controllers.
    Listed(&'static str),
    /// Part of cgroup2 itself: the probe, given the mount point and the
    /// container's directory, says whether this host has it.
    Builtin(fn(&Path, &Path) -> bool),
    /// Only in cgroup v1.
    Absent,
}

/// The container's directory for a controller.
#[derive(Clone, Copy)]
pub enum Dir<'a> {
    /// In the controller's v1 hierarchy.
    V1(&'a Path),
    /// In the unified tree.
    V2(&'a Path),
}

impl<'a> Dir<'a> {
    pub fn path(self) -> &'a Path {
        match self {
            Dir::V1(dir) | Dir::V2(dir) => dir,
        }
    }
}

/// Where the manager drives a controller. The controller asks only once it
/// has something to write, as finding out may read the unified tree.
pub trait Locate {
    /// Its directory, or an error saying config `field` cannot be applied.
    fn require(&self, field: &str) -> Result<Dir<'_>>;
    /// Its directory, if the host has the controller.
    fn find(&self) -> Option<Dir<'_>>;
}

/// `v` unless it is zero: runc leaves a field alone when it holds its zero
/// value (memory limit 0, shares 0, ...), even on create.
pub fn nonzero<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
    v.filter(|x| *x != T::default())
}

/// `v`, unless it is zero in an update: engines send every field there,
/// zeroed when unchanged.
pub fn nonzero_in_update<T: Default + PartialEq>(v: Option<T>, update: bool) -> Option<T> {
    if update { nonzero(v) } else { v }
}

/// A limit as the kernel takes it: -1 (any negative) means unlimited, `max`.
pub fn limit_value(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}
