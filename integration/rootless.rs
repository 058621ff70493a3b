//! Rootless hull: run by a user who is not root, made for each test with
//! subordinate id ranges (/etc/subuid, /etc/subgid) and removed after.
//! The state lives under the user's $XDG_RUNTIME_DIR, the id maps are the
//! user's own id or newuidmap's ranges, and cgroups the user may not make
//! are done without unless limits are asked for.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use crate::harness::*;

/// A user for one test; `userdel` (which drops its subordinate ranges)
/// and the removal of its containers and directories when dropped.
struct User {
    name: String,
    uid: u32,
    gid: u32,
    /// Its $XDG_RUNTIME_DIR.
    xdg: PathBuf,
    /// A directory of its own, for bundles it writes.
    home: PathBuf,
    ids: RefCell<Vec<String>>,
    /// What the test set up for it, undone in reverse order.
    undo: RefCell<Vec<Box<dyn FnOnce()>>>,
}

impl User {
    /// None (with a note) where this host cannot have one: no useradd or
    /// no newuidmap.
    fn new(t: &Test) -> Option<User> {
        static N: AtomicU32 = AtomicU32::new(0);
        let tools = ["useradd", "newuidmap", "newgidmap"];
        if let Some(missing) = tools.iter().find(|tool| !on_path(tool)) {
            eprintln!("note: {missing} is missing (apt-get install passwd uidmap): skipped");
            return None;
        }
        let n = N.fetch_add(1, Ordering::Relaxed);
        let name = format!("hullrl{}x{n}", std::process::id() % 100_000);
        // A regular user gets subordinate ranges from login.defs.
        let out = Command::new("useradd")
            .args(["--no-create-home", "--shell", "/bin/sh", &name])
            .output()
            .expect("run useradd");
        assert!(out.status.success(), "useradd: {out:?}");
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        let own = |name: &str, mode| {
            let d = t.host_dir(name);
            std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
            fs::set_permissions(&d, fs::Permissions::from_mode(mode)).unwrap();
            d
        };
        let user = User {
            xdg: own(&format!("{name}-run"), 0o700),
            home: own(&format!("{name}-home"), 0o755),
            name,
            uid,
            gid,
            ids: RefCell::new(Vec::new()),
            undo: RefCell::new(Vec::new()),
        };
        Some(user)
    }

    /// The first subordinate id of the user's range in `file`.
    fn sub_start(&self, file: &str) -> u32 {
        let text = fs::read_to_string(file).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{}:", self.name)))
            .unwrap_or_else(|| panic!("no range for {} in {file}", self.name));
        line.split(':').nth(1).unwrap().parse().unwrap()
    }

    /// `hull ARGS` as this user, with its $XDG_RUNTIME_DIR and no --root.
    fn hull(&self, t: &Test, args: &[&str]) -> Out {
        if args.iter().any(|a| *a == "run" || *a == "create") {
            self.ids.borrow_mut().push(args.last().unwrap().to_string());
        }
        let mut cmd = self.command(HULL, &self.xdg);
        cmd.args(args);
        t.output(&mut cmd)
    }

    /// `program` as this user, in its home, with `xdg` as its
    /// $XDG_RUNTIME_DIR (and the bus there as its session bus).
    fn command(&self, program: &str, xdg: &std::path::Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.uid(self.uid)
            .gid(self.gid)
            .current_dir(&self.home)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", xdg)
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}/bus", xdg.display()),
            )
            .env("USER", &self.name);
        cmd
    }

    /// Run `undo` when the user is dropped, after its containers are
    /// deleted (a cgroup delegated to it, ...).
    fn on_drop(&self, undo: impl FnOnce() + 'static) {
        self.undo.borrow_mut().push(Box::new(undo));
    }

    /// The test bundle made rootless: a user namespace with `maps` for
    /// both uids and gids (default: the user's own ids as root), no
    /// network namespace (so sysfs must be bound from the host) and no
    /// cgroupsPath.
    fn bundle(&self, t: &Test, maps: Option<Value>) -> Bundle {
        let b = t.bundle();
        let (uid, gid) = (self.uid, self.gid);
        b.config(|c| {
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(json!({"type": "user"}));
            c["linux"]["uidMappings"] = maps
                .clone()
                .unwrap_or(json!([{"containerID": 0, "hostID": uid, "size": 1}]));
            c["linux"]["gidMappings"] = maps
                .clone()
                .unwrap_or(json!([{"containerID": 0, "hostID": gid, "size": 1}]));
            c["linux"].as_object_mut().unwrap().remove("cgroupsPath");
        });
        b
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let root = self.xdg.join("hull");
        for id in self.ids.borrow().iter() {
            let _ = Command::new(HULL)
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force", id])
                .output();
        }
        while let Some(undo) = self.undo.borrow_mut().pop() {
            undo();
        }
        let _ = Command::new("userdel").arg(&self.name).output();
        let _ = fs::remove_dir_all(&self.xdg);
        let _ = fs::remove_dir_all(&self.home);
    }
}

