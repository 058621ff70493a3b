//! memory: `linux.resources.memory` (limits, swap, OOM behaviour), the
//! usage statistics and the count of OOM kills.

use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::{Controller, Dir, Locate, Unified, limit_value, nonzero, nonzero_in_update};
use crate::bail;
use crate::cgroups::files::{
    self, field_error, read, read_opt, read_u64, read_u64_or_zero, write, write_raw,
};
use crate::cgroups::stats::{MemoryEntry, Stats};
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "memory",
    v2: Unified::Listed("memory"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, update: bool, at: &dyn Locate) -> Result<()> {
    let Some(m) = r
        .memory()
        .map(|m| without_zeroes(m, update))
        .filter(|m| *m != LinuxMemory::default())
    else {
        return Ok(());
    };
    match at.require(field_of(&m))? {
        Dir::V1(dir) => set_v1(dir, &m),
        Dir::V2(dir) => set_v2(dir, &m),
    }
}

/// The first field `m` sets, for an error that the controller is missing.
fn field_of(m: &LinuxMemory) -> &'static str {
    [
        (m.limit().is_some(), "linux.resources.memory.limit"),
        (
            m.reservation().is_some(),
            "linux.resources.memory.reservation",
        ),
        (m.swap().is_some(), "linux.resources.memory.swap"),
        (
            m.swappiness().is_some(),
            "linux.resources.memory.swappiness",
        ),
        (
            m.disable_oom_killer().is_some(),
            "linux.resources.memory.disableOOMKiller",
        ),
        (
            m.use_hierarchy().is_some(),
            "linux.resources.memory.useHierarchy",
        ),
    ]
    .into_iter()
    .find_map(|(set, field)| set.then_some(field))
    .unwrap_or("linux.resources.memory")
}

/// `m` without the zeroes runc leaves alone, and without kernel memory
/// limits, dropped as runc does: deprecated, a no-op or gone on current
/// kernels.
fn without_zeroes(m: LinuxMemory, update: bool) -> LinuxMemory {
    let mut out = m;
    out.set_limit(nonzero(m.limit()))
        .set_reservation(nonzero(m.reservation()))
        .set_swap(nonzero(m.swap()))
        .set_kernel(None)
        .set_kernel_tcp(None)
        .set_swappiness(nonzero_in_update(m.swappiness(), update))
        .set_disable_oom_killer(nonzero_in_update(m.disable_oom_killer(), update))
        .set_use_hierarchy(nonzero_in_update(m.use_hierarchy(), update));
    out
}

pub const MEM_LIMIT: &str = "memory.limit_in_bytes";
pub const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

fn set_memory_limit(dir: &Path, limit: i64) -> Result<()> {
    let field = "linux.resources.memory.limit";
    let value = limit.to_string();
    match write_raw(dir, MEM_LIMIT, &value) {
        // The usual cause: the new limit is below what is in use.
        Err(Errno::EBUSY) => {
            let usage = read_u64_or_zero(dir, "memory.usage_in_bytes")?;
            let peak = read_u64_or_zero(dir, "memory.max_usage_in_bytes")?;
            bail!(
                "{field}: write {value} to {MEM_LIMIT}: device or resource busy \
                 (current usage {usage}, peak {peak})"
            )
        }
        r => r.map_err(|e| field_error(dir, MEM_LIMIT, &value, field, e)),
    }
}

fn set_v1(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let swap_field = "linux.resources.memory.swap";
    // runc: unlimited memory with swap unset means unlimited swap too.
    let mut swap = m.swap();
    if m.limit() == Some(-1) && swap.is_none() && dir.join(MEMSW_LIMIT).exists() {
        swap = Some(-1);
    }
    let set_swap = |v: i64| write(dir, MEMSW_LIMIT, &v.to_string(), swap_field);
    match (m.limit(), swap) {
        // The kernel keeps memory <= memory+swap at every step: when
        // the new memsw is above the current memory limit it goes
        // first, otherwise memory goes first.
        (Some(limit), Some(swap)) => {
            let current = read_u64(dir, MEM_LIMIT)?;
            if swap == -1 || current < swap as u64 {
                set_swap(swap)?;
                set_memory_limit(dir, limit)?;
            } else {
                set_memory_limit(dir, limit)?;
                set_swap(swap)?;
            }
        }
        (limit, swap) => {
            if let Some(limit) = limit {
                set_memory_limit(dir, limit)?;
            }
            if let Some(swap) = swap {
                set_swap(swap)?;
            }
        }
    }
    if let Some(r) = m.reservation() {
        let field = "linux.resources.memory.reservation";
        write(dir, "memory.soft_limit_in_bytes", &r.to_string(), field)?;
    }
    if let Some(d) = m.disable_oom_killer() {
        let field = "linux.resources.memory.disableOOMKiller";
        write(dir, "memory.oom_control", if d { "1" } else { "0" }, field)?;
    }
    if let Some(s) = m.swappiness() {
        let field = "linux.resources.memory.swappiness";
        if s > 100 {
            bail!("{field}: {s} is out of range (0-100)");
        }
        write(dir, "memory.swappiness", &s.to_string(), field)?;
    }
    if let Some(h) = m.use_hierarchy() {
        // Kernels >= 5.x are always hierarchical and refuse 0 (EINVAL).
        let field = "linux.resources.memory.useHierarchy";
        write(
            dir,
            "memory.use_hierarchy",
            if h { "1" } else { "0" },
            field,
        )?;
    }
    // checkBeforeUpdate: v1 itself refuses a limit below the usage.
    Ok(())
}

