//! CRIU through its RPC interface, as runc drives it: `criu swrk 3` is
//! started with one end of a SOCK_SEQPACKET socketpair as its fd 3, hull
//! sends one request (a protobuf `criu_req`, see [`proto`]) and reads
//! responses until the one of its type, answering each notification
//! (`setup-namespaces`, `post-restore`, `orphan-pts-master`, ...) once the
//! caller has acted on it. One request per CRIU process.
//!
//! Nothing here runs unless `checkpoint`, `restore`, `features` or the
//! help asks: no lifecycle command searches PATH for criu.

pub mod external;
pub mod proto;

use crate::bail;
use crate::error::{Context, Error, Result};
use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, send, socketpair,
};
use proto::{Features, Req, ReqType, Resp, Version};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// The oldest CRIU hull drives: every RPC option it sets exists there
/// (external namespaces need 3.11 and 3.15, the cgroup v2 freezer 3.14,
/// notifications of lazy pages 3.15).
pub const MIN_VERSION: Version = Version(31500);

/// `criu` in PATH, as runc and crun run it.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// [`find`], or the error every checkpoint/restore command gives without it.
pub fn require() -> Result<PathBuf> {
    find().ok_or_else(|| {
        Error::new(
            "criu not found in PATH: checkpoint and restore need CRIU (Debian: apt-get install criu)",
        )
    })
}

/// A CRIU at `path`, its version known.
pub struct Criu {
    pub path: PathBuf,
    pub version: Version,
}

impl Criu {
    /// Find criu and ask its version (one `criu swrk` run); one older than
    /// [`MIN_VERSION`] is refused.
    pub fn new() -> Result<Criu> {
        let path = require()?;
        let resp =
            Session::start(&path, &[], false)?.call(&Req::new(ReqType::Version), &mut no_notify)?;
        let version = resp
            .version
            .ok_or_else(|| Error::new(format!("{}: no version in its answer", path.display())))?;
        if version < MIN_VERSION {
            bail!(
                "criu {version} at {} is too old: hull needs {MIN_VERSION} or newer",
                path.display()
            );
        }
        Ok(Criu { path, version })
    }

    /// Whether this CRIU and kernel have `want`'s features; the missing
    /// ones named by their RPC names.
    pub fn missing_features(&self, want: Features) -> Result<Vec<&'static str>> {
        let mut req = Req::new(ReqType::FeatureCheck);
        req.features = Some(want);
        let have = Session::start(&self.path, &[], false)?
            .call(&req, &mut no_notify)?
            .features
            .unwrap_or_default();
        let mut missing = Vec::new();
        if want.mem_track == Some(true) && have.mem_track != Some(true) {
            missing.push("mem_track");
        }
        if want.lazy_pages == Some(true) && have.lazy_pages != Some(true) {
            missing.push("lazy_pages");
        }
        Ok(missing)
    }
}

/// For requests that expect no notification.
fn no_notify(_: Notify) -> Result<()> {
    Ok(())
}

/// A notification from CRIU in the middle of a request.
pub struct Notify {
    pub script: String,
    pub pid: i32,
    /// An fd sent along (`orphan-pts-master`: the new pty master).
    pub fd: Option<OwnedFd>,
}

/// One `criu swrk` process and our end of its socket.
pub struct Session {
    child: std::process::Child,
    sock: OwnedFd,
}

