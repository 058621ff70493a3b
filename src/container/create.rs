//! `create`: set the container up and leave its init blocked on the exec
//! fifo until `start`. What a failure leaves is undone by `roll_back`, in
//! reverse order, and the state dir is written before the cgroup exists,
//! so that even our death leaves `delete --force` what to remove.

use crate::bail;
use crate::cgroups::{Cgroup, Driver};
use crate::config::{self, Bundle};
use crate::error::{Context, Error, Result};
use crate::init::{self, Container, Init, Plan};
use crate::launch::{self, Failed};
use crate::namespaces::{self, Joins};
use crate::state::{self, State, StateDir};
use crate::sync::{self, Channel, Msg};
use crate::sys;
use nix::sys::stat::Mode as FileMode;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where a terminal's pty master goes.
#[derive(Default, Clone, Debug)]
pub enum Console {
    #[default]
    None,
    /// `--console-socket PATH`: the engine's unix socket.
    Socket(PathBuf),
    /// An already connected socket (fd number), for `hull run` and the driver.
    Fd(std::os::fd::RawFd),
}

#[derive(Default, Clone)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub console: Console,
    /// fds to become the container's 0, 1, 2 (None: inherit ours). For
    /// library callers (the driver) whose pipes are not their own stdio.
    pub stdio: Option<[std::os::fd::RawFd; 3]>,
    /// `--pidfd-socket`: a unix socket to send the init's pidfd to.
    pub pidfd_socket: Option<PathBuf>,
    /// `--systemd-cgroup`: who makes the container's cgroup.
    pub cgroup_driver: Driver,
}

/// A created container whose init is our child.
pub type Created = launch::Child;

