//! `run`: create + start + wait + delete in one process that stays the
//! init's parent, forwarding signals and returning its exit status. With
//! process.terminal and no console socket, hull owns the pty and relays
//! between its own stdio and the container.

use super::create::{self, Console, CreateOptions};
use crate::error::{Context, Result};
use crate::foreground::{self, Signals, Tty};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

#[derive(Default, Clone)]
pub struct RunOptions {
    pub create: CreateOptions,
    pub detach: bool,
    pub keep: bool,
    /// In the foreground, adopt the container's orphans (runc's default;
    /// they matter without a pid namespace of its own).
    pub subreaper: bool,
}

/// Returns the exit status: the container's, 128+N if killed by signal N.
pub fn run(root: &Path, id: &str, opts: &RunOptions) -> Result<i32> {
    let mut create_opts = opts.create.clone();
    // In the foreground without a console socket we take the pty master
    // ourselves; the init only sends it if the config asks for a terminal.
    let relay = if matches!(create_opts.console, Console::None) && !opts.detach {
        let (ours, theirs) = foreground::console_pair()?;
        create_opts.console = Console::Fd(theirs.as_raw_fd());
        Some((ours, theirs))
    } else {
        None
    };
    if opts.subreaper && !opts.detach {
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "prctl child subreaper")?;
    }
    let created = create::create(root, id, &create_opts)?;
    // None when the config asks for no terminal.
    let master = relay.and_then(|(ours, theirs)| {
        drop(theirs);
        foreground::recv_master(ours.as_fd()).ok()
    });
    let running = if opts.detach {
        super::start::start(root, id).map(|_| 0)
    } else {
        foreground(root, id, &created, master)
    };
    // Whatever failed after create, nothing of the container stays.
    let code = running.inspect_err(|_| {
        crate::launch::kill_and_reap(&created);
        let _ = super::delete::delete(root, id, true);
    })?;
    if !opts.detach && !opts.keep {
        super::delete::delete(root, id, true)?;
    }
    Ok(code)
}

/// Start the created container and wait for it, forwarding signals and
/// relaying its terminal when we hold the pty master.
fn foreground(
    root: &Path,
    id: &str,
    created: &create::Created,
    master: Option<OwnedFd>,
) -> Result<i32> {
    let signals = Signals::block(master.is_some())?;
    // Our terminal's size and raw mode before the process's first byte.
    let tty = match master {
        Some(m) => Some(Tty::new(m, Some(0), Some(1), true)?),
        None => None,
    };
    if let Some(t) = &tty {
        t.set_size(None);
    }
    super::start::start(root, id)?;
    Ok(foreground::wait(created, tty.as_ref(), Some(&signals))?.code())
}
