//! What engines rely on (issue 5): the console socket and the terminal
//! relay, exec in all its forms, the six kinds of hooks, and the flags
//! containerd, dockerd and podman/conmon pass (--pid-file, --preserve-fds,
//! --no-new-keyring, --log-format json, delete --force, --version,
//! run --detach/--keep, kill --all, `--flag=value`), plus `hull features`
//! checked against the OCI features schema.

use crate::harness::*;
use nix::libc;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Terminals
// ---------------------------------------------------------------------------

/// A unix socket in the test dir, listening as an engine's console socket.
pub(crate) fn console_socket(t: &Test, name: &str) -> (UnixListener, PathBuf) {
    let path = t.dir.join(name);
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    (listener, path)
}

/// Accept hull's connection and receive what it sends: the pty master
/// (SCM_RIGHTS) and the pty's name (the payload), as runc does.
pub(crate) fn receive_console(listener: &UnixListener) -> (File, String) {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let deadline = Instant::now() + WAIT;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("no connection on the console socket: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .expect("recvmsg on the console socket");
    let mut fd = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied();
        }
    }
    let len = msg.bytes;
    let fd = fd.expect("no fd received over the console socket");
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    // SAFETY: the kernel installed this fd for us.
    (File::from(unsafe { OwnedFd::from_raw_fd(fd) }), name)
}

/// Read the pty master until `done` holds for what came (with `\r\n` as
/// `\n`), the other side hangs up, or WAIT passes.
pub(crate) fn read_pty(master: &File, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + WAIT;
    let mut raw = Vec::new();
    let text = |raw: &[u8]| String::from_utf8_lossy(raw).replace("\r\n", "\n");
    while Instant::now() < deadline && !done(&text(&raw)) {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match (&*master).read(&mut buf) {
            Ok(0) | Err(_) => break, // EIO: every slave fd is closed
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    text(&raw)
}

#[test]
fn console_socket_gets_the_pty_master_and_its_name() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        c["process"]["terminal"] = json!(true);
        c["process"]["consoleSize"] = json!({"height": 33, "width": 111});
    })
    .sh(
        "stty size; tty; stat -c console=%t:%T /dev/console; stat -c tty=%t:%T $(tty); \
         read line; echo got:$line",
    );
    let (listener, sock) = console_socket(&t, "console.sock");
    t.hull(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path(),
        "tty1",
    ])
    .ok();
    let (mut master, name) = receive_console(&listener);
    assert!(name.starts_with("/dev/pts/"), "payload {name:?}");
    t.start("tty1").ok();
    // Typed only once the lines before `read` are out: the pty echoes
    // input at once, which would land inside them (`33 111hello`, seen
    // on a slow arm64 VM).
    let shown = |s: &str| s.lines().any(|l| l.starts_with("tty=")) && s.ends_with('\n');
    let mut out = read_pty(&master, shown);
    master.write_all(b"hello\n").unwrap();
    out += &read_pty(&master, |s| s.contains("got:hello"));
    assert!(out.contains("got:hello"), "input did not arrive:\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"33 111"), "consoleSize not applied:\n{out}");
    assert!(lines.contains(&name.as_str()), "tty is not {name}:\n{out}");
    let dev = |prefix: &str| {
        lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line:\n{out}"))
            .to_string()
    };
    assert_eq!(dev("console="), dev("tty="), "/dev/console is not the pty");
    t.wait_status("tty1", "stopped");
    t.delete("tty1").ok();
}

/// As runc: the pty is the process user's, in devpts' group (gid=5, tty).
#[test]
fn the_pty_belongs_to_the_process_user() {
    let t = Test::new();
    for (uid, id) in [(0, "root"), (1000, "user")] {
        let b = t.bundle();
        b.config(|c| {
            c["process"]["terminal"] = json!(true);
            c["process"]["user"] = json!({"uid": uid, "gid": uid});
        })
        .sh("stat -c owner=%u:%g $(tty)");
        let (listener, sock) = console_socket(&t, &format!("{id}.sock"));
        t.hull(&[
            "create",
            "--console-socket",
            sock.to_str().unwrap(),
            "--bundle",
            b.path(),
            id,
        ])
        .ok();
        let (master, _) = receive_console(&listener);
        t.start(id).ok();
        let out = read_pty(&master, |s| s.contains("owner="));
        let owner = out
            .lines()
            .find_map(|l| l.strip_prefix("owner="))
            .unwrap_or_default();
        assert_eq!(owner.trim(), format!("{uid}:5"), "{out}");
        t.wait_status(id, "stopped");
        t.delete(id).ok();
    }
}

/// `exec -t` without a console socket relays to its own terminal, as
/// `hull run` does (runc bats tty: exec tests).
#[test]
fn exec_tty_relays_to_its_own_terminal() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "exectty");
    let script = "stty size; tty; read x; echo got-$x; exit 5";
    let r = on_pty(
        &t,
        &["exec", "-t", "exectty", "sh", "-c", script],
        (19, 66),
        "xyz",
    );
    assert!(r.out.contains("/dev/pts/"), "no pty:\n{r}");
    assert_eq!(r.status, 5, "exit status of exec:\n{r}");
    t.hull(&["delete", "--force", "exectty"]).ok();
}

/// What a hull command run on a new pty of ours did.
struct OnPty {
    out: String,
    status: i32,
    stderr: String,
    master: File,
}

impl std::fmt::Display for OnPty {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}\n--- stderr ---\n{}", self.out, self.stderr)
    }
}

