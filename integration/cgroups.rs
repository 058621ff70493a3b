//! cgroups: every resource this host's controllers support, visible in the
//! container's cgroup files and enforced; pause/resume, update, ps, events
//! and kill --all as runc has them.
//!
//! Two layouts are tested. This host is hybrid: v1 hierarchies for cpu,
//! cpuacct, cpuset, memory, devices, freezer, blkio and pids, and a cgroup2
//! mount at /sys/fs/cgroup/unified with only hugetlb; net_cls, net_prio and
//! rdma are nowhere. A systemd host of today (make test-vm) is pure v2:
//! every controller in the one tree at /sys/fs/cgroup. hull drives each
//! controller where it lives, and so the tests read each file where the
//! host has it ([`cg_file`]); a field the host cannot take must be a clear
//! error naming it. Each test's containers live under its own parent
//! cgroup, which the harness checks is empty after.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// The bundle's linux.cgroupsPath (the harness gives each bundle its own).
fn cgroups_path(b: &Bundle) -> String {
    let mut path = String::new();
    b.config(|c| path = c["linux"]["cgroupsPath"].as_str().unwrap().to_string());
    path
}

/// The host's cgroup filesystems under /sys/fs/cgroup, from our
/// mountinfo: each v1 hierarchy (its mount options, which name its
/// controllers, and where it is mounted) and the cgroup2 mount.
struct Layout {
    v1: Vec<(Vec<String>, PathBuf)>,
    unified: Option<PathBuf>,
}

fn layout() -> &'static Layout {
    static LAYOUT: OnceLock<Layout> = OnceLock::new();
    LAYOUT.get_or_init(|| {
        let mut l = Layout {
            v1: Vec::new(),
            unified: None,
        };
        for line in fs::read_to_string("/proc/self/mountinfo").unwrap().lines() {
            // `... MOUNT_POINT ... - FSTYPE SOURCE SUPER_OPTIONS`
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let point = PathBuf::from(left.split(' ').nth(4).unwrap_or_default());
            let right: Vec<&str> = right.split(' ').collect();
            if !point.starts_with("/sys/fs/cgroup") || right.len() < 3 {
                continue;
            }
            match right[0] {
                "cgroup2" => l.unified = Some(point),
                "cgroup" => {
                    l.v1.push((right[2].split(',').map(String::from).collect(), point))
                }
                _ => {}
            }
        }
        l
    })
}

/// Where a controller is, as hull routes it (src/cgroups/mod.rs): its v1
/// hierarchy where the host mounts one, else the unified tree if that
/// offers it; None when the host has it nowhere. `ctl` is the v1 name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hier {
    V1,
    V2,
}

fn hier(ctl: &str) -> Option<Hier> {
    let l = layout();
    if l.v1.iter().any(|(opts, _)| opts.iter().any(|o| o == ctl)) {
        return Some(Hier::V1);
    }
    let unified = l.unified.as_ref()?;
    let name = match ctl {
        // Built into every v2 cgroup, not controllers: cgroup.freeze, an
        // eBPF device program, cpu.stat.
        "freezer" | "devices" | "cpuacct" => return Some(Hier::V2),
        "blkio" => "io",
        other => other,
    };
    let offered = fs::read_to_string(unified.join("cgroup.controllers")).unwrap_or_default();
    offered
        .split_whitespace()
        .any(|c| c == name)
        .then_some(Hier::V2)
}

/// Whether `ctl` lives in the unified tree here.
fn on_v2(ctl: &str) -> bool {
    hier(ctl) == Some(Hier::V2)
}

/// `v1` where the host has `ctl` in a v1 hierarchy, else `v2`: a file
/// name or an expected value, which differ between the versions.
fn v1_or_v2<T>(ctl: &str, v1: T, v2: T) -> T {
    if on_v2(ctl) { v2 } else { v1 }
}

/// Where the host mounts the hierarchy holding `ctl`.
#[track_caller]
fn mount_of(ctl: &str) -> &'static Path {
    let l = layout();
    match hier(ctl) {
        Some(Hier::V1) => {
            let found = l.v1.iter().find(|(opts, _)| opts.iter().any(|o| o == ctl));
            &found.unwrap().1
        }
        Some(Hier::V2) => l.unified.as_deref().unwrap(),
        None => panic!("no {ctl} controller on this host"),
    }
}

/// The container's cgroup directory where `ctl` is driven.
#[track_caller]
fn cg_dir(b: &Bundle, ctl: &str) -> PathBuf {
    mount_of(ctl).join(cgroups_path(b).trim_start_matches('/'))
}

/// The container's directory in every hierarchy (each v1 one, the
/// unified one): hull makes and removes them all.
fn all_cg_dirs(b: &Bundle) -> Vec<PathBuf> {
    let l = layout();
    let mounts = l.v1.iter().map(|(_, point)| point).chain(&l.unified);
    mounts
        .map(|m| m.join(cgroups_path(b).trim_start_matches('/')))
        .collect()
}

/// The container's directory in the unified tree.
fn unified_dir(b: &Bundle) -> PathBuf {
    let unified = layout().unified.as_ref().expect("no cgroup2 mount");
    unified.join(cgroups_path(b).trim_start_matches('/'))
}

/// A file of the container's cgroup for controller `ctl`: `v1` in its v1
/// hierarchy, `v2` in the unified tree, wherever this host has it.
#[track_caller]
fn cg_file(b: &Bundle, ctl: &str, v1: &str, v2: &str) -> PathBuf {
    cg_dir(b, ctl).join(v1_or_v2(ctl, v1, v2))
}

