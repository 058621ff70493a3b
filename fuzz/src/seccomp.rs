//! The seccomp profile compiler: every filter it produces must be one the
//! kernel loads (and then runs: a few system calls go through it).

use hull::security::seccomp::{Filter, x86_64_number};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg, LinuxSeccompOperator as Op,
};
use std::time::{Duration, Instant};

/// A `linux.seccomp` object alone (more mutations reach the compiler
/// than through a whole config.json).
pub fn profile(data: &[u8]) {
    let Ok(value) = hull::config::from_json_slice(data) else {
        return;
    };
    let Ok(profile) = serde_json::from_value::<LinuxSeccomp>(value) else {
        return;
    };
    match hull::security::seccomp::compile(&profile) {
        Ok(filter) => {
            let _ = hull::security::notify::validate(&profile, filter.notify);
            decides_as_specified(&profile, &filter);
            load_in_child(&filter)
        }
        Err(e) => crate::one_line(&e, &["seccomp: "]),
    }
}

/// Load `filter` in a forked child (no_new_privs set, as the init does),
/// then make a few system calls through it. The child reports a refused
/// load on a pipe; its fate after loading (killed by the filter, stuck
/// in a denied exit) is the filter's business, not a defect.
pub fn load_in_child(filter: &Filter) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the array it is given.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [rd, wr] = fds;
    // SAFETY: the child only makes system calls and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain system calls on our own fds and ids.
        unsafe {
            libc::close(rd);
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            // SIGSYS (SCMP_ACT_TRAP) dumps core by default.
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
        }
        match hull::security::seccomp::load(filter) {
            Err(e) => {
                let msg = e.to_string();
                // SAFETY: writing our own buffer to our pipe, then leaving.
                unsafe {
                    libc::write(wr, msg.as_ptr().cast(), msg.len());
                    libc::_exit(0);
                }
            }
            // A listener closed: SCMP_ACT_NOTIFY calls fail with ENOSYS
            // rather than wait for an agent.
            Ok(listener) => drop(listener),
        }
        // SAFETY: system calls with harmless arguments; whatever the
        // filter answers, none changes anything outside this process.
        unsafe {
            libc::close(wr);
            libc::syscall(libc::SYS_getpid);
            libc::syscall(libc::SYS_getppid);
            libc::syscall(libc::SYS_close, -1);
            libc::syscall(libc::SYS_getuid);
            libc::syscall(libc::SYS_sched_yield);
            libc::syscall(libc::SYS_getpid | 0x4000_0000);
            libc::syscall(999);
            libc::syscall(-1i64);
            libc::_exit(0);
        }
    }
    // SAFETY: our copy of the write end.
    unsafe { libc::close(wr) };
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if got == pid {
            break;
        }
        if start.elapsed() > Duration::from_millis(500) {
            // Spinning in a denied exit_group: the filter's doing.
            // SAFETY: our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    let mut buf = [0u8; 512];
    // SAFETY: reading into our buffer from our pipe (the child is gone).
    let n = unsafe { libc::read(rd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: our fd.
    unsafe { libc::close(rd) };
    if n > 0 {
        let msg = String::from_utf8_lossy(&buf[..n as usize]);
        panic!(
            "the kernel refused a compiled filter ({} instructions, flags {:#x}): {msg}",
            filter.program.len(),
            filter.flags
        );
    }
}

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_BIT: u32 = 0x4000_0000;

/// The seccomp return value the OCI runtime spec gives an action.
fn ret_of(action: Action, errno: Option<u32>) -> u32 {
    let errno = errno.unwrap_or(libc::EPERM as u32);
    match action {
        Action::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
        Action::ScmpActErrno => libc::SECCOMP_RET_ERRNO | errno,
        Action::ScmpActTrace => libc::SECCOMP_RET_TRACE | errno,
        Action::ScmpActKill | Action::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Action::ScmpActLog => libc::SECCOMP_RET_LOG,
        Action::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
    }
}

/// A profile read the way hull's seccomp module documents it (runc and
/// libseccomp's reading), independently of how it compiles it.
struct Reading<'a> {
    default: u32,
    /// For numbers past the highest named syscall: ENOSYS when the
    /// default denies.
    above: u32,
    highest: Option<u32>,
    /// Each rule whose action is not the default's: its x86_64 numbers,
    /// its return value and its conditions.
    rules: Vec<(Vec<u32>, u32, &'a [LinuxSeccompArg])>,
}

impl<'a> Reading<'a> {
    fn new(profile: &'a LinuxSeccomp) -> Reading<'a> {
        let default = ret_of(profile.default_action(), profile.default_errno_ret());
        let permissive = matches!(
            profile.default_action(),
            Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
        );
        let all = profile.syscalls().as_deref().unwrap_or_default();
        let numbers = |r: &oci_spec::runtime::LinuxSyscall| -> Vec<u32> {
            r.names().iter().filter_map(|n| x86_64_number(n)).collect()
        };
        let rules = (all.iter())
            .map(|r| {
                let conds = r.args().as_deref().unwrap_or_default();
                (numbers(r), ret_of(r.action(), r.errno_ret()), conds)
            })
            .filter(|(_, ret, _)| *ret != default)
            .collect();
        Reading {
            default,
            above: match permissive {
                true => default,
                false => libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
            },
            highest: all.iter().flat_map(numbers).max(),
            rules,
        }
    }

    /// The rules naming `nr`, in profile order.
    fn of(&self, nr: u32) -> impl Iterator<Item = &(Vec<u32>, u32, &'a [LinuxSeccompArg])> {
        self.rules
            .iter()
            .filter(move |(nrs, _, _)| nrs.contains(&nr))
    }

    /// What native x86_64 syscall `nr` gets: the first rule without args
    /// decides; else conditional rules in profile order, first match
    /// wins, args ANDed unless one argument is tested twice (then ORed).
    fn expected(&self, nr: u32, args: &[u64; 6]) -> u32 {
        match self.highest {
            None => return self.default,
            Some(h) if nr > h => return self.above,
            Some(_) => {}
        }
        if let Some((_, ret, _)) = self.of(nr).find(|(_, _, conds)| conds.is_empty()) {
            return *ret;
        }
        for (_, ret, conds) in self.of(nr) {
            let mut indexes: Vec<usize> = conds.iter().map(|a| a.index()).collect();
            indexes.sort_unstable();
            indexes.dedup();
            let matched = match indexes.len() == conds.len() {
                true => conds.iter().all(|a| holds(a, args)),
                false => conds.iter().any(|a| holds(a, args)),
            };
            if matched {
                return *ret;
            }
        }
        self.default
    }

    /// Arguments worth trying for `nr`: none set, and each condition's
    /// value, its neighbours and all of a rule's at once.
    fn vectors(&self, nr: u32) -> Vec<[u64; 6]> {
        let mut vectors = vec![[0u64; 6]];
        for (_, _, conds) in self.of(nr) {
            let mut all = [0u64; 6];
            for a in conds.iter().take(6) {
                let want = match a.op() {
                    Op::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                    _ => a.value(),
                };
                all[a.index()] = want;
                for v in [want, want.wrapping_add(1), want.wrapping_sub(1), !0] {
                    let mut one = [0u64; 6];
                    one[a.index()] = v;
                    vectors.push(one);
                }
            }
            vectors.push(all);
        }
        vectors.sort_unstable();
        vectors.dedup();
        vectors.truncate(32);
        vectors
    }
}

fn holds(arg: &LinuxSeccompArg, args: &[u64; 6]) -> bool {
    let (v, value) = (args[arg.index()], arg.value());
    match arg.op() {
        Op::ScmpCmpEq => v == value,
        Op::ScmpCmpNe => v != value,
        Op::ScmpCmpLt => v < value,
        Op::ScmpCmpLe => v <= value,
        Op::ScmpCmpGt => v > value,
        Op::ScmpCmpGe => v >= value,
        Op::ScmpCmpMaskedEq => v & value == arg.value_two().unwrap_or(0),
    }
}

/// Run the compiled program on test calls and compare with what the
/// profile says ([`Reading`]): every syscall the profile names and its
/// neighbours, with arguments at and around the values its conditions
/// test; calls of other ABIs; a negative number.
pub fn decides_as_specified(profile: &LinuxSeccomp, filter: &Filter) {
    let reading = Reading::new(profile);
    let rules = profile.syscalls().as_deref().unwrap_or_default();
    let mut nrs: Vec<u32> = (rules.iter().flat_map(|r| r.names()))
        .filter_map(|n| x86_64_number(n))
        .flat_map(|n| [n, n + 1, n.saturating_sub(1)])
        .collect();
    nrs.extend([0, 1000, X32_BIT - 1]);
    nrs.sort_unstable();
    nrs.dedup();
    for &nr in &nrs {
        for args in reading.vectors(nr) {
            let got = run_bpf(filter, AUDIT_ARCH_X86_64, nr, &args);
            let want = reading.expected(nr, &args);
            assert_eq!(
                got, want,
                "x86_64 syscall {nr} with args {args:?}: got {got:#x}, want {want:#x}"
            );
        }
    }
    let zeros = [0u64; 6];
    let arches = profile.architectures().as_deref().unwrap_or_default();
    let bad_arch = libc::SECCOMP_RET_KILL_THREAD;
    if !arches.contains(&Arch::ScmpArchX86) {
        let got = run_bpf(filter, AUDIT_ARCH_I386, 20, &zeros);
        assert_eq!(got, bad_arch, "i386 not listed");
    }
    if !arches.contains(&Arch::ScmpArchX32) {
        let got = run_bpf(filter, AUDIT_ARCH_X86_64, X32_BIT | 39, &zeros);
        assert_eq!(got, bad_arch, "x32 not listed");
    }
    let got = run_bpf(filter, 0xc000_00b7, 0, &zeros);
    assert_eq!(got, bad_arch, "aarch64");
    // A negative number: the x86_64 leaf past the highest syscall.
    let past = reading.expected(u32::MAX, &zeros);
    let got = run_bpf(filter, AUDIT_ARCH_X86_64, u32::MAX, &zeros);
    assert_eq!(got, past, "nr -1");
}

/// A classic BPF interpreter over `struct seccomp_data` (nr, arch,
/// instruction pointer, six arguments), as the kernel runs a filter.
fn run_bpf(filter: &Filter, arch: u32, nr: u32, args: &[u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    let (mut a, mut x, mut mem) = (0u32, 0u32, [0u32; 16]);
    let mut pc = 0usize;
    loop {
        let ins = filter
            .program
            .get(pc)
            .unwrap_or_else(|| panic!("the program runs past its end at {pc}"));
        pc += 1;
        let k = ins.k;
        let jump = |cond: bool| {
            if cond {
                ins.jt as usize
            } else {
                ins.jf as usize
            }
        };
        match ins.code {
            0x20 => {
                let at = k as usize;
                assert!(at.is_multiple_of(4) && at + 4 <= 64, "load at {at}");
                a = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
            }
            0x00 => a = k,
            0x01 => x = k,
            0x60 => a = mem[k as usize],
            0x61 => x = mem[k as usize],
            0x80 => a = 64,
            0x81 => x = 64,
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x04 => a = a.wrapping_add(k),
            0x0c => a = a.wrapping_add(x),
            0x14 => a = a.wrapping_sub(k),
            0x1c => a = a.wrapping_sub(x),
            0x24 => a = a.wrapping_mul(k),
            0x2c => a = a.wrapping_mul(x),
            0x44 => a |= k,
            0x4c => a |= x,
            0x54 => a &= k,
            0x5c => a &= x,
            0xa4 => a ^= k,
            0xac => a ^= x,
            0x84 => a = a.wrapping_neg(),
            0x05 => pc += k as usize,
            0x15 => pc += jump(a == k),
            0x1d => pc += jump(a == x),
            0x25 => pc += jump(a > k),
            0x2d => pc += jump(a > x),
            0x35 => pc += jump(a >= k),
            0x3d => pc += jump(a >= x),
            0x45 => pc += jump(a & k != 0),
            0x4d => pc += jump(a & x != 0),
            0x06 => return k,
            0x16 => return a,
            0x07 => x = a,
            0x87 => a = x,
            code => panic!("BPF opcode {code:#x} at {}", pc - 1),
        }
    }
}
