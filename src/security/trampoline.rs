//! The last exec goes through a tiny sealed in-memory program, so that
//! the container's process never has the host's hull binary as its
//! /proc/self/exe when it runs code the container controls (CVE-2019-5736:
//! a program whose interpreter is `/proc/self/exe`, executed by the runtime,
//! would run hull in the container and let it reopen the binary for
//! writing once hull exits). hull itself is not re-executed: the trampoline
//! is some 80 bytes of machine code (x86_64 or aarch64) that calls
//! execve(argv[1], argv+2, envp) (and on failure says so on stderr and
//! exits 127).
//!
//! If the container's program loops back to /proc/self/exe, it reaches the
//! trampoline (a sealed memfd, nothing of the host's) with fewer than two
//! arguments and exits 127.

use crate::error::{Context, Result};
use nix::libc;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd};

/// The trampoline's machine code, entered with the stack the kernel builds
/// (argc, argv..., NULL, envp..., NULL).
#[cfg(target_arch = "x86_64")]
#[rustfmt::skip]
const X86_64_CODE: &[u8] = &[
    0x48, 0x8b, 0x04, 0x24,             // mov  rax, [rsp]          ; argc
    0x48, 0x83, 0xf8, 0x02,             // cmp  rax, 2
    0x72, 0x16,                         // jb   fail
    0x48, 0x8b, 0x7c, 0x24, 0x08,       // mov  rdi, [rsp+8]        ; argv[0]: the program
    0x48, 0x8d, 0x74, 0x24, 0x10,       // lea  rsi, [rsp+16]       ; &argv[1]: its argv
    0x48, 0x8d, 0x54, 0xc4, 0x10,       // lea  rdx, [rsp+rax*8+16] ; envp
    0xb8, 0x3b, 0x00, 0x00, 0x00,       // mov  eax, 59             ; execve
    0x0f, 0x05,                         // syscall
    0xbf, 0x02, 0x00, 0x00, 0x00,       // fail: mov edi, 2         ; stderr
    0x48, 0x8d, 0x35, 0x18, 0x00, 0x00, 0x00, // lea rsi, [rip+24]  ; msg
    0xba, 0x12, 0x00, 0x00, 0x00,       // mov  edx, 18
    0xb8, 0x01, 0x00, 0x00, 0x00,       // mov  eax, 1              ; write
    0x0f, 0x05,                         // syscall
    0xbf, 0x7f, 0x00, 0x00, 0x00,       // mov  edi, 127
    0xb8, 0xe7, 0x00, 0x00, 0x00,       // mov  eax, 231            ; exit_group
    0x0f, 0x05,                         // syscall
    b'h', b'u', b'l', b'l', b':', b' ', b'e', b'x', b'e', b'c', // msg: "hull: exec failed\n"
    b' ', b'f', b'a', b'i', b'l', b'e', b'd', b'\n',
];
#[cfg(target_arch = "x86_64")]
const EM_X86_64: u16 = 0x3e;
#[cfg(any(test, target_arch = "aarch64"))]
const EM_AARCH64: u16 = 0xb7;

/// The same for aarch64: little-endian A64 instructions, one word each.
#[cfg(any(test, target_arch = "aarch64"))]
#[rustfmt::skip]
const AARCH64_CODE: &[u8] = &{
    const WORDS: [u32; 16] = [
        0xf940_03e3, // 00: ldr  x3, [sp]             ; argc
        0xf100_087f, // 04: cmp  x3, #2
        0x5400_00c3, // 08: b.lo fail (0x20)
        0xf940_07e0, // 0c: ldr  x0, [sp, #8]         ; argv[0]: the program
        0x9100_43e1, // 10: add  x1, sp, #16          ; &argv[1]: its argv
        0x8b03_0c22, // 14: add  x2, x1, x3, lsl #3   ; envp
        0xd280_1ba8, // 18: mov  x8, #221             ; execve
        0xd400_0001, // 1c: svc  #0
        0xd280_0040, // 20: fail: mov x0, #2          ; stderr
        0x1000_00e1, // 24: adr  x1, msg (0x40)
        0xd280_0242, // 28: mov  x2, #18
        0xd280_0808, // 2c: mov  x8, #64              ; write
        0xd400_0001, // 30: svc  #0
        0xd280_0fe0, // 34: mov  x0, #127
        0xd280_0bc8, // 38: mov  x8, #94              ; exit_group
        0xd400_0001, // 3c: svc  #0
    ];
    const MSG: &[u8; 18] = b"hull: exec failed\n";
    // Bytes: each word little endian, then the message.
    let mut code = [0u8; 4 * WORDS.len() + MSG.len()];
    let mut i = 0;
    while i < code.len() {
        code[i] = match i / 4 {
            w if w < WORDS.len() => WORDS[w].to_le_bytes()[i % 4],
            _ => MSG[i - 4 * WORDS.len()],
        };
        i += 1;
    }
    code
};

/// This host's trampoline.
#[cfg(target_arch = "x86_64")]
fn image() -> Vec<u8> {
    elf(EM_X86_64, X86_64_CODE)
}
#[cfg(target_arch = "aarch64")]
fn image() -> Vec<u8> {
    elf(EM_AARCH64, AARCH64_CODE)
}

