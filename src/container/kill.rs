//! `kill`: signal the init through a pidfd, so a reused pid is never hit.

use crate::bail;
use crate::error::{Context, Result};
use crate::state::{State, StateDir};
use std::os::fd::AsFd;
use std::path::Path;

/// Signal the init, or with `all` every process in the container's cgroup.
pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    match (&st.cgroup, all) {
        // Signal 0 is a liveness probe (engines send it): of the init; with
        // --all, nothing to signal is success, as with runc.
        (_, true) if signal == 0 => Ok(()),
        _ if signal == 0 => signal_init(&st, 0),
        (Some(cgroup), true) => {
            // Nothing left to signal is success, as with runc.
            cgroup.kill_all(signal)
        }
        (None, true) => bail!("kill --all: container {id:?} has no cgroup"),
        _ => signal_init(&st, signal),
    }
}

/// Open a pidfd, then check it is still our init (pid and start time):
/// from then on the pidfd cannot name another process.
pub fn signal_init(st: &State, signal: i32) -> Result<()> {
    let pidfd = match crate::sys::pidfd_open(st.pid) {
        Ok(fd) if st.alive() => fd,
        _ => bail!("container not running"),
    };
    crate::sys::pidfd_send_signal(pidfd.as_fd(), signal)
        .ctx(|| format!("kill container {:?}", st.id))
}

/// Parse `TERM`, `SIGTERM`, `15` (case-insensitive names); 0 checks that
/// the container runs without signalling it.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {s:?}");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    match name.parse::<nix::sys::signal::Signal>() {
        Ok(sig) => Ok(sig as i32),
        Err(_) => bail!("invalid signal {s:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_signal;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("hup").unwrap(), 1);
        assert_eq!(parse_signal("10").unwrap(), 10);
        assert!(parse_signal("BOGUS").is_err());
        assert_eq!(parse_signal("0").unwrap(), 0);
        assert!(parse_signal("65").is_err());
    }
}
