//! Terminals: a pty allocated inside the container's devpts, made the
//! controlling terminal of the process, its master sent over the
//! `--console-socket` (runc's protocol: SCM_RIGHTS with the pty's name as
//! payload), and the relay `hull run` does when it owns the terminal.

use crate::error::{Context, Result};
use nix::libc;
use nix::sys::termios;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Connect to the engine's console socket (from the parent, before the
/// clone: the container cannot reach host paths).
pub fn connect(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).ctx(|| format!("connect console socket {}", path.display()))
}

/// In the container (its /dev/pts mounted): open a new pty, make its slave
/// our controlling terminal and stdio, send the master to `socket`.
/// /dev/console becomes the pty when `bind_console` (the container's init,
/// never an exec'd process, which must not take the init's console).
/// The pty is owned by `uid` (the process's user), its group left as
/// devpts gives it (`gid=5`: tty), as runc: programs that check their
/// terminal's owner (ssh, su, script) then work for a non-root user.
pub fn setup(
    socket: BorrowedFd,
    size: Option<(u16, u16)>,
    bind_console: bool,
    uid: u32,
) -> Result<()> {
    let master = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open /dev/ptmx")?;
    // SAFETY: ioctls on the fd we just opened.
    unsafe {
        let unlock: libc::c_int = 0;
        nix::errno::Errno::result(libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock))
            .ctx(|| "unlock pty")?;
    }
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int.
    nix::errno::Errno::result(unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) })
        .ctx(|| "pty number")?;
    let name = format!("/dev/pts/{n}");
    // TIOCGPTPEER opens the slave from the master: no path lookup to race.
    // SAFETY: returns a new fd we own.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    let slave = nix::errno::Errno::result(slave).ctx(|| "open pty slave")?;
    // SAFETY: fresh fd from the kernel.
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    if let Some((rows, cols)) = size {
        set_size(slave.as_fd(), rows, cols)?;
    }
    if uid != 0 {
        // SAFETY: fchown of the fd we just opened; gid -1 leaves it be.
        let r = unsafe { libc::fchown(slave.as_raw_fd(), uid, u32::MAX) };
        match nix::errno::Errno::result(r) {
            // An id not mapped in our user namespace: leave it as it is.
            Ok(_) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => {}
            Err(e) => return Err(e).ctx(|| format!("chown {name} to {uid}")),
        }
    }
    nix::unistd::setsid().ctx(|| "setsid")?;
    // SAFETY: make the slave our controlling terminal.
    nix::errno::Errno::result(unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) })
        .ctx(|| "set controlling terminal")?;
    for fd in 0..3 {
        // SAFETY: plain dup2 onto stdio.
        nix::errno::Errno::result(unsafe { libc::dup2(slave.as_raw_fd(), fd) })
            .ctx(|| "dup pty to stdio")?;
    }
    if bind_console {
        self::bind_console(&name)?;
    }
    send_fd(socket, master.as_fd(), &name)
}

/// /dev/console is the pty (runtime-linux.md), when /dev has room for it.
fn bind_console(pts: &str) -> Result<()> {
    let console = Path::new("/dev/console");
    if !console.exists() {
        std::fs::File::create(console).ctx(|| "create /dev/console")?;
    }
    nix::mount::mount(
        Some(pts),
        console,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| "bind /dev/console")
}

pub fn set_size(fd: BorrowedFd, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize.
    nix::errno::Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) })
        .map(drop)
        .ctx(|| "set window size")
}

pub fn get_size(fd: RawFd) -> Option<(u16, u16)> {
    // SAFETY: winsize is plain integers, for which zero is valid.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0).then_some((ws.ws_row, ws.ws_col))
}

pub use crate::sys::{recv_fd, send_fd};

/// Puts a terminal in raw mode and restores it when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: termios::Termios,
}

impl RawMode {
    pub fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: fd 0 stays open for our lifetime.
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let saved = termios::tcgetattr(bfd).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(bfd, termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: as in enter.
        let bfd = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(bfd, termios::SetArg::TCSANOW, &self.saved);
    }
}
