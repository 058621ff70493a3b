//! The container's cgroup: where it lives, its limits, its processes.
//!
//! [`Cgroup`] is the crate's handle on it; a [`Manager`] does the work:
//! the cgroupfs one in [`fs`], which drives each controller of
//! [`controllers`] wherever the host has it. Under the systemd driver
//! ([`systemd`]) the cgroup is a scope systemd makes and removes, and the
//! cgroupfs manager drives its files.

mod controllers;
mod files;
mod fs;
mod mounts;
mod stats;
mod sub;
mod systemd;

#[cfg(test)]
mod host_tests;

/// Entry points for the fuzz targets (`fuzz/`) into parsers private to
/// this module: what hull makes of host files and of the system bus.
#[doc(hidden)]
pub mod fuzz {
    use super::*;

    /// The container's directory in each hierarchy, as (mount point,
    /// directory), from mountinfo and /proc/self/cgroup text; with
    /// `systemd`, `cgroups_path` is read as the systemd driver does.
    pub fn placement(
        mountinfo: &str,
        proc_self_cgroup: &str,
        cgroups_path: Option<&Path>,
        id: &str,
        systemd: bool,
    ) -> Result<Vec<(PathBuf, PathBuf)>> {
        let mounts = Mounts::parse(mountinfo);
        let cgroup = match systemd {
            false => Cgroup::resolve(&mounts, proc_self_cgroup, cgroups_path, id)?,
            true => {
                let (_, path) = systemd::Scope::parse(cgroups_path, id, false)?;
                Cgroup::resolve(&mounts, proc_self_cgroup, Some(&path), id)?
            }
        };
        Ok(cgroup.mount_dirs())
    }

    /// `hull update` of `resources` to the cgroup at `dir` of a unified
    /// hierarchy mounted at `mount` (a fake tree of plain files).
    pub fn update_v2(mount: &Path, dir: &Path, resources: &LinuxResources) -> Result<()> {
        let mounts = Mounts {
            v1: Vec::new(),
            v2: Some(mounts::Mount {
                point: mount.into(),
                root: "/".into(),
            }),
        };
        let path = Path::new("/").join(dir.strip_prefix(mount).unwrap_or(dir));
        Cgroup::resolve(&mounts, "0::/\n", Some(&path), "id")?.update(resources)
    }

    /// A message as received from the system bus: the number of values
    /// in its body.
    pub fn dbus_message(bytes: &[u8]) -> Result<usize> {
        systemd::decode_dbus(bytes)
    }
}

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::bail;
use crate::error::{Context, Error, Result};

pub use controllers::devices::default_device_rules;
pub use fs::dirs::SelfJoin;
pub use mounts::{Mode, mode};

use mounts::Mounts;
pub use stats::Stats;
pub use sub::SubCgroups;

/// Where a container's cgroup lives; serialisable so the state dir can keep
/// it, in the form state files had before there were drivers (`{"v1":
/// ..., "v2": ...}`), with `"systemd"` added under that driver.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Cgroup {
    #[serde(flatten)]
    fs: fs::Fs,
    /// The scope holding it, under the systemd driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    systemd: Option<systemd::Scope>,
}

/// Who makes the container's cgroup (runc's `--systemd-cgroup`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Driver {
    /// hull itself, in cgroupfs.
    #[default]
    Cgroupfs,
    /// systemd, as a transient scope.
    Systemd,
}

/// What runs a container's cgroup once it is placed: [`fs::Fs`] writes
/// cgroupfs itself (under either driver).
trait Manager {
    /// Make the cgroup. Idempotent.
    fn create(&self) -> Result<()>;
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// Write `resources`; `update`: for `hull update`, see [`Cgroup::update`].
    fn apply(&self, resources: &LinuxResources, update: bool) -> Result<()>;
    /// Freeze (returning once frozen) or thaw; errors name `freeze`/`thaw`.
    fn set_frozen(&self, frozen: bool) -> Result<()>;
    fn is_frozen(&self) -> Result<bool>;
    /// Every process, sub-cgroups included.
    fn pids(&self) -> Result<Vec<i32>>;
    /// SIGKILL every process at once, if the kernel can (cgroup.kill).
    fn kill(&self) -> bool;
    fn stats(&self) -> Result<Stats>;
    /// OOM kills so far; 0 without a memory controller.
    fn oom_kills(&self) -> Result<u64>;
    /// Remove the cgroup, retrying briefly while processes exit. Idempotent.
    fn destroy(&self) -> Result<()>;
}

