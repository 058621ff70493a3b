//! The container's process between clone and execve, in spec order. It
//! runs hull's own code in the cloned child (no re-exec) and reports any
//! error back to its parent (`hull create` or `hull exec`) over the sync
//! channel. `create` builds the container around it; `exec` only joins.

pub mod program;

use crate::error::{Context, Error, Result};
use crate::namespaces::{Joins, NewNamespaces};
use crate::rootfs::options::MountOptions;
use crate::security;
use crate::sync::{Channel, Msg};
use nix::libc;
use oci_spec::runtime::{Process, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// What the init does, decided from the spec once, by the parent before
/// the clone: the child only follows it.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Namespaces of the container's own (created, not joined).
    pub new_ns: NewNamespaces,
    /// Whether the parent runs hooks between mounting and pivot_root.
    pub create_hooks: bool,
    pub seccomp_at: SeccompAt,
    /// A parent that is not root can write our id maps only while we are
    /// dumpable (else /proc/<pid>/uid_map is root's): non-dumpable from
    /// its go on, before anything of the container exists.
    pub dumpable_until_go: bool,
}

/// When linux.seccomp's filter loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompAt {
    /// Without no_new_privs loading needs CAP_SYS_ADMIN: while we have it.
    BeforeUserSwitch,
    /// With no_new_privs and a notify action: before we report ready, so
    /// the parent can pass the listener on.
    AfterNoNewPrivs,
    /// With no_new_privs: last before execve, so that none of our own
    /// syscalls need the profile's leave.
    BeforeExec,
}

impl Plan {
    pub fn of(spec: &Spec, process: &Process, seccomp: Option<&security::seccomp::Filter>) -> Plan {
        let nnp = process.no_new_privileges().unwrap_or(false);
        Plan {
            new_ns: NewNamespaces::of(spec),
            create_hooks: has_create_hooks(spec),
            seccomp_at: match (nnp, seccomp.is_some_and(|f| f.notify)) {
                (false, _) => SeccompAt::BeforeUserSwitch,
                (true, true) => SeccompAt::AfterNoNewPrivs,
                (true, false) => SeccompAt::BeforeExec,
            },
            dumpable_until_go: crate::rootless::unprivileged(),
        }
    }
}

/// The container an init builds around itself (create only).
pub struct Container<'a> {
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// Each of the spec's mounts' options, parsed by config::load.
    pub mounts: &'a [MountOptions],
    /// With a user namespace of its own, the bind mounts' sources opened
    /// by the parent as host root, and the idmapped ones
    /// (rootfs::mounts::open_bind_sources); else empty.
    pub bind_sources: Vec<Option<OwnedFd>>,
    pub no_pivot: bool,
    /// The exec fifo's O_PATH fd, reopened to wait for `start`.
    pub fifo: OwnedFd,
    pub cgroup: &'a crate::cgroups::Cgroup,
    /// Name of a new session keyring (None with --no-new-keyring).
    pub new_keyring: Option<String>,
}

/// What the child inherits from its parent, prepared before the clone.
pub struct Init<'a> {
    pub plan: Plan,
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub chan: Channel,
    pub joins: &'a Joins,
    /// fds 3.. that pass into the container (--preserve-fds).
    pub preserve_fds: u32,
    /// linux.seccomp, compiled by the parent before the clone.
    pub seccomp: Option<&'a security::seccomp::Filter>,
    /// Connected console socket when process.terminal is set.
    pub console: Option<OwnedFd>,
    /// fds to become our 0, 1, 2 (see CreateOptions::stdio).
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// The container's v1 cgroups, for us to join first thing.
    pub self_join: crate::cgroups::SelfJoin,
}

