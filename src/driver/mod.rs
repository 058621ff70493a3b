//! The driver: early Docker's execdriver front door on top of hull. A
//! [`Command`] (the JSON the Go struct marshalled) becomes an OCI bundle
//! under the driver's root (`<root>/<id>/config.json`, the rootfs used in
//! place), and [`run`] drives create, network, start, wait and delete
//! through hull's state directory, calling back with the container's pid
//! once its process runs and returning its exit status (128+N when killed
//! by signal N).
//!
//! With `tty`, the process gets a pty (allocated in the container's own
//! devpts by hull's init) and the driver relays its master to the
//! [`Pipes`]: stdin in, stdout out (stderr is the same pty); [`resize`]
//! changes its size.
//!
//! [`to_spec`] is the translation alone: it reads the host (the rootfs's
//! /etc/passwd and /etc/group, and for privileged Commands the
//! capabilities hull holds and the host's devices) but changes nothing.
//!
//! ```
//! use hull::driver::{self, Command};
//!
//! let cmd = Command::from_json(br#"{
//!     "id": "0123456789abcdef", "rootfs": "/", "entrypoint": "id", "arguments": ["-u"],
//!     "cap_drop": ["NET_RAW"], "resources": {"memory": 67108864}
//! }"#)?;
//! let spec = driver::to_spec(&cmd)?;
//! assert_eq!(spec.hostname().as_deref(), Some("0123456789ab"));
//! let process = spec.process().as_ref().unwrap();
//! assert_eq!(process.args().as_ref().unwrap(), &["id", "-u"]);
//! # Ok::<(), hull::Error>(())
//! ```
//!
//! Running one (as root, with a rootfs at that path):
//!
//! ```no_run
//! use hull::driver::{self, Command, Pipes};
//!
//! fn main() -> hull::Result<()> {
//!     let cmd = Command::from_file("schemas/examples/hello.json".as_ref())?;
//!     let status = driver::run(&cmd, Pipes::inherit(), |pid| eprintln!("running as pid {pid}"))?;
//!     println!("exit status {}", status.code());
//!     Ok(())
//! }
//! ```

mod caps;
mod command;
mod lxc;
pub mod netlink;
pub mod network;
mod run;
mod spec;
mod user;

pub use command::{Command, Device, Interface, Mount, Network, ParsedInterface, Resources};
pub use spec::{HostDevice, HostFacts, MASKED_PATHS, READONLY_PATHS, host_devices, translate};
pub use user::{ExecUser, UserDb};

use crate::error::{Context, Result};
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where bundles go by default: `<root>/<id>/`.
pub const DEFAULT_ROOT: &str = "/run/hull-driver";
/// Containers' cgroups are `<parent>/<id>` by default.
pub const DEFAULT_CGROUP_PARENT: &str = "/hull";

/// The driver's places: bundles, hull's state, cgroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    /// Bundles are written to `<root>/<id>/`.
    pub root: PathBuf,
    /// hull's state root (`hull --root`): where `hull state`/`list` see
    /// the driver's containers, and where `network.container_id` is looked up.
    pub state_root: PathBuf,
    /// `linux.cgroupsPath` is `<cgroup_parent>/<id>`.
    pub cgroup_parent: String,
}

impl Default for Driver {
    fn default() -> Driver {
        Driver {
            root: DEFAULT_ROOT.into(),
            state_root: crate::state::DEFAULT_ROOT.into(),
            cgroup_parent: DEFAULT_CGROUP_PARENT.into(),
        }
    }
}

/// One of the container's standard streams.
#[derive(Debug, Default)]
pub enum Stdio {
    /// The caller's own fd.
    #[default]
    Inherit,
    /// /dev/null
    Null,
    /// This fd (a pipe end, a file, a socket...).
    Fd(OwnedFd),
}

impl Stdio {
    pub fn fd(fd: impl Into<OwnedFd>) -> Stdio {
        Stdio::Fd(fd.into())
    }
}

/// The container's stdin, stdout and stderr. The driver closes its copies
/// once the container has them, so a reader sees EOF when the container
/// is done.
#[derive(Debug, Default)]
pub struct Pipes {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

impl Pipes {
    pub fn inherit() -> Pipes {
        Pipes::default()
    }

