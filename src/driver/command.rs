//! The execdriver `Command`: what early Docker's exec drivers took, as the
//! Go struct marshals it (snake_case keys, `null` for a nil slice, map or
//! pointer). Parsing refuses unknown keys; [`Command::validate`] checks
//! every field that can be checked without looking at the host, and names
//! the field in its error.

use crate::bail;
use crate::error::{Error, Result, one_line};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Component, Path};

/// A container to run: the process, its root filesystem, and what it may
/// see and use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Command {
    /// Container ID (letters, digits, `_ . -`).
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    /// Absolute path of the root filesystem.
    #[serde(deserialize_with = "nullable")]
    pub rootfs: String,
    /// The program; looked up in the container's `PATH`.
    #[serde(deserialize_with = "nullable")]
    pub entrypoint: String,
    /// Its arguments (argv[1..]).
    #[serde(deserialize_with = "nullable")]
    pub arguments: Vec<String>,
    /// Absolute path; default `/`.
    #[serde(deserialize_with = "nullable")]
    pub working_dir: String,
    /// `name`, `uid`, `uid:gid`, `name:group` (default root).
    #[serde(deserialize_with = "nullable")]
    pub user: String,
    /// A pty as the process's stdio.
    #[serde(deserialize_with = "nullable")]
    pub tty: bool,
    #[serde(deserialize_with = "nullable")]
    pub privileged: bool,
    /// `K=V` entries.
    #[serde(deserialize_with = "nullable")]
    pub env: Vec<String>,
    /// Default: the first 12 characters of the ID.
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    pub network: Option<Network>,
    pub resources: Option<Resources>,
    #[serde(deserialize_with = "nullable")]
    pub mounts: Vec<Mount>,
    /// Device cgroup rules (on top of the default allow list).
    #[serde(deserialize_with = "nullable")]
    pub allowed_devices: Vec<Device>,
    /// Device nodes to create in the container (and allow).
    #[serde(deserialize_with = "nullable")]
    pub autocreated_devices: Vec<Device>,
    #[serde(deserialize_with = "nullable")]
    pub cap_add: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    pub cap_drop: Vec<String>,
    /// Driver-specific options; only `lxc` (`lxc.cgroup.<file>=<value>`).
    #[serde(deserialize_with = "nullable")]
    pub config: BTreeMap<String, Vec<String>>,
    /// Accepted for compatibility: hull is its own init.
    #[serde(deserialize_with = "nullable")]
    pub initpath: String,
    /// Accepted for compatibility (the lxc driver's config file).
    #[serde(deserialize_with = "nullable")]
    pub config_path: String,
    /// Output: the container's pid once it runs (ignored on input).
    #[serde(deserialize_with = "nullable")]
    pub container_pid: i32,
}

/// `network`: host networking, another container's namespace, or a new
/// namespace with loopback and optionally one veth interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// The interface's MTU (0: the kernel's default).
    #[serde(deserialize_with = "nullable")]
    pub mtu: u32,
    /// Share the caller's network namespace.
    #[serde(deserialize_with = "nullable")]
    pub host_networking: bool,
    /// Join the network namespace of this running container.
    #[serde(deserialize_with = "nullable")]
    pub container_id: String,
    /// None: a new namespace with only loopback.
    pub interface: Option<Interface>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Interface {
    /// IPv4 address of eth0.
    #[serde(deserialize_with = "nullable")]
    pub ip: String,
    #[serde(deserialize_with = "nullable")]
    pub ip_prefix_len: u32,
    /// Default route via this address ("" for none).
    #[serde(deserialize_with = "nullable")]
    pub gateway: String,
    /// eth0's MAC address ("" for a random one).
    #[serde(deserialize_with = "nullable")]
    pub mac_address: String,
    /// Bridge to attach the host end to ("" to leave it unattached).
    #[serde(deserialize_with = "nullable")]
    pub bridge: String,
}

