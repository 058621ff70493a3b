//! Paths inside the rootfs, resolved by the kernel with RESOLVE_IN_ROOT so
//! that no symlink (nor `..`) can lead out of it, even if the rootfs is
//! changed while hull works (CVE-2021-30465). Callers act on the returned
//! fd (or on /proc/self/fd/N), never on the path again.

use crate::error::{Context, Result};
use crate::sys::{self, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::collections::VecDeque;
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Open the rootfs itself; every lookup below is relative to this fd.
pub fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("open rootfs {}", rootfs.display()))
}

/// The path as a relative one, `..` and `.` kept for the kernel to clamp.
fn relative(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::Prefix(_)))
        .collect()
}

fn cstr(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

/// Open `path` inside `root` (O_PATH unless `flags` says otherwise).
pub fn open(root: BorrowedFd, path: &Path, flags: OFlag) -> std::result::Result<OwnedFd, Errno> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    sys::openat2(
        root,
        &cstr(&rel),
        flags.bits(),
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// Open the directory `path` inside `root` when no component of it is a
/// symlink (ELOOP otherwise, ENOTDIR when it is no directory).
pub fn open_plain_dir(root: BorrowedFd, path: &Path) -> std::result::Result<OwnedFd, Errno> {
    let rel = relative(path);
    sys::openat2(
        root,
        &cstr(&rel),
        (OFlag::O_PATH | OFlag::O_DIRECTORY).bits(),
        RESOLVE_IN_ROOT | sys::RESOLVE_NO_SYMLINKS,
    )
}

/// What to create at the end of a path that does not exist yet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// Open `path` inside `root`, creating missing directories (0755) and,
/// for `Kind::File`, an empty file at the end. A dangling symlink on the
/// way is followed inside the root and its target created there, as
/// runc's MkdirAllInRoot does. Returns an O_PATH fd.
pub fn create(root: BorrowedFd, path: &Path, kind: Kind) -> Result<OwnedFd> {
    let mut todo: VecDeque<OsString> = relative(path).iter().map(OsString::from).collect();
    let mut sofar = PathBuf::new();
    let mut current =
        open(root, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY).ctx(|| "open rootfs")?;
    let mut links = 0;
    while let Some(part) = todo.pop_front() {
        let last = todo.is_empty();
        let next = sofar.join(&part);
        let file = last && kind == Kind::File;
        let want = if file {
            OFlag::O_PATH
        } else {
            OFlag::O_PATH | OFlag::O_DIRECTORY
        };
        match open(root, &next, want) {
            Ok(fd) => current = fd,
            Err(Errno::ENOENT) => {
                // A dangling symlink, or nothing: only these two answers
                // tell which (EINVAL: not a symlink).
                let link = match nix::fcntl::readlinkat(current.as_fd(), part.as_os_str()) {
                    Ok(target) => Some(target),
                    Err(Errno::EINVAL | Errno::ENOENT) => None,
                    Err(e) => return Err(e).ctx(|| format!("readlink {}", next.display())),
                };
                if let Some(target) = link {
                    links += 1;
                    if links > 40 {
                        return Err(Errno::ELOOP).ctx(|| format!("open {}", path.display()));
                    }
                    let target = PathBuf::from(target);
                    if target.is_absolute() {
                        sofar = PathBuf::new();
                        current = open(root, Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)
                            .ctx(|| "open rootfs")?;
                    }
                    let mut expanded: VecDeque<OsString> =
                        relative(&target).iter().map(OsString::from).collect();
                    expanded.extend(todo);
                    todo = expanded;
                    continue;
                }
                let name = cstr(Path::new(&part));
                if file {
                    let flags =
                        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
                    let fd = nix::fcntl::openat(
                        current.as_fd(),
                        name.as_c_str(),
                        flags,
                        Mode::from_bits_truncate(0o644),
                    );
                    drop(fd.ctx(|| format!("create {}", path.display()))?);
                } else {
                    match nix::sys::stat::mkdirat(
                        current.as_fd(),
                        name.as_c_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(e).ctx(|| format!("mkdir {}", next.display())),
                    }
                }
                current = open(root, &next, want).ctx(|| format!("open {}", next.display()))?;
            }
            Err(e) => return Err(e).ctx(|| format!("open {}", next.display())),
        }
        sofar = next;
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hull-path-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn real(fd: &OwnedFd) -> PathBuf {
        std::fs::read_link(sys::fd_path(std::os::fd::AsRawFd::as_raw_fd(fd))).unwrap()
    }

    #[test]
    fn symlinks_stay_inside() {
        let d = tmpdir("sym");
        let root = d.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/etc", root.join("escape")).unwrap();
        symlink("../../../..", root.join("up")).unwrap();
        let r = open_root(&root).unwrap();
        let fd = open(r.as_fd(), Path::new("/escape"), OFlag::O_PATH).unwrap();
        assert_eq!(real(&fd), root.join("etc"));
        let fd = open(r.as_fd(), Path::new("/up/etc"), OFlag::O_PATH).unwrap();
        assert_eq!(real(&fd), root.join("etc"));
        let fd = open(r.as_fd(), Path::new("/../../etc"), OFlag::O_PATH).unwrap();
        assert_eq!(real(&fd), root.join("etc"));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn create_dirs_and_file_through_symlink() {
        let d = tmpdir("create");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        symlink("/", root.join("abs")).unwrap();
        let r = open_root(&root).unwrap();
        let fd = create(r.as_fd(), Path::new("/abs/a/b"), Kind::Dir).unwrap();
        assert_eq!(real(&fd), root.join("a/b"));
        let fd = create(r.as_fd(), Path::new("/abs/etc/hosts"), Kind::File).unwrap();
        assert_eq!(real(&fd), root.join("etc/hosts"));
        assert!(root.join("etc/hosts").is_file());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn dangling_symlink_target_is_created_inside() {
        let d = tmpdir("dangling");
        let root = d.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let outside = d.join("outside");
        symlink(&outside, root.join("escape")).unwrap();
        symlink("rel/x", root.join("relative")).unwrap();
        let r = open_root(&root).unwrap();
        let fd = create(r.as_fd(), Path::new("/escape/sub"), Kind::Dir).unwrap();
        assert_eq!(
            real(&fd),
            root.join(outside.strip_prefix("/").unwrap()).join("sub")
        );
        assert!(!outside.exists(), "created outside the rootfs");
        let fd = create(r.as_fd(), Path::new("/relative/f"), Kind::File).unwrap();
        assert_eq!(real(&fd), root.join("rel/x/f"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
