//! blkio (io on v2): `linux.resources.blockIO` (weights, throttles) and the
//! I/O statistics.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use super::{Controller, Dir, Locate, Unified, nonzero};
use crate::bail;
use crate::cgroups::files::{read_opt, write};
use crate::cgroups::stats::{BlkioEntry, Stats};
use crate::error::Result;

pub const CONTROLLER: Controller = Controller {
    name: "blkio",
    v2: Unified::Listed("io"),
    set: Some(set),
    stats: Some(stats),
    feature: false,
};

fn set(r: &LinuxResources, _update: bool, at: &dyn Locate) -> Result<()> {
    let Some(b) = r
        .block_io()
        .as_ref()
        .map(without_zeroes)
        .filter(|b| *b != LinuxBlockIo::default())
    else {
        return Ok(());
    };
    match at.require(field_of(&b))? {
        Dir::V1(dir) => set_v1(dir, &b),
        Dir::V2(dir) => set_v2(dir, &b),
    }
}

/// The first field `b` sets, for an error that the controller is missing.
fn field_of(b: &LinuxBlockIo) -> &'static str {
    [
        (b.weight().is_some(), "linux.resources.blockIO.weight"),
        (
            b.leaf_weight().is_some(),
            "linux.resources.blockIO.leafWeight",
        ),
        (
            b.weight_device().is_some(),
            "linux.resources.blockIO.weightDevice",
        ),
        (
            b.throttle_read_bps_device().is_some(),
            "linux.resources.blockIO.throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device().is_some(),
            "linux.resources.blockIO.throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device().is_some(),
            "linux.resources.blockIO.throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device().is_some(),
            "linux.resources.blockIO.throttleWriteIOPSDevice",
        ),
    ]
    .into_iter()
    .find_map(|(set, field)| set.then_some(field))
    .unwrap_or("linux.resources.blockIO")
}

/// `b` without the zero weights and empty device lists runc leaves alone.
fn without_zeroes(b: &LinuxBlockIo) -> LinuxBlockIo {
    fn non_empty<T: Clone>(l: &Option<Vec<T>>) -> Option<Vec<T>> {
        l.as_ref().filter(|l| !l.is_empty()).cloned()
    }
    let mut out = LinuxBlockIo::default();
    out.set_weight(nonzero(b.weight()))
        .set_leaf_weight(nonzero(b.leaf_weight()))
        .set_weight_device(non_empty(b.weight_device()))
        .set_throttle_read_bps_device(non_empty(b.throttle_read_bps_device()))
        .set_throttle_write_bps_device(non_empty(b.throttle_write_bps_device()))
        .set_throttle_read_iops_device(non_empty(b.throttle_read_iops_device()))
        .set_throttle_write_iops_device(non_empty(b.throttle_write_iops_device()));
    out
}

fn set_v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
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

/// blkio.weight (10..1000) to io.weight (1..10000), runc's conversion.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = weight.clamp(10, 1000) as u64;
    1 + (w - 10) * 9999 / 990
}

fn set_v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
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

fn stats(dir: Dir, s: &mut Stats) -> Result<()> {
    match dir {
        Dir::V1(dir) => stats_v1(dir, s),
        Dir::V2(dir) => stats_v2(dir, s),
    }
}

fn stats_v1(dir: &Path, s: &mut Stats) -> Result<()> {
    // BFQ's recursive counters where present, else the throttle layer's
    // (which sees every device).
    let pick = |name: &str| -> Result<Vec<BlkioEntry>> {
        let text = match read_opt(dir, &format!("blkio.bfq.{name}_recursive"))? {
            Some(t) => t,
            None => read_opt(dir, &format!("blkio.throttle.{name}_recursive"))?.unwrap_or_default(),
        };
        Ok(blkio_entries(&text))
    };
    s.blkio.io_service_bytes_recursive = pick("io_service_bytes")?;
    s.blkio.io_serviced_recursive = pick("io_serviced")?;
    Ok(())
}

/// v1 blkio files: `8:0 Read 1234` lines (a `Total 5` line closes them).
fn blkio_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (major, minor) = f.first()?.split_once(':')?;
            let (op, value) = match f.len() {
                3 => (f[1], f[2]),
                2 => ("", f[1]),
                _ => return None,
            };
            Some(BlkioEntry {
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
                op: op.to_string(),
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// io.stat: `8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...` lines.
fn stats_v2(dir: &Path, s: &mut Stats) -> Result<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_converts_to_io_weight() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn v1_entries() {
        let e = blkio_entries("8:0 Read 10\n8:0 Write 5\nTotal 15\n8:16 7\n");
        assert_eq!(e.len(), 3);
        assert_eq!((e[1].op.as_str(), e[1].value), ("Write", 5));
        assert_eq!((e[2].minor, e[2].op.as_str()), (16, ""));
    }
}
