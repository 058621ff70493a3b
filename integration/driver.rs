//! The driver: execdriver Commands run end to end with `hull driver run`
//! (and the library's `driver::run`), checked from inside the container;
//! its bundles run by runc; networking only inside network namespaces the
//! tests make themselves (`unshare --net`), addresses from 192.0.2.0/24.

use crate::harness::*;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Docker's classic default capabilities as a CapEff mask.
const DEFAULT_CAPS: u64 = 0xa80425fb;
const CAP_CHOWN: u64 = 1 << 0;
const CAP_NET_ADMIN: u64 = 1 << 12;

/// A test with a writable rootfs of its own, a bundle root and the IDs of
/// its driver containers, force-deleted on drop (before the Test's own
/// cleanup checks that nothing is left).
struct Env {
    t: Test,
    rootfs: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl Env {
    fn new() -> Env {
        let t = Test::new();
        let rootfs = t.dir.join("rootfs");
        copy_rootfs(&rootfs);
        fs::write(
            rootfs.join("etc/group"),
            "root:x:0:\nwheel:x:10:user\naudio:x:29:user\nuser:x:1000:\n",
        )
        .unwrap();
        Env {
            t,
            rootfs,
            ids: RefCell::new(Vec::new()),
        }
    }

    fn bundle_root(&self) -> PathBuf {
        self.t.dir.join("driver")
    }

    fn cgroup_parent(&self) -> String {
        format!("/{}", self.t.cgroup_parent())
    }

    /// A Command running `sh -c script` in this test's rootfs, with
    /// `extra` keys on top; its env carries the test's marker.
    fn command(&self, id: &str, script: &str, extra: Value) -> Value {
        let mut c = json!({
            "id": id,
            "rootfs": self.rootfs,
            "entrypoint": "sh",
            "arguments": ["-c", script],
            "env": [PATH_ENV, format!("HULL_ITEST={}", self.t.marker())],
        });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        self.ids.borrow_mut().push(id.to_string());
        c
    }

    fn write(&self, doc: &Value) -> PathBuf {
        let name = doc["id"].as_str().unwrap_or("command");
        let path = self.t.dir.join(format!("{name}.json"));
        fs::write(&path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
        path
    }

    /// `hull --root R driver SUB --bundle-root B --cgroup-parent P`
    fn driver_args(&self, sub: &str) -> Vec<String> {
        vec![
            "driver".into(),
            sub.into(),
            "--bundle-root".into(),
            self.bundle_root().display().to_string(),
            "--cgroup-parent".into(),
            self.cgroup_parent(),
        ]
    }

    fn hull_line(&self, sub: &str) -> String {
        let mut line = format!("{HULL} --root {}", self.t.root.display());
        for a in self.driver_args(sub) {
            line += &format!(" {a}");
        }
        line
    }

    /// `hull driver run` of the Command.
    #[track_caller]
    fn run(&self, doc: &Value) -> Out {
        let path = self.write(doc);
        self.run_args(&[path.to_str().unwrap()])
    }

    #[track_caller]
    fn run_args(&self, args: &[&str]) -> Out {
        let mut all = self.driver_args("run");
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.t.hull(&all)
    }

    /// `sh -c script` with `extra`, asserting success; its stdout lines.
    #[track_caller]
    fn lines(&self, id: &str, script: &str, extra: Value) -> Vec<String> {
        let out = self.run(&self.command(id, script, extra)).ok();
        out.stdout.lines().map(String::from).collect()
    }

    /// `hull driver run --pid-file F` in the background, its stdin a pipe
    /// (close it to let a `read` in the container return); returns once
    /// the container runs, with its pid.
    fn spawn(&self, doc: &Value) -> (Child, i32) {
        let path = self.write(doc);
        let pid_file = self
            .t
            .dir
            .join(format!("{}.pid", doc["id"].as_str().unwrap()));
        let out = File::create(
            self.t
                .dir
                .join(format!("{}.out", doc["id"].as_str().unwrap())),
        )
        .unwrap();
        let mut cmd = Command::new(HULL);
        cmd.arg("--root")
            .arg(&self.t.root)
            .args(self.driver_args("run"))
            .arg("--pid-file")
            .arg(&pid_file)
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let mut child = cmd.spawn().unwrap();
        let mut pid = 0;
        let started = eventually(WAIT, || {
            if let Ok(text) = fs::read_to_string(&pid_file) {
                pid = text.trim().parse().unwrap_or(0);
            }
            pid > 0 || child.try_wait().unwrap().is_some()
        });
        if !started || pid == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not start:\n{}", doc["id"], self.output_of(doc));
        }
        (child, pid)
    }

    fn output_of(&self, doc: &Value) -> String {
        fs::read_to_string(
            self.t
                .dir
                .join(format!("{}.out", doc["id"].as_str().unwrap())),
        )
        .unwrap_or_default()
    }

    /// Nothing of a refused or finished Command is left: no state entry,
    /// no bundle, no cgroup.
    #[track_caller]
    fn assert_clean(&self, id: &str) {
        self.t.assert_nothing_left(id);
        assert!(
            !self.bundle_root().join(id).exists(),
            "bundle of {id} left behind"
        );
        let cg = format!("{}/{id}", self.t.cgroup_parent());
        assert!(cgroup_dirs(&cg).is_empty(), "cgroup {cg} left behind");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            if self.t.root.join(id).exists() {
                let _ = self
                    .t
                    .try_output(&mut self.t.command(&["delete", "--force", id]), None);
            }
        }
    }
}

