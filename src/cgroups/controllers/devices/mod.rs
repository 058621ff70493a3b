//! devices: `linux.resources.devices`, evaluated like runc from deny-all
//! with its default allow list appended; written as v1 allow/deny lines or
//! as a v2 BPF program.

use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};

use super::{Controller, Dir, Locate, Unified};
use crate::cgroups::files::{field_error, write_held};
use crate::error::Result;

pub mod bpf;
pub mod rules;

use rules::Rule;
pub use rules::default_device_rules;

pub const CONTROLLER: Controller = Controller {
    name: "devices",
    // Device programs attach to any cgroup2 directory.
    v2: Unified::Builtin(|mount, _| {
        let fs = nix::sys::statfs::statfs(mount);
        fs.is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
    }),
    set: Some(set),
    stats: None,
    feature: false,
};

/// A container created without rules gets just the defaults, where the
/// host has the controller; an update without rules leaves them alone.
fn set(r: &LinuxResources, update: bool, at: &dyn Locate) -> Result<()> {
    // Rootless without the host's root, neither devices.deny nor a device
    // program may be set (both need CAP_SYS_ADMIN there): the user
    // namespace and the nodes bound from the host bound access, as runc.
    if crate::rootless::cgroups() && !crate::rootless::host_root() {
        return Ok(());
    }
    let Some((rules, explicit)) = effective_rules(r, update)? else {
        return Ok(());
    };
    let dir = match explicit {
        true => Some(at.require(FIELD)?),
        false => at.find(),
    };
    match dir {
        Some(Dir::V1(dir)) => set_v1(dir, &rules),
        Some(Dir::V2(dir)) => bpf::apply(dir, &rules),
        None => Ok(()),
    }
}

const FIELD: &str = "linux.resources.devices";

/// The rules in force, in order: deny-all, the config's, the defaults;
/// and whether the config had rules of its own. None for an update that
/// leaves the rules alone.
pub fn effective_rules(r: &LinuxResources, update: bool) -> Result<Option<(Vec<Rule>, bool)>> {
    // An empty list must not reset a running container to the defaults.
    let devices = r.devices().as_deref().filter(|d| !(update && d.is_empty()));
    let explicit = devices.is_some();
    if !explicit && update {
        return Ok(None);
    }
    let mut rules = rules::parse(&[LinuxDeviceCgroup::default()], "implicit deny-all")?;
    rules.extend(rules::parse(devices.unwrap_or_default(), FIELD)?);
    rules.extend(rules::parse(
        &default_device_rules(),
        "default device rule",
    )?);
    Ok(Some((rules, explicit)))
}

/// Each rule one write(2) (the kernel takes one per write) to
/// devices.allow or devices.deny, each file opened once.
fn set_v1(dir: &Path, rules: &[Rule]) -> Result<()> {
    let (mut allow, mut deny) = (None, None);
    for r in rules {
        let (file, held) = match r.allow {
            true => ("devices.allow", &mut allow),
            false => ("devices.deny", &mut deny),
        };
        let line = r.v1_line();
        write_held(held, dir, file, &line)
            .map_err(|e| field_error(dir, file, &line, &r.field, e))?;
    }
    Ok(())
}
