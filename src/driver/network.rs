//! The container's network, set up between create and start: loopback up
//! in a new namespace, and with an `interface` a veth pair whose peer is
//! the container's `eth0` (address, MTU, MAC, default route) and whose host
//! end is attached to a bridge or left up in the caller's namespace.

use super::command::{Network, ParsedInterface};
use super::netlink::Netlink;
use crate::bail;
use crate::error::{Context, Error, Result};
use std::os::fd::{AsFd, OwnedFd};

/// The name of the container's end.
pub const CONTAINER_IF: &str = "eth0";

/// What the driver does for a Command's `network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Host networking or another container's namespace: nothing.
    Shared,
    /// A new namespace: loopback up, and maybe one veth interface.
    Own {
        mtu: Option<u32>,
        interface: Option<ParsedInterface>,
    },
}

impl Plan {
    /// `network` must be valid.
    pub fn of(network: Option<&Network>) -> Result<Plan> {
        let Some(n) = network else {
            return Ok(Plan::Own {
                mtu: None,
                interface: None,
            });
        };
        if n.host_networking || !n.container_id.is_empty() {
            return Ok(Plan::Shared);
        }
        let interface = match &n.interface {
            Some(i) => Some(
                i.parse()
                    .map_err(|e| Error::new(format!("command: network.interface.{e}")))?,
            ),
            None => None,
        };
        Ok(Plan::Own {
            mtu: (n.mtu != 0).then_some(n.mtu),
            interface,
        })
    }

    /// Before anything is created: the bridge must exist here, as a bridge.
    pub fn check(&self) -> Result<()> {
        if let Plan::Own {
            interface:
                Some(ParsedInterface {
                    bridge: Some(bridge),
                    ..
                }),
            ..
        } = self
        {
            bridge_index(&mut Netlink::open()?, bridge)?;
        }
        Ok(())
    }
}

fn bridge_index(nl: &mut Netlink, bridge: &str) -> Result<i32> {
    match nl.link(bridge)? {
        Some(l) if l.kind.as_deref() == Some("bridge") => Ok(l.index),
        Some(_) => bail!("command: network.interface.bridge: {bridge:?} is not a bridge"),
        None => bail!(
            "command: network.interface.bridge: bridge {bridge:?} does not exist in this network namespace"
        ),
    }
}

/// The host end of a container's veth pair; `remove` deletes it (and with
/// it the container's end).
#[derive(Debug)]
pub struct HostVeth {
    pub name: String,
}

impl HostVeth {
    pub fn remove(&self) -> Result<()> {
        Netlink::open()?.del_link(&self.name).map(drop)
    }
}

/// The host end's name: unique while the container's init (`pid`) lives.
pub fn host_veth_name(pid: i32) -> String {
    format!("hveth{pid}")
}

/// Set up the network of the created container whose init is `pid`.
/// Returns the host veth, if one was made; on error nothing is left.
pub fn setup(plan: &Plan, pid: i32) -> Result<Option<HostVeth>> {
    let Plan::Own { mtu, interface } = plan else {
        return Ok(None);
    };
    let ns: OwnedFd = std::fs::File::open(format!("/proc/{pid}/ns/net"))
        .ctx(|| "open the container's network namespace")?
        .into();
    let mut inside = Netlink::open_in(ns.as_fd())?;
    // Docker's loopback strategy set the network's MTU on lo too.
    if let Some(mtu) = mtu {
        inside.set_mtu("lo", *mtu).ctx(|| "loopback")?;
    }
    inside.set_link("lo", true, None).ctx(|| "loopback")?;
    let Some(iface) = interface else {
        return Ok(None);
    };
    let mut host = Netlink::open()?;
    let veth = HostVeth {
        name: host_veth_name(pid),
    };
    host.add_veth(&veth.name, CONTAINER_IF, ns.as_fd(), *mtu, iface.mac)?;
    let configured = (|| -> Result<()> {
        let master = match &iface.bridge {
            Some(b) => Some(bridge_index(&mut host, b)?),
            None => None,
        };
        host.set_link(&veth.name, true, master)?;
        inside.add_addr(CONTAINER_IF, iface.ip, iface.prefix_len)?;
        inside.set_link(CONTAINER_IF, true, None)?;
        if let Some(gw) = iface.gateway {
            inside.add_default_route(CONTAINER_IF, gw)?;
        }
        Ok(())
    })();
    match configured {
        Ok(()) => Ok(Some(veth)),
        Err(e) => {
            let _ = veth.remove();
            Err(Error::new(format!("network: {e}")))
        }
    }
}
