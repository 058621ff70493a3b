//! A `cgroup` mount in config.json. With cgroup v2 alone: a cgroup2 mount.
//! With v1 or hybrid hierarchies: a tmpfs holding one bind mount per
//! hierarchy of the container's own cgroup directory, as runc does, so the
//! container sees its cgroup and nothing of the host's tree.

use super::path::{self, Kind};
use crate::error::{Context, Result};
use crate::sys::fd_path;
use nix::mount::{MsFlags, mount};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Cgroup hierarchies mounted under /sys/fs/cgroup: (mount point, fstype).
pub fn host_hierarchies() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let mountpoint = pre.split(' ').nth(4)?;
            let fstype = post.split(' ').next()?;
            (matches!(fstype, "cgroup" | "cgroup2") && mountpoint.starts_with("/sys/fs/cgroup"))
                .then(|| (PathBuf::from(mountpoint), fstype.to_string()))
        })
        .collect()
}

/// Mount the cgroup filesystem view at `dest`. `own` gives the host dir of
/// the container's cgroup in a hierarchy (None: the hierarchy's root).
pub fn mount_cgroup(
    root: BorrowedFd,
    dest: &Path,
    flags: MsFlags,
    own: &dyn Fn(&Path) -> Option<PathBuf>,
) -> Result<()> {
    let hier = host_hierarchies();
    let target = path::create(root, dest, Kind::Dir)?;
    let what = || format!("mount cgroup on {}", dest.display());
    let bind_flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    if hier.len() == 1 && hier[0].0 == Path::new("/sys/fs/cgroup") && hier[0].1 == "cgroup2" {
        mount(
            Some("cgroup2"),
            fd_path(target.as_raw_fd()).as_str(),
            Some("cgroup2"),
            flags,
            None::<&str>,
        )
        .ctx(what)?;
        return Ok(());
    }
    let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        fd_path(target.as_raw_fd()).as_str(),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .ctx(what)?;
    for (mountpoint, _) in &hier {
        let Ok(rel) = mountpoint.strip_prefix("/sys/fs/cgroup") else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let src = own(mountpoint).unwrap_or_else(|| mountpoint.clone());
        let sub = dest.join(rel);
        let t = path::create(root, &sub, Kind::Dir)?;
        mount(
            Some(&src),
            fd_path(t.as_raw_fd()).as_str(),
            None::<&str>,
            bind_flags,
            None::<&str>,
        )
        .ctx(|| format!("bind {} on {}", src.display(), sub.display()))?;
        let t = super::mounts::reopen(root, &sub, Kind::Dir)?;
        let remount = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | (flags & (MsFlags::MS_RDONLY | tmpfs_flags))
            | tmpfs_flags;
        mount(
            None::<&str>,
            fd_path(t.as_raw_fd()).as_str(),
            None::<&str>,
            remount,
            None::<&str>,
        )
        .ctx(|| format!("remount {}", sub.display()))?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let t = super::mounts::reopen(root, dest, Kind::Dir)?;
        let remount = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | tmpfs_flags;
        mount(
            None::<&str>,
            fd_path(t.as_raw_fd()).as_str(),
            None::<&str>,
            remount,
            None::<&str>,
        )
        .ctx(|| format!("remount {} read-only", dest.display()))?;
    }
    let _ = target.as_fd();
    Ok(())
}
