//! cgroup v2: one directory in the unified tree. OCI resources are v1
//! shaped; they are converted the way runc and crun do.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxInterfacePriority, LinuxMemory, LinuxRdma,
};

use super::devices::Rule;
use super::dirs;
use super::files::{self, field_error, read, read_opt, read_u64_or_zero, write, write_raw};
use super::stats::{self, BlkioEntry, MemoryEntry, Stats};
use super::{Backend, Ctl, bpf};
use crate::bail;
use crate::error::Result;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct V2 {
    /// Where the unified hierarchy is mounted.
    pub mount: PathBuf,
    /// The container's cgroup.
    pub dir: PathBuf,
}

/// -1 means unlimited, written `max` in v2.
fn limit(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), linearly, as crun and
/// runc before 1.3 do. (runc >= 1.3 uses a curve that maps 1024 to 100.)
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262144);
    1 + ((shares - 2) * 9999) / 262142
}

/// blkio.weight (10..1000) to io.weight (1..10000), runc's conversion.
pub(super) fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = weight.clamp(10, 1000) as u64;
    1 + (w - 10) * 9999 / 990
}

impl V2 {
    /// Controllers enabled for the container (its cgroup.controllers), or
    /// those it could get when it does not exist yet.
    fn controllers(&self) -> Vec<String> {
        let text = read_opt(&self.dir, "cgroup.controllers")
            .ok()
            .flatten()
            .or_else(|| read_opt(&self.mount, "cgroup.controllers").ok().flatten())
            .unwrap_or_default();
        text.split_whitespace().map(String::from).collect()
    }

    /// SIGKILL every process below the cgroup at once (cgroup.kill, 5.14+).
    pub fn kill(&self) -> Result<()> {
        write(&self.dir, "cgroup.kill", "1", "kill cgroup")
    }

    /// The `unified` map: raw files in the container's cgroup.
    pub fn unified(&self, kv: &HashMap<String, String>) -> Result<()> {
        let mut keys: Vec<_> = kv.iter().collect();
        keys.sort();
        for (key, value) in keys {
            let field = format!("linux.resources.unified.{key}");
            let Some((controller, _)) = key.split_once('.').filter(|_| !key.contains('/')) else {
                bail!("{field}: want a file name CONTROLLER.PARAMETER");
            };
            // Multi-line values (io.max for several devices) are one
            // write per line, as the kernel parses one entry per write.
            for line in value
                .lines()
                .filter(|l| !l.trim().is_empty())
                .chain(value.is_empty().then_some(""))
            {
                match write_raw(&self.dir, key, line) {
                    Ok(()) => {}
                    Err(Errno::ENOENT | Errno::EPERM)
                        if controller != "cgroup"
                            && !self.controllers().iter().any(|c| c == controller) =>
                    {
                        bail!(
                            "{field}: the {controller} controller is not enabled in {} \
                             (missing, or bound to a cgroup v1 hierarchy)",
                            self.dir.display()
                        )
                    }
                    Err(e) => return Err(field_error(&self.dir, key, line, &field, e)),
                }
            }
        }
        Ok(())
    }

    /// The current memory.max, -1 for max.
    fn memory_max(&self) -> Result<Option<i64>> {
        let max = files::parse_u64(&read(&self.dir, "memory.max")?);
        Ok(max.map(|m| i64::try_from(m).unwrap_or(-1)))
    }
}

impl Backend for V2 {
    fn has(&self, ctl: Ctl) -> bool {
        let name = match ctl {
            // cpu.stat is a core file, there with or without controllers.
            Ctl::Cpuacct => return true,
            // Device programs attach to any cgroup2 directory.
            Ctl::Devices => {
                let fs = nix::sys::statfs::statfs(&self.mount);
                return fs
                    .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
            }
            // cgroup.freeze (5.2+) is in every non-root cgroup; a missing
            // cgroup gets the clearer "does not exist" from the write.
            Ctl::Freezer => return !self.dir.exists() || self.dir.join("cgroup.freeze").exists(),
            Ctl::NetCls | Ctl::NetPrio => return false,
            Ctl::Io => "io",
            other => other.v1_name(),
        };
        self.controllers().iter().any(|c| c == name)
    }