/// Run hull with `args` on a new pty of `size` (rows, cols) whose process
/// prints `stty size`, reads a line and echoes `got-<line>`: type `input`,
/// and check the size and the input came through.
fn on_pty(t: &Test, args: &[&str], size: (u16, u16), input: &str) -> OnPty {
    let ws = nix::pty::Winsize {
        ws_row: size.0,
        ws_col: size.1,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&ws, None::<&nix::sys::termios::Termios>).unwrap();
    let err = t.dir.join("on-pty.err");
    let mut cmd = t.command(args);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    drop(pty.slave);
    let mut master = File::from(pty.master);
    let size = format!("{} {}", size.0, size.1);
    let out = read_pty(&master, |s| s.contains(&size));
    master.write_all(format!("{input}\n").as_bytes()).unwrap();
    let got = format!("got-{input}");
    let out = out + &read_pty(&master, |s| s.contains(&got));
    let status = wait_exit(&mut child, WAIT * 3);
    let stderr = fs::read_to_string(&err).unwrap_or_default();
    let r = OnPty {
        out,
        status,
        stderr,
        master,
    };
    assert!(r.out.contains(&size), "window size not copied:\n{r}");
    assert!(r.out.contains(&got), "input not relayed:\n{r}");
    r
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["process"]["terminal"] = json!(true));
    t.create(&b, "notty").fails_with("console-socket");
    t.assert_nothing_left("notty");
}

/// `hull run` with a terminal and no console socket, on a pty of ours:
/// it relays both ways, copies our window size, puts our terminal in raw
/// mode for the time of the run and restores it.
#[test]
fn run_relays_between_its_terminal_and_the_container() {
    use nix::sys::termios::{LocalFlags, tcgetattr};
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["process"]["terminal"] = json!(true))
        .sh("stty size; read x; echo got-$x; exit 7");
    let r = on_pty(&t, &["run", "--bundle", b.path(), "relay"], (21, 77), "abc");
    assert_eq!(r.status, 7, "exit status of run:\n{r}");
    let restored = tcgetattr(r.master.as_fd()).unwrap();
    assert!(
        restored.local_flags.contains(LocalFlags::ECHO),
        "terminal left in raw mode"
    );
    assert!(t.state_entries().is_empty(), "run left its container");
}

/// An engine started under `nohup` (SIGHUP ignored) runs hull with that
/// disposition; hull itself ignores SIGPIPE (Rust's runtime). Neither may
/// reach the container's process: an ignored signal cannot be trapped by
/// a shell (the engines' kill-signal scenario), and `yes | head` must end.
#[test]
fn container_process_starts_with_no_signal_ignored() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["grep", "SigIgn", "/proc/self/status"]);
    let mut cmd = t.command(&["run", "--bundle", b.path(), "sigign"]);
    // SAFETY: only signal(2) between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let out = t.output(&mut cmd).ok();
    assert_eq!(
        out.stdout.split_whitespace().last(),
        Some("0000000000000000"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------
// exec
// ---------------------------------------------------------------------------

/// A running container (`sleep`) to exec into.
fn running(t: &Test, id: &str) -> Bundle {
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, id);
    b
}

/// `hull exec` in the foreground is the process's stand-in, as runc's:
/// a signal sent to it reaches the process, whose status it exits with.
#[test]
fn exec_forwards_signals() {
    let t = Test::new();
    running(&t, "fw");
    let out = t.dir.join("exec.out");
    let mut child = t
        .command(&[
            "exec",
            "fw",
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        ])
        .stdout(File::create(&out).unwrap())
        .spawn()
        .unwrap();
    wait_for("the trap", || {
        fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("ready")
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(wait_exit(&mut child, WAIT), 42);
}

#[test]
fn exec_args_with_env_cwd_user_and_exit_status() {
    let t = Test::new();
    running(&t, "ex");
    let out = t
        .hull(&[
            "exec",
            "--env",
            "FOO=bar",
            "--cwd",
            "/tmp",
            "--user",
            "1000:1000",
            "ex",
            "sh",
            "-c",
            "echo $FOO; pwd; id -u; id -g; echo $HULL_ITEST",
        ])
        .ok();
    assert_eq!(
        out.lines(),
        ["bar", "/tmp", "1000", "1000", t.marker().as_str()],
        "{out}"
    );
    // --flag=value forms, as conmon sends them.
    let out = t
        .hull(&[
            "exec",
            "--env=A=1",
            "--cwd=/home",
            "ex",
            "sh",
            "-c",
            "echo $A; pwd",
        ])
        .ok();
    assert_eq!(out.lines(), ["1", "/home"], "{out}");
    let out = t.hull(&["exec", "ex", "sh", "-c", "exit 42"]);
    assert_eq!(out.code, 42, "{out}");
    let out = t.hull(&["exec", "ex", "sh", "-c", "kill -9 $$"]);
    assert_eq!(out.code, 137, "{out}");
}

#[test]
fn exec_cap_adds_a_capability() {
    let t = Test::new();
    running(&t, "cap");
    let capeff = |extra: &[&str]| {
        let mut args = vec!["exec"];
        args.extend_from_slice(extra);
        args.extend(["cap", "sh", "-c", "grep CapEff /proc/self/status"]);
        let out = t.hull(&args).ok();
        let hex = out
            .stdout
            .split_whitespace()
            .last()
            .unwrap_or_default()
            .to_string();
        u64::from_str_radix(&hex, 16).unwrap_or_else(|_| panic!("{out}"))
    };
    // The default config: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    let base = (1 << 29) | (1 << 5) | (1 << 10);
    assert_eq!(capeff(&[]), base);
    assert_eq!(capeff(&["--cap", "CAP_SYS_ADMIN"]), base | (1 << 21));
    assert_eq!(capeff(&["--cap=NET_RAW"]), base | (1 << 13));
}

#[test]
fn exec_process_json_as_engines_send_it() {
    let t = Test::new();
    running(&t, "pj");
    let process = json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5]},
        "args": ["sh", "-c", "echo $PJ; pwd; id -u; id -G; exit 3"],
        "env": [PATH_ENV, "PJ=from-process-json"],
        "cwd": "/home/user",
        "capabilities": {"bounding": ["CAP_KILL"], "effective": [], "permitted": []},
        "noNewPrivileges": true
    });
    let file = t.dir.join("process.json");
    fs::write(&file, process.to_string()).unwrap();
    let out = t.hull(&["exec", "--process", file.to_str().unwrap(), "pj"]);
    assert_eq!(out.code, 3, "{out}");
    assert_eq!(
        out.lines(),
        ["from-process-json", "/home/user", "1000", "1000 5"],
        "{out}"
    );
}