/// A file's content, trimmed.
#[track_caller]
fn read_trimmed(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// [`cg_file`]'s content, trimmed.
#[track_caller]
fn cg_read(b: &Bundle, ctl: &str, v1: &str, v2: &str) -> String {
    read_trimmed(&cg_file(b, ctl, v1, v2))
}

/// `key value` from a keyed cgroup file (memory.oom_control, pids.events).
#[track_caller]
fn key_of(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

/// [`key_of`] in [`cg_file`].
#[track_caller]
fn cg_key(b: &Bundle, ctl: &str, v1: &str, v2: &str, key: &str) -> u64 {
    key_of(&cg_read(b, ctl, v1, v2), key)
}

/// Where the container sees [`cg_file`]: hull binds its own cgroup
/// directory of each hierarchy at the host's mount point (v1, hybrid), or
/// mounts cgroup2 at /sys/fs/cgroup (pure v2), which shows the host's tree
/// (as runc's) unless the container has a cgroup namespace, rooted at its
/// cgroup.
fn inside(b: &Bundle, ctl: &str, v1: &str, v2: &str) -> String {
    let mut cgroupns = false;
    b.config(|c| {
        let ns = c["linux"]["namespaces"].as_array().unwrap();
        cgroupns = ns
            .iter()
            .any(|n| n["type"] == "cgroup" && n["path"].is_null());
    });
    let path = if layout().v1.is_empty() && !cgroupns {
        cg_file(b, ctl, v1, v2)
    } else {
        mount_of(ctl).join(v1_or_v2(ctl, v1, v2))
    };
    path.display().to_string()
}

/// The freezer's state as v1 names it (THAWED, FREEZING, FROZEN); v2's
/// is the `frozen` key of cgroup.events (cgroup.freeze is only the ask).
#[track_caller]
fn freezer_state(b: &Bundle) -> String {
    let dir = cg_dir(b, "freezer");
    match on_v2("freezer") {
        false => read_trimmed(&dir.join("freezer.state")),
        true => match key_of(&read_trimmed(&dir.join("cgroup.events")), "frozen") {
            1 => "FROZEN".into(),
            _ => "THAWED".into(),
        },
    }
}

/// CPU time the container used, in ns: v1's cpuacct.usage, v2's cpu.stat
/// usage_usec.
fn cpu_usage_ns(b: &Bundle) -> u64 {
    let dir = cg_dir(b, "cpuacct");
    match on_v2("cpuacct") {
        false => read_num(&dir.join("cpuacct.usage")),
        true => key_of(&read_trimmed(&dir.join("cpu.stat")), "usage_usec") * 1000,
    }
}

fn set_resources(b: &Bundle, resources: Value) {
    b.config(|c| c["linux"]["resources"] = resources);
}

/// A bundle with a fresh host dir bound at /mnt (rw).
fn bundle_with_mnt(t: &Test, name: &str) -> (Bundle, PathBuf) {
    let shared = t.host_dir(name);
    let b = t.bundle();
    b.bind(&shared, "/mnt", &["rw"]);
    (b, shared)
}

/// `hull events --stats ID`: exactly one runc stats event; its `data`.
#[track_caller]
fn stats(t: &Test, id: &str) -> Value {
    let out = t.hull(&["events", "--stats", id]).ok();
    assert_eq!(out.lines().len(), 1, "one event line:\n{out}");
    let v: Value = serde_json::from_str(out.lines()[0]).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    assert_eq!(v["type"], "stats", "{out}");
    assert_eq!(v["id"], id, "{out}");
    v["data"].clone()
}

/// `hull ps --format json ID` as pids.
#[track_caller]
fn ps_json(t: &Test, id: &str) -> Vec<i64> {
    let out = t.hull(&["ps", "--format", "json", id]).ok();
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    v.as_array()
        .unwrap_or_else(|| panic!("not an array:\n{out}"))
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect()
}

fn init_pid(t: &Test, id: &str) -> i64 {
    t.state(id)["pid"].as_i64().unwrap()
}

/// Whether a host pid is a live (not zombie) process.
fn alive(pid: i64) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let state = s[s.rfind(')')? + 2..].chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// The content of a file the container writes, once it is complete (a
/// shell redirect creates the file before the command writes it).
#[track_caller]
fn wait_lines(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    wait_for(&format!("{} to be written", path.display()), || {
        text = fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n') && text.lines().count() >= lines
    });
    text
}

fn read_num(path: &Path) -> u64 {
    fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// A hull command running in the background with stdout and stderr in files.
struct Background {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Background {
    fn spawn(t: &Test, args: &[&str], name: &str) -> Background {
        let (out, err) = (
            t.dir.join(format!("{name}.out")),
            t.dir.join(format!("{name}.err")),
        );
        let child = t
            .command(args)
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Background { child, out, err }
    }

    /// Wait for its exit (at most `timeout`); (exit code, stdout, stderr).
    #[track_caller]
    fn wait(mut self, timeout: Duration) -> (i32, String, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "still running after {timeout:?}; output so far:\n{}",
                    fs::read_to_string(&self.out).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
        (
            status.code().unwrap_or(-1),
            read(&self.out),
            read(&self.err),
        )
    }
}

// ---------------------------------------------------------------------------
// memory
// ---------------------------------------------------------------------------

#[test]
fn memory_limits_are_visible_inside_and_on_the_host() {
    let t = Test::new();
    let v2 = on_v2("memory");
    let mut memory = json!({"limit": 32 * MIB, "reservation": 16 * MIB, "swap": 48 * MIB,
                            "kernel": 8 * MIB, "useHierarchy": true});
    if v2 {
        // v2 has no swappiness of its own per cgroup: refused by name.
        let nb = t.bundle();
        set_resources(
            &nb,
            json!({"memory": {"limit": 32 * MIB, "swappiness": 10}}),
        );
        t.create(&nb, "swappy")
            .fails_with("linux.resources.memory.swappiness: not supported on cgroup v2");
        t.assert_nothing_left("swappy");
    } else {
        memory["swappiness"] = json!(10);
    }
    let b = t.bundle();
    set_resources(&b, json!({ "memory": memory }));
    b.args(&["sleep", "1000"]);
    t.create(&b, "mem").ok();
    let mem = |v1: &str, v2: &str| cg_read(&b, "memory", v1, v2);
    assert_eq!(
        mem("memory.limit_in_bytes", "memory.max"),
        (32 * MIB).to_string()
    );
    assert_eq!(
        mem("memory.soft_limit_in_bytes", "memory.low"),
        (16 * MIB).to_string()
    );
    // OCI's swap is memory+swap, as v1's memsw; v2's swap.max is swap alone.
    assert_eq!(
        mem("memory.memsw.limit_in_bytes", "memory.swap.max"),
        v1_or_v2("memory", 48 * MIB, 16 * MIB).to_string()
    );
    // Kernel memory limits are ignored, as runc does (deprecated in the
    // kernel; v2 has none at all); v2 is always hierarchical.
    if !v2 {
        let dir = cg_dir(&b, "memory");
        assert_eq!(read_trimmed(&dir.join("memory.swappiness")), "10");
        assert_eq!(read_trimmed(&dir.join("memory.use_hierarchy")), "1");
        assert_ne!(
            read_trimmed(&dir.join("memory.kmem.limit_in_bytes")),
            (8 * MIB).to_string()
        );
    }
    let pid = init_pid(&t, "mem");
    let procs = mem("cgroup.procs", "cgroup.procs");
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in cgroup.procs: {procs}"
    );

    // Inside: the container's own cgroup under /sys/fs/cgroup.
    let b2 = t.bundle();
    set_resources(&b2, json!({"memory": {"limit": 48 * MIB}}));
    let limit = inside(&b2, "memory", "memory.limit_in_bytes", "memory.max");
    let out = t.run_sh(
        &b2,
        "mem-in",
        &format!("cat {limit}; cat /proc/self/cgroup"),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], (48 * MIB).to_string(), "{out}");
    // No cgroup namespace (runc's default): the host's path.
    let path = cgroups_path(&b2);
    let want = v1_or_v2("memory", format!(":memory:{path}"), format!("0::{path}"));
    assert!(lines[1..].iter().any(|l| l.ends_with(&want)), "{out}");
}

/// A v1 memory hierarchy, or memory among the v2 root's controllers.
fn has_memory_controller() -> bool {
    Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
        || fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
}

/// A limit too small for the init to even start: it is OOM-killed during
/// setup, and the error says so and names the limit (issue 10, item 17).
#[test]
fn a_memory_limit_too_small_for_setup_is_named() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"memory": {"limit": 1}}));
    b.args(&["true"]);
    let want = if has_memory_controller() {
        "container init was killed by SIGKILL during setup: out of memory \
         (linux.resources.memory.limit: 1)"
    } else {
        eprintln!("no memory controller on this host: its refusal is checked instead");
        "linux.resources.memory.limit: the memory controller is not available on this host"
    };
    t.create(&b, "tiny").fails_with(want);
    t.assert_nothing_left("tiny");
}

#[test]
fn memory_over_the_limit_is_oom_killed() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"memory": {"limit": 32 * MIB}}));
    // dd's buffer is bs bytes, all touched by the read from /dev/zero.
    b.sh("exec dd if=/dev/zero of=/dev/null bs=96M count=1");
    let out = t.run(&b, "oom");
    assert_eq!(out.code, 137, "expected an OOM kill (SIGKILL):\n{out}");

    // The same allocation under the limit succeeds.
    let b2 = t.bundle();
    set_resources(&b2, json!({"memory": {"limit": 128 * MIB}}));
    b2.sh("exec dd if=/dev/zero of=/dev/null bs=32M count=1");
    assert_eq!(t.run(&b2, "fits").code, 0);
}

#[test]
fn oom_kill_of_a_child_shows_in_the_counters_and_stats() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(&b, json!({"memory": {"limit": 32 * MIB}}));
    b.sh("dd if=/dev/zero of=/dev/null bs=96M count=1; echo $? > /mnt/dd; exec sleep 1000");
    t.run_detached(&b, "oomc");
    assert_eq!(wait_lines(&shared.join("dd"), 1), "137\n");
    assert_eq!(t.status("oomc"), "running", "the init survives");
    let oom_kills = cg_key(
        &b,
        "memory",
        "memory.oom_control",
        "memory.events",
        "oom_kill",
    );
    assert!(oom_kills >= 1);
    let data = stats(&t, "oomc");
    let usage = &data["memory"]["usage"];
    assert_eq!(usage["limit"], 32 * MIB, "{data}");
    assert!(usage["failcnt"].as_u64().unwrap() > 0, "failcnt: {usage}");
    assert!(usage["max"].as_u64().unwrap() >= 31 * MIB, "peak: {usage}");
}

