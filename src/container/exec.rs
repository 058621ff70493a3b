//! `exec`: a new process in a running container, in all of its
//! namespaces and its cgroup, with the container's security settings
//! unless the process says otherwise. Cloned from hull like the init (no
//! re-exec); the sync channel closing on execve tells us it started.

use super::create::{self, Console};
use crate::bail;
use crate::cgroups::SubCgroups;
use crate::error::{Error, Result};
use crate::foreground::{Signals, Tty};
use crate::init::{self, Init, Plan};
use crate::launch::{self, Failed};
use crate::namespaces::Joins;
use crate::state::{State, StateDir, Status};
use crate::sync::{self, Channel, Msg};
use crate::sys;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec};
use std::path::Path;

#[derive(Default, Clone)]
pub struct ExecOptions {
    pub detach: bool,
    pub pid_file: Option<std::path::PathBuf>,
    pub console: Console,
    pub preserve_fds: u32,
    pub ignore_paused: bool,
    /// Sub-cgroups of the container's to join: `--cgroup`'s arguments,
    /// `[CONTROLLER[,CONTROLLER]:]PATH` (see [`crate::cgroups::SubCgroups`]).
    pub sub_cgroups: Vec<String>,
    /// `--pidfd-socket`: a unix socket to send the process's pidfd to.
    pub pidfd_socket: Option<std::path::PathBuf>,
}

/// `process` with a console of (rows, cols).
fn with_console_size(process: &Process, (rows, cols): (u16, u16)) -> Process {
    let mut sized = process.clone();
    let size = oci_spec::runtime::BoxBuilder::default()
        .height(rows as u64)
        .width(cols as u64)
        .build()
        .ok();
    sized.set_console_size(size);
    sized
}

/// The container's config as `create` kept it.
pub fn container_spec(dir: &StateDir) -> Result<Spec> {
    crate::config::load_spec(&dir.path.join("config.json")).map(|(spec, _)| spec)
}

