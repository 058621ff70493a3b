//! `create`: set the container up and leave its init blocked on the exec
//! fifo until `start`. Every host change registers its undo, so a failure
//! leaves nothing behind.

use crate::cgroups::Cgroup;
use crate::config::{self, Bundle};
use crate::error::{Context, Error, Result};
use crate::init::{self, Init};
use crate::namespaces::{self, Joins};
use crate::state::{self, State, StateDir};
use crate::sync::{self, Msg};
use crate::sys::{self, Forked};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Default, Clone)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
}

/// A created container whose init is our child.
pub struct Created {
    pub pid: i32,
    pub pidfd: OwnedFd,
}

pub fn create(root: &Path, id: &str, opts: &CreateOptions) -> Result<Created> {
    state::validate_id(id)?;
    let bundle = config::load(&opts.bundle)?;
    let linux = bundle.spec.linux().as_ref();
    let cgroup = Cgroup::new(linux.and_then(|l| l.cgroups_path().as_deref()), id)?;
    let dir = StateDir::create(root, id)?;
    // Undo in reverse order of what was done.
    let result = cgroup.create().and_then(|()| {
        let resources = linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default();
        cgroup.apply(&resources)?;
        setup(&dir, &bundle, &cgroup, opts)
    });
    if result.is_err() {
        let _ = cgroup.destroy();
        let _ = dir.remove();
    }
    result
}

fn setup(
    dir: &StateDir,
    bundle: &Bundle,
    cgroup: &Cgroup,
    opts: &CreateOptions,
) -> Result<Created> {
    let spec = &bundle.spec;
    let fifo_path = dir.fifo();
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622)).ctx(|| "create exec fifo")?;
    // Exactly 0622 whatever our umask, and owned by the container's root, so
    // an init that is not host root (process.user, user namespace) can open it.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &fifo_path,
        Mode::from_bits_truncate(0o622),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| "chmod exec fifo")?;
    let (uid, gid) = namespaces::container_root_ids(spec);
    nix::unistd::chown(&fifo_path, Some(uid), Some(gid)).ctx(|| "chown exec fifo")?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "open exec fifo")?;
    let joins = Joins::open(spec)?;
    let seccomp = compile_seccomp(spec)?;
    let (parent_end, child_end) = sync::pair()?;
    if config::new_namespace(spec, LinuxNamespaceType::Time) {
        namespaces::prepare_time_namespace(spec)?;
    }
    joins.enter_pid_for_children()?;

    let flags = namespaces::clone_flags(spec).bits() as u64;
    let (pid, pidfd) = match sys::clone3(flags, None).ctx(|| "clone container init")? {
        Forked::Child => {
            drop(parent_end);
            init::run(Init {
                spec,
                rootfs: &bundle.rootfs,
                bundle: &bundle.dir,
                chan: child_end,
                fifo: Some(fifo),
                joins: &joins,
                no_pivot: opts.no_pivot,
                preserve_fds: opts.preserve_fds,
                new_keyring: (!opts.no_new_keyring).then(|| dir.id.clone()),
                seccomp: seccomp.as_ref(),
                cgroup: Some(cgroup),
                deadline: bundle.deadline,
            })
        }
        Forked::Parent { pid, pidfd } => (pid, pidfd),
    };
    drop(child_end);
    let created = Created { pid, pidfd };
    let result = (|| {
        if config::new_namespace(spec, LinuxNamespaceType::User) {
            namespaces::write_id_maps(pid, spec)?;
        }
        // Before any code of the container runs.
        cgroup.add_pid(pid)?;
        parent_end.send(&Msg::Go)?;
        parent_end.expect(Msg::Ready)?;
        let start_time = state::process_start_time(pid)
            .ok_or_else(|| Error::new("container init exited during setup"))?;
        let st = State {
            id: dir.id.clone(),
            pid,
            start_time,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: state::rfc3339_now(true),
            annotations: spec.annotations().clone().unwrap_or_default(),
            owner: String::new(),
            cgroup: Some(cgroup.clone()),
            hooks: spec.hooks().clone(),
        };
        dir.save(&st)?;
        if let Some(f) = &opts.pid_file {
            write_pid_file(f, pid)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => Ok(created),
        Err(e) => {
            kill_and_reap(&created);
            Err(e)
        }
    }
}

fn compile_seccomp(
    spec: &oci_spec::runtime::Spec,
) -> Result<Option<crate::security::seccomp::Filter>> {
    let Some(profile) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    let filter = crate::security::seccomp::compile(profile)?;
    if filter.notify {
        // The listener fd must reach linux.seccomp.listenerPath; until that
        // is built, refuse rather than run with a filter nobody answers.
        crate::bail!("linux.seccomp: SCMP_ACT_NOTIFY is not supported by hull yet");
    }
    Ok(Some(filter))
}

/// SIGKILL our child and reap it.
pub fn kill_and_reap(c: &Created) {
    let _ = sys::pidfd_send_signal(c.pidfd.as_fd(), nix::libc::SIGKILL);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(c.pid), None);
}

/// Written atomically (temp file + rename): engines read it as soon as create returns.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path).ctx(|| format!("pid file {}", path.display()))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("write pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).ctx(|| format!("write pid file {}", path.display()))
}
