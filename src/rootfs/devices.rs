//! /dev as runtime-linux.md requires: the default devices, linux.devices,
//! and the standard symlinks. In a user namespace mknod is not allowed, so
//! the host's node is bind-mounted instead (as runc does).

use super::path::{self, Kind};
use crate::error::{Context, Result};
use nix::errno::Errno;
use nix::sys::stat::{Mode, SFlag, makedev};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

/// Character devices every container gets: (path, major, minor).
pub const DEFAULT: &[(&str, i64, i64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
];

pub struct Node {
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: i64,
    pub minor: i64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Node {
    fn from_spec(d: &LinuxDevice) -> Result<Node> {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(crate::error::Error::new(format!(
                    "linux.devices: {}: type \"a\" is only valid in resources.devices",
                    d.path().display()
                )));
            }
        };
        Ok(Node {
            path: d.path().clone(),
            kind,
            major: d.major(),
            minor: d.minor(),
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }
}

/// Create every default and configured device under `root`.
pub fn create_all(root: BorrowedFd, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    let mut nodes: Vec<Node> = DEFAULT
        .iter()
        .filter(|(p, _, _)| !devices.iter().any(|d| d.path() == Path::new(p)))
        .map(|(p, major, minor)| Node {
            path: p.into(),
            kind: SFlag::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect();
    for d in devices {
        nodes.push(Node::from_spec(d)?);
    }
    for node in &nodes {
        create(root, node, in_userns).ctx(|| format!("create device {}", node.path.display()))?;
    }
    for (target, link) in SYMLINKS {
        symlink(root, target, link)?;
    }
    if Path::new("/proc/kcore").exists() {
        symlink(root, "/proc/kcore", "/dev/core")?;
    }
    Ok(())
}

fn create(root: BorrowedFd, node: &Node, in_userns: bool) -> Result<()> {
    let parent_path = node.path.parent().unwrap_or(Path::new("/"));
    let name = node.path.file_name().unwrap_or_default();
    let parent = path::create(root, parent_path, Kind::Dir)?;
    // Whatever the image has there is replaced.
    match nix::unistd::unlinkat(
        parent.as_fd(),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).ctx(|| "remove existing file"),
    }
    let dev = makedev(node.major as u64, node.minor as u64);
    let made = if in_userns {
        Err(Errno::EPERM)
    } else {
        nix::sys::stat::mknodat(
            parent.as_fd(),
            name,
            node.kind,
            Mode::from_bits_truncate(node.mode),
            dev,
        )
    };
    match made {
        Ok(()) => {}
        Err(Errno::EPERM) => return bind_host(root, node),
        Err(e) => return Err(e).ctx(|| "mknod"),
    }
    // mknod applies the umask; set the exact mode, then the owner.
    nix::sys::stat::fchmodat(
        parent.as_fd(),
        name,
        Mode::from_bits_truncate(node.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| "chmod")?;
    nix::unistd::fchownat(
        parent.as_fd(),
        name,
        Some(Uid::from_raw(node.uid)),
        Some(Gid::from_raw(node.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx(|| "chown")
}

/// In a user namespace: an empty file with the host's node bound over it.
fn bind_host(root: BorrowedFd, node: &Node) -> Result<()> {
    let target = path::create(root, &node.path, Kind::File)?;
    crate::sys::mount_on(
        target.as_fd(),
        Some(&node.path),
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| format!("bind host {}", node.path.display()))
}

fn symlink(root: BorrowedFd, target: &str, link: &str) -> Result<()> {
    let link = Path::new(link);
    let parent = path::create(root, link.parent().unwrap_or(Path::new("/")), Kind::Dir)?;
    match nix::unistd::symlinkat(target, parent.as_fd(), link.file_name().unwrap_or_default()) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e).ctx(|| format!("symlink {} -> {target}", link.display())),
    }
}
