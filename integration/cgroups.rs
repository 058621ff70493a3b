//! cgroups: every resource this host's controllers support, visible in the
//! container's cgroup files and enforced; pause/resume, update, ps, events
//! and kill --all as runc has them.
//!
//! This host is hybrid: v1 hierarchies for cpu, cpuacct, cpuset, memory,
//! devices, freezer, blkio and pids, and a cgroup2 mount at
//! /sys/fs/cgroup/unified with only hugetlb. net_cls, net_prio and rdma are
//! nowhere: those fields must be clear errors. Each test's containers live
//! under its own parent cgroup, which the harness checks is empty after.

use crate::harness::*;
use serde_json::{Value, json};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// The bundle's linux.cgroupsPath (the harness gives each bundle its own).
fn cgroups_path(b: &Bundle) -> String {
    let mut path = String::new();
    b.config(|c| path = c["linux"]["cgroupsPath"].as_str().unwrap().to_string());
    path
}

/// The container's directory in the hierarchy mounted at /sys/fs/cgroup/<hier>.
fn cg_dir(b: &Bundle, hier: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(hier)
        .join(cgroups_path(b).trim_start_matches('/'))
}

/// A cgroup file of the container, trimmed.
#[track_caller]
fn cg_read(b: &Bundle, hier: &str, file: &str) -> String {
    let path = cg_dir(b, hier).join(file);
    fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .trim()
        .to_string()
}