/// Create container `id`, its init a child of our process waiting for
/// `start`. Safe in a threaded program (see `crate::launch`).
pub fn create(root: &Path, id: &str, opts: &CreateOptions) -> Result<Created> {
    state::validate_id(id)?;
    let bundle = config::load(&opts.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && matches!(opts.console, Console::None) {
        bail!(
            "config.json: process.terminal: needs --console-socket (or `hull run` in the foreground)"
        );
    }
    if !terminal && matches!(opts.console, Console::Socket(_)) {
        bail!("--console-socket: given, but config.json: process.terminal is not set");
    }
    sys::check_preserved_fds(opts.preserve_fds)?;
    if crate::rootless::unprivileged() && !namespaces::NewNamespaces::of(&bundle.spec).user {
        return Err(Error::at(
            "linux.namespaces",
            "hull is not run by root: the container needs a new user namespace (`hull spec --rootless` writes one)",
        ));
    }
    // A bad profile is refused before the host is touched.
    let seccomp = compile_seccomp(&bundle.spec)?;
    let linux = bundle.spec.linux().as_ref();
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let mut cgroup = Cgroup::new(cgroups_path, id, opts.cgroup_driver)?;
    let (dir, mut st) = new_state(root, id, &bundle, &cgroup)?;
    crate::log::debug(|| {
        format!(
            "create {id}: bundle {}, rootfs {}",
            bundle.dir.display(),
            bundle.rootfs.display()
        )
    });
    // On failure, undo in reverse order.
    let result = record(&dir, &mut st, &mut cgroup, &bundle.spec).and_then(|()| {
        setup(
            &dir,
            &mut st,
            &bundle,
            &cgroup,
            opts,
            terminal,
            seccomp.as_ref(),
        )
    });
    result.map_err(|e| roll_back(e, dir, &mut st, &cgroup, &bundle.spec))
}

/// A new container's state dir, locked, and its first state (creating),
/// once its cgroup is known to be no one else's (a refused one is not
/// ours to remove: the dir goes, the cgroup stays).
pub(crate) fn new_state(
    root: &Path,
    id: &str,
    bundle: &Bundle,
    cgroup: &Cgroup,
) -> Result<(StateDir, State)> {
    let dir = StateDir::create(root, id)?;
    if let Err(e) = check_cgroup_unused(cgroup) {
        let _ = dir.remove();
        return Err(e);
    }
    let st = State {
        id: dir.id.clone(),
        pid: 0,
        start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: state::rfc3339_now(true),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        owner: String::new(),
        cgroup: Some(cgroup.clone()),
        hooks: bundle.spec.hooks().clone(),
        creating: true,
    };
    Ok((dir, st))
}

/// Record the state before the cgroup exists (if we die from here on,
/// `delete --force` finds what to remove), then make the cgroup; rootless,
/// the hierarchies we may not use are left out, and recorded so.
pub(crate) fn record(
    dir: &StateDir,
    st: &mut State,
    cgroup: &mut Cgroup,
    spec: &Spec,
) -> Result<()> {
    dir.save(st)?;
    if cgroup.prepare(&resources(spec))? {
        st.cgroup = Some(cgroup.clone());
        dir.save(st)?;
    }
    Ok(())
}

pub(crate) fn resources(spec: &Spec) -> oci_spec::runtime::LinuxResources {
    let linux = spec.linux().as_ref();
    linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default()
}

/// Undo a failed create: kill what is in the cgroup (a hook may have left
/// processes, not only the init), remove the cgroup, then the state dir,
/// then run the poststop hooks (spec v1.3, lifecycle steps 12-13). Every
/// step is tried; what could not be undone stays recorded, for `delete
/// --force` to finish, and is named in the error.
pub(crate) fn roll_back(
    e: Error,
    dir: StateDir,
    st: &mut State,
    cgroup: &Cgroup,
    spec: &Spec,
) -> Error {
    let killed = cgroup.kill_all(nix::libc::SIGKILL);
    let removed = cgroup.destroy();
    st.pid = 0;
    let e = match killed.and(removed) {
        Ok(()) => match dir.remove() {
            Ok(()) => e,
            Err(r) => Error::new(format!("{e}; and cleaning up: {r}")),
        },
        Err(u) => {
            let _ = dir.save(st);
            Error::new(format!(
                "{e}; and cleaning up: {u} (left for `hull delete --force {}`)",
                st.id
            ))
        }
    };
    let poststop = spec.hooks().as_ref().and_then(|h| h.poststop().as_ref());
    if poststop.is_some_and(|h| !h.is_empty()) {
        let json = crate::container::state::to_json(st, state::Status::Stopped);
        crate::hooks::run_all_warn("poststop", poststop, &json.to_string());
    }
    e
}

/// A cgroup that exists already may be frozen, which would hang our init
/// in it (runc refuses too, and leaves it as it is); one that holds
/// processes is shared, as the config may mean, but worth a warning.
pub(crate) fn check_cgroup_unused(cgroup: &Cgroup) -> Result<()> {
    if cgroup.is_frozen()? {
        bail!("container's cgroup unexpectedly frozen");
    }
    let pids = cgroup.pids().unwrap_or_default();
    // A scope is one unit: systemd would refuse it, and undoing that
    // failed create would kill the processes of its owner.
    if let Some(unit) = cgroup.systemd_unit().filter(|_| !pids.is_empty()) {
        bail!(
            "linux.cgroupsPath: the scope {unit} already exists, with {} process(es) in it",
            pids.len()
        );
    }
    if !pids.is_empty() {
        crate::log::warn(&format!(
            "container's cgroup is not empty: {} process(es) already in it",
            pids.len()
        ));
    }
    Ok(())
}

fn setup(
    dir: &StateDir,
    st: &mut State,
    bundle: &Bundle,
    cgroup: &Cgroup,
    opts: &CreateOptions,
    terminal: bool,
    seccomp: Option<&crate::security::seccomp::Filter>,
) -> Result<Created> {
    let spec = &bundle.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::new("config.json: process: missing"))?;
    let fifo = make_fifo(dir, spec)?;
    let joins = Joins::open(spec)?;
    let console = if terminal {
        Some(connect_console(&opts.console)?)
    } else {
        None
    };
    // exec reads the container's config from here: the bundle may go away.
    std::fs::copy(bundle.dir.join("config.json"), dir.path.join("config.json"))
        .ctx(|| "keep config.json")?;
    let chans = sync::pair()?;
    let plan = Plan::of(spec, process, seccomp);
    let time_ns = match plan.new_ns.time {
        true => Some(namespaces::prepare_time_namespace(spec)?),
        false => None,
    };
    // Opened by us where we may read more than the container's root will
    // (a user who is not root may not clone mounts, and reads no more),
    // and wherever a mount is idmapped.
    let all_binds = plan.new_ns.user && !crate::rootless::unprivileged();
    let idmapped = bundle.mounts.iter().any(|o| o.idmap.is_some());
    let bind_sources = match all_binds || idmapped {
        true => {
            crate::rootfs::mounts::open_bind_sources(spec, &bundle.mounts, &bundle.dir, all_binds)?
        }
        false => Vec::new(),
    };
    let self_join = cgroup.self_join()?;
    let for_children = joins.enter_for_children()?;

    let flags = namespaces::clone_flags(spec).bits() as u64;
    let in_child = |chan| {
        let init = Init {
            plan,
            spec,
            process,
            chan,
            joins: &joins,
            preserve_fds: opts.preserve_fds,
            seccomp,
            console,
            stdio: opts.stdio,
            self_join,
        };
        init::create(
            init,
            Container {
                rootfs: &bundle.rootfs,
                bundle: &bundle.dir,
                mounts: &bundle.mounts,
                bind_sources,
                no_pivot: opts.no_pivot,
                fifo,
                cgroup,
                new_keyring: (!opts.no_new_keyring).then(|| dir.id.clone()),
            },
        )
    };
    let in_parent = |child: &Created, chan: &Channel| {
        // Our own namespaces back before any hook runs.
        drop(for_children);
        drop(time_ns);
        parent_side(dir, st, spec, &plan, cgroup, opts, seccomp, child, chan)
            .map_err(|e| child_said(e, child, chan))
    };
    let born_in = cgroup.unified_fd();
    let born_in = born_in.as_ref().map(|fd| fd.as_fd());
    match launch::launch(
        "clone container init",
        flags,
        born_in,
        chans,
        in_child,
        in_parent,
    ) {
        Ok(created) => Ok(created),
        Err(Failed { error, child }) => Err(match child {
            Some(c) => {
                let e = explain_death(error, &c, cgroup, spec);
                launch::kill_and_reap(&c);
                e
            }
            None => error,
        }),
    }
}