#[test]
fn exec_detach_writes_the_pid_file_and_returns() {
    let t = Test::new();
    running(&t, "det");
    let pid_file = t.dir.join("exec.pid");
    let started = Instant::now();
    t.hull(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "det",
        "sleep",
        "500",
    ])
    .ok();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exec --detach waited"
    );
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .expect("pid file holds a decimal pid");
    // The channel closes at the exec trampoline's execve, a moment before
    // the program's own (see security::trampoline): same pid, either way.
    let cmdline = || fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let deadline = Instant::now() + WAIT;
    while cmdline() != b"sleep\x00500\x00" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        cmdline(),
        b"sleep\x00500\x00",
        "pid {pid} is not the exec'd process"
    );
    let init = t.state("det")["pid"].as_i64().unwrap();
    let ns = |p: i64, n: &str| fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();
    for n in ["pid", "mnt", "net", "ipc", "uts"] {
        assert_eq!(ns(pid as i64, n), ns(init, n), "{n} namespace");
    }
    let cg = |p: i64| fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap();
    assert_eq!(cg(pid as i64), cg(init), "cgroup");
    // No pid file left half-written next to it.
    let names: Vec<_> = fs::read_dir(&t.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("exec.pid"))
        .collect();
    assert_eq!(names, ["exec.pid"]);
    // Reparented to us (the subreaper): ours to kill and reap, as conmon
    // or the shim would.
    let pid = nix::unistd::Pid::from_raw(pid);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    let _ = nix::sys::wait::waitpid(pid, None);
    t.hull(&["delete", "--force", "det"]).ok();
}

#[test]
fn exec_whose_pid_file_cannot_be_written_leaves_no_process() {
    let t = Test::new();
    running(&t, "pf");
    let bad = t.dir.join("no-such-dir/exec.pid");
    t.hull(&[
        "exec",
        "--detach",
        "--pid-file",
        bad.to_str().unwrap(),
        "pf",
        "sleep",
        "501",
    ])
    .fails_with("no-such-dir/exec.pid");
    // As runc: the exec'd process is ended, not left running untracked.
    let out = t.hull(&["ps", "--format", "json", "pf"]).ok();
    let pids: Vec<i64> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(pids, [t.state("pf")["pid"].as_i64().unwrap()], "{out}");
    t.hull(&["delete", "--force", "pf"]).ok();
}

#[test]
fn exec_of_a_missing_binary_fails_with_the_engines_phrase() {
    let t = Test::new();
    running(&t, "miss");
    t.hull(&["exec", "miss", "nosuchprog"])
        .fails_with("executable file not found in $PATH");
    t.hull(&["exec", "miss", "/no/such/prog"])
        .fails_with("no such file or directory");
    assert_eq!(t.status("miss"), "running");
}

/// The exec'd process's fds (`ls -l /proc/self/fd`), without ls's own.
fn exec_fds(t: &Test, id: &str, extra: &[&str], pass: Vec<(File, i32)>) -> BTreeMap<u32, String> {
    let mut args = vec!["exec"];
    args.extend_from_slice(extra);
    args.extend([id, "ls", "-l", "/proc/self/fd"]);
    let mut cmd = t.command(&args);
    pass_fds(&mut cmd, pass);
    let out = t.output(&mut cmd).ok();
    fd_listing(&out.stdout)
}

#[test]
fn exec_passes_no_host_fd_but_preserved_ones() {
    let t = Test::new();
    running(&t, "fds");
    let leak = || {
        vec![
            (host_file(&t, "three", "3\n"), 3),
            (host_file(&t, "five", ""), 5),
        ]
    };
    let fds = exec_fds(&t, "fds", &[], leak());
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2],
        "{fds:?}"
    );
    for target in fds.values() {
        assert!(
            !target.contains(HULL) && !target.contains("memfd"),
            "hull's binary reachable: {fds:?}"
        );
    }
    let fds = exec_fds(&t, "fds", &["--preserve-fds", "1"], leak());
    assert_eq!(
        fds.keys().copied().collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "{fds:?}"
    );
    let mut cmd = t.command(&[
        "exec",
        "--preserve-fds=1",
        "fds",
        "sh",
        "-c",
        "cat <&3; echo $LISTEN_FDS",
    ]);
    pass_fds(&mut cmd, leak());
    assert_eq!(t.output(&mut cmd).ok().lines(), ["3", "1"]);
}

#[test]
fn exec_tty_sends_a_new_pty_and_leaves_dev_console_alone() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| c["process"]["terminal"] = json!(true))
        .sh("sleep 1000");
    let (listener, sock) = console_socket(&t, "init.sock");
    let sock = sock.to_str().unwrap().to_string();
    t.hull(&[
        "create",
        "--console-socket",
        &sock,
        "--bundle",
        b.path(),
        "etty",
    ])
    .ok();
    let (_init_master, init_pty) = receive_console(&listener);
    t.start("etty").ok();
    let (listener, exec_sock) = console_socket(&t, "exec.sock");
    let pid_file = t.dir.join("etty.pid");
    t.hull(&[
        "exec",
        "--tty",
        "--console-socket",
        exec_sock.to_str().unwrap(),
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "etty",
        "sh",
        "-c",
        "tty; stat -c console=%t:%T /dev/console; stat -c tty=%t:%T $(tty); read x; echo got-$x",
    ])
    .ok();
    let (mut master, name) = receive_console(&listener);
    assert!(
        name.starts_with("/dev/pts/") && name != init_pty,
        "{name} vs {init_pty}"
    );
    master.write_all(b"x1\n").unwrap();
    let out = read_pty(&master, |s| s.contains("got-x1"));
    assert!(out.lines().any(|l| l == name), "tty is not {name}:\n{out}");
    let line = |p: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(p))
            .map(String::from)
    };
    assert!(line("console=").is_some(), "{out}");
    assert_ne!(
        line("console="),
        line("tty="),
        "exec --tty rebound /dev/console to its own pty:\n{out}"
    );
    // Reparented to us (the subreaper) when `exec --detach` returned: reap
    // it as conmon or the shim would, or the container's pid namespace
    // cannot finish dying.
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    t.hull(&["delete", "--force", "etty"]).ok();
}

