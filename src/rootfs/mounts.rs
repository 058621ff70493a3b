//! One `mounts[]` entry: destination resolved inside the rootfs (created
//! when missing), then mount(2) onto the opened target through
//! /proc/self/fd, so a symlink swapped in meanwhile cannot redirect it.

use super::options::MountOptions;
use super::path::{self, Kind};
use crate::error::{Context, Error, Result};
use crate::sys::fd_path;
use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One of the config's mounts, its options parsed.
pub struct Entry<'a> {
    pub index: usize,
    pub mount: &'a Mount,
    pub opts: &'a MountOptions,
    /// A bind source opened by the parent as host root (see
    /// [`open_bind_sources`]), else None: looked up here.
    pub source: Option<BorrowedFd<'a>>,
}

/// The bind mounts' sources as detached copies of their mounts
/// (open_tree(2) OPEN_TREE_CLONE), made by the parent while it is still
/// host root: in a user namespace of its own the init may not reach them
/// (a 0700 directory on the way), yet runc binds them; and an idmapped
/// mount can only be made of a detached copy. The init moves each onto
/// its target (a plain bind from another mount namespace is refused).
/// `all`: every bind mount, else only the idmapped ones. One entry per
/// mount, None for the others.
pub fn open_bind_sources(
    spec: &oci_spec::runtime::Spec,
    opts: &[MountOptions],
    bundle: &Path,
    all: bool,
) -> Result<Vec<Option<OwnedFd>>> {
    let mut usernses = super::idmap::UserNamespaces::default();
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let mut open = |(i, (m, o)): (usize, (&Mount, &MountOptions))| -> Result<Option<OwnedFd>> {
        let Some(src) = m.source().as_ref().filter(|_| o.is_bind()) else {
            return Ok(None);
        };
        if !all && o.idmap.is_none() {
            return Ok(None);
        }
        let src = bundle.join(src);
        let recursive = o.flags.contains(MsFlags::MS_REC);
        let tree = crate::sys::clone_tree(&src, recursive)
            .ctx(|| format!("mounts[{i}]: open source {}", src.display()))?;
        if let Some(idmap) = o.idmap {
            let field = format!("mounts[{i}]");
            let userns = usernses.for_mount(spec, m).map_err(|e| e.within(&field))?;
            let recursive = idmap == super::options::Idmap::Recursive;
            crate::sys::mount_setattr_idmap(tree.as_fd(), userns, recursive)
                .ctx(|| format!("{field}: idmap {}", src.display()))?;
        }
        Ok(Some(tree))
    };
    mounts.iter().zip(opts).enumerate().map(&mut open).collect()
}

/// Mount an entry of the config into the rootfs opened as `root`.
/// Returns whether it must be made read-only once every mount and device
/// is in place: a read-only tmpfs (a `ro` /dev) is mounted writable first,
/// or the mount points and nodes under it could not be made (as runc).
pub fn mount_entry(
    root: BorrowedFd,
    entry: &Entry,
    bundle: &Path,
    cgroup: &crate::cgroups::Cgroup,
    mount_label: Option<&str>,
) -> Result<bool> {
    let (m, opts, index) = (entry.mount, entry.opts, entry.index);
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let what = || {
        let src = m
            .source()
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_else(|| typ.to_string());
        format!("mounts[{index}]: mount {src} on {}", dest.display())
    };
    // What the destination is: a bound file stays a file for every reopen.
    let mut dest_kind = Kind::Dir;
    let mut read_only_later = false;
    if opts.is_bind() {
        dest_kind = bind(root, entry, bundle, &what)?;
    } else if typ == "cgroup" {
        let dirs = cgroup.mount_dirs();
        super::cgroupfs::mount_cgroup(root, dest, opts.flags, &dirs)
            .map_err(|e| Error::new(format!("mounts[{index}]: {e}")))?;
    } else {
        read_only_later = mount_fs(root, entry, mount_label, &what)?;
    }
    if !opts.propagation.is_empty() || opts.attr_set | opts.attr_clr != 0 {
        let target =
            reopen(root, dest, dest_kind).map_err(|e| Error::new(format!("{}: {e}", what())))?;
        for p in &opts.propagation {
            crate::sys::mount_on(target.as_fd(), None::<&str>, None::<&str>, *p, None::<&str>)
                .ctx(|| format!("{}: set propagation", what()))?;
        }
        if opts.attr_set | opts.attr_clr != 0 {
            crate::sys::mount_setattr_recursive(target.as_fd(), opts.attr_set, opts.attr_clr)
                .ctx(|| format!("{}: set recursive attributes", what()))?;
        }
    }
    Ok(read_only_later)
}

