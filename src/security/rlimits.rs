//! process.rlimits and process.oomScoreAdj.

use crate::error::{Context, Result};
use nix::libc;
use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

/// setrlimit's resource argument: glibc gives it a type of its own.
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

pub fn apply(rlimits: &[PosixRlimit]) -> Result<()> {
    for r in rlimits {
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: plain syscall with a valid struct.
        let ret = unsafe { libc::setrlimit(resource(r.typ()), &lim) };
        nix::errno::Errno::result(ret).ctx(|| {
            let name = serde_json::to_string(&r.typ()).unwrap_or_default();
            format!(
                "setrlimit {} (soft {}, hard {})",
                name.trim_matches('"'),
                r.soft(),
                r.hard()
            )
        })?;
    }
    Ok(())
}

pub fn oom_score_adj(value: i32) -> Result<()> {
    std::fs::write("/proc/self/oom_score_adj", value.to_string())
        .ctx(|| format!("write oom_score_adj {value} (process.oomScoreAdj)"))
}
