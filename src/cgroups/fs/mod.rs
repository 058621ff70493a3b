//! The cgroupfs manager: the container's cgroup as a directory in each
//! mounted v1 hierarchy and in the unified tree, written directly. On a
//! hybrid host both exist and each controller is driven where it lives:
//! e.g. memory through v1 while hugetlb sits in the unified tree.

pub mod dirs;
mod v1;
mod v2;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::controllers::{self, Controller, Dir, Locate, Unified, freezer, memory};
use super::mounts::{self, Mounts};
use super::sub::SubCgroups;
use super::{Manager, Stats};
use crate::bail;
use crate::error::{Error, Result};
use v1::{Hierarchy, V1};
use v2::V2;

/// Where the container's cgroup lives.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Fs {
    /// One directory per mounted v1 hierarchy (empty on a pure v2 host).
    pub v1: V1,
    /// The directory in the unified hierarchy, when cgroup2 is mounted.
    pub v2: Option<V2>,
    /// Rootless: the hierarchies left out, as we may not make our
    /// directory there (see [`Fs::create_permitted`]); for the error of a
    /// limit that needs one. Not kept in the state: only create applies
    /// limits under these rules.
    #[serde(skip)]
    refused: Vec<Refusal>,
}

/// A hierarchy a rootless caller may not use, and why.
#[derive(Clone, Debug)]
struct Refusal {
    /// Its controllers; empty for the unified tree.
    controllers: Vec<String>,
    /// The error of the mkdir.
    why: String,
}

