//! Scheduling and memory placement of the calling process: the raw
//! syscalls libc does not wrap (sched_setattr, ioprio_set, set_mempolicy)
//! and the affinity and personality calls, in the kernel's own terms.

use nix::errno::Errno;
use nix::libc;

/// struct sched_attr (SCHED_ATTR_SIZE_VER1).
#[repr(C)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

pub fn sched_setattr(attr: &SchedAttr) -> Result<(), Errno> {
    // SAFETY: valid struct for the duration of the call; pid 0 is us.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    Errno::result(ret).map(drop)
}

/// The calling thread's CPUs, as a bitmask of u64 words.
pub fn sched_setaffinity(words: &[u64]) -> Result<(), Errno> {
    let size = std::mem::size_of_val(words);
    // SAFETY: the mask outlives the call and size matches it.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setaffinity, 0, size, words.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// ioprio_set(IOPRIO_WHO_PROCESS, 0, value): the calling process.
pub fn ioprio_set(value: i32) -> Result<(), Errno> {
    const IOPRIO_WHO_PROCESS: i32 = 1;
    // SAFETY: plain syscall with integer arguments.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    Errno::result(ret).map(drop)
}

pub fn personality(domain: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: plain syscall with an integer argument.
    Errno::result(unsafe { libc::personality(domain) }).map(drop)
}

/// set_mempolicy(mode, nodes): an empty node mask is none at all.
pub fn set_mempolicy(mode: i64, nodes: &[u64]) -> Result<(), Errno> {
    let (ptr, maxnode) = match nodes.is_empty() {
        true => (std::ptr::null(), 0),
        false => (nodes.as_ptr(), nodes.len() as u64 * 64 + 1),
    };
    // SAFETY: the mask outlives the call and maxnode matches its size.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    Errno::result(ret).map(drop)
}
