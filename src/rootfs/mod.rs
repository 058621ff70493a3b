//! The container's root filesystem, in spec order: propagation, the rootfs
//! bind, `mounts`, /dev, masked and read-only paths, pivot_root.

pub mod cgroupfs;
pub mod devices;
pub mod idmap;
pub mod mounts;
pub mod options;
pub mod path;

use crate::bail;
use crate::error::{Context, Result};
use crate::sys::fd_path;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

/// linux.rootfsPropagation as a mount flag.
pub fn propagation_flag(name: &str) -> Result<MsFlags> {
    match options::propagation(name) {
        Some(f) => Ok(f),
        None => bail!("unknown propagation {name:?}"),
    }
}

fn mount_flags(target: &str, flags: MsFlags) -> Result<()> {
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .ctx(|| format!("set propagation of {target}"))
}

/// Everything done while the host's root is still visible.
pub fn prepare(spec: &Spec, c: &crate::init::Container, in_userns: bool) -> Result<()> {
    let (linux, rootfs) = (spec.linux().as_ref(), c.rootfs);
    // Nothing we mount may propagate back to the host. pivot_root refuses
    // shared mounts around it, so a requested "shared" waits for the new
    // `/` (see `finish`); until then our mounts are slaves of the host's.
    let prop = match linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        Some(p) => propagation_flag(p)?,
        None => MsFlags::MS_SLAVE,
    };
    let prop = match prop.contains(MsFlags::MS_SHARED) {
        true => MsFlags::MS_SLAVE,
        false => prop,
    };
    mount_flags("/", prop | MsFlags::MS_REC)?;
    // The rootfs becomes a mount point of its own, as pivot_root needs.
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind rootfs {}", rootfs.display()))?;
    let root = path::open_root(rootfs)?;
    let mut dev_bound = false;
    let mut read_only_later = Vec::new();
    let label = linux.and_then(|l| l.mount_label().as_deref());
    for (i, (m, opts)) in spec.mounts().iter().flatten().zip(c.mounts).enumerate() {
        let entry = mounts::Entry {
            index: i,
            mount: m,
            opts,
            source: c
                .bind_sources
                .get(i)
                .and_then(|s| s.as_ref())
                .map(|fd| fd.as_fd()),
        };
        if mounts::mount_entry(root.as_fd(), &entry, c.bundle, c.cgroup, label)? {
            read_only_later.push((i, m.destination()));
        }
        if m.destination() == Path::new("/dev") && opts.is_bind() {
            dev_bound = true;
        }
    }
    // A /dev bound from the host already has its devices.
    if !dev_bound {
        let devices = linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default();
        devices::create_all(root.as_fd(), devices, in_userns)?;
    }
    // The pty is bound on /dev/console after this: its mount point must
    // exist before /dev may turn read-only.
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && !read_only_later.is_empty() {
        path::create(root.as_fd(), Path::new("/dev/console"), path::Kind::File)
            .ctx(|| "create /dev/console")?;
    }
    for (i, dest) in read_only_later {
        let what = || format!("mounts[{i}]: remount {} read-only", dest.display());
        let target = mounts::reopen(root.as_fd(), dest, path::Kind::Dir).ctx(what)?;
        mounts::remount_bind(&target, MsFlags::MS_RDONLY).ctx(what)?;
    }
    // Before /proc/sys is made read-only.
    crate::security::sysctl::apply_in(spec, root.as_fd(), Path::new("/proc"))?;
    if let Some(linux) = linux {
        for p in linux.masked_paths().iter().flatten() {
            mask(root.as_fd(), Path::new(p))?;
        }
        for p in linux.readonly_paths().iter().flatten() {
            make_readonly(root.as_fd(), Path::new(p))?;
        }
    }
    Ok(())
}

/// linux.maskedPaths: /dev/null over a file, an empty read-only tmpfs over a directory.
fn mask(root: BorrowedFd, p: &Path) -> Result<()> {
    let target = match path::open(root, p, OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("linux.maskedPaths: open {}", p.display())),
    };
    let st = nix::sys::stat::fstat(&target)
        .ctx(|| format!("linux.maskedPaths: stat {}", p.display()))?;
    let on = target.as_fd();
    let r = if st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFDIR {
        let (ro, data) = (MsFlags::MS_RDONLY, Some("size=0k"));
        crate::sys::mount_on(on, Some("tmpfs"), Some("tmpfs"), ro, data)
    } else {
        crate::sys::mount_on(on, Some("/dev/null"), None, MsFlags::MS_BIND, None)
    };
    r.ctx(|| format!("linux.maskedPaths: mask {}", p.display()))
}

