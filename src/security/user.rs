//! process.user: groups, gid, uid, umask; and HOME from the container's
//! /etc/passwd when the config does not set it (as runc does).

use crate::bail;
use crate::error::{Context, Result};
use oci_spec::runtime::User;

pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    use crate::sys::{setgroups_thread, setresgid_thread, setresuid_thread};
    let groups = user.additional_gids().as_deref().unwrap_or_default();
    if setgroups_allowed {
        setgroups_thread(groups).ctx(|| "setgroups (process.user.additionalGids)")?;
    } else if !groups.is_empty() {
        // Denied where an unprivileged user mapped its own gid.
        bail!(
            "process.user.additionalGids: setgroups is denied in this user namespace (a gid map written without newgidmap)"
        );
    }
    let (uid, gid) = (user.uid(), user.gid());
    setresgid_thread(gid).ctx(|| format!("setgid {gid} (process.user.gid)"))?;
    setresuid_thread(uid).ctx(|| format!("setuid {uid} (process.user.uid)"))?;
    Ok(())
}

pub fn umask(user: &User) {
    let mask = user.umask().unwrap_or(0o022);
    // umask(2) cannot fail; nix's wrapper panics if the old mask it returns
    // is not a mode (as a fault injection makes it), so call it directly.
    // SAFETY: plain syscall on an integer.
    unsafe { nix::libc::umask(mask as nix::libc::mode_t) };
}

/// HOME of `uid` in the (already pivoted-to) /etc/passwd, else "/".
pub fn home_of(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
            })
        })
        .unwrap_or_else(|| "/".to_string())
}
