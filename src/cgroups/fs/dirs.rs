//! The container's cgroup directories: made, joined, listed, removed.

use std::io::ErrorKind;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::cgroups::files::{errno, read_opt, write_raw};
use crate::error::{Context, Error, Result, errno_text};

/// Move `pid` into the cgroup `dir`.
pub fn add_pid(dir: &Path, pid: i32) -> Result<()> {
    write_raw(dir, "cgroup.procs", &pid.to_string()).map_err(|e| {
        Error::new(format!(
            "add pid {pid} to cgroup {}: {}",
            dir.display(),
            errno_text(e)
        ))
    })
}

/// The `tasks` files of the container's v1 directories, opened by the
/// parent for the child it clones to move itself in (see [`SelfJoin::join`]).
#[derive(Default)]
pub struct SelfJoin(Vec<(OwnedFd, PathBuf)>);

impl SelfJoin {
    /// Open `tasks` in each of `dirs` for writing.
    pub fn open<'a>(dirs: impl Iterator<Item = &'a Path>) -> Result<SelfJoin> {
        let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        let open = |dir: &Path| {
            let fd = nix::fcntl::open(&dir.join("tasks"), flags, Mode::empty()).map_err(|e| {
                Error::new(format!("open cgroup {}: {}", dir.display(), errno_text(e)))
            })?;
            Ok((fd, dir.to_path_buf()))
        };
        dirs.map(open).collect::<Result<_>>().map(SelfJoin)
    }

    /// In the cloned child, still single-threaded, before it runs any of
    /// the container's code: move ourselves in. "0" written to `tasks`
    /// moves the calling thread under the cgroup mutex alone, where a pid
    /// written to cgroup.procs takes the global threadgroup lock for
    /// writing, which waits for an RCU grace period whenever no other
    /// migration came just before (5-10 ms on a v1 host, every other
    /// create). The open-time credentials are the parent's: the same
    /// permission as its own write.
    pub fn join(&self) -> Result<()> {
        for (fd, dir) in &self.0 {
            nix::unistd::write(fd, b"0").map_err(|e| {
                Error::new(format!("join cgroup {}: {}", dir.display(), errno_text(e)))
            })?;
        }
        Ok(())
    }
}

/// Every pid in `dir`'s cgroup.procs and its sub-cgroups'; a missing
/// cgroup has none.
pub fn procs(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = Vec::new();
    let Some(text) = read_opt(dir, "cgroup.procs")? else {
        return Ok(pids);
    };
    pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    for sub in sub_cgroups(dir)? {
        pids.extend(procs(&sub)?);
    }
    Ok(pids)
}

fn sub_cgroups(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.ctx(|| format!("read {}", dir.display()))?,
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e.ctx(|| format!("read {}", dir.display()))?;
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            dirs.push(e.path());
        }
    }
    Ok(dirs)
}

/// mkdir -p for cgroup directories.
pub fn mkdir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).ctx(|| format!("create cgroup {}", dir.display()))
}

/// rmdir `dir` and its sub-cgroups, children first. A cgroup stays busy
/// for a moment after its last process was killed, so EBUSY (and a
/// transient EIO, EINTR, EAGAIN) is retried for about a second. A missing
/// directory is fine. Sub-cgroups are looked for only once a first rmdir
/// has failed: most containers make none, and the walk costs an open and
/// two reads per hierarchy.
pub fn remove(dir: &Path) -> Result<()> {
    if matches!(
        std::fs::remove_dir(dir).map_err(errno),
        Ok(()) | Err(Errno::ENOENT)
    ) {
        return Ok(());
    }
    for sub in sub_cgroups(dir)? {
        remove(&sub)?;
    }
    let mut delay = Duration::from_millis(1);
    loop {
        match std::fs::remove_dir(dir).map_err(errno) {
            Ok(()) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EBUSY | Errno::EIO | Errno::EINTR | Errno::EAGAIN)
                if delay < Duration::from_millis(600) =>
            {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(e) => {
                let msg = format!("remove cgroup {}: {}", dir.display(), errno_text(e));
                return Err(Error::new(msg));
            }
        }
    }
}
