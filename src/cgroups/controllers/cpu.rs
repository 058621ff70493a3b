//! cpu: the scheduler part of `linux.resources.cpu` (shares, CFS quota,
//! period and burst, realtime budget, idle) and the throttling statistics.
//! Write order and retries on v1 follow runc's fs driver, because the
//! kernel checks related values against each other on every write.

use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{Controller, Dir, Locate, Unified, nonzero, nonzero_in_update};
use crate::bail;
use crate::cgroups::files::{self, field_error, read_opt, read_u64, write, write_raw};
use crate::cgroups::stats::Stats;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "cpu",
    v2: Unified::Listed("cpu"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, update: bool, at: &dyn Locate) -> Result<()> {
    let Some(c) = r.cpu() else {
        return Ok(());
    };
    // All but cpus and mems, which are the cpuset controller's.
    let mut sched = LinuxCpu::default();
    sched
        .set_shares(nonzero(c.shares()))
        .set_quota(nonzero(c.quota()))
        .set_period(nonzero(c.period()))
        .set_realtime_runtime(nonzero(c.realtime_runtime()))
        .set_realtime_period(nonzero(c.realtime_period()))
        .set_burst(nonzero_in_update(c.burst(), update))
        .set_idle(nonzero_in_update(c.idle(), update));
    if sched == LinuxCpu::default() {
        return Ok(());
    }
    match at.require(field_of(&sched))? {
        Dir::V1(dir) => set_v1(dir, &sched),
        Dir::V2(dir) => set_v2(dir, &sched),
    }
}

/// The first field `c` sets, for an error that the controller is missing.
fn field_of(c: &LinuxCpu) -> &'static str {
    [
        (c.shares().is_some(), "linux.resources.cpu.shares"),
        (c.quota().is_some(), "linux.resources.cpu.quota"),
        (c.period().is_some(), "linux.resources.cpu.period"),
        (c.burst().is_some(), "linux.resources.cpu.burst"),
        (
            c.realtime_runtime().is_some(),
            "linux.resources.cpu.realtimeRuntime",
        ),
        (
            c.realtime_period().is_some(),
            "linux.resources.cpu.realtimePeriod",
        ),
        (c.idle().is_some(), "linux.resources.cpu.idle"),
    ]
    .into_iter()
    .find_map(|(set, field)| set.then_some(field))
    .unwrap_or("linux.resources.cpu")
}

/// Writes (file, value, field) held back until a partner value is written.
type Deferred = Vec<(&'static str, String, &'static str)>;

/// Write `value`, or, if the kernel refuses it with EINVAL only because a
/// partner value is yet to come (`later`), keep it for after the partner.
fn write_or_defer(
    dir: &Path,
    file: &'static str,
    value: String,
    field: &'static str,
    later: bool,
    deferred: &mut Deferred,
) -> Result<()> {
    match write_raw(dir, file, &value) {
        Err(Errno::EINVAL) if later => {
            deferred.push((file, value, field));
            Ok(())
        }
        Err(e) => Err(field_error(dir, file, &value, field, e)),
        Ok(()) => Ok(()),
    }
}

fn write_deferred(dir: &Path, deferred: Deferred) -> Result<()> {
    deferred
        .into_iter()
        .try_for_each(|(file, value, field)| write(dir, file, &value, field))
}

