//! What makes the container's process only as powerful as config.json
//! says: capabilities, user, rlimits, no_new_privs, seccomp.

pub mod caps;
pub mod lsm;
pub mod notify;
pub mod rlimits;
pub mod sched;
pub mod seccomp;
pub mod sysctl;
pub mod trampoline;
pub mod user;