/// `resources`; 0 means unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resources {
    /// Memory limit in bytes.
    #[serde(deserialize_with = "nullable")]
    pub memory: i64,
    /// Memory plus swap in bytes; -1 for unlimited swap.
    #[serde(deserialize_with = "nullable")]
    pub memory_swap: i64,
    /// Relative CPU weight (cpu.shares).
    #[serde(deserialize_with = "nullable")]
    pub cpu_shares: i64,
    /// CPUs the container may use (`0-2,4`).
    #[serde(deserialize_with = "nullable")]
    pub cpuset: String,
}

/// A bind mount from the host, read-only unless `writable`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mount {
    #[serde(deserialize_with = "nullable")]
    pub source: String,
    #[serde(deserialize_with = "nullable")]
    pub destination: String,
    #[serde(deserialize_with = "nullable")]
    pub writable: bool,
    /// Propagation rprivate.
    #[serde(deserialize_with = "nullable")]
    pub private: bool,
    /// Propagation rslave.
    #[serde(deserialize_with = "nullable")]
    pub slave: bool,
}

/// A device: a cgroup rule (`allowed_devices`) or a node to create
/// (`autocreated_devices`). Numbers of -1 mean any (`*`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Device {
    /// `c`, `b` or `a` (all); Go's rune (99, 98, 97) is accepted too.
    #[serde(deserialize_with = "device_type", serialize_with = "ser_device_type")]
    pub r#type: char,
    #[serde(deserialize_with = "nullable")]
    pub path: String,
    #[serde(deserialize_with = "nullable")]
    pub major_number: i64,
    #[serde(deserialize_with = "nullable")]
    pub minor_number: i64,
    /// Subset of `rwm` (default `rwm`).
    #[serde(deserialize_with = "nullable")]
    pub cgroup_permissions: String,
    /// Permission bits of the node (default 0666); Go's os.FileMode type
    /// bits are ignored.
    #[serde(deserialize_with = "nullable")]
    pub file_mode: u32,
    #[serde(deserialize_with = "nullable")]
    pub uid: u32,
    #[serde(deserialize_with = "nullable")]
    pub gid: u32,
}

/// Go marshals a nil slice, map or string pointer as `null`.
fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn device_type<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<char, D::Error> {
    use serde::de::Error as _;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Rune(u32),
        Text(String),
    }
    let c = match Option::<Raw>::deserialize(d)? {
        None => return Ok('\0'),
        Some(Raw::Rune(n)) => {
            char::from_u32(n).ok_or_else(|| D::Error::custom(format!("{n} is not a character")))?
        }
        Some(Raw::Text(s)) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => c,
                (None, _) => '\0',
                _ => return Err(D::Error::custom(format!("{s:?}: expected one of c, b, a"))),
            }
        }
    };
    Ok(c)
}

fn ser_device_type<S: Serializer>(c: &char, s: S) -> std::result::Result<S::Ok, S::Error> {
    if *c == '\0' {
        s.serialize_str("")
    } else {
        s.serialize_str(&c.to_string())
    }
}