fn set_v2(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let f = "linux.resources.memory";
    if m.swappiness().is_some() {
        bail!("{f}.swappiness: not supported on cgroup v2");
    }
    if m.disable_oom_killer() == Some(true) {
        bail!("{f}.disableOOMKiller: not supported on cgroup v2");
    }
    if m.use_hierarchy() == Some(false) {
        bail!("{f}.useHierarchy: cgroup v2 is always hierarchical");
    }
    if m.check_before_update() == Some(true) {
        // v1 refuses a limit below the usage; v2 would OOM-kill instead.
        let usage = read_u64_or_zero(dir, "memory.current")?;
        for (name, v) in [("limit", m.limit()), ("swap", m.swap())] {
            if let Some(v) = v.filter(|&v| v > 0 && v as u64 <= usage) {
                bail!("{f}.{name}: {v} is not above the current usage {usage} (checkBeforeUpdate)");
            }
        }
    }
    // OCI swap is memory+swap; memory.swap.max is swap alone.
    let swap = match (m.swap(), m.limit()) {
        (None, Some(-1)) => Some(-1), // unlimited memory: unlimited swap too (runc)
        (None, _) => None,
        (Some(s), _) if s < 0 => Some(-1),
        (Some(s), l) => match l.map_or_else(|| memory_max(dir), |l| Ok(Some(l)))? {
            Some(l) if l < 0 => Some(s),
            Some(l) if s < l => {
                bail!("{f}.swap: {s} is below {f}.limit {l} (swap counts memory+swap)")
            }
            Some(l) => Some(s - l),
            None => {
                bail!("{f}.swap: needs {f}.limit on cgroup v2 (swap is set apart from memory)")
            }
        },
    };
    if let Some(s) = swap {
        let value = limit_value(s);
        match write_raw(dir, "memory.swap.max", &value) {
            // No swap accounting: "no swap" and "unlimited" hold anyway.
            Err(Errno::ENOENT) if s == -1 || s == 0 => {}
            r => {
                r.map_err(|e| field_error(dir, "memory.swap.max", &value, &format!("{f}.swap"), e))?
            }
        }
    }
    if let Some(l) = m.limit() {
        write(dir, "memory.max", &limit_value(l), &format!("{f}.limit"))?;
    }
    if let Some(r) = m.reservation() {
        write(
            dir,
            "memory.low",
            &limit_value(r),
            &format!("{f}.reservation"),
        )?;
    }
    Ok(())
}

/// The current memory.max, -1 for max.
fn memory_max(dir: &Path) -> Result<Option<i64>> {
    let max = files::parse_u64(&read(dir, "memory.max")?);
    Ok(max.map(|m| i64::try_from(m).unwrap_or(-1)))
}

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    match dir {
        Dir::V1(dir) => stats_v1(dir, s),
        Dir::V2(dir) => stats_v2(dir, s),
    }
}

fn stats_v1(dir: &Path, s: &mut Stats) -> Result<()> {
    let m = &mut s.memory;
    let text = read_opt(dir, "memory.stat")?.unwrap_or_default();
    m.raw = files::keyed(&text)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = memory_entry(dir, "memory")?;
    m.swap = memory_entry(dir, "memory.memsw")?;
    m.kernel = memory_entry(dir, "memory.kmem")?;
    m.kernel_tcp = memory_entry(dir, "memory.kmem.tcp")?;
    Ok(())
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry> {
    let num = |f: &str| read_u64_or_zero(dir, &format!("{prefix}.{f}"));
    Ok(MemoryEntry {
        limit: num("limit_in_bytes")?,
        usage: num("usage_in_bytes")?,
        max: num("max_usage_in_bytes")?,
        failcnt: num("failcnt")?,
    })
}

fn stats_v2(dir: &Path, s: &mut Stats) -> Result<()> {
    let m = &mut s.memory;
    let text = read_opt(dir, "memory.stat")?.unwrap_or_default();
    m.raw = files::keyed(&text)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let entry = |prefix: &str| -> Result<MemoryEntry> {
        Ok(MemoryEntry {
            usage: read_u64_or_zero(dir, &format!("{prefix}.current"))?,
            limit: read_u64_or_zero(dir, &format!("{prefix}.max"))?,
            max: read_u64_or_zero(dir, &format!("{prefix}.peak"))?,
            failcnt: 0,
        })
    };
    m.usage = entry("memory")?;
    m.usage.failcnt =
        files::key(&read_opt(dir, "memory.events")?.unwrap_or_default(), "max").unwrap_or(0);
    // runc reports swap as memory+swap, v1 style.
    let swap = entry("memory.swap")?;
    m.swap = MemoryEntry {
        usage: swap.usage + m.usage.usage,
        limit: if swap.limit == u64::MAX {
            u64::MAX
        } else {
            swap.limit.saturating_add(m.usage.limit)
        },
        max: 0,
        failcnt: swap.failcnt,
    };
    Ok(())
}

/// OOM kills so far (memory.oom_control / memory.events `oom_kill`).
pub fn oom_kills(dir: Dir) -> Result<u64> {
    let (dir, file) = match dir {
        Dir::V1(dir) => (dir, "memory.oom_control"),
        Dir::V2(dir) => (dir, "memory.events"),
    };
    let text = read_opt(dir, file)?.unwrap_or_default();
    Ok(files::key(&text, "oom_kill").unwrap_or(0))
}