/// linux.readonlyPaths: a read-only bind of the path onto itself.
fn make_readonly(root: BorrowedFd, p: &Path) -> Result<()> {
    let what = || format!("linux.readonlyPaths: {}", p.display());
    let target = match path::open(root, p, OFlag::O_PATH) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx(what),
    };
    // Bound onto itself: the source is the same opened file.
    let itself = fd_path(target.as_raw_fd());
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    crate::sys::mount_on(target.as_fd(), Some(itself.as_str()), None, flags, None).ctx(what)?;
    let target = path::open(root, p, OFlag::O_PATH).ctx(what)?;
    mounts::remount_bind(&target, MsFlags::MS_RDONLY | MsFlags::MS_REC).ctx(what)
}

/// Make the rootfs `/`: pivot_root, or with `--no-pivot` move + chroot.
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        hide_full_proc_and_sys(rootfs)?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .ctx(|| "move rootfs to /")?;
        nix::unistd::chroot(".").ctx(|| "chroot")?;
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // unmounting "." then leaves only the new root (no temp dir needed).
        let old_root = nix::fcntl::open(
            "/",
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open old root")?;
        nix::unistd::pivot_root(".", ".").ctx(|| "pivot_root")?;
        nix::unistd::fchdir(&old_root).ctx(|| "chdir old root")?;
        mount_flags(".", MsFlags::MS_SLAVE | MsFlags::MS_REC)?;
        umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount old root")?;
    }
    nix::unistd::chdir("/").ctx(|| "chdir /")
}

/// Before `--no-pivot` moves the rootfs over `/`: unmount (or cover) every
/// full procfs and sysfs mount outside the rootfs. They stay reachable in
/// our mount namespace under the chroot, and the kernel lets a user
/// namespace inside the container mount a fresh procfs as long as a fully
/// visible one exists (mount_too_revealing); runc does the same.
fn hide_full_proc_and_sys(rootfs: &Path) -> Result<()> {
    // mountinfo has real paths: so must the one we keep.
    let rootfs = std::fs::canonicalize(rootfs).ctx(|| format!("resolve {}", rootfs.display()))?;
    let info = std::fs::read_to_string("/proc/self/mountinfo").ctx(|| "read mountinfo")?;
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        // The separator follows at least six fields (more are optional).
        let Some(sep) = fields.iter().position(|f| *f == "-").filter(|&s| s >= 6) else {
            continue;
        };
        let (root, point) = (fields[3], crate::sys::unescape_mountinfo(fields[4]));
        let fstype = fields.get(sep + 1).copied().unwrap_or("");
        if root != "/"
            || !matches!(fstype, "proc" | "sysfs")
            || Path::new(&point).starts_with(&rootfs)
        {
            continue;
        }
        // Our unmount must not propagate to the host.
        match mount(
            None::<&str>,
            point.as_str(),
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        ) {
            // Under a mount already gone.
            Err(Errno::ENOENT) => continue,
            r => r.ctx(|| format!("--no-pivot: make {point} a slave"))?,
        }
        match umount2(point.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) => {}
            Err(Errno::EINVAL | Errno::EPERM) => mount(
                Some("tmpfs"),
                point.as_str(),
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            )
            .ctx(|| format!("--no-pivot: cover {point}"))?,
            Err(e) => return Err(e).ctx(|| format!("--no-pivot: unmount {point}")),
        }
    }
    Ok(())
}

/// linux.rootfsPropagation on the new `/` (it only exists after the
/// pivot), then root.readonly: remount / read-only, keeping its other flags.
pub fn finish(spec: &Spec) -> Result<()> {
    if let Some(p) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    {
        mount_flags("/", propagation_flag(p)?)?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        let root = nix::fcntl::open(
            "/",
            OFlag::O_PATH | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open /")?;
        let flags = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | mounts::locked_flags(&root).ctx(|| "statfs / (root.readonly)")?;
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .ctx(|| "remount / read-only (root.readonly)")?;
    }
    Ok(())
}