impl Command {
    /// Parse a Command document; errors name the offending key.
    pub fn from_json(text: &[u8]) -> Result<Command> {
        crate::config::check_depth(text).map_err(|e| Error::new(format!("command: {e}")))?;
        let de = &mut serde_json::Deserializer::from_slice(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = one_line(&e.path().to_string()).into_owned();
            let inner = one_line(&e.into_inner().to_string()).into_owned();
            if path == "." || path.is_empty() {
                Error::new(format!("command: {inner}"))
            } else {
                Error::new(format!("command: {path}: {inner}"))
            }
        })
    }

    pub fn from_file(path: &Path) -> Result<Command> {
        let text = std::fs::read(path)
            .map_err(|e| Error::new(format!("read {}: {}", path.display(), Error::from(e))))?;
        Command::from_json(&text).map_err(|e| Error::new(format!("{}: {e}", path.display())))
    }

    /// The hostname the container gets.
    pub fn hostname(&self) -> &str {
        if !self.hostname.is_empty() {
            return &self.hostname;
        }
        match self.id.char_indices().nth(12) {
            Some((i, _)) => &self.id[..i],
            None => &self.id,
        }
    }

    /// Everything that can be checked without the host; errors name the
    /// field (`command: network.interface.ip_prefix_len: ...`).
    pub fn validate(&self) -> Result<()> {
        let field = |f: &str, e: Error| Error::new(format!("command: {f}: {}", e.message()));
        if self.id.is_empty() {
            bail!("command: id: missing");
        }
        crate::state::validate_id(&self.id).map_err(|e| field("id", e))?;
        if self.rootfs.is_empty() {
            bail!("command: rootfs: missing");
        }
        absolute(&self.rootfs).map_err(|e| field("rootfs", e))?;
        if self.entrypoint.is_empty() {
            bail!("command: entrypoint: missing");
        }
        check_text(&self.entrypoint).map_err(|e| field("entrypoint", e))?;
        for (i, a) in self.arguments.iter().enumerate() {
            check_text(a).map_err(|e| field(&format!("arguments[{i}]"), e))?;
        }
        if !self.working_dir.is_empty() {
            absolute(&self.working_dir).map_err(|e| field("working_dir", e))?;
        }
        parse_user(&self.user).map_err(|e| field("user", e))?;
        for (i, e) in self.env.iter().enumerate() {
            check_env(e).map_err(|err| field(&format!("env[{i}]"), err))?;
        }
        let host = self.hostname();
        if host.len() > 64 || host.contains(['\0', '/']) {
            bail!("command: hostname: {host:?} is not a valid hostname (at most 64 bytes)");
        }
        if let Some(n) = &self.network {
            n.validate().map_err(|b| b.at("network"))?;
        }
        if let Some(r) = &self.resources {
            r.validate().map_err(|b| b.at("resources"))?;
        }
        for (i, m) in self.mounts.iter().enumerate() {
            m.validate().map_err(|b| b.at(&format!("mounts[{i}]")))?;
        }
        for (i, d) in self.allowed_devices.iter().enumerate() {
            d.validate(false)
                .map_err(|b| b.at(&format!("allowed_devices[{i}]")))?;
        }
        for (i, d) in self.autocreated_devices.iter().enumerate() {
            d.validate(true)
                .map_err(|b| b.at(&format!("autocreated_devices[{i}]")))?;
        }
        for (list, name) in [(&self.cap_add, "cap_add"), (&self.cap_drop, "cap_drop")] {
            for (i, c) in list.iter().enumerate() {
                super::caps::parse(c).map_err(|e| field(&format!("{name}[{i}]"), e))?;
            }
        }
        super::lxc::validate(&self.config)?;
        Ok(())
    }
}

/// A problem with `field`, relative to the object being checked ("" for
/// the object itself).
struct Bad {
    field: String,
    msg: String,
}

fn bad(field: &str, msg: impl Into<String>) -> Bad {
    Bad {
        field: field.to_string(),
        msg: msg.into(),
    }
}

impl Bad {
    /// The error, with the object's own place in the Command.
    fn at(self, parent: &str) -> Error {
        if self.field.is_empty() {
            Error::new(format!("command: {parent}: {}", self.msg))
        } else {
            Error::new(format!("command: {parent}.{}: {}", self.field, self.msg))
        }
    }

    /// `field: msg` errors of a helper, as a Bad about `field`.
    fn from_error(field: &str, e: Error) -> Bad {
        bad(field, e.message())
    }
}

type Checked = std::result::Result<(), Bad>;

fn check_text(s: &str) -> Result<()> {
    if s.contains('\0') {
        bail!("contains a NUL byte");
    }
    Ok(())
}