/// A bind mount, then a remount for its other flags. Returns what the
/// destination is.
fn bind(root: BorrowedFd, entry: &Entry, bundle: &Path, what: &dyn Fn() -> String) -> Result<Kind> {
    let (m, opts, index) = (entry.mount, entry.opts, entry.index);
    let dest = m.destination();
    let Some(src) = m.source() else {
        return Err(Error::new(format!(
            "mounts[{index}]: bind mount of {} needs a source",
            dest.display()
        )));
    };
    use nix::libc::{S_IFDIR, S_IFMT};
    let is_dir: Result<bool> = match entry.source {
        Some(fd) => nix::sys::stat::fstat(fd)
            .map(|st| st.st_mode & S_IFMT == S_IFDIR)
            .map_err(Error::from),
        None => std::fs::metadata(bundle.join(src))
            .map(|m| m.is_dir())
            .map_err(Error::from),
    };
    let kind = match is_dir.ctx(|| format!("{}: stat source", what()))? {
        true => Kind::Dir,
        false => Kind::File,
    };
    let target = path::create(root, dest, kind).ctx(what)?;
    match entry.source {
        // A copy of the source's mount made by the parent: moved in.
        Some(tree) => crate::sys::move_mount_to(tree, target.as_fd()).ctx(what)?,
        None => {
            let rec = opts.flags & (MsFlags::MS_BIND | MsFlags::MS_REC);
            let src = bundle.join(src);
            crate::sys::mount_on(target.as_fd(), Some(&src), None::<&str>, rec, None::<&str>)
                .ctx(what)?;
        }
    }
    // Flags other than bind/rec need a remount of the new mount itself.
    let rest = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    if !rest.is_empty() {
        let target = reopen(root, dest, kind)?;
        remount_bind(&target, rest).ctx(|| format!("{}: remount", what()))?;
    }
    Ok(kind)
}

/// A filesystem of its own (proc, sysfs, tmpfs, devpts, mqueue, ...).
/// Returns whether it must be made read-only later (see [`mount_entry`]).
fn mount_fs(
    root: BorrowedFd,
    entry: &Entry,
    mount_label: Option<&str>,
    what: &dyn Fn() -> String,
) -> Result<bool> {
    let (m, opts, index) = (entry.mount, entry.opts, entry.index);
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    let target = if matches!(typ, "proc" | "sysfs") {
        plain_dir(root, dest, typ).map_err(|e| Error::new(format!("mounts[{index}]: {e}")))?
    } else {
        path::create(root, dest, Kind::Dir).ctx(what)?
    };
    // The image's content at the destination, still readable through
    // this fd once the tmpfs covers it.
    let old = if opts.tmpcopyup {
        Some(
            nix::fcntl::open(
                fd_path(target.as_raw_fd()).as_str(),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(what)?,
        )
    } else {
        None
    };
    let source = m
        .source()
        .as_ref()
        .map(|s| s.as_path())
        .unwrap_or(Path::new(typ));
    // proc and sysfs never need suid, device or exec semantics: deny them
    // whatever the config says (a writable, exec-able /proc is an escape path).
    let mut flags = opts.flags;
    if matches!(typ, "proc" | "sysfs") {
        flags |= MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    }
    let mut read_only_later = false;
    if typ == "tmpfs" && flags.contains(MsFlags::MS_RDONLY) {
        flags -= MsFlags::MS_RDONLY;
        read_only_later = true;
    }
    let data = with_mount_label(&opts.data, typ, mount_label);
    let data = (!data.is_empty()).then_some(data.as_str());
    let mut mounted = crate::sys::mount_on(target.as_fd(), Some(source), Some(typ), flags, data);
    if let (Err(nix::errno::Errno::EINVAL), "devpts", Some(d)) = (mounted, typ, data) {
        // gid=5 where the user namespace maps no gid 5 (a config written
        // for root): the ptys then belong to the container's root, as crun.
        let without: Vec<&str> = d.split(',').filter(|o| !o.starts_with("gid=")).collect();
        if without.len() < d.split(',').count() {
            let without = without.join(",");
            mounted = crate::sys::mount_on(
                target.as_fd(),
                Some(source),
                Some(typ),
                flags,
                Some(&without),
            );
        }
    }
    match mounted {
        // A user namespace may mount sysfs only with a network namespace
        // of its own: the host's /sys bound instead, as runc does.
        Err(nix::errno::Errno::EPERM) if typ == "sysfs" => bind_host_sys(root, dest, flags)
            .ctx(|| format!("{}: bind the host's /sys (sysfs refused)", what()))?,
        r => r.ctx(|| match data {
            Some(d) => format!("{} (type {typ}, data {d:?})", what()),
            None => format!("{} (type {typ})", what()),
        })?,
    }
    if let Some(old) = old {
        let new = reopen(root, dest, Kind::Dir)?;
        copy_tree(&fd_dir(&old), &fd_dir(&new)).ctx(|| format!("{}: tmpcopyup", what()))?;
    }
    Ok(read_only_later)
}

/// /sys recursively bound at `dest`, with the mount's flags on all of it.
fn bind_host_sys(root: BorrowedFd, dest: &Path, flags: MsFlags) -> Result<()> {
    use super::options::attr;
    let target = reopen(root, dest, Kind::Dir)?;
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    crate::sys::mount_on(
        target.as_fd(),
        Some("/sys"),
        None::<&str>,
        bind,
        None::<&str>,
    )?;
    let mut attrs = attr::NOSUID | attr::NODEV | attr::NOEXEC;
    if flags.contains(MsFlags::MS_RDONLY) {
        attrs |= attr::RDONLY;
    }
    let tree = reopen(root, dest, Kind::Dir)?;
    crate::sys::mount_setattr_recursive(tree.as_fd(), attrs, 0)?;
    Ok(())
}

/// The destination of a proc or sysfs mount: an ordinary directory, no
/// symlink on the way (created when missing). Mounting through a symlink
/// swapped in by the image was runc's CVE-2019-16884.
fn plain_dir(root: BorrowedFd, dest: &Path, typ: &str) -> Result<OwnedFd> {
    let refuse = || {
        Error::new(format!(
            "{typ} must be mounted on an ordinary directory: {} is a symlink or not a directory",
            dest.display()
        ))
    };
    match path::open_plain_dir(root, dest) {
        Ok(fd) => return Ok(fd),
        Err(nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR) => return Err(refuse()),
        Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e).ctx(|| format!("open {}", dest.display())),
    }
    path::create(root, dest, Kind::Dir).ctx(|| format!("create {}", dest.display()))?;
    path::open_plain_dir(root, dest).map_err(|_| refuse())
}

