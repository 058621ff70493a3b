//! The test harness: a busybox rootfs built once per test process, bundles
//! with a runc-like default config, wrappers around the `hull` binary, and
//! the per-test `Test` context whose `Drop` is the cleanup guard.
//!
//! Every test gets its own directory `<tmp>/hull-itest-<pid>/<n>-<test>/`
//! holding the state root (`state/`), its bundles and any host dirs it
//! mounts. Every process of a test carries that directory in its command
//! line (`hull --root ...`) or its environment (`HULL_ITEST=...` is in the
//! default config), and every mount it could leak would name it, so the
//! cleanup can prove that nothing is left behind.

use serde_json::{Value, json};
use std::cell::{Cell, RefCell};
use std::ffi::c_int;
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const HULL: &str = env!("CARGO_BIN_EXE_hull");
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// This host's architecture as the tests meet it: `uname -m` in a
/// container natively and under PER_LINUX32, the Go name engines match
/// seccomp profile rules with, and the seccomp architectures an engine
/// writes into config.json (native first).
pub struct HostArch {
    pub machine: &'static str,
    pub machine32: &'static str,
    pub goarch: &'static str,
    pub seccomp: [&'static str; 2],
}

#[cfg(target_arch = "x86_64")]
pub const ARCH: HostArch = HostArch {
    machine: "x86_64",
    machine32: "i686",
    goarch: "amd64",
    seccomp: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
};
#[cfg(target_arch = "aarch64")]
pub const ARCH: HostArch = HostArch {
    machine: "aarch64",
    machine32: "armv8l",
    goarch: "arm64",
    seccomp: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
};

/// Longest a single hull command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest to wait for a container to reach some state.
pub const WAIT: Duration = Duration::from_secs(10);

unsafe extern "C" {
    fn atexit(cb: extern "C" fn()) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn geteuid() -> u32;
    fn prctl(option: c_int, ...) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
}

// ---------------------------------------------------------------------------
// The shared base dir and rootfs
// ---------------------------------------------------------------------------

static BASE: OnceLock<PathBuf> = OnceLock::new();

/// `<tmp>/hull-itest-<pid>`, removed when the test process exits.
fn base() -> &'static Path {
    BASE.get_or_init(|| {
        assert_eq!(
            // SAFETY: plain libc call.
            unsafe { geteuid() },
            0,
            "the integration tests must run as root"
        );
        let dir = std::env::temp_dir().join(format!("hull-itest-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create test base dir");
        // SAFETY: registers a plain function without captured state.
        unsafe { atexit(remove_base) };
        // Container inits outlive the `hull create` that forked them: make
        // them our children rather than pid 1's, so the cleanup reaps them.
        const PR_SET_CHILD_SUBREAPER: c_int = 36;
        assert_eq!(
            // SAFETY: plain prctl.
            unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1 as std::ffi::c_ulong) },
            0,
            "become a subreaper"
        );
        dir
    })
}

extern "C" fn remove_base() {
    if let Some(dir) = BASE.get() {
        // Never recurse into a leaked mount: it may be a host directory.
        if mounts_naming(&dir.display().to_string()).is_empty() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// The busybox rootfs every `Test::bundle` shares (read-only containers
/// only: nothing may write into it, not even a missing mount point).
pub fn shared_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = base().join("rootfs");
        build_rootfs(&dir);
        dir
    })
}

/// A minimal image: static busybox with one symlink per applet, a passwd
/// with root and `user` (1000), and the usual top-level directories.
fn build_rootfs(dir: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: the integration tests need the static busybox (apt-get install busybox-static)"
    );
    for d in [
        "bin",
        "etc",
        "proc",
        "sys",
        "dev",
        "tmp",
        "root",
        "home/user",
        "mnt",
    ] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy(busybox, dir.join("bin/busybox")).unwrap();
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", dir.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
    )
    .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nuser:x:1000:\n").unwrap();
}

// ---------------------------------------------------------------------------
// Bundles
// ---------------------------------------------------------------------------