fn absolute(p: &str) -> Result<()> {
    check_text(p)?;
    let path = Path::new(p);
    if !path.is_absolute() {
        bail!("{p:?} is not an absolute path");
    }
    if path.components().any(|c| c == Component::ParentDir) {
        bail!("{p:?} must not contain \"..\"");
    }
    Ok(())
}

fn check_env(e: &str) -> Result<()> {
    check_text(e)?;
    match e.split_once('=') {
        Some((k, _)) if !k.is_empty() => Ok(()),
        _ => bail!("{e:?} is not of the form KEY=VALUE"),
    }
}

/// `user` split into its user and optional group part; both non-empty.
pub(super) fn parse_user(u: &str) -> Result<(&str, Option<&str>)> {
    check_text(u)?;
    let (user, group) = match u.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (u, None),
    };
    if u.is_empty() {
        return Ok(("", None));
    }
    if user.is_empty() || group.is_some_and(|g| g.is_empty() || g.contains(':')) {
        bail!("{u:?}: expected name, uid, uid:gid or name:group");
    }
    Ok((user, group))
}

impl Network {
    fn validate(&self) -> Checked {
        if self.mtu != 0 && !(68..=65535).contains(&self.mtu) {
            return Err(bad(
                "mtu",
                format!(
                    "{} is out of range (68-65535, or 0 for the default)",
                    self.mtu
                ),
            ));
        }
        let modes = [
            self.host_networking,
            !self.container_id.is_empty(),
            self.interface.is_some(),
        ];
        if modes.iter().filter(|m| **m).count() > 1 {
            return Err(bad(
                "",
                "host_networking, container_id and interface exclude each other",
            ));
        }
        if !self.container_id.is_empty() {
            crate::state::validate_id(&self.container_id)
                .map_err(|e| Bad::from_error("container_id", e))?;
        }
        if let Some(i) = &self.interface {
            i.parse().map_err(|e| {
                let e = e.within("interface");
                bad(e.field().unwrap_or_default(), e.detail())
            })?;
        }
        Ok(())
    }
}

/// A checked interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedInterface {
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
    pub bridge: Option<String>,
}

impl Interface {
    /// Errors name the field relative to `interface`.
    pub fn parse(&self) -> Result<ParsedInterface> {
        let ipv4 = |f: &str, s: &str| -> Result<Ipv4Addr> {
            s.parse()
                .map_err(|_| Error::at(f, format!("{s:?} is not an IPv4 address")))
        };
        if self.ip.is_empty() {
            return Err(Error::at("ip", "missing"));
        }
        let ip = ipv4("ip", &self.ip)?;
        if !(1..=32).contains(&self.ip_prefix_len) {
            let detail = format!("{} is out of range (1-32)", self.ip_prefix_len);
            return Err(Error::at("ip_prefix_len", detail));
        }
        let gateway = match self.gateway.as_str() {
            "" => None,
            g => Some(ipv4("gateway", g)?),
        };
        if gateway == Some(ip) {
            return Err(Error::at(
                "gateway",
                format!("{ip} is the interface's own address"),
            ));
        }
        let mac = match self.mac_address.as_str() {
            "" => None,
            m => Some(parse_mac(m).map_err(|e| Error::at("mac_address", e))?),
        };
        let bridge = match self.bridge.as_str() {
            "" => None,
            b if b.len() > 15 || b.contains(['/', ' ', ':', '\0']) || b == "." || b == ".." => {
                let detail = format!("{b:?} is not a valid interface name");
                return Err(Error::at("bridge", detail));
            }
            b => Some(b.to_string()),
        };
        Ok(ParsedInterface {
            ip,
            prefix_len: self.ip_prefix_len as u8,
            gateway,
            mac,
            bridge,
        })
    }
}

