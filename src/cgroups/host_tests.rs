//! Tests against this host's real cgroups. They need root and skip
//! without it (or without the hierarchy they exercise). Every test works
//! below its own `/hull-test-<pid>-<name>` and a guard removes that in
//! every hierarchy, processes included, even when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use super::Cgroup;
use super::controllers::devices::{bpf, rules};
use super::fs::dirs;
use super::mounts::{self, Mounts};

const SIGKILL: i32 = Signal::SIGKILL as i32;

fn own() -> String {
    std::fs::read_to_string("/proc/self/cgroup").unwrap()
}

fn host_mounts(why: &str) -> Option<Mounts> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: {why} needs root");
        return None;
    }
    mounts::host().ok().cloned()
}

/// Removes a test's tree in every hierarchy when dropped.
struct Guard {
    /// `/hull-test-<pid>-<name>`
    path: PathBuf,
    parent: Cgroup,
    /// Cgroups the test may leave frozen.
    frozen: Vec<Cgroup>,
}

impl Guard {
    fn new(name: &str) -> Guard {
        let path = PathBuf::from(format!("/hull-test-{}-{name}", std::process::id()));
        let parent = Cgroup::resolve(mounts::host().unwrap(), &own(), Some(&path), "").unwrap();
        Guard {
            path,
            parent,
            frozen: Vec::new(),
        }
    }

    fn path(&self, leaf: &str) -> PathBuf {
        self.path.join(leaf)
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let v1 = self.parent.fs.v1.hierarchies.iter().map(|h| h.dir.clone());
        v1.chain(self.parent.fs.v2.iter().map(|v| v.dir.clone()))
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for cg in &self.frozen {
            let _ = cg.thaw();
        }
        // Processes may sit in any hierarchy: kill whatever is listed.
        for _ in 0..100 {
            let pids: Vec<i32> = self
                .dirs()
                .iter()
                .flat_map(|d| dirs::procs(d).unwrap_or_default())
                .collect();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if let Err(e) = self.parent.destroy() {
            eprintln!("cleanup: {e}");
        }
    }
}

fn resources(json: serde_json::Value) -> LinuxResources {
    serde_json::from_value(json).unwrap()
}

fn sleeper() -> Child {
    Command::new("sleep").arg("1000").spawn().unwrap()
}

fn reap(mut child: Child) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    child.wait().unwrap().signal()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn v1_limits_procs_freeze_kill() {
    let Some(mut m) = host_mounts("v1 test") else {
        return;
    };
    m.v2 = None;
    let needed = ["memory", "cpu", "pids", "freezer", "cpuset", "devices"];
    if !needed
        .iter()
        .all(|c| m.v1.iter().any(|h| h.controllers.iter().any(|x| x == c)))
    {
        eprintln!("skipped: no cgroup v1 hierarchies for {needed:?}");
        return;
    }
    let mut guard = Guard::new("v1");
    let cg = Cgroup::resolve(&m, &own(), Some(&guard.path("c")), "c").unwrap();
    guard.frozen.push(cg.clone());
    cg.create().unwrap();
    cg.create().unwrap(); // idempotent
    cg.apply(&resources(serde_json::json!({
        "memory": {"limit": 67108864, "reservation": 33554432, "swappiness": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "devices": [{"allow": false, "access": "rwm"}]
    })))
    .unwrap();
    let dir = |c: &str| {
        cg.fs
            .v1
            .hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|x| x == c))
            .unwrap()
            .dir
            .clone()
    };
    assert_eq!(read(&dir("memory"), "memory.limit_in_bytes"), "67108864");
    assert_eq!(
        read(&dir("memory"), "memory.soft_limit_in_bytes"),
        "33554432"
    );
    assert_eq!(read(&dir("memory"), "memory.swappiness"), "20");
    assert_eq!(read(&dir("cpu"), "cpu.shares"), "512");
    assert_eq!(read(&dir("cpu"), "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&dir("pids"), "pids.max"), "20");
    assert_eq!(read(&dir("cpuset"), "cpuset.cpus"), "0");
    let list = read(&dir("devices"), "devices.list");
    assert!(
        list.contains("c 1:3 rwm") && !list.contains("a *:*"),
        "{list}"
    );

    // A value the kernel refuses names field, value and file.
    let e = cg
        .apply(&resources(serde_json::json!({"cpu": {"quota": 500}})))
        .unwrap_err();
    assert_eq!(
        e.message(),
        "linux.resources.cpu.quota: write 500 to cpu.cfs_quota_us: invalid argument"
    );
    let e = cg
        .apply(&resources(
            serde_json::json!({"memory": {"useHierarchy": false}}),
        ))
        .unwrap_err();
    assert_eq!(
        e.message(),
        "linux.resources.memory.useHierarchy: write 0 to memory.use_hierarchy: invalid argument"
    );
    // Raising memory+swap above the memory limit goes through in one update.
    if dir("memory").join("memory.memsw.limit_in_bytes").exists() {
        cg.update(&resources(
            serde_json::json!({"memory": {"limit": 134217728, "swap": 268435456}}),
        ))
        .unwrap();
        assert_eq!(
            read(&dir("memory"), "memory.memsw.limit_in_bytes"),
            "268435456"
        );
        cg.update(&resources(
            serde_json::json!({"memory": {"limit": 33554432, "swap": 67108864}}),
        ))
        .unwrap();
        assert_eq!(read(&dir("memory"), "memory.limit_in_bytes"), "33554432");
    }

    let child = sleeper();
    let pid = child.id() as i32;
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);
    let stats = cg.stats().unwrap();
    assert_eq!(stats["pids"]["current"], 1);
    assert_eq!(stats["pids"]["limit"], 20);
    assert_eq!(stats["memory"]["usage"]["limit"], 33554432);
    assert!(stats["cpuset"]["cpus"] == serde_json::json!([0]), "{stats}");
    assert_eq!(cg.oom_kills().unwrap(), 0);

    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert_eq!(read(&dir("freezer"), "freezer.state"), "FROZEN");
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());

