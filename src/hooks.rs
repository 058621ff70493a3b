//! OCI hooks: run a hook with the container state JSON on stdin, its own
//! args and env, and a timeout; a failure carries the hook's stderr.

use crate::bail;
use crate::error::{Error, Result};
use nix::libc;
use oci_spec::runtime::Hook;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment of a hook whose config gives none, as runc: the
/// runtime's own for hooks run by the runtime, the container process's
/// for the ones run in the container (createContainer, startContainer).
#[derive(Clone, Copy)]
pub enum DefaultEnv<'a> {
    Runtime,
    Process(&'a [String]),
}

/// Run each hook of a kind in order; the first failure stops.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &str, env: DefaultEnv) -> Result<()> {
    run_all_in(kind, hooks, state, env, None)
}

/// [`run_all`], each hook in the mount namespace `mount_ns` rather than
/// hull's own: restore's, which runs in a namespace of its own for CRIU's
/// mounts, while a hook's mounts must land on the host, as with runc.
pub fn run_all_in(
    kind: &str,
    hooks: Option<&Vec<Hook>>,
    state: &str,
    env: DefaultEnv,
    mount_ns: Option<BorrowedFd>,
) -> Result<()> {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        run(hook, state, env, mount_ns).map_err(|e| in_hook(kind, i, hook, e))?;
    }
    Ok(())
}

/// Run every hook of a kind, a failure only warned about (poststop:
/// spec v1.3 says log a warning and go on with the rest).
pub fn run_all_warn(kind: &str, hooks: Option<&Vec<Hook>>, state: &str) {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        if let Err(e) = run(hook, state, DefaultEnv::Runtime, None) {
            crate::log::warn(&in_hook(kind, i, hook, e).to_string());
        }
    }
}

/// "error running hook", as runc words it (its tests and log readers
/// look for it).
fn in_hook(kind: &str, i: usize, hook: &Hook, e: Error) -> Error {
    let detail = format!("error running hook {}: {e}", hook.path().display());
    Error::at(&format!("hooks.{kind}[{i}]"), detail)
}

fn run(hook: &Hook, state: &str, env: DefaultEnv, mount_ns: Option<BorrowedFd>) -> Result<()> {
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_ref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    let vars = match (hook.env(), env) {
        (Some(vars), _) => Some(vars.as_slice()),
        (None, DefaultEnv::Process(vars)) => Some(vars),
        (None, DefaultEnv::Runtime) => None,
    };
    if let Some(vars) = vars {
        cmd.env_clear();
        for kv in vars {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // A hook gets its stdio and nothing else of hull's or of its caller's.
    let mount_ns = mount_ns.map(|fd| fd.as_raw_fd());
    // SAFETY: only raw syscalls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = mount_ns
                && libc::setns(fd, libc::CLONE_NEWNS) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            crate::sys::cloexec_from_in_child(3);
            Ok(())
        })
    };
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("start: {}", Error::from(e))))?;
    // Feed stdin and drain stderr without blocking, so that neither a hook
    // that does not read its stdin nor one that writes a lot to stderr can
    // outlive its timeout (or hang hull without one).
    let mut stdin = child.stdin.take().filter(|p| nonblocking(p.as_fd()));
    let mut stderr = child.stderr.take().filter(|p| nonblocking(p.as_fd()));
    let mut input = state.as_bytes();
    let mut err = Vec::new();
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut delay = Duration::from_micros(200);
    let status = loop {
        if let Some(pipe) = &mut stdin {
            match pipe.write(input) {
                Ok(n) => input = &input[n..],
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // A hook that does not read its stdin is fine.
                Err(_) => input = &[],
            }
            if input.is_empty() {
                stdin = None; // end of file for the hook
            }
        }
        drain(&mut stderr, &mut err);
        if let Some(status) = child.try_wait().map_err(Error::from)? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", hook.timeout().unwrap_or(0));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    };
    if !status.success() {
        drain(&mut stderr, &mut err);
        let err = String::from_utf8_lossy(&err);
        let err = err.trim();
        match status.code() {
            Some(code) if err.is_empty() => bail!("exit status {code}"),
            Some(code) => bail!("exit status {code}: {err}"),
            None => {
                let sig = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
                let how = signal_text(sig);
                match err {
                    "" => bail!("killed by {how}"),
                    _ => bail!("killed by {how}: {err}"),
                }
            }
        }
    }
    Ok(())
}

/// `SIGSYS (bad system call)`: a seccomp kill is then plain to see.
fn signal_text(sig: i32) -> String {
    let name =
        nix::sys::signal::Signal::try_from(sig).map_or(format!("signal {sig}"), |s| s.to_string());
    // SAFETY: strsignal returns a string that stays valid until the next
    // call in this thread; it is copied at once.
    let desc = unsafe { std::ffi::CStr::from_ptr(nix::libc::strsignal(sig)) };
    let desc = desc.to_string_lossy();
    let mut chars = desc.chars();
    let lower: String = chars
        .next()
        .map(|c| c.to_lowercase().chain(chars).collect())
        .unwrap_or_default();
    format!("{name} ({lower})")
}

/// The most of a hook's stderr kept for the error message.
const STDERR_MAX: usize = 16 * 1024;

fn nonblocking(fd: BorrowedFd) -> bool {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    fcntl(fd, FcntlArg::F_GETFL).is_ok_and(|flags| {
        let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
        fcntl(fd, FcntlArg::F_SETFL(flags)).is_ok()
    })
}

/// Read what the pipe has now (closing it at end of file), keeping the
/// first STDERR_MAX bytes.
fn drain(pipe: &mut Option<ChildStderr>, out: &mut Vec<u8>) {
    let Some(p) = pipe else { return };
    let mut buf = [0u8; 4096];
    loop {
        match p.read(&mut buf) {
            Ok(0) => {
                *pipe = None;
                return;
            }
            Ok(n) => {
                let room = STDERR_MAX.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