#[test]
fn events_stream_reports_the_oom_kill_and_ends_with_the_container() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(&b, json!({"memory": {"limit": 32 * MIB}}));
    b.sh("while [ ! -e /mnt/go ]; do sleep 0.05; done; exec dd if=/dev/zero of=/dev/null bs=96M count=1");
    t.run_detached(&b, "evo");
    let events = Background::spawn(&t, &["events", "--interval", "200ms", "evo"], "events");
    // Some stats first, then the allocation.
    std::thread::sleep(Duration::from_millis(700));
    fs::write(shared.join("go"), "").unwrap();
    let (code, out, err) = events.wait(Duration::from_secs(15));
    assert_eq!(code, 0, "events failed:\n{out}\n{err}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let stats: Vec<&Value> = events.iter().filter(|e| e["type"] == "stats").collect();
    assert!(stats.len() >= 2, "stats every 200ms:\n{out}");
    assert!(
        stats
            .iter()
            .all(|s| s["id"] == "evo" && s["data"]["memory"]["usage"]["limit"] == 32 * MIB),
        "{out}"
    );
    let ooms: Vec<&Value> = events.iter().filter(|e| e["type"] == "oom").collect();
    assert_eq!(ooms, [&json!({"type": "oom", "id": "evo"})], "{out}");
    assert_eq!(t.status("evo"), "stopped");
}

#[test]
fn disabled_oom_killer_leaves_the_allocation_waiting() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 16 * MIB, "disableOOMKiller": true}}),
    );
    // Grown by copies in user space: a fault there waits on the memcg OOM,
    // where one inside read(2) (dd from /dev/zero) may just fail.
    b.sh("awk 'BEGIN { s = \"x\"; while (1) s = s s }'; exec sleep 1000");
    if on_v2("memory") {
        // v2 has no switch for the OOM killer: refused by name.
        t.create(&b, "nooom")
            .fails_with("linux.resources.memory.disableOOMKiller: not supported on cgroup v2");
        t.assert_nothing_left("nooom");
        return;
    }
    t.run_detached(&b, "nooom");
    let oom_control = cg_dir(&b, "memory").join("memory.oom_control");
    let key = |k: &str| key_of(&read_trimmed(&oom_control), k);
    assert_eq!(key("oom_kill_disable"), 1);
    wait_for("the cgroup to be under OOM", || key("under_oom") == 1);
    assert_eq!(key("oom_kill"), 0);
    // delete --force (the harness) still kills it.
}

// ---------------------------------------------------------------------------
// pids, cpu, cpuset, blkio
// ---------------------------------------------------------------------------

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(&b, json!({"pids": {"limit": 10}}));
    b.sh(
        "sh -c 'i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done' 2>/mnt/err; \
         echo $? > /mnt/bomb; exec sleep 1000",
    );
    t.run_detached(&b, "bomb");
    wait_lines(&shared.join("bomb"), 1);
    assert_eq!(cg_read(&b, "pids", "pids.max", "pids.max"), "10");
    let err = fs::read_to_string(shared.join("err")).unwrap();
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "fork errors: {err:?}"
    );
    let current: u64 = cg_read(&b, "pids", "pids.current", "pids.current")
        .parse()
        .unwrap();
    assert!((8..=10).contains(&current), "pids.current {current}");
    assert!(cg_key(&b, "pids", "pids.events", "pids.events", "max") > 0);
    let pids = ps_json(&t, "bomb");
    assert_eq!(pids.len() as u64, current, "{pids:?}");
    let data = stats(&t, "bomb");
    assert_eq!(
        data["pids"],
        json!({"current": current, "limit": 10}),
        "{data}"
    );
}

#[test]
fn cpu_shares_quota_period_burst_are_set_and_quota_enforced() {
    let t = Test::new();
    let v2 = on_v2("cpu");
    let mut cpu = json!({"shares": 512, "quota": 20000, "period": 100000, "burst": 5000});
    if v2 {
        // No realtime group scheduling in v2: refused by name.
        let nb = t.bundle();
        set_resources(&nb, json!({"cpu": {"realtimePeriod": 500000}}));
        t.create(&nb, "rt").fails_with(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2",
        );
        t.assert_nothing_left("rt");
    } else {
        cpu["realtimePeriod"] = json!(500000);
    }
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(&b, json!({ "cpu": cpu }));
    let shares = inside(&b, "cpu", "cpu.shares", "cpu.weight");
    let quota = inside(&b, "cpu", "cpu.cfs_quota_us", "cpu.max");
    b.sh(&format!(
        "cat {shares} {quota} > /mnt/inside; while :; do :; done"
    ));
    t.run_detached(&b, "cpu");
    // v2: shares become cpu.weight, linearly as crun and runc < 1.3
    // (1 + (512 - 2) * 9999 / 262142); quota and period share cpu.max.
    let want = v1_or_v2("cpu", ["512", "20000"], ["20", "20000 100000"]);
    assert_eq!(cg_read(&b, "cpu", "cpu.shares", "cpu.weight"), want[0]);
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_quota_us", "cpu.max"), want[1]);
    assert_eq!(
        cg_read(&b, "cpu", "cpu.cfs_burst_us", "cpu.max.burst"),
        "5000"
    );
    if !v2 {
        let dir = cg_dir(&b, "cpu");
        assert_eq!(read_trimmed(&dir.join("cpu.cfs_period_us")), "100000");
        assert_eq!(read_trimmed(&dir.join("cpu.rt_period_us")), "500000");
    }
    assert_eq!(
        wait_lines(&shared.join("inside"), 2),
        format!("{}\n{}\n", want[0], want[1])
    );

    // A busy loop gets at most 20% of one CPU.
    std::thread::sleep(Duration::from_millis(300));
    let (u0, t0) = (cpu_usage_ns(&b), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (u1, wall) = (cpu_usage_ns(&b), t0.elapsed());
    let share = (u1 - u0) as f64 / wall.as_nanos() as f64;
    assert!(
        share > 0.01 && share < 0.35,
        "CPU share {share:.3} with a 20% quota"
    );
    let data = stats(&t, "cpu");
    let throttling = &data["cpu"]["throttling"];
    assert!(
        throttling["throttledPeriods"].as_u64().unwrap_or(0) > 0,
        "{data}"
    );
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{data}"
    );
}

#[test]
fn cpu_idle_and_realtime_runtime() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"cpu": {"idle": 1}}));
    b.args(&["sleep", "1000"]);
    t.create(&b, "idle").ok();
    assert_eq!(cg_read(&b, "cpu", "cpu.idle", "cpu.idle"), "1");

    // v1: the test's parent cgroup has no realtime budget (0), so the
    // kernel refuses any for the container. v2 has no realtime group
    // scheduling. Either way a clear error naming the field.
    let b2 = t.bundle();
    set_resources(
        &b2,
        json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 100000}}),
    );
    b2.args(&["sleep", "1000"]);
    t.create(&b2, "rt").fails_with(v1_or_v2(
        "cpu",
        "linux.resources.cpu.realtimeRuntime: write 10000 to cpu.rt_runtime_us: invalid argument",
        "linux.resources.cpu.realtimeRuntime/realtimePeriod: not supported on cgroup v2",
    ));
    t.assert_nothing_left("rt");
    assert!(
        !cg_dir(&b2, "cpu").exists(),
        "failed create left its cgroup"
    );
}

#[test]
fn cpuset_pins_cpus_and_mems() {
    let t = Test::new();
    let last_cpu = std::thread::available_parallelism().map_or(1, |n| n.get()) - 1;
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(
        &b,
        json!({"cpu": {"cpus": last_cpu.to_string(), "mems": "0"}}),
    );
    b.sh("grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status > /mnt/inside; exec sleep 1000");
    t.run_detached(&b, "cpuset");
    let inside = wait_lines(&shared.join("inside"), 2);
    assert!(
        inside.contains(&format!("Cpus_allowed_list:\t{last_cpu}\n")),
        "{inside}"
    );
    assert!(inside.contains("Mems_allowed_list:\t0\n"), "{inside}");
    assert_eq!(
        cg_read(&b, "cpuset", "cpuset.cpus", "cpuset.cpus"),
        last_cpu.to_string()
    );
    assert_eq!(cg_read(&b, "cpuset", "cpuset.mems", "cpuset.mems"), "0");
    let data = stats(&t, "cpuset");
    assert_eq!(data["cpuset"]["cpus"], json!([last_cpu]), "{data}");
    assert_eq!(data["cpuset"]["mems"], json!([0]), "{data}");
    // An update moves the running init.
    t.hull(&["update", "--cpuset-cpus", "0", "cpuset"]).ok();
    let pid = init_pid(&t, "cpuset");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    // A CPU the host lacks is refused, naming the field and what the
    // parent cgroup (the test's, b's parent too) has to give.
    let b2 = t.bundle();
    set_resources(&b2, json!({"cpu": {"cpus": "1023"}}));
    let parent = cg_dir(&b, "cpuset").parent().unwrap().to_path_buf();
    let offered = parent.join(v1_or_v2("cpuset", "cpuset.cpus", "cpuset.cpus.effective"));
    t.create(&b2, "nocpu").fails_with(&format!(
        "linux.resources.cpu.cpus: write 1023 to cpuset.cpus: math result not representable \
             (the parent cgroup offers {})",
        read_trimmed(&offered)
    ));
    t.assert_nothing_left("nocpu");
}

