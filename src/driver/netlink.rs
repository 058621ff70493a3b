//! Just enough rtnetlink, written by hand over a NETLINK_ROUTE socket
//! (synchronous, no crate): look up a link, make a veth pair with its peer
//! created directly in another network namespace, set links up, MTU and
//! master, add an IPv4 address and a default route, delete a link.

use crate::error::{Context, Error, Result};
use nix::errno::Errno;
use nix::libc;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

// Kernel ABI (include/uapi/linux/{netlink,rtnetlink,if_link,veth}.h).
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 1;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// One request being built: header, fixed part, attributes.
struct Msg {
    buf: Vec<u8>,
}

impl Msg {
    fn new(typ: u16, flags: u16) -> Msg {
        let mut buf = vec![0u8; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&typ.to_ne_bytes());
        buf[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        Msg { buf }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.resize(align4(self.buf.len()), 0);
    }

    fn attr(&mut self, typ: u16, data: &[u8]) {
        let len = (4 + data.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&typ.to_ne_bytes());
        self.put(data);
    }

    fn attr_str(&mut self, typ: u16, s: &str) {
        let mut data = s.as_bytes().to_vec();
        data.push(0);
        self.attr(typ, &data);
    }

    fn attr_u32(&mut self, typ: u16, v: u32) {
        self.attr(typ, &v.to_ne_bytes());
    }

    /// Start a nested attribute; close it with `end`.
    fn begin(&mut self, typ: u16) -> usize {
        let start = self.buf.len();
        self.attr(typ | NLA_F_NESTED, &[]);
        start
    }

    fn end(&mut self, start: usize) {
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// struct ifinfomsg
fn ifinfomsg(index: i32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// Attributes in `data`: (type without flags, payload).
fn attrs(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while data.len() >= 4 {
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let typ = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > data.len() {
            break;
        }
        out.push((typ, &data[4..len]));
        data = &data[align4(len).min(data.len())..];
    }
    out
}

/// A link as RTM_GETLINK reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: i32,
    /// IFLA_INFO_KIND: `bridge`, `veth`, ... (None for plain devices).
    pub kind: Option<String>,
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        // SAFETY: plain socket(2); the fd is ours.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        let fd = Errno::result(fd).ctx(|| "netlink socket")?;
        Ok(Netlink {
            // SAFETY: fresh fd from the kernel.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            seq: 0,
        })
    }

    /// A socket in the network namespace `ns` (an fd of /proc/PID/ns/net).
    /// A short-lived thread enters the namespace, so the caller's never
    /// changes.
    pub fn open_in(ns: BorrowedFd) -> Result<Netlink> {
        std::thread::scope(|s| {
            s.spawn(|| {
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .ctx(|| "enter the container's network namespace")?;
                Netlink::open()
            })
            .join()
            .unwrap_or_else(|_| Err(Error::new("netlink: thread panicked")))
        })
    }

    /// Send one request and read until its ACK; returns the payloads of
    /// the replies before it.
    fn request(&mut self, msg: Msg) -> std::result::Result<Vec<Vec<u8>>, Errno> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let buf = msg.finish(seq);
        // SAFETY: a zeroed sockaddr_nl addressed to the kernel (pid 0).
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: buf and addr are valid for the given lengths.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as u32,
            )
        };
        Errno::result(sent)?;
        let mut replies = Vec::new();
        let mut rbuf = vec![0u8; 32768];
        loop {
            let n = loop {
                match nix::sys::socket::recv(
                    self.fd.as_raw_fd(),
                    &mut rbuf,
                    nix::sys::socket::MsgFlags::empty(),
                ) {
                    Err(Errno::EINTR) => continue,
                    r => break r?,
                }
            };
            let mut data = &rbuf[..n];
            while data.len() >= NLMSG_HDRLEN {
                let len = u32::from_ne_bytes(data[0..4].try_into().unwrap()) as usize;
                let typ = u16::from_ne_bytes([data[4], data[5]]);
                let mseq = u32::from_ne_bytes(data[8..12].try_into().unwrap());
                if len < NLMSG_HDRLEN || len > data.len() {
                    return Err(Errno::EBADMSG);
                }
                let payload = &data[NLMSG_HDRLEN..len];
                data = &data[align4(len).min(data.len())..];
                if mseq != seq {
                    continue;
                }
                match typ {
                    NLMSG_ERROR => {
                        let code = payload
                            .get(0..4)
                            .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                            .ok_or(Errno::EBADMSG)?;
                        return match code {
                            0 => Ok(replies),
                            c => Err(Errno::from_raw(-c)),
                        };
                    }
                    NLMSG_DONE => return Ok(replies),
                    _ => replies.push(payload.to_vec()),
                }
            }
        }
    }

    /// The link named `name`, None if there is none.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut msg = Msg::new(RTM_GETLINK, 0);
        msg.put(&ifinfomsg(0, 0, 0));
        msg.attr_str(IFLA_IFNAME, name);
        let replies = match self.request(msg) {
            Ok(r) => r,
            Err(Errno::ENODEV) => return Ok(None),
            Err(e) => return Err(e).ctx(|| format!("look up link {name}")),
        };
        let Some(reply) = replies.first().filter(|r| r.len() >= 16) else {
            return Ok(None);
        };
        let index = i32::from_ne_bytes(reply[4..8].try_into().unwrap());
        let mut kind = None;
        for (typ, data) in attrs(&reply[16..]) {
            if typ == IFLA_LINKINFO {
                for (t, d) in attrs(data) {
                    if t == IFLA_INFO_KIND {
                        let s = d.split(|b| *b == 0).next().unwrap_or_default();
                        kind = Some(String::from_utf8_lossy(s).into_owned());
                    }
                }
            }
        }
        Ok(Some(Link { index, kind }))
    }

    fn index(&mut self, name: &str) -> Result<i32> {
        match self.link(name)? {
            Some(l) => Ok(l.index),
            None => Err(Error::new(format!("link {name}: no such device"))),
        }
    }

    /// A veth pair: `name` here, `peer` created directly in the namespace
    /// `peer_ns` (so its name cannot clash with one of ours), with `mtu`
    /// on both ends and `peer_mac` on the peer.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_ns: BorrowedFd,
        mtu: Option<u32>,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<()> {
        let mut msg = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        msg.put(&ifinfomsg(0, 0, 0));
        msg.attr_str(IFLA_IFNAME, name);
        if let Some(mtu) = mtu {
            msg.attr_u32(IFLA_MTU, mtu);
        }
        let info = msg.begin(IFLA_LINKINFO);
        msg.attr_str(IFLA_INFO_KIND, "veth");
        let data = msg.begin(IFLA_INFO_DATA);
        let peer_info = msg.begin(VETH_INFO_PEER);
        msg.put(&ifinfomsg(0, 0, 0));
        msg.attr_str(IFLA_IFNAME, peer);
        msg.attr_u32(IFLA_NET_NS_FD, peer_ns.as_fd().as_raw_fd() as u32);
        if let Some(mtu) = mtu {
            msg.attr_u32(IFLA_MTU, mtu);
        }
        if let Some(mac) = peer_mac {
            msg.attr(IFLA_ADDRESS, &mac);
        }
        msg.end(peer_info);
        msg.end(data);
        msg.end(info);
        self.request(msg)
            .map(drop)
            .ctx(|| format!("create veth pair {name}/{peer}"))
    }

    /// Bring `name` up (or down), optionally enslaving it to `master`.
    pub fn set_link(&mut self, name: &str, up: bool, master: Option<i32>) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = Msg::new(RTM_NEWLINK, 0);
        msg.put(&ifinfomsg(index, if up { IFF_UP } else { 0 }, IFF_UP));
        if let Some(m) = master {
            msg.attr_u32(IFLA_MASTER, m as u32);
        }
        self.request(msg).map(drop).ctx(|| {
            let state = if up { "up" } else { "down" };
            match master {
                Some(m) => format!("set link {name} {state}, master {m}"),
                None => format!("set link {name} {state}"),
            }
        })
    }

    pub fn set_mtu(&mut self, name: &str, mtu: u32) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = Msg::new(RTM_NEWLINK, 0);
        msg.put(&ifinfomsg(index, 0, 0));
        msg.attr_u32(IFLA_MTU, mtu);
        self.request(msg)
            .map(drop)
            .ctx(|| format!("set mtu {mtu} on {name}"))
    }

    /// Delete the link `name`; false if it did not exist.
    pub fn del_link(&mut self, name: &str) -> Result<bool> {
        let Some(link) = self.link(name)? else {
            return Ok(false);
        };
        let mut msg = Msg::new(RTM_DELLINK, 0);
        msg.put(&ifinfomsg(link.index, 0, 0));
        match self.request(msg) {
            Ok(_) => Ok(true),
            Err(Errno::ENODEV) => Ok(false),
            Err(e) => Err(e).ctx(|| format!("delete link {name}")),
        }
    }

    /// `ip/prefix` on `name`, with its broadcast address.
    pub fn add_addr(&mut self, name: &str, ip: Ipv4Addr, prefix: u8) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        let mut ifa = [0u8; 8];
        ifa[0] = libc::AF_INET as u8;
        ifa[1] = prefix;
        ifa[3] = RT_SCOPE_UNIVERSE;
        ifa[4..8].copy_from_slice(&(index as u32).to_ne_bytes());
        msg.put(&ifa);
        msg.attr(IFA_LOCAL, &ip.octets());
        msg.attr(IFA_ADDRESS, &ip.octets());
        if prefix < 31 {
            let host_bits = u32::MAX >> prefix;
            let brd = Ipv4Addr::from(u32::from(ip) | host_bits);
            msg.attr(IFA_BROADCAST, &brd.octets());
        }
        self.request(msg)
            .map(drop)
            .ctx(|| format!("add address {ip}/{prefix} to {name}"))
    }

    /// The default route via `gateway` out of `name`.
    pub fn add_default_route(&mut self, name: &str, gateway: Ipv4Addr) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        let mut rtm = [0u8; 12];
        rtm[0] = libc::AF_INET as u8;
        rtm[4] = RT_TABLE_MAIN;
        rtm[5] = RTPROT_BOOT;
        rtm[6] = RT_SCOPE_UNIVERSE;
        rtm[7] = RTN_UNICAST;
        msg.put(&rtm);
        msg.attr(RTA_GATEWAY, &gateway.octets());
        msg.attr_u32(RTA_OIF, index as u32);
        self.request(msg)
            .map(drop)
            .ctx(|| format!("add default route via {gateway} dev {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_are_sized_and_aligned() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE);
        m.put(&ifinfomsg(7, IFF_UP, IFF_UP));
        let outer = m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.end(outer);
        let buf = m.finish(42);
        assert_eq!(
            u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize,
            buf.len()
        );
        assert_eq!(buf.len() % 4, 0);
        assert_eq!(u32::from_ne_bytes(buf[8..12].try_into().unwrap()), 42);
        let flags = u16::from_ne_bytes([buf[6], buf[7]]);
        assert_eq!(flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE);
        let body = &buf[NLMSG_HDRLEN + 16..];
        let top = attrs(body);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].0, IFLA_LINKINFO);
        // 4 (outer header) + 4 (inner header) + "veth\0" padded to 8.
        assert_eq!(u16::from_ne_bytes([body[0], body[1]]), 16);
        let inner = attrs(top[0].1);
        assert_eq!(inner, vec![(IFLA_INFO_KIND, &b"veth\0"[..])]);
    }

    /// Only reads: the loopback link of the test's own namespace.
    #[test]
    fn loopback_is_found() {
        let Ok(mut nl) = Netlink::open() else { return };
        let lo = nl.link("lo").unwrap().expect("lo exists");
        assert!(lo.index > 0);
        assert_eq!(nl.link("hull-no-such-if").unwrap(), None);
    }
}
