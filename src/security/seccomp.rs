//! Seccomp: translate an OCI profile (`linux.seccomp`) into a classic BPF
//! program and load it, without libseccomp.
//!
//! seccompiler's `SeccompFilter` allows one match action per filter and
//! searches syscalls linearly, while OCI profiles mix many actions and list
//! hundreds of syscalls for up to three ABIs (x86_64, i386, x32; aarch64,
//! arm). So seccompiler compiles each rule's argument checks (`SeccompRule`
//! -> BPF: falls through when every condition holds, otherwise continues
//! right after the instruction that follows it), and this module lays out
//! the rest:
//!
//! ```text
//! ld arch; compat? -> compat section; native? -> native section; else ret BAD_ARCH
//! section: ld nr; binary search over ranges of syscall numbers -> leaf
//! leaf:    ret ACTION | [rule; ret ACTION]... ret DEFAULT
//! ```
//!
//! Ranges of consecutive numbers with identical leaves are merged, which keeps
//! podman's and Docker's default profiles for three ABIs under 800
//! instructions (the kernel allows 4096).
//!
//! Semantics follow runc + libseccomp, which profiles are written for:
//! - Rules whose action equals the default action are dropped (runc does).
//! - A rule with no `args` decides its syscalls; the first such rule wins and
//!   conditional rules for the same syscall are ignored (libseccomp's
//!   `db_rule_add`). Conditional rules are tried in profile order, first match
//!   wins (libseccomp merges them into a tree; overlapping conditional rules
//!   with different actions are rare and profile order is the honest reading).
//! - Several `args` in a rule are ANDed, unless two of them test the same
//!   argument: then each arg becomes its own rule (ORed), as runc does.
//! - Syscall names unknown to an ABI are skipped.
//! - Numbers above the highest syscall the profile names get ENOSYS when the
//!   default action denies (runc's "-ENOSYS stub"), so newer libcs fall back
//!   from syscalls the profile predates instead of failing with EPERM.
//! - Syscalls from an ABI not in the filter get `BAD_ARCH`.
//!
//! The compat ABI is i386 on x86_64 and 32-bit arm (EABI) on aarch64, whose
//! kernel reports it as AUDIT_ARCH_ARM; x32 exists only on x86_64.
//!
//! Not supported: i386 `socketcall`/`ipc` multiplexed calls are matched only by
//! their own names (libseccomp also rewrites e.g. `socket` into
//! `socketcall(SYS_SOCKET)` rules); hosts other than x86_64 and aarch64.

use std::collections::BTreeMap;
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::libc;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg,
    LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op, LinuxSyscall,
};
use seccompiler::{
    BpfProgram, SeccompCmpArgLen as ArgLen, SeccompCmpOp, SeccompCondition, SeccompRule,
    sock_filter,
};

use crate::bail;
use crate::error::{Context, Error, Result};

#[path = "syscalls.rs"]
mod syscalls;

/// A compiled profile, ready for [`load`].
#[derive(Debug, Clone)]
pub struct Filter {
    /// Classic BPF over `struct seccomp_data`.
    pub program: BpfProgram,
    /// `SECCOMP_FILTER_FLAG_*` from the profile's `flags`.
    pub flags: u32,
    /// Some rule uses SCMP_ACT_NOTIFY: loading creates a listener fd.
    pub notify: bool,
}

/// Syscalls of an ABI that is not in the filter. libseccomp's default
/// bad-arch action is SCMP_ACT_KILL (= KILL_THREAD) and runc keeps it; an
/// unexpected ABI is attack surface, not a compatibility concern.
const BAD_ARCH: u32 = libc::SECCOMP_RET_KILL_THREAD;

// `seccomp_data.arch` values (linux/audit.h).
#[cfg(any(test, target_arch = "x86_64"))]
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
#[cfg(any(test, target_arch = "x86_64"))]
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
#[cfg(any(test, target_arch = "aarch64"))]
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// 32-bit arm, as an aarch64 kernel reports its compat tasks.
#[cfg(any(test, target_arch = "aarch64"))]
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;
/// x32 syscalls arrive as AUDIT_ARCH_X86_64 with this bit in the number.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Classic BPF opcodes and `struct seccomp_data` offsets (linux/filter.h,
// linux/seccomp.h); seccompiler keeps its own private.
const LD_W_ABS: u16 = 0x20;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn ret(k: u32) -> sock_filter {
    stmt(RET_K, k)
}

/// A syscall ABI the filter can cover.
struct Abi {
    /// How profiles name it.
    arch: Arch,
    table: &'static [(&'static str, u32)],
    /// ORed into every number of `table`.
    nr_bit: u32,
    /// 32-bit ABIs compare only the low half of an argument, as libseccomp
    /// does (it treats x32 as 32-bit too).
    arg_len: ArgLen,
}

impl Abi {
    fn number(&self, name: &str) -> Option<u32> {
        let i = self.table.binary_search_by(|(n, _)| (*n).cmp(name)).ok()?;
        Some(self.table[i].1 | self.nr_bit)
    }
}

/// The ABIs a host's kernel runs, each with the `seccomp_data.arch` it
/// reports: its own, always in the filter; its 32-bit compat ABI and
/// (x86_64) x32 when the profile lists them.
struct Host {
    native: (u32, Abi),
    compat: (u32, Abi),
    /// x32: native-arch syscalls with [`X32_SYSCALL_BIT`] set.
    x32: Option<Abi>,
}

impl Host {
    fn archs(&self) -> Vec<Arch> {
        let abis = [
            Some(&self.compat.1),
            Some(&self.native.1),
            self.x32.as_ref(),
        ];
        abis.into_iter().flatten().map(|abi| abi.arch).collect()
    }
}

#[cfg(any(test, target_arch = "x86_64"))]
const X86_64_HOST: Host = Host {
    native: (
        AUDIT_ARCH_X86_64,
        Abi {
            arch: Arch::ScmpArchX86_64,
            table: syscalls::X86_64,
            nr_bit: 0,
            arg_len: ArgLen::Qword,
        },
    ),
    compat: (
        AUDIT_ARCH_I386,
        Abi {
            arch: Arch::ScmpArchX86,
            table: syscalls::I386,
            nr_bit: 0,
            arg_len: ArgLen::Dword,
        },
    ),
    x32: Some(Abi {
        arch: Arch::ScmpArchX32,
        table: syscalls::X32,
        nr_bit: X32_SYSCALL_BIT,
        arg_len: ArgLen::Dword,
    }),
};

#[cfg(any(test, target_arch = "aarch64"))]
const AARCH64_HOST: Host = Host {
    native: (
        AUDIT_ARCH_AARCH64,
        Abi {
            arch: Arch::ScmpArchAarch64,
            table: syscalls::AARCH64,
            nr_bit: 0,
            arg_len: ArgLen::Qword,
        },
    ),
    compat: (
        AUDIT_ARCH_ARM,
        Abi {
            arch: Arch::ScmpArchArm,
            table: syscalls::ARM,
            nr_bit: 0,
            arg_len: ArgLen::Dword,
        },
    ),
    x32: None,
};