/// A CapEff/CapBnd line's mask.
fn cap_mask(lines: &[String], name: &str) -> u64 {
    let line = lines
        .iter()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {lines:?}"));
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

/// Our own capabilities of a set, from /proc/self/status.
fn own_caps(name: &str) -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let lines: Vec<String> = status.lines().map(String::from).collect();
    cap_mask(&lines, name)
}

/// `bash -c script` in a new network namespace of its own (so nothing
/// touches the host's), `HULL` naming the driver command line.
fn in_netns(e: &Env, script: &str) -> Out {
    let mut cmd = Command::new("unshare");
    cmd.args(["--net", "bash", "-c", script])
        .env("HULL", e.hull_line("run"))
        .env("HULL_BUNDLE", e.hull_line("bundle"))
        .stdin(Stdio::null());
    e.t.output(&mut cmd)
}

// ---------------------------------------------------------------------------
// The process
// ---------------------------------------------------------------------------

#[test]
fn args_env_cwd_user_groups_hostname() {
    let e = Env::new();
    let lines = e.lines(
        "0123456789abcdef0123",
        r#"echo "args:$0:$1"; id; pwd; echo "GREETING=$GREETING HOME=$HOME"; hostname"#,
        json!({
            "arguments": ["-c", r#"echo "args:$0:$1"; id; pwd; echo "GREETING=$GREETING HOME=$HOME"; hostname"#, "zero", "one"],
            "user": "user",
            "working_dir": "/home/user",
            "env": [PATH_ENV, "GREETING=hello world", format!("HULL_ITEST={}", e.t.marker())],
        }),
    );
    assert_eq!(
        lines,
        [
            "args:zero:one",
            "uid=1000(user) gid=1000(user) groups=10(wheel),29(audio)",
            "/home/user",
            "GREETING=hello world HOME=/home/user",
            "0123456789ab",
        ]
    );
}

#[test]
fn user_forms() {
    let e = Env::new();
    let cases = [
        ("", "uid=0(root) gid=0(root)"),
        (
            "1000:29",
            "uid=1000(user) gid=29(audio) groups=10(wheel),29(audio)",
        ),
        (
            "user:wheel",
            "uid=1000(user) gid=10(wheel) groups=10(wheel),29(audio)",
        ),
        ("4242:4343", "uid=4242 gid=4343"),
    ];
    for (i, (user, want)) in cases.iter().enumerate() {
        let lines = e.lines(
            &format!("user{i}"),
            "id",
            json!({"user": user, "hostname": "box"}),
        );
        assert_eq!(lines, [*want], "user {user:?}");
    }
    // Without an env PATH the driver adds the default one.
    let lines = e.lines("nopath", "echo $PATH", json!({"env": null}));
    assert_eq!(
        lines,
        ["/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
}

#[test]
fn exit_codes() {
    let e = Env::new();
    for code in [0, 3, 255] {
        let out = e.run(&e.command(&format!("exit{code}"), &format!("exit {code}"), json!({})));
        assert_eq!(out.code, code, "{out}");
        e.assert_clean(&format!("exit{code}"));
    }
    // Killed by a signal: 128+N (SIGKILL from the host; pid 1 ignores others).
    let doc = e.command("killed", "read x", json!({}));
    let (mut child, pid) = e.spawn(&doc);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert_eq!(wait_exit(&mut child, WAIT), 137, "{}", e.output_of(&doc));
    e.assert_clean("killed");
}

#[test]
fn signals_are_forwarded() {
    let e = Env::new();
    let doc = e.command(
        "sig",
        "trap 'echo got TERM; exit 42' TERM; echo ready; while :; do sleep 0.1; done",
        json!({}),
    );
    let (mut child, _) = e.spawn(&doc);
    wait_for("the trap", || e.output_of(&doc).contains("ready"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(wait_exit(&mut child, WAIT), 42);
    assert!(e.output_of(&doc).contains("got TERM"));
}

#[test]
fn start_callback_gets_the_running_process() {
    let e = Env::new();
    let doc = e.command("cb", "read x; echo bye $x", json!({}));
    let (mut child, pid) = e.spawn(&doc);
    // The pid is the container's process, as `hull state` reports it; it
    // was released to run and execs its program.
    let want = "sh -c read x; echo bye $x ";
    let cmdline = || {
        let bytes = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&bytes).replace('\0', " ")
    };
    wait_for("the program", || cmdline() == want);
    assert_eq!(e.t.state("cb")["pid"], json!(pid));
    assert_eq!(e.t.status("cb"), "running");
    assert_ne!(
        fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        fs::read_link("/proc/self/ns/pid").unwrap()
    );
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"now\n").unwrap();
    drop(stdin);
    assert_eq!(wait_exit(&mut child, WAIT), 0);
    assert_eq!(e.output_of(&doc), "bye now\n");
    e.assert_clean("cb");
}

/// The library API in this process: pipes as stdio, the callback's pid.
#[test]
fn library_run_with_pipes_and_callback() {
    use hull::driver::{Command as DriverCommand, Driver, ExitStatus, Pipes, Stdio as DriverStdio};
    let e = Env::new();
    let doc = e.command(
        "lib",
        "read line; echo \"out:$line\"; echo err >&2; exit 5",
        json!({}),
    );
    let cmd = DriverCommand::from_json(doc.to_string().as_bytes()).unwrap();
    let driver = Driver {
        root: e.bundle_root(),
        state_root: e.t.root.clone(),
        cgroup_parent: e.cgroup_parent(),
    };
    let (in_r, mut in_w) = std::io::pipe().unwrap();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    let pipes = Pipes::new(
        DriverStdio::fd(OwnedFd::from(in_r)),
        DriverStdio::fd(OwnedFd::from(out_w)),
        DriverStdio::fd(OwnedFd::from(err_w)),
    );
    let state_file = e.t.root.join("lib/state.json");
    let mut seen = None;
    let status = driver
        .run(&cmd, pipes, |pid| {
            // Called once the process was started: hull's state has it.
            let state: Value = serde_json::from_slice(&fs::read(&state_file).unwrap()).unwrap();
            seen = Some((pid, state["pid"].clone(), e.t.status("lib")));
            // Its stdin is our pipe: it waits for this line.
            in_w.write_all(b"hello\n").unwrap();
        })
        .unwrap();
    assert_eq!(status, ExitStatus::Exited(5));
    assert_eq!(status.code(), 5);
    let (pid, state_pid, status) = seen.expect("on_start was called");
    assert!(pid > 1);
    assert_eq!(state_pid, json!(pid));
    assert_eq!(status, "running");
    // The driver closed its copies: the pipes are at EOF.
    let mut out = String::new();
    out_r.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    err_r.read_to_string(&mut err).unwrap();
    assert_eq!((out.as_str(), err.as_str()), ("out:hello\n", "err\n"));
    e.assert_clean("lib");
}

/// The library in a threaded program: 8 threads run containers at once,
/// 25 each, while another thread allocates without pause. A child cloned
/// while another thread holds a malloc or stdio lock would wait for it
/// forever (the bug this guards against hung after a few dozen).
#[test]
fn library_run_from_many_threads() {
    use hull::driver::{Command as DriverCommand, Driver, ExitStatus, Pipes};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    // One malloc arena for every thread from here on (as MALLOC_ARENA_MAX=1
    // does): the allocating thread then holds the lock a child needs.
    // (musl's malloc has one lock for all threads anyway.)
    #[cfg(target_env = "gnu")]
    {
        unsafe extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_ARENA_MAX: std::ffi::c_int = -8;
        // SAFETY: a plain setting of glibc's malloc.
        unsafe { mallopt(M_ARENA_MAX, 1) };
    }
    let e = Env::new();
    let driver = Arc::new(Driver {
        root: e.bundle_root(),
        state_root: e.t.root.clone(),
        cgroup_parent: e.cgroup_parent(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut kept: Vec<Vec<u8>> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                kept.push(vec![7u8; 64 + kept.len() % 4096]);
                if kept.len() > 1000 {
                    kept.clear();
                }
            }
        })
    };
    let done = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    for t in 0..THREADS {
        let docs: Vec<String> = (0..ROUNDS)
            .map(|r| {
                e.command(&format!("thr{t}-{r}"), "exit 3", json!({}))
                    .to_string()
            })
            .collect();
        let (driver, done, tx) = (driver.clone(), done.clone(), tx.clone());
        std::thread::spawn(move || {
            for doc in docs {
                let cmd = DriverCommand::from_json(doc.as_bytes()).unwrap();
                let status = driver.run(&cmd, Pipes::null(), |_| {});
                let ok = matches!(status, Ok(ExitStatus::Exited(3)));
                done.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    let _ = tx.send(Err(format!("{}: {status:?}", cmd.id)));
                    return;
                }
            }
            let _ = tx.send(Ok(()));
        });
    }
    drop(tx);
    let deadline = Instant::now() + std::time::Duration::from_secs(180);
    let mut failures = Vec::new();
    for _ in 0..THREADS {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(e),
            Err(_) => panic!(
                "hung: {} of {} containers finished in 180 s",
                done.load(Ordering::Relaxed),
                THREADS * ROUNDS
            ),
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    for t in 0..THREADS {
        for r in 0..ROUNDS {
            e.assert_clean(&format!("thr{t}-{r}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Filesystem and devices
// ---------------------------------------------------------------------------

#[test]
fn bind_mounts_ro_and_rw() {
    let e = Env::new();
    let ro = e.t.host_dir("ro");
    let rw = e.t.host_dir("rw");
    fs::write(ro.join("f"), "from host\n").unwrap();
    let lines = e.lines(
        "mounts",
        "cat /mnt/ro/f; touch /mnt/ro/x 2>/dev/null && echo ro-writable || echo ro-refused; \
         echo hi > /mnt/rw/new && echo rw-ok; grep -E ' /mnt/(ro|rw) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1",
        json!({"mounts": [
            {"source": ro, "destination": "/mnt/ro", "writable": false, "private": true},
            {"source": rw, "destination": "/mnt/rw", "writable": true, "slave": true},
        ]}),
    );
    assert_eq!(
        lines,
        [
            "from host",
            "ro-refused",
            "rw-ok",
            "/mnt/ro ro",
            "/mnt/rw rw"
        ]
    );
    assert_eq!(fs::read_to_string(rw.join("new")).unwrap(), "hi\n");
    assert!(!ro.join("x").exists());
}

#[test]
fn default_filesystems_masked_and_readonly_paths() {
    let e = Env::new();
    let lines = e.lines(
        "fs",
        "for m in /proc /dev /dev/pts /dev/shm /dev/mqueue /sys; do \
         grep \" $m \" /proc/mounts | cut -d' ' -f2,3,4 | cut -d, -f1; done; \
         grep -c ' /proc/timer_list ' /proc/mounts; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo sys-ro; \
         ls /dev | sort | tr '\\n' ' '",
        json!({}),
    );
    assert_eq!(
        lines[..6],
        [
            "/proc proc rw",
            "/dev tmpfs rw",
            "/dev/pts devpts rw",
            "/dev/shm tmpfs rw",
            "/dev/mqueue mqueue rw",
            "/sys sysfs ro"
        ]
    );
    assert_eq!(lines[6], "1", "/proc/timer_list is masked");
    assert_eq!(lines[7], "sys-ro");
    for dev in [
        "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx",
    ] {
        assert!(
            lines[8].split(' ').any(|d| d == dev),
            "/dev/{dev} missing: {}",
            lines[8]
        );
    }
}

#[test]
fn devices_autocreated_and_allowed() {
    let e = Env::new();
    let script = "stat -c '%F %t:%T %a %u:%g' /dev/fuse; (exec 3<>/dev/fuse) && echo fuse-open; \
        mknod /dev/lc c 10 237 && (exec 3</dev/lc) 2>/dev/null && echo loop-control-open; \
        mknod /dev/km c 1 11 && (exec 3</dev/km) 2>/dev/null || echo kmsg-denied";
    let lines = e.lines(
        "devices",
        script,
        json!({
            "autocreated_devices": [{"type": "c", "path": "/dev/fuse", "major_number": 10,
                "minor_number": 229, "file_mode": 432, "uid": 1000, "gid": 29}],
            "allowed_devices": [{"type": 99, "major_number": 10, "minor_number": 237,
                "cgroup_permissions": "rw"}],
        }),
    );
    assert_eq!(
        lines,
        [
            "character special file a:e5 660 1000:29",
            "fuse-open",
            "loop-control-open",
            "kmsg-denied"
        ]
    );
    // Without the rule, loop-control is refused.
    let lines = e.lines(
        "devices2",
        "mknod /dev/lc c 10 237 && (exec 3</dev/lc) 2>/dev/null || echo loop-control-denied",
        json!({}),
    );
    assert_eq!(lines, ["loop-control-denied"]);
}

// ---------------------------------------------------------------------------
// Capabilities, privileged
// ---------------------------------------------------------------------------

#[test]
fn capabilities_default_add_drop() {
    let e = Env::new();
    let caps = "grep -E '^Cap(Eff|Bnd)' /proc/self/status";
    let lines = e.lines("caps0", caps, json!({}));
    assert_eq!(cap_mask(&lines, "CapEff"), DEFAULT_CAPS);
    assert_eq!(cap_mask(&lines, "CapBnd"), DEFAULT_CAPS);

    let lines = e.lines(
        "caps1",
        &format!("{caps}; chown 1000 /tmp 2>/dev/null || echo chown-denied; ip link set lo down && echo net-admin"),
        json!({"cap_add": ["NET_ADMIN"], "cap_drop": ["chown"]}),
    );
    assert_eq!(
        cap_mask(&lines, "CapEff"),
        (DEFAULT_CAPS | CAP_NET_ADMIN) & !CAP_CHOWN
    );
    assert_eq!(lines[2..], ["chown-denied", "net-admin"]);

    let lines = e.lines(
        "caps2",
        caps,
        json!({"cap_drop": ["ALL"], "cap_add": ["CAP_KILL"]}),
    );
    assert_eq!(cap_mask(&lines, "CapEff"), 1 << 5);

    // A non-root user keeps the bounding set only.
    let lines = e.lines("caps3", caps, json!({"user": "user"}));
    assert_eq!(cap_mask(&lines, "CapEff"), 0);
    assert_eq!(cap_mask(&lines, "CapBnd"), DEFAULT_CAPS);
}

#[test]
fn privileged_gets_everything() {
    let e = Env::new();
    let script = "grep -E '^Cap(Eff|Bnd)' /proc/self/status; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
        grep -c ' /proc/timer_list ' /proc/mounts; [ -b /dev/loop0 ] && echo loop0; (exec 3</dev/loop-control) && echo loop-control-open; \
        grep -c Seccomp:.*0 /proc/self/status";
    let lines = e.lines("priv", script, json!({"privileged": true}));
    assert_eq!(cap_mask(&lines, "CapEff"), own_caps("CapPrm"));
    assert_eq!(cap_mask(&lines, "CapBnd"), own_caps("CapPrm"));
    assert_eq!(lines[2..], ["rw", "0", "loop0", "loop-control-open", "1"]);
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

/// `file` of the container's cgroup in whichever hierarchy has it.
fn cgroup_file(cgroup: &str, file: &str) -> Option<String> {
    cgroup_dirs(cgroup)
        .iter()
        .find_map(|d| fs::read_to_string(d.join(file)).ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn resources_and_lxc_config_reach_the_cgroup() {
    let e = Env::new();
    let doc = e.command(
        "res",
        "grep -E ':(memory|cpu,cpuacct|cpu|pids):' /proc/self/cgroup | cut -d: -f3 | sort -u; read x || true",
        json!({
            "resources": {"memory": 64 << 20, "memory_swap": 0, "cpu_shares": 512, "cpuset": "0"},
            "config": {"lxc": ["lxc.cgroup.pids.max = 50", "lxc.cgroup.memory.soft_limit_in_bytes=32M"]},
        }),
    );
    let (mut child, _) = e.spawn(&doc);
    let cg = format!("{}/res", e.t.cgroup_parent());
    let v1 = cgroup_file(&cg, "memory.limit_in_bytes").is_some();
    let want: &[(&str, String)] = if v1 {
        &[
            ("memory.limit_in_bytes", (64u64 << 20).to_string()),
            ("memory.soft_limit_in_bytes", (32u64 << 20).to_string()),
            ("cpu.shares", "512".into()),
            ("cpuset.cpus", "0".into()),
            ("pids.max", "50".into()),
        ]
    } else {
        &[
            ("memory.max", (64u64 << 20).to_string()),
            ("memory.low", (32u64 << 20).to_string()),
            ("cpuset.cpus", "0".into()),
            ("pids.max", "50".into()),
        ]
    };
    for (file, value) in want {
        assert_eq!(cgroup_file(&cg, file).as_ref(), Some(value), "{file}");
    }
    drop(child.stdin.take());
    assert_eq!(wait_exit(&mut child, WAIT), 0, "{}", e.output_of(&doc));
    let inside = e.output_of(&doc);
    assert!(inside.lines().all(|l| l == format!("/{cg}")), "{inside}");
    e.assert_clean("res");
}

// ---------------------------------------------------------------------------
// Networking
// ---------------------------------------------------------------------------

#[test]
fn new_network_namespace_has_loopback_up() {
    let e = Env::new();
    let lines = e.lines(
        "lo",
        "ip -o link | cut -d' ' -f2,3; ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-lo",
        json!({}),
    );
    assert_eq!(lines, ["lo: <LOOPBACK,UP,LOWER_UP>", "ping-lo"]);
    let ns = e.lines("lo2", "readlink /proc/self/ns/net", json!({}));
    assert_ne!(ns[0], host_ns("net"));
    // The network's MTU goes to lo too, as Docker's loopback strategy did.
    let mtu = e.lines(
        "lo3",
        "cat /sys/class/net/lo/mtu",
        json!({"network": {"mtu": 1400}}),
    );
    assert_eq!(mtu, ["1400"]);
}

#[test]
fn two_containers_on_one_bridge_ping_each_other() {
    let e = Env::new();
    let shared = e.t.host_dir("shared");
    let mount = json!([{"source": shared, "destination": "/mnt", "writable": true}]);
    let iface = |ip: &str, mac: &str| {
        json!({"mtu": 1400, "interface": {"ip": ip, "ip_prefix_len": 24, "gateway": "192.0.2.1",
               "mac_address": mac, "bridge": "hullbr0"}})
    };
    // a serves until b is done; b pings a and the bridge.
    let a = e.command(
        "net-a",
        "touch /mnt/a-up; for i in $(seq 200); do [ -e /mnt/b-done ] && exit 0; sleep 0.05; done; exit 9",
        json!({"network": iface("192.0.2.2", "02:42:c0:00:02:02"), "mounts": mount}),
    );
    let b = e.command(
        "net-b",
        "ip -o -4 addr show eth0 | tr -s ' ' | cut -d' ' -f2,4; cat /sys/class/net/eth0/mtu /sys/class/net/eth0/address; \
         ip route | grep default | cut -d' ' -f1-5; ping -c1 -W5 192.0.2.2 >/dev/null && echo ping-a; \
         ping -c1 -W5 192.0.2.1 >/dev/null && echo ping-gateway; touch /mnt/b-done",
        json!({"network": iface("192.0.2.3", "02:42:c0:00:02:03"), "mounts": mount}),
    );
    let (pa, pb) = (e.write(&a), e.write(&b));
    let script = format!(
        "set -e
         ip link add hullbr0 type bridge; ip addr add 192.0.2.1/24 dev hullbr0; ip link set hullbr0 up
         $HULL {pa} > {dir}/a.out 2>&1 & apid=$!
         for i in $(seq 200); do [ -e {shared}/a-up ] && break; sleep 0.05; done
         echo bridge-ports: $(ip -o link show master hullbr0 | cut -d' ' -f2 | cut -d@ -f1 | grep -c hveth)
         $HULL {pb}
         wait $apid; echo a-exit=$?
         echo veths-left: $(ip -o link | grep -c hveth || true)",
        pa = pa.display(),
        pb = pb.display(),
        dir = e.t.dir.display(),
        shared = shared.display()
    );
    let out = in_netns(&e, &script).ok();
    assert_eq!(
        out.lines(),
        [
            "bridge-ports: 1",
            "eth0 192.0.2.3/24",
            "1400",
            "02:42:c0:00:02:03",
            "default via 192.0.2.1 dev eth0",
            "ping-a",
            "ping-gateway",
            "a-exit=0",
            "veths-left: 0",
        ],
        "{out}\na: {}",
        fs::read_to_string(e.t.dir.join("a.out")).unwrap_or_default()
    );
    e.assert_clean("net-a");
    e.assert_clean("net-b");
}

#[test]
fn interface_without_bridge_stays_in_the_callers_namespace() {
    let e = Env::new();
    let c = e.command(
        "veth",
        "ip -o link show eth0 | cut -d' ' -f2 | cut -d@ -f1",
        json!({"network": {"interface": {"ip": "192.0.2.9", "ip_prefix_len": 24}}}),
    );
    let p = e.write(&c);
    let script = format!(
        "$HULL {p} & sleep 0; wait $!; echo exit=$?; echo left: $(ip -o link | grep -c hveth || true)",
        p = p.display()
    );
    let out = in_netns(&e, &script).ok();
    assert_eq!(out.lines(), ["eth0", "exit=0", "left: 0"], "{out}");
}

#[test]
fn network_errors_leave_nothing_behind() {
    let e = Env::new();
    let missing_bridge = e.command(
        "nobridge",
        "true",
        json!({"network": {"interface": {"ip": "192.0.2.2", "ip_prefix_len": 24, "bridge": "nosuchbr"}}}),
    );
    // A gateway outside the subnet fails after the veth exists: rolled back.
    let bad_gateway = e.command(
        "badgw",
        "true",
        json!({"network": {"interface": {"ip": "192.0.2.2", "ip_prefix_len": 24, "gateway": "198.51.100.1"}}}),
    );
    let script = format!(
        "$HULL {a}; echo exit=$?; $HULL {b}; echo exit=$?; echo left: $(ip -o link | grep -c hveth || true)",
        a = e.write(&missing_bridge).display(),
        b = e.write(&bad_gateway).display()
    );
    let out = in_netns(&e, &script);
    assert_eq!(out.lines(), ["exit=1", "exit=1", "left: 0"], "{out}");
    let errs: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errs.len(), 2, "{out}");
    assert!(
        errs[0].contains("command: network.interface.bridge: bridge \"nosuchbr\" does not exist"),
        "{out}"
    );
    assert!(
        errs[1].contains("add default route via 198.51.100.1"),
        "{out}"
    );
    e.assert_clean("nobridge");
    e.assert_clean("badgw");
}

#[test]
fn host_networking_and_container_id() {
    let e = Env::new();
    let host = e.command(
        "hostnet",
        "readlink /proc/self/ns/net",
        json!({"network": {"host_networking": true}}),
    );
    let p = e.write(&host);
    let out = in_netns(
        &e,
        &format!("readlink /proc/self/ns/net; $HULL {}", p.display()),
    )
    .ok();
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0], lines[1],
        "host networking shares the caller's namespace"
    );
    assert_ne!(lines[0], host_ns("net"));

    let a = e.command(
        "owner",
        "readlink /proc/self/ns/net; read x || true",
        json!({}),
    );
    let (mut child, pid) = e.spawn(&a);
    let owner_ns = fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let joined = e.lines(
        "joiner",
        "readlink /proc/self/ns/net; ip -o link | cut -d' ' -f2,3",
        json!({"network": {"container_id": "owner"}}),
    );
    assert_eq!(joined[0], owner_ns.display().to_string());
    assert_eq!(joined[1], "lo: <LOOPBACK,UP,LOWER_UP>");
    drop(child.stdin.take());
    assert_eq!(wait_exit(&mut child, WAIT), 0);
    // Once it is gone, joining it is refused.
    let out = e.run(&e.command(
        "joiner2",
        "true",
        json!({"network": {"container_id": "owner"}}),
    ));
    out.fails_with("command: network.container_id: container \"owner\" does not exist");
}

// ---------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------

#[test]
fn invalid_commands_are_refused_before_anything_is_created() {
    let e = Env::new();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "cap",
            json!({"cap_add": ["NET_BOGUS"]}),
            "command: cap_add[0]: unknown capability \"NET_BOGUS\"",
        ),
        (
            "prefix",
            json!({"network": {"interface": {"ip": "192.0.2.2", "ip_prefix_len": 40}}}),
            "command: network.interface.ip_prefix_len: 40 is out of range",
        ),
        (
            "badip",
            json!({"network": {"interface": {"ip": "192.0.2", "ip_prefix_len": 24}}}),
            "command: network.interface.ip: \"192.0.2\" is not an IPv4 address",
        ),
        (
            "nouser",
            json!({"user": "nobody"}),
            "command: user: unknown user \"nobody\"",
        ),
        (
            "nogroup",
            json!({"user": "user:staff"}),
            "command: user: unknown group \"staff\"",
        ),
        (
            "dev",
            json!({"autocreated_devices": [{"type": "c", "path": "/dev/x", "major_number": -1, "minor_number": 1}]}),
            "command: autocreated_devices[0]: a device node needs a major and a minor number",
        ),
        (
            "devtype",
            json!({"allowed_devices": [{"type": "q"}]}),
            "command: allowed_devices[0].type: 'q'",
        ),
        (
            "noentry",
            json!({"entrypoint": ""}),
            "command: entrypoint: missing",
        ),
        (
            "conf",
            json!({"config": {"native": ["x=1"]}}),
            "command: config: unknown key \"native\"",
        ),
        (
            "lxcfile",
            json!({"config": {"lxc": ["lxc.cgroup.freezer.state=FROZEN"]}}),
            "command: config.lxc[0]: lxc.cgroup.freezer.state: cgroup file \"freezer.state\" is not supported",
        ),
        (
            "lxckey",
            json!({"config": {"lxc": ["lxc.aa_profile=unconfined"]}}),
            "command: config.lxc[0]: lxc.aa_profile: not supported",
        ),
        (
            "unknown",
            json!({"volumes_from": "x"}),
            "unknown field `volumes_from`",
        ),
        (
            "src",
            json!({"mounts": [{"source": "/nonexistent/hull", "destination": "/x"}]}),
            "command: mounts[0].source: /nonexistent/hull: no such file or directory",
        ),
        (
            "mem",
            json!({"resources": {"memory": 100, "memory_swap": 10}}),
            "command: resources.memory_swap: 10 is below memory",
        ),
    ];
    for (id, extra, want) in cases {
        let out = e.run(&e.command(id, "true", extra));
        out.fails_with(want);
        e.assert_clean(id);
    }
    let out = e.run(&json!({"id": "norootfs", "entrypoint": "sh"}));
    out.fails_with("command: rootfs: missing");
    let out =
        e.run(&json!({"id": "rootfs404", "rootfs": "/nonexistent/rootfs", "entrypoint": "sh"}));
    out.fails_with("command: rootfs: /nonexistent/rootfs does not exist");
}

#[test]
fn a_failing_create_is_rolled_back() {
    let e = Env::new();
    let out = e.run(&e.command("noprog", "", json!({"entrypoint": "no-such-program"})));
    out.fails_with("exec: \"no-such-program\": executable file not found in $PATH");
    e.assert_clean("noprog");
    // A running ID is refused; a bundle dir left by a crash is replaced.
    let doc = e.command("twice", "read x || true", json!({}));
    let (mut child, _) = e.spawn(&doc);
    e.run(&doc).fails_with("container \"twice\" already exists");
    drop(child.stdin.take());
    assert_eq!(wait_exit(&mut child, WAIT), 0);
    fs::create_dir_all(e.bundle_root().join("stale")).unwrap();
    fs::write(e.bundle_root().join("stale/config.json"), "{}").unwrap();
    e.run(&e.command("stale", "true", json!({}))).ok();
    e.assert_clean("stale");
}

// ---------------------------------------------------------------------------
// tty
// ---------------------------------------------------------------------------

/// `hull driver run` on a new pty (its controlling terminal) of `rows`x`cols`.
fn spawn_on_pty(e: &Env, path: &Path, pid_file: &Path, rows: u16, cols: u16) -> (Child, OwnedFd) {
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&ws), None).unwrap();
    let slave = File::from(pty.slave);
    let mut cmd = Command::new(HULL);
    cmd.arg("--root")
        .arg(&e.t.root)
        .args(e.driver_args("run"))
        .arg("--pid-file")
        .arg(pid_file)
        .arg(path)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    (child, pty.master)
}

/// Read the pty master until `want` shows up (or it hangs up); all read.
fn read_until(master: &OwnedFd, got: &mut String, want: &str) -> bool {
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 4096];
    while !got.contains(want) && Instant::now() < deadline {
        let mut p = nix::libc::pollfd {
            fd: master.as_raw_fd(),
            events: nix::libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { nix::libc::poll(&mut p, 1, 100) } <= 0 {
            continue;
        }
        match nix::unistd::read(master, &mut buf) {
            Ok(0) | Err(_) => return got.contains(want),
            Ok(n) => got.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    got.contains(want)
}

/// The size of the container's terminal, seen through its stdin.
fn container_tty_size(pid: i32) -> Option<(u16, u16)> {
    let f = File::open(format!("/proc/{pid}/fd/0")).ok()?;
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let r = unsafe { nix::libc::ioctl(f.as_raw_fd(), nix::libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some((ws.ws_row, ws.ws_col))
}

#[test]
fn tty_relays_resizes_and_exits() {
    let e = Env::new();
    let doc = e.command(
        "tty",
        "tty; stty size; [ -t 0 ] && [ -t 2 ] && echo all-tty; read a; stty size; read b; stty size; \
         echo \"got:$a,$b\"; exit 3",
        json!({"tty": true}),
    );
    let path = e.write(&doc);
    let pid_file = e.t.dir.join("tty.pid");
    let (mut child, master) = spawn_on_pty(&e, &path, &pid_file, 33, 101);
    let mut got = String::new();
    assert!(read_until(&master, &mut got, "all-tty"), "{got:?}");
    assert!(got.contains("/dev/pts/0\r\n33 101\r\n"), "{got:?}");
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Resize our terminal: hull gets SIGWINCH and resizes the container's.
    let ws = nix::libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    assert_eq!(
        // SAFETY: TIOCSWINSZ reads one winsize.
        unsafe { nix::libc::ioctl(master.as_raw_fd(), nix::libc::TIOCSWINSZ, &ws) },
        0
    );
    wait_for("the resize", || container_tty_size(pid) == Some((40, 120)));
    nix::unistd::write(&master, b"one\r").unwrap();
    assert!(read_until(&master, &mut got, "40 120\r\n"), "{got:?}");
    // The library's resize, by pid.
    hull::driver::resize(pid, 50, 130).unwrap();
    nix::unistd::write(&master, b"two\r").unwrap();
    assert!(read_until(&master, &mut got, "got:one,two"), "{got:?}");
    assert!(got.contains("50 130\r\n"), "{got:?}");
    assert_eq!(wait_exit(&mut child, WAIT), 3);
    e.assert_clean("tty");
}

#[test]
fn tty_with_pipes_instead_of_a_terminal() {
    let e = Env::new();
    let doc = e.command(
        "ttypipe",
        "[ -t 1 ] && echo stdout-is-a-tty; read x; echo got:$x",
        json!({"tty": true}),
    );
    let path = e.write(&doc);
    let mut cmd = e.t.command(&[]);
    cmd.args(e.driver_args("run")).arg(&path);
    let out = e.t.try_output(&mut cmd, Some(b"piped\n")).unwrap().ok();
    assert!(out.stdout.contains("stdout-is-a-tty\r\n"), "{out}");
    assert!(out.stdout.contains("got:piped\r\n"), "{out}");
}

// ---------------------------------------------------------------------------
// The bundle, runc, the examples
// ---------------------------------------------------------------------------

/// What the differential test prints from inside: everything deterministic
/// the config controls (how a path is masked is the runtime's business:
/// runc binds its /dev/null, hull the host's).
const PROBE: &str = "id; pwd; hostname; env | sort; grep -E '^(Cap|Uid|Gid|Groups|NoNewPrivs|Seccomp:)' /proc/self/status; \
    awk '{ print $2, ($2 ~ MASKED) ? \"masked\" : $3 \" \" $4 }' MASKED='^/(proc/(acpi|asound|kcore|keys|latency_stats|timer_list|timer_stats|sched_debug|scsi)|sys/firmware)$' /proc/mounts | sort; ls -A /dev | sort | tr '\\n' ' '; echo; \
    stat -c '%n %F %t:%T %a %u:%g' /dev/null /dev/fuse /dev/tty; ip -o link | cut -d' ' -f2,3; \
    touch /mnt/ro/x 2>&1; echo w > /mnt/rw/w && echo rw-ok; \
    (exec 3<>/dev/fuse) && echo fuse-open; echo nofile $(ulimit -n); cat /proc/self/oom_score_adj";

/// The open-files limit a container gets when its config sets none: the
/// runtime's own, inherited. Ours for hull; runc (Go >= 1.19) raises its
/// soft limit to the hard one at start, and runc 1.1 passes that on, so
/// its containers see either (the same where soft = hard, as on this
/// host; 1024 against 524288 in a systemd service). Checked apart from the
/// other lines: hull's must be ours exactly, runc's one of the two.
fn nofile_lines(out: &Out) -> (Vec<&str>, String) {
    let (nofile, rest): (Vec<&str>, Vec<&str>) = out
        .lines()
        .into_iter()
        .partition(|l| l.starts_with("nofile "));
    assert_eq!(nofile.len(), 1, "{out}");
    (rest, nofile[0].to_string())
}

#[test]
fn the_bundle_run_by_runc_behaves_the_same() {
    if !Path::new("/usr/sbin/runc").exists() {
        eprintln!("runc not installed: skipped");
        return;
    }
    let e = Env::new();
    let ro = e.t.host_dir("ro");
    let rw = e.t.host_dir("rw");
    let base = json!({
        "working_dir": "/tmp",
        "hostname": "diff",
        "env": [PATH_ENV, "A=1", format!("HULL_ITEST={}", e.t.marker())],
        "mounts": [{"source": ro, "destination": "/mnt/ro"}, {"source": rw, "destination": "/mnt/rw", "writable": true}],
        "autocreated_devices": [{"type": "c", "path": "/dev/fuse", "major_number": 10, "minor_number": 229}],
        "resources": {"memory": 64 << 20},
    });
    let variants = [
        (
            "diff-root",
            json!({"cap_add": ["NET_ADMIN"], "cap_drop": ["MKNOD"]}),
        ),
        ("diff-user", json!({"user": "user:wheel"})),
        ("diff-priv", json!({"privileged": true})),
    ];
    for (id, extra) in variants {
        let mut fields = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            fields[k] = v.clone();
        }
        let doc = e.command(id, PROBE, fields);
        let path = e.write(&doc);
        let ours = e.run(&doc);
        let out_dir = e.t.dir.join(format!("bundle-{id}"));
        let mut bundle = e.driver_args("bundle");
        bundle.extend(["--out".to_string(), out_dir.display().to_string()]);
        bundle.push(path.display().to_string());
        let bundle: Vec<&str> = bundle.iter().map(String::as_str).collect();
        e.t.hull(&bundle).ok();
        let _ = fs::remove_file(rw.join("w"));
        let runc_root = e.t.dir.join("runc");
        let mut runc = Command::new("/usr/sbin/runc");
        runc.arg("--root")
            .arg(&runc_root)
            .args(["run", "--bundle"])
            .arg(&out_dir)
            .arg(id)
            .stdin(Stdio::null());
        let theirs = e.t.output(&mut runc);
        let _ = Command::new("/usr/sbin/runc")
            .arg("--root")
            .arg(&runc_root)
            .args(["delete", "--force", id])
            .output();
        assert_eq!(ours.code, 0, "hull: {ours}");
        assert_eq!(theirs.code, 0, "runc: {theirs}");
        let ((a, ours_nofile), (b, theirs_nofile)) = (nofile_lines(&ours), nofile_lines(&theirs));
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(ours_nofile, format!("nofile {soft}"), "{id}: hull");
        assert!(
            [soft, hard]
                .iter()
                .any(|n| theirs_nofile == format!("nofile {n}")),
            "{id}: runc: {theirs_nofile}, ours {soft}/{hard}"
        );
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(
                x, y,
                "{id}: line {i} differs\nhull:\n{}\nrunc:\n{}",
                ours.stdout, theirs.stdout
            );
        }
        assert_eq!(
            a.len(),
            b.len(),
            "{id}\nhull:\n{}\nrunc:\n{}",
            ours.stdout,
            theirs.stdout
        );
        e.assert_clean(id);
    }
}

#[test]
fn every_example_runs() {
    let e = Env::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rootfs = e.t.dir.join("example-rootfs");
    let made = Command::new("bash")
        .arg(repo.join("schemas/examples/make-rootfs.sh"))
        .arg(&rootfs)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut names: Vec<PathBuf> = fs::read_dir(repo.join("schemas/examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    for path in names {
        let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            doc["rootfs"],
            "/var/lib/hull/examples/rootfs",
            "{}",
            path.display()
        );
        e.ids
            .borrow_mut()
            .push(doc["id"].as_str().unwrap().to_string());
        // As a user would run it, with --rootfs for the test's copy; in a
        // namespace of its own for the one with an interface.
        let script = format!("$HULL --rootfs {} {}", rootfs.display(), path.display());
        let out = in_netns(&e, &script);
        assert_eq!(out.code, 0, "{}: {out}", path.display());
        assert!(!out.stdout.is_empty(), "{}: {out}", path.display());
        e.assert_clean(doc["id"].as_str().unwrap());
    }
}