/// A new container's init (see sync.rs for its part in the handshake):
/// build the container, wait for `start`, exec. Never returns.
pub fn create(init: Init, c: Container) -> ! {
    let mut ours = vec![c.fifo.as_raw_fd()];
    ours.extend(c.bind_sources.iter().flatten().map(|fd| fd.as_raw_fd()));
    let built = begin(&init, &ours).and_then(|fds| {
        let state = build_container(&init, &c)?;
        // /dev/console is the init's terminal. Not without a mount
        // namespace of our own: that would mount on the host.
        set_up_console(&init, init.plan.new_ns.mount)?;
        // Before a read-only root is sealed: runc creates a missing cwd too.
        let cwd = init.process.cwd();
        let root = crate::rootfs::path::open_root(Path::new("/"))?;
        crate::rootfs::path::create(root.as_fd(), cwd, crate::rootfs::path::Kind::Dir)
            .ctx(|| format!("process.cwd: create {}", cwd.display()))?;
        if init.plan.new_ns.mount {
            crate::rootfs::finish(init.spec)?;
            reopen_dev_null()?;
        }
        Ok((prepare_process(&init)?, state, fds))
    });
    let (prepared, state, fds) = match built {
        Ok(built) => built,
        Err(e) => fail_setup(&init, e),
    };
    if let Err(e) = init.chan.send(&Msg::Ready) {
        fail_setup(&init, e)
    }
    match init.chan.recv() {
        Ok(Some(Msg::Created)) => {}
        // Our parent died before it recorded us: nobody can start or find
        // us, and nobody hears an error; go quietly.
        Ok(None) => quit(1),
        // Our own failure to hear it is an error of ours to report.
        Ok(Some(m)) => fail_setup(
            &init,
            Error::new(format!("sync: expected Created, got {m:?}")),
        ),
        Err(e) => fail_setup(&init, e),
    }
    // `start` waits for this end of the fifo to close: at our execve.
    let mut fifo_end = match wait_for_start(&c.fifo, &fds) {
        Ok(end) => end,
        Err(e) => fail_started(&init, e),
    };
    let hooks = init.spec.hooks().as_ref();
    let hooks = hooks.and_then(|h| h.start_container().as_ref());
    let mut seccomp = late_seccomp(&init);
    let e = match (hooks, &state) {
        (Some(hooks), Some(state)) => {
            // As runc: the hooks run under the filter, as the process
            // they start will (so it is loaded now, and only once).
            let loaded = seccomp.take().map_or(Ok(None), security::seccomp::load);
            let env = process_env(&init);
            let run = || crate::hooks::run_all("startContainer", Some(hooks), state, env);
            loaded.and_then(|_| run()).err()
        }
        _ => None,
    };
    let e = e.unwrap_or_else(|| exec_program(&init, prepared, &fds, seccomp));
    // `start` reads the fifo to its end: what follows our byte is why we
    // did not exec, and its error (it closes at a successful execve).
    use std::io::Write;
    let _ = fifo_end.write_all(e.to_string().as_bytes());
    fail_started(&init, e)
}

/// A process joining a running container: join, prepare, exec. Never
/// returns.
pub fn exec(init: Init) -> ! {
    let prepared = begin(&init, &[]).and_then(|fds| {
        nix::unistd::chdir("/").ctx(|| "chdir /")?;
        // Now in the container's cgroup (which may reset it).
        let affinity = init.process.exec_cpu_affinity().as_ref();
        if let Some(list) = affinity.and_then(|a| a.cpu_affinity_final().as_deref()) {
            security::sched::set_affinity(list, "final")?;
        }
        // An exec'd tty leaves /dev/console be.
        set_up_console(&init, false)?;
        Ok((prepare_process(&init)?, fds))
    });
    let (prepared, fds) = match prepared {
        Ok(p) => p,
        Err(e) => fail_setup(&init, e),
    };
    if let Err(e) = init.chan.send(&Msg::Ready) {
        fail_setup(&init, e)
    }
    let e = exec_program(&init, prepared, &fds, late_seccomp(&init));
    fail_started(&init, e)
}

/// Setup failed: the parent reports it.
fn fail_setup(init: &Init, e: Error) -> ! {
    let _ = init.chan.send(&Msg::Error(e.to_string()));
    quit(1)
}

/// The exec failed: after `start` the parent is gone, so stderr too.
fn fail_started(init: &Init, e: Error) -> ! {
    let _ = init.chan.send(&Msg::Error(e.to_string()));
    eprintln!("hull: error: {e}");
    quit(127)
}

fn quit(code: i32) -> ! {
    // SAFETY: the child ends here, running none of its parent's exit
    // handlers.
    unsafe { libc::_exit(code) }
}

/// Ready to exec: the resolved program, its argv and env, and the state
/// JSON for startContainer hooks.
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    env: Vec<CString>,
    /// The sealed exec trampoline (see security::trampoline).
    trampoline: Option<OwnedFd>,
}

fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| Error::new(format!("{s:?} contains a NUL byte")))
        })
        .collect()
}

/// Whether the parent must run hooks between mounting and pivot_root.
fn has_create_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|k| k.as_ref().is_some_and(|v| !v.is_empty()))
    })
}

