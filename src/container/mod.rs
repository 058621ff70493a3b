//! The operations on containers, one file each. The CLI and the driver
//! call these; they hold no printing.

pub mod create;
pub mod delete;
pub mod exec;
pub mod kill;
pub mod list;
pub mod run;
pub mod start;
pub mod state;

use crate::state::{State, StateDir, Status};

/// The live status: `created` while the exec fifo waits, `paused` while
/// its cgroup is frozen, `running` while the recorded init lives,
/// `stopped` after.
pub fn status(dir: &StateDir, st: &State) -> Status {
    if !st.alive() {
        Status::Stopped
    } else if dir.fifo().exists() {
        Status::Created
    } else if st
        .cgroup
        .as_ref()
        .is_some_and(|c| c.is_frozen().unwrap_or(false))
    {
        Status::Paused
    } else {
        Status::Running
    }
}