/// major:minor of the first virtual or SCSI disk, if any.
fn a_disk() -> Option<String> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("vd") || n.starts_with("sd") || n.starts_with("nvme"))
        .collect();
    names.sort();
    let dev = fs::read_to_string(format!("/sys/block/{}/dev", names.first()?)).ok()?;
    Some(dev.trim().to_string())
}

/// The file a blkio weight lands in on this host (hull's choice), None
/// where the host can take none:
/// - v1: BFQ's blkio.bfq.weight (CFQ's blkio.weight went with CFQ in 5.0,
///   and some hosts build no BFQ);
/// - v2: BFQ's io.bfq.weight while BFQ is loaded (it is then among the
///   disks' schedulers), else iocost's io.weight (a kernel with iocost has
///   its io.cost.qos in the root cgroup).
fn weight_file() -> Option<&'static str> {
    let root = mount_of("blkio");
    match hier("blkio")? {
        Hier::V1 => Some("blkio.bfq.weight").filter(|f| root.join(f).exists()),
        Hier::V2 if bfq_loaded() => Some("io.bfq.weight"),
        Hier::V2 => Some("io.weight").filter(|_| root.join("io.cost.qos").exists()),
    }
}

/// Whether any disk offers the BFQ scheduler (`mq-deadline [none] bfq`).
fn bfq_loaded() -> bool {
    let disks = fs::read_dir("/sys/block").into_iter().flatten().flatten();
    disks
        .filter_map(|d| fs::read_to_string(d.path().join("queue/scheduler")).ok())
        .any(|s| {
            s.split_whitespace()
                .any(|x| x.trim_matches(['[', ']']) == "bfq")
        })
}

/// How weight `w` reads back from `file`: v2's files show `default N`,
/// and io.weight has a scale of its own (1..10000), to which hull converts
/// blkio's 10..1000 as runc does.
fn weight_reads(file: &str, w: u64) -> String {
    match file {
        "io.bfq.weight" => format!("default {w}"),
        "io.weight" => format!("default {}", 1 + (w - 10) * 9999 / 990),
        _ => w.to_string(),
    }
}

/// The container's blkio weight, as [`weight_reads`] shows it.
#[track_caller]
fn read_weight(b: &Bundle) -> String {
    read_trimmed(&cg_dir(b, "blkio").join(weight_file().unwrap()))
}

/// `{"weight": w}` where the host can set it, else no weight.
fn blkio_weight(w: u16) -> Value {
    if weight_file().is_some() {
        json!({ "weight": w })
    } else {
        eprintln!("no blkio/io weight on this host: blkio weight not tested here");
        json!({})
    }
}

#[test]
fn blkio_weight_and_throttles_are_set() {
    let t = Test::new();
    let b = t.bundle();
    let v2 = on_v2("blkio");
    if weight_file().is_none() {
        // No weight file: the weight is refused by name, and nothing is left.
        let nb = t.bundle();
        set_resources(&nb, json!({"blockIO": {"weight": 300}}));
        t.create(&nb, "noweight").fails_with(&format!(
            "linux.resources.blockIO.weight: not supported on this host (no {} in",
            v1_or_v2("blkio", "blkio.bfq.weight", "io.weight")
        ));
        t.assert_nothing_left("noweight");
    }
    let mut blkio = blkio_weight(300);
    let disk = a_disk();
    if let Some(dev) = &disk {
        let (major, minor) = dev.split_once(':').unwrap();
        let (major, minor): (u64, u64) = (major.parse().unwrap(), minor.parse().unwrap());
        blkio["throttleReadBpsDevice"] = json!([{"major": major, "minor": minor, "rate": MIB}]);
        blkio["throttleWriteIOPSDevice"] = json!([{"major": major, "minor": minor, "rate": 100}]);
    } else {
        eprintln!("no vd*/sd*/nvme* disk: throttles not tested");
    }
    set_resources(&b, json!({"blockIO": blkio}));
    b.args(&["sleep", "1000"]);
    t.create(&b, "blkio").ok();
    if let Some(file) = weight_file() {
        assert_eq!(read_weight(&b), weight_reads(file, 300));
    }
    if let Some(dev) = &disk {
        let dir = cg_dir(&b, "blkio");
        if v2 {
            // One io.max line per disk, with every limit.
            assert_eq!(
                read_trimmed(&dir.join("io.max")),
                format!("{dev} rbps={MIB} wbps=max riops=max wiops=100")
            );
        } else {
            assert_eq!(
                read_trimmed(&dir.join("blkio.throttle.read_bps_device")),
                format!("{dev} {MIB}")
            );
            assert_eq!(
                read_trimmed(&dir.join("blkio.throttle.write_iops_device")),
                format!("{dev} 100")
            );
        }
    }
    // CFQ's leaf weights exist no more (nor in v2): a clear error.
    let b2 = t.bundle();
    set_resources(&b2, json!({"blockIO": {"leafWeight": 300}}));
    t.create(&b2, "leaf").fails_with(v1_or_v2(
        "blkio",
        "linux.resources.blockIO.leafWeight: not supported on this host (no blkio.leaf_weight in",
        "linux.resources.blockIO.leafWeight: not supported on cgroup v2",
    ));
    t.assert_nothing_left("leaf");
}

// ---------------------------------------------------------------------------
// devices, hugetlb, controllers this host lacks
// ---------------------------------------------------------------------------