/// What both kinds of init do first: our v1 cgroups, stdio, no inherited fd but ours,
/// our fd directory (see [`own_fd_dir`]), the namespaces to join, and the
/// parent's go.
fn begin(init: &Init, also_ours: &[std::os::fd::RawFd]) -> Result<OwnedFd> {
    // Before anything runs that the cgroup should account; its files are
    // closed below with the other inherited fds.
    init.self_join.join()?;
    // Nothing of the container may ptrace us or open /proc/<pid>/exe while
    // we still run the host's hull binary.
    let not_dumpable = || nix::sys::prctl::set_dumpable(false).ctx(|| "prctl dumpable");
    if !init.plan.dumpable_until_go {
        not_dumpable()?;
    }
    for (target, fd) in init.stdio.iter().flatten().enumerate() {
        // SAFETY: dup2 onto our own stdio; the source stays open in the caller.
        nix::errno::Errno::result(unsafe { libc::dup2(*fd, target as i32) })
            .ctx(|| "set up stdio")?;
    }
    // Copies of our caller's other fds would live as long as we wait for
    // `start`: its state dir lock (blocking every command on the
    // container), and in a threaded caller any other thread's pipes and
    // locks.
    let mut ours = vec![init.chan.as_raw_fd()];
    ours.extend(init.console.as_ref().map(|c| c.as_raw_fd()));
    ours.extend(also_ours);
    ours.extend(init.joins.fds());
    crate::sys::close_fds_except(3 + init.preserve_fds, &ours).ctx(|| "close inherited fds")?;
    let fds = own_fd_dir()?;
    init.joins.enter()?;
    init.chan.expect(Msg::Go)?;
    if init.plan.dumpable_until_go {
        not_dumpable()?;
    }
    Ok(fds)
}

/// Our stdio that is /dev/null (an engine's choice for an unused stream,
/// opened on the host) becomes the container's own /dev/null, as runc
/// does: a file of a mount outside the container's would stay the host's,
/// and CRIU cannot dump it (`Can't lookup mount=N for fd=0
/// path=/dev/null`, measured with podman). Three fstat calls when none is.
fn reopen_dev_null() -> Result<()> {
    let dev_null = libc::makedev(1, 3);
    let is_null = |fd: i32| {
        // SAFETY: fstat into a zeroed stat of our own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above; a closed fd is an error, not a null.
        let r = unsafe { libc::fstat(fd, &mut st) };
        r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == dev_null
    };
    let nulls = [is_null(0), is_null(1), is_null(2)];
    if !nulls.contains(&true) {
        return Ok(());
    }
    let flags = nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC;
    let ours = nix::fcntl::open("/dev/null", flags, nix::sys::stat::Mode::empty())
        .ctx(|| "open the container's /dev/null")?;
    for (fd, _) in nulls.iter().enumerate().filter(|(_, null)| **null) {
        // SAFETY: dup3 of our fd onto one of our stdio fds.
        let r = unsafe { libc::dup3(ours.as_raw_fd(), fd as i32, 0) };
        nix::errno::Errno::result(r).ctx(|| format!("reopen /dev/null as fd {fd}"))?;
    }
    Ok(())
}

/// The pty, sent to the console socket; with `bind_console` also bound
/// on /dev/console.
fn set_up_console(init: &Init, bind_console: bool) -> Result<()> {
    let Some(console) = &init.console else {
        // A session of its own, as runc gives its init and exec'd
        // processes (with a terminal console::setup makes it): no signal
        // of the caller's terminal reaches it, and CRIU can dump the
        // container (it refuses a session led from outside the pid
        // namespace).
        return nix::unistd::setsid().map(drop).ctx(|| "setsid");
    };
    let size = init
        .process
        .console_size()
        .map(|b| (b.height() as u16, b.width() as u16));
    let uid = init.process.user().uid();
    crate::console::setup(console.as_fd(), size, bind_console, uid)
}

