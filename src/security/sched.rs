//! Per-process kernel attributes: process.scheduler (sched_setattr),
//! process.ioPriority (ioprio_set), linux.personality and
//! linux.memoryPolicy (set_mempolicy).

use crate::bail;
use crate::error::{Context, Result};
use crate::sys::sched::{self as sys, SchedAttr};
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType,
    Scheduler,
};

pub fn set_scheduler(s: &Scheduler) -> Result<()> {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => bail!("process.scheduler.policy: SCHED_ISO is not implemented by Linux"),
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        util_min: 0,
        util_max: 1024,
    };
    sys::sched_setattr(&attr).ctx(|| {
        format!(
            "process.scheduler: sched_setattr {}",
            policy_name(*s.policy())
        )
    })
}

/// The spec's name of a policy (`SCHED_FIFO`).
fn policy_name(p: LinuxSchedulerPolicy) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// process.execCPUAffinity `initial` / `final` (exec only; the spec says
/// it does not apply to the init): pin the calling process.
pub fn set_affinity(list: &str, field: &str) -> Result<()> {
    let words = parse_list(list)
        .map_err(|e| crate::error::Error::new(format!("process.execCPUAffinity.{field}: {e}")))?;
    sys::sched_setaffinity(&words)
        .ctx(|| format!("process.execCPUAffinity.{field}: sched_setaffinity {list}"))
}

pub fn set_io_priority(p: &LinuxIOPriority) -> Result<()> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        bail!(
            "process.ioPriority.priority: {} is outside 0..7",
            p.priority()
        );
    }
    let value = (class << 13) | p.priority() as i32;
    sys::ioprio_set(value).ctx(|| "process.ioPriority: ioprio_set")
}

pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.personality.flags: no flags are defined by the spec");
    }
    let domain = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    sys::personality(domain).ctx(|| "linux.personality")
}

/// "0-3,7" as a bitmask of u64 words.
pub fn parse_list(list: &str) -> Result<Vec<u64>> {
    let mut words = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) else {
            bail!("invalid list {list:?}");
        };
        if a > b || b >= 4096 {
            bail!("invalid list {list:?}");
        }
        for n in a..=b {
            if words.len() <= n / 64 {
                words.resize(n / 64 + 1, 0);
            }
            words[n / 64] |= 1 << (n % 64);
        }
    }
    Ok(words)
}

/// Every linux.memoryPolicy mode [`set_memory_policy`] applies (its match
/// is exhaustive), for `hull features`.
pub const MEMORY_POLICY_MODES: [MemoryPolicyModeType; 7] = [
    MemoryPolicyModeType::MpolDefault,
    MemoryPolicyModeType::MpolBind,
    MemoryPolicyModeType::MpolInterleave,
    MemoryPolicyModeType::MpolWeightedInterleave,
    MemoryPolicyModeType::MpolPreferred,
    MemoryPolicyModeType::MpolPreferredMany,
    MemoryPolicyModeType::MpolLocal,
];

/// Every linux.memoryPolicy flag [`set_memory_policy`] applies.
pub const MEMORY_POLICY_FLAGS: [MemoryPolicyFlagType; 3] = [
    MemoryPolicyFlagType::MpolFNumaBalancing,
    MemoryPolicyFlagType::MpolFRelativeNodes,
    MemoryPolicyFlagType::MpolFStaticNodes,
];

pub fn set_memory_policy(p: &LinuxMemoryPolicy) -> Result<()> {
    use MemoryPolicyModeType::*;
    let mut mode: i32 = match p.mode() {
        MpolDefault => 0,
        MpolPreferred => 1,
        MpolBind => 2,
        MpolInterleave => 3,
        MpolLocal => 4,
        MpolPreferredMany => 5,
        MpolWeightedInterleave => 6,
    };
    for f in p.flags().iter().flatten() {
        mode |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
            MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
            MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        };
    }
    let nodes = match p.nodes() {
        Some(n) => parse_list(n)
            .map_err(|e| crate::error::Error::new(format!("linux.memoryPolicy.nodes: {e}")))?,
        None => Vec::new(),
    };
    sys::set_mempolicy(mode as i64, &nodes)
        .ctx(|| format!("linux.memoryPolicy: set_mempolicy {:?}", p.mode()))
}

#[cfg(test)]
mod tests {
    use super::parse_list;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_list("64").unwrap(), vec![0, 1]);
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("x").is_err());
    }
}
