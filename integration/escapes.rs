//! What adversarial runs found could reach the host (issue 10, security):
//! sysctl keys naming host files or host-wide settings, a symlinked /proc,
//! a bare procfs under --no-pivot, hooks inheriting the caller's fds, a
//! frozen cgroup, and a create killed half-way. Each test proves what the
//! host sees afterwards, not only hull's answer.

use crate::harness::*;
use serde_json::json;
use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::Path;

unsafe extern "C" {
    fn flock(fd: i32, op: i32) -> i32;
}
const LOCK_EX: i32 = 2;

/// A host sysctl put back on drop, in case a regression wrote it.
struct HostSysctl {
    file: String,
    before: String,
}

impl HostSysctl {
    fn new(key: &str) -> HostSysctl {
        let file = format!("/proc/sys/{}", key.replace('.', "/"));
        let before = fs::read_to_string(&file).unwrap().trim().to_string();
        HostSysctl { file, before }
    }

    /// A value the host does not have (the current one plus one).
    fn other_value(&self) -> String {
        let n: i64 = self
            .before
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (n + 1).to_string()
    }

    fn now(&self) -> String {
        fs::read_to_string(&self.file).unwrap().trim().to_string()
    }
}

impl Drop for HostSysctl {
    fn drop(&mut self) {
        if self.now() != self.before {
            let _ = fs::write(&self.file, &self.before);
        }
    }
}

#[track_caller]
fn refused(t: &Test, b: &Bundle, id: &str, sysctl: serde_json::Value, needle: &str) {
    b.config(|c| c["linux"]["sysctl"] = sysctl);
    t.create(b, id).fails_with(needle);
    t.assert_nothing_left(id);
}

#[test]
fn sysctl_cannot_write_host_files_or_host_settings() {
    let t = Test::new();
    let b = t.bundle();
    // An absolute key once replaced the whole path: a host file.
    let victim = t.dir.join("victim");
    fs::write(&victim, "intact").unwrap();
    let key = victim.display().to_string();
    refused(
        &t,
        &b,
        "abs",
        json!({ key.clone(): "PWNED" }),
        "linux.sysctl: key",
    );
    let dotted = format!("net.ipv4.{}", key.replace('/', "."));
    let up = format!("net/../../..{key}");
    for k in [&dotted, &up, &"net..ipv4".to_string()] {
        refused(
            &t,
            &b,
            "bad",
            json!({ k.clone(): "PWNED" }),
            "linux.sysctl: key",
        );
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "intact");

    // Host-wide settings are in no namespace of the container's.
    let lease = HostSysctl::new("fs.lease-break-time");
    refused(
        &t,
        &b,
        "lease",
        json!({"fs.lease-break-time": lease.other_value()}),
        r#"linux.sysctl: "fs.lease-break-time" is not in a separate kernel namespace"#,
    );
    assert_eq!(lease.now(), lease.before, "the host's setting changed");
    let swap = HostSysctl::new("vm.swappiness");
    refused(
        &t,
        &b,
        "swap",
        json!({"vm.swappiness": swap.other_value()}),
        r#"linux.sysctl: "vm.swappiness" is not in a separate kernel namespace"#,
    );
    assert_eq!(swap.now(), swap.before, "the host's setting changed");

    // A namespaced key in the host's own namespace is the host's setting:
    // none, or joined by a path that is hull's own.
    let fwd = HostSysctl::new("net.ipv4.ip_forward");
    let value = json!({"net.ipv4.ip_forward": fwd.other_value()});
    b.without_namespace("network");
    let needle =
        r#"linux.sysctl: "net.ipv4.ip_forward" is not allowed in the host's network namespace"#;
    refused(&t, &b, "hostnet", value.clone(), needle);
    b.namespace("network", Some("/proc/self/ns/net"));
    refused(&t, &b, "joinednet", value, needle);
    assert_eq!(fwd.now(), fwd.before, "the host's setting changed");
    let b = t.bundle();
    b.without_namespace("ipc");
    refused(
        &t,
        &b,
        "hostipc",
        json!({"kernel.shmmni": "100"}),
        r#"linux.sysctl: "kernel.shmmni" is not allowed in the host's ipc namespace"#,
    );
    let b = t.bundle();
    refused(
        &t,
        &b,
        "hostname",
        json!({"kernel.hostname": "x"}),
        r#"linux.sysctl: "kernel.hostname" is not allowed as it conflicts with the hostname field"#,
    );
}

