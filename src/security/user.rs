//! process.user: groups, gid, uid, umask; and HOME from the container's
//! /etc/passwd when the config does not set it (as runc does).

use crate::error::{Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).ctx(|| "setgroups (process.user.additionalGids)")?;
    }
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    nix::unistd::setresgid(gid, gid, gid).ctx(|| format!("setgid {gid} (process.user.gid)"))?;
    nix::unistd::setresuid(uid, uid, uid).ctx(|| format!("setuid {uid} (process.user.uid)"))?;
    Ok(())
}

pub fn umask(user: &User) {
    let mask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
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
