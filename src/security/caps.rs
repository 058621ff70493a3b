//! process.capabilities with the `caps` crate, applied around the uid
//! switch so a non-root user keeps exactly the sets asked for.

use crate::error::{Error, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// The capabilities hull can apply here: the ones it knows that this
/// kernel knows too (others are skipped by [`to_set`]), by number.
pub fn supported() -> Vec<Capability> {
    let last = last_cap();
    let mut all: Vec<Capability> = caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .collect();
    all.sort_by_key(|c| c.index());
    all
}

/// Highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Translate an OCI set; capabilities this kernel lacks are skipped with a
/// warning, as runc does.
fn to_set(set: &Option<Capabilities>, last: u8) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    for cap in set.iter().flatten() {
        match format!("CAP_{cap}").parse::<Capability>() {
            Ok(c) if c.index() <= last => {
                out.insert(c);
            }
            _ => crate::log::warn(&format!(
                "capability CAP_{cap} is not known to this kernel, skipped"
            )),
        }
    }
    out
}

fn err(what: &str, e: caps::errors::CapsError) -> Error {
    Error::new(format!("capabilities: {what}: {e}"))
}

/// Before the uid switch: shrink the bounding set and keep the permitted
/// set across setuid.
pub fn before_user(caps: &LinuxCapabilities) -> Result<()> {
    let last = last_cap();
    let bounding = to_set(caps.bounding(), last);
    for c in caps::all() {
        if c.index() <= last && !bounding.contains(&c) {
            caps::drop(None, CapSet::Bounding, c).map_err(|e| err("drop from bounding set", e))?;
        }
    }
    nix::sys::prctl::set_keepcaps(true)
        .map_err(|e| Error::new(format!("capabilities: keepcaps: {}", Error::from(e))))
}

/// After the uid switch: the exact permitted, effective, inheritable and
/// ambient sets.
pub fn after_user(caps: &LinuxCapabilities) -> Result<()> {
    let last = last_cap();
    nix::sys::prctl::set_keepcaps(false)
        .map_err(|e| Error::new(format!("capabilities: keepcaps: {}", Error::from(e))))?;
    let permitted = to_set(caps.permitted(), last);
    let effective = to_set(caps.effective(), last);
    let inheritable = to_set(caps.inheritable(), last);
    // Effective first widened to permitted so the other sets can still be written.
    caps::set(None, CapSet::Effective, &permitted).map_err(|e| err("set effective", e))?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(|e| err("set inheritable", e))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(|e| err("set permitted", e))?;
    caps::set(None, CapSet::Effective, &effective).map_err(|e| err("set effective", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear ambient", e))?;
    // The kernel only lets a capability be ambient if it is permitted and
    // inheritable; runc skips the others, and so do we (logged with --debug).
    for c in to_set(caps.ambient(), last) {
        if permitted.contains(&c) && inheritable.contains(&c) {
            caps::raise(None, CapSet::Ambient, c)
                .map_err(|e| err(&format!("raise ambient {c}"), e))?;
        } else {
            crate::log::debug(|| {
                format!("ambient capability {c} skipped: not in the permitted and inheritable sets")
            });
        }
    }
    Ok(())
}