#[test]
fn sysctl_is_written_in_the_containers_own_namespaces() {
    let t = Test::new();
    let b = t.bundle();
    let host_shm = fs::read_to_string("/proc/sys/kernel/shmmni").unwrap();
    let host_fwd = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let want_fwd = if host_fwd.trim() == "1" { "0" } else { "1" };
    b.config(|c| {
        c["linux"]["sysctl"] = json!({
            "kernel.shmmni": "1234",
            "net.ipv4.ip_forward": want_fwd,
            "fs.mqueue.msg_max": "20",
        })
    });
    let out = t.run_sh(
        &b,
        "own",
        "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward /proc/sys/fs/mqueue/msg_max",
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), ["1234", want_fwd, "20"]);
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/shmmni").unwrap(),
        host_shm
    );
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_fwd
    );
}

#[test]
fn sysctl_needs_a_real_procfs_in_the_container() {
    let t = Test::new();
    let b = t.bundle();
    // A host directory bound where /proc should be: the write would land in
    // it, not in the kernel's settings.
    let fake = t.host_dir("fakeproc");
    fs::create_dir_all(fake.join("sys/net/ipv4")).unwrap();
    fs::write(fake.join("sys/net/ipv4/ip_forward"), "0").unwrap();
    b.config(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/proc");
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        c["linux"]["maskedPaths"] = json!([]);
        c["linux"]["readonlyPaths"] = json!([]);
    });
    b.bind(&fake, "/proc", &["rw"]);
    t.create(&b, "fakeproc")
        .fails_with("linux.sysctl: the container's /proc/sys is not a procfs");
    t.assert_nothing_left("fakeproc");
    assert_eq!(
        fs::read_to_string(fake.join("sys/net/ipv4/ip_forward")).unwrap(),
        "0"
    );
}

#[test]
fn proc_or_sys_on_a_symlink_is_refused() {
    let t = Test::new();
    for (dest, typ) in [("proc", "proc"), ("sys", "sysfs")] {
        let b = t.bundle_own_rootfs();
        let rootfs = b.dir.join("rootfs");
        let _ = fs::remove_dir_all(rootfs.join(dest));
        std::os::unix::fs::symlink("/tmp", rootfs.join(dest)).unwrap();
        if typ == "sysfs" {
            b.mount(
                json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
                           "options": ["nosuid", "noexec", "nodev", "ro"]}),
            );
        }
        let id = format!("link-{dest}");
        t.create(&b, &id).fails_with(&format!(
            "{typ} must be mounted on an ordinary directory: /{dest} is a symlink or not a directory"
        ));
        t.assert_nothing_left(&id);
    }
}

#[test]
fn no_pivot_leaves_no_full_procfs_to_mount_over() {
    let t = Test::new();
    let b = t.bundle();
    // A user namespace inside the container may mount a new procfs only if
    // a fully visible one is in its mount namespace.
    // The probe first: a host that allows no unprivileged user namespace
    // refuses the mount for that reason, which proves nothing here.
    b.sh("unshare -mrpf true || { echo NO-USERNS; exit 0; }; \
         unshare -mrpf sh -c 'mount -t proc none /proc' && echo MOUNTED || echo REFUSED");
    // Not as root: mapping uid 0 to itself would need CAP_SETFCAP.
    b.config(|c| c["process"]["user"] = json!({"uid": 1000, "gid": 1000}));
    let pivot = t.hull(&["run", "--bundle", b.path(), "pivot"]).ok();
    if pivot.stdout.contains("NO-USERNS") {
        eprintln!("no unprivileged user namespaces on this host: --no-pivot procfs not tested");
        return;
    }
    let no_pivot = t
        .hull(&["run", "--no-pivot", "--bundle", b.path(), "nopivot"])
        .ok();
    assert_eq!(
        pivot.stdout.trim_end().lines().last(),
        Some("REFUSED"),
        "with pivot_root: {pivot}"
    );
    assert_eq!(
        no_pivot.stdout.trim_end().lines().last(),
        Some("REFUSED"),
        "with --no-pivot: {no_pivot}"
    );
    // The host's /proc is untouched.
    assert!(Path::new("/proc/self/status").exists());
}