    // No unified tree here: freeze, signal each pid, thaw, wait.
    cg.kill_all(SIGKILL).unwrap();
    assert!(cg.pids().unwrap().is_empty());
    assert_eq!(reap(child), Some(SIGKILL));
    cg.destroy().unwrap();
    cg.destroy().unwrap(); // idempotent
    assert!(cg.fs.v1.hierarchies.iter().all(|h| !h.dir.exists()));
}

#[test]
fn v2_freeze_kill_and_device_program() {
    let Some(mut m) = host_mounts("v2 test") else {
        return;
    };
    m.v1.clear();
    if m.v2.is_none() {
        eprintln!("skipped: no cgroup2 mount");
        return;
    }
    let mut guard = Guard::new("v2");
    let cg = Cgroup::resolve(&m, &own(), Some(&guard.path("c")), "c").unwrap();
    guard.frozen.push(cg.clone());
    cg.create().unwrap();
    let v2 = cg.fs.v2.as_ref().unwrap();
    assert_eq!(cg.unified_dir().as_ref(), Some(&v2.dir));
    if !v2.dir.join("cgroup.freeze").exists() {
        eprintln!("skipped: kernel without cgroup.freeze");
        return;
    }

    let child = sleeper();
    let pid = child.id() as i32;
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);
    cg.freeze().unwrap();
    assert!(cg.is_frozen().unwrap());
    assert!(read(&v2.dir, "cgroup.events").contains("frozen 1"));
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert!(read(&v2.dir, "cgroup.events").contains("frozen 0"));

    // Devices: apply() without rules installs runc's defaults; then a
    // program allowing only /dev/zero; then the defaults again in its place.
    cg.apply(&LinuxResources::default()).unwrap();
    assert_eq!(bpf::attached_count(&v2.dir), 1);
    let procs = v2.dir.join("cgroup.procs");
    let open_in_cgroup = |dev: &str| {
        let script = format!("echo $$ > {} && exec head -c 1 {dev}", procs.display());
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let only_zero = rules::parse(
        &serde_json::from_value::<Vec<_>>(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
        ]))
        .unwrap(),
        "linux.resources.devices",
    )
    .unwrap();
    bpf::apply(&v2.dir, &only_zero).unwrap();
    assert_eq!(bpf::attached_count(&v2.dir), 1);
    let (ok, err) = open_in_cgroup("/dev/null");
    assert!(
        !ok && err.contains("Operation not permitted"),
        "opening /dev/null: {err}"
    );
    assert!(open_in_cgroup("/dev/zero").0);
    cg.update(&resources(
        serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}),
    ))
    .unwrap();
    assert_eq!(
        bpf::attached_count(&v2.dir),
        1,
        "the old program was replaced"
    );
    assert!(open_in_cgroup("/dev/null").0);
    let (ok, err) = open_in_cgroup("/dev/kmsg");
    assert!(
        !ok && err.contains("Operation not permitted"),
        "opening /dev/kmsg: {err}"
    );

    // SIGKILL through cgroup.kill, also reaching a frozen cgroup.
    cg.freeze().unwrap();
    cg.kill_all(SIGKILL).unwrap();
    assert!(cg.pids().unwrap().is_empty());
    assert_eq!(reap(child), Some(SIGKILL));
    cg.thaw().unwrap();
    cg.destroy().unwrap();
    assert!(!v2.dir.exists());
}