fn set_v1(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(shares) = c.shares() {
        let field = "linux.resources.cpu.shares";
        write(dir, "cpu.shares", &shares.to_string(), field)?;
        // The kernel clamps instead of failing; say so like runc.
        let got = read_u64(dir, "cpu.shares")?;
        if got != shares {
            bail!("{field}: {shares} is out of range, the kernel set {got}");
        }
    }
    // Period and burst may only be valid together with the new quota.
    let mut deferred = Vec::new();
    let quota_comes = c.quota().is_some();
    if let Some(p) = c.period() {
        let field = "linux.resources.cpu.period";
        write_or_defer(
            dir,
            "cpu.cfs_period_us",
            p.to_string(),
            field,
            quota_comes,
            &mut deferred,
        )?;
    }
    if let Some(b) = c.burst() {
        let field = "linux.resources.cpu.burst";
        write_or_defer(
            dir,
            "cpu.cfs_burst_us",
            b.to_string(),
            field,
            quota_comes,
            &mut deferred,
        )?;
    }
    if let Some(q) = c.quota() {
        write(
            dir,
            "cpu.cfs_quota_us",
            &q.to_string(),
            "linux.resources.cpu.quota",
        )?;
    }
    write_deferred(dir, std::mem::take(&mut deferred))?;
    if let Some(idle) = c.idle() {
        write(
            dir,
            "cpu.idle",
            &idle.to_string(),
            "linux.resources.cpu.idle",
        )?;
    }
    // Same dance for the realtime budget.
    if let Some(p) = c.realtime_period() {
        let field = "linux.resources.cpu.realtimePeriod";
        let later = c.realtime_runtime().is_some();
        write_or_defer(
            dir,
            "cpu.rt_period_us",
            p.to_string(),
            field,
            later,
            &mut deferred,
        )?;
    }
    if let Some(r) = c.realtime_runtime() {
        let field = "linux.resources.cpu.realtimeRuntime";
        write(dir, "cpu.rt_runtime_us", &r.to_string(), field)?;
    }
    write_deferred(dir, deferred)
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), linearly, as crun and
/// runc before 1.3 do. (runc >= 1.3 uses a curve that maps 1024 to 100.)
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262144);
    1 + ((shares - 2) * 9999) / 262142
}

fn set_v2(dir: &Path, c: &LinuxCpu) -> Result<()> {
    let f = "linux.resources.cpu";
    if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
        bail!("{f}.realtimeRuntime/realtimePeriod: not supported on cgroup v2");
    }
    if let Some(idle) = c.idle() {
        write(dir, "cpu.idle", &idle.to_string(), &format!("{f}.idle"))?;
    }
    if let Some(weight) = c.shares().map(shares_to_weight) {
        write(
            dir,
            "cpu.weight",
            &weight.to_string(),
            &format!("{f}.shares"),
        )?;
    }
    let max_changes = c.quota().is_some() || c.period().is_some();
    // A larger burst may only fit with the new quota: retry after it.
    let mut burst_pending = None;
    if let Some(b) = c.burst() {
        let value = b.to_string();
        match write_raw(dir, "cpu.max.burst", &value) {
            Err(Errno::EINVAL) if max_changes => burst_pending = Some(value),
            r => {
                r.map_err(|e| field_error(dir, "cpu.max.burst", &value, &format!("{f}.burst"), e))?
            }
        }
    }
    if max_changes {
        // cpu.max holds both: keep the half that is not being set.
        let current = read_opt(dir, "cpu.max")?.unwrap_or_default();
        let mut cur = files::last_line(&current).split_whitespace();
        let (cur_quota, cur_period) = (cur.next().unwrap_or("max"), cur.next().unwrap_or("100000"));
        let quota = c.quota().map_or(cur_quota.to_string(), |q| {
            if q > 0 { q.to_string() } else { "max".into() }
        });
        let period = c.period().map_or(cur_period.to_string(), |p| p.to_string());
        let field = if c.quota().is_some() {
            "quota"
        } else {
            "period"
        };
        write(
            dir,
            "cpu.max",
            &format!("{quota} {period}"),
            &format!("{f}.{field}"),
        )?;
    }
    if let Some(b) = burst_pending {
        write(dir, "cpu.max.burst", &b, &format!("{f}.burst"))?;
    }
    Ok(())
}

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    let t = &mut s.cpu.throttling;
    match dir {
        Dir::V1(dir) => {
            let text = read_opt(dir, "cpu.stat")?.unwrap_or_default();
            t.periods = files::key(&text, "nr_periods").unwrap_or(0);
            t.throttled_periods = files::key(&text, "nr_throttled").unwrap_or(0);
            t.throttled_time = files::key(&text, "throttled_time").unwrap_or(0);
        }
        Dir::V2(dir) => {
            let text = read_opt(dir, "cpu.stat")?.unwrap_or_default();
            let k = |key: &str| files::key(&text, key).unwrap_or(0);
            t.periods = k("nr_periods");
            t.throttled_periods = k("nr_throttled");
            t.throttled_time = k("throttled_usec") * 1000;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_convert_to_weight() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(1 << 30), 10000);
    }
}
