//! The container's init between clone and execve, in spec order. It runs
//! hull's own code in the cloned child (no re-exec) and reports any error
//! back to `hull create` over the sync channel.

pub mod exec;

use crate::error::{Context, Error, Result};
use crate::namespaces::Joins;
use crate::security;
use crate::sync::{Channel, Msg};
use nix::libc;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the child inherits from `hull create`, set up before the clone.
pub struct Init<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub chan: Channel,
    /// O_PATH fd of the exec fifo; None for a process started at once.
    pub fifo: Option<OwnedFd>,
    pub joins: &'a Joins,
    pub no_pivot: bool,
    /// fds 3.. that pass into the container (--preserve-fds).
    pub preserve_fds: u32,
    /// Name of a new session keyring (None with --no-new-keyring).
    pub new_keyring: Option<String>,
    /// process.scheduler's SCHED_DEADLINE times.
    pub deadline: security::sched::DeadlineTimes,
    /// The container's cgroup, for `cgroup` mounts.
    pub cgroup: Option<&'a crate::cgroups::Cgroup>,
    /// linux.seccomp, compiled by the parent before the clone.
    pub seccomp: Option<&'a security::seccomp::Filter>,
}

/// Runs in the child; never returns.
pub fn run(init: Init) -> ! {
    match setup(&init) {
        Ok(prepared) => {
            let err = finish(&init, prepared);
            // The parent may be gone by now: stderr is all that is left.
            let _ = init.chan.send(&Msg::Error(err.to_string()));
            eprintln!("hull: {err}");
            unsafe { libc::_exit(127) }
        }
        Err(e) => {
            let _ = init.chan.send(&Msg::Error(e.to_string()));
            unsafe { libc::_exit(1) }
        }
    }
}

/// Ready to exec: the resolved program, its argv and env.
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| Error::new(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

fn setup(init: &Init) -> Result<Prepared> {
    let spec = init.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::new("config.json: process: missing"))?;
    // Nothing of the container may ptrace us or open /proc/<pid>/exe while
    // we still run the host's hull binary.
    nix::sys::prctl::set_dumpable(false).ctx(|| "prctl dumpable")?;
    init.joins.enter()?;
    init.chan.expect(Msg::Go)?;
    // Unshared only now that the parent has put us in our cgroup, so the
    // namespace is rooted there.
    if crate::config::new_namespace(spec, LinuxNamespaceType::Cgroup) {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace")?;
    }
    if let Some(name) = &init.new_keyring {
        join_session_keyring(name)?;
    }
    let userns = crate::config::new_namespace(spec, LinuxNamespaceType::User);
    if userns {
        // Root of the new user namespace, through the maps just written.
        let root = (nix::unistd::Uid::from_raw(0), nix::unistd::Gid::from_raw(0));
        nix::unistd::setresgid(root.1, root.1, root.1).ctx(|| "setgid 0 in user namespace")?;
        nix::unistd::setresuid(root.0, root.0, root.0).ctx(|| "setuid 0 in user namespace")?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    for (key, value) in spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        let file = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&file, value).ctx(|| format!("linux.sysctl: write {key}={value}"))?;
    }
    let new_mnt = crate::config::new_namespace(spec, LinuxNamespaceType::Mount);
    if new_mnt {
        crate::rootfs::prepare(spec, init.rootfs, init.bundle, userns, init.cgroup)?;
        crate::rootfs::enter(init.rootfs, init.no_pivot)?;
    } else {
        // Sharing the host's mount namespace: chroot only, touching no mount.
        nix::unistd::chroot(init.rootfs).ctx(|| format!("chroot {}", init.rootfs.display()))?;
        nix::unistd::chdir("/").ctx(|| "chdir /")?;
    }
    // Before a read-only root is sealed: runc creates a missing cwd too.
    let cwd = process.cwd();
    std::fs::create_dir_all(cwd).ctx(|| format!("process.cwd: create {}", cwd.display()))?;
    if new_mnt {
        crate::rootfs::finish(spec)?;
    }

    // The process, as far as it can be prepared before `start`.
    let user = process.user();
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", security::user::home_of(user.uid())));
    }
    let args = process.args().as_deref().unwrap_or_default();
    let program = exec::lookup(&args[0], &env)?;
    if let Some(rl) = process.rlimits() {
        security::rlimits::apply(rl)?;
    }
    if let Some(adj) = process.oom_score_adj() {
        security::rlimits::oom_score_adj(adj)?;
    }
    if let Some(linux) = spec.linux() {
        if let Some(p) = linux.personality() {
            security::sched::set_personality(p)?;
        }
        if let Some(p) = linux.memory_policy() {
            security::sched::set_memory_policy(p)?;
        }
    }
    if let Some(s) = process.scheduler() {
        security::sched::set_scheduler(s, init.deadline)?;
    }
    if let Some(p) = process.io_priority() {
        security::sched::set_io_priority(p)?;
    }
    security::lsm::apply_exec_labels(spec)?;
    let nnp = process.no_new_privileges().unwrap_or(false);
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
    // while we still have it. With it, as late as possible (before execve).
    if !nnp && let Some(filter) = init.seccomp {
        security::seccomp::load(filter)?;
    }
    if let Some(caps) = process.capabilities() {
        security::caps::before_user(caps)?;
    }
    security::user::switch(user, setgroups_allowed(userns))?;
    if let Some(caps) = process.capabilities() {
        security::caps::after_user(caps)?;
    }
    // chdir as the user, so a directory it may not enter is an error now.
    nix::unistd::chdir(cwd).ctx(|| format!("process.cwd: chdir {}", cwd.display()))?;
    security::user::umask(user);
    if nnp {
        nix::sys::prctl::set_no_new_privs().ctx(|| "prctl no_new_privs")?;
    }
    Ok(Prepared {
        program: CString::new(program.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::new("process.args[0]: NUL byte"))?,
        argv: cstrings(args)?,
        env: cstrings(&env)?,
    })
}

