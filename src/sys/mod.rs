//! Thin wrappers for the syscalls nix does not cover (clone3, pidfd,
//! openat2, close_range). Each returns nix's Errno so callers add context.

pub mod sched;

use nix::errno::Errno;
use nix::libc;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

pub enum Forked {
    /// `in_cgroup`: the child was born in the cgroup asked for.
    Parent {
        pid: i32,
        pidfd: OwnedFd,
        in_cgroup: bool,
    },
    Child,
}

/// clone3 without a new stack: the child continues on a copy-on-write copy
/// of ours, like fork(2), but with namespace flags and a pidfd. Only for a
/// single-threaded caller (see `launch`): the child may allocate because
/// no other thread can hold a lock.
///
/// `cgroup`: a cgroup2 directory to be born in (CLONE_INTO_CGROUP), which
/// spares the parent moving the child there: a move takes a global lock
/// whose first taking waits for an RCU grace period, milliseconds on a
/// busy or large machine. Where the kernel refuses it (before 5.7, or
/// for that cgroup) the clone is made without; the parent's move then
/// says what is wrong with the cgroup.
pub fn clone3(flags: u64, cgroup: Option<BorrowedFd>) -> Result<Forked, Errno> {
    if let Some(dir) = cgroup {
        let flags = flags | CLONE_INTO_CGROUP;
        if let Ok(forked) = clone3_raw(flags, dir.as_raw_fd() as u64) {
            return Ok(forked);
        }
    }
    clone3_raw(flags, 0)
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

fn clone3_raw(flags: u64, cgroup: u64) -> Result<Forked, Errno> {
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64,
        cgroup,
        pidfd: &mut pidfd as *mut RawFd as u64,
        // With CLONE_PARENT the kernel takes our own exit signal (and
        // refuses another).
        exit_signal: match flags & libc::CLONE_PARENT as u64 {
            0 => libc::SIGCHLD as u64,
            _ => 0,
        },
        ..Default::default()
    };
    // SAFETY: the args struct outlives the call; with stack == 0 the child
    // resumes here like after fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: the kernel just handed us this fd.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
            in_cgroup: flags & CLONE_INTO_CGROUP != 0,
        }),
    }
}

/// Every signal but SIGKILL and SIGSTOP back to its default disposition.
/// The raw syscall: libc's wrapper refuses the signals it keeps for itself
/// (32, 33), which a caller may still have ignored.
pub fn reset_signal_dispositions() {
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: u64,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: a default disposition from a valid struct; no handler runs.
            unsafe { libc::syscall(libc::SYS_rt_sigaction, sig, &dfl, std::ptr::null::<u8>(), 8) };
        }
    }
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring.
pub fn join_session_keyring(name: &CStr) -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: valid C string for the duration of the call.
    let ret =
        unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    Errno::result(ret).map(drop)
}

/// bpf(2) with `attr`, a bpf_attr prefix of its own size.
pub fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<i32, Errno> {
    // SAFETY: attr is a live, properly laid out bpf_attr prefix of the
    // given size; pointers inside it are valid for the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    Errno::result(r).map(|r| r as i32)
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): what the kernel returns
/// (a listener fd with NEW_LISTENER). Without a program only the flags
/// are checked (EFAULT when they are valid).
pub fn seccomp_set_mode_filter(
    flags: libc::c_ulong,
    prog: Option<&libc::sock_fprog>,
) -> Result<libc::c_long, Errno> {
    let prog = prog.map_or(std::ptr::null(), |p| p as *const libc::sock_fprog);
    // SAFETY: the kernel copies the program and the instructions it points
    // to, which the caller keeps alive; a null one is never dereferenced.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            prog,
        )
    };
    Errno::result(rc)
}

/// Whether ours is the only thread: /proc/self/task links one entry per
/// thread besides `.` and `..` (one stat, no read).
pub fn is_single_threaded() -> bool {
    std::fs::metadata("/proc/self/task").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.nlink() == 3
    })
}

/// Reap our child `pid`, which we alone know of (a helper just forked).
pub fn reap(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    while nix::sys::wait::waitpid(pid, None) == Err(Errno::EINTR) {}
}

pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: plain syscall, the returned fd is new and owned by us.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just handed us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: plain syscall on a valid fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

