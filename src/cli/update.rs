//! `update`: runc's flags, parsed here into the LinuxResources the
//! library applies (so that errors read like runc's: `invalid value for
//! memory: ...`); or `--resources`, a document the library reads.

use hull::container::update as up;
use hull::error::{Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::path::Path;

/// runc's `update` flags. With `--resources`, the others are ignored.
#[derive(clap::Args, Default)]
pub struct Update {
    /// LinuxResources JSON file to apply, or `-` for standard input
    #[arg(long, short = 'r', allow_hyphen_values = true)]
    resources: Option<String>,
    /// Per cgroup weight, 10 to 1000
    #[arg(long = "blkio-weight", allow_hyphen_values = true)]
    blkio_weight: Option<String>,
    /// CPU CFS period (usecs)
    #[arg(long = "cpu-period", allow_hyphen_values = true)]
    cpu_period: Option<String>,
    /// CPU CFS quota (usecs) per period; -1 for none
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<String>,
    /// CPU CFS burst (usecs)
    #[arg(long = "cpu-burst", allow_hyphen_values = true)]
    cpu_burst: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", alias = "cpu-shares", allow_hyphen_values = true)]
    cpu_share: Option<String>,
    /// CPU realtime period (usecs)
    #[arg(long = "cpu-rt-period", allow_hyphen_values = true)]
    cpu_rt_period: Option<String>,
    /// CPU realtime runtime (usecs) per period
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<String>,
    /// 1: SCHED_IDLE for the cgroup, 0: default
    #[arg(long = "cpu-idle", allow_hyphen_values = true)]
    cpu_idle: Option<String>,
    /// CPUs to use (e.g. 0-2,4)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Obsolete; ignored with a warning
    #[arg(long = "kernel-memory", hide = true, allow_hyphen_values = true)]
    kernel_memory: Option<String>,
    /// Obsolete; ignored with a warning
    #[arg(long = "kernel-memory-tcp", hide = true, allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes; suffixes k, m, g, ...; -1 for none)
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory soft limit (bytes)
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap limit (bytes); -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Maximum number of pids; -1 for none
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Intel RDT/CAT L3 cache schema (not supported)
    #[arg(long = "l3-cache-schema")]
    l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported)
    #[arg(long = "mem-bw-schema")]
    mem_bw_schema: Option<String>,
    id: String,
}

pub fn update(root: &Path, u: Update) -> Result<()> {
    let resources = match &u.resources {
        Some(source) => up::read_resources(source)?,
        None => u.resources()?,
    };
    up::update(root, &u.id, &resources)
}

/// A flag given with a non-empty value (runc ignores empty ones).
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

impl Update {
    /// The resources the flags ask for; unset flags stay unset.
    pub fn resources(&self) -> Result<LinuxResources> {
        if self.l3_cache_schema.is_some() {
            hull::bail!("Intel RDT/CAT: l3 cache schema is not supported by hull");
        }
        if self.mem_bw_schema.is_some() {
            hull::bail!("Intel RDT/MBA: memory bandwidth schema is not supported by hull");
        }
        let uint = |name: &str, v: &Option<String>| -> Result<Option<u64>> {
            set(v)
                .map(|s| {
                    s.parse::<u64>()
                        .map_err(|e| Error::new(format!("invalid value for {name}: {s:?}: {e}")))
                })
                .transpose()
        };
        let int = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
            set(v)
                .map(|s| {
                    s.parse::<i64>()
                        .map_err(|e| Error::new(format!("invalid value for {name}: {s:?}: {e}")))
                })
                .transpose()
        };
        let ram = |name: &str, v: &Option<String>| -> Result<Option<i64>> {
            set(v)
                .map(|s| match s {
                    "-1" => Ok(-1),
                    s => parse_ram(s)
                        .map_err(|e| Error::new(format!("invalid value for {name}: {e}"))),
                })
                .transpose()
        };

        let mut memory = LinuxMemory::default();
        memory
            .set_limit(ram("memory", &self.memory)?)
            .set_swap(ram("memory-swap", &self.memory_swap)?)
            .set_reservation(ram("memory-reservation", &self.memory_reservation)?)
            .set_kernel(ram("kernel-memory", &self.kernel_memory)?)
            .set_kernel_tcp(ram("kernel-memory-tcp", &self.kernel_memory_tcp)?);