#[test]
fn devices_outside_the_allow_list_cannot_be_opened() {
    let t = Test::new();
    let fuse =
        json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438});
    let script = "echo x > /dev/null && echo null-ok; head -c 1 /dev/zero > /dev/null && echo zero-ok; \
                  head -c 1 /dev/urandom > /dev/null && echo urandom-ok; (exec 3</dev/fuse) 2>&1; echo fuse=$?";

    // Engines start with deny-all; the defaults are appended after the
    // config's rules (runc does so too: a config deny of /dev/null loses).
    let b = t.bundle();
    b.config(|c| c["linux"]["devices"] = json!([fuse]));
    set_resources(
        &b,
        json!({"devices": [{"allow": false, "access": "rwm"},
                           {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}),
    );
    let out = t.run_sh(&b, "deny", script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["null-ok", "zero-ok", "urandom-ok"], "{out}");
    assert!(
        lines[3].contains("can't open") && lines[3].ends_with("/dev/fuse: Operation not permitted"),
        "{out}"
    );
    assert_eq!(lines[4..], ["fuse=1"], "{out}");

    // Allowed by a rule: it opens (reading needs a fuse mount; opening
    // not). A device with no rule, loop-control, still does not: the
    // rules are not allow-all.
    let loop_control = json!({"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237, "fileMode": 438});
    let b2 = t.bundle();
    b2.config(|c| c["linux"]["devices"] = json!([fuse, loop_control]));
    set_resources(
        &b2,
        json!({"devices": [{"allow": false, "access": "rwm"},
                           {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}),
    );
    // v1 also lists the rules the kernel holds (v2's are an eBPF program).
    let list = match on_v2("devices") {
        false => "cat /sys/fs/cgroup/devices/devices.list > /mnt/list; ",
        true => "",
    };
    b2.sh(&format!(
        "{list}(exec 3</dev/fuse) 2>&1; echo fuse=$?; (exec 3</dev/loop-control) 2>/dev/null; echo loop=$?"
    ));
    let shared = t.host_dir("shared");
    b2.bind(&shared, "/mnt", &["rw"]);
    assert_eq!(t.run(&b2, "allow").ok().stdout, "fuse=0\nloop=1\n");
    if list.is_empty() {
        return;
    }
    let list = fs::read_to_string(shared.join("list")).unwrap();
    assert!(list.lines().any(|l| l == "c 10:229 rw"), "{list}");
    assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
    assert!(!list.lines().any(|l| l.starts_with("a ")), "{list}");
}

#[test]
fn hugetlb_limit_lands_on_the_unified_mount() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(
        &b,
        json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MIB}]}),
    );
    b.args(&["sleep", "1000"]);
    t.create(&b, "huge").ok();
    // No v1 hugetlb hierarchy on this hybrid host: the cgroup2 mount
    // drives it (on a pure v2 host, the one tree).
    let limit = ["hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max"];
    let rsvd = ["hugetlb.2MB.rsvd.limit_in_bytes", "hugetlb.2MB.rsvd.max"];
    for [v1, v2] in [limit, rsvd] {
        assert_eq!(cg_read(&b, "hugetlb", v1, v2), (4 * MIB).to_string());
    }
    let pid = init_pid(&t, "huge");
    let procs = read_trimmed(&unified_dir(&b).join("cgroup.procs"));
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init in the unified cgroup"
    );
    let data = stats(&t, "huge");
    assert_eq!(data["hugetlb"]["2MB"], json!({"failcnt": 0}), "{data}");
    let pages = read_num(Path::new(
        "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages",
    ));
    if pages == 0 {
        // Enforcement needs reserved huge pages, a host-wide change.
        eprintln!("no 2MB huge pages reserved on this host: hugetlb enforcement not tested");
    }
    let b2 = t.bundle();
    set_resources(
        &b2,
        json!({"hugepageLimits": [{"pageSize": "4MB", "limit": 4 * MIB}]}),
    );
    t.create(&b2, "huge4").fails_with(&format!(
        "linux.resources.hugepageLimits[4MB]: not supported on this host (no {} in",
        v1_or_v2("hugetlb", "hugetlb.4MB.limit_in_bytes", "hugetlb.4MB.max")
    ));
    t.assert_nothing_left("huge4");
}

#[test]
fn controllers_this_host_lacks_are_clear_errors() {
    let t = Test::new();
    let mut cases: Vec<(Value, String)> = Vec::new();
    for (ctl, resources, field) in [
        (
            "net_cls",
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network.classID",
        ),
        (
            "net_prio",
            json!({"network": {"priorities": [{"name": "lo", "priority": 5}]}}),
            "linux.resources.network.priorities",
        ),
        (
            "rdma",
            json!({"rdma": {"mlx5_0": {"hcaHandles": 2}}}),
            "linux.resources.rdma",
        ),
    ] {
        let error = match hier(ctl) {
            None => format!("{field}: the {ctl} controller is not available on this host"),
            // v2 has rdma: then the device is what the host lacks, which
            // the kernel refuses (ENODEV), named.
            Some(_) if ctl == "rdma" && !Path::new("/sys/class/infiniband/mlx5_0").exists() => {
                "linux.resources.rdma[mlx5_0]: write mlx5_0 hca_handle=2 to rdma.max: no such device"
                    .into()
            }
            Some(_) => {
                eprintln!("this host has {ctl}: {field} is not an error here");
                continue;
            }
        };
        cases.push((resources, error));
    }
    // `unified` (raw v2 files) for a controller the unified tree does not
    // offer: memory where a v1 hierarchy has it (hybrid), else net_cls,
    // which v2 never has.
    cases.push(match (&layout().unified, hier("memory")) {
        (None, _) => (
            json!({"unified": {"memory.high": "1000000"}}),
            "linux.resources.unified: invalid configuration: this host has no cgroup v2 hierarchy"
                .into(),
        ),
        (Some(_), Some(Hier::V1)) => (
            json!({"unified": {"memory.high": "1000000"}}),
            "linux.resources.unified.memory.high: invalid configuration: \
             this host has the memory controller in cgroup v1"
                .into(),
        ),
        (Some(_), _) => (
            json!({"unified": {"net_cls.classid": "1"}}),
            "linux.resources.unified.net_cls.classid: the net_cls controller is not enabled in"
                .into(),
        ),
    });
    for (i, (resources, error)) in cases.into_iter().enumerate() {
        let b = t.bundle();
        set_resources(&b, resources);
        let id = format!("lack{i}");
        t.create(&b, &id).fails_with(&error);
        t.assert_nothing_left(&id);
        for dir in all_cg_dirs(&b) {
            assert!(!dir.exists(), "{id}: cgroup {} left", dir.display());
        }
    }
}

/// v1 resources with `unified` files of a controller this host has in
/// cgroup v1 (runc bats: "cgroup v1 + unified resources should fail"):
/// refused as an invalid configuration naming the key, before anything
/// is written, also by `update`.
#[test]
fn unified_files_of_a_v1_controller_are_refused_before_any_write() {
    if layout().unified.is_none() || hier("memory") != Some(Hier::V1) {
        eprintln!("memory is not a cgroup v1 controller on a hybrid host here: nothing to refuse");
        return;
    }
    let t = Test::new();
    let want = "linux.resources.unified.memory.min: invalid configuration: \
                this host has the memory controller in cgroup v1, not in the unified tree";
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 64 * MIB}, "unified": {"memory.min": "131072"}}),
    );
    t.create(&b, "v1u").fails_with(want);
    t.assert_nothing_left("v1u");

    let b = t.bundle();
    set_resources(&b, json!({"memory": {"limit": 64 * MIB}}));
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "v1up");
    let update = br#"{"memory": {"limit": 134217728}, "unified": {"memory.min": "131072"}}"#;
    let mut cmd = t.command(&["update", "--resources", "-", "v1up"]);
    t.try_output(&mut cmd, Some(update))
        .unwrap()
        .fails_with(want);
    let limit = cg_read(&b, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(limit, (64 * MIB).to_string(), "the v1 limit was written");
    t.hull(&["delete", "--force", "v1up"]).ok();
}

// ---------------------------------------------------------------------------
// pause / resume
// ---------------------------------------------------------------------------

#[test]
fn pause_freezes_and_resume_thaws() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    b.sh("i=0; while :; do i=$((i+1)); echo $i > /mnt/count.tmp; mv /mnt/count.tmp /mnt/count; sleep 0.02; done");
    t.run_detached(&b, "pz");
    let count = || read_num(&shared.join("count"));
    wait_for("the counter to run", || count() > 0);

    t.hull(&["pause", "pz"]).ok();
    assert_eq!(t.status("pz"), "paused");
    assert_eq!(freezer_state(&b), "FROZEN");
    let frozen_at = count();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(count(), frozen_at, "a paused container made progress");
    t.hull(&["pause", "pz"]).fails_with("container not running");
    t.start("pz").fails_with("cannot start");
    t.hull(&["delete", "pz"]).fails_with("paused");
    // ps and stats work on a frozen container.
    assert_eq!(ps_json(&t, "pz").first(), Some(&init_pid(&t, "pz")));
    stats(&t, "pz");

    t.hull(&["resume", "pz"]).ok();
    assert_eq!(t.status("pz"), "running");
    assert_eq!(freezer_state(&b), "THAWED");
    wait_for("the counter to move again", || count() > frozen_at + 3);
    t.hull(&["resume", "pz"]).fails_with("container not paused");

    t.kill("pz", "KILL").ok();
    t.wait_status("pz", "stopped");
    t.hull(&["pause", "pz"]).fails_with("container not running");
    t.hull(&["resume", "pz"]).fails_with("container not paused");
    t.hull(&["pause", "nope"])
        .fails_with(r#"container "nope" does not exist"#);
    t.hull(&["resume", "nope"])
        .fails_with(r#"container "nope" does not exist"#);
}

#[test]
fn a_created_container_can_be_paused_but_not_started_paused() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.create(&b, "pc").ok();
    // As runc: a created container can be frozen; start waits for resume.
    t.hull(&["pause", "pc"]).ok();
    assert_eq!(t.status("pc"), "paused");
    assert_eq!(freezer_state(&b), "FROZEN");
    t.start("pc")
        .fails_with("cannot start a container in the paused state");
    t.hull(&["resume", "pc"]).ok();
    assert_eq!(t.status("pc"), "created");
    t.start("pc").ok();
    assert_eq!(t.status("pc"), "running");
    t.hull(&["pause", "pc"]).ok();
    t.hull(&["resume", "pc"]).ok();
}