/// Namespaces, names, sysctls, the root filesystem and the create-time
/// hooks. Returns the state JSON if startContainer hooks need it.
fn build_container(init: &Init, c: &Container) -> Result<Option<String>> {
    let (spec, rootfs, new_ns) = (init.spec, c.rootfs, init.plan.new_ns);
    // Unshared only now that the parent has put us in our cgroup, so the
    // namespace is rooted there.
    if new_ns.cgroup {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace")?;
    }
    if let Some(name) = &c.new_keyring {
        join_session_keyring(name)?;
    }
    if new_ns.user {
        // Root of the new user namespace, through the maps just written.
        crate::sys::setresgid_thread(0).ctx(|| "setgid 0 in user namespace")?;
        crate::sys::setresuid_thread(0).ctx(|| "setuid 0 in user namespace")?;
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx(|| format!("sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if new_ns.mount {
        // Writes linux.sysctl through the container's own /proc.
        crate::rootfs::prepare(spec, c, new_ns.user)?;
    } else {
        // Sharing the host's mounts, so the host's /proc: its /proc/sys
        // still shows our namespaces, to which validation confined the keys.
        let root = crate::rootfs::path::open_root(Path::new("/"))?;
        security::sysctl::apply_in(spec, root.as_fd(), Path::new("/proc"))?;
    }
    let mut state = None;
    if init.plan.create_hooks {
        // The parent runs prestart and createRuntime hooks now, then hands
        // us the state for ours (we cannot know our host pid).
        init.chan.send(&Msg::Mounted)?;
        let json = match init.chan.recv()? {
            Some(Msg::State(json)) => json,
            Some(Msg::Error(e)) => return Err(Error::new(e)),
            m => return Err(Error::new(format!("sync: unexpected {m:?}"))),
        };
        let hooks = spec.hooks().as_ref();
        // As runc: createContainer hooks run in the rootfs (a relative
        // path in one names a file of the container's).
        nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
        crate::hooks::run_all(
            "createContainer",
            hooks.and_then(|h| h.create_container().as_ref()),
            &json,
            process_env(init),
        )?;
        // startContainer hooks run during `start`: the container is created.
        let mut created: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| Error::new(format!("sync: state: {e}")))?;
        created["status"] = "created".into();
        state = Some(created.to_string());
    }
    if new_ns.mount {
        crate::rootfs::enter(rootfs, c.no_pivot)?;
    } else {
        // Sharing the host's mount namespace: chroot only, touching no mount.
        nix::unistd::chroot(rootfs).ctx(|| format!("chroot {}", rootfs.display()))?;
        nix::unistd::chdir("/").ctx(|| "chdir /")?;
    }
    Ok(state)
}

/// The process, as far as it can be prepared before `start`: what the
/// config asks of it, up to the uid switch and the capability sets.
fn prepare_process(init: &Init) -> Result<Prepared> {
    let (spec, process) = (init.spec, init.process);
    let user = process.user();
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", security::user::home_of(user.uid())));
    }
    if init.preserve_fds > 0 {
        // sd_listen_fds(3): the passed fds are sockets for the process.
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={}", init.preserve_fds));
        // The pid this process has in its namespace (1 for an init).
        env.push(format!("LISTEN_PID={}", nix::unistd::getpid()));
    }
    let args = process.args().as_deref().unwrap_or_default();
    let Some(arg0) = args.first() else {
        return Err(Error::new("process.args: must not be empty"));
    };
    let program = program::lookup(arg0, &env)?;
    program::check_interpreter(arg0, &program)?;
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
        security::sched::set_scheduler(s)?;
    }
    if let Some(p) = process.io_priority() {
        security::sched::set_io_priority(p)?;
    }
    security::lsm::apply_exec_labels(process)?;
    let trampoline = security::trampoline::prepare()?;
    let cwd = resolve_cwd(process.cwd())?;
    if init.plan.seccomp_at == SeccompAt::BeforeUserSwitch
        && let Some(filter) = init.seccomp
    {
        load_seccomp(init, filter)?;
    }
    // As runc: enter the cwd while we may still reach anything the
    // container's root may; one only the user may enter (root squashed on
    // NFS) is entered again after the switch.
    let entered = match nix::unistd::chdir(process.cwd()) {
        Ok(()) => check_cwd(process.cwd(), &cwd).map(|()| true)?,
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => false,
        Err(e) => return Err(e).ctx(|| format!("process.cwd: chdir {}", process.cwd().display())),
    };
    if let Some(caps) = process.capabilities() {
        security::caps::before_user(caps)?;
    }
    security::user::switch(user, setgroups_allowed(init.plan.new_ns.user))?;
    if let Some(caps) = process.capabilities() {
        security::caps::after_user(caps)?;
    }
    if !entered {
        nix::unistd::chdir(process.cwd())
            .ctx(|| format!("process.cwd: chdir {}", process.cwd().display()))?;
        check_cwd(process.cwd(), &cwd)?;
    }
    drop(cwd);
    security::user::umask(user);
    if process.no_new_privileges() == Some(true) {
        nix::sys::prctl::set_no_new_privs().ctx(|| "prctl no_new_privs")?;
    }
    if init.plan.seccomp_at == SeccompAt::AfterNoNewPrivs
        && let Some(filter) = init.seccomp
    {
        load_seccomp(init, filter)?;
    }
    Ok(Prepared {
        program: CString::new(program.as_os_str().as_encoded_bytes())
            .map_err(|_| Error::new("process.args[0]: NUL byte"))?,
        argv: cstrings(args)?,
        env: cstrings(&env)?,
        trampoline,
    })
}

