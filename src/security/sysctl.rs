//! linux.sysctl: only settings that belong to a namespace the container
//! has of its own, named strictly, written through a procfs and never
//! through a symlink. Anything else would change the host: a key is a path
//! under /proc/sys, and a host-wide one (`vm.swappiness`) or one of the
//! host's own namespaces (`net.*` without a network namespace) is the
//! host's setting.

use crate::bail;
use crate::error::{Context, Error, Result};
use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The namespace a sysctl key belongs to, as runc's validator has it; None
/// for a host-wide key.
fn namespace_of(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.domainname" || key == "kernel.hostname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

/// A key is dot-separated names of letters, digits, `_` and `-`: no `/`,
/// no `..`, no empty part, so it can only name a file under /proc/sys.
fn check_name(key: &str) -> std::result::Result<(), &'static str> {
    if key.is_empty() {
        return Err("is empty");
    }
    for part in key.split('.') {
        if part.is_empty() {
            return Err("has an empty part");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("may hold only letters, digits, '_', '-' and '.' between names");
        }
    }
    Ok(())
}

/// Whether the container has a namespace of this type that is not hull's:
/// a new one, or one joined by a path that is not our own.
fn has_own(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    crate::namespaces::of(spec)
        .filter(|n| n.typ() == typ)
        .any(|n| match n.path() {
            None => true,
            Some(path) => !crate::namespaces::is_ours(typ, path),
        })
}

/// Every key of linux.sysctl must be well-formed and namespaced in one of
/// the container's own namespaces (checked before anything is touched).
pub fn validate(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in sysctl {
        if let Err(why) = check_name(key) {
            bail!("config.json: linux.sysctl: key {key:?} {why}");
        }
        if key == "kernel.hostname" {
            bail!(
                "config.json: linux.sysctl: {key:?} is not allowed as it conflicts with the hostname field"
            );
        }
        match namespace_of(key) {
            Some(typ) if has_own(spec, typ) => {}
            Some(typ) => bail!(
                "config.json: linux.sysctl: {key:?} is not allowed in the host's {} namespace",
                crate::namespaces::config_name(typ)
            ),
            None => {
                bail!("config.json: linux.sysctl: {key:?} is not in a separate kernel namespace")
            }
        }
        if value.contains('\0') {
            bail!("config.json: linux.sysctl: value of {key:?} contains a NUL byte");
        }
    }
    Ok(())
}

/// /proc/sys of the procfs at `proc` (a directory fd), which must really
/// be a procfs: a bind mount or tmpfs there would make the writes land
/// somewhere else.
pub fn open_dir(proc: BorrowedFd) -> Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let dir = crate::sys::openat2(proc, c"sys", flags.bits(), NO_LINKS)
        .ctx(|| "linux.sysctl: open /proc/sys")?;
    let fs = nix::sys::statfs::fstatfs(&dir).ctx(|| "linux.sysctl: statfs /proc/sys")?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        bail!("linux.sysctl: the container's /proc/sys is not a procfs");
    }
    Ok(dir)
}

const NO_LINKS: u64 = crate::sys::RESOLVE_BENEATH | crate::sys::RESOLVE_NO_SYMLINKS;

/// Write every validated key below `sys` (see [`open_dir`]). Run in the
/// container's namespaces: /proc/sys/net, /proc/sys/kernel's ipc and uts
/// files show the writer's own namespaces.
pub fn apply(spec: &Spec, sys: BorrowedFd) -> Result<()> {
    use std::io::Write;
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for (key, value) in sysctl {
        let what = || format!("linux.sysctl: write {key}={value}");
        let rel = CString::new(key.replace('.', "/")).map_err(|_| Error::new(what()))?;
        let flags = OFlag::O_WRONLY | OFlag::O_TRUNC;
        let fd = crate::sys::openat2(sys, &rel, flags.bits(), NO_LINKS).ctx(what)?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .ctx(what)?;
    }
    Ok(())
}

/// Write linux.sysctl through the procfs mounted at `proc` inside `root`.
pub fn apply_in(spec: &Spec, root: BorrowedFd, proc: &Path) -> Result<()> {
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .is_none_or(|s| s.is_empty())
    {
        return Ok(());
    }
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let proc = crate::rootfs::path::open(root, proc, flags)
        .ctx(|| "linux.sysctl: the container has no /proc to write through")?;
    let sys = open_dir(proc.as_fd())?;
    apply(spec, sys.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_part_by_part() {
        assert!(check_name("net.ipv4.ip_forward").is_ok());
        assert!(check_name("net.ipv4.conf.eth-0.forwarding").is_ok());
        for bad in [
            "",
            "/tmp/x",
            "net..x",
            ".net",
            "net.",
            "net/ipv4",
            "net.ipv4.../x",
            "kernel.a b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_namespaced_keys_have_a_namespace() {
        use LinuxNamespaceType::*;
        assert_eq!(namespace_of("kernel.shmmax"), Some(Ipc));
        assert_eq!(namespace_of("fs.mqueue.msg_max"), Some(Ipc));
        assert_eq!(namespace_of("net.core.somaxconn"), Some(Network));
        assert_eq!(namespace_of("kernel.domainname"), Some(Uts));
        assert_eq!(namespace_of("vm.swappiness"), None);
        assert_eq!(namespace_of("fs.lease-break-time"), None);
        assert_eq!(namespace_of("kernel.shmmaxx"), None);
    }
}
