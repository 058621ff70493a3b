//! The driver's run: bundle, create, network, start, `on_start(pid)`,
//! wait, delete, remove the bundle. Whatever was made is undone when a
//! later step fails (the guards' `Drop`).

use super::network::{self, HostVeth, Plan};
use super::{Command, Driver, ExitStatus, Pipes, RunOptions, Stdio};
use crate::bail;
use crate::container::create::{self, Console, CreateOptions, Created};
use crate::error::{Context, Result};
use crate::foreground::{self, Signals, Tty};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

pub(super) fn run(
    driver: &Driver,
    cmd: &Command,
    pipes: Pipes,
    opts: &RunOptions,
    on_start: impl FnOnce(i32),
) -> Result<ExitStatus> {
    // Everything that can refuse the Command does so before anything exists.
    let spec = driver.to_spec(cmd)?;
    let plan = Plan::of(cmd.network.as_ref())?;
    plan.check()?;

    let bundle = BundleDir::reserve(&driver.root, &cmd.id, &driver.state_root)?;
    super::write_config(&spec, &bundle.path)?;
    // With a tty the init sends us the pty master over this pair.
    let console = match cmd.tty {
        true => Some(foreground::console_pair()?),
        false => None,
    };
    let created = {
        // Without a tty the init takes the Pipes' fds as its stdio.
        let null = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| "open /dev/null")?;
        let fd_of = |target: RawFd, s: &Stdio| match s {
            Stdio::Inherit => target,
            Stdio::Null => null.as_raw_fd(),
            Stdio::Fd(fd) => fd.as_raw_fd(),
        };
        let opts = CreateOptions {
            bundle: bundle.path.clone(),
            console: match &console {
                Some((_, theirs)) => Console::Fd(theirs.as_raw_fd()),
                None => Console::None,
            },
            stdio: (!cmd.tty).then(|| {
                [
                    fd_of(0, &pipes.stdin),
                    fd_of(1, &pipes.stdout),
                    fd_of(2, &pipes.stderr),
                ]
            }),
            ..Default::default()
        };
        create::create(&driver.state_root, &cmd.id, &opts)?
    };
    let mut live = Live {
        root: &driver.state_root,
        id: &cmd.id,
        created,
        reaped: false,
        veth: None,
    };
    // Kept open while we relay to them.
    let mut pipes = pipes;
    let tty = match console {
        Some((ours, theirs)) => {
            drop(theirs);
            let master = foreground::recv_master(ours.as_fd())?;
            // stderr is the pty too: a reader of the stderr pipe sees EOF now.
            pipes.stderr = Stdio::Inherit;
            let fd = |s: &Stdio, ours: RawFd| match s {
                Stdio::Inherit => Some(ours),
                Stdio::Null => None,
                Stdio::Fd(fd) => Some(fd.as_raw_fd()),
            };
            let (input, output) = (fd(&pipes.stdin, 0), fd(&pipes.stdout, 1));
            let tty = Tty::new(master, input, output, false)?;
            tty.set_size(opts.console_size);
            Some(tty)
        }
        None => {
            // Our copies would keep the caller's readers from seeing EOF.
            pipes = Pipes::null();
            None
        }
    };
    live.veth = network::setup(&plan, live.created.pid)?;
    let signals = match opts.forward_signals {
        true => Some(Signals::block(tty.is_some())?),
        false => None,
    };
    crate::container::start::start(&driver.state_root, &cmd.id)?;
    let pid = live.created.pid;
    if let Some(f) = &opts.pid_file {
        create::write_pid_file(f, pid)?;
    }
    on_start(pid);
    let status = foreground::wait(&live.created, tty.as_ref(), signals.as_ref());
    live.reaped = status.is_ok();
    let status = status?;
    drop((signals, tty, pipes));
    live.finish()?;
    bundle.remove()?;
    Ok(status)
}

/// A created container and what was set up for it; dropped before
/// `finish`, it kills, reaps and deletes everything.
struct Live<'a> {
    root: &'a Path,
    id: &'a str,
    created: Created,
    reaped: bool,
    veth: Option<HostVeth>,
}

impl Live<'_> {
    /// After the init was reaped: delete the container and its veth,
    /// reporting the first failure.
    fn finish(mut self) -> Result<()> {
        let deleted = crate::container::delete::delete(self.root, self.id, true);
        let veth = match self.veth.take() {
            Some(v) => v.remove(),
            None => Ok(()),
        };
        // Drop has nothing left to do.
        self.reaped = true;
        self.id = "";
        deleted.and(veth)
    }
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        if !self.reaped {
            crate::launch::kill_and_reap(&self.created);
        }
        let _ = crate::container::delete::delete(self.root, self.id, true);
        if let Some(v) = self.veth.take() {
            let _ = v.remove();
        }
    }
}

/// `<root>/<id>/`, removed on drop unless kept.
struct BundleDir {
    path: PathBuf,
    removed: bool,
}

impl BundleDir {
    /// Reserve the dir; one left by a run that crashed (no container of
    /// that ID exists) is replaced.
    fn reserve(root: &Path, id: &str, state_root: &Path) -> Result<BundleDir> {
        std::fs::create_dir_all(root).ctx(|| format!("create driver root {}", root.display()))?;
        let path = root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if state_root.join(id).exists() {
                    bail!("container {id:?} already exists");
                }
                std::fs::remove_dir_all(&path)
                    .ctx(|| format!("remove stale bundle {}", path.display()))?;
                std::fs::create_dir(&path).ctx(|| format!("create bundle {}", path.display()))?;
            }
            Err(e) => return Err(e).ctx(|| format!("create bundle {}", path.display())),
        }
        Ok(BundleDir {
            path,
            removed: false,
        })
    }

    fn remove(mut self) -> Result<()> {
        self.removed = true;
        std::fs::remove_dir_all(&self.path).ctx(|| format!("remove bundle {}", self.path.display()))
    }
}

impl Drop for BundleDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