/// `hull spec`'s default (runc's), without cgroup resources, with the
/// test marker in the environment, no terminal and the given root.
fn default_config(root_path: &str, readonly: bool, marker: &str, cgroup: &str) -> Value {
    let mut c = serde_json::to_value(hull::config::default_spec()).unwrap();
    c["process"]["terminal"] = json!(false);
    c["process"]["env"] = json!([PATH_ENV, "TERM=xterm", format!("HULL_ITEST={marker}")]);
    c["root"] = json!({"path": root_path, "readonly": readonly});
    c["linux"]["cgroupsPath"] = json!(cgroup);
    c["linux"].as_object_mut().unwrap().remove("resources");
    c
}

/// A bundle directory whose config.json is rewritten on every change.
pub struct Bundle {
    pub dir: PathBuf,
    /// The rootfs as seen from the host.
    pub rootfs: PathBuf,
    config: RefCell<Value>,
}

impl Bundle {
    fn new(dir: PathBuf, rootfs: PathBuf, config: Value) -> Bundle {
        fs::create_dir_all(&dir).unwrap();
        let b = Bundle {
            dir,
            rootfs,
            config: RefCell::new(config),
        };
        b.write();
        b
    }

    fn write(&self) {
        let text = serde_json::to_string_pretty(&*self.config.borrow()).unwrap();
        fs::write(self.dir.join("config.json"), text).unwrap();
    }

    pub fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// linux.cgroupsPath of the config (one of its own per bundle).
    pub fn cgroups_path(&self) -> String {
        self.config.borrow()["linux"]["cgroupsPath"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Change the config: `b.config(|c| c["hostname"] = json!("x"))`.
    pub fn config(&self, edit: impl FnOnce(&mut Value)) -> &Bundle {
        edit(&mut self.config.borrow_mut());
        self.write();
        self
    }

    pub fn args(&self, args: &[&str]) -> &Bundle {
        self.config(|c| c["process"]["args"] = json!(args))
    }

    /// `sh -c script` as the container's process.
    pub fn sh(&self, script: &str) -> &Bundle {
        self.args(&["sh", "-c", script])
    }

    /// Add variables to process.env.
    pub fn env(&self, vars: &[&str]) -> &Bundle {
        self.config(|c| {
            let env = c["process"]["env"].as_array_mut().unwrap();
            env.extend(vars.iter().map(|v| json!(v)));
        })
    }

    pub fn mount(&self, m: Value) -> &Bundle {
        self.config(|c| c["mounts"].as_array_mut().unwrap().push(m))
    }

    /// A bind mount of a host path (`rbind` plus `opts`).
    pub fn bind(&self, src: &Path, dst: &str, opts: &[&str]) -> &Bundle {
        let mut options = vec!["rbind"];
        options.extend_from_slice(opts);
        self.mount(json!({"destination": dst, "type": "bind", "source": src, "options": options}))
    }

    pub fn without_namespace(&self, typ: &str) -> &Bundle {
        self.config(|c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != typ);
        })
    }

    /// Replace (or add) the namespace entry of this type.
    pub fn namespace(&self, typ: &str, path: Option<&str>) -> &Bundle {
        self.without_namespace(typ);
        let entry = match path {
            Some(p) => json!({"type": typ, "path": p}),
            None => json!({"type": typ}),
        };
        self.config(|c| c["linux"]["namespaces"].as_array_mut().unwrap().push(entry))
    }
}

// ---------------------------------------------------------------------------
// Running hull
// ---------------------------------------------------------------------------