#[test]
fn delete_force_of_a_paused_container_is_prompt() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "pdel");
    t.hull(&["pause", "pdel"]).ok();
    let began = Instant::now();
    t.hull(&["delete", "--force", "pdel"]).ok();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
    assert!(!cg_dir(&b, "freezer").exists());
}

// ---------------------------------------------------------------------------
// update
// ---------------------------------------------------------------------------

#[test]
fn update_flags_change_the_cgroup_files() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 64 * MIB}, "cpu": {"shares": 1024}, "pids": {"limit": 50},
               "blockIO": blkio_weight(100)}),
    );
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "up");
    let weight: &[&str] = match weight_file() {
        Some(_) => &["--blkio-weight", "200"],
        None => &[],
    };
    let flags = [
        "--memory",
        "128m",
        "--memory-reservation",
        "32MiB",
        "--memory-swap",
        "256m",
        "--cpu-share",
        "512",
        "--cpu-quota",
        "30000",
        "--cpu-period",
        "100000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "20",
    ];
    let args: Vec<&str> = ["update"]
        .iter()
        .chain(&flags)
        .chain(weight)
        .chain(&["up"])
        .copied()
        .collect();
    t.hull(&args).ok();
    let memory = || cg_read(&b, "memory", "memory.limit_in_bytes", "memory.max");
    // v2: shares as cpu.weight (see cpu_shares_quota_period_burst_...),
    // quota and period together in cpu.max.
    let shares = || cg_read(&b, "cpu", "cpu.shares", "cpu.weight");
    let quota = || cg_read(&b, "cpu", "cpu.cfs_quota_us", "cpu.max");
    assert_eq!(memory(), (128 * MIB).to_string());
    assert_eq!(
        cg_read(&b, "memory", "memory.soft_limit_in_bytes", "memory.low"),
        (32 * MIB).to_string()
    );
    // memory+swap in v1, swap alone in v2.
    assert_eq!(
        cg_read(
            &b,
            "memory",
            "memory.memsw.limit_in_bytes",
            "memory.swap.max"
        ),
        v1_or_v2("memory", 256 * MIB, 128 * MIB).to_string()
    );
    assert_eq!(shares(), v1_or_v2("cpu", "512", "20"));
    assert_eq!(quota(), v1_or_v2("cpu", "30000", "30000 100000"));
    if !on_v2("cpu") {
        let period = cg_dir(&b, "cpu").join("cpu.cfs_period_us");
        assert_eq!(read_trimmed(&period), "100000");
    }
    assert_eq!(cg_read(&b, "cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    assert_eq!(cg_read(&b, "pids", "pids.max", "pids.max"), "20");
    if let Some(file) = weight_file() {
        assert_eq!(read_weight(&b), weight_reads(file, 200));
    }

    // Only what is given changes; -1 means unlimited.
    t.hull(&[
        "update",
        "--memory",
        "-1",
        "--pids-limit",
        "-1",
        "--cpu-quota",
        "-1",
        "up",
    ])
    .ok();
    assert_eq!(memory(), v1_or_v2("memory", "9223372036854771712", "max"));
    assert_eq!(cg_read(&b, "pids", "pids.max", "pids.max"), "max");
    assert_eq!(quota(), v1_or_v2("cpu", "-1", "max 100000"));
    assert_eq!(shares(), v1_or_v2("cpu", "512", "20"));
    if let Some(file) = weight_file() {
        assert_eq!(read_weight(&b), weight_reads(file, 200));
    }
    // The `=` form, and the shares alias.
    t.hull(&["update", "--memory=96m", "--cpu-shares=256", "up"])
        .ok();
    assert_eq!(memory(), (96 * MIB).to_string());
    assert_eq!(shares(), v1_or_v2("cpu", "256", "10"));
    // Deprecated kernel memory: a warning, nothing else.
    let out = t.hull(&["update", "--kernel-memory", "64m", "up"]).ok();
    assert!(
        out.stderr.contains("Kernel memory settings are ignored"),
        "{out}"
    );

    t.hull(&["update", "--memory", "10x", "up"])
        .fails_with("invalid value for memory: invalid size: '10x'");
    t.hull(&["update", "--cpu-period", "abc", "up"])
        .fails_with("invalid value for cpu-period");
    // Below what the container uses: v1's kernel refuses, naming the field.
    // v2's would reclaim, then OOM-kill: there, checkBeforeUpdate (runc's)
    // has hull refuse it first.
    if on_v2("memory") {
        let mut cmd = t.command(&["update", "--resources", "-", "up"]);
        let check = br#"{"memory":{"limit":4096,"checkBeforeUpdate":true}}"#;
        t.try_output(&mut cmd, Some(check))
            .unwrap()
            .fails_with("linux.resources.memory.limit: 4096 is not above the current usage");
    } else {
        t.hull(&["update", "--memory", "4096", "up"])
            .fails_with("linux.resources.memory.limit: write 4096 to memory.limit_in_bytes: device or resource busy");
    }
    assert_eq!(memory(), (96 * MIB).to_string());
    t.hull(&["update", "--memory", "1g", "nope"])
        .fails_with(r#"container "nope" does not exist"#);
    t.kill("up", "KILL").ok();
    t.wait_status("up", "stopped");
    t.hull(&["update", "--memory", "1g", "up"])
        .fails_with("container not running");
}

#[test]
fn update_resources_from_a_file_and_from_stdin() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 64 * MIB}, "cpu": {"shares": 256}, "blockIO": blkio_weight(100)}),
    );
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "upr");
    let memory = || cg_read(&b, "memory", "memory.limit_in_bytes", "memory.max");
    // OCI's swap is memory+swap, as v1's memsw; v2's swap.max is swap alone.
    let swap = || {
        cg_read(
            &b,
            "memory",
            "memory.memsw.limit_in_bytes",
            "memory.swap.max",
        )
    };
    let want_swap = |limit: u64, swap: u64| v1_or_v2("memory", swap, swap - limit).to_string();

    // podman: --resources=FILE
    let file = t.dir.join("podman-resources.json");
    fs::write(&file, r#"{"memory":{"limit":134217728,"swap":268435456}}"#).unwrap();
    let arg = format!("--resources={}", file.display());
    t.hull(&["update", &arg, "upr"]).ok();
    assert_eq!(memory(), "134217728");
    assert_eq!(swap(), want_swap(134217728, 268435456));

    // docker/containerd: --resources - with every field, zeroes unchanged.
    let docker = r#"{"memory":{"limit":100663296,"reservation":0,"swap":201326592,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"pids":{"limit":77},"blockIO":{"weight":0}}"#;
    let mut cmd = t.command(&["update", "--resources", "-", "upr"]);
    t.try_output(&mut cmd, Some(docker.as_bytes()))
        .unwrap()
        .ok();
    assert_eq!(memory(), "100663296");
    assert_eq!(swap(), want_swap(100663296, 201326592));
    assert_eq!(cg_read(&b, "pids", "pids.max", "pids.max"), "77");
    assert_eq!(
        cg_read(&b, "cpu", "cpu.shares", "cpu.weight"),
        v1_or_v2("cpu", "256", "10"),
        "zero shares means unchanged"
    );
    if let Some(file) = weight_file() {
        assert_eq!(
            read_weight(&b),
            weight_reads(file, 100),
            "zero weight means unchanged"
        );
    }
    // With --resources the flags are ignored (runc).
    let mut cmd = t.command(&["update", "-r", "-", "--pids-limit", "5", "upr"]);
    t.try_output(&mut cmd, Some(br#"{"pids":{"limit":66}}"#))
        .unwrap()
        .ok();
    assert_eq!(cg_read(&b, "pids", "pids.max", "pids.max"), "66");

    let mut cmd = t.command(&["update", "--resources", "-", "upr"]);
    t.try_output(&mut cmd, Some(br#"{"memory":{"limit":"big"}}"#))
        .unwrap()
        .fails_with("--resources -: memory.limit: invalid type: string \"big\"");
    let missing = t.dir.join("missing.json");
    t.hull(&["update", "--resources", missing.to_str().unwrap(), "upr"])
        .fails_with("no such file or directory");
}

// ---------------------------------------------------------------------------
// ps, events --stats, kill --all
// ---------------------------------------------------------------------------

#[test]
fn ps_lists_the_container_processes() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    b.sh("sleep 1000 & : > /mnt/started; wait");
    t.create(&b, "ps").ok();
    let init = init_pid(&t, "ps");
    assert_eq!(ps_json(&t, "ps"), [init], "a created container: its init");
    t.start("ps").ok();
    wait_for("the child to start", || shared.join("started").exists());

    let pids = ps_json(&t, "ps");
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init), "{pids:?} lacks init {init}");
    let child = *pids.iter().find(|&&p| p != init).unwrap();
    let out = t.hull(&["ps", "--format", "json", "ps"]).ok();
    assert_eq!(
        out.stdout,
        format!(
            "[{}]\n",
            pids.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    );
    // Also in the unified tree (hybrid: every container has a v2 cgroup;
    // pure v2: it is the container's cgroup).
    let unified = read_trimmed(&unified_dir(&b).join("cgroup.procs"));
    assert!(unified.lines().any(|l| l == child.to_string()), "{unified}");

    // table: the host ps -ef, header plus the container's lines.
    let table = t.hull(&["ps", "ps"]).ok();
    let lines = table.lines();
    assert_eq!(lines.len(), 3, "{table}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header[..2], ["UID", "PID"], "{table}");
    let pid_col: Vec<i64> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        pid_col.contains(&init) && pid_col.contains(&child),
        "{table}"
    );
    assert!(table.stdout.contains("sleep 1000"), "{table}");
    // ps arguments after the ID, with or without `--`.
    for args in [
        &["ps", "ps", "-o", "pid,comm"][..],
        &["ps", "ps", "--", "-o", "pid,comm"],
    ] {
        let out = t.hull(args).ok();
        let lines = out.lines();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["PID", "COMMAND"],
            "{out}"
        );
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines
                .iter()
                .any(|l| l.split_whitespace().collect::<Vec<_>>()
                    == [child.to_string().as_str(), "sleep"]),
            "{out}"
        );
    }
    t.hull(&["ps", "ps", "-o", "comm"])
        .fails_with("couldn't find PID field in ps output");
    t.hull(&["ps", "nope"])
        .fails_with(r#"container "nope" does not exist"#);

    t.hull(&["kill", "--all", "ps", "KILL"]).ok();
    t.wait_status("ps", "stopped");
    assert_eq!(
        t.hull(&["ps", "--format", "json", "ps"]).ok().stdout,
        "[]\n"
    );
    assert_eq!(t.hull(&["ps", "ps"]).ok().lines().len(), 1, "header only");
}

#[test]
fn events_stats_has_runcs_shape() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 64 * MIB}, "pids": {"limit": 20}}),
    );
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "ev");
    let out = t.hull(&["events", "--stats", "ev"]).ok();
    // runc's field order: type, id, data; data's keys as runc's types.Stats.
    assert!(
        out.stdout
            .starts_with(r#"{"type":"stats","id":"ev","data":{"cpu":{"usage":{"#),
        "{out}"
    );
    let data = stats(&t, "ev");
    let keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut want = [
        "cpu",
        "cpuset",
        "memory",
        "pids",
        "blkio",
        "hugetlb",
        "intel_rdt",
        "network_interfaces",
    ];
    want.sort();
    assert_eq!(keys, want, "{data}");
    assert!(data["network_interfaces"].is_null());
    assert_eq!(data["intel_rdt"], json!({}));
    assert!(
        data["cpu"]["usage"]["total"].as_u64().unwrap() > 0,
        "{data}"
    );
    assert!(data["cpu"]["throttling"].is_object(), "{data}");
    assert!(
        !data["cpuset"]["cpus"].as_array().unwrap().is_empty(),
        "{data}"
    );
    let mem = &data["memory"];
    assert_eq!(mem["usage"]["limit"], 64 * MIB, "{data}");
    assert!(mem["usage"]["usage"].as_u64().unwrap() > 0, "{data}");
    for entry in ["swap", "kernel", "kernelTCP"] {
        assert!(
            mem[entry]["limit"].is_u64() && mem[entry]["failcnt"].is_u64(),
            "{entry}: {data}"
        );
    }
    // raw: the memory.stat keys, as runc passes them (v2's have no total_).
    let rss = v1_or_v2("memory", "total_rss", "anon");
    assert!(mem["raw"][rss].is_u64(), "{data}");
    assert_eq!(data["pids"], json!({"current": 1, "limit": 20}), "{data}");
    assert!(data["hugetlb"]["2MB"].is_object(), "{data}");

    t.hull(&["events", "--interval", "0s", "ev"])
        .fails_with("duration interval must be greater than 0");
    t.hull(&["events", "--interval", "5", "ev"])
        .fails_with("missing unit in duration");
    t.hull(&["events", "--stats", "nope"])
        .fails_with(r#"container "nope" does not exist"#);
    t.kill("ev", "KILL").ok();
    t.wait_status("ev", "stopped");
    t.hull(&["events", "--stats", "ev"])
        .fails_with("container with id ev is not running");
    t.hull(&["events", "ev"])
        .fails_with("container with id ev is not running");
}

#[test]
fn events_stream_ends_when_the_container_is_killed() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "evk");
    let events = Background::spawn(&t, &["events", "--interval", "100ms", "evk"], "events");
    std::thread::sleep(Duration::from_millis(450));
    t.kill("evk", "KILL").ok();
    let (code, out, err) = events.wait(Duration::from_secs(5));
    assert_eq!(code, 0, "{out}\n{err}");
    let n = out.lines().count();
    assert!(
        (2..=8).contains(&n),
        "about one stats event per 100ms:\n{out}"
    );
    assert!(
        out.lines()
            .all(|l| l.starts_with(r#"{"type":"stats","id":"evk","data":{"#)),
        "{out}"
    );
}

#[test]
fn kill_all_reaches_processes_outside_a_pid_namespace() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    // Without a pid namespace the init's death does not take its children.
    b.without_namespace("pid")
        .sh("sleep 1000 & echo $! > /mnt/child; exec sleep 1000");
    t.run_detached(&b, "ka");
    let child: i64 = wait_lines(&shared.join("child"), 1).trim().parse().unwrap();
    assert!(alive(child));
    let init = init_pid(&t, "ka");
    assert_eq!(ps_json(&t, "ka").len(), 2);

    t.kill("ka", "KILL").ok();
    t.wait_status("ka", "stopped");
    assert!(alive(child), "a plain kill signals only the init");
    assert_eq!(ps_json(&t, "ka"), [child]);

    t.hull(&["kill", "--all", "ka", "KILL"]).ok();
    wait_for("the child to die", || !alive(child));
    assert!(!alive(init));
    assert!(ps_json(&t, "ka").is_empty());
    assert!(cg_read(&b, "freezer", "cgroup.procs", "cgroup.procs").is_empty());
    // Nothing left to signal is success, as with runc.
    t.hull(&["kill", "--all", "ka", "KILL"]).ok();
    t.delete("ka").ok();
    for dir in all_cg_dirs(&b) {
        assert!(!dir.exists(), "delete left {}", dir.display());
    }
}

