//! A small blocking D-Bus client: the part of the protocol hull needs to
//! ask systemd for units over the system bus, or a rootless user's
//! systemd over the user's session bus (method calls, their replies
//! and errors, and the signal that ends a job). Hand-written rather than a
//! crate: zbus brings an async runtime, dbus-rs links libdbus (C), and
//! hull makes four kinds of call.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::{Context, Error, Result};

/// How long a call, or a job, may take: systemd answers in milliseconds
/// unless it is stuck; runc waits as long.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A D-Bus value, typed as the wire needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    /// The element signature, and the elements.
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// Message types.
const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

/// Header field codes.
const PATH: u8 = 1;
const INTERFACE: u8 = 2;
const MEMBER: u8 = 3;
const ERROR_NAME: u8 = 4;
const REPLY_SERIAL: u8 = 5;
const DESTINATION: u8 = 6;
const SIGNATURE: u8 = 8;

/// Messages are at most 128 MiB (the spec's limit); anything larger is a
/// broken peer, not something to allocate for.
const MAX_MESSAGE: usize = 128 << 20;

/// A received message: what the callers look at.
#[derive(Debug)]
pub struct Message {
    pub kind: u8,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub body: Vec<Value>,
}

/// A connection to a bus, authenticated and named.
pub struct Bus {
    /// "system bus" or "user bus", for errors.
    name: &'static str,
    sock: UnixStream,
    serial: u32,
    /// Signals that came while we waited for a reply.
    signals: VecDeque<Message>,
}

impl Bus {
    /// The system bus: `$DBUS_SYSTEM_BUS_ADDRESS` (its `unix:path=` form)
    /// or the standard socket.
    pub fn system() -> Result<Bus> {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok();
        let path = address
            .as_deref()
            .and_then(unix_path)
            .unwrap_or_else(|| "/run/dbus/system_bus_socket".into());
        Bus::connect("system bus", &path, nix::unistd::geteuid().as_raw())
    }

    /// The session bus of the user we run as, where its `systemd --user`
    /// is (runc's rootless systemd driver): `$DBUS_SESSION_BUS_ADDRESS`
    /// (its `unix:path=` form) or `$XDG_RUNTIME_DIR/bus`. We prove the
    /// user's uid on the host, as the bus sees it, also when we are root
    /// of a user namespace (in rootless podman).
    pub fn user() -> Result<Bus> {
        let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok();
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
        let path = match (address.as_deref().and_then(unix_path), runtime_dir) {
            (Some(path), _) => path,
            (None, Some(dir)) => std::path::Path::new(&dir).join("bus").display().to_string(),
            (None, None) => bail!(
                "user bus: neither $DBUS_SESSION_BUS_ADDRESS (unix:path=) nor $XDG_RUNTIME_DIR is set: \
                 rootless, the systemd driver needs the user's systemd session and its bus"
            ),
        };
        Bus::connect("user bus", &path, crate::rootless::host_uid())
    }

