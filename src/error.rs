//! One error type for all of hull: a message that already carries the
//! context a user needs (`mount /proc on /proc: permission denied`), the
//! errno it came from and the config field it is about, so code tests
//! those instead of the text. Engines and tests match the message: it is
//! the one form shown.

use nix::errno::Errno;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    msg: String,
    errno: Option<Errno>,
    /// The config field the message opens with (`FIELD: ...`).
    field: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(msg: impl Into<String>) -> Self {
        Error {
            msg: msg.into(),
            errno: None,
            field: None,
        }
    }

    /// An error about one field: "FIELD: DETAIL".
    pub fn at(field: &str, detail: impl fmt::Display) -> Self {
        Error {
            msg: format!("{field}: {detail}"),
            errno: None,
            field: Some(field.to_string()),
        }
    }

    /// The same error about a field of `parent`: "PARENT.FIELD: DETAIL",
    /// or "PARENT: MESSAGE" when it named no field.
    pub fn within(self, parent: &str) -> Self {
        let field = match self.field() {
            Some(f) => format!("{parent}.{f}"),
            None => parent.to_string(),
        };
        Error {
            msg: format!("{field}: {}", self.detail()),
            errno: self.errno,
            field: Some(field),
        }
    }

    pub fn message(&self) -> &str {
        &self.msg
    }

    /// The errno of the failed system call, if one caused this.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The message without its field prefix.
    pub fn detail(&self) -> &str {
        self.field
            .as_ref()
            .and_then(|f| self.msg.strip_prefix(f.as_str()))
            .and_then(|rest| rest.strip_prefix(": "))
            .unwrap_or(&self.msg)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// `text` with its control characters escaped (`\n`, `\u{7f}`): an
/// error quoting input (a parser's `unknown variant`, a path) stays one
/// line, and input cannot forge lines of a log.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let escape = |c: char| match c.is_control() {
        true => c.escape_debug().to_string(),
        false => c.to_string(),
    };
    text.chars().map(escape).collect::<String>().into()
}

/// strerror in lowercase, the form engines match on
/// (`no such file or directory`, `permission denied`); a first word that
/// is not a plain word keeps its case (`I/O error`).
pub fn errno_text(errno: Errno) -> String {
    let desc = errno.desc();
    let mut chars = desc.chars();
    match (chars.next(), desc.chars().nth(1)) {
        (Some(c), Some(next)) if next.is_lowercase() => c.to_lowercase().chain(chars).collect(),
        (Some(_), _) => desc.to_string(),
        (None, _) => format!("errno {}", errno as i32),
    }
}

impl From<Errno> for Error {
    fn from(e: Errno) -> Self {
        Error {
            errno: Some(e),
            ..Error::new(errno_text(e))
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.raw_os_error() {
            Some(code) => Error::from(Errno::from_raw(code)),
            None => Error::new(e.to_string()),
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
            Error {
                msg: format!("{}: {}", what().into(), e.msg),
                ..e
            }
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
        assert_eq!(e.errno(), Some(nix::errno::Errno::EPERM));
    }

    #[test]
    fn one_line_escapes_control_characters() {
        assert_eq!(one_line("plain: text"), "plain: text");
        assert_eq!(one_line("a\nb\tc\u{7f}\u{85}é"), "a\\nb\\tc\\u{7f}\\u{85}é");
    }

    #[test]
    fn fields_nest() {
        let e = Error::at("ip", "missing");
        assert_eq!((e.field(), e.detail()), (Some("ip"), "missing"));
        let e = e.within("interface");
        assert_eq!(e.message(), "interface.ip: missing");
        assert_eq!(e.field(), Some("interface.ip"));
        let e = Error::new("no such thing").within("interface");
        assert_eq!(
            (e.message(), e.field()),
            ("interface: no such thing", Some("interface"))
        );
    }
}