        let mut cpu = LinuxCpu::default();
        cpu.set_period(uint("cpu-period", &self.cpu_period)?)
            .set_realtime_period(uint("cpu-rt-period", &self.cpu_rt_period)?)
            .set_shares(uint("cpu-share", &self.cpu_share)?)
            .set_burst(uint("cpu-burst", &self.cpu_burst)?)
            .set_quota(int("cpu-quota", &self.cpu_quota)?)
            .set_realtime_runtime(int("cpu-rt-runtime", &self.cpu_rt_runtime)?)
            .set_idle(int("cpu-idle", &self.cpu_idle)?)
            .set_cpus(set(&self.cpuset_cpus).map(String::from))
            .set_mems(set(&self.cpuset_mems).map(String::from));

        let mut r = LinuxResources::default();
        r.set_memory(Some(memory)).set_cpu(Some(cpu));
        if let Some(w) = int("blkio-weight", &self.blkio_weight)?.filter(|w| *w != 0) {
            let w = u16::try_from(w).map_err(|_| {
                Error::new(format!(
                    "invalid value for blkio-weight: {w} is out of range"
                ))
            })?;
            let mut b = LinuxBlockIo::default();
            b.set_weight(Some(w));
            r.set_block_io(Some(b));
        }
        if let Some(l) = int("pids-limit", &self.pids_limit)? {
            let mut p = LinuxPids::default();
            p.set_limit(l);
            r.set_pids(Some(p));
        }
        Ok(r)
    }
}

/// A size as runc's update flags take it (docker/go-units RAMInBytes):
/// a decimal number, an optional space, then an optional binary unit
/// `k m g t p` (any case) with optional `i` and `b`: `128m`, `1.5g`,
/// `100 MiB`, `4096`.
pub fn parse_ram(s: &str) -> Result<i64> {
    let invalid = || Error::new(format!("invalid size: '{s}'"));
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(num_len);
    let int_part = num.split('.').next().unwrap_or("");
    let ok_num = !int_part.is_empty() && num.matches('.').count() <= 1 && !num.ends_with('.');
    if !ok_num {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mut mul: f64 = 1.0;
    if let Some(c) = chars.peek().copied() {
        let exp = match c.to_ascii_lowercase() {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            _ => 0,
        };
        if exp > 0 {
            mul = 1024f64.powi(exp);
            chars.next();
        }
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(invalid());
    }
    Ok((value * mul) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        for (s, want) in [
            ("100", 100),
            ("100b", 100),
            ("100k", 102400),
            ("128m", 134217728),
            ("128M", 134217728),
            ("128MB", 134217728),
            ("128mb", 134217728),
            ("128MiB", 134217728),
            ("128 MB", 134217728),
            ("1.5g", 1610612736),
            ("1t", 1 << 40),
            ("2P", 2 << 50),
            ("100i", 100),
        ] {
            assert_eq!(parse_ram(s).unwrap(), want, "{s}");
        }
        for s in [
            "", "m", "-5", "0x10", "1e3", "10x", "1.", ".5", "1.2.3", "10  m", "10mbb",
        ] {
            assert_eq!(
                parse_ram(s).unwrap_err().message(),
                format!("invalid size: '{s}'"),
                "{s}"
            );
        }
    }

    #[test]
    fn flags_to_resources() {
        let flags = Update {
            memory: Some("128m".into()),
            memory_swap: Some("-1".into()),
            cpu_share: Some("512".into()),
            cpu_quota: Some("-1".into()),
            cpuset_cpus: Some("0-1".into()),
            blkio_weight: Some("300".into()),
            pids_limit: Some("-1".into()),
            ..Default::default()
        };
        let v = serde_json::to_value(flags.resources().unwrap()).unwrap();
        assert_eq!(v["memory"]["limit"], 134217728);
        assert_eq!(v["memory"]["swap"], -1);
        assert!(v["memory"].get("reservation").is_none());
        assert_eq!(v["cpu"]["shares"], 512);
        assert_eq!(v["cpu"]["quota"], -1);
        assert_eq!(v["cpu"]["cpus"], "0-1");
        assert_eq!(v["blockIO"]["weight"], 300);
        assert_eq!(v["pids"]["limit"], -1);

        let none = serde_json::to_value(Update::default().resources().unwrap()).unwrap();
        assert!(none.get("pids").is_none() && none.get("blockIO").is_none());

        let bad = |f: Update| f.resources().unwrap_err().message().to_string();
        assert_eq!(
            bad(Update {
                memory: Some("10x".into()),
                ..Default::default()
            }),
            "invalid value for memory: invalid size: '10x'"
        );
        assert!(
            bad(Update {
                cpu_period: Some("-5".into()),
                ..Default::default()
            })
            .starts_with("invalid value for cpu-period: \"-5\"")
        );
        assert!(
            bad(Update {
                blkio_weight: Some("70000".into()),
                ..Default::default()
            })
            .contains("out of range")
        );
    }
}