/// linux.mountLabel as the SELinux `context=` option of filesystems that
/// take one (not proc, sysfs, cgroup: the kernel labels those itself).
fn with_mount_label(data: &str, typ: &str, label: Option<&str>) -> String {
    match label.filter(|l| !l.is_empty()) {
        Some(l) if !matches!(typ, "proc" | "sysfs" | "cgroup" | "cgroup2") => {
            let ctx = format!("context=\"{l}\"");
            if data.is_empty() {
                ctx
            } else {
                format!("{data},{ctx}")
            }
        }
        _ => data.to_string(),
    }
}

/// Open the destination again: the fd from before a mount names the
/// directory under it, not the new mount.
pub fn reopen(root: BorrowedFd, dest: &Path, kind: Kind) -> Result<OwnedFd> {
    let flags = if kind == Kind::Dir {
        OFlag::O_PATH | OFlag::O_DIRECTORY
    } else {
        OFlag::O_PATH
    };
    path::open(root, dest, flags).ctx(|| format!("open {}", dest.display()))
}

/// Remount the bind mount at `target` with `flags`, keeping its locked ones.
pub fn remount_bind(target: &OwnedFd, flags: MsFlags) -> nix::Result<()> {
    crate::sys::mount_on(
        target.as_fd(),
        None::<&str>,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | locked_flags(target)?,
        None::<&str>,
    )
}

/// The nosuid/nodev/noexec/atime flags of the mount holding `fd`: a bind
/// remount must keep them or the kernel refuses (locked in a user namespace),
/// or, outside one, would drop them. Not knowing them is an error.
pub fn locked_flags(fd: &OwnedFd) -> nix::Result<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::fstatvfs(fd)?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (from, to) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        // ST_RELATIME: nix names it for glibc only
        (FsFlags::from_bits_retain(0x1000), MsFlags::MS_RELATIME),
    ] {
        if f.contains(from) {
            out |= to;
        }
    }
    Ok(out)
}

fn fd_dir(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(fd_path(fd.as_raw_fd()))
}

/// Copy a directory's content (files, dirs, symlinks, with mode and owner).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
    let meta = std::fs::metadata(from)?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = entry.metadata()?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
            lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
            lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        }
    }
    Ok(())
}