/// Our /proc/self/fd, opened before the root changes: a container without
/// a mount namespace of its own has no /proc, yet we reopen the exec fifo
/// and list our fds through it.
fn own_fd_dir() -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    nix::fcntl::open("/proc/self/fd", flags, nix::sys::stat::Mode::empty())
        .ctx(|| "open /proc/self/fd")
}

/// The filter still to load right before execve ([`SeccompAt::BeforeExec`]).
fn late_seccomp<'a>(init: &Init<'a>) -> Option<&'a security::seccomp::Filter> {
    init.seccomp
        .filter(|_| init.plan.seccomp_at == SeccompAt::BeforeExec)
}

/// Default signals, no fd but stdio and the preserved ones, the late
/// seccomp filter if not loaded yet, then execve through the trampoline.
/// Returns only on failure.
fn exec_program(
    init: &Init,
    p: Prepared,
    fds: &OwnedFd,
    seccomp: Option<&security::seccomp::Filter>,
) -> Error {
    // The program starts with default signal handling whatever our caller
    // ignored or blocked (a shim or `nohup` may ignore some).
    reset_signals();
    if let Err(e) = crate::sys::cloexec_from(3 + init.preserve_fds, fds.as_fd()) {
        return Error::new(format!("close fds: {}", Error::from(e)));
    }
    if let Some(Err(e)) = seccomp.map(security::seccomp::load) {
        return e;
    }
    let e = security::trampoline::exec(p.trampoline.as_ref(), &p.program, &p.argv, &p.env);
    Error::new(format!("exec {:?}: {}", p.program, Error::from(e)))
}

/// What hooks in the container see when their config gives no env.
fn process_env<'a>(init: &'a Init) -> crate::hooks::DefaultEnv<'a> {
    crate::hooks::DefaultEnv::Process(init.process.env().as_deref().unwrap_or_default())
}

/// Load the filter; a notify listener goes to the parent, which forwards
/// it to the seccomp agent (we cannot reach host paths).
fn load_seccomp(init: &Init, filter: &security::seccomp::Filter) -> Result<()> {
    if let Some(listener) = security::seccomp::load(filter)? {
        init.chan.send_fd(listener.as_fd())?;
    }
    Ok(())
}

fn reset_signals() {
    crate::sys::reset_signal_dispositions();
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
}

/// Block until `hull start` opens the fifo for reading, then tell it we go.
/// Returns our (close-on-exec) end of it.
fn wait_for_start(fifo: &OwnedFd, fds: &OwnedFd) -> Result<std::fs::File> {
    use nix::fcntl::OFlag;
    use std::io::Write;
    let name = fifo.as_raw_fd().to_string();
    let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(fds, name.as_str(), flags, nix::sys::stat::Mode::empty())
        .ctx(|| "exec fifo")?;
    let mut f = std::fs::File::from(fd);
    f.write_all(b"0").ctx(|| "exec fifo")?;
    Ok(f)
}

/// process.cwd resolved inside the container's root with no magic links:
/// an inherited fd (`/proc/self/fd/N`) cannot become a cwd on the host
/// (CVE-2024-21626). Done before seccomp: a profile need not allow openat2
/// (runtime-tools' does not).
fn resolve_cwd(cwd: &Path) -> Result<OwnedFd> {
    let what = || format!("process.cwd: resolve {}", cwd.display());
    let root = crate::rootfs::path::open_root(Path::new("/")).ctx(what)?;
    crate::rootfs::path::open(
        root.as_fd(),
        cwd,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
    )
    .ctx(what)
}

/// After chdir into process.cwd: we must have landed on the directory
/// [`resolve_cwd`] found. stat is the only syscall here, as seccomp may
/// already be loaded.
fn check_cwd(cwd: &Path, resolved: &OwnedFd) -> Result<()> {
    let what = || format!("process.cwd: chdir {}", cwd.display());
    let here = nix::sys::stat::stat(".").ctx(what)?;
    let there = nix::sys::stat::fstat(resolved).ctx(what)?;
    if (here.st_dev, here.st_ino) != (there.st_dev, there.st_ino) {
        return Err(Error::new(format!(
            "{}: not the directory it resolves to inside the container's root",
            what()
        )));
    }
    Ok(())
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
    let name = CString::new(name).map_err(|_| Error::new("keyring name: NUL byte"))?;
    match crate::sys::join_session_keyring(&name) {
        Ok(()) | Err(nix::errno::Errno::ENOSYS) => Ok(()),
        Err(e) => Err(e).ctx(|| "join session keyring"),
    }
}
