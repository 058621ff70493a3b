//! `checkpoint`: a running container's processes dumped by CRIU into an
//! image directory, as runc does it: the container's host mounts and
//! joined namespaces named for CRIU, its cgroup frozen by CRIU, then
//! (unless `--leave-running` or `--pre-dump`) the container deleted, its
//! processes being gone.

use crate::bail;
use crate::criu::proto::{CgMode, Features, Opts, Req, ReqType};
use crate::criu::{self, Criu, Session, external};
use crate::error::{Error, Result};
use crate::state::{StateDir, Status};
use std::path::{Path, PathBuf};

/// `checkpoint`'s flags (runc's, with runc's defaults).
#[derive(Default, Clone, Debug)]
pub struct CheckpointOptions {
    /// Where the images go (default: `./checkpoint`).
    pub image_path: PathBuf,
    /// Where CRIU's log and work files go (default: the image directory).
    pub work_path: Option<PathBuf>,
    /// A previous pre-dump's images, relative to `image_path`.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    /// `ADDRESS:PORT` of a page server.
    pub page_server: Option<String>,
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: namespaces created empty on restore (only `network`,
    /// which is always so: hull does not manage network devices, as runc).
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    /// With `lazy_pages`: an fd CRIU's readiness is reported on (`\0`).
    pub status_fd: Option<i32>,
}

/// runc's empty_ns: the network namespace is always restored empty.
pub fn empty_ns(names: &[String]) -> Result<u32> {
    let mut mask = nix::libc::CLONE_NEWNET as u32;
    for ns in names {
        match ns.as_str() {
            "network" => mask |= nix::libc::CLONE_NEWNET as u32,
            _ => bail!("--empty-ns: namespace {ns:?} is not supported (only \"network\")"),
        }
    }
    Ok(mask)
}

/// `--manage-cgroups-mode` as CRIU's mode.
pub fn cg_mode(mode: Option<&str>) -> Result<CgMode> {
    let mode = mode.unwrap_or("");
    CgMode::parse(mode).ok_or_else(|| {
        Error::new(format!(
            "--manage-cgroups-mode: invalid value {mode:?} (soft, full, strict or ignore)"
        ))
    })
}

/// The CRIU config file runc-like runtimes give (the annotation
/// `org.criu.config` names another; empty: none).
pub fn config_file(annotations: &std::collections::HashMap<String, String>) -> Option<String> {
    match annotations.get("org.criu.config") {
        Some(f) if f.is_empty() => None,
        Some(f) => Some(f.clone()),
        None => Some("/etc/criu/hull.conf".into()),
    }
}

/// `--page-server ADDRESS:PORT`.
fn page_server(s: &str) -> Result<(String, i32)> {
    let bad = || Error::new("--page-server: use ADDRESS:PORT");
    let (addr, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if addr.is_empty() || port.is_empty() {
        return Err(bad());
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| Error::new(format!("--page-server: invalid port {port:?}")))?;
    Ok((addr.to_string(), i32::from(port)))
}

pub fn checkpoint(root: &Path, id: &str, o: &CheckpointOptions) -> Result<()> {
    criu::require()?;
    // Refusals that need no container first.
    let mode = cg_mode(o.manage_cgroups_mode.as_deref())?;
    let empty = empty_ns(&o.empty_ns)?;
    let ps = o.page_server.as_deref().map(page_server).transpose()?;
    if let Some(p) = &o.parent_path
        && p.is_absolute()
    {
        bail!("--parent-path: must be relative (to --image-path)");
    }
    if o.status_fd.is_some() && !o.lazy_pages {
        bail!("--status-fd: only with --lazy-pages");
    }
    if let Some(fd) = o.status_fd {
        check_status_fd(fd)?;
    }
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    match super::status(&dir.path, &st) {
        Status::Running | Status::Paused => {}
        s => bail!(
            "container {id:?} cannot be checkpointed in {} state",
            s.as_str()
        ),
    }
    let criu = Criu::new()?;
    if o.pre_dump {
        need(
            &criu,
            "--pre-dump",
            Features {
                mem_track: Some(true),
                ..Features::default()
            },
        )?;
    }
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
    let (spec, _) = crate::config::load_spec(&dir.path.join("config.json"))?;

    std::fs::create_dir_all(&o.image_path).map_err(|e| {
        Error::new(format!(
            "--image-path {}: {}",
            o.image_path.display(),
            Error::from(e)
        ))
    })?;
    let images = criu::open_dir(&o.image_path, "--image-path")?;
    if let Some(p) = &o.parent_path {
        let parent = o.image_path.join(p);
        if !parent.is_dir() {
            bail!("--parent-path: {} is not a directory", parent.display());
        }
    }
    let work = o
        .work_path
        .as_ref()
        .map(|w| criu::open_dir(w, "--work-path"))
        .transpose()?;
    let log_dir = o.work_path.clone().unwrap_or_else(|| o.image_path.clone());
    let log_file = "dump.log";

    let mut opts = Opts {
        images_dir_fd: criu::fd_number(&images),
        work_dir_fd: work.as_ref().map(criu::fd_number),
        pid: Some(st.pid),
        log_level: 4,
        log_file: log_file.into(),
        root: Some(st.rootfs.display().to_string()),
        manage_cgroups: true,
        manage_cgroups_mode: Some(mode),
        notify_scripts: true,
        shell_job: o.shell_job,
        leave_running: o.leave_running,
        tcp_established: o.tcp_established,
        tcp_skip_in_flight: o.tcp_skip_in_flight,
        link_remap: o.link_remap,
        ext_unix_sk: o.ext_unix_sk,
        file_locks: o.file_locks,
        empty_ns: empty,
        orphan_pts_master: true,
        auto_dedup: o.auto_dedup,
        lazy_pages: o.lazy_pages,
        page_server: ps,
        config_file: config_file(&st.annotations),
        external: external::dump_namespaces(&spec)?,
        ..Opts::default()
    };
    // CRIU freezes the cgroup rather than ptrace-stopping every task.
    opts.freeze_cgroup = st
        .cgroup
        .as_ref()
        .and_then(|c| c.freezer_dir())
        .map(|d| d.display().to_string());
    if let Some(p) = &o.parent_path {
        opts.parent_img = Some(p.display().to_string());
        opts.track_mem = true;
    }
    let typ = if o.pre_dump {
        ReqType::PreDump
    } else {
        ReqType::Dump
    };
    if !o.pre_dump {
        opts.ext_mnt = external::dump_mounts(&spec, &st.bundle, st.cgroup.as_ref(), st.pid);
        // The init's stdio, for the restore to give back (runc's file).
        let fds = serde_json::to_vec(&criu::stdio_of(st.pid)).unwrap_or_default();
        let path = o.image_path.join(criu::DESCRIPTORS);
        std::fs::write(&path, fds)
            .map_err(|e| Error::new(format!("write {}: {}", path.display(), Error::from(e))))?;
    }
    let mut req = Req::new(typ);
    req.opts = Some(opts);
    crate::log::debug(|| format!("checkpoint {id}: criu {} {:?}", criu.version, req.typ));
    let status_fd = o.status_fd;
    let mut on_notify = |n: criu::Notify| -> Result<()> {
        // Lazy pages: the page server is ready.
        if n.script == "status-ready"
            && let Some(fd) = status_fd
        {
            // SAFETY: the caller's fd, checked open for writing; only
            // written to.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            let _ = nix::unistd::write(fd, &[0]);
        }
        Ok(())
    };
    Session::start(&criu.path, &[], false)?
        .call(&req, &mut on_notify)
        .map_err(|e| criu::explain(e, "checkpoint", &log_dir.join(log_file)))?;
    drop(dir);
    if !o.leave_running && !o.pre_dump {
        // CRIU killed the processes; what is left is ours to remove.
        super::delete::delete(root, id, true)?;
    }
    Ok(())
}

/// `--status-fd`: an open fd we may write to.
fn check_status_fd(fd: i32) -> Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    // SAFETY: only looked at, never closed here.
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let flags = fcntl(b, FcntlArg::F_GETFL)
        .map_err(|e| Error::new(format!("--status-fd {fd}: {}", Error::from(e))))?;
    let acc = OFlag::from_bits_truncate(flags) & OFlag::O_ACCMODE;
    if acc == OFlag::O_RDONLY {
        bail!("--status-fd {fd}: not open for writing");
    }
    Ok(())
}

/// A flag this CRIU (or kernel) cannot honour is an error naming it.
pub fn need(criu: &Criu, flag: &str, want: Features) -> Result<()> {
    let missing = criu.missing_features(want).map_err(|e| {
        Error::new(format!(
            "{flag}: criu {}'s feature check: {e}",
            criu.version
        ))
    })?;
    if missing.is_empty() {
        return Ok(());
    }
    let why = match missing[0] {
        "mem_track" => "memory change tracking (the kernel's soft-dirty bits)",
        _ => "lazy pages (userfaultfd)",
    };
    bail!(
        "{flag}: criu {} on this kernel cannot do it: it lacks {why} (criu feature check: {})",
        criu.version,
        missing.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_as_runcs() {
        assert_eq!(cg_mode(None).unwrap(), CgMode::Default);
        assert_eq!(cg_mode(Some("strict")).unwrap(), CgMode::Strict);
        assert!(
            cg_mode(Some("bogus"))
                .unwrap_err()
                .message()
                .contains("--manage-cgroups-mode")
        );
        assert_eq!(empty_ns(&[]).unwrap(), nix::libc::CLONE_NEWNET as u32);
        assert!(
            empty_ns(&["pid".into()])
                .unwrap_err()
                .message()
                .contains("\"pid\"")
        );
        assert_eq!(page_server("10.0.0.1:27").unwrap(), ("10.0.0.1".into(), 27));
        assert_eq!(page_server("[::1]:27").unwrap(), ("::1".into(), 27));
        assert!(page_server("host").is_err());
        assert!(page_server("host:x").is_err());
        let mut a = std::collections::HashMap::new();
        assert_eq!(config_file(&a).as_deref(), Some("/etc/criu/hull.conf"));
        a.insert("org.criu.config".into(), String::new());
        assert_eq!(config_file(&a), None);
    }
}
