//! The container's cgroup: where it lives, its limits, its processes.
//!
//! Each controller has a module in [`controllers`]. Where they live is one
//! trait ([`Backend`]) with two implementations, chosen by what the host
//! mounts: [`v1::V1`] (a directory per v1 hierarchy) and [`v2::V2`] (one
//! directory in the unified tree). On a hybrid host both exist and each
//! controller is driven where it lives: e.g. memory through v1 while hugetlb
//! sits in the unified tree.

mod controllers;
mod dirs;
mod files;
mod mounts;
mod stats;
mod v1;
mod v2;

#[cfg(test)]
mod host_tests;

use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::bail;
use crate::error::{Context, Error, Result};

pub use controllers::devices::default_device_rules;
pub use mounts::{Mode, mode};

use controllers::{Controller, Dir, Locate, Unified, freezer, memory};
use mounts::Mounts;
pub use stats::Stats;

/// Where a container's cgroup lives; serialisable so the state dir can keep it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    /// One directory per mounted v1 hierarchy (empty on a pure v2 host).
    v1: v1::V1,
    /// The directory in the unified hierarchy, when cgroup2 is mounted.
    v2: Option<v2::V2>,
}

/// One cgroup version's directories for the container.
trait Backend {
    /// The container's directory for `c`, if this version drives it.
    fn locate(&self, c: &Controller) -> Option<Dir<'_>>;
    fn create(&self) -> Result<()>;
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// The directory whose cgroup.procs (recursively) lists the container.
    fn procs_dir(&self) -> Option<&Path>;
    fn destroy(&self) -> Result<()>;
}

