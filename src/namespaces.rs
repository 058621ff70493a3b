//! Namespaces: clone flags for new ones, joining existing ones by path,
//! and the user namespace's id maps.

use crate::bail;
use crate::error::{Context, Error, Result};
use nix::libc;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// Every namespace type hull creates or joins (`hull features` lists
/// them); [`flag`] maps each one, in an exhaustive match.
pub const ALL: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Time,
];

pub fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The kernel's type of the namespace behind an fd (ioctl NS_GET_NSTYPE).
fn ns_type(fd: &OwnedFd) -> Result<i32> {
    const NS_GET_NSTYPE: u32 = 0xb703;
    // SAFETY: the ioctl takes no argument and only reads the fd.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    if t < 0 {
        bail!("not a namespace");
    }
    Ok(t)
}

fn open_ns(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open {}", path.display()))
}

/// A namespace file a config names: opened as a path first and checked to
/// be on nsfs, so that whatever else is there is never opened for real (a
/// FIFO would block create, a device could act on the open); then opened
/// through that fd.
fn open_ns_file(path: &Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    const NSFS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0x6e73_6673);
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let at = nix::fcntl::open(path, flags, nix::sys::stat::Mode::empty())
        .ctx(|| format!("open {}", path.display()))?;
    let fs = nix::sys::statfs::fstatfs(&at).ctx(|| format!("statfs {}", path.display()))?;
    if fs.filesystem_type() != NSFS_MAGIC {
        bail!("{} is not a namespace", path.display());
    }
    open_ns(Path::new(&format!("/proc/self/fd/{}", at.as_raw_fd())))
}

/// `path` must be a namespace of type `typ`.
pub fn check_path(typ: LinuxNamespaceType, path: &Path) -> Result<()> {
    let fd = open_ns_file(path)?;
    let got = ns_type(&fd).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
    if got != flag(typ).bits() {
        bail!("{} is not a {} namespace", path.display(), config_name(typ));
    }
    Ok(())
}

/// linux.namespaces of a config.
pub fn of(spec: &Spec) -> impl Iterator<Item = &oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
}

/// The namespaces to join by path, opened in the parent so a bad path fails early.
pub struct Joins(Vec<(LinuxNamespaceType, OwnedFd)>);

impl Joins {
    /// Our fds of the namespaces to join.
    pub fn fds(&self) -> impl Iterator<Item = std::os::fd::RawFd> + '_ {
        self.0.iter().map(|(_, fd)| fd.as_raw_fd())
    }

    pub fn open(spec: &Spec) -> Result<Joins> {
        let mut joins = Vec::new();
        for ns in of(spec) {
            if let Some(path) = ns.path() {
                joins.push((ns.typ(), open_ns_file(path)?));
            }
        }
        // The user namespace first: joining it grants the rights to join the rest.
        joins.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
        Ok(Joins(joins))
    }

    /// The namespaces of a running process that differ from ours (exec).
    pub fn of_process(pid: i32) -> Result<Joins> {
        use LinuxNamespaceType::*;
        // The user namespace first: joining it grants the rights to join the rest.
        let kinds = [User, Mount, Cgroup, Uts, Ipc, Network, Pid, Time];
        let mut joins = Vec::new();
        for typ in kinds {
            let theirs = format!("/proc/{pid}/ns/{}", proc_name(typ));
            let same = match std::fs::metadata(&theirs) {
                Ok(_) => is_ours(typ, Path::new(&theirs)),
                // The kernel lacks this namespace type.
                Err(_) => true,
            };
            if !same {
                joins.push((typ, open_ns(Path::new(&theirs))?));
            }
        }
        Ok(Joins(joins))
    }

    /// Join the user namespace to join, if any, in this process and drop
    /// it from the list: a user who is not root may join the others (the
    /// pid namespace too, for children) only from inside it. For good:
    /// nobody can go back to a parent user namespace.
    pub fn enter_user_here(&mut self) -> Result<()> {
        if let Some(i) = self
            .0
            .iter()
            .position(|(t, _)| *t == LinuxNamespaceType::User)
        {
            let (typ, fd) = self.0.remove(i);
            nix::sched::setns(fd.as_fd(), flag(typ)).ctx(|| "join user namespace")?;
        }
        Ok(())
    }

    /// setns the pid and time namespaces in the parent: they apply to
    /// children only, so the clone lands in them.
    pub fn enter_for_children(&self) -> Result<ForChildren> {
        let mut guard = ForChildren(Vec::new());
        for (typ, fd) in &self.0 {
            if matches!(typ, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                guard.save(*typ)?;
                nix::sched::setns(fd.as_fd(), flag(*typ))
                    .ctx(|| format!("join {} namespace", config_name(*typ)))?;
            }
        }
        Ok(guard)
    }

    /// In the child: join every namespace but pid and time (joined by the
    /// parent for its children).
    pub fn enter(&self) -> Result<()> {
        for (typ, fd) in &self.0 {
            if !matches!(typ, LinuxNamespaceType::Pid | LinuxNamespaceType::Time) {
                nix::sched::setns(fd.as_fd(), flag(*typ))
                    .ctx(|| format!("join {} namespace", config_name(*typ)))?;
            }
        }
        Ok(())
    }
}

