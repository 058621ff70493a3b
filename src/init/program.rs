//! Finding the program to execute inside the container, with the error
//! phrases engines map to exit codes 127 and 126.

use crate::bail;
use crate::error::{Result, errno_text};
use nix::unistd::{AccessFlags, access};
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn check(name: &str, p: &Path) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| {
        crate::error::Error::new(format!(
            "exec: {name:?}: stat {}: {}",
            p.display(),
            crate::error::Error::from(e)
        ))
    })?;
    if meta.is_dir() {
        bail!("exec: {name:?}: is a directory");
    }
    if let Err(e) = access(p, AccessFlags::X_OK) {
        bail!("exec: {name:?}: {}", errno_text(e));
    }
    Ok(())
}

/// A script's interpreter must exist: the final execve runs through the
/// trampoline, which cannot tell why it failed, so the usual cause is
/// reported here, before the container starts.
pub fn check_interpreter(name: &str, program: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(program)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    let Some(line) = head[..n].strip_prefix(b"#!") else {
        return Ok(());
    };
    let line = line.split(|b| *b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let Some(interp) = text.split_whitespace().next() else {
        return Ok(());
    };
    if !Path::new(interp).exists() {
        bail!("exec: {name:?}: no such file or directory (interpreter {interp})");
    }
    Ok(())
}

/// Resolve args[0] in the container (after pivot_root) against `$PATH` of
/// the process's env, as execvp would.
pub fn lookup(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        check(name, Path::new(name))?;
        return Ok(PathBuf::from(name));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(name);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
            && access(&candidate, AccessFlags::X_OK).is_ok()
        {
            return Ok(candidate);
        }
    }
    bail!("exec: {name:?}: executable file not found in $PATH")
}
