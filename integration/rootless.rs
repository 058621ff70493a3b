//! Rootless hull: run by a user who is not root, made for each test with
//! subordinate id ranges (/etc/subuid, /etc/subgid) and removed after.
//! The state lives under the user's $XDG_RUNTIME_DIR, the id maps are the
//! user's own id or newuidmap's ranges, and cgroups the user may not make
//! are done without unless limits are asked for.

use std::cell::RefCell;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
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
        let mut cmd = Command::new(HULL);
        cmd.args(args)
            .uid(self.uid)
            .gid(self.gid)
            .current_dir(&self.home)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .env("USER", &self.name);
        t.output(&mut cmd)
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
    out.fails_with("linux.resources.memory: rootless: create cgroup");
    out.fails_with("limits need a cgroup delegated to this user");
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