impl Session {
    /// Start `criu swrk 3`, its fd 3 the socket, `extra` its fds 4, 5, ...
    /// (for `inherit_fd`). Its stdio: ours with `our_stdio` (a restore
    /// hands the restored process's pipes over through it), else
    /// /dev/null, as runc. No other fd of ours goes.
    pub fn start(criu: &Path, extra: &[BorrowedFd], our_stdio: bool) -> Result<Session> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "criu: socketpair")?;
        // The fds CRIU gets, from 3 on; a fixed array: nothing is
        // allocated between fork and exec.
        const MAX: usize = 8;
        if extra.len() >= MAX {
            bail!("criu: more than {} fds to pass", MAX - 1);
        }
        let mut passed: [RawFd; MAX] = [-1; MAX];
        passed[0] = theirs.as_raw_fd();
        for (slot, f) in passed[1..].iter_mut().zip(extra) {
            *slot = f.as_raw_fd();
        }
        let count = 1 + extra.len();
        let mut cmd = std::process::Command::new(criu);
        cmd.args(["swrk", "3"]);
        if !our_stdio {
            use std::process::Stdio;
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        // SAFETY: only raw syscalls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Every source above the targets first, so that no dup2
                // below closes a source sitting on a target.
                let mut high: [RawFd; MAX] = [-1; MAX];
                for (h, &fd) in high.iter_mut().zip(&passed[..count]) {
                    *h = nix::libc::fcntl(fd, nix::libc::F_DUPFD_CLOEXEC, 100);
                    if *h < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for (i, &h) in high[..count].iter().enumerate() {
                    // dup2 leaves the new fd without close-on-exec.
                    if nix::libc::dup2(h, 3 + i as RawFd) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                crate::sys::cloexec_from_in_child(3 + count as u32);
                Ok(())
            })
        };
        let child = cmd.spawn().map_err(|e| {
            Error::new(format!("start {} swrk: {}", criu.display(), Error::from(e)))
        })?;
        drop(theirs);
        Ok(Session { child, sock: ours })
    }

    /// CRIU's pid (restore puts it in the container's cgroup first).
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Send `req`, pass each notification to `on_notify` (an error there
    /// ends the request: CRIU sees the socket close and undoes what it
    /// did), and return the response to `req`. CRIU's own failure is an
    /// error: "criu TYPE failed: ..." with its message, or its errno.
    pub fn call(
        mut self,
        req: &Req,
        on_notify: &mut dyn FnMut(Notify) -> Result<()>,
    ) -> Result<Resp> {
        let result = self.exchange(req, on_notify);
        // Done with the socket: CRIU exits once it is closed.
        drop(self.sock);
        let status = self.child.wait();
        let resp = result?;
        match status {
            Ok(s) if s.success() => Ok(resp),
            // After a pre-dump CRIU waits for the next request of its
            // series; the socket closed, it ends as it can (runc too
            // ignores how).
            Ok(_) if req.typ == ReqType::PreDump => Ok(resp),
            Ok(s) => bail!("criu {} exited with {s}", req.typ.name()),
            Err(e) => Err(Error::new(format!("wait for criu: {}", Error::from(e)))),
        }
    }

    fn exchange(
        &mut self,
        req: &Req,
        on_notify: &mut dyn FnMut(Notify) -> Result<()>,
    ) -> Result<Resp> {
        self.send(req)?;
        loop {
            let (resp, fd) = self.recv(req.typ)?;
            if !resp.success {
                let mut why = resp.cr_errmsg.clone().unwrap_or_default();
                if let Some(errno) = resp.cr_errno.filter(|e| *e != 0) {
                    let e = nix::errno::Errno::from_raw(errno);
                    why = match why.is_empty() {
                        true => format!("{}", Error::from(e)),
                        false => format!("{why} ({})", Error::from(e)),
                    };
                }
                if why.is_empty() {
                    why = "no reason given".into();
                }
                return Err(CriuFailed(why).into());
            }
            match resp.typ {
                Some(ReqType::Notify) => {
                    let (script, pid) = resp.notify.clone().unwrap_or_default();
                    crate::log::debug(|| format!("criu: notify {script} (pid {pid})"));
                    on_notify(Notify { script, pid, fd })?;
                    let mut ack = Req::new(ReqType::Notify);
                    ack.notify_success = true;
                    self.send(&ack)?;
                }
                Some(t) if t == req.typ => return Ok(resp),
                t => bail!("criu {}: unexpected answer of type {t:?}", req.typ.name()),
            }
        }
    }

    fn send(&self, req: &Req) -> Result<()> {
        let bytes = req.encode();
        send(self.sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
            .ctx(|| format!("criu {}: send request", req.typ.name()))?;
        Ok(())
    }

    fn recv(&self, typ: ReqType) -> Result<(Resp, Option<OwnedFd>)> {
        let mut buf = vec![0u8; 10 * 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = loop {
            match recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => {
                    let mut fd = None;
                    for c in msg.cmsgs().ctx(|| "criu: control message")? {
                        if let ControlMessageOwned::ScmRights(fds) = c {
                            for (i, raw) in fds.into_iter().enumerate() {
                                // SAFETY: the kernel installed these fds for us.
                                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                                if i == 0 {
                                    fd = Some(owned);
                                }
                            }
                        }
                    }
                    break (msg.bytes, fd);
                }
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).ctx(|| format!("criu {}: read answer", typ.name())),
            }
        };
        if n == 0 {
            bail!("criu {}: it exited without an answer", typ.name());
        }
        let resp = Resp::decode(&buf[..n])
            .map_err(|e| Error::new(format!("criu {}: bad answer: {e}", typ.name())))?;
        Ok((resp, fd))
    }
}

