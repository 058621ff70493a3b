//! A `cgroup` mount in config.json. With cgroup v2 alone: a cgroup2 mount.
//! With v1 or hybrid hierarchies: a tmpfs holding one bind mount per
//! hierarchy of the container's own cgroup directory, as runc does, so the
//! container sees its cgroup and nothing of the host's tree.

use super::options::attr;
use super::path::{self, Kind};
use crate::error::{Context, Result};
use nix::errno::Errno;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Mount the cgroup view at `dest`. `dirs` are the container's cgroup
/// directories as (hierarchy mount point, directory), from its Cgroup.
pub fn mount_cgroup(
    root: BorrowedFd,
    dest: &Path,
    flags: MsFlags,
    dirs: &[(PathBuf, PathBuf)],
) -> Result<()> {
    let target = path::create(root, dest, Kind::Dir)?;
    let what = || format!("mount cgroup on {}", dest.display());
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if let [(mount_point, dir)] = dirs
        && mount_point == Path::new(CGROUP_ROOT)
    {
        // cgroup v2 alone: the namespace-aware cgroup2 filesystem itself,
        // as safe as the v1 tree below.
        let mounted = crate::sys::mount_on(
            target.as_fd(),
            Some("cgroup2"),
            Some("cgroup2"),
            flags | safe,
            None::<&str>,
        );
        return match mounted {
            // In a user namespace without a cgroup namespace of its own the
            // kernel refuses it (the cgroup namespace is not ours): the
            // container's own directory instead, bound, as runc does.
            Err(Errno::EPERM | Errno::EBUSY) => {
                let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
                crate::sys::mount_on(target.as_fd(), Some(dir), None::<&str>, bind, None::<&str>)
                    .ctx(what)?;
                let t = super::mounts::reopen(root, dest, Kind::Dir)?;
                super::mounts::remount_bind(&t, (flags & MsFlags::MS_RDONLY) | safe).ctx(what)
            }
            r => r.ctx(what),
        };
    }
    crate::sys::mount_on(
        target.as_fd(),
        Some("tmpfs"),
        Some("tmpfs"),
        safe,
        Some("mode=755"),
    )
    .ctx(what)?;
    for (mount_point, dir) in dirs {
        let Ok(rel) = mount_point.strip_prefix(CGROUP_ROOT) else {
            continue;
        };
        let sub = dest.join(rel);
        let t = path::create(root, &sub, Kind::Dir)?;
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        crate::sys::mount_on(t.as_fd(), Some(dir), None::<&str>, bind, None::<&str>)
            .ctx(|| format!("bind {} on {}", dir.display(), sub.display()))?;
    }
    // The tmpfs and every bind on it at once (one call, not a remount per
    // hierarchy): nosuid, nodev, noexec, and read-only if asked.
    let mut attrs = attr::NOSUID | attr::NODEV | attr::NOEXEC;
    if flags.contains(MsFlags::MS_RDONLY) {
        attrs |= attr::RDONLY;
    }
    let tree = super::mounts::reopen(root, dest, Kind::Dir)?;
    crate::sys::mount_setattr_recursive(tree.as_fd(), attrs, 0).ctx(what)
}
