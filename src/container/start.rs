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
    match super::status(&dir.path, &st) {
        Status::Created => {}
        Status::Stopped => bail!("cannot start a container that has stopped"),
        Status::Paused => bail!("cannot start a container in the paused state"),
        Status::Creating => bail!("cannot start a container that is still being created"),
        _ => bail!("cannot start an already running container"),
    }
    let pidfd = crate::sys::pidfd_open(st.pid).ctx(|| "open container init")?;
    let fifo = nix::fcntl::open(
        &dir.fifo(),
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo")?;
    crate::log::debug(|| format!("start {id}: releasing pid {}", st.pid));
    wait_released(&fifo, &pidfd)?;
    crate::log::debug(|| format!("start {id}: the init executed the process"));
    std::fs::remove_file(dir.fifo()).ctx(|| "remove exec fifo")?;
    let poststart = st.hooks.as_ref().and_then(|h| h.poststart().as_ref());
    if poststart.is_some_and(|h| !h.is_empty()) {
        let json = super::state::to_json_status(&st, "running").to_string();
        let env = crate::hooks::DefaultEnv::Runtime;
        if let Err(e) = crate::hooks::run_all("poststart", poststart, &json, env) {
            // Spec v1.3: a failing poststart hook stops the container.
            let _ = crate::sys::pidfd_send_signal(std::os::fd::AsFd::as_fd(&pidfd), libc::SIGKILL);
            return Err(e);
        }
    }
    Ok(())
}

/// Wait for the init's byte on the fifo, then for the end of file: its
/// write end is close-on-exec, so the init has executed the container's
/// program (or died) when it comes. runc reads the fifo to its end too, and
/// poststart hooks must run after that exec. The init dying before its
/// byte is an error.
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
    let mut released = false;
    let mut why = Vec::new();
    loop {
        // Once released, only the fifo's end matters.
        let n_fds = if released { 1 } else { 2 };
        // SAFETY: valid pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), n_fds, -1) };
        if n < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(e).ctx(|| "wait for container init");
        }
        if fds[0].revents != 0 {
            let mut b = [0u8; 512];
            match nix::unistd::read(fifo, &mut b) {
                Ok(0) if released && why.is_empty() => return Ok(()),
                // The init's error after its byte: a startContainer hook or
                // the exec failed.
                Ok(0) if released => bail!("{}", String::from_utf8_lossy(&why)),
                Ok(0) => bail!("container init exited before start"),
                Ok(n) if released => why.extend_from_slice(&b[..n]),
                Ok(n) => {
                    released = true;
                    why.extend_from_slice(&b[1..n]);
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e).ctx(|| "read exec fifo"),
            }
        }
        if !released && fds[1].revents != 0 {
            bail!("container init exited before start");
        }
    }
}