fn parse_mac(m: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = m.split(':').collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        bail!("{m:?} is not a MAC address (aa:bb:cc:dd:ee:ff)");
    }
    for (b, p) in mac.iter_mut().zip(&parts) {
        if p.len() != 2 {
            bail!("{m:?} is not a MAC address (aa:bb:cc:dd:ee:ff)");
        }
        *b = u8::from_str_radix(p, 16)
            .map_err(|_| Error::new(format!("{m:?} is not a MAC address (aa:bb:cc:dd:ee:ff)")))?;
    }
    if mac[0] & 1 != 0 {
        bail!("{m:?} is a multicast address");
    }
    if mac == [0; 6] {
        bail!("{m:?} is the zero address");
    }
    Ok(mac)
}

impl Resources {
    fn validate(&self) -> Checked {
        if self.memory < 0 {
            return Err(bad(
                "memory",
                format!("{} must not be negative", self.memory),
            ));
        }
        if self.memory_swap < -1 {
            return Err(bad(
                "memory_swap",
                format!("{} must be -1 (unlimited), 0 or a size", self.memory_swap),
            ));
        }
        if self.memory_swap > 0 {
            if self.memory == 0 {
                return Err(bad("memory_swap", "needs memory to be set too"));
            }
            if self.memory_swap < self.memory {
                return Err(bad(
                    "memory_swap",
                    format!(
                        "{} is below memory {} (it counts memory plus swap)",
                        self.memory_swap, self.memory
                    ),
                ));
            }
        }
        if self.cpu_shares < 0 {
            return Err(bad(
                "cpu_shares",
                format!("{} must not be negative", self.cpu_shares),
            ));
        }
        if !self.cpuset.is_empty() {
            check_cpu_list(&self.cpuset).map_err(|e| Bad::from_error("cpuset", e))?;
        }
        Ok(())
    }
}

/// `0-3,5`: what cpuset.cpus and cpuset.mems take.
pub(super) fn check_cpu_list(s: &str) -> Result<()> {
    let ok = s.split(',').all(|part| {
        let mut ends = part.splitn(2, '-');
        let num = |x: Option<&str>| {
            x.is_some_and(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
        };
        let first = ends.next();
        match ends.next() {
            None => num(first),
            Some(last) => {
                num(first)
                    && num(Some(last))
                    && first.unwrap().parse::<u32>().ok() <= last.parse::<u32>().ok()
            }
        }
    });
    if !ok {
        bail!("{s:?} is not a CPU list (like 0-2,4)");
    }
    Ok(())
}

impl Mount {
    fn validate(&self) -> Checked {
        for (name, p) in [("source", &self.source), ("destination", &self.destination)] {
            if p.is_empty() {
                return Err(bad(name, "missing"));
            }
            absolute(p).map_err(|e| Bad::from_error(name, e))?;
        }
        if self.private && self.slave {
            return Err(bad("", "private and slave exclude each other"));
        }
        Ok(())
    }
}

impl Device {
    /// The type, `c`, `b` or `a`.
    pub fn kind(&self) -> char {
        self.r#type
    }

    /// `cgroup_permissions`, `rwm` when empty.
    pub fn permissions(&self) -> &str {
        if self.cgroup_permissions.is_empty() {
            "rwm"
        } else {
            &self.cgroup_permissions
        }
    }

    /// The node's permission bits, 0666 when unset.
    pub fn mode(&self) -> u32 {
        match self.file_mode & 0o777 {
            0 => 0o666,
            m => m,
        }
    }

    fn validate(&self, node: bool) -> Checked {
        match self.r#type {
            'c' | 'b' => {}
            'a' if !node => {}
            'a' => {
                return Err(bad(
                    "type",
                    "\"a\" is a cgroup rule, not a device node to create",
                ));
            }
            '\0' => return Err(bad("type", "missing (c, b or a)")),
            t => return Err(bad("type", format!("{t:?} is not one of c, b, a"))),
        }
        let perms = self.permissions();
        if !perms.chars().all(|c| "rwm".contains(c)) || has_duplicates(perms) {
            return Err(bad(
                "cgroup_permissions",
                format!("{perms:?} is not a subset of \"rwm\""),
            ));
        }
        for (name, n) in [
            ("major_number", self.major_number),
            ("minor_number", self.minor_number),
        ] {
            if n < -1 || n > u32::MAX as i64 {
                return Err(bad(name, format!("{n} is out of range (-1 for any)")));
            }
        }
        if node && self.path.is_empty() {
            return Err(bad("path", "missing"));
        }
        if !self.path.is_empty() {
            absolute(&self.path).map_err(|e| Bad::from_error("path", e))?;
        }
        if node && (self.major_number < 0 || self.minor_number < 0) {
            return Err(bad(
                "",
                "a device node needs a major and a minor number (not -1)",
            ));
        }
        Ok(())
    }
}