    pub fn null() -> Pipes {
        Pipes {
            stdin: Stdio::Null,
            stdout: Stdio::Null,
            stderr: Stdio::Null,
        }
    }

    pub fn new(stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Pipes {
        Pipes {
            stdin,
            stdout,
            stderr,
        }
    }
}

pub use crate::foreground::ExitStatus;

/// Extras of [`Driver::run_with`].
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Write the container's pid here (atomically) once it runs.
    pub pid_file: Option<PathBuf>,
    /// Forward SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1 and SIGUSR2 sent
    /// to the calling thread to the container (for a CLI in the
    /// foreground); with a tty, SIGWINCH resizes the pty to the size of
    /// the terminal on stdin.
    pub forward_signals: bool,
    /// With a tty: its first size (rows, cols); default the size of the
    /// terminal the stdin pipe is, if it is one.
    pub console_size: Option<(u16, u16)>,
}

/// Resize the tty of a running container whose process is `pid` (the
/// `on_start` argument): the size goes to the pty its stdin is, and the
/// kernel sends it SIGWINCH.
pub fn resize(pid: i32, rows: u16, cols: u16) -> Result<()> {
    use std::os::fd::AsFd;
    let path = format!("/proc/{pid}/fd/0");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(&path)
        .ctx(|| format!("resize: open {path}"))?;
    if !nix::unistd::isatty(f.as_fd()).unwrap_or(false) {
        crate::bail!("resize: the stdin of process {pid} is not a terminal");
    }
    crate::console::set_size(f.as_fd(), rows, cols)
}

impl Driver {
    /// The Command as an OCI config, checked against the host (see [`HostFacts`]).
    pub fn to_spec(&self, cmd: &Command) -> Result<Spec> {
        cmd.validate()?;
        let facts = HostFacts::gather(cmd, &self.state_root)?;
        translate(cmd, &facts, &self.cgroups_path(&cmd.id))
    }

    /// The cgroupsPath for a container.
    pub fn cgroups_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cgroup_parent.trim_end_matches('/'))
    }

    /// Only write the bundle (`<dir>/config.json`, the rootfs referenced
    /// by its absolute path), for any OCI runtime to run. The network
    /// `interface` is the driver's to set up and is not in it.
    pub fn write_bundle(&self, cmd: &Command, dir: &Path) -> Result<Spec> {
        let spec = self.to_spec(cmd)?;
        std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
        write_config(&spec, dir)?;
        Ok(spec)
    }

    /// Run the Command to its end; `on_start(pid)` is called once its
    /// process runs. Safe from any thread of a threaded program, several
    /// at once (see `crate::launch`); the container's process is a child
    /// of the caller's process while it runs.
    pub fn run(
        &self,
        cmd: &Command,
        pipes: Pipes,
        on_start: impl FnOnce(i32),
    ) -> Result<ExitStatus> {
        self.run_with(cmd, pipes, &RunOptions::default(), on_start)
    }

    pub fn run_with(
        &self,
        cmd: &Command,
        pipes: Pipes,
        opts: &RunOptions,
        on_start: impl FnOnce(i32),
    ) -> Result<ExitStatus> {
        run::run(self, cmd, pipes, opts, on_start)
    }
}

/// [`Driver::to_spec`] with the default places.
pub fn to_spec(cmd: &Command) -> Result<Spec> {
    Driver::default().to_spec(cmd)
}

/// [`Driver::run`] with the default places: bundles under
/// `/run/hull-driver`, state under `/run/hull`.
pub fn run(cmd: &Command, pipes: Pipes, on_start: impl FnOnce(i32)) -> Result<ExitStatus> {
    Driver::default().run(cmd, pipes, on_start)
}

/// `config.json` in `dir`, written atomically.
fn write_config(spec: &Spec, dir: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(spec)
        .map_err(|e| crate::error::Error::new(format!("serialize config: {e}")))?;
    let tmp = dir.join(".config.json.tmp");
    std::fs::write(&tmp, text + "\n").ctx(|| format!("write {}", tmp.display()))?;
    let path = dir.join("config.json");
    std::fs::rename(&tmp, &path).ctx(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests;
