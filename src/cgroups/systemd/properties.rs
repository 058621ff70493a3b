//! `linux.resources` as systemd unit properties (systemd.resource-control),
//! mapped as runc maps them on cgroup v2. systemd re-applies these on its
//! own (a daemon-reload, a restart of the slice), so limits given only as
//! files could be lost; hull writes the files as well, and those carry
//! everything systemd cannot express.

use oci_spec::runtime::LinuxResources;

use super::dbus::Value;
use crate::cgroups::controllers::devices::effective_rules;
use crate::cgroups::controllers::devices::rules::{Kind, MKNOD, READ, Rule, WRITE};
use crate::cgroups::controllers::{blkio, cpu};
use crate::error::{Error, Result};

/// systemd's "infinity" for limits (USEC_INFINITY, CGROUP_LIMIT_MAX).
const INFINITY: u64 = u64::MAX;

/// The kernel's default CFS period, as runc assumes when none is given.
const DEFAULT_PERIOD: u64 = 100_000;

pub type Property = (&'static str, Value);

/// The properties for `resources`; zero values are unset, as runc takes
/// them. `update`: device rules only when the update has some.
pub fn from_resources(r: &LinuxResources, update: bool) -> Result<Vec<Property>> {
    let mut props = Vec::new();
    let limit = |v: i64| if v < 0 { INFINITY } else { v as u64 };
    if let Some(m) = r.memory() {
        let (mem, swap) = (m.limit().filter(|&v| v != 0), m.swap().filter(|&v| v != 0));
        if let Some(l) = mem {
            props.push(("MemoryMax", Value::U64(limit(l))));
        }
        if let Some(l) = m.reservation().filter(|&v| v != 0) {
            props.push(("MemoryLow", Value::U64(limit(l))));
        }
        // OCI swap counts memory+swap; systemd's is swap alone. What does
        // not convert is left to the files, which name the field.
        let swap = match (swap, mem) {
            (Some(s), _) if s < 0 => Some(INFINITY),
            (Some(s), Some(l)) if l < 0 => Some(s as u64),
            (Some(s), Some(l)) if s >= l => Some((s - l) as u64),
            (None, Some(-1)) => Some(INFINITY),
            _ => None,
        };
        if let Some(s) = swap {
            props.push(("MemorySwapMax", Value::U64(s)));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|&s| s != 0) {
            props.push(("CPUWeight", Value::U64(cpu::shares_to_weight(shares))));
        }
        cpu_quota(&mut props, c.quota().unwrap_or(0), c.period().unwrap_or(0));
        let lists = [
            ("AllowedCPUs", c.cpus(), "cpus"),
            ("AllowedMemoryNodes", c.mems(), "mems"),
        ];
        for (name, list, field) in lists {
            if let Some(list) = list.as_deref().filter(|l| !l.is_empty()) {
                let bits = list_to_bits(list)
                    .map_err(|e| Error::at(&format!("linux.resources.cpu.{field}"), e))?;
                props.push((name, Value::Array("y".into(), bits)));
            }
        }
    }
    if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
        props.push(("TasksMax", Value::U64(limit(p.limit()))));
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        props.extend((w != 0).then(|| ("IOWeight", Value::U64(blkio::blkio_to_io_weight(w)))));
    }
    if let Some((rules, _)) = effective_rules(r, update)? {
        devices(&mut props, &rules);
    }
    Ok(props)
}

