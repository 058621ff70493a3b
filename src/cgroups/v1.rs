//! cgroup v1: a directory per mounted hierarchy, each controller with its
//! own files. Write order and retries follow runc's fs driver, because the
//! kernel checks related values against each other on every write.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxInterfacePriority, LinuxMemory, LinuxRdma,
};

use super::devices::Rule;
use super::dirs;
use super::files::{
    self, field_error, read, read_opt, read_u64, read_u64_or_zero, write, write_raw,
};
use super::stats::{self, MemoryEntry, Stats};
use super::{Backend, Ctl};
use crate::bail;
use crate::error::{Error, Result};

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Hierarchy {
    /// e.g. ["cpu", "cpuacct"] or ["name=systemd"]
    pub controllers: Vec<String>,
    pub mount: PathBuf,
    /// The container's cgroup in this hierarchy.
    pub dir: PathBuf,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct V1 {
    pub hierarchies: Vec<Hierarchy>,
}

impl V1 {
    fn hierarchy(&self, ctl: Ctl) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == ctl.v1_name()))
    }

    /// The container's directory for `ctl`; callers checked `has` first.
    fn dir(&self, ctl: Ctl) -> Result<&Path> {
        self.hierarchy(ctl)
            .map(|h| h.dir.as_path())
            .ok_or_else(|| Error::new(format!("no cgroup v1 {} hierarchy", ctl.v1_name())))
    }
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

const MEM_LIMIT: &str = "memory.limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";

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

impl Backend for V1 {
    fn has(&self, ctl: Ctl) -> bool {
        self.hierarchy(ctl).is_some()
    }

