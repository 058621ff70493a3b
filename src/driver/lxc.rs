//! The Command's `config` map: only `lxc` entries of the form
//! `lxc.cgroup.<file>=<value>`, each mapped to the `linux.resources` field
//! that writes the same cgroup file, so that hull applies it on cgroup v1
//! and v2 alike. Everything else is refused, naming the key or file.

use crate::bail;
use crate::error::{Error, Result};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The cgroup files an `lxc.cgroup.` entry may set, with the
/// `linux.resources` field each becomes.
pub const FILES: &[(&str, &str)] = &[
    ("memory.limit_in_bytes", "memory.limit"),
    ("memory.memsw.limit_in_bytes", "memory.swap"),
    ("memory.soft_limit_in_bytes", "memory.reservation"),
    ("memory.swappiness", "memory.swappiness"),
    ("memory.oom_control", "memory.disableOOMKiller"),
    ("cpu.shares", "cpu.shares"),
    ("cpu.cfs_quota_us", "cpu.quota"),
    ("cpu.cfs_period_us", "cpu.period"),
    ("cpu.rt_runtime_us", "cpu.realtimeRuntime"),
    ("cpu.rt_period_us", "cpu.realtimePeriod"),
    ("cpuset.cpus", "cpu.cpus"),
    ("cpuset.mems", "cpu.mems"),
    ("pids.max", "pids.limit"),
    ("blkio.weight", "blockIO.weight"),
    ("devices.allow", "devices"),
    ("devices.deny", "devices"),
];

/// Check the whole map without building anything.
pub fn validate(config: &BTreeMap<String, Vec<String>>) -> Result<()> {
    apply(config, &mut Value::Null)
}

/// Set the fields of `resources` (a `linux.resources` object) that the
/// `lxc` entries name; later entries win, device rules accumulate.
pub fn apply(config: &BTreeMap<String, Vec<String>>, resources: &mut Value) -> Result<()> {
    if let Some(key) = config.keys().find(|k| *k != "lxc") {
        bail!(
            "command: config: unknown key {key:?} (hull reads only \"lxc\" entries of the form lxc.cgroup.<file>=<value>)"
        );
    }
    for (i, entry) in config.get("lxc").into_iter().flatten().enumerate() {
        apply_one(entry, resources).map_err(|e| {
            let msg = crate::error::one_line(e.message());
            Error::new(format!("command: config.lxc[{i}]: {msg}"))
        })?;
    }
    Ok(())
}

fn apply_one(entry: &str, res: &mut Value) -> Result<()> {
    let Some((key, value)) = entry.split_once('=') else {
        bail!("{entry:?} is not of the form lxc.cgroup.<file>=<value>");
    };
    let (key, value) = (key.trim(), value.trim());
    let Some(file) = key.strip_prefix("lxc.cgroup.") else {
        bail!("{key}: not supported (hull reads only lxc.cgroup.<file>=<value>)");
    };
    let Some((_, field)) = FILES.iter().find(|(f, _)| *f == file) else {
        let known: Vec<&str> = FILES.iter().map(|(f, _)| *f).collect();
        bail!(
            "{key}: cgroup file {file:?} is not supported (supported: {})",
            known.join(", ")
        );
    };
    let bad = |what: &str| Error::new(format!("{key}: {value:?} is not {what}"));
    let v: Value = match file {
        "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes" | "memory.soft_limit_in_bytes" => {
            json!(
                parse_bytes(value).ok_or_else(|| bad(
                    "a size (bytes, with an optional K, M or G suffix, or -1)"
                ))?
            )
        }
        "memory.swappiness" => match value.parse::<u64>() {
            Ok(n) if n <= 100 => json!(n),
            _ => return Err(bad("a swappiness (0-100)")),
        },
        "memory.oom_control" => match value {
            "0" => json!(false),
            "1" => json!(true),
            _ => return Err(bad("0 or 1")),
        },
        "cpu.shares" | "cpu.cfs_period_us" | "cpu.rt_period_us" => {
            json!(
                value
                    .parse::<u64>()
                    .map_err(|_| bad("a non-negative integer"))?
            )
        }
        "cpu.cfs_quota_us" | "cpu.rt_runtime_us" => {
            json!(value.parse::<i64>().map_err(|_| bad("an integer"))?)
        }
        "cpuset.cpus" | "cpuset.mems" => {
            super::command::check_cpu_list(value).map_err(|e| Error::new(format!("{key}: {e}")))?;
            json!(value)
        }
        "pids.max" => match value {
            "max" => json!(-1),
            n => match n.parse::<i64>() {
                Ok(n) if n > 0 => json!(n),
                _ => return Err(bad("a positive integer or \"max\"")),
            },
        },
        "blkio.weight" => match value.parse::<u16>() {
            Ok(n) if (10..=1000).contains(&n) => json!(n),
            _ => return Err(bad("a weight (10-1000)")),
        },
        "devices.allow" | "devices.deny" => {
            let rule = parse_device_rule(value, file == "devices.allow")
                .map_err(|e| Error::new(format!("{key}: {e}")))?;
            match res["devices"].as_array_mut() {
                Some(list) => list.push(rule),
                None => res["devices"] = json!([rule]),
            }
            return Ok(());
        }
        _ => unreachable!("every file in FILES is handled"),
    };
    let (group, name) = field.split_once('.').unwrap_or((field, ""));
    res[group][name] = v;
    Ok(())
}

/// `512M`, `1g`, `1048576`, `-1`: what memory.*limit_in_bytes accepts.
fn parse_bytes(s: &str) -> Option<i64> {
    if s == "-1" {
        return Some(-1);
    }
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1i64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<i64>().ok()?.checked_mul(mult)
}