impl Fs {
    /// The directories for `cgroups_path` (see [`super::Cgroup::new`]),
    /// given the mounts and /proc/self/cgroup text.
    pub fn resolve(
        mounts: &Mounts,
        proc_self_cgroup: &str,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Fs> {
        let default = PathBuf::from(id);
        let path = match cgroups_path {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => &default,
        };
        // Quoted input: one line whatever it holds (made only for an error).
        let shown = || crate::error::one_line(&path.to_string_lossy()).into_owned();
        if path.components().any(|c| matches!(c, Component::ParentDir)) {
            bail!("invalid cgroupsPath {}: \"..\" is not allowed", shown());
        }
        let relative: PathBuf = path
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        if relative.as_os_str().is_empty() {
            bail!("invalid cgroupsPath {}: names the root cgroup", shown());
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
                        shown(),
                        crate::error::one_line(&mount.point.to_string_lossy())
                    ))
                })?;
                let mut own = mount.relative_to_root(&own);
                // Outside a cgroup namespace's root (`0::/../x`): not a
                // place below this mount point.
                if !own.components().all(|c| matches!(c, Component::Normal(_))) {
                    bail!(
                        "cgroupsPath {}: our own cgroup {} is not below {}",
                        shown(),
                        crate::error::one_line(&own.to_string_lossy()),
                        crate::error::one_line(&mount.point.to_string_lossy())
                    );
                }
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
            hierarchies.push(Hierarchy {
                controllers: m.controllers.clone(),
                mount: m.mount.point.clone(),
                dir: place(&m.mount, Some(&m.controllers))?,
            });
        }
        let v2 = match &mounts.v2 {
            Some(m) => Some(V2 {
                mount: m.point.clone(),
                dir: place(m, None)?,
            }),
            None => None,
        };
        Ok(Fs {
            v1: V1 { hierarchies },
            v2,
            refused: Vec::new(),
        })
    }

    /// The container's directory in every hierarchy, v1 ones first.
    fn all_dirs(&self) -> impl Iterator<Item = &Path> {
        let v1 = self.v1.hierarchies.iter().map(|h| h.dir.as_path());
        v1.chain(self.v2.iter().map(|v| v.dir.as_path()))
    }

    /// The directory driving `c`: in its v1 hierarchy if mounted, else in
    /// the unified tree if it offers it.
    fn find(&self, c: &Controller) -> Option<Dir<'_>> {
        match self.v1.dir(c) {
            Some(dir) => Some(Dir::V1(dir)),
            None => self
                .v2
                .as_ref()
                .filter(|v| v.offers(c))
                .map(|v| Dir::V2(&v.dir)),
        }
    }

    /// [`Fs::find`], or an error saying config `field` needs `c`.
    fn route(&self, c: &Controller, field: &str) -> Result<Dir<'_>> {
        self.find(c).ok_or_else(|| {
            if let Some(why) = self.not_delegated(c) {
                let name = c.name;
                let msg = format!(
                    "rootless: the {name} controller is not delegated to this user ({why})"
                );
                return Error::at(field, msg);
            }
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

    /// Rootless, why `c` is not ours to use: the hierarchy that has it
    /// refused our directory, or the unified directory we made does not
    /// offer it though the host does (not delegated down to us). None if
    /// not rootless, or if the host lacks the controller altogether.
    fn not_delegated(&self, c: &Controller) -> Option<String> {
        if !crate::rootless::cgroups() {
            return None;
        }
        let in_unified = !matches!(c.v2, Unified::Absent);
        let refused = self
            .refused
            .iter()
            .find(|r| match r.controllers.is_empty() {
                true => in_unified,
                false => r.controllers.iter().any(|n| n == c.name),
            });
        if let Some(r) = refused {
            return Some(r.why.clone());
        }
        // The host has it (at the root), but it does not reach us.
        let offered = |dir: &Path| {
            let text = std::fs::read_to_string(dir.join("cgroup.controllers"));
            text.unwrap_or_default().trim().to_string()
        };
        match (&self.v2, &c.v2) {
            (Some(v2), Unified::Listed(name))
                if v2.dir.exists() && offered(&v2.mount).split(' ').any(|n| n == *name) =>
            {
                let ours = offered(&v2.dir);
                Some(format!(
                    "{name} is not in {}/cgroup.controllers: {ours:?}",
                    v2.dir.display()
                ))
            }
            _ => None,
        }
    }

    /// (mount point, the container's directory) for every hierarchy.
    pub fn mount_dirs(&self) -> Vec<(PathBuf, PathBuf)> {
        let v1 = self
            .v1
            .hierarchies
            .iter()
            .map(|h| (h.mount.clone(), h.dir.clone()));
        v1.chain(self.v2.iter().map(|v| (v.mount.clone(), v.dir.clone())))
            .collect()
    }

    /// The directory in the unified hierarchy, if any.
    pub fn unified_dir(&self) -> Option<PathBuf> {
        self.v2.as_ref().map(|v| v.dir.clone())
    }

    /// The v1 directories, for a child to join by itself.
    pub fn self_join_v1(&self) -> Result<dirs::SelfJoin> {
        dirs::SelfJoin::open(self.v1.hierarchies.iter().map(|h| h.dir.as_path()))
    }

    /// Put `pid` in the unified directory only: it joined the v1 ones by
    /// itself.
    pub fn add_pid_v2(&self, pid: i32) -> Result<()> {
        self.v2.iter().try_for_each(|v| dirs::add_pid(&v.dir, pid))
    }

    /// Put `pid` in existing sub-cgroups of the container's (`exec
    /// --cgroup`): in each v1 hierarchy the one `subs` gives for it, in the
    /// unified tree the one for all.
    pub fn add_pid_to(&self, subs: &SubCgroups, pid: i32) -> Result<()> {
        let known: Vec<&str> = (self.v1.hierarchies.iter())
            .flat_map(|h| h.controllers.iter().map(String::as_str))
            .collect();
        // The unified tree has one path for all its controllers.
        if let Some(c) = subs.controllers().find(|c| !known.contains(c)) {
            let have = if known.is_empty() {
                "no cgroup v1 hierarchy here: give one PATH".to_string()
            } else {
                format!("this host's cgroup v1 ones: {}", known.join(", "))
            };
            return Err(Error::at(
                "--cgroup",
                format!("unknown controller {c} ({have})"),
            ));
        }
        let mut targets = Vec::new();
        for h in &self.v1.hierarchies {
            targets.push(h.dir.join(subs.for_hierarchy(&h.controllers)?));
        }
        if let Some(v2) = &self.v2 {
            targets.push(v2.dir.join(subs.for_hierarchy(&[])?));
        }
        // All of them checked first: no process left half-moved.
        for procs in targets.iter().map(|t| t.join("cgroup.procs")) {
            if let Err(e) = std::fs::metadata(&procs) {
                let e = Error::from(e);
                let msg = format!("adding pid {pid} to {}: {e}", procs.display());
                return Err(Error::at("--cgroup", msg));
            }
        }
        targets.iter().try_for_each(|t| dirs::add_pid(t, pid))
    }

    /// `unified` holds cgroup v2 files: refused before anything is
    /// written without a unified tree, or for a controller this host has
    /// in a v1 hierarchy (runc refuses `unified` on any v1 host).
    fn check_unified(&self, unified: &HashMap<String, String>) -> Result<()> {
        const INVALID: &str = "invalid configuration";
        if self.v2.is_none() {
            bail!("linux.resources.unified: {INVALID}: this host has no cgroup v2 hierarchy");
        }
        let mut keys: Vec<&String> = unified.keys().collect();
        keys.sort();
        for key in keys {
            let prefix = key.split('.').next().unwrap_or_default();
            let in_v1 = controllers::ALL
                .iter()
                .find(|c| matches!(c.v2, Unified::Listed(name) if name == prefix))
                .filter(|c| self.v1.dir(c).is_some());
            if let Some(c) = in_v1 {
                return Err(Error::at(
                    &format!("linux.resources.unified.{key}"),
                    format!(
                        "{INVALID}: this host has the {} controller in cgroup v1, \
                         not in the unified tree",
                        c.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Fs {
    /// [`Manager::create`] for a rootless caller: the directories we may
    /// not make (no delegation there) are left out, and the container
    /// stays in our own cgroup in those hierarchies; a limit that needs
    /// one of them is then an error naming it (see [`Fs::route`]).
    /// Returns whether any was left out.
    pub fn create_permitted(&mut self) -> Result<bool> {
        use nix::errno::Errno;
        let denied =
            |e: &Error| matches!(e.errno(), Some(Errno::EACCES | Errno::EPERM | Errno::EROFS));
        let mut kept = Vec::new();
        for h in std::mem::take(&mut self.v1.hierarchies) {
            match h.create() {
                Ok(()) => kept.push(h),
                Err(e) if denied(&e) => self.refused.push(Refusal {
                    controllers: h.controllers,
                    why: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        self.v1.hierarchies = kept;
        if let Some(v2) = &self.v2 {
            match v2.create() {
                Err(e) if denied(&e) => {
                    self.refused.push(Refusal {
                        controllers: Vec::new(),
                        why: e.to_string(),
                    });
                    self.v2 = None;
                }
                r => r?,
            }
        }
        Ok(!self.refused.is_empty())
    }
}

impl Manager for Fs {
    /// mkdir in every hierarchy and the unified tree (enabling controllers
    /// in v2 subtree_control on the way down).
    fn create(&self) -> Result<()> {
        self.v1.create()?;
        self.v2.as_ref().map_or(Ok(()), V2::create)
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        self.all_dirs().try_for_each(|d| dirs::add_pid(d, pid))
    }

    fn apply(&self, resources: &LinuxResources, update: bool) -> Result<()> {
        let unified = resources.unified().as_ref().filter(|u| !u.is_empty());
        if let Some(u) = unified {
            self.check_unified(u)?;
        }
        for controller in controllers::ALL {
            if let Some(set) = controller.set {
                let at = At {
                    fs: self,
                    controller,
                };
                set(resources, update, &at)?;
            }
        }
        if let (Some(u), Some(v2)) = (unified, &self.v2) {
            v2.unified(u)?;
        }
        Ok(())
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let field = if frozen { "freeze" } else { "thaw" };
        freezer::set_frozen(self.route(&freezer::CONTROLLER, field)?, frozen)
    }

    fn is_frozen(&self) -> Result<bool> {
        match self.find(&freezer::CONTROLLER) {
            Some(dir) => freezer::is_frozen(dir),
            None => Ok(false),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        // The unified tree when present: on hybrid hosts it is joined too.
        let dir = match &self.v2 {
            Some(v2) => Some(v2.dir.as_path()),
            None => self.v1.procs_dir(),
        };
        match dir {
            Some(dir) => dirs::procs(dir),
            None => Ok(Vec::new()),
        }
    }

    fn kill(&self) -> bool {
        self.v2.as_ref().is_some_and(|v| v.kill().is_ok())
    }

    fn stats(&self) -> Result<Stats> {
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

    fn oom_kills(&self) -> Result<u64> {
        match self.find(&memory::CONTROLLER) {
            Some(dir) => memory::oom_kills(dir),
            None => Ok(0),
        }
    }

    /// rmdir everywhere; missing dirs are fine.
    fn destroy(&self) -> Result<()> {
        // Try every hierarchy even if one fails, report the first failure.
        let results: Vec<Result<()>> = self.all_dirs().map(dirs::remove).collect();
        results.into_iter().collect()
    }
}

/// A controller of the container's cgroup, for its `set`.
struct At<'a> {
    fs: &'a Fs,
    controller: &'static Controller,
}

impl Locate for At<'_> {
    fn require(&self, field: &str) -> Result<Dir<'_>> {
        self.fs.route(self.controller, field)
    }

    fn find(&self) -> Option<Dir<'_>> {
        self.fs.find(self.controller)
    }
}