    /// Connect to the bus at `path`, authenticate as `uid`, say Hello.
    fn connect(name: &'static str, path: &str, uid: u32) -> Result<Bus> {
        let sock = UnixStream::connect(path).ctx(|| format!("connect to the {name} {path}"))?;
        sock.set_read_timeout(Some(TIMEOUT))
            .ctx(|| format!("{name}: set a timeout"))?;
        let mut bus = Bus {
            name,
            sock,
            serial: 0,
            signals: VecDeque::new(),
        };
        bus.authenticate(uid)?;
        bus.call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            &[],
        )?;
        Ok(bus)
    }

    /// SASL EXTERNAL: the kernel vouches for `uid`, which must be ours as
    /// the bus sees us.
    fn authenticate(&mut self, uid: u32) -> Result<()> {
        let name = self.name;
        let hex: String = uid
            .to_string()
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        let fail = |e: std::io::Error| Error::from(e).within(&format!("{name}: authenticate"));
        self.sock
            .write_all(format!("\0AUTH EXTERNAL {hex}\r\n").as_bytes())
            .map_err(fail)?;
        let mut line = Vec::new();
        let mut byte = [0u8];
        while !line.ends_with(b"\r\n") {
            if line.len() > 512 || self.sock.read(&mut byte).map_err(fail)? == 0 {
                bail!("{name}: authenticate: the bus closed the connection");
            }
            line.push(byte[0]);
        }
        if !line.starts_with(b"OK ") {
            let text = String::from_utf8_lossy(&line);
            bail!(
                "{name}: authenticate as uid {uid}: refused ({})",
                text.trim()
            );
        }
        self.sock.write_all(b"BEGIN\r\n").map_err(fail)
    }

    /// Call `member` and wait for its reply's body; an error reply is an
    /// error naming it and its message.
    pub fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
    ) -> Result<Vec<Value>> {
        self.serial += 1;
        let serial = self.serial;
        let message = encode_call(serial, destination, path, interface, member, args);
        self.sock
            .write_all(&message)
            .ctx(|| format!("{}: send {member}", self.name))?;
        loop {
            let m = self.receive().map_err(|e| e.within(member))?;
            match m.kind {
                SIGNAL => self.signals.push_back(m),
                METHOD_RETURN if m.reply_serial == Some(serial) => return Ok(m.body),
                ERROR if m.reply_serial == Some(serial) => {
                    let name = m.error_name.unwrap_or_default();
                    let text = m.body.first().and_then(Value::as_str).unwrap_or("");
                    return Err(Error::new(format!("{member}: {name}: {text}")));
                }
                _ => {}
            }
        }
    }

    /// The next signal that `wanted` accepts, those queued first; others
    /// are dropped. Fails after `timeout`.
    pub fn wait_signal(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&Message) -> bool,
    ) -> Result<Message> {
        let deadline = Instant::now() + timeout;
        while let Some(m) = self.signals.pop_front() {
            if wanted(&m) {
                return Ok(m);
            }
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{}: no answer within {timeout:?}", self.name);
            }
            self.sock
                .set_read_timeout(Some(left))
                .ctx(|| format!("{}: set a timeout", self.name))?;
            let m = self.receive()?;
            if m.kind == SIGNAL && wanted(&m) {
                return Ok(m);
            }
        }
    }

    fn receive(&mut self) -> Result<Message> {
        let name = self.name;
        let read = |sock: &mut UnixStream, buf: &mut [u8]| {
            sock.read_exact(buf).map_err(|e| match e.kind() {
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                    Error::new(format!("{name}: no answer within {TIMEOUT:?}"))
                }
                _ => Error::from(e).within(&format!("{name}: receive")),
            })
        };
        let mut fixed = [0u8; 16];
        read(&mut self.sock, &mut fixed)?;
        let (little, header_len, total) = frame(&fixed)?;
        let mut message = vec![0u8; total];
        message[..16].copy_from_slice(&fixed);
        read(&mut self.sock, &mut message[16..])?;
        decode(&message, little, header_len)
    }
}

/// A message's fixed 16 bytes: its byte order, the length of its header
/// (padded to 8) and of the whole message.
fn frame(fixed: &[u8; 16]) -> Result<(bool, usize, usize)> {
    let little = match fixed[0] {
        b'l' => true,
        b'B' => false,
        other => bail!("system bus: receive: bad byte order mark {other:#x}"),
    };
    let u32_at = |i: usize| {
        let b = [fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]];
        match little {
            true => u32::from_le_bytes(b),
            false => u32::from_be_bytes(b),
        }
    };
    let body_len = u32_at(4) as usize;
    let fields_len = u32_at(12) as usize;
    let header_len = (16 + fields_len).next_multiple_of(8);
    if header_len + body_len > MAX_MESSAGE {
        bail!("system bus: receive: a message of {body_len} bytes is too long");
    }
    Ok((little, header_len, header_len + body_len))
}

/// What [`Bus`] makes of `bytes` as received from the bus: the message
/// they start with, or the error (the fuzz target's entry point).
pub(super) fn decode_received(bytes: &[u8]) -> Result<Message> {
    let early = || Error::new("system bus: a message ends early");
    let fixed = bytes.first_chunk::<16>().ok_or_else(early)?;
    let (little, header_len, total) = frame(fixed)?;
    decode(bytes.get(..total).ok_or_else(early)?, little, header_len)
}

/// The socket path of a D-Bus address's `unix:path=` entry, if any.
fn unix_path(address: &str) -> Option<String> {
    let entry = address
        .split(';')
        .find_map(|a| a.strip_prefix("unix:path="))?;
    Some(entry.split(',').next().unwrap_or(entry).to_string())
}

