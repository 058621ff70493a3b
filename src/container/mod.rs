//! The operations on containers, one file each. The CLI and the driver
//! call these; they hold no printing.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod list;
pub mod pause;
pub mod process;
pub mod ps;
pub mod restore;
pub mod run;
pub mod start;
pub mod state;
pub mod update;

use crate::state::{State, Status};

/// The live status: `stopped` once the recorded init is gone, `paused`
/// while its cgroup is frozen, `created` while the exec fifo waits,
/// `running` otherwise.
pub fn status(dir: &std::path::Path, st: &State) -> Status {
    if !st.alive() {
        Status::Stopped
    } else if st.creating {
        Status::Creating
    } else if st
        .cgroup
        .as_ref()
        .is_some_and(|c| c.is_frozen().unwrap_or(false))
    {
        Status::Paused
    } else if dir.join(crate::state::EXEC_FIFO).exists() {
        Status::Created
    } else {
        Status::Running
    }
}
