//! pids: `linux.resources.pids`, the same files on v1 and v2.

use oci_spec::runtime::LinuxResources;

use super::{Controller, Dir, Locate, Unified, limit_value};
use crate::cgroups::files::{read_u64_or_zero, write};
use crate::cgroups::stats::Stats;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "pids",
    v2: Unified::Listed("pids"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, update: bool, at: &dyn Locate) -> Result<()> {
    // A limit of 0 is kept on create (no new processes), unset in an update.
    let Some(p) = r.pids().filter(|p| !(update && p.limit() == 0)) else {
        return Ok(());
    };
    let field = "linux.resources.pids.limit";
    let dir = at.require(field)?.path();
    write(dir, "pids.max", &limit_value(p.limit()), field)
}

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    let dir = dir.path();
    s.pids.current = read_u64_or_zero(dir, "pids.current")?;
    s.pids.limit = read_u64_or_zero(dir, "pids.max")?;
    if s.pids.limit == u64::MAX {
        s.pids.limit = 0;
    }
    Ok(())
}
