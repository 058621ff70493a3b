//! User namespaces whose maps idmap a mount (mount_setattr's
//! MOUNT_ATTR_IDMAP takes the maps of a user namespace, not the maps
//! themselves): each made by a child cloned into a new user namespace,
//! which lives only until the parent has written its maps and opened it.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};

use crate::error::{Context, Error, Result};
use crate::namespaces::map_text;
use crate::sys::{self, Forked};

/// The namespaces made so far, one per set of maps.
#[derive(Default)]
pub struct UserNamespaces(Vec<(String, OwnedFd)>);

impl UserNamespaces {
    /// A user namespace with the maps of `m`, or, for a bare `idmap`
    /// option, the container's own (spec v1.3; runc 1.2 does the same).
    pub fn for_mount(&mut self, spec: &Spec, m: &Mount) -> Result<BorrowedFd<'_>> {
        let linux = spec.linux().as_ref();
        let (uid, gid) = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(u), Some(g)) => (u, g),
            _ => match linux.map(|l| (l.uid_mappings(), l.gid_mappings())) {
                Some((Some(u), Some(g))) => (u, g),
                _ => {
                    return Err(Error::at(
                        "uidMappings",
                        "idmap needs the mount's uidMappings and gidMappings, or the container's (linux.uidMappings, linux.gidMappings)",
                    ));
                }
            },
        };
        let key = format!("{}|{}", map_text(uid), map_text(gid));
        let i = match self.0.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                self.0.push((key, new_user_namespace(uid, gid)?));
                self.0.len() - 1
            }
        };
        Ok(self.0[i].1.as_fd())
    }
}

/// A user namespace with `uid` and `gid` maps, as an fd.
fn new_user_namespace(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let what = "make a user namespace for an idmapped mount";
    let flags = nix::libc::CLONE_NEWUSER as u64;
    // SAFETY: plain system call.
    let parent = unsafe { nix::libc::getpid() };
    let child = match sys::clone3(flags, None).ctx(|| what)? {
        Forked::Child => {
            // Only waits to be killed: no allocation, safe in any caller.
            // SAFETY: plain system calls.
            unsafe {
                nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL);
                // A parent killed before the prctl would leave us forever.
                if nix::libc::getppid() != parent {
                    nix::libc::_exit(0);
                }
                loop {
                    nix::libc::pause();
                }
            }
        }
        Forked::Parent { pid, pidfd, .. } => crate::launch::Child {
            pid,
            pidfd,
            in_cgroup: false,
        },
    };
    let pid = child.pid;
    let made = std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uid))
        .ctx(|| format!("{what}: write uid_map"))
        .and_then(|()| {
            std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gid))
                .ctx(|| format!("{what}: write gid_map"))
        })
        .and_then(|()| {
            nix::fcntl::open(
                format!("/proc/{pid}/ns/user").as_str(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| format!("{what}: open it"))
        });
    crate::launch::kill_and_reap(&child);
    made
}