/// The namespaces a container has of its own (new, not joined) that
/// change what its init does, worked out once from the spec.
#[derive(Clone, Copy, Debug, Default)]
pub struct NewNamespaces {
    pub user: bool,
    pub mount: bool,
    pub cgroup: bool,
    pub time: bool,
}

impl NewNamespaces {
    pub fn of(spec: &Spec) -> NewNamespaces {
        let mut new = NewNamespaces::default();
        for ns in of(spec).filter(|n| n.path().is_none()) {
            match ns.typ() {
                LinuxNamespaceType::User => new.user = true,
                LinuxNamespaceType::Mount => new.mount = true,
                LinuxNamespaceType::Cgroup => new.cgroup = true,
                LinuxNamespaceType::Time => new.time = true,
                _ => {}
            }
        }
        new
    }
}

/// Flags for the namespaces to create with the init's clone. A new time
/// namespace is not among them (see `prepare_time_namespace`), nor a new
/// cgroup namespace: the init unshares it once it is in its cgroup.
pub fn clone_flags(spec: &Spec) -> CloneFlags {
    let mut flags = CloneFlags::empty();
    for ns in of(spec) {
        if ns.path().is_none()
            && !matches!(
                ns.typ(),
                LinuxNamespaceType::Time | LinuxNamespaceType::Cgroup
            )
        {
            flags |= flag(ns.typ());
        }
    }
    flags
}

/// uid_map/gid_map text for `maps`.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write the child's uid/gid maps from the parent. Root writes them
/// itself. A user who is not root may map only its own id (the gid only
/// once setgroups is denied in the namespace, as the kernel demands);
/// wider maps go through the setuid newuidmap/newgidmap (Debian's uidmap),
/// which allow the ranges /etc/subuid and /etc/subgid grant.
pub fn write_id_maps(pid: i32, spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let unprivileged = crate::rootless::unprivileged();
    let maps = [
        ("uid", linux.uid_mappings(), nix::unistd::geteuid().as_raw()),
        ("gid", linux.gid_mappings(), nix::unistd::getegid().as_raw()),
    ];
    for (kind, maps, own) in maps {
        let Some(maps) = maps else { continue };
        let field = format!("linux.{kind}Mappings");
        let just_own = matches!(&maps[..], [m] if m.host_id() == own && m.size() == 1);
        if unprivileged && !just_own {
            map_with_helper(pid, kind, maps).map_err(|e| Error::at(&field, e))?;
            continue;
        }
        if unprivileged && kind == "gid" {
            std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .ctx(|| format!("{field}: deny setgroups (needed to map our own gid)"))?;
        }
        std::fs::write(format!("/proc/{pid}/{kind}_map"), map_text(maps))
            .ctx(|| format!("write {kind}_map ({field})"))?;
    }
    Ok(())
}

