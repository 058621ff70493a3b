//! `start`: release the init blocked on the exec fifo.

use crate::bail;
use crate::error::{Context, Result};
use crate::state::{StateDir, Status};
use nix::fcntl::OFlag;
use nix::libc;
use nix::sys::stat::Mode;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    match super::status(&dir, &st) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Paused => bail!("cannot start a container in the paused state"),
        _ => bail!("cannot start an already running container"),
    }
    let pidfd = crate::sys::pidfd_open(st.pid).ctx(|| "open container init")?;
    let fifo = nix::fcntl::open(
        &dir.fifo(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo")?;
    wait_released(&fifo, &pidfd)?;
    std::fs::remove_file(dir.fifo()).ctx(|| "remove exec fifo")?;
    let poststart = st.hooks.as_ref().and_then(|h| h.poststart().as_ref());
    if poststart.is_some_and(|h| !h.is_empty()) {
        let json = super::state::to_json_status(&st, "running").to_string();
        if let Err(e) = crate::hooks::run_all("poststart", poststart, &json) {
            // Spec v1.3: a failing poststart hook stops the container.
            let _ = crate::sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&pidfd), libc::SIGKILL);
            return Err(e);
        }
    }
    Ok(())
}

/// Wait for the init's byte on the fifo, or for the init to die first.
fn wait_released(fifo: &OwnedFd, pidfd: &OwnedFd) -> Result<()> {
    let mut fds = [
        libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: two valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(e).ctx(|| "wait for container init");
        }
        if fds[0].revents & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            if nix::unistd::read(fifo, &mut b) == Ok(1) {
                return Ok(());
            }
        }
        if fds[1].revents != 0 {
            bail!("container init exited before start");
        }
    }
}