/// The host this hull was built for (`None`: no seccomp there).
#[cfg(target_arch = "x86_64")]
const HOST: Option<&Host> = Some(&X86_64_HOST);
#[cfg(target_arch = "aarch64")]
const HOST: Option<&Host> = Some(&AARCH64_HOST);
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const HOST: Option<&Host> = None;

/// A validated profile rule.
struct Rule<'a> {
    names: &'a [String],
    ret: u32,
    /// ORed groups of ANDed argument checks; empty: unconditional.
    alternatives: Vec<Vec<LinuxSeccompArg>>,
}

pub fn compile(profile: &LinuxSeccomp) -> Result<Filter> {
    let Some(host) = HOST else {
        bail!(
            "seccomp: not supported on {} (only x86_64 and aarch64)",
            std::env::consts::ARCH
        );
    };
    compile_for(host, profile)
}

fn compile_for(host: &Host, profile: &LinuxSeccomp) -> Result<Filter> {
    let default = action(profile.default_action(), profile.default_errno_ret())
        .ctx(|| format!("seccomp: defaultAction {}", profile.default_action()))?;
    if profile.default_action() == Action::ScmpActNotify {
        // Every syscall, the runtime's own included, would wait for an agent.
        bail!("seccomp: SCMP_ACT_NOTIFY cannot be the default action");
    }

    let rules = (profile.syscalls().iter().flatten().enumerate())
        .map(|(i, syscall)| {
            rule(syscall).ctx(|| format!("seccomp: syscalls[{i}] (names {:?})", syscall.names()))
        })
        .collect::<Result<Vec<_>>>()?;
    let notify = rules.iter().any(|r| r.ret == libc::SECCOMP_RET_USER_NOTIF);

    let arches = profile.architectures().as_deref().unwrap_or_default();
    let listed = |abi: &Abi| arches.contains(&abi.arch);
    // Default-deny profiles get ENOSYS above their highest syscall (see top).
    let permissive = matches!(
        profile.default_action(),
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
    );
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let above = if permissive { default } else { enosys };
    let tree = |abi: &Abi| abi_tree(abi, &rules, default, above);

    let (native_arch, native_abi) = &host.native;
    let native = tree(native_abi)?;
    let mut section = vec![stmt(LD_W_ABS, DATA_NR)];
    match &host.x32 {
        // x86_64: numbers with the x32 bit are x32 syscalls. Negative ones
        // (libseccomp: bad arch) get the x86_64 leaf past the highest
        // syscall, as the kernel only answers them with ENOSYS.
        Some(x32_abi) => {
            let x32 = if listed(x32_abi) {
                tree(x32_abi)?
            } else {
                Vec::new()
            };
            section.push(jump(JMP_JGE_K, 0x8000_0000, 2, 0));
            section.push(jump(JMP_JGE_K, X32_SYSCALL_BIT, 0, 1));
            section.push(if x32.is_empty() {
                ret(BAD_ARCH)
            } else {
                stmt(JMP_JA, len(&native))
            });
            section.extend(native);
            section.extend(x32);
        }
        None => section.extend(native),
    }

    let mut program = vec![stmt(LD_W_ABS, DATA_ARCH)];
    let (compat_arch, compat_abi) = &host.compat;
    let compat = if listed(compat_abi) {
        tree(compat_abi)?
    } else {
        Vec::new()
    };
    if !compat.is_empty() {
        program.push(jump(JMP_JEQ_K, *compat_arch, 0, 1));
        program.push(stmt(JMP_JA, len(&section) + 2));
    }
    program.push(jump(JMP_JEQ_K, *native_arch, 1, 0));
    program.push(ret(BAD_ARCH));
    program.extend(section);
    if !compat.is_empty() {
        program.push(stmt(LD_W_ABS, DATA_NR));
        program.extend(compat);
    }
    if program.len() > libc::BPF_MAXINSNS as usize {
        bail!(
            "seccomp: filter too large ({} BPF instructions, the kernel allows {})",
            program.len(),
            libc::BPF_MAXINSNS
        );
    }

    let flags =
        (profile.flags().iter().flatten()).fold(0, |acc, flag| acc | flag_bits(*flag, notify));
    Ok(Filter {
        program,
        flags,
        notify,
    })
}

/// The `SECCOMP_FILTER_FLAG_*` bits of a profile flag (0: not applied).
fn flag_bits(flag: Flag, notify: bool) -> u32 {
    (match flag {
        Flag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
        Flag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
        Flag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
        // Only means something with a listener; the kernel rejects it without.
        Flag::SeccompFilterFlagWaitKillableRecv if notify => {
            libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        }
        Flag::SeccompFilterFlagWaitKillableRecv => 0,
    }) as u32
}

/// The x86_64 number of a syscall name, as [`compile`] finds it (the
/// fuzz target's oracle needs it).
#[doc(hidden)]
#[cfg(target_arch = "x86_64")]
pub fn x86_64_number(name: &str) -> Option<u32> {
    X86_64_HOST.native.1.number(name)
}

/// Every OCI seccomp action; [`action`] maps each one.
const ACTIONS: [Action; 9] = [
    Action::ScmpActAllow,
    Action::ScmpActErrno,
    Action::ScmpActKill,
    Action::ScmpActKillProcess,
    Action::ScmpActKillThread,
    Action::ScmpActLog,
    Action::ScmpActNotify,
    Action::ScmpActTrace,
    Action::ScmpActTrap,
];

/// The actions a profile may use (`hull features`).
pub fn supported_actions() -> Vec<Action> {
    (ACTIONS.into_iter())
        .filter(|a| action(*a, None).is_ok())
        .collect()
}

/// Every comparison [`condition`] translates.
pub const OPERATORS: [Op; 7] = [
    Op::ScmpCmpEq,
    Op::ScmpCmpGe,
    Op::ScmpCmpGt,
    Op::ScmpCmpLe,
    Op::ScmpCmpLt,
    Op::ScmpCmpMaskedEq,
    Op::ScmpCmpNe,
];

/// The ABIs [`compile`] builds sections for on this host: x86_64 always,
/// i386 and x32 when listed; aarch64 always, arm when listed. Other
/// architectures in a profile are ignored (they never reach this kernel).
pub fn archs() -> Vec<Arch> {
    HOST.map(Host::archs).unwrap_or_default()
}

/// Every profile flag [`compile`] recognises.
pub const KNOWN_FLAGS: [Flag; 4] = [
    Flag::SeccompFilterFlagTsync,
    Flag::SeccompFilterFlagLog,
    Flag::SeccompFilterFlagSpecAllow,
    Flag::SeccompFilterFlagWaitKillableRecv,
];