fn on_path(tool: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|d| PathBuf::from(d).join(tool).exists())
}

/// A rootless container: root inside is the user outside; its state is
/// under $XDG_RUNTIME_DIR/hull; /sys is the host's, bound (no network
/// namespace to mount a sysfs with); no cgroup is needed; exec joins it;
/// setgroups is denied where the user mapped its own gid.
#[test]
fn rootless_container_runs_as_the_user_with_state_in_xdg_runtime_dir() {
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let b = u.bundle(&t, None);
    b.args(&["sleep", "1000"]);
    u.hull(&t, &["run", "--detach", "--bundle", b.path(), "rl1"])
        .ok();
    let state_dir = u.xdg.join("hull/rl1");
    assert!(
        state_dir.join("state.json").exists(),
        "state under XDG_RUNTIME_DIR"
    );
    let state: Value = serde_json::from_str(&u.hull(&t, &["state", "rl1"]).ok().stdout).unwrap();
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_i64().unwrap();
    let owner = fs::metadata(format!("/proc/{pid}")).unwrap().uid();
    assert_eq!(owner, u.uid, "the init is the user's on the host");

    let out = u.hull(
        &t,
        &[
            "exec",
            "rl1",
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; ls /sys/class | grep -c .",
        ],
    );
    let out = out.ok();
    let lines = out.lines();
    assert_eq!(lines[0], "0", "{out}");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, ["0", &u.uid.to_string(), "1"], "{out}");
    assert!(
        lines[2].parse::<u32>().unwrap() > 0,
        "/sys/class is the host's: {out}"
    );

    let out = u.hull(&t, &["exec", "--additional-gids", "5", "rl1", "id"]);
    out.fails_with("process.user.additionalGids: setgroups is denied in this user namespace");

    u.hull(&t, &["delete", "--force", "rl1"]).ok();
    assert!(!state_dir.exists());
    assert!(!PathBuf::from(format!("/proc/{pid}")).exists() || is_zombie(pid));
}

fn is_zombie(pid: i64) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Maps wider than the user's own id go through newuidmap/newgidmap, with
/// the ranges /etc/subuid and /etc/subgid grant; ids and groups then work
/// inside as they do for root.
#[test]
fn rootless_wider_maps_go_through_newuidmap() {
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let (sub_u, sub_g) = (u.sub_start("/etc/subuid"), u.sub_start("/etc/subgid"));
    let b = u.bundle(&t, None);
    let (uid, gid) = (u.uid, u.gid);
    b.config(|c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": sub_u, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": gid, "size": 1},
            {"containerID": 1, "hostID": sub_g, "size": 65536}]);
    });
    b.args(&["sleep", "1000"]);
    u.hull(&t, &["run", "--detach", "--bundle", b.path(), "rl2"])
        .ok();
    let out = u
        .hull(&t, &["exec", "rl2", "cat", "/proc/self/uid_map"])
        .ok();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[1], ["1", &sub_u.to_string(), "65536"], "{out}");
    let out = u
        .hull(
            &t,
            &[
                "exec",
                "--user",
                "1000:1000",
                "--additional-gids",
                "5",
                "rl2",
                "sh",
                "-c",
                "id -u; id -G",
            ],
        )
        .ok();
    assert_eq!(out.stdout, "1000\n1000 5\n");
    // A range the user was not granted: newuidmap's own refusal, named.
    let bad = u.bundle(&t, None);
    bad.config(|c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": uid, "size": 1},
            {"containerID": 1, "hostID": 1, "size": 10}]);
    });
    bad.args(&["true"]);
    let out = u.hull(&t, &["run", "--bundle", bad.path(), "rl2bad"]);
    out.fails_with("linux.uidMappings: newuidmap failed");
    assert!(!u.xdg.join("hull/rl2bad").exists());
    u.hull(&t, &["delete", "--force", "rl2"]).ok();
}

