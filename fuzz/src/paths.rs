//! Container IDs (they name a directory of the state root) and paths
//! inside the rootfs (resolved against a tree of symlinks the input
//! builds): nothing may land outside the state root or the rootfs.

use hull::rootfs::path::{self, Kind};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// An image's /etc/passwd and /etc/group for the driver target.
pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\nweb:x:33:33::/:/bin/false\n";
pub const GROUP: &str = "root:x:0:\nuser:x:1000:\nwheel:x:10:user,web\nwww:x:33:\n";

/// `<tmp>/hull-fuzz-paths-<pid>/`: the rootfs `root`, a sibling
/// `outside` that must stay empty, and the state root `state`.
fn work() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hull-fuzz-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["root", "outside", "state"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::canonicalize(dir).unwrap()
    })
}

/// Lines: a container ID; then `NAME -> TARGET` (a symlink in the
/// rootfs) or `NAME/` (a directory), NAME one plain name; the last line
/// a path to create (`f` first for a file, anything else for a
/// directory) and then open inside the rootfs.
pub fn paths(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.split('\n').collect();
    let work = work();
    ids(lines[0], &work.join("state"));
    if lines.len() < 2 {
        return;
    }
    let root = work.join("root");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir(&root).unwrap();
    for line in &lines[1..lines.len() - 1] {
        let (name, target) = match line.split_once(" -> ") {
            Some((n, t)) => (n, Some(t)),
            None => (line.strip_suffix('/').unwrap_or(line), None),
        };
        // Only the rootfs's own entries are made here: one plain name.
        if name.is_empty() || name.contains(['/', '\0']) || name == "." || name == ".." {
            continue;
        }
        let _ = match target {
            Some(t) if !t.contains('\0') => std::os::unix::fs::symlink(t, root.join(name)),
            Some(_) => continue,
            None => std::fs::create_dir(root.join(name)),
        };
    }
    let last = lines[lines.len() - 1];
    let (kind, want) = match last.strip_prefix('f') {
        Some(rest) => (Kind::File, rest),
        None => (Kind::Dir, last.get(1..).unwrap_or("")),
    };
    if want.contains('\0') {
        return;
    }
    let rootfd = path::open_root(&root).unwrap();
    if let Ok(fd) = path::create(rootfd.as_fd(), Path::new(want), kind) {
        inside(&root, fd.as_raw_fd(), want);
    }
    let flags = nix::fcntl::OFlag::O_PATH;
    if let Ok(fd) = path::open(rootfd.as_fd(), Path::new(want), flags) {
        inside(&root, fd.as_raw_fd(), want);
    }
    let outside = std::fs::read_dir(work.join("outside")).unwrap().count();
    assert_eq!(outside, 0, "{want:?}: created outside the rootfs");
    let mut names: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["outside", "root", "state"],
        "{want:?}: created beside the rootfs"
    );
}

/// The fd is open on something inside `root`.
fn inside(root: &Path, fd: i32, want: &str) {
    let real = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
    assert!(
        real.starts_with(root),
        "{want:?} opened {real:?}, outside the rootfs"
    );
}

/// An accepted ID names one directory right below the state root.
fn ids(id: &str, state: &Path) {
    let Ok(()) = hull::state::validate_id(id) else {
        return;
    };
    let dir = state.join(id);
    assert_eq!(dir.parent(), Some(state), "{id:?}");
    assert_eq!(dir.file_name().and_then(|n| n.to_str()), Some(id), "{id:?}");
    let made = hull::state::StateDir::create(state, id)
        .unwrap_or_else(|e| panic!("{id:?}: a valid ID is refused: {e}"));
    assert_eq!(made.path, dir);
    made.remove().unwrap();
    assert_eq!(std::fs::read_dir(state).unwrap().count(), 0);
}