#[test]
fn hooks_get_stdio_and_no_other_fd() {
    let t = Test::new();
    let b = t.bundle();
    let mut listings = Vec::new();
    let mut hooks = json!({});
    for kind in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        let out = t.dir.join(format!("fds-{kind}"));
        // createContainer and startContainer run in the container: the
        // listing goes to a host dir bound there.
        let script = format!("ls /proc/self/fd > {}", out.display());
        hooks[kind] = json!([{"path": "/bin/sh", "args": ["sh", "-c", script]}]);
        listings.push((kind, out));
    }
    let dir = t.dir.display().to_string();
    b.bind(&t.dir, &dir, &["rw"]);
    b.config(|c| c["hooks"] = hooks);
    b.args(&["true"]);
    // The caller's extra fds: a file and a pipe, not close-on-exec.
    let extra = host_file(&t, "extra", "x");
    let mut cmd = t.command(&["run", "--bundle", b.path(), "hookfds"]);
    pass_fds(&mut cmd, vec![(extra, 10)]);
    t.output(&mut cmd).ok();
    for (kind, out) in listings {
        let text = fs::read_to_string(&out).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let mut fds: Vec<u32> = text
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        fds.sort();
        // 0-2 and the fd `ls` opens to read the directory.
        assert_eq!(fds, [0, 1, 2, 3], "{kind} hook sees more than its stdio");
    }
}

/// The containers' cgroups under this test's parent, in every hierarchy.
fn cgroups_left(t: &Test) -> Vec<std::path::PathBuf> {
    cgroup_dirs(&t.cgroup_parent())
        .iter()
        .flat_map(|d| fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// `hull create` killed at many points: whatever it had made, `list`
/// shows the container (stopped once its init is gone), and `delete
/// --force` removes every cgroup and process of it; no init outlives it.
#[test]
fn a_create_killed_half_way_leaves_nothing_after_delete_force() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let mut hit = 0;
    for i in 0..40u64 {
        let id = format!("k{i}");
        let mut child = t
            .command(&["create", "--bundle", b.path(), &id])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(i * 500));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            // Finished before the kill: an ordinary container.
            t.hull(&["delete", "--force", &id]).ok();
            continue;
        }
        hit += 1;
        // Nothing waits on a lock the dead create held.
        let listed = t.hull(&["list", "--format", "json"]).ok();
        if t.root.join(&id).join("state.json").exists() {
            let entries: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
            assert!(
                entries
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["id"] == id.as_str()),
                "{id} not listed: {listed}"
            );
        }
        t.hull(&["delete", "--force", &id]).ok();
        t.assert_nothing_left(&id);
        let left = cgroups_left(&t);
        assert!(
            left.is_empty(),
            "killed after {}µs: cgroups left {left:?}",
            i * 500
        );
    }
    eprintln!("{hit} of 40 creates killed before they finished");
}

/// A cgroup that exists frozen would hang the init in it: refused, as runc.
#[test]
fn a_frozen_cgroup_is_refused() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let path = b.cgroups_path();
    let v1 = Path::new("/sys/fs/cgroup/freezer");
    let (dir, file, frozen) = if v1.is_dir() {
        (
            v1.join(path.trim_start_matches('/')),
            "freezer.state",
            "FROZEN",
        )
    } else if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        (dir, "cgroup.freeze", "1")
    } else {
        eprintln!("no freezer on this host: frozen cgroup not tested");
        return;
    };
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(file), frozen).unwrap();
    let out = t.hull(&["run", "--detach", "--bundle", b.path(), "frozen"]);
    // The cgroup is not hull's: left as it was, so a second try is refused too.
    let still = fs::read_to_string(dir.join(file)).unwrap_or_default();
    let again = t.hull(&["create", "--bundle", b.path(), "frozen2"]);
    // Whatever happened, leave nothing frozen behind.
    if dir.exists() {
        let _ = fs::write(dir.join(file), if frozen == "1" { "0" } else { "THAWED" });
        let _ = fs::remove_dir(&dir);
    }
    out.fails_with("container's cgroup unexpectedly frozen");
    again.fails_with("container's cgroup unexpectedly frozen");
    assert_eq!(still.trim(), frozen, "the refused cgroup was changed");
    t.assert_nothing_left("frozen");
    t.assert_nothing_left("frozen2");
}

