//! Reading and writing cgroupfs files, with errors that name the config
//! field and value.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;

use crate::error::{Context, Error, Result, errno_text};

/// The errno of a failed file operation (EIO if it has none).
pub(super) fn errno(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32))
}

/// One write(2) of `value` (newline-terminated, as `echo` does) to
/// `dir/file`. Opened without O_TRUNC but with O_APPEND: cgroupfs ignores
/// both, and on the plain files of a test tree every write stays visible.
pub(super) fn write_raw(dir: &Path, file: &str, value: &str) -> std::result::Result<(), Errno> {
    write_held(&mut None, dir, file, value)
}

/// `write_raw` through `held`, which keeps the file open for the next
/// write: the kernel takes one v1 devices rule per write(2), and a
/// container has some twenty.
pub(super) fn write_held(
    held: &mut Option<File>,
    dir: &Path,
    file: &str,
    value: &str,
) -> std::result::Result<(), Errno> {
    let f = match held {
        Some(f) => f,
        None => held.insert(
            OpenOptions::new()
                .append(true)
                .custom_flags(nix::libc::O_CLOEXEC)
                .open(dir.join(file))
                .map_err(errno)?,
        ),
    };
    let line = if value.ends_with('\n') {
        value.to_string()
    } else {
        format!("{value}\n")
    };
    match f.write(line.as_bytes()) {
        Ok(n) if n == line.len() => Ok(()),
        Ok(_) => Err(Errno::EIO),
        Err(e) => Err(errno(e)),
    }
}

/// The error for a failed write of `value` to `dir/file` for config `field`.
pub(super) fn field_error(dir: &Path, file: &str, value: &str, field: &str, e: Errno) -> Error {
    let value = value.trim_end();
    match e {
        Errno::ENOENT if !dir.exists() => {
            Error::new(format!("{field}: cgroup {} does not exist", dir.display()))
        }
        Errno::ENOENT => Error::new(format!(
            "{field}: not supported on this host (no {file} in {})",
            dir.display()
        )),
        e => Error::new(format!(
            "{field}: write {value} to {file}: {}",
            errno_text(e)
        )),
    }
}

/// Write `value` to `dir/file` on behalf of config `field`.
pub(super) fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    write_raw(dir, file, value).map_err(|e| field_error(dir, file, value, field, e))
}

pub(super) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).ctx(|| format!("read {}", path.display()))
}

/// None when the file does not exist (an absent feature).
pub(super) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match std::fs::read_to_string(dir.join(file)) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        r => r
            .map(Some)
            .ctx(|| format!("read {}", dir.join(file).display())),
    }
}

/// The value of a one-value file. The last line counts: test trees keep
/// every write.
pub(super) fn last_line(text: &str) -> &str {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

/// A number, `max` meaning u64::MAX.
pub(super) fn parse_u64(text: &str) -> Option<u64> {
    match last_line(text) {
        "max" => Some(u64::MAX),
        v => v.parse().ok(),
    }
}

pub(super) fn read_u64(dir: &Path, file: &str) -> Result<u64> {
    let text = read(dir, file)?;
    parse_u64(&text).ok_or_else(|| {
        Error::new(format!(
            "{}: not a number: {text:?}",
            dir.join(file).display()
        ))
    })
}

/// 0 when absent: statistics the kernel does not keep.
pub(super) fn read_u64_or_zero(dir: &Path, file: &str) -> Result<u64> {
    Ok(read_opt(dir, file)?
        .as_deref()
        .and_then(parse_u64)
        .unwrap_or(0))
}

/// `key value` lines (memory.stat, cpu.stat, memory.events, ...).
pub(super) fn keyed(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|l| {
        let (k, v) = l.split_once(' ')?;
        Some((k, v.trim().parse().ok()?))
    })
}

pub(super) fn key(text: &str, want: &str) -> Option<u64> {
    keyed(text).find(|(k, _)| *k == want).map(|(_, v)| v)
}