    fn create(&self) -> Result<()> {
        for h in &self.hierarchies {
            if h.controllers.iter().any(|c| c == "cpuset") {
                create_cpuset(&h.mount, &h.dir)?;
            } else {
                dirs::mkdir_all(&h.dir)?;
            }
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        self.hierarchies
            .iter()
            .try_for_each(|h| dirs::add_pid(&h.dir, pid))
    }

    fn procs_dir(&self) -> Option<&Path> {
        // Every hierarchy lists all processes; the freezer's is the one that
        // kill_all freezes.
        [Ctl::Freezer, Ctl::Pids, Ctl::Memory, Ctl::Devices]
            .iter()
            .find_map(|&c| self.hierarchy(c))
            .or(self.hierarchies.first())
            .map(|h| h.dir.as_path())
    }

    fn destroy(&self) -> Result<()> {
        let results: Vec<Result<()>> = self
            .hierarchies
            .iter()
            .map(|h| dirs::remove(&h.dir))
            .collect();
        results.into_iter().collect()
    }

    fn memory(&self, m: &LinuxMemory) -> Result<()> {
        let dir = self.dir(Ctl::Memory)?;
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

    fn cpu(&self, c: &LinuxCpu) -> Result<()> {
        let dir = self.dir(Ctl::Cpu)?;
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

    fn cpuset(&self, c: &LinuxCpu) -> Result<()> {
        let dir = self.dir(Ctl::Cpuset)?;
        for (file, value, field) in [
            ("cpuset.cpus", c.cpus(), "linux.resources.cpu.cpus"),
            ("cpuset.mems", c.mems(), "linux.resources.cpu.mems"),
        ] {
            if let Some(v) = value {
                files::write_cpuset(dir, file, v, field, file)?;
            }
        }
        Ok(())
    }

    fn pids_limit(&self, limit: i64) -> Result<()> {
        let value = if limit < 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        write(
            self.dir(Ctl::Pids)?,
            "pids.max",
            &value,
            "linux.resources.pids.limit",
        )
    }

    fn block_io(&self, b: &LinuxBlockIo) -> Result<()> {
        let dir = self.dir(Ctl::Io)?;
        let f = "linux.resources.blockIO";
        // CFQ's files went with CFQ (5.0); BFQ's carry a prefix.
        let (weight, weight_device) = if dir.join("blkio.weight").exists() {
            ("blkio.weight", "blkio.weight_device")
        } else {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        };
        if let Some(w) = b.weight() {
            write(dir, weight, &w.to_string(), &format!("{f}.weight"))?;
        }
        if let Some(w) = b.leaf_weight() {
            write(
                dir,
                "blkio.leaf_weight",
                &w.to_string(),
                &format!("{f}.leafWeight"),
            )?;
        }
        for d in b.weight_device().iter().flatten() {
            let dev = format!("{}:{}", d.major(), d.minor());
            if let Some(w) = d.weight() {
                let field = format!("{f}.weightDevice[{dev}].weight");
                write(dir, weight_device, &format!("{dev} {w}"), &field)?;
            }
            if let Some(w) = d.leaf_weight() {
                let field = format!("{f}.weightDevice[{dev}].leafWeight");
                write(
                    dir,
                    "blkio.leaf_weight_device",
                    &format!("{dev} {w}"),
                    &field,
                )?;
            }
        }
        let throttles = [
            (
                "throttleReadBpsDevice",
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "throttleWriteBpsDevice",
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "throttleReadIOPSDevice",
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "throttleWriteIOPSDevice",
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (name, file, list) in throttles {
            for t in list.iter().flatten() {
                let dev = format!("{}:{}", t.major(), t.minor());
                write(
                    dir,
                    file,
                    &format!("{dev} {}", t.rate()),
                    &format!("{f}.{name}[{dev}]"),
                )?;
            }
        }
        Ok(())
    }

    fn hugepages(&self, limits: &[LinuxHugepageLimit]) -> Result<()> {
        let dir = self.dir(Ctl::Hugetlb)?;
        for l in limits {
            let field = format!("linux.resources.hugepageLimits[{}]", l.page_size());
            let value = l.limit().max(-1).to_string();
            write(
                dir,
                &format!("hugetlb.{}.limit_in_bytes", l.page_size()),
                &value,
                &field,
            )?;
            // Reservation accounting (5.7+) also gets the limit, as in runc.
            let rsvd = format!("hugetlb.{}.rsvd.limit_in_bytes", l.page_size());
            if dir.join(&rsvd).exists() {
                write(dir, &rsvd, &value, &field)?;
            }
        }
        Ok(())
    }

    fn net_cls(&self, class_id: u32) -> Result<()> {
        let field = "linux.resources.network.classID";
        write(
            self.dir(Ctl::NetCls)?,
            "net_cls.classid",
            &class_id.to_string(),
            field,
        )
    }

    fn net_prio(&self, prios: &[LinuxInterfacePriority]) -> Result<()> {
        let dir = self.dir(Ctl::NetPrio)?;
        for p in prios {
            let field = format!("linux.resources.network.priorities[{}]", p.name());
            write(
                dir,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
                &field,
            )?;
        }
        Ok(())
    }

    fn rdma(&self, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
        rdma_max(self.dir(Ctl::Rdma)?, rdma)
    }

    fn devices(&self, rules: &[Rule]) -> Result<()> {
        let dir = self.dir(Ctl::Devices)?;
        for r in rules {
            let file = if r.allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(dir, file, &r.v1_line(), &r.field)?;
        }
        Ok(())
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let dir = self.dir(Ctl::Freezer)?;
        if !frozen {
            return write(dir, "freezer.state", "THAWED", "thaw");
        }
        // Tasks that fork or sit in vfork can hold the cgroup in FREEZING;
        // like runc, retry and now and then thaw briefly to shake them loose.
        for i in 0..1000 {
            if i % 50 == 49 {
                write(dir, "freezer.state", "THAWED", "freeze")?;
                std::thread::sleep(Duration::from_millis(10));
            }
            write(dir, "freezer.state", "FROZEN", "freeze")?;
            if i % 25 == 24 {
                std::thread::sleep(Duration::from_micros(10));
            }
            match files::last_line(&read(dir, "freezer.state")?) {
                "FROZEN" => return Ok(()),
                "FREEZING" => continue,
                s => {
                    let _ = write_raw(dir, "freezer.state", "THAWED");
                    bail!("freeze {}: unexpected freezer.state {s}", dir.display());
                }
            }
        }
        let _ = write_raw(dir, "freezer.state", "THAWED");
        bail!(
            "freeze {}: still FREEZING after 1000 attempts",
            dir.display()
        )
    }

    fn is_frozen(&self) -> Result<bool> {
        let dir = self.dir(Ctl::Freezer)?;
        let Some(state) = read_opt(dir, "freezer.state")? else {
            return Ok(false);
        };
        // Only our own freeze counts, not a parent's; one still FREEZING
        // (a task that cannot stop yet) is a pause asked for, and reported
        // at once: `state` and `list` must never hang on it.
        if !matches!(files::last_line(&state), "FROZEN" | "FREEZING") {
            return Ok(false);
        }
        let own = read_opt(dir, "freezer.self_freezing")?;
        Ok(own.is_none_or(|s| files::last_line(&s) == "1"))
    }

    fn stats(&self, ctl: Ctl, s: &mut Stats) -> Result<()> {
        let dir = self.dir(ctl)?;
        if !dir.exists() {
            return Ok(());
        }
        match ctl {
            Ctl::Cpu => {
                let text = read_opt(dir, "cpu.stat")?.unwrap_or_default();
                let t = &mut s.cpu.throttling;
                t.periods = files::key(&text, "nr_periods").unwrap_or(0);
                t.throttled_periods = files::key(&text, "nr_throttled").unwrap_or(0);
                t.throttled_time = files::key(&text, "throttled_time").unwrap_or(0);
            }
            Ctl::Cpuacct => cpuacct_stats(dir, s)?,
            Ctl::Cpuset => {
                let c = &mut s.cpuset;
                let num = |f: &str| read_u64_or_zero(dir, &format!("cpuset.{f}"));
                c.cpus = stats::cpu_list(&read_opt(dir, "cpuset.cpus")?.unwrap_or_default());
                c.mems = stats::cpu_list(&read_opt(dir, "cpuset.mems")?.unwrap_or_default());
                c.cpu_exclusive = num("cpu_exclusive")?;
                c.mem_hardwall = num("mem_hardwall")?;
                c.mem_exclusive = num("mem_exclusive")?;
                c.memory_migrate = num("memory_migrate")?;
                c.memory_spread_page = num("memory_spread_page")?;
                c.memory_spread_slab = num("memory_spread_slab")?;
                c.memory_pressure = num("memory_pressure")?;
                c.sched_load_balance = num("sched_load_balance")?;
                let level = read_opt(dir, "cpuset.sched_relax_domain_level")?;
                c.sched_relax_domain_level = level.and_then(|l| l.trim().parse().ok()).unwrap_or(0);
            }
            Ctl::Memory => {
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
            }
            Ctl::Pids => {
                s.pids.current = read_u64_or_zero(dir, "pids.current")?;
                s.pids.limit = read_u64_or_zero(dir, "pids.max")?;
                if s.pids.limit == u64::MAX {
                    s.pids.limit = 0;
                }
            }
            Ctl::Io => {
                // BFQ's recursive counters where present, else the throttle
                // layer's (which sees every device).
                let pick = |name: &str| -> Result<Vec<stats::BlkioEntry>> {
                    let text = match read_opt(dir, &format!("blkio.bfq.{name}_recursive"))? {
                        Some(t) => t,
                        None => read_opt(dir, &format!("blkio.throttle.{name}_recursive"))?
                            .unwrap_or_default(),
                    };
                    Ok(stats::blkio_entries(&text))
                };
                s.blkio.io_service_bytes_recursive = pick("io_service_bytes")?;
                s.blkio.io_serviced_recursive = pick("io_serviced")?;
            }
            Ctl::Hugetlb => {
                for size in stats::hugepage_sizes() {
                    let file = |f: &str| format!("hugetlb.{size}.{f}");
                    let h = stats::Hugetlb {
                        usage: read_u64_or_zero(dir, &file("usage_in_bytes"))?,
                        max: read_u64_or_zero(dir, &file("max_usage_in_bytes"))?,
                        failcnt: read_u64_or_zero(dir, &file("failcnt"))?,
                    };
                    s.hugetlb.insert(size, h);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn oom_kills(&self) -> Result<u64> {
        let text = read_opt(self.dir(Ctl::Memory)?, "memory.oom_control")?.unwrap_or_default();
        Ok(files::key(&text, "oom_kill").unwrap_or(0))
    }
}

/// rdma.max lines (same format on v1 and v2).
pub(super) fn rdma_max(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by_key(|(name, _)| *name);
    for (name, l) in devices {
        let field = format!("linux.resources.rdma[{name}]");
        let mut line = name.clone();
        if let Some(h) = l.hca_handles() {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = l.hca_objects() {
            line += &format!(" hca_object={o}");
        }
        if l.hca_handles().is_none() && l.hca_objects().is_none() {
            bail!("{field}: needs hcaHandles or hcaObjects");
        }
        write(dir, "rdma.max", &line, &field)?;
    }
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

fn cpuacct_stats(dir: &Path, s: &mut Stats) -> Result<()> {
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

/// mkdir each level of a cpuset cgroup, giving new ones their parent's
/// cpus and mems: a v1 cpuset starts empty and takes no tasks until set.
fn create_cpuset(mount: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut parent = mount.to_path_buf();
    for part in rel.components() {
        let cur = parent.join(part);
        dirs::mkdir_all(&cur)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if read(&cur, file)?.trim().is_empty() {
                let value = read(&parent, file)?;
                write(
                    &cur,
                    file,
                    value.trim(),
                    &format!("create cgroup {}", cur.display()),
                )?;
            }
        }
        parent = cur;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Cgroup;
    use crate::cgroups::mounts::{Mount, Mounts, V1Mount};
    use oci_spec::runtime::LinuxResources;

    /// A fake v1 tree: one hierarchy per controller under a temp dir, the
    /// container at /c with the control files it may touch.
    struct Fake {
        root: PathBuf,
        cg: Cgroup,
    }

    const FILES: &[(&str, &[(&str, &str)])] = &[
        (
            "memory",
            &[
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
                ("memory.soft_limit_in_bytes", ""),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
                ),
                ("memory.swappiness", ""),
                ("memory.use_hierarchy", ""),
            ],
        ),
        (
            "cpu,cpuacct",
            &[
                ("cpu.shares", ""),
                ("cpu.cfs_period_us", ""),
                ("cpu.cfs_quota_us", ""),
                ("cpu.cfs_burst_us", ""),
                ("cpu.rt_period_us", ""),
                ("cpu.rt_runtime_us", ""),
                ("cpu.idle", ""),
            ],
        ),
        (
            "cpuset",
            &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
        ),
        ("pids", &[("pids.max", "")]),
        (
            "blkio",
            &[
                ("blkio.bfq.weight", ""),
                ("blkio.bfq.weight_device", ""),
                ("blkio.leaf_weight", ""),
                ("blkio.leaf_weight_device", ""),
                ("blkio.throttle.read_bps_device", ""),
                ("blkio.throttle.write_bps_device", ""),
                ("blkio.throttle.read_iops_device", ""),
                ("blkio.throttle.write_iops_device", ""),
            ],
        ),
        (
            "hugetlb",
            &[
                ("hugetlb.2MB.limit_in_bytes", ""),
                ("hugetlb.2MB.rsvd.limit_in_bytes", ""),
            ],
        ),
        (
            "net_cls,net_prio",
            &[("net_cls.classid", ""), ("net_prio.ifpriomap", "")],
        ),
        ("rdma", &[("rdma.max", "")]),
        ("devices", &[("devices.allow", ""), ("devices.deny", "")]),
        ("freezer", &[("freezer.state", "THAWED\n")]),
    ];

    impl Fake {
        fn new(name: &str) -> Fake {
            let root = std::env::temp_dir().join(format!("hull-v1-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let mut mounts = Mounts::default();
            for (hier, files) in FILES {
                let point = root.join(hier);
                std::fs::create_dir_all(point.join("c")).unwrap();
                for (file, content) in *files {
                    std::fs::write(point.join("c").join(file), content).unwrap();
                }
                let controllers = hier.split(',').map(String::from).collect();
                let mount = Mount {
                    point,
                    root: "/".into(),
                };
                mounts.v1.push(V1Mount { controllers, mount });
            }
            let cg = Cgroup::resolve(&mounts, "", Some(Path::new("/c")), "id").unwrap();
            Fake { root, cg }
        }

        /// Everything written to a file, one write a line (after its
        /// initial content).
        fn file(&self, hier: &str, file: &str) -> String {
            std::fs::read_to_string(self.root.join(hier).join("c").join(file)).unwrap()
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn writes_every_field() {
        let f = Fake::new("all");
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": 1000000, "reservation": 500000, "swap": 2000000, "kernel": 1,
                       "kernelTCP": 1, "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000,
                    "realtimeRuntime": 1000, "realtimePeriod": 10000, "cpus": "1", "mems": "0", "idle": 1},
            "pids": {"limit": 0},
            "blockIO": {"weight": 300, "leafWeight": 200,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 80}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 90}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]
        })))
        .unwrap();
        let big = "9223372036854771712\n";
        assert_eq!(f.file("memory", MEM_LIMIT), format!("{big}1000000\n"));
        assert_eq!(f.file("memory", MEMSW_LIMIT), format!("{big}2000000\n"));
        assert_eq!(f.file("memory", "memory.soft_limit_in_bytes"), "500000\n");
        assert!(f.file("memory", "memory.oom_control").ends_with("1\n"));
        assert_eq!(f.file("memory", "memory.swappiness"), "10\n");
        assert_eq!(f.file("memory", "memory.use_hierarchy"), "1\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.shares"), "512\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_quota_us"), "50000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_period_us"), "100000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.cfs_burst_us"), "1000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.rt_period_us"), "10000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.rt_runtime_us"), "1000\n");
        assert_eq!(f.file("cpu,cpuacct", "cpu.idle"), "1\n");
        assert_eq!(f.file("cpuset", "cpuset.cpus"), "0-1\n1\n");
        assert_eq!(f.file("cpuset", "cpuset.mems"), "0\n0\n");
        assert_eq!(f.file("pids", "pids.max"), "0\n");
        assert_eq!(f.file("blkio", "blkio.bfq.weight"), "300\n");
        assert_eq!(f.file("blkio", "blkio.leaf_weight"), "200\n");
        assert_eq!(f.file("blkio", "blkio.bfq.weight_device"), "8:0 500\n");
        assert_eq!(f.file("blkio", "blkio.leaf_weight_device"), "8:0 300\n");
        assert_eq!(
            f.file("blkio", "blkio.throttle.read_bps_device"),
            "8:0 600\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.write_bps_device"),
            "8:0 700\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.read_iops_device"),
            "8:0 80\n"
        );
        assert_eq!(
            f.file("blkio", "blkio.throttle.write_iops_device"),
            "8:16 90\n"
        );
        assert_eq!(f.file("hugetlb", "hugetlb.2MB.limit_in_bytes"), "4194304\n");
        assert_eq!(
            f.file("hugetlb", "hugetlb.2MB.rsvd.limit_in_bytes"),
            "4194304\n"
        );
        assert_eq!(f.file("net_cls,net_prio", "net_cls.classid"), "1048577\n");
        assert_eq!(f.file("net_cls,net_prio", "net_prio.ifpriomap"), "eth0 5\n");
        assert_eq!(
            f.file("rdma", "rdma.max"),
            "mlx5_1 hca_handle=3 hca_object=10000\n"
        );
        assert_eq!(
            f.file("devices", "devices.deny"),
            "a *:* rwm\na *:* rwm\n",
            "implicit + config"
        );
        let allow = f.file("devices", "devices.allow");
        assert!(
            allow.starts_with("c 10:229 rw\nc *:* m\nb *:* m\nc 1:3 rwm\n"),
            "{allow}"
        );
        assert!(allow.ends_with("c 10:200 rwm\n"), "{allow}");
        assert_eq!(f.cg.oom_kills().unwrap(), 3);
    }

