//! The few messages of CRIU's RPC (criu's images/rpc.proto, proto2) that
//! hull sends and reads, in protobuf's wire format by hand: a request is a
//! handful of varints and strings, a response a few fields to pick out,
//! which does not call for generated code or a protobuf crate.
//!
//! Wire format: each field is a key (field number << 3 | wire type) as a
//! varint, then a varint (type 0), or a length-delimited byte string (type
//! 2: strings and nested messages). Fields hull does not know are skipped.

/// `criu_req_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqType {
    Dump = 1,
    Restore = 2,
    Check = 3,
    PreDump = 4,
    Notify = 6,
    FeatureCheck = 9,
    Version = 10,
}

impl ReqType {
    fn from_u64(v: u64) -> Option<ReqType> {
        Some(match v {
            1 => ReqType::Dump,
            2 => ReqType::Restore,
            3 => ReqType::Check,
            4 => ReqType::PreDump,
            6 => ReqType::Notify,
            9 => ReqType::FeatureCheck,
            10 => ReqType::Version,
            _ => return None,
        })
    }

    /// The name CRIU's messages use, lower case (`dump`, `restore`).
    pub fn name(self) -> &'static str {
        match self {
            ReqType::Dump => "dump",
            ReqType::Restore => "restore",
            ReqType::Check => "check",
            ReqType::PreDump => "pre-dump",
            ReqType::Notify => "notify",
            ReqType::FeatureCheck => "feature check",
            ReqType::Version => "version",
        }
    }
}

/// `criu_cg_mode`: how CRIU treats the cgroups of the tasks it dumps or
/// restores (`--manage-cgroups-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgMode {
    Ignore = 0,
    Soft = 3,
    Full = 4,
    Strict = 5,
    /// CRIU's own default (soft).
    Default = 6,
}

impl CgMode {
    /// runc's names; empty is CRIU's default.
    pub fn parse(s: &str) -> Option<CgMode> {
        Some(match s {
            "" => CgMode::Default,
            "soft" => CgMode::Soft,
            "full" => CgMode::Full,
            "strict" => CgMode::Strict,
            "ignore" => CgMode::Ignore,
            _ => return None,
        })
    }
}

/// Appends fields to a message.
#[derive(Default)]
pub struct Writer(Vec<u8>);

impl Writer {
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }

    /// uint32, enum (type 0).
    pub fn uint(&mut self, field: u32, v: u64) {
        self.key(field, 0);
        self.varint(v);
    }

    /// int32: a negative value is sign-extended to ten bytes, as protobuf
    /// has it.
    pub fn int32(&mut self, field: u32, v: i32) {
        self.uint(field, i64::from(v) as u64);
    }

    /// A bool that is true (false is proto2's default: left out).
    pub fn flag(&mut self, field: u32, v: bool) {
        if v {
            self.uint(field, 1);
        }
    }

    pub fn bytes(&mut self, field: u32, v: &[u8]) {
        self.key(field, 2);
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    pub fn string(&mut self, field: u32, v: &str) {
        self.bytes(field, v.as_bytes());
    }

    pub fn message(&mut self, field: u32, m: Writer) {
        self.bytes(field, &m.0);
    }
}

/// One field as read: its number and value.
#[derive(Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed 32- or 64-bit values (none in the messages hull reads).
    Fixed,
}