/// What a hull command did.
pub struct Out {
    pub cmd: String,
    /// The exit code, or 128+N when killed by signal N.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "`{}` exited {}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    /// Assert success; returns self for chaining.
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    /// Assert failure with exactly one error line on stderr that contains `needle`.
    #[track_caller]
    pub fn fails_with(&self, needle: &str) -> &Out {
        assert_ne!(self.code, 0, "expected failure:\n{self}");
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "expected exactly one error line:\n{self}");
        assert!(
            lines[0].contains(needle),
            "expected the error to contain {needle:?}:\n{self}"
        );
        self
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn exit_code(st: ExitStatus) -> i32 {
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn wait_child(child: &mut std::process::Child, what: &str) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("{what}: wait: {e}"))? {
            return Ok(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{what}: timed out after {COMMAND_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Let the spawned command inherit each `(file, fd)` as that fd number,
/// not close-on-exec.
pub fn pass_fds(cmd: &mut Command, files: Vec<(File, c_int)>) {
    const F_DUPFD_CLOEXEC: c_int = 1030;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // First move every source above the targets, so that no dup2
            // below closes a source that happens to sit on a target.
            let mut high = Vec::new();
            for (file, _) in &files {
                let fd = fcntl(file.as_raw_fd(), F_DUPFD_CLOEXEC, 100);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(fd);
            }
            for (fd, (_, target)) in high.iter().zip(&files) {
                if dup2(*fd, *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------
// Host checks
// ---------------------------------------------------------------------------

/// Host mountinfo lines that name `needle`.
pub fn mounts_naming(needle: &str) -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// Pids of live processes (not zombies) whose command line or environment
/// contains `needle`.
pub fn processes_naming(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let read = |f: &str| fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default();
        let named = |bytes: Vec<u8>| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        if named(read("cmdline")) || named(read("environ")) {
            pids.push(pid);
        }
    }
    pids
}

/// A process as recorded: its pid and its start time (/proc/PID/stat field
/// 22), since a pid alone may be another process's by the time we look.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Proc {
    pid: i32,
    start: u64,
}

impl Proc {
    /// The process `pid` is now.
    fn now(pid: i32) -> Option<Proc> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command name's closing parenthesis: field 3 onward.
        let rest = &stat[stat.rfind(')')? + 2..];
        let start = rest.split_whitespace().nth(19)?.parse().ok()?;
        Some(Proc { pid, start })
    }
}

/// Reap `p` if it is (or becomes, within WAIT) a zombie child of ours;
/// false if it is still running. A pid that is now another process's (a
/// command another test runs, say) is left alone.
fn reap(p: Proc) -> bool {
    const WNOHANG: c_int = 1;
    eventually(WAIT, || {
        if Proc::now(p.pid) != Some(p) {
            return true; // gone (reaped by pid 1), or not the one we knew
        }
        let mut status = 0;
        // SAFETY: plain waitpid on one pid; never touches other children.
        let r = unsafe { waitpid(p.pid, &mut status, WNOHANG) };
        r != 0 // reaped, or not our child (pid 1 reaps it)
    })
}

/// Poll `cond` until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[track_caller]
pub fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(
        eventually(WAIT, cond),
        "timed out after {WAIT:?} waiting for {what}"
    );
}

/// `net:[4026531840]`: the test process's own namespace of this type.
pub fn host_ns(typ: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{typ}"))
        .unwrap()
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------
// The per-test context and cleanup guard
// ---------------------------------------------------------------------------

/// One test's directory, state root and containers. Dropping it (also when
/// the test panics) force-deletes every container the test made, then
/// checks that no state entry, process or mount is left and removes the
/// directory.
pub struct Test {
    pub dir: PathBuf,
    /// The `--root` of every hull command of this test.
    pub root: PathBuf,
    ids: RefCell<Vec<String>>,
    /// Inits of created or detached containers: ours to reap.
    inits: RefCell<Vec<Proc>>,
    counter: Cell<u32>,
}

impl Test {
    pub fn new() -> Test {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = std::thread::current()
            .name()
            .unwrap_or("test")
            .replace("::", "-");
        let dir = base().join(format!("{n}-{name}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Test {
            root: dir.join("state"),
            dir,
            ids: RefCell::new(Vec::new()),
            inits: RefCell::new(Vec::new()),
            counter: Cell::new(0),
        }
    }

    /// Names this test's processes and mounts, and nothing else.
    pub fn marker(&self) -> String {
        format!("{}/", self.dir.display())
    }

    fn next(&self) -> u32 {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        n
    }

    /// This test's parent cgroup (a name in every hierarchy): containers of
    /// two tests never share a cgroup, whatever their IDs.
    pub fn cgroup_parent(&self) -> String {
        format!(
            "hull-itest-{}",
            self.dir.file_name().unwrap().to_string_lossy()
        )
    }

    /// A cgroupsPath of its own for each bundle.
    fn next_cgroup(&self) -> String {
        format!("/{}/b{}", self.cgroup_parent(), self.counter.get() + 1)
    }

    /// A new empty host directory in the test dir.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.join(name);
        fs::create_dir_all(&d).unwrap();
        d
    }

    /// A bundle on the shared rootfs, `root.readonly` true. The container
    /// must not create anything in the rootfs: mount only onto paths the
    /// image has (/mnt, /tmp, /home, ...).
    pub fn bundle(&self) -> Bundle {
        let dir = self.dir.join(format!("bundle{}", self.next()));
        let rootfs = shared_rootfs().to_path_buf();
        let config = default_config(
            rootfs.to_str().unwrap(),
            true,
            &self.marker(),
            &self.next_cgroup(),
        );
        Bundle::new(dir, rootfs, config)
    }

    /// A bundle with its own copy of the rootfs (`root.path` "rootfs",
    /// relative to the bundle), `root.readonly` false.
    pub fn bundle_own_rootfs(&self) -> Bundle {
        let dir = self.dir.join(format!("bundle{}", self.next()));
        fs::create_dir_all(&dir).unwrap();
        let rootfs = dir.join("rootfs");
        copy_rootfs(&rootfs);
        let config = default_config("rootfs", false, &self.marker(), &self.next_cgroup());
        Bundle::new(dir, rootfs, config)
    }

    /// `hull --root <root> args...` (stdin null), not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HULL);
        cmd.arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Run a command to completion with stdout and stderr in files (so a
    /// detached container holding them open cannot block us), feeding
    /// `input` on stdin if given. A `create` or `run` registers its ID
    /// (the last argument) for cleanup.
    pub fn try_output(&self, cmd: &mut Command, input: Option<&[u8]>) -> Result<Out, String> {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let new_id = args
            .iter()
            .any(|a| a == "create" || a == "run" || a == "restore")
            .then(|| args.last().cloned())
            .flatten();
        if let Some(id) = &new_id {
            let mut ids = self.ids.borrow_mut();
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        let n = self.next();
        let (out_path, err_path) = (
            self.dir.join(format!("out{n}")),
            self.dir.join(format!("err{n}")),
        );
        cmd.stdout(File::create(&out_path).unwrap())
            .stderr(File::create(&err_path).unwrap());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let line = format!("hull {}", args.join(" "));
        let mut child = cmd.spawn().map_err(|e| format!("spawn {line}: {e}"))?;
        if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
            let _ = stdin.write_all(data);
        }
        let status = wait_child(&mut child, &line)?;
        if let Some(id) = &new_id {
            // A created or detached container's init is now our child.
            if let Some(p) = self.container_proc(id) {
                self.inits.borrow_mut().push(p);
            }
        }
        let read = |p: &Path| {
            let s = String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
            let _ = fs::remove_file(p);
            s
        };
        let out = Out {
            cmd: line,
            code: exit_code(status),
            stdout: read(&out_path),
            stderr: read(&err_path),
        };
        if std::env::var_os("HULL_ITEST_VERBOSE").is_some() {
            eprintln!("{out}");
        }
        Ok(out)
    }

    #[track_caller]
    pub fn output(&self, cmd: &mut Command) -> Out {
        self.try_output(cmd, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Take container `id`, made by a command run outside
    /// [`Test::try_output`], into the cleanup: deleted and its init reaped.
    pub fn adopt(&self, id: &str) {
        let mut ids = self.ids.borrow_mut();
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
        if let Some(p) = self.container_proc(id) {
            self.inits.borrow_mut().push(p);
        }
    }

    /// `hull --root <root> args...`
    #[track_caller]
    pub fn hull(&self, args: &[&str]) -> Out {
        self.output(&mut self.command(args))
    }

    /// `hull run --bundle B ID`: the container's exit code and output.
    #[track_caller]
    pub fn run(&self, b: &Bundle, id: &str) -> Out {
        self.hull(&["run", "--bundle", b.path(), id])
    }

    /// `sh -c script` in the bundle's container with `hull run`, asserting
    /// success; its stdout.
    #[track_caller]
    pub fn run_sh(&self, b: &Bundle, id: &str, script: &str) -> String {
        b.sh(script);
        self.run(b, id).ok().stdout
    }

    /// `hull run`, with `input` on the container's stdin.
    #[track_caller]
    pub fn run_with_stdin(&self, b: &Bundle, id: &str, input: &[u8]) -> Out {
        let mut cmd = self.command(&["run", "--bundle", b.path(), id]);
        self.try_output(&mut cmd, Some(input))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// `hull run --detach`, asserting success.
    #[track_caller]
    pub fn run_detached(&self, b: &Bundle, id: &str) -> Out {
        self.hull(&["run", "--detach", "--bundle", b.path(), id])
            .ok()
    }

    #[track_caller]
    pub fn create(&self, b: &Bundle, id: &str) -> Out {
        self.hull(&["create", "--bundle", b.path(), id])
    }

    #[track_caller]
    pub fn start(&self, id: &str) -> Out {
        self.hull(&["start", id])
    }

    #[track_caller]
    pub fn kill(&self, id: &str, signal: &str) -> Out {
        self.hull(&["kill", id, signal])
    }

    #[track_caller]
    pub fn delete(&self, id: &str) -> Out {
        self.hull(&["delete", id])
    }

    /// `hull state ID`, asserting success, as JSON.
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let out = self.hull(&["state", id]).ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}):\n{out}"))
    }

    #[track_caller]
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) {
        wait_for(&format!("container {id} to be {want}"), || {
            self.status(id) == want
        });
    }

    /// The state root's entries.
    pub fn state_entries(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        rd.flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// The init pid in a container's state file, if it has one.
    /// The init of container `id` as its state records it, if that
    /// process still runs (or is a zombie).
    fn container_proc(&self, id: &str) -> Option<Proc> {
        let bytes = fs::read(self.root.join(id).join("state.json")).ok()?;
        let state: Value = serde_json::from_slice(&bytes).ok()?;
        let pid = state["pid"].as_i64()? as i32;
        let recorded = Proc {
            pid,
            start: state["start_time"].as_u64()?,
        };
        (Proc::now(pid) == Some(recorded)).then_some(recorded)
    }

    /// The inits of the containers that still exist.
    fn live_container_procs(&self) -> Vec<Proc> {
        self.state_entries()
            .iter()
            .filter_map(|id| self.container_proc(id))
            .collect()
    }

    /// After a failed command on `id`: no state entry for it, no process
    /// of this test but the inits of containers that still exist, and no
    /// mount on the host naming the test dir.
    #[track_caller]
    pub fn assert_nothing_left(&self, id: &str) {
        assert!(
            !self.root.join(id).exists(),
            "state entry {id} left behind in {}",
            self.root.display()
        );
        let allowed: Vec<i32> = self.live_container_procs().iter().map(|p| p.pid).collect();
        let mut stray = Vec::new();
        let gone = eventually(WAIT, || {
            stray = processes_naming(&self.marker())
                .into_iter()
                .filter(|p| !allowed.contains(p))
                .collect();
            stray.is_empty()
        });
        assert!(gone, "processes left behind: {}", describe(&stray));
        let mounts = mounts_naming(&self.marker());
        assert!(
            mounts.is_empty(),
            "mounts left behind on the host:\n{}",
            mounts.join("\n")
        );
    }

    /// Everything the cleanup found wrong (empty when all is clean).
    fn cleanup(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut inits = self.inits.borrow().clone();
        inits.extend(self.live_container_procs());
        let ids = self.ids.borrow().clone();
        for id in &ids {
            if let Err(e) = self.try_output(&mut self.command(&["delete", "--force", id]), None) {
                problems.push(e);
            }
        }
        let left = self.state_entries();
        if !left.is_empty() {
            problems.push(format!(
                "state root not empty after delete --force: {left:?}"
            ));
        }
        let mut stray = Vec::new();
        if !eventually(WAIT, || {
            stray = processes_naming(&self.marker());
            stray.is_empty()
        }) {
            problems.push(format!("processes left behind: {}", describe(&stray)));
            let procs: Vec<Proc> = stray.iter().filter_map(|&pid| Proc::now(pid)).collect();
            for p in &procs {
                let _ = Command::new("kill")
                    .args(["-9", &p.pid.to_string()])
                    .status();
            }
            inits.extend(procs);
        }
        for p in inits {
            if !reap(p) {
                problems.push(format!("process {} did not exit", p.pid));
            }
        }
        for dir in cgroup_dirs(&self.cgroup_parent()) {
            // Containers' cgroups are hull's to remove; the parent is ours.
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten().filter(|e| e.path().is_dir()) {
                    problems.push(format!("cgroup left behind: {}", e.path().display()));
                    let _ = fs::remove_dir(e.path());
                }
            }
            let _ = fs::remove_dir(&dir);
        }
        let mounts = mounts_naming(&self.marker());
        if !mounts.is_empty() {
            problems.push(format!(
                "mounts left behind on the host:\n{}",
                mounts.join("\n")
            ));
            // Undo them, deepest first, so the test dir can go.
            let mut points: Vec<&str> = mounts.iter().filter_map(|l| l.split(' ').nth(4)).collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                let _ = Command::new("umount").args(["-l", p]).status();
            }
        }
        if mounts_naming(&self.marker()).is_empty()
            && let Err(e) = fs::remove_dir_all(&self.dir)
        {
            problems.push(format!("remove {}: {e}", self.dir.display()));
        }
        problems
    }
}

impl Drop for Test {
    fn drop(&mut self) {
        let problems = self.cleanup();
        if problems.is_empty() {
            return;
        }
        let text = format!(
            "cleanup of {}:\n{}",
            self.dir.display(),
            problems.join("\n")
        );
        if std::thread::panicking() {
            eprintln!("{text}");
        } else {
            panic!("{text}");
        }
    }
}

/// The directory named `name` under every cgroup hierarchy root.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir("/sys/fs/cgroup") else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join(name))
        .filter(|d| d.is_dir())
        .collect();
    let unified = PathBuf::from("/sys/fs/cgroup").join(name);
    if unified.is_dir() && !dirs.contains(&unified) {
        dirs.push(unified);
    }
    dirs
}

/// `pid (cmdline)` for each pid, for error messages.
fn describe(pids: &[i32]) -> String {
    pids.iter()
        .map(|p| {
            let cmd = fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            format!("{p} ({})", cmd.trim())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A writable copy of the shared busybox rootfs at `dest`.
pub fn copy_rootfs(dest: &Path) {
    let cp = Command::new("cp")
        .arg("-a")
        .arg(shared_rootfs())
        .arg(dest)
        .status()
        .unwrap();
    assert!(cp.success(), "copy rootfs to {}", dest.display());
}

/// Wait for a spawned child (killed after `timeout`); its exit code, 128+N
/// if killed by signal N.
pub fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> i32 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A host file in the test dir with `content`, open for reading (to pass
/// into a container as an fd).
pub fn host_file(t: &Test, name: &str, content: &str) -> File {
    let p = t.dir.join(name);
    fs::write(&p, content).unwrap();
    File::open(p).unwrap()
}

/// fd -> target from `ls -l /proc/self/fd` output, without the fd ls
/// opened to read that directory.
pub fn fd_listing(ls_output: &str) -> std::collections::BTreeMap<u32, String> {
    ls_output
        .lines()
        .filter_map(|l| l.split_once(" -> "))
        .filter_map(|(left, target)| {
            Some((
                left.split_whitespace().last()?.parse().ok()?,
                target.to_string(),
            ))
        })
        .filter(|(_, target): &(u32, String)| {
            !(target.starts_with("/proc/") && target.ends_with("/fd"))
        })
        .collect()
}