/// A method call's bytes (little-endian).
fn encode_call(
    serial: u32,
    destination: &str,
    path: &str,
    interface: &str,
    member: &str,
    args: &[Value],
) -> Vec<u8> {
    let mut body = Writer::default();
    for a in args {
        body.put(a);
    }
    let signature: String = args.iter().map(Value::signature).collect();
    let field =
        |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::Variant(v.into())]);
    let mut fields = vec![
        field(PATH, Value::Path(path.into())),
        field(INTERFACE, Value::Str(interface.into())),
        field(MEMBER, Value::Str(member.into())),
        field(DESTINATION, Value::Str(destination.into())),
    ];
    if !signature.is_empty() {
        fields.push(field(SIGNATURE, Value::Sig(signature)));
    }
    let mut m = Writer::default();
    m.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
    m.put(&Value::U32(body.buf.len() as u32));
    m.put(&Value::U32(serial));
    m.put(&Value::Array("(yv)".into(), fields));
    m.align(8);
    m.buf.extend_from_slice(&body.buf);
    m.buf
}

/// A received message's header fields and body.
fn decode(message: &[u8], little: bool, header_len: usize) -> Result<Message> {
    let mut header = Reader {
        buf: &message[..header_len],
        pos: 12,
        little,
        depth: 0,
    };
    let mut m = Message {
        kind: message[1],
        member: None,
        error_name: None,
        reply_serial: None,
        body: Vec::new(),
    };
    let mut signature = String::new();
    let Value::Array(_, fields) = header.value("a(yv)")? else {
        unreachable!("an array signature gives an array");
    };
    for f in fields {
        let Value::Struct(f) = f else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
            continue;
        };
        match (*code, &**v) {
            (MEMBER, Value::Str(s)) => m.member = Some(s.clone()),
            (ERROR_NAME, Value::Str(s)) => m.error_name = Some(s.clone()),
            (REPLY_SERIAL, Value::U32(n)) => m.reply_serial = Some(*n),
            (SIGNATURE, Value::Sig(s)) => signature = s.clone(),
            _ => {}
        }
    }
    // The body starts 8-aligned, so alignment counts from its start too.
    let mut body = Reader {
        buf: &message[header_len..],
        pos: 0,
        little,
        depth: 0,
    };
    let mut rest = signature.as_str();
    while !rest.is_empty() {
        let (one, tail) = split_type(rest)?;
        m.body.push(body.value(one)?);
        rest = tail;
    }
    Ok(m)
}

/// The first complete type of a signature, and the rest. Empty structs
/// are refused, as the spec does: an array of them would never end.
fn split_type(sig: &str) -> Result<(&str, &str)> {
    let bad = || Error::new(format!("system bus: bad signature {sig:?}"));
    let end = match sig.as_bytes().first().ok_or_else(bad)? {
        b'a' => 1 + split_type(&sig[1..])?.0.len(),
        open @ (b'(' | b'{') => {
            let close = if *open == b'(' { b')' } else { b'}' };
            let mut inner = &sig[1..];
            while !inner.is_empty() && inner.as_bytes()[0] != close {
                inner = split_type(inner)?.1;
            }
            if inner.is_empty() || inner.len() == sig.len() - 1 {
                return Err(bad());
            }
            sig.len() - inner.len() + 1
        }
        c if c.is_ascii() => 1,
        _ => return Err(bad()),
    };
    Ok(sig.split_at(end))
}

/// How deeply arrays, structs and variants may nest in a message (the
/// spec allows 32 arrays in 32 structs); deeper is a broken peer, whose
/// message would otherwise recurse without bound (variants hold any type).
const MAX_NESTING: usize = 64;

