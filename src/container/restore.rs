//! `restore`: a container made again from CRIU's images of a checkpoint,
//! under its old ID or a new one, as runc does it: CRIU is put in the
//! container's cgroup and told where the host mounts, joined namespaces and
//! stdio pipes are now; prestart and createRuntime hooks run once CRIU has
//! made the namespaces; the restored init (CRIU's sibling: our child) is
//! recorded in state.json (status running, its pid, `created` now) and is
//! then a container like any other for `kill`, `exec` and `delete`.
//! A failure at any point leaves nothing: no state dir, cgroup, mount or
//! process.

use super::checkpoint::{cg_mode, config_file, empty_ns, need};
use super::create::{new_state, record, resources, roll_back, write_pid_file};
use crate::bail;
use crate::cgroups::{Cgroup, Driver};
use crate::config::{self, Bundle};
use crate::criu::proto::{CgMode, Features, Opts, Req, ReqType};
use crate::criu::{self, Criu, Session, external};
use crate::error::{Context, Error, Result};
use crate::launch::Child;
use crate::state::{self, State, StateDir};
use nix::mount::{MntFlags, MsFlags};
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

/// `restore`'s flags (runc's, with runc's defaults).
#[derive(Default, Clone, Debug)]
pub struct RestoreOptions {
    /// The images (default: `./checkpoint`).
    pub image_path: PathBuf,
    /// Where CRIU's log and work files go (default: the image directory).
    pub work_path: Option<PathBuf>,
    pub bundle: PathBuf,
    /// Return once restored; else wait for the container, forwarding
    /// signals, delete it and return its exit status.
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    /// The new pty master (process.terminal) goes there.
    pub console_socket: Option<PathBuf>,
    /// In the foreground, do not adopt the container's orphans.
    pub no_subreaper: bool,
    /// Accepted as runc does: CRIU rebuilds the mounts itself.
    pub no_pivot: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    pub cgroup_driver: Driver,
}

/// Restore container `id`; returns 0 once restored with `detach`, else the
/// container's exit status (128+N for signal N).
pub fn restore(root: &Path, id: &str, o: &RestoreOptions) -> Result<i32> {
    state::validate_id(id)?;
    criu::require()?;
    let mode = cg_mode(o.manage_cgroups_mode.as_deref())?;
    let empty = empty_ns(&o.empty_ns)?;
    let bundle = config::load(&o.bundle)?;
    let spec = &bundle.spec;
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && o.console_socket.is_none() {
        bail!("config.json: process.terminal: needs --console-socket");
    }
    if !terminal && o.console_socket.is_some() {
        bail!("--console-socket: given, but config.json: process.terminal is not set");
    }
    if !crate::namespaces::NewNamespaces::of(spec).mount {
        return Err(Error::at(
            "linux.namespaces",
            "restore needs a mount namespace of the container's own",
        ));
    }
    if let Some((_, path)) = external::joined(spec)
        .into_iter()
        .find(|(t, _)| *t == LinuxNamespaceType::Cgroup)
    {
        return Err(Error::at(
            "linux.namespaces",
            format!(
                "cgroup namespace {}: CRIU cannot restore into a given cgroup namespace",
                path.display()
            ),
        ));
    }
    // The rootfs is bound for CRIU in a mount namespace of ours (nothing
    // is mounted on the host, even if we die), entered before CRIU's
    // directories are opened: CRIU works in them through our fds, and
    // mounts its cgroup yard in the work directory, which must then be
    // a mount of the namespace it runs in.
    // The hooks run in the host's, where runc runs them (it mounts for
    // CRIU on the host): a hook's mount must be the host's.
    let host_mount_ns: OwnedFd = std::fs::File::open("/proc/self/ns/mnt")
        .ctx(|| "open /proc/self/ns/mnt")?
        .into();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).ctx(|| "unshare mount namespace")?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make / a slave")?;
    let images = open_images(&o.image_path)?;
    let stdio = read_descriptors(&o.image_path)?;
    let criu = Criu::new()?;
    if o.lazy_pages {
        need(
            &criu,
            "--lazy-pages",
            Features {
                lazy_pages: Some(true),
                ..Features::default()
            },
        )?;
    }
    let work = o
        .work_path
        .as_ref()
        .map(|w| criu::open_dir(w, "--work-path"))
        .transpose()?;
    let log = o
        .work_path
        .clone()
        .unwrap_or_else(|| o.image_path.clone())
        .join("restore.log");
    let cgroups_path = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_deref());
    let mut cgroup = Cgroup::new(cgroups_path, id, o.cgroup_driver)?;
    if !o.detach && !o.no_subreaper {
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "prctl child subreaper")?;
    }
    let (dir, mut st) = new_state(root, id, &bundle, &cgroup)?;
    let request = Request {
        criu: &criu,
        images,
        work,
        stdio,
        mode,
        empty,
        options: o,
        log,
        host_mount_ns,
    };
    // As create: undone in reverse order on failure.
    let result = record(&dir, &mut st, &mut cgroup, spec)
        .and_then(|()| restore_in(&dir, &mut st, &bundle, &cgroup, &request));
    let child = result.map_err(|e| roll_back(e, dir, &mut st, &cgroup, spec))?;
    if o.detach {
        return Ok(0);
    }
    let waited = crate::foreground::Signals::block(false)
        .and_then(|signals| crate::foreground::wait(&child, None, Some(&signals)));
    let code = match waited {
        Ok(status) => status.code(),
        Err(e) => {
            crate::launch::kill_and_reap(&child);
            let _ = super::delete::delete(root, id, true);
            return Err(e);
        }
    };
    super::delete::delete(root, id, true)?;
    Ok(code)
}