#[test]
fn exec_needs_a_running_container() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["true"]);
    t.run_detached(&b, "done");
    t.wait_status("done", "stopped");
    t.hull(&["exec", "done", "true"]).fails_with("stopped");
    t.hull(&["exec", "nosuch", "true"])
        .fails_with("does not exist");
}

// ---------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------

/// A hook script: records its kind in `<dir>/order` (one short append)
/// and its argv, stdin (the state) and env in `<dir>/<kind>`.
const HOOK_SCRIPT: &str = r#"#!/bin/sh
dir=$1 kind=$2
state=$(cat)
{
  printf 'ARGS %s\n' "$*"
  printf 'STATE %s\n' "$state"
  env | sed 's/^/ENV /'
} > "$dir/$kind"
echo "$kind" >> "$dir/order"
"#;

struct HookRecord {
    args: String,
    state: Value,
    env: Vec<String>,
}

fn hook_record(dir: &Path, kind: &str) -> HookRecord {
    let text = fs::read_to_string(dir.join(kind))
        .unwrap_or_else(|e| panic!("hook {kind} did not run ({e})"));
    let field = |p: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(p))
            .unwrap_or_else(|| panic!("no {p} in:\n{text}"))
            .to_string()
    };
    HookRecord {
        args: field("ARGS "),
        state: serde_json::from_str(&field("STATE "))
            .unwrap_or_else(|e| panic!("{kind}: state is not JSON ({e}):\n{text}")),
        env: text
            .lines()
            .filter_map(|l| l.strip_prefix("ENV "))
            .map(String::from)
            .collect(),
    }
}

fn order(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

const KINDS: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// All six kinds, each running HOOK_SCRIPT. Runtime-namespace hooks use
/// the host path; startContainer runs after pivot_root, so it uses the
/// same dir bound at /mnt in the container.
fn hooked_bundle(t: &Test) -> (Bundle, PathBuf) {
    let dir = t.host_dir("hooks");
    let script = dir.join("hook.sh");
    fs::write(&script, HOOK_SCRIPT).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let b = t.bundle();
    b.bind(&dir, "/mnt", &["rw"]);
    let mut hooks = serde_json::Map::new();
    for kind in KINDS {
        let (path, at) = if kind == "startContainer" {
            ("/mnt/hook.sh".to_string(), "/mnt".to_string())
        } else {
            (script.display().to_string(), dir.display().to_string())
        };
        hooks.insert(
            kind.to_string(),
            json!([{
                "path": path,
                "args": ["hook-argv0", at, kind],
                "env": [format!("HOOK_KIND={kind}"), "PATH=/usr/bin:/bin"],
                "timeout": 10
            }]),
        );
    }
    b.config(|c| c["hooks"] = Value::Object(hooks));
    (b, dir)
}

/// start returns only once the init has executed the program (the init's
/// end of the exec fifo is close-on-exec; runc reads it to its end too): a
/// slow startContainer hook, which runs in the init before that exec, is
/// done by then, and poststart comes after it.
#[test]
fn start_returns_after_the_init_executed_the_program() {
    let t = Test::new();
    let dir = t.host_dir("slow");
    let b = t.bundle();
    b.bind(&dir, "/mnt", &["rw"]);
    b.args(&["sleep", "1000"]);
    let log = dir.join("log");
    b.config(|c| {
        c["hooks"] = json!({
            "startContainer": [{"path": "/bin/sh",
                "args": ["sh", "-c", "sleep 0.3; echo startContainer >> /mnt/log"]}],
            "poststart": [{"path": "/bin/sh",
                "args": ["sh", "-c", format!("echo poststart >> {}", log.display())]}]
        })
    });
    t.create(&b, "slow").ok();
    t.start("slow").ok();
    assert_eq!(
        fs::read_to_string(&log).unwrap_or_default(),
        "startContainer\npoststart\n"
    );
    t.hull(&["delete", "--force", "slow"]).ok();
}

#[test]
fn all_six_hooks_run_in_order_with_state_args_and_env() {
    let t = Test::new();
    let (b, dir) = hooked_bundle(&t);
    b.args(&["sleep", "1000"]);
    t.create(&b, "hk").ok();
    assert_eq!(
        order(&dir),
        ["prestart", "createRuntime", "createContainer"]
    );
    let pid = t.state("hk")["pid"].as_i64().unwrap();
    t.start("hk").ok();
    // start returns once the init has executed the program (its end of the
    // exec fifo is close-on-exec): startContainer ran before, and poststart
    // after that exec.
    assert_eq!(order(&dir), &KINDS[..5]);
    let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe.ends_with("sleep") || exe.ends_with("busybox"),
        "{exe:?}"
    );
    t.kill("hk", "KILL").ok();
    t.wait_status("hk", "stopped");
    t.delete("hk").ok();
    let got = order(&dir);
    assert_eq!(got, KINDS, "{got:?}");
    for kind in KINDS {
        let r = hook_record(&dir, kind);
        assert!(r.args.ends_with(kind), "{kind}: args {:?}", r.args);
        assert!(
            r.env.contains(&format!("HOOK_KIND={kind}")),
            "{kind}: {:?}",
            r.env
        );
        assert!(
            !r.env.iter().any(|e| e.starts_with("CARGO")),
            "{kind}: hull's environment leaked into the hook: {:?}",
            r.env
        );
        // Spec v1.3: the container is `creating` until create returns,
        // `created` when `start` runs startContainer.
        let want = match kind {
            "startContainer" => "created",
            "poststart" => "running",
            "poststop" => "stopped",
            _ => "creating",
        };
        assert_eq!(r.state["status"], want, "{kind}: {}", r.state);
        assert_eq!(r.state["id"], "hk", "{kind}: {}", r.state);
        assert_eq!(r.state["bundle"], b.path(), "{kind}: {}", r.state);
        assert!(r.state["ociVersion"].is_string(), "{kind}: {}", r.state);
        if kind != "poststop" {
            assert_eq!(r.state["pid"].as_i64(), Some(pid), "{kind}: {}", r.state);
        }
    }
}

