//! One error type for all of hull: a message that already carries the
//! context a user needs (`mount /proc on /proc: permission denied`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// strerror in lowercase, the form engines match on
/// (`no such file or directory`, `permission denied`); a first word that
/// is not a plain word keeps its case (`I/O error`).
pub fn errno_text(errno: nix::errno::Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match (chars.next(), desc.chars().nth(1)) {
        (Some(c), Some(next)) if next.is_lowercase() => c.to_lowercase().chain(chars).collect(),
        (Some(_), _) => desc.to_string(),
        (None, _) => format!("errno {}", errno as i32),
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(e: nix::errno::Errno) -> Self {
        Error(errno_text(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Error(errno_text(nix::errno::Errno::from_raw(code))),
            None => Error(e.to_string()),
        }
    }
}

/// `result.ctx(|| format!("mount {dst}"))` prefixes an error with what was
/// being done: "mount /proc: permission denied".
pub trait Context<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| {
            let e: Error = e.into();
            Error(format!("{}: {}", what().into(), e.0))
        })
    }
}

/// `bail!("container {id:?} does not exist")`
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::error::Error::new(format!($($arg)*))) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_is_lowercase() {
        assert_eq!(
            errno_text(nix::errno::Errno::ENOENT),
            "no such file or directory"
        );
        assert_eq!(errno_text(nix::errno::Errno::EACCES), "permission denied");
        assert_eq!(errno_text(nix::errno::Errno::EIO), "I/O error");
    }

    #[test]
    fn context_prefixes() {
        let r: std::result::Result<(), nix::errno::Errno> = Err(nix::errno::Errno::EPERM);
        let e = r.ctx(|| "mount /proc").unwrap_err();
        assert_eq!(e.message(), "mount /proc: operation not permitted");
    }
}