fn alignment(sig: &str) -> usize {
    match sig.as_bytes().first() {
        Some(b'y' | b'g' | b'v') => 1,
        Some(b'n' | b'q') => 2,
        Some(b'x' | b't' | b'd' | b'(' | b'{') => 8,
        _ => 4,
    }
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn align(&mut self, n: usize) {
        self.buf.resize(self.buf.len().next_multiple_of(n), 0);
    }

    fn string(&mut self, s: &str) {
        self.put(&Value::U32(s.len() as u32));
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn put(&mut self, v: &Value) {
        self.align(alignment(&v.signature()));
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.put(&Value::U32(*b as u32)),
            Value::I32(n) => self.buf.extend_from_slice(&n.to_le_bytes()),
            Value::U32(n) => self.buf.extend_from_slice(&n.to_le_bytes()),
            Value::I64(n) => self.buf.extend_from_slice(&n.to_le_bytes()),
            Value::U64(n) => self.buf.extend_from_slice(&n.to_le_bytes()),
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                let len_at = self.buf.len();
                self.put(&Value::U32(0));
                // The length counts from the first element, after its padding.
                self.align(alignment(elem));
                let start = self.buf.len();
                items.iter().for_each(|i| self.put(i));
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => fields.iter().for_each(|f| self.put(f)),
            Value::Variant(inner) => {
                self.put(&Value::Sig(inner.signature()));
                self.put(inner);
            }
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
    /// Containers open around the value being read.
    depth: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| Error::new("system bus: a message ends early"))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn number<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.pos = self.pos.next_multiple_of(N);
        let mut b: [u8; N] = self.take(N)?.try_into().expect("N bytes taken");
        if !self.little {
            b.reverse();
        }
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.number()?))
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len + 1)?;
        std::str::from_utf8(&bytes[..len])
            .map(str::to_string)
            .map_err(|_| Error::new("system bus: a string is not UTF-8"))
    }

    /// One value of the complete type `sig`.
    fn value(&mut self, sig: &str) -> Result<Value> {
        if matches!(sig.as_bytes()[0], b'a' | b'(' | b'{' | b'v') {
            if self.depth == MAX_NESTING {
                bail!("system bus: values nested deeper than {MAX_NESTING}");
            }
            self.depth += 1;
            let v = self.read_value(sig);
            self.depth -= 1;
            return v;
        }
        self.read_value(sig)
    }

    fn read_value(&mut self, sig: &str) -> Result<Value> {
        Ok(match sig.as_bytes()[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'n' | b'q' => Value::U32(u16::from_le_bytes(self.number()?) as u32),
            b'i' => Value::I32(i32::from_le_bytes(self.number()?)),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.number()?)),
            b't' | b'd' => Value::U64(u64::from_le_bytes(self.number()?)),
            b's' => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            b'o' => {
                let len = self.u32()? as usize;
                Value::Path(self.text(len)?)
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Sig(self.text(len)?)
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let inner = self.text(len)?;
                let (one, rest) = split_type(&inner)?;
                if !rest.is_empty() {
                    bail!("system bus: a variant holds {inner:?}");
                }
                Value::Variant(Box::new(self.value(one)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let elem = &sig[1..];
                self.pos = self.pos.next_multiple_of(alignment(elem));
                let end = self.pos + len;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem)?);
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' | b'{' => {
                self.pos = self.pos.next_multiple_of(8);
                let mut rest = &sig[1..sig.len() - 1];
                let mut fields = Vec::new();
                while !rest.is_empty() {
                    let (one, tail) = split_type(rest)?;
                    fields.push(self.value(one)?);
                    rest = tail;
                }
                Value::Struct(fields)
            }
            other => bail!("system bus: unknown type {:?}", other as char),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_body(bytes: &[u8], sig: &str) -> Vec<Value> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            little: true,
            depth: 0,
        };
        let mut rest = sig;
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (one, tail) = split_type(rest).unwrap();
            out.push(r.value(one).unwrap());
            rest = tail;
        }
        assert_eq!(r.pos, bytes.len(), "all of the body read");
        out
    }

    #[test]
    fn signatures_split_into_complete_types() {
        assert_eq!(split_type("a(sv)s").unwrap(), ("a(sv)", "s"));
        assert_eq!(split_type("a{sa(sv)}u").unwrap(), ("a{sa(sv)}", "u"));
        assert_eq!(split_type("(yv)").unwrap(), ("(yv)", ""));
        assert!(split_type("(yv").is_err());
        assert!(split_type("a").is_err());
    }

    #[test]
    fn values_round_trip_with_their_padding() {
        let props = Value::Array(
            "(sv)".into(),
            vec![
                Value::Struct(vec![
                    Value::Str("MemoryMax".into()),
                    Value::Variant(Box::new(Value::U64(64 << 20))),
                ]),
                Value::Struct(vec![
                    Value::Str("PIDs".into()),
                    Value::Variant(Box::new(Value::Array("u".into(), vec![Value::U32(42)]))),
                ]),
                Value::Struct(vec![
                    Value::Str("Delegate".into()),
                    Value::Variant(Box::new(Value::Bool(true))),
                ]),
            ],
        );
        let args = vec![Value::Str("hull-x.scope".into()), props, Value::Byte(7)];
        let mut w = Writer::default();
        args.iter().for_each(|a| w.put(a));
        let sig: String = args.iter().map(Value::signature).collect();
        assert_eq!(sig, "sa(sv)y");
        assert_eq!(decode_body(&w.buf, &sig), args);
        // "hull-x.scope": length 12, the text, NUL; the array's length is
        // padded to 4 and its first struct to 8.
        assert_eq!(&w.buf[..4], &12u32.to_le_bytes());
        assert_eq!(w.buf[16], 0, "the string's NUL");
        assert_eq!(w.buf.len() % 4, 1, "the byte ends it");
    }

    #[test]
    fn a_method_call_decodes_as_sent() {
        let bytes = encode_call(
            9,
            "org.freedesktop.systemd1",
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            &[Value::Str("a.scope".into()), Value::Str("replace".into())],
        );
        let fields_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let header_len = (16 + fields_len).next_multiple_of(8);
        let m = decode(&bytes, true, header_len).unwrap();
        assert_eq!(m.kind, METHOD_CALL);
        assert_eq!(m.member.as_deref(), Some("StopUnit"));
        assert_eq!(
            m.body,
            [Value::Str("a.scope".into()), Value::Str("replace".into())]
        );
    }

    #[test]
    fn a_truncated_message_is_an_error_not_a_panic() {
        let bytes = encode_call(1, "d", "/p", "i", "M", &[Value::Str("long text".into())]);
        let fields_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let header_len = (16 + fields_len).next_multiple_of(8);
        let cut = &bytes[..bytes.len() - 3];
        assert!(decode(cut, true, header_len).is_err());
    }

    /// A method return whose body has `sig` and `body` (little-endian).
    fn reply(sig: &str, body: &[u8]) -> Vec<u8> {
        let mut m = Writer::default();
        m.buf.extend_from_slice(&[b'l', METHOD_RETURN, 0, 1]);
        m.put(&Value::U32(body.len() as u32));
        m.put(&Value::U32(1));
        let field = Value::Struct(vec![
            Value::Byte(SIGNATURE),
            Value::Variant(Value::Sig(sig.into()).into()),
        ]);
        m.put(&Value::Array("(yv)".into(), vec![field]));
        m.align(8);
        m.buf.extend_from_slice(body);
        m.buf
    }

    #[test]
    fn broken_signatures_are_errors_not_panics() {
        // Found by fuzz/ (dbus): a signature opening with a multibyte
        // character was split inside it.
        let e = decode_received(&reply("\u{64a}q", &[0; 8])).unwrap_err();
        assert!(e.message().starts_with("system bus: bad signature"), "{e}");
        // Found by fuzz/ (dbus, a hang): an array of empty structs never ended.
        let e = decode_received(&reply("a()", &[8, 0, 0, 0, 0, 0, 0, 0])).unwrap_err();
        assert!(e.message().starts_with("system bus: bad signature"), "{e}");
        assert!(split_type("{}").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        // Variants hold any type: without a bound, a message of nested
        // variants recursed once per 3 bytes, past the stack's end.
        let mut body = Vec::new();
        for _ in 0..100_000 {
            body.extend_from_slice(&[1, b'v', 0]);
        }
        let e = decode_received(&reply("v", &body)).unwrap_err();
        assert_eq!(e.message(), "system bus: values nested deeper than 64");
        let mut body = Vec::new();
        for _ in 0..63 {
            body.extend_from_slice(&[1, b'v', 0]);
        }
        body.extend_from_slice(&[1, b'y', 0, 7]);
        let m = decode_received(&reply("v", &body)).unwrap();
        let mut v = &m.body[0];
        for _ in 0..63 {
            let Value::Variant(inner) = v else {
                panic!("{v:?}")
            };
            v = inner;
        }
        assert_eq!(v, &Value::Variant(Value::Byte(7).into()));
    }
}