/// Without a cgroup delegated to the user, limits are refused naming the
/// field (runc: the same); a container asking none runs (the other tests).
/// A user always needs a user namespace.
#[test]
fn rootless_refusals_name_the_field() {
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let b = u.bundle(&t, None);
    b.args(&["true"]);
    b.config(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
    let out = u.hull(&t, &["run", "--bundle", b.path(), "rl3"]);
    out.fails_with(
        "linux.resources.memory.limit: rootless: the memory controller is not delegated to this user (create cgroup /sys/fs/cgroup/",
    );
    assert!(!u.xdg.join("hull/rl3").exists());

    let plain = t.bundle();
    plain.args(&["true"]);
    let out = u.hull(&t, &["run", "--bundle", plain.path(), "rl3b"]);
    out.fails_with(
        "linux.namespaces: hull is not run by root: the container needs a new user namespace",
    );

    let out = u.hull(&t, &["--rootless", "maybe", "list"]);
    out.fails_with("--rootless: \"maybe\" is not one of true, false, auto");
    u.hull(&t, &["--rootless", "true", "list"]).ok();
}

/// `hull spec --rootless` writes what `runc spec --rootless` writes, but
/// for hull's documented differences (hostname; no ambient or
/// inheritable capabilities, see `hull spec`).
#[test]
fn spec_rootless_is_runc_spec_rootless() {
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let dir = |name: &str| {
        let d = u.home.join(name);
        fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(u.uid), Some(u.gid)).unwrap();
        d
    };
    let (ours, theirs) = (dir("hull"), dir("runc"));
    u.hull(
        &t,
        &["spec", "--rootless", "--bundle", ours.to_str().unwrap()],
    )
    .ok();
    let runc = Command::new("runc")
        .args(["spec", "--rootless", "--bundle", theirs.to_str().unwrap()])
        .uid(u.uid)
        .gid(u.gid)
        .output()
        .expect("run runc spec");
    assert!(runc.status.success(), "{runc:?}");
    let read = |d: &PathBuf| -> Value {
        let mut v: Value =
            serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
        v.as_object_mut().unwrap().remove("hostname");
        let caps = v["process"]["capabilities"].as_object_mut().unwrap();
        caps.remove("ambient");
        caps.remove("inheritable");
        for set in caps.values_mut() {
            set.as_array_mut().unwrap().sort_by_key(|c| c.to_string());
        }
        v
    };
    assert_eq!(read(&ours), read(&theirs));
    let out = u.hull(&t, &["spec", "--rootless", "extra"]);
    out.fails_with("unexpected argument");
}

/// A cgroup v1 memory subtree delegated to the user (its directory and
/// cgroup.procs chowned, as an administrator delegates v1), the user's
/// shell in it: a memory limit lands in the container's cgroup below it;
/// a limit of a controller not delegated (pids) is refused naming the
/// field, and nothing is left. Needs a cgroup v1 memory and pids
/// hierarchy (this VM kind; not the pure v2 test bed).
#[test]
fn rootless_limits_apply_in_a_delegated_v1_subtree_only() {
    let v1 = Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
        && Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists();
    if !v1 {
        eprintln!("note: needs cgroup v1 memory and pids hierarchies: skipped");
        return;
    }
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let name = format!("{}-deleg", t.cgroup_parent());
    let deleg = Path::new("/sys/fs/cgroup/memory").join(&name);
    fs::create_dir(&deleg).unwrap();
    let undo = deleg.clone();
    u.on_drop(move || remove_cgroup_tree(&undo));
    for p in [
        deleg.clone(),
        deleg.join("cgroup.procs"),
        deleg.join("tasks"),
    ] {
        std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
    }
    // hull run from a shell of the user's that joined the subtree.
    let in_subtree = |args: &[&str]| -> Out {
        if args.contains(&"run") {
            u.ids.borrow_mut().push(args.last().unwrap().to_string());
        }
        let script = format!("echo $$ > {}/cgroup.procs && exec \"$@\"", deleg.display());
        let mut cmd = u.command("/bin/sh", &u.xdg);
        cmd.args(["-c", &script, "sh", HULL]).args(args);
        t.output(&mut cmd)
    };

    let b = u.bundle(&t, None);
    b.args(&["sleep", "1000"]);
    b.config(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
    in_subtree(&["run", "--detach", "--bundle", b.path(), "rlv1"]).ok();
    let state: Value = serde_json::from_str(&u.hull(&t, &["state", "rlv1"]).ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let want = format!(":memory:/{name}/rlv1");
    assert!(cgroups.lines().any(|l| l.ends_with(&want)), "{cgroups}");
    let limit = fs::read_to_string(deleg.join("rlv1/memory.limit_in_bytes")).unwrap();
    assert_eq!(limit.trim(), "67108864");
    u.hull(&t, &["delete", "--force", "rlv1"]).ok();
    assert!(!deleg.join("rlv1").exists());

    let b = u.bundle(&t, None);
    b.args(&["true"]);
    b.config(|c| {
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}})
    });
    let out = in_subtree(&["run", "--bundle", b.path(), "rlv1b"]);
    out.fails_with(
        "linux.resources.pids.limit: rootless: the pids controller is not delegated to this user (create cgroup /sys/fs/cgroup/pids/",
    );
    assert!(!deleg.join("rlv1b").exists());
    assert!(!u.xdg.join("hull/rlv1b").exists());
}

