#!/usr/bin/env python3
"""Find the functions a hull command runs, for the linker's symbol order.

  hot-order.py trace BINARY OUT -- ARGV...
      Runs ARGV (whose ARGV[0] is BINARY: static, non-PIE, with symbols)
      under ptrace with an int3 on every function entry, follows its forks
      and clones, and writes "PID ADDRESS" per first call of a function in
      a process to OUT, the root process first. A process that execs is
      let go (it is the container's program from there on). OUT is written
      once the root process exits, and again when every process is gone.

  hot-order.py merge BINARY ORDER TRACE...
      Writes ORDER: the symbol names of every traced function in call
      order: the children's (the container's init, exec's child) that no
      root process runs, then those both run, then the entry point (_start)
      and the root processes' (create's first, as hot-order.sh lists the
      TRACEs). The init and create each find their functions in one
      stretch of text: the init's RSS is what a created container costs
      the host, create's the peak of a start.

Why: a short-lived runtime's RSS is mostly text pages, and the kernel maps
them 64 KiB at a time (fault-around) around each page the code touches. With
the hot functions spread over 4 MiB of text, `create` mapped 3 MiB of it;
packed together by lld's --symbol-ordering-file, well under 1 MiB.
"""
import ctypes
import os
import signal
import subprocess
import sys

PTRACE_TRACEME, PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS = 0, 7, 12, 13
PTRACE_DETACH, PTRACE_SETOPTIONS = 17, 0x4200
# TRACEFORK | TRACEVFORK | TRACECLONE | TRACEEXEC
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10
EVENT_EXEC = 4
WALL = 0x40000000
INT3 = b"\xcc"

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long


class Regs(ctypes.Structure):  # struct user_regs_struct, x86_64
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax "
        "rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


def ptrace(request, pid, addr=0, data=None):
    """ptrace(2); False when the tracee is already gone."""
    if libc.ptrace(request, pid, addr, data) == -1:
        err = ctypes.get_errno()
        if err == 3:  # ESRCH: killed meanwhile
            return False
        raise OSError(err, f"ptrace({request}, {pid}): {os.strerror(err)}")
    return True


def functions(binary):
    """{address: [names]} of the binary's sized text symbols."""
    nm = subprocess.run(["nm", "-S", "--defined-only", binary],
                        capture_output=True, text=True, check=True).stdout
    syms = {}
    for line in nm.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW" and int(f[1], 16) > 0:
            syms.setdefault(int(f[0], 16), []).append(f[3])
    if not syms:
        sys.exit(f"hot-order.py: {binary} has no symbols (build it unstripped)")
    return syms


def poke(pid, patches):
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        for addr, byte in patches:
            mem.seek(addr)
            mem.write(byte)


def stopped_at(pid, breakpoints):
    """The registers of PID if its SIGTRAP is one of our breakpoints."""
    regs = Regs()
    if ptrace(PTRACE_GETREGS, pid, 0, ctypes.byref(regs)) and regs.rip - 1 in breakpoints:
        return regs
    return None


def trace(binary, out, argv):
    entries = functions(binary)
    root = os.fork()
    if root == 0:
        libc.ptrace(PTRACE_TRACEME, 0, None, None)
        os.execv(argv[0], argv)
    os.waitpid(root, WALL)  # stopped at its exec
    ptrace(PTRACE_SETOPTIONS, root, 0, OPTIONS)
    with open(f"/proc/{root}/mem", "rb", buffering=0) as mem:
        original = {}
        for addr in entries:
            mem.seek(addr)
            original[addr] = mem.read(1)
    # Children copy the breakpoints with the memory; each process restores
    # an entry where it hits it, so no per-process bookkeeping is needed.
    poke(root, ((addr, INT3) for addr in entries))

    hits, seen, live, status = [], set(), {root}, 0

    def dump():
        with open(out, "w") as f:
            f.writelines(f"{pid} {addr:x}\n" for pid, addr in hits)

    ptrace(PTRACE_CONT, root)
    while live:
        pid, st = os.waitpid(-1, WALL)
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            live.discard(pid)
            if pid == root:
                status = os.waitstatus_to_exitcode(st)
                dump()
            continue
        live.add(pid)  # a new child announces itself with a stop
        sig, event = os.WSTOPSIG(st), st >> 16
        if event == EVENT_EXEC:
            ptrace(PTRACE_DETACH, pid)
            live.discard(pid)
        elif event or sig == signal.SIGSTOP:
            ptrace(PTRACE_CONT, pid)
        elif sig == signal.SIGTRAP and (regs := stopped_at(pid, original)):
            addr = regs.rip - 1
            if (pid, addr) not in seen:
                seen.add((pid, addr))
                hits.append((pid, addr))
            poke(pid, [(addr, original[addr])])
            regs.rip = addr  # run the restored instruction
            if ptrace(PTRACE_SETREGS, pid, 0, ctypes.byref(regs)):
                ptrace(PTRACE_CONT, pid)
        else:
            ptrace(PTRACE_CONT, pid, 0, sig)
    dump()
    return status


ENTRY = "_start"


def merge(binary, order, traces):
    names = functions(binary)
    roots, children = [], []
    for path in traces:
        rows = [line.split() for line in open(path)]
        for pid, addr in rows:
            (roots if pid == rows[0][0] else children).append(int(addr, 16))
    in_roots = set(roots)
    layout = [a for a in children if a not in in_roots]
    layout += [a for a in children if a in in_roots]
    done = set()
    with open(order, "w") as f:
        def put(addrs):
            for addr in addrs:
                if addr not in done:
                    done.add(addr)
                    f.writelines(name + "\n" for name in names[addr])
        put(layout)
        # The entry point, where every command begins, before the commands'
        # functions: the tracer never sees it (a process stops at its exec
        # with the entry in hand), and nm gives the assembly label no size.
        f.write(ENTRY + "\n")
        put(roots)
    print(f"hot-order.py: {len(done)} functions in {order}", file=sys.stderr)


if __name__ == "__main__":
    cmd = sys.argv[1:2]
    if cmd == ["trace"] and "--" in sys.argv[4:5]:
        sys.exit(trace(sys.argv[2], sys.argv[3], sys.argv[5:]))
    elif cmd == ["merge"] and len(sys.argv) > 4:
        merge(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
