//! cgroup v2 device control: v2 has no devices files, the kernel instead
//! runs BPF_PROG_TYPE_CGROUP_DEVICE programs attached to the cgroup. hull
//! writes the program by hand (a few dozen instructions) and uses bpf(2)
//! directly.
//!
//! The program decides like the v1 controller: the last rule that matches
//! a device decides each access bit. Rules are emitted newest first; a
//! matching allow clears its bits from the request (allowing once nothing
//! is left), a matching deny of a still-undecided bit denies. Nothing
//! matching: deny.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nix::errno::Errno;
use nix::libc;

use super::rules::{ALL, Kind, Rule};
use crate::bail;
use crate::error::{Context, Error, Result, errno_text};
use crate::sys::bpf;

/// struct bpf_insn
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes (classes | operations | sources) used below.
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_K: u8 = 0xb4;
const ALU32_MOV_X: u8 = 0xbc;
const JMP_JEQ_K: u8 = 0x15;
const JMP_JNE_K: u8 = 0x55;
const JMP_EXIT: u8 = 0x95;

// Registers: R1 is the context (struct bpf_cgroup_dev_ctx), R0 the verdict.
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// BPF_DEVCG_DEV_*
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// The program for `rules` (in config order).
pub(super) fn program(rules: &[Rule]) -> Result<Vec<Insn>> {
    // bpf_cgroup_dev_ctx: u32 access_type (type low 16 bits, access high
    // 16), u32 major, u32 minor.
    let mut p = vec![
        insn(LDX_MEM_W, TYPE, R1, 0, 0),
        insn(ALU32_AND_K, TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, ACCESS, R1, 0, 0),
        insn(ALU32_RSH_K, ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, MAJOR, R1, 4, 0),
        insn(LDX_MEM_W, MINOR, R1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        // Every conditional jump leaves the block: off is patched to its end.
        let mut block = Vec::new();
        match rule.kind {
            Kind::All => {}
            Kind::Block => block.push(insn(JMP_JNE_K, TYPE, 0, 0, DEV_BLOCK)),
            Kind::Char => block.push(insn(JMP_JNE_K, TYPE, 0, 0, DEV_CHAR)),
        }
        if let Some(major) = rule.major {
            block.push(insn(JMP_JNE_K, MAJOR, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push(insn(JMP_JNE_K, MINOR, 0, 0, minor as i32));
        }
        if rule.allow {
            // access &= ~bits; anything left is decided by older rules.
            block.push(insn(
                ALU32_AND_K,
                ACCESS,
                0,
                0,
                !(rule.access as i32) & ALL as i32,
            ));
            block.push(insn(JMP_JNE_K, ACCESS, 0, 0, 0));
            block.push(insn(ALU32_MOV_K, R0, 0, 0, 1));
        } else {
            // Deny if the request still holds one of these bits.
            block.push(insn(ALU32_MOV_X, R1, ACCESS, 0, 0));
            block.push(insn(ALU32_AND_K, R1, 0, 0, rule.access as i32));
            block.push(insn(JMP_JEQ_K, R1, 0, 0, 0));
            block.push(insn(ALU32_MOV_K, R0, 0, 0, 0));
        }
        block.push(insn(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JMP_JNE_K || ins.code == JMP_JEQ_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(ALU32_MOV_K, R0, 0, 0, 0));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    if p.len() > 4096 {
        bail!("linux.resources.devices: too many rules ({})", rules.len());
    }
    Ok(p)
}

// bpf(2) commands and constants from linux/bpf.h.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

// The parts of union bpf_attr each command reads; the kernel accepts a
// shorter attr and zero-fills the rest.
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct Query {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn owned(fd: i32) -> OwnedFd {
    // SAFETY: bpf(2) just returned this fd to us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn load(insns: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache";
    let mut log = vec![0u8; 64 * 1024];
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..4].copy_from_slice(b"hull");
    match bpf(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            // Load again with the verifier's log, only for the message.
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr).map(owned);
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            bail!(
                "linux.resources.devices: load device BPF program: {}: {}",
                errno_text(e),
                text.trim()
            )
        }
    }
}

/// Ids of the device programs attached directly to the cgroup `dir_fd`.
fn attached(dir_fd: &File) -> std::result::Result<Vec<u32>, Errno> {
    let mut ids = vec![0u32; 64];
    let mut attr = Query {
        target_fd: dir_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

fn open_dir(dir: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .ctx(|| format!("linux.resources.devices: open {}", dir.display()))
}

/// Attach a program for `rules` to the cgroup `dir`, replacing the device
/// programs attached before (ours, from an earlier apply/update). The new
/// one goes in first: while both are attached the kernel requires both to
/// allow, so the switch never opens access.
pub fn apply(dir: &Path, rules: &[Rule]) -> Result<()> {
    let prog = load(&program(rules)?)?;
    let cg = open_dir(dir)?;
    let fail = |what: &str, e: Errno| {
        Error::new(format!(
            "linux.resources.devices: {what} {}: {}",
            dir.display(),
            errno_text(e)
        ))
    };
    let old = attached(&cg).map_err(|e| fail("query device programs of", e))?;
    let mut attr = Attach {
        target_fd: cg.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| fail("attach device program to", e))?;
    for id in old {
        let mut get = GetFdById {
            prog_id: id,
            ..Default::default()
        };
        let old_fd = match bpf(BPF_PROG_GET_FD_BY_ID, &mut get) {
            Ok(fd) => owned(fd),
            Err(Errno::ENOENT) => continue, // already gone
            Err(e) => return Err(fail("open old device program of", e)),
        };
        let mut attr = Attach {
            target_fd: cg.as_raw_fd() as u32,
            attach_bpf_fd: old_fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            attach_flags: 0,
        };
        bpf(BPF_PROG_DETACH, &mut attr).map_err(|e| fail("detach old device program from", e))?;
    }
    Ok(())
}

/// How many device programs are attached to `dir` (tests).
#[cfg(test)]
pub fn attached_count(dir: &Path) -> usize {
    attached(&open_dir(dir).unwrap()).unwrap().len()
}

#[cfg(test)]
mod tests {
    use super::super::rules::{MKNOD, READ, WRITE, parse};
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroup;

    /// Runs the subset of eBPF that `program` emits.
    fn run(p: &[Insn], dev_type: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [dev_type | (access << 16), major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0;
        loop {
            let i = p[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as u32 as u64;
            pc += 1;
            match i.code {
                LDX_MEM_W => r[dst] = ctx[i.off as usize / 4] as u64,
                ALU32_AND_K => r[dst] = (r[dst] as u32 as u64) & imm,
                ALU32_RSH_K => r[dst] = (r[dst] as u32 >> imm) as u64,
                ALU32_MOV_K => r[dst] = imm,
                ALU32_MOV_X => r[dst] = r[src] as u32 as u64,
                JMP_JNE_K if r[dst] != i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JEQ_K if r[dst] == i.imm as i64 as u64 => pc += i.off as usize,
                JMP_JNE_K | JMP_JEQ_K => {}
                JMP_EXIT => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    fn rule(
        allow: bool,
        typ: &str,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        serde_json::from_value(serde_json::json!({
            "allow": allow, "type": typ, "major": major, "minor": minor, "access": access
        }))
        .unwrap()
    }

    #[test]
    fn last_matching_rule_wins_per_bit() {
        let rules = parse(
            &[
                rule(false, "a", None, None, "rwm"),
                rule(true, "c", Some(1), Some(3), "r"),
                rule(true, "c", Some(1), Some(3), "w"),
                rule(true, "c", Some(136), None, "rwm"),
                rule(false, "c", Some(136), Some(7), "w"),
                rule(true, "b", None, None, "m"),
            ],
            "d",
        )
        .unwrap();
        let p = program(&rules).unwrap();
        let (c, b) = (DEV_CHAR as u32, DEV_BLOCK as u32);
        let (r, w, m) = (READ as u32, WRITE as u32, MKNOD as u32);
        assert_eq!(
            run(&p, c, r | w, 1, 3),
            1,
            "r and w granted by separate rules"
        );
        assert_eq!(run(&p, c, m, 1, 3), 0);
        assert_eq!(run(&p, c, r | w, 1, 5), 0, "deny-all default");
        assert_eq!(run(&p, c, r | w, 136, 2), 1);
        assert_eq!(run(&p, c, r, 136, 7), 1);
        assert_eq!(run(&p, c, w, 136, 7), 0, "later deny wins");
        assert_eq!(run(&p, b, m, 8, 0), 1);
        assert_eq!(run(&p, b, r, 8, 0), 0);
    }

    #[test]
    fn allow_all_then_deny() {
        let rules = parse(
            &[
                rule(true, "a", None, None, "rwm"),
                rule(false, "c", Some(1), Some(3), "rwm"),
            ],
            "d",
        )
        .unwrap();
        let p = program(&rules).unwrap();
        assert_eq!(run(&p, DEV_CHAR as u32, READ as u32, 1, 3), 0);
        assert_eq!(run(&p, DEV_CHAR as u32, READ as u32, 1, 5), 1);
        assert_eq!(run(&p, DEV_BLOCK as u32, ALL as u32, 8, 0), 1);
        // No rules at all: nothing is allowed.
        assert_eq!(
            run(&program(&[]).unwrap(), DEV_CHAR as u32, READ as u32, 1, 3),
            0
        );
    }
}