/// CPUQuotaPerSecUSec, rounded up to whole percents as systemd keeps it
/// (else the cgroup's quota would end up below the config's), and the
/// period.
fn cpu_quota(props: &mut Vec<Property>, quota: i64, period: u64) {
    if period != 0 {
        props.push(("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = INFINITY;
    if quota > 0 {
        let period = if period == 0 { DEFAULT_PERIOD } else { period };
        per_sec = (quota as u64).saturating_mul(1_000_000) / period;
        per_sec = per_sec.next_multiple_of(10_000);
    }
    props.push(("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// A cpu or memory-node list (`0-3,8`) as systemd's bitmask: bit n of
/// byte n/8 for cpu n.
fn list_to_bits(list: &str) -> std::result::Result<Vec<Value>, String> {
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.trim().split(',') {
        let number = |s: &str| {
            s.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| n < 1 << 16)
                .ok_or_else(|| format!("{list:?} is not a list of numbers and ranges"))
        };
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        if first > last {
            return Err(format!("{list:?}: the range {part} runs backwards"));
        }
        for n in first..=last {
            if bytes.len() <= n / 8 {
                bytes.resize(n / 8 + 1, 0);
            }
            bytes[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(bytes.into_iter().map(Value::Byte).collect())
}

/// DevicePolicy and DeviceAllow, when systemd can say exactly what the
/// rules say: an allow list after deny-all, each rule of one type. Any
/// other shape (a deny after an allow, a `*:n` rule, type `a` with
/// numbers) gets policy `auto` with no list: systemd then attaches no
/// device program and hull's own enforces the rules. runc instead tells
/// systemd "deny all" there, which a daemon-reload would make the
/// container's only rule.
fn devices(props: &mut Vec<Property>, rules: &[Rule]) {
    let allow_list = allow_list(rules);
    let policy = if allow_list.is_some() {
        "strict"
    } else {
        "auto"
    };
    let entries = allow_list.unwrap_or_default().into_iter();
    let entries = entries
        .map(|(path, perms)| Value::Struct(vec![Value::Str(path), Value::Str(perms)]))
        .collect();
    props.push(("DevicePolicy", Value::Str(policy.into())));
    props.push(("DeviceAllow", Value::Array("(ss)".into(), entries)));
}

/// The rules as (device, permissions) entries for DeviceAllow, or None
/// where systemd's allow list cannot express them (see [`devices`]); an
/// allow-all ends as None too, which is what policy `auto` means.
fn allow_list(rules: &[Rule]) -> Option<Vec<(String, String)>> {
    let mut list = Vec::new();
    for r in rules {
        let everything = r.kind == Kind::All && r.major.is_none() && r.minor.is_none();
        match (r.allow, everything) {
            (false, true) => list.clear(),
            (false, false) | (true, true) => return None,
            (true, false) => list.push(allow_entry(r)?),
        }
    }
    Some(list)
}

fn allow_entry(r: &Rule) -> Option<(String, String)> {
    let kind = match r.kind {
        Kind::Char => "char",
        Kind::Block => "block",
        Kind::All => return None,
    };
    let device = match (r.major, r.minor) {
        (Some(major), Some(minor)) => format!("/dev/{kind}/{major}:{minor}"),
        (Some(major), None) => format!("{kind}-{major}"),
        (None, None) => format!("{kind}-*"),
        (None, Some(_)) => return None,
    };
    let perms: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
        .iter()
        .filter(|(bit, _)| r.access & bit != 0)
        .map(|(_, c)| c)
        .collect();
    Some((device, perms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    fn find<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn limits_map_as_runc_maps_them() {
        let r = resources(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728},
            "cpu": {"shares": 1024, "quota": 12345, "period": 100000, "cpus": "0-2,9"},
            "pids": {"limit": -1},
            "blockIO": {"weight": 500}
        }));
        let p = from_resources(&r, false).unwrap();
        assert_eq!(find(&p, "MemoryMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(find(&p, "MemoryLow"), Some(&Value::U64(32 << 20)));
        assert_eq!(find(&p, "MemorySwapMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(find(&p, "CPUWeight"), Some(&Value::U64(39)));
        // 12345 per 100000 is 123450 us a second: 13 %.
        assert_eq!(find(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(130_000)));
        assert_eq!(find(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        let bits = [0b0000_0111u8, 0b0000_0010];
        let bits = bits.iter().map(|&b| Value::Byte(b)).collect();
        assert_eq!(
            find(&p, "AllowedCPUs"),
            Some(&Value::Array("y".into(), bits))
        );
        assert_eq!(find(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(find(&p, "IOWeight"), Some(&Value::U64(4950)));
    }

    #[test]
    fn zeroes_are_unset_and_an_update_leaves_devices_alone() {
        let r = resources(serde_json::json!({"memory": {"limit": 0}, "pids": {"limit": 0}}));
        let p = from_resources(&r, true).unwrap();
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn default_device_rules_become_a_strict_allow_list() {
        let p = from_resources(&LinuxResources::default(), false).unwrap();
        assert_eq!(find(&p, "DevicePolicy"), Some(&Value::Str("strict".into())));
        let Some(Value::Array(_, list)) = find(&p, "DeviceAllow") else {
            panic!("no DeviceAllow in {p:?}");
        };
        let entry =
            |d: &str, a: &str| Value::Struct(vec![Value::Str(d.into()), Value::Str(a.into())]);
        assert!(list.contains(&entry("char-*", "m")), "{list:?}");
        assert!(list.contains(&entry("/dev/char/1:3", "rwm")), "{list:?}");
        assert!(list.contains(&entry("char-136", "rwm")), "{list:?}");
    }

    #[test]
    fn rules_systemd_cannot_express_leave_the_policy_auto() {
        for devices in [
            serde_json::json!([{"allow": true, "access": "rwm"}]),
            serde_json::json!([{"allow": true, "type": "c", "minor": 3, "access": "r"}]),
            serde_json::json!([
                {"allow": true, "type": "c", "major": 1, "access": "rwm"},
                {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
            ]),
        ] {
            let r = resources(serde_json::json!({ "devices": devices }));
            let p = from_resources(&r, false).unwrap();
            assert_eq!(find(&p, "DevicePolicy"), Some(&Value::Str("auto".into())));
            assert_eq!(
                find(&p, "DeviceAllow"),
                Some(&Value::Array("(ss)".into(), vec![]))
            );
        }
    }

    #[test]
    fn bad_cpu_lists_name_the_field() {
        let r = resources(serde_json::json!({"cpu": {"cpus": "3-1"}}));
        let e = from_resources(&r, false).unwrap_err();
        assert!(e.message().starts_with("linux.resources.cpu.cpus: "), "{e}");
    }
}