/// The known flags this kernel accepts: a filter-less
/// SECCOMP_SET_MODE_FILTER fails with EFAULT (not EINVAL) when the flags
/// are valid, and installs nothing. WAIT_KILLABLE_RECV is only valid (and
/// only passed on) with a listener.
pub fn supported_flags() -> Vec<Flag> {
    (KNOWN_FLAGS.into_iter())
        .filter(|f| {
            let mut bits = flag_bits(*f, true);
            if *f == Flag::SeccompFilterFlagWaitKillableRecv {
                bits |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
            }
            let rc = crate::sys::seccomp_set_mode_filter(libc::c_ulong::from(bits), None);
            bits != 0 && rc == Err(Errno::EFAULT)
        })
        .collect()
}

/// Load `filter` for the calling thread (all threads with TSYNC). The caller
/// must have set no_new_privs or hold CAP_SYS_ADMIN. Returns the user
/// notification listener when the filter has SCMP_ACT_NOTIFY rules.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>> {
    let mut flags = libc::c_ulong::from(filter.flags);
    if filter.notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // The kernel refuses TSYNC with a listener unless TSYNC failures
        // are reported as ESRCH (the return value is taken by the fd).
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.program.len())
            .map_err(|_| Error::new("seccomp: filter too large"))?,
        // seccompiler's sock_filter has the kernel's layout (repr(C)).
        filter: filter.program.as_ptr() as *mut libc::sock_filter,
    };
    let rc =
        crate::sys::seccomp_set_mode_filter(flags, Some(&prog)).ctx(|| "seccomp: load filter")?;
    if filter.notify {
        // SAFETY: with NEW_LISTENER the kernel returns a new fd we now own.
        return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as i32) }));
    }
    if rc > 0 {
        bail!("seccomp: load filter: thread {rc} could not be synchronized");
    }
    Ok(None)
}

fn rule(syscall: &LinuxSyscall) -> Result<Rule<'_>> {
    if syscall.names().is_empty() {
        bail!("names is empty");
    }
    Ok(Rule {
        names: syscall.names(),
        ret: action(syscall.action(), syscall.errno_ret())?,
        alternatives: alternatives(syscall.args().as_deref().unwrap_or_default())?,
    })
}

/// The seccomp return value of an OCI action.
fn action(act: Action, errno_ret: Option<u32>) -> Result<u32> {
    let data = || match errno_ret.unwrap_or(libc::EPERM as u32) {
        e if e <= libc::SECCOMP_RET_DATA => Ok(e),
        e => bail!("errnoRet {e} does not fit in 16 bits"),
    };
    Ok(match act {
        Action::ScmpActErrno => libc::SECCOMP_RET_ERRNO | data()?,
        Action::ScmpActTrace => libc::SECCOMP_RET_TRACE | data()?,
        // The spec requires failing when an action cannot carry an errno.
        _ if errno_ret.is_some() => {
            bail!("errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE")
        }
        Action::ScmpActKill | Action::ScmpActKillThread => libc::SECCOMP_RET_KILL_THREAD,
        Action::ScmpActKillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        Action::ScmpActTrap => libc::SECCOMP_RET_TRAP,
        Action::ScmpActNotify => libc::SECCOMP_RET_USER_NOTIF,
        Action::ScmpActLog => libc::SECCOMP_RET_LOG,
        Action::ScmpActAllow => libc::SECCOMP_RET_ALLOW,
    })
}

/// Validate a rule's args and group them like runc: all ANDed, or each on
/// its own when an argument index repeats (libseccomp cannot AND two checks
/// of one argument).
fn alternatives(args: &[LinuxSeccompArg]) -> Result<Vec<Vec<LinuxSeccompArg>>> {
    let mut seen = [false; 6];
    let mut repeated = false;
    for (i, arg) in args.iter().enumerate() {
        let Some(slot) = seen.get_mut(arg.index()) else {
            bail!("args[{i}]: index {} out of range", arg.index());
        };
        repeated |= std::mem::replace(slot, true);
    }
    Ok(match args {
        [] => Vec::new(),
        _ if repeated => args.iter().map(|a| vec![*a]).collect(),
        _ => vec![args.to_vec()],
    })
}

/// One comparison as seccompiler's condition, or `None` when it can never
/// hold (MASKED_EQ expecting bits outside its mask), which drops its rule.
fn condition(arg: &LinuxSeccompArg, arg_len: &ArgLen) -> Option<SeccompCondition> {
    let width = match arg_len {
        ArgLen::Dword => u64::from(u32::MAX),
        ArgLen::Qword => u64::MAX,
    };
    let (op, value) = match arg.op() {
        Op::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        Op::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        Op::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        Op::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        Op::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        Op::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        // libseccomp: (arg & value) == valueTwo. seccompiler masks both sides,
        // so the unmatchable case has to be caught here.
        Op::ScmpCmpMaskedEq => {
            let (mask, want) = (arg.value() & width, arg.value_two().unwrap_or(0) & width);
            if want & !mask != 0 {
                return None;
            }
            (SeccompCmpOp::MaskedEq(mask), want)
        }
    };
    // The index was checked in `alternatives`, the only possible error.
    SeccompCondition::new(arg.index() as u8, arg_len.clone(), op, value).ok()
}

/// The dispatch code of one ABI; expects the syscall number in A.
fn abi_tree(abi: &Abi, rules: &[Rule], default: u32, above: u32) -> Result<BpfProgram> {
    let mut unconditional = BTreeMap::<u32, u32>::new();
    let mut chains = BTreeMap::<u32, Vec<(&[LinuxSeccompArg], u32)>>::new();
    let mut highest = None;
    for rule in rules {
        for nr in rule.names.iter().filter_map(|name| abi.number(name)) {
            highest = highest.max(Some(nr));
            if rule.ret == default || unconditional.contains_key(&nr) {
                continue;
            }
            if rule.alternatives.is_empty() {
                unconditional.insert(nr, rule.ret);
            } else {
                let chain = chains.entry(nr).or_default();
                chain.extend(rule.alternatives.iter().map(|args| (&args[..], rule.ret)));
            }
        }
    }

    let mut leaves = BTreeMap::new();
    for (nr, chain) in chains {
        if unconditional.contains_key(&nr) {
            continue;
        }
        let mut code = Vec::new();
        for (args, ret_value) in chain {
            let conditions: Option<Vec<_>> =
                args.iter().map(|a| condition(a, &abi.arg_len)).collect();
            let Some(conditions) = conditions else {
                continue;
            };
            let rule = SeccompRule::new(conditions)
                .map_err(|e| Error::new(format!("seccomp: syscall {nr}: {e}")))?;
            // The rule falls through on a match and skips one instruction
            // past its end otherwise: what SeccompFilter relies on too.
            code.extend(BpfProgram::from(rule));
            code.push(ret(ret_value));
        }
        code.push(ret(default));
        leaves.insert(nr, code);
    }
    leaves.extend(unconditional.into_iter().map(|(nr, r)| (nr, vec![ret(r)])));

    // Cover every number from the ABI's first: gaps get the default action,
    // numbers past the profile's highest get `above`.
    let mut ranges: Vec<(u32, BpfProgram)> = Vec::new();
    let mut push = |start: u32, code: BpfProgram| match ranges.last() {
        Some((_, last)) if *last == code => {}
        _ => ranges.push((start, code)),
    };
    let mut next = abi.nr_bit;
    for (nr, code) in leaves {
        if nr > next {
            push(next, vec![ret(default)]);
        }
        push(nr, code);
        next = nr + 1;
    }
    if let Some(highest) = highest {
        if highest >= next {
            push(next, vec![ret(default)]);
        }
        next = highest + 1;
    }
    push(
        next,
        vec![ret(if highest.is_some() { above } else { default })],
    );
    Ok(search(&ranges))
}

