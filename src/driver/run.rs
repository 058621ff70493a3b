//! The driver's run: bundle, create, network, start, `on_start(pid)`,
//! wait, delete, remove the bundle. Whatever was made is undone when a
//! later step fails (the guards' `Drop`).

use super::network::{self, HostVeth, Plan};
use super::{Command, Driver, ExitStatus, Pipes, RunOptions, Stdio};
use crate::bail;
use crate::container::create::{self, Console, CreateOptions, Created};
use crate::error::{Context, Result};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use crate::container::run::FORWARDED;

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
    let console = if cmd.tty {
        let pair = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "console socketpair")?;
        Some(pair)
    } else {
        None
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
    let tty = match console {
        Some((ours, theirs)) => {
            drop(theirs);
            let master = recv_master(ours.as_fd())?;
            let tty = Tty::new(master, pipes)?;
            tty.set_size(opts.console_size);
            Some(tty)
        }
        None => {
            // Our copies would keep the caller's readers from seeing EOF.
            drop(pipes);
            None
        }
    };
    live.veth = network::setup(&plan, live.created.pid)?;
    let forwarding = if opts.forward_signals {
        Some(Forwarding::start(tty.is_some())?)
    } else {
        None
    };
    crate::container::start::start(&driver.state_root, &cmd.id)?;
    let pid = live.created.pid;
    if let Some(f) = &opts.pid_file {
        create::write_pid_file(f, pid)?;
    }
    on_start(pid);
    let status = match &tty {
        Some(tty) => tty.relay(&live.created, forwarding.as_ref()),
        None => wait(&live.created, forwarding.as_ref()),
    };
    live.reaped = status.is_ok();
    let status = status?;
    drop(forwarding);
    live.finish()?;
    bundle.remove()?;
    Ok(status)
}

/// The pty master the init sent (it has by the time create returns).
fn recv_master(sock: BorrowedFd) -> Result<OwnedFd> {
    let flags = nix::fcntl::fcntl(sock, nix::fcntl::FcntlArg::F_GETFL).ctx(|| "console socket")?;
    let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(sock, nix::fcntl::FcntlArg::F_SETFL(flags)).ctx(|| "console socket")?;
    crate::console::recv_fd(sock).map_err(|e| crate::error::Error::new(format!("tty: {e}")))
}

/// The pty master and the Pipes it is relayed to.
struct Tty {
    master: OwnedFd,
    input: Option<RawFd>,
    output: Option<RawFd>,
    /// Keeps the Pipes' fds open while we relay.
    _pipes: Pipes,
}

