//! net_cls: `linux.resources.network.classID`, cgroup v1 only.

use oci_spec::runtime::LinuxResources;

use super::{Controller, Locate, Unified, nonzero};
use crate::cgroups::files::write;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "net_cls",
    v2: Unified::Absent,
    set: Some(set),
    stats: None,
    feature: false,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(class_id) = r.network().as_ref().and_then(|n| nonzero(n.class_id())) else {
        return Ok(());
    };
    let field = "linux.resources.network.classID";
    let dir = at.require(field)?.path();
    write(dir, "net_cls.classid", &class_id.to_string(), field)
}
