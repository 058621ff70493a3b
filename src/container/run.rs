//! `run`: create + start + wait + delete in one process that stays the
//! init's parent, forwarding signals and returning its exit status.

use super::create::{self, CreateOptions};
use crate::error::{Context, Result};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::AsFd;
use std::path::Path;

#[derive(Default, Clone)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
}

/// Signals a user sends to `hull run` that belong to the container.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Returns the exit status: the container's, 128+N if killed by signal N.
pub fn run(root: &Path, id: &str, opts: &RunOptions) -> Result<i32> {
    let created = create::create(root, id, &opts.create)?;
    if opts.detach {
        return start_or_cleanup(root, id, &created).map(|_| 0);
    }
    // Block before start so no signal is lost; the init's mask was copied
    // at clone time and stays unblocked.
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(*s);
    }
    mask.add(Signal::SIGCHLD);
    mask.thread_block().ctx(|| "block signals")?;
    let sfd = SignalFd::new(&mask).ctx(|| "signalfd")?;
    start_or_cleanup(root, id, &created)?;
    let code = loop {
        match waitpid(Pid::from_raw(created.pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => {}
            Err(e) => return Err(e).ctx(|| "wait for container"),
        }
        match sfd.read_signal() {
            Ok(Some(info)) if info.ssi_signo != Signal::SIGCHLD as u32 => {
                let _ = crate::sys::pidfd_send_signal(created.pidfd.as_fd(), info.ssi_signo as i32);
            }
            _ => {}
        }
    };
    if !opts.keep {
        super::delete::delete(root, id, true)?;
    }
    Ok(code)
}

fn start_or_cleanup(root: &Path, id: &str, created: &create::Created) -> Result<()> {
    super::start::start(root, id).inspect_err(|_| {
        create::kill_and_reap(created);
        let _ = super::delete::delete(root, id, true);
    })
}