/// Wait for `start`, then exec. Returns only on failure.
fn finish(init: &Init, p: Prepared) -> Error {
    if let Err(e) = init.chan.send(&Msg::Ready) {
        return e;
    }
    if let Some(fifo) = &init.fifo {
        // Blocks until `hull start` opens the fifo for reading.
        let path = crate::sys::fd_path(fifo.as_raw_fd());
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(mut f) => {
                use std::io::Write;
                if let Err(e) = f.write_all(b"0") {
                    return Error::new(format!("exec fifo: {}", Error::from(e)));
                }
            }
            Err(e) => return Error::new(format!("exec fifo: {}", Error::from(e))),
        }
    }
    // No fd of hull's or of its caller passes execve but stdio and the
    // preserved ones.
    if let Err(e) = crate::sys::cloexec_from(3 + init.preserve_fds) {
        return Error::new(format!("close fds: {}", Error::from(e)));
    }
    let nnp = init
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.no_new_privileges())
        .unwrap_or(false);
    if nnp
        && let Some(filter) = init.seccomp
        && let Err(e) = security::seccomp::load(filter)
    {
        return e;
    }
    match nix::unistd::execve(&p.program, &p.argv, &p.env) {
        Err(e) => Error::new(format!("exec {:?}: {}", p.program, Error::from(e))),
    }
}

fn setgroups_allowed(userns: bool) -> bool {
    !userns || std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "allow")
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: valid pointer and length.
    let ret = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(ret)
        .map(drop)
        .ctx(|| format!("setdomainname {name:?}"))
}

/// A session keyring of the container's own, so keys never leak between
/// containers (runc does the same).
fn join_session_keyring(name: &str) -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = CString::new(name).map_err(|_| Error::new("keyring name: NUL byte"))?;
    // SAFETY: valid C string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match nix::errno::Errno::result(ret) {
        Ok(_) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(e).ctx(|| "join session keyring"),
    }
}