/// Only `kind`'s hook, running `sh -c script` (with `timeout` if given).
fn one_hook(t: &Test, kind: &str, script: &str, timeout: Option<u32>) -> Bundle {
    let b = t.bundle();
    let mut hook = json!({"path": "/bin/sh", "args": ["sh", "-c", script]});
    if let Some(s) = timeout {
        hook["timeout"] = json!(s);
    }
    b.config(|c| c["hooks"] = json!({kind: [hook]}));
    b
}

#[test]
fn a_hook_past_its_timeout_is_killed_and_fails_create() {
    let t = Test::new();
    let b = one_hook(&t, "prestart", "exec sleep 37", Some(1));
    b.args(&["true"]);
    let started = Instant::now();
    t.create(&b, "slow").fails_with("timed out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    t.assert_nothing_left("slow");
    let sleeping = processes_naming("sleep\u{0}37");
    assert!(sleeping.is_empty(), "the hook still runs: {sleeping:?}");
}

#[test]
fn big_state_or_stderr_cannot_block_a_hook_past_its_timeout() {
    let t = Test::new();
    // A state bigger than a pipe's buffer (64 KiB), to a hook that never
    // reads it.
    let big = json!({"org.hull.test.big": "x".repeat(100_000)});
    let b = one_hook(&t, "prestart", "exec sleep 38", Some(1));
    b.args(&["true"]).config(|c| c["annotations"] = big.clone());
    let started = Instant::now();
    t.create(&b, "bigstate").fails_with("timed out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    t.assert_nothing_left("bigstate");
    // A hook that exits at once without reading it is fine.
    let b = one_hook(&t, "prestart", "exit 0", Some(5));
    b.args(&["true"]).config(|c| c["annotations"] = big);
    t.create(&b, "unread").ok();
    // A hook that floods its stderr fails with (the start of) it.
    let b = one_hook(
        &t,
        "prestart",
        "yes flood | head -c 300000 >&2; exit 2",
        Some(20),
    );
    b.args(&["true"]);
    let out = t.create(&b, "flood");
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("exit status 2: flood"),
        "{}",
        &out.stderr[..200.min(out.stderr.len())]
    );
    t.assert_nothing_left("flood");
}

/// Kubernetes allows 256 KiB of annotations, and they are in the state.
#[test]
fn container_hooks_get_a_big_state_whole() {
    let t = Test::new();
    let out_file = t.dir.join("hook-state.json");
    let b = one_hook(
        &t,
        "createContainer",
        &format!("cat > {}", out_file.display()),
        Some(5),
    );
    let big = "y".repeat(250_000);
    b.args(&["true"])
        .config(|c| c["annotations"] = json!({"org.hull.test.big": big}));
    t.create(&b, "bigcc").ok();
    let state: Value = serde_json::from_str(&fs::read_to_string(&out_file).unwrap())
        .expect("the state is whole JSON");
    assert_eq!(state["annotations"]["org.hull.test.big"], big.as_str());
}

#[test]
fn a_failing_prestart_hook_fails_create_and_leaves_nothing() {
    let t = Test::new();
    let b = one_hook(&t, "prestart", "echo boom >&2; exit 3", None);
    b.args(&["true"]);
    let out = t.create(&b, "pre");
    out.fails_with("prestart").fails_with("boom");
    t.assert_nothing_left("pre");
    for cg in cgroup_dirs(&t.cgroup_parent()) {
        let children: Vec<_> = fs::read_dir(&cg)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.path())
            .collect();
        assert!(children.is_empty(), "cgroup left: {children:?}");
    }
}

#[test]
fn a_failing_create_runtime_or_container_hook_fails_create() {
    let t = Test::new();
    for (kind, id) in [("createRuntime", "crt"), ("createContainer", "cct")] {
        let b = one_hook(&t, kind, "exit 9", None);
        b.args(&["true"]);
        t.create(&b, id).fails_with(kind);
        t.assert_nothing_left(id);
    }
    // A hook's death names the signal.
    for (kind, id) in [("createRuntime", "crt-sig"), ("createContainer", "cct-sig")] {
        let b = one_hook(&t, kind, "echo going >&2; kill -TERM $$", None);
        b.args(&["true"]);
        let want = format!(
            "hooks.{kind}[0]: error running hook /bin/sh: killed by SIGTERM (terminated): going"
        );
        t.create(&b, id).fails_with(&want);
        t.assert_nothing_left(id);
    }
}

#[test]
fn a_failing_poststart_hook_stops_the_container() {
    let t = Test::new();
    let b = one_hook(&t, "poststart", "exit 4", None);
    b.args(&["sleep", "1000"]);
    t.create(&b, "post").ok();
    t.start("post").fails_with("poststart");
    t.wait_status("post", "stopped");
    t.delete("post").ok();
}

#[test]
fn a_failing_poststop_hook_only_warns() {
    let t = Test::new();
    let b = one_hook(&t, "poststop", "echo bad >&2; exit 5", None);
    b.args(&["true"]);
    t.create(&b, "stop").ok();
    t.start("stop").ok();
    t.wait_status("stop", "stopped");
    let out = t.delete("stop");
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("poststop"),
        "{out}"
    );
    assert!(t.state_entries().is_empty());
}

