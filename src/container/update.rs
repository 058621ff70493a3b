//! `update`: change a live container's cgroup limits, from runc's flags or
//! from a LinuxResources JSON document (`--resources FILE`, `-` for stdin,
//! as podman and containerd send it). A zero value means "leave as is".

use crate::bail;
use crate::error::{Error, Result};
use crate::state::{StateDir, Status};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Read;
use std::path::Path;

/// runc's `update` flags, as given on the command line (parsed here so
/// that errors read like runc's: `invalid value for memory: ...`).
#[derive(Default, Debug, Clone)]
pub struct UpdateFlags {
    pub blkio_weight: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_burst: Option<String>,
    pub cpu_share: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpu_idle: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub memory: Option<String>,
    pub memory_reservation: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<String>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

/// A flag given with a non-empty value (runc ignores empty ones).
fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|v| !v.is_empty())
}

impl UpdateFlags {
    /// The resources the flags ask for; unset flags stay unset.
    pub fn resources(&self) -> Result<LinuxResources> {
        if self.l3_cache_schema.is_some() {
            bail!("Intel RDT/CAT: l3 cache schema is not supported by hull");
        }
        if self.mem_bw_schema.is_some() {
            bail!("Intel RDT/MBA: memory bandwidth schema is not supported by hull");
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

/// A LinuxResources document from a file, or from stdin for `-`. Like
/// runc, only the first JSON value counts and unknown fields are ignored.
pub fn read_resources(source: &str) -> Result<LinuxResources> {
    let what = format!("--resources {source}");
    let mut data = Vec::new();
    let read = if source == "-" {
        std::io::stdin().read_to_end(&mut data).map(drop)
    } else {
        std::fs::File::open(source).and_then(|mut f| f.read_to_end(&mut data).map(drop))
    };
    read.map_err(|e| Error::new(format!("{what}: {}", Error::from(e))))?;
    parse_resources(&data).map_err(|e| Error::new(format!("{what}: {e}")))
}

fn parse_resources(data: &[u8]) -> Result<LinuxResources> {
    if data.iter().all(u8::is_ascii_whitespace) {
        bail!("no JSON (empty input)");
    }
    crate::config::check_depth(data).map_err(Error::new)?;
    let mut de = serde_json::Deserializer::from_slice(data);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." => Error::new(e.into_inner().to_string()),
            _ => Error::new(format!("{path}: {}", e.into_inner())),
        }
    })
}

/// Apply `resources` to a container that has not stopped (runc: `container
/// not running` otherwise). Zero values and unset fields are left alone;
/// an empty device list does not touch the device rules.
pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let st = dir.load()?;
    if super::status(&dir.path, &st) == Status::Stopped {
        bail!("container not running");
    }
    let kernel = resources
        .memory()
        .as_ref()
        .is_some_and(|m| m.kernel().unwrap_or(0) != 0 || m.kernel_tcp().unwrap_or(0) != 0);
    if kernel {
        crate::log::warn("Kernel memory settings are ignored and will be removed");
    }
    super::pause::cgroup(&st)?.update(resources)
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
        let flags = UpdateFlags {
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

        let none = serde_json::to_value(UpdateFlags::default().resources().unwrap()).unwrap();
        assert!(none.get("pids").is_none() && none.get("blockIO").is_none());

        let bad = |f: UpdateFlags| f.resources().unwrap_err().message().to_string();
        assert_eq!(
            bad(UpdateFlags {
                memory: Some("10x".into()),
                ..Default::default()
            }),
            "invalid value for memory: invalid size: '10x'"
        );
        assert!(
            bad(UpdateFlags {
                cpu_period: Some("-5".into()),
                ..Default::default()
            })
            .starts_with("invalid value for cpu-period: \"-5\"")
        );
        assert!(
            bad(UpdateFlags {
                blkio_weight: Some("70000".into()),
                ..Default::default()
            })
            .contains("out of range")
        );
    }

    #[test]
    fn resources_documents() {
        // docker's and podman's documents, and runc's decoder leniency.
        let docker = br#"{"memory":{"limit":134217728,"reservation":0,"swap":268435456,"kernel":0},
            "cpu":{"shares":0,"quota":0,"period":0},"pids":{"limit":77},"blockIO":{"weight":0}}"#;
        let r = parse_resources(docker).unwrap();
        assert_eq!(r.pids().unwrap().limit(), 77);
        let r = parse_resources(br#"{"memory":{"limit":1,"swap":2},"bogus":1} trailing"#).unwrap();
        assert_eq!(r.memory().unwrap().swap(), Some(2));
        assert_eq!(
            parse_resources(b" \n").unwrap_err().message(),
            "no JSON (empty input)"
        );
        let e = parse_resources(br#"{"memory":{"limit":"x"}}"#).unwrap_err();
        assert!(e.message().starts_with("memory.limit: invalid type"), "{e}");
    }
}