/// A devices.allow/deny line: `a`, `c 1:3 rwm`, `b *:* m`, `c 136:* rw`.
fn parse_device_rule(s: &str, allow: bool) -> Result<Value> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let usage = || {
        Error::new(format!(
            "{s:?} is not a device rule (like \"c 1:3 rwm\" or \"a\")"
        ))
    };
    let typ = match parts.first() {
        Some(&t @ ("a" | "b" | "c")) => t,
        _ => return Err(usage()),
    };
    let mut rule = json!({"allow": allow, "type": typ});
    if typ == "a" && parts.len() == 1 {
        rule["access"] = json!("rwm");
        return Ok(rule);
    }
    if parts.len() != 3 {
        return Err(usage());
    }
    let (major, minor) = parts[1].split_once(':').ok_or_else(usage)?;
    for (name, n) in [("major", major), ("minor", minor)] {
        if n != "*" {
            rule[name] = json!(n.parse::<u32>().map_err(|_| usage())?);
        }
    }
    let access = parts[2];
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(usage());
    }
    rule["access"] = json!(access);
    Ok(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(entries: &[&str]) -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([(
            "lxc".to_string(),
            entries.iter().map(|e| e.to_string()).collect(),
        )])
    }

    fn applied(entries: &[&str]) -> Value {
        let mut v = Value::Null;
        apply(&conf(entries), &mut v).unwrap();
        v
    }

    #[test]
    fn errors_quoting_entries_stay_one_line() {
        // Found by fuzz/ (driver): the entry was quoted as it is.
        let e = validate(&conf(&["lxc.cgroup.cpu\u{7f}.shares=1"])).unwrap_err();
        assert!(
            e.message()
                .starts_with(r"command: config.lxc[0]: lxc.cgroup.cpu\u{7f}.shares: cgroup file"),
            "{e}"
        );
    }

    #[test]
    fn every_file() {
        let v = applied(&[
            "lxc.cgroup.memory.limit_in_bytes=512M",
            "lxc.cgroup.memory.memsw.limit_in_bytes = 1G",
            "lxc.cgroup.memory.soft_limit_in_bytes=1048576",
            "lxc.cgroup.memory.swappiness=10",
            "lxc.cgroup.memory.oom_control=1",
            "lxc.cgroup.cpu.shares=512",
            "lxc.cgroup.cpu.cfs_quota_us=50000",
            "lxc.cgroup.cpu.cfs_period_us=100000",
            "lxc.cgroup.cpu.rt_runtime_us=-1",
            "lxc.cgroup.cpu.rt_period_us=1000000",
            "lxc.cgroup.cpuset.cpus=0-1",
            "lxc.cgroup.cpuset.mems=0",
            "lxc.cgroup.pids.max=max",
            "lxc.cgroup.blkio.weight=300",
            "lxc.cgroup.devices.allow=c 10:200 rwm",
            "lxc.cgroup.devices.deny=b *:* m",
            "lxc.cgroup.devices.allow=a",
        ]);
        assert_eq!(
            v,
            json!({
                "memory": {"limit": 512i64 << 20, "swap": 1i64 << 30, "reservation": 1048576,
                           "swappiness": 10, "disableOOMKiller": true},
                "cpu": {"shares": 512, "quota": 50000, "period": 100000,
                        "realtimeRuntime": -1, "realtimePeriod": 1000000,
                        "cpus": "0-1", "mems": "0"},
                "pids": {"limit": -1},
                "blockIO": {"weight": 300},
                "devices": [
                    {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
                    {"allow": false, "type": "b", "access": "m"},
                    {"allow": true, "type": "a", "access": "rwm"}
                ]
            })
        );
    }

    #[test]
    fn later_entries_win() {
        let v = applied(&["lxc.cgroup.cpu.shares=2", "lxc.cgroup.cpu.shares=3"]);
        assert_eq!(v["cpu"]["shares"], 3);
    }

    #[test]
    fn refusals_name_key_and_entry() {
        let err = |entries: &[&str]| validate(&conf(entries)).unwrap_err().to_string();
        assert_eq!(
            err(&["lxc.cgroup.cpu.shares=1", "lxc.utsname=x"]),
            "command: config.lxc[1]: lxc.utsname: not supported (hull reads only lxc.cgroup.<file>=<value>)"
        );
        assert!(err(&["lxc.cgroup.freezer.state=FROZEN"]).starts_with(
            "command: config.lxc[0]: lxc.cgroup.freezer.state: cgroup file \"freezer.state\" is not supported"
        ));
        assert!(err(&["lxc.cgroup.cpu.shares"]).contains("not of the form"));
        assert!(err(&["lxc.cgroup.memory.limit_in_bytes=lots"]).contains("is not a size"));
        assert!(err(&["lxc.cgroup.devices.allow=x 1:2 r"]).contains("is not a device rule"));
        assert!(err(&["lxc.cgroup.devices.allow=c 1:2 rwx"]).contains("is not a device rule"));
        assert!(err(&["lxc.cgroup.blkio.weight=5"]).contains("(10-1000)"));
        let other = BTreeMap::from([("native".to_string(), vec![])]);
        assert!(
            validate(&other)
                .unwrap_err()
                .message()
                .contains("unknown key \"native\"")
        );
        validate(&BTreeMap::new()).unwrap();
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1k"), Some(1024));
        assert_eq!(parse_bytes("2M"), Some(2 << 20));
        assert_eq!(parse_bytes("-1"), Some(-1));
        assert_eq!(parse_bytes("-2"), None);
        assert_eq!(parse_bytes("M"), None);
        assert_eq!(parse_bytes("99999999999G"), None);
    }
}
