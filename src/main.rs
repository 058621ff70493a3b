//! The hull command line: parse, call the library, print. No logic here.
//!
//! No Rust runtime start-up (`no_main`): std's would poll the stdio fds,
//! install stack-overflow handlers and set SIGPIPE, aborting the process if
//! any of those system calls fails; hull does the part it needs itself and
//! turns every failure into one error line and exit 1.

// Every unsafe block says why it is sound (`// SAFETY:`).
#![deny(clippy::undocumented_unsafe_blocks)]
// The bin's unit-test build keeps libtest's own main.
#![cfg_attr(not(test), no_main)]

// Reached only through the C `main` below, which a unit-test build lacks.
#[cfg_attr(test, allow(dead_code))]
mod cli;

use nix::libc;

/// Out of memory: one line and exit 1, rather than Rust's abort.
struct Allocator;

// What `Allocator` forwards to: glibc's malloc, or on musl dlmalloc
// (Cargo.toml says why).
#[cfg(target_env = "musl")]
use dlmalloc::GlobalDlmalloc as Backend;
#[cfg(not(target_env = "musl"))]
use std::alloc::System as Backend;

// SAFETY: forwards to Backend, a GlobalAlloc; only a failed allocation is
// handled differently, by ending the process.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is Backend's.
        or_die(unsafe { Backend.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as above.
        or_die(unsafe { Backend.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as above.
        unsafe { Backend.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        // SAFETY: as above.
        or_die(unsafe { Backend.realloc(ptr, layout, size) }, size)
    }
}

/// `p`, or for a failed allocation of `size` bytes the end of hull.
fn or_die(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        out_of_memory(size);
    }
    p
}

/// The error line `hull: error: allocate SIZE bytes: out of memory` and
/// exit 1. Written from the stack: nothing may allocate here. Out of line,
/// so that the allocator's hot path stays small.
#[cold]
#[inline(never)]
fn out_of_memory(size: usize) -> ! {
    let mut line = [0u8; 80];
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        line[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    put(b"hull: error: allocate ");
    let (mut digits, mut d, mut left) = ([0u8; 20], 20, size);
    loop {
        d -= 1;
        digits[d] = b'0' + (left % 10) as u8;
        left /= 10;
        if left == 0 {
            break;
        }
    }
    put(&digits[d..]);
    put(b" bytes: out of memory\n");
    // SAFETY: write(2) of a stack buffer, then _exit.
    unsafe {
        libc::write(2, line.as_ptr().cast(), n);
        libc::_exit(1)
    }
}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// getrandom(3) for this binary: std seeds every hash map with it and
/// panics when it fails, so a transient failure (EINTR, EAGAIN, EIO) is
/// retried a few times before it is reported as the C library would.
///
/// # Safety
/// The caller passes a buffer of `len` writable bytes, as for libc's.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getrandom(
    buf: *mut libc::c_void,
    len: libc::size_t,
    flags: libc::c_uint,
) -> libc::ssize_t {
    let mut left = 8;
    loop {
        // SAFETY: the caller's buffer, as libc's getrandom takes it.
        let r = unsafe { libc::syscall(libc::SYS_getrandom, buf, len, flags) };
        let transient = matches!(
            nix::errno::Errno::last(),
            nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN | nix::errno::Errno::EIO
        );
        if r >= 0 || !transient || left == 0 {
            return r as libc::ssize_t;
        }
        left -= 1;
    }
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    // What std's start-up did and hull needs: stdio that exists (an fd the
    // caller closed would otherwise be taken by our first open), and a
    // write to a closed pipe that fails with EPIPE rather than killing us.
    for fd in 0..3 {
        // SAFETY: fcntl and open on fd numbers; an opened /dev/null takes
        // the lowest free fd, the closed one.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1 {
                libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            }
        }
    }
    // SAFETY: setting a disposition; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // A bug, or a failure deep in the standard library (getrandom for a
    // hash map's seed): one error line and exit 1, never an abort's core.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".to_string());
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        hull::log::error(&format!("internal error: {what}{at}"));
        // SAFETY: _exit ends the process (or a cloned init) at once.
        unsafe { libc::_exit(1) }
    }));
    // From main's own arguments: std::env::args is filled by std's start-up
    // (on musl) or by glibc alone, and hull skips the one and may lack the
    // other.
    let args = (0..argc.max(0) as usize)
        .map(|i| {
            use std::os::unix::ffi::OsStrExt;
            // SAFETY: the C runtime passes argc valid C strings in argv.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_os_string()
        })
        .collect();
    let code = cli::main(args);
    // Flush what is buffered; no atexit work beyond that is ours.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    code
}
