//! Starting a process that runs hull's own code until it execs (a
//! container's init, an exec'd process): the clone, the two ends of the
//! sync channel, and the parent's side of the setup, for create and exec.
//!
//! A raw clone3 copies only the calling thread, and skips libc's fork
//! handlers: in a threaded caller (an engine using hull as a library) a
//! lock another thread held at that instant (malloc's, stdio's) stays held
//! in the child, which then waits for it forever. So where other threads
//! exist, a helper is forked first with fork(3), whose handlers leave those
//! locks usable; the helper, alone in its process, clones with
//! CLONE_PARENT (the child stays the caller's own, to wait for), does the
//! parent's side, reports the outcome and exits.

use crate::error::{Context, Error, Result};
use crate::sync::Channel;
use crate::sys::{self, Forked};
use nix::libc;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// A process we cloned, which is our child.
pub struct Child {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// Born in the cgroup2 directory [`launch`] was given.
    pub in_cgroup: bool,
}

/// Why a launch failed, and the child if one was cloned: the caller may
/// ask how it died before [`kill_and_reap`].
pub struct Failed {
    pub error: Error,
    pub child: Option<Child>,
}

/// Clone a child that runs `in_child` with its end of `chans` (never
/// returning), and run `in_parent` with the other end until the child is
/// set up. Whatever the parent side's closures hold is dropped in the
/// caller once the child exists (or in both, with a helper). `cgroup`: a
/// cgroup2 directory for the child to be born in, if the kernel can (see
/// [`sys::clone3`]; not through a helper, which is not the fast path).
pub fn launch(
    what: &str,
    flags: u64,
    cgroup: Option<BorrowedFd>,
    chans: (Channel, Channel),
    in_child: impl FnOnce(Channel) -> Infallible,
    in_parent: impl FnOnce(&Child, &Channel) -> Result<()>,
) -> std::result::Result<Child, Failed> {
    if sys::is_single_threaded() {
        return launch_here(what, flags, cgroup, chans, in_child, in_parent);
    }
    let failed = |error| Failed { error, child: None };
    let (ours, helpers) = report_pair().map_err(failed)?;
    // SAFETY: fork(3) runs the registered fork handlers; the helper only
    // runs hull's code and leaves by _exit.
    match unsafe { libc::fork() } {
        -1 => Err(nix::errno::Errno::last())
            .ctx(|| format!("fork to {what}"))
            .map_err(failed),
        0 => {
            drop(ours);
            let flags = flags | libc::CLONE_PARENT as u64;
            let outcome = launch_here(what, flags, None, chans, in_child, in_parent);
            report(helpers.as_fd(), &outcome);
            // SAFETY: the helper ends here, running none of the caller's
            // exit handlers or destructors.
            unsafe { libc::_exit(0) }
        }
        helper => {
            // Our copies of the channel would hide the child's end of file
            // from the helper; our closures' captures go too.
            drop((helpers, chans, in_child, in_parent));
            let outcome = receive(ours.as_fd());
            sys::reap(helper);
            outcome
        }
    }
}

fn launch_here(
    what: &str,
    flags: u64,
    cgroup: Option<BorrowedFd>,
    (parent_end, child_end): (Channel, Channel),
    in_child: impl FnOnce(Channel) -> Infallible,
    in_parent: impl FnOnce(&Child, &Channel) -> Result<()>,
) -> std::result::Result<Child, Failed> {
    let child = match sys::clone3(flags, cgroup).ctx(|| what) {
        Err(error) => return Err(Failed { error, child: None }),
        Ok(Forked::Child) => {
            drop(parent_end);
            // Uninhabited: the compiler already knows this never returns.
            #[allow(unreachable_code)]
            match in_child(child_end) {}
        }
        Ok(Forked::Parent {
            pid,
            pidfd,
            in_cgroup,
        }) => Child {
            pid,
            pidfd,
            in_cgroup,
        },
    };
    // What only the child needed (its end, a console socket) is closed here.
    drop((child_end, in_child));
    match in_parent(&child, &parent_end) {
        Ok(()) => Ok(child),
        Err(error) => Err(Failed {
            error,
            child: Some(child),
        }),
    }
}

fn report_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair")
}

/// The helper's one message: "ok PID" or "error PID|- TEXT", with the
/// child's pidfd when there is a child.
fn report(to: std::os::fd::BorrowedFd, outcome: &std::result::Result<Child, Failed>) {
    let (text, child) = match outcome {
        Ok(c) => (format!("ok {}", c.pid), Some(c)),
        Err(f) => {
            let pid = f
                .child
                .as_ref()
                .map_or("-".to_string(), |c| c.pid.to_string());
            (format!("error {pid} {}", f.error), f.child.as_ref())
        }
    };
    let _ = match child {
        Some(c) => sys::send_fd(to, c.pidfd.as_fd(), &text),
        None => nix::sys::socket::send(
            to.as_raw_fd(),
            text.as_bytes(),
            nix::sys::socket::MsgFlags::empty(),
        )
        .map(drop)
        .ctx(|| "send"),
    };
}

fn receive(from: std::os::fd::BorrowedFd) -> std::result::Result<Child, Failed> {
    let lost = || Failed {
        error: Error::new("launch helper died before it reported"),
        child: None,
    };
    let (pidfd, text) = sys::recv_fd_payload(from).map_err(|_| lost())?;
    let text = String::from_utf8_lossy(&text);
    let mut words = text.splitn(3, ' ');
    let (verdict, pid, rest) = (words.next(), words.next(), words.next());
    let child = match (pid.and_then(|p| p.parse().ok()), pidfd) {
        (Some(pid), Some(pidfd)) => Some(Child {
            pid,
            pidfd,
            in_cgroup: false,
        }),
        _ => None,
    };
    match (verdict, child) {
        (Some("ok"), Some(child)) => Ok(child),
        (Some("error"), child) => Err(Failed {
            error: Error::new(rest.unwrap_or_default()),
            child,
        }),
        _ => Err(lost()),
    }
}

/// SIGKILL our child and reap it, through its pidfd (never a pid that
/// may have been reused).
pub fn kill_and_reap(c: &Child) {
    use nix::sys::wait::{Id, WaitPidFlag, waitid};
    let _ = sys::pidfd_send_signal(c.pidfd.as_fd(), libc::SIGKILL);
    let _ = waitid(Id::PIDFd(c.pidfd.as_fd()), WaitPidFlag::WEXITED);
}