#[test]
fn kill_all_with_term_signals_every_process() {
    let t = Test::new();
    let (b, shared) = bundle_with_mnt(&t, "shared");
    b.without_namespace("pid").sh(
        "sh -c 'trap \"echo child >> /mnt/log; exit 0\" TERM; touch /mnt/c; while :; do sleep 0.05; done' & \
         trap 'echo init >> /mnt/log' TERM; while :; do sleep 0.05; done",
    );
    t.run_detached(&b, "kt");
    wait_for("the child's trap", || shared.join("c").exists());
    t.hull(&["kill", "--all", "kt", "TERM"]).ok();
    let log = || fs::read_to_string(shared.join("log")).unwrap_or_default();
    wait_for("both traps to run", || log().lines().count() >= 2);
    let mut lines: Vec<String> = log().lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["child", "init"]);
    // The init's trap kept it running.
    assert_eq!(t.status("kt"), "running");
}

#[test]
fn exec_processes_join_the_cgroup_and_its_limits() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"pids": {"limit": 3}}));
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "ex");
    let pid_file = t.dir.join("exec.pid");
    let pf = pid_file.to_str().unwrap();
    t.hull(&["exec", "--detach", "--pid-file", pf, "ex", "sleep", "999"])
        .ok();
    let pid: i64 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(ps_json(&t, "ex").contains(&pid), "exec'd {pid} not in ps");
    let procs = cg_read(&b, "memory", "cgroup.procs", "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid.to_string()), "{procs}");
    // pids.limit counts exec'd processes too: the third fork fails.
    let out = t.hull(&["exec", "ex", "sh", "-c", "sleep 1 & sleep 1 & wait"]);
    assert_ne!(out.code, 0, "{out}");
    t.hull(&["kill", "--all", "ex", "KILL"]).ok();
    wait_for("the exec'd process to die", || !alive(pid));
    // The detached process was reparented to us (the subreaper): reap it,
    // or the pid namespace's init waits for it forever.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid as i32), None);
    t.wait_status("ex", "stopped");
}