/// What a restore asks of CRIU, besides the container.
struct Request<'a> {
    criu: &'a Criu,
    images: OwnedFd,
    work: Option<OwnedFd>,
    /// The dumped init's fds 0-2 (descriptors.json).
    stdio: Vec<String>,
    mode: CgMode,
    empty: u32,
    options: &'a RestoreOptions,
    log: PathBuf,
    /// Where the hooks run: the host's mount namespace, which this process
    /// left for one of its own.
    host_mount_ns: OwnedFd,
}

fn open_images(dir: &Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("--image-path {}", dir.display()))
}

/// descriptors.json of a checkpoint (hull's or runc's).
fn read_descriptors(dir: &Path) -> Result<Vec<String>> {
    let path = dir.join(criu::DESCRIPTORS);
    let text = std::fs::read(&path).map_err(|e| {
        Error::new(format!(
            "--image-path {}: {}: {} (not a checkpoint?)",
            dir.display(),
            criu::DESCRIPTORS,
            Error::from(e)
        ))
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::new(format!("{}: {e}", path.display())))
}

/// CRIU's restore, from its start to the restored init recorded.
fn restore_in(
    dir: &StateDir,
    st: &mut State,
    bundle: &Bundle,
    cgroup: &Cgroup,
    r: &Request,
) -> Result<Child> {
    let spec = &bundle.spec;
    // exec reads the container's config from here: the bundle may go away.
    std::fs::copy(bundle.dir.join("config.json"), dir.path.join("config.json"))
        .ctx(|| "keep config.json")?;
    // The rootfs bound where CRIU wants it: a mount point whose parent is
    // not overmounted (in our own mount namespace, see restore).
    make_mount_points(bundle)?;
    let criu_root = RootBind::new(&dir.path.join("criu-root"), &bundle.rootfs)?;

    let o = r.options;
    let mut opts = Opts {
        images_dir_fd: criu::fd_number(&r.images),
        work_dir_fd: r.work.as_ref().map(criu::fd_number),
        evasive_devices: true,
        log_level: 4,
        log_file: "restore.log".into(),
        rst_sibling: true,
        root: Some(criu_root.path.display().to_string()),
        manage_cgroups: true,
        manage_cgroups_mode: Some(r.mode),
        notify_scripts: true,
        shell_job: o.shell_job,
        ext_unix_sk: o.ext_unix_sk,
        tcp_established: o.tcp_established,
        file_locks: o.file_locks,
        empty_ns: r.empty,
        orphan_pts_master: true,
        auto_dedup: o.auto_dedup,
        lazy_pages: o.lazy_pages,
        config_file: config_file(&st.annotations),
        ext_mnt: external::restore_mounts(spec, &bundle.dir, Some(cgroup)),
        ..Opts::default()
    };
    // The dumped init's pipes become CRIU's stdio (ours): an engine's
    // pipes reach the restored process.
    for (fd, what) in r.stdio.iter().enumerate() {
        if what.contains("pipe:") {
            opts.inherit_fd.push((what.clone(), fd as i32));
        }
    }
    // Namespaces the config joins: network and pid given to CRIU as fds
    // by the dump's keys, the others joined.
    let mut ns_files = Vec::new();
    for (typ, path) in external::joined(spec) {
        let name = external::criu_ns_name(typ);
        if matches!(typ, LinuxNamespaceType::Network | LinuxNamespaceType::Pid) {
            let f = std::fs::File::open(&path).map_err(|e| {
                Error::at(
                    "linux.namespaces",
                    format!("{name} {}: {}", path.display(), Error::from(e)),
                )
            })?;
            // CRIU's fds: 0-2 stdio, 3 the socket, then these.
            opts.inherit_fd
                .push((criu::external_ns_key(name), 4 + ns_files.len() as i32));
            ns_files.push(OwnedFd::from(f));
        } else {
            opts.join_ns
                .push((name.to_string(), path.display().to_string()));
        }
    }
    let extra: Vec<_> = ns_files.iter().map(|f| f.as_fd()).collect();
    let session = Session::start(&r.criu.path, &extra, true)?;
    // CRIU restores the tasks into the cgroup it is in: the container's.
    let criu_pid = session.pid();
    match cgroup.systemd_unit() {
        // The scope is started with CRIU in it, then its limits set.
        Some(_) => cgroup.enter(criu_pid, &resources(spec), false)?,
        // Every hierarchy (CRIU is not a child of ours that joins its v1
        // cgroups itself, as a create's init does).
        None => cgroup.add_pid(criu_pid)?,
    }
    opts.cg_root = cgroup_roots(criu_pid)?;
    let mut req = Req::new(ReqType::Restore);
    req.opts = Some(opts);

    let console = o.console_socket.clone();
    let hooks = spec.hooks().clone();
    let mut on_notify = |n: criu::Notify| -> Result<()> {
        match n.script.as_str() {
            // The namespaces exist, no process of the container runs yet.
            "setup-namespaces" => {
                let mut s = st.clone();
                s.pid = n.pid;
                let json = super::state::to_json_status(&s, "creating").to_string();
                let env = crate::hooks::DefaultEnv::Runtime;
                let h = hooks.as_ref();
                let ns = Some(r.host_mount_ns.as_fd());
                crate::hooks::run_all_in(
                    "prestart",
                    h.and_then(|h| h.prestart().as_ref()),
                    &json,
                    env,
                    ns,
                )?;
                crate::hooks::run_all_in(
                    "createRuntime",
                    h.and_then(|h| h.create_runtime().as_ref()),
                    &json,
                    env,
                    ns,
                )
            }
            "post-restore" => {
                st.pid = n.pid;
                st.start_time = state::process_start_time(n.pid)
                    .ok_or_else(|| Error::new("restored init gone at once"))?;
                st.created = state::rfc3339_now(true);
                dir.save(st)
            }
            // The dumped pty's master is gone with the old engine: CRIU
            // made a new one, which goes where a create's would.
            "orphan-pts-master" => {
                let (Some(master), Some(socket)) = (n.fd, &console) else {
                    bail!("criu sent a pty master, but there is no --console-socket to give it to");
                };
                let sock = crate::console::connect(socket)?;
                crate::sys::send_fd(sock.as_fd(), master.as_fd(), "orphan-pts-master")
            }
            _ => Ok(()),
        }
    };
    let resp = session
        .call(&req, &mut on_notify)
        .map_err(|e| criu::explain(e, "restore", &r.log))?;
    drop(criu_root);
    let pid = match (st.pid, resp.restored_pid) {
        (0, Some(pid)) => {
            st.start_time = state::process_start_time(pid).unwrap_or(0);
            pid
        }
        (pid, _) => pid,
    };
    st.pid = pid;
    let pidfd = crate::sys::pidfd_open(pid).ctx(|| "open the restored init")?;
    if !st.alive() {
        bail!("the restored init {pid} is gone");
    }
    st.creating = false;
    dir.save(st)?;
    if let Some(f) = &o.pid_file {
        write_pid_file(f, pid)?;
    }
    crate::log::debug(|| format!("restore {}: restored, init pid {pid}", st.id));
    Ok(Child {
        pid,
        pidfd,
        in_cgroup: false,
    })
}

/// CRIU's cgroup roots: where it is now, in each hierarchy (its line of
/// /proc/PID/cgroup), so the tasks land in the container's cgroup.
fn cgroup_roots(pid: i32) -> Result<Vec<(Option<String>, String)>> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).ctx(|| format!("read {path}"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrl, dir) = (f.next()?, f.next()?, f.next()?);
            // The unified hierarchy has no controller name: every one.
            let ctrl = (!ctrl.is_empty()).then(|| ctrl.to_string());
            Some((ctrl, dir.to_string()))
        })
        .collect())
}