impl Cgroup {
    /// Resolve the path: `cgroups_path` absolute -> under each hierarchy
    /// root; relative -> under the caller's own cgroup (from
    /// /proc/self/cgroup; in the unified tree under its parent); None ->
    /// `<id>` there, as runc does (no parent is created that `delete` would
    /// leave). No filesystem change.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Cgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup")?;
        Cgroup::resolve(mounts::host()?, &own, cgroups_path, id)
    }

    /// [`Cgroup::new`] against given mounts and /proc/self/cgroup text
    /// (tests build fake trees with it).
    fn resolve(
        mounts: &Mounts,
        proc_self_cgroup: &str,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup> {
        let default = PathBuf::from(id);
        let path = match cgroups_path {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => &default,
        };
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            bail!(
                "invalid cgroupsPath {}: \"..\" is not allowed",
                path.display()
            );
        }
        let relative: PathBuf = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if relative.as_os_str().is_empty() {
            bail!(
                "invalid cgroupsPath {}: names the root cgroup",
                path.display()
            );
        }
        // Absolute: under the mount point. Relative: under our own cgroup in
        // that hierarchy, which differs per hierarchy on v1; in the unified
        // tree beside it, under its parent (as runc): ours holds processes
        // (us, a service's), and cgroup v2 enables no controller below a
        // cgroup that does.
        let place = |mount: &mounts::Mount, own_key: Option<&[String]>| -> Result<PathBuf> {
            let mut dir = mount.point.clone();
            if !path.is_absolute() {
                let own = mounts::own_cgroup(proc_self_cgroup, own_key).ok_or_else(|| {
                    Error::new(format!(
                        "cgroupsPath {}: no entry for {} in /proc/self/cgroup",
                        path.display(),
                        mount.point.display()
                    ))
                })?;
                let mut own = mount.relative_to_root(&own);
                if own_key.is_none() {
                    own.pop();
                }
                dir.push(own);
            }
            dir.push(&relative);
            Ok(dir)
        };
        let mut hierarchies = Vec::new();
        for m in &mounts.v1 {
            hierarchies.push(v1::Hierarchy {
                controllers: m.controllers.clone(),
                mount: m.mount.point.clone(),
                dir: place(&m.mount, Some(&m.controllers))?,
            });
        }
        let v2 = match &mounts.v2 {
            Some(m) => Some(v2::V2 {
                mount: m.point.clone(),
                dir: place(m, None)?,
            }),
            None => None,
        };
        Ok(Cgroup {
            v1: v1::V1 { hierarchies },
            v2,
        })
    }

    fn backends(&self) -> impl Iterator<Item = &dyn Backend> {
        std::iter::once(&self.v1 as &dyn Backend).chain(self.v2.iter().map(|v| v as &dyn Backend))
    }

    /// The directory driving `c`: in its v1 hierarchy if mounted, else in
    /// the unified tree if it offers it.
    fn find(&self, c: &Controller) -> Option<Dir<'_>> {
        self.backends().find_map(|b| b.locate(c))
    }

    /// [`Cgroup::find`], or an error saying config `field` needs `c`.
    fn route(&self, c: &Controller, field: &str) -> Result<Dir<'_>> {
        self.find(c).ok_or_else(|| {
            let v1 = !self.v1.hierarchies.is_empty();
            let hint = match (&c.v2, &self.v2) {
                (Unified::Absent, _) if v1 => {
                    " (no v1 hierarchy for it is mounted; it exists only in cgroup v1)"
                }
                (Unified::Absent, _) => " (it exists only in cgroup v1)",
                (_, Some(_)) => " (no v1 hierarchy for it and not enabled in the unified tree)",
                (_, None) => "",
            };
            Error::new(format!(
                "{field}: the {} controller is not available on this host{hint}",
                c.name
            ))
        })
    }

    /// mkdir in every hierarchy/the unified tree (enable needed controllers
    /// in v2 subtree_control on the way down). Idempotent.
    pub fn create(&self) -> Result<()> {
        self.backends().try_for_each(|b| b.create())
    }

    /// Write every field of resources; an unsupported field on this host is
    /// an error naming the field; a value the kernel rejects is an error
    /// naming field and value. Device rules are evaluated from deny-all with
    /// [`default_device_rules`] appended, also when `devices` is unset (as
    /// runc does).
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.set(resources, false)
    }

    /// Same as apply but for `update`: zero values mean unset, unset
    /// `devices` leaves device rules alone.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        self.set(resources, true)
    }

    fn set(&self, resources: &LinuxResources, update: bool) -> Result<()> {
        let r = unset_zeroes(resources, update);
        for controller in controllers::ALL {
            if let Some(set) = controller.set {
                set(
                    &r,
                    update,
                    &At {
                        cgroup: self,
                        controller,
                    },
                )?;
            }
        }
        if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
            match &self.v2 {
                Some(v2) => v2.unified(u)?,
                None => bail!("linux.resources.unified: this host has no cgroup v2 hierarchy"),
            }
        }
        Ok(())
    }

    /// Put `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        self.backends().try_for_each(|b| b.add_pid(pid))
    }

    /// All processes in the cgroup, including sub-cgroups.
    pub fn pids(&self) -> Result<Vec<i32>> {
        // The unified tree when present: on hybrid hosts it is joined too.
        let dir = self
            .v2
            .as_ref()
            .map(|v| v as &dyn Backend)
            .unwrap_or(&self.v1)
            .procs_dir();
        match dir {
            Some(dir) => dirs::procs(dir),
            None => Ok(Vec::new()),
        }
    }

    pub fn freeze(&self) -> Result<()> {
        freezer::set_frozen(self.route(&freezer::CONTROLLER, "freeze")?, true)
    }

    pub fn thaw(&self) -> Result<()> {
        freezer::set_frozen(self.route(&freezer::CONTROLLER, "thaw")?, false)
    }

    pub fn is_frozen(&self) -> Result<bool> {
        match self.find(&freezer::CONTROLLER) {
            Some(dir) => freezer::is_frozen(dir),
            None => Ok(false),
        }
    }

    /// Send `signal` to every process. For SIGKILL: cgroup.kill when the
    /// kernel has it, else freeze, signal each pid, thaw (so nothing forks
    /// past the list); then wait until the cgroup is empty.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        let sig = Signal::try_from(signal)
            .map_err(|_| Error::new(format!("kill cgroup: invalid signal {signal}")))?;
        let killed = sig == Signal::SIGKILL && self.v2.as_ref().is_some_and(|v| v.kill().is_ok());
        if !killed {
            let frozen = self.freeze().is_ok();
            let pids = self.pids();
            for &pid in pids.iter().flatten() {
                // ESRCH: it exited meanwhile; anything else we can't help.
                let _ = kill(Pid::from_raw(pid), sig);
            }
            if frozen {
                self.thaw()?;
            }
            pids?;
        }
        if sig == Signal::SIGKILL {
            self.wait_empty(Duration::from_secs(10))?;
        }
        Ok(())
    }

    fn wait_empty(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut delay = Duration::from_millis(1);
        loop {
            let left = self.pids()?;
            if left.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!("kill cgroup: processes {left:?} still alive after {timeout:?}");
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// rmdir everywhere (retry briefly on EBUSY while processes exit);
    /// missing dirs are fine. Idempotent.
    pub fn destroy(&self) -> Result<()> {
        // Try every hierarchy even if one fails, report the first failure.
        let results: Vec<Result<()>> = self.backends().map(|b| b.destroy()).collect();
        results.into_iter().collect()
    }

    /// runc-compatible stats JSON `data` object for `events --stats`.
    pub fn stats(&self) -> Result<serde_json::Value> {
        let s = self.stats_data()?;
        serde_json::to_value(&s).map_err(|e| Error::new(format!("cgroup stats: {e}")))
    }

    /// The same as a struct, which serialises with runc's field order.
    pub fn stats_data(&self) -> Result<Stats> {
        let mut s = Stats::default();
        for c in controllers::ALL {
            let Some(read) = c.stats else { continue };
            // A missing cgroup has no statistics.
            if let Some(dir) = self.find(c).filter(|d| d.path().exists()) {
                read(dir, &mut s)?;
            }
        }
        Ok(s)
    }

    /// OOM kills so far (memory.oom_control / memory.events `oom_kill`);
    /// 0 without a memory controller.
    pub fn oom_kills(&self) -> Result<u64> {
        match self.find(&memory::CONTROLLER) {
            Some(dir) => memory::oom_kills(dir),
            None => Ok(0),
        }
    }

    /// (mount point, the container's directory) for every hierarchy: what
    /// a `cgroup` mount inside the container shows.
    pub fn mount_dirs(&self) -> Vec<(PathBuf, PathBuf)> {
        let v1 = self
            .v1
            .hierarchies
            .iter()
            .map(|h| (h.mount.clone(), h.dir.clone()));
        v1.chain(self.v2.iter().map(|v| (v.mount.clone(), v.dir.clone())))
            .collect()
    }

    /// Directory in the unified hierarchy if any (for clone3
    /// CLONE_INTO_CGROUP and cgroup namespaces).
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.v2.as_ref().map(|v| v.dir.clone())
    }
}