/// A command that finds a container locked by another waits a bounded
/// time, then names the holder; no init keeps the lock of its create.
#[test]
fn a_held_lock_is_waited_for_a_bounded_time_and_named() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.create(&b, "locked").ok();
    // The created container's init holds no copy of the lock.
    t.kill("locked", "KILL").ok();
    // We hold the lock, as another hull command would.
    let dir = File::open(t.root.join("locked")).unwrap();
    // SAFETY: flock on an fd we own.
    assert_eq!(unsafe { flock(dir.as_raw_fd(), LOCK_EX) }, 0);
    // `state` and `list` read without the lock (SIGKILL lands a moment
    // after `kill` returns).
    wait_for("the init to die", || {
        t.state("locked")["status"] == "stopped"
    });
    t.hull(&["list", "-q"]).ok();
    let start = std::time::Instant::now();
    let out = t.hull(&["delete", "--force", "locked"]);
    let waited = start.elapsed();
    drop(dir);
    out.fails_with(&format!(
        "container \"locked\" is locked by process {} (",
        std::process::id()
    ));
    assert!(out.stderr.contains("for more than 10s"), "{out}");
    assert!(
        waited < std::time::Duration::from_secs(20),
        "waited {waited:?}"
    );
    t.delete("locked").ok();
}

/// The precise point issue 18 found: killed after the clone, before the
/// state names the init (at the rename of its second record). The
/// container is listed as stopped, its init dies by itself, and `delete
/// --force` removes its cgroups.
#[test]
fn a_create_killed_at_its_state_write_is_found_and_removed() {
    if std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("no strace on this host (make deps installs it): fault injection not tested");
        return;
    }
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    let mut cmd = std::process::Command::new("strace");
    cmd.args([
        "-f",
        "-o",
        "/dev/null",
        "-e",
        // aarch64 has no rename(2): glibc's rename() is renameat there.
        if cfg!(target_arch = "aarch64") {
            "inject=renameat:signal=KILL:when=2"
        } else {
            "inject=rename:signal=KILL:when=2"
        },
    ])
    .arg(HULL)
    .args(["--root", t.root.to_str().unwrap()])
    .args(["create", "--bundle", b.path(), "killed"]);
    let out = t.output(&mut cmd);
    assert_ne!(out.code, 0, "create was not killed: {out}");
    wait_for("the orphaned init to exit", || {
        t.hull(&["list", "--format", "json"])
            .ok()
            .stdout
            .contains(r#""status":"stopped""#)
    });
    assert!(
        !cgroups_left(&t).is_empty(),
        "the cgroups made before the kill are gone already"
    );
    t.hull(&["delete", "--force", "killed"]).ok();
    t.assert_nothing_left("killed");
    assert_eq!(cgroups_left(&t), Vec::<std::path::PathBuf>::new());
}

/// While a create is at work (here in a slow prestart hook, holding the
/// state lock), `state` and `list` answer at once, with status creating.
#[test]
fn a_create_at_work_is_listed_as_creating_without_waiting() {
    let t = Test::new();
    let b = t.bundle();
    let gate = t.dir.join("gate");
    b.args(&["sleep", "1000"]).config(|c| {
        let script = format!("while [ ! -e {} ]; do sleep 0.05; done", gate.display());
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    let mut create = t
        .command(&["create", "--bundle", b.path(), "slow"])
        .spawn()
        .unwrap();
    wait_for("the init to be recorded", || {
        t.root.join("slow/state.json").exists()
            && t.hull(&["state", "slow"])
                .stdout
                .contains(r#""status": "creating""#)
    });
    let started = std::time::Instant::now();
    let listed = t.hull(&["list", "--format", "json"]).ok();
    assert!(listed.stdout.contains(r#""status":"creating""#), "{listed}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "list waited"
    );
    fs::write(&gate, "").unwrap();
    assert_eq!(wait_exit(&mut create, WAIT), 0);
    assert_eq!(t.state("slow")["status"], "created");
    t.hull(&["delete", "--force", "slow"]).ok();
}