/// The parent's part of the handshake, from the clone until the init
/// waits for `start`.
#[allow(clippy::too_many_arguments)]
fn parent_side(
    dir: &StateDir,
    st: &mut State,
    spec: &Spec,
    plan: &Plan,
    cgroup: &Cgroup,
    opts: &CreateOptions,
    seccomp: Option<&crate::security::seccomp::Filter>,
    child: &Created,
    chan: &Channel,
) -> Result<()> {
    let pid = child.pid;
    // Recorded at once, so that a `delete --force` after our death
    // finds it; it dies by itself then (see Msg::Created).
    st.pid = pid;
    st.start_time = state::process_start_time(pid).ok_or_else(|| Error::new(sync::PEER_GONE))?;
    dir.save(st)?;
    crate::log::debug(|| format!("create {}: init cloned, pid {pid}", st.id));
    if plan.new_ns.user {
        namespaces::write_id_maps(pid, spec)?;
    }
    // Before any code of the container runs.
    cgroup.enter(pid, &resources(spec), child.in_cgroup)?;
    chan.send(&Msg::Go)?;
    if plan.create_hooks {
        run_runtime_hooks(chan, spec, st)?;
    }
    let creating = crate::container::state::to_json_status(st, "creating");
    forward_listener(chan, spec, seccomp, pid, creating)?;
    chan.expect(Msg::Ready)?;
    st.creating = false;
    dir.save(st)?;
    if let Some(f) = &opts.pid_file {
        write_pid_file(f, pid)?;
    }
    if let Some(socket) = &opts.pidfd_socket {
        send_pidfd(socket, child.pidfd.as_fd())?;
    }
    // Only now may the init outlive us.
    chan.send(&Msg::Created)?;
    crate::log::debug(|| format!("create {}: created, init waits for start", st.id));
    Ok(())
}

/// An init that went without a word may have said why just before it
/// went (found dead before we read it): once it is gone its end is
/// closed, so this read does not wait.
fn child_said(e: Error, c: &Created, chan: &Channel) -> Error {
    if e.message() != sync::PEER_GONE {
        return e;
    }
    // It closed its end, or was found dead: it is dying, if not dead.
    if !sys::pidfd_wait_exit(c.pidfd.as_fd(), 1000).unwrap_or(false) {
        return e;
    }
    chan.last_error().map_or(e, Error::new)
}

/// An init that died without a word (killed, or dead before it could
/// report): say how it died, and, for an OOM kill in its cgroup, which
/// limit did it, rather than a bare "exited during setup". Only the
/// parent may look, hence apart from [`child_said`].
fn explain_death(e: Error, c: &Created, cgroup: &Cgroup, spec: &Spec) -> Error {
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    if e.message() != sync::PEER_GONE {
        return e;
    }
    // Looked at through its pidfd and left unreaped (kill_and_reap reaps
    // it), so no pid is ever waited for twice: in a threaded caller it may
    // be another's by then.
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    let status = waitid(Id::PIDFd(c.pidfd.as_fd()), flags);
    match status {
        Ok(WaitStatus::Exited(_, code)) => Error::new(format!(
            "container init exited with status {code} during setup"
        )),
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            let mut text = format!("container init was killed by {sig} during setup");
            if sig == nix::sys::signal::Signal::SIGKILL && cgroup.oom_kills().unwrap_or(0) > 0 {
                let limit = spec
                    .linux()
                    .as_ref()
                    .and_then(|l| l.resources().as_ref())
                    .and_then(|r| r.memory().as_ref())
                    .and_then(|m| m.limit());
                text += &match limit {
                    Some(l) => format!(": out of memory (linux.resources.memory.limit: {l})"),
                    None => ": out of memory in its cgroup".to_string(),
                };
            }
            Error::new(text)
        }
        _ => e,
    }
}

