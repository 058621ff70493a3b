//! rdma: `linux.resources.rdma`, the same rdma.max lines on v1 and v2.

use oci_spec::runtime::LinuxResources;

use super::{Controller, Locate, Unified};
use crate::bail;
use crate::cgroups::files::write;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "rdma",
    v2: Unified::Listed("rdma"),
    set: Some(set),
    stats: None,
    feature: true,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(rdma) = r.rdma().as_ref().filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    let dir = at.require("linux.resources.rdma")?.path();
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by_key(|(name, _)| *name);
    for (name, l) in devices {
        let field = format!("linux.resources.rdma[{name}]");
        let mut line = name.clone();
        if let Some(h) = l.hca_handles() {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            line += &format!(" hca_object={o}");
        }
        if l.hca_handles().is_none() && l.hca_objects().is_none() {
            bail!("{field}: needs hcaHandles or hcaObjects");
        }
        write(dir, "rdma.max", &line, &field)?;
    }
    Ok(())
}