    #[test]
    fn memsw_order_follows_direction() {
        // Both files are links to one log, which shows the write order.
        let f = Fake::new("memsw");
        let dir = f.root.join("memory/c");
        std::fs::write(dir.join("log"), "1000000\n").unwrap();
        for file in [MEM_LIMIT, MEMSW_LIMIT] {
            std::fs::remove_file(dir.join(file)).unwrap();
            std::os::unix::fs::symlink("log", dir.join(file)).unwrap();
        }
        let raise = resources(serde_json::json!({"memory": {"limit": 3000000, "swap": 4000000}}));
        f.cg.update(&raise).unwrap();
        assert_eq!(
            f.file("memory", "log"),
            "1000000\n4000000\n3000000\n",
            "memsw first"
        );
        let lower = resources(serde_json::json!({"memory": {"limit": 500000, "swap": 600000}}));
        f.cg.update(&lower).unwrap();
        assert!(
            f.file("memory", "log")
                .ends_with("3000000\n500000\n600000\n"),
            "memory first"
        );
    }

    #[test]
    fn update_skips_zeroes_and_errors_name_fields() {
        let f = Fake::new("update");
        let r = resources(serde_json::json!({
            "memory": {"limit": 0, "reservation": 0, "swap": 0, "swappiness": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0, "cpus": "", "mems": "", "burst": 0},
            "pids": {"limit": 0},
            "blockIO": {"weight": 0},
            "devices": []
        }));
        f.cg.update(&r).unwrap();
        assert_eq!(f.file("devices", "devices.deny"), "");
        assert_eq!(f.file("pids", "pids.max"), "");
        assert_eq!(f.file("cpu,cpuacct", "cpu.shares"), "");
        assert_eq!(f.file("memory", "memory.swappiness"), "");

        std::fs::remove_file(f.root.join("cpu,cpuacct/c/cpu.idle")).unwrap();
        let e =
            f.cg.apply(&resources(serde_json::json!({"cpu": {"idle": 1}})))
                .unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.cpu.idle: not supported"),
            "{e}"
        );
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"unified": {"memory.max": "1"}}),
            ))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.unified: this host has no cgroup v2 hierarchy"
        );
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"memory": {"swappiness": 101}}),
            ))
            .unwrap_err();
        assert!(
            e.message().contains("swappiness: 101 is out of range"),
            "{e}"
        );
    }

    #[test]
    fn freezer_and_missing_controller() {
        let f = Fake::new("freezer");
        // A plain file echoes the state back: FROZEN at once.
        f.cg.freeze().unwrap();
        assert!(f.cg.is_frozen().unwrap());
        f.cg.thaw().unwrap();
        assert!(!f.cg.is_frozen().unwrap());

        let mut mounts = Mounts::default();
        mounts.v1.push(V1Mount {
            controllers: vec!["memory".into()],
            mount: Mount {
                point: f.root.join("memory"),
                root: "/".into(),
            },
        });
        let cg = Cgroup::resolve(&mounts, "", Some(Path::new("/c")), "x").unwrap();
        let e = cg
            .apply(&resources(serde_json::json!({"pids": {"limit": 5}})))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.pids.limit: the pids controller is not available on this host"
        );
        let e = cg.freeze().unwrap_err();
        assert!(
            e.message().contains("freezer controller is not available"),
            "{e}"
        );
    }
}
