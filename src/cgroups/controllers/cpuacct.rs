//! cpuacct: CPU usage statistics. No config field.

use std::path::Path;

use super::{Controller, Dir, Unified};
use crate::cgroups::files::{self, read_opt, read_u64_or_zero};
use crate::cgroups::stats::Stats;
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "cpuacct",
    // cpu.stat is a core file, there with or without controllers.
    v2: Unified::Builtin(|_, _| true),
    set: None,
    stats: Some(stats),
    feature: false,
};

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    match dir {
        Dir::V1(dir) => stats_v1(dir, s),
        Dir::V2(dir) => {
            let text = read_opt(dir, "cpu.stat")?.unwrap_or_default();
            let k = |key: &str| files::key(&text, key).unwrap_or(0);
            s.cpu.usage.total = k("usage_usec") * 1000;
            s.cpu.usage.user = k("user_usec") * 1000;
            s.cpu.usage.kernel = k("system_usec") * 1000;
            Ok(())
        }
    }
}

fn stats_v1(dir: &Path, s: &mut Stats) -> Result<()> {
    let u = &mut s.cpu.usage;
    u.total = read_u64_or_zero(dir, "cpuacct.usage")?;
    let list = |f: &str| -> Result<Vec<u64>> {
        let text = read_opt(dir, f)?.unwrap_or_default();
        Ok(text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect())
    };
    u.percpu = list("cpuacct.usage_percpu")?;
    u.percpu_kernel = list("cpuacct.usage_percpu_sys")?;
    u.percpu_user = list("cpuacct.usage_percpu_user")?;
    // cpuacct.stat counts clock ticks.
    // SAFETY: sysconf has no preconditions.
    let hz = match unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) } {
        hz if hz > 0 => hz as u64,
        _ => 100,
    };
    let text = read_opt(dir, "cpuacct.stat")?.unwrap_or_default();
    u.user = files::key(&text, "user").unwrap_or(0) * 1_000_000_000 / hz;
    u.kernel = files::key(&text, "system").unwrap_or(0) * 1_000_000_000 / hz;
    Ok(())
}