/// Binary search over `(first number, leaf)` ranges; every leaf ends in a ret.
fn search(ranges: &[(u32, BpfProgram)]) -> BpfProgram {
    if let [(_, leaf)] = ranges {
        return leaf.clone();
    }
    let (low, high) = ranges.split_at(ranges.len() / 2);
    let (low_code, high_code) = (search(low), search(high));
    // nr >= high's first number: skip the low half (long jump if needed).
    let mut code = match u8::try_from(low_code.len()) {
        Ok(skip) => vec![jump(JMP_JGE_K, high[0].0, skip, 0)],
        Err(_) => vec![
            jump(JMP_JGE_K, high[0].0, 0, 1),
            stmt(JMP_JA, len(&low_code)),
        ],
    };
    code.extend(low_code);
    code.extend(high_code);
    code
}

fn len(code: &[sock_filter]) -> u32 {
    code.len() as u32 // programs are at most BPF_MAXINSNS long
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    use serde_json::{Value, json};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The host under test, whose kernel runs the filters.
    const NATIVE: &Host = match HOST {
        Some(host) => host,
        None => unreachable!(),
    };
    /// The other supported host, whose filters only the interpreter runs.
    #[cfg(target_arch = "x86_64")]
    const FOREIGN: &Host = &AARCH64_HOST;
    #[cfg(target_arch = "aarch64")]
    const FOREIGN: &Host = &X86_64_HOST;

    fn profile(v: Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    fn compile_json(v: Value) -> Filter {
        compile(&profile(v)).unwrap()
    }

    fn compile_err(v: Value) -> String {
        compile(&profile(v)).unwrap_err().message().to_string()
    }

    /// Raw syscall: `Ok(return value)` or `Err(errno)`.
    fn sys(nr: libc::c_long, args: &[u64]) -> std::result::Result<i64, i32> {
        let a = |i: usize| args.get(i).copied().unwrap_or(0);
        // SAFETY: tests only pass arguments that are valid for `nr`.
        let r = unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3), a(4), a(5)) };
        if r == -1 {
            Err(Errno::last() as i32)
        } else {
            Ok(r)
        }
    }

    #[cfg(target_arch = "x86_64")]
    /// i386 syscall through `int 0x80` (no arguments): the result or -errno.
    fn int80(nr: u32) -> i32 {
        let ret: i32;
        // SAFETY: an argument-less i386 syscall; the kernel preserves every
        // register but eax (r8-r11 are declared clobbered to be safe).
        unsafe {
            std::arch::asm!("int 0x80", inlateout("eax") nr as i32 => ret,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _)
        };
        ret
    }

    fn getcwd() -> std::result::Result<i64, i32> {
        let mut buf = [0u8; 4096];
        sys(
            libc::SYS_getcwd,
            &[buf.as_mut_ptr() as u64, buf.len() as u64],
        )
    }

    /// 0 when every check holds, else the 1-based number of the first failing one.
    fn first_failure(checks: &[bool]) -> i32 {
        checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
    }

    /// Fork; the child exits with `body`'s code.
    fn in_child(body: impl FnOnce() -> i32) -> WaitStatus {
        // SAFETY: the child only makes syscalls and exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
                // SAFETY: leave without running the test harness's cleanup.
                unsafe { libc::_exit(code.unwrap_or(98)) }
            }
            ForkResult::Parent { child } => waitpid(child, None).unwrap(),
        }
    }

    /// Fork; the child loads `filter` and exits with `body`'s code.
    fn run(filter: &Filter, body: impl FnOnce(Option<OwnedFd>) -> i32) -> WaitStatus {
        in_child(|| {
            // SIGSYS dumps core by default: keep the test tree clean.
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: plain syscalls on valid arguments.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            }
            match load(filter) {
                Ok(fd) => body(fd),
                Err(_) => 99,
            }
        })
    }

    #[cfg(target_arch = "x86_64")]
    /// Can this process make i386 syscalls? (A kernel without ia32
    /// emulation answers `int 0x80` with SIGSEGV.)
    fn ia32_available() -> bool {
        let getpid32 = X86_64_HOST.compat.1.number("getpid").unwrap();
        let ok = matches!(
            in_child(|| (int80(getpid32) <= 0) as i32),
            WaitStatus::Exited(_, 0)
        );
        if !ok {
            println!("note: no ia32 emulation, skipping the int 0x80 checks");
        }
        ok
    }

    /// A check that getpid through the compat ABI succeeds, where this test
    /// can make such calls (x86_64 with ia32 emulation: `int 0x80`); the
    /// interpreter's tests cover arm's.
    fn compat_getpid_works() -> impl Fn() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let ia32 = ia32_available();
            let getpid32 = X86_64_HOST.compat.1.number("getpid").unwrap();
            move || !ia32 || int80(getpid32) > 0
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            || true
        }
    }

    fn assert_ok(status: WaitStatus) {
        assert!(
            matches!(status, WaitStatus::Exited(_, 0)),
            "child: {status:?}"
        );
    }

    fn assert_sigsys(status: WaitStatus) {
        assert!(
            matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)),
            "child: {status:?}"
        );
    }

    fn allow_with(rules: Value) -> Filter {
        compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}))
    }

    #[test]
    fn errors_name_the_rule() {
        let rules = json!([
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]},
        ]);
        assert_eq!(
            compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})),
            r#"seccomp: syscalls[1] (names ["getcwd"]): args[0]: index 7 out of range"#
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}));
        assert!(
            err.contains("syscalls[0]") && err.contains("errnoRet is only valid"),
            "{err}"
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}));
        assert!(
            err.starts_with("seccomp: defaultAction SCMP_ACT_KILL: errnoRet"),
            "{err}"
        );
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}));
        assert!(err.contains("does not fit"), "{err}");
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [], "action": "SCMP_ACT_ERRNO"}]}));
        assert!(err.ends_with("names is empty"), "{err}");
        let err = compile_err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
        assert!(err.contains("cannot be the default"), "{err}");
    }

    #[test]
    fn compiles_small_profiles() {
        let base = allow_with(json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]));
        assert_eq!(base.program[0], stmt(LD_W_ABS, DATA_ARCH));
        assert!(base.program.len() < 20, "{}", base.program.len());
        assert!(
            base.program
                .contains(&ret(libc::SECCOMP_RET_ERRNO | libc::EPERM as u32))
        );
        assert_eq!((base.flags, base.notify), (0, false));
        // Unknown names and rules repeating the default action change nothing.
        let same = allow_with(json!([
            {"names": ["getcwd", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
        ]));
        assert_eq!(same.program, base.program);
        // Foreign architectures are ignored; the compat ABI adds a section.
        let arches = |a: Vec<Arch>| {
            compile_json(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": a,
                "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]}),
            )
        };
        assert_eq!(arches(FOREIGN.archs()).program, base.program);
        let (compat_arch, compat) = &NATIVE.compat;
        let with_compat = arches(vec![NATIVE.native.1.arch, compat.arch]).program;
        assert!(with_compat.contains(&jump(JMP_JEQ_K, *compat_arch, 0, 1)));
        let flags = compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
            "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}));
        let want = libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            | libc::SECCOMP_FILTER_FLAG_TSYNC;
        assert_eq!(u64::from(flags.flags), want);
    }

    #[test]
    fn syscall_tables_are_sorted() {
        let tables = [
            syscalls::X86_64,
            syscalls::I386,
            syscalls::X32,
            syscalls::AARCH64,
            syscalls::ARM,
        ];
        for table in tables {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
        }
        assert_eq!(
            NATIVE.native.1.number("getcwd"),
            Some(libc::SYS_getcwd as u32)
        );
        let (x86, aarch64) = (&X86_64_HOST, &AARCH64_HOST);
        assert_eq!(x86.native.1.number("getcwd"), Some(79));
        assert_eq!(x86.compat.1.number("getpid"), Some(20));
        let x32 = x86.x32.as_ref().unwrap();
        assert_eq!(x32.number("getpid"), Some(39 | X32_SYSCALL_BIT));
        assert_eq!(aarch64.native.1.number("getcwd"), Some(17));
        assert_eq!(aarch64.native.1.number("open"), None);
        assert_eq!(aarch64.compat.1.number("getpid"), Some(20));
        assert_eq!(aarch64.compat.1.number("set_tls"), Some(0x0f_0005));
    }

    #[test]
    fn default_errno_and_enosys_above_the_profile() {
        let filter = compile_json(json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": libc::EXDEV,
            "syscalls": [{"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_ok(run(&filter, |_| {
            first_failure(&[
                getcwd() == Err(libc::EXDEV),
                // fsync (74; 82 on aarch64) is below exit_group.
                sys(libc::SYS_fsync, &[u64::MAX]) == Err(libc::EXDEV),
                // getrandom is past exit_group, the highest named (318 and
                // 231 on x86_64, 278 and 94 on aarch64).
                sys(libc::SYS_getrandom, &[0, 0, 0]) == Err(libc::ENOSYS),
            ])
        }));
        let filter = compile_json(json!({"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_ok(run(&filter, |_| {
            first_failure(&[getcwd() == Err(libc::EPERM)])
        }));
    }

    #[test]
    fn rule_errno() {
        let filter = allow_with(json!([
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EXDEV},
            {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"},
        ]));
        let dir = c"seccomp-test-dir".as_ptr() as u64;
        assert_ok(run(&filter, |_| {
            first_failure(&[
                getcwd() == Err(libc::EXDEV),
                sys(libc::SYS_mkdirat, &[u64::MAX, dir, 0o700]) == Err(libc::EPERM),
                sys(libc::SYS_getpid, &[]).is_ok(),
                sys(libc::SYS_unshare, &[0]) == Ok(0),
            ])
        }));
    }

    #[test]
    fn argument_operators() {
        // Syscalls that ignore their arguments, one per operator; a match
        // returns the errno 100 + operator number.
        let rule = |name: &str, errno: u32, index: u32, op: &str, value: u64, two: u64| {
            json!({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": errno,
                "args": [{"index": index, "value": value, "valueTwo": two, "op": op}]})
        };
        let filter = allow_with(json!([
            rule("getpid", 101, 1, "SCMP_CMP_EQ", 0x1_0000_0005, 0),
            rule("getppid", 102, 0, "SCMP_CMP_NE", 7, 0),
            rule("getuid", 103, 2, "SCMP_CMP_LT", 0x1_0000_0000, 0),
            rule("getgid", 104, 0, "SCMP_CMP_LE", 10, 0),
            rule("geteuid", 105, 3, "SCMP_CMP_GT", 10, 0),
            rule("getegid", 106, 4, "SCMP_CMP_GE", 1 << 33, 0),
            rule(
                "gettid",
                107,
                5,
                "SCMP_CMP_MASKED_EQ",
                0xff00_0000_00f0,
                0x1200_0000_0030
            ),
            // valueTwo outside the mask: can never match.
            rule("sched_yield", 108, 0, "SCMP_CMP_MASKED_EQ", 0xf0, 0x0f),
        ]));
        let hit = |nr, args: &[u64], errno| sys(nr, args) == Err(errno);
        let miss = |nr, args: &[u64]| sys(nr, args).is_ok();
        use libc::{
            SYS_getegid as EGID, SYS_geteuid as EUID, SYS_getgid as GID, SYS_getpid as PID,
            SYS_getppid as PPID, SYS_gettid as TID, SYS_getuid as UID, SYS_sched_yield as YIELD,
        };
        assert_ok(run(&filter, |_| {
            first_failure(&[
                hit(PID, &[0, 0x1_0000_0005], 101),
                miss(PID, &[0, 5]),
                miss(PID, &[0x1_0000_0005, 0]),
                miss(PPID, &[7]),
                hit(PPID, &[8], 102),
                hit(PPID, &[7 | 1 << 32], 102),
                hit(UID, &[0, 0, 0xffff_ffff], 103),
                miss(UID, &[0, 0, 0x1_0000_0000]),
                hit(GID, &[10], 104),
                miss(GID, &[11]),
                miss(GID, &[1 << 32]),
                hit(EUID, &[0, 0, 0, 11], 105),
                hit(EUID, &[0, 0, 0, 1 << 40], 105),
                miss(EUID, &[0, 0, 0, 10]),
                hit(EGID, &[0, 0, 0, 0, 1 << 33], 106),
                miss(EGID, &[0, 0, 0, 0, (1 << 33) - 1]),
                hit(TID, &[0, 0, 0, 0, 0, 0x1200_0000_0031], 107),
                hit(TID, &[0, 0, 0, 0, 0, 0x12ab_ffff_ff3f], 107),
                miss(TID, &[0, 0, 0, 0, 0, 0x1200_0000_0040]),
                miss(TID, &[0, 0, 0, 0, 0, 0x1300_0000_0030]),
                miss(YIELD, &[0x0f]),
                miss(YIELD, &[0xff]),
            ])
        }));
    }

    #[test]
    fn args_and_rules_or() {
        let filter = allow_with(json!([
            // Two args: ANDed.
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 101, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            // Rules of one syscall: ORed, first match wins.
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 102, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 103, "args": [
                {"index": 1, "value": 5, "op": "SCMP_CMP_EQ"}]},
            // The same argument twice: each its own rule (runc).
            {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 104, "args": [
                {"index": 0, "value": 3, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 4, "op": "SCMP_CMP_EQ"}]},
            // An unconditional rule overrides conditional ones (libseccomp).
            {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 105, "args": [
                {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 106},
            {"names": ["getgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 107},
        ]));
        use libc::{SYS_getgid as GID, SYS_getpid as PID, SYS_getppid as PPID, SYS_getuid as UID};
        assert_ok(run(&filter, |_| {
            first_failure(&[
                sys(PID, &[1, 2]) == Err(101),
                sys(PID, &[1, 3]).is_ok(),
                sys(PID, &[0, 2]).is_ok(),
                sys(PPID, &[1, 0]) == Err(102),
                sys(PPID, &[0, 5]) == Err(103),
                sys(PPID, &[1, 5]) == Err(102),
                sys(PPID, &[0, 0]).is_ok(),
                sys(UID, &[3]) == Err(104),
                sys(UID, &[4]) == Err(104),
                sys(UID, &[5]).is_ok(),
                sys(GID, &[1]) == Err(106),
                sys(GID, &[0]) == Err(106),
            ])
        }));
    }

    #[test]
    fn kill_actions() {
        for action in [
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_KILL",
        ] {
            let filter = allow_with(json!([{"names": ["getcwd"], "action": action}]));
            assert_sigsys(run(&filter, |_| {
                let _ = getcwd();
                1
            }));
        }
    }

    #[test]
    fn trap_trace_and_log() {
        static TRAPPED: AtomicBool = AtomicBool::new(false);
        extern "C" fn on_sigsys(_: libc::c_int) {
            TRAPPED.store(true, Ordering::SeqCst);
        }
        let filter = allow_with(json!([{"names": ["getcwd"], "action": "SCMP_ACT_TRAP"}]));
        assert_ok(run(&filter, |_| {
            // SAFETY: installs an async-signal-safe handler.
            unsafe { libc::signal(libc::SIGSYS, on_sigsys as *const () as libc::sighandler_t) };
            let _ = getcwd();
            first_failure(&[TRAPPED.load(Ordering::SeqCst)])
        }));
        // Without a tracer, TRACE fails the syscall with ENOSYS.
        let filter = allow_with(json!([
            {"names": ["getcwd"], "action": "SCMP_ACT_TRACE", "errnoRet": 7},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
        ]));
        let trace = libc::SECCOMP_RET_TRACE | 7;
        assert!(filter.program.contains(&ret(trace)));
        assert!(filter.program.contains(&ret(libc::SECCOMP_RET_LOG)));
        assert_ok(run(&filter, |_| {
            first_failure(&[
                getcwd() == Err(libc::ENOSYS),
                sys(libc::SYS_getpid, &[]).is_ok(),
            ])
        }));
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn compat_abis() {
        let getpid32 = X86_64_HOST.compat.1.number("getpid").unwrap();
        let x32 = X86_64_HOST.x32.as_ref().unwrap();
        let getpid_x32 = x32.number("getpid").unwrap() as libc::c_long;
        let ia32 = ia32_available();
        let all = compile_json(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123}]}));
        assert_ok(run(&all, |_| {
            first_failure(&[
                sys(libc::SYS_getpid, &[]) == Err(123),
                !ia32 || int80(getpid32) == -123,
                sys(getpid_x32, &[]) == Err(123),
                // Not x32 but a bogus number: the default action, not BAD_ARCH.
                sys(-1, &[]) == Err(libc::ENOSYS),
            ])
        }));
        // Only the native ABI: the others are killed.
        let native = allow_with(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]));
        assert_sigsys(run(&native, |_| {
            let _ = sys(getpid_x32, &[]);
            1
        }));
        if ia32 {
            assert_sigsys(run(&native, |_| {
                int80(getpid32);
                1
            }));
        }
    }

    #[test]
    fn notify_returns_a_listener() {
        let filter = allow_with(json!([{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]));
        assert!(filter.notify);
        assert_ok(run(&filter, |fd| {
            let Some(fd) = fd else { return 11 };
            let fd = std::os::fd::AsRawFd::as_raw_fd(&fd);
            // A grandchild makes the call; this process answers it with 42.
            // SAFETY: the grandchild only makes syscalls and exits.
            let child = match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    let ok = sys(libc::SYS_getppid, &[]) == Ok(42);
                    // SAFETY: exit without unwinding.
                    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
                }
                Ok(ForkResult::Parent { child }) => child,
                Err(_) => return 12,
            };
            // SAFETY: zeroed plain-data structs, as the kernel requires.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: `req` is the struct this ioctl fills in.
            if unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
                return 13;
            }
            let resp = libc::seccomp_notif_resp {
                id: req.id,
                val: 42,
                error: 0,
                flags: 0,
            };
            // SAFETY: `resp` is the struct this ioctl reads.
            let sent = unsafe { libc::ioctl(fd, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) } == 0;
            let exited = matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0)));
            first_failure(&[req.data.nr == libc::SYS_getppid as i32, sent, exited])
        }));
    }

    /// A Docker/podman-format profile resolved the way engines write it into
    /// config.json: for `host` (amd64 or arm64, as Go names them) and
    /// podman's default capabilities.
    fn engine_profile(text: &str, host: &Host) -> LinuxSeccomp {
        const CAPS: &[&str] = &[
            "CAP_CHOWN",
            "CAP_DAC_OVERRIDE",
            "CAP_FOWNER",
            "CAP_FSETID",
            "CAP_KILL",
            "CAP_NET_BIND_SERVICE",
            "CAP_SETFCAP",
            "CAP_SETGID",
            "CAP_SETPCAP",
            "CAP_SETUID",
            "CAP_SYS_CHROOT",
        ];
        let native = serde_json::to_value(host.native.1.arch).unwrap();
        let goarch = match host.native.1.arch {
            Arch::ScmpArchAarch64 => "arm64",
            _ => "amd64",
        };
        let v: Value = serde_json::from_str(text).unwrap();
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str())
                .map(Into::into)
                .collect()
        };
        let any_of = |list: &Value, set: &[&str]| strings(list).iter().any(|s| set.contains(&&**s));
        let applies = |rule: &&Value| {
            let (inc, exc) = (&rule["includes"], &rule["excludes"]);
            strings(&inc["caps"]).iter().all(|c| CAPS.contains(&&**c))
                && (inc["arches"].is_null() || any_of(&inc["arches"], &[goarch]))
                && !any_of(&exc["caps"], CAPS)
                && !any_of(&exc["arches"], &[goarch])
        };
        let syscalls: Vec<&Value> = v["syscalls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(applies)
            .collect();
        let mut arches = v["archMap"].as_array().unwrap().iter();
        let entry = arches.find(|a| a["architecture"] == native).unwrap();
        let mut architectures = vec![entry["architecture"].clone()];
        architectures.extend(
            entry["subArchitectures"]
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        profile(json!({"defaultAction": v["defaultAction"],
            "defaultErrnoRet": v["defaultErrnoRet"], "architectures": architectures,
            "syscalls": syscalls}))
    }

    #[test]
    fn podman_default_profile() {
        let path = "/usr/share/containers/seccomp.json";
        let Ok(text) = std::fs::read_to_string(path) else {
            println!("note: {path} is missing (containers-common), skipping");
            return;
        };
        let filter = compile(&engine_profile(&text, NATIVE)).unwrap();
        println!("podman profile: {} BPF instructions", filter.program.len());
        let compat_getpid = compat_getpid_works();
        assert_ok(run(&filter, |_| {
            let (netlink, raw, audit) = (libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 9);
            let unix_socket = sys(libc::SYS_socket, &[libc::AF_UNIX as u64, 1, 0]);
            first_failure(&[
                sys(libc::SYS_getpid, &[]).is_ok(),
                getcwd().is_ok(),
                sys(libc::SYS_kexec_load, &[0, 0, 0, 0]) == Err(libc::EPERM),
                sys(libc::SYS_acct, &[0]) == Err(libc::EPERM),
                // Not in the profile: podman's defaultErrnoRet, ENOSYS.
                sys(libc::SYS_add_key, &[0, 0, 0, 0, 0]) == Err(libc::ENOSYS),
                sys(libc::SYS_socket, &[netlink, raw, audit]) == Err(libc::EINVAL),
                unix_socket.is_ok(),
                // Allowed first, denied (for lack of CAP_SYS_ADMIN) later:
                // the first unconditional rule wins, as with libseccomp.
                sys(libc::SYS_setns, &[u64::MAX, 0]) == Err(libc::EBADF),
                compat_getpid(),
            ])
        }));
    }

    #[test]
    fn docker_style_profile() {
        // Docker's format: includes/excludes resolved by the engine.
        let text = json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "archMap": [
                {"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
            "syscalls": [
                {"names": ["exit", "exit_group", "getpid", "wait4", "rt_sigprocmask",
                    "set_robust_list", "brk", "mmap", "munmap", "madvise", "futex"],
                 "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone", "clone3", "mount", "unshare"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "op": "SCMP_CMP_MASKED_EQ"}],
                 "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"arches": ["amd64", "x32"]}},
                {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW",
                 "includes": {"arches": ["arm", "arm64"]}},
            ]
        });
        let filter = compile(&engine_profile(&text.to_string(), NATIVE)).unwrap();
        let compat_getpid = compat_getpid_works();
        let target = c"/tmp".as_ptr() as u64;
        let newns = (libc::CLONE_NEWNS | libc::SIGCHLD) as u64;
        let futex_waitv = NATIVE.native.1.number("futex_waitv").unwrap().into();
        assert_ok(run(&filter, |_| {
            // A plain fork as clone(SIGCHLD), what the profile allows
            // (musl's fork(3) makes the fork system call instead); the
            // grandchild only exits.
            let forked = match sys(libc::SYS_clone, &[libc::SIGCHLD as u64]) {
                // SAFETY: leaves at once, running no exit handlers.
                Ok(0) => unsafe { libc::_exit(0) },
                Ok(child) => matches!(
                    waitpid(nix::unistd::Pid::from_raw(child as i32), None),
                    Ok(WaitStatus::Exited(_, 0))
                ),
                Err(_) => false,
            };
            first_failure(&[
                sys(libc::SYS_getpid, &[]).is_ok(),
                sys(libc::SYS_mount, &[0, target, 0, libc::MS_REMOUNT, 0]) == Err(libc::EPERM),
                sys(libc::SYS_unshare, &[0]) == Err(libc::EPERM),
                sys(libc::SYS_clone, &[newns, 0, 0, 0, 0]) == Err(libc::EPERM),
                sys(libc::SYS_clone3, &[0, 0]) == Err(libc::ENOSYS),
                forked,
                compat_getpid(),
                // Not named: the default; past the highest named (clone3): ENOSYS.
                sys(libc::SYS_getrandom, &[0, 0, 0]) == Err(libc::EPERM),
                sys(futex_waitv, &[0, 0, 0, 0, 0]) == Err(libc::ENOSYS),
            ])
        }));
    }

    /// What the kernel's classic BPF interpreter returns for `program` on a
    /// `struct seccomp_data` (the opcodes `compile` and seccompiler emit):
    /// the filters of a foreign host run here too.
    fn eval(program: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        // Words: nr, arch, instruction_pointer (2), args (2 each, little endian).
        let mut data = [0u32; 16];
        (data[0], data[1]) = (nr, arch);
        for (i, arg) in args.iter().enumerate() {
            (data[4 + 2 * i], data[5 + 2 * i]) = (*arg as u32, (*arg >> 32) as u32);
        }
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let insn = &program[pc];
            pc += 1;
            let branch = |hit: bool| usize::from(if hit { insn.jt } else { insn.jf });
            match insn.code {
                LD_W_ABS => a = data[insn.k as usize / 4],
                0x54 => a &= insn.k, // ALU AND K
                JMP_JA => pc += insn.k as usize,
                JMP_JEQ_K => pc += branch(a == insn.k),
                0x25 => pc += branch(a > insn.k), // JGT K
                JMP_JGE_K => pc += branch(a >= insn.k),
                RET_K => return insn.k,
                code => panic!("opcode {code:#x} at {}", pc - 1),
            }
        }
    }

    const ERRNO: u32 = libc::SECCOMP_RET_ERRNO;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;

    #[test]
    fn aarch64_sections() {
        let host = &AARCH64_HOST;
        let (getpid, arm_getpid, arm_set_tls) = (172, 20, 0x0f_0005);
        let filter = |arches: Value| {
            let p = profile(
                json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": arches,
                "syscalls": [
                    {"names": ["getpid", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7, "args": [
                        {"index": 1, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_EQ"}]}]}),
            );
            compile_for(host, &p).unwrap().program
        };
        let both = filter(json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]));
        let run = |arch, nr, arg1| eval(&both, arch, nr, [0, arg1, 0, 0, 0, 0]);
        let (native, arm) = (AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM);
        let eperm = ERRNO | libc::EPERM as u32;
        assert_eq!(run(native, getpid, 0), ALLOW);
        assert_eq!(run(native, 17, 0), eperm); // getcwd
        // getppid's 64-bit argument compared whole; arm's low half only.
        assert_eq!(run(native, 173, 0x1_0000_0005), ERRNO | 7);
        assert_eq!(run(native, 173, 5), eperm);
        assert_eq!(run(arm, 64, 5), ERRNO | 7);
        // set_tls is arm's alone (aarch64 has no such call).
        assert_eq!(run(arm, arm_set_tls, 0), ALLOW);
        assert_eq!(run(arm, arm_getpid, 0), ALLOW);
        assert_eq!(run(arm, 0x0f_0002, 0), eperm); // cacheflush
        // Past the highest named syscall (getppid, 173): ENOSYS, so newer
        // libcs fall back.
        let enosys = ERRNO | libc::ENOSYS as u32;
        assert_eq!(run(native, 435, 0), enosys); // clone3
        assert_eq!(run(native, u32::MAX, 0), enosys);
        // No x32 bit here: a number with it is just past the table.
        assert_eq!(run(native, X32_SYSCALL_BIT | 172, 0), enosys);
        // Other architectures, and arm when not listed: BAD_ARCH.
        assert_eq!(run(AUDIT_ARCH_X86_64, 39, 0), BAD_ARCH);
        assert_eq!(run(AUDIT_ARCH_I386, 20, 0), BAD_ARCH);
        let native_only = filter(json!(["SCMP_ARCH_AARCH64"]));
        assert_eq!(eval(&native_only, native, getpid, [0; 6]), ALLOW);
        assert_eq!(eval(&native_only, arm, arm_getpid, [0; 6]), BAD_ARCH);
        // x86 names in an aarch64 profile: the x86 ABIs are ignored.
        assert_eq!(
            filter(json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_X86_64"])),
            native_only
        );
    }

    /// The host under test's filters agree with the interpreter, so what it
    /// says of the other host's can be trusted.
    #[test]
    fn interpreter_matches_the_kernel() {
        let filter = allow_with(json!([
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9, "args": [
                {"index": 0, "value": 0xf0, "valueTwo": 0x30, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 10, "args": [
                {"index": 2, "value": 1u64 << 40, "op": "SCMP_CMP_GT"}]}]));
        let arch = NATIVE.native.0;
        let cases: [(libc::c_long, [u64; 6]); 5] = [
            (libc::SYS_getppid, [0x31, 0, 0, 0, 0, 0]),
            (libc::SYS_getppid, [0x41, 0, 0, 0, 0, 0]),
            (libc::SYS_getuid, [0, 0, (1 << 40) + 1, 0, 0, 0]),
            (libc::SYS_getuid, [0, 0, 1 << 40, 0, 0, 0]),
            (libc::SYS_getpid, [0; 6]),
        ];
        for (nr, args) in cases {
            let want = match eval(&filter.program, arch, nr as u32, args) {
                ALLOW => Ok(()),
                r => Err((r & libc::SECCOMP_RET_DATA) as i32),
            };
            assert_ok(run(&filter, |_| {
                first_failure(&[sys(nr, &args).map(drop) == want])
            }));
        }
    }

    /// Podman's own profile as podman resolves it on an arm64 host, run by
    /// the interpreter (its kernel run on arm64 is `podman_default_profile`).
    #[test]
    fn podman_profile_on_aarch64() {
        let path = "/usr/share/containers/seccomp.json";
        let Ok(text) = std::fs::read_to_string(path) else {
            println!("note: {path} is missing (containers-common), skipping");
            return;
        };
        let p = engine_profile(&text, &AARCH64_HOST);
        let names = p.architectures().clone().unwrap_or_default();
        assert_eq!(names, [Arch::ScmpArchAarch64, Arch::ScmpArchArm]);
        let program = compile_for(&AARCH64_HOST, &p).unwrap().program;
        println!(
            "podman profile, aarch64: {} BPF instructions",
            program.len()
        );
        let native = |nr, args| eval(&program, AUDIT_ARCH_AARCH64, nr, args);
        let (netlink, raw, audit) = (libc::AF_NETLINK as u64, libc::SOCK_RAW as u64, 9);
        assert_eq!(native(172, [0; 6]), ALLOW); // getpid
        assert_eq!(native(221, [0; 6]), ALLOW); // execve
        assert_eq!(native(104, [0; 6]), ERRNO | libc::EPERM as u32); // kexec_load
        assert_eq!(native(217, [0; 6]), ERRNO | libc::ENOSYS as u32); // add_key
        assert_eq!(
            native(198, [netlink, raw, audit, 0, 0, 0]),
            ERRNO | libc::EINVAL as u32
        );
        assert_eq!(native(198, [1, 1, 0, 0, 0, 0]), ALLOW); // socket(AF_UNIX)
        assert_eq!(native(268, [0; 6]), ALLOW); // setns
        let arm = |nr| eval(&program, AUDIT_ARCH_ARM, nr, [0; 6]);
        assert_eq!(arm(20), ALLOW); // getpid
        assert_eq!(arm(0x0f_0005), ALLOW); // set_tls
        assert_eq!(arm(347), ERRNO | libc::EPERM as u32); // kexec_load
        assert_eq!(eval(&program, AUDIT_ARCH_X86_64, 39, [0; 6]), BAD_ARCH);
    }

    /// The committed tables are what src/security/syscalls.sh makes of the
    /// kernel headers installed here (linux-libc-dev, and the arm cross
    /// headers that `make deps` installs): the committed ones come from a
    /// newer kernel, which only adds numbers, so every installed name must
    /// be there with the same number.
    #[test]
    fn syscall_tables_match_the_installed_headers() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/security/syscalls.sh");
        let out = std::process::Command::new("bash")
            .args([script, "--list"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            // A machine without the C preprocessor or the headers (the test VM).
            println!("note: syscalls.sh --list failed, skipping: {stderr}");
            return;
        }
        print!("{stderr}");
        let tables = [
            ("X86_64", syscalls::X86_64),
            ("I386", syscalls::I386),
            ("X32", syscalls::X32),
            ("AARCH64", syscalls::AARCH64),
            ("ARM", syscalls::ARM),
        ];
        let mut checked = BTreeMap::<&str, usize>::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let [abi, name, nr] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("{line}");
            };
            let table = tables.iter().find(|(n, _)| *n == abi).unwrap().1;
            let committed = table.iter().find(|(n, _)| *n == name).map(|(_, nr)| *nr);
            assert_eq!(committed, Some(nr.parse().unwrap()), "{abi} {name}");
            *checked
                .entry(tables.iter().find(|(n, _)| *n == abi).unwrap().0)
                .or_default() += 1;
        }
        if checked.is_empty() {
            println!("note: no kernel headers installed (linux-libc-dev), nothing to compare");
        } else {
            println!("syscalls checked against the installed headers: {checked:?}");
        }
    }
}
