//! OCI hooks: run a hook with the container state JSON on stdin, its own
//! args and env, and a timeout; a failure carries the hook's stderr.

use crate::bail;
use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run each hook of a kind in order; the first failure stops.
pub fn run_all(kind: &str, hooks: Option<&Vec<Hook>>, state: &str) -> Result<()> {
    for (i, hook) in hooks.into_iter().flatten().enumerate() {
        run(hook, state).map_err(|e| {
            Error::new(format!(
                "hooks.{kind}[{i}] ({}): {e}",
                hook.path().display()
            ))
        })?;
    }
    Ok(())
}

pub fn run(hook: &Hook, state: &str) -> Result<()> {
    let mut cmd = Command::new(hook.path());
    if let Some((argv0, rest)) = hook.args().as_ref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("start: {}", Error::from(e))))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let mut delay = Duration::from_micros(200);
    let status = loop {
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
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let err = err.trim();
        match status.code() {
            Some(code) if err.is_empty() => bail!("exit status {code}"),
            Some(code) => bail!("exit status {code}: {err}"),
            None => bail!("killed by a signal: {err}"),
        }
    }
    Ok(())
}