#[test]
fn hybrid_drives_each_controller_where_it_lives() {
    let Some(m) = host_mounts("hybrid test") else {
        return;
    };
    if m.mode() != mounts::Mode::Hybrid || !m.v1.iter().any(|h| h.controllers == ["memory"]) {
        eprintln!("skipped: not a hybrid host with v1 memory");
        return;
    }
    let guard = Guard::new("hybrid");
    let cg = Cgroup::resolve(&m, &own(), Some(&guard.path("c")), "c").unwrap();
    cg.create().unwrap();
    let v2 = cg.fs.v2.clone().unwrap();
    let memory = &cg
        .fs
        .v1
        .hierarchies
        .iter()
        .find(|h| h.controllers == ["memory"])
        .unwrap()
        .dir;

    let mut json = serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 10}});
    let hugetlb_in_v2 = read(&v2.dir, "cgroup.controllers")
        .split(' ')
        .any(|c| c == "hugetlb");
    if hugetlb_in_v2 && Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        json["hugepageLimits"] = serde_json::json!([{"pageSize": "2MB", "limit": 4194304}]);
        json["unified"] = serde_json::json!({"hugetlb.2MB.rsvd.max": "2097152"});
    }
    cg.apply(&resources(json)).unwrap();
    assert_eq!(read(memory, "memory.limit_in_bytes"), "67108864");
    if hugetlb_in_v2 {
        assert_eq!(read(&v2.dir, "hugetlb.2MB.max"), "4194304");
        assert_eq!(read(&v2.dir, "hugetlb.2MB.rsvd.max"), "2097152");
    }
    let e = cg
        .apply(&resources(
            serde_json::json!({"unified": {"memory.max": "1"}}),
        ))
        .unwrap_err();
    assert!(
        e.message().starts_with(
            "linux.resources.unified.memory.max: invalid configuration: \
             this host has the memory controller in cgroup v1"
        ),
        "{e}"
    );
    if !m
        .v1
        .iter()
        .any(|h| h.controllers.iter().any(|c| c == "net_cls"))
    {
        let e = cg
            .apply(&resources(serde_json::json!({"network": {"classID": 1}})))
            .unwrap_err();
        assert!(
            e.message().starts_with(
                "linux.resources.network.classID: the net_cls controller is not available"
            ),
            "{e}"
        );
    }

    let child = sleeper();
    let pid = child.id() as i32;
    cg.add_pid(pid).unwrap();
    assert_eq!(cg.pids().unwrap(), [pid]);
    assert_eq!(read(memory, "cgroup.procs"), pid.to_string());
    let stats = cg.stats().unwrap();
    assert_eq!(stats["pids"]["current"], 1);
    assert_eq!(stats["memory"]["usage"]["limit"], 67108864, "{stats}");
    if hugetlb_in_v2 {
        assert!(stats["hugetlb"]["2MB"].is_object(), "{stats}");
    }
    // cgroup.kill in the unified tree reaches every process.
    cg.kill_all(SIGKILL).unwrap();
    assert_eq!(reap(child), Some(SIGKILL));
    cg.destroy().unwrap();
    assert!(!memory.exists() && !v2.dir.exists());
}

#[test]
fn paths_resolve_per_hierarchy() {
    let Ok(m) = mounts::host() else { return };
    let own = own();
    let cg = Cgroup::resolve(m, &own, Some(Path::new("rel/x")), "id").unwrap();
    for (h, mount) in cg.fs.v1.hierarchies.iter().zip(&m.v1) {
        let mine = mounts::own_cgroup(&own, Some(&h.controllers)).unwrap();
        assert_eq!(
            h.dir,
            mount
                .mount
                .point
                .join(mount.mount.relative_to_root(&mine))
                .join("rel/x")
        );
    }
    // No cgroupsPath: the ID under our own cgroup, as runc.
    let cg = Cgroup::resolve(m, &own, None, "abc").unwrap();
    let rel = Cgroup::resolve(m, &own, Some(Path::new("abc")), "other").unwrap();
    for (h, r) in cg.fs.v1.hierarchies.iter().zip(&rel.fs.v1.hierarchies) {
        assert_eq!(h.dir, r.dir);
    }
    assert_eq!(cg.unified_dir(), rel.unified_dir());
    assert!(Cgroup::resolve(m, &own, Some(Path::new("/a/../b")), "x").is_err());
    // Round trip through the state file.
    let back: Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
    assert_eq!(back.unified_dir(), cg.unified_dir());
}

#[test]
fn unified_relative_paths_go_beside_our_cgroup() {
    // A service's cgroup on a pure v2 host: it holds processes, so the
    // container goes under its parent, as runc puts it.
    let m = mounts::Mounts::parse(
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
    );
    let own = "0::/system.slice/hull-test.service\n";
    let cg = Cgroup::resolve(&m, own, None, "c1").unwrap();
    assert_eq!(
        cg.unified_dir(),
        Some(PathBuf::from("/sys/fs/cgroup/system.slice/c1"))
    );
    let cg = Cgroup::resolve(&m, own, Some(Path::new("pod/c2")), "x").unwrap();
    assert_eq!(
        cg.unified_dir(),
        Some(PathBuf::from("/sys/fs/cgroup/system.slice/pod/c2"))
    );
    // At the root there is no parent: under the root.
    let cg = Cgroup::resolve(&m, "0::/\n", None, "c3").unwrap();
    assert_eq!(cg.unified_dir(), Some(PathBuf::from("/sys/fs/cgroup/c3")));
}