/// Wait until the process behind a pidfd has exited (it need not be our child).
pub fn pidfd_wait_exit(pidfd: BorrowedFd, timeout_ms: i32) -> Result<bool, Errno> {
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        match n {
            -1 if Errno::last() == Errno::EINTR => continue,
            -1 => return Err(Errno::last()),
            0 => return Ok(false),
            _ => return Ok(true),
        }
    }
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): resolve `path` relative to `dir` under the `resolve` rules.
pub fn openat2(dir: BorrowedFd, path: &CStr, flags: i32, resolve: u64) -> Result<OwnedFd, Errno> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: valid C string and struct for the duration of the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if ret >= 0 {
            // SAFETY: the kernel just handed us this fd.
            return Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) });
        }
        // EAGAIN: a rename raced the lookup; the kernel asks us to retry.
        match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Mark every fd from `first` on close-on-exec, so nothing of the host's
/// that hull inherited reaches the container (CVE-2024-21626). `fd_dir` is
/// our /proc/self/fd, opened while the host's /proc was reachable.
pub fn cloexec_from(first: u32, fd_dir: BorrowedFd) -> Result<(), Errno> {
    if close_range_cloexec(first) {
        return Ok(());
    }
    // Older kernels, and seccomp profiles older than close_range (loaded
    // before this point without no_new_privs): each open fd, as runc does.
    use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir = nix::dir::Dir::openat(fd_dir, ".", flags, nix::sys::stat::Mode::empty())?;
    for entry in dir.iter() {
        let name = entry?;
        let fd = name
            .file_name()
            .to_str()
            .ok()
            .and_then(|n| n.parse::<RawFd>().ok());
        if let Some(fd) = fd.filter(|&fd| fd >= first as RawFd) {
            // The listing's own fd is among them: marking it is harmless.
            // SAFETY: only its flags change; an fd closed meanwhile gives EBADF.
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        }
    }
    Ok(())
}

/// close_range(first.., CLOSE_RANGE_CLOEXEC): false where the kernel (or a
/// seccomp profile older than it) does not have it.
fn close_range_cloexec(first: u32) -> bool {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: plain syscall on fd numbers.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) == 0 }
}

/// Close every fd from `first` on but those in `keep`: close_range(2)
/// over the gaps between them.
pub fn close_fds_except(first: u32, keep: &[RawFd]) -> Result<(), Errno> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .collect();
    keep.retain(|&fd| fd >= first);
    keep.sort_unstable();
    let mut from = first;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > from {
            close_range(from, fd - 1)?;
        }
        from = fd.saturating_add(1);
    }
    Ok(())
}

/// close_range(2), or on kernels before 5.9 each fd up to our open-files
/// limit. Only for fd numbers no live OwnedFd of ours holds.
fn close_range(first: u32, last: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall on fd numbers.
    match Errno::result(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }) {
        Err(Errno::ENOSYS) => {}
        r => return r.map(drop),
    }
    let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or(1024, |(soft, _)| soft.min(1 << 20) as u32);
    for fd in first..=last.min(limit) {
        // SAFETY: as above; an unused number gives EBADF.
        unsafe { libc::close(fd as RawFd) };
    }
    Ok(())
}