/// The `linux.cgroup` object of `hull features` (features-linux.md): the
/// cgroup versions and managers hull drives, and the controllers listed.
pub fn features() -> serde_json::Value {
    // A host with the driver has it for users too (over their own bus).
    let systemd = mounts::host().is_ok_and(|m| systemd::check_host(m.mode()).is_ok());
    let mut features = serde_json::json!({
        "v1": true,
        "v2": true,
        "systemd": systemd,
        "systemdUser": systemd,
    });
    for c in controllers::ALL.iter().filter(|c| c.feature) {
        features[c.name] = true.into();
    }
    features
}

impl Cgroup {
    /// Resolve the path. cgroupfs: `cgroups_path` absolute -> under each
    /// hierarchy root; relative -> under the caller's own cgroup (from
    /// /proc/self/cgroup; in the unified tree under its parent); None ->
    /// `<id>` there, as runc does (no parent is created that `delete`
    /// would leave). systemd: `slice:prefix:name`, see
    /// [`systemd::Scope::parse`]; rootless, the user's systemd is asked
    /// where its cgroup is. No filesystem change.
    pub fn new(cgroups_path: Option<&Path>, id: &str, driver: Driver) -> Result<Cgroup> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup")?;
        let mounts = mounts::host()?;
        if driver == Driver::Cgroupfs {
            return Cgroup::resolve(mounts, &own, cgroups_path, id);
        }
        systemd::check_host(mounts.mode())?;
        // Rootless, the user's systemd makes the scope (runc's rule).
        let user = crate::rootless::cgroups();
        let (scope, mut path) = systemd::Scope::parse(cgroups_path, id, user)?;
        if user {
            path = scope
                .in_user_manager(&path)
                .map_err(|e| Error::new(format!("--systemd-cgroup: rootless: {e}")))?;
        }
        let mut cgroup = Cgroup::resolve(mounts, &own, Some(&path), id)?;
        cgroup.systemd = Some(scope);
        Ok(cgroup)
    }

    /// [`Cgroup::new`] against given mounts and /proc/self/cgroup text
    /// (tests build fake trees with it).
    fn resolve(
        mounts: &Mounts,
        proc_self_cgroup: &str,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup> {
        let fs = fs::Fs::resolve(mounts, proc_self_cgroup, cgroups_path, id)?;
        Ok(Cgroup { fs, systemd: None })
    }

    /// Before the init exists: make the cgroup and set its limits. A
    /// systemd scope cannot exist without a process: nothing yet.
    /// Rootless ([`crate::rootless::cgroups`]), the hierarchies where we
    /// may not make a directory are left out (the container stays in our
    /// cgroup there), as runc does; a limit that needs one of them, or a
    /// controller not delegated to us, is an error naming the field.
    /// Returns whether any hierarchy was left out.
    pub fn prepare(&mut self, resources: &LinuxResources) -> Result<bool> {
        if self.systemd.is_some() {
            return Ok(false);
        }
        if !crate::rootless::cgroups() {
            self.create()?;
            return self.apply(resources).map(|()| false);
        }
        let left_out = self.fs.create_permitted()?;
        self.apply(resources)?;
        Ok(left_out)
    }

    /// Put the just cloned init in, before it runs any of the container's
    /// code: it joins the v1 hierarchies by itself ([`Cgroup::self_join`]);
    /// `born_in_unified`: it was cloned into [`Cgroup::unified_fd`].
    /// systemd: start the scope with it, then set the limits.
    pub fn enter(&self, pid: i32, resources: &LinuxResources, born_in_unified: bool) -> Result<()> {
        let Some(scope) = &self.systemd else {
            return self.add_joined(pid, born_in_unified);
        };
        scope.start(pid, resources)?;
        // As runc: controllers enabled down the path, the files written.
        self.fs.create()?;
        self.fs.apply(resources, false)
    }

    /// cgroupfs: mkdir in every hierarchy/the unified tree (enable needed
    /// controllers in v2 subtree_control on the way down). Idempotent.
    pub fn create(&self) -> Result<()> {
        self.fs.create()
    }

    /// Write every field of resources; an unsupported field on this host is
    /// an error naming the field; a value the kernel rejects is an error
    /// naming field and value. Device rules are evaluated from deny-all with
    /// [`default_device_rules`] appended, also when `devices` is unset (as
    /// runc does).
    pub fn apply(&self, resources: &LinuxResources) -> Result<()> {
        self.fs.apply(resources, false)
    }

    /// Same as apply but for `update`: zero values mean unset, unset
    /// `devices` leaves device rules alone. systemd gets the same.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        if let Some(scope) = &self.systemd {
            scope.set(resources, true)?;
        }
        self.fs.apply(resources, true)
    }

    /// Put `pid` into the container's cgroup in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        self.fs.add_pid(pid)
    }

    /// The v1 hierarchies' directories, opened for a child to move itself
    /// in (before the clone; the child calls [`SelfJoin::join`]): the
    /// cheap migration (see there).
    pub fn self_join(&self) -> Result<SelfJoin> {
        self.fs.self_join_v1()
    }

    /// The rest of putting `pid` in, once it joined the v1 hierarchies by
    /// itself (`exec`, and [`Cgroup::enter`]): the unified directory,
    /// unless it was born there (`born_in_unified`).
    pub fn add_joined(&self, pid: i32, born_in_unified: bool) -> Result<()> {
        match born_in_unified {
            true => Ok(()),
            false => self.fs.add_pid_v2(pid),
        }
    }

    /// The directory in the unified tree, opened for a process to be born
    /// in (CLONE_INTO_CGROUP), if it exists (a systemd scope does only
    /// once its init is in it).
    pub fn unified_fd(&self) -> Option<OwnedFd> {
        use nix::fcntl::{OFlag, open};
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let dir = self.fs.unified_dir()?;
        open(&dir, flags, nix::sys::stat::Mode::empty()).ok()
    }

    /// All processes in the cgroup, including sub-cgroups.
    pub fn pids(&self) -> Result<Vec<i32>> {
        self.fs.pids()
    }

    pub fn freeze(&self) -> Result<()> {
        self.fs.set_frozen(true)
    }

    pub fn thaw(&self) -> Result<()> {
        self.fs.set_frozen(false)
    }

    pub fn is_frozen(&self) -> Result<bool> {
        self.fs.is_frozen()
    }

    /// Send `signal` to every process. For SIGKILL: cgroup.kill when the
    /// kernel has it, else freeze, signal each pid, thaw (so nothing forks
    /// past the list); then wait until the cgroup is empty. An empty cgroup
    /// (`delete --force` of a stopped container) is left alone: a v1
    /// freeze and thaw switch a kernel static key, patching code on every
    /// CPU, for nothing.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        let sig = Signal::try_from(signal)
            .map_err(|_| Error::new(format!("kill cgroup: invalid signal {signal}")))?;
        if self.pids()?.is_empty() {
            return Ok(());
        }
        let killed = sig == Signal::SIGKILL && self.fs.kill();
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
    /// missing dirs are fine. systemd: stop the scope first (it removes
    /// its directory). Idempotent.
    pub fn destroy(&self) -> Result<()> {
        let stopped = self.systemd.as_ref().map_or(Ok(()), systemd::Scope::stop);
        let removed = self.fs.destroy();
        stopped.and(removed)
    }

    /// runc-compatible stats JSON `data` object for `events --stats`.
    pub fn stats(&self) -> Result<serde_json::Value> {
        let s = self.stats_data()?;
        serde_json::to_value(&s).map_err(|e| Error::new(format!("cgroup stats: {e}")))
    }

    /// The same as a struct, which serialises with runc's field order.
    pub fn stats_data(&self) -> Result<Stats> {
        self.fs.stats()
    }

    /// OOM kills so far (memory.oom_control / memory.events `oom_kill`);
    /// 0 without a memory controller.
    pub fn oom_kills(&self) -> Result<u64> {
        self.fs.oom_kills()
    }

    /// The systemd scope holding the cgroup, under that driver.
    pub fn systemd_unit(&self) -> Option<&str> {
        self.systemd.as_ref().map(|s| s.unit.as_str())
    }

    /// (mount point, the container's directory) for every hierarchy: what
    /// a `cgroup` mount inside the container shows.
    pub fn mount_dirs(&self) -> Vec<(PathBuf, PathBuf)> {
        self.fs.mount_dirs()
    }

    /// The directory CRIU freezes the container by (checkpoint): the v1
    /// freezer hierarchy's, else the unified one.
    pub fn freezer_dir(&self) -> Option<PathBuf> {
        self.fs
            .v1
            .hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == "freezer"))
            .map(|h| h.dir.clone())
            .or_else(|| self.fs.unified_dir())
    }

    /// Directory in the unified hierarchy if any.
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.fs.unified_dir()
    }

    /// Put `pid` in existing sub-cgroups of the container's (`exec
    /// --cgroup`), see [`SubCgroups`].
    pub fn add_pid_to(&self, subs: &SubCgroups, pid: i32) -> Result<()> {
        self.fs.add_pid_to(subs, pid)
    }
}
