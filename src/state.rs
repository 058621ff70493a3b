//! The state directory `<root>/<id>/`: `state.json` (written atomically),
//! the exec fifo, and a lock on the directory itself so that commands on
//! one ID serialise.

use crate::bail;
use crate::error::{Context, Error, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/run/hull";
pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// What hull keeps about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (/proc/PID/stat field
    /// 22): a pid alone can be reused.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::Cgroup>,
    /// The config's hooks, kept for delete (poststop), when the bundle may be gone.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Set while `create` runs: what it has made so far is recorded (the
    /// cgroup, then the init's pid), so a create killed half-way leaves a
    /// container that `list` shows and `delete --force` removes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub creating: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `create` is still at work on it.
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The longest ID: it is a directory's name (and a cgroup's).
pub const MAX_ID: usize = 255;

/// IDs become directory names: letters, digits and `_ . -`, never a path.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        bail!("invalid container id {id:?}: use letters, digits, '_', '.', '-' (at most {MAX_ID})");
    }
    Ok(())
}

/// A container's state without taking its lock (`state`, `list`): the
/// file is replaced atomically, so it is always whole, and a command
/// holding the lock (a create at work) does not block the readers.
pub fn read(root: &Path, id: &str) -> Result<State> {
    validate_id(id)?;
    read_file(&root.join(id), id)
}

fn read_file(dir: &Path, id: &str) -> Result<State> {
    let file = dir.join(STATE_FILE);
    let text = std::fs::read(&file).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::new(format!("container {id:?} does not exist")),
        _ => Error::new(format!("read {}: {}", file.display(), Error::from(e))),
    })?;
    parse(&text).map_err(|e| Error::new(format!("{}: {e}", file.display())))
}

/// A state.json's bytes (the fuzz target's entry point).
pub fn parse(text: &[u8]) -> std::result::Result<State, String> {
    crate::config::check_depth(text)?;
    serde_json::from_slice(text).map_err(|e| e.to_string())
}

/// An open, locked state dir of one container. The lock is an flock on
/// the directory, released when the fd closes (no unlock call that could
/// fail); the init of a create must not inherit it (see [`StateDir::lock_fd`]).
pub struct StateDir {
    pub path: PathBuf,
    pub id: String,
    lock: File,
}

/// Longest a command waits for another one working on the same container.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl StateDir {
    /// Reserve a new state dir: fails if the ID exists.
    pub fn create(root: &Path, id: &str) -> Result<StateDir> {
        validate_id(id)?;
        std::fs::create_dir_all(root).ctx(|| format!("create state root {}", root.display()))?;
        let path = root.join(id);
        match nix::unistd::mkdir(&path, Mode::from_bits_truncate(0o711)) {
            Ok(()) => {}
            Err(nix::errno::Errno::EEXIST) => bail!("container {id:?} already exists"),
            Err(e) => return Err(e).ctx(|| format!("create {}", path.display())),
        }
        Self::lock(path, id)
    }

    /// Open and lock an existing container's dir.
    pub fn open(root: &Path, id: &str) -> Result<StateDir> {
        validate_id(id)?;
        let path = root.join(id);
        if !path.join(STATE_FILE).exists() {
            bail!("container {id:?} does not exist");
        }
        Self::lock(path, id)
    }

    /// Lock a container's dir that may have no state.json yet.
    pub fn lock_existing(root: &Path, id: &str) -> Result<StateDir> {
        validate_id(id)?;
        Self::lock(root.join(id), id)
    }

    /// Take the directory's lock, waiting at most LOCK_WAIT for another
    /// command to finish with it.
    fn lock(path: PathBuf, id: &str) -> Result<StateDir> {
        use std::os::fd::AsRawFd;
        let dir = nix::fcntl::open(
            &path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("open {}", path.display()))?;
        let lock = File::from(dir);
        let start = std::time::Instant::now();
        let mut delay = std::time::Duration::from_millis(1);
        loop {
            // SAFETY: flock on an fd we own.
            let ret = unsafe {
                nix::libc::flock(lock.as_raw_fd(), nix::libc::LOCK_EX | nix::libc::LOCK_NB)
            };
            match nix::errno::Errno::result(ret) {
                Ok(_) => break,
                Err(nix::errno::Errno::EWOULDBLOCK) if start.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(std::time::Duration::from_millis(50));
                }
                Err(nix::errno::Errno::EWOULDBLOCK) => bail!(
                    "container {id:?} is locked by {} for more than {}s",
                    lock_holder(&lock),
                    LOCK_WAIT.as_secs()
                ),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).ctx(|| format!("lock {}", path.display())),
            }
        }
        Ok(StateDir {
            path,
            id: id.to_string(),
            lock,
        })
    }

    /// The lock's fd: a child cloned without exec shares it, and would hold
    /// the lock as long as it lives; it closes this first.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<State> {
        read_file(&self.path, &self.id)
    }

    /// Write state.json atomically (temp file, rename): readers that take
    /// no lock (`state`, `list`) see the old file or the new one, whole.
    /// No fsync: it names live processes and cgroups, which a host crash
    /// takes with it (and the state root is a tmpfs, /run, as a rule).
    pub fn save(&self, state: &State) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let file = self.path.join(STATE_FILE);
        let json = serde_json::to_vec(state).map_err(|e| Error::new(e.to_string()))?;
        let mut f = File::create(&tmp).ctx(|| format!("create {}", tmp.display()))?;
        f.write_all(&json)
            .ctx(|| format!("write {}", tmp.display()))?;
        std::fs::rename(&tmp, &file).ctx(|| format!("rename {}", file.display()))
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Remove the whole dir (the lock goes with it).
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path).ctx(|| format!("remove {}", self.path.display()))
    }
}

/// Who holds the flock on `file`, from /proc/locks: `process N (comm)`.
fn lock_holder(file: &File) -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = file.metadata() else {
        return "another process".into();
    };
    let (major, minor) = (
        nix::sys::stat::major(meta.dev()),
        nix::sys::stat::minor(meta.dev()),
    );
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    // `1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF`
    let pid = locks.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(1) == Some(&"FLOCK") && f.get(5) == Some(&want.as_str()))
            .then(|| f.get(4).map(|p| p.to_string()))
            .flatten()
    });
    match pid {
        Some(pid) => {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("process {pid} ({})", comm.trim())
        }
        None => "another process".into(),
    }
}

/// Start time of a process (clock ticks since boot), None if it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parens: fields follow the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split(' ');
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // starttime is field 22 overall, the 20th after the state.
    fields.nth(18)?.parse().ok()
}

impl State {
    /// Whether the recorded init still runs (same pid and same start time).
    pub fn alive(&self) -> bool {
        self.pid > 0 && process_start_time(self.pid) == Some(self.start_time)
    }
}

/// RFC 3339 UTC time with nanoseconds, without a date crate.
pub fn rfc3339_now(nanos: bool) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if nanos {
        format!(
            "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z",
            now.subsec_nanos()
        )
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(validate_id("web-1.a_b").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "ä"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        assert!(validate_id(&"a".repeat(255)).is_ok());
        assert!(validate_id(&"a".repeat(256)).is_err());
    }

    #[test]
    fn own_start_time() {
        let me = std::process::id() as i32;
        assert!(process_start_time(me).is_some());
        assert_eq!(process_start_time(me), process_start_time(me));
    }

    #[test]
    fn time_format() {
        let t = rfc3339_now(false);
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }
}