/// Spec v1.3: a failing poststop hook is a warning, and the rest still run.
#[test]
fn every_poststop_hook_runs_after_one_fails() {
    let t = Test::new();
    let b = t.bundle();
    let mark = t.dir.join("second-ran");
    b.args(&["true"]).config(|c| {
        c["hooks"] = json!({"poststop": [
            {"path": "/bin/false"},
            {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", mark.display())]},
        ]})
    });
    t.run(&b, "stops").ok();
    let state: Value = serde_json::from_str(&fs::read_to_string(&mark).unwrap()).unwrap();
    assert_eq!(state["status"], "stopped");
}

/// Lifecycle steps 12-13: a container whose create-time hook failed is
/// destroyed, and its poststop hooks run.
#[test]
fn a_failing_create_time_hook_still_runs_poststop() {
    let t = Test::new();
    for (kind, id) in [
        ("prestart", "pre"),
        ("createRuntime", "crt"),
        ("createContainer", "cct"),
    ] {
        let b = t.bundle();
        let mark = t.dir.join(format!("poststop-{id}"));
        b.args(&["true"]).config(|c| {
            c["hooks"] = json!({
                kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]}],
                "poststop": [{"path": "/bin/sh",
                    "args": ["sh", "-c", format!("cat > {}", mark.display())]}],
            })
        });
        t.create(&b, id).fails_with(kind);
        t.assert_nothing_left(id);
        let state: Value = serde_json::from_str(
            &fs::read_to_string(&mark).unwrap_or_else(|_| panic!("{kind}: no poststop")),
        )
        .unwrap();
        assert_eq!(state["id"], id);
        assert_eq!(state["status"], "stopped");
    }
}

/// startContainer hooks run in the container with its process's
/// environment when they name none (as runc), and one that fails makes
/// `start` fail with the hook's error.
#[test]
fn start_container_hooks_get_the_process_env_and_fail_start() {
    let t = Test::new();
    let dir = t.host_dir("sc");
    let b = t.bundle();
    b.bind(&dir, "/mnt", &["rw"]);
    b.args(&["sleep", "1000"]).env(&["FROM_PROCESS=yes"]);
    b.config(|c| {
        c["hooks"] = json!({"startContainer": [{"path": "/bin/sh",
            "args": ["sh", "-c", "env > /mnt/env"]}]})
    });
    t.create(&b, "scenv").ok();
    t.start("scenv").ok();
    let env = fs::read_to_string(dir.join("env")).unwrap();
    assert!(env.lines().any(|l| l == "FROM_PROCESS=yes"), "{env}");
    t.hull(&["delete", "--force", "scenv"]).ok();

    let b = one_hook(&t, "startContainer", "echo nope >&2; exit 6", None);
    b.args(&["sleep", "1000"]);
    t.create(&b, "scfail").ok();
    let out = t.start("scfail");
    assert_eq!(out.code, 1, "{out}");
    out.fails_with("hooks.startContainer[0]: error running hook /bin/sh: exit status 6: nope");
    t.wait_status("scfail", "stopped");
    t.delete("scfail").ok();
}

#[test]
fn prestart_hook_reads_the_state_like_libnetwork_setkey() {
    // dockerd's hook decodes the state from stdin and needs id and pid.
    let t = Test::new();
    let out_file = t.dir.join("setkey");
    let b = one_hook(
        &t,
        "prestart",
        &format!("cat > {}", out_file.display()),
        Some(5),
    );
    b.args(&["true"]);
    t.create(&b, "setkey").ok();
    let state: Value = serde_json::from_str(&fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(state["id"], "setkey");
    assert_eq!(state["pid"], t.state("setkey")["pid"]);
    assert_eq!(state["status"], "creating");
}

// ---------------------------------------------------------------------------
// Flags engines pass
// ---------------------------------------------------------------------------

#[test]
fn create_writes_the_pid_file_relative_to_its_cwd() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let mut cmd = t.command(&["create", "--bundle", b.path(), "--pid-file=init.pid", "pf"]);
    cmd.current_dir(&t.dir);
    t.output(&mut cmd).ok();
    let pid = fs::read_to_string(t.dir.join("init.pid")).unwrap();
    assert_eq!(pid.trim(), t.state("pf")["pid"].to_string());
}

#[test]
fn preserve_fds_sets_listen_fds() {
    let t = Test::new();
    let b = t.bundle();
    b.sh("echo $LISTEN_FDS $LISTEN_PID; cat <&3; cat <&4; ls /proc/self/fd/5 2>/dev/null || echo no5");
    let mut cmd = t.command(&["run", "--preserve-fds", "2", "--bundle", b.path(), "lfd"]);
    pass_fds(
        &mut cmd,
        vec![
            (host_file(&t, "a", "first\n"), 3),
            (host_file(&t, "b", "second\n"), 4),
            (host_file(&t, "c", "third\n"), 5),
        ],
    );
    let out = t.output(&mut cmd).ok();
    assert_eq!(out.lines(), ["2 1", "first", "second", "no5"], "{out}");
}

/// `/proc/keys` in a container whose config does not mask it.
fn keys(t: &Test, id: &str, extra: &[&str]) -> String {
    let b = t.bundle();
    b.config(|c| {
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p != "/proc/keys");
    })
    .args(&["cat", "/proc/keys"]);
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend(["--bundle", b.path(), id]);
    t.hull(&args).ok().stdout
}

#[test]
fn new_session_keyring_named_after_the_id_unless_no_new_keyring() {
    let t = Test::new();
    // /proc/keys lists the keys the reader possesses: its own session
    // keyring shows as `keyring   <description>: ...`.
    let own = keys(&t, "kr-own", &[]);
    assert!(
        own.lines()
            .any(|l| l.contains(" keyring ") && l.contains(" kr-own: ")),
        "no session keyring named kr-own:\n{own}"
    );
    let kept = keys(&t, "kr-kept", &["--no-new-keyring"]);
    assert!(
        !kept.contains(" kr-kept: "),
        "--no-new-keyring still made a keyring:\n{kept}"
    );
}