impl Tty {
    fn new(master: OwnedFd, mut pipes: Pipes) -> Result<Tty> {
        // stderr is the pty too: a reader of the stderr pipe sees EOF now.
        pipes.stderr = Stdio::Inherit;
        let fd = |s: &Stdio, ours: RawFd| match s {
            Stdio::Inherit => Some(ours),
            Stdio::Null => None,
            Stdio::Fd(fd) => Some(fd.as_raw_fd()),
        };
        let input = fd(&pipes.stdin, 0);
        let output = fd(&pipes.stdout, 1);
        // Reads after the container exited must not block.
        let flags = nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_GETFL).ctx(|| "pty")?;
        let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
        nix::fcntl::fcntl(&master, nix::fcntl::FcntlArg::F_SETFL(flags)).ctx(|| "pty")?;
        Ok(Tty {
            master,
            input,
            output,
            _pipes: pipes,
        })
    }

    /// `size` (rows, cols), else the size of the terminal we relay from.
    fn set_size(&self, size: Option<(u16, u16)>) {
        let size = size.or_else(|| self.input.and_then(winsize));
        if let Some((rows, cols)) = size {
            let _ = crate::console::set_size(self.master.as_fd(), rows, cols);
        }
    }

    /// Relay until the container exits, then drain its last output.
    fn relay(&self, created: &Created, fwd: Option<&Forwarding>) -> Result<ExitStatus> {
        let mut buf = [0u8; 8192];
        let mut input = self.input;
        let mut master_open = true;
        let master = self.master.as_raw_fd();
        loop {
            let watch = |fd: Option<RawFd>| libc::pollfd {
                fd: fd.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            };
            let mut fds = [
                watch(Some(created.pidfd.as_raw_fd())),
                watch(master_open.then_some(master)),
                watch(input),
                watch(fwd.map(|f| f.sfd.as_fd().as_raw_fd())),
            ];
            // SAFETY: valid pollfds (negative fds are ignored).
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    e => return Err(e).ctx(|| "poll tty"),
                }
            }
            if fds[1].revents != 0 {
                master_open = self.copy_out(&mut buf) != Pty::Closed;
            }
            if fds[2].revents != 0 {
                // SAFETY: the fd is kept open by the Pipes we hold.
                let from = unsafe { BorrowedFd::borrow_raw(input.unwrap_or(-1)) };
                match nix::unistd::read(from, &mut buf) {
                    Ok(0) | Err(_) => input = None,
                    Ok(n) => write_all(master, &buf[..n]),
                }
            }
            if let Some(f) = fwd
                && fds[3].revents != 0
            {
                for sig in f.read() {
                    if sig == Signal::SIGWINCH as i32 {
                        self.set_size(None);
                    } else {
                        let _ = crate::sys::pidfd_send_signal(created.pidfd.as_fd(), sig);
                    }
                }
            }
            if fds[0].revents != 0 {
                // What it wrote last is still in the pty: drain it.
                while master_open && self.copy_out(&mut buf) == Pty::Data {}
                return reap(created.pid);
            }
        }
    }

    /// Copy what the master has to the output.
    fn copy_out(&self, buf: &mut [u8]) -> Pty {
        match nix::unistd::read(&self.master, buf) {
            Ok(0) => Pty::Closed,
            Ok(n) => {
                if let Some(out) = self.output {
                    write_all(out, &buf[..n]);
                }
                Pty::Data
            }
            Err(Errno::EINTR | Errno::EAGAIN) => Pty::Empty,
            // EIO: every fd of the slave is closed.
            Err(_) => Pty::Closed,
        }
    }
}

#[derive(PartialEq, Eq)]
enum Pty {
    Data,
    Empty,
    Closed,
}

/// (rows, cols) of the terminal `fd`, if it is one.
fn winsize(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain integers, for which zero is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let r = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    // SAFETY: the caller keeps `fd` open.
    let to = unsafe { BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        match nix::unistd::write(to, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 1000) };
            }
            // The reader went away: the rest is lost, as with a closed pipe.
            Err(_) => return,
        }
    }
}

/// Wait for the init through its pidfd, forwarding signals meanwhile.
fn wait(created: &Created, fwd: Option<&Forwarding>) -> Result<ExitStatus> {
    let pidfd = created.pidfd.as_raw_fd();
    loop {
        let mut fds = vec![libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        }];
        if let Some(f) = fwd {
            fds.push(libc::pollfd {
                fd: f.sfd.as_fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        // SAFETY: valid pollfds for the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(e).ctx(|| "wait for container"),
            }
        }
        if let Some(f) = fwd
            && fds[1].revents != 0
        {
            for sig in f.read() {
                let _ = crate::sys::pidfd_send_signal(created.pidfd.as_fd(), sig);
            }
        }
        if fds[0].revents != 0 {
            return reap(created.pid);
        }
    }
}

fn reap(pid: i32) -> Result<ExitStatus> {
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signaled(sig as i32)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).ctx(|| "wait for container"),
        }
    }
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

/// Forwarded signals are blocked in this thread and read from a signalfd
/// while the container runs; the old mask comes back on drop.
struct Forwarding {
    sfd: SignalFd,
    old: SigSet,
}

impl Forwarding {
    /// Call after create: the init copies our mask when it is cloned.
    /// With a tty, SIGWINCH is caught too (to resize the pty).
    fn start(winch: bool) -> Result<Forwarding> {
        let mut mask = SigSet::empty();
        for s in FORWARDED {
            mask.add(*s);
        }
        if winch {
            mask.add(Signal::SIGWINCH);
        }
        let mut old = SigSet::empty();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old))
            .ctx(|| "block signals")?;
        let flags =
            nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK;
        let sfd = SignalFd::with_flags(&mask, flags).ctx(|| "signalfd")?;
        Ok(Forwarding { sfd, old })
    }

    /// The signals received since the last call.
    fn read(&self) -> Vec<i32> {
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.sfd.read_signal() {
            out.push(info.ssi_signo as i32);
        }
        out
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}
