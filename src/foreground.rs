//! Running a process in the foreground until it exits, for `hull run`,
//! `hull exec` and the driver: the signals a user sends us forwarded to
//! it, its pty relayed to our side (our terminal, or the driver's pipes)
//! at the size of the terminal it is relayed from, and its exit status.

use crate::error::{Context, Error, Result};
use crate::launch::Child;
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The shell's view: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }

    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }
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

/// The forwarded signals (and SIGWINCH with a pty), blocked in this
/// thread and read from a signalfd; the old mask comes back on drop.
/// Taken before `start`, so none is lost; a child cloned earlier copied
/// the old mask.
pub struct Signals {
    sfd: SignalFd,
    old: SigSet,
}

impl Signals {
    pub fn block(winch: bool) -> Result<Signals> {
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
        let flags = SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK;
        let sfd = SignalFd::with_flags(&mask, flags).ctx(|| "signalfd")?;
        Ok(Signals { sfd, old })
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

impl Drop for Signals {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old), None);
    }
}

/// A pty master and where it is relayed: input (None: nothing to send)
/// and output (None: discarded). The caller keeps those fds open.
pub struct Tty {
    master: OwnedFd,
    input: Option<RawFd>,
    output: Option<RawFd>,
    /// Our terminal in raw mode while we relay it (`hull run`, `exec -t`).
    _raw: Option<crate::console::RawMode>,
}

impl Tty {
    /// With `raw`, an input that is a terminal is put in raw mode until
    /// drop: the container's pty does the line discipline.
    pub fn new(
        master: OwnedFd,
        input: Option<RawFd>,
        output: Option<RawFd>,
        raw: bool,
    ) -> Result<Tty> {
        // Reads after the process exited must not block.
        set_nonblocking(master.as_fd()).ctx(|| "pty")?;
        let _raw = input
            .filter(|_| raw)
            .and_then(crate::console::RawMode::enter);
        Ok(Tty {
            master,
            input,
            output,
            _raw,
        })
    }

    /// `size` (rows, cols), else the size of the terminal we relay from.
    pub fn set_size(&self, size: Option<(u16, u16)>) {
        let size = size.or_else(|| self.input.and_then(crate::console::get_size));
        if let Some((rows, cols)) = size {
            let _ = crate::console::set_size(self.master.as_fd(), rows, cols);
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

/// A socket pair on which a process in the foreground sends us its pty
/// master (ours, then the end it gets as its console socket).
pub fn console_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "console socketpair")
}

/// The pty master the process sent on our end of [`console_pair`] (it
/// has by the time create or exec returns); never waits.
pub fn recv_master(sock: BorrowedFd) -> Result<OwnedFd> {
    set_nonblocking(sock).ctx(|| "console socket")?;
    crate::console::recv_fd(sock).map_err(|e| Error::new(format!("tty: {e}")))
}

fn set_nonblocking(fd: BorrowedFd) -> std::result::Result<(), Errno> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags)).map(drop)
}

/// Relay the pty (if any) and forward signals (if taken) until our child
/// exits, drain its last output, then reap it.
pub fn wait(child: &Child, tty: Option<&Tty>, signals: Option<&Signals>) -> Result<ExitStatus> {
    let mut buf = [0u8; 8192];
    let mut input = tty.and_then(|t| t.input);
    let mut master_open = tty.is_some();
    let watch = |fd: Option<RawFd>| libc::pollfd {
        fd: fd.unwrap_or(-1),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let mut fds = [
            watch(Some(child.pidfd.as_raw_fd())),
            watch(tty.filter(|_| master_open).map(|t| t.master.as_raw_fd())),
            watch(input),
            watch(signals.map(|s| s.sfd.as_fd().as_raw_fd())),
        ];
        // SAFETY: valid pollfds (negative fds are ignored).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                e => return Err(e).ctx(|| "wait for container"),
            }
        }
        if let Some(t) = tty {
            if fds[1].revents != 0 {
                master_open = t.copy_out(&mut buf) != Pty::Closed;
            }
            if fds[2].revents != 0 {
                // SAFETY: the caller keeps the input open.
                let from = unsafe { BorrowedFd::borrow_raw(input.unwrap_or(-1)) };
                match nix::unistd::read(from, &mut buf) {
                    Ok(0) | Err(_) => input = None,
                    Ok(n) => write_all(t.master.as_raw_fd(), &buf[..n]),
                }
            }
        }
        if let Some(s) = signals
            && fds[3].revents != 0
        {
            for sig in s.read() {
                match tty {
                    Some(t) if sig == Signal::SIGWINCH as i32 => t.set_size(None),
                    _ => {
                        let _ = crate::sys::pidfd_send_signal(child.pidfd.as_fd(), sig);
                    }
                }
            }
        }
        if fds[0].revents != 0 {
            // What it wrote last is still in the pty: drain it.
            while let Some(t) = tty.filter(|_| master_open) {
                if t.copy_out(&mut buf) != Pty::Data {
                    break;
                }
            }
            return reap(child);
        }
    }
}

/// Our child's exit status, through its pidfd.
fn reap(child: &Child) -> Result<ExitStatus> {
    loop {
        match waitid(Id::PIDFd(child.pidfd.as_fd()), WaitPidFlag::WEXITED) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(ExitStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(ExitStatus::Signaled(sig as i32)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e).ctx(|| "wait for container"),
        }
    }
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