/// Mount points of bind mounts missing from the rootfs (a restore on
/// another host, or from another bundle), made as create makes them,
/// inside the rootfs; not under a tmpfs mount, whose content CRIU restores.
fn make_mount_points(bundle: &Bundle) -> Result<()> {
    use crate::rootfs::path::{self as rpath, Kind};
    let mounts = bundle.spec.mounts().as_deref().unwrap_or_default();
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let root = rpath::open_root(&bundle.rootfs)?;
    for (m, opts) in mounts.iter().zip(&bundle.mounts) {
        let dest = m.destination();
        if !opts.is_bind() || tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t) {
            continue;
        }
        if rpath::open(root.as_fd(), dest, nix::fcntl::OFlag::O_PATH).is_ok() {
            continue;
        }
        let src = m
            .source()
            .as_ref()
            .map(|s| bundle.dir.join(s))
            .unwrap_or_default();
        let kind = match std::fs::metadata(&src).is_ok_and(|m| !m.is_dir()) {
            true => Kind::File,
            false => Kind::Dir,
        };
        rpath::create(root.as_fd(), dest, kind)
            .map_err(|e| Error::new(format!("restore: mount point {}: {e}", dest.display())))?;
    }
    Ok(())
}

/// The rootfs bound at `path` (in our own mount namespace) while CRIU
/// works; unmounted and its directory removed on drop, before anything may
/// remove the state dir around it.
struct RootBind {
    path: PathBuf,
}

impl RootBind {
    fn new(path: &Path, rootfs: &Path) -> Result<RootBind> {
        std::fs::create_dir(path).ctx(|| format!("create {}", path.display()))?;
        let bind = RootBind {
            path: std::fs::canonicalize(path).ctx(|| format!("resolve {}", path.display()))?,
        };
        nix::mount::mount(
            Some(rootfs),
            &bind.path,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .ctx(|| format!("bind rootfs {} for criu", rootfs.display()))?;
        Ok(bind)
    }
}

impl Drop for RootBind {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.path, MntFlags::MNT_DETACH);
        // Only an empty directory: never what a mount may still show.
        let _ = std::fs::remove_dir(&self.path);
    }
}
