//! `run`: create + start + wait + delete in one process that stays the
//! init's parent, forwarding signals and returning its exit status. With
//! process.terminal and no console socket, hull owns the pty and relays
//! between its own stdio and the container.

use super::create::{self, Console, CreateOptions};
use crate::error::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

#[derive(Default, Clone)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
    /// In the foreground, adopt the container's orphans (runc's default;
    /// they matter without a pid namespace of its own).
    pub subreaper: bool,
}

/// Signals a user sends to `hull run` (or the driver) that belong to the
/// container. SIGWINCH is the terminal's: handled apart.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Returns the exit status: the container's, 128+N if killed by signal N.
pub fn run(root: &Path, id: &str, opts: &RunOptions) -> Result<i32> {
    let mut create_opts = opts.create.clone();
    // In the foreground without a console socket we take the pty master
    // ourselves; the init only sends it if the config asks for a terminal.
    let relay = if matches!(create_opts.console, Console::None) && !opts.detach {
        let (ours, theirs) = console_pair()?;
        create_opts.console = Console::Fd(theirs.as_raw_fd());
        Some((ours, theirs))
    } else {
        None
    };
    if opts.subreaper && !opts.detach {
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "prctl child subreaper")?;
    }
    let created = create::create(root, id, &create_opts)?;
    let master = relay.and_then(|(ours, theirs)| {
        drop(theirs);
        recv_nonblocking(ours.as_fd())
    });
    let running = if opts.detach {
        super::start::start(root, id).map(|_| 0)
    } else {
        foreground(root, id, &created, master)
    };
    // Whatever failed after create, nothing of the container stays.
    let code = running.inspect_err(|_| {
        crate::launch::kill_and_reap(&created);
        let _ = super::delete::delete(root, id, true);
    })?;
    if !opts.detach && !opts.keep {
        super::delete::delete(root, id, true)?;
    }
    Ok(code)
}

/// Start the created container and wait for it, forwarding signals and
/// relaying its terminal when we hold the pty master.
fn foreground(
    root: &Path,
    id: &str,
    created: &create::Created,
    master: Option<OwnedFd>,
) -> Result<i32> {
    // Before start so no signal is lost; the init's mask was copied at
    // clone time and stays unblocked.
    let fg = Foreground::enter(master.as_ref())?;
    super::start::start(root, id)?;
    fg.wait(master, created)
}

/// Our side of a process in the foreground (`hull run`, `hull exec`):
/// the signals we forward blocked and read from a signalfd, and, with a
/// pty, our terminal raw and the pty's size ours.
pub(super) struct Foreground {
    sfd: SignalFd,
    _raw: Option<crate::console::RawMode>,
}

impl Foreground {
    pub(super) fn enter(master: Option<&OwnedFd>) -> Result<Foreground> {
        let mut mask = SigSet::empty();
        for s in FORWARDED {
            mask.add(*s);
        }
        mask.add(Signal::SIGWINCH);
        mask.add(Signal::SIGCHLD);
        mask.thread_block().ctx(|| "block signals")?;
        let sfd = SignalFd::new(&mask).ctx(|| "signalfd")?;
        // Our terminal's size and raw mode before the process's first byte.
        let _raw = master.and_then(|m| {
            crate::console::copy_size(m.as_fd());
            crate::console::RawMode::enter(0)
        });
        Ok(Foreground { sfd, _raw })
    }

    /// Relay the pty (if any) and forward signals until the process
    /// exits; its exit status, 128+N for signal N.
    pub(super) fn wait(self, master: Option<OwnedFd>, created: &create::Created) -> Result<i32> {
        match master {
            Some(master) => relay_terminal(&master, &self.sfd, created),
            None => wait_forwarding(&self.sfd, created),
        }
    }
}

/// A socket pair on which a process in the foreground sends us its pty
/// master (ours, then the end it gets as its console socket).
pub(super) fn console_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "console socketpair")
}

/// The pty master, if the process sent one (it has by the time create or
/// exec returns).
pub(super) fn recv_nonblocking(sock: BorrowedFd) -> Option<OwnedFd> {
    let flags = nix::fcntl::fcntl(sock, nix::fcntl::FcntlArg::F_GETFL).ok()?;
    let flags = nix::fcntl::OFlag::from_bits_retain(flags) | nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(sock, nix::fcntl::FcntlArg::F_SETFL(flags)).ok()?;
    crate::console::recv_fd(sock).ok()
}

fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn wait_forwarding(sfd: &SignalFd, created: &create::Created) -> Result<i32> {
    loop {
        match waitpid(Pid::from_raw(created.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(e) => return Err(e).ctx(|| "wait for container"),
        }
        if let Ok(Some(info)) = sfd.read_signal()
            && info.ssi_signo != Signal::SIGCHLD as u32
        {
            let _ = crate::sys::pidfd_send_signal(created.pidfd.as_fd(), info.ssi_signo as i32);
        }
    }
}

/// Relay until the pty hangs up, then reap.
fn relay_terminal(master: &OwnedFd, sfd: &SignalFd, created: &create::Created) -> Result<i32> {
    crate::console::relay(master.as_fd(), 0, 1, sfd.as_raw_fd(), || {
        if let Ok(Some(info)) = sfd.read_signal() {
            match info.ssi_signo as i32 {
                s if s == Signal::SIGWINCH as i32 => crate::console::copy_size(master.as_fd()),
                s if s == Signal::SIGCHLD as i32 => {}
                s => {
                    let _ = crate::sys::pidfd_send_signal(created.pidfd.as_fd(), s);
                }
            }
        }
        false
    })?;
    loop {
        let status = waitpid(Pid::from_raw(created.pid), None).ctx(|| "wait for container")?;
        if let Some(code) = exit_code(status) {
            return Ok(code);
        }
    }
}
