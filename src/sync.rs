//! The channel between `hull create` (or `exec`) and the process it
//! clones: typed messages over a SOCK_SEQPACKET socketpair. Errors in the
//! child travel back as text, so the parent reports them once, with their
//! context.
//!
//! The whole handshake, in order (parent: `launch` and create's or exec's
//! `parent_side`; child: `init::create` or `init::exec`):
//!
//! 1. parent: clone. The state dir records the pid; the uid/gid maps of a
//!    new user namespace are written; the child goes into its cgroup.
//! 2. parent -> child `Go`. The child joins namespaces, (create) unshares
//!    its cgroup namespace, mounts, writes sysctls.
//! 3. (create, with prestart/createRuntime/createContainer/startContainer
//!    hooks) child -> parent `Mounted`; the parent runs prestart and
//!    createRuntime hooks and answers `State(json)` (or `Error`); the child
//!    runs createContainer hooks, then pivot_root.
//! 4. The child prepares its process (rlimits, LSM labels, cwd, user,
//!    capabilities); a seccomp notify listener, if any, is sent as an fd
//!    and forwarded by the parent to the agent.
//! 5. child -> parent `Ready`.
//! 6. create: parent records the container as created, writes the pid
//!    file, then parent -> child `Created`: only now may the init outlive
//!    its parent (one that sees end of file instead exits). The init then
//!    waits on the exec fifo for `start`; startContainer hooks; execve.
//!    exec: the child execs at once; the channel, close-on-exec, reaches
//!    end of file at its execve, which is how the parent knows it started.
//!
//! At any step the child may send `Error(text)` and exit; the parent then
//! kills and reaps it and undoes what it made.

use crate::error::{Context, Error, Result};
use nix::sys::socket::MsgFlags;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, PartialEq, Eq)]
pub enum Msg {
    /// parent -> child: id maps and cgroup are in place, go on.
    Go,
    /// child -> parent: mounts are done; the parent may run createRuntime hooks.
    Mounted,
    /// parent -> child: prestart and createRuntime hooks ran; here is the
    /// state JSON for the container's own hooks.
    State(String),
    /// child -> parent: set up, about to block on the exec fifo.
    Ready,
    /// parent -> child (create): the container is recorded; wait for
    /// `start`. A child that sees our end close first instead (we died
    /// half-way) exits: no init outlives an unfinished create.
    Created,
    /// child -> parent: setup failed.
    Error(String),
}

pub struct Channel(OwnedFd);

/// The error of a channel whose peer closed it without a word: the parent
/// then looks at how its child died (see `create::explain_death`).
pub const PEER_GONE: &str = "container init exited during setup";

pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair")?;
    Ok((Channel(a), Channel(b)))
}

impl std::os::fd::AsRawFd for Channel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl Channel {
    pub fn send(&self, msg: &Msg) -> Result<()> {
        let mut buf = Vec::with_capacity(64);
        match msg {
            Msg::Go => buf.push(b'G'),
            Msg::Mounted => buf.push(b'M'),
            Msg::State(json) => {
                buf.push(b'S');
                buf.extend_from_slice(json.as_bytes());
            }
            Msg::Ready => buf.push(b'R'),
            Msg::Created => buf.push(b'C'),
            Msg::Error(text) => {
                buf.push(b'E');
                buf.extend_from_slice(text.as_bytes());
            }
        }
        // One message is one datagram: make room for a big one (a state
        // with large annotations); root may exceed wmem_max.
        if buf.len() > 64 * 1024 {
            let size = buf.len() * 2 + 4096;
            let _ = nix::sys::socket::setsockopt(
                &self.0,
                nix::sys::socket::sockopt::SndBufForce,
                &size,
            );
        }
        match nix::unistd::write(&self.0, &buf) {
            Ok(_) => Ok(()),
            // The peer is gone; what it said before it went is still ours
            // to read, and a better error than ours.
            Err(nix::errno::Errno::EPIPE | nix::errno::Errno::ECONNRESET) => Err(Error::new(
                self.last_error().as_deref().unwrap_or(PEER_GONE),
            )),
            Err(e) => Err(e).ctx(|| "sync: send"),
        }
    }

    /// Receive one message; None once the peer has closed its end (exited,
    /// or, the child, executed its program: the channel is close-on-exec).
    pub fn recv(&self) -> Result<Option<Msg>> {
        // MSG_TRUNC with MSG_PEEK: the size of the next datagram, unread.
        let mut reset_seen = false;
        let size = loop {
            match nix::sys::socket::recv(
                self.0.as_raw_fd(),
                &mut [],
                MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
            ) {
                Err(nix::errno::Errno::EINTR) => continue,
                // The peer died with our data unread. The kernel says so
                // once; what it sent before it died is still queued.
                Err(nix::errno::Errno::ECONNRESET) if !reset_seen => reset_seen = true,
                Err(nix::errno::Errno::ECONNRESET) => return Ok(None),
                r => break r.ctx(|| "sync: receive")?,
            }
        };
        let mut buf = vec![0u8; size.max(1)];
        let n = loop {
            match nix::unistd::read(&self.0, &mut buf) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => break r.ctx(|| "sync: receive")?,
            }
        };
        let msg = match buf.get(..n) {
            Some([b'G']) => Msg::Go,
            Some([b'M']) => Msg::Mounted,
            Some([b'S', json @ ..]) => Msg::State(String::from_utf8_lossy(json).into_owned()),
            Some([b'R']) => Msg::Ready,
            Some([b'C']) => Msg::Created,
            Some([b'E', text @ ..]) => Msg::Error(String::from_utf8_lossy(text).into_owned()),
            Some([]) => return Ok(None),
            _ => return Err(Error::new("sync: unexpected message")),
        };
        Ok(Some(msg))
    }

    /// Pass an fd (the seccomp listener) to the peer.
    pub fn send_fd(&self, fd: std::os::fd::BorrowedFd) -> Result<()> {
        crate::sys::send_fd(std::os::fd::AsFd::as_fd(&self.0), fd, "F")
    }

    /// Receive an fd from `send_fd`; the peer may report an error instead.
    pub fn recv_fd(&self) -> Result<OwnedFd> {
        match crate::sys::recv_fd_payload(std::os::fd::AsFd::as_fd(&self.0))? {
            (Some(fd), _) => Ok(fd),
            (None, payload) => match payload.split_first() {
                Some((b'E', text)) => Err(Error::new(String::from_utf8_lossy(text).into_owned())),
                Some(_) => Err(Error::new("sync: expected an fd")),
                None => Err(Error::new(PEER_GONE)),
            },
        }
    }

    /// What a peer that is gone (or going) said last, if it was an error:
    /// read from what it left queued. A failed read is tried again (twice
    /// at most): the peer's own error is worth more than ours.
    pub fn last_error(&self) -> Option<String> {
        for _ in 0..3 {
            match self.recv() {
                Ok(Some(Msg::Error(text))) => return Some(text),
                Ok(None) => return None,
                Ok(Some(_)) | Err(_) => {}
            }
        }
        None
    }

    /// Expect `want`; a child's error becomes ours.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            Some(m) if m == want => Ok(()),
            Some(Msg::Error(text)) => Err(Error::new(text)),
            None => Err(Error::new(PEER_GONE)),
            Some(m) => Err(Error::new(format!("sync: expected {want:?}, got {m:?}"))),
        }
    }
}
