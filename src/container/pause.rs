//! `pause` / `resume`: freeze and thaw the container's cgroup (the v1
//! freezer or cgroup.freeze on v2). `state` shows `paused` meanwhile.

use crate::bail;
use crate::cgroups::Cgroup;
use crate::error::Result;
use crate::state::{State, StateDir, Status};
use std::path::Path;

/// Freeze every process of a running or created container, as runc does;
/// anything else is runc's `container not running`. A paused created
/// container is refused by `start` until it is resumed.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    if !matches!(
        super::status(&dir.path, &st),
        Status::Running | Status::Created
    ) {
        bail!("container not running");
    }
    cgroup(&st)?.freeze()
}

/// Thaw a paused container; anything else is `container not paused`.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    if super::status(&dir.path, &st) != Status::Paused {
        bail!("container not paused");
    }
    cgroup(&st)?.thaw()
}

/// The container's cgroup; every container hull creates has one.
pub(crate) fn cgroup(st: &State) -> Result<&Cgroup> {
    match &st.cgroup {
        Some(c) => Ok(c),
        None => bail!("container {:?} has no cgroup", st.id),
    }
}