impl Value<'_> {
    fn int(&self) -> Option<u64> {
        match self {
            Value::Varint(v) => Some(*v),
            _ => None,
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    fn string(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// The fields of a message in order; an error for a truncated or
/// malformed one.
pub fn fields(mut buf: &[u8]) -> Result<Vec<(u32, Value<'_>)>, String> {
    fn varint(buf: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
            *buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if buf.len() < n {
            return Err(format!("field of {n} bytes, {} left", buf.len()));
        }
        let (head, rest) = buf.split_at(n);
        *buf = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let field = u32::try_from(key >> 3).map_err(|_| "field number too large")?;
        let value = match key & 7 {
            0 => Value::Varint(varint(&mut buf)?),
            1 => take(&mut buf, 8).map(|_| Value::Fixed)?,
            2 => {
                let n = varint(&mut buf)?;
                Value::Bytes(take(&mut buf, n as usize)?)
            }
            5 => take(&mut buf, 4).map(|_| Value::Fixed)?,
            w => return Err(format!("field {field}: wire type {w} not supported")),
        };
        out.push((field, value));
    }
    Ok(out)
}

/// `criu_opts`: what hull sets. Bools left false are not sent (proto2's
/// default), as are unset options.
#[derive(Default, Debug, Clone)]
pub struct Opts {
    pub images_dir_fd: i32,
    pub pid: Option<i32>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub evasive_devices: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub log_level: i32,
    pub log_file: String,
    /// `criu_page_server_info`: address, port.
    pub page_server: Option<(String, i32)>,
    pub notify_scripts: bool,
    pub root: Option<String>,
    pub parent_img: Option<String>,
    pub track_mem: bool,
    pub auto_dedup: bool,
    pub work_dir_fd: Option<i32>,
    pub link_remap: bool,
    /// `ext_mount_map`: key, val.
    pub ext_mnt: Vec<(String, String)>,
    pub manage_cgroups: bool,
    /// `cgroup_root`: controller (none: every controller), path.
    pub cg_root: Vec<(Option<String>, String)>,
    pub rst_sibling: bool,
    /// `inherit_fd`: key, fd (in CRIU's process).
    pub inherit_fd: Vec<(String, i32)>,
    pub manage_cgroups_mode: Option<CgMode>,
    pub external: Vec<String>,
    pub empty_ns: u32,
    /// `join_namespace`: ns, ns_file.
    pub join_ns: Vec<(String, String)>,
    pub freeze_cgroup: Option<String>,
    pub tcp_skip_in_flight: bool,
    pub lazy_pages: bool,
    pub status_fd: Option<i32>,
    pub orphan_pts_master: bool,
    pub config_file: Option<String>,
}

impl Opts {
    fn encode(&self) -> Writer {
        let mut w = Writer::default();
        w.int32(1, self.images_dir_fd);
        if let Some(pid) = self.pid {
            w.int32(2, pid);
        }
        w.flag(3, self.leave_running);
        w.flag(4, self.ext_unix_sk);
        w.flag(5, self.tcp_established);
        w.flag(6, self.evasive_devices);
        w.flag(7, self.shell_job);
        w.flag(8, self.file_locks);
        w.int32(9, self.log_level);
        w.string(10, &self.log_file);
        if let Some((address, port)) = &self.page_server {
            let mut ps = Writer::default();
            ps.string(1, address);
            ps.int32(2, *port);
            w.message(11, ps);
        }
        w.flag(12, self.notify_scripts);
        if let Some(root) = &self.root {
            w.string(13, root);
        }
        if let Some(parent) = &self.parent_img {
            w.string(14, parent);
        }
        w.flag(15, self.track_mem);
        w.flag(16, self.auto_dedup);
        if let Some(fd) = self.work_dir_fd {
            w.int32(17, fd);
        }
        w.flag(18, self.link_remap);
        for (key, val) in &self.ext_mnt {
            let mut m = Writer::default();
            m.string(1, key);
            m.string(2, val);
            w.message(23, m);
        }
        w.flag(24, self.manage_cgroups);
        for (ctrl, path) in &self.cg_root {
            let mut m = Writer::default();
            if let Some(ctrl) = ctrl {
                m.string(1, ctrl);
            }
            m.string(2, path);
            w.message(25, m);
        }
        w.flag(26, self.rst_sibling);
        for (key, fd) in &self.inherit_fd {
            let mut m = Writer::default();
            m.string(1, key);
            m.int32(2, *fd);
            w.message(27, m);
        }
        if let Some(mode) = self.manage_cgroups_mode {
            w.uint(34, mode as u64);
        }
        for e in &self.external {
            w.string(37, e);
        }
        if self.empty_ns != 0 {
            w.uint(38, u64::from(self.empty_ns));
        }
        for (ns, file) in &self.join_ns {
            let mut m = Writer::default();
            m.string(1, ns);
            m.string(2, file);
            w.message(39, m);
        }
        if let Some(fcg) = &self.freeze_cgroup {
            w.string(44, fcg);
        }
        w.flag(46, self.tcp_skip_in_flight);
        w.flag(48, self.lazy_pages);
        if let Some(fd) = self.status_fd {
            w.int32(49, fd);
        }
        w.flag(50, self.orphan_pts_master);
        if let Some(f) = &self.config_file {
            w.string(51, f);
        }
        w
    }
}

/// `criu_features`: the ones hull asks about.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub mem_track: Option<bool>,
    pub lazy_pages: Option<bool>,
}

impl Features {
    fn encode(&self) -> Writer {
        let mut w = Writer::default();
        if let Some(v) = self.mem_track {
            w.uint(1, u64::from(v));
        }
        if let Some(v) = self.lazy_pages {
            w.uint(2, u64::from(v));
        }
        w
    }

    fn decode(buf: &[u8]) -> Result<Features, String> {
        let mut f = Features::default();
        for (n, v) in fields(buf)? {
            match n {
                1 => f.mem_track = v.int().map(|v| v != 0),
                2 => f.lazy_pages = v.int().map(|v| v != 0),
                _ => {}
            }
        }
        Ok(f)
    }
}

/// `criu_req`.
#[derive(Debug, Clone)]
pub struct Req {
    pub typ: ReqType,
    pub opts: Option<Opts>,
    pub notify_success: bool,
    pub features: Option<Features>,
}

impl Req {
    pub fn new(typ: ReqType) -> Req {
        Req {
            typ,
            opts: None,
            notify_success: false,
            features: None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.uint(1, self.typ as u64);
        if let Some(opts) = &self.opts {
            w.message(2, opts.encode());
        }
        w.flag(3, self.notify_success);
        if let Some(f) = &self.features {
            w.message(5, f.encode());
        }
        w.into_bytes()
    }
}

/// `criu_version`, as one number: major * 10000 + minor * 100 + sublevel
/// (3.17.1 is 31701), as runc compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let v = self.0;
        write!(f, "{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
    }
}

/// `criu_resp`: the fields hull reads.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    /// None: a type this code does not know.
    pub typ: Option<ReqType>,
    pub success: bool,
    /// `restore.pid`: the restored tree's root.
    pub restored_pid: Option<i32>,
    /// `notify.script`, `notify.pid`.
    pub notify: Option<(String, i32)>,
    pub cr_errno: Option<i32>,
    pub features: Option<Features>,
    pub cr_errmsg: Option<String>,
    pub version: Option<Version>,
}

impl Resp {
    pub fn decode(buf: &[u8]) -> Result<Resp, String> {
        let mut r = Resp::default();
        let int32 = |v: &Value| v.int().map(|v| v as i32);
        for (n, v) in fields(buf)? {
            match n {
                1 => r.typ = v.int().and_then(ReqType::from_u64),
                2 => r.success = v.int().is_some_and(|v| v != 0),
                4 => {
                    let restore = fields(v.bytes().unwrap_or_default())?;
                    r.restored_pid = restore
                        .iter()
                        .find(|(n, _)| *n == 1)
                        .and_then(|(_, v)| int32(v));
                }
                5 => {
                    let (mut script, mut pid) = (String::new(), 0);
                    for (n, v) in fields(v.bytes().unwrap_or_default())? {
                        match n {
                            1 => script = v.string().unwrap_or_default(),
                            2 => pid = int32(&v).unwrap_or(0),
                            _ => {}
                        }
                    }
                    r.notify = Some((script, pid));
                }
                7 => r.cr_errno = int32(&v),
                8 => r.features = Some(Features::decode(v.bytes().unwrap_or_default())?),
                9 => r.cr_errmsg = v.string(),
                10 => {
                    let (mut major, mut minor, mut sub) = (0u32, 0u32, 0u32);
                    for (n, v) in fields(v.bytes().unwrap_or_default())? {
                        let x = v.int().unwrap_or(0) as u32;
                        match n {
                            1 => major = x,
                            2 => minor = x,
                            4 => sub = x,
                            _ => {}
                        }
                    }
                    r.version = Some(Version(major * 10000 + minor * 100 + sub));
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_keys_as_protobuf_has_them() {
        // protobuf's documentation example: field 1 = 150 is 08 96 01.
        let mut w = Writer::default();
        w.uint(1, 150);
        assert_eq!(w.into_bytes(), [0x08, 0x96, 0x01]);
        // A negative int32 takes ten bytes; a field number above 15 a
        // two-byte key.
        let mut w = Writer::default();
        w.int32(17, -1);
        let b = w.into_bytes();
        assert_eq!(&b[..2], [0x88, 0x01]);
        assert_eq!(b.len(), 12);
        assert_eq!(
            &b[2..],
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
        // A string: key, length, bytes.
        let mut w = Writer::default();
        w.string(2, "testing");
        assert_eq!(w.into_bytes(), b"\x12\x07testing");
        // false is left out.
        let mut w = Writer::default();
        w.flag(3, false);
        assert!(w.into_bytes().is_empty());
    }

    #[test]
    fn a_dump_request_encodes_field_by_field() {
        let req = Req {
            typ: ReqType::Dump,
            opts: Some(Opts {
                images_dir_fd: 5,
                pid: Some(1234),
                leave_running: true,
                log_level: 4,
                log_file: "dump.log".into(),
                root: Some("/r".into()),
                ext_mnt: vec![("/mnt".into(), "/mnt".into())],
                manage_cgroups_mode: Some(CgMode::Soft),
                ..Opts::default()
            }),
            notify_success: false,
            features: None,
        };
        let bytes = req.encode();
        let top = fields(&bytes).unwrap();
        assert_eq!(top[0], (1, Value::Varint(1)));
        let Value::Bytes(opts) = top[1].1 else {
            panic!("opts: {:?}", top[1]);
        };
        assert_eq!(top[1].0, 2);
        let opts = fields(opts).unwrap();
        let get = |n: u32| {
            opts.iter()
                .filter(|(f, _)| *f == n)
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
        };
        assert_eq!(get(1), [&Value::Varint(5)]);
        assert_eq!(get(2), [&Value::Varint(1234)]);
        assert_eq!(get(3), [&Value::Varint(1)]);
        assert!(get(4).is_empty(), "false bools are not sent");
        assert_eq!(get(9), [&Value::Varint(4)]);
        assert_eq!(get(10), [&Value::Bytes(b"dump.log")]);
        assert_eq!(get(13), [&Value::Bytes(b"/r")]);
        assert_eq!(get(34), [&Value::Varint(3)]);
        let Value::Bytes(mnt) = get(23)[0] else {
            panic!("ext_mnt")
        };
        assert_eq!(
            fields(mnt).unwrap(),
            [(1, Value::Bytes(b"/mnt")), (2, Value::Bytes(b"/mnt"))]
        );
    }

    /// A response as CRIU's protobuf-c writes it, built by hand.
    #[test]
    fn responses_decode() {
        // RESTORE, success, restore { pid: 4321 }.
        let mut restore = Writer::default();
        restore.int32(1, 4321);
        let mut w = Writer::default();
        w.uint(1, 2);
        w.uint(2, 1);
        w.message(4, restore);
        let r = Resp::decode(&w.into_bytes()).unwrap();
        assert_eq!(r.typ, Some(ReqType::Restore));
        assert!(r.success);
        assert_eq!(r.restored_pid, Some(4321));

        // NOTIFY with script and pid, an unknown field skipped on the way.
        let mut notify = Writer::default();
        notify.string(1, "post-restore");
        notify.int32(2, 77);
        let mut w = Writer::default();
        w.uint(1, 6);
        w.uint(2, 1);
        w.string(99, "something newer");
        w.message(5, notify);
        let r = Resp::decode(&w.into_bytes()).unwrap();
        assert_eq!(r.typ, Some(ReqType::Notify));
        assert_eq!(r.notify, Some(("post-restore".into(), 77)));

        // A failed dump with errno and message.
        let mut w = Writer::default();
        w.uint(1, 1);
        w.uint(2, 0);
        w.int32(7, 2);
        w.string(9, "vdso: Unexpected rt vDSO area bounds");
        let r = Resp::decode(&w.into_bytes()).unwrap();
        assert!(!r.success);
        assert_eq!(r.cr_errno, Some(2));
        assert_eq!(
            r.cr_errmsg.as_deref(),
            Some("vdso: Unexpected rt vDSO area bounds")
        );

        // VERSION 3.17.1, and features.
        let mut v = Writer::default();
        v.int32(1, 3);
        v.int32(2, 17);
        v.string(3, "abc");
        v.int32(4, 1);
        let mut f = Writer::default();
        f.uint(1, 0);
        f.uint(2, 1);
        let mut w = Writer::default();
        w.uint(1, 10);
        w.uint(2, 1);
        w.message(10, v);
        w.message(8, f);
        let r = Resp::decode(&w.into_bytes()).unwrap();
        assert_eq!(r.version, Some(Version(31701)));
        assert_eq!(r.version.unwrap().to_string(), "3.17.1");
        assert_eq!(
            r.features,
            Some(Features {
                mem_track: Some(false),
                lazy_pages: Some(true)
            })
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(fields(&[0x08]).is_err(), "truncated varint");
        assert!(fields(&[0x12, 0x05, b'a']).is_err(), "short string");
        assert!(fields(&[0x0b]).is_err(), "group wire type");
        assert!(
            fields(&[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .is_err()
        );
        assert!(
            Resp::decode(&[0x22, 0x03, 0x08]).is_err(),
            "nested truncated"
        );
    }
}