fn check_json_log(args: &[&str]) {
    let t = Test::new();
    let log = t.dir.join("log.json");
    let b = t.bundle();
    // A field hull does not know: a warning, which must stay out of the file.
    b.args(&["nosuchprog"])
        .config(|c| c["process"]["hullUnknownField"] = json!(1));
    let log_s = log.to_str().unwrap().to_string();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace("LOG", &log_s).replace("BUNDLE", b.path()))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = t.hull(&args);
    assert_ne!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("hullUnknownField"),
        "no warning:\n{out}"
    );
    assert!(
        out.stderr.contains("executable file not found in $PATH"),
        "{out}"
    );
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // podman decodes the whole file as one object: exactly one line.
    assert_eq!(lines.len(), 1, "{text}");
    let e = &lines[0];
    assert_eq!(e["level"], "error", "{e}");
    assert!(
        e["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found in $PATH")
    );
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    t.assert_nothing_left("jl");
}

#[test]
fn json_log_as_the_containerd_shim_passes_it() {
    check_json_log(&[
        "--log",
        "LOG",
        "--log-format",
        "json",
        "create",
        "--bundle",
        "BUNDLE",
        "jl",
    ]);
}

#[test]
fn json_log_as_conmon_passes_it() {
    check_json_log(&[
        "--log-format=json",
        "--log",
        "LOG",
        "create",
        "--bundle=BUNDLE",
        "jl",
    ]);
}

#[test]
fn delete_force_of_an_unknown_id_succeeds() {
    let t = Test::new();
    t.hull(&["delete", "--force", "ghost"]).ok();
    t.hull(&["delete", "ghost"]).fails_with("does not exist");
    t.hull(&["kill", "ghost", "9"]).fails_with("does not exist");
}

#[test]
fn version_has_the_three_lines_dockerd_parses() {
    let t = Test::new();
    let out = t.hull(&["--version"]).ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("hull version "), "{out}");
    assert!(
        lines[1].starts_with("commit: ") && lines[1].len() > 8,
        "{out}"
    );
    assert!(lines[2].starts_with("spec: 1."), "{out}");
}

#[test]
fn run_detach_and_run_keep() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let started = Instant::now();
    t.run_detached(&b, "rd");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(t.status("rd"), "running");
    t.hull(&["delete", "--force", "rd"]).ok();

    b.sh("exit 3");
    let out = t.hull(&["run", "--keep", "--bundle", b.path(), "rk"]);
    assert_eq!(out.code, 3, "{out}");
    let st = t.state("rk");
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(st["pid"], 0, "{st}");
    t.delete("rk").ok();
    // Without --keep, nothing stays.
    let out = t.run(&b, "rn");
    assert_eq!(out.code, 3, "{out}");
    assert!(t.state_entries().is_empty());
}

#[test]
fn kill_all_signals_every_process() {
    let t = Test::new();
    let b = t.bundle();
    // The init (pid 1, no handler) ignores TERM; its children do not.
    b.sh("sleep 1000 & sleep 1000 & wait; echo done");
    t.run_detached(&b, "ka");
    let pid = t.state("ka")["pid"].as_i64().unwrap();
    wait_for("the children", || {
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .is_ok_and(|c| c.split_whitespace().count() == 2)
    });
    t.kill("ka", "TERM").ok();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        t.status("ka"),
        "running",
        "plain kill reached more than the init"
    );
    t.hull(&["kill", "--all", "ka", "15"]).ok();
    t.wait_status("ka", "stopped");
    t.delete("ka").ok();
}

#[test]
fn global_and_command_flags_in_equals_form() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let root = format!("--root={}", t.root.display());
    let bundle = format!("--bundle={}", b.path());
    let pid_file = t.dir.join("eq.pid");
    let pid_arg = format!("--pid-file={}", pid_file.display());
    // A Command without the harness's --root: register the ID by hand.
    let mut cmd = Command::new(HULL);
    cmd.args([root.as_str(), "create", &bundle, &pid_arg, "eq"])
        .stdin(Stdio::null());
    let out = t.output(&mut cmd).ok();
    assert!(pid_file.exists(), "{out}");
    assert_eq!(t.status("eq"), "created");
    t.hull(&["kill", "eq", "KILL"]).ok();
    t.wait_status("eq", "stopped");
    let mut cmd = Command::new(HULL);
    cmd.args([root.as_str(), "delete", "--force", "eq"]);
    t.output(&mut cmd).ok();
    assert!(t.state_entries().is_empty());
}

// ---------------------------------------------------------------------------
// features
// ---------------------------------------------------------------------------

