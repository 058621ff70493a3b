//! `delete`: remove a stopped container (a live one only with --force).

use crate::bail;
use crate::error::Result;
use crate::state::{self, StateDir, Status};
use std::os::fd::AsFd;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    state::validate_id(id)?;
    let path = root.join(id);
    if !path.join(state::STATE_FILE).exists() {
        // A create that died before its first record leaves a dir without
        // state.json, and had made nothing else yet. One at work holds the
        // lock: wait for it.
        if force && path.is_dir() {
            let dir = StateDir::lock_existing(root, id)?;
            if !path.join(state::STATE_FILE).exists() {
                return dir.remove();
            }
            drop(dir);
            return delete(root, id, force);
        }
        if force {
            return Ok(());
        }
        bail!("container {id:?} does not exist");
    }
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    crate::log::debug(|| format!("delete {id}: pid {}, force {force}", st.pid));
    let status = super::status(&dir.path, &st);
    if status != Status::Stopped && !force {
        bail!(
            "cannot delete container {id} that is not stopped: {}",
            status.as_str()
        );
    }
    if force {
        // A frozen task cannot act on SIGKILL (cgroup v1).
        if let Some(cgroup) = &st.cgroup {
            let _ = cgroup.thaw();
        }
        if status != Status::Stopped
            && let Ok(pidfd) = crate::sys::pidfd_open(st.pid)
            && st.alive()
        {
            let _ = crate::sys::pidfd_send_signal(pidfd.as_fd(), nix::libc::SIGKILL);
            let _ = crate::sys::pidfd_wait_exit(pidfd.as_fd(), 10_000);
        }
        // Without a pid namespace, processes can outlive the init.
        if let Some(cgroup) = &st.cgroup {
            cgroup.kill_all(nix::libc::SIGKILL)?;
        }
    }
    if let Some(cgroup) = &st.cgroup {
        cgroup.destroy()?;
    }
    let poststop = st.hooks.as_ref().and_then(|h| h.poststop().clone());
    dir.remove()?;
    if poststop.as_ref().is_some_and(|h| !h.is_empty()) {
        let json = super::state::to_json(&st, Status::Stopped).to_string();
        // A failing poststop hook only warns: the container is gone already.
        crate::hooks::run_all_warn("poststop", poststop.as_ref(), &json);
    }
    Ok(())
}