/// A static ELF of `code`: one PT_LOAD segment, entry right after the
/// headers, loaded at 4 MiB (which any page size divides).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let size = HEADERS + code.len() as u64;
    let mut elf = Vec::with_capacity(size as usize);
    // ELF header: 64-bit, little endian, executable.
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // e_type: EXEC
    elf.extend_from_slice(&machine.to_le_bytes()); // e_machine
    elf.extend_from_slice(&1u32.to_le_bytes()); // e_version
    elf.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // e_entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 56, 1, 64, 0, 0] {
        // e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
        elf.extend_from_slice(&v.to_le_bytes());
    }
    // Program header: PT_LOAD, read + execute, the whole file.
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&5u32.to_le_bytes());
    for v in [0, BASE, BASE, size, size, 0x1000] {
        elf.extend_from_slice(&v.to_le_bytes());
    }
    elf.extend_from_slice(code);
    elf
}

/// The trampoline as a sealed, close-on-exec memfd. Made before seccomp
/// is loaded (a profile may deny memfd_create).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn prepare() -> Result<Option<OwnedFd>> {
    sealed(&image()).map(Some)
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn sealed(image: &[u8]) -> Result<OwnedFd> {
    use nix::sys::memfd::{MFdFlags, memfd_create};
    let fd = memfd_create(
        c"hull-exec",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .ctx(|| "memfd_create")?;
    nix::unistd::write(&fd, image).ctx(|| "write trampoline")?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on our own fd.
    nix::errno::Errno::result(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) })
        .ctx(|| "seal trampoline")?;
    Ok(fd)
}

/// Elsewhere no trampoline: the program is executed directly, as runc did
/// before its fix (hull is not built for such hosts today).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn prepare() -> Result<Option<OwnedFd>> {
    Ok(None)
}

/// execve `program` through the trampoline; returns only on failure. If
/// the kernel or a seccomp profile refuses execveat, the program is
/// executed directly, as other runtimes would.
pub fn exec(
    trampoline: Option<&OwnedFd>,
    program: &CStr,
    argv: &[CString],
    env: &[CString],
) -> nix::errno::Errno {
    if let Some(fd) = trampoline {
        let args: Vec<&CStr> = std::iter::once(program)
            .chain(argv.iter().map(CString::as_c_str))
            .collect();
        // execveat(fd, "", AT_EMPTY_PATH): returns only on failure.
        let _ = nix::unistd::fexecve(fd, &args, env);
    }
    match nix::unistd::execve(program, argv, env) {
        Err(e) => e,
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    /// Runs the trampoline `fd` with `argv` in a child: its exit code.
    fn run(fd: &OwnedFd, argv: &[&str]) -> i32 {
        use nix::sys::wait::{WaitStatus, waitpid};
        let argv: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
        let env = [CString::new("HULL_T=ok").unwrap()];
        // SAFETY: the test's child only execs or exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                // The trampoline's argv as `exec` makes it (the program,
                // then its argv), without `exec`'s fallback to a direct
                // execve: what runs is the trampoline's doing.
                let _ = nix::unistd::fexecve(fd, &argv, &env);
                // SAFETY: leaves at once, running no exit handlers.
                unsafe { libc::_exit(99) }
            }
            nix::unistd::ForkResult::Parent { child } => match waitpid(child, None).unwrap() {
                WaitStatus::Exited(_, code) => code,
                other => panic!("{other:?}"),
            },
        }
    }

    /// The trampoline runs a program with its argv and env, and refuses to
    /// run with fewer than two arguments.
    fn runs_program_and_refuses_loops(fd: &OwnedFd) {
        let sh = ["/bin/sh", "sh", "-c", "[ \"$HULL_T\" = ok ] && exit 7"];
        assert_eq!(run(fd, &sh), 7);
        assert_eq!(run(fd, &["/bin/sh"]), 127);
    }

    #[test]
    fn runs_the_program() {
        runs_program_and_refuses_loops(&prepare().unwrap().unwrap());
    }

    /// The aarch64 trampoline, on an x86_64 host where qemu-user-static
    /// runs aarch64 programs (binfmt_misc); the arm64 VM runs it natively.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn aarch64_trampoline_under_qemu() {
        let handler = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
        if !std::fs::read_to_string(handler).is_ok_and(|s| s.starts_with("enabled")) {
            println!("note: {handler} is not enabled (qemu-user-static), skipping");
            return;
        }
        // Not close-on-exec: binfmt_misc refuses a program whose fd
        // (/dev/fd/N) the interpreter could not open after the exec.
        use nix::sys::memfd::{MFdFlags, memfd_create};
        let fd = memfd_create(c"hull-exec-aarch64", MFdFlags::empty()).unwrap();
        nix::unistd::write(&fd, &elf(EM_AARCH64, AARCH64_CODE)).unwrap();
        runs_program_and_refuses_loops(&fd);
    }

    #[test]
    fn is_sealed() {
        let fd = prepare().unwrap().unwrap();
        assert!(nix::unistd::write(&fd, b"x").is_err());
    }
}
