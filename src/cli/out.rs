//! What hull prints on stdout. A reader that has gone (`hull list | head
//! -1`) ends hull as it ends other tools, by SIGPIPE. hull ignores SIGPIPE
//! everywhere else, so that a closed pipe or socket of its own is an error
//! it handles, not its death.

use hull::error::{Error, Result};
use nix::libc;
use std::io::Write;

/// `println!`, with the above.
macro_rules! outln {
    ($($arg:tt)*) => {
        crate::cli::out::text(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Writes `text` and flushes it (events are read line by line).
pub fn text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => die_of_sigpipe(),
        r => r.map_err(|e| Error::new(format!("write to stdout: {}", Error::from(e)))),
    }
}

fn die_of_sigpipe() -> ! {
    // SAFETY: a signal disposition, then the signal to ourselves; _exit
    // only if it did not end us.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
        libc::_exit(128 + libc::SIGPIPE)
    }
}