/// `newuidmap PID ID HOST-ID SIZE ...` (or newgidmap).
fn map_with_helper(
    pid: i32,
    kind: &str,
    maps: &[LinuxIdMapping],
) -> std::result::Result<(), String> {
    let helper = format!("new{kind}map");
    let mut cmd = std::process::Command::new(&helper);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().map_err(|e| {
        format!("mapping more than our own {kind} needs {helper} (Debian: apt-get install uidmap): {e}")
    })?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let said = said
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>();
        return Err(format!("{helper} failed: {}", said.join("; ")));
    }
    Ok(())
}

/// A new time namespace is entered by children only: unshare it in the
/// parent and set its offsets before the init is cloned into it.
pub fn prepare_time_namespace(spec: &Spec) -> Result<ForChildren> {
    let linux = spec.linux().as_ref();
    let mut guard = ForChildren(Vec::new());
    guard.save(LinuxNamespaceType::Time)?;
    nix::sched::unshare(flag(LinuxNamespaceType::Time)).ctx(|| "unshare time namespace")?;
    let mut text = String::new();
    for (clock, off) in linux
        .and_then(|l| l.time_offsets().as_ref())
        .into_iter()
        .flatten()
    {
        let name = match clock.as_str() {
            "monotonic" | "boottime" => clock.as_str(),
            other => bail!("config.json: linux.timeOffsets: unknown clock {other:?}"),
        };
        text += &format!(
            "{name} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        );
    }
    if !text.is_empty() {
        std::fs::write("/proc/self/timens_offsets", text)
            .ctx(|| "write timens_offsets (linux.timeOffsets)")?;
    }
    Ok(guard)
}

/// The pid and time namespaces our next children would be created in,
/// put back on drop: after the clone, a long-lived caller (`run`, exec
/// without --detach, the driver) must not fork its later children, such
/// as hooks, into the container's namespaces.
pub struct ForChildren(Vec<(LinuxNamespaceType, OwnedFd)>);

impl ForChildren {
    fn save(&mut self, typ: LinuxNamespaceType) -> Result<()> {
        let name = match typ {
            LinuxNamespaceType::Pid => "pid_for_children",
            _ => "time_for_children",
        };
        let fd = open_ns(Path::new(&format!("/proc/self/ns/{name}")))?;
        self.0.push((typ, fd));
        Ok(())
    }
}

impl Drop for ForChildren {
    fn drop(&mut self) {
        for (typ, fd) in self.0.drain(..).rev() {
            let _ = nix::sched::setns(fd.as_fd(), flag(typ));
        }
    }
}

/// The host uid and gid that are root inside the container (0 without a
/// user namespace).
pub fn container_root_ids(spec: &Spec) -> (nix::unistd::Uid, nix::unistd::Gid) {
    let host_of = |maps: Option<&Vec<LinuxIdMapping>>| {
        maps.into_iter()
            .flatten()
            .find(|m| m.container_id() == 0)
            .map(|m| m.host_id())
            .unwrap_or(0)
    };
    let linux = spec.linux().as_ref();
    let uid = host_of(linux.and_then(|l| l.uid_mappings().as_ref()));
    let gid = host_of(linux.and_then(|l| l.gid_mappings().as_ref()));
    (
        nix::unistd::Uid::from_raw(uid),
        nix::unistd::Gid::from_raw(gid),
    )
}

/// The name of a namespace type under /proc/PID/ns.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Time => "time",
    }
}

/// Whether the namespace at `path` is hull's own of that type (a path that
/// cannot be read is not).
pub fn is_ours(typ: LinuxNamespaceType, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ours = format!("/proc/self/ns/{}", proc_name(typ));
    match (std::fs::metadata(path), std::fs::metadata(ours)) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// The name config.json uses for a namespace type (`network`, not `net`).
pub fn config_name(typ: LinuxNamespaceType) -> String {
    serde_json::to_value(typ)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| typ.to_string())
}