/// `key value` from a keyed cgroup file (memory.oom_control, pids.events).
#[track_caller]
fn cg_key(b: &Bundle, hier: &str, file: &str, key: &str) -> u64 {
    let text = cg_read(b, hier, file);
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {file}:\n{text}"))
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
    let b = t.bundle();
    set_resources(
        &b,
        json!({"memory": {"limit": 32 * MIB, "reservation": 16 * MIB, "swap": 48 * MIB,
                          "swappiness": 10, "kernel": 8 * MIB, "useHierarchy": true}}),
    );
    b.args(&["sleep", "1000"]);
    t.create(&b, "mem").ok();
    assert_eq!(
        cg_read(&b, "memory", "memory.limit_in_bytes"),
        (32 * MIB).to_string()
    );
    assert_eq!(
        cg_read(&b, "memory", "memory.soft_limit_in_bytes"),
        (16 * MIB).to_string()
    );
    assert_eq!(
        cg_read(&b, "memory", "memory.memsw.limit_in_bytes"),
        (48 * MIB).to_string()
    );
    assert_eq!(cg_read(&b, "memory", "memory.swappiness"), "10");
    assert_eq!(cg_read(&b, "memory", "memory.use_hierarchy"), "1");
    // Kernel memory limits are ignored, as runc does (deprecated in the kernel).
    assert_ne!(
        cg_read(&b, "memory", "memory.kmem.limit_in_bytes"),
        (8 * MIB).to_string()
    );
    let pid = init_pid(&t, "mem");
    let procs = cg_read(&b, "memory", "cgroup.procs");
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init {pid} not in cgroup.procs: {procs}"
    );

    // Inside: the container's own cgroup under /sys/fs/cgroup.
    let b2 = t.bundle();
    set_resources(&b2, json!({"memory": {"limit": 48 * MIB}}));
    let out = t.run_sh(
        &b2,
        "mem-in",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; grep :memory: /proc/self/cgroup",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], (48 * MIB).to_string(), "{out}");
    assert!(
        lines[1].ends_with(&format!(":memory:{}", cgroups_path(&b2))),
        "{out}"
    );
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
        "linux.resources.memory: the memory controller is not available on this host"
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
    assert!(cg_key(&b, "memory", "memory.oom_control", "oom_kill") >= 1);
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
    t.run_detached(&b, "nooom");
    assert_eq!(
        cg_key(&b, "memory", "memory.oom_control", "oom_kill_disable"),
        1
    );
    wait_for("the cgroup to be under OOM", || {
        cg_key(&b, "memory", "memory.oom_control", "under_oom") == 1
    });
    assert_eq!(cg_key(&b, "memory", "memory.oom_control", "oom_kill"), 0);
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
    assert_eq!(cg_read(&b, "pids", "pids.max"), "10");
    let err = fs::read_to_string(shared.join("err")).unwrap();
    assert!(
        err.contains("can't fork") || err.contains("Resource temporarily unavailable"),
        "fork errors: {err:?}"
    );
    let current: u64 = cg_read(&b, "pids", "pids.current").parse().unwrap();
    assert!((8..=10).contains(&current), "pids.current {current}");
    assert!(cg_key(&b, "pids", "pids.events", "max") > 0);
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
    let (b, shared) = bundle_with_mnt(&t, "shared");
    set_resources(
        &b,
        json!({"cpu": {"shares": 512, "quota": 20000, "period": 100000, "burst": 5000,
                       "realtimePeriod": 500000}}),
    );
    b.sh(
        "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us > /mnt/inside; \
         while :; do :; done",
    );
    t.run_detached(&b, "cpu");
    assert_eq!(cg_read(&b, "cpu", "cpu.shares"), "512");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_burst_us"), "5000");
    assert_eq!(cg_read(&b, "cpu", "cpu.rt_period_us"), "500000");
    assert_eq!(wait_lines(&shared.join("inside"), 2), "512\n20000\n");

    // A busy loop gets at most 20% of one CPU.
    let usage = cg_dir(&b, "cpuacct").join("cpuacct.usage");
    std::thread::sleep(Duration::from_millis(300));
    let (u0, t0) = (read_num(&usage), Instant::now());
    std::thread::sleep(Duration::from_secs(1));
    let (u1, wall) = (read_num(&usage), t0.elapsed());
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
    assert_eq!(cg_read(&b, "cpu", "cpu.idle"), "1");

    // The test's parent cgroup has no realtime budget (0), so the kernel
    // refuses any for the container: a clear error naming the field.
    let b2 = t.bundle();
    set_resources(
        &b2,
        json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 100000}}),
    );
    b2.args(&["sleep", "1000"]);
    t.create(&b2, "rt").fails_with(
        "linux.resources.cpu.realtimeRuntime: write 10000 to cpu.rt_runtime_us: invalid argument",
    );
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
    assert_eq!(cg_read(&b, "cpuset", "cpuset.cpus"), last_cpu.to_string());
    assert_eq!(cg_read(&b, "cpuset", "cpuset.mems"), "0");
    let data = stats(&t, "cpuset");
    assert_eq!(data["cpuset"]["cpus"], json!([last_cpu]), "{data}");
    assert_eq!(data["cpuset"]["mems"], json!([0]), "{data}");
    // An update moves the running init.
    t.hull(&["update", "--cpuset-cpus", "0", "cpuset"]).ok();
    let pid = init_pid(&t, "cpuset");
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("Cpus_allowed_list:\t0\n"), "{status}");
    // A CPU the host lacks is refused, naming the field.
    let b2 = t.bundle();
    set_resources(&b2, json!({"cpu": {"cpus": "1023"}}));
    t.create(&b2, "nocpu").fails_with(&format!(
        "linux.resources.cpu.cpus: write 1023 to cpuset.cpus: math result not representable \
             (the parent cgroup offers {})",
        fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
            .unwrap()
            .trim()
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

/// Whether the blkio hierarchy has BFQ's weight file (CFQ is gone, and
/// some hosts build no BFQ): without it a weight is refused.
fn has_bfq() -> bool {
    Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists()
}

/// `{"weight": w}` where the host can set it, else no weight.
fn blkio_weight(w: u16) -> Value {
    if has_bfq() {
        json!({ "weight": w })
    } else {
        eprintln!("no BFQ scheduler on this host: blkio weight not tested here");
        json!({})
    }
}

#[test]
fn blkio_weight_and_throttles_are_set() {
    let t = Test::new();
    let b = t.bundle();
    if !has_bfq() {
        // No BFQ: the weight is refused by name, and nothing is left.
        let nb = t.bundle();
        set_resources(&nb, json!({"blockIO": {"weight": 300}}));
        t.create(&nb, "noweight").fails_with(
            "linux.resources.blockIO.weight: not supported on this host (no blkio.bfq.weight in",
        );
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
    // CFQ is gone: the weight lands in BFQ's file.
    if has_bfq() {
        assert_eq!(cg_read(&b, "blkio", "blkio.bfq.weight"), "300");
    }
    if let Some(dev) = &disk {
        assert_eq!(
            cg_read(&b, "blkio", "blkio.throttle.read_bps_device"),
            format!("{dev} {MIB}")
        );
        assert_eq!(
            cg_read(&b, "blkio", "blkio.throttle.write_iops_device"),
            format!("{dev} 100")
        );
    }
    // CFQ's leaf weights exist no more: a clear error.
    let b2 = t.bundle();
    set_resources(&b2, json!({"blockIO": {"leafWeight": 300}}));
    t.create(&b2, "leaf").fails_with(
        "linux.resources.blockIO.leafWeight: not supported on this host (no blkio.leaf_weight in",
    );
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

    // Allowed by a rule: it opens (reading needs a fuse mount; opening not).
    let b2 = t.bundle();
    b2.config(|c| c["linux"]["devices"] = json!([fuse]));
    set_resources(
        &b2,
        json!({"devices": [{"allow": false, "access": "rwm"},
                           {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}),
    );
    b2.sh("cat /sys/fs/cgroup/devices/devices.list > /mnt/list; (exec 3</dev/fuse) 2>&1; echo fuse=$?");
    let shared = t.host_dir("shared");
    b2.bind(&shared, "/mnt", &["rw"]);
    assert_eq!(t.run(&b2, "allow").ok().stdout, "fuse=0\n");
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
    // v1 has no hugetlb hierarchy here: the cgroup2 mount drives it.
    assert_eq!(
        cg_read(&b, "unified", "hugetlb.2MB.max"),
        (4 * MIB).to_string()
    );
    assert_eq!(
        cg_read(&b, "unified", "hugetlb.2MB.rsvd.max"),
        (4 * MIB).to_string()
    );
    let pid = init_pid(&t, "huge");
    assert!(
        cg_read(&b, "unified", "cgroup.procs")
            .lines()
            .any(|l| l == pid.to_string()),
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
    t.create(&b2, "huge4").fails_with(
        "linux.resources.hugepageLimits[4MB]: not supported on this host (no hugetlb.4MB.max in",
    );
    t.assert_nothing_left("huge4");
}

#[test]
fn controllers_this_host_lacks_are_clear_errors() {
    let t = Test::new();
    let cases = [
        (
            json!({"network": {"classID": 1048577}}),
            "linux.resources.network.classID: the net_cls controller is not available on this host",
        ),
        (
            json!({"network": {"priorities": [{"name": "lo", "priority": 5}]}}),
            "linux.resources.network.priorities: the net_prio controller is not available on this host",
        ),
        (
            json!({"rdma": {"mlx5_0": {"hcaHandles": 2}}}),
            "linux.resources.rdma: the rdma controller is not available on this host",
        ),
        (
            json!({"unified": {"memory.high": "1000000"}}),
            "linux.resources.unified.memory.high: the memory controller is not enabled in",
        ),
    ];
    for (i, (resources, error)) in cases.into_iter().enumerate() {
        let b = t.bundle();
        set_resources(&b, resources);
        let id = format!("lack{i}");
        t.create(&b, &id).fails_with(error);
        t.assert_nothing_left(&id);
        for hier in ["memory", "pids", "freezer", "unified"] {
            assert!(!cg_dir(&b, hier).exists(), "{id}: cgroup left in {hier}");
        }
    }
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
    assert_eq!(cg_read(&b, "freezer", "freezer.state"), "FROZEN");
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
    assert_eq!(cg_read(&b, "freezer", "freezer.state"), "THAWED");
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
    assert_eq!(cg_read(&b, "freezer", "freezer.state"), "FROZEN");
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
    let weight: &[&str] = if has_bfq() {
        &["--blkio-weight", "200"]
    } else {
        &[]
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
    assert_eq!(
        cg_read(&b, "memory", "memory.limit_in_bytes"),
        (128 * MIB).to_string()
    );
    assert_eq!(
        cg_read(&b, "memory", "memory.soft_limit_in_bytes"),
        (32 * MIB).to_string()
    );
    assert_eq!(
        cg_read(&b, "memory", "memory.memsw.limit_in_bytes"),
        (256 * MIB).to_string()
    );
    assert_eq!(cg_read(&b, "cpu", "cpu.shares"), "512");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_quota_us"), "30000");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cg_read(&b, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(cg_read(&b, "pids", "pids.max"), "20");
    if has_bfq() {
        assert_eq!(cg_read(&b, "blkio", "blkio.bfq.weight"), "200");
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
    assert_eq!(
        cg_read(&b, "memory", "memory.limit_in_bytes"),
        "9223372036854771712"
    );
    assert_eq!(cg_read(&b, "pids", "pids.max"), "max");
    assert_eq!(cg_read(&b, "cpu", "cpu.cfs_quota_us"), "-1");
    assert_eq!(cg_read(&b, "cpu", "cpu.shares"), "512");
    if has_bfq() {
        assert_eq!(cg_read(&b, "blkio", "blkio.bfq.weight"), "200");
    }
    // The `=` form, and the shares alias.
    t.hull(&["update", "--memory=96m", "--cpu-shares=256", "up"])
        .ok();
    assert_eq!(
        cg_read(&b, "memory", "memory.limit_in_bytes"),
        (96 * MIB).to_string()
    );
    assert_eq!(cg_read(&b, "cpu", "cpu.shares"), "256");
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
    // Below what the container uses: the kernel refuses, naming the field.
    t.hull(&["update", "--memory", "4096", "up"])
        .fails_with("linux.resources.memory.limit: write 4096 to memory.limit_in_bytes: device or resource busy");
    assert_eq!(
        cg_read(&b, "memory", "memory.limit_in_bytes"),
        (96 * MIB).to_string()
    );
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

    // podman: --resources=FILE
    let file = t.dir.join("podman-resources.json");
    fs::write(&file, r#"{"memory":{"limit":134217728,"swap":268435456}}"#).unwrap();
    let arg = format!("--resources={}", file.display());
    t.hull(&["update", &arg, "upr"]).ok();
    assert_eq!(cg_read(&b, "memory", "memory.limit_in_bytes"), "134217728");
    assert_eq!(
        cg_read(&b, "memory", "memory.memsw.limit_in_bytes"),
        "268435456"
    );

    // docker/containerd: --resources - with every field, zeroes unchanged.
    let docker = r#"{"memory":{"limit":100663296,"reservation":0,"swap":201326592,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"pids":{"limit":77},"blockIO":{"weight":0}}"#;
    let mut cmd = t.command(&["update", "--resources", "-", "upr"]);
    t.try_output(&mut cmd, Some(docker.as_bytes()))
        .unwrap()
        .ok();
    assert_eq!(cg_read(&b, "memory", "memory.limit_in_bytes"), "100663296");
    assert_eq!(
        cg_read(&b, "memory", "memory.memsw.limit_in_bytes"),
        "201326592"
    );
    assert_eq!(cg_read(&b, "pids", "pids.max"), "77");
    assert_eq!(
        cg_read(&b, "cpu", "cpu.shares"),
        "256",
        "zero shares means unchanged"
    );
    if has_bfq() {
        assert_eq!(
            cg_read(&b, "blkio", "blkio.bfq.weight"),
            "100",
            "zero weight means unchanged"
        );
    }
    // With --resources the flags are ignored (runc).
    let mut cmd = t.command(&["update", "-r", "-", "--pids-limit", "5", "upr"]);
    t.try_output(&mut cmd, Some(br#"{"pids":{"limit":66}}"#))
        .unwrap()
        .ok();
    assert_eq!(cg_read(&b, "pids", "pids.max"), "66");

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
    // Also in the unified tree (hybrid: every container has a v2 cgroup).
    let unified = cg_read(&b, "unified", "cgroup.procs");
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
    assert!(mem["raw"]["total_rss"].is_u64(), "{data}");
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
    assert!(cg_read(&b, "freezer", "cgroup.procs").is_empty());
    // Nothing left to signal is success, as with runc.
    t.hull(&["kill", "--all", "ka", "KILL"]).ok();
    t.delete("ka").ok();
    for hier in ["memory", "pids", "freezer", "cpu", "unified"] {
        assert!(!cg_dir(&b, hier).exists(), "delete left the {hier} cgroup");
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
    let procs = cg_read(&b, "memory", "cgroup.procs");
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
    let dirs: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| cg_dir(&b, &e.file_name().to_string_lossy()))
        .filter(|d| d.is_dir())
        .collect();
    assert!(dirs.len() > 1, "{dirs:?}");
    // Missing in one hierarchy: refused, and the process joins none.
    for d in &dirs[1..] {
        fs::create_dir(d.join("s")).unwrap();
    }
    t.hull(&["exec", "--cgroup", "s", "sub", "true"])
        .fails_with("does not exist");
    for d in &dirs[1..] {
        let procs = fs::read_to_string(d.join("s/cgroup.procs")).unwrap();
        assert_eq!(procs, "", "{}", d.display());
    }
    fs::create_dir(dirs[0].join("s")).unwrap();
    // A new v1 cpuset cgroup has no cpus or mems until given its parent's.
    for d in dirs
        .iter()
        .filter(|d| d.starts_with("/sys/fs/cgroup/cpuset"))
    {
        for f in ["cpuset.cpus", "cpuset.mems"] {
            fs::write(d.join("s").join(f), fs::read(d.join(f)).unwrap()).unwrap();
        }
    }
    let out = t
        .hull(&["exec", "--cgroup", "s", "sub", "cat", "/proc/self/cgroup"])
        .ok();
    for d in &dirs {
        let rel = d.strip_prefix("/sys/fs/cgroup").unwrap();
        let hier = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let want = format!("/{}/s", rel.strip_prefix(&*hier).unwrap().display());
        assert!(
            out.lines().iter().any(|l| l.ends_with(&format!(":{want}"))),
            "{hier}: not in {want}:\n{out}"
        );
    }
    t.hull(&["delete", "--force", "sub"]).ok();
}

/// Every container cgroup dir is gone after delete, also the v2 one.
#[test]
fn delete_removes_the_cgroup_everywhere() {
    let t = Test::new();
    let b = t.bundle();
    set_resources(&b, json!({"memory": {"limit": 64 * MIB}}));
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "del");
    let dirs: Vec<PathBuf> = fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("cgroup.procs").exists())
        .map(|e| e.path().join(cgroups_path(&b).trim_start_matches('/')))
        .collect();
    assert!(dirs.len() >= 9, "{dirs:?}");
    for d in &dirs {
        assert!(d.is_dir(), "{} missing", d.display());
    }
    t.hull(&["delete", "--force", "del"]).ok();
    for d in &dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
}
