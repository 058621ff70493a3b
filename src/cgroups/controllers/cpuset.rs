//! cpuset: the cpus and mems of `linux.resources.cpu`, and the statistics
//! of the sets in use.

use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::LinuxResources;

use super::{Controller, Dir, Locate, Unified, nonzero};
use crate::cgroups::files::{field_error, read, read_opt, read_u64_or_zero, write, write_raw};
use crate::cgroups::stats::Stats;
use crate::error::{Error, Result};

pub const CONTROLLER: Controller = Controller {
    name: "cpuset",
    v2: Unified::Listed("cpuset"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(c) = r.cpu() else {
        return Ok(());
    };
    let lists = [
        (
            "cpuset.cpus",
            nonzero(c.cpus().as_deref()),
            "linux.resources.cpu.cpus",
        ),
        (
            "cpuset.mems",
            nonzero(c.mems().as_deref()),
            "linux.resources.cpu.mems",
        ),
    ];
    // A missing controller is reported for the first list set.
    let Some(&(_, _, field)) = lists.iter().find(|(_, value, _)| value.is_some()) else {
        return Ok(());
    };
    let dir = at.require(field)?;
    for (file, value, field) in lists {
        let Some(v) = value else { continue };
        match dir {
            Dir::V1(dir) => write_list(dir, file, v, field, file)?,
            Dir::V2(dir) => write_list(dir, file, v, field, &format!("{file}.effective"))?,
        }
    }
    Ok(())
}

/// Write a cpuset list (`cpuset.cpus`/`cpuset.mems`); a refusal names what
/// the parent offers (`parent_file` in the parent dir), as the kernel's
/// own answer (ERANGE, EINVAL) does not.
fn write_list(dir: &Path, file: &str, value: &str, field: &str, parent_file: &str) -> Result<()> {
    write_raw(dir, file, value).map_err(|e| {
        let err = field_error(dir, file, value, field, e);
        let offered = dir
            .parent()
            .and_then(|p| std::fs::read_to_string(p.join(parent_file)).ok());
        match offered {
            Some(o) if e != Errno::ENOENT => Error::new(format!(
                "{err} (the parent cgroup offers {})",
                match o.trim() {
                    "" => "none",
                    o => o,
                }
            )),
            _ => err,
        }
    })
}

/// Give a new v1 cpuset cgroup `dir` its `parent`'s cpus and mems: it
/// starts empty and takes no tasks until they are set.
pub fn inherit_v1(parent: &Path, dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        if read(dir, file)?.trim().is_empty() {
            let value = read(parent, file)?;
            write(
                dir,
                file,
                value.trim(),
                &format!("create cgroup {}", dir.display()),
            )?;
        }
    }
    Ok(())
}

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    let c = &mut s.cpuset;
    match dir {
        Dir::V1(dir) => {
            let num = |f: &str| read_u64_or_zero(dir, &format!("cpuset.{f}"));
            c.cpus = cpu_list(&read_opt(dir, "cpuset.cpus")?.unwrap_or_default());
            c.mems = cpu_list(&read_opt(dir, "cpuset.mems")?.unwrap_or_default());
            c.cpu_exclusive = num("cpu_exclusive")?;
            c.mem_hardwall = num("mem_hardwall")?;
            c.mem_exclusive = num("mem_exclusive")?;
            c.memory_migrate = num("memory_migrate")?;
            c.memory_spread_page = num("memory_spread_page")?;
            c.memory_spread_slab = num("memory_spread_slab")?;
            c.memory_pressure = num("memory_pressure")?;
            c.sched_load_balance = num("sched_load_balance")?;
            let level = read_opt(dir, "cpuset.sched_relax_domain_level")?;
            c.sched_relax_domain_level = level.and_then(|l| l.trim().parse().ok()).unwrap_or(0);
        }
        Dir::V2(dir) => {
            c.cpus = cpu_list(&read_opt(dir, "cpuset.cpus.effective")?.unwrap_or_default());
            c.mems = cpu_list(&read_opt(dir, "cpuset.mems.effective")?.unwrap_or_default());
        }
    }
    Ok(())
}

/// A cpuset list (`0-3,7`) as numbers.
fn cpu_list(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            out.extend(a..=b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(cpu_list("0-2,7\n"), [0, 1, 2, 7]);
    }
}