/// Run `process` in container `id`. Returns its exit status, or 0 with
/// `detach` once it runs. Safe in a threaded program (see `crate::launch`).
pub fn exec(root: &Path, id: &str, process: &Process, opts: &ExecOptions) -> Result<i32> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    crate::log::debug(|| format!("exec {id}: into pid {}", st.pid));
    match super::status(&dir.path, &st) {
        Status::Running => {}
        Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => bail!("cannot exec in a paused container (use --ignore-paused)"),
        Status::Stopped => bail!("cannot exec in a stopped container"),
        Status::Creating => bail!("cannot exec in a container that is still being created"),
    }
    let spec = container_spec(&dir)?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("exec: process.args: must not be empty");
    }
    crate::security::lsm::validate_process(process, "exec: process")?;
    let terminal = process.terminal().unwrap_or(false);
    // In the foreground without a console socket, the pty is ours to relay
    // to our own terminal, as `hull run` does (and runc exec -t).
    let mut console_opt = opts.console.clone();
    let relay = if terminal && matches!(opts.console, Console::None) {
        if opts.detach {
            bail!("exec: a terminal with --detach needs --console-socket");
        }
        let (ours, theirs) = crate::foreground::console_pair()?;
        console_opt = Console::Fd(std::os::fd::AsRawFd::as_raw_fd(&theirs));
        Some((ours, theirs))
    } else {
        None
    };
    // The process may look at its size at once: give the pty ours from
    // the start, not only once we relay.
    let sized;
    let process = match relay.as_ref().and_then(|_| crate::console::get_size(0)) {
        Some(size) if process.console_size().is_none() => {
            sized = with_console_size(process, size);
            &sized
        }
        _ => process,
    };
    if !terminal && matches!(opts.console, Console::Socket(_)) {
        bail!("exec: --console-socket given without a terminal (--tty)");
    }
    sys::check_preserved_fds(opts.preserve_fds)?;
    // Checked before there is a process to kill over it.
    let subs = SubCgroups::parse(&opts.sub_cgroups)?;
    let mut joins = Joins::of_process(st.pid)?;
    let seccomp = create::compile_seccomp(&spec)?;
    let console = if terminal {
        Some(create::connect_console(&console_opt)?)
    } else {
        None
    };
    let chans = sync::pair()?;
    // Drop our lock: a long-running exec must not block state/kill/delete.
    drop(dir);
    if crate::rootless::unprivileged() {
        // Only in the container's user namespace may we join its others.
        joins.enter_user_here()?;
    }
    let for_children = joins.enter_for_children()?;
    let affinity = process.exec_cpu_affinity().as_ref();
    let our_cpus = RestoreAffinity(nix::sched::sched_getaffinity(Pid::from_raw(0)).ok());
    if let Some(initial) = affinity.and_then(|a| a.initial().as_deref()) {
        // We are the runtime parent the spec means: the child inherits it.
        crate::security::sched::set_affinity(initial, "initial")?;
    }
    // Decided here, before the clone: the child only follows it.
    let plan = Plan::of(&spec, process, seccomp.as_ref());
    let self_join = match (&st.cgroup, subs.is_empty()) {
        (Some(cgroup), true) => cgroup.self_join()?,
        _ => crate::cgroups::SelfJoin::default(),
    };
    let in_child = |chan| {
        init::exec(Init {
            plan,
            spec: &spec,
            process,
            chan,
            joins: &joins,
            preserve_fds: opts.preserve_fds,
            seccomp: seccomp.as_ref(),
            console,
            stdio: None,
            self_join,
        })
    };
    let in_parent = |child: &create::Created, chan: &Channel| {
        // Our own settings back: we may live on (wait, library callers).
        drop((for_children, our_cpus));
        parent_side(&st, &spec, opts, &subs, seccomp.as_ref(), child, chan)
    };
    // Born in the container's unified directory, unless bound elsewhere.
    let born_in = match subs.is_empty() {
        true => st.cgroup.as_ref().and_then(|c| c.unified_fd()),
        false => None,
    };
    let born_in = born_in.as_ref().map(std::os::fd::AsFd::as_fd);
    let created = match launch::launch("clone exec process", 0, born_in, chans, in_child, in_parent)
    {
        Ok(created) => created,
        Err(Failed { error, child }) => {
            if let Some(c) = child {
                launch::kill_and_reap(&c);
            }
            return Err(error);
        }
    };
    if opts.detach {
        return Ok(0);
    }
    // In the foreground as `hull run`: signals forwarded, our terminal
    // relayed if the process has a pty of ours.
    let signals = Signals::block(relay.is_some())?;
    let tty = match relay {
        Some((ours, theirs)) => {
            drop(theirs);
            let master = crate::foreground::recv_master(std::os::fd::AsFd::as_fd(&ours))?;
            Some(Tty::new(master, Some(0), Some(1), true)?)
        }
        None => None,
    };
    Ok(crate::foreground::wait(&created, tty.as_ref(), Some(&signals))?.code())
}

/// The parent's part: into the cgroup, the handshake, then wait for the
/// channel to close at the process's execve.
fn parent_side(
    st: &State,
    spec: &Spec,
    opts: &ExecOptions,
    subs: &SubCgroups,
    seccomp: Option<&crate::security::seccomp::Filter>,
    child: &create::Created,
    chan: &Channel,
) -> Result<()> {
    let pid = child.pid;
    if let Some(cgroup) = &st.cgroup {
        if subs.is_empty() {
            cgroup.add_joined(pid, child.in_cgroup)?;
        } else {
            cgroup.add_pid_to(subs, pid)?;
        }
    }
    chan.send(&Msg::Go)?;
    let running = super::state::to_json(st, Status::Running);
    create::forward_listener(chan, spec, seccomp, pid, running)?;
    chan.expect(Msg::Ready)?;
    // The channel is close-on-exec: end of file means execve succeeded.
    match chan.recv()? {
        None => {}
        Some(Msg::Error(e)) => return Err(Error::new(e)),
        Some(m) => return Err(Error::new(format!("sync: unexpected {m:?}"))),
    }
    // As runc: a pid file that cannot be written ends the process.
    if let Some(f) = &opts.pid_file {
        create::write_pid_file(f, pid)?;
    }
    match &opts.pidfd_socket {
        Some(socket) => create::send_pidfd(socket, std::os::fd::AsFd::as_fd(&child.pidfd)),
        None => Ok(()),
    }
}

/// Our CPU affinity as it was before `execCPUAffinity.initial` changed it
/// for the child to inherit, set back when dropped.
struct RestoreAffinity(Option<nix::sched::CpuSet>);

impl Drop for RestoreAffinity {
    fn drop(&mut self) {
        if let Some(cpus) = &self.0 {
            let _ = nix::sched::sched_setaffinity(Pid::from_raw(0), cpus);
        }
    }
}