/// [`cloexec_from`] for a forked child about to exec (a hook): no /proc
/// listing and no allocation, only syscalls. Without close_range, each
/// possible fd up to the open-files limit.
pub fn cloexec_from_in_child(first: u32) {
    if close_range_cloexec(first) {
        return;
    }
    // SAFETY: plain syscalls on fd numbers; an unused one gives EBADF.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let last = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur.min(1 << 20) as RawFd
        } else {
            1024
        };
        for fd in first as RawFd..last {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// setresuid(2) as the kernel has it: for the calling thread only. glibc's
/// wrapper applies it to every thread it knows of (signals and futex waits
/// on its thread list), which in a child cloned from a threaded caller
/// lists threads that are not there: it would hang.
pub fn setresuid_thread(uid: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall with integer arguments.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// setresgid(2) for the calling thread only (see [`setresuid_thread`]).
pub fn setresgid_thread(gid: u32) -> Result<(), Errno> {
    // SAFETY: plain syscall with integer arguments.
    Errno::result(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// setgroups(2) for the calling thread only (see [`setresuid_thread`]).
pub fn setgroups_thread(groups: &[u32]) -> Result<(), Errno> {
    // SAFETY: the pointer and length describe a live slice.
    Errno::result(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })
        .map(drop)
}

/// `--preserve-fds N`: fds 3 .. 3+N must all be open in the caller.
pub fn check_preserved_fds(count: u32) -> crate::error::Result<()> {
    for fd in 3..3u64.saturating_add(count as u64) {
        let Ok(fd) = RawFd::try_from(fd) else {
            crate::bail!("--preserve-fds {count}: more fds than a process can have");
        };
        // SAFETY: F_GETFD only reads the flags of an fd number.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            crate::bail!("--preserve-fds {count}: fd {fd} is not open");
        }
    }
    Ok(())
}

/// `/proc/self/fd/N`: the path through which the kernel reaches an fd's
/// file, used to mount onto a target opened safely inside the rootfs.
pub fn fd_path(fd: RawFd) -> String {
    format!("/proc/self/fd/{fd}")
}

/// mount(2) onto the file or directory `target` is open on, through
/// /proc/self/fd: what was resolved safely inside the rootfs is what gets
/// mounted on, whatever a symlink swapped in since would say.
pub fn mount_on(
    target: BorrowedFd,
    source: Option<&(impl nix::NixPath + ?Sized)>,
    fstype: Option<&str>,
    flags: nix::mount::MsFlags,
    data: Option<&str>,
) -> Result<(), Errno> {
    nix::mount::mount(
        source,
        fd_path(target.as_raw_fd()).as_str(),
        fstype,
        flags,
        data,
    )
}

/// open_tree(2) OPEN_TREE_CLONE: a detached copy of the mount at `path`
/// (with its submounts if `recursive`), as an fd.
pub fn clone_tree(path: &std::path::Path, recursive: bool) -> Result<OwnedFd, Errno> {
    const OPEN_TREE_CLONE: u32 = 1;
    const AT_RECURSIVE: u32 = 0x8000;
    let path =
        std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: valid C string for the duration of the call.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    let fd = Errno::result(fd)?;
    // SAFETY: the kernel just handed us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// move_mount(2) of the detached tree `from` onto the file or directory
/// `to` is open on.
pub fn move_mount_to(from: BorrowedFd, to: BorrowedFd) -> Result<(), Errno> {
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    let empty = c"";
    // SAFETY: valid fds and C strings for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    Errno::result(ret).map(drop)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) with AT_RECURSIVE on the mount behind `fd`: the `r*`
/// mount options (rro, rnosuid, ...).
pub fn mount_setattr_recursive(fd: BorrowedFd, set: u64, clr: u64) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(fd, &attr, true)
}

/// Idmap the detached mount behind `fd` (and its submounts if
/// `recursive`) with the maps of the user namespace `userns`.
pub fn mount_setattr_idmap(
    fd: BorrowedFd,
    userns: BorrowedFd,
    recursive: bool,
) -> Result<(), Errno> {
    const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    mount_setattr(fd, &attr, recursive)
}

fn mount_setattr(fd: BorrowedFd, attr: &MountAttr, recursive: bool) -> Result<(), Errno> {
    const AT_RECURSIVE: u32 = 0x8000;
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    let empty = c"";
    // SAFETY: valid fd, C string and struct for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// Send `fd` over a unix socket (SCM_RIGHTS) with `payload` as data.
pub fn send_fd(socket: BorrowedFd, fd: BorrowedFd, payload: &str) -> crate::error::Result<()> {
    use crate::error::Context;
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [fd.as_raw_fd()];
    let iov = [std::io::IoSlice::new(payload.as_bytes())];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "send fd")?;
    Ok(())
}

/// Receive what `send_fd` sent: the fd, if any, and the payload.
pub fn recv_fd_payload(socket: BorrowedFd) -> crate::error::Result<(Option<OwnedFd>, Vec<u8>)> {
    use crate::error::Context;
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut buf = vec![0u8; 64 * 1024];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ctx(|| "receive fd")?;
    let len = msg.bytes;
    let mut fd = None;
    for c in msg.cmsgs().ctx(|| "receive fd")? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(raw) = fds.first()
        {
            // SAFETY: the kernel installed this fd for us.
            fd = Some(unsafe { OwnedFd::from_raw_fd(*raw) });
        }
    }
    buf.truncate(len);
    Ok((fd, buf))
}

/// Receive an fd sent with `send_fd`.
pub fn recv_fd(socket: BorrowedFd) -> crate::error::Result<OwnedFd> {
    match recv_fd_payload(socket)? {
        (Some(fd), _) => Ok(fd),
        (None, _) => Err(crate::error::Error::new("no fd received")),
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`);
/// a backslash not followed by the octal digits of a byte stays as it is.
pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3');
        match (b[i], oct) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