/// Once the init has mounted: prestart and createRuntime hooks here, in
/// the runtime namespace, then the state for the container's own hooks.
fn run_runtime_hooks(chan: &Channel, spec: &Spec, st: &State) -> Result<()> {
    chan.expect(Msg::Mounted)?;
    let json = crate::container::state::to_json_status(st, "creating").to_string();
    let hooks = spec.hooks().as_ref();
    let runtime = crate::hooks::DefaultEnv::Runtime;
    let result = crate::hooks::run_all(
        "prestart",
        hooks.and_then(|h| h.prestart().as_ref()),
        &json,
        runtime,
    )
    .and_then(|()| {
        crate::hooks::run_all(
            "createRuntime",
            hooks.and_then(|h| h.create_runtime().as_ref()),
            &json,
            runtime,
        )
    });
    match result {
        Ok(()) => chan.send(&Msg::State(json)),
        Err(e) => {
            let _ = chan.send(&Msg::Error(e.to_string()));
            Err(e)
        }
    }
}

/// The exec fifo, 0622 whatever our umask and owned by the container's
/// root, so an init that is not host root can open it; returned as the
/// O_PATH fd the init reopens through /proc/self/fd.
fn make_fifo(dir: &StateDir, spec: &Spec) -> Result<OwnedFd> {
    let path = dir.fifo();
    nix::unistd::mkfifo(&path, FileMode::from_bits_truncate(0o622)).ctx(|| "create exec fifo")?;
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &path,
        FileMode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| "chmod exec fifo")?;
    let (uid, gid) = namespaces::container_root_ids(spec);
    nix::unistd::chown(&path, Some(uid), Some(gid)).ctx(|| "chown exec fifo")?;
    nix::fcntl::open(
        &path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        FileMode::empty(),
    )
    .ctx(|| "open exec fifo")
}

/// The console socket as an fd the child inherits.
pub fn connect_console(console: &Console) -> Result<OwnedFd> {
    match console {
        Console::Socket(path) => Ok(crate::console::connect(path)?.into()),
        // SAFETY: the caller owns this fd for the duration of create; we dup it.
        Console::Fd(fd) => unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) }
            .try_clone_to_owned()
            .ctx(|| "console fd"),
        Console::None => bail!("process.terminal: no console socket"),
    }
}

pub fn compile_seccomp(spec: &Spec) -> Result<Option<crate::security::seccomp::Filter>> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let filter = crate::security::seccomp::compile(profile)?;
    crate::security::notify::validate(profile, filter.notify)?;
    Ok(Some(filter))
}

/// With SCMP_ACT_NOTIFY the child sends its listener before Ready: pass it
/// on to the agent with the container state.
pub fn forward_listener(
    chan: &Channel,
    spec: &Spec,
    filter: Option<&crate::security::seccomp::Filter>,
    pid: i32,
    state: serde_json::Value,
) -> Result<()> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(());
    };
    if !filter.is_some_and(|f| f.notify) {
        return Ok(());
    }
    let listener = chan.recv_fd()?;
    crate::security::notify::send_listener(profile, listener, pid, state)
}

/// `--pidfd-socket` (runc 1.2): the process's pidfd over a unix socket, as
/// SCM_RIGHTS with the payload "pidfd", for a caller that wants to wait for
/// or signal it without pid reuse races.
pub fn send_pidfd(socket: &Path, pidfd: std::os::fd::BorrowedFd) -> Result<()> {
    let what = || format!("--pidfd-socket {}", socket.display());
    let sock = std::os::unix::net::UnixStream::connect(socket).ctx(what)?;
    sys::send_fd(sock.as_fd(), pidfd, "pidfd").map_err(|e| Error::new(format!("{}: {e}", what())))
}

/// Written atomically (temp file + rename): engines read it as soon as create returns.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path).ctx(|| format!("pid file {}", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    let what = || format!("write pid file {}", path.display());
    std::fs::write(&tmp, pid.to_string()).ctx(what)?;
    std::fs::rename(&tmp, &path).ctx(what)
}