    fn create(&self) -> Result<()> {
        // A controller reaches a cgroup only through every ancestor's
        // subtree_control. Enable what each level offers, as runc does;
        // failures (EBUSY below a populated non-root cgroup, e.g. a
        // relative path under our own) surface in apply, naming the field.
        let rel = self.dir.strip_prefix(&self.mount).unwrap_or(Path::new(""));
        let mut cur = self.mount.clone();
        for part in rel.components() {
            let offered = read_opt(&cur, "cgroup.controllers")?.unwrap_or_default();
            let enabled = read_opt(&cur, "cgroup.subtree_control")?.unwrap_or_default();
            let enabled: Vec<&str> = enabled.split_whitespace().collect();
            for c in offered.split_whitespace().filter(|c| !enabled.contains(c)) {
                let _ = write_raw(&cur, "cgroup.subtree_control", &format!("+{c}"));
            }
            cur.push(part);
            dirs::mkdir_all(&cur)?;
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        dirs::add_pid(&self.dir, pid)
    }

    fn procs_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn destroy(&self) -> Result<()> {
        dirs::remove(&self.dir)
    }

    fn memory(&self, m: &LinuxMemory) -> Result<()> {
        let dir = &self.dir;
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
                    bail!(
                        "{f}.{name}: {v} is not above the current usage {usage} (checkBeforeUpdate)"
                    );
                }
            }
        }
        // OCI swap is memory+swap; memory.swap.max is swap alone.
        let swap = match (m.swap(), m.limit()) {
            (None, Some(-1)) => Some(-1), // unlimited memory: unlimited swap too (runc)
            (None, _) => None,
            (Some(s), _) if s < 0 => Some(-1),
            (Some(s), l) => match l.map_or_else(|| self.memory_max(), |l| Ok(Some(l)))? {
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
            let value = limit(s);
            match write_raw(dir, "memory.swap.max", &value) {
                // No swap accounting: "no swap" and "unlimited" hold anyway.
                Err(Errno::ENOENT) if s == -1 || s == 0 => {}
                r => r.map_err(|e| {
                    field_error(dir, "memory.swap.max", &value, &format!("{f}.swap"), e)
                })?,
            }
        }
        if let Some(l) = m.limit() {
            write(dir, "memory.max", &limit(l), &format!("{f}.limit"))?;
        }
        if let Some(r) = m.reservation() {
            write(dir, "memory.low", &limit(r), &format!("{f}.reservation"))?;
        }
        Ok(())
    }

    fn cpu(&self, c: &LinuxCpu) -> Result<()> {
        let dir = &self.dir;
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
                r => r.map_err(|e| {
                    field_error(dir, "cpu.max.burst", &value, &format!("{f}.burst"), e)
                })?,
            }
        }
        if max_changes {
            // cpu.max holds both: keep the half that is not being set.
            let current = read_opt(dir, "cpu.max")?.unwrap_or_default();
            let mut cur = files::last_line(&current).split_whitespace();
            let (cur_quota, cur_period) =
                (cur.next().unwrap_or("max"), cur.next().unwrap_or("100000"));
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

    fn cpuset(&self, c: &LinuxCpu) -> Result<()> {
        for (file, value, field) in [
            ("cpuset.cpus", c.cpus(), "linux.resources.cpu.cpus"),
            ("cpuset.mems", c.mems(), "linux.resources.cpu.mems"),
        ] {
            if let Some(v) = value {
                let offered = format!("{file}.effective");
                files::write_cpuset(&self.dir, file, v, field, &offered)?;
            }
        }
        Ok(())
    }

    fn pids_limit(&self, l: i64) -> Result<()> {
        write(
            &self.dir,
            "pids.max",
            &limit(l),
            "linux.resources.pids.limit",
        )
    }

    fn block_io(&self, b: &LinuxBlockIo) -> Result<()> {
        let dir = &self.dir;
        let f = "linux.resources.blockIO";
        if b.leaf_weight().is_some()
            || b.weight_device()
                .iter()
                .flatten()
                .any(|d| d.leaf_weight().is_some())
        {
            bail!("{f}.leafWeight: not supported on cgroup v2");
        }
        // With BFQ the weight keeps its v1 scale; io.weight needs converting.
        let bfq = dir.join("io.bfq.weight").exists();
        let weight = |w: u16| match bfq {
            true => ("io.bfq.weight", w as u64),
            false => ("io.weight", blkio_to_io_weight(w)),
        };
        if let Some((file, w)) = b.weight().map(weight) {
            write(dir, file, &w.to_string(), &format!("{f}.weight"))?;
        }
        for d in b.weight_device().iter().flatten() {
            let dev = format!("{}:{}", d.major(), d.minor());
            if let Some((file, w)) = d.weight().map(weight) {
                let field = format!("{f}.weightDevice[{dev}].weight");
                write(dir, file, &format!("{dev} {w}"), &field)?;
            }
        }
        let throttles = [
            (
                "throttleReadBpsDevice",
                "rbps",
                b.throttle_read_bps_device(),
            ),
            (
                "throttleWriteBpsDevice",
                "wbps",
                b.throttle_write_bps_device(),
            ),
            (
                "throttleReadIOPSDevice",
                "riops",
                b.throttle_read_iops_device(),
            ),
            (
                "throttleWriteIOPSDevice",
                "wiops",
                b.throttle_write_iops_device(),
            ),
        ];
        for (name, key, list) in throttles {
            for t in list.iter().flatten() {
                let dev = format!("{}:{}", t.major(), t.minor());
                let line = format!("{dev} {key}={}", t.rate());
                write(dir, "io.max", &line, &format!("{f}.{name}[{dev}]"))?;
            }
        }
        Ok(())
    }

    fn hugepages(&self, limits: &[LinuxHugepageLimit]) -> Result<()> {
        for l in limits {
            let field = format!("linux.resources.hugepageLimits[{}]", l.page_size());
            let value = limit(l.limit());
            write(
                &self.dir,
                &format!("hugetlb.{}.max", l.page_size()),
                &value,
                &field,
            )?;
            // Reservation accounting (5.7+) also gets the limit, as in runc.
            let rsvd = format!("hugetlb.{}.rsvd.max", l.page_size());
            if self.dir.join(&rsvd).exists() {
                write(&self.dir, &rsvd, &value, &field)?;
            }
        }
        Ok(())
    }

    fn net_cls(&self, _: u32) -> Result<()> {
        bail!("linux.resources.network.classID: not supported on cgroup v2")
    }

    fn net_prio(&self, _: &[LinuxInterfacePriority]) -> Result<()> {
        bail!("linux.resources.network.priorities: not supported on cgroup v2")
    }

    fn rdma(&self, rdma: &HashMap<String, LinuxRdma>) -> Result<()> {
        super::v1::rdma_max(&self.dir, rdma)
    }

    fn devices(&self, rules: &[Rule]) -> Result<()> {
        bpf::apply(&self.dir, rules)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let what = if frozen { "freeze" } else { "thaw" };
        write(
            &self.dir,
            "cgroup.freeze",
            if frozen { "1" } else { "0" },
            what,
        )?;
        if !frozen {
            return Ok(());
        }
        // The write only starts freezing; cgroup.events says when it is done.
        let start = Instant::now();
        loop {
            let events = read(&self.dir, "cgroup.events")?;
            if files::key(&events, "frozen") == Some(1) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = write_raw(&self.dir, "cgroup.freeze", "0");
                bail!("freeze {}: not frozen after 10s", self.dir.display());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn is_frozen(&self) -> Result<bool> {
        // What was asked for: a frozen parent does not make us paused.
        let asked = read_opt(&self.dir, "cgroup.freeze")?;
        Ok(asked.is_some_and(|s| files::last_line(&s) == "1"))
    }

    fn stats(&self, ctl: Ctl, s: &mut Stats) -> Result<()> {
        let dir = &self.dir;
        if !dir.exists() {
            return Ok(());
        }
        match ctl {
            Ctl::Cpu | Ctl::Cpuacct => {
                let text = read_opt(dir, "cpu.stat")?.unwrap_or_default();
                let k = |key: &str| files::key(&text, key).unwrap_or(0);
                if ctl == Ctl::Cpuacct {
                    s.cpu.usage.total = k("usage_usec") * 1000;
                    s.cpu.usage.user = k("user_usec") * 1000;
                    s.cpu.usage.kernel = k("system_usec") * 1000;
                } else {
                    s.cpu.throttling.periods = k("nr_periods");
                    s.cpu.throttling.throttled_periods = k("nr_throttled");
                    s.cpu.throttling.throttled_time = k("throttled_usec") * 1000;
                }
            }
            Ctl::Cpuset => {
                s.cpuset.cpus =
                    stats::cpu_list(&read_opt(dir, "cpuset.cpus.effective")?.unwrap_or_default());
                s.cpuset.mems =
                    stats::cpu_list(&read_opt(dir, "cpuset.mems.effective")?.unwrap_or_default());
            }
            Ctl::Memory => {
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
                    files::key(&read_opt(dir, "memory.events")?.unwrap_or_default(), "max")
                        .unwrap_or(0);
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
            }
            Ctl::Pids => {
                s.pids.current = read_u64_or_zero(dir, "pids.current")?;
                s.pids.limit = read_u64_or_zero(dir, "pids.max")?;
                if s.pids.limit == u64::MAX {
                    s.pids.limit = 0;
                }
            }
            Ctl::Io => {
                let text = read_opt(dir, "io.stat")?.unwrap_or_default();
                for line in text.lines() {
                    let mut f = line.split_whitespace();
                    let Some((major, minor)) = f.next().and_then(|d| d.split_once(':')) else {
                        continue;
                    };
                    let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
                        continue;
                    };
                    for kv in f {
                        let Some((k, v)) = kv.split_once('=') else {
                            continue;
                        };
                        let Ok(value) = v.parse() else { continue };
                        let (list, op) = match k {
                            "rbytes" => (&mut s.blkio.io_service_bytes_recursive, "Read"),
                            "wbytes" => (&mut s.blkio.io_service_bytes_recursive, "Write"),
                            "rios" => (&mut s.blkio.io_serviced_recursive, "Read"),
                            "wios" => (&mut s.blkio.io_serviced_recursive, "Write"),
                            _ => continue,
                        };
                        list.push(BlkioEntry {
                            major,
                            minor,
                            op: op.into(),
                            value,
                        });
                    }
                }
            }
            Ctl::Hugetlb => {
                for size in stats::hugepage_sizes() {
                    let events =
                        read_opt(dir, &format!("hugetlb.{size}.events"))?.unwrap_or_default();
                    let h = stats::Hugetlb {
                        usage: read_u64_or_zero(dir, &format!("hugetlb.{size}.current"))?,
                        max: 0,
                        failcnt: files::key(&events, "max").unwrap_or(0),
                    };
                    s.hugetlb.insert(size, h);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn oom_kills(&self) -> Result<u64> {
        let text = read_opt(&self.dir, "memory.events")?.unwrap_or_default();
        Ok(files::key(&text, "oom_kill").unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::Cgroup;
    use crate::cgroups::mounts::{Mount, Mounts};
    use oci_spec::runtime::LinuxResources;

    /// A fake unified tree at a temp dir; the container at /a/c.
    struct Fake {
        root: PathBuf,
        cg: Cgroup,
    }

    const CONTROLLERS: &str = "cpuset cpu io memory hugetlb pids rdma\n";
    const LEAF_FILES: &[(&str, &str)] = &[
        ("memory.max", "max\n"),
        ("memory.swap.max", ""),
        ("memory.low", ""),
        ("memory.high", ""),
        ("memory.current", "4096\n"),
        ("memory.events", "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n"),
        ("cpu.weight", ""),
        ("cpu.max", "max 100000\n"),
        ("cpu.max.burst", ""),
        ("cpu.idle", ""),
        ("cpuset.cpus", ""),
        ("cpuset.mems", ""),
        ("pids.max", ""),
        ("io.weight", ""),
        ("io.max", ""),
        ("hugetlb.2MB.max", ""),
        ("hugetlb.2MB.rsvd.max", ""),
        ("rdma.max", ""),
        ("cgroup.freeze", "0\n"),
        ("cgroup.events", "populated 0\nfrozen 1\n"),
        ("cgroup.kill", ""),
    ];

    impl Fake {
        fn new(name: &str) -> Fake {
            let root = std::env::temp_dir().join(format!("hull-v2-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            let leaf = root.join("a/c");
            std::fs::create_dir_all(&leaf).unwrap();
            for dir in [&root, &root.join("a"), &leaf] {
                std::fs::write(dir.join("cgroup.controllers"), CONTROLLERS).unwrap();
                std::fs::write(dir.join("cgroup.subtree_control"), "").unwrap();
            }
            for (file, content) in LEAF_FILES {
                std::fs::write(leaf.join(file), content).unwrap();
            }
            let mounts = Mounts {
                v1: vec![],
                v2: Some(Mount {
                    point: root.clone(),
                    root: "/".into(),
                }),
            };
            let cg = Cgroup::resolve(&mounts, "0::/\n", Some(Path::new("/a/c")), "id").unwrap();
            Fake { root, cg }
        }

        fn file(&self, file: &str) -> String {
            std::fs::read_to_string(self.root.join("a/c").join(file)).unwrap()
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
    fn conversions() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(1 << 30), 10000);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn create_enables_controllers_on_the_way_down() {
        let f = Fake::new("create");
        f.cg.create().unwrap();
        let want = "+cpuset\n+cpu\n+io\n+memory\n+hugetlb\n+pids\n+rdma\n";
        let read = |p: &str| std::fs::read_to_string(f.root.join(p)).unwrap();
        assert_eq!(read("cgroup.subtree_control"), want);
        assert_eq!(read("a/cgroup.subtree_control"), want);
        assert_eq!(
            read("a/c/cgroup.subtree_control"),
            "",
            "the leaf keeps its processes"
        );
        assert_eq!(f.cg.unified_dir(), Some(f.root.join("a/c")));
    }

    #[test]
    fn writes_every_field() {
        let f = Fake::new("all");
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": 1000000, "reservation": 500000, "swap": 3000000, "kernel": 5,
                       "checkBeforeUpdate": true, "useHierarchy": true, "disableOOMKiller": false},
            "cpu": {"shares": 1024, "quota": 50000, "period": 200000, "burst": 1000,
                    "cpus": "0-1", "mems": "0", "idle": 0},
            "pids": {"limit": -1},
            "blockIO": {"weight": 500,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 700}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 80}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 90}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "rdma": {"mlx5_1": {"hcaHandles": 3}},
            "unified": {"memory.high": "900000", "io.max": "8:0 rbps=1\n8:16 wiops=2"}
        })))
        .unwrap();
        assert_eq!(f.file("memory.max"), "max\n1000000\n");
        assert_eq!(f.file("memory.swap.max"), "2000000\n");
        assert_eq!(f.file("memory.low"), "500000\n");
        assert_eq!(f.file("cpu.weight"), "39\n");
        assert_eq!(f.file("cpu.max"), "max 100000\n50000 200000\n");
        assert_eq!(f.file("cpu.max.burst"), "1000\n");
        assert_eq!(f.file("cpu.idle"), "0\n");
        assert_eq!(f.file("cpuset.cpus"), "0-1\n");
        assert_eq!(f.file("cpuset.mems"), "0\n");
        assert_eq!(f.file("pids.max"), "max\n");
        assert_eq!(f.file("io.weight"), "4950\n8:0 10000\n");
        assert_eq!(
            f.file("io.max"),
            "8:0 rbps=600\n8:0 wbps=700\n8:0 riops=80\n8:16 wiops=90\n8:0 rbps=1\n8:16 wiops=2\n"
        );
        assert_eq!(f.file("hugetlb.2MB.max"), "4194304\n");
        assert_eq!(f.file("hugetlb.2MB.rsvd.max"), "4194304\n");
        assert_eq!(f.file("rdma.max"), "mlx5_1 hca_handle=3\n");
        assert_eq!(f.file("memory.high"), "900000\n");
        assert_eq!(f.cg.oom_kills().unwrap(), 1);
    }

    #[test]
    fn update_keeps_the_other_half_of_cpu_max() {
        let f = Fake::new("cpumax");
        std::fs::write(f.root.join("a/c/cpu.max"), "20000 50000\n").unwrap();
        f.cg.update(&resources(
            serde_json::json!({"cpu": {"quota": 0, "period": 100000}}),
        ))
        .unwrap();
        f.cg.update(&resources(serde_json::json!({"cpu": {"quota": -1}})))
            .unwrap();
        assert_eq!(f.file("cpu.max"), "20000 50000\n20000 100000\nmax 100000\n");
        // Swap without limit: computed against the current memory.max.
        std::fs::write(f.root.join("a/c/memory.max"), "1000\n").unwrap();
        f.cg.update(&resources(serde_json::json!({"memory": {"swap": 3000}})))
            .unwrap();
        assert_eq!(f.file("memory.swap.max"), "2000\n");
    }

    #[test]
    fn refuses_what_v2_lacks() {
        let f = Fake::new("refuse");
        let err = |json| {
            f.cg.apply(&resources(json))
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            err(serde_json::json!({"network": {"classID": 1}})),
            "linux.resources.network.classID: the net_cls controller is not available on this host (it exists only in cgroup v1)"
        );
        assert!(
            err(serde_json::json!({"memory": {"swappiness": 10}}))
                .starts_with("linux.resources.memory.swappiness: not supported")
        );
        assert!(
            err(serde_json::json!({"memory": {"disableOOMKiller": true}}))
                .contains("disableOOMKiller")
        );
        assert!(
            err(serde_json::json!({"cpu": {"realtimeRuntime": 5}})).contains("realtimeRuntime")
        );
        assert!(err(serde_json::json!({"blockIO": {"leafWeight": 5}})).contains("leafWeight"));
        assert!(
            err(serde_json::json!({"memory": {"limit": 100, "swap": 50}}))
                .contains("swap: 50 is below")
        );
        assert!(
            err(serde_json::json!({"memory": {"limit": 4096, "checkBeforeUpdate": true}}))
                .contains("current usage 4096")
        );
        assert_eq!(
            err(serde_json::json!({"unified": {"misc.max": "x 1"}})),
            format!(
                "linux.resources.unified.misc.max: the misc controller is not enabled in {} (missing, or bound to a cgroup v1 hierarchy)",
                f.root.join("a/c").display()
            )
        );
        assert!(err(serde_json::json!({"unified": {"../x": "1"}})).contains("want a file name"));
        assert!(
            err(serde_json::json!({"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}))
                .contains("hugepageLimits[1GB]: not supported")
        );
    }

    #[test]
    fn freeze_and_stats() {
        let f = Fake::new("freeze");
        f.cg.freeze().unwrap();
        assert!(f.cg.is_frozen().unwrap());
        f.cg.thaw().unwrap();
        assert!(!f.cg.is_frozen().unwrap());
        std::fs::write(
            f.root.join("a/c/cpu.stat"),
            "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\n",
        )
        .unwrap();
        std::fs::write(f.root.join("a/c/pids.current"), "2\n").unwrap();
        let s = f.cg.stats().unwrap();
        assert_eq!(s["cpu"]["usage"]["total"], 10000);
        assert_eq!(s["cpu"]["usage"]["kernel"], 4000);
        assert_eq!(s["cpu"]["throttling"]["periods"], 3);
        assert_eq!(s["pids"]["current"], 2);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["failcnt"], 2);
    }

    #[test]
    fn bfq_weight_unlimited_values_and_kill() {
        let f = Fake::new("bfq");
        std::fs::write(f.root.join("a/c/io.bfq.weight"), "").unwrap();
        f.cg.apply(&resources(serde_json::json!({
            "memory": {"limit": -1, "reservation": -1},
            "cpu": {"quota": -1},
            "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 50}]}
        })))
        .unwrap();
        // BFQ keeps blkio's 10..1000 scale; io.weight is left alone.
        assert_eq!(f.file("io.bfq.weight"), "300\n8:0 50\n");
        assert_eq!(f.file("io.weight"), "");
        assert_eq!(f.file("memory.max"), "max\nmax\n");
        assert_eq!(
            f.file("memory.swap.max"),
            "max\n",
            "unlimited memory: unlimited swap"
        );
        assert_eq!(f.file("memory.low"), "max\n");
        assert_eq!(f.file("cpu.max"), "max 100000\nmax 100000\n");
        f.cg.kill_all(nix::libc::SIGKILL).unwrap();
        assert_eq!(f.file("cgroup.kill"), "1\n");
    }

    #[test]
    fn cpuset_refusal_names_what_the_parent_offers() {
        let f = Fake::new("cpuset");
        std::fs::write(f.root.join("a/cpuset.cpus.effective"), "0-3\n").unwrap();
        std::fs::write(f.root.join("a/cpuset.mems.effective"), "0\n").unwrap();
        // A directory where the file should be: the write fails (EISDIR).
        std::fs::remove_file(f.root.join("a/c/cpuset.cpus")).unwrap();
        std::fs::create_dir(f.root.join("a/c/cpuset.cpus")).unwrap();
        let e =
            f.cg.apply(&resources(
                serde_json::json!({"cpu": {"cpus": "9", "mems": "0"}}),
            ))
            .unwrap_err();
        assert_eq!(
            e.message(),
            "linux.resources.cpu.cpus: write 9 to cpuset.cpus: is a directory \
             (the parent cgroup offers 0-3)"
        );
        // A missing file stays "not supported", without the hint.
        std::fs::remove_dir(f.root.join("a/c/cpuset.cpus")).unwrap();
        let e =
            f.cg.apply(&resources(serde_json::json!({"cpu": {"cpus": "1"}})))
                .unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.cpu.cpus: not supported on this host"),
            "{e}"
        );
    }
}