fn has_duplicates(s: &str) -> bool {
    s.char_indices()
        .any(|(i, c)| s[i + c.len_utf8()..].contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Command {
        Command {
            id: "c1".into(),
            rootfs: "/r".into(),
            entrypoint: "sh".into(),
            ..Default::default()
        }
    }

    fn err(c: &Command) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn go_nulls_and_runes() {
        let text = br#"{"id":"x","rootfs":"/r","entrypoint":"sh","arguments":null,
            "network":null,"resources":null,"mounts":null,"config":null,"cap_add":null,
            "allowed_devices":[{"type":99,"path":"/dev/null","major_number":1,"minor_number":3,
            "cgroup_permissions":"rwm","file_mode":438,"uid":0,"gid":0}],
            "autocreated_devices":[{"type":"b","major_number":7,"minor_number":0,"path":"/dev/loop0"}],
            "container_pid":0,"initpath":"/.dockerinit","config_path":""}"#;
        let c = Command::from_json(text).unwrap();
        assert!(c.arguments.is_empty());
        assert_eq!(c.allowed_devices[0].kind(), 'c');
        assert_eq!(c.allowed_devices[0].mode(), 0o666);
        assert_eq!(c.autocreated_devices[0].kind(), 'b');
        c.validate().unwrap();
    }

    #[test]
    fn errors_quoting_unknown_keys_stay_one_line() {
        // Found by fuzz/ (driver): serde quotes an unknown field as it is.
        let e = Command::from_json(br#"{"user\n": 1}"#).unwrap_err();
        assert!(
            e.message()
                .starts_with(r"command: user\n: unknown field `user\n`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = Command::from_json(br#"{"id":"x","bogus":1}"#).unwrap_err();
        assert!(e.message().contains("unknown field `bogus`"), "{e}");
        let e = Command::from_json(br#"{"network":{"mtu":1500,"iface":{}}}"#).unwrap_err();
        assert!(e.message().starts_with("command: network"), "{e}");
        assert!(e.message().contains("`iface`"), "{e}");
        let e = Command::from_json(br#"{"resources":{"memory":"x"}}"#).unwrap_err();
        assert!(
            e.message().starts_with("command: resources.memory: "),
            "{e}"
        );
    }

    #[test]
    fn required_fields() {
        let mut c = minimal();
        c.id.clear();
        assert_eq!(err(&c), "command: id: missing");
        let mut c = minimal();
        c.rootfs.clear();
        assert_eq!(err(&c), "command: rootfs: missing");
        c.rootfs = "rel".into();
        assert!(err(&c).starts_with("command: rootfs: "));
        let mut c = minimal();
        c.entrypoint.clear();
        assert_eq!(err(&c), "command: entrypoint: missing");
        let mut c = minimal();
        c.id = "a/b".into();
        assert!(err(&c).starts_with("command: id: invalid container id"));
    }

    #[test]
    fn field_errors_name_the_field() {
        type Edit = fn(&mut Command);
        let cases: Vec<(Edit, &str)> = vec![
            (|c| c.working_dir = "tmp".into(), "command: working_dir: "),
            (|c| c.user = "a:".into(), "command: user: "),
            (
                |c| c.env = vec!["A=1".into(), "B".into()],
                "command: env[1]: ",
            ),
            (
                |c| c.cap_add = vec!["CHOWN".into(), "FOO".into()],
                "command: cap_add[1]: ",
            ),
            (
                |c| c.cap_drop = vec!["cap_bogus".into()],
                "command: cap_drop[0]: ",
            ),
            (
                |c| {
                    c.network = Some(Network {
                        interface: Some(Interface {
                            ip: "192.0.2.2".into(),
                            ip_prefix_len: 33,
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                "command: network.interface.ip_prefix_len: 33 is out of range",
            ),
            (
                |c| {
                    c.network = Some(Network {
                        interface: Some(Interface {
                            ip: "192.0.2.300".into(),
                            ip_prefix_len: 24,
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                "command: network.interface.ip: ",
            ),
            (
                |c| {
                    c.network = Some(Network {
                        interface: Some(Interface {
                            ip: "192.0.2.2".into(),
                            ip_prefix_len: 24,
                            mac_address: "01:00:00:00:00:01".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                },
                "command: network.interface.mac_address: ",
            ),
            (
                |c| {
                    c.network = Some(Network {
                        mtu: 10,
                        ..Default::default()
                    })
                },
                "command: network.mtu: ",
            ),
            (
                |c| {
                    c.network = Some(Network {
                        host_networking: true,
                        container_id: "x".into(),
                        ..Default::default()
                    })
                },
                "command: network: ",
            ),
            (
                |c| {
                    c.resources = Some(Resources {
                        memory: 100,
                        memory_swap: 50,
                        ..Default::default()
                    })
                },
                "command: resources.memory_swap: ",
            ),
            (
                |c| {
                    c.resources = Some(Resources {
                        cpuset: "0-".into(),
                        ..Default::default()
                    })
                },
                "command: resources.cpuset: ",
            ),
            (
                |c| {
                    c.mounts = vec![Mount {
                        source: "/a".into(),
                        destination: "b".into(),
                        ..Default::default()
                    }]
                },
                "command: mounts[0].destination: ",
            ),
            (
                |c| {
                    c.autocreated_devices = vec![Device {
                        r#type: 'a',
                        path: "/dev/x".into(),
                        ..Default::default()
                    }]
                },
                "command: autocreated_devices[0].type: ",
            ),
            (
                |c| {
                    c.allowed_devices = vec![Device {
                        r#type: 'c',
                        cgroup_permissions: "rwx".into(),
                        ..Default::default()
                    }]
                },
                "command: allowed_devices[0].cgroup_permissions: ",
            ),
            (
                |c| {
                    c.config
                        .insert("native".into(), vec!["cgroups.cpu_shares=1".into()]);
                },
                "command: config: unknown key \"native\"",
            ),
        ];
        for (edit, want) in cases {
            let mut c = minimal();
            edit(&mut c);
            let got = err(&c);
            assert!(
                got.starts_with(want),
                "{got:?} does not start with {want:?}"
            );
        }
    }

    #[test]
    fn hostname_defaults_to_id_prefix() {
        let mut c = minimal();
        c.id = "0123456789abcdef".into();
        assert_eq!(c.hostname(), "0123456789ab");
        c.id = "short".into();
        assert_eq!(c.hostname(), "short");
        c.hostname = "web".into();
        assert_eq!(c.hostname(), "web");
    }

    #[test]
    fn cpu_lists() {
        for ok in ["0", "0-3", "0,2-4,7"] {
            check_cpu_list(ok).unwrap();
        }
        for bad in ["", "a", "3-1", "0,", "-1", "1-2-3"] {
            assert!(check_cpu_list(bad).is_err(), "{bad}");
        }
    }
}