fn features(t: &Test) -> Value {
    let out = t.hull(&["features"]).ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

#[test]
fn features_validates_against_the_oci_schema() {
    let t = Test::new();
    let doc = features(&t);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/oci-features.schema.json"
    );
    let schema: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("not a valid schema: {e}"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    // What the schema cannot say: the values engines compare.
    assert_eq!(doc["ociVersionMin"], "1.0.0");
    let max = doc["ociVersionMax"].as_str().unwrap();
    let spec_line = t.hull(&["--version"]).ok().lines()[2].to_string();
    assert_eq!(spec_line, format!("spec: {max}"));
    assert_eq!(doc["hooks"].as_array().unwrap().len(), 6);
    let linux = &doc["linux"];
    for (key, want) in [
        ("intelRdt", false),
        ("apparmor", true),
        ("selinux", true),
        ("netDevices", false),
    ] {
        assert_eq!(linux[key]["enabled"], want, "{key}");
    }
    assert_eq!(linux["mountExtensions"]["idmap"]["enabled"], true);
    assert_eq!(linux["seccomp"]["enabled"], true);
    // The systemd driver where it works: systemd as init, pure cgroup v2.
    let systemd = Path::new("/run/systemd/system").is_dir()
        && Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(linux["cgroup"]["systemd"], systemd);
    // As many capabilities as this kernel has.
    let last: usize = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(linux["capabilities"].as_array().unwrap().len(), last + 1);
}

#[test]
fn features_match_what_hull_does() {
    let t = Test::new();
    let doc = features(&t);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    // Every recognised mount option is accepted on a tmpfs mount (the ones
    // that would make the mount unusable are applied to a throwaway dir);
    // the bind-only ones are tested with bind mounts (idmapped_mounts_...).
    let opts = strings(&doc["mountOptions"]);
    assert!(opts.iter().any(|o| o == "tmpcopyup") && opts.iter().any(|o| o == "rbind"));
    let bind_only = ["remount", "bind", "rbind", "idmap", "ridmap"];
    let b = t.bundle();
    for (i, opt) in opts.iter().enumerate() {
        if bind_only.contains(&opt.as_str()) {
            continue;
        }
        b.mount(json!({"destination": format!("/mnt/o{i}"), "type": "tmpfs",
            "source": "tmpfs", "options": [opt]}));
    }
    // /mnt is a tmpfs first, so the shared rootfs gets no new directories.
    b.config(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.insert(
            0,
            json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs"}),
        );
    });
    let out = t.run_sh(&b, "opts", "grep -c ' /mnt/o' /proc/self/mountinfo");
    assert_eq!(out.trim(), (opts.len() - bind_only.len()).to_string());
    // Every namespace listed can be created.
    let b = t.bundle();
    b.config(|c| {
        c["linux"]["namespaces"] = Value::Array(
            strings(&doc["linux"]["namespaces"])
                .iter()
                .filter(|n| *n != "user") // needs id maps, checked elsewhere
                .map(|n| json!({"type": n}))
                .collect(),
        )
    });
    t.run_sh(&b, "ns", "true");
    // Every seccomp action and operator listed loads.
    let actions = strings(&doc["linux"]["seccomp"]["actions"]);
    let ops = strings(&doc["linux"]["seccomp"]["operators"]);
    let mut rules: Vec<Value> = actions
        .iter()
        .filter(|a| *a != "SCMP_ACT_ALLOW" && *a != "SCMP_ACT_NOTIFY")
        .map(|a| json!({"names": ["acct"], "action": a}))
        .collect();
    rules.extend(ops.iter().enumerate().map(|(i, op)| {
        json!({"names": ["syslog"], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1,
               "args": [{"index": 0, "value": 1000 + i, "op": op}]})
    }));
    let b = t.bundle();
    b.config(|c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": doc["linux"]["seccomp"]["archs"],
            "flags": doc["linux"]["seccomp"]["supportedFlags"].as_array().unwrap().iter()
                .filter(|f| *f != "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV").collect::<Vec<_>>(),
            "syscalls": rules,
        })
    });
    assert_eq!(t.run_sh(&b, "sc", "echo ok"), "ok\n");
}

/// `--pidfd-socket` (runc 1.2): the init's and an exec'd process's pidfd
/// arrive over the socket.
#[test]
fn pidfd_socket_gets_the_process_pidfd() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let (listener, sock) = console_socket(&t, "pidfd.sock");
    t.hull(&[
        "create",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "--bundle",
        b.path(),
        "pfd",
    ])
    .ok();
    let (fd, payload) = receive_console(&listener);
    assert_eq!(payload, "pidfd");
    let link = fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    assert_eq!(link.to_str(), Some("anon_inode:[pidfd]"));
    let pid = t.state("pfd")["pid"].as_i64().unwrap();
    let fdinfo = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    assert!(fdinfo.contains(&format!("Pid:\t{pid}\n")), "{fdinfo}");
    t.start("pfd").ok();
    let (listener, sock) = console_socket(&t, "exec-pidfd.sock");
    t.hull(&[
        "exec",
        "--detach",
        "--pidfd-socket",
        sock.to_str().unwrap(),
        "pfd",
        "sleep",
        "999",
    ])
    .ok();
    let (fd, payload) = receive_console(&listener);
    assert_eq!(payload, "pidfd");
    let fdinfo = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    assert!(
        !fdinfo.contains(&format!("Pid:\t{pid}\n")),
        "the exec'd process's, not the init's"
    );
    // Reparented to us (the subreaper): ours to kill, through the pidfd
    // we got, and to reap.
    let exec_pid: i32 = fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("Pid:\t"))
        .unwrap()
        .parse()
        .unwrap();
    // SAFETY: pidfd_send_signal on the pidfd we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            0,
            0,
        )
    };
    assert_eq!(r, 0);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(exec_pid), None);
    t.hull(&["delete", "--force", "pfd"]).ok();
}

/// `hull run` adopts the container's orphans (runc's default), unless
/// `--no-subreaper`: seen from a container without a pid namespace.
#[test]
fn run_is_a_subreaper_unless_told_not_to() {
    let t = Test::new();
    let b = t.bundle();
    b.without_namespace("pid")
        .mount(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}))
        .sh("sh -c 'sleep 30 & echo $! > /tmp/orphan'; sleep 0.2; \
             o=$(cat /tmp/orphan); echo run=$PPID; grep PPid /proc/$o/status; kill $o");
    for (args, adopted) in [(&[][..], true), (&["--no-subreaper"][..], false)] {
        let mut cmd = vec!["run"];
        cmd.extend_from_slice(args);
        cmd.extend(["--bundle", b.path(), "reaper"]);
        let out = t.hull(&cmd).ok();
        let run = out.lines()[0].strip_prefix("run=").unwrap().to_string();
        let ppid = out.lines()[1]
            .split_whitespace()
            .last()
            .unwrap()
            .to_string();
        assert_eq!(ppid == run, adopted, "{args:?}: {out}");
    }
}
