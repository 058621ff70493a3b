//! Device access rules (`linux.resources.devices`), checked once and shared
//! by the v1 devices controller and the v2 BPF program.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::bail;
use crate::error::Result;

/// Access bits, with the values of the kernel's BPF_DEVCG_ACC_*.
pub const MKNOD: u8 = 1;
pub const READ: u8 = 2;
pub const WRITE: u8 = 4;
pub const ALL: u8 = MKNOD | READ | WRITE;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    All,
    Block,
    Char,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Kind,
    /// None: any.
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u8,
    /// Config field for errors, e.g. `linux.resources.devices[2]`.
    pub field: String,
}

impl Rule {
    /// The devices.allow/devices.deny line: `c 1:3 rwm`.
    pub fn v1_line(&self) -> String {
        let kind = match self.kind {
            Kind::All => 'a',
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        let access: String = [(READ, 'r'), (WRITE, 'w'), (MKNOD, 'm')]
            .iter()
            .filter(|(bit, _)| self.access & bit != 0)
            .map(|(_, c)| c)
            .collect();
        format!("{kind} {}:{} {access}", num(self.major), num(self.minor))
    }
}

/// Check and convert OCI rules; `field` prefixes their position in errors.
pub fn parse(rules: &[LinuxDeviceCgroup], field: &str) -> Result<Vec<Rule>> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| parse_one(r, &format!("{field}[{i}]")))
        .collect()
}

fn parse_one(r: &LinuxDeviceCgroup, field: &str) -> Result<Rule> {
    let kind = match r.typ().unwrap_or_default() {
        LinuxDeviceType::A => Kind::All,
        LinuxDeviceType::B => Kind::Block,
        // "u" is an unbuffered character device: the same to the kernel.
        LinuxDeviceType::C | LinuxDeviceType::U => Kind::Char,
        LinuxDeviceType::P => {
            bail!("{field}: type p (fifo) cannot be controlled by the device cgroup")
        }
    };
    // Negative numbers mean "any", as -1 does in runc's configs.
    let number = |n: Option<i64>, what: &str| -> Result<Option<u32>> {
        match n {
            Some(n) if n > i32::MAX as i64 => bail!("{field}: {what} {n} is out of range"),
            Some(n) if n >= 0 => Ok(Some(n as u32)),
            _ => Ok(None),
        }
    };
    // An empty access means all, as crun reads it.
    let text = r
        .access()
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("rwm");
    let mut access = 0;
    for c in text.chars() {
        access |= match c {
            'r' => READ,
            'w' => WRITE,
            'm' => MKNOD,
            _ => bail!("{field}: invalid access {text:?} (want a combination of r, w, m)"),
        };
    }
    Ok(Rule {
        allow: r.allow(),
        kind,
        major: number(r.major(), "major")?,
        minor: number(r.minor(), "minor")?,
        access,
        field: field.to_string(),
    })
}

/// runc's default allow list, appended after the config's rules: mknod of
/// any node (creating one grants no access), the standard character
/// devices, /dev/pts/*, /dev/ptmx, the console, and /dev/net/tun (kept by
/// runc for compatibility).
pub fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(typ))
            .set_major(major)
            .set_minor(minor)
            .set_access(Some(access.to_string()));
        r
    };
    let c = |major, minor| rule(LinuxDeviceType::C, Some(major), minor, "rwm");
    vec![
        rule(LinuxDeviceType::C, None, None, "m"),
        rule(LinuxDeviceType::B, None, None, "m"),
        c(1, Some(3)),    // null
        c(1, Some(5)),    // zero
        c(1, Some(7)),    // full
        c(5, Some(0)),    // tty
        c(1, Some(8)),    // random
        c(1, Some(9)),    // urandom
        c(5, Some(1)),    // console
        c(5, Some(2)),    // ptmx
        c(136, None),     // pts
        c(10, Some(200)), // net/tun
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_defaults() {
        let rules = parse(&default_device_rules(), "d").unwrap();
        let lines: Vec<_> = rules.iter().map(Rule::v1_line).collect();
        assert_eq!(lines[..3], ["c *:* m", "b *:* m", "c 1:3 rwm"]);
        assert!(lines.contains(&"c 136:* rwm".to_string()));
        assert!(rules.iter().all(|r| r.allow));
    }

    #[test]
    fn rejects_bad_rules() {
        let mut r = LinuxDeviceCgroup::default();
        r.set_access(Some("rx".into()));
        let e = parse(&[r.clone()], "linux.resources.devices").unwrap_err();
        assert!(
            e.message()
                .starts_with("linux.resources.devices[0]: invalid access"),
            "{e}"
        );
        r.set_access(None).set_typ(Some(LinuxDeviceType::P));
        assert!(parse(&[r], "x").is_err());
        // Unset type, numbers and access: everything.
        let all = parse(&[LinuxDeviceCgroup::default()], "x").unwrap();
        assert_eq!(all[0].v1_line(), "a *:* rwm");
        assert!(!all[0].allow);
    }
}