/// A controller of the container's cgroup, for its `set`.
struct At<'a> {
    cgroup: &'a Cgroup,
    controller: &'static Controller,
}

impl Locate for At<'_> {
    fn require(&self, field: &str) -> Result<Dir<'_>> {
        self.cgroup.route(self.controller, field)
    }

    fn find(&self) -> Option<Dir<'_>> {
        self.cgroup.find(self.controller)
    }
}

/// runc leaves a field alone when it holds its zero value (memory limit 0,
/// shares 0, ...), even on create; `update` (engines send every field,
/// zeroed when unchanged) treats every zero that way. Kernel memory limits
/// are dropped as runc does: deprecated, a no-op or gone on current kernels.
fn unset_zeroes(r: &LinuxResources, update: bool) -> LinuxResources {
    fn nz<T: Default + PartialEq>(v: Option<T>) -> Option<T> {
        v.filter(|x| *x != T::default())
    }
    fn nz_if<T: Default + PartialEq>(v: Option<T>, update: bool) -> Option<T> {
        if update { nz(v) } else { v }
    }
    let mut r = r.clone();
    if let Some(m) = r.memory_mut() {
        let old = *m;
        m.set_limit(nz(old.limit()))
            .set_reservation(nz(old.reservation()))
            .set_swap(nz(old.swap()))
            .set_kernel(None)
            .set_kernel_tcp(None)
            .set_swappiness(nz_if(old.swappiness(), update))
            .set_disable_oom_killer(nz_if(old.disable_oom_killer(), update))
            .set_use_hierarchy(nz_if(old.use_hierarchy(), update));
    }
    if let Some(c) = r.cpu_mut() {
        let old = c.clone();
        c.set_shares(nz(old.shares()))
            .set_quota(nz(old.quota()))
            .set_period(nz(old.period()))
            .set_realtime_runtime(nz(old.realtime_runtime()))
            .set_realtime_period(nz(old.realtime_period()))
            .set_burst(nz_if(old.burst(), update))
            .set_idle(nz_if(old.idle(), update))
            .set_cpus(nz(old.cpus().clone()))
            .set_mems(nz(old.mems().clone()));
    }
    if update && r.pids().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
    // An empty list must not reset a running container to the defaults.
    if update && r.devices().as_ref().is_some_and(|d| d.is_empty()) {
        r.set_devices(None);
    }
    if let Some(b) = r.block_io_mut() {
        fn non_empty<T: Clone>(l: &Option<Vec<T>>) -> Option<Vec<T>> {
            l.as_ref().filter(|l| !l.is_empty()).cloned()
        }
        let old = b.clone();
        b.set_weight(nz(old.weight()))
            .set_leaf_weight(nz(old.leaf_weight()))
            .set_weight_device(non_empty(old.weight_device()))
            .set_throttle_read_bps_device(non_empty(old.throttle_read_bps_device()))
            .set_throttle_write_bps_device(non_empty(old.throttle_write_bps_device()))
            .set_throttle_read_iops_device(non_empty(old.throttle_read_iops_device()))
            .set_throttle_write_iops_device(non_empty(old.throttle_write_iops_device()));
    }
    if let Some(n) = r.network_mut() {
        n.set_class_id(nz(n.class_id()));
    }
    r
}

impl Cgroup {
    /// Put `pid` in the existing sub-cgroup `sub` of the container's, in
    /// every hierarchy (`exec --cgroup`).
    pub fn add_pid_to(&self, sub: &str, pid: i32) -> Result<()> {
        let sub = Path::new(sub.trim_start_matches('/'));
        if sub.components().any(|c| !matches!(c, Component::Normal(_))) {
            bail!(
                "--cgroup {}: must be a path below the container's cgroup",
                sub.display()
            );
        }
        let targets: Vec<PathBuf> = self
            .mount_dirs()
            .into_iter()
            .map(|(_, d)| d.join(sub))
            .collect();
        // All of them checked first: no process left half-moved.
        if let Some(missing) = targets.iter().find(|t| !t.is_dir()) {
            bail!("--cgroup: {} does not exist", missing.display());
        }
        targets.iter().try_for_each(|t| dirs::add_pid(t, pid))
    }
}
