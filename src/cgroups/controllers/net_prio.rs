//! net_prio: `linux.resources.network.priorities`, cgroup v1 only.

use oci_spec::runtime::LinuxResources;

use super::{Controller, Locate, Unified};
use crate::cgroups::files::write;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "net_prio",
    v2: Unified::Absent,
    set: Some(set),
    stats: None,
    feature: false,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(prios) = r
        .network()
        .as_ref()
        .and_then(|n| n.priorities().as_deref())
        .filter(|p| !p.is_empty())
    else {
        return Ok(());
    };
    let dir = at.require("linux.resources.network.priorities")?.path();
    for p in prios {
        let field = format!("linux.resources.network.priorities[{}]", p.name());
        write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
            &field,
        )?;
    }
    Ok(())
}
