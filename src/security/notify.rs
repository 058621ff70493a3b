//! SCMP_ACT_NOTIFY: the seccomp listener fd goes to the agent at
//! `linux.seccomp.listenerPath`, with the container process state
//! (config-linux.md), one connection per process.

use crate::bail;
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use serde_json::{Value, json};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

/// Checked before anything is created.
pub fn validate(profile: &LinuxSeccomp, uses_notify: bool) -> Result<()> {
    if uses_notify && profile.listener_path().is_none() {
        bail!("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY");
    }
    if profile.listener_metadata().is_some() && profile.listener_path().is_none() {
        bail!("linux.seccomp.listenerMetadata: set without listenerPath");
    }
    // The runtime itself writes (errors, the sync channel) after the
    // filter is loaded: an agent holding `write` could deadlock it (runc
    // refuses the same).
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    }
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        if rule.action() == LinuxSeccompAction::ScmpActNotify
            && rule.names().iter().any(|n| n == "write")
        {
            bail!(
                "linux.seccomp.syscalls[{i}]: SCMP_ACT_NOTIFY cannot be used for the write syscall"
            );
        }
    }
    Ok(())
}

pub fn send_listener(
    profile: &LinuxSeccomp,
    listener: OwnedFd,
    pid: i32,
    state: Value,
) -> Result<()> {
    let Some(path) = profile.listener_path() else {
        bail!("linux.seccomp.listenerPath: missing")
    };
    // runc's words for an agent not listening, which its tests match.
    let failed = |what: &str, e: Error| {
        let detail = format!("{what} seccomp agent at {}: {e}", path.display());
        Error::at("linux.seccomp.listenerPath", detail)
    };
    let sock = UnixStream::connect(path).map_err(|e| failed("failed to connect with", e.into()))?;
    let msg = json!({
        "ociVersion": crate::container::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": profile.listener_metadata().clone().unwrap_or_default(),
        "state": state,
    });
    crate::sys::send_fd(sock.as_fd(), listener.as_fd(), &msg.to_string())
        .map_err(|e| failed("failed to send the listener to the", e))
}