/// rmdir a cgroup and its sub-cgroups (their processes gone), children first.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.path().is_dir() {
                remove_cgroup_tree(&e.path());
            }
        }
    }
    for _ in 0..50 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The user's systemd session, as logind's linger gives one without a
/// login: user@UID.service, its delegated cgroup subtree, its bus at
/// /run/user/UID/bus (dbus-user-session). Stopped when dropped.
struct Session<'a> {
    user: &'a User,
    xdg: PathBuf,
    ids: RefCell<Vec<String>>,
}

impl<'a> Session<'a> {
    /// None (with a note) where the host cannot have one.
    fn start(user: &'a User) -> Option<Session<'a>> {
        let tools = ["loginctl", "systemd-run", "systemctl"]
            .iter()
            .all(|t| on_path(t));
        let user_bus = Path::new("/usr/lib/systemd/user/dbus.socket").exists();
        if !(systemd_v2() && tools && user_bus) {
            eprintln!(
                "note: needs systemd, pure cgroup v2 and dbus-user-session (the VM test bed): skipped"
            );
            return None;
        }
        let out = Command::new("loginctl")
            .args(["enable-linger", &user.name])
            .output()
            .unwrap();
        assert!(out.status.success(), "loginctl enable-linger: {out:?}");
        let session = Session {
            user,
            xdg: PathBuf::from(format!("/run/user/{}", user.uid)),
            ids: RefCell::new(Vec::new()),
        };
        let bus = session.xdg.join("bus");
        assert!(
            eventually(std::time::Duration::from_secs(120), || bus.exists()),
            "the user's bus {} never came",
            bus.display()
        );
        Some(session)
    }

    /// `hull ARGS` as the user in its session: in a scope of its systemd's
    /// (`systemd-run --user --scope`), state under /run/user/UID/hull.
    fn hull(&self, t: &Test, args: &[&str]) -> Out {
        if args.iter().any(|a| *a == "run" || *a == "create") {
            self.ids.borrow_mut().push(args.last().unwrap().to_string());
        }
        let mut cmd = self.user.command("systemd-run", &self.xdg);
        cmd.args(["--user", "--scope", "--quiet", "--", HULL])
            .args(args);
        t.output(&mut cmd)
    }

    /// `systemctl --user show -p PROPERTY --value UNIT` of the user's.
    fn show(&self, unit: &str, property: &str) -> String {
        let out = self
            .user
            .command("systemctl", &self.xdg)
            .args(["--user", "show", "-p", property, "--value", unit])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self
                .user
                .command(HULL, &self.xdg)
                .args(["delete", "--force", id])
                .output();
        }
        let uid = self.user.uid;
        let _ = Command::new("loginctl")
            .args(["disable-linger", &self.user.name])
            .output();
        let _ = Command::new("systemctl")
            .arg("stop")
            .arg(format!("user@{uid}.service"))
            .arg(format!("user-runtime-dir@{uid}.service"))
            .output();
    }
}