#[test]
fn exec_cgroup_joins_a_sub_cgroup_in_every_hierarchy() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "sub");
    // The container's dir in each hierarchy (v1 ones and the unified one).
    let dirs = all_cg_dirs(&b);
    for d in &dirs {
        assert!(d.is_dir(), "{} missing", d.display());
    }
    // Missing everywhere, or in one hierarchy: refused, and the process
    // joins none.
    let missing = format!("{}/s/cgroup.procs: no such file", dirs[0].display());
    t.hull(&["exec", "--cgroup", "s", "sub", "true"])
        .fails_with(&missing);
    if dirs.len() > 1 {
        for d in &dirs[1..] {
            fs::create_dir(d.join("s")).unwrap();
        }
        t.hull(&["exec", "--cgroup", "s", "sub", "true"])
            .fails_with(&missing);
        for d in &dirs[1..] {
            let procs = fs::read_to_string(d.join("s/cgroup.procs")).unwrap();
            assert_eq!(procs, "", "{}", d.display());
        }
    } else {
        eprintln!("one cgroup hierarchy: no sub-cgroup missing in only some");
    }
    fs::create_dir(dirs[0].join("s")).unwrap();
    // A new v1 cpuset cgroup has no cpus or mems until given its parent's.
    if hier("cpuset") == Some(Hier::V1) {
        let d = cg_dir(&b, "cpuset");
        for f in ["cpuset.cpus", "cpuset.mems"] {
            fs::write(d.join("s").join(f), fs::read(d.join(f)).unwrap()).unwrap();
        }
    }
    let out = t
        .hull(&["exec", "--cgroup", "s", "sub", "cat", "/proc/self/cgroup"])
        .ok();
    // No cgroup namespace: each hierarchy's line shows the host's path.
    let want = format!(":{}/s", cgroups_path(&b));
    assert_eq!(
        out.lines().len(),
        dirs.len(),
        "one line per hierarchy:\n{out}"
    );
    assert!(
        out.lines().iter().all(|l| l.ends_with(&want)),
        "{want}:\n{out}"
    );
    // delete removes the sub-cgroups with the container's.
    t.hull(&["delete", "--force", "sub"]).ok();
    for d in &dirs {
        assert!(!d.exists(), "{} left after delete", d.display());
    }
}

/// runc's `--cgroup CONTROLLER[,CONTROLLER]:PATH`, repeatable: those
/// controllers' v1 hierarchies get the path, the others keep the
/// container's cgroup. A path out of it, an unknown controller or a
/// missing sub-cgroup is refused in runc's words (its bats match them).
#[test]
fn exec_cgroup_takes_a_path_per_v1_controller() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "subc");
    let exec = |args: &[&str]| {
        let mut all = vec!["exec"];
        all.extend(args);
        t.hull(&all)
    };
    exec(&["--cgroup", "..", "subc", "true"]).fails_with("--cgroup: .. is not a sub cgroup path");
    exec(&["--cgroup", "a", "--cgroup", "b", "subc", "true"])
        .fails_with("--cgroup a: with more than one --cgroup, each needs a CONTROLLER: prefix");
    exec(&["--cgroup", "whaaat:/", "subc", "true"])
        .fails_with("--cgroup: unknown controller whaaat");
    let out = exec(&["--cgroup", "nope", "subc", "true"]);
    out.fails_with("--cgroup: adding pid ");
    out.fails_with("/nope/cgroup.procs: no such file or directory");

    if ["memory", "cpu", "cpuacct"]
        .iter()
        .any(|c| hier(c) != Some(Hier::V1))
    {
        exec(&["--cgroup", "memory:m", "subc", "true"])
            .fails_with("--cgroup: unknown controller memory");
        eprintln!("memory, cpu and cpuacct are not all cgroup v1 hierarchies here");
        t.hull(&["delete", "--force", "subc"]).ok();
        return;
    }
    for (ctl, sub) in [("memory", "m"), ("cpu", "c"), ("cpuacct", "c")] {
        fs::create_dir_all(cg_dir(&b, ctl).join(sub)).unwrap();
    }
    let args = ["--cgroup", "memory:m", "--cgroup", "cpu,cpuacct:/c"];
    let out = exec(&[&args[..], &["subc", "cat", "/proc/self/cgroup"]].concat()).ok();
    let base = cgroups_path(&b);
    for line in out.lines() {
        // ID:CONTROLLERS:PATH, the host's path (no cgroup namespace).
        let mut parts = line.splitn(3, ':');
        let ctls: Vec<&str> = parts.nth(1).unwrap().split(',').collect();
        let sub = if ctls.contains(&"memory") {
            "/m"
        } else if ctls.contains(&"cpu") || ctls.contains(&"cpuacct") {
            "/c"
        } else {
            ""
        };
        assert_eq!(
            parts.next().unwrap(),
            format!("{base}{sub}"),
            "{line}\n{out}"
        );
    }
    t.hull(&["delete", "--force", "subc"]).ok();
}

/// Every container cgroup dir is gone after delete, in every hierarchy.
#[test]
fn delete_removes_the_cgroup_everywhere() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"memory": {"limit": 64 * MIB}}));
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "del");
    let dirs = all_cg_dirs(&b);
    assert!(!dirs.is_empty(), "no cgroup hierarchy found");
    for d in &dirs {
        assert!(d.is_dir(), "{} missing", d.display());
    }
    t.hull(&["delete", "--force", "del"]).ok();
    for d in &dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
}

/// The `cgroup` mount: every filesystem under /sys/fs/cgroup in the
/// container (the tmpfs and a bind per v1 hierarchy, or cgroup2) is
/// nosuid, nodev and noexec, and read-only unless the mount says `rw`.
#[test]
fn cgroup_mount_is_safe_and_read_only_as_asked() {
    let t = Test::new();
    for (options, ro) in [(json!(["nosuid", "ro"]), true), (json!(["rw"]), false)] {
        let b = t.bundle();
        b.config(|c| {
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.retain(|m| m["destination"] != "/sys/fs/cgroup");
            mounts.push(json!({"destination": "/sys/fs/cgroup", "type": "cgroup",
                               "source": "cgroup", "options": options}));
        });
        let mountinfo = t.run_sh(&b, "cgmnt", "cat /proc/self/mountinfo");
        let under: Vec<&str> = mountinfo
            .lines()
            .filter(|l| {
                l.split(' ')
                    .nth(4)
                    .is_some_and(|p| p.starts_with("/sys/fs/cgroup"))
            })
            .collect();
        let want = layout().v1.len().max(1);
        assert!(
            under.len() >= want,
            "{options}: {want} mounts wanted:\n{mountinfo}"
        );
        for line in under {
            let flags: Vec<&str> = line.split(' ').nth(5).unwrap().split(',').collect();
            for f in ["nosuid", "nodev", "noexec"] {
                assert!(flags.contains(&f), "{options}: {f} missing: {line}");
            }
            assert_eq!(flags.contains(&"ro"), ro, "{options}: {line}");
        }
    }
}