/// CRIU said the request failed (its message, else its errno): the caller
/// adds where CRIU's log is.
#[derive(Debug)]
pub struct CriuFailed(pub String);

impl From<CriuFailed> for Error {
    fn from(e: CriuFailed) -> Error {
        Error::new(format!("{CRIU_FAILED}{}", e.0))
    }
}

/// How [`Session::call`]'s error for CRIU's own failure begins.
const CRIU_FAILED: &str = "criu failed: ";

/// The error of a failed dump or restore, made to say why and where to
/// look: CRIU's first `Error` line of `log` (its message in the RPC answer
/// is often empty), and the log's path.
pub fn explain(e: Error, what: &str, log: &Path) -> Error {
    let Some(said) = e.message().strip_prefix(CRIU_FAILED) else {
        return Error::new(format!("{what}: {e} (log: {})", log.display()));
    };
    let from_log = first_error(log);
    let why = from_log.unwrap_or_else(|| said.to_string());
    Error::new(format!(
        "{what}: criu failed: {why} (log: {})",
        log.display()
    ))
}

/// The first line of a CRIU log that reports an error, without its
/// timestamp: `Error (criu/vdso.c:256): vdso: Unexpected rt vDSO area bounds`.
pub fn first_error(log: &Path) -> Option<String> {
    let text = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().find(|l| l.contains("Error ("))?;
    // "(00.012345) Error (...)": the elapsed time goes.
    let line = match line.trim_start().strip_prefix('(') {
        Some(rest) => rest.split_once(") ").map_or(line, |(_, l)| l),
        None => line,
    };
    Some(line.trim().to_string())
}

/// An image or work directory: made if missing (0700, as runc), opened
/// for CRIU, which reaches it through /proc/OUR_PID/fd.
pub fn open_dir(dir: &Path, what: &str) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    match nix::unistd::mkdir(dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
        Err(e) => return Err(e).ctx(|| format!("{what} {}", dir.display())),
    }
    nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("{what} {}", dir.display()))
}

/// The fd number CRIU is given for a directory we hold open.
pub fn fd_number(fd: &OwnedFd) -> i32 {
    fd.as_fd().as_raw_fd()
}

/// CRIU's key for a namespace the container shares (runc's names, so a
/// checkpoint of either restores with the other): `extRootNetNS`.
pub fn external_ns_key(ns: &str) -> String {
    let mut c = ns.chars();
    let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
    format!("extRoot{first}{}NS", c.as_str())
}

/// The fds 0-2 of a process as /proc shows them (`pipe:[1234]`,
/// `/dev/null`): what a restore must give back (descriptors.json, as runc
/// writes it).
pub fn stdio_of(pid: i32) -> Vec<String> {
    (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "/dev/null".to_string())
        })
        .collect()
}

/// The name of descriptors.json in an image directory.
pub const DESCRIPTORS: &str = "descriptors.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_external_namespaces_are_runcs() {
        assert_eq!(external_ns_key("net"), "extRootNetNS");
        assert_eq!(external_ns_key("pid"), "extRootPidNS");
    }

    #[test]
    fn the_first_error_of_a_log_without_its_time() {
        let dir = std::env::temp_dir().join(format!("hull-criu-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        std::fs::write(
            &log,
            "(00.000010) Version: 3.17.1\n(00.001000) Warn (criu/kerndat.c:1): x\n\
             (00.002117) Error (criu/vdso.c:256): vdso: Unexpected rt vDSO area bounds\n\
             (00.002200) Error (criu/cr-dump.c:2): Dumping FAILED.\n",
        )
        .unwrap();
        assert_eq!(
            first_error(&log).as_deref(),
            Some("Error (criu/vdso.c:256): vdso: Unexpected rt vDSO area bounds")
        );
        let e = explain(
            CriuFailed("no reason given".into()).into(),
            "checkpoint",
            &log,
        );
        assert_eq!(
            e.message(),
            format!(
                "checkpoint: criu failed: Error (criu/vdso.c:256): vdso: Unexpected rt vDSO area bounds (log: {})",
                log.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