fn systemd_v2() -> bool {
    Path::new("/run/systemd/system").is_dir()
        && Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// In the user's systemd session (cgroup v2, the subtree systemd
/// delegates to the user): with the cgroupfs driver, a memory limit lands
/// in the container's cgroup beside the session's scope, and a controller
/// systemd does not delegate is refused naming the field; with
/// `--systemd-cgroup`, the user's systemd makes the scope (on the user's
/// bus), in its user.slice, with the limit as its MemoryMax, and stops it
/// on delete. Where systemd is absent, `--systemd-cgroup` is refused.
#[test]
fn rootless_in_a_systemd_user_session_limits_land_in_the_delegated_cgroup() {
    let t = Test::new();
    let Some(u) = User::new(&t) else { return };
    let limited = |id: &str| {
        let b = u.bundle(&t, None);
        b.args(&["sleep", "1000"]);
        b.config(|c| c["linux"]["resources"] = json!({"memory": {"limit": 67108864}}));
        (b, id.to_string())
    };
    if !Path::new("/run/systemd/system").is_dir() {
        let (b, id) = limited("rlsdno");
        let out = u.hull(&t, &["--systemd-cgroup", "run", "--bundle", b.path(), &id]);
        out.fails_with("--systemd-cgroup: systemd is not running on this host");
        assert!(!u.xdg.join("hull").join(&id).exists());
    }
    if systemd_v2() {
        // Outside a session: no user bus where $XDG_RUNTIME_DIR says.
        let (b, id) = limited("rlsdnobus");
        let out = u.hull(&t, &["--systemd-cgroup", "run", "--bundle", b.path(), &id]);
        out.fails_with("--systemd-cgroup: rootless: connect to the user bus");
        assert!(!u.xdg.join("hull").join(&id).exists());
    }
    let Some(s) = Session::start(&u) else { return };
    let uid = u.uid;
    let manager = format!("/user.slice/user-{uid}.slice/user@{uid}.service");
    let cgroup_of = |pid: i64| -> String {
        let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        text.trim().strip_prefix("0::").unwrap_or(&text).to_string()
    };
    let state_pid = |id: &str| -> i64 {
        let mut cmd = u.command(HULL, &s.xdg);
        cmd.args(["state", id]);
        let state: Value = serde_json::from_str(&t.output(&mut cmd).ok().stdout).unwrap();
        state["pid"].as_i64().unwrap()
    };
    let memory_max = |cgroup: &str| -> String {
        let path = format!("/sys/fs/cgroup{cgroup}/memory.max");
        fs::read_to_string(&path).unwrap_or_else(|e| format!("{path}: {e}"))
    };

    // cgroupfs: beside the session's own scope, in the delegated subtree.
    let (b, id) = limited("rlsd1");
    s.hull(&t, &["run", "--detach", "--bundle", b.path(), &id])
        .ok();
    let cgroup = cgroup_of(state_pid(&id));
    assert!(
        cgroup.starts_with(&format!("{manager}/")) && cgroup.ends_with("/rlsd1"),
        "{cgroup}"
    );
    assert_eq!(memory_max(&cgroup).trim(), "67108864");
    // A controller the user's systemd does not delegate: refused, named.
    let parent = Path::new(&cgroup).parent().unwrap().display().to_string();
    let offered = fs::read_to_string(format!("/sys/fs/cgroup{parent}/cgroup.controllers")).unwrap();
    let offered: Vec<&str> = offered.split_whitespace().collect();
    let candidates = [
        (
            "io",
            "blkio",
            json!({"blockIO": {"weight": 500}}),
            "linux.resources.blockIO.weight",
        ),
        (
            "cpuset",
            "cpuset",
            json!({"cpu": {"cpus": "0"}}),
            "linux.resources.cpu.cpus",
        ),
    ];
    match candidates.iter().find(|c| !offered.contains(&c.0)) {
        Some((_, name, resources, field)) => {
            let b = u.bundle(&t, None);
            b.args(&["true"]);
            b.config(|c| c["linux"]["resources"] = resources.clone());
            let out = s.hull(&t, &["run", "--bundle", b.path(), "rlsd1b"]);
            out.fails_with(&format!(
                "{field}: rootless: the {name} controller is not delegated to this user"
            ));
            assert!(!Path::new(&format!("/sys/fs/cgroup{parent}/rlsd1b")).exists());
        }
        None => {
            eprintln!("note: io and cpuset are delegated here ({offered:?}): no refusal to check")
        }
    }
    let mut cmd = u.command(HULL, &s.xdg);
    t.output(cmd.args(["delete", "--force", &id])).ok();
    assert!(!Path::new(&format!("/sys/fs/cgroup{cgroup}")).exists());

    // --systemd-cgroup: a scope of the user's systemd, asked on its bus.
    let (b, id) = limited("rlsd2");
    s.hull(
        &t,
        &[
            "--systemd-cgroup",
            "run",
            "--detach",
            "--bundle",
            b.path(),
            &id,
        ],
    )
    .ok();
    let unit = "hull-rlsd2.scope";
    let cgroup = cgroup_of(state_pid(&id));
    assert_eq!(cgroup, format!("{manager}/user.slice/{unit}"));
    assert_eq!(memory_max(&cgroup).trim(), "67108864");
    assert_eq!(s.show(unit, "ActiveState"), "active");
    assert_eq!(s.show(unit, "MemoryMax"), "67108864");
    let mut cmd = u.command(HULL, &s.xdg);
    t.output(cmd.args(["delete", "--force", &id])).ok();
    assert!(
        eventually(std::time::Duration::from_secs(10), || s
            .show(unit, "LoadState")
            == "not-found"),
        "{unit} is left: {}",
        s.show(unit, "ActiveState")
    );
}
